//! Opening a filesystem: choosing a trustworthy superblock (primary or the
//! first good backup), loading group descriptors, reading inodes and
//! mapping a file's blocks. The checks themselves live in `check` and
//! `deep`; this module only gives them bounded, typed access.

use crate::superblock::{
    EXT4_MAGIC, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE, Superblock, incompat, ro_compat,
};
use crate::util::{crc16, crc32c_raw, le16, le32, u64_of, us, zero};
use imgcheck_core::{Finding, Hint, Layer, ReadAt, Space};
use serde::Serialize;

/// At most this many block groups are loaded (4 Mi groups: 512 TiB with
/// 4 KiB blocks); a larger count comes from a corrupt superblock.
pub const MAX_GROUPS: u64 = 1 << 22;
/// Blocks tracked in bitmaps at most (2^32 bits = 512 MiB): 16 TiB at
/// 4 KiB blocks. Blocks past the reader's end are not tracked either.
pub const MAX_TRACKED_BLOCKS: u64 = 1 << 32;
/// Kernel limit on extent tree depth.
pub const MAX_EXTENT_DEPTH: u16 = 5;
/// Extent tree nodes visited per file at most.
pub const MAX_EXTENT_NODES: u32 = 1 << 16;
/// Indirect blocks read per block-mapped file at most.
pub const MAX_INDIRECT_BLOCKS: u32 = 1 << 16;

/// `bg_flags` bits.
pub mod bg_flags {
    /// inode table and bitmap are not initialised
    pub const INODE_UNINIT: u16 = 1;
    /// block bitmap is not initialised
    pub const BLOCK_UNINIT: u16 = 2;
    /// inode table is zeroed
    pub const ITABLE_ZEROED: u16 = 4;
}

/// Where the superblock in use came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SuperblockSource {
    /// The primary at byte 1024.
    Primary,
    /// A backup, because the primary is unusable.
    Backup {
        /// Block group holding it.
        group: u64,
        /// Block number in units of `block_size` (e2fsck's `-b`).
        block: u64,
        /// Block size (e2fsck's `-B`).
        block_size: u64,
    },
}

/// One group descriptor (32 or 64 bytes), with hi halves folded in.
#[derive(Debug, Clone, Default, Serialize)]
#[allow(missing_docs)] // kernel names
pub struct GroupDesc {
    pub bg_block_bitmap: u64,
    pub bg_inode_bitmap: u64,
    pub bg_inode_table: u64,
    pub bg_free_blocks_count: u32,
    pub bg_free_inodes_count: u32,
    pub bg_used_dirs_count: u32,
    pub bg_flags: u16,
    pub bg_block_bitmap_csum: u32,
    pub bg_inode_bitmap_csum: u32,
    pub bg_itable_unused: u32,
    pub bg_checksum: u16,
    /// Byte offset of the descriptor in the filesystem.
    #[serde(skip)]
    pub offset: u64,
    /// The descriptor as computed from its bytes, when the filesystem has
    /// group descriptor checksums.
    #[serde(skip)]
    pub computed_checksum: Option<u16>,
}

/// Why a filesystem cannot be opened at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// No superblock with the ext2/3/4 magic at byte 1024 nor at any backup location.
    NoSuperblock,
    /// The reader is too short to hold a superblock.
    TooShort {
        /// Reader length.
        len: u64,
    },
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::NoSuperblock => f.write_str(
                "no ext2/3/4 superblock (magic 0xEF53) at byte 1024 or at any backup location",
            ),
            OpenError::TooShort { len } => write!(
                f,
                "{len} bytes is too short to hold an ext2/3/4 superblock (needs 2048)"
            ),
        }
    }
}

impl std::error::Error for OpenError {}

/// An opened filesystem: the superblock chosen, its geometry and the group
/// descriptors. Reads through `ReadAt` only; never writes.
pub struct Ext4<'r> {
    pub(crate) r: &'r dyn ReadAt,
    /// The superblock in use.
    pub sb: Superblock,
    /// Its raw bytes.
    pub(crate) sb_raw: Vec<u8>,
    /// The primary's parse, when it is not the one in use (damaged).
    pub primary: Option<Superblock>,
    /// Where `sb` came from.
    pub source: SuperblockSource,
    /// Block size in bytes (validated).
    pub bs: u64,
    /// Number of groups (validated, ≤ MAX_GROUPS).
    pub groups: u64,
    /// Group descriptors as loaded (may be fewer than `groups` when the
    /// table is unreadable).
    pub gds: Vec<GroupDesc>,
    /// Findings made while opening (primary superblock rejected, GDT unreadable).
    pub(crate) open_findings: Vec<Finding>,
    /// Metadata checksum seed.
    pub(crate) seed: u32,
    /// Geometry problems severe enough that group-level checks are skipped.
    pub(crate) geometry_ok: bool,
}

impl std::fmt::Debug for Ext4<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ext4")
            .field("source", &self.source)
            .field("bs", &self.bs)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

/// Reads the superblock bytes at `off`, or `None`.
fn read_sb(r: &dyn ReadAt, off: u64) -> Option<Vec<u8>> {
    let mut b = vec![0u8; SUPERBLOCK_SIZE];
    r.read_exact_at(off, &mut b).ok()?;
    Some(b)
}

/// Fatal geometry problems: the superblock cannot be used to locate
/// anything. Returns the first one as (code, message).
pub(crate) fn geometry_problem(sb: &Superblock, raw: &[u8]) -> Option<(&'static str, String)> {
    if sb.s_magic != EXT4_MAGIC {
        return Some((
            "ext4.superblock.magic",
            format!("superblock magic is {:#06x}, expected 0xef53", sb.s_magic),
        ));
    }
    let Some(bs) = sb.block_size() else {
        return Some((
            "ext4.superblock.log_block_size",
            format!(
                "s_log_block_size is {}, at most 6 (64 KiB blocks) is valid",
                sb.s_log_block_size
            ),
        ));
    };
    if sb.has_incompat(incompat::JOURNAL_DEV) {
        // An external journal: no groups, the rest of the geometry is unused.
        return None;
    }
    let bits = bs.saturating_mul(8);
    let ratio_log = sb.s_log_cluster_size.saturating_sub(sb.s_log_block_size);
    let bigalloc = sb.has_ro_compat(ro_compat::BIGALLOC);
    if sb.s_log_cluster_size < sb.s_log_block_size
        || sb.s_log_cluster_size > 29
        || (!bigalloc && ratio_log != 0)
    {
        return Some((
            "ext4.superblock.log_cluster_size",
            format!(
                "s_log_cluster_size is {} with s_log_block_size {}",
                sb.s_log_cluster_size, sb.s_log_block_size
            ),
        ));
    }
    let ratio = 1u64 << ratio_log.min(29);
    let cpg = u64::from(sb.s_clusters_per_group);
    if cpg < 8 || cpg > bits {
        return Some((
            "ext4.superblock.clusters_per_group",
            format!("s_clusters_per_group is {cpg}, expected 8..={bits}"),
        ));
    }
    let bpg = u64::from(sb.s_blocks_per_group);
    let bpg_max = bits
        .saturating_mul(ratio)
        .min(u64::from(u32::MAX).saturating_sub(7));
    if bpg < 8 || bpg > bpg_max {
        return Some((
            "ext4.superblock.blocks_per_group",
            format!("s_blocks_per_group is {bpg}, expected 8..={bpg_max}"),
        ));
    }
    if bpg != cpg.saturating_mul(ratio) {
        return Some((
            "ext4.superblock.blocks_per_group",
            format!(
                "s_blocks_per_group is {bpg}, expected s_clusters_per_group × cluster ratio = {}",
                cpg.saturating_mul(ratio)
            ),
        ));
    }
    let isz = u64::from(sb.inode_size());
    if isz < 128 || isz > bs || !isz.is_power_of_two() {
        return Some((
            "ext4.superblock.inode_size",
            format!("s_inode_size is {isz}, expected a power of two in 128..={bs}"),
        ));
    }
    let ipb = bs.checked_div(isz).unwrap_or(1);
    let ipg = u64::from(sb.s_inodes_per_group);
    let ipg_max = ipb
        .saturating_mul(bpg.saturating_sub(4))
        .min(65536u64.saturating_sub(ipb));
    if ipg < ipb || ipg > ipg_max {
        return Some((
            "ext4.superblock.inodes_per_group",
            format!("s_inodes_per_group is {ipg}, expected {ipb}..={ipg_max}"),
        ));
    }
    if sb.s_inodes_count == 0 {
        return Some((
            "ext4.superblock.inodes_count",
            "s_inodes_count is 0".to_string(),
        ));
    }
    let blks_max = if sb.has_incompat(incompat::BIT64) {
        (1u64 << 48) - 1
    } else {
        u64::from(u32::MAX)
    };
    if sb.s_blocks_count == 0 || sb.s_blocks_count > blks_max {
        return Some((
            "ext4.superblock.blocks_count",
            format!(
                "s_blocks_count is {}, expected 1..={blks_max}",
                sb.s_blocks_count
            ),
        ));
    }
    let fdb_should = u32::from(bs == 1024 && ratio == 1);
    if sb.s_first_data_block != fdb_should {
        return Some((
            "ext4.superblock.first_data_block",
            format!(
                "s_first_data_block is {}, expected {fdb_should} for {bs}-byte blocks",
                sb.s_first_data_block
            ),
        ));
    }
    let groups = sb.group_count().unwrap_or(0);
    if groups == 0 || groups > MAX_GROUPS {
        return Some((
            "ext4.superblock.blocks_count",
            format!(
                "s_blocks_count {} gives {groups} block groups",
                sb.s_blocks_count
            ),
        ));
    }
    let should = ipg.saturating_mul(groups);
    if u64::from(sb.s_inodes_count) != should {
        return Some((
            "ext4.superblock.inodes_count",
            format!(
                "s_inodes_count is {}, expected s_inodes_per_group × groups = {ipg} × {groups} = {should}",
                sb.s_inodes_count
            ),
        ));
    }
    if !sb.has_incompat(incompat::META_BG) {
        let ds = if sb.has_incompat(incompat::BIT64) {
            u64::from(sb.s_desc_size.max(32))
        } else {
            32
        };
        let desc_blocks = groups.saturating_mul(ds).div_ceil(bs);
        let need = desc_blocks
            .saturating_add(u64::from(sb.s_reserved_gdt_blocks))
            .saturating_add(1);
        if need >= bpg {
            return Some((
                "ext4.superblock.gdt_too_large",
                format!(
                    "{groups} groups need {desc_blocks} group descriptor blocks (+{} reserved), more than a {bpg}-block group holds",
                    sb.s_reserved_gdt_blocks
                ),
            ));
        }
    }
    if sb.has_incompat(incompat::BIT64) {
        let ds = sb.s_desc_size;
        if !(64..=1024).contains(&ds) || !ds.is_power_of_two() {
            return Some((
                "ext4.superblock.desc_size",
                format!("s_desc_size is {ds} with 64bit, expected a power of two in 64..=1024"),
            ));
        }
    } else if sb.s_desc_size != 0 && (sb.s_desc_size > 1024 || !sb.s_desc_size.is_power_of_two()) {
        return Some((
            "ext4.superblock.desc_size",
            format!(
                "s_desc_size is {}, expected 0 or a power of two",
                sb.s_desc_size
            ),
        ));
    }
    if sb.s_rev_level > 0 && (sb.s_first_ino < 11 || sb.s_first_ino > sb.s_inodes_count) {
        return Some((
            "ext4.superblock.first_ino",
            format!(
                "s_first_ino is {}, expected 11..={}",
                sb.s_first_ino, sb.s_inodes_count
            ),
        ));
    }
    if sb.metadata_csum() && Superblock::compute_checksum(raw) != sb.s_checksum {
        return Some((
            "ext4.superblock.checksum",
            format!(
                "superblock checksum is {:#010x}, computed {:#010x}",
                sb.s_checksum,
                Superblock::compute_checksum(raw)
            ),
        ));
    }
    None
}

/// Candidate backup locations: (group, block, block size), the primary's
/// own geometry first when it is plausible.
fn backup_candidates(primary: Option<&Superblock>, len: u64) -> Vec<(u64, u64, u64)> {
    let mut out = Vec::new();
    let groups: [u64; 12] = [1, 3, 5, 7, 9, 25, 27, 49, 81, 125, 243, 343];
    let mut push = |g: u64, bs: u64, bpg: u64| {
        let fdb = u64::from(bs == 1024);
        let Some(blk) = g.checked_mul(bpg).and_then(|b| b.checked_add(fdb)) else {
            return;
        };
        let Some(off) = blk.checked_mul(bs) else {
            return;
        };
        if g == 0 || off.saturating_add(1024) > len {
            return;
        }
        if !out.iter().any(|&(_, b, s)| b == blk && s == bs) {
            out.push((g, blk, bs));
        }
    };
    if let Some(p) = primary
        && let Some(bs) = p.block_size()
    {
        let bpg = u64::from(p.s_blocks_per_group);
        if (8..=bs.saturating_mul(8)).contains(&bpg) {
            let last = p.group_count().unwrap_or(0).saturating_sub(1);
            let extra = [u64::from(p.s_backup_bgs[0]), u64::from(p.s_backup_bgs[1])];
            for &g in extra
                .iter()
                .chain(groups.iter())
                .chain(std::iter::once(&last))
            {
                push(g, bs, bpg);
            }
        }
    }
    // Nothing known: mkfs's default geometry (8 × block size blocks per
    // group) first, then smaller power-of-two groups (mkfs -g), group 1 only.
    for log in 0..=6u32 {
        let bs = 1024u64 << log;
        for &g in &groups {
            push(g, bs, bs.saturating_mul(8));
        }
    }
    for log in 0..=6u32 {
        let bs = 1024u64 << log;
        let mut bpg = 256u64;
        while bpg < bs.saturating_mul(8) {
            push(1, bs, bpg);
            bpg = bpg.saturating_mul(2);
        }
    }
    out
}

impl<'r> Ext4<'r> {
    /// Opens the filesystem in `r`: the primary superblock when it is
    /// usable, otherwise the first good backup. Never writes.
    pub fn open(r: &'r dyn ReadAt) -> Result<Self, OpenError> {
        let len = r.len();
        if len < 2048 {
            return Err(OpenError::TooShort { len });
        }
        let mut open_findings = Vec::new();
        let primary_raw = read_sb(r, SUPERBLOCK_OFFSET);
        let primary = primary_raw.as_deref().map(Superblock::parse);
        let primary_problem = match (&primary, &primary_raw) {
            (Some(sb), Some(raw)) => geometry_problem(sb, raw),
            _ => Some((
                "ext4.superblock.unreadable",
                "primary superblock cannot be read".to_string(),
            )),
        };
        let (sb, sb_raw, source, primary_kept) = match primary_problem {
            None => match (primary, primary_raw) {
                (Some(sb), Some(raw)) => (sb, raw, SuperblockSource::Primary, None),
                _ => return Err(OpenError::NoSuperblock),
            },
            Some((code, msg)) => {
                let mut found = None;
                for (g, blk, bs) in backup_candidates(primary.as_ref(), len) {
                    let Some(off) = blk.checked_mul(bs) else {
                        continue;
                    };
                    let Some(raw) = read_sb(r, off) else { continue };
                    let cand = Superblock::parse(&raw);
                    if cand.block_size() != Some(bs) || geometry_problem(&cand, &raw).is_some() {
                        continue;
                    }
                    // The backup must sit where its own geometry puts group g.
                    let fdb = u64::from(cand.s_first_data_block);
                    if g.checked_mul(u64::from(cand.s_blocks_per_group))
                        .and_then(|b| b.checked_add(fdb))
                        != Some(blk)
                    {
                        continue;
                    }
                    found = Some((cand, raw, g, blk, bs));
                    break;
                }
                let primary_magic_ok = primary.as_ref().is_some_and(|p| p.s_magic == EXT4_MAGIC);
                match found {
                    Some((cand, raw, g, blk, bs)) => {
                        open_findings.push(
                            Finding::error(code, Layer::EXT4, SUPERBLOCK_OFFSET, Space::Disk, format!("primary superblock unusable: {msg}; using the backup in group {g} (block {blk}, {bs}-byte blocks)"))
                                .with_hint(Hint::read_only(format!("e2fsck -fn -b {blk} -B {bs} {{dev}}"))),
                        );
                        let source = SuperblockSource::Backup {
                            group: g,
                            block: blk,
                            block_size: bs,
                        };
                        (cand, raw, source, primary.filter(|_| primary_magic_ok))
                    }
                    None if primary_magic_ok => {
                        // No good backup: go on with the primary, marked.
                        open_findings.push(
                            Finding::error(code, Layer::EXT4, SUPERBLOCK_OFFSET, Space::Disk, format!("primary superblock damaged: {msg}; no usable backup superblock found"))
                                .with_hint(Hint::read_only(crate::E2FSCK_FN).because("if it refuses, dumpe2fs -o superblock=N {dev} for each candidate backup")),
                        );
                        match (primary, primary_raw) {
                            (Some(sb), Some(raw)) => (sb, raw, SuperblockSource::Primary, None),
                            _ => return Err(OpenError::NoSuperblock),
                        }
                    }
                    None => return Err(OpenError::NoSuperblock),
                }
            }
        };
        let geometry_ok =
            geometry_problem(&sb, &sb_raw).is_none_or(|(c, _)| c == "ext4.superblock.checksum");
        let bs = sb.block_size().unwrap_or(1024);
        let geometry_ok = geometry_ok && !sb.has_incompat(incompat::JOURNAL_DEV);
        let groups = if geometry_ok {
            sb.group_count().unwrap_or(0).min(MAX_GROUPS)
        } else {
            0
        };
        let seed = sb.csum_seed();
        let mut fs = Ext4 {
            r,
            sb,
            sb_raw,
            primary: primary_kept,
            source,
            bs,
            groups,
            gds: Vec::new(),
            open_findings,
            seed,
            geometry_ok,
        };
        if geometry_ok {
            fs.load_gdt();
        }
        Ok(fs)
    }

    /// Blocks per group.
    pub(crate) fn bpg(&self) -> u64 {
        u64::from(self.sb.s_blocks_per_group)
    }

    /// Byte offset of block `blk`, when it fits.
    pub(crate) fn block_offset(&self, blk: u64) -> Option<u64> {
        blk.checked_mul(self.bs)
    }

    /// Blocks tracked in bitmaps: those of the filesystem that the reader
    /// holds, at most [`MAX_TRACKED_BLOCKS`].
    pub(crate) fn tracked_blocks(&self) -> u64 {
        self.sb
            .s_blocks_count
            .min(self.r.len().div_ceil(self.bs.max(1)))
            .min(MAX_TRACKED_BLOCKS)
    }

    /// Reads one block, or `None` when out of range/unreadable.
    pub(crate) fn read_block(&self, blk: u64) -> Option<Vec<u8>> {
        if blk >= self.sb.s_blocks_count {
            return None;
        }
        let off = self.block_offset(blk)?;
        let mut b = vec![0u8; us(self.bs)];
        self.r.read_exact_at(off, &mut b).ok()?;
        Some(b)
    }

    /// First block of group `g`.
    pub(crate) fn group_first_block(&self, g: u64) -> u64 {
        g.saturating_mul(self.bpg())
            .saturating_add(u64::from(self.sb.s_first_data_block))
    }

    /// Last block of group `g` (inclusive).
    pub(crate) fn group_last_block(&self, g: u64) -> u64 {
        let end = self
            .group_first_block(g)
            .saturating_add(self.bpg())
            .saturating_sub(1);
        end.min(self.sb.s_blocks_count.saturating_sub(1))
    }

    /// Descriptors per GDT block.
    pub(crate) fn descs_per_block(&self) -> u64 {
        self.bs
            .checked_div(u64::from(self.sb.desc_size().max(32)))
            .unwrap_or(1)
            .max(1)
    }

    /// Number of GDT blocks.
    pub(crate) fn desc_blocks(&self) -> u64 {
        self.groups.div_ceil(self.descs_per_block())
    }

    /// Block holding GDT block `i` (primary copy), as ext2fs_descriptor_block_loc2.
    pub(crate) fn desc_block_loc(&self, i: u64) -> u64 {
        let fdb = u64::from(self.sb.s_first_data_block);
        // bigalloc with 1 KiB blocks keeps block 0 out of the filesystem.
        let adjust = u64::from(
            i == 0 && self.bs == 1024 && self.sb.s_log_cluster_size > self.sb.s_log_block_size,
        );
        if !self.sb.has_incompat(incompat::META_BG) || i < u64::from(self.sb.s_first_meta_bg) {
            return fdb
                .saturating_add(i)
                .saturating_add(1)
                .saturating_add(adjust);
        }
        let bg = self.descs_per_block().saturating_mul(i);
        self.group_first_block(bg)
            .saturating_add(u64::from(self.sb.group_has_super(bg)))
    }

    /// Blocks of group `g` taken by its superblock copy and GDT (and
    /// reserved GDT) blocks: (first, count).
    pub(crate) fn group_super_gdt(&self, g: u64) -> (u64, u64) {
        let first = self.group_first_block(g);
        let has_super = self.sb.group_has_super(g);
        let mut n = u64::from(has_super);
        if self.sb.has_incompat(incompat::META_BG) {
            let dpb = self.descs_per_block();
            let meta_group = g.checked_div(dpb).unwrap_or(0);
            if meta_group < u64::from(self.sb.s_first_meta_bg) {
                if has_super {
                    n = n
                        .saturating_add(u64::from(self.sb.s_first_meta_bg))
                        .saturating_add(u64::from(self.sb.s_reserved_gdt_blocks));
                }
            } else {
                let r = g.checked_rem(dpb).unwrap_or(0);
                if r == 0 || r == 1 || r == dpb.saturating_sub(1) {
                    n = n.saturating_add(1);
                }
            }
        } else if has_super {
            n = n
                .saturating_add(self.desc_blocks())
                .saturating_add(u64::from(self.sb.s_reserved_gdt_blocks));
        }
        // 1 KiB blocks with bigalloc (cluster 0 reserved) is not modelled.
        (first, n)
    }

    fn load_gdt(&mut self) {
        let ds = u64::from(self.sb.desc_size().max(32));
        let dpb = self.descs_per_block();
        let mut gds = Vec::with_capacity(us(self.groups.min(1 << 16)));
        let mut unreadable = None;
        'blocks: for i in 0..self.desc_blocks() {
            let blk = self.desc_block_loc(i);
            let Some(block) = self.read_block(blk) else {
                unreadable = Some((i, blk));
                break;
            };
            for j in 0..dpb {
                let g = i.saturating_mul(dpb).saturating_add(j);
                if g >= self.groups {
                    break 'blocks;
                }
                let start = us(j.saturating_mul(ds));
                let raw = block
                    .get(start..start.saturating_add(us(ds)))
                    .unwrap_or(&[]);
                let off = self
                    .block_offset(blk)
                    .unwrap_or(0)
                    .saturating_add(u64_of(start));
                gds.push(self.parse_gd(g, raw, off));
            }
        }
        if let Some((i, blk)) = unreadable {
            self.open_findings.push(
                Finding::error("ext4.gdt.unreadable", Layer::EXT4, blk.saturating_mul(self.bs), Space::Disk,
                    format!("group descriptor block {i} (block {blk}) lies outside the readable image; {} of {} group descriptors loaded", gds.len(), self.groups))
                    .with_hint(Hint::read_only(crate::E2FSCK_FN).because("the image may be truncated")),
            );
        }
        self.gds = gds;
    }

    fn parse_gd(&self, g: u64, raw: &[u8], offset: u64) -> GroupDesc {
        let ds = self.sb.desc_size();
        let big = ds >= 64;
        let hi16 = |off: usize| {
            if big {
                u32::from(le16(raw, off)) << 16
            } else {
                0
            }
        };
        let hi32 = |off: usize| {
            if big {
                u64::from(le32(raw, off)) << 32
            } else {
                0
            }
        };
        let computed = self.gd_csum(g, raw);
        GroupDesc {
            bg_block_bitmap: u64::from(le32(raw, 0x0)) | hi32(0x20),
            bg_inode_bitmap: u64::from(le32(raw, 0x4)) | hi32(0x24),
            bg_inode_table: u64::from(le32(raw, 0x8)) | hi32(0x28),
            bg_free_blocks_count: u32::from(le16(raw, 0xC)) | hi16(0x2C),
            bg_free_inodes_count: u32::from(le16(raw, 0xE)) | hi16(0x2E),
            bg_used_dirs_count: u32::from(le16(raw, 0x10)) | hi16(0x30),
            bg_flags: le16(raw, 0x12),
            bg_block_bitmap_csum: u32::from(le16(raw, 0x18))
                | if ds >= 0x3A {
                    u32::from(le16(raw, 0x38)) << 16
                } else {
                    0
                },
            bg_inode_bitmap_csum: u32::from(le16(raw, 0x1A))
                | if ds >= 0x3C {
                    u32::from(le16(raw, 0x3A)) << 16
                } else {
                    0
                },
            bg_itable_unused: u32::from(le16(raw, 0x1C)) | hi16(0x32),
            bg_checksum: le16(raw, 0x1E),
            offset,
            computed_checksum: computed,
        }
    }

    /// The checksum group descriptor `g` should carry, per the filesystem's
    /// features (None when it has none).
    fn gd_csum(&self, g: u64, raw: &[u8]) -> Option<u16> {
        let g32 = u32::try_from(g).unwrap_or(u32::MAX).to_le_bytes();
        if self.sb.metadata_csum() {
            let mut d = raw.to_vec();
            zero(&mut d, 0x1E, 2);
            let c = crc32c_raw(crc32c_raw(self.seed, &g32), &d);
            return Some(u16::try_from(c & 0xFFFF).unwrap_or(0));
        }
        if self.sb.has_ro_compat(ro_compat::GDT_CSUM) {
            let mut c = crc16(0xFFFF, &self.sb.s_uuid);
            c = crc16(c, &g32);
            c = crc16(c, raw.get(..0x1E).unwrap_or(raw));
            if raw.len() > 0x20 {
                c = crc16(c, raw.get(0x20..).unwrap_or(&[]));
            }
            return Some(c);
        }
        None
    }

    /// Blocks per inode table.
    pub(crate) fn itable_blocks(&self) -> u64 {
        u64::from(self.sb.s_inodes_per_group)
            .saturating_mul(u64::from(self.sb.inode_size()))
            .div_ceil(self.bs)
    }

    /// Byte offset of inode `ino`, when its group's table is known.
    pub(crate) fn inode_offset(&self, ino: u32) -> Option<u64> {
        if ino == 0 || ino > self.sb.s_inodes_count {
            return None;
        }
        let ipg = self.sb.s_inodes_per_group.max(1);
        let idx = ino.checked_sub(1)?;
        let g = u64::from(idx.checked_div(ipg).unwrap_or(0));
        let slot = u64::from(idx.checked_rem(ipg).unwrap_or(0));
        let gd = self.gds.get(us(g))?;
        let itable = gd.bg_inode_table;
        if itable == 0 || itable >= self.sb.s_blocks_count {
            return None;
        }
        self.block_offset(itable)?
            .checked_add(slot.checked_mul(u64::from(self.sb.inode_size()))?)
    }

    /// Reads inode `ino`.
    pub(crate) fn read_inode(&self, ino: u32) -> Option<Inode> {
        let off = self.inode_offset(ino)?;
        let mut raw = vec![0u8; usize::from(self.sb.inode_size())];
        self.r.read_exact_at(off, &mut raw).ok()?;
        Some(Inode::parse(ino, off, raw))
    }

    /// Whether inode `ino`'s checksum is right (None without metadata_csum).
    pub(crate) fn inode_csum_ok(&self, ino: &Inode) -> Option<bool> {
        if !self.sb.metadata_csum() {
            return None;
        }
        let raw = &ino.raw;
        let isz = raw.len();
        let has_hi = isz > 128 && le16(raw, 0x80) >= 4;
        // Two CRC calls: inode number, generation and the inode's first
        // 0x84 bytes (where both checksum fields lie, zeroed) assembled on
        // the stack, then the rest in place. A heap copy per inode, or
        // many short CRC calls, cost more than the CRC itself.
        let mut head = [0u8; 8 + HEAD];
        let c = if let (Some(first), Some(rest)) = (raw.get(..HEAD), raw.get(HEAD..)) {
            let (num, body) = head.split_at_mut(8);
            let (n, g) = num.split_at_mut(4);
            n.copy_from_slice(&ino.ino.to_le_bytes());
            g.copy_from_slice(&ino.i_generation.to_le_bytes());
            body.copy_from_slice(first);
            zero(body, 0x7C, 2);
            if has_hi {
                zero(body, 0x82, 2);
            }
            crc32c_raw(crc32c_raw(self.seed, &head), rest)
        } else {
            // Shorter than any valid inode: the plain (slow) way.
            let mut d = raw.clone();
            zero(&mut d, 0x7C, 2);
            if has_hi {
                zero(&mut d, 0x82, 2);
            }
            crc32c_raw(self.file_seed(ino), &d)
        };
        let stored = u32::from(le16(raw, 0x7C))
            | if has_hi {
                u32::from(le16(raw, 0x82)) << 16
            } else {
                0
            };
        let want = if has_hi { c } else { c & 0xFFFF };
        if stored == want {
            return Some(true);
        }
        // e2fsprogs accepts an all-zero inode (never written).
        Some(raw.iter().all(|&b| b == 0))
    }

    /// Per-file checksum seed: seed → ino → generation.
    pub(crate) fn file_seed(&self, ino: &Inode) -> u32 {
        crc32c_raw(
            crc32c_raw(self.seed, &ino.ino.to_le_bytes()),
            &ino.i_generation.to_le_bytes(),
        )
    }

    /// Walks the blocks of `ino` (extent tree or block map), calling `visit`
    /// for every data run and every mapping block; problems go to `out`
    /// when given. Bounded by [`MAX_EXTENT_NODES`] / [`MAX_INDIRECT_BLOCKS`].
    pub(crate) fn map_file(
        &self,
        ino: &Inode,
        visit: &mut dyn FnMut(MapEvent),
        out: Option<&mut Vec<Finding>>,
    ) {
        self.map_file_filtered(
            ino,
            &mut |e| {
                visit(e);
                true
            },
            out,
        );
    }

    /// As [`Ext4::map_file`], but `visit` returning false for a mapping
    /// block skips what lies below it (the deep check refuses to walk an
    /// index or indirect block another file already owns, which bounds the
    /// total work by the filesystem's size).
    pub(crate) fn map_file_filtered(
        &self,
        ino: &Inode,
        visit: &mut dyn FnMut(MapEvent) -> bool,
        out: Option<&mut Vec<Finding>>,
    ) {
        let mut sink = Vec::new();
        let out = out.unwrap_or(&mut sink);
        if ino.i_flags & INLINE_DATA_FL != 0 || ino.is_fast_symlink() {
            return;
        }
        if ino.i_flags & EXTENTS_FL != 0 {
            let mut budget = MAX_EXTENT_NODES;
            let root = ino.i_block;
            let mut ctx = ExtentWalk {
                fs: self,
                ino,
                out,
                visit,
                budget: &mut budget,
                last_lblk: None,
            };
            ctx.node(&root, None, None, 0, u64::MAX);
            return;
        }
        if ino.is_device() {
            return;
        }
        let mut budget = MAX_INDIRECT_BLOCKS;
        let ptr_per_block = self.bs / 4;
        let mut lblk = 0u64;
        for i in 0..15usize {
            let p = u64::from(le32(&ino.i_block, i.saturating_mul(4)));
            let level = i.saturating_sub(11);
            let span = match level {
                0 => 1,
                1 => ptr_per_block,
                2 => ptr_per_block.saturating_mul(ptr_per_block),
                _ => ptr_per_block
                    .saturating_mul(ptr_per_block)
                    .saturating_mul(ptr_per_block),
            };
            if p != 0 {
                self.indirect(
                    ino,
                    p,
                    u32::try_from(level).unwrap_or(0),
                    lblk,
                    &mut budget,
                    visit,
                    out,
                );
            }
            lblk = lblk.saturating_add(span);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn indirect(
        &self,
        ino: &Inode,
        p: u64,
        level: u32,
        lblk: u64,
        budget: &mut u32,
        visit: &mut dyn FnMut(MapEvent) -> bool,
        out: &mut Vec<Finding>,
    ) {
        let fdb = u64::from(self.sb.s_first_data_block);
        if p < fdb || p >= self.sb.s_blocks_count {
            out.push(Finding::error("ext4.inode.illegal_block", Layer::EXT4, ino.offset, Space::Disk,
                format!("inode {} maps logical block {lblk} to block {p}, outside the filesystem ({fdb}..{})", ino.ino, self.sb.s_blocks_count))
                .with_hint(Hint::read_only(crate::E2FSCK_FN)));
            return;
        }
        if level == 0 {
            let _ = visit(MapEvent::Data {
                lblk,
                pblk: p,
                len: 1,
                uninit: false,
            });
            return;
        }
        if !visit(MapEvent::Meta { pblk: p }) {
            return;
        }
        if *budget == 0 {
            return;
        }
        *budget = budget.saturating_sub(1);
        let Some(block) = self.read_block(p) else {
            return;
        };
        let ptr_per_block = self.bs / 4;
        let span = ptr_per_block.saturating_pow(level.saturating_sub(1));
        for k in 0..ptr_per_block {
            let q = u64::from(le32(&block, us(k.saturating_mul(4))));
            if q != 0 {
                self.indirect(
                    ino,
                    q,
                    level.saturating_sub(1),
                    lblk.saturating_add(k.saturating_mul(span)),
                    budget,
                    visit,
                    out,
                );
            }
        }
    }
}

/// What a file's block map yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MapEvent {
    /// `len` data blocks from `pblk`, at logical `lblk`.
    Data {
        lblk: u64,
        pblk: u64,
        len: u64,
        uninit: bool,
    },
    /// A mapping block (extent tree node or indirect block).
    Meta { pblk: u64 },
}

/// Where an extent node lives, for messages: formatted only into a
/// finding, not for every node walked.
struct NodeAt(Option<u64>);

impl std::fmt::Display for NodeAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(p) => write!(f, "in block {p}"),
            None => f.write_str("in the inode"),
        }
    }
}

struct ExtentWalk<'a, 'b> {
    fs: &'a Ext4<'b>,
    ino: &'a Inode,
    out: &'a mut Vec<Finding>,
    visit: &'a mut dyn FnMut(MapEvent) -> bool,
    budget: &'a mut u32,
    last_lblk: Option<u64>,
}

impl ExtentWalk<'_, '_> {
    fn bad(&mut self, code: &'static str, off: u64, msg: String) {
        self.out.push(
            Finding::error(code, Layer::EXT4, off, Space::Disk, msg)
                .with_hint(Hint::read_only(crate::E2FSCK_FN)),
        );
    }

    /// One node; `blk` is None for the root in i_block. `expect_depth` is
    /// the depth the parent implies; `start`..`end` the logical range the
    /// parent index assigns.
    fn node(
        &mut self,
        b: &[u8],
        blk: Option<u64>,
        expect_depth: Option<u16>,
        start: u64,
        end: u64,
    ) {
        let ino = self.ino.ino;
        let off = match blk {
            Some(p) => self.fs.block_offset(p).unwrap_or(0),
            None => self.ino.offset.saturating_add(0x28),
        };
        let magic = le16(b, 0);
        let entries = le16(b, 2);
        let max = le16(b, 4);
        let depth = le16(b, 6);
        let where_ = NodeAt(blk);
        if magic != 0xF30A {
            self.bad(
                "ext4.extent.bad_magic",
                off,
                format!(
                    "inode {ino}: extent header {where_} has magic {magic:#06x}, expected 0xf30a"
                ),
            );
            return;
        }
        let cap = u64_of(b.len()).saturating_sub(12) / 12;
        if u64::from(max) > cap || max == 0 {
            self.bad(
                "ext4.extent.bad_max",
                off,
                format!("inode {ino}: extent header {where_} has eh_max {max}, at most {cap} fit"),
            );
            return;
        }
        if entries > max {
            self.bad("ext4.extent.too_many_entries", off, format!("inode {ino}: extent header {where_} has {entries} entries, more than eh_max {max}"));
            return;
        }
        if depth > MAX_EXTENT_DEPTH {
            self.bad(
                "ext4.extent.too_deep",
                off,
                format!(
                    "inode {ino}: extent tree depth {depth} exceeds the limit {MAX_EXTENT_DEPTH}"
                ),
            );
            return;
        }
        if let Some(d) = expect_depth
            && d != depth
        {
            self.bad(
                "ext4.extent.bad_depth",
                off,
                format!(
                    "inode {ino}: extent node {where_} has depth {depth}, its parent implies {d}"
                ),
            );
            return;
        }
        if let (Some(_), true) = (blk, self.fs.sb.metadata_csum()) {
            let tail = 12usize.saturating_add(12usize.saturating_mul(usize::from(max)));
            let want = crc32c_raw(self.fs.file_seed(self.ino), b.get(..tail).unwrap_or(b));
            let got = le32(b, tail);
            if b.len() >= tail.saturating_add(4) && want != got {
                self.bad("ext4.extent.checksum", off, format!("inode {ino}: extent block {where_} checksum is {got:#010x}, computed {want:#010x}"));
            }
        }
        let mut prev: Option<u64> = None;
        for i in 0..usize::from(entries) {
            let e = 12usize.saturating_add(i.saturating_mul(12));
            let lblk = u64::from(le32(b, e));
            if let Some(p) = prev
                && lblk <= p
            {
                self.bad("ext4.extent.out_of_order", off, format!("inode {ino}: extent entry {i} {where_} starts at logical block {lblk}, not after the previous one ({p})"));
                return;
            }
            if lblk < start || lblk > end {
                self.bad("ext4.extent.bad_start", off, format!("inode {ino}: extent entry {i} {where_} starts at logical block {lblk}, outside its parent's range {start}..{end}"));
                return;
            }
            prev = Some(lblk);
            let next_start = if i.saturating_add(1) < usize::from(entries) {
                u64::from(le32(b, e.saturating_add(12))).saturating_sub(1)
            } else {
                end
            };
            if depth == 0 {
                let raw_len = le16(b, e.saturating_add(4));
                let (len, uninit) = if raw_len > 32768 {
                    (raw_len.saturating_sub(32768), true)
                } else {
                    (raw_len, false)
                };
                let pblk = u64::from(le32(b, e.saturating_add(8)))
                    | (u64::from(le16(b, e.saturating_add(6))) << 32);
                let len = u64::from(len);
                let fdb = u64::from(self.fs.sb.s_first_data_block);
                if len == 0 {
                    self.bad(
                        "ext4.extent.zero_length",
                        off,
                        format!(
                            "inode {ino}: extent at logical block {lblk} {where_} has length 0"
                        ),
                    );
                    continue;
                }
                if pblk < fdb || pblk.saturating_add(len) > self.fs.sb.s_blocks_count {
                    self.bad("ext4.extent.block_out_of_range", off, format!("inode {ino}: extent at logical block {lblk} maps blocks {pblk}..{}, outside the filesystem ({fdb}..{})", pblk.saturating_add(len), self.fs.sb.s_blocks_count));
                    continue;
                }
                if let Some(l) = self.last_lblk
                    && lblk <= l
                {
                    self.bad("ext4.extent.overlap", off, format!("inode {ino}: extent at logical block {lblk} overlaps the previous extent ending at {l}"));
                }
                self.last_lblk = Some(lblk.saturating_add(len).saturating_sub(1));
                let _ = (self.visit)(MapEvent::Data {
                    lblk,
                    pblk,
                    len,
                    uninit,
                });
            } else {
                let pblk = u64::from(le32(b, e.saturating_add(4)))
                    | (u64::from(le16(b, e.saturating_add(8))) << 32);
                if pblk < u64::from(self.fs.sb.s_first_data_block)
                    || pblk >= self.fs.sb.s_blocks_count
                {
                    self.bad("ext4.extent.block_out_of_range", off, format!("inode {ino}: extent index for logical block {lblk} points at block {pblk}, outside the filesystem"));
                    continue;
                }
                if !(self.visit)(MapEvent::Meta { pblk }) {
                    continue;
                }
                if *self.budget == 0 {
                    return;
                }
                *self.budget = self.budget.saturating_sub(1);
                let Some(child) = self.fs.read_block(pblk) else {
                    continue;
                };
                let child_first = u64::from(le32(&child, 12));
                if le16(&child, 0) == 0xF30A && le16(&child, 2) > 0 && child_first != lblk {
                    self.bad("ext4.extent.index_start", off, format!("inode {ino}: extent index says logical block {lblk}, its child block {pblk} starts at {child_first}"));
                }
                self.node(
                    &child,
                    Some(pblk),
                    Some(depth.saturating_sub(1)),
                    lblk,
                    next_start,
                );
            }
        }
    }
}

/// The inode bytes copied (checksum fields zeroed) for the checksum: up to
/// the end of `i_checksum_hi`.
const HEAD: usize = 0x84;

/// `i_flags` EXT4_EXTENTS_FL.
pub const EXTENTS_FL: u32 = 0x80000;
/// `i_flags` EXT4_INLINE_DATA_FL.
pub const INLINE_DATA_FL: u32 = 0x1000_0000;
/// `i_flags` EXT4_INDEX_FL (htree directory).
pub const INDEX_FL: u32 = 0x1000;
/// `i_flags` EXT4_HUGE_FILE_FL.
pub const HUGE_FILE_FL: u32 = 0x40000;
/// `i_flags` EXT4_EA_INODE_FL.
pub const EA_INODE_FL: u32 = 0x200000;

/// One inode, with the fields the checks use.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct Inode {
    pub ino: u32,
    pub offset: u64,
    pub raw: Vec<u8>,
    pub i_mode: u16,
    pub i_size: u64,
    pub i_links_count: u16,
    pub i_dtime: u32,
    pub i_flags: u32,
    pub i_blocks: u64,
    pub i_block: [u8; 60],
    pub i_generation: u32,
    pub i_file_acl: u64,
}

impl Inode {
    /// Parses raw inode bytes.
    pub fn parse(ino: u32, offset: u64, raw: Vec<u8>) -> Self {
        let mut i_block = [0u8; 60];
        if let Some(s) = raw.get(0x28..0x28 + 60) {
            i_block.copy_from_slice(s);
        }
        Inode {
            ino,
            offset,
            i_mode: le16(&raw, 0),
            i_size: u64::from(le32(&raw, 0x4)) | (u64::from(le32(&raw, 0x6C)) << 32),
            i_links_count: le16(&raw, 0x1A),
            i_dtime: le32(&raw, 0x14),
            i_flags: le32(&raw, 0x20),
            i_blocks: u64::from(le32(&raw, 0x1C)) | (u64::from(le16(&raw, 0x74)) << 32),
            i_generation: le32(&raw, 0x64),
            i_file_acl: u64::from(le32(&raw, 0x68)) | (u64::from(le16(&raw, 0x76)) << 32),
            i_block,
            raw,
        }
    }
    /// File type bits of i_mode.
    pub fn fmt(&self) -> u16 {
        self.i_mode & 0xF000
    }
    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.fmt() == 0x4000
    }
    /// A regular file.
    pub fn is_reg(&self) -> bool {
        self.fmt() == 0x8000
    }
    /// A symlink whose target lives in i_block.
    pub fn is_fast_symlink(&self) -> bool {
        self.fmt() == 0xA000
            && self.i_size > 0
            && self.i_size < 60
            && self.i_flags & INLINE_DATA_FL == 0
    }
    /// A device, fifo or socket (no blocks).
    pub fn is_device(&self) -> bool {
        matches!(self.fmt(), 0x2000 | 0x6000 | 0x1000 | 0xC000)
    }
}

//! Choosing a trustworthy superblock: the primary when its geometry holds,
//! otherwise the first good backup, searched at the primary's own
//! geometry and then at mkfs's defaults.

use crate::fs::{Ext4, MAX_GROUPS, OpenError, SuperblockSource};
use crate::reads::{Miss, ReadLog};
use crate::superblock::{
    EXT4_MAGIC, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE, Superblock, incompat, ro_compat,
};
use imgcheck_core::{Finding, Hint, Layer, ReadAt, Space};
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

/// Reads the superblock bytes at `off`; a read the reader failed is
/// logged in `log`, naming `what`.
fn read_sb(r: &dyn ReadAt, off: u64, log: &mut ReadLog, what: &str) -> Result<Vec<u8>, Miss> {
    let mut b = vec![0u8; SUPERBLOCK_SIZE];
    match r.read_exact_at(off, &mut b) {
        Ok(()) => Ok(b),
        Err(e) => Err(log.record(off, what, &e)),
    }
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
    // e2fsprogs' ext2fs_open2 refuses the superblock outright past 31
    // (1 << it sizes flex groups), with or without flex_bg, so e2fsck goes
    // to a backup; the kernel ignores the field then, but a user cannot
    // check or repair through this superblock.
    if sb.s_log_groups_per_flex > 31 {
        return Some((
            "ext4.superblock.log_groups_per_flex",
            format!(
                "s_log_groups_per_flex is {}, at most 31 is valid (e2fsck refuses this superblock)",
                sb.s_log_groups_per_flex
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
        let mut log = ReadLog::default();
        let primary_read = read_sb(r, SUPERBLOCK_OFFSET, &mut log, "primary superblock");
        // Unreadable is not absent: without a usable backup it is its own
        // error, not "no superblock".
        let unreadable = match &primary_read {
            Err(Miss::Unreadable(cause)) => Some(cause.clone()),
            _ => None,
        };
        let primary_raw = primary_read.ok();
        let primary = primary_raw.as_deref().map(Superblock::parse);
        let primary_problem = match (&primary, &primary_raw) {
            (Some(sb), Some(raw)) => geometry_problem(sb, raw),
            _ => Some((
                "ext4.superblock.unreadable",
                match &unreadable {
                    Some(cause) => format!(
                        "primary superblock unreadable at offset {SUPERBLOCK_OFFSET}: {cause}"
                    ),
                    None => "primary superblock cannot be read".to_string(),
                },
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
                    let what = format!("backup superblock candidate of group {g}");
                    let Ok(raw) = read_sb(r, off, &mut log, &what) else {
                        continue;
                    };
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
                    None => {
                        return Err(match unreadable {
                            Some(cause) => OpenError::Unreadable {
                                offset: SUPERBLOCK_OFFSET,
                                cause,
                            },
                            None => OpenError::NoSuperblock,
                        });
                    }
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
            open_reads: Vec::new(),
            reads: Mutex::new(log),
            failed_reads: AtomicU64::new(0),
            seed,
            geometry_ok,
        };
        if geometry_ok {
            fs.load_gdt();
        }
        fs.open_reads = fs.take_read_log();
        Ok(fs)
    }
}

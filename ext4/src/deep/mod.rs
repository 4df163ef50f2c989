//! The full check (the default depth): what e2fsck's passes 1–5 check — every in-use inode, extent
//! trees and block maps, blocks claimed twice, directories, connectivity,
//! link counts, and bitmaps recomputed against those on disk.
//!
//! Memory: one bit per block (used, plus claimed-twice) and per inode, two
//! bytes of link count and one of type per inode, a list of directory
//! blocks, and maps over directories only. Larger filesystems than
//! [`MAX_DEEP_INODES`] inodes are refused with a finding.
//!
//! One file per pass, as e2fsck's pass1.c…pass5.c: `pass1` (inodes,
//! block maps and extent trees, i_blocks and sizes), `pass1b` (blocks
//! claimed twice), `xattr` and `quota` (what pass 1 also checks), `pass2`
//! and `htree` (directories), `pass3` (connectivity), `pass4` (link
//! counts), `pass5` (bitmaps and counts).

mod blocks;
mod fields;
mod htree;
mod orphans;
mod owners;
mod pass1;
mod pass1b;
mod pass2;
mod pass3;
mod pass4;
mod pass5;
mod quota;
mod special;
mod xattr;

use crate::bits::Bits;
use crate::fs::Ext4;
use crate::superblock::{incompat, ro_compat};
use imgcheck_core::bytes::{u64_of, usize_of};
use imgcheck_core::{Finding, Hint, Layer, Progress, Sink, Space};
use std::collections::HashMap;

/// Deep checks are refused above this many inodes (3 bytes each).
pub const MAX_DEEP_INODES: u32 = 1 << 28;
/// Deep checks are refused above this many blocks (2^31: 8 TiB at 4 KiB,
/// two 256 MiB bitmaps).
pub const MAX_DEEP_BLOCKS: u64 = 1 << 31;
/// Directory blocks remembered for pass 2 at most.
const MAX_DIR_BLOCKS: usize = 1 << 25;

// Per-inode type codes kept in `kind`.
const K_NONE: u8 = 0;
const K_REG: u8 = 1;
const K_DIR: u8 = 2;
const K_CHR: u8 = 3;
const K_BLK: u8 = 4;
const K_FIFO: u8 = 5;
const K_SOCK: u8 = 6;
const K_LNK: u8 = 7;
const K_BAD: u8 = 8;

fn kind_of(mode: u16) -> u8 {
    match mode & 0xF000 {
        0x8000 => K_REG,
        0x4000 => K_DIR,
        0x2000 => K_CHR,
        0x6000 => K_BLK,
        0x1000 => K_FIFO,
        0xC000 => K_SOCK,
        0xA000 => K_LNK,
        _ => K_BAD,
    }
}

/// dirent file_type for a kind.
fn ftype_of(kind: u8) -> u8 {
    match kind {
        K_REG => 1,
        K_DIR => 2,
        K_CHR => 3,
        K_BLK => 4,
        K_FIFO => 5,
        K_SOCK => 6,
        K_LNK => 7,
        _ => 0,
    }
}

struct Deep<'a, 'r> {
    fs: &'a Ext4<'r>,
    /// The report's findings, capped per code by the sink.
    out: &'a mut Sink,
    /// Where passes 1 and 2 say how far they have got.
    progress: &'a Progress,
    /// Blocks in use as computed (metadata and every file's blocks).
    used: Bits,
    /// Fixed metadata (superblocks, GDT, bitmaps, inode tables).
    meta: Bits,
    /// Blocks claimed more than once.
    dup: Bits,
    dup_count: u64,
    dup_inodes: Vec<u32>,
    /// EA blocks seen, with their reference counts (shared by design, not
    /// duplicates).
    ea_blocks: HashMap<u64, xattr::EaBlock>,
    /// EA inodes: flagged in pass 1, referenced by xattrs.
    ea_inode_refs: xattr::EaInodeRefs,
    /// More EA blocks or EA inodes than tracked.
    ea_bound_hit: bool,
    /// Blocks per cluster (1 without bigalloc).
    ratio: u64,
    /// log2 of the block size.
    bs_bits: u32,
    /// e2fsck's low_dtime_check: dtimes below s_inodes_count are orphan
    /// links (unless the clock was never set).
    low_dtime_check: bool,
    /// Orphans (list or orphan file) that orphan processing deletes
    /// (no links): inode → its place on the list.
    orphan_delete: HashMap<u32, u32>,
    /// Orphans it truncates to their size (links remain).
    orphan_truncate: HashMap<u32, u32>,
    /// Blocks that pending-delete orphans still hold.
    orphan_held: Bits,
    /// Block runs past EOF that a pending truncation frees.
    pending_past_eof: u64,
    /// More quota ids than counted.
    quota_bound_hit: bool,
    inode_used: Bits,
    kind: Vec<u8>,
    links_disk: Vec<u16>,
    refs: Vec<u16>,
    /// (dir inode, logical block, physical block)
    dir_blocks: Vec<(u32, u64, u64)>,
    dir_blocks_dropped: bool,
    /// directory → the directory whose entry names it (first seen)
    found_in: HashMap<u32, u32>,
    /// directory → its '..'
    dotdot: HashMap<u32, u32>,
    /// directories with INDEX_FL → (logical blocks that are dx nodes)
    dx_nodes: HashMap<u32, Vec<u64>>,
    special: Vec<u32>,
    dx_leaf_refs: Vec<u64>,
    /// htree directory → hash version in effect (unsigned variants folded in).
    dx_hash: HashMap<u32, u8>,
    /// (directory, leaf logical block) → (node min hash, node max hash, first in its node)
    dx_ranges: HashMap<(u32, u64), (u32, u32, bool)>,
    inline_dirs: Vec<u32>,
    encrypted: Bits,
    /// Inodes whose table slot the reader failed: neither in use nor free.
    unread: Bits,
    /// [`Ext4::failed_reads`] when the deep check started.
    failed_at_start: u64,
    /// Usage counted per quota type (user, group, project): id → (bytes, inodes).
    quota: Option<Vec<HashMap<u32, (u64, u64)>>>,
    lost_found: Option<u32>,
    /// Reused by `walk`.
    scratch_runs: Vec<Run>,
    /// Reused by `walk`.
    scratch_dir_lblks: Vec<(u64, u64)>,
    /// The reverse map, filled as the passes walk (see `owners`).
    owners: imgcheck_core::OwnerMapBuilder,
}

/// A mapped run: logical block, physical block, length, uninit, and 0 for
/// data or 1 + the mapping block's level (extent node 1, indirect 2–4).
type Run = (u64, u64, u64, bool, u8);

/// Entries a scratch vector keeps between inodes.
const SCRATCH_KEEP: usize = 1 << 12;

/// Runs passes 1–5 into `out`; returns the reverse map the walk filled
/// (`None` when the deep check was skipped).
pub(crate) fn run(
    fs: &Ext4<'_>,
    out: &mut Sink,
    progress: &Progress,
) -> Option<imgcheck_core::OwnerMap> {
    let sb = &fs.sb;
    if sb.s_inodes_count > MAX_DEEP_INODES {
        out.push(Finding::warning(
            "ext4.deep.skipped",
            Layer::EXT4,
            1024,
            Space::Disk,
            format!(
                "deep check skipped: {} inodes exceed the {MAX_DEEP_INODES}-inode bound",
                sb.s_inodes_count
            ),
        ));
        return None;
    }
    if u64_of(fs.gds.len()) != fs.groups {
        out.push(Finding::warning(
            "ext4.deep.skipped",
            Layer::EXT4,
            1024,
            Space::Disk,
            "deep check skipped: not every group descriptor could be read".to_string(),
        ));
        return None;
    }
    if u64::from(sb.s_inodes_count).saturating_mul(u64::from(sb.inode_size()))
        > fs.r.len().saturating_mul(2)
    {
        out.push(Finding::warning(
            "ext4.deep.skipped",
            Layer::EXT4,
            1024,
            Space::Disk,
            format!(
                "deep check skipped: {} inodes of {} bytes cannot fit in the {}-byte image",
                sb.s_inodes_count,
                sb.inode_size(),
                fs.r.len()
            ),
        ));
        return None;
    }
    let nb = fs.tracked_blocks();
    if nb >= MAX_DEEP_BLOCKS {
        out.push(Finding::warning(
            "ext4.deep.skipped",
            Layer::EXT4,
            1024,
            Space::Disk,
            format!("deep check skipped: {nb} blocks exceed the {MAX_DEEP_BLOCKS}-block bound"),
        ));
        return None;
    }
    let n = usize_of(u64::from(sb.s_inodes_count).saturating_add(1));
    let mut d = Deep {
        fs,
        out,
        progress,
        used: Bits::new(nb),
        meta: Bits::new(nb),
        dup: Bits::new(0),
        dup_count: 0,
        dup_inodes: Vec::new(),
        ea_blocks: HashMap::new(),
        ea_inode_refs: HashMap::new(),
        ea_bound_hit: false,
        ratio: 1u64
            << sb
                .s_log_cluster_size
                .saturating_sub(sb.s_log_block_size)
                .min(29),
        bs_bits: sb.s_log_block_size.saturating_add(10),
        low_dtime_check: ![sb.s_wtime, sb.s_mtime, sb.s_mkfs_time]
            .iter()
            .any(|&t| t != 0 && t < i64::from(sb.s_inodes_count)),
        orphan_delete: HashMap::new(),
        orphan_truncate: HashMap::new(),
        orphan_held: Bits::new(0),
        pending_past_eof: 0,
        quota_bound_hit: false,
        inode_used: Bits::new(u64_of(n)),
        kind: vec![K_NONE; n],
        links_disk: vec![0; n],
        refs: vec![0; n],
        dir_blocks: Vec::new(),
        dir_blocks_dropped: false,
        found_in: HashMap::new(),
        dotdot: HashMap::new(),
        dx_nodes: HashMap::new(),
        special: [
            sb.s_journal_inum,
            sb.s_usr_quota_inum,
            sb.s_grp_quota_inum,
            sb.s_prj_quota_inum,
            sb.s_orphan_file_inum,
        ]
        .into_iter()
        .filter(|&i| i != 0)
        .collect(),
        lost_found: None,
        scratch_runs: Vec::new(),
        scratch_dir_lblks: Vec::new(),
        owners: imgcheck_core::OwnerMapBuilder::new(fs.bs),
        dx_leaf_refs: Vec::new(),
        dx_hash: HashMap::new(),
        dx_ranges: HashMap::new(),
        inline_dirs: Vec::new(),
        encrypted: Bits::new(u64_of(n)),
        unread: Bits::new(0),
        failed_at_start: fs.failed_reads(),
        quota: sb
            .has_ro_compat(ro_compat::QUOTA)
            .then(|| vec![HashMap::new(), HashMap::new(), HashMap::new()]),
    };
    d.mark_metadata();
    d.own_metadata();
    d.find_orphans();
    d.pass1();
    d.ea_refcounts();
    if d.complete() {
        d.quota_check();
    }
    d.pass2();
    if d.complete() {
        d.pass3();
        d.pass4();
    }
    d.duplicates();
    if d.complete() {
        d.pass5();
    } else {
        d.out.push(Finding::info(
            "ext4.deep.incomplete",
            Layer::EXT4,
            1024,
            Space::Disk,
            format!(
                "{} read(s) failed during the deep check (see ext4.read.unreadable): quota usage, connectivity, link counts and bitmap totals were not compared, as they would count what could not be read as missing",
                d.fs.failed_reads().saturating_sub(d.failed_at_start)
            ),
        ));
    }
    if d.dir_blocks_dropped {
        d.owners.partial(
            "more directory blocks than the full check remembers: later names are missing",
        );
    }
    d.owners.last_write(sb.s_wtime);
    Some(d.owners.finish())
}

impl Deep<'_, '_> {
    fn push(&mut self, sev: imgcheck_core::Severity, code: &'static str, off: u64, msg: String) {
        self.out.push(
            Finding::new(sev, code, Layer::EXT4, off, Space::Disk, msg)
                .with_hint(Hint::read_only(crate::E2FSCK_FN)),
        );
    }

    fn error(&mut self, code: &'static str, off: u64, msg: String) {
        // Summary counts and bitmaps lag behind while the journal holds
        // unreplayed transactions: then a mismatch is a risk, not damage.
        const REPLAYABLE: [&str; 5] = [
            "ext4.group.free_blocks_count",
            "ext4.group.free_inodes_count",
            "ext4.group.used_dirs_count",
            "ext4.bitmap.block_differences",
            "ext4.bitmap.inode_differences",
        ];
        if self.fs.sb.has_incompat(incompat::RECOVER) && REPLAYABLE.contains(&code) {
            self.push(
                imgcheck_core::Severity::Warning,
                code,
                off,
                format!("{msg} (the journal needs recovery, which may account for this)"),
            );
            return;
        }
        self.push(imgcheck_core::Severity::Error, code, off, msg);
    }

    fn warning(&mut self, code: &'static str, off: u64, msg: String) {
        self.push(imgcheck_core::Severity::Warning, code, off, msg);
    }

    /// Whether every read of the deep check so far succeeded: the passes
    /// that compare totals over the whole filesystem need that.
    fn complete(&self) -> bool {
        self.fs.failed_reads() == self.failed_at_start
    }

    /// Inode `ino`'s table slot could not be read.
    fn mark_unread(&mut self, ino: u32) {
        if self.unread.len() == 0 {
            self.unread = Bits::new(self.inode_used.len());
        }
        self.unread.set(u64::from(ino));
    }

    fn mark_metadata(&mut self) {
        let fs = self.fs;
        let itb = fs.itable_blocks();
        let nb = fs.tracked_blocks();
        for g in 0..fs.groups {
            let (first, n) = fs.group_super_gdt(g);
            for b in first..first.saturating_add(n).min(nb) {
                self.meta.set(b);
                self.used.set(b);
            }
        }
        for gd in &fs.gds {
            for (blk, len) in [
                (gd.bg_block_bitmap, 1u64),
                (gd.bg_inode_bitmap, 1),
                (gd.bg_inode_table, itb),
            ] {
                if blk == 0 || blk >= nb {
                    continue;
                }
                for b in blk..blk.saturating_add(len).min(nb) {
                    self.meta.set(b);
                    self.used.set(b);
                }
            }
        }
        if fs.sb.has_incompat(incompat::MMP) && fs.sb.s_mmp_block < nb {
            self.meta.set(fs.sb.s_mmp_block);
            self.used.set(fs.sb.s_mmp_block);
        }
        // 1 KiB-block filesystems keep block 0 (boot block) outside group 0.
    }
}

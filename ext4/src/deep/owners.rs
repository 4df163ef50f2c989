//! The reverse map ([`imgcheck_core::OwnerMap`]) filled as the full check
//! walks: fixed metadata from the group descriptors, every inode's
//! mapping blocks and data runs as pass 1 claims them, and every name as
//! pass 2 reads it. The map is the full check's by-product, not a second
//! walk; it is what names the files a zeroed range destroyed.

use super::{Deep, Run};
use crate::inode::Inode;
use imgcheck_core::OwnerKind;

impl Deep<'_, '_> {
    /// The superblocks, descriptor tables, bitmaps and inode tables.
    pub(super) fn own_metadata(&mut self) {
        let fs = self.fs;
        let bs = fs.bs;
        let nb = fs.tracked_blocks();
        let itb = fs.itable_blocks();
        let meta_bg = fs.sb.has_incompat(crate::superblock::incompat::META_BG);
        for g in 0..fs.groups {
            let (first, n) = fs.group_super_gdt(g);
            let n = n.min(nb.saturating_sub(first));
            if n == 0 {
                continue;
            }
            // The superblock block, then descriptor blocks, then the
            // reserved GDT blocks (zeros until a resize uses them).
            let sb_blocks = u64::from(fs.sb.group_has_super(g)).min(n);
            let desc = if meta_bg {
                n.saturating_sub(sb_blocks)
            } else {
                fs.desc_blocks().min(n.saturating_sub(sb_blocks))
            };
            let reserved = n.saturating_sub(sb_blocks).saturating_sub(desc);
            let at = first.saturating_mul(bs);
            if sb_blocks > 0 {
                if g == 0 {
                    // The primary sits at byte 1024 whatever the block size.
                    let end = at.saturating_add(bs).max(2048);
                    self.owners
                        .push(OwnerKind::Superblock, 0, 1024, end.saturating_sub(1024), 0);
                } else {
                    self.owners.push(OwnerKind::BackupSuperblock, 0, at, bs, 0);
                }
            }
            let dat = first.saturating_add(sb_blocks).saturating_mul(bs);
            let kind = if g == 0 {
                OwnerKind::GroupDescriptors
            } else {
                OwnerKind::BackupSuperblock
            };
            self.owners.push(kind, 0, dat, desc.saturating_mul(bs), 0);
            self.owners.push(
                OwnerKind::OtherMetadata,
                0,
                dat.saturating_add(desc.saturating_mul(bs)),
                reserved.saturating_mul(bs),
                0,
            );
        }
        // An inode table's `logical` is its byte offset in the array of
        // all inodes (group * inodes per group * inode size), so a byte in
        // it names the inode it held: what an overwrite of the table lost.
        let per_group =
            u64::from(fs.sb.s_inodes_per_group).saturating_mul(u64::from(fs.sb.inode_size()));
        self.owners
            .inode_geometry(u32::from(fs.sb.inode_size()), fs.sb.s_inodes_per_group);
        if self.ratio > 1 {
            self.owners.cluster_size(bs.saturating_mul(self.ratio));
        }
        // In use per group, as the descriptors count them: what a zeroed
        // inode table held when no directory names its inodes any more
        // (the root's inode went with it). A free count above the group's
        // inodes is the descriptor's damage, not a count.
        let counts = fs
            .gds
            .iter()
            .map(|gd| {
                fs.sb
                    .s_inodes_per_group
                    .saturating_sub(gd.bg_free_inodes_count)
            })
            .collect();
        self.owners.group_inodes_used(
            counts,
            matches!(fs.source, crate::fs::SuperblockSource::Backup { .. }),
        );
        for (g, gd) in (0u64..).zip(&fs.gds) {
            for (blk, len, kind, logical) in [
                (gd.bg_block_bitmap, 1u64, OwnerKind::Bitmap, 0),
                (gd.bg_inode_bitmap, 1, OwnerKind::Bitmap, 0),
                (
                    gd.bg_inode_table,
                    itb,
                    OwnerKind::InodeTable,
                    g.saturating_mul(per_group),
                ),
            ] {
                if blk == 0 || blk >= nb {
                    continue;
                }
                let len = len.min(nb.saturating_sub(blk));
                self.owners.push(
                    kind,
                    0,
                    blk.saturating_mul(bs),
                    len.saturating_mul(bs),
                    logical,
                );
            }
        }
        if fs.sb.has_incompat(crate::superblock::incompat::MMP) && fs.sb.s_mmp_block < nb {
            self.owners.push(
                OwnerKind::OtherMetadata,
                0,
                fs.sb.s_mmp_block.saturating_mul(bs),
                bs,
                0,
            );
        }
    }

    /// One inode's mapped runs, as its block walk found them.
    pub(super) fn own_runs(&mut self, ino: &Inode, extents: bool, is_dir: bool, runs: &[Run]) {
        let fs = self.fs;
        let bs = fs.bs;
        let nb = fs.tracked_blocks();
        let n = ino.ino;
        let journal = n == fs.sb.s_journal_inum && n != 0;
        if !runs.is_empty() {
            self.owners.mtime(n, mtime(&ino.raw));
            self.owners.size(n, ino.i_size);
        }
        if is_dir {
            self.owners.directory(n);
        }
        // A journal that needs recovery: its live log, from s_start (a
        // jbd2 superblock field, big-endian at 0x1C), holds blocks that
        // are never zeros (headers, logged copies whose checksum is not a
        // zero block's). Past the live log the journal is zeros until the
        // log wraps into it.
        let live = if journal {
            live_log(fs, runs)
        } else {
            LiveLog::default()
        };
        for &(lblk, pblk, len, uninit, meta) in runs {
            // The resize inode: only its double-indirect block is its own;
            // the rest are the reserved GDT blocks, mapped as such.
            if pblk >= nb || (n == 7 && meta != 3) {
                continue;
            }
            let len = len.min(nb.saturating_sub(pblk));
            let at = pblk.saturating_mul(bs);
            if meta > 0 {
                let kind = if extents {
                    OwnerKind::ExtentBlock
                } else {
                    OwnerKind::IndirectBlock
                };
                self.owners.push(kind, n, at, bs, 0);
                continue;
            }
            let logical = lblk.saturating_mul(bs);
            if uninit {
                self.owners
                    .push(OwnerKind::Unwritten, n, at, len.saturating_mul(bs), logical);
            } else if journal {
                self.own_journal_run(n, lblk, pblk, len, &live);
            } else if is_dir {
                self.owners
                    .push(OwnerKind::Directory, n, at, len.saturating_mul(bs), logical);
            } else {
                self.owners
                    .push(OwnerKind::FileData, n, at, len.saturating_mul(bs), logical);
            }
        }
    }

    /// One run of the journal inode, block by block (the map merges
    /// neighbours of one kind): its superblock (logical block 0), the live
    /// log's blocks that are never zeros, the rest of the live log, and
    /// the rest of the journal.
    fn own_journal_run(&mut self, n: u32, lblk: u64, pblk: u64, len: u64, live: &LiveLog) {
        let bs = self.fs.bs;
        for k in 0..len {
            let l = lblk.saturating_add(k);
            let kind = if l == 0 {
                OwnerKind::JournalSuperblock
            } else if live.nonzero.binary_search(&l).is_ok() {
                OwnerKind::JournalLog
            } else if live.ranges.iter().any(|&(a, b)| (a..b).contains(&l)) {
                OwnerKind::JournalLive
            } else {
                OwnerKind::Journal
            };
            let at = pblk.saturating_add(k).saturating_mul(bs);
            self.owners.push(kind, n, at, bs, l.saturating_mul(bs));
        }
    }

    /// An inode's extended-attribute block.
    pub(super) fn own_xattr(&mut self, ino: u32, blk: u64) {
        let bs = self.fs.bs;
        self.owners
            .push(OwnerKind::XattrBlock, ino, blk.saturating_mul(bs), bs, 0);
    }
}

/// The live log of a journal that needs recovery, in logical journal
/// blocks.
#[derive(Default)]
struct LiveLog {
    /// Blocks that never read as zeros, sorted.
    nonzero: Vec<u64>,
    /// `[start, end)` runs of the whole live log.
    ranges: Vec<(u64, u64)>,
}

/// The live log as the journal walk finds it from `s_start`: empty when
/// the journal needs no recovery. A journal loaded by a mount but never
/// written also has `s_start` 1, over zeros: nothing was logged, nothing
/// lost.
fn live_log(fs: &crate::fs::Ext4<'_>, runs: &[Run]) -> LiveLog {
    let mut log_runs: Vec<(u64, u64, u64)> = runs
        .iter()
        .filter(|r| r.4 == 0 && !r.3)
        .map(|r| (r.0, r.1, r.2))
        .collect();
    log_runs.sort_unstable();
    let Some(jsb) = log_runs
        .first()
        .filter(|r| r.0 == 0)
        .and_then(|r| fs.block(r.1).ok())
    else {
        return LiveLog::default();
    };
    let map = crate::journal::JournalMap { runs: log_runs };
    let w = crate::journal::walk(fs, &jsb, &map, false);
    let mut nonzero = w.nonzero;
    nonzero.sort_unstable();
    LiveLog {
        nonzero,
        ranges: w.live,
    }
}

/// `i_mtime` (0x10, signed seconds) with the epoch bits of
/// `i_mtime_extra` (0x88) when the inode's extra space holds it, as the
/// kernel's `ext4_decode_extra_time` reads them.
fn mtime(raw: &[u8]) -> i64 {
    use imgcheck_core::bytes::{le16, le32};
    let lo = i64::from(i32::from_ne_bytes(le32(raw, 0x10).to_ne_bytes()));
    let extra_isize = usize::from(le16(raw, 0x80));
    if raw.len() >= 0x8C && extra_isize.saturating_add(128) >= 0x8C {
        let epoch = i64::from(le32(raw, 0x88) & 3);
        return lo.saturating_add(epoch.checked_shl(32).unwrap_or(0));
    }
    lo
}

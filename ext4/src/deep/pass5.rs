//! Pass 5: the bitmaps and free counts on disk against what passes 1–4
//! found in use.

use super::{Deep, K_DIR};
use crate::bits::{low_bits, ones};
use crate::check::clusters_in_group;
use crate::gdt::bg_flags;
use crate::reads::Miss;
use imgcheck_core::bytes::{u8_at, u64_of, usize_of};

/// Bits `k..k + 64` of an on-disk bitmap block (little-endian bit order,
/// as ext4 writes them; 0 past its end). `k` is a multiple of 64.
fn bitmap_word(bm: &[u8], k: u64) -> u64 {
    let at = usize_of(k / 8);
    (0..8usize).fold(0u64, |w, i| {
        w | u64::from(u8_at(bm, at.saturating_add(i))) << (i.saturating_mul(8))
    })
}

impl Deep<'_, '_> {
    pub(super) fn pass5(&mut self) {
        let fs = self.fs;
        let sb = &fs.sb;
        // Bitmaps count clusters: a cluster is in use when any of its
        // blocks is (1 block per cluster without bigalloc).
        let r = self.ratio.max(1);
        let any = |bits: &crate::bits::Bits, b: u64| (0..r).any(|j| bits.get(b.saturating_add(j)));
        let csum = sb.has_group_desc_csum();
        let ipg = u64::from(sb.s_inodes_per_group);
        let mut total_free_b = 0u64;
        let mut total_free_i = 0u64;
        let mut diffs_b = (0u64, 0u64);
        let mut diffs_i = (0u64, 0u64);
        let mut first_b = Vec::new();
        let mut first_i = Vec::new();
        let (mut pending_b, mut pending_i) = (0u64, 0u64);
        // Some group was not wholly within the reader: the totals cover
        // only part of the filesystem.
        let mut partial = false;
        for (gi, gd) in fs.gds.iter().enumerate() {
            let g = u64_of(gi);
            let first = fs.group_first_block(g);
            let tracked = self.used.len();
            if first >= tracked {
                partial = true;
                break; // past the reader's end: reported as truncation
            }
            let nblk = clusters_in_group(fs, g);
            // A group the reader ends inside (a truncated filesystem): its
            // blocks past the end were never seen, in use or not, and the
            // inodes whose table lies there were never read; counted as
            // free they accused a sound bitmap and descriptor. The
            // truncation is the finding; this group's counts are unknown.
            let end = first
                .saturating_add(nblk.saturating_mul(r))
                .min(sb.s_blocks_count);
            if end > tracked {
                partial = true;
                continue;
            }
            // blocks
            // A bitmap the reader failed (logged) is compared with nothing:
            // the counts still are.
            let (disk, compare) = if csum && gd.bg_flags & bg_flags::BLOCK_UNINIT != 0 {
                (None, true)
            } else {
                match fs.block(gd.bg_block_bitmap) {
                    Ok(b) => (Some(b), true),
                    Err(Miss::Absent) => (None, true),
                    Err(Miss::Unreadable(_)) => (None, false),
                }
            };
            let mut free = 0u64;
            let mut held = 0u64;
            // One cluster per block (no bigalloc): a word of 64 at a time,
            // the same counts and first differences as the loop below.
            let word_wise = r == 1;
            let mut k = 0u64;
            while word_wise && k < nblk {
                let mask = low_bits(nblk.saturating_sub(k));
                let b = first.saturating_add(k);
                let used = self.used.word_at(b) & mask;
                let on_disk = match &disk {
                    Some(bm) => bitmap_word(bm, k) & mask,
                    None => self.meta.word_at(b) & mask,
                };
                free = free.saturating_add(u64::from((!used & mask).count_ones()));
                // Still allocated to an orphan that orphan processing frees.
                let held_m = !used & on_disk & self.orphan_held.word_at(b);
                held = held.saturating_add(u64::from(held_m.count_ones()));
                let diff = (used ^ on_disk) & !held_m;
                if compare && diff != 0 {
                    let plus = u64::from((diff & used).count_ones());
                    diffs_b.0 = diffs_b.0.saturating_add(plus);
                    diffs_b.1 = diffs_b
                        .1
                        .saturating_add(u64::from(diff.count_ones()).saturating_sub(plus));
                    for j in ones(diff).take(8usize.saturating_sub(first_b.len())) {
                        let sign = if used >> j & 1 == 1 { "+" } else { "-" };
                        first_b.push(format!("{sign}{}", b.saturating_add(j)));
                    }
                }
                k = k.saturating_add(64);
            }
            for k in (0..nblk).filter(|_| !word_wise) {
                let b = first.saturating_add(k.saturating_mul(r));
                let used = any(&self.used, b);
                if !used {
                    free = free.saturating_add(1);
                }
                let on_disk = match &disk {
                    Some(bm) => u8_at(bm, usize_of(k / 8)) >> (k % 8) & 1 == 1,
                    None => any(&self.meta, b),
                };
                // Still allocated to an orphan that orphan processing frees.
                if !used && on_disk && any(&self.orphan_held, b) {
                    held = held.saturating_add(1);
                    continue;
                }
                if compare && used != on_disk {
                    if used {
                        diffs_b.0 = diffs_b.0.saturating_add(1)
                    } else {
                        diffs_b.1 = diffs_b.1.saturating_add(1)
                    }
                    if first_b.len() < 8 {
                        first_b.push(format!("{}{b}", if used { "+" } else { "-" }));
                    }
                }
            }
            total_free_b = total_free_b.saturating_add(free);
            pending_b = pending_b.saturating_add(held);
            if free != u64::from(gd.bg_free_blocks_count)
                && free.saturating_sub(held) != u64::from(gd.bg_free_blocks_count)
            {
                self.error(
                    "ext4.group.free_blocks_count",
                    gd.offset,
                    format!(
                        "group {g}: descriptor says {} free blocks, {free} counted",
                        gd.bg_free_blocks_count
                    ),
                );
            }
            // inodes
            let (disk_i, compare_i) = if csum && gd.bg_flags & bg_flags::INODE_UNINIT != 0 {
                (None, true)
            } else {
                match fs.block(gd.bg_inode_bitmap) {
                    Ok(b) => (Some(b), true),
                    Err(Miss::Absent) => (None, true),
                    Err(Miss::Unreadable(_)) => (None, false),
                }
            };
            let mut free_i = 0u64;
            let mut held_i = 0u64;
            let mut dirs = 0u64;
            let first_ino = u64::from(sb.first_ino());
            let mut k = 0u64;
            while k < ipg {
                let mask = low_bits(ipg.saturating_sub(k));
                let ino0 = g.saturating_mul(ipg).saturating_add(k).saturating_add(1);
                let in_use = self.inode_used.word_at(ino0) & mask;
                // The reserved inodes below s_first_ino count as used.
                let used = in_use | (low_bits(first_ino.saturating_sub(ino0)) & mask);
                free_i = free_i.saturating_add(u64::from((!used & mask).count_ones()));
                for j in ones(in_use) {
                    let ino = ino0.saturating_add(j);
                    if self.kind.get(usize_of(ino)).copied() == Some(K_DIR) {
                        dirs = dirs.saturating_add(1);
                    }
                }
                let on_disk = match &disk_i {
                    Some(bm) => bitmap_word(bm, k) & mask,
                    None => 0,
                };
                let mut held_m = 0u64;
                for j in ones(!used & on_disk) {
                    let ino = ino0.saturating_add(j);
                    if u32::try_from(ino).is_ok_and(|i| self.orphan_delete.contains_key(&i)) {
                        held_m |= 1 << j;
                    }
                }
                held_i = held_i.saturating_add(u64::from(held_m.count_ones()));
                let diff = (used ^ on_disk) & !held_m;
                if compare_i && diff != 0 {
                    let plus = u64::from((diff & used).count_ones());
                    diffs_i.0 = diffs_i.0.saturating_add(plus);
                    diffs_i.1 = diffs_i
                        .1
                        .saturating_add(u64::from(diff.count_ones()).saturating_sub(plus));
                    for j in ones(diff).take(8usize.saturating_sub(first_i.len())) {
                        let sign = if used >> j & 1 == 1 { "+" } else { "-" };
                        first_i.push(format!("{sign}{}", ino0.saturating_add(j)));
                    }
                }
                k = k.saturating_add(64);
            }
            total_free_i = total_free_i.saturating_add(free_i);
            pending_i = pending_i.saturating_add(held_i);
            if free_i != u64::from(gd.bg_free_inodes_count)
                && free_i.saturating_sub(held_i) != u64::from(gd.bg_free_inodes_count)
            {
                self.error(
                    "ext4.group.free_inodes_count",
                    gd.offset,
                    format!(
                        "group {g}: descriptor says {} free inodes, {free_i} counted",
                        gd.bg_free_inodes_count
                    ),
                );
            }
            if dirs != u64::from(gd.bg_used_dirs_count) {
                self.error(
                    "ext4.group.used_dirs_count",
                    gd.offset,
                    format!(
                        "group {g}: descriptor says {} directories, {dirs} counted",
                        gd.bg_used_dirs_count
                    ),
                );
            }
        }
        if diffs_b != (0, 0) {
            self.error("ext4.bitmap.block_differences", 1024, format!("block bitmaps differ from the blocks in use: {} used but marked free, {} marked used but free (first: {})", diffs_b.0, diffs_b.1, first_b.join(" ")));
        }
        if diffs_i != (0, 0) {
            self.error("ext4.bitmap.inode_differences", 1024, format!("inode bitmaps differ from the inodes in use: {} used but marked free, {} marked used but free (first: {})", diffs_i.0, diffs_i.1, first_i.join(" ")));
        }
        self.orphan_pending(pending_b, pending_i);
        // The kernel keeps the superblock's totals lazily while mounted:
        // on a filesystem not cleanly unmounted they are stale by design.
        let clean = sb.s_state & 1 != 0 && !sb.has_incompat(crate::superblock::incompat::RECOVER);
        let sev = if clean {
            imgcheck_core::Severity::Warning
        } else {
            imgcheck_core::Severity::Info
        };
        // The superblock counts blocks, the descriptors clusters; blocks
        // only orphans hold are still in use for the kernel's count.
        let total_free_b = total_free_b.saturating_mul(r);
        let orphan_free_b = total_free_b.saturating_sub(pending_b.saturating_mul(r));
        let total_free_b = if sb.s_free_blocks_count == orphan_free_b {
            orphan_free_b
        } else {
            total_free_b
        };
        let total_free_i =
            if u64::from(sb.s_free_inodes_count) == total_free_i.saturating_sub(pending_i) {
                total_free_i.saturating_sub(pending_i)
            } else {
                total_free_i
            };
        if partial {
            return;
        }
        if total_free_b != sb.s_free_blocks_count {
            self.push(
                sev,
                "ext4.superblock.free_blocks_wrong",
                1024,
                format!(
                    "superblock says {} free blocks, {total_free_b} counted",
                    sb.s_free_blocks_count
                ),
            );
        }
        if total_free_i != u64::from(sb.s_free_inodes_count) {
            self.push(
                sev,
                "ext4.superblock.free_inodes_wrong",
                1024,
                format!(
                    "superblock says {} free inodes, {total_free_i} counted",
                    sb.s_free_inodes_count
                ),
            );
        }
    }

    /// What orphan processing will do, once the passes know which blocks
    /// and inodes only orphans still hold.
    fn orphan_pending(&mut self, blocks: u64, inodes: u64) {
        let del = self.orphan_delete.len();
        let trunc = self.orphan_truncate.len();
        if del == 0 && trunc == 0 {
            return;
        }
        let mut parts = Vec::new();
        if del > 0 {
            parts.push(format!("delete {del} inode(s) no directory names any more, freeing {inodes} inode(s) and {blocks} block(s) still marked in use"));
        }
        if trunc > 0 {
            parts.push(format!(
                "truncate {trunc} inode(s) to their size, freeing the {} block run(s) past it",
                self.pending_past_eof
            ));
        }
        self.push(
            imgcheck_core::Severity::Warning,
            "ext4.orphan.processing_pending",
            1024 + 0xE8,
            format!("orphan processing is pending: it will {} (the next read-write mount or e2fsck -p does it)", parts.join(", and ")),
        );
    }
}

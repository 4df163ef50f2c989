//! Group descriptors: locations of bitmaps and inode tables, overlaps,
//! checksums, uninit flags and free counts against the superblock.

use super::{Ctx, VALID_FS};
use crate::gdt::bg_flags;
use crate::superblock::incompat;
use imgcheck_core::bytes::u64_of;

pub(super) fn group_descriptors(c: &mut Ctx<'_, '_>) {
    let fs = c.fs;
    let sb = &fs.sb;
    let flex = sb.has_incompat(incompat::FLEX_BG);
    let csum = sb.has_group_desc_csum();
    let itb = fs.itable_blocks();
    let ipg = sb.s_inodes_per_group;
    let bpg = sb.s_blocks_per_group;
    let last = fs.groups.saturating_sub(1);
    let mut sum_free_b = 0u64;
    let mut sum_free_i = 0u64;
    // Metadata ownership map, as bits: overlapping metadata is found here
    // in O(groups × inode-table blocks).
    let nblocks = sb.s_blocks_count;
    let tracked = fs.tracked_blocks();
    let mut meta = crate::bits::Bits::new(tracked);
    for g in 0..fs.groups {
        let (first, n) = fs.group_super_gdt(g);
        for b in first.min(tracked)..first.saturating_add(n).min(tracked) {
            meta.set(b);
        }
    }
    for (gi, gd) in fs.gds.iter().enumerate() {
        let g = u64_of(gi);
        let (lo, hi) = if flex {
            (u64::from(sb.s_first_data_block), nblocks.saturating_sub(1))
        } else {
            (fs.group_first_block(g), fs.group_last_block(g))
        };
        let off = gd.offset;
        for (name, code, blk, len) in [
            (
                "block bitmap",
                "ext4.group.block_bitmap_location",
                gd.bg_block_bitmap,
                1u64,
            ),
            (
                "inode bitmap",
                "ext4.group.inode_bitmap_location",
                gd.bg_inode_bitmap,
                1,
            ),
            (
                "inode table",
                "ext4.group.inode_table_location",
                gd.bg_inode_table,
                itb,
            ),
        ] {
            let end = blk.saturating_add(len).saturating_sub(1);
            if blk < lo || end > hi {
                c.error(code, off, format!("group {g}: {name} at block {blk} (length {len}) lies outside {}{lo}..={hi}", if flex { "the filesystem " } else { "its group " }));
                continue;
            }
            let mut clash = false;
            for b in blk.min(tracked)..end.saturating_add(1).min(tracked) {
                if meta.get(b) {
                    clash = true;
                }
                meta.set(b);
            }
            if clash {
                c.error("ext4.group.metadata_overlap", off, format!("group {g}: {name} at block {blk} (length {len}) overlaps other filesystem metadata"));
            }
        }
        if let Some(want) = gd.computed_checksum
            && want != gd.bg_checksum
        {
            c.error(
                "ext4.group.checksum",
                off,
                format!(
                    "group {g}: descriptor checksum is {:#06x}, computed {want:#06x}",
                    gd.bg_checksum
                ),
            );
        }
        if !csum
            && (gd.bg_flags & (bg_flags::BLOCK_UNINIT | bg_flags::INODE_UNINIT) != 0
                || gd.bg_itable_unused != 0)
        {
            c.error("ext4.group.uninit_without_csum", off, format!("group {g}: flags {:#x} / itable_unused {} are set but the filesystem has neither uninit_bg nor metadata_csum", gd.bg_flags, gd.bg_itable_unused));
        }
        if g == last && gd.bg_flags & bg_flags::BLOCK_UNINIT != 0 {
            c.error(
                "ext4.group.last_block_uninit",
                off,
                format!("group {g} is the last group and has BLOCK_UNINIT set"),
            );
        }
        if csum && (gd.bg_itable_unused > gd.bg_free_inodes_count || gd.bg_itable_unused > ipg) {
            c.error("ext4.group.itable_unused", off, format!("group {g}: bg_itable_unused {} exceeds free inodes {} (or inodes per group {ipg})", gd.bg_itable_unused, gd.bg_free_inodes_count));
        }
        if gd.bg_free_blocks_count > bpg
            || gd.bg_free_inodes_count > ipg
            || gd.bg_used_dirs_count > ipg
        {
            c.error("ext4.group.counts", off, format!("group {g}: free blocks {}, free inodes {}, directories {} exceed the group size ({bpg} blocks, {ipg} inodes)", gd.bg_free_blocks_count, gd.bg_free_inodes_count, gd.bg_used_dirs_count));
        }
        sum_free_b = sum_free_b.saturating_add(u64::from(gd.bg_free_blocks_count));
        sum_free_i = sum_free_i.saturating_add(u64::from(gd.bg_free_inodes_count));
    }
    if u64_of(fs.gds.len()) == fs.groups {
        let ratio = 1u64
            << sb
                .s_log_cluster_size
                .saturating_sub(sb.s_log_block_size)
                .min(29);
        let sum_b = sum_free_b.saturating_mul(ratio);
        if sum_b != sb.s_free_blocks_count || sum_free_i != u64::from(sb.s_free_inodes_count) {
            // The kernel keeps the superblock totals lazily while mounted
            // and writes them at a clean unmount: stale totals matter only
            // on a filesystem that claims to be clean.
            let clean = sb.s_state & VALID_FS != 0 && !sb.has_incompat(incompat::RECOVER);
            let msg = format!(
                "superblock free counts ({} blocks, {} inodes) differ from the sum over group descriptors ({sum_b} blocks, {sum_free_i} inodes)",
                sb.s_free_blocks_count, sb.s_free_inodes_count
            );
            if clean {
                c.warning(
                    "ext4.superblock.free_counts_stale",
                    c.sb_at().saturating_add(0xC),
                    msg,
                );
            } else {
                c.info(
                    "ext4.superblock.free_counts_stale",
                    c.sb_at().saturating_add(0xC),
                    msg,
                );
            }
        }
    }
}

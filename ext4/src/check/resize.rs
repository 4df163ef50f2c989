//! The resize inode and the reserved GDT blocks it maps.

use super::{Ctx, SB, special_inode_csum};
use crate::superblock::{compat, incompat};
use imgcheck_core::bytes::{le32, usize_of};

pub(super) fn resize_inode(c: &mut Ctx<'_, '_>) {
    let fs = c.fs;
    let sb = &fs.sb;
    let Some(ri) = fs.read_inode(7) else { return };
    if !sb.has_compat(compat::RESIZE_INODE) {
        if sb.s_reserved_gdt_blocks != 0 && !sb.has_incompat(incompat::META_BG) {
            c.error(
                "ext4.resize.reserved_gdt_without_feature",
                SB.saturating_add(0xCE),
                format!(
                    "s_reserved_gdt_blocks is {} but resize_inode is not set",
                    sb.s_reserved_gdt_blocks
                ),
            );
        }
        if ri.i_block.iter().any(|&b| b != 0) {
            c.error(
                "ext4.resize.inode_without_feature",
                ri.offset,
                "resize inode 7 has blocks but resize_inode is not set".to_string(),
            );
        }
        return;
    }
    let dind = u64::from(le32(&ri.i_block, 13 * 4));
    let others = (0..15usize)
        .filter(|&i| i != 13)
        .any(|i| le32(&ri.i_block, i.saturating_mul(4)) != 0);
    if dind == 0 || others || dind >= sb.s_blocks_count || ri.i_links_count == 0 || !ri.is_reg() {
        c.error(
            "ext4.resize.invalid",
            ri.offset,
            format!(
                "resize inode 7 is invalid (mode {:#o}, links {}, double-indirect block {dind}{})",
                ri.i_mode,
                ri.i_links_count,
                if others {
                    ", other block pointers set"
                } else {
                    ""
                }
            ),
        );
        return;
    }
    special_inode_csum(c, &ri, "resize inode");
    if sb.has_incompat(incompat::META_BG) {
        return;
    }
    let Some(d) = fs.read_block(dind) else { return };
    let ppb = fs.bs / 4;
    let desc_blocks = fs.desc_blocks();
    let fdb = u64::from(sb.s_first_data_block);
    for i in 0..u64::from(sb.s_reserved_gdt_blocks) {
        let slot = desc_blocks.saturating_add(i).checked_rem(ppb).unwrap_or(0);
        let want = fdb
            .saturating_add(1)
            .saturating_add(desc_blocks)
            .saturating_add(i);
        let got = u64::from(le32(&d, usize_of(slot.saturating_mul(4))));
        if got != want {
            c.error("ext4.resize.invalid", fs.block_offset(dind).unwrap_or(0), format!("resize inode's double-indirect block {dind} slot {slot} holds {got}, expected reserved GDT block {want}"));
            return;
        }
    }
}

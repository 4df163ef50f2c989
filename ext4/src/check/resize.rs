//! The resize inode and the reserved GDT blocks it maps.

use super::{Ctx, special_inode_csum};
use crate::superblock::{compat, incompat};
use imgcheck_core::bytes::{le32, usize_of};

pub(super) fn resize_inode(c: &mut Ctx<'_, '_>) {
    let fs = c.fs;
    let sb = &fs.sb;
    let Some(ri) = fs.read_inode(7) else { return };
    if !sb.has_compat(compat::RESIZE_INODE) {
        if sb.s_reserved_gdt_blocks != 0 {
            c.error(
                "ext4.resize.reserved_gdt_without_feature",
                c.sb_at().saturating_add(0xCE),
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
        c.error("ext4.resize.with_meta_bg", c.sb_at().saturating_add(0x5C), "resize_inode and meta_bg are both set: they describe the growth room in incompatible ways (e2fsck clears resize_inode)".to_string());
        return;
    }
    let Some(d) = fs.read_block(dind) else { return };
    let Some(ppb) = usize::try_from(fs.bs / 4).ok().filter(|&p| p > 0) else {
        return;
    };
    let desc_blocks = usize_of(fs.desc_blocks());
    let fdb = u64::from(sb.s_first_data_block);
    let mut pblk = fdb
        .saturating_add(1)
        .saturating_add(fs.desc_blocks())
        .saturating_add(u64::from(fs.bs == 1024 && fdb == 0));
    let backups: Vec<u64> = (1..fs.groups).filter(|&g| sb.group_has_super(g)).collect();
    let reserved = usize::from(sb.s_reserved_gdt_blocks);
    // e2fsck's check_resize_inode checks the first quarter of the reserved
    // GDT blocks (its loop runs to s_reserved_gdt_blocks / 4); a mistake
    // past that stops only an online resize (the kernel's
    // verify_reserved_gdb refuses it).
    let checked = reserved / 4;
    for i in 0..reserved {
        let slot = desc_blocks.saturating_add(i).checked_rem(ppb).unwrap_or(0);
        let got = u64::from(le32(&d, slot.saturating_mul(4)));
        let problem = if got != pblk {
            Some(format!(
                "its double-indirect block {dind} slot {slot} holds {got}, expected reserved GDT block {pblk}"
            ))
        } else if let Some(ind) = fs.read_block(pblk) {
            backups.iter().enumerate().find_map(|(k, &g)| {
                let want = pblk.saturating_add(g.saturating_mul(fs.bpg()));
                let have = u64::from(le32(&ind, k.saturating_mul(4)));
                (have != want).then(|| format!("reserved GDT block {pblk} lists backup {have} for group {g}, expected {want}"))
            })
        } else {
            None
        };
        if let Some(why) = problem {
            let off = fs.block_offset(dind).unwrap_or(0);
            if i < checked {
                c.error(
                    "ext4.resize.invalid",
                    off,
                    format!("resize inode 7 is invalid: {why}"),
                );
            } else {
                c.info("ext4.resize.layout", off, format!("resize inode 7: {why}; e2fsck does not check this far, an online resize (resize2fs on a mounted filesystem) would refuse"));
            }
            return;
        }
        pblk = pblk.saturating_add(1);
    }
}

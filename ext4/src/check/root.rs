//! The root directory inode: in use, a directory, with `.` first.

use super::{Ctx, SB, special_inode_csum};
use crate::blockmap::MapEvent;
use imgcheck_core::bytes::{bytes, le32, u8_at};

pub(super) fn root_inode(c: &mut Ctx<'_, '_>) {
    let Some(root) = c.fs.read_inode(2) else {
        c.error("ext4.root.unreadable", SB, "the root inode (2) cannot be read: its group's inode table is missing or outside the image".to_string());
        return;
    };
    if root.i_links_count == 0 || root.i_mode == 0 {
        c.error(
            "ext4.root.not_in_use",
            root.offset,
            format!(
                "root inode 2 is not in use (links {}, mode {:#o})",
                root.i_links_count, root.i_mode
            ),
        );
        return;
    }
    if !root.is_dir() {
        c.error(
            "ext4.root.not_directory",
            root.offset,
            format!("root inode 2 is not a directory (mode {:#o})", root.i_mode),
        );
    }
    if root.i_dtime != 0 {
        c.error(
            "ext4.root.deleted",
            root.offset,
            format!("root inode 2 has a deletion time ({})", root.i_dtime),
        );
    }
    special_inode_csum(c, &root, "root directory");
    let mut probs = Vec::new();
    let mut first = None;
    c.fs.map_file(
        &root,
        &mut |e| {
            if let MapEvent::Data { lblk: 0, pblk, .. } = e {
                first = Some(pblk);
            }
        },
        Some(&mut probs),
    );
    c.out.extend(probs);
    if root.is_dir() && root.i_flags & crate::inode::INLINE_DATA_FL == 0 {
        match first.and_then(|b| c.fs.read_block(b)) {
            None => c.error(
                "ext4.root.no_block",
                root.offset,
                "root directory has no readable first block".to_string(),
            ),
            Some(b) => {
                let ino0 = le32(&b, 0);
                let nl = u8_at(&b, 6);
                let name = bytes(&b, 8, 1);
                if ino0 != 2 || nl != 1 || name != b"." {
                    c.error("ext4.root.no_dot", root.offset, format!("root directory's first entry is not '.' pointing at 2 (inode {ino0}, name length {nl})"));
                }
            }
        }
    }
}

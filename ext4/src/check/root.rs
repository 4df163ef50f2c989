//! The root directory inode: in use, a directory, with `.` first.

use super::{Ctx, special_inode_csum};
use crate::blockmap::MapEvent;
use crate::reads::Miss;
use imgcheck_core::bytes::{bytes, le32, u8_at};

pub(super) fn root_inode(c: &mut Ctx<'_, '_>) {
    let root = match c.fs.inode(2) {
        Ok(r) => r,
        Err(Miss::Absent) => {
            c.error("ext4.root.unreadable", c.sb_at(), "the root inode (2) cannot be read: its group's inode table is missing or outside the image".to_string());
            return;
        }
        // Logged as ext4.read.unreadable, with its cause.
        Err(Miss::Unreadable(_)) => return,
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
    let failed = c.fs.failed_reads();
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
    // A mapping block that could not be read hides where block 0 is: not
    // evidence that there is none.
    let map_complete = c.fs.failed_reads() == failed;
    if root.is_dir() && root.i_flags & crate::inode::INLINE_DATA_FL == 0 {
        match first.map(|b| c.fs.block(b)) {
            Some(Err(Miss::Unreadable(_))) => {}
            None if !map_complete => {}
            None | Some(Err(Miss::Absent)) => c.error(
                "ext4.root.no_block",
                root.offset,
                "root directory has no readable first block".to_string(),
            ),
            Some(Ok(b)) => {
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

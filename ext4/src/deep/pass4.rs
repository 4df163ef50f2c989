//! Pass 4: link counts against the references counted in pass 2.

use super::{Deep, K_DIR, K_NONE};
use crate::inode::EA_INODE_FL;
use crate::superblock::ro_compat;
use std::collections::HashMap;

impl Deep<'_, '_> {
    pub(super) fn pass4(&mut self) {
        let sb = &self.fs.sb;
        let dir_nlink = sb.has_ro_compat(ro_compat::DIR_NLINK);
        // Subdirectories add one link each to their parent ('..').
        let mut extra: HashMap<u32, u32> = HashMap::new();
        for (&d, &dd) in &self.dotdot {
            if d != 2 || dd != 2 {
                *extra.entry(dd).or_insert(0) =
                    extra.get(&dd).copied().unwrap_or(0).saturating_add(1);
            }
        }
        let first = sb.first_ino();
        let n = self.kind.len();
        for i in 1..n {
            let Ok(ino) = u32::try_from(i) else { break };
            if !self.inode_used.get(u64::from(ino))
                || (ino < first && ino != 2)
                || self.special.contains(&ino)
            {
                continue;
            }
            let kind = self.kind.get(i).copied().unwrap_or(K_NONE);
            let disk = u32::from(self.links_disk.get(i).copied().unwrap_or(0));
            let mut counted = u32::from(self.refs.get(i).copied().unwrap_or(0));
            if kind == K_DIR {
                counted = counted
                    .saturating_add(1)
                    .saturating_add(extra.get(&ino).copied().unwrap_or(0));
                if ino == 2 {
                    counted = counted.saturating_add(1);
                }
                if dir_nlink && disk == 1 && counted >= 2 {
                    continue;
                }
            }
            if self.refs.get(i).copied().unwrap_or(0) == 0 && ino != 2 {
                if kind == K_DIR {
                    continue; // reported by pass 3
                }
                // EA inodes are referenced from xattrs, not directories.
                if let Some(inode) = self.fs.read_inode(ino)
                    && inode.i_flags & EA_INODE_FL != 0
                {
                    continue;
                }
                self.error(
                    "ext4.inode.unattached",
                    self.fs.inode_offset(ino).unwrap_or(0),
                    format!("inode {ino} is in use (links {disk}) but no directory entry names it"),
                );
                continue;
            }
            if counted != disk {
                self.error("ext4.inode.link_count", self.fs.inode_offset(ino).unwrap_or(0), format!("inode {ino} has i_links_count {disk}, but {counted} references were counted"));
            }
        }
    }
}

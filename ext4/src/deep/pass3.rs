//! Pass 3: every directory reachable from the root, `..` agreeing with
//! the entry naming it, lost+found.

use super::{Deep, K_DIR};
use imgcheck_core::bytes::u64_of;
use imgcheck_core::{Finding, Layer, Space};
use std::collections::HashMap;

impl Deep<'_, '_> {
    pub(super) fn pass3(&mut self) {
        let root_ok = self.inode_used.get(2) && self.kind.get(2).copied() == Some(K_DIR);
        if !root_ok {
            self.error(
                "ext4.root.missing",
                1024,
                "the root directory (inode 2) is not an in-use directory".to_string(),
            );
            return;
        }
        let mut dirs: Vec<u32> = (0..self.kind.len())
            .filter(|&i| self.kind.get(i).copied() == Some(K_DIR) && self.inode_used.get(u64_of(i)))
            .filter_map(|i| u32::try_from(i).ok())
            .collect();
        dirs.sort_unstable();
        let ndirs = dirs.len();
        let mut reachable: HashMap<u32, bool> = HashMap::new();
        reachable.insert(2, true);
        for &d in &dirs {
            if d == 2 {
                if let Some(&dd) = self.dotdot.get(&2)
                    && dd != 2
                {
                    self.error(
                        "ext4.dir.bad_dotdot",
                        1024,
                        format!("root directory's '..' is {dd}, expected 2"),
                    );
                }
                continue;
            }
            // Walk up the parent chain, bounded by the number of directories.
            // Only the top of a detached subtree (or one member of a loop)
            // is reported, as e2fsck reconnects just that one.
            let mut path = Vec::new();
            let mut on_path = std::collections::HashSet::new();
            let mut cur = d;
            let mut ok = false;
            let mut top: Option<(u32, bool)> = None; // (dir, is a loop)
            for _ in 0..=ndirs {
                if let Some(&r) = reachable.get(&cur) {
                    ok = r;
                    break;
                }
                if !on_path.insert(cur) {
                    top = Some((cur, true));
                    break;
                }
                path.push(cur);
                match self.found_in.get(&cur) {
                    Some(&p) => cur = p,
                    None => {
                        top = Some((cur, false));
                        break;
                    }
                }
            }
            for &x in &path {
                reachable.insert(x, ok);
            }
            if let (false, Some((t, looped))) = (ok, top) {
                let off = self.fs.inode_offset(t).unwrap_or(1024);
                let (code, why) = if looped {
                    ("ext4.dir.loop", " (its parents form a loop)")
                } else {
                    self.owners.unattached(t);
                    ("ext4.dir.unconnected", " (no directory entry names it)")
                };
                self.error(
                    code,
                    off,
                    format!("directory inode {t} is not reachable from the root{why}"),
                );
            }
            let parent = self.found_in.get(&d).copied();
            let dd = self.dotdot.get(&d).copied();
            if let (Some(p), Some(dd)) = (parent, dd)
                && p != dd
            {
                self.error(
                    "ext4.dir.bad_dotdot",
                    self.fs.inode_offset(d).unwrap_or(1024),
                    format!("directory inode {d}: '..' is {dd}, but it is named in directory {p}"),
                );
            }
        }
        match self.lost_found {
            // e2fsck -n is silent about this; the next e2fsck -y creates it.
            None => self.out.push(Finding::info(
                "ext4.lost_found.missing",
                Layer::EXT4,
                1024,
                Space::Disk,
                "the root directory has no lost+found".to_string(),
            )),
            Some(0) => self.error(
                "ext4.lost_found.not_directory",
                1024,
                "/lost+found is not a directory".to_string(),
            ),
            Some(_) => {}
        }
    }
}

//! Pass 4: link counts against the references counted in pass 2.

use super::{Deep, K_DIR, K_NONE};
use crate::bits::ones;
use crate::superblock::ro_compat;
use imgcheck_core::bytes::{le32, u64_of, usize_of};
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
        // The inodes in use, a bitmap word at a time, in increasing order:
        // the cost follows the inodes in use, not those the filesystem has.
        'words: for w in 0..self.inode_used.word_count() {
            let word = self.inode_used.word(w);
            for i in ones(word).map(|j| usize_of(u64_of(w).saturating_mul(64).saturating_add(j))) {
                if i == 0 || i >= n {
                    continue;
                }
                let Ok(ino) = u32::try_from(i) else {
                    break 'words;
                };
                if (ino < first && ino != 2) || self.special.contains(&ino) {
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
                let dir_refs = self.refs.get(i).copied().unwrap_or(0);
                let ea = self.ea_inode_refs.get(&ino).copied();
                if dir_refs == 0 && ino != 2 {
                    if kind == K_DIR {
                        continue; // reported by pass 3
                    }
                    // EA inodes are referenced from xattrs, not directories:
                    // their stored count must match those references.
                    if let Some(Some(refs)) = ea {
                        self.ea_inode_refcount(ino, refs);
                        if disk != 1 {
                            self.error(
                                "ext4.inode.link_count",
                                self.fs.inode_offset(ino).unwrap_or(0),
                                format!("EA inode {ino} has i_links_count {disk}, expected 1"),
                            );
                        }
                        continue;
                    }
                    self.owners.unattached(ino);
                    self.error(
                        "ext4.inode.unattached",
                        self.fs.inode_offset(ino).unwrap_or(0),
                        format!(
                            "inode {ino} is in use (links {disk}) but no directory entry names it"
                        ),
                    );
                    continue;
                }
                if ea == Some(None) {
                    self.error("ext4.inode.ea_inode_spurious", self.fs.inode_offset(ino).unwrap_or(0), format!("inode {ino} is a file in the directory tree but has the EA_INODE flag, and no attribute refers to it"));
                }
                if counted != disk {
                    self.error("ext4.inode.link_count", self.fs.inode_offset(ino).unwrap_or(0), format!("inode {ino} has i_links_count {disk}, but {counted} references were counted"));
                }
            }
        }
    }

    /// An EA inode's stored reference count (i_ctime high, l_i_version low)
    /// against the attributes that refer to it (PR_4_EA_INODE_REF_COUNT);
    /// an old Lustre-style EA inode (ctime == atime) keeps none.
    fn ea_inode_refcount(&mut self, ino: u32, refs: u64) {
        let Some(i) = self.fs.read_inode(ino) else {
            return;
        };
        let ctime = le32(&i.raw, 0x0C);
        let stored = (u64::from(ctime) << 32) | u64::from(le32(&i.raw, 0x24));
        if stored != refs && ctime != le32(&i.raw, 0x08) {
            self.error("ext4.inode.ea_inode_refcount", i.offset, format!("EA inode {ino} stores reference count {stored}, but {refs} attribute(s) refer to it"));
        }
    }
}

//! Orphans awaiting processing: the list from `s_last_orphan` through
//! `i_dtime` and the orphan file's slots. The next read-write mount (or
//! e2fsck -p) deletes those without links and truncates the rest to
//! their size; until then their blocks and inodes stay allocated and
//! their sizes lag behind their blocks. The passes use these sets to say
//! what recovery will do instead of calling it damage.

use super::Deep;
use crate::bits::Bits;
use crate::blockmap::MapEvent;
use crate::inode::Inode;
use crate::superblock::compat;
use imgcheck_core::bytes::{le32, usize_of};

/// `s_state` ERROR_FS: orphan processing is skipped (the kernel clears the
/// list, e2fsck leaves it to the full check).
const ERROR_FS: u16 = 2;
/// Orphans followed at most.
const MAX_ORPHANS: u32 = 1 << 16;
/// Orphan-file blocks read at most.
const MAX_ORPHAN_FILE_BLOCKS: usize = 1 << 12;

impl Deep<'_, '_> {
    /// Collects the pending orphans (none on a filesystem with errors:
    /// nothing will process them).
    pub(super) fn find_orphans(&mut self) {
        let fs = self.fs;
        let sb = &fs.sb;
        if sb.s_state & ERROR_FS != 0 {
            return;
        }
        let first = sb.first_ino();
        let mut ino = sb.s_last_orphan;
        let mut idx = 0u32;
        while ino != 0 && idx < MAX_ORPHANS {
            if ino < first || ino > sb.s_inodes_count {
                break;
            }
            if self.orphan_delete.contains_key(&ino) || self.orphan_truncate.contains_key(&ino) {
                break; // a loop
            }
            let Some(i) = fs.read_inode(ino) else { break };
            self.add_orphan(&i, idx);
            idx = idx.saturating_add(1);
            ino = i.i_dtime;
        }
        if sb.has_compat(compat::ORPHAN_FILE) && sb.s_orphan_file_inum != 0 {
            self.orphan_file_entries(idx);
        }
    }

    fn add_orphan(&mut self, i: &Inode, idx: u32) {
        if i.i_links_count == 0 {
            self.orphan_delete.insert(i.ino, idx);
        } else {
            self.orphan_truncate.insert(i.ino, idx);
        }
    }

    fn orphan_file_entries(&mut self, mut idx: u32) {
        let fs = self.fs;
        let sb = &fs.sb;
        let Some(oi) = fs.read_inode(sb.s_orphan_file_inum) else {
            return;
        };
        let mut blocks = Vec::new();
        fs.map_file(
            &oi,
            &mut |e| {
                if let MapEvent::Data { pblk, len, .. } = e {
                    for k in 0..len {
                        if blocks.len() < MAX_ORPHAN_FILE_BLOCKS {
                            blocks.push(pblk.saturating_add(k));
                        }
                    }
                }
            },
            None,
        );
        let per = usize_of(fs.bs.saturating_sub(8) / 4);
        for pblk in blocks {
            let Some(b) = fs.read_block(pblk) else {
                continue;
            };
            if le32(&b, b.len().saturating_sub(8)) != 0x0B10_CA04 {
                continue;
            }
            for k in 0..per {
                let ino = le32(&b, k.saturating_mul(4));
                if ino < sb.first_ino() || ino > sb.s_inodes_count || idx >= MAX_ORPHANS {
                    continue;
                }
                if let Some(i) = fs.read_inode(ino) {
                    self.add_orphan(&i, idx);
                    idx = idx.saturating_add(1);
                }
            }
        }
    }

    /// The blocks a pending-delete orphan still holds: allocated in the
    /// bitmap until orphan processing frees them.
    pub(super) fn orphan_blocks(&mut self, ino: &Inode) {
        if self.orphan_held.len() == 0 {
            self.orphan_held = Bits::new(self.used.len());
        }
        let held = &mut self.orphan_held;
        self.fs.map_file(
            ino,
            &mut |e| match e {
                MapEvent::Data { pblk, len, .. } => {
                    for b in pblk..pblk.saturating_add(len.min(1 << 24)) {
                        held.set(b);
                    }
                }
                MapEvent::Meta { pblk, .. } => {
                    held.set(pblk);
                }
            },
            None,
        );
        if ino.i_file_acl != 0 {
            held.set(ino.i_file_acl);
        }
    }
}

//! Pass 1b: blocks claimed twice, or claimed by a file although they hold
//! filesystem metadata.

use super::Deep;
use crate::bits::Bits;

impl Deep<'_, '_> {
    /// Claims `len` blocks at `pblk` for inode `ino`.
    pub(super) fn claim(&mut self, ino: u32, pblk: u64, len: u64, off: u64) {
        let nb = self.used.len();
        let mut meta_hit = None;
        let mut dup_hit = 0u64;
        for b in pblk..pblk.saturating_add(len).min(nb) {
            if self.meta.get(b) {
                meta_hit.get_or_insert(b);
            } else if self.used.set(b) {
                if self.dup.len() == 0 {
                    self.dup = Bits::new(nb);
                }
                self.dup.set(b);
                dup_hit = dup_hit.saturating_add(1);
            }
        }
        if let Some(b) = meta_hit {
            self.error("ext4.block.claims_metadata", off, format!("inode {ino} claims block {b}, which holds filesystem metadata (superblock, group descriptors, bitmap or inode table)"));
        }
        if dup_hit > 0 {
            self.dup_count = self.dup_count.saturating_add(dup_hit);
            if self.dup_inodes.len() < 64 && !self.dup_inodes.contains(&ino) {
                self.dup_inodes.push(ino);
            }
        }
    }
}

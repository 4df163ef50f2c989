//! Pass 1b: blocks claimed twice, or claimed by a file although they hold
//! filesystem metadata.

use super::Deep;
use crate::bits::Bits;
use crate::superblock::ro_compat;

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

    /// Reports the blocks claimed more than once, with the inodes
    /// involved (e2fsck's pass 1b lists every owner; this names the first
    /// 64 inodes).
    pub(super) fn duplicates(&mut self) {
        if self.dup_count > 0 && !self.fs.sb.has_ro_compat(ro_compat::SHARED_BLOCKS) {
            let list: Vec<String> = self.dup_inodes.iter().map(u32::to_string).collect();
            self.error(
                "ext4.block.multiply_claimed",
                1024,
                format!(
                    "{} block(s) are claimed by more than one owner; inodes involved: {}",
                    self.dup_count,
                    list.join(", ")
                ),
            );
        }
    }
}

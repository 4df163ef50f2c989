//! The reserved inodes (1–10 and the orphan file), as e2fsck's pass 1
//! treats them: the bad-blocks inode, the journal inode, quota inodes,
//! the orphan file, and the rest, each with the mode it may have, cleared
//! when its feature is off, its blocks checked like any file's. The
//! resize inode (7) maps the reserved GDT blocks: pass 0's layout rules
//! are in `check::resize`, its walk and i_blocks here.

use super::xattr::EaQuota;
use super::{Deep, K_DIR, K_REG, kind_of};
use crate::blockmap::MapEvent;
use crate::inode::{INLINE_DATA_FL, Inode};
use crate::superblock::{compat, ro_compat};
use imgcheck_core::bytes::{le16, le32};

impl Deep<'_, '_> {
    /// Inode 1 lists bad blocks; it is never a file (PR_1_INVALID_BAD_INODE).
    pub(super) fn bad_blocks_inode(&mut self, ino: &Inode, csum_ok: bool) {
        let raw = &ino.raw;
        // e2fsck looks at the low 16 bits of uid and gid only.
        let uid = le16(raw, 0x02) != 0;
        let gid = le16(raw, 0x18) != 0;
        if !csum_ok
            || ino.i_mode != 0
            || uid
            || gid
            || ino.i_links_count != 0
            || ino.i_flags & INLINE_DATA_FL != 0
            || ino.i_file_acl != 0
        {
            self.error("ext4.inode.bad_blocks_inode", ino.offset, format!("the bad-blocks inode (1) looks invalid (mode {:#o}, links {}, flags {:#x}, attribute block {}{})", ino.i_mode, ino.i_links_count, ino.i_flags, ino.i_file_acl, if csum_ok { "" } else { ", checksum wrong" }));
        }
        self.mark_in_use(ino, super::K_NONE);
        let mut probs = Vec::new();
        let mut bad = Vec::new();
        self.fs.map_file(
            ino,
            &mut |e| match e {
                MapEvent::Data { pblk, len, .. } => bad.push((pblk, len)),
                MapEvent::Meta { pblk, .. } => bad.push((pblk, 1)),
            },
            Some(&mut probs),
        );
        for p in probs {
            self.error("ext4.inode.bad_blocks_inode", p.offset, p.message);
        }
        let mut on_meta = Vec::new();
        for (pblk, len) in bad {
            for b in pblk..pblk.saturating_add(len.min(1 << 20)) {
                if self.meta.get(b) {
                    on_meta.push(b);
                } else {
                    // A listed bad block is in use (by the list): a file
                    // that claims it too shares a bad block.
                    self.claim(1, b, 1, ino.offset);
                }
            }
        }
        for b in on_meta.iter().take(8) {
            self.error("ext4.inode.bad_block_on_metadata", ino.offset, format!("block {b} is on the bad-blocks list but holds filesystem metadata (superblock, descriptors, a bitmap or the inode table)"));
        }
    }

    /// Inodes 2 < n < s_first_ino, and the orphan file: e2fsck's
    /// reserved-inode branch. Returns after checking its blocks.
    pub(super) fn reserved_inode(&mut self, ino: &Inode, csum_ok: bool) {
        let sb = &self.fs.sb;
        let n = ino.ino;
        let off = ino.offset;
        let kind = kind_of(ino.i_mode);
        let not_clear =
            ino.i_links_count != 0 || le32(&ino.raw, 0x1C) != 0 || le32(&ino.i_block, 0) != 0;
        self.mark_in_use(ino, kind);
        let walk = if n == 8 {
            if sb.s_journal_inum == 8 {
                if kind != K_REG {
                    self.error(
                        "ext4.journal.bad_mode",
                        off,
                        format!(
                            "journal inode 8 is not a regular file (mode {:#o})",
                            ino.i_mode
                        ),
                    );
                }
                true
            } else {
                if not_clear {
                    self.error("ext4.journal.inode_not_clear", off, "inode 8 is the journal's reserved inode; the journal is elsewhere, yet it is in use".to_string());
                }
                false
            }
        } else if matches!(n, 3 | 4) {
            let used = [
                sb.s_usr_quota_inum,
                sb.s_grp_quota_inum,
                sb.s_prj_quota_inum,
            ]
            .contains(&n);
            if sb.has_ro_compat(ro_compat::QUOTA) && used {
                if kind != K_REG {
                    self.error(
                        "ext4.quota.bad_mode",
                        off,
                        format!(
                            "quota inode {n} is not a regular file (mode {:#o})",
                            ino.i_mode
                        ),
                    );
                }
                true
            } else {
                if not_clear {
                    self.error(
                        "ext4.quota.inode_not_clear",
                        off,
                        format!("reserved quota inode {n} is in use, but no quota uses it"),
                    );
                }
                false
            }
        } else if n == sb.s_orphan_file_inum {
            if sb.has_compat(compat::ORPHAN_FILE) {
                if kind != K_REG {
                    self.error(
                        "ext4.orphan_file.bad_mode",
                        off,
                        format!(
                            "orphan file inode {n} is not a regular file (mode {:#o})",
                            ino.i_mode
                        ),
                    );
                }
                true
            } else {
                if not_clear {
                    self.error("ext4.orphan_file.inode_not_clear", off, format!("inode {n} is named as the orphan file, the filesystem lacks orphan_file, yet it is in use"));
                }
                false
            }
        } else {
            let bad = match n {
                5 => kind == K_DIR,
                7 => ino.i_mode != 0 && kind != K_REG,
                _ => ino.i_mode != 0,
            };
            if bad {
                self.error(
                    "ext4.inode.reserved_bad_mode",
                    off,
                    format!(
                        "reserved inode {n} has mode {:#o}, which it may not have",
                        ino.i_mode
                    ),
                );
            }
            true
        };
        if walk {
            self.check_blocks(ino, EaQuota::default());
        }
        self.csum_result(ino, csum_ok, false);
    }
}

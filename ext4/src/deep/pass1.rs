//! Pass 1: every inode of every initialised inode table, in e2fsck's
//! order (pass1.c's main loop): checksum, orphan links, dtime, flags
//! against features and type, the reserved inodes 1–10, the fields a
//! valid inode keeps zero, the in-inode attributes, then the inode's
//! blocks (`blocks`). Special files and symlinks are validated here; the
//! per-field rules live in `fields`, the reserved inodes in `special`.

use super::{Deep, K_BAD, K_BLK, K_CHR, K_DIR, K_FIFO, K_LNK, K_SOCK, kind_of};
use crate::gdt::bg_flags;
use crate::inode::{EA_INODE_FL, EXTENTS_FL, INLINE_DATA_FL, Inode};
use crate::superblock::{compat, incompat};
use imgcheck_core::ReadErrorKind;
use imgcheck_core::bytes::{le32, usize_of};

/// Bytes of inode table read at once.
const ITABLE_CHUNK: u64 = 1 << 20;
/// `i_flags` EXT4_CASEFOLD_FL.
pub(super) const CASEFOLD_FL: u32 = 0x4000_0000;
/// `i_flags` EXT4_ENCRYPT_FL.
pub(super) const ENCRYPT_FL: u32 = 0x800;
/// `i_flags` EXT2_IMAGIC_FL.
const IMAGIC_FL: u32 = 0x2000;

impl Deep<'_, '_> {
    pub(super) fn pass1(&mut self) {
        let fs = self.fs;
        let sb = &fs.sb;
        let ipg = u64::from(sb.s_inodes_per_group);
        let isz = u64::from(sb.inode_size());
        let csum = sb.has_group_desc_csum();
        let mut chunk: Vec<u8> = Vec::new();
        let mut raw: Vec<u8> = Vec::with_capacity(usize_of(isz));
        for g in 0..fs.groups {
            let Some(gd) = fs.gds.get(usize_of(g)).cloned() else {
                break;
            };
            if csum && gd.bg_flags & bg_flags::INODE_UNINIT != 0 {
                continue;
            }
            let mut count = ipg;
            if csum {
                count = ipg.saturating_sub(u64::from(gd.bg_itable_unused));
            }
            let Some(base) = fs.block_offset(gd.bg_inode_table) else {
                continue;
            };
            if gd.bg_inode_table == 0 || gd.bg_inode_table >= sb.s_blocks_count {
                continue;
            }
            let mut i = 0u64;
            while i < count {
                let n = ITABLE_CHUNK
                    .checked_div(isz)
                    .unwrap_or(1)
                    .max(1)
                    .min(count.saturating_sub(i));
                let off = base.saturating_add(i.saturating_mul(isz));
                // One buffer for every chunk and one for every inode: a fresh
                // zeroed megabyte per chunk (and a Vec per inode) cost more
                // than the checks themselves.
                let len = usize_of(n.saturating_mul(isz));
                if chunk.len() < len {
                    chunk.resize(len, 0);
                }
                let Some(buf) = chunk.get_mut(..len) else {
                    break;
                };
                self.progress.report(
                    "pass 1: inodes",
                    g.saturating_mul(ipg).saturating_add(i),
                    u64::from(sb.s_inodes_count),
                );
                // A chunk the reader fails is read again inode by inode:
                // the read log then names each inode that is lost, and the
                // rest of the table is still checked.
                let one_by_one = match fs.r.read_exact_at(off, buf) {
                    Ok(()) => false,
                    Err(e) if matches!(e.kind, ReadErrorKind::OutOfBounds { .. }) => break,
                    Err(_) => true,
                };
                if !one_by_one {
                    // The zeroed-structure check asks whether the table
                    // blocks of named inodes read as zeros: answered from
                    // this read, not a second one of the table.
                    self.owners.read(off, chunk.get(..len).unwrap_or(&[]));
                }
                for k in 0..n {
                    let slot = i.saturating_add(k);
                    let ino64 = g.saturating_mul(ipg).saturating_add(slot).saturating_add(1);
                    let Ok(ino) = u32::try_from(ino64) else { break };
                    let start = usize_of(k.saturating_mul(isz));
                    raw.clear();
                    if one_by_one {
                        raw.resize(usize_of(isz), 0);
                        let at = off.saturating_add(k.saturating_mul(isz));
                        if fs.read_at(at, &mut raw, || format!("inode {ino}")).is_err() {
                            self.mark_unread(ino);
                            continue;
                        }
                    } else {
                        raw.extend_from_slice(
                            chunk
                                .get(start..start.saturating_add(usize_of(isz)))
                                .unwrap_or(&[]),
                        );
                    }
                    let inode = Inode::parse(
                        ino,
                        off.saturating_add(k.saturating_mul(isz)),
                        std::mem::take(&mut raw),
                    );
                    self.inode(&inode);
                    raw = inode.raw;
                }
                i = i.saturating_add(n);
            }
        }
    }

    fn inode(&mut self, ino: &Inode) {
        let fs = self.fs;
        let sb = &fs.sb;
        let n = ino.ino;
        let off = ino.offset;
        let first = sb.first_ino();
        if ino.raw.iter().all(|&b| b == 0) {
            return;
        }
        let csum_ok = fs.inode_csum_ok(ino) != Some(false);
        if n == 1 {
            self.bad_blocks_inode(ino, csum_ok);
            return;
        }
        // An in-use inode's dtime that looks like an inode number is an
        // orphan-list link (PR_1_LOW_DTIME).
        if ino.i_dtime != 0 && self.low_dtime_check && ino.i_dtime < sb.s_inodes_count {
            self.orphan_link(ino);
        }
        let reserved_quota = matches!(n, 3 | 4);
        if ino.i_links_count == 0 && n >= first && !reserved_quota {
            if ino.i_dtime == 0 && ino.i_mode != 0 {
                self.zero_dtime(ino);
            }
            if self.orphan_delete.contains_key(&n) {
                // Its blocks stay allocated until orphan processing frees them.
                self.orphan_blocks(ino);
            }
            self.csum_result(ino, csum_ok, true);
            return;
        }
        let f = ino.i_flags;
        let kind = kind_of(ino.i_mode);
        if f & CASEFOLD_FL != 0 {
            if kind != K_DIR {
                self.error(
                    "ext4.inode.bad_casefold_flag",
                    off,
                    format!("inode {n} has the casefold flag but is not a directory"),
                );
            } else if !sb.has_incompat(incompat::CASEFOLD) {
                self.error("ext4.inode.bad_casefold_flag", off, format!("directory inode {n} has the casefold flag but the filesystem lacks casefold"));
            }
        }
        // An unused reserved inode's flags mean nothing.
        if f & EA_INODE_FL != 0 && ino.i_links_count != 0 {
            if kind != super::K_REG {
                self.error(
                    "ext4.inode.ea_inode_not_regular",
                    off,
                    format!(
                        "inode {n} has the EA_INODE flag but is not a regular file (mode {:#o})",
                        ino.i_mode
                    ),
                );
            } else {
                self.track_ea_inode(n);
            }
        }
        if f & INLINE_DATA_FL != 0 && f & EXTENTS_FL != 0 {
            self.error(
                "ext4.inode.inline_and_extents",
                off,
                format!("inode {n} has both the inline-data and extents flags"),
            );
        }
        if f & INLINE_DATA_FL != 0 && n >= first {
            if !sb.has_incompat(incompat::INLINE_DATA) {
                self.error(
                    "ext4.inode.inline_without_feature",
                    off,
                    format!(
                        "inode {n} has the inline-data flag but the filesystem lacks inline_data"
                    ),
                );
            } else if !self.has_inline_data_xattr(ino) {
                self.error(
                    "ext4.inline.no_data_attr",
                    off,
                    format!(
                        "inode {n} has the inline-data flag but no valid system.data attribute"
                    ),
                );
            }
        }
        let extent_fs = sb.has_incompat(incompat::EXTENTS);
        let keyed = ino.i_links_count != 0 || n == 2 || n == 8;
        if f & EXTENTS_FL != 0 && !extent_fs && keyed {
            self.error(
                "ext4.inode.extents_without_feature",
                off,
                format!(
                    "inode {n} has the extents flag but the filesystem lacks the extent feature"
                ),
            );
        }
        if extent_fs
            && f & EXTENTS_FL == 0
            && keyed
            && matches!(kind, super::K_REG | K_DIR)
            && crate::extent::header_ok(&ino.i_block)
        {
            self.error(
                "ext4.inode.extent_flag_missing",
                off,
                format!("inode {n} holds an extent tree in i_block but lacks the extents flag"),
            );
        }
        if (n < first && n != 2) || (n == sb.s_orphan_file_inum && n != 0) {
            self.reserved_inode(ino, csum_ok);
            return;
        }
        if n == 2 && ino.i_links_count == 0 {
            // Not in use: the root checks and pass 3 say so.
            return;
        }
        if ino.i_dtime != 0 && n != 2 && !self.orphan_truncate.contains_key(&n) {
            self.error(
                "ext4.inode.dtime_set",
                off,
                format!(
                    "in-use inode {n} (links {}) has a deletion time {}",
                    ino.i_links_count, ino.i_dtime
                ),
            );
        }
        self.mark_in_use(ino, kind);
        self.zero_fields(ino, kind);
        if f & IMAGIC_FL != 0 && !sb.has_compat(compat::IMAGIC_INODES) {
            self.error(
                "ext4.inode.imagic_without_feature",
                off,
                format!("inode {n} has the imagic flag but the filesystem lacks imagic_inodes"),
            );
        }
        let ibody = self.extra_space(ino);
        if f & EXTENTS_FL != 0 && extent_fs && kind == K_LNK && !self.has_valid_blocks(ino) {
            self.error(
                "ext4.symlink.fast_with_extents",
                off,
                format!("fast symlink inode {n} has the extents flag"),
            );
        }
        if f & ENCRYPT_FL != 0 {
            if !sb.has_incompat(incompat::ENCRYPT) {
                self.error(
                    "ext4.inode.encrypt_without_feature",
                    off,
                    format!("inode {n} is marked encrypted but the filesystem lacks encrypt"),
                );
            }
            self.encrypted.set(u64::from(n));
            self.encryption_context(ino);
        }
        match kind {
            K_CHR | K_BLK | K_FIFO | K_SOCK => self.special_file(ino),
            // A valid inline symlink has nothing more to check.
            K_LNK if self.symlink(ino) => {
                self.csum_result(ino, csum_ok, false);
                return;
            }
            K_BAD => {
                self.error(
                    "ext4.inode.bad_mode",
                    off,
                    format!(
                        "inode {n} has an invalid file type in mode {:#o}",
                        ino.i_mode
                    ),
                );
                self.csum_result(ino, csum_ok, false);
                return;
            }
            _ => {}
        }
        if kind == K_DIR && f & INLINE_DATA_FL != 0 && self.inline_dirs.len() < (1 << 24) {
            self.inline_dirs.push(n);
        }
        self.check_blocks(ino, ibody);
        self.csum_result(ino, csum_ok, false);
    }

    /// Records `ino` as in use with type `kind`.
    pub(super) fn mark_in_use(&mut self, ino: &Inode, kind: u8) {
        let n = u64::from(ino.ino);
        self.inode_used.set(n);
        if let Some(l) = self.links_disk.get_mut(usize_of(n)) {
            *l = ino.i_links_count;
        }
        if let Some(k) = self.kind.get_mut(usize_of(n)) {
            *k = kind;
        }
    }

    /// A checksum that did not match, reported once the inode's other
    /// checks are done (e2fsck's FINISH_INODE_LOOP): "passes checks, but
    /// checksum does not match".
    pub(super) fn csum_result(&mut self, ino: &Inode, ok: bool, unused: bool) {
        if !ok {
            self.error(
                "ext4.inode.checksum",
                ino.offset,
                format!(
                    "inode {}{} checksum does not match",
                    ino.ino,
                    if unused { " (unused)" } else { "" }
                ),
            );
        }
    }

    /// e2fsprogs' ext2fs_inode_has_valid_blocks2: whether i_block holds
    /// a block map or extent tree at all.
    pub(super) fn has_valid_blocks(&self, ino: &Inode) -> bool {
        let kind = kind_of(ino.i_mode);
        if !matches!(kind, super::K_REG | K_DIR | K_LNK) {
            return false;
        }
        if kind == K_LNK {
            if ino.i_file_acl == 0 {
                if ino.i_blocks & 0xFFFF_FFFF == 0 {
                    return false;
                }
            } else {
                if ino.i_size >= 60 || (ino.i_size > 4 && le32(&ino.i_block, 4) == 0) {
                    return true;
                }
                return false;
            }
        }
        ino.i_flags & INLINE_DATA_FL == 0
    }
}

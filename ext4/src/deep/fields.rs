//! Pass 1 field rules for one inode, as e2fsck's pass1.c and the
//! bad-inode checks of pass2.c (e2fsck_process_bad_inode): fields a valid
//! inode keeps zero, `i_extra_isize` and the timestamps it carries, the
//! validity of device files, fifos, sockets and symlinks, dtime, and the
//! link an orphan keeps in `i_dtime`.

use super::pass1::ENCRYPT_FL;
use super::xattr::{EA_MAGIC, EaQuota, find_xattr};
use super::{Deep, K_DIR};
use crate::inode::{EXTENTS_FL, INDEX_FL, INLINE_DATA_FL, Inode};
use crate::superblock::{compat, incompat, ro_compat};
use imgcheck_core::bytes::{le16, le32, u64_of};

/// `i_flags` EXT2_IMMUTABLE_FL and EXT2_APPEND_FL.
const IMMUTABLE_APPEND: u32 = 0x10 | 0x20;
/// `s_creator_os` for GNU Hurd, whose inodes use the osd2 fields otherwise.
const OS_HURD: u32 = 1;

impl Deep<'_, '_> {
    /// Fields e2fsck's pass 1 marks an inode bad for, reported as pass 2/4
    /// report them (i_faddr, fragment fields, high halves without their
    /// feature, an attribute block that cannot exist).
    pub(super) fn zero_fields(&mut self, ino: &Inode, kind: u8) {
        let sb = &self.fs.sb;
        let n = ino.ino;
        let off = ino.offset;
        let raw = &ino.raw;
        let hurd = sb.s_creator_os == OS_HURD;
        let acl = ino.i_file_acl;
        if acl != 0 && !sb.has_compat(compat::EXT_ATTR) {
            self.error("ext4.xattr.without_feature", off, format!("inode {n} has an extended-attribute block {acl} but the filesystem lacks ext_attr"));
        }
        let faddr = le32(raw, 0x70);
        if faddr != 0 {
            self.error(
                "ext4.inode.faddr",
                off,
                format!("inode {n} has i_faddr {faddr}, which is always zero"),
            );
        }
        if hurd {
            let (frag, fsize) = (raw.get(0x75).copied(), raw.get(0x76).copied());
            if frag.is_some_and(|v| v != 0) || fsize.is_some_and(|v| v != 0) {
                self.error(
                    "ext4.inode.faddr",
                    off,
                    format!("inode {n} has fragment fields set (Hurd)"),
                );
            }
        } else {
            let blocks_hi = le16(raw, 0x74);
            if !sb.has_ro_compat(ro_compat::HUGE_FILE) && blocks_hi != 0 {
                self.error(
                    "ext4.inode.blocks_hi",
                    off,
                    format!(
                        "inode {n} has i_blocks_hi {blocks_hi} but the filesystem lacks huge_file"
                    ),
                );
            }
            let acl_hi = le16(raw, 0x76);
            if !sb.has_incompat(incompat::BIT64) && acl_hi != 0 {
                self.error(
                    "ext4.inode.file_acl_hi",
                    off,
                    format!(
                        "inode {n} has i_file_acl_high {acl_hi} but the filesystem lacks 64bit"
                    ),
                );
            }
        }
        if acl != 0
            && sb.has_compat(compat::EXT_ATTR)
            && (acl < u64::from(sb.s_first_data_block) || acl >= sb.s_blocks_count)
        {
            self.error(
                "ext4.xattr.bad_block",
                off,
                format!("inode {n} has extended-attribute block {acl}, outside the filesystem"),
            );
        }
        let size_hi = le32(raw, 0x6C);
        let small = u64::from(le32(raw, 0x1C)) < 1u64 << 29u32.saturating_sub(self.bs_bits);
        if kind == K_DIR && size_hi != 0 && !sb.has_incompat(incompat::LARGEDIR) && small {
            self.error("ext4.dir.size_high", off, format!("directory inode {n} has i_size_high {size_hi}; without large_dir a directory is smaller than 4 GiB"));
        }
    }

    /// `i_extra_isize` (PR_1_EXTRA_ISIZE), the in-inode attributes it
    /// leaves room for, and the extended timestamps
    /// (PR_1_EA_TIME_OUT_OF_RANGE), in e2fsck's order. Returns what the
    /// in-inode attributes charge to the inode.
    pub(super) fn extra_space(&mut self, ino: &Inode) -> EaQuota {
        let isz = ino.raw.len();
        if isz <= 128 {
            return EaQuota::default();
        }
        let extra = usize::from(le16(&ino.raw, 0x80));
        let max = isz.saturating_sub(128);
        if extra != 0 && (extra < 4 || extra > max || extra % 4 != 0) {
            self.error(
                "ext4.inode.bad_extra_isize",
                ino.offset,
                format!(
                    "inode {} has i_extra_isize {extra}, expected a multiple of 4 in 4..={max}",
                    ino.ino
                ),
            );
            return EaQuota::default();
        }
        if extra >= max.saturating_sub(4) {
            return EaQuota::default();
        }
        let q = self.inode_xattrs(ino);
        // Pre-1970 times written with the old encoding: bit 31 set and
        // both epoch bits of the extra field set (e2fsck reads the fields
        // whatever i_extra_isize says).
        let neg =
            |t: usize, x: usize| le32(&ino.raw, t) & (1 << 31) != 0 && le32(&ino.raw, x) & 3 == 3;
        if neg(0x08, 0x8C) || neg(0x0C, 0x84) || neg(0x90, 0x94) || neg(0x10, 0x88) {
            self.error(
                "ext4.inode.time_out_of_range",
                ino.offset,
                format!(
                    "inode {} has a timestamp in the old, invalid pre-1970 encoding",
                    ino.ino
                ),
            );
        }
        q
    }

    /// A device file, fifo or socket: e2fsck's check_device_inode, then the
    /// flags and size such a file cannot have.
    pub(super) fn special_file(&mut self, ino: &Inode) {
        let n = ino.ino;
        let f = ino.i_flags;
        let block_words = (4..15usize).any(|i| le32(&ino.i_block, i.saturating_mul(4)) != 0);
        if f & (INDEX_FL | EXTENTS_FL) != 0 || (f & IMMUTABLE_APPEND != 0 && block_words) {
            self.error("ext4.inode.bad_device", ino.offset, format!("special file inode {n} has flags {f:#x} (or block pointers) a device, fifo or socket cannot have"));
            return;
        }
        if f & INLINE_DATA_FL != 0 {
            self.error(
                "ext4.inode.special_inline",
                ino.offset,
                format!("special file inode {n} has the inline-data flag"),
            );
        }
        if f & IMMUTABLE_APPEND != 0 {
            self.error(
                "ext4.inode.special_immutable",
                ino.offset,
                format!("special file inode {n} has the immutable or append-only flag"),
            );
        }
        if ino.i_size != 0 {
            self.error(
                "ext4.inode.special_size",
                ino.offset,
                format!("special file inode {n} has size {}, expected 0", ino.i_size),
            );
        }
    }

    /// A symlink: e2fsck_pass1_check_symlink, then the flags it cannot
    /// have. Returns true for a valid inline symlink (nothing more to
    /// check).
    pub(super) fn symlink(&mut self, ino: &Inode) -> bool {
        let n = ino.ino;
        let f = ino.i_flags;
        match self.symlink_problem(ino) {
            Some(why) => {
                self.error(
                    "ext4.symlink.invalid",
                    ino.offset,
                    format!("symlink inode {n} is invalid: {why}"),
                );
                false
            }
            None => {
                if f & IMMUTABLE_APPEND != 0 {
                    self.error(
                        "ext4.inode.special_immutable",
                        ino.offset,
                        format!("symlink inode {n} has the immutable or append-only flag"),
                    );
                }
                f & INLINE_DATA_FL != 0
            }
        }
    }

    fn symlink_problem(&mut self, ino: &Inode) -> Option<String> {
        let fs = self.fs;
        let f = ino.i_flags;
        let size = ino.i_size;
        if le32(&ino.raw, 0x6C) != 0 || size == 0 {
            return Some(format!("size {size}"));
        }
        if f & INDEX_FL != 0 {
            return Some("it has the htree index flag".into());
        }
        if f & INLINE_DATA_FL != 0 {
            if f & EXTENTS_FL != 0 {
                return Some("it has both the inline-data and extents flags".into());
            }
            let inline = self.inline_size(ino)?;
            return (inline != size)
                .then(|| format!("size {size} but {inline} bytes of inline data"));
        }
        let (buf, buflen) = if size < 60 {
            if f & EXTENTS_FL != 0 {
                return Some("a fast symlink with the extents flag".into());
            }
            (ino.i_block.to_vec(), 60u64)
        } else {
            let blk = if f & EXTENTS_FL != 0 {
                let b = &ino.i_block;
                let ok = le16(b, 0) == 0xF30A && le16(b, 2) == 1 && le16(b, 6) == 0;
                let (lblk, len) = (le32(b, 12), le16(b, 16));
                if !ok || lblk != 0 || len != 1 {
                    return Some("its extent tree is not one extent of one block".into());
                }
                u64::from(le32(b, 20)) | (u64::from(le16(b, 18)) << 32)
            } else {
                if (1..15usize).any(|i| le32(&ino.i_block, i.saturating_mul(4)) != 0) {
                    return Some("it maps more than one block".into());
                }
                u64::from(le32(&ino.i_block, 0))
            };
            if blk < u64::from(fs.sb.s_first_data_block) || blk >= fs.sb.s_blocks_count {
                return Some(format!("its block {blk} is outside the filesystem"));
            }
            // Unreadable: logged; not evidence about the symlink.
            let b = fs.read_block(blk)?;
            (b, fs.bs)
        };
        let len = if f & ENCRYPT_FL != 0 {
            u64::from(le16(&buf, 0)).saturating_add(2)
        } else {
            u64_of(buf.iter().position(|&c| c == 0).unwrap_or(buf.len()))
        };
        if len >= buflen {
            return Some(format!("its target fills all {buflen} bytes"));
        }
        (len != size).then(|| format!("size {size} but its target is {len} bytes"))
    }

    /// An inline-data inode's data size: 60 bytes of i_block plus the
    /// `system.data` attribute (None: no such attribute).
    pub(super) fn inline_size(&self, ino: &Inode) -> Option<u64> {
        let raw = &ino.raw;
        let start = 128usize.saturating_add(usize::from(le16(raw, 0x80)));
        if raw.len() <= 128 || le32(raw, start) != EA_MAGIC {
            return None;
        }
        let area = raw.get(start.saturating_add(4)..).unwrap_or(&[]);
        let v = find_xattr(area, 0, 0, 7, b"data")?;
        Some(60u64.saturating_add(u64_of(v.len())))
    }

    /// Whether an inline-data inode has its `system.data` attribute.
    pub(super) fn has_inline_data_xattr(&self, ino: &Inode) -> bool {
        self.inline_size(ino).is_some()
    }

    /// A deleted inode (no links) with a mode but no deletion time
    /// (PR_1_ZERO_DTIME): the kernel stamps dtime when it frees an inode.
    /// On a pending orphan list it is the one orphan processing deletes.
    pub(super) fn zero_dtime(&mut self, ino: &Inode) {
        let n = ino.ino;
        if self.orphan_delete.contains_key(&n) {
            return; // the orphan summary says what recovery will do
        }
        self.error(
            "ext4.inode.zero_dtime",
            ino.offset,
            format!("deleted inode {n} (no links) has no deletion time"),
        );
    }

    /// An inode whose i_dtime holds an inode number: a link of the orphan
    /// list (PR_1_LOW_DTIME). Pending when it is on the list the superblock
    /// starts; otherwise a list that was never processed nor cleared.
    pub(super) fn orphan_link(&mut self, ino: &Inode) {
        let n = ino.ino;
        if self.orphan_delete.contains_key(&n) || self.orphan_truncate.contains_key(&n) {
            return;
        }
        self.error("ext4.inode.orphan_dtime", ino.offset, format!("inode {n} has i_dtime {}, an orphan-list link, but it is not on the filesystem's orphan list", ino.i_dtime));
    }
}

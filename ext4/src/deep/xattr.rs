//! Extended attributes (pass 1): the EA block and in-inode area, and the
//! encryption context kept in one.

use super::Deep;
use crate::bits::Bits;
use crate::inode::Inode;
use crate::reads::Miss;
use crate::superblock::compat;
use crate::util::{crc32c_raw, zero};
use imgcheck_core::bytes::{bytes, le16, le32, u8_at, usize_of};

/// Validates an xattr area: entries from `estart`, values at offsets from
/// `vbase`, everything inside `r`, value ranges not overlapping each other
/// nor the entry table. Returns what is wrong.
fn xattr_region_problem(r: &[u8], estart: usize, vbase: usize) -> Option<String> {
    let mut pos = estart;
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    let mut n = 0u32;
    loop {
        if pos.saturating_add(4) > r.len() {
            return Some("entry table runs past the end".to_string());
        }
        if le32(r, pos) == 0 {
            break;
        }
        if pos.saturating_add(16) > r.len() {
            return Some("entry table runs past the end".to_string());
        }
        let name_len = usize::from(u8_at(r, pos));
        let offs = usize::from(le16(r, pos.saturating_add(2)));
        let inum = le32(r, pos.saturating_add(4));
        let size = usize_of(u64::from(le32(r, pos.saturating_add(8))));
        let esize = (16usize.saturating_add(name_len).saturating_add(3)) & !3;
        if pos.saturating_add(esize) > r.len() {
            return Some(format!("entry {n} name runs past the end"));
        }
        if inum == 0 && size > 0 {
            let vstart = vbase.saturating_add(offs);
            let vend = vstart.saturating_add(size.saturating_add(3) & !3);
            if vend > r.len() || size > r.len() {
                return Some(format!(
                    "entry {n} value ({size} bytes at {offs}) runs past the end"
                ));
            }
            ranges.push((vstart, vend));
        }
        pos = pos.saturating_add(esize);
        n = n.saturating_add(1);
        if n > 4096 {
            return Some("too many entries".to_string());
        }
    }
    let table_end = pos.saturating_add(4);
    ranges.sort_unstable();
    let mut prev_end = table_end;
    for (a, b) in ranges {
        if a < prev_end {
            return Some(
                "allocation collision: values overlap each other or the entry table".to_string(),
            );
        }
        prev_end = b;
    }
    None
}

/// The value of xattr (`index`, `name`) in an area laid out as
/// `xattr_region_problem` describes, if present and in bounds.
fn find_xattr(r: &[u8], estart: usize, vbase: usize, index: u8, name: &[u8]) -> Option<Vec<u8>> {
    let mut pos = estart;
    for _ in 0..4096 {
        if pos.saturating_add(16) > r.len() || le32(r, pos) == 0 {
            return None;
        }
        let name_len = usize::from(u8_at(r, pos));
        let offs = usize::from(le16(r, pos.saturating_add(2)));
        let size = usize_of(u64::from(le32(r, pos.saturating_add(8))));
        if u8_at(r, pos.saturating_add(1)) == index
            && bytes(r, pos.saturating_add(16), name_len) == name
        {
            let v = vbase.saturating_add(offs);
            return r.get(v..v.saturating_add(size)).map(<[u8]>::to_vec);
        }
        pos = pos.saturating_add((16usize.saturating_add(name_len).saturating_add(3)) & !3);
    }
    None
}

impl Deep<'_, '_> {
    /// In-inode extended attributes (after i_extra_isize).
    pub(super) fn inode_xattrs(&mut self, ino: &Inode) {
        let isz = ino.raw.len();
        if isz <= 128 {
            return;
        }
        let extra = usize::from(le16(&ino.raw, 0x80));
        let start = 128usize.saturating_add(extra);
        if extra % 4 != 0 || start.saturating_add(4) > isz {
            if extra != 0 && (extra % 4 != 0 || start > isz) {
                self.error("ext4.inode.bad_extra_isize", ino.offset, format!("inode {} has i_extra_isize {extra}, expected a multiple of 4 within the {isz}-byte inode", ino.ino));
            }
            return;
        }
        if le32(&ino.raw, start) != 0xEA02_0000 {
            return;
        }
        let region = ino.raw.get(start.saturating_add(4)..).unwrap_or(&[]);
        if let Some(why) = xattr_region_problem(region, 0, 0) {
            self.error(
                "ext4.xattr.inode_corrupt",
                ino.offset,
                format!(
                    "inode {}: in-inode extended attributes are corrupt ({why})",
                    ino.ino
                ),
            );
        }
    }

    /// An encrypted inode carries its policy in xattr `c` (index 9):
    /// 28 bytes of version 1 or 40 of version 2.
    pub(super) fn encryption_context(&mut self, ino: &Inode) {
        let n = ino.ino;
        let raw = &ino.raw;
        let start = 128usize.saturating_add(usize::from(le16(raw, 0x80)));
        let mut ctx = None;
        if raw.len() > 128 && le32(raw, start) == 0xEA02_0000 {
            let region = raw.get(start.saturating_add(4)..).unwrap_or(&[]);
            ctx = find_xattr(region, 0, 0, 9, b"c");
        }
        if ctx.is_none() && ino.i_file_acl != 0 {
            match self.fs.block(ino.i_file_acl) {
                Ok(b) if le32(&b, 0) == 0xEA02_0000 => ctx = find_xattr(&b, 32, 0, 9, b"c"),
                // The context may be in the block that could not be read
                // (logged): not evidence that it is missing.
                Err(Miss::Unreadable(_)) => return,
                _ => {}
            }
        }
        match ctx {
            None => self.error(
                "ext4.encrypt.no_context",
                ino.offset,
                format!("inode {n} has the encrypt flag but no encryption context (xattr c)"),
            ),
            Some(v) => {
                let ok = matches!((v.first(), v.len()), (Some(1), 28) | (Some(2), 40));
                if !ok {
                    self.error("ext4.encrypt.bad_context", ino.offset, format!("encrypted inode {n} has a {}-byte encryption context of version {}, expected 28 bytes (v1) or 40 (v2)", v.len(), v.first().copied().unwrap_or(0)));
                }
            }
        }
    }

    pub(super) fn ea_block(&mut self, ino: &Inode) {
        let fs = self.fs;
        let sb = &fs.sb;
        let n = ino.ino;
        let blk = ino.i_file_acl;
        if blk == 0 {
            return;
        }
        if !sb.has_compat(compat::EXT_ATTR) {
            self.error("ext4.xattr.without_feature", ino.offset, format!("inode {n} has an extended-attribute block {blk} but the filesystem lacks ext_attr"));
            return;
        }
        if blk < u64::from(sb.s_first_data_block) || blk >= sb.s_blocks_count {
            self.error(
                "ext4.xattr.bad_block",
                ino.offset,
                format!("inode {n} has extended-attribute block {blk}, outside the filesystem"),
            );
            return;
        }
        if self.ea_seen.len() == 0 {
            self.ea_seen = Bits::new(self.used.len());
        }
        if self.ea_seen.set(blk) {
            return; // shared EA block, checked once
        }
        self.claim(n, blk, 1, ino.offset);
        let Some(b) = fs.read_block(blk) else { return };
        let boff = fs.block_offset(blk).unwrap_or(0);
        let magic = le32(&b, 0);
        if magic != 0xEA02_0000 || le32(&b, 8) != 1 {
            self.error("ext4.xattr.bad_header", boff, format!("extended-attribute block {blk} of inode {n} has magic {magic:#010x} / h_blocks {}, expected 0xea020000 / 1", le32(&b, 8)));
            return;
        }
        if let Some(why) = xattr_region_problem(&b, 32, 0) {
            self.error(
                "ext4.xattr.block_corrupt",
                boff,
                format!("extended-attribute block {blk} of inode {n} is corrupt ({why})"),
            );
        }
        if sb.metadata_csum() {
            let mut d = b.clone();
            zero(&mut d, 0x10, 4);
            let want = crc32c_raw(crc32c_raw(fs.seed, &blk.to_le_bytes()), &d);
            let got = le32(&b, 0x10);
            if want != got {
                self.error("ext4.xattr.checksum", boff, format!("extended-attribute block {blk} checksum is {got:#010x}, computed {want:#010x}"));
            }
        }
    }
}

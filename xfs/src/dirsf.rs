//! Short-form directories: the entries stored in the inode's data fork
//! (`xfs_dir2_sf_hdr`), checked as `xfs_dir2_sf_verify` and repair's
//! `process_sf_dir2` do.

use crate::dir::{Dir, Entry, name_ok};
use crate::fs::Fs;
use imgcheck_core::bytes::{be16, be32, be64, bytes, u8_at};

/// Reads a short-form directory from its data fork bytes `fork` at `at`.
pub fn shortform(fs: &mut Fs<'_>, ino: u64, fork: &[u8], at: u64, size: u64) -> Dir {
    let mut d = Dir::default();
    let ftype = fs.sb.has_ftype();
    let count = usize::from(u8_at(fork, 0));
    let i8 = usize::from(u8_at(fork, 1));
    let inum_len = if i8 > 0 { 8usize } else { 4 };
    let hdr = 2usize.saturating_add(inum_len);
    let read_ino = |p: usize| -> u64 {
        if inum_len == 8 {
            be64(fork, p) & ((1 << 56) - 1)
        } else {
            u64::from(be32(fork, p))
        }
    };
    let limit = Fs::u(size).min(fork.len());
    if Fs::w(hdr) > size || size > Fs::w(fork.len()) {
        fs.error(
            "xfs.dir.shortform",
            at,
            format!(
                "directory inode {ino}: short-form size {size} does not fit its {}-byte fork",
                fork.len()
            ),
        );
        d.damaged = true;
        return d;
    }
    d.parent = Some(read_ino(2));
    let mut p = hdr;
    // xfs_dir2_sf_verify: each entry's offset at or past where the
    // previous one would end in a data block, from the first after . and ..
    let mut min_off: u64 = if fs.v5 { 64 + 16 + 16 } else { 16 + 16 + 16 };
    let mut i8_seen = 0usize;
    for i in 0..count {
        let namelen = usize::from(u8_at(fork, p));
        let off = be16(fork, p.saturating_add(1));
        let name_at = p.saturating_add(3);
        let after_name = name_at.saturating_add(namelen);
        let ft = if ftype { u8_at(fork, after_name) } else { 0 };
        let ino_at = after_name.saturating_add(usize::from(ftype));
        let end = ino_at.saturating_add(inum_len);
        if end > limit || namelen == 0 {
            fs.error("xfs.dir.shortform", at.saturating_add(Fs::w(p)), format!("directory inode {ino}: short-form entry {i} of {count} runs past the directory's {size} bytes"));
            d.damaged = true;
            return d;
        }
        let name = bytes(fork, name_at, namelen).to_vec();
        if !name_ok(&name) || name == b"." || name == b".." {
            fs.error(
                "xfs.dir.name",
                at.saturating_add(Fs::w(p)),
                format!("directory inode {ino}: short-form entry {i} has an invalid name"),
            );
        }
        if u64::from(off) < min_off {
            fs.error("xfs.dir.shortform", at.saturating_add(Fs::w(p)).saturating_add(1), format!("directory inode {ino}: short-form entry {i} has offset {off}, before {min_off} where the previous one ends"));
        }
        let entsize = 11u64
            .saturating_add(Fs::w(namelen))
            .saturating_add(u64::from(ftype))
            .div_ceil(8)
            .saturating_mul(8);
        min_off = u64::from(off).saturating_add(entsize);
        let dbsize = fs.bs << u32::from(fs.sb.dirblklog).min(16);
        if min_off > dbsize {
            fs.error("xfs.dir.shortform", at.saturating_add(Fs::w(p)).saturating_add(1), format!("directory inode {ino}: short-form entry {i} has offset {off}, past a directory block"));
        }
        let child = read_ino(ino_at);
        if child > u64::from(u32::MAX) {
            i8_seen = i8_seen.saturating_add(1);
        }
        d.entries.push(Entry {
            name,
            ino: child,
            ftype: ft,
            at: at.saturating_add(Fs::w(p)),
        });
        p = end;
    }
    if p != Fs::u(size) {
        fs.error(
            "xfs.dir.shortform",
            at,
            format!("directory inode {ino}: size {size}, its short-form entries end at {p}"),
        );
    }
    if inum_len == 8
        && i8
            != i8_seen.saturating_add(usize::from(
                d.parent.is_some_and(|p| p > u64::from(u32::MAX)),
            ))
    {
        fs.error(
            "xfs.dir.shortform",
            at.saturating_add(1),
            format!("directory inode {ino}: i8count {i8} does not match the entries"),
        );
    }
    d
}

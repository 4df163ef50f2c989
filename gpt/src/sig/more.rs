//! Filesystems and volume formats imgcheck only names (nothing checks
//! them): APFS, HFS/HFS+, F2FS, EROFS, NILFS2, cramfs, squashfs, romfs,
//! JFS, ReiserFS, ZFS, Linux MD RAID and bcache. Each is recognised by its
//! magic at its fixed offset and the sanity checks libblkid applies, named
//! as blkid names it, so a volume of one of them is said to be one and
//! never taken for "no filesystem" or a lost partition.

use super::{At, Signature, sig, text, uuid_text};
use crate::guid::LINUX_FS;
use crate::util::{be16, be32, bytes, le16, le32, le64, mul, u8_at};
use imgcheck_core::ReadAt;

/// Apple APFS container.
const APFS: &str = "7C3457EF-0000-11AA-AA11-00306543ECAC";
/// Apple HFS/HFS+.
const HFS: &str = "48465300-0000-11AA-AA11-00306543ECAC";
/// Solaris /usr, the type ZFS pools carry on GPT.
const ZFS: &str = "6A898CC3-1DD2-11B2-99A6-080020736631";
/// Linux RAID.
const RAID: &str = "A19D880F-05FC-4D3B-A006-743F0F84911E";
/// The MD superblock magic (md_p.h).
const MD_MAGIC: u32 = 0xA92B_4EFC;
/// The ZFS uberblock magic ("oo-ba-bloc").
const ZFS_UB_MAGIC: u64 = 0x00BA_B10C;
/// libblkid's ZFS_WANT: uberblocks needed to call a label ZFS.
const ZFS_WANT: usize = 4;
/// bcache's superblock magic (bcache.h).
const BCACHE_MAGIC: [u8; 16] = [
    0xC6, 0x85, 0x73, 0xF6, 0x4E, 0x1A, 0x45, 0xCA, 0x82, 0x65, 0xF5, 0x7F, 0x48, 0xBA, 0x6D, 0x81,
];

/// Superblocks at byte 1024: HFS/HFS+, F2FS, EROFS, NILFS2.
pub(super) fn at_1024<R: ReadAt + ?Sized>(at: &mut At<'_, R>, head: &[u8]) -> Option<Signature> {
    let sb = bytes(head, 1024, 1024);
    if sb.len() < 1024 {
        return None;
    }
    match bytes(sb, 0, 2) {
        b"BD" => return hfs_wrapper(at, sb),
        b"H+" | b"HX" => return hfsplus(sb),
        _ => {}
    }
    if le32(sb, 0) == 0xF2F5_2010 {
        let log_bs = le32(sb, 16);
        let log_ss = le32(sb, 8);
        if (9..=12).contains(&log_ss) && (9..=16).contains(&log_bs) {
            let mut s = sig(
                "f2fs",
                "f2fs",
                le64(sb, 36).checked_shl(log_bs),
                LINUX_FS,
                0x83,
            );
            s.uuid = uuid_text(bytes(sb, 108, 16));
            s.label = utf16_text(bytes(sb, 124, 128));
            return Some(s);
        }
    }
    if le32(sb, 0) == 0xE0F5_E1E2 {
        let bits = u32::from(u8_at(sb, 12));
        if (9..=16).contains(&bits) {
            let mut s = sig(
                "erofs",
                "erofs",
                u64::from(le32(sb, 36)).checked_shl(bits),
                LINUX_FS,
                0x83,
            );
            s.uuid = uuid_text(bytes(sb, 48, 16));
            s.label = text(bytes(sb, 64, 16));
            return Some(s);
        }
    }
    if le16(sb, 6) == 0x3434 {
        let sb_bytes = le16(sb, 8);
        if (96..=1024).contains(&sb_bytes) && le32(sb, 20) <= 6 {
            let size = Some(le64(sb, 32)).filter(|&n| n > 0);
            return Some(sig("nilfs2", "nilfs2", size, LINUX_FS, 0x83));
        }
    }
    None
}

fn hfsplus(h: &[u8]) -> Option<Signature> {
    let bs = u64::from(be32(h, 40));
    if bs < 512 || !bs.is_power_of_two() {
        return None;
    }
    Some(sig(
        "hfsplus",
        "hfsplus",
        Some(mul(bs, u64::from(be32(h, 44)))),
        HFS,
        0xAF,
    ))
}

/// An HFS master directory block: plain HFS, or the wrapper of an
/// embedded HFS+ volume (its signature at 0x7C).
fn hfs_wrapper<R: ReadAt + ?Sized>(at: &mut At<'_, R>, mdb: &[u8]) -> Option<Signature> {
    let al_blk = u64::from(be32(mdb, 0x14));
    if al_blk == 0 || !al_blk.is_multiple_of(512) {
        return None;
    }
    if !matches!(bytes(mdb, 0x7C, 2), b"H+" | b"HX") {
        let mut s = sig("hfs", "hfs", None, HFS, 0xAF);
        let n = usize::from(u8_at(mdb, 0x24)).min(27);
        s.label = text(bytes(mdb, 0x25, n));
        return Some(s);
    }
    let off = u64::from(be16(mdb, 0x1C))
        .checked_mul(512)?
        .checked_add(u64::from(be16(mdb, 0x7E)).checked_mul(al_blk)?)?;
    let h = at.read(off.checked_add(1024)?, 512)?;
    matches!(bytes(&h, 0, 2), b"H+" | b"HX")
        .then(|| hfsplus(&h))
        .flatten()
}

/// Magics at byte 0: APFS, cramfs, squashfs, romfs, MD RAID 1.1.
pub(super) fn at_start(head: &[u8]) -> Option<Signature> {
    if bytes(head, 32, 4) == b"NXSB" && apfs_valid(head) {
        let mut s = sig("apfs", "apfs", Some(mul(le64(head, 40), 4096)), APFS, 0xAF);
        s.uuid = uuid_text(bytes(head, 72, 16));
        return Some(s);
    }
    let cramfs_le = bytes(head, 0, 4) == b"\x45\x3d\xcd\x28";
    if (cramfs_le || bytes(head, 0, 4) == b"\x28\xcd\x3d\x45")
        && bytes(head, 16, 16) == b"Compressed ROMFS"
    {
        let size = if cramfs_le {
            le32(head, 4)
        } else {
            be32(head, 4)
        };
        let mut s = sig("cramfs", "cramfs", Some(u64::from(size)), LINUX_FS, 0x83);
        s.label = text(bytes(head, 48, 16));
        return Some(s);
    }
    match bytes(head, 0, 4) {
        b"hsqs" if le16(head, 28) >= 4 => {
            return Some(sig(
                "squashfs",
                "squashfs",
                Some(le64(head, 40)).filter(|&n| n > 0),
                LINUX_FS,
                0x83,
            ));
        }
        b"hsqs" | b"sqsh" => {
            return Some(sig("squashfs3", "squashfs (v3)", None, LINUX_FS, 0x83));
        }
        _ => {}
    }
    if bytes(head, 0, 8) == b"-rom1fs-" {
        let mut s = sig(
            "romfs",
            "romfs",
            Some(u64::from(be32(head, 8))),
            LINUX_FS,
            0x83,
        );
        s.label = text(bytes(head, 16, 16));
        return Some(s);
    }
    md_v1(head, 0, 0)
}

/// libblkid's APFS checks: the container superblock object's type and
/// subtype, the standard block size and its Fletcher-64 checksum.
fn apfs_valid(b: &[u8]) -> bool {
    if le16(b, 24) != 1 || le16(b, 28) != 0 || le16(b, 30) != 0 || le32(b, 36) != 4096 {
        return false;
    }
    let Some(block) = b.get(8..4096) else {
        return false;
    };
    let (mut lo, mut hi) = (0u64, 0u64);
    for w in block.chunks_exact(4) {
        lo = lo.wrapping_add(u64::from(le32(w, 0)));
        hi = hi.wrapping_add(lo);
    }
    let m = u64::from(u32::MAX);
    let low = !(u32::try_from(lo.wrapping_add(hi).checked_rem(m).unwrap_or(0)).unwrap_or(0));
    let high = !(lo.wrapping_add(u64::from(low)).checked_rem(m).unwrap_or(0));
    let csum = high.wrapping_shl(32) | u64::from(low);
    csum == le64(b, 0)
}

/// An MD RAID version-1 superblock at `off` of `b` (1.1 at the start, 1.2
/// 4 KiB in), which records the sector it sits at.
fn md_v1(b: &[u8], off: usize, sector: u64) -> Option<Signature> {
    let sb = bytes(b, off, 256);
    (le32(sb, 0) == MD_MAGIC && le32(sb, 4) == 1 && le64(sb, 144) == sector).then(|| {
        let mut s = sig("linux_raid_member", "Linux RAID member", None, RAID, 0xFD);
        s.uuid = uuid_text(bytes(sb, 16, 16));
        s.label = text(bytes(sb, 32, 32));
        s
    })
}

/// Superblocks further in: MD RAID 1.2 and bcache at 4 KiB, JFS at
/// 32 KiB, ReiserFS at 64 KiB (or 8 KiB for 3.5), ZFS uberblocks at
/// 128 KiB, and MD RAID 0.90 at the end of a whole reader.
pub(super) fn further_in<R: ReadAt + ?Sized>(at: &mut At<'_, R>) -> Option<Signature> {
    if let Some(b) = at.read(4096, 512) {
        if let Some(s) = md_v1(&b, 0, 8) {
            return Some(s);
        }
        if bytes(&b, 24, 16) == BCACHE_MAGIC && le64(&b, 8) == 8 {
            let mut s = sig("bcache", "bcache", None, LINUX_FS, 0x83);
            s.uuid = uuid_text(bytes(&b, 40, 16));
            return Some(s);
        }
    }
    if at.len() >= 16 << 20
        && let Some(j) = at.read(32768, 512)
        && bytes(&j, 0, 4) == b"JFS1"
    {
        let l2b = u32::from(le16(&j, 20));
        let l2p = u32::from(le16(&j, 28));
        let ok = l2b <= 31
            && l2p <= 31
            && 1u32.checked_shl(l2b) == Some(le32(&j, 16))
            && 1u32.checked_shl(l2p) == Some(le32(&j, 24))
            && l2b.checked_sub(l2p) == Some(u32::from(le16(&j, 22)));
        if ok {
            let mut s = sig("jfs", "jfs", None, LINUX_FS, 0x83);
            s.uuid = uuid_text(bytes(&j, 136, 16));
            s.label = text(bytes(&j, 152, 16));
            return Some(s);
        }
    }
    if let Some(r) = at.read(0x10000, 512) {
        if bytes(&r, 0, 7) == b"ReIsEr4" {
            return Some(sig("reiser4", "reiser4", None, LINUX_FS, 0x83));
        }
        if let Some(s) = reiser3(&r) {
            return Some(s);
        }
    }
    if let Some(r) = at.read(0x2000, 512)
        && bytes(&r, 52, 8) == b"ReIsErFs"
        && let Some(s) = reiser3(&r)
    {
        return Some(s);
    }
    if let Some(ring) = at.read(128 << 10, 128 << 10) {
        let found = ring
            .chunks_exact(1024)
            .filter(|ub| {
                let m = le64(ub, 0);
                m == ZFS_UB_MAGIC || m.swap_bytes() == ZFS_UB_MAGIC
            })
            .count();
        if found >= ZFS_WANT {
            return Some(sig("zfs_member", "ZFS member", None, ZFS, 0xBF));
        }
    }
    md_v090(at)
}

fn reiser3(r: &[u8]) -> Option<Signature> {
    let magic = bytes(r, 52, 10);
    let known = magic.starts_with(b"ReIsErFs")
        || magic.starts_with(b"ReIsEr2Fs")
        || magic.starts_with(b"ReIsEr3Fs");
    let bs = u64::from(le16(r, 44));
    (known && bs >= 512 && bs.is_power_of_two()).then(|| {
        let mut s = sig(
            "reiserfs",
            "reiserfs",
            Some(mul(u64::from(le32(r, 0)), bs)),
            LINUX_FS,
            0x83,
        );
        s.uuid = uuid_text(bytes(r, 84, 16));
        s.label = text(bytes(r, 100, 16));
        s
    })
}

/// MD RAID 0.90 keeps its superblock 64 KiB before the end rounded down
/// to 64 KiB: only a reader that ends where the member ends (a partition,
/// a whole disk) can have it checked.
fn md_v090<R: ReadAt + ?Sized>(at: &mut At<'_, R>) -> Option<Signature> {
    if at.base != 0 {
        return None;
    }
    let len = at.len();
    let off = (len & !0xFFFF).checked_sub(0x10000)?;
    let b = at.read(off, 512)?;
    let le = le32(&b, 0) == MD_MAGIC && le32(&b, 4) == 0;
    let be = be32(&b, 0) == MD_MAGIC && be32(&b, 4) == 0;
    (le || be).then(|| sig("linux_raid_member", "Linux RAID member", None, RAID, 0xFD))
}

/// A UTF-16LE label, NUL-terminated.
fn utf16_text(b: &[u8]) -> Option<String> {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| le16(c, 0))
        .take_while(|&u| u != 0)
        .collect();
    let s = String::from_utf16_lossy(&units).trim_end().to_string();
    (!s.is_empty()).then_some(s)
}

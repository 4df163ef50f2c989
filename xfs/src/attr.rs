//! Attribute forks (short form, leaf, node, remote values) and symlink
//! targets (inline and remote), checked as the kernel's verifiers and
//! `xfs_repair`'s `process_attributes` and `process_symlink` do.

use crate::crc;
use crate::fs::Fs;
use crate::inode::{Dinode, Extent, format};
use imgcheck_core::bytes::{arr, be16, be32, be64, bytes};

pub(crate) fn symlink(
    fs: &mut Fs<'_>,
    ino: u64,
    off: u64,
    b: &[u8],
    d: &Dinode,
    data_off: usize,
    map: Option<&[Extent]>,
) {
    if d.size > 1024 {
        fs.error(
            "xfs.symlink.size",
            off.saturating_add(0x38),
            format!(
                "symlink inode {ino} has size {}, more than the 1024-byte maximum",
                d.size
            ),
        );
        return;
    }
    if d.format == format::LOCAL {
        let t = bytes(b, data_off, Fs::u(d.size));
        if t.contains(&0) {
            fs.error(
                "xfs.symlink.target",
                off.saturating_add(Fs::w(data_off)),
                format!("symlink inode {ino}: the inline target holds a NUL"),
            );
        }
        return;
    }
    let Some(map) = map else { return };
    // The kernel reads a remote target one extent at a time, each extent
    // one buffer (xfs_symlink_remote_read): on v5 one header at the
    // extent's start and one CRC over all its blocks, so a 1023-byte
    // target on 1 KiB blocks is one header over two blocks.
    let mut got = 0u64;
    for e in map {
        let Some((a, bb)) = fs.fsb_split(e.start) else {
            return;
        };
        let boff = fs.agb_byte(a, bb);
        // A target is at most 1024 bytes: more than 8 blocks (512-byte v4
        // blocks need 2) is no symlink mapping the kernel makes.
        if e.len > 8 {
            fs.error(
                "xfs.symlink.block",
                boff,
                format!(
                    "symlink inode {ino}: an extent of {} blocks, more than a 1024-byte target needs",
                    e.len
                ),
            );
            return;
        }
        let len = e.len.saturating_mul(fs.bs);
        let Some(blk) = fs.read(boff, len, "symlink block") else {
            return;
        };
        if fs.v5 {
            let magic = be32(&blk, 0);
            let o = u64::from(be32(&blk, 4));
            let n = u64::from(be32(&blk, 8));
            let uuid: [u8; 16] = arr(&blk, 0x10);
            let owner = be64(&blk, 0x20);
            let blkno = be64(&blk, 0x28);
            if magic != 0x5853_4C4D
                || !crc::verify(&blk, 0x0C)
                || uuid != fs.uuid
                || owner != ino
                || blkno != boff / 512
                || o != got
                || n > len.saturating_sub(56)
            {
                fs.error("xfs.symlink.block", boff, format!("symlink inode {ino}: remote target block at {boff:#x} has a bad header (magic, CRC, owner, offset or length)"));
                return;
            }
            if bytes(&blk, 56, Fs::u(n)).contains(&0) {
                fs.error(
                    "xfs.symlink.target",
                    boff,
                    format!("symlink inode {ino}: the target holds a NUL"),
                );
                return;
            }
            fs.saw_lsn(be64(&blk, 0x30), boff.saturating_add(0x30), "symlink block");
            got = got.saturating_add(n);
        } else {
            got = got.saturating_add(len);
        }
    }
    if fs.v5 && got != d.size {
        fs.error(
            "xfs.symlink.size",
            off.saturating_add(0x38),
            format!(
                "symlink inode {ino} has size {} but its blocks hold {got} bytes",
                d.size
            ),
        );
    }
}

pub(crate) fn attr_shortform(fs: &mut Fs<'_>, ino: u64, at: u64, fork: &[u8]) {
    let total = usize::from(be16(fork, 0));
    let count = usize::from(imgcheck_core::bytes::u8_at(fork, 2));
    if total < 4 || total > fork.len() {
        fs.error(
            "xfs.attr.shortform",
            at,
            format!(
                "inode {ino}: short-form attributes claim {total} bytes in a {}-byte fork",
                fork.len()
            ),
        );
        return;
    }
    let mut p = 4usize;
    for i in 0..count {
        let nl = usize::from(imgcheck_core::bytes::u8_at(fork, p));
        let vl = usize::from(imgcheck_core::bytes::u8_at(fork, p.saturating_add(1)));
        let end = p.saturating_add(3).saturating_add(nl).saturating_add(vl);
        if nl == 0 || end > total {
            fs.error("xfs.attr.shortform", at.saturating_add(Fs::w(p)), format!("inode {ino}: short-form attribute {i} of {count} runs past the attributes' {total} bytes"));
            return;
        }
        p = end;
    }
    if p != total {
        fs.error(
            "xfs.attr.shortform",
            at,
            format!(
                "inode {ino}: short-form attributes total {total} bytes, their entries end at {p}"
            ),
        );
    }
}

pub(crate) fn attr_blocks(fs: &mut Fs<'_>, ino: u64, map: &[Extent]) {
    // Leaf and node blocks carry a da-block header; remote values their own.
    let (cnt_at, hdr) = if fs.v5 { (56usize, 80usize) } else { (12, 32) };
    let mut remotes: Vec<(u64, u64, u64)> = Vec::new();
    let mut first_kind = None;
    for e in map {
        for k in 0..e.len.min(1 << 16) {
            let lblk = e.off.saturating_add(k);
            let Some((a, bb)) = fs.fsb_split(e.start.saturating_add(k)) else {
                return;
            };
            let boff = fs.agb_byte(a, bb);
            let Some(blk) = fs.read(boff, fs.bs, "attribute block") else {
                return;
            };
            let da_magic = be16(&blk, 8);
            if lblk == 0 {
                first_kind = Some(da_magic);
            }
            if !matches!(da_magic, 0x3BEE | 0xFBEE | 0x3EBE | 0xFEBE) {
                if lblk == 0 {
                    fs.error("xfs.attr.block", boff, format!("inode {ino}: attribute fork block 0 is neither a leaf nor a node (magic {da_magic:#x})"));
                }
                continue;
            }
            if fs.v5 {
                let ok = crc::verify(&blk, 12)
                    && be64(&blk, 16) == boff / 512
                    && arr::<16>(&blk, 32) == fs.uuid
                    && be64(&blk, 48) == ino;
                if !ok {
                    fs.error("xfs.attr.block", boff, format!("inode {ino}: attribute block at {boff:#x} has a bad header (CRC, address, UUID or owner)"));
                    continue;
                }
                fs.saw_lsn(be64(&blk, 24), boff.saturating_add(24), "attribute block");
            }
            if !matches!(da_magic, 0x3BEE | 0xFBEE) {
                continue;
            }
            let count = usize::from(be16(&blk, cnt_at));
            if Fs::w(hdr.saturating_add(count.saturating_mul(8))) > fs.bs {
                fs.error(
                    "xfs.attr.leaf",
                    boff,
                    format!("inode {ino}: attribute leaf claims {count} entries, more than fit"),
                );
                continue;
            }
            attr_leaf(fs, ino, &blk, boff, cnt_at, hdr, count, &mut remotes);
        }
    }
    if let Some(m) = first_kind {
        let leaf_magic = (0xFBEE, 0x3BEE);
        let cx = crate::datree::DaCx {
            ino,
            at: fs.ino_byte(ino).unwrap_or(0),
            map,
            fsbs: 1,
            leaf_magic,
            what: "attribute fork",
            code: "xfs.attr",
        };
        if matches!(m, 0x3EBE | 0xFEBE) {
            crate::datree::walk(fs, &cx, 0, &|b| crate::datree::last_hash(b, cnt_at, hdr));
        } else if matches!(m, 0x3BEE | 0xFBEE) {
            crate::datree::walk(fs, &cx, 0, &|_| None);
        }
    }
    if fs.v5 {
        for (vb, vl, at) in remotes {
            remote_value(fs, ino, map, vb, vl, at);
        }
    }
}

/// One attribute leaf block's entries (`xfs_attr3_leaf_verify` and
/// repair's `process_leaf_attr_block`): hash order, each name's hash,
/// entries inside the block past `firstused`, `usedbytes`, the free map.
#[allow(clippy::too_many_arguments)]
fn attr_leaf(
    fs: &mut Fs<'_>,
    ino: u64,
    blk: &[u8],
    boff: u64,
    cnt_at: usize,
    hdr: usize,
    count: usize,
    remotes: &mut Vec<(u64, u64, u64)>,
) {
    let bs = Fs::u(fs.bs);
    let usedbytes = usize::from(be16(blk, cnt_at.saturating_add(2)));
    let firstused = usize::from(be16(blk, cnt_at.saturating_add(4)));
    let fm_at = cnt_at.saturating_add(8);
    let ents_end = hdr.saturating_add(count.saturating_mul(8));
    // firstused 0 stands for a whole 64 KiB block
    let firstused_eff = if firstused == 0 && bs == 65536 {
        65536
    } else {
        firstused
    };
    if firstused_eff < ents_end || firstused_eff > bs {
        fs.error("xfs.attr.leaf", boff.saturating_add(Fs::w(cnt_at)).saturating_add(4), format!("inode {ino}: attribute leaf's first used byte {firstused} is inside its entry table or past the block"));
        return;
    }
    for k in 0..3usize {
        let base = usize::from(be16(blk, fm_at.saturating_add(k.saturating_mul(4))));
        let size = usize::from(be16(
            blk,
            fm_at.saturating_add(k.saturating_mul(4)).saturating_add(2),
        ));
        if base >= bs
            || base % 4 != 0
            || size % 4 != 0
            || base.saturating_add(size) > bs
            || (size > 0 && base < ents_end)
        {
            fs.error("xfs.attr.freemap", boff.saturating_add(Fs::w(fm_at)), format!("inode {ino}: attribute leaf free map entry {k} ({base}+{size}) does not fit the block"));
        }
    }
    let mut prev = 0u32;
    let mut used = 0usize;
    // repair's firstb: the lowest name offset, the block end without entries
    let mut lowest = bs;
    for i in 0..count {
        let p = hdr.saturating_add(i.saturating_mul(8));
        let h = be32(blk, p);
        let nameidx = usize::from(be16(blk, p.saturating_add(4)));
        let flags = imgcheck_core::bytes::u8_at(blk, p.saturating_add(6));
        if h < prev || nameidx >= bs || nameidx < firstused_eff.min(bs) {
            fs.error("xfs.attr.leaf", boff.saturating_add(Fs::w(p)), format!("inode {ino}: attribute leaf entry {i} is out of order or points outside the value area"));
            return;
        }
        prev = h;
        lowest = lowest.min(nameidx);
        let local = flags & 1 != 0;
        let (name, size) = if local {
            let vl = usize::from(be16(blk, nameidx));
            let nl = usize::from(imgcheck_core::bytes::u8_at(blk, nameidx.saturating_add(2)));
            (
                bytes(blk, nameidx.saturating_add(3), nl),
                (nl.saturating_add(vl).saturating_add(6)) & !3,
            )
        } else {
            let nl = usize::from(imgcheck_core::bytes::u8_at(blk, nameidx.saturating_add(8)));
            (
                bytes(blk, nameidx.saturating_add(9), nl),
                (nl.saturating_add(14)) & !3,
            )
        };
        if name.is_empty() || nameidx.saturating_add(size) > bs {
            fs.error(
                "xfs.attr.leaf",
                boff.saturating_add(Fs::w(nameidx)),
                format!(
                    "inode {ino}: attribute leaf entry {i}'s name or value runs past the block"
                ),
            );
            return;
        }
        if crate::dir::hashname(name, false) != h {
            fs.error("xfs.attr.hash", boff.saturating_add(Fs::w(p)), format!("inode {ino}: attribute leaf entry {i} has hash {h:#x}, its name hashes to {:#x}", crate::dir::hashname(name, false)));
        }
        used = used.saturating_add(size);
        if flags & 0x80 != 0 {
            fs.error("xfs.attr.incomplete", boff.saturating_add(Fs::w(p)).saturating_add(6), format!("inode {ino}: attribute leaf entry {i} is marked incomplete (a set that never finished)"));
        }
        if !local && flags & 0x80 == 0 {
            let vb = u64::from(be32(blk, nameidx));
            let vl = u64::from(be32(blk, nameidx.saturating_add(4)));
            remotes.push((vb, vl, boff.saturating_add(Fs::w(nameidx))));
        }
    }
    // Removing a name that is not the lowest leaves a hole and sets
    // `holes` (xfs_attr3_leaf_remove); only without holes is the first
    // used byte the lowest name.
    let holes = imgcheck_core::bytes::u8_at(blk, cnt_at.saturating_add(6));
    if holes == 0 && lowest != firstused_eff {
        fs.error("xfs.attr.leaf", boff.saturating_add(Fs::w(cnt_at)).saturating_add(4), format!("inode {ino}: attribute leaf's first used byte is {firstused}, its lowest name starts at {lowest} (xfs_repair would reset it)"));
    }
    if used != usedbytes {
        fs.error("xfs.attr.leaf", boff.saturating_add(Fs::w(cnt_at)).saturating_add(2), format!("inode {ino}: attribute leaf says {usedbytes} bytes of names and values, its entries use {used}"));
    }
}

/// A remote attribute value: its blocks' headers give consecutive
/// offsets and byte counts that add up to the value's length.
fn remote_value(fs: &mut Fs<'_>, ino: u64, map: &[Extent], vb: u64, vl: u64, at: u64) {
    let per = fs.bs.saturating_sub(56).max(1);
    let nblk = vl.div_ceil(per).max(1);
    let mut done = 0u64;
    for k in 0..nblk.min(1 << 16) {
        let lblk = vb.saturating_add(k);
        let i = map.partition_point(|e| e.off.saturating_add(e.len) <= lblk);
        let Some(fsb) = map
            .get(i)
            .filter(|e| e.off <= lblk)
            .map(|e| e.start.saturating_add(lblk.saturating_sub(e.off)))
        else {
            fs.error(
                "xfs.attr.remote",
                at,
                format!("inode {ino}: remote attribute value block {lblk} is not mapped"),
            );
            return;
        };
        let Some((a, bb)) = fs.fsb_split(fsb) else {
            return;
        };
        let boff = fs.agb_byte(a, bb);
        let Some(blk) = fs.read(boff, fs.bs, "remote attribute block") else {
            return;
        };
        let want = per.min(vl.saturating_sub(done));
        let ok = be32(&blk, 0) == 0x5841_524D
            && crc::verify(&blk, 12)
            && u64::from(be32(&blk, 4)) == done
            && u64::from(be32(&blk, 8)) == want
            && arr::<16>(&blk, 16) == fs.uuid
            && be64(&blk, 32) == ino
            && be64(&blk, 40) == boff / 512;
        if !ok {
            fs.error("xfs.attr.remote", boff, format!("inode {ino}: remote attribute value block at {boff:#x} has a bad header (magic, CRC, offset, length or owner)"));
            return;
        }
        fs.saw_lsn(
            be64(&blk, 48),
            boff.saturating_add(48),
            "remote attribute block",
        );
        done = done.saturating_add(want);
    }
}

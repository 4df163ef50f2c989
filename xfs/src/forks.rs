//! An inode's forks mapped to blocks: packed extent lists in the inode,
//! the long-form bmbt for forks too large for it; each extent checked
//! for order and range and claimed (free space, other owners, shared
//! blocks, reverse mappings).

use crate::crc;
use crate::fs::Fs;
use crate::inode::{self, Dinode, Extent, format};
use crate::inodes::Cx;
use imgcheck_core::bytes::{arr, be16, be32, be64, bytes};

/// Maps one fork; `None` when it cannot be mapped.
#[allow(clippy::too_many_arguments)]
pub(crate) fn fork(
    fs: &mut Fs<'_>,
    cx: &mut Cx<'_>,
    ino: u64,
    ioff: u64,
    b: &[u8],
    d: &Dinode,
    data: bool,
    at: usize,
    size: usize,
    fmt: u8,
    n: u64,
    rt: bool,
    blocks: &mut u64,
) -> Option<Vec<Extent>> {
    let which = if data { "data" } else { "attribute" };
    let mut ext: Vec<Extent> = Vec::new();
    match fmt {
        format::EXTENTS => {
            for r in inode::records(b, at, Fs::u(n), 16) {
                ext.push(inode::extent(r));
            }
        }
        format::BTREE => {
            let root = bytes(b, at, size);
            let level = be16(root, 0);
            let numrecs = u64::from(be16(root, 2));
            let maxrecs = Fs::w(size.saturating_sub(4)) / 16;
            if level == 0 || level > inode::MAX_BMBT_LEVELS || numrecs == 0 || numrecs > maxrecs {
                fs.error("xfs.bmbt.root", ioff.saturating_add(Fs::w(at)), format!("inode {ino}: {which} fork btree root has level {level} and {numrecs} records (max {maxrecs})"));
                return None;
            }
            let ptrs = 4usize.saturating_add(Fs::u(maxrecs).saturating_mul(8));
            let mut last: Vec<Option<(u64, u64)>> = Vec::new();
            let mut prev_key: Option<u64> = None;
            for i in 0..Fs::u(numrecs) {
                let key = be64(root, 4usize.saturating_add(i.saturating_mul(8)));
                if prev_key.is_some_and(|p| key <= p) {
                    fs.error(
                        "xfs.bmbt.key",
                        ioff.saturating_add(Fs::w(at)),
                        format!("inode {ino}: {which} fork btree root keys out of order"),
                    );
                }
                prev_key = Some(key);
                let ptr = be64(root, ptrs.saturating_add(i.saturating_mul(8)));
                let ok = bmbt(
                    fs,
                    cx,
                    ino,
                    ptr,
                    level.saturating_sub(1),
                    Some(key),
                    &mut last,
                    &mut ext,
                    blocks,
                    which,
                );
                if !ok {
                    return None;
                }
            }
            for (lvl, l) in last.iter().enumerate() {
                if let Some((f, r)) = l
                    && *r != u64::MAX
                {
                    let off = fs.fsb_split(*f).map_or(0, |(a, bb)| fs.agb_byte(a, bb));
                    fs.error(
                        "xfs.bmbt.sibling",
                        off,
                        format!("inode {ino}: last bmbt block at level {lvl} has a right sibling"),
                    );
                }
            }
        }
        _ => return None,
    }
    if Fs::w(ext.len()) != n {
        fs.error(
            "xfs.inode.nextents",
            ioff.saturating_add(if data { 0x4C } else { 0x50 }),
            format!(
                "inode {ino}: {which} fork counts {n} extents, maps {}",
                ext.len()
            ),
        );
    }
    // Order, range, and ownership of every extent.
    let mut end_prev = 0u64;
    for (i, e) in ext.iter().enumerate() {
        // repair's fs_max_file_offset: the largest byte offset, in blocks
        let max_off = (u64::MAX >> 1) >> fs.sb.blocklog.min(63);
        let bad_len = e.len == 0 || e.off.saturating_add(e.len) > max_off;
        if bad_len || (i > 0 && e.off < end_prev) {
            fs.error("xfs.bmap.order", ioff, format!("inode {ino}: {which} extent {i} (file block {} + {}) is empty, past the maximum offset, or overlaps the previous one", e.off, e.len));
            return None;
        }
        end_prev = e.off.saturating_add(e.len);
        if e.unwritten && (!data || !d.is_reg() || fs.is_meta_ino(ino)) {
            fs.error("xfs.bmap.unwritten", ioff, format!("inode {ino}: {which} extent {i} is marked unwritten, which only file data may be (not a realtime or quota metadata file's)"));
        }
        if rt && data {
            if e.start.saturating_add(e.len) > fs.sb.rblocks {
                fs.error(
                    "xfs.bmap.range",
                    ioff,
                    format!(
                        "inode {ino}: realtime extent {i} ({} + {}) lies past the realtime section",
                        e.start, e.len
                    ),
                );
                return None;
            }
        } else {
            let Some((agno, agbno)) = fs.fsb_split(e.start) else {
                fs.error("xfs.bmap.range", ioff, format!("inode {ino}: {which} extent {i} starts at block {:#x}, outside the filesystem", e.start));
                return None;
            };
            if agbno.saturating_add(e.len) > fs.ag_len(agno) || agbno < fs.first_free_agbno() {
                fs.error(
                    "xfs.bmap.range",
                    ioff,
                    format!(
                        "inode {ino}: {which} extent {i} ({agno}/{agbno} + {}) does not fit its AG",
                        e.len
                    ),
                );
                return None;
            }
            let (was_free, dup, shared) = cx.claims.claim_data(fs, agno, agbno, e.len);
            if let Some(r) = cx.claims.rmaps.as_mut() {
                let flags = if data { 0 } else { crate::rmap::ATTR }
                    | if e.unwritten {
                        crate::rmap::UNWRITTEN
                    } else {
                        0
                    };
                r.expect((agno, agbno, e.len, ino, e.off | flags));
            }
            if (shared > 0 || cx.claims.refcount_shared(agno, agbno, e.len))
                && d.flags2 & inode::flags2::REFLINK == 0
                && data
            {
                fs.error("xfs.inode.reflink_flag", ioff.saturating_add(0x78), format!("inode {ino} shares blocks with another file (extent {agno}/{agbno} + {}) but is not marked reflinked", e.len));
            }
            let boff = fs.agb_byte(agno, agbno);
            if was_free > 0 {
                fs.error("xfs.space.data_in_free", boff, format!("inode {ino}: {which} extent {agno}/{agbno} + {} claims {was_free} blocks the free-space trees call free", e.len));
            }
            if dup > 0 {
                fs.error("xfs.space.multiply_claimed", boff, format!("inode {ino}: {which} extent {agno}/{agbno} + {} claims {dup} blocks already in use", e.len));
            }
        }
        *blocks = blocks.saturating_add(e.len);
    }
    Some(ext)
}

/// Walks one bmbt block at `fsb`; `false` when the fork cannot be mapped.
#[allow(clippy::too_many_arguments)]
fn bmbt(
    fs: &mut Fs<'_>,
    cx: &mut Cx<'_>,
    ino: u64,
    fsb: u64,
    level: u16,
    key: Option<u64>,
    last: &mut Vec<Option<(u64, u64)>>,
    ext: &mut Vec<Extent>,
    blocks: &mut u64,
    which: &str,
) -> bool {
    let Some((agno, agbno)) = fs.fsb_split(fsb).filter(|&(a, b)| fs.agbno_ok(a, b)) else {
        // The pointer is in the inode's fork root or a parent block; the
        // inode is where to look.
        let at = fs.ino_byte(ino).unwrap_or(0);
        fs.error(
            "xfs.bmbt.ptr",
            at,
            format!(
                "inode {ino}: {which} fork btree points at block {fsb:#x}, outside the filesystem"
            ),
        );
        return false;
    };
    let off = fs.agb_byte(agno, agbno);
    if !cx.claims.claim_meta(fs, agno, agbno, 1, "bmbt") {
        return false;
    }
    if let Some(r) = cx.claims.rmaps.as_mut() {
        let attr = if which == "attribute" {
            crate::rmap::ATTR
        } else {
            0
        };
        r.expect((agno, agbno, 1, ino, crate::rmap::BMBT | attr));
    }
    *blocks = blocks.saturating_add(1);
    let Some(b) = fs.read(off, fs.bs, "bmbt block") else {
        return false;
    };
    let magic = be32(&b, 0);
    let want = if fs.v5 {
        inode::BMAP_MAGIC_V5
    } else {
        inode::BMAP_MAGIC_V4
    };
    if magic != want {
        fs.error(
            "xfs.bmbt.magic",
            off,
            format!("inode {ino}: bmbt block {agno}/{agbno} has bad magic {magic:#x}"),
        );
        return false;
    }
    let hdr = if fs.v5 { 72usize } else { 24 };
    if fs.v5 {
        if !crc::verify(&b, 0x40) {
            fs.error(
                "xfs.bmbt.crc",
                off.saturating_add(0x40),
                format!("inode {ino}: bmbt block {agno}/{agbno} has a bad CRC"),
            );
        }
        let blkno = be64(&b, 0x18);
        let uuid: [u8; 16] = arr(&b, 0x28);
        let owner = be64(&b, 0x38);
        if blkno != off / 512 || uuid != fs.uuid || owner != ino {
            fs.error("xfs.bmbt.header", off.saturating_add(0x18), format!("inode {ino}: bmbt block {agno}/{agbno} does not describe itself (daddr {blkno}, owner {owner})"));
            return false;
        }
        fs.saw_lsn(be64(&b, 0x20), off.saturating_add(0x20), "bmbt block");
    }
    let lvl = be16(&b, 4);
    if lvl != level {
        fs.error(
            "xfs.bmbt.level",
            off.saturating_add(4),
            format!("inode {ino}: bmbt block {agno}/{agbno} is at level {lvl}, expected {level}"),
        );
        return false;
    }
    let n = u64::from(be16(&b, 6));
    let leaf = level == 0;
    let mx = fs.bs.saturating_sub(Fs::w(hdr)) / 16;
    if n == 0 || n > mx {
        fs.error(
            "xfs.bmbt.numrecs",
            off.saturating_add(6),
            format!("inode {ino}: bmbt block {agno}/{agbno} holds {n} records (max {mx})"),
        );
        return false;
    }
    let left = be64(&b, 8);
    let right = be64(&b, 16);
    let li = usize::from(level);
    if last.len() <= li {
        last.resize(li.saturating_add(1), None);
    }
    let chain_ok = match last.get(li).copied().flatten() {
        None => left == u64::MAX,
        Some((p, pr)) => left == p && pr == fsb,
    };
    if !chain_ok || left == fsb || right == fsb {
        fs.error("xfs.bmbt.sibling", off.saturating_add(8), format!("inode {ino}: bmbt block {agno}/{agbno} has sibling pointers left {left:#x} right {right:#x} that do not match the tree"));
    }
    if let Some(s) = last.get_mut(li) {
        *s = Some((fsb, right));
    }
    if leaf {
        let first = inode::extent(bytes(&b, hdr, 16));
        if key.is_some_and(|k| k != first.off) {
            fs.error(
                "xfs.bmbt.key",
                off,
                format!(
                    "inode {ino}: bmbt key for block {agno}/{agbno} does not match its first extent"
                ),
            );
        }
        for r in inode::records(&b, hdr, Fs::u(n), 16) {
            if Fs::w(ext.len()) >= inode::MAX_EXTENTS_PER_FORK {
                fs.incomplete.get_or_insert_with(|| {
                    format!(
                        "inode {ino} has more than {} extents",
                        inode::MAX_EXTENTS_PER_FORK
                    )
                });
                return false;
            }
            ext.push(inode::extent(r));
        }
        return true;
    }
    let ptrs = hdr.saturating_add(Fs::u(mx).saturating_mul(8));
    let first_key = be64(&b, hdr);
    if key.is_some_and(|k| k != first_key) {
        fs.error("xfs.bmbt.key", off, format!("inode {ino}: bmbt key for block {agno}/{agbno} does not match the child's first key"));
    }
    let mut prev: Option<u64> = None;
    for i in 0..Fs::u(n) {
        let k = be64(&b, hdr.saturating_add(i.saturating_mul(8)));
        if prev.is_some_and(|p| k <= p) {
            fs.error(
                "xfs.bmbt.key",
                off.saturating_add(Fs::w(hdr)),
                format!("inode {ino}: bmbt node {agno}/{agbno} keys out of order"),
            );
        }
        prev = Some(k);
        let p = be64(&b, ptrs.saturating_add(i.saturating_mul(8)));
        if !bmbt(
            fs,
            cx,
            ino,
            p,
            level.saturating_sub(1),
            Some(k),
            last,
            ext,
            blocks,
            which,
        ) {
            return false;
        }
    }
    true
}

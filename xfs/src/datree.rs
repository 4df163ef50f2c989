//! The dabtree (`xfs_da_node`): the hash-ordered btree that indexes node
//! directories and attribute forks. Walked from its root as the kernel's
//! `xfs_da3_node_lookup_int` and `xfs_repair`'s `verify_da_path` do:
//! levels fall by one to the leaves, each level's blocks chain through
//! forw/back in order, and every node entry's hash is the last hash of the
//! subtree it points to. Each block is visited once.

use crate::fs::Fs;
use crate::inode::Extent;
use imgcheck_core::bytes::{be16, be32};
use std::collections::HashSet;

/// `XFS_DA_NODE_MAXDEPTH`.
pub const MAX_DEPTH: u16 = 5;
const NODE_V5: u16 = 0x3EBE;
const NODE_V4: u16 = 0xFEBE;

/// What the tree indexes.
pub struct DaCx<'m> {
    /// Owning inode.
    pub ino: u64,
    /// Its byte offset (where findings without a block point).
    pub at: u64,
    /// The fork's mapping, sorted by file offset.
    pub map: &'m [Extent],
    /// Filesystem blocks per tree block (directories: the directory block).
    pub fsbs: u64,
    /// Leaf magics (v4, v5).
    pub leaf_magic: (u16, u16),
    /// "directory" or "attribute fork".
    pub what: &'static str,
    /// Finding code prefix.
    pub code: &'static str,
}

struct Walk {
    seen: HashSet<u64>,
    /// Per level: (last block, its forw pointer).
    chain: Vec<Option<(u64, u32)>>,
}

fn lookup(map: &[Extent], off: u64) -> Option<u64> {
    let i = map.partition_point(|e| e.off.saturating_add(e.len) <= off);
    let e = map.get(i)?;
    (e.off <= off).then(|| e.start.saturating_add(off.saturating_sub(e.off)))
}

fn read(fs: &mut Fs<'_>, cx: &DaCx<'_>, blk: u64) -> Option<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut first = None;
    for k in 0..cx.fsbs {
        let fsb = lookup(cx.map, blk.saturating_add(k))?;
        let (a, b) = fs.fsb_split(fsb)?;
        let off = fs.agb_byte(a, b);
        first.get_or_insert(off);
        out.extend_from_slice(&fs.read(off, fs.bs, "dabtree block")?);
    }
    Some((first.unwrap_or(0), out))
}

/// Walks the tree whose root is at file block `root`; `leaf_last_hash`
/// gives a leaf's last hash (None when the leaf is empty or unreadable).
pub fn walk(
    fs: &mut Fs<'_>,
    cx: &DaCx<'_>,
    root: u64,
    leaf_last_hash: &dyn Fn(&[u8]) -> Option<u32>,
) {
    let mut w = Walk {
        seen: HashSet::new(),
        chain: Vec::new(),
    };
    let top = visit(fs, cx, &mut w, root, None, leaf_last_hash, true);
    let _ = top;
    for (lvl, c) in w.chain.iter().enumerate() {
        if let Some((blk, forw)) = c
            && *forw != 0
        {
            fs.error(
                format!("{}.sibling", cx.code),
                cx.at,
                format!("{} of inode {}: the last block at level {lvl} (file block {blk}) has a forward pointer {forw}", cx.what, cx.ino),
            );
        }
    }
}

/// Visits one block; returns its last hash.
#[allow(clippy::too_many_arguments)]
fn visit(
    fs: &mut Fs<'_>,
    cx: &DaCx<'_>,
    w: &mut Walk,
    blk: u64,
    want_level: Option<u16>,
    leaf_last_hash: &dyn Fn(&[u8]) -> Option<u32>,
    root: bool,
) -> Option<u32> {
    if !w.seen.insert(blk) || w.seen.len() > (1 << 20) {
        fs.error(
            format!("{}.cycle", cx.code),
            cx.at,
            format!(
                "{} of inode {}: block {blk} is reached twice in its hash tree",
                cx.what, cx.ino
            ),
        );
        return None;
    }
    let Some((disk, b)) = read(fs, cx, blk) else {
        fs.error(
            format!("{}.hole", cx.code),
            cx.at,
            format!(
                "{} of inode {}: hash tree block {blk} is not mapped",
                cx.what, cx.ino
            ),
        );
        return None;
    };
    let forw = be32(&b, 0);
    let back = be32(&b, 4);
    let magic = be16(&b, 8);
    let is_node = matches!(magic, NODE_V5 | NODE_V4);
    let is_leaf = magic == cx.leaf_magic.0 || magic == cx.leaf_magic.1;
    if !is_node && !is_leaf {
        return None; // the block's own check names the bad magic
    }
    let (cnt_at, hdr) = if fs.v5 { (56usize, 64usize) } else { (12, 16) };
    let level = if is_node {
        be16(&b, cnt_at.saturating_add(2))
    } else {
        0
    };
    if let Some(wl) = want_level
        && wl != level
    {
        fs.error(format!("{}.level", cx.code), disk.saturating_add(Fs::w(cnt_at)), format!("{} of inode {}: hash tree block {blk} is at level {level}, its parent expects {wl}", cx.what, cx.ino));
        return None;
    }
    if is_node && (level == 0 || level > MAX_DEPTH) {
        fs.error(
            format!("{}.level", cx.code),
            disk.saturating_add(Fs::w(cnt_at)),
            format!(
                "{} of inode {}: hash tree node {blk} has level {level}",
                cx.what, cx.ino
            ),
        );
        return None;
    }
    // sibling chain at this level
    let li = usize::from(level);
    if w.chain.len() <= li {
        w.chain.resize(li.saturating_add(1), None);
    }
    let prev = w.chain.get(li).copied().flatten();
    let blk32 = u32::try_from(blk).unwrap_or(u32::MAX);
    let ok = match prev {
        None => back == 0,
        Some((p, pf)) => u64::from(back) == p && pf == blk32,
    };
    if !ok || (root && (forw != 0 || back != 0)) {
        fs.error(format!("{}.sibling", cx.code), disk, format!("{} of inode {}: hash tree block {blk} has forw {forw} back {back}, not its neighbours at level {level}", cx.what, cx.ino));
    }
    if let Some(s) = w.chain.get_mut(li) {
        *s = Some((blk, forw));
    }
    if !is_node {
        return leaf_last_hash(&b);
    }
    let count = usize::from(be16(&b, cnt_at));
    let max = (b.len().saturating_sub(hdr)) / 8;
    if count == 0 || count > max {
        fs.error(
            format!("{}.node", cx.code),
            disk.saturating_add(Fs::w(cnt_at)),
            format!(
                "{} of inode {}: hash tree node {blk} has {count} entries (max {max})",
                cx.what, cx.ino
            ),
        );
        return None;
    }
    let mut last = None;
    let mut prev_hash = 0u32;
    for i in 0..count {
        let p = hdr.saturating_add(i.saturating_mul(8));
        let h = be32(&b, p);
        let before = u64::from(be32(&b, p.saturating_add(4)));
        if h < prev_hash {
            fs.error(
                format!("{}.node", cx.code),
                disk.saturating_add(Fs::w(p)),
                format!(
                    "{} of inode {}: hash tree node {blk} entry {i} is out of hash order",
                    cx.what, cx.ino
                ),
            );
        }
        prev_hash = h;
        let child = visit(
            fs,
            cx,
            w,
            before,
            Some(level.saturating_sub(1)),
            leaf_last_hash,
            false,
        );
        if let Some(ch) = child
            && ch != h
        {
            fs.error(
                format!("{}.node", cx.code),
                disk.saturating_add(Fs::w(p)),
                format!("{} of inode {}: hash tree node {blk} entry {i} gives hash {h:#x}, its subtree ends at {ch:#x}", cx.what, cx.ino),
            );
        }
        last = Some(h);
    }
    last
}

/// The last hash of a directory leafn or attribute leaf block (entries of
/// 8 bytes, hash first, from `hdr`, count at `cnt_at`).
pub fn last_hash(b: &[u8], cnt_at: usize, hdr: usize) -> Option<u32> {
    let count = usize::from(be16(b, cnt_at));
    if count == 0 {
        return None;
    }
    Some(be32(
        b,
        hdr.saturating_add(count.saturating_sub(1).saturating_mul(8)),
    ))
}

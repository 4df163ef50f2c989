//! Short-form (per-AG) btrees: the free-space trees (bnobt, cntbt), the
//! inode trees (inobt, finobt), the reverse-mapping and refcount trees.
//! One walker checks every block as the kernel's verifiers and
//! `xfs_repair`'s `scan_sbtree` do (magic, level, record counts, v5 header:
//! CRC, UUID, own address, owner; siblings; node keys against the child's
//! first key) and hands each leaf record to a visitor. Every block is
//! visited once: a block already claimed is a finding, never a second walk.

use crate::ag::NULLAGBLOCK;
use crate::claims::Claims;
use crate::crc;
use crate::fs::Fs;
use imgcheck_core::bytes::{arr, be16, be32, be64, bytes};

/// Which tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tree {
    /// Free space by block number.
    Bno,
    /// Free space by length.
    Cnt,
    /// Inode chunks.
    Ino,
    /// Inode chunks with free inodes.
    Fino,
    /// Reverse mappings.
    Rmap,
    /// Reference counts.
    Refc,
}

impl Tree {
    /// Magic for v4 / v5 blocks.
    pub fn magic(self, v5: bool) -> u32 {
        match (self, v5) {
            (Tree::Bno, false) => 0x4142_5442,
            (Tree::Bno, true) => 0x4142_3342,
            (Tree::Cnt, false) => 0x4142_5443,
            (Tree::Cnt, true) => 0x4142_3343,
            (Tree::Ino, false) => 0x4941_4254,
            (Tree::Ino, true) => 0x4941_4233,
            (Tree::Fino, false) => 0x4649_4254,
            (Tree::Fino, true) => 0x4649_4233,
            (Tree::Rmap, _) => 0x524D_4233,
            (Tree::Refc, _) => 0x5233_4643,
        }
    }
    /// Name as repair prints it.
    pub fn name(self) -> &'static str {
        match self {
            Tree::Bno => "bnobt",
            Tree::Cnt => "cntbt",
            Tree::Ino => "inobt",
            Tree::Fino => "finobt",
            Tree::Rmap => "rmapbt",
            Tree::Refc => "refcountbt",
        }
    }
    /// Finding code prefix.
    pub fn code(self) -> &'static str {
        match self {
            Tree::Bno => "xfs.bnobt",
            Tree::Cnt => "xfs.cntbt",
            Tree::Ino => "xfs.inobt",
            Tree::Fino => "xfs.finobt",
            Tree::Rmap => "xfs.rmapbt",
            Tree::Refc => "xfs.refcountbt",
        }
    }
    /// Leaf record length.
    pub fn rec_len(self) -> u64 {
        match self {
            Tree::Bno | Tree::Cnt => 8,
            Tree::Ino | Tree::Fino => 16,
            Tree::Rmap => 24,
            Tree::Refc => 12,
        }
    }
    /// Node key length (rmap nodes hold low and high keys).
    pub fn key_len(self) -> u64 {
        match self {
            Tree::Bno | Tree::Cnt => 8,
            Tree::Ino | Tree::Fino | Tree::Refc => 4,
            Tree::Rmap => 40,
        }
    }
    /// The key of a leaf record (the low key for rmap), as bytes of `key_len` (first half for rmap).
    fn rec_key(self, rec: &[u8]) -> Vec<u8> {
        match self {
            Tree::Bno | Tree::Cnt => bytes(rec, 0, 8).to_vec(),
            Tree::Ino | Tree::Fino | Tree::Refc => bytes(rec, 0, 4).to_vec(),
            // startblock, owner, offset (the key skips blockcount)
            // (the key's offset drops the unwritten flag: ondisk_rec_offset_to_key)
            Tree::Rmap => {
                let mut k = bytes(rec, 0, 4).to_vec();
                k.extend_from_slice(bytes(rec, 8, 8));
                let off = be64(rec, 16) & !(1u64 << 61);
                k.extend_from_slice(&off.to_be_bytes());
                k
            }
        }
    }
    /// Width of the low key compared against a child's first key.
    fn low_key_len(self) -> usize {
        match self {
            Tree::Rmap => 20,
            _ => Fs::u(self.key_len()),
        }
    }
}

/// Header length of a short-form block.
pub fn hdr_len(v5: bool) -> u64 {
    if v5 { 56 } else { 16 }
}

/// Records that fit a block at `level`.
pub fn maxrecs(bs: u64, v5: bool, t: Tree, leaf: bool) -> u64 {
    let space = bs.saturating_sub(hdr_len(v5));
    let per = if leaf {
        t.rec_len()
    } else {
        t.key_len().saturating_add(4)
    };
    space.checked_div(per).unwrap_or(0)
}

/// `xfs_btree_compute_maxlevels(minrecs, records)`.
pub fn compute_maxlevels(minleaf: u64, minnode: u64, records: u64) -> u32 {
    let (minleaf, minnode) = (minleaf.max(1), minnode.max(2));
    let mut level = 1u32;
    let mut blocks = records.div_ceil(minleaf);
    while blocks > 1 && level < 64 {
        blocks = blocks.div_ceil(minnode);
        level = level.saturating_add(1);
    }
    level
}

/// The deepest a tree of kind `t` can be in an AG of `agblocks`.
pub fn maxlevels(fs: &Fs<'_>, t: Tree) -> u32 {
    let mnr = |leaf| maxrecs(fs.bs, fs.v5, t, leaf) / 2;
    let records = match t {
        Tree::Bno | Tree::Cnt => fs.agblocks.saturating_add(1) / 2,
        Tree::Ino | Tree::Fino => (fs.agblocks << fs.inopblog().min(32)) / 64,
        Tree::Rmap | Tree::Refc => fs.agblocks,
    };
    let l = compute_maxlevels(mnr(true), mnr(false), records);
    if t == Tree::Rmap && fs.sb.ro(crate::sb::ro_compat::REFLINK) {
        // Shared blocks make the record count unbounded by agblocks.
        return 9;
    }
    l
}

/// What a walk counted.
#[derive(Debug, Default, Clone, Copy)]
pub struct Walked {
    /// Blocks visited (the root included).
    pub blocks: u64,
    /// Leaf records seen.
    pub records: u64,
    /// A block failed so badly that part of the tree was not visited.
    pub damaged: bool,
}

/// Walks the tree rooted at `root` with `levels` levels in AG `agno`,
/// calling `visit(fs, record_offset, record)` for every leaf record in
/// key order. `claims`, when given, records every block as metadata.
pub fn walk(
    fs: &mut Fs<'_>,
    claims: &mut Claims,
    agno: u32,
    t: Tree,
    root: u32,
    levels: u32,
    visit: &mut dyn FnMut(&mut Fs<'_>, u64, &[u8]),
) -> Walked {
    let mut w = Walked::default();
    let hdr_at = fs.ag_sector(
        agno,
        if matches!(t, Tree::Ino | Tree::Fino) {
            2
        } else {
            1
        },
    );
    let max = maxlevels(fs, t);
    if levels == 0 || levels > max {
        fs.error(
            format!("{}.levels", t.code()),
            hdr_at,
            format!(
                "{} of AG {agno} claims {levels} levels (1..={max} possible)",
                t.name()
            ),
        );
        w.damaged = true;
        if levels == 0 {
            return w;
        }
    }
    if !fs.agbno_ok(agno, u64::from(root)) {
        fs.error(
            format!("{}.root", t.code()),
            hdr_at,
            format!(
                "{} root of AG {agno} is block {root}, not a block of the AG",
                t.name()
            ),
        );
        w.damaged = true;
        return w;
    }
    let mut st = State {
        w: &mut w,
        high: None,
        last_at_level: Vec::new(),
    };
    let top = levels.min(max.max(1)).saturating_sub(1);
    block(fs, claims, agno, t, root, top, true, None, &mut st, visit);
    // The last block of each level ends the chain.
    for (lvl, last) in st.last_at_level.iter().enumerate() {
        if let Some((b, r)) = last
            && *r != NULLAGBLOCK
        {
            fs.error(
                format!("{}.sibling", t.code()),
                fs.agb_byte(agno, u64::from(*b)).saturating_add(0xC),
                format!(
                    "{} block {agno}/{b}, the last at level {lvl}, has right sibling {r}",
                    t.name()
                ),
            );
        }
    }
    w
}

struct State<'s> {
    w: &'s mut Walked,
    /// The highest key of the subtree just walked (rmapbt's high keys).
    high: Option<[u8; 20]>,
    /// The block last visited at each level and its right pointer, for the sibling chain.
    last_at_level: Vec<Option<(u32, u32)>>,
}

#[allow(clippy::too_many_arguments)]
fn block(
    fs: &mut Fs<'_>,
    claims: &mut Claims,
    agno: u32,
    t: Tree,
    agbno: u32,
    level: u32,
    isroot: bool,
    parent_key: Option<(&[u8], u64)>,
    st: &mut State<'_>,
    visit: &mut dyn FnMut(&mut Fs<'_>, u64, &[u8]),
) {
    let off = fs.agb_byte(agno, u64::from(agbno));
    let what = t.name();
    st.high = None;
    if !claims.claim_meta(fs, agno, u64::from(agbno), 1, what) {
        st.w.damaged = true;
        return;
    }
    let Some(b) = fs.read(off, fs.bs, what) else {
        st.w.damaged = true;
        return;
    };
    st.w.blocks = st.w.blocks.saturating_add(1);
    let code = t.code();
    let magic = be32(&b, 0);
    if magic != t.magic(fs.v5) {
        fs.error(
            format!("{code}.magic"),
            off,
            format!("{what} block {agno}/{agbno} has bad magic {magic:#x}"),
        );
        st.w.damaged = true;
        return;
    }
    if fs.v5 {
        if !crc::verify(&b, 0x34) {
            fs.error(
                format!("{code}.crc"),
                off.saturating_add(0x34),
                format!("{what} block {agno}/{agbno} has a bad CRC"),
            );
        }
        let blkno = be64(&b, 0x10);
        let uuid: [u8; 16] = arr(&b, 0x20);
        let owner = be32(&b, 0x30);
        if blkno != off / 512 || uuid != fs.uuid || owner != agno {
            fs.error(
                format!("{code}.header"),
                off.saturating_add(0x10),
                format!("{what} block {agno}/{agbno} does not describe itself: daddr {blkno} (at {}), owner AG {owner}, UUID {}", off / 512, crate::sb::uuid_text(&uuid)),
            );
            st.w.damaged = true;
            return;
        }
        fs.saw_lsn(be64(&b, 0x18), off.saturating_add(0x18), "btree block");
    }
    let lvl = u32::from(be16(&b, 4));
    if lvl != level {
        fs.error(
            format!("{code}.level"),
            off.saturating_add(4),
            format!("{what} block {agno}/{agbno} is at level {lvl}, expected {level}"),
        );
        st.w.damaged = true;
        return;
    }
    let leaf = level == 0;
    let numrecs = u64::from(be16(&b, 6));
    let mx = maxrecs(fs.bs, fs.v5, t, leaf);
    let mn = mx / 2;
    if numrecs > mx || (!isroot && numrecs < mn) {
        fs.error(
            format!("{code}.numrecs"),
            off.saturating_add(6),
            format!("{what} block {agno}/{agbno} holds {numrecs} records (min {mn}, max {mx})"),
        );
        if numrecs > mx {
            st.w.damaged = true;
            return;
        }
    }
    // Sibling pointers: NULL or a block of the AG other than this one;
    // the left one names the block last seen at this level, whose right
    // pointer named this one.
    let left = be32(&b, 8);
    let right = be32(&b, 0xC);
    let lvl_idx = Fs::u(u64::from(level));
    if st.last_at_level.len() <= lvl_idx {
        st.last_at_level.resize(lvl_idx.saturating_add(1), None);
    }
    let prev = st.last_at_level.get(lvl_idx).copied().flatten();
    let chain_ok = match prev {
        None => left == NULLAGBLOCK,
        Some((p, p_right)) => left == p && p_right == agbno,
    };
    let bad_ptr = |p: u32| p != NULLAGBLOCK && (p == agbno || !fs.agbno_ok(agno, u64::from(p)));
    if !chain_ok || bad_ptr(left) || bad_ptr(right) || (isroot && right != NULLAGBLOCK) {
        fs.error(
            format!("{code}.sibling"),
            off.saturating_add(8),
            format!("{what} block {agno}/{agbno} has sibling pointers left {left} right {right} that do not match the tree"),
        );
    }
    if let Some(slot) = st.last_at_level.get_mut(lvl_idx) {
        *slot = Some((agbno, right));
    }
    let hdr = Fs::u(hdr_len(fs.v5));
    if leaf {
        let rl = Fs::u(t.rec_len());
        let first_key = bytes(&b, hdr, rl);
        if let Some((pk, pk_off)) = parent_key {
            let k = t.rec_key(first_key);
            if numrecs > 0 && pk.get(..t.low_key_len()) != k.get(..t.low_key_len()) {
                fs.error(
                    format!("{code}.key"),
                    pk_off,
                    format!(
                        "{what} node key for block {agno}/{agbno} does not match its first record"
                    ),
                );
            }
        }
        let mut high: Option<[u8; 20]> = None;
        for i in 0..Fs::u(numrecs) {
            let at = hdr.saturating_add(i.saturating_mul(rl));
            let rec = bytes(&b, at, rl);
            st.w.records = st.w.records.saturating_add(1);
            if t == Tree::Rmap {
                let h = rmap_high_key(rec);
                if high.is_none_or(|m| rmap_key_cmp(&h, &m) == std::cmp::Ordering::Greater) {
                    high = Some(h);
                }
            }
            visit(fs, off.saturating_add(Fs::w(at)), rec);
        }
        st.high = high;
        return;
    }
    let kl = Fs::u(t.key_len());
    let ptrs_at = hdr.saturating_add(Fs::u(mx).saturating_mul(kl));
    if let Some((pk, pk_off)) = parent_key {
        let k = bytes(&b, hdr, t.low_key_len());
        if numrecs > 0 && pk.get(..t.low_key_len()) != Some(k) {
            fs.error(
                format!("{code}.key"),
                pk_off,
                format!(
                    "{what} node key for block {agno}/{agbno} does not match the child's first key"
                ),
            );
        }
    }
    let mut prev_key: Option<&[u8]> = None;
    let mut node_high: Option<[u8; 20]> = None;
    for i in 0..Fs::u(numrecs) {
        let key_at = hdr.saturating_add(i.saturating_mul(kl));
        let key = bytes(&b, key_at, kl);
        let low = bytes(key, 0, t.low_key_len());
        if let Some(p) = prev_key
            && key_cmp(t, p, low) == std::cmp::Ordering::Greater
        {
            fs.error(
                format!("{code}.key_order"),
                off.saturating_add(Fs::w(key_at)),
                format!("{what} node {agno}/{agbno}: key {i} is out of order"),
            );
        }
        prev_key = Some(low);
        let ptr_at = ptrs_at.saturating_add(i.saturating_mul(4));
        let child = be32(&b, ptr_at);
        if !fs.agbno_ok(agno, u64::from(child)) {
            fs.error(
                format!("{code}.ptr"),
                off.saturating_add(Fs::w(ptr_at)),
                format!("{what} node {agno}/{agbno}: pointer {i} is block {child}, not a block of the AG"),
            );
            st.w.damaged = true;
            return;
        }
        let key_off = off.saturating_add(Fs::w(key_at));
        st.high = None;
        block(
            fs,
            claims,
            agno,
            t,
            child,
            level.saturating_sub(1),
            false,
            Some((low, key_off)),
            st,
            visit,
        );
        if t == Tree::Rmap {
            let stored: [u8; 20] = arr(key, 20);
            if let Some(h) = st.high
                && h != stored
            {
                fs.error(
                    format!("{code}.key"),
                    key_off.saturating_add(20),
                    format!("{what} node {agno}/{agbno}: high key {i} does not match the highest key below it"),
                );
            }
            if node_high.is_none_or(|m| rmap_key_cmp(&stored, &m) == std::cmp::Ordering::Greater) {
                node_high = Some(stored);
            }
        }
    }
    st.high = node_high;
}

/// The high key of an rmap record (`xfs_rmapbt_init_high_key_from_rec`):
/// its last block, and for file data its last file offset; the key's
/// offset drops the unwritten flag.
pub fn rmap_high_key(rec: &[u8]) -> [u8; 20] {
    let start = be32(rec, 0);
    let adj = be32(rec, 4).saturating_sub(1);
    let owner = be64(rec, 8);
    let mut off = be64(rec, 16) & !(1u64 << 61);
    let special = owner >= u64::MAX - 8;
    if !special && off & (1u64 << 62) == 0 {
        off = off.saturating_add(u64::from(adj));
    }
    let mut k = [0u8; 20];
    k[..4].copy_from_slice(&start.saturating_add(adj).to_be_bytes());
    k[4..12].copy_from_slice(&owner.to_be_bytes());
    k[12..].copy_from_slice(&off.to_be_bytes());
    k
}

/// rmap keys in the kernel's order: block, owner, offset without flags.
fn rmap_key_cmp(a: &[u8; 20], b: &[u8; 20]) -> std::cmp::Ordering {
    let m = (1u64 << 54) - 1;
    (be32(a, 0), be64(a, 4), be64(a, 12) & m).cmp(&(be32(b, 0), be64(b, 4), be64(b, 12) & m))
}

/// Compares two low keys of tree `t` in the tree's order.
pub fn key_cmp(t: Tree, a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    match t {
        // cntbt keys are (blockcount, startblock)
        Tree::Cnt => (be32(a, 4), be32(a, 0)).cmp(&(be32(b, 4), be32(b, 0))),
        Tree::Rmap => {
            (be32(a, 0), be64(a, 4), be64(a, 12)).cmp(&(be32(b, 0), be64(b, 4), be64(b, 12)))
        }
        _ => be32(a, 0).cmp(&be32(b, 0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maxrecs_match_the_kernel() {
        // 4 KiB v5: rmap node 91 slots (xfs.md), bnobt leaf 505, inobt leaf 252.
        assert_eq!(maxrecs(4096, true, Tree::Rmap, false), 91);
        assert_eq!(maxrecs(4096, true, Tree::Bno, true), 505);
        assert_eq!(maxrecs(4096, true, Tree::Ino, true), 252);
        assert_eq!(compute_maxlevels(252, 252, 1), 1);
        assert_eq!(compute_maxlevels(2, 2, 5), 3);
    }
}

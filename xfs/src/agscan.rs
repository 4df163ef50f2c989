//! Phase 2 for one AG (`repair/scan.c`): the free-space btrees against
//! each other and the AGF, the free list, the inode btrees against the
//! AGI, the rmap and refcount btrees; what they count for the superblock.

use crate::ag::{self, AgHeaders};
use crate::btree::{self, Tree};
use crate::claims::Claims;
use crate::fs::Fs;
use crate::inodes::{self, Chunk};
use crate::sb;
use imgcheck_core::bytes::{be32, be64, u8_at};

/// Counted over every AG, for the superblock comparison.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    pub(crate) icount: u64,
    pub(crate) ifree: u64,
    pub(crate) fdblocks: u64,
    /// Every AG's counts were seen (no AGF/AGI unusable).
    pub(crate) complete: bool,
    pub(crate) bad_ags: u32,
}

/// Phase 2 for one AG: the free-space trees against each other and the
/// AGF, the free list, the inode trees against the AGI, rmap and refcount.
pub(crate) fn scan_ag(
    fs: &mut Fs<'_>,
    claims: &mut Claims,
    h: &AgHeaders,
    totals: &mut Totals,
    chunks: &mut Vec<Chunk>,
) {
    let agno = h.agno;
    let agf_off = fs.ag_sector(agno, 1);
    let agi_off = fs.ag_sector(agno, 2);
    let rmap = fs.sb.ro(sb::ro_compat::RMAPBT);
    let reflink = fs.sb.ro(sb::ro_compat::REFLINK);
    match (&h.agf, h.agf_ok) {
        (Some(agf), true) => {
            for &b in &h.agfl {
                claims.claim_meta(fs, agno, u64::from(b), 1, "AGFL");
            }
            let mut bno = SpaceTally::default();
            let wb = btree::walk(
                fs,
                claims,
                agno,
                Tree::Bno,
                agf.bno_root,
                agf.bno_level,
                &mut |fs, at, rec| {
                    bno.bno_rec(fs, agno, at, rec);
                },
            );
            let mut cnt = SpaceTally::default();
            let wc = btree::walk(
                fs,
                claims,
                agno,
                Tree::Cnt,
                agf.cnt_root,
                agf.cnt_level,
                &mut |fs, at, rec| {
                    cnt.cnt_rec(fs, agno, at, rec);
                },
            );
            // Free extents go into the claims after both trees were walked
            // (their blocks are metadata and must not read as free).
            for &(b, n) in &bno.extents_for_claims {
                claims.claim_free(fs, agno, b, n);
            }
            let trees_ok = !wb.damaged && !wc.damaged;
            if trees_ok && (bno.count, bno.total, bno.hash) != (cnt.count, cnt.total, cnt.hash) {
                fs.error(
                    "xfs.space.bno_cnt_disagree",
                    agf_off.saturating_add(0x10),
                    format!(
                        "AG {agno}: the by-block tree holds {} free extents ({} blocks) and the by-size tree {} ({} blocks): they must hold the same extents",
                        bno.count, bno.total, cnt.count, cnt.total
                    ),
                );
            }
            let mut btreeblks = wb
                .blocks
                .saturating_sub(1)
                .saturating_add(wc.blocks.saturating_sub(1));
            if rmap {
                let mut rt = RmapTally::default();
                let wr = btree::walk(
                    fs,
                    claims,
                    agno,
                    Tree::Rmap,
                    agf.rmap_root,
                    agf.rmap_level,
                    &mut |fs, at, rec| {
                        rt.rec(fs, agno, at, rec, reflink);
                    },
                );
                if let Some(r) = claims.rmaps.as_mut() {
                    for &(b, n, o, off) in &rt.recs {
                        r.record((agno, b, n, o, off));
                    }
                    if wr.damaged {
                        r.damaged.push(agno);
                    }
                }
                btreeblks = btreeblks.saturating_add(wr.blocks.saturating_sub(1));
                if !wr.damaged && u64::from(agf.rmap_blocks) != wr.blocks {
                    fs.error(
                        "xfs.agf.rmap_blocks",
                        agf_off.saturating_add(0x50),
                        format!(
                            "AGF of AG {agno} counts {} rmapbt blocks, the tree has {}",
                            agf.rmap_blocks, wr.blocks
                        ),
                    );
                }
            }
            if reflink {
                let mut rc = RefcTally::default();
                let wr = btree::walk(
                    fs,
                    claims,
                    agno,
                    Tree::Refc,
                    agf.refcount_root,
                    agf.refcount_level,
                    &mut |fs, at, rec| {
                        rc.rec(fs, agno, at, rec);
                    },
                );
                for &(b, n) in &rc.cow {
                    claims.claim_meta(fs, agno, b, n, "CoW staging extent");
                }
                for &(b, n, r) in &rc.shared {
                    claims.refcounts.push((agno, b, n, r));
                }
                if !wr.damaged && u64::from(agf.refcount_blocks) != wr.blocks {
                    fs.error(
                        "xfs.agf.refcount_blocks",
                        agf_off.saturating_add(0x54),
                        format!(
                            "AGF of AG {agno} counts {} refcountbt blocks, the tree has {}",
                            agf.refcount_blocks, wr.blocks
                        ),
                    );
                }
            }
            if trees_ok {
                if u64::from(agf.freeblks) != cnt.total {
                    fs.error(
                        "xfs.agf.freeblks",
                        agf_off.saturating_add(0x34),
                        format!(
                            "AGF of AG {agno} counts {} free blocks, the free-space tree holds {}",
                            agf.freeblks, cnt.total
                        ),
                    );
                }
                if u64::from(agf.longest) != cnt.longest {
                    fs.error("xfs.agf.longest", agf_off.saturating_add(0x38), format!("AGF of AG {agno} gives the longest free extent as {}, the tree's is {}", agf.longest, cnt.longest));
                }
                if fs.sb.lazy_counters() && u64::from(agf.btreeblks) != btreeblks {
                    fs.error("xfs.agf.btreeblks", agf_off.saturating_add(0x3C), format!("AGF of AG {agno} counts {} free-space btree blocks beyond the roots, the trees have {btreeblks}", agf.btreeblks));
                }
            }
            totals.fdblocks = totals
                .fdblocks
                .saturating_add(cnt.total)
                .saturating_add(Fs::w(h.agfl.len()))
                .saturating_add(btreeblks);
            if !trees_ok {
                totals.bad_ags = totals.bad_ags.saturating_add(1);
            }
        }
        _ => totals.bad_ags = totals.bad_ags.saturating_add(1),
    }
    match (&h.agi, h.agi_ok) {
        (Some(agi), true) => {
            let mut it = InoTally::default();
            let start = chunks.len();
            let wi = btree::walk(
                fs,
                claims,
                agno,
                Tree::Ino,
                agi.root,
                agi.level,
                &mut |fs, at, rec| {
                    if let Some(c) = it.rec(fs, agno, at, rec) {
                        if chunks.len() < inodes::MAX_CHUNKS {
                            chunks.push(c);
                        } else {
                            fs.incomplete.get_or_insert_with(|| {
                                "too many inode chunks to check every inode".into()
                            });
                        }
                    }
                },
            );
            let mut fino_blocks = 0;
            let mut fino_ok = true;
            let mut fino_free = 0u64;
            if fs.sb.ro(sb::ro_compat::FINOBT) {
                let mut ft = InoTally::default();
                let mut frecs: Vec<(u64, u64)> = Vec::new();
                let wf = btree::walk(
                    fs,
                    claims,
                    agno,
                    Tree::Fino,
                    agi.free_root,
                    agi.free_level,
                    &mut |fs, at, rec| {
                        if let Some(c) = ft.rec(fs, agno, at, rec) {
                            if c.freecount == 0 {
                                fs.error("xfs.finobt.record", at, format!("finobt of AG {agno}: chunk at AG inode {} has no free inodes", c.agino));
                            }
                            frecs.push((c.agino, c.free));
                        }
                    },
                );
                fino_blocks = wf.blocks;
                fino_ok = !wf.damaged;
                fino_free = ft.free;
                if fino_ok && !wi.damaged {
                    let with_free: Vec<(u64, u64)> = chunks
                        .get(start..)
                        .unwrap_or(&[])
                        .iter()
                        .filter(|c| c.freecount > 0)
                        .map(|c| (c.agino, c.free))
                        .collect();
                    if with_free != frecs {
                        fs.error(
                            "xfs.finobt.mismatch",
                            agi_off.saturating_add(0x148),
                            format!("AG {agno}: the free inode btree holds {} chunks, the inode btree has {} with free inodes (or their free masks differ)", frecs.len(), with_free.len()),
                        );
                    }
                }
            }
            if !wi.damaged {
                if u64::from(agi.count) != it.count {
                    fs.error(
                        "xfs.agi.count",
                        agi_off.saturating_add(0x10),
                        format!(
                            "AGI of AG {agno} counts {} inodes, the inode btree holds {}",
                            agi.count, it.count
                        ),
                    );
                }
                if u64::from(agi.freecount) != it.free {
                    fs.error(
                        "xfs.agi.freecount",
                        agi_off.saturating_add(0x1C),
                        format!(
                            "AGI of AG {agno} counts {} free inodes, the inode btree holds {}",
                            agi.freecount, it.free
                        ),
                    );
                }
                if fino_ok
                    && fs.sb.ro(sb::ro_compat::FINOBT)
                    && u64::from(agi.freecount) != fino_free
                    && u64::from(agi.freecount) == it.free
                {
                    fs.error("xfs.agi.freecount", agi_off.saturating_add(0x1C), format!("AGI of AG {agno} counts {} free inodes, the free inode btree holds {fino_free}", agi.freecount));
                }
            }
            if fs.sb.ro(sb::ro_compat::INOBTCNT) {
                if !wi.damaged && u64::from(agi.iblocks) != wi.blocks {
                    fs.error(
                        "xfs.agi.iblocks",
                        agi_off.saturating_add(0x150),
                        format!(
                            "AGI of AG {agno} counts {} inobt blocks, the tree has {}",
                            agi.iblocks, wi.blocks
                        ),
                    );
                }
                if fino_ok && u64::from(agi.fblocks) != fino_blocks {
                    fs.error(
                        "xfs.agi.fblocks",
                        agi_off.saturating_add(0x154),
                        format!(
                            "AGI of AG {agno} counts {} finobt blocks, the tree has {fino_blocks}",
                            agi.fblocks
                        ),
                    );
                }
            }
            totals.icount = totals.icount.saturating_add(it.count);
            totals.ifree = totals.ifree.saturating_add(it.free);
            if wi.damaged {
                totals.bad_ags = totals.bad_ags.saturating_add(1);
            }
        }
        _ => totals.bad_ags = totals.bad_ags.saturating_add(1),
    }
    totals.complete = totals.bad_ags == 0;
}

/// Free extents counted from one tree.
#[derive(Default)]
struct SpaceTally {
    count: u64,
    total: u64,
    longest: u64,
    hash: u64,
    last: Option<(u64, u64)>,
    extents_for_claims: Vec<(u64, u64)>,
}

fn mix(a: u64, b: u64) -> u64 {
    // splitmix64 of the pair: equal multisets give equal sums.
    let mut z = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.rotate_left(32);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl SpaceTally {
    fn valid(
        &mut self,
        fs: &mut Fs<'_>,
        agno: u32,
        at: u64,
        rec: &[u8],
        name: &str,
    ) -> Option<(u64, u64)> {
        let b = u64::from(be32(rec, 0));
        let n = u64::from(be32(rec, 4));
        if !fs.agbno_ok(agno, b)
            || n == 0
            || !fs.agbno_ok(agno, b.saturating_add(n).saturating_sub(1))
        {
            fs.error(
                format!("xfs.{name}.record"),
                at,
                format!("{name} of AG {agno}: free extent {b}+{n} is not inside the AG"),
            );
            return None;
        }
        self.count = self.count.saturating_add(1);
        self.total = self.total.saturating_add(n);
        self.longest = self.longest.max(n);
        self.hash = self.hash.wrapping_add(mix(b, n));
        Some((b, n))
    }
    fn bno_rec(&mut self, fs: &mut Fs<'_>, agno: u32, at: u64, rec: &[u8]) {
        let Some((b, n)) = self.valid(fs, agno, at, rec, "bnobt") else {
            return;
        };
        if let Some((pb, pn)) = self.last
            && b < pb.saturating_add(pn)
        {
            fs.error(
                "xfs.bnobt.order",
                at,
                format!("bnobt of AG {agno}: free extent {b}+{n} is out of order after {pb}+{pn}"),
            );
        }
        self.last = Some((b, n));
        if self.extents_for_claims.len() < (1 << 24) {
            self.extents_for_claims.push((b, n));
        }
    }
    fn cnt_rec(&mut self, fs: &mut Fs<'_>, agno: u32, at: u64, rec: &[u8]) {
        let Some((b, n)) = self.valid(fs, agno, at, rec, "cntbt") else {
            return;
        };
        if let Some((pb, pn)) = self.last
            && (n, b) <= (pn, pb)
        {
            fs.error(
                "xfs.cntbt.order",
                at,
                format!("cntbt of AG {agno}: free extent {b}+{n} is out of order after {pb}+{pn}"),
            );
        }
        self.last = Some((b, n));
    }
}

#[derive(Default)]
struct RmapTally {
    last: Option<(u64, u64, u64, u64)>,
    recs: Vec<(u64, u64, u64, u64)>,
}

impl RmapTally {
    fn rec(&mut self, fs: &mut Fs<'_>, agno: u32, at: u64, rec: &[u8], reflink: bool) {
        let b = u64::from(be32(rec, 0));
        let n = u64::from(be32(rec, 4));
        let owner = be64(rec, 8);
        let offset = be64(rec, 16);
        if n == 0 || b >= fs.ag_len(agno) || b.saturating_add(n) > fs.ag_len(agno) {
            fs.error(
                "xfs.rmapbt.record",
                at,
                format!("rmapbt of AG {agno}: mapping {b}+{n} is not inside the AG"),
            );
            return;
        }
        // Special owners are -1..-9; an inode owner must be an inode number.
        let special = owner >= u64::MAX - 8;
        if !special && !fs.ino_ok(owner) {
            fs.error(
                "xfs.rmapbt.record",
                at,
                format!(
                    "rmapbt of AG {agno}: mapping {b}+{n} names owner {owner:#x}, not an inode"
                ),
            );
        }
        let off = offset & ((1u64 << 54) - 1);
        let flags = offset >> 61;
        if special && (off != 0 || flags != 0) || offset & (0x7u64 << 54) != 0 {
            fs.error("xfs.rmapbt.record", at.saturating_add(16), format!("rmapbt of AG {agno}: mapping {b}+{n} has offset/flags {offset:#x} its owner cannot have"));
        }
        let key = (b, owner, offset, n);
        if let Some((pb, po, poff, pn)) = self.last {
            if (b, owner, offset) < (pb, po, poff) {
                fs.error(
                    "xfs.rmapbt.order",
                    at,
                    format!("rmapbt of AG {agno}: mapping {b}+{n} is out of order"),
                );
            } else if !reflink && b < pb.saturating_add(pn) {
                fs.error(
                    "xfs.rmapbt.overlap",
                    at,
                    format!(
                        "rmapbt of AG {agno}: mapping {b}+{n} overlaps {pb}+{pn} without reflink"
                    ),
                );
            }
        }
        self.last = Some(key);
        if self.recs.len() < crate::rmap::MAX_RMAPS {
            self.recs.push((b, n, owner, offset));
        }
    }
}

#[derive(Default)]
struct RefcTally {
    last_end: Option<(bool, u64)>,
    cow: Vec<(u64, u64)>,
    shared: Vec<(u64, u64, u32)>,
}

impl RefcTally {
    fn rec(&mut self, fs: &mut Fs<'_>, agno: u32, at: u64, rec: &[u8]) {
        let raw = be32(rec, 0);
        let cow = raw & 0x8000_0000 != 0;
        let b = u64::from(raw & 0x7fff_ffff);
        let n = u64::from(be32(rec, 4));
        let refs = be32(rec, 8);
        if n == 0 || !fs.agbno_ok(agno, b) || b.saturating_add(n) > fs.ag_len(agno) {
            fs.error(
                "xfs.refcountbt.record",
                at,
                format!("refcountbt of AG {agno}: extent {b}+{n} is not inside the AG"),
            );
            return;
        }
        if (cow && refs != 1) || (!cow && refs < 2) {
            fs.error(
                "xfs.refcountbt.record",
                at.saturating_add(8),
                format!(
                    "refcountbt of AG {agno}: extent {b}+{n} has refcount {refs}{}",
                    if cow {
                        " as CoW staging (must be 1)"
                    } else {
                        " (shared extents have at least 2)"
                    }
                ),
            );
        }
        if let Some((pcow, pend)) = self.last_end
            && (cow, b) < (pcow, pend)
        {
            fs.error(
                "xfs.refcountbt.order",
                at,
                format!("refcountbt of AG {agno}: extent {b}+{n} overlaps or is out of order"),
            );
        }
        self.last_end = Some((cow, b.saturating_add(n)));
        if self.cow.len().saturating_add(self.shared.len()) < (1 << 22) {
            if cow {
                self.cow.push((b, n));
            } else {
                self.shared.push((b, n, refs));
            }
        }
    }
}

#[derive(Default)]
struct InoTally {
    count: u64,
    free: u64,
    last: Option<u64>,
}

impl InoTally {
    fn rec(&mut self, fs: &mut Fs<'_>, agno: u32, at: u64, rec: &[u8]) -> Option<Chunk> {
        let agino = u64::from(be32(rec, 0));
        let sparse = fs.sb.inc(sb::incompat::SPINODES);
        let (holemask, count, freecount) = if sparse {
            (
                u16::from_be_bytes([u8_at(rec, 4), u8_at(rec, 5)]),
                u64::from(u8_at(rec, 6)),
                u64::from(u8_at(rec, 7)),
            )
        } else {
            (0u16, 64u64, u64::from(be32(rec, 4)))
        };
        let free = be64(rec, 8);
        let end = agino.saturating_add(63);
        let ipb = u64::from(fs.sb.inopblock).max(1);
        let block_aligned = if ipb > 64 {
            agino.is_multiple_of(64)
        } else {
            agino.is_multiple_of(ipb)
        };
        if !block_aligned || !ag::agino_in_ag(fs, agno, agino) || !ag::agino_in_ag(fs, agno, end) {
            fs.error("xfs.inobt.record", at, format!("inode btree of AG {agno}: chunk at AG inode {agino} is misaligned or not inside the AG"));
            return None;
        }
        if let Some(p) = self.last
            && agino < p.saturating_add(64)
        {
            fs.error("xfs.inobt.order", at, format!("inode btree of AG {agno}: chunk at AG inode {agino} overlaps or is out of order"));
            return None;
        }
        self.last = Some(agino);
        let hole_bits = inodes::holes_of(holemask);
        let real = 64u64.saturating_sub(u64::from(hole_bits.count_ones()));
        let free_real = u64::from((free & !hole_bits).count_ones());
        if hole_bits & !free != 0 {
            fs.error("xfs.inobt.record", at.saturating_add(8), format!("inode btree of AG {agno}: chunk at AG inode {agino} has sparse holes not marked free"));
        }
        if count != real || freecount != free_real || freecount > count {
            fs.error(
                "xfs.inobt.record",
                at.saturating_add(4),
                format!("inode btree of AG {agno}: chunk at AG inode {agino} records {count} inodes with {freecount} free, its masks give {real} with {free_real} free"),
            );
        }
        if fs.sb.has_align() && fs.sb.inoalignmt > 1 {
            let agbno = agino >> fs.inopblog().min(63);
            if !agbno.is_multiple_of(u64::from(fs.sb.inoalignmt)) {
                fs.error("xfs.inobt.record", at, format!("inode btree of AG {agno}: chunk at block {agbno} is not aligned to {} blocks", fs.sb.inoalignmt));
            }
        }
        self.count = self.count.saturating_add(real);
        self.free = self.free.saturating_add(free_real);
        Some(Chunk {
            agno,
            agino,
            holes: hole_bits,
            free,
            freecount: free_real,
            at,
        })
    }
}

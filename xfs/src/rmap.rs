//! The reverse-mapping cross-check (`xfs_repair` phase 4,
//! `rmaps_verify_btree`): every owner the check saw — AG headers, the log,
//! btree blocks, inode chunks, file extents and bmbt blocks — must be
//! recorded in the rmap btree exactly, and the btree must record nothing
//! else. Both sides are merged the way the kernel merges mappings
//! (contiguous blocks of one owner, contiguous file offsets, same flags)
//! and compared in order.

use crate::fs::Fs;

/// Special owners (`XFS_RMAP_OWN_*`).
pub mod owner {
    /// The AG headers.
    pub const FS: u64 = u64::MAX - 2;
    /// The internal log.
    pub const LOG: u64 = u64::MAX - 3;
    /// Free-space and rmap btree blocks, the AGFL.
    pub const AG: u64 = u64::MAX - 4;
    /// Inode btree blocks.
    pub const INOBT: u64 = u64::MAX - 5;
    /// Inode chunks.
    pub const INODES: u64 = u64::MAX - 6;
    /// Refcount btree blocks.
    pub const REFC: u64 = u64::MAX - 7;
    /// CoW staging extents.
    pub const COW: u64 = u64::MAX - 8;
}

/// Offset flags: attribute fork, bmbt block, unwritten.
pub const ATTR: u64 = 1 << 63;
/// A bmbt block.
pub const BMBT: u64 = 1 << 62;
/// An unwritten extent.
pub const UNWRITTEN: u64 = 1 << 61;
/// Mappings kept for the comparison at most.
pub const MAX_RMAPS: usize = 1 << 24;

/// One mapping: (AG, start, length, owner, offset with flags).
pub type Rmap = (u32, u64, u64, u64, u64);

/// Expected and recorded mappings.
#[derive(Debug, Default)]
pub struct Rmaps {
    /// What the check saw.
    pub expected: Vec<Rmap>,
    /// What the rmap btrees hold.
    pub actual: Vec<Rmap>,
    /// Too many to compare.
    pub overflow: bool,
    /// AGs whose rmap btree could not be walked whole.
    pub damaged: Vec<u32>,
}

/// The owner a metadata claim stands for.
pub fn owner_of(what: &str) -> Option<u64> {
    Some(match what {
        "AG headers" => owner::FS,
        "log" => owner::LOG,
        "AGFL" | "bnobt" | "cntbt" | "rmapbt" => owner::AG,
        "inobt" | "finobt" => owner::INOBT,
        "inode chunk" => owner::INODES,
        "refcountbt" => owner::REFC,
        "CoW staging extent" => owner::COW,
        _ => return None,
    })
}

fn special(owner: u64) -> bool {
    owner >= owner::COW
}

fn push(v: &mut Vec<Rmap>, overflow: &mut bool, r: Rmap) {
    if let Some(last) = v.last_mut()
        && mergeable(last, &r)
    {
        last.2 = last.2.saturating_add(r.2);
        return;
    }
    if v.len() >= MAX_RMAPS {
        *overflow = true;
        return;
    }
    v.push(r);
}

fn mergeable(a: &Rmap, b: &Rmap) -> bool {
    let flags = ATTR | BMBT | UNWRITTEN;
    a.0 == b.0
        && a.3 == b.3
        && a.1.saturating_add(a.2) == b.1
        && (a.4 & flags) == (b.4 & flags)
        && (special(a.3) || a.4 & BMBT != 0 || (a.4 & !flags).saturating_add(a.2) == (b.4 & !flags))
}

impl Rmaps {
    /// Notes a mapping the check saw.
    pub fn expect(&mut self, r: Rmap) {
        push(&mut self.expected, &mut self.overflow, r);
    }
    /// Notes a mapping the btree holds.
    pub fn record(&mut self, r: Rmap) {
        push(&mut self.actual, &mut self.overflow, r);
    }

    /// Compares both sides; at most a few findings per AG.
    pub fn compare(&mut self, fs: &mut Fs<'_>) {
        if self.overflow || fs.incomplete.is_some() || fs.budget_hit {
            return;
        }
        let norm = |v: &mut Vec<Rmap>| {
            v.sort_unstable_by_key(|r| (r.0, r.1, r.3, r.4, r.2));
            let mut out: Vec<Rmap> = Vec::with_capacity(v.len());
            // Merge in (AG, owner, offset) order, as the kernel would have.
            v.sort_unstable_by_key(|r| (r.0, r.3, r.4 & (ATTR | BMBT | UNWRITTEN), r.1));
            for r in v.iter() {
                match out.last_mut() {
                    Some(l) if mergeable(l, r) => l.2 = l.2.saturating_add(r.2),
                    _ => out.push(*r),
                }
            }
            out.sort_unstable_by_key(|r| (r.0, r.1, r.3, r.4, r.2));
            out
        };
        let exp = norm(&mut self.expected);
        let act = norm(&mut self.actual);
        let (mut i, mut j) = (0usize, 0usize);
        let mut reported: std::collections::HashMap<u32, u32> = std::collections::HashMap::new();
        let key = |r: &Rmap| (r.0, r.1, r.3, r.4, r.2);
        while i < exp.len() || j < act.len() {
            let (e, a) = (exp.get(i), act.get(j));
            let (which, r) = match (e, a) {
                (Some(e), Some(a)) if key(e) == key(a) => {
                    i = i.saturating_add(1);
                    j = j.saturating_add(1);
                    continue;
                }
                (Some(e), Some(a)) if key(e) < key(a) => {
                    i = i.saturating_add(1);
                    ("missing", *e)
                }
                (Some(e), None) => {
                    i = i.saturating_add(1);
                    ("missing", *e)
                }
                (_, Some(a)) => {
                    j = j.saturating_add(1);
                    ("unexpected", *a)
                }
                (None, None) => break,
            };
            if self.damaged.contains(&r.0) {
                continue;
            }
            let n = reported.entry(r.0).or_insert(0);
            *n = n.saturating_add(1);
            if *n > 8 {
                continue;
            }
            let what = describe(&r);
            let off = fs.agb_byte(r.0, r.1);
            let msg = if which == "missing" {
                format!(
                    "rmapbt of AG {}: no record for {}/{} + {} owned by {what}",
                    r.0, r.0, r.1, r.2
                )
            } else {
                format!(
                    "rmapbt of AG {}: record for {}/{} + {} owned by {what}, which owns no such blocks",
                    r.0, r.0, r.1, r.2
                )
            };
            fs.error(
                if which == "missing" {
                    "xfs.rmapbt.missing"
                } else {
                    "xfs.rmapbt.unexpected"
                },
                off,
                msg,
            );
        }
    }
}

fn describe(r: &Rmap) -> String {
    let o = r.3;
    match o {
        owner::FS => "the AG headers".to_string(),
        owner::LOG => "the log".to_string(),
        owner::AG => "free-space metadata".to_string(),
        owner::INOBT => "the inode btrees".to_string(),
        owner::INODES => "inode chunks".to_string(),
        owner::REFC => "the refcount btree".to_string(),
        owner::COW => "CoW staging".to_string(),
        _ => {
            let mut s = format!("inode {o}");
            if r.4 & ATTR != 0 {
                s.push_str(" (attribute fork)");
            }
            if r.4 & BMBT != 0 {
                s.push_str(" (bmbt block)");
            } else {
                s.push_str(&format!(" at file block {}", r.4 & (UNWRITTEN - 1)));
            }
            if r.4 & UNWRITTEN != 0 {
                s.push_str(" (unwritten)");
            }
            s
        }
    }
}

//! What divergent bytes belong to: each copy's filesystems' reverse maps
//! ([`imgcheck_core::OwnerMap`], filled by the full check) moved into
//! guest-disk space with their node's base, asked who owns each range.
//! Both copies are asked: a file written in one copy only is named by
//! that copy's map.

use super::diverge::Divergence;
use super::model::Holder;
use super::source::Copy;
use crate::report::{ImageReport, Node};
use imgcheck_core::{OwnerKind, Space, Step};
use std::collections::BTreeMap;

/// Holders listed at most, biggest first.
pub const MAX_HOLDERS: usize = 64;

/// `partition 1 ext4`, or `ext4` for a filesystem on the whole disk.
pub fn where_(n: &Node) -> String {
    // A snapshot's view and the current state name one filesystem alike.
    let p = imgcheck_core::Place(
        n.place
            .0
            .iter()
            .filter(|s| !matches!(s, imgcheck_core::Step::Snapshot(_)))
            .cloned()
            .collect(),
    )
    .to_string();
    if p.is_empty() || p == "/" {
        n.kind.clone()
    } else {
        format!("{p} {}", n.kind)
    }
}

/// The filesystems of a report whose offsets are guest-disk offsets (not
/// inside a logical volume, whose segments the map does not follow), with
/// their base on the disk. A raw image's partitions sit in disk space like
/// a qcow2's (the pipeline's guest view of the file), while a filesystem
/// on a whole raw file may sit in file space, which for raw is the same
/// bytes: taking only one of the two for raw lost every file name of a
/// partitioned raw copy.
fn mapped(r: &ImageReport) -> Vec<(&Node, u64)> {
    let raw = r.format == "raw";
    r.root
        .walk()
        .into_iter()
        .filter(|n| {
            n.facts.owners.is_some()
                && !n.place.0.iter().any(|s| matches!(s, Step::Volume(_)))
                && (n.space == Space::Disk || (raw && n.space == Space::File))
        })
        .map(|n| (n, n.base))
        .collect()
}

/// The holders of the divergent ranges, biggest first and capped, and
/// the divergent bytes no map names.
pub fn holders(d: &Divergence, copies: &[(&Copy, Option<&ImageReport>)]) -> (Vec<Holder>, u64) {
    let mut acc: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    let total: u64 = d.ranges.iter().map(|r| r.len).sum();
    // Per range, bytes some map names (the larger over the copies).
    let mut named_bytes = 0u64;
    for r in &d.ranges {
        let mut best = 0u64;
        for (c, rep) in copies {
            let Some(rep) = rep else { continue };
            let mut here = 0u64;
            for (n, base) in mapped(rep) {
                let Some(map) = &n.facts.owners else { continue };
                let (s, e) = (r.start.saturating_sub(base), r.end().saturating_sub(base));
                if r.end() <= base || s == e {
                    continue;
                }
                for o in map.owners_in(s, e) {
                    let bytes = o.end().min(e).saturating_sub(o.start.max(s));
                    if bytes == 0 {
                        continue;
                    }
                    here = here.saturating_add(bytes);
                    let what = match o.kind {
                        OwnerKind::FileData | OwnerKind::Unwritten => map
                            .path(o.inode)
                            .unwrap_or_else(|| format!("<inode {}>", o.inode)),
                        OwnerKind::Directory => format!(
                            "{} [directory block]",
                            map.path(o.inode)
                                .unwrap_or_else(|| format!("<inode {}>", o.inode))
                        ),
                        k => format!("[{}]", k.words()),
                    };
                    let e = acc.entry((c.label.clone(), where_(n), what)).or_insert(0);
                    *e = e.saturating_add(bytes);
                }
            }
            best = best.max(here);
        }
        named_bytes = named_bytes.saturating_add(best.min(r.len));
    }
    // One holder per (filesystem, what, bytes): both copies naming the
    // same file for the same bytes is one line.
    let mut merged: BTreeMap<(String, String, u64), Vec<String>> = BTreeMap::new();
    for ((copy, filesystem, what), bytes) in acc {
        merged
            .entry((filesystem, what, bytes))
            .or_default()
            .push(copy);
    }
    let mut v: Vec<Holder> = merged
        .into_iter()
        .map(|((filesystem, what, bytes), copies)| Holder {
            copies,
            filesystem,
            what,
            bytes,
        })
        .collect();
    v.sort_by(|x, y| y.bytes.cmp(&x.bytes).then_with(|| x.what.cmp(&y.what)));
    v.truncate(MAX_HOLDERS);
    (v, total.saturating_sub(named_bytes))
}

/// The guest-disk intervals of `ranges` that the report's own filesystem
/// maps say are file data.
fn file_intervals(ranges: &[super::diverge::Range], rep: &ImageReport) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for (node, base) in mapped(rep) {
        let Some(map) = &node.facts.owners else {
            continue;
        };
        for r in ranges {
            if r.end() <= base {
                continue;
            }
            let (s, e) = (r.start.saturating_sub(base), r.end().saturating_sub(base));
            for o in map.owners_in(s, e) {
                if o.kind == OwnerKind::FileData {
                    let (a, b) = (o.start.max(s), o.end().min(e));
                    if a < b {
                        out.push((a.saturating_add(base), b.saturating_add(base)));
                    }
                }
            }
        }
    }
    out.sort_unstable();
    out
}

/// Bytes of `ranges` (guest-disk offsets) that both copies' filesystem
/// maps say are file data: where a copy reads zeros inside its own files
/// and the other's files hold data there. Blocks the other's map calls
/// free (a deleted file's old bytes, since taken by a new file written
/// with zeros, like a swap file) are not counted: the other copy holds
/// nothing there that the first lost.
pub fn file_bytes(ranges: &[super::diverge::Range], rep: &ImageReport, other: &ImageReport) -> u64 {
    let mine = file_intervals(ranges, rep);
    let spans: Vec<super::diverge::Range> = mine
        .iter()
        .map(|&(a, b)| super::diverge::Range {
            start: a,
            len: b.saturating_sub(a),
        })
        .collect();
    file_intervals(&spans, other)
        .iter()
        .map(|&(a, b)| b.saturating_sub(a))
        .fold(0u64, u64::saturating_add)
}

/// Bytes of `ranges` (guest-disk offsets) that lie inside one of the
/// report's mapped filesystems (its claimed size) and that nothing in its
/// map owns: its free space. Old bytes
/// there (a deleted file's) are no data the copy holds, and another copy
/// that has since written zeros there lost nothing of it.
pub fn free_bytes(ranges: &[super::diverge::Range], rep: &ImageReport) -> u64 {
    let mut n = 0u64;
    for (node, base) in mapped(rep) {
        let Some(map) = &node.facts.owners else {
            continue;
        };
        let Some(last) = map.ranges().last() else {
            continue;
        };
        // The whole filesystem (its blocks x block size), not just up to
        // its last owner: a deleted file may have been its last allocation.
        let (lo, hi) = (
            0,
            node.facts
                .claimed_size
                .unwrap_or(last.end())
                .max(last.end()),
        );
        for r in ranges {
            if r.end() <= base {
                continue;
            }
            let s = r.start.saturating_sub(base).max(lo);
            let e = r.end().saturating_sub(base).min(hi);
            if s >= e {
                continue;
            }
            let owned = map
                .owners_in(s, e)
                .iter()
                .map(|o| o.end().min(e).saturating_sub(o.start.max(s)))
                .fold(0u64, u64::saturating_add);
            n = n.saturating_add(e.saturating_sub(s).saturating_sub(owned));
        }
    }
    n
}

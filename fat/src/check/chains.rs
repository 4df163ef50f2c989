//! One entry's checks and its chain (fsck.fat's `check_file` and
//! `test_file`): a directory's size and start (the root, itself, its
//! parent), a start outside the data area, then the chain — loops, free
//! and bad clusters, cross-links, and for a file its length against the
//! size — claiming each cluster once. Cross-links are named after the walk,
//! in one pass over every claimed chain.

use super::Ctx;
use super::tree::{Cand, MAX_DEPTH, NO_PARENT, Node, Walk};
use crate::bpb::Root;
use crate::hints::{fsck_n, repair_on_copy};
use crate::table::{Entry, Fat, entry_byte};
use imgcheck_core::bytes::usize_of;
use imgcheck_core::{Severity, human_size};
use std::collections::HashMap;

/// Cross-links whose earlier owner is looked up by name.
const CROSS_RESOLVED: usize = 4096;

/// Checks one entry and claims its chain (fsck.fat's `check_file`);
/// returns its node.
pub(super) fn check_file(
    cx: &mut Ctx<'_>,
    w: &mut Walk,
    fat: &Fat,
    d: u32,
    c: Cand,
) -> Option<u32> {
    let fat32 = cx.fat32();
    let g = cx.g.clone();
    let e = c.e;
    let name: Box<str> = match &c.long {
        Some(l) if !l.name.is_empty() => l.name.as_str().into(),
        _ => e.short_name().into(),
    };
    let depth = w.node(d).map_or(0, |n| n.depth).saturating_add(1);
    let idx = u32::try_from(w.nodes.len()).ok()?;
    w.nodes.push(Node {
        parent: d,
        name,
        start: e.first_cluster(fat32),
        offset: c.offset,
        claimed: 0,
        excess: 0,
        depth,
        scan: false,
    });
    if let Some(t) = e.written()
        && w.newest_write.is_none_or(|(x, _)| t > x)
    {
        w.newest_write = Some((t, idx));
    }
    if let Some(t) = e.created() {
        if w.newest_create.is_none_or(|(x, _)| t > x) {
            w.newest_create = Some((t, idx));
        }
        if w.oldest_create.is_none_or(|(x, _)| t < x) {
            w.oldest_create = Some((t, idx));
        }
    }
    if e.is_dir() {
        w.usage.directories = w.usage.directories.saturating_add(1);
    } else if !e.is_volume() {
        w.usage.files = w.usage.files.saturating_add(1);
        w.usage.file_bytes = w.usage.file_bytes.saturating_add(u64::from(e.size));
    }
    let path = w.path(idx);
    let start = e.first_cluster(fat32);
    if e.is_dir() {
        if e.size != 0 {
            cx.finding(
                Severity::Warning,
                "fat.dir.nonzero_size",
                c.offset,
                format!(
                    "{path}: a directory entry with size {} (directories have size 0)",
                    e.size
                ),
                Some(repair_on_copy("fsck.fat sets it to 0")),
            );
        }
        if start == 0 {
            cx.finding(Severity::Error, "fat.dir.bad_start", c.offset, format!("{path}: a directory whose first cluster is 0, which is the root: its contents are unreachable (fsck.fat deletes the entry)"), Some(fsck_n()));
            set_start(w, idx, 0);
            return Some(idx);
        }
        if fat32 || d != 0 {
            let pstart = w.start(d);
            let gp = w.node(d).map_or(NO_PARENT, |n| n.parent);
            let grandp = if d == 0 || gp == 0 || gp == NO_PARENT {
                0
            } else {
                let s = w.start(gp);
                if fat32 && (Root::Chain { cluster: s }) == g.root {
                    0
                } else {
                    s
                }
            };
            if start == pstart || start == grandp {
                let what = if start == pstart {
                    "its own directory"
                } else {
                    "its parent directory"
                };
                cx.finding(Severity::Error, "fat.dir.loop", c.offset, format!("{path}: the directory starts at cluster {start}, which is {what}: a directory loop (fsck.fat deletes the entry)"), Some(repair_on_copy("fsck.fat deletes the looping entry")));
                set_start(w, idx, 0);
                return Some(idx);
            }
        }
    }
    if start == 1 || start > g.max_cluster() {
        cx.finding(
            Severity::Error,
            "fat.chain.bad_start",
            c.offset,
            format!("{path}: the first cluster is {start}, outside clusters 2–{}: the {} data is unreachable", g.max_cluster(), if e.is_dir() { "directory's" } else { "file's" }),
            Some(repair_on_copy("fsck.fat truncates the entry to 0 bytes")),
        );
        set_start(w, idx, 0);
    }
    walk_chain(cx, w, fat, idx, e.is_dir(), e.size);
    if let Some(n) = w.nodes.get_mut(usize_of(u64::from(idx)))
        && e.is_dir()
        && n.claimed > 0
    {
        if n.depth > MAX_DEPTH {
            cx.finding(
                Severity::Warning,
                "fat.bound.depth",
                c.offset,
                format!(
                    "{path}: directories nested deeper than {MAX_DEPTH} levels are not entered"
                ),
                None,
            );
            cx.stopped(format!("directories deeper than {MAX_DEPTH} levels"));
        } else {
            n.scan = true;
        }
    }
    Some(idx)
}

fn set_start(w: &mut Walk, i: u32, s: u32) {
    if let Some(n) = w.nodes.get_mut(usize_of(u64::from(i))) {
        n.start = s;
    }
}

/// Walks and claims node `i`'s chain: loops, free and bad clusters,
/// cross-links, and for files the size against the chain.
pub(super) fn walk_chain(
    cx: &mut Ctx<'_>,
    w: &mut Walk,
    fat: &Fat,
    i: u32,
    is_dir: bool,
    size: u32,
) {
    let g = cx.g.clone();
    let Some(node) = w.node(i) else { return };
    let start = node.start;
    let entry_at = node.offset;
    let path = w.path(i);
    let cs = u64::from(g.cluster_size);
    let fat_at = |c: u32| {
        g.fat_copy_start(cx.chosen)
            .saturating_add(entry_byte(g.kind, c))
    };
    let link_at = |prev: Option<u32>| prev.map_or(entry_at, fat_at);
    let mut n = 0u32;
    let mut excess = 0u32;
    let mut unknown = false;
    let mut prev: Option<u32> = None;
    let mut c = start;
    if start != 0 {
        loop {
            if !fat.readable(c) {
                unknown = true;
                break;
            }
            if w.walking.get(c) {
                cx.finding(
                    Severity::Error,
                    "fat.chain.loop",
                    link_at(prev),
                    format!(
                        "{path}: the cluster chain loops back to cluster {c} after {n} clusters"
                    ),
                    Some(repair_on_copy("fsck.fat cuts the chain before the loop")),
                );
                break;
            }
            match fat.entry(c) {
                Entry::Free | Entry::Bad => {
                    let (code, what) = if fat.entry(c) == Entry::Free {
                        ("fat.chain.free_cluster", "free")
                    } else {
                        ("fat.chain.bad_cluster", "marked bad")
                    };
                    cx.finding(Severity::Error, code, link_at(prev), format!("{path}: cluster {c} of the chain (after {n} clusters) is {what} in the FAT: the chain is cut there"), Some(repair_on_copy("fsck.fat ends the chain before it")));
                    break;
                }
                _ => {}
            }
            if !is_dir && u64::from(size) <= u64::from(n).saturating_mul(cs) {
                let (k, looped) = count_excess(w, fat, c);
                excess = k;
                cx.finding(
                    Severity::Warning,
                    "fat.chain.too_long",
                    entry_at,
                    format!(
                        "{path}: the file is {size} bytes, {n} clusters of {cs}, but its chain goes on for {k} more{}: those clusters hold no file data",
                        if looped { " (and then loops)" } else { "" }
                    ),
                    Some(repair_on_copy("fsck.fat frees the extra clusters")),
                );
                break;
            }
            if w.owned.get(c) {
                if w.cross.len() < CROSS_RESOLVED {
                    w.cross.push((i, c, link_at(prev)));
                } else {
                    cx.finding(Severity::Error, "fat.chain.cross_linked", link_at(prev), format!("{path}: its chain runs into cluster {c}, which an earlier file or directory already holds"), Some(repair_on_copy("fsck.fat cuts the later chain")));
                }
                break;
            }
            w.owned.set(c);
            w.walking.set(c);
            n = n.saturating_add(1);
            prev = Some(c);
            match fat.entry(c) {
                Entry::Next(x) => c = x,
                _ => break,
            }
        }
        // Clear this chain's walking marks.
        let mut x = start;
        for _ in 0..n.saturating_add(excess) {
            w.walking.clear(x);
            match fat.entry(x) {
                Entry::Next(y) => x = y,
                _ => break,
            }
        }
    }
    if let Some(nd) = w.nodes.get_mut(usize_of(u64::from(i))) {
        nd.claimed = n;
        nd.excess = excess;
        if n == 0 {
            nd.start = 0;
        }
    }
    if !is_dir && !unknown && u64::from(size) > u64::from(n).saturating_mul(cs) {
        let have = u64::from(n).saturating_mul(cs);
        cx.finding(
            Severity::Error,
            "fat.chain.too_short",
            entry_at,
            format!(
                "{path}: the file is {size} bytes but its chain holds only {n} clusters ({}): {} of its data are unreachable",
                human_size(have),
                human_size(u64::from(size).saturating_sub(have))
            ),
            Some(repair_on_copy("fsck.fat truncates the file to its chain")),
        );
    }
}

/// The clusters of a chain past its file's size, from `c`: claimed so
/// they are not reported lost (fsck.fat frees them), and whether the rest
/// of the chain loops.
fn count_excess(w: &mut Walk, fat: &Fat, mut c: u32) -> (u32, bool) {
    let mut k = 0u32;
    loop {
        if !fat.readable(c) || w.owned.get(c) {
            return (k, w.walking.get(c));
        }
        match fat.entry(c) {
            Entry::Free | Entry::Bad => return (k, false),
            _ => {}
        }
        w.owned.set(c);
        w.walking.set(c);
        k = k.saturating_add(1);
        match fat.entry(c) {
            Entry::Next(x) => c = x,
            _ => return (k, false),
        }
    }
}

/// Names the earlier holder of each cross-linked cluster: one pass over
/// every claimed chain, for at most [`CROSS_RESOLVED`] clusters.
pub(super) fn resolve_cross_links(cx: &mut Ctx<'_>, w: &Walk, fat: &Fat) {
    if w.cross.is_empty() {
        return;
    }
    let mut owner: HashMap<u32, Option<u32>> = w.cross.iter().map(|&(_, c, _)| (c, None)).collect();
    let mut left = owner.len();
    for (i, n) in w.nodes.iter().enumerate() {
        if left == 0 {
            break;
        }
        let steps = n.claimed.saturating_add(n.excess);
        let mut c = n.start;
        for _ in 0..steps {
            if let Some(o) = owner.get_mut(&c)
                && o.is_none()
            {
                *o = u32::try_from(i).ok();
                left = left.saturating_sub(1);
            }
            match fat.entry(c) {
                Entry::Next(x) => c = x,
                _ => break,
            }
        }
    }
    for &(b, c, at) in &w.cross {
        let first = owner
            .get(&c)
            .copied()
            .flatten()
            .map_or_else(|| "an earlier chain".to_string(), |a| w.path(a));
        let second = w.path(b);
        cx.finding(
            Severity::Error,
            "fat.chain.cross_linked",
            at,
            format!(
                "{first} and {second} share clusters from cluster {c} on (byte {}): the second's chain runs into the first's, so one of them shows the other's data",
                cx.g.cluster_offset(c)
            ),
            Some(repair_on_copy("fsck.fat cuts the second chain where they meet; copy both files out first")),
        );
    }
}

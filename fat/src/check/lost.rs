//! Chains allocated in the FAT that no directory entry reaches (fsck.fat's
//! `reclaim_free`, and `reclaim_file` for how they split into chains):
//! counted, split into chains at their heads (and cycles), and the first
//! of them listed with their extents — the data of files whose entries
//! were lost, for the lost-files map.

use super::Ctx;
use crate::bitmap::Bitmap;
use crate::dir::{ATTR_DIR, DOT, DOTDOT, RawEntry};
use crate::hints::salvage_on_copy;
use crate::summary::{ByteRange, LostChain};
use crate::table::Entry;
use crate::{MAX_EXTENTS_LISTED, MAX_LOST_LISTED};
use imgcheck_core::{Severity, human_size};

/// Lost chains whose first cluster is read to see if it is a directory.
const DIRS_PROBED: usize = 16;

/// Counts usage, finds lost chains, and reports them.
pub(super) fn lost_chains(cx: &mut Ctx<'_>) {
    let (Some(fat), Some(owned)) = (cx.fat.take(), cx.owned.take()) else {
        return;
    };
    let g = cx.g.clone();
    let max = g.max_cluster();
    let lost = |c: u32| {
        !owned.get(c) && !matches!(fat.entry(c), Entry::Free | Entry::Bad) && fat.readable(c)
    };
    let mut free = 0u32;
    let mut bad = 0u32;
    let mut n_lost = 0u32;
    let mut unclaimed = 0u32;
    let mut pointed = Bitmap::new(max.saturating_add(1));
    for c in 2..=max {
        match fat.entry(c) {
            Entry::Free => free = free.saturating_add(1),
            Entry::Bad => bad = bad.saturating_add(1),
            _ => {}
        }
        if !owned.get(c) && fat.entry(c) != Entry::Bad {
            unclaimed = unclaimed.saturating_add(1);
        }
        if lost(c) {
            n_lost = n_lost.saturating_add(1);
            if let Entry::Next(x) = fat.entry(c)
                && lost(x)
            {
                pointed.set(x);
            }
        }
    }
    if let Some(u) = cx.usage.as_mut() {
        u.free_clusters = free;
        u.bad_clusters = bad;
    }
    if !cx.walk_complete {
        cx.fat = Some(fat);
        cx.owned = Some(owned);
        return;
    }
    cx.unclaimed = Some(unclaimed);
    if n_lost == 0 {
        cx.fat = Some(fat);
        cx.owned = Some(owned);
        return;
    }
    // Heads first (not pointed to by another lost cluster), then what is
    // left: cycles with no head.
    let mut visited = Bitmap::new(max.saturating_add(1));
    let mut chains: Vec<LostChain> = Vec::new();
    let mut n_chains = 0u32;
    for pass in 0..2 {
        for c in 2..=max {
            if !lost(c) || visited.get(c) || (pass == 0 && pointed.get(c)) {
                continue;
            }
            n_chains = n_chains.saturating_add(1);
            let mut ch = LostChain {
                first_cluster: c,
                clusters: 0,
                extents: Vec::new(),
                looks_like_directory: false,
            };
            let mut x = c;
            loop {
                visited.set(x);
                ch.clusters = ch.clusters.saturating_add(1);
                if chains.len() < MAX_LOST_LISTED {
                    let at = g.cluster_offset(x);
                    let len = u64::from(g.cluster_size);
                    let listed = ch.extents.len();
                    match ch.extents.last_mut() {
                        Some(r) if r.end() == at => r.len = r.len.saturating_add(len),
                        _ if listed < MAX_EXTENTS_LISTED => {
                            ch.extents.push(ByteRange { start: at, len })
                        }
                        _ => {}
                    }
                }
                match fat.entry(x) {
                    Entry::Next(y) if lost(y) && !visited.get(y) => x = y,
                    _ => break,
                }
            }
            if chains.len() < MAX_LOST_LISTED {
                chains.push(ch);
            }
        }
    }
    for ch in chains.iter_mut().take(DIRS_PROBED) {
        let mut b = [0u8; 64];
        if cx
            .reads
            .read(g.cluster_offset(ch.first_cluster), &mut b, "lost chain")
            .is_ok()
        {
            let (a, d) = b.split_at(32);
            let (a, d) = (RawEntry::parse(a), RawEntry::parse(d));
            ch.looks_like_directory = a.name == DOT && d.name == DOTDOT && a.attr & ATTR_DIR != 0;
        }
    }
    let dirs = chains.iter().filter(|c| c.looks_like_directory).count();
    let first = chains.first().map_or(2, |c| c.first_cluster);
    let bytes = u64::from(n_lost).saturating_mul(u64::from(g.cluster_size));
    cx.finding(
        Severity::Warning,
        "fat.chain.lost",
        g.cluster_offset(first),
        format!(
            "{n_lost} clusters ({}) in {n_chains} chains are allocated in the FAT but belong to no file or directory{}: the data of entries that were lost or overwritten (the first chain starts at cluster {first})",
            human_size(bytes),
            if dirs > 0 { format!("; {dirs} of the first chains look like lost directories") } else { String::new() }
        ),
        Some(salvage_on_copy()),
    );
    if let Some(u) = cx.usage.as_mut() {
        u.lost_clusters = n_lost;
        u.lost_chains = n_chains;
    }
    cx.lost = chains;
    cx.fat = Some(fat);
    cx.owned = Some(owned);
}

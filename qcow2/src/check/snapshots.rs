//! The snapshot table as the check sees it: each snapshot's L1 table is
//! walked (snapshots sharing one are walked once, with a weight, and the
//! total is bounded), and what is wrong with the table itself or with a
//! snapshot's view of the disk is reported.

use super::Ctx;
use super::counts::CLASS_META;
use super::walk::{Refs, Source};
use crate::entries::*;
use crate::limits::*;
use imgcheck_core::Severity;
use std::collections::{HashMap, HashSet};

/// Walks the L1 table of every snapshot into `refs` and reports the
/// snapshot table's own problems; returns the indexes of the snapshots
/// whose L1 table was walked.
pub(super) fn walk_snapshots(c: &mut Ctx<'_>, refs: &mut Refs) -> HashSet<usize> {
    let h = c.h;
    let cs = c.cs;
    let file_len = c.file_len;
    let img = c.img;
    let file = c.file;
    let table = img.snapshot_table();
    if let Some(q) = &table.qemu {
        // qemu-img check stops here ("Check failed: File too large").
        c.r.qemu_abort.get_or_insert_with(|| q.errno.to_string());
    }
    if h.has_data_file() && h.nb_snapshots > 0 {
        c.corruption(
            "qcow2.snapshot.with_data_file",
            h.snapshots_offset,
            format!(
                "{} snapshots in an image with an external data file",
                h.nb_snapshots
            ),
        );
    }
    // Snapshots sharing one L1 table (same offset and size) are walked
    // once with a weight; the total walked is bounded.
    let mut groups: Vec<((u64, u32), u64, usize)> = Vec::new();
    let mut group_of: HashMap<(u64, u32), usize> = HashMap::new();
    let mut snap_l1s: HashSet<usize> = HashSet::new();
    for s in &table.snapshots {
        if !s.l1_table_offset.is_multiple_of(cs) {
            c.corruption_with("qcow2.snapshot.l1_unaligned", s.entry_offset, || {
                format!(
                    "snapshot {} has its L1 table at {:#x}, which is not cluster aligned",
                    s.described(),
                    s.l1_table_offset
                )
            });
            continue;
        }
        if u64::from(s.l1_size).saturating_mul(8) > MAX_L1_BYTES {
            c.corruption_with(
                "qcow2.snapshot.l1_too_large",
                s.entry_offset.saturating_add(8),
                || {
                    format!(
                        "snapshot {} has an L1 table of {} entries, more than {}",
                        s.described(),
                        s.l1_size,
                        MAX_L1_BYTES / 8
                    )
                },
            );
            continue;
        }
        snap_l1s.insert(s.index);
        let key = (s.l1_table_offset, s.l1_size);
        match group_of.get(&key).and_then(|&g| groups.get_mut(g)) {
            Some(g) => g.1 = g.1.saturating_add(1),
            None => {
                group_of.insert(key, groups.len());
                groups.push((key, 1, s.index));
            }
        }
    }
    let mut l1_budget = MAX_CHECK_L1_BYTES;
    for ((off, size), weight, index) in groups {
        if !c.visit("snapshot L1 table", off) {
            break;
        }
        let bytes = u64::from(size)
            .saturating_mul(8)
            .min(file_len.saturating_sub(off));
        if bytes > l1_budget {
            c.r.check_errors = c.r.check_errors.saturating_add(1);
            c.sink.push(Severity::Error, "qcow2.check.too_large", off, format!("snapshot L1 tables add up to more than {MAX_CHECK_L1_BYTES} bytes; the remaining snapshots were not checked"));
            break;
        }
        l1_budget = l1_budget.saturating_sub(bytes);
        match load_l1(file, off, size) {
            Ok(l1) => {
                c.weight = weight;
                c.walk_l1(&l1, Source::Snapshot(index), refs);
                c.weight = 1;
            }
            Err(e) => c.read_failed(&format!("L1 table of snapshot {index}"), off, &e),
        }
    }
    if let Some(off) = table.past_eof {
        c.sink.push(Severity::Error, "qcow2.snapshot.table_past_eof", off, format!("the snapshot table entry at {off:#x} lies past the end of the file ({file_len} bytes); it reads as zeros"));
    }
    if let Some((off, msg)) = &table.error {
        c.r.check_errors = c.r.check_errors.saturating_add(1);
        c.sink.push(
            Severity::Error,
            "qcow2.snapshot.table_broken",
            *off,
            format!("snapshot table cannot be read: {msg}"),
        );
    } else if let Some(q) = &table.qemu
        && table.overhanging == 0
        && table.extra_too_large.is_empty()
    {
        c.sink.push(
            Severity::Error,
            "qcow2.snapshot.table_broken",
            q.offset,
            format!(
                "QEMU cannot read the snapshot table (\"{}\"): no snapshot can be loaded and qemu-img check stops",
                q.message
            ),
        );
    }
    if table.overhanging > 0 {
        // qemu-img check stops (only -r all discards the overhang).
        c.sink.push(
            Severity::Error,
            "qcow2.snapshot.too_many",
            60,
            format!(
                "nb_snapshots is {}, more than the {MAX_SNAPSHOTS} QEMU allows; it refuses the snapshot table, and {} snapshots overhang",
                h.nb_snapshots, table.overhanging
            ),
        );
    }
    for &i in &table.extra_too_large {
        let off = table
            .snapshots
            .get(i)
            .map_or(h.snapshots_offset, |s| s.entry_offset);
        c.sink.push(
            Severity::Error,
            "qcow2.snapshot.extra_too_large",
            off.saturating_add(36),
            format!(
                "snapshot table entry {i} has more than the {MAX_SNAPSHOT_EXTRA_DATA} bytes of extra data QEMU reads; it refuses the snapshot table (qemu-img check -r all drops the excess)"
            ),
        );
    }
    for &i in &table.incomplete_extra {
        let off = table
            .snapshots
            .get(i)
            .map_or(h.snapshots_offset, |s| s.entry_offset);
        c.corruption(
            "qcow2.snapshot.incomplete_extra",
            off,
            format!(
                "snapshot {i} has less than the 16 bytes of extra data a version 3 image requires"
            ),
        );
    }
    c.inc(h.snapshots_offset, table.size, CLASS_META, "snapshot table");
    snap_l1s
}

/// What each snapshot recorded about its disk against the header and its
/// own L1 table (qemu-img check compares neither).
pub(super) fn snapshot_size_checks(c: &mut Ctx<'_>, snap_l1s: &HashSet<usize>) {
    let h = c.h;
    for s in c.img.snapshots() {
        if let Some(ds) = s.disk_size {
            if ds != h.size {
                c.sink.push_with(Severity::Info, "qcow2.snapshot.disk_size_differs", s.entry_offset, || format!("snapshot {} was taken with a virtual disk of {ds} bytes; the current disk is {} bytes", s.described(), h.size));
            }
            let need = h.l1_entries_for(ds);
            if u64::from(s.l1_size) < need && snap_l1s.contains(&s.index) {
                c.sink.push_with(
                    Severity::Error,
                    "qcow2.snapshot.l1_too_small",
                    s.entry_offset,
                    || {
                        format!(
                            "snapshot {} has {} L1 entries but its disk of {ds} bytes needs {need}",
                            s.described(),
                            s.l1_size
                        )
                    },
                );
            }
        }
    }
}

//! Where structures lie against the file and each other, which qemu-img
//! check does not look at: refcounts past the end of the file, a truncated
//! file and what it loses, clusters used by two structures at once.

use super::Ctx;
use super::counts::{CLASS_DATA, CLASS_L2, CLASS_META, CLASS_SHIFT, META_SHIFT};
use super::findings::hint_for;
use super::refcounts::{DiskRefcounts, refcount_at};
use super::walk::LostData;
use crate::entries::*;
use imgcheck_core::bytes::u64_of;
use imgcheck_core::{Finding, Layer, Severity, Space};
use std::collections::HashMap;

/// Refcounts of clusters past the end of the file: qemu-img compares only
/// up to EOF, so a truncated file's refcounts there go unseen.
pub(super) fn refcounts_past_eof(c: &mut Ctx<'_>, disk: &DiskRefcounts<'_>) {
    let h = c.h;
    let cs = c.cs;
    let first_past = u64_of(c.counts.len());
    let rb_entries = 1u64 << disk.rb_bits;
    let mut past = 0u64;
    let mut first = None;
    let reftable = disk.reftable.clone();
    // Non-zero entries per refcount block, for blocks wholly past EOF: a
    // hostile table naming one block a million times is scanned once.
    let mut counted: HashMap<u64, (u64, u64)> = HashMap::new();
    for (i, &e) in reftable.iter().enumerate() {
        let base = u64_of(i).saturating_mul(rb_entries);
        let off = e & REFT_OFFSET_MASK;
        if off == 0
            || !off.is_multiple_of(cs)
            || base.saturating_add(rb_entries) <= first_past
            || off.saturating_add(cs) > c.file_len
        {
            continue;
        }
        let start = first_past.saturating_sub(base);
        if start == 0
            && let Some(&(n, k0)) = counted.get(&off)
        {
            past = past.saturating_add(n);
            if n > 0 {
                first.get_or_insert(base.saturating_add(k0));
            }
            continue;
        }
        let block = match read_zero_filled(c.file, off, cs, cs) {
            Ok((b, _)) => b,
            Err(e) => {
                c.read_failed("refcount block", off, &e);
                continue;
            }
        };
        let mut n = 0u64;
        let mut k0 = None;
        for k in start..rb_entries {
            if refcount_at(&block, h.refcount_order, k) != 0 {
                n = n.saturating_add(1);
                k0.get_or_insert(k);
            }
        }
        past = past.saturating_add(n);
        if let Some(k) = k0 {
            first.get_or_insert(base.saturating_add(k));
        }
        if start == 0 {
            counted.insert(off, (n, k0.unwrap_or(0)));
        }
    }
    c.r.refcounts_past_eof = past;
    if let Some(k) = first {
        c.sink.push(
            Severity::Warning,
            "qcow2.refcount.past_eof",
            k.saturating_mul(cs),
            format!("{} past the end of the file ({} bytes) {} non-zero refcounts, the first cluster {k} at {:#x}; qemu-img check does not look there (was the file truncated?)", plural(past, "cluster"), c.file_len, if past == 1 { "has" } else { "have" }, k.saturating_mul(cs)),
        );
    }
}

/// `n thing` or `n things`.
pub(super) fn plural(n: u64, thing: &str) -> String {
    format!("{n} {thing}{}", if n == 1 { "" } else { "s" })
}

/// A file shorter than the bytes the image needs: how much is missing
/// and how much of the current disk is lost with it. A reference that
/// only runs past the end (the unpadded tail of a compressed cluster, the
/// unwritten subclusters of an extended-L2 cluster) is not truncation:
/// QEMU reads those bytes as zeros and needs none of them.
pub(super) fn truncation(c: &mut Ctx<'_>, lost: &LostData) {
    let h = c.h;
    c.r.lost_guest_bytes = lost.bytes;
    if c.needed_end <= c.file_len && lost.bytes == 0 {
        return;
    }
    let mut f = Finding::error(
        "qcow2.file.truncated",
        Layer::QCOW2,
        c.file_len,
        Space::File,
        format!(
            "the file is {} bytes but the image needs bytes up to {:#x}: {} missing; {} of the current disk {} lost{}{}",
            c.file_len,
            c.needed_end.max(c.file_len),
            plural(c.needed_end.saturating_sub(c.file_len), "byte"),
            plural(lost.bytes, "guest byte"),
            if lost.bytes == 1 { "is" } else { "are" },
            if lost.bytes > 0 {
                format!(
                    " (in {}), the first at guest offset {:#x}",
                    plural(
                        lost.clusters,
                        if h.extended_l2() {
                            "(sub)cluster"
                        } else {
                            "cluster"
                        }
                    ),
                    lost.first_guest.unwrap_or(0)
                )
            } else {
                String::new()
            },
            if c.r.lost_l2_tables > 0 {
                format!(
                    "; {} {} missing too, each mapping up to {} guest bytes",
                    plural(c.r.lost_l2_tables, "L2 table"),
                    if c.r.lost_l2_tables == 1 { "is" } else { "are" },
                    h.bytes_per_l1_entry()
                )
            } else {
                String::new()
            }
        ),
    );
    f.hint = hint_for("qcow2.file.truncated");
    c.sink.push_f(f);
}

pub(super) fn overlap_checks(c: &mut Ctx<'_>) {
    let cs = c.cs;
    for (k, &cell) in c.counts.cells.iter().enumerate() {
        // Data-only and unused clusters (nearly all) cannot overlap.
        if cell & ((CLASS_L2 | CLASS_META) << CLASS_SHIFT) == 0 {
            continue;
        }
        let cl = (cell >> CLASS_SHIFT) & 0b111;
        let m = cell >> META_SHIFT;
        let off = u64_of(k).saturating_mul(cs);
        let meta = cl & (CLASS_L2 | CLASS_META) != 0;
        if cl & CLASS_DATA != 0 && meta {
            c.sink.push(
                Severity::Error,
                "qcow2.overlap.metadata_data",
                off,
                format!(
                    "cluster {k} at {off:#x} is used both as guest data and as metadata ({})",
                    if cl & CLASS_L2 != 0 {
                        "an L2 table"
                    } else {
                        "a table or header"
                    }
                ),
            );
        } else if (cl & CLASS_L2 != 0 && cl & CLASS_META != 0) || m > 1 {
            c.sink.push(
                Severity::Error,
                "qcow2.overlap.metadata",
                off,
                format!("cluster {k} at {off:#x} is used by two different metadata structures"),
            );
        }
    }
}

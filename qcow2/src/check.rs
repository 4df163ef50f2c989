//! The consistency check: rebuild every cluster's reference count from the
//! structures that point at it, compare with the refcounts on disk, and
//! report each difference as a finding. Counters mean exactly what
//! `qemu-img check` counts; findings also cover what it misses.
//!
//! Finding codes counted by `qemu-img check` as corruptions:
//! `qcow2.refcount.too_low`, `qcow2.refcount.overflow`, `qcow2.reference.past_eof`,
//! `qcow2.l1.{reserved_bits,unaligned,copied_flag}`,
//! `qcow2.l2.{reserved_bits,unaligned,copied_flag,compressed_copied,compressed_with_data_file,compressed_bitmap,subcluster_bitmap,unallocated_bitmap}`,
//! `qcow2.reftable.{reserved_bits,unaligned}`, `qcow2.refblock.{past_eof,shared}`,
//! `qcow2.snapshot.{with_data_file,l1_unaligned,l1_too_large,incomplete_extra,too_many}`,
//! `qcow2.bitmaps.{table_invalid,directory_too_large,directory_truncated}`;
//! as leaks: `qcow2.refcount.leak`; as check errors: `qcow2.check.{io,refcount_unreadable,too_large}`,
//! `qcow2.snapshot.table_broken`.
//!
//! What qemu-img check misses (findings only, its counters unchanged):
//! `qcow2.header.{dirty,corrupt}`, `qcow2.refcount.past_eof`, `qcow2.file.truncated`,
//! `qcow2.compressed.undecodable` (deep), `qcow2.backing.{missing,unreadable,loop,too_deep,size_differs,not_followed}`,
//! `qcow2.snapshot.{disk_size_differs,l1_too_small,table_past_eof}`, `qcow2.overlap.{metadata,metadata_data}`,
//! `qcow2.data_file.past_eof`, `qcow2.bitmaps.entry_invalid`, `qcow2.stats`. Open-time findings
//! (header and extensions) are in [`crate::Header::parse`].

mod bitmaps;
mod counts;
mod findings;
mod open;
mod placement;
mod refcounts;
mod stats;
mod walk;

use crate::header::{Header, be64, usz};
use crate::image::*;
use crate::limits::*;
use bitmaps::check_bitmaps;
use counts::{CLASS_META, Counts};
use findings::Sink;
use imgcheck_core::{Finding, ReadAt, Severity};
use open::{check_chain, qemu_open_checks};
use placement::{gap_checks, overlap_checks};
use refcounts::{DiskRefcounts, read_cluster_into};
use serde::Serialize;
use stats::stats_finding;
use std::collections::HashMap;
use std::path::PathBuf;
use walk::{LostData, Refs, Source, check_l2};

/// What to check.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Also decode every compressed cluster (reads all compressed data).
    pub deep: bool,
    /// Also check each qcow2 image of the backing chain.
    pub check_backing: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            deep: false,
            check_backing: true,
        }
    }
}

/// The check of one backing image.
#[derive(Debug, Clone, Serialize)]
pub struct BackingCheck {
    /// Name as stored in the overlay's header.
    pub name: String,
    /// Resolved path.
    pub path: Option<PathBuf>,
    /// 1 for the overlay's direct backing file, 2 for its backing, ….
    pub depth: usize,
    /// Format as opened (`qcow2`, `raw`) or why it was not.
    pub state: String,
    /// The check of that image, when it is a qcow2 image that opened.
    pub report: Option<Box<CheckReport>>,
}

/// Result of [`check`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    /// Every finding, open-time ones included.
    pub findings: Vec<Finding>,
    /// `qemu-img check` corruptions.
    pub corruptions: u64,
    /// `qemu-img check` leaks.
    pub leaks: u64,
    /// `qemu-img check` check errors (the check could not complete).
    pub check_errors: u64,
    /// One past the last cluster in use, as qemu-img computes it.
    pub image_end_offset: u64,
    /// Clusters of the virtual disk.
    pub total_clusters: u64,
    /// Allocated clusters of the active L1 (data, preallocated zero, compressed).
    pub allocated_clusters: u64,
    /// Clusters not contiguous with the previous one of their L2 table.
    pub fragmented_clusters: u64,
    /// Compressed clusters of the active L1.
    pub compressed_clusters: u64,
    /// Length of the image file.
    pub file_length: u64,
    /// End of the highest byte range any structure references.
    pub highest_referenced_end: u64,
    /// Guest bytes of the current disk whose clusters lie past the end of the file.
    pub lost_guest_bytes: u64,
    /// L2 tables of the current disk lying past the end of the file: the
    /// guest ranges they map (up to one L2 range each) are lost too.
    pub lost_l2_tables: u64,
    /// Clusters past the end of the file with a non-zero refcount.
    pub refcounts_past_eof: u64,
    /// Why qemu-img would refuse to open the image (it then exits 1).
    pub qemu_open_failure: Option<String>,
    /// Checks of the backing chain, nearest first.
    pub backing: Vec<BackingCheck>,
}

impl CheckReport {
    /// `qemu-img check --output=json` for `filename`, with every counter
    /// present (qemu-img omits some when zero).
    pub fn qemu_json(&self, filename: &str) -> serde_json::Value {
        serde_json::json!({
            "filename": filename,
            "format": "qcow2",
            "check-errors": self.check_errors,
            "image-end-offset": self.image_end_offset,
            "corruptions": self.corruptions,
            "leaks": self.leaks,
            "corruptions-fixed": 0,
            "leaks-fixed": 0,
            "total-clusters": self.total_clusters,
            "allocated-clusters": self.allocated_clusters,
            "fragmented-clusters": self.fragmented_clusters,
            "compressed-clusters": self.compressed_clusters,
        })
    }

    /// `qemu-img check`'s exit code: 1 incomplete (or not openable by
    /// QEMU), 2 corruptions, 3 leaks only, 0 clean.
    pub fn qemu_exit_code(&self) -> i32 {
        if self.qemu_open_failure.is_some() || self.check_errors > 0 {
            1
        } else if self.corruptions > 0 {
            2
        } else if self.leaks > 0 {
            3
        } else {
            0
        }
    }

    /// The worst severity among the findings (and the backing chain's).
    pub fn worst(&self) -> Option<Severity> {
        let own = imgcheck_core::worst_severity(&self.findings);
        self.backing
            .iter()
            .filter_map(|b| b.report.as_ref().and_then(|r| r.worst()))
            .chain(own)
            .max()
    }
}

/// The state every pass shares: the image, the rebuilt counts, the
/// findings and the counters of the report being built.
struct Ctx<'a> {
    img: &'a Image,
    h: &'a Header,
    cs: u64,
    file_len: u64,
    counts: Counts,
    /// log2 of the cluster size.
    cbits: u32,
    refcount_max: u64,
    sink: Sink,
    r: CheckReport,
    /// How many references the structure being walked stands for: a
    /// table shared by several snapshots is walked once, counted N times.
    weight: u64,
    /// Decode compressed clusters too.
    deep: bool,
}

impl Ctx<'_> {
    fn corruption(&mut self, code: &'static str, offset: u64, msg: String) {
        self.r.corruptions = self.r.corruptions.saturating_add(self.weight);
        self.sink.push(Severity::Error, code, offset, msg);
    }
}

impl Ctx<'_> {
    /// A corruption qemu-img does not count: a finding only.
    fn corruption_extra(&mut self, code: &'static str, offset: u64, msg: String) {
        self.sink.push(Severity::Error, code, offset, msg);
    }
}

/// Checks `image` and returns counters and findings. Never fails: what
/// stops the check early is counted in `check_errors` and reported.
pub fn check(image: &Image, opts: &CheckOptions) -> CheckReport {
    let h = image.header();
    let cs = h.cluster_size();
    let file: &dyn ReadAt = image.file().as_ref();
    let file_len = file.len();
    let mut sink = Sink {
        findings: image.open_findings().to_vec(),
        per_code: HashMap::new(),
    };
    let mut r = CheckReport {
        file_length: file_len,
        total_clusters: h.size.div_ceil(cs),
        ..CheckReport::default()
    };
    let nb_clusters = file_len.div_ceil(cs);
    if nb_clusters > MAX_CHECK_CLUSTERS {
        r.check_errors = 1;
        sink.push(Severity::Error, "qcow2.check.too_large", 0, format!("the file has {nb_clusters} clusters, more than the {MAX_CHECK_CLUSTERS} this checker tracks; refcounts were not checked"));
        r.findings = sink.finish();
        return r;
    }
    let refcount_max = if h.refcount_order >= 6 {
        u64::MAX
    } else {
        (1u64 << h.refcount_bits()).saturating_sub(1)
    };
    let n = usz(nb_clusters);
    let mut c = Ctx {
        img: image,
        h,
        cs,
        file_len,
        counts: Counts::new(n),
        cbits: h.cluster_bits,
        refcount_max: refcount_max.min(u64::from(u32::MAX)),
        sink,
        r,
        weight: 1,
        deep: opts.deep,
    };
    qemu_open_checks(&mut c);

    // Header, then the active L1 and every snapshot's.
    c.inc(0, cs, CLASS_META, "header");
    let mut refs = Refs::default();
    let active = image.active_l1_shared();
    c.walk_l1(&active, Source::Active, &mut refs);
    let table = image.snapshot_table();
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
    let mut snap_l1s: Vec<usize> = Vec::new();
    for s in &table.snapshots {
        if !s.l1_table_offset.is_multiple_of(cs) {
            c.corruption(
                "qcow2.snapshot.l1_unaligned",
                s.entry_offset,
                format!(
                    "snapshot {} ({}) has its L1 table at {:#x}, which is not cluster aligned",
                    s.id, s.name, s.l1_table_offset
                ),
            );
            continue;
        }
        if u64::from(s.l1_size).saturating_mul(8) > MAX_L1_BYTES {
            c.corruption(
                "qcow2.snapshot.l1_too_large",
                s.entry_offset.saturating_add(8),
                format!(
                    "snapshot {} ({}) has an L1 table of {} entries, more than {}",
                    s.id,
                    s.name,
                    s.l1_size,
                    MAX_L1_BYTES / 8
                ),
            );
            continue;
        }
        snap_l1s.push(s.index);
        match groups
            .iter_mut()
            .find(|g| g.0 == (s.l1_table_offset, s.l1_size))
        {
            Some(g) => g.1 = g.1.saturating_add(1),
            None => groups.push(((s.l1_table_offset, s.l1_size), 1, s.index)),
        }
    }
    let mut l1_budget = MAX_CHECK_L1_BYTES;
    for ((off, size), weight, index) in groups {
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
                c.walk_l1(&l1, Source::Snapshot(index), &mut refs);
                c.weight = 1;
            }
            Err(e) => {
                c.r.check_errors = c.r.check_errors.saturating_add(1);
                c.sink.push(
                    Severity::Error,
                    "qcow2.check.io",
                    off,
                    format!("snapshot {index} L1 table: {e}"),
                );
            }
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
    }
    if table.overhanging > 0 {
        c.weight = u64::from(table.overhanging);
        c.corruption(
            "qcow2.snapshot.too_many",
            60,
            format!(
                "nb_snapshots is {}, more than the {MAX_SNAPSHOTS} allowed; {} snapshots overhang",
                h.nb_snapshots, table.overhanging
            ),
        );
        c.weight = 1;
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

    // Refcount structures.
    let rt_entries = h.refcount_table_entries();
    c.inc(
        h.refcount_table_offset,
        rt_entries.saturating_mul(8),
        CLASS_META,
        "refcount table",
    );
    let reftable: Vec<u64> = match read_zero_filled(
        file,
        h.refcount_table_offset,
        rt_entries.saturating_mul(8),
        MAX_REFTABLE_BYTES,
    ) {
        Ok((b, _)) => b.chunks_exact(8).map(|x| be64(x, 0)).collect(),
        Err(e) => {
            c.r.check_errors = c.r.check_errors.saturating_add(1);
            c.sink.push(
                Severity::Error,
                "qcow2.check.io",
                h.refcount_table_offset,
                format!("refcount table: {e}"),
            );
            Vec::new()
        }
    };
    let mut disk = DiskRefcounts {
        file,
        reftable,
        cluster_size: cs,
        rb_bits: h
            .cluster_bits
            .saturating_add(3)
            .saturating_sub(h.refcount_order),
        order: h.refcount_order,
        cache: HashMap::new(),
        one: Vec::new(),
        bad: Vec::new(),
        scanned: 0,
        buf: Vec::new(),
        vals: Vec::new(),
    };
    disk.scan(u64::try_from(c.counts.len()).unwrap_or(0));
    // COPIED on the active L1 entries (QEMU's check_oflag_copied).
    for (i, &l1e) in active.entries.iter().enumerate() {
        let l2 = l1e & L1E_OFFSET_MASK;
        if l2 == 0 {
            continue;
        }
        if let Ok(one) = disk.is_one(l2 >> h.cluster_bits)
            && one != (l1e & OFLAG_COPIED != 0)
        {
            let rc = disk.get(l2 >> h.cluster_bits).unwrap_or(0);
            let at = active
                .offset
                .saturating_add(u64::try_from(i).unwrap_or(0).saturating_mul(8));
            c.corruption(
                "qcow2.l1.copied_flag",
                at,
                format!(
                    "active L1 entry {i} ({l1e:#018x}) has COPIED {} but the L2 table's refcount is {rc}",
                    if l1e & OFLAG_COPIED != 0 { "set" } else { "clear" }
                ),
            );
        }
    }

    // L2 tables: each read once, in offset order.
    let refs = refs.sorted();
    let mut lost = LostData::default();
    let mut i = 0usize;
    let mut l2_buf = Vec::new();
    while let Some(&(l2_off, _, _, _)) = refs.get(i) {
        let table = read_cluster_into(file, l2_off, cs, &mut l2_buf).map(|()| &l2_buf);
        let mut j = i;
        // Active references one by one (fragmentation and COPIED are
        // per reference); snapshot references summed into one weight.
        let mut snap: Option<(Source, usize, u64)> = None;
        let mut work: Vec<(Source, usize, u64)> = Vec::new();
        while let Some(&(o, src, l1_index, w)) = refs.get(j) {
            if o != l2_off {
                break;
            }
            if src == Source::Active {
                work.push((src, l1_index, 1));
            } else {
                let cur = snap.get_or_insert((src, l1_index, 0));
                cur.2 = cur.2.saturating_add(w);
            }
            j = j.saturating_add(1);
        }
        work.extend(snap);
        for (src, l1_index, w) in work {
            c.weight = w;
            match &table {
                Ok(t) => check_l2(&mut c, t, l2_off, src, l1_index, &mut lost, &mut disk),
                Err(e) => {
                    c.r.check_errors = c.r.check_errors.saturating_add(1);
                    c.sink.push(
                        Severity::Error,
                        "qcow2.check.io",
                        l2_off,
                        format!("L2 table at {l2_off:#x}: {e}"),
                    );
                }
            }
            c.weight = 1;
        }
        i = j.max(i.saturating_add(1));
    }

    if let Some(cr) = h.extensions.crypto {
        c.inc(cr.offset, cr.length, CLASS_META, "encryption header");
    }
    check_bitmaps(&mut c);
    let reftable = disk.reftable.clone();
    for (i, &e) in reftable.iter().enumerate() {
        let at = h
            .refcount_table_offset
            .saturating_add(u64::try_from(i).unwrap_or(0).saturating_mul(8));
        if e & REFT_RESERVED_MASK != 0 {
            c.corruption(
                "qcow2.reftable.reserved_bits",
                at,
                format!("refcount table entry {i} is {e:#018x}: reserved bits are set"),
            );
            continue;
        }
        let off = e & REFT_OFFSET_MASK;
        if !off.is_multiple_of(cs) {
            c.corruption("qcow2.reftable.unaligned", at, format!("refcount table entry {i} points to a refcount block at {off:#x}, which is not cluster aligned"));
            continue;
        }
        let cl = off.checked_div(cs).unwrap_or(0);
        if cl >= u64::try_from(c.counts.len()).unwrap_or(u64::MAX) {
            c.r.highest_referenced_end = c.r.highest_referenced_end.max(off.saturating_add(cs));
            c.corruption("qcow2.refblock.past_eof", at, format!("refcount table entry {i} points to a refcount block at {off:#x}, outside the file ({file_len} bytes)"));
            continue;
        }
        if off != 0 {
            c.inc(off, cs, CLASS_META, "refcount block");
            let v = c.counts.get(usz(cl));
            if v != 1 {
                c.corruption("qcow2.refblock.shared", off, format!("refcount block {i} at {off:#x} is referenced {v} times; it must be referenced only by the refcount table"));
            }
        }
    }

    // Compare with the refcounts on disk, a refcount block at a time.
    let mut highest = 0u64;
    let total = u64::try_from(c.counts.len()).unwrap_or(0);
    let per = 1u64 << disk.rb_bits;
    let mut base = 0u64;
    while base < total {
        let end = base.saturating_add(per).min(total);
        let idx = base >> disk.rb_bits;
        if disk.load(idx).is_err() {
            for k in base..end {
                c.r.check_errors = c.r.check_errors.saturating_add(1);
                c.sink.push(Severity::Error, "qcow2.check.refcount_unreadable", k.saturating_mul(cs), format!("the refcount of cluster {k} cannot be read: its refcount block offset is not cluster aligned"));
            }
            base = end;
            continue;
        }
        // Fast pass: find the last cluster in use and whether any differs.
        let (b, e) = (usz(base), usz(end));
        let cells = c.counts.cells.get(b..e).unwrap_or(&[]);
        let mut differs = false;
        for (j, (&cell, &on_disk)) in cells.iter().zip(disk.vals.iter()).enumerate() {
            let counted = c.counts.count_of(b.saturating_add(j), cell);
            if on_disk | counted != 0 {
                highest = base.saturating_add(u64::try_from(j).unwrap_or(0));
            }
            differs |= on_disk != counted;
        }
        if differs {
            for k in base..end {
                let j = usz(k.saturating_sub(base));
                let on_disk = disk.vals.get(j).copied().unwrap_or(0);
                let counted = c.counts.get(usz(k));
                if on_disk < counted {
                    c.corruption("qcow2.refcount.too_low", k.saturating_mul(cs), format!("cluster {k} (offset {:#x}) has refcount {on_disk} on disk but {counted} references; freeing or reusing it would destroy data", k.saturating_mul(cs)));
                } else if on_disk > counted {
                    c.r.leaks = c.r.leaks.saturating_add(1);
                    c.sink.push_leak(k, cs, on_disk, counted);
                }
            }
        }
        base = end;
    }
    c.r.image_end_offset = highest.saturating_add(1).saturating_mul(cs);

    gap_checks(&mut c, &mut disk, &lost, &snap_l1s);
    overlap_checks(&mut c);

    let mut r = c.r;
    let mut sink = c.sink;
    stats_finding(&mut sink, &r);
    if opts.check_backing {
        r.backing = check_chain(image, opts);
    }
    r.findings = sink.finish();
    r
}

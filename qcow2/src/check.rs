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
mod snapshots;
mod stats;
mod walk;

use crate::header::Header;
use crate::image::*;
use crate::limits::*;
use bitmaps::check_bitmaps;
use counts::{CLASS_META, Counts};
use findings::Sink;
use imgcheck_core::bytes::usize_of;
use imgcheck_core::{Budget, Finding, Metered, ReadAt, Severity};
use open::{backing_findings, check_chain, qemu_open_checks};
use placement::{overlap_checks, refcounts_past_eof, truncation};
use refcounts::{DiskRefcounts, check_l1_copied, check_refblocks};
use serde::{Deserialize, Serialize};
use snapshots::{snapshot_size_checks, walk_snapshots};
use stats::stats_finding;
use std::path::PathBuf;
use std::sync::Arc;
use walk::{Refs, Source, walk_l2_tables};

/// What to check.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Also decode every compressed cluster (reads all compressed data).
    pub deep: bool,
    /// Also check each qcow2 image of the backing chain.
    pub check_backing: bool,
    /// The total work bound to charge: every byte the check reads and
    /// every structure it visits. `None`: a bound of its own, from
    /// [`CHECK_BASE_BYTES`], [`CHECK_BYTES_PER_FILE_BYTE`] and
    /// [`MAX_CHECK_VISITS`] (shared with the checks of the backing chain).
    pub budget: Option<Arc<Budget>>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            deep: false,
            check_backing: true,
            budget: None,
        }
    }
}

/// The check of one backing image.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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
    /// Why qemu-img's check would stop without a result ("Check failed:
    /// {this}", exit 1, no JSON), e.g. "File too large" for a snapshot
    /// table it refuses.
    pub qemu_abort: Option<String>,
    /// The work bound stopped the check (it is incomplete; a finding says
    /// where): its counters are not qemu-img's.
    pub bound_hit: bool,
    /// Checks of the backing chain, nearest first (each a
    /// [`BackingCheck`], exported at the crate root as
    /// `imgcheck_qcow2::BackingCheck`).
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

    /// What `qemu-img check --output=json` prints for `filename`: its
    /// JSON object, or, when qemu-img prints none (it cannot open the
    /// image, or its check stops), the message it gives instead.
    pub fn qemu_output(&self, filename: &str) -> Result<serde_json::Value, String> {
        if let Some(why) = &self.qemu_open_failure {
            return Err(format!("Could not open '{filename}': {why}"));
        }
        if let Some(why) = &self.qemu_abort {
            return Err(format!("Check failed: {why}"));
        }
        if self.bound_hit {
            return Err(
                "imgcheck stopped at its work bound; qemu-img's counts are not known".into(),
            );
        }
        Ok(self.qemu_json(filename))
    }

    /// `qemu-img check`'s exit code: 1 incomplete (or not openable by
    /// QEMU, or the check stopped), 2 corruptions, 3 leaks only, 0 clean.
    pub fn qemu_exit_code(&self) -> i32 {
        if self.qemu_open_failure.is_some()
            || self.qemu_abort.is_some()
            || self.bound_hit
            || self.check_errors > 0
        {
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
    /// The image file, every read charged to the budget.
    file: &'a dyn ReadAt,
    budget: &'a Budget,
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
    /// table shared by several L1 entries or snapshots is walked once,
    /// counted N times.
    weight: u64,
    /// How many of them are the active L1's (allocation statistics,
    /// COPIED and lost data are about the current disk only).
    active_w: u64,
    /// End of the bytes the image really needs: whole metadata
    /// structures, allocated (sub)clusters, and of a compressed cluster
    /// only what its stream consumes. A file shorter than this is
    /// truncated; one shorter only than its references is not.
    needed_end: u64,
    /// Decode compressed clusters too.
    deep: bool,
}

impl Ctx<'_> {
    /// A corruption qemu-img counts, once per reference being walked.
    fn corruption(&mut self, code: &'static str, offset: u64, msg: String) {
        self.r.corruptions = self.r.corruptions.saturating_add(self.weight);
        self.sink.push(Severity::Error, code, offset, msg);
    }

    /// [`Ctx::corruption`] with the message formatted only when it will be
    /// listed.
    fn corruption_with(&mut self, code: &'static str, offset: u64, msg: impl FnOnce() -> String) {
        self.r.corruptions = self.r.corruptions.saturating_add(self.weight);
        self.sink.push_with(Severity::Error, code, offset, msg);
    }

    /// A corruption counted `w` times (the active references of a table
    /// shared by several L1 entries), the message formatted only when
    /// listed.
    fn corruption_w(
        &mut self,
        w: u64,
        code: &'static str,
        offset: u64,
        msg: impl FnOnce() -> String,
    ) {
        self.r.corruptions = self.r.corruptions.saturating_add(w);
        self.sink.push_with(Severity::Error, code, offset, msg);
    }

    /// A read qemu-img would fail on: a check error and a finding naming
    /// the structure and its offset. A read the budget refused is the
    /// bound instead.
    fn read_failed(&mut self, what: &str, offset: u64, e: &imgcheck_core::ReadError) {
        if matches!(e.kind, imgcheck_core::ReadErrorKind::Budget { .. }) {
            self.bound(what, offset);
            return;
        }
        self.r.check_errors = self.r.check_errors.saturating_add(1);
        if matches!(e.kind, imgcheck_core::ReadErrorKind::Io(_)) {
            self.r
                .qemu_abort
                .get_or_insert_with(|| "Input/output error".into());
        }
        self.sink
            .push_with(Severity::Error, "qcow2.check.io", offset, || {
                format!("reading the {what} at {offset:#x} failed: {e}")
            });
    }

    /// Charges one visit of a structure; `false` (and the bound's finding)
    /// once the work bound is spent.
    fn visit(&mut self, what: &str, offset: u64) -> bool {
        if self.budget.charge(0, 1).is_ok() {
            return true;
        }
        self.bound(what, offset);
        false
    }

    /// The work bound stopped the check at `what`.
    fn bound(&mut self, what: &str, offset: u64) {
        if self.r.bound_hit {
            return;
        }
        self.r.bound_hit = true;
        self.r.check_errors = self.r.check_errors.saturating_add(1);
        let (bytes, visits) = self.budget.limits();
        let used = self.budget.exhausted();
        self.sink.push(
            Severity::Error,
            "qcow2.check.bound",
            offset,
            format!(
                "check stopped at the {what} at {offset:#x}: its work bound ({} read, {visits} structures visited) is spent{}; what follows was not checked",
                imgcheck_core::human_size(bytes),
                used.map_or(String::new(), |u| format!(" after {} read and {} visits", imgcheck_core::human_size(u.bytes), u.visits))
            ),
        );
    }
}

/// The check's own work bound for an image file of `file_len` bytes.
/// Each backing image the check goes on to adds its share
/// ([`Budget::add_file`]): a small overlay on a large base is not cut short.
pub fn default_budget(file_len: u64) -> Budget {
    Budget::new(
        CHECK_BASE_BYTES.saturating_add(file_len.saturating_mul(CHECK_BYTES_PER_FILE_BYTE)),
        MAX_CHECK_VISITS,
    )
    .per_file_byte(CHECK_BYTES_PER_FILE_BYTE)
}

/// Checks `image` and returns counters and findings. Never fails: what
/// stops the check early is counted in `check_errors` and reported.
pub fn check(image: &Image, opts: &CheckOptions) -> CheckReport {
    let h = image.header();
    let cs = h.cluster_size();
    let file_len = image.file().len();
    let budget = opts
        .budget
        .clone()
        .unwrap_or_else(|| Arc::new(default_budget(file_len)));
    let metered = Metered::new(Arc::clone(image.file()), Arc::clone(&budget));
    let file: &dyn ReadAt = &metered;
    // The dirty bit's severity depends on what the refcounts say.
    let (dirty, open): (Vec<Finding>, Vec<Finding>) = image
        .open_findings()
        .iter()
        .cloned()
        .partition(|f| f.code == "qcow2.header.dirty");
    let mut sink = Sink::new(&open);
    let mut r = CheckReport {
        file_length: file_len,
        total_clusters: h.size.div_ceil(cs),
        ..CheckReport::default()
    };
    let nb_clusters = file_len.div_ceil(cs);
    if nb_clusters > MAX_CHECK_CLUSTERS {
        r.check_errors = 1;
        r.bound_hit = true;
        sink.push(Severity::Error, "qcow2.check.too_large", 0, format!("the file has {nb_clusters} clusters, more than the {MAX_CHECK_CLUSTERS} this checker tracks; refcounts were not checked"));
        r.findings = sink.finish();
        r.findings.extend(dirty);
        return r;
    }
    let refcount_max = if h.refcount_order >= 6 {
        u64::MAX
    } else {
        (1u64 << h.refcount_bits()).saturating_sub(1)
    };
    let n = usize_of(nb_clusters);
    let mut c = Ctx {
        img: image,
        file,
        budget: &budget,
        h,
        cs,
        file_len,
        counts: Counts::new(n),
        cbits: h.cluster_bits,
        refcount_max: refcount_max.min(u64::from(u32::MAX)),
        sink,
        r,
        weight: 1,
        active_w: 0,
        needed_end: 0,
        deep: opts.deep,
    };
    qemu_open_checks(&mut c);

    // Header, then the active L1 and every snapshot's.
    c.inc(0, cs, CLASS_META, "header");
    let mut refs = Refs::default();
    let active = image.active_l1_shared();
    c.walk_l1(&active, Source::Active, &mut refs);
    let snap_l1s = walk_snapshots(&mut c, &mut refs);

    // The refcounts on disk, needed by the COPIED checks of the walk.
    let mut disk = DiskRefcounts::read(&mut c);
    check_l1_copied(&mut c, &mut disk, &active);
    let lost = walk_l2_tables(&mut c, refs, &mut disk);

    // The other referencing structures, then the comparison.
    if let Some(cr) = h.extensions.crypto {
        c.inc(cr.offset, cr.length, CLASS_META, "encryption header");
    }
    check_bitmaps(&mut c);
    check_refblocks(&mut c, &disk);
    refcounts::compare(&mut c, &mut disk);

    // What qemu-img check does not look at.
    refcounts_past_eof(&mut c, &disk);
    truncation(&mut c, &lost);
    snapshot_size_checks(&mut c, &snap_l1s);
    backing_findings(&mut c);
    overlap_checks(&mut c);

    let mut r = c.r;
    let mut sink = c.sink;
    for mut f in dirty {
        if r.corruptions == 0 && r.leaks == 0 && r.check_errors == 0 {
            // Nothing is stale: the next read-write open clears the bit.
            f.severity = Severity::Info;
            f.message = "the dirty bit is set (incompatible_features bit 0): the image was not closed cleanly, but its refcounts agree with its tables; the next read-write open clears the bit".into();
            f.hint = None;
        } else if h.compatible_features & crate::header::COMPAT_LAZY_REFCOUNTS != 0 {
            f.message.push_str("; with lazy refcounts (compatible bit 0) the refcount differences reported here are what a crash leaves, and QEMU rebuilds them on the next read-write open");
        }
        sink.push_f(f);
    }
    stats_finding(&mut sink, &r);
    if opts.check_backing {
        let sub = CheckOptions {
            check_backing: false,
            budget: Some(Arc::clone(&budget)),
            ..opts.clone()
        };
        r.backing = check_chain(image, &sub);
    }
    r.findings = sink.finish();
    r
}

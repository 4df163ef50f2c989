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

use crate::header::{Header, be32, be64, usz};
use crate::image::*;
use crate::limits::*;
use imgcheck_core::{Finding, Hint, Layer, ReadAt, Severity, Space, Target};
use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

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

/// Per-code cap on individual findings; the rest are summarised.
const FINDINGS_PER_CODE: u32 = 50;

const CLASS_DATA: u8 = 1;
const CLASS_L2: u8 = 2;
const CLASS_META: u8 = 4;

/// Cell bits 0..=2: the reference count, or `COUNT_WIDE` when it lives in
/// the wide table.
const COUNT_MASK: u8 = 0b111;
const COUNT_WIDE: u8 = 0b111;
/// Cell bits 3..=5: the classes (`CLASS_*` shifted).
const CLASS_SHIFT: u32 = 3;
/// Cell bits 6..=7: how many metadata references, saturating at 2 (only
/// "more than one" matters).
const META_SHIFT: u32 = 6;
/// Clusters per chunk of the wide table.
const WIDE_CHUNK: usize = 1024;

/// The rebuilt reference counts and what each cluster is used as, in one
/// byte per cluster: nearly every count is 0..=6, so the wide table (four
/// bytes per cluster, allocated in chunks) exists only where counts are
/// higher. Worst case stays within five bytes per cluster.
#[derive(Default)]
struct Counts {
    cells: Vec<u8>,
    wide: Vec<Option<Box<[u32]>>>,
}

impl Counts {
    fn new(n: usize) -> Counts {
        Counts {
            cells: vec![0; n],
            wide: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.cells.len()
    }

    fn grow(&mut self, n: usize) {
        if n > self.cells.len() {
            self.cells.resize(n, 0);
        }
    }

    fn wide_get(&self, k: usize) -> u64 {
        self.wide
            .get(k / WIDE_CHUNK)
            .and_then(|c| c.as_ref())
            .and_then(|c| c.get(k % WIDE_CHUNK))
            .map_or(0, |&v| u64::from(v))
    }

    fn wide_set(&mut self, k: usize, v: u64) {
        let chunk = k / WIDE_CHUNK;
        if self.wide.len() <= chunk {
            self.wide.resize_with(chunk.saturating_add(1), || None);
        }
        if let Some(slot) = self.wide.get_mut(chunk) {
            let c = slot.get_or_insert_with(|| vec![0u32; WIDE_CHUNK].into_boxed_slice());
            if let Some(x) = c.get_mut(k % WIDE_CHUNK) {
                *x = u32::try_from(v).unwrap_or(u32::MAX);
            }
        }
    }

    /// The count of cluster `k`, decoded from its cell.
    #[inline]
    fn count_of(&self, k: usize, cell: u8) -> u64 {
        let low = cell & COUNT_MASK;
        if low == COUNT_WIDE {
            self.wide_get(k)
        } else {
            u64::from(low)
        }
    }

    fn get(&self, k: usize) -> u64 {
        self.cells.get(k).map_or(0, |&c| self.count_of(k, c))
    }

    /// Adds `weight` references (up to `max`) and the class; returns how
    /// many references did not fit.
    #[inline]
    fn add(&mut self, k: usize, weight: u64, max: u64, class: u8) -> u64 {
        let Some(&cell) = self.cells.get(k) else {
            return 0;
        };
        let cur = self.count_of(k, cell);
        let add = weight.min(max.saturating_sub(cur));
        let new = cur.saturating_add(add);
        let mut cell = cell | (class << CLASS_SHIFT);
        if class == CLASS_META {
            let m = u64::from(cell >> META_SHIFT).saturating_add(weight).min(2);
            cell = (cell & !(0b11 << META_SHIFT)) | (u8::try_from(m).unwrap_or(2) << META_SHIFT);
        }
        match u8::try_from(new) {
            Ok(v) if v < COUNT_WIDE && cell & COUNT_MASK != COUNT_WIDE => {
                cell = (cell & !COUNT_MASK) | v;
            }
            _ => {
                cell |= COUNT_WIDE;
                self.wide_set(k, new);
            }
        }
        if let Some(c) = self.cells.get_mut(k) {
            *c = cell;
        }
        weight.saturating_sub(add)
    }
}

struct Sink {
    findings: Vec<Finding>,
    per_code: HashMap<&'static str, (u32, u64)>,
}

impl Sink {
    fn push(&mut self, sev: Severity, code: &'static str, offset: u64, msg: String) {
        let e = self.per_code.entry(code).or_insert((0, 0));
        if e.0 < FINDINGS_PER_CODE {
            e.0 = e.0.saturating_add(1);
            self.findings.push(Finding::new(
                sev,
                code,
                Layer::QCOW2,
                offset,
                Space::File,
                msg,
            ));
        } else {
            e.1 = e.1.saturating_add(1);
        }
    }
    fn push_f(&mut self, f: Finding) {
        self.findings.push(f);
    }
    fn finish(mut self) -> Vec<Finding> {
        for f in &mut self.findings {
            if f.hint.is_none() {
                f.hint = hint_for(&f.code);
            }
        }
        let mut extra: Vec<_> = self
            .per_code
            .iter()
            .filter(|(_, v)| v.1 > 0)
            .map(|(k, v)| (*k, v.1))
            .collect();
        extra.sort();
        for (code, n) in extra {
            let sev = self
                .findings
                .iter()
                .find(|f| f.code == code)
                .map_or(Severity::Error, |f| f.severity);
            self.findings.push(Finding::new(
                sev,
                code,
                Layer::QCOW2,
                0,
                Space::File,
                format!("{n} more findings of this kind were not listed"),
            ));
        }
        self.findings
    }
}

/// The next step for a finding code.
fn hint_for(code: &str) -> Option<Hint> {
    let repair = || {
        Hint::writes("cp {image} {image}.bak && qemu-img check -r all {image}.bak")
            .on(Target::Image)
            .because("repair a copy, never the evidence")
    };
    let ro = |c: &str| Hint::read_only(c).on(Target::Image);
    Some(match code {
        "qcow2.refcount.leak" => Hint::writes("qemu-img check -r leaks {image}")
            .on(Target::Image)
            .because("frees the leaked clusters; harmless, but on a copy if the image matters"),
        "qcow2.refcount.past_eof" | "qcow2.file.truncated" => {
            ro("qemu-img convert -O raw {image} out.raw").because("look for the rest of the file first (an interrupted copy?); the conversion recovers what remains")
        }
        "qcow2.compressed.undecodable" => {
            ro("qemu-img convert -O raw {image} out.raw").because("fails (EIO) at the unreadable clusters; restore them from a backup")
        }
        "qcow2.data_file.past_eof"
        | "qcow2.data_file.name_missing"
        | "qcow2.data_file.raw_without_file" => {
            ro("qemu-img info {image}").because("check the data-file name and that the data file is complete")
        }
        "qcow2.backing.missing"
        | "qcow2.backing.unreadable"
        | "qcow2.backing.loop"
        | "qcow2.backing.too_deep"
        | "qcow2.backing.size_differs"
        | "qcow2.backing.not_followed" => ro("qemu-img info --backing-chain {image}"),
        "qcow2.header.encrypted"
        | "qcow2.crypto.missing_header"
        | "qcow2.crypto.extension_size" => ro("qemu-img info {image}"),
        // Info needs no next step.
        "qcow2.stats"
        | "qcow2.snapshot.disk_size_differs"
        | "qcow2.check.too_large"
        | "qcow2.check.io" => {
            return None;
        }
        c if c.starts_with("qcow2.snapshot.") => ro("qemu-img snapshot -l {image}")
            .because("then repair a copy: cp {image} {image}.bak && qemu-img check -r all {image}.bak"),
        c if c.starts_with("qcow2.") => repair(),
        _ => return None,
    })
}

struct DiskRefcounts<'a> {
    file: &'a dyn ReadAt,
    reftable: Vec<u64>,
    cluster_size: u64,
    rb_bits: u32,
    order: u32,
    cache: HashMap<u64, Arc<[u8]>>,
    /// Clusters below `scanned` whose refcount on disk is 1, a bit each:
    /// the COPIED checks look up every allocated cluster, in any order.
    one: Vec<u64>,
    /// Per refcount table index below the scanned range: the block
    /// cannot be read (QEMU: "Can't get refcount").
    bad: Vec<bool>,
    scanned: u64,
    /// One refcount block's bytes and its decoded entries, reused.
    buf: Vec<u8>,
    vals: Vec<u64>,
}

impl DiskRefcounts<'_> {
    /// On-disk refcount of `cluster`; `Err` when its refblock offset is
    /// unaligned (QEMU: "Can't get refcount").
    fn get(&mut self, cluster: u64) -> Result<u64, ()> {
        let idx = cluster >> self.rb_bits;
        let Some(&e) = self.reftable.get(usz(idx)) else {
            return Ok(0);
        };
        let off = e & REFT_OFFSET_MASK;
        if off == 0 {
            return Ok(0);
        }
        if !off.is_multiple_of(self.cluster_size) {
            return Err(());
        }
        let block = match self.cache.get(&off) {
            Some(b) => Arc::clone(b),
            None => {
                let (b, _) = read_zero_filled(self.file, off, self.cluster_size, self.cluster_size)
                    .map_err(|_| ())?;
                let b: Arc<[u8]> = b.into();
                if self.cache.len() >= REFBLOCK_CACHE {
                    self.cache.clear();
                }
                self.cache.insert(off, Arc::clone(&b));
                b
            }
        };
        let entry = cluster & ((1u64 << self.rb_bits).saturating_sub(1));
        Ok(refcount_at(&block, self.order, entry))
    }
}

impl DiskRefcounts<'_> {
    /// Reads refcount block `idx` of the table into `self.vals` (all
    /// zeros when there is none); `Err` when its offset is unaligned or
    /// it cannot be read, as [`DiskRefcounts::get`] answers.
    fn load(&mut self, idx: u64) -> Result<(), ()> {
        let n = usz(1u64 << self.rb_bits);
        self.vals.clear();
        let off = self
            .reftable
            .get(usz(idx))
            .map_or(0, |&e| e & REFT_OFFSET_MASK);
        if off == 0 {
            self.vals.resize(n, 0);
            return Ok(());
        }
        if !off.is_multiple_of(self.cluster_size) {
            return Err(());
        }
        read_cluster_into(self.file, off, self.cluster_size, &mut self.buf).map_err(|_| ())?;
        decode_block(&self.buf, self.order, &mut self.vals);
        self.vals.resize(n, 0);
        Ok(())
    }

    /// Builds the "refcount is 1" bitmap for clusters `0..n`, reading
    /// each refcount block once.
    fn scan(&mut self, n: u64) {
        let per = 1u64 << self.rb_bits;
        let blocks = n.div_ceil(per);
        self.one = vec![0; usz(n.div_ceil(64))];
        self.bad = vec![false; usz(blocks)];
        for idx in 0..blocks {
            let base = idx.saturating_mul(per);
            if self.load(idx).is_err() {
                if let Some(b) = self.bad.get_mut(usz(idx)) {
                    *b = true;
                }
                continue;
            }
            let vals = std::mem::take(&mut self.vals);
            for (k, _) in (base..n).zip(vals.iter()).filter(|(_, v)| **v == 1) {
                if let Some(w) = self.one.get_mut(usz(k >> 6)) {
                    *w |= 1u64 << (k & 63);
                }
            }
            self.vals = vals;
        }
        self.scanned = n;
    }

    /// Whether the on-disk refcount of `cluster` is 1: the bitmap when
    /// scanned, else a lookup.
    #[inline]
    fn is_one(&mut self, cluster: u64) -> Result<bool, ()> {
        if cluster < self.scanned {
            if self
                .bad
                .get(usz(cluster >> self.rb_bits))
                .copied()
                .unwrap_or(true)
            {
                return Err(());
            }
            let w = self.one.get(usz(cluster >> 6)).copied().unwrap_or(0);
            return Ok(w >> (cluster & 63) & 1 == 1);
        }
        self.get(cluster).map(|v| v == 1)
    }
}

/// Reads `len` (at most a cluster) bytes at `offset` into `buf`, reusing
/// its allocation; bytes past the end of the file read as zeros.
fn read_cluster_into(
    file: &dyn ReadAt,
    offset: u64,
    len: u64,
    buf: &mut Vec<u8>,
) -> Result<(), imgcheck_core::ReadError> {
    let len = usz(len);
    // Only a new or grown buffer is zeroed; the read overwrites the rest.
    buf.resize(len, 0);
    buf.truncate(len);
    let have = usz(file.len().saturating_sub(offset)).min(len);
    let Some((part, tail)) = buf.split_at_mut_checked(have) else {
        return Ok(());
    };
    tail.fill(0);
    if !part.is_empty() {
        file.read_exact_at(offset, part)?;
    }
    Ok(())
}

/// Decodes every entry of a refcount block with `1 << order`-bit entries.
fn decode_block(block: &[u8], order: u32, out: &mut Vec<u64>) {
    match order {
        3 => out.extend(block.iter().map(|&b| u64::from(b))),
        4 => out.extend(block.chunks_exact(2).map(|c| {
            u64::from(u16::from_be_bytes([
                c.first().copied().unwrap_or(0),
                c.get(1).copied().unwrap_or(0),
            ]))
        })),
        5 => out.extend(block.chunks_exact(4).map(|c| u64::from(be32(c, 0)))),
        6 => out.extend(block.chunks_exact(8).map(|c| be64(c, 0))),
        _ => {
            let n = u64::try_from(block.len()).unwrap_or(0).saturating_mul(8) >> order.min(6);
            out.extend((0..n).map(|i| refcount_at(block, order, i)));
        }
    }
}

/// Entry `i` of a refcount block with `1 << order`-bit entries.
fn refcount_at(block: &[u8], order: u32, i: u64) -> u64 {
    if order < 3 {
        let bits = 1u64 << order;
        let bit = i.saturating_mul(bits);
        let byte = block.get(usz(bit / 8)).copied().unwrap_or(0);
        let shift = u32::try_from(bit % 8).unwrap_or(0);
        u64::from(byte >> shift) & ((1u64 << bits).saturating_sub(1))
    } else {
        let width = usz(1u64 << order.saturating_sub(3));
        let at = usz(i).saturating_mul(width);
        let b = at
            .checked_add(width)
            .and_then(|e| block.get(at..e))
            .unwrap_or(&[]);
        b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
    }
}

/// An L2 table reference: offset, who refers, L1 index, weight.
type L2Ref = (u64, Source, usize, u64);

/// L2 references: the active L1's one by one, the snapshots' merged per
/// table offset (so memory is bounded by the file's size in clusters).
#[derive(Default)]
struct Refs {
    active: Vec<L2Ref>,
    snapshots: HashMap<u64, L2Ref>,
}

impl Refs {
    fn add(&mut self, l2: u64, src: Source, l1_index: usize, weight: u64) {
        if src == Source::Active {
            self.active.push((l2, src, l1_index, weight));
        } else {
            let e = self.snapshots.entry(l2).or_insert((l2, src, l1_index, 0));
            e.3 = e.3.saturating_add(weight);
        }
    }

    /// All references sorted by table offset.
    fn sorted(self) -> Vec<L2Ref> {
        let mut v = self.active;
        v.extend(self.snapshots.into_values());
        v.sort();
        v
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Active,
    Snapshot(usize),
}

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
    /// QEMU's `qcow2_inc_refcounts_imrt`.
    fn inc(&mut self, offset: u64, size: u64, class: u8, what: &str) {
        if size == 0 {
            return;
        }
        let end = offset.saturating_add(size);
        self.r.highest_referenced_end = self.r.highest_referenced_end.max(end);
        // The last cluster may be partly past EOF; a whole cluster may not.
        if end >= self.file_len.saturating_add(self.cs) {
            self.r.corruptions = self.r.corruptions.saturating_add(self.weight);
            self.sink.push(
                Severity::Error,
                "qcow2.reference.past_eof",
                offset,
                format!("{what} at {offset:#x} ({size} bytes) ends at {end:#x}, a cluster or more past the end of the file ({} bytes)", self.file_len),
            );
            return;
        }
        let first = offset >> self.cbits;
        let last = end.saturating_sub(1) >> self.cbits;
        // Bounded: last < (file_len + cs) / cs.
        for k in first..=last {
            let ku = usz(k);
            if ku >= self.counts.len() {
                self.counts.grow(ku.saturating_add(1));
            }
            // QEMU counts one overflow for every reference past the maximum.
            let over = self.counts.add(ku, self.weight, self.refcount_max, class);
            if over > 0 {
                self.r.corruptions = self.r.corruptions.saturating_add(over);
                self.sink.push(
                    Severity::Error,
                    "qcow2.refcount.overflow",
                    k.saturating_mul(self.cs),
                    format!(
                        "cluster {k} is referenced more often than a {}-bit refcount can count",
                        self.h.refcount_bits()
                    ),
                );
            }
        }
    }

    /// [`Ctx::inc`] for one aligned data cluster wholly inside the file,
    /// with a fast path for the usual small counts.
    #[inline]
    fn inc_data(&mut self, off: u64) {
        self.r.highest_referenced_end = self
            .r
            .highest_referenced_end
            .max(off.saturating_add(self.cs));
        if let Some(cell) = self.counts.cells.get_mut(usz(off >> self.cbits)) {
            let low = *cell & COUNT_MASK;
            let new = u64::from(low).saturating_add(self.weight);
            if low != COUNT_WIDE
                && new < u64::from(COUNT_WIDE)
                && new <= self.refcount_max
                && let Ok(new) = u8::try_from(new)
            {
                *cell = (*cell & !COUNT_MASK) | (CLASS_DATA << CLASS_SHIFT) | new;
                return;
            }
        }
        self.inc(off, self.cs, CLASS_DATA, "data cluster");
    }

    fn corruption(&mut self, code: &'static str, offset: u64, msg: String) {
        self.r.corruptions = self.r.corruptions.saturating_add(self.weight);
        self.sink.push(Severity::Error, code, offset, msg);
    }

    /// Marks an L1 table and collects its L2 references.
    fn walk_l1(&mut self, l1: &L1Table, src: Source, refs: &mut Refs) {
        let what = match src {
            Source::Active => "active L1 table".to_string(),
            Source::Snapshot(i) => format!("L1 table of snapshot {i}"),
        };
        self.inc(
            l1.offset,
            u64::try_from(l1.size).unwrap_or(0).saturating_mul(8),
            CLASS_META,
            &what,
        );
        for (i, &e) in l1.entries.iter().enumerate() {
            let at = l1
                .offset
                .saturating_add(u64::try_from(i).unwrap_or(0).saturating_mul(8));
            if e & L1E_RESERVED_MASK != 0 {
                self.corruption(
                    "qcow2.l1.reserved_bits",
                    at,
                    format!(
                        "{what} entry {i} is {e:#018x}: reserved bits {:#x} are set",
                        e & L1E_RESERVED_MASK
                    ),
                );
            }
            let l2 = e & L1E_OFFSET_MASK;
            if l2 == 0 {
                continue;
            }
            self.inc(l2, self.cs, CLASS_L2, "L2 table");
            if !l2.is_multiple_of(self.cs) {
                self.corruption("qcow2.l1.unaligned", at, format!("{what} entry {i} points to an L2 table at {l2:#x}, which is not cluster aligned"));
            }
            if src == Source::Active && l2.saturating_add(self.cs) > self.file_len {
                self.r.lost_l2_tables = self.r.lost_l2_tables.saturating_add(1);
            }
            // A table past EOF reads as zeros and references nothing more.
            if l2 < self.file_len {
                refs.add(l2, src, i, self.weight);
            }
        }
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

impl Sink {
    fn push_leak(&mut self, k: u64, cs: u64, on_disk: u64, counted: u64) {
        self.push(
            Severity::Warning,
            "qcow2.refcount.leak",
            k.saturating_mul(cs),
            format!("cluster {k} (offset {:#x}) has refcount {on_disk} on disk but {counted} references: leaked space", k.saturating_mul(cs)),
        );
        if let Some(f) = self.findings.last_mut()
            && f.code == "qcow2.refcount.leak"
            && f.hint.is_none()
        {
            f.hint = hint_for("qcow2.refcount.leak");
        }
    }
}

#[derive(Default)]
struct LostData {
    clusters: u64,
    first_guest: Option<u64>,
    compressed_entries: Vec<(u64, u64)>,
}

/// An L2 entry whose COPIED flag disagrees with its cluster's refcount.
#[cold]
fn copied_finding(
    c: &mut Ctx<'_>,
    disk: &mut DiskRefcounts<'_>,
    i: usize,
    l2_off: u64,
    e: u64,
    off: u64,
) {
    let rc = if c.h.has_data_file() {
        1
    } else {
        disk.get(off >> c.h.cluster_bits).unwrap_or(0)
    };
    let eoff = l2_off.saturating_add(
        u64::try_from(i)
            .unwrap_or(0)
            .saturating_mul(c.h.l2_entry_size()),
    );
    c.corruption(
        "qcow2.l2.copied_flag",
        eoff,
        format!(
            "L2 entry {i} of the table at {l2_off:#x} ({e:#018x}) has COPIED {} but the data cluster's refcount is {rc}",
            if e & OFLAG_COPIED != 0 { "set" } else { "clear" }
        ),
    );
}

fn check_l2(
    c: &mut Ctx<'_>,
    t: &[u8],
    l2_off: u64,
    src: Source,
    l1_index: usize,
    lost: &mut LostData,
    disk: &mut DiskRefcounts<'_>,
) {
    let h = c.h;
    let cs = c.cs;
    let es = usz(h.l2_entry_size());
    let frag = src == Source::Active;
    let ext = h.extended_l2();
    let data_file = h.has_data_file();
    let mut next_contiguous = 0u64;
    let entries = usz(h.l2_entries());
    // Standard entries without an external data file: the common case,
    // with a fast path for the entries that need nothing but counting.
    let plain = !ext && !data_file;
    let cmask = cs.saturating_sub(1);
    let last_whole = c.file_len.saturating_sub(cs);
    for i in 0..entries {
        let at = i.saturating_mul(es);
        let e = be64(t, at);
        if plain {
            if e == 0 {
                continue;
            }
            let off = e & L2E_OFFSET_MASK;
            // Data or preallocated zero, no reserved bits, aligned and
            // wholly inside the file: none of the findings below apply
            // except COPIED and the counting.
            if e & (OFLAG_COMPRESSED | L2E_STD_RESERVED_MASK) == 0
                && off != 0
                && off & cmask == 0
                && off <= last_whole
            {
                if frag {
                    c.r.allocated_clusters = c.r.allocated_clusters.saturating_add(1);
                    if next_contiguous != 0 && off != next_contiguous {
                        c.r.fragmented_clusters = c.r.fragmented_clusters.saturating_add(1);
                    }
                    next_contiguous = off.saturating_add(cs);
                    if let Ok(one) = disk.is_one(off >> h.cluster_bits)
                        && one != (e & OFLAG_COPIED != 0)
                    {
                        copied_finding(c, disk, i, l2_off, e, off);
                    }
                }
                c.inc_data(off);
                continue;
            }
        }
        let bitmap = if ext {
            be64(t, at.saturating_add(8))
        } else {
            0
        };
        let eoff = l2_off.saturating_add(u64::try_from(at).unwrap_or(0));
        let ty = cluster_type(h, e);
        let guest = u64::try_from(l1_index)
            .unwrap_or(0)
            .saturating_mul(h.l2_entries())
            .saturating_add(u64::try_from(i).unwrap_or(0))
            .saturating_mul(cs);
        if ty != ClusterType::Compressed && e & L2E_STD_RESERVED_MASK != 0 {
            c.corruption("qcow2.l2.reserved_bits", eoff, format!("L2 entry {i} of the table at {l2_off:#x} is {e:#018x}: reserved bits {:#x} are set", e & L2E_STD_RESERVED_MASK));
        }
        match ty {
            ClusterType::Compressed => {
                if e & OFLAG_COPIED != 0 {
                    c.corruption("qcow2.l2.compressed_copied", eoff, format!("compressed L2 entry {i} of the table at {l2_off:#x} has the COPIED flag set, which compressed clusters must never have"));
                }
                if data_file {
                    c.corruption("qcow2.l2.compressed_with_data_file", eoff, format!("L2 entry {i} of the table at {l2_off:#x} is compressed in an image with an external data file"));
                    continue;
                }
                if bitmap != 0 {
                    c.corruption("qcow2.l2.compressed_bitmap", eoff, format!("compressed L2 entry {i} of the table at {l2_off:#x} has a non-zero subcluster bitmap {bitmap:#x}"));
                    continue;
                }
                let e = e & !OFLAG_COPIED;
                let (coff, csize) = compressed_range(h, e);
                c.inc(coff, csize, CLASS_DATA, "compressed cluster");
                if frag {
                    c.r.allocated_clusters = c.r.allocated_clusters.saturating_add(1);
                    c.r.compressed_clusters = c.r.compressed_clusters.saturating_add(1);
                    c.r.fragmented_clusters = c.r.fragmented_clusters.saturating_add(1);
                    if coff >= c.file_len {
                        lost.clusters = lost.clusters.saturating_add(1);
                        lost.first_guest = Some(lost.first_guest.map_or(guest, |g| g.min(guest)));
                    }
                }
                if c.deep && coff < c.file_len {
                    lost.compressed_entries.push((e, guest));
                }
            }
            ClusterType::ZeroAlloc | ClusterType::Normal => {
                let off = e & L2E_OFFSET_MASK;
                if (bitmap >> 32) & bitmap != 0 {
                    c.corruption("qcow2.l2.subcluster_bitmap", eoff, format!("L2 entry {i} of the table at {l2_off:#x}: subclusters {:#x} are marked both allocated and zero (bitmap {bitmap:#x})", (bitmap >> 32) & bitmap));
                }
                if !off.is_multiple_of(cs) {
                    let has_data = if ext {
                        bitmap & 0xffff_ffff != 0
                    } else {
                        e & OFLAG_ZERO == 0
                    };
                    c.corruption("qcow2.l2.unaligned", eoff, format!("L2 entry {i} of the table at {l2_off:#x} points to a {} cluster at {off:#x}, which is not cluster aligned", if has_data { "data" } else { "preallocated zero" }));
                }
                if frag {
                    c.r.allocated_clusters = c.r.allocated_clusters.saturating_add(1);
                    if next_contiguous != 0 && off != next_contiguous {
                        c.r.fragmented_clusters = c.r.fragmented_clusters.saturating_add(1);
                    }
                    next_contiguous = off.saturating_add(cs);
                }
                if frag {
                    // QEMU's check_oflag_copied: data clusters of the active L1.
                    let one = if data_file {
                        Ok(true)
                    } else {
                        disk.is_one(off >> h.cluster_bits)
                    };
                    if let Ok(one) = one
                        && one != (e & OFLAG_COPIED != 0)
                    {
                        copied_finding(c, disk, i, l2_off, e, off);
                    }
                }
                if let Some(DataFile::Open(df)) = c.img.data_file()
                    && ty == ClusterType::Normal
                    && off.saturating_add(cs) > df.len()
                {
                    c.sink.push(
                        Severity::Error,
                        "qcow2.data_file.past_eof",
                        eoff,
                        format!("L2 entry {i} of the table at {l2_off:#x} maps guest offset {guest:#x} to data file offset {off:#x}, past the end of the data file ({} bytes)", df.len()),
                    );
                }
                if !data_file {
                    c.inc(off, cs, CLASS_DATA, "data cluster");
                    if frag && ty == ClusterType::Normal && off.saturating_add(cs) > c.file_len {
                        lost.clusters = lost.clusters.saturating_add(1);
                        lost.first_guest = Some(lost.first_guest.map_or(guest, |g| g.min(guest)));
                    }
                }
            }
            ClusterType::ZeroPlain => {}
            ClusterType::Unallocated => {
                if bitmap & 0xffff_ffff != 0 {
                    c.corruption("qcow2.l2.unallocated_bitmap", eoff, format!("unallocated L2 entry {i} of the table at {l2_off:#x} has subcluster allocation bits set ({bitmap:#x})"));
                }
            }
        }
    }
}

fn check_bitmaps(c: &mut Ctx<'_>) {
    let h = c.h;
    let Some(b) = h.extensions.bitmaps else {
        return;
    };
    if h.autoclear_features & crate::header::AUTOCLEAR_BITMAPS == 0 || b.nb_bitmaps == 0 {
        return;
    }
    if b.bitmap_directory_size > MAX_BITMAP_DIRECTORY_BYTES || b.nb_bitmaps > MAX_BITMAPS {
        c.corruption(
            "qcow2.bitmaps.directory_too_large",
            b.bitmap_directory_offset,
            format!(
                "bitmap directory of {} bytes and {} bitmaps exceeds the bounds",
                b.bitmap_directory_size, b.nb_bitmaps
            ),
        );
        return;
    }
    c.inc(
        b.bitmap_directory_offset,
        b.bitmap_directory_size,
        CLASS_META,
        "bitmap directory",
    );
    let file = c.img.file();
    let Ok((dir, _)) = read_zero_filled(
        file.as_ref(),
        b.bitmap_directory_offset,
        b.bitmap_directory_size,
        MAX_BITMAP_DIRECTORY_BYTES,
    ) else {
        c.r.check_errors = c.r.check_errors.saturating_add(1);
        return;
    };
    let mut pos = 0usize;
    for n in 0..b.nb_bitmaps {
        if pos.saturating_add(24) > dir.len() {
            c.corruption(
                "qcow2.bitmaps.directory_truncated",
                b.bitmap_directory_offset,
                format!("bitmap directory ends before entry {n} of {}", b.nb_bitmaps),
            );
            break;
        }
        let table_offset = be64(&dir, pos);
        let table_size = be32(&dir, pos.saturating_add(8));
        let name_size = crate::header::be16(&dir, pos.saturating_add(18));
        let extra = be32(&dir, pos.saturating_add(20));
        let tbytes = u64::from(table_size).saturating_mul(8);
        let at = b
            .bitmap_directory_offset
            .saturating_add(u64::try_from(pos).unwrap_or(0));
        let flags = be32(&dir, pos.saturating_add(12));
        let ty = dir.get(pos.saturating_add(16)).copied().unwrap_or(0);
        let gran = dir.get(pos.saturating_add(17)).copied().unwrap_or(0);
        // QEMU's check_dir_entry: an entry failing these makes the image
        // fail to open ("doesn't satisfy the constraints").
        let mut bad = Vec::new();
        if table_size == 0 || table_offset == 0 {
            bad.push("no bitmap table".to_string());
        }
        if ty != 1 {
            bad.push(format!("type {ty} (expected 1, dirty tracking)"));
        }
        if !(9..=31).contains(&gran) {
            bad.push(format!("granularity_bits {gran} (expected 9..=31)"));
        }
        if flags & !3 != 0 {
            bad.push(format!("reserved flags {flags:#x}"));
        }
        if name_size > 1023 {
            bad.push(format!("name of {name_size} bytes"));
        }
        if !bad.is_empty() {
            c.sink.push(
                Severity::Error,
                "qcow2.bitmaps.entry_invalid",
                at,
                format!("bitmap directory entry {n} is invalid: {}", bad.join(", ")),
            );
            c.r.qemu_open_failure.get_or_insert_with(|| {
                format!("bitmap directory entry {n} does not satisfy the constraints")
            });
        }
        if !table_offset.is_multiple_of(c.cs) || tbytes > MAX_BITMAP_TABLE_BYTES {
            c.r.qemu_open_failure.get_or_insert_with(|| {
                format!("bitmap directory entry {n} does not satisfy the constraints")
            });
            c.corruption("qcow2.bitmaps.table_invalid", at, format!("bitmap {n}: table at {table_offset:#x} of {table_size} entries is unaligned or too large"));
        } else {
            c.inc(table_offset, tbytes, CLASS_META, "bitmap table");
            if let Ok((t, _)) =
                read_zero_filled(file.as_ref(), table_offset, tbytes, MAX_BITMAP_TABLE_BYTES)
            {
                for e in t.chunks_exact(8).map(|x| be64(x, 0)) {
                    let off = e & L1E_OFFSET_MASK;
                    if off != 0 {
                        c.inc(off, c.cs, CLASS_META, "bitmap data cluster");
                    }
                }
            }
        }
        let len = 24u64
            .saturating_add(u64::from(extra))
            .saturating_add(u64::from(name_size))
            .next_multiple_of(8);
        pos = pos.saturating_add(usz(len));
    }
}

fn qemu_open_checks(c: &mut Ctx<'_>) {
    let h = c.h;
    let img = c.img;
    let mut why = None;
    if !h.unknown_incompatible_names().is_empty() {
        why = Some("unsupported incompatible feature bits".to_string());
    }
    if let Some(DataFile::Unavailable(w)) = img.data_file() {
        why = Some(format!("external data file unavailable: {w}"));
    }
    if let Some(b) = img.backing() {
        match &b.state {
            BackingState::Missing(w) | BackingState::Unreadable(w) => {
                why = Some(format!("backing file: {w}"))
            }
            BackingState::Loop(_) => why = Some("backing chain loops".into()),
            BackingState::TooDeep => why = Some("backing chain too deep".into()),
            _ => {}
        }
    }
    if let Some(b) = h.extensions.bitmaps {
        let end = b
            .bitmap_directory_offset
            .saturating_add(b.bitmap_directory_size);
        if h.autoclear_features & crate::header::AUTOCLEAR_BITMAPS != 0
            && b.nb_bitmaps > 0
            && end > c.file_len
        {
            why = Some("bitmap directory lies past the end of the file".into());
        }
    }
    if !h.snapshots_offset.is_multiple_of(c.cs) || h.snapshots_offset > MAX_TABLE_OFFSET {
        why = Some("snapshot table offset invalid".into());
    }
    if h.crypt_method != 0 {
        why = Some("encrypted image needs a key to open".into());
    }
    c.r.qemu_open_failure = why;
}

fn gap_checks(c: &mut Ctx<'_>, disk: &mut DiskRefcounts<'_>, lost: &LostData, snap_l1s: &[usize]) {
    let h = c.h;
    let cs = c.cs;
    let img = c.img;
    // Refcounts for clusters past EOF: qemu-img compares only up to EOF.
    let first_past = u64::try_from(c.counts.len()).unwrap_or(u64::MAX);
    let rb_entries = 1u64 << disk.rb_bits;
    let mut past = 0u64;
    let mut first = None;
    let reftable = disk.reftable.clone();
    // Non-zero entries per refcount block, for blocks wholly past EOF: a
    // hostile table naming one block a million times is scanned once.
    let mut counted: HashMap<u64, (u64, u64)> = HashMap::new();
    for (i, &e) in reftable.iter().enumerate() {
        let base = u64::try_from(i).unwrap_or(0).saturating_mul(rb_entries);
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
        let Ok((block, _)) = read_zero_filled(img.file().as_ref(), off, cs, cs) else {
            continue;
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
            format!("{past} clusters past the end of the file ({} bytes) have non-zero refcounts, the first cluster {k} at {:#x}; qemu-img check does not look there (was the file truncated?)", c.file_len, k.saturating_mul(cs)),
        );
    }
    if c.r.highest_referenced_end > c.file_len {
        let mut f = Finding::error(
            "qcow2.file.truncated",
            Layer::QCOW2,
            c.file_len,
            Space::File,
            format!(
                "the file is {} bytes but structures reference bytes up to {:#x}: {} bytes missing; {} guest bytes of the current disk are lost ({} clusters){}{}",
                c.file_len,
                c.r.highest_referenced_end,
                c.r.highest_referenced_end.saturating_sub(c.file_len),
                lost.clusters.saturating_mul(cs),
                lost.clusters,
                lost.first_guest.map_or(String::new(), |g| format!(
                    ", the first at guest offset {g:#x}"
                )),
                if c.r.lost_l2_tables > 0 {
                    format!(
                        "; {} L2 tables are missing too, each mapping up to {} guest bytes",
                        c.r.lost_l2_tables,
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
    c.r.lost_guest_bytes = lost.clusters.saturating_mul(cs);
    for &(e, guest) in &lost.compressed_entries {
        if let Err(m) = img.decompress(e) {
            c.sink.push(
                Severity::Error,
                "qcow2.compressed.undecodable",
                compressed_range(h, e).0,
                format!("compressed cluster for guest offset {guest:#x} does not decode: {m}"),
            );
        }
    }
    for s in img.snapshots() {
        if let Some(ds) = s.disk_size {
            if ds != h.size {
                c.sink.push(Severity::Info, "qcow2.snapshot.disk_size_differs", s.entry_offset, format!("snapshot {} ({}) was taken with a virtual disk of {ds} bytes; the current disk is {} bytes", s.id, s.name, h.size));
            }
            let need = h.l1_entries_for(ds);
            if u64::from(s.l1_size) < need && snap_l1s.contains(&s.index) {
                c.corruption_extra("qcow2.snapshot.l1_too_small", s.entry_offset, format!("snapshot {} ({}) has {} L1 entries but its disk of {ds} bytes needs {need}", s.id, s.name, s.l1_size));
            }
        }
    }
    if let Some(b) = img.backing() {
        let (code, sev, msg) = match &b.state {
            BackingState::Missing(w) => (
                "qcow2.backing.missing",
                Severity::Error,
                format!("backing file {:?} is missing: {w}", b.name),
            ),
            BackingState::Unreadable(w) => (
                "qcow2.backing.unreadable",
                Severity::Error,
                format!("backing file {:?} cannot be read: {w}", b.name),
            ),
            BackingState::Loop(p) => (
                "qcow2.backing.loop",
                Severity::Error,
                format!(
                    "backing file {:?} leads back to {} : the chain loops",
                    b.name,
                    p.display()
                ),
            ),
            BackingState::TooDeep => (
                "qcow2.backing.too_deep",
                Severity::Error,
                format!(
                    "backing chain through {:?} is deeper than {MAX_CHAIN_DEPTH}",
                    b.name
                ),
            ),
            BackingState::NotFollowed => (
                "qcow2.backing.not_followed",
                Severity::Info,
                format!(
                    "backing file {:?} was not opened; unallocated clusters cannot be read",
                    b.name
                ),
            ),
            _ => ("", Severity::Info, String::new()),
        };
        if !code.is_empty() {
            c.sink.push(sev, code, h.backing_file_offset, msg);
        }
        if let Some(bs) = b.virtual_size()
            && bs != h.size
        {
            c.sink.push(
                Severity::Warning,
                "qcow2.backing.size_differs",
                24,
                format!(
                    "backing file {:?} has a virtual size of {bs} bytes, this image {} bytes{}",
                    b.name,
                    h.size,
                    if bs < h.size {
                        "; the guest reads zeros past the backing file's end"
                    } else {
                        "; the backing file's data past this image's end is invisible"
                    }
                ),
            );
        }
    }
}

impl Ctx<'_> {
    /// A corruption qemu-img does not count: a finding only.
    fn corruption_extra(&mut self, code: &'static str, offset: u64, msg: String) {
        self.sink.push(Severity::Error, code, offset, msg);
    }
}

fn overlap_checks(c: &mut Ctx<'_>) {
    let cs = c.cs;
    for (k, &cell) in c.counts.cells.iter().enumerate() {
        // Data-only and unused clusters (nearly all) cannot overlap.
        if cell & ((CLASS_L2 | CLASS_META) << CLASS_SHIFT) == 0 {
            continue;
        }
        let cl = (cell >> CLASS_SHIFT) & 0b111;
        let m = cell >> META_SHIFT;
        let off = u64::try_from(k).unwrap_or(0).saturating_mul(cs);
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

fn stats_finding(sink: &mut Sink, r: &CheckReport) {
    // Hundredths of a percent in integers: no float casts needed.
    let pct = |n: u64, d: u64| {
        // Rounded like printf's %0.2f in qemu-img's summary line.
        let v = n
            .saturating_mul(10_000)
            .saturating_add(d >> 1)
            .checked_div(d)
            .unwrap_or(0);
        format!(
            "{}.{:02}",
            v.checked_div(100).unwrap_or(0),
            v.checked_rem(100).unwrap_or(0)
        )
    };
    let msg = format!(
        "{}/{} = {}% allocated, {}% fragmented, {}% compressed clusters; image end offset {}; file length {}",
        r.allocated_clusters,
        r.total_clusters,
        pct(r.allocated_clusters, r.total_clusters),
        pct(r.fragmented_clusters, r.allocated_clusters),
        pct(r.compressed_clusters, r.allocated_clusters),
        r.image_end_offset,
        r.file_length
    );
    sink.push(Severity::Info, "qcow2.stats", 0, msg);
}

fn check_chain(image: &Image, opts: &CheckOptions) -> Vec<BackingCheck> {
    let sub = CheckOptions {
        check_backing: false,
        ..opts.clone()
    };
    image
        .chain()
        .into_iter()
        .enumerate()
        .map(|(i, b)| {
            let (state, report) = match &b.state {
                BackingState::Qcow2(img) => ("qcow2".to_string(), Some(Box::new(check(img, &sub)))),
                BackingState::Raw(_) => ("raw".to_string(), None),
                other => (format!("{other:?}"), None),
            };
            BackingCheck {
                name: b.name.clone(),
                path: b.path.clone(),
                depth: i.saturating_add(1),
                state,
                report,
            }
        })
        .collect()
}

#[cfg(test)]
mod counts_tests {
    use super::*;

    #[test]
    fn counts_cross_into_the_wide_table_and_back_out_exactly() {
        let mut c = Counts::new(3 * WIDE_CHUNK);
        let k = 2 * WIDE_CHUNK + 5;
        for n in 1..=20u64 {
            assert_eq!(c.add(k, 1, u64::from(u32::MAX), CLASS_DATA), 0);
            assert_eq!(c.get(k), n);
        }
        // Weights jump over the boundary in one step too.
        assert_eq!(c.add(1, 9, u64::from(u32::MAX), CLASS_DATA), 0);
        assert_eq!(c.get(1), 9);
        // Neighbours untouched, class kept.
        assert_eq!(c.get(k - 1), 0);
        assert_eq!(c.get(k + 1), 0);
        assert_eq!(c.cells[k] >> CLASS_SHIFT & 0b111, CLASS_DATA);
    }

    #[test]
    fn counts_report_what_does_not_fit_the_refcount_width() {
        let mut c = Counts::new(4);
        // 1-bit refcounts: the second reference overflows.
        assert_eq!(c.add(0, 1, 1, CLASS_DATA), 0);
        assert_eq!(c.add(0, 1, 1, CLASS_DATA), 1);
        assert_eq!(c.get(0), 1);
        // 4-bit: a weight of 20 keeps 15 and overflows 5.
        assert_eq!(c.add(1, 20, 15, CLASS_DATA), 5);
        assert_eq!(c.get(1), 15);
    }

    #[test]
    fn metadata_count_saturates_at_two() {
        let mut c = Counts::new(2);
        c.add(0, 1, 100, CLASS_META);
        assert_eq!(c.cells[0] >> META_SHIFT, 1);
        c.add(0, 1, 100, CLASS_META);
        c.add(0, 1, 100, CLASS_META);
        assert_eq!(c.cells[0] >> META_SHIFT, 2);
        assert_eq!(c.get(0), 3);
        c.add(1, 5, 100, CLASS_L2);
        assert_eq!(c.cells[1] >> META_SHIFT, 0);
        assert_eq!(c.cells[1] >> CLASS_SHIFT & 0b111, CLASS_L2);
    }
}

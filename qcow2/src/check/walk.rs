//! The reference walk: from the active L1 and each snapshot's L1 to every
//! L2 table and data cluster they reach, counting one reference each (QEMU's
//! `check_refcounts_l1` and `check_refcounts_l2`), with the entry checks
//! made on the way, the allocation statistics of the active disk, and what
//! of the current disk lies past the end of the file.
//!
//! Every L2 table is read and checked once, however many L1 entries (of
//! the active table or of snapshots) point to it: its results count once
//! per reference, as QEMU's walk, which reads it again for each, counts
//! them — so a table shared a million times costs one visit.

use super::Ctx;
use super::counts::{CLASS_DATA, CLASS_L2, CLASS_META};
use super::refcounts::{DiskRefcounts, read_cluster_into};
use crate::entries::*;
use crate::image::*;
use crate::limits::*;
use imgcheck_core::bytes::{be64, u64_of, usize_of};
use imgcheck_core::{ReadError, Severity};
use std::collections::HashSet;

/// One L2 table the walk reached: its offset, how many references of
/// each kind, and the first L1 index that refers to it (guest offsets
/// in messages are those of its first reference, active ones first).
#[derive(Clone, Copy)]
struct L2Ref {
    offset: u64,
    active: u32,
    snapshots: u32,
    l1_index: u32,
    from_active: bool,
}

/// Every L2 table reference, merged per table offset as it grows, so
/// memory follows the number of distinct tables, not of references.
#[derive(Default)]
pub(super) struct Refs {
    v: Vec<L2Ref>,
    merge_at: usize,
    /// Distinct tables past [`MAX_CHECK_L2_TABLES`] were dropped.
    pub(super) overflow: bool,
}

impl Refs {
    fn add(&mut self, offset: u64, src: Source, l1_index: usize, weight: u64) {
        let w = u32::try_from(weight).unwrap_or(u32::MAX);
        let active = src == Source::Active;
        self.v.push(L2Ref {
            offset,
            active: if active { w } else { 0 },
            snapshots: if active { 0 } else { w },
            l1_index: u32::try_from(l1_index).unwrap_or(u32::MAX),
            from_active: active,
        });
        if self.v.len() >= self.merge_at.max(1 << 20) {
            self.merge();
            self.merge_at = self.v.len().saturating_mul(2);
            if self.v.len() > MAX_CHECK_L2_TABLES {
                self.v.truncate(MAX_CHECK_L2_TABLES);
                self.overflow = true;
            }
        }
    }

    /// Sorts by offset and folds the references to one table into one.
    fn merge(&mut self) {
        self.v
            .sort_unstable_by_key(|r| (r.offset, !r.from_active, r.l1_index));
        self.v.dedup_by(|later, first| {
            if later.offset != first.offset {
                return false;
            }
            first.active = first.active.saturating_add(later.active);
            first.snapshots = first.snapshots.saturating_add(later.snapshots);
            true
        });
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Source {
    Active,
    Snapshot(usize),
}

impl Ctx<'_> {
    /// Marks an L1 table and collects its L2 references.
    pub(super) fn walk_l1(&mut self, l1: &L1Table, src: Source, refs: &mut Refs) {
        let what = match src {
            Source::Active => "active L1 table".to_string(),
            Source::Snapshot(i) => format!("L1 table of snapshot {i}"),
        };
        self.inc(
            l1.offset,
            u64_of(l1.size).saturating_mul(8),
            CLASS_META,
            &what,
        );
        for (i, &e) in l1.entries.iter().enumerate() {
            // QEMU skips only all-zero entries: one with reserved bits or
            // COPIED but no offset makes it read cluster 0 as an L2 table.
            if e == 0 {
                continue;
            }
            let at = l1.offset.saturating_add(u64_of(i).saturating_mul(8));
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
            self.inc(l2, self.cs, CLASS_L2, "L2 table");
            if !l2.is_multiple_of(self.cs) {
                self.corruption("qcow2.l1.unaligned", at, format!("{what} entry {i} points to an L2 table at {l2:#x}, which is not cluster aligned"));
            }
            if src == Source::Active && l2.saturating_add(self.cs) > self.file_len {
                self.r.lost_l2_tables = self.r.lost_l2_tables.saturating_add(self.weight);
            }
            // A table past EOF reads as zeros and references nothing more.
            if l2 < self.file_len {
                refs.add(l2, src, i, self.weight);
            }
        }
    }
}

/// What of the current disk cannot be read back.
#[derive(Default)]
pub(super) struct LostData {
    /// Guest bytes whose data lies past the end of the file, or in a
    /// compressed cluster that does not decode for it.
    pub(super) bytes: u64,
    /// (Sub)clusters those bytes are in.
    pub(super) clusters: u64,
    /// The lowest guest offset lost.
    pub(super) first_guest: Option<u64>,
}

impl LostData {
    fn add(&mut self, bytes: u64, clusters: u64, guest: u64) {
        self.bytes = self.bytes.saturating_add(bytes);
        self.clusters = self.clusters.saturating_add(clusters);
        self.first_guest = Some(self.first_guest.map_or(guest, |g| g.min(guest)));
    }
}

/// Compressed clusters already decoded (deep, or cut by the end of the
/// file), so a table naming one cluster a thousand times decodes it once.
struct Decoded {
    seen: HashSet<u64>,
}

/// Most compressed entries remembered as decoded; past it the work bound
/// alone limits repeats.
const MAX_DECODED_REMEMBERED: usize = 1 << 20;

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
    let h = c.h;
    let eoff = l2_off.saturating_add(u64_of(i).saturating_mul(h.l2_entry_size()));
    let w = c.active_w;
    c.corruption_w(w, "qcow2.l2.copied_flag", eoff, || {
        let rc = if h.has_data_file() {
            1
        } else {
            disk.get(off >> h.cluster_bits).unwrap_or(0)
        };
        format!(
            "L2 entry {i} of the table at {l2_off:#x} ({e:#018x}) has COPIED {} but the data cluster's refcount is {rc}",
            if e & OFLAG_COPIED != 0 { "set" } else { "clear" }
        )
    });
}

/// Bytes of `[start, start + len)` past `end`.
fn past(start: u64, len: u64, end: u64) -> u64 {
    start.saturating_add(len).saturating_sub(start.max(end))
}

/// The allocated subclusters of an extended L2 entry as host byte ranges
/// `(start, len)` relative to the cluster, at most 32.
fn subcluster_runs(bitmap: u64, sc_size: u64) -> impl Iterator<Item = (u64, u64)> {
    (0u32..32)
        .filter(move |b| bitmap & (1u64 << b) != 0)
        .map(move |b| (u64::from(b).saturating_mul(sc_size), sc_size))
}

/// The data of a normal cluster that the guest really reads from the
/// host: the whole cluster, or with extended L2 its allocated subclusters
/// only (a write of 2 KiB allocates one subcluster, and QEMU leaves the
/// rest of the cluster unwritten, maybe past the end of the file).
fn data_ranges(ext: bool, bitmap: u64, cs: u64) -> Vec<(u64, u64)> {
    if ext {
        subcluster_runs(bitmap & 0xffff_ffff, cs / 32).collect()
    } else {
        vec![(0, cs)]
    }
}

#[allow(clippy::too_many_arguments)]
fn check_l2(
    c: &mut Ctx<'_>,
    t: &[u8],
    l2_off: u64,
    l1_index: usize,
    lost: &mut LostData,
    disk: &mut DiskRefcounts<'_>,
    decoded: &mut Decoded,
) {
    let h = c.h;
    let cs = c.cs;
    let es = usize_of(h.l2_entry_size());
    let aw = c.active_w;
    let frag = aw > 0;
    let ext = h.extended_l2();
    let data_file = h.has_data_file();
    let mut next_contiguous = 0u64;
    let entries = usize_of(h.l2_entries());
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
                    c.r.allocated_clusters = c.r.allocated_clusters.saturating_add(aw);
                    if next_contiguous != 0 && off != next_contiguous {
                        c.r.fragmented_clusters = c.r.fragmented_clusters.saturating_add(aw);
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
        let eoff = l2_off.saturating_add(u64_of(at));
        let ty = cluster_type(h, e);
        let guest = u64_of(l1_index)
            .saturating_mul(h.l2_entries())
            .saturating_add(u64_of(i))
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
                    c.r.allocated_clusters = c.r.allocated_clusters.saturating_add(aw);
                    c.r.compressed_clusters = c.r.compressed_clusters.saturating_add(aw);
                    c.r.fragmented_clusters = c.r.fragmented_clusters.saturating_add(aw);
                }
                // The stored length is an upper bound rounded up to whole
                // sectors, and QEMU does not pad the last one: only what
                // the stream consumes matters, so one cut by the end of the
                // file is judged by decoding it as QEMU reads it.
                let cut = coff.saturating_add(csize) > c.file_len;
                if !cut && !c.deep {
                    continue;
                }
                if !decoded.seen.contains(&e) {
                    if decoded.seen.len() < MAX_DECODED_REMEMBERED {
                        decoded.seen.insert(e);
                    }
                    if !c.visit("compressed cluster", coff) {
                        continue;
                    }
                    if c.budget.charge(csize, 0).is_err() {
                        c.bound("compressed cluster", coff);
                        continue;
                    }
                    match c.img.decompress(e) {
                        Ok(_) => {
                            c.needed_end =
                                c.needed_end.max(coff.saturating_add(csize).min(c.file_len));
                        }
                        Err(DecodeError::Read(re)) => {
                            c.read_failed("compressed cluster", coff, &re)
                        }
                        Err(DecodeError::Invalid(m)) => {
                            if cut {
                                c.needed_end = c.needed_end.max(coff.saturating_add(csize));
                            }
                            if c.deep || cut {
                                c.sink.push(
                                    Severity::Error,
                                    "qcow2.compressed.undecodable",
                                    coff,
                                    format!("compressed cluster for guest offset {guest:#x} does not decode: {m}"),
                                );
                            }
                            if frag {
                                lost.add(cs.saturating_mul(aw), aw, guest);
                            }
                        }
                    }
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
                    c.r.allocated_clusters = c.r.allocated_clusters.saturating_add(aw);
                    if next_contiguous != 0 && off != next_contiguous {
                        c.r.fragmented_clusters = c.r.fragmented_clusters.saturating_add(aw);
                    }
                    next_contiguous = off.saturating_add(cs);
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
                // The bytes the guest reads from the host: none for a
                // preallocated zero cluster.
                let ranges = if ty == ClusterType::Normal {
                    data_ranges(ext, bitmap, cs)
                } else {
                    Vec::new()
                };
                if let Some(DataFile::Open(df)) = c.img.data_file() {
                    let missing: u64 = ranges
                        .iter()
                        .map(|&(s, n)| past(off.saturating_add(s), n, df.len()))
                        .sum();
                    if missing > 0 {
                        c.sink.push(
                            Severity::Error,
                            "qcow2.data_file.past_eof",
                            eoff,
                            format!("L2 entry {i} of the table at {l2_off:#x} maps guest offset {guest:#x} to data file offset {off:#x}, {missing} bytes of it past the end of the data file ({} bytes)", df.len()),
                        );
                    }
                }
                if !data_file {
                    c.inc(off, cs, CLASS_DATA, "data cluster");
                    if let Some(&(s, n)) = ranges.last() {
                        c.needed_end = c.needed_end.max(off.saturating_add(s).saturating_add(n));
                    }
                    if frag {
                        let mut bytes = 0u64;
                        let mut pieces = 0u64;
                        for &(s, n) in &ranges {
                            let p = past(off.saturating_add(s), n, c.file_len);
                            if p > 0 {
                                bytes = bytes.saturating_add(p);
                                pieces = pieces.saturating_add(1);
                            }
                        }
                        if bytes > 0 {
                            lost.add(bytes.saturating_mul(aw), pieces.saturating_mul(aw), guest);
                        }
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

/// Checks every L2 table the walk reached, each read and checked once,
/// in offset order; returns what the current disk lost to the end of the
/// file or to undecodable compressed clusters.
pub(super) fn walk_l2_tables(
    c: &mut Ctx<'_>,
    mut refs: Refs,
    disk: &mut DiskRefcounts<'_>,
) -> LostData {
    let cs = c.cs;
    refs.merge();
    if refs.overflow {
        c.bound("L2 table references", 0);
    }
    let mut lost = LostData::default();
    let mut decoded = Decoded {
        seen: HashSet::new(),
    };
    let mut l2_buf = Vec::new();
    for r in &refs.v {
        if !c.visit("L2 table", r.offset) {
            break;
        }
        match read_cluster_into(c.file, r.offset, cs, &mut l2_buf) {
            Ok(()) => {
                c.weight = u64::from(r.active).saturating_add(u64::from(r.snapshots));
                c.active_w = u64::from(r.active);
                let t = std::mem::take(&mut l2_buf);
                check_l2(
                    c,
                    &t,
                    r.offset,
                    usize_of(u64::from(r.l1_index)),
                    &mut lost,
                    disk,
                    &mut decoded,
                );
                l2_buf = t;
                c.weight = 1;
                c.active_w = 0;
            }
            Err(e) => table_unreadable(c, r.offset, &e),
        }
    }
    lost
}

fn table_unreadable(c: &mut Ctx<'_>, offset: u64, e: &ReadError) {
    c.read_failed("L2 table", offset, e);
}

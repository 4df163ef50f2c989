//! The reference walk: from the active L1 and each snapshot's L1 to every
//! L2 table and data cluster they reach, counting one reference each (QEMU's
//! `check_refcounts_l1` and `check_refcounts_l2`), with the entry checks
//! made on the way and the allocation statistics of the active disk.

use super::Ctx;
use super::counts::{CLASS_DATA, CLASS_L2, CLASS_META};
use super::refcounts::{DiskRefcounts, read_cluster_into};
use crate::entries::*;
use crate::image::*;
use imgcheck_core::bytes::{be64, u64_of, usize_of};
use imgcheck_core::{ReadAt, Severity};
use std::collections::HashMap;

/// An L2 table reference: offset, who refers, L1 index, weight.
type L2Ref = (u64, Source, usize, u64);

/// L2 references: the active L1's one by one, the snapshots' merged per
/// table offset (so memory is bounded by the file's size in clusters).
#[derive(Default)]
pub(super) struct Refs {
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

#[derive(Default)]
pub(super) struct LostData {
    pub(super) clusters: u64,
    pub(super) first_guest: Option<u64>,
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
    let h = c.h;
    let eoff = l2_off.saturating_add(u64_of(i).saturating_mul(h.l2_entry_size()));
    c.corruption_with("qcow2.l2.copied_flag", eoff, || {
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
    let es = usize_of(h.l2_entry_size());
    let frag = src == Source::Active;
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

/// Checks every L2 table the walk reached, each read once, in offset
/// order; returns what the current disk lost to the end of the file.
pub(super) fn walk_l2_tables(
    c: &mut Ctx<'_>,
    refs: Refs,
    disk: &mut DiskRefcounts<'_>,
) -> LostData {
    let cs = c.cs;
    let file: &dyn ReadAt = c.img.file().as_ref();
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
                Ok(t) => check_l2(c, t, l2_off, src, l1_index, &mut lost, disk),
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
    lost
}

/// Decodes every compressed cluster the walk collected (deep checks
/// only): qemu-img check never reads guest data.
pub(super) fn decode_compressed(c: &mut Ctx<'_>, lost: &LostData) {
    let h = c.h;
    let img = c.img;
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
}

//! The refcounts on disk: the refcount table and its blocks, read a block
//! at a time for the comparison and through a small cache for the random
//! lookups of the COPIED checks.

use super::Ctx;
use super::counts::CLASS_META;
use crate::entries::*;
use crate::limits::*;
use imgcheck_core::bytes::{be16, be32, be64, u64_of, usize_of};
use imgcheck_core::{ReadAt, Severity};
use std::collections::HashMap;
use std::sync::Arc;

pub(super) struct DiskRefcounts<'a> {
    file: &'a dyn ReadAt,
    pub(super) reftable: Vec<u64>,
    cluster_size: u64,
    pub(super) rb_bits: u32,
    order: u32,
    cache: HashMap<u64, Arc<[u8]>>,
    /// Clusters below `scanned` whose refcount on disk is 1, a bit each:
    /// the COPIED checks look up every allocated cluster, in any order.
    one: Vec<u64>,
    /// Per refcount table index below the scanned range: the block
    /// cannot be read (QEMU: "Can't get refcount").
    bad: Vec<bool>,
    /// Refcount blocks whose read failed (offset and why), each once.
    pub(super) failed: Vec<(u64, u64, RefblockError)>,
    scanned: u64,
    /// One refcount block's bytes and its decoded entries, reused.
    buf: Vec<u8>,
    vals: Vec<u64>,
}

/// Why a refcount block could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RefblockError {
    /// Its offset is not cluster aligned (QEMU refuses to read it).
    Unaligned,
    /// Reading it failed; the message says how, `io` whether the
    /// storage failed it (rather than the work bound).
    Read {
        /// What failed.
        msg: String,
        /// The storage failed the read.
        io: bool,
        /// The work bound refused it.
        budget: bool,
    },
}

impl DiskRefcounts<'_> {
    /// On-disk refcount of `cluster`; `Err` when its refblock offset is
    /// unaligned or it cannot be read (QEMU: "Can't get refcount").
    pub(super) fn get(&mut self, cluster: u64) -> Result<u64, ()> {
        let idx = cluster >> self.rb_bits;
        let Some(&e) = self.reftable.get(usize_of(idx)) else {
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
    fn load(&mut self, idx: u64) -> Result<(), RefblockError> {
        let n = usize_of(1u64 << self.rb_bits);
        self.vals.clear();
        let off = self
            .reftable
            .get(usize_of(idx))
            .map_or(0, |&e| e & REFT_OFFSET_MASK);
        if off == 0 {
            self.vals.resize(n, 0);
            return Ok(());
        }
        if !off.is_multiple_of(self.cluster_size) {
            return Err(RefblockError::Unaligned);
        }
        if let Err(e) = read_cluster_into(self.file, off, self.cluster_size, &mut self.buf) {
            let err = RefblockError::Read {
                msg: e.to_string(),
                io: matches!(e.kind, imgcheck_core::ReadErrorKind::Io(_)),
                budget: matches!(e.kind, imgcheck_core::ReadErrorKind::Budget { .. }),
            };
            if !self.failed.iter().any(|f| f.1 == off) {
                self.failed.push((idx, off, err.clone()));
            }
            return Err(err);
        }
        decode_block(&self.buf, self.order, &mut self.vals);
        self.vals.resize(n, 0);
        Ok(())
    }

    /// Builds the "refcount is 1" bitmap for clusters `0..n`, reading
    /// each refcount block once.
    fn scan(&mut self, n: u64) {
        let per = 1u64 << self.rb_bits;
        let blocks = n.div_ceil(per);
        self.one = vec![0; usize_of(n.div_ceil(64))];
        self.bad = vec![false; usize_of(blocks)];
        for idx in 0..blocks {
            let base = idx.saturating_mul(per);
            if self.load(idx).is_err() {
                if let Some(b) = self.bad.get_mut(usize_of(idx)) {
                    *b = true;
                }
                continue;
            }
            let vals = std::mem::take(&mut self.vals);
            for (k, _) in (base..n).zip(vals.iter()).filter(|(_, v)| **v == 1) {
                if let Some(w) = self.one.get_mut(usize_of(k >> 6)) {
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
    pub(super) fn is_one(&mut self, cluster: u64) -> Result<bool, ()> {
        if cluster < self.scanned {
            if self
                .bad
                .get(usize_of(cluster >> self.rb_bits))
                .copied()
                .unwrap_or(true)
            {
                return Err(());
            }
            let w = self.one.get(usize_of(cluster >> 6)).copied().unwrap_or(0);
            return Ok(w >> (cluster & 63) & 1 == 1);
        }
        self.get(cluster).map(|v| v == 1)
    }
}

/// Reads `len` (at most a cluster) bytes at `offset` into `buf`, reusing
/// its allocation; bytes past the end of the file read as zeros.
pub(super) fn read_cluster_into(
    file: &dyn ReadAt,
    offset: u64,
    len: u64,
    buf: &mut Vec<u8>,
) -> Result<(), imgcheck_core::ReadError> {
    let len = usize_of(len);
    // Only a new or grown buffer is zeroed; the read overwrites the rest.
    buf.resize(len, 0);
    buf.truncate(len);
    let have = usize_of(file.len().saturating_sub(offset)).min(len);
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
        4 => out.extend(block.chunks_exact(2).map(|c| u64::from(be16(c, 0)))),
        5 => out.extend(block.chunks_exact(4).map(|c| u64::from(be32(c, 0)))),
        6 => out.extend(block.chunks_exact(8).map(|c| be64(c, 0))),
        _ => {
            let n = u64_of(block.len()).saturating_mul(8) >> order.min(6);
            out.extend((0..n).map(|i| refcount_at(block, order, i)));
        }
    }
}

/// Entry `i` of a refcount block with `1 << order`-bit entries.
pub(super) fn refcount_at(block: &[u8], order: u32, i: u64) -> u64 {
    if order < 3 {
        let bits = 1u64 << order;
        let bit = i.saturating_mul(bits);
        let byte = block.get(usize_of(bit / 8)).copied().unwrap_or(0);
        let shift = u32::try_from(bit % 8).unwrap_or(0);
        u64::from(byte >> shift) & ((1u64 << bits).saturating_sub(1))
    } else {
        let width = usize_of(1u64 << order.saturating_sub(3));
        let at = usize_of(i).saturating_mul(width);
        let b = at
            .checked_add(width)
            .and_then(|e| block.get(at..e))
            .unwrap_or(&[]);
        b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
    }
}

impl<'a> DiskRefcounts<'a> {
    /// Counts the refcount table's own reference, reads it, and builds the
    /// "refcount is 1" bitmap for every cluster of the file.
    pub(super) fn read(c: &mut Ctx<'a>) -> DiskRefcounts<'a> {
        let h = c.h;
        let cs = c.cs;
        let file: &'a dyn ReadAt = c.file;
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
                c.read_failed("refcount table", h.refcount_table_offset, &e);
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
            failed: Vec::new(),
        };
        disk.scan(u64_of(c.counts.len()));
        // A refcount block the storage did not give: the COPIED checks and
        // the comparison cannot use it, and the verdict must not be clean.
        for (idx, off, e) in disk.failed.clone() {
            if let RefblockError::Read { msg, io, budget } = e {
                if budget {
                    c.bound("refcount block", off);
                    continue;
                }
                c.r.check_errors = c.r.check_errors.saturating_add(1);
                c.sink.push(
                    Severity::Error,
                    "qcow2.check.io",
                    off,
                    format!("reading refcount block {idx} at {off:#x} failed: {msg}; the refcounts it holds were not compared and their COPIED flags not checked"),
                );
                if io {
                    c.r.qemu_abort
                        .get_or_insert_with(|| "Input/output error".into());
                }
            }
        }
        disk
    }
}

/// COPIED on the active L1 entries (QEMU's `check_oflag_copied`): set
/// exactly when the L2 table's refcount is 1.
pub(super) fn check_l1_copied(c: &mut Ctx<'_>, disk: &mut DiskRefcounts<'_>, active: &L1Table) {
    let h = c.h;
    for (i, &l1e) in active.entries.iter().enumerate() {
        let l2 = l1e & L1E_OFFSET_MASK;
        if l2 == 0 {
            continue;
        }
        if let Ok(one) = disk.is_one(l2 >> h.cluster_bits)
            && one != (l1e & OFLAG_COPIED != 0)
        {
            let at = active.offset.saturating_add(u64_of(i).saturating_mul(8));
            c.corruption_with("qcow2.l1.copied_flag", at, || {
                let rc = disk.get(l2 >> h.cluster_bits).unwrap_or(0);
                format!(
                    "active L1 entry {i} ({l1e:#018x}) has COPIED {} but the L2 table's refcount is {rc}",
                    if l1e & OFLAG_COPIED != 0 { "set" } else { "clear" }
                )
            });
        }
    }
}

/// The refcount table's entries and the blocks they point to (QEMU's
/// `check_refblocks`); each block is counted as metadata.
pub(super) fn check_refblocks(c: &mut Ctx<'_>, disk: &DiskRefcounts<'_>) {
    let h = c.h;
    let cs = c.cs;
    let file_len = c.file_len;
    let reftable = disk.reftable.clone();
    for (i, &e) in reftable.iter().enumerate() {
        let at = h
            .refcount_table_offset
            .saturating_add(u64_of(i).saturating_mul(8));
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
        if cl >= u64_of(c.counts.len()) {
            c.r.highest_referenced_end = c.r.highest_referenced_end.max(off.saturating_add(cs));
            c.corruption("qcow2.refblock.past_eof", at, format!("refcount table entry {i} points to a refcount block at {off:#x}, outside the file ({file_len} bytes)"));
            continue;
        }
        if off != 0 {
            c.inc(off, cs, CLASS_META, "refcount block");
            let v = c.counts.get(usize_of(cl));
            if v != 1 {
                c.corruption("qcow2.refblock.shared", off, format!("refcount block {i} at {off:#x} is referenced {v} times; it must be referenced only by the refcount table"));
            }
        }
    }
}

/// Compares the rebuilt counts with the refcounts on disk, a refcount
/// block at a time (QEMU's `compare_refcounts`): too low is a corruption,
/// too high a leak. Sets the image end offset.
pub(super) fn compare(c: &mut Ctx<'_>, disk: &mut DiskRefcounts<'_>) {
    let cs = c.cs;
    let mut highest = 0u64;
    let total = u64_of(c.counts.len());
    let per = 1u64 << disk.rb_bits;
    let mut base = 0u64;
    while base < total {
        let end = base.saturating_add(per).min(total);
        let idx = base >> disk.rb_bits;
        if let Err(err) = disk.load(idx) {
            let rb = disk
                .reftable
                .get(usize_of(idx))
                .map_or(0, |&e| e & REFT_OFFSET_MASK);
            let why = match &err {
                RefblockError::Unaligned => {
                    format!("its refcount block offset {rb:#x} is not cluster aligned")
                }
                RefblockError::Read { msg, .. } => {
                    format!("reading its refcount block at {rb:#x} failed: {msg}")
                }
            };
            // QEMU counts one check error per cluster ("Can't get refcount").
            for k in base..end {
                c.r.check_errors = c.r.check_errors.saturating_add(1);
                c.sink.push_with(
                    Severity::Error,
                    "qcow2.check.refcount_unreadable",
                    k.saturating_mul(cs),
                    || format!("the refcount of cluster {k} cannot be read: {why}"),
                );
            }
            base = end;
            continue;
        }
        // Fast pass: find the last cluster in use and whether any differs.
        let (b, e) = (usize_of(base), usize_of(end));
        let cells = c.counts.cells.get(b..e).unwrap_or(&[]);
        let mut differs = false;
        for (j, (&cell, &on_disk)) in cells.iter().zip(disk.vals.iter()).enumerate() {
            let counted = c.counts.count_of(b.saturating_add(j), cell);
            if on_disk | counted != 0 {
                highest = base.saturating_add(u64_of(j));
            }
            differs |= on_disk != counted;
        }
        if differs {
            for k in base..end {
                let j = usize_of(k.saturating_sub(base));
                let on_disk = disk.vals.get(j).copied().unwrap_or(0);
                let counted = c.counts.get(usize_of(k));
                if on_disk < counted {
                    c.corruption_with("qcow2.refcount.too_low", k.saturating_mul(cs), || format!("cluster {k} (offset {:#x}) has refcount {on_disk} on disk but {counted} references; freeing or reusing it would destroy data", k.saturating_mul(cs)));
                } else if on_disk > counted {
                    c.r.leaks = c.r.leaks.saturating_add(1);
                    c.sink.push_with(
                        Severity::Warning,
                        "qcow2.refcount.leak",
                        k.saturating_mul(cs),
                        || format!("cluster {k} (offset {:#x}) has refcount {on_disk} on disk but {counted} references: leaked space", k.saturating_mul(cs)),
                    );
                }
            }
        }
        base = end;
    }
    c.r.image_end_offset = highest.saturating_add(1).saturating_mul(cs);
}

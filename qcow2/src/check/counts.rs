//! The in-memory refcount table QEMU calls the IMRT: one cell per cluster
//! of the file, counting the references every structure makes and
//! remembering what each cluster is used as (data, L2, other metadata),
//! which the overlap checks read back.

use super::Ctx;
use imgcheck_core::Severity;
use imgcheck_core::bytes::usize_of;

pub(super) const CLASS_DATA: u8 = 1;
pub(super) const CLASS_L2: u8 = 2;
pub(super) const CLASS_META: u8 = 4;

/// Cell bits 0..=2: the reference count, or `COUNT_WIDE` when it lives in
/// the wide table.
const COUNT_MASK: u8 = 0b111;
const COUNT_WIDE: u8 = 0b111;
/// Cell bits 3..=5: the classes (`CLASS_*` shifted).
pub(super) const CLASS_SHIFT: u32 = 3;
/// Cell bits 6..=7: how many metadata references, saturating at 2 (only
/// "more than one" matters).
pub(super) const META_SHIFT: u32 = 6;
/// Clusters per chunk of the wide table.
const WIDE_CHUNK: usize = 1024;

/// The rebuilt reference counts and what each cluster is used as, in one
/// byte per cluster: nearly every count is 0..=6, so the wide table (four
/// bytes per cluster, allocated in chunks) exists only where counts are
/// higher. Worst case stays within five bytes per cluster.
#[derive(Default)]
pub(super) struct Counts {
    pub(super) cells: Vec<u8>,
    wide: Vec<Option<Box<[u32]>>>,
}

impl Counts {
    pub(super) fn new(n: usize) -> Counts {
        Counts {
            cells: vec![0; n],
            wide: Vec::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
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
    pub(super) fn count_of(&self, k: usize, cell: u8) -> u64 {
        let low = cell & COUNT_MASK;
        if low == COUNT_WIDE {
            self.wide_get(k)
        } else {
            u64::from(low)
        }
    }

    pub(super) fn get(&self, k: usize) -> u64 {
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

impl Ctx<'_> {
    /// QEMU's `qcow2_inc_refcounts_imrt`.
    pub(super) fn inc(&mut self, offset: u64, size: u64, class: u8, what: &str) {
        if size == 0 {
            return;
        }
        let end = offset.saturating_add(size);
        self.r.highest_referenced_end = self.r.highest_referenced_end.max(end);
        // Metadata is written whole, so all of it is needed; what of a
        // data cluster is needed the walk works out itself.
        if class != CLASS_DATA {
            self.needed_end = self.needed_end.max(end);
        }
        // The last cluster may be partly past EOF; a whole cluster may
        // not. QEMU sees the file's length rounded up to a sector.
        if end >= self.file_len.next_multiple_of(512).saturating_add(self.cs) {
            self.r.corruptions = self.r.corruptions.saturating_add(self.weight);
            let file_len = self.file_len;
            self.sink.push_with(
                Severity::Error,
                "qcow2.reference.past_eof",
                offset,
                || format!("{what} at {offset:#x} ({size} bytes) ends at {end:#x}, a cluster or more past the end of the file ({file_len} bytes)"),
            );
            return;
        }
        let first = offset >> self.cbits;
        let last = end.saturating_sub(1) >> self.cbits;
        // Bounded: last < (file_len + cs) / cs.
        for k in first..=last {
            let ku = usize_of(k);
            if ku >= self.counts.len() {
                self.counts.grow(ku.saturating_add(1));
            }
            // QEMU counts one overflow for every reference past the maximum.
            let over = self.counts.add(ku, self.weight, self.refcount_max, class);
            if over > 0 {
                self.r.corruptions = self.r.corruptions.saturating_add(over);
                let bits = self.h.refcount_bits();
                self.sink.push_with(
                    Severity::Error,
                    "qcow2.refcount.overflow",
                    k.saturating_mul(self.cs),
                    || format!("cluster {k} is referenced more often than a {bits}-bit refcount can count"),
                );
            }
        }
    }

    /// [`Ctx::inc`] for one aligned data cluster wholly inside the file,
    /// with a fast path for the usual small counts.
    #[inline]
    pub(super) fn inc_data(&mut self, off: u64) {
        self.r.highest_referenced_end = self
            .r
            .highest_referenced_end
            .max(off.saturating_add(self.cs));
        if let Some(cell) = self.counts.cells.get_mut(usize_of(off >> self.cbits)) {
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

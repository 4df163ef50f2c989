//! One copy of the file allocation table, read into memory (bounded by
//! [`MAX_FAT_BYTES`]) and decoded entry by entry as fsck.fat's `get_fat`
//! does: 12-bit entries packed in pairs, 16-bit, and 32-bit of which the
//! top four bits are reserved. Parts that could not be read are zero-filled
//! and remembered, so a chain through them is "unknown", never "free".

use crate::bpb::{FatKind, Geometry};
use crate::reads::{Miss, Reads};
use imgcheck_core::bytes::{u8_at, u64_of, usize_of};

/// The largest FAT copy read into memory: 256 MiB is the FAT of a 2 TiB
/// FAT32 volume with 32 KiB clusters, the largest Windows formats.
pub const MAX_FAT_BYTES: u64 = 256 << 20;
/// Bytes read per request while loading a FAT, so one bad sector costs
/// one chunk, not the table.
const CHUNK: u64 = 1 << 20;

/// What a FAT entry says about its cluster, classified as fsck.fat does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// 0: the cluster is free.
    Free,
    /// The next cluster of the chain.
    Next(u32),
    /// An end-of-chain mark.
    Eoc,
    /// The bad-cluster mark.
    Bad,
    /// 1, or a cluster number past the last cluster (and not a mark):
    /// fsck.fat's "cluster out of range".
    Invalid(u32),
}

/// One FAT copy in memory.
#[derive(Debug, Clone)]
pub struct Fat {
    kind: FatKind,
    max_cluster: u32,
    bytes: Vec<u8>,
    /// Entry ranges `[from, to)` whose bytes could not be read.
    unread: Vec<(u32, u32)>,
}

/// Why a FAT copy was not loaded at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadError {
    /// Its used part is larger than [`MAX_FAT_BYTES`].
    TooLarge(u64),
}

impl Fat {
    /// Reads copy `k` (0-based) of the FAT described by `g`: the bytes of
    /// entries 0 to `clusters + 1`.
    pub(crate) fn load(reads: &mut Reads<'_>, g: &Geometry, k: u32) -> Result<Fat, LoadError> {
        // One byte more than the entries need, so the last packed FAT12
        // entry has both its bytes (fsck.fat rounds its buffer the same way).
        let want = g.fat_used_bytes().saturating_add(1).min(g.fat_bytes);
        if want > MAX_FAT_BYTES {
            return Err(LoadError::TooLarge(want));
        }
        let start = g.fat_copy_start(k);
        // Never allocate for bytes the reader does not have.
        let have = reads.len().saturating_sub(start).min(want);
        let mut bytes = Vec::with_capacity(usize_of(have));
        let mut unread = Vec::new();
        let mut off = 0u64;
        let what = format!("FAT copy {}", k.saturating_add(1));
        while off < want {
            let n = CHUNK.min(want.saturating_sub(off));
            let at = start.saturating_add(off);
            let mut buf = vec![0u8; usize_of(n)];
            match reads.read(at, &mut buf, &what) {
                Ok(()) => {}
                Err(Miss::Absent) | Err(Miss::Unreadable) => {
                    unread.push(entry_range(g.kind, off, off.saturating_add(n)));
                    buf.fill(0);
                }
            }
            bytes.extend_from_slice(&buf);
            off = off.saturating_add(n);
        }
        Ok(Fat {
            kind: g.kind,
            max_cluster: g.max_cluster(),
            bytes,
            unread,
        })
    }

    /// A FAT from bytes already in memory (tests, embedders).
    pub fn from_bytes(kind: FatKind, clusters: u32, bytes: Vec<u8>) -> Fat {
        Fat {
            kind,
            max_cluster: clusters.saturating_add(1),
            bytes,
            unread: Vec::new(),
        }
    }

    /// The FAT type.
    pub fn kind(&self) -> FatKind {
        self.kind
    }

    /// The entry of cluster `c` as stored (FAT32: all 32 bits).
    pub fn raw(&self, c: u32) -> u32 {
        let b = &self.bytes;
        match self.kind {
            FatKind::Fat12 => {
                let i = usize_of(u64::from(c).saturating_mul(3) / 2);
                let lo = u32::from(u8_at(b, i));
                let hi = u32::from(u8_at(b, i.saturating_add(1)));
                if c % 2 == 1 {
                    (lo >> 4) | (hi << 4)
                } else {
                    lo | ((hi & 0x0F) << 8)
                }
            }
            FatKind::Fat16 => {
                let i = usize_of(u64::from(c).saturating_mul(2));
                u32::from(imgcheck_core::bytes::le16(b, i))
            }
            FatKind::Fat32 => {
                let i = usize_of(u64::from(c).saturating_mul(4));
                imgcheck_core::bytes::le32(b, i)
            }
        }
    }

    /// The entry's value bits (FAT32: the low 28 bits).
    pub fn value(&self, c: u32) -> u32 {
        self.raw(c) & self.kind.mask()
    }

    /// What the entry of cluster `c` says.
    pub fn entry(&self, c: u32) -> Entry {
        classify(self.kind, self.max_cluster, self.value(c))
    }

    /// Whether the entry of cluster `c` was read (not zero-filled for a
    /// failed or missing read).
    pub fn readable(&self, c: u32) -> bool {
        !self.unread.iter().any(|&(a, b)| c >= a && c < b)
    }

    /// Whether any part could not be read.
    pub fn has_unread(&self) -> bool {
        !self.unread.is_empty()
    }

    /// The bytes read (entries 0 to `clusters + 1`, and one byte more).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Byte offset of entry `c` within a FAT copy.
    pub fn entry_offset(&self, c: u32) -> u64 {
        entry_byte(self.kind, c)
    }
}

/// What value `v` (value bits only) of a FAT whose last cluster is
/// `max_cluster` says, as fsck.fat reads it.
pub fn classify(kind: FatKind, max_cluster: u32, v: u32) -> Entry {
    if v == 0 {
        Entry::Free
    } else if v == kind.bad() {
        Entry::Bad
    } else if v >= kind.eoc_min() {
        Entry::Eoc
    } else if v == 1 || v > max_cluster {
        Entry::Invalid(v)
    } else {
        Entry::Next(v)
    }
}

/// Byte offset of entry `c` within a FAT copy.
pub(crate) fn entry_byte(kind: FatKind, c: u32) -> u64 {
    u64::from(c).saturating_mul(kind.bits()) / 8
}

/// Entries touched by bytes `[from, to)` of a FAT copy.
fn entry_range(kind: FatKind, from: u64, to: u64) -> (u32, u32) {
    let a = from.saturating_mul(8).checked_div(kind.bits()).unwrap_or(0);
    let b = to.saturating_mul(8).div_ceil(kind.bits());
    (
        u32::try_from(a).unwrap_or(u32::MAX),
        u32::try_from(b).unwrap_or(u32::MAX),
    )
}

/// Entries (cluster numbers from 2) whose values differ between two copies
/// of bytes, in ascending order, at most `cap` of them, and how many in all.
pub(crate) fn differing(
    kind: FatKind,
    clusters: u32,
    a: &Fat,
    b: &Fat,
    cap: usize,
) -> (Vec<u32>, u64) {
    let mut out = Vec::new();
    let mut n = 0u64;
    let last = clusters.saturating_add(1);
    // Compare bytes first: equal stretches are skipped at memory speed.
    let (ab, bb) = (a.bytes(), b.bytes());
    let len = ab.len().min(bb.len());
    let step = 4096usize;
    let mut i = 0usize;
    while i < len {
        let j = i.saturating_add(step).min(len);
        if ab.get(i..j) != bb.get(i..j) {
            let first = entry_range(kind, u64_of(i), u64_of(j));
            for c in first.0..first.1.min(last.saturating_add(1)) {
                if a.raw(c) != b.raw(c) {
                    n = n.saturating_add(1);
                    if out.len() < cap {
                        out.push(c);
                    }
                }
            }
        }
        i = j;
    }
    // Entries of a copy cut short by the end of the reader differ too.
    (out, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fat12_entries_unpack_in_pairs() {
        // Entries 0..4 = FF8 FFF 003 FFF 000 (mkfs + one two-cluster file).
        let bytes = vec![0xF8, 0xFF, 0xFF, 0x03, 0xF0, 0xFF, 0x00, 0x00];
        let f = Fat::from_bytes(FatKind::Fat12, 3, bytes);
        assert_eq!(
            (0..5).map(|c| f.raw(c)).collect::<Vec<_>>(),
            vec![0xFF8, 0xFFF, 0x003, 0xFFF, 0x000]
        );
        assert_eq!(f.entry(2), Entry::Next(3));
        assert_eq!(f.entry(3), Entry::Eoc);
        assert_eq!(f.entry(4), Entry::Free);
    }

    #[test]
    fn classification_follows_fsck_fat() {
        let mut bytes = Vec::new();
        for v in [
            0x0FFF_FFF8u32,
            0x0FFF_FFFF,
            1,
            99,
            0x0FFF_FFF7,
            0xF000_0003,
            0,
            5,
        ] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        let f = Fat::from_bytes(FatKind::Fat32, 6, bytes);
        assert_eq!(f.entry(2), Entry::Invalid(1));
        assert_eq!(f.entry(3), Entry::Invalid(99));
        assert_eq!(f.entry(4), Entry::Bad);
        // The reserved top bits are not part of the cluster number.
        assert_eq!(f.entry(5), Entry::Next(3));
        assert_eq!(f.raw(5), 0xF000_0003);
        assert_eq!(f.entry(6), Entry::Free);
        assert_eq!(f.entry(7), Entry::Next(5));
    }

    #[test]
    fn differing_entries_are_found_and_capped() {
        let a = Fat::from_bytes(FatKind::Fat16, 8000, vec![0u8; 16004]);
        let mut bb = vec![0u8; 16004];
        bb[2 * 9] = 1;
        bb[2 * 7000 + 1] = 1;
        bb[2 * 7001] = 1;
        let b = Fat::from_bytes(FatKind::Fat16, 8000, bb);
        let (first, n) = differing(FatKind::Fat16, 8000, &a, &b, 2);
        assert_eq!((first, n), (vec![9, 7000], 3));
    }
}

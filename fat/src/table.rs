//! One copy of the file allocation table, read into memory (bounded by
//! [`MAX_FAT_BYTES`]) and decoded entry by entry as fsck.fat's `get_fat`
//! does: 12-bit entries packed in pairs, 16-bit, and 32-bit of which the
//! top four bits are reserved. Parts that could not be read are zero-filled
//! and remembered, so a chain through them is "unknown", never "free".

use crate::bpb::{FatKind, Geometry};
use crate::reads::{Miss, Reads};
use imgcheck_core::bytes::{u8_at, usize_of};

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

/// How copy `k` on disk compares with a loaded copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Compared {
    /// The first differing entries (cluster, that copy's value), at most
    /// the cap.
    pub(crate) first: Vec<(u32, u32)>,
    /// How many entries differ.
    pub(crate) entries: u64,
    /// Whether any byte of entries 0 to `clusters + 1` differs (fsck.fat
    /// compares bytes: a FAT12's unused trailing half byte counts).
    pub(crate) bytes_differ: bool,
}

/// Compares copy `k` with `a`, reading `k` a chunk at a time so only one
/// copy is ever held. A FAT12 or FAT16 fits one chunk; FAT32 entries never
/// straddle one.
pub(crate) fn compare_copy(
    reads: &mut Reads<'_>,
    g: &Geometry,
    a: &Fat,
    k: u32,
    cap: usize,
) -> Compared {
    let mut out = Compared::default();
    let used = g.fat_used_bytes();
    let start = g.fat_copy_start(k);
    let last = g.max_cluster();
    let bits = g.kind.bits();
    let what = format!("FAT copy {}", k.saturating_add(1));
    let mut next = 0u32;
    let mut off = 0u64;
    while off < used {
        let n = CHUNK.min(used.saturating_sub(off));
        let mut buf = vec![0u8; usize_of(n)];
        let here = a
            .bytes()
            .get(usize_of(off)..usize_of(off.saturating_add(n)));
        let readable = reads
            .read(start.saturating_add(off), &mut buf, &what)
            .is_ok();
        let end = off.saturating_add(n);
        let hi = u32::try_from(end.saturating_mul(8).checked_div(bits).unwrap_or(0))
            .unwrap_or(u32::MAX)
            .min(last.saturating_add(1));
        if readable && here != Some(buf.as_slice()) {
            out.bytes_differ = true;
            let base = u32::try_from(off.saturating_mul(8).checked_div(bits).unwrap_or(0))
                .unwrap_or(u32::MAX);
            let b = Fat::from_bytes(g.kind, u32::MAX.saturating_sub(2), buf);
            for c in next.max(base)..hi {
                let theirs = b.raw(c.saturating_sub(base));
                if a.readable(c) && a.raw(c) != theirs {
                    out.entries = out.entries.saturating_add(1);
                    if out.first.len() < cap {
                        out.first.push((c, theirs & g.kind.mask()));
                    }
                }
            }
        }
        next = hi;
        off = end;
    }
    out
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
        // A FAT16 geometry with 8000 clusters and two FATs of 32 sectors.
        let mut boot = vec![0u8; 512];
        boot[0x0B..0x0D].copy_from_slice(&512u16.to_le_bytes());
        boot[0x0D] = 1;
        boot[0x0E] = 1;
        boot[0x10] = 2;
        boot[0x11..0x13].copy_from_slice(&512u16.to_le_bytes());
        boot[0x13..0x15].copy_from_slice(&(1 + 64 + 32 + 8000u16).to_le_bytes());
        boot[0x16..0x18].copy_from_slice(&32u16.to_le_bytes());
        let g = Geometry::from_bpb(&crate::bpb::Bpb::parse(&boot)).unwrap();
        assert_eq!((g.kind, g.clusters), (FatKind::Fat16, 8000));
        let mut img = vec![0u8; 512 * (1 + 64)];
        let second = 512 + 32 * 512;
        img[second + 2 * 9] = 1;
        img[second + 2 * 7000 + 1] = 1;
        img[second + 2 * 7001] = 1;
        let r = imgcheck_core::BytesReader::new(img);
        let mut reads = Reads::new(&r);
        let a = Fat::load(&mut reads, &g, 0).unwrap();
        let c = compare_copy(&mut reads, &g, &a, 1, 2);
        assert_eq!(
            (c.first, c.entries, c.bytes_differ),
            (vec![(9, 1), (7000, 0x100)], 3, true)
        );
    }
}

//! The bit layout of L1, L2 and refcount-table entries, the cluster type
//! an L2 entry describes, and loading an L1 table: what both the guest
//! view and the checker decode.

use crate::header::Header;
use crate::limits::*;
use imgcheck_core::bytes::{be64, usize_of};
use imgcheck_core::{ReadAt, ReadError, ReadErrorKind};

/// L1 entry bits 9..=55: the L2 table offset.
pub const L1E_OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;
/// L1 entry reserved bits (0..=8, 56..=62).
pub const L1E_RESERVED_MASK: u64 = 0x7f00_0000_0000_01ff;
/// L2 entry bits 9..=55: the host cluster offset.
pub const L2E_OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;
/// Standard L2 entry reserved bits (1..=8, 56..=61).
pub const L2E_STD_RESERVED_MASK: u64 = 0x3f00_0000_0000_01fe;
/// Refcount table entry bits 9..=63: the refcount block offset.
pub const REFT_OFFSET_MASK: u64 = 0xffff_ffff_ffff_fe00;
/// Refcount table entry reserved bits 0..=8.
pub const REFT_RESERVED_MASK: u64 = 0x1ff;
/// Bit 63 of L1/L2 entries: refcount is exactly 1.
pub const OFLAG_COPIED: u64 = 1 << 63;
/// Bit 62 of L2 entries: compressed cluster.
pub const OFLAG_COMPRESSED: u64 = 1 << 62;
/// Bit 0 of standard L2 entries: reads as zeros.
pub const OFLAG_ZERO: u64 = 1;

/// How a cluster is described by its L2 entry (QEMU's cluster types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterType {
    /// Not allocated here: read from the backing file, or zeros.
    Unallocated,
    /// Reads as zeros, no host cluster.
    ZeroPlain,
    /// Reads as zeros, host cluster preallocated.
    ZeroAlloc,
    /// Data in a host cluster.
    Normal,
    /// Compressed data.
    Compressed,
}

/// QEMU's `qcow2_get_cluster_type`.
pub fn cluster_type(h: &Header, entry: u64) -> ClusterType {
    if entry & OFLAG_COMPRESSED != 0 {
        ClusterType::Compressed
    } else if entry & OFLAG_ZERO != 0 && !h.extended_l2() {
        if entry & L2E_OFFSET_MASK != 0 {
            ClusterType::ZeroAlloc
        } else {
            ClusterType::ZeroPlain
        }
    } else if entry & L2E_OFFSET_MASK == 0 {
        // Offset 0 is a valid data-file offset; COPIED disambiguates.
        if h.has_data_file() && entry & OFLAG_COPIED != 0 {
            ClusterType::Normal
        } else {
            ClusterType::Unallocated
        }
    } else {
        ClusterType::Normal
    }
}

/// Host byte range of a compressed cluster: (offset, length), as QEMU's
/// `qcow2_parse_compressed_l2_entry` computes it.
pub fn compressed_range(h: &Header, entry: u64) -> (u64, u64) {
    let shift = 62u32.saturating_sub(h.cluster_bits.saturating_sub(8));
    let offset_mask = (1u64 << shift).saturating_sub(1);
    let csize_mask = (1u64 << h.cluster_bits.saturating_sub(8)).saturating_sub(1);
    let coffset = entry & offset_mask;
    let nb_csectors = (entry.checked_shr(shift).unwrap_or(0) & csize_mask).saturating_add(1);
    let csize = nb_csectors
        .saturating_mul(512)
        .saturating_sub(coffset & 511);
    (coffset, csize)
}

/// A loaded L1 table (active or a snapshot's).
#[derive(Debug, Clone, Default)]
pub struct L1Table {
    /// File offset.
    pub offset: u64,
    /// The entries that lie inside the file (a last one cut by the end of
    /// the file is completed with zeros, as QEMU reads it); the rest of the
    /// table reads as zeros and is not held in memory.
    pub entries: Vec<u64>,
    /// Number of leading entries wholly inside the file.
    pub valid: usize,
    /// Entries the table is declared to have.
    pub size: usize,
    /// Indexes of the entries that point to an L2 table, ascending: the
    /// guest view skips the ranges between them wholesale, so an empty
    /// disk of any size answers at once.
    pub allocated: Vec<u32>,
}

impl L1Table {
    /// The first entry at or after `index` that points to an L2 table.
    pub fn next_allocated(&self, index: usize) -> Option<usize> {
        let at = self
            .allocated
            .partition_point(|&i| usize_of(u64::from(i)) < index);
        self.allocated.get(at).map(|&i| usize_of(u64::from(i)))
    }
}

/// Reads `len` bytes at `offset`, with bytes past the end of the file read
/// as zeros (what QEMU's block layer does for metadata); returns also how
/// many bytes really came from the file.
pub(crate) fn read_zero_filled(
    file: &dyn ReadAt,
    offset: u64,
    len: u64,
    limit: u64,
) -> Result<(Vec<u8>, u64), ReadError> {
    if len > limit {
        return Err(ReadError::new(
            offset,
            len,
            ReadErrorKind::TooLarge { limit },
        ));
    }
    let mut buf = vec![0u8; usize_of(len)];
    let have = file.len().saturating_sub(offset).min(len);
    if have > 0 {
        let part = buf.get_mut(..usize_of(have)).unwrap_or(&mut []);
        file.read_exact_at(offset, part)?;
    }
    Ok((buf, have))
}

/// Loads an L1 table of `l1_size` entries at `offset`.
pub(crate) fn load_l1(file: &dyn ReadAt, offset: u64, l1_size: u32) -> Result<L1Table, ReadError> {
    let bytes = u64::from(l1_size).saturating_mul(8);
    if bytes > MAX_L1_BYTES {
        return Err(ReadError::new(
            offset,
            bytes,
            ReadErrorKind::TooLarge {
                limit: MAX_L1_BYTES,
            },
        ));
    }
    // Only the part inside the file is read and held: a table claimed to
    // lie past the end costs nothing.
    let in_file = file
        .len()
        .saturating_sub(offset)
        .min(bytes)
        .next_multiple_of(8)
        .min(bytes);
    let (buf, have) = read_zero_filled(file, offset, in_file, MAX_L1_BYTES)?;
    let entries: Vec<u64> = buf.chunks_exact(8).map(|c| be64(c, 0)).collect();
    let allocated = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| **e & L1E_OFFSET_MASK != 0)
        .filter_map(|(i, _)| u32::try_from(i).ok())
        .collect();
    Ok(L1Table {
        offset,
        entries,
        valid: usize_of(have / 8),
        size: usize_of(u64::from(l1_size)),
        allocated,
    })
}

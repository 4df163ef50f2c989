//! Byte-precise damage located with the crate's own parser.
#![allow(dead_code, missing_docs)]

use super::be64;
use imgcheck_core::BytesReader;
use imgcheck_qcow2::{ClusterType, Image, cluster_type};
use std::sync::Arc;

/// Where the interesting structures of an image are.
/// Structure offsets.
pub struct Map {
    /// Bitmap directory offset, when the image has bitmaps.
    pub bitmap_dir: Option<u64>,
    pub cs: u64,
    pub order: u32,
    pub cluster_bits: u32,
    pub l1_offset: u64,
    pub l2_offset: u64,
    pub reftable: u64,
    pub refblock0: u64,
    /// (file offset of the L2 entry, entry) of the first normal cluster.
    pub data_entry: Option<(u64, u64)>,
    pub compressed_entry: Option<(u64, u64)>,
    pub unallocated_entry: Option<u64>,
    pub extl2: bool,
    pub snapshots: Vec<u64>,
    /// First L2 table of the first snapshot.
    pub snap_l2: Option<u64>,
    pub file_len: u64,
}

/// Locates structures.
pub fn map(bytes: &[u8]) -> Map {
    let img = Image::open(Arc::new(BytesReader::new(bytes.to_vec()))).unwrap();
    let h = img.header().clone();
    let cs = h.cluster_size();
    let l1 = img.active_l1();
    let l2_offset = l1
        .entries
        .iter()
        .map(|e| e & imgcheck_qcow2::L1E_OFFSET_MASK)
        .find(|&o| o != 0)
        .unwrap_or(0);
    let es = h.l2_entry_size();
    let mut data_entry = None;
    let mut compressed_entry = None;
    let mut unallocated_entry = None;
    if l2_offset != 0 {
        for i in 0..h.l2_entries() {
            let at = l2_offset + i * es;
            let e = be64(bytes, at as usize);
            match cluster_type(&h, e) {
                ClusterType::Normal
                    if data_entry.is_none() && e & imgcheck_qcow2::L2E_OFFSET_MASK != 0 =>
                {
                    data_entry = Some((at, e))
                }
                ClusterType::Compressed if compressed_entry.is_none() => {
                    compressed_entry = Some((at, e))
                }
                ClusterType::Unallocated if unallocated_entry.is_none() => {
                    unallocated_entry = Some(at)
                }
                _ => {}
            }
        }
    }
    let reftable = h.refcount_table_offset;
    Map {
        bitmap_dir: h.extensions.bitmaps.map(|b| b.bitmap_directory_offset),
        cs,
        order: h.refcount_order,
        cluster_bits: h.cluster_bits,
        l1_offset: h.l1_table_offset,
        l2_offset,
        reftable,
        refblock0: be64(bytes, reftable as usize),
        data_entry,
        compressed_entry,
        unallocated_entry,
        extl2: h.extended_l2(),
        snapshots: img.snapshots().iter().map(|s| s.entry_offset).collect(),
        snap_l2: img.snapshots().first().and_then(|s| {
            let l1 = s.l1_table_offset as usize;
            let o = be64(bytes, l1) & imgcheck_qcow2::L1E_OFFSET_MASK;
            (o != 0).then_some(o)
        }),
        file_len: bytes.len() as u64,
    }
}

/// Writes refcount `v` for `cluster` (in refblock 0's range).
pub fn set_refcount(b: &mut [u8], m: &Map, cluster: u64, v: u64) {
    let bits = 1u64 << m.order;
    let block = m.refblock0 as usize;
    if bits < 8 {
        let bit = cluster * bits;
        let byte = block + (bit / 8) as usize;
        let shift = bit % 8;
        let mask = (((1u64 << bits) - 1) << shift) as u8;
        b[byte] = (b[byte] & !mask) | (((v << shift) as u8) & mask);
    } else {
        let w = (bits / 8) as usize;
        let at = block + cluster as usize * w;
        let bytes = v.to_be_bytes();
        b[at..at + w].copy_from_slice(&bytes[8 - w..]);
    }
}

fn put64(b: &mut [u8], at: u64, v: u64) {
    b[at as usize..at as usize + 8].copy_from_slice(&v.to_be_bytes());
}

pub type Damage = fn(&mut Vec<u8>, &Map) -> bool;

/// Damage cases: name and a function that applies it (false: not applicable).
pub fn damages() -> Vec<(&'static str, Damage)> {
    vec![
        // QEMU validates snapshots_offset even when there are no snapshots.
        ("snapshots-offset-unaligned-no-snapshots", |b, m| {
            if !m.snapshots.is_empty() {
                return false;
            }
            let off = be64(b, 64);
            b[64..72].copy_from_slice(&(off | 0x0101).to_be_bytes());
            true
        }),
        ("refcount-zero-data", |b, m| {
            let Some((_, e)) = m.data_entry else {
                return false;
            };
            set_refcount(b, m, (e & imgcheck_qcow2::L2E_OFFSET_MASK) / m.cs, 0);
            true
        }),
        ("refcount-raise-data", |b, m| {
            let Some((_, e)) = m.data_entry else {
                return false;
            };
            if m.order == 0 {
                return false;
            }
            set_refcount(b, m, (e & imgcheck_qcow2::L2E_OFFSET_MASK) / m.cs, 2);
            true
        }),
        ("leak-appended-cluster", |b, m| {
            let n = b.len() as u64 / m.cs;
            if n >= (m.cs * 8) >> m.order {
                return false;
            }
            b.resize(b.len() + m.cs as usize, 0);
            set_refcount(b, m, n, 1);
            true
        }),
        ("refcount-past-eof", |b, m| {
            let n = b.len() as u64 / m.cs + 3;
            if n >= (m.cs * 8) >> m.order {
                return false;
            }
            set_refcount(b, m, n, 1);
            true
        }),
        ("l2-copied-cleared", |b, m| {
            let Some((at, e)) = m.data_entry else {
                return false;
            };
            put64(b, at, e & !imgcheck_qcow2::OFLAG_COPIED);
            true
        }),
        ("l1-copied-cleared", |b, m| {
            if m.l2_offset == 0 {
                return false;
            }
            let e = be64(b, m.l1_offset as usize);
            put64(b, m.l1_offset, e ^ imgcheck_qcow2::OFLAG_COPIED);
            true
        }),
        ("l2-reserved-bit", |b, m| {
            let Some((at, e)) = m.data_entry else {
                return false;
            };
            put64(b, at, e | 2);
            true
        }),
        ("l1-reserved-bit", |b, m| {
            if m.l2_offset == 0 {
                return false;
            }
            let e = be64(b, m.l1_offset as usize);
            put64(b, m.l1_offset, e | (1 << 57));
            true
        }),
        ("l1-unaligned", |b, m| {
            if m.l2_offset == 0 || m.cs == 512 {
                return false;
            }
            let e = be64(b, m.l1_offset as usize);
            put64(b, m.l1_offset, e + 512);
            true
        }),
        ("l2-unaligned", |b, m| {
            let Some((at, e)) = m.data_entry else {
                return false;
            };
            if m.cs == 512 {
                return false;
            }
            put64(b, at, e + 512);
            true
        }),
        ("l2-double-mapped", |b, m| {
            let Some((at, e)) = m.data_entry else {
                return false;
            };
            let es = if m.extl2 { 16 } else { 8 };
            let next = at + es;
            if next >= m.l2_offset + m.cs {
                return false;
            }
            put64(b, next, e);
            if m.extl2 {
                let bm = be64(b, at as usize + 8);
                put64(b, next + 8, bm);
            }
            true
        }),
        ("l2-table-zeroed", |b, m| {
            if m.l2_offset == 0 || m.l2_offset >= m.file_len {
                return false;
            }
            let s = m.l2_offset as usize;
            b[s..s + m.cs as usize].fill(0);
            true
        }),
        ("l1-entry-zeroed", |b, m| {
            if m.l2_offset == 0 {
                return false;
            }
            put64(b, m.l1_offset, 0);
            true
        }),
        ("l2-points-past-eof", |b, m| {
            let Some((at, e)) = m.data_entry else {
                return false;
            };
            let far = (m.file_len / m.cs + 10) * m.cs;
            put64(b, at, (e & !imgcheck_qcow2::L2E_OFFSET_MASK) | far);
            true
        }),
        ("truncated-last-cluster", |b, m| {
            if b.len() as u64 <= 4 * m.cs {
                return false;
            }
            b.truncate(b.len() - m.cs as usize);
            true
        }),
        ("truncated-half", |b, m| {
            let half = (b.len() as u64 / 2 / m.cs).max(4) * m.cs;
            if half >= b.len() as u64 || half <= m.reftable.max(m.l1_offset) + m.cs {
                return false;
            }
            b.truncate(half as usize);
            true
        }),
        ("reftable-reserved-bit", |b, m| {
            let e = be64(b, m.reftable as usize);
            put64(b, m.reftable, e | 1);
            true
        }),
        ("refblock-unaligned", |b, m| {
            if m.cs == 512 {
                return false;
            }
            let e = be64(b, m.reftable as usize);
            put64(b, m.reftable, e + 512);
            true
        }),
        ("dirty-bit", |b, _| {
            if b[7] != 3 {
                return false;
            }
            b[79] |= 1;
            true
        }),
        ("corrupt-bit", |b, _| {
            if b[7] != 3 {
                return false;
            }
            b[79] |= 2;
            true
        }),
        ("compressed-copied", |b, m| {
            let Some((at, e)) = m.compressed_entry else {
                return false;
            };
            put64(b, at, e | imgcheck_qcow2::OFLAG_COPIED);
            true
        }),
        ("compressed-garbage", |b, m| {
            let Some((_, e)) = m.compressed_entry else {
                return false;
            };
            let shift = 62 - (m.cluster_bits - 8);
            let off = (e & ((1u64 << shift) - 1)) as usize;
            for (i, x) in b[off..off + 64].iter_mut().enumerate() {
                *x = 0xff ^ (i as u8);
            }
            true
        }),
        ("extl2-alloc-and-zero", |b, m| {
            let Some((at, _)) = m.data_entry else {
                return false;
            };
            if !m.extl2 {
                return false;
            }
            let bm = be64(b, at as usize + 8);
            put64(b, at + 8, bm | ((bm & 0xffff_ffff) << 32));
            true
        }),
        ("extl2-unallocated-with-alloc-bits", |b, m| {
            let Some(at) = m.unallocated_entry else {
                return false;
            };
            if !m.extl2 {
                return false;
            }
            put64(b, at + 8, 1);
            true
        }),
        ("snapshot-l1-unaligned", |b, m| {
            let Some(&s) = m.snapshots.first() else {
                return false;
            };
            let e = be64(b, s as usize);
            put64(b, s, e + 512);
            true
        }),
        ("snapshot-l2-reserved-bit", |b, m| {
            let Some(l2) = m.snap_l2 else { return false };
            let e = be64(b, l2 as usize);
            put64(b, l2, e | 4);
            true
        }),
        ("snapshot-l2-entry-zeroed", |b, m| {
            let Some(l2) = m.snap_l2 else { return false };
            put64(b, l2, 0);
            true
        }),
        ("snapshot-extra-too-large", |b, m| {
            let Some(&s) = m.snapshots.first() else {
                return false;
            };
            b[s as usize + 36..s as usize + 40].copy_from_slice(&5000u32.to_be_bytes());
            true
        }),
        ("snapshot-extra-short", |b, m| {
            let Some(&s) = m.snapshots.last() else {
                return false;
            };
            b[s as usize + 36..s as usize + 40].copy_from_slice(&8u32.to_be_bytes());
            true
        }),
        ("snapshot-l1-too-large", |b, m| {
            let Some(&s) = m.snapshots.first() else {
                return false;
            };
            b[s as usize + 8..s as usize + 12].copy_from_slice(&0x0100_0000u32.to_be_bytes());
            true
        }),
        ("snapshot-count-raised", |b, m| {
            if m.snapshots.is_empty() {
                return false;
            }
            let n = u32::from_be_bytes(b[60..64].try_into().unwrap());
            b[60..64].copy_from_slice(&(n + 1).to_be_bytes());
            true
        }),
        ("snapshot-table-past-eof", |b, m| {
            if m.snapshots.is_empty() {
                return false;
            }
            put64(b, 64, (m.file_len / m.cs + 2) * m.cs);
            true
        }),
        ("bitmap-table-unaligned", |b, m| {
            let Some(d) = m.bitmap_dir else { return false };
            let t = be64(b, d as usize);
            put64(b, d, t + 512);
            true
        }),
        ("bitmap-table-past-eof", |b, m| {
            let Some(d) = m.bitmap_dir else { return false };
            put64(b, d, (m.file_len / m.cs + 3) * m.cs);
            true
        }),
        ("bitmap-data-past-eof", |b, m| {
            let Some(d) = m.bitmap_dir else { return false };
            let t = be64(b, d as usize);
            put64(b, t, (m.file_len / m.cs + 3) * m.cs);
            true
        }),
        ("bitmap-table-refcount-zero", |b, m| {
            let Some(d) = m.bitmap_dir else { return false };
            let t = be64(b, d as usize);
            set_refcount(b, m, t / m.cs, 0);
            true
        }),
        ("magic-broken", |b, _| {
            b[0..4].copy_from_slice(b"XXXX");
            true
        }),
        ("version-4", |b, _| {
            b[7] = 4;
            true
        }),
        ("cluster-bits-22", |b, _| {
            b[20..24].copy_from_slice(&22u32.to_be_bytes());
            true
        }),
        ("l1-size-too-small", |b, m| {
            if m.l2_offset == 0 {
                return false;
            }
            b[36..40].copy_from_slice(&0u32.to_be_bytes());
            true
        }),
        ("l1-offset-unaligned", |b, _| {
            let o = be64(b, 40);
            put64(b, 40, o + 512);
            true
        }),
        ("reftable-offset-unaligned", |b, m| {
            if m.cs == 512 {
                return false;
            }
            let o = be64(b, 48);
            put64(b, 48, o + 512);
            true
        }),
        ("reftable-clusters-huge", |b, _| {
            b[56..60].copy_from_slice(&0x0100_0000u32.to_be_bytes());
            true
        }),
        ("unknown-incompatible-bit", |b, _| {
            if b[7] != 3 {
                return false;
            }
            b[78] |= 0x10;
            true
        }),
        ("refcount-order-7", |b, _| {
            if b[7] != 3 {
                return false;
            }
            b[96..100].copy_from_slice(&7u32.to_be_bytes());
            true
        }),
        ("compression-type-2", |b, _| {
            if b[7] != 3 || u32::from_be_bytes(b[100..104].try_into().unwrap()) <= 104 {
                return false;
            }
            b[104] = 2;
            b[79] |= 8;
            true
        }),
        ("header-length-small", |b, _| {
            if b[7] != 3 {
                return false;
            }
            b[100..104].copy_from_slice(&96u32.to_be_bytes());
            true
        }),
        ("backing-name-too-long", |b, _| {
            if be64(b, 8) == 0 {
                return false;
            }
            b[16..20].copy_from_slice(&2000u32.to_be_bytes());
            true
        }),
        ("snapshot-count-huge", |b, m| {
            if m.snapshots.is_empty() {
                return false;
            }
            b[60..64].copy_from_slice(&70000u32.to_be_bytes());
            true
        }),
        ("snapshot-offset-unaligned", |b, m| {
            if m.snapshots.is_empty() || m.cs == 512 {
                return false;
            }
            let o = be64(b, 64);
            put64(b, 64, o + 512);
            true
        }),
        ("snapshot-l1-zeroed", |b, m| {
            let Some(&s) = m.snapshots.first() else {
                return false;
            };
            let l1 = be64(b, s as usize) as usize;
            b[l1..l1 + 8].fill(0);
            true
        }),
    ]
}

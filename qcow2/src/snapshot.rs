//! The internal snapshot table: variable-size entries, 8-byte aligned,
//! read one at a time so a hostile count costs only bounded reads.

use crate::header::Header;
use crate::limits::*;
use imgcheck_core::ReadAt;
use imgcheck_core::bytes::{be16, be32, be64, bytes, usize_of};
use serde::Serialize;

/// One internal snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// Position in the table (0-based).
    pub index: usize,
    /// File offset of this table entry.
    pub entry_offset: u64,
    /// Offset of the snapshot's L1 table.
    pub l1_table_offset: u64,
    /// Entries in the snapshot's L1 table.
    pub l1_size: u32,
    /// Unique id string (QEMU numbers them "1", "2" …).
    pub id: String,
    /// Name given at creation.
    pub name: String,
    /// Creation time, seconds since the epoch.
    pub date_sec: u32,
    /// Creation time, nanoseconds part.
    pub date_nsec: u32,
    /// Guest clock at creation, nanoseconds.
    pub vm_clock_nsec: u64,
    /// VM state size (the 64-bit extra data field when present).
    pub vm_state_size: u64,
    /// Bytes of extra data.
    pub extra_data_size: u32,
    /// Virtual disk size when the snapshot was taken (extra data), if recorded.
    pub disk_size: Option<u64>,
    /// Instruction count at creation (extra data), if recorded.
    pub icount: Option<u64>,
}

/// The parsed table and what went wrong reading it.
#[derive(Debug, Clone, Default)]
pub struct SnapshotTable {
    /// The snapshots read (all of them when `error` is `None`).
    pub snapshots: Vec<Snapshot>,
    /// Bytes the table takes from `snapshots_offset`.
    pub size: u64,
    /// Why reading stopped early, with the offset.
    pub error: Option<(u64, String)>,
    /// Offset of the first entry that lies (partly) past the end of the
    /// file; those bytes were read as zeros.
    pub past_eof: Option<u64>,
    /// Snapshots beyond [`MAX_SNAPSHOTS`] that were not read.
    pub overhanging: u32,
    /// Snapshots whose extra data is shorter than v3 requires (16 bytes).
    pub incomplete_extra: Vec<usize>,
}

/// Reads the snapshot table of an image whose header is `h`.
pub fn read_table(file: &dyn ReadAt, h: &Header) -> SnapshotTable {
    let mut t = SnapshotTable::default();
    let start = h.snapshots_offset;
    let mut off = start;
    t.overhanging = h.nb_snapshots.saturating_sub(MAX_SNAPSHOTS);
    // QEMU validates the offset even with no snapshots (qcow2_validate_table
    // runs for a zero-entry table too), so a damaged one stops it opening.
    if !start.is_multiple_of(h.cluster_size()) || start > MAX_TABLE_OFFSET {
        t.error = Some((
            64,
            format!(
                "snapshots_offset {start:#x} is not cluster aligned or lies past 2^62 ({} snapshots)",
                h.nb_snapshots
            ),
        ));
        return t;
    }
    let count = usize_of(u64::from(h.nb_snapshots.min(MAX_SNAPSHOTS)));
    for index in 0..count {
        off = off.next_multiple_of(8);
        // Past EOF QEMU's block layer reads zeros; do the same so the
        // counts match, and say so.
        let hdr = match crate::entries::read_zero_filled(file, off, 40, 40) {
            Ok((b, have)) => {
                if have < 40 && t.past_eof.is_none() {
                    t.past_eof = Some(off);
                }
                b
            }
            Err(e) => {
                t.error = Some((off, format!("snapshot table entry {index}: {e}")));
                break;
            }
        };
        let extra_data_size = be32(&hdr, 36);
        if extra_data_size > MAX_SNAPSHOT_EXTRA_DATA {
            t.error = Some((
                off.saturating_add(36),
                format!(
                    "snapshot table entry {index} has {extra_data_size} bytes of extra data, more than {MAX_SNAPSHOT_EXTRA_DATA}"
                ),
            ));
            break;
        }
        let id_len = be16(&hdr, 12);
        let name_len = be16(&hdr, 14);
        let var_len = u64::from(extra_data_size)
            .saturating_add(u64::from(id_len))
            .saturating_add(u64::from(name_len));
        let var = match crate::entries::read_zero_filled(
            file,
            off.saturating_add(40),
            var_len,
            1 << 20,
        ) {
            Ok((v, have)) => {
                if have < var_len && t.past_eof.is_none() {
                    t.past_eof = Some(off);
                }
                v
            }
            Err(e) => {
                t.error = Some((off, format!("snapshot table entry {index}: {e}")));
                break;
            }
        };
        let xs = usize_of(u64::from(extra_data_size));
        let extra = bytes(&var, 0, xs);
        let id = String::from_utf8_lossy(bytes(&var, xs, usize::from(id_len))).into_owned();
        let ns = xs.saturating_add(usize::from(id_len));
        let name = String::from_utf8_lossy(bytes(&var, ns, usize::from(name_len))).into_owned();
        let vm_state_size = if extra.len() >= 8 {
            be64(extra, 0)
        } else {
            u64::from(be32(&hdr, 32))
        };
        let disk_size = (extra.len() >= 16).then(|| be64(extra, 8));
        let icount = (extra.len() >= 24)
            .then(|| be64(extra, 16))
            .filter(|&v| v != u64::MAX);
        if h.version >= 3 && extra.len() < 16 {
            t.incomplete_extra.push(index);
        }
        t.snapshots.push(Snapshot {
            index,
            entry_offset: off,
            l1_table_offset: be64(&hdr, 0),
            l1_size: be32(&hdr, 8),
            id,
            name,
            date_sec: be32(&hdr, 16),
            date_nsec: be32(&hdr, 20),
            vm_clock_nsec: be64(&hdr, 24),
            vm_state_size,
            extra_data_size,
            disk_size,
            icount,
        });
        off = off.saturating_add(40).saturating_add(var_len);
        if off.saturating_sub(start) > MAX_SNAPSHOT_TABLE_BYTES {
            t.error = Some((
                start,
                format!("snapshot table is larger than {MAX_SNAPSHOT_TABLE_BYTES} bytes"),
            ));
            break;
        }
    }
    t.size = off.saturating_sub(start);
    t
}

//! The internal snapshot table: variable-size entries, 8-byte aligned,
//! read one at a time so a hostile count costs only bounded reads.

use crate::header::Header;
use crate::limits::*;
use imgcheck_core::ReadAt;
use imgcheck_core::bytes::{be16, be32, be64, usize_of};
use serde::Serialize;

/// Bytes of a snapshot's id and name kept in memory: QEMU itself shows at
/// most 255 of a name and 127 of an id; longer ones are matched by length
/// and hash, and shown shortened with their length.
pub const MAX_SNAPSHOT_NAME_KEPT: usize = 256;
/// Characters of an id or name shown in messages before it is shortened.
pub const SHOWN_NAME_CHARS: usize = 64;

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
    /// Unique id string (QEMU numbers them "1", "2" …), lossy UTF-8, at
    /// most [`MAX_SNAPSHOT_NAME_KEPT`] bytes of it.
    pub id: String,
    /// Name given at creation, kept like `id`.
    pub name: String,
    /// Length of the id in the table, in bytes.
    pub id_len: u16,
    /// Length of the name in the table, in bytes.
    pub name_len: u16,
    /// Creation time, seconds since the epoch (0 when not recorded).
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
    /// The entry lies (partly) past the end of the file; what is past it
    /// was read as zeros, as QEMU reads it.
    pub past_eof: bool,
    #[serde(skip)]
    id_hash: u64,
    #[serde(skip)]
    name_hash: u64,
}

/// 64-bit FNV-1a: matching names longer than what is kept.
fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `s` shortened to [`SHOWN_NAME_CHARS`] characters, with its full length
/// in bytes said when it was cut.
pub(crate) fn shown(s: &str, full_len: u16) -> String {
    let cut = s.chars().count() > SHOWN_NAME_CHARS || usize::from(full_len) > s.len();
    if !cut {
        return s.to_string();
    }
    let head: String = s.chars().take(SHOWN_NAME_CHARS).collect();
    format!("{head}… ({full_len} bytes)")
}

impl Snapshot {
    /// The id, shortened for messages when it is long.
    pub fn shown_id(&self) -> String {
        shown(&self.id, self.id_len)
    }

    /// The name, shortened for messages when it is long.
    pub fn shown_name(&self) -> String {
        shown(&self.name, self.name_len)
    }

    /// `id:name` as reports name a snapshot (`IMAGE@id:name`), both
    /// shortened.
    pub fn label(&self) -> String {
        format!("{}:{}", self.shown_id(), self.shown_name())
    }

    /// `id (name)` as messages name a snapshot, both shortened.
    pub fn described(&self) -> String {
        format!("{} ({})", self.shown_id(), self.shown_name())
    }

    /// Whether the id is exactly `wanted`.
    pub fn id_is(&self, wanted: &str) -> bool {
        usize::from(self.id_len) == wanted.len()
            && self.id_hash == fnv(wanted.as_bytes())
            && (wanted.len() > MAX_SNAPSHOT_NAME_KEPT || self.id == wanted)
    }

    /// Whether the name is exactly `wanted`.
    pub fn name_is(&self, wanted: &str) -> bool {
        usize::from(self.name_len) == wanted.len()
            && self.name_hash == fnv(wanted.as_bytes())
            && (wanted.len() > MAX_SNAPSHOT_NAME_KEPT || self.name == wanted)
    }

    /// Creation time in seconds since the epoch, when the entry records
    /// one (an entry read past the end of the file, or with a zero date,
    /// does not: there is no date to put in a timeline).
    pub fn date(&self) -> Option<u32> {
        (!self.past_eof && (self.date_sec != 0 || self.date_nsec != 0)).then_some(self.date_sec)
    }
}

/// Why QEMU does not read the snapshot table: `qemu-img check` then
/// stops with "Check failed: {errno}" and prints no counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QemuTableError {
    /// File offset of the field or entry.
    pub offset: u64,
    /// QEMU's message.
    pub message: String,
    /// The errno text qemu-img prints after "Check failed: ".
    pub errno: &'static str,
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
    /// Why QEMU does not read this table (it refuses every snapshot).
    pub qemu: Option<QemuTableError>,
    /// Offset of the first entry that lies (partly) past the end of the
    /// file; those bytes were read as zeros.
    pub past_eof: Option<u64>,
    /// Snapshots beyond [`MAX_SNAPSHOTS`] that were not read.
    pub overhanging: u32,
    /// Snapshots whose extra data is shorter than v3 requires (16 bytes).
    pub incomplete_extra: Vec<usize>,
    /// Snapshots with more extra data than QEMU reads (their extra data
    /// was skipped).
    pub extra_too_large: Vec<usize>,
}

impl SnapshotTable {
    /// Whether the table can be read as QEMU reads it: when not, its
    /// snapshots cannot be loaded by QEMU and should not be shown as
    /// guest disks either.
    pub fn readable(&self) -> bool {
        self.error.is_none() && self.qemu.is_none()
    }
}

/// QEMU's `qcow2_validate_table` for the snapshot table.
fn qemu_validate(h: &Header) -> Option<QemuTableError> {
    let entries = u64::from(h.nb_snapshots);
    if entries > u64::from(MAX_SNAPSHOTS) {
        return Some(QemuTableError {
            offset: 60,
            message: "snapshot table too large".into(),
            errno: "File too large",
        });
    }
    let bytes = entries.saturating_mul(40);
    let max = u64::try_from(i64::MAX).unwrap_or(u64::MAX);
    if max.saturating_sub(bytes) < h.snapshots_offset
        || !h.snapshots_offset.is_multiple_of(h.cluster_size())
    {
        return Some(QemuTableError {
            offset: 64,
            message: "snapshot table offset invalid".into(),
            errno: "Invalid argument",
        });
    }
    None
}

/// Reads the snapshot table of an image whose header is `h`.
pub fn read_table(file: &dyn ReadAt, h: &Header) -> SnapshotTable {
    let mut t = SnapshotTable {
        qemu: qemu_validate(h),
        ..SnapshotTable::default()
    };
    let start = h.snapshots_offset;
    let mut off = start;
    t.overhanging = h.nb_snapshots.saturating_sub(MAX_SNAPSHOTS);
    if !start.is_multiple_of(h.cluster_size()) || start > MAX_TABLE_OFFSET {
        t.error = Some((
            64,
            format!(
                "snapshots_offset {start:#x} is not cluster aligned or lies past 2^62 ({} snapshot{})",
                h.nb_snapshots,
                if h.nb_snapshots == 1 { "" } else { "s" }
            ),
        ));
        return t;
    }
    let count = usize_of(u64::from(h.nb_snapshots.min(MAX_SNAPSHOTS)));
    for index in 0..count {
        off = off.next_multiple_of(8);
        let mut past_eof = false;
        // Past EOF QEMU's block layer reads zeros; do the same so the
        // counts match, and say so.
        let hdr = match crate::entries::read_zero_filled(file, off, 40, 40) {
            Ok((b, have)) => {
                past_eof |= have < 40;
                b
            }
            Err(e) => {
                t.error = Some((off, format!("snapshot table entry {index}: {e}")));
                break;
            }
        };
        let mut extra_data_size = be32(&hdr, 36);
        if extra_data_size > MAX_SNAPSHOT_EXTRA_DATA {
            // QEMU stops unless repairing; the repair keeps the entry and
            // drops the extra data past the bound, as this reader does.
            t.extra_too_large.push(index);
            t.qemu.get_or_insert(QemuTableError {
                offset: off.saturating_add(36),
                message: format!("Too much extra metadata in snapshot table entry {index}"),
                errno: "File too large",
            });
        }
        let id_len = be16(&hdr, 12);
        let name_len = be16(&hdr, 14);
        let kept_extra = extra_data_size.min(MAX_SNAPSHOT_EXTRA_DATA);
        let var_len = u64::from(extra_data_size)
            .saturating_add(u64::from(id_len))
            .saturating_add(u64::from(name_len));
        let read = |at: u64, n: u64| crate::entries::read_zero_filled(file, at, n, 1 << 20);
        let extra_at = off.saturating_add(40);
        let id_at = extra_at.saturating_add(u64::from(extra_data_size));
        let name_at = id_at.saturating_add(u64::from(id_len));
        let parts = read(extra_at, u64::from(kept_extra)).and_then(|x| {
            read(id_at, u64::from(id_len))
                .and_then(|i| read(name_at, u64::from(name_len)).map(|n| (x, i, n)))
        });
        let ((extra, hx), (id_raw, hi), (name_raw, hn)) = match parts {
            Ok(p) => p,
            Err(e) => {
                t.error = Some((off, format!("snapshot table entry {index}: {e}")));
                break;
            }
        };
        past_eof |=
            hx < u64::from(kept_extra) || hi < u64::from(id_len) || hn < u64::from(name_len);
        extra_data_size = kept_extra;
        if past_eof && t.past_eof.is_none() {
            t.past_eof = Some(off);
        }
        let keep = |raw: &[u8]| {
            let kept = raw
                .get(..raw.len().min(MAX_SNAPSHOT_NAME_KEPT))
                .unwrap_or(&[]);
            String::from_utf8_lossy(kept).into_owned()
        };
        let vm_state_size = if extra.len() >= 8 {
            be64(&extra, 0)
        } else {
            u64::from(be32(&hdr, 32))
        };
        let disk_size = (extra.len() >= 16).then(|| be64(&extra, 8));
        let icount = (extra.len() >= 24)
            .then(|| be64(&extra, 16))
            .filter(|&v| v != u64::MAX);
        if h.version >= 3 && extra.len() < 16 {
            t.incomplete_extra.push(index);
        }
        t.snapshots.push(Snapshot {
            index,
            entry_offset: off,
            l1_table_offset: be64(&hdr, 0),
            l1_size: be32(&hdr, 8),
            id: keep(&id_raw),
            name: keep(&name_raw),
            id_len,
            name_len,
            date_sec: be32(&hdr, 16),
            date_nsec: be32(&hdr, 20),
            vm_clock_nsec: be64(&hdr, 24),
            vm_state_size,
            extra_data_size,
            disk_size,
            icount,
            past_eof,
            id_hash: fnv(&id_raw),
            name_hash: fnv(&name_raw),
        });
        off = off.saturating_add(40).saturating_add(var_len);
        if off.saturating_sub(start) > MAX_SNAPSHOT_TABLE_BYTES {
            t.qemu.get_or_insert(QemuTableError {
                offset: start,
                message: "Snapshot table is too big".into(),
                errno: "File too large",
            });
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

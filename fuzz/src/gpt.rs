//! GPT edits: every header field of either copy, any entry's fields, the
//! protective MBR (through [`crate::mbr`]), with both CRCs re-sealed when
//! asked, so a hostile entry count or array location reaches the checks
//! behind the CRC.

use crate::{Bytes, Disk, Value, crc32};
use arbitrary::Arbitrary;
use imgcheck_core::ReadAt;

/// Most entry-array bytes re-sealed (the checker reads at most 1 MiB).
const MAX_RESEAL: u64 = 1 << 20;

#[derive(Debug, Clone)]
pub struct Layout {
    pub sector: u64,
    /// Byte offsets of the primary and backup headers.
    pub headers: [u64; 2],
    pub anchors: Vec<u64>,
}

impl Layout {
    pub fn of(disk: &Disk) -> Layout {
        let sector = if &disk.get(4096, 8)[..] == b"EFI PART" && &disk.get(512, 8)[..] != b"EFI PART" {
            4096
        } else {
            512
        };
        let p = sector;
        let alt = disk.le(p + 32, 8);
        let b = alt
            .checked_mul(sector)
            .filter(|&o| o + sector <= disk.len())
            .unwrap_or(disk.len().saturating_sub(sector));
        let mut anchors = vec![0, p, b, disk.len().saturating_sub(sector), disk.len()];
        for h in [p, b] {
            anchors.push(disk.le(h + 72, 8).saturating_mul(sector));
            anchors.push(disk.le(h + 40, 8).saturating_mul(sector));
            anchors.push(disk.le(h + 48, 8).saturating_mul(sector));
        }
        let entries = disk.le(p + 72, 8).saturating_mul(sector);
        for i in 0..8u64 {
            let e = entries + i * 128;
            let first = disk.le(e + 32, 8);
            if first != 0 {
                anchors.push(first.saturating_mul(sector));
                anchors.push(disk.le(e + 40, 8).saturating_mul(sector));
            }
        }
        Layout { sector, headers: [p, b], anchors }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum HeaderField {
    Signature,
    Revision,
    HeaderSize,
    MyLba,
    AlternateLba,
    FirstUsable,
    LastUsable,
    DiskGuid,
    EntriesLba,
    NumEntries,
    EntrySize,
    Crc,
    EntriesCrc,
}

impl HeaderField {
    fn at(self) -> (u64, usize) {
        match self {
            HeaderField::Signature => (0, 8),
            HeaderField::Revision => (8, 4),
            HeaderField::HeaderSize => (12, 4),
            HeaderField::Crc => (16, 4),
            HeaderField::MyLba => (24, 8),
            HeaderField::AlternateLba => (32, 8),
            HeaderField::FirstUsable => (40, 8),
            HeaderField::LastUsable => (48, 8),
            HeaderField::DiskGuid => (56, 8),
            HeaderField::EntriesLba => (72, 8),
            HeaderField::NumEntries => (80, 4),
            HeaderField::EntrySize => (84, 4),
            HeaderField::EntriesCrc => (88, 4),
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum EntryField {
    TypeGuid(u8),
    UniqueGuid,
    FirstLba,
    LastLba,
    Attributes,
    Name,
}

#[derive(Arbitrary, Debug, Clone)]
pub enum Edit {
    Header { backup: bool, field: HeaderField, value: Value },
    Entry { backup: bool, index: u16, field: EntryField, value: Value },
    /// The whole backup header copied over the primary's place or the
    /// reverse (a stale copy).
    Swap { to_backup: bool },
    Bytes(Bytes),
}

/// Known type GUIDs (on-disk byte order), for type edits.
const TYPES: [[u8; 16]; 4] = [
    // Linux filesystem 0FC63DAF-8483-4772-8E79-3D69D8477DE4
    [0xAF, 0x3D, 0xC6, 0x0F, 0x83, 0x84, 0x72, 0x47, 0x8E, 0x79, 0x3D, 0x69, 0xD8, 0x47, 0x7D, 0xE4],
    // EFI System C12A7328-F81F-11D2-BA4B-00A0C93EC93B
    [0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11, 0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B],
    // Linux LVM E6D6D379-F507-44C2-A23C-238F2A3DF928
    [0x79, 0xD3, 0xD6, 0xE6, 0x07, 0xF5, 0xC2, 0x44, 0xA2, 0x3C, 0x23, 0x8F, 0x2A, 0x3D, 0xF9, 0x28],
    // BIOS boot 21686148-6449-6E6F-744E-656564454649
    [0x48, 0x61, 0x68, 0x21, 0x49, 0x64, 0x6F, 0x6E, 0x74, 0x4E, 0x65, 0x65, 0x64, 0x45, 0x46, 0x49],
];

impl Edit {
    pub fn apply(&self, disk: &mut Disk, l: &Layout) {
        let ss = l.sector;
        match self {
            Edit::Header { backup, field, value } => {
                let h = l.headers[usize::from(*backup)];
                let (off, w) = field.at();
                let unit = match field {
                    HeaderField::MyLba
                    | HeaderField::AlternateLba
                    | HeaderField::FirstUsable
                    | HeaderField::LastUsable
                    | HeaderField::EntriesLba => ss,
                    _ => 1,
                };
                let v = value.resolve(disk, unit, &l.anchors);
                if matches!(field, HeaderField::Signature) && v < 2 {
                    disk.write(h, if v == 0 { b"EFI PART" } else { b"EFI PARU" });
                } else {
                    disk.put_le(h + off, w, v);
                }
            }
            Edit::Entry { backup, index, field, value } => {
                let h = l.headers[usize::from(*backup)];
                let arr = disk.le(h + 72, 8).saturating_mul(ss);
                let esz = disk.le(h + 84, 4).clamp(128, 4096);
                let e = arr.saturating_add(u64::from(*index % 256) * esz);
                match field {
                    EntryField::TypeGuid(t) => disk.write(e, &TYPES[*t as usize % TYPES.len()]),
                    EntryField::UniqueGuid => {
                        let v = value.resolve(disk, 1, &l.anchors);
                        disk.put_le(e + 16, 8, v)
                    }
                    EntryField::FirstLba => {
                        let v = value.resolve(disk, ss, &l.anchors);
                        disk.put_le(e + 32, 8, v)
                    }
                    EntryField::LastLba => {
                        let v = value.resolve(disk, ss, &l.anchors);
                        disk.put_le(e + 40, 8, v)
                    }
                    EntryField::Attributes => {
                        let v = value.resolve(disk, 1, &l.anchors);
                        disk.put_le(e + 48, 8, v)
                    }
                    EntryField::Name => {
                        let v = value.resolve(disk, 1, &l.anchors);
                        disk.put_le(e + 56, 8, v)
                    }
                }
            }
            Edit::Swap { to_backup } => {
                let (from, to) = if *to_backup {
                    (l.headers[0], l.headers[1])
                } else {
                    (l.headers[1], l.headers[0])
                };
                let h = disk.get(from, 512);
                disk.write(to, &h);
            }
            Edit::Bytes(b) => b.apply(disk, &l.anchors),
        }
    }
}

/// Recomputes the entry-array CRC and the header CRC of both copies as
/// their (edited) fields describe them.
pub fn reseal(disk: &mut Disk, l: &Layout) {
    for h in l.headers {
        if h + 92 > disk.len() {
            continue;
        }
        let arr = disk.le(h + 72, 8).saturating_mul(l.sector);
        let n = disk.le(h + 80, 4).saturating_mul(disk.le(h + 84, 4));
        if n <= MAX_RESEAL && arr.checked_add(n).is_some_and(|e| e <= disk.len()) {
            let c = crc32(&disk.get(arr, n as usize));
            disk.put_le(h + 88, 4, u64::from(c));
        }
        let hs = disk.le(h + 12, 4).clamp(92, l.sector);
        let mut hdr = disk.get(h, hs as usize);
        hdr[16..20].fill(0);
        disk.put_le(h + 16, 4, u64::from(crc32(&hdr)));
    }
}

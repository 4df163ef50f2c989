//! MBR and EBR edits: the four entries of the MBR and of each EBR of the
//! base's logical chain, signatures, and new EBRs placed where a value
//! points, so chains can loop, fork, run far or point at the MBR.

use crate::{Bytes, Disk, Value};
use arbitrary::Arbitrary;
use imgcheck_core::ReadAt;

/// Where the MBR and the base's EBRs are, and the anchors (byte offsets)
/// values can point at.
#[derive(Debug, Clone)]
pub struct Layout {
    pub sector: u64,
    /// Byte offset of each table: the MBR, then each EBR of the chain.
    pub tables: Vec<u64>,
    /// First sector of the extended partition, when there is one.
    pub extended: Option<u64>,
    pub anchors: Vec<u64>,
}

const EXTENDED: [u8; 3] = [0x05, 0x0F, 0x85];

fn entry(disk: &Disk, table: u64, slot: u64) -> (u8, u64, u64) {
    let e = table + 446 + 16 * slot;
    (disk.le(e + 4, 1) as u8, disk.le(e + 8, 4), disk.le(e + 12, 4))
}

impl Layout {
    /// Walks the base's tables (bounded, loops cut).
    pub fn of(disk: &Disk, sector: u64) -> Layout {
        let mut tables = vec![0u64];
        let mut anchors = vec![0u64, 512, 4096, disk.len().saturating_sub(512)];
        let mut extended = None;
        for slot in 0..4 {
            let (ty, start, size) = entry(disk, 0, slot);
            if ty != 0 {
                anchors.push(start * sector);
                anchors.push((start + size) * sector);
            }
            if EXTENDED.contains(&ty) && extended.is_none() {
                extended = Some(start);
            }
        }
        if let Some(ext) = extended {
            let mut at = ext;
            for _ in 0..32 {
                let off = at * sector;
                if tables.contains(&off) || off + 512 > disk.len() {
                    break;
                }
                tables.push(off);
                anchors.push(off);
                let (_, lstart, _) = entry(disk, off, 0);
                anchors.push(off + lstart * sector);
                let (ty, next, _) = entry(disk, off, 1);
                if ty == 0 || next == 0 {
                    break;
                }
                at = ext + next;
            }
        }
        Layout { sector, tables, extended, anchors }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Field {
    Status,
    Type(u8),
    Start,
    Sectors,
    ChsFirst,
    ChsLast,
}

#[derive(Arbitrary, Debug, Clone)]
pub enum Edit {
    /// Table 0 is the MBR, n the n-th EBR of the base's chain.
    Entry { table: u8, slot: u8, field: Field, value: Value },
    Signature { table: u8, good: bool },
    /// A new EBR at `at` (in sectors): a logical partition and a link.
    NewEbr { at: Value, ty: u8, start: Value, size: Value, link: Value, from: u8 },
    Bytes(Bytes),
}

impl Edit {
    pub fn apply(&self, disk: &mut Disk, l: &Layout) {
        let ss = l.sector;
        let ext = l.extended.unwrap_or(0);
        match self {
            Edit::Entry { table, slot, field, value } => {
                let t = l.tables[*table as usize % l.tables.len()];
                let e = t + 446 + 16 * u64::from(slot % 4);
                // Anchors are absolute; an EBR's start is relative to the
                // EBR (slot 0) or to the extended partition (its link).
                let rel = match (t, slot % 4) {
                    (0, _) => 0,
                    (_, 0) => t / ss,
                    _ => ext,
                };
                let v = |d: &Disk| {
                    let raw = value.resolve(d, ss, &l.anchors);
                    if matches!(value, Value::Anchor(_) | Value::AnchorPlus(..)) {
                        raw.wrapping_sub(rel)
                    } else {
                        raw
                    }
                };
                match field {
                    Field::Status => {
                        let x = v(disk);
                        disk.put_le(e, 1, x)
                    }
                    Field::Type(t) => disk.put_le(e + 4, 1, u64::from(*t)),
                    Field::Start => {
                        let x = v(disk);
                        disk.put_le(e + 8, 4, x)
                    }
                    Field::Sectors => {
                        let x = v(disk);
                        disk.put_le(e + 12, 4, x)
                    }
                    Field::ChsFirst => {
                        let x = v(disk);
                        disk.put_le(e + 1, 3, x)
                    }
                    Field::ChsLast => {
                        let x = v(disk);
                        disk.put_le(e + 5, 3, x)
                    }
                }
            }
            Edit::Signature { table, good } => {
                let t = l.tables[*table as usize % l.tables.len()];
                disk.put_le(t + 510, 2, if *good { 0xAA55 } else { 0 });
            }
            Edit::NewEbr { at, ty, start, size, link, from } => {
                let at = at.resolve(disk, ss, &l.anchors);
                let off = at.saturating_mul(ss);
                let mut b = [0u8; 512];
                b[446 + 4] = if *ty == 0 { 0x83 } else { *ty };
                b[446 + 8..446 + 12]
                    .copy_from_slice(&(start.resolve(disk, ss, &l.anchors) as u32).to_le_bytes());
                b[446 + 12..446 + 16]
                    .copy_from_slice(&(size.resolve(disk, ss, &l.anchors) as u32).to_le_bytes());
                let next = link.resolve(disk, ss, &l.anchors);
                if next != 0 {
                    b[462 + 4] = 0x05;
                    b[462 + 8..462 + 12]
                        .copy_from_slice(&(next.wrapping_sub(ext) as u32).to_le_bytes());
                    b[462 + 12..462 + 16].copy_from_slice(&1u32.to_le_bytes());
                }
                b[510] = 0x55;
                b[511] = 0xAA;
                disk.write(off, &b);
                // Link an existing table to it, so the chain reaches it.
                let t = l.tables[*from as usize % l.tables.len()];
                if t != 0 {
                    let e = t + 462;
                    disk.put_le(e + 4, 1, 0x05);
                    disk.put_le(e + 8, 4, at.wrapping_sub(ext));
                    disk.put_le(e + 12, 4, 1);
                }
            }
            Edit::Bytes(b) => b.apply(disk, &l.anchors),
        }
    }
}

/// Reads back an entry (for targets that want to assert on the result).
pub fn read_entry(disk: &Disk, table: u64, slot: u64) -> (u8, u64, u64) {
    let _ = disk.len();
    entry(disk, table, slot)
}

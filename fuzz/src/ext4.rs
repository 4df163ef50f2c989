//! ext4 edits: superblock fields by name, group descriptors, inodes of
//! group 0 (the root, the journal, lost+found, the first files) word by
//! word — which covers their extent headers, indexes and leaves — and
//! blocks the base uses (directories, the journal, extent nodes), with
//! the superblock, descriptor and inode checksums re-sealed when asked.

use crate::{Bytes, Disk, Value, crc32c_raw};
use arbitrary::Arbitrary;

const SB: u64 = 1024;
const METADATA_CSUM: u64 = 0x400;
const GDT_CSUM: u64 = 0x10;
const CSUM_SEED: u64 = 0x2000;
const BIT64: u64 = 0x80;

/// The base filesystem's geometry and the blocks values can point at.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Where the filesystem starts on the disk.
    pub start: u64,
    pub bs: u64,
    pub groups: u64,
    pub desc_size: u64,
    pub gdt: u64,
    pub inode_size: u64,
    pub ipg: u64,
    /// Byte offset (on the disk) of group 0's inode table.
    pub itable: u64,
    pub anchors: Vec<u64>,
}

impl Layout {
    pub fn of(disk: &Disk, start: u64) -> Option<Layout> {
        let sb = start + SB;
        if disk.le(sb + 0x38, 2) != 0xEF53 {
            return None;
        }
        let log = disk.le(sb + 0x18, 4);
        if log > 6 {
            return None;
        }
        let bs = 1024u64 << log;
        let bpg = disk.le(sb + 0x20, 4).max(1);
        let blocks = disk.le(sb + 4, 4) | (disk.le(sb + 0x150, 4) << 32);
        let groups = blocks.div_ceil(bpg).min(1 << 16);
        let incompat = disk.le(sb + 0x60, 4);
        let desc_size = if incompat & BIT64 != 0 { disk.le(sb + 0xFE, 2).clamp(32, 1024) } else { 32 };
        let fdb = disk.le(sb + 0x14, 4);
        let gdt = start + (fdb + 1) * bs;
        let inode_size = match disk.le(sb + 0x58, 2) {
            0 => 128,
            n => n.clamp(128, bs),
        };
        let ipg = disk.le(sb + 0x28, 4);
        let blk = |d: u64, off: u64| disk.le(d + off, 4) | if desc_size >= 64 { disk.le(d + off + 0x20, 4) << 32 } else { 0 };
        let itable = start + blk(gdt, 8).saturating_mul(bs);
        let mut anchors = vec![start, sb, gdt, start + blk(gdt, 0) * bs, start + blk(gdt, 4) * bs, itable];
        // The first extent of a few inodes: root, journal, lost+found, files.
        for ino in [2u64, 7, 8, 11, 12, 13, 14] {
            let i = itable + (ino - 1) * inode_size;
            if disk.le(i + 0x28, 2) == 0xF30A {
                let e = i + 0x34;
                let lo = disk.le(e + 8, 4) | (disk.le(e + 6, 2) << 32);
                anchors.push(start + lo.saturating_mul(bs));
            } else {
                let b0 = disk.le(i + 0x28, 4);
                if b0 != 0 {
                    anchors.push(start + b0 * bs);
                }
            }
        }
        anchors.push(start + blocks.saturating_mul(bs));
        Some(Layout { start, bs, groups, desc_size, gdt, inode_size, ipg, itable, anchors })
    }

    fn inode(&self, n: u8) -> (u64, u64) {
        let list = [1u64, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
        let ino = list[n as usize % list.len()].min(self.ipg.max(1));
        (ino, self.itable + (ino - 1) * self.inode_size)
    }
}

/// Superblock fields by name (offset, width).
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum SbField {
    InodesCount,
    BlocksCount,
    BlocksCountHi,
    FreeBlocks,
    FreeInodes,
    FirstDataBlock,
    LogBlockSize,
    LogClusterSize,
    BlocksPerGroup,
    ClustersPerGroup,
    InodesPerGroup,
    Magic,
    State,
    RevLevel,
    FirstIno,
    InodeSize,
    FeatureCompat,
    FeatureIncompat,
    FeatureRoCompat,
    ReservedGdtBlocks,
    JournalInum,
    LastOrphan,
    DescSize,
    FirstMetaBg,
    LogGroupsPerFlex,
    MmpBlock,
    SnapshotInum,
    ErrorCount,
    QuotaInum(u8),
    BackupBgs(bool),
    OrphanFileInum,
    Raw(u16, u8),
}

impl SbField {
    fn at(self) -> (u64, usize) {
        match self {
            SbField::InodesCount => (0x0, 4),
            SbField::BlocksCount => (0x4, 4),
            SbField::BlocksCountHi => (0x150, 4),
            SbField::FreeBlocks => (0xC, 4),
            SbField::FreeInodes => (0x10, 4),
            SbField::FirstDataBlock => (0x14, 4),
            SbField::LogBlockSize => (0x18, 4),
            SbField::LogClusterSize => (0x1C, 4),
            SbField::BlocksPerGroup => (0x20, 4),
            SbField::ClustersPerGroup => (0x24, 4),
            SbField::InodesPerGroup => (0x28, 4),
            SbField::Magic => (0x38, 2),
            SbField::State => (0x3A, 2),
            SbField::RevLevel => (0x4C, 4),
            SbField::FirstIno => (0x54, 4),
            SbField::InodeSize => (0x58, 2),
            SbField::FeatureCompat => (0x5C, 4),
            SbField::FeatureIncompat => (0x60, 4),
            SbField::FeatureRoCompat => (0x64, 4),
            SbField::ReservedGdtBlocks => (0xCE, 2),
            SbField::JournalInum => (0xE0, 4),
            SbField::LastOrphan => (0xE8, 4),
            SbField::DescSize => (0xFE, 2),
            SbField::FirstMetaBg => (0x104, 4),
            SbField::LogGroupsPerFlex => (0x174, 1),
            SbField::MmpBlock => (0x168, 8),
            SbField::SnapshotInum => (0x180, 4),
            SbField::ErrorCount => (0x194, 4),
            SbField::QuotaInum(q) => (0x240 + 4 * u64::from(q % 2), 4),
            SbField::BackupBgs(b) => (0x24C + 4 * u64::from(b), 4),
            SbField::OrphanFileInum => (0x280, 4),
            SbField::Raw(o, w) => (u64::from(o % 1020), usize::from(w % 4) + 1),
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Width {
    W1,
    W2,
    W4,
    W8,
}

impl Width {
    fn bytes(self) -> usize {
        match self {
            Width::W1 => 1,
            Width::W2 => 2,
            Width::W4 => 4,
            Width::W8 => 8,
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
pub enum Edit {
    Super { field: SbField, value: Value },
    /// A feature bit set or cleared.
    Feature { word: u8, bit: u8, set: bool },
    Group { group: u16, off: u8, width: Width, value: Value, blocks: bool },
    /// Inode `n` (of group 0) at byte `off` of its first 160.
    Inode { n: u8, off: u8, width: Width, value: Value, blocks: bool },
    /// Inode `n`'s i_block as an extent tree node: depth, entries, max,
    /// and entry `k`'s start or logical block.
    Extent { n: u8, what: ExtentField, k: u8, value: Value },
    /// A field of a block the base uses (directory, journal, extent node).
    Block { anchor: u8, off: u16, width: Width, value: Value, blocks: bool },
    Bytes(Bytes),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum ExtentField {
    Depth,
    Entries,
    Max,
    LogicalBlock,
    Len,
    Start,
}

impl Edit {
    pub fn apply(&self, disk: &mut Disk, l: &Layout) {
        let bs = l.bs;
        let unit = |blocks: bool| if blocks { bs } else { 1 };
        // Block numbers are relative to the filesystem's start.
        let val = |d: &Disk, v: &Value, blocks: bool| {
            let x = v.resolve(d, unit(blocks), &l.anchors);
            if blocks && matches!(v, Value::Anchor(_) | Value::AnchorPlus(..)) {
                x.saturating_sub(l.start / bs)
            } else {
                x
            }
        };
        match self {
            Edit::Super { field, value } => {
                let (off, w) = field.at();
                let blocks = matches!(field, SbField::MmpBlock | SbField::FirstDataBlock);
                let v = val(disk, value, blocks);
                disk.put_le(l.start + SB + off, w, v);
            }
            Edit::Feature { word, bit, set } => {
                let off = l.start + SB + 0x5C + 4 * u64::from(word % 3);
                let cur = disk.le(off, 4);
                let b = 1u64 << (bit % 32);
                disk.put_le(off, 4, if *set { cur | b } else { cur & !b });
            }
            Edit::Group { group, off, width, value, blocks } => {
                let g = u64::from(*group) % l.groups.max(1);
                let d = l.gdt + g * l.desc_size + u64::from(*off) % l.desc_size;
                let v = val(disk, value, *blocks);
                disk.put_le(d, width.bytes(), v);
            }
            Edit::Inode { n, off, width, value, blocks } => {
                let (_, at) = l.inode(*n);
                let v = val(disk, value, *blocks);
                disk.put_le(at + u64::from(*off % 160), width.bytes(), v);
            }
            Edit::Extent { n, what, k, value } => {
                let (_, at) = l.inode(*n);
                let h = at + 0x28;
                let e = h + 12 + 12 * u64::from(k % 4);
                match what {
                    ExtentField::Depth => {
                        let v = val(disk, value, false);
                        disk.put_le(h + 6, 2, v)
                    }
                    ExtentField::Entries => {
                        let v = val(disk, value, false);
                        disk.put_le(h + 2, 2, v)
                    }
                    ExtentField::Max => {
                        let v = val(disk, value, false);
                        disk.put_le(h + 4, 2, v)
                    }
                    ExtentField::LogicalBlock => {
                        let v = val(disk, value, false);
                        disk.put_le(e, 4, v)
                    }
                    ExtentField::Len => {
                        let v = val(disk, value, false);
                        disk.put_le(e + 4, 2, v)
                    }
                    ExtentField::Start => {
                        // Leaf: hi16 at +6, lo32 at +8; index: lo32 at +4, hi16 at +8.
                        let v = val(disk, value, true);
                        if disk.le(h + 6, 2) == 0 {
                            disk.put_le(e + 8, 4, v & 0xFFFF_FFFF);
                            disk.put_le(e + 6, 2, v >> 32);
                        } else {
                            disk.put_le(e + 4, 4, v & 0xFFFF_FFFF);
                            disk.put_le(e + 8, 2, v >> 32);
                        }
                    }
                }
            }
            Edit::Block { anchor, off, width, value, blocks } => {
                let b = l.anchors[*anchor as usize % l.anchors.len()];
                let v = val(disk, value, *blocks);
                disk.put_le(b + u64::from(*off) % bs, width.bytes(), v);
            }
            Edit::Bytes(b) => b.apply(disk, &l.anchors),
        }
    }
}

/// Re-seals the superblock checksum, the first descriptors' checksums and
/// the checksums of the inodes edits can reach, as the edited superblock
/// describes them.
pub fn reseal(disk: &mut Disk, l: &Layout) {
    let sb = l.start + SB;
    let ro = disk.le(sb + 0x64, 4);
    let incompat = disk.le(sb + 0x60, 4);
    let csum = ro & METADATA_CSUM != 0;
    let uuid = disk.get(sb + 0x68, 16);
    let seed = if incompat & CSUM_SEED != 0 {
        disk.le(sb + 0x270, 4) as u32
    } else {
        crc32c_raw(!0, &uuid)
    };
    let groups = l.groups.min(64);
    for g in 0..groups {
        let d = l.gdt + g * l.desc_size;
        let mut raw = disk.get(d, l.desc_size as usize);
        raw[0x1E..0x20].fill(0);
        let g32 = (g as u32).to_le_bytes();
        if csum {
            let c = crc32c_raw(crc32c_raw(seed, &g32), &raw) & 0xFFFF;
            disk.put_le(d + 0x1E, 2, u64::from(c));
        } else if ro & GDT_CSUM != 0 {
            let mut c = crc16(0xFFFF, &uuid);
            c = crc16(c, &g32);
            c = crc16(c, &raw[..0x1E]);
            if raw.len() > 0x20 {
                c = crc16(c, &raw[0x20..]);
            }
            disk.put_le(d + 0x1E, 2, u64::from(c));
        }
    }
    if csum {
        for n in 0..16u8 {
            let (ino, at) = l.inode(n);
            let mut raw = disk.get(at, l.inode_size as usize);
            let generation = disk.le(at + 0x64, 4) as u32;
            raw[0x7C..0x7E].fill(0);
            let hi = raw.len() > 128 && u16::from_le_bytes([raw[0x80], raw[0x81]]) >= 4;
            if hi {
                raw[0x82..0x84].fill(0);
            }
            let mut c = crc32c_raw(seed, &(ino as u32).to_le_bytes());
            c = crc32c_raw(c, &generation.to_le_bytes());
            c = crc32c_raw(c, &raw);
            disk.put_le(at + 0x7C, 2, u64::from(c & 0xFFFF));
            if hi {
                disk.put_le(at + 0x82, 2, u64::from(c >> 16));
            }
        }
        let s = disk.get(sb, 0x3FC);
        disk.put_le(sb + 0x3FC, 4, u64::from(crc32c_raw(!0, &s)));
    }
}

fn crc16(mut crc: u16, data: &[u8]) -> u16 {
    for &b in data {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xA001 } else { crc >> 1 };
        }
    }
    crc
}

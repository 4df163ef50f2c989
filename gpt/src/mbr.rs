//! The classic MBR at LBA 0: four entries, the boot signature, and the
//! extended/logical chain of EBRs. Also tells protective and hybrid MBRs
//! (GPT's) from classic ones.

use crate::tables::{Got, Unreadable, read_noted};
use crate::util::mul;
use imgcheck_core::bytes::{le16, le32, u8_at};
use imgcheck_core::{Finding, Hint, Layer, ReadAt, Space, Target};
use serde::Serialize;
use std::collections::HashSet;

/// Most logical partitions followed down an EBR chain. Linux numbers
/// logicals up to 256 in practice (sd: 15, but dm/loop more); a chain longer
/// than this is treated as corrupt rather than walked forever.
pub const MAX_LOGICAL_PARTITIONS: usize = 128;

/// The boot signature at byte 510.
pub const BOOT_SIGNATURE: u16 = 0xAA55;

/// Byte offset of the first of the four partition entries.
pub const ENTRIES_OFFSET: usize = 0x1BE;

/// The protective (GPT) partition type.
pub const TYPE_PROTECTIVE: u8 = 0xEE;

/// Whether a type byte marks an extended container (0x05 CHS, 0x0F LBA,
/// 0x85 Linux).
pub fn is_extended(t: u8) -> bool {
    matches!(t, 0x05 | 0x0F | 0x85)
}

/// One 16-byte MBR (or EBR) partition entry, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MbrEntry {
    /// 1-based slot (1..=4) in its sector.
    pub slot: u8,
    /// 0x80 active, 0x00 inactive, anything else invalid.
    pub status: u8,
    /// Partition type byte.
    pub os_type: u8,
    /// First sector (absolute for a primary entry).
    pub starting_lba: u32,
    /// Number of sectors; 0 means the slot is empty.
    pub size_in_lba: u32,
}

impl MbrEntry {
    fn parse(sector: &[u8], slot: u8) -> MbrEntry {
        let base =
            ENTRIES_OFFSET.saturating_add(usize::from(slot.saturating_sub(1)).saturating_mul(16));
        MbrEntry {
            slot,
            status: u8_at(sector, base),
            os_type: u8_at(sector, base.saturating_add(4)),
            starting_lba: le32(sector, base.saturating_add(8)),
            size_in_lba: le32(sector, base.saturating_add(12)),
        }
    }

    /// A slot in use (non-zero type and size).
    pub fn is_used(&self) -> bool {
        self.os_type != 0 && self.size_in_lba != 0
    }

    /// A slot the kernel makes a partition of (msdos.c skips only slots of
    /// size 0): type 0x00 with a size counts, as blkid and sfdisk list it.
    pub fn is_partition(&self) -> bool {
        self.size_in_lba != 0
    }

    /// Last sector, inclusive (start + size − 1).
    pub fn last_lba(&self) -> u64 {
        u64::from(self.starting_lba)
            .saturating_add(u64::from(self.size_in_lba))
            .saturating_sub(1)
    }
}

/// A logical partition inside the extended partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Logical {
    /// Partition number as Linux numbers it (5, 6, …).
    pub number: u32,
    /// LBA of the EBR that describes it.
    pub ebr_lba: u64,
    /// Type byte.
    pub os_type: u8,
    /// Status byte of its EBR entry.
    pub status: u8,
    /// Absolute first sector.
    pub start_lba: u64,
    /// Number of sectors.
    pub size_in_lba: u64,
}

/// What the MBR is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MbrKind {
    /// Only a 0xEE entry (GPT's guard).
    Protective,
    /// A 0xEE entry plus real entries mirroring GPT partitions.
    Hybrid,
    /// A classic DOS partition table.
    Classic,
    /// Boot signature present, no entry in use.
    Empty,
}

/// The MBR at LBA 0 and the logical partitions of its extended chain.
#[derive(Debug, Clone, Serialize)]
pub struct Mbr {
    /// Whether bytes 510..512 hold 55 AA.
    pub signature_ok: bool,
    /// u32 disk signature at 0x1B8.
    pub disk_signature: u32,
    /// The four entries, used or not.
    pub entries: Vec<MbrEntry>,
    /// Logical partitions in chain order.
    pub logicals: Vec<Logical>,
    /// Protective, hybrid, classic or empty.
    pub kind: MbrKind,
    /// Sector size the LBAs are counted in.
    pub sector_size: u64,
    /// Problems met while following the EBR chain.
    #[serde(skip)]
    pub load_findings: Vec<Finding>,
}

impl Mbr {
    /// The 0xEE entries.
    pub fn protective_entries(&self) -> impl Iterator<Item = &MbrEntry> {
        self.entries.iter().filter(|e| e.os_type == TYPE_PROTECTIVE)
    }

    /// Entries in use, excluding 0xEE.
    pub fn real_entries(&self) -> impl Iterator<Item = &MbrEntry> {
        self.entries
            .iter()
            .filter(|e| e.is_used() && e.os_type != TYPE_PROTECTIVE)
    }
}

/// Reads the MBR at LBA 0 of `r`; `None` when the disk has no 512 bytes
/// or they cannot be read ([`crate::parse`] reports which).
/// `sector_size` is the logical sector size LBAs are counted in. An EBR
/// that cannot be read is a `mbr.read.unreadable` load finding.
pub fn parse_mbr<R: ReadAt + ?Sized>(r: &R, sector_size: u64) -> Option<Mbr> {
    parse_mbr_noted(r, sector_size, &mut Vec::new())
}

/// [`parse_mbr`], noting a failed read of LBA 0 in `unread`.
pub(crate) fn parse_mbr_noted<R: ReadAt + ?Sized>(
    r: &R,
    sector_size: u64,
    unread: &mut Vec<Unreadable>,
) -> Option<Mbr> {
    let Got::Bytes(sector) =
        read_noted(r, 0, 512, 512, || "MBR (LBA 0)".into(), Layer::MBR, unread)
    else {
        return None;
    };
    let signature_ok = le16(&sector, 510) == BOOT_SIGNATURE;
    let entries: Vec<MbrEntry> = (1..=4u8).map(|s| MbrEntry::parse(&sector, s)).collect();
    let has_ee = entries.iter().any(|e| e.os_type == TYPE_PROTECTIVE);
    let used = entries
        .iter()
        .filter(|e| e.is_used() && e.os_type != TYPE_PROTECTIVE)
        .count();
    let kind = match (has_ee, used) {
        (true, 0) => MbrKind::Protective,
        (true, _) => MbrKind::Hybrid,
        (false, 0) => MbrKind::Empty,
        (false, _) => MbrKind::Classic,
    };
    let mut mbr = Mbr {
        signature_ok,
        disk_signature: le32(&sector, 0x1B8),
        entries,
        logicals: Vec::new(),
        kind,
        sector_size,
        load_findings: Vec::new(),
    };
    if signature_ok {
        follow_ebr_chain(r, &mut mbr);
    }
    Some(mbr)
}

fn follow_ebr_chain<R: ReadAt + ?Sized>(r: &R, mbr: &mut Mbr) {
    let ss = mbr.sector_size;
    let mut extended = mbr
        .entries
        .iter()
        .filter(|e| is_extended(e.os_type) && e.size_in_lba != 0);
    let Some(ext) = extended.next().copied() else {
        return;
    };
    if let Some(second) = extended.next() {
        mbr.load_findings.push(Finding::warning(
            "mbr.extended.multiple",
            Layer::MBR,
            entry_offset(second.slot),
            Space::Disk,
            format!(
                "MBR entries {} and {} are both extended partitions; only the first one's logical partitions are read",
                ext.slot, second.slot
            ),
        ));
    }
    let ext_start = u64::from(ext.starting_lba);
    let ext_last = ext.last_lba();
    let mut visited: HashSet<u64> = HashSet::new();
    let mut ebr_lba = ext_start;
    let mut number: u32 = 5;
    loop {
        if visited.len() >= MAX_LOGICAL_PARTITIONS {
            mbr.load_findings.push(Finding::error(
                "mbr.ebr.too_many",
                Layer::MBR,
                mul(ebr_lba, ss),
                Space::Disk,
                format!("the EBR chain has more than {MAX_LOGICAL_PARTITIONS} links; the rest is not followed"),
            ));
            return;
        }
        if !visited.insert(ebr_lba) {
            mbr.load_findings.push(Finding::error(
                "mbr.ebr.loop",
                Layer::MBR,
                mul(ebr_lba, ss),
                Space::Disk,
                format!(
                    "the EBR chain links back to the EBR at LBA {ebr_lba}, already visited: a loop after {} logical partitions",
                    mbr.logicals.len()
                ),
            ).with_hint(Hint::read_only("fdisk -l {disk}").on(Target::Disk).because("then rewrite the extended partition's links with fdisk or sfdisk, on a copy")));
            return;
        }
        let mut failed = Vec::new();
        let at = mul(ebr_lba, ss);
        let structure = || format!("EBR at LBA {ebr_lba} (logical partitions from here on)");
        let sector = match read_noted(r, at, 512, 512, structure, Layer::MBR, &mut failed) {
            Got::Bytes(b) => b,
            Got::Absent => {
                mbr.load_findings.push(Finding::error(
                    "mbr.ebr.unreadable",
                    Layer::MBR,
                    at,
                    Space::Disk,
                    format!("the EBR at LBA {ebr_lba} lies beyond the end of the disk"),
                ));
                return;
            }
            Got::Unreadable => {
                mbr.load_findings
                    .extend(failed.iter().map(Unreadable::finding));
                return;
            }
        };
        if le16(&sector, 510) != BOOT_SIGNATURE {
            // An extended partition whose first EBR was never written is
            // legitimately empty; a broken link further down is damage.
            if ebr_lba != ext_start || sector.iter().any(|&b| b != 0) {
                mbr.load_findings.push(Finding::error(
                    "mbr.ebr.signature",
                    Layer::MBR,
                    mul(ebr_lba, ss).saturating_add(510),
                    Space::Disk,
                    format!(
                        "the EBR at LBA {ebr_lba} has boot signature 0x{:04X}, expected 0xAA55; logical partitions from here on are lost",
                        le16(&sector, 510)
                    ),
                ));
            }
            return;
        }
        let e0 = MbrEntry::parse(&sector, 1);
        let e1 = MbrEntry::parse(&sector, 2);
        for extra in [MbrEntry::parse(&sector, 3), MbrEntry::parse(&sector, 4)] {
            if extra.os_type != 0 || extra.size_in_lba != 0 {
                mbr.load_findings.push(Finding::warning(
                    "mbr.ebr.extra_entry",
                    Layer::MBR,
                    mul(ebr_lba, ss).saturating_add(entry_offset(extra.slot)),
                    Space::Disk,
                    format!(
                        "the EBR at LBA {ebr_lba} has a non-empty entry {} (type 0x{:02X}); an EBR holds only a partition and a link",
                        extra.slot, extra.os_type
                    ),
                ));
            }
        }
        if e0.is_used() {
            let start = ebr_lba.saturating_add(u64::from(e0.starting_lba));
            mbr.logicals.push(Logical {
                number,
                ebr_lba,
                os_type: e0.os_type,
                status: e0.status,
                start_lba: start,
                size_in_lba: u64::from(e0.size_in_lba),
            });
            number = number.saturating_add(1);
        }
        if !(is_extended(e1.os_type) && e1.size_in_lba != 0) {
            return;
        }
        // The link is relative to the start of the primary extended partition.
        let next = ext_start.saturating_add(u64::from(e1.starting_lba));
        if next <= ext_start || next > ext_last {
            mbr.load_findings.push(Finding::error(
                "mbr.ebr.link_outside_extended",
                Layer::MBR,
                mul(ebr_lba, ss).saturating_add(entry_offset(2)),
                Space::Disk,
                format!(
                    "the EBR at LBA {ebr_lba} links to LBA {next}, outside the extended partition (LBA {}..={ext_last})",
                    ext_start.saturating_add(1)
                ),
            ));
            return;
        }
        ebr_lba = next;
    }
}

/// Byte offset of entry `slot` (1..=4) within its sector.
pub fn entry_offset(slot: u8) -> u64 {
    u64::from(slot.saturating_sub(1))
        .saturating_mul(16)
        .saturating_add(imgcheck_core::bytes::u64_of(ENTRIES_OFFSET))
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::as_conversions)]
mod tests {
    use super::*;
    use imgcheck_core::BytesReader;

    fn put_entry(d: &mut [u8], sector: usize, slot: usize, t: u8, start: u32, size: u32) {
        let b = sector * 512 + 0x1BE + (slot - 1) * 16;
        d[b + 4] = t;
        d[b + 8..b + 12].copy_from_slice(&start.to_le_bytes());
        d[b + 12..b + 16].copy_from_slice(&size.to_le_bytes());
        d[sector * 512 + 510] = 0x55;
        d[sector * 512 + 511] = 0xAA;
    }

    #[test]
    fn ebr_loop_is_bounded_and_reported() {
        let mut d = vec![0u8; 64 * 512];
        put_entry(&mut d, 0, 1, 0x05, 10, 40);
        put_entry(&mut d, 10, 1, 0x83, 1, 4);
        put_entry(&mut d, 10, 2, 0x05, 10, 10); // → EBR at 20
        put_entry(&mut d, 20, 1, 0x83, 1, 4);
        put_entry(&mut d, 20, 2, 0x05, 10, 10); // links to itself: ext_start + 10 = 20
        let m = parse_mbr(&BytesReader::new(d), 512).unwrap();
        assert_eq!(m.logicals.len(), 2);
        assert!(m.load_findings.iter().any(|f| f.code == "mbr.ebr.loop"));
    }

    #[test]
    fn ebr_chain_length_is_bounded() {
        // 200 EBRs, each linking to the next: more than the bound allows.
        let n = 200usize;
        let mut d = vec![0u8; (10 + 2 * n + 2) * 512];
        put_entry(&mut d, 0, 1, 0x05, 10, (2 * n + 2) as u32);
        for k in 0..n {
            let lba = 10 + 2 * k;
            put_entry(&mut d, lba, 1, 0x83, 1, 1);
            put_entry(&mut d, lba, 2, 0x05, (2 * (k + 1)) as u32, 2);
        }
        let m = parse_mbr(&BytesReader::new(d), 512).unwrap();
        assert_eq!(m.logicals.len(), MAX_LOGICAL_PARTITIONS);
        assert!(m.load_findings.iter().any(|f| f.code == "mbr.ebr.too_many"));
    }

    #[test]
    fn ebr_beyond_the_disk_is_reported() {
        let mut d = vec![0u8; 8 * 512];
        put_entry(&mut d, 0, 1, 0x0F, 100, 50);
        let m = parse_mbr(&BytesReader::new(d), 512).unwrap();
        assert!(m.logicals.is_empty());
        assert!(
            m.load_findings
                .iter()
                .any(|f| f.code == "mbr.ebr.unreadable")
        );
    }

    #[test]
    fn empty_extended_partition_is_not_damage() {
        let mut d = vec![0u8; 64 * 512];
        put_entry(&mut d, 0, 1, 0x05, 10, 40);
        let m = parse_mbr(&BytesReader::new(d), 512).unwrap();
        assert!(m.load_findings.is_empty() && m.logicals.is_empty());
    }

    #[test]
    fn garbage_never_panics() {
        for seed in 0u8..=255 {
            let d: Vec<u8> = (0..4096u32)
                .map(|i| (i as u8).wrapping_mul(seed).wrapping_add(seed))
                .collect();
            let _ = parse_mbr(&BytesReader::new(d), 512);
        }
    }
}

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
    /// Logical partitions whose EBRs (boot signature 55 AA, a sound
    /// entry) still lie in the extended partition past a break in the
    /// chain (a loop, a lost signature, a link outside it): no tool reads
    /// them, so the space they hold only looks free. Numbered as they
    /// would be if the chain were relinked to them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hidden: Vec<Logical>,
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
        hidden: Vec::new(),
    };
    if signature_ok {
        follow_ebr_chain(r, &mut mbr);
    }
    Some(mbr)
}

/// Sectors read one by one past a break in the EBR chain, looking for
/// EBRs that still hold logical partitions: 64 MiB of 512-byte sectors
/// (EBRs one track or one sector after the last partition's end, as
/// DOS-era tools put them, lie in it).
pub const HIDDEN_SCAN_SECTORS: u64 = 131_072;

/// Further 1 MiB-aligned sectors probed past that (where parted, fdisk and
/// sfdisk put EBRs today), so a large extended partition costs a bounded
/// number of reads.
pub const HIDDEN_ALIGNED_PROBES: u64 = 16_384;

fn follow_ebr_chain<R: ReadAt + ?Sized>(r: &R, mbr: &mut Mbr) {
    let mut visited = HashSet::new();
    let Some(((ext_start, ext_last), from)) = walk_ebr_chain(r, mbr, &mut visited) else {
        return;
    };
    find_hidden(r, mbr, ext_start, ext_last, from, &mut visited);
    let ss = mbr.sector_size;
    let Some(first) = mbr.hidden.first() else {
        return;
    };
    let (first_ebr, after) = (first.ebr_lba, mbr.logicals.last().map(|l| l.number));
    let list: Vec<String> = mbr
        .hidden
        .iter()
        .map(|l| {
            format!(
                "EBR at LBA {} → LBA {}..={} (type 0x{:02X})",
                l.ebr_lba,
                l.start_lba,
                l.start_lba.saturating_add(l.size_in_lba).saturating_sub(1),
                l.os_type
            )
        })
        .collect();
    let after = after.map_or_else(
        || "the extended partition's start".to_string(),
        |n| format!("partition {n}"),
    );
    mbr.load_findings.push(
        Finding::error(
            "mbr.ebr.hidden",
            Layer::MBR,
            mul(first_ebr, ss),
            Space::Disk,
            format!(
                "past the break in the EBR chain, {} EBR(s) with boot signature 55 AA still describe logical partitions that no tool reads: {}. They are hidden, not gone: the space after {after} is not free, and relinking the chain to the EBR at LBA {first_ebr} (on a copy) brings them back",
                mbr.hidden.len(),
                list.join("; ")
            ),
        )
        .with_hint(
            Hint::read_only(format!(
                "dd if={{disk}} bs=512 skip={first_ebr} count=1 status=none | od -A d -t x1 -j 446"
            ))
            .on(Target::Disk)
            .because("the first hidden EBR's entries, read without writing; relink the chain to it with sfdisk on a copy, never grow a partition over it"),
        ),
    );
}

/// The entry of an EBR sector at `lba` that describes a logical partition
/// lying in the extended partition `ext_start..=ext_last`, with its link
/// (0 for none), when the sector is a sound EBR: boot signature, entries 3
/// and 4 empty, a used non-extended entry 1, entry 2 empty or a link
/// inside the container.
fn sound_ebr(sector: &[u8], lba: u64, ext_start: u64, ext_last: u64) -> Option<(MbrEntry, u64)> {
    if le16(sector, 510) != BOOT_SIGNATURE {
        return None;
    }
    let tail = sector.get(ENTRIES_OFFSET.saturating_add(32)..510)?;
    if tail.iter().any(|&b| b != 0) {
        return None;
    }
    let e0 = MbrEntry::parse(sector, 1);
    let e1 = MbrEntry::parse(sector, 2);
    let start = lba.checked_add(u64::from(e0.starting_lba))?;
    let last = start
        .checked_add(u64::from(e0.size_in_lba))?
        .checked_sub(1)?;
    if !e0.is_used() || is_extended(e0.os_type) || e0.starting_lba == 0 || last > ext_last {
        return None;
    }
    let link_empty = sector
        .get(ENTRIES_OFFSET.saturating_add(16)..ENTRIES_OFFSET.saturating_add(32))
        .is_some_and(|b| b.iter().all(|&x| x == 0));
    if link_empty {
        return Some((e0, 0));
    }
    let next = ext_start.checked_add(u64::from(e1.starting_lba))?;
    (is_extended(e1.os_type) && e1.size_in_lba != 0 && next > ext_start && next <= ext_last)
        .then_some((e0, next))
}

/// Looks past a break in the EBR chain (from LBA `from` to the extended
/// partition's end) for EBRs that still describe logical partitions, and
/// follows each one's own links. Bounded: [`HIDDEN_SCAN_SECTORS`] sectors
/// read one by one, then [`HIDDEN_ALIGNED_PROBES`] 1 MiB-aligned ones, at
/// most [`MAX_LOGICAL_PARTITIONS`] found, each EBR visited once; sectors
/// inside a partition already known are not taken for EBRs.
fn find_hidden<R: ReadAt + ?Sized>(
    r: &R,
    mbr: &mut Mbr,
    ext_start: u64,
    ext_last: u64,
    from: u64,
    visited: &mut HashSet<u64>,
) {
    let ss = mbr.sector_size;
    if ss != 512 {
        // The scan's bounds count 512-byte sectors; 4Kn DOS disks with
        // broken chains are not searched.
        return;
    }
    let mut number = mbr
        .logicals
        .last()
        .map_or(5, |l| l.number.saturating_add(1));
    let mut covered: Vec<(u64, u64)> = mbr
        .logicals
        .iter()
        .map(|l| (l.start_lba, l.start_lba.saturating_add(l.size_in_lba)))
        .collect();
    let dense_end = from
        .saturating_add(HIDDEN_SCAN_SECTORS)
        .min(ext_last.saturating_add(1));
    let mut lba = from;
    let mut aligned_probes = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    while lba <= ext_last && mbr.hidden.len() < MAX_LOGICAL_PARTITIONS {
        if let Some(&(_, end)) = covered.iter().find(|&&(s, e)| lba >= s && lba < e) {
            lba = end;
            continue;
        }
        let candidate = if lba < dense_end {
            // One 1 MiB read serves the next 2048 sectors.
            let n = (dense_end.saturating_sub(lba)).min(2048);
            let len = usize::try_from(n.saturating_mul(512)).unwrap_or(0);
            let Some(chunk) = buf.get_mut(..len) else {
                return;
            };
            if r.read_exact_at(lba.saturating_mul(512), chunk).is_err() {
                return;
            }
            let found = chunk.chunks_exact(512).zip(lba..).find(|&(sec, at)| {
                !visited.contains(&at)
                    && !covered.iter().any(|&(s, e)| at >= s && at < e)
                    && sound_ebr(sec, at, ext_start, ext_last).is_some()
            });
            match found {
                Some((_, at)) => at,
                None => {
                    lba = lba.saturating_add(n);
                    continue;
                }
            }
        } else {
            aligned_probes = aligned_probes.saturating_add(1);
            if aligned_probes > HIDDEN_ALIGNED_PROBES {
                return;
            }
            let at = lba.div_ceil(2048).saturating_mul(2048);
            lba = at.saturating_add(2048);
            if at > ext_last || visited.contains(&at) {
                continue;
            }
            let mut sec = [0u8; 512];
            if r.read_exact_at(at.saturating_mul(512), &mut sec).is_err()
                || sound_ebr(&sec, at, ext_start, ext_last).is_none()
            {
                continue;
            }
            at
        };
        // Follow the survivor's own chain, each EBR once.
        let mut at = candidate;
        let mut resume = candidate.saturating_add(1);
        while at != 0 && mbr.hidden.len() < MAX_LOGICAL_PARTITIONS && visited.insert(at) {
            let mut sec = [0u8; 512];
            if r.read_exact_at(at.saturating_mul(512), &mut sec).is_err() {
                break;
            }
            let Some((e0, next)) = sound_ebr(&sec, at, ext_start, ext_last) else {
                break;
            };
            let start = at.saturating_add(u64::from(e0.starting_lba));
            let end = start.saturating_add(u64::from(e0.size_in_lba));
            mbr.hidden.push(Logical {
                number,
                ebr_lba: at,
                os_type: e0.os_type,
                status: e0.status,
                start_lba: start,
                size_in_lba: u64::from(e0.size_in_lba),
            });
            number = number.saturating_add(1);
            covered.push((start, end));
            resume = resume.max(end);
            at = next;
        }
        lba = resume;
    }
}

/// Follows the EBR chain into `mbr.logicals`; at a break (a loop, a lost
/// signature, a link outside the container, an unreadable EBR) returns
/// the extended partition's bounds and the LBA from which EBRs it no
/// longer reaches may lie.
fn walk_ebr_chain<R: ReadAt + ?Sized>(
    r: &R,
    mbr: &mut Mbr,
    visited: &mut HashSet<u64>,
) -> Option<((u64, u64), u64)> {
    let ss = mbr.sector_size;
    let mut extended = mbr
        .entries
        .iter()
        .filter(|e| is_extended(e.os_type) && e.size_in_lba != 0);
    let ext = extended.next().copied()?;
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
    let bounds = (ext_start, ext_last);
    // Past a break, EBRs the chain no longer reaches lie after the last
    // partition it still reads (or after the EBR that broke it).
    let broken = |mbr: &Mbr, at: u64| {
        let after = mbr
            .logicals
            .last()
            .map_or(0, |l| l.start_lba.saturating_add(l.size_in_lba));
        Some((bounds, after.max(at.saturating_add(1))))
    };
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
            return None;
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
            return broken(mbr, ext_start);
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
                return None;
            }
            Got::Unreadable => {
                mbr.load_findings
                    .extend(failed.iter().map(Unreadable::finding));
                return None;
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
                return broken(mbr, ebr_lba);
            }
            return None;
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
            return None;
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
            return broken(mbr, ebr_lba);
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
    fn ebrs_past_a_break_are_found_hidden_once() {
        let mut d = vec![0u8; 64 * 512];
        put_entry(&mut d, 0, 1, 0x05, 10, 50);
        put_entry(&mut d, 10, 1, 0x83, 1, 4);
        put_entry(&mut d, 10, 2, 0x05, 10, 10);
        put_entry(&mut d, 20, 1, 0x83, 1, 4);
        put_entry(&mut d, 20, 2, 0x05, 10, 10); // the self-loop breaks it
        // Inside logical 6 (LBA 21..=24): data, never an EBR.
        put_entry(&mut d, 22, 1, 0x83, 1, 2);
        // A 55 AA sector with four entries is no EBR.
        for slot in 1..=4 {
            put_entry(&mut d, 26, slot, 0x83, 1, 1);
        }
        put_entry(&mut d, 30, 1, 0x83, 2, 4);
        put_entry(&mut d, 30, 2, 0x05, 30, 10); // → EBR at 40
        put_entry(&mut d, 40, 1, 0x83, 2, 4);
        put_entry(&mut d, 40, 2, 0x05, 20, 10); // back to 30: visited once
        let m = parse_mbr(&BytesReader::new(d.clone()), 512).unwrap();
        let hidden: Vec<(u32, u64, u64)> = m
            .hidden
            .iter()
            .map(|l| (l.number, l.ebr_lba, l.start_lba))
            .collect();
        assert_eq!(hidden, [(7, 30, 32), (8, 40, 42)]);
        assert!(m.load_findings.iter().any(|f| f.code == "mbr.ebr.hidden"));
        // The same disk with the chain intact (20 links to 30): nothing
        // is hidden, and nothing is searched for.
        put_entry(&mut d, 20, 2, 0x05, 20, 10);
        put_entry(&mut d, 40, 2, 0, 0, 0);
        let m = parse_mbr(&BytesReader::new(d), 512).unwrap();
        assert_eq!(m.logicals.len(), 4);
        assert!(m.hidden.is_empty(), "{:?}", m.hidden);
        assert!(m.load_findings.is_empty(), "{:?}", m.load_findings);
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

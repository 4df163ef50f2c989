//! Reading every partition-table structure of a disk: the logical sector
//! size, the MBR, both GPT copies. Nothing here judges; [`crate::check()`]
//! does, so `parse` and `check` can each run (and be fuzzed) alone.

use crate::guid::{Guid, mbr_type_name};
use crate::header::{EntryArray, GptCopy, Role, SIGNATURE};
use crate::mbr::{Mbr, MbrKind, TYPE_PROTECTIVE, is_extended, parse_mbr};
use crate::util::{bytes, human, le32, mul, read_opt};
use imgcheck_core::ReadAt;
use serde::Serialize;

/// The logical sector sizes a disk image may use.
pub const SECTOR_SIZES: [u64; 2] = [512, 4096];

/// The logical sector size and how it was decided.
#[derive(Debug, Clone, Serialize)]
pub struct SectorSize {
    /// 512 or 4096.
    pub bytes: u64,
    /// The facts it rests on (`"EFI PART" at byte 4096`, …).
    pub evidence: Vec<String>,
    /// True when nothing on disk told: 512 is then an assumption (MBR
    /// convention), reported as such.
    pub assumed: bool,
    /// True when both sizes found some support.
    pub ambiguous: bool,
}

/// Which scheme the disk is partitioned with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// A GPT (at least one copy with its signature).
    Gpt,
    /// A classic MBR with partitions.
    Mbr,
    /// No partition table found.
    None,
}

impl Scheme {
    /// `gpt` / `mbr` / `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Gpt => "gpt",
            Scheme::Mbr => "mbr",
            Scheme::None => "none",
        }
    }
}

/// Everything read from the disk's partition-table areas.
#[derive(Debug, Clone, Serialize)]
pub struct Tables {
    /// Length of the disk in bytes.
    pub disk_size: u64,
    /// Logical sector size.
    pub sector: SectorSize,
    /// The MBR at LBA 0 (absent only on a disk shorter than 512 bytes).
    pub mbr: Option<Mbr>,
    /// The GPT header at LBA 1, when its signature is there.
    pub primary: Option<GptCopy>,
    /// The backup GPT, found at the last LBA or at primary.alternate_lba.
    pub backup: Option<GptCopy>,
    /// LBAs where a backup header was looked for.
    pub backup_searched: Vec<u64>,
    /// The search for a stale backup header, run when the primary is not
    /// valid and no backup sits at the last LBA or at its alternate_lba.
    pub backup_search: Option<BackupSearch>,
    /// The scheme the partition list comes from.
    pub scheme: Scheme,
}

/// A partition handed to the next layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Partition {
    /// Partition number (GPT entry index; MBR 1..4 primary, 5.. logical).
    pub number: u32,
    /// Start on the disk in bytes.
    pub start: u64,
    /// Size in bytes as the table claims (may run past the disk's end).
    pub size: u64,
    /// First LBA.
    pub first_lba: u64,
    /// Last LBA, inclusive.
    pub last_lba: u64,
    /// Type GUID (GPT) or `0xNN` (MBR).
    pub type_id: String,
    /// Human type name (`Linux filesystem`), or `unknown`.
    pub type_name: String,
    /// GPT partition name (empty for MBR).
    pub name: String,
    /// GPT unique partition GUID.
    pub unique_guid: Option<Guid>,
    /// Attribute names (GPT) or `bootable` (MBR active flag).
    pub attributes: Vec<String>,
}

/// A free (unpartitioned) range, in sectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FreeRange {
    /// First free LBA.
    pub first_lba: u64,
    /// Number of sectors.
    pub sectors: u64,
    /// Start in bytes.
    pub start: u64,
    /// Size in bytes.
    pub size: u64,
    /// True when the range lies outside the table's usable range (space a
    /// grown image added and the table never took in).
    pub beyond_table: bool,
}

fn sig_at<R: ReadAt + ?Sized>(r: &R, off: u64) -> bool {
    read_opt(r, off, 8, 8).is_some_and(|b| b.as_slice() == SIGNATURE)
}

/// Decides the logical sector size from where `"EFI PART"` sits, the
/// self-pointers of the headers found, and the protective MBR's size.
pub fn detect_sector_size<R: ReadAt + ?Sized>(r: &R) -> SectorSize {
    let len = r.len();
    let pmbr_size = read_opt(r, 0, 512, 512).and_then(|s| {
        (bytes(&s, 510, 2) == [0x55, 0xAA])
            .then(|| {
                (0..4usize).find_map(|i| {
                    let b = 0x1BEusize.saturating_add(i.saturating_mul(16));
                    (s.get(b.saturating_add(4)).copied() == Some(TYPE_PROTECTIVE))
                        .then(|| le32(&s, b.saturating_add(12)))
                })
            })
            .flatten()
    });
    let mut scored: Vec<(u64, u32, Vec<String>)> = Vec::new();
    for ss in SECTOR_SIZES {
        let mut score = 0u32;
        let mut ev = Vec::new();
        let last = len.checked_div(ss).unwrap_or(0).saturating_sub(1);
        if sig_at(r, ss) {
            score = score.saturating_add(4);
            ev.push(format!("primary \"EFI PART\" at byte {ss}"));
            if read_opt(r, ss.saturating_add(0x18), 8, 8).is_some_and(|b| b == 1u64.to_le_bytes()) {
                score = score.saturating_add(1);
            }
        }
        if len.is_multiple_of(ss) && len >= ss.saturating_mul(3) && sig_at(r, mul(last, ss)) {
            score = score.saturating_add(3);
            ev.push(format!("backup \"EFI PART\" at the last {ss}-byte sector"));
        }
        if let Some(size) = pmbr_size {
            let covers = u64::from(size).saturating_add(1).saturating_mul(ss);
            if covers == len || (size == u32::MAX && last > u64::from(u32::MAX)) {
                score = score.saturating_add(1);
                ev.push(format!(
                    "protective MBR size {size} × {ss} B matches the disk size ({})",
                    human(len)
                ));
            }
        }
        scored.push((ss, score, ev));
    }
    let supported = scored.iter().filter(|(_, s, _)| *s > 0).count();
    let best = scored
        .iter()
        .max_by_key(|(ss, s, _)| (*s, u64::MAX.saturating_sub(*ss)))
        .cloned();
    match best {
        Some((ss, s, ev)) if s > 0 => SectorSize {
            bytes: ss,
            evidence: ev,
            assumed: false,
            ambiguous: supported > 1,
        },
        _ => SectorSize {
            bytes: 512,
            evidence: vec![
                "no GPT signature at byte 512 or 4096 and no protective MBR size: 512 assumed"
                    .into(),
            ],
            assumed: true,
            ambiguous: false,
        },
    }
}

/// Most MBR partitions probed for contents when inferring the sector size.
const MAX_SIZE_PROBES: usize = 8;

/// An MBR does not record its sector size: count the partitions whose
/// start holds a known signature when LBAs are 512-byte and 4096-byte
/// sectors, and keep the size the contents agree with.
fn infer_mbr_sector_size<R: ReadAt + ?Sized>(r: &R, m: &Mbr, sector: &mut SectorSize) {
    let starts: Vec<u64> = m
        .entries
        .iter()
        .filter(|e| e.is_used() && !is_extended(e.os_type))
        .map(|e| u64::from(e.starting_lba))
        .take(MAX_SIZE_PROBES)
        .collect();
    let hits = |ss: u64| {
        starts
            .iter()
            .filter(|&&lba| crate::sig::identify_at(r, mul(lba, ss)).is_some())
            .count()
    };
    let (h512, h4k) = (hits(512), hits(4096));
    if h4k > h512 {
        *sector = SectorSize {
            bytes: 4096,
            evidence: vec![format!(
                "MBR partition starts hold filesystem signatures when counted in 4096-byte sectors ({h4k} of {}), not in 512-byte ones ({h512})",
                starts.len()
            )],
            assumed: false,
            ambiguous: h512 > 0,
        };
    } else if h512 > 0 {
        *sector = SectorSize {
            bytes: 512,
            evidence: vec![format!(
                "MBR partition starts hold filesystem signatures when counted in 512-byte sectors ({h512} of {})",
                starts.len()
            )],
            assumed: false,
            ambiguous: h4k > 0,
        };
    }
}

/// Most places probed for a stale backup GPT header. Each probe is one read
/// of at most 4 KiB. Every whole GiB is probed first (up to 4 TiB), then
/// 1 MiB boundaries alternately up from the start and down from the end,
/// so any original size that is a whole GiB, and originals up to about
/// 6 GiB or growth up to about 6 GiB in MiB steps, are covered.
pub const MAX_BACKUP_PROBES: u64 = 16384;

/// Where a stale backup header was looked for on a grown disk: the last
/// sector before each multiple of this.
pub const BACKUP_SEARCH_STEP: u64 = 1 << 20;

/// 1 MiB steps in a GiB: whole-GiB boundaries are probed first.
const MIB_PER_GIB: u64 = 1024;

/// How a backup header away from the last LBA was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupVia {
    /// At the last LBA the protective MBR's 0xEE entry covers (the disk's
    /// last LBA when it was partitioned).
    ProtectiveMbr,
    /// In the last sector before a 1 MiB boundary (the end of a disk whose
    /// size was a whole number of MiB; whole GiB are tried first).
    MibBoundary,
}

impl BackupVia {
    /// Words for a finding message.
    pub fn describe(self) -> &'static str {
        match self {
            BackupVia::ProtectiveMbr => "the last LBA the protective MBR's 0xEE entry covers",
            BackupVia::MibBoundary => "the last sector before a 1 MiB boundary",
        }
    }
}

/// The bounded search for a stale backup header.
#[derive(Debug, Clone, Serialize)]
pub struct BackupSearch {
    /// Places probed.
    pub probes: u64,
    /// Where the header was found, and how.
    pub found: Option<(u64, BackupVia)>,
    /// False when [`MAX_BACKUP_PROBES`] stopped the search before every
    /// candidate was probed.
    pub complete: bool,
}

/// Candidate (LBA, sector size) pairs for a stale backup header, PMBR first,
/// then 1 MiB boundaries alternately from the start and from the end.
fn stale_backup_candidates(
    disk_size: u64,
    mbr: Option<&Mbr>,
    sizes: &[u64],
) -> (Vec<(u64, u64, BackupVia)>, impl Iterator<Item = u64>) {
    let mut first = Vec::new();
    if let Some(m) = mbr.filter(|m| m.signature_ok) {
        for e in m.protective_entries() {
            if e.size_in_lba == u32::MAX {
                continue; // a disk over 2 TiB: the entry says nothing about the old size
            }
            for &ss in sizes {
                first.push((e.last_lba(), ss, BackupVia::ProtectiveMbr));
            }
        }
    }
    let n = disk_size.checked_div(BACKUP_SEARCH_STEP).unwrap_or(0);
    // Whole GiB first (cloud images are often made at 2, 8, 10 GiB), as far
    // as a quarter of the probes reach; then every MiB boundary not probed
    // yet: 1, n, 2, n-1, …
    let gib_phase = n
        .checked_div(MIB_PER_GIB)
        .unwrap_or(0)
        .min(MAX_BACKUP_PROBES.checked_div(4).unwrap_or(0));
    let gib = (1..=gib_phase).map(|g| g.saturating_mul(MIB_PER_GIB));
    let mib = (0..n)
        .map(move |i| {
            let half = i.checked_div(2).unwrap_or(0);
            if i.is_multiple_of(2) {
                half.saturating_add(1)
            } else {
                n.saturating_sub(half)
            }
        })
        .filter(move |k| {
            !(k.is_multiple_of(MIB_PER_GIB) && k.checked_div(MIB_PER_GIB).unwrap_or(0) <= gib_phase)
        });
    (first, gib.chain(mib))
}

/// Looks for a valid backup header away from the last LBA: the disk grew
/// (`qemu-img resize`, `truncate`) and its primary is gone, so neither the
/// last LBA nor the primary's alternate_lba leads to it. A candidate counts
/// only with its signature, a good CRC and my_lba equal to where it lies.
fn search_stale_backup<R: ReadAt + ?Sized>(
    r: &R,
    mbr: Option<&Mbr>,
    sector: &SectorSize,
    skip_lba: u64,
) -> (Option<(GptCopy, u64)>, BackupSearch) {
    let disk_size = r.len();
    let sizes: Vec<u64> = if sector.assumed {
        SECTOR_SIZES.to_vec()
    } else {
        vec![sector.bytes]
    };
    let mut search = BackupSearch {
        probes: 0,
        found: None,
        complete: true,
    };
    let valid_at = |lba: u64, ss: u64| {
        let last = disk_size.checked_div(ss).unwrap_or(0).saturating_sub(1);
        if lba < 2 || lba > last || (lba == skip_lba && ss == sector.bytes) {
            return None;
        }
        GptCopy::read(r, Role::Backup, lba, ss).filter(|c| c.header_valid(ss))
    };
    let (first, boundaries) = stale_backup_candidates(disk_size, mbr, &sizes);
    for (lba, ss, via) in first {
        search.probes = search.probes.saturating_add(1);
        if let Some(c) = valid_at(lba, ss) {
            search.found = Some((lba, via));
            return (Some((c, ss)), search);
        }
    }
    let window = SECTOR_SIZES.iter().copied().max().unwrap_or(4096);
    for k in boundaries {
        if search.probes >= MAX_BACKUP_PROBES {
            search.complete = false;
            break;
        }
        search.probes = search.probes.saturating_add(1);
        let end = mul(k, BACKUP_SEARCH_STEP);
        // One read serves both sector sizes: the last 4 KiB before the boundary.
        let Some(buf) = read_opt(r, end.saturating_sub(window), window, window) else {
            continue;
        };
        for &ss in &sizes {
            let at = usize::try_from(window.saturating_sub(ss)).unwrap_or(0);
            if bytes(&buf, at, 8) != SIGNATURE {
                continue;
            }
            let lba = end.checked_div(ss).unwrap_or(0).saturating_sub(1);
            if let Some(c) = valid_at(lba, ss) {
                search.found = Some((lba, BackupVia::MibBoundary));
                return (Some((c, ss)), search);
            }
        }
    }
    (None, search)
}

/// Reads the MBR and both GPT copies of `r`. Bounded: a fixed number of
/// sector reads, the EBR chain and the entry arrays capped by constants.
pub fn parse<R: ReadAt + ?Sized>(r: &R) -> Tables {
    let disk_size = r.len();
    let mut sector = detect_sector_size(r);
    let mut mbr = parse_mbr(r, sector.bytes);
    if sector.assumed
        && let Some(m) = &mbr
        && m.signature_ok
        && m.kind == MbrKind::Classic
    {
        infer_mbr_sector_size(r, m, &mut sector);
        if sector.bytes != 512 {
            mbr = parse_mbr(r, sector.bytes);
        }
    }
    let ss = sector.bytes;
    let mut primary = GptCopy::read(r, Role::Primary, 1, ss);
    let last = disk_size.checked_div(ss).unwrap_or(0).saturating_sub(1);
    let mut backup_searched = Vec::new();
    let mut backup = None;
    if last > 1 {
        backup_searched.push(last);
        backup = GptCopy::read(r, Role::Backup, last, ss);
    }
    if backup.is_none()
        && let Some(p) = &primary
    {
        let alt = p.header.alternate_lba;
        if alt > 1 && alt != last && alt < disk_size.checked_div(ss).unwrap_or(0) {
            backup_searched.push(alt);
            backup = GptCopy::read(r, Role::Backup, alt, ss);
        }
    }
    let mut backup_search = None;
    let primary_valid = primary.as_ref().is_some_and(|p| p.header_valid(ss));
    // Only where a GPT may have been: not under a classic MBR, nor on a
    // whole-disk filesystem (so a plain disk never pays for the probes).
    let gpt_possible = primary.is_some()
        || !(mbr
            .as_ref()
            .is_some_and(|m| m.signature_ok && m.kind == MbrKind::Classic)
            || crate::sig::identify_at(r, 0).is_some());
    if backup.is_none() && !primary_valid && gpt_possible {
        let (found, search) = search_stale_backup(r, mbr.as_ref(), &sector, last);
        if let Some((copy, found_ss)) = found {
            if found_ss != sector.bytes || sector.assumed {
                sector = SectorSize {
                    bytes: found_ss,
                    evidence: vec![format!(
                        "backup \"EFI PART\" with a valid CRC at byte {} whose my_lba {} counts {found_ss}-byte sectors",
                        mul(copy.lba, found_ss),
                        copy.lba
                    )],
                    assumed: false,
                    ambiguous: false,
                };
                if found_ss != ss {
                    mbr = parse_mbr(r, found_ss);
                    primary = GptCopy::read(r, Role::Primary, 1, found_ss);
                }
            }
            backup = Some(copy);
        }
        backup_search = Some(search);
    }
    let scheme = if primary.is_some() || backup.is_some() {
        Scheme::Gpt
    } else if mbr
        .as_ref()
        .is_some_and(|m| m.signature_ok && matches!(m.kind, MbrKind::Classic | MbrKind::Hybrid))
    {
        Scheme::Mbr
    } else {
        Scheme::None
    };
    Tables {
        disk_size,
        sector,
        mbr,
        primary,
        backup,
        backup_searched,
        backup_search,
        scheme,
    }
}

impl Tables {
    /// Disk size in logical sectors.
    pub fn disk_sectors(&self) -> u64 {
        self.disk_size.checked_div(self.sector.bytes).unwrap_or(0)
    }

    /// The header the partition list is taken from: the first with a valid
    /// header (primary first), else whichever has a signature.
    pub fn header(&self) -> Option<&GptCopy> {
        let ss = self.sector.bytes;
        [self.primary.as_ref(), self.backup.as_ref()]
            .into_iter()
            .flatten()
            .find(|c| c.header_valid(ss))
            .or(self.primary.as_ref())
            .or(self.backup.as_ref())
    }

    /// The entry array the partition list is taken from: the first with a
    /// good CRC under a valid header, else the chosen header's own.
    pub fn entries(&self) -> Option<&EntryArray> {
        let ss = self.sector.bytes;
        [self.primary.as_ref(), self.backup.as_ref()]
            .into_iter()
            .flatten()
            .filter(|c| c.header_valid(ss))
            .find_map(|c| c.entries.as_ref().filter(|e| e.crc_ok))
            .or_else(|| self.header().and_then(|c| c.entries.as_ref()))
    }

    /// Whether some GPT copy is usable (valid header and entries).
    pub fn gpt_valid(&self) -> bool {
        let ss = self.sector.bytes;
        [self.primary.as_ref(), self.backup.as_ref()]
            .into_iter()
            .flatten()
            .any(|c| c.valid(ss))
    }

    /// The partitions, from the GPT when there is one, else MBR primaries
    /// and logicals.
    pub fn partitions(&self) -> Vec<Partition> {
        let ss = self.sector.bytes;
        match self.scheme {
            Scheme::Gpt => self
                .entries()
                .map(|a| {
                    a.entries
                        .iter()
                        .map(|e| Partition {
                            number: e.index,
                            start: mul(e.starting_lba, ss),
                            size: mul(e.sectors(), ss),
                            first_lba: e.starting_lba,
                            last_lba: e.ending_lba,
                            type_id: e.type_guid.to_string(),
                            type_name: e.type_name.unwrap_or("unknown").to_string(),
                            name: e.name.clone(),
                            unique_guid: Some(e.unique_guid),
                            attributes: e.attribute_names(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            Scheme::Mbr => {
                let Some(m) = &self.mbr else {
                    return Vec::new();
                };
                let mut out: Vec<Partition> = m
                    .entries
                    .iter()
                    .filter(|e| {
                        e.is_used() && !is_extended(e.os_type) && e.os_type != TYPE_PROTECTIVE
                    })
                    .map(|e| {
                        mbr_partition(
                            u32::from(e.slot),
                            e.os_type,
                            e.status,
                            u64::from(e.starting_lba),
                            u64::from(e.size_in_lba),
                            ss,
                        )
                    })
                    .collect();
                out.extend(m.logicals.iter().map(|l| {
                    mbr_partition(
                        l.number,
                        l.os_type,
                        l.status,
                        l.start_lba,
                        l.size_in_lba,
                        ss,
                    )
                }));
                out
            }
            Scheme::None => Vec::new(),
        }
    }

    /// Unpartitioned ranges: inside the usable range (GPT) or the disk
    /// (MBR), and, for GPT, the space past the table's end on a grown disk.
    pub fn free_ranges(&self) -> Vec<FreeRange> {
        let ss = self.sector.bytes;
        let disk = self.disk_sectors();
        let (lo, hi, tail) = match self.scheme {
            Scheme::Gpt => {
                let Some(h) = self.header() else {
                    return Vec::new();
                };
                let hdr = &h.header;
                let hi = hdr.last_usable_lba.min(disk.saturating_sub(1));
                // The table's own end: its backup header (wherever it claims to be).
                let table_end = hdr.my_lba.max(hdr.alternate_lba);
                let tail = (table_end.saturating_add(1) < disk)
                    .then(|| (table_end.saturating_add(1), disk));
                (hdr.first_usable_lba, hi, tail)
            }
            Scheme::Mbr => (1, disk.saturating_sub(1), None),
            Scheme::None => return Vec::new(),
        };
        let mut used: Vec<(u64, u64)> = self
            .partitions()
            .iter()
            .filter(|p| p.last_lba >= p.first_lba)
            .map(|p| (p.first_lba, p.last_lba))
            .collect();
        if let (Scheme::Mbr, Some(m)) = (self.scheme, &self.mbr) {
            // The extended container and its EBRs are not free space.
            used.extend(
                m.entries
                    .iter()
                    .filter(|e| e.is_used() && is_extended(e.os_type))
                    .map(|e| (u64::from(e.starting_lba), e.last_lba())),
            );
        }
        used.sort_unstable();
        let mut out = Vec::new();
        let mut cursor = lo;
        for (a, b) in used {
            if a > cursor && cursor <= hi {
                let end = a.min(hi.saturating_add(1));
                push_free(&mut out, cursor, end, ss, false);
            }
            cursor = cursor.max(b.saturating_add(1));
        }
        if cursor <= hi {
            push_free(&mut out, cursor, hi.saturating_add(1), ss, false);
        }
        if let Some((a, b)) = tail {
            push_free(&mut out, a, b, ss, true);
        }
        out
    }
}

fn push_free(out: &mut Vec<FreeRange>, first: u64, end: u64, ss: u64, beyond_table: bool) {
    if end > first {
        let sectors = end.saturating_sub(first);
        out.push(FreeRange {
            first_lba: first,
            sectors,
            start: mul(first, ss),
            size: mul(sectors, ss),
            beyond_table,
        });
    }
}

fn mbr_partition(
    number: u32,
    os_type: u8,
    status: u8,
    start: u64,
    sectors: u64,
    ss: u64,
) -> Partition {
    Partition {
        number,
        start: mul(start, ss),
        size: mul(sectors, ss),
        first_lba: start,
        last_lba: start.saturating_add(sectors).saturating_sub(1),
        type_id: format!("0x{os_type:02x}"),
        type_name: mbr_type_name(os_type).to_string(),
        name: String::new(),
        unique_guid: None,
        attributes: if status == 0x80 {
            vec!["bootable".into()]
        } else {
            Vec::new()
        },
    }
}

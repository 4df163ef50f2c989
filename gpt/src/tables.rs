//! Reading every partition-table structure of a disk: the logical sector
//! size ([`detect_sector_size`]), the MBR, both GPT copies, and on a grown
//! disk the stale backup ([`BackupSearch`]). Nothing here judges;
//! [`crate::check()`] does, so `parse` and `check` can each run (and be
//! fuzzed) alone.

mod search;
mod sector;
mod sector0;
mod unreadable;

pub use search::{
    BACKUP_SEARCH_STEP, BackupSearch, BackupVia, MAX_BACKUP_PROBES, MAX_BACKUP_SKIPS,
};
pub use sector::{SECTOR_SIZES, SectorSize, detect_sector_size};
pub use sector0::{NotATable, entries_misfit, isohybrid};
pub(crate) use unreadable::{Got, read_noted};
pub use unreadable::{ReadFailure, Unreadable};

use crate::guid::{Guid, mbr_type_name};
use crate::header::{EntryArray, GptCopy, Role};
use crate::mbr::{Mbr, MbrKind, TYPE_PROTECTIVE, is_extended, parse_mbr_noted};
use crate::util::mul;
use imgcheck_core::ReadAt;
use search::search_stale_backup;
use sector::{detect, infer_mbr_sector_size};
use serde::Serialize;

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
    /// A valid backup header at the last LBA that is not this disk's
    /// (see [`Tables::foreign_at_end`]): kept apart from [`Tables::backup`]
    /// so that no check compares it with this disk's primary and no
    /// repair moves this disk's backup over it.
    pub foreign_backup: Option<ForeignBackup>,
    /// The search for a stale backup header, run when the primary is not
    /// valid and no backup sits at the last LBA or at its alternate_lba.
    pub backup_search: Option<BackupSearch>,
    /// The scheme the partition list comes from.
    pub scheme: Scheme,
    /// Structures on the disk whose reads failed (other than past its
    /// end), one per bad area: unknown, not absent.
    pub unreadable: Vec<Unreadable>,
    /// Why sector 0, which ends in 0x55AA, is not read as an MBR (a bare
    /// volume's boot sector, status bytes the kernel refuses, stray bytes
    /// in front of a filesystem).
    pub not_a_table: Option<NotATable>,
    /// The ISO 9660 (or UDF) volume an isohybrid MBR maps: its entry that
    /// starts at sector 0 is the ISO image itself, by design.
    pub isohybrid: Option<crate::sig::Signature>,
    /// A disk label other than MBR and GPT (Sun, SGI, BSD, Apple, Atari,
    /// DASD), looked for when neither is there: named, not checked.
    pub label: Option<crate::label::Label>,
    /// On a disk whose GPT ends before the disk does: the first byte found
    /// to hold data past the table's end (sampled, see [`data_past`]). A
    /// grown disk has zeros there; data means a smaller image may have
    /// been written over a larger disk, and growing the table would write
    /// over what survives.
    pub data_past_table: Option<u64>,
    /// GRUB 2's core.img where boot.img in sector 0 points (the MBR gap
    /// on an MBR disk): in use, never free space.
    #[serde(skip)]
    pub grub_core: Option<crate::grubcore::GrubCore>,
}

/// Blocks sampled past a GPT's end.
pub const TAIL_SAMPLES: u64 = 256;

/// The first offset in `[start, end)` of `r` found to hold a non-zero byte,
/// sampling [`TAIL_SAMPLES`] 4 KiB blocks spread evenly; ranges the reader
/// knows to be zero are not read, and a failed read counts as data
/// (unknown is not empty).
pub fn data_past<R: ReadAt + ?Sized>(r: &R, start: u64, end: u64) -> Option<u64> {
    const BLOCK: u64 = 4096;
    let end = end.min(r.len());
    let span = end.saturating_sub(start);
    if span == 0 || r.known_zero(start, span) {
        return None;
    }
    let step = (span / TAIL_SAMPLES).max(BLOCK);
    // The range's last block first: the end of a disk holds a backup GPT,
    // an md 0.90/1.0 superblock or NTFS's backup boot sector, which an
    // even sampling steps over.
    let tail = end.saturating_sub(BLOCK).max(start);
    if !r.known_zero(tail, end.saturating_sub(tail)) {
        match imgcheck_core::read_vec(r, tail, end.saturating_sub(tail), BLOCK) {
            Ok(b) if imgcheck_core::bytes::is_zero(&b) => {}
            _ => return Some(tail),
        }
    }
    let mut at = start;
    while at < end {
        let len = BLOCK.min(end.saturating_sub(at));
        if !r.known_zero(at, len) {
            match imgcheck_core::read_vec(r, at, len, BLOCK) {
                Ok(b) if imgcheck_core::bytes::is_zero(&b) => {}
                _ => return Some(at),
            }
        }
        at = at.saturating_add(step);
    }
    None
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

/// Reads the MBR and both GPT copies of `r`. Bounded: a fixed number of
/// sector reads, the EBR chain and the entry arrays capped by constants.
pub fn parse<R: ReadAt + ?Sized>(r: &R) -> Tables {
    let disk_size = r.len();
    let mut unread = Vec::new();
    let mut sector = detect(r, &mut unread);
    let mut mbr = parse_mbr_noted(r, sector.bytes, &mut unread);
    if sector.assumed
        && let Some(m) = &mbr
        && m.signature_ok
        && m.kind == MbrKind::Classic
    {
        infer_mbr_sector_size(r, m, &mut sector, &mut unread);
        if sector.bytes != 512 {
            mbr = parse_mbr_noted(r, sector.bytes, &mut unread);
        }
    }
    let not_a_table = mbr.as_ref().and_then(|m| {
        sector0::not_a_table(
            r,
            m,
            disk_size.checked_div(sector.bytes).unwrap_or(0),
            &mut unread,
        )
    });
    let isohybrid = mbr
        .as_ref()
        .filter(|m| m.signature_ok && not_a_table.is_none())
        .and_then(|m| isohybrid(r, m));
    let ss = sector.bytes;
    let mut primary = GptCopy::read_noted(r, Role::Primary, 1, ss, &mut unread);
    let last = disk_size.checked_div(ss).unwrap_or(0).saturating_sub(1);
    let mut backup_searched = Vec::new();
    let mut backup = None;
    let mut foreign_backup = None;
    if last > 1 {
        backup_searched.push(last);
        backup = GptCopy::read_noted(r, Role::Backup, last, ss, &mut unread);
        if let Some(b) = backup.take() {
            if not_this_disks(&b, ss) {
                let fb = ForeignBackup::of(r, b, ss);
                // Whose it is needs a second witness: this disk's primary
                // pointing elsewhere, or the other disk's primary where its
                // header says that disk starts. A lone backup whose my_lba
                // is wrong is this disk's damaged copy.
                let ours_elsewhere = primary
                    .as_ref()
                    .filter(|p| p.header_valid(ss))
                    .is_some_and(|p| p.header.alternate_lba != last);
                if ours_elsewhere || fb.primary_found {
                    foreign_backup = Some(fb);
                } else {
                    backup = Some(fb.copy);
                }
            } else {
                backup = Some(b);
            }
        }
    }
    if backup.is_none()
        && let Some(p) = &primary
    {
        let alt = p.header.alternate_lba;
        if alt > 1 && alt != last && alt < disk_size.checked_div(ss).unwrap_or(0) {
            backup_searched.push(alt);
            backup = GptCopy::read_noted(r, Role::Backup, alt, ss, &mut unread);
        }
    }
    let mut backup_search = None;
    let primary_valid = primary.as_ref().is_some_and(|p| p.header_valid(ss));
    // Only where a GPT may have been: not under a classic MBR, nor on a
    // whole-disk filesystem (so a plain disk never pays for the probes).
    // An unreadable start is unknown, so the search still runs.
    let classic = mbr
        .as_ref()
        .is_some_and(|m| m.signature_ok && m.kind == MbrKind::Classic)
        && not_a_table.is_none();
    let bare_volume = not_a_table.as_ref().is_some_and(|n| n.volume.is_some())
        || matches!(crate::sig::probe_at(r, 0), Ok(Some(_)));
    let gpt_possible = primary.is_some() || !(classic || bare_volume);
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
                    mbr = parse_mbr_noted(r, found_ss, &mut unread);
                    primary = GptCopy::read_noted(r, Role::Primary, 1, found_ss, &mut unread);
                }
            }
            backup = Some(copy);
        }
        backup_search = Some(search);
    }
    // An isohybrid ISO (xorriso -isohybrid-gpt-basdat, isohybrid --uefi)
    // carries a GPT beside a classic MBR for firmware that reads GPT, by
    // design; with no 0xEE entry Linux and libblkid read the MBR, so the
    // MBR is the table (the GPT is noted, not judged as the disk's).
    let iso_mbr = isohybrid.is_some()
        && mbr
            .as_ref()
            .is_some_and(|m| m.signature_ok && m.kind == MbrKind::Classic);
    let scheme = if (primary.is_some() || backup.is_some()) && !iso_mbr {
        Scheme::Gpt
    } else if not_a_table.is_none()
        && mbr
            .as_ref()
            .is_some_and(|m| m.signature_ok && matches!(m.kind, MbrKind::Classic | MbrKind::Hybrid))
    {
        Scheme::Mbr
    } else {
        Scheme::None
    };
    // A bare volume's boot sector is not a label either.
    let label = (scheme == Scheme::None && not_a_table.is_none())
        .then(|| crate::label::detect(r))
        .flatten();
    // Past the backup a GPT records (it ends the table), before the disk's end.
    let data_past_table = [
        primary.as_ref().map(|p| p.header.alternate_lba),
        backup.as_ref().map(|b| b.lba),
    ]
    .into_iter()
    .flatten()
    .filter(|&lba| lba < last)
    .max()
    .and_then(|lba| data_past(r, mul(lba.saturating_add(1), sector.bytes), disk_size));
    Tables {
        disk_size,
        sector,
        mbr,
        primary,
        backup,
        backup_searched,
        foreign_backup,
        backup_search,
        scheme,
        unreadable: unread,
        not_a_table,
        isohybrid,
        label,
        data_past_table,
        grub_core: crate::grubcore::locate(r),
    }
}

/// Whether the valid backup header `b` read at the last LBA may belong to
/// another disk: a backup of this disk says it sits where it was read
/// (my_lba). One whose CRC holds but whose my_lba is elsewhere was
/// written for a disk of another size: the last sector of a disk image
/// that ends here (two images concatenated, or one written inside this
/// one), when a second witness agrees (see [`parse`]). A header whose
/// CRC fails says nothing of whose it is and stays this disk's damaged
/// backup; so does one at its place under another disk GUID, which no
/// concatenation makes (the other disk would have to start at LBA 0).
fn not_this_disks(b: &GptCopy, ss: u64) -> bool {
    let h = &b.header;
    h.signature_ok && h.crc_ok() && h.header_size_ok(ss) && h.entry_size_ok() && h.my_lba != b.lba
}

/// Another disk's backup GPT header at this disk's last LBA.
#[derive(Debug, Clone, Serialize)]
pub struct ForeignBackup {
    /// The header as read (its LBAs count in the other disk's sectors).
    pub copy: GptCopy,
    /// Where the other disk starts on this one, when its header says it
    /// ends here: its my_lba counts from its own LBA 0.
    pub start: Option<u64>,
    /// Whether that disk's primary header is where it belongs (its LBA 1),
    /// under the same disk GUID and pointing to this header.
    pub primary_found: bool,
}

impl ForeignBackup {
    fn of<R: ReadAt + ?Sized>(r: &R, copy: GptCopy, ss: u64) -> ForeignBackup {
        let h = &copy.header;
        let start = copy
            .lba
            .checked_sub(h.my_lba)
            .filter(|_| h.my_lba < copy.lba && h.alternate_lba == 1)
            .map(|d| mul(d, ss));
        let primary_found = start.is_some_and(|at| {
            let mut sector = vec![0u8; usize::try_from(ss).unwrap_or(512)];
            r.read_exact_at(at.saturating_add(ss), &mut sector).is_ok() && {
                let p = crate::header::GptHeader::parse(&sector);
                p.signature_ok
                    && p.crc_ok()
                    && p.my_lba == 1
                    && p.alternate_lba == h.my_lba
                    && p.disk_guid == h.disk_guid
            }
        });
        ForeignBackup {
            copy,
            start,
            primary_found,
        }
    }
}

impl Tables {
    /// The other disk's backup header at the last LBA
    /// ([`Tables::foreign_backup`]).
    pub fn foreign_at_end(&self) -> Option<&ForeignBackup> {
        self.foreign_backup.as_ref()
    }

    /// A valid backup header at the last LBA that the primary does not
    /// point to (its alternate_lba is short of the end): two tables, one
    /// written for this whole disk and one for a smaller one. A disk that
    /// grew keeps its only backup at the old end and nothing at the new
    /// one; a table at the new end means a smaller image's table was
    /// written over the start of a disk partitioned at its full size.
    pub fn other_table_at_end(&self) -> Option<(&GptCopy, &GptCopy)> {
        let ss = self.sector.bytes;
        let last = self.disk_sectors().checked_sub(1)?;
        let p = self.primary.as_ref().filter(|p| p.header_valid(ss))?;
        let b = self
            .backup
            .as_ref()
            .filter(|b| b.lba == last && b.header_valid(ss) && b.header.alternate_lba == 1)?;
        (p.header.alternate_lba < last).then_some((p, b))
    }

    /// Whether the last LBA holds another table's backup header (the
    /// victim's of [`Tables::other_table_at_end`], or another disk's of
    /// [`Tables::foreign_at_end`]): `sgdisk -e` would write this table's
    /// backup over it.
    pub fn end_not_ours(&self) -> bool {
        self.other_table_at_end().is_some() || self.foreign_at_end().is_some()
    }

    /// The valid primary was written for a larger disk than this one (its
    /// backup would lie past the end): the image was truncated or shrunk
    /// under its table, so its tail, with the backup and the end of the
    /// last partitions, is missing. Rewriting the backup or the protective
    /// MBR to the smaller size would put the table over partition data.
    pub fn cut_short(&self) -> bool {
        let ss = self.sector.bytes;
        self.primary
            .as_ref()
            .filter(|p| p.header_valid(ss))
            .is_some_and(|p| p.header.alternate_lba >= self.disk_sectors())
    }

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

    /// Whether a read of any byte of `offset..offset + len` failed: the
    /// structure there is unknown, and no check may call it absent.
    pub fn unreadable_at(&self, offset: u64, len: u64) -> bool {
        self.unreadable.iter().any(|u| u.overlaps(offset, len))
    }

    /// Whether the only GPT copy is a stale backup found by searching the
    /// disk (the primary is gone and the disk grew): a tool that "repairs"
    /// the table from where it expects the backup (`sgdisk -e`) sees none
    /// and writes an empty one.
    pub fn only_stale_backup(&self) -> bool {
        self.backup.is_some()
            && self
                .backup_search
                .as_ref()
                .is_some_and(|s| s.found.is_some())
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
                        e.is_partition() && !is_extended(e.os_type) && e.os_type != TYPE_PROTECTIVE
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
            // Another label's partitions, where its layout is listed;
            // the entries that stand for the whole disk are not contents.
            Scheme::None => self
                .label
                .iter()
                .flat_map(|l| l.partitions.iter().filter(|p| !p.whole))
                .map(|p| Partition {
                    number: p.number,
                    start: p.start,
                    size: p.size,
                    first_lba: p.start.checked_div(ss).unwrap_or(0),
                    last_lba: p
                        .start
                        .saturating_add(p.size)
                        .checked_div(ss)
                        .unwrap_or(0)
                        .saturating_sub(1),
                    type_id: p.type_name.clone(),
                    type_name: p.type_name.clone(),
                    name: p.name.clone(),
                    unique_guid: None,
                    attributes: Vec::new(),
                })
                .collect(),
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
                // Entries that could not be read say nothing of what is
                // used: no range is free then, it is unknown.
                if self.entries().is_none() {
                    return Vec::new();
                }
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
        if let Some(g) = self.grub_core
            && let Some(first) = g.start.checked_div(ss)
        {
            // GRUB's embedded core.img (in the MBR gap): in use.
            let last = g.start.saturating_add(g.len).div_ceil(ss).saturating_sub(1);
            used.push((first, last));
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

//! The bounded search for the backup GPT header a grown disk leaves
//! behind, away from the last LBA where every tool looks for it.

use super::SECTOR_SIZES;
use super::sector::SectorSize;
use super::unreadable::{Got, Unreadable, read_noted};
use crate::header::{GptCopy, Role, SIGNATURE};
use crate::mbr::Mbr;
use crate::util::mul;
use imgcheck_core::bytes::{bytes, u64_of, usize_of};
use imgcheck_core::{Layer, ReadAt};
use serde::Serialize;

/// Most places probed for a stale backup GPT header. Each probe is one read
/// of at most 4 KiB. Every whole GiB is probed first (up to 4 TiB), then
/// 1 MiB boundaries alternately up from the start and down from the end,
/// so any original size that is a whole GiB, and originals up to about
/// 6 GiB or growth up to about 6 GiB in MiB steps, are covered.
pub const MAX_BACKUP_PROBES: u64 = 16384;
/// Boundaries the search passes over unread because the reader knows them
/// to be zero. Each still costs a lookup, so they are bounded too: a
/// 128 PiB qcow2 whose L1 entries all name one mostly empty L2 table has
/// 2^37 boundaries, and passing them one by one took minutes (the
/// hostile corpus' qcow2-one-l2-for-all-2m).
pub const MAX_BACKUP_SKIPS: u64 = 1 << 16;

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
    /// Places whose reads failed (I/O error, a layer below, the work
    /// bound): what they hold is unknown.
    pub unreadable: u64,
    /// The first of those failures.
    pub first_unreadable: Option<Unreadable>,
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
pub(super) fn search_stale_backup<R: ReadAt + ?Sized>(
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
        unreadable: 0,
        first_unreadable: None,
    };
    // Failed reads, one per bad area: counted in `search`, not reported
    // one by one (a bad region of the disk may fail thousands of probes).
    let mut failed: Vec<Unreadable> = Vec::new();
    let valid_at = |lba: u64, ss: u64, failed: &mut Vec<Unreadable>| {
        let last = disk_size.checked_div(ss).unwrap_or(0).saturating_sub(1);
        if lba < 2 || lba > last || (lba == skip_lba && ss == sector.bytes) {
            return None;
        }
        GptCopy::read_noted(r, Role::Backup, lba, ss, failed).filter(|c| c.header_valid(ss))
    };
    let (first, boundaries) = stale_backup_candidates(disk_size, mbr, &sizes);
    for (lba, ss, via) in first {
        search.probes = search.probes.saturating_add(1);
        if let Some(c) = valid_at(lba, ss, &mut failed) {
            search.found = Some((lba, via));
            return (Some((c, ss)), search.with_failures(failed));
        }
    }
    let window = SECTOR_SIZES.iter().copied().max().unwrap_or(4096);
    // A disk that reads as zeros everywhere holds no stale header.
    if r.known_zero(0, disk_size.min(r.len())) {
        return (None, search.with_failures(failed));
    }
    let mut skipped = 0u64;
    for k in boundaries {
        // What the reader knows to be zero (a hole, an unallocated or
        // preallocated-but-unwritten qcow2 cluster) holds no header: not
        // read and not a probe, so an empty disk's search is complete and
        // costs what its data costs, not its size.
        let end = mul(k, BACKUP_SEARCH_STEP);
        if skipped >= MAX_BACKUP_SKIPS {
            search.complete = false;
            break;
        }
        if r.known_zero(end.saturating_sub(window), window) {
            skipped = skipped.saturating_add(1);
            continue;
        }
        if search.probes >= MAX_BACKUP_PROBES {
            search.complete = false;
            break;
        }
        search.probes = search.probes.saturating_add(1);
        // One read serves both sector sizes: the last 4 KiB before the boundary.
        let at = end.saturating_sub(window);
        let structure = || {
            format!(
                "last {window} bytes before the 1 MiB boundary at byte {end}, probed for a stale backup GPT header"
            )
        };
        let Got::Bytes(buf) = read_noted(r, at, window, window, structure, Layer::GPT, &mut failed)
        else {
            continue;
        };
        for &ss in &sizes {
            let at = usize_of(window.saturating_sub(ss));
            if bytes(&buf, at, 8) != SIGNATURE {
                continue;
            }
            let lba = end.checked_div(ss).unwrap_or(0).saturating_sub(1);
            if let Some(c) = valid_at(lba, ss, &mut failed) {
                search.found = Some((lba, BackupVia::MibBoundary));
                return (Some((c, ss)), search.with_failures(failed));
            }
        }
    }
    (None, search.with_failures(failed))
}

impl BackupSearch {
    fn with_failures(mut self, failed: Vec<Unreadable>) -> Self {
        self.unreadable = u64_of(failed.len());
        self.first_unreadable = failed.into_iter().next();
        self
    }
}

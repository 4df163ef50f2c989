//! imgcheck-gpt: reads and checks a disk's partition tables (classic MBR
//! with its logical chain, protective/hybrid MBR, both GPT copies), hands
//! out the partitions, names what they contain by signature, and, when no
//! valid table survives, finds the partitions again and proposes an
//! `sfdisk` script that recreates them.
//!
//! ```no_run
//! use imgcheck_core::FileReader;
//!
//! let disk = FileReader::open("disk.img")?;
//! let a = imgcheck_gpt::analyze(&disk);
//! println!("{} with {}-byte sectors", a.tables.scheme.as_str(), a.tables.sector.bytes);
//! for p in &a.partitions {
//!     let what = imgcheck_gpt::identify_at(&disk, p.start).map(|s| s.display);
//!     println!("{} at {} size {} {:?}", p.number, p.start, p.size, what);
//! }
//! for f in &a.findings {
//!     println!("{} {}: {}", f.severity, f.code, f.message);
//! }
//! if let Some(r) = &a.recovery {
//!     print!("{}", r.sfdisk_script);
//! }
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! [`parse()`] only reads and [`check()`] only judges, so either can be run (or
//! fuzzed) alone on a [`imgcheck_core::BytesReader`]; both are bounded on
//! any input (EBR chain, entry array and scan are capped by constants).

pub mod check;
pub mod grubcore;
pub mod guid;
pub mod header;
pub mod label;
pub mod mbr;
pub mod scan;
pub mod sig;
pub mod tables;
mod util;

pub use check::check;
pub use guid::Guid;
pub use header::{EntryArray, GptCopy, GptEntry, GptHeader, Role};
pub use mbr::{Logical, Mbr, MbrEntry, MbrKind};
pub use scan::{Found, Proposed, Recovery, ScanLimits, SizeFrom, scan, scan_from, sfdisk_script};
pub use sig::{
    Signature, boot_volume, holds_image_signature, identify, identify_at, image_signature,
    ntfs_backup_at, probe_at,
};
pub use tables::{
    BackupSearch, BackupVia, FreeRange, Partition, Scheme, SectorSize, Tables, parse,
};

use imgcheck_core::{Finding, Hint, Layer, ReadAt, Severity, Space, Target};
use serde::Serialize;

/// The message of `gpt.recovery.partitions_found` for `proposed`: each
/// partition with its start, size and what found it.
pub fn partitions_found_message(proposed: &[Proposed]) -> String {
    let list: Vec<String> = proposed
        .iter()
        .map(|p| {
            format!(
                "{} at byte {} ({}, found by its {})",
                p.fs,
                p.start,
                util::human(p.size),
                p.found_by
            )
        })
        .collect();
    format!(
        "no valid partition table survives, but {} partitions were found by their signatures: {}",
        proposed.len(),
        list.join(", ")
    )
}

/// The step that writes a proposed table (`script`, from
/// [`scan::sfdisk_script`]) to a disk of `ss`-byte sectors, on a copy:
/// sfdisk on the image for 512-byte sectors; through a loop device of
/// that sector size otherwise (sfdisk takes it from the device, and a
/// file is always 512).
pub fn recovery_hint(script: &str, ss: u64) -> Hint {
    if ss == 512 {
        Hint::writes(format!("sfdisk {{disk}} <<'EOF'\n{script}EOF"))
            .on(Target::Disk)
            .because("check the proposal, then on a copy of the image recreate the table")
    } else {
        Hint::writes(format!(
            "DEV=$(losetup -b {ss} -f --show {{disk}})\nsfdisk \"$DEV\" <<'EOF'\n{script}EOF\nlosetup -d \"$DEV\""
        ))
        .on(Target::Disk)
        .because(format!(
            "check the proposal, then on a copy of the image recreate the table through a {ss}-byte-sector loop device"
        ))
    }
}

impl Analysis {
    /// The findings that concern partition `number` (their
    /// [`Finding::place`] names it).
    pub fn findings_of(&self, number: u32) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(move |f| f.place.partition() == Some(number))
    }
}

/// Everything known about a disk's partitioning.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// What was read.
    pub tables: Tables,
    /// The partitions (GPT, or MBR primaries and logicals).
    pub partitions: Vec<Partition>,
    /// Unpartitioned ranges.
    pub free: Vec<FreeRange>,
    /// Every finding, load-time ones included. One about a single
    /// partition names it in its place (`[Partition(n)]`, see [`check()`]);
    /// the table's own have the root place.
    pub findings: Vec<Finding>,
    /// The signature scan, run when no valid table survives.
    pub recovery: Option<Recovery>,
}

/// [`parse()`] + [`check()`], and a signature scan when no valid table
/// survives, with default scan bounds.
pub fn analyze<R: ReadAt + ?Sized>(r: &R) -> Analysis {
    analyze_with(r, &ScanLimits::default())
}

/// [`analyze`] with explicit scan bounds.
pub fn analyze_with<R: ReadAt + ?Sized>(r: &R, limits: &ScanLimits) -> Analysis {
    let tables = parse(r);
    let mut findings = check::check(&tables);
    let ss = tables.sector.bytes;
    let any_header = [tables.primary.as_ref(), tables.backup.as_ref()]
        .into_iter()
        .flatten()
        .any(|c| c.header_valid(ss));
    let announced_gpt = tables
        .mbr
        .as_ref()
        .is_some_and(|m| m.signature_ok && m.kind == MbrKind::Protective);
    // Sectors of the table that could not be read: the table is unknown
    // there, not lost, and no step may write a new one over them.
    let last_lba = tables.disk_sectors().saturating_sub(1);
    let table_unreadable = tables.unreadable_at(0, ss)
        || tables.unreadable_at(ss, ss)
        || tables.unreadable_at(last_lba.saturating_mul(ss), ss);
    let start_unreadable = sig::probe_at(r, 0).is_err();
    let lost = match tables.scheme {
        Scheme::Gpt => !any_header,
        // A filesystem at byte 0 of a disk without a table is a whole-disk
        // filesystem, not a lost table: nothing to scan for.
        Scheme::None => announced_gpt || (tables.label.is_none() && identify_at(r, 0).is_none()),
        Scheme::Mbr => false,
    };
    let mut recovery = None;
    if lost {
        let rec = scan(r, ss, limits);
        let announced = tables.scheme == Scheme::Gpt
            || tables
                .mbr
                .as_ref()
                .is_some_and(|m| m.signature_ok && m.kind == MbrKind::Protective);
        if !rec.proposed.is_empty() {
            let unknown = table_unreadable || start_unreadable;
            let sev = if announced && !unknown {
                Severity::Error
            } else {
                Severity::Warning
            };
            findings.push(
                Finding::new(
                    sev,
                    "gpt.recovery.partitions_found",
                    Layer::GPT,
                    rec.proposed.first().map_or(0, |p| p.start),
                    Space::Disk,
                    partitions_found_message(&rec.proposed),
                )
                .with_hint(if unknown {
                    Hint::advice(
                        "the table's own sectors could not be read, so it is unknown, not lost: image the disk with ddrescue first and read the table from that image; write no new table over sectors that are unreadable rather than empty",
                    )
                } else {
                    recovery_hint(&rec.sfdisk_script, ss)
                }),
            );
        }
        if let Some((lba, entries)) = &rec.surviving_entries {
            findings.push(Finding::info(
                "gpt.recovery.entries_survive",
                Layer::GPT,
                lba.saturating_mul(ss),
                Space::Disk,
                format!(
                    "a GPT partition entry array without its header survives at LBA {lba} with {} used entries; the proposal takes their types, names and GUIDs",
                    entries.len()
                ),
            ));
        }
        if let Some(&first) = rec.unreadable.first() {
            findings.push(Finding::warning(
                "gpt.recovery.unreadable",
                Layer::GPT,
                first,
                Space::Disk,
                format!(
                    "the signature scan could not read {} of the offsets it probed (the first at byte {first}): what starts there is unknown, so the partitions found may not be all there are",
                    rec.unreadable.len()
                ),
            ));
        }
        if let Some(why) = &rec.stopped {
            findings.push(Finding::info(
                "gpt.recovery.scan_incomplete",
                Layer::GPT,
                rec.scanned_bytes,
                Space::Disk,
                format!("the signature scan {why}"),
            ));
        }
        recovery = Some(rec);
    }
    let partitions = tables.partitions();
    let free = tables.free_ranges();
    Analysis {
        tables,
        partitions,
        free,
        findings,
        recovery,
    }
}

//! The checks: every check of gdisk's Verify (numbered below as in the
//! reference list), libfdisk's sanity checks, and the ones those tools skip
//! or hide (load-time problems, shrunk disks, duplicate GUIDs, …).
//!
//! `check` is pure over [`Tables`]: it reads nothing, so it is cheap to
//! fuzz together with [`crate::parse`].
//!
//! | code | severity | what (gdisk Verify number) |
//! |---|---|---|
//! | `gpt.{primary,backup}_header.crc` | error | header CRC32 over header_size bytes (#1, #3) |
//! | `gpt.{primary,backup}_entries.crc` | error | entry array CRC32 (#2, #4) |
//! | `gpt.{primary,backup}_header.missing` | error | no `EFI PART` where the copy belongs |
//! | `gpt.{primary,backup}_header.my_lba` | error | self-pointer ≠ where it was read (#5) |
//! | `gpt.{primary,backup}_header.revision` / `.reserved` | warning | revision ≠ 1.0, reserved ≠ 0 |
//! | `gpt.{primary,backup}_header.header_size` / `.entry_size` | error | outside 92..=sector, not 128·2ⁿ |
//! | `gpt.{primary,backup}_header.entry_size_unusual` | warning | valid but ≠ 128 |
//! | `gpt.{primary,backup}_entries.too_large` / `.unreadable` | error | over the bound / past the disk |
//! | `gpt.backup_header.not_at_end` | warning | the disk grew: size difference, `sgdisk -e` (#6) |
//! | `gpt.backup_header.foreign` | warning | the last LBA holds a valid backup header of another disk (my_lba elsewhere, or another disk GUID where this disk's backup belongs): a disk image ending here; not read as this disk's backup, no writing step |
//! | `gpt.backup_header.found_by_search` | error | primary gone on a grown disk: the stale backup, found by a bounded search, is the only copy and no tool sees it |
//! | `gpt.backup_header.search_incomplete` | info | the stale-backup search hit [`crate::tables::MAX_BACKUP_PROBES`] (or passed [`crate::tables::MAX_BACKUP_SKIPS`] known-zero boundaries) |
//! | `gpt.headers.primary_lba_mismatch` / `backup_lba_mismatch` | error | cross pointers (#7, #8) |
//! | `gpt.headers.mismatch.<field>` | error (revision, header_size: warning) | field by field (#9–#13 and more) |
//! | `gpt.entries.mismatch` | error | both arrays valid but different |
//! | `gpt.disk.too_small` | error | shrunk/truncated disk (#14) |
//! | `gpt.primary_entries.past_first_usable` / `too_early` | error | #15, #16 |
//! | `gpt.backup_entries.overlaps_header` | error | #17 |
//! | `gpt.primary_entries.gap_after_header` / `gap_before_first_usable`, `gpt.backup_entries.gap_before_header` | info | #18–#20 |
//! | `gpt.entries.table_too_small` | warning | under 16 KiB (#21) |
//! | `gpt.header.last_usable_beyond_disk` / `usable_range_empty` | error | #22 |
//! | `gpt.partition.overlap` | error | #23 |
//! | `gpt.partition.ends_before_start` / `beyond_disk` | error | #24; beyond_disk says how much is cut |
//! | `gpt.partition.outside_usable` | error | |
//! | `gpt.partition.duplicate_guid` | warning | |
//! | `gpt.{primary,backup}_entries.overlaps_partition` | error | #28 |
//! | `gpt.partition.misaligned` | info | start not on 1 MiB (#30) |
//! | `gpt.hybrid.mismatch` / `gpt.hybrid.logicals` | warning | #25; logicals on a hybrid |
//! | `gpt.pmbr.multiple_ee` / `ee_not_at_lba1` / `ee_active` / `too_big` / `size_mismatch` / `missing` | warning (`missing` with a classic MBR: error) | #26, #27, #29, libfdisk's PMBR checks |
//! | `gpt.headers.missing` | error | a protective/hybrid MBR but no GPT header at all |
//! | `gpt.free_space`, `gpt.free_space.beyond_table`, `mbr.free_space` | info | unpartitioned ranges (#31) |
//! | `gpt.sector_size.4096` / `assumed` (info), `ambiguous` (warning) | | logical sector size |
//! | `mbr.partition.overlap` / `beyond_disk` / `contains_sector0` | error | |
//! | `mbr.partition.boot_flag` | warning | status not 0x00/0x80 |
//! | `mbr.logical.outside_extended`, `mbr.ebr.{loop,too_many,signature,unreadable,link_outside_extended}` | error | the EBR chain |
//! | `mbr.ebr.extra_entry`, `mbr.extended.multiple` | warning | |
//! | `gpt.read.unreadable`, `mbr.read.unreadable` | error | a structure on the disk whose read failed (I/O, a layer below, the work bound): unknown, so no check calls it absent |
//! | `gpt.recovery.partitions_found` (error/warning), `entries_survive`, `scan_incomplete` (info) | | from [`crate::analyze`] |

mod geometry;
mod grown;
mod headers;
mod mbr;
mod partitions;
mod pmbr;
mod reads;

use crate::mbr::MbrKind;
use crate::tables::{Scheme, Tables};
use geometry::{free_space_findings, geometry_checks, sector_size_checks};
use grown::{
    foreign_end, found_by_search, grow_hint, not_at_end, other_table, stale_backup_findings,
};
use headers::{compare_copies, copy_checks, copy_offset, missing_copies};
use imgcheck_core::{Finding, Layer, Place, Severity, Sink, Space, Step};
use mbr::mbr_checks;
use partitions::partition_checks;
use pmbr::pmbr_checks;
use reads::{entries_unreadable, gpt_header_unreadable, unreadable_findings};

/// Partitions are expected to start on this byte boundary (1 MiB: what
/// gdisk, fdisk and parted align to with 512-byte sectors).
pub const ALIGNMENT_BYTES: u64 = 1 << 20;

/// The one repair for a grown disk: it moves the backup GPT to the end,
/// extends last_usable_lba and rewrites the protective MBR's size. One
/// string, so the CLI's next steps list it once.
pub const SGDISK_E: &str = "sgdisk -e {disk}";
/// What [`SGDISK_E`] does.
pub const SGDISK_E_WHY: &str = "moves the backup GPT to the end and rewrites the protective MBR; then grow the last partition into the space";

/// Most overlap / duplicate findings listed per table: the one cap of
/// [`imgcheck_core::Sink`], which counts the rest in a closing finding (a
/// table of 8192 garbage entries still gives a readable report).
pub const MAX_PAIR_FINDINGS: usize = imgcheck_core::MAX_FINDINGS_PER_CODE;

fn gpt(
    sev: Severity,
    code: impl Into<std::borrow::Cow<'static, str>>,
    offset: u64,
    msg: String,
) -> Finding {
    Finding::new(sev, code, Layer::GPT, offset, Space::Disk, msg)
}

fn mbrf(sev: Severity, code: &'static str, offset: u64, msg: String) -> Finding {
    Finding::new(sev, code, Layer::MBR, offset, Space::Disk, msg)
}

/// Most findings kept per code: a table of 8192 garbage entries must still
/// give a readable report. The rest are counted in one closing finding
/// (the one policy of [`imgcheck_core::Sink`]).
pub use imgcheck_core::MAX_FINDINGS_PER_CODE;

/// Which findings concern one partition: (index in the findings, partition
/// number as in [`crate::Partition::number`]).
type Tags = Vec<(usize, u32)>;

/// Tags every finding pushed since `before` with partition `number`.
fn tag_since(out: &[Finding], tags: &mut Tags, before: usize, number: u32) {
    tags.extend((before..out.len()).map(|i| (i, number)));
}

/// Runs every check on what [`crate::parse`] read. A finding about one
/// partition (overlap, beyond disk, outside the usable range, duplicate
/// GUID, alignment, …; for a pair, the later of the two) names it in
/// [`Finding::place`] (`[Partition(n)]`); the table's own findings, and the
/// count of findings past the cap, have the root place. Offsets are in
/// disk space either way.
pub fn check(t: &Tables) -> Vec<Finding> {
    let mut tags = Tags::new();
    let mut all = check_all(t, &mut tags);
    for (i, n) in tags {
        if let Some(f) = all.get_mut(i) {
            f.place = Place::root().join(Step::Partition(n));
        }
    }
    let mut sink = Sink::new();
    sink.extend(all);
    sink.finish()
}

fn check_all(t: &Tables, tags: &mut Tags) -> Vec<Finding> {
    let mut out = Vec::new();
    sector_size_checks(t, &mut out);
    unreadable_findings(t, &mut out);
    if let Some(m) = &t.mbr {
        out.extend(m.load_findings.iter().cloned());
    }
    stale_backup_findings(t, &mut out);
    match t.scheme {
        Scheme::Gpt => gpt_checks(t, &mut out, tags),
        Scheme::Mbr => {
            if t.isohybrid.is_some() && (t.primary.is_some() || t.backup.is_some()) {
                out.push(gpt(
                    Severity::Info,
                    "gpt.isohybrid",
                    t.sector.bytes,
                    "the isohybrid ISO also carries a GPT (as xorriso -isohybrid-gpt-basdat and isohybrid --uefi write it, its partitions overlapping the ISO by design) for firmware that reads GPT; the MBR has no 0xEE entry, so Linux and blkid read the MBR, which is the table checked here".to_string(),
                ));
            }
            if let Some(m) = &t.mbr {
                mbr_checks(t, m, &mut out, tags);
                if m.kind == MbrKind::Hybrid && !gpt_header_unreadable(t) {
                    out.push(gpt(
                        Severity::Error,
                        "gpt.headers.missing",
                        t.sector.bytes,
                        format!(
                            "the MBR is hybrid (it has a 0xEE entry) but no GPT header was found at LBA 1 or at LBA {:?}",
                            t.backup_searched
                        ),
                    ));
                }
            }
            free_space_findings(t, Layer::MBR, &mut out);
        }
        Scheme::None => {
            if let Some(n) = &t.not_a_table {
                out.push(not_a_table_finding(n));
            }
            if let Some(l) = &t.label {
                out.push(label_finding(l));
            }
            if let Some(m) = &t.mbr
                && m.signature_ok
                && m.kind == MbrKind::Protective
                && !gpt_header_unreadable(t)
            {
                out.push(
                    gpt(
                        Severity::Error,
                        "gpt.headers.missing",
                        t.sector.bytes,
                        format!(
                            "the protective MBR announces a GPT, but neither LBA 1 (byte {}) nor the last LBA {:?} holds a GPT header: both copies are gone",
                            t.sector.bytes, t.backup_searched
                        ),
                    )
                    ,
                );
            }
        }
    }
    out
}

/// Sector 0 ends in 0x55AA but is no partition table. With a volume there
/// (a bare NTFS, FAT or ext filesystem) that is a fact, said as info; with
/// none it is an MBR the kernel refuses: whatever partitions it held are
/// invisible, a warning.
fn not_a_table_finding(n: &crate::tables::NotATable) -> Finding {
    match &n.volume {
        Some(v) => mbrf(
            Severity::Info,
            "mbr.not_a_table",
            0,
            format!("{}; the whole disk is read as {}", n.reason, v.display),
        ),
        None => mbrf(
            Severity::Warning,
            "mbr.refused",
            0,
            format!(
                "{}: no partition is visible to Linux or blkid, and nothing known starts at byte 0",
                n.reason
            ),
        )
        .with_hint(
            imgcheck_core::Hint::read_only("fdisk -l {disk}; testdisk {disk}")
                .on(imgcheck_core::Target::Disk)
                .because(
                    "see the entries as fdisk reads them, then look for the partitions on a copy",
                ),
        ),
    }
}

/// Another label, named with its evidence: imgcheck does not check it,
/// and says so rather than calling the disk unpartitioned.
fn label_finding(l: &crate::label::Label) -> Finding {
    let listed = if l.listed {
        let n = l.partitions.iter().filter(|p| !p.whole).count();
        format!("{n} partitions listed from it")
    } else {
        "its partitions are not listed".to_string()
    };
    let mut msg = format!(
        "{} (blkid PTTYPE \"{}\"): {}; {listed}; the label itself is not checked",
        l.name, l.scheme, l.evidence
    );
    for n in &l.notes {
        msg.push_str("; ");
        msg.push_str(n);
    }
    Finding::info(
        "label.detected",
        imgcheck_core::Layer::LABEL,
        0,
        imgcheck_core::Space::Disk,
        msg,
    )
}

/// A GPT disk: each copy, the copies against each other, the layout, the
/// partitions, the protective MBR and the free space, in that order.
fn gpt_checks(t: &Tables, out: &mut Vec<Finding>, tags: &mut Tags) {
    for c in [t.primary.as_ref(), t.backup.as_ref()]
        .into_iter()
        .flatten()
    {
        copy_checks(t, c, out);
    }
    missing_copies(t, out);
    if let (Some(p), Some(b)) = (&t.primary, &t.backup) {
        compare_copies(t, p, b, out);
    }
    other_table(t, out);
    foreign_end(t, out);
    not_at_end(t, out);
    geometry_checks(t, out);
    if let (Some(h), Some(entries)) = (t.header(), t.entries()) {
        let parts = t.partitions();
        partition_checks(t, h, &parts, out, tags);
        let _ = entries;
    }
    pmbr_checks(t, out, tags);
    // Free space is what the partitions leave: unknown when the array
    // listing them could not be read.
    if !entries_unreadable(t) {
        free_space_findings(t, Layer::GPT, out);
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::as_conversions)]
mod tests {
    use super::*;
    use imgcheck_core::BytesReader;

    /// A valid-CRC GPT whose 8192 entries all overlap and lie outside the
    /// disk: the report stays bounded.
    #[test]
    fn thousands_of_bad_entries_give_a_bounded_report() {
        let ss = 512usize;
        let n = 8192usize;
        let mut d = vec![0u8; ss * (2 + n / 4 + 8)];
        let mut arr = vec![0u8; n * 128];
        for i in 0..n {
            let e = &mut arr[i * 128..(i + 1) * 128];
            e[0] = 1;
            e[0x10] = 7; // the same unique GUID everywhere
            e[0x20..0x28].copy_from_slice(&10u64.to_le_bytes());
            e[0x28..0x30].copy_from_slice(&1_000_000u64.to_le_bytes());
        }
        d[2 * ss..2 * ss + arr.len()].copy_from_slice(&arr);
        let h = &mut d[ss..2 * ss];
        h[..8].copy_from_slice(b"EFI PART");
        h[8..12].copy_from_slice(&0x0001_0000u32.to_le_bytes());
        h[12..16].copy_from_slice(&92u32.to_le_bytes());
        h[0x18..0x20].copy_from_slice(&1u64.to_le_bytes());
        h[0x48..0x50].copy_from_slice(&2u64.to_le_bytes());
        h[0x50..0x54].copy_from_slice(&(n as u32).to_le_bytes());
        h[0x54..0x58].copy_from_slice(&128u32.to_le_bytes());
        h[0x58..0x5C].copy_from_slice(&crate::util::crc32(&arr).to_le_bytes());
        let c = crate::util::crc32(&h[..92]);
        h[0x10..0x14].copy_from_slice(&c.to_le_bytes());
        let t = crate::parse(&BytesReader::new(d));
        assert_eq!(t.partitions().len(), n);
        let f = check(&t);
        assert!(f.len() < 600, "{} findings", f.len());
        // The kept ones name their partition; the count of the rest
        // concerns thousands and stays on the table.
        let beyond: Vec<_> = f
            .iter()
            .filter(|f| f.code == "gpt.partition.beyond_disk")
            .collect();
        assert_eq!(beyond.len(), MAX_FINDINGS_PER_CODE + 1);
        assert_eq!(beyond[0].place.partition(), Some(1));
        assert!(beyond[MAX_FINDINGS_PER_CODE].place.is_root());
        assert!(
            f.iter()
                .any(|x| x.message.starts_with("8160 more gpt.partition.beyond_disk"))
        );
        // Pairs past the cap are counted too, not dropped: 8191 overlaps
        // and 8191 partitions sharing the first one's GUID.
        for code in ["gpt.partition.overlap", "gpt.partition.duplicate_guid"] {
            let listed = f.iter().filter(|x| x.code == code).count();
            assert_eq!(listed, MAX_FINDINGS_PER_CODE + 1, "{code}");
            let more = format!("{} more {code}", n - 1 - MAX_FINDINGS_PER_CODE);
            assert!(f.iter().any(|x| x.message.starts_with(&more)), "{more}");
        }
    }
}

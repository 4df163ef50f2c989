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
//! | `gpt.backup_header.found_by_search` | error | primary gone on a grown disk: the stale backup, found by a bounded search, is the only copy and no tool sees it |
//! | `gpt.backup_header.search_incomplete` | info | the stale-backup search hit [`crate::tables::MAX_BACKUP_PROBES`] |
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
//! | `gpt.partition.outside_usable` / `duplicate_guid` | error | |
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
//! | `gpt.recovery.partitions_found` (error/warning), `entries_survive`, `scan_incomplete` (info) | | from [`crate::analyze`] |

use crate::header::{
    EntriesUnread, GptCopy, MAX_ENTRY_ARRAY_BYTES, MIN_ENTRY_ARRAY_BYTES, REVISION_1_0, Role,
};
use crate::mbr::{Mbr, MbrKind, entry_offset, is_extended};
use crate::tables::{Partition, Scheme, Tables};
use crate::util::{human, mul};
use imgcheck_core::{Finding, Hint, Layer, Severity, Space, Target};
use std::collections::HashMap;
use std::fmt::Write as _;

/// Partitions are expected to start on this byte boundary (1 MiB: what
/// gdisk, fdisk and parted align to with 512-byte sectors).
pub const ALIGNMENT_BYTES: u64 = 1 << 20;

/// The one repair for a grown disk: it moves the backup GPT to the end,
/// extends last_usable_lba and rewrites the protective MBR's size. One
/// string, so the CLI's next steps list it once.
pub const SGDISK_E: &str = "sgdisk -e {disk}";
/// What [`SGDISK_E`] does.
pub const SGDISK_E_WHY: &str = "moves the backup GPT to the end and rewrites the protective MBR; then grow the last partition into the space";

/// Most overlap / duplicate findings reported per table, so a table of
/// 8192 garbage entries yields a readable report.
pub const MAX_PAIR_FINDINGS: usize = 32;

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
/// give a readable report. The rest are counted in one closing finding.
pub const MAX_FINDINGS_PER_CODE: usize = 32;

/// Keeps the first [`MAX_FINDINGS_PER_CODE`] findings of each code and
/// replaces the rest with one finding that counts them.
fn cap_per_code(all: Vec<(Finding, Option<u32>)>) -> Vec<(Finding, Option<u32>)> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(all.len().min(1024));
    let mut dropped: Vec<(Finding, usize)> = Vec::new();
    for (f, part) in all {
        let n = seen.entry(f.code.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        if *n <= MAX_FINDINGS_PER_CODE {
            out.push((f, part));
        } else if let Some(d) = dropped.iter_mut().find(|(g, _)| g.code == f.code) {
            d.1 = d.1.saturating_add(1);
        } else {
            dropped.push((f, 1));
        }
    }
    for (f, n) in dropped {
        let msg = format!(
            "{n} more {} findings like the ones above are not listed",
            f.code
        );
        // The count concerns many partitions: it stays on the table.
        out.push((
            Finding::new(f.severity, f.code, f.layer, f.offset, f.space, msg),
            None,
        ));
    }
    out
}

/// Which findings concern one partition: (index in the findings, partition
/// number as in [`Partition::number`]).
type Tags = Vec<(usize, u32)>;

/// Tags every finding pushed since `before` with partition `number`.
fn tag_since(out: &[Finding], tags: &mut Tags, before: usize, number: u32) {
    tags.extend((before..out.len()).map(|i| (i, number)));
}

/// Runs every check on what [`crate::parse`] read.
pub fn check(t: &Tables) -> Vec<Finding> {
    check_attributed(t).into_iter().map(|(f, _)| f).collect()
}

/// [`check()`], each finding paired with the number of the partition it
/// concerns (overlap, beyond disk, outside the usable range, duplicate GUID,
/// alignment, …; for a pair, the later of the two), or `None` for the
/// table's own findings. Offsets stay in disk space either way.
pub fn check_attributed(t: &Tables) -> Vec<(Finding, Option<u32>)> {
    let mut tags = Tags::new();
    let all = check_all(t, &mut tags);
    let mut part: Vec<Option<u32>> = vec![None; all.len()];
    for (i, n) in tags {
        if let Some(slot) = part.get_mut(i) {
            *slot = Some(n);
        }
    }
    cap_per_code(all.into_iter().zip(part).collect())
}

fn check_all(t: &Tables, tags: &mut Tags) -> Vec<Finding> {
    let mut out = Vec::new();
    sector_size_checks(t, &mut out);
    if let Some(m) = &t.mbr {
        out.extend(m.load_findings.iter().cloned());
    }
    stale_backup_findings(t, &mut out);
    match t.scheme {
        Scheme::Gpt => gpt_checks(t, &mut out, tags),
        Scheme::Mbr => {
            if let Some(m) = &t.mbr {
                mbr_checks(t, m, &mut out, tags);
                if m.kind == MbrKind::Hybrid {
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
            if let Some(m) = &t.mbr
                && m.signature_ok
                && m.kind == MbrKind::Protective
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

fn sector_size_checks(t: &Tables, out: &mut Vec<Finding>) {
    let s = &t.sector;
    if s.assumed && t.scheme == Scheme::Mbr {
        // Not silently: nothing on the disk states the sector size.
        out.push(gpt(
            Severity::Info,
            "gpt.sector_size.assumed",
            0,
            "MBR LBAs are read as 512-byte sectors: an MBR does not record its sector size and no partition's contents tell".into(),
        ));
    }
    if s.ambiguous {
        out.push(gpt(
            Severity::Warning,
            "gpt.sector_size.ambiguous",
            0,
            format!(
                "both 512- and 4096-byte sectors find support ({}); using {}",
                s.evidence.join("; "),
                s.bytes
            ),
        ));
    } else if !s.assumed && s.bytes != 512 {
        out.push(
            gpt(
                Severity::Info,
                "gpt.sector_size.4096",
                0,
                format!("the disk uses {}-byte logical sectors ({})", s.bytes, s.evidence.join("; ")),
            )
            .with_hint(
                Hint::read_only(format!("fdisk -b {} -l {{disk}}", s.bytes)).on(Target::Disk).because(format!(
                    "tools assume 512-byte sectors on an image file (sgdisk then says \"Creating new GPT entries in memory\"); or attach it with `losetup -b {}`",
                    s.bytes
                )),
            ),
        );
    }
}

fn copy_offset(t: &Tables, c: &GptCopy) -> u64 {
    mul(c.lba, t.sector.bytes)
}

fn rebuild_hint(role: Role) -> Hint {
    match role {
        Role::Primary => Hint::writes("gdisk {disk}")
            .on(Target::Disk)
            .because("the backup copy can rebuild it: recovery menu r, then b (header) and c (table), then w"),
        Role::Backup => Hint::writes("sgdisk -e {disk}")
            .on(Target::Disk)
            .because("rewrites the backup from the primary at the end of the disk"),
    }
}

/// Load-time checks of one copy, kept even when the other copy is good.
fn copy_checks(t: &Tables, c: &GptCopy, out: &mut Vec<Finding>) {
    let ss = t.sector.bytes;
    let h = &c.header;
    let r = c.role.as_str();
    let at = copy_offset(t, c);
    if h.revision != REVISION_1_0 {
        out.push(gpt(
            Severity::Warning,
            format!("gpt.{r}_header.revision"),
            at.saturating_add(8),
            format!(
                "the {r} GPT header has revision 0x{:08X}, expected 0x00010000",
                h.revision
            ),
        ));
    }
    if !h.header_size_ok(ss) {
        out.push(gpt(
            Severity::Error,
            format!("gpt.{r}_header.header_size"),
            at.saturating_add(0x0C),
            format!(
                "the {r} GPT header claims header_size {}, outside 92..={ss}",
                h.header_size
            ),
        ));
    }
    if !h.crc_ok() {
        // gdisk Verify #1 / #3.
        out.push(
            gpt(
                Severity::Error,
                format!("gpt.{r}_header.crc"),
                at.saturating_add(0x10),
                format!(
                    "the {r} GPT header CRC32 is 0x{:08X}, but its {} bytes compute to 0x{:08X}",
                    h.header_crc32,
                    h.header_size.clamp(92, 512),
                    h.computed_header_crc32
                ),
            )
            .with_hint(rebuild_hint(c.role)),
        );
    }
    if h.reserved != 0 {
        out.push(gpt(
            Severity::Warning,
            format!("gpt.{r}_header.reserved"),
            at.saturating_add(0x14),
            format!(
                "the {r} GPT header's reserved field is 0x{:08X}, expected 0",
                h.reserved
            ),
        ));
    }
    if h.my_lba != c.lba {
        // gdisk Verify #5 (primary); libfdisk "MyLBA mismatch with real position".
        out.push(gpt(
            Severity::Error,
            format!("gpt.{r}_header.my_lba"),
            at.saturating_add(0x18),
            format!(
                "the {r} GPT header was found at LBA {} but its my_lba says {}",
                c.lba, h.my_lba
            ),
        ));
    }
    if !h.entry_size_ok() {
        out.push(gpt(
            Severity::Error,
            format!("gpt.{r}_header.entry_size"),
            at.saturating_add(0x54),
            format!(
                "the {r} GPT header claims {}-byte partition entries; the specification requires 128 × 2^n",
                h.sizeof_partition_entry
            ),
        ));
    } else if h.sizeof_partition_entry != 128 {
        out.push(gpt(
            Severity::Warning,
            format!("gpt.{r}_header.entry_size_unusual"),
            at.saturating_add(0x54),
            format!(
                "the {r} GPT header uses {}-byte entries; gdisk and libblkid support only 128",
                h.sizeof_partition_entry
            ),
        ));
    }
    match c.entries_unread {
        Some(EntriesUnread::TooLarge) => out.push(gpt(
            Severity::Error,
            format!("gpt.{r}_entries.too_large"),
            at.saturating_add(0x50),
            format!(
                "the {r} GPT header claims {} entries of {} bytes ({} bytes), over the {MAX_ENTRY_ARRAY_BYTES}-byte bound",
                h.num_partition_entries,
                h.sizeof_partition_entry,
                h.entry_array_bytes()
            ),
        )),
        Some(EntriesUnread::BeyondDisk) => out.push(gpt(
            Severity::Error,
            format!("gpt.{r}_entries.unreadable"),
            mul(h.partition_entry_lba, ss),
            format!(
                "the {r} partition entry array ({} bytes at LBA {}) runs past the end of the disk ({} sectors)",
                h.entry_array_bytes(),
                h.partition_entry_lba,
                t.disk_sectors()
            ),
        )),
        Some(EntriesUnread::BadEntrySize) | None => {}
    }
    if let Some(e) = &c.entries
        && !e.crc_ok
    {
        // gdisk Verify #2 / #4.
        out.push(
            gpt(
                Severity::Error,
                format!("gpt.{r}_entries.crc"),
                mul(e.lba, ss),
                format!(
                    "the {r} partition entry array CRC32 is 0x{:08X} in its header, but its {} bytes at LBA {} compute to 0x{:08X}",
                    h.partition_entry_array_crc32,
                    e.raw.len(),
                    e.lba,
                    e.computed_crc32
                ),
            )
            .with_hint(rebuild_hint(c.role)),
        );
    }
}

fn gpt_checks(t: &Tables, out: &mut Vec<Finding>, tags: &mut Tags) {
    let ss = t.sector.bytes;
    let disk = t.disk_sectors();
    let last = disk.saturating_sub(1);
    for c in [t.primary.as_ref(), t.backup.as_ref()]
        .into_iter()
        .flatten()
    {
        copy_checks(t, c, out);
    }
    let other_ok = |role: Role| {
        [t.primary.as_ref(), t.backup.as_ref()]
            .into_iter()
            .flatten()
            .any(|c| c.role != role && c.valid(ss))
    };
    if t.primary.is_none() {
        let mut f = gpt(
            Severity::Error,
            "gpt.primary_header.missing",
            ss,
            format!("no GPT header at LBA 1 (byte {ss}): the \"EFI PART\" signature is gone"),
        );
        // With only a stale backup, gdisk cannot find the copy to rebuild
        // from: the found_by_search finding carries the recipe instead.
        if other_ok(Role::Primary) && !found_by_search(t) {
            f = f.with_hint(rebuild_hint(Role::Primary));
        }
        out.push(f);
    }
    if t.backup.is_none() {
        let mut f = gpt(
            Severity::Error,
            "gpt.backup_header.missing",
            mul(last, ss),
            format!(
                "no backup GPT header at LBA {:?} (the last LBA, and the primary's alternate_lba){}",
                t.backup_searched,
                t.backup_search.as_ref().map_or(String::new(), |s| format!(
                    ", nor at any of {} other places a grown disk's stale backup would be (the protective MBR's end, the last sector before each 1 MiB boundary)",
                    s.probes
                ))
            ),
        );
        if other_ok(Role::Backup) {
            f = f.with_hint(rebuild_hint(Role::Backup));
        }
        out.push(f);
    }
    if let (Some(p), Some(b)) = (&t.primary, &t.backup) {
        compare_copies(t, p, b, out);
    }
    // Grown disk: gdisk Verify #6, libfdisk "The backup GPT table is not on the end of the device".
    let backup_lba = t
        .backup
        .as_ref()
        .map(|b| b.lba)
        .or_else(|| t.primary.as_ref().map(|p| p.header.alternate_lba));
    if let Some(bl) = backup_lba
        && bl < last
    {
        let grown = last.saturating_sub(bl);
        out.push(
            gpt(
                Severity::Warning,
                "gpt.backup_header.not_at_end",
                mul(bl, ss),
                format!(
                    "the backup GPT header is at LBA {bl}, not at the last LBA {last}: the disk grew by {grown} sectors ({}) after it was partitioned, and the table does not cover that space",
                    human(mul(grown, ss))
                ),
            )
            .with_hint(grow_hint(t)),
        );
    }
    geometry_checks(t, out);
    if let (Some(h), Some(entries)) = (t.header(), t.entries()) {
        let parts = t.partitions();
        partition_checks(t, h, &parts, out, tags);
        let _ = entries;
    }
    pmbr_checks(t, out, tags);
    free_space_findings(t, Layer::GPT, out);
}

/// Whether the only GPT copy left is a stale backup found by searching.
fn found_by_search(t: &Tables) -> bool {
    t.backup.is_some() && t.backup_search.as_ref().is_some_and(|s| s.found.is_some())
}

/// The repair for a grown disk. With only a stale backup left, `sgdisk -e`
/// sees no table at all and writes an empty one: never suggest it then.
fn grow_hint(t: &Tables) -> Hint {
    if found_by_search(t) {
        Hint::advice(
            "do not run `sgdisk -e` on this image: it finds no table and writes an empty one; follow gpt.backup_header.found_by_search instead",
        )
    } else {
        Hint::writes(SGDISK_E)
            .on(Target::Disk)
            .because(SGDISK_E_WHY)
    }
}

/// The stale backup of a grown disk whose primary is gone, or a search for
/// it that the probe bound stopped.
fn stale_backup_findings(t: &Tables, out: &mut Vec<Finding>) {
    let ss = t.sector.bytes;
    let Some(s) = &t.backup_search else { return };
    match (s.found, &t.backup) {
        (Some((lba, via)), Some(b)) => {
            let disk = t.disk_sectors();
            let last = disk.saturating_sub(1);
            let grown = last.saturating_sub(lba);
            let n = b.entries.as_ref().map_or(0, |e| e.entries.len());
            let old_bytes = mul(lba.saturating_add(1), ss);
            let copy = if ss == 512 {
                "gdisk {image}.fixed   # recovery menu: r, b, c, w".to_string()
            } else {
                format!(
                    "DEV=$(losetup -b {ss} -f --show {{image}}.fixed); gdisk \"$DEV\"; losetup -d \"$DEV\"   # recovery menu: r, b, c, w"
                )
            };
            let grow = if ss == 512 {
                "sgdisk -e {image}.fixed".to_string()
            } else {
                format!(
                    "DEV=$(losetup -b {ss} -f --show {{image}}.fixed); sgdisk -e \"$DEV\"; losetup -d \"$DEV\""
                )
            };
            out.push(
                gpt(
                    Severity::Error,
                    "gpt.backup_header.found_by_search",
                    mul(lba, ss),
                    format!(
                        "the primary GPT is gone and no backup header is at the last LBA {last}, but a valid backup header was found at LBA {lba} ({}; {} places probed): the disk grew by {grown} sectors ({}) after it was partitioned. gdisk, sgdisk, libblkid and the kernel look for the backup only at the last LBA, so to them this disk has no partition table; its {n} partitions are listed from this copy",
                        via.describe(),
                        s.probes,
                        human(mul(grown, ss))
                    ),
                )
                .with_hint(
                    Hint::writes(format!(
                        "cp --sparse=always {{image}} {{image}}.fixed\ntruncate -s {old_bytes} {{image}}.fixed\n{copy}\ntruncate -s {} {{image}}.fixed\n{grow}",
                        t.disk_size
                    ))
                    .on(Target::Image)
                    .because(format!(
                        "on a copy, shrink back to the size the table knows so the tools find the backup, rebuild the primary from it, then grow again; the copy loses only the {} past byte {old_bytes}, which no partition covers",
                        human(mul(grown, ss)),
                    )),
                ),
            );
        }
        (None, _) if !s.complete => out.push(gpt(
            Severity::Info,
            "gpt.backup_header.search_incomplete",
            0,
            format!(
                "the search for a stale backup GPT header (left behind when a disk grows) stopped after {} probes, the bound: the middle of the disk was not searched",
                s.probes
            ),
        )),
        _ => {}
    }
}

fn compare_copies(t: &Tables, p: &GptCopy, b: &GptCopy, out: &mut Vec<Finding>) {
    let ss = t.sector.bytes;
    let (ph, bh) = (&p.header, &b.header);
    let boff = copy_offset(t, b);
    // gdisk Verify #7 and #8.
    if ph.my_lba != bh.alternate_lba {
        out.push(gpt(
            Severity::Error,
            "gpt.headers.primary_lba_mismatch",
            boff.saturating_add(0x20),
            format!(
                "the primary header's my_lba ({}) does not match the backup header's alternate_lba ({})",
                ph.my_lba, bh.alternate_lba
            ),
        ));
    }
    if ph.alternate_lba != bh.my_lba {
        out.push(gpt(
            Severity::Error,
            "gpt.headers.backup_lba_mismatch",
            ss.saturating_add(0x20),
            format!(
                "the primary header's alternate_lba ({}) does not match the backup header's my_lba ({})",
                ph.alternate_lba, bh.my_lba
            ),
        ));
    }
    // gdisk Verify #9–#13, and every other field that must agree.
    let fields: [(&str, u64, String, String, Severity); 8] = [
        (
            "first_usable_lba",
            0x28,
            ph.first_usable_lba.to_string(),
            bh.first_usable_lba.to_string(),
            Severity::Error,
        ),
        (
            "last_usable_lba",
            0x30,
            ph.last_usable_lba.to_string(),
            bh.last_usable_lba.to_string(),
            Severity::Error,
        ),
        (
            "disk_guid",
            0x38,
            ph.disk_guid.to_string(),
            bh.disk_guid.to_string(),
            Severity::Error,
        ),
        (
            "num_partition_entries",
            0x50,
            ph.num_partition_entries.to_string(),
            bh.num_partition_entries.to_string(),
            Severity::Error,
        ),
        (
            "sizeof_partition_entry",
            0x54,
            ph.sizeof_partition_entry.to_string(),
            bh.sizeof_partition_entry.to_string(),
            Severity::Error,
        ),
        (
            "partition_entry_array_crc32",
            0x58,
            format!("0x{:08X}", ph.partition_entry_array_crc32),
            format!("0x{:08X}", bh.partition_entry_array_crc32),
            Severity::Error,
        ),
        (
            "revision",
            0x08,
            format!("0x{:08X}", ph.revision),
            format!("0x{:08X}", bh.revision),
            Severity::Warning,
        ),
        (
            "header_size",
            0x0C,
            ph.header_size.to_string(),
            bh.header_size.to_string(),
            Severity::Warning,
        ),
    ];
    for (name, off, a, bv, sev) in fields {
        if a != bv {
            out.push(gpt(
                sev,
                format!("gpt.headers.mismatch.{name}"),
                boff.saturating_add(off),
                format!("the primary and backup GPT headers disagree on {name}: primary {a}, backup {bv}"),
            ));
        }
    }
    // "Main and backup partition tables differ": only meaningful when both
    // arrays are what their headers say (else the CRC findings tell it).
    if let (Some(pe), Some(be)) = (&p.entries, &b.entries)
        && pe.crc_ok
        && be.crc_ok
        && pe.raw != be.raw
    {
        let size = usize::try_from(ph.sizeof_partition_entry)
            .unwrap_or(128)
            .max(1);
        let differ: Vec<String> = pe
            .raw
            .chunks(size)
            .zip(be.raw.chunks(size))
            .zip(1u32..)
            .filter(|((a, b), _)| a != b)
            .map(|(_, i)| i.to_string())
            .take(16)
            .collect();
        out.push(gpt(
            Severity::Error,
            "gpt.entries.mismatch",
            mul(be.lba, ss),
            format!(
                "the primary and backup partition entry arrays differ (entries {})",
                differ.join(", ")
            ),
        ));
    }
}

fn geometry_checks(t: &Tables, out: &mut Vec<Finding>) {
    let ss = t.sector.bytes;
    let disk = t.disk_sectors();
    if let Some(p) = &t.primary {
        let h = &p.header;
        let table = h.entry_array_sectors(ss);
        let table_end = h.partition_entry_lba.saturating_add(table);
        let at = copy_offset(t, p);
        if table_end > h.first_usable_lba {
            // #15
            out.push(gpt(
                Severity::Error,
                "gpt.primary_entries.past_first_usable",
                at.saturating_add(0x48),
                format!(
                    "the primary partition entry array (LBA {}..{}) extends past the first usable LBA {}",
                    h.partition_entry_lba, table_end, h.first_usable_lba
                ),
            ));
        } else if table_end < h.first_usable_lba {
            // #20
            out.push(gpt(
                Severity::Info,
                "gpt.primary_entries.gap_before_first_usable",
                at.saturating_add(0x28),
                format!(
                    "there is a gap between the primary partition entry array (ending at LBA {}) and the first usable LBA {}",
                    table_end.saturating_sub(1),
                    h.first_usable_lba
                ),
            ));
        }
        if h.partition_entry_lba < 2 {
            // #16
            out.push(gpt(
                Severity::Error,
                "gpt.primary_entries.too_early",
                at.saturating_add(0x48),
                format!("the primary partition entry array is at LBA {}, overlapping the MBR or the header (expected 2)", h.partition_entry_lba),
            ));
        } else if h.partition_entry_lba > 2 {
            // #18
            out.push(gpt(
                Severity::Info,
                "gpt.primary_entries.gap_after_header",
                at.saturating_add(0x48),
                format!("there is a gap between the primary header (LBA 1) and its entry array (LBA {})", h.partition_entry_lba),
            ));
        }
        if h.entry_array_bytes() < MIN_ENTRY_ARRAY_BYTES {
            // #21
            out.push(gpt(
                Severity::Warning,
                "gpt.entries.table_too_small",
                at.saturating_add(0x50),
                format!(
                    "the partition entry array is {} bytes, less than the {MIN_ENTRY_ARRAY_BYTES} the specification requires",
                    h.entry_array_bytes()
                ),
            ));
        }
        // #14: the table claims a disk bigger than this one.
        let needs = h.alternate_lba.max(h.last_usable_lba.saturating_add(1));
        if needs >= disk {
            let need_sectors = needs.saturating_add(1);
            out.push(
                gpt(
                    Severity::Error,
                    "gpt.disk.too_small",
                    at.saturating_add(0x20),
                    format!(
                        "the disk is {disk} sectors, but the GPT needs {need_sectors} (backup header at LBA {}): the image was truncated or the disk shrank by {} sectors ({})",
                        h.alternate_lba,
                        need_sectors.saturating_sub(disk),
                        human(mul(need_sectors.saturating_sub(disk), ss))
                    ),
                )
                .with_hint(Hint::advice(format!(
                    "if only the tail was cut off, restore the size (on a copy: `truncate -s {} {{image}}`) and verify again; otherwise recover from the original disk",
                    mul(need_sectors, ss)
                ))),
            );
        }
    }
    if let Some(b) = &t.backup {
        let h = &b.header;
        let table = h.entry_array_sectors(ss);
        let table_end = h.partition_entry_lba.saturating_add(table);
        let at = copy_offset(t, b);
        if table_end > h.my_lba {
            // #17
            out.push(gpt(
                Severity::Error,
                "gpt.backup_entries.overlaps_header",
                at.saturating_add(0x48),
                format!(
                    "the backup partition entry array (LBA {}..{}) overlaps the backup header at LBA {}",
                    h.partition_entry_lba,
                    table_end.saturating_sub(1),
                    h.my_lba
                ),
            ));
        } else if table_end < h.my_lba {
            // #19
            out.push(gpt(
                Severity::Info,
                "gpt.backup_entries.gap_before_header",
                at.saturating_add(0x48),
                format!(
                    "there is a gap between the backup partition entry array (ending at LBA {}) and the backup header (LBA {})",
                    table_end.saturating_sub(1),
                    h.my_lba
                ),
            ));
        }
    }
    if let Some(c) = t.header() {
        let h = &c.header;
        let at = copy_offset(t, c);
        if h.first_usable_lba > h.last_usable_lba {
            out.push(gpt(
                Severity::Error,
                "gpt.header.usable_range_empty",
                at.saturating_add(0x28),
                format!(
                    "first_usable_lba {} is past last_usable_lba {}",
                    h.first_usable_lba, h.last_usable_lba
                ),
            ));
        }
        // #22: the backup header position bounds the usable range.
        let backup_pos = match c.role {
            Role::Primary => h.alternate_lba,
            Role::Backup => h.my_lba,
        };
        if h.last_usable_lba >= disk || h.last_usable_lba >= backup_pos {
            out.push(gpt(
                Severity::Error,
                "gpt.header.last_usable_beyond_disk",
                at.saturating_add(0x30),
                format!(
                    "the GPT claims the disk is larger than it is: last usable LBA {}, backup header at LBA {backup_pos}, disk {disk} sectors",
                    h.last_usable_lba
                ),
            ));
        }
    }
}

fn partition_checks(
    t: &Tables,
    c: &GptCopy,
    parts: &[Partition],
    out: &mut Vec<Finding>,
    tags: &mut Tags,
) {
    let ss = t.sector.bytes;
    let disk = t.disk_sectors();
    let h = &c.header;
    let entries_at = |p: &Partition| {
        let lba = t.entries().map_or(h.partition_entry_lba, |e| e.lba);
        mul(lba, ss).saturating_add(mul(
            u64::from(p.number.saturating_sub(1)),
            u64::from(h.sizeof_partition_entry),
        ))
    };
    let label = |p: &Partition| {
        if p.name.is_empty() {
            format!("partition {}", p.number)
        } else {
            format!("partition {} ({})", p.number, p.name)
        }
    };
    for p in parts {
        let before = out.len();
        let at = entries_at(p);
        if p.last_lba < p.first_lba {
            // #24
            out.push(gpt(
                Severity::Error,
                "gpt.partition.ends_before_start",
                at.saturating_add(0x20),
                format!(
                    "{} ends at LBA {} before it begins at LBA {}",
                    label(p),
                    p.last_lba,
                    p.first_lba
                ),
            ));
            tag_since(out, tags, before, p.number);
            continue;
        }
        if p.last_lba >= disk {
            // #24 "too big for the disk"; on a truncated image, how much is cut.
            let cut_from = p.first_lba.max(disk);
            let cut = p.last_lba.saturating_add(1).saturating_sub(cut_from);
            let msg = if p.first_lba >= disk {
                format!(
                    "{} (LBA {}..={}) lies entirely beyond the end of the disk ({disk} sectors): all {} are missing",
                    label(p),
                    p.first_lba,
                    p.last_lba,
                    human(mul(cut, ss))
                )
            } else {
                format!(
                    "{} (LBA {}..={}) runs past the end of the disk ({disk} sectors): its last {cut} sectors ({}) are cut off",
                    label(p),
                    p.first_lba,
                    p.last_lba,
                    human(mul(cut, ss))
                )
            };
            out.push(gpt(
                Severity::Error,
                "gpt.partition.beyond_disk",
                at.saturating_add(0x28),
                msg,
            ));
        }
        if p.first_lba < h.first_usable_lba || p.last_lba > h.last_usable_lba {
            out.push(gpt(
                Severity::Error,
                "gpt.partition.outside_usable",
                at.saturating_add(0x20),
                format!(
                    "{} (LBA {}..={}) lies outside the usable range LBA {}..={}",
                    label(p),
                    p.first_lba,
                    p.last_lba,
                    h.first_usable_lba,
                    h.last_usable_lba
                ),
            ));
        }
        // #28: the entry arrays themselves must not sit inside a partition.
        for copy in [t.primary.as_ref(), t.backup.as_ref()]
            .into_iter()
            .flatten()
        {
            let ch = &copy.header;
            let a = ch.partition_entry_lba;
            let b = a
                .saturating_add(ch.entry_array_sectors(ss))
                .saturating_sub(1);
            if ch.entry_array_bytes() > 0 && p.first_lba <= b && a <= p.last_lba {
                let r = copy.role.as_str();
                out.push(gpt(
                    Severity::Error,
                    format!("gpt.{r}_entries.overlaps_partition"),
                    at.saturating_add(0x20),
                    format!(
                        "the {r} partition entry array (LBA {a}..={b}) overlaps {} (LBA {}..={})",
                        label(p),
                        p.first_lba,
                        p.last_lba
                    ),
                ));
            }
        }
        if !mul(p.first_lba, ss).is_multiple_of(ALIGNMENT_BYTES) {
            // #30 (start only; gdisk also prints the end, on healthy disks too).
            out.push(gpt(
                Severity::Info,
                "gpt.partition.misaligned",
                at.saturating_add(0x20),
                format!(
                    "{} starts at LBA {}, not on a 1 MiB boundary; this may degrade performance",
                    label(p),
                    p.first_lba
                ),
            ));
        }
        tag_since(out, tags, before, p.number);
    }
    // #23: overlaps, by a sweep over partitions sorted by start.
    let mut sorted: Vec<&Partition> = parts.iter().filter(|p| p.last_lba >= p.first_lba).collect();
    sorted.sort_by_key(|p| (p.first_lba, p.number));
    let mut reach: Option<&Partition> = None;
    let mut pairs = 0usize;
    for p in sorted {
        if let Some(q) = reach
            && q.last_lba >= p.first_lba
        {
            if pairs < MAX_PAIR_FINDINGS {
                tags.push((out.len(), p.number));
                out.push(gpt(
                    Severity::Error,
                    "gpt.partition.overlap",
                    entries_at(p).saturating_add(0x20),
                    format!(
                        "{} (LBA {}..={}) and {} (LBA {}..={}) overlap",
                        label(q),
                        q.first_lba,
                        q.last_lba,
                        label(p),
                        p.first_lba,
                        p.last_lba
                    ),
                ));
            }
            pairs = pairs.saturating_add(1);
        }
        if reach.is_none_or(|q| p.last_lba > q.last_lba) {
            reach = Some(p);
        }
    }
    // Duplicate unique GUIDs: tools that address partitions by PARTUUID
    // (kernel root=PARTUUID=, systemd) pick one arbitrarily.
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut dups = 0usize;
    for p in parts {
        let Some(g) = p.unique_guid else { continue };
        if let Some(first) = seen.get(&g.to_string()) {
            if dups < MAX_PAIR_FINDINGS {
                tags.push((out.len(), p.number));
                out.push(
                    gpt(
                        Severity::Error,
                        "gpt.partition.duplicate_guid",
                        entries_at(p).saturating_add(0x10),
                        format!(
                            "partitions {first} and {} share the unique GUID {g}",
                            p.number
                        ),
                    )
                    .with_hint(
                        Hint::writes(format!("sgdisk -u {}:R {{disk}}", p.number))
                            .on(Target::Disk)
                            .because("gives the partition a new random GUID"),
                    ),
                );
            }
            dups = dups.saturating_add(1);
        } else {
            seen.insert(g.to_string(), p.number);
        }
    }
}

fn pmbr_checks(t: &Tables, out: &mut Vec<Finding>, tags: &mut Tags) {
    let ss = t.sector.bytes;
    let disk = t.disk_sectors();
    let Some(m) = t.mbr.as_ref().filter(|m| m.signature_ok) else {
        out.push(gpt(
            Severity::Warning,
            "gpt.pmbr.missing",
            510,
            "LBA 0 has no boot signature 55 AA, so there is no protective MBR: the Linux kernel ignores a GPT without one".into(),
        ).with_hint(if found_by_search(t) {
            grow_hint(t)
        } else {
            Hint::writes("sgdisk -e {disk}").on(Target::Disk).because("gdisk writes a fresh protective MBR on save")
        }));
        return;
    };
    let ees: Vec<_> = m.protective_entries().collect();
    if ees.is_empty() {
        let real = m.real_entries().count();
        let (sev, what) = if real > 0 {
            (
                Severity::Error,
                format!(
                    "a classic MBR with {real} partitions instead of a protective MBR: tools disagree on which table is real (gdisk refuses it, the kernel uses the MBR)"
                ),
            )
        } else {
            (
                Severity::Warning,
                "the MBR has no 0xEE protective entry: the Linux kernel ignores a GPT without one"
                    .to_string(),
            )
        };
        out.push(gpt(sev, "gpt.pmbr.missing", entry_offset(1), what));
    }
    if ees.len() > 1 {
        // #26
        out.push(gpt(
            Severity::Warning,
            "gpt.pmbr.multiple_ee",
            entry_offset(ees.get(1).map_or(2, |e| e.slot)),
            format!(
                "the protective MBR has {} 0xEE entries, expected one",
                ees.len()
            ),
        ));
    }
    let expected = disk.saturating_sub(1).min(u64::from(u32::MAX));
    for e in &ees {
        let at = entry_offset(e.slot);
        if e.starting_lba != 1 {
            out.push(gpt(
                Severity::Warning,
                "gpt.pmbr.ee_not_at_lba1",
                at.saturating_add(8),
                format!(
                    "the 0xEE entry {} starts at LBA {}, expected 1",
                    e.slot, e.starting_lba
                ),
            ));
        }
        if e.status & 0x80 != 0 {
            // #27 (gdisk tests the 0x80 bit: 0xFF counts as active too)
            out.push(gpt(
                Severity::Warning,
                "gpt.pmbr.ee_active",
                at,
                format!(
                    "the 0xEE entry {} is marked active (0x80); the GPT specification requires 0",
                    e.slot
                ),
            ));
        }
        if m.kind == MbrKind::Protective
            && e.size_in_lba != u32::MAX
            && u64::from(e.size_in_lba) != expected
        {
            // libfdisk "GPT PMBR size mismatch (X != Y)".
            out.push(gpt(
                Severity::Warning,
                "gpt.pmbr.size_mismatch",
                at.saturating_add(12),
                format!(
                    "the protective MBR's 0xEE entry covers {} sectors, but the disk has {} after LBA 0 ({} != {expected})",
                    e.size_in_lba, expected, e.size_in_lba
                ),
            ).with_hint(grow_hint(t)));
        }
    }
    for e in &m.entries {
        let at = entry_offset(e.slot);
        if e.status != 0 && e.status != 0x80 {
            // mbrman's InvalidBootFlag; gdisk reads the 0x80 bit only.
            out.push(gpt(
                Severity::Warning,
                "gpt.pmbr.bad_status",
                at,
                format!(
                    "MBR entry {} has boot indicator 0x{:02X}; only 0x00 and 0x80 are defined",
                    e.slot, e.status
                ),
            ));
        }
        let stray = !e.is_used() && (e.os_type != 0 || e.size_in_lba != 0 || e.starting_lba != 0);
        if stray {
            // gdisk counts such a half-empty slot: a type with no size is a
            // hybrid entry matching no GPT partition (#25), a size with no
            // type overlaps the 0xEE entry (#26).
            out.push(gpt(
                Severity::Warning,
                "gpt.pmbr.stray_entry",
                at,
                format!(
                    "MBR entry {} is neither empty nor a partition (type 0x{:02X}, start LBA {}, {} sectors) in a GPT disk's MBR: a half-written or damaged slot that gdisk reports and other tools ignore",
                    e.slot, e.os_type, e.starting_lba, e.size_in_lba
                ),
            ).with_hint(Hint::writes("gdisk {disk}").on(Target::Disk).because("the recovery menu writes a fresh protective MBR (n)")));
        }
    }
    for e in m.entries.iter().filter(|e| e.is_used()) {
        if e.last_lba() >= disk {
            // #29
            out.push(gpt(
                Severity::Warning,
                "gpt.pmbr.too_big",
                entry_offset(e.slot).saturating_add(12),
                format!(
                    "MBR entry {} (type 0x{:02X}) ends at LBA {}, beyond the disk's {disk} sectors",
                    e.slot,
                    e.os_type,
                    e.last_lba()
                ),
            ).with_hint(Hint::writes("gdisk {disk}").on(Target::Disk).because("create a fresh protective or hybrid MBR: recovery menu n or h")));
        }
    }
    if m.kind == MbrKind::Hybrid {
        let parts = t.partitions();
        for e in m.real_entries() {
            if is_extended(e.os_type) {
                continue;
            }
            let start = u64::from(e.starting_lba);
            if !parts
                .iter()
                .any(|p| p.first_lba == start && p.last_lba == e.last_lba())
            {
                // #25
                out.push(gpt(
                    Severity::Warning,
                    "gpt.hybrid.mismatch",
                    entry_offset(e.slot),
                    format!(
                        "hybrid MBR entry {} (type 0x{:02X}, LBA {}..={}) has no GPT partition with the same range",
                        e.slot,
                        e.os_type,
                        start,
                        e.last_lba()
                    ),
                ));
            }
        }
        if !m.logicals.is_empty() {
            out.push(gpt(
                Severity::Warning,
                "gpt.hybrid.logicals",
                entry_offset(1),
                format!("the hybrid MBR has {} logical partitions: an extremely dangerous configuration", m.logicals.len()),
            ));
        }
    }
    mbr_overlaps(m, out, tags);
    let _ = ss;
}

/// #26 and dos.c "overlaps partition": every pair of used entries, and
/// logicals among themselves.
fn mbr_overlaps(m: &Mbr, out: &mut Vec<Finding>, tags: &mut Tags) {
    // (label, first, last, finding offset, partition number)
    let mut ranges: Vec<(String, u64, u64, u64, u32)> = m
        .entries
        .iter()
        .filter(|e| e.is_used())
        .map(|e| {
            (
                format!("entry {}", e.slot),
                u64::from(e.starting_lba),
                e.last_lba(),
                entry_offset(e.slot),
                u32::from(e.slot),
            )
        })
        .collect();
    let n_primary = ranges.len();
    ranges.extend(m.logicals.iter().map(|l| {
        (
            format!("logical {}", l.number),
            l.start_lba,
            l.start_lba.saturating_add(l.size_in_lba).saturating_sub(1),
            mul(l.ebr_lba, m.sector_size).saturating_add(entry_offset(1)),
            l.number,
        )
    }));
    let ext_slots: Vec<usize> = m
        .entries
        .iter()
        .filter(|e| e.is_used())
        .enumerate()
        .filter(|(_, e)| is_extended(e.os_type))
        .map(|(i, _)| i)
        .collect();
    let mut reported = 0usize;
    for (i, a) in ranges.iter().enumerate() {
        for (j, b) in ranges.iter().enumerate().skip(i.saturating_add(1)) {
            // A logical inside the extended container is where it belongs.
            let logical_in_ext = j >= n_primary && ext_slots.contains(&i);
            if logical_in_ext || reported >= MAX_PAIR_FINDINGS {
                continue;
            }
            if a.1 <= b.2 && b.1 <= a.2 {
                reported = reported.saturating_add(1);
                // An extended container is no partition node: the CLI then
                // keeps the finding on the table.
                tags.push((out.len(), b.4));
                out.push(mbrf(
                    Severity::Error,
                    "mbr.partition.overlap",
                    b.3,
                    format!(
                        "MBR {} (LBA {}..={}) and {} (LBA {}..={}) overlap",
                        a.0, a.1, a.2, b.0, b.1, b.2
                    ),
                ));
            }
        }
    }
}

fn mbr_checks(t: &Tables, m: &Mbr, out: &mut Vec<Finding>, tags: &mut Tags) {
    let disk = t.disk_sectors();
    let ss = t.sector.bytes;
    for e in m.entries.iter().filter(|e| e.is_used()) {
        let before = out.len();
        let at = entry_offset(e.slot);
        if e.status != 0 && e.status != 0x80 {
            out.push(mbrf(
                Severity::Warning,
                "mbr.partition.boot_flag",
                at,
                format!(
                    "MBR entry {} has status byte 0x{:02X}; only 0x00 and 0x80 are valid",
                    e.slot, e.status
                ),
            ));
        }
        if e.starting_lba == 0 {
            out.push(mbrf(
                Severity::Error,
                "mbr.partition.contains_sector0",
                at.saturating_add(8),
                format!("MBR entry {} starts at LBA 0, over the MBR itself", e.slot),
            ));
        }
        if e.last_lba() >= disk {
            let cut = e
                .last_lba()
                .saturating_add(1)
                .saturating_sub(disk.max(u64::from(e.starting_lba)));
            out.push(mbrf(
                Severity::Error,
                "mbr.partition.beyond_disk",
                at.saturating_add(12),
                format!(
                    "MBR entry {} (LBA {}..={}) runs past the end of the disk ({disk} sectors): {cut} sectors ({}) are missing",
                    e.slot,
                    e.starting_lba,
                    e.last_lba(),
                    human(mul(cut, ss))
                ),
            ));
        }
        tag_since(out, tags, before, u32::from(e.slot));
    }
    for l in &m.logicals {
        let before = out.len();
        let at = mul(l.ebr_lba, ss).saturating_add(entry_offset(1));
        let last = l.start_lba.saturating_add(l.size_in_lba).saturating_sub(1);
        if l.status != 0 && l.status != 0x80 {
            out.push(mbrf(
                Severity::Warning,
                "mbr.partition.boot_flag",
                at,
                format!(
                    "logical partition {} has status byte 0x{:02X}; only 0x00 and 0x80 are valid",
                    l.number, l.status
                ),
            ));
        }
        if let Some(ext) = m
            .entries
            .iter()
            .find(|e| e.is_used() && is_extended(e.os_type))
            && (l.start_lba <= u64::from(ext.starting_lba) || last > ext.last_lba())
        {
            out.push(mbrf(
                Severity::Error,
                "mbr.logical.outside_extended",
                at.saturating_add(8),
                format!(
                    "logical partition {} (LBA {}..={last}) is not entirely inside the extended partition (LBA {}..={})",
                    l.number,
                    l.start_lba,
                    ext.starting_lba,
                    ext.last_lba()
                ),
            ));
        }
        if last >= disk {
            out.push(mbrf(
                Severity::Error,
                "mbr.partition.beyond_disk",
                at.saturating_add(12),
                format!("logical partition {} (LBA {}..={last}) runs past the end of the disk ({disk} sectors)", l.number, l.start_lba),
            ));
        }
        tag_since(out, tags, before, l.number);
    }
    mbr_overlaps(m, out, tags);
}

fn free_space_findings(t: &Tables, layer: Layer, out: &mut Vec<Finding>) {
    let ss = t.sector.bytes;
    let free = t.free_ranges();
    let inside: Vec<_> = free.iter().filter(|f| !f.beyond_table).collect();
    if !inside.is_empty() {
        let total: u64 = inside
            .iter()
            .map(|f| f.sectors)
            .fold(0, u64::saturating_add);
        let mut msg = format!(
            "{total} free sectors ({}) in {} segments:",
            human(mul(total, ss)),
            inside.len()
        );
        for f in inside.iter().take(8) {
            let _ = write!(
                msg,
                " LBA {}..={} ({});",
                f.first_lba,
                f.first_lba.saturating_add(f.sectors).saturating_sub(1),
                human(f.size)
            );
        }
        let code = if layer == Layer::MBR {
            "mbr.free_space"
        } else {
            "gpt.free_space"
        };
        let first = inside.first().map_or(0, |f| f.start);
        out.push(Finding::info(
            code,
            layer.clone(),
            first,
            Space::Disk,
            msg.trim_end_matches(';').to_string(),
        ));
    }
    for f in free.iter().filter(|f| f.beyond_table) {
        out.push(
            Finding::info(
                "gpt.free_space.beyond_table",
                layer.clone(),
                f.start,
                Space::Disk,
                format!(
                    "{} at LBA {}..={} lie past the GPT's backup header, outside any table: the space an image grow added",
                    human(f.size),
                    f.first_lba,
                    f.first_lba.saturating_add(f.sectors).saturating_sub(1)
                ),
            )
            .with_hint(grow_hint(t)),
        );
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
        let tagged = check_attributed(&t);
        let beyond: Vec<_> = tagged
            .iter()
            .filter(|(f, _)| f.code == "gpt.partition.beyond_disk")
            .collect();
        assert_eq!(beyond.len(), MAX_FINDINGS_PER_CODE + 1);
        assert_eq!(beyond[0].1, Some(1));
        assert_eq!(beyond[MAX_FINDINGS_PER_CODE].1, None);
        assert!(
            f.iter()
                .any(|x| x.message.starts_with("8160 more gpt.partition.beyond_disk"))
        );
    }
}

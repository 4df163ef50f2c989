//! The GPT headers and their entry arrays, each copy on its own (what it
//! claims about itself) and the two copies against each other.

use super::{found_by_search, gpt};
use crate::header::{EntriesUnread, GptCopy, MAX_ENTRY_ARRAY_BYTES, REVISION_1_0, Role};
use crate::tables::Tables;
use crate::util::mul;
use imgcheck_core::{Finding, Hint, Severity, Target};

pub(super) fn copy_offset(t: &Tables, c: &GptCopy) -> u64 {
    mul(c.lba, t.sector.bytes)
}

pub(super) fn rebuild_hint(t: &Tables, role: Role) -> Hint {
    if t.cut_short() || t.end_not_ours() {
        return super::grow_hint(t);
    }
    match role {
        Role::Primary => Hint::writes("gdisk {disk}")
            .on(Target::Disk)
            .because("the backup copy can rebuild it: recovery menu r, then b (header) and c (table), then w"),
        Role::Backup => Hint::writes("sgdisk -e {disk}")
            .on(Target::Disk)
            .because("rewrites the backup from the primary at the end of the disk"),
    }
}

/// What to do with a disk cut short under its table: nothing that writes.
pub(super) fn cut_short_hint() -> Hint {
    Hint::advice(
        "the image was cut short under its table: restore the missing tail from the source or a backup (or truncate a copy back up to the size the table was written for); sgdisk -e or gdisk here would write the table's backup or a new protective MBR over the last partition's data",
    )
}

/// Load-time checks of one copy, kept even when the other copy is good.
pub(super) fn copy_checks(t: &Tables, c: &GptCopy, out: &mut Vec<Finding>) {
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
            .with_hint(rebuild_hint(t, c.role)),
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
        // An unreadable array is reported where it lies (check/reads.rs).
        Some(EntriesUnread::BadEntrySize | EntriesUnread::Unreadable) | None => {}
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
            .with_hint(rebuild_hint(t, c.role)),
        );
    }
}

pub(super) fn compare_copies(t: &Tables, p: &GptCopy, b: &GptCopy, out: &mut Vec<Finding>) {
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

/// A copy whose signature is not where it belongs, with the rebuild from
/// the other copy when that one is whole.
pub(super) fn missing_copies(t: &Tables, out: &mut Vec<Finding>) {
    let ss = t.sector.bytes;
    let last = t.disk_sectors().saturating_sub(1);
    let other_ok = |role: Role| {
        [t.primary.as_ref(), t.backup.as_ref()]
            .into_iter()
            .flatten()
            .any(|c| c.role != role && c.valid(ss))
    };
    // A header that could not be read is unknown, not missing: its
    // unreadable finding says so.
    if t.primary.is_none() && !t.unreadable_at(ss, ss) {
        let mut f = gpt(
            Severity::Error,
            "gpt.primary_header.missing",
            ss,
            format!("no GPT header at LBA 1 (byte {ss}): the \"EFI PART\" signature is gone"),
        );
        // With only a stale backup, gdisk cannot find the copy to rebuild
        // from: the found_by_search finding carries the recipe instead.
        if other_ok(Role::Primary) && !found_by_search(t) {
            f = f.with_hint(rebuild_hint(t, Role::Primary));
        }
        out.push(f);
    }
    let backup_unreadable = t
        .backup_searched
        .iter()
        .any(|&lba| t.unreadable_at(mul(lba, ss), ss));
    if t.backup.is_none() && !backup_unreadable {
        let mut f = gpt(
            Severity::Error,
            "gpt.backup_header.missing",
            mul(last, ss),
            format!(
                "no backup GPT header at LBA {:?} (the last LBA, and the primary's alternate_lba){}",
                t.backup_searched,
                t.backup_search.as_ref().map_or(String::new(), |s| format!(
                    ", nor at any of {} other places a grown disk's stale backup would be (the protective MBR's end, the last sector before each 1 MiB boundary){}",
                    s.probes,
                    if s.unreadable > 0 {
                        format!(", {} of which could not be read", s.unreadable)
                    } else {
                        String::new()
                    }
                ))
            ),
        );
        if other_ok(Role::Backup) {
            f = f.with_hint(rebuild_hint(t, Role::Backup));
        }
        out.push(f);
    }
}

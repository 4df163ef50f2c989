//! The disk's geometry as the table lays it out: the logical sector size,
//! where the entry arrays sit against the headers and the usable range,
//! a disk smaller than the table needs, and the free (unpartitioned) space.

use super::{copy_offset, gpt, grow_hint};
use crate::header::{MIN_ENTRY_ARRAY_BYTES, Role};
use crate::tables::{Scheme, Tables};
use crate::util::{human, mul};
use imgcheck_core::{Finding, Hint, Layer, Severity, Space, Target};
use std::fmt::Write as _;

pub(super) fn sector_size_checks(t: &Tables, out: &mut Vec<Finding>) {
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

pub(super) fn geometry_checks(t: &Tables, out: &mut Vec<Finding>) {
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
                    "if only the tail was cut off, restore the size (on a copy: `cp --sparse=always {{image}} {{image}}.copy; truncate -s {} {{image}}.copy`) and verify again; otherwise recover from the original disk",
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

pub(super) fn free_space_findings(t: &Tables, layer: Layer, out: &mut Vec<Finding>) {
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
                    "{} at LBA {}..={} lie past the GPT's backup header, outside any table: {}",
                    human(f.size),
                    f.first_lba,
                    f.first_lba.saturating_add(f.sectors).saturating_sub(1),
                    // Two images concatenated: that space is the other
                    // disk's, not what a grow added.
                    if t.foreign_at_end().is_some() {
                        "another disk image's (gpt.backup_header.foreign), not space a grow added"
                    } else {
                        "the space an image grow added"
                    }
                ),
            )
            .with_hint(grow_hint(t)),
        );
    }
}

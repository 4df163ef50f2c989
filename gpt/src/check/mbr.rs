//! A classic MBR: its four entries, the logical partitions of the EBR
//! chain, and overlaps among them all.

use super::{Tags, mbrf, tag_since};
use crate::mbr::{Mbr, entry_offset, is_extended};
use crate::tables::Tables;
use crate::util::{human, mul};
use imgcheck_core::{Finding, Severity};

/// #26 and dos.c "overlaps partition": every pair of used entries, and
/// logicals among themselves.
pub(super) fn mbr_overlaps(t: &Tables, m: &Mbr, out: &mut Vec<Finding>, tags: &mut Tags) {
    // (label, first, last, finding offset, partition number)
    let mut ranges: Vec<(String, u64, u64, u64, u32)> = m
        .entries
        .iter()
        .filter(|e| e.is_partition())
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
        .filter(|e| e.is_partition())
        .enumerate()
        .filter(|(_, e)| is_extended(e.os_type))
        .map(|(i, _)| i)
        .collect();
    for (i, a) in ranges.iter().enumerate() {
        for (j, b) in ranges.iter().enumerate().skip(i.saturating_add(1)) {
            // A logical inside the extended container is where it belongs.
            let logical_in_ext = j >= n_primary && ext_slots.contains(&i);
            // Partitions of an isohybrid image lie inside the ISO, which
            // the entry at sector 0 maps: by design.
            let inside_iso = t.isohybrid.is_some() && (a.1 == 0 || b.1 == 0);
            if logical_in_ext || inside_iso {
                continue;
            }
            if a.1 <= b.2 && b.1 <= a.2 {
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

pub(super) fn mbr_checks(t: &Tables, m: &Mbr, out: &mut Vec<Finding>, tags: &mut Tags) {
    let disk = t.disk_sectors();
    let ss = t.sector.bytes;
    for e in m.entries.iter().filter(|e| e.is_partition()) {
        let before = out.len();
        let at = entry_offset(e.slot);
        // An isohybrid MBR maps the ISO image itself from sector 0: by
        // design, and the ISO's own size says how long it should be.
        if let Some(iso) = t.isohybrid.as_ref().filter(|_| e.starting_lba == 0) {
            isohybrid_entry(t, e.slot, e.last_lba(), iso, out);
            tag_since(out, tags, before, u32::from(e.slot));
            continue;
        }
        // A primary's bad status byte makes the whole sector "not a
        // table" (tables::sector0), so it never reaches here.
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
    mbr_overlaps(t, m, out, tags);
}

/// The entry of an isohybrid MBR that starts at sector 0 and maps the ISO
/// 9660 image: what it is, and whether the disk holds all of it.
fn isohybrid_entry(
    t: &Tables,
    slot: u8,
    last: u64,
    iso: &crate::sig::Signature,
    out: &mut Vec<Finding>,
) {
    let disk = t.disk_sectors();
    let ss = t.sector.bytes;
    let mut msg = format!(
        "MBR entry {slot} starts at sector 0 and maps the {} image itself{}: an isohybrid image (xorriso, isohybrid), so that firmware and the kernel see the ISO as a partition when it is written to a USB stick",
        iso.display,
        iso.label
            .as_deref()
            .map_or(String::new(), |l| format!(" (\"{l}\")"))
    );
    if last >= disk {
        let _ = std::fmt::Write::write_fmt(
            &mut msg,
            format_args!(
                "; it and the ISO's own size ({}) reach past the end of this {} copy, which holds only the image's start (a header sample or a cut-off download); the ISO's contents are identified, not checked",
                human(iso.size.unwrap_or(mul(last.saturating_add(1), ss))),
                human(t.disk_size),
            ),
        );
    }
    out.push(mbrf(
        Severity::Info,
        "mbr.isohybrid",
        entry_offset(slot),
        msg,
    ));
}

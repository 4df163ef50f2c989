//! The GPT partition entries: each against the disk, the usable range and
//! the entry arrays, then every pair (overlaps, shared unique GUIDs).

use super::{ALIGNMENT_BYTES, Tags, gpt, tag_since};
use crate::header::GptCopy;
use crate::tables::{Partition, Tables};
use crate::util::{human, mul};
use imgcheck_core::{Finding, Hint, Severity, Target};
use std::collections::HashMap;

pub(super) fn partition_checks(
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
    // #23: overlaps, by a sweep over partitions sorted by start (at most
    // one finding per partition; the cap of check() bounds what is listed).
    let mut sorted: Vec<&Partition> = parts.iter().filter(|p| p.last_lba >= p.first_lba).collect();
    sorted.sort_by_key(|p| (p.first_lba, p.number));
    let mut reach: Option<&Partition> = None;
    for p in sorted {
        if let Some(q) = reach
            && q.last_lba >= p.first_lba
        {
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
        if reach.is_none_or(|q| p.last_lba > q.last_lba) {
            reach = Some(p);
        }
    }
    // Duplicate unique GUIDs: tools that address partitions by PARTUUID
    // (kernel root=PARTUUID=, systemd) pick one arbitrarily.
    let mut seen: HashMap<String, u32> = HashMap::new();
    for p in parts {
        let Some(g) = p.unique_guid else { continue };
        if let Some(first) = seen.get(&g.to_string()) {
            tags.push((out.len(), p.number));
            out.push(
                // Every tool reads the table whole; what breaks is lookup by
                // PARTUUID: a warning, not damage.
                gpt(
                    Severity::Warning,
                    "gpt.partition.duplicate_guid",
                    entries_at(p).saturating_add(0x10),
                    format!(
                        "partitions {first} and {} share the unique GUID {g}, which the UEFI specification requires to be unique: root=PARTUUID=, /dev/disk/by-partuuid and firmware boot entries name either one",
                        p.number
                    ),
                )
                .with_hint(
                    Hint::writes(format!("sgdisk -u {}:R {{disk}}", p.number))
                        .on(Target::Disk)
                        .because("gives the partition a new random GUID"),
                ),
            );
        } else {
            seen.insert(g.to_string(), p.number);
        }
    }
}

//! A disk that grew after it was partitioned: the backup GPT left behind
//! in the middle of the disk, and the one repair that must not be
//! suggested when only that stale copy survives.

use super::{SGDISK_E, SGDISK_E_WHY, gpt};
use crate::tables::Tables;
use crate::util::{human, mul};
use imgcheck_core::{Finding, Hint, Severity, Target};

/// Whether the only GPT copy left is a stale backup found by searching.
pub(super) fn found_by_search(t: &Tables) -> bool {
    t.only_stale_backup()
}

/// The repair for a grown disk. With only a stale backup left, `sgdisk -e`
/// sees no table at all and writes an empty one: never suggest it then.
pub(super) fn grow_hint(t: &Tables) -> Hint {
    if t.cut_short() {
        super::headers::cut_short_hint()
    } else if t.foreign_at_end().is_some() {
        Hint::advice(
            "do not run `sgdisk -e`, gdisk or growpart here: the disk's last sector holds another disk's backup GPT header (see gpt.backup_header.foreign), and moving this table's backup to the end writes over that disk",
        )
    } else if t.other_table_at_end().is_some() {
        Hint::advice(
            "do not run `sgdisk -e` or grow anything: the backup GPT at the disk's end is another table's (see gpt.backup_header.other_table), and moving this table's backup there destroys it",
        )
    } else if let Some(at) = t.data_past_table {
        // Data past the table's end: a smaller image written over a larger
        // disk looks just like a grown one, and sgdisk -e would put the
        // backup over what survives. Look first; write nothing.
        Hint::read_only(format!(
            "dd if={{disk}} bs=4096 skip={} count=256 status=none | file -; testdisk /list {{disk}}",
            at / 4096
        ))
        .on(Target::Disk)
        .because(format!(
            "the space past the table's end is not empty (data at byte {at}): see what lives there before anything grows over it"
        ))
    } else if found_by_search(t) {
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
pub(super) fn stale_backup_findings(t: &Tables, out: &mut Vec<Finding>) {
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

/// Two tables: the primary written for a smaller disk, and a valid
/// backup at this disk's last LBA that the primary does not point to,
/// written for the whole disk. That is not a grown disk (growing leaves
/// nothing at the new end): a smaller image's bytes were written over
/// the start of a disk partitioned at its full size, and the backup is
/// what survives of the earlier table, the victim's.
pub(super) fn other_table(t: &Tables, out: &mut Vec<Finding>) {
    let Some((p, b)) = t.other_table_at_end() else {
        return;
    };
    let ss = t.sector.bytes;
    let listed = |c: &crate::header::GptCopy| -> String {
        let parts: Vec<String> = c
            .entries
            .iter()
            .flat_map(|a| a.entries.iter())
            .take(4)
            .map(|e| {
                format!(
                    "{} LBA {}..={} {}",
                    e.index,
                    e.starting_lba,
                    e.ending_lba,
                    e.type_name.unwrap_or("unknown type")
                )
            })
            .collect();
        if parts.is_empty() {
            "no partitions".to_string()
        } else {
            format!("partitions {}", parts.join(", "))
        }
    };
    let same_guid = p.header.disk_guid == b.header.disk_guid;
    out.push(
        gpt(
            Severity::Error,
            "gpt.backup_header.other_table",
            mul(b.lba, ss),
            format!(
                "two partition tables: the primary (disk GUID {}, {}) was written for a {} disk (its backup at LBA {}), but a valid backup header at the last LBA {} (disk GUID {}{}, {}) was written for this whole {} disk and the primary does not point to it. A disk that grew has nothing at its new end, so this is a smaller image written over the start of a disk partitioned at its full size: the primary is the intruder's table, the backup at the end the victim's",
                p.header.disk_guid,
                listed(p),
                human(mul(p.header.alternate_lba.saturating_add(1), ss)),
                p.header.alternate_lba,
                b.lba,
                b.header.disk_guid,
                if same_guid { ", the same" } else { ", another disk's" },
                listed(b),
                human(t.disk_size),
            ),
        )
        .with_hint(
            Hint::advice(
                "leave the image as it is: on a copy (cp --sparse=always {image} {image}.victim), gdisk's recovery menu r, c loads the backup table and rebuilds the main one from it (p lists it; w writes, only on the copy). sgdisk -e or any grow here would overwrite that backup",
            )
            .on(Target::Image),
        ),
    );
}

/// A valid backup GPT header at the last LBA that is not this disk's
/// ([`Tables::foreign_at_end`]): said with whose it is and, when its
/// disk ends here, where that disk starts and whether its primary is
/// there. Only read-only steps: both disks' tables are intact.
pub(super) fn foreign_end(t: &Tables, out: &mut Vec<Finding>) {
    let Some(fb) = t.foreign_at_end() else {
        return;
    };
    let (b, start) = (&fb.copy, fb.start);
    let ss = t.sector.bytes;
    let h = &b.header;
    let ours = t
        .primary
        .as_ref()
        .filter(|p| p.header_valid(ss))
        .map(|p| p.header.disk_guid);
    let guid = match ours {
        Some(g) if g == h.disk_guid => "the same disk GUID as this disk's primary".to_string(),
        Some(g) => format!("disk GUID {}, not this disk's {g}", h.disk_guid),
        None => format!("disk GUID {}", h.disk_guid),
    };
    let (story, hint) = match start {
        Some(at) => {
            let size = t.disk_size.saturating_sub(at);
            let primary = if fb.primary_found {
                format!(
                    "; its primary header is at byte {}, that disk's LBA 1, under the same GUID",
                    at.saturating_add(ss)
                )
            } else {
                "; no primary header of it is at that disk's LBA 1 (overwritten, or the image was written there without its start)".to_string()
            };
            (
                format!(
                    "its my_lba {} says it was written as the last sector of a disk of {} sectors ({}), so a disk image ends here that starts at byte {at} (LBA {}) of this one: two disk images concatenated, or one written inside this disk{primary}",
                    h.my_lba,
                    h.my_lba.saturating_add(1),
                    human(mul(h.my_lba.saturating_add(1), ss)),
                    at.checked_div(ss).unwrap_or(0),
                ),
                Hint::read_only(format!(
                    "DEV=$(losetup --read-only -f --show -o {at} --sizelimit {size} {{disk}}); sgdisk -p \"$DEV\"; losetup -d \"$DEV\""
                ))
                .on(Target::Disk)
                .because("read the other disk's table where it lies, without writing; then split the image into its disks (on copies) rather than repairing one table over the other"),
            )
        }
        None => (
            format!(
                "its my_lba is {} and its alternate_lba {}: it was not written for this disk",
                h.my_lba, h.alternate_lba
            ),
            Hint::advice(
                "write no table here: neither sgdisk -e nor gdisk's rebuild, which would replace another disk's header with this one's",
            ),
        ),
    };
    out.push(
        gpt(
            Severity::Warning,
            "gpt.backup_header.foreign",
            mul(b.lba, ss),
            format!(
                "the last LBA {} holds a valid backup GPT header that is not this disk's ({guid}): {story}. It is not read as this disk's backup",
                b.lba
            ),
        )
        .with_hint(hint),
    );
}

/// The backup header short of the last LBA: the disk grew after it was
/// partitioned.
pub(super) fn not_at_end(t: &Tables, out: &mut Vec<Finding>) {
    let ss = t.sector.bytes;
    let last = t.disk_sectors().saturating_sub(1);
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
                if t.foreign_at_end().is_some() {
                    format!(
                        "the backup GPT header is at LBA {bl}, not at the last LBA {last}: the {grown} sectors ({}) past it are not this table's (another disk's backup header ends them, gpt.backup_header.foreign), and the table does not cover them",
                        human(mul(grown, ss))
                    )
                } else {
                    format!(
                        "the backup GPT header is at LBA {bl}, not at the last LBA {last}: the disk grew by {grown} sectors ({}) after it was partitioned, and the table does not cover that space",
                        human(mul(grown, ss))
                    )
                },
            )
            .with_hint(grow_hint(t)),
        );
    }
}

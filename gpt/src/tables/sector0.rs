//! What a sector 0 that ends in 0x55AA is. The signature alone is shared
//! by the MBR and by the boot sectors of NTFS, FAT and exFAT, so the
//! evidence is weighed as the kernel (`msdos_partition`) and libblkid
//! (`probe_dos_pt`) weigh it, and a little further:
//!
//! - a status byte other than 0x00 or 0x80 in any entry: the kernel and
//!   blkid refuse the sector as a partition table;
//! - a boot sector whose BPB validates ([`crate::boot_volume`]): a bare
//!   volume, its "entries" are boot code;
//! - entries that cannot describe this disk (they overlap, run past its
//!   end, or contain sector 0) while a filesystem's superblock sits at its
//!   fixed offset from byte 0: stray bytes at LBA 0 of a bare filesystem;
//! - an ISO 9660 volume at 32 KiB under entries that start at sector 0:
//!   an isohybrid image, whose MBR maps the ISO itself by design.

use super::unreadable::{Unreadable, note};
use crate::mbr::{Mbr, TYPE_PROTECTIVE, is_extended};
use crate::sig::{Signature, boot_volume, probe_at};
use imgcheck_core::{Layer, ReadAt};
use serde::Serialize;

/// Why a sector 0 with a boot signature is not read as a partition table.
#[derive(Debug, Clone, Serialize)]
pub struct NotATable {
    /// The evidence, in words.
    pub reason: String,
    /// The filesystem whose boot sector or superblock it is, when one is.
    pub volume: Option<Signature>,
}

/// The MBR entries as they bear on whether they describe this disk:
/// the first one that cannot, in words.
pub fn entries_misfit(m: &Mbr, disk_sectors: u64) -> Option<String> {
    let used: Vec<_> = m
        .entries
        .iter()
        .filter(|e| e.is_partition() && e.os_type != TYPE_PROTECTIVE)
        .collect();
    for e in &used {
        if e.starting_lba == 0 {
            return Some(format!("entry {} starts at sector 0, over itself", e.slot));
        }
        if e.last_lba() >= disk_sectors {
            return Some(format!(
                "entry {} (LBA {}..={}) runs past the end of the disk ({disk_sectors} sectors)",
                e.slot,
                e.starting_lba,
                e.last_lba()
            ));
        }
    }
    for (i, a) in used.iter().enumerate() {
        for b in used.iter().skip(i.saturating_add(1)) {
            if u64::from(a.starting_lba) <= b.last_lba()
                && u64::from(b.starting_lba) <= a.last_lba()
            {
                return Some(format!("entries {} and {} overlap", a.slot, b.slot));
            }
        }
    }
    None
}

/// The first entry whose status byte is neither 0x00 nor 0x80.
fn bad_status(m: &Mbr) -> Option<String> {
    m.entries
        .iter()
        .find(|e| e.status != 0 && e.status != 0x80)
        .map(|e| {
            format!(
                "entry {} has status byte 0x{:02X} (only 0x00 and 0x80 are valid)",
                e.slot, e.status
            )
        })
}

/// The ISO 9660 volume an isohybrid MBR maps: an ISO at 32 KiB, and an
/// entry that starts at sector 0 (the ISO itself).
pub fn isohybrid<R: ReadAt + ?Sized>(r: &R, m: &Mbr) -> Option<Signature> {
    let maps_itself = m
        .entries
        .iter()
        .any(|e| e.size_in_lba != 0 && e.starting_lba == 0 && !is_extended(e.os_type));
    if !maps_itself {
        return None;
    }
    probe_at(r, 0)
        .ok()
        .flatten()
        .filter(|s| s.kind == "iso9660" || s.kind == "udf")
        .or_else(|| {
            // A copy cut short inside the primary volume descriptor (a
            // header sample) still shows its identifier at 32 KiB + 1.
            crate::util::read_opt(r, 0x8000, 6, 6)
                .filter(|b| b.as_slice() == b"\x01CD001")
                .map(|_| crate::sig::sig("iso9660", "ISO 9660", None, "", 0))
        })
}

/// Decides whether the classic-looking MBR `m` of `r` is a partition
/// table; `Some` says why not. A read that fails while deciding is noted
/// in `unread`, and the MBR is then kept (unknown is not evidence).
pub fn not_a_table<R: ReadAt + ?Sized>(
    r: &R,
    m: &Mbr,
    disk_sectors: u64,
    unread: &mut Vec<Unreadable>,
) -> Option<NotATable> {
    if !m.signature_ok || m.entries.iter().any(|e| e.os_type == TYPE_PROTECTIVE) {
        return None;
    }
    let mut failed = |structure: &str, e: &imgcheck_core::ReadError| {
        if let Some(u) = Unreadable::from_error(structure, Layer::MBR, e) {
            note(unread, u);
        }
    };
    match boot_volume(r) {
        Ok(Some(s)) => {
            return Some(NotATable {
                reason: format!(
                    "sector 0 is the boot sector of a {} volume: its BIOS parameter block validates as libblkid validates it, so the bytes where an MBR keeps its entries are boot code (neither the kernel nor blkid reads it as a partition table)",
                    s.display
                ),
                volume: Some(s),
            });
        }
        Ok(None) => {}
        Err(e) => {
            failed(
                "boot sector (sector 0 and the structures its BPB names)",
                &e,
            );
            return None;
        }
    }
    if let Some(why) = bad_status(m) {
        let volume = probe_at(r, 0).ok().flatten();
        return Some(NotATable {
            reason: format!(
                "sector 0 ends in 0x55AA but {why}: the kernel and libblkid do not read it as a partition table"
            ),
            volume,
        });
    }
    if isohybrid(r, m).is_some() {
        return None;
    }
    let misfit = entries_misfit(m, disk_sectors)?;
    match probe_at(r, 0) {
        Ok(Some(s)) => Some(NotATable {
            reason: format!(
                "sector 0 ends in 0x55AA but its {misfit}, while a {} superblock sits at its fixed offset from byte 0: the disk is that filesystem, and LBA 0 holds stray bytes",
                s.display
            ),
            volume: Some(s),
        }),
        Ok(None) => None,
        Err(e) => {
            failed("filesystem superblock at the start of the disk", &e);
            None
        }
    }
}

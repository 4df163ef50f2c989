//! The logical sector size: a disk image does not record it, so it is
//! decided from where the GPT signatures sit, the protective MBR's size,
//! and, for a classic MBR, where partition contents are found.

use super::unreadable::{Got, Unreadable, note, read_noted};
use crate::header::SIGNATURE;
use crate::mbr::{Mbr, TYPE_PROTECTIVE, is_extended};
use crate::util::{human, mul};
use imgcheck_core::bytes::{bytes, le32};
use imgcheck_core::{Layer, ReadAt};
use serde::Serialize;

/// The logical sector sizes a disk image may use.
pub const SECTOR_SIZES: [u64; 2] = [512, 4096];

/// The logical sector size and how it was decided.
#[derive(Debug, Clone, Serialize)]
pub struct SectorSize {
    /// 512 or 4096.
    pub bytes: u64,
    /// The facts it rests on (`"EFI PART" at byte 4096`, …).
    pub evidence: Vec<String>,
    /// True when nothing on disk told: 512 is then an assumption (MBR
    /// convention), reported as such.
    pub assumed: bool,
    /// True when both sizes found some support.
    pub ambiguous: bool,
}

/// Whether `"EFI PART"` is at `off`; a failed read is noted and answers no.
fn sig_at<R: ReadAt + ?Sized>(
    r: &R,
    off: u64,
    structure: impl FnOnce() -> String,
    unread: &mut Vec<Unreadable>,
) -> bool {
    match read_noted(r, off, 8, 8, structure, Layer::GPT, unread) {
        Got::Bytes(b) => b.as_slice() == SIGNATURE,
        Got::Absent | Got::Unreadable => false,
    }
}

/// Decides the logical sector size from where `"EFI PART"` sits, the
/// self-pointers of the headers found, and the protective MBR's size.
/// A read that fails (other than past the end) counts as no evidence;
/// [`crate::parse`] reports it.
pub fn detect_sector_size<R: ReadAt + ?Sized>(r: &R) -> SectorSize {
    detect(r, &mut Vec::new())
}

/// [`detect_sector_size`], noting the reads that failed in `unread`.
pub(crate) fn detect<R: ReadAt + ?Sized>(r: &R, unread: &mut Vec<Unreadable>) -> SectorSize {
    let len = r.len();
    let lba0 = match read_noted(r, 0, 512, 512, || "MBR (LBA 0)".into(), Layer::MBR, unread) {
        Got::Bytes(b) => Some(b),
        Got::Absent | Got::Unreadable => None,
    };
    let pmbr_size = lba0.and_then(|s| {
        (bytes(&s, 510, 2) == [0x55, 0xAA])
            .then(|| {
                (0..4usize).find_map(|i| {
                    let b = 0x1BEusize.saturating_add(i.saturating_mul(16));
                    (s.get(b.saturating_add(4)).copied() == Some(TYPE_PROTECTIVE))
                        .then(|| le32(&s, b.saturating_add(12)))
                })
            })
            .flatten()
    });
    let mut scored: Vec<(u64, u32, Vec<String>)> = Vec::new();
    for ss in SECTOR_SIZES {
        let mut score = 0u32;
        let mut ev = Vec::new();
        let last = len.checked_div(ss).unwrap_or(0).saturating_sub(1);
        let primary = || format!("primary GPT header (LBA 1 of {ss}-byte sectors)");
        if sig_at(r, ss, primary, unread) {
            score = score.saturating_add(4);
            ev.push(format!("primary \"EFI PART\" at byte {ss}"));
            if matches!(
                read_noted(r, ss.saturating_add(0x18), 8, 8, primary, Layer::GPT, unread),
                Got::Bytes(b) if b == 1u64.to_le_bytes()
            ) {
                score = score.saturating_add(1);
            }
        }
        if len.is_multiple_of(ss)
            && len >= ss.saturating_mul(3)
            && sig_at(
                r,
                mul(last, ss),
                || format!("backup GPT header (the last {ss}-byte sector, LBA {last})"),
                unread,
            )
        {
            score = score.saturating_add(3);
            ev.push(format!("backup \"EFI PART\" at the last {ss}-byte sector"));
        }
        if let Some(size) = pmbr_size {
            let covers = u64::from(size).saturating_add(1).saturating_mul(ss);
            if covers == len || (size == u32::MAX && last > u64::from(u32::MAX)) {
                score = score.saturating_add(1);
                ev.push(format!(
                    "protective MBR size {size} × {ss} B matches the disk size ({})",
                    human(len)
                ));
            }
        }
        scored.push((ss, score, ev));
    }
    let supported = scored.iter().filter(|(_, s, _)| *s > 0).count();
    let best = scored
        .iter()
        .max_by_key(|(ss, s, _)| (*s, u64::MAX.saturating_sub(*ss)))
        .cloned();
    match best {
        Some((ss, s, ev)) if s > 0 => SectorSize {
            bytes: ss,
            evidence: ev,
            assumed: false,
            ambiguous: supported > 1,
        },
        _ => SectorSize {
            bytes: 512,
            evidence: vec![
                "no GPT signature at byte 512 or 4096 and no protective MBR size: 512 assumed"
                    .into(),
            ],
            assumed: true,
            ambiguous: false,
        },
    }
}

/// Most MBR partitions probed for contents when inferring the sector size.
const MAX_SIZE_PROBES: usize = 8;

/// An MBR does not record its sector size: count the partitions whose
/// start holds a known signature when LBAs are 512-byte and 4096-byte
/// sectors, and keep the size the contents agree with. A partition at
/// LBA 0 is at byte 0 either way and says nothing; a start that cannot be
/// read is noted in `unread` and counts for neither.
pub(super) fn infer_mbr_sector_size<R: ReadAt + ?Sized>(
    r: &R,
    m: &Mbr,
    sector: &mut SectorSize,
    unread: &mut Vec<Unreadable>,
) {
    let starts: Vec<u64> = m
        .entries
        .iter()
        .filter(|e| e.is_used() && !is_extended(e.os_type) && e.starting_lba != 0)
        .map(|e| u64::from(e.starting_lba))
        .take(MAX_SIZE_PROBES)
        .collect();
    let mut hits = |ss: u64| {
        let mut n = 0usize;
        for &lba in &starts {
            match crate::sig::probe_at(r, mul(lba, ss)) {
                Ok(Some(_)) => n = n.saturating_add(1),
                Ok(None) => {}
                Err(e) => {
                    let what = format!("start of MBR partition at LBA {lba} ({ss}-byte sectors)");
                    if let Some(u) = Unreadable::from_error(what, Layer::MBR, &e) {
                        note(unread, u);
                    }
                }
            }
        }
        n
    };
    let (h512, h4k) = (hits(512), hits(4096));
    if h4k > h512 {
        *sector = SectorSize {
            bytes: 4096,
            evidence: vec![format!(
                "MBR partition starts hold filesystem signatures when counted in 4096-byte sectors ({h4k} of {}), not in 512-byte ones ({h512})",
                starts.len()
            )],
            assumed: false,
            // One size that explains every start is the answer; the
            // other's hits are partitions that happen to lie where a
            // start counted in it lands (a logical at 8 MiB, LBA 2048 × 4096).
            ambiguous: h512 > 0 && h4k < starts.len(),
        };
    } else if h512 > 0 {
        *sector = SectorSize {
            bytes: 512,
            evidence: vec![format!(
                "MBR partition starts hold filesystem signatures when counted in 512-byte sectors ({h512} of {})",
                starts.len()
            )],
            assumed: false,
            ambiguous: h4k > 0 && h512 < starts.len(),
        };
    }
}

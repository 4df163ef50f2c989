//! The Sun (SPARC/Solaris) disk label in sector 0: magic 0xDABE at byte
//! 508, a 16-bit XOR checksum over the whole sector, eight slices counted
//! in cylinders (libblkid `sun.c`, util-linux `pt-sun.h`).

use super::{Evidence, Label, LabelPartition};
use crate::util::{be16, be32, mul};

/// The VTOC's sanity word (`SUN_VTOC_SANITY`).
const VTOC_SANITY: u32 = 0x600D_DEEE;
/// Slices in a Sun label.
const SLICES: usize = 8;
/// The tag of the slice that stands for the whole disk.
const WHOLE_DISK: u16 = 0x05;

fn tag_name(tag: u16) -> &'static str {
    match tag {
        0x00 => "unassigned",
        0x01 => "boot",
        0x02 => "SunOS root",
        0x03 => "SunOS swap",
        0x04 => "SunOS usr",
        0x05 => "whole disk",
        0x06 => "SunOS stand",
        0x07 => "SunOS var",
        0x08 => "SunOS home",
        0x82 => "Linux swap",
        0x83 => "Linux native",
        0x8E => "Linux LVM",
        0xFD => "Linux raid autodetect",
        _ => "unknown",
    }
}

pub(super) fn detect(s: &[u8]) -> Option<Label> {
    if be16(s, 508) != 0xDABE {
        return None;
    }
    let xor = s.chunks_exact(2).fold(0u16, |acc, w| acc ^ be16(w, 0));
    if xor != 0 {
        return None;
    }
    let spc = u64::from(be16(s, 436)).saturating_mul(u64::from(be16(s, 438)));
    let vtoc_ok = be32(s, 188) == VTOC_SANITY && be32(s, 128) == 1 && be16(s, 140) <= 8;
    let vtoc_blank = be32(s, 188) == 0 && be32(s, 128) == 0 && be16(s, 140) == 0;
    let nparts = if vtoc_ok {
        usize::from(be16(s, 140))
    } else {
        SLICES
    };
    let mut partitions = Vec::new();
    for i in 0..nparts.min(SLICES) {
        let p = 444usize.saturating_add(i.saturating_mul(8));
        let start = u64::from(be32(s, p)).saturating_mul(spc);
        let sectors = u64::from(be32(s, p.saturating_add(4)));
        if sectors == 0 {
            continue;
        }
        let tag = if vtoc_ok || vtoc_blank {
            be16(s, 142usize.saturating_add(i.saturating_mul(4)))
        } else {
            0
        };
        partitions.push(LabelPartition {
            number: u32::try_from(i).unwrap_or(0).saturating_add(1),
            start: mul(start, 512),
            size: mul(sectors, 512),
            type_name: tag_name(tag).to_string(),
            name: String::new(),
            whole: tag == WHOLE_DISK,
        });
    }
    Some(Label {
        scheme: "sun",
        name: "Sun disk label",
        evidence: "magic 0xDABE at byte 508 and an XOR checksum over sector 0 that verifies".into(),
        strength: Evidence::Checksum,
        partitions,
        listed: true,
        notes: vec![format!(
            "geometry {} heads × {} sectors per track; slices start on cylinder boundaries",
            be16(s, 436),
            be16(s, 438)
        )],
    })
}

//! The SGI (IRIX) disk label ("volume header") in sector 0: magic
//! 0x0BE5A941 and a 32-bit two's-complement checksum over the 512-byte
//! label (libblkid `sgi.c`, util-linux `pt-sgi.h`). Named, not listed:
//! its volume directory and overlapping volume-header slices are not
//! checked here.

use super::{Evidence, Label};
use crate::util::be32;

/// Partition slots in an SGI label.
const SLOTS: usize = 16;

pub(super) fn detect(s: &[u8]) -> Option<Label> {
    if be32(s, 0) != 0x0BE5_A941 || s.len() < 512 {
        return None;
    }
    let sum = s
        .chunks_exact(4)
        .fold(0u32, |acc, w| acc.wrapping_add(be32(w, 0)));
    if sum != 0 {
        return None;
    }
    let used = (0..SLOTS)
        .filter(|i| be32(s, 312usize.saturating_add(i.saturating_mul(12))) != 0)
        .count();
    Some(Label {
        scheme: "sgi",
        name: "SGI disk label",
        evidence: "magic 0x0BE5A941 at byte 0 and a checksum over the label that verifies".into(),
        strength: Evidence::Checksum,
        partitions: Vec::new(),
        listed: false,
        notes: vec![format!("{used} of its {SLOTS} partition slots are in use")],
    })
}

//! The Atari (AHDI) root sector: four primary entries at 0x1C6, each a
//! flag byte (bit 0: in use), a three-letter id (GEM, BGM, XGM, LNX …)
//! and start and size in 512-byte sectors, big-endian; the disk's size at
//! 0x1C2. It has no magic number: libblkid (`atari.c`) and the kernel
//! accept it when one entry is in use with an alphanumeric id and fits
//! the disk, and probe it last. Named, not listed: XGM chains and ICD
//! entries are not followed here.

use super::{Evidence, Label};
use crate::util::{be32, bytes};

/// The primary entries.
const PART: usize = 0x1C6;

pub(super) fn detect(s0: &[u8], disk_sectors: u64) -> Option<Label> {
    let valid = |i: usize| {
        let p = PART.saturating_add(i.saturating_mul(12));
        let flags = s0.get(p).copied().unwrap_or(0);
        let id = bytes(s0, p.saturating_add(1), 3);
        let start = u64::from(be32(s0, p.saturating_add(4)));
        let size = u64::from(be32(s0, p.saturating_add(8)));
        (flags & 1 == 1
            && id.len() == 3
            && id.iter().all(u8::is_ascii_alphanumeric)
            && start.saturating_add(size) <= disk_sectors)
            .then(|| String::from_utf8_lossy(id).to_string())
    };
    let ids: Vec<String> = (0..4).filter_map(valid).collect();
    if ids.is_empty() {
        return None;
    }
    Some(Label {
        scheme: "atari",
        name: "Atari (AHDI) partition table",
        evidence: format!(
            "root sector entries in use with ids {} that fit the disk (no magic number: weak evidence, as blkid weighs it)",
            ids.join(", ")
        ),
        strength: Evidence::Magic,
        partitions: Vec::new(),
        listed: false,
        notes: vec![format!("disk size field {} sectors", be32(s0, 0x1C2))],
    })
}

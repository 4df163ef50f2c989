//! Whether a reader holds a FAT filesystem, and on what evidence: a BPB
//! whose fields are consistent (sector size a power of two from 512 to
//! 4096, sectors per cluster a power of two, reserved sectors ≥ 1, FATs ≥
//! 1, a media byte Linux accepts, a FAT large enough for the clusters the
//! volume's size gives, a root directory), then the jump and the `55 AA`
//! signature, then the size against the container. A partition table
//! prober weighs this against an MBR's entries: a FAT boot sector carries
//! `55 AA` too, and its partition "entries" are boot code.

use crate::bpb::{BOOT_SECTOR_LEN, Bpb, FatKind, Geometry, media_ok};
use imgcheck_core::{Probe, ReadAt, Strength, human_size};
use serde::Serialize;

/// What [`identify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identified {
    /// The FAT type as Linux reads it.
    pub kind: FatKind,
    /// How strong the evidence is.
    pub strength: Strength,
    /// The evidence, in words.
    pub evidence: String,
    /// Bytes the boot sector says the filesystem has.
    pub fs_bytes: u64,
    /// Bytes per sector.
    pub sector_size: u32,
    /// `BPB_HiddSec`: where the formatter thought the volume started.
    pub hidden_sectors: u32,
    /// Only a FAT32 backup boot sector is usable (at this byte offset).
    pub backup_at: Option<u64>,
}

/// Identifies a FAT filesystem at the start of `r` (reads at most five
/// 512-byte sectors).
pub fn identify(r: &dyn ReadAt) -> Option<Identified> {
    let mut b = vec![0u8; BOOT_SECTOR_LEN];
    r.read_exact_at(0, &mut b).ok()?;
    let bpb = Bpb::parse(&b);
    match Geometry::from_bpb(&bpb) {
        Ok(g) => Some(judge(&bpb, &g, r.len(), None)),
        Err(_) => backup(r),
    }
}

/// [`identify`] as the layer contract's probe.
pub fn probe(r: &dyn ReadAt) -> Option<Probe> {
    identify(r).map(|i| Probe::new(i.strength, i.evidence))
}

fn judge(bpb: &Bpb, g: &Geometry, have: u64, backup_at: Option<u64>) -> Identified {
    let mut odd = Vec::new();
    if g.sector_size > 4096 {
        odd.push(format!("{} bytes per sector", g.sector_size));
    }
    if !g.sectors_per_cluster.is_power_of_two() {
        odd.push(format!("{} sectors per cluster", g.sectors_per_cluster));
    }
    if !media_ok(bpb.media) {
        odd.push(format!("media byte {:#04x}", bpb.media));
    }
    if !bpb.jump_ok() {
        odd.push("no jump instruction".into());
    }
    // A missing 55 AA alone leaves the BPB's consistency as the evidence:
    // edk2's FAT driver (FatPkg FatOpenDevice), Linux and fsck.fat read a
    // volume by its BPB and never look at it (OVMF booted an ESP whose
    // 55 AA was zeroed: attack 16 F7), so it does not weaken the probe.
    let unsigned = bpb.signature != 0xAA55;
    let fits = g.fs_bytes <= have;
    if !fits {
        odd.push(format!(
            "claims {} but the reader holds {}",
            human_size(g.fs_bytes),
            human_size(have)
        ));
    }
    let strength = if backup_at.is_some() {
        Strength::Weak
    } else if odd.is_empty() {
        Strength::Structure
    } else {
        Strength::Magic
    };
    if unsigned {
        odd.push("no 55 AA signature".into());
    }
    let mut evidence = match backup_at {
        Some(at) => format!(
            "no usable boot sector at byte 0; an intact FAT32 backup boot sector at byte {at}: {} clusters of {} bytes",
            g.clusters, g.cluster_size
        ),
        None => format!(
            "{} boot sector at byte 0 whose BPB is consistent: {} clusters of {} bytes, {} FAT(s) of {} sectors, {}",
            g.kind,
            g.clusters,
            g.cluster_size,
            g.num_fats,
            g.fat_sectors,
            human_size(g.fs_bytes)
        ),
    };
    if !odd.is_empty() {
        evidence.push_str(&format!(" (but {})", odd.join(", ")));
    }
    Identified {
        kind: g.kind,
        strength,
        evidence,
        fs_bytes: g.fs_bytes,
        sector_size: g.sector_size,
        hidden_sectors: bpb.hidden_sectors,
        backup_at,
    }
}

/// A FAT32 backup boot sector at sector 6, for a reader whose sector 0 is
/// unusable (zeroed or overwritten).
fn backup(r: &dyn ReadAt) -> Option<Identified> {
    for size in [512u64, 1024, 2048, 4096] {
        let at = size.saturating_mul(6);
        let mut b = vec![0u8; BOOT_SECTOR_LEN];
        if r.read_exact_at(at, &mut b).is_err() {
            continue;
        }
        let bpb = Bpb::parse(&b);
        if !bpb.fat32_layout
            || u64::from(bpb.bytes_per_sector) != size
            || bpb.backup_boot_sector != 6
            || bpb.signature != 0xAA55
        {
            continue;
        }
        if let Ok(g) = Geometry::from_bpb(&bpb) {
            return Some(judge(&bpb, &g, r.len(), Some(at)));
        }
    }
    None
}

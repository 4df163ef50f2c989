//! The boot sector and its BIOS parameter block (BPB), field by field at
//! the offsets of Microsoft's FAT specification (fatgen103), and the
//! geometry derived from it exactly as the specification computes it: root
//! directory sectors, first data sector, the count of data clusters, and
//! the FAT type decided by that count.
//!
//! Where readers disagree with the specification the geometry says so
//! rather than choosing silently: Linux and fsck.fat read a boot sector
//! whose 16-bit FAT size is 0 as FAT32 whatever its cluster count, while
//! the specification (and Windows, and mtools) decide by the count alone.
//! [`Geometry::kind`] is how Linux and fsck.fat read it,
//! [`Geometry::kind_by_count`] the specification's answer.

use imgcheck_core::bytes::{arr, le16, le32, u8_at};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where the `55 AA` signature sits in every FAT boot sector, whatever the
/// sector size (fatgen103: "sector\[510\] equals 0x55, and sector\[511\]
/// equals 0xAA").
pub const SIGNATURE_OFFSET: usize = 510;
/// Bytes of a boot sector that hold the BPB, the extended boot record and
/// the signature: what is read and compared (fsck.fat compares these 512
/// bytes with the backup).
pub const BOOT_SECTOR_LEN: usize = 512;
/// Clusters below this count make a FAT12 volume (fatgen103).
pub const FAT12_MAX_CLUSTERS: u32 = 4084;
/// Clusters below this count and at least 4085 make a FAT16 volume.
pub const FAT16_MAX_CLUSTERS: u32 = 65524;
/// The largest cluster count a FAT32 volume can address: entries are 28
/// bits and 0x0FFFFFF7 and up are the bad and end-of-chain marks.
pub const FAT32_MAX_CLUSTERS: u32 = 0x0FFF_FFF5;
/// The extended boot signature that says volume id, label and type follow.
pub const EXTENDED_BOOT_SIGNATURE: u8 = 0x29;
/// A label field that means "no label" (mkfs.vfat, Windows).
pub const NO_NAME: [u8; 11] = *b"NO NAME    ";

/// The three FAT variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum FatKind {
    /// 12-bit FAT entries.
    #[serde(rename = "FAT12")]
    Fat12,
    /// 16-bit FAT entries.
    #[serde(rename = "FAT16")]
    Fat16,
    /// 32-bit FAT entries of which 28 bits are used.
    #[serde(rename = "FAT32")]
    Fat32,
}

impl FatKind {
    /// Bits per FAT entry on disk.
    pub fn bits(self) -> u64 {
        match self {
            FatKind::Fat12 => 12,
            FatKind::Fat16 => 16,
            FatKind::Fat32 => 32,
        }
    }

    /// The mask of an entry's value bits (FAT32's top four bits are
    /// reserved and not part of the cluster number).
    pub fn mask(self) -> u32 {
        match self {
            FatKind::Fat12 => 0x0FFF,
            FatKind::Fat16 => 0xFFFF,
            FatKind::Fat32 => 0x0FFF_FFFF,
        }
    }

    /// The value that marks a bad cluster.
    pub fn bad(self) -> u32 {
        self.mask() & !8
    }

    /// The smallest end-of-chain mark; every value from here to the mask
    /// ends a chain.
    pub fn eoc_min(self) -> u32 {
        self.mask() & !7
    }

    /// The bits FAT\[0\] must have set besides the media byte
    /// (fsck.fat's `FAT_EXTD`: every bit above the low nibble).
    pub fn extd(self) -> u32 {
        self.mask() & !0xF
    }

    /// The name tools print (`FAT12`).
    pub fn name(self) -> &'static str {
        match self {
            FatKind::Fat12 => "FAT12",
            FatKind::Fat16 => "FAT16",
            FatKind::Fat32 => "FAT32",
        }
    }

    /// The type the specification assigns to a volume of `clusters` data
    /// clusters.
    pub fn by_count(clusters: u32) -> FatKind {
        if clusters <= FAT12_MAX_CLUSTERS {
            FatKind::Fat12
        } else if clusters <= FAT16_MAX_CLUSTERS {
            FatKind::Fat16
        } else {
            FatKind::Fat32
        }
    }
}

impl fmt::Display for FatKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A boot sector's fields, raw, named after the specification's `BPB_*`
/// and `BS_*` fields. Nothing is validated here; [`Geometry::from_bpb`]
/// does that.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bpb {
    /// `BS_jmpBoot` (0x00): `EB xx 90` or `E9 xx xx`.
    pub jump: [u8; 3],
    /// `BS_OEMName` (0x03), e.g. `mkfs.fat`, `MSWIN4.1`.
    pub oem: [u8; 8],
    /// `BPB_BytsPerSec` (0x0B).
    pub bytes_per_sector: u16,
    /// `BPB_SecPerClus` (0x0D).
    pub sectors_per_cluster: u8,
    /// `BPB_RsvdSecCnt` (0x0E).
    pub reserved_sectors: u16,
    /// `BPB_NumFATs` (0x10).
    pub num_fats: u8,
    /// `BPB_RootEntCnt` (0x11): entries of the fixed root directory (0 on FAT32).
    pub root_entries: u16,
    /// `BPB_TotSec16` (0x13).
    pub total_sectors_16: u16,
    /// `BPB_Media` (0x15).
    pub media: u8,
    /// `BPB_FATSz16` (0x16): 0 on FAT32.
    pub fat_size_16: u16,
    /// `BPB_SecPerTrk` (0x18).
    pub sectors_per_track: u16,
    /// `BPB_NumHeads` (0x1A).
    pub heads: u16,
    /// `BPB_HiddSec` (0x1C): sectors before the volume (its partition's start).
    pub hidden_sectors: u32,
    /// `BPB_TotSec32` (0x20).
    pub total_sectors_32: u32,
    /// `BPB_FATSz32` (0x24, FAT32 only).
    pub fat_size_32: u32,
    /// `BPB_ExtFlags` (0x28): bit 7 set = mirroring off, bits 0–3 the active FAT.
    pub ext_flags: u16,
    /// `BPB_FSVer` (0x2A).
    pub fs_version: u16,
    /// `BPB_RootClus` (0x2C): the FAT32 root directory's first cluster.
    pub root_cluster: u32,
    /// `BPB_FSInfo` (0x30): sector of the FSInfo structure.
    pub fsinfo_sector: u16,
    /// `BPB_BkBootSec` (0x32): sector of the backup boot sector (6).
    pub backup_boot_sector: u16,
    /// `BS_DrvNum` (0x24, or 0x40 on FAT32).
    pub drive_number: u8,
    /// `BS_Reserved1` (0x25 / 0x41): Linux keeps its dirty flag in bit 0.
    pub state_flags: u8,
    /// `BS_BootSig` (0x26 / 0x42): 0x29 when the next three fields exist.
    pub boot_signature: u8,
    /// `BS_VolID` (0x27 / 0x43).
    pub volume_id: u32,
    /// `BS_VolLab` (0x2B / 0x47).
    pub volume_label: [u8; 11],
    /// `BS_FilSysType` (0x36 / 0x52), informational only.
    pub fs_type: [u8; 8],
    /// The 16-bit word at byte 510 (`0xAA55` when intact).
    pub signature: u16,
    /// Whether the extended boot record is read at FAT32's offsets
    /// (`BPB_FATSz16` = 0 and `BPB_FATSz32` ≠ 0), as Linux and fsck.fat do.
    pub fat32_layout: bool,
}

impl Bpb {
    /// The fields of `b` (a boot sector; a short buffer reads as zeros).
    pub fn parse(b: &[u8]) -> Bpb {
        let fat_size_16 = le16(b, 0x16);
        let fat_size_32 = le32(b, 0x24);
        let fat32_layout = fat_size_16 == 0 && fat_size_32 != 0;
        let x = if fat32_layout { 0x40 } else { 0x24 };
        let (ext_flags, fs_version, root_cluster, fsinfo_sector, backup_boot_sector) =
            if fat32_layout {
                (
                    le16(b, 0x28),
                    le16(b, 0x2A),
                    le32(b, 0x2C),
                    le16(b, 0x30),
                    le16(b, 0x32),
                )
            } else {
                (0, 0, 0, 0, 0)
            };
        Bpb {
            jump: arr(b, 0),
            oem: arr(b, 3),
            bytes_per_sector: le16(b, 0x0B),
            sectors_per_cluster: u8_at(b, 0x0D),
            reserved_sectors: le16(b, 0x0E),
            num_fats: u8_at(b, 0x10),
            root_entries: le16(b, 0x11),
            total_sectors_16: le16(b, 0x13),
            media: u8_at(b, 0x15),
            fat_size_16,
            sectors_per_track: le16(b, 0x18),
            heads: le16(b, 0x1A),
            hidden_sectors: le32(b, 0x1C),
            total_sectors_32: le32(b, 0x20),
            fat_size_32: if fat32_layout { fat_size_32 } else { 0 },
            ext_flags,
            fs_version,
            root_cluster,
            fsinfo_sector,
            backup_boot_sector,
            drive_number: u8_at(b, x),
            state_flags: u8_at(b, x.saturating_add(1)),
            boot_signature: u8_at(b, x.saturating_add(2)),
            volume_id: le32(b, x.saturating_add(3)),
            volume_label: arr(b, x.saturating_add(7)),
            fs_type: arr(b, x.saturating_add(18)),
            signature: le16(b, SIGNATURE_OFFSET),
            fat32_layout,
        }
    }

    /// Byte offset of the extended boot record's first field (`BS_DrvNum`).
    pub fn ext_offset(&self) -> u64 {
        if self.fat32_layout { 0x40 } else { 0x24 }
    }

    /// Byte offset of the state byte holding Linux's dirty flag.
    pub fn state_offset(&self) -> u64 {
        self.ext_offset().saturating_add(1)
    }

    /// `BPB_TotSec16` when non-zero, else `BPB_TotSec32` (the
    /// specification's rule, and Linux's and fsck.fat's).
    pub fn total_sectors(&self) -> u32 {
        if self.total_sectors_16 != 0 {
            u32::from(self.total_sectors_16)
        } else {
            self.total_sectors_32
        }
    }

    /// Sectors of one FAT copy.
    pub fn fat_sectors(&self) -> u32 {
        if self.fat_size_16 != 0 {
            u32::from(self.fat_size_16)
        } else {
            self.fat_size_32
        }
    }

    /// Whether volume id, label and type are present (boot signature 0x29).
    pub fn has_extended(&self) -> bool {
        self.boot_signature == EXTENDED_BOOT_SIGNATURE
    }

    /// The label as fsck.fat reads it: the 11 bytes when the extended boot
    /// signature is 0x29, else 11 zero bytes (which fsck.fat calls an
    /// invalid label).
    pub fn label_field(&self) -> [u8; 11] {
        if self.has_extended() {
            self.volume_label
        } else {
            [0u8; 11]
        }
    }

    /// The volume id as tools print it (`5A5A-0001`), when recorded.
    pub fn volume_id_text(&self) -> Option<String> {
        self.has_extended().then(|| volume_id_text(self.volume_id))
    }

    /// Whether the first byte is one Windows accepts as the boot sector's
    /// jump (fastfat's `FatIsBootSectorFat`: a short or near jump, or the
    /// 0x49 some old formatters wrote; the specification's `EB xx 90` is
    /// one of them).
    pub fn jump_ok(&self) -> bool {
        matches!(self.jump[0], 0xEB | 0xE9 | 0x49)
    }
}

/// `0x5A5A0001` → `5A5A-0001`.
pub fn volume_id_text(id: u32) -> String {
    format!("{:04X}-{:04X}", id >> 16, id & 0xFFFF)
}

/// Whether `m` is a media byte Linux accepts (0xF0 or 0xF8–0xFF).
pub fn media_ok(m: u8) -> bool {
    m == 0xF0 || m >= 0xF8
}

/// Where the root directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Root {
    /// FAT12/16 (and FAT32 in fsck.fat's "compatibility mode"): a fixed
    /// region after the FATs.
    Fixed {
        /// First byte.
        start: u64,
        /// Number of 32-byte entries.
        entries: u32,
    },
    /// FAT32: a cluster chain.
    Chain {
        /// First cluster (`BPB_RootClus`).
        cluster: u32,
    },
}

/// Why a boot sector cannot describe a filesystem that can be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unusable {
    /// The field at fault (`BPB_BytsPerSec`).
    pub field: &'static str,
    /// Its byte offset in the boot sector.
    pub offset: u64,
    /// What is wrong, in words.
    pub why: String,
}

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (byte {:#x}): {}", self.field, self.offset, self.why)
    }
}

/// The layout of a FAT volume, derived from a BPB whose fields allow it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Geometry {
    /// The FAT type as Linux and fsck.fat read it.
    pub kind: FatKind,
    /// The FAT type the specification assigns by cluster count.
    pub kind_by_count: FatKind,
    /// Bytes per logical sector.
    pub sector_size: u32,
    /// Sectors per cluster.
    pub sectors_per_cluster: u32,
    /// Bytes per cluster.
    pub cluster_size: u32,
    /// Reserved sectors before the first FAT.
    pub reserved_sectors: u32,
    /// Number of FAT copies.
    pub num_fats: u32,
    /// Sectors per FAT copy.
    pub fat_sectors: u32,
    /// First byte of FAT copy 1.
    pub fat_start: u64,
    /// Bytes per FAT copy.
    pub fat_bytes: u64,
    /// Where the root directory is.
    pub root: Root,
    /// First byte of the data area (cluster 2).
    pub data_start: u64,
    /// Sectors of the volume.
    pub total_sectors: u64,
    /// Bytes of the volume: `total_sectors × sector_size`.
    pub fs_bytes: u64,
    /// Data clusters (numbered 2 to `clusters + 1`).
    pub clusters: u32,
}

impl Geometry {
    /// The geometry `b` describes, or why it cannot describe one. These
    /// are the conditions under which fsck.fat gives up (`die()` in
    /// `read_boot`) or Linux refuses to mount; lesser problems are
    /// findings of the boot sector check.
    pub fn from_bpb(b: &Bpb) -> Result<Geometry, Unusable> {
        let bad = |field, offset, why: String| Unusable { field, offset, why };
        let bps = u32::from(b.bytes_per_sector);
        if !(512..=32768).contains(&bps) || !bps.is_power_of_two() {
            return Err(bad(
                "BPB_BytsPerSec",
                0x0B,
                format!("{bps} bytes per sector is not a power of two from 512 to 4096"),
            ));
        }
        let spc = u32::from(b.sectors_per_cluster);
        if spc == 0 {
            return Err(bad("BPB_SecPerClus", 0x0D, "0 sectors per cluster".into()));
        }
        let rsvd = u32::from(b.reserved_sectors);
        if rsvd == 0 {
            return Err(bad(
                "BPB_RsvdSecCnt",
                0x0E,
                "0 reserved sectors: the FAT would overlap the boot sector".into(),
            ));
        }
        let nfats = u32::from(b.num_fats);
        if nfats == 0 {
            return Err(bad("BPB_NumFATs", 0x10, "0 FATs".into()));
        }
        let fat_sectors = b.fat_sectors();
        if fat_sectors == 0 {
            return Err(bad(
                if b.fat_size_16 == 0 {
                    "BPB_FATSz32"
                } else {
                    "BPB_FATSz16"
                },
                if b.fat_size_16 == 0 { 0x24 } else { 0x16 },
                "the FAT size is 0".into(),
            ));
        }
        let total = u64::from(b.total_sectors());
        if total == 0 {
            return Err(bad(
                "BPB_TotSec16/BPB_TotSec32",
                0x13,
                "the volume has 0 sectors".into(),
            ));
        }
        let root_entries = u32::from(b.root_entries);
        if root_entries % 16 != 0 {
            return Err(bad(
                "BPB_RootEntCnt",
                0x11,
                format!("{root_entries} root directory entries do not fill whole 512-byte sectors"),
            ));
        }
        let bps64 = u64::from(bps);
        let root_bytes = u64::from(root_entries).saturating_mul(32);
        let root_sectors = root_bytes.div_ceil(bps64);
        let fats_sectors = u64::from(nfats).saturating_mul(u64::from(fat_sectors));
        let first_data = u64::from(rsvd)
            .saturating_add(fats_sectors)
            .saturating_add(root_sectors);
        let data_sectors = total.saturating_sub(first_data);
        let clusters64 = data_sectors.checked_div(u64::from(spc)).unwrap_or(0);
        if clusters64 == 0 {
            return Err(bad(
                "BPB_TotSec16/BPB_TotSec32",
                0x13,
                format!(
                    "{total} sectors leave no room for a data cluster after the {first_data} sectors of boot area, FATs and root directory"
                ),
            ));
        }
        let clusters = u32::try_from(clusters64).unwrap_or(u32::MAX);
        let kind_by_count = FatKind::by_count(clusters);
        let kind = if b.fat32_layout {
            FatKind::Fat32
        } else if clusters <= FAT12_MAX_CLUSTERS {
            FatKind::Fat12
        } else {
            FatKind::Fat16
        };
        if kind != FatKind::Fat32 && clusters > FAT16_MAX_CLUSTERS {
            return Err(bad(
                "BPB_FATSz16",
                0x16,
                format!(
                    "{clusters} clusters are too many for FAT16 (at most {FAT16_MAX_CLUSTERS}) and the boot sector is not laid out as FAT32"
                ),
            ));
        }
        if kind == FatKind::Fat32 && clusters > FAT32_MAX_CLUSTERS {
            return Err(bad(
                "BPB_TotSec32",
                0x20,
                format!(
                    "{clusters} clusters are more than FAT32 can address ({FAT32_MAX_CLUSTERS})"
                ),
            ));
        }
        let fat_bytes = u64::from(fat_sectors).saturating_mul(bps64);
        let fat_entries = fat_bytes
            .saturating_mul(8)
            .checked_div(kind.bits())
            .unwrap_or(0);
        if u64::from(clusters).saturating_add(2) > fat_entries {
            return Err(bad(
                if b.fat_size_16 == 0 {
                    "BPB_FATSz32"
                } else {
                    "BPB_FATSz16"
                },
                if b.fat_size_16 == 0 { 0x24 } else { 0x16 },
                format!(
                    "the volume has {clusters} clusters but its FAT of {fat_sectors} sectors has room for only {} entries",
                    fat_entries.saturating_sub(2)
                ),
            ));
        }
        let fat_start = u64::from(rsvd).saturating_mul(bps64);
        let root_start = fat_start.saturating_add(fats_sectors.saturating_mul(bps64));
        let root = if kind == FatKind::Fat32 && b.root_cluster != 0 {
            Root::Chain {
                cluster: b.root_cluster,
            }
        } else if root_entries == 0 {
            return Err(bad(
                if kind == FatKind::Fat32 {
                    "BPB_RootClus"
                } else {
                    "BPB_RootEntCnt"
                },
                if kind == FatKind::Fat32 { 0x2C } else { 0x11 },
                "there is no root directory (no root cluster and no root entries)".into(),
            ));
        } else {
            Root::Fixed {
                start: root_start,
                entries: root_entries,
            }
        };
        Ok(Geometry {
            kind,
            kind_by_count,
            sector_size: bps,
            sectors_per_cluster: spc,
            cluster_size: bps.saturating_mul(spc),
            reserved_sectors: rsvd,
            num_fats: nfats,
            fat_sectors,
            fat_start,
            fat_bytes,
            root,
            data_start: first_data.saturating_mul(bps64),
            total_sectors: total,
            fs_bytes: total.saturating_mul(bps64),
            clusters,
        })
    }

    /// The highest valid cluster number.
    pub fn max_cluster(&self) -> u32 {
        self.clusters.saturating_add(1)
    }

    /// Whether `c` numbers a data cluster.
    pub fn is_cluster(&self, c: u32) -> bool {
        c >= 2 && c <= self.max_cluster()
    }

    /// First byte of cluster `c` (which must be a data cluster).
    pub fn cluster_offset(&self, c: u32) -> u64 {
        u64::from(c.saturating_sub(2))
            .saturating_mul(u64::from(self.cluster_size))
            .saturating_add(self.data_start)
    }

    /// The cluster holding byte `off` of the volume, if it is in the data area.
    pub fn cluster_at(&self, off: u64) -> Option<u32> {
        let rel = off.checked_sub(self.data_start)?;
        let c = rel.checked_div(u64::from(self.cluster_size))?;
        let c = u32::try_from(c).ok()?.checked_add(2)?;
        self.is_cluster(c).then_some(c)
    }

    /// First byte of FAT copy `k` (0-based).
    pub fn fat_copy_start(&self, k: u32) -> u64 {
        self.fat_start
            .saturating_add(self.fat_bytes.saturating_mul(u64::from(k)))
    }

    /// Bytes of a FAT copy that hold entries 0 to `clusters + 1` (what
    /// fsck.fat compares between copies); the rest of the FAT is slack.
    pub fn fat_used_bytes(&self) -> u64 {
        (u64::from(self.clusters).saturating_add(2))
            .saturating_mul(self.kind.bits())
            .div_ceil(8)
    }

    /// Bytes past the last cluster up to the end of the volume (sectors
    /// that belong to no cluster).
    pub fn slack_start(&self) -> u64 {
        self.cluster_offset(self.clusters.saturating_add(2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The boot sector mkfs.vfat 4.2 writes for `-F 12` on 1440 KiB.
    fn floppy() -> Vec<u8> {
        let mut b = vec![0u8; 512];
        b[0..3].copy_from_slice(&[0xEB, 0x3C, 0x90]);
        b[3..11].copy_from_slice(b"mkfs.fat");
        b[0x0B..0x0D].copy_from_slice(&512u16.to_le_bytes());
        b[0x0D] = 1;
        b[0x0E] = 1;
        b[0x10] = 2;
        b[0x11..0x13].copy_from_slice(&224u16.to_le_bytes());
        b[0x13..0x15].copy_from_slice(&2880u16.to_le_bytes());
        b[0x15] = 0xF0;
        b[0x16..0x18].copy_from_slice(&9u16.to_le_bytes());
        b[0x26] = 0x29;
        b[0x2B..0x36].copy_from_slice(b"FLOPPY     ");
        b[510] = 0x55;
        b[511] = 0xAA;
        b
    }

    #[test]
    fn floppy_geometry_is_the_specs() {
        let b = Bpb::parse(&floppy());
        assert!(!b.fat32_layout && b.jump_ok() && b.has_extended());
        let g = Geometry::from_bpb(&b).unwrap();
        // 1 + 2*9 + 14 = 33 sectors before the data; (2880-33)/1 clusters.
        assert_eq!(g.data_start, 33 * 512);
        assert_eq!(g.clusters, 2847);
        assert_eq!((g.kind, g.kind_by_count), (FatKind::Fat12, FatKind::Fat12));
        assert_eq!(
            g.root,
            Root::Fixed {
                start: 19 * 512,
                entries: 224
            }
        );
        assert_eq!(g.fat_used_bytes(), (2849 * 12u64).div_ceil(8));
        assert_eq!(g.cluster_offset(2), g.data_start);
        assert_eq!(g.cluster_at(g.data_start + 513), Some(3));
        assert_eq!(g.cluster_at(0), None);
    }

    #[test]
    fn thresholds_are_the_specs() {
        assert_eq!(FatKind::by_count(4084), FatKind::Fat12);
        assert_eq!(FatKind::by_count(4085), FatKind::Fat16);
        assert_eq!(FatKind::by_count(65524), FatKind::Fat16);
        assert_eq!(FatKind::by_count(65525), FatKind::Fat32);
        assert_eq!(FatKind::Fat12.bad(), 0xFF7);
        assert_eq!(FatKind::Fat16.eoc_min(), 0xFFF8);
        assert_eq!(FatKind::Fat32.extd(), 0x0FFF_FFF0);
    }

    #[test]
    fn unusable_fields_are_named() {
        let mut s = floppy();
        s[0x0B] = 0;
        s[0x0C] = 3; // 768
        let e = Geometry::from_bpb(&Bpb::parse(&s)).unwrap_err();
        assert_eq!(e.field, "BPB_BytsPerSec");
        let mut s = floppy();
        s[0x16] = 1; // a FAT of one sector cannot hold 2849 entries
        let e = Geometry::from_bpb(&Bpb::parse(&s)).unwrap_err();
        assert!(e.why.contains("room for only 339 entries"), "{e}");
        let mut s = floppy();
        s[0x11] = 8; // 8 root entries
        s[0x12] = 0;
        assert_eq!(
            Geometry::from_bpb(&Bpb::parse(&s)).unwrap_err().field,
            "BPB_RootEntCnt"
        );
        for (off, field) in [
            (0x0D, "BPB_SecPerClus"),
            (0x0E, "BPB_RsvdSecCnt"),
            (0x10, "BPB_NumFATs"),
        ] {
            let mut s = floppy();
            s[off] = 0;
            assert_eq!(
                Geometry::from_bpb(&Bpb::parse(&s)).unwrap_err().field,
                field
            );
        }
        assert!(Geometry::from_bpb(&Bpb::parse(&[])).is_err());
    }

    #[test]
    fn fat32_layout_is_read_by_the_fat_size_fields() {
        let mut s = floppy();
        s[0x16] = 0;
        s[0x17] = 0;
        s[0x24..0x28].copy_from_slice(&23u32.to_le_bytes());
        s[0x2C..0x30].copy_from_slice(&2u32.to_le_bytes());
        s[0x11] = 0;
        let b = Bpb::parse(&s);
        assert!(b.fat32_layout);
        let g = Geometry::from_bpb(&b).unwrap();
        // Linux reads it as FAT32; by its cluster count it is FAT12.
        assert_eq!((g.kind, g.kind_by_count), (FatKind::Fat32, FatKind::Fat12));
        assert_eq!(g.root, Root::Chain { cluster: 2 });
        assert_eq!(volume_id_text(0x5A5A_0001), "5A5A-0001");
    }
}

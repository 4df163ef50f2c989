//! What a check found the filesystem to be, typed, for the report, the
//! cross-layer checks (size chain, zero map, boot chain, timeline) and
//! embedders.

use crate::bpb::{FatKind, Root};
use imgcheck_core::{Depth, Structure};
use serde::{Deserialize, Serialize};

/// Which boot sector the check read the filesystem through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BootSource {
    /// Sector 0, as every reader does.
    Primary,
    /// The FAT32 backup boot sector: the primary is unusable, and readers
    /// other than this check will not find the filesystem.
    Backup {
        /// Byte offset of the backup used.
        offset: u64,
    },
}

/// The markers of an unclean shutdown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dirty {
    /// Bit 0 of the boot sector's state byte: Linux sets it while mounted.
    pub boot_flag: bool,
    /// FAT\[1\]'s clean-shutdown bit is clear (FAT16 bit 15, FAT32 bit 27):
    /// Windows clears it while mounted.
    pub fat_clean_bit_clear: bool,
    /// FAT\[1\]'s no-I/O-error bit is clear (FAT16 bit 14, FAT32 bit 26):
    /// the driver met a disk error.
    pub io_error_bit_clear: bool,
}

impl Dirty {
    /// Whether either unclean-shutdown marker is set (fsck.fat's test).
    pub fn is_dirty(&self) -> bool {
        self.boot_flag || self.fat_clean_bit_clear
    }
}

/// The FAT32 FSInfo sector's contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FsInfo {
    /// Byte offset.
    pub offset: u64,
    /// Whether its three signatures are intact.
    pub valid: bool,
    /// Its free-cluster count, when recorded (not 0xFFFFFFFF).
    pub free_clusters: Option<u32>,
    /// Its next-free hint, when recorded.
    pub next_free: Option<u32>,
}

/// Cluster usage found by the full check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// FAT entries that are 0.
    pub free_clusters: u32,
    /// Clusters marked bad.
    pub bad_clusters: u32,
    /// Clusters claimed by files and directories.
    pub used_clusters: u32,
    /// Clusters allocated in the FAT but reached from no directory entry.
    pub lost_clusters: u32,
    /// The chains those form.
    pub lost_chains: u32,
    /// Files found (not directories, not the label).
    pub files: u64,
    /// Directories found (not the root).
    pub directories: u64,
    /// Bytes the files' entries say they hold.
    pub file_bytes: u64,
    /// Deleted entries (first byte 0xE5), a trace of deleted files.
    pub deleted_entries: u64,
}

/// A timestamp and the path it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// Unix seconds of the clock as recorded (FAT keeps local time and no
    /// zone; it is shown as if UTC).
    pub time: i64,
    /// The entry's path.
    pub path: String,
}

/// Timestamps for the timeline.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Times {
    /// When the volume label entry was last written (mkfs.vfat, fatlabel).
    pub label_written: Option<i64>,
    /// The newest last-write time of any entry (full check).
    pub newest_write: Option<Stamp>,
    /// The newest creation time of any entry (full check).
    pub newest_create: Option<Stamp>,
    /// The oldest creation time of any entry (full check).
    pub oldest_create: Option<Stamp>,
}

/// A byte range of the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
}

impl ByteRange {
    /// One past the last byte.
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.len)
    }
}

/// A chain allocated in the FAT that no directory entry reaches: the
/// data of a file whose entry was lost or overwritten.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostChain {
    /// First cluster.
    pub first_cluster: u32,
    /// Clusters in it.
    pub clusters: u32,
    /// Where its data is (merged runs of clusters; at most
    /// [`crate::MAX_EXTENTS_LISTED`] runs listed).
    pub extents: Vec<ByteRange>,
    /// Its first cluster starts with `.` and `..` entries: a lost directory.
    pub looks_like_directory: bool,
}

/// The filesystem described.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The FAT type as Linux and fsck.fat read it.
    pub kind: FatKind,
    /// The FAT type the specification assigns by cluster count.
    pub kind_by_count: FatKind,
    /// The boot sector read.
    pub boot_sector: BootSource,
    /// `BS_OEMName`, as text.
    pub oem: String,
    /// Bytes per sector.
    pub sector_size: u32,
    /// Bytes per cluster.
    pub cluster_size: u32,
    /// Data clusters.
    pub clusters: u32,
    /// Reserved sectors.
    pub reserved_sectors: u32,
    /// FAT copies.
    pub fats: u32,
    /// Bytes per FAT copy.
    pub fat_bytes: u64,
    /// The FAT copy the check read the chains from (1-based).
    pub fat_used: u32,
    /// Where the root directory is.
    pub root: Root,
    /// First byte of cluster 2.
    pub data_start: u64,
    /// Bytes the boot sector says the filesystem has (a link of the size chain).
    pub fs_bytes: u64,
    /// Bytes of what holds it.
    pub container_bytes: u64,
    /// `BPB_HiddSec`: sectors before the volume (its partition's start, as
    /// the formatter saw it).
    pub hidden_sectors: u32,
    /// `BS_VolID`, when recorded.
    pub volume_id: Option<u32>,
    /// The volume id as tools print it (`5A5A-0001`).
    pub volume_id_text: Option<String>,
    /// The label tools show: the root directory's label entry, else the
    /// boot sector's (unless `NO NAME`).
    pub label: Option<String>,
    /// The boot sector's label field (when the extended boot signature is there).
    pub boot_label: Option<String>,
    /// The root directory's label entry.
    pub root_label: Option<String>,
    /// Unclean-shutdown markers.
    pub dirty: Dirty,
    /// The FAT32 FSInfo sector.
    pub fsinfo: Option<FsInfo>,
    /// Usage (full check only).
    pub usage: Option<Usage>,
    /// Timestamps.
    pub times: Times,
    /// Where the boot sectors, FSInfo sectors, FAT copies and the fixed
    /// root directory are, with their roles.
    pub structures: Vec<Structure>,
    /// Lost chains (full check; at most [`crate::MAX_LOST_LISTED`]).
    pub lost_chains: Vec<LostChain>,
    /// How far the check went.
    pub depth: Depth,
    /// Set when a bound stopped the check before it checked everything.
    pub incomplete: Option<String>,
}

//! imgcheck-fat: a read-only FAT12/16/32 checker in the spirit of
//! `fsck.fat -n` (dosfstools), and a file-level API for the checks built on
//! it (the boot chain reads `\EFI\BOOT\BOOTX64.EFI` through it; the zero
//! and lost-files maps ask which path a byte range belonged to).
//!
//! ```no_run
//! use imgcheck_core::{Depth, FileReader};
//! use imgcheck_fat::{Options, Volume, check};
//!
//! let esp = FileReader::open("esp.img")?;
//! let report = check(&esp, &Options { depth: Depth::Full });
//! if let Some(s) = &report.summary {
//!     println!("{} with {}-byte clusters, label {:?}", s.kind, s.cluster_size, s.label);
//! }
//! for f in &report.findings {
//!     println!("{f}");
//! }
//! let vol = Volume::open(&esp)?;
//! if let Some(loader) = vol.lookup(r"\EFI\BOOT\BOOTX64.EFI")? {
//!     let head = vol.read(&loader, 4096)?;
//!     println!("{} bytes, starts {:02x?}", loader.size, head.get(..2));
//!     for x in vol.chain(&loader).extents {
//!         println!("  bytes {}..{}", x.start, x.end());
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Every entry point takes any [`imgcheck_core::ReadAt`], so a fuzzer or
//! a test drives them on bytes in memory:
//!
//! ```
//! use imgcheck_core::{BytesReader, Depth};
//! use imgcheck_fat::{Options, check, probe};
//!
//! let bytes = BytesReader::new(vec![0u8; 1 << 16]);
//! assert!(probe(&bytes).is_none());
//! let r = check(&bytes, &Options { depth: Depth::Full });
//! assert!(r.summary.is_none() && r.findings.iter().any(|f| f.code == "fat.boot.unusable"));
//! ```
//!
//! # What is checked
//! In fsck.fat's order ([`check`]): the boot sector and BPB (and the
//! geometry by the specification's cluster count); the FAT32 backup boot
//! sector and FSInfo sectors (signatures, free count, next free); the FAT
//! copies (first entries, media byte, reserved entry, agreement, entries out
//! of range); the directory tree (`.` and `..`, bad and duplicate short
//! names, long-name slots, directories that loop) with every cluster chain
//! (free, bad and out-of-range clusters in it, loops, cross-links, chains
//! too long or too short for the file's size); the volume label (boot
//! sector against root directory); lost chains; the dirty bits; the size
//! against the container. [`Options::depth`] `Quick` stops after the
//! fixed structures and the root directory's label. Memory is bounded by a
//! few bits per cluster and the FAT itself ([`table::MAX_FAT_BYTES`]); each
//! cluster is claimed once, so every chain and the tree walk end.
//!
//! Where fsck.fat 4.2 and upstream dosfstools differ, this follows
//! upstream: an entry's `NTRes` bit 0x20 ("no 8.3 name") means nothing
//! (dosfstools c3a71fd: Linux never implemented it, and Windows' EFS
//! metadata sets it), and label bytes above 0x7F are characters, not
//! control bytes.
//!
//! # Why not the `fatfs` crate
//! `fatfs` (rafalh/rust-fatfs 0.4) is a well-kept read-write FAT library,
//! and was weighed for the file-level part. It does not fit a checker of
//! evidence: its `FileSystem` needs `Read + Write + Seek` storage and its
//! `Drop` unmounts, flushing FSInfo and clearing the dirty flag in the
//! boot sector (a read-only wrapper turns that into errors on every drop);
//! its cluster iterator has no loop detection, so a circular directory
//! chain never ends; and it reports the first inconsistency as an error
//! (or a panic in its table code) rather than continuing and saying what
//! else is wrong. Auditing it for "never writes, bounded on hostile input"
//! would cost more than the few hundred lines of reading here, which share
//! one state machine with the checker.

mod bitmap;
pub mod bpb;
mod check;
pub mod dir;
pub mod hints;
pub mod layer;
pub mod lfn;
mod probe;
mod reads;
pub mod summary;
pub mod table;
pub mod volume;

/// Every bound of the check and the file API, in one place.
pub mod limits {
    pub use crate::check::{MAX_DEPTH, MAX_DIR_ENTRIES, MAX_NODES};
    pub use crate::table::MAX_FAT_BYTES;
    pub use crate::volume::{MAX_DIR_BYTES, MAX_PATH_COMPONENTS};
    pub use crate::{MAX_EXTENTS_LISTED, MAX_LOST_LISTED};
}

pub use bpb::{Bpb, FatKind, Geometry, Root};
pub use hints::FSCK_FAT_N;
pub use probe::{Identified, identify, probe};
pub use summary::{BootSource, ByteRange, Dirty, FsInfo, LostChain, Stamp, Summary, Times, Usage};
pub use volume::{
    Chain, ChainEnd, FileEntry, FileError, FileMap, MapLimits, MappedFile, OpenError, Volume,
};

use imgcheck_core::{Depth, Finding, Layer, ReadAt};
use serde::{Deserialize, Serialize};

/// The layer every finding of this crate names.
pub const LAYER: Layer = Layer::FAT;
/// Lost chains listed in a [`Summary`] (all are counted).
pub const MAX_LOST_LISTED: usize = 64;
/// Extents listed per lost chain.
pub const MAX_EXTENTS_LISTED: usize = 64;

/// What to check.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// `Quick`: boot sectors, FSInfo, the FAT copies' first entries, the
    /// root directory's label. `Full`: everything fsck.fat -n checks.
    pub depth: Depth,
}

/// The outcome of a check: findings (offsets in the reader given, space
/// [`imgcheck_core::Space::Disk`]) and, when a boot sector could be read,
/// the filesystem described.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Everything found, capped per code by [`imgcheck_core::Sink`].
    pub findings: Vec<Finding>,
    /// The filesystem, when a usable boot sector (or backup) exists.
    pub summary: Option<Summary>,
}

/// Checks the FAT filesystem at the start of `r`, never writing to it.
pub fn check(r: &dyn ReadAt, o: &Options) -> Report {
    check::run(r, o)
}

//! qcow2 reader and checker for imgcheck: header and extensions, the guest
//! disk (current or as of an internal snapshot, through backing chains,
//! compressed clusters and external data files) and a consistency check
//! that reports everything `qemu-img check` reports, plus what it misses.
//!
//! ```no_run
//! use imgcheck_core::ReadAt;
//! use imgcheck_qcow2::{Image, Guest, CheckOptions, check};
//! use std::sync::Arc;
//!
//! let image = Arc::new(Image::open_path("disk.qcow2")?);
//! let report = check(&image, &CheckOptions::default());
//! println!("{}", report.qemu_json("disk.qcow2"));
//! for f in &report.findings {
//!     println!("{} {}: {}", f.severity, f.code, f.message);
//! }
//! let disk = Guest::new(Arc::clone(&image));
//! let mut mbr = [0u8; 512];
//! disk.read_exact_at(0, &mut mbr)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Backing files that are not files (an LV of a volume group the embedder
//! assembled, as oVirt block domains name them) come from a [`Resolver`]
//! in [`OpenOptions`], asked first for every backing name of the chain:
//!
//! ```no_run
//! use imgcheck_core::{FileReader, ReadAt};
//! use imgcheck_qcow2::{Image, OpenOptions, Resolution, ResolvedBacking, Resolver};
//! use std::sync::Arc;
//!
//! let resolver = Resolver::new(|name: &str| {
//!     let vol = name.rsplit('/').next()?;
//!     let reader: Arc<dyn ReadAt> = Arc::new(FileReader::open(format!("volumes/{vol}")).ok()?);
//!     Some(Resolution::Found(ResolvedBacking {
//!         reader,
//!         identity: format!("volume {vol}"),
//!         shown: format!("/dev/vg/{vol}").into(),
//!     }))
//! });
//! let top: Arc<dyn ReadAt> = Arc::new(FileReader::open("volumes/top")?);
//! let opts = OpenOptions { resolver: Some(resolver), ..OpenOptions::default() };
//! let image = Image::open_with(top, None, &opts)?;
//! println!("{} images below", image.chain().len());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod check;
mod compress;
mod entries;
mod error;
mod guest;
mod header;
mod image;
pub mod limits;
mod snapshot;

pub use check::{BackingCheck, CheckOptions, CheckReport, check, default_budget};
pub use compress::decompress_cluster;
pub use entries::{
    ClusterType, L1E_OFFSET_MASK, L1E_RESERVED_MASK, L1Table, L2E_OFFSET_MASK,
    L2E_STD_RESERVED_MASK, OFLAG_COMPRESSED, OFLAG_COPIED, OFLAG_ZERO, REFT_OFFSET_MASK,
    REFT_RESERVED_MASK, cluster_type, compressed_range,
};
pub use error::{Error, QEMU_PROBE_BYTES};
pub use guest::Guest;
pub use header::*;
pub use image::{
    Backing, BackingResolver, BackingState, DataFile, DecodeError, GuestBlocked, Image,
    OpenOptions, Resolution, ResolvedBacking, Resolver, SnapshotLookup, Source,
};
pub use snapshot::{
    MAX_SNAPSHOT_NAME_KEPT, QemuTableError, SHOWN_NAME_CHARS, Snapshot, SnapshotTable,
};

#[cfg(any(test, feature = "fuzzing"))]
mod fuzzing;
// For fuzz targets only: not part of the API an embedder relies on.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub use fuzzing::exercise;

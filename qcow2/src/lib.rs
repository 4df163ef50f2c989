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

pub use check::{CheckOptions, CheckReport, check};
pub use compress::decompress_cluster;
pub use entries::{
    ClusterType, L1E_OFFSET_MASK, L1E_RESERVED_MASK, L1Table, L2E_OFFSET_MASK,
    L2E_STD_RESERVED_MASK, OFLAG_COMPRESSED, OFLAG_COPIED, OFLAG_ZERO, REFT_OFFSET_MASK,
    REFT_RESERVED_MASK, cluster_type, compressed_range,
};
pub use error::Error;
pub use guest::Guest;
pub use header::*;
pub use image::{Backing, BackingState, DataFile, Image, OpenOptions};
pub use snapshot::{Snapshot, SnapshotTable};

/// Opens an image held in memory, checks it (deeply) and reads its guest
/// disk and every snapshot at a few offsets, discarding the results: one
/// call covers every entry point, for fuzz targets. It must never panic,
/// hang, or allocate beyond the bounds in [`limits`].
pub fn exercise(data: &[u8]) {
    use imgcheck_core::ReadAt;
    use std::sync::Arc;
    let Ok(img) = Image::open(Arc::new(imgcheck_core::BytesReader::new(data.to_vec()))) else {
        return;
    };
    let img = Arc::new(img);
    let _ = check(
        &img,
        &CheckOptions {
            deep: true,
            check_backing: false,
        },
    );
    let mut buf = vec![0u8; 4096];
    let mut views = vec![Guest::new(Arc::clone(&img))];
    views.extend(
        img.snapshots()
            .iter()
            .take(4)
            .filter_map(|s| Guest::snapshot(Arc::clone(&img), &s.id).ok()),
    );
    for g in views {
        let len = g.len();
        for off in [0, len / 3, len.saturating_sub(4096)] {
            if off.saturating_add(4096) <= len {
                let _ = g.read_exact_at(off, &mut buf);
            }
        }
        let _ = g.known_zero(0, len);
    }
}

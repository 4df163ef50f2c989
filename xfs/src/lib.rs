//! imgcheck-xfs: a read-only XFS checker in the spirit of `xfs_repair -n`,
//! with the forensic detail repair leaves out (the log's state and last
//! LSN, timestamps for a timeline, size against the container, which
//! superblock was trusted).
//!
//! It reads only through [`imgcheck_core::ReadAt`], so a filesystem in a
//! partition, a logical volume or a qcow2 guest disk is checked like a
//! raw file, and it never writes.
//!
//! ```no_run
//! use imgcheck_core::{Depth, FileReader};
//! use imgcheck_xfs::{check, Options};
//!
//! let disk = FileReader::open("xfs.img")?;
//! let report = check(&disk, &Options { depth: Depth::Full });
//! if let Some(s) = &report.summary {
//!     println!("XFS v{} {} AGs of {} blocks, log {:?}", s.version, s.agcount, s.agblocks, s.log.state);
//! }
//! for f in &report.findings {
//!     println!("{f}");
//! }
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Any reader works, so a fuzzer or a test drives it on bytes in memory:
//!
//! ```
//! use imgcheck_core::{BytesReader, Depth};
//! let r = BytesReader::new(vec![0u8; 1 << 16]);
//! assert!(!imgcheck_xfs::probe(&r));
//! let report = imgcheck_xfs::check(&r, &imgcheck_xfs::Options { depth: Depth::Quick });
//! assert!(report.summary.is_none());
//! ```
//!
//! Two depths ([`imgcheck_core::Depth`]): `Quick` reads what is
//! proportional to the AG count and the metadata btrees (superblocks, AG
//! headers, the free-space, inode, rmap and refcount btrees, the log);
//! `Full` (the default, as `xfs_repair -n`) adds every inode, extent map,
//! directory, link count and the recomputed counters. Memory is bounded
//! by bitmaps ([`claims::MAX_TRACKED_BLOCKS`]) and by
//! [`inodes::MAX_INODES`]; every chain and tree is visited once.

pub mod ag;
mod agscan;
mod attr;
pub mod btree;
mod check;
pub mod claims;
pub mod crc;
pub mod datree;
pub mod dir;
mod dirsf;
mod forks;
pub mod fs;
pub mod inode;
pub mod inodes;
pub mod log;
pub mod path;
mod quota;
pub mod rmap;
mod rt;
pub mod sb;
mod summary;

pub use check::{MAX_AGS, MAX_SECONDARY_SCAN};
pub use fs::XFS_REPAIR_N;
pub use log::{LogState, LogSummary};
pub use summary::{Summary, SuperblockSource, TimeEvent};

pub(crate) use imgcheck_core::Severity;
use imgcheck_core::{Depth, Finding, Layer, ReadAt};
use serde::{Deserialize, Serialize};

/// The layer every finding of this crate names.
pub const LAYER: Layer = Layer::XFS;

/// What to check.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// `Quick`: metadata proportional to the AGs and btrees; `Full`: every
    /// inode and directory too.
    pub depth: Depth,
}

/// The outcome of a check: findings (offsets in the reader) and, when a
/// superblock could be trusted, the summary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Everything found, capped per code.
    pub findings: Vec<Finding>,
    /// The filesystem described.
    pub summary: Option<Summary>,
    /// The reverse map the full check's walk filled (files' extents,
    /// directory blocks, names), for the checks that name lost files;
    /// not in JSON.
    #[serde(skip)]
    pub owners: Option<imgcheck_core::OwnerMap>,
}

/// Whether `r` holds an XFS superblock at byte 0 (magic and a version
/// this crate reads).
pub fn probe(r: &dyn ReadAt) -> bool {
    let mut b = [0u8; 0x68];
    if r.read_exact_at(0, &mut b).is_err() {
        return false;
    }
    let sb = sb::Superblock::parse(&b);
    sb.magicnum == sb::XFS_SB_MAGIC && matches!(sb.version(), 4 | 5)
}

/// What the primary superblock at byte 0 is: `None` without the XFS
/// magic, `Some(true)` when it passes every `xfs_repair` sanity rule (and
/// its CRC), `Some(false)` when only the magic is there (whatever the
/// version) — a damaged filesystem the check should still read through a
/// secondary.
pub fn probe_superblock(r: &dyn ReadAt) -> Option<bool> {
    let mut head = [0u8; 512];
    r.read_exact_at(0, &mut head).ok()?;
    let sb = sb::Superblock::parse(&head);
    // The magic alone claims it: a version number hit by a bit flip is
    // xfs_repair's "bad or unsupported version", a damaged filesystem
    // the check reads through a secondary, not an unknown one.
    if sb.magicnum != sb::XFS_SB_MAGIC {
        return None;
    }
    let sect = u64::from(sb.sectsize);
    let buf = if sect > 512 && sect <= 32768 {
        imgcheck_core::read_vec(r, 0, sect, 32768).ok()?
    } else {
        head.to_vec()
    };
    Some(sb::verify(&buf, &sb, true).is_ok())
}

/// Whether AG 0's AGF and AGI (magic, version 1, AG number 0) sit in
/// sectors 1 and 2 of `r`, for 512-byte or 4 KiB sectors: an XFS
/// filesystem whose primary superblock was zeroed or overwritten still
/// starts here, and [`check`] reads it through a secondary superblock as
/// `xfs_repair` does.
pub fn probe_headers(r: &dyn ReadAt) -> bool {
    [512u64, 4096].into_iter().any(|sect| {
        let mut agf = [0u8; 12];
        let mut agi = [0u8; 12];
        r.read_exact_at(sect, &mut agf).is_ok()
            && r.read_exact_at(sect.saturating_mul(2), &mut agi).is_ok()
            && imgcheck_core::bytes::be32(&agf, 0) == ag::AGF_MAGIC
            && imgcheck_core::bytes::be32(&agi, 0) == ag::AGI_MAGIC
            && imgcheck_core::bytes::be32(&agf, 4) == 1
            && imgcheck_core::bytes::be32(&agi, 4) == 1
            && imgcheck_core::bytes::be32(&agf, 8) == 0
            && imgcheck_core::bytes::be32(&agi, 8) == 0
    })
}

/// Checks the XFS filesystem in `r`.
pub fn check(r: &dyn ReadAt, opts: &Options) -> Report {
    check::run(r, opts)
}

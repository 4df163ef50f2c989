//! imgcheck-ext4: a read-only ext2/3/4 checker in the spirit of
//! `e2fsck -fn`, with the forensic detail e2fsck leaves out (kernel error
//! records, timeline, usage, size against the container).
//!
//! It reads only through [`imgcheck_core::ReadAt`], so a filesystem inside
//! a partition inside a qcow2 image is checked like a raw file, and it
//! never writes.
//!
//! ```no_run
//! use imgcheck_core::FileReader;
//! use imgcheck_ext4::{check, Options};
//!
//! let disk = FileReader::open("fs.img")?;
//! // The full check (e2fsck -fn's passes 1-5), the default.
//! let report = check(&disk, &Options::default());
//! if let Some(s) = &report.summary {
//!     println!("{} with {}-byte blocks, {} groups", s.kind, s.block_size, s.groups);
//! }
//! for f in &report.findings {
//!     println!("{} {} {}", f.severity, f.code, f.message);
//! }
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! The entry points take any [`imgcheck_core::ReadAt`], so a fuzzer or a
//! test drives them on bytes in memory:
//!
//! ```
//! use imgcheck_core::{BytesReader, Depth};
//! use imgcheck_ext4::{Ext4, Options};
//!
//! let bytes = BytesReader::new(vec![0u8; 1 << 16]);
//! match Ext4::open(&bytes) {
//!     Ok(fs) => {
//!         let _ = fs.check(&Options { depth: Depth::Quick });
//!         let _ = fs.check(&Options { depth: Depth::Full });
//!     }
//!     Err(e) => assert_eq!(e, imgcheck_ext4::OpenError::NoSuperblock),
//! }
//! ```
//!
//! Two depths ([`imgcheck_core::Depth`]): `Quick` is proportional to the
//! number of block groups (superblock, backups, group descriptors, bitmap
//! checksums, journal superblock, orphans, MMP, resize and root inodes);
//! `Full`, the default as for `e2fsck -fn`, adds what e2fsck's passes 1–5
//! check (every inode, extent trees, block
//! maps, directories, connectivity, link counts, bitmaps), with memory
//! bounded by bitmaps of one bit per block and inode.
//!
//! A read the reader fails — an I/O error, a layer below that cannot
//! produce the bytes ([`imgcheck_core::ReadErrorKind::Layer`]), the
//! image's read bound — is reported where it happened
//! (`ext4.read.unreadable`, `ext4.read.budget`), never taken for an
//! absent structure; totals that would count the unread parts as missing
//! are not compared. Findings are capped per code by one
//! [`imgcheck_core::Sink`].

mod bits;
mod blockmap;
mod check;
mod deep;
mod dirhash;
mod extent;
mod fs;
mod gdt;
mod inode;
mod journal;
mod open;
mod path;
mod quota;
mod reads;
mod superblock;
mod util;

/// The read-only check every ext4 hint starts from; `{dev}` is the
/// filesystem's block device (see [`imgcheck_core::Target`]).
pub const E2FSCK_FN: &str = "e2fsck -fn {dev}";

pub use fs::{Ext4, OpenError, SuperblockSource};
pub use gdt::{GroupDesc, bg_flags};
pub use inode::Inode;
pub use path::{Found, Run};
pub use superblock::{Superblock, compat, feature_names, incompat, ro_compat, uuid_text};

use imgcheck_core::{Depth, Finding, Hint, Layer, Progress, ReadAt, Sink, Space};
use serde::{Deserialize, Serialize};

/// What to check.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// `Full` (the default, as `e2fsck -fn`): every inode, extent tree and
    /// directory too (e2fsck passes 1–5); `Quick`: the metadata
    /// proportional to the number of groups only.
    pub depth: Depth,
}

impl Options {
    /// Whether the full check (passes 1–5) runs.
    pub fn full(&self) -> bool {
        self.depth == Depth::Full
    }
}

/// The outcome of a check: findings (offsets relative to the reader) and,
/// when a superblock was found, a summary for the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Everything found, in check order.
    pub findings: Vec<Finding>,
    /// The filesystem described, when a usable superblock exists.
    pub summary: Option<Summary>,
    /// The reverse map the full check's walk filled: which structure or
    /// file owns each byte range (offsets relative to the reader). `None`
    /// for the quick check or when the full check was skipped.
    #[serde(skip)]
    pub owners: Option<imgcheck_core::OwnerMap>,
}

/// A filesystem described for the report and the timeline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    /// "ext2", "ext3" or "ext4" by features; "jbd" for an external journal device.
    pub kind: String,
    /// Which superblock was used.
    pub superblock: SuperblockSource,
    /// Block size in bytes.
    pub block_size: u64,
    /// `s_blocks_count`.
    pub blocks_count: u64,
    /// `s_free_blocks_count`.
    pub free_blocks: u64,
    /// `s_r_blocks_count`.
    pub reserved_blocks: u64,
    /// `s_inodes_count`.
    pub inodes_count: u32,
    /// `s_free_inodes_count`.
    pub free_inodes: u32,
    /// Inode size in bytes.
    pub inode_size: u16,
    /// Number of block groups.
    pub groups: u64,
    /// Filesystem size in bytes (blocks × block size).
    pub fs_bytes: u64,
    /// Size of what holds it (the reader's length).
    pub container_bytes: u64,
    /// Volume label (`s_volume_name`), `None` when the filesystem has none
    /// (an empty name), as a partition signature and FAT say it.
    pub label: Option<String>,
    /// UUID.
    pub uuid: String,
    /// Feature names (unknown bits as `unknown:0x…`).
    pub features: Vec<String>,
    /// State in words ("clean", "not clean, errors").
    pub state: String,
    /// Behaviour on errors (`s_errors`).
    pub errors_behaviour: String,
    /// Mount point at last mount.
    pub last_mounted_at: Option<String>,
    /// Mounts since the last check.
    pub mount_count: u16,
    /// Mounts allowed between checks (-1: no limit).
    pub max_mount_count: i16,
    /// Kilobytes written over the filesystem's life.
    pub kbytes_written: u64,
    /// needs_recovery is set.
    pub needs_recovery: bool,
    /// Timestamps from the superblock.
    pub times: Times,
    /// The journal superblock, when there is an internal journal.
    pub journal: Option<JournalSummary>,
    /// The kernel's error records, when any.
    pub errors: Option<ErrorRecords>,
    /// Group descriptors that could be read.
    pub group_descriptors_loaded: u64,
}

/// Superblock timestamps (Unix seconds), absent when zero.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Times {
    /// `s_mkfs_time`.
    pub created: Option<i64>,
    /// `s_mtime`.
    pub last_mount: Option<i64>,
    /// `s_wtime`.
    pub last_write: Option<i64>,
    /// `s_lastcheck`.
    pub last_check: Option<i64>,
}

/// The jbd2 superblock, summarised.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JournalSummary {
    /// "inode 8" or "external".
    pub location: String,
    /// `s_blocksize`.
    pub block_size: u32,
    /// `s_maxlen` in blocks.
    pub maxlen: u32,
    /// `s_first`.
    pub first: u32,
    /// `s_sequence`.
    pub sequence: u32,
    /// `s_start` (0: empty).
    pub start: u32,
    /// `s_errno` (non-zero: aborted).
    pub errno: i32,
    /// 1 or 2.
    pub version: u8,
    /// Compatible features.
    pub features_compat: u32,
    /// Incompatible features.
    pub features_incompat: u32,
    /// Read-only features.
    pub features_ro_compat: u32,
    /// Complete transactions waiting in the log from `s_start`.
    pub transactions: u32,
    /// Sequence numbers of the first and last of them.
    pub transaction_range: Option<(u32, u32)>,
    /// Commit time of the last complete transaction (Unix seconds).
    pub last_commit: Option<i64>,
}

/// The kernel's error records in the superblock.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorRecords {
    /// `s_error_count`.
    pub count: u32,
    /// The first error recorded.
    pub first: Option<ErrorRecord>,
    /// The most recent error recorded.
    pub last: Option<ErrorRecord>,
}

/// One kernel error record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorRecord {
    /// When (Unix seconds).
    pub time: i64,
    /// Kernel function that reported it.
    pub function: String,
    /// Source line.
    pub line: u32,
    /// Inode involved (0: none).
    pub inode: u32,
    /// Block involved (0: none).
    pub block: u64,
    /// EXT4_ERR_* code.
    pub errcode: u8,
    /// Its errno name.
    pub errcode_name: String,
}

impl ErrorRecord {
    /// Where it happened, only the parts recorded:
    /// `ext4_lookup:1850, inode 12, block 9, error EFSCORRUPTED`.
    pub fn location(&self) -> String {
        let func = if self.function.is_empty() {
            "?"
        } else {
            &self.function
        };
        let mut s = format!("{func}:{}", self.line);
        if self.inode != 0 {
            s.push_str(&format!(", inode {}", self.inode));
        }
        if self.block != 0 {
            s.push_str(&format!(", block {}", self.block));
        }
        if self.errcode != 0 {
            s.push_str(&format!(", error {}", self.errcode_name));
        }
        s
    }
}

/// True when `r` holds an ext2/3/4 superblock at byte 1024 (the magic), or
/// a backup one can be found (a filesystem whose primary is damaged).
pub fn probe(r: &dyn ReadAt) -> bool {
    let mut m = [0u8; 2];
    if r.read_exact_at(1024 + 0x38, &mut m).is_ok()
        && u16::from_le_bytes(m) == superblock::EXT4_MAGIC
    {
        return true;
    }
    Ext4::open(r).is_ok()
}

impl Ext4<'_> {
    /// The raw bytes of the superblock in use.
    pub fn superblock_bytes(&self) -> &[u8] {
        &self.sb_raw
    }

    /// Runs the checks on an opened filesystem.
    ///
    /// Findings pass through one [`imgcheck_core::Sink`]: the first
    /// [`imgcheck_core::MAX_FINDINGS_PER_CODE`] of each code are listed and
    /// the rest counted in one closing finding of their worst severity, so
    /// a filesystem with a million bad inodes still gives a readable
    /// report in bounded memory. Reads the storage failed (I/O errors, a
    /// layer below that could not produce the bytes, the read bound) follow
    /// as `ext4.read.unreadable` / `ext4.read.budget` findings, one per
    /// offset: a structure that could not be read is never taken for an
    /// absent one. A check logs the reads of one call at a time; run
    /// concurrent checks on separate [`Ext4`] values.
    pub fn check(&self, opts: &Options) -> Report {
        self.check_with(opts, &Progress::default())
    }

    /// [`Ext4::check`], reporting how far the full check's two long passes
    /// have got to `progress`: `"pass 1: inodes"` (inode number reached of
    /// s_inodes_count) and `"pass 2: directory blocks"` (blocks checked of
    /// those found).
    pub fn check_with(&self, opts: &Options, progress: &Progress) -> Report {
        let mut sink = Sink::new();
        self.start_read_log();
        let (summary, replay) = check::run(self, opts.full(), &mut sink);
        let mut owners = None;
        if opts.full() && self.geometry_ok && !self.sb.has_incompat(incompat::JOURNAL_DEV) {
            owners = deep::run(self, &mut sink, progress);
        }
        let mut findings = sink.finish();
        check::explain_replay(self, &replay, &mut findings);
        findings.extend(self.take_read_log());
        Report {
            findings,
            summary: Some(summary),
            owners,
        }
    }
}

/// Opens and checks the filesystem in `r`. A reader without any ext2/3/4
/// superblock yields one error finding and no summary.
pub fn check(r: &dyn ReadAt, opts: &Options) -> Report {
    check_with(r, opts, &Progress::default())
}

/// [`check`], reporting the full check's progress (see [`Ext4::check_with`]).
pub fn check_with(r: &dyn ReadAt, opts: &Options, progress: &Progress) -> Report {
    match Ext4::open(r) {
        Ok(fs) => fs.check_with(opts, progress),
        Err(e @ OpenError::Unreadable { offset, .. }) => Report {
            findings: vec![
                Finding::error(
                    "ext4.read.unreadable",
                    Layer::EXT4,
                    offset,
                    Space::Disk,
                    e.to_string(),
                )
                .with_hint(reads::unreadable_hint_any()),
            ],
            summary: None,
            owners: None,
        },
        Err(e) => Report {
            findings: vec![
                Finding::error(
                    "ext4.superblock.not_found",
                    Layer::EXT4,
                    1024,
                    Space::Disk,
                    e.to_string(),
                )
                .with_hint(
                    Hint::read_only("e2fsck -fn -b 32768 -B 4096 {dev}")
                        .because("or -b 8193 -B 1024; if this should be ext2/3/4"),
                ),
            ],
            summary: None,
            owners: None,
        },
    }
}

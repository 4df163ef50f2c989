//! An opened filesystem: the superblock in use, its geometry and bounded
//! block reads. Choosing the superblock is in `open`, group descriptors in
//! `gdt`, inodes in `inode`, a file's blocks in `blockmap` and `extent`;
//! the checks themselves live in `check` and `deep`.

use crate::gdt::GroupDesc;
use crate::reads::{Miss, ReadLog};
use crate::superblock::Superblock;
use imgcheck_core::bytes::usize_of;
use imgcheck_core::{Finding, ReadAt, ReadErrorKind};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// At most this many block groups are loaded (4 Mi groups: 512 TiB with
/// 4 KiB blocks); a larger count comes from a corrupt superblock.
pub const MAX_GROUPS: u64 = 1 << 22;
/// Blocks tracked in bitmaps at most (2^32 bits = 512 MiB): 16 TiB at
/// 4 KiB blocks. Blocks past the reader's end are not tracked either.
pub const MAX_TRACKED_BLOCKS: u64 = 1 << 32;

/// Where the superblock in use came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SuperblockSource {
    /// The primary at byte 1024.
    Primary,
    /// A backup, because the primary is unusable.
    Backup {
        /// Block group holding it.
        group: u64,
        /// Block number in units of `block_size` (e2fsck's `-b`).
        block: u64,
        /// Block size (e2fsck's `-B`).
        block_size: u64,
    },
}

/// Why a filesystem cannot be opened at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// No superblock with the ext2/3/4 magic at byte 1024 nor at any backup location.
    NoSuperblock,
    /// The reader is too short to hold a superblock.
    TooShort {
        /// Reader length.
        len: u64,
    },
    /// The primary superblock could not be read (an I/O error, or a layer
    /// below that could not produce the bytes) and no backup was usable:
    /// the filesystem may be intact, the storage is not.
    Unreadable {
        /// Byte offset of the failed read.
        offset: u64,
        /// Why it failed.
        cause: String,
    },
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::NoSuperblock => f.write_str(
                "no ext2/3/4 superblock (magic 0xEF53) at byte 1024 or at any backup location",
            ),
            OpenError::TooShort { len } => write!(
                f,
                "{len} bytes is too short to hold an ext2/3/4 superblock (needs 2048)"
            ),
            OpenError::Unreadable { offset, cause } => write!(
                f,
                "primary superblock unreadable at offset {offset}: {cause}; no backup superblock could be used"
            ),
        }
    }
}

impl std::error::Error for OpenError {}

/// An opened filesystem: the superblock chosen, its geometry and the group
/// descriptors. Reads through `ReadAt` only; never writes.
pub struct Ext4<'r> {
    pub(crate) r: &'r dyn ReadAt,
    /// The superblock in use.
    pub sb: Superblock,
    /// Its raw bytes.
    pub(crate) sb_raw: Vec<u8>,
    /// The primary's parse, when it is not the one in use (damaged).
    pub primary: Option<Superblock>,
    /// Where `sb` came from.
    pub source: SuperblockSource,
    /// Block size in bytes (validated).
    pub bs: u64,
    /// Number of groups (validated, ≤ MAX_GROUPS).
    pub groups: u64,
    /// Group descriptors as loaded (may be fewer than `groups` when the
    /// table is unreadable).
    pub gds: Vec<GroupDesc>,
    /// Findings made while opening (primary superblock rejected, GDT unreadable).
    pub(crate) open_findings: Vec<Finding>,
    /// Reads that failed while opening, as `ext4.read.*` findings.
    pub(crate) open_reads: Vec<Finding>,
    /// Reads that failed during the current check.
    pub(crate) reads: Mutex<ReadLog>,
    /// Reads the reader failed so far, repeats included: a check compares
    /// it before and after a walk to know the walk saw everything.
    pub(crate) failed_reads: AtomicU64,
    /// Metadata checksum seed.
    pub(crate) seed: u32,
    /// Geometry problems severe enough that group-level checks are skipped.
    pub(crate) geometry_ok: bool,
}

impl std::fmt::Debug for Ext4<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ext4")
            .field("source", &self.source)
            .field("bs", &self.bs)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

impl Ext4<'_> {
    /// Byte offset of the superblock in use: 1024 for the primary, the
    /// backup's block otherwise. A finding about a superblock field points
    /// into the copy the value was read from, never into a primary that
    /// was rejected.
    pub fn superblock_offset(&self) -> u64 {
        match self.source {
            SuperblockSource::Primary => crate::superblock::SUPERBLOCK_OFFSET,
            SuperblockSource::Backup {
                block, block_size, ..
            } => block.saturating_mul(block_size),
        }
    }

    /// Blocks per group.
    pub(crate) fn bpg(&self) -> u64 {
        u64::from(self.sb.s_blocks_per_group)
    }

    /// Byte offset of block `blk`, when it fits.
    pub(crate) fn block_offset(&self, blk: u64) -> Option<u64> {
        blk.checked_mul(self.bs)
    }

    /// Blocks tracked in bitmaps: those of the filesystem that the reader
    /// holds, at most [`MAX_TRACKED_BLOCKS`].
    pub(crate) fn tracked_blocks(&self) -> u64 {
        self.sb
            .s_blocks_count
            .min(self.r.len().div_ceil(self.bs.max(1)))
            .min(MAX_TRACKED_BLOCKS)
    }

    /// Fills `buf` from byte `off`. Past the end of the reader is
    /// [`Miss::Absent`]; a read the reader failed is [`Miss::Unreadable`]
    /// and logged, naming `what` (formatted only then).
    pub(crate) fn read_at(
        &self,
        off: u64,
        buf: &mut [u8],
        what: impl FnOnce() -> String,
    ) -> Result<(), Miss> {
        match self.r.read_exact_at(off, buf) {
            Ok(()) => Ok(()),
            Err(e) if matches!(e.kind, ReadErrorKind::OutOfBounds { .. }) => Err(Miss::Absent),
            Err(e) => {
                self.failed_reads.fetch_add(1, Ordering::Relaxed);
                Err(self.read_log().record(off, &what(), &e))
            }
        }
    }

    /// Reads the reader failed so far (see [`Ext4::read_at`]): a walk that
    /// saw this number grow did not see all it walks, and its totals
    /// (blocks mapped, references counted) are not evidence of damage.
    pub(crate) fn failed_reads(&self) -> u64 {
        self.failed_reads.load(Ordering::Relaxed)
    }

    /// Block `blk`: absent past the filesystem's or the reader's end,
    /// unreadable (and logged) when the reader fails.
    pub(crate) fn block(&self, blk: u64) -> Result<Vec<u8>, Miss> {
        if blk >= self.sb.s_blocks_count {
            return Err(Miss::Absent);
        }
        let off = self.block_offset(blk).ok_or(Miss::Absent)?;
        let mut b = vec![0u8; usize_of(self.bs)];
        self.read_at(off, &mut b, || format!("block {blk}"))?;
        Ok(b)
    }

    /// Reads one block, or `None` when absent or unreadable (a failed read
    /// is already a finding: callers that skip the block lose nothing).
    pub(crate) fn read_block(&self, blk: u64) -> Option<Vec<u8>> {
        self.block(blk).ok()
    }

    /// The current check's read log.
    fn read_log(&self) -> std::sync::MutexGuard<'_, ReadLog> {
        // A panic elsewhere while holding the lock leaves a log that is
        // still a valid list of findings.
        self.reads.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a check's read log: the failures met while opening first.
    pub(crate) fn start_read_log(&self) {
        let mut log = ReadLog::default();
        log.replay(&self.open_reads);
        *self.read_log() = log;
    }

    /// The read failures of the check, as findings.
    pub(crate) fn take_read_log(&self) -> Vec<Finding> {
        std::mem::take(&mut *self.read_log()).finish()
    }

    /// First block of group `g`.
    pub(crate) fn group_first_block(&self, g: u64) -> u64 {
        g.saturating_mul(self.bpg())
            .saturating_add(u64::from(self.sb.s_first_data_block))
    }

    /// Last block of group `g` (inclusive).
    pub(crate) fn group_last_block(&self, g: u64) -> u64 {
        let end = self
            .group_first_block(g)
            .saturating_add(self.bpg())
            .saturating_sub(1);
        end.min(self.sb.s_blocks_count.saturating_sub(1))
    }
}

//! What a check tells its embedder besides findings: sizes for the size
//! chain, which superblock it trusted, the UUID, the log's state, times
//! for the timeline, and the structures with copies for the zero map.

use crate::log::LogSummary;
use imgcheck_core::{Depth, Structure};
use serde::{Deserialize, Serialize};

/// Which superblock the check read the filesystem through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum SuperblockSource {
    /// AG 0's, at byte 0.
    Primary,
    /// A secondary: the primary was unusable.
    Secondary {
        /// Its AG.
        ag: u32,
        /// Its byte offset in the reader.
        offset: u64,
    },
}

/// A timestamp found on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeEvent {
    /// Unix seconds, UTC.
    pub time: i64,
    /// What happened then.
    pub what: String,
}

/// The realtime section.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Realtime {
    /// `sb_rblocks`.
    pub blocks: u64,
    /// `sb_rextents`.
    pub extents: u64,
    /// `sb_rextsize` in blocks.
    pub extent_size: u32,
    /// `sb_frextents`.
    pub free_extents: u64,
}

/// The filesystem described.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    /// 4 or 5.
    pub version: u16,
    /// Which superblock was used.
    pub superblock: SuperblockSource,
    /// Block size in bytes.
    pub block_size: u64,
    /// Sector size in bytes.
    pub sector_size: u64,
    /// Inode size in bytes.
    pub inode_size: u64,
    /// `sb_dblocks`.
    pub dblocks: u64,
    /// `sb_dblocks × blocksize`: what the filesystem claims of its container.
    pub fs_bytes: u64,
    /// The reader's length.
    pub container_bytes: u64,
    /// AG count.
    pub agcount: u32,
    /// Blocks per AG.
    pub agblocks: u32,
    /// UUID.
    pub uuid: String,
    /// Label (`sb_fname`), `None` when it is empty.
    pub label: Option<String>,
    /// Feature names.
    pub features: Vec<String>,
    /// `sb_icount`, `sb_ifree`, `sb_fdblocks`.
    pub icount: u64,
    /// Free inodes.
    pub ifree: u64,
    /// Free data blocks.
    pub fdblocks: u64,
    /// The log.
    pub log: LogSummary,
    /// The realtime section, when there is one.
    pub realtime: Option<Realtime>,
    /// Superblocks and AG headers with their roles (primary: AG 0's).
    pub structures: Vec<Structure>,
    /// Timestamps: root and recently changed inodes, the log.
    pub times: Vec<TimeEvent>,
    /// How far it was checked.
    pub depth: Depth,
    /// Inodes whose cores were checked.
    pub inodes_checked: u64,
    /// Directories whose entries were read.
    pub directories_checked: u64,
    /// Work pending that recovery completes (a dirty log, unlinked inodes).
    pub pending: Vec<String>,
    /// The check stopped at a bound before it checked everything.
    pub incomplete: Option<String>,
}

//! The compare report as typed data: each copy with its own verdict,
//! identity and dating evidence; each pair (every copy against the first)
//! with whether it is the same disk, where the guest bytes diverge and what
//! those bytes belong to; and the summary an admin acts on. Text and JSON
//! render this.

use super::diverge::{Divergence, Range};
use super::gluster::Brick;
use imgcheck_core::{Event, Identity};
use serde::{Deserialize, Serialize};

/// One copy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CopyReport {
    /// As given (`PATH` or `PATH@SNAPSHOT`).
    pub label: String,
    /// `qcow2` or `raw`.
    pub format: String,
    /// The guest disk's size.
    pub disk_size: u64,
    /// Guest bytes the allocation map says hold data (not zeros by map).
    pub allocated: u64,
    /// The normal check's verdict (`clean`, `warning`, `damaged`), or
    /// `unchecked` when the check could not run.
    pub verdict: String,
    /// Its error and warning findings, at most a handful, as `code: message`.
    pub problems: Vec<String>,
    /// How many error and warning findings there are in all.
    pub problem_count: usize,
    /// Identifiers found on the disk (disk and partition GUIDs,
    /// filesystem UUIDs, LVM UUIDs, backing file names).
    pub identities: Vec<Identity>,
    /// The on-disk timestamps that date it (filesystem writes and mounts,
    /// journal commits, snapshot dates, LVM metadata).
    pub evidence: Vec<Event>,
    /// Monotonic counters that date it (`ext4 journal sequence`).
    pub counters: Vec<Counter>,
    /// When the copy is an internal snapshot: its date.
    pub snapshot_date: Option<i64>,
    /// GlusterFS AFR attributes of the file, when it sits on a brick.
    pub brick: Option<Brick>,
    /// Bytes of file data its filesystems hold (their reverse maps' file
    /// extents: no journal, no metadata, no directories), `None` when no
    /// filesystem was mapped.
    pub file_data: Option<u64>,
    /// When its filesystems were last written or mounted (the latest),
    /// `None` when none records it.
    pub fs_date: Option<i64>,
}

/// A counter that only grows as the disk is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    /// Where and what (`partition 1: ext4 journal sequence`).
    pub what: String,
    /// Its value.
    pub value: u64,
}

/// Whether two copies are one disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kinship {
    /// They share identifiers (a disk GUID, a filesystem UUID): one disk, diverged or not.
    SameDisk,
    /// They share the disk's identifiers (disk and partition GUIDs, the
    /// layout a dd copy keeps) but a filesystem UUID differs: a clone
    /// given a UUID of its own (tune2fs -U), a disk of its own since.
    Clone,
    /// One is an internal snapshot of the other image, or both of one image.
    SameImage,
    /// Both are overlays of one backing file, or one is the other's backing.
    SameBase,
    /// Both carry identifiers of the same kinds and none agree.
    Different,
    /// Too few identifiers to tell.
    Unknown,
}

/// What one copy is to the other, beyond sharing identifiers: it decides
/// whether healing one from the other means anything at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// Copies of one disk (replicas, backups) or unrelated disks: each may
    /// hold writes the other lacks, and the evidence may pick a source.
    Copies,
    /// Views of one image (internal snapshots, the current state).
    Views,
    /// `overlay`'s backing chain holds `backing`: the overlay is the
    /// backing file plus its own writes, newer by construction. Not
    /// replicas, and writing the backing file changes the overlay too.
    OverlayOf {
        /// The overlay's label.
        overlay: String,
        /// The label of the copy in its backing chain.
        backing: String,
    },
    /// `overlay`'s backing file (`backing`, as its header names it) holds
    /// the same guest bytes as `copy`: the overlay is a copy of `copy`
    /// plus its own writes, newer by construction; not replicas.
    OverlayOfCopy {
        /// The overlay's label.
        overlay: String,
        /// Its backing file's name.
        backing: String,
        /// The label of the copy its backing file equals.
        copy: String,
    },
    /// Two overlays of one base that share none of their own writes:
    /// different machines started from one template.
    LinkedClones,
    /// Two overlays of one base that hold their own clusters at the same
    /// places with the same bytes (a file copy keeps its layout) or the
    /// same snapshot table: copies of one overlay, diverged.
    OverlayReplicas,
    /// Two overlays of one base and the evidence does not tell linked
    /// clones from replicas of one overlay.
    OverlaysOfOneBase,
}

/// What picked the source of a heal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceBy {
    /// Gluster's AFR changelog: only the source blames the other brick.
    AfrBlame,
    /// The normal check: the source is sound, the sink is not.
    Verdict,
    /// Both are equally sound and the on-disk dates say the source is newer.
    Newer,
}

/// What a range of divergence holds, as one copy's filesystem names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Which copies' maps name it (their labels).
    pub copies: Vec<String>,
    /// Where (`partition 1 ext4`).
    pub filesystem: String,
    /// A file's path, or a structure's name in brackets (`[journal]`).
    pub what: String,
    /// Bytes of the divergence it holds.
    pub bytes: u64,
}

/// The evidence that one copy is newer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dated {
    /// What was compared (`partition 1: superblock last written`).
    pub what: String,
    /// The first copy's value (a time in Unix seconds, or a counter).
    pub a: i64,
    /// The other copy's value.
    pub b: i64,
    /// Whether the values are times.
    pub time: bool,
}

/// Which copy is newer, by the evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Newer {
    /// The first copy.
    A,
    /// The other copy.
    B,
    /// The evidence is equal.
    Same,
    /// The evidence disagrees with itself.
    Mixed,
    /// No evidence found in both.
    Unknown,
}

/// One copy against the first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pair {
    /// The first copy's label.
    pub a: String,
    /// The other copy's label.
    pub b: String,
    /// Same disk or not.
    pub kinship: Kinship,
    /// The identifiers both carry, and the reasons for the kinship.
    pub kinship_evidence: Vec<String>,
    /// Where the guest bytes differ.
    pub divergence: Divergence,
    /// What the differing ranges belong to, biggest first (capped).
    pub holders: Vec<Holder>,
    /// Differing bytes no filesystem map names (free space, partition
    /// tables, unmapped filesystems).
    pub unnamed_bytes: u64,
    /// Which is newer.
    pub newer: Newer,
    /// The evidence for it.
    pub dated: Vec<Dated>,
    /// Bytes of the first copy's data (allocated, not zeros by map) the
    /// other holds identically.
    pub a_data_held: u64,
    /// Bytes of the first copy's own file data (its filesystem maps'
    /// file extents) that read as zeros in it where the other copy holds
    /// data: a copy whose files are hollow (`e2image -r`, a restore that
    /// wrote the metadata only) is no copy of the disk's contents.
    #[serde(default)]
    pub a_files_zeroed: u64,
    /// The same of the other copy's own file data.
    #[serde(default)]
    pub b_files_zeroed: u64,
    /// What one copy is to the other (replicas, an overlay and its
    /// backing file, linked clones).
    pub relation: Relation,
    /// The copy to heal from (its label), when the verdicts, the Gluster
    /// changelog or the on-disk dates pick one; `None` when nothing does
    /// or healing means nothing (an overlay and its base, linked clones).
    pub source: Option<String>,
    /// The copy a heal from `source` overwrites (its label).
    pub sink: Option<String>,
    /// What picked the source.
    pub source_by: Option<SourceBy>,
}

/// A finding of the comparison itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Note {
    /// Stable code (`compare.split_brain`, `compare.series.stopped`).
    pub code: String,
    /// What it says.
    pub message: String,
    /// What to do; never a step that writes a copy's file or brick.
    pub advice: Option<String>,
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompareReport {
    /// The copies, as given.
    pub copies: Vec<CopyReport>,
    /// Every copy against the first.
    pub pairs: Vec<Pair>,
    /// Findings of the comparison (split-brain, a series that stopped
    /// holding data, caps hit).
    pub notes: Vec<Note>,
    /// The summary an admin acts on, one sentence a line.
    pub summary: Vec<String>,
    /// The exit status: 0 the copies agree, 1 they differ, 4 one is damaged (OR-ed).
    pub exit: u8,
}

impl Pair {
    /// The differing ranges' total, listed or not.
    pub fn differing(&self) -> u64 {
        self.divergence.differing
    }

    /// The ranges listed.
    pub fn ranges(&self) -> &[Range] {
        &self.divergence.ranges
    }
}

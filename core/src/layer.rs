//! The layer contract: every format imgcheck reads — container, partition
//! table, volume manager, filesystem — is one [`Inspector`], registered
//! once in probe order. The pipeline hands each reader to the registry,
//! the strongest probe wins, and the winner's [`Inspected`] names the
//! children (sub-readers) to recurse into. Facts cross layers as types
//! ([`Facts`]), never as JSON.

use crate::budget::Budget;
use crate::facts::{Expect, Facts};
use crate::findings::Finding;
use crate::place::{Place, Step};
use crate::read::ReadAt;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

/// How far a layer checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Depth {
    /// Metadata proportional to the number of groups and tables only.
    Quick,
    /// Everything the peer's full check reads (`e2fsck -fn`, `xfs_repair
    /// -n`, `qemu-img check`): every inode, extent and directory.
    #[default]
    Full,
}

/// What the user asked for, as every layer sees it.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// How far to check.
    pub depth: Depth,
    /// Read the whole disk for the zero map, not only where structures live.
    pub scan: bool,
    /// Inspect a container as of this internal snapshot (id or name).
    pub snapshot: Option<String>,
    /// The file the top reader came from, for resolving a qcow2 backing
    /// file or external data file against its directory.
    pub origin: Option<PathBuf>,
    /// Where a long check reports how far it has got (off by default).
    pub progress: crate::Progress,
}

/// How strong a probe's evidence is. The strongest wins; ties go to the
/// layer registered first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strength {
    /// A weak sign that something of this kind may be here (a 0x55AA
    /// signature; a backup superblock only).
    Weak,
    /// A magic number at its fixed offset.
    Magic,
    /// A magic and a structure that validates (a checksum, a BPB whose
    /// fields are consistent, an MBR whose entries fit the disk).
    Structure,
}

/// A probe's answer: this layer can read the reader, on this evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    /// How strong the evidence is.
    pub strength: Strength,
    /// What the layer saw, in words (`ext4 superblock magic at byte 1080`).
    pub evidence: String,
}

impl Probe {
    /// A probe answer.
    pub fn new(strength: Strength, evidence: impl Into<String>) -> Self {
        Probe {
            strength,
            evidence: evidence.into(),
        }
    }
}

/// What a layer is given besides its reader.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// The user's options.
    pub options: &'a Options,
    /// What the parent promises the reader holds.
    pub expect: &'a Expect,
    /// Where the reader sits in the layer tree.
    pub place: &'a Place,
    /// The image's total work bound, shared by every layer.
    pub budget: &'a Budget,
    /// How many layers lie above this one.
    pub depth: usize,
}

/// A timestamp found on disk, for the report's timeline.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Event {
    /// Seconds since the Unix epoch, UTC.
    pub time: i64,
    /// Where it was found (`partition 2`, `qcow2 snapshot 1 "pre"`); the
    /// pipeline fills an empty one from the node's [`Place`].
    pub source: String,
    /// What happened then (`last mounted at /srv`).
    pub what: String,
}

impl Event {
    /// An event whose source the pipeline fills in.
    pub fn new(time: i64, what: impl Into<String>) -> Self {
        Event {
            time,
            source: String::new(),
            what: what.into(),
        }
    }
}

/// Where a child's bytes are, in terms of its parent's reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Extent {
    /// A window of the parent's reader (a partition): offsets inside move
    /// into the parent's space by adding `start`.
    Slice {
        /// First byte in the parent's reader.
        start: u64,
        /// Length as the parent states it (may run past a truncated disk;
        /// the reader itself is clamped).
        len: u64,
    },
    /// A new address space made by the parent (a qcow2 guest disk, a
    /// snapshot's guest view, a logical volume mapped from extents).
    Mapped,
}

/// A named sub-reader a layer hands out: the pipeline recurses into it.
pub struct Child {
    /// Its step in the place path.
    pub step: Step,
    /// Its bytes.
    pub reader: Arc<dyn ReadAt>,
    /// Where they are in the parent.
    pub extent: Extent,
    /// What its type promises.
    pub expect: Expect,
    /// Its own node (a `partition 2` line with the table's findings about
    /// it); `None` when the child is only a view (a qcow2 guest disk,
    /// whose contents attach to the container's node).
    pub node: Option<ChildNode>,
    /// `false`: listed but not inspected (a range another child already
    /// covers, or one past a bound — the parent says so in a finding).
    pub descend: bool,
}

impl std::fmt::Debug for Child {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Child")
            .field("step", &self.step)
            .field("len", &self.reader.len())
            .field("extent", &self.extent)
            .field("expect", &self.expect)
            .field("node", &self.node)
            .field("descend", &self.descend)
            .finish()
    }
}

/// The node a parent gives a child of its own (a partition's line).
#[derive(Debug, Clone, Default)]
pub struct ChildNode {
    /// Short kind (`partition 2`).
    pub kind: String,
    /// One-line summary (`start 1 MiB, size 16 MiB, EFI System "boot"`).
    pub title: String,
    /// The parent's findings about this child: offsets in the parent's
    /// space, except that for a [`Extent::Mapped`] child a finding in the
    /// child's own space (`Space::Volume` for a logical volume) is at that
    /// offset in the child.
    pub findings: Vec<Finding>,
    /// JSON view.
    pub details: serde_json::Value,
    /// The file the child is, when it is another file than its parent's
    /// (a qcow2 backing file), as a person opens it: the file whose bytes
    /// the child's `Space::File` offsets count, which a report names in
    /// `where.image` and in its hints' `{image}`.
    pub file: Option<String>,
}

/// What a layer found in one reader.
#[derive(Debug, Default)]
pub struct Inspected {
    /// Short kind shown at the start of the node's line (`qcow2`, `gpt`, `ext4`).
    pub kind: String,
    /// One-line summary.
    pub title: String,
    /// Findings, offsets in the layer's own spaces (see [`crate::Space`]).
    pub findings: Vec<Finding>,
    /// Timestamps found.
    pub events: Vec<Event>,
    /// Typed facts for the checks that span layers.
    pub facts: Facts,
    /// The JSON view of the layer's structures; nothing reads it back.
    pub details: serde_json::Value,
    /// Sub-readers to recurse into, in order.
    pub children: Vec<Child>,
}

impl Inspected {
    /// A node with a kind and a title and nothing else yet.
    pub fn new(kind: impl Into<String>, title: impl Into<String>) -> Self {
        Inspected {
            kind: kind.into(),
            title: title.into(),
            details: serde_json::Value::Null,
            ..Inspected::default()
        }
    }
}

/// One format imgcheck can read.
///
/// `probe` must be cheap (a few sectors) and never fail loudly: `None`
/// means "not mine". `inspect` never fails either: damage that stops the
/// layer is a finding, and whatever can still be learned is returned.
pub trait Inspector: Send + Sync {
    /// The layer's name (`qcow2`, `gpt`, `ext4`), as in JSON.
    fn name(&self) -> &'static str;

    /// Whether `reader` holds this format, and on what evidence.
    fn probe(&self, reader: &dyn ReadAt, cx: &Context<'_>) -> Option<Probe>;

    /// Reads and checks `reader`.
    fn inspect(&self, reader: &Arc<dyn ReadAt>, cx: &Context<'_>) -> Inspected;
}

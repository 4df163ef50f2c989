//! The report is built once as data; the text and JSON views render it.

use imgcheck_core::{Finding, Severity};
use serde::Serialize;

/// One layer of the report tree: the container, the partition table, a
/// partition, a filesystem. Children nest as the layers do.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Node {
    /// Short kind shown at the start of the text line (`qcow2`, `gpt`,
    /// `partition 1`, `ext4`).
    pub kind: String,
    /// One-line summary after the kind.
    pub title: String,
    /// Findings of this layer, offsets already in the report's spaces.
    pub findings: Vec<Finding>,
    /// Structured details for the JSON `layers` object.
    pub details: serde_json::Value,
    /// Layers nested inside this one.
    pub children: Vec<Node>,
    /// Where a partition lies on the disk, for partition nodes.
    pub span: Option<Span>,
}

/// A partition's place on the disk, as the partition table states it.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Span {
    /// Partition number as the table numbers it (logical MBR partitions from 5).
    pub index: u32,
    /// First byte on the disk.
    pub start: u64,
    /// Size in bytes as the table claims it.
    pub size: u64,
}

impl Node {
    /// A node with a kind and a title and nothing else yet.
    pub fn new(kind: impl Into<String>, title: impl Into<String>) -> Self {
        Node {
            kind: kind.into(),
            title: title.into(),
            details: serde_json::Value::Null,
            ..Node::default()
        }
    }

    /// Every finding in this node and below, in report order.
    pub fn all_findings(&self) -> Vec<&Finding> {
        let mut out: Vec<&Finding> = self.findings.iter().collect();
        for c in &self.children {
            out.extend(c.all_findings());
        }
        out
    }
}

/// Kinds of the partition-table node the gpt adapter produces.
pub const TABLE_KINDS: [&str; 3] = ["gpt", "mbr", "none"];

/// A timestamp found on disk, for the report's timeline.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Event {
    /// Seconds since the Unix epoch, UTC.
    pub time: i64,
    /// Where it was found (`qcow2 snapshot "pre-resize"`, `ext4 partition 2`).
    pub source: String,
    /// What happened then (`last mounted at /srv`).
    pub what: String,
}

/// The verdict of one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// No warning or error finding.
    Clean,
    /// Warnings, no errors.
    Warning,
    /// At least one error finding.
    Damaged,
}

impl Verdict {
    /// The verdict for a set of findings: info never counts.
    pub fn of<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Self {
        match imgcheck_core::worst_severity(findings) {
            Some(Severity::Error) => Verdict::Damaged,
            Some(Severity::Warning) => Verdict::Warning,
            _ => Verdict::Clean,
        }
    }

    /// The fsck-style exit bits for this verdict.
    pub fn exit_bits(self) -> u8 {
        use crate::exit;
        match self {
            Verdict::Clean => exit::CLEAN,
            Verdict::Warning => exit::WARNINGS,
            Verdict::Damaged => exit::DAMAGED,
        }
    }

    /// Lower-case name as in the JSON report.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Clean => "clean",
            Verdict::Warning => "warning",
            Verdict::Damaged => "damaged",
        }
    }
}

/// Everything imgcheck found in one image.
#[derive(Debug, Clone)]
pub struct ImageReport {
    /// The path as given on the command line.
    pub image: String,
    /// `qcow2` or `raw`.
    pub format: &'static str,
    /// Size of the image file in bytes.
    pub file_size: u64,
    /// Size of the guest disk in bytes (the file size for raw images).
    pub virtual_size: u64,
    /// The layer tree, outermost first.
    pub root: Node,
    /// Timestamps found on disk, sorted.
    pub timeline: Vec<Event>,
    /// Ordered next steps, safest first, without duplicates.
    pub next_steps: Vec<String>,
    /// Disk ranges `[start, end)` known to be all zeros.
    pub zero_ranges: Vec<(u64, u64)>,
    /// What each layer says the disk's size is, outside in.
    pub size_chain: Vec<crate::layout::SizeLink>,
    /// Findings that span layers (layer `layout`), shown in a block of
    /// their own after the layer tree.
    pub layout: Vec<Finding>,
}

impl ImageReport {
    /// Every finding, in report order.
    pub fn findings(&self) -> Vec<&Finding> {
        let mut all = self.root.all_findings();
        all.extend(self.layout.iter());
        all
    }

    /// The partition-table node (`gpt`, `mbr`, or `none` for a disk with no
    /// table), when the disk could be read. The container's other children
    /// (a qcow2 backing chain) are not it.
    pub fn table(&self) -> Option<&Node> {
        self.root
            .children
            .iter()
            .rev()
            .find(|c| TABLE_KINDS.contains(&c.kind.as_str()))
    }

    /// The verdict: damaged on any error, warning on any warning.
    pub fn verdict(&self) -> Verdict {
        Verdict::of(self.findings())
    }
}

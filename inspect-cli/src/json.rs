//! The `--json` report as typed data: what [`crate::render::json_value`]
//! writes, and what an embedder reads back (`serde_json::from_str::<JsonReport>`)
//! without a schema of its own. The shape is specified by
//! `inspect-cli/schema/report.schema.json` ([`SCHEMA`]), which the tests
//! hold every report of the fixtures to.
//!
//! An [`ImageReport`] is the report in memory (readers, typed facts, the
//! layer tree); a [`JsonReport`] is its one serialized view. Layers'
//! `details` stay free-form JSON objects: each layer owns their keys.

use crate::layout::LossEvent;
use crate::options::Fatal;
use crate::report::{ImageReport, Node, SizeLink};
use imgcheck_core::time::utc;
use imgcheck_core::{FindingJson, Severity, Step};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The version of the JSON report's shape, the report's `schema` key.
/// 2: `where` became an object of named fields ([`imgcheck_core::Where`]).
pub const SCHEMA_VERSION: u32 = 2;

/// The JSON Schema (draft 2020-12) of `--json`'s lines and of
/// `--qemu-compat`'s object, as committed.
pub const SCHEMA: &str = include_str!("../schema/report.schema.json");

/// One image's `--json` line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonReport {
    /// The shape's version ([`SCHEMA_VERSION`]).
    pub schema: u32,
    /// What the report calls the image (`PATH`, `PATH@SNAPSHOT`).
    pub image: String,
    /// The container (`qcow2`, `raw`); `None` when an image that could
    /// not be checked was not identified.
    pub format: Option<String>,
    /// Bytes of the image file, when known.
    pub file_size: Option<u64>,
    /// Bytes of the guest disk, when known.
    pub virtual_size: Option<u64>,
    /// `clean`, `warning`, `damaged`, or `error` for an image that could
    /// not be checked (see `error`).
    pub verdict: String,
    /// Why the image could not be checked: `kind`, `message` and what was
    /// learned before stopping; only on verdict `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<serde_json::Map<String, Value>>,
    /// Findings by severity.
    pub counters: Counters,
    /// Every finding, in report order, hints resolved for this image.
    pub findings: Vec<FindingJson>,
    /// The layer tree as lsblk nests it; `None` for an image that could
    /// not be checked.
    pub layers: Option<Layers>,
    /// Timestamps found on disk, oldest first.
    pub timeline: Vec<TimelineEntry>,
    /// Ordered next steps, safest first.
    pub next_steps: Vec<String>,
    /// Will it boot: one verdict per firmware path, when a table was read.
    #[serde(default)]
    pub boot: Option<Boot>,
}

/// How many findings of each severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Error findings.
    pub errors: usize,
    /// Warning findings.
    pub warnings: usize,
    /// Info findings.
    pub info: usize,
    /// All findings.
    pub findings: usize,
}

/// One layer's node: its kind, the one-line summary and the structures it
/// read (free-form: each layer owns its keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerNode {
    /// The node's kind (`qcow2`, `gpt`, `ext4`, `partition 1`).
    pub kind: String,
    /// The text report's line for it.
    pub summary: String,
    /// The layer's structures.
    pub details: Value,
}

/// The container: a [`LayerNode`] and the format it was read as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Container {
    /// The node.
    #[serde(flatten)]
    pub node: LayerNode,
    /// `qcow2` or `raw`.
    pub format: String,
}

/// A partition: its node, its extent and what is in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Partition {
    /// The node.
    #[serde(flatten)]
    pub node: LayerNode,
    /// Its number, as the table numbers it.
    pub index: u32,
    /// First byte on the disk.
    pub start: u64,
    /// Bytes, as the table claims.
    pub size: u64,
    /// The layer read inside it, if any.
    pub filesystem: Option<LayerNode>,
}

/// A logical volume and what it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Volume {
    /// The node.
    #[serde(flatten)]
    pub node: LayerNode,
    /// `vg/lv`.
    pub name: String,
    /// Bytes of the volume, when it was assembled.
    pub size: Option<u64>,
    /// The layer read inside it, if any.
    pub contents: Option<LayerNode>,
}

/// The `layers` object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layers {
    /// The container (the image file's format).
    pub container: Container,
    /// The partition table (`gpt`, `mbr`, or `none`), when the disk was read.
    pub partition_table: Option<LayerNode>,
    /// The table's partitions, in table order.
    pub partitions: Vec<Partition>,
    /// A filesystem on the whole disk (no partition table).
    pub filesystem: Option<LayerNode>,
    /// Logical volumes wherever they are in the tree.
    pub volumes: Vec<Volume>,
    /// What the checks across layers measured.
    pub layout: Layout,
}

/// The `layers.layout` object: what the checks across layers measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Layout {
    /// What each layer says the disk's size is, outside in.
    pub size_chain: Vec<SizeLink>,
    /// Disk ranges known to be all zeros.
    pub zero_ranges: Vec<ZeroRange>,
    /// What was lost, by zeroed range, with the files it hit.
    pub lost: Vec<LossEvent>,
}

impl PartialEq for Layout {
    /// By their JSON: loss events carry no equality of their own.
    fn eq(&self, other: &Self) -> bool {
        serde_json::to_value(self).ok() == serde_json::to_value(other).ok()
    }
}

/// A disk range `[start, end)` that reads as zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZeroRange {
    /// First byte.
    pub start: u64,
    /// One past the last.
    pub end: u64,
}

/// One timestamp found on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// Seconds since the Unix epoch.
    pub time: i64,
    /// The same, as ISO 8601 UTC.
    pub utc: String,
    /// Where it was found (`partition 2`).
    pub source: String,
    /// What happened then.
    pub what: String,
}

/// Both firmware paths' verdicts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Boot {
    /// The BIOS path.
    pub bios: imgcheck_boot::Verdict,
    /// The UEFI path.
    pub uefi: imgcheck_boot::Verdict,
}

impl LayerNode {
    fn of(n: &Node) -> Self {
        LayerNode {
            kind: n.kind.clone(),
            summary: n.title.clone(),
            details: n.details.clone(),
        }
    }
}

impl Layers {
    /// The container, the partition table, its partitions and their
    /// filesystems, each with the details its layer gave.
    pub fn of(report: &ImageReport) -> Self {
        let mut partition_table = None;
        let mut partitions = Vec::new();
        let mut filesystem = None;
        if let Some(t) = report.table() {
            partition_table = Some(LayerNode::of(t));
            // Partitions carry a span; a node without one is the contents
            // of the whole disk (no partition table).
            for c in &t.children {
                match c.span {
                    Some(span) => partitions.push(Partition {
                        node: LayerNode::of(c),
                        index: span.index,
                        start: span.start,
                        size: span.size,
                        filesystem: c.children.first().map(LayerNode::of),
                    }),
                    None => filesystem = Some(LayerNode::of(c)),
                }
            }
        }
        // Logical volumes wherever they are in the tree (on the disk, in a
        // partition), each with what it holds.
        let volumes = report
            .root
            .walk()
            .into_iter()
            .filter_map(|n| match n.place.0.last() {
                Some(Step::Volume(v)) if n.layer.is_none() => Some(Volume {
                    node: LayerNode::of(n),
                    name: v.clone(),
                    size: n.facts.claimed_size,
                    contents: n.children.first().map(LayerNode::of),
                }),
                _ => None,
            })
            .collect();
        Layers {
            container: Container {
                node: LayerNode::of(&report.root),
                format: report.format.to_string(),
            },
            partition_table,
            partitions,
            filesystem,
            volumes,
            layout: Layout {
                size_chain: report.size_chain.clone(),
                zero_ranges: report
                    .zero_ranges
                    .iter()
                    .map(|&(start, end)| ZeroRange { start, end })
                    .collect(),
                lost: report.lost.clone(),
            },
        }
    }
}

impl JsonReport {
    /// The JSON view of `report`: hints as a person runs them
    /// (placeholders filled, target concrete), and each finding's `where`
    /// with the image's name and the filesystem it is in.
    pub fn of(report: &ImageReport) -> Self {
        let nodes = report.root.walk();
        let findings: Vec<FindingJson> = report
            .findings()
            .into_iter()
            .map(|f| {
                let mut f = f.clone();
                if let Some(r) = report.hint_of(&f) {
                    f.hint = Some(r.hint);
                }
                let filesystem = filesystem_at(&nodes, &f);
                // A backing file's offsets count in that file: named so.
                let image = report
                    .file_of(&f.place)
                    .unwrap_or(&report.image)
                    .to_string();
                let mut j = FindingJson::from(f);
                j.place.image = Some(image);
                j.place.filesystem = filesystem;
                j
            })
            .collect();
        let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
        JsonReport {
            schema: SCHEMA_VERSION,
            image: report.image.clone(),
            format: Some(report.format.to_string()),
            file_size: Some(report.file_size),
            virtual_size: Some(report.virtual_size),
            verdict: report.verdict().as_str().to_string(),
            error: None,
            counters: Counters {
                errors: count(Severity::Error),
                warnings: count(Severity::Warning),
                info: count(Severity::Info),
                findings: findings.len(),
            },
            findings,
            layers: Some(Layers::of(report)),
            timeline: report
                .timeline
                .iter()
                .map(|e| TimelineEntry {
                    time: e.time,
                    utc: utc(e.time),
                    source: e.source.clone(),
                    what: e.what.clone(),
                })
                .collect(),
            next_steps: report.next_steps.clone(),
            boot: report.boot.as_ref().map(|b| Boot {
                bios: b.bios.clone(),
                uefi: b.uefi.clone(),
            }),
        }
    }

    /// The line of an image that could not be checked: the report's keys,
    /// verdict `error`, the problem as `error: {kind, message}` and what
    /// was learned before stopping beside it.
    pub fn failed(image: &str, fatal: &Fatal) -> Self {
        let mut error = serde_json::Map::new();
        error.insert(
            "kind".into(),
            serde_json::to_value(fatal.kind).unwrap_or(Value::Null),
        );
        error.insert("message".into(), Value::String(fatal.message.clone()));
        for (k, v) in &fatal.learned {
            error.insert(k.clone(), v.clone());
        }
        JsonReport {
            schema: SCHEMA_VERSION,
            image: image.to_string(),
            format: fatal
                .learned
                .get("format")
                .and_then(Value::as_str)
                .map(str::to_string),
            file_size: fatal.learned.get("file_size").and_then(Value::as_u64),
            virtual_size: None,
            verdict: "error".into(),
            error: Some(error),
            counters: Counters {
                errors: 0,
                warnings: 0,
                info: 0,
                findings: 0,
            },
            findings: Vec::new(),
            layers: None,
            timeline: Vec::new(),
            next_steps: Vec::new(),
            boot: None,
        }
    }
}

/// The layers that read filesystems: a finding at their node's place is
/// in that filesystem, even one whose superblock could not be used.
const FILESYSTEM_LAYERS: [&str; 3] = ["ext4", "xfs", "fat"];

/// The kind of the filesystem whose node is at `f`'s place (`ext4`,
/// `xfs`, `vfat`), if any. A finding of another layer placed in the
/// partition (the size chain's, about the space after it; a zeroed run)
/// is in that filesystem only when its disk offset lies in the partition.
fn filesystem_at(nodes: &[&Node], f: &imgcheck_core::Finding) -> Option<String> {
    let fs = nodes
        .iter()
        .find(|n| n.place == f.place && n.layer.is_some_and(|l| FILESYSTEM_LAYERS.contains(&l)))?;
    if FILESYSTEM_LAYERS.contains(&f.layer.as_str()) {
        return Some(fs.kind.clone());
    }
    let span = nodes
        .iter()
        .find(|n| n.place == f.place && n.span.is_some())
        .and_then(|n| n.span);
    match span {
        Some(s) if f.space == imgcheck_core::Space::Disk => (s.start <= f.offset
            && f.offset.saturating_sub(s.start) < s.size)
            .then(|| fs.kind.clone()),
        _ => Some(fs.kind.clone()),
    }
}

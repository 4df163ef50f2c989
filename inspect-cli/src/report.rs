//! The report is built once as data — a tree of nodes, one per layer
//! (and per partition), with typed facts and findings — and the text, JSON
//! and SVG views render it.

use crate::devices::{self, Resolved};
use crate::exit;
use imgcheck_core::{Attach, Facts, Finding, Place, Severity, Space};
use serde::{Deserialize, Serialize};

pub use imgcheck_core::Event;

/// One node of the layer tree: a container, a partition table, a
/// partition, a filesystem. Children nest as the layers do.
///
/// In memory only (its facts hold readers' maps): its serialized form is
/// [`crate::json::LayerNode`] in a [`crate::json::JsonReport`].
#[derive(Debug, Clone, Serialize)]
pub struct Node {
    /// Short kind shown at the start of the text line (`qcow2`, `gpt`,
    /// `partition 1`, `ext4`).
    pub kind: String,
    /// One-line summary after the kind.
    pub title: String,
    /// The layer that read it (`qcow2`, `gpt`, `ext4`, …), or `None` for a
    /// node a parent made for one of its children (a partition's line).
    pub layer: Option<&'static str>,
    /// Where it is in the tree.
    pub place: Place,
    /// Where its reader starts, in the report space `space`.
    pub base: u64,
    /// The report space its offsets are in.
    pub space: Space,
    /// Findings, offsets already in the report's spaces, places set.
    pub findings: Vec<Finding>,
    /// What the layer stated, for the checks that span layers.
    pub facts: Facts,
    /// The layer's structures for the JSON `layers` object (a view only).
    pub details: serde_json::Value,
    /// Layers nested inside this one.
    pub children: Vec<Node>,
    /// Where a partition lies on the disk, for partition nodes.
    pub span: Option<Span>,
    /// What the parent's table promised this node's contents are (a
    /// partition's type), for the check that a promise was kept.
    #[serde(skip)]
    pub expect: Option<imgcheck_core::Expect>,
    /// The file this node is, when it is not the image's (a backing
    /// file): what its findings' `file` offsets count in.
    pub file: Option<String>,
}

/// A partition's place on the disk, as the partition table states it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Span {
    /// Partition number as the table numbers it (logical MBR partitions from 5).
    pub index: u32,
    /// First byte on the disk.
    pub start: u64,
    /// Size in bytes as the table claims it.
    pub size: u64,
}

impl Node {
    /// Every finding in this node and below, in report order.
    pub fn all_findings(&self) -> Vec<&Finding> {
        let mut out: Vec<&Finding> = self.findings.iter().collect();
        for c in &self.children {
            out.extend(c.all_findings());
        }
        out
    }

    /// This node and every node below it, depth first.
    pub fn walk(&self) -> Vec<&Node> {
        let mut out = vec![self];
        for c in &self.children {
            out.extend(c.walk());
        }
        out
    }

    /// The partition table: the first node (depth first) whose layer
    /// stated table facts.
    pub fn table(&self) -> Option<&Node> {
        self.walk().into_iter().find(|n| n.facts.table.is_some())
    }

    /// The partitions of this node (children with a span), in table order.
    pub fn partitions(&self) -> impl Iterator<Item = &Node> {
        self.children.iter().filter(|c| c.span.is_some())
    }
}

/// One link of the size chain: what a layer says the disk (or its part of
/// it) is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SizeLink {
    /// The layer and structure (`qcow2 disk`, `disk size the GPT was written for`).
    pub what: String,
    /// The size or end offset it states, in bytes.
    pub bytes: u64,
}

/// The verdict of one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    /// What the report calls the image: the path as given, with `@SNAPSHOT`
    /// when it shows an internal snapshot.
    pub image: String,
    /// The image file as given, for the commands of hints (`{image}`).
    pub path: String,
    /// The container layer (`qcow2`, `raw`).
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
    pub size_chain: Vec<SizeLink>,
    /// Findings that span layers (layer `layout`), shown in a block of
    /// their own after the layer tree.
    pub layout: Vec<Finding>,
    /// Will it boot: one verdict per firmware path and the findings of
    /// layer `boot` (a partitioned disk only).
    pub boot: Option<imgcheck_boot::Report>,
    /// What was lost, by file: each zeroed range that destroyed data,
    /// with the files and structures it hit (JSON `layout.lost`).
    pub lost: Vec<crate::layout::LossEvent>,
    /// What the check cost (bytes read, seconds per layer): for
    /// `--metrics`, never in the text or JSON views, which stay the same
    /// from run to run.
    pub cost: Cost,
}

/// What checking one image cost.
#[derive(Debug, Clone, Default)]
pub struct Cost {
    /// Bytes read from the image and the files it joins (backing, data
    /// files), as charged to the image's budget.
    pub bytes_read: u64,
    /// Seconds spent in each layer's `inspect` (its children's layers
    /// excluded), by layer name, in first-seen order; the checks that
    /// span layers are `layout`.
    pub seconds_by_layer: Vec<(&'static str, f64)>,
    /// Seconds the whole check of the image took.
    pub seconds: f64,
}

impl Cost {
    /// Adds `secs` to `layer`'s share.
    pub fn add(&mut self, layer: &'static str, secs: f64) {
        match self.seconds_by_layer.iter_mut().find(|(l, _)| *l == layer) {
            Some((_, s)) => *s += secs,
            None => self.seconds_by_layer.push((layer, secs)),
        }
    }
}

impl ImageReport {
    /// Every finding, in report order.
    pub fn findings(&self) -> Vec<&Finding> {
        let mut all = self.root.all_findings();
        all.extend(self.layout.iter());
        if let Some(b) = &self.boot {
            all.extend(b.findings.iter());
        }
        all
    }

    /// The partition-table node (`gpt`, `mbr`, or `none` for a disk with no
    /// table), when the disk could be read.
    pub fn table(&self) -> Option<&Node> {
        self.root.table()
    }

    /// The verdict: damaged on any error, warning on any warning.
    pub fn verdict(&self) -> Verdict {
        Verdict::of(self.findings())
    }

    /// How the container's guest disk is attached for next steps.
    pub fn attach(&self) -> Option<&Attach> {
        self.root.facts.guest.as_ref()?.attach.as_ref()
    }

    /// The hint of `f` as a person runs it: placeholders filled for this
    /// image and the node the finding belongs to. A step that writes
    /// names the copy the next steps make and its writable device, never
    /// the evidence: a finding's hint is read on its own, beside the
    /// finding (an attack's F14 got `sgdisk -e ${NBD:?}` there, the
    /// evidence's device, where the next steps said `${NBDCOPY:?}`).
    pub fn hint_of(&self, f: &Finding) -> Option<Resolved> {
        // A backing file's finding acts on that file (on a copy of it
        // when it writes), never on the image that names it: `qemu-img
        // check -r leaks` on the overlay frees nothing of its backing
        // file's.
        if let Some(file) = self.joined_file(&f.place) {
            let on = if f.hint.as_ref().is_some_and(|h| h.writes) {
                crate::steps::copy_of(self, file)
            } else {
                file.to_string()
            };
            return self.hint_for(f, &on, None);
        }
        if f.hint.as_ref().is_some_and(|h| h.writes) {
            return crate::steps::on_copy(self, f);
        }
        self.hint_for(f, &self.path, self.attach())
    }

    /// The file a finding at `place` is in when it is not the image
    /// itself: the innermost node on its path that is a file of its own
    /// (a backing file, [`Node::file`]). Its `file` offsets count in that
    /// file, which `where.image` names.
    pub fn file_of(&self, place: &Place) -> Option<&str> {
        self.root
            .walk()
            .into_iter()
            .filter(|n| n.file.is_some() && place.0.starts_with(&n.place.0))
            .max_by_key(|n| n.place.0.len())
            .and_then(|n| n.file.as_deref())
    }

    /// [`Self::file_of`] for a file the image file joins itself (its own
    /// backing chain): the hints of one joined inside a logical volume
    /// resolve through the volume ([`devices::nested`]).
    pub fn joined_file(&self, place: &Place) -> Option<&str> {
        if place
            .0
            .iter()
            .any(|s| matches!(s, imgcheck_core::Step::Volume(_)))
        {
            return None;
        }
        self.file_of(place)
    }

    /// The hint of `f` with `{image}` standing for `image`, attached as
    /// `attach` says: the evidence ([`Self::hint_of`]), or the copy a
    /// writing step runs on.
    pub fn hint_for(&self, f: &Finding, image: &str, attach: Option<&Attach>) -> Option<Resolved> {
        let h = f.hint.as_ref()?;
        // Inside an LV the outer image is the PV: the LV's own device.
        let holds_image = |lv: &imgcheck_core::Place| {
            self.root
                .walk()
                .iter()
                .any(|n| n.layer == Some("qcow2") && &n.place == lv)
        };
        if let Some(n) = devices::nested(&f.place, f.layer.as_str(), holds_image) {
            return Some(devices::resolve_nested(h, &n, self.attach()));
        }
        // A partition device of a table the kernel ignores never appears.
        let unseen = self.table().filter(|t| {
            t.facts
                .table
                .as_ref()
                .is_some_and(|tf| !tf.kernel_sees_partitions)
        });
        let names_dev = h.command.as_deref().is_some_and(|c| c.contains("{dev}"));
        if let (Some(t), Some(n), true) = (unseen, f.place.partition(), names_dev)
            && let Some(span) = t.partitions().filter_map(|p| p.span).find(|s| s.index == n)
        {
            return Some(devices::resolve_unseen_partition(
                h,
                &f.place,
                image,
                attach,
                (n, span.start, span.size),
            ));
        }
        Some(devices::resolve(h, &f.place, image, attach))
    }
}

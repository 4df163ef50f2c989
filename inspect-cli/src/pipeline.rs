//! The walk: the image file goes to the registry, the layer whose probe
//! has the strongest evidence reads it, and each child it hands out goes
//! to the registry in turn — containers, tables, filesystems alike, bounded
//! by [`MAX_DEPTH`] and [`MAX_CHILDREN`]. The pipeline moves every
//! finding's offset into the report's space and sets its place; then the
//! checks that span layers and the next steps are added.

use crate::layout;
use crate::limits::{MAX_CHILDREN, MAX_DEPTH};
use crate::options::{Fatal, Format, Options};
use crate::registry::{self, REGISTRY, layers};
use crate::report::{Event, ImageReport, Node, Span};
use crate::steps;
use imgcheck_core::{
    Budget, Child, Context, Depth, Expect, Extent, Facts, FileReader, Finding, Inspector, Layer,
    Place, Promise, ReadAt, Sink, Space, Step,
};
use std::path::Path;
use std::sync::Arc;

impl Format {
    /// The container layer this `--format` names.
    pub fn layer(self) -> &'static str {
        match self {
            Format::Raw => "raw",
            Format::Qcow2 => "qcow2",
        }
    }
}

fn open_file(path: &Path) -> Result<Arc<FileReader>, Fatal> {
    let meta = std::fs::metadata(path).map_err(|e| Fatal::new(format!("cannot open: {e}")))?;
    if meta.is_dir() {
        return Err(Fatal::new("is a directory, not an image file"));
    }
    FileReader::open(path)
        .map(Arc::new)
        .map_err(|e| Fatal::new(format!("cannot open read-only: {e}")))
}

/// Checks one image file and builds its report.
pub fn inspect_image(
    path: &Path,
    format: Option<Format>,
    opts: &Options,
) -> Result<ImageReport, Fatal> {
    let file: Arc<dyn ReadAt> = open_file(path)?;
    // A snapshot's report is named after it, so several of one image differ.
    let name = match &opts.snapshot {
        Some(s) => format!("{}@{s}", path.display()),
        None => path.display().to_string(),
    };
    inspect_reader(&name, file, format, opts)
}

/// Checks an image held by any reader (a file, a buffer, a test's damaged
/// view) and builds its report; `name` is what the report calls it.
/// Backing files of a qcow2 image resolve against `opts.image_path`.
pub fn inspect_reader(
    name: &str,
    file: Arc<dyn ReadAt>,
    format: Option<Format>,
    opts: &Options,
) -> Result<ImageReport, Fatal> {
    inspect_with(REGISTRY, name, file, format.map(Format::layer), opts)
}

/// [`inspect_reader`] with the layers of `registry` (tests, embedders with
/// layers of their own); `only` restricts the image file to the container
/// layer of that name (`--format`).
pub fn inspect_with(
    registry: &[&dyn Inspector],
    name: &str,
    file: Arc<dyn ReadAt>,
    only: Option<&str>,
    opts: &Options,
) -> Result<ImageReport, Fatal> {
    let options = imgcheck_core::Options {
        depth: if opts.deep { Depth::Full } else { Depth::Quick },
        scan: opts.scan,
        snapshot: opts.snapshot.clone(),
        origin: (!opts.image_path.as_os_str().is_empty()).then(|| opts.image_path.clone()),
    };
    let budget = Budget::unlimited();
    let mut walk = Walk {
        registry,
        options: &options,
        budget: &budget,
        events: Vec::new(),
        disk: None,
    };
    let expect = Expect {
        contents: Promise::DiskImage,
        type_name: None,
    };
    let frame = Frame {
        base: 0,
        space: Space::File,
    };
    let file_size = file.len();
    let Some((mut root, children)) =
        walk.node(&file, &expect, &Place::root(), frame, 0, "image", only)
    else {
        return Err(Fatal::new(match only {
            Some(f) => format!("not a {f} image: the {f} layer does not recognise it"),
            None => "no layer recognises this file".to_string(),
        }));
    };
    check_snapshot_asked(&root, opts)?;
    walk.children(&mut root, children, &Place::root(), frame, 0, "image");
    let Walk {
        mut events, disk, ..
    } = walk;
    let layout = layout::check(&root, disk.as_deref(), opts.scan);
    events.sort();
    let mut report = ImageReport {
        image: name.to_string(),
        path: opts.image_path.display().to_string(),
        format: root.layer.unwrap_or("raw"),
        file_size,
        virtual_size: root.facts.guest.as_ref().map_or(file_size, |g| g.size),
        root,
        timeline: events,
        next_steps: Vec::new(),
        zero_ranges: layout.zero_ranges,
        size_chain: layout.size_chain,
        layout: layout.findings,
    };
    if report.path.is_empty() {
        report.path = name.to_string();
    }
    report.next_steps = steps::next_steps(&report);
    Ok(report)
}

/// `--snapshot NAME` must name a snapshot the image has: a typo is not
/// damage, so it stops the image instead of becoming a finding.
fn check_snapshot_asked(root: &Node, opts: &Options) -> Result<(), Fatal> {
    let Some(s) = &opts.snapshot else {
        return Ok(());
    };
    let snaps = &root.facts.snapshots;
    if snaps.iter().any(|x| &x.id == s || &x.name == s) {
        return Ok(());
    }
    Err(Fatal::new(if snaps.is_empty() {
        format!(
            "no snapshot named {s:?}: this {} image has no internal snapshots",
            root.kind
        )
    } else {
        let have: Vec<String> = snaps
            .iter()
            .map(|x| format!("{} {}", x.id, x.name))
            .collect();
        format!(
            "no snapshot named {s:?}; this {} image has (id name): {}",
            root.kind,
            have.join(", ")
        )
    }))
}

/// Where a reader's offsets are in the report: its start in the address
/// space of the innermost container, and that space.
#[derive(Debug, Clone, Copy)]
struct Frame {
    base: u64,
    space: Space,
}

struct Walk<'a> {
    registry: &'a [&'a dyn Inspector],
    options: &'a imgcheck_core::Options,
    budget: &'a Budget,
    events: Vec<Event>,
    /// The guest disk the image file's container handed out: what the
    /// zero map and the size chain measure.
    disk: Option<Arc<dyn ReadAt>>,
}

impl Walk<'_> {
    /// The node of the layer that claims `reader`, and the children it
    /// hands out (not yet visited), or `None` when no layer claims it.
    #[allow(clippy::too_many_arguments)]
    fn node(
        &mut self,
        reader: &Arc<dyn ReadAt>,
        expect: &Expect,
        place: &Place,
        frame: Frame,
        depth: usize,
        label: &str,
        only: Option<&str>,
    ) -> Option<(Node, Vec<Child>)> {
        let cx = Context {
            options: self.options,
            expect,
            place,
            budget: self.budget,
            depth,
        };
        let (layer, _evidence) = registry::pick(self.registry, reader.as_ref(), &cx, only)?;
        let ins = layer.inspect(reader, &cx);
        // A container's `Disk` offsets are in the guest disk it hands out.
        let container = ins.facts.guest.is_some();
        let findings = ins
            .findings
            .into_iter()
            .map(|f| placed(f, place, frame, container))
            .collect();
        self.events.extend(ins.events.into_iter().map(|mut e| {
            if e.source.is_empty() {
                e.source = label.to_string();
            }
            e
        }));
        let node = Node {
            kind: ins.kind,
            title: ins.title,
            layer: Some(layer.name()),
            place: place.clone(),
            base: frame.base,
            space: frame.space,
            findings,
            facts: ins.facts,
            details: ins.details,
            children: Vec::new(),
            span: None,
        };
        Some((node, ins.children))
    }

    /// Visits the children `node` handed out, within the bounds.
    fn children(
        &mut self,
        node: &mut Node,
        children: Vec<Child>,
        place: &Place,
        frame: Frame,
        depth: usize,
        label: &str,
    ) {
        let total = children.len();
        // What the parent said about children past the bound stays on the
        // parent, under the one cap policy: a layer that does not cap its
        // own findings still cannot flood the report.
        let mut past_bound = Sink::new();
        for (i, child) in children.into_iter().enumerate() {
            // A view (no node of its own) stands for its parent's contents:
            // it adds its step only when the step picks something (a
            // snapshot, a backing file); `Other` names no more than "the
            // contents" (the guest disk, the whole disk).
            let shown = child.node.is_some() || !matches!(child.step, Step::Other(_));
            let child_place = if shown {
                place.join(child.step.clone())
            } else {
                place.clone()
            };
            let child_frame = match child.extent {
                Extent::Slice { start, .. } => Frame {
                    base: frame.base.saturating_add(start),
                    space: frame.space,
                },
                Extent::Mapped => Frame {
                    base: 0,
                    space: match child.step {
                        Step::Volume(_) => Space::Volume,
                        _ => Space::Disk,
                    },
                },
            };
            if i >= MAX_CHILDREN {
                if i == MAX_CHILDREN {
                    node.findings
                        .push(too_many(node, total, &child, frame, &child_place));
                }
                if let Some(cn) = child.node {
                    past_bound.extend(
                        cn.findings
                            .into_iter()
                            .map(|f| placed(f, &child_place, frame, false)),
                    );
                }
                continue;
            }
            let child_label = match (&child.step, shown) {
                (_, true) => child_place.to_string(),
                (Step::Other(s), false) => s.clone(),
                _ => label.to_string(),
            };
            let view_of_image = depth == 0 && child.node.is_none() && child.descend;
            if view_of_image && matches!(child.extent, Extent::Mapped) && self.disk.is_none() {
                self.disk = Some(Arc::clone(&child.reader));
            }
            let inner = (child.descend).then(|| (Arc::clone(&child.reader), child.expect.clone()));
            match child.node {
                Some(cn) => {
                    let span = match (&child.step, child.extent) {
                        (Step::Partition(n), Extent::Slice { start, len }) => Some(Span {
                            index: *n,
                            start: frame.base.saturating_add(start),
                            size: len,
                        }),
                        _ => None,
                    };
                    let mut n = Node {
                        kind: cn.kind,
                        title: cn.title,
                        layer: None,
                        place: child_place.clone(),
                        base: child_frame.base,
                        space: child_frame.space,
                        // The parent's findings about it: offsets in the
                        // parent's space.
                        findings: cn
                            .findings
                            .into_iter()
                            .map(|f| placed(f, &child_place, frame, false))
                            .collect(),
                        facts: Facts::default(),
                        details: cn.details,
                        children: Vec::new(),
                        span,
                    };
                    if let Some((r, e)) = &inner {
                        self.descend(&mut n, r, e, &child_place, child_frame, depth, &child_label);
                    }
                    node.children.push(n);
                }
                None => {
                    if let Some((r, e)) = &inner {
                        self.descend(node, r, e, &child_place, child_frame, depth, &child_label);
                    }
                }
            }
        }
        node.findings.extend(past_bound.finish());
    }

    /// The layer inside `child`, attached under `parent`.
    #[allow(clippy::too_many_arguments)]
    fn descend(
        &mut self,
        parent: &mut Node,
        reader: &Arc<dyn ReadAt>,
        expect: &Expect,
        place: &Place,
        frame: Frame,
        depth: usize,
        label: &str,
    ) {
        let depth = depth.saturating_add(1);
        if depth > MAX_DEPTH {
            parent.findings.push(
                Finding::warning(
                    "layout.nesting.too_deep",
                    Layer::LAYOUT,
                    frame.base,
                    frame.space,
                    format!(
                        "layers nest deeper than {MAX_DEPTH} here: the contents of {place} were not inspected"
                    ),
                )
                .in_place(place),
            );
            return;
        }
        if let Some((mut n, children)) = self.node(reader, expect, place, frame, depth, label, None)
        {
            self.children(&mut n, children, place, frame, depth, label);
            parent.children.push(n);
        }
    }
}

/// Places `f` (found by the layer at `place`, reading through `frame`)
/// in the report: its place joins the layer's own relative place onto the
/// node's, and its offset moves into the report's space.
fn placed(mut f: Finding, place: &Place, frame: Frame, container: bool) -> Finding {
    if !(container && f.space == Space::Disk) {
        f.offset = f.offset.saturating_add(frame.base);
        f.space = frame.space;
    }
    let mut steps = place.0.clone();
    steps.append(&mut f.place.0);
    f.place = Place(steps);
    f
}

/// The bound on children was hit at `first`: one finding counts the rest.
fn too_many(node: &Node, total: usize, first: &Child, frame: Frame, place: &Place) -> Finding {
    let at = match first.extent {
        Extent::Slice { start, .. } => frame.base.saturating_add(start),
        Extent::Mapped => frame.base,
    };
    let step = place
        .0
        .last()
        .map_or_else(|| "the next".to_string(), ToString::to_string);
    let noun = match first.step {
        Step::Partition(_) => "partitions",
        Step::Volume(_) => "logical volumes",
        Step::Snapshot(_) => "snapshots",
        _ => "children",
    };
    Finding::warning(
        "layout.children.not_inspected",
        Layer::LAYOUT,
        at,
        frame.space,
        format!(
            "{} lists {total} {noun}; only the first {MAX_CHILDREN} are shown and have their contents checked: {} more (from {step} on) were not inspected",
            node.kind,
            total.saturating_sub(MAX_CHILDREN)
        ),
    )
    .in_place(&node.place)
}

/// A finding's place, set.
trait InPlace {
    fn in_place(self, place: &Place) -> Self;
}

impl InPlace for Finding {
    fn in_place(mut self, place: &Place) -> Self {
        self.place = place.clone();
        self
    }
}

/// `--qemu-compat` for one image.
pub fn qemu_compat(
    path: &Path,
    format: Option<Format>,
    opts: &Options,
) -> Result<(serde_json::Value, u8), (String, u8)> {
    let file: Arc<dyn ReadAt> = open_file(path).map_err(|e| (e.message, 1))?;
    match registry::container_of(file.as_ref(), format.map(Format::layer)) {
        Some("qcow2") => layers::qcow2::qemu_check(file, &opts.image_path),
        _ => Err(("This image format does not support checks".to_string(), 63)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
#[allow(clippy::arithmetic_side_effects, clippy::as_conversions)]
mod tests {
    use super::*;
    use imgcheck_core::{BytesReader, ChildNode, Inspected, Probe, Strength};
    use imgcheck_testdata::{Patch, damaged};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn report_of(path: &Path) -> ImageReport {
        let opts = Options {
            image_path: path.to_path_buf(),
            ..Options::default()
        };
        inspect_image(path, None, &opts).unwrap()
    }

    fn bytes_report(name: &str, d: Vec<u8>) -> ImageReport {
        inspect_reader(
            name,
            Arc::new(BytesReader::new(d)),
            None,
            &Options::default(),
        )
        .unwrap()
    }

    fn codes(fs: &[Finding]) -> Vec<&str> {
        fs.iter().map(|f| f.code.as_ref()).collect()
    }

    #[test]
    fn partition_findings_sit_on_the_partition_node() {
        // gpt-512 (sgdisk) cut to 24 MiB: partition 4 loses its last MiB.
        let d = damaged("gpt/gpt-512.img", &[Patch::Truncate { len: 24 << 20 }]);
        let r = report_of(d.path());
        let t = r.table().unwrap();
        let p4 = t.partitions().find(|p| p.span.unwrap().index == 4).unwrap();
        let f = p4
            .findings
            .iter()
            .find(|f| f.code == "gpt.partition.beyond_disk")
            .unwrap();
        // Disk space: partition 4's entry (ending_lba) in the primary array.
        assert_eq!((f.offset, f.space), (1024 + 3 * 128 + 0x28, Space::Disk));
        assert_eq!(f.place, Place::root().join(Step::Partition(4)));
        let table = codes(&t.findings);
        assert!(!table.contains(&"gpt.partition.beyond_disk"), "{table:?}");
        // Table-level findings stay on the table node, at the root place.
        for c in ["gpt.disk.too_small", "gpt.backup_header.missing"] {
            assert!(table.contains(&c), "{c} not on the table: {table:?}");
        }
        assert!(t.findings.iter().all(|f| f.place.is_root()));
        for p in t.partitions().filter(|p| p.span.unwrap().index != 4) {
            assert!(p.findings.is_empty(), "{}", p.kind);
        }
    }

    #[test]
    fn a_filesystem_in_a_partition_reports_in_disk_space() {
        // The two-ext4 disk cut to 48 MiB: partition 2's ext4 is truncated.
        let d = damaged(
            "disk/gpt-two-ext4.img",
            &[Patch::Truncate { len: 48 << 20 }],
        );
        let r = report_of(d.path());
        let p2 = r
            .table()
            .unwrap()
            .partitions()
            .find(|p| p.span.unwrap().index == 2)
            .unwrap();
        let fs = &p2.children[0];
        assert_eq!((fs.kind.as_str(), fs.base), ("ext4", 49152 * 512));
        let f = fs
            .findings
            .iter()
            .find(|f| f.code == "ext4.size.truncated")
            .unwrap();
        // The end of what holds it, on the disk: the disk's end.
        assert_eq!((f.offset, f.space), (48 << 20, Space::Disk));
        assert_eq!(f.place, Place::root().join(Step::Partition(2)));
        let ev = r
            .timeline
            .iter()
            .find(|e| e.what.contains("created"))
            .unwrap();
        assert!(ev.source.starts_with("partition "), "{ev:?}");
    }

    /// A GPT whose `n` entries start at `start(i)` and are 8 sectors long,
    /// with valid CRCs: what a hostile table looks like to the reader.
    fn many_entries(n: usize, start: impl Fn(usize) -> u64) -> Vec<u8> {
        let ss = 512usize;
        let mut d = vec![0u8; 8 << 20];
        let mut arr = vec![0u8; n * 128];
        for i in 0..n {
            let e = &mut arr[i * 128..(i + 1) * 128];
            e[0] = 1; // a non-zero type GUID
            e[0x10..0x18].copy_from_slice(&(i as u64 + 1).to_le_bytes());
            e[0x20..0x28].copy_from_slice(&start(i).to_le_bytes());
            e[0x28..0x30].copy_from_slice(&(start(i) + 7).to_le_bytes());
        }
        d[2 * ss..2 * ss + arr.len()].copy_from_slice(&arr);
        let last = (d.len() / ss - 1) as u64;
        let h = &mut d[ss..2 * ss];
        h[..8].copy_from_slice(b"EFI PART");
        h[8..12].copy_from_slice(&0x0001_0000u32.to_le_bytes());
        h[12..16].copy_from_slice(&92u32.to_le_bytes());
        h[0x18..0x20].copy_from_slice(&1u64.to_le_bytes());
        h[0x20..0x28].copy_from_slice(&last.to_le_bytes());
        h[0x28..0x30].copy_from_slice(&4096u64.to_le_bytes());
        h[0x30..0x38].copy_from_slice(&(last - 1).to_le_bytes());
        h[0x48..0x50].copy_from_slice(&2u64.to_le_bytes());
        h[0x50..0x54].copy_from_slice(&(n as u32).to_le_bytes());
        h[0x54..0x58].copy_from_slice(&128u32.to_le_bytes());
        let mut c = crc32(&arr);
        h[0x58..0x5C].copy_from_slice(&c.to_le_bytes());
        c = crc32(&h[..92]);
        h[0x10..0x14].copy_from_slice(&c.to_le_bytes());
        d
    }

    /// CRC-32 (IEEE), bitwise: the CLI does not depend on crc32fast.
    fn crc32(b: &[u8]) -> u32 {
        let mut c = !0u32;
        for &x in b {
            c ^= u32::from(x);
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
            }
        }
        !c
    }

    #[test]
    fn thousands_of_entries_give_at_most_the_cap_of_nodes_and_one_finding() {
        // Partition 300 starts where partition 299 does.
        let start = |i: usize| 4096 + 8 * (if i == 299 { 298 } else { i }) as u64;
        let r = bytes_report("many", many_entries(8192, start));
        let t = r.table().unwrap();
        assert_eq!(t.partitions().count(), MAX_CHILDREN);
        assert_eq!(
            t.partitions().last().unwrap().span.unwrap().index,
            MAX_CHILDREN as u32
        );
        let f: Vec<_> = t
            .findings
            .iter()
            .filter(|f| f.code == "layout.children.not_inspected")
            .collect();
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message.contains("lists 8192 partitions")
                && f[0].message.contains("7936 more (from partition 257 on)"),
            "{}",
            f[0].message
        );
        // Partition 257's start, on the disk.
        assert_eq!(f[0].offset, (4096 + 8 * 256) * 512);
        // The table's findings about partitions past the bound stay, on the
        // table, naming their partition.
        let overlap = t
            .findings
            .iter()
            .find(|f| f.code == "gpt.partition.overlap")
            .unwrap();
        assert_eq!(overlap.place.partition(), Some(300));
    }

    /// A contents layer that claims everything and counts its inspections.
    struct Counting(AtomicUsize);

    impl Inspector for Counting {
        fn name(&self) -> &'static str {
            "counting"
        }
        fn probe(&self, _: &dyn ReadAt, cx: &Context<'_>) -> Option<Probe> {
            (crate::level::of(cx) == crate::level::Level::Contents)
                .then(|| Probe::new(Strength::Weak, "anything"))
        }
        fn inspect(&self, _: &Arc<dyn ReadAt>, _: &Context<'_>) -> Inspected {
            self.0.fetch_add(1, Ordering::Relaxed);
            Inspected::new("counted", "")
        }
    }

    #[test]
    fn one_range_repeated_is_inspected_once() {
        // Every entry the same 8 sectors: all shown, their contents read once.
        let counting = Counting(AtomicUsize::new(0));
        let registry: Vec<&dyn Inspector> = vec![
            &registry::layers::raw::Raw,
            &registry::layers::gpt::PartitionTable,
            &counting,
        ];
        let disk = Arc::new(BytesReader::new(many_entries(300, |_| 4096)));
        let r = inspect_with(&registry, "same", disk, None, &Options::default()).unwrap();
        assert_eq!(counting.0.load(Ordering::Relaxed), 1);
        let t = r.table().unwrap();
        let parts: Vec<_> = t.partitions().collect();
        assert_eq!(parts.len(), MAX_CHILDREN);
        assert_eq!(parts[0].children.len(), 1);
        assert!(parts[1].title.contains("the same range as partition 1"));
        assert!(parts[1].children.is_empty());
        // Their overlap and duplicate findings sit on them.
        assert!(
            codes(&parts[1].findings).contains(&"gpt.partition.overlap"),
            "{:?}",
            parts[1].findings
        );
        assert!(codes(&t.findings).contains(&"layout.children.not_inspected"));
    }

    /// A layer that finds itself inside itself, forever, with a finding in
    /// its own disk space each time.
    struct Nesting;

    impl Inspector for Nesting {
        fn name(&self) -> &'static str {
            "nesting"
        }
        fn probe(&self, _: &dyn ReadAt, _: &Context<'_>) -> Option<Probe> {
            Some(Probe::new(Strength::Weak, "always"))
        }
        fn inspect(&self, r: &Arc<dyn ReadAt>, cx: &Context<'_>) -> Inspected {
            let mut node = Inspected::new("nest", format!("level {}", cx.depth));
            node.findings.push(Finding::info(
                "x.here",
                Layer::named("x"),
                1,
                Space::Disk,
                "here",
            ));
            node.children.push(Child {
                step: Step::Volume(format!("v{}", cx.depth)),
                reader: Arc::new(imgcheck_core::Slice::clamped(Arc::clone(r), 512, 1024)),
                extent: Extent::Slice {
                    start: 512,
                    len: 1024,
                },
                expect: Expect::default(),
                node: Some(ChildNode {
                    kind: "volume".into(),
                    ..ChildNode::default()
                }),
                descend: true,
            });
            node
        }
    }

    #[test]
    fn nesting_stops_at_the_depth_bound_with_a_finding() {
        let r = inspect_with(
            &[&Nesting],
            "nest",
            Arc::new(BytesReader::new(vec![0u8; 1 << 16])),
            None,
            &Options::default(),
        )
        .unwrap();
        let nodes: Vec<_> = r
            .root
            .walk()
            .into_iter()
            .filter(|n| n.kind == "nest")
            .collect();
        assert_eq!(
            nodes.len(),
            MAX_DEPTH + 1,
            "the root and MAX_DEPTH below it"
        );
        let deep: Vec<_> = r
            .findings()
            .into_iter()
            .filter(|f| f.code == "layout.nesting.too_deep")
            .collect();
        assert_eq!(deep.len(), 1);
        // Each level's finding moved by the slices above it: 1 + 512 per level.
        let last = nodes.last().unwrap();
        let f = last.findings.iter().find(|f| f.code == "x.here").unwrap();
        assert_eq!(f.offset, 1 + 512 * MAX_DEPTH as u64);
        assert_eq!(f.place.0.len(), MAX_DEPTH);
    }

    /// A layer with a thousand children, each with findings of its own.
    struct Crowd;

    impl Inspector for Crowd {
        fn name(&self) -> &'static str {
            "crowd"
        }
        fn probe(&self, _: &dyn ReadAt, _: &Context<'_>) -> Option<Probe> {
            Some(Probe::new(Strength::Weak, "always"))
        }
        fn inspect(&self, r: &Arc<dyn ReadAt>, _: &Context<'_>) -> Inspected {
            let mut node = Inspected::new("crowd", "");
            node.children = (0..1000u64)
                .map(|i| Child {
                    step: Step::Other(format!("member {i}")),
                    reader: Arc::clone(r),
                    extent: Extent::Slice { start: i, len: 1 },
                    expect: Expect::default(),
                    node: Some(ChildNode {
                        kind: "member".into(),
                        findings: vec![
                            Finding::warning("x.about", Layer::named("x"), 0, Space::Disk, "a"),
                            Finding::info("x.note", Layer::named("x"), 0, Space::Disk, "n"),
                        ],
                        ..ChildNode::default()
                    }),
                    descend: false,
                })
                .collect();
            node
        }
    }

    #[test]
    fn children_past_the_bound_leave_a_capped_count_on_the_parent() {
        let r = inspect_with(
            &[&Crowd],
            "crowd",
            Arc::new(BytesReader::new(vec![0u8; 4096])),
            None,
            &Options::default(),
        )
        .unwrap();
        assert_eq!(r.root.children.len(), MAX_CHILDREN);
        let on_root = |code: &str| r.root.findings.iter().filter(|f| f.code == code).count();
        assert_eq!(on_root("layout.children.not_inspected"), 1);
        // 744 members past the bound: 32 kept per code and one count each.
        assert_eq!(on_root("x.about"), imgcheck_core::MAX_FINDINGS_PER_CODE + 1);
        assert_eq!(on_root("x.note"), imgcheck_core::MAX_FINDINGS_PER_CODE + 1);
        let first = r
            .root
            .findings
            .iter()
            .find(|f| f.code == "x.about")
            .unwrap();
        // Offsets in the parent's space, as the parent gave them; the place
        // names the member.
        assert_eq!(first.offset, 0);
        assert_eq!(
            first.place,
            Place::root().join(Step::Other(format!("member {MAX_CHILDREN}")))
        );
        assert!(
            r.root
                .findings
                .iter()
                .any(|f| f.code == "layout.children.not_inspected"
                    && f.message.contains("crowd lists 1000 children")),
            "{:?}",
            r.root.findings
        );
    }

    #[test]
    fn a_container_keeps_its_file_and_disk_spaces_apart() {
        let mut file = Finding::error("q.f", Layer::QCOW2, 10, Space::File, "f");
        file.place = Place::root();
        let disk = Finding::error("q.d", Layer::QCOW2, 20, Space::Disk, "d");
        let inside = Frame {
            base: 4096,
            space: Space::Volume,
        };
        let f = placed(file, &Place::root(), inside, true);
        assert_eq!((f.offset, f.space), (4106, Space::Volume));
        let d = placed(disk.clone(), &Place::root(), inside, true);
        assert_eq!((d.offset, d.space), (20, Space::Disk), "guest offsets stay");
        let other = placed(disk, &Place::root(), inside, false);
        assert_eq!((other.offset, other.space), (4116, Space::Volume));
    }

    #[test]
    fn an_unknown_snapshot_stops_the_image() {
        let img = imgcheck_testdata::fixture("disk/snap-before-damage.qcow2");
        let opts = Options {
            image_path: img.clone(),
            snapshot: Some("nope".into()),
            ..Options::default()
        };
        let e = inspect_image(&img, None, &opts).unwrap_err();
        assert!(e.message.contains("no snapshot named \"nope\""), "{e}");
        assert!(e.message.contains("1 good"), "lists what there is: {e}");
        let raw = imgcheck_testdata::fixture("disk/gpt-two-ext4.img");
        let e = inspect_image(
            &raw,
            None,
            &Options {
                image_path: raw.clone(),
                snapshot: Some("1".into()),
                ..Options::default()
            },
        )
        .unwrap_err();
        assert!(
            e.message.contains("raw image has no internal snapshots"),
            "{e}"
        );
        // A forced container whose probe refuses the file.
        let e = inspect_image(&raw, Some(Format::Qcow2), &Options::default()).unwrap_err();
        assert!(e.message.contains("not a qcow2 image"), "{e}");
    }

    #[test]
    fn a_snapshot_view_is_attached_as_that_snapshot() {
        let img = imgcheck_testdata::fixture("disk/snap-before-damage.qcow2");
        let opts = Options {
            image_path: img.clone(),
            snapshot: Some("good".into()),
            ..Options::default()
        };
        let r = inspect_image(&img, None, &opts).unwrap();
        let a = r.attach().unwrap();
        assert!(
            a.hint
                .command
                .as_deref()
                .unwrap()
                .contains("--load-snapshot=1"),
            "{:?}",
            a.hint
        );
        let t = r.table().unwrap();
        assert_eq!(t.place, Place::root().join(Step::Snapshot("1:good".into())));
    }
}

//! The walk over the layer tree: partitions and their findings, the bounds
//! on children and depth, snapshots asked for, and what a view is attached
//! as — through the real adapters and through small test layers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

use imgcheck::limits::{MAX_CHILDREN, MAX_DEPTH};
use imgcheck::options::{Format, Options};
use imgcheck::pipeline::{inspect_image, inspect_reader, inspect_with};
use imgcheck::registry;
use imgcheck::report::ImageReport;
use imgcheck_core::{
    BytesReader, Child, ChildNode, Context, Expect, Extent, Finding, Inspected, Inspector, Layer,
    Place, Probe, ReadAt, Space, Step, Strength,
};
use imgcheck_testdata::{Patch, damaged};
use std::path::Path;
use std::sync::Arc;
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
        (imgcheck::level::of(cx) == imgcheck::level::Level::Contents)
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
            .contains("--load-snapshot=snapshot.id=1 "),
        "{:?}",
        a.hint
    );
    let t = r.table().unwrap();
    assert_eq!(t.place, Place::root().join(Step::Snapshot("1:good".into())));
}

/// A volume manager in miniature: one logical volume, a new address space,
/// with a finding about it in the volume's own space and one in the PV's.
struct OneVolume;

impl Inspector for OneVolume {
    fn name(&self) -> &'static str {
        "onevolume"
    }
    fn probe(&self, _: &dyn ReadAt, cx: &Context<'_>) -> Option<Probe> {
        (cx.depth == 0).then(|| Probe::new(Strength::Weak, "the top"))
    }
    fn inspect(&self, r: &Arc<dyn ReadAt>, _: &Context<'_>) -> Inspected {
        let mut node = Inspected::new("pv", "");
        node.children.push(Child {
            step: Step::Volume("vg/lv".into()),
            reader: Arc::new(imgcheck_core::Slice::clamped(Arc::clone(r), 4096, 4096)),
            extent: Extent::Mapped,
            expect: Expect::default(),
            node: Some(ChildNode {
                kind: "LV".into(),
                findings: vec![
                    Finding::warning("x.in_lv", Layer::named("x"), 7, Space::Volume, "lv"),
                    Finding::warning("x.in_pv", Layer::named("x"), 9, Space::Disk, "pv"),
                ],
                ..ChildNode::default()
            }),
            descend: false,
        });
        node
    }
}

#[test]
fn a_volume_node_keeps_findings_in_its_own_space() {
    let r = inspect_with(
        &[&OneVolume],
        "pv",
        Arc::new(BytesReader::new(vec![0u8; 16384])),
        None,
        &Options::default(),
    )
    .unwrap();
    let lv = &r.root.children[0];
    assert_eq!(lv.space, Space::Volume);
    let at = |code: &str| {
        let f = lv.findings.iter().find(|f| f.code == code).unwrap();
        (f.offset, f.space, f.place.clone())
    };
    let place = Place::root().join(Step::Volume("vg/lv".into()));
    assert_eq!(at("x.in_lv"), (7, Space::Volume, place.clone()));
    // The PV's own offset, in the image file the PV is read from here.
    assert_eq!(at("x.in_pv"), (9, Space::File, place));
}

#[test]
fn a_spent_budget_stops_the_check_with_a_finding_and_a_partial_report() {
    use imgcheck::pipeline::inspect_bounded;
    use imgcheck_core::Budget;
    let path = imgcheck_testdata::fixture("disk/gpt-two-ext4.img");
    let open = || -> Arc<dyn ReadAt> { Arc::new(imgcheck_core::FileReader::open(&path).unwrap()) };
    let run = |budget: Budget| {
        inspect_bounded(
            registry::REGISTRY,
            "disk",
            open(),
            None,
            &Options::default(),
            Arc::new(budget),
        )
        .unwrap()
    };
    // The default bound is far from what a sound disk needs.
    let full = run(Budget::new(
        imgcheck::limits::read_bound(open().len()),
        u64::MAX,
    ));
    assert!(
        !codes(&full.layout)
            .iter()
            .any(|c| c.starts_with("layout.bound"))
    );
    // 64 KiB is enough for the tables, not the filesystems: the report
    // still comes, with the table, and says where the check stopped.
    let cut = run(Budget::new(64 << 10, u64::MAX));
    let c = codes(&cut.layout);
    assert!(c.contains(&"layout.bound.read_bytes"), "{c:?}");
    fn layers(n: &imgcheck::report::Node, out: &mut Vec<&'static str>) {
        out.extend(n.layer);
        n.children.iter().for_each(|c| layers(c, out));
    }
    let mut seen = Vec::new();
    layers(&cut.root, &mut seen);
    assert!(seen.contains(&"gpt"), "the table was read: {seen:?}");
    let f = cut
        .layout
        .iter()
        .find(|f| f.code == "layout.bound.read_bytes")
        .unwrap();
    assert!(f.message.contains("65536 bytes read"), "{}", f.message);
    // Two visits: the image node and its table; the partitions are not.
    let cut = run(Budget::new(u64::MAX, 2));
    assert!(
        codes(&cut.layout).contains(&"layout.bound.visits"),
        "{:?}",
        codes(&cut.layout)
    );
}

/// The image file as another process truncating it leaves it: its length
/// as it was when opened, but after `after` reads every read reaching past
/// `cut` fails as pread on a shrunk file does.
struct Shrinking {
    inner: BytesReader,
    after: usize,
    cut: u64,
    reads: AtomicUsize,
}

impl ReadAt for Shrinking {
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), imgcheck_core::ReadError> {
        let n = self.reads.fetch_add(1, Ordering::Relaxed);
        let end = offset + buf.len() as u64;
        if n >= self.after && end > self.cut && end <= self.inner.len() {
            return Err(imgcheck_core::ReadError::new(
                offset,
                buf.len() as u64,
                imgcheck_core::ReadErrorKind::Io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "disk.img ended early: it shrank during the check",
                )),
            ));
        }
        self.inner.read_exact_at(offset, buf)
    }
    fn known_zero(&self, offset: u64, len: u64) -> bool {
        self.inner.known_zero(offset, len)
    }
}

#[test]
fn a_file_that_shrinks_during_the_check_is_never_clean_and_names_the_read() {
    use imgcheck::report::Verdict;
    for fixture in ["disk/gpt-two-ext4.img", "disk/gpt-two-ext4.qcow2"] {
        let bytes = std::fs::read(imgcheck_testdata::fixture(fixture)).unwrap();
        let len = bytes.len() as u64;
        // Cut at several depths of the walk: the table, the filesystems.
        for (after, cut) in [(0, len / 2), (3, len / 4), (10, len / 2), (40, 3 * len / 4)] {
            let file = Arc::new(Shrinking {
                inner: BytesReader::new(bytes.clone()),
                after,
                cut,
                reads: AtomicUsize::new(0),
            });
            let r = inspect_reader("disk.img", file, None, &Options::default()).unwrap();
            let f = r
                .layout
                .iter()
                .find(|f| f.code == "layout.read.failed")
                .unwrap_or_else(|| panic!("{fixture} after {after}: {:?}", codes(&r.layout)));
            assert_eq!(f.severity, imgcheck_core::Severity::Error);
            assert!(
                f.offset + 1 > cut.saturating_sub(1 << 20) && f.offset < len,
                "{f:?}"
            );
            assert!(f.message.contains("disk.img ended early"), "{}", f.message);
            assert!(
                f.message.contains(&format!("offset {}", f.offset)),
                "{}",
                f.message
            );
            assert_eq!(r.verdict(), Verdict::Damaged, "{fixture} after {after}");
        }
    }
}

/// A layer that truncates the image file the first time it is asked to
/// probe, then claims nothing: another process cutting the file while
/// the check reads it, at a known point of the walk.
struct Truncator {
    path: std::path::PathBuf,
    to: u64,
    done: std::sync::atomic::AtomicBool,
}

impl Inspector for Truncator {
    fn name(&self) -> &'static str {
        "truncator"
    }
    fn probe(&self, _: &dyn ReadAt, _: &Context<'_>) -> Option<Probe> {
        if !self.done.swap(true, Ordering::Relaxed) {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&self.path)
                .unwrap();
            f.set_len(self.to).unwrap();
        }
        None
    }
    fn inspect(&self, _: &Arc<dyn ReadAt>, _: &Context<'_>) -> Inspected {
        unreachable!("never claims")
    }
}

#[test]
fn a_real_file_truncated_under_the_check_is_an_error_at_its_new_end() {
    use imgcheck::report::Verdict;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("disk.qcow2");
    std::fs::copy(imgcheck_testdata::fixture("disk/gpt-two-ext4.qcow2"), &path).unwrap();
    let was = std::fs::metadata(&path).unwrap().len();
    let to = was / 3;
    let t = Truncator {
        path: path.clone(),
        to,
        done: false.into(),
    };
    let mut reg: Vec<&dyn Inspector> = vec![&t];
    reg.extend_from_slice(registry::REGISTRY);
    let opts = Options {
        image_path: path.clone(),
        ..Options::default()
    };
    let r = imgcheck::pipeline::inspect_image_with(&reg, &path, None, &opts).unwrap();
    let f = r
        .layout
        .iter()
        .find(|f| f.code == "layout.read.resized")
        .unwrap_or_else(|| panic!("{:?}", codes(&r.layout)));
    assert_eq!((f.offset, f.severity), (to, imgcheck_core::Severity::Error));
    assert!(
        f.message.contains(&path.display().to_string()),
        "{}",
        f.message
    );
    assert!(
        f.message
            .contains(&format!("{was} bytes when opened, {to} bytes now")),
        "{}",
        f.message
    );
    // The reads past the cut failed, and say which file and why.
    let failed = r.layout.iter().find(|f| f.code == "layout.read.failed");
    if let Some(f) = failed {
        assert!(
            f.message.contains("shrank during the check"),
            "{}",
            f.message
        );
    }
    assert_eq!(r.verdict(), Verdict::Damaged);
}

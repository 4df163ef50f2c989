//! The walk: the image file goes to the registry, the layer whose probe
//! has the strongest evidence reads it, and each child it hands out goes
//! to the registry in turn — containers, tables, filesystems alike, bounded
//! by [`MAX_DEPTH`] and [`MAX_CHILDREN`]. The pipeline moves every
//! finding's offset into the report's space and sets its place; then the
//! checks that span layers and the next steps are added.

use crate::layout;
use crate::limits::{MAX_CHILDREN, MAX_DEPTH, MAX_VISITS, READ_BYTES_PER_FILE_BYTE, read_bound};
use crate::options::{Fatal, FatalKind, Format, Options};
use crate::registry::{self, REGISTRY, layers};
use crate::report::{Event, ImageReport, Node, Span};
use crate::steps;
use imgcheck_core::{
    Budget, Child, Context, Depth, Expect, Extent, Facts, FileKind, FileReader, Finding, Inspector,
    Layer, Metered, OpenError, Place, Promise, ReadAt, Sink, Space, Step, Target, human_size,
};
use std::path::Path;
use std::sync::Arc;

/// Opens the image file: a regular file or a block device, read-only,
/// without blocking; anything else is refused before reading from it.
pub fn open_file(path: &Path) -> Result<Arc<FileReader>, Fatal> {
    FileReader::try_open(path).map(Arc::new).map_err(|e| {
        let kind = match &e {
            OpenError::Missing(_) => FatalKind::Missing,
            OpenError::NotAFile(_) => FatalKind::NotAFile,
            OpenError::Unreadable(_) => FatalKind::Unreadable,
        };
        let fatal = Fatal::new(kind, e.to_string());
        match e {
            OpenError::NotAFile(k) => fatal.learned("file_type", file_type_name(k)),
            _ => fatal,
        }
    })
}

/// A refused file type's name in JSON.
fn file_type_name(k: FileKind) -> &'static str {
    match k {
        FileKind::Directory => "directory",
        FileKind::Fifo => "fifo",
        FileKind::Socket => "socket",
        FileKind::CharDevice => "character_device",
        FileKind::Other => "other",
    }
}

/// Checks one image file and builds its report.
pub fn inspect_image(
    path: &Path,
    format: Option<Format>,
    opts: &Options,
) -> Result<ImageReport, Fatal> {
    inspect_image_with(REGISTRY, path, format, opts)
}

/// [`inspect_image`] with the layers of `registry` (the CLI's, whose LVM2
/// layer assembles VGs from every image of the run).
pub fn inspect_image_with(
    registry: &[&dyn Inspector],
    path: &Path,
    format: Option<Format>,
    opts: &Options,
) -> Result<ImageReport, Fatal> {
    let opened = open_file(path)?;
    let file: Arc<dyn ReadAt> = opened.clone();
    let mut report = inspect_with(
        registry,
        &path.display().to_string(),
        file,
        format.map(Format::layer),
        opts,
    )?;
    if let Some(f) = resized(&opened, report.file_size) {
        report.layout.push(f);
    }
    Ok(report)
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
    // Files that join the image later (backing, data files) add their share.
    let budget = Arc::new(
        Budget::new(read_bound(file.len()), MAX_VISITS).per_file_byte(READ_BYTES_PER_FILE_BYTE),
    );
    inspect_bounded(registry, name, file, only, opts, budget)
}

/// [`inspect_with`] within `budget` instead of the default bound
/// ([`read_bound`] of the file's size, [`MAX_VISITS`]): every layer reads
/// through the file metered by it, and when it runs out the check stops
/// where it is and the report, partial, says so in a finding
/// (`layout.bound.read_bytes` or `layout.bound.visits`).
pub fn inspect_bounded(
    registry: &[&dyn Inspector],
    name: &str,
    file: Arc<dyn ReadAt>,
    only: Option<&str>,
    opts: &Options,
    budget: Arc<Budget>,
) -> Result<ImageReport, Fatal> {
    inspect_as(registry, name, file, only, opts, budget, None)
}

/// [`inspect_bounded`]; `beneath`: the file is a raw disk whose first
/// bytes, up to this offset, are a qcow2 image written over it
/// ([`layout::foreign`]), and the report says what that destroyed.
fn inspect_as(
    registry: &[&dyn Inspector],
    name: &str,
    file: Arc<dyn ReadAt>,
    only: Option<&str>,
    opts: &Options,
    budget: Arc<Budget>,
    beneath: Option<u64>,
) -> Result<ImageReport, Fatal> {
    let unmetered = Arc::clone(&file);
    let options = imgcheck_core::Options {
        depth: if opts.quick {
            Depth::Quick
        } else {
            Depth::Full
        },
        scan: opts.scan,
        snapshot: opts.snapshot.clone(),
        origin: (!opts.image_path.as_os_str().is_empty()).then(|| opts.image_path.clone()),
        progress: opts.progress.clone(),
    };
    let started = std::time::Instant::now();
    // One bound on the whole check: every layer reads through the
    // metered file, so their reads together stop at the bound.
    let file_size = file.len();
    let file: Arc<dyn ReadAt> = Arc::new(Metered::new(file, Arc::clone(&budget)));
    let mut walk = Walk {
        registry,
        options: &options,
        budget: &budget,
        events: Vec::new(),
        disk: None,
        cost: crate::report::Cost::default(),
        jobs: opts.jobs.max(1),
    };
    let expect = Expect {
        contents: Promise::DiskImage,
        type_name: None,
    };
    let frame = Frame {
        base: 0,
        space: Space::File,
    };
    let Some((mut root, children)) =
        walk.node(&file, &expect, &Place::root(), frame, 0, "image", only)
    else {
        return Err(Fatal::new(
            FatalKind::NotThisFormat,
            match only {
                Some(f) => format!("not a {f} image: the {f} layer does not recognise it"),
                None => "no layer recognises this file".to_string(),
            },
        )
        .learned("file_size", file_size));
    };
    check_snapshot_asked(&root, opts)?;
    // A qcow2 written raw over a raw disk's start: the file is that disk,
    // and only a raw reading sees the victim (format detection by magic
    // alone called it a clean qcow2). `--format qcow2` still reads the
    // qcow2.
    if only.is_none()
        && beneath.is_none()
        && let Some(end) = root
            .findings
            .iter()
            .find(|f| f.code == layout::foreign::QCOW2_OVER_RAW)
            .map(|f| f.offset)
    {
        return inspect_as(
            registry,
            name,
            unmetered,
            Some("raw"),
            opts,
            budget,
            Some(end),
        );
    }
    walk.children(&mut root, children, &Place::root(), frame, 0, "image");
    crate::layers::gpt::settle_guessed_sizes(&mut root);
    let sectors = fit_attach_to_sectors(&mut root);
    let Walk {
        mut events,
        disk,
        mut cost,
        ..
    } = walk;
    let layout_started = std::time::Instant::now();
    let mut layout = layout::check(&root, disk.as_deref(), opts.scan);
    if let (Some(end), Some(d)) = (beneath, disk.as_deref())
        && let Some(why) = layout::foreign::raw_disk_beneath(d, end)
    {
        let (found, lost) = layout::foreign::qcow2_over_disk(&root, d, end, &why);
        layout.findings.extend(found);
        layout.lost.extend(lost);
    }
    cost.add("layout", layout_started.elapsed().as_secs_f64());
    // A foreign image written over the disk: every layer's writing step
    // (sgdisk -e for the "grown" GPT, a grow of the intruder's partition)
    // writes over the victim's remnants, so none is offered.
    if layout
        .findings
        .iter()
        .any(|f| f.code.starts_with("layout.overwritten"))
    {
        withdraw_writes(&mut root);
    }
    if let Some(why) = &sectors {
        withhold_disk_writes(&mut root, &mut layout.findings, why);
    }
    // The checks across layers read the whole disk: each finding is
    // placed on the node it concerns here, once, by the same rule.
    for f in &mut layout.findings {
        on_disk_place(&root, f);
    }
    if let Some(b) = &mut layout.boot {
        for f in &mut b.findings {
            on_disk_place(&root, f);
        }
    }
    layout.findings.extend(bound_hit(&budget, file_size));
    layout.findings.extend(failed_reads(&budget));
    events.append(&mut layout.events);
    // A zero timestamp is one never recorded, not an event of 1970.
    events.retain(|e| e.time != 0);
    events.sort();
    // A snapshot's report is named IMAGE@id:name, so several of one image
    // differ and none is mistaken for another.
    let image = match opts
        .snapshot
        .as_deref()
        .and_then(|s| snapshot_label(&root, s))
    {
        Some(label) => format!("{name}@{label}"),
        None => name.to_string(),
    };
    let mut report = ImageReport {
        image,
        path: opts.image_path.display().to_string(),
        // A QCOW version 1 image shares qcow2's magic and layer, but is
        // not qcow2 (qemu-img info: "file format: qcow").
        format: if root
            .findings
            .iter()
            .any(|f| f.code == "qcow2.header.version_1")
        {
            "qcow"
        } else {
            root.layer.unwrap_or("raw")
        },
        file_size,
        virtual_size: root.facts.guest.as_ref().map_or(file_size, |g| g.size),
        root,
        timeline: events,
        next_steps: Vec::new(),
        zero_ranges: layout.zero_ranges,
        size_chain: layout.size_chain,
        layout: layout.findings,
        boot: layout.boot,
        lost: layout.lost,
        cost,
    };
    if report.path.is_empty() {
        report.path = name.to_string();
    }
    if let Some(room) = opts.host.room(&opts.image_path) {
        report.layout.extend(crate::host::findings(room));
    }
    report.next_steps = steps::next_steps(&report);
    report.cost.bytes_read = budget.used().0;
    report.cost.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Places a finding a check across layers made over the disk the report
/// shows (offset in its disk space, place relative to that disk) in the
/// layer tree, as the walk places a layer's: on the disk's own place (a
/// snapshot's, when one is shown), and in the partition it concerns. That
/// partition is the one its place already names, else the innermost one
/// whose span holds its offset (a partition's boot sector, the ESP's
/// loader, core.img in the BIOS boot partition), else the one its hint
/// acts on (a typed [`Target::Partition`]). Sector 0 is the disk's even
/// where an ISO's partition starts at byte 0; a finding in a logical
/// volume's disk is left as it is.
fn on_disk_place(root: &Node, f: &mut Finding) {
    if f.space != Space::Disk || f.place.0.iter().any(|s| matches!(s, Step::Volume(_))) {
        return;
    }
    let Some(table) = root.table().filter(|t| {
        !t.place
            .0
            .iter()
            .any(|s| matches!(s, Step::Volume(_) | Step::Container(_)))
    }) else {
        return;
    };
    if f.place.partition().is_none() {
        let by_hint = match f.hint.as_ref().map(|h| &h.target) {
            Some(Target::Partition(n)) => table
                .partitions()
                .find(|p| p.span.is_some_and(|s| s.index == *n)),
            _ => None,
        };
        let by_offset = || {
            (f.offset >= SECTOR0)
                .then(|| {
                    table
                        .partitions()
                        .filter(|p| {
                            p.span.is_some_and(|s| {
                                s.start <= f.offset && f.offset.saturating_sub(s.start) < s.size
                            })
                        })
                        .min_by_key(|p| p.span.map_or(u64::MAX, |s| s.size))
                })
                .flatten()
        };
        if let Some(p) = by_offset().or(by_hint) {
            let mut steps = p.place.0.clone();
            steps.append(&mut f.place.0);
            f.place = Place(steps);
            return;
        }
    }
    if !f.place.0.starts_with(&table.place.0) {
        let mut steps = table.place.0.clone();
        steps.append(&mut f.place.0);
        f.place = Place(steps);
    }
}

/// Bytes of sector 0 (the MBR, a label), which no partition owns.
const SECTOR0: u64 = 512;

/// `id:name` of the snapshot `s` selects (an exact id first, then a
/// name, as the qcow2 layer looks it up), each shortened to what a name
/// in a report can hold.
fn snapshot_label(root: &Node, s: &str) -> Option<String> {
    let snaps = &root.facts.snapshots;
    let f = snaps
        .iter()
        .find(|x| x.id == s)
        .or_else(|| snaps.iter().find(|x| x.name == s))?;
    let short = |v: &str| -> String {
        if v.chars().count() > 64 {
            format!("{}…", v.chars().take(64).collect::<String>())
        } else {
            v.to_string()
        }
    };
    Some(format!("{}:{}", short(&f.id), short(&f.name)))
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
    // A handful, shortened: a table of 65,536 snapshots with long names
    // must not become one message.
    const LISTED: usize = 8;
    let short = |v: &str| v.chars().take(64).collect::<String>();
    let list: Vec<serde_json::Value> = snaps
        .iter()
        .take(LISTED)
        .map(|x| serde_json::json!({"id": short(&x.id), "name": short(&x.name)}))
        .collect();
    Err(Fatal::new(
        FatalKind::NoSuchSnapshot,
        if snaps.is_empty() {
            format!(
                "no snapshot named {s:?}: this {} image has no internal snapshots",
                root.kind
            )
        } else {
            let mut have: Vec<String> = snaps
                .iter()
                .take(LISTED)
                .map(|x| format!("{} {}", short(&x.id), short(&x.name)))
                .collect();
            if snaps.len() > LISTED {
                have.push(format!("and {} more", snaps.len().saturating_sub(LISTED)));
            }
            format!(
                "no snapshot named {s:?}; this {} image has (id name): {}",
                root.kind,
                have.join(", ")
            )
        },
    )
    .learned("format", root.layer.unwrap_or("raw"))
    .learned("snapshots", list))
}

/// The finding that says the check stopped at the image's work bound, and
/// which bound, when it was hit.
fn bound_hit(budget: &Budget, file_size: u64) -> Option<Finding> {
    let spent = budget.exhausted()?;
    let (max_bytes, max_visits) = budget.limits();
    let (code, what) = if spent.bytes > max_bytes {
        (
            "layout.bound.read_bytes",
            format!(
                "check stopped after {} bytes read ({}), its bound for this {}-byte file (by default imgcheck::limits::READ_BYTES_BASE + READ_BYTES_PER_FILE_BYTE × its size)",
                max_bytes,
                human_size(max_bytes),
                file_size
            ),
        )
    } else {
        (
            "layout.bound.visits",
            format!(
                "check stopped after {max_visits} structures visited, its bound (by default imgcheck::limits::MAX_VISITS)"
            ),
        )
    };
    Some(
        Finding::warning(
            code,
            Layer::LAYOUT,
            0,
            Space::File,
            format!(
                "{what}; what was not read is not checked, and a sound image never needs this much: its metadata claims far more than the file holds"
            ),
        )
        .with_hint(imgcheck_core::Hint::advice(
            "the findings above name the structures that make the check read this much",
        )),
    )
}

/// The reads the storage failed (an I/O error, or a file another
/// process truncated under the check): whatever each layer made of them,
/// what was read is not the whole image, so the report is never clean
/// after one. The file is named, with the offset of the first that failed.
fn failed_reads(budget: &Budget) -> Option<Finding> {
    let (f, n) = budget.failed_reads()?;
    let file = f
        .file
        .as_deref()
        .map_or_else(|| "the image file".to_string(), str::to_string);
    let more = if n > 1 {
        format!(" ({n} reads failed in all)")
    } else {
        String::new()
    };
    Some(
        Finding::error(
            "layout.read.failed",
            Layer::LAYOUT,
            // The offset is the image file's only when the read was of it.
            if f.file.is_none() { f.offset } else { 0 },
            Space::File,
            format!(
                "reading {} bytes at offset {} ({:#x}) of {file} failed: {}{more}; the check did not read the whole image, so what it found is incomplete",
                f.len, f.offset, f.offset, f.message
            ),
        )
        .with_hint(imgcheck_core::Hint::advice(REREAD)),
    )
}

/// What to do when the image changed or failed under the check.
const REREAD: &str = "stop whatever writes the image (or copy it while it is stopped), then check again; if nothing writes it, the storage is failing: copy it with ddrescue first";

/// The image file changed size while it was checked (another process
/// truncated or extended it): the report describes a file that is no
/// longer there. Shrinking is an error (what was cut is gone and later
/// reads of it failed or would fail); growing is a warning (a live image
/// being written).
fn resized(file: &FileReader, was: u64) -> Option<Finding> {
    let now = file.len_now()?;
    if now == was {
        return None;
    }
    let msg = format!(
        "{} changed size during the check: {was} bytes when opened, {now} bytes now{}",
        file.path().display(),
        if now < was {
            format!(
                "; the {} bytes from offset {now} on are gone",
                was.saturating_sub(now)
            )
        } else {
            "; another process is writing it".to_string()
        }
    );
    let f = if now < was {
        Finding::error("layout.read.resized", Layer::LAYOUT, now, Space::File, msg)
    } else {
        Finding::warning("layout.read.resized", Layer::LAYOUT, was, Space::File, msg)
    };
    Some(f.with_hint(imgcheck_core::Hint::advice(REREAD)))
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
    /// Seconds per layer, for `--metrics`.
    cost: crate::report::Cost,
    /// Threads the children of one node may be checked on (`--jobs`).
    jobs: usize,
}

/// A child node whose contents are checked after its siblings are listed
/// (on another thread when `--jobs` allows).
struct Deferred {
    node: Node,
    inner: Option<(Arc<dyn ReadAt>, Expect)>,
    place: Place,
    frame: Frame,
    label: String,
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
        // A node is a visit; once the bound is spent, nothing more is read.
        self.budget.charge(0, 1).ok()?;
        let (layer, _evidence) = registry::pick(self.registry, reader.as_ref(), &cx, only)?;
        let t = std::time::Instant::now();
        let ins = layer.inspect(reader, &cx);
        self.cost.add(layer.name(), t.elapsed().as_secs_f64());
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
            expect: None,
            file: None,
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
        // Partitions and volumes of one node are independent: with --jobs
        // above 1 their contents are checked on several threads, and put
        // back in the table's order. Only when every child has a node of
        // its own (a view attaches to the parent, in order).
        let parallel = self.jobs > 1
            && children.iter().all(|c| c.node.is_some())
            && children
                .iter()
                .take(MAX_CHILDREN)
                .filter(|c| c.descend)
                .count()
                > 1;
        let mut deferred: Vec<Deferred> = Vec::new();
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
                    past_bound.extend(cn.findings.into_iter().map(|f| {
                        let own =
                            matches!(child.extent, Extent::Mapped) && f.space == child_frame.space;
                        placed(
                            f,
                            &child_place,
                            if own { child_frame } else { frame },
                            false,
                        )
                    }));
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
                        // parent's space, or, for a new address space (a
                        // logical volume), in the child's own when they
                        // say so.
                        findings: cn
                            .findings
                            .into_iter()
                            .map(|f| {
                                let own = matches!(child.extent, Extent::Mapped)
                                    && f.space == child_frame.space;
                                placed(
                                    f,
                                    &child_place,
                                    if own { child_frame } else { frame },
                                    false,
                                )
                            })
                            .collect(),
                        // A volume's size is its reader's: what the size
                        // chain compares its filesystem with.
                        facts: Facts {
                            claimed_size: (matches!(child.step, Step::Volume(_)) && child.descend)
                                .then(|| child.reader.len()),
                            promised: Some(child.expect.clone()),
                            ..Facts::default()
                        },
                        details: cn.details,
                        children: Vec::new(),
                        span,
                        expect: Some(child.expect.clone()),
                        file: cn.file,
                    };
                    if parallel {
                        deferred.push(Deferred {
                            node: n,
                            inner,
                            place: child_place,
                            frame: child_frame,
                            label: child_label,
                        });
                        continue;
                    }
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
        if !deferred.is_empty() {
            node.children.extend(self.descend_parallel(deferred, depth));
        }
        node.findings.extend(past_bound.finish());
    }

    /// Checks the contents of `items` on up to `jobs` threads, each with
    /// a walk of its own over the shared registry, options and budget;
    /// nodes, events and costs come back in the items' order, so the
    /// report is the same whatever the number of threads. Each thread
    /// takes the next item not yet taken when it is free: items dealt out
    /// in turn left a thread with a large filesystem and a second one
    /// behind it while the other thread, done with a small one, waited.
    fn descend_parallel(&mut self, items: Vec<Deferred>, depth: usize) -> Vec<Node> {
        let threads = self.jobs.min(items.len()).max(1);
        // Each item once: taken out of its slot by the thread that checks it.
        let slots: Vec<std::sync::Mutex<Option<Deferred>>> = items
            .into_iter()
            .map(|d| std::sync::Mutex::new(Some(d)))
            .collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let (registry, options, budget) = (self.registry, self.options, self.budget);
        type Done = Vec<(usize, Node, Vec<Event>)>;
        let mut done: Vec<(usize, Node, Vec<Event>)> = Vec::new();
        let mut costs: Vec<crate::report::Cost> = Vec::new();
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    let (slots, next) = (&slots, &next);
                    s.spawn(move || -> (Done, crate::report::Cost) {
                        let mut w = Walk {
                            registry,
                            options,
                            budget,
                            events: Vec::new(),
                            disk: None,
                            cost: crate::report::Cost::default(),
                            jobs: 1,
                        };
                        let mut out = Vec::new();
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(slot) = slots.get(i) else { break };
                            let taken = slot.lock().ok().and_then(|mut g| g.take());
                            let Some(mut d) = taken else { continue };
                            if let Some((r, e)) = &d.inner {
                                w.descend(&mut d.node, r, e, &d.place, d.frame, depth, &d.label);
                            }
                            out.push((i, d.node, std::mem::take(&mut w.events)));
                        }
                        (out, w.cost)
                    })
                })
                .collect();
            for h in handles {
                match h.join() {
                    Ok((out, cost)) => {
                        done.extend(out);
                        costs.push(cost);
                    }
                    // A layer's panic goes on up as it would on one thread.
                    Err(e) => std::panic::resume_unwind(e),
                }
            }
        });
        done.sort_by_key(|(i, _, _)| *i);
        for c in costs {
            for (layer, secs) in c.seconds_by_layer {
                self.cost.add(layer, secs);
            }
        }
        done.into_iter()
            .map(|(_, n, ev)| {
                self.events.extend(ev);
                n
            })
            .collect()
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
    let file: Arc<dyn ReadAt> = open_file(path).map_err(|e| {
        (
            format!("Could not open '{}': {}", path.display(), e.message),
            1,
        )
    })?;
    match registry::container_of(file.as_ref(), format.map(Format::layer)) {
        Some("qcow2") => layers::qcow2::qemu_check(file, &opts.image_path),
        _ => Err(("This image format does not support checks".to_string(), 63)),
    }
}

/// The guest disk's own partition table (not one inside a partition or
/// a logical volume), when it has one.
fn disk_table(root: &mut crate::report::Node) -> Option<&mut crate::report::Node> {
    if root.facts.table.is_some() {
        return Some(root);
    }
    root.children
        .iter_mut()
        .filter(|c| {
            !c.place
                .0
                .iter()
                .any(|s| matches!(s, Step::Partition(_) | Step::Volume(_)))
        })
        .find_map(disk_table)
}

/// The attach step made to fit a disk whose table was read with other
/// than 512-byte sectors (a 4Kn disk). A loop device gets the table's
/// sector size (`losetup -b 4096`) and every command on the whole disk
/// goes through it, never the image file: on the file, or on a loop
/// device of 512-byte sectors, sgdisk finds no GPT and `sgdisk -e` writes
/// an empty one (attackC C1). qemu-nbd offers only 512-byte sectors: the
/// kernel then sees no partitions (each gets a loop device at its
/// offset), and what writes the whole disk is withheld, as it is when the
/// sector size is ambiguous. Returns why writes are withheld, if they are.
fn fit_attach_to_sectors(root: &mut crate::report::Node) -> Option<String> {
    let (bytes, ambiguous) = disk_table(root)
        .and_then(|t| t.facts.table.as_ref())
        .map(|tf| (tf.sector_bytes, tf.sector_ambiguous))?;
    if ambiguous {
        return Some(
            "both 512- and 4096-byte sectors find support on this disk (gpt.sector_size.ambiguous): a tool writing the table with the wrong one writes it over the other; settle the sector size first (the disk's origin, `blockdev --getss` on the device it came from)".into(),
        );
    }
    let ss = bytes?;
    let attach = root.facts.guest.as_mut()?.attach.as_mut()?;
    let loop_attach = attach
        .hint
        .command
        .as_deref()
        .is_some_and(|c| c.contains("losetup --find"));
    if loop_attach {
        attach.hint.command = attach
            .hint
            .command
            .take()
            .map(|c| c.replacen("losetup --find", &format!("losetup -b {ss} --find"), 1));
        attach.hint.note = attach.hint.note.take().map(|n| {
            format!(
                "{n}; with the disk's {ss}-byte sectors, which tools on the file would read as 512"
            )
        });
        attach.file = None;
        return None;
    }
    if let Some(tf) = disk_table(root).and_then(|t| t.facts.table.as_mut()) {
        tf.kernel_sees_partitions = false;
    }
    Some(format!(
        "the disk has {ss}-byte sectors and qemu-nbd shows 512-byte ones, where sgdisk finds no GPT (and `sgdisk -e` writes an empty one): run this on a raw copy attached with its sector size, `qemu-img convert -O raw {{image}} {{image}}.raw; COPY=$(losetup -b {ss} --find --show --partscan {{image}}.raw)`, with ${{COPY:?}} for the disk"
    ))
}

/// Every writing step on the whole disk (`{disk}`) made advice that says
/// `why` and keeps the command for a person to run where it fits.
fn withhold_disk_writes(root: &mut crate::report::Node, layout: &mut [Finding], why: &str) {
    fn one(f: &mut Finding, why: &str) {
        let Some(h) = f.hint.as_ref().filter(|h| h.writes) else {
            return;
        };
        let Some(c) = h.command.as_deref().filter(|c| c.contains("{disk}")) else {
            return;
        };
        // Placeholders of the disk's device resolve to the evidence's
        // attach, which is what must not be written: the command names
        // the raw copy's device of `why` instead.
        let dev = match &h.target {
            imgcheck_core::Target::Partition(n) => format!("${{COPY:?}}p{n}"),
            _ => "${COPY:?}".to_string(),
        };
        let c = c.replace("{disk}", "${COPY:?}").replace("{dev}", &dev);
        f.hint = Some(imgcheck_core::Hint::advice(format!("{why}: {c}")));
    }
    fn walk(n: &mut crate::report::Node, why: &str) {
        n.findings.iter_mut().for_each(|f| one(f, why));
        n.children.iter_mut().for_each(|c| walk(c, why));
    }
    walk(root, why);
    layout.iter_mut().for_each(|f| one(f, why));
}

/// Replaces every writing hint in the tree with advice saying why: an
/// overwrite leaves the victim's structures where those steps write.
fn withdraw_writes(node: &mut crate::report::Node) {
    for f in &mut node.findings {
        if f.hint.as_ref().is_some_and(|h| h.writes) {
            f.hint = Some(imgcheck_core::Hint::advice(
                "a foreign image was written over this disk (layout.overwritten): write nothing (no sgdisk -e, no grow) until the victim is recovered from a copy",
            ));
        }
    }
    for c in &mut node.children {
        withdraw_writes(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}

//! Composes the layers outside in: image file → container → disk →
//! partition table → partitions → filesystems, then adds what only the
//! whole stack can say (the timeline and the next steps).

use crate::layers;
use crate::layout;
use crate::options::{Fatal, Format, Options};
use crate::report::{Event, ImageReport, Node, Span};
use imgcheck_core::{FileReader, ReadAt, Severity, Slice, human_size};
use std::path::Path;
use std::sync::Arc;

/// qcow2 findings after which the guest disk cannot be read faithfully.
const BROKEN_CHAIN: [&str; 4] = [
    "qcow2.backing.missing",
    "qcow2.backing.unreadable",
    "qcow2.backing.loop",
    "qcow2.backing.too_deep",
];

/// The qcow2 magic, `QFI\xfb`.
const QCOW2_MAGIC: [u8; 4] = *b"QFI\xfb";

fn open_file(path: &Path) -> Result<Arc<FileReader>, Fatal> {
    let meta = std::fs::metadata(path).map_err(|e| Fatal::new(format!("cannot open: {e}")))?;
    if meta.is_dir() {
        return Err(Fatal::new("is a directory, not an image file"));
    }
    FileReader::open(path)
        .map(Arc::new)
        .map_err(|e| Fatal::new(format!("cannot open read-only: {e}")))
}

fn detect(file: &dyn ReadAt, format: Option<Format>) -> Format {
    if let Some(f) = format {
        return f;
    }
    let mut magic = [0u8; 4];
    match file.read_exact_at(0, &mut magic) {
        Ok(()) if magic == QCOW2_MAGIC => Format::Qcow2,
        _ => Format::Raw,
    }
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
    let file_size = file.len();
    let mut events = Vec::new();
    let mut layout_findings = Vec::new();
    let (format_name, mut root, disk, virtual_size) = match detect(file.as_ref(), format) {
        Format::Qcow2 => {
            let opened = layers::qcow2::open(file, opts)?;
            events.extend(opened.events);
            let node = opened.node;
            // Without its whole backing chain the guest disk reads zeros
            // where the base holds data: judging the table and filesystems
            // from that would invent damage.
            let broken_chain = node
                .findings
                .iter()
                .any(|f| BROKEN_CHAIN.contains(&f.code.as_ref()) && f.severity == Severity::Error);
            let disk = if broken_chain {
                layout_findings.push(
                    imgcheck_core::Finding::info(
                        "layout.disk_not_inspected",
                        imgcheck_core::Layer::LAYOUT,
                        0,
                        imgcheck_core::Space::Disk,
                        "the guest disk was not inspected: its backing chain is broken, so the clusters this image does not hold cannot be read",
                    ),
                );
                None
            } else {
                opened.disk
            };
            ("qcow2", node, disk, opened.virtual_size)
        }
        Format::Raw => {
            if opts.snapshot.is_some() {
                return Err(Fatal::new(
                    "--snapshot needs a qcow2 image; this one is raw",
                ));
            }
            let node = Node::new("raw", format!("raw image, {}", human_size(file_size)));
            ("raw", node, Some(file), file_size)
        }
    };
    let mut zero_ranges = Vec::new();
    let mut size_chain = Vec::new();
    if let Some(disk) = disk {
        let dev_base = if format_name == "qcow2" { NBD } else { LOOP };
        let table = inspect_disk(&disk, opts, &mut events, dev_base, &mut layout_findings);
        let regions = layout::zero_regions(&table, disk.len(), opts.scan);
        zero_ranges = layout::zero_ranges(disk.as_ref(), &regions);
        layout_findings.extend(layout::emptiness(disk.as_ref(), &table, &zero_ranges));
        let (chain, breaks) = layout::size_chain(&root, &table, disk.len(), format_name);
        layout_findings.extend(breaks);
        size_chain = chain;
        let expected = layout::expected_structures(&table, disk.len());
        layout_findings.extend(layout::zero_damage(&zero_ranges, &expected));
        root.children.push(table);
    }
    events.sort();
    let mut report = ImageReport {
        image: name.to_string(),
        format: format_name,
        file_size,
        virtual_size,
        root,
        timeline: events,
        next_steps: Vec::new(),
        zero_ranges,
        size_chain,
        layout: layout_findings,
    };
    report.next_steps = next_steps(&report);
    Ok(report)
}

/// The partition table and everything inside it.
fn inspect_disk(
    disk: &Arc<dyn ReadAt>,
    opts: &Options,
    events: &mut Vec<Event>,
    dev_base: &str,
    overwritten: &mut Vec<imgcheck_core::Finding>,
) -> Node {
    let table = layers::gpt::inspect(disk.as_ref(), opts);
    let mut node = table.node;
    // A partition-table tool pointed at a qcow2 file would write raw
    // sectors into it: for qcow2 the disk is the attached nbd device.
    if dev_base == NBD {
        name_disk(&mut node, NBD);
    }
    if table.parts.is_empty() {
        // No partition table: an LV dump or `mkfs.ext4 disk.img` — check the
        // whole disk as a filesystem.
        if let Some(mut fs) = inspect_contents(disk.as_ref(), 0, "whole disk", opts, events) {
            name_device(&mut fs, None, dev_base);
            node.children.push(fs);
        }
    }
    for mut part in table.parts {
        // Clamped: a partition cut short by a truncated image is still read
        // as far as it goes, and the filesystem layer sees the shorter size.
        let slice = Slice::clamped(Arc::clone(disk), part.start, part.size);
        let source = format!("partition {}", part.index);
        if let Some(mut fs) = inspect_contents(&slice, part.start, &source, opts, events) {
            name_device(&mut fs, Some(part.index), dev_base);
            overwritten.extend(layout::overwritten_start(
                &slice, &fs, part.index, part.start,
            ));
            part.node.children.push(fs);
        }
        part.node.span = Some(Span {
            index: part.index,
            start: part.start,
            size: part.size,
        });
        node.children.push(part.node);
    }
    // The gpt adapter adds nodes for ranges it hands out only once; keep
    // the partitions in table order whatever order they were added in.
    node.children.sort_by_key(|c| c.span.map(|s| s.index));
    node
}

/// The filesystem (or other contents) of a partition or whole disk.
fn inspect_contents(
    r: &dyn ReadAt,
    base: u64,
    source: &str,
    opts: &Options,
    events: &mut Vec<Event>,
) -> Option<Node> {
    let identified = layers::gpt::identify(r);
    // Another filesystem made over an old ext4 leaves the ext4 backup
    // superblocks behind: a whole filesystem of another kind at the start
    // wins over stale backups. A disk image's table or a qcow2 header at
    // the start is no filesystem: that is an overwrite, and the ext4
    // behind it is still checked (layout::overwritten_start says so).
    let other_fs = identified
        .as_deref()
        .filter(|k| !k.starts_with("ext") && !layout::holds_image_signature(r));
    if other_fs.is_none() && layers::ext4::probe(r) {
        let (node, evs) = layers::ext4::inspect(r, base, source, opts);
        events.extend(evs);
        return Some(node);
    }
    identified.map(|kind| Node::new(kind, "contents identified by signature; not checked"))
}

/// Next steps, safest first: copy before anything, read-only checks before
/// repairs; each command once.
pub fn next_steps(report: &ImageReport) -> Vec<String> {
    let findings = report.findings();
    let mut hints: Vec<imgcheck_core::Hint> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    // Layout findings first at each severity: they tell the whole story
    // (grow the table, then the partition, then the filesystem) where a
    // layer's hint covers its own part.
    let ordered: Vec<&imgcheck_core::Finding> = report
        .layout
        .iter()
        .chain(report.root.all_findings())
        .collect();
    for sev in [Severity::Error, Severity::Warning] {
        for f in ordered.iter().filter(|f| f.severity == sev) {
            if let Some(h) = &f.hint {
                let image = report.image.clone();
                let h = h.clone().resolved(|n| match n {
                    "image" | "disk" | "dev" => Some(image.clone()),
                    _ => None,
                });
                // Two findings often suggest the same command with different
                // prose after it: list the command once.
                let key = h.command.clone().unwrap_or_else(|| h.to_string());
                // A step already part of a longer recipe is not repeated.
                let covered = seen
                    .iter()
                    .any(|s| s == &key || s.split("; ").any(|part| part == key));
                if !covered {
                    seen.push(key);
                    hints.push(h);
                }
            }
        }
    }
    let mut steps: Vec<String> = Vec::new();
    let repairs = hints.iter().any(|h| h.writes);
    if imgcheck_core::worst_severity(findings.iter().copied()) == Some(Severity::Error) || repairs {
        steps.push(format!(
            "cp --sparse=always {0} {0}.bak   # work on a copy; never repair the only one",
            report.image
        ));
    }
    // A filesystem inside a partition is reached through a block device.
    if hints.iter().any(|h| {
        let t = h.to_string();
        t.contains(NBD) || t.contains(LOOP)
    }) {
        steps.push(if report.format == "qcow2" {
            format!("qemu-nbd --read-only --connect={NBD} {}   # the guest disk as a block device (modprobe nbd first)", report.image)
        } else {
            format!("losetup --read-only --partscan {LOOP} {}   # partitions appear as {LOOP}pN", report.image)
        });
    }
    // Read-only checks first, repairs after, each in finding order.
    steps.extend(hints.iter().filter(|h| !h.writes).map(step_text));
    steps.extend(hints.iter().filter(|h| h.writes).map(step_text));
    steps
}

/// A next step as one line: `command   # note`, or the note alone.
fn step_text(h: &imgcheck_core::Hint) -> String {
    match (&h.command, &h.note) {
        (Some(c), Some(n)) => format!("{c}   # {n}"),
        (Some(c), None) => c.clone(),
        (None, Some(n)) => n.clone(),
        (None, None) => String::new(),
    }
}

/// Device names used in hints for a filesystem inside an image.
const NBD: &str = "/dev/nbd0";
const LOOP: &str = "/dev/loop0";

/// Replaces the `DEV` placeholder in a filesystem's hints with the device
/// it appears as once the image is attached (see [`next_steps`]). A raw
/// whole-disk filesystem needs no device: e2fsck takes the image file.
fn name_device(fs: &mut Node, partition: Option<u32>, dev_base: &str) {
    let dev = match (partition, dev_base) {
        (Some(n), base) => format!("{base}p{n}"),
        (None, LOOP) => "{image}".to_string(),
        (None, base) => base.to_string(),
    };
    for f in &mut fs.findings {
        if let Some(h) = f.hint.take() {
            f.hint = Some(h.resolved(|n| (n == "dev").then(|| dev.clone())));
        }
    }
}

/// Replaces `IMAGE` in the hints of a table node and its partitions with
/// the block device the guest disk is attached as.
fn name_disk(node: &mut Node, dev: &str) {
    for f in &mut node.findings {
        if let Some(h) = f.hint.take() {
            f.hint = Some(h.resolved(|n| (n == "disk").then(|| dev.to_string())));
        }
    }
    for c in &mut node.children {
        name_disk(c, dev);
    }
}

/// `--qemu-compat` for one image.
pub fn qemu_compat(
    path: &Path,
    format: Option<Format>,
    opts: &Options,
) -> Result<(serde_json::Value, u8), (String, u8)> {
    let file: Arc<dyn ReadAt> = open_file(path).map_err(|e| (e.message, 1))?;
    match detect(file.as_ref(), format) {
        Format::Qcow2 => layers::qcow2::qemu_check(file, opts),
        Format::Raw => Err(("This image format does not support checks".to_string(), 63)),
    }
}

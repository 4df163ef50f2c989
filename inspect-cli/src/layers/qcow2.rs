//! The qcow2 container as an [`Inspector`]: its node, facts (virtual
//! size, snapshots, whether the guest disk reads as the guest sees it) and
//! children: the backing files' checks, and the guest disk (current state,
//! or the snapshot `--snapshot` asks for) as a new address space.

use crate::level::{self, Level};
use imgcheck_core::{
    Attach, BytesReader, Child, ChildNode, Context, Depth, Event, Expect, Extent, Finding,
    GuestDisk, Hint, Identity, IdentityKind, Inspected, Inspector, Layer, Probe, Promise, ReadAt,
    SnapshotFact, Space, Step, Strength, Target, human_size,
};
use imgcheck_qcow2::{
    BackingState, CheckOptions, CheckReport, DataFile, Error, Guest, Image, OpenOptions,
    QCOW2_MAGIC, check,
};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;

/// Where the guest disk appears once attached for next steps.
const NBD_DEVICE: &str = "/dev/nbd0";

/// The qcow2 layer.
pub struct Qcow2;

impl Inspector for Qcow2 {
    fn name(&self) -> &'static str {
        "qcow2"
    }

    fn probe(&self, r: &dyn ReadAt, cx: &Context<'_>) -> Option<Probe> {
        if level::of(cx) != Level::ImageFile {
            return None;
        }
        let mut m = [0u8; 4];
        r.read_exact_at(0, &mut m).ok()?;
        (u32::from_be_bytes(m) == QCOW2_MAGIC)
            .then(|| Probe::new(Strength::Magic, "qcow2 magic QFI\\xfb at byte 0"))
    }

    fn inspect(&self, r: &Arc<dyn ReadAt>, cx: &Context<'_>) -> Inspected {
        let image = match open_image(Arc::clone(r), cx.options.origin.as_deref()) {
            Ok(i) => Arc::new(i),
            Err(e) => return unopenable(&e),
        };
        let report = check(
            &image,
            &CheckOptions {
                deep: cx.options.depth == Depth::Full,
                check_backing: true,
            ..CheckOptions::default()
            },
        );
        let view = match &cx.options.snapshot {
            Some(s) => Guest::snapshot(Arc::clone(&image), s).map(|g| {
                let step = image
                    .snapshots()
                    .get(g.snapshot_index().unwrap_or(usize::MAX))
                    .map(|sn| Step::Snapshot(format!("{}:{}", sn.id, sn.name)));
                (g, step)
            }),
            None => Ok((Guest::new(Arc::clone(&image)), None)),
        };
        let mut t = title(&image, &report);
        if let Ok((g, _)) = &view
            && let Some(sn) = g.snapshot_index().and_then(|i| image.snapshots().get(i))
        {
            t.push_str(&format!("; showing snapshot {} {:?}", sn.id, sn.name));
        }
        let mut node = Inspected::new("qcow2", t);
        node.findings.clone_from(&report.findings);
        node.details = details(&image, &report, cx.options.snapshot.as_deref());
        node.events = events(&image);
        node.facts.claimed_size = Some(image.header().size);
        node.facts.snapshots = image
            .snapshots()
            .iter()
            .map(|s| SnapshotFact {
                id: s.id.clone(),
                name: s.name.clone(),
                disk_size: s.disk_size,
                date: Some(i64::from(s.date_sec)),
            })
            .collect();
        node.facts.identities = image
            .chain()
            .iter()
            .map(|b| Identity {
                kind: IdentityKind::BackingFile,
                value: b.name.clone(),
            })
            .collect();
        node.children = backing_children(&image, &report);
        let (size, why_not) = match &view {
            Ok((g, _)) => (g.len(), unreadable(&image)),
            Err(e) => {
                // A snapshot that is there but whose table cannot be read
                // is damage; one that is not there the pipeline refuses.
                if !matches!(e, Error::SnapshotNotFound { .. }) {
                    node.findings.push(Finding::error(
                        "qcow2.snapshot.unreadable",
                        Layer::QCOW2,
                        error_offset(e),
                        Space::File,
                        format!(
                            "snapshot {:?} cannot be shown: {e}",
                            cx.options.snapshot.as_deref().unwrap_or("")
                        ),
                    ));
                }
                (0, Some(e.to_string()))
            }
        };
        node.facts.guest = Some(GuestDisk {
            readable: why_not.is_none(),
            why_not: why_not.clone(),
            size,
            attach: Some(attach(cx.options.snapshot.as_deref(), &view)),
        });
        if let (Ok((guest, step)), None) = (view, why_not) {
            node.children.push(Child {
                step: step.unwrap_or_else(|| Step::Other("guest disk".into())),
                reader: Arc::new(guest),
                extent: Extent::Mapped,
                expect: Expect {
                    contents: Promise::Disk,
                    type_name: None,
                },
                node: None,
                descend: true,
            });
        }
        node
    }
}

/// Why the guest disk does not read as the guest would see it: judging a
/// table and filesystems from zeros (a broken backing chain), ciphertext
/// or a missing data file would invent damage.
fn unreadable(image: &Image) -> Option<String> {
    if image.header().crypt_method != 0 {
        return Some("the guest data is encrypted, and imgcheck reads no keys".into());
    }
    if let Some(DataFile::Unavailable(w)) = image.data_file() {
        return Some(format!(
            "its external data file is unavailable ({w}), so the guest data cannot be read"
        ));
    }
    image.chain().iter().find_map(|b| match &b.state {
        BackingState::Missing(_)
        | BackingState::Unreadable(_)
        | BackingState::Loop(_)
        | BackingState::TooDeep => Some(
            "its backing chain is broken, so the clusters this image does not hold cannot be read"
                .to_string(),
        ),
        BackingState::NotFollowed => Some(
            "its backing file was not opened, so the clusters this image does not hold cannot be read"
                .to_string(),
        ),
        BackingState::Qcow2(_) | BackingState::Raw(_) => None,
    })
}

/// How next steps reach the guest disk: qemu-nbd, read-only, with the
/// snapshot the report shows.
fn attach(snapshot: Option<&str>, view: &Result<(Guest, Option<Step>), Error>) -> Attach {
    let load = match (snapshot, view) {
        (Some(_), Ok((g, Some(_)))) => g
            .snapshot_index()
            .and_then(|i| g.image().snapshots().get(i))
            .map_or(String::new(), |s| format!(" --load-snapshot={}", s.id)),
        _ => String::new(),
    };
    Attach {
        hint: Hint::read_only(format!(
            "qemu-nbd --read-only{load} --connect={NBD_DEVICE} {{image}}"
        ))
        .on(Target::Image)
        .because("the guest disk as a block device (modprobe nbd first)"),
        device: NBD_DEVICE.into(),
        // sgdisk on the qcow2 file would write raw sectors into it.
        file: None,
    }
}

fn open_image(file: Arc<dyn ReadAt>, origin: Option<&Path>) -> Result<Image, Error> {
    // Backing files resolve against the image's own directory.
    let path = origin.filter(|p| !p.as_os_str().is_empty());
    Image::open_with(file, path, &OpenOptions::default())
}

/// The error inside the "in file X" wrapper: the report names the file.
fn inner(e: &Error) -> &Error {
    match e {
        Error::InFile { source, .. } => inner(source),
        e => e,
    }
}

/// Where in the file the structure an open error names is.
fn error_offset(e: &Error) -> u64 {
    match inner(e) {
        Error::Read { source, .. } => source.offset,
        Error::UnsupportedVersion { .. } => 4,
        Error::InvalidHeader { offset, .. } | Error::LimitExceeded { offset, .. } => *offset,
        _ => 0,
    }
}

/// An image with the qcow2 magic that does not open: damage, so a
/// finding (the fatal errors are for files that cannot be read at all) —
/// except a qcow image of version 1, QEMU's format before qcow2 with the
/// same magic, which is sound but not read here: a warning that nothing
/// inside was checked, not damage.
fn unopenable(e: &Error) -> Inspected {
    let e = inner(e);
    let legacy = matches!(e, Error::UnsupportedVersion { version: 1 });
    let title = if legacy {
        "qcow (version 1) image: the format before qcow2, not read by imgcheck".to_string()
    } else {
        format!("qcow2 image that cannot be opened: {e}")
    };
    let mut node = Inspected::new("qcow2", title);
    node.findings.push(if legacy {
        Finding::warning(
            "qcow2.header.version_1",
            Layer::QCOW2,
            error_offset(e),
            Space::File,
            "the image is qcow version 1, the format before qcow2; imgcheck reads qcow2 only, so nothing inside it was checked",
        )
        .with_hint(
            Hint::read_only("qemu-img convert -O qcow2 {image} converted.qcow2")
                .on(Target::Image)
                .because("a qcow2 copy imgcheck can check; the original is only read"),
        )
    } else {
        Finding::error(
            "qcow2.open.failed",
            Layer::QCOW2,
            error_offset(e),
            Space::File,
            format!("the image has the qcow2 magic but cannot be opened: {e}"),
        )
        .with_hint(
            Hint::read_only("qemu-img check {image}")
                .on(Target::Image)
                .because("says whether QEMU can open it at all"),
        )
    });
    node.facts.guest = Some(GuestDisk {
        readable: false,
        why_not: Some(if legacy {
            "imgcheck does not read qcow version 1 images".to_string()
        } else {
            format!("the qcow2 image cannot be opened ({e})")
        }),
        size: 0,
        attach: None,
    });
    node
}

/// The checks of the backing chain, one node each (listed, not descended:
/// the guest disk already reads through them). Their findings' offsets are
/// in that backing file, which their place names.
fn backing_children(image: &Image, report: &CheckReport) -> Vec<Child> {
    let chain = image.chain();
    report
        .backing
        .iter()
        .filter_map(|b| {
            let r = b.report.as_ref()?;
            let reader: Arc<dyn ReadAt> =
                match chain.get(b.depth.saturating_sub(1)).map(|c| &c.state) {
                    Some(BackingState::Qcow2(img)) => Arc::clone(img.file()),
                    _ => Arc::new(BytesReader::new(Vec::new())),
                };
            let findings = r
                .findings
                .iter()
                .filter(|f| f.code != "qcow2.stats")
                .map(|f| {
                    let mut f: Finding = f.clone();
                    f.message = format!("backing file {}: {}", b.name, f.message);
                    f
                })
                .collect();
            Some(Child {
                step: Step::Backing(u32::try_from(b.depth).unwrap_or(u32::MAX)),
                reader,
                extent: Extent::Mapped,
                expect: Expect::default(),
                node: Some(ChildNode {
                    kind: "qcow2 backing".into(),
                    title: format!(
                        "{} (depth {}): {} corruptions, {} leaks",
                        b.name, b.depth, r.corruptions, r.leaks
                    ),
                    findings,
                    details: json!({
                        "name": b.name,
                        "path": b.path,
                        "depth": b.depth,
                        "verdict": verdict(r),
                        "counters": counters(r),
                    }),
                }),
                descend: false,
            })
        })
        .collect()
}

fn events(image: &Image) -> Vec<Event> {
    image
        .snapshots()
        .iter()
        .map(|s| Event {
            time: i64::from(s.date_sec),
            source: format!("qcow2 snapshot {} {:?}", s.id, s.name),
            what: format!(
                "internal snapshot taken (VM clock {} s, VM state {} bytes)",
                s.vm_clock_nsec.checked_div(1_000_000_000).unwrap_or(0),
                s.vm_state_size
            ),
        })
        .collect()
}

/// `--all-snapshots`: the internal snapshots of `file` as `(id, name)`,
/// in table order.
pub fn snapshots(file: Arc<dyn ReadAt>, path: &Path) -> Result<Vec<(String, String)>, String> {
    let image = open_image(file, Some(path)).map_err(|e| e.to_string())?;
    Ok(image
        .snapshots()
        .iter()
        .map(|s| (s.id.clone(), s.name.clone()))
        .collect())
}

/// `--qemu-compat`: exactly `qemu-img check --output=json`'s object for
/// `file` and qemu-img check's exit code (0 clean, 1 check incomplete or
/// not openable, 2 corruptions, 3 leaks only); on failure the message and
/// code qemu-img would give.
pub fn qemu_check(
    file: Arc<dyn ReadAt>,
    path: &Path,
) -> Result<(serde_json::Value, u8), (String, u8)> {
    let name = path.display().to_string();
    let code = |c: i32| u8::try_from(c).unwrap_or(1);
    let image = open_image(file, Some(path)).map_err(|e| {
        (
            format!("Could not open '{name}': {e}"),
            code(e.qemu_exit_code()),
        )
    })?;
    // qemu-img check checks only the top image.
    let report = check(
        &image,
        &CheckOptions {
            deep: false,
            check_backing: false,
        ..CheckOptions::default()
        },
    );
    if let Some(why) = &report.qemu_open_failure {
        return Err((format!("Could not open '{name}': {why}"), 1));
    }
    Ok((report.qemu_json(&name), code(report.qemu_exit_code())))
}

fn title(image: &Image, r: &CheckReport) -> String {
    let h = image.header();
    let mut t = format!(
        "qcow2 v{}, virtual {}, cluster {}",
        h.version,
        human_size(h.size),
        human_size(h.cluster_size())
    );
    let n = image.snapshots().len();
    if n > 0 {
        t.push_str(&format!(", {n} snapshot{}", if n == 1 { "" } else { "s" }));
    }
    if let Some(b) = image.backing() {
        t.push_str(&format!(", backing {}", b.name));
    }
    if h.has_data_file() {
        t.push_str(", external data file");
    }
    if h.compression_type == 1 {
        t.push_str(", zstd");
    }
    if h.extended_l2() {
        t.push_str(", extended L2");
    }
    if h.crypt_method != 0 {
        t.push_str(if h.crypt_method == 1 {
            ", encrypted (AES)"
        } else {
            ", encrypted (LUKS)"
        });
    }
    t.push_str(&format!(
        ", {} corruptions, {} leaks",
        r.corruptions, r.leaks
    ));
    t
}

fn verdict(r: &CheckReport) -> &'static str {
    match r.worst() {
        Some(imgcheck_core::Severity::Error) => "damaged",
        Some(imgcheck_core::Severity::Warning) => "warning",
        _ => "clean",
    }
}

fn counters(r: &CheckReport) -> serde_json::Value {
    json!({
        "corruptions": r.corruptions,
        "leaks": r.leaks,
        "check-errors": r.check_errors,
        "image-end-offset": r.image_end_offset,
        "total-clusters": r.total_clusters,
        "allocated-clusters": r.allocated_clusters,
        "fragmented-clusters": r.fragmented_clusters,
        "compressed-clusters": r.compressed_clusters,
        "file-length": r.file_length,
        "highest-referenced-end": r.highest_referenced_end,
        "lost-guest-bytes": r.lost_guest_bytes,
        "refcounts-past-eof": r.refcounts_past_eof,
        "qemu-exit-code": r.qemu_exit_code(),
    })
}

fn details(image: &Image, r: &CheckReport, snapshot: Option<&str>) -> serde_json::Value {
    let h = image.header();
    let chain: Vec<_> = image
        .chain()
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let (state, size) = match &b.state {
                BackingState::Qcow2(img) => ("qcow2".to_string(), Some(img.header().size)),
                BackingState::Raw(f) => ("raw".to_string(), Some(f.len())),
                other => (format!("{other:?}"), None),
            };
            let check = r.backing.get(i).and_then(|c| c.report.as_ref());
            json!({
                "depth": i.saturating_add(1),
                "name": b.name,
                "format": b.format,
                "path": b.path,
                "state": state,
                "virtual-size": size,
                "verdict": check.map(|c| verdict(c)),
                "counters": check.map(|c| counters(c)),
            })
        })
        .collect();
    let snapshots: Vec<_> = image
        .snapshots()
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "name": s.name,
                "date-sec": s.date_sec,
                "date-nsec": s.date_nsec,
                "vm-clock-nsec": s.vm_clock_nsec,
                "vm-state-size": s.vm_state_size,
                "disk-size": s.disk_size,
                "icount": s.icount,
                "l1-table-offset": s.l1_table_offset,
                "l1-size": s.l1_size,
                "extra-data-size": s.extra_data_size,
            })
        })
        .collect();
    json!({
        "header": h,
        "cluster-size": h.cluster_size(),
        "refcount-bits": h.refcount_bits(),
        "virtual-size": h.size,
        "counters": counters(r),
        "verdict": verdict(r),
        "snapshots": snapshots,
        "viewing-snapshot": snapshot,
        "backing-chain": chain,
        "data-file": h.extensions.data_file,
    })
}

//! qcow2 container → report node and guest disk reader.

use super::{Fatal, Options};
use crate::report::{Event, Node};
use imgcheck_core::{Finding, ReadAt};
use imgcheck_qcow2::{BackingState, CheckOptions, CheckReport, Guest, Image, OpenOptions, check};
use serde_json::json;
use std::sync::Arc;

/// An opened qcow2 image: its report node, the guest disk (when the tables
/// are sound enough to read it) and the timestamps it holds.
pub struct Opened {
    /// The `qcow2` node; the partition table node is added as its child.
    pub node: Node,
    /// The guest disk (current state, or the snapshot asked for).
    pub disk: Option<Arc<dyn ReadAt>>,
    /// Guest disk size in bytes.
    pub virtual_size: u64,
    /// Snapshot dates and other timestamps.
    pub events: Vec<Event>,
}

fn open_image(file: Arc<dyn ReadAt>, opts: &Options) -> Result<Arc<Image>, imgcheck_qcow2::Error> {
    // Backing files resolve against the image's own directory.
    let path = (!opts.image_path.as_os_str().is_empty()).then_some(opts.image_path.as_path());
    Image::open_with(file, path, &OpenOptions::default()).map(Arc::new)
}

/// Opens and checks the qcow2 image `file`.
pub fn open(file: Arc<dyn ReadAt>, opts: &Options) -> Result<Opened, Fatal> {
    let image = open_image(file, opts).map_err(|e| Fatal::new(e.to_string()))?;
    let guest = match &opts.snapshot {
        Some(s) => Guest::snapshot(Arc::clone(&image), s).map_err(|e| Fatal::new(e.to_string()))?,
        None => Guest::new(Arc::clone(&image)),
    };
    let report = check(
        &image,
        &CheckOptions {
            deep: opts.deep,
            check_backing: true,
        },
    );
    let mut t = title(&image, &report);
    if let Some(i) = guest.snapshot_index()
        && let Some(sn) = image.snapshots().get(i)
    {
        t.push_str(&format!("; showing snapshot {} {:?}", sn.id, sn.name));
    }
    let mut node = Node::new("qcow2", t);
    node.findings = report.findings.clone();
    node.details = details(&image, &report, opts);
    for b in &report.backing {
        let Some(r) = &b.report else { continue };
        let mut child = Node::new(
            "qcow2 backing",
            format!(
                "{} (depth {}): {} corruptions, {} leaks",
                b.name, b.depth, r.corruptions, r.leaks
            ),
        );
        child.findings = r
            .findings
            .iter()
            .filter(|f| f.code != "qcow2.stats")
            .map(|f| {
                // Offsets are in the backing file: say which file.
                let mut f: Finding = f.clone();
                f.message = format!("backing file {}: {}", b.name, f.message);
                f
            })
            .collect();
        child.details = json!({
            "name": b.name,
            "path": b.path,
            "depth": b.depth,
            "verdict": verdict(r),
            "counters": counters(r),
        });
        node.children.push(child);
    }
    let events = image
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
        .collect();
    let virtual_size = guest.len();
    let disk: Arc<dyn ReadAt> = Arc::new(guest);
    Ok(Opened {
        node,
        disk: Some(disk),
        virtual_size,
        events,
    })
}

/// `--all-snapshots`: the internal snapshots of `file` as `(id, name)`,
/// in table order; pass either as `Options::snapshot` to [`open`].
#[allow(dead_code)] // for --all-snapshots, which the CLI lead wires in
pub fn snapshots(file: Arc<dyn ReadAt>, opts: &Options) -> Result<Vec<(String, String)>, Fatal> {
    let image = open_image(file, opts).map_err(|e| Fatal::new(e.to_string()))?;
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
    opts: &Options,
) -> Result<(serde_json::Value, u8), (String, u8)> {
    let name = opts.image_path.display().to_string();
    let code = |c: i32| u8::try_from(c).unwrap_or(1);
    let image = open_image(file, opts).map_err(|e| {
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
        imgcheck_core::human_size(h.size),
        imgcheck_core::human_size(h.cluster_size())
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

fn details(image: &Image, r: &CheckReport, opts: &Options) -> serde_json::Value {
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
        "viewing-snapshot": opts.snapshot,
        "backing-chain": chain,
        "data-file": h.extensions.data_file,
    })
}

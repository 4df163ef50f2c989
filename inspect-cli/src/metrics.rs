//! `--metrics FILE`: the run as a Prometheus textfile (the text exposition
//! format node_exporter's textfile collector reads), so a cron job on each
//! hypervisor or storage node can alert on damage and on a disk about to
//! fill before anyone looks. Written whole or not at all: a temporary file
//! beside FILE, then a rename over it, so the collector never reads half.

use crate::host::Room;
use crate::report::{ImageReport, Verdict};
use imgcheck_core::Severity;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

/// One image of the run, as the metrics see it.
#[derive(Debug, Clone)]
pub struct Row {
    /// The image as the report names it.
    pub image: String,
    /// What was checked, or `None` when the image could not be checked.
    pub checked: Option<Checked>,
}

/// The figures of an image that was checked.
#[derive(Debug, Clone)]
pub struct Checked {
    verdict: Verdict,
    /// (layer, severity, count), count > 0.
    findings: Vec<(String, Severity, u64)>,
    bytes_read: u64,
    seconds: f64,
    seconds_by_layer: Vec<(&'static str, f64)>,
    file_size: u64,
    virtual_size: u64,
    room: Option<Room>,
    snapshots: usize,
    oldest_snapshot: Option<i64>,
}

impl Row {
    /// The row of a checked image; `room` is the free space beside it
    /// (`None` when not measured).
    pub fn of(r: &ImageReport, room: Option<Room>) -> Row {
        let mut findings: Vec<(String, Severity, u64)> = Vec::new();
        for f in r.findings() {
            let layer = f.layer.to_string();
            match findings
                .iter_mut()
                .find(|(l, s, _)| *l == layer && *s == f.severity)
            {
                Some((_, _, n)) => *n = n.saturating_add(1),
                None => findings.push((layer, f.severity, 1)),
            }
        }
        findings.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        let snaps = &r.root.facts.snapshots;
        Row {
            image: r.image.clone(),
            checked: Some(Checked {
                verdict: r.verdict(),
                findings,
                bytes_read: r.cost.bytes_read,
                seconds: r.cost.seconds,
                seconds_by_layer: r.cost.seconds_by_layer.clone(),
                file_size: r.file_size,
                virtual_size: r.virtual_size,
                room,
                snapshots: snaps.len(),
                oldest_snapshot: snaps.iter().filter_map(|s| s.date).filter(|&d| d > 0).min(),
            }),
        }
    }

    /// The row of an image that could not be checked (missing,
    /// unreadable, not an image): `imgcheck_up 0`.
    pub fn failed(image: &str) -> Row {
        Row {
            image: image.to_string(),
            checked: None,
        }
    }
}

/// A label value as the text format escapes it: backslash, double quote
/// and line feed.
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// One metric family: its HELP and TYPE lines, then its samples.
struct Family<'a> {
    out: &'a mut String,
}

impl Family<'_> {
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        let _ = write!(self.out, "{name}");
        for (i, (k, v)) in labels.iter().enumerate() {
            let sep = if i == 0 { "{" } else { "," };
            let _ = write!(self.out, "{sep}{k}=\"{}\"", escape(v));
        }
        let close = if labels.is_empty() { "" } else { "}" };
        let _ = writeln!(self.out, "{close} {value}");
    }
}

/// A per-image gauge: its name, its help text, and its value if known.
type Gauge = (&'static str, &'static str, fn(&Checked) -> Option<String>);

fn family<'a>(out: &'a mut String, name: &str, help: &str) -> Family<'a> {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    Family { out }
}

/// The whole textfile for the rows of one run, `now` the Unix time the
/// run ended.
pub fn text(rows: &[Row], now: u64) -> String {
    let mut out = String::new();
    let checked = || {
        rows.iter()
            .filter_map(|r| r.checked.as_ref().map(|c| (r.image.as_str(), c)))
    };
    let mut f = family(
        &mut out,
        "imgcheck_up",
        "1 when the image was checked, 0 when it could not be (missing, unreadable, not an image).",
    );
    for r in rows {
        let up = u8::from(r.checked.is_some());
        f.sample("imgcheck_up", &[("image", &r.image)], up);
    }
    let mut f = family(
        &mut out,
        "imgcheck_verdict",
        "The verdict: 0 clean, 1 warnings only, 2 damaged.",
    );
    for (image, c) in checked() {
        let v = match c.verdict {
            Verdict::Clean => 0,
            Verdict::Warning => 1,
            Verdict::Damaged => 2,
        };
        f.sample("imgcheck_verdict", &[("image", image)], v);
    }
    let mut f = family(
        &mut out,
        "imgcheck_findings",
        "Findings by severity (every severity, all layers).",
    );
    for (image, c) in checked() {
        for sev in [Severity::Error, Severity::Warning, Severity::Info] {
            let n: u64 = c
                .findings
                .iter()
                .filter(|(_, s, _)| *s == sev)
                .map(|(_, _, n)| *n)
                .sum();
            let name = sev.to_string();
            f.sample(
                "imgcheck_findings",
                &[("image", image), ("severity", &name)],
                n,
            );
        }
    }
    let mut f = family(
        &mut out,
        "imgcheck_layer_findings",
        "Findings by layer and severity (only those present).",
    );
    for (image, c) in checked() {
        for (layer, sev, n) in &c.findings {
            let name = sev.to_string();
            f.sample(
                "imgcheck_layer_findings",
                &[("image", image), ("layer", layer), ("severity", &name)],
                *n,
            );
        }
    }
    let gauges: [Gauge; 8] = [
        (
            "imgcheck_read_bytes",
            "Bytes the check read from the image and the files it joins.",
            |c| Some(c.bytes_read.to_string()),
        ),
        (
            "imgcheck_check_seconds",
            "Seconds the check of the image took.",
            |c| Some(c.seconds.to_string()),
        ),
        (
            "imgcheck_file_size_bytes",
            "Size of the image file (apparent).",
            |c| Some(c.file_size.to_string()),
        ),
        (
            "imgcheck_virtual_size_bytes",
            "Size of the guest disk.",
            |c| Some(c.virtual_size.to_string()),
        ),
        (
            "imgcheck_file_allocated_bytes",
            "Bytes the image file occupies on its filesystem (what a sparse copy needs).",
            |c| c.room.map(|r| r.needed.to_string()),
        ),
        (
            "imgcheck_host_free_bytes",
            "Free space (to an unprivileged writer) on the filesystem holding the image.",
            |c| c.room.map(|r| r.free.to_string()),
        ),
        (
            "imgcheck_host_size_bytes",
            "Size of the filesystem holding the image.",
            |c| c.room.map(|r| r.total.to_string()),
        ),
        (
            "imgcheck_snapshots",
            "Internal snapshots of the image.",
            |c| Some(c.snapshots.to_string()),
        ),
    ];
    for (name, help, get) in gauges {
        let mut f = family(&mut out, name, help);
        for (image, c) in checked() {
            if let Some(v) = get(c) {
                f.sample(name, &[("image", image)], v);
            }
        }
    }
    let mut f = family(
        &mut out,
        "imgcheck_oldest_snapshot_timestamp_seconds",
        "When the oldest internal snapshot was taken (Unix time); absent without dated snapshots.",
    );
    for (image, c) in checked() {
        if let Some(d) = c.oldest_snapshot {
            f.sample(
                "imgcheck_oldest_snapshot_timestamp_seconds",
                &[("image", image)],
                d,
            );
        }
    }
    let mut f = family(
        &mut out,
        "imgcheck_layer_seconds",
        "Seconds spent in each layer's own check (layout: the checks that span layers).",
    );
    for (image, c) in checked() {
        for (layer, s) in &c.seconds_by_layer {
            f.sample(
                "imgcheck_layer_seconds",
                &[("image", image), ("layer", layer)],
                *s,
            );
        }
    }
    let mut f = family(
        &mut out,
        "imgcheck_last_run_timestamp_seconds",
        "When this file was written (Unix time): a stale value means the cron job stopped.",
    );
    f.sample("imgcheck_last_run_timestamp_seconds", &[], now);
    out
}

/// Writes `text` to `path` atomically: a new temporary file in the same
/// directory (created exclusively, so it never replaces anything), synced,
/// then renamed over `path`. `images` are the images of the run: a path
/// that is one of them is refused, so the check never writes over what it
/// inspects.
///
/// An existing `path` is replaced only when it is a regular file that is
/// empty or reads as what `ours` recognises (a list or metrics file an
/// earlier run wrote): an attack's `--lost-files` over an unrelated qcow2
/// left it a text file, and over `/dev/loop0` replaced the device node.
pub fn write_atomic(
    path: &Path,
    text: &str,
    images: &[&Path],
    ours: fn(&[u8]) -> bool,
) -> std::io::Result<()> {
    if images.iter().any(|i| same_file(i, path)) || imgcheck_core::opened_by_this_process(path) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "it is one of the images checked; refusing to write to it",
        ));
    }
    refuse_foreign(path, ours)?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let base = path
        .file_name()
        .map_or_else(|| "metrics".into(), |n| n.to_string_lossy().into_owned());
    // node_exporter reads only *.prom files: the temporary name ends
    // otherwise, so a half-written file is never collected.
    let tmp = dir.join(format!(".{base}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Bytes of an existing file read to recognise it as one imgcheck wrote.
const RECOGNISE_BYTES: u64 = 64 * 1024;

/// An error unless `path` is absent, or a regular file that is empty or
/// that `ours` recognises by its first [`RECOGNISE_BYTES`].
fn refuse_foreign(path: &Path, ours: fn(&[u8]) -> bool) -> std::io::Result<()> {
    use std::io::Read;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let refuse = |why: &str| {
        Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("it exists and {why}; refusing to replace it (name a new file)"),
        ))
    };
    if !meta.file_type().is_file() {
        return refuse("is not a regular file (a device, directory, link or pipe)");
    }
    let mut head = Vec::new();
    std::fs::File::open(path)?
        .take(RECOGNISE_BYTES)
        .read_to_end(&mut head)?;
    if head.is_empty() || ours(&head) {
        Ok(())
    } else {
        refuse("is not a file imgcheck wrote")
    }
}

/// Whether `head` (the start of a file) reads as a metrics file: text
/// opening with a Prometheus comment, as [`text`] writes.
pub fn looks_like_metrics(head: &[u8]) -> bool {
    !head.contains(&0) && (head.starts_with(b"# HELP ") || head.starts_with(b"# TYPE "))
}

/// Whether `head` reads as a `--lost-files` list: text whose complete
/// lines are `# IMAGE` headers or `PATH<TAB>RANGES`.
pub fn looks_like_lost_list(head: &[u8]) -> bool {
    if head.contains(&0) {
        return false;
    }
    let complete = match head.iter().rposition(|&b| b == b'\n') {
        Some(i) => head.get(..i).unwrap_or_default(),
        None => head,
    };
    complete
        .split(|&b| b == b'\n')
        .all(|l| l.starts_with(b"# ") || l.contains(&b'\t'))
}

/// Whether `a` and `b` name one file (the same path, or one inode).
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    if a == b {
        return true;
    }
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => {
            matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let t = text(&[Row::failed("x\"y")], 0);
        assert!(t.contains("imgcheck_up{image=\"x\\\"y\"} 0"), "{t}");
    }

    #[test]
    fn the_image_itself_is_never_written() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("disk.img");
        std::fs::write(&img, b"data").unwrap();
        let alias = dir.path().join(".").join("disk.img");
        assert!(write_atomic(&alias, "x", &[&img], looks_like_metrics).is_err());
        assert_eq!(std::fs::read(&img).unwrap(), b"data");
        let out = dir.path().join("imgcheck.prom");
        write_atomic(&out, "y\n", &[&img], looks_like_metrics).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "y\n");
        // No temporary left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    /// A file no run wrote (another image, a device node, a directory)
    /// is never replaced; an empty file or an earlier run's output is.
    #[test]
    fn only_files_imgcheck_wrote_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other.qcow2");
        std::fs::write(&other, b"QFI\xfb\0\0\0\x03").unwrap();
        assert!(write_atomic(&other, "# HELP x\n", &[], looks_like_metrics).is_err());
        assert!(write_atomic(&other, "# a\n", &[], looks_like_lost_list).is_err());
        assert_eq!(std::fs::read(&other).unwrap(), b"QFI\xfb\0\0\0\x03");
        assert!(write_atomic(dir.path(), "# a\n", &[], looks_like_lost_list).is_err());
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&other, &link).unwrap();
        assert!(write_atomic(&link, "# a\n", &[], looks_like_lost_list).is_err());
        let list = dir.path().join("lost.txt");
        std::fs::write(&list, "# /x.img\n/etc/a\t0-4096\n").unwrap();
        write_atomic(&list, "# /y.img\n", &[], looks_like_lost_list).unwrap();
        assert_eq!(std::fs::read_to_string(&list).unwrap(), "# /y.img\n");
        let prom = dir.path().join("m.prom");
        std::fs::write(&prom, text(&[Row::failed("x")], 0)).unwrap();
        write_atomic(&prom, "# HELP y\n", &[], looks_like_metrics).unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "").unwrap();
        write_atomic(&empty, "# a\n", &[], looks_like_lost_list).unwrap();
    }
}

//! The clean matrix (issue 22): images QEMU's tools write over the option
//! space, judged by QEMU itself in the test — `qemu-img check` clean and
//! `qemu-io` reading every guest byte — must get no finding above info,
//! read back byte for byte what `qemu-img convert -O raw` produces (the
//! current disk and every snapshot), and agree with qemu-img check's
//! counters and exit code. Every image QEMU flags must be flagged too.
//!
//! The suite runs a fixed sample; `testdata/scripts/qcow2-matrix.sh` runs
//! the whole matrix (`IMGCHECK_MATRIX=0..400`, ignored test `matrix_full`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

mod common;
use common::matrix::{Built, build};
use common::qemu::{Verdict, guest_bytes, tools, verdict};
use imgcheck_core::{ReadAt, Severity};
use imgcheck_qcow2::{CheckOptions, Guest, Image, check};
use std::sync::Arc;

#[derive(Default, Debug)]
struct Tally {
    images: u32,
    clean: u32,
    false_alarms: Vec<String>,
    qemu_flagged: u32,
    flagged_by_us: u32,
    missed: Vec<String>,
    guest_mismatch: Vec<String>,
    compat_agree: u32,
    compat_differ: Vec<String>,
    snapshots_compared: u32,
}

fn read_all(g: &Guest) -> Option<Vec<u8>> {
    let mut v = vec![0u8; usize::try_from(g.len()).ok()?];
    for (i, chunk) in v.chunks_mut(1 << 20).enumerate() {
        g.read_exact_at(i as u64 * (1 << 20), chunk).ok()?;
    }
    Some(v)
}

/// Our `--qemu-compat` answer: exit code and counters (None: no JSON).
fn ours_compat(
    img: Option<&Image>,
    err: Option<&imgcheck_qcow2::Error>,
) -> (i32, Option<(u64, u64)>) {
    match (img, err) {
        (Some(i), _) => {
            let r = check(
                i,
                &CheckOptions {
                    check_backing: false,
                    ..CheckOptions::default()
                },
            );
            let json = r.qemu_output("x").ok().map(|_| (r.corruptions, r.leaks));
            (r.qemu_exit_code(), json)
        }
        (None, Some(e)) => (e.qemu_exit_code(), None),
        _ => (1, None),
    }
}

fn judge(b: &Built, t: &mut Tally) {
    if !b.path.is_file() {
        return;
    }
    t.images += 1;
    let size = Image::open_path(&b.path).map_or(b.virtual_size, |i| i.header().size);
    let v: Verdict = verdict(&b.path, size);
    let opened = Image::open_path(&b.path);
    let label = format!("seed {} ({})", b.seed, b.path.display());
    // --qemu-compat agreement: exit code, and the counters when qemu
    // printed them.
    let (rc, counts) = ours_compat(opened.as_ref().ok(), opened.as_ref().err());
    let theirs = v
        .check_json
        .as_ref()
        .map(|_| (v.count("corruptions"), v.count("leaks")));
    if rc == v.check_rc && counts == theirs {
        t.compat_agree += 1;
    } else {
        t.compat_differ.push(format!(
            "{label}: ours rc={rc} {counts:?}, qemu rc={} {theirs:?}: {}",
            v.check_rc,
            v.check_err.lines().next().unwrap_or("")
        ));
    }
    let (worst, findings) = match &opened {
        Ok(img) => {
            let r = check(
                img,
                &CheckOptions {
                    deep: true,
                    ..CheckOptions::default()
                },
            );
            let above: Vec<String> = r
                .findings
                .iter()
                .chain(
                    r.backing
                        .iter()
                        .filter_map(|x| x.report.as_ref())
                        .flat_map(|x| x.findings.iter()),
                )
                .filter(|f| f.severity > Severity::Info)
                .map(|f| format!("{} {}: {}", f.severity, f.code, f.message))
                .collect();
            (r.worst(), above)
        }
        Err(e) => (Some(Severity::Error), vec![format!("open: {e}")]),
    };
    let ours_flagged = worst.is_some_and(|w| w > Severity::Info);
    if v.flagged() {
        t.qemu_flagged += 1;
        if ours_flagged {
            t.flagged_by_us += 1;
        } else {
            t.missed.push(format!(
                "{label}: qemu rc={} reads_ok={} corrupt={} in-use={}: {} {}\n  {}",
                v.check_rc,
                v.reads_ok,
                v.corrupt,
                v.bitmaps_in_use,
                v.check_err.lines().next().unwrap_or(""),
                v.read_err,
                b.recipe.join("\n  ")
            ));
        }
        return;
    }
    t.clean += 1;
    if ours_flagged {
        t.false_alarms.push(format!(
            "{label}:\n  {}\n  recipe:\n  {}",
            findings.join("\n  "),
            b.recipe.join("\n  ")
        ));
    }
    // Guest bytes, current disk and every snapshot, against qemu-img.
    let Ok(img) = opened else { return };
    let img = Arc::new(img);
    let theirs = guest_bytes(&b.path, None);
    let ours = read_all(&Guest::new(Arc::clone(&img)));
    if theirs.is_none() || ours != theirs {
        t.guest_mismatch.push(format!(
            "{label}: current disk differs (ours read: {})",
            ours.is_some()
        ));
    }
    for s in img.snapshots() {
        // `qemu-img convert -l` loads the snapshot's L1 into the open
        // image (qcow2_snapshot_load_tmp) and keeps the current virtual
        // size, so past the snapshot's own disk size (after a resize) it
        // shows what a short L1 reads, not the snapshot. The snapshot is
        // its own size, as `qemu-img snapshot -a` restores it.
        let theirs = guest_bytes(&b.path, Some(&s.id));
        let ours = Guest::snapshot_at(Arc::clone(&img), s.index)
            .ok()
            .and_then(|g| read_all(&g));
        t.snapshots_compared += 1;
        let want = s.disk_size.unwrap_or(img.header().size);
        let same = match (&ours, &theirs) {
            (Some(o), Some(t)) => {
                o.len() as u64 == want
                    && t.get(..o.len().min(t.len())) == o.get(..o.len().min(t.len()))
            }
            _ => false,
        };
        if !same {
            t.guest_mismatch.push(format!(
                "{label}: snapshot {} differs (ours {:?} bytes, qemu {:?}, its disk size {want})",
                s.id,
                ours.as_ref().map(Vec::len),
                theirs.as_ref().map(Vec::len)
            ));
        }
    }
}

/// IMGCHECK_MATRIX_KEEP=DIR keeps each image (with its backing and data
/// files) as DIR/seed-NNNN/, MAIN naming the image and its recipe, for
/// timing the whole CLI on it (testdata/scripts/qcow2-cli-bounds.sh).
fn keep(b: &Built, dir: &std::path::Path) {
    let Some(to) = std::env::var_os("IMGCHECK_MATRIX_KEEP").filter(|k| !k.is_empty()) else {
        return;
    };
    if !b.path.is_file() {
        return;
    }
    let to = std::path::Path::new(&to).join(format!("seed-{:04}", b.seed));
    let copied = std::process::Command::new("cp")
        .arg("-a")
        .arg(dir)
        .arg(&to)
        .status()
        .is_ok_and(|s| s.success());
    if copied {
        let name = b.path.file_name().unwrap().to_string_lossy();
        std::fs::write(
            to.join("MAIN"),
            format!("{name}\n{}\n", b.recipe.join(" ; ")),
        )
        .unwrap();
    }
}

fn run_matrix(seeds: std::ops::Range<u64>) -> Tally {
    let mut t = Tally::default();
    for seed in seeds {
        let dir = tempfile::tempdir().unwrap();
        let b = build(dir.path(), seed);
        judge(&b, &mut t);
        keep(&b, dir.path());
        if std::env::var_os("IMGCHECK_MATRIX_VERBOSE").is_some() {
            println!("seed {seed}: {}", b.recipe.join(" ; "));
        }
    }
    println!(
        "matrix: {} images, {} clean by QEMU, {} false alarms; {} QEMU flagged, {} of them flagged here; {} snapshots compared, {} guest mismatches; --qemu-compat agrees on {} of {}",
        t.images,
        t.clean,
        t.false_alarms.len(),
        t.qemu_flagged,
        t.flagged_by_us,
        t.snapshots_compared,
        t.guest_mismatch.len(),
        t.compat_agree,
        t.images
    );
    t
}

fn assert_tally(t: &Tally) {
    let mut problems = Vec::new();
    problems.extend(t.false_alarms.iter().map(|s| format!("FALSE ALARM {s}")));
    problems.extend(t.missed.iter().map(|s| format!("MISSED {s}")));
    problems.extend(t.guest_mismatch.iter().map(|s| format!("GUEST {s}")));
    problems.extend(t.compat_differ.iter().map(|s| format!("COMPAT {s}")));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn matrix_sample() {
    if !tools() {
        println!("skipped: qemu-img or qemu-io not found");
        return;
    }
    let t = run_matrix(1000..1010);
    assert!(t.images >= 8, "only {} images built", t.images);
    assert_tally(&t);
}

#[test]
#[ignore = "the whole matrix: testdata/scripts/qcow2-matrix.sh"]
fn matrix_full() {
    assert!(tools(), "qemu-img and qemu-io are needed");
    let range = std::env::var("IMGCHECK_MATRIX").unwrap_or_else(|_| "0..400".into());
    let (a, b) = range.split_once("..").unwrap();
    let t = run_matrix(a.parse().unwrap()..b.parse().unwrap());
    assert_tally(&t);
}

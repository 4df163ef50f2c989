//! Public test images made by other projects (testdata/public/manifest.tsv,
//! cached outside the repo by testdata/scripts/public-images.sh): the built
//! binary runs on each with `--json` under a time limit, and its verdict is
//! held against the peer tools' verdicts recorded in the manifest.
//!
//! - a **miss**: a peer flagged the image (or a log replay is pending) and
//!   imgcheck says clean;
//! - a **false alarm**: every peer that judged the image calls it clean and
//!   imgcheck says warning or damaged (or refuses it), or a replay is
//!   pending and imgcheck calls it damaged;
//! - **mislabelled**: what imgcheck names at the top of the disk (the table,
//!   or the filesystem on the whole disk or qcow2 guest) is not what blkid
//!   names there.
//!
//! imgcheck is known to be wrong on many of these today, so the test only
//! reports, unless `IMGCHECK_PUBLIC_STRICT` is `1` (every kind) or a
//! comma-separated list of manifest kinds (`ext4,gpt`): then a false alarm,
//! miss or mislabel of those kinds fails it. Without the cache it says so
//! and passes. The summary line goes to the terminal even when the test
//! harness captures output; the full list is printed (`--nocapture`) and
//! written to `public-images-report.txt` in the test's target tmp dir.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A run longer than this is killed and counted against imgcheck.
const TIME_LIMIT: Duration = Duration::from_secs(60);

/// One peer's word on one image (a manifest row).
#[derive(Debug, Clone)]
struct Peer {
    name: String,
    verdict: String,
    says: String,
}

/// One image of the manifest, with every peer row it has.
#[derive(Debug, Clone)]
struct Image {
    id: String,
    kind: String,
    expect_kind: String,
    cache_file: String,
    sha256: String,
    size: u64,
    peers: Vec<Peer>,
}

fn manifest() -> Vec<Image> {
    let path = imgcheck_testdata::root().join("public/manifest.tsv");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("manifest header").split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("manifest has no column {name}"))
    };
    let (id, kind, expect, file, sha, size) = (
        col("id"),
        col("kind"),
        col("expect_kind"),
        col("cache_file"),
        col("sha256"),
        col("size"),
    );
    let (peer, verdict, says) = (col("peer"), col("peer_verdict"), col("peer_says"));
    let mut images: Vec<Image> = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let c: Vec<&str> = line.split('\t').collect();
        assert_eq!(
            c.len(),
            header.len(),
            "manifest row has the wrong width: {line}"
        );
        let p = Peer {
            name: c[peer].to_string(),
            verdict: c[verdict].to_string(),
            says: c[says].to_string(),
        };
        match images.last_mut() {
            Some(last) if last.id == c[id] => last.peers.push(p),
            _ => images.push(Image {
                id: c[id].to_string(),
                kind: c[kind].to_string(),
                expect_kind: c[expect].to_string(),
                cache_file: c[file].to_string(),
                sha256: c[sha].to_string(),
                size: c[size].parse().expect("size"),
                peers: vec![p],
            }),
        }
    }
    images
}

/// The cache: $IMGCHECK_PUBLIC_CACHE, else `cache/public-images` beside the
/// checkout (where the workspace keeps it).
fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("IMGCHECK_PUBLIC_CACHE") {
        return Some(PathBuf::from(dir)).filter(|d| d.is_dir());
    }
    let dir = imgcheck_testdata::root().join("../../cache/public-images");
    dir.is_dir().then(|| dir.canonicalize().unwrap_or(dir))
}

/// Whether `file` has the manifest's size and sha256. Hashing reads every
/// byte of up to 1 GiB sparse files, so a match is remembered in the target
/// dir by (path, size, mtime, sha256) and not recomputed while the file is
/// unchanged.
fn verified(file: &Path, img: &Image) -> bool {
    let Ok(meta) = std::fs::metadata(file) else {
        return false;
    };
    if meta.len() != img.size {
        return false;
    }
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let stamp_key = format!("{}\t{}\t{mtime}\t{}", file.display(), img.size, img.sha256);
    let stamp = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("public-images-verified")
        .join(format!("{:x}", Sha256::digest(stamp_key.as_bytes())));
    if stamp.is_file() {
        return true;
    }
    let mut f = std::fs::File::open(file).unwrap();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    let ok = format!("{:x}", h.finalize()) == img.sha256;
    if ok {
        std::fs::create_dir_all(stamp.parent().unwrap()).unwrap();
        std::fs::write(&stamp, stamp_key).unwrap();
    }
    ok
}

/// What imgcheck said about one image.
#[derive(Debug)]
struct Outcome {
    /// clean, warning, damaged; or refused (no report: exit status and
    /// stderr in `codes`), or timeout.
    verdict: String,
    /// Warning and error finding codes, in report order, without repeats.
    codes: Vec<String>,
    /// Names imgcheck gives the top of the disk (table and whole-disk
    /// filesystem), normalised.
    names: Vec<String>,
    secs: f64,
}

fn run_imgcheck(file: &Path) -> Outcome {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_imgcheck"))
        .arg("--json")
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn imgcheck");
    // Drain both pipes while waiting, so a large report cannot block it.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if start.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = out_t.join().unwrap();
    let stderr = err_t.join().unwrap();
    let secs = start.elapsed().as_secs_f64();
    let Some(status) = status else {
        return Outcome {
            verdict: "timeout".into(),
            codes: vec![format!("killed after {}s", TIME_LIMIT.as_secs())],
            names: vec![],
            secs,
        };
    };
    let Ok(report) = serde_json::from_str::<Value>(&stdout) else {
        let first = stderr.lines().next().unwrap_or("").to_string();
        return Outcome {
            verdict: "refused".into(),
            codes: vec![format!("exit {:?}: {first}", status.code())],
            names: vec![],
            secs,
        };
    };
    let mut codes: Vec<String> = Vec::new();
    for f in report["findings"].as_array().into_iter().flatten() {
        let sev = f["severity"].as_str().unwrap_or("");
        let code = f["code"].as_str().unwrap_or("?").to_string();
        if (sev == "warning" || sev == "error") && !codes.contains(&code) {
            codes.push(code);
        }
    }
    let layers = &report["layers"];
    let mut names = Vec::new();
    if let Some(k) = layers["partition_table"]["kind"].as_str()
        && k != "none"
    {
        names.push(normalise(k));
    }
    if let Some(k) = layers["filesystem"]["kind"].as_str() {
        names.push(normalise(k));
    }
    Outcome {
        verdict: report["verdict"].as_str().unwrap_or("?").to_string(),
        codes,
        names,
        secs,
    }
}

/// One name per thing, whichever tool names it: blkid's `dos` is imgcheck's
/// `mbr`; the FAT widths and the ext generations are one kind each here
/// (the manifest's kind column keeps them apart).
fn normalise(name: &str) -> String {
    let n = name.to_ascii_lowercase();
    match n.as_str() {
        "dos" | "mbr" => "mbr".into(),
        "vfat" | "msdos" | "fat" | "fat12" | "fat16" | "fat32" => "fat".into(),
        "ext2" | "ext3" | "ext4" | "jbd" => "ext".into(),
        "pmbr" => "gpt".into(),
        _ => n,
    }
}

/// The peers' combined verdict: flagged if any checker flagged it, pending
/// if one found a replay outstanding, clean if every checker that judged
/// it calls it clean; None when no checker judged it (identification only).
fn consensus(img: &Image) -> Option<&'static str> {
    let judged: Vec<&Peer> = img
        .peers
        .iter()
        .filter(|p| p.verdict == "clean" || p.verdict == "flagged" || p.verdict == "pending")
        .collect();
    if judged.iter().any(|p| p.verdict == "flagged") {
        Some("flagged")
    } else if judged.iter().any(|p| p.verdict == "pending") {
        Some("pending")
    } else if judged.is_empty() {
        None
    } else {
        Some("clean")
    }
}

/// The peers' own words for the report: the flagging ones first.
fn peer_words(img: &Image) -> String {
    let mut ps: Vec<&Peer> = img.peers.iter().filter(|p| p.name != "blkid").collect();
    ps.sort_by_key(|p| p.verdict != "flagged");
    ps.iter()
        .take(2)
        .map(|p| {
            let says: String = p.says.chars().take(110).collect();
            format!("{} {}: {says}", p.name, p.verdict)
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

#[derive(Default)]
struct KindCount {
    run: u32,
    false_alarms: Vec<String>,
    misses: Vec<String>,
    mislabelled: Vec<String>,
}

/// Which kinds fail the test when wrong (IMGCHECK_PUBLIC_STRICT).
fn strict_kinds() -> Option<Vec<String>> {
    let v = std::env::var("IMGCHECK_PUBLIC_STRICT").ok()?;
    match v.trim() {
        "" | "0" => None,
        "1" | "all" => Some(vec!["*".into()]),
        list => Some(list.split(',').map(|k| k.trim().to_string()).collect()),
    }
}

/// To the terminal even under the test harness's output capture (which
/// takes only print!/eprint!), so a skip or the counts are always seen.
fn say(line: &str) {
    println!("{line}");
    let _ = writeln!(std::io::stderr(), "{line}");
}

#[test]
fn public_images() {
    let images = manifest();
    let Some(cache) = cache_dir() else {
        say(&format!(
            "public images: SKIPPED, no cache (0 of {} run): populate it with testdata/scripts/public-images.sh, see testdata/public/README.md",
            images.len()
        ));
        return;
    };
    let mut skipped = Vec::new();
    let mut per_kind: BTreeMap<String, KindCount> = BTreeMap::new();
    let mut report = String::new();
    let mut slowest = (0.0f64, String::new());
    let (mut fa, mut miss, mut mislabel, mut run) = (0u32, 0u32, 0u32, 0u32);
    for img in &images {
        let file = cache.join(&img.cache_file);
        if !verified(&file, img) {
            skipped.push(img.id.clone());
            continue;
        }
        let out = run_imgcheck(&file);
        run += 1;
        if out.secs > slowest.0 {
            slowest = (out.secs, img.id.clone());
        }
        let k = per_kind.entry(img.kind.clone()).or_default();
        k.run += 1;
        let codes = if out.codes.is_empty() {
            String::from("-")
        } else {
            out.codes.join(",")
        };
        let line = format!(
            "{} [{}] imgcheck {} ({codes}); peers: {}",
            img.id,
            img.kind,
            out.verdict,
            peer_words(img)
        );
        let peers = consensus(img);
        let alarm = match (peers, out.verdict.as_str()) {
            (Some("clean"), v) => v != "clean",
            (Some("pending"), v) => v == "damaged" || v == "refused" || v == "timeout",
            (Some("flagged"), "timeout") | (None, "timeout") => true,
            _ => false,
        };
        let missed = matches!(peers, Some("flagged") | Some("pending")) && out.verdict == "clean";
        if alarm {
            fa += 1;
            k.false_alarms.push(line.clone());
        }
        if missed {
            miss += 1;
            k.misses.push(line.clone());
        }
        let expected: Vec<String> = img.expect_kind.split('|').map(normalise).collect();
        let named_right = expected
            .iter()
            .any(|e| (e == "none" && out.names.is_empty()) || out.names.contains(e));
        // A refused or killed run names nothing; that is counted above.
        if !named_right && out.verdict != "refused" && out.verdict != "timeout" {
            mislabel += 1;
            k.mislabelled.push(format!(
                "{} [{}] blkid: {}; imgcheck: {}",
                img.id,
                img.kind,
                img.expect_kind,
                if out.names.is_empty() {
                    "nothing".to_string()
                } else {
                    out.names.join("|")
                }
            ));
        }
    }
    let summary = format!(
        "public images: {run} run, {} skipped (not in cache), {fa} false alarms, {miss} misses, {mislabel} mislabelled",
        skipped.len()
    );
    let _ = writeln!(report, "{summary}");
    let _ = writeln!(
        report,
        "slowest: {:.2}s ({}); cache {}",
        slowest.0,
        slowest.1,
        cache.display()
    );
    let _ = writeln!(report, "\nper kind: run, false alarms, misses, mislabelled");
    for (kind, k) in &per_kind {
        let _ = writeln!(
            report,
            "  {kind:<8} {:>3} {:>3} {:>3} {:>3}",
            k.run,
            k.false_alarms.len(),
            k.misses.len(),
            k.mislabelled.len()
        );
    }
    for (title, pick) in [("false alarms", 0usize), ("misses", 1), ("mislabelled", 2)] {
        let _ = writeln!(report, "\n{title}:");
        for k in per_kind.values() {
            let list = [&k.false_alarms, &k.misses, &k.mislabelled][pick];
            for l in list {
                let _ = writeln!(report, "  {l}");
            }
        }
    }
    if !skipped.is_empty() {
        let _ = writeln!(
            report,
            "\nskipped (not in cache or sha256 differs): {}",
            skipped.join(" ")
        );
    }
    let report_file = Path::new(env!("CARGO_TARGET_TMPDIR")).join("public-images-report.txt");
    let _ = std::fs::write(&report_file, &report);
    println!("{report}");
    say(&format!("{summary} (list: {})", report_file.display()));

    if let Some(strict) = strict_kinds() {
        let failing: Vec<String> = per_kind
            .iter()
            .filter(|(kind, _)| strict.iter().any(|s| s == "*" || s == *kind))
            .flat_map(|(_, k)| {
                k.false_alarms
                    .iter()
                    .map(|l| format!("false alarm: {l}"))
                    .chain(k.misses.iter().map(|l| format!("miss: {l}")))
                    .chain(k.mislabelled.iter().map(|l| format!("mislabelled: {l}")))
                    .collect::<Vec<_>>()
            })
            .collect();
        assert!(
            failing.is_empty(),
            "IMGCHECK_PUBLIC_STRICT={strict:?}: {} wrong:\n{}",
            failing.len(),
            failing.join("\n")
        );
    }
}

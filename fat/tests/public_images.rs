//! The public FAT images of testdata/public/manifest.tsv (dosfstools' and
//! rust-fatfs's test suites, cached outside the repo; skipped visibly when
//! absent), checked by this crate directly — the CLI does not know FAT yet
//! — and compared with the manifest's fsck.fat verdict (and, when
//! dosfstools is installed, with fsck.fat's live output by class). The
//! exFAT images must not be taken for FAT.
//!
//! Every disagreement must be one of `EXPLAINED`, each with its cause;
//! anything else fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]
mod common;
use common::{fsck, fsck_available, our_classes, satisfied};
use imgcheck_core::{Depth, FileReader, Severity};
use imgcheck_fat::{Options, check, probe};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Images on which this crate and Debian's fsck.fat 4.2 disagree, and why.
const EXPLAINED: &[(&str, &str)] = &[
    (
        "dosfstools:check-encryption_with_duplicate_dirent.repaired",
        "fsck.fat 4.2 flags even its own repair: Windows EFS sets NTRes 0x21 on encrypted files, and 4.2 reads bit 0x20 as 'no 8.3 name' (FAT_NO_83NAME), so a renamed entry without a long name is 'bad' again; upstream removed that logic (c3a71fd) and added these very images as its test; the kernel never implemented the flag",
    ),
    (
        "dosfstools:check-encryption_with_invalid_83.repaired",
        "the same FAT_NO_83NAME logic of fsck.fat 4.2, removed upstream in c3a71fd",
    ),
];

struct Row {
    id: String,
    kind: String,
    cache_file: String,
    sha256: String,
    size: u64,
    peer: String,
    verdict: String,
}

fn manifest() -> Vec<Row> {
    let text =
        std::fs::read_to_string(imgcheck_testdata::root().join("public/manifest.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |n: &str| {
        header
            .iter()
            .position(|h| *h == n)
            .unwrap_or_else(|| panic!("no column {n}"))
    };
    let (id, kind, file, sha, size, peer, verdict) = (
        col("id"),
        col("kind"),
        col("cache_file"),
        col("sha256"),
        col("size"),
        col("peer"),
        col("peer_verdict"),
    );
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            Row {
                id: c[id].into(),
                kind: c[kind].into(),
                cache_file: c[file].into(),
                sha256: c[sha].into(),
                size: c[size].parse().unwrap(),
                peer: c[peer].into(),
                verdict: c[verdict].into(),
            }
        })
        .collect()
}

fn cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("IMGCHECK_PUBLIC_CACHE") {
        return Some(PathBuf::from(d)).filter(|d| d.is_dir());
    }
    let d = imgcheck_testdata::root().join("../../cache/public-images");
    d.is_dir().then_some(d)
}

/// Size and sha256 as the manifest says (a match is remembered by path,
/// size and mtime in the target dir, so 1 GiB sparse files are hashed once).
fn verified(file: &Path, r: &Row) -> bool {
    let Ok(meta) = std::fs::metadata(file) else {
        return false;
    };
    if meta.len() != r.size {
        return false;
    }
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let key = format!("{}\t{}\t{mtime}\t{}", file.display(), r.size, r.sha256);
    let stamp = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("fat-public-verified")
        .join(format!("{:x}", Sha256::digest(key.as_bytes())));
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
    let ok = format!("{:x}", h.finalize()) == r.sha256;
    if ok {
        std::fs::create_dir_all(stamp.parent().unwrap()).unwrap();
        std::fs::write(&stamp, key).unwrap();
    }
    ok
}

#[test]
fn public_fat_images() {
    let Some(cache) = cache_dir() else {
        println!("SKIPPED public FAT images: no cache (see testdata/public/README.md)");
        return;
    };
    let rows = manifest();
    let live = fsck_available();
    let mut lines = Vec::new();
    let mut wrong = Vec::new();
    let (mut n, mut agree, mut explained, mut skipped, mut exfat) = (0, 0, 0, 0, 0);
    for r in rows
        .iter()
        .filter(|r| r.kind.starts_with("fat") && r.peer == "fsck.fat")
    {
        let file = cache.join(&r.cache_file);
        if !verified(&file, r) {
            skipped += 1;
            continue;
        }
        n += 1;
        let reader = FileReader::open(&file).unwrap();
        assert!(probe(&reader).is_some(), "{}: not identified as FAT", r.id);
        let rep = check(&reader, &Options { depth: Depth::Full });
        let flagged = rep.findings.iter().any(|f| f.severity >= Severity::Warning);
        let ours = our_classes(&rep.findings, Severity::Info);
        let codes: Vec<String> = rep
            .findings
            .iter()
            .filter(|f| f.severity >= Severity::Warning)
            .map(|f| f.code.to_string())
            .collect();
        let mut note = String::new();
        let mut ok = match r.verdict.as_str() {
            "flagged" => flagged,
            "clean" => !flagged,
            _ => true,
        };
        if live {
            let f = fsck(&file);
            let missed: Vec<&&str> = f.classes.iter().filter(|c| !satisfied(c, &ours)).collect();
            if !missed.is_empty() {
                ok = false;
                note = format!(" (fsck.fat's {missed:?} not reported)");
            }
            // fsck.fat printed something at exit 0 ("noted"): flagging it is no false alarm.
            if r.verdict == "clean" && flagged && !f.classes.is_empty() && missed.is_empty() {
                ok = true;
                note = format!(" (fsck.fat notes it too: {:?})", f.classes);
            }
        }
        let why = EXPLAINED
            .iter()
            .find(|(id, _)| *id == r.id)
            .map(|(_, w)| *w);
        let state = match (ok, why) {
            (true, _) => {
                agree += 1;
                "agree"
            }
            (false, Some(_)) => {
                explained += 1;
                "explained"
            }
            (false, None) => {
                wrong.push(format!(
                    "{}: fsck.fat {}, here {codes:?}{note}",
                    r.id, r.verdict
                ));
                "WRONG"
            }
        };
        lines.push(format!(
            "{state:<9} {:<60} fsck.fat {:<8} here {:<7} {codes:?}{note}{}",
            r.id,
            r.verdict,
            if flagged { "flagged" } else { "clean" },
            why.map_or(String::new(), |w| format!("\n          {w}"))
        ));
    }
    for r in rows
        .iter()
        .filter(|r| r.kind == "exfat" && r.peer == "blkid")
    {
        let file = cache.join(&r.cache_file);
        if !verified(&file, r) {
            continue;
        }
        exfat += 1;
        let reader = FileReader::open(&file).unwrap();
        if probe(&reader).is_some() {
            wrong.push(format!("{}: an exFAT image taken for FAT", r.id));
        }
    }
    let text = format!(
        "public FAT images: {n} checked ({skipped} not in the cache), {agree} agree with fsck.fat, {explained} explained disagreements, {} wrong; {exfat} exFAT images rejected{}\n{}",
        wrong.len(),
        if live {
            ""
        } else {
            " (fsck.fat not installed: the manifest's verdicts only)"
        },
        lines.join("\n")
    );
    println!("{text}");
    let _ = std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("fat-public-images.txt"),
        &text,
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

//! util-linux's blkid images (read in place from ../shared/corpus/blkid-fs;
//! skipped visibly when absent): `probe` claims exactly the vfat images and
//! none of the ~120 other kinds (exFAT and NTFS included: their boot
//! sectors look like a BPB to a careless reader), the summary's type,
//! volume id and label are blkid's, the check never panics on any of them,
//! and on the vfat ones it flags what fsck.fat -n flags.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]
mod common;
use common::{fsck, fsck_available, our_classes, satisfied};
use imgcheck_core::{BytesReader, Depth, Severity};
use imgcheck_fat::{Options, check, probe};

struct Output {
    stdout: Vec<u8>,
}

/// The decompressed image, kept in the target's tmp dir between runs
/// (keyed by the compressed file's size and mtime).
fn unxz(xz: &std::path::Path) -> Option<Vec<u8>> {
    let meta = std::fs::metadata(xz).ok()?;
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    let name = xz.file_name()?.to_string_lossy().into_owned();
    let cached = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("blkid-fs")
        .join(format!("{name}.{}.{mtime}", meta.len()));
    if let Ok(b) = std::fs::read(&cached) {
        return Some(b);
    }
    let out = std::process::Command::new("xz")
        .arg("-dc")
        .arg(xz)
        .output()
        .ok()?;
    if !out.status.success() {
        return Some(Vec::new());
    }
    let _ = std::fs::create_dir_all(cached.parent()?);
    let tmp = cached.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::write(&tmp, &out.stdout).is_ok() {
        let _ = std::fs::rename(&tmp, &cached);
    }
    Some(out.stdout)
}

#[test]
fn blkid_images() {
    let Some(corpus) = imgcheck_testdata::corpus_dir() else {
        println!("SKIPPED blkid corpus: no ../shared/corpus");
        return;
    };
    let dir = corpus.join("blkid-fs");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        println!("SKIPPED blkid corpus: no blkid-fs");
        return;
    };
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".img.xz").map(str::to_string))
        .collect();
    names.sort();
    let with_fsck = fsck_available();
    let tmp = tempfile::tempdir().unwrap();
    let mut wrong = Vec::new();
    let (mut fat, mut other, mut fsck_compared, mut known) = (0, 0, 0, 0);
    for name in &names {
        let Some(bytes) = unxz(&dir.join(format!("{name}.img.xz"))) else {
            println!("SKIPPED blkid corpus: no xz");
            return;
        };
        if bytes.is_empty() {
            continue;
        }
        let out = Output { stdout: bytes };
        let expected =
            std::fs::read_to_string(dir.join(format!("{name}.expected"))).unwrap_or_default();
        let key = |k: &str| {
            expected
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(str::to_string)
        };
        let is_fat = key("ID_FS_TYPE=").as_deref() == Some("vfat");
        let r = BytesReader::new(out.stdout.clone());
        let got = probe(&r);
        let rep = check(&r, &Options { depth: Depth::Full });
        if got.is_some() != is_fat {
            wrong.push(format!("{name}: probe {got:?}, blkid says vfat: {is_fat}"));
        }
        if !is_fat {
            other += 1;
            continue;
        }
        fat += 1;
        let s = rep
            .summary
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no summary: {:?}", rep.findings));
        if Some(s.kind.name().to_string()) != key("ID_FS_VERSION=") {
            wrong.push(format!(
                "{name}: kind {} but blkid {:?}",
                s.kind,
                key("ID_FS_VERSION=")
            ));
        }
        if s.volume_id_text != key("ID_FS_UUID=") {
            wrong.push(format!(
                "{name}: id {:?} but blkid {:?}",
                s.volume_id_text,
                key("ID_FS_UUID=")
            ));
        }
        // blkid's LABEL: the root directory's label entry, else the boot
        // sector's (it writes unprintable characters as '_').
        let blkid_label = key("ID_FS_LABEL=");
        let ours = s.label.clone().map(|l| {
            l.chars()
                .map(|c| if c.is_ascii_graphic() { c } else { '_' })
                .collect::<String>()
        });
        if blkid_label.is_some()
            && ours.as_deref().map(str::trim_end) != blkid_label.as_deref().map(str::trim_end)
        {
            wrong.push(format!(
                "{name}: label {:?} but blkid {:?}",
                s.label, blkid_label
            ));
        }
        if with_fsck {
            let p = tmp.path().join(format!("{name}.img"));
            std::fs::write(&p, &out.stdout).unwrap();
            let f = fsck(&p);
            let mut ours_all = our_classes(&rep.findings, Severity::Info);
            let mut quirk = false;
            // fsck.fat 4.2 reads label bytes as signed chars, so above 0x7F
            // they are "control characters"; upstream fixed it (c888797)
            // and this crate follows upstream.
            if f.classes.contains("label")
                && !ours_all.contains("label")
                && s.label.as_deref().is_some_and(|l| !l.is_ascii())
                && f.text.contains("is not valid")
            {
                println!(
                    "{name}: fsck.fat 4.2 calls the label {:?} invalid (signed chars, fixed upstream in c888797)",
                    s.label
                );
                ours_all.insert("label");
                quirk = true;
                known += 1;
            }
            let flagged = rep.findings.iter().any(|x| x.severity >= Severity::Warning)
                || (quirk && f.classes.iter().all(|c| satisfied(c, &ours_all)));
            if f.flagged() && !flagged && !f.classes.iter().all(|c| satisfied(c, &ours_all)) {
                wrong.push(format!(
                    "{name}: fsck.fat flags it ({:?}), this crate does not: {:?}",
                    f.classes, rep.findings
                ));
            }
            if f.clean() && flagged {
                wrong.push(format!(
                    "{name}: fsck.fat calls it clean, this crate flags it: {:?}",
                    rep.findings
                        .iter()
                        .map(|x| x.to_string())
                        .collect::<Vec<_>>()
                ));
            }
            for c in &f.classes {
                if !satisfied(c, &ours_all) {
                    wrong.push(format!("{name}: fsck.fat reports {c}, this crate does not"));
                }
            }
            fsck_compared += 1;
        }
    }
    println!(
        "blkid corpus: {fat} vfat images identified and checked, {other} other kinds rejected, {fsck_compared} compared with fsck.fat ({known} differ by fsck.fat 4.2's signed-char label check)"
    );
    if !with_fsck {
        println!("SKIPPED the fsck.fat part: fsck.fat is not installed");
    }
    assert!(fat >= 20, "{fat} vfat images");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

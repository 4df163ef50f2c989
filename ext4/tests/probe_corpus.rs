//! Signature probing against util-linux's blkid images (read in place from
//! ../shared/corpus/blkid-fs; skipped when absent): `probe` claims exactly
//! the ext2/3/4 images and none of the ~120 other kinds, and checking any
//! of them never panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use imgcheck_core::BytesReader;
use imgcheck_ext4::{Options, check, probe};

#[test]
fn blkid_images() {
    let Some(corpus) = imgcheck_testdata::corpus_dir() else {
        println!("skipped: no ../shared/corpus");
        return;
    };
    let dir = corpus.join("blkid-fs");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        println!("skipped: no blkid-fs corpus");
        return;
    };
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".img.xz").map(str::to_string))
        .collect();
    names.sort();
    let mut wrong = Vec::new();
    let mut checked = 0;
    for name in &names {
        let Ok(out) = std::process::Command::new("xz")
            .arg("-dc")
            .arg(dir.join(format!("{name}.img.xz")))
            .output()
        else {
            println!("skipped: no xz");
            return;
        };
        if !out.status.success() {
            continue;
        }
        let expected =
            std::fs::read_to_string(dir.join(format!("{name}.expected"))).unwrap_or_default();
        let is_ext = expected.lines().any(|l| {
            matches!(
                l,
                "ID_FS_TYPE=ext2" | "ID_FS_TYPE=ext3" | "ID_FS_TYPE=ext4" | "ID_FS_TYPE=jbd"
            )
        });
        let r = BytesReader::new(out.stdout);
        let got = probe(&r);
        let report = check(
            &r,
            &Options {
                depth: imgcheck_core::Depth::Full,
            },
        );
        checked += 1;
        if got != is_ext {
            wrong.push(format!("{name}: probe {got}, blkid says ext: {is_ext}"));
        }
        if is_ext {
            let s = report
                .summary
                .as_ref()
                .unwrap_or_else(|| panic!("{name}: no summary"));
            let want = expected
                .lines()
                .find_map(|l| l.strip_prefix("ID_FS_TYPE="))
                .unwrap_or("");
            assert_eq!(s.kind, want, "{name}: kind");
            let bad: Vec<_> = report
                .findings
                .iter()
                .filter(|f| f.severity >= imgcheck_core::Severity::Warning)
                .map(|f| f.code.to_string())
                .collect();
            println!("{name}: {} {bad:?}", s.kind);
        }
    }
    println!(
        "blkid corpus: {checked} images probed, {} wrong",
        wrong.len()
    );
    assert!(wrong.is_empty(), "{wrong:#?}");
}

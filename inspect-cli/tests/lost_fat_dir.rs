//! Issue 17, attack F12: a FAT32 subdirectory's cluster zeroed
//! (testdata/scripts/lost-fat-dir.sh). The loss names the directory and
//! the files it held as far as the disk shows them: their entries are
//! gone, their chains are lost chains. Held against mdir/mshowfat on the
//! volume before the dd and fsck.fat -n on the damaged one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

use imgcheck::options::Options;
use imgcheck::report::ImageReport;
use imgcheck_testdata::fixture;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn report(path: &Path) -> ImageReport {
    let opts = Options {
        image_path: path.to_path_buf(),
        ..Options::default()
    };
    imgcheck::inspect_image(path, None, &opts).unwrap()
}

fn run(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd)
        .args(args)
        .env("MTOOLS_SKIP_CHECK", "1")
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn zeroed_fat_directory_names_its_lost_chains() {
    let img = fixture("lost/fat-dir.img");
    let r = report(&img);
    let ev = r
        .lost
        .iter()
        .find(|e| e.files.iter().any(|f| f.path.as_deref() == Some("/sub")))
        .expect("a loss naming /sub's directory cluster");
    let ours: BTreeSet<u32> = ev
        .unreachable
        .iter()
        .map(|f| {
            let p = f.path.as_deref().unwrap();
            p.strip_prefix("/<lost chain from cluster ")
                .and_then(|p| p.strip_suffix('>'))
                .unwrap_or_else(|| panic!("{p}"))
                .parse()
                .unwrap()
        })
        .collect();
    let f = imgcheck_core::Finding::clone(
        r.findings()
            .into_iter()
            .find(|f| f.code == "layout.lost" && f.message.contains("/sub"))
            .unwrap(),
    );
    assert!(
        f.message.contains("lost chain from cluster"),
        "{}",
        f.message
    );
    let pristine = fixture("lost/fat-dir-pristine.img");
    let (Some(list), Some(fsck)) = (
        run("mdir", &["-b", "-i", pristine.to_str().unwrap(), "::/sub"]),
        run("fsck.fat", &["-n", img.to_str().unwrap()]),
    ) else {
        println!("skipped: mtools or dosfstools not installed");
        return;
    };
    // What /sub held, by each file's first cluster (mshowfat's first run).
    let mut theirs = BTreeSet::new();
    for p in list
        .lines()
        .filter(|l| !l.ends_with("/.") && !l.ends_with("/.."))
    {
        let chain = run("mshowfat", &["-i", pristine.to_str().unwrap(), p]).unwrap();
        let first: u32 = chain
            .split('<')
            .nth(1)
            .unwrap()
            .split(['-', '>'])
            .next()
            .unwrap()
            .parse()
            .unwrap();
        theirs.insert(first);
    }
    assert_eq!(theirs.len(), 12, "{list}");
    assert_eq!(ours, theirs, "lost chains vs the files /sub held");
    // fsck.fat counts the same clusters as unused (lost) as imgcheck's
    // fat layer does.
    let reclaimed: u64 = fsck
        .split("Reclaimed ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    let lost = r
        .findings()
        .into_iter()
        .find(|f| f.code == "fat.chain.lost")
        .unwrap()
        .message
        .clone();
    assert!(lost.starts_with(&format!("{reclaimed} clusters")), "{lost}");
    println!(
        "fat-dir.img: {} files /sub held (mdir), {} lost chains named, same first clusters; {reclaimed} clusters (fsck.fat -n) in them",
        theirs.len(),
        ours.len()
    );
}

#[test]
fn clean_fat_volume_lists_no_lost_chain() {
    let r = report(&fixture("lost/fat-dir-pristine.img"));
    assert!(r.lost.is_empty());
    assert!(!r.findings().iter().any(|f| f.code == "fat.chain.lost"));
}

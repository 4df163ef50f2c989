//! Signature identification against util-linux's blkid test images
//! (../shared/corpus/blkid-fs, read in place): each image placed at an
//! offset in a blank disk must be found by the scan and named as blkid
//! names it (the `.expected` file's ID_FS_TYPE), and named so on its own.
//! A format anchored at the member's end (MD RAID 0.90) is named on its
//! own only: at an offset inside a larger disk its end is not the disk's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

use imgcheck_core::BytesReader;
use imgcheck_gpt::{ScanLimits, identify_at, scan};
use std::process::Command;

/// The kinds imgcheck-gpt identifies (blkid names).
const SUPPORTED: &[&str] = &[
    "ext2",
    "ext3",
    "ext4",
    "jbd",
    "xfs",
    "btrfs",
    "LVM2_member",
    "swap",
    "swsuspend",
    "crypto_LUKS",
    "ntfs",
    "vfat",
    "exfat",
    "iso9660",
    "udf",
    "BitLocker",
    "apfs",
    "hfs",
    "hfsplus",
    "f2fs",
    "erofs",
    "nilfs2",
    "cramfs",
    "squashfs",
    "squashfs3",
    "romfs",
    "jfs",
    "reiserfs",
    "reiser4",
    "zfs_member",
    "linux_raid_member",
    "bcache",
];

#[test]
fn blkid_corpus_found_and_named_at_an_offset() {
    let Some(corpus) = imgcheck_testdata::corpus_dir() else {
        println!("skipped: no corpus at ../shared/corpus");
        return;
    };
    if Command::new("xz").arg("--version").output().is_err() {
        println!("skipped: no xz binary to decompress the corpus");
        return;
    }
    let dir = corpus.join("blkid-fs");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_suffix(".expected")
                .map(String::from)
        })
        .collect();
    names.sort();
    let (mut named, mut misnamed, mut other_quiet, mut other_claimed) =
        (0, Vec::new(), 0, Vec::new());
    const AT: usize = 3 << 20;
    for n in &names {
        let expected = std::fs::read_to_string(dir.join(format!("{n}.expected"))).unwrap();
        let Some(kind) = expected.lines().find_map(|l| l.strip_prefix("ID_FS_TYPE=")) else {
            continue;
        };
        let out = Command::new("xz")
            .arg("-dc")
            .arg(dir.join(format!("{n}.img.xz")))
            .output()
            .unwrap();
        assert!(out.status.success(), "{n}: xz failed");
        let img = out.stdout;
        let alone = identify_at(&BytesReader::new(img.clone()), 0).map(|s| s.kind);
        let end_anchored = expected.contains("ID_FS_VERSION=0.90.0");
        let mut disk = vec![0u8; AT + img.len() + (1 << 20)];
        disk[AT..AT + img.len()].copy_from_slice(&img);
        let r = BytesReader::new(disk);
        let got = identify_at(&r, AT as u64).map(|s| s.kind);
        if SUPPORTED.contains(&kind) {
            let rec = scan(&r, 512, &ScanLimits::default());
            let found = rec
                .found
                .iter()
                .find(|f| f.start == AT as u64)
                .map(|f| f.signature.kind);
            let at_offset = end_anchored || (got == Some(kind) && found == Some(kind));
            if alone == Some(kind) && at_offset {
                named += 1;
            } else {
                misnamed.push(format!(
                    "{n}: blkid {kind}, alone {alone:?}, identify {got:?}, scan {found:?}"
                ));
            }
        } else if let Some(k) = got.or(alone) {
            other_claimed.push(format!("{n}: blkid {kind}, we say {k}"));
        } else {
            other_quiet += 1;
        }
    }
    println!(
        "supported kinds: {named} found and named as blkid names them, {} not",
        misnamed.len()
    );
    println!(
        "other kinds: {other_quiet} left unnamed, {} claimed: {other_claimed:?}",
        other_claimed.len()
    );
    assert!(misnamed.is_empty(), "{misnamed:#?}");
    assert!(other_claimed.is_empty(), "{other_claimed:#?}");
}

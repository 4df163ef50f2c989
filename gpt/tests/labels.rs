//! Labels other than MBR and GPT are named as blkid names them, never
//! "no partition table": on labels made by parted and fdisk
//! (testdata/scripts/layout.sh), on util-linux's own test images when the
//! public-image cache holds them, and never on a disk that has none.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

use imgcheck_core::{BytesReader, FileReader, Severity};
use imgcheck_gpt::{Scheme, analyze, label};

fn load(rel: &str) -> BytesReader {
    BytesReader::new(std::fs::read(imgcheck_testdata::fixture(rel)).unwrap())
}

/// (fixture, blkid PTTYPE, partitions listed (start, size) in bytes)
type Made = (&'static str, &'static str, &'static [(u64, u64)]);

const MADE: &[Made] = &[
    // parted mkpart 1MiB 2MiB, 2MiB 3MiB.
    (
        "layout/label-mac.img",
        "mac",
        &[(1 << 20, 1 << 20), (2 << 20, 1 << 20)],
    ),
    ("layout/label-dvh.img", "sgi", &[]),
    ("layout/label-atari.img", "atari", &[]),
    // fdisk's default Sun layout on 4 heads × 32 sectors (sfdisk -d: 0+5376, 5376+2816).
    (
        "layout/label-sun.img",
        "sun",
        &[(0, 5376 * 512), (5376 * 512, 2816 * 512)],
    ),
    // fdisk's nested disklabel in slice 1 (LBA 2048): a at the slice start.
    (
        "layout/label-bsd-slice.img",
        "bsd",
        // fdisk made "+1M" 2049 sectors.
        &[(0, 2049 * 512), (0, 6144 * 512)],
    ),
];

#[test]
fn labels_made_by_parted_and_fdisk_are_named() {
    for (rel, scheme, parts) in MADE {
        let r = load(rel);
        let l = label::detect(&r).unwrap_or_else(|| panic!("{rel}: no label"));
        assert_eq!(l.scheme, *scheme, "{rel}");
        let got: Vec<(u64, u64)> = l
            .partitions
            .iter()
            .filter(|p| !p.whole)
            .map(|p| (p.start, p.size))
            .collect();
        assert_eq!(got, *parts, "{rel}");
        let a = analyze(&r);
        assert_eq!(a.tables.scheme, Scheme::None, "{rel}");
        assert_eq!(a.partitions.len(), parts.len(), "{rel}");
        let f = a
            .findings
            .iter()
            .find(|f| f.code == "label.detected")
            .unwrap_or_else(|| panic!("{rel}: {:?}", a.findings));
        assert_eq!(f.severity, Severity::Info);
        assert!(
            a.findings.iter().all(|f| f.severity < Severity::Warning),
            "{rel}: {:?}",
            a.findings
        );
        // A named label is not a lost table.
        assert!(a.recovery.is_none(), "{rel}");
    }
}

#[test]
fn a_damaged_checksum_is_no_sun_or_sgi_label() {
    for rel in ["layout/label-sun.img", "layout/label-dvh.img"] {
        let mut d = std::fs::read(imgcheck_testdata::fixture(rel)).unwrap();
        d[100] ^= 0x40;
        assert!(label::detect(&BytesReader::new(d)).is_none(), "{rel}");
    }
}

#[test]
fn no_label_on_disks_that_have_none() {
    let mut checked = 0;
    for dir in ["disk", "gpt", "ext4", "fat", "xfs", "lvm2"] {
        for rel in imgcheck_testdata::list(dir) {
            if rel.ends_with(".qcow2") {
                continue;
            }
            let r = FileReader::open(imgcheck_testdata::fixture(&rel)).unwrap();
            assert!(
                label::detect(&r).is_none(),
                "{rel}: {:?}",
                label::detect(&r)
            );
            checked += 1;
        }
    }
    assert!(checked > 30, "{checked}");
}

/// util-linux's tests/ts/blkid/images-pt, from the public-image cache.
#[test]
fn util_linux_label_images_are_named_as_blkid_names_them() {
    let dir = imgcheck_testdata::root()
        .join("../../cache/public-images/util-linux+util-linux/tests/ts/blkid/images-pt");
    if !dir.is_dir() {
        println!("SKIPPED: no public-image cache at {}", dir.display());
        eprintln!("SKIPPED: no public-image cache at {}", dir.display());
        return;
    }
    for (file, scheme) in [
        ("sun.img", "sun"),
        ("sgi.img", "sgi"),
        ("bsd.img", "bsd"),
        ("atari-primary.img", "atari"),
        ("atari-xgm.img", "atari"),
        ("dasd-cdl.img", "dasd"),
        ("dasd-ldl.img", "dasd"),
    ] {
        let r = FileReader::open(dir.join(file)).unwrap();
        let l = label::detect(&r).unwrap_or_else(|| panic!("{file}: no label"));
        assert_eq!(l.scheme, scheme, "{file}");
    }
    // The BSD slice imaged alone: offsets relative to slice c (LBA 7680
    // of its disk), as in dos+bsd.img where blkid lists e and f.
    let r = FileReader::open(dir.join("bsd.img")).unwrap();
    let l = label::detect(&r).unwrap();
    let starts: Vec<u64> = l
        .partitions
        .iter()
        .filter(|p| !p.whole)
        .map(|p| p.start / 512)
        .collect();
    assert_eq!(starts, [7936 - 7680, 12544 - 7680]);
}

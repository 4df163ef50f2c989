//! Sector 0 ends in 0x55AA on an MBR disk and on a bare NTFS, FAT or
//! exFAT volume alike: the table layer reads the evidence as the kernel
//! and libblkid do (testdata/scripts/layout.sh and fat.sh made the images
//! with mkntfs, mkfs.exfat, mkfs.vfat, mkfs.ext2 + sfdisk and xorriso).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

use imgcheck_core::{BytesReader, Severity};
use imgcheck_gpt::{Analysis, Scheme, analyze};

fn load(rel: &str) -> Vec<u8> {
    std::fs::read(imgcheck_testdata::fixture(rel)).unwrap()
}

fn warnings(a: &Analysis) -> Vec<String> {
    a.findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .map(|f| format!("{}: {}", f.code, f.message))
        .collect()
}

/// A bare volume: no table, the volume named, one info finding, no
/// warning, no partition, no lost-partition scan.
fn assert_bare(rel: &str, kind: &str) {
    let a = analyze(&BytesReader::new(load(rel)));
    assert_eq!(a.tables.scheme, Scheme::None, "{rel}");
    let n = a.tables.not_a_table.as_ref().expect(rel);
    assert_eq!(n.volume.as_ref().map(|v| v.kind), Some(kind), "{rel}");
    assert!(warnings(&a).is_empty(), "{rel}: {:?}", warnings(&a));
    assert!(a.partitions.is_empty(), "{rel}");
    assert!(a.recovery.is_none(), "{rel}: scanned for lost partitions");
    let codes: Vec<&str> = a.findings.iter().map(|f| &*f.code).collect();
    assert_eq!(codes, ["mbr.not_a_table"], "{rel}");
}

#[test]
fn bare_boot_sectors_are_volumes_not_tables() {
    assert_bare("layout/ntfs-bare.img", "ntfs");
    assert_bare("layout/exfat-bare.img", "exfat");
    for f in imgcheck_testdata::list("fat") {
        assert_bare(&f, "vfat");
    }
}

#[test]
fn boot_code_in_the_entry_area_does_not_make_a_table() {
    // What Windows' NTFS boot code does to the bytes at 0x1BE: entries
    // that run past the disk and overlap. The BPB still validates.
    let mut d = load("layout/ntfs-bare.img");
    for (i, b) in d[0x1BE..0x1FE].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37) & 0x7F;
    }
    d[0x1BE] = 0x80;
    let a = analyze(&BytesReader::new(d));
    assert_eq!(a.tables.scheme, Scheme::None);
    assert!(
        a.findings
            .iter()
            .all(|f| !f.code.starts_with("mbr.partition")),
        "{:?}",
        warnings(&a)
    );
}

#[test]
fn stray_mbr_in_front_of_a_superblock_is_not_a_table() {
    let a = analyze(&BytesReader::new(load("layout/ext2-stray.img")));
    assert_eq!(a.tables.scheme, Scheme::None);
    let n = a.tables.not_a_table.as_ref().unwrap();
    assert_eq!(n.volume.as_ref().map(|v| v.kind), Some("ext2"));
    assert!(n.reason.contains("runs past the end"), "{}", n.reason);
    assert!(warnings(&a).is_empty(), "{:?}", warnings(&a));
    assert!(a.findings.iter().any(|f| f.code == "mbr.not_a_table"));
}

#[test]
fn an_mbr_whose_entries_fit_stays_a_table() {
    // The same stray sector on a disk large enough for its entries is a
    // table whose partitions are empty, not a filesystem.
    let mut d = load("layout/ext2-stray.img");
    d.resize(1 << 30, 0);
    let a = analyze(&BytesReader::new(d));
    assert_eq!(a.tables.scheme, Scheme::Mbr);
    assert!(a.tables.not_a_table.is_none());
    assert_eq!(a.partitions.len(), 2);
}

#[test]
fn a_bad_status_byte_without_a_volume_is_refused() {
    let mut d = std::fs::read(imgcheck_testdata::fixture("disk/dos-logical.img")).unwrap();
    d[0x1BE] = 0x12;
    let a = analyze(&BytesReader::new(d));
    assert_eq!(a.tables.scheme, Scheme::None);
    let f = a.findings.iter().find(|f| f.code == "mbr.refused").unwrap();
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.hint.as_ref().is_some_and(|h| !h.writes));
}

#[test]
fn an_isohybrid_mbr_maps_the_iso_by_design() {
    let a = analyze(&BytesReader::new(load("layout/hybrid.iso")));
    assert_eq!(a.tables.scheme, Scheme::Mbr);
    assert_eq!(a.tables.isohybrid.as_ref().map(|s| s.kind), Some("iso9660"));
    let f = a
        .findings
        .iter()
        .find(|f| f.code == "mbr.isohybrid")
        .unwrap();
    assert_eq!(f.severity, Severity::Info);
    assert!(!f.message.contains("reach past"), "{}", f.message);
    assert!(warnings(&a).is_empty(), "{:?}", warnings(&a));

    // The first 64 KiB of it: said to be a sample, never "missing".
    let a = analyze(&BytesReader::new(load("layout/hybrid-head.iso")));
    let f = a
        .findings
        .iter()
        .find(|f| f.code == "mbr.isohybrid")
        .unwrap();
    assert!(f.message.contains("reach past the end"), "{}", f.message);
    assert!(warnings(&a).is_empty(), "{:?}", warnings(&a));
}

/// xorriso's isohybrid with -isohybrid-gpt-basdat (layout.sh's
/// hybrid-efi.iso): a classic MBR the kernel and blkid read (PTTYPE dos)
/// and a GPT beside it whose entries overlap the ISO by design. The MBR
/// is the table; the GPT is said, never judged as a damaged disk table.
#[test]
fn an_isohybrid_iso_with_a_gpt_for_uefi_is_read_as_its_mbr() {
    let a = analyze(&BytesReader::new(load("layout/hybrid-efi.iso")));
    assert_eq!(a.tables.scheme, Scheme::Mbr);
    assert!(a.tables.primary.is_some(), "the GPT is there");
    let f = a
        .findings
        .iter()
        .find(|f| f.code == "gpt.isohybrid")
        .unwrap();
    assert_eq!(f.severity, Severity::Info);
    assert!(warnings(&a).is_empty(), "{:?}", warnings(&a));
    assert_eq!(a.partitions.len(), 2);
}

//! Lost partitions found again: the done-when case (both GPT headers
//! zeroed on a disk holding ext4, XFS, swap and an LVM2 PV), backup
//! superblocks, and the bounds of the scan.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

mod common;
use common::{Img, codes};
use imgcheck_core::BytesReader;
use imgcheck_gpt::{ScanLimits, analyze_with, scan};
use std::process::Command;

const LVM_AT: usize = 41 << 20;

/// The gpt-fs fixture with util-linux's LVM2 PV image copied into
/// partition 4 (pvcreate needs a block device, so it cannot be made here).
fn gpt_fs_with_lvm() -> Option<Img> {
    let Some(corpus) = imgcheck_testdata::corpus_dir() else {
        println!("skipped the LVM2 member: no corpus at ../shared/corpus");
        return None;
    };
    let out = Command::new("xz")
        .arg("-dc")
        .arg(corpus.join("blkid-fs/lvm2.img.xz"))
        .output()
        .ok();
    let Some(out) = out.filter(|o| o.status.success()) else {
        println!("skipped the LVM2 member: no xz binary");
        return None;
    };
    let mut i = Img::fixture("gpt-fs.img");
    i.put(LVM_AT, &out.stdout);
    Some(i)
}

fn zero_both_headers(i: &mut Img) {
    i.data[512..1024].fill(0);
    let at = i.last_lba() as usize * 512;
    i.data[at..at + 512].fill(0);
}

/// Headers and entry arrays gone: only the signatures are left.
fn zero_both_tables(i: &mut Img) {
    i.data[..34 * 512].fill(0);
    let n = i.data.len();
    i.data[n - 33 * 512..].fill(0);
}

#[test]
fn both_tables_zeroed_partitions_proposed_back_exactly_from_signatures() {
    let (mut img, with_lvm) = match gpt_fs_with_lvm() {
        Some(i) => (i, true),
        None => (Img::fixture("gpt-fs.img"), false),
    };
    let original: Vec<(u64, u64)> = img
        .analyze()
        .partitions
        .iter()
        .map(|p| (p.start, p.size))
        .collect();
    zero_both_tables(&mut img);
    let a = img.analyze();
    assert_eq!(a.tables.scheme.as_str(), "none");
    assert!(codes(&a).contains(&"gpt.recovery.partitions_found".to_string()));
    let rec = a.recovery.unwrap();
    assert!(rec.surviving_entries.is_none());
    let got: Vec<(u64, u64, &str, &str)> = rec
        .proposed
        .iter()
        .map(|p| (p.start, p.size, p.fs.as_str(), p.size_from.as_str()))
        .collect();
    let mut want = vec![
        (original[0].0, original[0].1, "ext4", "filesystem"),
        (original[1].0, original[1].1, "xfs", "filesystem"),
        (original[2].0, original[2].1, "swap", "filesystem"),
    ];
    if with_lvm {
        want.push((original[3].0, original[3].1, "LVM2_member", "filesystem"));
    }
    assert_eq!(got, want);
}

#[test]
fn both_headers_zeroed_partitions_proposed_back_exactly() {
    let (mut img, with_lvm) = match gpt_fs_with_lvm() {
        Some(i) => (i, true),
        None => (Img::fixture("gpt-fs.img"), false),
    };
    let original: Vec<(u64, u64)> = img
        .analyze()
        .partitions
        .iter()
        .map(|p| (p.start, p.size))
        .collect();
    zero_both_headers(&mut img);
    let a = img.analyze();
    assert!(a.partitions.is_empty());
    assert!(codes(&a).contains(&"gpt.headers.missing".to_string()));
    assert!(codes(&a).contains(&"gpt.recovery.partitions_found".to_string()));
    assert!(codes(&a).contains(&"gpt.recovery.entries_survive".to_string()));
    let rec = a.recovery.unwrap();
    let got: Vec<(u64, u64, &str)> = rec
        .proposed
        .iter()
        .map(|p| (p.start, p.size, p.fs.as_str()))
        .collect();
    let mut want = vec![
        (original[0].0, original[0].1, "ext4"),
        (original[1].0, original[1].1, "xfs"),
        (original[2].0, original[2].1, "swap"),
    ];
    // Without the corpus the fourth partition holds no signature, but its
    // entry survives in the array: it is still proposed, contents unknown.
    want.push((
        original[3].0,
        original[3].1,
        if with_lvm { "LVM2_member" } else { "unknown" },
    ));
    assert_eq!(got, want);
    assert!(rec.sfdisk_script.starts_with("label: gpt\n"));
    // The entry array outlived the headers: names and GUIDs come back too.
    assert_eq!(
        rec.surviving_entries
            .as_ref()
            .map(|(lba, e)| (*lba, e.len())),
        Some((2, 4))
    );
    assert!(rec.sfdisk_script.contains(
        "start=2048, size=32768, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=01234567-89AB-CDEF-0123-4567890ABC21, name=\"root\""
    ));
    if with_lvm {
        assert!(
            rec.sfdisk_script
                .contains("start=83968, size=20480, type=E6D6D379-F507-44C2-A23C-238F2A3DF928")
        );
    }
}

#[test]
fn sfdisk_accepts_the_proposed_script_and_recreates_the_table() {
    let Some(mut img) = gpt_fs_with_lvm() else {
        return;
    };
    if Command::new("sfdisk").arg("--version").output().is_err() {
        println!("skipped: no sfdisk");
        return;
    }
    let want = img
        .analyze()
        .partitions
        .iter()
        .map(|p| (p.start, p.size))
        .collect::<Vec<_>>();
    zero_both_headers(&mut img);
    let script = img.analyze().recovery.unwrap().sfdisk_script;
    let dir = tempfile::tempdir().unwrap();
    let path = img.write_to(dir.path(), "disk.img");
    let mut child = Command::new("sfdisk")
        .arg("-q")
        .arg(&path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let a = imgcheck_gpt::analyze(&imgcheck_core::FileReader::open(&path).unwrap());
    assert_eq!(
        a.partitions
            .iter()
            .map(|p| (p.start, p.size))
            .collect::<Vec<_>>(),
        want
    );
}

#[test]
fn ext4_found_from_its_backup_superblock_when_the_first_is_zeroed() {
    let mut img = Img::fixture("gpt-fs.img");
    zero_both_headers(&mut img);
    // Zero the whole first MiB of partition 1: the primary superblock is gone.
    img.data[1 << 20..2 << 20].fill(0);
    let rec = img.analyze().recovery.unwrap();
    let p = &rec.proposed[0];
    assert_eq!(
        (p.start, p.size, p.fs.as_str()),
        (1 << 20, 16 << 20, "ext4")
    );
    assert!(
        rec.found[0].via.contains("backup superblock of group 1"),
        "{}",
        rec.found[0].via
    );
}

#[test]
fn whole_disk_filesystem_is_not_a_lost_table() {
    let img = Img::fixture("gpt-fs.img");
    let fs = img.data[1 << 20..17 << 20].to_vec();
    let a = imgcheck_gpt::analyze(&BytesReader::new(fs));
    assert_eq!(a.tables.scheme.as_str(), "none");
    assert!(
        a.findings
            .iter()
            .all(|f| f.severity == imgcheck_core::Severity::Info),
        "{:?}",
        a.findings
    );
    assert!(a.recovery.is_none(), "no scan for a whole-disk filesystem");
}

#[test]
fn scan_is_bounded_by_probe_count() {
    let img = Img::fixture("gpt-fs.img");
    let limits = ScanLimits {
        max_probes: 3,
        time: std::time::Duration::from_secs(5),
    };
    let rec = scan(&BytesReader::new(img.data.clone()), 512, &limits);
    assert_eq!(rec.probes, 3);
    assert!(rec.stopped.is_some());
    let mut z = img.clone();
    zero_both_headers(&mut z);
    let a = analyze_with(&BytesReader::new(z.data), &limits);
    assert!(codes(&a).contains(&"gpt.recovery.scan_incomplete".to_string()));
}

#[test]
fn gpt_4k_headers_zeroed_entries_bring_partitions_back() {
    let mut img = Img::fixture("gpt-4k.img");
    let want: Vec<(u64, u64, String)> = img
        .analyze()
        .partitions
        .iter()
        .map(|p| (p.start, p.size, p.name.clone()))
        .collect();
    img.data[4096..8192].fill(0);
    let n = img.data.len();
    img.data[n - 4096..].fill(0);
    let a = img.analyze();
    // The protective MBR's size still tells 4096-byte sectors.
    assert_eq!(a.tables.sector.bytes, 4096);
    let hint = common::finding(&a, "gpt.recovery.partitions_found")
        .hint
        .as_ref()
        .unwrap()
        .to_string();
    assert!(hint.contains("losetup -b 4096 -f --show {disk}"), "{hint}");
    let rec = a.recovery.unwrap();
    let got: Vec<(u64, u64, String)> = rec
        .proposed
        .iter()
        .map(|p| (p.start, p.size, p.name.clone().unwrap_or_default()))
        .collect();
    assert_eq!(got, want);
    assert!(
        rec.sfdisk_script.contains("sector-size: 4096")
            && rec.sfdisk_script.contains("start=256, size=4096"),
        "{}",
        rec.sfdisk_script
    );
}

#[test]
fn zeroed_mbr_partitions_found_by_signature() {
    let mut img = Img::fixture("mbr-4k.img");
    img.data[..512].fill(0);
    let a = img.analyze();
    assert_eq!(a.tables.scheme.as_str(), "none");
    let f = common::finding(&a, "gpt.recovery.partitions_found");
    // Nothing announced a table any more: a warning, not an error.
    assert_eq!(f.severity, imgcheck_core::Severity::Warning);
    let got: Vec<(u64, u64, &str)> = a
        .recovery
        .as_ref()
        .unwrap()
        .proposed
        .iter()
        .map(|p| (p.start, p.size, p.fs.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![(1 << 20, 8 << 20, "ext4"), (9 << 20, 8 << 20, "swap")]
    );
}

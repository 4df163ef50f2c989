//! Zeros that are not losses, and losses that are not aligned (issue 17;
//! an independent attack's F1-F5, session 6), on filesystems made and
//! damaged by real tools (testdata/scripts/lost-zeros.sh). The truth is
//! what debugfs `icheck`/`ncheck` computed on the pristine filesystem for
//! the blocks the script then zeroed, recorded in lost-zeros.tsv.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

use imgcheck::layout::{Confidence, LossEvent};
use imgcheck::options::Options;
use imgcheck::report::ImageReport;
use imgcheck_core::OwnerKind;
use imgcheck_testdata::fixture;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

fn report(path: &Path, scan: bool) -> ImageReport {
    let opts = Options {
        scan,
        image_path: path.to_path_buf(),
        ..Options::default()
    };
    imgcheck::inspect_image(path, None, &opts).unwrap()
}

/// The damaged image's report under `--scan`, once for all tests.
fn damaged() -> &'static ImageReport {
    static R: OnceLock<ImageReport> = OnceLock::new();
    R.get_or_init(|| report(&fixture("lost/lost-zeros.img"), true))
}

/// One damage of the manifest: the disk bytes zeroed and the owners
/// debugfs named for them (inode -> path).
fn damage(name: &str) -> ((u64, u64), BTreeMap<u32, String>) {
    let text =
        std::fs::read_to_string(imgcheck_testdata::root().join("fixtures/lost/lost-zeros.tsv"))
            .unwrap();
    let mut range = None;
    let mut owners = BTreeMap::new();
    for l in text.lines() {
        let f: Vec<&str> = l.split('\t').collect();
        match (f[0], f.get(1)) {
            ("zeroed", Some(&n)) if n == name => {
                range = Some((f[2].parse().unwrap(), f[3].parse().unwrap()));
            }
            ("owner", Some(&n)) if n == name => {
                owners.insert(f[2].parse().unwrap(), f[3].to_string());
            }
            _ => {}
        }
    }
    (range.unwrap(), owners)
}

fn event_over(r: &ImageReport, (a, b): (u64, u64)) -> &LossEvent {
    r.lost
        .iter()
        .find(|e| e.start < b && e.end > a)
        .unwrap_or_else(|| {
            panic!(
                "no loss event over {a}..{b}: {:?}",
                r.lost
                    .iter()
                    .map(|e| (e.start, e.end, &e.evidence))
                    .collect::<Vec<_>>()
            )
        })
}

fn message_at(r: &ImageReport, at: u64) -> String {
    r.findings()
        .into_iter()
        .find(|f| f.code == "layout.lost" && f.offset == at)
        .map(|f| f.message.clone())
        .unwrap_or_else(|| panic!("no layout.lost finding at {at}"))
}

/// F1: WAL segments written as zeros on the mounted filesystem, the
/// current one zero from a 1 MiB boundary to its end, then free space:
/// the zeros line up with mballoc's placement, not with a storage object.
#[test]
fn zero_filled_wal_segments_on_a_clean_fs_are_no_loss() {
    let r = report(&fixture("ext4/wal-zeros.img"), true);
    let lost: Vec<_> = r
        .findings()
        .into_iter()
        .filter(|f| f.code.starts_with("layout.lost"))
        .map(|f| f.message.clone())
        .collect();
    assert!(lost.is_empty(), "{lost:?}");
    assert!(r.lost.is_empty());
}

/// F2: one zeroed 4 KiB directory block beside the journal's
/// never-written tail is a 4 KiB loss of that directory, not a loss of
/// the journal's zeros.
#[test]
fn a_zeroed_directory_block_beside_the_journal_is_4_kib_of_that_directory() {
    let r = damaged();
    let (range, owners) = damage("dirblock");
    let ev = event_over(r, range);
    assert_eq!((ev.start, ev.end), range, "{:?}", ev.evidence);
    assert_eq!(ev.confidence, Confidence::Certain);
    let ours: BTreeMap<u32, String> = ev
        .files
        .iter()
        .map(|f| (f.inode, f.path.clone().unwrap_or_default()))
        .collect();
    assert_eq!(ours, owners, "imgcheck vs debugfs icheck/ncheck");
    assert!(ev.files[0].what == [OwnerKind::Directory]);
    assert!(ev.structures.is_empty(), "{:?}", ev.structures);
    let m = message_at(r, range.0);
    assert!(!m.contains("journal"), "{m}");
    assert!(
        m.contains("(4 KiB)") && m.contains("4 KiB of directory blocks of /etc destroyed"),
        "{m}"
    );
}

/// F5: 1 MiB of zeros 12 KiB past a 1 MiB boundary over small files'
/// data, no directory block in it: a span through files whose data the
/// zeros stop inside, named as debugfs names them.
#[test]
fn an_unaligned_mib_of_zeros_over_small_files_names_them() {
    let r = damaged();
    let (range, owners) = damage("span");
    assert!(owners.len() > 50, "{}", owners.len());
    let ev = event_over(r, range);
    assert_eq!(ev.confidence, Confidence::Likely);
    assert!(ev.start >= range.0 && ev.end <= range.1);
    assert!(ev.evidence[0].starts_with("span"), "{:?}", ev.evidence);
    let ours: BTreeMap<u32, String> = ev
        .files
        .iter()
        .map(|f| (f.inode, f.path.clone().unwrap_or_default()))
        .collect();
    assert_eq!(ours, owners, "imgcheck vs debugfs icheck/ncheck");
    let text = imgcheck::layout::lost_files_text(&r.lost);
    for p in owners.values() {
        assert!(text.contains(&format!("{p}\t")), "{p} not in --lost-files");
    }
}

/// F3: one zeroed inode-table block (16 inodes of 256 bytes) is a loss of
/// the 16 files its slots held, named through the directory entries that
/// survive, as debugfs ncheck names them; in --lost-files too.
#[test]
fn a_zeroed_inode_table_block_names_the_files_it_held() {
    for scan in [true, false] {
        let local;
        let r = if scan {
            damaged()
        } else {
            local = report(&fixture("lost/lost-zeros.img"), false);
            &local
        };
        let (range, owners) = damage("itable");
        let ev = event_over(r, range);
        assert_eq!((ev.start, ev.end), range, "scan {scan}");
        assert_eq!(ev.confidence, Confidence::Certain);
        let (a, b) = (
            *owners.keys().next().unwrap(),
            *owners.keys().last().unwrap(),
        );
        assert_eq!(ev.inodes_lost, [(u64::from(a), u64::from(b))]);
        let ours: BTreeMap<u32, String> = ev
            .files
            .iter()
            .map(|f| (f.inode, f.path.clone().unwrap_or_default()))
            .collect();
        assert_eq!(ours, owners, "imgcheck vs debugfs ncheck");
        let m = message_at(r, range.0);
        assert!(
            m.contains(&format!(
                "inode table of group 0 zeroed: 16 file(s) lost (inodes {a}..{b})"
            )),
            "{m}"
        );
        let text = imgcheck::layout::lost_files_text(&r.lost);
        for p in owners.values() {
            assert!(text.contains(&format!("{p}\t")), "{p} not in --lost-files");
        }
    }
}

/// F4: a zeroed extent-tree leaf names the file whose tree it was.
#[test]
fn a_zeroed_extent_leaf_names_its_file() {
    let r = damaged();
    let (range, owners) = damage("leaf");
    let ev = event_over(r, range);
    assert_eq!((ev.start, ev.end), range);
    let ours: BTreeMap<u32, String> = ev
        .files
        .iter()
        .map(|f| (f.inode, f.path.clone().unwrap_or_default()))
        .collect();
    assert_eq!(ours, owners, "imgcheck vs debugfs icheck/ncheck");
    let m = message_at(r, range.0);
    let p = owners.values().next().unwrap();
    assert!(
        m.contains(&format!("extent-tree block of {p} destroyed")),
        "{m}"
    );
}

/// F2's other half: zeros in the journal are a loss where its live log
/// must hold structure. A crash image (copied mounted after sync, so it
/// needs recovery) whose block at s_start was zeroed: the replay's first
/// descriptor is gone, a certain loss, with and without --scan.
#[test]
fn a_zeroed_live_log_start_is_a_loss_the_journal_tail_is_not() {
    let path = fixture("lost/journal-live.img");
    let text =
        std::fs::read_to_string(imgcheck_testdata::root().join("fixtures/lost/journal-live.tsv"))
            .unwrap();
    let f: Vec<&str> = text.lines().next().unwrap().split('\t').collect();
    let range: (u64, u64) = (f[2].parse().unwrap(), f[3].parse().unwrap());
    for scan in [true, false] {
        let r = report(&path, scan);
        assert_eq!(r.lost.len(), 1, "scan {scan}: {:?}", r.lost);
        let ev = &r.lost[0];
        assert_eq!((ev.start, ev.end), range, "scan {scan}");
        assert_eq!(ev.confidence, Confidence::Certain);
        assert!(
            ev.files
                .iter()
                .any(|f| f.inode == 8 && f.what == [OwnerKind::JournalLog]),
            "{:?}",
            ev.files
        );
        let m = message_at(&r, range.0);
        assert!(m.contains("journal live log"), "{m}");
    }
}

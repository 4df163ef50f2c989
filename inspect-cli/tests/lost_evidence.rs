//! Issue 17's evidence rules (an independent attack, session 8) on
//! filesystems made and damaged by real tools
//! (testdata/scripts/lost-evidence.sh): zeros that files hold by content
//! are no loss; zeros the shape of the run or the structure they hit
//! prove lost are, named as debugfs names them, computed here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

use imgcheck::layout::{Confidence, LossEvent};
use imgcheck::options::Options;
use imgcheck::report::{ImageReport, Verdict};
use imgcheck_core::{OwnerKind, Severity};
use imgcheck_testdata::fixture;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn report(path: &Path, scan: bool) -> ImageReport {
    let opts = Options {
        scan,
        image_path: path.to_path_buf(),
        ..Options::default()
    };
    imgcheck::inspect_image(path, None, &opts).unwrap()
}

fn debugfs(img: &Path, cmd: &str) -> String {
    let out = Command::new("debugfs")
        .arg("-R")
        .arg(cmd)
        .arg(img)
        .output()
        .expect("debugfs (e2fsprogs) is needed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The inodes debugfs `icheck` finds for blocks `blocks`.
fn icheck(img: &Path, blocks: impl Iterator<Item = u64>) -> Vec<u32> {
    let blocks: Vec<String> = blocks.map(|b| b.to_string()).collect();
    let mut out: Vec<u32> = Vec::new();
    for chunk in blocks.chunks(32) {
        for l in debugfs(img, &format!("icheck {}", chunk.join(" ")))
            .lines()
            .skip(1)
        {
            if let Some(i) = l.split('\t').nth(1).and_then(|f| f.parse().ok()) {
                out.push(i);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Inode -> first path, as debugfs `ncheck` names them.
fn ncheck(img: &Path, inodes: &[u32]) -> BTreeMap<u32, String> {
    let list: Vec<String> = inodes.iter().map(|i| i.to_string()).collect();
    let mut out = BTreeMap::new();
    // debugfs parses at most a few dozen arguments per command.
    for chunk in list.chunks(32) {
        for l in debugfs(img, &format!("ncheck {}", chunk.join(" ")))
            .lines()
            .skip(1)
        {
            let mut f = l.splitn(2, '\t');
            if let (Some(i), Some(p)) = (f.next().and_then(|i| i.parse().ok()), f.next()) {
                out.entry(i).or_insert_with(|| p.replace("//", "/"));
            }
        }
    }
    out
}

/// The `zeroed` (and `log`) ranges of a manifest.
fn ranges(name: &str, kind: &str) -> Vec<(u64, u64)> {
    let text = std::fs::read_to_string(imgcheck_testdata::root().join("fixtures/lost").join(name))
        .unwrap();
    text.lines()
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|f| f[0] == kind)
        .map(|f| {
            let n = f.len();
            (f[n - 2].parse().unwrap(), f[n - 1].parse().unwrap())
        })
        .collect()
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

fn lost_messages(r: &ImageReport) -> Vec<String> {
    r.findings()
        .into_iter()
        .filter(|f| f.code.starts_with("layout.lost"))
        .map(|f| f.message.clone())
        .collect()
}

fn paths(ev: &LossEvent) -> BTreeMap<u32, String> {
    ev.files
        .iter()
        .map(|f| (f.inode, f.path.clone().unwrap_or_default()))
        .collect()
}

/// F1: a 16 MiB file of zeros, then a file whose first 4 KiB are zeros:
/// one zero run through two files that stops inside the second, which is
/// what the files hold. Nothing supports a loss (no object boundary, no
/// structure, no text): nothing is said, with or without --scan.
#[test]
fn a_file_of_zeros_then_one_that_starts_with_zeros_is_no_loss() {
    let path = fixture("ext4/zero-files.img");
    // The shape, as debugfs sees it: the block before head.bin's first is
    // zeros.bin's last.
    let first: u64 = debugfs(&path, "bmap /data/head.bin 0")
        .trim()
        .parse()
        .unwrap();
    let owners = icheck(&path, [first - 1, first].into_iter());
    let names = ncheck(&path, &owners);
    assert_eq!(
        names.values().cloned().collect::<Vec<_>>(),
        ["/data/zeros.bin", "/data/head.bin"]
    );
    for scan in [true, false] {
        let r = report(&path, scan);
        assert!(
            lost_messages(&r).is_empty(),
            "scan {scan}: {:?}",
            lost_messages(&r)
        );
        assert!(r.lost.is_empty(), "scan {scan}");
    }
}

/// F7: one 1 MiB-aligned MiB holding only whole 64 KiB binary files,
/// zeroed with dd: possibly a loss (files of zeros can fill an object so,
/// rarely), never certain; the files are those debugfs names.
#[test]
fn an_aligned_object_of_whole_files_is_possibly_lost() {
    let path = fixture("lost/object-files.img");
    let range = ranges("object-files.tsv", "zeroed")[0];
    let owners = icheck(&path, (range.0 / 4096)..(range.1 / 4096));
    assert!(owners.len() >= 2, "{owners:?}");
    let truth = ncheck(&path, &owners);
    for scan in [true, false] {
        let r = report(&path, scan);
        let ev = event_over(&r, range);
        assert_eq!((ev.start, ev.end), range, "scan {scan}");
        assert_eq!(ev.confidence, Confidence::Possible, "{:?}", ev.evidence);
        assert_eq!(paths(ev), truth, "imgcheck vs debugfs icheck/ncheck");
        let f = r
            .findings()
            .into_iter()
            .find(|f| f.code == "layout.lost" && f.offset == range.0)
            .unwrap();
        assert_eq!(f.severity, Severity::Warning);
        assert!(f.message.contains("possibly a loss"), "{}", f.message);
    }
}

/// F12: the inode-table block that holds the root directory's inode,
/// zeroed: an error naming group 0's inode table and the root directory.
#[test]
fn a_zeroed_root_inode_is_an_error_naming_the_root_directory() {
    let path = fixture("lost/root-itable.img");
    let range = ranges("root-itable.tsv", "zeroed")[0];
    // debugfs: where inode 2 lives.
    let imap = debugfs(&path, "imap <2>");
    let blk: u64 = imap
        .split("located at block ")
        .nth(1)
        .and_then(|t| t.split(',').next())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!((blk * 4096, blk * 4096 + 4096), range, "{imap}");
    for scan in [true, false] {
        let r = report(&path, scan);
        let ev = event_over(&r, range);
        assert_eq!(ev.confidence, Confidence::Certain, "scan {scan}");
        assert_eq!(ev.inode_tables.len(), 1);
        assert!(ev.inode_tables[0].root);
        assert_eq!(ev.inode_tables[0].groups, (0, 0));
        assert!(
            ev.files
                .iter()
                .any(|f| f.inode == 2 && f.path.as_deref() == Some("/"))
        );
        let f = r
            .findings()
            .into_iter()
            .find(|f| f.code == "layout.lost" && f.offset == range.0)
            .unwrap();
        assert_eq!(f.severity, Severity::Error);
        assert!(
            f.message
                .contains("inode table of group 0 zeroed: the root directory (inode 2) is lost"),
            "{}",
            f.message
        );
    }
}

/// F11: 1 KiB blocks: one zeroed inode-table block (4 inodes of 256
/// bytes) is a loss of the 4 files debugfs names for it, under --scan
/// (whose zero map reads in 4 KiB steps) as without.
#[test]
fn a_zeroed_1k_inode_table_block_is_named_under_scan_too() {
    let path = fixture("lost/itable-1k.img");
    let range = ranges("itable-1k.tsv", "zeroed")[0];
    assert_eq!(range.1 - range.0, 1024);
    let stats = debugfs(&path, "stats");
    let table: u64 = stats
        .split("inode table at ")
        .nth(1)
        .map(|t| {
            t.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .unwrap()
        .parse()
        .unwrap();
    let first = (range.0 / 1024 - table) * 4 + 1;
    let inodes: Vec<u32> = (first..first + 4).map(|i| i as u32).collect();
    // ncheck skips entries whose inode reads as zeros: the names are the
    // directory's entries for those inodes, as debugfs lists them.
    let mut truth = BTreeMap::new();
    for l in debugfs(&path, "ls -p /etc/app").lines() {
        let f: Vec<&str> = l.trim().split('/').collect();
        if let (Some(i), Some(name)) = (f.get(1).and_then(|i| i.parse::<u32>().ok()), f.get(5))
            && inodes.contains(&i)
        {
            truth.insert(i, format!("/etc/app/{name}"));
        }
    }
    assert_eq!(truth.len(), 4, "{truth:?}");
    for scan in [true, false] {
        let r = report(&path, scan);
        let ev = event_over(&r, range);
        assert_eq!((ev.start, ev.end), range, "scan {scan}");
        assert_eq!(ev.confidence, Confidence::Certain);
        assert_eq!(paths(ev), truth, "scan {scan}: imgcheck vs debugfs ncheck");
    }
}

/// F3: a block in the middle of a live journal log (a crash image's one
/// transaction of 30 blocks) zeroed: certain, a logged copy whose tag
/// checksum is not a zero block's; and a zeroed head of the log (its
/// descriptor and the 8 blocks after it) is lost whole, not its first
/// 4 KiB only, though the copies' checksums went with the descriptor.
#[test]
fn zeros_in_the_middle_of_a_live_log_and_over_its_head_are_lost() {
    for name in ["mid", "head"] {
        let path = fixture(&format!("lost/journal-{name}.img"));
        let tsv = format!("journal-{name}.tsv");
        let zeroed = ranges(&tsv, "zeroed")[0];
        // debugfs: the live log runs past the zeros, to its commit.
        let log = ranges(&tsv, "log");
        let dump = debugfs(&path, "logdump");
        assert!(dump.contains("Journal starts at block 1"), "{dump}");
        if name == "mid" {
            assert!(dump.contains("type 2 (commit block)"), "{dump}");
        }
        assert!(log.last().unwrap().1 > zeroed.1);
        for scan in [true, false] {
            let r = report(&path, scan);
            assert_eq!(r.lost.len(), 1, "{name} scan {scan}: {:?}", r.lost);
            let ev = &r.lost[0];
            assert_eq!((ev.start, ev.end), zeroed, "{name} scan {scan}");
            assert_eq!(ev.confidence, Confidence::Certain);
            let j = ev.files.iter().find(|f| f.inode == 8).unwrap();
            assert_eq!(j.bytes(), zeroed.1 - zeroed.0, "{name}: {:?}", j);
            assert!(j.what.contains(&OwnerKind::JournalLog), "{:?}", j.what);
            let f = r
                .findings()
                .into_iter()
                .find(|f| f.code == "layout.lost" && f.offset == zeroed.0)
                .unwrap();
            assert!(f.message.contains("journal live log"), "{}", f.message);
        }
    }
}

/// F8: 4 MiB of the disk zeroed inside an LV's ext4 (a one-PV VG made by
/// lvm2's tools): the disk's zeros mapped through the LV's extents to the
/// LV's bytes and through its filesystem to the files debugfs names on
/// the LV's bytes (FILE?offset=N).
#[test]
fn zeros_on_the_disk_inside_an_lv_name_the_lv_files() {
    let path = fixture("lost/lvm-zero.img");
    let text =
        std::fs::read_to_string(imgcheck_testdata::root().join("fixtures/lost/lvm-zero.tsv"))
            .unwrap();
    let lv_start: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("lv_start\t"))
        .unwrap()
        .parse()
        .unwrap();
    let zeroed = ranges("lvm-zero.tsv", "zeroed")[0];
    let lv = std::path::PathBuf::from(format!("{}?offset={lv_start}", path.display()));
    let owners = icheck(
        &lv,
        ((zeroed.0 - lv_start) / 4096)..((zeroed.1 - lv_start) / 4096),
    );
    // The zeros hold directory blocks too: their files have no name left,
    // for debugfs as for imgcheck.
    let names = ncheck(&lv, &owners);
    let truth: BTreeMap<u32, String> = owners
        .iter()
        .map(|i| (*i, names.get(i).cloned().unwrap_or_default()))
        .collect();
    assert!(
        owners.len() > 300 && names.len() > 50,
        "{} {}",
        owners.len(),
        names.len()
    );
    let r = report(&path, true);
    let evs: Vec<&LossEvent> = r
        .lost
        .iter()
        .filter(|e| e.volume.as_deref() == Some("imgck_zvg/data"))
        .collect();
    assert!(!evs.is_empty(), "{:?}", r.lost);
    let mut ours = BTreeMap::new();
    for ev in &evs {
        let d = ev.disk.unwrap();
        assert!(d.0 >= zeroed.0 && d.1 <= zeroed.1, "{d:?} vs {zeroed:?}");
        assert_eq!(d.0 - ev.start, lv_start);
        ours.extend(paths(ev));
    }
    assert_eq!(ours, truth, "imgcheck vs debugfs icheck/ncheck on the LV");
    let text = imgcheck::layout::lost_files_text(&r.lost);
    for p in truth.values().filter(|p| !p.is_empty()) {
        assert!(
            text.contains(&format!("{p} (LV imgck_zvg/data)\t")),
            "{p} not in --lost-files"
        );
    }
}

/// F15: an htree directory (e2fsck -fD) whose first interior index node
/// is zeroed: the files named in the leaf blocks it led to lost no bytes,
/// but no lookup by name reaches them any more. They are listed (JSON
/// `unreachable`, --lost-files), as the names debugfs lists in the
/// directory (`ls`, linear) less those its surviving index leads to
/// (`htree_dump`).
#[test]
fn files_behind_a_zeroed_htree_node_are_listed_as_unreachable() {
    let path = fixture("lost/htree-node.img");
    let zeroed = ranges("htree-node.tsv", "zeroed")[0];
    let mut all = BTreeMap::new();
    for l in debugfs(&path, "ls -p /big").lines() {
        let f: Vec<&str> = l.trim().split('/').collect();
        if let (Some(i), Some(n)) = (f.get(1).and_then(|i| i.parse::<u32>().ok()), f.get(5))
            && !matches!(*n, "." | "..")
        {
            all.insert(i, format!("/big/{n}"));
        }
    }
    let reached: std::collections::BTreeSet<u32> = debugfs(&path, "htree_dump /big")
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let i = w.next()?.parse::<u32>().ok()?;
            w.next()?.starts_with("0x").then_some(i)
        })
        .collect();
    let truth: BTreeMap<u32, String> = all
        .into_iter()
        .filter(|(i, _)| !reached.contains(i))
        .collect();
    assert!(
        truth.len() > 1000 && reached.len() > 1000,
        "{} {}",
        truth.len(),
        reached.len()
    );
    for scan in [true, false] {
        let r = report(&path, scan);
        let ev = event_over(&r, zeroed);
        assert_eq!((ev.start, ev.end), zeroed, "scan {scan}");
        assert_eq!(ev.confidence, Confidence::Certain);
        let ours: BTreeMap<u32, String> = ev
            .unreachable
            .iter()
            .map(|f| (f.inode, f.path.clone().unwrap_or_default()))
            .collect();
        assert_eq!(
            ours, truth,
            "scan {scan}: imgcheck vs debugfs ls/htree_dump"
        );
        let f = r
            .findings()
            .into_iter()
            .find(|f| f.code == "layout.lost" && f.offset == zeroed.0)
            .unwrap();
        assert!(
            f.message.contains(&format!(
                "{} file(s) no longer resolve by name",
                truth.len()
            )),
            "{}",
            f.message
        );
        let text = imgcheck::layout::lost_files_text(&r.lost);
        assert!(text.contains(&format!("{}\t\n", truth.values().next().unwrap())));
    }
}

/// F8's mapping is the LV's own extents: an old-style snapshot's visible
/// LV reads the origin through its COW store, so its extents on the disk
/// (the COW store's, zeros where no chunk was copied) are not its bytes.
/// lvm2.sh's snapshot fixture, clean: no loss.
#[test]
fn a_cow_snapshot_lv_is_not_mapped_through_its_extents() {
    let r = report(&fixture("lvm2/snapshot.img"), true);
    assert!(lost_messages(&r).is_empty(), "{:?}", lost_messages(&r));
    assert!(r.lost.is_empty());
}

/// Attack session 8 (lost8 F1): a linear directory's leaf block, or its
/// extent-tree block, zeroed: the files named there lose no bytes but
/// every name; they are listed as unreachable, as e2fsck -fy (run here on
/// a copy) calls them unattached, with --scan and without.
#[test]
fn files_whose_names_were_in_a_zeroed_directory_block_are_listed() {
    for n in ["leaf", "etb"] {
        let path = fixture(&format!("lost/dir-{n}.img"));
        let zeroed = ranges(&format!("dir-{n}.tsv"), "zeroed")[0];
        // -n stops at the corrupt block; -y repairs a copy and names them.
        let (_dir, copy) = imgcheck_testdata::copy_into_tempdir(&[&path]);
        let out = Command::new("e2fsck")
            .arg("-fy")
            .arg(&copy[0])
            .output()
            .unwrap();
        let fsck = String::from_utf8_lossy(&out.stdout).into_owned();
        let truth: std::collections::BTreeSet<u32> = fsck
            .lines()
            .filter_map(|l| l.strip_prefix("Unattached inode "))
            .filter_map(|t| t.split_whitespace().next()?.parse().ok())
            .collect();
        assert!(truth.len() > 50, "{n}: {}", truth.len());
        for scan in [true, false] {
            let r = report(&path, scan);
            let ev = event_over(&r, zeroed);
            assert_eq!(ev.confidence, Confidence::Certain, "{n} scan {scan}");
            let ours: std::collections::BTreeSet<u32> =
                ev.unreachable.iter().map(|f| f.inode).collect();
            assert_eq!(ours, truth, "{n} scan {scan}: imgcheck vs e2fsck -fy");
            let text = imgcheck::layout::lost_files_text(&r.lost);
            assert!(text.lines().count() > truth.len(), "{n}");
        }
    }
}

/// lost8 attack F0 (testdata/scripts/lost-free-gap.sh): a clean ext4
/// whose one zero run is a database file's zero-page tail, free blocks,
/// and a file whose 1 MiB zero head ends on a 1 MiB boundary. The run
/// "stops inside" the second file at an object boundary, but free space
/// lies between the two files' zeros: each is a file's own content, not
/// one loss across files. Nothing is said, and the verdict is clean.
#[test]
fn free_space_between_two_files_own_zeros_is_no_loss() {
    let path = fixture("lost/free-gap.img");
    // The shape, as debugfs sees it: db1's last block and headz's first
    // are apart (free blocks between), and headz starts on 1 MiB.
    let db_last: u64 = debugfs(&path, "bmap /pg/db1 31").trim().parse().unwrap();
    let head: u64 = debugfs(&path, "bmap /headz 0").trim().parse().unwrap();
    assert!(head > db_last + 1, "db1 ends at {db_last}, headz at {head}");
    assert_eq!(head % 256, 0, "headz at {head}");
    assert!(icheck(&path, db_last + 1..head).is_empty());
    for scan in [true, false] {
        let r = report(&path, scan);
        assert!(
            lost_messages(&r).is_empty(),
            "scan {scan}: {:?}",
            lost_messages(&r)
        );
        assert!(r.lost.is_empty(), "scan {scan}");
        assert_eq!(r.verdict(), Verdict::Clean, "scan {scan}");
    }
}

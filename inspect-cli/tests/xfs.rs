//! The XFS layer through the whole pipeline: probed over the signature
//! layer, its node, findings, facts, timeline and next steps.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

use imgcheck::options::Options;
use imgcheck::pipeline::inspect_image;
use imgcheck::report::{ImageReport, Node};
use imgcheck_core::{Severity, Space};
use imgcheck_testdata::{Patch, damaged, fixture};
use std::path::Path;

fn report_of(path: &Path) -> ImageReport {
    let opts = Options {
        image_path: path.to_path_buf(),
        ..Options::default()
    };
    inspect_image(path, None, &opts).unwrap()
}

fn xfs_node(r: &ImageReport) -> &Node {
    r.root
        .walk()
        .into_iter()
        .find(|n| n.kind == "xfs")
        .unwrap_or_else(|| {
            panic!(
                "no xfs node in {:#?}",
                r.root.walk().iter().map(|n| &n.kind).collect::<Vec<_>>()
            )
        })
}

#[test]
fn a_clean_xfs_is_checked_not_only_identified() {
    let r = report_of(&fixture("xfs/v5-4k.img"));
    let n = xfs_node(&r);
    assert_eq!(n.layer, Some("xfs"));
    assert!(
        n.title.starts_with("XFS v5, 4 KiB blocks, 64 MiB, 4 AGs"),
        "{}",
        n.title
    );
    assert!(
        r.findings().iter().all(|f| f.severity == Severity::Info),
        "{:#?}",
        r.findings()
    );
    assert_eq!(n.facts.claimed_size, Some(64 << 20));
    assert_eq!(n.facts.superblock.unwrap().offset, 0);
    assert!(
        n.facts
            .identities
            .iter()
            .any(|i| i.value == "5a5a5a5a-0000-0000-0000-000000001901")
    );
    assert!(
        r.timeline
            .iter()
            .any(|e| e.what.contains("root directory created"))
    );
    assert_eq!(r.verdict().as_str(), "clean");
}

#[test]
fn a_dirty_log_is_a_warning_with_read_only_next_steps() {
    let r = report_of(&fixture("xfs/v5-dirty.img"));
    let n = xfs_node(&r);
    assert!(n.title.contains("log dirty"), "{}", n.title);
    assert!(!n.facts.pending.is_empty());
    let f = n
        .findings
        .iter()
        .find(|f| f.code == "xfs.log.dirty")
        .unwrap();
    assert_eq!((f.severity, f.space), (Severity::Warning, Space::Disk));
    assert_eq!(r.verdict().as_str(), "warning");
    assert!(
        r.next_steps.iter().any(|s| s.contains("xfs_logprint -t")),
        "{:#?}",
        r.next_steps
    );
    assert!(
        r.next_steps.iter().all(|s| !s.starts_with("xfs_repair -L")),
        "{:#?}",
        r.next_steps
    );
}

#[test]
fn damage_and_truncation_reach_the_report() {
    // The AGF of AG 0 with a broken CRC, and the image cut short.
    let d = damaged(
        "xfs/v5-4k.img",
        &[
            Patch::Xor {
                offset: 512 + 0xD8,
                mask: 1,
            },
            Patch::Truncate { len: 48 << 20 },
        ],
    );
    let r = report_of(d.path());
    let n = xfs_node(&r);
    let codes: Vec<&str> = n.findings.iter().map(|f| f.code.as_ref()).collect();
    assert!(codes.contains(&"xfs.agf.crc"), "{codes:?}");
    assert!(codes.contains(&"xfs.size.truncated"), "{codes:?}");
    assert_eq!(r.verdict().as_str(), "damaged");
    assert!(
        r.next_steps.iter().any(|s| s.contains("xfs_repair -n")),
        "{:#?}",
        r.next_steps
    );
}

#[test]
fn a_damaged_primary_is_read_through_a_secondary() {
    // The primary's CRC broken: the magic still claims it for XFS; the
    // check reads through AG 1's superblock and says so.
    let d = damaged(
        "xfs/v5-4k.img",
        &[Patch::Xor {
            offset: 0x30,
            mask: 1,
        }],
    );
    let r = report_of(d.path());
    let n = xfs_node(&r);
    let sb = n.facts.superblock.unwrap();
    assert!(sb.backup && sb.group == Some(1), "{sb:?}");
    assert!(
        n.title.contains("using the superblock of AG 1"),
        "{}",
        n.title
    );
    assert!(n.findings.iter().any(|f| f.code == "xfs.sb.primary.crc"));
}

fn deep_report_of(path: &Path) -> ImageReport {
    let opts = Options {
        image_path: path.to_path_buf(),
        quick: false,
        ..Options::default()
    };
    inspect_image(path, None, &opts).unwrap()
}

#[test]
fn a_zeroed_primary_is_the_whole_disk_read_through_a_secondary() {
    // `dd if=/dev/zero bs=512 count=1` over a whole-disk XFS: AG 0's AGF
    // and AGI still say where it starts. AG 1's superblock is a copy in
    // the middle of the filesystem, not a partition to recreate (the
    // report once proposed an sfdisk table starting there), and xfs_repair
    // -n finds the filesystem through it and exits 1.
    let d = damaged(
        "xfs/v5-4k.img",
        &[Patch::Zero {
            offset: 0,
            len: 512,
        }],
    );
    let r = deep_report_of(d.path());
    let n = xfs_node(&r);
    let sb = n.facts.superblock.unwrap();
    assert!(sb.backup && sb.group == Some(1), "{sb:?}");
    assert!(
        r.root.walk().iter().all(|n| n.kind != "partition"),
        "{:#?}",
        r.root.walk().iter().map(|n| &n.kind).collect::<Vec<_>>()
    );
    assert!(
        r.findings()
            .iter()
            .all(|f| f.code != "gpt.recovery.partitions_found"
                && f.hint.as_ref().is_none_or(|h| !h.writes)),
        "{:#?}",
        r.findings()
    );
    assert!(n.findings.iter().any(|f| f.code == "xfs.sb.primary.magic"));
    assert_eq!(r.verdict().as_str(), "damaged");
    // Only the primary is wrong: the secondary's stale counters and its
    // missing realtime inode numbers are not damage.
    let bad: Vec<_> = n
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning && f.code != "xfs.sb.primary.magic")
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn a_bad_primary_crc_at_full_depth_names_only_the_primary() {
    let d = damaged(
        "xfs/v5-4k.img",
        &[Patch::Xor {
            offset: 0x30,
            mask: 1,
        }],
    );
    let r = deep_report_of(d.path());
    let n = xfs_node(&r);
    let bad: Vec<_> = n
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .map(|f| f.code.to_string())
        .collect();
    assert_eq!(bad, ["xfs.sb.primary.crc"], "{:#?}", n.findings);
}

#[test]
fn a_primary_with_a_fuzzed_version_is_checked_not_only_identified() {
    // `xfs_db -x -c "sb 0" -c "fuzz -d versionnum random"` gave 0x93b8:
    // xfs_repair -n says "bad or unsupported version" and exits 1; the
    // report once named it by signature, "not checked", verdict clean.
    // AG 0's AGF magic is cut too, so only the superblock magic claims it.
    let d = damaged(
        "xfs/v5-4k.img",
        &[
            Patch::Bytes {
                offset: 0x64,
                bytes: vec![0x93, 0xb8],
            },
            Patch::Zero {
                offset: 512,
                len: 4,
            },
        ],
    );
    let r = report_of(d.path());
    let n = xfs_node(&r);
    assert_eq!(n.layer, Some("xfs"), "{}", n.title);
    assert!(
        n.findings
            .iter()
            .any(|f| f.code == "xfs.sb.primary.version"),
        "{:#?}",
        n.findings
    );
    assert_eq!(r.verdict().as_str(), "damaged");
}

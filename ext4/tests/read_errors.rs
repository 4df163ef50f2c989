//! Reads the storage fails are not absence: mkfs-made images read through
//! a reader that fails a chosen byte range the way a failing disk (EIO)
//! or an undecodable qcow2 cluster does. Each failure must be an
//! `ext4.read.*` finding at its offset that keeps the verdict from being
//! clean, and nothing built on the unread bytes may become a false alarm.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

use imgcheck_core::{
    Budget, BytesReader, Metered, ReadAt, ReadError, ReadErrorKind, Severity, worst_severity,
};
use imgcheck_ext4::{Ext4, OpenError, Options, Report, SuperblockSource, check};
use std::ops::Range;
use std::sync::Arc;

mod common;
use common::load;

/// How the failing range fails.
#[derive(Clone, Copy)]
enum Fail {
    /// The operating system's EIO.
    Io,
    /// A layer below that cannot produce the bytes (a corrupt qcow2 L2 entry).
    Layer,
}

/// The image, with every read touching `bad` failing.
struct Failing {
    inner: BytesReader,
    bad: Range<u64>,
    how: Fail,
}

impl ReadAt for Failing {
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let end = offset + buf.len() as u64;
        if offset < self.bad.end && self.bad.start < end {
            let kind = match self.how {
                Fail::Io => ReadErrorKind::Io(std::io::Error::from_raw_os_error(5)),
                Fail::Layer => ReadErrorKind::Layer(
                    "qcow2 cluster at 0x50000: L2 entry is not cluster aligned".to_string(),
                ),
            };
            return Err(ReadError::new(offset, buf.len() as u64, kind));
        }
        self.inner.read_exact_at(offset, buf)
    }
}

fn failing(img: &[u8], bad: Range<u64>, how: Fail) -> Failing {
    Failing {
        inner: BytesReader::new(img.to_vec()),
        bad,
        how,
    }
}

fn show(r: &Report) -> Vec<String> {
    r.findings
        .iter()
        .map(|f| format!("{} {} @{}: {}", f.severity, f.code, f.offset, f.message))
        .collect()
}

/// Every warning or error is about a read that failed: what the check
/// built on top of the unread bytes raised no alarm of its own.
#[track_caller]
fn only_read_problems(r: &Report) {
    let other: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning && !f.code.starts_with("ext4.read."))
        .map(|f| format!("{} {}: {}", f.severity, f.code, f.message))
        .collect();
    assert!(
        other.is_empty(),
        "false alarms from unread bytes: {other:#?}"
    );
}

/// (byte offset of inode `ino`, block size, inode size) in a clean image.
fn inode_offset(img: &[u8], ino: u64) -> (u64, u64, u64) {
    let r = BytesReader::new(img.to_vec());
    let fs = Ext4::open(&r).unwrap();
    let isz = u64::from(fs.sb.inode_size());
    let ipg = u64::from(fs.sb.s_inodes_per_group);
    let g = (ino - 1) / ipg;
    let off = fs.gds[g as usize].bg_inode_table * fs.bs + (ino - 1) % ipg * isz;
    (off, fs.bs, isz)
}

#[test]
fn an_eio_in_the_inode_table_is_a_finding_not_a_missing_root() {
    let img = load("ext4-4k");
    for deep in [false, true] {
        let clean = check(
            &BytesReader::new(img.clone()),
            &Options {
                depth: if deep {
                    imgcheck_core::Depth::Full
                } else {
                    imgcheck_core::Depth::Quick
                },
            },
        );
        assert!(
            worst_severity(&clean.findings).is_none_or(|s| s < Severity::Warning),
            "the fixture must start clean: {:#?}",
            show(&clean)
        );
    }
    // The block of the inode table holding the root inode fails.
    let (root, bs, _) = inode_offset(&img, 2);
    let bad = root / bs * bs..root / bs * bs + bs;
    let r = failing(&img, bad.clone(), Fail::Io);
    for deep in [false, true] {
        let rep = check(
            &r,
            &Options {
                depth: if deep {
                    imgcheck_core::Depth::Full
                } else {
                    imgcheck_core::Depth::Quick
                },
            },
        );
        let f = rep
            .findings
            .iter()
            .find(|f| f.code == "ext4.read.unreadable" && f.offset == root)
            .unwrap_or_else(|| panic!("deep={deep}: {:#?}", show(&rep)));
        assert_eq!(f.severity, Severity::Error);
        assert!(
            f.message
                .starts_with(&format!("inode 2 unreadable at offset {root}: "))
                && f.message.contains("os error 5"),
            "{}",
            f.message
        );
        assert!(!f.hint.as_ref().is_some_and(|h| h.writes));
        assert_eq!(worst_severity(&rep.findings), Some(Severity::Error));
        // Not mistaken for an absent root inode or inode table.
        assert!(
            !rep.findings
                .iter()
                .any(|f| f.code == "ext4.root.unreadable"),
            "{:#?}",
            show(&rep)
        );
        only_read_problems(&rep);
        if deep {
            // The rest of the table is still read inode by inode: only the
            // inodes of the failing block are lost, each named once.
            let lost: Vec<u64> = rep
                .findings
                .iter()
                .filter(|f| f.code == "ext4.read.unreadable")
                .map(|f| f.offset)
                .collect();
            assert!(lost.iter().all(|o| bad.contains(o)), "{lost:?}");
            assert!(
                rep.findings
                    .iter()
                    .any(|f| f.code == "ext4.deep.incomplete"),
                "{:#?}",
                show(&rep)
            );
        }
    }
}

#[test]
fn an_undecodable_directory_block_below_is_named_with_the_layer_cause() {
    let img = load("ext4-1k");
    // The root directory's first block (extent tree in i_block).
    let (root, bs, _) = inode_offset(&img, 2);
    let i_block = root as usize + 0x28;
    assert_eq!(&img[i_block..i_block + 2], &[0x0A, 0xF3]);
    let e = i_block + 12;
    let pblk = u64::from(u32::from_le_bytes(img[e + 8..e + 12].try_into().unwrap()));
    let dir = pblk * bs;
    let rep = check(
        &failing(&img, dir..dir + bs, Fail::Layer),
        &Options {
            depth: imgcheck_core::Depth::Full,
        },
    );
    let f = rep
        .findings
        .iter()
        .find(|f| f.code == "ext4.read.unreadable" && f.offset == dir)
        .unwrap_or_else(|| panic!("{:#?}", show(&rep)));
    assert!(
        f.message.contains("L2 entry is not cluster aligned"),
        "{}",
        f.message
    );
    // Neither "root has no first block" nor the entries it holds (files
    // unattached, lost+found missing) are reported as damage.
    only_read_problems(&rep);
    assert!(
        !rep.findings.iter().any(|f| f.code == "ext4.root.no_block"),
        "{:#?}",
        show(&rep)
    );
}

#[test]
fn an_unreadable_primary_superblock_is_not_a_missing_one() {
    let img = load("ext4-4k");
    // Primary unreadable, backup intact: the backup is used and the
    // reason is the read error, not damage.
    let rep = check(
        &failing(&img, 1024..2048, Fail::Io),
        &Options {
            depth: imgcheck_core::Depth::Quick,
        },
    );
    let s = rep.summary.as_ref().expect("opened from a backup");
    assert!(matches!(s.superblock, SuperblockSource::Backup { .. }));
    assert!(
        rep.findings.iter().any(|f| f.code == "ext4.read.unreadable"
            && f.offset == 1024
            && f.message
                .contains("primary superblock unreadable at offset 1024")),
        "{:#?}",
        show(&rep)
    );
    let sb = rep
        .findings
        .iter()
        .find(|f| f.code == "ext4.superblock.unreadable")
        .unwrap();
    assert!(sb.message.contains("os error 5"), "{}", sb.message);

    // Nothing readable at all: an open error of its own, not "no ext4".
    let whole = failing(&img, 0..img.len() as u64, Fail::Io);
    match Ext4::open(&whole) {
        Err(OpenError::Unreadable {
            offset: 1024,
            cause,
        }) => {
            assert!(cause.contains("os error 5"), "{cause}")
        }
        other => panic!("{other:?}"),
    }
    let rep = check(
        &whole,
        &Options {
            depth: imgcheck_core::Depth::Quick,
        },
    );
    assert_eq!(
        rep.findings
            .iter()
            .map(|f| (f.code.as_ref(), f.severity))
            .collect::<Vec<_>>(),
        [("ext4.read.unreadable", Severity::Error)],
        "{:#?}",
        show(&rep)
    );
    assert!(rep.summary.is_none());
}

#[test]
fn an_unreadable_journal_superblock_is_not_reported_outside_the_image() {
    let img = load("ext4-4k");
    let (jino, bs, _) = inode_offset(&img, 8);
    let i_block = jino as usize + 0x28;
    assert_eq!(&img[i_block..i_block + 2], &[0x0A, 0xF3]);
    let e = i_block + 12;
    let pblk = u64::from(u32::from_le_bytes(img[e + 8..e + 12].try_into().unwrap()));
    let jsb = pblk * bs;
    let rep = check(
        &failing(&img, jsb..jsb + 1024, Fail::Io),
        &Options {
            depth: imgcheck_core::Depth::Quick,
        },
    );
    assert!(
        rep.findings
            .iter()
            .any(|f| f.code == "ext4.read.unreadable" && f.offset == jsb),
        "{:#?}",
        show(&rep)
    );
    assert!(
        !rep.findings
            .iter()
            .any(|f| f.code == "ext4.journal.unreadable"),
        "{:#?}",
        show(&rep)
    );
    only_read_problems(&rep);
}

#[test]
fn a_used_up_read_budget_says_where_the_check_stopped() {
    let img = load("ext4-4k");
    // Enough for the superblocks and descriptors, not for the inode tables.
    let budget = Arc::new(Budget::new(64 << 10, u64::MAX));
    let r = Metered::new(BytesReader::new(img.clone()), budget);
    let rep = check(
        &r,
        &Options {
            depth: imgcheck_core::Depth::Full,
        },
    );
    let stops: Vec<_> = rep
        .findings
        .iter()
        .filter(|f| f.code == "ext4.read.budget")
        .collect();
    assert_eq!(stops.len(), 1, "{:#?}", show(&rep));
    assert_eq!(stops[0].severity, Severity::Warning);
    assert!(
        stops[0]
            .message
            .contains("the check is incomplete from here"),
        "{}",
        stops[0].message
    );
    only_read_problems(&rep);
}

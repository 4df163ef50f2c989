//! Reads that fail mid-check — an I/O error, or a file truncated by
//! another process while it is checked — are findings naming the
//! structure and its offset, and the verdict is never clean after one.
//! The guest view keeps the kind of the failure (an I/O error stays one).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

mod common;
use common::damage::*;
use common::*;
use imgcheck_core::{BytesReader, ReadAt, ReadError, ReadErrorKind, Severity};
use imgcheck_qcow2::{CheckOptions, CheckReport, Guest, Image, check};
use std::sync::Arc;

/// An image in memory whose reads overlapping `bad` fail with EIO, as a
/// disk with a bad sector does.
struct Failing {
    inner: BytesReader,
    bad: std::ops::Range<u64>,
}

impl ReadAt for Failing {
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let end = offset + buf.len() as u64;
        if offset < self.bad.end && end > self.bad.start {
            return Err(ReadError::new(
                offset,
                buf.len() as u64,
                ReadErrorKind::Io(std::io::Error::from_raw_os_error(5)),
            ));
        }
        self.inner.read_exact_at(offset, buf)
    }
}

/// Opens `fixture` with reads of `bad` failing (after the open, so the
/// header and active L1 are read) and checks it.
fn checked_with_bad(fixture: &str, bad: impl Fn(&Map) -> std::ops::Range<u64>) -> CheckReport {
    let bytes = std::fs::read(imgcheck_testdata::fixture(&format!("qcow2/{fixture}"))).unwrap();
    let m = map(&bytes);
    let img = Image::open(Arc::new(Failing {
        inner: BytesReader::new(bytes.clone()),
        bad: bad(&m),
    }))
    .unwrap();
    check(&img, &CheckOptions::default())
}

fn io_finding<'a>(r: &'a CheckReport, what: &str, offset: u64) -> &'a imgcheck_core::Finding {
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "qcow2.check.io" && f.offset == offset)
        .unwrap_or_else(|| panic!("no qcow2.check.io at {offset:#x}: {:?}", r.findings));
    assert!(f.message.contains(what), "{}", f.message);
    assert!(f.message.contains(&format!("{offset:#x}")), "{}", f.message);
    assert_eq!(f.severity, Severity::Error);
    f
}

fn never_clean(r: &CheckReport) {
    assert!(r.check_errors > 0);
    assert_eq!(r.qemu_exit_code(), 1);
    assert_eq!(r.worst(), Some(Severity::Error));
}

#[test]
fn a_refcount_block_that_fails_is_named_and_its_refcounts_not_judged() {
    let r = checked_with_bad("v3.qcow2", |m| m.refblock0..m.refblock0 + 1);
    let m = map(&std::fs::read(imgcheck_testdata::fixture("qcow2/v3.qcow2")).unwrap());
    io_finding(&r, "refcount block 0", m.refblock0);
    never_clean(&r);
    // Its clusters' refcounts are unknown, not "leaked" or "too low".
    assert!(
        r.findings
            .iter()
            .filter(|f| f.code == "qcow2.check.refcount_unreadable")
            .all(|f| f.message.contains("failed") && !f.message.contains("aligned")),
        "{:?}",
        r.findings
    );
    assert!(!r.findings.iter().any(|f| f.code == "qcow2.refcount.leak"));
    // qemu-img check stops with "Check failed: Input/output error".
    assert_eq!(r.qemu_abort.as_deref(), Some("Input/output error"));
    assert!(r.qemu_output("x").is_err());
}

#[test]
fn an_l2_table_that_fails_is_named() {
    let r = checked_with_bad("v3.qcow2", |m| m.l2_offset..m.l2_offset + 1);
    let m = map(&std::fs::read(imgcheck_testdata::fixture("qcow2/v3.qcow2")).unwrap());
    io_finding(&r, "L2 table", m.l2_offset);
    never_clean(&r);
}

#[test]
fn a_snapshot_l1_table_that_fails_is_named() {
    let bytes = std::fs::read(imgcheck_testdata::fixture("qcow2/snap.qcow2")).unwrap();
    let img = Image::open(Arc::new(BytesReader::new(bytes))).unwrap();
    let l1 = img.snapshots()[0].l1_table_offset;
    let r = checked_with_bad("snap.qcow2", |_| l1..l1 + 1);
    io_finding(&r, "L1 table of snapshot 0", l1);
    never_clean(&r);
}

#[test]
fn bitmap_directory_and_table_reads_that_fail_are_named() {
    let bytes = std::fs::read(imgcheck_testdata::fixture("qcow2/bitmap.qcow2")).unwrap();
    let m = map(&bytes);
    let dir = m.bitmap_dir.unwrap();
    let r = checked_with_bad("bitmap.qcow2", |_| dir..dir + 1);
    io_finding(&r, "bitmap directory", dir);
    never_clean(&r);
    let table = be64(&bytes, dir as usize);
    let r = checked_with_bad("bitmap.qcow2", |_| table..table + 1);
    io_finding(&r, "bitmap table", table);
    never_clean(&r);
}

#[test]
fn guest_reads_keep_the_kind_of_failure() {
    let bytes = std::fs::read(imgcheck_testdata::fixture("qcow2/v3.qcow2")).unwrap();
    let m = map(&bytes);
    let (_, entry) = m.data_entry.unwrap();
    let host = entry & imgcheck_qcow2::L2E_OFFSET_MASK;
    let img = Image::open(Arc::new(Failing {
        inner: BytesReader::new(bytes),
        bad: host..host + 1,
    }))
    .unwrap();
    let g = Guest::new(Arc::new(img));
    let mut buf = [0u8; 512];
    let e = g.read_exact_at(0, &mut buf).unwrap_err();
    assert!(matches!(e.kind, ReadErrorKind::Io(_)), "{e}");
    assert!(e.to_string().contains(&format!("{host:#x}")), "{e}");
}

#[test]
fn a_file_truncated_under_the_check_is_reported_not_read_short() {
    let (_d, p) = prepare("v3.qcow2", |_| {});
    let img = Image::open_path(&p).unwrap();
    let m = map(&std::fs::read(&p).unwrap());
    // Another process truncates the live image after it was opened,
    // cutting the L2 table the check has still to read.
    let cut = m.l2_offset + 100;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(cut)
        .unwrap();
    let r = check(&img, &CheckOptions::default());
    never_clean(&r);
    let io: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.code == "qcow2.check.io")
        .collect();
    assert!(!io.is_empty(), "{:?}", r.findings);
    assert!(
        io.iter()
            .any(|f| f.message.contains("L2 table") && f.offset == m.l2_offset),
        "{io:?}"
    );
}

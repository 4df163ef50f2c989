//! A read that fails on the disk (EIO, an undecodable qcow2 cluster below,
//! the work bound) is reported as unreadable where it failed, and never as
//! the structure being absent: real fixtures made by sgdisk and sfdisk,
//! read through a reader that fails one range.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

mod common;
use common::{Img, codes, finding};
use imgcheck_core::{Budget, BytesReader, Metered, ReadAt, ReadError, ReadErrorKind, Severity};
use imgcheck_gpt::tables::ReadFailure;
use imgcheck_gpt::{Analysis, Tables};
use std::sync::Arc;

/// `inner`, with every read touching one of `bad` failing with `kind`.
struct Failing {
    inner: BytesReader,
    bad: Vec<(u64, u64)>,
    kind: fn() -> ReadErrorKind,
}

impl ReadAt for Failing {
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let end = offset + buf.len() as u64;
        if self.bad.iter().any(|&(a, b)| offset < b && a < end) {
            return Err(ReadError::new(offset, buf.len() as u64, (self.kind)()));
        }
        self.inner.read_exact_at(offset, buf)
    }
}

fn eio() -> ReadErrorKind {
    ReadErrorKind::Io(std::io::Error::from_raw_os_error(5))
}

fn failing(img: &Img, bad: &[(u64, u64)], kind: fn() -> ReadErrorKind) -> Failing {
    Failing {
        inner: BytesReader::new(img.data.clone()),
        bad: bad.to_vec(),
        kind,
    }
}

fn analyze(img: &Img, bad: &[(u64, u64)]) -> Analysis {
    imgcheck_gpt::analyze(&failing(img, bad, eio))
}

fn tables(img: &Img, bad: &[(u64, u64)]) -> Tables {
    imgcheck_gpt::parse(&failing(img, bad, eio))
}

fn none_of(a: &Analysis, absent: &[&str]) {
    let c = codes(a);
    for code in absent {
        assert!(!c.iter().any(|x| x == code), "{code} reported: {c:?}");
    }
}

#[test]
fn eio_on_the_primary_header_is_unreadable_not_missing() {
    let img = Img::fixture("gpt-512.img");
    let clean = img.analyze();
    let a = analyze(&img, &[(512, 1024)]);
    let f = finding(&a, "gpt.read.unreadable");
    assert_eq!((f.severity, f.offset), (Severity::Error, 512));
    assert!(
        f.message.contains("primary GPT header") && f.message.contains("os error 5"),
        "{}",
        f.message
    );
    assert!(f.hint.as_ref().is_some_and(|h| !h.writes));
    none_of(&a, &["gpt.primary_header.missing"]);
    // The backup still lists every partition.
    assert_eq!(a.partitions, clean.partitions);
    let u = &a.tables.unreadable;
    assert_eq!(u.len(), 1, "{u:?}");
    assert_eq!(u[0].failure, ReadFailure::Io);
    // The same sector really gone is still "missing".
    let mut wiped = img.clone();
    wiped.put(512, &[0; 512]);
    let w = wiped.analyze();
    assert!(codes(&w).contains(&"gpt.primary_header.missing".to_string()));
    none_of(&w, &["gpt.read.unreadable"]);
}

#[test]
fn eio_on_the_primary_entry_array() {
    let img = Img::fixture("gpt-512.img");
    let a = analyze(&img, &[(1024 + 4096, 1024 + 4097)]);
    let f = finding(&a, "gpt.read.unreadable");
    assert_eq!(f.offset, 1024, "the array's read, not just the bad byte");
    assert!(
        f.message.contains("primary partition entry array"),
        "{}",
        f.message
    );
    none_of(
        &a,
        &["gpt.primary_entries.unreadable", "gpt.primary_entries.crc"],
    );
    assert_eq!(a.partitions, img.analyze().partitions);
}

#[test]
fn eio_on_both_entry_arrays_claims_no_free_space() {
    let img = Img::fixture("gpt-512.img");
    let last = img.last_lba();
    let backup_array = (last - 32) * 512;
    let t = tables(&img, &[(1024, 1025), (backup_array, backup_array + 1)]);
    assert!(t.partitions().is_empty());
    let f = imgcheck_gpt::check(&t);
    let c: Vec<_> = f.iter().map(|f| f.code.to_string()).collect();
    assert_eq!(c.iter().filter(|c| *c == "gpt.read.unreadable").count(), 2);
    assert!(
        !c.iter()
            .any(|c| c.contains("free_space") || c.ends_with("entries.unreadable")),
        "{c:?}"
    );
    // A readable table still reports its free space.
    let clean = Img::fixture("gpt-512.img").analyze();
    assert!(codes(&clean).contains(&"gpt.free_space".to_string()));
}

#[test]
fn eio_on_lba0_is_unreadable_not_a_missing_protective_mbr() {
    let img = Img::fixture("gpt-512.img");
    let a = analyze(&img, &[(0, 512)]);
    let f = finding(&a, "mbr.read.unreadable");
    assert_eq!(f.offset, 0);
    assert!(f.message.contains("MBR (LBA 0)"), "{}", f.message);
    none_of(&a, &["gpt.pmbr.missing"]);
    assert_eq!(a.tables.scheme.as_str(), "gpt");
    assert_eq!(a.partitions, img.analyze().partitions);
}

#[test]
fn eio_on_the_backup_header_is_unreadable_not_missing() {
    let img = Img::fixture("gpt-512.img");
    let at = img.last_lba() * 512;
    let a = analyze(&img, &[(at, at + 512)]);
    let f = finding(&a, "gpt.read.unreadable");
    assert_eq!(f.offset, at);
    assert!(f.message.contains("backup GPT header"), "{}", f.message);
    none_of(&a, &["gpt.backup_header.missing"]);
    assert_eq!(a.partitions, img.analyze().partitions);
}

#[test]
fn both_headers_unreadable_is_not_both_copies_gone() {
    let img = Img::fixture("gpt-512.img");
    let at = img.last_lba() * 512;
    let t = tables(&img, &[(512, 1024), (at, at + 512)]);
    let f = imgcheck_gpt::check(&t);
    let c: Vec<_> = f.iter().map(|f| f.code.to_string()).collect();
    assert_eq!(
        c.iter().filter(|c| *c == "gpt.read.unreadable").count(),
        2,
        "{c:?}"
    );
    for absent in [
        "gpt.headers.missing",
        "gpt.primary_header.missing",
        "gpt.backup_header.missing",
    ] {
        assert!(!c.iter().any(|x| x == absent), "{absent}: {c:?}");
    }
    // Wiped instead of unreadable, the loss is reported.
    let mut wiped = img.clone();
    wiped.put(512, &[0; 512]);
    wiped.put(at as usize, &[0; 512]);
    assert!(codes(&wiped.analyze()).contains(&"gpt.headers.missing".to_string()));
}

#[test]
fn eio_inside_the_ebr_chain_keeps_the_logicals_before_it() {
    let img = Img::fixture("mbr-logical.img");
    let clean = img.analyze();
    let m = clean.tables.mbr.as_ref().unwrap();
    assert_eq!(m.logicals.len(), 3);
    let ebr = m.logicals[1].ebr_lba * 512;
    let a = analyze(&img, &[(ebr, ebr + 512)]);
    let f = finding(&a, "mbr.read.unreadable");
    assert_eq!(f.offset, ebr);
    assert!(f.message.contains("EBR at LBA"), "{}", f.message);
    none_of(&a, &["mbr.ebr.unreadable", "mbr.ebr.signature"]);
    assert_eq!(a.tables.mbr.as_ref().unwrap().logicals.len(), 1);
}

#[test]
fn a_layer_below_that_cannot_decode_is_named() {
    let img = Img::fixture("gpt-512.img");
    let r = failing(&img, &[(512, 1024)], || {
        ReadErrorKind::Layer("compressed cluster at 0x50000 does not decode".into())
    });
    let a = imgcheck_gpt::analyze(&r);
    let f = finding(&a, "gpt.read.unreadable");
    assert!(f.message.contains("does not decode"), "{}", f.message);
    assert_eq!(a.tables.unreadable[0].failure, ReadFailure::Layer);
    none_of(&a, &["gpt.primary_header.missing"]);
}

#[test]
fn the_work_bound_is_unreadable_not_absent() {
    // Enough for the first read of LBA 0, then every read fails.
    let img = Img::fixture("gpt-512.img");
    let r = Metered::new(
        BytesReader::new(img.data.clone()),
        Arc::new(Budget::new(512, u64::MAX)),
    );
    let t = imgcheck_gpt::parse(&r);
    assert!(!t.unreadable.is_empty());
    assert!(
        t.unreadable
            .iter()
            .all(|u| u.failure == ReadFailure::Budget && u.cause.contains("bound of 512 bytes")),
        "{:?}",
        t.unreadable
    );
    let c: Vec<_> = imgcheck_gpt::check(&t)
        .iter()
        .map(|f| f.code.to_string())
        .collect();
    assert!(c.iter().any(|c| c.ends_with(".read.unreadable")), "{c:?}");
    assert!(
        !c.iter().any(|c| c.ends_with(".missing")),
        "nothing is called missing: {c:?}"
    );
}

#[test]
fn unreadable_stale_backup_probes_are_counted() {
    // grown.img: gpt-512 grown from 32 to 48 MiB; with its first MiB wiped
    // only the stale backup at 32 MiB - 512 is left.
    let mut img = Img::fixture("grown.img");
    img.put(0, &vec![0; 1 << 20]);
    let found = img.analyze();
    assert_eq!(found.partitions.len(), 4);
    let end = 32u64 << 20;
    let a = analyze(&img, &[(end - 4096, end)]);
    assert!(a.partitions.is_empty());
    let f = finding(&a, "gpt.read.unreadable");
    assert!(
        f.message.contains("stale backup") && f.message.contains("could not read 1 of the"),
        "{}",
        f.message
    );
    let s = a.tables.backup_search.as_ref().unwrap();
    assert_eq!(s.unreadable, 1);
    assert!(s.found.is_none());
}

#[test]
fn unreadable_headers_are_no_lost_table_and_get_no_new_one() {
    // gpt-fs.img (sgdisk, filesystems in its partitions): both header
    // sectors fail. The scan still lists what it finds, but the table is
    // unknown, not lost: a warning, and no step that writes a table.
    let img = Img::fixture("gpt-fs.img");
    let at = img.last_lba() * 512;
    let a = analyze(&img, &[(512, 1024), (at, at + 512)]);
    let f = finding(&a, "gpt.recovery.partitions_found");
    assert_eq!(f.severity, Severity::Warning, "{}", f.message);
    let h = f.hint.as_ref().unwrap();
    assert!(!h.writes && h.to_string().contains("ddrescue"), "{h}");
    // Zeroed instead, the same disk's table is lost and the recipe stays.
    let mut wiped = img.clone();
    wiped.put(512, &[0; 512]);
    wiped.put(at as usize, &[0; 512]);
    let a = wiped.analyze();
    let f = finding(&a, "gpt.recovery.partitions_found");
    assert_eq!(f.severity, Severity::Error);
    assert!(f.hint.as_ref().unwrap().writes);
}

#[test]
fn an_unreadable_offset_in_the_scan_is_unknown_not_nothing() {
    let mut img = Img::fixture("gpt-fs.img");
    let at = img.last_lba() * 512;
    img.put(512, &[0; 512]);
    img.put(at as usize, &[0; 512]);
    let clean = img.analyze();
    let first = clean.recovery.as_ref().unwrap().proposed[0].start;
    let a = analyze(&img, &[(first, first + 4096)]);
    let f = finding(&a, "gpt.recovery.unreadable");
    assert_eq!(f.offset, first, "{}", f.message);
    assert!(f.message.contains("unknown"), "{}", f.message);
    assert_eq!(a.recovery.as_ref().unwrap().unreadable, [first]);
    // Readable, the same scan lists no unreadable offset.
    assert!(clean.recovery.as_ref().unwrap().unreadable.is_empty());
}

//! Every finding code has a case here: a real image (made by qemu-img)
//! with byte-precise damage shows the code, and the undamaged image does
//! not, so each test fails if its check is removed. No qemu-img needed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

mod common;
use common::damage::*;
use common::*;
use imgcheck_core::BytesReader;
use imgcheck_qcow2::{CheckOptions, CheckReport, Image, check};
use std::path::Path;
use std::sync::Arc;

fn report(p: &Path, deep: bool) -> CheckReport {
    let img = Image::open_path(p).unwrap();
    check(
        &img,
        &CheckOptions {
            deep,
            check_backing: true,
            ..CheckOptions::default()
        },
    )
}

fn has(r: &CheckReport, code: &str) -> bool {
    r.findings.iter().any(|f| f.code == code)
}

/// `code` is absent from the clean fixture and present after `patch`.
fn case(fixture: &str, code: &str, deep: bool, patch: impl FnOnce(&mut Vec<u8>, &Map)) {
    let (_c, clean) = prepare(fixture, |_| {});
    let r = report(&clean, deep);
    assert!(
        !has(&r, code),
        "{fixture}: {code} reported on the clean image"
    );
    let m = map(&std::fs::read(&clean).unwrap());
    let (_d, bad) = prepare(fixture, |b| patch(b, &m));
    let r = report(&bad, deep);
    let f = r.findings.iter().find(|f| f.code == code);
    assert!(
        f.is_some(),
        "{fixture}: {code} not reported; got {:?}",
        r.findings.iter().map(|f| &f.code).collect::<Vec<_>>()
    );
    let f = f.unwrap();
    assert!(!f.message.is_empty());
    assert!(
        f.severity == imgcheck_core::Severity::Info
            || f.hint
                .as_ref()
                .is_some_and(|h| h.to_string().contains("{image}")),
        "{code}: no next step"
    );
}

fn named(name: &str) -> Damage {
    damages().into_iter().find(|(n, _)| *n == name).unwrap().1
}

fn put64(b: &mut [u8], at: u64, v: u64) {
    b[at as usize..at as usize + 8].copy_from_slice(&v.to_be_bytes());
}
fn put32(b: &mut [u8], at: u64, v: u32) {
    b[at as usize..at as usize + 4].copy_from_slice(&v.to_be_bytes());
}
/// Offset of the data of header extension `ty` in cluster 0.
fn ext_data(b: &[u8], ty: u32) -> u64 {
    let mut off = 112usize.min(u32::from_be_bytes(b[100..104].try_into().unwrap()) as usize);
    if b[7] == 2 {
        off = 72;
    }
    loop {
        let t = u32::from_be_bytes(b[off..off + 4].try_into().unwrap());
        let len = u32::from_be_bytes(b[off + 4..off + 8].try_into().unwrap()) as usize;
        assert_ne!(t, 0, "extension {ty:#x} not found");
        if t == ty {
            return off as u64 + 8;
        }
        off += 8 + len.next_multiple_of(8);
    }
}

macro_rules! damage_case {
    ($test:ident, $fixture:expr, $damage:expr, $code:expr) => {
        #[test]
        fn $test() {
            let f = named($damage);
            case($fixture, $code, true, |b, m| {
                assert!(f(b, m), "{} not applicable", $damage)
            });
        }
    };
}

damage_case!(
    refcount_too_low,
    "v3.qcow2",
    "refcount-zero-data",
    "qcow2.refcount.too_low"
);
damage_case!(
    refcount_leak,
    "v3.qcow2",
    "leak-appended-cluster",
    "qcow2.refcount.leak"
);
damage_case!(
    refcount_past_eof,
    "v3.qcow2",
    "refcount-past-eof",
    "qcow2.refcount.past_eof"
);
damage_case!(
    l2_copied_flag,
    "v3.qcow2",
    "l2-copied-cleared",
    "qcow2.l2.copied_flag"
);
damage_case!(
    l2_copied_flag_refcount_raised,
    "rc64.qcow2",
    "refcount-raise-data",
    "qcow2.l2.copied_flag"
);
damage_case!(
    l1_copied_flag,
    "v2.qcow2",
    "l1-copied-cleared",
    "qcow2.l1.copied_flag"
);
damage_case!(
    l2_reserved_bits,
    "v3.qcow2",
    "l2-reserved-bit",
    "qcow2.l2.reserved_bits"
);
damage_case!(
    l1_reserved_bits,
    "v3.qcow2",
    "l1-reserved-bit",
    "qcow2.l1.reserved_bits"
);
damage_case!(
    l2_unaligned,
    "v3.qcow2",
    "l2-unaligned",
    "qcow2.l2.unaligned"
);
damage_case!(
    double_mapping_is_too_low,
    "c512.qcow2",
    "l2-double-mapped",
    "qcow2.refcount.too_low"
);
damage_case!(
    reference_past_eof,
    "v3.qcow2",
    "l2-points-past-eof",
    "qcow2.reference.past_eof"
);
damage_case!(
    truncated_file,
    "snap.qcow2",
    "truncated-half",
    "qcow2.file.truncated"
);
damage_case!(
    reftable_reserved_bits,
    "v3.qcow2",
    "reftable-reserved-bit",
    "qcow2.reftable.reserved_bits"
);
damage_case!(
    reftable_unaligned,
    "v3.qcow2",
    "refblock-unaligned",
    "qcow2.reftable.unaligned"
);
damage_case!(
    refcount_unreadable,
    "v3.qcow2",
    "refblock-unaligned",
    "qcow2.check.refcount_unreadable"
);
damage_case!(dirty_bit, "v3.qcow2", "dirty-bit", "qcow2.header.dirty");
damage_case!(
    corrupt_bit,
    "v3.qcow2",
    "corrupt-bit",
    "qcow2.header.corrupt"
);
damage_case!(
    compressed_copied,
    "zlib.qcow2",
    "compressed-copied",
    "qcow2.l2.compressed_copied"
);
damage_case!(
    compressed_zlib_undecodable,
    "zlib.qcow2",
    "compressed-garbage",
    "qcow2.compressed.undecodable"
);
damage_case!(
    compressed_zstd_undecodable,
    "zstd.qcow2",
    "compressed-garbage",
    "qcow2.compressed.undecodable"
);
damage_case!(
    subcluster_alloc_and_zero,
    "extl2.qcow2",
    "extl2-alloc-and-zero",
    "qcow2.l2.subcluster_bitmap"
);
damage_case!(
    unallocated_with_alloc_bits,
    "extl2.qcow2",
    "extl2-unallocated-with-alloc-bits",
    "qcow2.l2.unallocated_bitmap"
);
damage_case!(
    snapshot_l1_unaligned,
    "snap.qcow2",
    "snapshot-l1-unaligned",
    "qcow2.snapshot.l1_unaligned"
);

#[test]
fn undecodable_only_when_deep() {
    let m = map(&std::fs::read(imgcheck_testdata::fixture("qcow2/zlib.qcow2")).unwrap());
    let (_d, bad) = prepare("zlib.qcow2", |b| {
        assert!(named("compressed-garbage")(b, &m))
    });
    assert!(!has(&report(&bad, false), "qcow2.compressed.undecodable"));
    assert!(has(&report(&bad, true), "qcow2.compressed.undecodable"));
}

#[test]
fn refblock_past_eof() {
    case("v3.qcow2", "qcow2.refblock.past_eof", false, |b, m| {
        put64(b, m.reftable + 8, (m.file_len / m.cs + 4) * m.cs);
    });
}

#[test]
fn refblock_shared() {
    case("v3.qcow2", "qcow2.refblock.shared", false, |b, m| {
        put64(b, m.reftable + 8, m.refblock0)
    });
}

#[test]
fn overlap_metadata_and_data() {
    case("v3.qcow2", "qcow2.overlap.metadata_data", false, |b, m| {
        let (at, e) = m.data_entry.unwrap();
        put64(b, at, (e & !imgcheck_qcow2::L2E_OFFSET_MASK) | m.l1_offset);
    });
}

#[test]
fn overlap_metadata_and_metadata() {
    case("v3.qcow2", "qcow2.overlap.metadata", false, |b, m| {
        put64(b, m.l1_offset, m.reftable | imgcheck_qcow2::OFLAG_COPIED)
    });
}

#[test]
fn refcount_overflow() {
    // 1-bit refcounts cannot count a cluster mapped twice.
    let f = named("l2-double-mapped");
    case("rc1.qcow2", "qcow2.refcount.overflow", false, |b, m| {
        assert!(f(b, m))
    });
}

#[test]
fn snapshot_l1_too_large() {
    case(
        "snap.qcow2",
        "qcow2.snapshot.l1_too_large",
        false,
        |b, m| put32(b, m.snapshots[0] + 8, 0x0100_0000),
    );
}

#[test]
fn snapshot_incomplete_extra() {
    case(
        "snap.qcow2",
        "qcow2.snapshot.incomplete_extra",
        false,
        |b, m| put32(b, m.snapshots[0] + 36, 8),
    );
}

#[test]
fn snapshot_extra_data_qemu_refuses() {
    // QEMU stops at more than 1024 bytes of extra data (only -r all drops
    // them); the table is then unreadable to it, and its check stops.
    case(
        "snap.qcow2",
        "qcow2.snapshot.extra_too_large",
        false,
        |b, m| put32(b, m.snapshots[0] + 36, 5000),
    );
    let (_d, p) = prepare("snap.qcow2", |b| {
        let m = map(b);
        put32(b, m.snapshots[0] + 36, 5000)
    });
    let img = Image::open_path(&p).unwrap();
    assert!(!img.snapshot_table().readable());
    let r = report(&p, false);
    assert_eq!(r.qemu_abort.as_deref(), Some("File too large"));
    assert_eq!(r.qemu_exit_code(), 1);
    assert!(r.qemu_output("x").is_err());
}

#[test]
fn snapshot_table_broken() {
    // 600 entries claiming 64 KiB ids and names run past QEMU's 64 MiB
    // bound: the table is unreadable to QEMU and reading stops there.
    let (_c, clean) = prepare("snap.qcow2", |_| {});
    let mut b = std::fs::read(&clean).unwrap();
    let m = map(&b);
    let first = m.snapshots[0] as usize;
    b[60..64].copy_from_slice(&600u32.to_be_bytes());
    b.resize(first + 600 * (40 + 0xffff * 2 + 8), 0);
    let mut at = first;
    for _ in 0..600 {
        b[at + 12..at + 16].copy_from_slice(&[0xff; 4]);
        b[at + 36..at + 40].copy_from_slice(&[0; 4]);
        at = (at + 40 + 0xffff * 2).next_multiple_of(8);
    }
    let img = Image::open(Arc::new(BytesReader::new(b))).unwrap();
    assert!(!img.snapshot_table().readable());
    assert!(img.snapshots().len() < 600);
    let s = &img.snapshots()[0];
    assert_eq!(s.name_len, 0xffff);
    assert!(s.name.chars().count() <= imgcheck_qcow2::MAX_SNAPSHOT_NAME_KEPT);
    assert!(
        s.shown_name().ends_with("(65535 bytes)"),
        "{}",
        s.shown_name()
    );
    let r = check(&img, &CheckOptions::default());
    assert!(has(&r, "qcow2.snapshot.table_broken"), "{:?}", r.findings);
    assert_eq!(r.qemu_abort.as_deref(), Some("File too large"));
    let longest = r.findings.iter().map(|f| f.message.len()).max().unwrap();
    assert!(longest < 2000, "a message of {longest} bytes");
}

#[test]
fn snapshot_offset_invalid_without_snapshots() {
    // Found by the damage sweep: qemu-img refuses to open such an image
    // ("Snapshot table offset invalid") although it has no snapshot.
    case("v3.qcow2", "qcow2.snapshot.table_broken", false, |b, _| {
        let off = u64::from_be_bytes(b[64..72].try_into().unwrap());
        b[64..72].copy_from_slice(&(off | 0x46).to_be_bytes());
    });
}

#[test]
fn snapshot_table_past_eof() {
    case(
        "snap.qcow2",
        "qcow2.snapshot.table_past_eof",
        false,
        |b, m| put64(b, 64, (m.file_len / m.cs + 2) * m.cs),
    );
}

#[test]
fn snapshot_disk_size_differs_and_l1_too_small() {
    case(
        "snap.qcow2",
        "qcow2.snapshot.disk_size_differs",
        false,
        |b, m| put64(b, m.snapshots[0] + 48, 8 << 20),
    );
    case(
        "snap.qcow2",
        "qcow2.snapshot.l1_too_small",
        false,
        |b, m| put64(b, m.snapshots[0] + 48, 1 << 40),
    );
}

#[test]
fn snapshots_with_data_file() {
    case(
        "snap.qcow2",
        "qcow2.snapshot.with_data_file",
        false,
        |b, _| b[79] |= 4,
    );
}

#[test]
fn compressed_with_data_file() {
    case(
        "zlib.qcow2",
        "qcow2.l2.compressed_with_data_file",
        false,
        |b, _| b[79] |= 4,
    );
}

#[test]
fn compressed_with_subcluster_bitmap() {
    case(
        "extl2.qcow2",
        "qcow2.l2.compressed_bitmap",
        false,
        |b, m| {
            let (at, e) = m.data_entry.unwrap();
            put64(b, at, e | imgcheck_qcow2::OFLAG_COMPRESSED);
        },
    );
}

#[test]
fn unknown_incompatible_feature() {
    case(
        "v3.qcow2",
        "qcow2.header.unknown_incompatible",
        false,
        |b, _| b[78] |= 2,
    );
}

#[test]
fn data_file_flags_inconsistent() {
    case(
        "v3.qcow2",
        "qcow2.data_file.raw_without_file",
        false,
        |b, _| b[95] |= 2,
    );
    case("v3.qcow2", "qcow2.data_file.name_missing", false, |b, _| {
        b[79] |= 4
    });
}

#[test]
fn encrypted_image_is_reported_and_reads_fail() {
    let (_d, p) = prepare("luks.qcow2", |_| {});
    let r = report(&p, false);
    assert!(has(&r, "qcow2.header.encrypted"));
    assert_eq!(
        r.qemu_exit_code(),
        1,
        "qemu-img cannot open it without the key"
    );
    let img = Arc::new(Image::open_path(&p).unwrap());
    let g = imgcheck_qcow2::Guest::new(img);
    let mut buf = [0u8; 512];
    let e = imgcheck_core::ReadAt::read_exact_at(&g, 0, &mut buf).unwrap_err();
    assert!(
        matches!(e.kind, imgcheck_core::ReadErrorKind::Layer(_)),
        "{e}"
    );
    // Unallocated clusters still read as zeros.
    imgcheck_core::ReadAt::read_exact_at(&g, 512 * 1024, &mut buf).unwrap();
    assert!(buf.iter().all(|&x| x == 0));
}

#[test]
fn encryption_header_missing() {
    case(
        "luks.qcow2",
        "qcow2.crypto.missing_header",
        false,
        |b, _| {
            let at = ext_data(b, imgcheck_qcow2::EXT_CRYPTO) - 8;
            put32(b, at, 0x1234_5678);
        },
    );
}

/// The bitmaps extension's data: (count, directory size, directory offset) offsets.
fn bitmaps_ext(b: &[u8]) -> usize {
    ext_data(b, imgcheck_qcow2::EXT_BITMAPS) as usize
}

#[test]
fn bitmap_directory_checks() {
    // Each is what QEMU refuses to open the image for, with its message.
    let refused = |code: &str, qemu: &str, patch: fn(&mut Vec<u8>)| {
        case("bitmap.qcow2", code, false, |b, _| patch(b));
        let (_d, p) = prepare("bitmap.qcow2", patch);
        let r = report(&p, false);
        let why = r.qemu_open_failure.clone().unwrap_or_default();
        assert!(why.contains(qemu), "{code}: {why}");
        assert_eq!(r.qemu_exit_code(), 1);
    };
    refused(
        "qcow2.bitmaps.extension_invalid",
        "exceeding the QEMU supported maximum",
        |b| {
            let at = bitmaps_ext(b);
            put32(b, at as u64, 70000);
        },
    );
    refused(
        "qcow2.bitmaps.extension_size",
        "Invalid extension length",
        |b| {
            let at = bitmaps_ext(b);
            put32(b, at as u64 - 4, 16);
        },
    );
    refused(
        "qcow2.bitmaps.directory_invalid",
        "Less bitmaps found than specified",
        |b| {
            let at = bitmaps_ext(b);
            put32(b, at as u64, 40);
        },
    );
    refused(
        "qcow2.bitmaps.directory_truncated",
        "Broken bitmap directory",
        |b| {
            let at = bitmaps_ext(b);
            put64(b, at as u64 + 8, 16);
        },
    );
    refused(
        "qcow2.bitmaps.entry_invalid",
        "doesn't satisfy the constraints",
        |b| {
            let at = bitmaps_ext(b);
            let dir = u64::from_be_bytes(b[at + 16..at + 24].try_into().unwrap());
            let t = u64::from_be_bytes(b[dir as usize..dir as usize + 8].try_into().unwrap());
            put64(b, dir, t + 512);
        },
    );
    refused(
        "qcow2.bitmaps.table_invalid",
        "Could not read bitmap_table table",
        |b| {
            let at = bitmaps_ext(b);
            let dir = u64::from_be_bytes(b[at + 16..at + 24].try_into().unwrap());
            let t = u64::from_be_bytes(b[dir as usize..dir as usize + 8].try_into().unwrap());
            // A reserved bit in the first table entry.
            b[t as usize] |= 0x80;
        },
    );
}

#[test]
fn bitmap_in_use_is_reported_not_refused() {
    // What a crash leaves: QEMU opens the image, but the bitmap is
    // inconsistent and `qemu-img convert --bitmaps` refuses it.
    case("bitmap.qcow2", "qcow2.bitmaps.in_use", false, |b, m| {
        let d = m.bitmap_dir.unwrap() as usize;
        b[d + 15] |= 1;
    });
    let (_d, p) = prepare("bitmap.qcow2", |b| {
        let d = map(b).bitmap_dir.unwrap() as usize;
        b[d + 15] |= 1;
    });
    let r = report(&p, false);
    assert_eq!(r.qemu_exit_code(), 0);
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "qcow2.bitmaps.in_use")
        .unwrap();
    let h = f.hint.as_ref().unwrap();
    assert!(h.writes && h.to_string().contains("--remove"));
}

#[test]
fn bitmap_tables_are_counted() {
    // Without counting the bitmap directory and tables, their clusters
    // would show up as leaks on the clean image.
    let (_d, p) = prepare("bitmap.qcow2", |_| {});
    let r = report(&p, false);
    assert_eq!((r.corruptions, r.leaks), (0, 0), "{:?}", r.findings);
}

#[test]
fn backing_missing() {
    let f = imgcheck_testdata::fixture("qcow2/chain-top.qcow2");
    let (_d, files) = imgcheck_testdata::copy_into_tempdir(&[&f]);
    let r = report(&files[0], false);
    assert!(has(&r, "qcow2.backing.missing"));
    assert_eq!(r.qemu_exit_code(), 1);
    let (_c, clean) = prepare("chain-top.qcow2", |_| {});
    let r = report(&clean, false);
    assert!(!has(&r, "qcow2.backing.missing"));
    assert_eq!(r.backing.len(), 2, "both backing images checked");
    // The element type is nameable from outside the crate, so an embedder
    // can write a function over one backing image's check.
    let clean_check = |b: &imgcheck_qcow2::BackingCheck| b.report.is_some();
    assert!(r.backing.iter().all(clean_check));
    assert!(r.backing.iter().all(|b| {
        b.report
            .as_ref()
            .is_some_and(|r| r.corruptions == 0 && r.leaks == 0)
    }));
}

/// Offset of the backing file name.
fn backing_name_at(b: &[u8]) -> usize {
    u64::from_be_bytes(b[8..16].try_into().unwrap()) as usize
}

#[test]
fn backing_loop() {
    // chain-mid.qcow2 and chain-top.qcow2 have names of equal length.
    case("chain-top.qcow2", "qcow2.backing.loop", false, |b, _| {
        let at = backing_name_at(b);
        b[at..at + 15].copy_from_slice(b"chain-top.qcow2");
    });
}

#[test]
fn backing_unreadable() {
    case(
        "chain-top.qcow2",
        "qcow2.backing.unreadable",
        false,
        |b, _| {
            let at = ext_data(b, imgcheck_qcow2::EXT_BACKING_FORMAT) as usize;
            b[at..at + 5].copy_from_slice(b"qcow9");
        },
    );
}

#[test]
fn backing_size_differs() {
    case(
        "chain-top.qcow2",
        "qcow2.backing.size_differs",
        false,
        |b, _| put64(b, 24, 8 << 20),
    );
    let (_d, p) = prepare("raw-over.qcow2", |_| {});
    assert!(
        has(&report(&p, false), "qcow2.backing.size_differs"),
        "2 MiB overlay on a 1 MiB raw file"
    );
}

#[test]
fn backing_too_deep() {
    // A chain of MAX_CHAIN_DEPTH + 2 copies of chain-mid, each naming the next.
    let n = imgcheck_qcow2::limits::MAX_CHAIN_DEPTH + 2;
    let (dir, _) = imgcheck_testdata::copy_into_tempdir(&[]);
    let mid = std::fs::read(imgcheck_testdata::fixture("qcow2/chain-mid.qcow2")).unwrap();
    std::fs::copy(
        imgcheck_testdata::fixture("qcow2/chain-base.qcow2"),
        dir.path().join("chain-base.qcow2"),
    )
    .unwrap();
    let at = backing_name_at(&mid);
    for i in 0..n {
        let mut b = mid.clone();
        if i + 1 < n {
            b[at..at + 16].copy_from_slice(format!("chain-m{:03}.qcow2", i + 1).as_bytes());
        }
        std::fs::write(dir.path().join(format!("chain-m{i:03}.qcow2")), b).unwrap();
    }
    let r = report(
        &dir.path().join(format!("chain-m{:03}.qcow2", n - 2)),
        false,
    );
    assert!(
        !r.findings
            .iter()
            .chain(
                r.backing
                    .iter()
                    .flat_map(|b| b.report.iter().flat_map(|r| r.findings.iter()))
            )
            .any(|f| f.code == "qcow2.backing.too_deep")
    );
    let r = report(&dir.path().join("chain-m000.qcow2"), false);
    let img = Image::open_path(dir.path().join("chain-m000.qcow2")).unwrap();
    assert!(img.chain().len() <= imgcheck_qcow2::limits::MAX_CHAIN_DEPTH + 2);
    let deep_codes: Vec<_> = r
        .backing
        .iter()
        .flat_map(|b| {
            b.report
                .iter()
                .flat_map(|r| r.findings.iter().map(|f| f.code.to_string()))
        })
        .collect();
    let states: Vec<_> = img
        .chain()
        .iter()
        .map(|b| format!("{}:{:?}", b.name, b.state))
        .collect();
    assert!(
        has(&r, "qcow2.backing.too_deep")
            || deep_codes.iter().any(|c| c == "qcow2.backing.too_deep"),
        "{deep_codes:?} {states:?}"
    );
    // The bound is imgcheck's, not damage: QEMU reads deeper chains.
    let worst = r
        .findings
        .iter()
        .chain(
            r.backing
                .iter()
                .flat_map(|b| b.report.iter().flat_map(|r| r.findings.iter())),
        )
        .filter(|f| f.code == "qcow2.backing.too_deep")
        .map(|f| f.severity)
        .max();
    assert_eq!(worst, Some(imgcheck_core::Severity::Warning));
}

#[test]
fn backing_not_followed_without_path() {
    let bytes = std::fs::read(imgcheck_testdata::fixture("qcow2/chain-top.qcow2")).unwrap();
    let img = Image::open(Arc::new(BytesReader::new(bytes))).unwrap();
    let r = check(&img, &CheckOptions::default());
    assert!(has(&r, "qcow2.backing.not_followed"));
    let bytes = std::fs::read(imgcheck_testdata::fixture("qcow2/v3.qcow2")).unwrap();
    let img = Image::open(Arc::new(BytesReader::new(bytes))).unwrap();
    assert!(!has(
        &check(&img, &CheckOptions::default()),
        "qcow2.backing.not_followed"
    ));
}

#[test]
fn too_large_to_check_is_a_check_error() {
    // A sparse file of more than MAX_CHECK_CLUSTERS 512-byte clusters.
    let (_d, p) = prepare("c512.qcow2", |_| {});
    let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
    f.set_len((imgcheck_qcow2::limits::MAX_CHECK_CLUSTERS + 1) * 512)
        .unwrap();
    let r = report(&p, false);
    assert!(has(&r, "qcow2.check.too_large"));
    assert_eq!(r.qemu_exit_code(), 1);
    let (_c, clean) = prepare("c512.qcow2", |_| {});
    assert!(!has(&report(&clean, false), "qcow2.check.too_large"));
}

#[test]
fn stats_match_qemu_counters() {
    let (_d, p) = prepare("zlib.qcow2", |_| {});
    let r = report(&p, false);
    let s = r.findings.iter().find(|f| f.code == "qcow2.stats").unwrap();
    assert!(
        s.message
            .contains(&format!("{}/{}", r.allocated_clusters, r.total_clusters))
    );
    assert!(r.compressed_clusters > 0 && r.compressed_clusters <= r.allocated_clusters);
    let j = r.qemu_json("zlib.qcow2");
    for k in [
        "filename",
        "format",
        "check-errors",
        "image-end-offset",
        "corruptions",
        "leaks",
        "corruptions-fixed",
        "leaks-fixed",
        "total-clusters",
        "allocated-clusters",
        "fragmented-clusters",
        "compressed-clusters",
    ] {
        assert!(j.get(k).is_some(), "{k} missing");
    }
    assert_eq!(j.as_object().unwrap().len(), 12);
}

#[test]
fn data_file_shorter_than_its_mappings() {
    let (_c, clean) = prepare("datafile.qcow2", |_| {});
    assert!(!has(&report(&clean, false), "qcow2.data_file.past_eof"));
    let (_d, p) = prepare("datafile.qcow2", |_| {});
    let data = p.parent().unwrap().join("datafile.data");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&data)
        .unwrap()
        .set_len(65536)
        .unwrap();
    let r = report(&p, false);
    assert!(has(&r, "qcow2.data_file.past_eof"), "{:?}", r.findings);
}

damage_case!(
    l1_unaligned,
    "v3.qcow2",
    "l1-unaligned",
    "qcow2.l1.unaligned"
);

#[test]
fn bitmap_entry_constraints() {
    case(
        "bitmap.qcow2",
        "qcow2.bitmaps.entry_invalid",
        false,
        |b, m| {
            let d = m.bitmap_dir.unwrap() as usize;
            b[d + 16] = 7; // type
        },
    );
}

#[test]
fn too_many_snapshots() {
    case("snap.qcow2", "qcow2.snapshot.too_many", false, |b, _| {
        b[60..64].copy_from_slice(&70000u32.to_be_bytes())
    });
}

/// Damage that repeats on every cluster is listed up to the one cap every
/// layer shares (core's `Sink`) and counted past it, in a closing finding
/// that keeps the code, its severity and its next step.
#[test]
fn repeated_findings_are_capped_and_counted() {
    let (_c, clean) = prepare("c512.qcow2", |_| {});
    let m = map(&std::fs::read(&clean).unwrap());
    let (_d, bad) = prepare("c512.qcow2", |b| {
        let at = m.refblock0 as usize;
        b[at..at + m.cs as usize].fill(0);
    });
    let r = report(&bad, false);
    let too_low: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.code == "qcow2.refcount.too_low")
        .collect();
    let cap = imgcheck_core::MAX_FINDINGS_PER_CODE;
    assert_eq!(too_low.len(), cap + 1, "{too_low:#?}");
    let closing = too_low[cap];
    let rest: usize = closing.message.split(' ').next().unwrap().parse().unwrap();
    assert!(
        rest > 0 && closing.message.contains("qcow2.refcount.too_low"),
        "{}",
        closing.message
    );
    assert_eq!(closing.severity, imgcheck_core::Severity::Error);
    assert_eq!(closing.hint, too_low[0].hint);
    assert!(closing.hint.is_some());
    // Every one was counted, listed or not.
    assert!(r.corruptions >= (cap + rest) as u64);
}

#[test]
fn backing_not_a_file_is_refused_at_once() {
    let (_d, p) = prepare("chain-mid.qcow2", |_| {});
    let base = p.parent().unwrap().join("chain-base.qcow2");
    std::fs::remove_file(&base).unwrap();
    if !std::process::Command::new("mkfifo")
        .arg(&base)
        .status()
        .is_ok_and(|s| s.success())
    {
        println!("skipped: mkfifo not available");
        return;
    }
    let t = std::time::Instant::now();
    let r = report(&p, false);
    assert!(
        t.elapsed() < std::time::Duration::from_secs(5),
        "blocked on the FIFO"
    );
    assert!(has(&r, "qcow2.backing.not_a_file"), "{:?}", r.findings);
    assert_eq!(r.qemu_exit_code(), 1);
    let img = Image::open_path(&p).unwrap();
    assert!(matches!(
        img.guest_blocked(),
        Some(imgcheck_qcow2::GuestBlocked::Backing { .. })
    ));
}

#[test]
fn backing_chain_of_hard_links_is_a_loop() {
    // chain-base replaced by a hard link to chain-mid itself: the names
    // differ, the file is one (device and inode).
    let (_d, p) = prepare("chain-mid.qcow2", |_| {});
    let base = p.parent().unwrap().join("chain-base.qcow2");
    std::fs::remove_file(&base).unwrap();
    std::fs::hard_link(&p, &base).unwrap();
    let img = Image::open_path(&p).unwrap();
    assert_eq!(img.chain().len(), 1);
    assert!(matches!(
        img.backing().unwrap().state,
        imgcheck_qcow2::BackingState::Loop(_)
    ));
    assert!(has(&report(&p, false), "qcow2.backing.loop"));
}

#[test]
fn a_loop_through_a_symlink_names_the_file_it_returns_to() {
    // An attack made chain-base a symlink to chain-mid: the message named
    // the symlink twice ("chain-base.qcow2 is chain-base.qcow2, already in
    // the chain") instead of the file the chain is back at.
    let (_d, p) = prepare("chain-mid.qcow2", |_| {});
    let base = p.parent().unwrap().join("chain-base.qcow2");
    std::fs::remove_file(&base).unwrap();
    std::os::unix::fs::symlink("chain-mid.qcow2", &base).unwrap();
    let r = report(&p, false);
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "qcow2.backing.loop")
        .unwrap();
    assert!(
        f.message.contains("is ") && f.message.contains("chain-mid.qcow2, already"),
        "{}",
        f.message
    );
}

#[test]
fn a_character_device_data_file_is_not_said_to_be_refused_by_qemu() {
    // qemu-io opens a data file that is /dev/null (and reads zeros); the
    // guest data is gone all the same, but QEMU does not refuse the image.
    let (_d, p) = prepare("datafile.qcow2", |_| {});
    let data = p.parent().unwrap().join("datafile.data");
    std::fs::remove_file(&data).unwrap();
    std::os::unix::fs::symlink("/dev/null", &data).unwrap();
    let img = Image::open_path(&p).unwrap();
    let r = check(&img, &CheckOptions::default());
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "qcow2.data_file.unavailable")
        .unwrap();
    assert!(f.message.contains("a character device"), "{}", f.message);
    assert!(!f.message.contains("QEMU refuses"), "{}", f.message);
}

#[test]
fn a_data_file_that_is_the_image_itself_is_named() {
    // The data file's name leads back to the image (here a symlink):
    // qemu-img check says "No errors", yet every allocated cluster would
    // read the image's own header and tables.
    let (_d, p) = prepare("datafile.qcow2", |_| {});
    let data = p.parent().unwrap().join("datafile.data");
    std::fs::remove_file(&data).unwrap();
    std::os::unix::fs::symlink("datafile.qcow2", &data).unwrap();
    let img = Image::open_path(&p).unwrap();
    let r = check(&img, &CheckOptions::default());
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "qcow2.data_file.is_image")
        .unwrap_or_else(|| panic!("{:?}", r.findings));
    assert!(f.message.contains("this image itself"), "{}", f.message);
    let (_c, clean) = prepare("datafile.qcow2", |_| {});
    assert!(!has(&report(&clean, false), "qcow2.data_file.is_image"));
}

#[test]
fn data_file_unavailable_is_an_error_and_blocks_the_guest() {
    let (_d, p) = prepare("datafile.qcow2", |_| {});
    std::fs::remove_file(p.parent().unwrap().join("datafile.data")).unwrap();
    let img = Image::open_path(&p).unwrap();
    assert!(matches!(
        img.guest_blocked(),
        Some(imgcheck_qcow2::GuestBlocked::DataFile(_))
    ));
    let r = check(&img, &CheckOptions::default());
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "qcow2.data_file.unavailable")
        .unwrap();
    assert_eq!(f.severity, imgcheck_core::Severity::Error);
    assert!(f.message.contains("datafile.data"), "{}", f.message);
    assert!(
        f.hint
            .as_ref()
            .is_some_and(|h| h.to_string().contains("{image}"))
    );
    let (_c, clean) = prepare("datafile.qcow2", |_| {});
    assert!(!has(&report(&clean, false), "qcow2.data_file.unavailable"));
    assert_eq!(r.qemu_exit_code(), 1);
}

#[test]
fn the_work_bound_stops_the_check_with_a_finding() {
    let (_d, p) = prepare("v3.qcow2", |_| {});
    let img = Image::open_path(&p).unwrap();
    let r = check(
        &img,
        &CheckOptions {
            budget: Some(Arc::new(imgcheck_core::Budget::new(100_000, 1000))),
            ..CheckOptions::default()
        },
    );
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "qcow2.check.bound")
        .unwrap_or_else(|| panic!("{:?}", r.findings));
    assert!(f.message.contains("work bound"), "{}", f.message);
    assert!(r.bound_hit && r.check_errors > 0);
    assert_eq!(r.qemu_exit_code(), 1);
    assert!(r.qemu_output("x").is_err());
}

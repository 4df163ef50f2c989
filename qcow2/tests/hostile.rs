//! Hostile structure, at the crate level: what made the check hang or
//! grow without bound (issue 14's qcow2 classes). Each case is checked
//! under a small work budget (core's `Budget`), so a check that visits a
//! shared structure once per reference instead of once per structure
//! fails here by hitting the bound, not by taking long. Where qemu-img is
//! installed its counts are compared too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

mod common;
use common::*;
use imgcheck_core::{Budget, BytesReader, ReadAt};
use imgcheck_qcow2::{CheckOptions, CheckReport, Guest, Image, check};
use std::sync::Arc;

fn put(b: &mut [u8], at: u64, v: &[u8]) {
    b[at as usize..at as usize + v.len()].copy_from_slice(v);
}

/// A v3 image whose `l1_entries` L1 entries all point at one L2 table
/// holding `data` data clusters (refcounts as a sound image of one
/// reference each would have them): cluster 0 header, 1 refcount table,
/// 2 refcount block, 3.. the L1, then the L2 table and the data.
fn one_l2_for_all(cluster_bits: u32, l1_entries: u32, data: u64) -> Vec<u8> {
    let cs = 1u64 << cluster_bits;
    let l1_off = 3 * cs;
    let l1_clusters = (u64::from(l1_entries) * 8).div_ceil(cs);
    let l2_off = l1_off + l1_clusters * cs;
    let data_off = l2_off + cs;
    let total = data_off / cs + data;
    let mut b = vec![0u8; (total * cs) as usize];
    put(&mut b, 0, &imgcheck_qcow2::QCOW2_MAGIC.to_be_bytes());
    put(&mut b, 4, &3u32.to_be_bytes());
    put(&mut b, 20, &cluster_bits.to_be_bytes());
    let size = u64::from(l1_entries) * (cs / 8) * cs;
    put(&mut b, 24, &size.to_be_bytes());
    put(&mut b, 36, &l1_entries.to_be_bytes());
    put(&mut b, 40, &l1_off.to_be_bytes());
    put(&mut b, 48, &cs.to_be_bytes());
    put(&mut b, 56, &1u32.to_be_bytes());
    put(&mut b, 96, &4u32.to_be_bytes());
    put(&mut b, 100, &112u32.to_be_bytes());
    put(&mut b, cs, &(2 * cs).to_be_bytes());
    for k in 0..total {
        put(&mut b, 2 * cs + k * 2, &1u16.to_be_bytes());
    }
    for i in 0..u64::from(l1_entries) {
        put(&mut b, l1_off + i * 8, &(l2_off | 1 << 63).to_be_bytes());
    }
    for i in 0..data {
        put(
            &mut b,
            l2_off + i * 8,
            &((data_off + i * cs) | 1 << 63).to_be_bytes(),
        );
    }
    b
}

fn bounded_check(bytes: Vec<u8>, visits: u64) -> CheckReport {
    let img = Image::open(Arc::new(BytesReader::new(bytes))).unwrap();
    check(
        &img,
        &CheckOptions {
            budget: Some(Arc::new(Budget::new(1 << 30, visits))),
            ..CheckOptions::default()
        },
    )
}

fn qemu_counts(bytes: &[u8]) -> Option<(u64, u64, i32)> {
    if !qemu_img() {
        println!("skipped the qemu-img comparison: qemu-img not found");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("h.qcow2");
    std::fs::write(&p, bytes).unwrap();
    let (c, l, _, rc, _) = qemu_check(&p);
    Some((c, l, rc))
}

#[test]
fn l1_entries_sharing_one_l2_table_are_walked_once_64k() {
    // 8192 L1 entries (one L1 cluster) on one table with 3 data clusters:
    // every reference counts, but the table is visited once.
    let b = one_l2_for_all(16, 8192, 3);
    let r = bounded_check(b.clone(), 64);
    assert!(!r.bound_hit, "{:?}", r.findings);
    assert_eq!(r.allocated_clusters, 8192 * 3);
    if let Some((c, l, rc)) = qemu_counts(&b) {
        assert_eq!((r.corruptions, r.leaks, r.qemu_exit_code()), (c, l, rc));
    }
    assert!(
        r.findings
            .iter()
            .any(|f| f.code == "qcow2.refcount.too_low")
    );
}

#[test]
fn l1_entries_sharing_one_l2_table_are_walked_once_2m() {
    // 2 MiB clusters: 262,144 entries per L2 table, 4096 L1 entries on it
    // — a billion entry visits if walked per reference.
    let b = one_l2_for_all(21, 4096, 2);
    let r = bounded_check(b, 64);
    assert!(!r.bound_hit, "{:?}", r.findings);
    assert_eq!(r.allocated_clusters, 4096 * 2);
    // 16-bit refcounts overflow past 65535 references.
    assert!(
        r.findings
            .iter()
            .any(|f| f.code == "qcow2.refcount.too_low")
    );
}

#[test]
fn guest_reads_of_a_shared_table_stay_cheap() {
    let b = one_l2_for_all(16, 8192, 1);
    let img = Arc::new(Image::open(Arc::new(BytesReader::new(b))).unwrap());
    let g = Guest::new(img);
    let per = 8192u64 * 65536;
    let mut buf = [0u8; 512];
    for i in [0u64, 1, 4000, 8191] {
        g.read_exact_at(i * per, &mut buf).unwrap();
    }
    assert!(g.known_zero(65536, per - 65536));
    assert!(!g.known_zero(0, g.len()));
}

/// `snap.qcow2` with `n` snapshot entries, all copies of its first one
/// (sharing its L1 table), in a table appended at the end of the file.
fn many_snapshots(n: u32) -> Vec<u8> {
    let mut b = std::fs::read(imgcheck_testdata::fixture("qcow2/snap.qcow2")).unwrap();
    let img = Image::open(Arc::new(BytesReader::new(b.clone()))).unwrap();
    let first = img.snapshots()[0].entry_offset as usize;
    let be = |at: usize, n: usize| {
        b[at..at + n]
            .iter()
            .fold(0usize, |a, &x| a << 8 | x as usize)
    };
    let entry_len =
        (40 + be(first + 36, 4) + be(first + 12, 2) + be(first + 14, 2)).next_multiple_of(8);
    let entry = b[first..first + entry_len].to_vec();
    let table = (b.len() as u64).next_multiple_of(65536);
    b.resize(table as usize, 0);
    for _ in 0..n {
        b.extend_from_slice(&entry);
    }
    put(&mut b, 60, &n.to_be_bytes());
    put(&mut b, 64, &table.to_be_bytes());
    b
}

#[test]
fn sixty_five_thousand_snapshots_are_walked_once() {
    let b = many_snapshots(65536);
    let r = bounded_check(b.clone(), 256);
    assert!(!r.bound_hit, "{:?}", r.findings);
    let img = Image::open(Arc::new(BytesReader::new(b))).unwrap();
    assert_eq!(img.snapshots().len(), 65536);
    assert!(img.snapshot_table().readable());
    // Shared L1 and L2 tables: references overflow their refcounts.
    assert!(r.corruptions > 0);
    assert!(
        !r.findings
            .iter()
            .any(|f| f.code.starts_with("qcow2.snapshot."))
    );
    // The counts are qemu-img's (compared on fewer: it reads each
    // snapshot's tables again and takes seconds for 65,536).
    let b = many_snapshots(4096);
    let r = bounded_check(b.clone(), 256);
    if let Some((c, l, rc)) = qemu_counts(&b) {
        assert_eq!((r.corruptions, r.leaks, r.qemu_exit_code()), (c, l, rc));
    }
    // One more than QEMU allows: its check stops, "File too large".
    let r = bounded_check(many_snapshots(65537), 256);
    assert_eq!(r.qemu_abort.as_deref(), Some("File too large"));
    assert!(
        r.findings
            .iter()
            .any(|f| f.code == "qcow2.snapshot.too_many")
    );
}

#[test]
#[ignore = "writes /tmp/hostile-65536.qcow2 for timing by hand"]
fn write_many_snapshots_for_timing() {
    std::fs::write("/tmp/hostile-65536.qcow2", many_snapshots(65536)).unwrap();
}

/// The zstd fixture (64 KiB clusters, ten compressed clusters in one L2
/// table) with every L2 entry cycling through those ten and the L1 made
/// 8,192 entries all naming that table: a 4 TiB disk of compressed
/// clusters from a 420 KiB file. Each guest cluster read decodes 64 KiB
/// from a few hundred bytes, and alternating entries defeat the decoded
/// cluster cache: unbounded, reading it would decode terabytes (a 2 MiB
/// cluster variant hung the whole CLI for over 100 s).
fn compressed_everywhere() -> Vec<u8> {
    let mut b = std::fs::read(imgcheck_testdata::fixture("qcow2/zstd.qcow2")).unwrap();
    let be = |b: &[u8], o: usize| u64::from_be_bytes(b[o..o + 8].try_into().unwrap());
    let cs = 65536usize;
    let l1 = be(&b, 40) as usize;
    let l2 = (be(&b, l1) & imgcheck_qcow2::L1E_OFFSET_MASK) as usize;
    let comp: Vec<u64> = (0..cs / 8)
        .map(|i| be(&b, l2 + 8 * i))
        .filter(|e| e & imgcheck_qcow2::OFLAG_COMPRESSED != 0)
        .collect();
    assert!(comp.len() >= 2, "the fixture has compressed clusters");
    for i in 0..cs / 8 {
        put(
            &mut b,
            (l2 + 8 * i) as u64,
            &comp[i % comp.len()].to_be_bytes(),
        );
    }
    let l1e = be(&b, l1);
    for i in 0..cs / 8 {
        put(&mut b, (l1 + 8 * i) as u64, &l1e.to_be_bytes());
    }
    put(&mut b, 36, &((cs / 8) as u32).to_be_bytes());
    put(
        &mut b,
        24,
        &(((cs / 8) * (cs / 8) * cs) as u64).to_be_bytes(),
    );
    b
}

#[test]
fn decoding_compressed_clusters_again_and_again_is_bounded() {
    let img = Arc::new(Image::open(Arc::new(BytesReader::new(compressed_everywhere()))).unwrap());
    let bound = img.decode_bound();
    assert_eq!(
        bound,
        imgcheck_qcow2::limits::DECODE_BASE_BYTES
            + img.file().len() * imgcheck_qcow2::limits::DECODE_BYTES_PER_FILE_BYTE
    );
    let g = Guest::new(Arc::clone(&img));
    let mut buf = vec![0u8; 65536];
    let (mut ok, mut stopped) = (0u64, None);
    // Cluster by cluster through the first tables: each read decodes anew.
    for i in 0..(bound / 65536 + 100) {
        match g.read_exact_at(i * 65536, &mut buf) {
            Ok(()) => ok += 1,
            Err(e) => {
                stopped = Some(e);
                break;
            }
        }
    }
    let e = stopped.expect("the decode bound stops the reads");
    assert!(
        matches!(e.kind, imgcheck_core::ReadErrorKind::Budget { limit } if limit == bound),
        "{e}"
    );
    assert!(
        ok <= bound / 65536,
        "{ok} decodes within a bound of {bound}"
    );
    // An image's own decoded clusters are its check's too: the deep
    // check decodes each distinct entry once and stays within the bound.
    let img = Arc::new(Image::open(Arc::new(BytesReader::new(compressed_everywhere()))).unwrap());
    let r = check(
        &img,
        &CheckOptions {
            deep: true,
            ..CheckOptions::default()
        },
    );
    assert!(
        !r.findings
            .iter()
            .any(|f| f.code == "qcow2.compressed.undecodable"),
        "{:?}",
        r.findings.iter().map(|f| &f.code).collect::<Vec<_>>()
    );
}

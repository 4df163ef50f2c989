//! The guest view without qemu-img: known patterns written by qemu-io in
//! testdata/scripts/qcow2.sh, snapshots, known_zero, and hostile inputs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

mod common;
use common::*;
use imgcheck_core::{BytesReader, ReadAt};
use imgcheck_qcow2::{CheckOptions, Error, Guest, Image, check};
use std::sync::Arc;

fn guest(name: &str) -> (Keep, Guest) {
    let (d, p) = prepare(name, |_| {});
    (d, Guest::new(Arc::new(Image::open_path(&p).unwrap())))
}

fn byte_at(g: &impl ReadAt, off: u64, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len];
    g.read_exact_at(off, &mut b).unwrap();
    b
}

fn all(v: &[u8], x: u8) -> bool {
    v.iter().all(|&b| b == x)
}

#[test]
fn patterns_of_fill_read_back_on_every_layout() {
    for name in [
        "v2.qcow2",
        "v3.qcow2",
        "c512.qcow2",
        "rc1.qcow2",
        "rc64.qcow2",
        "prealloc.qcow2",
        "datafile.qcow2",
    ] {
        let (_d, g) = guest(name);
        assert_eq!(g.len(), 4 << 20, "{name}");
        assert!(all(&byte_at(&g, 0, 65536), 0xab), "{name} @0");
        assert!(all(&byte_at(&g, 192 << 10, 8192), 0x11), "{name} @192k");
        assert!(all(&byte_at(&g, 1 << 20, 64 << 10), 0x5a), "{name} @1M");
        assert!(all(&byte_at(&g, 3 << 20, 4096), 0xc3), "{name} @3M");
        assert!(all(&byte_at(&g, 1088 << 10, 65536), 0), "{name} zeroed");
        assert!(all(&byte_at(&g, 2 << 20, 65536), 0), "{name} discarded");
        // A read crossing a written/unwritten boundary.
        let b = byte_at(&g, (64 << 10) - 2, 4);
        assert_eq!(b, [0xab, 0xab, 0, 0], "{name}");
    }
}

#[test]
fn extended_l2_subclusters_read_back() {
    let (_d, g) = guest("extl2.qcow2");
    assert!(all(&byte_at(&g, 192 << 10, 2048), 0x11));
    assert!(all(&byte_at(&g, 200 << 10, 4096), 0x12));
    assert!(all(&byte_at(&g, 204 << 10, 2048), 0));
    assert!(all(&byte_at(&g, 194 << 10, 6144), 0));
    assert!(all(&byte_at(&g, 1 << 20, 4096), 0x5a));
}

#[test]
fn compressed_images_read_the_same_raw_bytes() {
    let (_a, z) = guest("zlib.qcow2");
    let (_b, s) = guest("zstd.qcow2");
    assert_eq!(z.len(), 1 << 20);
    let a = byte_at(&z, 0, 1 << 20);
    let b = byte_at(&s, 0, 1 << 20);
    assert!(a == b);
    let (_c, x) = guest("zstd-extl2.qcow2");
    assert!(x.image().header().extended_l2());
    assert!(
        byte_at(&x, 0, 1 << 20) == a,
        "compressed clusters with extended L2 entries"
    );
    // Cluster 1 holds text lines, cluster 2 the byte 2 repeated.
    assert!(a[65536..65536 + 40].starts_with(b"imgcheck qcow2 fixture cluster 01 line"));
    assert!(all(&a[2 * 65536..3 * 65536], 2));
    assert!(z.image().header().compression_type == 0 && s.image().header().compression_type == 1);
}

#[test]
fn backing_chain_reads_through_three_levels() {
    let (_d, g) = guest("chain-top.qcow2");
    assert!(all(&byte_at(&g, 0, 65536), 0x01), "base");
    assert!(all(&byte_at(&g, 64 << 10, 65536), 0x03), "mid");
    assert!(all(&byte_at(&g, 128 << 10, 4096), 0x04), "top");
    assert!(
        all(&byte_at(&g, (128 << 10) + 4096, 4096), 0x01),
        "base under top's partial cluster"
    );
    assert!(
        all(&byte_at(&g, 512 << 10, 65536), 0),
        "zeroed in mid hides base"
    );
    assert!(all(&byte_at(&g, 3 << 20, 65536), 0x02), "base");
    assert!(all(&byte_at(&g, 2 << 20, 65536), 0x05), "top");
    assert_eq!(g.image().chain().len(), 2);
    // Raw backing smaller than the overlay: zeros past its end.
    let (_e, r) = guest("raw-over.qcow2");
    assert_eq!(byte_at(&r, 1000, 4), vec![232, 233, 234, 235]);
    assert!(all(&byte_at(&r, (1 << 20) + 10, 1000), 0));
    assert!(all(&byte_at(&r, 1536 << 10, 65536), 0x06));
}

/// Opens the image at `p` as the CLI does: the image file metered by the
/// caller, and `budget` handed to the open for the files it names.
fn open_metered(p: &std::path::Path, budget: &Arc<imgcheck_core::Budget>) -> Image {
    let file: Arc<dyn ReadAt> = Arc::new(imgcheck_core::Metered::new(
        imgcheck_core::FileReader::open(p).unwrap(),
        Arc::clone(budget),
    ));
    let opts = imgcheck_qcow2::OpenOptions {
        budget: Some(Arc::clone(budget)),
        ..imgcheck_qcow2::OpenOptions::default()
    };
    Image::open_with(file, Some(p), &opts).unwrap()
}

#[test]
fn backing_and_data_file_reads_are_charged_to_the_images_budget() {
    use imgcheck_core::Budget;
    let (_d, p) = prepare("chain-top.qcow2", |_| {});
    let dir = p.parent().unwrap();
    let len = |n: &str| std::fs::metadata(dir.join(n)).unwrap().len();
    let budget = Arc::new(Budget::new(1 << 30, u64::MAX).per_file_byte(4));
    let g = Guest::new(Arc::new(open_metered(&p, &budget)));
    // Each file of the chain raised the bound by its share.
    let files = len("chain-mid.qcow2") + len("chain-base.qcow2");
    assert_eq!(budget.limits().0, (1 << 30) + 4 * files);
    let before = budget.used().0;
    // 64 KiB that only the base holds: read through mid and base.
    assert!(all(&byte_at(&g, 3 << 20, 65536), 0x02));
    let spent = budget.used().0 - before;
    assert!(spent >= 65536, "backing reads not charged: {spent}");

    // A bound the top image's own open spends: the backing file is not
    // read past it, and the guest is not read as if it were there.
    let (_e, p) = prepare("chain-top.qcow2", |_| {});
    let small = Arc::new(Budget::new(len("chain-top.qcow2") / 2, u64::MAX));
    let img = open_metered(&p, &small);
    let mut buf = vec![0u8; 65536];
    let r = Guest::new(Arc::new(img)).read_exact_at(3 << 20, &mut buf);
    assert!(r.is_err() || small.exhausted().is_some(), "{r:?}");
    assert!(small.exhausted().is_some());

    // The external data file too.
    let (_f, p) = prepare("datafile.qcow2", |_| {});
    let budget = Arc::new(Budget::new(1 << 30, u64::MAX).per_file_byte(1));
    let g = Guest::new(Arc::new(open_metered(&p, &budget)));
    let data = len_of(&p.parent().unwrap().join("datafile.data"));
    assert_eq!(budget.limits().0, (1 << 30) + data);
    let before = budget.used().0;
    let mut buf = vec![0u8; 65536];
    g.read_exact_at(0, &mut buf).unwrap();
    assert!(budget.used().0 - before >= 65536);
}

fn len_of(p: &std::path::Path) -> u64 {
    std::fs::metadata(p).unwrap().len()
}

#[test]
fn snapshots_by_id_and_name() {
    let (_d, p) = prepare("snap.qcow2", |_| {});
    let img = Arc::new(Image::open_path(&p).unwrap());
    let s = img.snapshots();
    assert_eq!(s.len(), 2);
    assert_eq!((s[0].id.as_str(), s[0].name.as_str()), ("1", "first"));
    assert_eq!(s[1].name, "second");
    assert_eq!(s[0].disk_size, Some(4 << 20));
    assert_eq!(
        s[0].date_sec, 1_705_312_800,
        "2024-01-15 10:00:00 UTC, pinned by faketime"
    );
    let first = Guest::snapshot(Arc::clone(&img), "first").unwrap();
    let by_id = Guest::snapshot(Arc::clone(&img), "1").unwrap();
    assert!(all(&byte_at(&first, 64 << 10, 65536), 0xa1));
    assert!(all(&byte_at(&by_id, 1 << 20, 65536), 0xa2));
    assert!(all(&byte_at(&first, 3 << 20, 65536), 0));
    let second = Guest::snapshot(Arc::clone(&img), "second").unwrap();
    assert!(all(&byte_at(&second, 64 << 10, 65536), 0xb1));
    assert!(all(&byte_at(&second, 1 << 20, 65536), 0));
    assert!(all(&byte_at(&second, 3 << 20, 65536), 0xb2));
    let now = Guest::new(Arc::clone(&img));
    assert!(all(&byte_at(&now, 0, 32 << 10), 0xc1));
    assert!(all(&byte_at(&now, 3 << 20, 65536), 0));
    // QEMU writes the extra data (with the disk size) in v2 images too.
    let (_v, p2) = prepare("snap-v2.qcow2", |_| {});
    let v2 = Arc::new(Image::open_path(&p2).unwrap());
    assert_eq!(v2.header().version, 2);
    assert_eq!(v2.snapshots()[0].disk_size, Some(4 << 20));
    let old = Guest::snapshot(Arc::clone(&v2), "old").unwrap();
    assert_eq!(old.len(), 4 << 20);
    assert!(all(&byte_at(&old, 0, 65536), 0xe1));
    assert!(all(&byte_at(&Guest::new(v2), 0, 32768), 0xe2));
    match Guest::snapshot(img, "nope") {
        Err(e @ Error::SnapshotNotFound { .. }) => {
            assert!(e.to_string().contains("1 first, 2 second"), "{e}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn known_zero_for_unallocated_and_zero_clusters_only() {
    let (_d, g) = guest("v3.qcow2");
    assert!(g.known_zero(2 << 20, 65536), "discarded");
    assert!(g.known_zero(1088 << 10, 65536), "write -z");
    assert!(g.known_zero(3 << 20 | 64 << 10, 512 << 10), "never written");
    assert!(!g.known_zero(0, 512), "data");
    assert!(!g.known_zero(4 << 20, 1), "past the end");
    let (_e, top) = guest("chain-top.qcow2");
    assert!(!top.known_zero(0, 512), "backing data shows through");
    assert!(top.known_zero(1 << 20, 65536));
}

#[test]
fn reads_past_the_end_and_corrupt_entries_are_errors() {
    let (_d, g) = guest("v3.qcow2");
    let mut b = [0u8; 2];
    assert!(g.read_exact_at((4 << 20) - 1, &mut b).is_err());
    assert!(g.read_exact_at(u64::MAX, &mut b).is_err());
    // Truncate away the data: the read fails instead of returning zeros.
    let (_t, p) = prepare("v3.qcow2", |v| v.truncate(5 * 65536));
    let img = Arc::new(Image::open_path(&p).unwrap());
    let g = Guest::new(img);
    let mut buf = vec![0u8; 65536];
    assert!(g.read_exact_at(3 << 20, &mut buf).is_err());
}

/// A small deterministic PRNG (xorshift) for the mutation test.
fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

#[test]
fn hostile_mutations_never_panic() {
    // Byte flips in the metadata of real images: open, check and read
    // must return (values or errors), never panic or hang.
    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut runs = 0;
    for name in [
        "v3.qcow2",
        "v2.qcow2",
        "extl2.qcow2",
        "snap.qcow2",
        "zlib.qcow2",
        "c512.qcow2",
        "rc1.qcow2",
        "bitmap.qcow2",
    ] {
        let clean = std::fs::read(imgcheck_testdata::fixture(&format!("qcow2/{name}"))).unwrap();
        let meta_end = clean.len().min(6 * 65536);
        for _ in 0..60 {
            let mut b = clean.clone();
            for _ in 0..(1 + xorshift(&mut seed) % 8) {
                let at = (xorshift(&mut seed) as usize) % meta_end;
                b[at] ^= 1 << (xorshift(&mut seed) % 8);
            }
            if xorshift(&mut seed).is_multiple_of(5) {
                // A header field set to an extreme value.
                let f = [8usize, 16, 20, 24, 36, 40, 48, 56, 60, 64, 96, 100]
                    [(xorshift(&mut seed) % 12) as usize];
                b[f..f + 4].copy_from_slice(&u32::MAX.to_be_bytes());
            }
            let Ok(img) = Image::open(Arc::new(BytesReader::new(b))) else {
                continue;
            };
            let img = Arc::new(img);
            let _ = check(
                &img,
                &CheckOptions {
                    deep: true,
                    check_backing: false,
                    ..CheckOptions::default()
                },
            );
            let g = Guest::new(Arc::clone(&img));
            let mut buf = vec![0u8; 65536];
            let len = g.len();
            for off in [0, 65536, len / 2, len.saturating_sub(65536)] {
                if off.saturating_add(65536) <= len {
                    let _ = g.read_exact_at(off, &mut buf);
                }
            }
            let _ = g.known_zero(0, len.min(1 << 30));
            for s in img.snapshots().to_vec() {
                if let Ok(sg) = Guest::snapshot(Arc::clone(&img), &s.id) {
                    let _ = sg.read_exact_at(0, &mut buf[..512]);
                }
            }
            runs += 1;
        }
    }
    println!("{runs} mutated images opened, checked and read");
    assert!(runs > 100);
}

#[test]
fn fatal_errors_name_file_structure_and_offset() {
    let (_d, p) = prepare("v3.qcow2", |b| {
        b[20..24].copy_from_slice(&22u32.to_be_bytes())
    });
    let e = Image::open_path(&p).unwrap_err();
    let m = e.to_string();
    assert!(
        m.contains("v3.qcow2")
            && m.contains("cluster_bits")
            && m.contains("offset 20")
            && m.contains("22"),
        "{m}"
    );
    assert_eq!(e.qemu_exit_code(), 1);
    let (_m, p) = prepare("v3.qcow2", |b| b[0..4].copy_from_slice(b"XXXX"));
    assert_eq!(Image::open_path(&p).unwrap_err().qemu_exit_code(), 63);
}

#[test]
fn a_file_cut_inside_its_header_gets_qemu_img_checks_exit_code() {
    // qemu-img probes a file as qcow2 from 8 bytes (magic, version) and
    // reads zeros past its end: cut inside the header it refuses the
    // image (exit 1); shorter, it is raw, which has no check (63).
    let qemu = common::qemu::tools();
    if !qemu {
        println!("skipped: qemu-img not found; checking the documented codes only");
    }
    for (len, documented) in [(5usize, 63), (8, 1), (50, 1), (72, 1), (104, 1)] {
        let (_m, p) = prepare("v3.qcow2", |b| b.truncate(len));
        // Cut past the fixed fields, the header reads and the check
        // reports the rest missing.
        let (ours, what) = match Image::open_path(&p) {
            Ok(img) => {
                let r = check(&img, &CheckOptions::default());
                (r.qemu_exit_code(), format!("{:?}", r.findings))
            }
            Err(e) => {
                assert!(e.is_damage() || len < 8, "{len}: {e}");
                (e.qemu_exit_code(), e.to_string())
            }
        };
        let want = if qemu {
            std::process::Command::new("qemu-img")
                .args(["check", "--output=json", p.to_str().unwrap()])
                .output()
                .unwrap()
                .status
                .code()
                .unwrap()
        } else {
            documented
        };
        assert_eq!(ours, want, "{len} bytes: {what}");
    }
}

#[test]
fn extended_l2_overlay_reads_unallocated_subclusters_from_backing() {
    let (_d, g) = guest("extl2-over.qcow2");
    assert!(g.image().header().extended_l2());
    assert!(all(&byte_at(&g, 0, 4096), 0x01), "backing");
    assert!(all(&byte_at(&g, 4096, 2048), 0x07), "written subcluster");
    assert!(
        all(&byte_at(&g, 6144, 4096), 0x01),
        "unallocated subclusters of an allocated cluster"
    );
    assert!(
        all(&byte_at(&g, 10 << 10, 2048), 0),
        "zero subcluster hides the backing"
    );
    assert!(all(&byte_at(&g, 3 << 20, 6144), 0x08));
    assert!(all(&byte_at(&g, (3 << 20) + 6144, 2048), 0x02));
    assert!(!g.known_zero(6144, 2048));
    assert!(g.known_zero(10 << 10, 2048));
}

#[test]
fn crashed_lazy_refcount_image_reads_and_reports_dirty() {
    let (_d, p) = prepare("lazy-dirty.qcow2", |_| {});
    let img = Arc::new(Image::open_path(&p).unwrap());
    let r = check(&img, &CheckOptions::default());
    let codes: Vec<_> = r.findings.iter().map(|f| f.code.to_string()).collect();
    assert!(
        codes.contains(&"qcow2.header.dirty".to_string()),
        "{codes:?}"
    );
    // The refcounts were never written: every new cluster is "too low",
    // which is what a read-write open would silently repair.
    assert!(r.corruptions > 0 && codes.contains(&"qcow2.refcount.too_low".to_string()));
    let g = Guest::new(img);
    assert!(all(&byte_at(&g, 0, 128 << 10), 0x5d));
    assert!(all(&byte_at(&g, 1 << 20, 64 << 10), 0x5e));
}

#[test]
fn an_id_wins_over_a_name_and_the_other_match_is_said() {
    // Snapshot 2 is named "1": "1" is snapshot 1, and the lookup says
    // that it is also the name of snapshot 2.
    let (_d, p) = prepare("snap-ambiguous.qcow2", |_| {});
    let img = Arc::new(Image::open_path(&p).unwrap());
    let l = img.lookup_snapshot("1").unwrap();
    assert_eq!(l.found.id, "1");
    assert_eq!(l.also_name_of.map(|s| s.id.as_str()), Some("2"));
    assert_eq!(l.found.label(), "1:first");
    let l = img.lookup_snapshot("first").unwrap();
    assert!(l.also_name_of.is_none());
    assert!(all(
        &byte_at(&Guest::snapshot(Arc::clone(&img), "1").unwrap(), 0, 4096),
        0x61
    ));
    assert!(all(
        &byte_at(&Guest::snapshot(Arc::clone(&img), "2").unwrap(), 0, 4096),
        0x62
    ));
    assert!(all(
        &byte_at(&Guest::snapshot_at(Arc::clone(&img), 1).unwrap(), 0, 4096),
        0x62
    ));
    assert!(Guest::snapshot_at(img, 2).is_err());
}

#[test]
fn an_empty_disk_of_petabytes_is_known_zero_at_once() {
    let (_d, p) = prepare("huge-empty.qcow2", |_| {});
    let img = Arc::new(Image::open_path(&p).unwrap());
    assert_eq!(img.header().size, 32 << 50);
    let g = Guest::new(img);
    assert!(g.known_zero(0, g.len()));
    assert!(g.known_zero(7 << 50, 1 << 40));
    assert!(all(&byte_at(&g, 31 << 50, 65536), 0));
}

/// A qcow2 image in memory with 64 KiB clusters and an L1 table of
/// `l1_entries` entries, all zero but `set` (index, L2 offset).
fn synthetic(l1_entries: u32, set: &[(usize, u64)]) -> Vec<u8> {
    let cs = 65536u64;
    let l1_off = 3 * cs;
    let l1_bytes = u64::from(l1_entries) * 8;
    let mut b = vec![0u8; (l1_off + l1_bytes.next_multiple_of(cs) + cs) as usize];
    b[0..4].copy_from_slice(&imgcheck_qcow2::QCOW2_MAGIC.to_be_bytes());
    b[4..8].copy_from_slice(&3u32.to_be_bytes());
    b[20..24].copy_from_slice(&16u32.to_be_bytes());
    let size = u64::from(l1_entries) * (cs / 8) * cs;
    b[24..32].copy_from_slice(&size.to_be_bytes());
    b[36..40].copy_from_slice(&l1_entries.to_be_bytes());
    b[40..48].copy_from_slice(&l1_off.to_be_bytes());
    b[48..56].copy_from_slice(&cs.to_be_bytes());
    b[56..60].copy_from_slice(&1u32.to_be_bytes());
    b[96..100].copy_from_slice(&4u32.to_be_bytes());
    b[100..104].copy_from_slice(&112u32.to_be_bytes());
    for &(i, l2) in set {
        let at = (l1_off + i as u64 * 8) as usize;
        b[at..at + 8].copy_from_slice(&(l2 | 1 << 63).to_be_bytes());
    }
    b
}

#[test]
fn known_zero_skips_unallocated_l1_ranges_wholesale() {
    // 2 M L1 entries (1 PiB with 64 KiB clusters): one step per L2 range
    // would pass the step bound and answer "unknown".
    let n = 2 << 20;
    let b = synthetic(n, &[(1 << 20, 2 * 65536)]);
    let img = Image::open(Arc::new(imgcheck_core::BytesReader::new(b))).unwrap();
    let g = Guest::new(Arc::new(img));
    let per = 8192u64 * 65536;
    assert!(
        g.known_zero(0, per << 20),
        "everything before the one table"
    );
    assert!(g.known_zero((per << 20) + per, g.len() - (per << 20) - per));
    // The table at cluster 2 is the refcount block here, zero: unallocated.
    assert!(g.known_zero(0, g.len()));
}

#[test]
fn snapshot_dates_are_none_when_not_recorded() {
    let (_d, p) = prepare("snap.qcow2", |b| {
        // The second entry's date zeroed, as a truncated table reads.
        let m = common::damage::map(b);
        let at = m.snapshots[1] as usize + 16;
        b[at..at + 8].fill(0);
    });
    let img = Image::open_path(&p).unwrap();
    assert_eq!(img.snapshots()[0].date(), Some(1_705_312_800));
    assert_eq!(img.snapshots()[1].date(), None);
}

/// A reader that counts the reads made through it.
struct Counting(Arc<dyn ReadAt>, std::sync::atomic::AtomicUsize);

impl ReadAt for Counting {
    fn len(&self) -> u64 {
        self.0.len()
    }
    fn read_exact_at(&self, off: u64, buf: &mut [u8]) -> Result<(), imgcheck_core::ReadError> {
        self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.0.read_exact_at(off, buf)
    }
    fn known_zero(&self, off: u64, len: u64) -> bool {
        self.0.known_zero(off, len)
    }
}

#[test]
fn clusters_adjacent_in_the_file_are_read_with_one_pread() {
    // qemu-io writes 4 MiB in one request: 64 clusters that qemu lays out
    // back to back. One pread per cluster made `--scan` of a qcow2 half as
    // fast as `cat` (bench/RESULTS.md).
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("seq.qcow2");
    let run = |args: &[&str]| {
        assert!(
            std::process::Command::new(args[0])
                .args(&args[1..])
                .stdout(std::process::Stdio::null())
                .status()
                .unwrap()
                .success(),
            "{args:?}"
        );
    };
    let ps = p.to_str().unwrap();
    run(&["qemu-img", "create", "-q", "-f", "qcow2", ps, "8M"]);
    run(&["qemu-io", "-c", "write -P 0x77 0 4M", ps]);
    let file: Arc<dyn ReadAt> = Arc::new(BytesReader::new(std::fs::read(&p).unwrap()));
    let counting = Arc::new(Counting(file, std::sync::atomic::AtomicUsize::new(0)));
    let img = Image::open_with(counting.clone(), None, &Default::default()).unwrap();
    let g = Guest::new(Arc::new(img));
    let before = counting.1.load(std::sync::atomic::Ordering::Relaxed);
    let b = byte_at(&g, 0, 4 << 20);
    assert!(all(&b, 0x77));
    let reads = counting.1.load(std::sync::atomic::Ordering::Relaxed) - before;
    // The L2 table once, then the data: never one read per cluster (64).
    assert!(reads <= 4, "{reads} reads for 64 adjacent clusters");
    // The unwritten half reads as zeros with no data read at all.
    let before = counting.1.load(std::sync::atomic::Ordering::Relaxed);
    assert!(all(&byte_at(&g, 4 << 20, 4 << 20), 0));
    assert!(counting.1.load(std::sync::atomic::Ordering::Relaxed) - before <= 1);
}

/// Preallocated clusters (qemu-img preallocation=metadata and falloc) whose
/// host bytes are a hole or an unwritten extent read as zeros: the guest
/// says so without reading them, and data written into one is not zero.
#[test]
fn preallocated_clusters_over_host_holes_are_known_zero() {
    if std::process::Command::new("qemu-img")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("SKIPPED: qemu-img is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for prealloc in ["metadata", "falloc"] {
        let p = dir.path().join(format!("{prealloc}.qcow2"));
        let st = std::process::Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2", "-o"])
            .arg(format!("preallocation={prealloc}"))
            .arg(&p)
            .arg("1G")
            .status()
            .unwrap();
        assert!(st.success());
        let st = std::process::Command::new("qemu-io")
            .args(["-f", "qcow2", "-c", "write -P 7 300M 64k"])
            .arg(&p)
            .output()
            .unwrap();
        assert!(st.status.success(), "{st:?}");
        let g = Guest::new(Arc::new(Image::open_path(&p).unwrap()));
        // Holes only where the file system reports them (ext4, XFS, tmpfs).
        let holes = imgcheck_core::FileReader::open(&p)
            .unwrap()
            .known_zero(0, 1 << 20)
            || imgcheck_core::FileReader::open(&p)
                .unwrap()
                .known_zero(64 << 20, 1 << 20);
        if !holes {
            println!("SKIPPED: {prealloc}: the file system reports no holes");
            continue;
        }
        assert!(g.known_zero(0, 1 << 20), "{prealloc}: head");
        assert!(g.known_zero(0, 300 << 20), "{prealloc}: up to the data");
        assert!(!g.known_zero(300 << 20, 4096), "{prealloc}: written data");
        assert!(!g.known_zero(0, g.len()), "{prealloc}: whole disk");
        assert!(
            g.known_zero((300 << 20) + 65536, g.len() - (300 << 20) - 65536),
            "{prealloc}: tail"
        );
    }
}

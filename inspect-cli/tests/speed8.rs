//! How `imgcheck compare` reads (issue 18): on worker threads, each
//! reading both copies of the stretches it takes, slice by slice
//! ([`SLICE`]) so that both slices are compared while in cache, the memory
//! a compare holds bounded whatever the disk's size, with the same
//! divergence as one thread reading from start to end. The replicas are
//! testdata/scripts/compare.sh's (qemu-img convert, qemu-io writes,
//! sgdisk, mkfs.ext4).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

use imgcheck::compare::diverge::{SLICE, diverge, diverge_serial};
use imgcheck::compare::source::Copy;
use imgcheck_core::{ReadAt, ReadError};
use imgcheck_testdata::fixture;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

/// A guest disk that logs each read: its length and the thread it ran on.
struct Logged {
    inner: Arc<dyn ReadAt>,
    log: Arc<Mutex<Vec<(usize, ThreadId)>>>,
}

impl ReadAt for Logged {
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        self.log
            .lock()
            .unwrap()
            .push((buf.len(), std::thread::current().id()));
        self.inner.read_exact_at(offset, buf)
    }
    fn known_zero(&self, offset: u64, len: u64) -> bool {
        self.inner.known_zero(offset, len)
    }
}

type Log = Arc<Mutex<Vec<(usize, ThreadId)>>>;

fn logged(rel: &str) -> (Copy, Log) {
    let path = fixture(rel);
    let mut c = Copy::open(path.to_str().unwrap()).unwrap();
    let log: Log = Arc::default();
    c.disk = Arc::new(Logged {
        inner: Arc::clone(&c.disk),
        log: Arc::clone(&log),
    });
    (c, log)
}

#[test]
fn both_copies_are_read_on_workers_in_bounded_slices() {
    let (a, la) = logged("compare/replica1.qcow2");
    let (b, lb) = logged("compare/replica2.qcow2");
    let here = std::thread::current().id();
    let d = diverge(&a, &b);
    let (ra, rb) = (la.lock().unwrap().clone(), lb.lock().unwrap().clone());
    assert!(!ra.is_empty() && !rb.is_empty(), "both copies are read");
    let most = ra.iter().chain(&rb).map(|(n, _)| *n).max().unwrap();
    assert!(
        most <= SLICE,
        "a read of {most} bytes: past the {SLICE}-byte slice"
    );
    assert!(
        ra.iter().chain(&rb).all(|(_, t)| *t != here),
        "the copies are read on the workers, not the caller's thread"
    );
    // The same answer as one thread reading both, and the replicas
    // differ where compare.sh wrote into them.
    let s = diverge_serial(&a, &b);
    assert_eq!(
        serde_json::to_string(&d).unwrap(),
        serde_json::to_string(&s).unwrap()
    );
    assert!(!d.identical() && d.differing > 0 && d.read > 0);
    assert_eq!(rb.len(), lb.lock().unwrap().len() / 2, "twice: both runs");
}

/// A layer that stands in for another (same name, probe and checks)
/// and tells the test when the partition it checks is done; the check
/// of partition 1 first waits (a bounded time) for partition 3's.
struct Gated {
    inner: &'static dyn imgcheck_core::Inspector,
    done: Arc<(Mutex<Vec<u32>>, std::sync::Condvar)>,
    /// Whether partition 1's check saw partition 3 done before it began.
    saw: Arc<Mutex<Option<bool>>>,
}

impl imgcheck_core::Inspector for Gated {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn probe(
        &self,
        reader: &dyn ReadAt,
        cx: &imgcheck_core::Context<'_>,
    ) -> Option<imgcheck_core::Probe> {
        self.inner.probe(reader, cx)
    }
    fn inspect(
        &self,
        reader: &Arc<dyn ReadAt>,
        cx: &imgcheck_core::Context<'_>,
    ) -> imgcheck_core::Inspected {
        let part = cx.place.0.iter().rev().find_map(|s| match s {
            imgcheck_core::Step::Partition(n) => Some(*n),
            _ => None,
        });
        let (lock, cv) = &*self.done;
        if part == Some(1) {
            let g = lock.lock().unwrap();
            let (g, _) = cv
                .wait_timeout_while(g, std::time::Duration::from_secs(10), |d| !d.contains(&3))
                .unwrap();
            *self.saw.lock().unwrap() = Some(g.contains(&3));
        }
        let out = self.inner.inspect(reader, cx);
        if let Some(n) = part {
            lock.lock().unwrap().push(n);
            cv.notify_all();
        }
        out
    }
}

#[test]
fn a_free_lane_takes_the_next_partition_and_the_report_is_the_same() {
    use imgcheck::options::Options;
    use imgcheck::pipeline::{inspect_with, open_file};
    use imgcheck::registry::{REGISTRY, replacing_all};
    // gpt-fs.img (testdata/scripts/gpt.sh: sgdisk, mkfs.ext4, mkfs.xfs,
    // mkswap): ext4 in partition 1, XFS in 2, swap in 3, an empty 4.
    let path = fixture("gpt/gpt-fs.img");
    let find = |n: &str| *REGISTRY.iter().find(|l| l.name() == n).unwrap();
    let done: Arc<(Mutex<Vec<u32>>, std::sync::Condvar)> = Arc::default();
    let saw: Arc<Mutex<Option<bool>>> = Arc::default();
    let gated: Vec<Gated> = ["ext4", "xfs", "signature"]
        .iter()
        .map(|n| Gated {
            inner: find(n),
            done: Arc::clone(&done),
            saw: Arc::clone(&saw),
        })
        .collect();
    let layers: Vec<&dyn imgcheck_core::Inspector> = gated
        .iter()
        .map(|g| g as &dyn imgcheck_core::Inspector)
        .collect();
    let registry = replacing_all(&layers);
    let opts = Options {
        jobs: 2,
        ..Options::default()
    };
    let file = open_file(&path).unwrap();
    let two = inspect_with(&registry, "gpt-fs.img", file, None, &opts).unwrap();
    // Partition 1's check held its lane until partition 3 was checked:
    // the other lane took 2 and then 3. Dealt out in turn (1 and 3 to
    // one lane, 2 and 4 to the other), 3 waited behind 1.
    assert_eq!(
        *saw.lock().unwrap(),
        Some(true),
        "partition 3 was checked while partition 1 held its lane"
    );
    let file = open_file(&path).unwrap();
    let one = imgcheck::pipeline::inspect_with(
        REGISTRY,
        "gpt-fs.img",
        file,
        None,
        &Options {
            jobs: 1,
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(
        imgcheck::render::text(&two),
        imgcheck::render::text(&one),
        "--jobs 2 reports what --jobs 1 does"
    );
}

/// Runs `qemu-img ARGS`, or says why the test is skipped.
fn qemu_img(args: &[&str]) -> Option<String> {
    let o = std::process::Command::new("qemu-img").args(args).output();
    match o {
        Ok(o) if o.status.success() => Some(String::from_utf8_lossy(&o.stdout).into_owned()),
        Ok(o) => panic!("qemu-img {args:?}: {}", String::from_utf8_lossy(&o.stderr)),
        Err(_) => {
            eprintln!("SKIP: qemu-img not installed");
            None
        }
    }
}

#[test]
fn a_truncated_copy_is_unreadable_from_its_first_lost_cluster_as_one_range() {
    // 136 MiB of data (68 chunks of 2 MiB) in qcow2 by qemu-img convert,
    // the file cut to 1 MiB: the first clusters stay readable, the rest
    // lie past the end of the file.
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("a.raw");
    let q = dir.path().join("b.qcow2");
    std::fs::write(&raw, vec![0x5au8; 136 << 20]).unwrap();
    let (rs, qs) = (raw.to_str().unwrap(), q.to_str().unwrap());
    if qemu_img(&["convert", "-f", "raw", "-O", "qcow2", rs, qs]).is_none() {
        return;
    }
    let map = qemu_img(&["map", "--output=json", qs]).unwrap();
    let cut: u64 = 1 << 20;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&q)
        .unwrap()
        .set_len(cut)
        .unwrap();
    // The first guest byte whose cluster lies past the cut, by qemu-img's map.
    let extents: serde_json::Value = serde_json::from_str(&map).unwrap();
    let lost = extents
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| {
            let (start, len) = (e["start"].as_u64()?, e["length"].as_u64()?);
            let host = e["offset"].as_u64()?;
            (host + len > cut).then(|| start + cut.saturating_sub(host))
        })
        .min()
        .unwrap();
    assert!(lost > 0 && lost % 512 == 0, "{lost}");
    let a = Copy::open(rs).unwrap();
    let b = Copy::open(qs).unwrap();
    let d = diverge(&a, &b);
    assert_eq!(d.first, Some(lost), "the first byte nobody can compare");
    assert_eq!(d.ranges.first().map(|r| r.start), Some(lost));
    assert_eq!(d.differing, (136 << 20) - lost, "the readable bytes agree");
    // One stretch, one range, whatever the number of chunks it spans.
    assert_eq!(d.unreadable.len(), 1, "{:?}", d.unreadable);
    let u = &d.unreadable[0];
    assert_eq!((u.copy, u.range.start, u.range.end()), (1, lost, 136 << 20));
    assert_eq!(d.unreadable_unlisted, 0);
}

#[test]
fn a_cut_ext2_is_truncated_and_its_sound_bitmaps_are_not_accused() {
    // mkfs.ext2 makes the filesystems; each is cut inside a block group:
    // one group of 64 blocks cut after block 20 (lost+found and the
    // resize inode own blocks 20-22, past the cut), and four groups of
    // 1024 blocks cut in the third.
    use imgcheck::options::Options;
    use imgcheck::pipeline::inspect_image;
    let dir = tempfile::tempdir().unwrap();
    for (name, args, cut) in [
        ("one.img", vec!["-N", "16"], 20u64 << 10),
        ("four.img", vec!["-g", "1024", "-N", "64"], 2560 << 10),
    ] {
        let p = dir.path().join(name);
        let size = if name == "one.img" { "64K" } else { "4M" };
        let ok = std::process::Command::new("mkfs.ext2")
            .args(["-q", "-F", "-b", "1024"])
            .args(&args)
            .arg(&p)
            .arg(size)
            .status();
        let Ok(st) = ok else {
            eprintln!("SKIP: mkfs.ext2 not installed");
            return;
        };
        assert!(st.success());
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(cut)
            .unwrap();
        let r = inspect_image(&p, None, &Options::default()).unwrap();
        let codes: Vec<String> = r.findings().iter().map(|f| f.code.to_string()).collect();
        assert!(
            codes.iter().any(|c| c == "ext4.size.truncated"),
            "{name}: {codes:?}"
        );
        for wrong in [
            "ext4.group.free_blocks_count",
            "ext4.group.free_inodes_count",
            "ext4.bitmap.block_differences",
            "ext4.bitmap.inode_differences",
            "ext4.superblock.free_blocks_wrong",
            "ext4.superblock.free_inodes_wrong",
        ] {
            assert!(
                !codes.iter().any(|c| c == wrong),
                "{name}: {wrong} in {codes:?}"
            );
        }
    }
}

#[test]
fn bytes_in_a_missing_backing_file_are_unreadable_not_zeros() {
    // An overlay (qemu-img create -b) on a raw base of 4 MiB, one cluster
    // written by qemu-io; the base then renamed away.
    let dir = tempfile::tempdir().unwrap();
    let (base, copy, ov) = (
        dir.path().join("base.raw"),
        dir.path().join("copy.raw"),
        dir.path().join("ov.qcow2"),
    );
    let data: Vec<u8> = (0..4u32 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(&base, &data).unwrap();
    std::fs::write(&copy, &data).unwrap();
    let (bs, os) = (base.to_str().unwrap(), ov.to_str().unwrap());
    if qemu_img(&["create", "-q", "-f", "qcow2", "-b", bs, "-F", "raw", os]).is_none() {
        return;
    }
    let st = std::process::Command::new("qemu-io")
        .args(["-f", "qcow2", "-c", "write -P 0x11 1M 64k", os])
        .output();
    let Ok(st) = st else {
        eprintln!("SKIP: qemu-io not installed");
        return;
    };
    assert!(st.status.success());
    std::fs::rename(&base, dir.path().join("gone.raw")).unwrap();
    let a = Copy::open(copy.to_str().unwrap()).unwrap();
    let b = Copy::open(os).unwrap();
    let d = diverge(&a, &b);
    let lost: Vec<(u64, u64)> = d
        .unreadable
        .iter()
        .map(|u| {
            assert_eq!(u.copy, 1);
            assert!(u.why.contains("does not exist"), "{}", u.why);
            (u.range.start, u.range.end())
        })
        .collect();
    // Everything but the overlay's own cluster, which it holds and which
    // differs from the copy's bytes.
    assert_eq!(lost, vec![(0, 1 << 20), ((1 << 20) + (64 << 10), 4 << 20)]);
    assert_eq!(d.differing, 4 << 20);
}

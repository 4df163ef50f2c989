//! Reference counts above what the checker's one-byte cells hold (7 and
//! up live in a side table): an image made by qemu-img with nine internal
//! snapshots, whose data cluster has refcount 10, checked clean and with
//! that refcount damaged both ways, against `qemu-img check`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

mod common;
use common::*;
use imgcheck_qcow2::{CheckOptions, Image, L1E_OFFSET_MASK, L2E_OFFSET_MASK, check};
use std::path::Path;
use std::process::Command;

fn run(cmd: &mut Command) {
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// (corruptions, leaks, codes) of our check.
fn ours(p: &Path) -> (u64, u64, Vec<String>) {
    let img = Image::open_path(p).unwrap();
    let r = check(&img, &CheckOptions::default());
    let codes = r
        .findings
        .iter()
        .filter(|f| f.code != "qcow2.stats")
        .map(|f| f.code.to_string())
        .collect();
    (r.corruptions, r.leaks, codes)
}

#[test]
fn refcounts_above_one_byte_cells() {
    if !qemu_img() {
        println!("skipped: qemu-img not found");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("wide.qcow2");
    run(Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&p)
        .arg("1M"));
    run(Command::new("qemu-io")
        .args(["-c", "write -q -P 0x5a 0 64k"])
        .arg(&p));
    for i in 0..9 {
        run(Command::new("qemu-img")
            .args(["snapshot", "-c", &format!("s{i}")])
            .arg(&p));
    }
    let clean = std::fs::read(&p).unwrap();
    let cbits = u32::from_be_bytes(clean[20..24].try_into().unwrap());
    let l1 = be64(&clean, 40) as usize;
    let l2 = (be64(&clean, l1) & L1E_OFFSET_MASK) as usize;
    let data = be64(&clean, l2) & L2E_OFFSET_MASK;
    let reft = be64(&clean, 48) as usize;
    let block = (be64(&clean, reft) & !0x1ff) as usize;
    // 16-bit refcounts (the default): entry of the data cluster.
    let at = block + 2 * (data >> cbits) as usize;
    // The active L1 and nine snapshot L1s all share one L2 table, which
    // holds the data cluster once: 10 references to each.
    assert_eq!(u16::from_be_bytes([clean[at], clean[at + 1]]), 10);
    let l2_at = block + 2 * (l2 >> cbits);
    assert_eq!(u16::from_be_bytes([clean[l2_at], clean[l2_at + 1]]), 10);

    assert_eq!(ours(&p), (0, 0, vec![]));
    let q = qemu_check(&p);
    assert_eq!((q.0, q.1), (0, 0), "{}", q.4);

    for (value, want_corruptions, want_leaks, code) in [
        (9u16, 1u64, 0u64, "qcow2.refcount.too_low"),
        (11, 0, 1, "qcow2.refcount.leak"),
    ] {
        let mut b = clean.clone();
        b[at..at + 2].copy_from_slice(&value.to_be_bytes());
        std::fs::write(&p, &b).unwrap();
        let (c, l, codes) = ours(&p);
        assert_eq!((c, l), (want_corruptions, want_leaks), "{codes:?}");
        assert!(codes.iter().any(|x| x == code), "{codes:?}");
        let q = qemu_check(&p);
        assert_eq!((q.0, q.1), (c, l), "{}", q.4);
    }
}

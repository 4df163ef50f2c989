//! Guest bytes read through the crate equal what qemu-img converts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

mod common;
use common::*;
use imgcheck_core::ReadAt;
use imgcheck_qcow2::{Guest, Image};
use std::sync::Arc;

fn read_all(g: &Guest) -> Vec<u8> {
    let mut v = vec![0u8; g.len() as usize];
    // Odd-sized chunks cross cluster and subcluster boundaries.
    let step = 100_003usize;
    let mut off = 0;
    while off < v.len() {
        let end = (off + step).min(v.len());
        g.read_exact_at(off as u64, &mut v[off..end]).unwrap();
        off = end;
    }
    v
}

#[test]
fn guest_bytes_equal_qemu_img_convert() {
    if !qemu_img() {
        println!("skipped: qemu-img not found");
        return;
    }
    let mut compared = 0;
    for name in qcow2_fixtures() {
        let (_d, p) = prepare(&name, |_| {});
        let img = Arc::new(Image::open_path(&p).unwrap());
        if img.header().crypt_method != 0 {
            continue; // qemu-img needs the key; see encrypted_reads_fail
        }
        if img.header().size > 1 << 30 {
            continue; // an empty disk of petabytes: see reader.rs
        }
        if img.header().backing_file_offset != 0 {
            // prepare() unpacks one file alone, so its backing file is not
            // beside it; backing chains are read in reader.rs and resolver.rs.
            continue;
        }
        let ours = read_all(&Guest::new(Arc::clone(&img)));
        let theirs = qemu_raw(&p, None);
        assert_eq!(ours.len(), theirs.len(), "{name}: size");
        let first = ours.iter().zip(&theirs).position(|(a, b)| a != b);
        assert!(first.is_none(), "{name}: first difference at {first:?}");
        compared += 1;
        for s in img.snapshots() {
            // By table position and by id: a name may be another's id.
            let ours = read_all(&Guest::snapshot_at(Arc::clone(&img), s.index).unwrap());
            let theirs = qemu_raw(&p, Some(&s.id));
            assert!(
                ours == theirs,
                "{name} snapshot {}: guest bytes differ",
                s.name
            );
            compared += 1;
        }
    }
    println!("compared {compared} guest disks with qemu-img convert");
    assert!(compared >= 24);
}

//! Lookup by path (what the boot chain asks of ext4): a file with holes,
//! as `mke2fs -d` and `cp --sparse` make them in kernels, maps whole —
//! the kernel and GRUB read holes as zeros. An attack found a bootable
//! kernel with one sparse 4 KiB block reported as `boot.linux.kernel_missing`.

use imgcheck_core::BytesReader;
use imgcheck_ext4::Ext4;
use std::io::{Seek, SeekFrom, Write};
use std::process::Command;

#[test]
fn a_file_with_a_hole_maps_whole() {
    if Command::new("mke2fs").arg("-V").output().is_err() {
        println!("SKIPPED: mke2fs is not installed");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let tree = d.path().join("tree");
    std::fs::create_dir_all(tree.join("boot")).unwrap();
    let mut f = std::fs::File::create(tree.join("boot/vmlinuz")).unwrap();
    f.write_all(&[0x4d; 8192]).unwrap();
    f.seek(SeekFrom::Current(16384)).unwrap();
    f.write_all(&[0x5a; 4096]).unwrap();
    drop(f);
    let img = d.path().join("fs.img");
    let st = Command::new("mke2fs")
        .args(["-q", "-F", "-t", "ext4", "-b", "4096", "-d"])
        .arg(&tree)
        .arg(&img)
        .arg("8M")
        .status()
        .unwrap();
    assert!(st.success());
    let bytes = BytesReader::new(std::fs::read(&img).unwrap());
    let fs = Ext4::open(&bytes).unwrap();
    let found = fs
        .lookup("/boot/vmlinuz")
        .unwrap()
        .expect("the file is there");
    let mapped: u64 = found.runs.iter().map(|r| r.len).sum();
    assert_eq!(
        mapped, 3,
        "two data blocks and one after the hole: {:?}",
        found.runs
    );
    assert_eq!(found.problem, None, "a hole is not a read failure");
}

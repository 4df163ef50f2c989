//! The file-level API on the fixtures: lookups as Linux does them, chains
//! as byte extents, reads, the path map — and a differential against
//! mtools, which copies every file out (`mcopy -s`) for a byte-by-byte
//! comparison with what [`Volume::read`] returns.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]
mod common;
use common::img::Img;
use imgcheck_fat::{ByteRange, ChainEnd, FileError, MapLimits};
use std::path::Path;
use std::process::Command;

#[test]
fn lookups_are_case_insensitive_and_long_name_aware() {
    let i = Img::load("fat32-34m.img");
    let v = i.vol();
    let e = v.lookup(r"\EFI\BOOT\BOOTX64.EFI").unwrap().unwrap();
    assert_eq!(e, v.lookup("/efi/boot/bootx64.efi").unwrap().unwrap());
    assert_eq!((e.size, e.path.as_str()), (4096, "/EFI/BOOT/BOOTX64.EFI"));
    let head = v.read(&e, 2).unwrap();
    assert_eq!(head, b"MZ");
    let long = v
        .lookup("/DOCS/a long FILE name with spaces.TXT")
        .unwrap()
        .unwrap();
    assert_eq!(long.name, "A long file name with spaces.txt");
    assert_eq!(long.short_name, "ALONGF~1.TXT");
    assert_eq!(
        v.lookup("/docs/ALONGF~1.TXT").unwrap().unwrap(),
        long,
        "the 8.3 alias finds it too"
    );
    assert!(v.lookup("/names/ünïcödé ÑAME.TXT").unwrap().is_some());
    assert!(v.lookup("/docs/./../docs/lower.txt").unwrap().is_some());
    assert!(v.lookup("/docs/nothing").unwrap().is_none());
    assert!(
        v.lookup("/HELLO.TXT/x").unwrap().is_none(),
        "a file is not a directory"
    );
    assert!(v.lookup("/").unwrap().unwrap().is_dir());
}

#[test]
fn chains_are_byte_extents() {
    let i = Img::load("fat16-16m.img");
    let v = i.vol();
    let e = v.lookup("/docs/fragmented.txt").unwrap().unwrap();
    let ch = v.chain(&e);
    assert!(
        ch.extents.len() > 1,
        "the fragmented file is in pieces: {:?}",
        ch.extents
    );
    assert_eq!(ch.bytes, u64::from(e.size));
    assert_eq!(ch.end, ChainEnd::Size);
    let want: String = (1..=20000).map(|n| format!("{n}\n")).collect();
    assert_eq!(v.read(&e, u64::MAX).unwrap(), want.as_bytes());
    assert_eq!(v.read(&e, 10).unwrap(), b"1\n2\n3\n4\n5\n");
    let empty = v.lookup("/empty.dat").unwrap().unwrap();
    assert_eq!(v.chain(&empty).end, ChainEnd::Empty);
    assert!(v.read(&empty, 100).unwrap().is_empty());
    let dir = v.lookup("/wide").unwrap().unwrap();
    assert_eq!(v.chain(&dir).end, ChainEnd::Eoc);
}

#[test]
fn a_broken_chain_is_an_error_that_says_how() {
    let mut i = Img::load("fat16-16m.img");
    let ch = i.clusters("/big.bin");
    i.set_fat(ch[5], 0);
    let v = i.vol();
    let e = v.lookup("/big.bin").unwrap().unwrap();
    assert!(v.read(&e, 1000).is_ok(), "the part before the break reads");
    match v.read(&e, u64::MAX) {
        Err(FileError::ChainBroken { end, covered, .. }) => {
            assert_eq!(end, ChainEnd::Free { cluster: ch[5] });
            assert_eq!(covered, 5 * 2048);
        }
        other => panic!("{other:?}"),
    }
    let mut i = Img::load("fat16-16m.img");
    i.set_fat(*ch.last().unwrap(), ch[0]);
    let v = i.vol();
    let mut e = v.lookup("/big.bin").unwrap().unwrap();
    e.size = u32::MAX;
    assert_eq!(v.chain(&e).end, ChainEnd::Loop { cluster: ch[0] });
}

#[test]
fn the_file_map_names_the_owner_of_a_range() {
    let i = Img::load("fat32-34m.img");
    let v = i.vol();
    let map = v.file_map(&MapLimits::default());
    assert!(!map.incomplete);
    let e = v.lookup("/EFI/BOOT/BOOTX64.EFI").unwrap().unwrap();
    let x = v.chain(&e).extents[0];
    let hit = map.owners(ByteRange {
        start: x.start + 100,
        len: 10,
    });
    assert_eq!(
        hit,
        vec![(
            "/EFI/BOOT/BOOTX64.EFI",
            ByteRange {
                start: x.start + 100,
                len: 10
            }
        )]
    );
    // A range over the whole data area hits every file with data.
    let all = map.owners(ByteRange {
        start: 0,
        len: i.b.len() as u64,
    });
    let with_data = map.files.iter().filter(|f| !f.extents.is_empty()).count();
    let paths: std::collections::BTreeSet<&str> = all.iter().map(|(p, _)| *p).collect();
    assert_eq!(paths.len(), with_data);
    let limited = v.file_map(&MapLimits {
        max_files: 5,
        max_extents: 1000,
    });
    assert!(limited.incomplete && limited.files.len() == 5);
}

fn mtools() -> bool {
    Command::new("mcopy")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, base, out);
        } else {
            out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
        }
    }
}

#[test]
fn every_file_reads_as_mtools_copies_it() {
    if !mtools() {
        eprintln!("SKIPPED mtools differential: mtools is not installed");
        return;
    }
    let mut compared = 0;
    for name in imgcheck_testdata::list("fat") {
        let src = imgcheck_testdata::fixture(&name);
        let i = Img::load(name.trim_start_matches("fat/"));
        let v = i.vol();
        let map = v.file_map(&MapLimits::default());
        let files: Vec<_> = map.files.iter().filter(|f| !f.is_dir).collect();
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mcopy")
            .env("MTOOLS_SKIP_CHECK", "1")
            .args(["-s", "-n", "-m", "-i"])
            .arg(&src)
            .arg("::*")
            .arg(dir.path())
            .output()
            .unwrap();
        if files.is_empty() {
            continue;
        }
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut host = Vec::new();
        walk(dir.path(), dir.path(), &mut host);
        host.sort();
        let mut ours: Vec<String> = files
            .iter()
            .map(|f| f.path.trim_start_matches('/').to_string())
            .collect();
        ours.sort();
        assert_eq!(
            ours, host,
            "{name}: the files mtools copies out are the files the map has"
        );
        for p in &host {
            let e = v.lookup(p).unwrap().unwrap();
            let want = std::fs::read(dir.path().join(p)).unwrap();
            assert_eq!(v.read(&e, u64::MAX).unwrap(), want, "{name}: {p}");
            compared += 1;
        }
    }
    assert!(compared > 500, "{compared} files compared");
    println!("mtools differential: {compared} files read byte-identical to mcopy's copies");
}

//! The path lookup (xfs::path) against what the kernel's mount and
//! xfs_db show for the same filesystem (testdata/scripts/xfs-paths.sh):
//! every path found with its type and size, every directory's names,
//! every regular file's extents equal to xfs_db's bmap, symlinks
//! followed within GRUB's bound, and a damaged copy's broken map named.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

use imgcheck_core::FileReader;
use imgcheck_testdata::{Patch, damaged, fixture};
use imgcheck_xfs::path::Xfs;
use std::collections::BTreeMap;

struct Listing {
    /// path → (type letter, size).
    paths: BTreeMap<String, (char, u64)>,
    /// path → [(file block, fsb, blocks, unwritten)].
    bmaps: BTreeMap<String, Vec<(u64, u64, u64, bool)>>,
    formats: BTreeMap<String, u8>,
}

fn listing(v: &str) -> Listing {
    let text = std::fs::read_to_string(
        imgcheck_testdata::root().join(format!("fixtures/xfs/{v}-paths.listing")),
    )
    .unwrap();
    let mut l = Listing {
        paths: BTreeMap::new(),
        bmaps: BTreeMap::new(),
        formats: BTreeMap::new(),
    };
    for line in text.lines() {
        let w: Vec<&str> = line.split(' ').collect();
        match w[0] {
            "bmap" => l.bmaps.entry(w[1].to_string()).or_default().push((
                w[2].parse().unwrap(),
                w[3].parse().unwrap(),
                w[4].parse().unwrap(),
                w[5] == "1",
            )),
            "format" => {
                l.formats.insert(w[1].to_string(), w[2].parse().unwrap());
            }
            t => {
                l.paths.insert(
                    w[2..].join(" "),
                    (t.chars().next().unwrap(), w[1].parse().unwrap()),
                );
            }
        }
    }
    l
}

fn matches_the_listing(v: &str) {
    let img = fixture(&format!("xfs/{v}-paths.img"));
    let r = FileReader::open(&img).unwrap();
    let fs = Xfs::open(&r).unwrap();
    let l = listing(v);
    assert!(l.paths.len() > 1000, "{v}: {} paths listed", l.paths.len());
    let mut files = 0;
    for (p, (t, size)) in &l.paths {
        let want = format!("/{p}");
        match t {
            'd' => {
                let d = fs
                    .lookup(&want)
                    .unwrap()
                    .unwrap_or_else(|| panic!("{v}: {want} not found"));
                assert!(d.is_dir(), "{v}: {want}");
                let mut names = fs.names(&d, 100_000).unwrap();
                names.sort();
                let prefix = if p.is_empty() {
                    String::new()
                } else {
                    format!("{p}/")
                };
                let mut expect: Vec<String> = l
                    .paths
                    .keys()
                    .filter(|k| {
                        !k.is_empty() && k.starts_with(&prefix) && !k[prefix.len()..].contains('/')
                    })
                    .map(|k| k[prefix.len()..].to_string())
                    .collect();
                expect.sort();
                assert_eq!(names, expect, "{v}: names in {want}");
            }
            'f' => {
                files += 1;
                let f = fs
                    .lookup(&want)
                    .unwrap()
                    .unwrap_or_else(|| panic!("{v}: {want} not found"));
                assert!(f.is_reg(), "{v}: {want}");
                assert_eq!(f.inode.size, *size, "{v}: size of {want}");
                assert_eq!(f.problem, None, "{v}: {want}");
                let got: Vec<(u64, u64, u64, bool)> = f
                    .runs
                    .iter()
                    .map(|r| (r.logical, r.fsb, r.len, r.unwritten))
                    .collect();
                let expect = l.bmaps.get(p.as_str()).cloned().unwrap_or_default();
                assert_eq!(got, expect, "{v}: extents of {want} against xfs_db bmap");
                // The bytes read are the file's: the start of a written file.
                let head = fs.read_head(&f, 4096).unwrap();
                assert_eq!(head.len() as u64, size.min(&4096).to_owned(), "{v}: {want}");
            }
            _ => {}
        }
    }
    assert!(files > 1000, "{v}: {files} files");
}

#[test]
fn v5_lookups_match_the_kernels_mount_and_xfs_db() {
    matches_the_listing("v5");
    // The shapes the listing was made to hold are the ones read.
    let l = listing("v5");
    assert_eq!(l.formats["sf"], 1);
    assert_eq!(l.formats["many"], 3, "a btree-mapped file");
}

#[test]
fn v4_lookups_match_the_prototype_tree_and_xfs_db() {
    matches_the_listing("v4");
    let l = listing("v4");
    assert_eq!(l.formats["sf"], 1);
    assert_eq!(l.formats["node"], 3, "a btree-mapped directory");
}

#[test]
fn symlinks_followed_within_grubs_bound() {
    for v in ["v5", "v4"] {
        let img = fixture(&format!("xfs/{v}-paths.img"));
        let r = FileReader::open(&img).unwrap();
        let fs = Xfs::open(&r).unwrap();
        let k = fs.lookup("/boot/vmlinuz-6.1.0-imgcheck").unwrap().unwrap();
        for p in ["/boot/vmlinuz", "/boot/abs-link"] {
            let f = fs.lookup(p).unwrap().unwrap();
            assert_eq!(f.ino, k.ino, "{v}: {p}");
            assert_eq!(f.inode.size, 70000);
            assert!(
                fs.read_head(&f, 64)
                    .unwrap()
                    .starts_with(b"imgcheck xfs fixture block kernel")
            );
        }
        let up = fs.lookup("/boot/up-link").unwrap().unwrap();
        assert_eq!(up.inode.size, 100, "{v}: ../sf/f2");
        // 8 links (chain2 → … → chain9 → sf/f3) is GRUB's limit; 9 is one past.
        assert_eq!(
            fs.lookup("/chain2").unwrap().unwrap().inode.size,
            100,
            "{v}"
        );
        let e = fs.lookup("/chain1").unwrap_err();
        assert!(e.contains("more than 8 symlinks"), "{v}: {e}");
        assert!(
            fs.lookup("/loopa").is_err(),
            "{v}: a loop is an error, not a hang"
        );
        assert!(fs.lookup("/boot/nothing").unwrap().is_none());
        assert!(fs.lookup("/sf/f1/below-a-file").unwrap().is_none());
    }
}

#[test]
fn a_remote_symlink_reads_through_its_header() {
    // populate's longlink: a 900-byte target, too long for the inode (v5:
    // one XSLM block).
    let img = fixture("xfs/v5-paths.img");
    let r = FileReader::open(&img).unwrap();
    let fs = Xfs::open(&r).unwrap();
    let l = listing("v5");
    let (t, size) = l.paths["longlink"];
    assert_eq!(t, 'l');
    let (d, _) = fs.inode(fs.superblock().rootino).unwrap();
    assert!(d.is_dir());
    // Followed, its target names nothing: absent, not an error.
    assert!(
        fs.lookup("/longlink").unwrap().is_none(),
        "{size}-byte target"
    );
}

#[test]
fn an_extent_past_its_ag_is_a_problem_not_a_panic() {
    // The kernel's first extent record (16 bytes at the data fork) of
    // /boot/vmlinuz-6.1.0-imgcheck, its start block set past every AG.
    let img = fixture("xfs/v5-paths.img");
    let r = FileReader::open(&img).unwrap();
    let fs = Xfs::open(&r).unwrap();
    let k = fs.lookup("/boot/vmlinuz-6.1.0-imgcheck").unwrap().unwrap();
    let sb = fs.superblock().clone();
    let shift = u32::from(sb.agblklog) + u32::from(sb.inopblog);
    let agno = k.ino >> shift;
    let agino = k.ino & ((1 << shift) - 1);
    let at = (agno * u64::from(sb.agblocks) + (agino >> sb.inopblog)) * u64::from(sb.blocksize)
        + (agino & (u64::from(sb.inopblock) - 1)) * u64::from(sb.inodesize);
    let fork = at + 176;
    let bad = damaged(
        "xfs/v5-paths.img",
        &[Patch::be64(fork + 8, (0xFFFF_FFFFu64 << 21) | 18)],
    );
    let r = FileReader::open(bad.path()).unwrap();
    let fs = Xfs::open(&r).unwrap();
    let k = fs.lookup("/boot/vmlinuz-6.1.0-imgcheck").unwrap().unwrap();
    let p = k.problem.expect("a problem");
    assert!(p.contains("outside its allocation group"), "{p}");
    assert!(k.runs.is_empty());
}

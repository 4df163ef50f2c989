//! The reverse map the full check fills, held against e2fsprogs' own
//! block maps: `debugfs icheck` names the inode owning every block the map
//! gives to a file, and `ncheck` the path the map resolves for it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::as_conversions
)]

mod common;

use imgcheck_core::OwnerKind;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

fn debugfs(img: &std::path::Path, cmd: &str) -> Option<String> {
    let out = Command::new("debugfs")
        .arg("-R")
        .arg(cmd)
        .arg(img)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn owner_map_matches_debugfs_icheck_and_ncheck() {
    if Command::new("debugfs").arg("-V").output().is_err() {
        println!("skipped: debugfs (e2fsprogs) not installed");
        return;
    }
    let mut checked = 0usize;
    for name in [
        "ext4-4k",
        "ext4-1k",
        "ext4-uninit",
        "ext2",
        "ext3",
        "ext4-features",
    ] {
        let img = common::load(name);
        let r = common::run(&img, true);
        let map = r.owners.expect("the full check returns a reverse map");
        assert!(map.overflow().is_none());
        let bs = map.block_size();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fs.img");
        std::fs::write(&path, &img).unwrap();
        // Every block the map gives to an inode, and the same number of
        // blocks it gives to nobody (or to the filesystem).
        let mut want: BTreeMap<u64, u32> = BTreeMap::new();
        let mut inodes = BTreeSet::new();
        for o in map.ranges() {
            if o.inode == 0 {
                continue;
            }
            inodes.insert(o.inode);
            for b in (o.start / bs)..(o.end() / bs) {
                want.insert(b, o.inode);
            }
        }
        assert!(map.ranges().iter().any(|o| o.kind == OwnerKind::InodeTable));
        assert!(map.ranges().iter().any(|o| o.kind == OwnerKind::Directory));
        let total = img.len() as u64 / bs;
        let unowned: Vec<u64> = (0..total)
            .filter(|b| map.owner_at(b * bs).is_none_or(|o| o.inode == 0))
            .step_by(7)
            .take(want.len().max(16))
            .collect();
        let blocks: Vec<String> = want.keys().chain(&unowned).map(u64::to_string).collect();
        let mut got: BTreeMap<u64, Option<u32>> = BTreeMap::new();
        for chunk in blocks.chunks(512) {
            let out = debugfs(&path, &format!("icheck {}", chunk.join(" "))).unwrap();
            for line in out.lines().skip(1) {
                let mut f = line.split('\t');
                let (Some(b), Some(i)) = (f.next(), f.next()) else {
                    continue;
                };
                let Ok(b) = b.parse::<u64>() else { continue };
                got.insert(b, i.parse::<u32>().ok());
            }
        }
        for (b, ino) in &want {
            assert_eq!(got.get(b), Some(&Some(*ino)), "{name}: block {b}");
            checked += 1;
        }
        for b in &unowned {
            // The reserved GDT blocks are the resize inode's to debugfs,
            // the descriptor table's to the map.
            let reserved = map
                .owner_at(b * bs)
                .is_some_and(|o| o.kind == OwnerKind::OtherMetadata);
            let theirs = got.get(b).copied().flatten();
            assert!(
                theirs.is_none() || (reserved && theirs == Some(7)),
                "{name}: block {b} is owned by no inode per the map, by {theirs:?} per debugfs"
            );
        }
        // Paths: ncheck lists every name of each inode; the map's first
        // name is one of them and the link count matches.
        let list: Vec<String> = inodes.iter().map(u32::to_string).collect();
        let out = debugfs(&path, &format!("ncheck {}", list.join(" "))).unwrap();
        let mut names: BTreeMap<u32, Vec<String>> = BTreeMap::new();
        for line in out.lines().skip(1) {
            let mut f = line.splitn(2, '\t');
            let (Some(i), Some(p)) = (f.next(), f.next()) else {
                continue;
            };
            let Ok(i) = i.parse::<u32>() else { continue };
            names.entry(i).or_default().push(p.replace("//", "/"));
        }
        for i in &inodes {
            let Some(p) = map.path(*i) else {
                assert!(
                    !names.contains_key(i) || *i == 2,
                    "{name}: inode {i} has names {:?} the map lacks",
                    names.get(i)
                );
                continue;
            };
            if *i == 2 {
                continue;
            }
            let theirs = names.get(i).cloned().unwrap_or_default();
            assert!(
                theirs.contains(&p),
                "{name}: inode {i}: map says {p}, ncheck says {theirs:?}"
            );
            let dirs_dot = map.links(*i) as usize;
            assert!(dirs_dot >= theirs.len().min(1), "{name}: inode {i}");
        }
    }
    println!("{checked} blocks matched debugfs icheck");
    assert!(checked > 100);
}

/// The superblocks, descriptor tables and reserved GDT blocks of every
/// group are labelled where `dumpe2fs` puts them, 1 KiB blocks (the
/// superblock in block 1, the table from block 2) as 4 KiB ones.
#[test]
fn metadata_labels_match_dumpe2fs() {
    if Command::new("dumpe2fs").arg("-V").output().is_err() {
        println!("skipped: dumpe2fs (e2fsprogs) not installed");
        return;
    }
    let mut checked = 0usize;
    for name in ["ext4-1k-default", "ext4-1k", "ext4-4k", "ext2", "ext3"] {
        let img = common::load(name);
        let r = common::run(&img, true);
        let map = r.owners.expect("a reverse map");
        let bs = map.block_size();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fs.img");
        std::fs::write(&path, &img).unwrap();
        let out = Command::new("dumpe2fs").arg(&path).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let span = |s: &str| -> (u64, u64) {
            let s = s.trim().trim_end_matches(',');
            match s.split_once('-') {
                Some((a, b)) => (a.parse().unwrap(), b.parse().unwrap()),
                None => (s.parse().unwrap(), s.parse().unwrap()),
            }
        };
        let field = |l: &str, k: &str| -> Option<(u64, u64)> {
            let rest = l.split(k).nth(1)?;
            Some(span(rest.split([',', ' ']).find(|x| !x.is_empty())?))
        };
        for l in text.lines() {
            let mut want: Vec<((u64, u64), OwnerKind)> = Vec::new();
            if let Some(b) = field(l, "Primary superblock at ") {
                want.push((b, OwnerKind::Superblock));
                if let Some(g) = field(l, "Group descriptors at ") {
                    want.push((g, OwnerKind::GroupDescriptors));
                }
            }
            if let Some(b) = field(l, "Backup superblock at ") {
                want.push((b, OwnerKind::BackupSuperblock));
                if let Some(g) = field(l, "Group descriptors at ") {
                    want.push((g, OwnerKind::BackupSuperblock));
                }
            }
            if let Some(g) = field(l, "Reserved GDT blocks at ") {
                want.push((g, OwnerKind::OtherMetadata));
            }
            for ((a, b), kind) in want {
                for blk in a..=b {
                    // The primary superblock is bytes 1024..2048 whatever
                    // the block size.
                    let at = if kind == OwnerKind::Superblock {
                        1024
                    } else {
                        blk * bs
                    };
                    let got = map.owner_at(at).map(|o| o.kind);
                    assert_eq!(got, Some(kind), "{name}: block {blk} ({l})");
                    checked += 1;
                }
            }
        }
    }
    println!("{checked} metadata blocks labelled as dumpe2fs lays them out");
    assert!(checked > 300);
}

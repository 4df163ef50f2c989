//! Issue 17's typo overwrite (testdata/scripts/lost-typo.sh): a 3.1 MiB
//! GPT+FAT image dd'd (conv=notrunc) over a VM disk's start. What imgcheck
//! says the foreign bytes destroyed of the victim ext4 is held against
//! what debugfs `stats`, `icheck` and `ncheck` compute on the victim's
//! partition as it was BEFORE the overwrite, for the same blocks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

use imgcheck::options::Options;
use imgcheck::report::ImageReport;
use imgcheck_core::OwnerKind;
use imgcheck_testdata::fixture;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// The victim partition's first byte; the foreign image's length (6348
/// sectors, as its own GPT says: alternate_lba 6347).
const P1: u64 = 1 << 20;
const FOREIGN_END: u64 = 6348 * 512;

fn report(path: &Path) -> ImageReport {
    let opts = Options {
        image_path: path.to_path_buf(),
        ..Options::default()
    };
    imgcheck::inspect_image(path, None, &opts).unwrap()
}

fn debugfs(img: &Path, cmd: &str) -> String {
    let out = Command::new("debugfs")
        .arg("-R")
        .arg(cmd)
        .arg(img)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A `N` or `N-M` block range from debugfs' stats.
fn span(s: &str) -> (u64, u64) {
    let s = s.split(',').next().unwrap().trim();
    match s.split_once('-') {
        Some((a, b)) => (a.parse().unwrap(), b.parse().unwrap()),
        None => (s.parse().unwrap(), s.parse().unwrap()),
    }
}

#[test]
fn typo_overwrite_names_what_debugfs_finds_in_the_overwritten_blocks() {
    let victim = fixture("lost/typo-victim-p1.img");
    for name in ["lost/typo-lost.img", "lost/typo-lost.qcow2"] {
        let r = report(&fixture(name));
        let f = r
            .findings()
            .into_iter()
            .find(|f| f.code == "layout.lost.overwrite")
            .unwrap_or_else(|| panic!("{name}: no layout.lost.overwrite"));
        assert!(
            f.message.contains("its own GPT gives"),
            "{name}: the bound is said: {}",
            f.message
        );
        let ev = r
            .lost
            .iter()
            .find(|e| e.start == P1 && e.end == FOREIGN_END)
            .unwrap_or_else(|| panic!("{name}: no loss event over {P1}..{FOREIGN_END}"));
        if Command::new("debugfs").arg("-V").output().is_err() {
            println!("skipped: debugfs (e2fsprogs) not installed; {name} not compared");
            continue;
        }
        let bs = 4096u64;
        let last = (FOREIGN_END - P1).div_ceil(bs); // blocks 0..last
        // The victim's layout before the overwrite, as debugfs reads it.
        let stats = debugfs(&victim, "stats");
        let field = |k: &str| -> u64 {
            stats
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        };
        let ipg = field("Inodes per group:");
        let isz = field("Inode size:");
        let reserved = field("Reserved GDT blocks:");
        let itb = field("Inode blocks per group:");
        let mut meta: BTreeSet<u64> = BTreeSet::from([0, 1]); // superblock, GDT
        let mut inodes: BTreeSet<u64> = BTreeSet::new();
        for l in stats.lines().filter(|l| l.contains("block bitmap at ")) {
            let g: u64 = l.split(':').next().unwrap().trim()[5..]
                .trim()
                .parse()
                .unwrap();
            for (key, n) in [("block bitmap at ", 1), ("inode bitmap at ", 1)] {
                let at = l.split(key).nth(1).map(span).unwrap().0;
                meta.extend((at..at + n).filter(|&b| b < last));
            }
            let a = l.split("inode table at ").nth(1).map(span).unwrap().0;
            for blk in (a..a + itb).filter(|&b| b < last) {
                meta.insert(blk);
                // An inode is lost when the foreign bytes reach into it.
                for k in 0..bs / isz {
                    if blk * bs + k * isz < FOREIGN_END - P1 {
                        inodes.insert(g * ipg + ((blk - a) * bs + k * isz) / isz + 1);
                    }
                }
            }
        }
        let ours_meta: BTreeSet<u64> = ev
            .structures
            .iter()
            .flat_map(|s| (s.range.0 - P1) / bs..(s.range.1 - P1).div_ceil(bs))
            .collect();
        assert_eq!(ours_meta, meta, "{name}: structures vs debugfs stats");
        let ours_inodes: BTreeSet<u64> = ev.inodes_lost.iter().flat_map(|&(a, b)| a..=b).collect();
        assert_eq!(ours_inodes, inodes, "{name}: inodes whose table was hit");
        // icheck over every block: the owners; 7 (the resize inode) owns
        // the reserved GDT blocks, the rest are the files that lost data.
        let blocks: Vec<String> = (0..last).map(|b| b.to_string()).collect();
        let mut owners: BTreeSet<u64> = BTreeSet::new();
        let mut resize_blocks = 0u64;
        for chunk in blocks.chunks(256) {
            for line in debugfs(&victim, &format!("icheck {}", chunk.join(" ")))
                .lines()
                .skip(1)
            {
                if let Some(i) = line.split('\t').nth(1).and_then(|i| i.parse::<u64>().ok()) {
                    if i == 7 {
                        resize_blocks += 1;
                    } else {
                        owners.insert(i);
                    }
                }
            }
        }
        assert_eq!(resize_blocks, reserved.min(last.saturating_sub(2)));
        assert!(
            f.message
                .contains(&format!("reserved GDT blocks ({resize_blocks} blocks)")),
            "{name}: {}",
            f.message
        );
        // Files with data in the range whose inodes survive are named; the
        // rest lost their inodes and are counted by inode number.
        let surviving: BTreeSet<u64> = owners.difference(&inodes).copied().collect();
        let ours_files: BTreeSet<u64> = ev.files.iter().map(|f| u64::from(f.inode)).collect();
        assert_eq!(
            ours_files, surviving,
            "{name}: files with data in the range"
        );
        assert!(ev.files.iter().all(|f| f.path.is_some()));
        // ncheck: the paths of every in-use inode whose table was hit.
        let all: Vec<String> = inodes.iter().map(u64::to_string).collect();
        let named: usize = all
            .chunks(1024)
            .map(|c| {
                debugfs(&victim, &format!("ncheck {}", c.join(" ")))
                    .lines()
                    .skip(1)
                    .count()
            })
            .sum();
        assert!(
            ev.structures
                .iter()
                .any(|s| s.kind == OwnerKind::InodeTable)
        );
        println!(
            "{name}: {} metadata blocks and {} inodes match debugfs stats; {} icheck owners in the range ({} with surviving inodes, named); {named} paths (ncheck) lost with their inodes",
            meta.len(),
            inodes.len(),
            owners.len(),
            surviving.len()
        );
    }
}

#[test]
fn clean_victim_disk_has_no_overwrite_finding() {
    // The victim partition alone, as a bare filesystem: nothing foreign.
    let r = report(&fixture("lost/typo-victim-p1.img"));
    assert!(
        !r.findings()
            .iter()
            .any(|f| f.code == "layout.lost.overwrite" || f.code.starts_with("layout.overwritten")),
        "{:?}",
        r.findings()
            .iter()
            .map(|f| f.code.to_string())
            .collect::<Vec<_>>()
    );
    assert!(r.lost.is_empty());
}

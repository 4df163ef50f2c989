//! A destroyed filesystem is never silent: re-enactments made with sgdisk,
//! sfdisk, mkfs.ext4, mkfs.vfat and dd (testdata/scripts/layout.sh), GPT
//! and MBR, raw and qcow2, one-group 4k and three-group 1k ext4. Where
//! e2fsck is installed, the read-only step the report gives is replayed on
//! a copy of the partition and must read the victim.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

use imgcheck::options::Options;
use imgcheck::report::{ImageReport, Verdict};
use imgcheck_core::Finding;
use imgcheck_testdata::fixture;
use std::path::Path;
use std::process::Command;

fn inspect(path: &Path) -> ImageReport {
    let opts = Options {
        image_path: path.to_path_buf(),
        ..Default::default()
    };
    imgcheck::inspect_image(path, None, &opts).unwrap()
}

fn find<'a>(r: &'a ImageReport, code: &str) -> &'a Finding {
    r.findings()
        .into_iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| {
            panic!(
                "no {code} in {:?}",
                r.findings().iter().map(|f| &f.code).collect::<Vec<_>>()
            )
        })
}

fn no_step_writes(r: &ImageReport) {
    for f in r.findings() {
        assert!(
            f.hint.as_ref().is_none_or(|h| !h.writes),
            "{} offers a write: {:?}",
            f.code,
            f.hint
        );
    }
}

#[test]
fn a_zeroed_superblock_without_a_backup_is_an_error_naming_what_lived_there() {
    let r = inspect(&fixture("layout/destroyed-sb-1group.img"));
    let f = find(&r, "layout.contents.missing");
    assert_eq!(f.place.partition(), Some(1));
    assert!(
        f.message.contains("typed Linux filesystem"),
        "{}",
        f.message
    );
    assert!(
        f.message.contains("no backup ext superblock"),
        "{}",
        f.message
    );
    assert!(
        f.message.contains("jbd2 journal superblock") && f.message.contains("4096-byte blocks"),
        "{}",
        f.message
    );
    assert!(f.message.contains("root directory block"), "{}", f.message);
    assert!(
        f.hint
            .as_ref()
            .unwrap()
            .note
            .as_deref()
            .unwrap()
            .contains("mke2fs -S")
    );
    assert_eq!(r.verdict(), Verdict::Damaged);
    no_step_writes(&r);
}

#[test]
fn a_foreign_image_over_a_partition_names_intruder_and_victim() {
    for name in [
        "layout/destroyed-dd-foreign.img",
        "layout/destroyed-dd-foreign.qcow2",
    ] {
        let r = inspect(&fixture(name));
        let f = find(&r, "layout.overwritten");
        assert_eq!(f.place.partition(), Some(1), "{name}");
        assert!(
            f.message.contains("starts with fat") && f.message.contains("the fat is the intruder"),
            "{name}: {}",
            f.message
        );
        assert!(
            f.message.contains("partition byte 8389632")
                && f.message.contains("last written 2025-11-13"),
            "{name}: {}",
            f.message
        );
        let h = f.hint.as_ref().unwrap();
        assert_eq!(
            h.command.as_deref(),
            Some("e2fsck -fn -b 8193 -B 1024 {dev}"),
            "{name}"
        );
        assert_eq!(r.verdict(), Verdict::Damaged, "{name}");
        no_step_writes(&r);
    }
}

#[test]
fn the_first_8_mib_zeroed_is_read_through_the_backup() {
    let r = inspect(&fixture("layout/destroyed-dd-zero.img"));
    let f = find(&r, "ext4.superblock.magic");
    let h = f.hint.as_ref().unwrap().command.clone().unwrap();
    assert!(h.starts_with("e2fsck -fn -b 8193 -B 1024"), "{h}");
    // The ext4 layer read it: no second finding says it is missing.
    assert!(
        r.findings()
            .iter()
            .all(|f| f.code != "layout.contents.missing"),
        "{:?}",
        r.findings()
    );
    assert_eq!(r.verdict(), Verdict::Damaged);
}

/// The replay: the partition copied out, the read-only step run on the
/// copy: e2fsck opens the victim from its backup (its label in the
/// output, no bad magic; with -n it stops at the journal whose inode was
/// in the overwritten part, exit 4|8), no usage error, and the copy is
/// unchanged.
#[test]
fn replay_the_suggested_e2fsck_on_a_copy() {
    if Command::new("e2fsck").arg("-V").output().is_err() {
        println!("SKIPPED: e2fsck not installed");
        eprintln!("SKIPPED: e2fsck not installed");
        return;
    }
    let img = std::fs::read(fixture("layout/destroyed-dd-foreign.img")).unwrap();
    // Partition 1: LBA 2048, 49152 sectors (sfdisk script in layout.sh).
    let part = img[2048 * 512..(2048 + 49152) * 512].to_vec();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("p1.img");
    std::fs::write(&copy, &part).unwrap();
    let r = inspect(&fixture("layout/destroyed-dd-foreign.img"));
    let cmd = find(&r, "layout.overwritten")
        .hint
        .as_ref()
        .unwrap()
        .command
        .clone()
        .unwrap()
        .replace("{dev}", copy.to_str().unwrap());
    let args: Vec<&str> = cmd.split_whitespace().collect();
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let code = out.status.code().unwrap_or(99);
    assert!(code & (16 | 32) == 0, "{cmd}: exit {code}: {text}");
    assert!(!text.contains("Bad magic number"), "{text}");
    assert!(!text.contains("Superblock invalid"), "{text}");
    assert!(text.contains("victim"), "{cmd}: {text}");
    assert_eq!(std::fs::read(&copy).unwrap(), part, "e2fsck -n wrote");
}

#[test]
fn an_empty_partition_is_said_and_data_behind_zeros_is_a_warning() {
    use imgcheck_core::Severity;
    use imgcheck_testdata::{Patch, damaged};
    const P1: u64 = 2048 * 512;
    // sgdisk's partition 1 never formatted (all zeros): told, not judged.
    let d = damaged(
        "layout/destroyed-sb-1group.img",
        &[Patch::Zero {
            offset: P1,
            len: 16 << 20,
        }],
    );
    let r = inspect(d.path());
    let f = find(&r, "layout.contents.missing");
    assert_eq!(f.severity, Severity::Info, "{}", f.message);
    assert!(f.message.contains("never formatted"), "{}", f.message);
    assert_eq!(r.verdict(), Verdict::Clean);
    // Data after zeros: the start was wiped (the 64 KiB at 8 MiB
    // stands for what dd left behind it).
    let d = damaged(
        "layout/destroyed-sb-1group.img",
        &[
            Patch::Zero {
                offset: P1,
                len: 16 << 20,
            },
            Patch::Bytes {
                offset: P1 + (8 << 20),
                bytes: vec![0x5a; 64 << 10],
            },
        ],
    );
    let r = inspect(d.path());
    let f = find(&r, "layout.contents.missing");
    assert_eq!(f.severity, Severity::Warning, "{}", f.message);
    assert!(f.message.contains("start was wiped"), "{}", f.message);
}

/// The typo that wrote a 16 MiB template image over a 64 MiB disk
/// (layout.sh): two tables, the template's at the start and the victim's
/// backup at the end; the victim's ext4 survives past the template's end,
/// newer than the template's. Never "grown", never a step that writes.
#[test]
fn a_template_written_over_a_disk_names_both_and_grows_nothing() {
    for name in ["layout/typo-overwrite.img", "layout/typo-overwrite.qcow2"] {
        let r = inspect(&fixture(name));
        let t = find(&r, "gpt.backup_header.other_table");
        assert!(
            t.message.contains("11111111-2222-3333-4444-000000000031")
                && t.message.contains("written for a 16 MiB disk"),
            "{name}: {}",
            t.message
        );
        let o = find(&r, "layout.overwritten.disk");
        for needle in [
            "UUID 5a5a5a5a-0000-0000-0000-000000000031",
            "last written 2025-11-24",
            "UUID 5a5a5a5a-0000-0000-0000-000000000032, last written 2025-10-09",
            "the victim",
            "intruder",
        ] {
            assert!(
                o.message.contains(needle),
                "{name}: {needle}: {}",
                o.message
            );
        }
        assert!(
            !r.findings()
                .iter()
                .any(|f| f.code == "layout.size_chain.grown"),
            "{name}: an overwrite is not a grown disk"
        );
        no_step_writes(&r);
        for s in &r.next_steps {
            // Advice may name sgdisk -e to warn against it; no step runs it.
            let c = s.as_str();
            assert!(
                !["sgdisk -e /", "growpart /", "resize2fs /"]
                    .iter()
                    .any(|w| c.contains(w))
                    && !c.contains(&format!("sgdisk -e {}", r.path)),
                "{name}: {c}"
            );
        }
        assert_eq!(r.verdict(), Verdict::Damaged);
    }
}

/// The step it gives, replayed on a copy of what the losetup offset
/// names (the victim's partition start to the disk's end): e2fsck finds
/// the victim through the backup superblock, and writes nothing.
#[test]
fn replay_the_victims_e2fsck_on_a_copy() {
    if Command::new("e2fsck").arg("-V").output().is_err() {
        println!("SKIPPED: e2fsck not installed");
        eprintln!("SKIPPED: e2fsck not installed");
        return;
    }
    let path = fixture("layout/typo-overwrite.img");
    let r = inspect(&path);
    let cmd = find(&r, "layout.overwritten.disk")
        .hint
        .as_ref()
        .unwrap()
        .command
        .clone()
        .unwrap();
    let after = |flag: &str| -> String {
        let i = cmd.find(flag).unwrap() + flag.len();
        cmd[i..].split_whitespace().next().unwrap().to_string()
    };
    let (start, b, bs) = (
        after(" -o ").parse::<usize>().unwrap(),
        after(" -b "),
        after(" -B "),
    );
    let img = std::fs::read(&path).unwrap();
    let part = img[start..].to_vec();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("victim.img");
    std::fs::write(&copy, &part).unwrap();
    let out = Command::new("e2fsck")
        .args(["-fn", "-b", &b, "-B", &bs])
        .arg(&copy)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!text.contains("Bad magic number"), "{text}");
    assert!(!text.contains("Superblock invalid"), "{text}");
    assert!(text.contains("victim"), "{cmd}: {text}");
    assert_eq!(std::fs::read(&copy).unwrap(), part, "e2fsck -n wrote");
}

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
            f.message.contains("a FAT boot sector")
                && f.message.contains("the FAT volume is the intruder"),
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

/// The typo with a DOS victim (layout-typo-dos.sh, issue 13 F27): a 64
/// MiB GPT template over a 512 MiB DOS disk whose 4k ext4 keeps no backup
/// table at the end and whose backup superblocks the tail samples miss.
/// It was "grew by 448 MiB" with `sgdisk -e; growpart; resize2fs`, which
/// writes over the victim's group-1 backup: now the overwrite, named, and
/// no step that writes.
#[test]
fn a_gpt_template_over_a_dos_disk_is_an_overwrite_and_grows_nothing() {
    let r = inspect(&fixture("layout/typo-dos.img"));
    let o = find(&r, "layout.overwritten.disk");
    for needle in [
        "UUID 5a5a5a5a-0000-0000-0000-000000002701",
        "backup of group 1, 4096-byte blocks",
        "the victim",
        "intruder",
    ] {
        assert!(o.message.contains(needle), "{needle}: {}", o.message);
    }
    assert!(
        !r.findings()
            .iter()
            .any(|f| f.code == "layout.size_chain.grown"),
        "an overwrite is not a grown disk"
    );
    no_step_writes(&r);
    for s in &r.next_steps {
        assert!(
            !["sgdisk -e", "growpart", "resize2fs"]
                .iter()
                .any(|w| s.contains(w) && !s.contains("no sgdisk -e")),
            "{s}"
        );
    }
    assert_eq!(r.verdict(), Verdict::Damaged);
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

/// What each intruder of testdata/scripts/layout-remnants.sh must be named
/// as, and what of its victim must be named: (fixture, needles, the
/// read-only step).
const REMNANTS: &[(&str, &[&str], Option<&str>)] = &[
    (
        "layout/remnant-xfs.img",
        &[
            "starts with a 32 MiB image, an XFS superblock (XFS v5",
            "UUID 5a5a5a5a-0000-0000-0000-000000000042",
            "partition byte 134217728 (the backup of group 1, 4096-byte blocks, UUID 5a5a5a5a-0000-0000-0000-000000000041, last written 2025-11-24",
            "the XFS filesystem is the intruder",
        ],
        Some("e2fsck -fn -b 32768 -B 4096 {dev}"),
    ),
    (
        "layout/remnant-xfs.qcow2",
        &[
            "an XFS superblock",
            "UUID 5a5a5a5a-0000-0000-0000-000000000041",
        ],
        Some("e2fsck -fn -b 32768 -B 4096 {dev}"),
    ),
    (
        "layout/remnant-lvm.img",
        &[
            "starts with a 4 MiB image, an LVM2 label",
            "IntrPV-aaaa-bbbb-cccc-dddd-eeee-000044",
            "the backup of group 1, 1024-byte blocks, UUID 5a5a5a5a-0000-0000-0000-000000000043, last written 2025-11-24",
            "the LVM2 physical volume is the intruder",
        ],
        Some("e2fsck -fn -b 8193 -B 1024 {dev}"),
    ),
    (
        "layout/remnant-lvm.qcow2",
        &["an LVM2 label", "UUID 5a5a5a5a-0000-0000-0000-000000000043"],
        Some("e2fsck -fn -b 8193 -B 1024 {dev}"),
    ),
    (
        "layout/remnant-fat-1group.img",
        &[
            "starts with a 1 MiB image, a FAT boot sector (FAT12",
            "id 5A5A-0046",
            "the newest entry of its root directory is README.TXT, dated 2025-10-09 12:34:56 UTC",
            // fat_image in layout-remnants.sh: mkfs.vfat under a clock
            // stopped at 2025-11-13 02:13:20 UTC (common.sh's frozen).
            "it was made 2025-11-13 02:13:20 UTC (the date mkfs.fat gave its volume label entry \"INTRUDER\")",
            "jbd2 journal blocks of transactions",
            "a one-group filesystem has none",
            "the FAT volume is the intruder",
        ],
        None,
    ),
];

/// dd of an XFS, LVM2 or dated FAT image over an ext4 partition (GPT and
/// MBR, raw and qcow2, 1k and 4k blocks, one group and three): the
/// intruder named with its identifiers (and a FAT volume's creation and
/// newest dates),
/// the victim with what survives of it, its UUID and last-write time.
#[test]
fn xfs_lvm2_and_fat_intruders_name_their_victims() {
    for (name, needles, step) in REMNANTS {
        let r = inspect(&fixture(name));
        let f = find(&r, "layout.overwritten");
        assert_eq!(f.place.partition(), Some(1), "{name}");
        for n in *needles {
            assert!(f.message.contains(n), "{name}: {n}: {}", f.message);
        }
        let h = f.hint.as_ref().unwrap();
        match step {
            Some(s) => assert_eq!(h.command.as_deref(), Some(*s), "{name}"),
            // No backup: the last resort is e2fsprogs' own, on a copy.
            None => assert!(
                h.note.as_deref().unwrap().contains("mke2fs -S"),
                "{name}: {h:?}"
            ),
        }
        assert_eq!(r.verdict(), Verdict::Damaged, "{name}");
        no_step_writes(&r);
    }
    // A one-group 1k ext4 of 7 MiB keeps every structure, its journal's
    // transactions too, in its first MiB: under a 1 MiB FAT image nothing
    // names the victim. The data behind the image is still said (a
    // warning, never silence), and nothing is guessed.
    let r = inspect(&fixture("layout/remnant-fat-1k.qcow2"));
    let f = find(&r, "layout.overwritten.unknown_victim");
    for n in [
        "a FAT boot sector (FAT12",
        "id 5A5A-0048",
        "README.TXT, dated 2025-10-09 12:34:56 UTC",
        "it was made 2025-11-13 02:13:20 UTC (the date mkfs.fat gave its volume label entry \"INTRUDER\")",
        "data the FAT volume does not own follows",
    ] {
        assert!(f.message.contains(n), "{n}: {}", f.message);
    }
    assert_eq!(f.severity, imgcheck_core::Severity::Warning);
    no_step_writes(&r);
}

/// The replay for each raw remnant with a backup: partition 1 (LBA 2048
/// to the end of the fixture's partition) copied out, the step run on the
/// copy: e2fsck reads the victim, and writes nothing.
#[test]
fn replay_each_remnants_e2fsck_on_a_copy() {
    if Command::new("e2fsck").arg("-V").output().is_err() {
        println!("SKIPPED: e2fsck not installed");
        eprintln!("SKIPPED: e2fsck not installed");
        return;
    }
    for (name, sectors) in [
        ("layout/remnant-xfs.img", 327680usize),
        ("layout/remnant-lvm.img", 49152),
    ] {
        let img = std::fs::read(fixture(name)).unwrap();
        let part = img[2048 * 512..(2048 + sectors) * 512].to_vec();
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("p1.img");
        std::fs::write(&copy, &part).unwrap();
        let r = inspect(&fixture(name));
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
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        let code = out.status.code().unwrap_or(99);
        assert!(code & (16 | 32) == 0, "{name}: {cmd}: exit {code}: {text}");
        assert!(!text.contains("Bad magic number"), "{name}: {text}");
        assert!(text.contains("victim"), "{name}: {cmd}: {text}");
        assert_eq!(
            std::fs::read(&copy).unwrap(),
            part,
            "{name}: e2fsck -n wrote"
        );
    }
}

/// A valid table that does not cover a filesystem still on the disk
/// (layout-remnants.sh): an MBR re-written without its second partition
/// (raw and qcow2), a GPT partition re-created at a typo'd start. The
/// filesystem is named with its UUID and last-write time, and nothing is
/// grown over it.
#[test]
fn a_filesystem_outside_a_valid_table_is_named() {
    for (name, at, uuid) in [
        (
            "layout/outside-mbr.img",
            "disk byte 33554432",
            "5a5a5a5a-0000-0000-0000-000000000052",
        ),
        (
            "layout/outside-mbr.qcow2",
            "disk byte 33554432",
            "5a5a5a5a-0000-0000-0000-000000000052",
        ),
        (
            "layout/outside-gpt.img",
            "disk byte 1048576",
            "5a5a5a5a-0000-0000-0000-000000000053",
        ),
    ] {
        let r = inspect(&fixture(name));
        let f = find(&r, "layout.outside_table");
        for n in [at, uuid, "last written 2025-11-24", "ext4", "re-partition"] {
            assert!(f.message.contains(n), "{name}: {n}: {}", f.message);
        }
        assert_ne!(r.verdict(), Verdict::Clean, "{name}");
        no_step_writes(&r);
        assert!(
            r.next_steps
                .iter()
                .all(|s| !s.contains("growpart /") && !s.contains("sfdisk -N")),
            "{name}: {:?}",
            r.next_steps
        );
    }
    // Its read-only step, replayed on a copy of the bytes it names.
    if Command::new("e2fsck").arg("-V").output().is_err() {
        println!("SKIPPED: e2fsck not installed");
        eprintln!("SKIPPED: e2fsck not installed");
        return;
    }
    let path = fixture("layout/outside-mbr.img");
    let r = inspect(&path);
    let cmd = find(&r, "layout.outside_table")
        .hint
        .as_ref()
        .unwrap()
        .command
        .clone()
        .unwrap();
    let after = |flag: &str| -> usize {
        let i = cmd.find(flag).unwrap() + flag.len();
        cmd[i..].split_whitespace().next().unwrap().parse().unwrap()
    };
    let (start, size) = (after(" -o "), after(" --sizelimit "));
    let img = std::fs::read(&path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("outside.img");
    std::fs::write(&copy, &img[start..start + size]).unwrap();
    let out = Command::new("e2fsck")
        .arg("-fn")
        .arg(&copy)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{cmd}: {text}");
    assert!(text.contains("victim"), "{text}");
}

/// Clean disks made by sgdisk/sfdisk with filesystems where their tables
/// say: the scan past the table finds nothing to name.
#[test]
fn clean_tables_have_nothing_outside() {
    for name in [
        "disk/gpt-two-ext4.img",
        "disk/gpt-two-ext4.qcow2",
        "disk/dos-logical.img",
        "gpt/mbr-logical.img",
        "gpt/gpt-4k.img",
        "gpt/mbr-4k.img",
        "gpt/hybrid.img",
    ] {
        let r = inspect(&fixture(name));
        assert!(
            r.findings()
                .iter()
                .all(|f| f.code != "layout.outside_table"),
            "{name}: {:?}",
            r.findings()
        );
    }
}

/// testdata/scripts/layout-guessed.sh: a partition found by the signature
/// scan with no size of its own is sized to the gap after it. The XFS in
/// it (300 MiB, as mkfs.xfs made it) is not "never grown" into the rest
/// of that guess, which holds a lost NTFS: no grow step, and the size to
/// recreate the partition with is the filesystem's own (a step that
/// writes, on a copy: the proposed table).
#[test]
fn a_partition_sized_by_guess_is_not_a_filesystem_never_grown() {
    let r = inspect(&fixture("layout/guessed-xfs.img"));
    let codes: Vec<String> = r.findings().iter().map(|f| f.code.to_string()).collect();
    assert!(
        !codes.iter().any(|c| c.ends_with(".size.not_grown")),
        "{codes:?}"
    );
    let f = find(&r, "gpt.recovery.size_from_filesystem");
    assert_eq!(f.place.partition(), Some(1));
    assert_eq!(f.offset, 101 << 20);
    assert!(
        f.message.contains(&format!("{} bytes", 300u64 << 20)),
        "{}",
        f.message
    );
    for f in r.findings() {
        let h = format!("{:?}", f.hint);
        assert!(!h.contains("xfs_growfs"), "{}: {h}", f.code);
    }
    // The table to recreate (on a copy) ends the partition where the XFS
    // ends, 300 MiB of 512-byte sectors, not at the disk's end.
    let table = find(&r, "gpt.recovery.partitions_found");
    let cmd = table.hint.as_ref().and_then(|h| h.command.clone()).unwrap();
    assert!(
        cmd.contains(&format!("start={}, size={},", 101 * 2048, 300 * 2048)),
        "{cmd}"
    );
}

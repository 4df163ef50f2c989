//! A partition shrunk under its filesystem (testdata/scripts/
//! layout-shrunk.sh: sfdisk -N rewrote partition 1 smaller, the ext4 or
//! XFS in it kept its size): an error naming both sizes and what lies
//! past the partition's end, and no step that grows anything. The sizes
//! are checked against the peers: e2fsck -fn fails on the partition alone
//! and passes over the filesystem's own extent.
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
fn an_ext4_past_its_shrunk_mbr_partition_names_both_sizes_and_the_free_space_after() {
    let path = fixture("layout/shrunk-mbr-ext4.img");
    let r = inspect(&path);
    let f = find(&r, "layout.size_chain.fs_past_partition");
    assert_eq!(f.place.partition(), Some(1));
    let (start, part, fs) = (2048u64 * 512, 40960u64 * 512, 32u64 << 20);
    assert_eq!(f.offset, start + part);
    for want in [
        format!("is 32 MiB ({fs} bytes)"),
        format!("only 20 MiB ({part} bytes)"),
        format!("disk bytes {}..{}", start + part, start + fs),
        "no partition: the table calls it free space".to_string(),
    ] {
        assert!(f.message.contains(&want), "{want}: {}", f.message);
    }
    let cmd = f.hint.as_ref().unwrap().command.clone().unwrap();
    assert!(
        cmd.contains(&format!("-o {start} --sizelimit {fs}")) && cmd.contains("e2fsck -fn"),
        "{cmd}"
    );
    assert_eq!(r.verdict(), Verdict::Damaged);
    // The free tail after partition 1 is the filesystem's: growpart there
    // is not offered.
    no_step_writes(&r);
    if Command::new("e2fsck").arg("-V").output().is_err() {
        println!("skipped the peer: no e2fsck");
        return;
    }
    let disk = std::fs::read(&path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // e2fsck -n answers its "Abort?" with no and goes on (exit 0): its
    // verdict on the sizes is the line naming both.
    let e2fsck = |len: u64| {
        let p = dir.path().join(format!("fs-{len}"));
        std::fs::write(&p, &disk[start as usize..(start + len) as usize]).unwrap();
        let out = Command::new("e2fsck").arg("-fn").arg(&p).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let (_, text) = e2fsck(part);
    assert!(
        text.contains(&format!(
            "(according to the superblock) is {} blocks",
            fs / 4096
        )) && text.contains(&format!(
            "physical size of the device is {} blocks",
            part / 4096
        )),
        "{text}"
    );
    let (ok, text) = e2fsck(fs);
    assert!(ok && !text.contains("physical size"), "{text}");
}

#[test]
fn an_xfs_past_its_shrunk_gpt_partition_names_the_partition_made_over_its_tail() {
    let r = inspect(&fixture("layout/shrunk-gpt-xfs.img"));
    let f = find(&r, "layout.size_chain.fs_past_partition");
    assert_eq!(f.place.partition(), Some(1));
    for want in [
        format!(
            "xfs filesystem in partition 1 is 64 MiB ({} bytes)",
            64u64 << 20
        ),
        format!("only 40 MiB ({} bytes)", 40u64 << 20),
        format!(
            "partition 2 (24 MiB from disk byte {}, holding ext4",
            83968 * 512
        ),
        "growing partition 1 back would overlap partition 2".to_string(),
    ] {
        assert!(f.message.contains(&want), "{want}: {}", f.message);
    }
    let cmd = f.hint.as_ref().unwrap().command.clone().unwrap();
    assert!(cmd.contains("xfs_repair -n"), "{cmd}");
    no_step_writes(&r);
}

/// testdata/scripts/layout-xfs-victim.sh: a 16 MiB template GPT image
/// dd'd over a 96 MiB disk whose partition 1 held an XFS. The template's
/// table ends at 16 MiB; the victim is found by the secondary superblocks
/// of its AGs (6079 blocks each, no AG on a MiB boundary), named with its
/// start and size, and the only step reads. xfs_repair -n, given the
/// victim's extent, verifies the same secondary superblock.
#[test]
fn a_template_over_an_xfs_disk_names_the_victim_by_its_secondary_superblocks() {
    let path = fixture("layout/typo-overwrite-xfs.img");
    let r = inspect(&path);
    let f = find(&r, "layout.overwritten.disk");
    let (start, len) = (1u64 << 20, 24315u64 * 4096);
    for want in [
        format!(
            "XFS secondary superblock at disk byte {}",
            start + 6079 * 4096
        ),
        "AG 1's, 6079 blocks of 4096 bytes per AG".to_string(),
        "UUID 5a5a5a5a-0000-0000-0000-000000001331".to_string(),
        format!("XFS filesystem starting at disk byte {start}"),
    ] {
        assert!(f.message.contains(&want), "{want}: {}", f.message);
    }
    let cmd = f.hint.as_ref().unwrap().command.clone().unwrap();
    assert!(
        cmd.contains(&format!("-o {start} --sizelimit {len}")) && cmd.contains("xfs_repair -n"),
        "{cmd}"
    );
    assert_eq!(r.verdict(), Verdict::Damaged);
    no_step_writes(&r);
    if Command::new("xfs_repair").arg("-V").output().is_err() {
        println!("skipped the peer: no xfs_repair");
        return;
    }
    let disk = std::fs::read(&path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let v = dir.path().join("victim");
    std::fs::write(&v, &disk[start as usize..(start + len) as usize]).unwrap();
    let out = Command::new("xfs_repair")
        .args(["-n", "-f"])
        .arg(&v)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("verified secondary superblock"), "{text}");
}

/// testdata/scripts/layout-short-dd.sh: a 16 MiB template dd'd over a
/// 64 MiB disk with count=1 and count=2. The overwrite's extent is what
/// the victim's own superblock copies allow, not the template table's
/// 16 MiB: with 1 MiB written the filesystem (from 1 MiB) is untouched,
/// so nothing of it is "destroyed"; with 2 MiB the copy of group 1 at
/// 9 MiB + 1 KiB bounds it. e2fsck -fn agrees: clean over the 1 MiB
/// case's filesystem, and the group 1 copy opens the 2 MiB case's.
#[test]
fn a_short_dd_of_a_template_is_measured_by_the_victims_intact_superblock_copies() {
    let start = 1u64 << 20;
    let r1 = inspect(&fixture("layout/short-dd-1m.img"));
    assert!(
        r1.findings()
            .iter()
            .all(|f| f.code != "layout.lost.overwrite"),
        "{:?}",
        r1.findings()
            .iter()
            .filter(|f| f.code == "layout.lost.overwrite")
            .map(|f| &f.message)
            .collect::<Vec<_>>()
    );
    let r2 = inspect(&fixture("layout/short-dd-2m.img"));
    let f = find(&r2, "layout.lost.overwrite");
    let copy = start + 8193 * 1024;
    for want in [
        format!(
            "reach disk byte {copy} (at most: the victim's superblock copy of group 1 at disk byte {copy} is intact"
        ),
        "8.0 MiB into the ext filesystem".to_string(),
    ] {
        assert!(f.message.contains(&want), "{want}: {}", f.message);
    }
    if Command::new("e2fsck").arg("-V").output().is_err() {
        println!("skipped the peer: no e2fsck");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fs_len = 64495u64 * 1024;
    let run = |name: &str, args: &[&str]| {
        let disk = std::fs::read(fixture(name)).unwrap();
        let p = dir.path().join("victim");
        std::fs::write(&p, &disk[start as usize..(start + fs_len) as usize]).unwrap();
        Command::new("e2fsck")
            .args(args)
            .arg(&p)
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(
        run("layout/short-dd-1m.img", &["-fn"]),
        "e2fsck -fn: the 1 MiB case's victim is not clean"
    );
    // The group 1 copy opens; the descriptors it leads to are the
    // victim's (inode table damage makes e2fsck -n report, not fail to open).
    let out = {
        let disk = std::fs::read(fixture("layout/short-dd-2m.img")).unwrap();
        let p = dir.path().join("victim2");
        std::fs::write(&p, &disk[start as usize..(start + fs_len) as usize]).unwrap();
        Command::new("e2fsck")
            .args(["-fn", "-b", "8193", "-B", "1024"])
            .arg(&p)
            .output()
            .unwrap()
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("victim") || text.contains("Pass 1"), "{text}");
}

/// testdata/scripts/layout-lostscan.sh's lost-backup-boot.img: the scan
/// proposes an NTFS whose boot sector is gone by its backup; the partition
/// is then an error that says the NTFS lived there, with the step that puts
/// the backup back (a write, resolved to a copy by the next steps). The
/// step, replayed with dd on a copy of the partition, makes a volume
/// ntfsinfo reads.
#[test]
fn an_ntfs_known_by_its_backup_boot_sector_gets_the_step_that_restores_it() {
    let path = fixture("layout/lost-backup-boot.img");
    let r = inspect(&path);
    let f = r
        .findings()
        .into_iter()
        .find(|f| f.code == "layout.contents.missing" && f.place.partition() == Some(1))
        .expect("no layout.contents.missing for partition 1");
    assert_eq!(f.severity, imgcheck_core::Severity::Error);
    assert!(
        f.message
            .contains("NTFS backup boot sector survives in its last sector (disk byte 42991104)"),
        "{}",
        f.message
    );
    let h = f.hint.as_ref().unwrap();
    assert!(h.writes);
    let cmd = h.command.clone().unwrap();
    assert_eq!(
        cmd,
        "dd if={dev} of={dev} bs=512 skip=81919 seek=0 count=1 conv=notrunc"
    );
    if Command::new("ntfsinfo").arg("--version").output().is_err() {
        println!("skipped the replay: no ntfsinfo");
        return;
    }
    let disk = std::fs::read(&path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p1");
    std::fs::write(&p, &disk[2048 * 512..(2048 + 81920) * 512]).unwrap();
    let dev = p.to_str().unwrap();
    let st = Command::new("sh")
        .arg("-c")
        .arg(format!("{} status=none", cmd.replace("{dev}", dev)))
        .status()
        .unwrap();
    assert!(st.success());
    let out = Command::new("ntfsinfo").arg("-m").arg(&p).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("lostntfs"), "{text}");
}

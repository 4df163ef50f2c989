//! Lost partitions the scan finds off the 1 MiB grid, on disks whose MBR
//! was zeroed (testdata/scripts/layout-lostscan.sh): a DOS-era layout on
//! cylinder boundaries (255 heads, 63 sectors), and an NTFS and a FAT32
//! whose first sectors are gone too, known only by their backup boot
//! sectors. Each proposal is replayed on a copy where the peer tools are
//! installed: sfdisk writes the proposed table, and the filesystem at each
//! proposed start must check clean (e2fsck -fn; fsck.fat -n and ntfsinfo
//! after the backup boot sector is put back in its place, as the repair
//! would).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

use imgcheck_core::FileReader;
use imgcheck_gpt::{Proposed, analyze};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn proposals(rel: &str) -> (Vec<Proposed>, String, Vec<u8>) {
    let path = imgcheck_testdata::fixture(rel);
    let a = analyze(&FileReader::open(&path).unwrap());
    let rec = a.recovery.expect("no scan ran");
    (
        rec.proposed,
        rec.sfdisk_script,
        std::fs::read(&path).unwrap(),
    )
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Writes `script` with sfdisk to a copy of `disk` and returns the table
/// sfdisk then reads back, `(start, sectors)` per partition.
fn replay_sfdisk(dir: &Path, disk: &[u8], script: &str) -> Vec<(u64, u64)> {
    let copy = dir.join("copy.img");
    std::fs::write(&copy, disk).unwrap();
    let mut child = Command::new("sfdisk")
        .args(["-q", "--no-reread"])
        .arg(&copy)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "sfdisk refused:\n{script}");
    let out = Command::new("sfdisk")
        .arg("-J")
        .arg(&copy)
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    j["partitiontable"]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["start"].as_u64().unwrap(), p["size"].as_u64().unwrap()))
        .collect()
}

#[test]
fn dos_partitions_on_cylinder_boundaries_are_found_after_the_mbr_is_zeroed() {
    let (got, script, disk) = proposals("layout/lost-dos-cyl.img");
    let starts: Vec<(u64, &str)> = got.iter().map(|p| (p.first_lba, p.fs.as_str())).collect();
    // Sector 63, cylinder 2 (32130 = 2 x 16065) and the logical partition
    // one track after its EBR at cylinder 5.
    assert_eq!(
        starts,
        vec![(63, "ext4"), (32130, "ext4"), (80388, "ext4")],
        "{got:?}"
    );
    // A DOS layout is proposed back as one.
    assert!(script.starts_with("label: dos\n"), "{script}");
    if !have("sfdisk") || !have("e2fsck") {
        println!("skipped the replay: no sfdisk or e2fsck");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let table = replay_sfdisk(dir.path(), &disk, &script);
    assert_eq!(
        table.iter().map(|t| t.0).collect::<Vec<_>>(),
        vec![63, 32130, 80388]
    );
    for (p, (start, sectors)) in got.iter().zip(&table) {
        let a = usize::try_from(start * 512).unwrap();
        let b = a + usize::try_from(sectors * 512).unwrap();
        let part = dir.path().join(format!("p{}", p.number));
        std::fs::write(&part, &disk[a..b]).unwrap();
        let out = Command::new("e2fsck")
            .arg("-fn")
            .arg(&part)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "e2fsck -fn on proposed partition {}: {}",
            p.number,
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn ntfs_and_fat32_are_found_by_their_backup_boot_sectors() {
    let (got, script, disk) = proposals("layout/lost-backup-boot.img");
    let seen: Vec<(u64, u64, &str)> = got
        .iter()
        .map(|p| (p.first_lba, p.sectors, p.fs.as_str()))
        .collect();
    // The partitions sfdisk made: 40 MiB each at LBA 2048 and 86016.
    assert_eq!(
        seen,
        vec![(2048, 81920, "ntfs"), (86016, 81920, "vfat")],
        "{got:?}"
    );
    assert!(
        got[0].found_by.contains("NTFS backup boot sector at byte")
            && got[0]
                .found_by
                .contains(&format!("{}", (2048 + 81919) * 512))
            && got[0].found_by.contains("gone"),
        "{}",
        got[0].found_by
    );
    assert!(
        got[1].found_by.contains("FAT32 backup boot sector")
            && got[1].found_by.contains(&format!("{}", (86016 + 6) * 512)),
        "{}",
        got[1].found_by
    );
    // The MBR type each needs: 0x07 NTFS, 0x0c FAT32 (LBA).
    assert_eq!((got[0].mbr_type, got[1].mbr_type), (0x07, 0x0C));
    if !have("sfdisk") || !have("fsck.fat") {
        println!("skipped the replay: no sfdisk or fsck.fat");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let table = replay_sfdisk(dir.path(), &disk, &script);
    assert_eq!(table, vec![(2048, 81920), (86016, 81920)]);
    // The FAT32: its backup boot sector put back at sector 0 of the
    // proposed partition makes a volume fsck.fat finds clean.
    let (a, b) = (86016 * 512, (86016 + 81920) * 512);
    let mut fat = disk[a..b].to_vec();
    fat.copy_within(6 * 512..7 * 512, 0);
    let fpath = dir.path().join("fat");
    std::fs::write(&fpath, &fat).unwrap();
    let out = Command::new("fsck.fat")
        .arg("-n")
        .arg(&fpath)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "fsck.fat -n: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The NTFS: its last sector put back at its first.
    if !have("ntfsinfo") {
        println!("skipped the NTFS replay: no ntfsinfo");
        return;
    }
    let (a, b) = (2048 * 512, (2048 + 81920) * 512);
    let mut ntfs = disk[a..b].to_vec();
    let last = ntfs.len() - 512;
    ntfs.copy_within(last.., 0);
    let npath = dir.path().join("ntfs");
    std::fs::write(&npath, &ntfs).unwrap();
    let out = Command::new("ntfsinfo")
        .arg("-m")
        .arg(&npath)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("lostntfs"),
        "ntfsinfo -m: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

//! What the boot-chain tests (boot.rs, grub_scripts.rs) share: the clean
//! GPT fixture GRUB was installed on (testdata/scripts/boot.sh) and the
//! report, findings and verdicts of an image.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]
#![allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use imgcheck::options::Options;
use imgcheck::pipeline::inspect_image;
use imgcheck::report::ImageReport;
use imgcheck_boot::Outcome;
use std::path::Path;

/// The GPT disk with GRUB for both firmware paths.
pub const CLEAN: &str = "boot/gpt-grub.img";

/// The report of `path`, quick unless `deep`.
pub fn report_of(path: &Path, deep: bool) -> ImageReport {
    let opts = Options {
        image_path: path.to_path_buf(),
        quick: !deep,
        ..Options::default()
    };
    inspect_image(path, None, &opts).unwrap()
}

/// The codes of its findings.
pub fn codes(r: &ImageReport) -> Vec<String> {
    r.findings().iter().map(|f| f.code.to_string()).collect()
}

/// Its BIOS and UEFI verdicts.
pub fn outcomes(r: &ImageReport) -> (Outcome, Outcome) {
    let b = r.boot.as_ref().expect("a boot section");
    (b.bios.outcome, b.uefi.outcome)
}

/// The sectors a real tool changed on a fixture (rm on the mounted root,
/// mdel on the ESP: testdata/scripts/boot.sh), as patches.
pub fn delta(rel: &str) -> Vec<imgcheck_testdata::Patch> {
    imgcheck_testdata::delta(rel)
}

/// `base` with the delta `rel` written back.
pub fn with_delta(base: &str, rel: &str) -> imgcheck_testdata::Damaged {
    imgcheck_testdata::damaged(base, &delta(rel))
}

/// Where the clean GPT fixture's root filesystem (partition 3, ext4) is.
pub const ROOT_START: usize = 36864 * 512;

/// The clean GPT fixture with its root filesystem (partition 3, ext4)
/// changed by `debugfs -w` running `cmds`, after `files` are written to
/// its working directory (`write NAME /path` then finds them). `None`,
/// printed, when debugfs (e2fsprogs) is not installed.
pub fn with_root(
    cmds: &[&str],
    files: &[(&str, &[u8])],
) -> Option<(tempfile::TempDir, std::path::PathBuf)> {
    use std::process::Command;
    if Command::new("debugfs").arg("-V").output().is_err() {
        println!("SKIPPED: debugfs (e2fsprogs) is not installed");
        return None;
    }
    let mut disk = std::fs::read(imgcheck_testdata::fixture(CLEAN)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let start = ROOT_START;
    let end = disk.len() - 34 * 512;
    let root = dir.path().join("root.img");
    std::fs::write(&root, &disk[start..end]).unwrap();
    for (name, data) in files {
        std::fs::write(dir.path().join(name), data).unwrap();
    }
    std::fs::write(dir.path().join("cmds"), cmds.join("\n") + "\n").unwrap();
    let out = Command::new("debugfs")
        .args(["-w", "-f", "cmds", "root.img"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    disk[start..end].copy_from_slice(&std::fs::read(&root).unwrap());
    let path = dir.path().join("disk.img");
    std::fs::write(&path, &disk).unwrap();
    Some((dir, path))
}

/// The disk byte where the data of `path` on the clean GPT fixture's root
/// filesystem starts, as debugfs maps it (`bmap PATH 0` on the disk at
/// the partition's offset); `None` when debugfs is not installed.
pub fn root_data_at(disk: &Path, path: &str) -> Option<u64> {
    let out = std::process::Command::new("debugfs")
        .args(["-R", &format!("bmap {path} 0")])
        .arg(format!("{}?offset={ROOT_START}", disk.display()))
        .output()
        .ok()?;
    let block: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    // s_log_block_size, in the superblock 1024 bytes in.
    let mut sb = [0u8; 4];
    std::os::unix::fs::FileExt::read_exact_at(
        &std::fs::File::open(disk).ok()?,
        &mut sb,
        ROOT_START as u64 + 1024 + 24,
    )
    .ok()?;
    Some(ROOT_START as u64 + block * (1024 << u32::from_le_bytes(sb)))
}

//! GRUB with /boot on XFS (issue 16 F9; testdata/scripts/boot-xfs.sh:
//! grub-install onto a GPT disk whose root is mkfs.xfs's default v5, and
//! the same /boot on a v4 XFS) judged as on ext4: grub.cfg, the i386-pc
//! modules, the kernel and initramfs looked up through the xfs crate's
//! path lookup; and an EFI GRUB image made without part_gpt
//! (testdata/scripts/boot-efi-partmap.sh), which OVMF starts and which
//! stops at GRUB's rescue prompt.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

mod boot_common;

use boot_common::{CLEAN, codes, outcomes, report_of, with_delta};
use imgcheck::report::ImageReport;
use imgcheck_boot::Outcome;
use imgcheck_core::{Finding, Severity};
use imgcheck_testdata::{Patch, damaged, fixture};

const XFS: &str = "boot/gpt-xfs.img";
const XFS_V4: &str = "boot/gpt-xfs-v4.img";
/// Partition 3 (the XFS root) of boot-xfs.sh's disk.
const ROOT: u64 = 36864 * 512;
const KERNEL: &str = "/boot/vmlinuz-imgcheck";

fn finding<'a>(r: &'a ImageReport, code: &str) -> &'a Finding {
    r.findings()
        .into_iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no {code}: {:?}", codes(r)))
}

#[test]
fn grub_on_xfs_is_followed_to_its_kernel_on_both_paths() {
    // Without the xfs lookup the chain stopped at "its prefix is on the
    // xfs filesystem in partition 3, whose files imgcheck does not look
    // up": a verdict of boots that read nothing past the loader.
    for img in [XFS, XFS_V4] {
        let r = report_of(&fixture(img), false);
        assert_eq!(
            outcomes(&r),
            (Outcome::Boots, Outcome::Boots),
            "{img}: {:?}",
            codes(&r)
        );
        let b = r.boot.as_ref().unwrap();
        for v in [&b.bios, &b.uefi] {
            assert!(
                v.summary
                    .contains("/boot/grub/grub.cfg on partition 3 read")
                    && v.summary.contains(KERNEL)
                    && v.summary.contains("/boot/initrd.img-imgcheck"),
                "{img}: {}",
                v.summary
            );
        }
        assert!(
            !codes(&r).iter().any(|c| c.starts_with("boot.")),
            "{img}: {:?}",
            codes(&r)
        );
    }
}

#[test]
fn a_kernel_removed_from_xfs_fails_both_paths_at_its_filesystem() {
    let d = with_delta(XFS, "boot/gpt-xfs-kernel-missing.delta");
    let r = report_of(d.path(), false);
    assert_eq!(
        outcomes(&r),
        (Outcome::Fails, Outcome::Fails),
        "{:?}",
        codes(&r)
    );
    let f = finding(&r, "boot.linux.kernel_missing");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.offset, ROOT, "at the XFS partition, as on ext4");
    assert!(
        f.message.contains(KERNEL) && f.message.contains("does not exist"),
        "{}",
        f.message
    );
    let h = f.hint.as_ref().unwrap();
    assert!(!h.writes, "{h:?}");
    assert!(h.command.as_ref().unwrap().contains("xfs_db -r"), "{h:?}");
}

/// The disk byte where `path`'s data starts on the XFS of `disk`, as
/// xfs_db's bmap maps it (AG 0 on this small filesystem); `None` when
/// xfsprogs is not installed.
fn xfs_db_first_byte(disk: &std::path::Path, path: &str) -> Option<u64> {
    let data = std::fs::read(disk).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let part = dir.path().join("root.img");
    std::fs::write(&part, &data[ROOT as usize..data.len() - 34 * 512]).unwrap();
    let out = std::process::Command::new("xfs_db")
        .args(["-r", "-c", &format!("path {path}"), "-c", "bmap"])
        .arg(&part)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "data offset 0 startblock 96 (0/96) count 18 flag 0"
    let w: Vec<&str> = text.split_whitespace().collect();
    let i = w.iter().position(|x| *x == "startblock")?;
    let fsb: u64 = w[i + 1].parse().ok()?;
    let bs = u64::from(u32::from_be_bytes(
        data[ROOT as usize + 4..ROOT as usize + 8]
            .try_into()
            .unwrap(),
    ));
    Some(ROOT + fsb * bs)
}

#[test]
fn a_kernel_whose_first_block_is_zeroed_on_xfs_is_named_at_that_block() {
    let Some(at) = xfs_db_first_byte(&fixture(XFS), KERNEL) else {
        println!("SKIPPED: xfs_db (xfsprogs) is not installed");
        return;
    };
    let d = damaged(
        XFS,
        &[Patch::Zero {
            offset: at,
            len: 4096,
        }],
    );
    let r = report_of(d.path(), false);
    assert_eq!(
        outcomes(&r),
        (Outcome::Fails, Outcome::Fails),
        "{:?}",
        codes(&r)
    );
    let f = r
        .findings()
        .into_iter()
        .find(|f| f.code.starts_with("boot.linux.kernel") && f.severity == Severity::Error)
        .unwrap_or_else(|| panic!("{:?}", codes(&r)));
    assert_eq!(f.offset, at, "{}", f.message);
}

#[test]
fn an_efi_grub_without_part_gpt_stops_at_the_rescue_prompt() {
    // OVMF starts it (the firmware proof: "GRUB rescue prompt"); BIOS,
    // whose core.img holds part_gpt, still boots.
    let d = with_delta(CLEAN, "boot/gpt-grub-efi-no-partmap.delta");
    let r = report_of(d.path(), false);
    assert_eq!(
        outcomes(&r),
        (Outcome::Boots, Outcome::Fails),
        "{:?}",
        codes(&r)
    );
    let f = finding(&r, "boot.grub.partmap_missing");
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.message.contains("EFI GRUB image")
            && f.message.contains("part_gpt")
            && f.message.contains("grub rescue"),
        "{}",
        f.message
    );
    // At the loader's data on the ESP (partition 2, 16 MiB from LBA 4096).
    assert!(
        (4096 * 512..36864 * 512).contains(&f.offset) && f.offset > 4096 * 512,
        "{}",
        f.offset
    );
    assert!(
        !f.hint.as_ref().unwrap().writes
            || f.hint
                .as_ref()
                .unwrap()
                .note
                .as_ref()
                .unwrap()
                .contains("copy")
    );
    // The clean disk's EFI image holds part_gpt: no such finding there.
    let clean = report_of(&fixture(CLEAN), false);
    assert!(!codes(&clean).contains(&"boot.grub.partmap_missing".to_string()));
}

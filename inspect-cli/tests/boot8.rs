//! Boot chains past GRUB's own, on disks the real tools made
//! (testdata/scripts/boot-loaders.sh): SYSLINUX's MBRs and the partition
//! boot sector they load, ESPs made for another machine than x86-64, and
//! shim without the GRUB it starts (attack boot8 on issue 16).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

mod boot_common;

use boot_common::{codes, outcomes, report_of, with_delta};
use imgcheck::report::ImageReport;
use imgcheck_boot::Outcome;
use imgcheck_core::{Finding, Severity};
use imgcheck_testdata::fixture;

const SYSLINUX: &str = "boot/mbr-syslinux.img";
const GPTMBR: &str = "boot/gpt-gptmbr.img";
const AA64: &str = "boot/esp-aa64.img";
const SHIM: &str = "boot/esp-shim.img";

fn finding<'a>(r: &'a ImageReport, code: &str) -> &'a Finding {
    r.boot
        .as_ref()
        .unwrap()
        .findings
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no {code}: {:?}", codes(r)))
}

fn summaries(r: &ImageReport) -> (String, String) {
    let b = r.boot.as_ref().unwrap();
    (b.bios.summary.clone(), b.uefi.summary.clone())
}

#[test]
fn an_esp_made_for_another_machine_boots_there_and_is_no_x64_failure() {
    let d = with_delta(AA64, "boot/esp-ia32.delta");
    for (what, path, arch) in [
        ("BOOTAA64.EFI", fixture(AA64), "arm64"),
        ("BOOTIA32.EFI", d.path().to_path_buf(), "i386"),
    ] {
        let r = report_of(&path, false);
        let (_, uefi) = summaries(&r);
        assert_eq!(outcomes(&r).1, Outcome::Boots, "{what}: {uefi}");
        assert!(uefi.contains(what), "{uefi}");
        assert!(
            uefi.contains(&format!("boots on {arch} UEFI firmware")),
            "{uefi}"
        );
        assert!(
            !codes(&r).iter().any(|c| c.starts_with("boot.uefi")),
            "{what}: {:?}",
            codes(&r)
        );
        // No step copies an x86-64 loader over this disk's evidence.
        let all = r.findings();
        assert!(
            all.iter().all(|f| f
                .hint
                .as_ref()
                .and_then(|h| h.command.as_deref())
                .is_none_or(|c| !c.contains("BOOTX64"))),
            "{what}"
        );
        assert!(
            r.next_steps.iter().all(|s| !s.contains("BOOTX64")),
            "{what}"
        );
    }
}

#[test]
fn syslinux_mbr_bin_is_named_and_the_boot_sector_it_loads_judged() {
    // The active partition is mkntfs's: 55 AA, and a "not a bootable
    // disk" message for code.
    let r = report_of(&fixture(SYSLINUX), false);
    let (bios, _) = summaries(&r);
    assert!(bios.contains("SYSLINUX mbr.bin"), "{bios}");
    assert!(!bios.contains("Windows"), "{bios}");
    assert_eq!(outcomes(&r).0, Outcome::Fails, "{bios}");
    let f = finding(&r, "boot.bios.vbr.not_bootable");
    assert_eq!((f.severity, f.offset), (Severity::Error, 2048 * 512));
    // sfdisk --activate 2: the ext4 partition, whose first sector is
    // zeros, no 55 AA.
    let d = with_delta(SYSLINUX, "boot/mbr-syslinux-ext4-active.delta");
    let r = report_of(d.path(), false);
    assert_eq!(outcomes(&r).0, Outcome::Fails, "{}", summaries(&r).0);
    let f = finding(&r, "boot.bios.vbr.no_signature");
    assert_eq!((f.severity, f.offset), (Severity::Error, 8192 * 512));
    assert!(
        f.message.contains("Missing operating system."),
        "{}",
        f.message
    );
    let h = f.hint.as_ref().unwrap();
    assert!(!h.writes, "{h:?}");
}

#[test]
fn gptmbr_bin_needs_a_legacy_bios_bootable_partition_with_a_boot_sector() {
    // No partition has attribute bit 2: it fails at the entry array.
    let r = report_of(&fixture(GPTMBR), false);
    let (bios, _) = summaries(&r);
    assert!(bios.contains("SYSLINUX gptmbr.bin"), "{bios}");
    assert_eq!(outcomes(&r).0, Outcome::Fails, "{bios}");
    let f = finding(&r, "boot.bios.gptmbr.no_legacy_boot");
    assert_eq!((f.severity, f.offset), (Severity::Error, 2 * 512));
    assert!(!f.hint.as_ref().unwrap().writes);
    // sgdisk -A 1:set:2 / 2:set:2: the partition it loads is judged.
    for (rel, code, at) in [
        (
            "boot/gpt-gptmbr-ntfs-legacy.delta",
            "boot.bios.vbr.not_bootable",
            2048 * 512,
        ),
        (
            "boot/gpt-gptmbr-ext4-legacy.delta",
            "boot.bios.vbr.no_signature",
            8192 * 512,
        ),
    ] {
        let d = with_delta(GPTMBR, rel);
        let r = report_of(d.path(), false);
        assert_eq!(outcomes(&r).0, Outcome::Fails, "{rel}");
        assert!(
            !codes(&r).contains(&"boot.bios.gptmbr.no_legacy_boot".to_string()),
            "{rel}"
        );
        let f = finding(&r, code);
        assert_eq!(f.offset, at, "{rel}");
    }
}

#[test]
fn shim_is_followed_to_the_grub_beside_it_and_fails_without_it() {
    let r = report_of(&fixture(SHIM), false);
    let (_, uefi) = summaries(&r);
    assert_eq!(outcomes(&r).1, Outcome::Boots, "{uefi}");
    assert!(uefi.contains(r"shim → \EFI\BOOT\grubx64.efi"), "{uefi}");
    let d = with_delta(SHIM, "boot/esp-shim-no-grub.delta");
    let r = report_of(d.path(), false);
    let (_, uefi) = summaries(&r);
    assert_eq!(outcomes(&r).1, Outcome::Fails, "{uefi}");
    let f = finding(&r, "boot.uefi.shim.second_stage");
    assert_eq!((f.severity, f.offset), (Severity::Error, 2048 * 512));
    assert!(
        f.message
            .contains(r"Failed to open \EFI\BOOT\grubx64.efi - Not Found"),
        "{}",
        f.message
    );
    let h = f.hint.as_ref().unwrap();
    let cmd = h.command.as_deref().unwrap();
    assert!(h.writes && cmd.contains("grubx64.efi"), "{cmd}");
    assert!(!cmd.contains("BOOTX64"), "{cmd}");
}

#[test]
fn the_look_at_a_missing_kernel_runs_on_the_image_as_printed() {
    // /boot/vmlinuz-imgcheck removed with rm (boot.sh): the step printed
    // lists /boot of the root filesystem, partition 3, read-only.
    let d = with_delta("boot/gpt-grub.img", "boot/gpt-grub-kernel-missing.delta");
    let r = report_of(d.path(), false);
    let f = finding(&r, "boot.linux.kernel_missing");
    assert!(!f.hint.as_ref().unwrap().writes);
    // As the report prints it (`hint:`), placeholders filled.
    let cmd = r.hint_of(f).unwrap().hint.command.unwrap();
    assert!(cmd.contains("debugfs"), "{cmd}");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&cmd)
        .output()
        .unwrap();
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    if e.contains("not found") && o.is_empty() {
        println!("SKIPPED running {cmd}: debugfs (e2fsprogs) is not installed");
        return;
    }
    // debugfs exits 0 even when it cannot open the filesystem: what it
    // lists is the proof.
    assert!(
        o.contains("initrd.img-imgcheck") && !o.contains("vmlinuz-imgcheck"),
        "{cmd}: {o}{e}"
    );
    assert!(!e.contains("Bad magic"), "{cmd}: {e}");
}

#[test]
fn a_stub_config_searching_for_no_filesystem_on_the_disk_fails_uefi_there() {
    // \EFI\BOOT\grub.cfg: search.fs_uuid …dead root; configfile
    // $prefix/grub.cfg, and no filesystem on the disk has that UUID.
    let d = with_delta(SHIM, "boot/esp-shim-stub-search.delta");
    let r = report_of(d.path(), false);
    let (_, uefi) = summaries(&r);
    assert_eq!(outcomes(&r).1, Outcome::Fails, "{uefi}");
    let f = finding(&r, "boot.grub.search_missing");
    assert_eq!((f.severity, f.offset), (Severity::Error, 2048 * 512));
    assert!(
        f.message.contains("5a5a5a5a-0000-0000-0000-00000000dead"),
        "{}",
        f.message
    );
    assert!(!f.hint.as_ref().unwrap().writes);
    // The look runs on the image as printed and shows the stub.
    let cmd = r.hint_of(f).unwrap().hint.command.unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&cmd)
        .env("MTOOLS_SKIP_CHECK", "1")
        .output()
        .unwrap();
    let o = String::from_utf8_lossy(&out.stdout);
    if out.status.code() == Some(127) {
        println!("SKIPPED running {cmd}: mtools is not installed");
        return;
    }
    assert!(o.to_ascii_lowercase().contains("cfg"), "{cmd}: {o}");
}

#[test]
fn a_zeroed_core_img_decompressor_fails_bios_at_its_offset() {
    // gpt-grub.img: diskboot.img at LBA 2048, lzma_decompress.img from
    // LBA 2049; its code up to no_reed_solomon_length (1883 bytes) is not
    // parity-protected. Zeroing LBA 2050..2051 (dd's count=2) leaves the
    // compressed kernel, which decodes, but not the code that decodes it.
    let d = imgcheck_testdata::damaged(
        "boot/gpt-grub.img",
        &[imgcheck_testdata::Patch::Zero {
            offset: 2050 * 512,
            len: 1024,
        }],
    );
    let r = report_of(d.path(), false);
    let (bios, _) = summaries(&r);
    assert_eq!(outcomes(&r), (Outcome::Fails, Outcome::Boots), "{bios}");
    let f = finding(&r, "boot.bios.grub.core");
    assert_eq!((f.severity, f.offset), (Severity::Error, 2050 * 512));
    assert!(f.message.contains("decompressor"), "{}", f.message);
}

#[test]
fn blscfg_needs_its_module_and_saved_entry_an_entry_that_exists() {
    // gpt-grub.img with a Fedora-style grub.cfg (blscfg), one BLS entry
    // and grubenv saved_entry=imgcheck-5.0 (gone); Debian's GRUB has no
    // blscfg.mod in /boot/grub/{i386-pc,x86_64-efi}.
    let d = with_delta("boot/gpt-grub.img", "boot/gpt-grub-blscfg.delta");
    let r = report_of(d.path(), false);
    let (bios, uefi) = summaries(&r);
    assert_eq!(
        outcomes(&r),
        (Outcome::Fails, Outcome::Fails),
        "{bios}\n{uefi}"
    );
    let f = finding(&r, "boot.grub.modules_missing");
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("blscfg.mod"), "{}", f.message);
    let root = 36864 * 512;
    assert_eq!(f.offset, root);
    let w = finding(&r, "boot.grub.saved_entry_missing");
    assert_eq!((w.severity, w.offset), (Severity::Warning, root));
    assert!(w.message.contains("'imgcheck-5.0'"), "{}", w.message);
}

#[test]
fn grub_needs_its_lvm_module_to_reach_boot_in_a_logical_volume() {
    // boot-lvm.sh: /boot in LV vgb/boot; core.img with lvm boots, without
    // it GRUB cannot see the LV (attack boot8-2 F10).
    let r = report_of(&fixture("boot/mbr-lvm-boot.img"), false);
    let (bios, _) = summaries(&r);
    assert_eq!(outcomes(&r).0, Outcome::Boots, "{bios}");
    assert!(bios.contains("imgcheck lvm fixture"), "{bios}");
    let r = report_of(&fixture("boot/mbr-lvm-boot-nolvm.img"), false);
    let (bios, _) = summaries(&r);
    assert_eq!(outcomes(&r).0, Outcome::Fails, "{bios}");
    let f = finding(&r, "boot.grub.lvm_module_missing");
    assert_eq!((f.severity, f.offset), (Severity::Error, 2048 * 512));
}

#[test]
fn a_writing_hint_under_a_finding_names_the_copy_never_the_evidence() {
    // Attack boot8-2 F21/F3: `grub-install --target=i386-pc <evidence>`
    // was printed under boot.bios.no_signature.
    let d = imgcheck_testdata::damaged(
        "boot/gpt-grub.img",
        &[imgcheck_testdata::Patch::Zero {
            offset: 0x1FE,
            len: 2,
        }],
    );
    let r = report_of(d.path(), false);
    let f = finding(&r, "boot.bios.no_signature");
    let h = r.hint_of(f).unwrap().hint;
    let cmd = h.command.unwrap();
    let evidence = d.path().to_string_lossy().to_string();
    assert!(h.writes, "{cmd}");
    assert!(
        cmd.contains(&format!("{evidence}.bak")),
        "{cmd} (evidence {evidence})"
    );
    assert!(!cmd.split_whitespace().any(|w| w == evidence), "{cmd}");
}

/// testdata/scripts/boot-bigcfg.sh: the MBR GRUB disk with 1.5 MiB and
/// 17 MiB of comments before its grub.cfg's menu (written through the
/// kernel's ext4). GRUB reads a config whole: the first boots; the second
/// is longer than what is read here, so it is said to be read in part,
/// never "defines no menu entry" (attack boot8 F12, a false alarm: a
/// 1 MiB read made the first a failure).
#[test]
fn a_long_grub_cfg_is_read_whole_or_said_to_be_read_in_part() {
    let r = report_of(&fixture("boot/mbr-grub-bigcfg.img"), false);
    let (bios, _) = summaries(&r);
    assert_eq!(outcomes(&r).0, Outcome::Boots, "{bios}");
    assert!(
        !codes(&r).iter().any(|c| c == "boot.grub.no_menu"),
        "{:?}",
        codes(&r)
    );
    let r = report_of(&fixture("boot/mbr-grub-hugecfg.img"), false);
    let (bios, _) = summaries(&r);
    assert!(
        !codes(&r).iter().any(|c| c == "boot.grub.no_menu"),
        "{:?}",
        codes(&r)
    );
    assert_ne!(outcomes(&r).0, Outcome::Fails, "{bios}");
    assert!(bios.contains("not judged"), "{bios}");
}

//! Attack findings on the boot chain (issue 16, session 16), each
//! re-made with real tools on copies of boot.sh's GPT GRUB disk: what the
//! initramfs holds (cpio, debugfs), where a loader finding points
//! (mtools' mshowfat), the loader step replayed on a copy (mmd, mcopy), a
//! lost primary GPT (sgdisk -v), ext4 features GRUB cannot read (tune2fs,
//! grub-fstest) and blscfg's default. Each peer runs where it is
//! installed and is skipped visibly where it is not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

mod boot_common;

use boot_common::{
    CLEAN, ROOT_START, codes, outcomes, report_of, root_data_at, with_delta, with_root,
};
use imgcheck::report::ImageReport;
use imgcheck_boot::Outcome;
use imgcheck_core::{Finding, Severity};
use imgcheck_testdata::fixture;
use std::path::Path;
use std::process::Command;

const INITRD: &str = "/boot/initrd.img-imgcheck";
/// The ESP of boot.sh's GPT disk (partition 2).
const ESP: u64 = 4096 * 512;

fn finding<'a>(r: &'a ImageReport, code: &str) -> &'a Finding {
    r.findings()
        .into_iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no {code}: {:?}", codes(r)))
}

fn have(tool: &str, arg: &str) -> bool {
    let ok = Command::new(tool).arg(arg).output().is_ok();
    if !ok {
        println!("SKIPPED the {tool} part: {tool} is not installed");
    }
    ok
}

/// `sh -c script` in `dir`; its output.
fn sh(dir: &Path, script: &str) -> std::process::Output {
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .env("MTOOLS_SKIP_CHECK", "1")
        .output()
        .unwrap()
}

/// A newc (or `format`) cpio archive of one file `init`, made by cpio.
fn cpio(format: &str) -> Option<Vec<u8>> {
    if !have("cpio", "--version") {
        return None;
    }
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("init"), b"#!/bin/sh\nexec /bin/sh\n").unwrap();
    let out = sh(
        d.path(),
        &format!("echo init | cpio --quiet -o -H {format}"),
    );
    assert!(out.status.success(), "{out:?}");
    Some(out.stdout)
}

/// The clean disk with its initramfs replaced by `bytes` (debugfs).
fn with_initrd(bytes: &[u8]) -> Option<(tempfile::TempDir, std::path::PathBuf)> {
    with_root(
        &[&format!("rm {INITRD}"), &format!("write i {INITRD}")],
        &[("i", bytes)],
    )
}

#[test]
fn an_initramfs_is_judged_as_the_kernel_unpacks_it() {
    // Attack F2: the fixtures' initramfs were random bytes, which GRUB
    // loads and the kernel cannot unpack ("Initramfs unpacking failed").
    // The fixture's is now a real one: cpio lists its early part.
    let clean = fixture(CLEAN);
    if have("cpio", "--version") && have("debugfs", "-V") {
        let d = tempfile::tempdir().unwrap();
        let out = sh(
            d.path(),
            &format!(
                "debugfs -R 'dump {INITRD} i' '{}?offset={ROOT_START}' 2>/dev/null; cpio -it < i",
                clean.display()
            ),
        );
        let list = String::from_utf8_lossy(&out.stdout);
        assert!(
            list.contains("kernel/x86/microcode/GenuineIntel.bin"),
            "{out:?}"
        );
    }
    assert_eq!(
        outcomes(&report_of(&clean, false)),
        (Outcome::Boots, Outcome::Boots)
    );
    let Some(newc) = cpio("newc") else { return };
    let odc = cpio("odc").unwrap();
    let mut random = vec![0u8; 16384];
    let mut x = 16u32;
    for b in &mut random {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        *b = (x >> 16) as u8;
    }
    let mut gz = Vec::new();
    {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.cpio"), &newc).unwrap();
        let out = sh(d.path(), "gzip -n -c a.cpio");
        assert!(out.status.success(), "{out:?}");
        gz.extend(out.stdout);
    }
    let mut early_then_junk = newc.clone();
    early_then_junk.extend_from_slice(&random[..4096]);
    let mut early_then_gz = newc.clone();
    early_then_gz.extend_from_slice(&gz);
    let cases: [(&str, &[u8], Option<&str>); 6] = [
        ("random bytes", &random, Some("invalid magic")),
        ("zeros", &[0u8; 16384], Some("zeros throughout")),
        ("odc cpio", &odc, Some("-H newc")),
        (
            "early cpio, then junk",
            &early_then_junk,
            Some("after its cpio"),
        ),
        ("gzip'd newc cpio", &gz, None),
        ("early cpio, then a gzip'd one", &early_then_gz, None),
    ];
    for (what, bytes, says) in cases {
        let Some((_d, p)) = with_initrd(bytes) else {
            return;
        };
        let r = report_of(&p, false);
        match says {
            None => assert_eq!(
                outcomes(&r),
                (Outcome::Boots, Outcome::Boots),
                "{what}: {:?}",
                codes(&r)
            ),
            Some(says) => {
                assert_eq!(
                    outcomes(&r),
                    (Outcome::Fails, Outcome::Fails),
                    "{what}: {:?}",
                    codes(&r)
                );
                let f = finding(&r, "boot.linux.initrd_invalid");
                assert_eq!(f.severity, Severity::Error, "{what}");
                assert!(
                    f.message.contains(says) && f.message.contains(INITRD),
                    "{what}: {}",
                    f.message
                );
                assert!(f.message.contains("GRUB loads it"), "{}", f.message);
                // At the initramfs's first block, as debugfs maps it.
                if let Some(at) = root_data_at(&p, INITRD) {
                    assert_eq!(f.offset, at, "{what}");
                }
            }
        }
    }
}

#[test]
fn systemd_boot_s_initramfs_is_judged_too() {
    // boot-sdboot.sh's initramfs is a real newc cpio; replaced with mcopy
    // by text, the default entry's boot fails past systemd-boot.
    let clean = fixture("boot/sdboot.img");
    let r = report_of(&clean, false);
    assert_eq!(outcomes(&r).1, Outcome::Boots, "{:?}", codes(&r));
    if !have("mcopy", "-V") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    std::fs::copy(&clean, d.path().join("disk.img")).unwrap();
    std::fs::write(d.path().join("junk"), "not an initramfs\n".repeat(500)).unwrap();
    let out = sh(
        d.path(),
        "mcopy -o -i disk.img@@1048576 junk ::/initramfs-linux.img",
    );
    assert!(out.status.success(), "{out:?}");
    let r = report_of(&d.path().join("disk.img"), false);
    assert_eq!(outcomes(&r).1, Outcome::Fails, "{:?}", codes(&r));
    let f = finding(&r, "boot.sdboot.initrd_invalid");
    assert!(f.message.contains("invalid magic"), "{}", f.message);
}

/// The first cluster of `path` on the FAT at `at` in `disk`, as mtools'
/// mshowfat lists the chain (`<2345-2350>`).
fn mshowfat_first(disk: &Path, at: u64, path: &str) -> Option<u64> {
    if !have("mshowfat", "-V") {
        return None;
    }
    let out = sh(
        Path::new("/"),
        &format!("mshowfat -i '{}@@{at}' ::{path}", disk.display()),
    );
    let s = String::from_utf8_lossy(&out.stdout);
    let c = s.split('<').nth(1)?.split(['-', '>']).next()?;
    c.trim().parse().ok()
}

#[test]
fn a_loader_that_is_no_pe_image_is_named_at_its_first_cluster() {
    // Attack F8: the error pointed at the ESP's first byte.
    if !have("mcopy", "-V") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let disk = d.path().join("disk.img");
    std::fs::copy(fixture(CLEAN), &disk).unwrap();
    let text = "this is no PE image\n".repeat(400);
    std::fs::write(d.path().join("BOOTX64.EFI"), &text).unwrap();
    let out = sh(
        d.path(),
        &format!("mcopy -o -i disk.img@@{ESP} BOOTX64.EFI ::/EFI/BOOT/BOOTX64.EFI"),
    );
    assert!(out.status.success(), "{out:?}");
    let r = report_of(&disk, false);
    assert_eq!(outcomes(&r), (Outcome::Boots, Outcome::Fails));
    let f = finding(&r, "boot.uefi.no_loader");
    assert!(f.message.contains("not a PE image"), "{}", f.message);
    assert_ne!(f.offset, ESP);
    // The loader's own bytes are there.
    let all = std::fs::read(&disk).unwrap();
    let at = f.offset as usize;
    assert_eq!(&all[at..at + 19], b"this is no PE image");
    // And mtools names the same cluster (FAT16: reserved + 2 FATs + the
    // fixed root, then clusters from 2).
    if let Some(c) = mshowfat_first(&disk, ESP, "/EFI/BOOT/BOOTX64.EFI") {
        let b = &all[ESP as usize..];
        let le16 = |o: usize| u64::from(u16::from_le_bytes([b[o], b[o + 1]]));
        let (bps, spc) = (le16(0x0B), u64::from(b[0x0D]));
        let data = le16(0x0E) + u64::from(b[0x10]) * le16(0x16) + (le16(0x11) * 32).div_ceil(bps);
        assert_eq!(f.offset, ESP + data * bps + (c - 2) * spc * bps);
    }
}

#[test]
fn the_loader_step_makes_its_directory_and_boots_the_copy_it_runs_on() {
    // Attack F17: with \EFI\BOOT gone (mdeltree), `mcopy ... ::/EFI/BOOT/
    // BOOTX64.EFI` fails ("Bad target"): the step makes the directory.
    if !have("mdeltree", "-V") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let disk = d.path().join("disk.img");
    std::fs::copy(fixture(CLEAN), &disk).unwrap();
    // The loader to put back, from a good copy of the ESP.
    let out = sh(
        d.path(),
        &format!(
            "mcopy -n -i disk.img@@{ESP} ::/EFI/BOOT/BOOTX64.EFI BOOTX64.EFI && mdeltree -i disk.img@@{ESP} ::/EFI/BOOT"
        ),
    );
    assert!(out.status.success(), "{out:?}");
    let r = report_of(&disk, false);
    assert_eq!(outcomes(&r).1, Outcome::Fails, "{:?}", codes(&r));
    let f = finding(&r, "boot.uefi.no_loader");
    let h = f.hint.as_ref().unwrap();
    assert!(h.writes);
    let cmd = h.command.clone().unwrap();
    assert!(cmd.starts_with("mmd "), "{cmd}");
    // Replayed on a copy, the partition device given as mtools' offset.
    std::fs::copy(&disk, d.path().join("copy.img")).unwrap();
    let before = std::fs::read(&disk).unwrap();
    let run = cmd.replace("{dev}", &format!("copy.img@@{ESP}"));
    let out = sh(d.path(), &run);
    assert!(out.status.success(), "{run}: {out:?}");
    let r = report_of(&d.path().join("copy.img"), false);
    assert_eq!(outcomes(&r).1, Outcome::Boots, "{run}: {:?}", codes(&r));
    assert_eq!(
        std::fs::read(&disk).unwrap(),
        before,
        "the evidence changed"
    );
    // Run again where the directory is there: it still works.
    let out = sh(d.path(), &run);
    assert!(out.status.success(), "{run} (again): {out:?}");
}

#[test]
fn a_lost_primary_gpt_fails_grub_on_bios_and_uefi_firmware_rewrites_it() {
    // Attack F22: LBA 1-33 zeroed, the backup GPT intact. GRUB 2.06's
    // part_gpt reads only the primary; edk2 restores it from the backup.
    let d = imgcheck_testdata::damaged(
        CLEAN,
        &[imgcheck_testdata::Patch::Zero {
            offset: 512,
            len: 33 * 512,
        }],
    );
    if have("sgdisk", "--version") {
        let out = sh(
            Path::new("/"),
            &format!("sgdisk -v '{}'", d.path().display()),
        );
        let s = String::from_utf8_lossy(&out.stdout);
        assert!(
            s.contains("main GPT header") || s.contains("main partition table"),
            "sgdisk -v: {s}"
        );
    }
    let r = report_of(d.path(), false);
    assert_eq!(
        outcomes(&r),
        (Outcome::Fails, Outcome::Boots),
        "{:?}",
        codes(&r)
    );
    let f = finding(&r, "boot.grub.gpt_primary_missing");
    assert_eq!((f.severity, f.offset), (Severity::Error, 512));
    assert!(f.message.contains("grub rescue"), "{}", f.message);
    assert!(!f.hint.as_ref().unwrap().writes);
    let w = finding(&r, "boot.uefi.gpt_restored_by_firmware");
    assert_eq!(w.severity, Severity::Warning);
}

#[test]
fn an_ext4_feature_grub_cannot_read_fails_at_boot_s_filesystem() {
    // Attack F20: casefold set on /boot's ext4 (tune2fs); Debian's GRUB
    // 2.06 (grub-fstest, the same fs/ext2.c) says "unknown filesystem".
    if !have("tune2fs", "-V") {
        return;
    }
    let mut disk = std::fs::read(fixture(CLEAN)).unwrap();
    let d = tempfile::tempdir().unwrap();
    let end = disk.len() - 34 * 512;
    std::fs::write(d.path().join("root.img"), &disk[ROOT_START..end]).unwrap();
    let out = sh(d.path(), "tune2fs -O casefold root.img");
    assert!(out.status.success(), "{out:?}");
    if have("grub-fstest", "--version") {
        let out = sh(d.path(), "grub-fstest root.img cat /boot/grub/grub.cfg");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("unknown filesystem"),
            "grub-fstest: {out:?}"
        );
    }
    disk[ROOT_START..end].copy_from_slice(&std::fs::read(d.path().join("root.img")).unwrap());
    let p = d.path().join("disk.img");
    std::fs::write(&p, &disk).unwrap();
    let r = report_of(&p, false);
    assert_eq!(
        outcomes(&r),
        (Outcome::Fails, Outcome::Fails),
        "{:?}",
        codes(&r)
    );
    let f = finding(&r, "boot.grub.fs_unsupported");
    assert_eq!(f.offset, ROOT_START as u64);
    assert!(f.message.contains("casefold"), "{}", f.message);
    assert!(!f.hint.as_ref().unwrap().writes);
}

#[test]
fn blscfg_boots_its_newest_entry_when_saved_entry_names_none() {
    // Attack F16: the newest BLS entry names a kernel that is gone and
    // grubenv sets no saved_entry: blscfg's default is its first entry,
    // the newest, whose boot fails (an older one loading does not help).
    let old = format!(
        "title Fedora (5.9.0)\nversion 5.9.0\nlinux /boot/vmlinuz-imgcheck\ninitrd {INITRD}\n"
    );
    let new = "title Fedora (5.10.0)\nversion 5.10.0\nlinux /boot/vmlinuz-5.10.0\n";
    let blscfg_mod: &[u8] = b"\x7fELF stand-in for Fedora's blscfg.mod";
    let cfg = "set default=\"${saved_entry}\"\ninsmod blscfg\nblscfg\n";
    let mk = |saved: Option<&str>| {
        let mut cmds = vec![
            "rm /boot/grub/grub.cfg",
            "write grub.cfg /boot/grub/grub.cfg",
            "mkdir /boot/loader",
            "mkdir /boot/loader/entries",
            "write old.conf /boot/loader/entries/abc-5.9.0.conf",
            "write new.conf /boot/loader/entries/abc-5.10.0.conf",
            "write blscfg.mod /boot/grub/i386-pc/blscfg.mod",
        ];
        let cfg = match saved {
            Some(s) => format!("set saved_entry={s}\n{cfg}"),
            None => cfg.to_string(),
        };
        let files: Vec<(&str, Vec<u8>)> = vec![
            ("grub.cfg", cfg.into_bytes()),
            ("old.conf", old.clone().into_bytes()),
            ("new.conf", new.as_bytes().to_vec()),
            ("blscfg.mod", blscfg_mod.to_vec()),
        ];
        let fs: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
        cmds.shrink_to_fit();
        with_root(&cmds, &fs).map(|(d, p)| {
            let r = report_of(&p, false);
            let b = r.boot.as_ref().unwrap().bios.clone();
            (d, b.outcome, b.summary, codes(&r))
        })
    };
    let Some((_d, o, s, c)) = mk(None) else {
        return;
    };
    assert_eq!(o, Outcome::Fails, "{s}");
    assert!(c.contains(&"boot.linux.kernel_missing".into()), "{c:?}");
    assert!(s.contains("5.10.0"), "{s}");
    // saved_entry naming the older entry: that one boots.
    let (_d, o, s, _) = mk(Some("abc-5.9.0")).unwrap();
    assert_eq!(o, Outcome::Boots, "{s}");
    // saved_entry naming no entry: GRUB falls back to the first, the newest.
    let (_d, o, s, _) = mk(Some("abc-4.0")).unwrap();
    assert_eq!(o, Outcome::Fails, "{s}");
}

#[test]
fn the_kernel_missing_delta_still_fails_both_paths() {
    // The regenerated deltas (boot.sh with a real initramfs) keep their
    // meaning.
    let d = with_delta(CLEAN, "boot/gpt-grub-kernel-missing.delta");
    let r = report_of(d.path(), false);
    assert_eq!(outcomes(&r), (Outcome::Fails, Outcome::Fails));
}

#[test]
fn core_img_without_its_table_s_partition_map_cannot_reach_its_prefix() {
    // Attack F11: boot-partmap.sh re-ran grub-install on the MBR disk with
    // --modules="ext2": core.img holds no part_msdos, so GRUB cannot open
    // msdos1, where its prefix is.
    let clean = report_of(&fixture("boot/mbr-grub.img"), false);
    assert_eq!(outcomes(&clean).0, Outcome::Boots);
    let d = with_delta("boot/mbr-grub.img", "boot/mbr-grub-no-partmap.delta");
    let r = report_of(d.path(), false);
    assert_eq!(outcomes(&r).0, Outcome::Fails, "{:?}", codes(&r));
    let f = finding(&r, "boot.grub.partmap_missing");
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.message.contains("part_msdos") && f.message.contains("grub rescue"),
        "{}",
        f.message
    );
}

#[test]
fn an_embedded_search_that_finds_nothing_fails_both_paths_alike() {
    // Attack F14: /boot's ext4 given a new UUID (tune2fs -U): the search
    // in core.img's load.cfg and in BOOTX64.EFI's finds nothing. GRUB does
    // the same on both paths; BIOS was a warning, UEFI an error.
    if !have("tune2fs", "-V") {
        return;
    }
    let mut disk = std::fs::read(fixture(CLEAN)).unwrap();
    let d = tempfile::tempdir().unwrap();
    let end = disk.len() - 34 * 512;
    std::fs::write(d.path().join("root.img"), &disk[ROOT_START..end]).unwrap();
    let out = sh(
        d.path(),
        // tune2fs -U wants a freshly checked filesystem.
        "e2fsck -fp root.img && tune2fs -U 5a5a5a5a-0000-0000-0000-0000000000ee root.img",
    );
    assert!(out.status.success(), "{out:?}");
    disk[ROOT_START..end].copy_from_slice(&std::fs::read(d.path().join("root.img")).unwrap());
    let p = d.path().join("disk.img");
    std::fs::write(&p, &disk).unwrap();
    let r = report_of(&p, false);
    assert_eq!(
        outcomes(&r),
        (Outcome::Fails, Outcome::Fails),
        "{:?}",
        codes(&r)
    );
    let both: Vec<&Finding> = r
        .findings()
        .into_iter()
        .filter(|f| f.code == "boot.grub.search_missing")
        .collect();
    assert_eq!(both.len(), 2, "{:?}", codes(&r));
    assert!(both.iter().all(|f| f.severity == Severity::Error));
    assert!(
        both.iter()
            .all(|f| f.message.contains("5a5a5a5a-0000-0000-0000-000000000003")),
        "{both:?}"
    );
    assert!(!codes(&r).contains(&"boot.grub.search_elsewhere".to_string()));
}

#[test]
fn a_type_0_mbr_entry_is_empty_to_grub_whatever_its_start_and_size() {
    // Attack F4: sfdisk --part-type DISK 1 0 on the MBR GRUB disk. Linux
    // reads the entry by its size; GRUB's part_msdos (and edk2) skip it as
    // empty, so GRUB's prefix there is out of reach.
    if !have("sfdisk", "--version") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let disk = d.path().join("disk.img");
    std::fs::copy(fixture("boot/mbr-grub.img"), &disk).unwrap();
    let out = sh(d.path(), "sfdisk -q --part-type disk.img 1 0");
    assert!(out.status.success(), "{out:?}");
    let r = report_of(&disk, false);
    assert_eq!(outcomes(&r).0, Outcome::Fails, "{:?}", codes(&r));
    let f = finding(&r, "boot.grub.partition_unseen");
    assert_eq!((f.severity, f.offset), (Severity::Error, 2048 * 512));
    assert!(f.message.contains("type 0x00"), "{}", f.message);
}

#[test]
fn an_esp_boot_sector_without_55_aa_is_read_by_its_bpb_as_firmware_reads_it() {
    // Attack F7: the ESP's 55 AA zeroed. edk2's FAT driver reads the
    // volume by its BPB (OVMF booted it: boot-proof.sh gpt-esp-no-55aa),
    // as fsck.fat does; the ESP was "vfat, not checked" and UEFI "not set
    // up".
    let d = imgcheck_testdata::damaged(
        CLEAN,
        &[imgcheck_testdata::Patch::Zero {
            offset: ESP + 510,
            len: 2,
        }],
    );
    let r = report_of(d.path(), false);
    assert_eq!(
        outcomes(&r),
        (Outcome::Boots, Outcome::Boots),
        "{:?}",
        codes(&r)
    );
    assert!(codes(&r).contains(&"fat.boot.signature".to_string()));
    if have("fsck.fat", "--help") {
        let all = std::fs::read(d.path()).unwrap();
        let t = tempfile::tempdir().unwrap();
        std::fs::write(
            t.path().join("esp.img"),
            &all[ESP as usize..(ESP + 32768 * 512) as usize],
        )
        .unwrap();
        let out = sh(t.path(), "fsck.fat -n esp.img");
        assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    }
}

#[test]
fn a_grub_image_missing_a_module_its_embedded_config_needs_fails_that_path() {
    // Attack A1: boot-modules.sh made each GRUB image again with
    // grub-mkimage from the same load.cfg, one module short, and put it
    // where grub-install puts it. The firmware proof: OVMF / SeaBIOS show
    // the rescue prompt for each; the other path still boots.
    use Outcome::{Boots, Fails};
    for (rel, code, want) in [
        (
            "boot/gpt-grub-efi-no-fs.delta",
            "boot.grub.fs_module_missing",
            (Boots, Fails),
        ),
        (
            "boot/gpt-grub-efi-no-search.delta",
            "boot.grub.command_missing",
            (Boots, Fails),
        ),
        (
            "boot/gpt-grub-efi-msdos.delta",
            "boot.grub.partmap_missing",
            (Boots, Fails),
        ),
        (
            "boot/gpt-grub-bios-no-fs.delta",
            "boot.grub.fs_module_missing",
            (Fails, Boots),
        ),
        (
            "boot/gpt-grub-bios-no-search.delta",
            "boot.grub.command_missing",
            (Fails, Boots),
        ),
    ] {
        let d = with_delta(CLEAN, rel);
        let r = report_of(d.path(), false);
        assert_eq!(outcomes(&r), want, "{rel}: {:?}", codes(&r));
        let f = finding(&r, code);
        assert_eq!(f.severity, Severity::Error, "{rel}");
        assert!(f.message.contains("grub rescue"), "{rel}: {}", f.message);
    }
    // Not crying wolf: the `search` command (search.mod, whose
    // search_fs_* dependencies grub-mkimage adds) runs load.cfg's
    // search.fs_uuid, and the image boots.
    let d = with_delta(CLEAN, "boot/gpt-grub-efi-search-wrap.delta");
    let r = report_of(d.path(), false);
    assert_eq!(outcomes(&r), (Boots, Boots), "{:?}", codes(&r));
    let clean = report_of(&fixture(CLEAN), false);
    for c in ["boot.grub.fs_module_missing", "boot.grub.command_missing"] {
        assert!(!codes(&clean).contains(&c.to_string()), "{c}");
        assert!(!codes(&r).contains(&c.to_string()), "{c}");
    }
}

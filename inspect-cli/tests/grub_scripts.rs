//! The boot chain past GRUB's kernel image as GRUB runs it, on the GPT
//! fixture GRUB was installed on by the real tools (testdata/scripts/boot.sh)
//! with its root filesystem changed by debugfs (skipped visibly when
//! e2fsprogs is not installed) or core.img's bytes flipped: `source` and
//! `configfile`, one-line entries, grubenv's saved_entry, a search for a
//! filesystem on another disk, module dependencies, the Reed–Solomon
//! repair of core.img, and blscfg's version order. Each was a miss or a
//! false alarm an attack found.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

mod boot_common;

use boot_common::{CLEAN, codes, outcomes, report_of, root_data_at, with_root};
use imgcheck_boot::Outcome;
use imgcheck_core::Severity;
use imgcheck_testdata::{Patch, damaged, fixture};
use std::path::Path;
use std::process::Command;

/// `with_root` replacing grub.cfg by `cfg`.
fn with_cfg(
    cfg: &str,
    cmds: &[&str],
    files: &[(&str, &[u8])],
) -> Option<(tempfile::TempDir, std::path::PathBuf)> {
    let mut all = vec![
        "rm /boot/grub/grub.cfg",
        "write grub.cfg /boot/grub/grub.cfg",
    ];
    all.extend_from_slice(cmds);
    let mut fs = vec![("grub.cfg", cfg.as_bytes())];
    fs.extend_from_slice(files);
    with_root(&all, &fs)
}

fn bios_of(path: &Path) -> (Outcome, String, Vec<String>) {
    let r = report_of(path, false);
    let b = r.boot.as_ref().unwrap();
    (b.bios.outcome, b.bios.summary.clone(), codes(&r))
}

const KERNEL: &str = "/boot/vmlinuz-imgcheck";

#[test]
fn sourced_and_handed_over_configs_are_followed() {
    // An attack: grub.cfg only `source`s the file holding the menu, whose
    // default kernel is gone (GRUB runs it in place: its menu is this one).
    let custom = "menuentry 'Z' {\n linux /boot/vmlinuz-Z\n}\n";
    let Some((_d, p)) = with_cfg(
        "source $prefix/custom.cfg\n",
        &["write custom.cfg /boot/grub/custom.cfg"],
        &[("custom.cfg", custom.as_bytes())],
    ) else {
        return;
    };
    let (o, s, c) = bios_of(&p);
    assert_eq!(o, Outcome::Fails, "{s}");
    assert!(
        s.contains("/boot/vmlinuz-Z") && c.contains(&"boot.linux.kernel_missing".into()),
        "{s}"
    );
    // `configfile` shows the other file's menu: a good kernel there boots.
    let other = format!("menuentry 'O' {{\n linux {KERNEL}\n}}\n");
    let (_d, p) = with_cfg(
        "configfile ${prefix}/other.cfg\nmenuentry 'never shown' {\n linux /boot/gone\n}\n",
        &["write other.cfg /boot/grub/other.cfg"],
        &[("other.cfg", other.as_bytes())],
    )
    .unwrap();
    let (o, s, _) = bios_of(&p);
    assert_eq!(o, Outcome::Boots, "{s}");
    assert!(
        s.contains("/boot/grub/other.cfg") && s.contains(KERNEL),
        "{s}"
    );
    // A file that sources itself is read once.
    let (_d, p) = with_cfg(
        &format!("source /boot/grub/grub.cfg\nmenuentry 'L' {{\n linux {KERNEL}\n}}\n"),
        &[],
        &[],
    )
    .unwrap();
    assert_eq!(bios_of(&p).0, Outcome::Boots);
}

#[test]
fn one_line_menuentries_are_read_as_grub_s_lexer_splits_them() {
    // `{` and `}` are tokens wherever they stand (yylex.l); the last
    // command before `}` needs no `;` (parser.y `block`).
    let Some((_d, p)) = with_cfg(
        &format!(
            "menuentry 'A' {{ linux /boot/vmlinuz-Z; }}\nmenuentry 'B' {{ linux {KERNEL}; initrd /boot/initrd.img-imgcheck }}\n"
        ),
        &[],
        &[],
    ) else {
        return;
    };
    let (o, s, _) = bios_of(&p);
    assert_eq!(o, Outcome::Fails, "{s}");
    assert!(s.contains("'A'") && s.contains("/boot/vmlinuz-Z"), "{s}");
    let (_d, p) = with_cfg(
        &format!("set default=1\nmenuentry 'A' {{ linux /boot/vmlinuz-Z; }}\nmenuentry 'B' {{ linux {KERNEL}; initrd /boot/initrd.img-imgcheck }}\n"),
        &[],
        &[],
    )
    .unwrap();
    let (o, s, _) = bios_of(&p);
    assert_eq!(o, Outcome::Boots, "{s}");
    assert!(s.contains("/boot/initrd.img-imgcheck"), "{s}");
}

/// A grubenv as grub-editenv writes it: the signature, the variables,
/// `#` to 1,024 bytes.
fn grubenv(vars: &str) -> Vec<u8> {
    let mut b = format!("# GRUB Environment Block\n{vars}").into_bytes();
    b.resize(1024, b'#');
    b
}

#[test]
fn grubenv_saved_entry_picks_the_default() {
    let cfg = format!(
        "if [ -s $prefix/grubenv ]; then\n  load_env\nfi\nset default=\"${{saved_entry}}\"\nmenuentry 'B' {{\n linux {KERNEL}\n}}\nmenuentry 'X' --id xid {{\n linux /boot/vmlinuz-X\n}}\n"
    );
    let env = |v: &str| grubenv(v);
    let run = |vars: &str| {
        let e = env(vars);
        with_cfg(
            &cfg,
            &["rm /boot/grub/grubenv", "write grubenv /boot/grub/grubenv"],
            &[("grubenv", &e)],
        )
        .map(|(d, p)| (d, bios_of(&p)))
    };
    // saved_entry names the broken entry by title, then by id: GRUB boots it and fails.
    for v in ["saved_entry=X\n", "saved_entry=xid\n"] {
        let Some((_d, (o, s, _))) = run(v) else {
            return;
        };
        assert_eq!(o, Outcome::Fails, "{v}: {s}");
        assert!(s.contains("'X'") && s.contains("/boot/vmlinuz-X"), "{s}");
    }
    // saved_entry=B boots; none saved is entry 0 (an unset variable is empty).
    for v in ["saved_entry=B\n", ""] {
        let (_d, (o, s, _)) = run(v).unwrap();
        assert_eq!(o, Outcome::Boots, "{v}: {s}");
        assert!(s.contains("'B'"), "{s}");
    }
}

#[test]
fn a_search_for_a_filesystem_on_another_disk_is_unknown_not_an_error() {
    // GRUB's search looks at every disk; the others are not in view.
    let Some((_d, p)) = with_cfg(
        "search --no-floppy --fs-uuid --set=root 11111111-2222-3333-4444-555555555555\nmenuentry 'A' {\n linux /boot/vmlinuz-Q\n}\n",
        &[],
        &[],
    ) else {
        return;
    };
    let r = report_of(&p, false);
    let b = r.boot.as_ref().unwrap();
    assert_eq!(b.bios.outcome, Outcome::Boots, "{}", b.bios.summary);
    assert!(
        !r.findings().iter().any(|f| f.severity >= Severity::Error),
        "{:?}",
        codes(&r)
    );
    let w = r
        .findings()
        .into_iter()
        .find(|f| f.code == "boot.grub.search_elsewhere")
        .unwrap_or_else(|| panic!("{:?}", codes(&r)));
    assert_eq!(w.severity, Severity::Warning);
    assert!(
        w.message.contains("11111111-2222-3333-4444-555555555555"),
        "{}",
        w.message
    );
}

#[test]
fn module_dependencies_from_moddep_lst_are_checked() {
    // extcmd.mod is a dependency of normal.mod (moddep.lst): GRUB stops
    // at grub rescue>.
    let Some((_d, p)) = with_root(&["rm /boot/grub/i386-pc/extcmd.mod"], &[]) else {
        return;
    };
    let (o, s, c) = bios_of(&p);
    assert_eq!(o, Outcome::Fails, "{s}");
    assert!(c.contains(&"boot.grub.modules_missing".into()), "{c:?}");
    assert!(s.contains("/boot/grub/i386-pc/extcmd.mod"), "{s}");
    // linux.mod provides the `linux` command (command.lst): the entry
    // loads no kernel.
    let (_d, p) = with_root(&["rm /boot/grub/i386-pc/linux.mod"], &[]).unwrap();
    let (o, s, c) = bios_of(&p);
    assert_eq!(o, Outcome::Fails, "{s}");
    assert!(c.contains(&"boot.linux.kernel_missing".into()), "{c:?}");
    assert!(s.contains("/boot/grub/i386-pc/linux.mod"), "{s}");
    // So does vbe.mod, which linux.mod needs (moddep.lst `linux: … vbe`).
    let (_d, p) = with_root(&["rm /boot/grub/i386-pc/vbe.mod"], &[]).unwrap();
    let (o, s, _) = bios_of(&p);
    assert_eq!(o, Outcome::Fails, "{s}");
    assert!(s.contains("/boot/grub/i386-pc/vbe.mod"), "{s}");
    // A module nothing on the path needs may go (fat.mod: /boot is ext4).
    let (_d, p) = with_root(&["rm /boot/grub/i386-pc/fat.mod"], &[]).unwrap();
    assert_eq!(bios_of(&p).0, Outcome::Boots);
}

#[test]
fn module_dependencies_are_the_modules_own_not_moddep_lst() {
    // GRUB's loader reads each module's .moddeps section; moddep.lst is
    // only grub-install's summary of them. An attack booted both cases
    // below under SeaBIOS: a moddep.lst naming a module that does not
    // exist still shows the menu, and a deleted gettext.mod stops GRUB at
    // grub rescue> although an edited moddep.lst no longer names it.
    let Some((_d, p)) = with_root(
        &[
            "rm /boot/grub/i386-pc/moddep.lst",
            "write moddep.lst /boot/grub/i386-pc/moddep.lst",
        ],
        &[("moddep.lst", b"normal: nosuchmodule\n")],
    ) else {
        return;
    };
    let (o, s, c) = bios_of(&p);
    assert_eq!(o, Outcome::Boots, "{s} {c:?}");
    let (_d, p) = with_root(
        &[
            "rm /boot/grub/i386-pc/moddep.lst",
            "write moddep.lst /boot/grub/i386-pc/moddep.lst",
            "rm /boot/grub/i386-pc/gettext.mod",
        ],
        &[("moddep.lst", b"normal:\n")],
    )
    .unwrap();
    let (o, s, c) = bios_of(&p);
    assert_eq!(o, Outcome::Fails, "{s}");
    assert!(c.contains(&"boot.grub.modules_missing".into()), "{c:?}");
    assert!(s.contains("/boot/grub/i386-pc/gettext.mod"), "{s}");
}

#[test]
fn core_img_damage_its_reed_solomon_parity_repairs_is_a_warning() {
    // An attack: 64 bytes flipped inside core.img's compressed kernel
    // (LBA 2100). GRUB's startup_raw.S repairs them from the parity
    // grub-bios-setup wrote (SeaBIOS boots to the menu), so BIOS boots.
    let clean = std::fs::read(fixture(CLEAN)).unwrap();
    let at = 2100 * 512;
    let flipped: Vec<u8> = clean[at..at + 64].iter().map(|b| b ^ 0x5a).collect();
    let d = damaged(
        CLEAN,
        &[Patch::Bytes {
            offset: at as u64,
            bytes: flipped,
        }],
    );
    let r = report_of(d.path(), false);
    assert_eq!(outcomes(&r).0, Outcome::Boots, "{:?}", codes(&r));
    let w = r
        .findings()
        .into_iter()
        .find(|f| f.code == "boot.bios.grub.core_repaired")
        .unwrap_or_else(|| panic!("{:?}", codes(&r)));
    assert_eq!(w.severity, Severity::Warning);
    assert!(w.message.contains("64 bytes"), "{}", w.message);
    // Two zeroed sectors too (one error in each codeword, well within
    // the ~27 each corrects).
    let d = damaged(
        CLEAN,
        &[Patch::Zero {
            offset: (2060 * 512) as u64,
            len: 1024,
        }],
    );
    let r = report_of(d.path(), false);
    assert_eq!(outcomes(&r).0, Outcome::Boots, "{:?}", codes(&r));
    assert!(codes(&r).contains(&"boot.bios.grub.core_repaired".into()));
    // Past what it corrects (32 sectors: core_img_zeroed_breaks_the_grub_chain)
    // or with the parity itself gone, it fails.
    let d = damaged(
        CLEAN,
        &[
            Patch::Bytes {
                offset: at as u64,
                bytes: clean[at..at + 64].iter().map(|b| b ^ 0x5a).collect(),
            },
            Patch::Zero {
                offset: (2049 * 512 + 27474) as u64,
                len: 28334,
            },
        ],
    );
    let r = report_of(d.path(), false);
    assert_eq!(outcomes(&r).0, Outcome::Fails, "{:?}", codes(&r));
}

#[test]
fn bls_entries_follow_blscfg_s_version_order_not_their_names() {
    // blscfg sorts by rpm's version compare (5.10.0 before 5.9.0); a
    // name sort picks 5.9.0. Which one is the default is left unknown:
    // the chain fails only when no entry boots.
    let e59 =
        b"title Fedora (5.9.0)\nversion 5.9.0\nlinux /boot/vmlinuz-5.9.0\noptions root=/dev/sda3\n";
    let e510 = format!(
        "title Fedora (5.10.0)\nversion 5.10.0\nlinux {KERNEL}\ninitrd /boot/initrd.img-imgcheck\n"
    );
    // Debian's GRUB has no blscfg.mod (Fedora's patch): a stand-in is put
    // where Fedora's grub2-install puts it, so that blscfg runs.
    let blscfg_mod: &[u8] = b"\x7fELF stand-in for Fedora's blscfg.mod";
    let mk = |k510: &str| {
        let e = e510.replace(KERNEL, k510);
        with_cfg(
            "set default=\"${saved_entry}\"\ninsmod blscfg\nblscfg\n",
            &[
                "mkdir /boot/loader",
                "mkdir /boot/loader/entries",
                "write e59.conf /boot/loader/entries/abc-5.9.0.conf",
                "write e510.conf /boot/loader/entries/abc-5.10.0.conf",
                "write blscfg.mod /boot/grub/i386-pc/blscfg.mod",
            ],
            &[
                ("e59.conf", e59),
                ("e510.conf", e.as_bytes()),
                ("blscfg.mod", blscfg_mod),
            ],
        )
        .map(|(d, p)| (d, bios_of(&p)))
    };
    let Some((_d, (o, s, c))) = mk(KERNEL) else {
        return;
    };
    assert_eq!(o, Outcome::Boots, "{s}");
    assert!(!c.contains(&"boot.linux.kernel_missing".into()), "{c:?}");
    let (_d, (o, s, c)) = mk("/boot/vmlinuz-5.10.0").unwrap();
    assert_eq!(o, Outcome::Fails, "{s}");
    assert!(c.contains(&"boot.linux.kernel_missing".into()), "{c:?}");
}

/// A grubenv as grub-editenv makes it (`create`, then `set` each of
/// `vars`); `None`, printed, when grub-editenv is not installed.
fn editenv(vars: &[&str]) -> Option<Vec<u8>> {
    if Command::new("grub-editenv")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("SKIPPED: grub-editenv (grub2-common) is not installed");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("grubenv");
    let run = |args: &[&str]| {
        let out = Command::new("grub-editenv")
            .arg(&f)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    run(&["create"]);
    if !vars.is_empty() {
        run(&[&["set"], vars].concat());
    }
    Some(std::fs::read(&f).unwrap())
}

/// grub.cfg as grub-mkconfig's 00_header.in writes its default (GRUB_DEFAULT=saved),
/// then a broken entry X, a good one B and a submenu with a good and a broken one.
fn saved_cfg() -> String {
    format!(
        r#"if [ -s $prefix/grubenv ]; then
  set have_grubenv=true
  load_env
fi
if [ "${{next_entry}}" ] ; then
   set default="${{next_entry}}"
   set next_entry=
   save_env next_entry
   set boot_once=true
else
   set default="${{saved_entry}}"
fi
menuentry 'X' --id xid {{
 linux /boot/vmlinuz-X
}}
menuentry 'B' {{
 linux {KERNEL}
}}
submenu 'adv' $menuentry_id_option 'advid' {{
 menuentry 'xx' {{
  linux {KERNEL}
 }}
 menuentry 'yy' $menuentry_id_option 'yid' {{
  linux /boot/vmlinuz-yy
 }}
}}
"#
    )
}

/// The BIOS verdict with `saved_cfg()` and `env` as /boot/grub/grubenv.
fn with_env(env: &[u8]) -> Option<(Outcome, String, Vec<String>)> {
    let cfg = saved_cfg();
    with_cfg(
        &cfg,
        &["rm /boot/grub/grubenv", "write grubenv /boot/grub/grubenv"],
        &[("grubenv", env)],
    )
    .map(|(_d, p)| bios_of(&p))
}

#[test]
fn grub_reboot_s_next_entry_is_the_default_over_saved_entry() {
    // An attack: grub-reboot's one-shot next_entry names the broken
    // entry; 00_header.in's `if [ "${next_entry}" ]` boots it.
    let Some(env) = editenv(&["saved_entry=B", "next_entry=X"]) else {
        return;
    };
    let Some((o, s, _)) = with_env(&env) else {
        return;
    };
    assert_eq!(o, Outcome::Fails, "{s}");
    assert!(s.contains("'X'") && s.contains("/boot/vmlinuz-X"), "{s}");
    let env = editenv(&["saved_entry=B"]).unwrap();
    let (o, s, _) = with_env(&env).unwrap();
    assert_eq!(o, Outcome::Boots, "{s}");
    assert!(s.contains("'B'"), "{s}");
}

#[test]
fn a_grubenv_grub_cannot_read_leaves_the_default_at_item_0() {
    // An attack: with the header damaged (load_env: "invalid environment
    // block") or a line without `=` before saved_entry (envblk.c reads
    // the name on to the next `=`), saved_entry is unset and GRUB boots
    // item 0, the broken X; we said the default was unknown and B boots.
    let Some(env) = editenv(&["saved_entry=B"]) else {
        return;
    };
    let mut bad_header = env.clone();
    bad_header[2] = b'g';
    let at = env.windows(12).position(|w| w == b"saved_entry=").unwrap();
    let mut junk = env[..at].to_vec();
    junk.extend_from_slice(b"junk\n");
    junk.extend_from_slice(&env[at..env.len() - 5]);
    for (what, e) in [("header", bad_header), ("junk line", junk)] {
        assert_eq!(e.len(), 1024);
        let (o, s, _) = with_env(&e).unwrap();
        assert_eq!(o, Outcome::Fails, "{what}: {s}");
        assert!(s.contains("'X'"), "{what}: {s}");
    }
}

#[test]
fn saved_entry_follows_a_submenu_path_by_id_title_or_number() {
    // An attack: Debian's grub-set-default writes `submenu-id>entry-id`
    // for an entry under "Advanced options"; GRUB goes into the submenu
    // and boots that entry (menu.c grub_menu_execute_entry).
    for (saved, fails) in [
        ("advid>yid", true),
        ("adv>yy", true),
        ("2>1", true),
        ("adv>xx", false),
        ("advid", false),
    ] {
        let Some(env) = editenv(&[&format!("saved_entry={saved}")]) else {
            return;
        };
        let (o, s, _) = with_env(&env).unwrap();
        if fails {
            assert_eq!(o, Outcome::Fails, "{saved}: {s}");
            assert!(s.contains("'yy'"), "{saved}: {s}");
        } else {
            assert_eq!(o, Outcome::Boots, "{saved}: {s}");
            assert!(s.contains("'xx'"), "{saved}: {s}");
        }
    }
}

#[test]
fn a_config_with_no_menu_entry_stops_at_the_grub_prompt() {
    // An attack: a grub.cfg that only sources itself, or hands over to a
    // file that hands back, defines no entry: GRUB shows no menu
    // (normal/main.c) and nothing boots; we said it boots.
    let Some((_d, p)) = with_cfg("source $prefix/grub.cfg\n", &[], &[]) else {
        return;
    };
    let (o, s, c) = bios_of(&p);
    assert_eq!(o, Outcome::Fails, "{s}");
    assert!(c.contains(&"boot.grub.no_menu".into()), "{c:?}");
    assert!(s.contains("grub>") && s.contains("cycle"), "{s}");
    let (_d, p) = with_cfg(
        "configfile $prefix/b.cfg\n",
        &["write b.cfg /boot/grub/b.cfg"],
        &[("b.cfg", b"configfile $prefix/grub.cfg\n")],
    )
    .unwrap();
    let (o, s, c) = bios_of(&p);
    assert_eq!(o, Outcome::Fails, "{s}");
    assert!(c.contains(&"boot.grub.no_menu".into()), "{c:?}");
    // Entries only in a branch GRUB does not take: none either.
    let (_d, p) = with_cfg(
        &format!("if [ x = y ]; then\nmenuentry 'A' {{\n linux {KERNEL}\n}}\nfi\n"),
        &[],
        &[],
    )
    .unwrap();
    assert_eq!(bios_of(&p).0, Outcome::Fails);
}

#[test]
fn a_failed_search_leaves_root_on_this_disk() {
    // An attack: a top-level search for a UUID on no disk fails
    // ("no such device"), $root stays the prefix's filesystem and GRUB
    // boots the kernel from it; we said it loads from another disk.
    let Some((_d, p)) = with_cfg(
        &format!(
            "search --no-floppy --fs-uuid --set=root 11111111-2222-3333-4444-555555555555\nmenuentry 'A' {{\n linux {KERNEL}\n}}\n"
        ),
        &[],
        &[],
    ) else {
        return;
    };
    let r = report_of(&p, false);
    let b = r.boot.as_ref().unwrap();
    assert_eq!(b.bios.outcome, Outcome::Boots, "{}", b.bios.summary);
    assert!(
        b.bios.summary.contains(KERNEL) && !b.bios.summary.contains("another disk"),
        "{}",
        b.bios.summary
    );
    let w = r
        .findings()
        .into_iter()
        .find(|f| f.code == "boot.grub.search_elsewhere")
        .unwrap_or_else(|| panic!("{:?}", codes(&r)));
    assert_eq!(w.severity, Severity::Warning);
    assert!(w.message.contains("stays partition 3"), "{}", w.message);
}

#[test]
fn a_kernel_without_its_boot_protocol_marks_fails_and_a_lost_initrd_is_named() {
    // Attack boot8-2 F1: /boot/vmlinuz-imgcheck rewritten (debugfs) as
    // 64 KiB with 55 AA at 0x1FE but no "HdrS" at 0x202, and as one with
    // neither: GRUB's linux command refuses both.
    let mut k = vec![0x90u8; 65536];
    k[0x1FE] = 0x55;
    k[0x1FF] = 0xAA;
    let mut none = k.clone();
    none[0x1FE] = 0;
    for (what, bytes, says) in [
        ("no HdrS", &k, "HdrS"),
        ("no 55 AA", &none, "invalid magic number"),
    ] {
        let Some((_d, p)) = with_root(
            &[
                "rm /boot/vmlinuz-imgcheck",
                "write k /boot/vmlinuz-imgcheck",
            ],
            &[("k", bytes)],
        ) else {
            return;
        };
        let r = report_of(&p, false);
        assert_eq!(
            outcomes(&r),
            (Outcome::Fails, Outcome::Fails),
            "{what}: {:?}",
            codes(&r)
        );
        let f = r
            .findings()
            .into_iter()
            .find(|f| f.code == "boot.linux.kernel_missing")
            .unwrap();
        assert!(
            f.message.contains(says) && f.message.contains(KERNEL),
            "{what}: {}",
            f.message
        );
        // The kernel's first block, where the marks are missing.
        assert_eq!(Some(f.offset), root_data_at(&p, KERNEL), "{what}");
    }
    // F6: the initramfs alone gone is named as such, and Linux does start.
    let (_d, p) = with_root(&["rm /boot/initrd.img-imgcheck"], &[]).unwrap();
    let (o, s, c) = bios_of(&p);
    assert_eq!(o, Outcome::Fails, "{s}");
    assert!(c.contains(&"boot.linux.initrd_missing".into()), "{c:?}");
    assert!(!c.contains(&"boot.linux.kernel_missing".into()), "{c:?}");
    assert!(s.contains("starts the kernel without it"), "{s}");
}

#[test]
fn a_lost_grub_cfg_is_looked_at_read_only_and_remade_by_grub_mkconfig() {
    // Attack boot8-2 F3: the step was grub-install, which never writes
    // grub.cfg.
    let Some((_d, p)) = with_root(&["rm /boot/grub/grub.cfg"], &[]) else {
        return;
    };
    let r = report_of(&p, false);
    let f = r
        .findings()
        .into_iter()
        .find(|f| f.code == "boot.grub.cfg_missing")
        .unwrap_or_else(|| panic!("{:?}", codes(&r)));
    let h = r.hint_of(f).unwrap().hint;
    let cmd = h.command.clone().unwrap();
    assert!(!h.writes && !cmd.contains("grub-install"), "{h:?}");
    assert!(h.note.as_ref().unwrap().contains("grub-mkconfig"), "{h:?}");
    let out = Command::new("sh").arg("-c").arg(&cmd).output().unwrap();
    let o = String::from_utf8_lossy(&out.stdout);
    assert!(
        o.contains("i386-pc") && !o.contains("grub.cfg"),
        "{cmd}: {o}"
    );
}

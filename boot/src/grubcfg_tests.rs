//! Unit tests of grubcfg.rs: GRUB scripts as GRUB 2.06 runs them.
#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

use super::*;

/// GRUB numbers submenus among the entries, matches a default against
/// titles and ids (normal/menu.c `menuentry_eq`) and goes on into a
/// submenu past a `>`. Found by attacks: each of these was reported as
/// a failing default, and then `1>0` as unknown.
#[test]
fn the_default_counts_submenus_matches_ids_and_leaves_paths_unknown() {
    let cfg = |d: &str| {
        format!(
            "set default={d}\nmenuentry 'X' {{\n linux /x\n}}\nsubmenu 'S' {{\n menuentry 'S0' {{\n  linux /s\n }}\n}}\nmenuentry 'B' --id bid {{\n linux /b\n}}\n"
        )
    };
    let title = |d: &str| {
        let c = parse(&cfg(d), &Vars::default());
        c.default.map(|i| c.entries[i].title.clone())
    };
    assert_eq!(title("0").as_deref(), Some("X"));
    assert_eq!(title("2").as_deref(), Some("B"));
    assert_eq!(title("1").as_deref(), Some("S0"), "a submenu: its item 0");
    assert_eq!(title("\"1>0\"").as_deref(), Some("S0"));
    assert_eq!(title("S>S0").as_deref(), Some("S0"));
    assert_eq!(title("bid").as_deref(), Some("B"));
    assert_eq!(title("9").as_deref(), Some("X"), "GRUB falls back to 0");
    assert_eq!(title("B").as_deref(), Some("B"));
}

#[test]
fn braces_are_tokens_except_in_variables() {
    assert_eq!(
        words("menuentry 'a{b}' { linux ${root}/k; initrd /i }"),
        vec![
            vec!["menuentry", "a{b}", "{"],
            vec!["linux", "${root}/k"],
            vec!["initrd", "/i"],
            vec!["}"],
        ]
    );
}

#[test]
fn sourcing_is_bounded_and_each_file_read_once() {
    let mut reads = 0;
    let v = Vars {
        prefix: Some(Located {
            device: Some(Device::Partition(1)),
            path: "/grub".into(),
        }),
        ..Vars::default()
    };
    // Every file sources itself and a new one: a chain GRUB would
    // follow until its stack gives out.
    let mut read = |l: &Located| {
        reads += 1;
        Read::Text(format!(
            "source {}\nsource {}x\nmenuentry 'e' {{ linux /k; }}\n",
            l.path, l.path
        ))
    };
    let c = parse_with("source $prefix/a\n", &v, &mut read);
    assert!(reads <= MAX_INCLUDES, "{reads}");
    assert_eq!(c.included.len(), MAX_INCLUDE_DEPTH);
    assert!(!c.entries.is_empty());
}

#[test]
fn grub_install_load_cfg_names_the_uuid_and_prefix() {
    let v = boot_prefix(
        Some("search.fs_uuid 5a5a-01 root hd0,gpt3 \nset prefix=($root)'/boot/grub'\n"),
        Some("/boot/grub"),
    );
    let p = v.prefix.unwrap();
    assert_eq!(p.device.unwrap().target(), &Device::Uuid("5a5a-01".into()));
    assert_eq!(p.path, "/boot/grub");
    let v = boot_prefix(None, Some("(hd0,msdos1)/grub"));
    assert_eq!(v.prefix.unwrap().device, Some(Device::Partition(1)));
    let v = boot_prefix(None, Some("(lvm/vg-root)/boot/grub"));
    assert!(matches!(v.prefix.unwrap().device, Some(Device::Other(_))));
}

#[test]
fn mkconfig_entries_locate_kernels_on_their_search_root() {
    let cfg = r#"
set default="0"
menuentry 'Debian GNU/Linux' --class debian $menuentry_id_option 'gnulinux-simple-u' {
	insmod ext2
	search --no-floppy --fs-uuid --set=root --hint-bios=hd0,gpt2 --hint='hd0,gpt2'  1111-2222
	echo	'Loading Linux 6.1.0-18-amd64 ...'
	linux	/boot/vmlinuz-6.1.0-18-amd64 root=UUID=1111-2222 ro  quiet
	initrd	/boot/initrd.img-6.1.0-18-amd64
}
submenu 'Advanced options' {
	menuentry 'x' {
		linux (hd0,gpt3)/vmlinuz
	}
}
"#;
    let c = parse(cfg, &Vars::default());
    assert_eq!(c.top, 2);
    assert_eq!(c.entries.len(), 2);
    let e = &c.entries[0];
    let l = e.linux.as_ref().unwrap();
    assert_eq!(
        l.device.as_ref().unwrap().target(),
        &Device::Uuid("1111-2222".into())
    );
    assert_eq!(l.path, "/boot/vmlinuz-6.1.0-18-amd64");
    assert_eq!(e.initrd.len(), 1);
    assert_eq!(
        c.entries[1].linux.as_ref().unwrap().device,
        Some(Device::Partition(3))
    );
}

#[test]
fn an_esp_stub_hands_over_to_the_prefix_grub_cfg() {
    let stub = "search.fs_uuid 1111-2222 root\nset prefix=($root)'/boot/grub'\nconfigfile $prefix/grub.cfg\n";
    let c = parse(stub, &Vars::default());
    let l = c.configfile.unwrap();
    assert_eq!(
        l.device.unwrap().target(),
        &Device::Uuid("1111-2222".into())
    );
    assert_eq!(l.path, "/boot/grub/grub.cfg");
}

#[test]
fn a_saved_default_is_unknown_only_where_grubenv_is_not_read() {
    let cfg = "load_env\nset default=\"${saved_entry}\"\nmenuentry 'a' {\n linux /a\n}\nmenuentry 'b' {\n linux /b\n}\n";
    let v = Vars {
        prefix: Some(Located {
            device: Some(Device::Partition(1)),
            path: "/grub".into(),
        }),
        ..Vars::default()
    };
    // A grubenv not read here: unknown.
    assert_eq!(parse(cfg, &v).default, None);
    // None there, or one with a broken header: saved_entry is unset,
    // so empty, and GRUB boots item 0 (menu.c: no match, 0).
    let env = |t: &'static str| move |_: &Located| Read::Text(t.to_string());
    for t in ["", "GRUB Environment Block\nsaved_entry=b\n"] {
        let c = parse_with(cfg, &v, &mut env(t));
        assert_eq!(c.default, Some(0), "{t:?}");
    }
    let c = parse_with(cfg, &v, &mut |_| Read::Absent);
    assert_eq!(c.default, Some(0));
    let c = parse_with(
        cfg,
        &v,
        &mut env("# GRUB Environment Block\nsaved_entry=b\n"),
    );
    assert_eq!(c.default, Some(1));
    let cfg = "set default=1\nmenuentry 'a' {\n linux /a\n}\nmenuentry 'b' {\n linux /b\n}\n";
    assert_eq!(parse(cfg, &Vars::default()).default, Some(1));
}

#[test]
fn if_branches_run_by_their_tests_where_those_are_known() {
    // 00_header.in: next_entry (grub-reboot) over saved_entry.
    let cfg = "load_env\nif [ \"${next_entry}\" ] ; then\n set default=\"${next_entry}\"\n set next_entry=\nelse\n set default=\"${saved_entry}\"\nfi\nmenuentry 'a' {\n linux /a\n}\nmenuentry 'b' {\n linux /b\n}\nmenuentry 'c' {\n linux /c\n}\n";
    let v = Vars {
        prefix: Some(Located {
            device: Some(Device::Partition(1)),
            path: "/grub".into(),
        }),
        ..Vars::default()
    };
    let with = |t: &str| {
        let t = format!("# GRUB Environment Block\n{t}");
        parse_with(cfg, &v, &mut |_| Read::Text(t.clone())).default
    };
    assert_eq!(with("saved_entry=b\nnext_entry=c\n"), Some(2));
    assert_eq!(with("saved_entry=b\n"), Some(1));
    assert_eq!(with("saved_entry=b\nnext_entry=\n"), Some(1));
    // A test not known here: both branches may run, so unknown.
    let cfg2 = "if loadfont x; then\n set default=1\nfi\nmenuentry 'a' {\n linux /a\n}\nmenuentry 'b' {\n linux /b\n}\n";
    assert_eq!(parse(cfg2, &v).default, None);
    // A false branch defines no entry; a maybe-branch entry makes a
    // later default unknown.
    let cfg3 =
        "if [ x = y ]; then\nmenuentry 'n' {\n linux /n\n}\nfi\nmenuentry 'a' {\n linux /a\n}\n";
    let c = parse(cfg3, &v);
    assert_eq!((c.entries.len(), c.default), (1, Some(0)));
    let cfg4 = "if loadfont x; then\nmenuentry 'n' {\n linux /n\n}\nfi\nmenuentry 'a' {\n linux /a\n}\nset default=1\n";
    assert_eq!(parse(cfg4, &v).default, None);
    // A function body runs when called: what it sets is unknown.
    let cfg5 = "function f {\n set default=1\n}\nmenuentry 'a' {\n linux /a\n}\nmenuentry 'b' {\n linux /b\n}\n";
    assert_eq!(parse(cfg5, &v).default, None);
    // fallback set: the default is not the only entry tried.
    let cfg6 = "set fallback=1\nmenuentry 'a' {\n linux /a\n}\nmenuentry 'b' {\n linux /b\n}\n";
    assert_eq!(parse(cfg6, &v).default, None);
}

#[test]
fn a_script_that_runs_itself_is_a_cycle() {
    let me = Located {
        device: Some(Device::Partition(1)),
        path: "/grub/grub.cfg".into(),
    };
    let v = Vars {
        prefix: Some(Located {
            device: Some(Device::Partition(1)),
            path: "/grub".into(),
        }),
        root: Some(Device::Partition(1)),
        ..Vars::default()
    };
    let mut read = |l: &Located| {
        if l.path == "/grub/b.cfg" {
            Read::Text("configfile $prefix/grub.cfg\n".into())
        } else {
            Read::Absent
        }
    };
    for cfg in ["source $prefix/grub.cfg\n", "configfile $prefix/b.cfg\n"] {
        let c = parse_file(Some(&me), cfg, &v, &mut read);
        assert!(c.entries.is_empty());
        assert_eq!(c.cycle.as_ref(), Some(&me), "{cfg}");
        assert_eq!(c.unfollowed, None, "{cfg}");
    }
    // A source that cannot be followed may hold the menu.
    let c = parse_file(Some(&me), "source $prefix/c.cfg\n", &v, &mut |_| {
        Read::Unknown
    });
    assert!(c.unfollowed.is_some());
}

/// Attack 16b F3: `menuentry "Linux $kver"` is a command like any other,
/// its words expanded (script/execute.c `grub_script_arglist_to_argv`):
/// double-quoted and bare words with their variables, single-quoted ones
/// as written. grub-emu 2.06 boots "Linux 6.1" for `default="Linux 6.1"`
/// with the double-quoted title and entry 0 with the single-quoted one.
#[test]
fn titles_expand_their_variables_except_in_single_quotes() {
    let cfg = |q: char| {
        format!(
            "set kver=6.1\nset default=\"Linux 6.1\"\nmenuentry \"Broken\" {{ linux /boot/vmlinuz-missing }}\nmenuentry {q}Linux $kver{q} {{ linux /boot/vmlinuz-$kver }}\n"
        )
    };
    let c = parse(&cfg('"'), &Vars::default());
    assert_eq!(c.entries[1].title, "Linux 6.1");
    assert_eq!(c.default, Some(1));
    let c = parse(&cfg('\''), &Vars::default());
    assert_eq!(c.entries[1].title, "Linux $kver");
    assert_eq!(c.default, Some(0));
    // Bare words and ids expand too; an escaped `$` does not.
    let c = parse(
        "set v=9\nset default=id9\nmenuentry a\\$v {\n linux /a\n}\nmenuentry b$v --id id$v {\n linux /b\n}\n",
        &Vars::default(),
    );
    assert_eq!(c.entries[0].title, "a$v");
    assert_eq!(c.entries[1].title, "b9");
    assert_eq!(c.default, Some(1));
    // A title whose variable is not known here: whether the default
    // names it is not known.
    let c = parse(
        "set default=x\nmenuentry \"$grub_cpu\" {\n linux /a\n}\nmenuentry x {\n linux /b\n}\n",
        &Vars::default(),
    );
    assert_eq!(c.default, None);
    // A path after `($root)` expands its variables too.
    let v = Vars {
        root: Some(Device::Partition(1)),
        ..Vars::default()
    };
    let c = parse(
        "set k=6.1\nmenuentry a {\n linux ($root)/vmlinuz-$k\n}\n",
        &v,
    );
    assert_eq!(c.entries[0].linux.as_ref().unwrap().path, "/vmlinuz-6.1");
}

/// Attack 16b F17: `if ! [ … ]` (script/execute.c inverts a command's
/// status after a `!`), numeric and string tests, `-a`/`-o`, `true` and
/// `false` (commands/test.c, commands/true.c). grub-emu 2.06 picks
/// `second` for the first script and the second entry for the -lt one.
#[test]
fn tests_negation_numbers_and_true_false_are_evaluated() {
    let pick = |cond: &str| {
        let cfg = format!(
            "set default=first\nset a=1\nset b=2\nif {cond}; then set default=second; fi\nmenuentry \"first\" {{ linux /boot/vmlinuz-6.1 }}\nmenuentry \"second\" {{ linux /boot/missing }}\n"
        );
        parse(&cfg, &Vars::default()).default
    };
    for (cond, want) in [
        ("! [ \"a\" = \"b\" ]", Some(1)),
        ("! [ a = a ]", Some(0)),
        ("[ $a -lt $b ]", Some(1)),
        ("[ $a -gt $b ]", Some(0)),
        ("[ $a -le 1 ]", Some(1)),
        ("[ $a -ge 2 ]", Some(0)),
        ("[ $a -eq 1 ]", Some(1)),
        ("[ $a -ne 1 ]", Some(0)),
        ("[ -2 -lt -1 ]", Some(1)),
        ("[ $a != $b ]", Some(1)),
        ("[ -z \"\" -a -n x ]", Some(1)),
        ("[ -z x -a -n x ]", Some(0)),
        ("[ -z x -o -n x ]", Some(1)),
        ("[ ! -z x ]", Some(1)),
        ("[ ! ( a = a -o b = c ) ]", Some(0)),
        ("[ a \"<\" b ]", Some(1)),
        ("[ ]", Some(1)),
        ("[ \"\" ]", Some(0)),
        ("true", Some(1)),
        ("false", Some(0)),
        ("! false", Some(1)),
        // Not modelled: unknown, never guessed.
        ("[ 0x10 -gt 1 ]", None),
        ("[ $a -lt x ]", None),
        ("[ vmlinuz-2 -plt vmlinuz-11 ]", None),
        ("[ a -EQ a ]", None),
        ("[ $grub_cpu = x ]", None),
        ("[ $grub_cpu ]", None),
        ("! ! true", None),
        ("! loadfont x", None),
    ] {
        assert_eq!(pick(cond), want, "{cond}");
    }
}

/// Attack 16b F6/F12: `search --set=dev` sets `$dev` to the device found
/// (commands/search.c `--set`, root only by default), so Fedora's ESP
/// stub `search --no-floppy --fs-uuid --set=dev U` / `set
/// prefix=($dev)/grub2` / `configfile $prefix/grub.cfg` and an embedded
/// config's `set root=$dev` name that filesystem.
#[test]
fn search_set_var_names_a_device_for_its_variable() {
    let u = Device::Uuid("1111".into());
    let searched = Device::searched(u.clone(), None);
    // The embedded config (boot_prefix), both shapes.
    let v = boot_prefix(
        Some("search --no-floppy --fs-uuid --set=dev 1111\nset prefix=($dev)/boot/grub\n"),
        Some("/boot/grub"),
    );
    let p = v.prefix.unwrap();
    assert_eq!(
        (p.device.as_ref(), p.path.as_str()),
        (Some(&searched), "/boot/grub")
    );
    let v = boot_prefix(
        Some("search.fs_uuid 1111 dev\nset root=$dev\nset prefix=($root)/grub\n"),
        None,
    );
    assert_eq!(v.root.as_ref(), Some(&searched));
    assert_eq!(v.prefix.unwrap().device.as_ref(), Some(&searched));
    // The ESP stub: its configfile is on the searched device.
    let esp = Vars {
        root: Some(Device::Partition(1)),
        ..Vars::default()
    };
    for stub in [
        "search --no-floppy --fs-uuid --set=dev 1111\nset prefix=($dev)/boot/grub\nexport $prefix\nconfigfile $prefix/grub.cfg\n",
        "search --no-floppy --fs-uuid --set=dev 1111\nconfigfile ($dev)/boot/grub/grub.cfg\n",
    ] {
        let mut seen = Vec::new();
        let c = parse_with(stub, &esp, &mut |l| {
            seen.push(l.clone());
            Read::Text("menuentry a {\n linux /vmlinuz\n}\n".into())
        });
        let want = Located {
            device: Some(Device::searched(u.clone(), None)),
            path: "/boot/grub/grub.cfg".into(),
        };
        assert_eq!(c.configfile.as_ref(), Some(&want), "{stub}");
        assert_eq!(c.entries.len(), 1, "{stub}");
        assert_eq!(seen, vec![want], "{stub}");
    }
    // A later plain `set dev=…` is a string again, not the device.
    let v = boot_prefix(
        Some("search --set=dev --fs-uuid 1111\nset dev=x\nset prefix=($dev)/grub\n"),
        None,
    );
    assert_eq!(v.prefix, None);
}

/// kern/main.c sets `$root` from the prefix's device before the embedded
/// config runs: with its `search` unknown (no search module in the
/// image), `set prefix=($root)/boot/grub` still names that partition.
/// attackC's b16.sh (grub-mkimage -p (hd0,gpt3)/boot/grub without
/// search_fs_uuid) was called "fails at grub rescue"; GRUB boots it.
#[test]
fn an_unknown_search_leaves_root_on_the_prefix_device() {
    let cfg = "search.fs_uuid 5a5a-01 root hd0,gpt3\nset prefix=($root)'/boot/grub'\n";
    let unknown = |c: &[String]| c.first().is_some_and(|w| w == "search.fs_uuid");
    let v = boot_prefix_without(Some(cfg), Some("(hd0,gpt3)/boot/grub"), &unknown);
    assert_eq!(v.root, Some(Device::Partition(3)));
    assert_eq!(v.prefix.unwrap().device, Some(Device::Partition(3)));
    // With a bare prefix GRUB starts on the device it was loaded from,
    // unknown here: nothing is invented.
    let v = boot_prefix_without(Some(cfg), Some("/boot/grub"), &unknown);
    assert_eq!(v.root, None);
}

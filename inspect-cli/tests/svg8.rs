//! Everyday use (issue 21): the `--map` picture read without hovering,
//! `--help` naming what an argument may be and the real exit codes, the
//! completions and man page generated from the clap definitions, and the
//! progress ticker kept off pipes. On fixtures made by real tools: the
//! demo (qemu-img, sgdisk, mkfs.ext4: testdata/scripts/demo.sh), an LVM
//! PV (lvm2: lvm2.sh) and GRUB-installed disks (grub-install: boot.sh).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

use imgcheck::exit;
use imgcheck_testdata::fixture;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn imgcheck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_imgcheck"))
        .args(args)
        .stdin(Stdio::null())
        .env_remove("NO_COLOR")
        .output()
        .expect("run imgcheck")
}

/// What the picture of one image says, parsed by a real XML parser.
struct Map {
    /// The `data-mark` of every shape drawn (legend excluded).
    used: BTreeSet<String>,
    /// The `data-mark` of every legend entry.
    legend: BTreeSet<String>,
    /// Each marker badge: (x, width, its label, its tooltip).
    markers: Vec<(f64, f64, String, String)>,
    /// Every text element's text, one per line.
    text: String,
    /// The codes of the findings the JSON report of the same image has.
    codes: BTreeSet<String>,
    /// The shapes on the disk bar, in drawing order: (x, width, tooltip).
    bar: Vec<(f64, f64, String)>,
}

fn map_of(image: &Path) -> Map {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("map.svg");
    let out = imgcheck(&["--map", svg.to_str().unwrap(), image.to_str().unwrap()]);
    assert!(
        matches!(out.status.code(), Some(0 | 1 | 4)),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("not XML: {e}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let mut m = Map {
        used: BTreeSet::new(),
        legend: BTreeSet::new(),
        markers: Vec::new(),
        text: String::new(),
        codes: BTreeSet::new(),
        bar: Vec::new(),
    };
    let bar_y = doc
        .descendants()
        .find(|n| n.tag_name().name() == "rect" && n.attribute("data-mark") == Some("disk"))
        .and_then(|n| n.attribute("y"))
        .expect("the disk bar")
        .to_string();
    for n in doc.descendants().filter(roxmltree::Node::is_element) {
        let legend = n.attribute("class") == Some("legend-entry");
        if let Some(k) = n.attribute("data-mark") {
            if legend {
                m.legend.insert(k.to_string());
            } else {
                m.used.insert(k.to_string());
            }
        }
        if n.attribute("class") == Some("marker") {
            let rect = n
                .children()
                .find(|c| c.tag_name().name() == "rect")
                .expect("a marker's badge");
            let label = n
                .children()
                .find(|c| c.tag_name().name() == "text")
                .map(|t| t.text().unwrap_or("").to_string())
                .unwrap_or_default();
            let tip = n
                .children()
                .find(|c| c.tag_name().name() == "title")
                .and_then(|t| t.text())
                .unwrap_or("")
                .to_string();
            m.markers.push((
                rect.attribute("x").unwrap().parse().unwrap(),
                rect.attribute("width").unwrap().parse().unwrap(),
                label,
                tip,
            ));
        }
        if n.tag_name().name() == "rect"
            && n.attribute("y") == Some(bar_y.as_str())
            && n.attribute("data-mark").is_some_and(|k| k != "disk")
        {
            let tip = n
                .children()
                .find(|c| c.tag_name().name() == "title")
                .and_then(|t| t.text())
                .unwrap_or("")
                .to_string();
            m.bar.push((
                n.attribute("x").unwrap().parse().unwrap(),
                n.attribute("width").unwrap().parse().unwrap(),
                tip,
            ));
        }
        if n.tag_name().name() == "text" {
            let t: String = n
                .descendants()
                .filter(roxmltree::Node::is_text)
                .filter(|d| d.parent().is_none_or(|p| p.tag_name().name() != "title"))
                .map(|d| d.text().unwrap_or(""))
                .collect();
            m.text.push_str(&t);
            m.text.push('\n');
        }
    }
    let json = imgcheck(&["--json", image.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    for f in v["findings"].as_array().unwrap() {
        m.codes.insert(f["code"].as_str().unwrap().to_string());
    }
    m
}

/// What every map must be: a legend entry for each mark it uses, no two
/// marker badges on top of each other, every finding's code as text.
fn assert_readable(m: &Map) {
    for k in &m.used {
        assert!(
            m.legend.contains(k),
            "mark {k} is drawn but not in the legend {:?}",
            m.legend
        );
    }
    let mut xs: Vec<(f64, f64)> = m.markers.iter().map(|(x, w, _, _)| (*x, *w)).collect();
    xs.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    for pair in xs.windows(2) {
        assert!(
            pair[0].0 + pair[0].1 <= pair[1].0,
            "markers overlap: {pair:?} (all: {xs:?})"
        );
    }
    for c in &m.codes {
        assert!(
            m.text.contains(c.as_str()),
            "finding {c} not listed as text"
        );
    }
    assert!(!m.codes.is_empty() || m.markers.is_empty());
}

#[test]
fn demo_map_reads_without_hovering() {
    let m = map_of(&imgcheck_testdata::root().join("demo/brainvm.qcow2"));
    assert_readable(&m);
    for k in [
        "fs-ext",
        "unpartitioned",
        "boot-esp",
        "marker-warning",
        "marker-error",
    ] {
        assert!(m.used.contains(k), "{k} not drawn: {:?}", m.used);
    }
    // The protective MBR's entry (0x1ca) and the free sectors after the
    // GPT (0x4400) are a fraction of a pixel apart on a 128 MiB disk: one
    // badge with the count, the worst colour, both in its tooltip.
    let merged = m
        .markers
        .iter()
        .find(|(_, _, _, tip)| tip.contains("gpt.pmbr.size_mismatch"))
        .expect("a marker for the protective MBR");
    assert!(merged.2.contains('×'), "no count on {merged:?}");
    assert!(merged.3.contains("gpt.free_space"), "{merged:?}");
    assert!(m.used.contains("marker-merged"));
    for p in ["partition 1", "partition 2", "unpartitioned"] {
        assert!(m.text.contains(p), "{p} missing from the map's text");
    }
}

#[test]
fn lvm_map_draws_the_pv_and_its_lvs() {
    let m = map_of(&fixture("lvm2/one-pv.img"));
    assert_readable(&m);
    for k in [
        "lvm-pv",
        "lvm-meta",
        "lv-imgck_one/root",
        "lv-imgck_one/home",
        "lv-imgck_one/swap",
    ] {
        assert!(m.used.contains(k), "{k} not drawn: {:?}", m.used);
    }
    // The LV's finding (volume offset 0) is placed through the LV's
    // extents on the disk, not listed as unplaceable.
    assert!(
        m.markers
            .iter()
            .any(|(_, _, _, tip)| tip.contains("lvm2.lv.extended")),
        "{:?}",
        m.markers
    );
    assert!(!m.text.contains("not placed on this disk"), "{}", m.text);
}

#[test]
fn boot_maps_draw_the_boot_structures() {
    let gpt = map_of(&fixture("boot/gpt-grub.img"));
    assert_readable(&gpt);
    for k in ["boot-mbr", "boot-bios", "boot-esp", "fs-fat", "fs-ext"] {
        assert!(gpt.used.contains(k), "{k} not drawn: {:?}", gpt.used);
    }
    let mbr = map_of(&fixture("boot/mbr-grub.img"));
    assert_readable(&mbr);
    for k in ["boot-mbr", "boot-gap"] {
        assert!(mbr.used.contains(k), "{k} not drawn: {:?}", mbr.used);
    }
    assert!(!mbr.used.contains("boot-esp"));
}

#[test]
fn help_names_every_kind_of_argument_and_the_real_exit_codes() {
    for flag in ["--help", "-h"] {
        let out = imgcheck(&[flag]);
        assert_eq!(out.status.code(), Some(0));
        let help = String::from_utf8(out.stdout).unwrap();
        for word in [
            "directory",
            "block device",
            "IMAGE@SNAP",
            "imgcheck compare",
            "--snapshot",
            "imgcheck generate",
        ] {
            assert!(help.contains(word), "{flag} does not name {word}:\n{help}");
        }
        for (code, word) in [
            (exit::CLEAN, "clean"),
            (exit::WARNINGS, "warnings only"),
            (exit::DAMAGED, "damage found"),
            (exit::OPERATIONAL, "operational error"),
            (exit::USAGE, "usage error"),
        ] {
            assert!(
                help.lines()
                    .any(|l| l.trim_start().starts_with(&format!("{code} ")) && l.contains(word)),
                "{flag}: exit {code} ({word}) not listed:\n{help}"
            );
        }
    }
}

#[test]
fn completions_and_man_page_generate_and_name_the_commands() {
    for shell in ["bash", "zsh", "fish"] {
        let out = imgcheck(&["generate", "completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let text = String::from_utf8(out.stdout).unwrap();
        // fish spells a long option `-l map`.
        let long = |o: &str| match shell {
            "fish" => format!("-l {o}"),
            _ => format!("--{o}"),
        };
        for word in ["imgcheck".to_string(), "compare".into(), "generate".into()]
            .into_iter()
            .chain(["map", "json", "snapshot", "all-snapshots"].map(long))
        {
            assert!(text.contains(&word), "{shell} completions lack {word}");
        }
        // Attack F6: nothing the parser rejects: no `help` command, no
        // -h/--help after `generate completions` or `generate man`.
        match shell {
            "bash" => {
                for l in text.lines().filter(|l| l.trim_start().starts_with("opts=")) {
                    let words: Vec<&str> = l
                        .trim()
                        .trim_start_matches("opts=")
                        .trim_matches('"')
                        .split(' ')
                        .collect();
                    assert!(!words.contains(&"help"), "bash offers `help`: {l}");
                    if words.contains(&"bash")
                        || words.contains(&"compare") && !words.contains(&"--json")
                    {
                        assert!(
                            !words.contains(&"-h"),
                            "bash offers -h where it is rejected: {l}"
                        );
                    }
                }
            }
            "fish" => assert!(!text.contains("-a \"help\""), "fish offers `help`"),
            _ => assert!(!text.contains("'help:"), "zsh offers `help`"),
        }
    }
    let out = imgcheck(&["generate", "man"]);
    assert_eq!(out.status.code(), Some(0));
    let man = String::from_utf8(out.stdout).unwrap();
    assert!(
        man.starts_with(".ie") || man.starts_with(".TH"),
        "{}",
        &man[..80]
    );
    for word in [
        "imgcheck",
        "compare",
        "generate",
        "map",
        "IMAGE@SNAP",
        "Exit status",
    ] {
        assert!(man.contains(word), "man page lacks {word}");
    }
    // The main page names the commands' pages: each renders.
    for sub in ["compare", "generate"] {
        assert!(
            man.contains(&format!("imgcheck\\-{sub}(1)")),
            "{sub} not named"
        );
        let out = imgcheck(&["generate", "man", sub]);
        assert_eq!(out.status.code(), Some(0), "{sub}");
        let page = String::from_utf8(out.stdout).unwrap();
        assert!(page.contains(&format!("imgcheck\\-{sub}")), "{sub}: {page}");
    }
    let out = imgcheck(&["generate", "man", "nosuch"]);
    assert_eq!(out.status.code(), Some(i32::from(exit::USAGE)));
    let out = imgcheck(&["generate", "completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(i32::from(exit::USAGE)));
}

#[test]
fn no_progress_or_ticker_on_a_pipe() {
    let demo = imgcheck_testdata::root().join("demo/brainvm.qcow2");
    for args in [
        vec![demo.to_str().unwrap()],
        vec!["--json", demo.to_str().unwrap()],
    ] {
        let out = imgcheck(&args);
        assert_eq!(out.status.code(), Some(4));
        assert!(
            out.stderr.is_empty(),
            "{args:?}: stderr is a pipe, yet: {:?}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !out.stdout.contains(&b'\r'),
            "{args:?}: a carriage return on stdout"
        );
    }
}

#[test]
fn map_never_overwrites_the_image_or_a_file_it_did_not_write() {
    let dir = tempfile::tempdir().unwrap();
    let demo = imgcheck_testdata::root().join("demo/brainvm.qcow2");
    let img = dir.path().join("vm.qcow2");
    std::fs::copy(&demo, &img).unwrap();
    let link = dir.path().join("alias.qcow2");
    std::fs::hard_link(&img, &link).unwrap();
    let before = std::fs::read(&img).unwrap();
    // The image by its name, another spelling of it, and a hard link.
    let spelled = format!("{}/./vm.qcow2", dir.path().display());
    for target in [
        img.to_str().unwrap(),
        spelled.as_str(),
        link.to_str().unwrap(),
    ] {
        let out = imgcheck(&["--map", target, img.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(i32::from(exit::USAGE)), "{target}");
        assert!(
            std::fs::read(&img).unwrap() == before,
            "--map {target} changed the image"
        );
    }
    // A file imgcheck did not write stays as it was; its own map is replaced.
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "case notes\n").unwrap();
    let out = imgcheck(&["--map", notes.to_str().unwrap(), img.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(i32::from(exit::DAMAGED | exit::OPERATIONAL))
    );
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "case notes\n");
    let map = dir.path().join("map.svg");
    for _ in 0..2 {
        let out = imgcheck(&["--map", map.to_str().unwrap(), img.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(4),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(std::fs::read_to_string(&map).unwrap().contains("</svg>"));
    assert!(std::fs::read(&img).unwrap() == before);
}

/// Attack F4: at 16 MiB a pixel, the 1 MiB partitions at both ends of a
/// 16 GiB disk share pixels with the 16 GiB partition and the tail; drawn
/// after them, those covered them whole, so the small partitions (and
/// where their findings are) vanished from the bar.
#[test]
fn small_partitions_stay_visible_beside_a_huge_one() {
    let m = map_of(&fixture("svg/tiny-ends.qcow2"));
    assert_readable(&m);
    let parts: Vec<usize> = (0..m.bar.len())
        .filter(|&i| m.bar[i].2.starts_with("partition "))
        .collect();
    assert_eq!(parts.len(), 3, "{:?}", m.bar);
    for &i in &parts {
        let (x, w, tip) = &m.bar[i];
        for (x2, w2, tip2) in &m.bar[i + 1..] {
            assert!(
                !(x2 <= x && x2 + w2 >= x + w),
                "{tip} (x {x}, width {w}) is painted over by {tip2} (x {x2}, width {w2})"
            );
        }
    }
}

/// Attack F3: on a GPT with all 128 entries used, the list of partitions
/// is cut at 64 and says of how many (128, not 129), and the unpartitioned
/// tail keeps its row.
#[test]
fn a_long_partition_list_is_cut_but_the_free_tail_is_listed() {
    let m = map_of(&fixture("svg/gpt-128.img"));
    assert_readable(&m);
    assert!(
        m.text.contains("the first 64 of 128 partitions"),
        "{}",
        m.text
    );
    assert!(
        m.text
            .lines()
            .any(|l| l.starts_with("unpartitioned ") && l.contains("at byte")),
        "no unpartitioned row: {}",
        m.text
    );
}

/// Attack F2: a file name that is not UTF-8 (Linux names are bytes) made
/// `std::env::args` panic with exit 101 before anything was checked.
#[test]
fn a_file_name_that_is_not_utf8_is_checked() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let img = dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"disk\xff.qcow2"));
    std::fs::copy(imgcheck_testdata::root().join("demo/brainvm.qcow2"), &img).unwrap();
    let run = |args: &[&std::ffi::OsStr]| {
        Command::new(env!("CARGO_BIN_EXE_imgcheck"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = run(&["--json".as_ref(), img.as_os_str()]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "damaged");
    // The commands take UTF-8 words: a usage error, never a panic.
    for cmd in ["compare", "generate"] {
        let out = run(&[cmd.as_ref(), img.as_os_str(), img.as_os_str()]);
        assert_eq!(out.status.code(), Some(i32::from(exit::USAGE)), "{cmd}");
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    }
}

/// Attack F13: a GPT partition named U+202E "evil" (sgdisk -c) read as
/// "live" in the picture: bidirectional controls are written out.
#[test]
fn bidi_controls_in_names_are_shown_not_obeyed() {
    let m = map_of(&fixture("svg/bidi-name.img"));
    assert_readable(&m);
    assert!(m.text.contains("⟨U+202E⟩evil"), "{}", m.text);
    assert!(!m.text.contains('\u{202e}'), "a raw U+202E on the page");
}

#[test]
fn an_extended_partition_is_drawn_with_its_logical_partitions_inside() {
    // disk/dos-logical.img (testdata/scripts/disk.sh, sfdisk): primary 1,
    // extended 2 at LBA 12288 (53248 sectors), logical 5 and 6 in it.
    let image = fixture("disk/dos-logical.img");
    let m = map_of(&image);
    assert_readable(&m);
    assert!(m.used.contains("extended"), "{:?}", m.used);
    let xml = {
        let dir = tempfile::tempdir().unwrap();
        let svg = dir.path().join("map.svg");
        imgcheck(&["--map", svg.to_str().unwrap(), image.to_str().unwrap()]);
        std::fs::read_to_string(&svg).unwrap()
    };
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let rect = |pred: &dyn Fn(&roxmltree::Node) -> bool| {
        let n = doc
            .descendants()
            .find(|n| n.tag_name().name() == "rect" && pred(n))
            .unwrap_or_else(|| panic!("no such rect in {xml}"));
        let num = |a: &str| n.attribute(a).unwrap().parse::<f64>().unwrap();
        (num("x"), num("y"), num("width"), num("height"))
    };
    let tip_of = |n: &roxmltree::Node| {
        n.children()
            .find(|c| c.tag_name().name() == "title")
            .and_then(|t| t.text())
            .unwrap_or("")
            .to_string()
    };
    let ext = rect(&|n| n.attribute("data-mark") == Some("extended"));
    let (ex, ey, ew, eh) = ext;
    // 12288 sectors into a 65536-sector disk, 53248 long, on a 1000-pixel bar.
    assert!(
        (ex - (70.0 + 1000.0 * 12288.0 / 65536.0)).abs() <= 1.0,
        "{ext:?}"
    );
    assert!((ew - 1000.0 * 53248.0 / 65536.0).abs() <= 1.0, "{ext:?}");
    for (n, start, len) in [(5u32, 14336.0, 20480.0), (6, 36864.0, 28672.0)] {
        let (x, y, w, h) = rect(&|r| tip_of(r).starts_with(&format!("partition {n} ")));
        // Inside the container, under its band: nested, not beside it.
        assert!(x >= ex && x + w <= ex + ew + 1.0, "p{n} {x} {w} in {ext:?}");
        assert!(
            y > ey && y + h <= ey + eh,
            "p{n} {y} {h} under the band of {ext:?}"
        );
        assert!(
            (x - (70.0 + 1000.0 * start / 65536.0)).abs() <= 1.0,
            "p{n} at {x}"
        );
        assert!((w - 1000.0 * len / 65536.0).abs() <= 1.0, "p{n} {w} wide");
    }
    // The primary partition is full height, beside the container.
    let (_, y1, _, h1) = rect(&|r| tip_of(r).starts_with("partition 1 "));
    assert_eq!((y1, h1), (ey, eh));
    // Readable without hovering: the container's label on the bar, and
    // the list says what holds what.
    assert!(m.text.contains("p2 extended"), "{}", m.text);
    assert!(
        m.text
            .contains("partition 2 26 MiB at byte 6291456 — extended (a container), holding logical partitions 5, 6"),
        "{}",
        m.text
    );
    assert!(
        m.text.contains("(logical, in extended partition 2)"),
        "{}",
        m.text
    );
    let order: Vec<usize> = [
        "partition 1 ",
        "partition 2 ",
        "partition 5 ",
        "partition 6 ",
    ]
    .iter()
    .map(|p| m.text.find(p).unwrap_or_else(|| panic!("{p} not listed")))
    .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "table order: {order:?}"
    );
}

#[test]
fn free_space_inside_an_extended_partition_is_not_unpartitioned() {
    // gpt/mbr-logical.img (testdata/scripts/gpt.sh, sfdisk): extended 2 at
    // LBA 10240 (40960 sectors, to 25 MiB), its last logical ending at
    // 20 MiB: 5 MiB of room for logical partitions, inside the table.
    let m = map_of(&fixture("gpt/mbr-logical.img"));
    assert_readable(&m);
    assert!(m.used.contains("extended-free"), "{:?}", m.used);
    assert!(
        m.text
            .contains("free in partition 2 5 MiB at byte 20971520"),
        "{}",
        m.text
    );
    assert!(!m.text.contains("unpartitioned 5 MiB"), "{}", m.text);
}

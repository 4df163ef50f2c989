//! The checks that span layers, each on an image made by a real tool
//! (testdata/scripts/disk.sh, demo.sh) and damaged precisely: what no
//! single peer tool can say.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

use imgcheck::options::Options;
use imgcheck::report::{ImageReport, Verdict};
use imgcheck_testdata::{Patch, damaged, fixture};
use std::path::Path;

const MIB: u64 = 1 << 20;
/// Partition 2 of disk/gpt-two-ext4.img starts at LBA 49152.
const P2: u64 = 49152 * 512;

fn inspect(path: &Path) -> ImageReport {
    inspect_with(path, Options::default())
}

fn inspect_with(path: &Path, mut opts: Options) -> ImageReport {
    opts.image_path = path.to_path_buf();
    imgcheck::inspect_image(path, None, &opts).unwrap()
}

fn codes(r: &ImageReport) -> Vec<String> {
    r.findings().iter().map(|f| f.code.to_string()).collect()
}

fn finding<'a>(r: &'a ImageReport, code: &str) -> &'a imgcheck_core::Finding {
    r.findings()
        .into_iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no {code} in {:?}", codes(r)))
}

#[test]
fn grown_and_never_partitioned() {
    // What `qemu-img resize -f raw disk.img +64M` does to a raw image.
    let d = damaged(
        "disk/gpt-two-ext4.img",
        &[Patch::Truncate { len: 128 * MIB }],
    );
    let r = inspect(d.path());
    let f = finding(&r, "layout.size_chain.grown");
    assert!(f.message.contains("grew by 64 MiB"), "{}", f.message);
    assert!(f.hint.as_ref().unwrap().to_string().contains("growpart"));
    assert_eq!(r.verdict(), Verdict::Warning, "{:?}", codes(&r));
    // The clean disk has no such finding.
    assert!(
        !codes(&inspect(&fixture("disk/gpt-two-ext4.img")))
            .contains(&"layout.size_chain.grown".to_string())
    );
}

#[test]
fn a_grown_disk_with_xfs_last_is_grown_with_xfs_growfs() {
    // The mkfs.xfs fixture's 32 MiB filesystem in partition 2 (39 MiB at
    // 24 MiB), the disk then grown: resize2fs and e2fsck only know ext.
    let xfs = std::fs::read(fixture("xfs/v5-notgrown.img")).unwrap();
    let d = damaged(
        "disk/gpt-two-ext4.img",
        &[
            Patch::Bytes {
                offset: 49152 * 512,
                bytes: xfs[..32 << 20].to_vec(),
            },
            Patch::Truncate { len: 128 * MIB },
        ],
    );
    let r = inspect(d.path());
    let h = finding(&r, "layout.size_chain.grown")
        .hint
        .as_ref()
        .unwrap()
        .to_string();
    assert!(h.contains("growpart") && h.contains("xfs_growfs"), "{h}");
    assert!(!h.contains("resize2fs") && !h.contains("e2fsck"), "{h}");
}

#[test]
fn demo_dates_the_resize_by_its_snapshot() {
    let demo = imgcheck_testdata::root().join("demo/brainvm.qcow2");
    let r = inspect(&demo);
    let f = finding(&r, "layout.size_chain.grown");
    assert!(
        f.message
            .contains("snapshot \"pre-resize\" still records the old 64 MiB disk"),
        "{}",
        f.message
    );
}

#[test]
fn shrunk_under_a_partition() {
    let d = damaged(
        "disk/gpt-two-ext4.img",
        &[Patch::Truncate { len: 48 * MIB }],
    );
    let r = inspect(d.path());
    let f = finding(&r, "layout.size_chain.shrunk");
    assert!(f.message.contains("partition 2 loses"), "{}", f.message);
    assert_eq!(r.verdict(), Verdict::Damaged);
}

#[test]
fn truncated_qcow2() {
    let q = fixture("disk/gpt-two-ext4.qcow2");
    let len = std::fs::metadata(&q).unwrap().len();
    let d = damaged(
        "disk/gpt-two-ext4.qcow2",
        &[Patch::Truncate { len: len / 2 }],
    );
    let r = inspect(d.path());
    assert_eq!(r.verdict(), Verdict::Damaged, "{:?}", codes(&r));
    assert!(
        codes(&r).iter().any(|c| c.starts_with("qcow2.")),
        "{:?}",
        codes(&r)
    );
}

#[test]
fn first_mib_zeroed() {
    let d = damaged(
        "disk/gpt-two-ext4.img",
        &[Patch::Zero {
            offset: 0,
            len: MIB,
        }],
    );
    let r = inspect(d.path());
    let f = finding(&r, "layout.zeroed");
    assert_eq!(f.offset, 0);
    assert!(
        f.message.contains("MBR") && f.message.contains("primary GPT header"),
        "{}",
        f.message
    );
    assert!(
        f.message.contains("still intact: backup GPT header"),
        "{}",
        f.message
    );
    // Nothing but the table was in that MiB: partition 1 starts after it.
    assert!(!f.message.contains("partition 1"), "{}", f.message);
}

#[test]
fn zeroed_start_of_a_partition() {
    let d = damaged(
        "disk/gpt-two-ext4.img",
        &[Patch::Zero {
            offset: P2,
            len: 8 * MIB,
        }],
    );
    let r = inspect(d.path());
    let f = finding(&r, "layout.zeroed");
    assert_eq!(f.offset, P2);
    assert!(
        f.message.contains("superblock of partition 2"),
        "{}",
        f.message
    );
    assert!(
        f.message.contains("still intact") && f.message.contains("backup"),
        "{}",
        f.message
    );
    assert_eq!(r.verdict(), Verdict::Damaged);
}

#[test]
fn another_image_written_over_a_partition() {
    // The mistyped dd: a whole MBR disk image written over partition 2.
    let other = std::fs::read(fixture("disk/dos-logical.img")).unwrap();
    let d = damaged(
        "disk/gpt-two-ext4.img",
        &[Patch::Bytes {
            offset: P2,
            bytes: other[..2 * MIB as usize].to_vec(),
        }],
    );
    let r = inspect(d.path());
    let f = finding(&r, "layout.overwritten");
    assert!(
        f.message
            .contains("partition 2 starts with an MBR-partitioned disk image"),
        "{}",
        f.message
    );
    assert!(
        f.message.contains("backup ext4 superblock"),
        "{}",
        f.message
    );
}

#[test]
fn empty_images_are_not_clean() {
    for name in ["disk/empty.qcow2", "disk/empty.img"] {
        let r = inspect(&fixture(name));
        assert!(
            codes(&r).contains(&"layout.empty".to_string()),
            "{name}: {:?}",
            codes(&r)
        );
        assert_eq!(r.verdict(), Verdict::Warning, "{name}");
    }
}

#[test]
fn an_unreadable_tail_is_not_data_that_follows_a_wiped_start() {
    // An all-zero preallocated qcow2 cut in half (a copy that stopped):
    // the clusters past the file's end cannot be read. An attack found
    // them taken for "data follows ... its start was wiped, and what
    // follows may be recoverable" on a disk that never held data.
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("cut.qcow2");
    let ok = std::process::Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2", "-o", "preallocation=full"])
        .arg(&p)
        .arg("8M")
        .status()
        .unwrap()
        .success();
    assert!(ok, "qemu-img create");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(4 * MIB)
        .unwrap();
    let r = inspect(&p);
    let f = finding(&r, "layout.unrecognized");
    assert!(!f.message.contains("but data follows"), "{}", f.message);
    assert!(f.message.contains("cannot be read"), "{}", f.message);
    assert_eq!(r.verdict(), Verdict::Damaged, "{:?}", codes(&r));
}

#[test]
fn a_victim_with_non_default_blocks_per_group_is_found_under_an_intruder() {
    // mkfs.ext4 -b 4096 -g 8192 puts group 1's backup at 32 MiB, not
    // 128 MiB: an attack's FAT dd'd over such a partition was "clean".
    let tools = ["sgdisk", "mkfs.ext4", "mkfs.vfat"];
    if tools.iter().any(|t| {
        std::process::Command::new("sh")
            .args(["-c", &format!("command -v {t}")])
            .output()
            .map_or(true, |o| !o.status.success())
    }) {
        println!("SKIPPED: needs {tools:?}");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let sh = |script: &str| {
        let out = std::process::Command::new("sh")
            .args(["-ec", script])
            .current_dir(d.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{script}: {out:?}");
    };
    sh("truncate -s 120M disk.img
        sgdisk -n1:2048:+100M -t1:8300 disk.img >/dev/null
        truncate -s 100M v.fs
        E2FSPROGS_FAKE_TIME=1700000000 mkfs.ext4 -q -F -b 4096 -g 8192 -L victim \
          -U 0b5e55ed-0000-4000-8000-000000000001 v.fs
        dd if=v.fs of=disk.img bs=512 seek=2048 conv=notrunc status=none
        truncate -s 16M f.img
        mkfs.vfat -n INTRUDER f.img >/dev/null
        dd if=f.img of=disk.img bs=1M seek=1 count=16 conv=notrunc status=none");
    let r = inspect(&d.path().join("disk.img"));
    let f = finding(&r, "layout.overwritten");
    assert!(
        f.message.contains("0b5e55ed-0000-4000-8000-000000000001"),
        "{}",
        f.message
    );
    assert_eq!(r.verdict(), Verdict::Damaged, "{:?}", codes(&r));
}

#[test]
fn missing_backing_file() {
    // The overlay alone, without the base it was made on.
    let (_dir, files) = imgcheck_testdata::copy_into_tempdir(&[&fixture("disk/overlay.qcow2")]);
    let r = imgcheck::inspect_image(
        &files[0],
        None,
        &Options {
            image_path: files[0].clone(),
            ..Options::default()
        },
    );
    match r {
        Ok(r) => {
            assert_eq!(r.verdict(), Verdict::Damaged, "{:?}", codes(&r));
            assert!(
                codes(&r).iter().any(|c| c.contains("backing")),
                "{:?}",
                codes(&r)
            );
        }
        Err(e) => assert!(e.message.contains("backing"), "{e}"),
    }
    // With its base beside it, the overlay is sound.
    let (_dir, files) = imgcheck_testdata::copy_into_tempdir(&[
        &fixture("disk/overlay.qcow2"),
        &fixture("disk/gpt-two-ext4.qcow2"),
    ]);
    let r = inspect(&files[0]);
    assert_eq!(r.verdict(), Verdict::Clean, "{:?}", codes(&r));
    // The backing chain is a child of the container too; the JSON must
    // still find the partition table, not the backing image, as the table.
    let v = imgcheck::render::json_value(&r);
    assert_eq!(v["layers"]["partition_table"]["kind"], "gpt");
    assert_eq!(v["layers"]["partitions"].as_array().unwrap().len(), 2);
}

/// Whether `tool` runs here (a peer's verdict is computed only then).
fn have(tool: &str) -> bool {
    std::process::Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn a_finding_in_a_backing_file_names_that_file_and_acts_on_it() {
    // qcow2-backing.sh: leak-top.qcow2 (qemu-img create -b) on
    // leak-base.qcow2, whose refcount block counts one cluster past its
    // data that nothing references (attack F8).
    let (dir, files) = imgcheck_testdata::copy_into_tempdir(&[
        &fixture("qcow2/leak-top.qcow2"),
        &fixture("qcow2/leak-base.qcow2"),
    ]);
    let (top, base) = (&files[0], &files[1]);
    let base_name = base.display().to_string();
    // The peer: qemu-img check finds the leak in the base alone.
    let mut leaked_cluster = None;
    if have("qemu-img") {
        let out = std::process::Command::new("qemu-img")
            .args(["check", "--output=json"])
            .arg(base)
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["leaks"], 1, "{v}");
        let top_check = std::process::Command::new("qemu-img")
            .arg("check")
            .arg(top)
            .output()
            .unwrap();
        assert!(top_check.status.success(), "the overlay itself is sound");
        let text = String::from_utf8_lossy(
            &std::process::Command::new("qemu-img")
                .arg("check")
                .arg(base)
                .output()
                .unwrap()
                .stderr,
        )
        .into_owned();
        leaked_cluster = text
            .split("Leaked cluster ")
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse::<u64>().ok());
        assert!(leaked_cluster.is_some(), "{text}");
    }
    let r = inspect(top);
    let f = finding(&r, "qcow2.refcount.leak");
    if let Some(c) = leaked_cluster {
        assert_eq!(f.offset, c * 65536, "the leaked cluster qemu-img names");
    }
    // JSON: the finding says which file its file offset is in.
    let v = imgcheck::render::json_value(&r);
    let j = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "qcow2.refcount.leak")
        .unwrap();
    assert_eq!(j["space"], "file");
    assert_eq!(j["where"]["backing"], 1, "{j:#}");
    assert_eq!(j["where"]["image"], base_name.as_str(), "{j:#}");
    assert_eq!(j["where"]["path"], serde_json::json!([{"backing": 1}]));
    // Its hint repairs a copy of the base, never the overlay (whose
    // check -r leaks frees nothing of the base's) nor the base itself.
    let hint = j["hint"].as_str().unwrap();
    assert!(
        hint.contains(&format!("{base_name}.bak")),
        "the hint acts on a copy of the backing file: {hint}"
    );
    assert!(!hint.contains("leak-top"), "{hint}");
    let steps = r.next_steps.join("\n");
    let copy = steps
        .find(&format!("cp --sparse=always {base_name} {base_name}.bak"))
        .unwrap_or_else(|| panic!("no copy of the backing file first:\n{steps}"));
    let repair = steps
        .find(&format!("qemu-img check -r leaks {base_name}.bak"))
        .unwrap_or_else(|| panic!("no repair of the copy:\n{steps}"));
    assert!(copy < repair, "{steps}");
    assert!(!steps.contains("leak-top.qcow2.bak"), "{steps}");
    // Text: under the backing file's node, its offset named in that file.
    let text = imgcheck::render::text(&r);
    let plain: String = anstream::adapter::strip_str(&text).to_string();
    let node = plain
        .find("qcow2 backing  ")
        .unwrap_or_else(|| panic!("{plain}"));
    let line = plain
        .find(&format!(
            "[qcow2.refcount.leak @ file {base_name} {:#x}]",
            f.offset
        ))
        .unwrap_or_else(|| panic!("{plain}"));
    assert!(node < line, "{plain}");
    drop(dir);
}

#[test]
fn an_encrypted_guest_is_not_judged() {
    // Ciphertext read as a disk holds no table: that is no finding about
    // the disk, only that it was not inspected.
    let r = inspect(&fixture("qcow2/luks.qcow2"));
    let c = codes(&r);
    assert!(
        c.contains(&"layout.disk_not_inspected".to_string()),
        "{c:?}"
    );
    assert!(!c.iter().any(|c| c == "layout.unrecognized"), "{c:?}");
    assert!(r.table().is_none());
}

#[test]
fn a_qcow2_header_that_does_not_open_is_a_finding() {
    // cluster_bits 40: the image has the magic but no layout QEMU accepts.
    let d = damaged("disk/gpt-two-ext4.qcow2", &[Patch::be32(20, 40)]);
    let r = inspect(d.path());
    let f = finding(&r, "qcow2.header.invalid");
    assert_eq!(f.offset, 20, "{}", f.message);
    assert!(f.message.contains("cluster_bits"), "{}", f.message);
    assert!(
        f.message.contains("Unsupported cluster size: 2^40"),
        "{}",
        f.message
    );
    assert_eq!(r.verdict(), Verdict::Damaged);
    assert!(codes(&r).contains(&"layout.disk_not_inspected".to_string()));
    // The file is still read as raw for what it holds: a GPT disk image
    // whose qcow2 header is broken is still seen as one.
    let d = damaged(
        "disk/gpt-two-ext4.img",
        &[Patch::Bytes {
            offset: 0,
            bytes: b"QFI\xfb\0\0\0\x03".to_vec(),
        }],
    );
    let r = inspect(d.path());
    assert_eq!(r.verdict(), Verdict::Damaged, "{:?}", codes(&r));
    assert_eq!(r.root.layer, Some("qcow2"));
    let raw = r.root.children.iter().find(|c| c.layer == Some("gpt"));
    assert!(
        raw.is_some_and(|g| g.children.len() == 2),
        "no GPT with two partitions under the unopenable qcow2: {:?}",
        r.root.children.iter().map(|c| &c.title).collect::<Vec<_>>()
    );
    // Version 1 is QEMU's older qcow format with the same magic: sound,
    // but not read here. Not checked is a warning, not damage.
    let v1 = damaged("disk/gpt-two-ext4.qcow2", &[Patch::be32(4, 1)]);
    let r = inspect(v1.path());
    assert!(
        codes(&r).contains(&"qcow2.header.version_1".to_string()),
        "{:?}",
        codes(&r)
    );
    assert_eq!(r.verdict(), Verdict::Warning, "{:?}", codes(&r));
}

#[test]
fn snapshot_taken_before_damage() {
    let img = fixture("disk/snap-before-damage.qcow2");
    let now = inspect(&img);
    assert_eq!(now.verdict(), Verdict::Damaged, "{:?}", codes(&now));
    assert!(codes(&now).contains(&"layout.zeroed".to_string()));
    let then = inspect_with(
        &img,
        Options {
            snapshot: Some("good".into()),
            ..Options::default()
        },
    );
    assert_eq!(then.verdict(), Verdict::Clean, "{:?}", codes(&then));
    assert!(then.image.ends_with("@1:good"), "{}", then.image);
}

#[test]
fn all_snapshots_lists_each_with_its_verdict() {
    let img = fixture("disk/snap-before-damage.qcow2");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_imgcheck"))
        .args(["--json", "--all-snapshots", img.to_str().unwrap()])
        .output()
        .unwrap();
    let lines: Vec<serde_json::Value> = std::str::from_utf8(&out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["verdict"], "damaged");
    assert!(
        lines[1]["image"].as_str().unwrap().ends_with("@1:good"),
        "{}",
        lines[1]["image"]
    );
    assert_eq!(lines[1]["verdict"], "clean");
    assert_eq!(out.status.code(), Some(4));
}

#[test]
fn small_sibling_in_a_backup_directory() {
    let dir = tempfile::tempdir().unwrap();
    for day in 1..=3 {
        std::fs::copy(
            imgcheck_testdata::root().join("demo/brainvm.qcow2"),
            dir.path().join(format!("day{day}.qcow2")),
        )
        .unwrap();
    }
    std::fs::copy(fixture("disk/empty.qcow2"), dir.path().join("day4.qcow2")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_imgcheck"))
        .args(["--json", "--jobs", "2", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    let lines: Vec<serde_json::Value> = std::str::from_utf8(&out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "one report per image, in order");
    let small = &lines[3];
    assert!(small["image"].as_str().unwrap().ends_with("day4.qcow2"));
    let codes: Vec<&str> = small["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"layout.small_sibling"), "{codes:?}");
    for l in &lines[..3] {
        let codes = l["findings"].to_string();
        assert!(!codes.contains("layout.small_sibling"), "{codes}");
    }
}

#[test]
fn svg_map_names_every_partition_and_parses() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("map.svg");
    let demo = imgcheck_testdata::root().join("demo/brainvm.qcow2");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_imgcheck"))
        .args(["--map", svg.to_str().unwrap(), demo.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<?xml") && text.trim_end().ends_with("</svg>"));
    assert_well_formed(&text);
    for p in ["partition 1", "partition 2", "unpartitioned"] {
        assert!(text.contains(p), "{p} missing from the map");
    }
}

/// A small well-formedness check: tags nest and close, attributes are
/// quoted, entities are the five XML ones.
fn assert_well_formed(xml: &str) {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find('<') {
        let text = &rest[..i];
        for (j, _) in text.match_indices('&') {
            let ent = &text[j..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                    .iter()
                    .any(|e| ent.starts_with(e)),
                "bad entity near {}",
                &ent[..ent.len().min(20)]
            );
        }
        let end = rest[i..].find('>').expect("unclosed tag") + i;
        let tag = &rest[i + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.trim()),
                "mismatched </{name}>"
            );
        } else if !tag.ends_with('/') {
            stack.push(tag.split_whitespace().next().unwrap().to_string());
        }
        assert_eq!(
            tag.matches('"').count() % 2,
            0,
            "unbalanced quotes in <{tag}>"
        );
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
}

#[test]
fn reformatted_partition_is_not_taken_for_its_old_ext4() {
    // mkswap over an ext4 partition leaves the ext4 backup superblocks; the
    // partition holds swap now, not a damaged ext4.
    let r = inspect(&fixture("disk/reformatted.img"));
    let v = imgcheck::render::json_value(&r);
    assert_eq!(
        v["layers"]["partitions"][1]["filesystem"]["kind"], "swap",
        "{v}"
    );
    assert!(
        !codes(&r)
            .iter()
            .any(|c| c.starts_with("ext4.") || c == "layout.overwritten"),
        "{:?}",
        codes(&r)
    );
    assert_eq!(r.verdict(), Verdict::Clean, "{:?}", codes(&r));
}

#[test]
fn scan_maps_zeros_beyond_the_metadata_regions() {
    // 8 MiB zeroed 20 MiB into partition 2, past the 16 MiB the default
    // zero map reads from a partition's start: only --scan maps it.
    let d = damaged(
        "disk/gpt-two-ext4.img",
        &[Patch::Zero {
            offset: 44 * MIB,
            len: 8 * MIB,
        }],
    );
    let covered = |r: &ImageReport| {
        r.zero_ranges
            .iter()
            .any(|&(s, e)| s <= 45 * MIB && e >= 51 * MIB)
    };
    let default = inspect(d.path());
    assert!(!covered(&default), "{:?}", default.zero_ranges);
    let scanned = inspect_with(
        d.path(),
        Options {
            scan: true,
            ..Options::default()
        },
    );
    assert!(covered(&scanned), "{:?}", scanned.zero_ranges);
}

/// The first 64 KiB of an isohybrid ISO made by xorriso (layout.sh's
/// hybrid-head.iso): its MBR entry is the ISO's own 1 MiB, so the file is
/// the ISO cut short, said as info, never a disk "shrunk" under its table
/// (util-linux's isosize sample is such a file too).
#[test]
fn an_isohybrid_sample_is_an_iso_cut_short_not_a_shrunk_disk() {
    let r = inspect(&fixture("layout/hybrid-head.iso"));
    let f = finding(&r, "layout.size_chain.iso_cut_short");
    assert_eq!(f.severity, imgcheck_core::Severity::Info);
    assert!(f.message.contains("1 MiB"), "{}", f.message);
    assert!(!codes(&r).contains(&"layout.size_chain.shrunk".to_string()));
    assert_eq!(r.verdict(), Verdict::Clean, "{:?}", codes(&r));
}

/// mkfs.exfat's volume (layout.sh) with one byte of its boot sector's
/// volume label area changed after the checksum was written: still exFAT
/// (blkid -p names it, with SBBADCSUM), and damaged, as fsck.exfat says
/// (computed here when it is installed).
#[test]
fn an_exfat_with_a_bad_boot_checksum_is_exfat_and_damaged() {
    // Byte 0x78 is boot code, covered by the checksum (spec 3.4).
    let d = damaged(
        "layout/exfat-bare.img",
        &[Patch::Xor {
            offset: 0x78,
            mask: 0x01,
        }],
    );
    let r = inspect(d.path());
    let f = finding(&r, "exfat.boot.checksum");
    assert_eq!(f.severity, imgcheck_core::Severity::Error);
    assert_eq!(f.offset, 11 * 512);
    assert!(!codes(&r).contains(&"layout.unrecognized".to_string()));
    assert_eq!(r.verdict(), Verdict::Damaged);
    // The healthy volume has no such finding.
    let clean = inspect(&fixture("layout/exfat-bare.img"));
    assert!(!codes(&clean).contains(&"exfat.boot.checksum".to_string()));
    match std::process::Command::new("fsck.exfat")
        .arg("-n")
        .arg(d.path())
        .output()
    {
        Ok(out) => assert_ne!(out.status.code(), Some(0), "fsck.exfat calls it clean"),
        Err(_) => println!("SKIPPED the fsck.exfat half: fsck.exfat not installed"),
    }
}

/// A step that writes never runs on the evidence: the evidence is
/// attached read-only (where sgdisk -e fails) and the writing steps run on
/// the copy, attached writable as a device of its own, raw and qcow2.
#[test]
fn writing_steps_run_on_the_copy_never_on_the_evidence() {
    let d = damaged(
        "disk/gpt-two-ext4.img",
        &[Patch::Truncate { len: 128 * MIB }],
    );
    let r = inspect(d.path());
    let steps = r.next_steps.join("\n");
    let copy = format!("{}.bak", r.path);
    assert!(
        steps.contains(&format!("COPY=$(losetup --find --show --partscan {copy})")),
        "{steps}"
    );
    assert!(steps.contains("sgdisk -e ${COPY:?};"), "{steps}");
    for s in &r.next_steps {
        assert!(
            !s.contains("sgdisk -e ${DISK") && !s.contains(&format!("sgdisk -e {} ", r.path)),
            "a write on the evidence: {s}"
        );
    }
    // The copy is made before it is attached, and attached before the
    // steps that write to it.
    let at = |needle: &str| {
        r.next_steps
            .iter()
            .position(|s| s.contains(needle))
            .unwrap()
    };
    assert!(at("cp --sparse") < at("COPY=$(losetup") && at("COPY=$(losetup") < at("sgdisk -e"));
    // A qcow2: qemu-nbd, writable, on the copy, its device in NBDCOPY.
    let demo = imgcheck_testdata::root().join("demo/brainvm.qcow2");
    let r = inspect(&demo);
    let steps = r.next_steps.join("\n");
    if steps.contains("sgdisk -e") {
        assert!(
            steps.contains(&format!(
                "NBDCOPY=$(for d in /sys/class/block/nbd*; do [ \"$(cat \"$d/size\")\" = 0 ] && qemu-nbd --connect=\"/dev/${{d##*/}}\" {}.bak",
                r.path
            )),
            "{steps}"
        );
        assert!(steps.contains("sgdisk -e ${NBDCOPY:?}"), "{steps}");
        assert!(!steps.contains("sgdisk -e ${NBD:?}"), "{steps}");
    }
}

/// gpt/gpt-4k.img (gpt.sh: sgdisk on a loop device of 4096-byte sectors)
/// grown by 32 MiB. On the file, or on a loop device of 512-byte sectors,
/// sgdisk finds no GPT and `sgdisk -e` writes an empty one over the two
/// partitions. The copy is attached with `losetup -b 4096`, every write
/// names that device, and replayed the table keeps both partitions.
#[test]
fn a_4kn_disks_writes_run_on_a_device_of_its_sector_size() {
    let d = damaged("gpt/gpt-4k.img", &[Patch::Truncate { len: 96 * MIB }]);
    let r = inspect(d.path());
    let copy = format!("{}.bak", r.path);
    let steps = r.next_steps.join("\n");
    let attach = format!("COPY=$(losetup -b 4096 --find --show --partscan {copy})");
    assert!(steps.contains(&attach), "{steps}");
    assert!(steps.contains("sgdisk -e ${COPY:?}"), "{steps}");
    for f in r.findings() {
        let Some(h) = &f.hint else { continue };
        let t = h.to_string();
        for file in [&r.path, &copy] {
            assert!(!t.contains(&format!("sgdisk -e {file}")), "{}: {t}", f.code);
        }
    }
    replay_on_a_4kn_copy(&r);

    // A qcow2 of it: qemu-nbd shows 512-byte sectors, so nothing that
    // writes the disk runs through it; the advice names a raw copy on a
    // loop device of 4096-byte sectors.
    let q = d.path().with_extension("qcow2");
    let made = std::process::Command::new("qemu-img")
        .args(["convert", "-O", "qcow2"])
        .arg(d.path())
        .arg(&q)
        .status()
        .unwrap();
    assert!(made.success());
    let r = inspect(&q);
    let mut grow_advice = 0;
    for f in r.findings() {
        let Some(h) = &f.hint else { continue };
        let t = h.to_string();
        assert!(!(h.writes && t.contains("sgdisk")), "{}: {t}", f.code);
        if t.contains("sgdisk -e") {
            assert!(t.contains("losetup -b 4096"), "{}: {t}", f.code);
            grow_advice += 1;
        }
    }
    assert!(grow_advice > 0, "{:?}", codes(&r));
    assert!(
        r.next_steps.iter().all(|s| !s.contains("NBDCOPY")),
        "{:?}",
        r.next_steps
    );
}

/// The steps of `r` up to its `sgdisk -e`, run on a copy (root and loop
/// devices permitting): afterwards sgdisk, on the device of 4096-byte
/// sectors, still reads the two partitions and finds no problem.
fn replay_on_a_4kn_copy(r: &ImageReport) {
    let root = std::process::Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&root.stdout).trim() != "0" {
        println!("SKIPPED the replay: losetup needs root");
        return;
    }
    let upto: Vec<&str> = r
        .next_steps
        .iter()
        .take_while(|s| !s.contains("sgdisk -e"))
        .map(String::as_str)
        .collect();
    let script = format!(
        "set -e\n{}\ntrap 'losetup -d \"$COPY\"' EXIT\nsgdisk -e \"${{COPY:?}}\" >/dev/null 2>&1\nsgdisk -p \"$COPY\"\nsgdisk -v \"$COPY\"\n",
        upto.join("\n")
    );
    let o = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    if err.contains("failed to set up loop device") || err.contains("cannot find an unused loop") {
        println!("SKIPPED the replay: no loop devices ({err})");
        return;
    }
    assert!(o.status.success(), "{script}\n{out}\n{err}");
    let rows = out
        .lines()
        .filter(|l| l.trim_start().starts_with(['1', '2']) && l.contains("MiB"))
        .count();
    assert_eq!(rows, 2, "{out}");
    assert!(!out.contains("Creating new GPT entries"), "{out}");
    assert!(out.contains("No problems found"), "{out}");
}

/// An MBR made by sfdisk whose starts, LBA 256, 2048 and 4096, find
/// ext4 (mke2fs -E offset) at two of them counted in 4096-byte sectors
/// and at one counted in 512-byte ones (LBA 2048 × 512 is partition 1's
/// start): the sector size is ambiguous, and a tool writing the table
/// in the wrong one writes over the other, so no step writes the disk.
#[test]
fn an_ambiguous_sector_size_gets_no_step_that_writes_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("amb.img");
    let run = |cmd: &str| {
        let o = std::process::Command::new("bash")
            .arg("-c")
            .arg(cmd)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    run(
        "truncate -s 64M amb.img && printf 'start=256,size=1792,type=83\\nstart=2048,size=2048,type=83\\nstart=4096,size=4096,type=83\\n' | sfdisk -q amb.img",
    );
    run(
        "mkfs.ext4 -q -F -E offset=1048576 amb.img 7M && mkfs.ext4 -q -F -E offset=8388608 amb.img 8M",
    );
    let r = inspect(&img);
    assert!(
        codes(&r).iter().any(|c| c == "gpt.sector_size.ambiguous"),
        "{:?}",
        codes(&r)
    );
    let mut withheld = 0;
    for f in r.findings() {
        let Some(h) = &f.hint else { continue };
        let t = h.to_string();
        assert!(!(h.writes && t.contains("{disk}")), "{}: {t}", f.code);
        assert!(
            !(h.writes && (t.contains("growpart") || t.contains("sfdisk"))),
            "{}: {t}",
            f.code
        );
        withheld += usize::from(t.contains("settle the sector size first"));
    }
    assert!(withheld > 0, "{:?}", codes(&r));
}

/// gpt/grown.img (gpt.sh: sgdisk's four partitions, none formatted, the
/// file then grown): growing an empty last partition grows no filesystem.
#[test]
fn an_empty_last_partition_is_offered_no_filesystem_grow() {
    let r = inspect(&fixture("gpt/grown.img"));
    for f in r.findings() {
        if let Some(h) = &f.hint {
            let t = h.to_string();
            assert!(!t.contains("resize2fs"), "{}: {t}", f.code);
        }
    }
    assert!(
        r.next_steps.iter().all(|s| !s.contains("resize2fs")),
        "{:?}",
        r.next_steps
    );
}

/// gpt/gpt-512.img: empty partitions typed swap, LVM and EFI System; the
/// words for each fit its type: mke2fs -S for none of them.
#[test]
fn an_empty_partitions_hint_fits_its_type() {
    let r = inspect(&fixture("gpt/gpt-512.img"));
    for (n, want) in [(2u32, "mkswap"), (3, "vgcfgrestore"), (4, "FAT")] {
        let f = r
            .findings()
            .into_iter()
            .find(|f| f.code == "layout.contents.missing" && f.place.partition() == Some(n))
            .unwrap_or_else(|| panic!("partition {n}: {:?}", codes(&r)));
        let note = f.hint.as_ref().unwrap().note.clone().unwrap();
        assert!(!note.contains("mke2fs"), "partition {n}: {note}");
        assert!(note.contains(want), "partition {n}: {note}");
    }
}

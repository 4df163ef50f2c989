//! The `--json` contract: every finding says where it is as named fields
//! with its offset in the space it names, the report reads back into typed
//! data unchanged, and every report of the fixtures (and every JSON
//! snapshot) is valid against the committed JSON Schema, which rejects a
//! report that breaks it. The README's JSON section names the schema's keys.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

use imgcheck::json::{JsonReport, SCHEMA};
use imgcheck::{Options, inspect};
use imgcheck_testdata::{Patch, damaged, fixture};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Partition 2 of `disk/gpt-two-ext4.img` (testdata/scripts/disk.sh:
/// sgdisk, mkfs.ext4 on both partitions) starts at sector 49152.
const P2: u64 = 49152 * 512;
/// Group 0's descriptor in a 1 KiB-block ext4: block 2, after the
/// superblock's block.
const GROUP0_DESC: u64 = 2048;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn json_of(path: &Path) -> Value {
    let r = inspect(path, &Options::default()).unwrap();
    imgcheck::render::json_value(&r)
}

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    jsonschema::draft202012::new(&schema).unwrap()
}

fn problems(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| {
            format!("{} at {}", e, e.instance_path())
                .chars()
                .take(400)
                .collect()
        })
        .take(5)
        .collect()
}

#[test]
fn a_finding_in_partition_2_names_it_and_has_the_disk_offset() {
    // One bit of group 0's descriptor (its first byte, bg_block_bitmap)
    // flipped: its checksum no longer matches, and the finding names the
    // descriptor, which starts at that byte.
    let bad = damaged(
        "disk/gpt-two-ext4.img",
        &[Patch::Xor {
            offset: P2 + GROUP0_DESC,
            mask: 0x01,
        }],
    );
    let v = json_of(bad.path());
    let findings = v["findings"].as_array().unwrap();
    let f = findings
        .iter()
        .find(|f| f["code"] == "ext4.group.checksum")
        .unwrap_or_else(|| panic!("no ext4.group.checksum in {findings:#?}"));
    assert_eq!(f["space"], "disk");
    assert_eq!(
        f["offset"],
        P2 + GROUP0_DESC,
        "the disk offset of the byte: {f:#}"
    );
    let w = &f["where"];
    assert_eq!(w["partition"], 2, "{w:#}");
    assert_eq!(w["filesystem"], "ext4", "{w:#}");
    assert_eq!(w["image"], v["image"], "{w:#}");
    assert_eq!(w["path"], serde_json::json!([{"partition": 2}]), "{w:#}");
    // Every disk-space finding of an ext4 in partition 2 lies inside it.
    let p2_end = P2 + (129024 - 49152) * 512;
    for f in findings
        .iter()
        .filter(|f| f["layer"] == "ext4" && f["space"] == "disk" && f["where"]["partition"] == 2)
    {
        let at = f["offset"].as_u64().unwrap();
        assert!((P2..p2_end).contains(&at), "outside partition 2: {f:#}");
    }
}

/// `ext4/ext2.img` (testdata/scripts/ext4.sh: mkfs.ext2 -b 1024 -g 2048)
/// keeps its first backup superblock in group 1, block 2049.
const EXT2_BACKUP: u64 = 2049 * 1024;

fn codes_at(v: &Value) -> Vec<(String, u64)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["offset"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_value_read_from_a_backup_superblock_is_named_at_the_backup() {
    // Primary unusable (magic zeroed), the kernel's ERROR_FS in the backup
    // read instead (ext2 has no checksum to break): the finding names the
    // byte the value came from, not the rejected primary's field.
    let bad = damaged(
        "ext4/ext2.img",
        &[
            Patch::ext4_primary_superblock_magic(0),
            Patch::Bytes {
                offset: EXT2_BACKUP + 0x3A,
                bytes: vec![0x03, 0x00],
            },
        ],
    );
    let found = codes_at(&json_of(bad.path()));
    assert!(
        found.contains(&("ext4.state.errors".into(), EXT2_BACKUP + 0x3A)),
        "{found:?}"
    );
    assert!(
        !found
            .iter()
            .any(|(c, at)| c != "ext4.superblock.magic" && (1024..2048).contains(at)),
        "a finding points into the rejected primary: {found:?}"
    );
}

#[test]
fn a_backup_superblock_s_cleared_valid_bit_is_no_unclean_unmount() {
    // mkfs.ext2 (ext2fs_flush) writes every backup with VALID_FS clear:
    // read through it, the state is not evidence of anything.
    let bad = damaged("ext4/ext2.img", &[Patch::ext4_primary_superblock_magic(0)]);
    let found = codes_at(&json_of(bad.path()));
    assert!(
        found.iter().any(|(c, _)| c == "ext4.superblock.magic"),
        "{found:?}"
    );
    assert!(
        !found.iter().any(|(c, _)| c == "ext4.state.not_clean"),
        "a backup's state taken for an unclean unmount: {found:?}"
    );
}

/// serialize → deserialize → serialize is the identity.
fn round_trips<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T) -> String {
    let once = serde_json::to_string(value).unwrap();
    let back: T = serde_json::from_str(&once).unwrap();
    let twice = serde_json::to_string(&back).unwrap();
    assert_eq!(once, twice);
    once
}

#[test]
fn the_demo_report_reads_back_unchanged() {
    let r = inspect(
        &workspace().join("testdata/demo/brainvm.qcow2"),
        &Options::default(),
    )
    .unwrap();
    let typed = JsonReport::of(&r);
    let text = round_trips(&typed);
    // The typed view is the --json line, byte for byte.
    assert_eq!(format!("{text}\n"), imgcheck::render::json_line(&r));
    let back: JsonReport = serde_json::from_str(&text).unwrap();
    assert_eq!(back, typed);
    assert!(back.findings.iter().any(|f| f.place.partition.is_some()));
    // The core finding reads back from its JSON too, its path kept.
    for f in r.findings() {
        let again: imgcheck_core::Finding = serde_json::from_str(&round_trips(f)).unwrap();
        assert_eq!(&again, f);
    }
}

#[test]
fn a_compare_report_reads_back_unchanged() {
    let snap = fixture("compare/snap.qcow2");
    let cur = snap.to_str().unwrap().to_string();
    let r = imgcheck::compare(&[format!("{cur}@pre-upgrade"), cur]).unwrap();
    let text = round_trips(&r);
    assert_eq!(
        format!("{text}\n"),
        imgcheck::compare::text::json(&r),
        "the typed report is compare --json"
    );
    assert!(!r.pairs.is_empty());
}

/// Every fixture the suite uses, by directory (testdata/fixtures/*).
fn all_fixtures() -> Vec<String> {
    let mut dirs: Vec<String> = std::fs::read_dir(imgcheck_testdata::root().join("fixtures"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    dirs.iter()
        .flat_map(|d| imgcheck_testdata::list(d))
        .collect()
}

#[test]
fn every_fixture_report_is_valid_against_the_schema() {
    let v = validator();
    let mut docs: Vec<(String, Value)> = Vec::new();
    let demo = workspace().join("testdata/demo/brainvm.qcow2");
    docs.push(("demo".into(), json_of(&demo)));
    let names = all_fixtures();
    assert!(names.len() > 100, "fixtures found: {}", names.len());
    let layers: BTreeSet<&str> = names.iter().filter_map(|n| n.split('/').next()).collect();
    for want in [
        "boot", "compare", "disk", "ext4", "fat", "gpt", "lvm2", "qcow2", "xfs",
    ] {
        assert!(layers.contains(want), "no {want} fixtures: {layers:?}");
    }
    // Two images at a time: the suite's time is bounded, the reports are
    // each image's alone.
    let checked: Vec<(String, Value)> = std::thread::scope(|s| {
        let halves: Vec<_> = [0usize, 1]
            .iter()
            .map(|&k| {
                let names = &names;
                s.spawn(move || {
                    names
                        .iter()
                        .skip(k)
                        .step_by(2)
                        .map(|n| {
                            let path = fixture(n);
                            let doc = match inspect(&path, &Options::default()) {
                                Ok(r) => imgcheck::render::json_value(&r),
                                Err(e) => imgcheck::render::error_json(n, &e),
                            };
                            (n.clone(), doc)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        halves.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    docs.extend(checked);
    // The boot fixtures' variants the boot tests make (a real tool's
    // delta, a dd range): what gives the boot chain's findings.
    for (name, d) in boot_variants() {
        docs.push((name, json_of(d.path())));
    }
    // --qemu-compat's object, for each qcow2 fixture qemu-img would check.
    let mut qemu = 0;
    for n in names.iter().filter(|n| n.ends_with(".qcow2")) {
        let path = fixture(n);
        if let Ok((doc, _)) = imgcheck::pipeline::qemu_compat(&path, None, &Options::default()) {
            docs.push((format!("{n} --qemu-compat"), doc));
            qemu += 1;
        }
    }
    assert!(qemu > 10, "qemu-compat objects: {qemu}");
    // An image that could not be checked has a line of the same schema.
    let missing = imgcheck::inspect(Path::new("/nonexistent/disk.img"), &Options::default())
        .err()
        .unwrap();
    docs.push((
        "missing".into(),
        imgcheck::render::error_json("/nonexistent/disk.img", &missing),
    ));
    let mut bad = Vec::new();
    let mut in_partitions = 0;
    let mut placed = 0;
    for (name, doc) in &docs {
        in_partitions += offsets_outside_their_partition(name, doc, &mut bad);
        placed += unplaced(name, doc, &mut bad);
        let p = problems(&v, doc);
        if !p.is_empty() {
            bad.push(format!("{name}: {p:?}"));
        }
        // And each reads back into the typed report unchanged.
        if doc.get("schema").is_some() {
            let typed: JsonReport =
                serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(&serde_json::to_value(&typed).unwrap(), doc, "{name}");
        }
    }
    assert!(bad.is_empty(), "{} invalid:\n{}", bad.len(), bad.join("\n"));
    assert!(
        in_partitions > 20,
        "filesystem findings in partitions: {in_partitions}"
    );
    assert!(placed > 40, "findings about one partition: {placed}");
    eprintln!(
        "{} reports valid against the schema; {in_partitions} filesystem findings in partitions have disk offsets; {placed} findings about a partition name it",
        docs.len()
    );
}

/// The boot fixtures as the boot tests change them: each delta a real
/// tool's change (testdata/scripts/boot.sh: rm, mdel) on its base image,
/// and the dd ranges of boot-proof.sh.
fn boot_variants() -> Vec<(String, imgcheck_testdata::Damaged)> {
    let deltas = [
        ("boot/gpt-grub.img", "boot/gpt-grub-esp-broken.delta"),
        ("boot/gpt-grub.img", "boot/gpt-grub-kernel-missing.delta"),
        ("boot/gpt-grub.img", "boot/gpt-grub-loader-deleted.delta"),
        ("boot/gpt-grub.img", "boot/gpt-grub-blscfg.delta"),
        ("boot/mbr-grub.img", "boot/mbr-grub-kernel-missing.delta"),
        ("boot/sdboot.img", "boot/sdboot-initrd-missing.delta"),
        ("boot/sdboot.img", "boot/sdboot-kernel-missing.delta"),
        ("boot/esp-aa64.img", "boot/esp-ia32.delta"),
        ("boot/esp-shim.img", "boot/esp-shim-no-grub.delta"),
        ("boot/esp-shim.img", "boot/esp-shim-stub-search.delta"),
        (
            "boot/mbr-syslinux.img",
            "boot/mbr-syslinux-ext4-active.delta",
        ),
        ("boot/gpt-gptmbr.img", "boot/gpt-gptmbr-ext4-legacy.delta"),
        ("boot/gpt-gptmbr.img", "boot/gpt-gptmbr-ntfs-legacy.delta"),
    ];
    let mut out: Vec<(String, imgcheck_testdata::Damaged)> = deltas
        .iter()
        .map(|(base, rel)| {
            (
                format!("{base} + {rel}"),
                damaged(base, &imgcheck_testdata::delta(rel)),
            )
        })
        .collect();
    let z = |offset: u64, len: u64| Patch::Zero { offset, len };
    for (name, base, patch) in [
        // core.img in the BIOS boot partition (LBA 2048, 1 MiB).
        (
            "gpt-core-zeroed",
            "boot/gpt-grub.img",
            z(2048 * 512, 2048 * 512),
        ),
        ("gpt-code-zeroed", "boot/gpt-grub.img", z(0, 440)),
        ("mbr-gap-zeroed", "boot/mbr-grub.img", z(512, 2047 * 512)),
    ] {
        out.push((format!("{base} {name}"), damaged(base, &[patch])));
    }
    out
}

/// Structures of the disk itself that a partition's span may cover (an
/// isohybrid ISO's partition 1 starts at byte 0), and findings that name
/// a partition without being its: each with why its `where.partition` is
/// null. The test below holds every other finding to naming the
/// partition it concerns.
const DISK_LEVEL: [(&str, &str); 5] = [
    (
        "sector 0",
        "the MBR or a label's sector is the disk's, even where an ISO's partition starts at byte 0 or the MBR boot code names the partition it loads",
    ),
    (
        "gpt header",
        "the GPT header and entry array (LBA 1-33, or 1-5 of 4 KiB sectors) are the disk's; an isohybrid ISO's partition 1 covers them by design",
    ),
    (
        "gpt.recovery.partitions_found",
        "a proposal for a whole new table; its offset is the first partition the scan found",
    ),
    (
        "layout.overwritten.disk",
        "the whole disk was written over; the partition named is the intruder's, the victim lies past the table",
    ),
    (
        "layout.zeroed",
        "a zeroed range that starts outside every partition (in the gap before the first), or that destroyed structures of the disk or of several partitions, is the disk's; one that starts in a partition and destroyed its structures alone names it",
    ),
];

/// Which of [`DISK_LEVEL`] exempts `f`, if any.
fn disk_level(f: &Value, inside: &[u64], parts_named: &BTreeSet<u64>) -> Option<&'static str> {
    let code = f["code"].as_str().unwrap_or("");
    let layer = f["layer"].as_str().unwrap_or("");
    let at = f["offset"].as_u64().unwrap_or(u64::MAX);
    let table = ["mbr", "gpt", "label", "boot"].contains(&layer);
    let reason = if table && at < 512 {
        "sector 0"
    } else if layer == "gpt" && at < 6 * 4096 {
        "gpt header"
    } else if code == "gpt.recovery.partitions_found"
        || code == "layout.overwritten.disk"
        || (code == "layout.zeroed" && (inside.is_empty() || parts_named.len() != 1))
    {
        code
    } else {
        return None;
    };
    DISK_LEVEL
        .iter()
        .find(|(k, _)| *k == reason)
        .map(|(_, why)| *why)
}

/// A finding on the disk (not in a volume or a disk image nested in one)
/// whose offset lies inside a partition, or whose message names exactly
/// one partition, has that partition in `where.partition`, unless it is a
/// structure of the disk itself ([`DISK_LEVEL`]). Returns how many such
/// findings `doc` has.
fn unplaced(name: &str, doc: &Value, bad: &mut Vec<String>) -> usize {
    let Some(parts) = doc["layers"]["partitions"].as_array() else {
        return 0;
    };
    let spans: Vec<(u64, u64, u64)> = parts
        .iter()
        .map(|p| {
            (
                p["index"].as_u64().unwrap(),
                p["start"].as_u64().unwrap(),
                p["size"].as_u64().unwrap(),
            )
        })
        .collect();
    // A filesystem that runs past its shrunk partition has structures in
    // the bytes after it (the report says so with fs_past_partition): its
    // findings there are still its partition's, at their true disk offsets.
    let overrun: BTreeSet<u64> = doc["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["code"] == "layout.size_chain.fs_past_partition")
        .filter_map(|f| f["where"]["partition"].as_u64())
        .collect();
    let mut n = 0;
    for f in doc["findings"].as_array().into_iter().flatten() {
        let w = &f["where"];
        let nested = w["path"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s.get("volume").is_some() || s.get("container").is_some());
        if f["space"] != "disk" || nested {
            continue;
        }
        let at = f["offset"].as_u64().unwrap();
        let inside: Vec<u64> = spans
            .iter()
            .filter(|(_, s, len)| *s <= at && at - s < *len)
            .map(|(i, _, _)| *i)
            .collect();
        let msg = f["message"].as_str().unwrap_or("");
        let named: BTreeSet<u64> = msg
            .match_indices("partition ")
            .filter_map(|(i, m)| {
                let digits: String = msg[i + m.len()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                digits.parse().ok()
            })
            .filter(|i| spans.iter().any(|(x, _, _)| x == i))
            .collect();
        if inside.is_empty() && named.len() != 1 {
            continue;
        }
        n += 1;
        match w["partition"].as_u64() {
            Some(p) if inside.contains(&p) || named.contains(&p) => {}
            Some(p)
                if overrun.contains(&p)
                    && spans.iter().any(|(i, s, _)| *i == p && *s <= at) => {}
            Some(p) => bad.push(format!(
                "{name}: {} at disk {at:#x} is placed in partition {p}, but lies in {inside:?} and names {named:?}",
                f["code"]
            )),
            None if disk_level(f, &inside, &named).is_some() => {}
            None => bad.push(format!(
                "{name}: {} at disk {at:#x} (inside partitions {inside:?}, naming {named:?}) has no where.partition: {}",
                f["code"],
                msg.chars().take(160).collect::<String>()
            )),
        }
    }
    n
}

/// A filesystem's finding in partition N, in disk space, lies at or past
/// the partition's start: a partition-relative offset would fall before
/// it. Returns how many such findings `doc` has.
fn offsets_outside_their_partition(name: &str, doc: &Value, bad: &mut Vec<String>) -> usize {
    let Some(parts) = doc["layers"]["partitions"].as_array() else {
        return 0;
    };
    let start_of = |n: u64| {
        parts
            .iter()
            .find(|p| p["index"] == n)
            .and_then(|p| p["start"].as_u64())
    };
    let mut n = 0;
    for f in doc["findings"].as_array().into_iter().flatten() {
        let w = &f["where"];
        let (Some(part), true, true) = (
            w["partition"].as_u64(),
            w["filesystem"].is_string() && w["volume"].is_null(),
            f["space"] == "disk",
        ) else {
            continue;
        };
        n += 1;
        let at = f["offset"].as_u64().unwrap_or(0);
        match start_of(part) {
            Some(s) if at >= s => {}
            s => bad.push(format!(
                "{name}: {} at disk {at:#x} is before partition {part} (start {s:?})",
                f["code"]
            )),
        }
    }
    n
}

#[test]
fn every_json_snapshot_is_valid_against_the_schema() {
    let v = validator();
    let dir = workspace().join("inspect-cli/tests/snapshots");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        // insta's header is a YAML block between `---` lines.
        let body = text.splitn(3, "---\n").nth(2).unwrap_or("");
        let Ok(doc) = serde_json::from_str::<Value>(body) else {
            continue;
        };
        let p = problems(&v, &doc);
        assert!(p.is_empty(), "{}: {p:?}", path.display());
        n += 1;
    }
    assert!(n >= 1, "no JSON snapshot found in {}", dir.display());
}

#[test]
fn the_schema_rejects_a_broken_report() {
    let v = validator();
    let good = json_of(&workspace().join("testdata/demo/brainvm.qcow2"));
    assert!(problems(&v, &good).is_empty());
    type Mutation = (&'static str, fn(&mut Value));
    let mutations: [Mutation; 7] = [
        ("a finding without where", |d| {
            d["findings"][0].as_object_mut().unwrap().remove("where");
        }),
        ("where as the old path array", |d| {
            d["findings"][0]["where"] = serde_json::json!([{"partition": 2}]);
        }),
        ("a negative offset", |d| {
            d["findings"][0]["offset"] = (-1).into()
        }),
        ("an unknown space", |d| {
            d["findings"][0]["space"] = "partition".into()
        }),
        ("an unknown verdict", |d| d["verdict"] = "fine".into()),
        ("an unknown top-level key", |d| {
            d.as_object_mut().unwrap().insert("extra".into(), 1.into());
        }),
        ("layers without layout", |d| {
            d["layers"].as_object_mut().unwrap().remove("layout");
        }),
    ];
    for (what, mutate) in mutations {
        let mut doc = good.clone();
        mutate(&mut doc);
        assert!(!v.is_valid(&doc), "the schema accepts {what}");
    }
}

fn compare_json(r: &imgcheck::compare::model::CompareReport) -> Value {
    serde_json::from_str(&imgcheck::compare::text::json(r)).unwrap()
}

fn path_of(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// Copies a compare fixture to `dir/name` (a brick's file gets xattrs of
/// its own, and a series' labels are names, not the fixture cache's).
fn copy_to(dir: &Path, rel: &str, name: &str) -> String {
    let to = dir.join(name);
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(fixture(rel), &to).unwrap();
    path_of(&to)
}

/// Gluster's AFR xattrs by setfattr (as tests/compare.rs sets them);
/// false where trusted.* cannot be set (not root, no setfattr).
fn afr(brick: &Path, file: &str, blames: &str) -> bool {
    let set = |p: &Path, n: &str, v: &str| {
        std::process::Command::new("setfattr")
            .args(["-n", n, "-v", v])
            .arg(p)
            .status()
            .is_ok_and(|s| s.success())
    };
    set(
        brick,
        "trusted.glusterfs.volume-id",
        "0x7d9c1e5200000000000000000000aaaa",
    ) && set(
        Path::new(file),
        "trusted.gfid",
        "0x11111111222233334444555555555555",
    ) && set(
        Path::new(file),
        &format!("trusted.afr.{blames}"),
        "0x000000020000000100000000",
    )
}

/// `imgcheck compare --json` over the compare fixtures the compare tests
/// use (testdata/scripts/compare.sh, compare-series.sh, compare-thin.sh),
/// by name.
fn compare_reports() -> Vec<(String, Value)> {
    let dir = tempfile::tempdir().unwrap();
    let snap = path_of(&fixture("compare/snap.qcow2"));
    let thin = |m: &str| path_of(&fixture(&format!("compare/thin-{m}.qcow2")));
    let backups: Vec<String> = (1..=6)
        .map(|i| {
            let n = format!("backup-0{i}.qcow2");
            copy_to(dir.path(), &format!("compare/{n}"), &n)
        })
        .collect();
    let jbackups: Vec<String> = [6, 2, 4, 1, 7, 3, 5]
        .iter()
        .map(|i| {
            let n = format!("jbackup-{i}.qcow2");
            copy_to(dir.path(), &format!("compare/{n}"), &n)
        })
        .collect();
    let r1 = copy_to(
        dir.path(),
        "compare/replica1.qcow2",
        "brick1/images/vm.qcow2",
    );
    let r2 = copy_to(
        dir.path(),
        "compare/replica2.qcow2",
        "brick2/images/vm.qcow2",
    );
    let gluster = afr(&dir.path().join("brick1"), &r1, "vol-client-1")
        && afr(&dir.path().join("brick2"), &r2, "vol-client-0");
    if !gluster {
        eprintln!("SKIP gluster xattrs: setfattr trusted.* refused (needs root and setfattr)");
    }
    let sets: Vec<(&str, Vec<String>)> = vec![
        (
            "snapshot pair",
            vec![format!("{snap}@pre-upgrade"), snap.clone()],
        ),
        ("identical copies", vec![snap.clone(), snap.clone()]),
        ("backup series", backups),
        ("journaled backup series", jbackups),
        ("replicas on bricks", vec![r1, r2]),
        (
            "thin copy set",
            ["apr", "jan", "mar", "feb"]
                .iter()
                .map(|m| thin(m))
                .collect(),
        ),
    ];
    let mut out = Vec::new();
    for (what, args) in sets {
        let r = imgcheck::compare(&args).unwrap_or_else(|e| panic!("{what}: {e}"));
        if what == "replicas on bricks" && gluster {
            assert!(
                r.copies.iter().all(|c| c.brick.is_some()),
                "the bricks' xattrs were not read"
            );
        }
        out.push((what.to_string(), compare_json(&r)));
    }
    out
}

#[test]
fn every_compare_report_is_valid_against_the_schema() {
    use imgcheck::compare::gluster::{Brick, Pending};
    use imgcheck::compare::model::{Kinship, Relation, SourceBy};
    let v = validator();
    let mut docs = compare_reports();
    // Shapes the fixtures do not reach, made by the typed model's own
    // serde: every relation, kinship and source_by variant, a brick with
    // every field set, a differing tail.
    let snap = path_of(&fixture("compare/snap.qcow2"));
    let base = imgcheck::compare(&[format!("{snap}@pre-upgrade"), snap]).unwrap();
    let relations = [
        Relation::Copies,
        Relation::Views,
        Relation::OverlayOf {
            overlay: "b".into(),
            backing: "a".into(),
        },
        Relation::OverlayOfCopy {
            overlay: "b".into(),
            backing: "base.qcow2".into(),
            copy: "a".into(),
        },
        Relation::LinkedClones,
        Relation::OverlayReplicas,
        Relation::OverlaysOfOneBase,
    ];
    let kinships = [
        Kinship::SameDisk,
        Kinship::Clone,
        Kinship::SameImage,
        Kinship::SameBase,
        Kinship::Different,
        Kinship::Unknown,
    ];
    let by = [SourceBy::AfrBlame, SourceBy::Verdict, SourceBy::Newer];
    for (i, relation) in relations.into_iter().enumerate() {
        let mut r = base.clone();
        let p = &mut r.pairs[0];
        p.relation = relation;
        p.kinship = kinships[i % kinships.len()];
        p.source_by = Some(by[i % by.len()]);
        p.source = Some(p.a.clone());
        p.sink = Some(p.b.clone());
        p.divergence.tail_differs = p.divergence.ranges.first().copied();
        r.copies[0].brick = Some(Brick {
            gfid: Some("11111111222233334444555555555555".into()),
            pending: vec![Pending {
                client: "vol-client-1".into(),
                data: 2,
                metadata: 1,
                entry: 0,
            }],
            root: Some(PathBuf::from("/bricks/b1")),
            volume: Some("vol".into()),
            file: Some("images/vm.qcow2".into()),
            client: Some("vol-client-0".into()),
        });
        docs.push((format!("typed variant {i}"), compare_json(&r)));
    }
    let mut bad = Vec::new();
    for (name, doc) in &docs {
        let p = problems(&v, doc);
        if !p.is_empty() {
            bad.push(format!("{name}: {p:?}"));
        }
    }
    assert!(bad.is_empty(), "{} invalid:\n{}", bad.len(), bad.join("\n"));
    let with_pairs = docs
        .iter()
        .filter(|(_, d)| d["pairs"].as_array().is_some_and(|p| !p.is_empty()))
        .count();
    assert_eq!(with_pairs, docs.len(), "a compare report without pairs");
    eprintln!("{} compare reports valid against the schema", docs.len());
}

#[test]
fn the_schema_rejects_a_broken_compare_report() {
    let v = validator();
    let snap = path_of(&fixture("compare/snap.qcow2"));
    let r = imgcheck::compare(&[format!("{snap}@pre-upgrade"), snap]).unwrap();
    let good = compare_json(&r);
    assert!(problems(&v, &good).is_empty(), "{:?}", problems(&v, &good));
    type Mutation = (&'static str, fn(&mut Value));
    let mutations: [Mutation; 10] = [
        ("a pair without divergence", |d| {
            d["pairs"][0].as_object_mut().unwrap().remove("divergence");
        }),
        ("a copy without its verdict", |d| {
            d["copies"][0].as_object_mut().unwrap().remove("verdict");
        }),
        ("a disk size as a string", |d| {
            d["copies"][0]["disk_size"] = "16 MiB".into()
        }),
        ("a negative differing count", |d| {
            d["pairs"][0]["divergence"]["differing"] = (-1).into()
        }),
        ("an extra key in a pair", |d| {
            d["pairs"][0]
                .as_object_mut()
                .unwrap()
                .insert("extra".into(), 1.into());
        }),
        ("an extra top-level key", |d| {
            d.as_object_mut().unwrap().insert("schema".into(), 2.into());
        }),
        ("an unknown kinship", |d| {
            d["pairs"][0]["kinship"] = "cousins".into()
        }),
        ("an overlay relation without its backing", |d| {
            d["pairs"][0]["relation"] = serde_json::json!({"overlay_of": {"overlay": "b"}});
        }),
        ("a summary line that is not a string", |d| {
            d["summary"] = serde_json::json!([1]);
        }),
        ("an exit status compare never returns", |d| {
            d["exit"] = 2.into()
        }),
    ];
    for (what, mutate) in mutations {
        let mut doc = good.clone();
        mutate(&mut doc);
        assert!(!v.is_valid(&doc), "the schema accepts {what}");
    }
}

/// The top-level keys of the JSON block under the README's `### JSON`
/// heading (depth-1 keys of its pseudo-JSON), and of `layers.layout`.
fn readme_keys() -> (BTreeSet<String>, BTreeSet<String>) {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let section = readme
        .split("### JSON (`--json`")
        .nth(1)
        .expect("README has a JSON section");
    let block = section
        .split("```json\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .expect("the JSON section has a json block");
    let (mut top, mut layout) = (BTreeSet::new(), BTreeSet::new());
    let mut depth = 0i32;
    let mut in_layout_at: Option<i32> = None;
    let mut chars = block.char_indices().peekable();
    let mut last_key = String::new();
    while let Some((_, c)) = chars.next() {
        match c {
            '{' | '[' => {
                depth += 1;
                if last_key == "layout" && depth == 3 && c == '{' {
                    in_layout_at = Some(depth);
                }
            }
            '}' | ']' => {
                if in_layout_at == Some(depth) {
                    in_layout_at = None;
                }
                depth -= 1;
            }
            '"' => {
                let mut s = String::new();
                for (_, c) in chars.by_ref() {
                    if c == '"' {
                        break;
                    }
                    s.push(c);
                }
                if chars.peek().is_some_and(|(_, c)| *c == ':') {
                    if depth == 1 {
                        top.insert(s.clone());
                    }
                    if in_layout_at == Some(depth) {
                        layout.insert(s.clone());
                    }
                    last_key = s;
                }
            }
            _ => {}
        }
    }
    (top, layout)
}

#[test]
fn the_readme_names_the_schema_s_keys() {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    let keys = |v: &Value| -> BTreeSet<String> {
        v["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    let report = keys(&schema["$defs"]["report"]);
    let layout = keys(&schema["$defs"]["layout"]);
    let (top, readme_layout) = readme_keys();
    assert_eq!(top, report, "README top-level keys vs the schema's");
    assert_eq!(
        readme_layout, layout,
        "README layers.layout keys vs the schema's"
    );
}

fn the_loss(v: &Value) -> Value {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "layout.lost")
        .cloned()
        .unwrap_or_else(|| panic!("no layout.lost in {:#}", v["findings"]))
}

#[test]
fn a_loss_is_placed_in_its_partition_and_in_the_snapshot_shown() {
    // testdata/scripts/layout.sh: partition 1's first 8 MiB zeroed by dd
    // (sgdisk, mkfs.ext4); the qcow2 copy has a snapshot "bad" of it.
    let raw = the_loss(&json_of(&fixture("layout/destroyed-dd-zero.img")));
    assert_eq!(raw["where"]["partition"], 1, "{raw:#}");
    assert_eq!(raw["where"]["path"], serde_json::json!([{"partition": 1}]));
    let opts = Options {
        snapshot: Some("bad".into()),
        ..Options::default()
    };
    let r = inspect(&fixture("layout/destroyed-dd-zero-snap.qcow2"), &opts).unwrap();
    let snap = the_loss(&imgcheck::render::json_value(&r));
    let w = &snap["where"];
    assert_eq!(
        (&w["snapshot"], &w["partition"]),
        (&"1:bad".into(), &1.into()),
        "{w:#}"
    );
    assert_eq!(
        w["path"],
        serde_json::json!([{"snapshot": "1:bad"}, {"partition": 1}])
    );
    assert_eq!(snap["offset"], raw["offset"], "the same disk bytes");
}

#[test]
fn an_image_whose_name_is_not_utf8_is_checked_not_a_panic() {
    use std::os::unix::ffi::OsStrExt;
    // mkfs.ext4 on a whole disk (testdata/scripts/disk.sh), under a name
    // with a byte that is not UTF-8: Linux names are bytes.
    let dir = tempfile::tempdir().unwrap();
    let name = dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"disk\xff.img"));
    std::fs::copy(fixture("disk/whole-disk-ext4.img"), &name).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_imgcheck"))
        .args(["--json", "--host-room", "off"])
        .arg(&name)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(problems(&validator(), &doc).is_empty());
    assert_eq!(doc["verdict"], "clean");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_imgcheck"))
        .arg("compare")
        .arg(&name)
        .arg(&name)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(16), "a usage error, not a panic");
}

//! Differential test against `sgdisk -v` and `sfdisk -V` over every
//! fixture and every damaged copy of the check tests. Each tool's verdict
//! (flags something / says nothing) is compared with imgcheck's (a warning
//! or error finding / none); every difference must be one named below with
//! its reason. Skipped (and says so) when a tool is absent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

mod common;
use common::{Img, cases};
use imgcheck_core::Severity;
use std::process::Command;

/// (case, tool, why imgcheck differs by design).
const BY_DESIGN: &[(&str, &str, &str)] = &[
    (
        "pmbr-ee-status-ff",
        "sfdisk",
        "libfdisk does not check the 0xEE status byte; gdisk reads 0xFF as active and says so, as imgcheck does",
    ),
    (
        "pmbr-stray-type",
        "sfdisk",
        "libfdisk skips MBR slots without a size; gdisk reports the typed slot as a hybrid entry without a GPT partition, imgcheck as a stray slot",
    ),
    (
        "pmbr-stray-size",
        "sfdisk",
        "libfdisk skips MBR slots without a type; gdisk reports the sized slot as overlapping the 0xEE entry, imgcheck as a stray slot",
    ),
    (
        "clean-gpt-4k.img",
        "sfdisk",
        "sfdisk assumes 512-byte sectors on a file and reports a PMBR size mismatch (16383 != 131071); imgcheck infers 4096 from \"EFI PART\" at byte 4096 and the backup at the last 4 KiB sector, where the PMBR size is right",
    ),
    (
        "4k-primary-zeroed",
        "sgdisk",
        "sgdisk assumes 512-byte sectors, finds no GPT at all and says \"Creating new GPT entries in memory\" + \"No problems found\"; imgcheck finds the 4 KiB backup and reports the missing primary",
    ),
    (
        "mismatch-first-usable",
        "sfdisk",
        "sfdisk -V does not compare primary and backup header fields (gdisk Verify #9-#13 does, and so does imgcheck)",
    ),
    (
        "mismatch-last-usable",
        "sfdisk",
        "sfdisk -V does not compare primary and backup header fields",
    ),
    (
        "mismatch-disk-guid",
        "sfdisk",
        "sfdisk -V does not compare primary and backup header fields",
    ),
    (
        "mismatch-num-entries",
        "sfdisk",
        "sfdisk -V does not compare primary and backup header fields",
    ),
    (
        "entries-differ",
        "sfdisk",
        "sfdisk -V does not compare the two entry arrays (each CRC is valid)",
    ),
    (
        "table-too-small",
        "sfdisk",
        "sfdisk -V accepts a 64-entry array and does not compare it with the backup's 128",
    ),
    (
        "entries-past-first-usable",
        "sfdisk",
        "sfdisk -V does not check the primary array against first_usable_lba nor compare the headers",
    ),
    (
        "gap-before-first-usable",
        "sfdisk",
        "sfdisk -V does not compare primary and backup header fields (the gap itself is info in imgcheck too)",
    ),
    (
        "partition-outside-usable",
        "sfdisk",
        "sfdisk -V does not check partitions against the usable range (libblkid silently skips such entries)",
    ),
    (
        "partition-over-primary-entries",
        "sfdisk",
        "sfdisk -V does not check partitions against the usable range or the entry array",
    ),
    (
        "duplicate-guid",
        "sgdisk",
        "gdisk does not check that unique partition GUIDs are unique; root=PARTUUID= then picks one arbitrarily",
    ),
    (
        "duplicate-guid",
        "sfdisk",
        "libfdisk does not check that unique partition GUIDs are unique",
    ),
    (
        "revision",
        "sfdisk",
        "sfdisk prints \"Header version: unknown\" but counts no error",
    ),
    (
        "reserved",
        "sgdisk",
        "gdisk does not check the header's reserved field",
    ),
    (
        "reserved",
        "sfdisk",
        "libfdisk does not check the header's reserved field",
    ),
    (
        "pmbr-size",
        "sgdisk",
        "gdisk does not compare the 0xEE size with the disk (libfdisk and imgcheck do)",
    ),
    (
        "pmbr-too-big",
        "sgdisk",
        "sgdisk -v repairs an oversized 0xEE entry in memory without a word",
    ),
    (
        "pmbr-two-ee",
        "sfdisk",
        "libfdisk accepts any 0xEE entry and does not count them",
    ),
    (
        "pmbr-ee-not-at-1",
        "sfdisk",
        "libfdisk's -V does not report the 0xEE start",
    ),
    (
        "pmbr-ee-active",
        "sfdisk",
        "libfdisk does not check the 0xEE status byte",
    ),
    (
        "pmbr-no-signature",
        "sgdisk",
        "sgdisk loads a GPT without any MBR silently; the Linux kernel would ignore that GPT",
    ),
    (
        "pmbr-classic",
        "sfdisk",
        "sfdisk silently uses the classic MBR and ignores the GPT (sgdisk refuses: \"Invalid partition data!\"): imgcheck flags the conflict",
    ),
    (
        "hybrid-logicals",
        "sfdisk",
        "libfdisk reads only the GPT on a hybrid disk and never looks at MBR logical partitions (sgdisk warns, as imgcheck does)",
    ),
    (
        "backup-revision",
        "sfdisk",
        "sfdisk -V reports the primary's version only and does not compare the headers",
    ),
    (
        "backup-header-size",
        "sgdisk",
        "sgdisk checks header_size only on the main header; a backup with header_size 40 passes silently",
    ),
    (
        "backup-reserved",
        "sgdisk",
        "gdisk does not check the header's reserved field",
    ),
    (
        "backup-reserved",
        "sfdisk",
        "libfdisk does not check the header's reserved field",
    ),
    (
        "hybrid-mismatch",
        "sfdisk",
        "libfdisk does not compare hybrid MBR entries with GPT partitions",
    ),
    (
        "mbr-boot-flag",
        "sgdisk",
        "gdisk does not check the MBR status byte",
    ),
    (
        "mbr-boot-flag",
        "sfdisk",
        "libfdisk does not check the MBR status byte",
    ),
    (
        "logical-boot-flag",
        "sgdisk",
        "gdisk does not check a logical partition's status byte",
    ),
    (
        "logical-boot-flag",
        "sfdisk",
        "libfdisk does not check a logical partition's status byte",
    ),
    (
        "mbr-sector0",
        "sfdisk",
        "sfdisk -V did not report an entry starting at LBA 0 here",
    ),
    (
        "ebr-link-outside",
        "sgdisk",
        "sgdisk converts the MBR to GPT in memory and drops the broken link silently",
    ),
    (
        "ebr-signature",
        "sgdisk",
        "sgdisk stops the EBR chain silently at a bad signature",
    ),
    (
        "ebr-extra-entry",
        "sgdisk",
        "neither tool checks EBR entries 3 and 4",
    ),
    (
        "mbr-two-extended",
        "sgdisk",
        "sgdisk ignores a second extended partition silently",
    ),
    (
        "both-headers-zeroed",
        "sgdisk",
        "with both headers gone sgdisk sees an empty disk (\"Creating new GPT entries\" / \"No problems found\"); imgcheck reports the loss and proposes the partitions back",
    ),
    (
        "both-headers-zeroed",
        "sfdisk",
        "with both headers gone sfdisk -V says \"No errors detected\"; imgcheck reports the loss and proposes the partitions back",
    ),
];

fn run(tool: &str, args: &[&str]) -> Option<(bool, String)> {
    let out = Command::new(tool).args(args).output().ok()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.success(), text))
}

/// sgdisk flags a disk when Verify counts problems, or when loading printed
/// a warning about damage (it then often says "No problems found" after
/// repairing in memory).
fn sgdisk_flags(text: &str) -> bool {
    // Alignment "Caution"s are left out: sgdisk prints them on healthy
    // disks too (imgcheck: info).
    const MARKS: &[&str] = &[
        "Warning",
        "Problem",
        "Identified",
        "Invalid partition data",
        "Caution: invalid",
        "Caution! After loading partitions",
        "Caution: The CRC",
        "Caution: Found protective or hybrid MBR and corrupt GPT",
        "Caution: More than one 0xEE",
        "Unsupported GPT version",
        "oversized",
        "infinite loop",
    ];
    MARKS.iter().any(|m| text.contains(m))
}

fn sfdisk_flags(ok: bool, text: &str) -> bool {
    let counted = (text.contains("error detected") || text.contains("errors detected"))
        && !text.contains("No errors detected");
    const MARKS: &[&str] = &[
        "mismatch",
        "corrupt",
        "not on the end",
        "greater than the maximum",
        "Invalid flag",
        "Ignoring extra",
        "unrecognized partition table type",
        "overlaps",
    ];
    !ok || counted || MARKS.iter().any(|m| text.contains(m))
}

#[test]
fn agree_with_sgdisk_and_sfdisk_or_differ_by_design() {
    let have_sgdisk = run("sgdisk", &["--version"]).is_some();
    let have_sfdisk = run("sfdisk", &["--version"]).is_some();
    if !have_sgdisk && !have_sfdisk {
        println!("skipped: neither sgdisk nor sfdisk is installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut inputs: Vec<(String, Img)> = [
        "gpt-512.img",
        "gpt-4k.img",
        "mbr-logical.img",
        "mbr-4k.img",
        "hybrid.img",
        "grown.img",
        "gpt-fs.img",
    ]
    .iter()
    .map(|n| (format!("clean-{n}"), Img::fixture(n)))
    .collect();
    for c in cases::all() {
        let mut i = Img::fixture(c.fixture);
        (c.damage)(&mut i);
        inputs.push((c.name.to_string(), i));
    }
    let (mut agree, mut by_design, mut unexpected) = (0, 0, Vec::new());
    let mut report = Vec::new();
    let mut used = std::collections::HashSet::new();
    for (name, img) in &inputs {
        let path = img.write_to(dir.path(), "disk.img");
        let p = path.to_str().unwrap();
        let a = img.analyze();
        let ours = a.findings.iter().any(|f| f.severity >= Severity::Warning);
        let mut tools = Vec::new();
        if have_sgdisk {
            let (_, t) = run("sgdisk", &["-v", p]).unwrap();
            tools.push(("sgdisk", sgdisk_flags(&t), t));
        }
        if have_sfdisk {
            let (ok, t) = run("sfdisk", &["-V", p]).unwrap();
            tools.push(("sfdisk", sfdisk_flags(ok, &t), t));
        }
        for (tool, theirs, text) in tools {
            if theirs == ours {
                agree += 1;
            } else if let Some((_, _, why)) =
                BY_DESIGN.iter().find(|(c, t, _)| c == name && *t == tool)
            {
                by_design += 1;
                used.insert((name.clone(), tool));
                report.push(format!("  {name} / {tool}: {why}"));
            } else {
                let codes: Vec<_> = a
                    .findings
                    .iter()
                    .filter(|f| f.severity >= Severity::Warning)
                    .map(|f| f.code.to_string())
                    .collect();
                unexpected.push(format!(
                    "{name} / {tool}: tool flags={theirs}, imgcheck flags={ours} {codes:?}\n{}",
                    text.trim()
                ));
            }
        }
    }
    println!(
        "differential over {} images: {agree} agree, {by_design} differ by design, {} unexpected",
        inputs.len(),
        unexpected.len()
    );
    for r in &report {
        println!("{r}");
    }
    assert!(unexpected.is_empty(), "{}", unexpected.join("\n-----\n"));
    // Keep the list honest: an entry that no longer differs must go.
    let stale: Vec<_> = BY_DESIGN
        .iter()
        .filter(|(c, t, _)| !used.contains(&(c.to_string(), *t)))
        .map(|(c, t, _)| format!("{c}/{t}"))
        .collect();
    if have_sgdisk && have_sfdisk {
        assert!(stale.is_empty(), "stale by-design entries: {stale:?}");
    }
}

/// The partition lists of the 512-byte-sector fixtures (and their damaged
/// copies whose table sfdisk still reads) match `sfdisk -J` exactly:
/// start, size, type, unique GUID, name. Extended containers are left out
/// (imgcheck hands out only partitions with contents).
#[test]
fn partition_lists_match_sfdisk_json() {
    if run("sfdisk", &["--version"]).is_none() {
        println!("skipped: sfdisk is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut compared = 0;
    for name in [
        "gpt-512.img",
        "mbr-logical.img",
        "hybrid.img",
        "grown.img",
        "gpt-fs.img",
    ] {
        let img = Img::fixture(name);
        let path = img.write_to(dir.path(), name);
        let out = Command::new("sfdisk")
            .arg("-J")
            .arg(&path)
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut theirs: Vec<(u64, u64, String, String, String)> = v["partitiontable"]["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| !matches!(p["type"].as_str(), Some("5" | "f" | "85")))
            .map(|p| {
                (
                    p["start"].as_u64().unwrap(),
                    p["size"].as_u64().unwrap(),
                    p["type"].as_str().unwrap().to_uppercase(),
                    p["uuid"].as_str().unwrap_or("").to_string(),
                    p["name"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        let a = img.analyze();
        let mut ours: Vec<(u64, u64, String, String, String)> = a
            .partitions
            .iter()
            .map(|p| {
                (
                    p.first_lba,
                    p.last_lba - p.first_lba + 1,
                    match p.type_id.strip_prefix("0x") {
                        Some(b) => b.trim_start_matches('0').to_uppercase(),
                        None => p.type_id.clone(),
                    },
                    p.unique_guid.map(|g| g.to_string()).unwrap_or_default(),
                    p.name.clone(),
                )
            })
            .collect();
        theirs.sort();
        ours.sort();
        assert_eq!(ours, theirs, "{name}");
        compared += ours.len();
    }
    println!("{compared} partitions identical to sfdisk -J");
}

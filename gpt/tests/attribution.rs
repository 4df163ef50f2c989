//! Findings about one partition name that partition in their place (so the
//! CLI can show them under it); the table's own findings name none. Offsets
//! stay in disk space.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

mod common;
use common::{Img, cases};

/// (damage case, code, partition it must be attributed to)
const EXPECT: &[(&str, &str, u32)] = &[
    ("partition-overlap", "gpt.partition.overlap", 2),
    (
        "partition-ends-before-start",
        "gpt.partition.ends_before_start",
        3,
    ),
    ("partition-beyond-disk", "gpt.partition.beyond_disk", 4),
    (
        "partition-outside-usable",
        "gpt.partition.outside_usable",
        4,
    ),
    (
        "partition-outside-usable",
        "gpt.backup_entries.overlaps_partition",
        4,
    ),
    (
        "partition-over-primary-entries",
        "gpt.primary_entries.overlaps_partition",
        1,
    ),
    ("duplicate-guid", "gpt.partition.duplicate_guid", 2),
    ("misaligned", "gpt.partition.misaligned", 1),
    ("truncated", "gpt.partition.beyond_disk", 4),
    ("mbr-beyond-disk", "mbr.partition.beyond_disk", 3),
    ("mbr-overlap", "mbr.partition.overlap", 3),
    ("mbr-sector0", "mbr.partition.contains_sector0", 1),
    ("logical-boot-flag", "mbr.partition.boot_flag", 6),
    (
        "logical-outside-extended",
        "mbr.logical.outside_extended",
        7,
    ),
];

#[test]
fn partition_findings_name_their_partition() {
    let all = cases::all();
    let mut failures = Vec::new();
    for (name, code, want) in EXPECT {
        let case = all.iter().find(|c| c.name == *name).unwrap();
        let mut img = Img::fixture(case.fixture);
        (case.damage)(&mut img);
        let a = img.analyze();
        let got: Vec<_> = a
            .findings
            .iter()
            .filter(|f| f.code == *code)
            .map(|f| (f.offset, f.place.partition()))
            .collect();
        if got.is_empty() || got.iter().any(|(_, p)| *p != Some(*want)) {
            failures.push(format!("{name}: {code} on {got:?}, want partition {want}"));
        }
        // The partition exists, so the CLI has a node to put it on.
        assert!(a.partitions.iter().any(|p| p.number == *want), "{name}");
        assert_eq!(
            a.findings_of(*want).filter(|f| f.code == *code).count(),
            got.len()
        );
        // Table-level findings stay unattributed.
        for f in &a.findings {
            let p = f.place.partition();
            let table_level = f.code.contains("header")
                || f.code.contains("free_space")
                || f.code.contains("pmbr")
                || f.code.contains("disk.too_small")
                || f.code.contains("sector_size");
            if table_level && p.is_some() {
                failures.push(format!("{name}: table-level {} on partition {p:?}", f.code));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn offsets_stay_in_disk_space() {
    // Partition 4's beyond_disk finding points at its entry's ending_lba in
    // the primary entry array (LBA 2), not at an offset inside the partition.
    let case = cases::all()
        .into_iter()
        .find(|c| c.name == "partition-beyond-disk")
        .unwrap();
    let mut img = Img::fixture(case.fixture);
    (case.damage)(&mut img);
    let a = img.analyze();
    let f = a
        .findings_of(4)
        .find(|f| f.code == "gpt.partition.beyond_disk")
        .unwrap();
    assert_eq!(f.offset, 2 * 512 + 3 * 128 + 0x28);
    assert_eq!(f.space, imgcheck_core::Space::Disk);
}

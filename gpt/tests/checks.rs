//! Every check on a fixture made by a real tool plus precise damage: the
//! damaged copy must carry the check's code, the clean fixture must not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

mod common;
use common::{Img, cases, codes, finding};
use imgcheck_core::Severity;

#[test]
fn every_damage_case_reports_its_check_and_the_clean_fixture_does_not() {
    let mut failures = Vec::new();
    for case in cases::all() {
        let clean = Img::fixture(case.fixture);
        let clean_codes = codes(&clean.analyze());
        let mut img = clean.clone();
        (case.damage)(&mut img);
        let got = codes(&img.analyze());
        for want in case.expect {
            if !got.iter().any(|c| c == want) {
                failures.push(format!("{}: missing {want}; got {got:?}", case.name));
            }
            if case.name != "grown"
                && clean_codes.iter().any(|c| c == want)
                && !want.ends_with("sector_size.4096")
            {
                failures.push(format!(
                    "{}: {want} already on the clean {}",
                    case.name, case.fixture
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn clean_fixtures_have_no_warnings_or_errors() {
    for name in [
        "gpt-512.img",
        "gpt-4k.img",
        "mbr-logical.img",
        "hybrid.img",
        "gpt-fs.img",
    ] {
        let a = Img::fixture(name).analyze();
        let bad: Vec<_> = a
            .findings
            .iter()
            .filter(|f| f.severity > Severity::Info)
            .collect();
        assert!(bad.is_empty(), "{name}: {bad:#?}");
        assert!(a.recovery.is_none(), "{name}: no scan on a valid table");
    }
}

#[test]
fn gpt_512_partitions_types_names_guids() {
    let a = Img::fixture("gpt-512.img").analyze();
    assert_eq!(a.tables.scheme.as_str(), "gpt");
    assert_eq!(a.tables.sector.bytes, 512);
    let got: Vec<_> = a
        .partitions
        .iter()
        .map(|p| {
            (
                p.number,
                p.start,
                p.size,
                p.type_name.as_str(),
                p.name.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (1, 1 << 20, 8 << 20, "Linux filesystem", "root"),
            (2, 9 << 20, 4 << 20, "Linux swap", "swap"),
            (3, 13 << 20, 8 << 20, "Linux LVM", "lvm"),
            (4, 21 << 20, 4 << 20, "EFI System", "EFI"),
        ]
    );
    assert_eq!(
        a.partitions[0].unique_guid.unwrap().to_string(),
        "01234567-89AB-CDEF-0123-4567890ABC01"
    );
    assert_eq!(a.partitions[3].attributes, vec!["required".to_string()]);
    let h = &a.tables.primary.as_ref().unwrap().header;
    assert_eq!(
        h.disk_guid.to_string(),
        "11111111-2222-3333-4444-555555555555"
    );
    assert_eq!(
        (
            h.first_usable_lba,
            h.last_usable_lba,
            h.num_partition_entries
        ),
        (34, 65502, 128)
    );
    // Both copies read independently and both valid.
    assert!(
        a.tables.primary.as_ref().unwrap().valid(512)
            && a.tables.backup.as_ref().unwrap().valid(512)
    );
    // Same free space as `sgdisk -v` reports for it: 16317 sectors in 2 segments.
    assert!(
        finding(&a, "gpt.free_space")
            .message
            .starts_with("16317 free sectors")
    );
}

#[test]
fn gpt_4k_found_at_byte_4096_never_as_512() {
    let a = Img::fixture("gpt-4k.img").analyze();
    assert_eq!(a.tables.sector.bytes, 4096);
    assert!(!a.tables.sector.assumed);
    let got: Vec<_> = a
        .partitions
        .iter()
        .map(|p| (p.start, p.size, p.name.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![(1 << 20, 16 << 20, "rootfs"), (17 << 20, 8 << 20, "swap")]
    );
    assert_eq!(a.tables.backup.as_ref().unwrap().lba, (64 << 20) / 4096 - 1);
    // With the primary gone, the backup at the last 4 KiB sector still decides.
    let mut i = Img::fixture("gpt-4k.img");
    i.data[4096..8192].fill(0);
    let a = i.analyze();
    assert_eq!((a.tables.sector.bytes, a.partitions.len()), (4096, 2));
}

#[test]
fn bad_primary_is_reported_while_the_backup_serves() {
    // sgdisk -v says "No problems found" here after rebuilding in memory.
    let mut i = Img::fixture("gpt-512.img");
    i.data[512 + 0x38] ^= 1;
    let a = i.analyze();
    assert_eq!(a.partitions.len(), 4);
    let f = finding(&a, "gpt.primary_header.crc");
    assert_eq!((f.severity, f.offset), (Severity::Error, 512 + 0x10));
    assert!(
        f.hint
            .as_ref()
            .map(ToString::to_string)
            .as_deref()
            .unwrap()
            .contains("gdisk {disk}")
    );
}

#[test]
fn truncated_names_the_cut_partition_and_amount() {
    let mut i = Img::fixture("gpt-512.img");
    i.data.truncate(24 << 20);
    let a = i.analyze();
    let f = finding(&a, "gpt.partition.beyond_disk");
    assert!(
        f.message.contains("partition 4 (EFI)")
            && f.message.contains("2048 sectors (1 MiB) are cut off"),
        "{}",
        f.message
    );
    let f = finding(&a, "gpt.disk.too_small");
    assert!(
        f.hint
            .as_ref()
            .map(ToString::to_string)
            .as_deref()
            .unwrap()
            .contains("truncate -s 33554432 {image}.copy"),
        "{f:?}"
    );
    // Cut short under its table (sgdisk made it, truncate cut it): no
    // step may write a backup header or a protective MBR at the new,
    // smaller end, which is inside partition 4's data.
    for f in &a.findings {
        let h = f.hint.as_ref().map(ToString::to_string).unwrap_or_default();
        assert!(
            f.hint.as_ref().is_none_or(|h| !h.writes)
                && !h.starts_with("sgdisk -e")
                && !h.starts_with("gdisk"),
            "{}: {h}",
            f.code
        );
    }
}

#[test]
fn grown_gives_size_difference_and_sgdisk_e() {
    let a = Img::fixture("grown.img").analyze();
    let f = finding(&a, "gpt.backup_header.not_at_end");
    assert!(
        f.message.contains("grew by 32768 sectors (16 MiB)"),
        "{}",
        f.message
    );
    assert_eq!(
        f.hint
            .as_ref()
            .map(ToString::to_string)
            .as_deref()
            .map(|h| h.starts_with("sgdisk -e {disk}")),
        Some(true)
    );
    let tail: Vec<_> = a.free.iter().filter(|r| r.beyond_table).collect();
    assert_eq!(
        (tail.len(), tail[0].start, tail[0].size),
        (1, 32 << 20, 16 << 20)
    );
}

#[test]
fn mbr_primaries_and_logicals() {
    let a = Img::fixture("mbr-logical.img").analyze();
    assert_eq!(a.tables.scheme.as_str(), "mbr");
    let got: Vec<_> = a
        .partitions
        .iter()
        .map(|p| {
            (
                p.number,
                p.first_lba,
                p.last_lba - p.first_lba + 1,
                p.type_id.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (1, 2048, 8192, "0x83"),
            (3, 51200, 8192, "0x83"),
            (5, 12288, 8192, "0x83"),
            (6, 22528, 8192, "0x82"),
            (7, 32768, 8192, "0x8e")
        ]
    );
    assert_eq!(a.partitions[0].attributes, vec!["bootable".to_string()]);
    // The evidence says 512 was assumed (no GPT to tell), not silently taken.
    assert!(a.tables.sector.assumed);
    assert!(
        finding(&a, "mbr.free_space")
            .message
            .contains("LBA 59392..=65535 (3 MiB)")
    );
}

#[test]
fn hybrid_mbr_is_recognised() {
    let a = Img::fixture("hybrid.img").analyze();
    assert_eq!(
        a.tables.mbr.as_ref().unwrap().kind,
        imgcheck_gpt::MbrKind::Hybrid
    );
    assert_eq!(a.tables.scheme.as_str(), "gpt");
    // The hybrid without its GPT: the MBR is used, the lost GPT reported.
    let mut i = Img::fixture("hybrid.img");
    i.data[512..1024].fill(0);
    let l = i.last_lba() as usize * 512;
    i.data[l..l + 512].fill(0);
    let a = i.analyze();
    assert_eq!(a.tables.scheme.as_str(), "mbr");
    assert!(codes(&a).contains(&"gpt.headers.missing".to_string()));
}

#[test]
fn hybrid_without_table_mismatch_is_silent() {
    let a = Img::fixture("hybrid.img").analyze();
    assert!(!codes(&a).iter().any(|c| c == "gpt.hybrid.mismatch"));
}

#[test]
fn mbr_on_4096_byte_sectors_is_told_by_its_contents() {
    let a = Img::fixture("mbr-4k.img").analyze();
    assert_eq!(
        (
            a.tables.scheme.as_str(),
            a.tables.sector.bytes,
            a.tables.sector.assumed
        ),
        ("mbr", 4096, false)
    );
    let got: Vec<_> = a
        .partitions
        .iter()
        .map(|p| (p.number, p.start, p.size))
        .collect();
    assert_eq!(got, vec![(1, 1 << 20, 8 << 20), (2, 9 << 20, 8 << 20)]);
    assert!(
        a.tables.sector.evidence[0].contains("4096-byte sectors (2 of 2)"),
        "{:?}",
        a.tables.sector.evidence
    );
    // Without contents, 512 is an assumption and says so.
    let b = Img::fixture("mbr-logical.img").analyze();
    assert!(codes(&b).contains(&"gpt.sector_size.assumed".to_string()));
    assert!(!codes(&a).contains(&"gpt.sector_size.assumed".to_string()));
}

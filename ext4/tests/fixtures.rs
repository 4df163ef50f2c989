//! Every default-depth check against images made by mkfs/debugfs, each
//! damaged at one named byte: the test fails when the check is removed.
//! The deep check's are in fixtures_deep.rs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

mod common;

use common::*;
use imgcheck_core::{BytesReader, Severity};
use imgcheck_ext4::{SuperblockSource, check};

#[test]
fn clean_fixtures_are_clean_at_both_depths() {
    for name in CLEAN {
        let img = load(name);
        for deep in [false, true] {
            let r = run(&img, deep);
            assert!(
                codes(&r).is_empty(),
                "{name} deep={deep}: {:#?}",
                r.findings
            );
            assert!(r.summary.is_some());
        }
    }
}

#[test]
fn summary_describes_the_filesystem() {
    let s = run(&load("ext4-4k"), false).summary.unwrap();
    assert_eq!(
        (s.kind.as_str(), s.block_size, s.blocks_count, s.groups),
        ("ext4", 4096, 4096, 4)
    );
    assert_eq!(s.label.as_deref(), Some("root"));
    assert_eq!(s.uuid, "5e1f1c2a-7c1b-4f5e-9a0d-3c6b2a1e0f99");
    assert!(s.features.contains(&"metadata_csum".to_string()));
    assert_eq!(s.times.created, Some(1_763_000_000));
    assert_eq!(run(&load("ext2"), false).summary.unwrap().kind, "ext2");
    assert_eq!(run(&load("ext3"), false).summary.unwrap().kind, "ext3");
    let j = run(&load("ext3"), false).summary.unwrap().journal.unwrap();
    assert_eq!((j.start, j.errno, j.block_size), (0, 0, 1024));
}

#[test]
fn bad_primary_magic_uses_first_backup_with_e2fsck_line() {
    for (name, block, bs) in [
        ("ext4-4k", 1024u64, 4096u64),
        ("ext4-1k", 2049, 1024),
        ("ext2", 2049, 1024),
    ] {
        let mut img = load(name);
        img[SB + 0x38] = 0;
        let r = assert_code(&img, "ext4.superblock.magic");
        let f = r
            .findings
            .iter()
            .find(|f| f.code == "ext4.superblock.magic")
            .unwrap();
        assert_eq!(
            f.hint.as_ref().and_then(|h| h.command.as_deref()),
            Some(format!("e2fsck -fn -b {block} -B {bs} {{dev}}").as_str()),
            "{name}"
        );
        assert_eq!(
            r.summary.unwrap().superblock,
            SuperblockSource::Backup {
                group: 1,
                block,
                block_size: bs
            }
        );
    }
}

#[test]
fn sparse_super2_backup_found_when_primary_zeroed() {
    let mut img = load("ext4-sparse2");
    img[SB..SB + 1024].fill(0);
    let r = assert_code(&img, "ext4.superblock.magic");
    assert!(matches!(
        r.summary.unwrap().superblock,
        SuperblockSource::Backup { group: 1, .. }
    ));
}

#[test]
fn superblock_checksum() {
    let mut img = load("ext4-4k");
    img[SB + 0x78] ^= 1; // label byte, checksum left stale
    let r = assert_code(&img, "ext4.superblock.checksum");
    assert!(matches!(
        r.summary.unwrap().superblock,
        SuperblockSource::Backup { .. }
    ));
}

#[test]
fn superblock_geometry_rules() {
    let cases: [(&str, usize, u32, &str); 5] = [
        ("ext4-4k", 0x28, 7, "ext4.superblock.inodes_per_group"),
        ("ext4-4k", 0x00, 1000, "ext4.superblock.inodes_count"),
        ("ext4-1k", 0x14, 0, "ext4.superblock.first_data_block"),
        ("ext4-4k", 0x18, 9, "ext4.superblock.log_block_size"),
        ("ext4-4k", 0x20, 4, "ext4.superblock.blocks_per_group"),
    ];
    for (name, off, v, code) in cases {
        let mut img = load(name);
        put32(&mut img, SB + off, v);
        fix_sb(&mut img);
        assert_code(&img, code);
    }
}

#[test]
fn superblock_values_and_feature_conflicts() {
    let mut img = load("ext4-4k");
    put32(&mut img, SB + 0x08, 3000);
    fix_sb(&mut img);
    assert_code(&img, "ext4.superblock.r_blocks_count");

    let mut img = load("ext4-4k");
    let v = le32(&img, SB + 0x64) | 0x10;
    put32(&mut img, SB + 0x64, v);
    fix_sb(&mut img);
    assert_code(&img, "ext4.superblock.metadata_csum_and_uninit_bg");

    let mut img = load("ext4-4k");
    let v = le32(&img, SB + 0x60) & !0x40;
    put32(&mut img, SB + 0x60, v);
    fix_sb(&mut img);
    assert_code(&img, "ext4.superblock.64bit_without_extents");

    let mut img = load("ext4-4k");
    let v = le32(&img, SB + 0x60) | 0x8000_0000;
    put32(&mut img, SB + 0x60, v);
    fix_sb(&mut img);
    assert_code(&img, "ext4.superblock.unknown_incompat");

    let mut img = load("ext4-4k");
    put32(&mut img, SB + 0x240, 5);
    fix_sb(&mut img);
    assert_code(&img, "ext4.superblock.quota_inode");

    let mut img = load("ext4-4k");
    put16(&mut img, SB + 0x15C, 3);
    fix_sb(&mut img);
    assert_code(&img, "ext4.superblock.min_extra_isize");

    let mut img = load("ext4-4k");
    put32(&mut img, SB + 0x2C, 0xFFFF_FF00);
    fix_sb(&mut img);
    assert_code(&img, "ext4.superblock.future_mount_time");

    let mut img = load("ext4-4k");
    let v = le32(&img, SB + 0x10) - 1;
    put32(&mut img, SB + 0x10, v);
    fix_sb(&mut img);
    let r = assert_code(&img, "ext4.superblock.free_counts_stale");
    assert!(
        codes(&r).contains(&"ext4.superblock.free_counts_stale".to_string()),
        "a clean filesystem: warning"
    );

    let mut img = load("ext2");
    put32(&mut img, SB + 0x48, 1); // creator OS: Hurd, with filetype set
    assert_code(&img, "ext4.superblock.hurd_filetype");
}

#[test]
fn kernel_error_records_state_and_recovery() {
    let img = load("ext4-errors");
    let r = assert_code(&img, "ext4.kernel_errors");
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "ext4.kernel_errors")
        .unwrap();
    assert!(
        f.message.contains("ext4_validate_block_bitmap:421") && f.message.contains("2025-11-12"),
        "{}",
        f.message
    );
    let s = r.summary.as_ref().unwrap();
    let e = s.errors.as_ref().unwrap();
    assert_eq!(
        (
            e.count,
            e.first.as_ref().unwrap().time,
            e.last.as_ref().unwrap().errcode_name.as_str()
        ),
        (3, 1_762_990_000, "EFSBADCRC")
    );
    assert!(s.needs_recovery);
    assert_eq!(s.last_mounted_at.as_deref(), Some("/srv"));
    assert!(codes(&r).contains(&"ext4.state.errors".to_string()));
    assert!(codes(&r).contains(&"ext4.journal.needs_recovery".to_string()));
    // e2fsck -fn exits 0 on this image; imgcheck must not be silent.
    assert!(r.findings.iter().any(|f| f.severity == Severity::Error));
}

#[test]
fn journal_has_data_without_recover_flag() {
    let mut img = load("ext4-errors");
    let v = le32(&img, SB + 0x60) & !0x4;
    put32(&mut img, SB + 0x60, v);
    fix_sb(&mut img);
    assert_code(&img, "ext4.journal.has_data_without_recover");
}

#[test]
fn recover_flag_without_journal() {
    let mut img = load("ext2");
    let v = le32(&img, SB + 0x60) | 0x4;
    put32(&mut img, SB + 0x60, v);
    assert_code(&img, "ext4.journal.recover_without_journal");
}

#[test]
fn journal_superblock_checks() {
    let base = load("ext4-4k");
    let j = journal_sb(&base);
    let mut img = base.clone();
    img[j + 0x20..j + 0x24].copy_from_slice(&(-5i32).to_be_bytes());
    assert_code(&img, "ext4.journal.aborted");

    let mut img = base.clone();
    img[j] = 0;
    assert_code(&img, "ext4.journal.bad_superblock");

    let mut img = base.clone();
    img[j + 0x28..j + 0x2C].copy_from_slice(&0x8000u32.to_be_bytes());
    assert_code(&img, "ext4.journal.unsupported_feature");

    let mut img = base.clone();
    img[j + 0x04..j + 0x08].copy_from_slice(&3u32.to_be_bytes()); // v1 but v2 fields set
    assert_code(&img, "ext4.journal.v1_with_v2_fields");

    let mut img = base.clone();
    let v = le32(&img, SB + 0x10C) ^ 1;
    put32(&mut img, SB + 0x10C, v);
    fix_sb(&mut img);
    assert_code(&img, "ext4.journal.backup_blocks_differ");

    let mut img = base.clone();
    img[j + 0x10..j + 0x14].copy_from_slice(&512u32.to_be_bytes());
    assert_code(&img, "ext4.journal.too_small");

    let mut img = base.clone();
    img[j + 0x10..j + 0x14].copy_from_slice(&999_999u32.to_be_bytes());
    assert_code(&img, "ext4.journal.bad_superblock");

    let mut img = base.clone();
    img[j + 0x40..j + 0x44].copy_from_slice(&5u32.to_be_bytes());
    assert_code(&img, "ext4.journal.bad_nr_users");

    // csum v3 turned on without a matching checksum.
    let mut img = base;
    img[j + 0x28..j + 0x2C].copy_from_slice(&0x10u32.to_be_bytes());
    img[j + 0x50] = 4;
    assert_code(&img, "ext4.journal.superblock_checksum");
}

#[test]
fn usage_and_size_against_container() {
    let mut img = load("ext4-4k");
    put32(&mut img, SB + 0x0C, 10);
    fix_sb(&mut img);
    assert_code(&img, "ext4.usage.blocks_full");

    let mut img = load("ext4-1k");
    img.truncate(5 << 20);
    let r = assert_code(&img, "ext4.size.truncated");
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "ext4.size.truncated")
        .unwrap();
    assert!(f.message.contains("block groups 2..3"), "{}", f.message);

    let mut img = load("ext4-1k");
    img.resize(12 << 20, 0);
    assert_code(&img, "ext4.size.not_grown");
}

#[test]
fn backup_superblocks_compared() {
    let base = load("ext4-4k");
    let g = geo(&base);
    let b1 = (g.bpg + g.fdb) * g.bs;
    let mut img = base.clone();
    img[b1 + 0x38] = 0;
    assert_code(&img, "ext4.backup_superblock.missing");
    let mut img = base;
    put32(&mut img, b1 + 0x04, 9999);
    assert_code(&img, "ext4.backup_superblock.differs");
}

#[test]
fn group_descriptor_checksums_crc32c_and_crc16() {
    for name in ["ext4-4k", "ext4-1k", "ext4-uninit"] {
        let mut img = load(name);
        let g = geo(&img);
        img[g.gd[1] + 0x10] ^= 1; // used dirs count
        assert_code(&img, "ext4.group.checksum");
    }
}

#[test]
fn group_descriptor_locations_overlap_and_flags() {
    let base = load("ext2");
    let g = geo(&base);
    let mut img = base.clone();
    put32(&mut img, g.gd[1], 100); // group 1's block bitmap inside group 0 (no flex_bg)
    assert_code(&img, "ext4.group.block_bitmap_location");
    let mut img = base.clone();
    put32(&mut img, g.gd[1] + 4, 50_000);
    assert_code(&img, "ext4.group.inode_bitmap_location");
    let mut img = base.clone();
    put32(&mut img, g.gd[1] + 8, 4090);
    assert_code(&img, "ext4.group.inode_table_location");
    let mut img = base.clone();
    let bb0 = le32(&img, g.gd[0]);
    put32(&mut img, g.gd[0] + 4, bb0);
    assert_code(&img, "ext4.group.metadata_overlap");
    let mut img = base.clone();
    put16(&mut img, g.gd[1] + 0x12, 1);
    assert_code(&img, "ext4.group.uninit_without_csum");
    let mut img = base.clone();
    put16(&mut img, g.gd[1] + 0x0C, 0xFFFF);
    assert_code(&img, "ext4.group.counts");
    let mut img = base;
    let v = le32(&img, g.gd[1] + 0x0C) as u16 - 1;
    put16(&mut img, g.gd[1] + 0x0C, v);
    assert_code(&img, "ext4.group.free_blocks_vs_bitmap");

    let base = load("ext4-uninit");
    let g = geo(&base);
    let mut img = base.clone();
    let last = g.gd[g.groups - 1];
    let v = u16::from_le_bytes([img[last + 0x12], img[last + 0x13]]) | 2;
    put16(&mut img, last + 0x12, v);
    assert_code(&img, "ext4.group.last_block_uninit");
    let mut img = base;
    put16(&mut img, g.gd[0] + 0x1C, 0xFFF0);
    assert_code(&img, "ext4.group.itable_unused");
}

#[test]
fn bitmap_checksums_and_free_inode_counts() {
    let base = load("ext4-4k");
    let g = geo(&base);
    let mut img = base.clone();
    img[g.bbitmap[0] + 100] ^= 0x10;
    assert_code(&img, "ext4.bitmap.block_checksum");
    let mut img = base;
    img[g.ibitmap[0] + 5] ^= 0x01;
    let r = assert_code(&img, "ext4.bitmap.inode_checksum");
    assert!(codes(&r).contains(&"ext4.group.free_inodes_vs_bitmap".to_string()));
}

#[test]
fn root_inode_checks() {
    let base = load("ext2");
    let g = geo(&base);
    let root = g.itable0 + g.isz;
    let mut img = base.clone();
    img[root..root + g.isz].fill(0);
    assert_code(&img, "ext4.root.not_in_use");
    let mut img = base.clone();
    put16(&mut img, root, 0o100_644);
    assert_code(&img, "ext4.root.not_directory");
    let mut img = base.clone();
    put32(&mut img, root + 0x14, 1_700_000_000);
    assert_code(&img, "ext4.root.deleted");
    let mut img = base;
    let blk = le32(&img, root + 0x28) as usize;
    put32(&mut img, blk * g.bs, 5);
    assert_code(&img, "ext4.root.no_dot");

    let mut img = load("ext4-4k");
    let g = geo(&img);
    img[g.itable0 + g.isz + 0x20] ^= 0x01; // flags byte, checksum left stale
    assert_code(&img, "ext4.inode.checksum");
}

#[test]
fn resize_inode_checks() {
    let base = load("ext2");
    let g = geo(&base);
    let ri = g.itable0 + 6 * g.isz;
    let mut img = base.clone();
    put32(&mut img, ri + 0x28 + 13 * 4, 0);
    assert_code(&img, "ext4.resize.invalid");
    let mut img = base.clone();
    let dind = le32(&img, ri + 0x28 + 13 * 4) as usize;
    put32(&mut img, dind * g.bs + 4 * 3, 12345);
    assert_code(&img, "ext4.resize.invalid");
    let mut img = base;
    let v = le32(&img, SB + 0x5C) & !0x10;
    put32(&mut img, SB + 0x5C, v);
    assert_code(&img, "ext4.resize.reserved_gdt_without_feature");
}

#[test]
fn orphan_list_checks() {
    let mut img = load("ext2");
    put32(&mut img, SB + 0xE8, 5);
    assert_code(&img, "ext4.orphan.illegal_inode");
    let mut img = load("ext2");
    put32(&mut img, SB + 0xE8, 12);
    assert_code(&img, "ext4.orphan.pending");
}

#[test]
fn mmp_block_checks() {
    let mut img = load("ext2");
    let v = le32(&img, SB + 0x60) | 0x100;
    put32(&mut img, SB + 0x60, v);
    img[SB + 0x168..SB + 0x170].copy_from_slice(&4000u64.to_le_bytes());
    assert_code(&img, "ext4.mmp.bad_magic");
    let mut img2 = img.clone();
    img2[SB + 0x168..SB + 0x170].copy_from_slice(&999_999u64.to_le_bytes());
    assert_code(&img2, "ext4.mmp.block_out_of_range");
    put32(&mut img, 4000 * 1024, 0x004D_4D50);
    put32(&mut img, 4000 * 1024 + 4, 0x1234);
    assert_code(&img, "ext4.mmp.in_use");
}

#[test]
fn not_ext4_at_all() {
    let r = run(&vec![0u8; 1 << 20], false);
    assert!(r.summary.is_none());
    assert_eq!(codes(&r), vec!["ext4.superblock.not_found".to_string()]);
    assert!(!imgcheck_ext4::probe(&BytesReader::new(vec![0u8; 1 << 20])));
    assert!(imgcheck_ext4::probe(&BytesReader::new(load("ext2"))));
}

#[test]
fn orphan_file_blocks() {
    let base = load("ext4-features");
    let g = geo(&base);
    let ino = le32(&base, SB + 0x280) as usize;
    let blk = first_block(&base, inode_at(&g, ino)) * g.bs;
    let mut img = base.clone();
    img[blk + g.bs - 8] ^= 1;
    assert_code(&img, "ext4.orphan_file.bad_magic");
    let mut img = base;
    put32(&mut img, blk, 13); // an entry, checksum left stale
    let r = assert_code(&img, "ext4.orphan_file.checksum");
    assert!(codes(&r).contains(&"ext4.orphan_file.pending".to_string()));
}

#[test]
fn remaining_superblock_rules() {
    case("ext2", false, "ext4.superblock.blocks_count", |b, _| {
        put32(b, SB + 0x04, 0)
    });
    case("ext4-4k", false, "ext4.superblock.checksum_type", |b, _| {
        b[SB + 0x175] = 2
    });
    case(
        "ext2",
        false,
        "ext4.superblock.clusters_per_group",
        |b, _| put32(b, SB + 0x24, 4),
    );
    case(
        "ext2",
        false,
        "ext4.superblock.csum_seed_without_metadata_csum",
        |b, _| or32(b, SB + 0x60, 0x2000),
    );
    case("ext4-4k", false, "ext4.superblock.desc_size", |b, _| {
        put16(b, SB + 0xFE, 48)
    });
    case("ext2", false, "ext4.superblock.first_ino", |b, _| {
        put32(b, SB + 0x54, 5)
    });
    case("ext2", false, "ext4.superblock.first_meta_bg", |b, _| {
        or32(b, SB + 0x60, 0x10);
        put32(b, SB + 0x104, 100);
    });
    case(
        "ext2",
        false,
        "ext4.superblock.free_blocks_count",
        |b, _| put32(b, SB + 0x0C, 999_999),
    );
    case(
        "ext2",
        false,
        "ext4.superblock.free_inodes_count",
        |b, _| put32(b, SB + 0x10, 99_999),
    );
    case(
        "ext2",
        false,
        "ext4.superblock.future_write_time",
        |b, _| put32(b, SB + 0x30, 0xFFFF_FF00),
    );
    case("ext2", false, "ext4.superblock.gdt_too_large", |b, _| {
        put16(b, SB + 0xCE, 2100)
    });
    case(
        "ext2",
        false,
        "ext4.superblock.reserved_gdt_blocks",
        |b, _| put16(b, SB + 0xCE, 300),
    );
    case("ext2", false, "ext4.superblock.inode_size", |b, _| {
        put16(b, SB + 0x58, 100)
    });
    case("ext2", false, "ext4.superblock.log_cluster_size", |b, _| {
        put32(b, SB + 0x1C, 5)
    });
    case("ext2", false, "ext4.superblock.mount_count", |b, _| {
        put16(b, SB + 0x34, 5);
        put16(b, SB + 0x36, 1);
    });
    case("ext2", false, "ext4.superblock.null_uuid", |b, _| {
        b[SB + 0x68..SB + 0x78].fill(0)
    });
    case("ext2", false, "ext4.superblock.rev_level", |b, _| {
        put32(b, SB + 0x4C, 5)
    });
    case("ext2", false, "ext4.superblock.test_fs", |b, _| {
        or32(b, SB + 0x160, 4)
    });
    case("ext2", false, "ext4.superblock.unknown_compat", |b, _| {
        or32(b, SB + 0x5C, 0x8000_0000)
    });
    case(
        "ext2",
        false,
        "ext4.superblock.unknown_ro_compat",
        |b, _| or32(b, SB + 0x64, 0x8000_0000),
    );
    case(
        "ext4-4k",
        false,
        "ext4.superblock.want_extra_isize",
        |b, _| put16(b, SB + 0x15E, 3),
    );
    case("ext2", false, "ext4.superblock.errors_behaviour", |b, _| {
        put16(b, SB + 0x3C, 7)
    });
    case("ext2", false, "ext4.superblock.check_interval", |b, _| {
        put32(b, SB + 0x44, 1)
    });
    case("ext2", false, "ext4.state.not_clean", |b, _| {
        put16(b, SB + 0x3A, 0)
    });
    case("ext2", false, "ext4.state.orphans", |b, _| {
        put16(b, SB + 0x3A, 5)
    });
    case("ext2", false, "ext4.usage.inodes_full", |b, _| {
        put32(b, SB + 0x10, 1)
    });
    case("ext2", false, "ext4.gdt.unreadable", |b, _| {
        b.truncate(2048)
    });
    // A journal device is named, not checked as a filesystem.
    case("ext2", false, "ext4.superblock.journal_dev", |b, _| {
        or32(b, SB + 0x60, 0x8)
    });
}

#[test]
fn block_bitmap_padding() {
    // ext4-1k: 8191 data blocks in groups of 2048, the last group is one short.
    case("ext4-1k", false, "ext4.bitmap.block_padding", |b, g| {
        let last = *g.bbitmap.last().unwrap();
        b[last + 2047 / 8] &= !(1 << (2047 % 8));
    });
}

#[test]
fn remaining_journal_rules() {
    let j8 = |g: &Geo| inode_at(g, 8);
    case("ext4-4k", false, "ext4.journal.bad_inode", |b, g| {
        put16(b, j8(g), 0o40755)
    });
    case("ext4-4k", false, "ext4.journal.bad_inode_number", |b, _| {
        put32(b, SB + 0xE0, 99_999)
    });
    // An external journal: its UUID, no inode.
    case("ext4-4k", false, "ext4.journal.external", |b, _| {
        b[SB + 0xD0..SB + 0xE0].fill(0x5a);
        put32(b, SB + 0xE0, 0);
        put32(b, SB + 0xE4, 0x801)
    });
    // Both an inode and a device: the kernel refuses to mount.
    case("ext4-4k", false, "ext4.journal.inode_and_device", |b, _| {
        put32(b, SB + 0xE4, 0x801)
    });
    // A UUID with an inode: e2fsck looks for the external device.
    case("ext4-4k", false, "ext4.journal.uuid_and_inode", |b, _| {
        b[SB + 0xD8] = 4;
    });
    case(
        "ext4-4k",
        false,
        "ext4.journal.inode_without_feature",
        |b, _| {
            let v = le32(b, SB + 0x5C) & !0x4;
            put32(b, SB + 0x5C, v);
        },
    );
    case("ext4-4k", false, "ext4.journal.no_superblock", |b, g| {
        put16(b, j8(g) + 0x28 + 2, 0)
    });
    case("ext4-4k", false, "ext4.journal.bad_block_map", |b, g| {
        put32(b, j8(g) + 0x28 + 12 + 8, 9_999_999)
    });
    case(
        "ext4-4k",
        false,
        "ext4.journal.recover_but_empty",
        |b, _| or32(b, SB + 0x60, 0x4),
    );
    let base = load("ext4-4k");
    let j = journal_sb(&base);
    case("ext4-4k", false, "ext4.journal.unreadable", |b, _| {
        b.truncate(j + 512)
    });
}

#[test]
fn remaining_group_inode_and_orphan_rules() {
    // MMP with metadata_csum: right magic, clean sequence, stale checksum.
    case("ext4-4k", false, "ext4.mmp.checksum", |b, _| {
        or32(b, SB + 0x60, 0x100);
        b[SB + 0x168..SB + 0x170].copy_from_slice(&4095u64.to_le_bytes());
        put32(b, 4095 * 4096, 0x004D_4D50);
        put32(b, 4095 * 4096 + 4, 0xFF4D_4D50);
    });
    case("ext2", false, "ext4.orphan.cleared_inode", |b, g| {
        put32(b, SB + 0xE8, 12);
        put32(b, inode_at(g, 12) + 0x14, 200);
    });
    case("ext2", false, "ext4.orphan.loop", |b, g| {
        put32(b, SB + 0xE8, 12);
        put32(b, inode_at(g, 12) + 0x14, 12);
    });
    case(
        "ext4-features",
        false,
        "ext4.orphan_file.missing",
        |b, _| put32(b, SB + 0x280, 0),
    );
    case(
        "ext4-features",
        false,
        "ext4.orphan_file.bad_inode",
        |b, g| {
            let o = inode_at(g, le32(b, SB + 0x280) as usize);
            put16(b, o, 0o40755);
        },
    );
    case("ext4-features", false, "ext4.orphan_file.hole", |b, g| {
        let o = inode_at(g, le32(b, SB + 0x280) as usize);
        let v = le32(b, o + 4) + 16 * 1024;
        put32(b, o + 4, v);
    });
    case(
        "ext2",
        false,
        "ext4.resize.inode_without_feature",
        |b, _| {
            let v = le32(b, SB + 0x5C) & !0x10;
            put32(b, SB + 0x5C, v);
            put16(b, SB + 0xCE, 0);
        },
    );
    case("ext2", false, "ext4.root.no_block", |b, g| {
        put32(b, inode_at(g, 2) + 0x28, 0)
    });
    case("ext2", false, "ext4.inode.illegal_block", |b, g| {
        put32(b, inode_at(g, 2) + 0x28, 99_999)
    });
    case("ext2", false, "ext4.root.unreadable", |b, g| {
        put32(b, g.gd[0] + 8, 0)
    });
}

/// ext4-4k with needs_recovery and a hand-written transaction (sequence 7)
/// at journal block 1: descriptor (one tag), one data block, commit.
fn logged_transaction() -> (Vec<u8>, usize) {
    let mut b = load("ext4-4k");
    let j = journal_sb(&b);
    or32(&mut b, SB + 0x60, 0x4);
    fix_sb(&mut b);
    b[j + 0x18..j + 0x1C].copy_from_slice(&7u32.to_be_bytes()); // s_sequence
    b[j + 0x1C..j + 0x20].copy_from_slice(&1u32.to_be_bytes()); // s_start
    let blk = |n: usize| j + n * 4096;
    let hdr = |b: &mut Vec<u8>, at: usize, kind: u32| {
        b[at..at + 4].copy_from_slice(&0xC03B_3998u32.to_be_bytes());
        b[at + 4..at + 8].copy_from_slice(&kind.to_be_bytes());
        b[at + 8..at + 12].copy_from_slice(&7u32.to_be_bytes());
    };
    let d = blk(1);
    b[d..d + 4096].fill(0);
    hdr(&mut b, d, 1);
    b[d + 12..d + 16].copy_from_slice(&100u32.to_be_bytes()); // t_blocknr
    b[d + 18..d + 20].copy_from_slice(&8u16.to_be_bytes()); // t_flags: last tag
    b[blk(2)..blk(2) + 4096].fill(0x5A);
    let c = blk(3);
    b[c..c + 4096].fill(0);
    hdr(&mut b, c, 2);
    b[c + 0x30..c + 0x38].copy_from_slice(&1_762_990_000u64.to_be_bytes());
    (b, j)
}

#[test]
fn journal_log_is_walked_for_transactions() {
    let (img, j) = logged_transaction();
    let r = run(&img, false);
    let js = r.summary.as_ref().unwrap().journal.as_ref().unwrap();
    assert_eq!(
        (js.transactions, js.transaction_range, js.last_commit),
        (1, Some((7, 7)), Some(1_762_990_000))
    );
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "ext4.journal.contents")
        .unwrap();
    assert!(
        f.message.contains("1 complete transaction"),
        "{}",
        f.message
    );

    // A revoke block claiming more record bytes than it holds, in place of
    // the commit: jbd2 reads revoke records only of committed transactions
    // (pending.rs has the committed case, which fails the recovery), so
    // this uncommitted one is discarded, and named as such.
    let mut img = img;
    let c = j + 3 * 4096;
    img[c + 4..c + 8].copy_from_slice(&5u32.to_be_bytes());
    img[c + 12..c + 16].copy_from_slice(&70_000u32.to_be_bytes());
    let r = run(&img, false);
    assert!(
        !r.findings
            .iter()
            .any(|f| f.code == "ext4.journal.transaction_corrupt"),
        "{:#?}",
        r.findings
    );
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "ext4.journal.contents")
        .unwrap();
    assert!(f.message.contains("claims 70000 bytes"), "{}", f.message);
}

/// An image from another writer (testdata/scripts/ext4-writers.sh:
/// genext2fs, which writes no UUID and fills its inode table): e2fsck -fn
/// calls it clean, so the full default check says nothing above info. Its
/// null UUID and full inode table are said, as info.
#[test]
fn genext2fs_image_is_clean() {
    let img = load("genext2fs");
    let r = check(&BytesReader::new(img.clone()), &full());
    let loud: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.severity > Severity::Info)
        .map(|f| format!("{} {} {}", f.severity, f.code, f.message))
        .collect();
    assert!(loud.is_empty(), "{loud:#?}");
    for code in ["ext4.superblock.null_uuid", "ext4.usage.inodes_full"] {
        assert!(r.findings.iter().any(|f| f.code == code), "{code} not said");
    }
    if imgcheck_testdata::ext4gen::tools::have_e2fsprogs() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("g.img");
        std::fs::write(&p, &img).unwrap();
        let v =
            imgcheck_testdata::ext4gen::tools::e2fsck_fn(&p, std::time::Duration::from_secs(60));
        assert!(v.clean(), "e2fsck -fn: {:?}", v.problems);
    } else {
        println!("SKIPPED the e2fsck -fn half: e2fsprogs is not installed");
    }
}

/// ext2.img (mkfs.ext2 -b 1024 -g 2048) keeps its first backup
/// superblock in group 1, block 2049.
const EXT2_BACKUP: usize = 2049 * 1024;

#[test]
fn through_a_backup_superblock_fields_are_named_in_the_backup() {
    // The primary's magic zeroed: the backup in group 1 is read. Its
    // ERROR_FS (ext2 has no checksum to break) is a value of the backup,
    // so the finding names the backup's s_state, not the primary's.
    let mut img = load("ext2");
    img[1024 + 0x38..1024 + 0x3A].fill(0);
    img[EXT2_BACKUP + 0x3A] = 0x03;
    let r = run(&img, false);
    assert!(matches!(
        r.summary.as_ref().unwrap().superblock,
        SuperblockSource::Backup { group: 1, .. }
    ));
    let at = |code: &str| r.findings.iter().find(|f| f.code == code).map(|f| f.offset);
    assert_eq!(at("ext4.state.errors"), Some((EXT2_BACKUP + 0x3A) as u64));
    assert_eq!(
        at("ext4.superblock.magic"),
        Some(1024),
        "the primary's own finding"
    );
}

#[test]
fn a_backup_superblock_s_state_is_no_unclean_unmount() {
    // e2fsprogs writes every backup with VALID_FS clear (ext2fs_flush):
    // read through one, the state says nothing about the last unmount.
    let mut img = load("ext2");
    assert_eq!(
        img[EXT2_BACKUP + 0x3A] & 1,
        0,
        "mkfs.ext2 left VALID_FS clear in the backup"
    );
    img[1024 + 0x38..1024 + 0x3A].fill(0);
    let r = run(&img, false);
    let codes: Vec<&str> = r.findings.iter().map(|f| f.code.as_ref()).collect();
    assert!(codes.contains(&"ext4.superblock.magic"), "{codes:?}");
    assert!(!codes.contains(&"ext4.state.not_clean"), "{codes:?}");
}

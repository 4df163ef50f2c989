//! Every default-depth check against images made by mkfs/debugfs, each
//! damaged at one named byte: the test fails when the check is removed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

use imgcheck_core::{BytesReader, Severity};
use imgcheck_ext4::{Ext4, Options, Report, SuperblockSource, check};

const CLEAN: [&str; 6] = [
    "ext4-4k",
    "ext4-1k",
    "ext4-uninit",
    "ext4-sparse2",
    "ext2",
    "ext3",
];
const SB: usize = 1024;

fn load(name: &str) -> Vec<u8> {
    // imgcheck_testdata::fixture decompresses through a temp name keyed by
    // process id only, so parallel first uses in one process race; serialise.
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    std::fs::read(imgcheck_testdata::fixture(&format!("ext4/{name}.img"))).unwrap()
}

fn run(img: &[u8], deep: bool) -> Report {
    check(&BytesReader::new(img.to_vec()), &Options { deep })
}

fn codes(r: &Report) -> Vec<String> {
    r.findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .map(|f| f.code.to_string())
        .collect()
}

#[track_caller]
fn assert_code(img: &[u8], code: &str) -> Report {
    let r = run(img, false);
    assert!(
        r.findings.iter().any(|f| f.code == code),
        "expected {code}, got {:#?}",
        r.findings
            .iter()
            .map(|f| format!("{} {} {}", f.severity, f.code, f.message))
            .collect::<Vec<_>>()
    );
    r
}

fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn put32(b: &mut [u8], o: usize, v: u32) {
    b[o..o + 4].copy_from_slice(&v.to_le_bytes());
}
fn put16(b: &mut [u8], o: usize, v: u16) {
    b[o..o + 2].copy_from_slice(&v.to_le_bytes());
}

/// Recomputes the primary superblock checksum (metadata_csum), so a test
/// damages only the field it means to.
fn fix_sb(b: &mut [u8]) {
    if le32(b, SB + 0x64) & 0x400 != 0 {
        let c = !crc32c::crc32c(&b[SB..SB + 0x3FC]);
        put32(b, SB + 0x3FC, c);
    }
}

struct Geo {
    bs: usize,
    gd: Vec<usize>,
    itable0: usize,
    isz: usize,
    bbitmap: Vec<usize>,
    ibitmap: Vec<usize>,
    groups: usize,
    bpg: usize,
    ipg: usize,
    itables: Vec<usize>,
    fdb: usize,
}

fn geo(img: &[u8]) -> Geo {
    let r = BytesReader::new(img.to_vec());
    let fs = Ext4::open(&r).unwrap();
    let bs = fs.bs as usize;
    Geo {
        bs,
        gd: fs.gds.iter().map(|g| g.offset as usize).collect(),
        itable0: fs.gds[0].bg_inode_table as usize * bs,
        isz: fs.sb.inode_size() as usize,
        bbitmap: fs
            .gds
            .iter()
            .map(|g| g.bg_block_bitmap as usize * bs)
            .collect(),
        ibitmap: fs
            .gds
            .iter()
            .map(|g| g.bg_inode_bitmap as usize * bs)
            .collect(),
        groups: fs.groups as usize,
        ipg: fs.sb.s_inodes_per_group as usize,
        itables: fs
            .gds
            .iter()
            .map(|g| g.bg_inode_table as usize * bs)
            .collect(),
        bpg: fs.sb.s_blocks_per_group as usize,
        fdb: fs.sb.s_first_data_block as usize,
    }
}

/// Byte offset of the jbd2 superblock (first block of inode 8).
fn journal_sb(img: &[u8]) -> usize {
    let g = geo(img);
    (0..img.len() / g.bs)
        .map(|b| b * g.bs)
        .find(|&o| img[o..o + 4] == [0xC0, 0x3B, 0x39, 0x98])
        .unwrap()
}

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
    assert_eq!(s.label, "root");
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
fn deep_finds_debugfs_damage() {
    let r = run(&load("ext4-damaged"), true);
    let c = codes(&r);
    for want in [
        "ext4.dir.unused_inode",
        "ext4.inode.link_count",
        "ext4.bitmap.block_differences",
        "ext4.bitmap.inode_differences",
    ] {
        assert!(c.contains(&want.to_string()), "missing {want}: {c:?}");
    }
    // The default depth sees only the bitmap/count mismatch debugfs left.
    assert!(
        !codes(&run(&load("ext4-damaged"), false)).contains(&"ext4.dir.unused_inode".to_string())
    );
}

#[test]
fn deep_extent_and_directory_damage() {
    let base = load("ext4-1k");
    let g = geo(&base);
    // inode 12 is the first file mkfs -d created; find a regular file with extents.
    let reg = (11..40)
        .map(|i| g.itable0 + (i - 1) * g.isz)
        .find(|&o| {
            u16::from_le_bytes([base[o], base[o + 1]]) & 0xF000 == 0x8000
                && le32(&base, o + 0x20) & 0x80000 != 0
        })
        .unwrap();
    let mut img = base.clone();
    img[reg + 0x28] = 0; // extent header magic
    assert!(codes(&run(&img, true)).contains(&"ext4.extent.bad_magic".to_string()));

    let mut img = base.clone();
    put32(&mut img, reg + 0x28 + 12 + 8, 7_000_000); // first extent's start block
    assert!(codes(&run(&img, true)).contains(&"ext4.extent.block_out_of_range".to_string()));

    // Root directory block: break the second entry's rec_len.
    let root = g.itable0 + g.isz;
    let rblk = le32(&base, root + 0x28 + 12 + 8) as usize;
    let mut img = base;
    put16(&mut img, rblk * g.bs + 12 + 4, 3);
    let c = codes(&run(&img, true));
    assert!(
        c.contains(&"ext4.dir.bad_entry".to_string())
            || c.contains(&"ext4.dir.checksum".to_string()),
        "{c:?}"
    );
}

#[test]
fn bounded_on_garbage() {
    // Random-ish bytes behind a valid superblock must not panic or hang.
    let mut img = load("ext4-1k");
    let mut x: u32 = 12345;
    for b in img.iter_mut().skip(4096).step_by(7) {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        *b = (x >> 16) as u8;
    }
    let t = std::time::Instant::now();
    let _ = run(&img, true);
    assert!(t.elapsed().as_secs() < 5);
}

#[test]
fn random_metadata_damage_never_panics_or_hangs() {
    // Byte flips across the superblock, descriptors, bitmaps and inode
    // tables of each fixture; the checker must finish, deep included.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for name in CLEAN {
        let base = load(name);
        let g = geo(&base);
        let hot = (g.itable0 + 64 * g.isz).min(base.len());
        for _ in 0..40 {
            let mut img = base.clone();
            for _ in 0..8 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let off = (x as usize) % hot;
                img[off] ^= (x >> 32) as u8 | 1;
            }
            let t = std::time::Instant::now();
            let _ = run(&img, false);
            let _ = run(&img, true);
            assert!(t.elapsed().as_secs() < 5, "{name}: too slow");
        }
    }
}

/// Byte offset of inode `ino`.
fn inode_at(g: &Geo, ino: usize) -> usize {
    g.itables[(ino - 1) / g.ipg] + ((ino - 1) % g.ipg) * g.isz
}

/// First physical block of an extent-mapped inode (depth-0 tree).
fn first_block(img: &[u8], inode: usize) -> usize {
    assert_eq!(&img[inode + 0x28..inode + 0x2A], &[0x0A, 0xF3]);
    le32(img, inode + 0x28 + 12 + 8) as usize
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
fn deep_htree_checks() {
    let base = load("ext4-features");
    let g = geo(&base);
    let dir = (1..=g.ipg * g.groups)
        .map(|i| inode_at(&g, i))
        .find(|&o| {
            u16::from_le_bytes([base[o], base[o + 1]]) & 0xF000 == 0x4000
                && le32(&base, o + 0x20) & 0x1000 != 0
        })
        .expect("an htree directory");
    let root = first_block(&base, dir) * g.bs;
    let mut img = base.clone();
    let limit = u16::from_le_bytes([img[root + 0x20], img[root + 0x21]]);
    put16(&mut img, root + 0x22, limit + 1);
    assert!(codes(&run(&img, true)).contains(&"ext4.htree.bad_limit".to_string()));
    let mut img = base.clone();
    img[root + 0x28] ^= 0x40; // second entry's hash
    assert!(codes(&run(&img, true)).contains(&"ext4.htree.checksum".to_string()));
    let mut img = base;
    img[root + 0x1C] = 9; // hash version
    assert!(codes(&run(&img, true)).contains(&"ext4.htree.bad_root".to_string()));
}

#[test]
fn huge_claims_stay_bounded() {
    // A superblock (checksum fixed) claiming 2^35 blocks, 1 Mi groups, in a
    // 16 MiB image: the checker must neither allocate for nor walk them all.
    let mut img = load("ext4-4k");
    put32(&mut img, SB + 0x04, 0);
    put32(&mut img, SB + 0x150, 8);
    put32(&mut img, SB + 0x20, 32768);
    put32(&mut img, SB + 0x24, 32768);
    put32(&mut img, SB, 128 << 20);
    fix_sb(&mut img);
    let t = std::time::Instant::now();
    let r = run(&img, true);
    assert!(t.elapsed().as_secs() < 10, "took {:?}", t.elapsed());
    let c = codes(&r);
    assert!(c.contains(&"ext4.size.truncated".to_string()), "{c:?}");
}

/// Applies `f` to a copy of fixture `name`, fixes the superblock checksum
/// and asserts `code` at the given depth.
#[track_caller]
fn case(name: &str, deep: bool, code: &str, f: impl FnOnce(&mut Vec<u8>, &Geo)) {
    let mut img = load(name);
    let g = geo(&img);
    f(&mut img, &g);
    fix_sb(&mut img);
    let r = run(&img, deep);
    assert!(
        r.findings.iter().any(|x| x.code == code),
        "{name}: expected {code}, got {:#?}",
        r.findings
            .iter()
            .map(|x| format!("{} {} {}", x.severity, x.code, x.message))
            .collect::<Vec<_>>()
    );
}

fn or32(b: &mut [u8], o: usize, bits: u32) {
    let v = le32(b, o) | bits;
    put32(b, o, v);
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
    case("ext4-4k", false, "ext4.journal.external", |b, _| {
        put32(b, SB + 0xE4, 0x801)
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

#[test]
fn remaining_extent_rules() {
    // The first extent-mapped regular file of ext4-1k (one extent in i_block).
    let base = load("ext4-1k");
    let g = geo(&base);
    let reg = (11..60)
        .map(|i| inode_at(&g, i))
        .find(|&o| {
            u16::from_le_bytes([base[o], base[o + 1]]) & 0xF000 == 0x8000
                && le32(&base, o + 0x20) & 0x80000 != 0
                && le32(&base, o + 4) > 4096
        })
        .unwrap();
    let eh = reg + 0x28;
    let e1 = eh + 12;
    let e2 = eh + 24;
    case("ext4-1k", true, "ext4.extent.bad_max", |b, _| {
        put16(b, eh + 4, 5)
    });
    case("ext4-1k", true, "ext4.extent.too_many_entries", |b, _| {
        put16(b, eh + 2, 4 + 1)
    });
    case("ext4-1k", true, "ext4.extent.too_deep", |b, _| {
        put16(b, eh + 6, 6)
    });
    case("ext4-1k", true, "ext4.extent.zero_length", |b, _| {
        put16(b, e1 + 4, 0)
    });
    case("ext4-1k", true, "ext4.extent.out_of_order", |b, _| {
        put16(b, eh + 2, 2);
        b.copy_within(e1..e1 + 12, e2);
    });
    case("ext4-1k", true, "ext4.extent.overlap", |b, _| {
        put16(b, eh + 2, 2);
        b.copy_within(e1..e1 + 12, e2);
        let l = le32(b, e1) + 1;
        put32(b, e2, l);
    });
}

/// ext4's raw CRC32C (no final inversion), chained through `seed`.
fn raw_crc(seed: u32, d: &[u8]) -> u32 {
    !crc32c::crc32c_append(!seed, d)
}

/// ext4-1k with its first multi-block regular file turned into a depth-1
/// extent tree: the root indexes a leaf at block 8100 holding the file's
/// extent, with a correct tail checksum. Returns (image, root, leaf offset).
fn indexed_tree() -> (Vec<u8>, usize, usize) {
    let mut b = load("ext4-1k");
    let g = geo(&b);
    let (ino, reg) = (11..60)
        .map(|i| (i, inode_at(&g, i)))
        .find(|&(_, o)| {
            u16::from_le_bytes([b[o], b[o + 1]]) & 0xF000 == 0x8000
                && le32(&b, o + 0x20) & 0x80000 != 0
                && le32(&b, o + 4) > 4096
        })
        .unwrap();
    let eh = reg + 0x28;
    let leaf = 8100 * 1024;
    b[leaf..leaf + 1024].fill(0);
    put16(&mut b, leaf, 0xF30A);
    put16(&mut b, leaf + 2, 1);
    put16(&mut b, leaf + 4, 84);
    put16(&mut b, leaf + 6, 0);
    b.copy_within(eh + 12..eh + 24, leaf + 12);
    let first_lblk = le32(&b, eh + 12);
    // root: depth 1, one index entry {ei_block, ei_leaf_lo, ei_leaf_hi, unused}
    put16(&mut b, eh + 2, 1);
    put16(&mut b, eh + 6, 1);
    put32(&mut b, eh + 12, first_lblk);
    put32(&mut b, eh + 16, 8100);
    put32(&mut b, eh + 20, 0);
    // leaf tail checksum: seed(uuid) → ino → generation → block[..12+12*max]
    let uuid = b[SB + 0x68..SB + 0x78].to_vec();
    let generation = le32(&b, reg + 0x64);
    let seed = raw_crc(
        raw_crc(raw_crc(!0, &uuid), &(ino as u32).to_le_bytes()),
        &generation.to_le_bytes(),
    );
    let c = raw_crc(seed, &b[leaf..leaf + 12 + 12 * 84]);
    put32(&mut b, leaf + 12 + 12 * 84, c);
    (b, eh, leaf)
}

#[test]
fn extent_index_rules() {
    let (base, eh, leaf) = indexed_tree();
    let clean = codes(&run(&base, true));
    for c in [
        "ext4.extent.checksum",
        "ext4.extent.bad_depth",
        "ext4.extent.index_start",
        "ext4.extent.bad_start",
    ] {
        assert!(
            !clean.contains(&c.to_string()),
            "crafted tree already has {c}: {clean:?}"
        );
    }
    let has = |img: &[u8], code: &str| {
        let c = codes(&run(img, true));
        assert!(c.contains(&code.to_string()), "expected {code}: {c:?}");
    };
    let mut img = base.clone();
    img[leaf + 12 + 12 * 84] ^= 1;
    has(&img, "ext4.extent.checksum");
    let mut img = base.clone();
    put16(&mut img, leaf + 6, 1);
    has(&img, "ext4.extent.bad_depth");
    let mut img = base.clone();
    let l = le32(&img, leaf + 12) + 5;
    put32(&mut img, leaf + 12, l);
    has(&img, "ext4.extent.index_start");
    let mut img = base;
    let l = le32(&img, eh + 12) + 10;
    put32(&mut img, eh + 12, l);
    has(&img, "ext4.extent.bad_start");
}

#[test]
fn bitmap_mismatch_is_a_warning_while_the_journal_needs_recovery() {
    let mut img = load("ext4-damaged");
    let sev = |img: &[u8]| {
        run(img, true)
            .findings
            .iter()
            .find(|f| f.code == "ext4.bitmap.block_differences")
            .map(|f| f.severity)
    };
    assert_eq!(sev(&img), Some(Severity::Error));
    or32(&mut img, SB + 0x60, 0x4);
    fix_sb(&mut img);
    assert_eq!(sev(&img), Some(Severity::Warning));
}

#[test]
fn shared_garbage_indirect_trees_are_walked_once() {
    // 40 block-mapped inodes whose triple-indirect pointer names the same
    // block, itself full of pointers to other blocks: each tree is walked
    // once, then the shared block is reported as claimed twice.
    let mut img = load("ext2");
    let g = geo(&img);
    let x = 4000usize;
    for k in 0..256 {
        put32(&mut img, x * 1024 + 4 * k, 1000 + k as u32);
    }
    for ino in 12..52 {
        let o = inode_at(&g, ino);
        put16(&mut img, o, 0o100_644);
        put16(&mut img, o + 0x1A, 1);
        put32(&mut img, o + 0x28 + 14 * 4, x as u32);
    }
    let t = std::time::Instant::now();
    let c = codes(&run(&img, true));
    assert!(t.elapsed().as_secs() < 3, "took {:?}", t.elapsed());
    assert!(
        c.contains(&"ext4.block.multiply_claimed".to_string()),
        "{c:?}"
    );
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

    // A revoke block claiming more record bytes than it holds aborts a replay.
    let mut img = img;
    let c = j + 3 * 4096;
    img[c + 4..c + 8].copy_from_slice(&5u32.to_be_bytes());
    img[c + 12..c + 16].copy_from_slice(&70_000u32.to_be_bytes());
    assert_code(&img, "ext4.journal.transaction_corrupt");
}

#[test]
fn quota_usage_against_counted() {
    // Give /etc/hostname's inode (first regular file) to uid 1234: the user
    // quota file still charges uid 0.
    case(
        "ext4-features",
        true,
        "ext4.quota.usage_mismatch",
        |b, g| {
            let orphan_file = le32(b, SB + 0x280) as usize;
            let o = (12..40)
                .filter(|&i| i != orphan_file)
                .map(|i| inode_at(g, i))
                .find(|&o| u16::from_le_bytes([b[o], b[o + 1]]) & 0xF000 == 0x8000)
                .unwrap();
            put16(b, o + 2, 1234);
        },
    );
}

#[test]
fn deep_connectivity_reports_the_top_of_a_detached_subtree() {
    // Clear the root's entry for "var": /var and /var/log are detached,
    // only /var is reported (as e2fsck reconnects just it).
    let mut img = load("ext2");
    let g = geo(&img);
    let rblk = le32(&img, inode_at(&g, 2) + 0x28) as usize * g.bs;
    let mut pos = 0;
    let mut var = 0;
    while pos < g.bs {
        let rec = u16::from_le_bytes([img[rblk + pos + 4], img[rblk + pos + 5]]) as usize;
        let nl = img[rblk + pos + 6] as usize;
        if &img[rblk + pos + 8..rblk + pos + 8 + nl] == b"var" {
            var = le32(&img, rblk + pos);
            put32(&mut img, rblk + pos, 0);
        }
        pos += rec.max(8);
    }
    assert_ne!(var, 0);
    let r = run(&img, true);
    let unconnected: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.code == "ext4.dir.unconnected")
        .collect();
    assert_eq!(unconnected.len(), 1, "{unconnected:#?}");
    assert!(
        unconnected[0]
            .message
            .contains(&format!("directory inode {var} ")),
        "{}",
        unconnected[0].message
    );
}

#[test]
fn deep_htree_entry_outside_its_hash_range() {
    // Change one byte of a name in the htree directory's first leaf: the
    // entry's hash moves; for some byte value it leaves the leaf's range.
    let base = load("ext4-features");
    let g = geo(&base);
    let dir = (1..=g.ipg * g.groups)
        .map(|i| inode_at(&g, i))
        .find(|&o| {
            u16::from_le_bytes([base[o], base[o + 1]]) & 0xF000 == 0x4000
                && le32(&base, o + 0x20) & 0x1000 != 0
        })
        .unwrap();
    let root = first_block(&base, dir) * g.bs;
    let leaf_l = le32(&base, root + 0x20 + 4) as usize & 0x0FFF_FFFF; // first index entry's block
    let leaf = (first_block(&base, dir) + leaf_l) * g.bs; // the directory is contiguous
    let flagged = (b'a'..=b'z').any(|c| {
        let mut img = base.clone();
        img[leaf + 8] = c; // first byte of the first name
        let r = codes(&run(&img, true));
        r.contains(&"ext4.htree.max_hash".to_string())
            || r.contains(&"ext4.htree.min_hash".to_string())
    });
    assert!(flagged, "no renamed entry left its leaf's hash range");
}

/// One cap policy for the whole report (imgcheck_core::Sink): a stale
/// checksum on each of ~400 inodes lists the first MAX_FINDINGS_PER_CODE
/// and counts the rest in one closing finding that keeps their severity,
/// so the verdict and the total survive the cap.
#[test]
fn findings_of_one_code_are_capped_with_a_count_that_keeps_the_severity() {
    let base = load("ext4-features");
    let g = geo(&base);
    let mut img = base.clone();
    let mut damaged = 0usize;
    for ino in 12..=g.groups * g.ipg {
        let o = inode_at(&g, ino);
        if u16::from_le_bytes([img[o + 0x1A], img[o + 0x1B]]) == 0 {
            continue; // links 0: not in use
        }
        img[o + 0x7C] ^= 0xFF; // i_checksum_lo
        damaged += 1;
    }
    assert!(
        damaged > imgcheck_core::MAX_FINDINGS_PER_CODE + 100,
        "{damaged}"
    );
    let r = run(&img, true);
    let of_code: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.code == "ext4.inode.checksum")
        .collect();
    assert_eq!(of_code.len(), imgcheck_core::MAX_FINDINGS_PER_CODE + 1);
    let last = of_code.last().unwrap();
    assert_eq!(last.severity, Severity::Error);
    let more = damaged - imgcheck_core::MAX_FINDINGS_PER_CODE;
    assert!(
        last.message
            .starts_with(&format!("{more} more ext4.inode.checksum findings")),
        "{}",
        last.message
    );
}

//! One test per check, on the mkfs.vfat/mtools fixtures: the clean image
//! has no such finding, the precisely damaged copy has it (and fsck.fat
//! would flag the same copy: the differential test shows that in bulk).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]
mod common;
use common::img::{Img, codes, find, has};
use imgcheck_core::{
    Budget, BytesReader, Depth, Metered, ReadAt, ReadError, ReadErrorKind, Severity,
};
use imgcheck_fat::{BootSource, Options, check};
use std::sync::Arc;

#[test]
fn clean_fixtures_are_clean() {
    for name in imgcheck_testdata::list("fat") {
        let name = name.trim_start_matches("fat/");
        let i = Img::load(name);
        for r in [i.check(), i.quick()] {
            let bad = codes(&r, Severity::Warning);
            assert!(bad.is_empty(), "{name}: {:#?}", r.findings);
            let s = r.summary.unwrap();
            assert_eq!(s.fs_bytes, i.b.len() as u64, "{name}");
            assert_eq!(s.boot_sector, BootSource::Primary);
            assert!(!s.dirty.is_dirty());
        }
    }
}

#[test]
fn summary_describes_the_volume() {
    let i = Img::load("fat32-34m.img");
    let s = i.check().summary.unwrap();
    assert_eq!(
        (s.kind, s.kind_by_count),
        (imgcheck_fat::FatKind::Fat32, imgcheck_fat::FatKind::Fat32)
    );
    assert_eq!(
        (s.sector_size, s.cluster_size, s.clusters),
        (512, 512, 68528)
    );
    assert_eq!(s.label.as_deref(), Some("ESP"));
    assert_eq!(s.volume_id_text.as_deref(), Some("5A5A-0001"));
    let u = s.usage.unwrap();
    // fsck.fat -n: "232 files, 1204/68528 clusters" (it counts the label and directories as files).
    assert_eq!(u.used_clusters, 1204);
    assert_eq!(u.files + u.directories + 1, 232);
    assert_eq!(u.free_clusters, 68528 - 1204);
    assert_eq!(s.fsinfo.clone().unwrap().free_clusters, Some(68528 - 1204));
    // mkfs.vfat -n and the mtools writes ran at 2025-11-13 10:00:00.
    assert_eq!(s.times.label_written, Some(1_763_028_000));
    assert_eq!(s.times.newest_write.clone().unwrap().time, 1_763_028_000);
    let names: Vec<&str> = s.structures.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "FAT boot sector",
            "FAT32 backup boot sector",
            "FAT32 backup FSInfo sector",
            "FAT32 FSInfo sector",
            "FAT copy 1",
            "FAT copy 2"
        ]
    );
    let f = imgcheck_fat::layer::facts(&s);
    assert_eq!(f.claimed_size, Some(34 << 20));
    assert_eq!(f.identities[0].value, "5A5A-0001");
    assert!(imgcheck_fat::layer::title(&s).starts_with("FAT32, 512-byte clusters, 34 MiB"));
    assert!(!imgcheck_fat::layer::events(&s).is_empty());
}

// ---- boot sector and BPB ----

#[test]
fn zeroed_boot_sector_without_backup_is_unusable() {
    let mut i = Img::load("fat16-16m.img");
    i.put(0, &[0; 512]);
    let r = i.check();
    assert!(r.summary.is_none());
    assert_eq!(find(&r, "fat.boot.unusable").severity, Severity::Error);
}

#[test]
fn zeroed_fat32_boot_sector_is_read_through_its_backup() {
    let mut i = Img::load("fat32-34m.img");
    let before = i.check().summary.unwrap().usage.unwrap();
    i.put(0, &[0; 512]);
    let r = i.check();
    let f = find(&r, "fat.boot.primary_unusable");
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.hint.as_ref().unwrap().writes
            && f.hint
                .as_ref()
                .unwrap()
                .command
                .as_deref()
                .unwrap()
                .contains("skip=6")
    );
    let s = r.summary.unwrap();
    assert_eq!(s.boot_sector, BootSource::Backup { offset: 6 * 512 });
    assert_eq!(
        s.usage.unwrap().files,
        before.files,
        "the tree is still read"
    );
    assert!(
        imgcheck_fat::probe(&BytesReader::new(i.b.clone()))
            .is_some_and(|p| p.strength == imgcheck_core::Strength::Weak)
    );
}

#[test]
fn boot_signature_and_jump() {
    let mut i = Img::load("fat12-floppy.img");
    i.put(510, &[0, 0]);
    assert!(has(&i.check(), "fat.boot.signature"));
    let mut i = Img::load("fat12-floppy.img");
    i.put(0, &[0, 0, 0]);
    assert!(has(&i.check(), "fat.bpb.jump"));
}

#[test]
fn bpb_fields_readers_refuse() {
    // Media byte 0x00: Linux refuses it.
    let mut i = Img::load("fat16-16m.img");
    i.put(0x15, &[0]);
    assert_eq!(find(&i.check(), "fat.bpb.media").severity, Severity::Error);
    // 6 sectors per cluster: not a power of two.
    let mut i = Img::load("fat16-16m.img");
    i.put(0x0D, &[6]);
    assert!(has(&i.check(), "fat.bpb.cluster_size"));
    // 3 FATs: fsck.fat checks only 1 or 2.
    let mut i = Img::load("fat16-16m.img");
    i.put(0x10, &[3]);
    assert!(has(&i.check(), "fat.bpb.fats"));
    // 16 root entries on 4 KiB sectors: not whole sectors, Linux refuses.
    let mut i = Img::load("fat12-S4096.img");
    i.le16(0x11, 16);
    assert!(has(&i.check(), "fat.bpb.root_entries"));
    // 8 KiB sectors: beyond Linux's 4096.
    let mut i = Img::load("fat12-floppy.img");
    i.le16(0x0B, 8192);
    assert!(has(&i.check(), "fat.bpb.sector_size"));
    // A FAT32 boot sector with fixed root entries.
    let mut i = Img::load("fat32-34m.img");
    i.le16(0x11, 512);
    assert!(has(&i.check(), "fat.bpb.fat32_root"));
}

#[test]
fn fat32_below_the_cluster_minimum_and_its_16_bit_count() {
    // As mkfs.fat -F 32 writes it: a note. The same volume without its
    // FAT32 extended boot signature (what a FAT12/16 volume whose 16-bit
    // FAT size was lost looks like): a warning.
    let r = Img::load("fat32-8m.img").check();
    assert_eq!(
        find(&r, "fat.bpb.fat32_few_clusters").severity,
        Severity::Info
    );
    let mut i = Img::load("fat32-8m.img");
    i.put(0x42, &[0]);
    assert_eq!(
        find(&i.check(), "fat.bpb.fat32_few_clusters").severity,
        Severity::Warning
    );
    assert_eq!(find(&r, "fat.bpb.total_sectors").severity, Severity::Info);
    let s = r.summary.unwrap();
    assert_eq!(
        (s.kind, s.kind_by_count),
        (imgcheck_fat::FatKind::Fat32, imgcheck_fat::FatKind::Fat12)
    );
}

#[test]
fn missing_extended_boot_signature() {
    let mut i = Img::load("fat16-16m.img");
    i.put(0x26, &[0]);
    let r = i.check();
    assert!(has(&r, "fat.bpb.no_extended_signature"));
    // fsck.fat then reads 11 zero bytes as the boot label: not the root's DATA16.
    assert!(has(&r, "fat.label.differ"));
}

#[test]
fn size_against_the_container() {
    // Cut into allocated clusters: error.
    let mut i = Img::load("fat16-16m.img");
    let big = i.clusters("/big.bin");
    let cut = i.g.cluster_offset(big[big.len() / 2]);
    i.b.truncate(cut as usize);
    assert_eq!(
        find(&i.check(), "fat.size.truncated").severity,
        Severity::Error
    );
    assert_eq!(
        find(&i.quick(), "fat.size.truncated").severity,
        Severity::Error
    );
    // Cut through directories: what they held is unknown, so nothing is
    // called lost and the summary says the check is incomplete.
    let mut i = Img::load("fat16-16m.img");
    let w = i.entry("/wide");
    i.b.truncate(i.g.cluster_offset(w.first_cluster) as usize);
    let r = i.check();
    assert!(!has(&r, "fat.chain.lost"), "{:#?}", r.findings);
    assert!(r.summary.unwrap().incomplete.is_some());
    // Cut only free clusters at the end: warning.
    let mut i = Img::load("fat16-16m.img");
    let len = i.b.len() - 64 * 1024;
    i.b.truncate(len);
    assert_eq!(
        find(&i.check(), "fat.size.truncated").severity,
        Severity::Warning
    );
    assert_eq!(
        find(&i.quick(), "fat.size.truncated").severity,
        Severity::Warning
    );
    // Larger container: info.
    let mut i = Img::load("fat16-16m.img");
    i.b.resize(i.b.len() + (2 << 20), 0);
    assert_eq!(
        find(&i.check(), "fat.size.not_grown").severity,
        Severity::Info
    );
}

// ---- FAT32 backup boot sector and FSInfo ----

#[test]
fn backup_boot_sector() {
    let mut i = Img::load("fat32-34m.img");
    i.put(6 * 512 + 3, b"OTHEROEM");
    let f = find(&i.check(), "fat.backup_boot.differs").clone();
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.message.contains("OEM name"), "{}", f.message);
    // Only Linux's dirty flag differs: info (it sets it in the primary alone).
    let mut i = Img::load("fat32-34m.img");
    i.put(0x41, &[1]);
    let r = i.check();
    assert_eq!(find(&r, "fat.backup_boot.differs").severity, Severity::Info);
    assert!(has(&r, "fat.dirty"));
    let mut i = Img::load("fat32-34m.img");
    i.le16(0x32, 0);
    assert_eq!(
        find(&i.check(), "fat.backup_boot.missing").severity,
        Severity::Info
    );
    let mut i = Img::load("fat32-34m.img");
    i.le16(0x32, 40);
    assert!(has(&i.check(), "fat.backup_boot.outside_reserved"));
    let mut i = Img::load("fat32-8m.img");
    i.le16(0x32, 0xFFF0);
    assert!(
        has(&i.check(), "fat.backup_boot.unreadable"),
        "sector 65520 lies past the 8 MiB image"
    );
}

#[test]
fn fsinfo() {
    let mut i = Img::load("fat32-34m.img");
    i.le32(512, 0);
    let r = i.check();
    assert_eq!(find(&r, "fat.fsinfo.signature").severity, Severity::Warning);
    assert!(!r.summary.unwrap().fsinfo.unwrap().valid);
    let mut i = Img::load("fat32-34m.img");
    i.le32(512 + 488, 12345);
    let f = find(&i.check(), "fat.fsinfo.free_count").clone();
    assert_eq!(
        f.severity,
        Severity::Warning,
        "a wrong free count is a warning: fsck.fat 4.2 -n exits 1 on it (Free cluster summary wrong)"
    );
    let mut i = Img::load("fat32-34m.img");
    i.le32(512 + 488, 0xFFFF_FFFF);
    let r = i.check();
    let f = find(&r, "fat.fsinfo.free_count");
    assert!(f.message.contains("not recorded"));
    assert_eq!(
        f.severity,
        Severity::Info,
        "an unrecorded count is info: fsck.fat prints it and exits 0"
    );
    let mut i = Img::load("fat32-34m.img");
    i.le32(512 + 492, 1);
    assert!(has(&i.check(), "fat.fsinfo.next_free"));
    let mut i = Img::load("fat32-34m.img");
    i.le16(0x30, 0);
    assert!(has(&i.check(), "fat.fsinfo.missing"));
    let mut i = Img::load("fat32-34m.img");
    i.le16(0x30, 40);
    assert!(has(&i.check(), "fat.fsinfo.outside_reserved"));
    let mut i = Img::load("fat32-34m.img");
    i.le32(7 * 512 + 508, 0);
    assert_eq!(
        find(&i.check(), "fat.fsinfo.backup_signature").severity,
        Severity::Info
    );
}

// ---- FAT copies ----

#[test]
fn fat_first_entries() {
    // Copy 2's first entry damaged: that copy; the chains come from copy 1.
    let mut i = Img::load("fat16-16m.img");
    i.set_fat_copy(1, 0, 0x00F8);
    let r = i.check();
    assert!(has(&r, "fat.fat.first_entry") && has(&r, "fat.fat.copies_differ"));
    assert!(!has(&r, "fat.fat.no_valid_copy"));
    // Both: fsck.fat gives up.
    i.set_fat_copy(0, 0, 0x00F8);
    assert_eq!(
        find(&i.check(), "fat.fat.no_valid_copy").severity,
        Severity::Error
    );
    // Media byte differs from the boot sector's (in every copy, as
    // attack 16b's repro-2 wrote it): noted, and the volume is clean, as
    // fsck.fat -n calls it: no driver reads FAT[0].
    let mut i = Img::load("fat16-16m.img");
    i.set_fat(0, 0xFFF9);
    let r = i.check();
    assert_eq!(find(&r, "fat.fat.media").severity, Severity::Info);
    assert!(codes(&r, Severity::Warning).is_empty(), "{r:?}");
    let mut i = Img::load("fat32-34m.img");
    i.set_fat(0, 0x0FFF_FFF0);
    let r = i.check();
    assert_eq!(find(&r, "fat.fat.media").severity, Severity::Info);
    assert!(codes(&r, Severity::Warning).is_empty(), "{r:?}");
    // The reserved entry is not an end-of-chain mark.
    let mut i = Img::load("fat32-34m.img");
    i.set_fat(1, 0x0C00_0000);
    assert_eq!(
        find(&i.check(), "fat.fat.reserved_entry").severity,
        Severity::Info
    );
}

#[test]
fn dirty_and_io_error_bits() {
    let mut i = Img::load("fat16-16m.img");
    i.put(0x25, &[1]);
    let r = i.check();
    assert!(find(&r, "fat.dirty").message.contains("Linux"));
    assert!(r.summary.unwrap().dirty.boot_flag);
    let mut i = Img::load("fat16-16m.img");
    i.set_fat(1, 0x7FFF);
    let r = i.check();
    assert!(find(&r, "fat.dirty").message.contains("Windows"));
    assert!(!has(&r, "fat.fat.io_error_bit"));
    let mut i = Img::load("fat32-34m.img");
    i.set_fat(1, 0x0BFF_FFFF);
    let r = i.quick();
    assert!(has(&r, "fat.fat.io_error_bit") && !has(&r, "fat.dirty"));
    // The I/O-error bit alone (attack 16b's repro-20: FAT16, bit 14 clear
    // in both copies) is noted and the volume clean, as fsck.fat -n calls
    // it: Linux neither reads nor sets the bit.
    for (name, v) in [("fat16-16m.img", 0xBFFF), ("fat32-34m.img", 0x0BFF_FFFF)] {
        let mut i = Img::load(name);
        i.set_fat(1, v);
        let r = i.check();
        assert_eq!(find(&r, "fat.fat.io_error_bit").severity, Severity::Info);
        assert!(codes(&r, Severity::Warning).is_empty(), "{name}: {r:?}");
    }
    // FAT12 has no bits in FAT[1]: only the boot sector flag counts.
    let mut i = Img::load("fat12-floppy.img");
    i.set_fat(1, 0x7FF);
    assert!(!has(&i.check(), "fat.dirty"));
}

#[test]
fn copies_differ_and_out_of_range() {
    let mut i = Img::load("fat12-floppy.img");
    let c = i.clusters("/HELLO.TXT")[0];
    i.set_fat_copy(1, c, 0);
    let f = find(&i.check(), "fat.fat.copies_differ").clone();
    assert!(f.message.contains(&format!("cluster {c}")), "{}", f.message);
    let mut i = Img::load("fat12-floppy.img");
    i.set_fat(c, 0xFF0);
    let r = i.check();
    assert_eq!(find(&r, "fat.fat.out_of_range").severity, Severity::Error);
    // The floppy's FAT12 ends with half a byte no entry uses; fsck.fat
    // compares it too.
    let mut i = Img::load("fat12-floppy.img");
    let last = i.g.fat_copy_start(1) + i.g.fat_used_bytes() - 1;
    i.b[last as usize] ^= 0x80;
    assert!(
        find(&i.check(), "fat.fat.copies_differ")
            .message
            .contains("unused bits")
    );
    let mut i = Img::load("fat32-34m.img");
    i.put(0x28, &[0x83, 0]);
    assert!(has(&i.check(), "fat.fat.active_copy"));
}

// ---- the tree and its chains ----

#[test]
fn fat32_root_cluster() {
    let mut i = Img::load("fat32-34m.img");
    i.le32(0x2C, 0x0FFF_FF00);
    assert_eq!(
        find(&i.check(), "fat.root.bad_cluster").severity,
        Severity::Error
    );
    let mut i = Img::load("fat32-34m.img");
    i.set_fat(2, 0);
    let r = i.check();
    assert!(has(&r, "fat.root.bad_cluster"));
    assert!(
        !has(&r, "fat.chain.lost"),
        "nothing is called lost when the root cannot be read"
    );
}

#[test]
fn bad_and_duplicate_names() {
    let mut i = Img::load("fat16-16m.img");
    let e = i.entry("/HELLO.TXT");
    i.put(e.entry_offset + 2, b"?");
    assert!(has(&i.check(), "fat.name.bad"));
    let mut i = Img::load("fat16-16m.img");
    let a = i.entry("/docs/lower.txt");
    let b = i.entry("/docs/frag-d.bin");
    let name = i.b[a.entry_offset as usize..a.entry_offset as usize + 11].to_vec();
    i.put(b.entry_offset, &name);
    let f = find(&i.check(), "fat.name.duplicate").clone();
    assert!(
        f.message.contains("LOWER.TXT") || f.message.contains("lower.txt"),
        "{}",
        f.message
    );
}

#[test]
fn a_data_cluster_read_as_a_directory() {
    // /docs's first cluster pointed at numbers.txt's data: mostly bad names.
    let mut i = Img::load("fat16-16m.img");
    let d = i.entry("/docs");
    let data = i.clusters("/docs/A long file name with spaces.txt")[1];
    i.le16(d.entry_offset + 26, data as u16);
    let r = i.check();
    assert!(has(&r, "fat.dir.mostly_bad") && has(&r, "fat.dir.missing_dot"));
}

#[test]
fn dot_entries() {
    let mut i = Img::load("fat16-16m.img");
    let d = i.entry("/docs");
    let at = i.g.cluster_offset(d.first_cluster);
    i.put(at, &[0; 32]);
    assert!(has(&i.check(), "fat.dir.missing_dot"));
    let mut i = Img::load("fat16-16m.img");
    i.le16(at + 32 + 26, 7);
    let f = find(&i.check(), "fat.dir.bad_dot").clone();
    assert!(f.message.contains("'..'"), "{}", f.message);
}

#[test]
fn directory_entries_that_point_wrong() {
    let mut i = Img::load("fat16-16m.img");
    let d = i.entry("/level1");
    i.le32(d.entry_offset + 28, 5);
    assert!(has(&i.check(), "fat.dir.nonzero_size"));
    let mut i = Img::load("fat16-16m.img");
    i.le16(d.entry_offset + 26, 0);
    assert!(has(&i.check(), "fat.dir.bad_start"));
    // /level1/level2 pointing back at /level1: a loop.
    let mut i = Img::load("fat16-16m.img");
    let sub = i.entry("/level1/level2");
    i.le16(sub.entry_offset + 26, d.first_cluster as u16);
    assert!(has(&i.check(), "fat.dir.loop"));
    // A deeper loop (level4 -> level1) is a cross-link: level1's clusters are taken.
    let mut i = Img::load("fat16-16m.img");
    let deep = i.entry("/level1/level2/level3/level4");
    i.le16(deep.entry_offset + 26, d.first_cluster as u16);
    assert!(has(&i.check(), "fat.chain.cross_linked"));
}

#[test]
fn entries_after_the_end_mark() {
    // An empty file's entry copied past the root's end-of-directory mark.
    let mut i = Img::load("fat16-16m.img");
    let e = i.entry("/empty.dat");
    let mut ent = i.b[e.entry_offset as usize..e.entry_offset as usize + 32].to_vec();
    ent[..11].copy_from_slice(b"AFTEREND   ");
    let root = match i.g.root {
        imgcheck_fat::Root::Fixed { start, .. } => start,
        imgcheck_fat::Root::Chain { .. } => unreachable!(),
    };
    i.put(root + 100 * 32, &ent);
    assert_eq!(
        find(&i.check(), "fat.dir.after_end").severity,
        Severity::Info
    );
}

#[test]
fn start_clusters_outside_the_data_area() {
    for v in [1u16, 0xFFF0] {
        let mut i = Img::load("fat16-16m.img");
        let e = i.entry("/HELLO.TXT");
        i.le16(e.entry_offset + 26, v);
        assert!(has(&i.check(), "fat.chain.bad_start"), "start {v}");
    }
}

#[test]
fn chains_into_free_and_bad_clusters() {
    let mut i = Img::load("fat12-floppy.img");
    let ch = i.clusters("/docs/A long file name with spaces.txt");
    i.set_fat(ch[1], 0);
    let r = i.check();
    assert!(
        has(&r, "fat.chain.free_cluster")
            && has(&r, "fat.chain.too_short")
            && has(&r, "fat.chain.lost")
    );
    let mut i = Img::load("fat12-floppy.img");
    i.set_fat(ch[1], 0xFF7);
    assert!(has(&i.check(), "fat.chain.bad_cluster"));
}

#[test]
fn loops_and_cross_links() {
    let mut i = Img::load("fat32-34m.img");
    let ch = i.clusters("/big.bin");
    i.set_fat(*ch.last().unwrap(), ch[3]);
    let f = find(&i.check(), "fat.chain.loop").clone();
    assert!(f.message.contains("/big.bin"), "{}", f.message);
    let mut i = Img::load("fat32-34m.img");
    let a = i.clusters("/HELLO.TXT");
    let b = i.clusters("/docs/lower.txt");
    i.set_fat(b[0], a[0]);
    // lower.txt is 11 bytes: its chain is now too long and runs into HELLO.TXT.
    let r = i.check();
    assert!(has(&r, "fat.chain.too_long"));
    let mut i = Img::load("fat32-34m.img");
    let big = i.clusters("/big.bin");
    let hello = i.entry("/HELLO.TXT");
    // HELLO.TXT's entry made to start in the middle of big.bin: HELLO.TXT
    // comes first in the root, so big.bin is the one that runs into it.
    i.le16(hello.entry_offset + 26, big[10] as u16);
    i.le16(hello.entry_offset + 20, (big[10] >> 16) as u16);
    let f = find(&i.check(), "fat.chain.cross_linked").clone();
    assert!(
        f.message
            .starts_with("/HELLO.TXT and /big.bin share clusters"),
        "{}",
        f.message
    );
}

#[test]
fn sizes_against_chains() {
    let mut i = Img::load("fat16-16m.img");
    let e = i.entry("/big.bin");
    i.le32(e.entry_offset + 28, 1000);
    let r = i.check();
    assert_eq!(find(&r, "fat.chain.too_long").severity, Severity::Warning);
    assert!(
        !has(&r, "fat.chain.lost"),
        "clusters past the size belong to the chain, not lost"
    );
    let mut i = Img::load("fat16-16m.img");
    i.le32(e.entry_offset + 28, 1 << 30);
    assert_eq!(
        find(&i.check(), "fat.chain.too_short").severity,
        Severity::Error
    );
}

#[test]
fn lost_chains_and_lost_directories() {
    let mut i = Img::load("fat16-16m.img");
    let e = i.entry("/big.bin");
    i.put(e.entry_offset, &[0xE5]);
    let r = i.check();
    let f = find(&r, "fat.chain.lost");
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.hint.as_ref().unwrap().writes,
        "salvaging writes, on a copy"
    );
    let s = r.summary.unwrap();
    assert_eq!(s.lost_chains.len(), 1);
    assert_eq!(s.lost_chains[0].clusters, 147);
    assert!(!s.lost_chains[0].looks_like_directory);
    assert_eq!(
        s.lost_chains[0].extents.iter().map(|x| x.len).sum::<u64>(),
        147 * 2048
    );
    // A directory whose entry is deleted: its chain and its files' chains are lost.
    let mut i = Img::load("fat16-16m.img");
    let d = i.entry("/docs");
    i.put(d.entry_offset, &[0xE5]);
    let s = i.check().summary.unwrap();
    assert!(s.lost_chains.iter().any(|c| c.looks_like_directory));
}

#[test]
fn long_names() {
    // Every slot of "A long file name with spaces.txt" sits before its short entry.
    let i0 = Img::load("fat16-16m.img");
    let e = i0.entry("/docs/A long file name with spaces.txt");
    let first_slot = e.entry_offset - 3 * 32;
    assert_eq!(i0.b[first_slot as usize + 11], 0x0F);
    let mut i = Img::load("fat16-16m.img");
    i.put(first_slot + 13, &[0x00]);
    assert!(has(&i.check(), "fat.lfn.checksum"));
    let mut i = Img::load("fat16-16m.img");
    i.put(first_slot + 32, &[0x05]);
    assert!(has(&i.check(), "fat.lfn.sequence"));
    let mut i = Img::load("fat16-16m.img");
    i.put(first_slot + 12, &[0x01]);
    assert!(has(&i.check(), "fat.lfn.reserved"));
    let mut i = Img::load("fat16-16m.img");
    i.put(e.entry_offset, &[0xE5]);
    assert!(has(&i.check(), "fat.lfn.orphan"));
}

#[test]
fn volume_labels() {
    let i0 = Img::load("fat16-16m.img");
    let root = match i0.g.root {
        imgcheck_fat::Root::Fixed { start, .. } => start,
        imgcheck_fat::Root::Chain { .. } => unreachable!(),
    };
    assert_eq!(&i0.b[root as usize..root as usize + 11], b"DATA16     ");
    let mut i = Img::load("fat16-16m.img");
    i.put(root, &[0xE5]);
    assert!(has(&i.check(), "fat.label.boot_only"));
    let mut i = Img::load("fat16-16m.img");
    i.put(0x2B, b"NO NAME    ");
    assert!(has(&i.check(), "fat.label.root_only"));
    let mut i = Img::load("fat16-16m.img");
    i.put(0x2B, b"OTHER      ");
    let r = i.check();
    assert!(has(&r, "fat.label.differ"));
    assert!(
        has(&i.quick(), "fat.label.differ"),
        "the quick check reads the root's label too"
    );
    let mut i = Img::load("fat16-16m.img");
    i.put(root, b"A?B        ");
    assert!(has(&i.check(), "fat.label.invalid"));
    // FAT32: the root's label entry is found through its chain in both depths.
    let mut i = Img::load("fat32-34m.img");
    i.put(0x47, b"OTHER      ");
    assert!(has(&i.check(), "fat.label.differ") && has(&i.quick(), "fat.label.differ"));
}

#[test]
fn directory_bounds() {
    // /wide's chain continued through 1100 free clusters: more than 2 MiB of entries.
    let mut i = Img::load("fat16-16m.img");
    let wide = i.clusters("/wide");
    let last = *wide.last().unwrap();
    let free: Vec<u32> = (2..=i.g.max_cluster()).rev().take(1100).collect();
    i.set_fat(last, free[0]);
    for w in free.windows(2) {
        i.set_fat(w[0], w[1]);
    }
    i.set_fat(*free.last().unwrap(), i.eoc());
    assert!(has(&i.check(), "fat.dir.too_large"));
    // 300 directories nested through free clusters: deeper than the walk goes.
    let mut i = Img::load("fat16-16m.img");
    let l1 = i.entry("/level1");
    let chain: Vec<u32> = (4000..4300).collect();
    let mut parent = l1.first_cluster;
    let mut at_entry = i.g.cluster_offset(l1.first_cluster) + 3 * 32;
    for &c in &chain {
        let mut ent = [0u8; 32];
        ent[..11].copy_from_slice(b"NEST       ");
        ent[11] = 0x10;
        ent[26..28].copy_from_slice(&(c as u16).to_le_bytes());
        i.put(at_entry, &ent);
        let base = i.g.cluster_offset(c);
        let mut dot = [0u8; 64];
        dot[..11].copy_from_slice(b".          ");
        dot[11] = 0x10;
        dot[26..28].copy_from_slice(&(c as u16).to_le_bytes());
        dot[32..43].copy_from_slice(b"..         ");
        dot[43] = 0x10;
        dot[58..60].copy_from_slice(&(parent as u16).to_le_bytes());
        i.put(base, &dot);
        i.set_fat(c, i.eoc());
        parent = c;
        at_entry = base + 64;
    }
    assert!(has(&i.check(), "fat.bound.depth"));
}

/// A reader whose reads fail in one range, as a failing disk or a qcow2
/// cluster that cannot be decoded.
struct Failing {
    inner: BytesReader,
    bad: std::ops::Range<u64>,
}

impl ReadAt for Failing {
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn read_exact_at(&self, off: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let end = off + buf.len() as u64;
        if off < self.bad.end && end > self.bad.start {
            return Err(ReadError::new(
                off,
                buf.len() as u64,
                ReadErrorKind::Layer("test: unreadable".into()),
            ));
        }
        self.inner.read_exact_at(off, buf)
    }
}

#[test]
fn unreadable_ranges_are_not_absent_structures() {
    let i = Img::load("fat16-16m.img");
    let d = i.entry("/docs");
    let at = i.g.cluster_offset(d.first_cluster);
    let r = Failing {
        inner: BytesReader::new(i.b.clone()),
        bad: at..at + 1,
    };
    let rep = check(&r, &Options { depth: Depth::Full });
    assert_eq!(find(&rep, "fat.read.unreadable").severity, Severity::Error);
    // The FAT itself unreadable in part: its chains are not called broken.
    let r = Failing {
        inner: BytesReader::new(i.b.clone()),
        bad: i.g.fat_start + 4096..i.g.fat_start + 4097,
    };
    let rep = check(&r, &Options { depth: Depth::Full });
    assert!(has(&rep, "fat.read.unreadable"));
    assert!(
        !has(&rep, "fat.chain.free_cluster") && !has(&rep, "fat.chain.too_short"),
        "{:#?}",
        rep.findings
    );
}

#[test]
fn the_read_budget_stops_the_check_visibly() {
    let i = Img::load("fat16-16m.img");
    let m = Metered::new(
        BytesReader::new(i.b.clone()),
        Arc::new(Budget::new(64 << 10, u64::MAX)),
    );
    let rep = check(&m, &Options { depth: Depth::Full });
    assert_eq!(find(&rep, "fat.read.budget").severity, Severity::Warning);
}

/// Zeros of any length, with a boot sector at the start.
struct Sparse {
    boot: Vec<u8>,
    len: u64,
}

impl ReadAt for Sparse {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_exact_at(&self, off: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        buf.fill(0);
        for (k, b) in buf.iter_mut().enumerate() {
            if let Some(&x) = self.boot.get(off as usize + k) {
                *b = x;
            }
        }
        Ok(())
    }
}

#[test]
fn a_fat_larger_than_the_bound_is_not_loaded() {
    // The 8 MiB FAT32's boot sector, scaled to 2^27 sectors with a 2^20-sector (512 MiB) FAT.
    let i = Img::load("fat32-8m.img");
    let mut boot = i.b[..512].to_vec();
    boot[0x0D] = 1;
    boot[0x13..0x15].copy_from_slice(&[0, 0]);
    boot[0x20..0x24].copy_from_slice(&(1u32 << 27).to_le_bytes());
    boot[0x24..0x28].copy_from_slice(&(1u32 << 20).to_le_bytes());
    let r = Sparse { boot, len: 1 << 36 };
    let rep = check(&r, &Options { depth: Depth::Full });
    assert!(has(&rep, "fat.bound.fat_size"), "{:#?}", rep.findings);
    assert!(rep.summary.unwrap().incomplete.is_some());
}

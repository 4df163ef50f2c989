//! Damage cases: each names a fixture, a precise change, and the finding
//! codes imgcheck must report for it (the check that the case tests).

use super::Img;

pub struct Case {
    pub name: &'static str,
    pub fixture: &'static str,
    pub damage: fn(&mut Img),
    /// Codes that must be reported (each is the check under test).
    pub expect: &'static [&'static str],
}

fn le32(v: u32) -> [u8; 4] {
    v.to_le_bytes()
}
fn le64(v: u64) -> [u8; 8] {
    v.to_le_bytes()
}
const EE: usize = 0x1BE; // MBR entry 1
const E2: usize = 0x1BE + 16;
const E3: usize = 0x1BE + 32;

pub fn all() -> Vec<Case> {
    vec![
        // gdisk Verify #1–#4 and the load-time findings kept although the other copy is good.
        Case {
            name: "primary-header-crc",
            fixture: "gpt-512.img",
            damage: |i| i.data[512 + 0x38] ^= 0x01,
            expect: &["gpt.primary_header.crc"],
        },
        Case {
            name: "primary-entries-crc",
            fixture: "gpt-512.img",
            damage: |i| i.data[1024 + 0x38] ^= 0x01,
            expect: &["gpt.primary_entries.crc"],
        },
        Case {
            name: "backup-header-crc",
            fixture: "gpt-512.img",
            damage: |i| {
                let at = i.last_lba() as usize * 512 + 0x38;
                i.data[at] ^= 1
            },
            expect: &["gpt.backup_header.crc"],
        },
        Case {
            name: "backup-entries-crc",
            fixture: "gpt-512.img",
            damage: |i| {
                let at = (i.last_lba() as usize - 32) * 512 + 0x38;
                i.data[at] ^= 1
            },
            expect: &["gpt.backup_entries.crc"],
        },
        Case {
            name: "primary-header-zeroed",
            fixture: "gpt-512.img",
            damage: |i| i.data[512..1024].fill(0),
            expect: &["gpt.primary_header.missing"],
        },
        Case {
            name: "backup-header-zeroed",
            fixture: "gpt-512.img",
            damage: |i| {
                let at = i.last_lba() as usize * 512;
                i.data[at..at + 512].fill(0)
            },
            expect: &["gpt.backup_header.missing"],
        },
        // #5 and the backup's self-pointer.
        Case {
            name: "primary-my-lba",
            fixture: "gpt-512.img",
            damage: |i| i.hdr(1, 0x18, &le64(5)),
            expect: &["gpt.primary_header.my_lba"],
        },
        Case {
            name: "backup-my-lba",
            fixture: "gpt-512.img",
            damage: |i| {
                let l = i.last_lba();
                i.hdr(l, 0x18, &le64(l - 1))
            },
            expect: &["gpt.backup_header.my_lba"],
        },
        // #6: the disk grew (truncate larger after partitioning: the grown fixture).
        Case {
            name: "grown",
            fixture: "grown.img",
            damage: |_| {},
            expect: &[
                "gpt.backup_header.not_at_end",
                "gpt.free_space.beyond_table",
                "gpt.pmbr.size_mismatch",
            ],
        },
        // #7, #8
        Case {
            name: "backup-alternate",
            fixture: "gpt-512.img",
            damage: |i| {
                let l = i.last_lba();
                i.hdr(l, 0x20, &le64(7))
            },
            expect: &["gpt.headers.primary_lba_mismatch"],
        },
        Case {
            name: "primary-alternate",
            fixture: "gpt-512.img",
            damage: |i| i.hdr(1, 0x20, &le64(65534)),
            expect: &["gpt.headers.backup_lba_mismatch"],
        },
        // #9–#13 and the other fields compared one by one.
        Case {
            name: "mismatch-first-usable",
            fixture: "gpt-512.img",
            damage: |i| {
                let l = i.last_lba();
                i.hdr(l, 0x28, &le64(40))
            },
            expect: &["gpt.headers.mismatch.first_usable_lba"],
        },
        Case {
            name: "mismatch-last-usable",
            fixture: "gpt-512.img",
            damage: |i| {
                let l = i.last_lba();
                i.hdr(l, 0x30, &le64(65000))
            },
            expect: &["gpt.headers.mismatch.last_usable_lba"],
        },
        Case {
            name: "mismatch-disk-guid",
            fixture: "gpt-512.img",
            damage: |i| {
                let l = i.last_lba();
                i.hdr(l, 0x38, &[0xAB])
            },
            expect: &["gpt.headers.mismatch.disk_guid"],
        },
        Case {
            name: "mismatch-num-entries",
            fixture: "gpt-512.img",
            damage: |i| {
                let l = i.last_lba();
                i.hdr(l, 0x50, &le32(64));
                i.fix_entries_crc(l)
            },
            expect: &["gpt.headers.mismatch.num_partition_entries"],
        },
        Case {
            name: "mismatch-entry-size",
            fixture: "gpt-512.img",
            damage: |i| {
                let l = i.last_lba();
                i.hdr(l, 0x54, &le32(256))
            },
            expect: &[
                "gpt.headers.mismatch.sizeof_partition_entry",
                "gpt.backup_header.entry_size_unusual",
            ],
        },
        Case {
            name: "entries-differ",
            fixture: "gpt-512.img",
            damage: |i| {
                let l = i.last_lba();
                i.entry(l, 2, 0x38, &[b'X', 0])
            },
            expect: &[
                "gpt.entries.mismatch",
                "gpt.headers.mismatch.partition_entry_array_crc32",
            ],
        },
        // #14 and which partitions are cut: the image truncated to 24 MiB cuts 1 MiB off partition 4.
        Case {
            name: "truncated",
            fixture: "gpt-512.img",
            damage: |i| i.data.truncate(24 << 20),
            expect: &[
                "gpt.disk.too_small",
                "gpt.partition.beyond_disk",
                "gpt.backup_header.missing",
                "gpt.pmbr.too_big",
            ],
        },
        // #15–#21
        Case {
            name: "entries-past-first-usable",
            fixture: "gpt-512.img",
            damage: |i| i.hdr(1, 0x28, &le64(20)),
            expect: &["gpt.primary_entries.past_first_usable"],
        },
        Case {
            name: "entries-too-early",
            fixture: "gpt-512.img",
            damage: |i| i.hdr(1, 0x48, &le64(1)),
            expect: &["gpt.primary_entries.too_early"],
        },
        Case {
            name: "backup-entries-overlap-header",
            fixture: "gpt-512.img",
            damage: |i| {
                let l = i.last_lba();
                i.hdr(l, 0x48, &le64(l - 10))
            },
            expect: &["gpt.backup_entries.overlaps_header"],
        },
        Case {
            name: "entries-gap-after-header",
            fixture: "gpt-512.img",
            damage: |i| i.hdr(1, 0x48, &le64(3)),
            expect: &["gpt.primary_entries.gap_after_header"],
        },
        Case {
            name: "backup-entries-gap",
            fixture: "gpt-512.img",
            damage: |i| {
                let l = i.last_lba();
                i.hdr(l, 0x48, &le64(l - 40))
            },
            expect: &["gpt.backup_entries.gap_before_header"],
        },
        Case {
            name: "gap-before-first-usable",
            fixture: "gpt-512.img",
            damage: |i| i.hdr(1, 0x28, &le64(40)),
            expect: &["gpt.primary_entries.gap_before_first_usable"],
        },
        Case {
            name: "table-too-small",
            fixture: "gpt-512.img",
            damage: |i| {
                i.hdr(1, 0x50, &le32(64));
                i.fix_entries_crc(1)
            },
            expect: &["gpt.entries.table_too_small"],
        },
        // #22
        Case {
            name: "last-usable-beyond-disk",
            fixture: "gpt-512.img",
            damage: |i| i.hdr(1, 0x30, &le64(70000)),
            expect: &["gpt.header.last_usable_beyond_disk"],
        },
        Case {
            name: "usable-range-empty",
            fixture: "gpt-512.img",
            damage: |i| i.hdr(1, 0x28, &le64(65510)),
            expect: &["gpt.header.usable_range_empty"],
        },
        // #23, #24, outside usable, #28, duplicate GUIDs, #30
        Case {
            name: "partition-overlap",
            fixture: "gpt-512.img",
            damage: |i| i.entry_both(2, 0x20, &le64(18000)),
            expect: &["gpt.partition.overlap"],
        },
        Case {
            name: "partition-ends-before-start",
            fixture: "gpt-512.img",
            damage: |i| i.entry_both(3, 0x28, &le64(20000)),
            expect: &["gpt.partition.ends_before_start"],
        },
        Case {
            name: "partition-beyond-disk",
            fixture: "gpt-512.img",
            damage: |i| i.entry_both(4, 0x28, &le64(70000)),
            expect: &["gpt.partition.beyond_disk"],
        },
        Case {
            name: "partition-outside-usable",
            fixture: "gpt-512.img",
            damage: |i| i.entry_both(4, 0x28, &le64(65520)),
            expect: &[
                "gpt.partition.outside_usable",
                "gpt.backup_entries.overlaps_partition",
            ],
        },
        Case {
            name: "partition-over-primary-entries",
            fixture: "gpt-512.img",
            damage: |i| i.entry_both(1, 0x20, &le64(20)),
            expect: &["gpt.primary_entries.overlaps_partition"],
        },
        Case {
            name: "duplicate-guid",
            fixture: "gpt-512.img",
            damage: |i| {
                let g: [u8; 16] = i.data[1024 + 0x10..1024 + 0x20].try_into().unwrap();
                i.entry_both(2, 0x10, &g)
            },
            expect: &["gpt.partition.duplicate_guid"],
        },
        Case {
            name: "misaligned",
            fixture: "gpt-512.img",
            damage: |i| i.entry_both(1, 0x20, &le64(2049)),
            expect: &["gpt.partition.misaligned"],
        },
        // Load-time header field checks.
        Case {
            name: "revision",
            fixture: "gpt-512.img",
            damage: |i| i.hdr(1, 0x08, &le32(0x0001_0001)),
            expect: &[
                "gpt.primary_header.revision",
                "gpt.headers.mismatch.revision",
            ],
        },
        Case {
            name: "header-size",
            fixture: "gpt-512.img",
            damage: |i| i.hdr(1, 0x0C, &le32(600)),
            expect: &[
                "gpt.primary_header.header_size",
                "gpt.headers.mismatch.header_size",
            ],
        },
        Case {
            name: "reserved",
            fixture: "gpt-512.img",
            damage: |i| i.hdr(1, 0x14, &le32(1)),
            expect: &["gpt.primary_header.reserved"],
        },
        Case {
            name: "entry-size",
            fixture: "gpt-512.img",
            damage: |i| i.hdr(1, 0x54, &le32(100)),
            expect: &["gpt.primary_header.entry_size"],
        },
        Case {
            name: "entries-too-large",
            fixture: "gpt-512.img",
            damage: |i| i.hdr(1, 0x50, &le32(100_000)),
            expect: &["gpt.primary_entries.too_large"],
        },
        Case {
            name: "entries-unreadable",
            fixture: "gpt-512.img",
            damage: |i| i.hdr(1, 0x48, &le64(70000)),
            expect: &["gpt.primary_entries.unreadable"],
        },
        Case {
            name: "entry-size-256",
            fixture: "gpt-512.img",
            damage: |i| i.hdr(1, 0x54, &le32(256)),
            expect: &["gpt.primary_header.entry_size_unusual"],
        },
        // The same load-time checks on the backup copy.
        Case {
            name: "backup-revision",
            fixture: "gpt-512.img",
            damage: |i| {
                let l = i.last_lba();
                i.hdr(l, 0x08, &le32(0x0002_0000))
            },
            expect: &["gpt.backup_header.revision"],
        },
        Case {
            name: "backup-header-size",
            fixture: "gpt-512.img",
            damage: |i| {
                let l = i.last_lba();
                i.hdr(l, 0x0C, &le32(40))
            },
            expect: &["gpt.backup_header.header_size"],
        },
        Case {
            name: "backup-reserved",
            fixture: "gpt-512.img",
            damage: |i| {
                let l = i.last_lba();
                i.hdr(l, 0x14, &le32(9))
            },
            expect: &["gpt.backup_header.reserved"],
        },
        Case {
            name: "backup-entry-size",
            fixture: "gpt-512.img",
            damage: |i| {
                let l = i.last_lba();
                i.hdr(l, 0x54, &le32(129))
            },
            expect: &["gpt.backup_header.entry_size"],
        },
        Case {
            name: "backup-entries-too-large",
            fixture: "gpt-512.img",
            damage: |i| {
                let l = i.last_lba();
                i.hdr(l, 0x50, &le32(1 << 24))
            },
            expect: &["gpt.backup_entries.too_large"],
        },
        Case {
            name: "backup-entries-unreadable",
            fixture: "gpt-512.img",
            damage: |i| {
                let l = i.last_lba();
                i.hdr(l, 0x48, &le64(l))
            },
            expect: &["gpt.backup_entries.unreadable"],
        },
        // Protective and hybrid MBR: size, #26, #27, #29, #25, missing.
        Case {
            name: "pmbr-size",
            fixture: "gpt-512.img",
            damage: |i| i.put(EE + 12, &le32(1000)),
            expect: &["gpt.pmbr.size_mismatch"],
        },
        Case {
            name: "pmbr-too-big",
            fixture: "gpt-512.img",
            damage: |i| i.put(EE + 12, &le32(0x20000)),
            expect: &["gpt.pmbr.too_big"],
        },
        Case {
            name: "pmbr-two-ee",
            fixture: "gpt-512.img",
            damage: |i| {
                i.put(E2 + 4, &[0xEE]);
                i.put(E2 + 8, &le32(1));
                i.put(E2 + 12, &le32(100))
            },
            expect: &["gpt.pmbr.multiple_ee", "mbr.partition.overlap"],
        },
        Case {
            name: "pmbr-ee-not-at-1",
            fixture: "gpt-512.img",
            damage: |i| i.put(EE + 8, &le32(2)),
            expect: &["gpt.pmbr.ee_not_at_lba1"],
        },
        Case {
            name: "pmbr-ee-active",
            fixture: "gpt-512.img",
            damage: |i| i.data[EE] = 0x80,
            expect: &["gpt.pmbr.ee_active"],
        },
        Case {
            name: "pmbr-ee-status-ff",
            fixture: "gpt-512.img",
            damage: |i| i.data[EE] = 0xFF,
            expect: &["gpt.pmbr.ee_active", "gpt.pmbr.bad_status"],
        },
        Case {
            name: "pmbr-stray-type",
            fixture: "gpt-512.img",
            damage: |i| i.data[E2 + 4] = 0xFF,
            expect: &["gpt.pmbr.stray_entry"],
        },
        Case {
            name: "pmbr-stray-size",
            fixture: "gpt-512.img",
            damage: |i| i.put(E3 + 12, &le32(0xFF00)),
            expect: &["gpt.pmbr.stray_entry"],
        },
        Case {
            name: "pmbr-no-signature",
            fixture: "gpt-512.img",
            damage: |i| i.put(510, &[0, 0]),
            expect: &["gpt.pmbr.missing"],
        },
        Case {
            name: "pmbr-classic",
            fixture: "gpt-512.img",
            damage: |i| i.data[EE + 4] = 0x83,
            expect: &["gpt.pmbr.missing"],
        },
        Case {
            name: "hybrid-mismatch",
            fixture: "hybrid.img",
            damage: |i| i.put(E3 + 12, &le32(4000)),
            expect: &["gpt.hybrid.mismatch"],
        },
        // Logical partitions behind a hybrid MBR: an extended entry in the
        // free slot 4 and one EBR in the free space at the end of the disk.
        Case {
            name: "hybrid-logicals",
            fixture: "hybrid.img",
            damage: |i| {
                i.put(0x1BE + 48 + 4, &[0x05]);
                i.put(0x1BE + 48 + 8, &le32(60000));
                i.put(0x1BE + 48 + 12, &le32(4000));
                let ebr = 60000 * 512;
                i.put(ebr + 0x1BE + 4, &[0x83]);
                i.put(ebr + 0x1BE + 8, &le32(2048));
                i.put(ebr + 0x1BE + 12, &le32(1000));
                i.put(ebr + 510, &[0x55, 0xAA])
            },
            expect: &["gpt.hybrid.logicals"],
        },
        // Classic MBR.
        Case {
            name: "mbr-overlap",
            fixture: "mbr-logical.img",
            damage: |i| i.put(E3 + 8, &le32(4096)),
            expect: &["mbr.partition.overlap"],
        },
        Case {
            name: "mbr-boot-flag",
            fixture: "mbr-logical.img",
            damage: |i| i.data[0x1BE] = 0x12,
            // msdos_partition and blkid's dos prober refuse the sector.
            expect: &["mbr.refused"],
        },
        Case {
            name: "logical-boot-flag",
            fixture: "mbr-logical.img",
            damage: |i| i.put(ebr(i, 6) + EE, &[0x12]),
            expect: &["mbr.partition.boot_flag"],
        },
        Case {
            name: "mbr-beyond-disk",
            fixture: "mbr-logical.img",
            damage: |i| i.put(E3 + 12, &le32(100_000)),
            expect: &["mbr.partition.beyond_disk"],
        },
        Case {
            name: "mbr-sector0",
            fixture: "mbr-logical.img",
            damage: |i| i.put(0x1BE + 8, &le32(0)),
            expect: &["mbr.partition.contains_sector0"],
        },
        // The second EBR (of logical 6) links back to the first: a loop.
        Case {
            name: "ebr-link-outside",
            fixture: "mbr-logical.img",
            damage: |i| i.put(ebr(i, 6) + E2 + 8, &le32(0)),
            expect: &["mbr.ebr.link_outside_extended"],
        },
        Case {
            name: "ebr-loop-back",
            fixture: "mbr-logical.img",
            damage: |i| {
                i.put(
                    ebr(i, 7) + E2 + 4,
                    &[0x05, 0, 0, 0, 0, 0x28, 0, 0, 0, 0x10, 0, 0],
                )
            },
            expect: &["mbr.ebr.loop"],
        },
        Case {
            name: "ebr-signature",
            fixture: "mbr-logical.img",
            damage: |i| i.put(ebr(i, 6) + 510, &[0, 0]),
            expect: &["mbr.ebr.signature"],
        },
        Case {
            name: "ebr-extra-entry",
            fixture: "mbr-logical.img",
            damage: |i| i.put(ebr(i, 5) + E3 + 4, &[0x83, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]),
            expect: &["mbr.ebr.extra_entry"],
        },
        Case {
            name: "logical-outside-extended",
            fixture: "mbr-logical.img",
            damage: |i| i.put(ebr(i, 7) + EE + 12, &le32(20000)),
            expect: &["mbr.logical.outside_extended"],
        },
        Case {
            name: "mbr-two-extended",
            fixture: "mbr-logical.img",
            damage: |i| {
                i.put(0x1BE + 48 + 4, &[0x0F]);
                i.put(0x1BE + 48 + 8, &le32(60000));
                i.put(0x1BE + 48 + 12, &le32(2000))
            },
            expect: &["mbr.extended.multiple"],
        },
        // Sector size.
        Case {
            name: "4k-primary-zeroed",
            fixture: "gpt-4k.img",
            damage: |i| i.data[4096..8192].fill(0),
            expect: &["gpt.primary_header.missing", "gpt.sector_size.4096"],
        },
        Case {
            name: "sector-size-ambiguous",
            fixture: "gpt-512.img",
            damage: |i| i.put(4096, b"EFI PART"),
            expect: &["gpt.sector_size.ambiguous"],
        },
        // Both headers gone.
        Case {
            name: "both-headers-zeroed",
            fixture: "gpt-fs.img",
            damage: |i| {
                i.data[512..1024].fill(0);
                let at = i.last_lba() as usize * 512;
                i.data[at..at + 512].fill(0)
            },
            expect: &["gpt.headers.missing", "gpt.recovery.partitions_found"],
        },
    ]
}

/// Byte offset of the EBR describing logical partition `n` of the
/// mbr-logical fixture (read from the chain itself, not hard-coded).
pub fn ebr(i: &Img, n: u32) -> usize {
    let m = imgcheck_gpt::mbr::parse_mbr(&imgcheck_core::BytesReader::new(i.data.clone()), 512)
        .unwrap();
    m.logicals.iter().find(|l| l.number == n).unwrap().ebr_lba as usize * 512
}

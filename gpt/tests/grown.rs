//! A grown disk whose primary GPT is gone: "dd wiped the first MiB, and the
//! image had been grown with `qemu-img resize -f raw`" (which is what
//! `truncate` does). The backup is then neither at the last LBA nor where a
//! primary points; the bounded search must find it, fully validated, and
//! the partitions must come back exactly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

mod common;
use common::{Img, codes, finding};
use imgcheck_core::{BytesReader, FileReader, ReadAt, ReadError, Severity};
use imgcheck_gpt::{BackupVia, Partition};
use imgcheck_testdata::{Patch, damaged};

const MIB: u64 = 1 << 20;

fn analyze_file(p: &std::path::Path) -> imgcheck_gpt::Analysis {
    imgcheck_gpt::analyze(&FileReader::open(p).unwrap())
}

fn clean_partitions(name: &str) -> Vec<Partition> {
    Img::fixture(name).analyze().partitions
}

#[test]
fn first_mib_wiped_on_a_grown_disk_finds_the_stale_backup() {
    // grown.img: gpt-512 made by sgdisk at 32 MiB, then `truncate -s 48M`.
    let d = damaged(
        "gpt/grown.img",
        &[Patch::Zero {
            offset: 0,
            len: MIB,
        }],
    );
    let a = analyze_file(d.path());
    assert_eq!(a.partitions, clean_partitions("gpt-512.img"));
    assert_eq!(a.partitions.len(), 4);
    assert_eq!(a.tables.scheme.as_str(), "gpt");
    assert_eq!(
        (a.tables.sector.bytes, a.tables.sector.assumed),
        (512, false)
    );
    let b = a.tables.backup.as_ref().unwrap();
    assert_eq!(b.lba, (32 * MIB / 512) - 1);
    let s = a.tables.backup_search.as_ref().unwrap();
    assert_eq!(s.found, Some((b.lba, BackupVia::MibBoundary)));
    assert!(s.probes <= 64, "{} probes for a 48 MiB disk", s.probes);
    // A table was found: no signature scan for lost partitions.
    assert!(a.recovery.is_none());

    let f = finding(&a, "gpt.backup_header.found_by_search");
    assert_eq!((f.severity, f.offset), (Severity::Error, 32 * MIB - 512));
    assert!(
        f.message.contains("grew by 32768 sectors (16 MiB)") && f.message.contains("4 partitions"),
        "{}",
        f.message
    );
    let hint = f.hint.as_ref().unwrap().to_string();
    assert!(
        hint.contains("truncate -s 33554432 {image}.fixed")
            && hint.contains("gdisk {image}.fixed   # recovery menu: r, b, c, w")
            && hint.contains("truncate -s 50331648 {image}.fixed"),
        "{hint}"
    );
    // The grown-disk finding is there too, but never with a bare `sgdisk -e`:
    // on this image sgdisk sees no table and would write an empty one.
    let f = finding(&a, "gpt.backup_header.not_at_end");
    assert!(f.message.contains("grew by 32768 sectors"), "{}", f.message);
    assert!(
        f.hint
            .as_ref()
            .map(ToString::to_string)
            .as_deref()
            .unwrap()
            .starts_with("do not run `sgdisk -e`")
    );
    // Nor does the lost protective MBR's finding.
    let m = finding(&a, "gpt.pmbr.missing");
    assert!(
        m.hint
            .as_ref()
            .map(ToString::to_string)
            .as_deref()
            .unwrap()
            .starts_with("do not run"),
        "{m:?}"
    );
    let p = finding(&a, "gpt.primary_header.missing");
    assert!(
        p.hint.is_none(),
        "gdisk's r/b/c cannot find this backup: {p:?}"
    );
    let c = codes(&a);
    assert!(
        c.contains(&"gpt.free_space.beyond_table".to_string()),
        "{c:?}"
    );
    assert!(!c.contains(&"gpt.headers.missing".to_string()), "{c:?}");
}

#[test]
fn primary_header_wiped_with_the_mbr_intact_uses_the_pmbr_end_first() {
    let d = damaged(
        "gpt/grown.img",
        &[Patch::Zero {
            offset: 512,
            len: 512,
        }],
    );
    let a = analyze_file(d.path());
    assert_eq!(a.partitions, clean_partitions("gpt-512.img"));
    let s = a.tables.backup_search.as_ref().unwrap();
    assert_eq!(s.found, Some((65535, BackupVia::ProtectiveMbr)));
    assert_eq!(s.probes, 1);
    assert!(codes(&a).contains(&"gpt.backup_header.found_by_search".to_string()));
    // The PMBR's size mismatch no longer suggests sgdisk -e either.
    let f = finding(&a, "gpt.pmbr.size_mismatch");
    assert!(
        f.hint
            .as_ref()
            .map(ToString::to_string)
            .as_deref()
            .unwrap()
            .starts_with("do not run"),
        "{f:?}"
    );
}

#[test]
fn grown_4k_disk_with_the_first_mib_wiped_comes_back_in_4096_byte_sectors() {
    let d = damaged(
        "gpt/gpt-4k.img",
        &[
            Patch::Truncate { len: 96 << 20 },
            Patch::Zero {
                offset: 0,
                len: MIB,
            },
        ],
    );
    let a = analyze_file(d.path());
    assert_eq!(
        (a.tables.sector.bytes, a.tables.sector.assumed),
        (4096, false)
    );
    assert_eq!(a.partitions, clean_partitions("gpt-4k.img"));
    assert_eq!(a.tables.backup.as_ref().unwrap().lba, (64 << 20) / 4096 - 1);
    let f = finding(&a, "gpt.backup_header.found_by_search");
    assert!(
        f.hint
            .as_ref()
            .map(ToString::to_string)
            .as_deref()
            .unwrap()
            .contains("losetup -b 4096"),
        "{f:?}"
    );
    assert!(
        f.message.contains("grew by 8192 sectors (32 MiB)"),
        "{}",
        f.message
    );
}

#[test]
fn a_candidate_counts_only_when_fully_valid() {
    let mut base = Img::fixture("grown.img");
    base.data[..MIB as usize].fill(0);
    let stale = 32 * MIB / 512 - 1;
    // my_lba not where it lies (CRC recomputed so only the pointer is wrong).
    let mut wrong_lba = base.clone();
    wrong_lba.hdr(stale, 0x18, &(stale - 1).to_le_bytes());
    // A CRC that does not match.
    let mut bad_crc = base.clone();
    bad_crc.data[stale as usize * 512 + 0x38] ^= 1;
    for (what, img) in [("my_lba", wrong_lba), ("crc", bad_crc)] {
        let a = img.analyze();
        let s = a.tables.backup_search.as_ref().unwrap();
        assert_eq!(s.found, None, "{what}");
        assert!(s.complete, "{what}");
        assert!(a.partitions.is_empty(), "{what}");
        assert!(a.tables.backup.is_none(), "{what}");
    }
    // The untouched copy is found (the damage above is what rejects it).
    assert_eq!(base.analyze().partitions.len(), 4);
}

#[test]
fn no_search_while_the_primary_is_valid() {
    // The primary's alternate_lba leads to the backup; a valid primary never
    // triggers a search, even on a grown disk.
    let a = Img::fixture("grown.img").analyze();
    assert!(a.tables.backup_search.is_none());
    // The backup alone zeroed on a grown disk: the primary serves, no search.
    let mut i = Img::fixture("grown.img");
    let at = (32 * MIB - 512) as usize;
    i.data[at..at + 512].fill(0);
    let a = i.analyze();
    assert!(a.tables.backup_search.is_none());
    assert_eq!(a.partitions.len(), 4);
    // A classic MBR disk never pays for the probes.
    let a = Img::fixture("mbr-logical.img").analyze();
    assert!(a.tables.backup_search.is_none());
}

/// A huge disk of zeros: nothing to find, and the search stops at its bound.
struct Zeros(u64);
impl ReadAt for Zeros {
    fn len(&self) -> u64 {
        self.0
    }
    fn is_empty(&self) -> bool {
        self.0 == 0
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let end = offset.checked_add(buf.len() as u64);
        if end.is_none_or(|e| e > self.0) {
            return Err(ReadError {
                offset,
                len: buf.len() as u64,
                kind: imgcheck_core::ReadErrorKind::OutOfBounds { len: self.0 },
            });
        }
        buf.fill(0);
        Ok(())
    }
}

#[test]
fn the_search_is_bounded_on_a_huge_disk() {
    // A protective MBR on an otherwise empty 1 TiB disk announces a GPT
    // that is nowhere.
    let mut mbr = vec![0u8; 512];
    mbr[0x1BE + 4] = 0xEE;
    mbr[0x1BE + 8..0x1BE + 12].copy_from_slice(&1u32.to_le_bytes());
    mbr[0x1BE + 12..0x1BE + 16].copy_from_slice(&1_000_000u32.to_le_bytes());
    mbr[510] = 0x55;
    mbr[511] = 0xAA;
    struct WithMbr(Vec<u8>, Zeros);
    impl ReadAt for WithMbr {
        fn len(&self) -> u64 {
            self.1.len()
        }
        fn is_empty(&self) -> bool {
            false
        }
        fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
            self.1.read_exact_at(offset, buf)?;
            for (i, b) in buf.iter_mut().enumerate() {
                if let Some(v) = self.0.get(offset as usize + i) {
                    *b = *v;
                }
            }
            Ok(())
        }
    }
    let disk = WithMbr(mbr, Zeros(1 << 40));
    let t = std::time::Instant::now();
    let tables = imgcheck_gpt::parse(&disk);
    let s = tables.backup_search.as_ref().unwrap();
    assert_eq!(s.probes, imgcheck_gpt::tables::MAX_BACKUP_PROBES);
    assert!(!s.complete && s.found.is_none());
    assert!(t.elapsed().as_secs() < 5, "{:?}", t.elapsed());
    let f = imgcheck_gpt::check(&tables);
    assert!(
        f.iter()
            .any(|x| x.code == "gpt.backup_header.search_incomplete"),
        "{f:#?}"
    );
    // A small disk is searched completely: no such finding.
    let small = Img::fixture("gpt-512.img");
    let mut small = small;
    small.data[..MIB as usize].fill(0);
    let l = small.last_lba() as usize * 512;
    small.data[l..l + 512].fill(0);
    let a = imgcheck_gpt::analyze(&BytesReader::new(small.data));
    assert!(a.tables.backup_search.as_ref().unwrap().complete);
    assert!(!codes(&a).contains(&"gpt.backup_header.search_incomplete".to_string()));
}

/// A sparse disk: zeros, with a few byte ranges laid over them.
struct Overlay {
    len: u64,
    pieces: Vec<(u64, Vec<u8>)>,
}
impl ReadAt for Overlay {
    fn len(&self) -> u64 {
        self.len
    }
    fn is_empty(&self) -> bool {
        self.len == 0
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        Zeros(self.len).read_exact_at(offset, buf)?;
        let end = offset + buf.len() as u64;
        for (at, bytes) in &self.pieces {
            let (a, b) = (offset.max(*at), end.min(at + bytes.len() as u64));
            if a < b {
                buf[(a - offset) as usize..(b - offset) as usize]
                    .copy_from_slice(&bytes[(a - at) as usize..(b - at) as usize]);
            }
        }
        Ok(())
    }
}

#[test]
fn a_20_gib_disk_grown_to_40_gib_is_found_at_its_whole_gib_end() {
    // The backup of sgdisk's table (entries + header, 33 sectors) as it
    // would lie at the end of a 20 GiB disk, which then grew to 40 GiB and
    // lost its first MiB: the middle of the disk, out of reach of the
    // MiB-by-MiB probes from either end.
    const GIB: u64 = 1 << 30;
    let img = Img::fixture("gpt-512.img");
    let old_last = 20 * GIB / 512 - 1;
    let mut tail = img.data[img.data.len() - 33 * 512..].to_vec();
    let h = 32 * 512;
    tail[h + 0x18..h + 0x20].copy_from_slice(&old_last.to_le_bytes());
    tail[h + 0x30..h + 0x38].copy_from_slice(&(old_last - 33).to_le_bytes());
    tail[h + 0x48..h + 0x50].copy_from_slice(&(old_last - 32).to_le_bytes());
    tail[h + 0x10..h + 0x14].fill(0);
    let crc = common::crc32(&tail[h..h + 92]);
    tail[h + 0x10..h + 0x14].copy_from_slice(&crc.to_le_bytes());
    let disk = Overlay {
        len: 40 * GIB,
        pieces: vec![((old_last - 32) * 512, tail)],
    };
    let t = imgcheck_gpt::parse(&disk);
    let s = t.backup_search.as_ref().unwrap();
    assert_eq!(s.found, Some((old_last, BackupVia::MibBoundary)));
    assert!(s.probes <= 20, "{} probes", s.probes);
    assert_eq!(t.partitions(), clean_partitions("gpt-512.img"));
    let f = imgcheck_gpt::check(&t);
    let f = f
        .iter()
        .find(|f| f.code == "gpt.backup_header.found_by_search")
        .unwrap();
    assert!(f.message.contains("(20 GiB)"), "{}", f.message);
}

/// A 16 MiB template image dd'd over a 64 MiB GPT disk (layout.sh's
/// typo-overwrite.img, sgdisk + mkfs.ext4 + dd): the victim's backup at
/// the last LBA is another table, not the remains of a grow. No hint may
/// move a backup over it.
#[test]
fn a_smaller_image_over_a_disk_leaves_two_tables_and_no_grow() {
    let a = analyze_file(&imgcheck_testdata::fixture("layout/typo-overwrite.img"));
    let f = finding(&a, "gpt.backup_header.other_table");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.offset, 64 * MIB - 512);
    assert!(
        f.message.contains("written for a 16 MiB disk")
            && f.message.contains("LBA 2048..=131038")
            && f.message.contains("another disk's"),
        "{}",
        f.message
    );
    assert!(!codes(&a).contains(&"gpt.backup_header.not_at_end".to_string()));
    for f in &a.findings {
        let h = f.hint.as_ref().map(ToString::to_string).unwrap_or_default();
        assert!(
            f.hint.as_ref().is_none_or(|h| !h.writes) && !h.starts_with("sgdisk -e"),
            "{}: {h}",
            f.code
        );
    }
}

/// Two GPT images concatenated (testdata/scripts/layout-concat.sh): the
/// second disk's backup header in the last sector is another disk's
/// (my_lba 16383 of its own disk, its own disk GUID), not this disk's
/// backup; this disk's backup is read where its primary points, both
/// copies agree, and no step writes (sgdisk -e would move this disk's
/// backup over the other disk's).
#[test]
fn a_second_disk_image_after_this_one_is_not_its_backup() {
    let a = analyze_file(&imgcheck_testdata::fixture("layout/concat-gpt.img"));
    let c = codes(&a);
    let c: Vec<&str> = c.iter().map(String::as_str).collect();
    let fb = a.tables.foreign_at_end().unwrap();
    assert_eq!(
        (fb.copy.lba, fb.start, fb.primary_found),
        (32767, Some(8 << 20), true)
    );
    assert_eq!(a.tables.backup.as_ref().map(|b| b.lba), Some(16383));
    assert!(c.contains(&"gpt.backup_header.foreign"), "{c:?}");
    for bad in [
        "gpt.backup_header.my_lba",
        "gpt.backup_entries.crc",
        "gpt.headers.mismatch.disk_guid",
    ] {
        assert!(!c.contains(&bad), "{bad}: {c:?}");
    }
    for f in &a.findings {
        assert!(
            f.hint.as_ref().is_none_or(|h| !h.writes),
            "{}: {:?}",
            f.code,
            f.hint
        );
    }
}

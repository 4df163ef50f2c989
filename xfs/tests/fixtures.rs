//! The checker on the committed XFS fixtures (made by mkfs.xfs and the
//! kernel, testdata/scripts/xfs.sh) and on copies damaged at one named
//! structure each: every finding code below has a test that fails without
//! its check.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

use imgcheck_core::{BytesReader, Depth, FileReader, ReadAt, Severity};
use imgcheck_testdata::{Patch, damaged, fixture};
use imgcheck_xfs::{LogState, Options, Report, check};

fn run(path: &std::path::Path, depth: Depth) -> Report {
    let r = FileReader::open(path).unwrap();
    check(&r, &Options { depth })
}

fn problems(r: &Report) -> Vec<String> {
    r.findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .map(|f| f.to_string())
        .collect()
}

fn codes(r: &Report) -> Vec<String> {
    r.findings.iter().map(|f| f.code.to_string()).collect()
}

const CLEAN: &[&str] = &[
    "xfs/v5-4k.img",
    "xfs/v5-1k.img",
    "xfs/v5-plain.img",
    "xfs/v4.img",
    "xfs/v5-extlog.img",
    "xfs/v5-rt.img",
    // attribute leaves with holes (testdata/scripts/xfs-attrs.sh)
    "xfs/v5-attr-holes.img",
];

#[test]
fn clean_fixtures_have_no_findings_at_either_depth() {
    for name in CLEAN {
        for depth in [Depth::Quick, Depth::Full] {
            let r = run(&fixture(name), depth);
            assert!(
                problems(&r).is_empty(),
                "{name} {depth:?}: {:#?}",
                problems(&r)
            );
            let s = r.summary.as_ref().unwrap();
            assert_eq!(s.fs_bytes, s.dblocks * s.block_size);
            if depth == Depth::Full {
                assert!(s.inodes_checked > 0 && s.directories_checked > 0, "{name}");
            }
        }
    }
}

#[test]
fn remote_symlinks_over_two_blocks_are_one_buffer() {
    // testdata/scripts/xfs-links.sh: targets of 969 and 1023 bytes on
    // 1 KiB blocks, each one header and one CRC over a two-block extent
    // (xfs_repair -n exit 0). Read block by block they looked damaged.
    let r = run(&fixture("xfs/v5-1k-links.img"), Depth::Full);
    assert!(problems(&r).is_empty(), "{:#?}", problems(&r));
    // The second block of the 1023-byte target (inode 70, extent 0/26 + 2)
    // is covered by that CRC: one flipped byte there is damage.
    let d = damaged(
        "xfs/v5-1k-links.img",
        &[Patch::Xor {
            offset: 27 * 1024 + 100,
            mask: 1,
        }],
    );
    let r = run(d.path(), Depth::Full);
    assert!(
        codes(&r).contains(&"xfs.symlink.block".to_string()),
        "{:#?}",
        problems(&r)
    );
}

#[test]
fn summaries_describe_the_fixtures() {
    let r = run(&fixture("xfs/v5-4k.img"), Depth::Full);
    let s = r.summary.unwrap();
    assert_eq!((s.version, s.agcount, s.block_size), (5, 4, 4096));
    assert_eq!(s.uuid, "5a5a5a5a-0000-0000-0000-000000001901");
    assert_eq!(s.label.as_deref(), Some("v5-4k"));
    assert_eq!(s.log.state, LogState::Clean);
    assert_eq!(s.log.head_block, s.log.tail_block);
    assert!(s.features.iter().any(|f| f == "rmapbt") && s.features.iter().any(|f| f == "reflink"));
    assert!(
        s.times.iter().any(|t| t.what.contains("root directory")),
        "{:?}",
        s.times
    );
    assert!(
        s.times.iter().any(|t| t.what.contains("log's last record")),
        "{:?}",
        s.times
    );
    // primary superblock, one secondary per other AG, every AG's headers
    assert_eq!(s.structures.len(), 1 + 3 + 4);
    let v4 = run(&fixture("xfs/v4.img"), Depth::Full).summary.unwrap();
    assert_eq!(v4.version, 4);
    let ext = run(&fixture("xfs/v5-extlog.img"), Depth::Quick)
        .summary
        .unwrap();
    assert_eq!(ext.log.state, LogState::External);
    let k1 = run(&fixture("xfs/v5-1k.img"), Depth::Full).summary.unwrap();
    assert_eq!(k1.block_size, 1024);
    let rt = run(&fixture("xfs/v5-rt.img"), Depth::Full).summary.unwrap();
    assert!(rt.realtime.is_some());
}

#[test]
fn dirty_log_is_a_warning_like_ext4_needs_recovery() {
    let r = run(&fixture("xfs/v5-dirty.img"), Depth::Full);
    let s = r.summary.as_ref().unwrap();
    assert_eq!(s.log.state, LogState::Dirty);
    assert!(s.log.head_block != s.log.tail_block);
    assert!(!s.pending.is_empty());
    let p = problems(&r);
    assert_eq!(p.len(), 1, "{p:#?}");
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "xfs.log.dirty")
        .unwrap();
    assert_eq!(f.severity, Severity::Warning);
    let h = f.hint.as_ref().unwrap();
    assert!(!h.writes && h.note.as_deref().unwrap().contains("never xfs_repair -L"));
}

#[test]
fn an_external_log_is_named_as_unchecked() {
    // A crash copy of a filesystem with an external log (mkfs.xfs -l
    // logdev=) reads clean on the data device alone, while xfs_repair -n
    // -l LOG finds its log dirty: the report says what it could not see.
    let r = run(&fixture("xfs/v5-extlog.img"), Depth::Quick);
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "xfs.log.external")
        .unwrap();
    assert_eq!(f.severity, Severity::Info);
    let h = f.hint.as_ref().unwrap();
    assert!(!h.writes && h.command.as_deref().unwrap().contains("-l LOGDEV"));
    let internal = run(&fixture("xfs/v5-4k.img"), Depth::Quick);
    assert!(!codes(&internal).contains(&"xfs.log.external".to_string()));
}

#[test]
fn never_grown_filesystem_is_info() {
    let r = run(&fixture("xfs/v5-notgrown.img"), Depth::Full);
    assert!(problems(&r).is_empty(), "{:#?}", problems(&r));
    assert!(codes(&r).contains(&"xfs.size.not_grown".to_string()));
    let s = r.summary.unwrap();
    assert_eq!(s.fs_bytes, 32 << 20);
    assert_eq!(s.container_bytes, 48 << 20);
}

#[test]
fn truncated_filesystem_is_an_error() {
    let d = damaged("xfs/v5-4k.img", &[Patch::Truncate { len: 40 << 20 }]);
    let r = run(d.path(), Depth::Full);
    assert!(
        codes(&r).contains(&"xfs.size.truncated".to_string()),
        "{:?}",
        codes(&r)
    );
    assert!(r.findings.iter().all(|f| f.code != "xfs.read.unreadable"));
}

/// Reads a big-endian u32 of the fixture at `off`.
fn be32_at(name: &str, off: u64) -> u32 {
    let r = FileReader::open(fixture(name)).unwrap();
    let mut b = [0u8; 4];
    r.read_exact_at(off, &mut b).unwrap();
    u32::from_be_bytes(b)
}

fn has(name: &str, patches: &[Patch], depth: Depth, code: &str) {
    let d = damaged(name, patches);
    let r = run(d.path(), depth);
    assert!(
        codes(&r).iter().any(|c| c == code),
        "{name} {patches:?}: expected {code}, got {:#?}",
        problems(&r)
    );
}

const BS: u64 = 4096;
const AG: u64 = 4096 * BS; // v5-4k: 4 AGs of 4096 blocks

/// The structure of `len` bytes at `off` of fixture `name`, edited and
/// its CRC (at `crc_off`) recomputed: damage the verifiers cannot see.
fn resealed(name: &str, off: u64, len: usize, crc_off: usize, edit: impl Fn(&mut [u8])) -> Patch {
    let r = FileReader::open(fixture(name)).unwrap();
    let mut b = vec![0u8; len];
    r.read_exact_at(off, &mut b).unwrap();
    edit(&mut b);
    let c = imgcheck_xfs::crc::compute(&b, crc_off);
    b[crc_off..crc_off + 4].copy_from_slice(&c.to_le_bytes());
    Patch::Bytes {
        offset: off,
        bytes: b,
    }
}

#[test]
fn superblock_damage() {
    let n = "xfs/v5-4k.img";
    // primary CRC: repair falls back to a secondary
    has(
        n,
        &[Patch::Xor {
            offset: 0xE0,
            mask: 1,
        }],
        Depth::Quick,
        "xfs.sb.primary.crc",
    );
    let d = damaged(
        n,
        &[Patch::Zero {
            offset: 0,
            len: 512,
        }],
    );
    let r = run(d.path(), Depth::Quick);
    let s = r.summary.as_ref().expect("read through a secondary");
    assert!(
        matches!(
            s.superblock,
            imgcheck_xfs::SuperblockSource::Secondary { ag: 1, .. }
        ),
        "{:?}",
        s.superblock
    );
    assert!(codes(&r).contains(&"xfs.sb.primary.magic".to_string()));
    // a secondary's CRC, its geometry, garbage past its last field, its features
    has(
        n,
        &[Patch::Xor {
            offset: AG + 0xE0,
            mask: 1,
        }],
        Depth::Quick,
        "xfs.sb.secondary.crc",
    );
    has(
        n,
        &[resealed(n, AG, 512, 0xE0, |b| {
            b[0x10..0x18].copy_from_slice(&8u64.to_be_bytes())
        })],
        Depth::Quick,
        "xfs.sb.secondary.mismatch",
    );
    has(
        n,
        &[resealed(n, AG, 512, 0xE0, |b| b[0x180] = 1)],
        Depth::Quick,
        "xfs.sb.secondary.fields",
    );
    has(
        n,
        &[resealed(n, AG, 512, 0xE0, |b| b[0xD7] ^= 1)],
        Depth::Quick,
        "xfs.sb.secondary.fields",
    );
    // v5 needs the v4 feature bits it implies
    has(
        n,
        &[resealed(n, 0, 512, 0xE0, |b| b[0x64] &= 0x7f)],
        Depth::Quick,
        "xfs.sb.primary.version",
    );
    // counters, recomputed from the AGs
    has(
        n,
        &[resealed(n, 0, 512, 0xE0, |b| {
            b[0x80..0x88].copy_from_slice(&7u64.to_be_bytes())
        })],
        Depth::Quick,
        "xfs.sb.counters",
    );
    has(
        n,
        &[resealed(n, 0, 512, 0xE0, |b| b[0xC8] ^= 0x80)],
        Depth::Quick,
        "xfs.sb.primary.version",
    );
    // a quota inode the superblock names that is not allocated
    has(
        n,
        &[resealed(n, 0, 512, 0xE0, |b| {
            b[0xA0..0xA8].copy_from_slice(&2016u64.to_be_bytes())
        })],
        Depth::Full,
        "xfs.sb.metaino",
    );
}

#[test]
fn ag_header_damage() {
    let n = "xfs/v5-4k.img";
    let agf = 512;
    let agi = 1024;
    let agfl = 1536;
    has(
        n,
        &[Patch::Xor {
            offset: agf + 0xD8,
            mask: 1,
        }],
        Depth::Quick,
        "xfs.agf.crc",
    );
    has(n, &[Patch::be32(agf, 0)], Depth::Quick, "xfs.agf.magic");
    has(
        n,
        &[Patch::Xor {
            offset: agi + 0x138,
            mask: 1,
        }],
        Depth::Quick,
        "xfs.agi.crc",
    );
    has(n, &[Patch::be32(agi, 0)], Depth::Quick, "xfs.agi.magic");
    has(
        n,
        &[Patch::Xor {
            offset: agfl + 0x20,
            mask: 1,
        }],
        Depth::Quick,
        "xfs.agfl.crc",
    );
    has(n, &[Patch::be32(agfl, 0)], Depth::Quick, "xfs.agfl.magic");
    // fields the CRC no longer protects against
    has(
        n,
        &[resealed(n, agf, 512, 0xD8, |b| {
            b[0x34..0x38].copy_from_slice(&1u32.to_be_bytes())
        })],
        Depth::Quick,
        "xfs.agf.freeblks",
    );
    has(
        n,
        &[resealed(n, agf, 512, 0xD8, |b| {
            b[0x38..0x3C].copy_from_slice(&2u32.to_be_bytes())
        })],
        Depth::Quick,
        "xfs.agf.longest",
    );
    has(
        n,
        &[resealed(n, agf, 512, 0xD8, |b| b[0x08] = 1)],
        Depth::Quick,
        "xfs.agf.seqno",
    );
    has(
        n,
        &[resealed(n, agf, 512, 0xD8, |b| {
            b[0x30..0x34].copy_from_slice(&100u32.to_be_bytes())
        })],
        Depth::Quick,
        "xfs.agf.freelist",
    );
    has(
        n,
        &[resealed(n, agi, 512, 0x138, |b| {
            b[0x10..0x14].copy_from_slice(&9u32.to_be_bytes())
        })],
        Depth::Quick,
        "xfs.agi.count",
    );
    has(
        n,
        &[resealed(n, agi, 512, 0x138, |b| {
            b[0x1C..0x20].copy_from_slice(&0u32.to_be_bytes())
        })],
        Depth::Quick,
        "xfs.agi.freecount",
    );
    has(
        n,
        &[resealed(n, agi, 512, 0x138, |b| {
            b[0x28..0x2C].copy_from_slice(&3u32.to_be_bytes())
        })],
        Depth::Quick,
        "xfs.agi.unlinked",
    );
    has(
        n,
        &[resealed(n, agi, 512, 0x138, |b| b[0x150] ^= 1)],
        Depth::Quick,
        "xfs.agi.iblocks",
    );
    has(
        n,
        &[resealed(n, agfl, 512, 0x20, |b| b[4] = 2)],
        Depth::Quick,
        "xfs.agfl.seqno",
    );
}

#[test]
fn btree_damage() {
    let n = "xfs/v5-4k.img";
    let bno_root = u64::from(be32_at(n, 512 + 0x10));
    let cnt_root = u64::from(be32_at(n, 512 + 0x14));
    let ino_root = u64::from(be32_at(n, 1024 + 0x14));
    has(
        n,
        &[Patch::Xor {
            offset: bno_root * BS + 0x34,
            mask: 1,
        }],
        Depth::Quick,
        "xfs.bnobt.crc",
    );
    has(
        n,
        &[Patch::be32(bno_root * BS, 0)],
        Depth::Quick,
        "xfs.bnobt.magic",
    );
    has(
        n,
        &[Patch::be32(cnt_root * BS, 0)],
        Depth::Quick,
        "xfs.cntbt.magic",
    );
    has(
        n,
        &[Patch::be32(ino_root * BS, 0)],
        Depth::Quick,
        "xfs.inobt.magic",
    );
    // a root pointer out of the AG, levels beyond any tree of this AG
    has(
        n,
        &[resealed(n, 512, 512, 0xD8, |b| {
            b[0x10..0x14].copy_from_slice(&0xFFFF_0000u32.to_be_bytes())
        })],
        Depth::Quick,
        "xfs.bnobt.root",
    );
    has(
        n,
        &[resealed(n, 512, 512, 0xD8, |b| {
            b[0x1C..0x20].copy_from_slice(&40u32.to_be_bytes())
        })],
        Depth::Quick,
        "xfs.bnobt.levels",
    );
    // a free extent changed in one tree only (block CRC recomputed)
    has(
        n,
        &[resealed(n, cnt_root * BS, BS as usize, 0x34, |b| {
            b[56 + 7] ^= 1
        })],
        Depth::Quick,
        "xfs.space.bno_cnt_disagree",
    );
    // records out of order
    has(
        n,
        &[resealed(n, bno_root * BS, BS as usize, 0x34, |b| {
            b.copy_within(56..64, 64)
        })],
        Depth::Quick,
        "xfs.bnobt.order",
    );
    // a block that names another AG as its owner
    has(
        n,
        &[resealed(n, ino_root * BS, BS as usize, 0x34, |b| {
            b[0x33] = 3
        })],
        Depth::Quick,
        "xfs.inobt.header",
    );
}

#[test]
fn log_damage() {
    let n = "xfs/v5-4k.img";
    let r = run(&fixture(n), Depth::Quick);
    let lg = r.summary.unwrap().log;
    // Zero the whole log: no record header, cycle 0 at block 0.
    let d = damaged(
        n,
        &[Patch::Zero {
            offset: lg.start,
            len: lg.len,
        }],
    );
    let r = run(d.path(), Depth::Quick);
    assert_eq!(r.summary.unwrap().log.state, LogState::Zeroed);
    // Break the unmount record's header: the record before it names an
    // older tail, so the log reads as dirty (xfs_logprint agrees: tail
    // 1271, head 1275 on this fixture).
    let hdr = lg.start + ((lg.last_lsn & 0xffff_ffff) * 512);
    has(n, &[Patch::be32(hdr, 0)], Depth::Quick, "xfs.log.dirty");
    // No record header anywhere, but cycles written: corrupt.
    let d = damaged(
        n,
        &[
            Patch::Zero {
                offset: lg.start,
                len: lg.len,
            },
            Patch::be32(lg.start, 1),
        ],
    );
    let r = run(d.path(), Depth::Quick);
    assert!(
        codes(&r).contains(&"xfs.log.no_header".to_string()),
        "{:?}",
        codes(&r)
    );
}

#[test]
fn inode_and_directory_damage() {
    let n = "xfs/v5-4k.img";
    // The root inode (128) sits at the start of the first inode chunk.
    let root = 128u64;
    let r = FileReader::open(fixture(n)).unwrap();
    let mut b = vec![0u8; 512];
    let ino_off = {
        // agino 128 of AG 0: block 128 >> inopblog(3) = 16
        (root >> 3) * BS + (root & 7) * 512
    };
    r.read_exact_at(ino_off, &mut b).unwrap();
    assert_eq!(&b[0..2], b"IN", "root inode at {ino_off:#x}");
    has(
        n,
        &[Patch::Xor {
            offset: ino_off + 0x64,
            mask: 1,
        }],
        Depth::Full,
        "xfs.inode.crc",
    );
    has(
        n,
        &[Patch::Bytes {
            offset: ino_off,
            bytes: vec![0, 0],
        }],
        Depth::Full,
        "xfs.inode.magic",
    );
    // Quick does not read inodes beyond the root's times.
    let d = damaged(
        n,
        &[Patch::Xor {
            offset: ino_off + 0x64 + 512,
            mask: 1,
        }],
    );
    assert!(problems(&run(d.path(), Depth::Quick)).is_empty());
    assert!(!problems(&run(d.path(), Depth::Full)).is_empty());
}

#[test]
fn a_fork_root_pointing_outside_is_named_at_its_inode() {
    // /many (inode 141, byte 72192) maps its data through a bmbt whose root
    // lives in the inode. Bit 63 of its one pointer set, CRC recomputed
    // (xfs_db fuzz -d ... firstbit on an attribute fork's root: xfs_repair
    // 6.1 -n passed it).
    let n = "xfs/v5-4k.img";
    let ino_off = 72192u64;
    let r = FileReader::open(fixture(n)).unwrap();
    let mut b = vec![0u8; 512];
    r.read_exact_at(ino_off, &mut b).unwrap();
    assert_eq!(
        (&b[0..2], b[5]),
        (&b"IN"[..], 3),
        "btree inode at {ino_off:#x}"
    );
    // the bmdr root: {level, numrecs} then keys and pointers, 4-aligned
    let ptr = (180..512 - 8)
        .step_by(4)
        .find(|&o| u64::from_be_bytes(b[o..o + 8].try_into().unwrap()) == 1056)
        .unwrap();
    let d = damaged(n, &[resealed(n, ino_off, 512, 0x64, |x| x[ptr] ^= 0x80)]);
    let rep = run(d.path(), Depth::Full);
    let f = rep
        .findings
        .iter()
        .find(|f| f.code == "xfs.bmbt.ptr")
        .unwrap_or_else(|| panic!("{:#?}", problems(&rep)));
    assert_eq!((f.severity, f.offset), (Severity::Error, ino_off));
}

#[test]
fn hostile_bytes_never_panic() {
    // A superblock that validates on a buffer too short for its AGs.
    let img = std::fs::read(fixture("xfs/v5-4k.img")).unwrap();
    for len in [512usize, 4096, 1 << 20, 17 << 20] {
        let r = BytesReader::new(img[..len].to_vec());
        let rep = check(&r, &Options { depth: Depth::Full });
        assert!(rep.summary.is_some());
        assert!(
            codes(&rep).contains(&"xfs.size.truncated".to_string()),
            "{len}"
        );
    }
    // Every byte of the first AG's headers flipped in turn, quick depth.
    for off in (0..2048).step_by(7) {
        let mut m = img[..(20 << 20)].to_vec();
        m[off] ^= 0xA5;
        let _ = check(&BytesReader::new(m), &Options { depth: Depth::Full });
    }
}

/// util-linux's blkid XFS images (../shared/corpus): small one-AG
/// filesystems mkfs.xfs made, v4 and v5; read clean, the single AG named.
#[test]
fn blkid_corpus_images() {
    let Some(dir) = imgcheck_testdata::corpus_dir().map(|d| d.join("blkid-fs")) else {
        println!("skipped: no ../shared/corpus");
        return;
    };
    let mut n = 0;
    for name in ["xfs", "xfs-v5"] {
        let Ok(out) = std::process::Command::new("xz")
            .arg("-dc")
            .arg(dir.join(format!("{name}.img.xz")))
            .output()
        else {
            println!("skipped: no xz");
            return;
        };
        let r = BytesReader::new(out.stdout);
        let rep = check(&r, &Options { depth: Depth::Full });
        assert!(problems(&rep).is_empty(), "{name}: {:#?}", problems(&rep));
        assert!(
            codes(&rep).contains(&"xfs.sb.single_ag".to_string()),
            "{name}"
        );
        n += 1;
    }
    println!("blkid corpus: {n} XFS images read clean");
}

#[test]
fn realtime_bitmap_summary_and_free_count() {
    // v5-rt (testdata/scripts/xfs.sh): 4 KiB blocks, 4096 realtime
    // extents, all free; the bitmap inode 129 maps block 9, the summary
    // inode 130 block 10. Each edit below is one xfs_repair -n 6.1 flags
    // ("sb_frextents 100, counted 4096", "discrepancy in rtbitmap",
    // "discrepancy in rtsummary", "realtime bitmap inode has bad size").
    let n = "xfs/v5-rt.img";
    let sb = |off: u64, v: Vec<u8>| {
        resealed(n, 0, 512, 0xE0, move |b| {
            b[off as usize..off as usize + v.len()].copy_from_slice(&v)
        })
    };
    has(
        n,
        &[sb(0x98, 100u64.to_be_bytes().to_vec())],
        Depth::Full,
        "xfs.sb.frextents",
    );
    // one bitmap word cleared: 32 extents marked in use that no file maps
    has(
        n,
        &[Patch::Bytes {
            offset: 9 * BS + 100,
            bytes: vec![0; 4],
        }],
        Depth::Full,
        "xfs.rt.bitmap",
    );
    // a count of free one-extent runs that do not exist
    has(
        n,
        &[Patch::Bytes {
            offset: 10 * BS,
            bytes: vec![7, 0, 0, 0],
        }],
        Depth::Full,
        "xfs.rt.summary",
    );
    // the bitmap inode's size (0x38 in the core), CRC resealed
    has(
        n,
        &[resealed(n, 0x10200, 512, 0x64, |b| {
            b[0x38..0x40].copy_from_slice(&0u64.to_be_bytes())
        })],
        Depth::Full,
        "xfs.rt.inode_size",
    );
}

#[test]
fn quota_bit_without_quota_inodes() {
    // This kernel has no CONFIG_XFS_QUOTA and mkfs.xfs 6.1 makes no quota
    // inodes, so the one quota state testable here is the feature bit
    // with none: xfs_repair -n 6.1 says "no quota inodes were found.
    // Quotas would be disabled." and exits 1 (versionnum 0xb4b5 | 0x40).
    let n = "xfs/v5-4k.img";
    let v = be32_at(n, 0x64) >> 16;
    let p = resealed(n, 0, 512, 0xE0, move |b| {
        b[0x64..0x66].copy_from_slice(&((v as u16) | 0x40).to_be_bytes())
    });
    has(n, &[p], Depth::Quick, "xfs.sb.quota");
}

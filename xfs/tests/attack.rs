//! Fixes for what an independent attack on the xfs checker found
//! (session 4), each on a kernel-populated fixture damaged as the attack
//! damaged its own images.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

use imgcheck_core::{Depth, FileReader, ReadAt, Severity};
use imgcheck_testdata::{Patch, damaged, fixture};
use imgcheck_xfs::{LogState, Options, check};

fn be(name: &str, off: u64, len: usize) -> u64 {
    let r = FileReader::open(fixture(name)).unwrap();
    let mut b = vec![0u8; len];
    r.read_exact_at(off, &mut b).unwrap();
    b.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x))
}

/// The internal log of fixture `name`: (byte offset, length).
fn log_region(name: &str) -> (u64, u64) {
    let bs = be(name, 4, 4);
    let logstart = be(name, 0x30, 8);
    let agblklog = be(name, 0x7C, 1);
    let agblocks = be(name, 0x54, 4);
    let agbno = logstart & ((1 << agblklog) - 1);
    let at = ((logstart >> agblklog) * agblocks + agbno) * bs;
    (at, be(name, 0x60, 4) * bs)
}

#[test]
fn a_wiped_log_under_written_metadata_is_damage() {
    // The attack's repro-1: the kernel wrote the filesystem, then the
    // internal log was zeroed with dd. xfs_repair -n: "Maximum metadata
    // LSN (1:2) is ahead of log (0:0)", exit 1; imgcheck said clean.
    let n = "xfs/v5-4k.img";
    let (at, len) = log_region(n);
    assert_eq!(at, 0x2007000); // xfs_db convert fsb logstart byte
    let d = damaged(n, &[Patch::Zero { offset: at, len }]);
    let r = check(
        &FileReader::open(d.path()).unwrap(),
        &Options { depth: Depth::Full },
    );
    assert_eq!(r.summary.as_ref().unwrap().log.state, LogState::Zeroed);
    assert!(
        r.findings
            .iter()
            .any(|f| f.code == "xfs.log.lsn_ahead" && f.severity == Severity::Error),
        "{:#?}",
        r.findings
    );
    // Never mounted (mkfs's metadata carries LSN 0) and its log zeroed:
    // xfs_repair -n still says "Maximum metadata LSN (0:0) is ahead of log
    // (0:0)" and exits 1 (mkfs leaves an unmount record; zeroes are a wipe)
    let fresh = "xfs/v5-notgrown.img";
    let (at, len) = log_region(fresh);
    let d = damaged(fresh, &[Patch::Zero { offset: at, len }]);
    let r = check(
        &FileReader::open(d.path()).unwrap(),
        &Options { depth: Depth::Full },
    );
    assert_eq!(r.summary.as_ref().unwrap().log.state, LogState::Zeroed);
    assert!(r.findings.iter().any(|f| f.code == "xfs.log.lsn_ahead"));
}

#[test]
fn a_secondary_superblocks_uuid_is_info() {
    // The attack's sb2-uuid: a random UUID in AG 2's superblock, CRC
    // recomputed. xfs_repair -n exits 0 (it compares no secondary UUID);
    // the kernel's scrub only preens it. It was an error.
    let n = "xfs/v5-4k.img";
    let ag = be(n, 0x54, 4) * be(n, 4, 4);
    let r = FileReader::open(fixture(n)).unwrap();
    let mut b = vec![0u8; 512];
    r.read_exact_at(2 * ag, &mut b).unwrap();
    b[0x20..0x30].copy_from_slice(&[0x42; 16]);
    let c = imgcheck_xfs::crc::compute(&b, 0xE0);
    b[0xE0..0xE4].copy_from_slice(&c.to_le_bytes());
    let d = damaged(
        n,
        &[Patch::Bytes {
            offset: 2 * ag,
            bytes: b,
        }],
    );
    let r = check(
        &FileReader::open(d.path()).unwrap(),
        &Options { depth: Depth::Full },
    );
    assert!(
        r.findings
            .iter()
            .any(|f| f.code == "xfs.sb.secondary.uuid" && f.severity == Severity::Info)
    );
    assert!(
        r.findings.iter().all(|f| f.severity < Severity::Warning),
        "{:#?}",
        r.findings
    );
}

//! The checker on the fixtures testdata/scripts/xfs-vm.sh makes in a VM
//! (Debian's kernel, with the XFS quota, realtime and v4 support this
//! host's kernel lacks): quota files holding dquots for several users,
//! groups and projects with limits set by xfs_quota, realtime files with
//! data, and v4 filesystems the kernel populated. Each damage below is
//! one `xfs_repair -n` 6.1 flags (its message quoted), and each asserts a
//! code only its check emits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

use imgcheck_core::{Depth, FileReader, ReadAt, Severity};
use imgcheck_testdata::{Patch, damaged, fixture};
use imgcheck_xfs::{Options, Report, check};

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

fn has(name: &str, patches: &[Patch], code: &str) {
    let d = damaged(name, patches);
    let r = run(d.path(), Depth::Full);
    assert!(
        r.findings.iter().any(|f| f.code == code),
        "{name} {patches:?}: expected {code}, got {:#?}",
        problems(&r)
    );
}

/// `len` bytes at `off`, edited, CRC at `crc_off` recomputed.
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

const VM_CLEAN: &[&str] = &[
    "xfs/v5-quota.img",
    // 1 KiB blocks: one block a dquot chunk, 7 dquots each (a 4 KiB chunk
    // read here once called every chunk unmapped)
    "xfs/v5-quota-1k.img",
    "xfs/v4-quota.img",
    "xfs/v4-pquota.img",
    "xfs/v5-rtdata.img",
    "xfs/v4-rtdata.img",
    // v4, 1 KiB blocks, no ftype: block, leaf, node and btree directories
    "xfs/v4-kern.img",
];

#[test]
fn vm_fixtures_are_clean_and_their_quotas_are_read() {
    // xfs_repair -n 6.1 exits 0 on each (xfs-vm.sh prints it)
    for name in VM_CLEAN {
        for depth in [Depth::Quick, Depth::Full] {
            let r = run(&fixture(name), depth);
            assert!(
                problems(&r).is_empty(),
                "{name} {depth:?}: {:#?}",
                problems(&r)
            );
        }
    }
}

/// v5-quota: 4 KiB blocks, 30 dquots a block; user quota inode 131 maps
/// file block 33 (ids 990..1019) at block 580, so id 1001 is record 11.
const V5_U1001: u64 = 580 * 4096 + 11 * 136;
/// v4-quota: the same ids; file block 33 at block 564.
const V4_U1001: u64 = 564 * 4096 + 11 * 136;

#[test]
fn dquot_records_are_verified() {
    let n = "xfs/v5-quota.img";
    // one bit of a dquot with its CRC left alone
    has(
        n,
        &[Patch::Xor {
            offset: V5_U1001 + 0x40,
            mask: 1,
        }],
        "xfs.quota.crc",
    );
    // d_magic, resealed ("Metadata corruption detected ... xfs_dquot")
    has(
        n,
        &[resealed(n, V5_U1001, 136, 0x6C, |b| b[0] = 0x45)],
        "xfs.quota.dquot",
    );
    // d_id 1002 in the place of 1001 (the verifier's id + i)
    has(
        n,
        &[resealed(n, V5_U1001, 136, 0x6C, |b| {
            b[4..8].copy_from_slice(&1002u32.to_be_bytes())
        })],
        "xfs.quota.dquot",
    );
    // icount 4 is over its soft limit 2: zeroing d_itimer stops the timer
    has(
        n,
        &[resealed(n, V5_U1001, 136, 0x6C, |b| b[0x38..0x3C].fill(0))],
        "xfs.quota.dquot",
    );
    // a group dquot in the user file (d_type 0x84)
    has(
        n,
        &[resealed(n, V5_U1001, 136, 0x6C, |b| b[3] = 0x84)],
        "xfs.quota.dquot",
    );
    // v4: no CRC; the version byte
    has(
        "xfs/v4-quota.img",
        &[Patch::Bytes {
            offset: V4_U1001 + 2,
            bytes: vec![2],
        }],
        "xfs.quota.dquot",
    );
}

#[test]
fn quota_counts_are_recounted_from_the_inodes() {
    let n = "xfs/v5-quota.img";
    // d_bcount 9 -> 10 ("user quota id 1001 has bcount 10, expected 9")
    has(
        n,
        &[resealed(n, V5_U1001, 136, 0x6C, |b| b[0x2F] += 1)],
        "xfs.quota.count",
    );
    // d_icount 4 -> 3
    has(
        n,
        &[resealed(n, V5_U1001, 136, 0x6C, |b| b[0x37] -= 1)],
        "xfs.quota.count",
    );
    // inode 4743 (/users/u1000/f1) given uid 4242: "user quota id 1000 has
    // bcount 27, expected 21" and "user quota record for id 4242 not
    // found on disk (bcount 6 rtbcount 0 icount 1)"
    let chown = resealed(n, 0x250e00, 512, 0x64, |b| {
        b[8..12].copy_from_slice(&4242u32.to_be_bytes())
    });
    has(n, std::slice::from_ref(&chown), "xfs.quota.missing");
    has(n, &[chown], "xfs.quota.count");
    // 1 KiB blocks: id 1001 is record 0 of file block 143, at block 2283
    let k1 = "xfs/v5-quota-1k.img";
    has(
        k1,
        &[resealed(k1, 2283 * 1024, 136, 0x6C, |b| b[0x37] -= 1)],
        "xfs.quota.count",
    );
    // v4 (no CRC): d_bcount of user 1001
    has(
        "xfs/v4-quota.img",
        &[Patch::Bytes {
            offset: V4_U1001 + 0x2F,
            bytes: vec![10],
        }],
        "xfs.quota.count",
    );
}

#[test]
fn realtime_extents_are_claimed_once() {
    // v5-rtdata: 16 KiB realtime extents (4 blocks). /rtdir/r2 (inode
    // 73799 at 0x1808e00) maps rt blocks 2048..2052; /rtfile maps 1152..
    // Pointing r2's extent at 1152 makes two files claim one rt extent
    // (xfs_repair -n: "... claims dup rt extent").
    let n = "xfs/v5-rtdata.img";
    let p = resealed(n, 0x1808e00, 512, 0x64, |b| {
        let rec = &mut b[176..192];
        let l0 = u64::from_be_bytes(rec[0..8].try_into().unwrap());
        let l1 = u64::from_be_bytes(rec[8..16].try_into().unwrap());
        let len = l1 & ((1 << 21) - 1);
        let start: u64 = 1152;
        let l0 = (l0 & !0x1FF) | (start >> 43);
        let l1 = ((start & ((1 << 43) - 1)) << 21) | len;
        rec[0..8].copy_from_slice(&l0.to_be_bytes());
        rec[8..16].copy_from_slice(&l1.to_be_bytes());
    });
    has(n, &[p], "xfs.rt.shared");
    // /rtmany's bmbt leaf (block 591): record 202 is the unwritten rest
    // [653, 3) of the rt extent record 201's written block 652 starts.
    // Moved to 652 it starts the extent again: repair's fuzz run miss,
    // "data fork in rt inode 4739 claims used rt extent 652"
    let leaf = resealed(n, 591 * 4096, 4096, 0x40, |b| {
        let o = 72 + 201 * 16 + 8;
        let l1 = u64::from_be_bytes(b[o..o + 8].try_into().unwrap());
        let l1 = (l1 & ((1 << 21) - 1)) | (652 << 21);
        b[o..o + 8].copy_from_slice(&l1.to_be_bytes());
    });
    has(n, &[leaf], "xfs.rt.shared");
    // an unwritten record moved inside an extent no record claims
    // ("found invalid rt extent state"): record 202 to block 2045, in the
    // rt extent 511 (2044..2048) that nothing maps
    let stray = resealed(n, 591 * 4096, 4096, 0x40, |b| {
        let o = 72 + 201 * 16 + 8;
        let l1 = u64::from_be_bytes(b[o..o + 8].try_into().unwrap());
        let l1 = (l1 & ((1 << 21) - 1)) | (2045 << 21);
        b[o..o + 8].copy_from_slice(&l1.to_be_bytes());
    });
    has(n, &[stray], "xfs.rt.partial");
}

#[test]
fn duplicate_names_in_a_directory() {
    // v4-kern: /sf (inode 67, short form, at 0x4300) holds f1, f2, f3.
    // One bit of "f3" flipped makes it "f2" (a fuzz.py miss: xfs_repair
    // -n "entry "f2" (ino 72) in dir 67 is a duplicate name, would junk").
    let n = "xfs/v4-kern.img";
    let r = FileReader::open(fixture(n)).unwrap();
    let mut b = vec![0u8; 256];
    r.read_exact_at(0x4300, &mut b).unwrap();
    let at = (100..254).find(|&i| &b[i..i + 2] == b"f3").unwrap() as u64;
    has(
        n,
        &[Patch::Bytes {
            offset: 0x4300 + at + 1,
            bytes: vec![b'2'],
        }],
        "xfs.dir.duplicate",
    );
}

//! Differential tests against xfsprogs, computed here when it is installed
//! (CI installs it) and skipped visibly otherwise:
//! - a fixed-seed sample of testdata/xfs/fuzz.py's cases: one field of one
//!   structure fuzzed by `xfs_db -x -c "fuzz -d FIELD VERB"`, as xfstests
//!   does; whenever `xfs_repair -n` flags the image, the checker must too;
//! - a sample of testdata/xfs/matrix.sh: fresh mkfs.xfs filesystems over
//!   its options, which xfs_repair -n passes and the checker must pass.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

use imgcheck_core::{Depth, FileReader, Severity};
use imgcheck_testdata::fixture;
use imgcheck_xfs::{Options, check};
use std::path::Path;
use std::process::Command;

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn tools() -> bool {
    let ok = have("xfs_db") && have("xfs_repair") && have("mkfs.xfs");
    if !ok {
        eprintln!(
            "SKIPPED: xfsprogs (xfs_db, xfs_repair, mkfs.xfs) is not installed; the XFS differential tests did not run"
        );
    }
    ok
}

fn repair_n(img: &Path, devs: &[String]) -> i32 {
    let o = Command::new("xfs_repair")
        .arg("-n")
        .args(devs)
        .arg(img)
        .output()
        .unwrap();
    o.status.code().unwrap_or(-1)
}

fn ours(img: &Path) -> Vec<String> {
    let r = FileReader::open(img).unwrap();
    check(&r, &Options { depth: Depth::Full })
        .findings
        .into_iter()
        .filter(|f| f.severity >= Severity::Warning)
        .map(|f| f.code.into_owned())
        .collect()
}

/// (fixture, xfs_db selector commands, field, verb).
type Case = (
    &'static str,
    &'static [&'static str],
    &'static str,
    &'static str,
);

/// A fixed sample of testdata/xfs/fuzz.py's cases over every kind of
/// structure; testdata/xfs/fuzz.py runs them all.
const CASES: &[Case] = &[
    ("v5-4k", &["sb 0"], "dblocks", "add"),
    ("v5-4k", &["sb 0"], "versionnum", "firstbit"),
    ("v5-4k", &["sb 0"], "uquotino", "add"),
    ("v5-4k", &["sb 0"], "icount", "lastbit"),
    ("v5-4k", &["sb 1"], "agblocks", "sub"),
    ("v5-4k", &["sb 1"], "features_ro_compat", "firstbit"),
    ("v5-4k", &["agf 0"], "freeblks", "add"),
    ("v5-4k", &["agf 0"], "bnolevel", "ones"),
    ("v5-4k", &["agf 1"], "flcount", "sub"),
    ("v5-4k", &["agi 0"], "count", "middlebit"),
    ("v5-4k", &["agi 0"], "unlinked[3]", "zeroes"),
    ("v5-4k", &["agi 1"], "free_level", "add"),
    ("v5-4k", &["agfl 0"], "bno[0]", "ones"),
    (
        "v5-4k",
        &["agf 0", "addr bnoroot"],
        "recs[1].startblock",
        "add",
    ),
    (
        "v5-4k",
        &["agf 0", "addr cntroot"],
        "recs[1].blockcount",
        "sub",
    ),
    (
        "v5-4k",
        &["agi 0", "addr root"],
        "recs[1].freecount",
        "lastbit",
    ),
    (
        "v5-4k",
        &["agi 0", "addr free_root"],
        "recs[1].startino",
        "firstbit",
    ),
    (
        "v5-4k",
        &["agf 0", "addr rmaproot"],
        "keys[1].startblock",
        "add",
    ),
    (
        "v5-4k",
        &["agf 0", "addr refcntroot"],
        "recs[1].refcount",
        "add",
    ),
    ("v5-4k", &["path /"], "core.nlinkv2", "add"),
    (
        "v5-4k",
        &["path /sf"],
        "u3.sfdir3.list[0].inumber.i4",
        "ones",
    ),
    ("v5-4k", &["path /frag1"], "core.nblocks", "sub"),
    ("v5-4k", &["path /frag1"], "u3.bmx[1].startblock", "add"),
    ("v5-4k", &["path /many"], "core.nextents", "add"),
    (
        "v5-4k",
        &["path /prealloc"],
        "u3.bmx[0].extentflag",
        "zeroes",
    ),
    ("v5-4k", &["path /shortlink"], "core.size", "add"),
    ("v5-4k", &["path /null"], "core.format", "ones"),
    ("v5-4k", &["path /sf/f1"], "core.forkoff", "add"),
    (
        "v5-4k",
        &["path /many", "addr u3.bmbt.ptrs[1]"],
        "recs[1].startoff",
        "add",
    ),
    (
        "v5-4k",
        &["path /block", "dblock 0"],
        "bu[3].namelen",
        "add",
    ),
    (
        "v5-4k",
        &["path /leaf", "dblock 0"],
        "bhdr.bestfree[0].length",
        "add",
    ),
    (
        "v5-4k",
        &["path /leaf", "dblock 8388608"],
        "lents[2].hashval",
        "add",
    ),
    (
        "v5-4k",
        &["path /node", "dblock 8388608"],
        "nbtree[0].hashval",
        "sub",
    ),
    (
        "v5-4k",
        &["path /node", "dblock 16777216"],
        "bests[0]",
        "add",
    ),
    ("v5-4k", &["path /sf/f2", "ablock 0"], "hdr.count", "add"),
    (
        "v5-4k",
        &["path /longlink", "dblock 0"],
        "hdr.offset",
        "add",
    ),
    ("v5-1k", &["agf 0", "addr rmaproot"], "recs[2].owner", "add"),
    (
        "v5-1k",
        &["path /many", "addr u3.bmbt.ptrs[1]"],
        "recs[1].extentflag",
        "lastbit",
    ),
    (
        "v5-1k",
        &["path /many", "addr u3.bmbt.ptrs[1]"],
        "recs[1].startblock",
        "sub",
    ),
    ("v4", &["sb 0"], "rootino", "add"),
    ("v4", &["agi 0"], "root", "firstbit"),
    ("v4", &["path /"], "core.mtime.nsec", "ones"),
    ("v4", &["path /d", "dblock 0"], "bu[2].inumber", "add"),
    // a first-used byte below the lowest name (a miss of fuzz.py's run:
    // repair "would reset first used value")
    (
        "v5-plain",
        &["path /sf/f2", "ablock 0"],
        "hdr.firstused",
        "sub",
    ),
    // v5-rt: the realtime bitmap (inode 129) and summary (130) on the
    // data device; xfs_repair -n is given a zeroed realtime device
    ("v5-rt", &["sb 0"], "frextents", "add"),
    ("v5-rt", &["sb 0"], "frextents", "firstbit"),
    ("v5-rt", &["inode 129"], "core.size", "middlebit"),
    ("v5-rt", &["inode 130"], "core.size", "add"),
    // fuzz.py's misses on them: one link each, no unwritten extents
    ("v5-rt", &["inode 130"], "core.nlinkv2", "zeroes"),
    ("v5-rt", &["inode 129"], "core.nlinkv2", "lastbit"),
    ("v5-rt", &["inode 130"], "u3.bmx[0]", "firstbit"),
    // testdata/scripts/xfs-vm.sh (made in a VM with Debian's kernel):
    // dquots, their counts against the inodes' owners, realtime files
    ("v5-quota", &["dquot -u 1001"], "diskdq.bcount", "add"),
    ("v5-quota", &["dquot -u 1001"], "crc", "random"),
    ("v5-quota", &["dquot -u 70000"], "diskdq.id", "firstbit"),
    ("v5-quota", &["dquot -p 42"], "diskdq.icount", "sub"),
    ("v5-quota", &["dquot -g 1005"], "diskdq.type", "middlebit"),
    ("v4-quota", &["dquot -u 0"], "diskdq.icount", "add"),
    ("v4-quota", &["dquot -g 1005"], "diskdq.magic", "zeroes"),
    ("v4-pquota", &["dquot -p 42"], "diskdq.bcount", "sub"),
    (
        "v5-rtdata",
        &["path /rtfile"],
        "u3.bmx[2].startblock",
        "add",
    ),
    (
        "v5-rtdata",
        &["path /rtdir/r2"],
        "u3.bmx[0].blockcount",
        "add",
    ),
    ("v4-rtdata", &["path /rtfile"], "u.bmx[0].startblock", "sub"),
    (
        "v5-rtdata",
        &["path /rtmany", "addr u3.bmbt.ptrs[1]"],
        "recs[1].startblock",
        "add",
    ),
];

#[test]
fn fuzzed_images_xfs_repair_flags_are_flagged() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (mut repair_flagged, mut both, mut extra) = (0, 0, 0);
    let mut misses = Vec::new();
    for (n, (fx, sel, field, verb)) in CASES.iter().enumerate() {
        let img = dir.path().join(format!("c{n}.img"));
        std::fs::copy(fixture(&format!("xfs/{fx}.img")), &img).unwrap();
        let mut db = Command::new("xfs_db");
        db.arg("-x");
        for s in *sel {
            db.arg("-c").arg(s);
        }
        let flag = if field.ends_with("crc") { "-c" } else { "-d" };
        db.arg("-c")
            .arg(format!("fuzz {flag} {field} {verb}"))
            .arg(&img);
        let out = db.output().unwrap();
        assert!(
            out.status.success(),
            "xfs_db on {fx} {sel:?} {field}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut devs = Vec::new();
        if fx.ends_with("-rtdata") {
            // xfs-vm.sh keeps the written realtime device beside the image
            devs = vec![
                "-r".to_string(),
                fixture(&format!("xfs/{fx}.rtdev")).display().to_string(),
            ];
        } else if *fx == "v5-rt" {
            // the fixture's 4096 realtime blocks of 4 KiB, never written
            let rt = dir.path().join(format!("c{n}.rt"));
            std::fs::File::create(&rt)
                .unwrap()
                .set_len(16 << 20)
                .unwrap();
            devs = vec!["-r".to_string(), rt.display().to_string()];
        }
        let rc = repair_n(&img, &devs);
        let codes = ours(&img);
        if rc != 0 {
            repair_flagged += 1;
            if codes.is_empty() {
                misses.push(format!("{fx} {sel:?} {field} {verb}"));
            } else {
                both += 1;
            }
        } else if !codes.is_empty() {
            extra += 1;
        }
        std::fs::remove_file(&img).unwrap();
    }
    eprintln!(
        "xfs differential sample: {} fuzzed images, xfs_repair -n flagged {repair_flagged}, the checker flagged {both} of those; {extra} more flagged by the checker only",
        CASES.len()
    );
    assert!(
        repair_flagged >= CASES.len() * 3 / 4,
        "the sample should mostly hold damage xfs_repair sees"
    );
    assert!(
        misses.is_empty(),
        "xfs_repair -n flags, the checker does not: {misses:#?}"
    );
}

#[test]
fn fresh_filesystems_over_mkfs_options_are_clean() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let configs: &[&str] = &[
        "-b size=1024 -d agcount=2 -m rmapbt=1",
        "-b size=4096 -d agcount=5 -m finobt=0,reflink=0,bigtime=0,inobtcount=0 -i sparse=0",
        "-b size=2048 -d agcount=3 -i size=1024,nrext64=1 -m rmapbt=1",
        "-b size=65536 -d agcount=2",
        "-s size=4096 -d agcount=4 -n size=16384",
        "-m crc=0 -i size=256 -d agcount=4",
        "-m crc=0 -b size=1024 -d agcount=2",
        "-m crc=0 -b size=512 -d agcount=3 -i size=256",
        "-d agcount=3,su=65536,sw=4 -l size=4096b",
        "-b size=2048 -d agcount=2 -l logdev={log},size=8m",
        "-d agcount=2 -m reflink=0 -r rtdev={rt},extsize=65536",
    ];
    for (i, opts) in configs.iter().enumerate() {
        let img = dir.path().join(format!("m{i}.img"));
        std::fs::File::create(&img)
            .unwrap()
            .set_len(96 << 20)
            .unwrap();
        // {log} and {rt}: an external log and a realtime device, files
        // beside the image that xfs_repair -n is given too
        let log = dir.path().join(format!("m{i}.log"));
        let rt = dir.path().join(format!("m{i}.rt"));
        let mut devs = Vec::new();
        for (mark, path, flag) in [("{log}", &log, "-l"), ("{rt}", &rt, "-r")] {
            if opts.contains(mark) {
                std::fs::File::create(path)
                    .unwrap()
                    .set_len(16 << 20)
                    .unwrap();
                devs.push(flag.to_string());
                devs.push(path.display().to_string());
            }
        }
        let opts = opts
            .replace("{log}", &log.display().to_string())
            .replace("{rt}", &rt.display().to_string());
        let out = Command::new("mkfs.xfs")
            .args(["-q", "-f"])
            .args(opts.split(' '))
            .arg(&img)
            .env("TEST_DIR", "/tmp")
            .env("TEST_DEV", "/dev/null")
            .env("QA_CHECK_FS", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mkfs.xfs {opts}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rc = Command::new("xfs_repair")
            .arg("-n")
            .args(&devs)
            .arg(&img)
            .output()
            .unwrap()
            .status
            .code();
        assert_eq!(rc, Some(0), "xfs_repair -n on mkfs.xfs {opts}");
        let codes = ours(&img);
        assert!(codes.is_empty(), "mkfs.xfs {opts}: {codes:?}");
    }
    eprintln!(
        "xfs clean sample: {} fresh filesystems, 0 false alarms (testdata/xfs/matrix.sh runs the populated matrix)",
        configs.len()
    );
}

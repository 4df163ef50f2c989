//! `imgcheck compare`'s verdict must not hang on the order the copies are
//! given (attack F8, F9, F15, F20): for every scenario built here with real
//! tools (qemu-img, qemu-io, sgdisk, tune2fs, setfattr for Gluster's AFR
//! xattrs) every permutation of the arguments is compared and each
//! report's typed verdict — which pairs are one disk, which copy is newer,
//! the heal source and sink, what reverting a snapshot loses — is set
//! against the first order's, up to the relabelling (pairs are keyed by
//! their two labels, not by which came first). The suite runs a sample;
//! `cargo test --test compare_orders -- --ignored` runs every scenario in
//! every order (at most [`MAX_ORDERS`] per scenario) and prints the counts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

mod compare_common;
use compare_common::{afr_set, copy_to};

use imgcheck::compare::{
    compare,
    model::{CompareReport, Kinship, Newer},
};
use imgcheck_testdata::fixture;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Orders tried at most per scenario (all of them up to four copies).
const MAX_ORDERS: usize = 24;

fn have(tool: &str, arg: &str) -> bool {
    Command::new(tool).arg(arg).output().is_ok()
}

fn tools() -> bool {
    let ok = have("qemu-img", "--version")
        && have("qemu-io", "--version")
        && have("sgdisk", "-V")
        && have("tune2fs", "-l")
        && have("dd", "--version");
    if !ok {
        eprintln!("SKIP: qemu-img, qemu-io, sgdisk, tune2fs or dd not installed");
    }
    ok
}

fn run(tool: &str, args: &[&str]) {
    let o = Command::new(tool).args(args).output().unwrap();
    assert!(o.status.success(), "{tool} {args:?}: {o:?}");
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// A raw conversion of a fixture.
fn raw_of(dir: &Path, rel: &str, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    run(
        "qemu-img",
        &["convert", "-O", "raw", &s(&fixture(rel)), &s(&to)],
    );
    to
}

/// Marks `brick` as a brick root and gives `file` the volume's gfid.
fn on_brick(brick: &Path, file: &Path) -> bool {
    let set = |p: &Path, n: &str, v: &str| {
        Command::new("setfattr")
            .args(["-n", n, "-v", v])
            .arg(p)
            .status()
            .is_ok_and(|s| s.success())
    };
    set(
        brick,
        "trusted.glusterfs.volume-id",
        "0x7d9c1e5200000000000000000000aaaa",
    ) && set(file, "trusted.gfid", "0x11111111222233334444555555555555")
}

/// One scenario: its copies (paths or PATH@SNAP) and the directory that
/// holds what was made for it.
pub struct Scenario {
    /// What it re-enacts.
    pub name: String,
    /// The arguments, in the order the scenario was made.
    pub copies: Vec<String>,
    _dir: tempfile::TempDir,
}

/// Brick files of replica1 (each with a qemu-io write of its own, so all
/// differ and none is dated newer), the `xattrs[i]` of brick i as
/// (client, data, metadata) counters. `empty` bricks hold a 0-byte file
/// (an arbiter's). `None` when setfattr is refused.
fn bricks(
    dir: &Path,
    xattrs: &[&[(usize, u32, u32)]],
    empty: &[usize],
    dirty: &[u32],
) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for (i, xs) in xattrs.iter().enumerate() {
        let name = format!("brick{i}/images/vm.qcow2");
        let p = if empty.contains(&i) {
            let p = dir.join(&name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::File::create(&p).unwrap();
            p
        } else {
            let p = copy_to(dir, "compare/replica1.qcow2", &name);
            let w = format!("write -P 0x{:x} {} 64k", 0x41 + i, 12320768 + i * 262144);
            run("qemu-io", &["-f", "qcow2", "-c", &w, &s(&p)]);
            p
        };
        let mut ok = on_brick(&dir.join(format!("brick{i}")), &p);
        ok &= afr_set(&p, "dirty", [dirty.get(i).copied().unwrap_or(0), 0, 0]);
        for &(client, data, md) in xs.iter() {
            ok &= afr_set(&p, &format!("vol-client-{client}"), [data, md, 0]);
        }
        if !ok {
            return None;
        }
        out.push(s(&p));
    }
    Some(out)
}

fn scenario(name: &str, dir: tempfile::TempDir, copies: Vec<String>) -> Scenario {
    Scenario {
        name: name.into(),
        copies,
        _dir: dir,
    }
}

/// Replica 2 of one base on bricks, diverged after a crash (replica2 has
/// the torn directory block and a stale refcount), with brick i's AFR
/// counters `x[i]`.
fn replica_pair(name: &str, x: [&[(usize, u32, u32)]; 2]) -> Option<Scenario> {
    let dir = tempfile::tempdir().unwrap();
    let mut v = Vec::new();
    for (i, (f, xs)) in ["compare/replica1.qcow2", "compare/replica2.qcow2"]
        .iter()
        .zip(x)
        .enumerate()
    {
        let p = copy_to(dir.path(), f, &format!("brick{i}/images/vm.qcow2"));
        let mut ok = on_brick(&dir.path().join(format!("brick{i}")), &p);
        for &(client, data, md) in xs {
            ok &= afr_set(&p, &format!("vol-client-{client}"), [data, md, 0]);
        }
        if !ok {
            eprintln!("SKIP {name}: setfattr trusted.* refused");
            return None;
        }
        v.push(s(&p));
    }
    Some(scenario(name, dir, v))
}

/// A raw copy of replica1 with `edit` applied to the copy (sgdisk -G,
/// tune2fs -U on its partition).
fn edited_copy(dir: &Path, a: &Path, name: &str, sgdisk_g: bool, fs_uuid: Option<&str>) -> PathBuf {
    let b = dir.join(name);
    std::fs::copy(a, &b).unwrap();
    if sgdisk_g {
        run("sgdisk", &["-G", &s(&b)]);
    }
    if let Some(u) = fs_uuid {
        let part = dir.join("p1.img");
        run(
            "dd",
            &[
                &format!("if={}", b.display()),
                &format!("of={}", part.display()),
                "bs=1M",
                "skip=1",
                "count=14",
                "status=none",
            ],
        );
        run("tune2fs", &["-U", u, &s(&part)]);
        run(
            "dd",
            &[
                &format!("if={}", part.display()),
                &format!("of={}", b.display()),
                "bs=1M",
                "seek=1",
                "conv=notrunc",
                "status=none",
            ],
        );
        std::fs::remove_file(part).unwrap();
    }
    b
}

/// Runs `tool` with `env` set; its stdout.
fn run_env(tool: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let o = Command::new(tool)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(o.status.success(), "{tool} {args:?}: {o:?}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The tools the ext4 re-enactments need beside [`tools`].
fn ext4_tools() -> bool {
    let ok = have("mkfs.ext4", "-V")
        && have("debugfs", "-V")
        && have("sfdisk", "--version")
        && have("setfattr", "--version");
    if !ok {
        eprintln!("SKIP: mkfs.ext4, debugfs, sfdisk or setfattr not installed");
    }
    ok
}

/// A small tree (etc, a database file, a user's notes), dated alike.
fn small_tree(at: &Path) {
    let lines = |from: u64, to: u64, w: usize| -> String {
        (from..=to).map(|i| format!("{i:0w$}\n")).collect()
    };
    for d in ["etc", "var/lib/db", "home/u"] {
        std::fs::create_dir_all(at.join(d)).unwrap();
    }
    std::fs::write(at.join("etc/hostname"), "host\n").unwrap();
    std::fs::write(at.join("etc/services.txt"), lines(1, 20000, 1)).unwrap();
    std::fs::write(
        at.join("var/lib/db/base.dat"),
        lines(100_000_000, 100_040_000, 9),
    )
    .unwrap();
    std::fs::write(at.join("home/u/notes.txt"), lines(1, 30000, 1)).unwrap();
    for p in [
        "",
        "etc",
        "var",
        "var/lib",
        "var/lib/db",
        "home",
        "home/u",
        "etc/hostname",
        "etc/services.txt",
        "var/lib/db/base.dat",
        "home/u/notes.txt",
    ] {
        run("touch", &["-d", "@1763000000", &s(&at.join(p))]);
    }
}

/// mkfs.ext4 -d of [`small_tree`] into a `mib` MiB file `part` (1 KiB
/// blocks, fixed UUID and time); the byte offsets (in `part`) of
/// notes.txt's and base.dat's first blocks, by debugfs's bmap.
fn small_ext4(dir: &Path, part: &Path, mib: u64, uuid: &str) -> (u64, u64) {
    let tree = dir.join("tree");
    if !tree.exists() {
        small_tree(&tree);
    }
    std::fs::File::create(part)
        .unwrap()
        .set_len(mib << 20)
        .unwrap();
    run_env(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-b",
            "1024",
            "-U",
            uuid,
            "-E",
            "root_owner=0:0",
            "-d",
            &s(&tree),
            &s(part),
        ],
        &[("E2FSPROGS_FAKE_TIME", "1763000000")],
    );
    let at = |f: &str| -> u64 {
        let o = run_env("debugfs", &["-R", &format!("bmap {f} 0"), &s(part)], &[]);
        o.trim().parse::<u64>().unwrap() * 1024
    };
    (at("/home/u/notes.txt"), at("/var/lib/db/base.dat"))
}

/// `dd` of `from` into `to` at byte `seek` (1 MiB units), in place.
fn dd_into(from: &Path, to: &Path, seek_mib: u64) {
    run(
        "dd",
        &[
            &format!("if={}", from.display()),
            &format!("of={}", to.display()),
            "bs=1M",
            &format!("seek={seek_mib}"),
            "conv=notrunc",
            "status=none",
        ],
    );
}

/// The three raw GPT+ext4 disks of attackA's c1 (16 MiB, p1 at 1 MiB):
/// base; r1 = base + a 4 KiB write into /home/u/notes.txt; r2 = base +
/// 64 KiB into /var/lib/db/base.dat and a superblock debugfs rewrote
/// three months later (as a later mount leaves it). Both replicas clean.
/// Also the disk offset of base.dat's first block.
fn gpt_base_r1_r2(dir: &Path) -> (PathBuf, PathBuf, PathBuf, u64) {
    let base = dir.join("base.img");
    std::fs::File::create(&base)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    run(
        "sgdisk",
        &[
            "-U",
            "5e3b1b8e-0001-4c1e-9d50-0000000000aa",
            "-n",
            "1:2048:0",
            "-t",
            "1:8300",
            "-u",
            "1:5e3b1b8e-0002-4c1e-9d50-0000000000aa",
            &s(&base),
        ],
    );
    let part = dir.join("p.img");
    let (notes, db) = small_ext4(dir, &part, 14, "7d9c1e52-1111-4a4a-8b8b-0000000000aa");
    dd_into(&part, &base, 1);
    let (notes, db) = (notes + (1 << 20), db + (1 << 20));
    let r1 = dir.join("r1.img");
    std::fs::copy(&base, &r1).unwrap();
    run(
        "qemu-io",
        &[
            "-f",
            "raw",
            "-c",
            &format!("write -P 0x11 {notes} 4096"),
            &s(&r1),
        ],
    );
    let r2 = dir.join("r2.img");
    std::fs::copy(&base, &r2).unwrap();
    run(
        "qemu-io",
        &[
            "-f",
            "raw",
            "-c",
            &format!("write -P 0x22 {db} 65536"),
            &s(&r2),
        ],
    );
    run_env(
        "debugfs",
        &["-w", "-R", "ssv mtime 20260301115000", &s(&part)],
        &[("E2FSPROGS_FAKE_TIME", "1772366400")],
    );
    // Only the superblock of the re-dated partition goes into r2: its
    // file bytes stay r2's own.
    run(
        "dd",
        &[
            &format!("if={}", part.display()),
            &format!("of={}", r2.display()),
            "bs=1024",
            "skip=1",
            &format!("seek={}", 1024 + 1),
            "count=1",
            "conv=notrunc",
            "status=none",
        ],
    );
    std::fs::remove_file(&part).unwrap();
    (base, r1, r2, db)
}

/// Each of three bricks' AFR data counters, as (client, data).
type Afr3<'a> = [&'a [(usize, u32)]; 3];

/// Three bricks of one volume holding r1, r2 and base (by brick; brick2
/// a 0-byte file when `arbiter`), with brick i's AFR data counters
/// `x[i]` as (client, data); `None` when setfattr is refused.
fn three_bricks(dir: &Path, x: Afr3<'_>, vol_id: &str, arbiter: bool) -> Option<Vec<String>> {
    let (base, r1, r2, _) = gpt_base_r1_r2(dir);
    let mut out = Vec::new();
    for (i, (img, xs)) in [&r1, &r2, &base].iter().zip(x).enumerate() {
        let brick = dir.join(format!("b{i}"));
        let f = brick.join("images/vm.img");
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        if arbiter && i == 2 {
            std::fs::File::create(&f).unwrap();
        } else {
            std::fs::copy(img, &f).unwrap();
        }
        let set = |p: &Path, n: &str, v: &str| {
            Command::new("setfattr")
                .args(["-n", n, "-v", v])
                .arg(p)
                .status()
                .is_ok_and(|s| s.success())
        };
        let mut ok = set(&brick, "trusted.glusterfs.volume-id", vol_id)
            && set(&f, "trusted.gfid", "0x11111111222233334444555555557777");
        for &(client, data) in xs {
            ok &= afr_set(&f, &format!("vol-client-{client}"), [data, 0, 0]);
        }
        if !ok {
            return None;
        }
        out.push(s(&f));
    }
    for f in [base, r1, r2] {
        std::fs::remove_file(f).unwrap();
    }
    Some(out)
}

/// attackA's c1 scenarios (A1, A2, A4, A5), each on GPT+ext4 (or MBR)
/// disks made here.
fn attack_a_scenarios() -> Vec<Scenario> {
    let mut v = Vec::new();
    if !ext4_tools() {
        return v;
    }
    // A1: base, r1 (a write into notes.txt), r2 (into base.dat, newer).
    {
        let dir = tempfile::tempdir().unwrap();
        let (base, r1, r2, _) = gpt_base_r1_r2(dir.path());
        v.push(scenario(
            "base and two replicas",
            dir,
            vec![s(&r1), s(&r2), s(&base)],
        ));
    }
    // A1: base, r2 and a hollow copy (base.dat's blocks zeroed).
    {
        let dir = tempfile::tempdir().unwrap();
        let (base, r1, r2, db) = gpt_base_r1_r2(dir.path());
        std::fs::remove_file(r1).unwrap();
        let hollow = dir.path().join("hollow.img");
        std::fs::copy(&base, &hollow).unwrap();
        run(
            "qemu-io",
            &[
                "-f",
                "raw",
                "-c",
                &format!("write -z {db} 262144"),
                &s(&hollow),
            ],
        );
        v.push(scenario(
            "base, replica and hollow copy",
            dir,
            vec![s(&base), s(&r2), s(&hollow)],
        ));
    }
    // A2: brick0 blames itself (5) and carries a zero for client-1;
    // brick1 blames client-0; brick2 carries nothing.
    let selfblame: [(&str, Afr3<'_>); 3] = [
        (
            "self-blame, one silent brick",
            [&[(0, 5), (1, 0)], &[(0, 3)], &[]],
        ),
        // Every brick carries its two peers' names, brick0 its own too.
        (
            "self-blame, peers' names everywhere",
            [
                &[(0, 5), (1, 0), (2, 0)],
                &[(0, 3), (2, 0)],
                &[(0, 0), (1, 0)],
            ],
        ),
        // Every brick carries all three names.
        (
            "self-blame, every name everywhere",
            [
                &[(0, 5), (1, 0), (2, 0)],
                &[(0, 3), (1, 0), (2, 0)],
                &[(0, 0), (1, 0), (2, 0)],
            ],
        ),
    ];
    for (name, x) in selfblame {
        let dir = tempfile::tempdir().unwrap();
        match three_bricks(dir.path(), x, "0x7d9c1e5200000000000000000000dddd", false) {
            Some(c) => v.push(scenario(name, dir, c)),
            None => eprintln!("SKIP {name}: setfattr trusted.* refused"),
        }
    }
    // A5: replica 3 arbiter 1; brick0 blames client-1, brick1 client-0,
    // the arbiter (a 0-byte file) client-0 only: no brick carries
    // client-2's name, and two bricks lack client-1's.
    {
        let name = "arbiter, no brick named client-2";
        let dir = tempfile::tempdir().unwrap();
        let x: Afr3<'_> = [&[(1, 2)], &[(0, 1)], &[(0, 4)]];
        match three_bricks(dir.path(), x, "0x7d9c1e5200000000000000000000cccc", true) {
            Some(c) => v.push(scenario(name, dir, c)),
            None => eprintln!("SKIP {name}: setfattr trusted.* refused"),
        }
    }
    // A4: the partition GUID alone regenerated (sgdisk -u 1:R).
    {
        let dir = tempfile::tempdir().unwrap();
        let (base, r1, r2, _) = gpt_base_r1_r2(dir.path());
        std::fs::remove_file(r1).unwrap();
        std::fs::remove_file(r2).unwrap();
        let gu = dir.path().join("gu.img");
        std::fs::copy(&base, &gu).unwrap();
        run("sgdisk", &["-u", "1:R", &s(&gu)]);
        v.push(scenario(
            "partition guid regenerated",
            dir,
            vec![s(&base), s(&gu)],
        ));
    }
    // A4: an MBR disk whose disk identifier sfdisk --disk-id replaced.
    {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("m.img");
        std::fs::File::create(&m)
            .unwrap()
            .set_len(16 << 20)
            .unwrap();
        let mut sf = Command::new("sfdisk")
            .args(["-q", &s(&m)])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        sf.stdin
            .take()
            .unwrap()
            .write_all(b"label: dos\nlabel-id: 0x11223344\nstart=2048, type=83\n")
            .unwrap();
        assert!(sf.wait().unwrap().success());
        let part = dir.path().join("p.img");
        small_ext4(
            dir.path(),
            &part,
            15,
            "7d9c1e52-2222-4a4a-8b8b-0000000000aa",
        );
        dd_into(&part, &m, 1);
        std::fs::remove_file(&part).unwrap();
        let mid = dir.path().join("mid.img");
        std::fs::copy(&m, &mid).unwrap();
        run("sfdisk", &["-q", "--disk-id", &s(&mid), "0x55667788"]);
        v.push(scenario(
            "mbr disk id regenerated",
            dir,
            vec![s(&m), s(&mid)],
        ));
    }
    v
}

/// A replica 3 layout: its name, each brick's (client, data, metadata)
/// counters, the bricks holding a 0-byte file, each brick's dirty count.
type Layout<'a> = (
    &'a str,
    [&'a [(usize, u32, u32)]; 3],
    &'a [usize],
    &'a [u32],
);

/// Every scenario; `all` adds the long series.
pub fn scenarios(all: bool) -> Vec<Scenario> {
    let mut v = Vec::new();
    // Replicas of one base, one torn: no xattrs, split-brain, one-sided.
    {
        let dir = tempfile::tempdir().unwrap();
        let a = copy_to(dir.path(), "compare/replica1.qcow2", "r1/vm.qcow2");
        let b = copy_to(dir.path(), "compare/replica2.qcow2", "r2/vm.qcow2");
        v.push(scenario("replicas", dir, vec![s(&a), s(&b)]));
    }
    v.extend(replica_pair(
        "replicas split-brain",
        [&[(1, 2, 1)], &[(0, 2, 1)]],
    ));
    v.extend(replica_pair(
        "replicas one-sided",
        [&[(1, 2, 0)], &[(0, 0, 0)]],
    ));
    // attackB F17: brick0 blames itself (AFRv1's own-name counter) and
    // brick1; brick1 blames brick0.
    v.extend(replica_pair(
        "replicas self-blame",
        [&[(0, 3, 0), (1, 2, 0)], &[(0, 1, 0)]],
    ));
    // Snapshot against current (F15).
    {
        let dir = tempfile::tempdir().unwrap();
        let a = copy_to(dir.path(), "compare/snap.qcow2", "snap.qcow2");
        v.push(scenario(
            "snapshot and current",
            dir,
            vec![format!("{}@pre-upgrade", s(&a)), s(&a)],
        ));
    }
    // Hollow copy, raw, two and three copies.
    {
        let dir = tempfile::tempdir().unwrap();
        let full = copy_to(dir.path(), "compare/hollow-full.raw", "full.raw");
        let hollow = copy_to(dir.path(), "compare/hollow-hollow.raw", "hollow.raw");
        let q = dir.path().join("hollow.qcow2");
        run("qemu-img", &["convert", "-O", "qcow2", &s(&hollow), &s(&q)]);
        v.push(scenario(
            "hollow copy three ways",
            dir,
            vec![s(&full), s(&hollow), s(&q)],
        ));
    }
    // Clones: a new filesystem UUID; every ID regenerated; the GPT GUIDs
    // alone regenerated (sgdisk -G).
    {
        let dir = tempfile::tempdir().unwrap();
        let a = raw_of(dir.path(), "compare/replica1.qcow2", "a.raw");
        let uuid = edited_copy(
            dir.path(),
            &a,
            "fs-uuid.raw",
            false,
            Some("7d9c1e52-1111-4a4a-8b8b-0000000000ff"),
        );
        let every = edited_copy(dir.path(), &a, "every-id.raw", true, Some("random"));
        let guid = edited_copy(dir.path(), &a, "gpt-guids.raw", true, None);
        v.push(scenario(
            "clone with a new fs uuid",
            tempfile::tempdir().unwrap(),
            vec![s(&a), s(&uuid)],
        ));
        v.push(scenario(
            "clone with every id regenerated",
            tempfile::tempdir().unwrap(),
            vec![s(&a), s(&every)],
        ));
        v.push(scenario(
            "copy with gpt guids regenerated",
            tempfile::tempdir().unwrap(),
            vec![s(&a), s(&guid)],
        ));
        v.push(scenario(
            "original, clone and regenerated copy",
            dir,
            vec![s(&a), s(&uuid), s(&guid)],
        ));
    }
    // Three copies: replica1, replica2 and a dd copy of replica1.
    {
        let dir = tempfile::tempdir().unwrap();
        let a = copy_to(dir.path(), "compare/replica1.qcow2", "r1.qcow2");
        let b = copy_to(dir.path(), "compare/replica2.qcow2", "r2.qcow2");
        let c = raw_of(dir.path(), "compare/replica1.qcow2", "r1-copy.raw");
        v.push(scenario(
            "two replicas and a copy",
            dir,
            vec![s(&a), s(&b), s(&c)],
        ));
    }
    // Overlay against its backing file.
    {
        let dir = tempfile::tempdir().unwrap();
        let base = copy_to(dir.path(), "compare/replica1.qcow2", "base.qcow2");
        let over = dir.path().join("over.qcow2");
        run(
            "qemu-img",
            &[
                "create",
                "-q",
                "-f",
                "qcow2",
                "-b",
                &s(&base),
                "-F",
                "qcow2",
                &s(&over),
            ],
        );
        run(
            "qemu-io",
            &["-f", "qcow2", "-c", "write -P 0x77 12320768 64k", &s(&over)],
        );
        v.push(scenario(
            "overlay and backing",
            dir,
            vec![s(&base), s(&over)],
        ));
    }
    // Replica 3 layouts.
    let r3: [Layout<'_>; 6] = [
        (
            "replica3 blame cycle",
            [
                &[(1, 1, 0), (2, 0, 0)],
                &[(0, 0, 0), (2, 1, 0)],
                &[(0, 1, 0), (1, 0, 0)],
            ],
            &[],
            &[],
        ),
        (
            "replica3 two blame each other, third unblamed",
            [
                &[(1, 2, 0), (2, 0, 0)],
                &[(0, 2, 0), (2, 0, 0)],
                &[(0, 0, 0), (1, 0, 0)],
            ],
            &[],
            &[],
        ),
        (
            "replica3 one source",
            [
                &[(1, 2, 0), (2, 2, 0)],
                &[(0, 0, 0), (2, 0, 0)],
                &[(0, 0, 0), (1, 0, 0)],
            ],
            &[],
            &[],
        ),
        // attackB F16: replica 3 arbiter 1, the arbiter (brick2, a 0-byte
        // file) blames brick1 with brick0.
        (
            "arbiter blames one data brick",
            [
                &[(1, 2, 0), (2, 0, 0)],
                &[(0, 0, 0), (2, 0, 0)],
                &[(0, 0, 0), (1, 2, 0)],
            ],
            &[2],
            &[],
        ),
        // The arbiter alone unblamed: the data bricks blame each other.
        (
            "arbiter the only unblamed brick",
            [
                &[(1, 2, 0), (2, 0, 0)],
                &[(0, 2, 0), (2, 0, 0)],
                &[(0, 2, 0), (1, 2, 0)],
            ],
            &[2],
            &[],
        ),
        // AFRv1: every brick carries every client's counter, brick0 its
        // own too (self-accused, a witness of writes).
        (
            "replica3 v1 self-blame witness",
            [
                &[(0, 4, 0), (1, 4, 0), (2, 4, 0)],
                &[(0, 0, 0), (1, 0, 0), (2, 0, 0)],
                &[(0, 0, 0), (1, 0, 0), (2, 0, 0)],
            ],
            &[],
            &[],
        ),
    ];
    for (name, x, empty, dirty) in r3 {
        let dir = tempfile::tempdir().unwrap();
        match bricks(dir.path(), &x, empty, dirty) {
            Some(c) => v.push(scenario(name, dir, c)),
            None => eprintln!("SKIP {name}: setfattr trusted.* refused"),
        }
    }
    v.extend(attack_a_scenarios());
    if all {
        v.push(thin_series());
        let dir = tempfile::tempdir().unwrap();
        let c: Vec<String> = (1..=6)
            .map(|i| {
                s(&copy_to(
                    dir.path(),
                    &format!("compare/backup-0{i}.qcow2"),
                    &format!("backup-0{i}.qcow2"),
                ))
            })
            .collect();
        v.push(scenario("backup series that stopped", dir, c));
    }
    v
}

/// Four monthly backups (compare-thin.sh): January half full, February
/// and March full, April holding almost nothing.
fn thin_series() -> Scenario {
    let dir = tempfile::tempdir().unwrap();
    let c: Vec<String> = ["jan", "feb", "mar", "apr"]
        .iter()
        .map(|m| {
            s(&copy_to(
                dir.path(),
                &format!("compare/thin-{m}.qcow2"),
                &format!("thin-{m}.qcow2"),
            ))
        })
        .collect();
    scenario("thin backup series", dir, c)
}

/// A report's verdict with the argument order taken out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canon {
    /// Each copy's own verdict.
    pub copies: BTreeMap<String, String>,
    /// Each pair by its two labels (sorted): kinship, relation, the newer
    /// copy, source, sink, what picked it, each copy's zeroed file bytes.
    pub pairs: BTreeMap<(String, String), String>,
    /// Sink → its sources (each standing for the copies holding its
    /// bytes), over every pair.
    pub plan: BTreeMap<String, BTreeSet<String>>,
    /// What reverting loses, per snapshot.
    pub reverts: BTreeSet<String>,
    /// Note codes (up to four copies: every note; with more, the notes
    /// about all the copies at once).
    pub notes: Vec<String>,
}

/// Each copy's label mapped to the least label of the copies holding the
/// same guest bytes (each pair compared alone): a heal from either of two
/// identical copies is one verdict.
fn alike(sc: &Scenario) -> BTreeMap<String, String> {
    let mut rep: BTreeMap<String, String> =
        sc.copies.iter().map(|c| (c.clone(), c.clone())).collect();
    for (i, x) in sc.copies.iter().enumerate() {
        for y in sc.copies.iter().skip(i + 1) {
            let r = compare(&[x.clone(), y.clone()]).unwrap();
            if r.pairs.first().is_some_and(|p| p.divergence.identical()) {
                let (rx, ry) = (rep[x].clone(), rep[y].clone());
                let m = rx.clone().min(ry.clone());
                for v in rep.values_mut() {
                    if *v == rx || *v == ry {
                        *v = m.clone();
                    }
                }
            }
        }
    }
    rep
}

fn canon(r: &CompareReport, same: &BTreeMap<String, String>) -> Canon {
    let copies = r
        .copies
        .iter()
        .map(|c| (c.label.clone(), c.verdict.clone()))
        .collect();
    let mut pairs = BTreeMap::new();
    let mut plan: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in &r.pairs {
        let key = if p.a <= p.b {
            (p.a.clone(), p.b.clone())
        } else {
            (p.b.clone(), p.a.clone())
        };
        let newer = match p.newer {
            Newer::A => p.a.clone(),
            Newer::B => p.b.clone(),
            n => format!("{n:?}"),
        };
        let zeroed: BTreeMap<&str, u64> = [
            (p.a.as_str(), p.a_files_zeroed),
            (p.b.as_str(), p.b_files_zeroed),
        ]
        .into_iter()
        .collect();
        pairs.insert(
            key,
            format!(
                "kinship {:?}; relation {:?}; newer {newer}; source {:?}; sink {:?}; by {:?}; zeroed {zeroed:?}; differing {}",
                p.kinship, p.relation, p.source, p.sink, p.source_by, p.divergence.differing
            ),
        );
        if let (Some(src), Some(sink)) = (&p.source, &p.sink) {
            let src = same.get(src).unwrap_or(src);
            plan.entry(sink.clone()).or_default().insert(src.clone());
        }
    }
    let reverts = r
        .summary
        .iter()
        .filter(|l| l.starts_with("reverting to "))
        .cloned()
        .collect();
    let global = [
        "compare.gluster.blame",
        "compare.series.stopped",
        "compare.gluster.arbiter",
    ];
    let mut notes: Vec<String> = r
        .notes
        .iter()
        // Up to four copies every two are set against each other, so
        // every pair's notes are in every order's report (attackA A2:
        // which two bricks AFR takes to be in sync was said or not by
        // the order).
        .filter(|n| r.copies.len() <= 4 || global.contains(&n.code.as_str()))
        .map(|n| n.code.clone())
        .collect();
    notes.sort();
    Canon {
        copies,
        pairs,
        plan,
        reverts,
        notes,
    }
}

/// What one report says against itself (F15: "B is newer" beside "nothing
/// both carry says which is newer"); empty when nothing.
fn contradictions(r: &CompareReport) -> Vec<String> {
    let mut out = Vec::new();
    let s = r.summary.join("\n");
    if r.copies.len() == 2
        && let Some(p) = r.pairs.first()
    {
        if matches!(p.newer, Newer::A | Newer::B)
            && s.contains("nothing both carry says which is newer")
        {
            out.push("newer named and 'nothing says which is newer'".into());
        }
        if p.kinship == Kinship::SameImage
            && r.copies.iter().any(|c| c.snapshot_date.is_some())
            && r.copies.iter().any(|c| c.snapshot_date.is_none())
            && !s.contains("reverting to ")
        {
            out.push("snapshot and current, and no word of what reverting loses".into());
        }
    }
    out
}

/// The orders tried: every permutation up to [`MAX_ORDERS`], else the
/// identity, its reverse and rotations of both.
fn orders(n: usize) -> Vec<Vec<usize>> {
    fn perms(cur: &mut Vec<usize>, n: usize, out: &mut Vec<Vec<usize>>) {
        if cur.len() == n {
            out.push(cur.clone());
            return;
        }
        for i in 0..n {
            if !cur.contains(&i) {
                cur.push(i);
                perms(cur, n, out);
                cur.pop();
            }
        }
    }
    let mut all = Vec::new();
    if n <= 4 {
        perms(&mut Vec::new(), n, &mut all);
        return all;
    }
    let id: Vec<usize> = (0..n).collect();
    let rev: Vec<usize> = id.iter().rev().copied().collect();
    for base in [id, rev] {
        for r in 0..n {
            let mut o = base.clone();
            o.rotate_left(r);
            if !all.contains(&o) && all.len() < MAX_ORDERS {
                all.push(o);
            }
        }
    }
    all
}

/// Runs `sc` in every order; the orders tried and what went wrong in each.
pub fn check(sc: &Scenario) -> (usize, Vec<String>) {
    check_in(sc, &orders(sc.copies.len()))
}

/// Runs `sc` in the orders `os`, the first being the one the others are
/// set against.
fn check_in(sc: &Scenario, os: &[Vec<usize>]) -> (usize, Vec<String>) {
    let mut wrong = Vec::new();
    let same = alike(sc);
    let mut first: Option<Canon> = None;
    for o in os {
        let args: Vec<String> = o.iter().map(|&i| sc.copies[i].clone()).collect();
        let r = compare(&args).unwrap();
        let c = canon(&r, &same);
        for x in contradictions(&r) {
            wrong.push(format!("{} {o:?}: {x}", sc.name));
        }
        match &first {
            None => first = Some(c),
            Some(f) => {
                let mut why = Vec::new();
                if f.copies != c.copies {
                    why.push(format!("copies {:?} vs {:?}", f.copies, c.copies));
                }
                for (k, v) in &c.pairs {
                    if let Some(w) = f.pairs.get(k)
                        && w != v
                    {
                        why.push(format!("pair {k:?}: {w} vs {v}"));
                    }
                }
                // Every copy is weighed as a sink in every order, so the
                // whole heal plan is compared, not only the sinks both
                // orders happen to name (attackA A1).
                if f.plan != c.plan {
                    why.push(format!("heal plan {:?} vs {:?}", f.plan, c.plan));
                }
                if f.reverts != c.reverts {
                    why.push(format!("reverting {:?} vs {:?}", f.reverts, c.reverts));
                }
                if f.notes != c.notes {
                    why.push(format!("notes {:?} vs {:?}", f.notes, c.notes));
                }
                if !why.is_empty() {
                    wrong.push(format!("{} {o:?}: {}", sc.name, why.join(" | ")));
                }
            }
        }
    }
    (os.len(), wrong)
}

/// A sample: a few scenarios of two copies in both orders, one of three
/// copies in all six, and the thin backup series with its oldest copy
/// given first, second and last (before, the second order healed January
/// from February, the first from March).
#[test]
fn verdicts_do_not_depend_on_argument_order() {
    if !tools() {
        return;
    }
    let keep = [
        "replicas one-sided",
        "snapshot and current",
        "copy with gpt guids regenerated",
        "replicas self-blame",
        "arbiter blames one data brick",
    ];
    let mut wrong = Vec::new();
    for sc in scenarios(false)
        .iter()
        .filter(|s| keep.contains(&s.name.as_str()))
    {
        wrong.extend(check(sc).1);
    }
    let thin = thin_series();
    wrong.extend(
        check_in(
            &thin,
            &[vec![0, 1, 2, 3], vec![1, 0, 2, 3], vec![3, 2, 1, 0]],
        )
        .1,
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Every scenario in every order (about a minute: run with --ignored);
/// prints `scenarios × orders,
/// right, wrong`.
#[test]
#[ignore]
fn every_scenario_in_every_order() {
    if !tools() {
        return;
    }
    let (mut runs, mut bad_runs, mut bad) = (0usize, 0usize, Vec::new());
    let all = scenarios(true);
    for sc in &all {
        let (n, w) = check(sc);
        runs += n;
        let orders_wrong: BTreeSet<String> = w
            .iter()
            .map(|x| x.split(": ").next().unwrap_or("").to_string())
            .collect();
        bad_runs += orders_wrong.len();
        println!(
            "{:45} {n:3} orders, {:3} wrong",
            sc.name,
            orders_wrong.len()
        );
        bad.extend(w);
    }
    println!(
        "ORDERS: {} scenarios, {runs} runs, {} right, {bad_runs} wrong",
        all.len(),
        runs - bad_runs
    );
    for b in &bad {
        println!("WRONG {b}");
    }
    assert!(bad.is_empty(), "{} differences", bad.len());
}

/// The scenario called `name`, when it could be made.
fn named(all: &[Scenario], name: &str) -> Option<usize> {
    let k = all.iter().position(|s| s.name == name);
    if k.is_none() {
        eprintln!("SKIP {name}: not made (setfattr refused?)");
    }
    k
}

/// Every step of every note's advice copies brick files to directories
/// outside the bricks and writes nothing else.
fn writes_only_outside(r: &CompareReport, sc: &Scenario) {
    let bricks: Vec<PathBuf> = sc
        .copies
        .iter()
        .filter_map(|c| {
            Path::new(c)
                .ancestors()
                .find(|a| {
                    a.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("brick"))
                })
                .map(Path::to_path_buf)
        })
        .collect();
    for a in r.notes.iter().filter_map(|n| n.advice.as_deref()) {
        compare_common::writes_only_outside(a, &bricks);
    }
}

/// attackB F17: brick0 carries its own client's counter (AFRv1's
/// self-accusation) beside one against brick1; brick1 (replica2, damaged)
/// blames brick0 and lacks its own name. afr_selfheal_find_direction
/// ignores a self-accused brick's accusations and takes brick1's:
/// brick1 is self-heal's source and brick0 its sink, which the damage on
/// brick1 makes imgcheck refuse, in both orders. Before, the way where
/// brick1 named itself was as good as the other, and the changelog was
/// "undecided". And AFRv1 everywhere (every brick carries every counter,
/// brick0 non-zero ones, its own among them): brick0 is the one source,
/// by the writes it witnessed, in all six orders; before, three sources
/// "in sync".
#[test]
fn a_brick_that_blames_itself_is_read_as_gluster_reads_it() {
    if !tools() {
        return;
    }
    let all = scenarios(false);
    if let Some(k) = named(&all, "replicas self-blame") {
        let sc = &all[k];
        let (b0, b1) = (&sc.copies[0], &sc.copies[1]);
        for args in [[b0.clone(), b1.clone()], [b1.clone(), b0.clone()]] {
            let r = compare(&args).unwrap();
            let n = r
                .notes
                .iter()
                .find(|n| n.code == "compare.gluster.pending")
                .unwrap_or_else(|| panic!("{:?}", r.notes));
            assert!(
                n.message.contains(&format!("self-heal's source is {b1}")),
                "{}",
                n.message
            );
            let adv = n.advice.as_deref().unwrap();
            assert!(
                adv.contains(&format!("do not let Gluster heal from {b1}")),
                "{adv}"
            );
            assert_ne!(r.pairs[0].source.as_deref(), Some(b1.as_str()));
            writes_only_outside(&r, sc);
        }
    }
    if let Some(k) = named(&all, "replica3 v1 self-blame witness") {
        let sc = &all[k];
        for o in orders(3) {
            let args: Vec<String> = o.iter().map(|&i| sc.copies[i].clone()).collect();
            let r = compare(&args).unwrap();
            let with_b0: Vec<_> = r
                .pairs
                .iter()
                .filter(|p| p.a == sc.copies[0] || p.b == sc.copies[0])
                .collect();
            assert!(!with_b0.is_empty());
            for p in with_b0 {
                assert_eq!(
                    p.source.as_deref(),
                    Some(sc.copies[0].as_str()),
                    "{o:?}: {:?}",
                    r.summary
                );
                assert_eq!(
                    p.source_by,
                    Some(imgcheck::compare::model::SourceBy::AfrBlame)
                );
            }
            assert!(
                !r.notes.iter().any(|n| n.code == "compare.gluster.unhealed"),
                "{o:?}: {:?}",
                r.notes
            );
            writes_only_outside(&r, sc);
        }
    }
}

/// attackB F16: replica 3 arbiter 1, the arbiter's file 0 bytes with its
/// AFR xattrs. It is compared with no copy and never a source or sink, in
/// every order (given first too); its blame counts: with brick0 it blames
/// brick1, so brick0 is the source. When it alone is blamed by none,
/// Gluster heals no data from it: no source is named. Before, given
/// first, it was set against each data copy as a 16 MiB divergence and
/// named a heal sink "by verdict".
#[test]
fn an_arbiter_brick_is_no_copy_of_the_data() {
    if !tools() {
        return;
    }
    let all = scenarios(false);
    for (name, source) in [
        ("arbiter blames one data brick", Some(0)),
        ("arbiter the only unblamed brick", None),
    ] {
        let Some(k) = named(&all, name) else {
            continue;
        };
        let sc = &all[k];
        let arb = &sc.copies[2];
        for o in orders(3) {
            let args: Vec<String> = o.iter().map(|&i| sc.copies[i].clone()).collect();
            let r = compare(&args).unwrap();
            assert_eq!(r.pairs.len(), 1, "{name} {o:?}");
            let p = &r.pairs[0];
            assert!(p.a != *arb && p.b != *arb, "{name} {o:?}");
            let c = r.copies.iter().find(|c| c.label == *arb).unwrap();
            assert_eq!(c.verdict, "empty");
            assert!(r.notes.iter().any(|n| n.code == "compare.gluster.arbiter"));
            match source {
                Some(s) => {
                    assert_eq!(
                        p.source.as_deref(),
                        Some(sc.copies[s].as_str()),
                        "{name} {o:?}: {:?}",
                        r.summary
                    );
                    assert_eq!(
                        p.source_by,
                        Some(imgcheck::compare::model::SourceBy::AfrBlame)
                    );
                }
                None => {
                    assert_ne!(
                        p.source_by,
                        Some(imgcheck::compare::model::SourceBy::AfrBlame)
                    );
                    assert!(
                        r.notes
                            .iter()
                            .any(|n| n.message.contains("Gluster heals no data from an arbiter")),
                        "{name} {o:?}: {:?}",
                        r.notes
                    );
                }
            }
            let s = r.summary.join("\n");
            assert!(!s.contains(&format!("heal from {arb}")), "{s}");
            writes_only_outside(&r, sc);
        }
    }
}

/// sgdisk -G on a dd copy: new disk and partition GUIDs, the same
/// filesystem UUID and data. A copy made into a disk of its own, not a
/// replica: a clone, said with what differs and what is the same, and no
/// heal between them, in both orders. Before, "one disk" (by the shared
/// filesystem UUID) with a heal offered by the dates.
#[test]
fn a_copy_with_regenerated_gpt_guids_is_a_clone() {
    if !tools() {
        return;
    }
    let all = scenarios(false);
    let Some(k) = named(&all, "copy with gpt guids regenerated") else {
        return;
    };
    let sc = &all[k];
    for args in [
        [sc.copies[0].clone(), sc.copies[1].clone()],
        [sc.copies[1].clone(), sc.copies[0].clone()],
    ] {
        let r = compare(&args).unwrap();
        let p = &r.pairs[0];
        assert_eq!(p.kinship, Kinship::Clone, "{:?}", p.kinship_evidence);
        let e = &p.kinship_evidence[0];
        assert!(
            e.starts_with("table identifiers regenerated")
                && e.contains("disk GUID")
                && e.contains("partition GUIDs")
                && e.contains("7d9c1e52-1111-4a4a-8b8b-000000000018"),
            "{e}"
        );
        assert_eq!((p.source.as_ref(), p.sink.as_ref()), (None, None));
        let s = r.summary.join("\n");
        assert!(
            s.contains("new partition table identifiers") && !s.contains("are one disk"),
            "{s}"
        );
    }
}

/// The attackA scenario called `name`, when it could be made.
fn attack_a(name: &str) -> Option<Scenario> {
    let mut all = attack_a_scenarios();
    let k = named(&all, name)?;
    Some(all.swap_remove(k))
}

/// attackA A1: base, r1 (a write into notes.txt) and r2 (a write into
/// base.dat, dated later). Whatever the order, r2 is the source of both
/// r1 and base, and every pair is in the report. Before, given base
/// first, r1 was never told to be healed from r2 (sinks {base}); given
/// r2 first, {r1, base}.
#[test]
fn three_copies_get_one_heal_plan_in_every_order() {
    if !tools() {
        return;
    }
    let Some(sc) = attack_a("base and two replicas") else {
        return;
    };
    let (r1, r2, base) = (&sc.copies[0], &sc.copies[1], &sc.copies[2]);
    for o in orders(3) {
        let args: Vec<String> = o.iter().map(|&i| sc.copies[i].clone()).collect();
        let r = compare(&args).unwrap();
        assert_eq!(r.pairs.len(), 3, "{o:?}");
        let mut plan: BTreeMap<String, String> = BTreeMap::new();
        for p in &r.pairs {
            if let (Some(a), Some(b)) = (&p.source, &p.sink) {
                assert!(plan.insert(b.clone(), a.clone()).is_none(), "{o:?}");
            }
        }
        let want: BTreeMap<String, String> = [(r1.clone(), r2.clone()), (base.clone(), r2.clone())]
            .into_iter()
            .collect();
        assert_eq!(plan, want, "{o:?}: {:?}", r.summary);
    }
}

/// attackA A2: three bricks, each carrying its two peers' names, brick0
/// its own too (5 data operations: a self-accusation) and brick1 one
/// against client-0. By elimination brick0 is client-0, brick1 client-1,
/// brick2 client-2: each report names every brick's client and never
/// says a client blamed is "not among the copies", and the notes are the
/// same in every order. Before, brick0 stayed unnamed and "blames
/// vol-client-0 (not among the copies)" (itself), and the "in sync"
/// note came and went with the order.
#[test]
fn a_self_blaming_brick_among_peers_names_is_named() {
    if !tools() {
        return;
    }
    let Some(sc) = attack_a("self-blame, peers' names everywhere") else {
        return;
    };
    for o in orders(3) {
        let args: Vec<String> = o.iter().map(|&i| sc.copies[i].clone()).collect();
        let r = compare(&args).unwrap();
        for (k, want) in ["vol-client-0", "vol-client-1", "vol-client-2"]
            .iter()
            .enumerate()
        {
            let c = r.copies.iter().find(|c| c.label == sc.copies[k]).unwrap();
            assert_eq!(
                c.brick.as_ref().and_then(|b| b.client.as_deref()),
                Some(*want),
                "{o:?}"
            );
        }
        let text = r.summary.join("\n");
        assert!(!text.contains("not among the copies"), "{o:?}: {text}");
        assert!(!text.contains("could be told"), "{o:?}: {text}");
        writes_only_outside(&r, &sc);
    }
    let (n, wrong) = check(&sc);
    assert!(wrong.is_empty(), "{n} orders: {}", wrong.join("\n"));
}

/// attackA A5: replica 3 arbiter 1 where no brick carries client-2's
/// name: brick0 blames client-1, brick1 client-0, the arbiter client-0.
/// Brick1 and the arbiter both lack client-1's name, and either may be
/// client-2: no two copies are given one client, the changelog decides
/// nothing (the two ways it fits disagree: the arbiter the only source,
/// or brick1), and no note speaks of two bricks. Before, brick1 and the
/// arbiter were both "(vol-client-1)" and the pair's split-brain was
/// "without client quorum (the default for two bricks)".
#[test]
fn two_bricks_are_never_given_one_client() {
    if !tools() {
        return;
    }
    let Some(sc) = attack_a("arbiter, no brick named client-2") else {
        return;
    };
    for o in orders(3) {
        let args: Vec<String> = o.iter().map(|&i| sc.copies[i].clone()).collect();
        let r = compare(&args).unwrap();
        let names: Vec<&str> = r
            .copies
            .iter()
            .filter_map(|c| c.brick.as_ref().and_then(|b| b.client.as_deref()))
            .collect();
        let set: BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(set.len(), names.len(), "{o:?}: {names:?}");
        let text = r.summary.join("\n");
        assert!(!text.contains("default for two bricks"), "{o:?}: {text}");
        // Every brick is given: a client no copy was named is one whose
        // copy the names do not tell, not one that is absent.
        assert!(!text.contains("not among the copies"), "{o:?}: {text}");
        for p in &r.pairs {
            assert_ne!(
                p.source_by,
                Some(imgcheck::compare::model::SourceBy::AfrBlame),
                "{o:?}: {text}"
            );
        }
        writes_only_outside(&r, &sc);
    }
}

/// attackA A3: r2 is the source of r1 by its later superblock alone; r1
/// holds a 4 KiB write into /home/u/notes.txt that r2 lacks. The dates
/// say which disk was written last, not which side of each block is the
/// later write: the heal line names what only r1 holds, in both orders.
/// Before, "heal from r2.img" and nothing of r1's notes.txt.
#[test]
fn a_heal_by_dates_names_the_sinks_own_writes() {
    if !tools() {
        return;
    }
    let Some(sc) = attack_a("base and two replicas") else {
        return;
    };
    let (r1, r2) = (&sc.copies[0], &sc.copies[1]);
    for args in [[r1.clone(), r2.clone()], [r2.clone(), r1.clone()]] {
        let r = compare(&args).unwrap();
        let p = &r.pairs[0];
        assert_eq!(p.source.as_deref(), Some(r2.as_str()));
        assert_eq!(p.source_by, Some(imgcheck::compare::model::SourceBy::Newer));
        let line = r
            .summary
            .iter()
            .find(|l| l.starts_with(&format!("source {r2}")))
            .unwrap_or_else(|| panic!("{:?}", r.summary));
        assert!(
            line.contains(&format!("recover what only {r1} holds"))
                && line.contains("/home/u/notes.txt"),
            "{line}"
        );
    }
}

/// attackA A4: the partition GUID alone regenerated (sgdisk -u 1:R, what
/// root=PARTUUID= names), or an MBR's disk identifier (sfdisk --disk-id,
/// as Windows does on a signature collision): a copy given an identity
/// of its own, a clone, with no heal between them, in both orders.
/// Before, "one disk" by the shared filesystem UUID.
#[test]
fn a_partition_guid_or_mbr_id_regenerated_is_a_clone() {
    if !tools() {
        return;
    }
    for (name, words) in [
        ("partition guid regenerated", "partition GUIDs"),
        ("mbr disk id regenerated", "MBR disk identifier"),
    ] {
        let Some(sc) = attack_a(name) else {
            continue;
        };
        for args in [
            [sc.copies[0].clone(), sc.copies[1].clone()],
            [sc.copies[1].clone(), sc.copies[0].clone()],
        ] {
            let r = compare(&args).unwrap();
            let p = &r.pairs[0];
            assert_eq!(
                p.kinship,
                Kinship::Clone,
                "{name}: {:?}",
                p.kinship_evidence
            );
            assert!(
                p.kinship_evidence[0].contains(words),
                "{:?}",
                p.kinship_evidence
            );
            assert_eq!((p.source.as_ref(), p.sink.as_ref()), (None, None), "{name}");
        }
    }
}

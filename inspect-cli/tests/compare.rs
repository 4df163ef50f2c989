//! `imgcheck compare` on re-enactments made by testdata/scripts/compare.sh
//! (qemu-img, qemu-io, sgdisk, mkfs.ext4, debugfs): two replicas diverged
//! after a crash, one torn, on Gluster bricks; a snapshot and the writes
//! after it; a backup series that stopped holding data. Each divergence
//! is checked against `qemu-img compare` and `cmp -l` of the raw guest
//! disks when those tools are installed (a visible skip otherwise).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

mod compare_common;
use compare_common::{afr_set, copy_to, writes_only_outside};

use imgcheck::compare::{
    compare,
    model::{Kinship, Newer, Relation, SourceBy},
};
use imgcheck_testdata::fixture;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok()
}

/// `qemu-img compare`'s answer: `None` when identical, else the offset it names.
fn qemu_compare(a: &str, b: &str) -> Option<Option<u64>> {
    if !have("qemu-img") {
        eprintln!("SKIP differential: qemu-img not installed");
        return None;
    }
    let o = Command::new("qemu-img")
        .args(["compare", "-U", a, b])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&o.stdout).to_string();
    Some(match o.status.code() {
        Some(0) => None,
        Some(1) => {
            let n = s.split("offset ").nth(1).and_then(|x| {
                x.trim_end_matches(|c: char| !c.is_ascii_digit())
                    .parse()
                    .ok()
            });
            Some(n.expect("an offset"))
        }
        c => panic!("qemu-img compare failed ({c:?}): {s}"),
    })
}

/// The sectors and the first byte in which the raw guest disks of
/// `a` and `b` differ, by `qemu-img convert` and `cmp -l`.
fn cmp_raw(dir: &Path, a: &str, b: &str) -> Option<(BTreeSet<u64>, Option<u64>)> {
    if !have("qemu-img") || !have("cmp") {
        eprintln!("SKIP differential: qemu-img or cmp not installed");
        return None;
    }
    let raw = |x: &str, out: &Path| {
        let mut c = Command::new("qemu-img");
        c.args(["convert", "-U", "-O", "raw"]);
        match x
            .rsplit_once('@')
            .filter(|(p, _)| Path::new(p).exists() && !Path::new(x).exists())
        {
            Some((p, s)) => c.args(["-l", &format!("snapshot.name={s}"), p]),
            None => c.arg(x),
        };
        assert!(c.arg(out).status().unwrap().success());
    };
    let (ra, rb) = (dir.join("a.raw"), dir.join("b.raw"));
    raw(a, &ra);
    raw(b, &rb);
    let o = Command::new("cmp")
        .arg("-l")
        .arg(&ra)
        .arg(&rb)
        .output()
        .unwrap();
    let mut blocks = BTreeSet::new();
    let mut first = None;
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let byte: u64 = line.split_whitespace().next().unwrap().parse().unwrap();
        let off = byte - 1; // cmp counts from 1
        first.get_or_insert(off);
        blocks.insert(off / 512);
    }
    std::fs::remove_file(ra).ok();
    std::fs::remove_file(rb).ok();
    Some((blocks, first))
}

fn our_blocks(r: &imgcheck::compare::model::Pair) -> BTreeSet<u64> {
    r.divergence
        .ranges
        .iter()
        .flat_map(|x| (x.start / 512)..(x.end() / 512))
        .collect()
}

/// Gluster's AFR xattrs on brick copies, by setfattr; false (and a
/// visible skip) where trusted.* cannot be set (not root, no setfattr).
fn afr(brick: &Path, file: &Path, blames: &str) -> bool {
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
        && set(
            file,
            &format!("trusted.afr.{blames}"),
            "0x000000020000000100000000",
        )
}

#[test]
fn replicas_split_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let a = copy_to(
        dir.path(),
        "compare/replica1.qcow2",
        "brick1/images/vm.qcow2",
    );
    let b = copy_to(
        dir.path(),
        "compare/replica2.qcow2",
        "brick2/images/vm.qcow2",
    );
    let gluster = afr(&dir.path().join("brick1"), &a, "vol-client-1")
        && afr(&dir.path().join("brick2"), &b, "vol-client-0");
    if !gluster {
        eprintln!("SKIP gluster xattrs: setfattr trusted.* refused (needs root and setfattr)");
    }
    let (sa, sb) = (
        a.to_str().unwrap().to_string(),
        b.to_str().unwrap().to_string(),
    );
    let r = compare(&[sa.clone(), sb.clone()]).unwrap();
    let p = &r.pairs[0];
    assert_eq!(p.kinship, Kinship::SameDisk, "{:?}", p.kinship_evidence);
    assert!(
        p.kinship_evidence
            .iter()
            .any(|w| w.contains("7d9c1e52-1111"))
    );
    assert_eq!(r.copies[0].verdict, "clean", "{:?}", r.copies[0].problems);
    assert_eq!(r.copies[1].verdict, "damaged");
    let problems = r.copies[1].problems.join("\n");
    assert!(problems.contains("qcow2."), "{problems}");
    assert!(
        problems.contains("ext4."),
        "the torn directory block: {problems}"
    );
    let named: Vec<&str> = p.holders.iter().map(|h| h.what.as_str()).collect();
    for want in [
        "/home/user/notes.txt",
        "/var/lib/pgsql/base.dat",
        "[superblock]",
    ] {
        assert!(named.contains(&want), "{want} not in {named:?}");
    }
    assert!(
        named
            .iter()
            .any(|w| w.starts_with("/var/lib/pgsql [directory")),
        "{named:?}"
    );
    assert_eq!(p.newer, Newer::B, "{:?}", p.dated);
    assert!(
        p.dated
            .iter()
            .any(|d| d.what.contains("superblock last written"))
    );
    assert_eq!(p.source.as_deref(), Some(sa.as_str()));
    assert_eq!(p.sink.as_deref(), Some(sb.as_str()));
    assert_eq!(p.source_by, Some(SourceBy::Verdict));
    assert_eq!(p.relation, Relation::Copies);
    let s = r.summary.join("\n");
    assert!(s.contains(&format!("heal from {sa}")), "{s}");
    assert!(s.contains(&format!("from {sb} after checking them")), "{s}");
    assert!(
        !s.contains("dd ") && !s.contains("rm "),
        "never a destructive step: {s}"
    );
    assert_eq!(r.exit, 1 | 4);
    if gluster {
        let n = r
            .notes
            .iter()
            .find(|n| n.code == "compare.gluster.split_brain")
            .expect("split-brain");
        assert!(n.message.contains("each brick blames the other"));
        let adv = n.advice.as_deref().unwrap();
        assert!(
            adv.contains("gluster volume heal vol split-brain source-brick"),
            "{adv}"
        );
        assert!(adv.contains("/images/vm.qcow2"), "{adv}");
        assert!(
            adv.contains("brick1"),
            "the sound brick is the source: {adv}"
        );
    }
    if let Some(q) = qemu_compare(&sa, &sb) {
        let at = q.expect("qemu-img compare says they differ");
        assert_eq!(p.divergence.first.map(|f| f / 512 * 512), Some(at));
    }
    if let Some((blocks, first)) = cmp_raw(dir.path(), &sa, &sb) {
        assert_eq!(our_blocks(p), blocks);
        assert_eq!(p.divergence.first, first);
        eprintln!(
            "replicas: {} differing sectors agree with cmp -l",
            blocks.len()
        );
    }
}

#[test]
fn a_snapshot_and_the_writes_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let img = copy_to(dir.path(), "compare/snap.qcow2", "snap.qcow2");
    let cur = img.to_str().unwrap().to_string();
    let snap = format!("{cur}@pre-upgrade");
    let r = compare(&[snap.clone(), cur.clone()]).unwrap();
    let p = &r.pairs[0];
    assert_eq!(p.kinship, Kinship::SameImage);
    assert_eq!(p.newer, Newer::B);
    assert!(
        p.divergence.shared > 0,
        "clusters both views share are not read"
    );
    assert!(
        p.divergence.read < p.divergence.compared / 4,
        "{:?}",
        p.divergence
    );
    let s = r.summary.join("\n");
    assert!(
        s.contains("reverting to") && s.contains("/var/lib/pgsql/base.dat"),
        "{s}"
    );
    // qemu-img compare opens no internal snapshot: the raw diff (qemu-img
    // convert -l snapshot.name=… and cmp -l) is the peer here.
    if let Some((blocks, first)) = cmp_raw(dir.path(), &snap, &cur) {
        assert_eq!(our_blocks(p), blocks);
        assert_eq!(p.divergence.first, first);
        eprintln!(
            "snapshot: {} differing sectors agree with cmp -l",
            blocks.len()
        );
    }
    let text = imgcheck::compare::text::text(&r).replace(dir.path().to_str().unwrap(), "DIR");
    insta::assert_snapshot!("compare_snapshot_against_current", text);
}

#[test]
fn a_backup_series_that_stopped_holding_data() {
    let dir = tempfile::tempdir().unwrap();
    let copies: Vec<String> = (1..=6)
        .map(|i| {
            let n = format!("backup-0{i}.qcow2");
            copy_to(dir.path(), &format!("compare/{n}"), &n)
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let r = compare(&copies).unwrap();
    let n = r
        .notes
        .iter()
        .find(|n| n.code == "compare.series.stopped")
        .expect("the series stopped");
    assert!(n.message.contains("the last 4 copies"), "{}", n.message);
    assert!(n.message.contains("backup-03"), "{}", n.message);
    assert!(n.advice.as_deref().unwrap().contains("backup-02"));
    // A backup against its source: how much of the source's data it holds.
    let p = &r.pairs[4];
    assert!(p.a_data_held * 10 < p.divergence.a_data, "{p:?}");
    assert!(
        r.summary
            .iter()
            .any(|l| l.contains("do not restore or heal from") && l.contains("backup-06"))
    );
    for thin in &copies[2..] {
        assert!(
            !r.summary
                .iter()
                .any(|l| l.contains("is consistent") && l.contains(thin.as_str())),
            "never heal from a copy that holds only /etc: {:?}",
            r.summary
        );
    }
}

#[test]
fn identical_copies_agree_with_qemu_img() {
    let dir = tempfile::tempdir().unwrap();
    let a = copy_to(dir.path(), "compare/replica1.qcow2", "a.qcow2");
    let b = copy_to(dir.path(), "compare/replica1.qcow2", "b.qcow2");
    let (sa, sb) = (
        a.to_str().unwrap().to_string(),
        b.to_str().unwrap().to_string(),
    );
    let r = compare(&[sa.clone(), sb.clone()]).unwrap();
    assert!(r.pairs[0].divergence.identical());
    assert_eq!(r.exit, 0);
    if let Some(q) = qemu_compare(&sa, &sb) {
        assert_eq!(q, None);
    }
}

#[test]
fn the_command_line_gives_json_and_the_exit_bits() {
    let dir = tempfile::tempdir().unwrap();
    let a = copy_to(dir.path(), "compare/replica1.qcow2", "a.qcow2");
    let b = copy_to(dir.path(), "compare/replica2.qcow2", "b.qcow2");
    let out = Command::new(env!("CARGO_BIN_EXE_imgcheck"))
        .args(["compare", "--json"])
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    // They differ (1) and the second is damaged (4).
    assert_eq!(out.status.code(), Some(5));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["copies"][1]["verdict"], "damaged");
    assert_eq!(v["pairs"][0]["kinship"], "same_disk");
    assert_eq!(v["pairs"][0]["relation"], "copies");
    assert_eq!(v["pairs"][0]["source"], a.to_str().unwrap());
    assert_eq!(v["pairs"][0]["sink"], b.to_str().unwrap());
    assert_eq!(v["pairs"][0]["source_by"], "verdict");
    assert!(
        v["pairs"][0]["divergence"]["ranges"]
            .as_array()
            .unwrap()
            .len()
            >= 4
    );
    let one = Command::new(env!("CARGO_BIN_EXE_imgcheck"))
        .args(["compare"])
        .arg(&a)
        .output()
        .unwrap();
    assert_eq!(one.status.code(), Some(16), "one copy is a usage error");
    let missing = Command::new(env!("CARGO_BIN_EXE_imgcheck"))
        .args(["compare"])
        .arg(&a)
        .arg(dir.path().join("nope.qcow2"))
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(8));
}

/// Two clean replicas with equal timestamps, each holding writes the other
/// lacks (qemu-io into the filesystem's free blocks 11008.. and 11264..,
/// 1 KiB blocks, partition at 1 MiB): nothing on disk names a source, so
/// the summary must not say "heal from" either, in either argument order.
/// Before, the source was whichever copy was given first (an attack's
/// repro-7, session 5).
#[test]
fn replicas_that_nothing_dates_name_no_source() {
    if !have("qemu-io") {
        eprintln!("SKIP: qemu-io not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let a = copy_to(dir.path(), "compare/replica1.qcow2", "a.qcow2");
    let b = copy_to(dir.path(), "compare/replica1.qcow2", "b.qcow2");
    for (img, cmd) in [
        (&a, "write -P 0x11 12320768 64k"),
        (&b, "write -P 0x22 12582912 128k"),
    ] {
        let st = Command::new("qemu-io")
            .args(["-f", "qcow2", "-c", cmd])
            .arg(img)
            .output()
            .unwrap();
        assert!(st.status.success(), "{st:?}");
    }
    let (sa, sb) = (
        a.to_str().unwrap().to_string(),
        b.to_str().unwrap().to_string(),
    );
    for args in [[sa.clone(), sb.clone()], [sb.clone(), sa.clone()]] {
        let r = compare(&args).unwrap();
        assert_eq!(r.copies[0].verdict, "clean", "{:?}", r.copies[0].problems);
        assert_eq!(r.copies[1].verdict, "clean", "{:?}", r.copies[1].problems);
        assert_eq!(r.pairs[0].divergence.differing, 192 * 1024);
        let s = r.summary.join("\n");
        assert!(!s.contains("heal from"), "{s}");
        assert!(s.contains("do not heal one from the other"), "{s}");
        assert_eq!(r.pairs[0].source, None);
        assert_eq!(r.pairs[0].sink, None);
        let kinds: Vec<&str> = r.pairs[0].dated.iter().map(|d| d.what.as_str()).collect();
        assert!(kinds.iter().all(|w| !w.contains('#')), "{kinds:?}");
        assert!(kinds.iter().any(|w| w.contains("e2fsck")), "{kinds:?}");
    }
}

/// The disk byte offset of `file`'s first block in the ext4 filesystem at
/// `fs_at` of the raw disk `raw`, by debugfs's bmap (1 KiB blocks).
fn block_of(raw: &Path, fs_at: u64, file: &str) -> u64 {
    let o = Command::new("debugfs")
        .args(["-R", &format!("bmap {file} 0")])
        .arg(format!("{}?offset={fs_at}", raw.display()))
        .output()
        .unwrap();
    let b: u64 = String::from_utf8_lossy(&o.stdout).trim().parse().unwrap();
    fs_at + b * 1024
}

/// Two raw copies of one disk, one block of notes.txt rewritten in one
/// by qemu-io at the block debugfs maps it to: the summary names the file,
/// as it does for qcow2 copies of the same guest. Before, only file-space
/// nodes were mapped for raw images, and a raw disk's partitions sit in
/// disk space: the 4 KiB were "in no file" (an attack's F6). Also the
/// filesystem alone as a raw file (no partition table).
#[test]
fn raw_copies_name_the_files_they_diverge_in() {
    if !have("qemu-img") || !have("qemu-io") || Command::new("debugfs").arg("-V").output().is_err()
    {
        eprintln!("SKIP: qemu-img, qemu-io or debugfs not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // cmp_raw converts into DIR/a.raw and DIR/b.raw: the copies live apart.
    let copies = dir.path().join("copies");
    std::fs::create_dir(&copies).unwrap();
    let a = copies.join("a.raw");
    let st = Command::new("qemu-img")
        .args(["convert", "-O", "raw"])
        .arg(fixture("compare/replica1.qcow2"))
        .arg(&a)
        .status()
        .unwrap();
    assert!(st.success());
    // The partition alone: a filesystem on a whole raw file.
    let whole = std::fs::read(&a).unwrap();
    let fa = copies.join("fs-a.raw");
    std::fs::write(&fa, &whole[1 << 20..whole.len() - (1 << 20)]).unwrap();
    let b = copies.join("b.raw");
    let fb = copies.join("fs-b.raw");
    std::fs::copy(&a, &b).unwrap();
    std::fs::copy(&fa, &fb).unwrap();
    for (img, at) in [(&b, 1u64 << 20), (&fb, 0)] {
        let off = block_of(img, at, "/home/user/notes.txt");
        let st = Command::new("qemu-io")
            .args(["-f", "raw", "-c", &format!("write -P 0x44 {off} 4096")])
            .arg(img)
            .output()
            .unwrap();
        assert!(st.status.success(), "{st:?}");
    }
    for (x, y) in [(&a, &b), (&fa, &fb)] {
        let (sa, sb) = (
            x.to_str().unwrap().to_string(),
            y.to_str().unwrap().to_string(),
        );
        let r = compare(&[sa.clone(), sb.clone()]).unwrap();
        let p = &r.pairs[0];
        assert_eq!(r.copies[0].format, "raw");
        assert_eq!(p.divergence.differing, 4096, "{:?}", p.divergence);
        assert_eq!(p.unnamed_bytes, 0, "{:?}", p.holders);
        let named: Vec<&str> = p.holders.iter().map(|h| h.what.as_str()).collect();
        assert_eq!(named, ["/home/user/notes.txt"], "{sb}");
        let s = r.summary.join("\n");
        assert!(s.contains("in /home/user/notes.txt"), "{s}");
        if let Some(q) = qemu_compare(&sa, &sb) {
            assert_eq!(p.divergence.first, q);
        }
        if let Some((blocks, first)) = cmp_raw(dir.path(), &sa, &sb) {
            assert_eq!(our_blocks(p), blocks);
            assert_eq!(p.divergence.first, first);
        }
    }
}

fn qemu(tool: &str, args: &[&str]) {
    let o = Command::new(tool).args(args).output().unwrap();
    assert!(o.status.success(), "{tool} {args:?}: {o:?}");
}

/// An overlay (qemu-img create -b) with a write of its own into
/// notes.txt's first block, given as a path.
fn overlay(dir: &Path, name: &str, base: &Path, writes: &[&str]) -> String {
    let p = dir.join(name);
    qemu(
        "qemu-img",
        &[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-b",
            base.to_str().unwrap(),
            "-F",
            "qcow2",
            p.to_str().unwrap(),
        ],
    );
    for w in writes {
        qemu("qemu-io", &["-f", "qcow2", "-c", w, p.to_str().unwrap()]);
    }
    p.to_str().unwrap().to_string()
}

/// notes.txt's first block in replica1's guest disk (by debugfs on a raw
/// conversion), so overlays write into a file the summary can name.
fn notes_block(dir: &Path) -> u64 {
    let raw = dir.join("notes-probe.raw");
    qemu(
        "qemu-img",
        &[
            "convert",
            "-O",
            "raw",
            fixture("compare/replica1.qcow2").to_str().unwrap(),
            raw.to_str().unwrap(),
        ],
    );
    let b = block_of(&raw, 1 << 20, "/home/user/notes.txt");
    std::fs::remove_file(raw).unwrap();
    b
}

fn tools() -> bool {
    let ok =
        have("qemu-img") && have("qemu-io") && Command::new("debugfs").arg("-V").output().is_ok();
    if !ok {
        eprintln!("SKIP: qemu-img, qemu-io or debugfs not installed");
    }
    ok
}

/// An overlay against its own backing file (directly, and two levels
/// down the chain), both argument orders: not replicas but the base plus
/// the overlay's writes, newer by construction; what it wrote is named and
/// no heal is advised (writing the base would change the overlay too).
/// Before, the two were "one disk" with "do not heal one from the other"
/// as if either could be the source (an attack's F13).
#[test]
fn an_overlay_against_its_backing_file_is_no_replica() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let base = copy_to(dir.path(), "compare/replica1.qcow2", "base.qcow2");
    let notes = notes_block(dir.path());
    let mid = overlay(dir.path(), "mid.qcow2", &base, &[]);
    let top = overlay(
        dir.path(),
        "top.qcow2",
        Path::new(&mid),
        &[&format!("write -P 0x61 {notes} 4096")],
    );
    let sbase = base.to_str().unwrap().to_string();
    for (x, y) in [
        (sbase.clone(), top.clone()),
        (top.clone(), sbase.clone()),
        (mid.clone(), top.clone()),
    ] {
        let r = compare(&[x.clone(), y.clone()]).unwrap();
        let p = &r.pairs[0];
        let backing = if x == top { y.clone() } else { x.clone() };
        assert_eq!(
            p.relation,
            Relation::OverlayOf {
                overlay: top.clone(),
                backing: backing.clone()
            }
        );
        assert_eq!(p.newer, if x == top { Newer::A } else { Newer::B });
        assert_eq!((p.source.as_ref(), p.sink.as_ref()), (None, None));
        assert_eq!(p.divergence.differing, 4096);
        let s = r.summary.join("\n");
        assert!(!s.contains("heal from"), "{s}");
        assert!(
            s.contains(&format!("{top} is an overlay of {backing}")),
            "{s}"
        );
        assert!(
            s.contains(&format!("{top} wrote over {backing} in 1 range (4 KiB)"))
                && s.contains("in /home/user/notes.txt"),
            "{s}"
        );
        if let Some(q) = qemu_compare(&x, &y) {
            assert_eq!(p.divergence.first, q);
        }
    }
}

/// Two linked clones of one template (two overlays of one base, each
/// written on its own) are different machines; two replicas of one
/// overlay (the file copied after it had writes, each then written) share
/// the overlay's own clusters. Neither gets heal advice from the base's
/// identity alone, and clones none at all. An overlay that wrote nothing
/// against one that did is undecided, said as such. Before, all were
/// "one disk" (an attack's F10).
#[test]
fn linked_clones_are_told_from_replicas_of_one_overlay() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let base = copy_to(dir.path(), "compare/replica1.qcow2", "base.qcow2");
    let notes = notes_block(dir.path());
    // Clones: both write into notes.txt and free space, differently.
    let vma = overlay(
        dir.path(),
        "vmA.qcow2",
        &base,
        &[
            &format!("write -P 0x41 {notes} 4096"),
            "write -P 0x41 12320768 64k",
        ],
    );
    let vmb = overlay(
        dir.path(),
        "vmB.qcow2",
        &base,
        &[
            &format!("write -P 0x42 {notes} 4096"),
            "write -P 0x42 12582912 64k",
        ],
    );
    let r = compare(&[vma.clone(), vmb.clone()]).unwrap();
    let p = &r.pairs[0];
    assert_eq!(p.relation, Relation::LinkedClones, "{:?}", p.divergence);
    assert_eq!(p.divergence.own_common, 0);
    assert_eq!((p.source.as_ref(), p.sink.as_ref()), (None, None));
    let s = r.summary.join("\n");
    assert!(s.contains("linked clones"), "{s}");
    assert!(
        !s.contains("heal from") && !s.contains("are one disk"),
        "{s}"
    );
    // Replicas of one overlay: copied after its writes, then each written.
    let r1 = overlay(
        dir.path(),
        "r1.qcow2",
        &base,
        &[
            &format!("write -P 0x51 {notes} 4096"),
            "write -P 0x51 12320768 256k",
        ],
    );
    let r2 = dir.path().join("r2.qcow2");
    std::fs::copy(&r1, &r2).unwrap();
    let r2 = r2.to_str().unwrap().to_string();
    qemu(
        "qemu-io",
        &["-f", "qcow2", "-c", "write -P 0x52 12582912 64k", &r1],
    );
    qemu(
        "qemu-io",
        &["-f", "qcow2", "-c", "write -P 0x53 12845056 64k", &r2],
    );
    let r = compare(&[r1.clone(), r2.clone()]).unwrap();
    let p = &r.pairs[0];
    assert_eq!(p.relation, Relation::OverlayReplicas, "{:?}", p.divergence);
    assert_eq!(p.divergence.own_common, 260 * 1024);
    assert_eq!(p.divergence.differing, 128 * 1024);
    assert!(r.summary.join("\n").contains("replicas of one overlay"));
    // A clone that wrote nothing yet: nothing tells.
    let empty = overlay(dir.path(), "vmC.qcow2", &base, &[]);
    let r = compare(&[vma.clone(), empty.clone()]).unwrap();
    let p = &r.pairs[0];
    assert_eq!(p.relation, Relation::OverlaysOfOneBase);
    assert_eq!((p.source.as_ref(), p.sink.as_ref()), (None, None));
    let s = r.summary.join("\n");
    assert!(
        s.contains("two overlays of one base: linked clones or replicas of one overlay")
            && !s.contains("heal from"),
        "{s}"
    );
    if let Some((blocks, first)) = cmp_raw(dir.path(), &vma, &vmb) {
        let p = &compare(&[vma.clone(), vmb.clone()]).unwrap().pairs[0];
        assert_eq!(our_blocks(p), blocks);
        assert_eq!(p.divergence.first, first);
    }
}

/// Sets `trusted.afr.NAME` to the given data/metadata/entry counters.
/// One-sided AFR blame (brick1's trusted.afr.vol-client-1 non-zero,
/// brick2's counters all zero): brick1 holds writes brick2 lacks, so
/// brick1 is self-heal's source and brick2 its sink, in either argument
/// order, with `gluster volume heal vol` (not the split-brain form).
/// Before, "self-heal knows its source" named neither (an attack's F8).
/// And a split-brain where nothing on the images picks a source gets no
/// source-brick command.
#[test]
fn one_sided_afr_blame_names_source_and_sink() {
    if !have("qemu-io") {
        eprintln!("SKIP: qemu-io not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let a = copy_to(
        dir.path(),
        "compare/replica1.qcow2",
        "brick1/images/vm.qcow2",
    );
    let b = copy_to(
        dir.path(),
        "compare/replica1.qcow2",
        "brick2/images/vm.qcow2",
    );
    qemu(
        "qemu-io",
        &[
            "-f",
            "qcow2",
            "-c",
            "write -P 0x11 12320768 64k",
            a.to_str().unwrap(),
        ],
    );
    // Both zero on brick2 but present, as AFR leaves them after a post-op.
    let set = afr(&dir.path().join("brick1"), &a, "vol-client-1")
        && afr_set(&a, "vol-client-0", [0, 0, 0])
        && afr(&dir.path().join("brick2"), &b, "vol-client-0")
        && afr_set(&b, "vol-client-0", [0, 0, 0]);
    if !set {
        eprintln!("SKIP: setfattr trusted.* refused (needs root and setfattr)");
        return;
    }
    let (sa, sb) = (
        a.to_str().unwrap().to_string(),
        b.to_str().unwrap().to_string(),
    );
    for args in [[sa.clone(), sb.clone()], [sb.clone(), sa.clone()]] {
        let r = compare(&args).unwrap();
        let p = &r.pairs[0];
        assert_eq!(p.source.as_deref(), Some(sa.as_str()), "{:?}", r.summary);
        assert_eq!(p.sink.as_deref(), Some(sb.as_str()));
        assert_eq!(p.source_by, Some(SourceBy::AfrBlame));
        let n = r
            .notes
            .iter()
            .find(|n| n.code == "compare.gluster.pending")
            .expect("pending");
        assert!(
            n.message
                .contains(&format!("self-heal's source is {sa}, its sink {sb}")),
            "{}",
            n.message
        );
        let adv = n.advice.as_deref().unwrap();
        assert!(adv.contains("gluster volume heal vol "), "{adv}");
        assert!(!adv.contains("source-brick"), "{adv}");
        assert!(r.summary.join("\n").contains(&format!("heal from {sa}")));
    }
    // Each blames the other, both clean, nothing dates them: no source.
    assert!(afr_set(&b, "vol-client-0", [3, 0, 0]));
    let r = compare(&[sa.clone(), sb.clone()]).unwrap();
    assert_eq!(r.pairs[0].source, None);
    let n = r
        .notes
        .iter()
        .find(|n| n.code == "compare.gluster.split_brain")
        .expect("split-brain");
    let adv = n.advice.as_deref().unwrap();
    assert!(!adv.contains("source-brick"), "{adv}");
    assert!(
        adv.contains("nothing on the images picks a source"),
        "{adv}"
    );
}

/// Seven backups by mkfs.ext4 -d (testdata/scripts/compare-series.sh):
/// three of a full tree (2 MiB of files), then four of /etc alone (20 KiB
/// of file blocks), each with a 4 MiB journal and its metadata, given out
/// of order. By file data the last four hold 1 % of the full ones: they
/// stopped holding data, from jbackup-4 (by mkfs date), and jbackup-3 is
/// the last good one. Before, the rule measured allocated bytes (320 KiB
/// of metadata against 2.3 MiB: 14 %, no tenfold fall) and said nothing
/// (an attack's F9).
#[test]
fn a_series_is_ordered_by_date_and_measured_in_file_data() {
    let dir = tempfile::tempdir().unwrap();
    let copies: Vec<String> = [6, 2, 4, 1, 7, 3, 5]
        .iter()
        .map(|i| {
            let n = format!("jbackup-{i}.qcow2");
            copy_to(dir.path(), &format!("compare/{n}"), &n)
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let r = compare(&copies).unwrap();
    for c in &r.copies {
        let full = ["-1.", "-2.", "-3."].iter().any(|x| c.label.contains(x));
        let fd = c.file_data.unwrap();
        assert!(
            if full { fd >= 2 << 20 } else { fd < 64 << 10 },
            "{}: {fd}",
            c.label
        );
        assert!(c.fs_date.is_some(), "{}", c.label);
        // The measure the rule used before sees no tenfold fall here.
        assert!(c.allocated > 256 << 10, "{}: {}", c.label, c.allocated);
    }
    let n = r
        .notes
        .iter()
        .find(|n| n.code == "compare.series.stopped")
        .unwrap_or_else(|| panic!("the series stopped: {:?}", r.summary));
    assert!(n.message.contains("the last 4 copies"), "{}", n.message);
    assert!(
        n.message.contains("from ")
            && n.message
                .contains("jbackup-4.qcow2, last written 2026-02-04"),
        "{}",
        n.message
    );
    assert!(n.message.contains("of the file data"), "{}", n.message);
    assert!(
        n.advice.as_deref().unwrap().starts_with(&copies[5]),
        "{:?}",
        n.advice
    );
}

/// A monthly series by mkfs.ext4 -d with one filesystem UUID
/// (testdata/scripts/compare-thin.sh): jan, feb and mar hold the full
/// tree, apr (the newest) only /etc, a failed backup. Whatever the order,
/// apr is never the source of a heal, and every pair with it says not to
/// heal or restore from it. Before, given first, apr was "clean and
/// newer: heal from" it against each full copy (an attack's F5): the
/// thin check measured only the second copy of a pair.
#[test]
fn a_thin_newest_copy_is_never_the_source_in_any_order() {
    let p = |m: &str| {
        fixture(&format!("compare/thin-{m}.qcow2"))
            .to_str()
            .unwrap()
            .to_string()
    };
    let apr = p("apr");
    let full = [p("jan"), p("feb"), p("mar")];
    for order in [
        ["apr", "jan", "mar", "feb"],
        ["jan", "apr", "mar", "feb"],
        ["mar", "feb", "apr", "jan"],
        ["feb", "jan", "mar", "apr"],
        ["apr", "mar", "feb", "jan"],
    ] {
        let args: Vec<String> = order.iter().map(|m| p(m)).collect();
        let r = compare(&args).unwrap();
        let s = r.summary.join("\n");
        assert!(
            !s.contains(&format!(": heal from {apr}")) && !s.contains(&format!("source {apr}")),
            "{order:?}: {s}"
        );
        assert!(
            s.contains(&format!("do not restore or heal from {apr} (keep ")),
            "{order:?}: {s}"
        );
        for pair in &r.pairs {
            assert_ne!(pair.source.as_deref(), Some(apr.as_str()), "{order:?}");
            if pair.a == apr || pair.b == apr {
                assert_eq!(pair.source, None, "{order:?}: {s}");
            } else if let Some(src) = &pair.source {
                assert!(full.contains(src), "{order:?}: {src}");
            }
        }
        let n = r
            .notes
            .iter()
            .find(|n| n.code == "compare.series.stopped")
            .expect("the series stopped");
        assert!(
            n.message
                .starts_with("the last copy by filesystem date (from ")
                && n.message.contains("holds at most 1.")
                && n.message.ends_with(": it stopped holding data"),
            "{}",
            n.message
        );
        assert!(
            n.advice.as_deref().unwrap().starts_with(&full[2]),
            "{order:?}: {:?}",
            n.advice
        );
    }
}

/// A copy that lost the disk's tail: `qemu-img resize --shrink` of a
/// qcow2 copy, and `truncate` of a raw one, by 1 MiB (the backup GPT
/// lived there). The missing tail is a differing range, counted and
/// mapped, where `qemu-img compare` says the contents differ, and the
/// summary says which copy is smaller by how much. Before, the pair
/// "differed in 0 ranges (0 bytes)" with only a note (an attack's F9).
#[test]
fn a_truncated_copy_differs_in_its_missing_tail() {
    if !have("qemu-img") || !have("truncate") {
        eprintln!("SKIP: qemu-img or truncate not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let full = copy_to(dir.path(), "compare/replica1.qcow2", "full.qcow2");
    let short = copy_to(dir.path(), "compare/replica1.qcow2", "short.qcow2");
    qemu(
        "qemu-img",
        &[
            "resize",
            "-q",
            "--shrink",
            "-f",
            "qcow2",
            short.to_str().unwrap(),
            "-1M",
        ],
    );
    let raw = dir.path().join("full.raw");
    qemu(
        "qemu-img",
        &[
            "convert",
            "-O",
            "raw",
            full.to_str().unwrap(),
            raw.to_str().unwrap(),
        ],
    );
    let raw_short = dir.path().join("short.raw");
    std::fs::copy(&raw, &raw_short).unwrap();
    let st = Command::new("truncate")
        .args(["-s", "-1M"])
        .arg(&raw_short)
        .status()
        .unwrap();
    assert!(st.success());
    let size = 16u64 << 20;
    for (x, y) in [(&full, &short), (&short, &full), (&raw, &raw_short)] {
        let (sa, sb) = (
            x.to_str().unwrap().to_string(),
            y.to_str().unwrap().to_string(),
        );
        let r = compare(&[sa.clone(), sb.clone()]).unwrap();
        let p = &r.pairs[0];
        let last = p.ranges().last().copied().expect("a differing range");
        assert!(
            last.start >= size - (1 << 20) && last.end() == size,
            "{sa} {sb}: {:?}",
            p.ranges()
        );
        assert!(p.differing() >= 512, "{:?}", p.divergence);
        assert!(!p.divergence.identical());
        let s = r.summary.join("\n");
        assert!(!s.contains("in 0 ranges"), "{s}");
        let small = if x == &short || x == &raw_short {
            &sa
        } else {
            &sb
        };
        assert!(s.contains(&format!("{small} is 1 MiB smaller than")), "{s}");
        assert_eq!(r.exit & 1, 1);
        if let Some(q) = qemu_compare(&sa, &sb) {
            assert_eq!(p.divergence.first, q, "{s}");
        }
    }
}

/// A dd copy (cp of the raw disk) whose filesystem was given a UUID of
/// its own by tune2fs -U (the partition copied out and back with dd):
/// a clone, two disks now, not "one disk", and no heal between them
/// (it would give one the other's identity). Before, the shared disk and
/// partition GUIDs made it "one disk" and the clone, newer by its
/// superblock, the source of a heal (an attack's F6).
#[test]
fn a_clone_with_a_new_filesystem_uuid_is_no_longer_one_disk() {
    if !have("qemu-img") || Command::new("tune2fs").output().is_err() || !have("dd") {
        eprintln!("SKIP: qemu-img, tune2fs or dd not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.raw");
    qemu(
        "qemu-img",
        &[
            "convert",
            "-O",
            "raw",
            fixture("compare/replica1.qcow2").to_str().unwrap(),
            a.to_str().unwrap(),
        ],
    );
    let b = dir.path().join("b.raw");
    let part = dir.path().join("p1.img");
    let dd = |args: &[String]| {
        let st = Command::new("dd").args(args).output().unwrap();
        assert!(st.status.success(), "dd {args:?}: {st:?}");
    };
    dd(&[
        format!("if={}", a.display()),
        format!("of={}", b.display()),
        "bs=1M".into(),
    ]);
    dd(&[
        format!("if={}", b.display()),
        format!("of={}", part.display()),
        "bs=1M".into(),
        "skip=1".into(),
        "count=14".into(),
    ]);
    let new = "7d9c1e52-1111-4a4a-8b8b-0000000000ff";
    let st = Command::new("tune2fs")
        .args(["-U", new])
        .arg(&part)
        .output()
        .unwrap();
    assert!(st.status.success(), "{st:?}");
    dd(&[
        format!("if={}", part.display()),
        format!("of={}", b.display()),
        "bs=1M".into(),
        "seek=1".into(),
        "conv=notrunc".into(),
    ]);
    let (sa, sb) = (
        a.to_str().unwrap().to_string(),
        b.to_str().unwrap().to_string(),
    );
    for args in [[sa.clone(), sb.clone()], [sb.clone(), sa.clone()]] {
        let r = compare(&args).unwrap();
        let p = &r.pairs[0];
        assert_eq!(p.kinship, Kinship::Clone, "{:?}", p.kinship_evidence);
        assert!(
            p.kinship_evidence[0].contains(new)
                && p.kinship_evidence[0].contains("7d9c1e52-1111-4a4a-8b8b-000000000018"),
            "{:?}",
            p.kinship_evidence
        );
        assert_eq!((p.source.as_ref(), p.sink.as_ref()), (None, None));
        let s = r.summary.join("\n");
        assert!(
            s.contains("are a clone (same partition GUIDs / contents, different fs UUID"),
            "{s}"
        );
        assert!(
            !s.contains("are one disk") && !s.contains("heal from"),
            "{s}"
        );
    }
}

/// An overlay set against a copy of its backing file (cp of the base,
/// which is itself an overlay of a template, so both keep the template
/// beneath): the overlay's backing is a copy of the other, by the backing
/// link and the backing file's guest bytes; no heal. And against a disk
/// its backing file is not (replica2, one disk by its UUIDs): said so.
/// Before, the first was "linked clones" (an attack's F10).
#[test]
fn an_overlay_against_a_copy_of_its_backing_file() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let template = copy_to(dir.path(), "compare/replica1.qcow2", "template.qcow2");
    let notes = notes_block(dir.path());
    let base = overlay(
        dir.path(),
        "base.qcow2",
        &template,
        &["write -P 0x71 12320768 64k"],
    );
    let top = overlay(
        dir.path(),
        "top.qcow2",
        Path::new(&base),
        &[&format!("write -P 0x72 {notes} 4096")],
    );
    let copy = dir.path().join("base-copy.qcow2");
    std::fs::copy(&base, &copy).unwrap();
    let copy = copy.to_str().unwrap().to_string();
    for (x, y) in [(top.clone(), copy.clone()), (copy.clone(), top.clone())] {
        let r = compare(&[x.clone(), y.clone()]).unwrap();
        let p = &r.pairs[0];
        assert_eq!(
            p.relation,
            Relation::OverlayOfCopy {
                overlay: top.clone(),
                backing: base.clone(),
                copy: copy.clone()
            },
            "{:?}",
            p.kinship_evidence
        );
        assert_eq!(p.newer, if x == top { Newer::A } else { Newer::B });
        assert_eq!((p.source.as_ref(), p.sink.as_ref()), (None, None));
        assert_eq!(p.divergence.differing, 4096);
        let s = r.summary.join("\n");
        assert!(
            s.contains(&format!("its backing file is a copy of {copy}")),
            "{s}"
        );
        assert!(
            !s.contains("linked clones, different machines") && !s.contains("heal from"),
            "{s}"
        );
    }
    let other = copy_to(dir.path(), "compare/replica2.qcow2", "other.qcow2");
    let other = other.to_str().unwrap().to_string();
    let r = compare(&[top.clone(), other.clone()]).unwrap();
    let p = &r.pairs[0];
    assert!(
        !matches!(p.relation, Relation::OverlayOfCopy { .. }),
        "{:?}",
        p.relation
    );
    assert!(
        p.kinship_evidence
            .iter()
            .any(|w| w.contains(&format!("of {top} is not a copy of {other}"))),
        "{:?}",
        p.kinship_evidence
    );
}

/// A replica 3 after two outages, each brick file's AFR xattrs as Gluster
/// leaves them (one trusted.afr.vol-client-N per other brick, none for
/// itself): brick1 was down for W1 (brick2 and brick3 blame vol-client-0),
/// brick3 then for W2 (brick1 and brick2 blame vol-client-2). brick2 holds
/// both writes and no brick blames it: it is the source against each
/// other; brick1 and brick3 blame each other, which with brick2 blamed by
/// none is no split-brain: both are brick2's sinks (Gluster's
/// afr_selfheal_find_direction). Who blames whom is said for all three. Before, brick2 against brick3 was "both
/// blaming, the changelog names no source", since blame of a third brick
/// (vol-client-0) was taken as blame of the other (an attack's F2).
#[test]
fn afr_blame_of_a_third_brick_is_not_blame_of_the_other() {
    if !have("qemu-io") {
        eprintln!("SKIP: qemu-io not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let w1 = "write -P 0x11 12320768 64k";
    let w2 = "write -P 0x22 12582912 64k";
    let mut paths = Vec::new();
    for (i, writes) in [(1, vec![w2]), (2, vec![w1, w2]), (3, vec![w1])] {
        let p = copy_to(
            dir.path(),
            "compare/replica1.qcow2",
            &format!("brick{i}/images/vm.qcow2"),
        );
        for w in writes {
            qemu("qemu-io", &["-f", "qcow2", "-c", w, p.to_str().unwrap()]);
        }
        paths.push(p);
    }
    // brick i (client i-1) carries the other two clients' counters.
    let xattrs: [[(usize, u32); 2]; 3] = [[(1, 0), (2, 2)], [(0, 3), (2, 2)], [(0, 3), (1, 0)]];
    for (i, (p, xs)) in paths.iter().zip(xattrs).enumerate() {
        let root = dir.path().join(format!("brick{}", i + 1));
        let mut ok = afr(&root, p, "dirty");
        for (client, n) in xs {
            ok &= afr_set(p, &format!("vol-client-{client}"), [n, 0, 0]);
        }
        if !ok {
            eprintln!("SKIP: setfattr trusted.* refused (needs root and setfattr)");
            return;
        }
        assert!(afr_set(p, "dirty", [0, 0, 0]));
    }
    let s: Vec<String> = paths
        .iter()
        .map(|p| p.to_str().unwrap().to_string())
        .collect();
    let (b1, b2, b3) = (&s[0], &s[1], &s[2]);
    for args in [
        vec![b2.clone(), b3.clone(), b1.clone()],
        vec![b3.clone(), b2.clone(), b1.clone()],
        vec![b1.clone(), b2.clone(), b3.clone()],
    ] {
        let r = compare(&args).unwrap();
        for p in &r.pairs {
            let has2 = p.a == *b2 || p.b == *b2;
            if has2 {
                assert_eq!(p.source.as_deref(), Some(b2.as_str()), "{:?}", r.summary);
                assert_eq!(p.source_by, Some(SourceBy::AfrBlame));
            } else {
                // brick1 and brick3 blame each other, but brick2 is blamed
                // by none: Gluster's one source, both of them its sinks,
                // no split-brain (an attack's F5 on this very layout).
                assert_eq!(p.source, None, "{:?}", r.summary);
                assert!(
                    !r.notes
                        .iter()
                        .any(|n| n.code == "compare.gluster.split_brain"),
                    "{:?}",
                    r.notes
                );
                assert!(
                    r.notes.iter().any(|n| n.code == "compare.gluster.pending"
                        && n.message.contains(&format!(
                            "self-heal's source is {b2} (vol-client-1) and both are its sinks"
                        ))),
                    "{:?}",
                    r.notes
                );
            }
        }
        let n = r
            .notes
            .iter()
            .find(|n| n.code == "compare.gluster.blame")
            .expect("who blames whom");
        for want in [
            format!("{b1} (vol-client-0) blames vol-client-2 ({b3})"),
            format!("{b2} (vol-client-1) blames vol-client-0 ({b1}), vol-client-2 ({b3})"),
            format!("{b3} (vol-client-2) blames vol-client-0 ({b1})"),
            format!("blamed by none: {b2};"),
        ] {
            assert!(n.message.contains(&want), "{want}: {}", n.message);
        }
        assert!(
            !r.summary.join("\n").contains(&format!("heal from {b1}"))
                && !r.summary.join("\n").contains(&format!("heal from {b3}")),
            "{:?}",
            r.summary
        );
    }
}

/// One NTFS disk (mkfs.ntfs: no filesystem map here, so no file data to
/// weigh) as a sparse copy (cp --sparse=always, 2 MiB allocated) and a
/// dense one (dd, 32 MiB allocated), one sector rewritten by dd in the
/// dense one: each holds the other's data but that sector, so neither is
/// "only part" of the other, in either order. Before, the thin check
/// weighed allocated sizes and called the sparse copy not a full copy.
#[test]
fn a_sparse_copy_is_not_thin_against_a_dense_one() {
    if Command::new("mkfs.ntfs").arg("-V").output().is_err() || !have("dd") {
        eprintln!("SKIP: mkfs.ntfs or dd not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("ntfs.raw");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(32 << 20)
        .unwrap();
    let o = Command::new("mkfs.ntfs")
        .args(["-q", "-F", "-f"])
        .arg(&img)
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let sparse = dir.path().join("sparse.raw");
    let dense = dir.path().join("dense.raw");
    assert!(
        Command::new("cp")
            .arg("--sparse=always")
            .arg(&img)
            .arg(&sparse)
            .status()
            .unwrap()
            .success()
    );
    for args in [
        vec![
            format!("if={}", img.display()),
            format!("of={}", dense.display()),
            "bs=1M".into(),
        ],
        vec![
            "if=/dev/urandom".into(),
            format!("of={}", dense.display()),
            "bs=512".into(),
            "seek=40000".into(),
            "count=1".into(),
            "conv=notrunc".into(),
        ],
    ] {
        assert!(
            Command::new("dd")
                .args(&args)
                .output()
                .unwrap()
                .status
                .success()
        );
    }
    let (sa, sb) = (
        sparse.to_str().unwrap().to_string(),
        dense.to_str().unwrap().to_string(),
    );
    for args in [[sa.clone(), sb.clone()], [sb.clone(), sa.clone()]] {
        let r = compare(&args).unwrap();
        assert!(r.copies[0].allocated != r.copies[1].allocated);
        assert_eq!(r.pairs[0].divergence.differing, 512);
        let s = r.summary.join("\n");
        assert!(!s.contains("holds only part"), "{s}");
        assert!(s.contains("do not heal one from the other"), "{s}");
    }
}

/// An overlay (qemu-img create -b, one qemu-io write of its own) whose
/// backing link was then pointed at a file that does not exist (qemu-img
/// rebase -u), against its real base: what it reads through the missing
/// backing is unknown, so those ranges are read, fail, and are said to
/// (compare.read.failed, backing file unavailable), never compared as
/// zeros; it is not a source. Before, the missing backing read as zeros
/// without reading, and the pair "differed" in the base's data as if the
/// overlay held zeros there.
#[test]
fn a_missing_backing_file_is_unknown_not_zeros() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let base = copy_to(dir.path(), "compare/replica1.qcow2", "base.qcow2");
    let ov = overlay(
        dir.path(),
        "ov.qcow2",
        &base,
        &["write -P 0x61 12320768 4096"],
    );
    qemu(
        "qemu-img",
        &[
            "rebase",
            "-u",
            "-f",
            "qcow2",
            "-b",
            dir.path().join("gone.qcow2").to_str().unwrap(),
            "-F",
            "qcow2",
            &ov,
        ],
    );
    let sbase = base.to_str().unwrap().to_string();
    for args in [[ov.clone(), sbase.clone()], [sbase.clone(), ov.clone()]] {
        let r = compare(&args).unwrap();
        let p = &r.pairs[0];
        assert!(!p.divergence.unreadable.is_empty(), "{:?}", p.divergence);
        let n = r
            .notes
            .iter()
            .find(|n| n.code == "compare.read.failed")
            .unwrap_or_else(|| panic!("{:?}", r.notes));
        // The reason names the missing file (speed8's and compare8's fixes
        // of the same defect merged: the bytes are unreadable, with why).
        assert!(
            n.message.starts_with(&ov)
                && n.message.contains("could not be read")
                && n.message.contains("gone.qcow2"),
            "{}",
            n.message
        );
        assert_ne!(p.source.as_deref(), Some(ov.as_str()), "{:?}", r.summary);
    }
}

/// One-sided AFR blame from a damaged brick: brick1 holds replica2 (a
/// torn directory block and a stale refcount, damaged) and blames
/// vol-client-1; brick2 holds replica1 (clean) and blames none. The
/// changelog would make brick1 self-heal's source, which copies the
/// damage over the clean brick: the source is brick2 (the sound one), in
/// either order, and the advice says not to let Gluster heal from
/// brick1. Before, "heal from" brick1 by AFR blame (an attack's F1).
#[test]
fn afr_blame_never_makes_a_damaged_brick_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let a = copy_to(
        dir.path(),
        "compare/replica2.qcow2",
        "brick1/images/vm.qcow2",
    );
    let b = copy_to(
        dir.path(),
        "compare/replica1.qcow2",
        "brick2/images/vm.qcow2",
    );
    let set = afr(&dir.path().join("brick1"), &a, "vol-client-1")
        && afr_set(&a, "vol-client-0", [0, 0, 0])
        && afr(&dir.path().join("brick2"), &b, "vol-client-0")
        && afr_set(&b, "vol-client-0", [0, 0, 0]);
    if !set {
        eprintln!("SKIP: setfattr trusted.* refused (needs root and setfattr)");
        return;
    }
    let (sa, sb) = (
        a.to_str().unwrap().to_string(),
        b.to_str().unwrap().to_string(),
    );
    for args in [[sa.clone(), sb.clone()], [sb.clone(), sa.clone()]] {
        let r = compare(&args).unwrap();
        let p = &r.pairs[0];
        assert_eq!(
            r.copies.iter().find(|c| c.label == sa).unwrap().verdict,
            "damaged"
        );
        assert_eq!(p.source.as_deref(), Some(sb.as_str()), "{:?}", r.summary);
        assert_eq!(p.source_by, Some(SourceBy::Verdict));
        let s = r.summary.join("\n");
        assert!(!s.contains(&format!("heal from {sa}")), "{s}");
        let n = r
            .notes
            .iter()
            .find(|n| n.code == "compare.gluster.pending")
            .expect("pending");
        let adv = n.advice.as_deref().unwrap();
        assert!(
            adv.contains(&format!("do not let Gluster heal from {sa}"))
                && !adv.contains("then let Gluster heal"),
            "{adv}"
        );
    }
}

/// A hollow copy (testdata/scripts/compare-hollow.sh): `e2image -r` of a
/// mkfs.ext4 -d disk keeps every superblock, table, inode and directory
/// and leaves every file's data zeros; e2fsck -fn calls it clean, and it
/// was mounted (written) three months after the full copy. It is never
/// the source of a heal, in any argument order of two or three copies,
/// as raw (dense, as dd leaves it) or qcow2, and not when its brick's
/// AFR changelog blames the full copy's brick either; what it holds of
/// the full copy's data counts no zeros. Before, "holds 93.4 %" (the
/// dense full copy's zeros counted as data it held) and "clean and
/// newer: heal from" the hollow copy in both orders (an attack's F0).
#[test]
fn a_hollow_copy_is_never_the_source_in_any_order() {
    let dir = tempfile::tempdir().unwrap();
    let full = copy_to(dir.path(), "compare/hollow-full.raw", "full.raw");
    let hollow = copy_to(dir.path(), "compare/hollow-hollow.raw", "hollow.raw");
    if Command::new("e2fsck").arg("-V").output().is_ok() {
        for f in [&full, &hollow] {
            let o = Command::new("e2fsck").arg("-fn").arg(f).output().unwrap();
            assert_eq!(
                o.status.code(),
                Some(0),
                "e2fsck -fn {}: {o:?}",
                f.display()
            );
        }
    } else {
        eprintln!("SKIP peer: e2fsck not installed");
    }
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (sf, sh) = (s(&full), s(&hollow));
    let check = |args: &[String], hollow: &str, full: &[String]| {
        let r = compare(args).unwrap();
        let text = r.summary.join("\n");
        assert!(
            !text.contains(&format!(": heal from {hollow}"))
                && !text.contains(&format!("source {hollow}")),
            "{args:?}: {text}"
        );
        for p in &r.pairs {
            assert_ne!(p.source.as_deref(), Some(hollow), "{args:?}: {text}");
            if let Some(src) = &p.source {
                assert!(full.contains(src), "{args:?}: {src}");
            }
            let (with, other) = if p.a == hollow {
                (true, &p.b)
            } else {
                (p.b == hollow, &p.a)
            };
            if !with {
                continue;
            }
            // What the hollow copy holds of the full one's data.
            let d = &p.divergence;
            let (data, held) = if p.a == *other {
                (d.a_data, p.a_data_held)
            } else {
                (d.b_data, d.b_data - d.b_data_differing)
            };
            assert!(held * 2 < data, "{args:?}: {held} of {data}: {d:?}");
            let zeroed = if p.a == hollow {
                p.a_files_zeroed
            } else {
                p.b_files_zeroed
            };
            assert!(zeroed >= 2 << 20, "{args:?}: {zeroed}");
            assert!(
                text.contains(&format!("do not restore or heal from {hollow} however new")),
                "{args:?}: {text}"
            );
        }
        r
    };
    for args in [[sf.clone(), sh.clone()], [sh.clone(), sf.clone()]] {
        let r = check(&args, &sh, std::slice::from_ref(&sf));
        let p = &r.pairs[0];
        assert_eq!(p.newer, if args[0] == sh { Newer::A } else { Newer::B });
        assert_eq!(p.source, None, "{:?}", r.summary);
    }
    if !have("qemu-img") {
        eprintln!("SKIP qcow2 orders: qemu-img not installed");
        return;
    }
    let fq = dir.path().join("full.qcow2");
    let hq = dir.path().join("hollow.qcow2");
    for (from, to) in [(&full, &fq), (&hollow, &hq)] {
        qemu(
            "qemu-img",
            &[
                "convert",
                "-O",
                "qcow2",
                from.to_str().unwrap(),
                to.to_str().unwrap(),
            ],
        );
    }
    let (sfq, shq) = (s(&fq), s(&hq));
    let fulls = [sf.clone(), sfq.clone()];
    let three = [sf.clone(), sfq.clone(), shq.clone()];
    for order in [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ] {
        let args: Vec<String> = order.iter().map(|&i| three[i].clone()).collect();
        check(&args, &shq, &fulls);
    }
    // On bricks, the hollow copy's changelog blaming the full one's brick.
    let b1 = dir.path().join("brick1");
    let b2 = dir.path().join("brick2");
    let hb = copy_to(
        dir.path(),
        "compare/hollow-hollow.raw",
        "brick1/images/vm.raw",
    );
    let fb = copy_to(
        dir.path(),
        "compare/hollow-full.raw",
        "brick2/images/vm.raw",
    );
    let set = afr(&b1, &hb, "vol-client-1")
        && afr_set(&hb, "dirty", [0, 0, 0])
        && afr(&b2, &fb, "dirty")
        && afr_set(&fb, "vol-client-0", [0, 0, 0])
        && afr_set(&fb, "dirty", [0, 0, 0]);
    if !set {
        eprintln!("SKIP bricks: setfattr trusted.* refused (needs root and setfattr)");
        return;
    }
    let (shb, sfb) = (s(&hb), s(&fb));
    for args in [[shb.clone(), sfb.clone()], [sfb.clone(), shb.clone()]] {
        let r = check(&args, &shb, std::slice::from_ref(&sfb));
        let adv: Vec<&str> = r.notes.iter().filter_map(|n| n.advice.as_deref()).collect();
        assert!(!adv.is_empty(), "{:?}", r.notes);
        for a in &adv {
            assert!(!a.contains("then let Gluster heal"), "{a}");
            assert!(!a.contains("source-brick"), "{a}");
            writes_only_outside(a, &[&b1, &b2]);
        }
        assert!(
            adv.iter()
                .any(|a| a.contains(&format!("do not let Gluster heal from {shb}"))),
            "{adv:?}"
        );
    }
}

/// Three brick copies of replica1, each given a write of its own by
/// qemu-io (so all three differ and none is damaged or dated newer), with
/// `xattrs[i]` as brick i's trusted.afr.vol-client-N data counters (and
/// metadata counters `md`); `None` when setfattr is refused.
fn replica3(dir: &Path, xattrs: [[(usize, u32, u32); 2]; 3]) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for (i, xs) in xattrs.iter().enumerate() {
        let p = copy_to(
            dir,
            "compare/replica1.qcow2",
            &format!("brick{i}/images/vm.qcow2"),
        );
        let w = format!("write -P 0x{:x} {} 64k", 0x41 + i, 12320768 + i * 262144);
        qemu("qemu-io", &["-f", "qcow2", "-c", &w, p.to_str().unwrap()]);
        let mut ok = afr(&dir.join(format!("brick{i}")), &p, "dirty");
        ok &= afr_set(&p, "dirty", [0, 0, 0]);
        for &(client, data, md) in xs {
            ok &= afr_set(&p, &format!("vol-client-{client}"), [data, md, 0]);
        }
        if !ok {
            return None;
        }
        out.push(p.to_str().unwrap().to_string());
    }
    Some(out)
}

/// A replica-3 blame cycle (setfattr: brick0 blames vol-client-1, brick1
/// vol-client-2, brick2 vol-client-0), as AFR leaves it after partial
/// post-ops. Gluster's afr_selfheal_find_direction finds every brick
/// accused, so no brick is a source by the changelog; only client
/// quorum's post-op failure accounting (glusterfs 4.1+, quorum auto, the
/// default for replica 3) makes them all sources again, to be narrowed by
/// size, dirty counts and ctime; with quorum-type none it is split-brain.
/// The changelog names no source in any pair, and that is said. Before,
/// each pair's own blame made brick0 the source against brick1 and
/// brick2 against brick0 (an attack's F4: "no split-brain", two heals).
#[test]
fn a_replica3_blame_cycle_names_no_source_by_the_changelog() {
    if !have("qemu-io") {
        eprintln!("SKIP: qemu-io not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(b) = replica3(
        dir.path(),
        [
            [(1, 1, 0), (2, 0, 0)],
            [(0, 0, 0), (2, 1, 0)],
            [(0, 1, 0), (1, 0, 0)],
        ],
    ) else {
        eprintln!("SKIP: setfattr trusted.* refused (needs root and setfattr)");
        return;
    };
    for order in [[0, 1, 2], [1, 2, 0], [2, 0, 1], [0, 2, 1]] {
        let args: Vec<String> = order.iter().map(|&i| b[i].clone()).collect();
        let r = compare(&args).unwrap();
        for p in &r.pairs {
            assert_ne!(
                p.source_by,
                Some(SourceBy::AfrBlame),
                "{order:?}: {:?}",
                r.summary
            );
            assert_eq!(p.source, None, "{order:?}: {:?}", r.summary);
        }
        let msgs: Vec<&str> = r.notes.iter().map(|n| n.message.as_str()).collect();
        assert!(
            r.notes
                .iter()
                .filter(|n| n.code == "compare.gluster.pending")
                .all(|n| n.message.contains("client quorum") && n.advice.is_none()),
            "{msgs:?}"
        );
        let n = r
            .notes
            .iter()
            .find(|n| n.code == "compare.gluster.blame")
            .unwrap();
        assert!(
            n.message
                .contains("with quorum-type none it is split-brain"),
            "{}",
            n.message
        );
        let s = r.summary.join("\n");
        assert!(!s.contains("heal from"), "{order:?}: {s}");
    }
}

/// brick0 and brick1 blame each other and no brick blames brick2: in
/// Gluster's source selection brick2 is the one source and both others
/// its sinks, healed from it; no split-brain. Given all three, brick2 is
/// the source against each; given brick0 and brick1 alone (brick2's
/// changelog unknown), no split-brain is claimed either and the missing
/// brick is named. Before, the pair was "split-brain" (an attack's F5).
#[test]
fn two_bricks_blaming_each_other_heal_from_the_unblamed_third() {
    if !have("qemu-io") {
        eprintln!("SKIP: qemu-io not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(b) = replica3(
        dir.path(),
        [
            [(1, 2, 0), (2, 0, 0)],
            [(0, 2, 0), (2, 0, 0)],
            [(0, 0, 0), (1, 0, 0)],
        ],
    ) else {
        eprintln!("SKIP: setfattr trusted.* refused (needs root and setfattr)");
        return;
    };
    for order in [[0, 1, 2], [2, 0, 1], [1, 2, 0]] {
        let args: Vec<String> = order.iter().map(|&i| b[i].clone()).collect();
        let r = compare(&args).unwrap();
        assert!(
            !r.notes
                .iter()
                .any(|n| n.code == "compare.gluster.split_brain"),
            "{order:?}: {:?}",
            r.notes
        );
        for p in &r.pairs {
            if p.a == b[2] || p.b == b[2] {
                assert_eq!(p.source.as_deref(), Some(b[2].as_str()), "{:?}", r.summary);
                assert_eq!(p.source_by, Some(SourceBy::AfrBlame));
            } else {
                assert_eq!(p.source, None, "{:?}", r.summary);
                let n = r
                    .notes
                    .iter()
                    .find(|n| n.code == "compare.gluster.pending" && n.message.contains("both are"))
                    .unwrap_or_else(|| panic!("{:?}", r.notes));
                assert!(
                    n.message.contains(&format!(
                        "self-heal's source is {} (vol-client-2) and both are its sinks",
                        b[2]
                    )),
                    "{}",
                    n.message
                );
            }
        }
    }
    let r = compare(&[b[0].clone(), b[1].clone()]).unwrap();
    assert!(
        !r.notes
            .iter()
            .any(|n| n.code == "compare.gluster.split_brain"),
        "{:?}",
        r.notes
    );
    let n = r
        .notes
        .iter()
        .find(|n| n.code == "compare.gluster.pending")
        .unwrap();
    assert!(
        n.message.contains("vol-client-2 (not among the copies)"),
        "{}",
        n.message
    );
    assert_eq!(r.pairs[0].source_by, None);
}

/// Two bricks of a replica 2 whose data counters are all zero, the bytes
/// differing (a qemu-io write on one brick file, behind Gluster's back):
/// AFR takes them to be in sync and will never heal; said as
/// compare.gluster.unhealed (an attack's F3 got silence). Then brick0's
/// counter against brick1 set to metadata only (0x0 0x3 0x0): a metadata
/// heal, no data blame, so still no source by the changelog and still
/// unhealed bytes (an attack's F10 read it as data blame and named brick0
/// the source).
#[test]
fn afr_clean_or_metadata_only_with_differing_bytes_is_unhealed() {
    if !have("qemu-io") {
        eprintln!("SKIP: qemu-io not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let a = copy_to(
        dir.path(),
        "compare/replica1.qcow2",
        "brick0/images/vm.qcow2",
    );
    let b = copy_to(
        dir.path(),
        "compare/replica1.qcow2",
        "brick1/images/vm.qcow2",
    );
    qemu(
        "qemu-io",
        &[
            "-f",
            "qcow2",
            "-c",
            "write -P 0x11 12320768 64k",
            a.to_str().unwrap(),
        ],
    );
    let set = afr(&dir.path().join("brick0"), &a, "dirty")
        && afr_set(&a, "dirty", [0, 0, 0])
        && afr_set(&a, "vol-client-1", [0, 0, 0])
        && afr(&dir.path().join("brick1"), &b, "dirty")
        && afr_set(&b, "dirty", [0, 0, 0])
        && afr_set(&b, "vol-client-0", [0, 0, 0]);
    if !set {
        eprintln!("SKIP: setfattr trusted.* refused (needs root and setfattr)");
        return;
    }
    let (sa, sb) = (
        a.to_str().unwrap().to_string(),
        b.to_str().unwrap().to_string(),
    );
    let bricks = [dir.path().join("brick0"), dir.path().join("brick1")];
    let unhealed = |r: &imgcheck::compare::model::CompareReport| {
        let n = r
            .notes
            .iter()
            .find(|n| n.code == "compare.gluster.unhealed")
            .unwrap_or_else(|| panic!("{:?}", r.notes));
        assert!(n.message.contains("Gluster will not heal"), "{}", n.message);
        writes_only_outside(
            n.advice.as_deref().unwrap(),
            &[bricks[0].as_path(), bricks[1].as_path()],
        );
    };
    for args in [[sa.clone(), sb.clone()], [sb.clone(), sa.clone()]] {
        let r = compare(&args).unwrap();
        unhealed(&r);
    }
    assert!(afr_set(&a, "vol-client-1", [0, 3, 0]));
    for args in [[sa.clone(), sb.clone()], [sb.clone(), sa.clone()]] {
        let r = compare(&args).unwrap();
        let p = &r.pairs[0];
        assert_ne!(p.source_by, Some(SourceBy::AfrBlame), "{:?}", r.summary);
        assert_eq!(p.source, None, "{:?}", r.summary);
        assert!(
            r.notes.iter().any(|n| n.code == "compare.gluster.metadata"
                && n.message.contains("for metadata or entries only")),
            "{:?}",
            r.notes
        );
        unhealed(&r);
    }
}

/// Three copies, the first damaged (replica2: a torn directory block, a
/// stale refcount) and two clean ones that differ from each other
/// (replica1, and replica1 with a qemu-io write): each pair alone names
/// its clean copy the source for replica2, two sources for one sink that
/// do not agree. Set against each other nothing picks one (both clean,
/// undated), so neither is kept and that is said. Before, "heal from" both
/// (an attack's F2).
#[test]
fn one_sink_never_gets_two_sources() {
    if !have("qemu-io") {
        eprintln!("SKIP: qemu-io not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = copy_to(dir.path(), "compare/replica2.qcow2", "bad.qcow2");
    let one = copy_to(dir.path(), "compare/replica1.qcow2", "one.qcow2");
    let two = copy_to(dir.path(), "compare/replica1.qcow2", "two.qcow2");
    qemu(
        "qemu-io",
        &[
            "-f",
            "qcow2",
            "-c",
            "write -P 0x77 12320768 64k",
            two.to_str().unwrap(),
        ],
    );
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let r = compare(&[s(&bad), s(&one), s(&two)]).unwrap();
    let sources: BTreeSet<&str> = r
        .pairs
        .iter()
        .filter(|p| p.sink.as_deref() == Some(s(&bad).as_str()))
        .filter_map(|p| p.source.as_deref())
        .collect();
    assert!(sources.is_empty(), "{sources:?}: {:?}", r.summary);
    let n = r
        .notes
        .iter()
        .find(|n| n.code == "compare.source.conflict")
        .unwrap_or_else(|| panic!("{:?}", r.notes));
    assert!(n.message.contains("no source for"), "{}", n.message);
    // Two clean copies alike: either is the source, and it is said once.
    let one2 = copy_to(dir.path(), "compare/replica1.qcow2", "one2.qcow2");
    let r = compare(&[s(&bad), s(&one), s(&one2)]).unwrap();
    assert!(
        r.notes
            .iter()
            .any(|n| n.code == "compare.source.equivalent"),
        "{:?}",
        r.notes
    );
    // The two alike are set against each other too (every two of three
    // copies are): identical, nothing to heal between them.
    assert!(
        r.pairs
            .iter()
            .filter(|p| p.a == s(&bad) || p.b == s(&bad))
            .all(|p| p.source.is_some()),
        "{:?}",
        r.summary
    );
}

/// A dd copy of replica1's raw disk with every identifier regenerated:
/// sgdisk -G (new disk and partition GUIDs) and tune2fs -U random on its
/// ext4 (the partition copied out and back with dd). Nothing identifies
/// it with the original any more, but nearly all of each one's data is
/// the same bytes at the same offsets: a clone with new identifiers, no
/// heal between them, in both orders. A disk made apart (thin-jan, its
/// own mkfs.ext4 -d of another tree) stays "different disks". Before,
/// the clone was "different disks" like any other (an attack's F6).
#[test]
fn a_clone_with_every_id_regenerated_is_told_by_its_bytes() {
    if !have("qemu-img")
        || Command::new("tune2fs").output().is_err()
        || Command::new("sgdisk").arg("-V").output().is_err()
        || !have("dd")
    {
        eprintln!("SKIP: qemu-img, tune2fs, sgdisk or dd not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.raw");
    qemu(
        "qemu-img",
        &[
            "convert",
            "-O",
            "raw",
            fixture("compare/replica1.qcow2").to_str().unwrap(),
            a.to_str().unwrap(),
        ],
    );
    let b = dir.path().join("b.raw");
    let part = dir.path().join("p1.img");
    let run = |tool: &str, args: &[String]| {
        let o = Command::new(tool).args(args).output().unwrap();
        assert!(o.status.success(), "{tool} {args:?}: {o:?}");
    };
    run(
        "dd",
        &[
            format!("if={}", a.display()),
            format!("of={}", b.display()),
            "bs=1M".into(),
        ],
    );
    run("sgdisk", &["-G".into(), b.display().to_string()]);
    run(
        "dd",
        &[
            format!("if={}", b.display()),
            format!("of={}", part.display()),
            "bs=1M".into(),
            "skip=1".into(),
            "count=14".into(),
        ],
    );
    run(
        "tune2fs",
        &["-U".into(), "random".into(), part.display().to_string()],
    );
    run(
        "dd",
        &[
            format!("if={}", part.display()),
            format!("of={}", b.display()),
            "bs=1M".into(),
            "seek=1".into(),
            "conv=notrunc".into(),
        ],
    );
    let (sa, sb) = (
        a.to_str().unwrap().to_string(),
        b.to_str().unwrap().to_string(),
    );
    for args in [[sa.clone(), sb.clone()], [sb.clone(), sa.clone()]] {
        let r = compare(&args).unwrap();
        let p = &r.pairs[0];
        assert!(
            !p.kinship_evidence
                .iter()
                .any(|e| e.starts_with("both carry")),
            "an identifier survived: {:?}",
            p.kinship_evidence
        );
        assert_eq!(p.kinship, Kinship::Clone, "{:?}", p.kinship_evidence);
        assert!(
            p.kinship_evidence[0].contains("a clone given new identifiers"),
            "{:?}",
            p.kinship_evidence
        );
        assert_eq!((p.source.as_ref(), p.sink.as_ref()), (None, None));
        let s = r.summary.join("\n");
        assert!(s.contains("are a clone with new identifiers"), "{s}");
        assert!(
            !s.contains("are different disks") && !s.contains("heal from"),
            "{s}"
        );
    }
    let other = fixture("compare/thin-jan.qcow2")
        .to_str()
        .unwrap()
        .to_string();
    let r = compare(&[sa.clone(), other]).unwrap();
    assert_eq!(
        r.pairs[0].kinship,
        Kinship::Different,
        "{:?}",
        r.pairs[0].kinship_evidence
    );
}

/// Runs `tool args`, asserting success; its stdout.
fn must(tool: &str, args: &[&str]) -> String {
    let o = Command::new(tool).args(args).output().unwrap();
    assert!(o.status.success(), "{tool} {args:?}: {o:?}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Zeros the 4 KiB blocks `debugfs -R "blocks PATH"` lists for `path`
/// of the whole-disk ext4 `img`, one dd per run of adjacent blocks, as an
/// application writing zeros over that file in place leaves them.
fn zero_file_blocks(img: &Path, path: &str, skip: usize, count: usize) {
    let out = must(
        "debugfs",
        &["-R", &format!("blocks {path}"), img.to_str().unwrap()],
    );
    let blocks: Vec<u64> = out
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .skip(skip)
        .take(count)
        .collect();
    assert!(blocks.len() == count, "{path}: {out}");
    let mut i = 0;
    while i < blocks.len() {
        let mut j = i + 1;
        while j < blocks.len() && blocks[j] == blocks[j - 1] + 1 {
            j += 1;
        }
        must(
            "dd",
            &[
                "if=/dev/zero",
                &format!("of={}", img.display()),
                "bs=4096",
                &format!("seek={}", blocks[i]),
                &format!("count={}", j - i),
                "conv=notrunc",
                "status=none",
            ],
        );
        i = j;
    }
}

/// Zeros a newer copy wrote itself are not a hollow copy (an attack's F18
/// on the first form of the F0 fix, which called hollow whichever copy
/// had more zeroed file bytes by any margin). mkfs.ext4 -d of a tree with
/// a 6 MiB database and an 8 MiB file, the 8 MiB file then removed by
/// debugfs (its blocks free, their bytes kept): old.raw. Two newer copies
/// (debugfs ssv mtime, later s_wtime): db.raw, where 2 MiB of the
/// database were overwritten with zeros in place by dd (a database wiping
/// freed pages); swap.raw, where a new 8 MiB file (debugfs write) took
/// the freed blocks and was then zeroed in place by dd, as a swap file
/// made with dd if=/dev/zero is. Each is the newer clean copy and the
/// source, in both orders; neither is called hollow. Before: both were
/// "a copy of the metadata without the data ... keep old.raw".
#[test]
fn zeros_a_newer_copy_wrote_are_not_hollow() {
    if ["debugfs", "mkfs.ext4", "dd"]
        .iter()
        .any(|t| Command::new(t).arg("-V").output().is_err())
    {
        eprintln!("SKIP: debugfs, mkfs.ext4 or dd not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t");
    std::fs::create_dir_all(t.join("db")).unwrap();
    std::fs::create_dir_all(t.join("etc")).unwrap();
    let text = |n: usize, tag: &str| {
        (0..n)
            .map(|i| format!("{tag} {i:012}\n"))
            .collect::<String>()
    };
    std::fs::write(t.join("db/table.dat"), text(6 << 20 >> 4, "row")).unwrap();
    std::fs::write(t.join("big.dat"), text(8 << 20 >> 4, "old")).unwrap();
    std::fs::write(t.join("etc/hostname"), "dbhost\n").unwrap();
    let old = dir.path().join("old.raw");
    std::fs::File::create(&old)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let o = Command::new("mkfs.ext4")
        .env("E2FSPROGS_FAKE_TIME", "1763000000")
        .args([
            "-q",
            "-F",
            "-b",
            "4096",
            "-U",
            "7d9c1e52-7777-4a4a-8b8b-000000000007",
            "-d",
        ])
        .arg(&t)
        .arg(&old)
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let o = Command::new("debugfs")
        .env("E2FSPROGS_FAKE_TIME", "1763000100")
        .args(["-w", "-R", "rm /big.dat"])
        .arg(&old)
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let later = |img: &Path| {
        let o = Command::new("debugfs")
            .env("E2FSPROGS_FAKE_TIME", "1772366400")
            .args(["-w", "-R", "ssv mtime 20260301115000"])
            .arg(img)
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
    };
    let db = dir.path().join("db.raw");
    std::fs::copy(&old, &db).unwrap();
    zero_file_blocks(&db, "/db/table.dat", 256, 512);
    later(&db);
    let swap = dir.path().join("swap.raw");
    std::fs::copy(&old, &swap).unwrap();
    let local = dir.path().join("swapfile");
    std::fs::write(&local, text(8 << 20 >> 4, "new")).unwrap();
    let o = Command::new("debugfs")
        .env("E2FSPROGS_FAKE_TIME", "1763000200")
        .args(["-w", "-R", &format!("write {} /swapfile", local.display())])
        .arg(&swap)
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    zero_file_blocks(&swap, "/swapfile", 0, 2048);
    later(&swap);
    let so = old.to_str().unwrap().to_string();
    for new in [&db, &swap] {
        let sn = new.to_str().unwrap().to_string();
        for args in [[so.clone(), sn.clone()], [sn.clone(), so.clone()]] {
            let r = compare(&args).unwrap();
            let p = &r.pairs[0];
            assert!(
                p.a_files_zeroed + p.b_files_zeroed > 0 || new == &swap,
                "{p:?}"
            );
            let s = r.summary.join("\n");
            assert!(!s.contains("however new it looks"), "{args:?}: {s}");
            assert_eq!(r.copies[0].verdict, "clean", "{:?}", r.copies[0].problems);
            assert_eq!(r.copies[1].verdict, "clean", "{:?}", r.copies[1].problems);
            // The database's zeroed pages are in one file both maps give
            // it: no source either way (never "keep the old copy"), check
            // first. The swap file's zeros lie in the old copy's free
            // space: the newer copy is the source.
            if new == &db {
                assert_eq!(p.source, None, "{args:?}: {s}");
                assert!(s.contains("until those files are checked"), "{s}");
                assert!(!s.contains("(keep "), "{s}");
            } else {
                assert_eq!(p.source.as_deref(), Some(sn.as_str()), "{args:?}: {s}");
            }
        }
    }
}

/// Two different disks (replica1's GPT+ext4 and thin-jan, a mkfs.ext4 -d
/// of its own) put on two bricks under one gfid, brick0's changelog
/// blaming brick1: the changelog would make brick0 self-heal's source, but
/// the images say they are not one disk, so no advice lets Gluster heal
/// (it would overwrite one machine's disk with another's), in both
/// orders; the copies go outside the bricks. Before, the AFR note said
/// "then let Gluster heal from" brick0 while the summary said "different
/// disks" (an attack's F11).
#[test]
fn afr_blame_never_heals_between_different_disks() {
    let dir = tempfile::tempdir().unwrap();
    let b0 = dir.path().join("brick0");
    let b1 = dir.path().join("brick1");
    let a = copy_to(
        dir.path(),
        "compare/thin-jan.qcow2",
        "brick0/images/vm.qcow2",
    );
    let b = copy_to(
        dir.path(),
        "compare/replica1.qcow2",
        "brick1/images/vm.qcow2",
    );
    let set = afr(&b0, &a, "vol-client-1")
        && afr_set(&a, "dirty", [0, 0, 0])
        && afr(&b1, &b, "dirty")
        && afr_set(&b, "dirty", [0, 0, 0])
        && afr_set(&b, "vol-client-0", [0, 0, 0]);
    if !set {
        eprintln!("SKIP: setfattr trusted.* refused (needs root and setfattr)");
        return;
    }
    let (sa, sb) = (
        a.to_str().unwrap().to_string(),
        b.to_str().unwrap().to_string(),
    );
    for args in [[sa.clone(), sb.clone()], [sb.clone(), sa.clone()]] {
        let r = compare(&args).unwrap();
        let p = &r.pairs[0];
        assert_eq!(p.kinship, Kinship::Different, "{:?}", p.kinship_evidence);
        assert_eq!(p.source, None, "{:?}", r.summary);
        let adv: Vec<&str> = r.notes.iter().filter_map(|n| n.advice.as_deref()).collect();
        assert!(
            adv.iter().any(
                |a| a.contains(&format!("do not let Gluster heal from {sa}"))
                    && a.contains("they are different disks")
            ),
            "{adv:?}"
        );
        for a in &adv {
            assert!(!a.contains("then let Gluster heal"), "{a}");
            writes_only_outside(a, &[&b0, &b1]);
        }
    }
}

/// Replica-3 changelogs as Gluster's own tests/bugs/replicate/
/// bug-1539358-split-brain-detection.t leaves them: each brick carries
/// only the counters of the bricks it blamed (AFRv2 creates
/// trusted.afr.VOL-client-N lazily), a brick never blamed carries only
/// trusted.afr.dirty. So the names alone do not say which brick is which
/// client. Where every way of reading them agrees (brick1 blamed by both
/// others and blaming both: the sink, the others the sources) that is
/// the answer; where they disagree (brick0 and brick1 each blame one
/// client, brick2 carries none), no source is named by the changelog and
/// no split-brain is claimed. Before, the pairwise fallback named the
/// stale brick0 the source over brick2, and called the first layout
/// split-brain (attackB F4, F5).
#[test]
fn afr_names_only_of_blamed_bricks_decide_only_what_they_tell() {
    if !have("qemu-io") {
        eprintln!("SKIP: qemu-io not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let build = |sub: &str, blames: [&[(usize, u32)]; 3]| -> Option<Vec<String>> {
        let mut out = Vec::new();
        for (i, xs) in blames.iter().enumerate() {
            let root = dir.path().join(sub).join(format!("brick{i}"));
            let p = copy_to(
                &dir.path().join(sub),
                "compare/replica1.qcow2",
                &format!("brick{i}/images/vm.qcow2"),
            );
            let w = format!("write -P 0x{:x} {} 64k", 0x51 + i, 12320768 + i * 262144);
            qemu("qemu-io", &["-f", "qcow2", "-c", &w, p.to_str().unwrap()]);
            let mut ok = afr(&root, &p, "dirty") && afr_set(&p, "dirty", [0, 0, 0]);
            for &(c, n) in *xs {
                ok &= afr_set(&p, &format!("vol-client-{c}"), [n, 0, 0]);
            }
            if !ok {
                return None;
            }
            out.push(p.to_str().unwrap().to_string());
        }
        Some(out)
    };
    // Case 1 of bug-1539358: brick0 and brick2 blame brick1, brick1 both.
    let Some(one) = build("one", [&[(1, 1)], &[(0, 1), (2, 1)], &[(1, 1)]]) else {
        eprintln!("SKIP: setfattr trusted.* refused (needs root and setfattr)");
        return;
    };
    for order in [[0, 1, 2], [1, 2, 0]] {
        let args: Vec<String> = order.iter().map(|&i| one[i].clone()).collect();
        let r = compare(&args).unwrap();
        assert!(
            !r.notes
                .iter()
                .any(|n| n.code == "compare.gluster.split_brain"),
            "{order:?}: {:?}",
            r.notes
        );
        for p in &r.pairs {
            assert_ne!(
                p.source.as_deref(),
                Some(one[1].as_str()),
                "{:?}",
                r.summary
            );
            // Blamed by both others: never a source. Every brick is
            // blamed, so the sources are client quorum's (brick0 and
            // brick2 under quorum auto; split-brain under none): not the
            // images' to name.
            assert_ne!(p.source_by, Some(SourceBy::AfrBlame), "{:?}", r.summary);
        }
        let n = r
            .notes
            .iter()
            .find(|n| n.code == "compare.gluster.blame")
            .unwrap();
        let after = n
            .message
            .split("self-heal's sources would be ")
            .nth(1)
            .unwrap_or_else(|| panic!("{}", n.message));
        let after = after.split(", with quorum-type none").next().unwrap();
        assert!(
            after.contains(&one[0]) && after.contains(&one[2]) && !after.contains(&one[1]),
            "{}",
            n.message
        );
    }
    // brick0 and brick1 blame one client each; brick2 carries no names.
    let two = build("two", [&[(1, 2)], &[(0, 2)], &[]]).unwrap();
    for order in [[0, 1, 2], [0, 2, 1], [2, 0, 1]] {
        let args: Vec<String> = order.iter().map(|&i| two[i].clone()).collect();
        let r = compare(&args).unwrap();
        assert!(
            !r.notes
                .iter()
                .any(|n| n.code == "compare.gluster.split_brain"),
            "{order:?}: {:?}",
            r.notes
        );
        for p in &r.pairs {
            assert_ne!(
                p.source_by,
                Some(SourceBy::AfrBlame),
                "{order:?}: {:?}",
                r.summary
            );
            assert_eq!(p.source, None, "{order:?}: {:?}", r.summary);
        }
        assert!(
            r.notes
                .iter()
                .any(|n| n.message.contains("the names do not tell which brick")),
            "{:?}",
            r.notes
        );
    }
}

/// Copies the 4 KiB blocks of `path` (as `debugfs -R "blocks PATH"` lists
/// them in `from`) from `from` into `to` with dd, one run at a time.
fn copy_file_blocks(from: &Path, to: &Path, path: &str) {
    let out = must(
        "debugfs",
        &["-R", &format!("blocks {path}"), from.to_str().unwrap()],
    );
    let blocks: Vec<u64> = out
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(!blocks.is_empty(), "{path}: {out}");
    let mut i = 0;
    while i < blocks.len() {
        let mut j = i + 1;
        while j < blocks.len() && blocks[j] == blocks[j - 1] + 1 {
            j += 1;
        }
        must(
            "dd",
            &[
                &format!("if={}", from.display()),
                &format!("of={}", to.display()),
                "bs=4096",
                &format!("skip={}", blocks[i]),
                &format!("seek={}", blocks[i]),
                &format!("count={}", j - i),
                "conv=notrunc",
                "status=none",
            ],
        );
        i = j;
    }
}

/// A restore that stopped half way: the hollow copy (compare-hollow.sh,
/// newer) with the blocks of /etc/services.txt and /home/user/notes.txt
/// copied back from the full copy by dd, /var/lib/pgsql/base.dat still
/// zeros (45 % of the file data). It is never the source, in either
/// order (attackB F19: "clean and newer: heal from" it, which writes
/// zeros over base.dat). And a thin backup whose brick's changelog blames
/// the full copy's brick is not the source either (attackB F10: the AFR
/// branch never asked whether the blamer is thin).
#[test]
fn a_half_restored_or_thin_copy_is_never_the_source() {
    if Command::new("debugfs").arg("-V").output().is_err() || !have("dd") {
        eprintln!("SKIP: debugfs or dd not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let full = copy_to(dir.path(), "compare/hollow-full.raw", "full.raw");
    let part = copy_to(dir.path(), "compare/hollow-hollow.raw", "part.raw");
    for f in ["/etc/services.txt", "/home/user/notes.txt"] {
        copy_file_blocks(&full, &part, f);
    }
    let (sf, sp) = (
        full.to_str().unwrap().to_string(),
        part.to_str().unwrap().to_string(),
    );
    for args in [[sf.clone(), sp.clone()], [sp.clone(), sf.clone()]] {
        let r = compare(&args).unwrap();
        let p = &r.pairs[0];
        assert_ne!(p.source.as_deref(), Some(sp.as_str()), "{:?}", r.summary);
        let s = r.summary.join("\n");
        assert!(!s.contains(&format!(": heal from {sp}")), "{s}");
    }
    let b0 = dir.path().join("brick0");
    let b1 = dir.path().join("brick1");
    let thin = copy_to(
        dir.path(),
        "compare/thin-apr.qcow2",
        "brick0/images/vm.qcow2",
    );
    let whole = copy_to(
        dir.path(),
        "compare/thin-mar.qcow2",
        "brick1/images/vm.qcow2",
    );
    let set = afr(&b0, &thin, "vol-client-1")
        && afr_set(&thin, "dirty", [0, 0, 0])
        && afr(&b1, &whole, "dirty")
        && afr_set(&whole, "dirty", [0, 0, 0])
        && afr_set(&whole, "vol-client-0", [0, 0, 0]);
    if !set {
        eprintln!("SKIP: setfattr trusted.* refused (needs root and setfattr)");
        return;
    }
    let (st, sw) = (
        thin.to_str().unwrap().to_string(),
        whole.to_str().unwrap().to_string(),
    );
    for args in [[st.clone(), sw.clone()], [sw.clone(), st.clone()]] {
        let r = compare(&args).unwrap();
        let p = &r.pairs[0];
        assert_ne!(p.source.as_deref(), Some(st.as_str()), "{:?}", r.summary);
        for a in r.notes.iter().filter_map(|n| n.advice.as_deref()) {
            assert!(!a.contains("then let Gluster heal"), "{a}");
            writes_only_outside(a, &[&b0, &b1]);
        }
    }
}

//! The LVM2 layer through the whole pipeline, on the lvm2 fixtures (made by
//! the real lvm2 tools, testdata/scripts/lvm2.sh): PVs probed, VGs
//! assembled across the images of one run, LVs checked like disks with
//! their filesystems, the incident (the last PV zeroed) reported, and the
//! verdicts compared with `vgck` and `lvs` computed in the test on loop
//! devices when lvm2 and root are there (a visible skip otherwise).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

use imgcheck::options::Options;
use imgcheck::pipeline::inspect_image_with;
use imgcheck::pool::{Pool, PooledLayers};
use imgcheck::report::{ImageReport, Node};
use imgcheck_core::{Finding, Severity, Space, Step};
use imgcheck_testdata::{Patch, damaged, fixture};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

fn fx(name: &str) -> PathBuf {
    fixture(&format!("lvm2/{name}"))
}

/// One run over `paths`, as the CLI does it: one pool for all of them.
fn run(paths: &[&Path]) -> Vec<ImageReport> {
    let pool = Arc::new(Pool::new(paths.iter().map(|p| p.to_path_buf()).collect()));
    let layers = PooledLayers::new(pool);
    let registry = layers.registry();
    paths
        .iter()
        .map(|p| {
            let opts = Options {
                image_path: p.to_path_buf(),
                ..Options::default()
            };
            inspect_image_with(&registry, p, None, &opts).unwrap()
        })
        .collect()
}

/// [`run`] with each image seen as of an internal snapshot (`--snapshot`).
fn run_as_of(paths: &[&Path], snapshot: &str) -> Vec<ImageReport> {
    let pool = Arc::new(Pool::with_snapshots(
        paths
            .iter()
            .map(|p| (p.to_path_buf(), Some(snapshot.to_string())))
            .collect(),
    ));
    let layers = PooledLayers::new(pool);
    let registry = layers.registry();
    paths
        .iter()
        .map(|p| {
            let opts = Options {
                image_path: p.to_path_buf(),
                snapshot: Some(snapshot.to_string()),
                ..Options::default()
            };
            inspect_image_with(&registry, p, None, &opts).unwrap()
        })
        .collect()
}

fn qemu_img(args: &[&std::ffi::OsStr]) {
    let o = Command::new("qemu-img").args(args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn lvm2_node(r: &ImageReport) -> &Node {
    r.root
        .walk()
        .into_iter()
        .find(|n| n.layer == Some("lvm2"))
        .unwrap_or_else(|| panic!("no lvm2 node in {}", r.image))
}

/// The LV nodes, by name (`vg/lv`).
fn lvs(r: &ImageReport) -> Vec<(&str, &Node)> {
    r.root
        .walk()
        .into_iter()
        .filter_map(|n| match n.place.0.last() {
            Some(Step::Volume(v)) if n.layer.is_none() => Some((v.as_str(), n)),
            _ => None,
        })
        .collect()
}

fn lv<'a>(r: &'a ImageReport, name: &str) -> &'a Node {
    lvs(r)
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no LV {name} in {}", r.image))
        .1
}

fn codes(r: &ImageReport) -> Vec<String> {
    r.findings().iter().map(|f| f.code.to_string()).collect()
}

fn find<'a>(r: &'a ImageReport, code: &str) -> Vec<&'a Finding> {
    r.findings()
        .into_iter()
        .filter(|f| f.code == code)
        .collect()
}

#[test]
fn one_pv_its_lvs_are_checked_and_the_filesystem_never_grown_is_named() {
    let r = &run(&[&fx("one-pv.img")])[0];
    let pv = lvm2_node(r);
    assert!(
        pv.title
            .starts_with("PV OnePV0-aaaa-bbbb-cccc-dddd-eeee-000001 of VG imgck_one"),
        "{}",
        pv.title
    );
    let names: Vec<&str> = lvs(r).iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        ["imgck_one/root", "imgck_one/home", "imgck_one/swap"]
    );
    for n in ["imgck_one/root", "imgck_one/home"] {
        let l = lv(r, n);
        assert_eq!(l.space, Space::Volume);
        assert_eq!(l.children.first().map(|c| c.kind.as_str()), Some("ext4"));
    }
    assert_eq!(lv(r, "imgck_one/home").facts.claimed_size, Some(16 << 20));
    // home: made 8 MiB, the LV extended to 16 MiB without resize2fs.
    let g = find(r, "layout.size_chain.volume_grown");
    assert_eq!(g.len(), 1, "{:?}", codes(r));
    assert!(
        g[0].message.contains("imgck_one/home") && g[0].message.contains("8 MiB are unused"),
        "{}",
        g[0].message
    );
    assert_eq!((g[0].offset, g[0].space), (8 << 20, Space::Volume));
    let h = g[0].hint.as_ref().unwrap();
    assert!(h.writes && h.command.as_deref().unwrap().contains("resize2fs"));
    let e = find(r, "lvm2.lv.extended");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].message.contains("2025-11-20 09:00:00 UTC"),
        "{}",
        e[0].message
    );
    assert!(
        r.timeline
            .iter()
            .any(|e| e.source == "VG imgck_one" && e.what.contains("home extended"))
    );
    assert_eq!(r.verdict().as_str(), "warning");
    let j = imgcheck::render::json_value(r);
    let v = &j["layers"]["volumes"];
    assert_eq!(v.as_array().unwrap().len(), 3, "{v}");
    assert_eq!(v[1]["name"], "imgck_one/home");
    assert_eq!(v[1]["size"], 16 << 20);
    assert_eq!(v[1]["contents"]["kind"], "ext4");
}

#[test]
fn the_incident_alone_the_surviving_pv_is_never_clean() {
    let r = &run(&[&fx("pair-a.img")])[0];
    let m = find(r, "lvm2.pv.missing");
    assert_eq!(m.len(), 1);
    assert!(
        m[0].message
            .contains("PairBB-aaaa-bbbb-cccc-dddd-eeee-000002")
    );
    let p = find(r, "lvm2.lv.partial");
    assert_eq!(p.len(), 1, "{:?}", codes(r));
    assert!(p[0].message.contains("extents 4-7"), "{}", p[0].message);
    assert_eq!((p[0].offset, p[0].space), (16 << 20, Space::Volume));
    assert_eq!(p[0].place.to_string(), "volume imgck_pair/db");
    // root survives whole and its filesystem checks clean.
    assert!(lv(r, "imgck_pair/root").all_findings().is_empty());
    // db's filesystem is checked as far as it reads.
    let db = lv(r, "imgck_pair/db");
    assert_eq!(db.children[0].kind, "ext4");
    assert_eq!(r.verdict().as_str(), "damaged");
}

#[test]
fn the_incident_with_the_zeroed_disk_given() {
    let z = damaged(
        "lvm2/pair-b.img",
        &[Patch::Zero {
            offset: 0,
            len: 24 << 20,
        }],
    );
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("pair-a.img");
    let b = dir.path().join("pair-b.img");
    std::fs::copy(fx("pair-a.img"), &a).unwrap();
    std::fs::copy(z.path(), &b).unwrap();
    let reports = run(&[&a, &b]);
    let ra = &reports[0];
    assert!(codes(ra).contains(&"lvm2.lv.partial".to_string()));
    let c = find(ra, "lvm2.pv.missing.zeroed_candidate");
    assert_eq!(c.len(), 1);
    assert!(c[0].message.contains("pair-b.img"), "{}", c[0].message);
    // The zeroed disk itself: empty, not a PV (nothing on it says so).
    assert!(codes(&reports[1]).contains(&"layout.empty".to_string()));
    let text =
        plain(&imgcheck::render::text(ra)).replace(&dir.path().display().to_string(), "<dir>");
    insta::assert_snapshot!("incident_pair_a_with_zeroed_pair_b", text);
}

/// `s` without its ANSI colour sequences (ESC [ … m).
fn plain(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\x1b' {
            for d in it.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn a_vg_across_two_images_is_one_vg_reported_once() {
    let reports = run(&[&fx("pair-a.img"), &fx("pair-b.img")]);
    let (ra, rb) = (&reports[0], &reports[1]);
    assert!(find(ra, "lvm2.pv.missing").is_empty(), "{:?}", codes(ra));
    assert!(find(ra, "lvm2.lv.partial").is_empty());
    assert_eq!(lvs(ra).len(), 2);
    assert!(lvs(rb).is_empty(), "LVs are shown with the first PV only");
    assert!(lvm2_node(rb).title.contains("reported with its first PV"));
    // db spans both PVs and its whole filesystem reads.
    let db = lv(ra, "imgck_pair/db");
    assert!(
        db.children[0]
            .all_findings()
            .iter()
            .all(|f| f.severity == Severity::Info)
    );
    assert_eq!(ra.verdict().as_str(), "clean");
    assert_eq!(rb.verdict().as_str(), "clean");
    // The same through a directory, as the CLI expands it.
    let dir = tempfile::tempdir().unwrap();
    for n in ["pair-a.img", "pair-b.img"] {
        std::fs::copy(fx(n), dir.path().join(n)).unwrap();
    }
    let items = imgcheck::batch::expand(&[dir.path().to_path_buf()]);
    let paths: Vec<&Path> = items.iter().map(|i| i.path.as_path()).collect();
    let reports = run(&paths);
    assert!(reports.iter().all(|r| r.verdict().as_str() == "clean"));
}

#[test]
fn two_vgs_interleaved_and_a_pv_inside_a_qcow2() {
    let r = run(&[
        &fx("pair-a.img"),
        &fx("stripe-a.img"),
        &fx("pair-b.img"),
        &fx("stripe-b.img"),
    ]);
    for x in &r {
        assert_eq!(x.verdict().as_str(), "clean", "{}: {:?}", x.image, codes(x));
    }
    assert_eq!(lvs(&r[0]).len(), 2);
    assert_eq!(lvs(&r[1]).len(), 3);
    if Command::new("qemu-img").arg("--version").output().is_err() {
        println!("SKIPPED the PV-in-qcow2 half: qemu-img not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("pair-b.qcow2");
    let o = Command::new("qemu-img")
        .args(["convert", "-f", "raw", "-O", "qcow2"])
        .arg(fx("pair-b.img"))
        .arg(&q)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = run(&[&fx("pair-a.img"), &q]);
    assert!(
        find(&r[0], "lvm2.pv.missing").is_empty(),
        "{:?}",
        codes(&r[0])
    );
    assert!(
        lvm2_node(&r[0]).title.contains("pair-b.qcow2"),
        "{}",
        lvm2_node(&r[0]).title
    );
    assert_eq!(r[1].format, "qcow2");
    assert!(
        lvm2_node(&r[1])
            .title
            .contains("reported with its first PV")
    );
}

/// A PV the walk finds only by the signature scan — no partition table,
/// the PV at 1 MiB behind bytes that are no table — joins the pool like
/// any other: the VG across it and a whole-disk PV is one complete VG.
#[test]
fn a_pv_found_only_by_the_signature_scan_joins_the_pool() {
    let pv = std::fs::read(fx("pair-b.img")).unwrap();
    let d = tempfile::tempdir().unwrap();
    let img = d.path().join("stray-b.img");
    let mut b = vec![0u8; (1 << 20) + pv.len()];
    // Boot code without a signature: not a table, nothing identifiable.
    for (i, x) in b.iter_mut().take(440).enumerate() {
        *x = (i * 7 + 3) as u8;
    }
    b[1 << 20..].copy_from_slice(&pv);
    std::fs::write(&img, &b).unwrap();
    let r = run(&[&fx("pair-a.img"), &img]);
    assert_eq!(r[0].verdict().as_str(), "clean", "{:?}", codes(&r[0]));
    assert!(
        find(&r[0], "lvm2.pv.missing").is_empty(),
        "{:?}",
        codes(&r[0])
    );
    assert!(!lv(&r[0], "imgck_pair/db").title.contains("partial"));
    let n = lvm2_node(&r[1]);
    assert_eq!(n.place.to_string(), "partition 1", "{}", n.title);
    assert!(
        n.title.contains("reported with its first PV"),
        "{}",
        n.title
    );
}

/// `--snapshot`: each image is seen as of its internal snapshot, and the
/// VG is assembled from those views. Both PVs were snapshotted whole; the
/// second was zeroed after: as of the snapshot the VG is complete, now
/// it is missing that PV.
#[test]
fn with_snapshot_the_vg_is_assembled_as_of_the_snapshot() {
    if Command::new("qemu-img").arg("--version").output().is_err() {
        println!("SKIPPED --snapshot assembly: qemu-img not installed");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a.qcow2"), d.path().join("b.qcow2"));
    for (src, q) in [("pair-a.img", &a), ("pair-b.img", &b)] {
        qemu_img(&[
            "convert".as_ref(),
            "-O".as_ref(),
            "qcow2".as_ref(),
            fx(src).as_os_str(),
            q.as_os_str(),
        ]);
        qemu_img(&[
            "snapshot".as_ref(),
            "-c".as_ref(),
            "before".as_ref(),
            q.as_os_str(),
        ]);
    }
    let o = Command::new("qemu-io")
        .args(["-f", "qcow2", "-c", "write -z 0 2M"])
        .arg(&b)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let then = run_as_of(&[&a, &b], "before");
    assert!(
        find(&then[0], "lvm2.pv.missing").is_empty(),
        "{:?}",
        codes(&then[0])
    );
    assert!(!lv(&then[0], "imgck_pair/db").title.contains("partial"));
    assert!(
        lvm2_node(&then[1])
            .title
            .contains("reported with its first PV"),
        "{}",
        lvm2_node(&then[1]).title
    );
    for x in &then {
        assert_eq!(x.verdict().as_str(), "clean", "{}: {:?}", x.image, codes(x));
    }
    // Now: b's label and its first extent are zeros; the PV is still
    // recognised by its layout, and what the zeros destroyed is named.
    let now = run(&[&a, &b]);
    assert_eq!(
        find(&now[1], "lvm2.pv.label_lost").len(),
        1,
        "{:?}",
        codes(&now[1])
    );
    assert!(now.iter().all(|x| x.verdict().as_str() != "clean"));
}

/// `vgcreate --vgmetadatacopies N` with more areas than N: lvm marks the
/// others ignored (raw_locn flag 1) and stops writing them, so they keep
/// an old generation lvm never reads. That is no stale copy (it was
/// flagged on every such VG: testdata/scripts/lvm2-attack.py found it).
/// Here the stale second PV's area is marked ignored as lvm marks it.
#[test]
fn an_ignored_metadata_area_is_not_a_stale_copy() {
    use imgcheck_lvm2::crc::{INITIAL_CRC, calc_crc};
    let mut b = std::fs::read(fx("pair-b-stale.img")).unwrap();
    // raw_locn[0].flags, then the header checksum over bytes 4..512.
    b[4096 + 60..4096 + 64].copy_from_slice(&1u32.to_le_bytes());
    let c = calc_crc(INITIAL_CRC, &b[4100..4608]);
    b[4096..4100].copy_from_slice(&c.to_le_bytes());
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("pair-b-ignored.img");
    std::fs::write(&p, &b).unwrap();
    let r = run(&[&fx("pair-a.img"), &p]);
    // (b's data area is as it was before db was extended onto it: the
    // filesystem finds that; the VG itself is sound.)
    for x in &r {
        let lvm: Vec<&Finding> = x
            .findings()
            .into_iter()
            .filter(|f| f.code.starts_with("lvm2.") && f.severity >= Severity::Warning)
            .collect();
        assert!(lvm.is_empty(), "{}: {lvm:?}", x.image);
    }
    assert!(!lv(&r[0], "imgck_pair/db").title.contains("partial"));
}

/// A PV whose label CRC fails is the lvm2 layer's to report (lvm ignores
/// such a label), not a signature "not checked" with a clean verdict:
/// the blkid-style signature layer outbid it before.
#[test]
fn a_label_whose_crc_fails_is_reported_not_just_identified() {
    let d = damaged(
        "lvm2/pair-b.img",
        &[Patch::Xor {
            offset: 512 + 16,
            mask: 0xff,
        }],
    );
    let a = fx("pair-a.img");
    for paths in [vec![d.path()], vec![a.as_path(), d.path()]] {
        let r = run(&paths);
        let last = r.last().unwrap();
        assert_eq!(find(last, "lvm2.label.crc").len(), 1, "{:?}", codes(last));
        assert_eq!(last.verdict().as_str(), "damaged");
    }
}

#[test]
fn a_stale_second_pv_is_named() {
    let reports = run(&[&fx("pair-a.img"), &fx("pair-b-stale.img")]);
    let s = find(&reports[1], "lvm2.metadata.stale");
    assert_eq!(s.len(), 1, "{:?}", codes(&reports[1]));
    assert!(s[0].message.contains("seqno 4") && s[0].message.contains("seqno 5"));
}

#[test]
fn one_stripe_lost_and_a_raid1_leg_survives() {
    let r = &run(&[&fx("stripe-a.img")])[0];
    let str_lv = lv(r, "imgck_stripe/str");
    assert!(str_lv.findings.iter().any(|f| f.code == "lvm2.lv.partial"));
    let mir = lv(r, "imgck_stripe/mir");
    assert!(mir.findings.iter().any(|f| f.code == "lvm2.lv.degraded"));
    // raid1 reads from the surviving leg: its filesystem checks clean.
    assert_eq!(mir.children[0].kind, "ext4");
    assert!(
        mir.children[0]
            .all_findings()
            .iter()
            .all(|f| f.severity == Severity::Info)
    );
    let both = run(&[&fx("stripe-a.img"), &fx("stripe-b.img")]);
    assert_eq!(both[0].verdict().as_str(), "clean", "{:?}", codes(&both[0]));
}

#[test]
fn ovirt_volumes_hold_qcow2_disks_checked_down_to_the_filesystem() {
    let r = &run(&[&fx("ovirt.img")])[0];
    let base = lv(
        r,
        "5a5a0000-0000-4000-8000-00000000d001/5a5a0000-0000-4000-8000-00000000b001",
    );
    let q = &base.children[0];
    assert_eq!(q.layer, Some("qcow2"));
    assert!(
        q.walk()
            .iter()
            .any(|n| n.kind == "ext4" && n.title.contains("label \"guest\"")),
        "{:#?}",
        q.walk().iter().map(|n| &n.title).collect::<Vec<_>>()
    );
    // The disk inside a volume is not the image's disk: its filesystem is
    // not judged against the image's zero map.
    assert!(find(r, "layout.zeroed").is_empty(), "{:?}", codes(r));
    // The overlay's parent is the sibling LV of the same image.
    let top = lv(
        r,
        "5a5a0000-0000-4000-8000-00000000d001/5a5a0000-0000-4000-8000-00000000b002",
    );
    assert!(top.findings.iter().any(|f| {
        f.code == "lvm2.ovirt.parent"
            && f.message
                .contains("parent volume 5a5a0000-0000-4000-8000-00000000b001")
    }));
    assert_eq!(top.children[0].layer, Some("qcow2"));
    assert!(find(r, "lvm2.ovirt.parent_missing").is_empty());
}

/// The oVirt re-enactment of testdata/scripts/lvm2-ovirt.sh: a chain of
/// three qcow2 volumes of one image naming their parents as vdsm does
/// (`../<image>/<volume>`), a disk made from a template of another image,
/// and a RAW volume. Every disk is read through its chain from the LVs
/// (no backing file missing), down to its filesystems, and nothing is
/// flagged.
#[test]
fn ovirt_chains_are_read_from_their_parent_lvs_down_to_the_filesystems() {
    let r = &run(&[&fx("ovirt-chain.img")])[0];
    let sd = "5a5a0000-0000-4000-8000-0000000ad001";
    let vol = |v: &str| format!("{sd}/5a5a0000-0000-4000-8000-0000000ab{v}");
    assert_eq!(r.verdict().as_str(), "clean", "{:?}", codes(r));
    assert!(
        codes(r).iter().all(|c| !c.starts_with("qcow2.backing")),
        "{:?}",
        codes(r)
    );
    // Each generation of image A adds a file: the ext4 read through the
    // chain has one inode fewer free at each layer, so the overlays are
    // read over their parents, not alone.
    let free_inodes = |v: &str| {
        let n = lv(r, &vol(v));
        let e = n
            .walk()
            .into_iter()
            .find(|n| n.layer == Some("ext4"))
            .unwrap_or_else(|| panic!("no ext4 under {}", vol(v)));
        assert!(e.title.contains("label \"guest\""), "{}", e.title);
        e.details["usage"]["free_inodes"].as_u64().unwrap()
    };
    let (a1, a2, a3) = (free_inodes("001"), free_inodes("002"), free_inodes("003"));
    assert_eq!((a1 - a2, a2 - a3), (1, 1), "{a1} {a2} {a3}");
    // The chain of the last layer is listed to its base.
    let top = lv(r, &vol("003"));
    assert_eq!(
        top.walk()
            .iter()
            .filter(|n| n.kind == "qcow2 backing")
            .count(),
        2
    );
    // The disk made from the template reads the template's FAT.
    for v in ["00f", "004"] {
        assert!(
            lv(r, &vol(v))
                .walk()
                .iter()
                .any(|n| n.layer == Some("fat") && n.title.contains("TEMPLATE")),
            "{v}"
        );
    }
    let t = lv(r, &vol("004"));
    assert!(
        t.findings
            .iter()
            .any(|f| f.code == "lvm2.ovirt.parent"
                && f.message.contains("a template's shared volume"))
    );
    // The RAW volume is a disk with its table and filesystem.
    assert!(
        lv(r, &vol("005"))
            .walk()
            .iter()
            .any(|n| n.layer == Some("ext4") && n.title.contains("label \"data\""))
    );
}

/// A chain volume whose parent LV was removed: the backing file is named
/// missing by the LV it should be, not looked up beside the image.
#[test]
fn an_ovirt_overlay_whose_parent_lv_is_gone_is_a_missing_backing_lv() {
    // Renaming the parent in the metadata (same length) leaves the
    // overlay's backing name pointing at no LV.
    let d = rewritten(
        &fx("ovirt-chain.img"),
        "5a5a0000-0000-4000-8000-0000000ab002 {",
        "5a5a0000-0000-4000-8000-0000000ab0f2 {",
    );
    let r = &run(&[&d.path().join("ovirt-chain.img")])[0];
    let m = find(r, "qcow2.backing.missing");
    assert_eq!(m.len(), 1, "{:?}", codes(r));
    assert!(
        m[0].message
            .contains("has no LV named 5a5a0000-0000-4000-8000-0000000ab002"),
        "{}",
        m[0].message
    );
    assert_eq!(
        find(r, "lvm2.ovirt.parent_missing").len(),
        1,
        "{:?}",
        codes(r)
    );
}

/// A copy of `img` whose committed metadata text has `from` replaced by
/// `to` (same length), the text CRC and mda header checksum recomputed:
/// metadata lvm itself would accept.
fn rewritten(img: &Path, from: &str, to: &str) -> tempfile::TempDir {
    use imgcheck_lvm2::crc::{INITIAL_CRC, calc_crc};
    assert_eq!(from.len(), to.len());
    let mut b = std::fs::read(img).unwrap();
    let u64_at =
        |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap()) as usize;
    let (at, size) = (4096 + u64_at(&b, 4096 + 40), u64_at(&b, 4096 + 48));
    let text = String::from_utf8(b[at..at + size].to_vec()).unwrap();
    assert!(text.contains(from), "{from} not in the text");
    let new = text.replacen(from, to, 1);
    b[at..at + size].copy_from_slice(new.as_bytes());
    b[4096 + 56..4096 + 60].copy_from_slice(&calc_crc(INITIAL_CRC, new.as_bytes()).to_le_bytes());
    let hc = calc_crc(INITIAL_CRC, &b[4100..4608]);
    b[4096..4100].copy_from_slice(&hc.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(img.file_name().unwrap()), &b).unwrap();
    dir
}

#[test]
fn an_ovirt_volume_whose_parent_is_gone_is_named() {
    let d = rewritten(
        &fx("ovirt.img"),
        "PU_5a5a0000-0000-4000-8000-00000000b001",
        "PU_5a5a0000-0000-4000-8000-00000000b009",
    );
    let r = &run(&[&d.path().join("ovirt.img")])[0];
    let m = find(r, "lvm2.ovirt.parent_missing");
    assert_eq!(m.len(), 1, "{:?}", codes(r));
    assert!(m[0].message.contains("b009"), "{}", m[0].message);
    assert_eq!(m[0].severity, Severity::Warning);
}

#[test]
fn snapshot_and_thin_lvs_are_checked() {
    let r = &run(&[&fx("snapshot.img")])[0];
    for n in ["imgck_snap/data", "imgck_snap/data_snap"] {
        assert_eq!(lv(r, n).children[0].kind, "ext4", "{n}");
    }
    let r = &run(&[&fx("thin.img")])[0];
    assert_eq!(lv(r, "imgck_thin/thin1").children[0].kind, "ext4");
    assert_eq!(r.verdict().as_str(), "clean", "{:?}", codes(r));
}

#[test]
fn a_pv_whose_label_was_zeroed_is_found_by_its_metadata_area() {
    let z = damaged(
        "lvm2/pair-b.img",
        &[Patch::Zero {
            offset: 512,
            len: 512,
        }],
    );
    let reports = run(&[&fx("pair-a.img"), z.path()]);
    assert!(
        find(&reports[0], "lvm2.pv.missing").is_empty(),
        "{:?}",
        codes(&reports[0])
    );
    let b = lvm2_node(&reports[1]);
    assert!(
        b.findings.iter().any(|f| f.code == "lvm2.pv.label_lost"),
        "{:?}",
        codes(&reports[1])
    );
    // Alone, nothing names it: the metadata area is read, the VG is partial.
    let alone = &run(&[z.path()])[0];
    assert!(alone.verdict().as_str() != "clean", "{:?}", codes(alone));
}

#[test]
fn a_run_without_lvm_never_builds_the_pool() {
    let paths = [fixture("gpt/gpt-fs.img"), fixture("ext4/ext4-4k.img")];
    let paths: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    let pool = Arc::new(Pool::new(paths.iter().map(|p| p.to_path_buf()).collect()));
    let layers = PooledLayers::new(Arc::clone(&pool));
    let registry = layers.registry();
    for p in &paths {
        let opts = Options {
            image_path: p.to_path_buf(),
            ..Options::default()
        };
        inspect_image_with(&registry, p, None, &opts).unwrap();
    }
    assert!(!pool.built());
}

/// A PV in a partition of type Linux LVM, made with sgdisk around the
/// one-pv PV.
#[test]
fn a_pv_in_a_partition_is_checked() {
    if Command::new("sgdisk").arg("--version").output().is_err() {
        println!("SKIPPED a_pv_in_a_partition_is_checked: sgdisk not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("disk.img");
    let pv = std::fs::read(fx("one-pv.img")).unwrap();
    let f = std::fs::File::create(&img).unwrap();
    f.set_len(pv.len() as u64 + (2 << 20)).unwrap();
    drop(f);
    let o = Command::new("sgdisk")
        .args(["-n", "1:2048:+48M", "-t", "1:8e00"])
        .arg(&img)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut b = std::fs::read(&img).unwrap();
    b[1 << 20..(1 << 20) + pv.len()].copy_from_slice(&pv);
    std::fs::write(&img, &b).unwrap();
    let r = &run(&[&img])[0];
    let n = lvm2_node(r);
    assert_eq!(n.place.to_string(), "partition 1");
    assert_eq!(lvs(r).len(), 3);
    assert_eq!(lv(r, "imgck_one/root").children[0].kind, "ext4");
}

// ---- against lvm2 itself -------------------------------------------------

fn ready() -> Result<(), String> {
    let v = Command::new("lvm")
        .arg("version")
        .output()
        .map_err(|e| format!("lvm: {e}"))?;
    if !v.status.success() {
        return Err("lvm version failed".into());
    }
    if !Path::new("/dev/loop-control").exists() {
        return Err("no /dev/loop-control".into());
    }
    let id = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| e.to_string())?;
    if String::from_utf8_lossy(&id.stdout).trim() != "0" {
        return Err("not root (loop devices)".into());
    }
    Ok(())
}

/// Read-only loop devices, detached on drop.
struct Loops(Vec<String>);

impl Loops {
    fn attach(paths: &[&Path]) -> Loops {
        let mut l = Loops(Vec::new());
        for p in paths {
            let o = Command::new("losetup")
                .args(["-r", "-f", "--show"])
                .arg(p)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "losetup: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            l.0.push(String::from_utf8_lossy(&o.stdout).trim().to_owned());
        }
        l
    }
    /// Read-write loop devices: only over copies made by the test.
    fn attach_rw(paths: &[&Path]) -> Loops {
        let mut l = Loops(Vec::new());
        for p in paths {
            let o = Command::new("losetup")
                .args(["-f", "--show"])
                .arg(p)
                .output()
                .unwrap();
            assert!(o.status.success());
            l.0.push(String::from_utf8_lossy(&o.stdout).trim().to_owned());
        }
        l
    }
    fn run(&self, cmd: &str, args: &[&str]) -> (i32, String) {
        let f: String = self.0.iter().map(|d| format!("\"a|^{d}$|\",")).collect();
        let cfg = format!(
            "devices{{scan=[\"/dev\"] filter=[{f}\"r|.*|\"] use_devicesfile=0 obtain_device_list_from_udev=0 hints=\"none\"}} \
             activation{{udev_sync=0 udev_rules=0 monitoring=0}} global{{event_activation=0}} backup{{backup=0 archive=0}}"
        );
        let o = Command::new("lvm")
            .arg(cmd)
            .arg("--config")
            .arg(cfg)
            .args(args)
            .env("LVM_SUPPRESS_FD_WARNINGS", "1")
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    }
}

impl Drop for Loops {
    fn drop(&mut self) {
        for d in &self.0 {
            let _ = Command::new("losetup").arg("-d").arg(d).status();
        }
    }
}

/// What lvm2 says: VGs whose vgck fails, every visible LV (`vg/lv`), and
/// the LVs `lvs` marks partial.
fn peer(paths: &[&Path]) -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) {
    let l = Loops::attach(paths);
    let (_, out) = l.run(
        "lvs",
        &[
            "--noheadings",
            "--separator",
            "|",
            "-o",
            "vg_name,lv_name,lv_attr",
        ],
    );
    let (mut all, mut partial, mut vgs) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for line in out.lines() {
        let f: Vec<&str> = line.trim().split('|').collect();
        let [vg, lv, attr] = f[..] else { continue };
        vgs.insert(vg.to_owned());
        // lvs lists an old snapshot's COW store under the snapshot's name.
        all.insert(format!("{vg}/{lv}"));
        if attr.chars().nth(8) == Some('p') {
            partial.insert(format!("{vg}/{lv}"));
        }
    }
    let mut failing = BTreeSet::new();
    for vg in vgs {
        if l.run("vgck", &[&vg]).0 != 0 {
            failing.insert(vg);
        }
    }
    (failing, all, partial)
}

/// What the reports say, in the same terms: a VG with an error of its own
/// (a missing PV, a layout error) fails vgck; every LV node; the LVs with
/// lvm2.lv.partial or lvm2.lv.degraded.
fn ours(reports: &[ImageReport]) -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) {
    let (mut failing, mut all, mut partial) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for r in reports {
        let Some(pv) = r.root.walk().into_iter().find(|n| n.layer == Some("lvm2")) else {
            continue;
        };
        for (name, n) in lvs(r) {
            all.insert(name.to_owned());
            if n.findings
                .iter()
                .any(|f| f.code == "lvm2.lv.partial" || f.code == "lvm2.lv.degraded")
            {
                partial.insert(name.to_owned());
            }
        }
        if pv.findings.iter().any(|f| {
            f.severity == Severity::Error
                && ["lvm2.pv.missing", "lvm2.segment", "lvm2.pv.extents"]
                    .iter()
                    .any(|c| f.code.starts_with(c))
        }) {
            let vg = pv
                .title
                .split(" of VG ")
                .nth(1)
                .and_then(|t| t.split(' ').next());
            failing.insert(vg.unwrap_or("?").to_owned());
        }
    }
    (failing, all, partial)
}

/// The partial-activation step the incident gets is marked read-only: run
/// as given (plus `--driverloaded n`, since this kernel has no
/// device-mapper) on read-write loop devices over copies of the
/// surviving PV, lvm accepts every flag and writes nothing to it — not
/// the MISSING flag, not a repair of the VG it finds partial.
#[test]
fn the_partial_activation_step_writes_nothing() {
    if let Err(why) = ready() {
        println!("SKIPPED partial activation against lvm2: {why}");
        return;
    }
    let r = &run(&[&fx("pair-a.img")])[0];
    let h = find(r, "lvm2.lv.partial")[0].hint.clone().unwrap();
    assert!(!h.writes, "{h:?}");
    let cmd = h.command.unwrap();
    assert!(
        cmd.starts_with("vgchange -ay --activationmode partial"),
        "{cmd}"
    );
    let d = tempfile::tempdir().unwrap();
    let copy = d.path().join("pair-a.img");
    std::fs::copy(fx("pair-a.img"), &copy).unwrap();
    let before = std::fs::read(&copy).unwrap();
    let l = Loops::attach_rw(&[&copy]);
    // The filter and the other settings of Loops::run, as lvm.conf: the
    // step brings its own --config.
    let etc = d.path().join("etc");
    std::fs::create_dir(&etc).unwrap();
    std::fs::write(
        etc.join("lvm.conf"),
        format!(
            "devices {{ scan = [\"/dev\"] filter = [ \"a|^{}$|\", \"r|.*|\" ] use_devicesfile = 0 obtain_device_list_from_udev = 0 }}\n\
             activation {{ udev_sync = 0 udev_rules = 0 monitoring = 0 }}\nglobal {{ event_activation = 0 }}\n",
            l.0[0]
        ),
    )
    .unwrap();
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!("lvm {cmd} --driverloaded n"))
        .env("LVM_SYSTEM_DIR", &etc)
        .env("LVM_SUPPRESS_FD_WARNINGS", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("Invalid") && !err.contains("nrecognised") && !err.contains("Parse error"),
        "{err}"
    );
    assert!(err.contains("missing"), "{err}");
    drop(l);
    assert!(
        std::fs::read(&copy).unwrap() == before,
        "lvm wrote to the PV: {err}"
    );
}

#[test]
fn verdicts_agree_with_vgck_and_lvs() {
    if let Err(why) = ready() {
        println!("SKIPPED lvm2 differential (vgck, lvs) through the pipeline: {why}");
        eprintln!("SKIPPED lvm2 differential (vgck, lvs) through the pipeline: {why}");
        return;
    }
    let zeroed = damaged(
        "lvm2/pair-b.img",
        &[Patch::Zero {
            offset: 0,
            len: 24 << 20,
        }],
    );
    let cases: Vec<(&str, Vec<PathBuf>)> = vec![
        ("one-pv", vec![fx("one-pv.img")]),
        ("pair", vec![fx("pair-a.img"), fx("pair-b.img")]),
        ("pair-a alone", vec![fx("pair-a.img")]),
        ("pair-b alone", vec![fx("pair-b.img")]),
        (
            "pair-a + zeroed pair-b",
            vec![fx("pair-a.img"), zeroed.path().to_path_buf()],
        ),
        (
            "pair-a + stale pair-b",
            vec![fx("pair-a.img"), fx("pair-b-stale.img")],
        ),
        ("stripe", vec![fx("stripe-a.img"), fx("stripe-b.img")]),
        ("stripe-a alone", vec![fx("stripe-a.img")]),
        ("stripe-b alone", vec![fx("stripe-b.img")]),
        ("snapshot", vec![fx("snapshot.img")]),
        ("thin", vec![fx("thin.img")]),
        ("ring", vec![fx("ring.img")]),
        ("ovirt", vec![fx("ovirt.img")]),
        ("ovirt-chain", vec![fx("ovirt-chain.img")]),
    ];
    let (mut agree, mut differ) = (0, 0);
    let mut report = Vec::new();
    for (name, paths) in &cases {
        let paths: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
        let p = peer(&paths);
        let o = ours(&run(&paths));
        for (aspect, a, b) in [
            ("vgck", &p.0, &o.0),
            ("lvs", &p.1, &o.1),
            ("partial", &p.2, &o.2),
        ] {
            if a == b {
                agree += 1;
            } else {
                differ += 1;
                report.push(format!(
                    "{name}: {aspect} DIFFERS\n  lvm2:     {a:?}\n  imgcheck: {b:?}"
                ));
            }
        }
    }
    let summary = format!(
        "lvm2 through the pipeline: {} cases x 3 aspects (vgck verdict, lvs LVs, partial LVs): {agree} agree, {differ} differ",
        cases.len()
    );
    for r in &report {
        println!("{r}");
    }
    println!("{summary}");
    assert_eq!(differ, 0, "{}\n{summary}", report.join("\n"));
}

/// A qcow2 inside an LV has no directory on the host: a backing name
/// that names no LV is never opened beside the outer image (an attack
/// had `../../etc/passwd` and a planted `sub/decoy.qcow2` read from the host
/// as the backing file of an oVirt volume).
#[test]
fn a_backing_name_inside_an_lv_never_opens_a_host_file() {
    if std::process::Command::new("qemu-img")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("SKIPPED: qemu-img is not installed (it makes the decoy)");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let img = d.path().join("ovirt-chain.img");
    let mut b = std::fs::read(fx("ovirt-chain.img")).unwrap();
    // Volume 003's qcow2 starts at this disk offset (found by its magic
    // and a backing name at 528 naming volume 002).
    let q = 38_797_312usize;
    assert_eq!(&b[q..q + 4], b"QFI\xfb");
    assert_eq!(&b[q + 528..q + 531], b"../");
    let name = b"sub/decoy.qcow2";
    b[q + 528..q + 528 + name.len()].copy_from_slice(name);
    b[q + 16..q + 20].copy_from_slice(&(name.len() as u32).to_be_bytes());
    std::fs::write(&img, &b).unwrap();
    std::fs::create_dir(d.path().join("sub")).unwrap();
    let st = std::process::Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(d.path().join("sub/decoy.qcow2"))
        .arg("8M")
        .status()
        .unwrap();
    assert!(st.success());
    let r = &run(&[&img])[0];
    let backings: Vec<String> = r
        .root
        .walk()
        .iter()
        .filter(|n| n.kind == "qcow2 backing")
        .map(|n| n.title.clone())
        .collect();
    assert!(
        backings.iter().all(|t| !t.contains("decoy")),
        "the host's decoy.qcow2 was read as the backing file: {backings:?}"
    );
}

/// The pool fixtures (testdata/scripts/lvm2-pool.sh), decompressed into
/// `d` under the names given, so reports name them as a person would.
fn copies(d: &Path, names: &[&str]) -> Vec<PathBuf> {
    names
        .iter()
        .map(|n| {
            let p = d.join(n);
            std::fs::copy(fx(n), &p).unwrap();
            p
        })
        .collect()
}

fn messages<'a>(r: &'a ImageReport, code: &str) -> Vec<&'a str> {
    find(r, code).iter().map(|f| f.message.as_str()).collect()
}

/// Two disks each with a VG named `dup` (different VG UUIDs): a backing
/// name `/dev/dup/base` names either, as lvm says ("Multiple VGs found
/// with the same name"). It is a finding naming both VGs, whatever the
/// order; alone, the disk's own VG is the only one and its chain is clean
/// (an attack saw the first VG of the name picked silently).
#[test]
fn a_vg_name_two_vgs_share_is_ambiguous_never_a_silent_pick() {
    let d = tempfile::tempdir().unwrap();
    let p = copies(d.path(), &["dup-x.img", "dup-y.img"]);
    let (x, y) = (p[0].as_path(), p[1].as_path());
    let alone = &run(&[y])[0];
    assert!(
        find(alone, "qcow2.backing.unreadable").is_empty(),
        "{:?}",
        codes(alone)
    );
    assert!(find(alone, "lvm2.vg.duplicate_name").is_empty());
    for order in [[x, y], [y, x]] {
        let rs = run(&order);
        let ry = rs.iter().find(|r| r.image.ends_with("dup-y.img")).unwrap();
        let rx = rs.iter().find(|r| r.image.ends_with("dup-x.img")).unwrap();
        let amb = messages(ry, "qcow2.backing.unreadable");
        assert_eq!(amb.len(), 1, "{:?}", codes(ry));
        assert!(
            amb[0].contains("/dev/dup/base") && amb[0].contains("ambiguous"),
            "{}",
            amb[0]
        );
        assert!(
            amb[0].contains("dup-x.img") && amb[0].contains("dup-y.img"),
            "{}",
            amb[0]
        );
        assert!(!amb[0].contains("no qcow2 magic"), "{}", amb[0]);
        for r in [rx, ry] {
            let m = messages(r, "lvm2.vg.duplicate_name");
            assert_eq!(m.len(), 1, "{:?}", codes(r));
            assert!(m[0].contains("Multiple VGs found with the same name"));
        }
        // The bare name `base` is the image's own VG's, by identity.
        let top2 = lv(ry, "dup/top2");
        assert!(
            top2.walk().iter().any(|n| n.kind == "qcow2 backing"),
            "top2's backing (its own VG's LV base) was not read"
        );
    }
}

/// The backing LV lies wholly on the PV not given: its bytes are
/// unknown, not "no qcow2 magic" (an attack's wrong cause). The finding
/// names the missing PV.
#[test]
fn a_backing_lv_on_a_missing_pv_says_so() {
    let d = tempfile::tempdir().unwrap();
    let p = copies(d.path(), &["split-a.img", "split-b.img"]);
    let r = &run(&[&p[0]])[0];
    let m = messages(r, "qcow2.backing.unreadable");
    assert_eq!(m.len(), 1, "{:?}", codes(r));
    assert!(
        m[0].contains("missing PV SplitB-aaaa-bbbb-cccc-dddd-eeee-000001")
            && !m[0].contains("magic"),
        "{}",
        m[0]
    );
    let both = run(&[&p[0], &p[1]]);
    assert!(
        find(&both[0], "qcow2.backing.unreadable").is_empty(),
        "{:?}",
        codes(&both[0])
    );
}

/// A clone of PV b (same PV UUID, its LV base overwritten) given with the
/// original: the duplicate is named as lvm names it ("Not using device
/// ... for PV ..."), the genuine PV is never called "in no VG", and which
/// disk is used does not depend on the order given.
#[test]
fn a_cloned_pv_is_named_a_duplicate_whatever_the_order() {
    let d = tempfile::tempdir().unwrap();
    let p = copies(d.path(), &["split-a.img", "split-b.img"]);
    let clone = d.path().join("clone-b.img");
    let mut b = std::fs::read(&p[1]).unwrap();
    // LV base is extent 0 of PV b, at pe_start (1 MiB).
    assert_eq!(&b[1 << 20..(1 << 20) + 4], b"QFI\xfb");
    b[1 << 20..2 << 20].fill(0xa5);
    std::fs::write(&clone, &b).unwrap();
    let mut seen = Vec::new();
    for order in [
        [p[0].as_path(), clone.as_path(), p[1].as_path()],
        [p[1].as_path(), clone.as_path(), p[0].as_path()],
    ] {
        let rs = run(&order);
        let all: Vec<&Finding> = rs.iter().flat_map(|r| r.findings()).collect();
        let dup: Vec<&&Finding> = all
            .iter()
            .filter(|f| f.code == "lvm2.pv.duplicate")
            .collect();
        assert_eq!(
            dup.len(),
            1,
            "{:?}",
            all.iter().map(|f| &f.code).collect::<Vec<_>>()
        );
        assert!(
            dup[0].message.contains("Not using device"),
            "{}",
            dup[0].message
        );
        assert!(
            dup[0].message.contains("clone-b.img") && dup[0].message.contains("split-b.img"),
            "{}",
            dup[0].message
        );
        assert!(
            all.iter().all(|f| f.code != "lvm2.pv.no_vg"),
            "a PV of the VG called in no VG"
        );
        let a = rs
            .iter()
            .find(|r| r.image.ends_with("split-a.img"))
            .unwrap();
        seen.push((dup[0].message.clone(), codes(a)));
    }
    assert_eq!(
        seen[0], seen[1],
        "the order of the images changed the result"
    );
}

/// A libvirt LVM pool volume has no oVirt tags: the qcow2 in it is still
/// opened and checked (its L1 entry points past the image's end; qemu-img
/// check exits 2 on it, testdata/scripts/lvm2-pool.sh), and an overlay
/// in another LV naming /dev/VG/LV reads it. Every hint about what is in
/// an LV names the LV's device, never the PV image file.
#[test]
fn qcow2_in_an_untagged_lv_is_checked_and_its_hints_name_the_lv() {
    let d = tempfile::tempdir().unwrap();
    let p = copies(d.path(), &["libvirt.img"]);
    let r = &run(&[&p[0]])[0];
    let disk = lv(r, "imgck_lib/disk");
    let q = disk
        .walk()
        .into_iter()
        .find(|n| n.layer == Some("qcow2"))
        .expect("the qcow2 in the untagged LV was not opened");
    assert!(
        q.findings
            .iter()
            .any(|f| f.severity == Severity::Error && f.code.starts_with("qcow2.")),
        "{:?}",
        q.findings.iter().map(|f| &f.code).collect::<Vec<_>>()
    );
    let ov = lv(r, "imgck_lib/ov");
    assert!(
        ov.walk()
            .iter()
            .any(|n| n.kind == "qcow2 backing" && n.title.contains("/dev/imgck_lib/disk"))
    );
    let image = p[0].display().to_string();
    let mut hinted = 0;
    for f in r.findings() {
        let in_lv = f.place.0.iter().any(|s| matches!(s, Step::Volume(_)));
        let Some(h) = r.hint_of(f) else { continue };
        if !in_lv || f.layer.as_str() == "lvm2" {
            continue;
        }
        hinted += 1;
        let text = format!("{:?} {:?}", h.hint.command, h.hint.note);
        assert!(!text.contains(&image), "{}: {text}", f.code);
        // A read-only hint names the LV's device; a writing one (check
        // -r) the copy of that LV the steps make, never the LV itself.
        if f.code.starts_with("qcow2.") && f.place.0.len() == 1 {
            let lv_or_its_copy = if h.hint.writes {
                "imgck_lib-disk.bak"
            } else {
                "/dev/imgck_lib/"
            };
            assert!(text.contains(lv_or_its_copy), "{}: {text}", f.code);
        }
    }
    assert!(hinted > 0, "no hint inside an LV was looked at");
    for s in &r.next_steps {
        if s.contains("qemu-img check -r") || s.contains("qemu-img info") {
            assert!(!s.contains(&image), "{s}");
        }
    }
}

/// An overlay in an LV naming a path that is no LV (`sub/decoy.qcow2`):
/// a warning says which name and why it is not followed.
#[test]
fn a_backing_name_not_followed_inside_an_lv_says_why() {
    let d = tempfile::tempdir().unwrap();
    let p = copies(d.path(), &["libvirt.img"]);
    let mut b = std::fs::read(&p[0]).unwrap();
    let name = b"/dev/imgck_lib/disk";
    let at = b.windows(name.len()).position(|w| w == name).unwrap();
    let q = at - 528;
    assert_eq!(&b[q..q + 4], b"QFI\xfb");
    let new = b"sub/decoy.qcow2";
    b[at..at + name.len()].fill(0);
    b[at..at + new.len()].copy_from_slice(new);
    b[q + 16..q + 20].copy_from_slice(&(new.len() as u32).to_be_bytes());
    std::fs::write(&p[0], &b).unwrap();
    let r = &run(&[&p[0]])[0];
    let f = find(r, "qcow2.backing.not_followed");
    assert_eq!(f.len(), 1, "{:?}", codes(r));
    assert_eq!(f[0].severity, Severity::Warning);
    assert!(
        f[0].message.contains("sub/decoy.qcow2") && f[0].message.contains("no LV of VG imgck_lib"),
        "{}",
        f[0].message
    );
}

/// A chain of 70 oVirt volumes (each LV an overlay of the next): QEMU
/// sets no depth limit, so the chain is read through to its base and the
/// disk is clean — not damaged by imgcheck's own bound.
#[test]
fn a_chain_of_seventy_lvs_is_read_through() {
    let r = &run(&[&fx("chain.img")])[0];
    assert!(
        find(r, "qcow2.backing.too_deep").is_empty(),
        "{:?}",
        codes(r)
    );
    assert!(
        r.findings().iter().all(|f| f.severity < Severity::Warning),
        "{:?}",
        r.findings()
            .iter()
            .filter(|f| f.severity >= Severity::Warning)
            .map(|f| &f.code)
            .collect::<Vec<_>>()
    );
    let c0 = lv(r, "imgck_chain/c0");
    let deepest = c0
        .walk()
        .iter()
        .filter(|n| n.kind == "qcow2 backing")
        .count();
    assert_eq!(deepest, 69, "c0's chain was not read to c69");
}

/// The image order never changes a report: the same JSON for a qcow2
/// file naming an LV given before or after the PVs of its VG (an attack
/// saw "missing" one way and the LV the other).
#[test]
fn the_order_of_the_images_never_changes_the_reports() {
    if Command::new("qemu-img").arg("--version").output().is_err() {
        println!("SKIPPED: qemu-img is not installed (it makes the host overlay)");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = copies(d.path(), &["split-a.img", "split-b.img"]);
    let host = d.path().join("host.qcow2");
    qemu_img(&[
        "create".as_ref(),
        "-q".as_ref(),
        "-f".as_ref(),
        "qcow2".as_ref(),
        "-u".as_ref(),
        "-b".as_ref(),
        "/dev/imgck_split/base".as_ref(),
        "-F".as_ref(),
        "qcow2".as_ref(),
        host.as_os_str(),
        "8M".as_ref(),
    ]);
    let json = |order: &[&Path]| -> std::collections::BTreeMap<String, String> {
        run(order)
            .iter()
            .map(|r| (r.image.clone(), imgcheck::render::json_line(r)))
            .collect()
    };
    let one = json(&[&host, &p[0], &p[1]]);
    let two = json(&[&p[0], &p[1], &host]);
    let three = json(&[&p[1], &host, &p[0]]);
    assert_eq!(one, two);
    assert_eq!(one, three);
    assert!(
        one.values().all(|j| !j.contains("qcow2.backing.missing")),
        "{one:?}"
    );
}

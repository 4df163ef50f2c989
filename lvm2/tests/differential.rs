//! Differential tests against lvm2 itself: `pvs`, `vgs`, `lvs -a`
//! (`--reportformat json`), `vgck` and `pvck --dump headers` on every
//! fixture and on damaged copies, attached as read-only loop devices and
//! seen through a filter that accepts only them. Counts agree / differ by
//! design (declared per case, with the reason) / differ; any undeclared
//! difference fails. Needs root and lvm2; skips visibly otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]
mod common;
use common::*;
use imgcheck_core::{ReadAt, Severity};
use imgcheck_lvm2::{Assembly, Device, Opened};
use imgcheck_testdata::{Patch, damaged};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

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

/// Read-only loop devices, detached on drop (also when a test fails).
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
    fn config(&self) -> String {
        let f: String = self.0.iter().map(|d| format!("\"a|^{d}$|\",")).collect();
        format!(
            "devices{{scan=[\"/dev\"] filter=[{f}\"r|.*|\"] use_devicesfile=0 obtain_device_list_from_udev=0 hints=\"none\"}} \
             activation{{udev_sync=0 udev_rules=0 monitoring=0}} global{{event_activation=0}} \
             backup{{backup=0 archive=0}}"
        )
    }
    fn run(&self, cmd: &str, args: &[&str]) -> (i32, String, String) {
        let o = Command::new("lvm")
            .arg(cmd)
            .arg("--config")
            .arg(self.config())
            .args(args)
            .env("LVM_SUPPRESS_FD_WARNINGS", "1")
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }
    fn report(&self, cmd: &str, fields: &str) -> Vec<Value> {
        let mut args = vec![
            "--reportformat",
            "json",
            "--units",
            "b",
            "--nosuffix",
            "-o",
            fields,
        ];
        if cmd == "lvs" {
            args.push("-a");
        }
        let (_, out, _) = self.run(cmd, &args);
        // lvm prints some messages ("Retrying metadata scan.") on stdout,
        // inside the JSON: keep only JSON lines.
        let out: String = out
            .lines()
            .filter(|l| l.trim_start().starts_with(['{', '}', '[', ']', '"']))
            .map(|l| format!("{l}\n"))
            .collect();
        let key = &cmd[..2];
        serde_json::from_str::<Value>(&out)
            .ok()
            .and_then(|v| v["report"][0][key].as_array().cloned())
            .unwrap_or_default()
    }
}

impl Drop for Loops {
    fn drop(&mut self) {
        for d in &self.0 {
            let _ = Command::new("losetup").arg("-d").arg(d).status();
        }
    }
}

/// One aspect's two views.
#[derive(Debug, Default)]
struct View {
    pvs: BTreeSet<String>,
    vgs: BTreeSet<String>,
    lvs: BTreeSet<String>,
    lost: BTreeSet<String>,
    vgck_fails: BTreeSet<String>,
    pvck_fails: BTreeSet<String>,
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or("").to_owned()
}

fn peer(paths: &[&Path]) -> View {
    let l = Loops::attach(paths);
    let pvs = l.report("pvs", "pv_name,pv_uuid,vg_name,pv_attr");
    let uuid_of = |dev: &str| {
        pvs.iter()
            .find(|p| s(p, "pv_name") == dev)
            .map(|p| s(p, "pv_uuid"))
    };
    let mut v = View::default();
    for p in &pvs {
        let missing = s(p, "pv_attr").chars().nth(2) == Some('m');
        v.pvs.insert(format!(
            "{} vg={} missing={missing}",
            s(p, "pv_uuid"),
            s(p, "vg_name")
        ));
    }
    for g in l.report(
        "vgs",
        "vg_name,vg_uuid,vg_seqno,vg_extent_size,pv_count,lv_count,vg_missing_pv_count",
    ) {
        v.vgs.insert(format!(
            "{} id={} seqno={} extent={} pvs={} lvs={} missing={}",
            s(&g, "vg_name"),
            s(&g, "vg_uuid"),
            s(&g, "vg_seqno"),
            s(&g, "vg_extent_size"),
            s(&g, "pv_count"),
            s(&g, "lv_count"),
            s(&g, "vg_missing_pv_count")
        ));
        let (rc, _, _) = l.run("vgck", &[&s(&g, "vg_name")]);
        if rc != 0 {
            v.vgck_fails.insert(s(&g, "vg_name"));
        }
    }
    for r in l.report(
        "lvs",
        "vg_name,lv_name,lv_attr,seg_start_pe,seg_size_pe,segtype,devices",
    ) {
        let name = s(&r, "lv_name").trim_matches(['[', ']']).to_owned();
        let devices: Vec<String> = s(&r, "devices")
            .split(',')
            .filter(|d| !d.is_empty())
            .map(|d| {
                let (dev, ext) = d.split_once('(').unwrap();
                if dev == "[unknown]" {
                    return format!("missing({ext}");
                }
                match uuid_of(dev) {
                    Some(u) => format!("{u}({ext}"),
                    None => format!("{}({ext}", dev.trim_matches(['[', ']'])),
                }
            })
            .collect();
        let partial = s(&r, "lv_attr").chars().nth(8) == Some('p');
        let row = format!(
            "{}/{name} {}+{} {} [{}] partial={partial}",
            s(&r, "vg_name"),
            s(&r, "seg_start_pe"),
            s(&r, "seg_size_pe"),
            s(&r, "segtype"),
            devices.join(",")
        );
        if devices.iter().any(|d| d.starts_with("missing(")) {
            v.lost.insert(format!(
                "{}/{name} {}+{}",
                s(&r, "vg_name"),
                s(&r, "seg_start_pe"),
                s(&r, "seg_size_pe")
            ));
        }
        v.lvs.insert(row);
    }
    for (i, d) in l.0.iter().enumerate() {
        let (rc, _, _) = l.run("pvck", &["--dump", "headers", d]);
        if rc != 0 {
            v.pvck_fails.insert(format!("input{i}"));
        }
    }
    v
}

fn ours(a: &Assembly) -> View {
    let mut v = View::default();
    for vg in &a.vgs {
        let name = vg.name();
        for p in &vg.pvs {
            v.pvs
                .insert(format!("{} vg={name} missing={}", p.meta.id, p.missing()));
        }
        let visible = vg.lvs.iter().filter(|l| l.visible).count();
        v.vgs.insert(format!(
            "{name} id={} seqno={} extent={} pvs={} lvs={visible} missing={}",
            vg.metadata.id,
            vg.metadata.seqno,
            vg.metadata.extent_bytes(),
            vg.pvs.len(),
            vg.missing().count()
        ));
        if vg
            .findings
            .iter()
            .any(|l| l.finding.severity == Severity::Error && l.input.is_none())
        {
            v.vgck_fails.insert(name.to_owned());
        }
        for lv in &vg.lvs {
            // lvs -a does not list an old-style snapshot's internal LV.
            if lv.segments.iter().all(|s| s.type_name == "snapshot") {
                continue;
            }
            for sg in &lv.segments {
                let devices: Vec<String> = sg
                    .devices
                    .iter()
                    .map(|d| match d {
                        Device::Pv {
                            id,
                            pe,
                            missing: false,
                        } => format!("{id}({pe})"),
                        Device::Pv {
                            pe, missing: true, ..
                        } => format!("missing({pe})"),
                        Device::Lv { name, le } => format!("{name}({le})"),
                    })
                    .collect();
                let segtype = match sg.type_name.as_str() {
                    "striped" if sg.devices.len() == 1 => "linear",
                    t => t,
                };
                v.lvs.insert(format!(
                    "{name}/{} {}+{} {segtype} [{}] partial={}",
                    lv.name,
                    sg.start_extent,
                    sg.extent_count,
                    devices.join(","),
                    lv.partial
                ));
                if sg
                    .devices
                    .iter()
                    .any(|d| matches!(d, Device::Pv { missing: true, .. }))
                {
                    v.lost.insert(format!(
                        "{name}/{} {}+{}",
                        lv.name, sg.start_extent, sg.extent_count
                    ));
                }
            }
            // Our own lost extents must lie inside what lvs shows as on [unknown].
            for l in &lv.lost {
                let inside = lv.segments.iter().any(|sg| {
                    sg.start_extent <= l.le
                        && l.le + l.count <= sg.start_extent + sg.extent_count
                        && (sg
                            .devices
                            .iter()
                            .any(|d| matches!(d, Device::Pv { missing: true, .. }))
                            || sg.devices.iter().any(|d| matches!(d, Device::Lv { .. }))
                            || sg.devices.is_empty())
                });
                assert!(
                    inside,
                    "{name}/{}: lost {l:?} outside every segment on a missing PV",
                    lv.name
                );
            }
        }
    }
    for (i, st) in a.inputs.iter().enumerate() {
        let _ = st;
        let errors = a.findings_of_input(i).any(|f| {
            f.severity == Severity::Error
                && ["lvm2.label", "lvm2.pv_header", "lvm2.mda", "lvm2.metadata"]
                    .iter()
                    .any(|p| f.code.starts_with(p))
        });
        if errors {
            v.pvck_fails.insert(format!("input{i}"));
        }
    }
    v
}

/// A case: the images, and the aspects that differ by design, with why.
struct Case {
    name: &'static str,
    paths: Vec<PathBuf>,
    by_design: &'static [(&'static str, &'static str)],
    _keep: Vec<Box<dyn std::any::Any>>,
}

fn case(
    name: &'static str,
    paths: Vec<PathBuf>,
    by_design: &'static [(&'static str, &'static str)],
) -> Case {
    Case {
        name,
        paths,
        by_design,
        _keep: Vec::new(),
    }
}

fn dmg(
    name: &'static str,
    fx_name: &str,
    patches: &[Patch],
    others: &[&str],
    by_design: &'static [(&'static str, &'static str)],
) -> Case {
    let d = damaged(&format!("lvm2/{fx_name}"), patches);
    let mut paths = vec![d.path().to_path_buf()];
    paths.extend(others.iter().map(|o| fx(o)));
    Case {
        name,
        paths,
        by_design,
        _keep: vec![Box::new(d)],
    }
}

const LABEL_GONE: &str = "lvm does not see a PV without a valid label; imgcheck identifies it from its metadata area or layout and reads its extents";
const FALLBACK: &str = "with no committed copy readable lvm shows no VG; imgcheck shows the newest complete generation left in the ring";
const THIN: &str = "lvm reads thin pool metadata only when activating (thin_check); imgcheck reads it to map the thin LVs";
const VALIDATE: &str = "lvm refuses metadata that fails its validation and shows no VG at all; imgcheck shows the VG with the layout findings (vgck fails on both)";
const PVCK_SIZE: &str = "pvck checks headers only; imgcheck also compares the PV header's device size with the container";

#[test]
fn against_lvm2() {
    if let Err(why) = ready() {
        eprintln!("SKIPPED differential tests against lvm2: {why}");
        println!("SKIPPED differential tests against lvm2: {why}");
        return;
    }
    let one = fx("one-pv.img");
    let (at, _) = committed(&one);
    let (pa_at, _) = committed(&fx("pair-a.img"));
    let overlap = rewrite_text(&one, "stripes = [\n\"pv0\", 6", "stripes = [\n\"pv0\", 0");
    let shrunk = rewrite_text(&one, "pe_count = 11", "pe_count = 05");
    let hdr = resealed(&fx("pair-a.img"), &[(576, &(20u64 << 20).to_le_bytes())]);
    let mut cases = vec![
        case("one-pv", vec![one.clone()], &[]),
        case("pair", vec![fx("pair-a.img"), fx("pair-b.img")], &[]),
        case("pair-a alone (the incident)", vec![fx("pair-a.img")], &[]),
        case(
            "pair-a + stale pair-b",
            vec![fx("pair-a.img"), fx("pair-b-stale.img")],
            &[],
        ),
        case("stripe", vec![fx("stripe-a.img"), fx("stripe-b.img")], &[]),
        case("stripe-a alone", vec![fx("stripe-a.img")], &[]),
        case("snapshot", vec![fx("snapshot.img")], &[]),
        case("thin", vec![fx("thin.img")], &[]),
        case("ring", vec![fx("ring.img")], &[]),
        case("ovirt", vec![fx("ovirt.img")], &[]),
        dmg(
            "incident: pair-b zeroed",
            "pair-b.img",
            &[Patch::Zero {
                offset: 0,
                len: 24 << 20,
            }],
            &["pair-a.img"],
            &[],
        ),
        dmg(
            "pair-b label zeroed",
            "pair-b.img",
            &[Patch::Zero {
                offset: 512,
                len: 512,
            }],
            &["pair-a.img"],
            &[
                ("pvs", LABEL_GONE),
                ("vgs", LABEL_GONE),
                ("lvs", LABEL_GONE),
                ("lost", LABEL_GONE),
                ("vgck", LABEL_GONE),
            ],
        ),
        dmg(
            "pair-a label CRC",
            "pair-a.img",
            &[Patch::Xor {
                offset: 600,
                mask: 1,
            }],
            &["pair-b.img"],
            &[
                ("pvs", LABEL_GONE),
                ("vgs", LABEL_GONE),
                ("lvs", LABEL_GONE),
                ("lost", LABEL_GONE),
                ("vgck", LABEL_GONE),
            ],
        ),
        case(
            "pair-a PV header device_size (CRC resealed)",
            vec![hdr.path().join("pair-a.img"), fx("pair-b.img")],
            &[],
        ),
        dmg(
            "pair-a mda header",
            "pair-a.img",
            &[Patch::Xor {
                offset: 4096 + 200,
                mask: 0x40,
            }],
            &["pair-b.img"],
            &[],
        ),
        dmg(
            "pair-a metadata text",
            "pair-a.img",
            &[Patch::Xor {
                offset: pa_at + 40,
                mask: 0x20,
            }],
            &["pair-b.img"],
            &[],
        ),
        dmg(
            "one-pv metadata text",
            "one-pv.img",
            &[Patch::Bytes {
                offset: at + 5,
                bytes: b"{{{{".to_vec(),
            }],
            &[],
            &[
                ("pvs", FALLBACK),
                ("vgs", FALLBACK),
                ("lvs", FALLBACK),
                ("vgck", FALLBACK),
            ],
        ),
        dmg(
            "thin pool metadata superblock",
            "thin.img",
            &[Patch::Xor {
                offset: (1 << 20) + 100,
                mask: 1,
            }],
            &[],
            &[("vgck", THIN)],
        ),
        dmg(
            "one-pv truncated",
            "one-pv.img",
            &[Patch::Truncate { len: 40 << 20 }],
            &[],
            &[("pvck", PVCK_SIZE)],
        ),
        case(
            "one-pv overlapping segments",
            vec![overlap.path().join("one-pv.img")],
            &[("pvs", VALIDATE), ("vgs", VALIDATE), ("lvs", VALIDATE)],
        ),
        case(
            "one-pv extents past pe_count",
            vec![shrunk.path().join("one-pv.img")],
            &[("pvs", VALIDATE), ("vgs", VALIDATE), ("lvs", VALIDATE)],
        ),
    ];
    let _keep = (overlap, shrunk, hdr);
    let (mut agree, mut by_design, mut differ) = (0, 0, 0);
    let mut report = Vec::new();
    for c in cases.iter_mut() {
        let paths: Vec<&Path> = c.paths.iter().map(|p| p.as_path()).collect();
        let p = peer(&paths);
        let o = ours(&asm(&paths));
        for (aspect, a, b) in [
            ("pvs", &p.pvs, &o.pvs),
            ("vgs", &p.vgs, &o.vgs),
            ("lvs", &p.lvs, &o.lvs),
            ("lost", &p.lost, &o.lost),
            ("vgck", &p.vgck_fails, &o.vgck_fails),
            ("pvck", &p.pvck_fails, &o.pvck_fails),
        ] {
            let declared = c.by_design.iter().find(|(x, _)| *x == aspect);
            if a == b {
                agree += 1;
                if declared.is_some() {
                    report.push(format!(
                        "{}: {aspect}: declared by design but agrees",
                        c.name
                    ));
                }
            } else if let Some((_, why)) = declared {
                by_design += 1;
                report.push(format!("{}: {aspect} differs by design ({why})", c.name));
            } else {
                differ += 1;
                report.push(format!(
                    "{}: {aspect} DIFFERS\n  lvm2:     {:?}\n  imgcheck: {:?}",
                    c.name,
                    a.symmetric_difference(b)
                        .filter(|x| a.contains(*x))
                        .collect::<Vec<_>>(),
                    a.symmetric_difference(b)
                        .filter(|x| b.contains(*x))
                        .collect::<Vec<_>>()
                ));
            }
        }
    }
    let summary = format!(
        "lvm2 differential: {} cases x 6 aspects: {agree} agree, {by_design} differ by design, {differ} differ",
        cases.len()
    );
    for r in &report {
        println!("{r}");
    }
    println!("{summary}");
    assert_eq!(differ, 0, "{}\n{summary}", report.join("\n"));
}

/// Filesystems and qcow2 disks read through our LV mapping, checked by
/// their own tools.
#[test]
fn lv_contents_pass_their_own_checkers() {
    let have = |t: &str| Command::new(t).arg("-V").output().is_ok();
    if !have("e2fsck") || !have("qemu-img") {
        println!("SKIPPED: e2fsck or qemu-img not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dump = |vg: &imgcheck_lvm2::VolumeGroup, lv: &str, name: &str| -> PathBuf {
        let Opened::Mapped(r) = vg.open(lv) else {
            panic!("{lv}")
        };
        let mut b = vec![0u8; r.len() as usize];
        r.read_exact_at(0, &mut b).unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, b).unwrap();
        p
    };
    let mut checked = 0;
    for (imgs, vgname, lvs) in [
        (vec!["one-pv.img"], "imgck_one", vec!["root", "home"]),
        (
            vec!["pair-a.img", "pair-b.img"],
            "imgck_pair",
            vec!["root", "db"],
        ),
        (
            vec!["stripe-a.img", "stripe-b.img"],
            "imgck_stripe",
            vec!["str", "lin"],
        ),
        (
            vec!["snapshot.img"],
            "imgck_snap",
            vec!["data", "data_snap"],
        ),
        (vec!["thin.img"], "imgck_thin", vec!["thin1"]),
        (vec!["ring.img"], "imgck_ring", vec!["keep"]),
    ] {
        let paths: Vec<PathBuf> = imgs.iter().map(|i| fx(i)).collect();
        let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
        let a = asm(&refs);
        let vg = vg(&a, vgname);
        for lv in lvs {
            let p = dump(vg, lv, &format!("{vgname}-{lv}"));
            let o = Command::new("e2fsck")
                .args(["-fn"])
                .arg(&p)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{vgname}/{lv}: e2fsck -fn: {}",
                String::from_utf8_lossy(&o.stdout)
            );
            checked += 1;
        }
    }
    let a = asm(&[&fx("ovirt.img")]);
    let vg = &a.vgs[0];
    let base = dump(
        vg,
        "5a5a0000-0000-4000-8000-00000000b001",
        "5a5a0000-0000-4000-8000-00000000b001",
    );
    let top = dump(
        vg,
        "5a5a0000-0000-4000-8000-00000000b002",
        "5a5a0000-0000-4000-8000-00000000b002",
    );
    for q in [&base, &top] {
        let o = Command::new("qemu-img")
            .args(["check", "-q", "-f", "qcow2"])
            .arg(q)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{}: {}",
            q.display(),
            String::from_utf8_lossy(&o.stderr)
        );
        checked += 1;
    }
    let info = Command::new("qemu-img")
        .args(["info", "--output=json", "-f", "qcow2"])
        .arg(&top)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(
        v["backing-filename"], "5a5a0000-0000-4000-8000-00000000b001",
        "oVirt: the backing file is the parent volume UUID"
    );
    println!("{checked} LV contents checked clean by e2fsck -fn / qemu-img check");
}

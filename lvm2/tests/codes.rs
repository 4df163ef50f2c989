//! Every finding code the crate emits, each made to appear by one precise
//! change to a fixture made by lvm2 (checksums resealed where the change
//! is meant to pass them), and absent from the clean fixture.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]
mod common;
use common::*;
use imgcheck_testdata::{Patch, damaged};
use std::path::{Path, PathBuf};

fn has(paths: &[&Path], code: &str) {
    let a = asm(paths);
    assert!(
        codes(&a).iter().any(|c| c == code),
        "{code} not in {:?}",
        codes(&a)
    );
}

fn sealed(name: &str, patches: &[(usize, &[u8])]) -> (tempfile::TempDir, PathBuf) {
    let f = fx(name);
    let d = resealed(&f, patches);
    let p = d.path().join(name);
    (d, p)
}

#[test]
fn clean_fixtures_have_no_findings() {
    for set in [
        vec!["one-pv.img"],
        vec!["pair-a.img", "pair-b.img"],
        vec!["stripe-a.img", "stripe-b.img"],
        vec!["snapshot.img"],
        vec!["thin.img"],
        vec!["ring.img"],
        vec!["ovirt.img"],
    ] {
        let p: Vec<PathBuf> = set.iter().map(|n| fx(n)).collect();
        let r: Vec<&Path> = p.iter().map(|x| x.as_path()).collect();
        assert!(codes(&asm(&r)).is_empty(), "{set:?}: {:?}", codes(&asm(&r)));
    }
}

#[test]
fn label_codes() {
    let d = damaged("lvm2/one-pv.img", &[Patch::le64(520, 5)]);
    has(&[d.path()], "lvm2.label.sector");
    let (_d, p) = sealed("one-pv.img", &[(536, b"LVM2 002")]);
    has(&[&p], "lvm2.label.type");
    let sector = std::fs::read(fx("one-pv.img")).unwrap()[512..1024].to_vec();
    let d = damaged(
        "lvm2/one-pv.img",
        &[Patch::Bytes {
            offset: 1024,
            bytes: sector,
        }],
    );
    has(&[d.path()], "lvm2.label.extra");
}

#[test]
fn pv_header_codes() {
    let (_d, p) = sealed("one-pv.img", &[(532, &500u32.to_le_bytes())]);
    has(&[&p], "lvm2.pv_header.offset");
    let (_d, p) = sealed("one-pv.img", &[(544, b"\x01")]);
    has(&[&p], "lvm2.pv_header.uuid");
    let (_d, p) = sealed("one-pv.img", &[(584, &[0x11u8; 440])]);
    has(&[&p], "lvm2.pv_header.truncated");
    // data area (first disk_locn at 584) past the device
    let (_d, p) = sealed("one-pv.img", &[(584, &(1u64 << 40).to_le_bytes())]);
    has(&[&p], "lvm2.pv_header.data_area");
    // data area moved: pe_start in the metadata no longer agrees
    let (_d, p) = sealed("one-pv.img", &[(584, &(2u64 << 20).to_le_bytes())]);
    has(&[&p], "lvm2.pv.pe_start_mismatch");
    // device size in the header disagrees with the metadata's dev_size
    let (_d, p) = sealed("one-pv.img", &[(576, &(40u64 << 20).to_le_bytes())]);
    has(&[&p], "lvm2.pv.dev_size_mismatch");
}

#[test]
fn mda_codes() {
    let d = damaged(
        "lvm2/one-pv.img",
        &[Patch::Zero {
            offset: 4100,
            len: 16,
        }],
    );
    has(&[d.path()], "lvm2.mda.magic");
    let (_d, p) = sealed("one-pv.img", &[(4116, &2u32.to_le_bytes())]);
    has(&[&p], "lvm2.mda.version");
    let (_d, p) = sealed("one-pv.img", &[(4120, &8192u64.to_le_bytes())]);
    has(&[&p], "lvm2.mda.location");
    let (_d, p) = sealed("one-pv.img", &[(4136, &(1u64 << 30).to_le_bytes())]);
    has(&[&p], "lvm2.mda.raw_locn");
    // the PV header's metadata area (disk_locn at 616) past the device
    let (_d, p) = sealed("one-pv.img", &[(616, &(1u64 << 40).to_le_bytes())]);
    has(&[&p], "lvm2.mda.unreadable");
    // an area larger than the history scan reads
    let (_d, p) = sealed("one-pv.img", &[(624, &(128u64 << 20).to_le_bytes())]);
    has(&[&p], "lvm2.mda.history_bound");
}

#[test]
fn metadata_and_vg_codes() {
    let one = fx("one-pv.img");
    let d = rewrite_text(&one, "Text Format Volume Group", "Text Format Volume Grouq");
    has(&[&d.path().join("one-pv.img")], "lvm2.metadata.format");
    let d = rewrite_text(
        &one,
        "segment2 {\nstart_extent = 2",
        "segment2 {\nstart_extent = 3",
    );
    has(&[&d.path().join("one-pv.img")], "lvm2.segment.gap");
    // A VG name lvm refuses is damage, and never pasted into a command:
    // `v;reboot` once made the "read-only" activation step run reboot.
    for evil in ["imgck_on;", "--update"] {
        let d = rewrite_text(&one, "imgck_one {", &format!("{evil:<9} {{"));
        let img = d.path().join("one-pv.img");
        has(&[&img], "lvm2.metadata.parse");
        let a = asm(&[&img]);
        let commands: Vec<String> = a
            .findings
            .iter()
            .chain(a.vgs.iter().flat_map(|v| v.findings.iter()))
            .filter_map(|l| l.finding.hint.as_ref()?.command.clone())
            .collect();
        assert!(
            commands.iter().all(|c| !c.contains(evil.trim_end())),
            "{commands:?}"
        );
    }
    let thin = fx("thin.img");
    let d = rewrite_text(&thin, "thin_pool = \"pool\"", "thin_pool = \"poox\"");
    has(&[&d.path().join("thin.img")], "lvm2.segment.unknown_lv");
    let d = rewrite_text(&thin, "transaction_id = 2", "transaction_id = 3");
    has(&[&d.path().join("thin.img")], "lvm2.thin.transaction_id");
    // every metadata copy of a PV that says it is in use destroyed
    let d = damaged(
        "lvm2/one-pv.img",
        &[Patch::Zero {
            offset: 4096,
            len: (1 << 20) - 4096,
        }],
    );
    has(&[d.path()], "lvm2.pv.no_vg");
}

/// Every `"lvm2.…"` code in the sources is exercised by some test file.
#[test]
fn every_code_is_tested() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read_dir = |d: &str| -> String {
        std::fs::read_dir(root.join(d))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "rs"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .collect()
    };
    let src = read_dir("src");
    let tests = read_dir("tests");
    let mut missing = Vec::new();
    let mut n = 0;
    for part in src.split("\"lvm2.").skip(1) {
        let code: String = part.chars().take_while(|c| *c != '"').collect();
        if code.contains(' ') || code.is_empty() {
            continue;
        }
        n += 1;
        if !tests.contains(&format!("\"lvm2.{code}\"")) {
            missing.push(code);
        }
    }
    assert!(n > 30, "found only {n} codes");
    assert!(missing.is_empty(), "codes with no test: {missing:?}");
}

/// Two VGs named alike (lvm2-pool.sh: dup-x, dup-y) and a cloned PV (a
/// copy of split-b, its one LV overwritten): each named, and the choice
/// of PV the same whatever the order of the inputs.
#[test]
fn duplicate_names_and_cloned_pvs() {
    has(
        &[&fx("dup-x.img"), &fx("dup-y.img")],
        "lvm2.vg.duplicate_name",
    );
    let mut b = std::fs::read(fx("split-b.img")).unwrap();
    b[1 << 20..2 << 20].fill(0xa5);
    let d = tempfile::tempdir().unwrap();
    let clone = d.path().join("clone-b.img");
    std::fs::write(&clone, &b).unwrap();
    let (a, real) = (fx("split-a.img"), fx("split-b.img"));
    has(&[&a, &clone, &real], "lvm2.pv.duplicate");
    let picked = |paths: &[&Path]| {
        let asm = asm(paths);
        let vg = &asm.vgs[0];
        let (i, _) = vg.pvs[1].found.clone().unwrap();
        (
            asm.inputs[i].name.clone(),
            codes(&asm).iter().filter(|c| *c == "lvm2.pv.no_vg").count(),
        )
    };
    let one = picked(&[&a, &clone, &real]);
    let two = picked(&[&real, &clone, &a]);
    assert_eq!(one, two);
    assert_eq!(one.1, 0, "the genuine PV was called in no VG");
}

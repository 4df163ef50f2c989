//! Differential test: on every qcow2 fixture and on damaged copies, the
//! corruption and leak counts (and the exit code) equal
//! `qemu-img check --output=json`'s.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

mod common;
use common::damage::*;
use common::*;
use imgcheck_qcow2::{CheckOptions, Image, check};

/// Damage qemu-img check does not see (its counters stay as they are)
/// but imgcheck reports: the case, the finding code, and why.
fn gap(name: &str, case: &str) -> Option<(&'static str, &'static str)> {
    match case {
        "dirty-bit" => Some((
            "qcow2.header.dirty",
            "qemu-img check ignores the dirty bit (rc 0)",
        )),
        "corrupt-bit" => Some((
            "qcow2.header.corrupt",
            "qemu-img check ignores the corrupt bit (rc 0)",
        )),
        "refcount-past-eof" => Some(("qcow2.refcount.past_eof", "compare_refcounts stops at EOF")),
        "compressed-garbage" => Some((
            "qcow2.compressed.undecodable",
            "qemu-img check never decompresses",
        )),
        // (The last cluster is not always referenced; a data-file image keeps data elsewhere.)
        "truncated-half" | "l2-points-past-eof"
            if !matches!(name, "datafile.qcow2" | "rawdata.qcow2") =>
        {
            Some((
                "qcow2.file.truncated",
                "qemu-img counts the references but not the guest bytes lost",
            ))
        }
        _ => None,
    }
}

/// Cases where our counters differ from qemu-img's on purpose, and why.
fn intended_difference(_name: &str, _case: &str) -> Option<&'static str> {
    None
}

#[test]
fn counts_equal_qemu_img_check() {
    if !qemu_img() {
        println!("skipped: qemu-img not found");
        return;
    }
    let mut images = 0;
    let mut gaps_seen = 0;
    let mut counters_compared = 0;
    let mut by_rc = std::collections::BTreeMap::<i32, u32>::new();
    let mut mismatches = Vec::new();
    let mut differ_on_purpose = Vec::new();
    for name in qcow2_fixtures() {
        let clean = std::fs::read(imgcheck_testdata::fixture(&format!("qcow2/{name}"))).unwrap();
        let m = map(&clean);
        let mut cases: Vec<(&str, Option<Damage>)> = vec![("clean", None)];
        cases.extend(damages().into_iter().map(|(n, f)| (n, Some(f))));
        for (case, dmg) in cases {
            let mut applied = true;
            let (_d, p) = prepare(&name, |b| {
                if let Some(f) = dmg {
                    applied = f(b, &m);
                }
            });
            if !applied {
                continue;
            }
            // Probed like `imgcheck --qemu-compat` detects formats, so a broken
            // magic gives qemu-img's 63 ("not checkable"), not 1.
            let (qc, ql, qe, qrc, qout) = qemu_check_as(&p, case != "magic-broken");
            let mut our_json: Option<serde_json::Value> = None;
            let ours = match Image::open_path(&p) {
                Ok(img) => {
                    let r = check(
                        &img,
                        &CheckOptions {
                            deep: true,
                            ..CheckOptions::default()
                        },
                    );
                    if let Some((code, why)) = gap(&name, case) {
                        if !r.findings.iter().any(|f| f.code == code) {
                            mismatches
                                .push(format!("{name}/{case}: gap finding {code} missing ({why})"));
                        } else {
                            gaps_seen += 1;
                        }
                    }
                    our_json = Some(r.qemu_json("x"));
                    (r.corruptions, r.leaks, r.check_errors, r.qemu_exit_code())
                }
                Err(e) => (0, 0, 0, e.qemu_exit_code()),
            };
            // Every counter qemu-img prints (it omits zeros) must match too.
            if matches!(qrc, 0 | 2 | 3) {
                let theirs = qemu_check_json(&p, case != "magic-broken");
                let ours_j = our_json.clone().unwrap_or_default();
                for (k, v) in theirs.as_object().into_iter().flatten() {
                    if k == "filename" {
                        continue;
                    }
                    if ours_j.get(k) != Some(v) {
                        mismatches.push(format!(
                            "{name}/{case}: {k}: ours {:?} qemu {v}",
                            ours_j.get(k)
                        ));
                    } else {
                        counters_compared += 1;
                    }
                }
            }
            images += 1;
            *by_rc.entry(qrc).or_default() += 1;
            let same = if qrc == 1 || qrc == 63 {
                ours.3 == qrc
            } else {
                (ours.0, ours.1, ours.3) == (qc, ql, qrc)
            };
            if !same {
                if let Some(why) = intended_difference(&name, case) {
                    differ_on_purpose.push(format!("{name}/{case}: {why}"));
                } else {
                    mismatches.push(format!(
                        "{name}/{case}: ours c={} l={} e={} rc={} qemu c={qc} l={ql} e={qe} rc={qrc}\n{}",
                        ours.0, ours.1, ours.2, ours.3, qout.lines().take(6).collect::<Vec<_>>().join("\n")
                    ));
                }
            }
        }
    }
    println!(
        "differential: {images} images, {} agree, {} differ on purpose",
        images - mismatches.len() - differ_on_purpose.len(),
        differ_on_purpose.len()
    );
    println!(
        "{counters_compared} qemu-img JSON values compared (image-end-offset, cluster counts, ...), all equal"
    );
    println!("gap findings (damage qemu-img check does not report) seen on {gaps_seen} images");
    println!("qemu-img exit codes over those images: {by_rc:?}");
    assert!(
        by_rc.get(&2).copied().unwrap_or(0) >= 20,
        "too few corrupted images: the damage is not biting"
    );
    assert!(
        by_rc.get(&3).copied().unwrap_or(0) >= 5,
        "too few leaking images"
    );
    for d in &differ_on_purpose {
        println!("  differs on purpose: {d}");
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert!(images >= 40, "only {images} images");
}

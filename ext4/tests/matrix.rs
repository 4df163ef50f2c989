//! The clean matrix: filesystems made by mke2fs over its option space
//! (imgcheck_testdata::ext4gen::matrix), each verified clean by
//! `e2fsck -fn`, must give no finding above info at the full depth.
//!
//! The suite runs a sample spread over the matrix; the whole matrix (≥ 300
//! filesystems) is `testdata/scripts/ext4-matrix.sh`, which runs the
//! ignored test below. Without e2fsprogs both say so and pass.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

mod common;

use imgcheck_core::{BytesReader, Severity};
use imgcheck_ext4::check;
use imgcheck_testdata::ext4gen::{matrix, tools};
use std::sync::Mutex;

/// The matrix's seed: the same filesystems on every run.
const SEED: u64 = 0x6d61_7472_6978;
/// Filesystems in the whole matrix.
const FULL: usize = 330;

struct Outcome {
    label: String,
    result: Result<Vec<String>, String>,
    repaired: Option<(Vec<String>, Vec<String>)>,
}

fn above_info(img: Vec<u8>) -> Vec<String> {
    let r = check(&BytesReader::new(img), &common::full());
    // An extent tree e2fsck would offer to optimise is a problem line of
    // e2fsck's, which a clean member has none of.
    r.findings
        .iter()
        .filter(|f| f.severity > Severity::Info || f.code == "ext4.extent.could_optimise")
        .map(|f| format!("{} {}: {}", f.severity, f.code, f.message))
        .collect()
}

fn run(specs: &[matrix::Spec]) -> (usize, usize) {
    let dir = imgcheck_testdata::ext4gen::scratch();
    let next = Mutex::new(0usize);
    let outcomes = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap();
                        let i = *n;
                        *n += 1;
                        i
                    };
                    let Some(spec) = specs.get(i) else { break };
                    let sub = dir.path().join(&spec.name);
                    std::fs::create_dir_all(&sub).unwrap();
                    let o = match matrix::build(spec, &sub) {
                        Err(e) => Outcome {
                            label: spec.label(),
                            result: Err(e.why),
                            repaired: None,
                        },
                        Ok(b) if !b.verdict.clean() => Outcome {
                            label: spec.label(),
                            result: Err(format!(
                                "not clean to e2fsck -fn even after -fy: {:?}",
                                b.verdict.problems
                            )),
                            repaired: None,
                        },
                        Ok(b) => {
                            let ours = above_info(std::fs::read(&b.path).unwrap());
                            let repaired = b.before.as_ref().map(|p| {
                                (
                                    b.first.problems.clone(),
                                    above_info(std::fs::read(p).unwrap()),
                                )
                            });
                            Outcome {
                                label: spec.label(),
                                result: Ok(ours),
                                repaired,
                            }
                        }
                    };
                    let _ = std::fs::remove_dir_all(&sub);
                    outcomes.lock().unwrap().push(o);
                }
            });
        }
    });
    let outcomes = outcomes.into_inner().unwrap();
    let (mut clean, mut alarms, mut refused, mut repaired, mut repaired_missed) = (0, 0, 0, 0, 0);
    for o in &outcomes {
        match &o.result {
            Err(why) => {
                refused += 1;
                println!(
                    "  not made: {} -- {}",
                    o.label,
                    why.lines().last().unwrap_or("")
                );
            }
            Ok(f) if f.is_empty() => clean += 1,
            Ok(f) => {
                alarms += 1;
                println!("  FALSE ALARM on {}:", o.label);
                for l in f.iter().take(6) {
                    println!("      {l}");
                }
            }
        }
        if let Some((e2, ours)) = &o.repaired {
            repaired += 1;
            if ours.is_empty() {
                repaired_missed += 1;
            }
            println!(
                "  repaired by e2fsck -fy after mkfs: {} -- e2fsck said {:?}; we said {:?}",
                o.label, e2, ours
            );
        }
    }
    println!(
        "clean matrix: {} filesystems made and clean to e2fsck -fn, {alarms} with findings above info \
         ({clean} quiet); {refused} specs mke2fs refused or left unclean; {repaired} needed e2fsck -fy \
         after mkfs ({repaired_missed} of those we did not flag before the repair)",
        clean + alarms
    );
    (clean + alarms, alarms)
}

#[test]
fn clean_matrix_sample() {
    if !tools::have_e2fsprogs() {
        println!("skipped: e2fsprogs (mkfs.ext4, debugfs, dumpe2fs, e2fsck) not installed");
        return;
    }
    let all = matrix::specs(FULL, SEED);
    // Spread over the fixed part and the random part alike.
    let sample: Vec<matrix::Spec> = all.iter().step_by(22).cloned().collect();
    let (made, alarms) = run(&sample);
    assert!(made >= sample.len() * 3 / 4, "too few filesystems made");
    assert_eq!(alarms, 0, "findings above info on clean filesystems");
}

#[test]
#[ignore = "the whole matrix, minutes; testdata/scripts/ext4-matrix.sh"]
fn clean_matrix_full() {
    if !tools::have_e2fsprogs() {
        println!("skipped: e2fsprogs not installed");
        return;
    }
    let n = std::env::var("MATRIX_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(FULL);
    let only = std::env::var("MATRIX_ONLY").ok();
    let specs: Vec<matrix::Spec> = matrix::specs(n, SEED)
        .into_iter()
        .filter(|s| only.as_ref().is_none_or(|o| s.name == *o))
        .collect();
    let (made, alarms) = run(&specs);
    assert!(
        made >= 300 || only.is_some() || n < 300,
        "only {made} filesystems made"
    );
    assert_eq!(alarms, 0, "findings above info on clean filesystems");
}

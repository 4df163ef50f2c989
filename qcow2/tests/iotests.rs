//! The damage of QEMU's own qcow2 iotests (060, 080, 214, 261, 271, 112,
//! 108, 138, 061, 036, 287, 289, 290, 114, 165, 244, 274, 039), rebuilt
//! with QEMU's tools and judged by QEMU in the test: every image QEMU
//! refuses to open, reports (qemu-img check, the corrupt bit, bitmaps in
//! use) or fails to read must be flagged by the qcow2 layer, every image
//! it accepts must get no finding above info, and `--qemu-compat` must
//! give qemu-img check's exit code and counters.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

mod common;
use common::iotests::{Dir, cases};
use common::qemu::{tools, verdict};
use imgcheck_core::Severity;
use imgcheck_qcow2::{CheckOptions, Image, check};
use std::collections::BTreeMap;

#[test]
fn iotests_damage_is_flagged_as_qemu_flags_it() {
    if !tools() {
        println!("skipped: qemu-img or qemu-io not found");
        return;
    }
    let mut by_test: BTreeMap<&str, (u32, u32, u32, u32)> = BTreeMap::new();
    let mut problems = Vec::new();
    let (mut total, mut agree, mut gaps) = (0u32, 0u32, 0u32);
    // QEMU's own tools take tens of seconds on these (it reads 65,536 or
    // 131,072 snapshot entries, or a 64 MiB table, per command); the
    // suite skips them, testdata/scripts/qcow2-iotests.sh runs them.
    let heavy = [
        "65536 snapshots at 16 MiB (entries past EOF)",
        "131072 all-zero v2 snapshot entries (too many)",
        "snapshot table too big (65535-byte ids and names)",
    ];
    let all = std::env::var_os("IMGCHECK_IOTESTS_ALL").is_some();
    let mut skipped = 0;
    for c in cases() {
        if !all && heavy.contains(&c.what) {
            skipped += 1;
            continue;
        }
        let started = std::time::Instant::now();
        let dir = tempfile::tempdir().unwrap();
        let mut d = Dir {
            path: dir.path(),
            log: Vec::new(),
        };
        let name = (c.build)(&mut d);
        let path = d.p(name);
        if !path.is_file() {
            problems.push(format!("{} {}: not built: {:?}", c.test, c.what, d.log));
            continue;
        }
        total += 1;
        let opened = Image::open_path(&path);
        let size = opened
            .as_ref()
            .map_or(0, |i| i.header().size.min(256 << 20));
        let v = verdict(&path, size);
        // IMGCHECK_IOTESTS_KEEP=DIR keeps each case (with its companion
        // files) for timing the whole CLI on it; MAIN names the image.
        if let Some(keep) = std::env::var_os("IMGCHECK_IOTESTS_KEEP").filter(|k| !k.is_empty()) {
            let to = std::path::Path::new(&keep).join(format!("{total:03}-{}", c.test));
            let copied = std::process::Command::new("cp")
                .arg("-a")
                .arg(dir.path())
                .arg(&to)
                .status()
                .is_ok_and(|s| s.success());
            if copied {
                std::fs::write(to.join("MAIN"), format!("{name}\n{}\n", c.what)).unwrap();
            }
        }
        // Ours: an open error is a finding of the adapter (damage, or a
        // format not checked); else the worst finding of the check.
        let (ours_flagged, rc, counts, why) = match &opened {
            Ok(img) => {
                let r = check(
                    img,
                    &CheckOptions {
                        deep: true,
                        ..CheckOptions::default()
                    },
                );
                let above: Vec<String> = r
                    .findings
                    .iter()
                    .filter(|f| f.severity > Severity::Info)
                    .take(3)
                    .map(|f| {
                        format!(
                            "{}: {}",
                            f.code,
                            f.message.chars().take(160).collect::<String>()
                        )
                    })
                    .collect();
                let q = check(
                    img,
                    &CheckOptions {
                        check_backing: false,
                        ..CheckOptions::default()
                    },
                );
                let counts = q.qemu_output("x").ok().map(|_| (q.corruptions, q.leaks));
                (
                    r.worst().is_some_and(|w| w > Severity::Info),
                    q.qemu_exit_code(),
                    counts,
                    above.join(" | "),
                )
            }
            Err(e) => (true, e.qemu_exit_code(), None, format!("open: {e}")),
        };
        let theirs = v
            .check_json
            .as_ref()
            .map(|_| (v.count("corruptions"), v.count("leaks")));
        if std::env::var_os("IMGCHECK_IOTESTS_TIMES").is_some() {
            println!(
                "{:>6.2} s  {} {}",
                started.elapsed().as_secs_f64(),
                c.test,
                c.what
            );
        }
        let entry = by_test.entry(c.test).or_default();
        entry.0 += 1;
        let label = format!("{} {}", c.test, c.what);
        if rc == v.check_rc && counts == theirs {
            agree += 1;
        } else {
            problems.push(format!(
                "COMPAT {label}: ours rc={rc} {counts:?}, qemu rc={} {theirs:?} ({})",
                v.check_rc,
                v.check_err.lines().next().unwrap_or("")
            ));
        }
        if v.flagged() {
            entry.1 += 1;
            if ours_flagged {
                entry.2 += 1;
            } else {
                problems.push(format!(
                    "MISSED {label}: qemu rc={} reads_ok={} corrupt={} in-use={} ({} {})",
                    v.check_rc,
                    v.reads_ok,
                    v.corrupt,
                    v.bitmaps_in_use,
                    v.check_err.lines().next().unwrap_or(""),
                    v.read_err
                ));
            }
        } else if let Some(reason) = c.gap {
            gaps += 1;
            if !ours_flagged {
                problems.push(format!("GAP NOT FLAGGED {label} ({reason})"));
            }
        } else {
            entry.3 += 1;
            if ours_flagged {
                problems.push(format!("FALSE ALARM {label}: {why}"));
            }
        }
    }
    println!("iotests-derived cases: {total}; --qemu-compat agrees on {agree}");
    println!("test  cases  QEMU-flagged  flagged-here  accepted-by-QEMU");
    for (t, (n, q, o, a)) in &by_test {
        println!("{t:>4}  {n:>5}  {q:>12}  {o:>12}  {a:>16}");
    }
    let (q, o): (u32, u32) = by_test.values().fold((0, 0), |a, x| (a.0 + x.1, a.1 + x.2));
    println!(
        "all   {total:>5}  {q:>12}  {o:>12}  {:>16}",
        total - q - gaps
    );
    println!("and {gaps} cases of damage QEMU does not see, flagged here");
    if skipped > 0 {
        println!("skipped {skipped} heavy cases (IMGCHECK_IOTESTS_ALL=1 runs them)");
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(total >= 100, "only {total} cases");
}

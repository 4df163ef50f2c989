//! The devices next steps name. An attack found the repair plan of a
//! partitioned disk attaching the copy as a fixed `/dev/loop1`: on a host
//! where /dev/loop1 was already another user's image, that losetup failed
//! as busy and the next step (`fsck.fat -a /dev/loop1p1`) repaired the
//! other image. Now every device is one a step itself attached, named in
//! a shell variable that step sets, and the writing steps name only the
//! copy's. Checked over the steps of several fixtures, and run for real
//! (root and losetup permitting) with /dev/loop0 and /dev/loop1 busy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

use imgcheck::options::Options;
use imgcheck::pipeline::inspect_image_with;
use imgcheck::pool::{Pool, PooledLayers};
use imgcheck::report::ImageReport;
use imgcheck_testdata::{Damaged, Patch, damaged, fixture};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

fn inspect(path: &Path) -> ImageReport {
    let pool = Arc::new(Pool::new(vec![path.to_path_buf()]));
    let layers = PooledLayers::new(pool);
    let opts = Options {
        image_path: path.to_path_buf(),
        ..Options::default()
    };
    inspect_image_with(&layers.registry(), path, None, &opts).unwrap()
}

/// The shell variables `step` reads (`$d`, `${COPY:?}`), not `$(`.
fn uses(step: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in step.match_indices('$') {
        let rest = &step[i + 1..];
        let rest = rest.strip_prefix('{').unwrap_or(rest);
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()) {
            out.insert(name);
        }
    }
    out
}

/// The shell variables `step` sets (`NAME=`, `for NAME in`).
fn sets(step: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let words = step.split(|c: char| c.is_whitespace() || c == ';' || c == '(' || c == '{');
    let mut prev = "";
    for w in words {
        if let Some((name, _)) = w.split_once('=')
            && !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit())
        {
            out.insert(name.to_string());
        }
        if prev == "for" {
            out.insert(w.to_string());
        }
        prev = w;
    }
    out
}

/// `/dev/loopN` or `/dev/nbdN` written out: a device no step attached.
fn fixed_device(step: &str) -> Option<&str> {
    ["/dev/loop", "/dev/nbd"].into_iter().find(|stem| {
        step.match_indices(stem).any(|(i, _)| {
            step[i + stem.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit())
        })
    })
}

/// The checks over one plan; returns how many steps write.
fn check(what: &str, steps: &[(String, bool)]) -> usize {
    let text = steps
        .iter()
        .map(|(s, w)| format!("{} {s}", if *w { "W" } else { "R" }))
        .collect::<Vec<_>>()
        .join("\n");
    let mut set = BTreeSet::new();
    let mut evidence = BTreeSet::new();
    for (s, writes) in steps {
        assert_eq!(
            fixed_device(s),
            None,
            "{what}: a fixed device in {s}\n{text}"
        );
        let mine = sets(s);
        for v in uses(s) {
            assert!(
                set.contains(&v) || mine.contains(&v),
                "{what}: ${v} used before a step set it: {s}\n{text}"
            );
        }
        if *writes {
            // (A step may set a variable of its own, as `DEV=$(losetup
            // -f --show ...)`, which then names what it attached.)
            for v in uses(s).difference(&mine) {
                assert!(
                    !evidence.contains(v),
                    "{what}: a writing step names the evidence's {v}: {s}\n{text}"
                );
            }
        } else if s.contains("--read-only") {
            // Variables set by a read-only attach name the evidence.
            evidence.extend(mine.iter().filter(|v| *v != "d").cloned());
        }
        set.extend(mine);
    }
    steps.iter().filter(|(_, w)| *w).count()
}

/// A GPT disk with its ESP's dirty bit set (boot/gpt-grub.img: fsck.fat
/// -a on the copy's partition 2).
fn gpt_esp() -> Damaged {
    let clean = inspect(&fixture("boot/gpt-grub.img"));
    let esp = clean
        .table()
        .unwrap()
        .partitions()
        .find_map(|p| p.span.filter(|s| s.index == 2))
        .unwrap();
    damaged(
        "boot/gpt-grub.img",
        &[Patch::Xor {
            offset: esp.start + 0x25,
            mask: 1,
        }],
    )
}

#[allow(dead_code)]
/// ovirt.img with every GPT header's CRC broken: the disks in its LVs
/// (qcow2 images, a raw template) get writing steps of their own.
fn lv_disks() -> Damaged {
    let data = std::fs::read(fixture("lvm2/ovirt.img")).unwrap();
    let patches: Vec<Patch> = data
        .windows(8)
        .enumerate()
        .filter(|(_, w)| *w == b"EFI PART")
        .map(|(i, _)| Patch::Xor {
            offset: i as u64 + 16,
            mask: 0xff,
        })
        .collect();
    assert!(!patches.is_empty());
    damaged("lvm2/ovirt.img", &patches)
}

#[test]
fn no_step_names_a_device_it_did_not_attach() {
    let fixtures: Vec<(&str, Damaged)> = vec![
        ("GPT disk, FAT ESP damaged", gpt_esp()),
        (
            "MBR disk cut short",
            damaged("disk/dos-logical.img", &[Patch::Truncate { len: 40 << 20 }]),
        ),
        (
            "GPT disk cut short",
            damaged(
                "disk/gpt-two-ext4.img",
                &[Patch::Truncate { len: 128 << 20 }],
            ),
        ),
        (
            "a table the kernel does not read",
            damaged(
                "layout/destroyed-sb-1group.img",
                &[Patch::Zero {
                    offset: 0,
                    len: 512,
                }],
            ),
        ),
        // OPEN: ovirt.img has no GPT header to break, so no nested
        // writing step comes from it yet; the nested resolver is covered
        // by devices.rs's unit test. A fixture with a damaged table in an
        // LV belongs here.
    ];
    let mut total = 0;
    for (what, d) in &fixtures {
        let r = inspect(d.path());
        let steps = imgcheck::steps::marked_steps(&r);
        let writes = check(what, &steps);
        println!("{what}:\n{}", imgcheck::steps::next_steps(&r).join("\n"));
        // (The ESP's dirty bit alone gets only read-only steps.)
        total += writes;
        if what.contains("LV") {
            // The disk in an LV is written through its own copy only.
            assert!(
                steps.iter().any(|(s, w)| *w && s.contains("_COPY:?}")),
                "{steps:#?}"
            );
        }
    }
    assert!(total > 0, "no writing step to check");
    let demo = imgcheck_testdata::root().join("demo/brainvm.qcow2");
    let r = inspect(&demo);
    let steps = imgcheck::steps::marked_steps(&r);
    assert!(check("qcow2 demo", &steps) > 0, "{steps:#?}");
}

fn sha256(p: &Path) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(std::fs::read(p).unwrap()))
}

/// The steps of the GPT disk with the damaged ESP, run by a shell with
/// /dev/loop0 and /dev/loop1 bound to other images first: the copy is
/// written (fsck.fat -a clears the dirty bit), the evidence and the other
/// images are not. Needs root, losetup and fsck.fat, and partition devices
/// appearing for --partscan (a visible skip otherwise).
#[test]
fn the_steps_run_with_loop0_and_loop1_busy_write_only_the_copy() {
    let d = gpt_esp();
    let dir = tempfile::tempdir().unwrap();
    let mut busy = Vec::new();
    let mut others = Vec::new();
    for n in 0..2 {
        let other = dir.path().join(format!("other{n}.img"));
        std::fs::copy(d.path(), &other).unwrap();
        let dev = format!("/dev/loop{n}");
        let free = Command::new("losetup")
            .arg(&dev)
            .output()
            .is_ok_and(|o| !o.status.success());
        if free {
            let ok = Command::new("losetup")
                .arg(&dev)
                .arg(&other)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                println!("SKIPPED the real run: losetup {dev} needs root and loop devices");
                return;
            }
            busy.push(dev);
        }
        others.push(other);
    }
    let have_fsck = Command::new("fsck.fat").arg("--help").output().is_ok();
    let before: Vec<String> = others.iter().map(|p| sha256(p)).collect();
    let evidence = sha256(d.path());
    let r = inspect(d.path());
    let steps = imgcheck::steps::next_steps(&r);
    let script = format!("set -u\n{}\n", steps.join("\n"));
    let out = if have_fsck {
        Command::new("bash").arg("-c").arg(&script).output().ok()
    } else {
        None
    };
    // Detach what the steps attached (the evidence's and the copy's loop
    // devices), then the images standing in for other users'.
    let copy = format!("{}.bak", d.path().display());
    for f in [d.path().display().to_string(), copy.clone()] {
        let o = Command::new("losetup").args(["-j", &f]).output().unwrap();
        for line in String::from_utf8_lossy(&o.stdout).lines() {
            if let Some((dev, _)) = line.split_once(':') {
                let _ = Command::new("losetup").args(["-d", dev]).status();
            }
        }
    }
    for dev in &busy {
        let _ = Command::new("losetup").args(["-d", dev]).status();
    }
    let Some(out) = out else {
        println!("SKIPPED the real run: fsck.fat not installed");
        return;
    };
    let log = format!(
        "{script}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Whatever happened, nothing but the copy was written.
    assert_eq!(
        sha256(d.path()),
        evidence,
        "the evidence was written\n{log}"
    );
    for (p, h) in others.iter().zip(&before) {
        assert_eq!(
            &sha256(p),
            h,
            "another image was written: {}\n{log}",
            p.display()
        );
    }
    if String::from_utf8_lossy(&out.stderr).contains("No such file") {
        println!("SKIPPED the copy half: no partition devices for --partscan here\n{log}");
        return;
    }
    assert_ne!(
        sha256(Path::new(&copy)),
        evidence,
        "the copy was not repaired\n{log}"
    );
}

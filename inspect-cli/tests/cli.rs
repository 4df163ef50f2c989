//! The CLI contract, end to end, on fixtures made by real tools
//! (testdata/scripts/disk.sh): verdicts, JSON shape, exit codes, read-only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(missing_docs)]

use imgcheck_testdata::fixture;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn imgcheck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_imgcheck"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("run imgcheck")
}

fn json_of(path: &Path) -> (Value, i32) {
    let out = imgcheck(&["--json", path.to_str().unwrap()]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let v: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "not one JSON object ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out.status.code().unwrap())
}

fn summary(v: &Value) -> String {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{} {} {}", f["severity"], f["code"], f["message"]))
        .collect::<Vec<_>>()
        .join("\n")
}

fn assert_contract(v: &Value) {
    for key in [
        "schema",
        "image",
        "format",
        "virtual_size",
        "verdict",
        "findings",
        "layers",
        "counters",
    ] {
        assert!(v.get(key).is_some(), "missing key {key}");
    }
    assert_eq!(v["schema"], imgcheck::json::SCHEMA_VERSION);
    for f in v["findings"].as_array().unwrap() {
        for key in [
            "code", "layer", "severity", "offset", "space", "message", "hint",
        ] {
            assert!(f.get(key).is_some(), "finding without {key}: {f}");
        }
        let code = f["code"].as_str().unwrap();
        assert!(
            code.starts_with(f["layer"].as_str().unwrap()),
            "code {code} not layer-first"
        );
    }
    for c in ["errors", "warnings", "info"] {
        assert!(v["counters"][c].is_u64(), "counter {c} missing");
    }
}

#[test]
fn clean_gpt_disk_with_two_ext4_partitions() {
    let (v, code) = json_of(&fixture("disk/gpt-two-ext4.img"));
    assert_contract(&v);
    assert_eq!(v["verdict"], "clean", "{}", summary(&v));
    assert_eq!(code, 0);
    assert_eq!(v["format"], "raw");
    assert_eq!(v["virtual_size"], 64 << 20);
    assert_eq!(v["layers"]["partition_table"]["kind"], "gpt");
    let parts = v["layers"]["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    for p in parts {
        assert_eq!(p["filesystem"]["kind"], "ext4", "{p}");
    }
}

#[test]
fn same_disk_as_qcow2() {
    let (v, code) = json_of(&fixture("disk/gpt-two-ext4.qcow2"));
    assert_contract(&v);
    assert_eq!(v["verdict"], "clean", "{}", summary(&v));
    assert_eq!(code, 0);
    assert_eq!(v["format"], "qcow2");
    assert_eq!(v["virtual_size"], 64 << 20);
    assert_eq!(v["layers"]["container"]["kind"], "qcow2");
    assert_eq!(v["layers"]["partition_table"]["kind"], "gpt");
    let parts = v["layers"]["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    assert!(parts.iter().all(|p| p["filesystem"]["kind"] == "ext4"));
}

#[test]
fn dos_disk_with_logical_partition() {
    let (v, code) = json_of(&fixture("disk/dos-logical.img"));
    assert_contract(&v);
    assert_eq!(v["verdict"], "clean", "{}", summary(&v));
    assert_eq!(code, 0);
    assert_eq!(v["layers"]["partition_table"]["kind"], "mbr");
    let parts = v["layers"]["partitions"].as_array().unwrap();
    let logical = parts
        .iter()
        .find(|p| p["index"] == 5)
        .unwrap_or_else(|| panic!("no partition 5 in {parts:?}"));
    assert_eq!(logical["filesystem"]["kind"], "ext4");
}

#[test]
fn whole_disk_filesystem_without_a_table() {
    let (v, code) = json_of(&fixture("disk/whole-disk-ext4.img"));
    assert_contract(&v);
    assert_eq!(v["verdict"], "clean", "{}", summary(&v));
    assert_eq!(code, 0);
    assert_eq!(v["layers"]["filesystem"]["kind"], "ext4");
}

#[test]
fn random_bytes_are_not_clean() {
    let (v, code) = json_of(&fixture("disk/random.img"));
    assert_contract(&v);
    assert_ne!(v["verdict"], "clean", "{}", summary(&v));
    assert!(code == 1 || code == 4, "exit {code}");
    let codes: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"layout.unrecognized"), "{codes:?}");
}

#[test]
fn missing_file_is_an_operational_error() {
    let out = imgcheck(&["--json", "/nonexistent/disk.img"]);
    assert_eq!(out.status.code(), Some(8));
    // One JSON object per image given, a failed one too (issue 14), so a
    // fleet's JSON Lines have one line per image.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    let v: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["verdict"], "error");
    assert_eq!(v["error"]["kind"], "missing");
    assert_eq!(v["image"], "/nonexistent/disk.img");
    // The path once, on stderr.
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("/nonexistent/disk.img").count(), 1, "{err}");
}

#[test]
fn usage_errors_exit_16_and_help_exits_0() {
    assert_eq!(imgcheck(&[]).status.code(), Some(16));
    assert_eq!(imgcheck(&["--no-such-flag", "x"]).status.code(), Some(16));
    assert_eq!(imgcheck(&["--format", "vmdk", "x"]).status.code(), Some(16));
    let help = imgcheck(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("Exit status"));
}

#[test]
fn exit_status_ors_across_images() {
    let clean = fixture("disk/gpt-two-ext4.img");
    let random = fixture("disk/random.img");
    let out = imgcheck(&[
        clean.to_str().unwrap(),
        random.to_str().unwrap(),
        "/nonexistent",
    ]);
    let code = out.status.code().unwrap();
    assert_eq!(code & 8, 8, "missing file sets bit 8");
    assert_ne!(code & 5, 0, "random image sets a finding bit");
    let jl = imgcheck(&["--json", clean.to_str().unwrap(), random.to_str().unwrap()]);
    let lines: Vec<&str> = std::str::from_utf8(&jl.stdout).unwrap().lines().collect();
    assert_eq!(lines.len(), 2, "one JSON object per image");
    for l in lines {
        serde_json::from_str::<Value>(l).unwrap();
    }
}

#[test]
fn format_override_reads_a_qcow2_as_raw() {
    let q = fixture("disk/gpt-two-ext4.qcow2");
    let out = imgcheck(&["--json", "--format", "raw", q.to_str().unwrap()]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["format"], "raw");
    assert_ne!(
        v["verdict"], "clean",
        "qcow2 bytes read as a raw disk hold no table"
    );
}

#[test]
fn colour_follows_flag_and_no_color() {
    let p = fixture("disk/random.img");
    let p = p.to_str().unwrap();
    let always = imgcheck(&["--color", "always", p]);
    assert!(always.stdout.contains(&0x1b), "--color always colours");
    let never = imgcheck(&["--color", "never", p]);
    assert!(!never.stdout.contains(&0x1b));
    let piped = imgcheck(&[p]);
    assert!(!piped.stdout.contains(&0x1b), "auto: a pipe gets no colour");
    let no_color = Command::new(env!("CARGO_BIN_EXE_imgcheck"))
        .arg(p)
        .env("NO_COLOR", "1")
        .env("CLICOLOR_FORCE", "1")
        .output()
        .unwrap();
    assert!(!no_color.stdout.contains(&0x1b), "NO_COLOR wins over auto");
}

#[test]
fn never_writes_to_any_fixture() {
    // Every committed fixture, copied with its siblings (backing files,
    // data files) into one directory, checked at --deep: bytes and mtimes
    // must not move.
    let dir = tempfile::tempdir().unwrap();
    let mut names = Vec::new();
    for layer in ["disk", "qcow2", "gpt", "ext4"] {
        names.extend(imgcheck_testdata::list(layer));
    }
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    let mut before = Vec::new();
    for name in &names {
        let p = dir.path().join(Path::new(name).file_name().unwrap());
        std::fs::copy(fixture(name), &p).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(old)
            .unwrap();
        before.push((p.clone(), std::fs::read(&p).unwrap()));
    }
    let paths: Vec<&str> = before.iter().map(|(p, _)| p.to_str().unwrap()).collect();
    let mut args = vec!["--deep", "--json", "--jobs", "2"];
    args.extend(paths.iter().copied());
    let out = imgcheck(&args);
    assert!(
        out.status.code().unwrap() < 16,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (p, bytes) in &before {
        assert!(
            std::fs::read(p).unwrap() == *bytes,
            "{}: bytes changed",
            p.display()
        );
        assert_eq!(
            std::fs::metadata(p).unwrap().modified().unwrap(),
            old,
            "{}: mtime changed",
            p.display()
        );
    }
    println!("{} fixtures unchanged", before.len());
}

#[test]
fn works_on_an_image_qemu_io_holds_open() {
    use std::io::Write;
    if Command::new("qemu-io").arg("--version").output().is_err() {
        println!("skipped: qemu-io not found");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("live.qcow2");
    std::fs::copy(fixture("disk/gpt-two-ext4.qcow2"), &p).unwrap();
    // qemu-io opens the image read-write and takes QEMU's image locks, as a
    // running VM would; it stays open while its stdin does.
    let mut live = Command::new("qemu-io")
        .args(["-f", "qcow2", p.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdin = live.stdin.as_mut().unwrap();
    stdin.write_all(b"read 0 512\n").unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        live.try_wait().unwrap().is_none(),
        "qemu-io should still hold the image"
    );
    let (v, code) = json_of(&p);
    let _ = live.stdin.take();
    let _ = live.wait();
    assert_eq!(v["verdict"], "clean", "{}", summary(&v));
    assert_eq!(code, 0);
}

#[test]
fn all_snapshots_selects_each_by_its_id() {
    // Snapshot 2 is named "1", snapshot 1's id: each report is its own
    // snapshot, named IMAGE@id:name (qemu-img snapshot -l of the fixture
    // lists "1 first" and "2 1").
    let img = fixture("qcow2/snap-ambiguous.qcow2");
    let out = imgcheck(&["--json", "--all-snapshots", img.to_str().unwrap()]);
    let lines: Vec<Value> = std::str::from_utf8(&out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = lines.iter().map(|l| l["image"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names[1].ends_with("@1:first"), "{names:?}");
    assert!(names[2].ends_with("@2:1"), "{names:?}");
    // Asked by "1", the id wins, and the report says "1" also names
    // snapshot 2.
    let out = imgcheck(&["--json", "--snapshot", "1", img.to_str().unwrap()]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["image"].as_str().unwrap().ends_with("@1:first"));
    assert!(
        summary(&v).contains("qcow2.snapshot.ambiguous"),
        "{}",
        summary(&v)
    );
}

#[test]
fn a_header_qemu_refuses_is_damage_with_one_json_answer() {
    // cluster_bits 40 (offset 20): qemu-img refuses to open the image.
    let d = imgcheck_testdata::damaged(
        "disk/gpt-two-ext4.qcow2",
        &[imgcheck_testdata::Patch::Bytes {
            offset: 20,
            bytes: 40u32.to_be_bytes().to_vec(),
        }],
    );
    let (v, code) = json_of(d.path());
    assert_eq!(code, 4, "{}", summary(&v));
    assert_contract(&v);
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "qcow2.header.invalid")
        .unwrap_or_else(|| panic!("{}", summary(&v)));
    assert_eq!(f["offset"], 20);
    // --qemu-compat: no JSON and qemu-img check's exit code, computed
    // here when qemu-img is installed.
    let ours = imgcheck(&["--qemu-compat", d.path().to_str().unwrap()]);
    assert!(ours.stdout.is_empty());
    match Command::new("qemu-img")
        .args(["check", "--output=json", d.path().to_str().unwrap()])
        .output()
    {
        Ok(q) => {
            assert_eq!(ours.status.code(), q.status.code());
            assert!(q.stdout.is_empty());
            // The same reason, in qemu-img's words.
            let why = |o: &[u8]| {
                let t = String::from_utf8_lossy(o).into_owned();
                t.split_once("Could not open ")
                    .map(|(_, r)| r.trim().to_string())
                    .unwrap_or(t)
            };
            assert_eq!(why(&ours.stderr), why(&q.stderr));
        }
        Err(_) => {
            println!("skipped: qemu-img not found; expecting its documented exit 1");
            assert_eq!(ours.status.code(), Some(1));
        }
    }
}

/// Issue 12: the full check shows its progress on stderr when stderr is a
/// terminal (`script` gives the child a pseudo-terminal) and writes
/// nothing to stderr otherwise.
#[test]
fn progress_line_only_on_a_terminal() {
    let img = fixture("ext4/ext4-4k.img");
    let p = img.to_str().unwrap();
    let piped = imgcheck(&[p]);
    assert!(
        piped.stderr.is_empty(),
        "stderr not a terminal, yet: {:?}",
        String::from_utf8_lossy(&piped.stderr)
    );
    if Command::new("script").arg("--version").output().is_err() {
        println!("SKIPPED the terminal half: util-linux script is not installed");
        return;
    }
    let cmd = format!(
        "{} --color never {p} </dev/null",
        env!("CARGO_BIN_EXE_imgcheck")
    );
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .unwrap();
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(
        tty.contains("\r\x1b[Kimgcheck: pass 1: inodes "),
        "no progress line on the terminal: {tty:?}"
    );
    // Cleared before the report: the report's first line follows the erase.
    let report = String::from_utf8_lossy(&piped.stdout);
    let first = report.lines().next().unwrap();
    assert!(tty.contains(&format!("\r\x1b[K{first}")), "{tty:?}");
}

/// In a directory, a text file is skipped (notes, checksums, logs) but a
/// disk whose first 4 KiB were overwritten by text (a log redirected onto
/// it) is still an image: it is binary further on. sgdisk + mkfs.ext4's
/// two-partition disk with its head replaced by log lines, beside a notes
/// file and a 100 KiB log with multi-byte characters, which stay skipped.
#[test]
fn a_disk_whose_head_is_text_is_still_checked_in_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mut disk = std::fs::read(fixture("disk/gpt-two-ext4.img")).unwrap();
    let log: Vec<u8> = (0..)
        .flat_map(|i| {
            format!("Dec  3 10:{:02} host app[42]: request {i} done\n", i % 60).into_bytes()
        })
        .take(4096)
        .collect();
    disk.splice(0..4096, log);
    std::fs::write(dir.path().join("vm.img"), &disk).unwrap();
    std::fs::write(
        dir.path().join("NOTES.txt"),
        "backups of vm, daily\n".repeat(500),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("app.log"),
        "requête traitée — ok\n".repeat(5000),
    )
    .unwrap();
    let items = imgcheck::batch::expand(&[dir.path().to_path_buf()]);
    let names: Vec<String> = items
        .iter()
        .filter_map(|i| i.path.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    assert_eq!(names, vec!["vm.img".to_string()]);
}

//! The hostile corpus (issue 14): real fixtures edited at exact offsets by
//! testdata/scripts/hostile.py, and inputs that are not images at all (a
//! FIFO, a socket, a character device, an empty directory). The fixed
//! sample here is run through the binary, each case in a child process
//! under RLIMIT_AS and RLIMIT_CPU (set by the script before exec), and
//! judged on what it answered, not how fast: it ended by itself within
//! the limits, exited with a code the case allows, and printed exactly one
//! valid JSON object per image. The whole corpus is for the script:
//!   testdata/scripts/hostile.py gen /tmp/hostile
//!   testdata/scripts/hostile.py run /tmp/hostile target/release/imgcheck
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn have(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn hostile_sample_is_bounded_with_one_json_answer_each() {
    if !have("python3", "--version") || !have("zstd", "--version") {
        println!("SKIPPED hostile corpus: python3 and zstd are needed to build it");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = root.join("testdata/scripts/hostile.py");
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases");
    let made = Command::new("python3")
        .arg(&script)
        .args(["gen", cases.to_str().unwrap(), "--sample"])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let report = dir.path().join("report.json");
    let run = Command::new("python3")
        .arg(&script)
        .args([
            "run",
            cases.to_str().unwrap(),
            env!("CARGO_BIN_EXE_imgcheck"),
            "--report",
            report.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&run.stdout);
    println!("{table}");
    let v: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let results = v["results"].as_array().unwrap();
    assert!(results.len() >= 30, "the sample shrank: {}", results.len());
    let bad: Vec<String> = results
        .iter()
        .filter(|r| !r["problems"].as_array().unwrap().is_empty())
        .map(|r| format!("{}: {} ({})", r["name"], r["problems"], r["stderr"]))
        .collect();
    assert!(
        bad.is_empty(),
        "{} cases failed:\n{}",
        bad.len(),
        bad.join("\n")
    );
    let s = &v["summary"];
    assert_eq!(s["hangs"], 0);
    assert_eq!(s["over_memory"], 0);
    assert_eq!(s["missing_json"], 0);
}

/// `imgcheck --json PATH` run in `dir`: exit code and the JSON objects.
fn run_json(dir: &Path, path: &str) -> (i32, Vec<Value>) {
    let o = Command::new(env!("CARGO_BIN_EXE_imgcheck"))
        .args(["--json", path])
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let objs = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (o.status.code().unwrap_or(-1), objs)
}

fn has_finding(v: &Value, code: &str, offset: u64) -> bool {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["code"] == code && f["offset"] == offset)
}

/// Issue 14's table, one row per input kind: the exit code and the one
/// JSON object each gets (a fatal kind as `verdict: error` with its kind).
#[test]
fn each_input_kind_gets_its_exit_code_and_one_json_object() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("empty")).unwrap();
    std::fs::write(d.join("zero.img"), b"").unwrap();
    let mut v1 = std::fs::read(imgcheck_testdata::fixture("qcow2/v3.qcow2")).unwrap();
    v1.truncate(4096);
    v1[4..8].copy_from_slice(&1u32.to_be_bytes());
    std::fs::write(d.join("v1.qcow2"), &v1).unwrap();
    let fifo = Command::new("mkfifo").arg(d.join("fifo")).status();
    let mut rows: Vec<(&str, &str, i32, &str)> = vec![
        ("missing", "nothere.img", 8, "missing"),
        ("empty directory", "empty", 8, "no_images"),
        ("0-byte file", "zero.img", 4, "damaged"),
        ("QCOW version 1", "v1.qcow2", 1, "warning"),
    ];
    if fifo.is_ok_and(|s| s.success()) {
        rows.push(("FIFO", "fifo", 8, "not_a_file"));
    } else {
        println!("SKIPPED the FIFO row: mkfifo failed");
    }
    for (kind, path, code, what) in rows {
        let (rc, objs) = run_json(d, path);
        assert_eq!(rc, code, "{kind}: {objs:?}");
        assert_eq!(objs.len(), 1, "{kind}: one JSON object");
        let o = &objs[0];
        if code == 8 {
            assert_eq!(o["verdict"], "error", "{kind}");
            assert_eq!(o["error"]["kind"], what, "{kind}");
        } else {
            assert_eq!(o["verdict"], what, "{kind}");
        }
    }
    let (_, objs) = run_json(d, "zero.img");
    assert!(has_finding(&objs[0], "layout.empty", 0), "{objs:?}");
    let (_, objs) = run_json(d, "v1.qcow2");
    assert!(
        has_finding(&objs[0], "qcow2.header.version_1", 4),
        "{objs:?}"
    );
    // Named as qemu-img info names it, with the size its header records
    // (the public sleuthkit image was "qcow2, disk 0 bytes").
    assert_eq!(objs[0]["format"], "qcow", "{objs:?}");
    assert_eq!(objs[0]["virtual_size"], 4u64 << 20, "{objs:?}");

    // A block device: a read-only loop device over a GPT disk, which
    // the check reads as it reads the file (and detaches after).
    let img = d.join("disk.img");
    std::fs::copy(imgcheck_testdata::fixture("gpt/gpt-512.img"), &img).unwrap();
    let (file_rc, file_objs) = run_json(d, "disk.img");
    let attach = Command::new("losetup")
        .args(["--find", "--show", "--read-only"])
        .arg(&img)
        .output();
    let dev = match attach {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        _ => {
            println!("SKIPPED the block device row: losetup needs root and loop devices");
            return;
        }
    };
    let (rc, objs) = run_json(d, &dev);
    let detached = Command::new("losetup").args(["-d", &dev]).status();
    assert!(detached.is_ok_and(|s| s.success()), "detach {dev}");
    assert_eq!(objs.len(), 1, "{objs:?}");
    assert_eq!(rc, file_rc, "block device {dev} judged as its file");
    assert_eq!(objs[0]["verdict"], file_objs[0]["verdict"]);
    assert_eq!(objs[0]["file_size"], file_objs[0]["file_size"]);
}

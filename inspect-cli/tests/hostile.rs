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

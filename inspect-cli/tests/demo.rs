//! The demo image's report, pinned: it must tell the outage's story
//! (testdata/scripts/demo.sh), and the README must show what the binary
//! prints now.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(missing_docs)]

use std::path::PathBuf;
use std::process::{Command, Output};

const DEMO: &str = "testdata/demo/brainvm.qcow2";

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The host's free space is pinned (plenty of room) so the report is the
/// image's alone: it once failed CI at 4.7 % free.
const ROOMY: &str = "--host-room=64G/128G";

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_imgcheck"))
        .arg(ROOMY)
        .args(args)
        .current_dir(workspace())
        .env_remove("NO_COLOR")
        .output()
        .unwrap()
}

#[test]
fn demo_text_report() {
    let out = run(&["--color", "never", DEMO]);
    assert_eq!(out.status.code(), Some(4), "the demo is damaged");
    insta::assert_snapshot!(String::from_utf8(out.stdout).unwrap());
}

#[test]
fn demo_json_report() {
    let out = run(&["--json", DEMO]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    insta::assert_json_snapshot!(v);
}

#[test]
fn demo_tells_the_story() {
    let out = run(&["--json", DEMO]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect();
    let has = |prefix: &str| codes.iter().any(|c| c.starts_with(prefix));
    assert_eq!(v["verdict"], "damaged");
    assert!(
        has("gpt.backup_header.not_at_end"),
        "the unmoved GPT: {codes:?}"
    );
    assert!(
        has("layout.size_chain.grown"),
        "the resize, told across layers: {codes:?}"
    );
    assert!(has("ext4.journal.needs_recovery"), "the crash: {codes:?}");
    assert!(
        has("ext4.kernel_errors"),
        "the kernel's error records: {codes:?}"
    );
    assert!(has("ext4."), "the crashed root filesystem: {codes:?}");
    let timeline = v["timeline"].as_array().unwrap();
    assert!(
        timeline
            .iter()
            .any(|e| { format!("{} {}", e["source"], e["what"]).contains("pre-resize") }),
        "the snapshot date is on the timeline: {timeline:?}"
    );
    assert!(!v["next_steps"].as_array().unwrap().is_empty());
}

/// The host check itself, at pinned figures: nearly full is said (info),
/// no room moves the copy elsewhere, and plenty says nothing.
#[test]
fn demo_host_room_is_pinned() {
    let host = |room: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_imgcheck"))
            .args([room, "--json", DEMO])
            .current_dir(workspace())
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let codes: Vec<String> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["code"].as_str())
            .filter(|c| c.starts_with("layout.host."))
            .map(str::to_string)
            .collect();
        (codes, v["next_steps"].to_string())
    };
    assert_eq!(host(ROOMY).0, Vec::<String>::new());
    assert_eq!(host("--host-room=off").0, Vec::<String>::new());
    assert_eq!(host("--host-room=4G/100G").0, ["layout.host.nearly_full"]);
    let (codes, steps) = host("--host-room=1K/100G");
    assert_eq!(codes, ["layout.host.no_room_for_copy"]);
    assert!(
        !steps.contains("{image}.bak") && !steps.contains("brainvm.qcow2.bak"),
        "no copy beside the image when there is no room: {steps}"
    );
}

/// The README's sample output is what the binary prints now. Run with
/// `UPDATE_README=1` to rewrite it after an intended change.
#[test]
fn readme_sample_output_is_current() {
    let out = run(&["--color", "never", DEMO]);
    let actual = String::from_utf8(out.stdout).unwrap();
    let readme_path = workspace().join("README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let begin = readme
        .find("<!-- sample-output:begin")
        .expect("begin marker");
    let block_start = readme[begin..].find("```text\n").unwrap() + begin + "```text\n".len();
    let block_end = readme[block_start..]
        .find("```\n<!-- sample-output:end")
        .unwrap()
        + block_start;
    let shown = &readme[block_start..block_end];
    let expected = format!("$ imgcheck {DEMO}\n{actual}");
    if shown != expected {
        if std::env::var_os("UPDATE_README").is_some() {
            let new = format!(
                "{}{}{}",
                &readme[..block_start],
                expected,
                &readme[block_end..]
            );
            std::fs::write(&readme_path, new).unwrap();
        } else {
            panic!(
                "README sample output is stale; rerun with UPDATE_README=1.\n--- README\n{shown}\n--- now\n{expected}"
            );
        }
    }
}

/// Every writing hint shown beside its finding (text and JSON) targets
/// the copy the next steps make and attach writable (`${NBDCOPY:?}`),
/// never the evidence's read-only device (`${NBD:?}`) or the image file.
/// Before, a finding's `sgdisk -e ${NBD:?}` wrote to the evidence while
/// the next steps said the copy (an attack's F14).
#[test]
fn writing_hints_beside_findings_name_the_copy() {
    let out = run(&["--json", DEMO]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut writing = 0;
    for f in v["findings"].as_array().unwrap() {
        let a = &f["action"];
        if a["writes"] != true {
            continue;
        }
        writing += 1;
        let c = a["command"].as_str().unwrap_or_default();
        assert!(
            !c.contains("${NBD:?}") && c.contains("${NBDCOPY:?}"),
            "{}: {c}",
            f["code"]
        );
        assert!(
            f["hint"].as_str().unwrap().contains("${NBDCOPY:?}"),
            "{}",
            f["hint"]
        );
    }
    assert!(writing >= 3, "the demo's GPT and layout findings write");
    let text = String::from_utf8(run(&["--color", "never", DEMO]).stdout).unwrap();
    for l in text
        .lines()
        .filter(|l| l.trim_start().starts_with("hint: "))
    {
        let writes = ["sgdisk -e", "growpart", "resize2fs"]
            .iter()
            .any(|w| l.contains(w));
        assert!(
            !writes || (!l.contains("${NBD:?}") && l.contains("${NBDCOPY:?}")),
            "{l}"
        );
    }
}

//! Shared helpers for the integration tests.
#![allow(dead_code)]

pub mod damage;
pub mod iotests;
pub mod matrix;
pub mod qemu;

use imgcheck_testdata::{copy_into_tempdir, fixture};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether qemu-img can be run.
pub fn qemu_img() -> bool {
    Command::new("qemu-img")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Files that must sit beside a fixture.
pub fn companions(name: &str) -> Vec<&'static str> {
    match name {
        "chain-top.qcow2" => vec!["chain-mid.qcow2", "chain-base.qcow2"],
        "chain-mid.qcow2" => vec!["chain-base.qcow2"],
        "raw-over.qcow2" => vec!["raw-base.raw"],
        "datafile.qcow2" => vec!["datafile.data"],
        "rawdata.qcow2" => vec!["rawdata.data"],
        "extl2-over.qcow2" => vec!["chain-base.qcow2"],
        _ => vec![],
    }
}

/// Every qcow2 fixture name (without directory).
pub fn qcow2_fixtures() -> Vec<String> {
    imgcheck_testdata::list("qcow2")
        .into_iter()
        .filter_map(|n| n.strip_prefix("qcow2/").map(str::to_string))
        .filter(|n| n.ends_with(".qcow2"))
        .collect()
}

/// A private copy of fixture `name` with its companions, optionally
/// patched: returns the temp dir (keep it alive) and the image path.
/// Keeps a temporary directory alive until dropped.
pub struct Keep(#[allow(dead_code)] Box<dyn std::any::Any>);

/// (The first value is the temporary directory: keep it alive.)
pub fn prepare(name: &str, patch: impl FnOnce(&mut Vec<u8>)) -> (Keep, PathBuf) {
    let mut files: Vec<PathBuf> = vec![fixture(&format!("qcow2/{name}"))];
    for c in companions(name) {
        files.push(fixture(&format!("qcow2/{c}")));
    }
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let (dir, paths) = copy_into_tempdir(&refs);
    let p = paths[0].clone();
    let mut bytes = std::fs::read(&p).unwrap();
    patch(&mut bytes);
    std::fs::write(&p, &bytes).unwrap();
    (Keep(Box::new(dir)), p)
}

/// qemu-img check --output=json: (corruptions, leaks, check-errors, exit code).
pub fn qemu_check(path: &Path) -> (u64, u64, u64, i32, String) {
    qemu_check_as(path, true)
}

/// qemu-img check, with the format forced to qcow2 or probed (a broken
/// magic is then probed as raw: exit 63).
pub fn qemu_check_as(path: &Path, force_qcow2: bool) -> (u64, u64, u64, i32, String) {
    let mut cmd = Command::new("qemu-img");
    cmd.args(["check", "--output=json"]);
    if force_qcow2 {
        cmd.args(["-f", "qcow2"]);
    }
    let o = cmd
        .arg(path)
        .current_dir(path.parent().unwrap())
        .output()
        .unwrap();
    let rc = o.status.code().unwrap_or(-1);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    let g = |k: &str| v.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
    (
        g("corruptions"),
        g("leaks"),
        g("check-errors"),
        rc,
        format!("{text}{}", String::from_utf8_lossy(&o.stderr)),
    )
}

/// qemu-img check --output=json's object (Null when it printed none).
pub fn qemu_check_json(path: &Path, force_qcow2: bool) -> serde_json::Value {
    let mut cmd = Command::new("qemu-img");
    cmd.args(["check", "--output=json"]);
    if force_qcow2 {
        cmd.args(["-f", "qcow2"]);
    }
    let o = cmd
        .arg(path)
        .current_dir(path.parent().unwrap())
        .output()
        .unwrap();
    serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null)
}

/// qemu-img convert -O raw (of the snapshot with this id when given).
pub fn qemu_raw(path: &Path, snapshot: Option<&str>) -> Vec<u8> {
    let out = tempfile::NamedTempFile::new().unwrap();
    let out_path = out.path().to_path_buf();
    let mut cmd = Command::new("qemu-img");
    cmd.arg("convert");
    if let Some(s) = snapshot {
        cmd.arg("-l").arg(format!("snapshot.id={s}"));
    }
    // QEMU resolves a relative data file name against the working directory.
    cmd.current_dir(path.parent().unwrap());
    let st = cmd
        .args(["-f", "qcow2", "-O", "raw"])
        .arg(path)
        .arg(&out_path)
        .status()
        .unwrap();
    assert!(
        st.success(),
        "qemu-img convert failed on {}",
        path.display()
    );
    std::fs::read(&out_path).unwrap()
}

/// Big-endian u64 at `at`.
pub fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}

//! Running QEMU's tools on a scratch image and reading their verdicts:
//! what `qemu-img check` counts (or that it stops), whether `qemu-io`
//! opens the image and reads every guest byte, what `qemu-img info` says
//! (corrupt bit, bitmaps in use), and the guest bytes `qemu-img convert`
//! produces. The image is only ever opened read-only for a verdict.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs `prog args…` in `dir`; the output, or `None` when it cannot run.
pub fn run(dir: &Path, prog: &str, args: &[&str]) -> Option<Output> {
    Command::new(prog)
        .args(args)
        .current_dir(dir)
        .env("LC_ALL", "C")
        .output()
        .ok()
}

/// Whether qemu-img and qemu-io can both be run.
pub fn tools() -> bool {
    ["qemu-img", "qemu-io"].iter().all(|p| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// What QEMU says about an image.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    /// `qemu-img check` (format probed, as `--qemu-compat`): exit code.
    pub check_rc: i32,
    /// Its JSON object, when it printed one.
    pub check_json: Option<serde_json::Value>,
    /// Its stderr (the reasons).
    pub check_err: String,
    /// `qemu-io -r` opened the image and read every guest byte.
    pub reads_ok: bool,
    /// What qemu-io said when it did not (or on stderr).
    pub read_err: String,
    /// `qemu-img info`: the corrupt bit.
    pub corrupt: bool,
    /// `qemu-img info`: bitmaps flagged in use.
    pub bitmaps_in_use: bool,
    /// QEMU printed a corruption event ("Marking image as corrupt" or
    /// "Image is corrupt") while reading.
    pub corruption_event: bool,
}

impl Verdict {
    /// QEMU refuses the image, reports damage, or fails to read it.
    pub fn flagged(&self) -> bool {
        self.check_rc != 0
            || !self.reads_ok
            || self.corrupt
            || self.bitmaps_in_use
            || self.corruption_event
    }

    /// A counter of qemu-img check's JSON (0 when absent).
    pub fn count(&self, key: &str) -> u64 {
        self.check_json
            .as_ref()
            .and_then(|v| v.get(key))
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    }
}

/// Computes QEMU's verdict on `img` (probing its format like qemu-img's
/// default, and forcing qcow2 for the reads).
pub fn verdict(img: &Path, virtual_size: u64) -> Verdict {
    let dir = img.parent().unwrap_or(Path::new("."));
    let name = img.to_string_lossy().into_owned();
    let mut v = Verdict::default();
    if let Some(o) = run(dir, "qemu-img", &["check", "--output=json", &name]) {
        v.check_rc = o.status.code().unwrap_or(-1);
        v.check_json = serde_json::from_slice(&o.stdout).ok();
        v.check_err = String::from_utf8_lossy(&o.stderr).into_owned();
    }
    let read = format!("read 0 {virtual_size}");
    let cmd: Vec<&str> = if virtual_size > 0 {
        vec!["-r", "-f", "qcow2", "-c", &read, &name]
    } else {
        vec!["-r", "-f", "qcow2", "-c", "info", &name]
    };
    if let Some(o) = run(dir, "qemu-io", &cmd) {
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        let all = format!("{out}{err}");
        v.reads_ok = o.status.success()
            && !all.contains("failed")
            && !all.contains("Could not open")
            && !all.contains("Input/output error");
        v.corruption_event = all.contains("corrupt");
        v.read_err = all.lines().take(3).collect::<Vec<_>>().join(" / ");
    }
    if let Some(o) = run(
        dir,
        "qemu-img",
        &["info", "-f", "qcow2", "--output=json", &name],
    ) && let Ok(j) = serde_json::from_slice::<serde_json::Value>(&o.stdout)
    {
        let data = &j["format-specific"]["data"];
        v.corrupt = data["corrupt"].as_bool().unwrap_or(false);
        v.bitmaps_in_use = data["bitmaps"].as_array().is_some_and(|a| {
            a.iter().any(|b| {
                b["flags"]
                    .as_array()
                    .is_some_and(|f| f.iter().any(|x| x == "in-use"))
            })
        });
    }
    v
}

/// `qemu-img convert -O raw` of the current disk (or of the snapshot with
/// this id): the guest bytes, or `None` when QEMU cannot produce them.
pub fn guest_bytes(img: &Path, snapshot_id: Option<&str>) -> Option<Vec<u8>> {
    let dir = img.parent()?;
    let out = dir.join(format!(
        ".raw-{}-{}",
        std::process::id(),
        snapshot_id.unwrap_or("now")
    ));
    let name = img.to_string_lossy().into_owned();
    let out_s = out.to_string_lossy().into_owned();
    let sn = snapshot_id.map(|s| format!("snapshot.id={s}"));
    let mut args = vec!["convert", "-f", "qcow2", "-O", "raw"];
    if let Some(s) = &sn {
        args.push("-l");
        args.push(s);
    }
    args.push(&name);
    args.push(&out_s);
    let o = run(dir, "qemu-img", &args)?;
    let bytes = o
        .status
        .success()
        .then(|| std::fs::read(&out).ok())
        .flatten();
    let _ = std::fs::remove_file(&out);
    bytes
}

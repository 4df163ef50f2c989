//! Findings of the check: a per-code cap, so an image with a million bad
//! clusters still gives a readable report, and the next step each code
//! calls for.

use imgcheck_core::{Finding, Hint, Layer, Severity, Space, Target};
use std::collections::HashMap;

/// Per-code cap on individual findings; the rest are summarised.
const FINDINGS_PER_CODE: u32 = 50;

pub(super) struct Sink {
    pub(super) findings: Vec<Finding>,
    pub(super) per_code: HashMap<&'static str, (u32, u64)>,
}

impl Sink {
    pub(super) fn push(&mut self, sev: Severity, code: &'static str, offset: u64, msg: String) {
        let e = self.per_code.entry(code).or_insert((0, 0));
        if e.0 < FINDINGS_PER_CODE {
            e.0 = e.0.saturating_add(1);
            self.findings.push(Finding::new(
                sev,
                code,
                Layer::QCOW2,
                offset,
                Space::File,
                msg,
            ));
        } else {
            e.1 = e.1.saturating_add(1);
        }
    }
    pub(super) fn push_f(&mut self, f: Finding) {
        self.findings.push(f);
    }
    pub(super) fn finish(mut self) -> Vec<Finding> {
        for f in &mut self.findings {
            if f.hint.is_none() {
                f.hint = hint_for(&f.code);
            }
        }
        let mut extra: Vec<_> = self
            .per_code
            .iter()
            .filter(|(_, v)| v.1 > 0)
            .map(|(k, v)| (*k, v.1))
            .collect();
        extra.sort();
        for (code, n) in extra {
            let sev = self
                .findings
                .iter()
                .find(|f| f.code == code)
                .map_or(Severity::Error, |f| f.severity);
            self.findings.push(Finding::new(
                sev,
                code,
                Layer::QCOW2,
                0,
                Space::File,
                format!("{n} more findings of this kind were not listed"),
            ));
        }
        self.findings
    }
}

impl Sink {
    pub(super) fn push_leak(&mut self, k: u64, cs: u64, on_disk: u64, counted: u64) {
        self.push(
            Severity::Warning,
            "qcow2.refcount.leak",
            k.saturating_mul(cs),
            format!("cluster {k} (offset {:#x}) has refcount {on_disk} on disk but {counted} references: leaked space", k.saturating_mul(cs)),
        );
        if let Some(f) = self.findings.last_mut()
            && f.code == "qcow2.refcount.leak"
            && f.hint.is_none()
        {
            f.hint = hint_for("qcow2.refcount.leak");
        }
    }
}
/// The next step for a finding code.
pub(super) fn hint_for(code: &str) -> Option<Hint> {
    let repair = || {
        Hint::writes("cp {image} {image}.bak && qemu-img check -r all {image}.bak")
            .on(Target::Image)
            .because("repair a copy, never the evidence")
    };
    let ro = |c: &str| Hint::read_only(c).on(Target::Image);
    Some(match code {
        "qcow2.refcount.leak" => Hint::writes("qemu-img check -r leaks {image}")
            .on(Target::Image)
            .because("frees the leaked clusters; harmless, but on a copy if the image matters"),
        "qcow2.refcount.past_eof" | "qcow2.file.truncated" => {
            ro("qemu-img convert -O raw {image} out.raw").because("look for the rest of the file first (an interrupted copy?); the conversion recovers what remains")
        }
        "qcow2.compressed.undecodable" => {
            ro("qemu-img convert -O raw {image} out.raw").because("fails (EIO) at the unreadable clusters; restore them from a backup")
        }
        "qcow2.data_file.past_eof"
        | "qcow2.data_file.name_missing"
        | "qcow2.data_file.raw_without_file" => {
            ro("qemu-img info {image}").because("check the data-file name and that the data file is complete")
        }
        "qcow2.backing.missing"
        | "qcow2.backing.unreadable"
        | "qcow2.backing.loop"
        | "qcow2.backing.too_deep"
        | "qcow2.backing.size_differs"
        | "qcow2.backing.not_followed" => ro("qemu-img info --backing-chain {image}"),
        "qcow2.header.encrypted"
        | "qcow2.crypto.missing_header"
        | "qcow2.crypto.extension_size" => ro("qemu-img info {image}"),
        // Info needs no next step.
        "qcow2.stats"
        | "qcow2.snapshot.disk_size_differs"
        | "qcow2.check.too_large"
        | "qcow2.check.io" => {
            return None;
        }
        c if c.starts_with("qcow2.snapshot.") => ro("qemu-img snapshot -l {image}")
            .because("then repair a copy: cp {image} {image}.bak && qemu-img check -r all {image}.bak"),
        c if c.starts_with("qcow2.") => repair(),
        _ => return None,
    })
}

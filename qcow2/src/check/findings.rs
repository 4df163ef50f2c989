//! Findings of the check under the one cap policy of every layer
//! ([`imgcheck_core::Sink`]), so an image with a million bad clusters still
//! gives a readable report, and the next step each code calls for.

use imgcheck_core::{Finding, Hint, Layer, Severity, Space, Target};

/// The check's findings: qcow2 file-space findings into the shared sink,
/// each given the next step its code calls for when it is finished.
pub(super) struct Sink(imgcheck_core::Sink);

impl Sink {
    /// A sink holding the findings made when the image was opened.
    pub(super) fn new(open: &[Finding]) -> Sink {
        let mut s = imgcheck_core::Sink::new();
        s.extend(open.iter().cloned());
        Sink(s)
    }

    /// A finding of the container at a file offset.
    pub(super) fn push(&mut self, sev: Severity, code: &'static str, offset: u64, msg: String) {
        self.0.push(Finding::new(
            sev,
            code,
            Layer::QCOW2,
            offset,
            Space::File,
            msg,
        ));
    }

    /// [`Sink::push`] for the checks that can fire once per cluster: the
    /// message is formatted only when the finding will be listed (past the
    /// cap it is only counted).
    pub(super) fn push_with(
        &mut self,
        sev: Severity,
        code: &'static str,
        offset: u64,
        msg: impl FnOnce() -> String,
    ) {
        let msg = if self.0.is_full(code) {
            String::new()
        } else {
            msg()
        };
        self.push(sev, code, offset, msg);
    }

    /// A finding made whole by the caller (it carries its own hint).
    pub(super) fn push_f(&mut self, f: Finding) {
        self.0.push(f);
    }

    /// The findings, capped per code, each with its code's next step
    /// (the closing count of a capped code too).
    pub(super) fn finish(self) -> Vec<Finding> {
        let mut out = self.0.finish();
        for f in &mut out {
            if f.hint.is_none() {
                f.hint = hint_for(&f.code);
            }
        }
        out
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

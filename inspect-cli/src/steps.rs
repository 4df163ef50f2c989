//! Next steps, built from the findings' hints as data: each command once,
//! a copy of the image first when anything is damaged or a step writes,
//! the attach step when a step needs the guest disk as a device, then the
//! read-only steps, then the writing ones.

use crate::devices::Resolved;
use crate::report::ImageReport;
use imgcheck_core::{Hint, Severity, Target};

/// The copy every repair starts from: beside the image, or, when the
/// filesystem holding it has no room (layout.host.no_room_for_copy), on
/// another one.
fn copy_step(report: &ImageReport) -> Hint {
    let no_room = report
        .layout
        .iter()
        .any(|f| f.code == "layout.host.no_room_for_copy");
    if no_room {
        Hint::read_only("cp --sparse=always {image} /ANOTHER/FILESYSTEM/")
            .on(Target::Image)
            .because("work on a copy, on a filesystem with room for it (this one has none); never repair the only one")
    } else {
        Hint::read_only("cp --sparse=always {image} {image}.bak")
            .on(Target::Image)
            .because("work on a copy; never repair the only one")
    }
}

/// Next steps, safest first: copy before anything, read-only checks before
/// repairs; each command once.
pub fn next_steps(report: &ImageReport) -> Vec<String> {
    // Layout findings first at each severity: they tell the whole story
    // (grow the table, then the partition, then the filesystem) where a
    // layer's hint covers its own part.
    let ordered: Vec<_> = report
        .layout
        .iter()
        .chain(report.root.all_findings())
        .collect();
    let mut picked: Vec<Resolved> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for sev in [Severity::Error, Severity::Warning] {
        for f in ordered.iter().filter(|f| f.severity == sev) {
            let Some(r) = report.hint_of(f) else { continue };
            // Two findings often suggest the same command with different
            // notes: list the command once. A step already part of a
            // longer recipe is not repeated either.
            let key = r.hint.command.clone().unwrap_or_else(|| r.hint.to_string());
            let covered = seen
                .iter()
                .any(|s| s == &key || s.split("; ").any(|part| part == key));
            if !covered {
                seen.push(key);
                picked.push(r);
            }
        }
    }
    let mut steps = Vec::new();
    let damaged =
        imgcheck_core::worst_severity(report.findings().iter().copied()) == Some(Severity::Error);
    if damaged || picked.iter().any(|r| r.hint.writes) {
        steps.push(step_text(&resolve_image(&copy_step(report), &report.path)));
    }
    if picked.iter().any(|r| r.needs_attach)
        && let Some(a) = report.attach()
    {
        steps.push(step_text(&resolve_image(&a.hint, &report.path)));
    }
    // Partitions the kernel will not see get loop devices of their own.
    for r in &picked {
        if let Some(a) = &r.attach_step {
            let line = step_text(a);
            if !steps.contains(&line) {
                steps.push(line);
            }
        }
    }
    steps.extend(
        picked
            .iter()
            .filter(|r| !r.hint.writes)
            .map(|r| step_text(&r.hint)),
    );
    steps.extend(
        picked
            .iter()
            .filter(|r| r.hint.writes)
            .map(|r| step_text(&r.hint)),
    );
    steps
}

fn resolve_image(h: &Hint, image: &str) -> Hint {
    h.clone()
        .resolved(|n| (n == "image").then(|| image.to_string()))
}

/// A next step as one line: `command   # note`, or the note alone.
fn step_text(h: &Hint) -> String {
    match (&h.command, &h.note) {
        (Some(c), Some(n)) => format!("{c}   # {n}"),
        (Some(c), None) => c.clone(),
        (None, Some(n)) => n.clone(),
        (None, None) => String::new(),
    }
}

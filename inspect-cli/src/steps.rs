//! Next steps, built from the findings' hints as data: each command once,
//! a copy of the image first when anything is damaged or a step writes,
//! the attach step when a step needs the guest disk as a device, then the
//! read-only steps, then the writing ones.

use crate::devices::Resolved;
use crate::report::ImageReport;
use imgcheck_core::{Attach, Hint, Severity, Target};

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

/// Where the copy of [`copy_step`] lands, `{image}` standing for the image.
fn copy_path(report: &ImageReport) -> String {
    let no_room = report
        .layout
        .iter()
        .any(|f| f.code == "layout.host.no_room_for_copy");
    if no_room {
        let name = std::path::Path::new(&report.path)
            .file_name()
            .map_or_else(|| "image".to_string(), |n| n.to_string_lossy().into_owned());
        format!("/ANOTHER/FILESYSTEM/{name}")
    } else {
        "{image}.bak".to_string()
    }
}

/// The device after `dev` (`/dev/loop0` → `/dev/loop1`), for the copy, so
/// that the evidence's read-only device and the copy's never collide.
fn next_device(dev: &str) -> String {
    let digits = dev
        .len()
        .saturating_sub(dev.trim_end_matches(|c: char| c.is_ascii_digit()).len());
    let (stem, num) = dev.split_at(dev.len().saturating_sub(digits));
    match num.parse::<u64>() {
        Ok(n) => format!("{stem}{}", n.saturating_add(1)),
        Err(_) => format!("{dev}-copy"),
    }
}

/// How the copy is attached for the steps that write: the container's
/// attach command without `--read-only`, on the copy, as the next device.
fn writable_copy(a: &Attach) -> Attach {
    let dev = next_device(&a.device);
    let mut hint = a.hint.clone();
    hint.command = hint
        .command
        .map(|c| c.replace(" --read-only", "").replace(&a.device, &dev));
    hint.writes = true;
    hint.note = Some(format!(
        "the copy, writable, as {dev}: the steps below write to it, never to the evidence"
    ));
    Attach {
        hint,
        device: dev,
        file: a.file.clone(),
    }
}

/// A writing step of a partition the kernel does not see, on the copy:
/// a writable loop device of its own, named apart from the evidence's.
fn unseen_on_copy(mut r: Resolved) -> Resolved {
    let Some(step) = r.attach_step.take() else {
        return r;
    };
    let Target::Partition(n) = step.target else {
        r.attach_step = Some(step);
        return r;
    };
    let old = crate::devices::partition_loop(n);
    let new = format!("/dev/loop2{n}");
    r.hint.command = r.hint.command.map(|c| c.replace(&old, &new));
    let mut step = step;
    step.command = step.command.map(|c| {
        c.replace("losetup --read-only ", "losetup ")
            .replace(&old, &new)
    });
    step.writes = true;
    r.attach_step = Some(step);
    r
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
    // A step that writes never runs on the evidence (attached read-only,
    // where it fails, or the image file itself): it runs on the copy.
    let copy = copy_path(report).replace("{image}", &report.path);
    let copy_attach = report.attach().map(writable_copy);
    for sev in [Severity::Error, Severity::Warning] {
        for f in ordered.iter().filter(|f| f.severity == sev) {
            let writes = f.hint.as_ref().is_some_and(|h| h.writes);
            let r = if writes {
                report
                    .hint_for(f, &copy, copy_attach.as_ref())
                    .map(unseen_on_copy)
            } else {
                report.hint_of(f)
            };
            let Some(r) = r else { continue };
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
    if picked.iter().any(|r| r.needs_attach && !r.hint.writes)
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
    if picked.iter().any(|r| r.needs_attach && r.hint.writes)
        && let Some(a) = &copy_attach
    {
        steps.push(step_text(&resolve_image(&a.hint, &copy)));
    }
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

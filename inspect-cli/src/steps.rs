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
    copy_path_of(report, &report.path)
}

/// Where the copy of `file` (the image, or a file it joins) lands,
/// `{image}` standing for it.
fn copy_path_of(report: &ImageReport, file: &str) -> String {
    let no_room = report
        .layout
        .iter()
        .any(|f| f.code == "layout.host.no_room_for_copy");
    if no_room {
        let name = std::path::Path::new(file)
            .file_name()
            .map_or_else(|| "image".to_string(), |n| n.to_string_lossy().into_owned());
        format!("/ANOTHER/FILESYSTEM/{name}")
    } else {
        "{image}.bak".to_string()
    }
}

/// The copy of `file`, a file the image joins (a backing file), that a
/// writing step about it runs on.
pub fn copy_of(report: &ImageReport, file: &str) -> String {
    copy_path_of(report, file).replace("{image}", file)
}

/// The shell variable `dev` reads (`${DISK:?}` → `DISK`), when it is one.
fn var_of(dev: &str) -> Option<&str> {
    dev.strip_prefix("${")?.strip_suffix(":?}")
}

/// The variable the copy's device is named in, apart from the evidence's
/// `var`: `DISK` → `COPY`, `NBD` → `NBDCOPY`, `P1` → `COPYP1`.
fn copy_var(var: &str) -> String {
    match var {
        "DISK" => "COPY".into(),
        v if v.starts_with('P') => format!("COPY{v}"),
        v => format!("{v}COPY"),
    }
}

/// `command` with the device variable `var` renamed to `new`: where the
/// command sets it (`VAR=$(`) and where it reads it (`${VAR:?}`).
fn rename_var(command: &str, var: &str, new: &str) -> String {
    command
        .replace(&format!("{var}=$("), &format!("{new}=$("))
        .replace(&format!("${{{var}:?}}"), &format!("${{{new}:?}}"))
}

/// How the copy is attached for the steps that write: the container's
/// attach command without `--read-only`, on the copy, its device in a
/// variable of its own. The device is found by the step itself (losetup
/// --find, or the nbd search of the qcow2 attach, run after the evidence
/// is connected so it skips that one), never a fixed name: a fixed
/// `/dev/loop1` that was busy with another image made the repair steps
/// write to that image.
fn writable_copy(a: &Attach) -> Attach {
    let (dev, command) = match var_of(&a.device) {
        Some(var) => {
            let new = copy_var(var);
            (
                format!("${{{new}:?}}"),
                a.hint
                    .command
                    .as_deref()
                    .map(|c| rename_var(c, var, &new).replace(" --read-only", "")),
            )
        }
        // A device the container names itself: no copy device can be
        // derived safely, so no writing step gets one.
        None => ("${COPY:?}".into(), None),
    };
    let mut hint = a.hint.clone();
    hint.writes = command.is_some();
    let name = var_of(&dev).unwrap_or("COPY").to_string();
    hint.note = Some(match command {
        Some(_) => format!(
            "the copy, writable, its device named in {name}: the steps below write to it, never to the evidence"
        ),
        None => format!(
            "attach the copy writable and name its device in {name}: the steps below write to it"
        ),
    });
    hint.command = command;
    Attach {
        hint,
        device: dev,
        file: a.file.clone(),
    }
}

/// A writing step of a partition the kernel does not see, on the copy:
/// a writable loop device of its own, in a variable apart from the
/// evidence's.
fn unseen_on_copy(mut r: Resolved) -> Resolved {
    let Some(step) = r.attach_step.take() else {
        return r;
    };
    let Target::Partition(n) = step.target else {
        r.attach_step = Some(step);
        return r;
    };
    let old = format!("P{n}");
    let new = copy_var(&old);
    r.hint.command = r.hint.command.map(|c| rename_var(&c, &old, &new));
    let mut step = step;
    step.command = step
        .command
        .map(|c| rename_var(&c, &old, &new).replace(" --read-only", ""));
    step.note = step.note.map(|t| {
        t.replace(
            &format!("named in {old}:"),
            &format!("named in {new}, on the copy:"),
        )
    });
    step.writes = true;
    r.attach_step = Some(step);
    r
}

/// Next steps, safest first: copy before anything, read-only checks before
/// repairs; each command once.
pub fn next_steps(report: &ImageReport) -> Vec<String> {
    marked_steps(report).into_iter().map(|(s, _)| s).collect()
}

/// The writing hint of `f` resolved on the copy next steps make (its
/// path, or its writable attachment; a partition the kernel does not see
/// on a loop device of the copy's own), as [`marked_steps`] lists it.
pub fn on_copy(report: &ImageReport, f: &imgcheck_core::Finding) -> Option<Resolved> {
    let copy = copy_path(report).replace("{image}", &report.path);
    let attach = report.attach().map(writable_copy);
    report
        .hint_for(f, &copy, attach.as_ref())
        .map(unseen_on_copy)
}

/// [`next_steps`], each with whether it writes: so that a test can tell
/// that no writing step names the evidence's device.
pub fn marked_steps(report: &ImageReport) -> Vec<(String, bool)> {
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
    // Files other than the image (backing files) a writing step repairs:
    // each is copied first, as the image is.
    let mut joined: Vec<&str> = Vec::new();
    // Whether a writing step acts on the image itself (not only on a
    // file it joins, whose copy is made for it).
    let mut own_writes = false;
    // A step that writes never runs on the evidence (attached read-only,
    // where it fails, or the image file itself): it runs on the copy
    // (hint_of resolves it so, through `on_copy`).
    let copy = copy_path(report).replace("{image}", &report.path);
    let copy_attach = report.attach().map(writable_copy);
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
                match report.joined_file(&f.place) {
                    Some(file) if r.hint.writes => {
                        if !joined.contains(&file) {
                            joined.push(file);
                        }
                    }
                    _ => own_writes |= r.hint.writes,
                }
                seen.push(key);
                picked.push(r);
            }
        }
    }
    let mut steps: Vec<(String, bool)> = Vec::new();
    let damaged =
        imgcheck_core::worst_severity(report.findings().iter().copied()) == Some(Severity::Error);
    if damaged || own_writes {
        steps.push(marked(&resolve_image(&copy_step(report), &report.path)));
    }
    for file in joined {
        let mut h = copy_step(report);
        if let Some(to) = &mut h.command {
            *to = to.replace("{image}.bak", &copy_of(report, file));
        }
        h.note = Some(format!(
            "a copy of {file}, which this image joins: the step below that repairs it writes to the copy, never to the file other images may share"
        ));
        steps.push(marked(&resolve_image(&h, file)));
    }
    // A nested disk's steps reach it through the evidence (its VG
    // activated read-only), writing ones too: they copy the LV first.
    if picked
        .iter()
        .any(|r| r.needs_attach && (!r.hint.writes || r.nested))
        && let Some(a) = report.attach()
    {
        steps.push(marked(&resolve_image(&a.hint, &report.path)));
    }
    // Partitions the kernel will not see get loop devices of their own:
    // the evidence's here, the copy's after the copy is attached (they
    // read the variable that step sets).
    push_attach_steps(&mut steps, picked.iter().filter(|r| !r.hint.writes));
    steps.extend(
        picked
            .iter()
            .filter(|r| !r.hint.writes)
            .map(|r| marked(&r.hint)),
    );
    if picked
        .iter()
        .any(|r| r.needs_attach && r.hint.writes && !r.nested)
        && let Some(a) = &copy_attach
    {
        steps.push(marked(&resolve_image(&a.hint, &copy)));
    }
    push_attach_steps(&mut steps, picked.iter().filter(|r| r.hint.writes));
    steps.extend(
        picked
            .iter()
            .filter(|r| r.hint.writes)
            .map(|r| marked(&r.hint)),
    );
    steps
}

/// The attach steps of `picked` not yet in `steps`.
fn push_attach_steps<'a>(
    steps: &mut Vec<(String, bool)>,
    picked: impl Iterator<Item = &'a Resolved>,
) {
    for r in picked {
        if let Some(a) = &r.attach_step {
            let line = marked(a);
            if !steps.iter().any(|(s, _)| s == &line.0) {
                steps.push(line);
            }
        }
    }
}

/// A step's line and whether it writes.
fn marked(h: &Hint) -> (String, bool) {
    (step_text(h), h.writes)
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

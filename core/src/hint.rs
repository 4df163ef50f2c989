//! A next step as data: the command, what it acts on, whether it writes,
//! and why. The report orders and filters next steps from these fields
//! (read-only first, a copy before any write, no write the evidence does
//! not support) and never parses prose to do it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a hint's command acts on. The pipeline resolves the placeholders
/// in [`Hint::command`] for it:
///
/// | placeholder | stands for |
/// |---|---|
/// | `{image}` | the image file as given on the command line |
/// | `{disk}` | the whole guest disk as a block device, as the container's [`crate::Attach`] fact names it (`/dev/nbd0` for qcow2; for a raw image the file itself when the command acts on the disk alone, else a loop device) |
/// | `{dev}` | the block device of the node the finding belongs to (a partition, a logical volume, or the disk for a whole-disk filesystem) |
///
/// An embedder that uses a layer crate alone substitutes them itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The image file itself (`qemu-img check {image}`).
    Image,
    /// The whole guest disk (`sgdisk -v {disk}`).
    Disk,
    /// The node the finding belongs to, resolved by the pipeline into
    /// [`Target::Partition`], [`Target::Volume`] or [`Target::Disk`].
    #[default]
    This,
    /// Partition `N` of the disk.
    Partition(u32),
    /// A logical volume, `vg/lv`.
    Volume(String),
    /// Nothing on the disk: advice about the environment (a backup job, a
    /// host filesystem).
    Nothing,
}

/// One next step.
///
/// # Placeholders
///
/// [`Hint::command`] and [`Hint::note`] name what they act on by
/// placeholders, filled by [`Hint::resolved`] (the `imgcheck` report does
/// it for every finding; an embedder using a layer crate alone calls it):
///
/// | placeholder | filled with |
/// |---|---|
/// | `{image}` | the image file as given on the command line |
/// | `{disk}` | the whole guest disk's block device (`/dev/nbd0` for qcow2, a loop device or the file for raw) |
/// | `{dev}` | the device of the node the finding is in: a partition (`/dev/nbd0p2`), a logical volume (`/dev/vg/lv`), or the disk for a whole-disk filesystem |
///
/// A placeholder is lower-case letters in braces; anything else in braces
/// stays as written. Upper-case shell variables (`$DEV`, `${NBD:?}`) are
/// the command's own, set by an earlier line of it (a loop device it sets
/// up), and are never filled in. See [`Target`] for what each acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hint {
    /// A shell command line, with the placeholders of [`Target`]; `None`
    /// for advice that has no command. Placeholders in braces are filled
    /// by whoever runs the layer (the `imgcheck` report does): `{image}`
    /// the image file as given, `{disk}` the whole guest disk's device,
    /// `{dev}` the device of the partition or volume the finding is in.
    /// Upper-case names such as `$DEV` are the command's own shell
    /// variables (a loop device it sets up), never filled in.
    pub command: Option<String>,
    /// What the command acts on.
    pub target: Target,
    /// Whether following it changes the image or disk. A writing step is
    /// offered only after a copy, and only where the evidence supports it.
    pub writes: bool,
    /// Why, or what to look at first; shown after the command.
    pub note: Option<String>,
}

impl Hint {
    /// A command that only reads (`e2fsck -fn {dev}`, `sgdisk -v {disk}`).
    pub fn read_only(command: impl Into<String>) -> Self {
        Hint {
            command: Some(command.into()),
            target: Target::This,
            writes: false,
            note: None,
        }
    }

    /// A command that writes (`sgdisk -e {disk}`, `resize2fs {dev}`).
    pub fn writes(command: impl Into<String>) -> Self {
        Hint {
            command: Some(command.into()),
            target: Target::This,
            writes: true,
            note: None,
        }
    }

    /// Advice with no command to run.
    pub fn advice(note: impl Into<String>) -> Self {
        Hint {
            command: None,
            target: Target::Nothing,
            writes: false,
            note: Some(note.into()),
        }
    }

    /// The same hint acting on `target`.
    #[must_use]
    pub fn on(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    /// The same hint with a note (why, or what to check first).
    #[must_use]
    pub fn because(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    /// The hint with every placeholder replaced by `f(name)` where it
    /// returns a value (`{dev}` → `/dev/nbd0p2`); others stay as written.
    #[must_use]
    pub fn resolved(mut self, f: impl Fn(&str) -> Option<String>) -> Self {
        if let Some(c) = &self.command {
            self.command = Some(fill(c, &f));
        }
        if let Some(n) = &self.note {
            self.note = Some(fill(n, &f));
        }
        self
    }
}

/// `text` with `{name}` replaced by `f(name)` where it answers.
fn fill(text: &str, f: &impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let (before, after) = rest.split_at(open);
        out.push_str(before);
        let tail = after.get(1..).unwrap_or("");
        let name_end = tail.find('}').filter(|&e| {
            tail.get(..e)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_lowercase()))
        });
        match name_end.and_then(|e| tail.get(..e).map(|n| (e, n))) {
            Some((e, name)) => {
                match f(name) {
                    Some(v) => out.push_str(&v),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = tail.get(e.saturating_add(1)..).unwrap_or("");
            }
            None => {
                out.push('{');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

impl fmt::Display for Hint {
    /// `command (note)`, or whichever of the two there is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.command, &self.note) {
            (Some(c), Some(n)) => write!(f, "{c} ({n})"),
            (Some(c), None) => f.write_str(c),
            (None, Some(n)) => f.write_str(n),
            (None, None) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_resolve_and_unknown_ones_stay() {
        let h =
            Hint::read_only("e2fsck -fn -b 32768 {dev}; ls {x} {not-one} {").because("on {disk}");
        let r = h.resolved(|n| (n == "dev" || n == "disk").then(|| format!("/dev/{n}0")));
        assert_eq!(
            r.command.as_deref(),
            Some("e2fsck -fn -b 32768 /dev/dev0; ls {x} {not-one} {")
        );
        assert_eq!(r.note.as_deref(), Some("on /dev/disk0"));
        assert_eq!(
            r.to_string(),
            "e2fsck -fn -b 32768 /dev/dev0; ls {x} {not-one} { (on /dev/disk0)"
        );
    }

    #[test]
    fn kinds() {
        assert!(Hint::writes("sgdisk -e {disk}").writes);
        assert!(!Hint::read_only("sgdisk -v {disk}").writes);
        let a = Hint::advice("check the backup job");
        assert_eq!((a.command, a.target), (None, Target::Nothing));
    }
}

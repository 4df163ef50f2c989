//! What the user asked for, and the one error that stops an image.

use clap::ValueEnum;
use std::fmt;
use std::path::PathBuf;

/// Container format override.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A raw disk image (or a bare filesystem).
    Raw,
    /// A qcow2 image.
    Qcow2,
}

impl Format {
    /// The container layer this `--format` names.
    pub fn layer(self) -> &'static str {
        match self {
            Format::Raw => "raw",
            Format::Qcow2 => "qcow2",
        }
    }
}

/// What the user asked for; the pipeline hands the layers its core form.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Check only the metadata proportional to size (`--quick`), not
    /// every object; the full check (every inode, extent, directory,
    /// cluster) is the default, as for e2fsck -fn and qemu-img check.
    pub quick: bool,
    /// Read the whole disk for the zero map (`--scan`), not only where
    /// tables and superblocks live.
    pub scan: bool,
    /// Inspect the guest disk as of this internal snapshot (id or name).
    pub snapshot: Option<String>,
    /// The image path as given, for hints and backing-file resolution.
    pub image_path: PathBuf,
    /// Where long checks report how far they have got (off by default;
    /// the CLI shows it on a terminal).
    pub progress: imgcheck_core::Progress,
    /// Whether and how the free space beside the image is looked at
    /// (`layout.host.*`); unmeasured by default, measured by the CLI.
    pub host: crate::host::HostRoom,
    /// Threads the partitions, volumes and filesystems of one image may be
    /// checked on (`--jobs`, shared with the images of the run); 0 or 1:
    /// one at a time. The report is the same either way.
    pub jobs: usize,
}

/// Why an image could not be checked at all. None of these is the
/// image's fault — damage that prevents opening is a finding (exit 4), not
/// a `Fatal` — so all of them are exit status 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FatalKind {
    /// Nothing at that path.
    Missing,
    /// It exists but cannot be opened read-only or read.
    Unreadable,
    /// Not a regular file or block device (a FIFO, socket, character
    /// device): refused without reading from it.
    NotAFile,
    /// A directory with no image in it.
    NoImages,
    /// `--snapshot` names a snapshot the image does not have.
    NoSuchSnapshot,
    /// `--format` names a container the file is not.
    NotThisFormat,
}

/// "Cannot check this image": what kind of problem, the sentence (which
/// names the structure and offset when there is one, never the path: the
/// caller prints the path once), and what was learned before stopping.
/// Exit status 8.
#[derive(Debug, Clone)]
pub struct Fatal {
    /// What kind of problem.
    pub kind: FatalKind,
    /// The whole sentence, without the path.
    pub message: String,
    /// Facts learned before stopping (the file's type, its size, the
    /// snapshots the image has), for the JSON error object.
    pub learned: serde_json::Map<String, serde_json::Value>,
}

impl Fatal {
    /// A fatal error of `kind` with this message.
    pub fn new(kind: FatalKind, message: impl Into<String>) -> Self {
        Fatal {
            kind,
            message: message.into(),
            learned: serde_json::Map::new(),
        }
    }

    /// Adds a fact learned before stopping.
    pub fn learned(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.learned.insert(key.to_string(), value.into());
        self
    }

    /// The one line on stderr: `imgcheck: PATH: message`, the path once
    /// (a "no images in DIR" message names its directory itself).
    pub fn line(&self, path: &std::path::Path) -> String {
        match self.kind {
            FatalKind::NoImages => format!("imgcheck: {}", self.message),
            _ => format!("imgcheck: {}: {}", path.display(), self.message),
        }
    }
}

/// `?` in an embedder's `Box<dyn Error>` function.
impl std::error::Error for Fatal {}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

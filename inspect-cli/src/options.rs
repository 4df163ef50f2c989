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
}

/// "Cannot continue with this image": names the file, the structure and
/// the offset. Exit status 8.
#[derive(Debug, Clone)]
pub struct Fatal {
    /// The whole sentence.
    pub message: String,
}

impl Fatal {
    /// A fatal error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Fatal {
            message: message.into(),
        }
    }
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

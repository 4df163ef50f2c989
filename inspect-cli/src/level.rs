//! What a reader is by its parent's word, so that each layer claims only
//! readers at its own level: a container reads an image file, a partition
//! table reads a whole disk, a filesystem or volume manager reads contents.
//! The partition table of a raw image file is the raw container's business
//! (it hands the disk on); a GPT found at the start of a partition is
//! evidence of an overwrite, not a nested table.

use imgcheck_core::{Context, Promise};

/// The three levels a reader can be at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// An image file (the image given, or a volume holding a disk image).
    ImageFile,
    /// A whole disk (a container's guest disk).
    Disk,
    /// The contents of a partition, a volume or a whole disk.
    Contents,
}

/// The level of the reader `cx` describes.
pub fn of(cx: &Context<'_>) -> Level {
    match cx.expect.contents {
        Promise::DiskImage => Level::ImageFile,
        Promise::Disk => Level::Disk,
        _ => Level::Contents,
    }
}

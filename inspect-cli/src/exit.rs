//! Exit bits, as fsck(8): OR-ed across the images of one run.

/// No problem found.
pub const CLEAN: u8 = 0;
/// Warnings only.
pub const WARNINGS: u8 = 1;
/// Damage found (imgcheck never repairs, so it stays uncorrected).
pub const DAMAGED: u8 = 4;
/// Operational error: a file missing or unreadable.
pub const OPERATIONAL: u8 = 8;
/// Usage error.
pub const USAGE: u8 = 16;

//! Reads through the caller's reader, with failures kept apart from
//! absence: a structure past the end of the reader is *absent* (a
//! truncated image; the size check says so once), while a read the reader
//! *failed* — an I/O error, a layer below that could not produce the bytes,
//! the image's read bound — is evidence about the disk, reported once per
//! offset as `fat.read.unreadable` or `fat.read.budget`, so it never passes
//! for a zeroed structure or a clean filesystem.

use crate::LAYER;
use imgcheck_core::{Finding, Hint, ReadAt, ReadError, ReadErrorKind, Space, read_vec};
use std::collections::HashSet;

/// Offsets remembered so each failed read is reported once.
const MAX_OFFSETS_REMEMBERED: usize = 1 << 16;

/// Why bytes could not be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Miss {
    /// Past the end of the reader.
    Absent,
    /// The reader failed (already reported).
    Unreadable,
}

/// The reader and the failures seen through it.
pub(crate) struct Reads<'r> {
    r: &'r dyn ReadAt,
    pub(crate) findings: Vec<Finding>,
    seen: HashSet<u64>,
    budget_hit: bool,
}

impl<'r> Reads<'r> {
    pub(crate) fn new(r: &'r dyn ReadAt) -> Self {
        Reads {
            r,
            findings: Vec::new(),
            seen: HashSet::new(),
            budget_hit: false,
        }
    }

    /// The reader's length.
    pub(crate) fn len(&self) -> u64 {
        self.r.len()
    }

    /// Fills `buf` from `off`; `what` names the structure for the finding.
    pub(crate) fn read(&mut self, off: u64, buf: &mut [u8], what: &str) -> Result<(), Miss> {
        match self.r.read_exact_at(off, buf) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.failed(e, what)),
        }
    }

    /// `len` bytes at `off` into a new buffer, refusing more than `limit`
    /// before allocating.
    pub(crate) fn vec(
        &mut self,
        off: u64,
        len: u64,
        limit: u64,
        what: &str,
    ) -> Result<Vec<u8>, Miss> {
        match read_vec(self.r, off, len, limit) {
            Ok(v) => Ok(v),
            Err(e) => Err(self.failed(e, what)),
        }
    }

    fn failed(&mut self, e: ReadError, what: &str) -> Miss {
        match &e.kind {
            ReadErrorKind::OutOfBounds { .. } | ReadErrorKind::TooLarge { .. } => Miss::Absent,
            ReadErrorKind::Budget { limit } => {
                if !self.budget_hit {
                    self.budget_hit = true;
                    self.findings.push(
                        Finding::warning(
                            "fat.read.budget",
                            LAYER,
                            e.offset,
                            Space::Disk,
                            format!(
                                "the check stopped reading at the {what} (byte {}): it already read its bound of {limit} bytes for this image; what follows was not checked",
                                e.offset
                            ),
                        )
                        .with_hint(Hint::advice(
                            "check this filesystem on its own (a bigger bound, or fsck.fat -n {dev})",
                        )),
                    );
                }
                Miss::Unreadable
            }
            ReadErrorKind::Io(_) | ReadErrorKind::Layer(_) => {
                if self.seen.len() < MAX_OFFSETS_REMEMBERED && self.seen.insert(e.offset) {
                    let hint = if matches!(e.kind, ReadErrorKind::Layer(_)) {
                        Hint::advice(
                            "the layer below could not produce these bytes: see its findings; this part of the filesystem was not checked",
                        )
                    } else {
                        Hint::advice(
                            "the storage returned a read error: image it with ddrescue onto healthy storage and check the copy; never repair in place",
                        )
                    };
                    self.findings.push(
                        Finding::error(
                            "fat.read.unreadable",
                            LAYER,
                            e.offset,
                            Space::Disk,
                            format!("the {what} cannot be read: {e}"),
                        )
                        .with_hint(hint),
                    );
                }
                Miss::Unreadable
            }
        }
    }
}

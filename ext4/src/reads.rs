//! Read failures, kept apart from absence. A structure past the end of
//! the reader is *absent* (a truncated image, a pointer out of range) and
//! the check that wanted it says so; a read the reader *failed* — an I/O
//! error, a lower layer that could not produce the bytes (a corrupt qcow2
//! cluster), the image's read bound — is evidence about the disk, logged
//! once per offset as an `ext4.read.*` finding, so it never passes for
//! "structure absent" nor for a clean filesystem.

use imgcheck_core::{Finding, Hint, Layer, ReadError, ReadErrorKind, Sink, Space};
use std::collections::HashSet;

/// Offsets remembered to report each failed read once; past this many,
/// further failures are still counted, perhaps twice for one offset.
const MAX_OFFSETS_REMEMBERED: usize = 1 << 16;

/// Why a structure could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Miss {
    /// Not there: past the end of the reader or of the filesystem, or
    /// nowhere to look (its group's inode table is unknown).
    Absent,
    /// The reader failed; the cause, for a message that names it. Already
    /// logged as an `ext4.read.*` finding.
    Unreadable(String),
}

/// The cause of a failed read, in words.
pub(crate) fn cause(kind: &ReadErrorKind) -> String {
    match kind {
        ReadErrorKind::OutOfBounds { len } => format!("past the end ({len} bytes)"),
        ReadErrorKind::Io(e) => e.to_string(),
        ReadErrorKind::Layer(msg) => msg.clone(),
        ReadErrorKind::TooLarge { limit } => format!("more than the {limit}-byte bound"),
        ReadErrorKind::Budget { limit } => {
            format!("the check already read its bound of {limit} bytes for this image")
        }
    }
}

/// What to do about a read the reader failed: never a repair (it would
/// write to a disk that cannot be read), a copy first.
pub(crate) fn unreadable_hint(kind: &ReadErrorKind) -> Hint {
    match kind {
        ReadErrorKind::Layer(_) => Hint::advice(
            "the layer below could not produce these bytes: see its findings; this part of the filesystem was not checked",
        ),
        _ => Hint::advice(
            "the storage under the filesystem returned a read error: image it with ddrescue onto healthy storage and check the copy; do not run a repair on the failing disk",
        ),
    }
}

/// The same advice when only the cause's text is known: it may be the
/// storage or a layer below.
pub(crate) fn unreadable_hint_any() -> Hint {
    Hint::advice(
        "a read failed here: a failing disk is imaged with ddrescue onto healthy storage and the copy checked; bytes a layer below (qcow2) could not produce are explained by its findings; never repair in place",
    )
}

/// The read failures of one check, under the report's cap policy (codes
/// `ext4.read.unreadable` and `ext4.read.budget` come only from here).
#[derive(Debug)]
pub(crate) struct ReadLog {
    sink: Sink,
    seen: HashSet<u64>,
    budget_hit: bool,
}

impl Default for ReadLog {
    fn default() -> Self {
        ReadLog {
            sink: Sink::new(),
            seen: HashSet::new(),
            budget_hit: false,
        }
    }
}

impl ReadLog {
    /// Logs the failed read of `what` at byte `off`; returns how the
    /// caller should treat it.
    pub(crate) fn record(&mut self, off: u64, what: &str, e: &ReadError) -> Miss {
        let why = cause(&e.kind);
        match &e.kind {
            ReadErrorKind::OutOfBounds { .. } => return Miss::Absent,
            // Once the bound is used up every read fails: one finding says
            // where the check stopped reading.
            ReadErrorKind::Budget { .. } => {
                if !self.budget_hit {
                    self.budget_hit = true;
                    self.sink.push(Finding::warning(
                        "ext4.read.budget",
                        Layer::EXT4,
                        off,
                        Space::Disk,
                        format!("{what} not read at offset {off}: {why}; the check is incomplete from here"),
                    ));
                }
            }
            _ => {
                let first = if self.seen.len() < MAX_OFFSETS_REMEMBERED {
                    self.seen.insert(off)
                } else {
                    !self.seen.contains(&off)
                };
                if first {
                    self.sink.push(
                        Finding::error(
                            "ext4.read.unreadable",
                            Layer::EXT4,
                            off,
                            Space::Disk,
                            format!("{what} unreadable at offset {off}: {why}"),
                        )
                        .with_hint(unreadable_hint(&e.kind)),
                    );
                }
            }
        }
        Miss::Unreadable(why)
    }

    /// Replays findings logged before (while opening), so a check's log
    /// starts with them and does not report their offsets again.
    pub(crate) fn replay(&mut self, findings: &[Finding]) {
        for f in findings {
            if f.code == "ext4.read.budget" {
                self.budget_hit = true;
            } else if self.seen.len() < MAX_OFFSETS_REMEMBERED {
                self.seen.insert(f.offset);
            }
            self.sink.push(f.clone());
        }
    }

    /// The findings, capped per code like the rest of the report.
    pub(crate) fn finish(self) -> Vec<Finding> {
        self.sink.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_is_not_logged_and_failures_are_logged_once() {
        let mut log = ReadLog::default();
        let oob = ReadError::new(4096, 1024, ReadErrorKind::OutOfBounds { len: 4096 });
        assert_eq!(log.record(4096, "block 4", &oob), Miss::Absent);
        let io = || {
            ReadError::new(
                8192,
                1024,
                ReadErrorKind::Io(std::io::Error::from_raw_os_error(5)),
            )
        };
        assert!(matches!(
            log.record(8192, "block 8", &io()),
            Miss::Unreadable(_)
        ));
        assert!(matches!(
            log.record(8192, "block 8", &io()),
            Miss::Unreadable(_)
        ));
        let budget = ReadError::new(0, 1, ReadErrorKind::Budget { limit: 10 });
        let _ = log.record(9000, "inode 12", &budget);
        let _ = log.record(9999, "inode 13", &budget);
        let out = log.finish();
        let codes: Vec<&str> = out.iter().map(|f| f.code.as_ref()).collect();
        assert_eq!(codes, ["ext4.read.unreadable", "ext4.read.budget"]);
        assert!(
            out[0]
                .message
                .starts_with("block 8 unreadable at offset 8192: "),
            "{}",
            out[0].message
        );
        assert!(!out[0].hint.as_ref().is_some_and(|h| h.writes));
    }
}

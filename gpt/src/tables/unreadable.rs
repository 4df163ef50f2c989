//! Table structures that lie on the disk but could not be read: an I/O
//! error, a layer below that could not produce the bytes (an undecodable
//! qcow2 cluster), or the image's work bound. What such a structure holds
//! is unknown, which is not the same as absent: a checker that read an
//! EIO at LBA 1 as "no GPT header" would send the user to recreate a
//! table that may be intact.

use imgcheck_core::{Finding, Hint, Layer, ReadAt, ReadError, ReadErrorKind, Space, read_vec};
use serde::Serialize;

/// Why a structure could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadFailure {
    /// The operating system failed the read (EIO, a vanished device).
    Io,
    /// A layer below could not produce the bytes (e.g. a qcow2 cluster
    /// whose table entry is corrupt or whose compression does not decode).
    Layer,
    /// The image's total read bound ([`imgcheck_core::Budget`]) is used up.
    Budget,
}

/// A structure that could not be read, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    /// What was being read (`primary GPT header (LBA 1)`, …).
    pub structure: String,
    /// The layer the structure belongs to (`mbr` or `gpt`).
    pub layer: Layer,
    /// Disk offset of the read.
    pub offset: u64,
    /// Bytes asked for.
    pub len: u64,
    /// What kind of failure.
    pub failure: ReadFailure,
    /// The failure in words (the OS error, the layer's reason, the bound).
    pub cause: String,
}

impl Unreadable {
    /// The failure `e` of reading `structure`, or `None` when `e` only says
    /// the range is not on the disk (or over the caller's bound): that is
    /// absence, which the callers report as such.
    pub fn from_error(structure: impl Into<String>, layer: Layer, e: &ReadError) -> Option<Self> {
        let (failure, cause) = match &e.kind {
            ReadErrorKind::OutOfBounds { .. } | ReadErrorKind::TooLarge { .. } => return None,
            ReadErrorKind::Io(io) => (ReadFailure::Io, io.to_string()),
            ReadErrorKind::Layer(m) => (ReadFailure::Layer, m.clone()),
            ReadErrorKind::Budget { limit } => (
                ReadFailure::Budget,
                format!("the check already read its bound of {limit} bytes for this image"),
            ),
        };
        Some(Unreadable {
            structure: structure.into(),
            layer,
            offset: e.offset,
            len: e.len,
            failure,
            cause,
        })
    }

    /// Whether any byte of `offset..offset + len` is in this read.
    pub fn overlaps(&self, offset: u64, len: u64) -> bool {
        offset < self.offset.saturating_add(self.len.max(1))
            && self.offset < offset.saturating_add(len.max(1))
    }

    /// The finding: `gpt.read.unreadable` or `mbr.read.unreadable`.
    pub fn finding(&self) -> Finding {
        let code = if self.layer == Layer::MBR {
            "mbr.read.unreadable"
        } else {
            "gpt.read.unreadable"
        };
        let f = Finding::error(
            code,
            self.layer.clone(),
            self.offset,
            Space::Disk,
            format!(
                "the {} is unreadable at disk offset {} ({} bytes): {}; what it holds is unknown, not absent",
                self.structure, self.offset, self.len, self.cause
            ),
        );
        match self.failure {
            // Every further read wears a failing medium: copy first.
            ReadFailure::Io => f.with_hint(
                Hint::read_only("ddrescue {disk} disk.img disk.map")
                    .on(imgcheck_core::Target::Disk)
                    .because("copy what still reads before anything else, then check the copy"),
            ),
            ReadFailure::Layer => f.with_hint(Hint::advice(
                "the layer below could not produce these bytes; its findings say why",
            )),
            ReadFailure::Budget => f.with_hint(Hint::advice(
                "the check stopped at its read bound for this image; nothing past it was read",
            )),
        }
    }
}

/// Adds `u` unless a failure already recorded overlaps it: one finding
/// per bad area, named after the longest read that met it (the whole
/// header rather than the probe of its signature).
pub(crate) fn note(list: &mut Vec<Unreadable>, u: Unreadable) {
    match list.iter_mut().find(|x| x.overlaps(u.offset, u.len)) {
        Some(x) if u.len > x.len => *x = u,
        Some(_) => {}
        None => list.push(u),
    }
}

/// What a read of a table structure gave.
pub(crate) enum Got {
    /// The bytes.
    Bytes(Vec<u8>),
    /// The range is not on the disk (or over the caller's bound).
    Absent,
    /// A read that should work failed; the failure is noted.
    Unreadable,
}

/// Reads `len` bytes at `off`, noting a failure other than absence in
/// `unread` as `structure` (named only when it failed).
pub(crate) fn read_noted<R: ReadAt + ?Sized>(
    r: &R,
    off: u64,
    len: u64,
    limit: u64,
    structure: impl FnOnce() -> String,
    layer: Layer,
    unread: &mut Vec<Unreadable>,
) -> Got {
    match read_vec(r, off, len, limit) {
        Ok(b) => Got::Bytes(b),
        Err(e) => match Unreadable::from_error(structure(), layer, &e) {
            None => Got::Absent,
            Some(u) => {
                note(unread, u);
                Got::Unreadable
            }
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use imgcheck_core::BytesReader;

    #[test]
    fn past_the_end_is_absence_and_areas_are_named_once() {
        let disk = BytesReader::new(vec![0u8; 1024]);
        let mut unread = Vec::new();
        let got = read_noted(
            &disk,
            1000,
            512,
            512,
            || "x".into(),
            Layer::GPT,
            &mut unread,
        );
        assert!(matches!(got, Got::Absent) && unread.is_empty());
        let eio = |off: u64, len: u64| {
            let e = ReadError::new(
                off,
                len,
                ReadErrorKind::Io(std::io::Error::from_raw_os_error(5)),
            );
            Unreadable::from_error(format!("{len} at {off}"), Layer::GPT, &e).unwrap()
        };
        note(&mut unread, eio(512, 8));
        note(&mut unread, eio(512, 512));
        note(&mut unread, eio(600, 8));
        note(&mut unread, eio(2048, 8));
        let names: Vec<_> = unread.iter().map(|u| u.structure.as_str()).collect();
        assert_eq!(names, ["512 at 512", "8 at 2048"]);
        assert!(unread[0].overlaps(1023, 1) && !unread[0].overlaps(1024, 1));
    }
}

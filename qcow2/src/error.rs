//! Why an image cannot be opened. Most of these are damage in the image
//! (a header value QEMU refuses, a file too short for its header): the
//! caller reports them as a finding at their offset ([`Error::finding`])
//! and keeps fatal errors for what is not the image's fault (a file that
//! cannot be opened, a read the storage fails). Everything a checker can
//! keep going after is a [`imgcheck_core::Finding`] instead.

use imgcheck_core::{Finding, Hint, Layer, ReadError, ReadErrorKind, Space, Target};
use std::fmt;
use std::path::PathBuf;

/// Smallest file `qemu-img` probes as qcow2 (`qcow2_probe`: magic and a
/// version of at least 2): a shorter one is probed as raw, which cannot
/// be checked (exit 63). A longer one too short for its header is read
/// as if padded with zeros, and refused (exit 1) [measured, QEMU 10.0.2].
pub const QEMU_PROBE_BYTES: u64 = 8;

/// Why an image (or a snapshot of it) cannot be opened.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A structure could not be read from the file.
    Read {
        /// The structure being read (`"header"`, `"L1 table"` …).
        structure: &'static str,
        /// The failed read.
        source: ReadError,
    },
    /// The first four bytes are not `QFI\xfb`.
    BadMagic {
        /// The value found at offset 0.
        found: u32,
    },
    /// The file ends before the header it starts does.
    TooShort {
        /// Length of the file.
        len: u64,
        /// Bytes the header needs.
        need: u64,
        /// What needs them (`"a version 3 header"`).
        what: &'static str,
    },
    /// A QCOW version 1 image: QEMU's format before qcow2, with the same
    /// magic. Sound, but not read by this crate.
    QcowV1,
    /// A header version other than 1, 2 or 3.
    UnsupportedVersion {
        /// The version found at offset 4.
        version: u32,
    },
    /// A header field has a value no qcow2 image can have (QEMU refuses it).
    InvalidHeader {
        /// Field name as in the specification (`cluster_bits`).
        field: &'static str,
        /// Byte offset of the field (or of the structure it describes).
        offset: u64,
        /// The value found.
        value: u64,
        /// What was expected.
        expected: String,
    },
    /// A count or size from the image exceeds a stated bound (QEMU's, or
    /// this crate's `MAX_*` constants).
    LimitExceeded {
        /// The structure being sized.
        structure: &'static str,
        /// Byte offset of the field that gave the size.
        offset: u64,
        /// The value found.
        value: u64,
        /// The bound (see the `MAX_*` constants).
        limit: u64,
    },
    /// No internal snapshot has this id or name.
    SnapshotNotFound {
        /// What was asked for.
        wanted: String,
        /// `id name` of every snapshot present (shortened, at most a few).
        available: Vec<String>,
    },
    /// The image file itself could not be opened.
    Open {
        /// The path tried.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The path names something that is not an image: a FIFO, a socket or
    /// a character device (reading it would block or consume a stream).
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is (`"a FIFO"`).
        kind: &'static str,
    },
    /// An error while opening the file at `path`.
    InFile {
        /// The file the error belongs to.
        path: PathBuf,
        /// The error.
        source: Box<Error>,
    },
}

impl Error {
    /// The same error, naming the file it happened in (once: an error
    /// that already names its file is returned as it is).
    #[must_use]
    pub fn in_file(self, path: impl Into<PathBuf>) -> Error {
        match self {
            e @ (Error::InFile { .. } | Error::Open { .. } | Error::NotAFile { .. }) => e,
            e => Error::InFile {
                path: path.into(),
                source: Box::new(e),
            },
        }
    }

    /// The error itself, without the file it happened in.
    pub fn inner(&self) -> &Error {
        match self {
            Error::InFile { source, .. } => source.inner(),
            e => e,
        }
    }

    /// Whether this is damage in the image (report a finding at
    /// [`Error::offset`], exit "damaged"), not a failure to read it or a
    /// format this crate does not read.
    pub fn is_damage(&self) -> bool {
        match self.inner() {
            Error::TooShort { .. }
            | Error::UnsupportedVersion { .. }
            | Error::InvalidHeader { .. }
            | Error::LimitExceeded { .. } => true,
            Error::Read { source, .. } => !matches!(
                source.kind,
                ReadErrorKind::Io(_) | ReadErrorKind::Budget { .. }
            ),
            _ => false,
        }
    }

    /// File offset of the field or structure the error is about.
    pub fn offset(&self) -> u64 {
        match self.inner() {
            Error::Read { source, .. } => source.offset,
            Error::TooShort { len, .. } => *len,
            Error::UnsupportedVersion { .. } | Error::QcowV1 => 4,
            Error::InvalidHeader { offset, .. } | Error::LimitExceeded { offset, .. } => *offset,
            _ => 0,
        }
    }

    /// The finding code an embedder reports this error under.
    pub fn code(&self) -> &'static str {
        match self.inner() {
            Error::Read { .. } => "qcow2.header.unreadable",
            Error::BadMagic { .. } => "qcow2.header.magic",
            Error::TooShort { .. } => "qcow2.header.too_short",
            Error::QcowV1 => "qcow2.header.version_1",
            Error::UnsupportedVersion { .. } => "qcow2.header.version",
            Error::InvalidHeader { .. } => "qcow2.header.invalid",
            Error::LimitExceeded { .. } => "qcow2.header.limit",
            Error::SnapshotNotFound { .. } => "qcow2.snapshot.not_found",
            Error::Open { .. } | Error::NotAFile { .. } | Error::InFile { .. } => "qcow2.open",
        }
    }

    /// The error as a finding in the image file's space, with the next
    /// step: an error for damage, a warning for a QCOW version 1 image
    /// (sound, but nothing in it was checked).
    pub fn finding(&self) -> Finding {
        let e = self.inner();
        if matches!(e, Error::QcowV1) {
            return Finding::warning(
                self.code(),
                Layer::QCOW2,
                4,
                Space::File,
                "QCOW version 1 image (the format before qcow2): not checked",
            )
            .with_hint(
                Hint::read_only("qemu-img convert -O qcow2 {image} converted.qcow2")
                    .on(Target::Image)
                    .because("a qcow2 copy imgcheck can check; the original is only read"),
            );
        }
        Finding::error(
            self.code(),
            Layer::QCOW2,
            self.offset(),
            Space::File,
            e.to_string(),
        )
        .with_hint(
            Hint::read_only("qemu-img info {image}")
                .on(Target::Image)
                .because("says whether QEMU can open it; the header is cluster 0 of the file"),
        )
    }

    /// What `qemu-img` says after "Could not open 'IMAGE': " for this
    /// error, when it is known (the header rules QEMU applies on open).
    pub fn qemu_message(&self) -> Option<String> {
        match self.inner() {
            Error::UnsupportedVersion { version } => {
                Some(format!("Unsupported qcow2 version {version}"))
            }
            Error::InvalidHeader { expected, .. } => {
                let (_, rest) = expected.split_once("QEMU: \"")?;
                rest.rsplit_once('"').map(|(m, _)| m.to_string())
            }
            _ => None,
        }
    }

    /// The exit code `qemu-img check IMAGE` (format probed, as
    /// `--qemu-compat` runs it) gives when it cannot open such an image:
    /// 63 when qemu does not probe it as qcow2 (wrong magic, version 0,
    /// fewer than [`QEMU_PROBE_BYTES`] bytes) or probes it as QCOW
    /// version 1 (a format without checks), 1 otherwise (a file cut
    /// inside its header included: QEMU reads zeros past the end and
    /// refuses what it finds).
    pub fn qemu_exit_code(&self) -> i32 {
        match self.inner() {
            Error::TooShort { len, .. } if *len < QEMU_PROBE_BYTES => 63,
            Error::TooShort { .. } => 1,
            Error::BadMagic { .. } | Error::QcowV1 => 63,
            Error::UnsupportedVersion { version } if *version < 2 => 63,
            _ => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Read { structure, source } => write!(f, "qcow2 {structure}: {source}"),
            Error::BadMagic { found } => write!(
                f,
                "not a qcow2 image: the magic at offset 0 is {found:#010x}, qcow2's is 0x514649fb (QFI\\xfb)"
            ),
            Error::TooShort { len, need, what } => write!(
                f,
                "the file is {len} byte{}, too short for {what} ({need} bytes)",
                if *len == 1 { "" } else { "s" }
            ),
            Error::QcowV1 => write!(
                f,
                "QCOW version 1 image (the format before qcow2): not checked"
            ),
            Error::UnsupportedVersion { version } => write!(
                f,
                "qcow2 header at offset 4: version {version}; QEMU reads versions 2 and 3 (\"Unsupported qcow2 version {version}\")"
            ),
            Error::InvalidHeader {
                field,
                offset,
                value,
                expected,
            } => write!(
                f,
                "qcow2 header field {field} at offset {offset} is {value}; expected {expected}"
            ),
            Error::LimitExceeded {
                structure,
                offset,
                value,
                limit,
            } => write!(
                f,
                "qcow2 {structure} (field at offset {offset}): {value} exceeds the bound of {limit}"
            ),
            Error::SnapshotNotFound { wanted, available } => {
                if available.is_empty() {
                    write!(
                        f,
                        "no qcow2 snapshot has the id or name {wanted:?}: the image has no snapshots"
                    )
                } else {
                    write!(
                        f,
                        "no qcow2 snapshot has the id or name {wanted:?}; available (id name): {}",
                        available.join(", ")
                    )
                }
            }
            Error::Open { path, source } => write!(f, "{}: {source}", path.display()),
            Error::NotAFile { path, kind } => write!(
                f,
                "{}: is {kind}, not a regular file or block device; not opened",
                path.display()
            ),
            Error::InFile { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Read { source, .. } => Some(source),
            Error::Open { source, .. } => Some(source),
            Error::InFile { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_is_wrong_once() {
        let e = Error::TooShort {
            len: 72,
            need: 104,
            what: "a version 3 header",
        };
        assert_eq!(
            e.to_string(),
            "the file is 72 bytes, too short for a version 3 header (104 bytes)"
        );
        // qemu probes it as qcow2 (magic and version are there) and
        // refuses what it reads past the end as zeros.
        assert_eq!(e.qemu_exit_code(), 1);
        let tiny = Error::TooShort {
            len: 5,
            need: 72,
            what: "a qcow2 header",
        };
        assert_eq!(tiny.qemu_exit_code(), 63);
        assert!(e.is_damage());
        let p = Error::QcowV1.in_file("/x/a.qcow2").in_file("/x/b.qcow2");
        assert_eq!(p.to_string().matches("/x/").count(), 1);
        assert!(!p.is_damage());
        assert_eq!(p.qemu_exit_code(), 63);
        assert_eq!(p.finding().code, "qcow2.header.version_1");
        let v = Error::UnsupportedVersion { version: 4 };
        assert_eq!(v.qemu_exit_code(), 1);
        assert_eq!(
            v.qemu_message().as_deref(),
            Some("Unsupported qcow2 version 4")
        );
        assert_eq!(v.finding().offset, 4);
        assert!(!v.to_string().contains("{"));
    }

    #[test]
    fn every_error_has_its_finding_code() {
        let read = Error::Read {
            structure: "header",
            source: ReadError::new(0, 112, ReadErrorKind::OutOfBounds { len: 3 }),
        };
        let cases = [
            (read, "qcow2.header.unreadable", true),
            (Error::BadMagic { found: 1 }, "qcow2.header.magic", false),
            (
                Error::TooShort {
                    len: 3,
                    need: 72,
                    what: "a qcow2 header",
                },
                "qcow2.header.too_short",
                true,
            ),
            (
                Error::UnsupportedVersion { version: 9 },
                "qcow2.header.version",
                true,
            ),
            (
                Error::InvalidHeader {
                    field: "cluster_bits",
                    offset: 20,
                    value: 30,
                    expected: "9..=21".into(),
                },
                "qcow2.header.invalid",
                true,
            ),
            (
                Error::LimitExceeded {
                    structure: "active L1 table",
                    offset: 36,
                    value: 1 << 40,
                    limit: 1 << 25,
                },
                "qcow2.header.limit",
                true,
            ),
            (
                Error::SnapshotNotFound {
                    wanted: "x".into(),
                    available: vec![],
                },
                "qcow2.snapshot.not_found",
                false,
            ),
        ];
        for (e, code, damage) in cases {
            assert_eq!(e.code(), code);
            assert_eq!(e.is_damage(), damage, "{code}");
            let f = e.finding();
            assert_eq!(f.code, code);
            assert!(
                !f.message.contains("Some(") && !f.message.contains(" {"),
                "{}",
                f.message
            );
        }
    }
}

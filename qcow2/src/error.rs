//! Fatal errors: the image cannot be opened or read any further. Everything
//! a checker can keep going after is a [`imgcheck_core::Finding`] instead.

use imgcheck_core::ReadError;
use std::fmt;
use std::path::PathBuf;

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
    /// A header version other than 2 or 3.
    UnsupportedVersion {
        /// The version found at offset 4.
        version: u32,
    },
    /// A header field has a value no qcow2 image can have.
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
    /// A count or size from the image exceeds a stated bound of this crate.
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
        /// `id name` of every snapshot present.
        available: Vec<String>,
    },
    /// The image file itself could not be opened.
    Open {
        /// The path tried.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
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
    /// The same error, naming the file it happened in.
    #[must_use]
    pub fn in_file(self, path: impl Into<PathBuf>) -> Error {
        match self {
            e @ (Error::InFile { .. } | Error::Open { .. }) => e,
            e => Error::InFile {
                path: path.into(),
                source: Box::new(e),
            },
        }
    }

    /// The exit code `qemu-img check` gives when it cannot open such an
    /// image: 63 when the magic is wrong (qemu probes it as raw, which
    /// it cannot check), 1 otherwise.
    pub fn qemu_exit_code(&self) -> i32 {
        match self {
            Error::BadMagic { .. } => 63,
            Error::InFile { source, .. } => source.qemu_exit_code(),
            _ => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Read { structure, source } => write!(f, "qcow2 {structure}: {source}"),
            Error::BadMagic { found } => {
                write!(
                    f,
                    "qcow2 header at offset 0: magic is {found:#010x}, expected 0x514649fb"
                )
            }
            Error::UnsupportedVersion { version } => {
                write!(
                    f,
                    "qcow2 header at offset 4: version {version}, expected 2 or 3"
                )
            }
            Error::InvalidHeader {
                field,
                offset,
                value,
                expected,
            } => write!(
                f,
                "qcow2 header field {field} at offset {offset}: value {value}, expected {expected}"
            ),
            Error::LimitExceeded {
                structure,
                offset,
                value,
                limit,
            } => write!(
                f,
                "qcow2 {structure} (field at offset {offset}): size {value} exceeds the bound of {limit}"
            ),
            Error::SnapshotNotFound { wanted, available } => {
                if available.is_empty() {
                    write!(
                        f,
                        "no qcow2 snapshot named {wanted:?}: the image has no snapshots"
                    )
                } else {
                    write!(
                        f,
                        "no qcow2 snapshot named {wanted:?}; available (id name): {}",
                        available.join(", ")
                    )
                }
            }
            Error::Open { path, source } => write!(f, "{}: {source}", path.display()),
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

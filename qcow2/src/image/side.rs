//! Opening the files an image names — its backing file and its external
//! data file — and the image itself by path: only regular files and block
//! devices are read. A FIFO, socket or character device would block the
//! open or the first read (a FIFO waits for a writer) or consume a stream,
//! so the type is checked before opening, the open itself does not block
//! (`O_NONBLOCK`), and the type is checked again on the opened file.
//! Files are told apart by (device, inode), not by name, so a chain of
//! hard links to one file is seen as the loop it is.

use imgcheck_core::{ReadAt, ReadError, ReadErrorKind};
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// (device, inode) of an opened file.
pub(crate) type FileId = (u64, u64);

/// Why a named file was not opened.
#[derive(Debug)]
pub(crate) enum SideError {
    /// It does not exist.
    Missing(std::io::Error),
    /// It is not a regular file or block device (`"a FIFO"` …).
    NotAFile(&'static str),
    /// It exists but cannot be opened or sized.
    Unreadable(std::io::Error),
}

impl SideError {
    /// What became of the file at `path`, as words that follow its name
    /// (`is missing: nothing at /vm/disk.data`): the path once, and the
    /// OS error without Rust's "(os error N)".
    pub(crate) fn at(&self, path: &Path) -> String {
        match self {
            SideError::Missing(_) => format!("is missing: nothing at {}", path.display()),
            SideError::NotAFile(k) => format!(
                "is not opened: {} is {k}, not a regular file or block device",
                path.display()
            ),
            SideError::Unreadable(e) => {
                format!("cannot be opened at {}: {}", path.display(), os_text(e))
            }
        }
    }
}

/// An OS error's text without Rust's "(os error N)" suffix.
fn os_text(e: &std::io::Error) -> String {
    let t = e.to_string();
    match t.rfind(" (os error ") {
        Some(i) if t.ends_with(')') => t.get(..i).unwrap_or(&t).to_string(),
        _ => t,
    }
}

impl std::fmt::Display for SideError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SideError::Missing(e) | SideError::Unreadable(e) => write!(f, "{}", os_text(e)),
            SideError::NotAFile(k) => write!(
                f,
                "it is {k}, not a regular file or block device, so it was not opened"
            ),
        }
    }
}

/// What kind of file `md` describes, when it is not one imgcheck reads.
fn refused_kind(ft: std::fs::FileType) -> Option<&'static str> {
    if ft.is_file() || ft.is_block_device() {
        None
    } else if ft.is_fifo() {
        Some("a FIFO")
    } else if ft.is_socket() {
        Some("a socket")
    } else if ft.is_char_device() {
        Some("a character device")
    } else if ft.is_dir() {
        Some("a directory")
    } else {
        Some("not a regular file")
    }
}

/// A regular file or block device opened read-only (never for writing,
/// never locked), read with pread; its length is taken once.
#[derive(Debug)]
pub(crate) struct SideFile {
    file: File,
    len: u64,
    path: PathBuf,
}

impl SideFile {
    /// The path it was opened from.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// Opens `path` if it is a regular file or a block device.
pub(crate) fn open_side(path: &Path) -> Result<(SideFile, FileId), SideError> {
    let md = std::fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            SideError::Missing(e)
        } else {
            SideError::Unreadable(e)
        }
    })?;
    if let Some(k) = refused_kind(md.file_type()) {
        return Err(SideError::NotAFile(k));
    }
    let nonblock = i32::try_from(rustix::fs::OFlags::NONBLOCK.bits()).unwrap_or(0);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nonblock)
        .open(path)
        .map_err(SideError::Unreadable)?;
    // Checked again on what was opened: the name may have been swapped.
    let md = file.metadata().map_err(SideError::Unreadable)?;
    imgcheck_core::note_opened(&md);
    if let Some(k) = refused_kind(md.file_type()) {
        return Err(SideError::NotAFile(k));
    }
    let len = if md.file_type().is_block_device() {
        file.seek(SeekFrom::End(0)).map_err(SideError::Unreadable)?
    } else {
        md.len()
    };
    Ok((
        SideFile {
            file,
            len,
            path: path.to_path_buf(),
        },
        (md.dev(), md.ino()),
    ))
}

/// (device, inode) of `path`, when it can be looked up.
pub(crate) fn file_id(path: &Path) -> Option<FileId> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

impl ReadAt for SideFile {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let n = u64::try_from(buf.len()).unwrap_or(u64::MAX);
        match offset.checked_add(n) {
            Some(end) if end <= self.len => {}
            _ => {
                return Err(ReadError::new(
                    offset,
                    n,
                    ReadErrorKind::OutOfBounds { len: self.len },
                ));
            }
        }
        // A file that shrank under us reads short: an I/O error naming
        // the file, never data.
        self.file.read_exact_at(buf, offset).map_err(|e| {
            let text = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                let now = self
                    .file
                    .metadata()
                    .map_or(String::new(), |m| format!(", now {} bytes", m.len()));
                format!(
                    "{} ended early: it was {} bytes when opened{now}, so it shrank during the check",
                    self.path.display(),
                    self.len
                )
            } else {
                format!("{}: {e}", self.path.display())
            };
            ReadError::new(
                offset,
                n,
                ReadErrorKind::Io(std::io::Error::new(e.kind(), text)),
            )
        })
    }

    /// A hole of a sparse file reads as zeros: lseek(SEEK_DATA) says where
    /// the next data is without reading it.
    fn known_zero(&self, offset: u64, len: u64) -> bool {
        let Some(end) = offset.checked_add(len) else {
            return false;
        };
        if end > self.len || len == 0 {
            return false;
        }
        match rustix::fs::seek(&self.file, rustix::fs::SeekFrom::Data(offset)) {
            Ok(next_data) => next_data >= end,
            Err(e) => e == rustix::io::Errno::NXIO,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fifo");
        let st = std::process::Command::new("mkfifo").arg(&p).status();
        if !st.is_ok_and(|s| s.success()) {
            println!("skipped: mkfifo not available");
            return;
        }
        let t = Instant::now();
        assert!(matches!(open_side(&p), Err(SideError::NotAFile("a FIFO"))));
        assert!(t.elapsed() < Duration::from_secs(2));
        assert!(matches!(
            open_side(Path::new("/dev/null")),
            Err(SideError::NotAFile("a character device"))
        ));
        assert!(matches!(
            open_side(&dir.path().join("none")),
            Err(SideError::Missing(_))
        ));
    }

    #[test]
    fn hard_links_share_an_identity() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, [1u8; 10]).unwrap();
        std::fs::hard_link(&a, &b).unwrap();
        let (fa, ia) = open_side(&a).unwrap();
        let (_, ib) = open_side(&b).unwrap();
        assert_eq!(ia, ib);
        assert_eq!(fa.len(), 10);
        let mut x = [0u8; 4];
        assert!(fa.read_exact_at(8, &mut x).is_err());
    }
}

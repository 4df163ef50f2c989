//! One read path for every layer: "read exactly N bytes at byte offset X",
//! with the total length known up front. A read that would cross the end is
//! an error value — a short read is never handed on as data, because a
//! checker that parses half a structure reports nonsense.

use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a positioned read failed.
#[derive(Debug)]
pub enum ReadErrorKind {
    /// The range reaches past the end of the reader, whose length is given.
    OutOfBounds {
        /// Length of the reader in bytes.
        len: u64,
    },
    /// The operating system failed the read.
    Io(io::Error),
    /// A layer below could not produce these bytes (e.g. a qcow2 cluster
    /// whose table entry is corrupt, or a compression it cannot decode).
    Layer(String),
    /// The caller asked for more than the stated bound allows.
    TooLarge {
        /// The bound that was exceeded, in bytes.
        limit: u64,
    },
    /// The image's total read bound ([`crate::Budget`]) is used up.
    Budget {
        /// The bound, in bytes read.
        limit: u64,
    },
}

/// A failed positioned read: where, how much, and why.
#[derive(Debug)]
pub struct ReadError {
    /// Byte offset the read started at, in the reader's own space.
    pub offset: u64,
    /// Number of bytes asked for.
    pub len: u64,
    /// What went wrong.
    pub kind: ReadErrorKind,
}

impl ReadError {
    /// A read error of the given kind for `len` bytes at `offset`.
    pub fn new(offset: u64, len: u64, kind: ReadErrorKind) -> Self {
        ReadError { offset, len, kind }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ReadErrorKind::OutOfBounds { len } => write!(
                f,
                "reading {} bytes at offset {} goes past the end ({} bytes)",
                self.len, self.offset, len
            ),
            ReadErrorKind::Io(e) => {
                write!(
                    f,
                    "reading {} bytes at offset {}: {e}",
                    self.len, self.offset
                )
            }
            ReadErrorKind::Layer(msg) => {
                write!(
                    f,
                    "reading {} bytes at offset {}: {msg}",
                    self.len, self.offset
                )
            }
            ReadErrorKind::TooLarge { limit } => write!(
                f,
                "refusing to read {} bytes at offset {}: more than the {limit}-byte bound",
                self.len, self.offset
            ),
            ReadErrorKind::Budget { limit } => write!(
                f,
                "not reading {} bytes at offset {}: the check already read its bound of {limit} bytes for this image",
                self.len, self.offset
            ),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ReadErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Positioned reads of a byte range whose length is known.
///
/// Implementations take `&self` so that one reader can serve several
/// threads (pread needs no cursor); those with caches use interior locking.
pub trait ReadAt: Send + Sync {
    /// Total length in bytes.
    fn len(&self) -> u64;

    /// Fills `buf` with the bytes at `offset..offset + buf.len()`, or fails.
    /// A range reaching past [`ReadAt::len`] is an
    /// [`ReadErrorKind::OutOfBounds`] error.
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError>;

    /// True when the reader holds no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `offset..offset+len` is known to read as zeros without
    /// reading it (a qcow2 cluster that is unallocated or a zero cluster).
    /// `false` means "unknown", not "non-zero"; the default knows nothing.
    fn known_zero(&self, _offset: u64, _len: u64) -> bool {
        false
    }
}

/// Checks `offset..offset+len` against `total` without overflow.
fn check_range(offset: u64, len: usize, total: u64) -> Result<(), ReadError> {
    let len64 = u64::try_from(len).unwrap_or(u64::MAX);
    match offset.checked_add(len64) {
        Some(end) if end <= total => Ok(()),
        _ => Err(ReadError::new(
            offset,
            len64,
            ReadErrorKind::OutOfBounds { len: total },
        )),
    }
}

/// Reads `len` bytes at `offset` into a new vector, refusing (before
/// allocating) when `len` exceeds `limit` or the reader's end. Lengths read
/// from an image go through here so a hostile header cannot size an
/// allocation.
pub fn read_vec(
    reader: &(impl ReadAt + ?Sized),
    offset: u64,
    len: u64,
    limit: u64,
) -> Result<Vec<u8>, ReadError> {
    if len > limit {
        return Err(ReadError::new(
            offset,
            len,
            ReadErrorKind::TooLarge { limit },
        ));
    }
    let n = usize::try_from(len)
        .map_err(|_| ReadError::new(offset, len, ReadErrorKind::TooLarge { limit }))?;
    match offset.checked_add(len) {
        Some(end) if end <= reader.len() => {}
        _ => {
            return Err(ReadError::new(
                offset,
                len,
                ReadErrorKind::OutOfBounds { len: reader.len() },
            ));
        }
    }
    let mut buf = vec![0u8; n];
    reader.read_exact_at(offset, &mut buf)?;
    Ok(buf)
}

impl<T: ReadAt + ?Sized> ReadAt for &T {
    fn len(&self) -> u64 {
        (**self).len()
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        (**self).read_exact_at(offset, buf)
    }
    fn known_zero(&self, offset: u64, len: u64) -> bool {
        (**self).known_zero(offset, len)
    }
}

impl<T: ReadAt + ?Sized> ReadAt for Box<T> {
    fn len(&self) -> u64 {
        (**self).len()
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        (**self).read_exact_at(offset, buf)
    }
    fn known_zero(&self, offset: u64, len: u64) -> bool {
        (**self).known_zero(offset, len)
    }
}

impl<T: ReadAt + ?Sized> ReadAt for Arc<T> {
    fn len(&self) -> u64 {
        (**self).len()
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        (**self).read_exact_at(offset, buf)
    }
    fn known_zero(&self, offset: u64, len: u64) -> bool {
        (**self).known_zero(offset, len)
    }
}

/// What kind of file a path names, when it is not one imgcheck reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A directory.
    Directory,
    /// A FIFO (named pipe): opening it waits for a writer, reading it
    /// consumes the stream.
    Fifo,
    /// A Unix socket.
    Socket,
    /// A character device (`/dev/null`, a tty): a stream, no size.
    CharDevice,
    /// Anything else that is not a regular file or block device.
    Other,
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Directory => "a directory",
            FileKind::Fifo => "a FIFO (named pipe)",
            FileKind::Socket => "a socket",
            FileKind::CharDevice => "a character device",
            FileKind::Other => "not a regular file",
        })
    }
}

impl FileKind {
    /// The kind of `ft`, or `None` for a regular file or block device.
    pub fn refused(ft: std::fs::FileType) -> Option<FileKind> {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_file() || ft.is_block_device() {
            None
        } else if ft.is_dir() {
            Some(FileKind::Directory)
        } else if ft.is_fifo() {
            Some(FileKind::Fifo)
        } else if ft.is_socket() {
            Some(FileKind::Socket)
        } else if ft.is_char_device() {
            Some(FileKind::CharDevice)
        } else {
            Some(FileKind::Other)
        }
    }
}

/// Why a path was not opened as an image. None of these is the image's
/// fault: the file is not there, not readable, or not a file with bytes
/// at offsets.
#[derive(Debug)]
pub enum OpenError {
    /// Nothing at that path.
    Missing(io::Error),
    /// Not a regular file or block device: a FIFO, socket or character
    /// device would block the open or the first read, or consume a stream.
    NotAFile(FileKind),
    /// It exists but cannot be opened read-only or sized.
    Unreadable(io::Error),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Missing(_) => f.write_str("no such file"),
            OpenError::NotAFile(FileKind::Directory) => f.write_str("is a directory"),
            OpenError::NotAFile(k) => write!(
                f,
                "is {k}, not a regular file or block device: refused without reading from it"
            ),
            OpenError::Unreadable(e) => write!(f, "cannot be opened read-only: {}", os_text(e)),
        }
    }
}

impl std::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OpenError::Missing(e) | OpenError::Unreadable(e) => Some(e),
            OpenError::NotAFile(_) => None,
        }
    }
}

/// An OS error's text without Rust's "(os error N)" suffix.
fn os_text(e: &io::Error) -> String {
    let t = e.to_string();
    match t.rfind(" (os error ") {
        Some(i) if t.ends_with(')') => t.get(..i).unwrap_or(&t).to_string(),
        _ => t,
    }
}

impl From<OpenError> for io::Error {
    fn from(e: OpenError) -> io::Error {
        let kind = match &e {
            OpenError::Missing(_) => io::ErrorKind::NotFound,
            OpenError::NotAFile(_) => io::ErrorKind::InvalidInput,
            OpenError::Unreadable(e) => e.kind(),
        };
        io::Error::new(kind, e)
    }
}

/// An image file or block device opened read-only, read with pread.
///
/// pread rather than mmap: a file truncated underneath an mmap raises
/// SIGBUS, and imgcheck is run on live and truncated images.
#[derive(Debug)]
pub struct FileReader {
    file: File,
    len: u64,
    path: PathBuf,
    id: (u64, u64),
    block_device: bool,
    /// The last data extent `[start, end)` SEEK_DATA/SEEK_HOLE found: a
    /// check that asks about every 4 KiB block it reads (an inode table,
    /// block by block) is answered from it instead of one lseek per block
    /// (65,560 lseeks on a 1 M-file guest). A stale extent can only say
    /// "data", which costs a read, never a wrong zero.
    data: std::sync::Mutex<(u64, u64)>,
}

impl FileReader {
    /// Opens `path` read-only (never for writing, never locked) and takes
    /// its length once; reads beyond that length fail even if the file
    /// grows. Only regular files and block devices are opened (see
    /// [`FileReader::try_open`]); the error wraps an [`OpenError`].
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        Self::try_open(path).map_err(io::Error::from)
    }

    /// [`FileReader::open`] with a typed error. The file type is checked
    /// before opening (a FIFO's open would wait for a writer), the open
    /// does not block (`O_NONBLOCK`: no effect on regular files and block
    /// devices), and the type is checked again on what was opened, since
    /// the name may have been swapped in between. A block device's length
    /// is where a seek to its end lands (the kernel's BLKGETSIZE64).
    pub fn try_open(path: impl AsRef<Path>) -> Result<Self, OpenError> {
        use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
        let path = path.as_ref();
        let md = std::fs::metadata(path).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                OpenError::Missing(e)
            } else {
                OpenError::Unreadable(e)
            }
        })?;
        if let Some(k) = FileKind::refused(md.file_type()) {
            return Err(OpenError::NotAFile(k));
        }
        let nonblock = rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(i32::try_from(nonblock.bits()).unwrap_or(0))
            .open(path)
            .map_err(OpenError::Unreadable)?;
        let md = file.metadata().map_err(OpenError::Unreadable)?;
        if let Some(k) = FileKind::refused(md.file_type()) {
            return Err(OpenError::NotAFile(k));
        }
        note_opened(&md);
        let block_device = md.file_type().is_block_device();
        let len = if block_device {
            rustix::fs::seek(&file, rustix::fs::SeekFrom::End(0))
                .map_err(|e| OpenError::Unreadable(e.into()))?
        } else {
            md.len()
        };
        Ok(FileReader {
            file,
            len,
            path: path.to_path_buf(),
            id: (md.dev(), md.ino()),
            block_device,
            data: std::sync::Mutex::new((0, 0)),
        })
    }

    /// The path the file was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// (device, inode): the file's identity whatever name it was opened
    /// by, so hard links and symlinks to one file are one file.
    pub fn identity(&self) -> (u64, u64) {
        self.id
    }

    /// The file's length now (fstat of the open file), when it is a
    /// regular file: another process may have truncated or extended it
    /// since it was opened. `None` for a block device.
    pub fn len_now(&self) -> Option<u64> {
        if self.block_device {
            return None;
        }
        self.file.metadata().ok().map(|m| m.len())
    }

    /// Whether it is a block device (a disk, a loop device), not a file.
    pub fn is_block_device(&self) -> bool {
        self.block_device
    }
}

impl ReadAt for FileReader {
    fn len(&self) -> u64 {
        self.len
    }

    /// A hole of a sparse file reads as zeros: lseek(SEEK_DATA) says where
    /// the next data is without reading. Filesystems without hole support
    /// report data everywhere, which only means "unknown".
    fn known_zero(&self, offset: u64, len: u64) -> bool {
        let Some(end) = offset.checked_add(len) else {
            return false;
        };
        if end > self.len || len == 0 {
            return false;
        }
        let known = self.data.lock().map(|g| *g).unwrap_or((0, 0));
        if known.0 <= offset && offset < known.1 {
            return false;
        }
        match rustix::fs::seek(&self.file, rustix::fs::SeekFrom::Data(offset)) {
            Ok(next_data) if next_data >= end => true,
            Ok(next_data) => {
                // Data inside the range: where it ends, for the next asks.
                if let Ok(hole) =
                    rustix::fs::seek(&self.file, rustix::fs::SeekFrom::Hole(next_data))
                    && let Ok(mut g) = self.data.lock()
                {
                    *g = (next_data, hole);
                }
                false
            }
            // ENXIO: no data at or after offset (the rest is a hole).
            Err(e) => e == rustix::io::Errno::NXIO,
        }
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        check_range(offset, buf.len(), self.len)?;
        self.file.read_exact_at(buf, offset).map_err(|e| {
            let len = u64::try_from(buf.len()).unwrap_or(u64::MAX);
            // The file shrank since it was opened (another process
            // truncated it): a failed read naming the file and both
            // lengths, never the end of a structure the image lacks.
            let text = if e.kind() == io::ErrorKind::UnexpectedEof {
                let now = self.file.metadata().map_or(String::new(), |m| {
                    format!(", now {} bytes", m.len())
                });
                format!(
                    "{} ended early: it was {} bytes when opened{now}, so it shrank during the check",
                    self.path.display(),
                    self.len
                )
            } else {
                format!("{}: {}", self.path.display(), os_text(&e))
            };
            ReadError::new(offset, len, ReadErrorKind::Io(io::Error::new(e.kind(), text)))
        })
    }
}

/// Bytes in memory: for tests, fuzzing, and embedders that already hold
/// an image.
#[derive(Debug, Clone)]
pub struct BytesReader {
    bytes: Arc<[u8]>,
}

impl BytesReader {
    /// Wraps `bytes`.
    pub fn new(bytes: impl Into<Arc<[u8]>>) -> Self {
        BytesReader {
            bytes: bytes.into(),
        }
    }

    /// The bytes held.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl ReadAt for BytesReader {
    fn len(&self) -> u64 {
        u64::try_from(self.bytes.len()).unwrap_or(u64::MAX)
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        check_range(offset, buf.len(), self.len())?;
        // check_range proved offset + len <= bytes.len(), so both convert.
        let start = usize::try_from(offset).map_err(|_| {
            ReadError::new(offset, 0, ReadErrorKind::OutOfBounds { len: self.len() })
        })?;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| self.bytes.get(start..end))
            .ok_or_else(|| {
                ReadError::new(offset, 0, ReadErrorKind::OutOfBounds { len: self.len() })
            })?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// A window `start..start+len` of another reader: a partition of a disk.
#[derive(Debug, Clone)]
pub struct Slice<R> {
    inner: R,
    start: u64,
    len: u64,
}

impl<R: ReadAt> Slice<R> {
    /// The window `start..start+len` of `inner`, or `None` when it does not
    /// lie inside `inner` (use [`Slice::clamped`] for a partition that runs
    /// past the end of a truncated disk).
    pub fn new(inner: R, start: u64, len: u64) -> Option<Self> {
        let end = start.checked_add(len)?;
        (end <= inner.len()).then_some(Slice { inner, start, len })
    }

    /// The window cut to what `inner` holds: a partition table may claim
    /// more than a truncated image has, and the filesystem inside should
    /// still be read as far as it goes.
    pub fn clamped(inner: R, start: u64, len: u64) -> Self {
        let total = inner.len();
        let start = start.min(total);
        let len = len.min(total.saturating_sub(start));
        Slice { inner, start, len }
    }

    /// Where the window starts in the inner reader.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// The reader underneath.
    pub fn inner(&self) -> &R {
        &self.inner
    }
}

impl<R: ReadAt> ReadAt for Slice<R> {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        check_range(offset, buf.len(), self.len)?;
        // start + offset + len <= start + self.len <= inner.len(): no overflow.
        let at = self.start.checked_add(offset).ok_or_else(|| {
            ReadError::new(offset, 0, ReadErrorKind::OutOfBounds { len: self.len })
        })?;
        self.inner.read_exact_at(at, buf).map_err(|mut e| {
            // Report the offset in this window's own space, as the caller asked.
            e.offset = offset;
            e
        })
    }

    fn known_zero(&self, offset: u64, len: u64) -> bool {
        self.start
            .checked_add(offset)
            .is_some_and(|at| self.inner.known_zero(at, len))
    }
}

/// Distinct files one process remembers having opened; past this every
/// path counts as opened, so a write the registry cannot vouch for is
/// refused rather than let through.
const MAX_OPENED: usize = 1 << 20;

/// (device, inode) of every file this process opened to read an image or
/// a file an image names (a qcow2 backing or external data file): what a
/// write the run makes (`--lost-files`) must never land on.
static OPENED: std::sync::Mutex<Option<std::collections::HashSet<(u64, u64)>>> =
    std::sync::Mutex::new(None);
static OPENED_OVERFLOW: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Records that the file `md` describes was opened for reading.
pub fn note_opened(md: &std::fs::Metadata) {
    use std::os::unix::fs::MetadataExt;
    let Ok(mut g) = OPENED.lock() else {
        OPENED_OVERFLOW.store(true, std::sync::atomic::Ordering::Relaxed);
        return;
    };
    let set = g.get_or_insert_with(Default::default);
    if set.len() >= MAX_OPENED {
        OPENED_OVERFLOW.store(true, std::sync::atomic::Ordering::Relaxed);
        return;
    }
    set.insert((md.dev(), md.ino()));
}

/// Whether `path` names a file this process opened for reading (the same
/// inode under any name), as far as [`note_opened`] was told; `true` when
/// the registry overflowed, as it can no longer tell.
pub fn opened_by_this_process(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    if OPENED_OVERFLOW.load(std::sync::atomic::Ordering::Relaxed) {
        return true;
    }
    let Ok(md) = std::fs::metadata(path) else {
        return false;
    };
    OPENED
        .lock()
        .map(|g| {
            g.as_ref()
                .is_some_and(|s| s.contains(&(md.dev(), md.ino())))
        })
        .unwrap_or(true)
}

#[cfg(test)]
#[allow(clippy::as_conversions, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    /// The extent remembered between asks never turns data into zeros:
    /// the same answers, in any order, as a fresh lseek each time, on a
    /// sparse file with two 4 KiB data blocks (at 1 and 3 MiB).
    #[test]
    fn known_zero_remembers_data_extents_without_lying() {
        let dir = std::env::temp_dir().join(format!("imgcheck-kz-{}", std::process::id()));
        let f = File::create(&dir).unwrap();
        f.set_len(4 << 20).unwrap();
        f.write_all_at(&[7u8; 4096], 1 << 20).unwrap();
        f.write_all_at(&[7u8; 4096], 3 << 20).unwrap();
        f.sync_all().unwrap();
        let r = FileReader::open(&dir).unwrap();
        if !r.known_zero(0, 4096) {
            println!("skipped: this filesystem reports no holes");
            let _ = std::fs::remove_file(&dir);
            return;
        }
        let asks = [
            (1 << 20, 4096, false),
            (1 << 20, 16, false),
            ((1 << 20) + 4096, 4096, true),
            ((1 << 20) - 4096, 4096, true),
            ((1 << 20) - 4096, 8192, false),
            (2 << 20, 4096, true),
            (3 << 20, 4096, false),
            (1 << 20, 4096, false),
            ((3 << 20) + 4096, 4096, true),
            (0, 4 << 20, false),
        ];
        for _round in 0..2 {
            for &(off, len, zero) in &asks {
                assert_eq!(r.known_zero(off, len), zero, "{off}+{len}");
            }
        }
        let _ = std::fs::remove_file(&dir);
    }

    fn disk() -> BytesReader {
        BytesReader::new((0..=255u8).cycle().take(4096).collect::<Vec<_>>())
    }

    #[test]
    fn bytes_reader_reads_and_refuses_past_end() {
        let d = disk();
        let mut b = [0u8; 4];
        d.read_exact_at(254, &mut b).unwrap();
        assert_eq!(b, [254, 255, 0, 1]);
        let e = d.read_exact_at(4094, &mut b).unwrap_err();
        assert!(matches!(e.kind, ReadErrorKind::OutOfBounds { len: 4096 }));
        assert!(d.read_exact_at(u64::MAX - 1, &mut b).is_err());
    }

    #[test]
    fn slice_windows_and_bounds() {
        let d = disk();
        let s = Slice::new(&d, 1000, 100).unwrap();
        let mut b = [0u8; 2];
        s.read_exact_at(0, &mut b).unwrap();
        assert_eq!(b, [(1000 % 256) as u8, (1001 % 256) as u8]);
        let e = s.read_exact_at(99, &mut b).unwrap_err();
        assert_eq!(e.offset, 99);
        assert!(Slice::new(&d, 4000, 200).is_none());
        assert!(Slice::new(&d, u64::MAX, 2).is_none());
        let c = Slice::clamped(&d, 4000, 200);
        assert_eq!(c.len(), 96);
        assert_eq!(Slice::clamped(&d, 9000, 5).len(), 0);
    }

    #[test]
    fn read_vec_bounds_before_allocating() {
        let d = disk();
        assert_eq!(read_vec(&d, 10, 3, 16).unwrap(), vec![10, 11, 12]);
        let e = read_vec(&d, 0, 1 << 40, 1 << 20).unwrap_err();
        assert!(matches!(e.kind, ReadErrorKind::TooLarge { .. }));
        let e = read_vec(&d, 4000, 200, 1 << 20).unwrap_err();
        assert!(matches!(e.kind, ReadErrorKind::OutOfBounds { .. }));
    }

    #[test]
    fn only_regular_files_and_block_devices_are_opened() {
        let dir = std::env::temp_dir().join(format!("imgcheck-kinds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A FIFO without a writer: a blocking open would wait forever, so
        // this test returning at all shows the open did not block.
        let fifo = dir.join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let e = FileReader::try_open(&fifo).unwrap_err();
            assert!(matches!(e, OpenError::NotAFile(FileKind::Fifo)), "{e:?}");
            assert!(e.to_string().starts_with("is a FIFO"), "{e}");
        } else {
            println!("skipped the FIFO case: mkfifo is not available");
        }
        let sock = dir.join("sock");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        assert!(matches!(
            FileReader::try_open(&sock),
            Err(OpenError::NotAFile(FileKind::Socket))
        ));
        assert!(matches!(
            FileReader::try_open("/dev/null"),
            Err(OpenError::NotAFile(FileKind::CharDevice))
        ));
        assert!(matches!(
            FileReader::try_open(&dir),
            Err(OpenError::NotAFile(FileKind::Directory))
        ));
        let e = FileReader::try_open(dir.join("none")).unwrap_err();
        assert!(matches!(e, OpenError::Missing(_)));
        assert_eq!(e.to_string(), "no such file");
        // The io::Error form keeps the kind and the typed cause.
        let io = FileReader::open(dir.join("none")).unwrap_err();
        assert_eq!(io.kind(), io::ErrorKind::NotFound);
        // Hard links are one file.
        let a = dir.join("a");
        let b = dir.join("b");
        std::fs::write(&a, [7u8; 512]).unwrap();
        std::fs::hard_link(&a, &b).unwrap();
        let (ra, rb) = (FileReader::open(&a).unwrap(), FileReader::open(&b).unwrap());
        assert_eq!(ra.identity(), rb.identity());
        assert!(!ra.is_block_device());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn file_reader_is_read_only_and_bounded() {
        let dir = std::env::temp_dir().join(format!("imgcheck-core-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("f.img");
        std::fs::write(&p, b"hello world").unwrap();
        let r = FileReader::open(&p).unwrap();
        assert_eq!(r.len(), 11);
        let mut b = [0u8; 5];
        r.read_exact_at(6, &mut b).unwrap();
        assert_eq!(&b, b"world");
        assert!(r.read_exact_at(7, &mut b).is_err());
        // A sparse file's hole is known to be zero, data is not.
        let sparse = dir.join("sparse.img");
        let f = std::fs::File::create(&sparse).unwrap();
        f.set_len(8 << 20).unwrap();
        use std::os::unix::fs::FileExt;
        f.write_all_at(&[1u8; 4096], 4 << 20).unwrap();
        drop(f);
        let sr = FileReader::open(&sparse).unwrap();
        assert!(!sr.known_zero(4 << 20, 4096), "data is not a hole");
        assert!(
            !sr.known_zero(0, 8 << 20),
            "a range with data in it is not zero"
        );
        assert!(
            !sr.known_zero(0, 9 << 20),
            "past the end is never known zero"
        );
        // Hole detection depends on the filesystem; where it works, the
        // first MiB (never written) is a hole.
        let _ = sr.known_zero(0, 1 << 20);
        // Truncated after opening: the read fails, it does not return zeros.
        std::fs::write(&p, b"hi").unwrap();
        assert!(r.read_exact_at(6, &mut b).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

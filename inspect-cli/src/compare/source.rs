//! One copy as the comparison reads it: the guest disk (a raw file, a
//! qcow2 image's current state or one of its internal snapshots) and, for
//! every guest offset, where its bytes come from — so runs that two copies
//! draw from the same bytes of the same file, or that both read as zeros,
//! are compared without reading them.

use imgcheck_core::{FileReader, ReadAt, ReadError, ReadErrorKind};
use imgcheck_qcow2::{BackingState, Guest, Image, OpenOptions, QCOW2_MAGIC, Source};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Backing images followed at most when a run is traced to the file that
/// holds it (the qcow2 crate's own chain bound is the same).
const MAX_TRACE_DEPTH: usize = 64;

/// A file by device and inode: two names of one file are one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    /// The file at `path`, when it can be stat'ed.
    pub fn of(path: &Path) -> Option<FileId> {
        let m = std::fs::metadata(path).ok()?;
        Some(FileId {
            dev: m.dev(),
            ino: m.ino(),
        })
    }
}

/// Where a run of guest bytes really lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Reads as zeros without reading anything (a zero or unallocated
    /// cluster with nothing beneath, a hole of a sparse file).
    Zero,
    /// Bytes of a file: `(file, external data file, host offset)`.
    Bytes(FileId, bool, u64),
    /// Inside a compressed cluster of a file: `(file, entry, intra)`.
    Compressed(FileId, u64, u64),
    /// Only reading tells (a file that could not be stat'ed, a broken
    /// backing link): always read.
    Unknown,
}

impl Origin {
    /// Whether two copies' runs are the same bytes without reading them.
    pub fn same(self, other: Origin) -> bool {
        match (self, other) {
            (Origin::Zero, Origin::Zero) => true,
            (Origin::Unknown, _) | (_, Origin::Unknown) => false,
            (a, b) => a == b,
        }
    }
}

/// One level of a copy's chain: what a guest offset is read through.
enum Level {
    Qcow2(Guest, Option<FileId>),
    Raw(Arc<dyn ReadAt>, Option<std::fs::File>, Option<FileId>),
    /// A backing file that could not be opened (missing, unreadable, a
    /// loop, too deep): what the guest reads through it is unknown, not
    /// zeros, so it is read, and the read says why it fails.
    Broken,
}

/// A copy opened for comparison.
pub struct Copy {
    /// What the report calls it (`PATH` or `PATH@SNAPSHOT`).
    pub label: String,
    /// The image file.
    pub path: PathBuf,
    /// The internal snapshot shown, when one was asked for.
    pub snapshot: Option<String>,
    /// The guest disk as a reader.
    pub disk: Arc<dyn ReadAt>,
    /// The qcow2 image, when the copy is one (for its snapshots and backing link).
    pub image: Option<Arc<Image>>,
    levels: Vec<Level>,
}

/// `PATH@SNAP` splits at the last `@` only when `PATH@SNAP` itself is no
/// file and `PATH` is: a file whose name holds an `@` stays a file.
pub fn split_label(arg: &str) -> (PathBuf, Option<String>) {
    if Path::new(arg).exists() {
        return (arg.into(), None);
    }
    if let Some((p, s)) = arg.rsplit_once('@')
        && !p.is_empty()
        && !s.is_empty()
        && Path::new(p).exists()
    {
        return (p.into(), Some(s.to_string()));
    }
    (arg.into(), None)
}

impl Copy {
    /// Opens `arg` (a path, or `PATH@SNAPSHOT` for a qcow2 internal
    /// snapshot) read-only; the error is the sentence to print after the name.
    pub fn open(arg: &str) -> Result<Copy, String> {
        let (path, snapshot) = split_label(arg);
        let file = Arc::new(FileReader::try_open(&path).map_err(|e| e.to_string())?);
        let mut magic = [0u8; 4];
        let is_qcow2 =
            file.read_exact_at(0, &mut magic).is_ok() && u32::from_be_bytes(magic) == QCOW2_MAGIC;
        let id = FileId::of(&path);
        if !is_qcow2 {
            if let Some(s) = snapshot {
                return Err(format!("not a qcow2 image, so it has no snapshot {s:?}"));
            }
            let fd = std::fs::File::open(&path).ok();
            let disk: Arc<dyn ReadAt> = file;
            return Ok(Copy {
                label: arg.to_string(),
                path,
                snapshot: None,
                disk: Arc::clone(&disk),
                image: None,
                levels: vec![Level::Raw(disk, fd, id)],
            });
        }
        let image = Image::open_with(file, Some(&path), &OpenOptions::default())
            .map(Arc::new)
            .map_err(|e| format!("cannot open the qcow2 image: {e}"))?;
        let guest = match &snapshot {
            Some(s) => Guest::snapshot(Arc::clone(&image), s).map_err(|e| e.to_string())?,
            None => Guest::new(Arc::clone(&image)),
        };
        let mut levels = vec![Level::Qcow2(guest.clone(), id)];
        // The backing chain, top down, so a run unallocated above is
        // traced to the file that holds it.
        let mut at = Arc::clone(&image);
        for _ in 0..MAX_TRACE_DEPTH {
            let Some(b) = at.backing() else { break };
            let bid = b.path.as_deref().and_then(FileId::of);
            match &b.state {
                BackingState::Qcow2(img) => {
                    levels.push(Level::Qcow2(Guest::new(Arc::clone(img)), bid));
                    let next = Arc::clone(img);
                    at = next;
                }
                BackingState::Raw(r) => {
                    let fd = b.path.as_deref().and_then(|p| std::fs::File::open(p).ok());
                    levels.push(Level::Raw(Arc::clone(r), fd, bid));
                    break;
                }
                _ => {
                    levels.push(Level::Broken);
                    break;
                }
            }
        }
        Ok(Copy {
            label: arg.to_string(),
            path,
            snapshot,
            disk: Arc::new(guest),
            image: Some(image),
            levels,
        })
    }

    /// The guest disk's size.
    pub fn size(&self) -> u64 {
        self.disk.len()
    }

    /// Where the guest bytes at `pos` lie and for how many bytes from
    /// `pos` that holds (at least 1). A mapping that cannot be read is
    /// `Unknown`: the bytes are read and the read reports it.
    pub fn origin(&self, pos: u64) -> (Origin, u64) {
        let mut run = self.size().saturating_sub(pos).max(1);
        for level in &self.levels {
            match level {
                Level::Qcow2(g, id) => {
                    if pos >= g.len() {
                        // Past a smaller backing image: zeros.
                        return (Origin::Zero, run);
                    }
                    let Ok((s, r)) = g.source_at(pos) else {
                        return (Origin::Unknown, 1.max(run.min(4096)));
                    };
                    run = run.min(r);
                    let Some(id) = id else {
                        if matches!(s, Source::Backing) {
                            continue;
                        }
                        return (
                            if s == Source::Zero {
                                Origin::Zero
                            } else {
                                Origin::Unknown
                            },
                            run,
                        );
                    };
                    match s {
                        Source::Zero => return (Origin::Zero, run),
                        Source::Backing => {}
                        Source::Data { host, external } => {
                            return (Origin::Bytes(*id, external, host), run);
                        }
                        Source::Compressed { entry, intra } => {
                            return (Origin::Compressed(*id, entry, intra), run);
                        }
                    }
                }
                Level::Broken => return (Origin::Unknown, run),
                Level::Raw(r, fd, id) => {
                    if pos >= r.len() {
                        return (Origin::Zero, run);
                    }
                    run = run.min(r.len().saturating_sub(pos));
                    let (data, r2) = fd.as_ref().map_or((true, run), |f| data_at(f, pos, run));
                    run = run.min(r2).max(1);
                    return match (data, id) {
                        (false, _) => (Origin::Zero, run),
                        (true, Some(id)) => (Origin::Bytes(*id, false, pos), run),
                        (true, None) => (Origin::Unknown, run),
                    };
                }
            }
        }
        // Unallocated through the whole chain: zeros.
        (Origin::Zero, run)
    }

    /// The image file itself (the top of its chain), when it could be stat'ed.
    pub fn own_file(&self) -> Option<FileId> {
        match self.levels.first()? {
            Level::Qcow2(_, id) | Level::Raw(_, _, id) => *id,
            Level::Broken => None,
        }
    }

    /// The files of its backing chain, nearest first (not the image itself).
    pub fn backing_files(&self) -> Vec<FileId> {
        self.levels
            .iter()
            .skip(1)
            .filter_map(|l| match l {
                Level::Qcow2(_, id) | Level::Raw(_, _, id) => *id,
                Level::Broken => None,
            })
            .collect()
    }

    /// Reads what the backing chain holds at guest offset `pos` (beneath
    /// the image itself), zeros past a smaller backing disk; `None` when
    /// the copy has no backing file or it cannot be read.
    pub fn read_backing(&self, pos: u64, buf: &mut [u8]) -> Option<()> {
        let r: &dyn ReadAt = match self.levels.get(1)? {
            Level::Qcow2(g, _) => g,
            Level::Raw(r, _, _) => r.as_ref(),
            Level::Broken => return None,
        };
        buf.fill(0);
        let len = r.len();
        if pos >= len {
            return Some(());
        }
        let n = usize::try_from(len.saturating_sub(pos)).map_or(buf.len(), |n| n.min(buf.len()));
        r.read_exact_at(pos, buf.get_mut(..n)?).ok()
    }

    /// Reads guest bytes.
    pub fn read(&self, pos: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        self.disk.read_exact_at(pos, buf)
    }
}

/// Whether `pos` of `f` holds data (else a hole) and for how many bytes
/// from `pos` that holds, within `max`: `lseek(SEEK_DATA/SEEK_HOLE)`. A
/// filesystem that does not tell (EINVAL) says everything is data.
fn data_at(f: &std::fs::File, pos: u64, max: u64) -> (bool, u64) {
    use rustix::fs::{SeekFrom, seek};
    match seek(f, SeekFrom::Data(pos)) {
        Ok(d) if d > pos => (false, d.saturating_sub(pos).min(max)),
        Ok(_) => match seek(f, SeekFrom::Hole(pos)) {
            Ok(h) if h > pos => (true, h.saturating_sub(pos).min(max)),
            _ => (true, max),
        },
        // ENXIO: no data at or past pos; the rest is a hole.
        Err(e) if e == rustix::io::Errno::NXIO => (false, max),
        Err(_) => (true, max),
    }
}

/// A read error's one-line cause.
pub fn why(e: &ReadError) -> String {
    match &e.kind {
        ReadErrorKind::Io(io) => format!("I/O error: {io}"),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::arithmetic_side_effects,
        clippy::as_conversions,
        clippy::indexing_slicing,
        clippy::unwrap_used
    )]
    use super::*;

    #[test]
    fn origins_match_only_on_the_same_bytes() {
        let a = FileId { dev: 1, ino: 2 };
        let b = FileId { dev: 1, ino: 3 };
        assert!(Origin::Zero.same(Origin::Zero));
        assert!(Origin::Bytes(a, false, 4096).same(Origin::Bytes(a, false, 4096)));
        assert!(!Origin::Bytes(a, false, 4096).same(Origin::Bytes(b, false, 4096)));
        assert!(!Origin::Bytes(a, false, 4096).same(Origin::Bytes(a, true, 4096)));
        assert!(!Origin::Unknown.same(Origin::Unknown));
    }

    #[test]
    fn a_name_with_an_at_sign_stays_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("disk@1.raw");
        std::fs::write(&f, b"x").unwrap();
        let s = f.to_str().unwrap();
        assert_eq!(split_label(s), (f.clone(), None));
        let snap = format!("{s}@pre");
        assert_eq!(split_label(&snap), (f, Some("pre".into())));
    }
}

//! An opened image: header, active L1, snapshot table, backing chain and
//! external data file. The mapping from guest offsets to host bytes is in
//! [`map`].

mod map;

use crate::entries::{L1Table, load_l1};
use crate::error::Error;
use crate::header::Header;
use crate::limits::*;
use crate::snapshot::{Snapshot, SnapshotTable, read_table};
use imgcheck_core::{FileReader, Finding, ReadAt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Where guest data lives when not in the image file.
#[derive(Clone)]
pub enum DataFile {
    /// Opened.
    Open(Arc<dyn ReadAt>),
    /// Named but could not be opened (or not followed).
    Unavailable(String),
}

impl std::fmt::Debug for DataFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DataFile::Open(r) => write!(f, "Open({} bytes)", r.len()),
            DataFile::Unavailable(s) => write!(f, "Unavailable({s})"),
        }
    }
}

/// What became of the backing file named in the header.
#[derive(Clone)]
pub enum BackingState {
    /// A qcow2 image (its own chain opened below it).
    Qcow2(Arc<Image>),
    /// A raw image.
    Raw(Arc<dyn ReadAt>),
    /// The file does not exist.
    Missing(String),
    /// The file exists but cannot be opened or parsed.
    Unreadable(String),
    /// The chain comes back to a file already in it.
    Loop(PathBuf),
    /// The chain is deeper than [`MAX_CHAIN_DEPTH`].
    TooDeep,
    /// Not followed (the image was opened without a path).
    NotFollowed,
}

impl std::fmt::Debug for BackingState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackingState::Qcow2(_) => f.write_str("Qcow2"),
            BackingState::Raw(r) => write!(f, "Raw({} bytes)", r.len()),
            BackingState::Missing(s) => write!(f, "Missing({s})"),
            BackingState::Unreadable(s) => write!(f, "Unreadable({s})"),
            BackingState::Loop(p) => write!(f, "Loop({})", p.display()),
            BackingState::TooDeep => f.write_str("TooDeep"),
            BackingState::NotFollowed => f.write_str("NotFollowed"),
        }
    }
}

/// The backing file of an image.
#[derive(Debug, Clone)]
pub struct Backing {
    /// Name as stored in the header.
    pub name: String,
    /// Format from the backing format extension, if any.
    pub format: Option<String>,
    /// Resolved path (relative names against the image's directory).
    pub path: Option<PathBuf>,
    /// The result of opening it.
    pub state: BackingState,
}

impl Backing {
    /// Virtual size of the backing image, when it was opened.
    pub fn virtual_size(&self) -> Option<u64> {
        match &self.state {
            BackingState::Qcow2(i) => Some(i.header().size),
            BackingState::Raw(r) => Some(r.len()),
            _ => None,
        }
    }
}

/// How to open an image.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Open the backing chain (needs the image's path).
    pub follow_backing: bool,
    /// Open the external data file (needs the image's path).
    pub open_data_file: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            follow_backing: true,
            open_data_file: true,
        }
    }
}

/// An opened qcow2 image. Cheap to share behind an [`Arc`]; guest views
/// ([`crate::Guest`]) hold one.
pub struct Image {
    file: Arc<dyn ReadAt>,
    path: Option<PathBuf>,
    header: Header,
    active: Arc<L1Table>,
    snapshots: SnapshotTable,
    data_file: Option<DataFile>,
    backing: Option<Backing>,
    findings: Vec<Finding>,
    l2_cache: Mutex<Vec<(u64, Arc<[u8]>)>>,
    cluster_cache: Mutex<Option<(u64, Arc<[u8]>)>>,
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Image")
            .field("path", &self.path)
            .field("header", &self.header)
            .field("snapshots", &self.snapshots.snapshots.len())
            .field("backing", &self.backing)
            .finish_non_exhaustive()
    }
}

impl Image {
    /// Opens an image held by `file` without touching any other file: the
    /// backing file and an external data file are recorded but not opened.
    /// This is the entry point for fuzzing and for embedders with bytes.
    pub fn open(file: Arc<dyn ReadAt>) -> Result<Image, Error> {
        Self::open_inner(
            file,
            None,
            &OpenOptions {
                follow_backing: false,
                open_data_file: false,
            },
            &mut Vec::new(),
        )
    }

    /// Opens the image at `path` read-only, with its backing chain and data file.
    pub fn open_path(path: impl AsRef<Path>) -> Result<Image, Error> {
        let path = path.as_ref();
        let file = FileReader::open(path).map_err(|source| Error::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Self::open_with(Arc::new(file), Some(path), &OpenOptions::default())
    }

    /// Opens the image in `file`, which was opened from `path` (used to
    /// resolve relative backing and data file names).
    pub fn open_with(
        file: Arc<dyn ReadAt>,
        path: Option<&Path>,
        opts: &OpenOptions,
    ) -> Result<Image, Error> {
        let mut visited = Vec::new();
        if let Some(p) = path {
            visited.push(p.canonicalize().unwrap_or_else(|_| p.to_path_buf()));
        }
        Self::open_inner(file, path, opts, &mut visited).map_err(|e| match path {
            Some(p) => e.in_file(p),
            None => e,
        })
    }

    fn open_inner(
        file: Arc<dyn ReadAt>,
        path: Option<&Path>,
        opts: &OpenOptions,
        visited: &mut Vec<PathBuf>,
    ) -> Result<Image, Error> {
        let (header, findings) = Header::parse(file.as_ref())?;
        let active = Arc::new(
            load_l1(file.as_ref(), header.l1_table_offset, header.l1_size).map_err(|source| {
                Error::Read {
                    structure: "active L1 table",
                    source,
                }
            })?,
        );
        let snapshots = read_table(file.as_ref(), &header);
        let dir = path.and_then(Path::parent).map(Path::to_path_buf);
        let data_file = header.has_data_file().then(|| {
            let name = header.extensions.data_file.clone().unwrap_or_default();
            match (&dir, opts.open_data_file, name.is_empty()) {
                (_, _, true) => DataFile::Unavailable("no data file name in the header".into()),
                // Beside the image first; QEMU itself resolves a relative
                // data file name against its working directory.
                (Some(d), true, false) => match FileReader::open(d.join(&name))
                    .or_else(|e| FileReader::open(&name).map_err(|_| e))
                {
                    Ok(r) => DataFile::Open(Arc::new(r)),
                    Err(e) => DataFile::Unavailable(format!("{}: {e}", d.join(&name).display())),
                },
                _ => DataFile::Unavailable(format!("{name}: not opened")),
            }
        });
        let backing = header.backing_file.clone().map(|name| {
            let format = header.extensions.backing_format.clone();
            let (path, state) = match (&dir, opts.follow_backing) {
                (Some(d), true) => {
                    let p = d.join(&name);
                    let st = open_backing(&p, format.as_deref(), opts, visited);
                    (Some(p), st)
                }
                _ => (None, BackingState::NotFollowed),
            };
            Backing {
                name,
                format,
                path,
                state,
            }
        });
        Ok(Image {
            file,
            path: path.map(Path::to_path_buf),
            header,
            active,
            snapshots,
            data_file,
            backing,
            findings,
            l2_cache: Mutex::new(Vec::new()),
            cluster_cache: Mutex::new(None),
        })
    }

    /// The parsed header.
    pub fn header(&self) -> &Header {
        &self.header
    }
    /// The image file.
    pub fn file(&self) -> &Arc<dyn ReadAt> {
        &self.file
    }
    /// The path the image was opened from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
    /// Findings from opening (header and extensions).
    pub fn open_findings(&self) -> &[Finding] {
        &self.findings
    }
    /// The active L1 table.
    pub fn active_l1(&self) -> &L1Table {
        &self.active
    }
    /// The active L1 table, shared (guest views hold it).
    pub(crate) fn active_l1_shared(&self) -> Arc<L1Table> {
        Arc::clone(&self.active)
    }
    /// The internal snapshots.
    pub fn snapshots(&self) -> &[Snapshot] {
        &self.snapshots.snapshots
    }
    /// The snapshot table with its read errors.
    pub fn snapshot_table(&self) -> &SnapshotTable {
        &self.snapshots
    }
    /// The backing file, if the header names one.
    pub fn backing(&self) -> Option<&Backing> {
        self.backing.as_ref()
    }
    /// The external data file, if the image uses one.
    pub fn data_file(&self) -> Option<&DataFile> {
        self.data_file.as_ref()
    }
    /// The backing chain below this image, nearest first.
    pub fn chain(&self) -> Vec<&Backing> {
        let mut out = Vec::new();
        let mut cur = self.backing.as_ref();
        // Bounded: each level was opened with a depth check.
        while let Some(b) = cur {
            out.push(b);
            cur = match &b.state {
                BackingState::Qcow2(i) if out.len() <= MAX_CHAIN_DEPTH => i.backing.as_ref(),
                _ => None,
            };
        }
        out
    }

    /// Finds a snapshot by id, then by name.
    pub fn find_snapshot(&self, wanted: &str) -> Result<&Snapshot, Error> {
        let s = self.snapshots();
        s.iter()
            .find(|s| s.id == wanted)
            .or_else(|| s.iter().find(|s| s.name == wanted))
            .ok_or_else(|| Error::SnapshotNotFound {
                wanted: wanted.to_string(),
                available: s.iter().map(|s| format!("{} {}", s.id, s.name)).collect(),
            })
    }

    /// Loads the L1 table of snapshot `s`.
    pub fn snapshot_l1(&self, s: &Snapshot) -> Result<L1Table, Error> {
        let bytes = u64::from(s.l1_size).saturating_mul(8);
        if bytes > MAX_L1_BYTES {
            return Err(Error::LimitExceeded {
                structure: "snapshot L1 table",
                offset: s.entry_offset.saturating_add(8),
                value: bytes,
                limit: MAX_L1_BYTES,
            });
        }
        if !s.l1_table_offset.is_multiple_of(self.header.cluster_size()) {
            return Err(Error::InvalidHeader {
                field: "snapshot l1_table_offset",
                offset: s.entry_offset,
                value: s.l1_table_offset,
                expected: "a cluster-aligned offset".into(),
            });
        }
        load_l1(self.file.as_ref(), s.l1_table_offset, s.l1_size).map_err(|source| Error::Read {
            structure: "snapshot L1 table",
            source,
        })
    }
}

fn open_backing(
    p: &Path,
    format: Option<&str>,
    opts: &OpenOptions,
    visited: &mut Vec<PathBuf>,
) -> BackingState {
    let canon = match p.canonicalize() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return BackingState::Missing(format!("{}: {e}", p.display()));
        }
        Err(e) => return BackingState::Unreadable(format!("{}: {e}", p.display())),
    };
    if visited.contains(&canon) {
        return BackingState::Loop(canon);
    }
    if visited.len() > MAX_CHAIN_DEPTH {
        return BackingState::TooDeep;
    }
    let file = match FileReader::open(&canon) {
        Ok(f) => Arc::new(f),
        Err(e) => return BackingState::Unreadable(format!("{}: {e}", p.display())),
    };
    let mut magic = [0u8; 4];
    let is_qcow2 = file.read_exact_at(0, &mut magic).is_ok()
        && u32::from_be_bytes(magic) == crate::header::QCOW2_MAGIC;
    match format {
        Some("raw") => return BackingState::Raw(file),
        Some("qcow2") | None => {}
        Some(other) => {
            return BackingState::Unreadable(format!(
                "{}: backing format {other:?} is not supported",
                p.display()
            ));
        }
    }
    if !is_qcow2 {
        if format == Some("qcow2") {
            return BackingState::Unreadable(format!(
                "{}: backing format is qcow2 but the file has no qcow2 magic",
                p.display()
            ));
        }
        return BackingState::Raw(file);
    }
    visited.push(canon);
    let r = Image::open_inner(file, Some(p), opts, visited);
    match r {
        Ok(img) => BackingState::Qcow2(Arc::new(img)),
        Err(e) => BackingState::Unreadable(format!("{}: {e}", p.display())),
    }
}

//! An opened image: header, active L1, snapshot table, backing chain and
//! external data file. The mapping from guest offsets to host bytes is in
//! [`map`].

mod map;
mod resolve;
mod side;

pub use map::{DecodeError, Source};
pub use resolve::{BackingResolver, Resolution, ResolvedBacking, Resolver};

use crate::entries::{L1Table, load_l1};
use crate::error::Error;
use crate::header::Header;
use crate::limits::*;
use crate::snapshot::{Snapshot, SnapshotTable, read_table};
use imgcheck_core::bytes::u64_of;
use imgcheck_core::{Budget, Finding, Metered, ReadAt};
use map::L2Cached;
use side::{FileId, SideError, file_id, open_side};
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
    /// The name leads to a FIFO, socket or character device, which is
    /// not opened (reading it would block or consume a stream).
    NotAFile(String),
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
            BackingState::NotAFile(s) => write!(f, "NotAFile({s})"),
            BackingState::Loop(p) => write!(f, "Loop({})", p.display()),
            BackingState::TooDeep => f.write_str("TooDeep"),
            BackingState::NotFollowed => f.write_str("NotFollowed"),
        }
    }
}

impl std::fmt::Display for BackingState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackingState::Qcow2(_) => f.write_str("a qcow2 image"),
            BackingState::Raw(_) => f.write_str("a raw image"),
            BackingState::Missing(s) => write!(f, "missing ({s})"),
            BackingState::Unreadable(s) => write!(f, "unreadable ({s})"),
            BackingState::NotAFile(s) => write!(f, "not a file ({s})"),
            BackingState::Loop(p) => write!(f, "a loop back to {}", p.display()),
            BackingState::TooDeep => write!(f, "deeper than {MAX_CHAIN_DEPTH} images"),
            BackingState::NotFollowed => f.write_str("not opened"),
        }
    }
}

impl BackingState {
    /// A short name for the state (`"qcow2"`, `"missing"` …).
    pub fn kind(&self) -> &'static str {
        match self {
            BackingState::Qcow2(_) => "qcow2",
            BackingState::Raw(_) => "raw",
            BackingState::Missing(_) => "missing",
            BackingState::Unreadable(_) => "unreadable",
            BackingState::NotAFile(_) => "not a file",
            BackingState::Loop(_) => "loop",
            BackingState::TooDeep => "too deep",
            BackingState::NotFollowed => "not followed",
        }
    }
}

/// Why the guest disk cannot be read as the guest sees it: reading it
/// anyway would judge zeros or ciphertext as the guest's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestBlocked {
    /// The guest data is encrypted and no key is read.
    Encrypted,
    /// The external data file is unavailable (why).
    DataFile(String),
    /// A backing file of the chain is missing, unreadable, loops or is
    /// too deep: unallocated clusters cannot be read.
    Backing {
        /// The backing file's name as the image stores it.
        name: String,
        /// What became of it.
        state: String,
    },
    /// The backing file was not opened (the image was opened without a path).
    BackingNotFollowed(String),
}

impl std::fmt::Display for GuestBlocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GuestBlocked::Encrypted => {
                f.write_str("the guest data is encrypted, and imgcheck reads no keys")
            }
            GuestBlocked::DataFile(w) => write!(
                f,
                "its external data file {w}, so the guest data cannot be read"
            ),
            GuestBlocked::Backing { name, state } => write!(
                f,
                "its backing chain is broken (backing file {name:?}: {state}), so the clusters this image does not hold cannot be read"
            ),
            GuestBlocked::BackingNotFollowed(name) => write!(
                f,
                "its backing file {name:?} was not opened, so the clusters this image does not hold cannot be read"
            ),
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
    /// The image's work bound: every backing file and external data file
    /// opened is read through a [`Metered`] charging it (the image file
    /// itself is the caller's to meter), and each adds its share to the
    /// bound ([`Budget::add_file`]), so the whole chain is bounded in
    /// total. `None`: those files are read unmetered.
    pub budget: Option<Arc<Budget>>,
    /// Asked first where each backing name of the chain leads (an LV of
    /// an assembled volume group, say); names it does not answer are
    /// looked up on the file system. Consulted even for an image opened
    /// without a path.
    pub resolver: Option<Resolver>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            follow_backing: true,
            open_data_file: true,
            budget: None,
            resolver: None,
        }
    }
}

impl OpenOptions {
    /// `file`, a backing or data file opened from `path`, as the image
    /// reads it: charged to the budget when there is one.
    fn metered(&self, file: Arc<dyn ReadAt>, path: &Path) -> Arc<dyn ReadAt> {
        match &self.budget {
            Some(b) => {
                b.add_file(file.len());
                Arc::new(Metered::named(
                    file,
                    Arc::clone(b),
                    path.display().to_string(),
                ))
            }
            None => file,
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
    l2_cache: Mutex<Vec<(u64, L2Cached)>>,
    cluster_cache: Mutex<Option<(u64, Arc<[u8]>)>>,
    /// Bytes of compressed clusters decoded so far (see
    /// [`DECODE_BASE_BYTES`]): decoding, not reading, is what a hostile
    /// table of compressed entries multiplies.
    decoded: std::sync::atomic::AtomicU64,
    /// The image's work bound, from [`OpenOptions::budget`]: spent at
    /// once when the decode bound is, so the report says the check stopped.
    budget: Option<Arc<Budget>>,
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
                budget: None,
                resolver: None,
            },
            &mut Chain::default(),
        )
    }

    /// Opens the image at `path` read-only, with its backing chain and
    /// data file. Only a regular file or block device is opened.
    pub fn open_path(path: impl AsRef<Path>) -> Result<Image, Error> {
        let path = path.as_ref();
        let file = open_side(path).map_err(|e| match e {
            SideError::NotAFile(kind) => Error::NotAFile {
                path: path.to_path_buf(),
                kind,
            },
            SideError::Missing(source) | SideError::Unreadable(source) => Error::Open {
                path: path.to_path_buf(),
                source,
            },
        })?;
        Self::open_with(Arc::new(file.0), Some(path), &OpenOptions::default())
    }

    /// Opens the image in `file`, which was opened from `path` (used to
    /// resolve relative backing and data file names).
    pub fn open_with(
        file: Arc<dyn ReadAt>,
        path: Option<&Path>,
        opts: &OpenOptions,
    ) -> Result<Image, Error> {
        let mut chain = Chain::default();
        if let Some((p, id)) = path.and_then(|p| file_id(p).map(|id| (p, id))) {
            chain.visited.push((id, p.to_path_buf()));
        }
        Self::open_inner(file, path, opts, &mut chain).map_err(|e| match path {
            Some(p) => e.in_file(p),
            None => e,
        })
    }

    fn open_inner(
        file: Arc<dyn ReadAt>,
        path: Option<&Path>,
        opts: &OpenOptions,
        chain: &mut Chain,
    ) -> Result<Image, Error> {
        let (header, mut findings) = Header::parse(file.as_ref())?;
        let active = Arc::new(
            load_l1(file.as_ref(), header.l1_table_offset, header.l1_size).map_err(|source| {
                Error::Read {
                    structure: "active L1 table",
                    source,
                }
            })?,
        );
        let snapshots = read_table(file.as_ref(), &header);
        // What this image holds in memory counts against the whole
        // chain's bound: a chain of hostile images stays bounded too.
        let held = u64_of(active.entries.len())
            .saturating_mul(8)
            .saturating_add(snapshots.size)
            .saturating_add(
                u64_of(snapshots.snapshots.len())
                    .saturating_mul(u64_of(std::mem::size_of::<Snapshot>())),
            );
        chain.held = chain.held.saturating_add(held);
        if chain.held > MAX_CHAIN_HELD_BYTES && chain.visited.len() > 1 {
            return Err(Error::LimitExceeded {
                structure: "backing chain metadata held in memory",
                offset: 36,
                value: chain.held,
                limit: MAX_CHAIN_HELD_BYTES,
            });
        }
        let dir = path.and_then(Path::parent).map(Path::to_path_buf);
        // A data file that is a character device or FIFO is not read here,
        // but QEMU opens it (qemu-io reads /dev/null as zeros): the finding
        // must not say QEMU refuses the image then.
        let mut not_a_file: Option<&'static str> = None;
        // The data file named may be this image itself (a name edited to
        // the image's own, or a symlink to it): QEMU opens it and every
        // allocated cluster then reads the image's own metadata.
        let own_id = path.and_then(file_id);
        let mut is_self: Option<PathBuf> = None;
        let data_file = header.has_data_file().then(|| {
            let name = header.extensions.data_file.clone().unwrap_or_default();
            match (&dir, opts.open_data_file, name.is_empty()) {
                (_, _, true) => {
                    DataFile::Unavailable("is not named: the header has no data file name".into())
                }
                // Beside the image first; QEMU itself resolves a relative
                // data file name against its working directory.
                (Some(d), true, false) => {
                    let beside = d.join(&name);
                    match open_side(&beside).or_else(|e| match e {
                        SideError::Missing(_) if Path::new(&name) != beside => {
                            open_side(Path::new(&name)).map_err(|_| e)
                        }
                        e => Err(e),
                    }) {
                        Ok((r, id)) => {
                            let p = r.path().to_path_buf();
                            if own_id == Some(id) {
                                is_self = Some(p.clone());
                            }
                            DataFile::Open(opts.metered(Arc::new(r), &p))
                        }
                        Err(e) => {
                            if let SideError::NotAFile(k) = e {
                                not_a_file = Some(k);
                            }
                            DataFile::Unavailable(e.at(&beside))
                        }
                    }
                }
                _ => DataFile::Unavailable(
                    "was not opened (the image was opened without a path)".into(),
                ),
            }
        });
        if let Some(DataFile::Unavailable(why)) = &data_file
            && header.extensions.data_file.is_some()
        {
            findings.push(
                Finding::error(
                    "qcow2.data_file.unavailable",
                    imgcheck_core::Layer::QCOW2,
                    header.extensions.data_file_offset.unwrap_or(72),
                    imgcheck_core::Space::File,
                    match not_a_file {
                        None => format!(
                            "the external data file {:?} {why}; QEMU refuses to open the image and the guest data cannot be read",
                            header.extensions.data_file.as_deref().unwrap_or("")
                        ),
                        Some(k) => format!(
                            "the external data file {:?} {why}; QEMU may open {k}, but the guest data is not in it and cannot be read",
                            header.extensions.data_file.as_deref().unwrap_or("")
                        ),
                    },
                )
                .with_hint(
                    imgcheck_core::Hint::read_only("qemu-img info {image}")
                        .on(imgcheck_core::Target::Image)
                        .because("shows the data-file name; put the data file beside the image"),
                ),
            );
        }
        if let Some(p) = &is_self {
            findings.push(
                Finding::warning(
                    "qcow2.data_file.is_image",
                    imgcheck_core::Layer::QCOW2,
                    header.extensions.data_file_offset.unwrap_or(72),
                    imgcheck_core::Space::File,
                    format!(
                        "the external data file {:?} is this image itself ({}, the same device and inode): every allocated guest cluster reads the image's own header and tables, and a guest write would overwrite them",
                        header.extensions.data_file.as_deref().unwrap_or(""),
                        p.display()
                    ),
                )
                .with_hint(
                    imgcheck_core::Hint::read_only("qemu-img info {image}")
                        .on(imgcheck_core::Target::Image)
                        .because("shows the data-file name the header carries; the real data file is the one the VM's definition names"),
                ),
            );
        }
        let backing = header.backing_file.clone().map(|name| {
            let format = header.extensions.backing_format.clone();
            let resolved = opts
                .resolver
                .as_ref()
                .filter(|_| opts.follow_backing)
                .and_then(|r| r.0.resolve(&name));
            let (path, state) = match (resolved, &dir, opts.follow_backing) {
                (Some(res), _, _) => open_resolved(res, format.as_deref(), opts, chain),
                (None, Some(d), true) => {
                    let p = d.join(&name);
                    let st = open_backing(&p, format.as_deref(), opts, chain);
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
            decoded: std::sync::atomic::AtomicU64::new(0),
            budget: opts.budget.clone(),
        })
    }

    /// The most bytes of compressed clusters this image decodes.
    pub fn decode_bound(&self) -> u64 {
        DECODE_BASE_BYTES.saturating_add(self.file.len().saturating_mul(DECODE_BYTES_PER_FILE_BYTE))
    }

    /// Charges one decoded cluster; `false` once the decode bound is spent.
    pub(crate) fn charge_decode(&self, bytes: u64) -> bool {
        use std::sync::atomic::Ordering;
        let before = self.decoded.fetch_add(bytes, Ordering::Relaxed);
        let ok = before.saturating_add(bytes) <= self.decode_bound();
        if !ok && let Some(b) = &self.budget {
            // One bound for the whole image: what reads after this is
            // refused too, and the report names the bound.
            let _ = b.charge(u64::MAX, 0);
        }
        ok
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

    /// Finds a snapshot: an exact id first, then an exact name.
    pub fn find_snapshot(&self, wanted: &str) -> Result<&Snapshot, Error> {
        self.lookup_snapshot(wanted).map(|l| l.found)
    }

    /// Finds a snapshot as [`Image::find_snapshot`] does, and says when
    /// `wanted` is also the name of a different snapshot (the id won).
    pub fn lookup_snapshot(&self, wanted: &str) -> Result<SnapshotLookup<'_>, Error> {
        let s = self.snapshots();
        if let Some(found) = s.iter().find(|s| s.id_is(wanted)) {
            let also_name_of = s
                .iter()
                .find(|o| o.index != found.index && o.name_is(wanted));
            return Ok(SnapshotLookup {
                found,
                also_name_of,
            });
        }
        if let Some(found) = s.iter().find(|s| s.name_is(wanted)) {
            return Ok(SnapshotLookup {
                found,
                also_name_of: None,
            });
        }
        // A handful of candidates, shortened: a table of 65,536 snapshots
        // with 64 KiB names must not become one error message.
        const LISTED: usize = 8;
        let mut available: Vec<String> = s
            .iter()
            .take(LISTED)
            .map(|s| format!("{} {}", s.shown_id(), s.shown_name()))
            .collect();
        if s.len() > LISTED {
            available.push(format!("and {} more", s.len().saturating_sub(LISTED)));
        }
        Err(Error::SnapshotNotFound {
            wanted: wanted
                .chars()
                .take(crate::snapshot::SHOWN_NAME_CHARS)
                .collect(),
            available,
        })
    }

    /// Why the guest disk cannot be read as the guest sees it, if it cannot.
    pub fn guest_blocked(&self) -> Option<GuestBlocked> {
        if self.header.crypt_method != 0 {
            return Some(GuestBlocked::Encrypted);
        }
        if let Some(DataFile::Unavailable(w)) = &self.data_file {
            return Some(GuestBlocked::DataFile(w.clone()));
        }
        self.chain().iter().find_map(|b| match &b.state {
            BackingState::Qcow2(_) | BackingState::Raw(_) => None,
            BackingState::NotFollowed => Some(GuestBlocked::BackingNotFollowed(b.name.clone())),
            other => Some(GuestBlocked::Backing {
                name: b.name.clone(),
                state: other.to_string(),
            }),
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

/// What opening a chain has seen so far: every file by identity, and the
/// bytes of tables held in memory.
#[derive(Default)]
struct Chain {
    /// Files opened so far, with the path each was first opened as: a
    /// loop is named by the file it returns to, not by the symlink or
    /// hard link it was reached through.
    visited: Vec<(FileId, PathBuf)>,
    /// Images a resolver handed out, by its identity.
    resolved: Vec<String>,
    held: u64,
}

impl Chain {
    fn depth(&self) -> usize {
        self.visited.len().saturating_add(self.resolved.len())
    }
}

/// What a chain has seen an image as: a file, or a resolver's identity.
enum Seen {
    File(FileId),
    Resolved(String),
}

fn open_backing(
    p: &Path,
    format: Option<&str>,
    opts: &OpenOptions,
    chain: &mut Chain,
) -> BackingState {
    let (file, id) = match open_side(p) {
        Ok(f) => f,
        Err(SideError::Missing(e)) => return BackingState::Missing(e.to_string()),
        Err(SideError::NotAFile(k)) => return BackingState::NotAFile(format!("it is {k}")),
        Err(SideError::Unreadable(e)) => return BackingState::Unreadable(e.to_string()),
    };
    if let Some((_, first)) = chain.visited.iter().find(|(v, _)| *v == id) {
        return BackingState::Loop(first.clone());
    }
    if chain.depth() > MAX_CHAIN_DEPTH {
        return BackingState::TooDeep;
    }
    let path = file.path().to_path_buf();
    let file = opts.metered(Arc::new(file), &path);
    backing_from(file, Some(&path), format, opts, chain, Seen::File(id))
}

/// A backing image a resolver found: a loop by identity, the depth, then
/// read as any backing file (with no path: its own backing names go to
/// the resolver, else are not followed).
fn open_resolved(
    res: Resolution,
    format: Option<&str>,
    opts: &OpenOptions,
    chain: &mut Chain,
) -> (Option<PathBuf>, BackingState) {
    let found = match res {
        Resolution::Found(f) => f,
        Resolution::Missing(why) => return (None, BackingState::Missing(why)),
        Resolution::Unreadable(why) => return (None, BackingState::Unreadable(why)),
    };
    let shown = Some(found.shown.clone());
    if chain.resolved.contains(&found.identity) {
        return (shown, BackingState::Loop(found.shown));
    }
    if chain.depth() > MAX_CHAIN_DEPTH {
        return (shown, BackingState::TooDeep);
    }
    let reader = opts.metered(found.reader, &found.shown);
    let state = backing_from(
        reader,
        None,
        format,
        opts,
        chain,
        Seen::Resolved(found.identity),
    );
    (shown, state)
}

/// The backing image in `file`, by its format and magic: raw, or a
/// qcow2 opened with its own chain below it.
fn backing_from(
    file: Arc<dyn ReadAt>,
    p: Option<&Path>,
    format: Option<&str>,
    opts: &OpenOptions,
    chain: &mut Chain,
    seen: Seen,
) -> BackingState {
    let mut magic = [0u8; 4];
    let read = file.read_exact_at(0, &mut magic);
    let is_qcow2 = read.is_ok() && u32::from_be_bytes(magic) == crate::header::QCOW2_MAGIC;
    // Bytes that cannot be read are unknown, not "no magic": an LV on a
    // missing PV says which PV (an attack got "no qcow2 magic" for a good
    // qcow2 whose PV was not given).
    if let Err(e) = &read
        && file.len() >= 4
    {
        return BackingState::Unreadable(format!("its first bytes cannot be read: {e}"));
    }
    match format {
        Some("raw") => return BackingState::Raw(file),
        Some("qcow2") | None => {}
        Some(other) => {
            return BackingState::Unreadable(format!("backing format {other:?} is not supported"));
        }
    }
    if !is_qcow2 {
        if format == Some("qcow2") {
            return BackingState::Unreadable(
                "the backing format is qcow2 but the file has no qcow2 magic".into(),
            );
        }
        return BackingState::Raw(file);
    }
    match seen {
        Seen::File(id) => chain
            .visited
            .push((id, p.map(Path::to_path_buf).unwrap_or_default())),
        Seen::Resolved(id) => chain.resolved.push(id),
    }
    match Image::open_inner(file, p, opts, chain) {
        Ok(img) => BackingState::Qcow2(Arc::new(img)),
        Err(e) => BackingState::Unreadable(e.to_string()),
    }
}

/// What [`Image::lookup_snapshot`] found.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotLookup<'a> {
    /// The snapshot with that id (or, when no id matches, that name).
    pub found: &'a Snapshot,
    /// A different snapshot whose name is what was asked for: the id won,
    /// and a report should say so.
    pub also_name_of: Option<&'a Snapshot>,
}

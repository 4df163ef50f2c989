//! An opened image: header, active L1, snapshot table, backing chain and
//! external data file, plus the mapping from guest offsets to host bytes.

use crate::compress::decompress_cluster;
use crate::error::Error;
use crate::header::{Header, be64, usz};
use crate::limits::*;
use crate::snapshot::{Snapshot, SnapshotTable, read_table};
use imgcheck_core::{FileReader, Finding, ReadAt, ReadError, ReadErrorKind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// L1 entry bits 9..=55: the L2 table offset.
pub const L1E_OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;
/// L1 entry reserved bits (0..=8, 56..=62).
pub const L1E_RESERVED_MASK: u64 = 0x7f00_0000_0000_01ff;
/// L2 entry bits 9..=55: the host cluster offset.
pub const L2E_OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;
/// Standard L2 entry reserved bits (1..=8, 56..=61).
pub const L2E_STD_RESERVED_MASK: u64 = 0x3f00_0000_0000_01fe;
/// Refcount table entry bits 9..=63: the refcount block offset.
pub const REFT_OFFSET_MASK: u64 = 0xffff_ffff_ffff_fe00;
/// Refcount table entry reserved bits 0..=8.
pub const REFT_RESERVED_MASK: u64 = 0x1ff;
/// Bit 63 of L1/L2 entries: refcount is exactly 1.
pub const OFLAG_COPIED: u64 = 1 << 63;
/// Bit 62 of L2 entries: compressed cluster.
pub const OFLAG_COMPRESSED: u64 = 1 << 62;
/// Bit 0 of standard L2 entries: reads as zeros.
pub const OFLAG_ZERO: u64 = 1;

/// How a cluster is described by its L2 entry (QEMU's cluster types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterType {
    /// Not allocated here: read from the backing file, or zeros.
    Unallocated,
    /// Reads as zeros, no host cluster.
    ZeroPlain,
    /// Reads as zeros, host cluster preallocated.
    ZeroAlloc,
    /// Data in a host cluster.
    Normal,
    /// Compressed data.
    Compressed,
}

/// QEMU's `qcow2_get_cluster_type`.
pub fn cluster_type(h: &Header, entry: u64) -> ClusterType {
    if entry & OFLAG_COMPRESSED != 0 {
        ClusterType::Compressed
    } else if entry & OFLAG_ZERO != 0 && !h.extended_l2() {
        if entry & L2E_OFFSET_MASK != 0 {
            ClusterType::ZeroAlloc
        } else {
            ClusterType::ZeroPlain
        }
    } else if entry & L2E_OFFSET_MASK == 0 {
        // Offset 0 is a valid data-file offset; COPIED disambiguates.
        if h.has_data_file() && entry & OFLAG_COPIED != 0 {
            ClusterType::Normal
        } else {
            ClusterType::Unallocated
        }
    } else {
        ClusterType::Normal
    }
}

/// Host byte range of a compressed cluster: (offset, length), as QEMU's
/// `qcow2_parse_compressed_l2_entry` computes it.
pub fn compressed_range(h: &Header, entry: u64) -> (u64, u64) {
    let shift = 62u32.saturating_sub(h.cluster_bits.saturating_sub(8));
    let offset_mask = (1u64 << shift).saturating_sub(1);
    let csize_mask = (1u64 << h.cluster_bits.saturating_sub(8)).saturating_sub(1);
    let coffset = entry & offset_mask;
    let nb_csectors = (entry.checked_shr(shift).unwrap_or(0) & csize_mask).saturating_add(1);
    let csize = nb_csectors
        .saturating_mul(512)
        .saturating_sub(coffset & 511);
    (coffset, csize)
}

/// A loaded L1 table (active or a snapshot's).
#[derive(Debug, Clone, Default)]
pub struct L1Table {
    /// File offset.
    pub offset: u64,
    /// The entries that lie inside the file (a last one cut by the end of
    /// the file is completed with zeros, as QEMU reads it); the rest of the
    /// table reads as zeros and is not held in memory.
    pub entries: Vec<u64>,
    /// Number of leading entries wholly inside the file.
    pub valid: usize,
    /// Entries the table is declared to have.
    pub size: usize,
}

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

fn read_err(offset: u64, len: u64, msg: impl Into<String>) -> ReadError {
    ReadError::new(offset, len, ReadErrorKind::Layer(msg.into()))
}

/// Reads `len` bytes at `offset`, with bytes past the end of the file read
/// as zeros (what QEMU's block layer does for metadata); returns also how
/// many bytes really came from the file.
pub(crate) fn read_zero_filled(
    file: &dyn ReadAt,
    offset: u64,
    len: u64,
    limit: u64,
) -> Result<(Vec<u8>, u64), ReadError> {
    if len > limit {
        return Err(ReadError::new(
            offset,
            len,
            ReadErrorKind::TooLarge { limit },
        ));
    }
    let mut buf = vec![0u8; usz(len)];
    let have = file.len().saturating_sub(offset).min(len);
    if have > 0 {
        let part = buf.get_mut(..usz(have)).unwrap_or(&mut []);
        file.read_exact_at(offset, part)?;
    }
    Ok((buf, have))
}

/// Loads an L1 table of `l1_size` entries at `offset`.
pub(crate) fn load_l1(file: &dyn ReadAt, offset: u64, l1_size: u32) -> Result<L1Table, ReadError> {
    let bytes = u64::from(l1_size).saturating_mul(8);
    if bytes > MAX_L1_BYTES {
        return Err(ReadError::new(
            offset,
            bytes,
            ReadErrorKind::TooLarge {
                limit: MAX_L1_BYTES,
            },
        ));
    }
    // Only the part inside the file is read and held: a table claimed to
    // lie past the end costs nothing.
    let in_file = file
        .len()
        .saturating_sub(offset)
        .min(bytes)
        .next_multiple_of(8)
        .min(bytes);
    let (buf, have) = read_zero_filled(file, offset, in_file, MAX_L1_BYTES)?;
    let entries: Vec<u64> = buf.chunks_exact(8).map(|c| be64(c, 0)).collect();
    Ok(L1Table {
        offset,
        entries,
        valid: usz(have / 8),
        size: usz(u64::from(l1_size)),
    })
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

    /// Reads the L2 table at `l2_offset` through the cache.
    pub(crate) fn l2_table(&self, l2_offset: u64) -> Result<Arc<[u8]>, String> {
        if let Ok(c) = self.l2_cache.lock()
            && let Some((_, t)) = c.iter().find(|(o, _)| *o == l2_offset)
        {
            return Ok(Arc::clone(t));
        }
        let cs = self.header.cluster_size();
        if !l2_offset.is_multiple_of(cs) {
            return Err(format!(
                "L2 table offset {l2_offset:#x} is not cluster aligned"
            ));
        }
        let t: Arc<[u8]> = imgcheck_core::read_vec(self.file.as_ref(), l2_offset, cs, cs)
            .map_err(|e| format!("L2 table at {l2_offset:#x}: {e}"))?
            .into();
        if let Ok(mut c) = self.l2_cache.lock() {
            if c.len() >= L2_CACHE_TABLES {
                c.remove(0);
            }
            c.push((l2_offset, Arc::clone(&t)));
        }
        Ok(t)
    }

    /// Decodes the compressed cluster described by `entry`.
    pub fn decompress(&self, entry: u64) -> Result<Arc<[u8]>, String> {
        if let Ok(c) = self.cluster_cache.lock()
            && let Some((e, d)) = c.as_ref()
            && *e == entry
        {
            return Ok(Arc::clone(d));
        }
        let (coff, csize) = compressed_range(&self.header, entry);
        let cs = self.header.cluster_size();
        // The stored length is rounded up to sectors and may run past EOF.
        let avail = self.file.len().saturating_sub(coff).min(csize);
        if avail == 0 {
            return Err(format!(
                "compressed cluster at {coff:#x} lies past the end of the file"
            ));
        }
        let input = imgcheck_core::read_vec(self.file.as_ref(), coff, avail, cs.saturating_mul(2))
            .map_err(|e| format!("compressed cluster at {coff:#x}: {e}"))?;
        let mut out = vec![0u8; usz(cs)];
        decompress_cluster(&input, &mut out, self.header.compression_type)
            .map_err(|e| format!("compressed cluster at {coff:#x} ({csize} bytes): {e}"))?;
        let out: Arc<[u8]> = out.into();
        if let Ok(mut c) = self.cluster_cache.lock() {
            *c = Some((entry, Arc::clone(&out)));
        }
        Ok(out)
    }

    /// Reads guest bytes through the L1 table `l1` of a disk of `size` bytes.
    pub(crate) fn read_guest(
        &self,
        l1: &L1Table,
        size: u64,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(), ReadError> {
        let total = u64::try_from(buf.len()).unwrap_or(u64::MAX);
        match offset.checked_add(total) {
            Some(end) if end <= size => {}
            _ => {
                return Err(ReadError::new(
                    offset,
                    total,
                    ReadErrorKind::OutOfBounds { len: size },
                ));
            }
        }
        let mut done = 0usize;
        // Each round fills at least one byte.
        while done < buf.len() {
            let pos = offset.saturating_add(u64::try_from(done).unwrap_or(u64::MAX));
            let left = buf.len().saturating_sub(done);
            let (kind, run) = self
                .map(l1, pos)
                .map_err(|m| read_err(pos, u64::try_from(left).unwrap_or(0), m))?;
            let n = usz(run).min(left).max(1);
            let end = done.saturating_add(n);
            let dst = buf
                .get_mut(done..end)
                .ok_or_else(|| read_err(pos, 0, "internal range error"))?;
            self.fill(kind, pos, dst)?;
            done = end;
        }
        Ok(())
    }

    fn fill(&self, kind: Mapping, pos: u64, dst: &mut [u8]) -> Result<(), ReadError> {
        let n = u64::try_from(dst.len()).unwrap_or(u64::MAX);
        match kind {
            Mapping::Zero => dst.fill(0),
            Mapping::Unallocated => self.read_backing(pos, dst)?,
            Mapping::Data(host) => {
                if self.header.crypt_method != 0 {
                    return Err(read_err(
                        pos,
                        n,
                        "cluster is encrypted; it cannot be read without the key",
                    ));
                }
                let src: &dyn ReadAt = match &self.data_file {
                    None => self.file.as_ref(),
                    Some(DataFile::Open(r)) => r.as_ref(),
                    Some(DataFile::Unavailable(why)) => {
                        return Err(read_err(
                            pos,
                            n,
                            format!("external data file unavailable: {why}"),
                        ));
                    }
                };
                src.read_exact_at(host, dst)
                    .map_err(|e| read_err(pos, n, format!("data at host offset {host:#x}: {e}")))?;
            }
            Mapping::Compressed { entry, intra } => {
                if self.header.crypt_method != 0 {
                    return Err(read_err(
                        pos,
                        n,
                        "cluster is encrypted; it cannot be read without the key",
                    ));
                }
                let c = self.decompress(entry).map_err(|m| read_err(pos, n, m))?;
                let s = usz(intra);
                let src = s
                    .checked_add(dst.len())
                    .and_then(|e| c.get(s..e))
                    .ok_or_else(|| read_err(pos, n, "internal range error"))?;
                dst.copy_from_slice(src);
            }
        }
        Ok(())
    }

    fn read_backing(&self, pos: u64, dst: &mut [u8]) -> Result<(), ReadError> {
        let n = u64::try_from(dst.len()).unwrap_or(u64::MAX);
        let Some(b) = &self.backing else {
            dst.fill(0);
            return Ok(());
        };
        let src_len = match &b.state {
            BackingState::Qcow2(img) => img.header.size,
            BackingState::Raw(r) => r.len(),
            other => {
                return Err(read_err(
                    pos,
                    n,
                    format!("backing file {} unavailable: {other:?}", b.name),
                ));
            }
        };
        // Past the end of a smaller backing file the guest reads zeros.
        let have = usz(src_len.saturating_sub(pos).min(n));
        let (head, tail) = dst.split_at_mut(have.min(dst.len()));
        if !head.is_empty() {
            match &b.state {
                BackingState::Qcow2(img) => {
                    img.read_guest(&img.active, img.header.size, pos, head)?
                }
                BackingState::Raw(r) => r.read_exact_at(pos, head)?,
                _ => {}
            }
        }
        tail.fill(0);
        Ok(())
    }

    /// Whether `offset..offset+len` of the guest (through `l1`) reads as
    /// zeros without looking at data.
    pub(crate) fn guest_known_zero(&self, l1: &L1Table, size: u64, offset: u64, len: u64) -> bool {
        let Some(end) = offset.checked_add(len) else {
            return false;
        };
        if end > size {
            return false;
        }
        let mut pos = offset;
        let mut steps = 0u32;
        // Each round advances by at least one byte; the step bound keeps
        // a huge range of tiny clusters from taking forever ("unknown").
        while pos < end {
            steps = steps.saturating_add(1);
            if steps > MAX_KNOWN_ZERO_STEPS {
                return false;
            }
            let Ok((kind, run)) = self.map(l1, pos) else {
                return false;
            };
            let ok = match kind {
                Mapping::Zero => true,
                Mapping::Unallocated => match self.backing.as_ref().map(|b| &b.state) {
                    None => true,
                    Some(BackingState::Qcow2(img)) => {
                        let r = run.min(end.saturating_sub(pos));
                        pos >= img.header.size
                            || img.guest_known_zero(
                                &img.active,
                                img.header.size,
                                pos,
                                r.min(img.header.size.saturating_sub(pos)),
                            )
                    }
                    _ => false,
                },
                _ => false,
            };
            if !ok {
                return false;
            }
            pos = pos.saturating_add(run.max(1));
        }
        true
    }

    /// Maps a guest offset: what it is and how many bytes from it share
    /// that mapping (to the end of the cluster, subcluster or L2 range).
    fn map(&self, l1: &L1Table, pos: u64) -> Result<(Mapping, u64), String> {
        let h = &self.header;
        let cs = h.cluster_size();
        let in_cluster = pos.checked_rem(cs).unwrap_or(0);
        let cluster_left = cs.saturating_sub(in_cluster);
        let cluster_index = pos >> h.cluster_bits;
        let l2_entries = h.l2_entries().max(1);
        let l1_index = usz(cluster_index.checked_div(l2_entries).unwrap_or(0));
        let l2_index = usz(cluster_index.checked_rem(l2_entries).unwrap_or(0));
        if l1_index >= l1.size {
            // Everything past the L1 table is unallocated.
            return Ok((Mapping::Unallocated, u64::MAX.saturating_sub(pos).max(1)));
        }
        if l1_index >= l1.valid {
            return Err(format!(
                "L1 entry {l1_index} lies past the end of the file (L1 table at {:#x})",
                l1.offset
            ));
        }
        let l1e = l1.entries.get(l1_index).copied().unwrap_or(0);
        let l2_off = l1e & L1E_OFFSET_MASK;
        if l2_off == 0 {
            // The whole L2 range is unallocated.
            let range_left = (l2_entries.saturating_sub(u64::try_from(l2_index).unwrap_or(0)))
                .saturating_mul(cs)
                .saturating_sub(in_cluster);
            return Ok((Mapping::Unallocated, range_left.max(1)));
        }
        let t = self
            .l2_table(l2_off)
            .map_err(|e| format!("L1 entry {l1_index}: {e}"))?;
        let es = usz(h.l2_entry_size());
        let at = l2_index.saturating_mul(es);
        let entry = be64(&t, at);
        let ty = cluster_type(h, entry);
        let host = entry & L2E_OFFSET_MASK;
        if h.extended_l2() {
            let bitmap = be64(&t, at.saturating_add(8));
            let sc_size = cs / 32;
            let sc = u32::try_from(in_cluster.checked_div(sc_size).unwrap_or(0))
                .unwrap_or(0)
                .min(31);
            let sc_left = sc_size.saturating_sub(in_cluster.checked_rem(sc_size).unwrap_or(0));
            let alloc = bitmap & (1u64 << sc) != 0;
            let zero = bitmap & (1u64 << sc.saturating_add(32)) != 0;
            return match ty {
                ClusterType::Compressed => {
                    if bitmap != 0 {
                        return Err(format!(
                            "compressed L2 entry {l2_index} of the table at {l2_off:#x} has a non-zero subcluster bitmap {bitmap:#x}"
                        ));
                    }
                    Ok((
                        Mapping::Compressed {
                            entry,
                            intra: in_cluster,
                        },
                        cluster_left,
                    ))
                }
                ClusterType::Normal | ClusterType::ZeroAlloc => {
                    if (bitmap >> 32) & bitmap != 0 {
                        return Err(format!(
                            "L2 entry {l2_index} of the table at {l2_off:#x} has a corrupt subcluster bitmap {bitmap:#x}"
                        ));
                    }
                    if !host.is_multiple_of(cs) {
                        return Err(format!(
                            "L2 entry {l2_index} of the table at {l2_off:#x}: host offset {host:#x} is not cluster aligned"
                        ));
                    }
                    if zero {
                        Ok((Mapping::Zero, sc_left))
                    } else if alloc {
                        Ok((Mapping::Data(host.saturating_add(in_cluster)), sc_left))
                    } else {
                        Ok((Mapping::Unallocated, sc_left))
                    }
                }
                _ => {
                    if bitmap & 0xffff_ffff != 0 {
                        return Err(format!(
                            "unallocated L2 entry {l2_index} of the table at {l2_off:#x} has allocation bits {bitmap:#x}"
                        ));
                    }
                    Ok((
                        if zero {
                            Mapping::Zero
                        } else {
                            Mapping::Unallocated
                        },
                        sc_left,
                    ))
                }
            };
        }
        match ty {
            ClusterType::Unallocated => Ok((Mapping::Unallocated, cluster_left)),
            ClusterType::ZeroPlain | ClusterType::ZeroAlloc => Ok((Mapping::Zero, cluster_left)),
            ClusterType::Compressed => Ok((
                Mapping::Compressed {
                    entry,
                    intra: in_cluster,
                },
                cluster_left,
            )),
            ClusterType::Normal => {
                if !host.is_multiple_of(cs) {
                    return Err(format!(
                        "L2 entry {l2_index} of the table at {l2_off:#x}: host offset {host:#x} is not cluster aligned"
                    ));
                }
                Ok((Mapping::Data(host.saturating_add(in_cluster)), cluster_left))
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Mapping {
    Zero,
    Unallocated,
    Data(u64),
    Compressed { entry: u64, intra: u64 },
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

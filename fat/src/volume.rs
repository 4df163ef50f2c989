//! The file-level API: a volume opened read-only, paths looked up as Linux
//! does (case-insensitive, long names where they are valid), a file's
//! cluster chain as byte extents, its bytes (bounded), and the map of
//! which byte ranges belong to which path. The boot-chain check reads
//! `\EFI\BOOT\BOOTX64.EFI` through it; the zero and lost-files maps ask it
//! whom a range belonged to.
//!
//! Nothing here reports findings: it reads what is there and says where a
//! chain stops ([`ChainEnd`]); [`crate::check`] judges.

use crate::bpb::{BOOT_SECTOR_LEN, Bpb, FatKind, Geometry, Root};
use crate::dir::{ATTR_DIR, DOT, DOTDOT, ENTRY_LEN, LfnSlot, RawEntry};
use crate::lfn::LfnState;
use crate::summary::ByteRange;
use crate::table::{Entry, Fat, LoadError};
use imgcheck_core::bytes::{u64_of, usize_of};
use imgcheck_core::{ReadAt, ReadError, read_vec};
use serde::Serialize;
use std::collections::{HashSet, VecDeque};
use std::fmt;

/// Bytes of one directory read (the FAT maximum: 65,536 entries).
pub const MAX_DIR_BYTES: u64 = 65536 * 32;
/// Path components followed by [`Volume::lookup`].
pub const MAX_PATH_COMPONENTS: usize = 256;

/// Why a volume could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// The boot sector (and any FAT32 backup) cannot be read.
    Read(ReadError),
    /// Neither the boot sector nor a FAT32 backup describes a FAT
    /// filesystem.
    NotFat(crate::bpb::Unusable),
    /// The FAT is larger than [`crate::table::MAX_FAT_BYTES`].
    FatTooLarge(u64),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Read(e) => write!(f, "boot sector: {e}"),
            OpenError::NotFat(u) => write!(f, "not a FAT filesystem: {u}"),
            OpenError::FatTooLarge(n) => write!(
                f,
                "the FAT is {n} bytes, more than this reader holds in memory"
            ),
        }
    }
}

impl std::error::Error for OpenError {}

/// Why a file could not be read or looked up.
#[derive(Debug)]
pub enum FileError {
    /// A read failed (the reader's own error).
    Read(ReadError),
    /// The chain ends before the file's size: the bytes past it are lost.
    ChainBroken {
        /// The file.
        path: String,
        /// How the chain ends.
        end: ChainEnd,
        /// Bytes the chain covers.
        covered: u64,
        /// The file's size.
        size: u64,
    },
    /// Not a directory.
    NotADirectory(String),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Read(e) => write!(f, "{e}"),
            FileError::ChainBroken {
                path,
                end,
                covered,
                size,
            } => write!(
                f,
                "{path}: the cluster chain covers {covered} of {size} bytes ({end:?})"
            ),
            FileError::NotADirectory(p) => write!(f, "{p}: not a directory"),
        }
    }
}

impl std::error::Error for FileError {}

impl From<ReadError> for FileError {
    fn from(e: ReadError) -> Self {
        FileError::Read(e)
    }
}

/// A directory entry (a file, a directory, the label) as Linux shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileEntry {
    /// `/EFI/BOOT/BOOTX64.EFI`, in the names shown (long where valid).
    pub path: String,
    /// The name shown: the long name when valid, else the short name.
    pub name: String,
    /// The 8.3 name (`BOOTX64.EFI`).
    pub short_name: String,
    /// `DIR_Attr`.
    pub attr: u8,
    /// `DIR_FileSize` (0 for directories).
    pub size: u32,
    /// The first cluster (0: empty file, or the root).
    pub first_cluster: u32,
    /// Byte offset of the short entry (0 for the root).
    pub entry_offset: u64,
    /// Last write time (Unix seconds of the recorded clock).
    pub modified: Option<i64>,
    /// Creation time.
    pub created: Option<i64>,
}

impl FileEntry {
    /// A directory (or the root).
    pub fn is_dir(&self) -> bool {
        self.attr & ATTR_DIR != 0
    }
}

/// How a chain ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainEnd {
    /// At an end-of-chain mark.
    Eoc,
    /// Where the file's size was covered (the chain may go on).
    Size,
    /// The entry has no cluster (an empty file).
    Empty,
    /// The first cluster is not a data cluster.
    BadStart {
        /// The value.
        cluster: u32,
    },
    /// At a cluster that is free in the FAT.
    Free {
        /// The cluster.
        cluster: u32,
    },
    /// At a cluster marked bad.
    Bad {
        /// The cluster.
        cluster: u32,
    },
    /// At an entry pointing outside the data area.
    OutOfRange {
        /// The cluster whose entry it is.
        cluster: u32,
        /// The entry's value.
        value: u32,
    },
    /// Back at a cluster already in the chain.
    Loop {
        /// The cluster reached again.
        cluster: u32,
    },
    /// The FAT entry could not be read.
    Unreadable {
        /// The cluster.
        cluster: u32,
    },
    /// A directory longer than [`MAX_DIR_BYTES`].
    TooLong,
}

impl fmt::Display for ChainEnd {
    /// In words, for a finding: where and why the chain stops.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainEnd::Eoc => write!(f, "it ends at an end-of-chain mark"),
            ChainEnd::Size => write!(f, "it covers the file's size"),
            ChainEnd::Empty => write!(f, "the entry has no cluster"),
            ChainEnd::BadStart { cluster } => {
                write!(f, "its first cluster {cluster} is no data cluster")
            }
            ChainEnd::Free { cluster } => write!(f, "it runs into free cluster {cluster}"),
            ChainEnd::Bad { cluster } => {
                write!(f, "it runs into cluster {cluster}, marked bad")
            }
            ChainEnd::OutOfRange { cluster, value } => write!(
                f,
                "cluster {cluster}'s FAT entry {value:#x} points outside the data area"
            ),
            ChainEnd::Loop { cluster } => {
                write!(f, "it comes back to cluster {cluster} (a loop)")
            }
            ChainEnd::Unreadable { cluster } => {
                write!(f, "cluster {cluster}'s FAT entry cannot be read")
            }
            ChainEnd::TooLong => write!(f, "the directory is longer than imgcheck reads"),
        }
    }
}

/// A chain as byte extents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chain {
    /// Clusters followed.
    pub clusters: u32,
    /// Their bytes, contiguous runs merged; for a file, cut to its size.
    pub extents: Vec<ByteRange>,
    /// How it ends.
    pub end: ChainEnd,
    /// Bytes the extents cover.
    pub bytes: u64,
}

/// One path of the [`FileMap`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MappedFile {
    /// The path.
    pub path: String,
    /// A directory.
    pub is_dir: bool,
    /// Its size (0 for directories).
    pub size: u32,
    /// Where its bytes are.
    pub extents: Vec<ByteRange>,
    /// How its chain ends.
    pub end: ChainEnd,
}

/// Which byte ranges belong to which path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FileMap {
    /// Every file and directory reached, in walk order.
    pub files: Vec<MappedFile>,
    /// `(start, len, index into files)`, sorted by start.
    #[serde(skip)]
    index: Vec<(u64, u64, u32)>,
    /// Set when a bound stopped the walk.
    pub incomplete: bool,
}

impl FileMap {
    /// The paths whose bytes overlap `range`, with the overlapping part.
    pub fn owners(&self, range: ByteRange) -> Vec<(&str, ByteRange)> {
        let end = range.end();
        // Extents do not overlap each other unless the FAT is cross-linked,
        // so a scan from the first extent ending after `start` suffices.
        let from = self
            .index
            .partition_point(|&(s, l, _)| s.saturating_add(l) <= range.start);
        let mut out = Vec::new();
        for &(s, l, i) in self.index.iter().skip(from) {
            if s >= end {
                break;
            }
            let a = s.max(range.start);
            let b = s.saturating_add(l).min(end);
            if a < b
                && let Some(f) = self.files.get(usize_of(u64::from(i)))
            {
                out.push((
                    f.path.as_str(),
                    ByteRange {
                        start: a,
                        len: b.saturating_sub(a),
                    },
                ));
            }
        }
        out
    }
}

/// Bounds of [`Volume::file_map`].
#[derive(Debug, Clone, Copy)]
pub struct MapLimits {
    /// Paths mapped.
    pub max_files: usize,
    /// Extents mapped in all.
    pub max_extents: usize,
}

impl Default for MapLimits {
    fn default() -> Self {
        MapLimits {
            max_files: 1 << 20,
            max_extents: 1 << 22,
        }
    }
}

/// A FAT volume opened for reading files.
pub struct Volume<R> {
    r: R,
    bpb: Bpb,
    g: Geometry,
    fat: Fat,
    copy: u32,
}

impl<R: ReadAt> Volume<R> {
    /// Opens the volume in `r`: the boot sector (or, when sector 0 is
    /// unusable, an intact FAT32 backup at sector 6), and the FAT copy
    /// fsck.fat would read (the first whose first entry is intact).
    pub fn open(r: R) -> Result<Self, OpenError> {
        let mut b = vec![0u8; BOOT_SECTOR_LEN];
        r.read_exact_at(0, &mut b).map_err(OpenError::Read)?;
        let mut bpb = Bpb::parse(&b);
        let g = match Geometry::from_bpb(&bpb) {
            Ok(g) => g,
            Err(e) => {
                let found = crate::probe::identify(&r)
                    .and_then(|i| i.backup_at)
                    .and_then(|at| {
                        let mut bb = vec![0u8; BOOT_SECTOR_LEN];
                        r.read_exact_at(at, &mut bb).ok()?;
                        let bp = Bpb::parse(&bb);
                        Geometry::from_bpb(&bp).ok().map(|g| (bp, g))
                    });
                match found {
                    Some((bp, g)) => {
                        bpb = bp;
                        g
                    }
                    None => return Err(OpenError::NotFat(e)),
                }
            }
        };
        let mut reads = crate::reads::Reads::new(&r);
        let mut copy = 0u32;
        for k in 0..g.num_fats.min(2) {
            let mut h = [0u8; 8];
            if reads.read(g.fat_copy_start(k), &mut h, "FAT").is_ok() {
                let f = Fat::from_bytes(g.kind, 1, h.to_vec());
                if f.value(0) & g.kind.extd() == g.kind.extd() {
                    copy = k;
                    break;
                }
            }
        }
        let fat = Fat::load(&mut reads, &g, copy)
            .map_err(|LoadError::TooLarge(n)| OpenError::FatTooLarge(n))?;
        drop(reads);
        Ok(Volume {
            r,
            bpb,
            g,
            fat,
            copy,
        })
    }

    /// The geometry.
    pub fn geometry(&self) -> &Geometry {
        &self.g
    }

    /// The boot sector's fields.
    pub fn bpb(&self) -> &Bpb {
        &self.bpb
    }

    /// The FAT copy read (0-based).
    pub fn fat_copy(&self) -> u32 {
        self.copy
    }

    /// The FAT.
    pub fn fat(&self) -> &Fat {
        &self.fat
    }

    /// The reader.
    pub fn reader(&self) -> &R {
        &self.r
    }

    /// The root directory.
    pub fn root(&self) -> FileEntry {
        FileEntry {
            path: "/".into(),
            name: String::new(),
            short_name: String::new(),
            attr: ATTR_DIR,
            size: 0,
            first_cluster: match self.g.root {
                Root::Chain { cluster } => cluster,
                Root::Fixed { .. } => 0,
            },
            entry_offset: 0,
            modified: None,
            created: None,
        }
    }

    /// The chain of `e` as byte extents: a file's cut to its size, a
    /// directory's to [`MAX_DIR_BYTES`]. Every chain is followed at most
    /// once around: a loop ends it.
    pub fn chain(&self, e: &FileEntry) -> Chain {
        let cs = u64::from(self.g.cluster_size);
        let is_dir = e.is_dir();
        let want = if is_dir {
            MAX_DIR_BYTES
        } else {
            u64::from(e.size)
        };
        let mut out = Chain {
            clusters: 0,
            extents: Vec::new(),
            end: ChainEnd::Empty,
            bytes: 0,
        };
        let start = e.first_cluster;
        if start == 0 {
            return out;
        }
        if !self.g.is_cluster(start) {
            out.end = ChainEnd::BadStart { cluster: start };
            return out;
        }
        let mut seen = Seen::new(self.g.clusters);
        let mut c = start;
        loop {
            if !is_dir && out.bytes >= want {
                out.end = ChainEnd::Size;
                break;
            }
            if is_dir && out.bytes >= want {
                out.end = ChainEnd::TooLong;
                break;
            }
            if !self.fat.readable(c) {
                out.end = ChainEnd::Unreadable { cluster: c };
                break;
            }
            if !seen.insert(c) {
                out.end = ChainEnd::Loop { cluster: c };
                break;
            }
            let entry = self.fat.entry(c);
            match entry {
                Entry::Free => {
                    out.end = ChainEnd::Free { cluster: c };
                    break;
                }
                Entry::Bad => {
                    out.end = ChainEnd::Bad { cluster: c };
                    break;
                }
                _ => {}
            }
            let at = self.g.cluster_offset(c);
            let len = if is_dir {
                cs
            } else {
                cs.min(want.saturating_sub(out.bytes))
            };
            match out.extents.last_mut() {
                Some(r) if r.end() == at => r.len = r.len.saturating_add(len),
                _ => out.extents.push(ByteRange { start: at, len }),
            }
            out.bytes = out.bytes.saturating_add(len);
            out.clusters = out.clusters.saturating_add(1);
            match entry {
                Entry::Next(x) => c = x,
                Entry::Eoc => {
                    out.end = if !is_dir && out.bytes >= want {
                        ChainEnd::Size
                    } else {
                        ChainEnd::Eoc
                    };
                    break;
                }
                Entry::Invalid(v) => {
                    out.end = ChainEnd::OutOfRange {
                        cluster: c,
                        value: v,
                    };
                    break;
                }
                Entry::Free | Entry::Bad => break,
            }
        }
        out
    }

    /// Up to `limit` bytes of file `e` (its size, if smaller). A chain
    /// that ends before them is an error naming how it ends.
    pub fn read(&self, e: &FileEntry, limit: u64) -> Result<Vec<u8>, FileError> {
        let ch = self.chain(e);
        let want = u64::from(e.size).min(limit);
        if ch.bytes < want {
            return Err(FileError::ChainBroken {
                path: e.path.clone(),
                end: ch.end,
                covered: ch.bytes,
                size: u64::from(e.size),
            });
        }
        let mut out = Vec::with_capacity(usize_of(want));
        for x in &ch.extents {
            let left = want.saturating_sub(u64_of(out.len()));
            if left == 0 {
                break;
            }
            let n = x.len.min(left);
            out.extend(read_vec(&self.r, x.start, n, n)?);
        }
        Ok(out)
    }

    /// The entries of directory `dir` as Linux lists them: no free
    /// entries, no long-name slots, no label, no `.` or `..`; long names
    /// only where their slots are consistent and match the short name.
    pub fn read_dir(&self, dir: &FileEntry) -> Result<Vec<FileEntry>, FileError> {
        let mut out = Vec::new();
        self.scan(dir, |e| {
            out.push(e);
            true
        })?;
        Ok(out)
    }

    /// Calls `visit` with each entry of `dir` (as [`Volume::read_dir`]
    /// lists them) until it returns `false`.
    fn scan(
        &self,
        dir: &FileEntry,
        mut visit: impl FnMut(FileEntry) -> bool,
    ) -> Result<(), FileError> {
        if !dir.is_dir() {
            return Err(FileError::NotADirectory(dir.path.clone()));
        }
        let fat32 = self.g.kind == FatKind::Fat32;
        let is_root = dir.entry_offset == 0 && dir.path == "/";
        let extents = match (is_root, self.g.root) {
            (true, Root::Fixed { start, entries }) => vec![ByteRange {
                start,
                len: u64::from(entries).saturating_mul(32).min(MAX_DIR_BYTES),
            }],
            _ => self.chain(dir).extents,
        };
        let mut lfn = LfnState::new();
        let mut ignored = Vec::new();
        let sep = if dir.path == "/" { "" } else { "/" };
        for x in extents {
            let bytes = read_vec(&self.r, x.start, x.len, MAX_DIR_BYTES)?;
            for (k, ch) in bytes.chunks_exact(ENTRY_LEN).enumerate() {
                ignored.clear();
                let e = RawEntry::parse(ch);
                let at = x.start.saturating_add(u64_of(k).saturating_mul(32));
                if e.is_free() {
                    lfn.check_orphaned(&mut ignored);
                    continue;
                }
                if e.is_lfn() {
                    lfn.add_slot(&LfnSlot::parse(ch), at, &mut ignored);
                    continue;
                }
                let long = lfn
                    .take(&e, at, &mut ignored)
                    .filter(|l| l.valid && !l.name.is_empty());
                if e.is_volume() || e.name == DOT || e.name == DOTDOT {
                    continue;
                }
                let short = e.short_name();
                let name = long.map_or_else(|| short.clone(), |l| l.name);
                let entry = FileEntry {
                    path: format!("{}{sep}{name}", dir.path),
                    name,
                    short_name: short,
                    attr: e.attr,
                    size: if e.is_dir() { 0 } else { e.size },
                    first_cluster: e.first_cluster(fat32),
                    entry_offset: at,
                    modified: e.written(),
                    created: e.created(),
                };
                if !visit(entry) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// The volume label entry of the root directory (the first one, not
    /// deleted): its name and last-write time. mkfs.fat writes it with
    /// the time it made the volume, and nothing but a relabel rewrites
    /// it, so it dates the volume's creation.
    pub fn label_entry(&self) -> Option<(String, Option<i64>)> {
        let extents = match self.g.root {
            Root::Fixed { start, entries } => vec![ByteRange {
                start,
                len: u64::from(entries).saturating_mul(32).min(MAX_DIR_BYTES),
            }],
            _ => self.chain(&self.root()).extents,
        };
        for x in extents {
            let bytes = read_vec(&self.r, x.start, x.len, MAX_DIR_BYTES).ok()?;
            for ch in bytes.chunks_exact(ENTRY_LEN) {
                let e = RawEntry::parse(ch);
                if e.name.first() == Some(&0) {
                    return None;
                }
                if e.is_free() || !e.is_volume() {
                    continue;
                }
                let name = String::from_utf8_lossy(&e.name).trim_end().to_string();
                return Some((name, e.written()));
            }
        }
        None
    }

    /// The entry at `path` (`/EFI/BOOT/BOOTX64.EFI` or
    /// `\EFI\BOOT\BOOTX64.EFI`), matched case-insensitively against long
    /// and short names; `None` when a component does not exist.
    pub fn lookup(&self, path: &str) -> Result<Option<FileEntry>, FileError> {
        let mut stack = vec![self.root()];
        for part in path
            .split(['/', '\\'])
            .filter(|p| !p.is_empty())
            .take(MAX_PATH_COMPONENTS)
        {
            if part == "." {
                continue;
            }
            if part == ".." {
                if stack.len() > 1 {
                    stack.pop();
                }
                continue;
            }
            let Some(cur) = stack.last() else {
                return Ok(None);
            };
            if !cur.is_dir() {
                return Ok(None);
            }
            let want = part.to_lowercase();
            let mut found = None;
            self.scan(cur, |e| {
                if e.name.to_lowercase() == want || e.short_name.to_lowercase() == want {
                    found = Some(e);
                    return false;
                }
                true
            })?;
            match found {
                Some(e) => stack.push(e),
                None => return Ok(None),
            }
        }
        Ok(stack.pop())
    }

    /// Every file and directory reached from the root with its extents,
    /// breadth first; each directory is read once (by its first cluster),
    /// so a looping tree ends.
    pub fn file_map(&self, limits: &MapLimits) -> FileMap {
        let mut map = FileMap::default();
        let mut queue = VecDeque::from([self.root()]);
        let mut dirs_seen: HashSet<u32> = HashSet::new();
        let mut extents = 0usize;
        while let Some(d) = queue.pop_front() {
            if d.first_cluster != 0 && !dirs_seen.insert(d.first_cluster) {
                continue;
            }
            let Ok(entries) = self.read_dir(&d) else {
                continue;
            };
            for e in entries {
                if map.files.len() >= limits.max_files || extents >= limits.max_extents {
                    map.incomplete = true;
                    break;
                }
                let ch = self.chain(&e);
                extents = extents.saturating_add(ch.extents.len());
                let i = u32::try_from(map.files.len()).unwrap_or(u32::MAX);
                for x in &ch.extents {
                    map.index.push((x.start, x.len, i));
                }
                map.files.push(MappedFile {
                    path: e.path.clone(),
                    is_dir: e.is_dir(),
                    size: e.size,
                    extents: ch.extents,
                    end: ch.end,
                });
                if e.is_dir() && e.first_cluster != 0 {
                    queue.push_back(e);
                }
            }
        }
        map.index.sort_unstable();
        map
    }
}

/// Clusters seen on one chain: a small set while the chain is short, a
/// bitmap of every cluster once it is long.
struct Seen {
    small: HashSet<u32>,
    big: Option<crate::bitmap::Bitmap>,
    clusters: u32,
}

impl Seen {
    fn new(clusters: u32) -> Self {
        Seen {
            small: HashSet::new(),
            big: None,
            clusters,
        }
    }

    /// `false` when `c` was seen before.
    fn insert(&mut self, c: u32) -> bool {
        if let Some(b) = &mut self.big {
            if b.get(c) {
                return false;
            }
            b.set(c);
            return true;
        }
        if self.small.len() >= 65536 {
            let mut b = crate::bitmap::Bitmap::new(self.clusters.saturating_add(2));
            for &x in &self.small {
                b.set(x);
            }
            self.small = HashSet::new();
            let fresh = !b.get(c);
            b.set(c);
            self.big = Some(b);
            return fresh;
        }
        self.small.insert(c)
    }
}

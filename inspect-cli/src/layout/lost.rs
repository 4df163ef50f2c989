//! What was lost, by file: zero runs of the disk mapped through each
//! filesystem's reverse map ([`imgcheck_core::OwnerMap`]) to the files,
//! directories and structures whose bytes they hold.
//!
//! Zeros are not always losses: free space, unwritten extents, a journal
//! past its live log, reserved GDT blocks, unused inodes and bitmaps read
//! as zeros by design, and database pages, WAL segments, VM images and
//! preallocated files hold zeros of their own. Those are neither losses
//! nor evidence, and an event spans only the bytes that can be lost. A
//! run becomes a loss event only on evidence, and says which:
//! - `structure`: it holds a block that always has structure (a directory,
//!   extent-tree, attribute or journal superblock block), or inode-table
//!   slots of inodes a directory entry names — certain;
//! - `span`: it runs through the data of several files and stops inside
//!   one's (that file's data resumes after the zeros) — likely, whatever
//!   the alignment; an edge that cuts a file at a storage object boundary
//!   (1, 4 or 8 MiB) is said. Zeros covering whole files, or running from
//!   inside a file to its end, are how files written as zeros look
//!   (mballoc puts large files on 1 MiB boundaries, so they line up);
//! - `elsewhere`: a run of the same object size and alignment destroyed
//!   structure elsewhere on the disk, and this one cuts a file at an edge
//!   of that size — likely;
//! - `text`: whole blocks of zeros inside a text file (its first block is
//!   text), which never holds runs of NUL blocks — likely.
//!
//! Anything else is told nowhere: a false alarm is as bad as a miss.
//!
//! The zero map steps in 4 KiB blocks; a run's known edges are read to
//! the byte, so a text file cut inside a block is seen where its data
//! resumes, and file data is counted up to each file's size (its last
//! block's padding was never content). Under bigalloc a cluster is its
//! file's whole: the blocks of it the file does not map are held, not
//! free.

use crate::report::Node;
use imgcheck_core::bytes::{is_zero, usize_of};
use imgcheck_core::{
    Finding, Hint, Layer, OwnerKind, OwnerMap, Place, ReadAt, ReadErrorKind, Space, Step,
    human_size,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod lv;
pub mod overwrite;
mod volume;
pub use volume::volume_events;
use volume::volume_finding;

/// Storage object sizes a zeroed run is matched against, largest first.
const OBJECT_SIZES: [u64; 3] = [8 << 20, 4 << 20, 1 << 20];
/// Paths named in a finding's message; the rest are in JSON and
/// `--lost-files`.
const NAMED_IN_MESSAGE: usize = 3;
/// Files listed per loss event at most (JSON, `--lost-files`).
pub const MAX_LOST_FILES: usize = 1 << 16;
/// Files whose first block is read to tell text from data, per image.
const MAX_TEXT_CHECKS: usize = 256;
/// Bytes of structure blocks the zeroed-structure check reads from the
/// disk itself, per image, at most. Blocks the filesystem layer read as
/// it filled its map are answered from that and cost nothing here; past
/// this bound the rest are still answered so, and the blocks left unread
/// are told ([`StructureBudget::finding`]).
pub const MAX_STRUCTURE_READ_BYTES: u64 = 256 << 20;
/// Runs whose edges are read to the byte, per image, at most (two reads
/// of one zero-map block each).
const MAX_EDGE_READS: usize = 1 << 16;

/// How sure a loss event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Zeros of a storage object's exact size and alignment holding only
    /// whole files: files written as zeros rarely fill one so, but they
    /// can; said, never counted as certain.
    Possible,
    /// Several owners cut at object-aligned edges: zeros of this shape are
    /// rarely data.
    Likely,
    /// Structure that is never all zeros reads as zeros.
    Certain,
}

/// One file (or directory) that lost bytes in an event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LostFile {
    /// Its inode.
    pub inode: u32,
    /// Its first path, when a directory entry named it.
    pub path: Option<String>,
    /// How many directory entries name it.
    pub links: u32,
    /// The partition its filesystem is in.
    pub partition: Option<u32>,
    /// The logical volume its filesystem is in (`vg/lv`); its ranges are
    /// then bytes of that volume, not of the disk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// What it lost: file data, directory blocks, its extent tree.
    pub what: Vec<OwnerKind>,
    /// Disk byte ranges `[start, end)` it lost.
    pub ranges: Vec<(u64, u64)>,
}

impl LostFile {
    /// Bytes lost.
    pub fn bytes(&self) -> u64 {
        self.ranges.iter().map(|(s, e)| e.saturating_sub(*s)).sum()
    }
}

/// Filesystem structure (not one file's) an event destroyed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LostStructure {
    /// What it is.
    pub kind: OwnerKind,
    /// The partition its filesystem is in.
    pub partition: Option<u32>,
    /// Disk bytes `[start, end)`.
    pub range: (u64, u64),
}

/// Zeroed inodes of one inode-table piece that directory entries name.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LostInodes {
    /// The partition its filesystem is in.
    pub partition: Option<u32>,
    /// The groups whose tables it is part of, first and last.
    pub groups: (u32, u32),
    /// The inodes whose slots were zeroed, first and last.
    pub inodes: (u32, u32),
    /// How many of them directory entries name: files lost whole.
    pub named: usize,
    /// It held the root directory's inode: every path is cut at `/`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub root: bool,
    /// Inodes in use in the groups whose whole tables it covers, as the
    /// group descriptors count them: files lost whole, named or not (with
    /// the root's inode gone, no directory names any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_use: Option<u64>,
    /// Those counts are the backup descriptors' (the primary was
    /// unusable): as of their last write, not of the last mount.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub counted_by_backup: bool,
}

/// One zeroed range of the disk and what it destroyed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LossEvent {
    /// First byte on the disk.
    pub start: u64,
    /// One past the last.
    pub end: u64,
    /// How sure.
    pub confidence: Confidence,
    /// The evidence, by name (`structure`, `object 4 MiB`, `elsewhere`).
    pub evidence: Vec<String>,
    /// Files and directories that lost bytes.
    pub files: Vec<LostFile>,
    /// More files than listed.
    pub files_not_listed: usize,
    /// Filesystem structures destroyed.
    pub structures: Vec<LostStructure>,
    /// The logical volume `start..end` are bytes of (`vg/lv`), when the
    /// bytes are a volume's that no input holds rather than the disk's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// The disk bytes `[start, end)` the volume's `start..end` are at,
    /// when zeros on the disk are what the volume lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk: Option<(u64, u64)>,
    /// The newest modification time (seconds, UTC) of a file that lost
    /// data here, with its path: the file was whole when last written, so
    /// the loss came after it (unless the time was set by hand).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<(i64, String)>,
    /// When the filesystem that lost the bytes was last written, as its
    /// superblock says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fs_last_write: Option<i64>,
    /// Inode numbers `[first, last]` whose inode-table bytes the range
    /// destroyed (an overwrite of the tables), in runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inodes_lost: Vec<(u64, u64)>,
    /// Inode-table pieces that read as zeros where directory entries name
    /// the inodes they held.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inode_tables: Vec<LostInodes>,
    /// Files that lost no bytes but can no longer be found by name: their
    /// entries are in a hashed directory's leaf blocks that the destroyed
    /// index block led to (a lookup goes through the index).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreachable: Vec<LostFile>,
}

/// One filesystem on the disk with a reverse map.
struct Mapped<'a> {
    base: u64,
    len: u64,
    partition: Option<u32>,
    map: &'a OwnerMap,
}

fn mapped(root: &Node) -> Vec<Mapped<'_>> {
    super::on_disk(root)
        .filter_map(|n| {
            let map = n.facts.owners.as_deref()?;
            Some(Mapped {
                base: n.base,
                len: n.facts.claimed_size.unwrap_or(u64::MAX),
                partition: n.place.partition(),
                map,
            })
        })
        .collect()
}

/// A piece of a run owned by one owner, in disk space.
#[derive(Clone, Copy)]
struct Hit {
    fs: usize,
    kind: OwnerKind,
    inode: u32,
    start: u64,
    end: u64,
    /// The owner's extent begins before the run: the zeros start inside
    /// it, after bytes of its that are not zeros.
    starts_inside: bool,
    /// The owner's extent runs on past the run: the zeros stop inside it
    /// and its data resumes (the run is maximal, so those bytes are not
    /// zeros).
    stops_inside: bool,
    /// The owner's `logical` at the hit's first byte.
    logical: u64,
}

/// Whether zeros in a range of `kind` can be a loss at all. Free space is
/// never in a map; unwritten extents read as zeros by design; a journal
/// past its live log is zeros until the log wraps into it; reserved GDT
/// blocks are zeros until a resize; bitmaps and inode tables of unused
/// groups and inodes are zeros of their own.
fn can_be_lost(kind: OwnerKind) -> bool {
    !matches!(
        kind,
        OwnerKind::Unwritten
            | OwnerKind::Journal
            | OwnerKind::OtherMetadata
            | OwnerKind::Bitmap
            | OwnerKind::InodeTable
    )
}

/// The owners of `s..e` (disk space) whose bytes it destroyed when it was
/// overwritten or is missing: every one but unwritten extents.
fn hits(fss: &[Mapped<'_>], s: u64, e: u64) -> Vec<Hit> {
    owned(fss, s, e, |k| k != OwnerKind::Unwritten)
}

/// The owners of a zero run `s..e` whose zeros can be a loss.
fn zero_hits(fss: &[Mapped<'_>], s: u64, e: u64) -> Vec<Hit> {
    owned(fss, s, e, can_be_lost)
}

fn owned(fss: &[Mapped<'_>], s: u64, e: u64, keep: fn(OwnerKind) -> bool) -> Vec<Hit> {
    let mut out = Vec::new();
    for (i, m) in fss.iter().enumerate() {
        let lo = s.max(m.base);
        let hi = e.min(m.base.saturating_add(m.len));
        if lo >= hi {
            continue;
        }
        let (a, b) = (lo.saturating_sub(m.base), hi.saturating_sub(m.base));
        for o in m.map.owners_in(a, b) {
            if !keep(o.kind) {
                continue;
            }
            let os = o.start.max(a);
            let oe = o.end().min(b);
            out.push(Hit {
                fs: i,
                kind: o.kind,
                inode: o.inode,
                start: os.saturating_add(m.base),
                end: oe.saturating_add(m.base),
                starts_inside: o.inode != 0 && o.start < a,
                stops_inside: o.inode != 0 && o.end() > b,
                logical: o.logical.saturating_add(os.saturating_sub(o.start)),
            });
        }
    }
    out
}

/// Whether the hit wholly covers at least one block of a structure that
/// is never all zeros.
fn whole_structure(h: &Hit, fss: &[Mapped<'_>]) -> bool {
    if !h.kind.must_hold_structure() {
        return false;
    }
    let Some(m) = fss.get(h.fs) else {
        return false;
    };
    let a = h.start.saturating_sub(m.base);
    let b = h.end.saturating_sub(m.base);
    if h.kind == OwnerKind::Superblock {
        return a <= 1024 && b >= 2048;
    }
    let bs = m.map.block_size().max(1);
    a.div_ceil(bs).saturating_mul(bs).saturating_add(bs) <= b
}

/// Whether every file byte of the run lies in windows of `z` bytes
/// aligned on the disk and wholly inside `s..e`.
fn fits(z: u64, s: u64, e: u64, hs: &[Hit]) -> bool {
    let first = s.div_ceil(z).saturating_mul(z);
    let last = e.checked_div(z).unwrap_or(0).saturating_mul(z);
    first < last
        && hs
            .iter()
            .filter(|h| h.inode != 0)
            .all(|h| h.start >= first && h.end <= last)
}

/// Zero bytes that may lie past an object boundary on the far side of a
/// cut, to the byte, for the cut to be at that boundary: the data beyond a
/// lost object may start with zeros of its own (a binary's), less than a
/// sector of them. A file's own zeros that end a filesystem block or more
/// away are no cut there: a 1 KiB-block ext4 puts files 1 KiB past MiB
/// boundaries (block 0 is before its first group), and a zero region
/// ending at a MiB of the file ends 1 KiB past one on the disk, which the
/// zero map's 4 KiB steps round onto it (attackB F2).
const CUT_SLACK: u64 = 512;

/// Whether an edge of the hits' span cuts an owner at a multiple of `z`:
/// the zeros start inside an extent exactly at an object boundary, or stop
/// inside one exactly at a boundary. An edge that lies where a file's own
/// extent begins or ends, or in free space, says nothing: mballoc puts
/// large files on 1 MiB boundaries, so their zeros line up by themselves.
/// `edges`: the run's edges in zero-map blocks and to the byte
/// (`(s, e, s2, e2)`, [`byte_edges`]); a hit's edge at the run's is judged
/// where the zeros begin or end to the byte, within [`CUT_SLACK`].
fn cut_at(z: u64, hs: &[Hit], edges: (u64, u64, u64, u64)) -> bool {
    let (s, e, s2, e2) = edges;
    hs.iter().any(|h| {
        let start = if h.start == s { s2 } else { h.start };
        let end = if h.end == e { e2 } else { h.end };
        let before = start
            .checked_rem(z)
            .and_then(|r| z.saturating_sub(r).checked_rem(z));
        (h.starts_inside && before.is_some_and(|d| d < CUT_SLACK))
            || (h.stops_inside && end.checked_rem(z).is_some_and(|d| d < CUT_SLACK))
    })
}

/// The ranges inside `s..e` (disk space) that no owner of any kind
/// holds in any filesystem: free blocks, or space between filesystems.
/// Sorted.
fn free_gaps(fss: &[Mapped<'_>], s: u64, e: u64) -> Vec<(u64, u64)> {
    let mut held = owned(fss, s, e, |_| true)
        .into_iter()
        .map(|h| {
            let (a, b) = cluster_of(&h, fss);
            (a.max(s), b.min(e))
        })
        .collect::<Vec<_>>();
    held.sort_unstable();
    let mut gaps = Vec::new();
    let mut at = s;
    for (a, b) in held {
        if a > at {
            gaps.push((at, a));
        }
        at = at.max(b);
    }
    if at < e {
        gaps.push((at, e));
    }
    gaps
}

/// The disk bytes of the whole clusters a file's hit lies in (bigalloc:
/// a cluster is allocated to one file whole, and the blocks of it the
/// file does not map are neither free nor another's); the hit itself
/// when clusters are blocks or it is the filesystem's.
fn cluster_of(h: &Hit, fss: &[Mapped<'_>]) -> (u64, u64) {
    let Some(m) = fss.get(h.fs) else {
        return (h.start, h.end);
    };
    let cs = m.map.cluster_size();
    if h.inode == 0 || cs <= m.map.block_size() {
        return (h.start, h.end);
    }
    let a = h.start.saturating_sub(m.base);
    let b = h.end.saturating_sub(m.base);
    let a = a.checked_div(cs).unwrap_or(0).saturating_mul(cs);
    let b = b.div_ceil(cs).saturating_mul(cs);
    (a.saturating_add(m.base), b.saturating_add(m.base))
}

/// Whether disk byte `at` is in a cluster (a block unless bigalloc) that
/// holds file data of filesystem `m`.
fn file_cluster_at(m: &Mapped<'_>, at: u64) -> bool {
    let Some(a) = at.checked_sub(m.base) else {
        return false;
    };
    let cs = m.map.cluster_size().max(1);
    let c = a.checked_div(cs).unwrap_or(0).saturating_mul(cs);
    m.map
        .owners_in(c, c.saturating_add(cs))
        .iter()
        .any(|o| o.inode != 0 && o.kind == OwnerKind::FileData)
}

/// The hits of the pieces of a run, split at the free `gaps`, that run
/// through the data of at least two files and stop inside one: the hits
/// a span is told from. A piece bounded by free space on a side has no
/// file cut on that side.
fn spanning(hs: &[Hit], gaps: &[(u64, u64)]) -> Vec<Hit> {
    // Piece number of a hit: the gaps wholly before it.
    let piece = |h: &Hit| gaps.partition_point(|g| g.1 <= h.start);
    let mut pieces: BTreeMap<usize, Vec<Hit>> = BTreeMap::new();
    for h in hs {
        pieces.entry(piece(h)).or_default().push(*h);
    }
    pieces
        .into_values()
        .filter(|p| {
            // Owners are files: inode tables and bitmaps hold zeros of
            // their own (unused inodes, free groups).
            let files: std::collections::BTreeSet<(usize, u32)> = p
                .iter()
                .filter(|h| h.inode != 0)
                .map(|h| (h.fs, h.inode))
                .collect();
            files.len() >= 2 && p.iter().any(|h| h.stops_inside)
        })
        .flatten()
        .collect()
}

/// Whether the bytes just before `s` and at `e` were read (and so are
/// not zeros, the run being maximal there): the run's edges are where
/// the zeros stop, not where the zero map stopped reading.
/// `read` is sorted and merged.
fn edges_read(s: u64, e: u64, read: &[(u64, u64)], disk_len: u64) -> (bool, bool) {
    // The region holding byte `at`, if any.
    let holds = |at: u64| {
        let i = read.partition_point(|r| r.1 <= at);
        read.get(i).is_some_and(|r| r.0 <= at)
    };
    let start = s == 0 || s.checked_sub(1).is_some_and(holds);
    let end = e >= disk_len || holds(e);
    (start, end)
}

/// Whether `sample` reads as text: printable bytes (UTF-8 allowed) for
/// at least 64 bytes, then nothing or the zero padding of a file's last
/// block.
fn is_text(sample: &[u8]) -> bool {
    let body = sample
        .iter()
        .position(|&c| c == 0)
        .map_or(sample, |n| sample.get(..n).unwrap_or(&[]));
    body.len() >= 64 && text_bytes(body) && is_zero(sample.get(body.len()..).unwrap_or(&[]))
}

/// Whether `b` is text: UTF-8 (a character cut at the sample's end
/// allowed) with no control byte but tab, newline and carriage return.
/// Binary data rarely is: a byte of 0x80 or above must start or continue
/// a UTF-8 sequence, so image rows, PCM and tar payloads fail.
fn text_bytes(b: &[u8]) -> bool {
    if !b
        .iter()
        .all(|&c| matches!(c, b'\t' | b'\n' | b'\r' | 0x20..=0x7e | 0x80..=0xff))
    {
        return false;
    }
    match std::str::from_utf8(b) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && b.len().saturating_sub(e.valid_up_to()) < 4,
    }
}

/// When the zeros stop inside a file whose data resumes as text: that
/// file's path (or inode). A text file holds no NUL blocks, so zeros
/// over its start are not its content. `at`: the disk byte where the
/// zeros stop (the hit's end, or past it inside the zero map's last
/// block, read to the byte).
fn text_resumes(h: &Hit, at: u64, fss: &[Mapped<'_>], disk: &dyn ReadAt) -> Option<String> {
    let m = fss.get(h.fs)?;
    same_file_text_at(h, at, m, disk).then(|| {
        m.map
            .path(h.inode)
            .unwrap_or_else(|| format!("inode {}", h.inode))
    })
}

/// Whether the bytes at disk byte `at` (up to 512, within one extent) are
/// still `h`'s file data and read as text: where a cut text file resumes
/// after its zeros. Any read that fails says no.
fn same_file_text_at(h: &Hit, at: u64, m: &Mapped<'_>, disk: &dyn ReadAt) -> bool {
    let Some(next) = m.map.owner_at(at.saturating_sub(m.base)) else {
        return false;
    };
    if next.inode != h.inode || next.kind != OwnerKind::FileData {
        return false;
    }
    let Ok(n) = usize::try_from(
        next.end()
            .saturating_sub(at.saturating_sub(m.base))
            .min(512),
    ) else {
        return false;
    };
    let mut buf = [0u8; 512];
    let Some(sample) = buf.get_mut(..n) else {
        return false;
    };
    disk.read_exact_at(at, sample).is_ok() && is_text(sample)
}

/// The object size when `s..e` is exactly a whole number of storage
/// objects on their boundaries (at most [`OBJECT_SIZES`]' largest), at
/// least half of it file data, holding only whole files (no file cut at
/// either edge), at least two, each smaller than the object, with file
/// data on both sides: a lost object whose edges fell between files.
/// Files written as zeros are rarely several small ones filling exactly
/// one object between files that are not zeros.
fn whole_files_object(s: u64, e: u64, hs: &[Hit], fss: &[Mapped<'_>]) -> Option<u64> {
    // Under bigalloc the zeros begin in the tail of the cluster before
    // the object (the blocks of it its file does not map): the object
    // starts at the first file's cluster.
    let fs = hs.iter().find(|h| h.inode != 0)?.fs;
    let m = fss.get(fs)?;
    let cs = m.map.cluster_size();
    let first = hs
        .iter()
        .filter(|h| h.inode != 0)
        .map(|h| cluster_of(h, fss).0)
        .min()?;
    let s = if cs > m.map.block_size() && first > s && first.saturating_sub(s) < cs {
        first
    } else {
        s
    };
    let len = e.checked_sub(s)?;
    let z = OBJECT_SIZES
        .into_iter()
        .find(|&z| s.checked_rem(z) == Some(0) && len.checked_rem(z) == Some(0) && len >= z)?;
    if len > OBJECT_SIZES[0] {
        return None;
    }
    let mut per_file: BTreeMap<(usize, u32), u64> = BTreeMap::new();
    // The bytes the files hold, in whole clusters.
    let mut held = Vec::new();
    for h in hs.iter().filter(|h| h.inode != 0) {
        if h.kind != OwnerKind::FileData || h.starts_inside || h.stops_inside || h.fs != fs {
            return None;
        }
        let n = per_file.entry((h.fs, h.inode)).or_insert(0);
        *n = n.saturating_add(h.end.saturating_sub(h.start));
        let (a, b) = cluster_of(h, fss);
        held.push((a.max(s), b.min(e)));
    }
    let data: u64 = super::merge(held)
        .iter()
        .map(|(a, b)| b.saturating_sub(*a))
        .sum();
    if per_file.len() < 2 || per_file.values().any(|&n| n >= z) || data < len / 2 {
        return None;
    }
    // File data on both sides, in the filesystem the files are in.
    (s.checked_sub(1).is_some_and(|a| file_cluster_at(m, a)) && file_cluster_at(m, e)).then_some(z)
}

/// When the hit is whole blocks of zeros past the first block of a file
/// whose first block is text (no NUL, printable): the file's path (or
/// inode). Text files hold no runs of NUL blocks; their last block is
/// text and padding, never all zeros.
fn text_block_zeroed(
    h: &Hit,
    resumes: Option<u64>,
    fss: &[Mapped<'_>],
    disk: &dyn ReadAt,
) -> Option<String> {
    let m = fss.get(h.fs)?;
    let bs = m.map.block_size().max(1);
    let a = h.start.saturating_sub(m.base);
    let b = h.end.saturating_sub(m.base);
    let whole = a.div_ceil(bs).saturating_mul(bs).saturating_add(bs) <= b;
    let here = m.map.owner_at(a)?;
    let logical = here.logical.saturating_add(a.saturating_sub(here.start));
    if !whole || logical < bs {
        return None;
    }
    // The file's first block: its range at logical 0 (a linear search,
    // bounded by MAX_TEXT_CHECKS per image).
    let first = m
        .map
        .ranges()
        .iter()
        .find(|o| o.inode == h.inode && o.kind == OwnerKind::FileData && o.logical == 0)?;
    let mut buf = [0u8; 512];
    let n = usize::try_from(first.len.min(512)).ok()?;
    let sample = buf.get_mut(..n)?;
    disk.read_exact_at(m.base.saturating_add(first.start), sample)
        .ok()?;
    if n < 64 || !text_bytes(sample) {
        return None;
    }
    // A text header says little of what follows (PGM, FITS, PLY, NRRD,
    // shell installers put binary data after one): the bytes just before
    // the zeros must be text too, and, where asked, those after them.
    let n = usize::try_from(a.saturating_sub(here.start).min(512)).ok()?;
    let before = buf.get_mut(..n)?;
    disk.read_exact_at(h.start.saturating_sub(u64::try_from(n).ok()?), before)
        .ok()?;
    if n < 64 || !text_bytes(before) {
        return None;
    }
    if resumes.is_some_and(|at| !same_file_text_at(h, at, m, disk)) {
        return None;
    }
    Some(
        m.map
            .path(h.inode)
            .unwrap_or_else(|| format!("inode {}", h.inode)),
    )
}

/// The run `s..e` (in zero-map blocks) with its known edges read to the
/// byte: the zero bytes that end the block before it and start the block
/// at its end are zeros of the same run.
fn byte_edges(disk: &dyn ReadAt, s: u64, e: u64, start_known: bool, end_known: bool) -> (u64, u64) {
    let mut buf = [0u8; 4096];
    let mut s2 = s;
    if start_known && s > 0 {
        let n = s.min(4096);
        if let Some(b) = buf.get_mut(..usize::try_from(n).unwrap_or(0))
            && disk.read_exact_at(s.saturating_sub(n), b).is_ok()
        {
            let zeros = b.iter().rev().take_while(|&&c| c == 0).count();
            s2 = s.saturating_sub(u64::try_from(zeros).unwrap_or(0));
        }
    }
    let mut e2 = e;
    if end_known && e < disk.len() {
        let n = disk.len().saturating_sub(e).min(4096);
        if let Some(b) = buf.get_mut(..usize::try_from(n).unwrap_or(0))
            && disk.read_exact_at(e, b).is_ok()
        {
            let zeros = b.iter().take_while(|&&c| c == 0).count();
            e2 = e.saturating_add(u64::try_from(zeros).unwrap_or(0));
        }
    }
    (s2, e2)
}

/// The hits of an event to the byte: the file data at the run's edges
/// grows by the zeros that begin or end it inside the zero map's edge
/// blocks (`s2..e2`): those of the files whose data the run already
/// holds, and those of a neighbour the zeros cut that is text (its bytes
/// before the zeros, or after them, are text, which holds no NUL) with
/// the files between; a neighbour's trailing zeros otherwise are its own
/// content, not the loss. File data is cut at the file's size, past
/// which its last block is padding, not content.
fn to_the_byte(
    hs: &[Hit],
    s2: u64,
    e2: u64,
    fss: &[Mapped<'_>],
    disk: Option<&dyn ReadAt>,
) -> Vec<Hit> {
    let (Some(first), Some(last)) = (
        hs.iter().map(|h| h.start).min(),
        hs.iter().map(|h| h.end).max(),
    ) else {
        return Vec::new();
    };
    let mut out: Vec<Hit> = hs.to_vec();
    let extend = |at: u64, out: &mut Vec<Hit>, before: bool| {
        let h = out
            .iter()
            .find(|h| if before { h.start == at } else { h.end == at })
            .copied()?;
        if h.kind != OwnerKind::FileData {
            return None;
        }
        let m = fss.get(h.fs)?;
        let (lo, hi) = if before { (s2, at) } else { (at, e2) };
        // The file cut at the far edge: where the zeros begin (before) or
        // where its data resumes (after).
        let edge = if before { lo } else { hi };
        let cut = m.map.owner_at(edge.saturating_sub(m.base)).copied();
        let text_cut = cut.is_some_and(|o| {
            o.kind == OwnerKind::FileData
                && o.inode != h.inode
                && disk.is_some_and(|d| text_beside(&o, m, edge, before, d))
        });
        for o in m
            .map
            .owners_in(lo.saturating_sub(m.base), hi.saturating_sub(m.base))
        {
            if o.kind != OwnerKind::FileData || (o.inode != h.inode && !text_cut) {
                continue;
            }
            let a = o.start.saturating_add(m.base).max(lo);
            let b = o.end().saturating_add(m.base).min(hi);
            if a < b {
                out.push(Hit {
                    inode: o.inode,
                    start: a,
                    end: b,
                    logical: o
                        .logical
                        .saturating_add(a.saturating_sub(o.start.saturating_add(m.base))),
                    ..h
                });
            }
        }
        Some(())
    };
    if s2 < first {
        extend(first, &mut out, true);
    }
    if e2 > last {
        extend(last, &mut out, false);
    }
    out.sort_by_key(|h| h.start);
    out.into_iter()
        .filter_map(|mut h| {
            if h.kind == OwnerKind::FileData
                && let Some(size) = fss.get(h.fs).and_then(|m| m.map.size(h.inode))
            {
                let content = size.saturating_sub(h.logical);
                h.end = h.end.min(h.start.saturating_add(content));
            }
            (h.start < h.end).then_some(h)
        })
        .collect()
}

/// Whether the file data `o` of `m` is text on the far side of the disk
/// byte `edge` where zeros meet it: the up to 512 bytes before `edge`
/// (`before`: the zeros start there), at least 64 and all printable, or
/// the bytes from `edge` on (the zeros stop there), as [`is_text`] reads
/// them.
fn text_beside(
    o: &imgcheck_core::OwnedRange,
    m: &Mapped<'_>,
    edge: u64,
    before: bool,
    disk: &dyn ReadAt,
) -> bool {
    let (os, oe) = (
        o.start.saturating_add(m.base),
        o.end().saturating_add(m.base),
    );
    let mut buf = [0u8; 512];
    if before {
        let n = usize::try_from(edge.saturating_sub(os).min(512)).unwrap_or(0);
        let Some(b) = buf.get_mut(..n) else {
            return false;
        };
        n >= 64
            && disk
                .read_exact_at(edge.saturating_sub(u64::try_from(n).unwrap_or(0)), b)
                .is_ok()
            && text_bytes(b)
    } else {
        let n = usize::try_from(oe.saturating_sub(edge).min(512)).unwrap_or(0);
        let Some(b) = buf.get_mut(..n) else {
            return false;
        };
        disk.read_exact_at(edge, b).is_ok() && is_text(b)
    }
}

/// When the zeros start at `s2` inside the content of the text file
/// whose data the hit `h` holds, short of its first zero-map block: that
/// file's path (or inode). Its first bytes and those just before the
/// zeros are text, and the zeros run on inside its size for at least
/// 512 bytes: a text file holds no such NUL run; its padding is past its
/// size.
fn text_cut_before(h: &Hit, s2: u64, fss: &[Mapped<'_>], disk: &dyn ReadAt) -> Option<String> {
    let m = fss.get(h.fs)?;
    let here = m.map.owner_at(s2.saturating_sub(m.base))?;
    if here.inode != h.inode || here.kind != OwnerKind::FileData {
        return None;
    }
    let off = s2.saturating_sub(m.base);
    let logical = here.logical.saturating_add(off.saturating_sub(here.start));
    let size = m.map.size(h.inode)?;
    if logical < 64 || size < logical.saturating_add(512) || h.end.saturating_sub(s2) < 512 {
        return None;
    }
    let printable = text_bytes;
    // The bytes before the zeros, inside this extent.
    let mut buf = [0u8; 512];
    let n = usize::try_from(off.saturating_sub(here.start).min(512)).ok()?;
    let before = buf.get_mut(..n)?;
    disk.read_exact_at(s2.saturating_sub(u64::try_from(n).ok()?), before)
        .ok()?;
    if n < 64 || !printable(before) {
        return None;
    }
    let first = m
        .map
        .ranges()
        .iter()
        .find(|o| o.inode == h.inode && o.kind == OwnerKind::FileData && o.logical == 0)?;
    let n = usize::try_from(first.len.min(512).min(logical)).ok()?;
    let head = buf.get_mut(..n)?;
    disk.read_exact_at(m.base.saturating_add(first.start), head)
        .ok()?;
    (n >= 64 && printable(head)).then(|| {
        m.map
            .path(h.inode)
            .unwrap_or_else(|| format!("inode {}", h.inode))
    })
}

/// The loss events of the zero runs `runs` (disk space), most severe
/// first within disk order. `read`: the disk ranges the zero map read
/// (the whole disk under `--scan`); a run's edge tells something only
/// where the bytes past it were read and were not zeros.
pub fn events(
    root: &Node,
    runs: &[(u64, u64)],
    disk: Option<&dyn ReadAt>,
    read: &[(u64, u64)],
    budget: &mut StructureBudget,
) -> Vec<LossEvent> {
    let fss = mapped(root);
    // Runs that destroyed structure anywhere on the disk (a table, an
    // ext4 superblock), with their object shape: a match elsewhere.
    let expected = super::expected_structures(root);
    let struct_shapes: Vec<u64> = runs
        .iter()
        .filter(|r| {
            expected
                .iter()
                .any(|x| x.start >= r.0 && x.start.saturating_add(x.len) <= r.1)
        })
        .filter_map(|&(s, e)| {
            OBJECT_SIZES
                .into_iter()
                .find(|&z| s.checked_rem(z) == Some(0) && e.saturating_sub(s) >= z)
        })
        .collect();
    let disk_len = disk.map_or(u64::MAX, |d| d.len());
    let mut out = events_in(&fss, runs, disk, read, &struct_shapes, disk_len);
    if let Some(d) = disk {
        out.extend(lv::events(root, runs, d, read, budget));
    }
    out
}

/// The loss events of `runs` through the filesystems `fss`, all in one
/// space (the disk's, or a volume's) that `disk` reads and `read` says
/// was read; `struct_shapes`: object sizes of runs that destroyed
/// structure elsewhere in that space.
fn events_in(
    fss: &[Mapped<'_>],
    runs: &[(u64, u64)],
    disk: Option<&dyn ReadAt>,
    read: &[(u64, u64)],
    struct_shapes: &[u64],
    disk_len: u64,
) -> Vec<LossEvent> {
    if fss.is_empty() {
        return Vec::new();
    }
    let read = &super::merge(read.to_vec());
    // The filesystems whose unattached inodes an event already lists.
    let mut unattached_told = vec![false; fss.len()];
    let mut out = Vec::new();
    let mut text_checks = 0usize;
    let mut edge_reads = 0usize;
    for &(s, e) in runs {
        let mut hs = zero_hits(fss, s, e);
        let tables = zeroed_inodes(fss, s, e);
        if hs.is_empty() && tables.is_empty() {
            continue;
        }
        // An edge where the zero map stopped reading (the end of a probe
        // region) is not where the zeros stop: the file past it was not
        // seen resuming.
        let (start_known, end_known) = edges_read(s, e, read, disk_len);
        for h in &mut hs {
            h.starts_inside &= start_known;
            h.stops_inside &= end_known;
        }
        // Where the zeros start and stop to the byte: the zero map steps
        // in 4 KiB blocks, a file's bytes do not.
        let (s2, e2) = match disk {
            Some(d) if edge_reads < MAX_EDGE_READS && !hs.is_empty() => {
                edge_reads = edge_reads.saturating_add(1);
                byte_edges(d, s, e, start_known, end_known)
            }
            _ => (s, e),
        };
        let structure = hs.iter().any(|h| whole_structure(h, fss)) || !tables.is_empty();
        // Zeros that stop inside a file's data, after running through
        // another file's, are what storage that returned zeros leaves, but
        // also what a file of zeros followed by a file that starts with
        // zeros holds by content: the shape alone is no loss. It is one
        // when a cut lies on a storage object boundary, or a cut file is
        // text (text holds no NUL blocks).
        // Free space inside the run splits it: zeros that run from one
        // file's own zeros through free blocks into another's are each
        // file's content (a zero-page tail, a zero head), not one loss
        // across files (lost8 attack F0).
        let span_hits = spanning(&hs, &free_gaps(fss, s, e));
        let span_files = span_hits
            .iter()
            .filter(|h| h.inode != 0)
            .map(|h| (h.fs, h.inode))
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let span = !span_hits.is_empty();
        let shape = OBJECT_SIZES
            .into_iter()
            .find(|&z| cut_at(z, &span_hits, (s, e, s2, e2)));
        let text_cut = if span && shape.is_none() {
            disk.and_then(|d| {
                span_hits
                    .iter()
                    .filter(|h| {
                        (h.starts_inside || h.stops_inside) && h.kind == OwnerKind::FileData
                    })
                    .find_map(|h| {
                        if text_checks >= MAX_TEXT_CHECKS {
                            return None;
                        }
                        text_checks = text_checks.saturating_add(1);
                        if h.stops_inside {
                            text_resumes(h, if h.end == e { e2 } else { h.end }, fss, d)
                        } else if h.start == s && s2 < s {
                            text_cut_before(h, s2, fss, d)
                                .or_else(|| text_block_zeroed(h, None, fss, d))
                        } else {
                            text_block_zeroed(h, None, fss, d)
                        }
                    })
            })
        } else {
            None
        };
        let mut evidence = Vec::new();
        if structure {
            evidence.push("structure".to_string());
        }
        if span && (shape.is_some() || text_cut.is_some()) {
            let why = match (shape, &text_cut) {
                (Some(z), _) => format!(", cut at a {} boundary", human_size(z)),
                (None, Some(p)) => format!(", cutting the text file {p}"),
                (None, None) => String::new(),
            };
            evidence.push(format!(
                "span (zeros through the data of {span_files} files, stopping inside one{why})"
            ));
        }
        if let Some(z) = struct_shapes
            .iter()
            .find(|&&z| cut_at(z, &hs, (s, e, s2, e2)) && fits(z, s, e, &hs))
        {
            evidence.push(format!(
                "elsewhere (a {} run destroyed structure elsewhere on the disk)",
                human_size(*z)
            ));
        }
        // Zeros inside one text file, whose text resumes after them: the
        // loss is that file's, not its neighbours' (a whole-zero file
        // beside it is its own content).
        if evidence.is_empty()
            && let Some(d) = disk
            && let Some((p, fs, inode)) = hs
                .iter()
                .filter(|h| h.starts_inside && h.stops_inside && h.kind == OwnerKind::FileData)
                .find_map(|h| {
                    if text_checks >= MAX_TEXT_CHECKS {
                        return None;
                    }
                    text_checks = text_checks.saturating_add(1);
                    let at = if h.end == e { e2 } else { h.end };
                    text_block_zeroed(h, Some(at), fss, d).map(|p| (p, h.fs, h.inode))
                })
        {
            evidence.push(format!("text (whole zero blocks inside {p}, a text file)"));
            hs.retain(|h| h.fs == fs && h.inode == inode);
        }
        let mut possible = false;
        if evidence.is_empty()
            && start_known
            && end_known
            && let Some(z) = whole_files_object(s, e, &hs, fss)
        {
            possible = true;
            evidence.push(format!(
                "object (exactly {} on {} boundaries, holding only whole files smaller than that, with data on both sides)",
                human_size(e.saturating_sub(s)),
                human_size(z)
            ));
        }
        if evidence.is_empty() {
            continue;
        }
        let confidence = if structure {
            Confidence::Certain
        } else if possible {
            Confidence::Possible
        } else {
            Confidence::Likely
        };
        // The event is the bytes that can be lost, not the free space or
        // legitimately-zero structure the run also holds, nor the padding
        // of a file's last block.
        let hs = to_the_byte(&hs, s2, e2, fss, disk);
        if hs.is_empty() && tables.is_empty() {
            continue;
        }
        let (s, e) = hs
            .iter()
            .map(|h| (h.start, h.end))
            .chain(tables.iter().map(|t| t.range))
            .fold((u64::MAX, 0), |(a, b), h| (a.min(h.0), b.max(h.1)));
        let mut ev = event(s, e, confidence, evidence, &hs, fss);
        add_inode_tables(&mut ev, &tables, fss);
        add_unreachable(&mut ev, &hs, fss, &mut unattached_told);
        out.push(ev);
    }
    out
}

/// Zeroed inode-table bytes that held inodes a directory entry names.
struct ZeroedTable {
    fs: usize,
    /// Disk bytes of the zeroed table piece.
    range: (u64, u64),
    /// The inodes whose slots it wholly covers, first and last.
    inodes: (u32, u32),
    /// Of those, the ones directory entries name: files whose inode,
    /// and with it every block map, is gone.
    named: Vec<u32>,
    /// The groups whose tables it is part of (flex_bg packs them).
    groups: (u32, u32),
    /// It held the root directory's inode.
    root: bool,
    /// Inodes in use in the groups whose whole tables it covers, as the
    /// descriptors count them, and whether those are the backups.
    in_use: Option<(u64, bool)>,
}

/// The inode-table pieces of `s..e` whose inodes directory entries name.
/// Unused inodes are zeros of their own; a named one never is (its mode,
/// links and block map are in the slot), so zeros there are a loss.
fn zeroed_inodes(fss: &[Mapped<'_>], s: u64, e: u64) -> Vec<ZeroedTable> {
    let mut out = Vec::new();
    for h in owned(fss, s, e, |k| k == OwnerKind::InodeTable) {
        let Some(m) = fss.get(h.fs) else { continue };
        let (isz, ipg) = m.map.inode_geometry();
        let isz64 = u64::from(isz);
        if isz64 == 0 || ipg == 0 {
            continue;
        }
        let len = h.end.saturating_sub(h.start);
        let first = h.logical.div_ceil(isz64);
        let end = h
            .logical
            .saturating_add(len)
            .checked_div(isz64)
            .unwrap_or(0);
        if first >= end {
            continue;
        }
        // Inode N sits at index N - 1.
        let (Ok(a), Ok(b)) = (u32::try_from(first.saturating_add(1)), u32::try_from(end)) else {
            continue;
        };
        let mut named: Vec<u32> = m.map.named_in(a, b).collect();
        // The root directory is named by no entry, and in use always: its
        // slot zeroed cuts every path below it.
        let root = m.map.root();
        let has_root = root != 0 && (a..=b).contains(&root);
        if has_root && !named.contains(&root) {
            named.insert(0, root);
        }
        // Groups whose whole table the piece covers: an in-use inode is
        // never all zeros, so each one the descriptors count is lost.
        let g_first = a.saturating_sub(1).div_ceil(ipg);
        let g_end = b.checked_div(ipg).unwrap_or(0);
        let in_use = (g_first < g_end)
            .then(|| m.map.inodes_used(g_first, g_end.saturating_sub(1)))
            .flatten()
            .filter(|u| u.0 > 0);
        if named.is_empty() && in_use.is_none() {
            continue;
        }
        out.push(ZeroedTable {
            fs: h.fs,
            range: (h.start, h.end),
            inodes: (a, b),
            named,
            root: has_root,
            in_use,
            groups: (
                a.saturating_sub(1).checked_div(ipg).unwrap_or(0),
                b.saturating_sub(1).checked_div(ipg).unwrap_or(0),
            ),
        });
    }
    out
}

/// Adds to `ev` the files it made unreachable by name without touching
/// their bytes: those a destroyed htree index block of a directory it hit
/// led to (named in leaf blocks no surviving index block references), and,
/// when it destroyed a directory's block or a directory's mapping block,
/// the inodes in use that no surviving entry names (their names were most
/// likely there; listed with the first such event of the filesystem only,
/// `told`).
fn add_unreachable(ev: &mut LossEvent, hs: &[Hit], fss: &[Mapped<'_>], told: &mut [bool]) {
    let whole = |h: &&Hit| {
        let Some(m) = fss.get(h.fs) else { return false };
        let bs = m.map.block_size().max(1);
        let a = h.start.saturating_sub(m.base);
        let b = h.end.saturating_sub(m.base);
        a.div_ceil(bs).saturating_mul(bs).saturating_add(bs) <= b
    };
    let dirs: std::collections::BTreeSet<(usize, u32)> = hs
        .iter()
        .filter(|h| h.kind == OwnerKind::Directory && whole_structure(h, fss))
        .map(|h| (h.fs, h.inode))
        .collect();
    // Directories whose names (or whose mapping) this event destroyed.
    let named_there: std::collections::BTreeSet<usize> = hs
        .iter()
        .filter(|h| {
            h.kind == OwnerKind::Directory
                || (matches!(h.kind, OwnerKind::ExtentBlock | OwnerKind::IndirectBlock)
                    && fss.get(h.fs).is_some_and(|m| m.map.is_dir(h.inode)))
        })
        .filter(whole)
        .map(|h| h.fs)
        .collect();
    let push = |ev: &mut LossEvent, m: &Mapped<'_>, i: u32| {
        if ev.unreachable.len() >= MAX_LOST_FILES
            || ev
                .unreachable
                .iter()
                .any(|f| f.inode == i && f.partition == m.partition)
        {
            return;
        }
        ev.unreachable.push(LostFile {
            inode: i,
            path: m.map.path(i),
            links: m.map.links(i),
            partition: m.partition,
            volume: None,
            what: Vec::new(),
            ranges: Vec::new(),
        });
    };
    for (fs, dir) in dirs {
        let Some(m) = fss.get(fs) else { continue };
        for i in m.map.unindexed_in(dir) {
            push(ev, m, i);
        }
    }
    for fs in named_there {
        let (Some(m), Some(t)) = (fss.get(fs), told.get_mut(fs)) else {
            continue;
        };
        if *t {
            continue;
        }
        *t = true;
        for &i in m.map.unattached() {
            if !ev
                .files
                .iter()
                .any(|f| f.inode == i && f.partition == m.partition)
            {
                push(ev, m, i);
            }
        }
    }
}

/// Adds the files whose inodes a zeroed table piece held to `ev`: each
/// with its inode's slot as the range lost.
fn add_inode_tables(ev: &mut LossEvent, tables: &[ZeroedTable], fss: &[Mapped<'_>]) {
    for t in tables {
        let Some(m) = fss.get(t.fs) else { continue };
        let isz = u64::from(m.map.inode_geometry().0);
        ev.structures.push(LostStructure {
            kind: OwnerKind::InodeTable,
            partition: m.partition,
            range: t.range,
        });
        ev.inodes_lost
            .push((u64::from(t.inodes.0), u64::from(t.inodes.1)));
        ev.inode_tables.push(LostInodes {
            partition: m.partition,
            groups: t.groups,
            inodes: t.inodes,
            named: t.named.len(),
            root: t.root,
            in_use: t.in_use.map(|u| u.0),
            counted_by_backup: t.in_use.is_some_and(|u| u.1),
        });
        for &i in &t.named {
            let slot = t
                .range
                .0
                .saturating_add(u64::from(i.saturating_sub(t.inodes.0)).saturating_mul(isz));
            if let Some(f) = ev
                .files
                .iter_mut()
                .find(|f| f.inode == i && f.partition == m.partition)
            {
                f.what.push(OwnerKind::InodeTable);
                f.ranges.push((slot, slot.saturating_add(isz)));
                continue;
            }
            if ev.files.len() >= MAX_LOST_FILES {
                ev.files_not_listed = ev.files_not_listed.saturating_add(1);
                continue;
            }
            ev.files.push(LostFile {
                inode: i,
                path: m.map.path(i),
                links: m.map.links(i),
                partition: m.partition,
                volume: None,
                what: vec![OwnerKind::InodeTable],
                ranges: vec![(slot, slot.saturating_add(isz))],
            });
        }
    }
}

fn event(
    s: u64,
    e: u64,
    confidence: Confidence,
    evidence: Vec<String>,
    hs: &[Hit],
    fss: &[Mapped<'_>],
) -> LossEvent {
    let mut files: BTreeMap<(usize, u32), LostFile> = BTreeMap::new();
    let mut structures = Vec::new();
    for h in hs {
        let Some(m) = fss.get(h.fs) else { continue };
        if h.inode == 0 {
            // Reserved GDT blocks are zeros until a resize uses them.
            if h.kind != OwnerKind::OtherMetadata {
                structures.push(LostStructure {
                    kind: h.kind,
                    partition: m.partition,
                    range: (h.start, h.end),
                });
            }
            continue;
        }
        let f = files.entry((h.fs, h.inode)).or_insert_with(|| LostFile {
            inode: h.inode,
            path: m.map.path(h.inode),
            links: m.map.links(h.inode),
            partition: m.partition,
            volume: None,
            what: Vec::new(),
            ranges: Vec::new(),
        });
        if !f.what.contains(&h.kind) {
            f.what.push(h.kind);
        }
        match f.ranges.last_mut() {
            Some(last) if last.1 == h.start => last.1 = h.end,
            _ => f.ranges.push((h.start, h.end)),
        }
    }
    let mut after: Option<(i64, String)> = None;
    let mut fs_last_write = None;
    for (&(fs, inode), f) in &files {
        let Some(m) = fss.get(fs) else { continue };
        fs_last_write = fs_last_write.max(m.map.last_write().filter(|&t| t > 0));
        if !f.what.contains(&OwnerKind::FileData) {
            continue;
        }
        if let Some(t) = m.map.mtime(inode).filter(|&t| t > 0)
            && after.as_ref().is_none_or(|a| t > a.0)
        {
            after = Some((t, name(f)));
        }
    }
    let mut files: Vec<LostFile> = files.into_values().collect();
    // Named files first: a report's examples should be paths.
    files.sort_by(|a, b| {
        (a.path.is_none(), &a.path, a.inode).cmp(&(b.path.is_none(), &b.path, b.inode))
    });
    let files_not_listed = files.len().saturating_sub(MAX_LOST_FILES);
    files.truncate(MAX_LOST_FILES);
    LossEvent {
        start: s,
        end: e,
        confidence,
        evidence,
        files,
        files_not_listed,
        structures,
        volume: None,
        disk: None,
        after,
        fs_last_write,
        inodes_lost: Vec::new(),
        inode_tables: Vec::new(),
        unreachable: Vec::new(),
    }
}

/// The timeline's entry for an event: the newest write to a file that
/// lost data, which the loss came after.
pub fn timeline(ev: &LossEvent) -> Option<imgcheck_core::Event> {
    let (t, path) = ev.after.as_ref()?;
    let place = match &ev.volume {
        Some(v) => format!("LV {v} bytes"),
        None => "disk bytes".to_string(),
    };
    let fs = ev.fs_last_write.map_or(String::new(), |w| {
        format!(
            "; the filesystem's superblock was last written {}",
            imgcheck_core::time::utc(w)
        )
    });
    Some(imgcheck_core::Event {
        time: *t,
        source: "layout".into(),
        what: format!(
            "last write to {path}, which later lost data ({place} {}..{}): the loss came after this, unless file times were set by hand{fs}",
            ev.start, ev.end
        ),
    })
}

/// The finding telling one event.
pub fn finding(ev: &LossEvent) -> Finding {
    let len = ev.end.saturating_sub(ev.start);
    if let Some(v) = &ev.volume {
        if let Some(d) = ev.disk {
            return lv::finding(ev, v, d);
        }
        return volume_finding(ev, v);
    }
    let msg = format!(
        "disk bytes {}..{} ({}) are zeros ({}; evidence: {}): {}",
        ev.start,
        ev.end,
        human_size(len),
        match ev.confidence {
            Confidence::Certain => "certainly a loss",
            Confidence::Likely => "likely a loss",
            Confidence::Possible => "possibly a loss",
        },
        ev.evidence.join(", "),
        what_lost(ev)
    );
    let f = match ev.confidence {
        Confidence::Certain => {
            Finding::error("layout.lost", Layer::LAYOUT, ev.start, Space::Disk, msg)
        }
        Confidence::Likely | Confidence::Possible => {
            Finding::warning("layout.lost", Layer::LAYOUT, ev.start, Space::Disk, msg)
        }
    };
    let mut f = f.with_hint(Hint::advice(
        "restore the files listed (JSON \"lost\", or --lost-files FILE) from a backup; do not run a repair before copying the image",
    ));
    // Bytes of one partition's filesystem: the loss is in that partition
    // (the pipeline puts the disk's own place before it).
    if let Some(p) = one_partition(ev) {
        f.place = imgcheck_core::Place::root().join(imgcheck_core::Step::Partition(p));
    }
    f
}

/// The partition every file, structure and inode table `ev` hit is in,
/// when they are all in one.
fn one_partition(ev: &LossEvent) -> Option<u32> {
    let mut all = ev
        .files
        .iter()
        .map(|f| f.partition)
        .chain(ev.structures.iter().map(|s| s.partition))
        .chain(ev.inode_tables.iter().map(|t| t.partition));
    let first = all.next()??;
    all.all(|p| p == Some(first)).then_some(first)
}

/// What an event destroyed, in words: files by example, directories,
/// other structures, and since when.
fn what_lost(ev: &LossEvent) -> String {
    let mut s = what_lost_parts(ev);
    if let Some((t, p)) = &ev.after {
        s.push_str(&format!(
            "; lost after {} (the newest write to a file that lost data, {p})",
            imgcheck_core::time::utc(*t)
        ));
    }
    s
}

fn what_lost_parts(ev: &LossEvent) -> String {
    let data: Vec<&LostFile> = ev
        .files
        .iter()
        .filter(|f| f.what.contains(&OwnerKind::FileData))
        .collect();
    let dirs: Vec<&LostFile> = ev
        .files
        .iter()
        .filter(|f| f.what.contains(&OwnerKind::Directory))
        .collect();
    let mut parts = Vec::new();
    for t in &ev.inode_tables {
        let groups = if t.groups.0 == t.groups.1 {
            format!("group {}", t.groups.0)
        } else {
            format!("groups {}-{}", t.groups.0, t.groups.1)
        };
        let eg: Vec<String> = ev
            .files
            .iter()
            .filter(|f| {
                f.what.contains(&OwnerKind::InodeTable)
                    && (t.inodes.0..=t.inodes.1).contains(&f.inode)
            })
            .take(NAMED_IN_MESSAGE)
            .map(name)
            .collect();
        let root = if t.root {
            "the root directory (inode 2) is lost, and with it the way to every path below /; "
        } else {
            ""
        };
        // The descriptors' count says how many were in use when names
        // cannot (a zeroed root leaves no directory to read).
        let lost = match t.in_use {
            Some(n) if u64::try_from(t.named).is_ok_and(|k| n > k) => format!(
                "{n} inodes in use by the {}group descriptors{} lost with their block maps, {} of them named by a directory still read",
                if t.counted_by_backup { "backup " } else { "" },
                if t.counted_by_backup {
                    " (as of their last write: mkfs, resize2fs or e2fsck)"
                } else {
                    ""
                },
                t.named
            ),
            _ => format!("{} file(s) lost", t.named),
        };
        let eg = if eg.is_empty() {
            String::new()
        } else {
            format!(", e.g. {}", eg.join(", "))
        };
        parts.push(format!(
            "inode table of {groups} zeroed: {root}{lost} (inodes {}..{}){eg}",
            t.inodes.0, t.inodes.1,
        ));
    }
    // A mapping block lost: the file's data past it can no longer be found.
    for (kind, what) in [
        (OwnerKind::ExtentBlock, "extent-tree block"),
        (OwnerKind::IndirectBlock, "indirect block"),
        (OwnerKind::XattrBlock, "extended-attribute block"),
    ] {
        let of: Vec<String> = ev
            .files
            .iter()
            .filter(|f| f.what.contains(&kind))
            .map(name)
            .collect();
        if !of.is_empty() {
            let more = of.len().saturating_sub(NAMED_IN_MESSAGE);
            let tail = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            parts.push(format!(
                "{what} of {}{tail} destroyed",
                of.iter()
                    .take(NAMED_IN_MESSAGE)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    let n_files = data.len().saturating_add(ev.files_not_listed);
    if n_files > 0 {
        let eg: Vec<String> = data
            .iter()
            .take(NAMED_IN_MESSAGE)
            .map(|f| name(f))
            .collect();
        parts.push(format!(
            "{n_files} file(s) lost data, e.g. {}",
            eg.join(", ")
        ));
    }
    if !ev.unreachable.is_empty() {
        let eg: Vec<String> = ev
            .unreachable
            .iter()
            .take(NAMED_IN_MESSAGE)
            .map(name)
            .collect();
        parts.push(format!(
            "{} file(s) no longer resolve by name, e.g. {}: the directory blocks or the htree index block that named them are gone (their data survives; e2fsck -f on a copy reconnects unnamed inodes under /lost+found, and -D rebuilds an index; on a FAT volume they are the lost chains, which fsck.fat -f on a copy saves as /FSCKnnnn.REC)",
            ev.unreachable.len(),
            eg.join(", ")
        ));
    }
    for d in dirs.iter().take(NAMED_IN_MESSAGE) {
        let blocks: u64 = d.bytes();
        parts.push(format!(
            "{} of directory blocks of {} destroyed",
            human_size(blocks),
            name(d)
        ));
    }
    if dirs.len() > NAMED_IN_MESSAGE {
        parts.push(format!(
            "{} more directories lost blocks",
            dirs.len().saturating_sub(NAMED_IN_MESSAGE)
        ));
    }
    let other: Vec<String> = ev
        .files
        .iter()
        .flat_map(|f| f.what.iter())
        .chain(ev.structures.iter().map(|s| &s.kind))
        .filter(|&&k| {
            // Those named above by file or by inode-table piece.
            let named = matches!(
                k,
                OwnerKind::FileData
                    | OwnerKind::Directory
                    | OwnerKind::ExtentBlock
                    | OwnerKind::IndirectBlock
                    | OwnerKind::XattrBlock
            ) || (k == OwnerKind::InodeTable && !ev.inode_tables.is_empty());
            !named
        })
        .map(|k| k.words().to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !other.is_empty() {
        parts.push(format!("also hit: {}", other.join(", ")));
    }
    if parts.is_empty() {
        return "no file or structure the filesystem maps lies there".into();
    }
    parts.join("; ")
}

fn name(f: &LostFile) -> String {
    let p = f
        .path
        .clone()
        .unwrap_or_else(|| format!("inode {} (no name found)", f.inode));
    match (&f.volume, f.partition) {
        (Some(v), _) => format!("{p} (LV {v})"),
        (None, Some(n)) => format!("{p} (partition {n})"),
        (None, None) => p,
    }
}

/// The zeroed-structure check's own disk reads: the bytes it may still
/// read, and the blocks it left unread once they were spent. A check
/// that stops is said, never silent (a zeroed inode-table block past the
/// old count of 65,536 blocks was reported by nothing).
#[derive(Debug, Clone)]
pub struct StructureBudget {
    left: u64,
    read: u64,
    /// The first block left unread (offset, its space, partition, LV),
    /// and how many were.
    stopped: Option<Unread>,
}

#[derive(Debug, Clone)]
struct Unread {
    at: u64,
    space: Space,
    partition: Option<u32>,
    volume: Option<String>,
    blocks: u64,
    bytes: u64,
}

impl Default for StructureBudget {
    fn default() -> Self {
        Self::new(MAX_STRUCTURE_READ_BYTES)
    }
}

impl StructureBudget {
    /// A budget of `bytes` read from the disk.
    pub fn new(bytes: u64) -> Self {
        Self {
            left: bytes,
            read: 0,
            stopped: None,
        }
    }

    /// Bytes the check read from the disk itself.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    /// Takes `bs` bytes of the budget for the block at `at`, or counts the
    /// block as left unread.
    fn take(&mut self, bs: u64, at: u64, where_: (Space, Option<u32>, Option<&str>)) -> bool {
        if self.left >= bs && self.stopped.is_none() {
            self.left = self.left.saturating_sub(bs);
            self.read = self.read.saturating_add(bs);
            return true;
        }
        let u = self.stopped.get_or_insert_with(|| Unread {
            at,
            space: where_.0,
            partition: where_.1,
            volume: where_.2.map(str::to_string),
            blocks: 0,
            bytes: 0,
        });
        u.blocks = u.blocks.saturating_add(1);
        u.bytes = u.bytes.saturating_add(bs);
        false
    }

    /// The finding for blocks the check left unread, if it left any.
    pub fn finding(&self) -> Option<Finding> {
        let u = self.stopped.as_ref()?;
        let place = match (&u.volume, u.partition) {
            (Some(v), _) => format!(" of LV {v}"),
            (None, Some(n)) => format!(" (partition {n})"),
            (None, None) => String::new(),
        };
        let f = Finding::warning(
            "layout.lost.structure_unchecked",
            Layer::LAYOUT,
            u.at,
            u.space,
            format!(
                "the check for zeroed structure blocks read its bound of {} from the disk and stopped at byte {}{place}: {} structure blocks ({}) from there on that the filesystem check had not read were not checked for zeros; losses in them are not reported",
                human_size(self.read),
                u.at,
                u.blocks,
                human_size(u.bytes),
            ),
        );
        let mut f = f.with_hint(Hint::advice(
            "run again with --scan: it reads the whole disk and finds zeroed blocks wherever they are",
        ));
        if let Some(v) = &u.volume {
            f.place = Place::root().join(Step::Volume(v.clone()));
        }
        Some(f)
    }
}

/// Without `--scan`: the structure blocks (directory, extent-tree,
/// attribute, journal superblock, named inodes' table blocks) of each
/// mapped filesystem that read as zeros, as runs in disk space, for
/// [`events`]. Blocks the filesystem layer read as it filled its map are
/// answered from that ([`OwnerMap::read_as_zero`]); `disk` is read for
/// the rest, adjacent blocks together, as far as `budget` lasts.
pub fn zeroed_structure_blocks(
    root: &Node,
    disk: &dyn ReadAt,
    budget: &mut StructureBudget,
) -> Vec<(u64, u64)> {
    zeroed_structure_blocks_in(&mapped(root), disk, budget, (Space::Disk, None))
}

/// [`zeroed_structure_blocks`] of the filesystems `fss`, in the space
/// `disk` reads (`space`: that space, and the LV it is).
fn zeroed_structure_blocks_in(
    fss: &[Mapped<'_>],
    disk: &dyn ReadAt,
    budget: &mut StructureBudget,
    space: (Space, Option<&str>),
) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    let mut buf = Vec::new();
    for m in fss {
        let bs = m.map.block_size().clamp(512, 1 << 16);
        let mut blocks = ZeroBlocks {
            out: &mut out,
            bs,
            pending: (0, 0),
            buf: std::mem::take(&mut buf),
        };
        let isz = u64::from(m.map.inode_geometry().0);
        // Every structure block is visited (the map's ranges are bounded,
        // unnamed inodes' table blocks are skipped without a lookup each);
        // only the disk reads are bounded.
        for o in m.map.ranges() {
            let table = o.kind == OwnerKind::InodeTable && isz > 0;
            if !table
                && !matches!(
                    o.kind,
                    OwnerKind::Directory
                        | OwnerKind::ExtentBlock
                        | OwnerKind::XattrBlock
                        | OwnerKind::JournalSuperblock
                        | OwnerKind::JournalLog
                        | OwnerKind::JournalLive
                )
            {
                continue;
            }
            let mut at = o.start;
            while at < o.end() {
                // An inode-table block is read only where it holds an
                // inode a directory entry names: the rest may be zeros.
                let first = o
                    .logical
                    .saturating_add(at.saturating_sub(o.start))
                    .checked_div(isz)
                    .unwrap_or(0);
                let n = bs.checked_div(isz).unwrap_or(0);
                if table
                    && let (Ok(a), Ok(b)) = (
                        u32::try_from(first.saturating_add(1)),
                        u32::try_from(first.saturating_add(n)),
                    )
                    && m.map.named_in(a, b).next().is_none()
                    && !(a..=b).contains(&m.map.root())
                {
                    at = next_named_block(m.map, o, at, a, bs, isz);
                    continue;
                }
                let d = m.base.saturating_add(at);
                // The layer read most of these blocks as it filled the
                // map (an inode table, a directory): what it saw is what
                // a read now returns, without reading it twice.
                match m.map.read_as_zero(at, bs) {
                    Some(true) => blocks.zero(disk, d),
                    Some(false) => {}
                    None if disk.known_zero(d, bs) => blocks.zero(disk, d),
                    None if budget.take(bs, d, (space.0, m.partition, space.1)) => {
                        blocks.read(disk, d);
                    }
                    None => {}
                }
                at = at.saturating_add(bs);
            }
        }
        blocks.flush(disk);
        buf = blocks.buf;
    }
    out.sort_unstable();
    out
}

/// Where the table blocks of `o` after the one at `at` (which holds no
/// inode named or the root, from inode `a` on) next hold one: the blocks
/// between are those the block-by-block test skips, passed over without
/// a lookup each (a 1 M-file guest has 400,000 table blocks, most of them
/// of unused inodes). `o.end()` when none does.
fn next_named_block(
    map: &OwnerMap,
    o: &imgcheck_core::OwnedRange,
    at: u64,
    a: u32,
    bs: u64,
    isz: u64,
) -> u64 {
    let root = map.root();
    let named = map.named_in(a, u32::MAX).next();
    let t = match (named, root >= a) {
        (Some(x), true) => x.min(root),
        (Some(x), false) => x,
        (None, true) => root,
        (None, false) => return o.end(),
    };
    // Block k holds inodes first(k)+1 ..= first(k)+n, first(k) =
    // (logical + k*bs) / isz: the first block not wholly before inode t
    // is the least k with logical + k*bs >= (t - n) * isz.
    let n = bs.checked_div(isz).unwrap_or(0);
    let need = u64::from(t).saturating_sub(n).saturating_mul(isz);
    let k_next = at
        .saturating_sub(o.start)
        .checked_div(bs)
        .unwrap_or(0)
        .saturating_add(1);
    let k = need
        .saturating_sub(o.logical)
        .div_ceil(bs.max(1))
        .max(k_next);
    k.checked_mul(bs)
        .and_then(|x| o.start.checked_add(x))
        .map_or(o.end(), |x| x.min(o.end()))
}

/// Bytes of adjacent structure blocks read with one read: an inode table
/// or a directory's blocks one read per block took 65,536 reads of 4 KiB
/// through the qcow2 layer on a 1 M-file guest, a fifth of its check.
const STRUCTURE_RUN_BYTES: u64 = 1 << 20;

/// The zeroed structure blocks found so far, and the adjacent blocks not
/// yet read. Blocks are decided in the order they are given, so the runs
/// come out as one read per block would make them.
struct ZeroBlocks<'o> {
    out: &'o mut Vec<(u64, u64)>,
    /// Block size (512 B – 64 KiB).
    bs: u64,
    /// Adjacent blocks waiting to be read: first byte, count.
    pending: (u64, u64),
    buf: Vec<u8>,
}

impl ZeroBlocks<'_> {
    /// The block at `d` reads as zeros.
    fn push(&mut self, d: u64) {
        let end = d.saturating_add(self.bs);
        match self.out.last_mut() {
            Some(l) if l.1 == d => l.1 = end,
            _ => self.out.push((d, end)),
        }
    }

    /// The block at `d` is known to read as zeros (never read).
    fn zero(&mut self, disk: &dyn ReadAt, d: u64) {
        self.flush(disk);
        self.push(d);
    }

    /// The block at `d` is to be read: joined to the pending run when it
    /// follows it and the run has room.
    fn read(&mut self, disk: &dyn ReadAt, d: u64) {
        let (start, n) = self.pending;
        let next = n
            .checked_mul(self.bs)
            .and_then(|len| start.checked_add(len));
        let room = n.saturating_add(1).saturating_mul(self.bs) <= STRUCTURE_RUN_BYTES;
        if n > 0 && next == Some(d) && room {
            self.pending.1 = n.saturating_add(1);
            return;
        }
        self.flush(disk);
        self.pending = (d, 1);
    }

    /// Reads the pending run. A run the reader fails is read again block
    /// by block, so one unreadable block does not hide the zeros of the
    /// others; a spent read bound fails every read, and is not retried.
    fn flush(&mut self, disk: &dyn ReadAt) {
        let (start, n) = std::mem::take(&mut self.pending);
        if n == 0 {
            return;
        }
        let bs = usize_of(self.bs);
        let len = usize_of(n).saturating_mul(bs);
        if self.buf.len() < len {
            self.buf.resize(len, 0);
        }
        let mut buf = std::mem::take(&mut self.buf);
        match buf.get_mut(..len).map(|b| disk.read_exact_at(start, b)) {
            Some(Ok(())) => {
                for (k, b) in (0u64..).zip(buf.get(..len).unwrap_or(&[]).chunks_exact(bs)) {
                    if is_zero(b) {
                        self.push(start.saturating_add(k.saturating_mul(self.bs)));
                    }
                }
            }
            Some(Err(e)) if n > 1 && !matches!(e.kind, ReadErrorKind::Budget { .. }) => {
                for k in 0..n {
                    let d = start.saturating_add(k.saturating_mul(self.bs));
                    if let Some(b) = buf.get_mut(..bs)
                        && disk.read_exact_at(d, b).is_ok()
                        && is_zero(b)
                    {
                        self.push(d);
                    }
                }
            }
            _ => {}
        }
        self.buf = buf;
    }
}

/// The `--lost-files` text: one line per file, the path then its disk
/// byte ranges (`/etc/passwd\t1048576-1052672 2097152-2101248`); a file
/// that lost no bytes but no longer resolves by name has none.
pub fn lost_files_text(events: &[LossEvent]) -> String {
    let mut s = String::new();
    for ev in events {
        for f in ev.files.iter().chain(&ev.unreachable) {
            s.push_str(&name(f));
            s.push('\t');
            let r: Vec<String> = f.ranges.iter().map(|(a, b)| format!("{a}-{b}")).collect();
            s.push_str(&r.join(" "));
            s.push('\n');
        }
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use imgcheck_core::{Facts, OwnerMapBuilder, Place};
    use std::sync::Arc;

    const MIB: u64 = 1 << 20;
    /// The zero map read the whole disk (`--scan`).
    const ALL: &[(u64, u64)] = &[(0, 1 << 40)];

    /// A bare filesystem node at disk byte 0 whose map gives file 12
    /// bytes 0..3 MiB, file 13 3..6 MiB, file 14 6..6.5 MiB and file 15
    /// 6.5..7 MiB.
    fn node() -> Node {
        let mut b = OwnerMapBuilder::new(4096);
        b.push(OwnerKind::FileData, 12, 0, 3 * MIB, 0);
        b.push(OwnerKind::FileData, 13, 3 * MIB, 3 * MIB, 0);
        b.push(OwnerKind::FileData, 14, 6 * MIB, MIB / 2, 0);
        b.push(OwnerKind::FileData, 15, 6 * MIB + MIB / 2, MIB / 2, 0);
        b.push(OwnerKind::Unwritten, 16, 8 * MIB, 4 * MIB, 0);
        b.name(12, 2, b"a");
        b.name(13, 2, b"b");
        node_of(b)
    }

    /// A bare filesystem node at disk byte 0 with the map `b` builds.
    fn node_of(b: OwnerMapBuilder) -> Node {
        let facts = Facts {
            owners: Some(Arc::new(b.finish())),
            claimed_size: Some(16 * MIB),
            ..Facts::default()
        };
        Node {
            kind: "ext4".into(),
            title: String::new(),
            layer: Some("ext4"),
            place: Place::root(),
            base: 0,
            space: Space::Disk,
            findings: Vec::new(),
            facts,
            details: serde_json::Value::Null,
            children: Vec::new(),
            span: None,
            expect: None,
            file: None,
        }
    }

    #[test]
    fn zeros_through_files_that_stop_inside_one_are_likely() {
        // 13's tail, then into 14, stopping inside its data.
        let ev = events(
            &node(),
            &[(4 * MIB, 6 * MIB + MIB / 4)],
            None,
            ALL,
            &mut StructureBudget::default(),
        );
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].confidence, Confidence::Likely);
        assert_eq!(
            ev[0].evidence,
            [
                "span (zeros through the data of 2 files, stopping inside one, cut at a 4 MiB boundary)"
            ]
        );
        let paths: Vec<_> = ev[0].files.iter().map(|f| f.path.clone()).collect();
        assert_eq!(paths, [Some("/b".to_string()), None]);
        assert_eq!(ev[0].files[0].ranges, [(4 * MIB, 6 * MIB)]);
        let f = finding(&ev[0]);
        assert_eq!(f.severity, imgcheck_core::Severity::Warning);
        assert!(
            f.message.contains("2 file(s) lost data, e.g. /b"),
            "{}",
            f.message
        );
        let ev = events(
            &node(),
            &[(MIB, 5 * MIB)],
            None,
            ALL,
            &mut StructureBudget::default(),
        );
        assert_eq!(
            ev[0].evidence,
            [
                "span (zeros through the data of 2 files, stopping inside one, cut at a 1 MiB boundary)"
            ]
        );
        // Unaligned edges through files whose type is unknown: files
        // that hold zeros by content look so (a file of zeros, then one
        // that starts with zeros), so no span is said.
        let ev = events(
            &node(),
            &[(MIB + 4096, 4 * MIB + 8192)],
            None,
            ALL,
            &mut StructureBudget::default(),
        );
        assert!(ev.is_empty(), "{ev:?}");
        // Nor when the zero map stopped reading at the edge: the file was
        // not seen resuming there.
        let probe = [(0, 4 * MIB)];
        assert!(
            events(
                &node(),
                &[(MIB, 4 * MIB)],
                None,
                &probe,
                &mut StructureBudget::default()
            )
            .is_empty()
        );
        // The event is the owned bytes: free space past 16 MiB is not lost.
        let ev = events(
            &node(),
            &[(6 * MIB + MIB / 4, 20 * MIB)],
            None,
            ALL,
            &mut StructureBudget::default(),
        );
        assert!(ev.is_empty(), "{ev:?}");
    }

    #[test]
    fn free_space_between_two_files_zeros_is_no_span() {
        // A zero-page tail of 12 (0..1 MiB), free 1..3 MiB, then 13's
        // 1 MiB zero head ending on a 4 MiB boundary (lost8 attack F0).
        let mut b = OwnerMapBuilder::new(4096);
        b.push(OwnerKind::FileData, 12, 0, MIB, 0);
        b.push(OwnerKind::FileData, 13, 3 * MIB, 2 * MIB, 0);
        let n = node_of(b);
        let ev = events(
            &n,
            &[(4096, 4 * MIB)],
            None,
            ALL,
            &mut StructureBudget::default(),
        );
        assert!(ev.is_empty(), "{ev:?}");
        // The same run with no free space between the files is one.
        let mut b = OwnerMapBuilder::new(4096);
        b.push(OwnerKind::FileData, 12, 0, 3 * MIB, 0);
        b.push(OwnerKind::FileData, 13, 3 * MIB, 2 * MIB, 0);
        let ev = events(
            &node_of(b),
            &[(4096, 4 * MIB)],
            None,
            ALL,
            &mut StructureBudget::default(),
        );
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert_eq!(ev[0].confidence, Confidence::Likely);
    }

    #[test]
    fn zeros_that_are_not_evidence_of_loss_are_told_nowhere() {
        let n = node();
        // Inside one file: a database's or VM image's own zeros.
        assert!(
            events(
                &n,
                &[(MIB, 2 * MIB)],
                None,
                ALL,
                &mut StructureBudget::default()
            )
            .is_empty()
        );
        // Unless the file is text: its first block and the bytes on both
        // sides of the zeros say so.
        let mut bytes = vec![0u8; usize::try_from(16 * MIB).unwrap()];
        let text = b"[Unit]\nDescription=app\nAfter=network.target\n".repeat(80_000);
        let len = usize::try_from(3 * MIB).unwrap();
        bytes[..len].copy_from_slice(&text[..len]);
        bytes[usize::try_from(MIB).unwrap()..usize::try_from(2 * MIB).unwrap()].fill(0);
        let disk = imgcheck_core::BytesReader::new(bytes);
        let ev = events(
            &n,
            &[(MIB, 2 * MIB)],
            Some(&disk),
            ALL,
            &mut StructureBudget::default(),
        );
        assert_eq!(ev.len(), 1);
        assert!(
            ev[0].evidence[0].starts_with("text (whole zero blocks inside /a"),
            "{:?}",
            ev[0].evidence
        );
        // A binary first block (control bytes) is no such evidence.
        let binary = imgcheck_core::BytesReader::new(vec![1u8; usize::try_from(16 * MIB).unwrap()]);
        assert!(
            events(
                &n,
                &[(MIB, 2 * MIB)],
                Some(&binary),
                ALL,
                &mut StructureBudget::default()
            )
            .is_empty()
        );
        // Two whole zero-filled files, nothing cut.
        assert!(
            events(
                &n,
                &[(6 * MIB, 7 * MIB)],
                None,
                ALL,
                &mut StructureBudget::default()
            )
            .is_empty()
        );
        // A file's zero tail from a 1 MiB boundary (mballoc's), then whole
        // zero files and free space: WAL segments, preallocated files.
        assert!(
            events(
                &n,
                &[(4 * MIB, 16 * MIB)],
                None,
                ALL,
                &mut StructureBudget::default()
            )
            .is_empty()
        );
        // An unwritten extent reads as zeros by design.
        assert!(
            events(
                &n,
                &[(8 * MIB, 12 * MIB)],
                None,
                ALL,
                &mut StructureBudget::default()
            )
            .is_empty()
        );
    }

    /// Directory blocks 1..=40 of a 4 KiB-block map, block 30 zeroed on
    /// the disk, none read by the layer: a budget of 10 blocks reads 10,
    /// leaves 30 unread and says so; without a bound the zeroed block is
    /// found. Blocks the layer read cost nothing.
    #[test]
    fn the_structure_check_says_where_its_read_bound_stopped_it() {
        let mut b = OwnerMapBuilder::new(4096);
        b.push(OwnerKind::Directory, 2, 4096, 40 * 4096, 0);
        let n = node_of(b);
        let mut bytes = vec![0x2eu8; usize::try_from(16 * MIB).unwrap()];
        bytes[30 * 4096..31 * 4096].fill(0);
        let disk = imgcheck_core::BytesReader::new(bytes.clone());
        let mut small = StructureBudget::new(10 * 4096);
        assert!(zeroed_structure_blocks(&n, &disk, &mut small).is_empty());
        assert_eq!(small.bytes_read(), 10 * 4096);
        let f = small.finding().expect("the unread blocks are told");
        assert_eq!(f.code, "layout.lost.structure_unchecked");
        assert_eq!(f.offset, 11 * 4096);
        assert!(f.message.contains("30 structure blocks"), "{}", f.message);
        let mut all = StructureBudget::default();
        assert_eq!(
            zeroed_structure_blocks(&n, &disk, &mut all),
            vec![(30 * 4096, 31 * 4096)]
        );
        assert!(all.finding().is_none());
        // The layer read blocks 1..=40 as it mapped them: answered from
        // its record, with nothing to read, whatever the budget.
        let mut b = OwnerMapBuilder::new(4096);
        b.push(OwnerKind::Directory, 2, 4096, 40 * 4096, 0);
        b.read(4096, &bytes[4096..41 * 4096]);
        let n = node_of(b);
        let mut none = StructureBudget::new(0);
        assert_eq!(
            zeroed_structure_blocks(&n, &disk, &mut none),
            vec![(30 * 4096, 31 * 4096)]
        );
        assert!(none.finding().is_none() && none.bytes_read() == 0);
    }
}

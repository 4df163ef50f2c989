//! The reverse map: which structure or file owns each byte range of a
//! filesystem, so a range found zeroed or overwritten on the disk is named
//! by what it destroyed ("924 files lost data, 3 directory blocks of
//! /var/lib/app"). A filesystem layer fills it during its full check's
//! walk of extents and block maps; the checks that span layers move the
//! ranges into disk space with the node's base and ask who owns `A..B`.
//!
//! Compact by construction: one entry per extent (adjacent blocks of one
//! owner merge), names as (parent, component) pairs rather than whole
//! paths, and a cap on both. A map that hit a cap says so
//! ([`OwnerMap::overflow`]): what it does not cover is unknown, not unowned.
//!
//! ```
//! use imgcheck_core::{OwnerKind, OwnerMapBuilder};
//!
//! let mut b = OwnerMapBuilder::new(4096);
//! b.push(OwnerKind::Superblock, 0, 0, 4096, 0);
//! b.push(OwnerKind::FileData, 12, 8192, 4096, 0);
//! b.push(OwnerKind::FileData, 12, 12288, 4096, 4096); // merges with the previous
//! b.name(12, 2, b"notes.txt");
//! let map = b.finish();
//! assert_eq!(map.ranges().len(), 2);
//! let hit = map.owners_in(10_000, 10_001);
//! assert_eq!(hit[0].inode, 12);
//! assert_eq!(map.path(12).as_deref(), Some("/notes.txt"));
//! ```

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Owned ranges a map keeps at most (32 bytes each: 64 MiB). A filesystem
/// with more extents than this is mapped in part, with
/// [`OwnerMap::overflow`] set.
pub const MAX_OWNED_RANGES: usize = 1 << 21;
/// Bytes of directory-entry names a map keeps at most.
pub const MAX_NAME_BYTES: usize = 64 << 20;
/// Path components followed at most when a path is resolved (a loop or a
/// deeper tree gives `None`… past this the path is cut with `…`).
pub const MAX_PATH_DEPTH: usize = 256;
/// Entries of hashed directories' leaves that no index block leads to,
/// remembered at most.
pub const MAX_UNINDEXED: usize = 1 << 20;

/// Spans a map records as read by its layer, at most (and as many runs
/// of zero blocks inside them): 16 MiB each list. Past this, what the
/// layer read is not recorded and a check that needs the bytes reads them.
pub const MAX_READ_SPANS: usize = 1 << 20;

/// What a range holds.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum OwnerKind {
    /// The primary superblock.
    Superblock,
    /// A backup superblock or a backup descriptor table block.
    BackupSuperblock,
    /// The primary group descriptor table (with reserved GDT blocks).
    GroupDescriptors,
    /// A block or inode bitmap.
    Bitmap,
    /// An inode table.
    InodeTable,
    /// The journal's superblock (first block of the journal).
    JournalSuperblock,
    /// A block of the journal's live log (from `s_start` of a journal
    /// that needs recovery) that never reads as zeros: a descriptor,
    /// revoke or commit block, or a logged copy whose checksum is not a
    /// zero block's. What a replay needs.
    JournalLog,
    /// A block of the live log whose content may be zeros (a logged copy
    /// no checksum vouches for): lost with the log around it, but zeros
    /// in it alone are no evidence.
    JournalLive,
    /// The rest of the journal.
    Journal,
    /// A directory's block.
    Directory,
    /// An extent-tree node below the inode.
    ExtentBlock,
    /// An indirect block of a block-mapped file.
    IndirectBlock,
    /// An extended-attribute block.
    XattrBlock,
    /// A file's data.
    #[default]
    FileData,
    /// A preallocated, unwritten extent: reads as zeros by design.
    Unwritten,
    /// Other filesystem metadata (reserved GDT blocks, MMP block).
    OtherMetadata,
}

impl OwnerKind {
    /// Whether a block of this kind always holds structure, so reading it
    /// as all zeros proves it was destroyed (a directory block has at least
    /// one entry; an extent or attribute block starts with a magic).
    pub fn must_hold_structure(self) -> bool {
        matches!(
            self,
            OwnerKind::Superblock
                | OwnerKind::BackupSuperblock
                | OwnerKind::GroupDescriptors
                | OwnerKind::JournalSuperblock
                | OwnerKind::JournalLog
                | OwnerKind::Directory
                | OwnerKind::ExtentBlock
                | OwnerKind::XattrBlock
        )
    }

    /// Whether it belongs to the filesystem rather than to one file.
    pub fn is_filesystem_metadata(self) -> bool {
        matches!(
            self,
            OwnerKind::Superblock
                | OwnerKind::BackupSuperblock
                | OwnerKind::GroupDescriptors
                | OwnerKind::Bitmap
                | OwnerKind::InodeTable
                | OwnerKind::OtherMetadata
        )
    }

    /// In words, as a report names it.
    pub fn words(self) -> &'static str {
        match self {
            OwnerKind::Superblock => "superblock",
            OwnerKind::BackupSuperblock => "backup superblock or descriptors",
            OwnerKind::GroupDescriptors => "group descriptor table",
            OwnerKind::Bitmap => "bitmap",
            OwnerKind::InodeTable => "inode table",
            OwnerKind::JournalSuperblock => "journal superblock",
            OwnerKind::JournalLog => "journal live log (the transactions a replay needs)",
            OwnerKind::JournalLive => "journal live log",
            OwnerKind::Journal => "journal",
            OwnerKind::Directory => "directory block",
            OwnerKind::ExtentBlock => "extent-tree block",
            OwnerKind::IndirectBlock => "indirect block",
            OwnerKind::XattrBlock => "extended-attribute block",
            OwnerKind::FileData => "file data",
            OwnerKind::Unwritten => "unwritten (preallocated) extent",
            OwnerKind::OtherMetadata => "filesystem metadata",
        }
    }
}

/// One owned range, in bytes of the filesystem's reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnedRange {
    /// First byte.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
    /// What it holds.
    pub kind: OwnerKind,
    /// The inode it belongs to; 0 for filesystem metadata.
    pub inode: u32,
    /// For file data and directory blocks: the byte offset in the file
    /// where the range starts; for an inode table: its byte offset in the
    /// filesystem's array of all inodes (inode N at `(N - 1) * inode
    /// size`), so a byte of the table names the inode it held.
    pub logical: u64,
}

impl OwnedRange {
    /// One past the last byte.
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.len)
    }
}

/// An inode's first name: where its bytes are in the map's name buffer,
/// and how many entries name it. One allocation for all names rather than
/// one per name: a full check of a million files named each in its own
/// `String` spent a tenth of its time in the allocator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
struct NameAt {
    /// The directory whose entry named it first.
    parent: u32,
    /// How many directory entries name it (hard links).
    links: u32,
    /// Its bytes: `names_buf[start..start + len]`, as the entry had them.
    start: u32,
    len: u32,
}

/// The reverse map of one filesystem; see the module documentation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerMap {
    block_size: u64,
    ranges: Vec<OwnedRange>,
    /// Sorted by inode, one per inode named.
    names: Vec<(u32, NameAt)>,
    /// The names' bytes (at most [`MAX_NAME_BYTES`]).
    names_buf: Vec<u8>,
    root: u32,
    overflow: Option<String>,
    /// (inode, modification time), sorted by inode: dates a loss (the
    /// zeros came after the last write that left a file whole).
    mtimes: Vec<(u32, i64)>,
    /// When the filesystem was last written, as its superblock says.
    last_write: Option<i64>,
    /// Bytes per inode in the inode tables (0: no inode tables mapped).
    #[serde(default)]
    inode_size: u32,
    /// (directory, inode) of entries in a hashed directory's leaf blocks
    /// that no surviving index block references, sorted: a lookup by name
    /// goes through the index, so these names no longer resolve.
    #[serde(default)]
    unindexed: Vec<(u32, u32)>,
    /// Inodes in use that no directory entry names, sorted: where a
    /// directory's blocks were destroyed, their names were most likely
    /// there.
    #[serde(default)]
    unattached: Vec<u32>,
    /// Directories the walk mapped, sorted.
    #[serde(default)]
    dirs: Vec<u32>,
    /// Inodes per group, to name the group an inode-table byte is in.
    #[serde(default)]
    inodes_per_group: u32,
    /// (inode, size in bytes), sorted by inode: a file's block bytes past
    /// its size are the padding of its last block, not its content.
    #[serde(default)]
    sizes: Vec<(u32, u64)>,
    /// Bytes per allocation cluster when larger than a block (ext4
    /// bigalloc), else 0: a cluster is allocated to one file whole, so the
    /// blocks of it the file does not map are its, not free space.
    #[serde(default)]
    cluster_size: u64,
    /// Inodes in use per group, as the group descriptors the filesystem
    /// was opened with count them: what a zeroed inode table held when no
    /// directory can be read to name its files.
    #[serde(default)]
    group_inodes_used: Vec<u32>,
    /// Those descriptors are the backups (the primary was unusable):
    /// their counts are as of their last write (mkfs, resize2fs, e2fsck),
    /// not of the last mount.
    #[serde(default)]
    counts_from_backup: bool,
    /// Whole blocks the layer read as it filled the map, `(start, end)`:
    /// sorted, disjoint and merged once finished.
    #[serde(default)]
    read: Vec<(u64, u64)>,
    /// The blocks of `read` whose bytes were all zeros, as runs.
    #[serde(default)]
    read_zero: Vec<(u64, u64)>,
}

impl OwnerMap {
    /// The filesystem's block size.
    pub fn block_size(&self) -> u64 {
        self.block_size
    }

    /// Every owned range, sorted and disjoint.
    pub fn ranges(&self) -> &[OwnedRange] {
        &self.ranges
    }

    /// Why the map is partial (a cap was hit), when it is.
    pub fn overflow(&self) -> Option<&str> {
        self.overflow.as_deref()
    }

    /// The owned ranges that meet `start..end` (not clipped).
    pub fn owners_in(&self, start: u64, end: u64) -> &[OwnedRange] {
        let first = self.ranges.partition_point(|r| r.end() <= start);
        let rest = self.ranges.get(first..).unwrap_or(&[]);
        let n = rest.partition_point(|r| r.start < end);
        rest.get(..n).unwrap_or(&[])
    }

    /// The owner of the byte at `at`, if any.
    pub fn owner_at(&self, at: u64) -> Option<&OwnedRange> {
        self.owners_in(at, at.saturating_add(1)).first()
    }

    /// The inodes directory `dir` names in leaf blocks its htree index no
    /// longer leads to (an interior index block is gone), sorted.
    pub fn unindexed_in(&self, dir: u32) -> impl Iterator<Item = u32> + '_ {
        let from = self.unindexed.partition_point(|e| e.0 < dir);
        self.unindexed
            .get(from..)
            .unwrap_or(&[])
            .iter()
            .take_while(move |e| e.0 == dir)
            .map(|e| e.1)
    }

    /// Inodes in use that no directory entry names (e2fsck's "unattached
    /// inode"), sorted.
    pub fn unattached(&self) -> &[u32] {
        &self.unattached
    }

    /// Whether `inode` is a directory the walk mapped.
    pub fn is_dir(&self, inode: u32) -> bool {
        self.dirs.binary_search(&inode).is_ok()
    }

    /// The root directory's inode: no directory entry names it, yet it is
    /// always in use.
    pub fn root(&self) -> u32 {
        self.root
    }

    /// How many directory entries name `inode`, 0 when none was seen.
    pub fn links(&self, inode: u32) -> u32 {
        self.name_at(inode).map_or(0, |n| n.links)
    }

    /// `inode`'s last modification time (seconds since the epoch, UTC),
    /// when the walk recorded one.
    pub fn mtime(&self, inode: u32) -> Option<i64> {
        let i = self.mtimes.binary_search_by_key(&inode, |m| m.0).ok()?;
        self.mtimes.get(i).map(|m| m.1)
    }

    /// When the filesystem was last written, as its superblock says.
    pub fn last_write(&self) -> Option<i64> {
        self.last_write
    }

    /// Bytes per inode and inodes per group of the inode tables, when
    /// the map has them (`(0, 0)` otherwise).
    pub fn inode_geometry(&self) -> (u32, u32) {
        (self.inode_size, self.inodes_per_group)
    }

    /// `inode`'s size in bytes, when the walk recorded it.
    pub fn size(&self, inode: u32) -> Option<u64> {
        let i = self.sizes.binary_search_by_key(&inode, |m| m.0).ok()?;
        self.sizes.get(i).map(|m| m.1)
    }

    /// Bytes per allocation cluster: the block size unless clusters are
    /// larger (bigalloc).
    pub fn cluster_size(&self) -> u64 {
        self.cluster_size.max(self.block_size)
    }

    /// Inodes in use in groups `first..=last` as the group descriptors
    /// count them, with whether those are the backup descriptors; `None`
    /// when the map has no counts for every one of those groups.
    pub fn inodes_used(&self, first: u32, last: u32) -> Option<(u64, bool)> {
        let a = usize::try_from(first).ok()?;
        let b = usize::try_from(last).ok()?.checked_add(1)?;
        let counts = self.group_inodes_used.get(a..b)?;
        Some((
            counts.iter().map(|&n| u64::from(n)).sum(),
            self.counts_from_backup,
        ))
    }

    /// The inodes `first..=last` that a directory entry names: in use by
    /// the directories' word, whatever their inode says.
    pub fn named_in(&self, first: u32, last: u32) -> impl Iterator<Item = u32> + '_ {
        // `names` is sorted by inode: start at the first at or past `first`.
        let from = self.names.partition_point(|n| n.0 < first);
        self.names
            .get(from..)
            .unwrap_or(&[])
            .iter()
            .map(|n| n.0)
            .take_while(move |&i| i <= last)
    }

    /// Whether `start..start+len` read as zeros when the layer read it
    /// while filling the map: `None` when the layer did not read all of
    /// it (or the read was not recorded), so only the bytes can tell. A
    /// check of many structure blocks (the zeroed-structure scan) is
    /// answered from here instead of reading an inode table a second time.
    pub fn read_as_zero(&self, start: u64, len: u64) -> Option<bool> {
        let end = start.checked_add(len)?;
        let i = self.read.partition_point(|r| r.1 <= start);
        let r = self.read.get(i)?;
        if !(r.0 <= start && end <= r.1) {
            return None;
        }
        let j = self.read_zero.partition_point(|z| z.1 <= start);
        Some(
            self.read_zero
                .get(j)
                .is_some_and(|z| z.0 <= start && end <= z.1),
        )
    }

    fn name_at(&self, inode: u32) -> Option<&NameAt> {
        let i = self.names.binary_search_by_key(&inode, |n| n.0).ok()?;
        self.names.get(i).map(|n| &n.1)
    }

    /// `inode`'s first path from the root (`/usr/share/doc/x`); `None`
    /// when no directory entry named it. A chain that loops or runs past
    /// [`MAX_PATH_DEPTH`] is cut and starts with `…/`.
    pub fn path(&self, inode: u32) -> Option<String> {
        if inode == self.root {
            return Some("/".into());
        }
        let mut parts: Vec<&[u8]> = Vec::new();
        let mut at = inode;
        let mut cut = true;
        for _ in 0..MAX_PATH_DEPTH {
            if at == self.root {
                cut = false;
                break;
            }
            let Some(n) = self.name_at(at) else {
                break;
            };
            let start = usize::try_from(n.start).unwrap_or(usize::MAX);
            let len = usize::try_from(n.len).unwrap_or(0);
            parts.push(
                self.names_buf
                    .get(start..start.saturating_add(len))
                    .unwrap_or(&[]),
            );
            at = n.parent;
        }
        if parts.is_empty() {
            return None;
        }
        parts.reverse();
        // Each component as lossy UTF-8, as the entry's bytes may be anything.
        let body = parts
            .iter()
            .map(|p| String::from_utf8_lossy(p))
            .collect::<Vec<_>>()
            .join("/");
        Some(if cut {
            format!("…/{body}")
        } else {
            format!("/{body}")
        })
    }
}

/// Builds an [`OwnerMap`] from ranges pushed in any order.
#[derive(Debug, Default)]
pub struct OwnerMapBuilder {
    map: OwnerMap,
    name_bytes: usize,
    /// Which inodes below [`DENSE_NAMED`] have a name, a bit each (grown
    /// as names come): the test for a first name, without a tree walk.
    named: Vec<u64>,
    /// Inodes from [`DENSE_NAMED`] on that have a name.
    named_far: BTreeSet<u32>,
    /// Entries past an inode's first, by inode (hard links: few).
    more_links: BTreeMap<u32, u32>,
}

/// Inodes below this are marked named in a bitmap (at most 32 MiB; ext4's
/// full check stops at 2^28 inodes), those above in a set.
const DENSE_NAMED: u32 = 1 << 28;

impl OwnerMapBuilder {
    /// A builder for a filesystem of `block_size`-byte blocks whose root
    /// directory is inode 2 (ext2/3/4; see [`OwnerMapBuilder::root`]).
    pub fn new(block_size: u64) -> Self {
        OwnerMapBuilder {
            map: OwnerMap {
                block_size,
                root: 2,
                ..OwnerMap::default()
            },
            name_bytes: 0,
            named: Vec::new(),
            named_far: BTreeSet::new(),
            more_links: BTreeMap::new(),
        }
    }

    /// Sets the root directory's inode.
    pub fn root(&mut self, inode: u32) {
        self.map.root = inode;
    }

    /// Records that `kind` of `inode` (0: the filesystem) owns
    /// `start..start+len`, holding file bytes from `logical` on.
    pub fn push(&mut self, kind: OwnerKind, inode: u32, start: u64, len: u64, logical: u64) {
        if len == 0 || self.map.overflow.is_some() {
            return;
        }
        if let Some(last) = self.map.ranges.last_mut()
            && last.kind == kind
            && last.inode == inode
            && last.end() == start
            && last.logical.saturating_add(last.len) == logical
        {
            last.len = last.len.saturating_add(len);
            return;
        }
        if self.map.ranges.len() >= MAX_OWNED_RANGES {
            self.map.overflow = Some(format!(
                "more than {MAX_OWNED_RANGES} extents: the rest of the filesystem is not mapped"
            ));
            return;
        }
        self.map.ranges.push(OwnedRange {
            start,
            len,
            kind,
            inode,
            logical,
        });
    }

    /// Records `inode`'s modification time (kept for at most
    /// [`MAX_OWNED_RANGES`] inodes, as ranges are).
    pub fn mtime(&mut self, inode: u32, time: i64) {
        if self.map.mtimes.len() < MAX_OWNED_RANGES {
            self.map.mtimes.push((inode, time));
        }
    }

    /// Records when the filesystem was last written.
    pub fn last_write(&mut self, time: i64) {
        self.map.last_write = Some(time);
    }

    /// Records `inode`'s size in bytes (kept for at most
    /// [`MAX_OWNED_RANGES`] inodes, as ranges are).
    pub fn size(&mut self, inode: u32, size: u64) {
        if self.map.sizes.len() < MAX_OWNED_RANGES {
            self.map.sizes.push((inode, size));
        }
    }

    /// Records the allocation cluster size (bigalloc), in bytes.
    pub fn cluster_size(&mut self, bytes: u64) {
        self.map.cluster_size = bytes;
    }

    /// Records the inodes in use per group as the descriptors count them,
    /// and whether those are the backup descriptors.
    pub fn group_inodes_used(&mut self, counts: Vec<u32>, backup: bool) {
        self.map.group_inodes_used = counts;
        self.map.counts_from_backup = backup;
    }

    /// Records the inode tables' geometry: an inode table range's
    /// `logical` divided by `inode_size` is then the inode index it holds.
    pub fn inode_geometry(&mut self, inode_size: u32, inodes_per_group: u32) {
        self.map.inode_size = inode_size;
        self.map.inodes_per_group = inodes_per_group;
    }

    /// Records a directory entry of `parent` naming `inode`.
    pub fn name(&mut self, inode: u32, parent: u32, name: &[u8]) {
        if self.is_named(inode) {
            let n = self.more_links.entry(inode).or_insert(0);
            *n = n.saturating_add(1);
            return;
        }
        if self.name_bytes.saturating_add(name.len()) > MAX_NAME_BYTES {
            if self.map.overflow.is_none() {
                self.map.overflow = Some(format!(
                    "more than {MAX_NAME_BYTES} bytes of names: later files are not named"
                ));
            }
            return;
        }
        self.name_bytes = self.name_bytes.saturating_add(name.len());
        // Both fit in u32: the bytes so far are at most MAX_NAME_BYTES.
        let (Ok(start), Ok(len)) = (
            u32::try_from(self.map.names_buf.len()),
            u32::try_from(name.len()),
        ) else {
            return;
        };
        self.map.names_buf.extend_from_slice(name);
        self.mark_named(inode);
        self.map.names.push((
            inode,
            NameAt {
                parent,
                links: 1,
                start,
                len,
            },
        ));
    }

    fn is_named(&self, inode: u32) -> bool {
        if inode >= DENSE_NAMED {
            return self.named_far.contains(&inode);
        }
        let w = usize::try_from(inode / 64).unwrap_or(usize::MAX);
        self.named
            .get(w)
            .is_some_and(|b| b >> (inode % 64) & 1 == 1)
    }

    fn mark_named(&mut self, inode: u32) {
        if inode >= DENSE_NAMED {
            self.named_far.insert(inode);
            return;
        }
        let w = usize::try_from(inode / 64).unwrap_or(usize::MAX);
        if w >= self.named.len() {
            self.named.resize(w.saturating_add(1), 0);
        }
        if let Some(b) = self.named.get_mut(w) {
            *b |= 1 << (inode % 64);
        }
    }

    /// Records that the layer read `bytes` at `start` (in the map's
    /// space): the whole blocks among them, and which of those are all
    /// zeros, for [`OwnerMap::read_as_zero`]. Bytes of a block cut by
    /// either end are not recorded. Past [`MAX_READ_SPANS`] nothing more
    /// is, never a span without its zero runs.
    pub fn read(&mut self, start: u64, bytes: &[u8]) {
        let bs = self.map.block_size;
        let Some(end) = u64::try_from(bytes.len())
            .ok()
            .and_then(|n| start.checked_add(n))
        else {
            return;
        };
        let (Some(first), Some(last)) = (
            start.div_ceil(bs.max(1)).checked_mul(bs),
            end.checked_div(bs).and_then(|b| b.checked_mul(bs)),
        ) else {
            return;
        };
        if bs == 0 || last <= first {
            return;
        }
        let (Ok(skip), Ok(bsz)) = (
            usize::try_from(first.saturating_sub(start)),
            usize::try_from(bs),
        ) else {
            return;
        };
        let whole = usize::try_from(last.saturating_sub(first)).unwrap_or(0);
        let Some(blocks) = bytes.get(skip..skip.saturating_add(whole)) else {
            return;
        };
        let zeros_before = self.map.read_zero.len();
        let mut at = first;
        for b in blocks.chunks_exact(bsz) {
            if crate::bytes::is_zero(b) {
                let next = at.saturating_add(bs);
                let ours = self.map.read_zero.len() > zeros_before;
                match self.map.read_zero.last_mut() {
                    Some(z) if ours && z.1 == at => z.1 = next,
                    _ => self.map.read_zero.push((at, next)),
                }
            }
            at = at.saturating_add(bs);
        }
        let merges = self.map.read.last().is_some_and(|r| r.1 == first);
        if self.map.read_zero.len() > MAX_READ_SPANS
            || (!merges && self.map.read.len() >= MAX_READ_SPANS)
        {
            self.map.read_zero.truncate(zeros_before);
            return;
        }
        match self.map.read.last_mut() {
            Some(r) if merges => r.1 = last,
            _ => self.map.read.push((first, last)),
        }
    }

    /// Marks the map partial for a reason of the caller's (the walk stopped).
    pub fn partial(&mut self, why: impl Into<String>) {
        if self.map.overflow.is_none() {
            self.map.overflow = Some(why.into());
        }
    }

    /// Records that directory `dir` names `inode` in a leaf block of its
    /// htree that no index block references.
    pub fn unindexed(&mut self, dir: u32, inode: u32) {
        // Past the bound the event lists fewer unreachable names; the
        // directory's own loss is still told.
        if self.map.unindexed.len() < MAX_UNINDEXED {
            self.map.unindexed.push((dir, inode));
        }
    }

    /// Records that `inode` is a directory (its blocks may all be lost
    /// with its mapping).
    pub fn directory(&mut self, inode: u32) {
        if self.map.dirs.len() < MAX_UNINDEXED {
            self.map.dirs.push(inode);
        }
    }

    /// Records that `inode` is in use but no directory entry names it.
    pub fn unattached(&mut self, inode: u32) {
        if self.map.unattached.len() < MAX_UNINDEXED {
            self.map.unattached.push(inode);
        }
    }

    /// Sorts the ranges and makes them disjoint: where two claim the same
    /// bytes (a block claimed twice, which the layer reports), the first
    /// in order of start keeps them.
    pub fn finish(mut self) -> OwnerMap {
        let mut v = std::mem::take(&mut self.map.ranges);
        v.sort_unstable_by_key(|r| (r.start, r.kind, r.inode));
        let mut out: Vec<OwnedRange> = Vec::with_capacity(v.len());
        for mut r in v {
            if let Some(last) = out.last() {
                let le = last.end();
                if r.start < le {
                    let cut = le.saturating_sub(r.start);
                    if cut >= r.len {
                        continue;
                    }
                    r.start = le;
                    r.len = r.len.saturating_sub(cut);
                    r.logical = r.logical.saturating_add(cut);
                }
            }
            if let Some(last) = out.last_mut()
                && last.kind == r.kind
                && last.inode == r.inode
                && last.end() == r.start
                && last.logical.saturating_add(last.len) == r.logical
            {
                last.len = last.len.saturating_add(r.len);
                continue;
            }
            out.push(r);
        }
        self.map.ranges = out;
        self.map.unindexed.sort_unstable();
        self.map.unindexed.dedup();
        self.map.unattached.sort_unstable();
        self.map.unattached.dedup();
        let owning = self
            .map
            .ranges
            .iter()
            .filter(|r| r.kind == OwnerKind::Directory)
            .map(|r| r.inode);
        self.map.dirs.extend(owning);
        self.map.dirs.sort_unstable();
        self.map.dirs.dedup();
        // One entry per inode (a second name only counted): sorted, for
        // the lookups by inode. A directory's entries come in runs of
        // rising inodes, which the run-finding stable sort merges: the
        // unstable one took a twentieth of a 1 M-file full check (inodes
        // are unique, so both orders are the same).
        self.map.names.sort_by_key(|n| n.0);
        for (inode, more) in &self.more_links {
            if let Ok(i) = self.map.names.binary_search_by_key(inode, |n| n.0)
                && let Some(n) = self.map.names.get_mut(i)
            {
                n.1.links = n.1.links.saturating_add(*more);
            }
        }
        self.map.mtimes.sort_unstable();
        self.map.mtimes.dedup_by_key(|m| m.0);
        self.map.sizes.sort_unstable();
        self.map.sizes.dedup_by_key(|m| m.0);
        self.map.read = merged_spans(std::mem::take(&mut self.map.read));
        self.map.read_zero = merged_spans(std::mem::take(&mut self.map.read_zero));
        self.map
    }
}

/// `(start, end)` spans sorted, with those that overlap or touch joined.
fn merged_spans(mut v: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    v.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(l) if a <= l.1 => l.1 = l.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// What the layer read is answered whole blocks at a time: zeros
    /// only where every byte of the asked range read as zero, unknown
    /// where any of it was not read.
    #[test]
    fn reads_recorded_answer_zero_blocks_and_nothing_else() {
        let mut b = OwnerMapBuilder::new(1024);
        let mut bytes = vec![1u8; 4096];
        bytes[1024..2048].fill(0); // the block at 1024+1024
        bytes[3072..].fill(0); // the block at 1024+3072
        b.read(1024, &bytes);
        b.read(5120, &[0u8; 1024]); // joins the first span and its zeros
        b.read(9000, &[0u8; 2048]); // cut by both ends: 9216..10240 only
        let m = b.finish();
        assert_eq!(m.read_as_zero(1024, 1024), Some(false));
        assert_eq!(m.read_as_zero(2048, 1024), Some(true));
        assert_eq!(m.read_as_zero(3072, 1024), Some(false));
        assert_eq!(m.read_as_zero(4096, 2048), Some(true), "across two reads");
        assert_eq!(m.read_as_zero(4096, 3072), None, "past what was read");
        assert_eq!(m.read_as_zero(2048, 2048), Some(false), "zero then not");
        assert_eq!(m.read_as_zero(9216, 1024), Some(true));
        assert_eq!(
            m.read_as_zero(8192, 1024),
            None,
            "a cut block is not recorded"
        );
        assert_eq!(m.read_as_zero(0, 1024), None);
        assert_eq!(m.read_as_zero(u64::MAX, 2), None);
    }

    #[test]
    fn ranges_sorted_disjoint_and_merged() {
        let mut b = OwnerMapBuilder::new(1024);
        b.push(OwnerKind::FileData, 13, 8192, 1024, 1024);
        b.push(OwnerKind::FileData, 13, 7168, 1024, 0);
        b.push(OwnerKind::Directory, 2, 8704, 1024, 0); // overlaps: the earlier start keeps it
        b.push(OwnerKind::Superblock, 0, 1024, 1024, 0);
        b.mtime(13, 1_763_000_000);
        b.mtime(2, 5);
        let m = b.finish();
        assert_eq!(
            (m.mtime(13), m.mtime(2), m.mtime(12)),
            (Some(1_763_000_000), Some(5), None)
        );
        let r = m.ranges();
        assert_eq!(r.len(), 3, "{r:?}");
        assert_eq!((r[0].start, r[0].kind), (1024, OwnerKind::Superblock));
        assert!(r.windows(2).all(|w| w[0].end() <= w[1].start));
        // 13's two blocks merged; 2's range keeps only what 13 did not claim.
        assert!(r.iter().any(|x| x.inode == 13 && x.len == 2048));
        assert!(
            r.iter()
                .any(|x| x.inode == 2 && x.start == 9216 && x.len == 512)
        );
        assert_eq!(m.owners_in(0, 1024).len(), 0);
        assert_eq!(m.owners_in(0, 1025).len(), 1);
        assert_eq!(m.owners_in(2048, 7168).len(), 0);
        assert_eq!(m.owner_at(9215).map(|x| x.inode), Some(13));
    }

    #[test]
    fn paths_hard_links_and_loops() {
        let mut b = OwnerMapBuilder::new(4096);
        b.name(11, 2, b"lost+found");
        b.name(12, 2, b"usr");
        b.name(13, 12, b"bin");
        b.name(14, 13, b"ls");
        b.name(14, 2, b"ls-link");
        b.name(20, 21, b"a");
        b.name(21, 20, b"b");
        let m = b.finish();
        assert_eq!(m.path(14).as_deref(), Some("/usr/bin/ls"));
        assert_eq!(m.mtime(14), None);
        assert_eq!(m.links(14), 2);
        assert_eq!(m.path(2).as_deref(), Some("/"));
        assert_eq!(m.path(99), None);
        assert!(m.path(20).unwrap().starts_with("…/"));
    }

    /// Names come in any inode order; the first entry names an inode and
    /// the later ones count as links, above the dense range too; bytes
    /// that are not UTF-8 are shown lossily.
    #[test]
    fn first_names_win_in_any_order() {
        let mut b = OwnerMapBuilder::new(4096);
        let far = u32::MAX - 1;
        b.name(40, 2, b"d");
        b.name(far, 40, b"far");
        b.name(31, 40, b"\xffbad");
        b.name(far, 2, b"far-link");
        b.name(31, 2, b"again");
        b.name(31, 40, b"third");
        b.name(DENSE_NAMED, 2, b"edge");
        let m = b.finish();
        assert_eq!(m.path(far).as_deref(), Some("/d/far"));
        assert_eq!((m.links(far), m.links(31), m.links(40)), (2, 3, 1));
        assert_eq!(m.path(31).as_deref(), Some("/d/\u{FFFD}bad"));
        assert_eq!(m.path(DENSE_NAMED).as_deref(), Some("/edge"));
        assert_eq!((m.links(41), m.path(41)), (0, None));
    }

    #[test]
    fn cap_is_a_stated_overflow() {
        let mut b = OwnerMapBuilder::new(4096);
        for i in 0..u64::try_from(MAX_OWNED_RANGES).unwrap() + 5 {
            // Gaps between ranges keep them from merging.
            b.push(OwnerKind::FileData, 12, i * 8192, 4096, i * 4096);
        }
        let m = b.finish();
        assert_eq!(m.ranges().len(), MAX_OWNED_RANGES);
        assert!(m.overflow().unwrap().contains("not mapped"));
    }
}

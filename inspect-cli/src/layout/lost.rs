//! What was lost, by file: zero runs of the disk mapped through each
//! filesystem's reverse map ([`imgcheck_core::OwnerMap`]) to the files,
//! directories and structures whose bytes they hold.
//!
//! Zeros are not always losses: unwritten extents read as zeros by design,
//! and database pages, VM images and preallocated files hold zeros of
//! their own. A run becomes a loss event only on evidence, and says which:
//! - `structure`: it holds a block that always has structure (a directory,
//!   extent-tree, attribute or journal superblock block) — certain;
//! - `object`: the data it holds lies wholly in windows of a storage
//!   object size (1, 4 or 8 MiB) aligned on the disk, a file runs on past
//!   its edge (the zeros stop inside a file, not where the file does), and
//!   several owners share it — likely;
//! - `elsewhere`: a run of the same object size and alignment destroyed
//!   structure elsewhere on the disk, and this one cuts through a file's
//!   data at windows of that size — likely;
//! - `text`: whole blocks of zeros inside a text file (its first block is
//!   text), which never holds runs of NUL blocks — likely.
//!
//! Anything else (zeros inside one file, whole zero-filled files) is told
//! nowhere: a false alarm is as bad as a miss.

use crate::report::Node;
use imgcheck_core::bytes::is_zero;
use imgcheck_core::{Finding, Hint, Layer, OwnerKind, OwnerMap, ReadAt, Space, human_size};
use serde::Serialize;
use std::collections::BTreeMap;

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
/// Structure blocks read per filesystem without `--scan`, at most.
const MAX_STRUCTURE_READS: usize = 1 << 16;

/// How sure a loss event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Several owners cut at object-aligned edges: zeros of this shape are
    /// rarely data.
    Likely,
    /// Structure that is never all zeros reads as zeros.
    Certain,
}

/// One file (or directory) that lost bytes in an event.
#[derive(Debug, Clone, Serialize)]
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
#[derive(Debug, Clone, Serialize)]
pub struct LostStructure {
    /// What it is.
    pub kind: OwnerKind,
    /// The partition its filesystem is in.
    pub partition: Option<u32>,
    /// Disk bytes `[start, end)`.
    pub range: (u64, u64),
}

/// One zeroed range of the disk and what it destroyed.
#[derive(Debug, Clone, Serialize)]
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
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inodes_lost: Vec<(u64, u64)>,
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
    /// The owner's range runs on past the hit's edges.
    cut: bool,
}

fn hits(fss: &[Mapped<'_>], s: u64, e: u64) -> Vec<Hit> {
    let mut out = Vec::new();
    for (i, m) in fss.iter().enumerate() {
        let lo = s.max(m.base);
        let hi = e.min(m.base.saturating_add(m.len));
        if lo >= hi {
            continue;
        }
        let (a, b) = (lo.saturating_sub(m.base), hi.saturating_sub(m.base));
        for o in m.map.owners_in(a, b) {
            if o.kind == OwnerKind::Unwritten {
                continue;
            }
            let os = o.start.max(a);
            let oe = o.end().min(b);
            // A file continues past the run when its range does, or when
            // the neighbouring range is the same inode's.
            let past = |at: u64| {
                m.map
                    .owner_at(at)
                    .is_some_and(|n| n.inode == o.inode && o.inode != 0)
            };
            let cut = o.inode != 0
                && ((o.start < a || (a > 0 && past(a.saturating_sub(1))))
                    || (o.end() > b || past(b)));
            out.push(Hit {
                fs: i,
                kind: o.kind,
                inode: o.inode,
                start: os.saturating_add(m.base),
                end: oe.saturating_add(m.base),
                cut,
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

/// When the hit is whole blocks of zeros past the first block of a file
/// whose first block is text (no NUL, printable): the file's path (or
/// inode). Text files hold no runs of NUL blocks; their last block is
/// text and padding, never all zeros.
fn text_block_zeroed(h: &Hit, fss: &[Mapped<'_>], disk: &dyn ReadAt) -> Option<String> {
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
    let text = n >= 64
        && sample
            .iter()
            .all(|&c| matches!(c, b'\t' | b'\n' | b'\r' | 0x20..=0x7e | 0x80..=0xff));
    text.then(|| {
        m.map
            .path(h.inode)
            .unwrap_or_else(|| format!("inode {}", h.inode))
    })
}

/// The loss events of the zero runs `runs` (disk space), most severe
/// first within disk order.
pub fn events(root: &Node, runs: &[(u64, u64)], disk: Option<&dyn ReadAt>) -> Vec<LossEvent> {
    let fss = mapped(root);
    if fss.is_empty() {
        return Vec::new();
    }
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
    let mut out = Vec::new();
    let mut text_checks = 0usize;
    for &(s, e) in runs {
        let hs = hits(&fss, s, e);
        if hs.is_empty() {
            continue;
        }
        let structure = hs.iter().any(|h| whole_structure(h, &fss));
        // Owners are files: inode tables and bitmaps hold zeros of their
        // own (unused inodes, free groups).
        let files: std::collections::BTreeSet<(usize, u32)> = hs
            .iter()
            .filter(|h| h.inode != 0)
            .map(|h| (h.fs, h.inode))
            .collect();
        let several = files.len() >= 2;
        let cut = hs.iter().any(|h| h.cut);
        let mut evidence = Vec::new();
        if structure {
            evidence.push("structure".to_string());
        }
        if several
            && cut
            && let Some(z) = OBJECT_SIZES.into_iter().find(|&z| fits(z, s, e, &hs))
        {
            evidence.push(format!("object {}", human_size(z)));
        }
        if cut && let Some(z) = struct_shapes.iter().find(|&&z| fits(z, s, e, &hs)) {
            evidence.push(format!(
                "elsewhere (a {} run destroyed structure elsewhere on the disk)",
                human_size(*z)
            ));
        }
        if evidence.is_empty()
            && let Some(d) = disk
            && let Some(p) = hs
                .iter()
                .filter(|h| h.cut && h.kind == OwnerKind::FileData)
                .find_map(|h| {
                    if text_checks >= MAX_TEXT_CHECKS {
                        return None;
                    }
                    text_checks = text_checks.saturating_add(1);
                    text_block_zeroed(h, &fss, d)
                })
        {
            evidence.push(format!("text (whole zero blocks inside {p}, a text file)"));
        }
        if evidence.is_empty() {
            continue;
        }
        let confidence = if structure {
            Confidence::Certain
        } else {
            Confidence::Likely
        };
        out.push(event(s, e, confidence, evidence, &hs, &fss));
    }
    out
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
        after,
        fs_last_write,
        inodes_lost: Vec::new(),
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
        },
        ev.evidence.join(", "),
        what_lost(ev)
    );
    let f = match ev.confidence {
        Confidence::Certain => {
            Finding::error("layout.lost", Layer::LAYOUT, ev.start, Space::Disk, msg)
        }
        Confidence::Likely => {
            Finding::warning("layout.lost", Layer::LAYOUT, ev.start, Space::Disk, msg)
        }
    };
    f.with_hint(Hint::advice(
        "restore the files listed (JSON \"lost\", or --lost-files FILE) from a backup; do not run a repair before copying the image",
    ))
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
        .filter(|k| !matches!(k, OwnerKind::FileData | OwnerKind::Directory))
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

/// Without `--scan`: the structure blocks (directory, extent-tree,
/// attribute, journal superblock) of each mapped filesystem that read as
/// zeros, as runs in disk space, for [`events`].
pub fn zeroed_structure_blocks(root: &Node, disk: &dyn ReadAt) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    let mut buf = Vec::new();
    for m in mapped(root) {
        let bs = m.map.block_size().clamp(512, 1 << 16);
        buf.resize(usize::try_from(bs).unwrap_or(4096), 0);
        let mut reads = 0usize;
        for o in m.map.ranges() {
            if !matches!(
                o.kind,
                OwnerKind::Directory
                    | OwnerKind::ExtentBlock
                    | OwnerKind::XattrBlock
                    | OwnerKind::JournalSuperblock
            ) {
                continue;
            }
            let mut at = o.start;
            while at < o.end() && reads < MAX_STRUCTURE_READS {
                reads = reads.saturating_add(1);
                let d = m.base.saturating_add(at);
                if disk.known_zero(d, bs)
                    || (disk.read_exact_at(d, &mut buf).is_ok() && is_zero(&buf))
                {
                    match out.last_mut() {
                        Some(l) if l.1 == d => l.1 = d.saturating_add(bs),
                        _ => out.push((d, d.saturating_add(bs))),
                    }
                }
                at = at.saturating_add(bs);
            }
        }
    }
    out.sort_unstable();
    out
}

/// The `--lost-files` text: one line per file, the path then its disk
/// byte ranges (`/etc/passwd\t1048576-1052672 2097152-2101248`).
pub fn lost_files_text(events: &[LossEvent]) -> String {
    let mut s = String::new();
    for ev in events {
        for f in &ev.files {
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
        }
    }

    #[test]
    fn an_aligned_object_cutting_through_two_files_is_likely() {
        let ev = events(&node(), &[(4 * MIB, 8 * MIB)], None);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].confidence, Confidence::Likely);
        assert!(
            ev[0].evidence[0].starts_with("object 4 MiB"),
            "{:?}",
            ev[0].evidence
        );
        let paths: Vec<_> = ev[0].files.iter().map(|f| f.path.clone()).collect();
        assert_eq!(paths, [Some("/b".to_string()), None, None]);
        assert_eq!(ev[0].files[0].ranges, [(4 * MIB, 6 * MIB)]);
        let f = finding(&ev[0]);
        assert_eq!(f.severity, imgcheck_core::Severity::Warning);
        assert!(
            f.message.contains("3 file(s) lost data, e.g. /b"),
            "{}",
            f.message
        );
        // 1 MiB objects: 1..5 MiB cuts through a and b at 1 MiB edges.
        let ev = events(&node(), &[(MIB, 5 * MIB)], None);
        assert_eq!(ev[0].evidence, ["object 1 MiB"]);
    }

    #[test]
    fn zeros_that_are_not_evidence_of_loss_are_told_nowhere() {
        let n = node();
        // Inside one file: a database's or VM image's own zeros.
        assert!(events(&n, &[(MIB, 2 * MIB)], None).is_empty());
        // Unless the file is text: its first block says so.
        let mut bytes = vec![0u8; usize::try_from(16 * MIB).unwrap()];
        let text = b"[Unit]\nDescription=app\nAfter=network.target\n".repeat(12);
        bytes[..text.len()].copy_from_slice(&text);
        let disk = imgcheck_core::BytesReader::new(bytes);
        let ev = events(&n, &[(MIB, 2 * MIB)], Some(&disk));
        assert_eq!(ev.len(), 1);
        assert!(
            ev[0].evidence[0].starts_with("text (whole zero blocks inside /a"),
            "{:?}",
            ev[0].evidence
        );
        // A binary first block (control bytes) is no such evidence.
        let binary = imgcheck_core::BytesReader::new(vec![1u8; usize::try_from(16 * MIB).unwrap()]);
        assert!(events(&n, &[(MIB, 2 * MIB)], Some(&binary)).is_empty());
        // Two whole zero-filled files, nothing cut.
        assert!(events(&n, &[(6 * MIB, 7 * MIB)], None).is_empty());
        // An unwritten extent reads as zeros by design.
        assert!(events(&n, &[(8 * MIB, 12 * MIB)], None).is_empty());
        // Unaligned: a run through two files whose edges are no object's.
        assert!(events(&n, &[(MIB + 4096, 4 * MIB + 8192)], None).is_empty());
    }
}

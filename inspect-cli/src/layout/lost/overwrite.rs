//! What a foreign image written over the start of a disk destroyed of the
//! ext filesystem it hit (the victim, found by its backup superblock past
//! the foreign table's end): the victim is opened through that backup and
//! the backup descriptors after it, its full walk fills a reverse map, and
//! the foreign bytes are mapped through it to the victim's structures, the
//! inodes whose table blocks they cover and the files whose data they hold.

use super::{Confidence, LossEvent, Mapped, event, hits};
use crate::layout::promise::Remnant;
use imgcheck_core::{Depth, Finding, Layer, OwnerKind, ReadAt, Slice, Space, human_size};

/// How the loss event's evidence starts: its finding is this module's,
/// not the zero map's.
pub const EVIDENCE: &str = "overwritten by a foreign image";

/// Inode-number runs named in the finding's message at most.
const NAMED_INODE_RUNS: usize = 8;

/// The loss event and its finding for the victim ext filesystem at disk
/// byte `start` (its backup superblock `r`), whose bytes up to disk byte
/// `foreign_end` a foreign image now holds; `bound` says where that end
/// comes from. `None` when the victim does not open or nothing it owned
/// lies in the range.
pub fn overwrite(
    disk: &dyn ReadAt,
    start: u64,
    r: &Remnant,
    foreign_end: u64,
    bound: &str,
) -> Option<(LossEvent, Finding)> {
    let fs_len = r
        .blocks
        .checked_mul(r.block_size)?
        .min(disk.len().checked_sub(start)?);
    // The table's end bounds the foreign bytes from above; the victim's
    // own superblock copies bound them closer: a dd writes one prefix, so
    // it ends before the first copy that is still the victim's. A copy at
    // the primary's place means it never reached the filesystem.
    let (foreign_end, bound) = match intact_copy(disk, start, r, foreign_end) {
        Some((_, 0)) => return None,
        Some((at, g)) => (
            at,
            format!(
                "at most: the victim's superblock copy of group {g} at disk byte {at} is intact, so a shorter dd than the whole image ended before it"
            ),
        ),
        None => (foreign_end, bound.to_string()),
    };
    let bound = bound.as_str();
    let reader = Slice::new(disk, start, fs_len)?;
    // The primary is the foreign image's bytes: the ext4 crate falls back
    // to the backup superblock at the primary's own geometry and reads the
    // descriptors after it, as e2fsck -b does.
    let report = imgcheck_ext4::check(&reader, &imgcheck_ext4::Options { depth: Depth::Full });
    let summary = report.summary?;
    let map = report.owners?;
    let isz = u64::from(summary.inode_size);
    if isz == 0 || foreign_end <= start {
        return None;
    }
    let fss = [Mapped {
        base: start,
        len: fs_len,
        partition: None,
        map: &map,
    }];
    let hs = hits(&fss, start, foreign_end);
    if hs.is_empty() {
        return None;
    }
    // Inodes whose table bytes the foreign data covers, even in part.
    let a = 0u64;
    let b = foreign_end.saturating_sub(start);
    let mut inodes: Vec<(u64, u64)> = Vec::new();
    for o in map.owners_in(a, b) {
        if o.kind != OwnerKind::InodeTable {
            continue;
        }
        let lo = o.start.max(a).saturating_sub(o.start);
        let hi = o.end().min(b).saturating_sub(o.start);
        if lo >= hi {
            continue;
        }
        let ino = |byte: u64| byte.checked_div(isz).unwrap_or(0).saturating_add(1);
        let first = ino(o.logical.saturating_add(lo));
        let last = ino(o.logical.saturating_add(hi).saturating_sub(1));
        match inodes.last_mut() {
            Some(l) if l.1.saturating_add(1) >= first => l.1 = l.1.max(last),
            _ => inodes.push((first, last)),
        }
    }
    // What the walk read from a destroyed table is the foreign image's
    // bytes, not inodes: nothing it maps is the victim's.
    let lost = |ino: u32| {
        inodes
            .iter()
            .any(|&(f, l)| (f..=l).contains(&u64::from(ino)))
    };
    let hs: Vec<_> = hs
        .into_iter()
        .filter(|h| h.inode == 0 || !lost(h.inode))
        .collect();
    let mut ev = event(
        start,
        foreign_end,
        Confidence::Certain,
        vec![format!("{EVIDENCE} ({bound})")],
        &hs,
        &fss,
    );
    // Reserved GDT blocks hold nothing until a resize, but an overwrite
    // destroys them as surely as the rest: name them too.
    let reserved: u64 = hs
        .iter()
        .filter(|h| h.kind == OwnerKind::OtherMetadata && h.inode == 0)
        .map(|h| h.end.saturating_sub(h.start))
        .sum();
    let mut kinds: Vec<(OwnerKind, u64)> = Vec::new();
    for s in &ev.structures {
        let n = s.range.1.saturating_sub(s.range.0);
        match kinds.iter_mut().find(|k| k.0 == s.kind) {
            Some(k) => k.1 = k.1.saturating_add(n),
            None => kinds.push((s.kind, n)),
        }
    }
    let mut parts: Vec<String> = kinds
        .iter()
        .map(|(k, n)| format!("{} ({})", k.words(), blocks(*n, r.block_size)))
        .collect();
    if reserved > 0 {
        parts.push(format!(
            "reserved GDT blocks ({})",
            blocks(reserved, r.block_size)
        ));
    }
    let inode_text = if inodes.is_empty() {
        String::new()
    } else {
        let total: u64 = inodes
            .iter()
            .map(|(f, l)| l.saturating_sub(*f).saturating_add(1))
            .sum();
        let mut runs: Vec<String> = inodes
            .iter()
            .take(NAMED_INODE_RUNS)
            .map(|(f, l)| {
                if f == l {
                    format!("{f}")
                } else {
                    format!("{f}..={l}")
                }
            })
            .collect();
        if inodes.len() > NAMED_INODE_RUNS {
            runs.push("…".into());
        }
        let root = if inodes.iter().any(|&(f, l)| (f..=l).contains(&2)) {
            ", the root directory's (2) among them"
        } else {
            ""
        };
        format!(
            "; the inode-table blocks of inodes {} ({total} inodes{root}) are gone: those files and directories are lost with their block maps",
            runs.join(", ")
        )
    };
    let files_text = if ev.files.is_empty() {
        "; no surviving inode maps data into the range".to_string()
    } else {
        let named: Vec<String> = ev.files.iter().take(3).map(super::name).collect();
        format!(
            "; {} files whose inodes survive had data there, e.g. {}",
            ev.files.len().saturating_add(ev.files_not_listed),
            named.join(", ")
        )
    };
    let msg = format!(
        "the foreign image's bytes reach disk byte {foreign_end} ({bound}), {} into the ext filesystem at disk byte {start} (UUID {}, read through its backup superblock of group {}): they destroyed its {}{inode_text}{files_text}",
        human_size(foreign_end.saturating_sub(start)),
        r.uuid,
        r.group,
        if parts.is_empty() {
            "metadata".to_string()
        } else {
            parts.join(", ")
        },
    );
    ev.inodes_lost = inodes;
    let f = Finding::error(
        "layout.lost.overwrite",
        Layer::LAYOUT,
        start,
        Space::Disk,
        msg,
    );
    Some((ev, f))
}

/// Sparse-super groups whose superblock copies are looked at, in disk
/// order: 0 (the primary), 1, and the powers of 3, 5 and 7.
const COPY_GROUPS: [u64; 11] = [0, 1, 3, 5, 7, 9, 25, 27, 49, 81, 125];

/// The first of the victim's superblock copies in `[start, end)` that is
/// still its own (ext magic and the backup's UUID): `(disk byte, group)`.
/// The victim's blocks per group follow from where the backup was found.
fn intact_copy(disk: &dyn ReadAt, start: u64, r: &Remnant, end: u64) -> Option<(u64, u64)> {
    let first_data = u64::from(r.block_size == 1024);
    let bpg = r
        .block
        .checked_sub(first_data)?
        .checked_div(r.group.max(1))?;
    COPY_GROUPS.iter().find_map(|&g| {
        let at = if g == 0 {
            start.checked_add(1024)?
        } else {
            let block = g.checked_mul(bpg)?.checked_add(first_data)?;
            start.checked_add(block.checked_mul(r.block_size)?)?
        };
        if at >= end {
            return None;
        }
        let sb = imgcheck_core::read_vec(disk, at, 1024, 1024).ok()?;
        let ours = imgcheck_core::bytes::le16(&sb, 0x38) == 0xEF53
            && crate::layout::promise::uuid_text(sb.get(0x68..0x78).unwrap_or(&[])) == r.uuid;
        ours.then_some((at, g))
    })
}

fn blocks(bytes: u64, bs: u64) -> String {
    let n = bytes.div_ceil(bs.max(1));
    if n == 1 {
        "1 block".into()
    } else {
        format!("{n} blocks")
    }
}

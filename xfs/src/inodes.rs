//! The full check (`xfs_repair` phases 3, 4, 6 and 7): every inode of
//! every chunk the inode btrees name, their forks and the blocks those
//! claim, every directory's entries, then connectivity from the root and
//! the link counts. Memory: one small record per allocated inode
//! ([`MAX_INODES`]) and one edge per directory entry ([`MAX_EDGES`]).

use crate::claims::Claims;
use crate::dir::{self, DirCx};
use crate::fs::Fs;
use crate::inode::{self, Dinode, Extent, format};
use crate::sb::NULLFSINO;
use crate::summary::TimeEvent;
use imgcheck_core::bytes::bytes;
use std::collections::HashMap;

/// Inode chunks followed at most.
pub const MAX_CHUNKS: usize = 1 << 20;
/// Allocated inodes tracked at most (24 bytes each).
pub const MAX_INODES: usize = 1 << 24;
/// Directory entries kept for connectivity and link counts at most.
pub const MAX_EDGES: usize = 1 << 25;
/// Recently changed inodes put on the timeline.
const RECENT: usize = 5;

/// One inode chunk from the inode btree.
#[derive(Debug, Clone, Copy)]
pub struct Chunk {
    /// AG.
    pub agno: u32,
    /// First AG inode number.
    pub agino: u64,
    /// Inodes that are sparse holes (one bit per inode).
    pub holes: u64,
    /// Free inodes (one bit per inode).
    pub free: u64,
    /// Free inodes that are not holes.
    pub freecount: u64,
    /// Where the record is.
    pub at: u64,
}

/// Each holemask bit stands for 4 inodes.
pub fn holes_of(holemask: u16) -> u64 {
    (0..16u32)
        .filter(|b| holemask & (1 << b) != 0)
        .fold(0u64, |m, b| m | (0xFu64 << b.saturating_mul(4)))
}

/// What the full check counted.
#[derive(Debug, Default)]
pub struct Full {
    /// Inodes whose cores were read.
    pub inodes: u64,
    /// Directories read.
    pub dirs: u64,
    /// Timeline.
    pub times: Vec<TimeEvent>,
    /// Realtime extents the files map, and the bitmap and summary inodes.
    pub(crate) rt: crate::rt::RtTrack,
    /// Quota files and what the inodes charge to each id.
    pub(crate) quota: crate::quota::QuotaTrack,
}

#[derive(Debug, Clone, Copy)]
struct Info {
    ino: u64,
    nlink: u32,
    refs: u32,
    ftype: u8,
    reached: bool,
    subdirs: u32,
}

enum DirSrc {
    Short(Vec<u8>, u64),
    Blocks(Vec<Extent>),
}

struct DirJob {
    ino: u64,
    size: u64,
    src: DirSrc,
}

/// The full check's state while it reads inodes.
pub(crate) struct Cx<'c> {
    pub(crate) claims: &'c mut Claims,
    table: Vec<Info>,
    dirs: Vec<DirJob>,
    recent: Vec<(i64, u64)>,
    next_unlinked: HashMap<u64, u64>,
    inodes: u64,
    rt: crate::rt::RtTrack,
    quota: crate::quota::QuotaTrack,
    /// The reverse map, filled as inodes and directories are read.
    owners: imgcheck_core::OwnerMapBuilder,
}

fn find(table: &[Info], ino: u64) -> Option<usize> {
    table.binary_search_by_key(&ino, |i| i.ino).ok()
}

/// One inode's data fork in the reverse map: a file's written extents as
/// its data, unwritten ones as zeros by design; a directory's blocks (a
/// directory block of `2^dirblklog` filesystem blocks starts with a magic
/// header, never zeros; the rest of it may be free space of zeros, so it
/// is held but no evidence); and the file's size.
fn own_data(fs: &Fs<'_>, cx: &mut Cx<'_>, ino: u32, map: &[Extent], dir: bool, size: u64) {
    use imgcheck_core::OwnerKind;
    let per_dir_block = 1u64
        .checked_shl(u32::from(fs.sb.dirblklog))
        .unwrap_or(1)
        .max(1);
    for e in map {
        let Some((agno, agbno)) = fs.fsb_split(e.start) else {
            continue;
        };
        let at = fs.agb_byte(agno, agbno);
        if dir && !e.unwritten {
            // Block by block (the map merges neighbours of one kind),
            // bounded by the extent's length, which the fork check bounds.
            for k in 0..e.len.min(1 << 20) {
                let l = e.off.saturating_add(k);
                let kind = if l.checked_rem(per_dir_block) == Some(0) {
                    OwnerKind::Directory
                } else {
                    OwnerKind::OtherMetadata
                };
                cx.owners.push(
                    kind,
                    ino,
                    at.saturating_add(k.saturating_mul(fs.bs)),
                    fs.bs,
                    l.saturating_mul(fs.bs),
                );
            }
            continue;
        }
        let kind = if e.unwritten {
            OwnerKind::Unwritten
        } else {
            OwnerKind::FileData
        };
        cx.owners.push(
            kind,
            ino,
            at,
            e.len.saturating_mul(fs.bs),
            e.off.saturating_mul(fs.bs),
        );
    }
    if dir {
        cx.owners.directory(ino);
    } else {
        cx.owners.size(ino, size);
    }
}

/// Timestamps of the root inode, for the quick check's timeline.
pub fn root_times(fs: &mut Fs<'_>) -> Vec<TimeEvent> {
    let mut out = Vec::new();
    let root = fs.sb.rootino;
    let Some(off) = fs.ino_byte(root) else {
        return out;
    };
    let Some(b) = fs.read(off, u64::from(fs.sb.inodesize), "root inode") else {
        return out;
    };
    let d = Dinode::parse(&b);
    if d.magic == inode::DINODE_MAGIC {
        push_root(&mut out, &d);
    }
    out
}

fn push_root(out: &mut Vec<TimeEvent>, d: &Dinode) {
    if d.version >= 3 && d.crtime > 0 {
        out.push(TimeEvent {
            time: d.crtime,
            what: "root directory created (filesystem made)".into(),
        });
    }
    if d.ctime > 0 {
        out.push(TimeEvent {
            time: d.ctime,
            what: "root directory last changed".into(),
        });
    }
}

/// Runs the full check over `chunks`; `unlinked` are the AGI bucket heads.
pub fn run(fs: &mut Fs<'_>, claims: &mut Claims, chunks: &[Chunk], unlinked: &[u64]) -> Full {
    let mut cx = Cx {
        claims,
        table: Vec::new(),
        dirs: Vec::new(),
        recent: Vec::new(),
        next_unlinked: HashMap::new(),
        inodes: 0,
        rt: crate::rt::RtTrack::new(fs),
        quota: crate::quota::QuotaTrack::new(fs),
        owners: imgcheck_core::OwnerMapBuilder::new(fs.bs),
    };
    // The map's inodes are 32-bit: a root past that maps nothing by name.
    cx.owners.root(u32::try_from(fs.sb.rootino).unwrap_or(0));
    let mut full = Full::default();
    let mut sorted = chunks.to_vec();
    sorted.sort_by_key(|c| (c.agno, c.agino));
    for c in &sorted {
        if fs.budget_hit {
            break;
        }
        chunk(fs, &mut cx, c);
    }
    full.inodes = cx.inodes;
    full.rt = std::mem::take(&mut cx.rt);
    full.quota = std::mem::take(&mut cx.quota);
    cx.table.sort_by_key(|i| i.ino);
    // Phase 6/7 need the directories and the table together.
    let dirs = std::mem::take(&mut cx.dirs);
    let mut edges: Vec<(u64, u64)> = Vec::new();
    let mut dotdot: HashMap<u64, u64> = HashMap::new();
    let ftype_fs = fs.sb.has_ftype();
    for job in &dirs {
        let d = match &job.src {
            DirSrc::Short(bytes, at) => crate::dirsf::shortform(fs, job.ino, bytes, *at, job.size),
            DirSrc::Blocks(map) => dir::blocks(
                fs,
                &DirCx {
                    ino: job.ino,
                    map,
                    size: job.size,
                    at: fs.ino_byte(job.ino).unwrap_or(0),
                },
            ),
        };
        full.dirs = full.dirs.saturating_add(1);
        if let Ok(parent) = u32::try_from(job.ino) {
            for e in &d.entries {
                if let Ok(child) = u32::try_from(e.ino)
                    && e.name != b"."
                    && e.name != b".."
                {
                    cx.owners.name(child, parent, &e.name);
                }
            }
        }
        if let Some(p) = d.parent {
            dotdot.insert(job.ino, p);
            if !fs.ino_ok(p) {
                fs.error(
                    "xfs.dir.dotdot",
                    0,
                    format!("directory inode {}: '..' names {p}, not an inode", job.ino),
                );
            }
        }
        // repair phase 6: "entry NAME (ino N) in dir D is a duplicate
        // name, would junk entry" (a fuzz run's miss: one flipped bit in a
        // short-form name made it equal its neighbour's)
        let mut names: std::collections::HashSet<&[u8]> = std::collections::HashSet::new();
        for e in &d.entries {
            if !names.insert(e.name.as_slice()) {
                fs.error(
                    "xfs.dir.duplicate",
                    e.at,
                    format!(
                        "directory inode {}: entry {:?} (inode {}) repeats a name the directory holds already",
                        job.ino,
                        String::from_utf8_lossy(&e.name),
                        e.ino
                    ),
                );
            }
        }
        for e in &d.entries {
            if !fs.ino_ok(e.ino) {
                fs.error("xfs.dir.entry_ino", e.at, format!("directory inode {}: entry {:?} names inode {:#x}, not an inode of the filesystem", job.ino, String::from_utf8_lossy(&e.name), e.ino));
                continue;
            }
            let Some(k) = find(&cx.table, e.ino) else {
                fs.error("xfs.dir.entry_free", e.at, format!("directory inode {}: entry {:?} names inode {}, which is free or unreadable", job.ino, String::from_utf8_lossy(&e.name), e.ino));
                continue;
            };
            let Some(info) = cx.table.get_mut(k) else {
                continue;
            };
            if ftype_fs && e.ftype != info.ftype {
                fs.error(
                    "xfs.dir.ftype",
                    e.at,
                    format!(
                        "directory inode {}: entry {:?} has file type {}, inode {} is of type {}",
                        job.ino,
                        String::from_utf8_lossy(&e.name),
                        e.ftype,
                        e.ino,
                        info.ftype
                    ),
                );
            }
            info.refs = info.refs.saturating_add(1);
            if edges.len() < MAX_EDGES {
                edges.push((job.ino, e.ino));
            } else {
                fs.incomplete.get_or_insert_with(|| {
                    "too many directory entries to check connectivity".into()
                });
            }
        }
    }
    cx.claims.finish(fs);
    if let Some(mut r) = cx.claims.rmaps.take() {
        r.compare(fs);
    }
    if fs.incomplete.is_none() && !fs.budget_hit {
        metadata_inodes(fs, &cx.table);
        stray_unlinked(fs, &cx, unlinked);
        connectivity(fs, &mut cx, &mut edges, &dotdot, unlinked);
    }
    let mut recent = cx.recent.clone();
    recent.sort_unstable_by(|a, b| b.cmp(a));
    // One event per distinct change time among the most recent, naming
    // the inodes changed then: what was written last before the image.
    let mut by_time: Vec<(i64, Vec<u64>)> = Vec::new();
    for &(t, ino) in recent.iter().filter(|r| r.1 != fs.sb.rootino).take(RECENT) {
        match by_time.last_mut() {
            Some((lt, v)) if *lt == t => v.push(ino),
            _ => by_time.push((t, vec![ino])),
        }
    }
    for (t, inos) in by_time {
        let list: Vec<String> = inos.iter().map(u64::to_string).collect();
        full.times.push(TimeEvent {
            time: t,
            what: format!(
                "inode{} {} changed (among the {RECENT} most recent changes)",
                if inos.len() > 1 { "s" } else { "" },
                list.join(", ")
            ),
        });
    }
    if let Some(off) = fs.ino_byte(fs.sb.rootino)
        && let Some(b) = fs.read(off, u64::from(fs.sb.inodesize), "root inode")
    {
        push_root(&mut full.times, &Dinode::parse(&b));
    }
    let mut owners = std::mem::take(&mut cx.owners);
    if let Some(why) = &fs.incomplete {
        owners.partial(why.clone());
    } else if fs.budget_hit {
        owners.partial("the read bound stopped the walk: later files are not mapped");
    }
    fs.owners = Some(owners.finish());
    full
}

/// An in-use inode whose next-unlinked pointer is set but which no AGI
/// unlinked chain reaches (repair phase 4: "would clear next_unlinked").
fn stray_unlinked(fs: &mut Fs<'_>, cx: &Cx<'_>, heads: &[u64]) {
    let on = chains(cx, heads);
    let mut stray: Vec<u64> = cx
        .next_unlinked
        .keys()
        .copied()
        .filter(|i| !on.contains(i))
        .collect();
    stray.sort_unstable();
    for ino in stray {
        let off = fs.ino_byte(ino).unwrap_or(0).saturating_add(0x60);
        fs.error(
            "xfs.inode.next_unlinked",
            off,
            format!("inode {ino} has a next-unlinked pointer but is on no unlinked list"),
        );
    }
}

/// Every inode the AGI unlinked chains reach, each visited once.
fn chains(cx: &Cx<'_>, heads: &[u64]) -> std::collections::HashSet<u64> {
    let mut on = std::collections::HashSet::new();
    for &head in heads {
        let mut ino = head;
        for _ in 0..MAX_INODES {
            if !on.insert(ino) {
                break;
            }
            match cx.next_unlinked.get(&ino) {
                Some(&n) => ino = n,
                None => break,
            }
        }
    }
    on
}

/// The quota and realtime inodes the superblock names must be allocated
/// regular files that no directory names (repair's `quotino_check`).
fn metadata_inodes(fs: &mut Fs<'_>, table: &[Info]) {
    let sb = fs.sb.clone();
    let mut list = vec![
        ("user quota", sb.uquotino, 0xA0u64),
        ("group quota", sb.gquotino, 0xA8),
    ];
    if fs.v5 {
        list.push(("project quota", sb.pquotino, 0xE8));
    }
    if sb.rblocks > 0 {
        list.push(("realtime bitmap", sb.rbmino, 0x40));
        list.push(("realtime summary", sb.rsumino, 0x48));
    }
    for (name, ino, at) in list {
        if ino == NULLFSINO || ino == 0 || !fs.ino_ok(ino) {
            continue;
        }
        match find(table, ino).and_then(|k| table.get(k)) {
            None => fs.error(
                "xfs.sb.metaino",
                at,
                format!("the {name} inode {ino} the superblock names is not an allocated inode"),
            ),
            Some(i) if i.ftype != 1 => fs.error(
                "xfs.sb.metaino",
                at,
                format!("the {name} inode {ino} is not a regular file"),
            ),
            Some(i) if i.refs > 0 => fs.error(
                "xfs.sb.metaino",
                at,
                format!("the {name} inode {ino} is also named by a directory"),
            ),
            Some(_) => {}
        }
    }
}

fn connectivity(
    fs: &mut Fs<'_>,
    cx: &mut Cx<'_>,
    edges: &mut [(u64, u64)],
    dotdot: &HashMap<u64, u64>,
    unlinked: &[u64],
) {
    let root = fs.sb.rootino;
    let Some(r) = find(&cx.table, root) else {
        fs.error(
            "xfs.root.missing",
            0x38,
            format!("the root inode {root} is not an allocated inode"),
        );
        return;
    };
    if cx.table.get(r).is_some_and(|i| i.ftype != 2) {
        fs.error(
            "xfs.root.not_dir",
            0x38,
            format!("the root inode {root} is not a directory"),
        );
        return;
    }
    if dotdot.get(&root).is_some_and(|&p| p != root) {
        fs.error(
            "xfs.dir.dotdot",
            0x38,
            format!(
                "the root directory's '..' names {}, not itself",
                dotdot.get(&root).copied().unwrap_or(0)
            ),
        );
    }
    edges.sort_unstable();
    let mut stack = vec![root];
    if let Some(i) = cx.table.get_mut(r) {
        i.reached = true;
    }
    let mut named_dir: HashMap<u64, u64> = HashMap::new();
    while let Some(d) = stack.pop() {
        let lo = edges.partition_point(|e| e.0 < d);
        let hi = edges.partition_point(|e| e.0 <= d);
        for &(_, c) in edges.get(lo..hi).unwrap_or(&[]) {
            let Some(k) = find(&cx.table, c) else {
                continue;
            };
            let is_dir = cx.table.get(k).is_some_and(|i| i.ftype == 2);
            if is_dir {
                if let Some(&first) = named_dir.get(&c) {
                    fs.error("xfs.dir.multiple_links", 0, format!("directory inode {c} is named by directories {first} and {d}: a directory has one parent"));
                    continue;
                }
                named_dir.insert(c, d);
                if let Some(i) = find(&cx.table, d).and_then(|k| cx.table.get_mut(k)) {
                    i.subdirs = i.subdirs.saturating_add(1);
                }
                if dotdot.get(&c).is_some_and(|&p| p != d) {
                    fs.error(
                        "xfs.dir.dotdot",
                        0,
                        format!(
                            "directory inode {c}: '..' names {}, but it is in directory {d}",
                            dotdot.get(&c).copied().unwrap_or(0)
                        ),
                    );
                }
            }
            if let Some(i) = cx.table.get_mut(k)
                && !i.reached
            {
                i.reached = true;
                if is_dir {
                    stack.push(c);
                }
            }
        }
    }
    // Inodes on the unlinked lists are open but unnamed.
    let orphan = chains(cx, unlinked);
    let meta: Vec<u64> = [
        fs.sb.rbmino,
        fs.sb.rsumino,
        fs.sb.uquotino,
        fs.sb.gquotino,
        if fs.v5 { fs.sb.pquotino } else { NULLFSINO },
    ]
    .into_iter()
    .filter(|&i| i != 0 && i != NULLFSINO)
    .collect();
    for i in &cx.table {
        if meta.contains(&i.ino) {
            // named by the superblock alone: one link (repair phase 7)
            if i.nlink != 1 {
                let off = fs.ino_byte(i.ino).unwrap_or(0);
                fs.error(
                    "xfs.link.count",
                    off.saturating_add(0x10),
                    format!(
                        "metadata inode {} (realtime bitmap or summary, or a quota file) has link count {}, must be 1",
                        i.ino, i.nlink
                    ),
                );
            }
            continue;
        }
        if orphan.contains(&i.ino) {
            continue;
        }
        let off = fs.ino_byte(i.ino).unwrap_or(0);
        if !i.reached {
            fs.error("xfs.link.disconnected", off, format!("inode {} is allocated but no directory reachable from the root names it (xfs_repair would move it to lost+found)", i.ino));
            continue;
        }
        let want = if i.ftype == 2 {
            2u32.saturating_add(i.subdirs)
        } else {
            i.refs
        };
        if i.nlink != want {
            fs.error(
                "xfs.link.count",
                off.saturating_add(0x10),
                format!("inode {} has link count {}, counted {want}", i.ino, i.nlink),
            );
        }
    }
    for &o in &orphan {
        if let Some(i) = find(&cx.table, o).and_then(|k| cx.table.get(k))
            && i.nlink != 0
            && !i.reached
        {
            let off = fs.ino_byte(o).unwrap_or(0);
            fs.error(
                "xfs.link.unlinked_named",
                off,
                format!(
                    "inode {o} is on an unlinked list but has link count {}",
                    i.nlink
                ),
            );
        }
    }
}

fn chunk(fs: &mut Fs<'_>, cx: &mut Cx<'_>, c: &Chunk) {
    let isz = u64::from(fs.sb.inodesize);
    let off = fs.agino_byte(c.agno, c.agino);
    let bytes_len = isz.saturating_mul(64);
    // Claim the chunk's blocks (those not wholly sparse holes).
    let ipb = u64::from(fs.sb.inopblock).max(1);
    let agbno0 = c.agino >> fs.inopblog().min(63);
    if ipb <= 64 {
        for blk in 0..64u64.checked_div(ipb).unwrap_or(0) {
            let first = blk.saturating_mul(ipb);
            let mask = if ipb >= 64 {
                u64::MAX
            } else {
                (1u64 << ipb).wrapping_sub(1) << first
            };
            if c.holes & mask != mask {
                cx.claims
                    .claim_meta(fs, c.agno, agbno0.saturating_add(blk), 1, "inode chunk");
            }
        }
    } else if c.agino.is_multiple_of(ipb) {
        cx.claims.claim_meta(fs, c.agno, agbno0, 1, "inode chunk");
    }
    let Some(buf) = fs.read(off, bytes_len, "inode chunk") else {
        return;
    };
    for i in 0..64u64 {
        if c.holes & (1 << i) != 0 {
            continue;
        }
        let ino = fs.ino_of(c.agno, c.agino.saturating_add(i));
        let at = Fs::u(i.saturating_mul(isz));
        let b = bytes(&buf, at, Fs::u(isz));
        let ioff = off.saturating_add(i.saturating_mul(isz));
        let free = c.free & (1 << i) != 0;
        cx.inodes = cx.inodes.saturating_add(1);
        one(fs, cx, ino, ioff, b, free);
    }
}

fn one(fs: &mut Fs<'_>, cx: &mut Cx<'_>, ino: u64, off: u64, b: &[u8], free: bool) {
    let d = Dinode::parse(b);
    if let Err(why) = inode::verify(fs, ino, b, &d) {
        let code = if d.magic != inode::DINODE_MAGIC {
            "xfs.inode.magic"
        } else if why == "bad CRC" {
            "xfs.inode.crc"
        } else {
            "xfs.inode.core"
        };
        fs.error(
            code,
            off,
            format!(
                "inode {ino}{}: {why} (xfs_repair would clear it)",
                if free { " (free)" } else { "" }
            ),
        );
        return;
    }
    if d.version >= 3 {
        fs.saw_lsn(d.lsn, off.saturating_add(0x70), "inode");
    }
    if free {
        if d.mode != 0 {
            fs.error(
                "xfs.inode.free_in_use",
                off.saturating_add(2),
                format!(
                    "inode {ino} is free in the inode btree but its core is in use (mode {:#o})",
                    d.mode
                ),
            );
        }
        return;
    }
    if d.mode == 0 {
        fs.error(
            "xfs.inode.used_is_free",
            off.saturating_add(2),
            format!("inode {ino} is in use in the inode btree but its core is free (mode 0)"),
        );
        return;
    }
    for why in inode::repair_rules(fs, ino, b, &d) {
        fs.error("xfs.inode.fields", off, format!("inode {ino}: {why}"));
    }
    if d.next_unlinked != crate::ag::NULLAGINO {
        let agno = fs.ino_split(ino).map_or(0, |x| x.0);
        if !crate::ag::agino_in_ag(fs, agno, u64::from(d.next_unlinked)) {
            fs.error(
                "xfs.inode.next_unlinked",
                off.saturating_add(0x60),
                format!(
                    "inode {ino}: next unlinked {} is not an inode of its AG",
                    d.next_unlinked
                ),
            );
        } else {
            cx.next_unlinked
                .insert(ino, fs.ino_of(agno, u64::from(d.next_unlinked)));
        }
    }
    if cx.table.len() >= MAX_INODES {
        fs.incomplete.get_or_insert_with(|| {
            format!("more than {MAX_INODES} inodes: link counts and connectivity not checked")
        });
        return;
    }
    cx.table.push(Info {
        ino,
        nlink: d.nlink,
        refs: 0,
        ftype: d.dir_ftype(),
        reached: false,
        subdirs: 0,
    });
    cx.recent.push((d.ctime, ino));
    if cx.recent.len() > RECENT.saturating_mul(4) {
        cx.recent.sort_unstable_by(|a, b| b.cmp(a));
        cx.recent.truncate(RECENT);
    }
    let fk = inode::forks(fs, &d);
    let rt = d.flags & inode::flags::REALTIME != 0;
    let mut blocks = 0u64;
    let data = crate::forks::fork(
        fs,
        cx,
        ino,
        off,
        b,
        &d,
        true,
        fk.data_off,
        fk.data_size,
        d.format,
        d.nextents,
        rt,
        &mut blocks,
    );
    if let Some(m) = data.as_deref() {
        if rt {
            let (shared, partial) = cx.rt.file(fs, m);
            let at = off.saturating_add(Fs::w(fk.data_off));
            if shared > 0 {
                fs.error(
                    "xfs.rt.shared",
                    at,
                    format!("realtime inode {ino} claims {shared} realtime extents an earlier extent (of this or another file) claims already (xfs_repair: claims dup rt extent)"),
                );
            }
            if partial > 0 {
                fs.error(
                    "xfs.rt.partial",
                    at,
                    format!("realtime inode {ino} has {partial} extents that start inside a realtime extent nothing claimed (xfs_repair: found invalid rt extent state)"),
                );
            }
        }
        cx.rt.metadata(fs, ino, m, d.size);
    }
    if !rt && let (Some(m), Ok(n)) = (data.as_deref(), u32::try_from(ino)) {
        own_data(fs, cx, n, m, d.is_dir(), d.size);
    }
    let data_map = data.as_deref();
    cx.quota
        .inode(ino, b, d.nblocks, data_map.filter(|_| rt), data_map);
    if d.forkoff != 0 {
        let attr = crate::forks::fork(
            fs,
            cx,
            ino,
            off,
            b,
            &d,
            false,
            fk.attr_off,
            fk.attr_size,
            d.aformat,
            d.anextents,
            false,
            &mut blocks,
        );
        if d.aformat == format::LOCAL {
            crate::attr::attr_shortform(
                fs,
                ino,
                off.saturating_add(Fs::w(fk.attr_off)),
                bytes(b, fk.attr_off, fk.attr_size),
            );
        } else if let Some(map) = attr {
            crate::attr::attr_blocks(fs, ino, &map);
        }
    }
    if blocks != d.nblocks {
        fs.error(
            "xfs.inode.nblocks",
            off.saturating_add(0x40),
            format!(
                "inode {ino} counts {} blocks, its forks map {blocks}",
                d.nblocks
            ),
        );
    }
    if d.is_dir() {
        match d.format {
            format::LOCAL => cx.dirs.push(DirJob {
                ino,
                size: d.size,
                src: DirSrc::Short(
                    bytes(b, fk.data_off, fk.data_size).to_vec(),
                    off.saturating_add(Fs::w(fk.data_off)),
                ),
            }),
            _ => {
                if let Some(m) = data {
                    cx.dirs.push(DirJob {
                        ino,
                        size: d.size,
                        src: DirSrc::Blocks(m),
                    });
                }
            }
        }
    } else if d.is_lnk() {
        crate::attr::symlink(fs, ino, off, b, &d, fk.data_off, data.as_deref());
    }
}

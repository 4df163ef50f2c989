//! The full check (`xfs_repair` phases 3, 4, 6 and 7): every inode of
//! every chunk the inode btrees name, their forks and the blocks those
//! claim, every directory's entries, then connectivity from the root and
//! the link counts. Memory: one small record per allocated inode
//! ([`MAX_INODES`]) and one edge per directory entry ([`MAX_EDGES`]).

use crate::claims::Claims;
use crate::crc;
use crate::dir::{self, DirCx};
use crate::fs::Fs;
use crate::inode::{self, Dinode, Extent, format};
use crate::sb::NULLFSINO;
use crate::summary::TimeEvent;
use imgcheck_core::bytes::{arr, be16, be32, be64, bytes};
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

struct Cx<'c> {
    claims: &'c mut Claims,
    table: Vec<Info>,
    dirs: Vec<DirJob>,
    recent: Vec<(i64, u64)>,
    next_unlinked: HashMap<u64, u64>,
    inodes: u64,
    errors_before: usize,
}

fn find(table: &[Info], ino: u64) -> Option<usize> {
    table.binary_search_by_key(&ino, |i| i.ino).ok()
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
        errors_before: 0,
    };
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
    cx.table.sort_by_key(|i| i.ino);
    // Phase 6/7 need the directories and the table together.
    let dirs = std::mem::take(&mut cx.dirs);
    let mut edges: Vec<(u64, u64)> = Vec::new();
    let mut dotdot: HashMap<u64, u64> = HashMap::new();
    let ftype_fs = fs.sb.has_ftype();
    for job in &dirs {
        let d = match &job.src {
            DirSrc::Short(bytes, at) => dir::shortform(fs, job.ino, bytes, *at, job.size),
            DirSrc::Blocks(map) => dir::blocks(
                fs,
                &DirCx {
                    ino: job.ino,
                    map,
                    size: job.size,
                },
            ),
        };
        full.dirs = full.dirs.saturating_add(1);
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
    let _ = cx.errors_before;
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
        if meta.contains(&i.ino) || orphan.contains(&i.ino) {
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
    let data = fork(
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
    if d.forkoff != 0 {
        let attr = fork(
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
            attr_shortform(
                fs,
                ino,
                off.saturating_add(Fs::w(fk.attr_off)),
                bytes(b, fk.attr_off, fk.attr_size),
            );
        } else if let Some(map) = attr {
            attr_blocks(fs, ino, &map);
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
        symlink(fs, ino, off, b, &d, fk.data_off, data.as_deref());
    }
}

/// Maps one fork; `None` when it cannot be mapped.
#[allow(clippy::too_many_arguments)]
fn fork(
    fs: &mut Fs<'_>,
    cx: &mut Cx<'_>,
    ino: u64,
    ioff: u64,
    b: &[u8],
    d: &Dinode,
    data: bool,
    at: usize,
    size: usize,
    fmt: u8,
    n: u64,
    rt: bool,
    blocks: &mut u64,
) -> Option<Vec<Extent>> {
    let which = if data { "data" } else { "attribute" };
    let mut ext: Vec<Extent> = Vec::new();
    match fmt {
        format::EXTENTS => {
            for r in inode::records(b, at, Fs::u(n), 16) {
                ext.push(inode::extent(r));
            }
        }
        format::BTREE => {
            let root = bytes(b, at, size);
            let level = be16(root, 0);
            let numrecs = u64::from(be16(root, 2));
            let maxrecs = Fs::w(size.saturating_sub(4)) / 16;
            if level == 0 || level > inode::MAX_BMBT_LEVELS || numrecs == 0 || numrecs > maxrecs {
                fs.error("xfs.bmbt.root", ioff.saturating_add(Fs::w(at)), format!("inode {ino}: {which} fork btree root has level {level} and {numrecs} records (max {maxrecs})"));
                return None;
            }
            let ptrs = 4usize.saturating_add(Fs::u(maxrecs).saturating_mul(8));
            let mut last: Vec<Option<(u64, u64)>> = Vec::new();
            let mut prev_key: Option<u64> = None;
            for i in 0..Fs::u(numrecs) {
                let key = be64(root, 4usize.saturating_add(i.saturating_mul(8)));
                if prev_key.is_some_and(|p| key <= p) {
                    fs.error(
                        "xfs.bmbt.key",
                        ioff.saturating_add(Fs::w(at)),
                        format!("inode {ino}: {which} fork btree root keys out of order"),
                    );
                }
                prev_key = Some(key);
                let ptr = be64(root, ptrs.saturating_add(i.saturating_mul(8)));
                let ok = bmbt(
                    fs,
                    cx,
                    ino,
                    ptr,
                    level.saturating_sub(1),
                    Some(key),
                    &mut last,
                    &mut ext,
                    blocks,
                    which,
                );
                if !ok {
                    return None;
                }
            }
            for (lvl, l) in last.iter().enumerate() {
                if let Some((f, r)) = l
                    && *r != u64::MAX
                {
                    let off = fs.fsb_split(*f).map_or(0, |(a, bb)| fs.agb_byte(a, bb));
                    fs.error(
                        "xfs.bmbt.sibling",
                        off,
                        format!("inode {ino}: last bmbt block at level {lvl} has a right sibling"),
                    );
                }
            }
        }
        _ => return None,
    }
    if Fs::w(ext.len()) != n {
        fs.error(
            "xfs.inode.nextents",
            ioff.saturating_add(if data { 0x4C } else { 0x50 }),
            format!(
                "inode {ino}: {which} fork counts {n} extents, maps {}",
                ext.len()
            ),
        );
    }
    // Order, range, and ownership of every extent.
    let mut end_prev = 0u64;
    for (i, e) in ext.iter().enumerate() {
        // repair's fs_max_file_offset: the largest byte offset, in blocks
        let max_off = (u64::MAX >> 1) >> fs.sb.blocklog.min(63);
        let bad_len = e.len == 0 || e.off.saturating_add(e.len) > max_off;
        if bad_len || (i > 0 && e.off < end_prev) {
            fs.error("xfs.bmap.order", ioff, format!("inode {ino}: {which} extent {i} (file block {} + {}) is empty, past the maximum offset, or overlaps the previous one", e.off, e.len));
            return None;
        }
        end_prev = e.off.saturating_add(e.len);
        if e.unwritten && (!data || !d.is_reg()) {
            fs.error("xfs.bmap.unwritten", ioff, format!("inode {ino}: {which} extent {i} is marked unwritten, which only file data may be"));
        }
        if rt && data {
            if e.start.saturating_add(e.len) > fs.sb.rblocks {
                fs.error(
                    "xfs.bmap.range",
                    ioff,
                    format!(
                        "inode {ino}: realtime extent {i} ({} + {}) lies past the realtime section",
                        e.start, e.len
                    ),
                );
                return None;
            }
        } else {
            let Some((agno, agbno)) = fs.fsb_split(e.start) else {
                fs.error("xfs.bmap.range", ioff, format!("inode {ino}: {which} extent {i} starts at block {:#x}, outside the filesystem", e.start));
                return None;
            };
            if agbno.saturating_add(e.len) > fs.ag_len(agno) || agbno < fs.first_free_agbno() {
                fs.error(
                    "xfs.bmap.range",
                    ioff,
                    format!(
                        "inode {ino}: {which} extent {i} ({agno}/{agbno} + {}) does not fit its AG",
                        e.len
                    ),
                );
                return None;
            }
            let (was_free, dup, shared) = cx.claims.claim_data(fs, agno, agbno, e.len);
            if let Some(r) = cx.claims.rmaps.as_mut() {
                let flags = if data { 0 } else { crate::rmap::ATTR }
                    | if e.unwritten {
                        crate::rmap::UNWRITTEN
                    } else {
                        0
                    };
                r.expect((agno, agbno, e.len, ino, e.off | flags));
            }
            if (shared > 0 || cx.claims.refcount_shared(agno, agbno, e.len))
                && d.flags2 & inode::flags2::REFLINK == 0
                && data
            {
                fs.error("xfs.inode.reflink_flag", ioff.saturating_add(0x78), format!("inode {ino} shares blocks with another file (extent {agno}/{agbno} + {}) but is not marked reflinked", e.len));
            }
            let boff = fs.agb_byte(agno, agbno);
            if was_free > 0 {
                fs.error("xfs.space.data_in_free", boff, format!("inode {ino}: {which} extent {agno}/{agbno} + {} claims {was_free} blocks the free-space trees call free", e.len));
            }
            if dup > 0 {
                fs.error("xfs.space.multiply_claimed", boff, format!("inode {ino}: {which} extent {agno}/{agbno} + {} claims {dup} blocks already in use", e.len));
            }
        }
        *blocks = blocks.saturating_add(e.len);
    }
    Some(ext)
}

/// Walks one bmbt block at `fsb`; `false` when the fork cannot be mapped.
#[allow(clippy::too_many_arguments)]
fn bmbt(
    fs: &mut Fs<'_>,
    cx: &mut Cx<'_>,
    ino: u64,
    fsb: u64,
    level: u16,
    key: Option<u64>,
    last: &mut Vec<Option<(u64, u64)>>,
    ext: &mut Vec<Extent>,
    blocks: &mut u64,
    which: &str,
) -> bool {
    let Some((agno, agbno)) = fs.fsb_split(fsb).filter(|&(a, b)| fs.agbno_ok(a, b)) else {
        fs.error(
            "xfs.bmbt.ptr",
            0,
            format!(
                "inode {ino}: {which} fork btree points at block {fsb:#x}, outside the filesystem"
            ),
        );
        return false;
    };
    let off = fs.agb_byte(agno, agbno);
    if !cx.claims.claim_meta(fs, agno, agbno, 1, "bmbt") {
        return false;
    }
    if let Some(r) = cx.claims.rmaps.as_mut() {
        let attr = if which == "attribute" {
            crate::rmap::ATTR
        } else {
            0
        };
        r.expect((agno, agbno, 1, ino, crate::rmap::BMBT | attr));
    }
    *blocks = blocks.saturating_add(1);
    let Some(b) = fs.read(off, fs.bs, "bmbt block") else {
        return false;
    };
    let magic = be32(&b, 0);
    let want = if fs.v5 {
        inode::BMAP_MAGIC_V5
    } else {
        inode::BMAP_MAGIC_V4
    };
    if magic != want {
        fs.error(
            "xfs.bmbt.magic",
            off,
            format!("inode {ino}: bmbt block {agno}/{agbno} has bad magic {magic:#x}"),
        );
        return false;
    }
    let hdr = if fs.v5 { 72usize } else { 24 };
    if fs.v5 {
        if !crc::verify(&b, 0x40) {
            fs.error(
                "xfs.bmbt.crc",
                off.saturating_add(0x40),
                format!("inode {ino}: bmbt block {agno}/{agbno} has a bad CRC"),
            );
        }
        let blkno = be64(&b, 0x18);
        let uuid: [u8; 16] = arr(&b, 0x28);
        let owner = be64(&b, 0x38);
        if blkno != off / 512 || uuid != fs.uuid || owner != ino {
            fs.error("xfs.bmbt.header", off.saturating_add(0x18), format!("inode {ino}: bmbt block {agno}/{agbno} does not describe itself (daddr {blkno}, owner {owner})"));
            return false;
        }
        fs.saw_lsn(be64(&b, 0x20), off.saturating_add(0x20), "bmbt block");
    }
    let lvl = be16(&b, 4);
    if lvl != level {
        fs.error(
            "xfs.bmbt.level",
            off.saturating_add(4),
            format!("inode {ino}: bmbt block {agno}/{agbno} is at level {lvl}, expected {level}"),
        );
        return false;
    }
    let n = u64::from(be16(&b, 6));
    let leaf = level == 0;
    let mx = fs.bs.saturating_sub(Fs::w(hdr)) / 16;
    if n == 0 || n > mx {
        fs.error(
            "xfs.bmbt.numrecs",
            off.saturating_add(6),
            format!("inode {ino}: bmbt block {agno}/{agbno} holds {n} records (max {mx})"),
        );
        return false;
    }
    let left = be64(&b, 8);
    let right = be64(&b, 16);
    let li = usize::from(level);
    if last.len() <= li {
        last.resize(li.saturating_add(1), None);
    }
    let chain_ok = match last.get(li).copied().flatten() {
        None => left == u64::MAX,
        Some((p, pr)) => left == p && pr == fsb,
    };
    if !chain_ok || left == fsb || right == fsb {
        fs.error("xfs.bmbt.sibling", off.saturating_add(8), format!("inode {ino}: bmbt block {agno}/{agbno} has sibling pointers left {left:#x} right {right:#x} that do not match the tree"));
    }
    if let Some(s) = last.get_mut(li) {
        *s = Some((fsb, right));
    }
    if leaf {
        let first = inode::extent(bytes(&b, hdr, 16));
        if key.is_some_and(|k| k != first.off) {
            fs.error(
                "xfs.bmbt.key",
                off,
                format!(
                    "inode {ino}: bmbt key for block {agno}/{agbno} does not match its first extent"
                ),
            );
        }
        for r in inode::records(&b, hdr, Fs::u(n), 16) {
            if Fs::w(ext.len()) >= inode::MAX_EXTENTS_PER_FORK {
                fs.incomplete.get_or_insert_with(|| {
                    format!(
                        "inode {ino} has more than {} extents",
                        inode::MAX_EXTENTS_PER_FORK
                    )
                });
                return false;
            }
            ext.push(inode::extent(r));
        }
        return true;
    }
    let ptrs = hdr.saturating_add(Fs::u(mx).saturating_mul(8));
    let first_key = be64(&b, hdr);
    if key.is_some_and(|k| k != first_key) {
        fs.error("xfs.bmbt.key", off, format!("inode {ino}: bmbt key for block {agno}/{agbno} does not match the child's first key"));
    }
    let mut prev: Option<u64> = None;
    for i in 0..Fs::u(n) {
        let k = be64(&b, hdr.saturating_add(i.saturating_mul(8)));
        if prev.is_some_and(|p| k <= p) {
            fs.error(
                "xfs.bmbt.key",
                off.saturating_add(Fs::w(hdr)),
                format!("inode {ino}: bmbt node {agno}/{agbno} keys out of order"),
            );
        }
        prev = Some(k);
        let p = be64(&b, ptrs.saturating_add(i.saturating_mul(8)));
        if !bmbt(
            fs,
            cx,
            ino,
            p,
            level.saturating_sub(1),
            Some(k),
            last,
            ext,
            blocks,
            which,
        ) {
            return false;
        }
    }
    true
}

fn symlink(
    fs: &mut Fs<'_>,
    ino: u64,
    off: u64,
    b: &[u8],
    d: &Dinode,
    data_off: usize,
    map: Option<&[Extent]>,
) {
    if d.size > 1024 {
        fs.error(
            "xfs.symlink.size",
            off.saturating_add(0x38),
            format!(
                "symlink inode {ino} has size {}, more than the 1024-byte maximum",
                d.size
            ),
        );
        return;
    }
    if d.format == format::LOCAL {
        let t = bytes(b, data_off, Fs::u(d.size));
        if t.contains(&0) {
            fs.error(
                "xfs.symlink.target",
                off.saturating_add(Fs::w(data_off)),
                format!("symlink inode {ino}: the inline target holds a NUL"),
            );
        }
        return;
    }
    let Some(map) = map else { return };
    let mut got = 0u64;
    for e in map {
        for k in 0..e.len {
            let Some((a, bb)) = fs.fsb_split(e.start.saturating_add(k)) else {
                return;
            };
            let boff = fs.agb_byte(a, bb);
            let Some(blk) = fs.read(boff, fs.bs, "symlink block") else {
                return;
            };
            if fs.v5 {
                let magic = be32(&blk, 0);
                let o = u64::from(be32(&blk, 4));
                let n = u64::from(be32(&blk, 8));
                let uuid: [u8; 16] = arr(&blk, 0x10);
                let owner = be64(&blk, 0x20);
                let blkno = be64(&blk, 0x28);
                if magic != 0x5853_4C4D
                    || !crc::verify(&blk, 0x0C)
                    || uuid != fs.uuid
                    || owner != ino
                    || blkno != boff / 512
                    || o != got
                    || n > fs.bs.saturating_sub(56)
                {
                    fs.error("xfs.symlink.block", boff, format!("symlink inode {ino}: remote target block at {boff:#x} has a bad header (magic, CRC, owner, offset or length)"));
                    return;
                }
                if bytes(&blk, 56, Fs::u(n)).contains(&0) {
                    fs.error(
                        "xfs.symlink.target",
                        boff,
                        format!("symlink inode {ino}: the target holds a NUL"),
                    );
                    return;
                }
                fs.saw_lsn(be64(&blk, 0x30), boff.saturating_add(0x30), "symlink block");
                got = got.saturating_add(n);
            } else {
                got = got.saturating_add(fs.bs);
            }
        }
    }
    if fs.v5 && got != d.size {
        fs.error(
            "xfs.symlink.size",
            off.saturating_add(0x38),
            format!(
                "symlink inode {ino} has size {} but its blocks hold {got} bytes",
                d.size
            ),
        );
    }
}

fn attr_shortform(fs: &mut Fs<'_>, ino: u64, at: u64, fork: &[u8]) {
    let total = usize::from(be16(fork, 0));
    let count = usize::from(imgcheck_core::bytes::u8_at(fork, 2));
    if total < 4 || total > fork.len() {
        fs.error(
            "xfs.attr.shortform",
            at,
            format!(
                "inode {ino}: short-form attributes claim {total} bytes in a {}-byte fork",
                fork.len()
            ),
        );
        return;
    }
    let mut p = 4usize;
    for i in 0..count {
        let nl = usize::from(imgcheck_core::bytes::u8_at(fork, p));
        let vl = usize::from(imgcheck_core::bytes::u8_at(fork, p.saturating_add(1)));
        let end = p.saturating_add(3).saturating_add(nl).saturating_add(vl);
        if nl == 0 || end > total {
            fs.error("xfs.attr.shortform", at.saturating_add(Fs::w(p)), format!("inode {ino}: short-form attribute {i} of {count} runs past the attributes' {total} bytes"));
            return;
        }
        p = end;
    }
    if p != total {
        fs.error(
            "xfs.attr.shortform",
            at,
            format!(
                "inode {ino}: short-form attributes total {total} bytes, their entries end at {p}"
            ),
        );
    }
}

fn attr_blocks(fs: &mut Fs<'_>, ino: u64, map: &[Extent]) {
    // Leaf and node blocks carry a da-block header; remote values their own.
    let (cnt_at, hdr) = if fs.v5 { (56usize, 80usize) } else { (12, 32) };
    let mut remotes: Vec<(u64, u64, u64)> = Vec::new();
    let mut first_kind = None;
    for e in map {
        for k in 0..e.len.min(1 << 16) {
            let lblk = e.off.saturating_add(k);
            let Some((a, bb)) = fs.fsb_split(e.start.saturating_add(k)) else {
                return;
            };
            let boff = fs.agb_byte(a, bb);
            let Some(blk) = fs.read(boff, fs.bs, "attribute block") else {
                return;
            };
            let da_magic = be16(&blk, 8);
            if lblk == 0 {
                first_kind = Some(da_magic);
            }
            if !matches!(da_magic, 0x3BEE | 0xFBEE | 0x3EBE | 0xFEBE) {
                if lblk == 0 {
                    fs.error("xfs.attr.block", boff, format!("inode {ino}: attribute fork block 0 is neither a leaf nor a node (magic {da_magic:#x})"));
                }
                continue;
            }
            if fs.v5 {
                let ok = crc::verify(&blk, 12)
                    && be64(&blk, 16) == boff / 512
                    && arr::<16>(&blk, 32) == fs.uuid
                    && be64(&blk, 48) == ino;
                if !ok {
                    fs.error("xfs.attr.block", boff, format!("inode {ino}: attribute block at {boff:#x} has a bad header (CRC, address, UUID or owner)"));
                    continue;
                }
                fs.saw_lsn(be64(&blk, 24), boff.saturating_add(24), "attribute block");
            }
            if !matches!(da_magic, 0x3BEE | 0xFBEE) {
                continue;
            }
            let count = usize::from(be16(&blk, cnt_at));
            if Fs::w(hdr.saturating_add(count.saturating_mul(8))) > fs.bs {
                fs.error(
                    "xfs.attr.leaf",
                    boff,
                    format!("inode {ino}: attribute leaf claims {count} entries, more than fit"),
                );
                continue;
            }
            attr_leaf(fs, ino, &blk, boff, cnt_at, hdr, count, &mut remotes);
        }
    }
    if let Some(m) = first_kind {
        let leaf_magic = (0xFBEE, 0x3BEE);
        let cx = crate::datree::DaCx {
            ino,
            map,
            fsbs: 1,
            leaf_magic,
            what: "attribute fork",
            code: "xfs.attr",
        };
        if matches!(m, 0x3EBE | 0xFEBE) {
            crate::datree::walk(fs, &cx, 0, &|b| crate::datree::last_hash(b, cnt_at, hdr));
        } else if matches!(m, 0x3BEE | 0xFBEE) {
            crate::datree::walk(fs, &cx, 0, &|_| None);
        }
    }
    if fs.v5 {
        for (vb, vl, at) in remotes {
            remote_value(fs, ino, map, vb, vl, at);
        }
    }
}

/// One attribute leaf block's entries (`xfs_attr3_leaf_verify` and
/// repair's `process_leaf_attr_block`): hash order, each name's hash,
/// entries inside the block past `firstused`, `usedbytes`, the free map.
#[allow(clippy::too_many_arguments)]
fn attr_leaf(
    fs: &mut Fs<'_>,
    ino: u64,
    blk: &[u8],
    boff: u64,
    cnt_at: usize,
    hdr: usize,
    count: usize,
    remotes: &mut Vec<(u64, u64, u64)>,
) {
    let bs = Fs::u(fs.bs);
    let usedbytes = usize::from(be16(blk, cnt_at.saturating_add(2)));
    let firstused = usize::from(be16(blk, cnt_at.saturating_add(4)));
    let fm_at = cnt_at.saturating_add(8);
    let ents_end = hdr.saturating_add(count.saturating_mul(8));
    // firstused 0 stands for a whole 64 KiB block
    let firstused_eff = if firstused == 0 && bs == 65536 {
        65536
    } else {
        firstused
    };
    if firstused_eff < ents_end || firstused_eff > bs {
        fs.error("xfs.attr.leaf", boff.saturating_add(Fs::w(cnt_at)).saturating_add(4), format!("inode {ino}: attribute leaf's first used byte {firstused} is inside its entry table or past the block"));
        return;
    }
    for k in 0..3usize {
        let base = usize::from(be16(blk, fm_at.saturating_add(k.saturating_mul(4))));
        let size = usize::from(be16(
            blk,
            fm_at.saturating_add(k.saturating_mul(4)).saturating_add(2),
        ));
        if base >= bs
            || base % 4 != 0
            || size % 4 != 0
            || base.saturating_add(size) > bs
            || (size > 0 && base < ents_end)
        {
            fs.error("xfs.attr.freemap", boff.saturating_add(Fs::w(fm_at)), format!("inode {ino}: attribute leaf free map entry {k} ({base}+{size}) does not fit the block"));
        }
    }
    let mut prev = 0u32;
    let mut used = 0usize;
    for i in 0..count {
        let p = hdr.saturating_add(i.saturating_mul(8));
        let h = be32(blk, p);
        let nameidx = usize::from(be16(blk, p.saturating_add(4)));
        let flags = imgcheck_core::bytes::u8_at(blk, p.saturating_add(6));
        if h < prev || nameidx >= bs || nameidx < firstused_eff.min(bs) {
            fs.error("xfs.attr.leaf", boff.saturating_add(Fs::w(p)), format!("inode {ino}: attribute leaf entry {i} is out of order or points outside the value area"));
            return;
        }
        prev = h;
        let local = flags & 1 != 0;
        let (name, size) = if local {
            let vl = usize::from(be16(blk, nameidx));
            let nl = usize::from(imgcheck_core::bytes::u8_at(blk, nameidx.saturating_add(2)));
            (
                bytes(blk, nameidx.saturating_add(3), nl),
                (nl.saturating_add(vl).saturating_add(6)) & !3,
            )
        } else {
            let nl = usize::from(imgcheck_core::bytes::u8_at(blk, nameidx.saturating_add(8)));
            (
                bytes(blk, nameidx.saturating_add(9), nl),
                (nl.saturating_add(14)) & !3,
            )
        };
        if name.is_empty() || nameidx.saturating_add(size) > bs {
            fs.error(
                "xfs.attr.leaf",
                boff.saturating_add(Fs::w(nameidx)),
                format!(
                    "inode {ino}: attribute leaf entry {i}'s name or value runs past the block"
                ),
            );
            return;
        }
        if crate::dir::hashname(name, false) != h {
            fs.error("xfs.attr.hash", boff.saturating_add(Fs::w(p)), format!("inode {ino}: attribute leaf entry {i} has hash {h:#x}, its name hashes to {:#x}", crate::dir::hashname(name, false)));
        }
        used = used.saturating_add(size);
        if flags & 0x80 != 0 {
            fs.error("xfs.attr.incomplete", boff.saturating_add(Fs::w(p)).saturating_add(6), format!("inode {ino}: attribute leaf entry {i} is marked incomplete (a set that never finished)"));
        }
        if !local && flags & 0x80 == 0 {
            let vb = u64::from(be32(blk, nameidx));
            let vl = u64::from(be32(blk, nameidx.saturating_add(4)));
            remotes.push((vb, vl, boff.saturating_add(Fs::w(nameidx))));
        }
    }
    if used != usedbytes {
        fs.error("xfs.attr.leaf", boff.saturating_add(Fs::w(cnt_at)).saturating_add(2), format!("inode {ino}: attribute leaf says {usedbytes} bytes of names and values, its entries use {used}"));
    }
}

/// A remote attribute value: its blocks' headers give consecutive
/// offsets and byte counts that add up to the value's length.
fn remote_value(fs: &mut Fs<'_>, ino: u64, map: &[Extent], vb: u64, vl: u64, at: u64) {
    let per = fs.bs.saturating_sub(56).max(1);
    let nblk = vl.div_ceil(per).max(1);
    let mut done = 0u64;
    for k in 0..nblk.min(1 << 16) {
        let lblk = vb.saturating_add(k);
        let i = map.partition_point(|e| e.off.saturating_add(e.len) <= lblk);
        let Some(fsb) = map
            .get(i)
            .filter(|e| e.off <= lblk)
            .map(|e| e.start.saturating_add(lblk.saturating_sub(e.off)))
        else {
            fs.error(
                "xfs.attr.remote",
                at,
                format!("inode {ino}: remote attribute value block {lblk} is not mapped"),
            );
            return;
        };
        let Some((a, bb)) = fs.fsb_split(fsb) else {
            return;
        };
        let boff = fs.agb_byte(a, bb);
        let Some(blk) = fs.read(boff, fs.bs, "remote attribute block") else {
            return;
        };
        let want = per.min(vl.saturating_sub(done));
        let ok = be32(&blk, 0) == 0x5841_524D
            && crc::verify(&blk, 12)
            && u64::from(be32(&blk, 4)) == done
            && u64::from(be32(&blk, 8)) == want
            && arr::<16>(&blk, 16) == fs.uuid
            && be64(&blk, 32) == ino
            && be64(&blk, 40) == boff / 512;
        if !ok {
            fs.error("xfs.attr.remote", boff, format!("inode {ino}: remote attribute value block at {boff:#x} has a bad header (magic, CRC, offset, length or owner)"));
            return;
        }
        fs.saw_lsn(
            be64(&blk, 48),
            boff.saturating_add(48),
            "remote attribute block",
        );
        done = done.saturating_add(want);
    }
}

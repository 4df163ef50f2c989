//! The directory tree and every chain, in fsck.fat's order (`scan_root`,
//! `scan_dir`, `check_dir`, `check_files`, `subdirs`): a directory's
//! entries are all read and their chains claimed before any of its
//! subdirectories is entered, depth first. Each cluster is claimed once
//! (one bit per cluster), so a chain that runs into an earlier one is a
//! cross-link, one that runs into itself a loop, and every directory is
//! read at most once: the walk ends on any input.

use super::Ctx;
use super::chains::{check_file, resolve_cross_links, walk_chain};
use crate::bitmap::Bitmap;
use crate::bpb::{FatKind, Root};
use crate::dir::{ATTR_DIR, DOT, DOTDOT, ENTRY_LEN, LfnSlot, RawEntry};
use crate::hints::{fsck_n, repair_on_copy};
use crate::lfn::{LfnEvent, LfnProblem, LfnState, LongName};
use crate::summary::{Stamp, Usage};
use crate::table::{Entry, Fat, classify, entry_byte};
use imgcheck_core::Severity;
use imgcheck_core::bytes::{u64_of, usize_of};
use std::collections::HashMap;

/// Entries (files, directories, labels) the walk keeps; past this it stops.
pub const MAX_NODES: usize = 1 << 22;
/// Directory depth the walk descends to.
pub const MAX_DEPTH: u32 = 255;
/// Entries read from one directory: the FAT maximum (65,536 entries, 2 MiB).
pub const MAX_DIR_ENTRIES: u64 = 65536;
/// The root's parent.
pub(super) const NO_PARENT: u32 = u32::MAX;

/// One entry of the tree.
pub(super) struct Node {
    pub(super) parent: u32,
    pub(super) name: Box<str>,
    /// The first cluster as fsck.fat goes on with it (0 once it gave up on
    /// the chain).
    pub(super) start: u32,
    /// Byte offset of the short entry (0: the root).
    pub(super) offset: u64,
    pub(super) claimed: u32,
    pub(super) excess: u32,
    pub(super) depth: u32,
    pub(super) scan: bool,
}

/// The walk's state: the tree, one bit per cluster claimed, one bit per
/// cluster of the chain being walked.
pub(super) struct Walk {
    pub(super) nodes: Vec<Node>,
    pub(super) owned: Bitmap,
    pub(super) walking: Bitmap,
    pub(super) cross: Vec<(u32, u32, u64)>,
    pub(super) usage: Usage,
    pub(super) newest_write: Option<(i64, u32)>,
    pub(super) newest_create: Option<(i64, u32)>,
    pub(super) oldest_create: Option<(i64, u32)>,
    pub(super) stopped: bool,
}

/// An entry read from a directory, before it is checked.
pub(super) struct Cand {
    pub(super) offset: u64,
    pub(super) e: RawEntry,
    pub(super) long: Option<LongName>,
}

impl Walk {
    fn new(clusters: u32) -> Self {
        let n = clusters.saturating_add(2);
        Walk {
            nodes: Vec::new(),
            owned: Bitmap::new(n),
            walking: Bitmap::new(n),
            cross: Vec::new(),
            usage: Usage::default(),
            newest_write: None,
            newest_create: None,
            oldest_create: None,
            stopped: false,
        }
    }

    pub(super) fn node(&self, i: u32) -> Option<&Node> {
        self.nodes.get(usize_of(u64::from(i)))
    }

    pub(super) fn start(&self, i: u32) -> u32 {
        self.node(i).map_or(0, |n| n.start)
    }

    /// `/docs/a.txt`; the root is `/`.
    pub(super) fn path(&self, i: u32) -> String {
        let mut parts = Vec::new();
        let mut at = i;
        while let Some(n) = self.node(at) {
            if n.parent == NO_PARENT
                || parts.len() > usize_of(u64::from(MAX_DEPTH)).saturating_add(1)
            {
                break;
            }
            parts.push(&*n.name);
            at = n.parent;
        }
        if parts.is_empty() {
            return "/".into();
        }
        parts.reverse();
        format!("/{}", parts.join("/"))
    }
}

/// Walks the whole tree from the root with the loaded FAT.
pub(super) fn walk(cx: &mut Ctx<'_>) {
    let Some(fat) = cx.fat.take() else { return };
    let mut w = Walk::new(cx.g.clusters);
    let root_start = match cx.g.root {
        Root::Chain { cluster } => cluster,
        Root::Fixed { .. } => 0,
    };
    w.nodes.push(Node {
        parent: NO_PARENT,
        name: "".into(),
        start: root_start,
        offset: 0,
        claimed: 0,
        excess: 0,
        depth: 0,
        scan: true,
    });
    let root_ok = match cx.g.root {
        Root::Fixed { .. } => true,
        Root::Chain { cluster } => claim_root(cx, &mut w, &fat, cluster),
    };
    cx.root_scanned = root_ok;
    if root_ok {
        let mut stack = vec![0u32];
        while let Some(d) = stack.pop() {
            let subdirs = scan_dir(cx, &mut w, &fat, d);
            if w.stopped {
                break;
            }
            stack.extend(subdirs.into_iter().rev());
        }
    }
    resolve_cross_links(cx, &w, &fat);
    let stamp = |x: Option<(i64, u32)>, w: &Walk| {
        x.map(|(time, i)| Stamp {
            time,
            path: w.path(i),
        })
    };
    cx.times.newest_write = stamp(w.newest_write, &w);
    cx.times.newest_create = stamp(w.newest_create, &w);
    cx.times.oldest_create = stamp(w.oldest_create, &w);
    w.usage.used_clusters = w
        .nodes
        .iter()
        .fold(0u32, |a, n| a.saturating_add(n.claimed));
    cx.usage = Some(w.usage);
    if cx.dir_unread {
        cx.stopped(
            "directory clusters could not be read: lost chains and the free count were not judged"
                .into(),
        );
    }
    cx.walk_complete = root_ok && !w.stopped && !cx.dir_unread;
    cx.owned = Some(w.owned);
    cx.fat = Some(fat);
}

/// The FAT32 root's chain, claimed first as fsck.fat does; `false` when
/// the root cannot be read at all (fsck.fat gives up there).
fn claim_root(cx: &mut Ctx<'_>, w: &mut Walk, fat: &Fat, cluster: u32) -> bool {
    let g = cx.g.clone();
    if !g.is_cluster(cluster) {
        cx.finding(
            Severity::Error,
            "fat.root.bad_cluster",
            0x2C,
            format!(
                "the root directory's first cluster is {cluster}, outside clusters 2–{}: nothing can be read from it (fsck.fat gives up: 'Bad FAT32 root directory')",
                g.max_cluster()
            ),
            Some(fsck_n()),
        );
        return false;
    }
    match fat.entry(cluster) {
        Entry::Free | Entry::Bad => {
            let what = if fat.entry(cluster) == Entry::Free {
                "free"
            } else {
                "marked bad"
            };
            cx.finding(
                Severity::Error,
                "fat.root.bad_cluster",
                g.fat_copy_start(cx.chosen).saturating_add(entry_byte(g.kind, cluster)),
                format!(
                    "the root directory's first cluster {cluster} is {what} in the FAT: the root cannot be read (fsck.fat gives up: 'FAT32 root dir starts with a bad cluster')"
                ),
                Some(fsck_n()),
            );
            return false;
        }
        _ => {}
    }
    walk_chain(cx, w, fat, 0, true, 0);
    w.start(0) != 0
}

/// Reads directory `d`, checks its entries and claims their chains;
/// returns the subdirectories to enter, in entry order.
fn scan_dir(cx: &mut Ctx<'_>, w: &mut Walk, fat: &Fat, d: u32) -> Vec<u32> {
    let slots = gather(cx, w, Some(fat), d);
    let is_root = d == 0;
    let claimed = w.node(d).map_or(0, |n| n.claimed);
    let mut cands: Vec<Cand> = Vec::new();
    let mut events: Vec<LfnEvent> = Vec::new();
    let mut lfn = LfnState::new();
    let mut moved = Vec::new();
    let mut first = 0usize;
    if !is_root && claimed > 0 {
        for (k, (off, b)) in slots.iter().take(2).enumerate() {
            if let Some(c) = handle_dot(cx, w, d, k, *off, RawEntry::parse(b)) {
                moved.push(c);
            }
        }
        first = 2;
    }
    let mut end_seen = false;
    let mut after_end: (u64, Option<u64>) = (0, None);
    for (off, b) in slots.iter().skip(first) {
        let e = RawEntry::parse(b);
        if e.is_free() {
            if e.is_end() {
                end_seen = true;
            } else if !e.is_lfn() {
                w.usage.deleted_entries = w.usage.deleted_entries.saturating_add(1);
            }
            lfn.check_orphaned(&mut events);
            continue;
        }
        if end_seen {
            after_end.0 = after_end.0.saturating_add(1);
            after_end.1.get_or_insert(*off);
        }
        if e.is_lfn() {
            lfn.add_slot(&LfnSlot::parse(b), *off, &mut events);
            continue;
        }
        let long = lfn.take(&e, *off, &mut events);
        cands.push(Cand {
            offset: *off,
            e,
            long,
        });
    }
    lfn.check_orphaned(&mut events);
    cands.extend(moved);
    let dir_path = w.path(d);
    lfn_findings(cx, &dir_path, &events);
    if let (n, Some(at)) = after_end {
        cx.finding(
            Severity::Info,
            "fat.dir.after_end",
            at,
            format!("{dir_path}: {n} entries follow the end-of-directory mark: Linux and fsck.fat read them, Windows stops at the mark and does not see them"),
            None,
        );
    }
    if is_root {
        root_label_from(cx, &slots);
    }
    check_names(cx, &dir_path, &cands, !is_root || cx.fat32());
    let mut subdirs = Vec::new();
    for c in cands {
        if w.nodes.len() >= MAX_NODES {
            cx.finding(
                Severity::Warning,
                "fat.bound.entries",
                c.offset,
                format!("the walk stopped after {MAX_NODES} entries: the rest of the tree was not checked"),
                Some(fsck_n()),
            );
            cx.stopped(format!("more than {MAX_NODES} directory entries"));
            w.stopped = true;
            break;
        }
        if let Some(i) = check_file(cx, w, fat, d, c)
            && w.node(i).is_some_and(|n| n.scan)
        {
            subdirs.push(i);
        }
    }
    subdirs
}

/// The 32-byte slots of directory `d` with their byte offsets: the fixed
/// root area, or the clusters the directory claimed (with `fat`), or —
/// for the quick check's root — its chain read entry by entry.
fn gather(cx: &mut Ctx<'_>, w: &Walk, fat: Option<&Fat>, d: u32) -> Vec<(u64, [u8; 32])> {
    let mut out = Vec::new();
    let g = cx.g.clone();
    let max_bytes = MAX_DIR_ENTRIES.saturating_mul(32);
    let push_all = |out: &mut Vec<(u64, [u8; 32])>, base: u64, bytes: &[u8]| {
        for (i, ch) in bytes.chunks_exact(ENTRY_LEN).enumerate() {
            let mut a = [0u8; 32];
            a.copy_from_slice(ch);
            out.push((base.saturating_add(u64_of(i).saturating_mul(32)), a));
        }
    };
    if d == 0
        && let Root::Fixed { start, entries } = g.root
    {
        let len = u64::from(entries).saturating_mul(32);
        match cx.reads.vec(start, len, max_bytes, "root directory") {
            Ok(b) => push_all(&mut out, start, &b),
            Err(_) => cx.dir_unread = true,
        }
        return out;
    }
    let Some(node) = w.node(d) else { return out };
    let cs = u64::from(g.cluster_size);
    let mut c = node.start;
    let mut n = node.claimed;
    let mut seen = Bitmap::new(0);
    let quick = fat.is_none();
    if quick {
        seen = Bitmap::new(g.clusters.saturating_add(2));
        n = u32::try_from(max_bytes.checked_div(cs).unwrap_or(1))
            .unwrap_or(u32::MAX)
            .max(1);
    }
    let mut read_bytes = 0u64;
    let path = w.path(d);
    while n > 0 && g.is_cluster(c) {
        if read_bytes >= max_bytes {
            cx.finding(
                Severity::Warning,
                "fat.dir.too_large",
                g.cluster_offset(c),
                format!("{path}: the directory's chain holds more than the FAT maximum of {MAX_DIR_ENTRIES} entries; the rest is not read as entries"),
                Some(fsck_n()),
            );
            break;
        }
        let at = g.cluster_offset(c);
        match cx.reads.vec(at, cs, cs, "directory cluster") {
            Ok(b) => push_all(&mut out, at, &b),
            Err(_) => cx.dir_unread = true,
        }
        read_bytes = read_bytes.saturating_add(cs);
        n = n.saturating_sub(1);
        let next = match fat {
            Some(f) => f.entry(c),
            None => {
                seen.set(c);
                direct_entry(cx, c).unwrap_or(Entry::Eoc)
            }
        };
        match next {
            Entry::Next(x) if !(quick && seen.get(x)) => c = x,
            _ => break,
        }
    }
    out
}

/// One FAT entry read straight from the chosen copy (the quick check
/// loads no FAT).
fn direct_entry(cx: &mut Ctx<'_>, c: u32) -> Option<Entry> {
    let kind = cx.g.kind;
    // From an even entry, so FAT12's packed pairs line up.
    let base = c & !1;
    let at =
        cx.g.fat_copy_start(cx.chosen)
            .saturating_add(entry_byte(kind, base));
    let mut b = [0u8; 8];
    let n = if kind == FatKind::Fat12 { 3 } else { 8 };
    cx.reads.read(at, b.get_mut(..n)?, "FAT").ok()?;
    let v = Fat::from_bytes(kind, 1, b.to_vec()).value(c.saturating_sub(base));
    Some(classify(kind, cx.g.max_cluster(), v))
}

/// The root's label entry as fsck.fat's `find_volume_de` finds it: the
/// first live entry with the volume bit that is not a long-name slot,
/// looking no further than the end-of-directory mark.
fn root_label_from(cx: &mut Ctx<'_>, slots: &[(u64, [u8; 32])]) {
    for (_, b) in slots {
        let e = RawEntry::parse(b);
        if e.is_end() {
            break;
        }
        if !e.is_free() && e.is_volume() {
            cx.root_label = Some(e.name);
            cx.times.label_written = e.written();
            break;
        }
    }
}

/// The quick check's root scan: the label entry only.
pub(super) fn root_label_only(cx: &mut Ctx<'_>) {
    let mut w = Walk::new(0);
    let start = match cx.g.root {
        Root::Chain { cluster } => cluster,
        Root::Fixed { .. } => 0,
    };
    w.nodes.push(Node {
        parent: NO_PARENT,
        name: "".into(),
        start,
        offset: 0,
        claimed: 0,
        excess: 0,
        depth: 0,
        scan: true,
    });
    if matches!(cx.g.root, Root::Chain { .. }) && !cx.g.is_cluster(start) {
        return;
    }
    let slots = gather(cx, &w, None, 0);
    cx.root_scanned = true;
    root_label_from(cx, &slots);
}

/// The first two slots of a subdirectory must be `.` (its own cluster)
/// and `..` (its parent's, 0 for the root). An entry of another name there
/// is returned, to be checked like the others (fsck.fat moves it down).
fn handle_dot(cx: &mut Ctx<'_>, w: &Walk, d: u32, k: usize, off: u64, e: RawEntry) -> Option<Cand> {
    let fat32 = cx.fat32();
    let (name, want, slot) = if k == 0 {
        (".", DOT, "first")
    } else {
        ("..", DOTDOT, "second")
    };
    let expected = if k == 0 {
        w.start(d)
    } else {
        let p = w.node(d).map_or(0, |n| n.parent);
        let s = if p == 0 || p == NO_PARENT {
            0
        } else {
            w.start(p)
        };
        if fat32 && s != 0 && (Root::Chain { cluster: s }) == cx.g.root {
            0
        } else {
            s
        }
    };
    let got = e.first_cluster(fat32);
    if e.attr & ATTR_DIR != 0 && got == expected && e.name == want {
        return None;
    }
    let path = w.path(d);
    if e.is_free() {
        cx.finding(
            Severity::Warning,
            "fat.dir.missing_dot",
            off,
            format!("{path}: the {slot} slot is free where the '{name}' entry belongs"),
            Some(repair_on_copy("fsck.fat recreates the entry")),
        );
        None
    } else if e.name == want {
        let why = if e.attr & ATTR_DIR == 0 {
            "lacks the directory attribute".to_string()
        } else {
            format!("points to cluster {got}, not {expected}")
        };
        cx.finding(
            Severity::Warning,
            "fat.dir.bad_dot",
            off,
            format!("{path}: the '{name}' entry {why}"),
            Some(repair_on_copy("fsck.fat rewrites the entry")),
        );
        None
    } else {
        cx.finding(
            Severity::Warning,
            "fat.dir.missing_dot",
            off,
            format!(
                "{path}: the {slot} slot holds '{}' where the '{name}' entry belongs",
                e.short_name()
            ),
            Some(repair_on_copy(
                "fsck.fat moves the entry down and recreates the dot entry",
            )),
        );
        (!e.is_lfn()).then_some(Cand {
            offset: off,
            e,
            long: None,
        })
    }
}

/// Long-name problems as findings, under `dir`.
fn lfn_findings(cx: &mut Ctx<'_>, dir: &str, events: &[LfnEvent]) {
    for ev in events {
        let (code, msg) = match &ev.problem {
            LfnProblem::Orphan { text } => (
                "fat.lfn.orphan",
                format!(
                    "{dir}: long-name slots \"{text}\" belong to no entry (left by a tool that deleted the short entry only)"
                ),
            ),
            LfnProblem::NewWithinOld => (
                "fat.lfn.sequence",
                format!("{dir}: a long name starts inside an unfinished one"),
            ),
            LfnProblem::Fragment { text } => (
                "fat.lfn.sequence",
                format!(
                    "{dir}: long-name fragment \"{text}\" outside any sequence (its first slot is missing)"
                ),
            ),
            LfnProblem::Sequence { got, expected } => (
                "fat.lfn.sequence",
                format!("{dir}: long-name slot number {got} where {expected} was expected"),
            ),
            LfnProblem::PartChecksum { got, expected } => (
                "fat.lfn.checksum",
                format!(
                    "{dir}: a long-name slot carries checksum {got:#04x}, its first slot {expected:#04x}"
                ),
            ),
            LfnProblem::Reserved(v) => (
                "fat.lfn.reserved",
                format!("{dir}: a long-name slot's type byte is {v:#04x}, not 0"),
            ),
            LfnProblem::StartCluster(v) => (
                "fat.lfn.reserved",
                format!("{dir}: a long-name slot's cluster field is {v:#06x}, not 0"),
            ),
            LfnProblem::Unfinished { text, short } => (
                "fat.lfn.sequence",
                format!(
                    "{dir}: the long name \"{text}\" is unfinished where entry {short} starts (its first slots were overwritten)"
                ),
            ),
            LfnProblem::Checksum { text, short } => (
                "fat.lfn.checksum",
                format!(
                    "{dir}: the long name \"{text}\" does not belong to {short} (checksum mismatch): Linux shows the short name"
                ),
            ),
        };
        let hint = if ev.problem.fsck_fixes() {
            Some(repair_on_copy("fsck.fat deletes or fixes the slots"))
        } else {
            Some(fsck_n())
        };
        cx.finding(Severity::Warning, code, ev.offset, msg, hint);
    }
}

/// fsck.fat's `bad_name`, as upstream has it since its FAT_NO_83NAME logic
/// was dropped: control bytes (0x05 allowed first), DEL, `*?<>|"\/:.`, a
/// leading space.
pub(crate) fn bad_name(name: &[u8; 11]) -> bool {
    let bad = b"*?<>|\"\\/:.";
    name.iter()
        .enumerate()
        .any(|(i, &c)| (c < 0x20 && !(i == 0 && c == 0x05)) || c == 0x7F || bad.contains(&c))
        || name[0] == b' '
}

/// Bad and duplicate short names in one directory (volume labels exempt).
fn check_names(cx: &mut Ctx<'_>, dir: &str, cands: &[Cand], count_bad: bool) {
    let sep = if dir == "/" { "" } else { "/" };
    let bad = cands.iter().filter(|c| bad_name(&c.e.name)).count();
    let good = cands.len().saturating_sub(bad);
    if count_bad && bad.saturating_add(good) > 4 && bad > good / 2 {
        cx.finding(
            Severity::Info,
            "fat.dir.mostly_bad",
            cands.first().map_or(0, |c| c.offset),
            format!("{dir}: {bad} of {} entries have bad names: this may not be a directory at all (a cluster of other data)", cands.len()),
            None,
        );
    }
    let mut seen: HashMap<[u8; 11], usize> = HashMap::new();
    for (i, c) in cands.iter().enumerate() {
        if c.e.is_volume() {
            continue;
        }
        if bad_name(&c.e.name) && !cx.is_full("fat.name.bad") {
            let shown: String =
                c.e.name
                    .iter()
                    .map(|&b| {
                        if (0x20..0x7F).contains(&b) {
                            char::from(b)
                        } else {
                            '?'
                        }
                    })
                    .collect();
            cx.finding(
                Severity::Warning,
                "fat.name.bad",
                c.offset,
                format!("{dir}{sep}: the short name \"{shown}\" has characters FAT forbids (fsck.fat renames it)"),
                Some(repair_on_copy("fsck.fat renames it FSCKnnnn")),
            );
        }
        if let Some(&j) = seen.get(&c.e.name) {
            let first = cands.get(j).map_or(0, |f| f.offset);
            cx.finding(
                Severity::Warning,
                "fat.name.duplicate",
                c.offset,
                format!("{dir}: two entries are named {} (at bytes {first} and {}): only the first is reachable by name", c.e.short_name(), c.offset),
                Some(repair_on_copy("fsck.fat renames the second")),
            );
        } else {
            seen.insert(c.e.name, i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::bad_name;

    #[test]
    fn bad_names_are_fsck_fats() {
        assert!(!bad_name(b"HELLO   TXT"));
        assert!(!bad_name(b"\x05BC     TXT"));
        assert!(!bad_name(b"lower   txt"), "fsck.fat allows lower case");
        assert!(!bad_name(b"A+B,C;D=TXT"), "fsck.fat allows these");
        assert!(bad_name(b" AME1   BIN"));
        assert!(bad_name(b"A.B     TXT"));
        assert!(bad_name(b"AB\x01     TXT"));
        assert!(bad_name(b"AB?     TXT"));
        assert!(bad_name(b".          "));
    }
}

//! Every metadata block of a filesystem, as the e2fsprogs tools name it:
//! group layout from `dumpe2fs`, inodes, their block maps, extent nodes,
//! htree nodes, xattr blocks and journal blocks from `debugfs`. Nothing
//! here parses the filesystem itself, so the enumeration is independent of
//! the checker under test.

use super::tools;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One structure to damage: `len` bytes at byte `start` of the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// What it is ("superblock", "extent index", "inode: directory", …).
    pub kind: &'static str,
    /// Byte offset in the image.
    pub start: u64,
    /// Its length in bytes.
    pub len: u64,
    /// Bytes from `start` that hold its fields (the rest is slack); most
    /// mutations land there.
    pub hot: u64,
    /// Which one ("group 3", "inode 12 logical block 4").
    pub what: String,
}

/// The metadata of one filesystem image.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// Block size.
    pub block_size: u64,
    /// Every region, sorted by kind then offset.
    pub regions: Vec<Region>,
    /// Header lines of dumpe2fs (`Field: value`).
    pub header: BTreeMap<String, String>,
}

impl Layout {
    /// The kinds present, in order.
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut k: Vec<&'static str> = self.regions.iter().map(|r| r.kind).collect();
        k.sort_unstable();
        k.dedup();
        k
    }
}

fn num(s: &str) -> Option<u64> {
    let t = s.trim().trim_end_matches(',');
    if let Some(h) = t.strip_prefix("0x") {
        return u64::from_str_radix(h, 16).ok();
    }
    t.parse().ok()
}

/// "a-b" or "a" → (a, b).
fn range(s: &str) -> Option<(u64, u64)> {
    let s = s.trim().trim_end_matches(',');
    match s.split_once('-') {
        Some((a, b)) => Some((num(a)?, num(b)?)),
        None => num(s).map(|a| (a, a)),
    }
}

/// The first number after `key` in `line`.
fn after(line: &str, key: &str) -> Option<u64> {
    let rest = &line[line.find(key)? + key.len()..];
    let tok: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || *c == 'x')
        .collect();
    num(&tok)
}

/// The first range after `key` in `line`.
fn range_after(line: &str, key: &str) -> Option<(u64, u64)> {
    let rest = &line[line.find(key)? + key.len()..];
    let tok: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || *c == 'x' || *c == '-')
        .collect();
    range(&tok)
}

/// One inode as debugfs `stat` shows it.
#[derive(Debug, Clone, Default)]
struct Stat {
    ino: u64,
    ty: String,
    flags: u64,
    file_acl: u64,
    size: u64,
    /// (label, logical first, physical first, count): label "" for data,
    /// "ETB0", "IND", … for mapping blocks.
    items: Vec<(String, u64, u64, u64)>,
}

fn parse_stats(text: &str) -> Vec<Stat> {
    let mut out: Vec<Stat> = Vec::new();
    let mut in_map = false;
    for line in text.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("Inode: ") {
            let ino = num(rest.split_whitespace().next().unwrap_or("")).unwrap_or(0);
            let ty = rest
                .split("Type: ")
                .nth(1)
                .map(|t| t.split("  ").next().unwrap_or("").trim().to_string())
                .unwrap_or_default();
            let flags = after(l, "Flags: ").unwrap_or(0);
            out.push(Stat {
                ino,
                ty,
                flags,
                ..Stat::default()
            });
            in_map = false;
            continue;
        }
        let Some(cur) = out.last_mut() else { continue };
        if l.starts_with("File ACL: ") {
            cur.file_acl = after(l, "File ACL: ").unwrap_or(0);
        } else if l.starts_with("User: ") {
            cur.size = after(l, "Size: ").unwrap_or(0);
        } else if l == "EXTENTS:" || l == "BLOCKS:" {
            in_map = true;
        } else if in_map && l.starts_with('(') {
            for item in l.split(", ") {
                let Some((lab, phys)) = item.split_once("):") else {
                    continue;
                };
                let lab = lab.trim_start_matches('(');
                let Some((p0, p1)) = range(phys) else {
                    continue;
                };
                match range(lab) {
                    Some((l0, _)) => cur.items.push((String::new(), l0, p0, p1 - p0 + 1)),
                    None => cur.items.push((lab.to_string(), 0, p0, p1 - p0 + 1)),
                }
            }
        } else if l.starts_with("TOTAL:") || l.is_empty() {
            in_map = false;
        }
    }
    out
}

/// The physical block of logical block `l` of an inode's data items.
fn phys_of(st: &Stat, l: u64) -> Option<u64> {
    st.items
        .iter()
        .filter(|(lab, ..)| lab.is_empty())
        .find(|&&(_, l0, _, n)| l >= l0 && l < l0 + n)
        .map(|&(_, l0, p0, _)| p0 + (l - l0))
}

/// Enumerates the metadata of the image at `img` with dumpe2fs and debugfs.
pub fn enumerate(img: &Path) -> Layout {
    let dump = tools::run(
        std::process::Command::new("dumpe2fs").arg(img),
        std::time::Duration::from_secs(60),
    )
    .text;
    let mut header = BTreeMap::new();
    for line in dump.lines() {
        if line.starts_with("Group 0:") {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            header.insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    let h = |k: &str| {
        header
            .get(k)
            .and_then(|v| num(v.split_whitespace().next()?))
    };
    let bs = h("Block size").unwrap_or(1024);
    let isz = h("Inode size").unwrap_or(128);
    let ipg = h("Inodes per group").unwrap_or(1);
    let first_ino = h("First inode").unwrap_or(11);
    let inodes = h("Inode count").unwrap_or(0);
    let blocks = h("Block count").unwrap_or(0);
    let bpg = h("Blocks per group").unwrap_or(8192);
    let cpg = h("Clusters per group").unwrap_or(bpg);
    let ds = h("Group descriptor size").unwrap_or(32);
    let first_data = h("First block").unwrap_or(0);
    let groups = blocks.saturating_sub(first_data).div_ceil(bpg.max(1));
    let dpb = (bs / ds.max(1)).max(1);
    let journal_ino = h("Journal inode").unwrap_or(0);
    let quota: BTreeSet<u64> = [
        "User quota inode",
        "Group quota inode",
        "Project quota inode",
    ]
    .iter()
    .filter_map(|k| h(k))
    .collect();
    let orphan_ino = h("Orphan file inode").unwrap_or(0);
    let mut regions: Vec<Region> = Vec::new();
    let push = |regions: &mut Vec<Region>, kind, start: u64, len: u64, hot: u64, what| {
        regions.push(Region {
            kind,
            start,
            len,
            hot: hot.min(len).max(1),
            what,
        });
    };
    // Groups.
    let mut g = 0u64;
    let mut itables: BTreeMap<u64, u64> = BTreeMap::new();
    let mut used_inodes: Vec<u64> = Vec::new();
    let mut free_slots: Vec<u64> = Vec::new();
    let mut gdt_index = 0u64;
    let body = dump.find("\nGroup 0:").map_or("", |i| &dump[i..]);
    for line in body.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("Group ")
            && let Some(n) = num(rest.split(':').next().unwrap_or(""))
        {
            g = n;
            continue;
        }
        if l.contains("superblock at ") {
            let sb = after(l, "superblock at ").unwrap_or(0);
            if l.starts_with("Primary") {
                // Byte 1024 whatever the block size.
                push(
                    &mut regions,
                    "superblock",
                    1024,
                    1024,
                    1024,
                    "primary".into(),
                );
            } else {
                push(
                    &mut regions,
                    "backup superblock",
                    sb * bs,
                    1024,
                    1024,
                    format!("group {g}"),
                );
            }
        }
        if let Some((a, b)) = range_after(l, "Group descriptors at ") {
            let primary = l.starts_with("Primary");
            for (i, blk) in (a..=b).enumerate() {
                let i = u64::try_from(i).unwrap();
                let used = groups.saturating_sub(i * dpb).min(dpb) * ds;
                push(
                    &mut regions,
                    if primary { "GDT" } else { "backup GDT" },
                    blk * bs,
                    bs,
                    used,
                    format!("group {g} GDT block {i}"),
                );
            }
        } else if let Some(blk) = after(l, "Group descriptor at ") {
            let meta = gdt_index;
            gdt_index += 1;
            push(
                &mut regions,
                if g.is_multiple_of(dpb) {
                    "GDT"
                } else {
                    "backup GDT"
                },
                blk * bs,
                bs,
                dpb * ds,
                format!("group {g} meta_bg descriptor block (#{meta})"),
            );
        }
        if let Some((a, b)) = range_after(l, "Reserved GDT blocks at ") {
            for blk in a..=b {
                push(
                    &mut regions,
                    if g == 0 {
                        "reserved GDT"
                    } else {
                        "backup reserved GDT"
                    },
                    blk * bs,
                    bs,
                    bs,
                    format!("group {g} block {blk}"),
                );
            }
        }
        if let Some(blk) = after(l, "Block bitmap at ") {
            push(
                &mut regions,
                "block bitmap",
                blk * bs,
                bs,
                cpg / 8,
                format!("group {g}"),
            );
        }
        if let Some(blk) = after(l, "Inode bitmap at ") {
            push(
                &mut regions,
                "inode bitmap",
                blk * bs,
                bs,
                ipg / 8,
                format!("group {g}"),
            );
        }
        if let Some((a, _)) = range_after(l, "Inode table at ") {
            itables.insert(g, a);
        }
        if let Some(rest) = l.strip_prefix("Free inodes: ") {
            let lo = g * ipg + 1;
            let hi = (g + 1) * ipg;
            let mut free = BTreeSet::new();
            for r in rest.split(", ") {
                if let Some((a, b)) = range(r) {
                    for i in a..=b.min(hi) {
                        free.insert(i);
                    }
                }
            }
            for i in lo..=hi.min(inodes) {
                if free.contains(&i) {
                    // A few free slots per group: what a damaged
                    // link count would bring to life.
                    if free_slots.len() < 64 && (i - lo).is_multiple_of(97) {
                        free_slots.push(i);
                    }
                } else {
                    used_inodes.push(i);
                }
            }
        }
        if l.starts_with("Free inodes:") && l == "Free inodes:" {
            for i in g * ipg + 1..=((g + 1) * ipg).min(inodes) {
                used_inodes.push(i);
            }
        }
    }
    let slot = |ino: u64| -> Option<u64> {
        let t = itables.get(&((ino - 1) / ipg))?;
        Some(t * bs + ((ino - 1) % ipg) * isz)
    };
    // Inodes: one debugfs run for all of them.
    let mut cmds = String::new();
    for &i in &used_inodes {
        cmds.push_str(&format!("stat <{i}>\n"));
    }
    let stats = if cmds.is_empty() {
        Vec::new()
    } else {
        parse_stats(&tools::debugfs(img, &cmds))
    };
    let mut xattr_blocks = BTreeSet::new();
    let mut htree_dirs: Vec<Stat> = Vec::new();
    let mut journal_stat = None;
    for st in &stats {
        let ino = st.ino;
        let kind = if ino == 2 {
            "inode: root"
        } else if ino == 7 {
            "inode: resize"
        } else if ino == journal_ino {
            "inode: journal"
        } else if quota.contains(&ino) {
            "inode: quota"
        } else if ino == orphan_ino {
            "inode: orphan file"
        } else if ino < first_ino {
            "inode: reserved"
        } else if st.flags & 0x20_0000 != 0 {
            "inode: EA inode"
        } else {
            match st.ty.as_str() {
                "directory" => "inode: directory",
                "regular" => "inode: regular",
                "symlink" => "inode: symlink",
                _ => "inode: special file",
            }
        };
        if let Some(off) = slot(ino) {
            push(&mut regions, kind, off, isz, isz, format!("inode {ino}"));
        }
        if st.file_acl != 0 && xattr_blocks.insert(st.file_acl) {
            push(
                &mut regions,
                "xattr block",
                st.file_acl * bs,
                bs,
                bs,
                format!("of inode {ino}"),
            );
        }
        let max_etb = st
            .items
            .iter()
            .filter_map(|(lab, ..)| lab.strip_prefix("ETB").and_then(num))
            .max();
        for (lab, l0, p0, n) in &st.items {
            if let Some(k) = lab.strip_prefix("ETB").and_then(num) {
                let kind = if Some(k) == max_etb {
                    "extent leaf"
                } else {
                    "extent index"
                };
                push(&mut regions, kind, p0 * bs, bs, bs, format!("inode {ino}"));
                continue;
            }
            if !lab.is_empty() {
                // IND / DIND / TIND.
                let kind = if ino == 7 {
                    if lab == "DIND" {
                        "resize inode DIND"
                    } else {
                        continue; // the reserved GDT blocks, listed above
                    }
                } else {
                    "indirect block"
                };
                push(
                    &mut regions,
                    kind,
                    p0 * bs,
                    bs,
                    bs,
                    format!("inode {ino} {lab}"),
                );
                continue;
            }
            if ino == 7 {
                continue; // backup reserved GDT blocks, listed above
            }
            let data_kind = if ino == journal_ino {
                Some("journal block")
            } else if quota.contains(&ino) {
                Some("quota block")
            } else if ino == orphan_ino {
                Some("orphan file block")
            } else if st.flags & 0x20_0000 != 0 {
                Some("EA inode data")
            } else if st.ty == "directory" {
                Some("directory block")
            } else if st.ty == "symlink" {
                Some("symlink block")
            } else {
                None
            };
            let Some(dk) = data_kind else { continue };
            for k in 0..(*n).min(256) {
                let logical = l0 + k;
                let kind = if dk == "directory block" && logical == 0 && st.flags & 0x1000 != 0 {
                    "htree root"
                } else if dk == "journal block" && logical == 0 {
                    "journal superblock"
                } else {
                    dk
                };
                if dk == "journal block" && kind == "journal block" {
                    continue; // the log blocks that matter come from logdump
                }
                push(
                    &mut regions,
                    kind,
                    (p0 + k) * bs,
                    bs,
                    bs,
                    format!("inode {ino} logical block {logical}"),
                );
            }
        }
        if st.ty == "directory" && st.flags & 0x1000 != 0 {
            htree_dirs.push(st.clone());
        }
        if ino == journal_ino {
            journal_stat = Some(st.clone());
        }
    }
    for &i in &free_slots {
        if let Some(off) = slot(i) {
            push(
                &mut regions,
                "inode: free slot",
                off,
                isz,
                isz,
                format!("inode {i}"),
            );
        }
    }
    // htree interior nodes: an entry followed by a node header.
    if !htree_dirs.is_empty() {
        let mut cmds = String::new();
        for st in &htree_dirs {
            cmds.push_str(&format!("htree_dump <{}>\n", st.ino));
        }
        let text = tools::debugfs(img, &cmds);
        let mut cur: Option<&Stat> = None;
        let mut pending: Option<u64> = None;
        let mut nodes = BTreeSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("debugfs: htree_dump <") {
                let ino = num(rest.trim_end_matches('>')).unwrap_or(0);
                cur = htree_dirs.iter().find(|s| s.ino == ino);
                pending = None;
                continue;
            }
            if line.starts_with("Entry #") {
                pending = after(line, ", block ");
                continue;
            }
            if line.starts_with("Number of entries (count)")
                && let (Some(l), Some(st)) = (pending.take(), cur)
                && let Some(p) = phys_of(st, l)
                && nodes.insert(p)
            {
                push(
                    &mut regions,
                    "htree node",
                    p * bs,
                    bs,
                    bs,
                    format!("inode {} logical block {l}", st.ino),
                );
            }
        }
        // Interior nodes were listed as directory blocks too.
        regions.retain(|r| r.kind != "directory block" || !nodes.contains(&(r.start / bs)));
    }
    // The journal's log: what a replay would walk.
    if let Some(js) = journal_stat {
        let text = tools::debugfs(img, "logdump\n");
        for line in text.lines() {
            let kind = if line.contains("(descriptor block)") {
                "journal descriptor"
            } else if line.contains("(commit block)") {
                "journal commit"
            } else if line.contains("(revoke table)") {
                "journal revoke"
            } else {
                continue;
            };
            if let Some(jb) = after(line, " at block ")
                && let Some(p) = phys_of(&js, jb)
            {
                push(
                    &mut regions,
                    kind,
                    p * bs,
                    bs,
                    256,
                    format!("journal block {jb}"),
                );
            }
        }
        let fc = h("Fast commit length").unwrap_or(0);
        let total = h("Total journal blocks").unwrap_or(0);
        if fc > 0 && total > fc {
            for jb in (total - fc)..(total - fc + fc.min(4)) {
                if let Some(p) = phys_of(&js, jb) {
                    push(
                        &mut regions,
                        "journal fast-commit area",
                        p * bs,
                        bs,
                        256,
                        format!("journal block {jb}"),
                    );
                }
            }
        }
    }
    if let Some(m) = h("MMP block number") {
        push(&mut regions, "MMP", m * bs, bs, 1024, format!("block {m}"));
    }
    regions.sort_by(|a, b| a.kind.cmp(b.kind).then(a.start.cmp(&b.start)));
    regions.dedup();
    Layout {
        block_size: bs,
        regions,
        header,
    }
}

//! ext2/3/4 filesystem → report node and timeline events.

use super::Options;
use crate::report::{Event, Node};
use imgcheck_core::{ReadAt, human_size};
use imgcheck_ext4::{Summary, SuperblockSource};
use serde_json::json;

/// True when `r` holds an ext2/3/4 superblock (or a damaged one imgcheck
/// should still check).
pub fn probe(r: &dyn ReadAt) -> bool {
    imgcheck_ext4::probe(r)
}

fn title(s: &Summary) -> String {
    let bs = if s.block_size >= 1024 && s.block_size.is_multiple_of(1024) {
        format!("{} KiB blocks", s.block_size >> 10)
    } else {
        format!("{}-byte blocks", s.block_size)
    };
    let mut t = format!("{}, {bs}, {}", s.kind, human_size(s.fs_bytes));
    if s.blocks_count > 0 && s.free_blocks <= s.blocks_count {
        let pct = s
            .free_blocks
            .saturating_mul(100)
            .checked_div(s.blocks_count)
            .unwrap_or(0);
        t.push_str(&format!(", {pct}% free"));
    }
    if !s.label.is_empty() {
        t.push_str(&format!(", label \"{}\"", s.label));
    }
    if s.needs_recovery {
        t.push_str(", needs journal recovery");
    }
    if s.state.contains("errors") {
        t.push_str(", kernel marked errors");
    }
    if let SuperblockSource::Backup { group, .. } = s.superblock {
        t.push_str(&format!(", using backup superblock of group {group}"));
    }
    t
}

fn events(s: &Summary, source: &str) -> Vec<Event> {
    let mut ev = Vec::new();
    let mut add = |time: Option<i64>, what: String| {
        if let Some(t) = time.filter(|&t| t > 0) {
            ev.push(Event {
                time: t,
                source: source.to_string(),
                what,
            });
        }
    };
    add(s.times.created, format!("{} filesystem created", s.kind));
    let at = s
        .last_mounted_at
        .as_deref()
        .filter(|m| !m.is_empty())
        .map_or(String::new(), |m| format!(" at {m}"));
    add(
        s.times.last_mount,
        format!("last mounted{at} (mount count {})", s.mount_count),
    );
    add(s.times.last_write, "superblock last written".to_string());
    add(s.times.last_check, "last checked by e2fsck".to_string());
    if let Some(j) = &s.journal {
        add(
            j.last_commit,
            format!(
                "last journal commit ({} transaction(s) not yet replayed)",
                j.transactions
            ),
        );
    }
    if let Some(e) = &s.errors {
        if let Some(f) = &e.first {
            add(
                Some(f.time),
                format!("first kernel error: {}", f.location()),
            );
        }
        if let Some(l) = &e.last {
            add(
                Some(l.time),
                format!("last kernel error (of {}): {}", e.count, l.location()),
            );
        }
    }
    ev
}

/// Checks the filesystem in `r`, which starts at byte `base` of the disk;
/// `source` names it for the timeline (`partition 2`).
pub fn inspect(r: &dyn ReadAt, base: u64, source: &str, opts: &Options) -> (Node, Vec<Event>) {
    let report = imgcheck_ext4::check(r, &imgcheck_ext4::Options { deep: opts.deep });
    let findings = report
        .findings
        .into_iter()
        .map(|f| f.rebased(base))
        .collect();
    let Some(s) = report.summary else {
        let mut node = Node::new("ext4", "no usable superblock");
        node.findings = findings;
        return (node, Vec::new());
    };
    let mut node = Node::new(s.kind.clone(), title(&s));
    node.findings = findings;
    let used_pct = s
        .blocks_count
        .saturating_sub(s.free_blocks)
        .saturating_mul(100)
        .checked_div(s.blocks_count)
        .unwrap_or(0);
    node.details = json!({
        "superblock": {
            "source": s.superblock,
            "kind": s.kind,
            "uuid": s.uuid,
            "label": s.label,
            "block_size": s.block_size,
            "blocks_count": s.blocks_count,
            "inodes_count": s.inodes_count,
            "inode_size": s.inode_size,
            "features": s.features,
            "state": s.state,
            "errors_behaviour": s.errors_behaviour,
            "needs_recovery": s.needs_recovery,
        },
        "groups": { "count": s.groups, "descriptors_loaded": s.group_descriptors_loaded },
        "journal": s.journal,
        "errors": s.errors,
        "usage": {
            "free_blocks": s.free_blocks,
            "reserved_blocks": s.reserved_blocks,
            "free_inodes": s.free_inodes,
            "used_percent": used_pct,
        },
        "size": { "filesystem_bytes": s.fs_bytes, "container_bytes": s.container_bytes },
        "times": {
            "created": s.times.created,
            "last_mount": s.times.last_mount,
            "last_mounted_at": s.last_mounted_at,
            "last_write": s.times.last_write,
            "last_check": s.times.last_check,
            "mount_count": s.mount_count,
            "max_mount_count": s.max_mount_count,
            "kbytes_written": s.kbytes_written,
        },
        "depth": if opts.deep { "deep" } else { "default" },
    });
    let ev = events(&s, source);
    (node, ev)
}

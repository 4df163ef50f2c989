//! ext2/3/4 as an [`Inspector`]: the filesystem's node, its facts (size,
//! which superblock it was read through, where its superblocks are) and
//! its timestamps for the timeline.

use crate::level::{self, Level};
use imgcheck_core::{
    Context, Depth, Event, Identity, IdentityKind, Inspected, Inspector, Probe, ReadAt, Role,
    Strength, Structure, SuperblockUse, human_size,
};
use imgcheck_ext4::{Summary, SuperblockSource};
use serde_json::json;
use std::sync::Arc;

/// Byte offset of the primary superblock in every ext2/3/4 filesystem.
const PRIMARY_SUPERBLOCK: u64 = 1024;
/// Length of an ext2/3/4 superblock.
const SUPERBLOCK_LEN: u64 = 1024;

/// The ext2/3/4 layer.
pub struct Ext4;

impl Inspector for Ext4 {
    fn name(&self) -> &'static str {
        "ext4"
    }

    /// A primary superblock is a filesystem's start; a backup alone (the
    /// primary unusable) is weaker evidence, and a whole filesystem of
    /// another kind at the start wins over it: another mkfs over an old
    /// ext4 leaves the ext4 backups behind.
    fn probe(&self, r: &dyn ReadAt, cx: &Context<'_>) -> Option<Probe> {
        if level::of(cx) != Level::Contents {
            return None;
        }
        if imgcheck_gpt::identify(r).is_some_and(|s| s.kind.starts_with("ext") || s.kind == "jbd") {
            return Some(Probe::new(
                Strength::Magic,
                "ext2/3/4 superblock at byte 1024",
            ));
        }
        imgcheck_ext4::probe(r).then(|| {
            Probe::new(
                Strength::Weak,
                "an ext2/3/4 superblock, but no usable primary at byte 1024",
            )
        })
    }

    fn inspect(&self, r: &Arc<dyn ReadAt>, cx: &Context<'_>) -> Inspected {
        let deep = cx.options.depth == Depth::Full;
        let report = imgcheck_ext4::check_with(
            r.as_ref(),
            &imgcheck_ext4::Options {
                depth: cx.options.depth,
            },
            &cx.options.progress,
        );
        let Some(s) = report.summary else {
            let mut node = Inspected::new("ext4", "no usable superblock");
            node.findings = report.findings;
            return node;
        };
        let mut node = Inspected::new(s.kind.clone(), title(&s));
        node.findings = report.findings;
        node.facts.owners = report.owners.map(Arc::new);
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
            "depth": if deep { "full" } else { "quick" },
        });
        node.events = events(&s);
        node.facts.claimed_size = Some(s.fs_bytes);
        node.facts.structures.push(Structure::new(
            format!("{} superblock", s.kind),
            PRIMARY_SUPERBLOCK,
            SUPERBLOCK_LEN,
            Role::Primary,
        ));
        node.facts.superblock = Some(match s.superblock {
            SuperblockSource::Primary => SuperblockUse {
                offset: PRIMARY_SUPERBLOCK,
                backup: false,
                group: None,
                block_size: s.block_size,
            },
            SuperblockSource::Backup {
                group,
                block,
                block_size,
            } => {
                let at = block.saturating_mul(block_size);
                node.facts.structures.push(Structure::new(
                    format!("backup {} superblock in group {group}", s.kind),
                    at,
                    SUPERBLOCK_LEN,
                    Role::Backup,
                ));
                // Read through a backup: what sits where the primary was?
                node.facts.overwritten_by =
                    imgcheck_gpt::image_signature(r.as_ref()).map(str::to_string);
                SuperblockUse {
                    offset: at,
                    backup: true,
                    group: Some(group),
                    block_size,
                }
            }
        });
        if !s.uuid.is_empty() {
            node.facts.identities.push(Identity {
                kind: IdentityKind::FilesystemUuid,
                value: s.uuid.clone(),
            });
        }
        node.facts.files = Some(super::files::ext4(r, &s.uuid, s.label.clone()));
        // The journal's next sequence only grows as the filesystem is
        // written: compare dates two copies of one disk by it.
        if let Some(j) = &s.journal {
            node.facts
                .counters
                .push(("ext4 journal sequence".into(), u64::from(j.sequence)));
        }
        if s.needs_recovery {
            node.facts
                .pending
                .push("the journal holds transactions to replay".into());
        }
        node
    }
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
    if let Some(label) = &s.label {
        t.push_str(&format!(", label \"{label}\""));
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

fn events(s: &Summary) -> Vec<Event> {
    let mut ev = Vec::new();
    let mut add = |time: Option<i64>, what: String| {
        if let Some(t) = time.filter(|&t| t > 0) {
            ev.push(Event::new(t, what));
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

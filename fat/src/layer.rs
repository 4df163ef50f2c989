//! What the layer adapter hands the pipeline, ready-made from a
//! [`Summary`]: the node's title, its typed facts and its timeline events.
//! The adapter (in the CLI) only calls [`crate::check`] and these.

use crate::summary::{BootSource, Summary};
use imgcheck_core::{Event, Facts, Identity, IdentityKind, SuperblockUse, human_size};

/// `FAT32, 512-byte clusters, 34 MiB, label "ESP", id 5A5A-0001`.
pub fn title(s: &Summary) -> String {
    let mut t = format!(
        "{}, {} clusters, {}",
        s.kind,
        if s.cluster_size >= 1024 && s.cluster_size.is_multiple_of(1024) {
            format!("{} KiB", s.cluster_size >> 10)
        } else {
            format!("{}-byte", s.cluster_size)
        },
        human_size(s.fs_bytes)
    );
    if let Some(u) = &s.usage
        && s.clusters > 0
    {
        let pct = u64::from(u.free_clusters)
            .saturating_mul(100)
            .checked_div(u64::from(s.clusters))
            .unwrap_or(0);
        t.push_str(&format!(", {pct}% free"));
    }
    if let Some(l) = &s.label {
        t.push_str(&format!(", label \"{l}\""));
    }
    if let Some(id) = &s.volume_id_text {
        t.push_str(&format!(", id {id}"));
    }
    if s.dirty.is_dirty() {
        t.push_str(", not cleanly unmounted");
    }
    if let BootSource::Backup { offset } = s.boot_sector {
        t.push_str(&format!(
            ", read through the backup boot sector at byte {offset}"
        ));
    }
    t
}

/// The facts of a checked FAT volume: its claimed size, sector size,
/// where its structures are (with their backups), which boot sector was
/// used, its volume id, and whether a bound stopped the check.
pub fn facts(s: &Summary) -> Facts {
    let mut f = Facts {
        claimed_size: Some(s.fs_bytes),
        sector_size: Some(u64::from(s.sector_size)),
        structures: s.structures.clone(),
        incomplete: s.incomplete.clone(),
        ..Facts::default()
    };
    f.superblock = Some(match s.boot_sector {
        BootSource::Primary => SuperblockUse {
            offset: 0,
            backup: false,
            group: None,
            block_size: u64::from(s.cluster_size),
        },
        BootSource::Backup { offset } => SuperblockUse {
            offset,
            backup: true,
            group: None,
            block_size: u64::from(s.cluster_size),
        },
    });
    if let Some(id) = &s.volume_id_text {
        f.identities.push(Identity {
            kind: IdentityKind::FilesystemUuid,
            value: id.clone(),
        });
    }
    f
}

/// Timeline events. FAT records local time with no zone; the times are
/// shown as recorded.
pub fn events(s: &Summary) -> Vec<Event> {
    let mut ev = Vec::new();
    let t = &s.times;
    if let Some(x) = t.label_written {
        ev.push(Event::new(
            x,
            "volume label entry written (mkfs or a relabel)",
        ));
    }
    if let Some(x) = &t.oldest_create {
        ev.push(Event::new(
            x.time,
            format!("oldest file created: {}", x.path),
        ));
    }
    if let Some(x) = &t.newest_create {
        ev.push(Event::new(
            x.time,
            format!("newest file created: {}", x.path),
        ));
    }
    if let Some(x) = &t.newest_write {
        ev.push(Event::new(x.time, format!("last file write: {}", x.path)));
    }
    ev
}

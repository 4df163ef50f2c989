//! Volume bytes that no input holds (an LV's extents on a missing PV)
//! mapped through the filesystems in the volume to their files.

use super::{Confidence, LossEvent, Mapped, event, hits, what_lost};
use crate::report::Node;
use imgcheck_core::{Finding, Hint, Layer, OwnerKind, Place, Space, Step, human_size};

/// The loss events of volume bytes no input holds (an LV's extents on a
/// missing PV, [`imgcheck_core::VolumeLoss`]): what the filesystems in the
/// volume kept there, by file. Offsets in the volume's bytes. Certain
/// when an input holds zeros where the PV was, likely when the PV was
/// merely not given.
pub fn volume_events(root: &Node) -> Vec<LossEvent> {
    let all = root.walk();
    let mut out = Vec::new();
    for l in all.iter().flat_map(|n| n.facts.volume_losses.iter()) {
        let Some(lv) = all.iter().find(|n| {
            n.space == Space::Volume
                && matches!(n.place.0.last(), Some(Step::Volume(v)) if *v == l.volume)
        }) else {
            continue;
        };
        // The filesystems in the volume (directly or in a partition of a
        // table in it): their bases are volume bytes. A disk image in the
        // volume (an oVirt qcow2) has a space of its own and is left out.
        let fss: Vec<Mapped<'_>> = lv
            .walk()
            .into_iter()
            .filter(|n| n.space == Space::Volume)
            .filter(|n| {
                n.place.0.iter().rev().find_map(|s| match s {
                    Step::Volume(v) => Some(v.as_str()),
                    _ => None,
                }) == Some(l.volume.as_str())
            })
            .filter_map(|n| {
                Some(Mapped {
                    base: n.base,
                    len: n.facts.claimed_size.unwrap_or(u64::MAX),
                    partition: n.place.partition(),
                    map: n.facts.owners.as_deref()?,
                })
            })
            .collect();
        let (s, e) = (l.start, l.start.saturating_add(l.len));
        let hs = hits(&fss, s, e);
        if hs.is_empty() {
            continue;
        }
        let confidence = if l.zeroed {
            Confidence::Certain
        } else {
            Confidence::Likely
        };
        let mut ev = event(s, e, confidence, vec![l.why.clone()], &hs, &fss);
        // Structures alone (a journal, a backup superblock on the lost
        // extents) are the LV's and the filesystem's own findings: what
        // this adds is the files.
        if !ev.files.iter().any(|f| {
            f.what
                .iter()
                .any(|k| matches!(k, OwnerKind::FileData | OwnerKind::Directory))
        }) {
            continue;
        }
        ev.volume = Some(l.volume.clone());
        for f in &mut ev.files {
            f.volume = Some(l.volume.clone());
        }
        out.push(ev);
    }
    out
}

/// The finding for a volume's bytes that no input holds: certain (an
/// input holds zeros where the device was) is an error, a device merely
/// not given a warning that names what it would take.
pub(super) fn volume_finding(ev: &LossEvent, volume: &str) -> Finding {
    let len = ev.end.saturating_sub(ev.start);
    let (lost, then) = match ev.confidence {
        Confidence::Certain => (
            "were on a PV that was overwritten with zeros",
            "restore the files listed (JSON \"lost\", or --lost-files FILE) from a backup; do not let vgreduce --removemissing or a repair run before copying every PV",
        ),
        Confidence::Likely | Confidence::Possible => (
            "are on a PV that was not given",
            "find the missing PV and give it with the others; if it is gone, restore the files listed (JSON \"lost\", or --lost-files FILE) from a backup",
        ),
    };
    let msg = format!(
        "LV {volume} bytes {}..{} ({}, {}) {lost}: {}",
        ev.start,
        ev.end,
        human_size(len),
        ev.evidence.join(", "),
        what_lost(ev)
    );
    let mut f = match ev.confidence {
        Confidence::Certain => Finding::error(
            "layout.lost.volume",
            Layer::LAYOUT,
            ev.start,
            Space::Volume,
            msg,
        ),
        Confidence::Likely | Confidence::Possible => Finding::warning(
            "layout.lost.volume",
            Layer::LAYOUT,
            ev.start,
            Space::Volume,
            msg,
        ),
    };
    f.place = Place::root().join(Step::Volume(volume.to_string()));
    f.with_hint(Hint::advice(then))
}

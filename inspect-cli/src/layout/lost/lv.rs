//! Zeros on the disk inside a logical volume, mapped through the LV's
//! extents on this disk's PV ([`imgcheck_core::VolumeExtent`]) to the
//! volume's bytes, and through the volume's filesystem to its files: the
//! zero map reads the disk, but an LV's filesystem maps the LV's bytes.

use super::{
    Confidence, LossEvent, Mapped, StructureBudget, events_in, what_lost,
    zeroed_structure_blocks_in,
};
use crate::report::Node;
use imgcheck_core::{
    Finding, Hint, Layer, Place, ReadAt, ReadError, ReadErrorKind, Space, Step, human_size,
};
use std::collections::BTreeMap;

/// An LV's bytes that lie on this disk, read through the disk: the
/// pieces are `(volume byte, length, disk byte)`, sorted; bytes on other
/// PVs do not read.
struct LvView<'a> {
    disk: &'a dyn ReadAt,
    pieces: Vec<(u64, u64, u64)>,
    len: u64,
}

impl LvView<'_> {
    /// Disk byte of volume byte `at` and how many follow in its piece.
    fn locate(&self, at: u64) -> Option<(u64, u64)> {
        let i = self.pieces.partition_point(|p| p.0 <= at).checked_sub(1)?;
        let &(s, n, d) = self.pieces.get(i)?;
        let within = at.checked_sub(s)?;
        (within < n).then(|| (d.saturating_add(within), n.saturating_sub(within)))
    }

    /// Disk ranges (sorted by start, disjoint) mapped to volume ranges,
    /// sorted and merged. Each piece looks up the ranges it meets: a scan
    /// of a large disk has many runs, a fragmented LV many pieces.
    fn to_volume(&self, ranges: &[(u64, u64)]) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for &(s, n, d) in &self.pieces {
            let de = d.saturating_add(n);
            let first = ranges.partition_point(|r| r.1 <= d);
            let meets = ranges.get(first..).unwrap_or(&[]);
            for &(a, b) in meets.iter().take_while(|r| r.0 < de) {
                let (lo, hi) = (a.max(d), b.min(de));
                if lo < hi {
                    let vs = s.saturating_add(lo.saturating_sub(d));
                    out.push((vs, vs.saturating_add(hi.saturating_sub(lo))));
                }
            }
        }
        super::super::merge(out)
    }
}

impl ReadAt for LvView<'_> {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let total = u64::try_from(buf.len()).unwrap_or(u64::MAX);
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset.saturating_add(u64::try_from(done).unwrap_or(u64::MAX));
            let Some((d, left)) = self.locate(pos) else {
                return Err(ReadError::new(
                    offset,
                    total,
                    ReadErrorKind::OutOfBounds { len: self.len },
                ));
            };
            let want = usize::try_from(left)
                .unwrap_or(usize::MAX)
                .min(buf.len().saturating_sub(done))
                .max(1);
            let end = done.saturating_add(want);
            let Some(chunk) = buf.get_mut(done..end) else {
                break;
            };
            self.disk.read_exact_at(d, chunk)?;
            done = end;
        }
        Ok(())
    }

    fn known_zero(&self, offset: u64, len: u64) -> bool {
        self.locate(offset)
            .is_some_and(|(d, left)| left >= len && self.disk.known_zero(d, len))
    }
}

/// The filesystems inside LV `volume` (directly or in a partition of a
/// table in it), with their bases in the volume's bytes. A disk image in
/// the volume (an oVirt qcow2) has a space of its own and is left out.
pub(super) fn volume_fss<'a>(lv: &'a Node, volume: &str) -> Vec<Mapped<'a>> {
    lv.walk()
        .into_iter()
        .filter(|n| n.space == Space::Volume)
        .filter(|n| {
            n.place.0.iter().rev().find_map(|s| match s {
                Step::Volume(v) => Some(v.as_str()),
                _ => None,
            }) == Some(volume)
        })
        .filter_map(|n| {
            Some(Mapped {
                base: n.base,
                len: n.facts.claimed_size.unwrap_or(u64::MAX),
                partition: n.place.partition(),
                map: n.facts.owners.as_deref()?,
            })
        })
        .collect()
}

/// The loss events of the disk's zero runs `runs` (disk space; `read`:
/// what the zero map read) inside the LVs whose extents lie on a PV of
/// this disk, in each LV's bytes, with the disk bytes they are at.
pub(super) fn events(
    root: &Node,
    runs: &[(u64, u64)],
    disk: &dyn ReadAt,
    read: &[(u64, u64)],
    budget: &mut StructureBudget,
) -> Vec<LossEvent> {
    let all = root.walk();
    // Each volume's pieces on this disk, from every PV node on it.
    let mut pieces: BTreeMap<&str, Vec<(u64, u64, u64)>> = BTreeMap::new();
    for n in super::super::on_disk(root) {
        for x in &n.facts.volume_extents {
            pieces.entry(x.volume.as_str()).or_default().push((
                x.start,
                x.len,
                n.base.saturating_add(x.at),
            ));
        }
    }
    let mut out = Vec::new();
    for (volume, mut p) in pieces {
        let Some(lv) = all.iter().find(|n| {
            n.space == Space::Volume
                && matches!(n.place.0.last(), Some(Step::Volume(v)) if v == volume)
        }) else {
            continue;
        };
        let fss = volume_fss(lv, volume);
        if fss.is_empty() {
            continue;
        }
        p.sort_unstable();
        let len = lv
            .facts
            .claimed_size
            .unwrap_or_else(|| p.iter().map(|x| x.0.saturating_add(x.1)).max().unwrap_or(0));
        let view = LvView {
            disk,
            pieces: p,
            len,
        };
        let mut lv_runs = view.to_volume(runs);
        // The structure blocks (and a 1 KiB block's zeros the 4 KiB zero
        // map cannot see), read through the volume.
        lv_runs.extend(zeroed_structure_blocks_in(
            &fss,
            &view,
            budget,
            (Space::Volume, Some(volume)),
        ));
        let lv_runs = super::super::merge(lv_runs);
        let lv_read = view.to_volume(&super::super::merge(read.to_vec()));
        for mut ev in events_in(&fss, &lv_runs, Some(&view), &lv_read, &[], len) {
            let Some((ds, _)) = view.locate(ev.start) else {
                continue;
            };
            let de = view
                .locate(ev.end.saturating_sub(1))
                .map_or(ds, |(d, _)| d.saturating_add(1));
            ev.volume = Some(volume.to_string());
            ev.disk = Some((ds, de));
            for f in ev.files.iter_mut().chain(ev.unreachable.iter_mut()) {
                f.volume = Some(volume.to_string());
            }
            out.push(ev);
        }
    }
    out
}

/// The finding for zeros on the disk that an LV's filesystem lost.
pub(super) fn finding(ev: &LossEvent, volume: &str, disk: (u64, u64)) -> Finding {
    let msg = format!(
        "LV {volume} bytes {}..{} ({}, at disk bytes {}..{}) are zeros ({}; evidence: {}): {}",
        ev.start,
        ev.end,
        human_size(ev.end.saturating_sub(ev.start)),
        disk.0,
        disk.1,
        match ev.confidence {
            Confidence::Certain => "certainly a loss",
            Confidence::Likely => "likely a loss",
            Confidence::Possible => "possibly a loss",
        },
        ev.evidence.join(", "),
        what_lost(ev)
    );
    let mut f = match ev.confidence {
        Confidence::Certain => {
            Finding::error("layout.lost", Layer::LAYOUT, ev.start, Space::Volume, msg)
        }
        Confidence::Likely | Confidence::Possible => {
            Finding::warning("layout.lost", Layer::LAYOUT, ev.start, Space::Volume, msg)
        }
    };
    f.place = Place::root().join(Step::Volume(volume.to_string()));
    f.with_hint(Hint::advice(
        "restore the files listed (JSON \"lost\", or --lost-files FILE) from a backup; do not run a repair before copying the image",
    ))
}

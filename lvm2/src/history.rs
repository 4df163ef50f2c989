//! Older metadata generations left in the ring buffers, as history: each
//! generation's write time, host and description (`Write from lvextend …`),
//! and what changed between consecutive ones — an LV created, extended,
//! reduced or removed, a PV added or removed — for the report's timeline.

use crate::metadata::VgMetadata;
use crate::pv::PhysicalVolume;
use imgcheck_core::Event;
use serde::Serialize;

/// Most generations kept per VG.
pub const MAX_GENERATIONS: usize = 1024;

/// One generation, summarised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GenSummary {
    /// seqno.
    pub seqno: u64,
    /// When it was written (the text's `creation_time`).
    pub time: Option<i64>,
    /// Host that wrote it.
    pub host: Option<String>,
    /// Its `description` (`Write from lvcreate …`).
    pub description: Option<String>,
    /// LV names and extent counts.
    pub lvs: Vec<(String, u64)>,
    /// PV UUIDs.
    pub pvs: Vec<String>,
}

impl GenSummary {
    fn of(v: &VgMetadata) -> GenSummary {
        GenSummary {
            seqno: v.seqno,
            time: v.creation_time,
            host: v.creation_host.clone(),
            description: v.description.clone(),
            lvs: v
                .lvs
                .iter()
                .map(|l| (l.name.clone(), l.extents()))
                .collect(),
            pvs: v.pvs.iter().map(|p| p.id.clone()).collect(),
        }
    }
}

/// What changed from one generation to the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "change")]
pub enum Change {
    /// An LV appeared.
    LvCreated {
        /// LV name.
        lv: String,
        /// Its extents then.
        extents: u64,
        /// Its own creation_time, when recorded.
        created: Option<i64>,
        /// Its creation_host.
        host: Option<String>,
    },
    /// An LV grew.
    LvExtended {
        /// LV name.
        lv: String,
        /// Extents before.
        from: u64,
        /// Extents after.
        to: u64,
    },
    /// An LV shrank.
    LvReduced {
        /// LV name.
        lv: String,
        /// Extents before.
        from: u64,
        /// Extents after.
        to: u64,
    },
    /// An LV disappeared.
    LvRemoved {
        /// LV name.
        lv: String,
    },
    /// A PV joined the VG.
    PvAdded {
        /// PV UUID.
        pv: String,
    },
    /// A PV left the VG.
    PvRemoved {
        /// PV UUID.
        pv: String,
    },
}

/// A change with the generation that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dated {
    /// The generation in which the change is first seen.
    pub seqno: u64,
    /// The seqno before it that was found (`seqno - 1` unless a
    /// generation is missing in between).
    pub after: Option<u64>,
    /// When that generation was written.
    pub time: Option<i64>,
    /// The change.
    pub change: Change,
}

/// A VG's history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct History {
    /// Generations found, by seqno (the one in use included).
    pub generations: Vec<GenSummary>,
    /// Changes between consecutive generations.
    pub changes: Vec<Dated>,
}

impl History {
    /// The history of `current`'s VG from every ring buffer of `pvs`.
    pub fn build<'a>(
        current: &VgMetadata,
        pvs: impl Iterator<Item = &'a PhysicalVolume>,
    ) -> History {
        let mut gens: Vec<GenSummary> = vec![GenSummary::of(current)];
        for p in pvs {
            for g in p.history() {
                if g.vg.id != current.id
                    || g.vg.seqno > current.seqno
                    || gens.len() >= MAX_GENERATIONS
                {
                    continue;
                }
                if !gens.iter().any(|x| x.seqno == g.vg.seqno) {
                    gens.push(GenSummary::of(&g.vg));
                }
            }
        }
        gens.sort_by_key(|g| g.seqno);
        let mut changes = Vec::new();
        let mut prev: Option<&GenSummary> = None;
        for g in &gens {
            let Some(p) = prev else {
                prev = Some(g);
                continue;
            };
            let at = |change| Dated {
                seqno: g.seqno,
                after: Some(p.seqno),
                time: g.time,
                change,
            };
            for (lv, n) in &g.lvs {
                match p.lvs.iter().find(|(x, _)| x == lv) {
                    None => {
                        let meta = if g.seqno == current.seqno {
                            current.lv(lv)
                        } else {
                            None
                        };
                        changes.push(at(Change::LvCreated {
                            lv: lv.clone(),
                            extents: *n,
                            created: meta.and_then(|m| m.creation_time),
                            host: meta.and_then(|m| m.creation_host.clone()),
                        }));
                    }
                    Some((_, m)) if m < n => changes.push(at(Change::LvExtended {
                        lv: lv.clone(),
                        from: *m,
                        to: *n,
                    })),
                    Some((_, m)) if m > n => changes.push(at(Change::LvReduced {
                        lv: lv.clone(),
                        from: *m,
                        to: *n,
                    })),
                    Some(_) => {}
                }
            }
            for (lv, _) in &p.lvs {
                if !g.lvs.iter().any(|(x, _)| x == lv) {
                    changes.push(at(Change::LvRemoved { lv: lv.clone() }));
                }
            }
            for pv in &g.pvs {
                if !p.pvs.contains(pv) {
                    changes.push(at(Change::PvAdded { pv: pv.clone() }));
                }
            }
            for pv in &p.pvs {
                if !g.pvs.contains(pv) {
                    changes.push(at(Change::PvRemoved { pv: pv.clone() }));
                }
            }
            prev = Some(g);
        }
        History {
            generations: gens,
            changes,
        }
    }

    /// The last change of LV `lv`'s size found (for "extended on … but its
    /// filesystem never grown").
    pub fn last_resize(&self, lv: &str) -> Option<&Dated> {
        self.changes.iter().rev().find(|d| {
            matches!(&d.change, Change::LvExtended { lv: l, .. } | Change::LvReduced { lv: l, .. } if l == lv)
        })
    }

    /// Timeline events: each LV's creation (its own creation_time, from
    /// the metadata in use), and each change found between generations at
    /// the time the generation recording it was written.
    pub fn events(&self, current: &VgMetadata) -> Vec<Event> {
        let vg = &current.name;
        let mut out = Vec::new();
        for lv in &current.lvs {
            if let Some(t) = lv.creation_time {
                out.push(Event::new(
                    t,
                    format!(
                        "LV {vg}/{} created{}",
                        lv.name,
                        lv.creation_host
                            .as_deref()
                            .map(|h| format!(" on {h}"))
                            .unwrap_or_default()
                    ),
                ));
            }
        }
        for d in &self.changes {
            let Some(t) = d.time else { continue };
            let what = match &d.change {
                // Creation is dated by the LV itself when it still exists.
                Change::LvCreated { lv, .. } if current.lv(lv).is_some() => continue,
                Change::LvCreated { lv, extents, .. } => {
                    format!("LV {vg}/{lv} created ({extents} extents; since removed)")
                }
                Change::LvExtended { lv, from, to } => {
                    format!("LV {vg}/{lv} extended from {from} to {to} extents")
                }
                Change::LvReduced { lv, from, to } => {
                    format!("LV {vg}/{lv} reduced from {from} to {to} extents")
                }
                Change::LvRemoved { lv } => format!("LV {vg}/{lv} removed"),
                Change::PvAdded { pv } => format!("PV {pv} added to VG {vg}"),
                Change::PvRemoved { pv } => format!("PV {pv} removed from VG {vg}"),
            };
            out.push(Event::new(
                t,
                format!("{what} (metadata seqno {})", d.seqno),
            ));
        }
        if let Some(t) = current.creation_time {
            out.push(Event::new(
                t,
                format!(
                    "VG {vg} metadata seqno {} written{}",
                    current.seqno,
                    current
                        .description
                        .as_deref()
                        .map(|d| format!(": {}", short(d)))
                        .unwrap_or_default()
                ),
            ));
        }
        out.sort();
        out
    }
}

/// A description cut to its command: lvm records the whole command line,
/// `--config` strings included.
fn short(d: &str) -> String {
    const MAX: usize = 100;
    let mut s: String = d.chars().take(MAX).collect();
    if d.chars().nth(MAX).is_some() {
        s.push('…');
    }
    s
}

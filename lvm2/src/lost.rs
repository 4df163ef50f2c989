//! Per LV and segment: which devices it uses, whether lvs calls it
//! partial, and exactly which extents are lost because a PV is missing.
//! Redundant segments (mirror, raid1, raid4/5/6) lose data only when more
//! legs are gone than they tolerate; lvs still marks them partial.

use crate::LAYER;
use crate::assemble::VgPv;
use crate::hints;
use crate::metadata::{Area, LvMeta, SegKind, Segment, VgMetadata};
use imgcheck_core::{Finding, Space, human_size};
use serde::Serialize;
use std::collections::HashMap;

/// Deepest stack of sub-LVs followed (a thin pool's data on a raid1 on
/// striped legs is 3).
pub const MAX_LV_DEPTH: usize = 8;

/// A device a segment maps onto, as `lvs -o devices` names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "on")]
pub enum Device {
    /// A PV, from extent `pe`.
    Pv {
        /// PV UUID.
        id: String,
        /// First physical extent.
        pe: u64,
        /// No input holds this PV (lvs prints `[unknown](pe)`).
        missing: bool,
    },
    /// A sub-LV, from extent `le`.
    Lv {
        /// LV name.
        name: String,
        /// First logical extent.
        le: u64,
    },
}

/// A run of an LV's logical extents whose data is lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lost {
    /// First logical extent.
    pub le: u64,
    /// Number of logical extents.
    pub count: u64,
    /// `true`: every byte of the run is lost; `false`: part of each
    /// extent (one stripe of several) is.
    pub whole: bool,
    /// The missing PV's UUID.
    pub pv: String,
}

/// A segment's state.
#[derive(Debug, Clone, Serialize)]
pub struct SegState {
    /// First logical extent.
    pub start_extent: u64,
    /// Extents.
    pub extent_count: u64,
    /// Segment type.
    pub type_name: String,
    /// Devices, as lvs lists them.
    pub devices: Vec<Device>,
    /// Stripe size in sectors of a `striped` segment of several stripes
    /// (0 otherwise): with `devices`, where each LV chunk lies.
    #[serde(skip)]
    pub stripe_size: u64,
    /// Lost runs in this segment.
    pub lost: Vec<Lost>,
}

/// An LV's state.
#[derive(Debug, Clone, Serialize)]
pub struct LvState {
    /// LV name.
    pub name: String,
    /// LV UUID.
    pub id: String,
    /// Visible (not a hidden sub-LV).
    pub visible: bool,
    /// Size in bytes (extents × extent size).
    pub size: u64,
    /// Segments.
    pub segments: Vec<SegState>,
    /// lvs' `p` attribute: a missing PV under it, through any sub-LV.
    pub partial: bool,
    /// Lost runs over the whole LV, merged.
    pub lost: Vec<Lost>,
    /// Tags (oVirt: IU_, PU_, MD_).
    pub tags: Vec<String>,
}

impl LvState {
    /// Lost extents, counting a partly lost extent once.
    pub fn lost_extents(&self) -> u64 {
        self.lost
            .iter()
            .fold(0u64, |a, l| a.saturating_add(l.count))
    }
}

/// Sub-LVs a segment stands on (lvm's `for_each_sub_lv`).
pub fn sub_lvs(seg: &Segment) -> Vec<&str> {
    let mut v: Vec<&str> = Vec::new();
    match &seg.kind {
        SegKind::Striped { areas, .. } => v.extend(areas.iter().filter_map(|a| match a {
            Area::Lv { lv, .. } => Some(lv.as_str()),
            Area::Pv { .. } => None,
        })),
        SegKind::Mirror { legs, log } => {
            v.extend(legs.iter().filter_map(|a| match a {
                Area::Lv { lv, .. } => Some(lv.as_str()),
                Area::Pv { .. } => None,
            }));
            v.extend(log.as_deref());
        }
        SegKind::Raid { images, metas, .. } => {
            v.extend(images.iter().map(String::as_str));
            v.extend(metas.iter().map(String::as_str));
        }
        SegKind::ThinPool { metadata, pool, .. } => v.extend([metadata.as_str(), pool.as_str()]),
        SegKind::Thin {
            pool,
            external_origin,
            ..
        } => {
            v.push(pool.as_str());
            v.extend(external_origin.as_deref());
        }
        SegKind::Cache {
            cache_pool, origin, ..
        } => {
            v.extend(cache_pool.as_deref());
            v.extend(origin.as_deref());
        }
        SegKind::Snapshot { .. } | SegKind::Error | SegKind::Zero | SegKind::Other => {}
    }
    v
}

struct Ctx<'a> {
    vg: &'a VgMetadata,
    pvs: &'a [VgPv],
    memo: HashMap<String, (bool, Vec<Lost>)>,
}

impl Ctx<'_> {
    fn missing_pv(&self, key: &str) -> Option<&VgPv> {
        self.pvs.iter().find(|p| p.meta.key == key && p.missing())
    }

    /// (partial, lost runs) of LV `name`.
    fn lv(&mut self, name: &str, depth: usize) -> (bool, Vec<Lost>) {
        if let Some(m) = self.memo.get(name) {
            return m.clone();
        }
        let Some(lv) = self.vg.lv(name) else {
            return (false, Vec::new());
        };
        if depth > MAX_LV_DEPTH {
            return (false, Vec::new());
        }
        // Placeholder against cycles: a name being computed reads as intact.
        self.memo.insert(name.to_owned(), (false, Vec::new()));
        let mut partial = false;
        let mut lost = Vec::new();
        for s in &lv.segments {
            let (p, l) = self.segment(s, depth);
            partial |= p;
            lost.extend(l);
        }
        let r = (partial, merge(lost));
        self.memo.insert(name.to_owned(), r.clone());
        r
    }

    /// Lost runs of sub-LV `name` within its extents `le..le+count`,
    /// moved to start at `to`.
    fn sub_range(
        &mut self,
        name: &str,
        le: u64,
        count: u64,
        to: u64,
        depth: usize,
    ) -> (bool, Vec<Lost>) {
        let (p, l) = self.lv(name, depth.saturating_add(1));
        let end = le.saturating_add(count);
        let out = l
            .into_iter()
            .filter_map(|x| {
                let a = x.le.max(le);
                let b = x.le.saturating_add(x.count).min(end);
                (a < b).then(|| Lost {
                    le: to.saturating_add(a.saturating_sub(le)),
                    count: b.saturating_sub(a),
                    whole: x.whole,
                    pv: x.pv,
                })
            })
            .collect();
        (p, out)
    }

    fn segment(&mut self, s: &Segment, depth: usize) -> (bool, Vec<Lost>) {
        let mut partial = false;
        let mut lost = Vec::new();
        let start = s.start_extent;
        let count = s.extent_count;
        match &s.kind {
            SegKind::Striped { areas, .. } => {
                let n = crate::u64_of(areas.len()).max(1);
                let per = count.checked_div(n).unwrap_or(0);
                for a in areas {
                    match a {
                        Area::Pv { pv, .. } => {
                            if let Some(m) = self.missing_pv(pv) {
                                partial = true;
                                lost.push(Lost {
                                    le: start,
                                    count,
                                    whole: n == 1,
                                    pv: m.meta.id.clone(),
                                });
                            }
                        }
                        Area::Lv { lv, le } => {
                            let (p, l) = self.sub_range(lv, *le, per, 0, depth);
                            partial |= p;
                            for x in l {
                                // A run of one stripe's extents touches every
                                // extent of the segment it interleaves with.
                                if n == 1 {
                                    lost.push(Lost {
                                        le: start.saturating_add(x.le),
                                        ..x
                                    });
                                } else {
                                    lost.push(Lost {
                                        le: start,
                                        count,
                                        whole: false,
                                        pv: x.pv,
                                    });
                                }
                            }
                        }
                    }
                }
            }
            SegKind::Mirror { legs, .. } => {
                let mut per_leg = Vec::new();
                for a in legs {
                    let (p, l) = match a {
                        Area::Lv { lv, le } => self.sub_range(lv, *le, count, start, depth),
                        Area::Pv { pv, .. } => match self.missing_pv(pv) {
                            Some(m) => (
                                true,
                                vec![Lost {
                                    le: start,
                                    count,
                                    whole: true,
                                    pv: m.meta.id.clone(),
                                }],
                            ),
                            None => (false, Vec::new()),
                        },
                    };
                    partial |= p;
                    per_leg.push(l);
                }
                lost = lost_beyond(per_leg, 0, start, count);
            }
            SegKind::Raid {
                level,
                images,
                metas,
                ..
            } => {
                let mut per_leg = Vec::new();
                for img in images {
                    let (p, l) = self.sub_range(img, 0, count, start, depth);
                    partial |= p;
                    per_leg.push(l);
                }
                for m in metas {
                    partial |= self.lv(m, depth.saturating_add(1)).0;
                }
                let tolerated = match level.as_str() {
                    "raid1" | "raid10" => images.len().saturating_sub(1),
                    l if l.starts_with("raid4") || l.starts_with("raid5") => 1,
                    l if l.starts_with("raid6") => 2,
                    _ => 0,
                };
                lost = lost_beyond(per_leg, tolerated, start, count);
            }
            SegKind::Snapshot { .. } | SegKind::Error | SegKind::Zero | SegKind::Other => {}
            SegKind::ThinPool { .. } | SegKind::Thin { .. } | SegKind::Cache { .. } => {
                for sub in sub_lvs(s) {
                    let (p, l) = self.lv(sub, depth.saturating_add(1));
                    partial |= p;
                    if let Some(x) = l.into_iter().next() {
                        // Which blocks of a pool user are lost depends on the
                        // pool's mapping: the whole range is suspect.
                        lost.push(Lost {
                            le: start,
                            count,
                            whole: false,
                            pv: x.pv,
                        });
                    }
                }
            }
        }
        (partial, lost)
    }
}

/// Runs lost on more legs than `tolerated`: with one leg per run list,
/// the extents where more than `tolerated` lists overlap.
fn lost_beyond(per_leg: Vec<Vec<Lost>>, tolerated: usize, start: u64, count: u64) -> Vec<Lost> {
    let hit: Vec<&Vec<Lost>> = per_leg.iter().filter(|l| !l.is_empty()).collect();
    if hit.len() <= tolerated {
        return Vec::new();
    }
    // Sweep over extent boundaries; few runs per leg, so quadratic is fine.
    let mut cuts: Vec<u64> = vec![start, start.saturating_add(count)];
    for l in &hit {
        for x in l.iter() {
            cuts.push(x.le);
            cuts.push(x.le.saturating_add(x.count));
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = Vec::new();
    for w in cuts.windows(2) {
        let [a, b] = [
            w.first().copied().unwrap_or(0),
            w.get(1).copied().unwrap_or(0),
        ];
        let covering: Vec<&Lost> = hit
            .iter()
            .filter_map(|l| {
                l.iter()
                    .find(|x| x.le <= a && x.le.saturating_add(x.count) >= b)
            })
            .collect();
        if covering.len() > tolerated
            && a < b
            && let Some(first) = covering.first()
        {
            out.push(Lost {
                le: a,
                count: b.saturating_sub(a),
                whole: covering.iter().all(|x| x.whole),
                pv: first.pv.clone(),
            });
        }
    }
    merge(out)
}

/// Sorted, adjacent runs of the same PV and kind merged.
fn merge(mut v: Vec<Lost>) -> Vec<Lost> {
    v.sort_by(|a, b| (a.le, &a.pv).cmp(&(b.le, &b.pv)));
    let mut out: Vec<Lost> = Vec::new();
    for x in v {
        if let Some(last) = out.last_mut() {
            let end = last.le.saturating_add(last.count);
            if last.pv == x.pv && last.whole == x.whole && x.le <= end {
                last.count = end
                    .max(x.le.saturating_add(x.count))
                    .saturating_sub(last.le);
                continue;
            }
        }
        out.push(x);
    }
    out
}

fn devices(pvs: &[VgPv], s: &Segment) -> Vec<Device> {
    let area = |a: &Area| match a {
        Area::Pv { pv, pe } => {
            let slot = pvs.iter().find(|p| &p.meta.key == pv);
            Device::Pv {
                id: slot.map_or_else(|| pv.clone(), |p| p.meta.id.clone()),
                pe: *pe,
                missing: slot.is_none_or(VgPv::missing),
            }
        }
        Area::Lv { lv, le } => Device::Lv {
            name: lv.clone(),
            le: *le,
        },
    };
    match &s.kind {
        SegKind::Striped { areas, .. } => areas.iter().map(area).collect(),
        SegKind::Mirror { legs, .. } => legs.iter().map(area).collect(),
        SegKind::Raid { images, .. } => images
            .iter()
            .map(|i| Device::Lv {
                name: i.clone(),
                le: 0,
            })
            .collect(),
        SegKind::ThinPool { pool, .. } => vec![Device::Lv {
            name: pool.clone(),
            le: 0,
        }],
        _ => Vec::new(),
    }
}

/// lvm's `lv_is_visible`: a snapshot's COW LV is as visible as its
/// origin (lvm drops VISIBLE from the COW LV in the text), the internal
/// `snapshotN` never is.
fn visible(vg: &VgMetadata, lv: &LvMeta) -> bool {
    let origin_of_cow = vg
        .lvs
        .iter()
        .flat_map(|l| l.segments.iter())
        .find_map(|s| match &s.kind {
            SegKind::Snapshot {
                origin, cow_store, ..
            } if cow_store == &lv.name => Some(origin.as_str()),
            _ => None,
        });
    match origin_of_cow {
        Some(o) => vg.lv(o).is_some_and(LvMeta::visible),
        None => {
            lv.visible()
                && !lv
                    .segments
                    .iter()
                    .any(|s| matches!(s.kind, SegKind::Snapshot { .. }))
        }
    }
}

/// Every LV's state.
pub fn lv_states(vg: &VgMetadata, pvs: &[VgPv]) -> Vec<LvState> {
    let mut cx = Ctx {
        vg,
        pvs,
        memo: HashMap::new(),
    };
    vg.lvs
        .iter()
        .map(|lv: &LvMeta| {
            let (partial, lost) = cx.lv(&lv.name, 0);
            let segments = lv
                .segments
                .iter()
                .map(|s| {
                    let (_, l) = cx.segment(s, 0);
                    SegState {
                        start_extent: s.start_extent,
                        extent_count: s.extent_count,
                        type_name: s.type_name.clone(),
                        devices: devices(pvs, s),
                        stripe_size: match &s.kind {
                            SegKind::Striped { stripe_size, .. } => *stripe_size,
                            _ => 0,
                        },
                        lost: merge(l),
                    }
                })
                .collect();
            LvState {
                name: lv.name.clone(),
                id: lv.id.clone(),
                visible: visible(vg, lv),
                size: lv.extents().saturating_mul(vg.extent_bytes()),
                segments,
                partial,
                lost,
                tags: lv.tags.clone(),
            }
        })
        .collect()
}

/// The findings about one LV's lost or degraded extents.
pub fn findings(vg: &VgMetadata, lv: &LvState) -> Vec<Finding> {
    let ext = vg.extent_bytes();
    let mut out = Vec::new();
    if !lv.lost.is_empty() {
        let runs: Vec<String> = lv
            .lost
            .iter()
            .map(|l| {
                let last = l.le.saturating_add(l.count).saturating_sub(1);
                format!(
                    "extents {}-{}{} on PV {}",
                    l.le,
                    last,
                    if l.whole {
                        ""
                    } else {
                        " (partly: one stripe or pool blocks)"
                    },
                    l.pv
                )
            })
            .collect();
        let n = lv.lost_extents();
        let first = lv.lost.first().map_or(0, |l| l.le.saturating_mul(ext));
        out.push(
            Finding::error(
                "lvm2.lv.partial",
                LAYER,
                first,
                Space::Volume,
                format!(
                    "LV {}/{} lost {} of {} ({} of {} extents) on missing PVs: {}; reads there fail, the rest survives",
                    vg.name,
                    lv.name,
                    human_size(n.saturating_mul(ext)),
                    human_size(lv.size),
                    n,
                    lv.size.checked_div(ext).unwrap_or(0),
                    runs.join(", ")
                ),
            )
            .with_hint(hints::activate_partial(vg)),
        );
    } else if lv.partial {
        out.push(
            Finding::warning(
                "lvm2.lv.degraded",
                LAYER,
                0,
                Space::Volume,
                format!(
                    "LV {}/{} is partial (a sub-LV lost a PV) but its redundancy still covers every extent",
                    vg.name, lv.name
                ),
            )
            .with_hint(hints::lvs_devices(&vg.name)),
        );
    }
    out
}

//! LVs as readers, as device-mapper would map them: linear and striped
//! segments onto PV extents, mirror and raid1 segments through one leg
//! whose extents all survive, raid0 over its images, a snapshot's view
//! through its COW store, thin LVs through the pool's metadata. Extents on
//! a missing PV read as a typed [`ReadErrorKind::Layer`] error naming the
//! PV and the extents, never as zeros.

use crate::assemble::VolumeGroup;
use crate::lost::MAX_LV_DEPTH;
use crate::metadata::{Area, SECTOR, SegKind};
use crate::{snapshot, thin};
use imgcheck_core::{ReadAt, ReadError, ReadErrorKind};
use serde::Serialize;
use std::sync::Arc;

/// Why an LV has no reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    /// A thin LV whose pool metadata could not be used.
    Thin,
    /// A segment type imgcheck does not map (raid5, vdo, writeback cache…).
    Unsupported,
    /// A snapshot whose COW store is invalid or unreadable.
    Snapshot,
    /// The metadata is inconsistent (an unknown sub-LV, a cycle).
    Invalid,
    /// Sub-LVs nest deeper than [`MAX_LV_DEPTH`].
    TooDeep,
    /// An LV that is not itself read: a thin pool (its thin LVs are), the
    /// hidden `snapshotN` of an old-style snapshot (its COW LV is).
    Internal,
}

/// An LV that is not mapped, and why, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotMapped {
    /// The reason, typed.
    pub why: Why,
    /// The reason, in words (`thin LV: not mapped: pool metadata superblock checksum`).
    pub message: String,
}

/// What [`VolumeGroup::open`] gives.
pub enum Opened {
    /// The LV's bytes.
    Mapped(Arc<dyn ReadAt>),
    /// No reader.
    NotMapped(NotMapped),
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Opened::Mapped(r) => write!(f, "Mapped({} bytes)", r.len()),
            Opened::NotMapped(n) => write!(f, "NotMapped({n:?})"),
        }
    }
}

fn not(why: Why, message: impl Into<String>) -> NotMapped {
    NotMapped {
        why,
        message: message.into(),
    }
}

/// Where the bytes of one area come from.
#[derive(Clone)]
enum Src {
    /// A reader (PV or sub-LV), from byte `base`.
    At(Arc<dyn ReadAt>, u64),
    /// The PV is missing: reads fail with this text.
    Missing(String),
}

#[derive(Clone)]
enum Map {
    /// `areas.len()` stripes of `stripe` bytes (one area: linear).
    Stripes {
        stripe: u64,
        areas: Vec<Src>,
    },
    Zero,
    Error,
    /// A whole view (thin, snapshot) read from `base` on.
    View(Arc<dyn ReadAt>),
}

#[derive(Clone)]
struct Piece {
    start: u64,
    len: u64,
    map: Map,
}

/// Where a position of an LV is: its source and offset there (`None`:
/// no source), how many bytes follow contiguously, whether they are zeros.
type Located<'a> = (Option<(&'a Arc<dyn ReadAt>, u64)>, u64, bool);

/// An LV's bytes, segment by segment.
pub struct LvReader {
    name: String,
    extent: u64,
    len: u64,
    pieces: Vec<Piece>,
}

impl std::fmt::Debug for LvReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LvReader")
            .field("name", &self.name)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl LvReader {
    fn piece(&self, pos: u64) -> Option<&Piece> {
        let i = self
            .pieces
            .partition_point(|p| p.start <= pos)
            .checked_sub(1)?;
        self.pieces
            .get(i)
            .filter(|p| pos < p.start.saturating_add(p.len))
    }

    /// Source, offset in it and bytes available at `pos`.
    fn locate(&self, pos: u64) -> Result<Located<'_>, String> {
        let p = self
            .piece(pos)
            .ok_or_else(|| format!("{}: no segment covers byte {pos}", self.name))?;
        let within = pos.saturating_sub(p.start);
        let left = p.len.saturating_sub(within);
        match &p.map {
            Map::Zero => Ok((None, left, true)),
            Map::Error => Err(format!("{}: byte {pos} is in an error segment", self.name)),
            Map::View(r) => Ok((Some((r, within)), left, false)),
            Map::Stripes { stripe, areas } => {
                let n = crate::u64_of(areas.len());
                let (area, at, run) = if n <= 1 {
                    (areas.first(), within, left)
                } else {
                    let k = within.checked_div(*stripe).unwrap_or(0);
                    let off = within.checked_rem(*stripe).unwrap_or(0);
                    let idx = usize::try_from(k.checked_rem(n).unwrap_or(0)).unwrap_or(0);
                    let row = k.checked_div(n).unwrap_or(0);
                    (
                        areas.get(idx),
                        row.saturating_mul(*stripe).saturating_add(off),
                        stripe.saturating_sub(off).min(left),
                    )
                };
                match area {
                    Some(Src::At(r, base)) => Ok((Some((r, base.saturating_add(at))), run, false)),
                    Some(Src::Missing(why)) => {
                        let le = pos.checked_div(self.extent).unwrap_or(0);
                        Err(format!("{}: extent {le} (byte {pos}) {why}", self.name))
                    }
                    None => Err(format!("{}: segment without areas", self.name)),
                }
            }
        }
    }
}

impl ReadAt for LvReader {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let total = crate::u64_of(buf.len());
        if offset.checked_add(total).is_none_or(|e| e > self.len) {
            return Err(ReadError::new(
                offset,
                total,
                ReadErrorKind::OutOfBounds { len: self.len },
            ));
        }
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset.saturating_add(crate::u64_of(done));
            let (src, run, zero) = self
                .locate(pos)
                .map_err(|m| ReadError::new(offset, total, ReadErrorKind::Layer(m)))?;
            let want = usize::try_from(run)
                .unwrap_or(usize::MAX)
                .min(buf.len().saturating_sub(done))
                .max(1);
            let end = done.saturating_add(want);
            let Some(chunk) = buf.get_mut(done..end) else {
                break;
            };
            match src {
                None if zero => chunk.fill(0),
                None => {}
                Some((r, at)) => r.read_exact_at(at, chunk).map_err(|mut e| {
                    e.offset = pos;
                    e
                })?,
            }
            done = end;
        }
        Ok(())
    }

    fn known_zero(&self, offset: u64, len: u64) -> bool {
        let Ok((src, run, zero)) = self.locate(offset) else {
            return false;
        };
        if run < len {
            return false;
        }
        match src {
            None => zero,
            // `run` ends at the stripe chunk: within it the source is contiguous.
            Some((r, at)) => r.known_zero(at, len),
        }
    }
}

impl VolumeGroup {
    /// A reader of LV `name`'s bytes, as the kernel would present
    /// `/dev/VG/LV`, or why there is none.
    pub fn open(&self, name: &str) -> Opened {
        match self.open_at(name, 0) {
            Ok(r) => Opened::Mapped(r),
            Err(n) => Opened::NotMapped(n),
        }
    }

    pub(crate) fn open_at(&self, name: &str, depth: usize) -> Result<Arc<dyn ReadAt>, NotMapped> {
        if depth > MAX_LV_DEPTH {
            return Err(not(
                Why::TooDeep,
                format!("LV {name}: sub-LVs nest deeper than {MAX_LV_DEPTH}"),
            ));
        }
        let vg = &self.metadata;
        if vg.lv(name).is_none() {
            return Err(not(
                Why::Invalid,
                format!("LV {name} is not in the metadata"),
            ));
        }
        // The visible COW LV of an old-style snapshot shows the snapshot.
        if let Some((origin, chunk)) =
            vg.lvs
                .iter()
                .flat_map(|l| l.segments.iter())
                .find_map(|s| match &s.kind {
                    SegKind::Snapshot {
                        origin,
                        cow_store,
                        chunk_size,
                        ..
                    } if cow_store == name => Some((origin.clone(), *chunk_size)),
                    _ => None,
                })
        {
            let o = self.open_at(&origin, depth.saturating_add(1))?;
            let cow = self.open_raw(name, depth.saturating_add(1))?;
            return snapshot::SnapshotView::open(o, cow, chunk.saturating_mul(SECTOR))
                .map(|v| -> Arc<dyn ReadAt> { Arc::new(v) })
                .map_err(|m| not(Why::Snapshot, format!("snapshot {name}: {m}")));
        }
        self.open_raw(name, depth)
    }

    /// The LV's own segments, without the snapshot view.
    fn open_raw(&self, name: &str, depth: usize) -> Result<Arc<dyn ReadAt>, NotMapped> {
        let vg = &self.metadata;
        let ext = vg.extent_bytes();
        let lv = vg
            .lv(name)
            .ok_or_else(|| not(Why::Invalid, format!("LV {name} is not in the metadata")))?;
        let mut pieces = Vec::with_capacity(lv.segments.len());
        for s in &lv.segments {
            let start = s.start_extent.saturating_mul(ext);
            let len = s.extent_count.saturating_mul(ext);
            let map = match &s.kind {
                SegKind::Striped { stripe_size, areas } => {
                    let n = crate::u64_of(areas.len()).max(1);
                    let per = s.extent_count.checked_div(n).unwrap_or(0);
                    let srcs = areas
                        .iter()
                        .map(|a| self.area_src(a, per, depth))
                        .collect::<Result<Vec<_>, _>>()?;
                    Map::Stripes {
                        stripe: stripe_size.saturating_mul(SECTOR).max(SECTOR),
                        areas: srcs,
                    }
                }
                SegKind::Mirror { legs, .. } => Map::Stripes {
                    stripe: len,
                    areas: vec![self.healthy_leg(legs, s.extent_count, depth)?],
                },
                SegKind::Raid {
                    level,
                    images,
                    stripe_size,
                    ..
                } => {
                    let as_areas: Vec<Area> = images
                        .iter()
                        .map(|i| Area::Lv {
                            lv: i.clone(),
                            le: 0,
                        })
                        .collect();
                    if level == "raid1" {
                        Map::Stripes {
                            stripe: len,
                            areas: vec![self.healthy_leg(&as_areas, s.extent_count, depth)?],
                        }
                    } else if level == "raid0" || level == "raid0_meta" {
                        let per = s
                            .extent_count
                            .checked_div(crate::u64_of(images.len()))
                            .unwrap_or(0);
                        let srcs = as_areas
                            .iter()
                            .map(|a| self.area_src(a, per, depth))
                            .collect::<Result<Vec<_>, _>>()?;
                        Map::Stripes {
                            stripe: stripe_size.saturating_mul(SECTOR).max(SECTOR),
                            areas: srcs,
                        }
                    } else {
                        return Err(not(
                            Why::Unsupported,
                            format!(
                                "LV {name}: {level} (parity or near-copy layout) is not mapped"
                            ),
                        ));
                    }
                }
                SegKind::Thin {
                    pool, device_id, ..
                } => {
                    let p = self.thin_pool(pool, depth).map_err(|n| {
                        not(
                            Why::Thin,
                            format!("thin LV {name}: not mapped: {}", n.message),
                        )
                    })?;
                    Map::View(Arc::new(
                        thin::ThinDevice::open(p, *device_id, lv.extents().saturating_mul(ext))
                            .map_err(|m| {
                                not(Why::Thin, format!("thin LV {name}: not mapped: {m}"))
                            })?,
                    ))
                }
                SegKind::Cache {
                    origin: Some(o),
                    mode,
                    ..
                } if matches!(mode.as_deref(), Some("writethrough" | "passthrough")) => {
                    Map::View(self.open_at(o, depth.saturating_add(1))?)
                }
                SegKind::Zero => Map::Zero,
                SegKind::Error => Map::Error,
                SegKind::Snapshot { .. } | SegKind::ThinPool { .. } => {
                    return Err(not(
                        Why::Internal,
                        format!(
                            "LV {name}: a {} is read through the LVs that use it",
                            s.type_name
                        ),
                    ));
                }
                SegKind::Cache { .. } | SegKind::Other => {
                    return Err(not(
                        Why::Unsupported,
                        format!("LV {name}: segment type {} is not mapped", s.type_name),
                    ));
                }
            };
            pieces.push(Piece { start, len, map });
        }
        Ok(Arc::new(LvReader {
            name: format!("{}/{name}", vg.name),
            extent: ext,
            len: lv.extents().saturating_mul(ext),
            pieces,
        }))
    }

    fn area_src(&self, a: &Area, per: u64, depth: usize) -> Result<Src, NotMapped> {
        let vg = &self.metadata;
        let ext = vg.extent_bytes();
        match a {
            Area::Pv { pv, pe } => {
                let m = vg
                    .pv(pv)
                    .ok_or_else(|| not(Why::Invalid, format!("PV {pv} is not in the metadata")))?;
                match self.pv_reader(pv) {
                    Some(r) => Ok(Src::At(
                        r.clone(),
                        m.pe_start
                            .saturating_mul(SECTOR)
                            .saturating_add(pe.saturating_mul(ext)),
                    )),
                    None => Ok(Src::Missing(format!(
                        "is on missing PV {} (its extents {pe}-{})",
                        m.id,
                        pe.saturating_add(per).saturating_sub(1)
                    ))),
                }
            }
            Area::Lv { lv, le } => Ok(Src::At(
                self.open_at(lv, depth.saturating_add(1))?,
                le.saturating_mul(ext),
            )),
        }
    }

    /// The first leg whose extents in the range all survive.
    fn healthy_leg(&self, legs: &[Area], count: u64, depth: usize) -> Result<Src, NotMapped> {
        let mut last = None;
        for a in legs {
            let intact = match a {
                Area::Lv { lv, le } => self.lv(lv).is_some_and(|s| {
                    s.lost.iter().all(|x| {
                        x.le.saturating_add(x.count) <= *le || x.le >= le.saturating_add(count)
                    })
                }),
                Area::Pv { pv, .. } => self.pv_reader(pv).is_some(),
            };
            let src = self.area_src(a, count, depth)?;
            if intact {
                return Ok(src);
            }
            last = Some(src);
        }
        last.ok_or_else(|| not(Why::Invalid, "a mirror segment without legs"))
    }

    fn thin_pool(&self, pool: &str, depth: usize) -> Result<Arc<thin::ThinPool>, NotMapped> {
        let vg = &self.metadata;
        let p = vg.lv(pool).ok_or_else(|| {
            not(
                Why::Invalid,
                format!("thin pool {pool} is not in the metadata"),
            )
        })?;
        let Some((metadata, data, chunk, txid)) = p.segments.iter().find_map(|s| match &s.kind {
            SegKind::ThinPool {
                metadata,
                pool,
                chunk_size,
                transaction_id,
            } => Some((metadata.clone(), pool.clone(), *chunk_size, *transaction_id)),
            _ => None,
        }) else {
            return Err(not(Why::Invalid, format!("{pool} is not a thin pool")));
        };
        let meta = self.open_at(&metadata, depth.saturating_add(1))?;
        let data = self.open_at(&data, depth.saturating_add(1))?;
        thin::ThinPool::open(meta, data, chunk.saturating_mul(SECTOR), txid)
            .map(Arc::new)
            .map_err(|m| not(Why::Thin, format!("thin pool {pool}: not mapped: {m}")))
    }
}

/// Findings about the pools and snapshots of `vg` that only opening them
/// shows: a thin pool whose metadata cannot be used (its thin LVs are not
/// mapped), a transaction id that disagrees with LVM's, a COW store that
/// is invalid.
pub fn pool_findings(vg: &VolumeGroup) -> Vec<crate::assemble::Located> {
    use imgcheck_core::{Finding, Space};
    let mut out = Vec::new();
    let push = |out: &mut Vec<crate::assemble::Located>, lv: &str, f: Finding| {
        out.push(crate::assemble::Located {
            input: None,
            lv: Some(lv.to_owned()),
            finding: f,
        });
    };
    for lv in &vg.metadata.lvs {
        for s in &lv.segments {
            match &s.kind {
                SegKind::ThinPool { .. } => {
                    if vg.lv(&lv.name).is_some_and(|l| !l.lost.is_empty()) {
                        continue;
                    }
                    match vg.thin_pool(&lv.name, 0) {
                        Err(n) => push(
                            &mut out,
                            &lv.name,
                            Finding::error("lvm2.thin.metadata", crate::LAYER, 0, Space::Volume, n.message)
                                .with_hint(imgcheck_core::Hint::read_only("thin_check {dev}").because("run on the pool's _tmeta LV (activate it alone with lvchange -ay on a copy)")),
                        ),
                        Ok(p) if p.sb.trans_id != p.lvm_transaction_id => push(
                            &mut out,
                            &lv.name,
                            Finding::warning(
                                "lvm2.thin.transaction_id",
                                crate::LAYER,
                                48,
                                Space::Volume,
                                format!(
                                    "thin pool {}/{}: the pool metadata's transaction id is {}, LVM's is {}: the last change reached one and not the other",
                                    vg.metadata.name, lv.name, p.sb.trans_id, p.lvm_transaction_id
                                ),
                            ),
                        ),
                        Ok(_) => {}
                    }
                }
                SegKind::Snapshot { cow_store, .. } => {
                    if vg.lv(cow_store).is_some_and(|l| !l.lost.is_empty()) {
                        continue;
                    }
                    if let Opened::NotMapped(n) = vg.open(cow_store)
                        && n.why == Why::Snapshot
                    {
                        push(
                            &mut out,
                            cow_store,
                            Finding::error(
                                "lvm2.snapshot.cow",
                                crate::LAYER,
                                0,
                                Space::Volume,
                                n.message,
                            ),
                        );
                    }
                }
                _ => {}
            }
        }
    }
    out
}

//! Layout checks on the metadata in use, against each PV found: extents
//! past a PV's end, segments that overlap on a PV or leave gaps in an LV,
//! areas naming unknown PVs or LVs, pe_start and pe_count that do not fit
//! the recorded device size, and a container too short for the extents.

use crate::LAYER;
use crate::assemble::{InputState, VgPv};
use crate::hints;
use crate::metadata::{Area, SECTOR, SegKind, VgMetadata};
use imgcheck_core::bytes::u64_of;
use imgcheck_core::{Finding, Space, human_size};

/// Most findings of one kind before the rest are only counted (the
/// pipeline's sink caps too; this bounds the work).
const MAX_PER_CHECK: usize = 64;

/// Layout findings, each with the input its offset is in (`None`: the
/// VG as a whole, offset 0).
pub fn layout(
    vg: &VgMetadata,
    pvs: &[VgPv],
    inputs: &[InputState],
) -> Vec<(Option<usize>, Finding)> {
    let mut out: Vec<(Option<usize>, Finding)> = Vec::new();
    let ext = vg.extent_bytes();
    let input_of = |key: &str| {
        pvs.iter()
            .find(|p| p.meta.key == key)
            .and_then(|p| p.found.as_ref().map(|f| f.0))
    };
    // PV geometry.
    for p in pvs {
        let m = &p.meta;
        let input = p.found.as_ref().map(|f| f.0);
        let pe_start = m.pe_start.saturating_mul(SECTOR);
        let need = pe_start.saturating_add(m.pe_count.saturating_mul(ext));
        let dev = p.dev_size_bytes();
        if m.dev_size != 0 && need > dev {
            out.push((
                input,
                Finding::error(
                    "lvm2.pv.extents_past_device",
                    LAYER,
                    pe_start,
                    Space::Disk,
                    format!(
                        "PV {}: pe_start {} + {} extents of {} end at byte {need}, past the recorded device size of {dev} bytes",
                        m.id, m.pe_start, m.pe_count, human_size(ext)
                    ),
                )
                .with_hint(hints::pvs()),
            ));
        }
        let Some(i) = input else { continue };
        let Some(st) = inputs.get(i) else { continue };
        if need > st.len {
            let first_lost = st
                .len
                .saturating_sub(pe_start)
                .checked_div(ext)
                .unwrap_or(0);
            out.push((
                Some(i),
                Finding::error(
                    "lvm2.pv.container_short",
                    LAYER,
                    st.len,
                    Space::Disk,
                    format!(
                        "PV {}: the container holds {} ({} bytes) but the PV's {} extents need {} ({need} bytes): extents from {first_lost} on are cut off",
                        m.id, human_size(st.len), st.len, m.pe_count, human_size(need)
                    ),
                )
                .with_hint(hints::pvs()),
            ));
        }
        if let Some(h) = st.pv.as_ref().and_then(|p| p.label.header.as_ref()) {
            if m.dev_size != 0 && h.device_size != dev {
                out.push((
                    Some(i),
                    Finding::warning(
                        "lvm2.pv.dev_size_mismatch",
                        LAYER,
                        512,
                        Space::Disk,
                        format!(
                            "PV {}: the PV header says {} bytes, the VG metadata dev_size says {dev} bytes",
                            m.id, h.device_size
                        ),
                    ),
                ));
            }
            if let Some(d) = h.data_areas.first()
                && d.offset != pe_start
            {
                out.push((
                        Some(i),
                        Finding::warning(
                            "lvm2.pv.pe_start_mismatch",
                            LAYER,
                            512,
                            Space::Disk,
                            format!("PV {}: data area at byte {} in the PV header, pe_start at byte {pe_start} in the VG metadata", m.id, d.offset),
                        ),
                    ));
            }
        }
    }
    // Areas: past the PV's end, unknown names, overlaps.
    let mut used: Vec<(String, u64, u64, String)> = Vec::new();
    let mut past = 0usize;
    for lv in &vg.lvs {
        let mut expect = 0u64;
        for s in &lv.segments {
            if s.start_extent != expect {
                out.push((
                    None,
                    Finding::error(
                        "lvm2.segment.gap",
                        LAYER,
                        0,
                        Space::Disk,
                        format!(
                            "LV {}/{}: a segment starts at extent {}, the previous one ended at {expect}: LV extents must be contiguous",
                            vg.name, lv.name, s.start_extent
                        ),
                    )
                    .with_hint(hints::vgck(&vg.name)),
                ));
            }
            expect = s.start_extent.saturating_add(s.extent_count);
            let (areas, per): (&[Area], u64) = match &s.kind {
                SegKind::Striped { areas, .. } => (
                    areas,
                    s.extent_count.checked_div(u64_of(areas.len())).unwrap_or(0),
                ),
                SegKind::Mirror { legs, .. } => (legs, s.extent_count),
                _ => (&[], 0),
            };
            for a in areas {
                match a {
                    Area::Pv { pv, pe } => {
                        let Some(m) = vg.pv(pv) else { continue };
                        let end = pe.saturating_add(per);
                        if end > m.pe_count && past < MAX_PER_CHECK {
                            past = past.saturating_add(1);
                            out.push((
                                input_of(pv),
                                Finding::error(
                                    "lvm2.segment.past_pv_end",
                                    LAYER,
                                    m.pe_start.saturating_mul(SECTOR).saturating_add(pe.saturating_mul(ext)),
                                    Space::Disk,
                                    format!(
                                        "LV {}/{} extents {}-{} map to PV {} extents {pe}-{}, past its {} extents",
                                        vg.name,
                                        lv.name,
                                        s.start_extent,
                                        expect.saturating_sub(1),
                                        m.id,
                                        end.saturating_sub(1),
                                        m.pe_count
                                    ),
                                )
                                .with_hint(hints::lvs_devices(&vg.name)),
                            ));
                        }
                        used.push((pv.clone(), *pe, per, lv.name.clone()));
                    }
                    Area::Lv { lv: sub, .. } => {
                        if vg.lv(sub).is_none() {
                            out.push((None, unknown(vg, &lv.name, sub)));
                        }
                    }
                }
            }
            for sub in crate::lost::sub_lvs(s) {
                if vg.lv(sub).is_none()
                    && !areas
                        .iter()
                        .any(|a| matches!(a, Area::Lv { lv, .. } if lv == sub))
                {
                    out.push((None, unknown(vg, &lv.name, sub)));
                }
            }
            if let SegKind::Snapshot {
                origin, cow_store, ..
            } = &s.kind
            {
                for sub in [origin, cow_store] {
                    if vg.lv(sub).is_none() {
                        out.push((None, unknown(vg, &lv.name, sub)));
                    }
                }
            }
        }
    }
    // Sorted by PV and first extent, an area overlaps an earlier one
    // exactly when it starts before the furthest end seen so far.
    used.sort();
    let mut overlaps = 0usize;
    let mut reach: Option<(&str, u64, &str)> = None;
    for (pv, pe, n, lv) in &used {
        if *n == 0 {
            continue;
        }
        let end = pe.saturating_add(*n);
        match reach {
            Some((rpv, rend, rlv)) if rpv == pv && *pe < rend => {
                if overlaps < MAX_PER_CHECK {
                    overlaps = overlaps.saturating_add(1);
                    let m = vg.pv(pv);
                    out.push((
                        input_of(pv),
                        Finding::error(
                            "lvm2.segment.overlap",
                            LAYER,
                            m.map_or(0, |m| m.pe_start.saturating_mul(SECTOR).saturating_add(pe.saturating_mul(ext))),
                            Space::Disk,
                            format!(
                                "PV {} extents {pe}-{} are allocated to both LV {rlv} and LV {lv}: writes to one destroy the other",
                                m.map_or(pv.as_str(), |m| m.id.as_str()),
                                end.min(rend).saturating_sub(1),
                            ),
                        )
                        .with_hint(hints::lvs_devices(&vg.name)),
                    ));
                }
                if end > rend {
                    reach = Some((pv, end, lv));
                }
            }
            _ => reach = Some((pv, end, lv)),
        }
    }
    out
}

fn unknown(vg: &VgMetadata, lv: &str, sub: &str) -> Finding {
    Finding::error(
        "lvm2.segment.unknown_lv",
        LAYER,
        0,
        Space::Disk,
        format!(
            "LV {}/{lv} refers to LV {sub:?}, which the metadata does not define",
            vg.name
        ),
    )
    .with_hint(hints::vgck(&vg.name))
}

//! What the layer adapter hands the pipeline, ready-made: one PV's node
//! (title, findings, events, typed facts) and its VG's LVs as children.
//! The adapter only picks which inputs to assemble and calls these.

use crate::assemble::{Assembly, VolumeGroup};
use crate::map::{Opened, Why};
use crate::metadata::SECTOR;
use crate::{LAYER, hints};
use imgcheck_core::{
    BytesReader, Child, ChildNode, Event, Expect, Extent, Facts, Finding, Identity, IdentityKind,
    Promise, Role, Space, Step, Structure, human_size,
};
use std::sync::Arc;

/// Facts of input `i` as a PV: its claimed size (the PV header's device
/// size), 512-byte sectors, where its label, headers and metadata copies
/// are, and its identities.
pub fn pv_facts(a: &Assembly, i: usize) -> Facts {
    let mut f = Facts {
        sector_size: Some(SECTOR),
        ..Facts::default()
    };
    let Some(st) = a.inputs.get(i) else { return f };
    let Some(pv) = &st.pv else { return f };
    if let Some(l) = &pv.label.label {
        f.structures.push(Structure::new(
            "LVM2 PV label and header",
            l.at(),
            512,
            Role::Primary,
        ));
    }
    if let Some(h) = &pv.label.header {
        f.claimed_size = Some(h.device_size);
        f.identities.push(Identity {
            kind: IdentityKind::PvUuid,
            value: h.uuid.clone(),
        });
    }
    for (k, m) in pv.mdas.iter().enumerate() {
        let role = if k == 0 { Role::Primary } else { Role::Backup };
        f.structures.push(Structure::new(
            "LVM2 metadata area header",
            m.start,
            512,
            role,
        ));
        if let Some(t) = m.committed.as_ref().and_then(|c| c.text.as_ref()) {
            for &(at, len) in &t.pieces {
                f.structures
                    .push(Structure::new("LVM2 metadata text", at, len, role));
            }
        }
    }
    if let Some(vg) = vg_of(a, i) {
        f.identities.push(Identity {
            kind: IdentityKind::VgUuid,
            value: vg.metadata.id.clone(),
        });
        for lv in vg.lvs.iter().filter(|l| l.visible) {
            f.identities.push(Identity {
                kind: IdentityKind::LvUuid,
                value: lv.id.clone(),
            });
        }
    }
    f
}

/// The VG input `i` belongs to.
pub fn vg_of(a: &Assembly, i: usize) -> Option<&VolumeGroup> {
    let (v, _) = a.inputs.get(i)?.member_of.as_ref()?;
    a.vgs.get(*v)
}

/// The VG that uses another input with input `i`'s PV UUID (`i` is a
/// cloned disk's duplicate PV).
pub fn duplicate_vg(a: &Assembly, i: usize) -> Option<&VolumeGroup> {
    vg_of(a, a.inputs.get(i)?.duplicate_of?)
}

/// One line for input `i`: `PV <uuid> of VG <vg> (seqno N, 3 LVs, 1 PV missing)`.
pub fn title(a: &Assembly, i: usize) -> String {
    let Some(st) = a.inputs.get(i) else {
        return String::new();
    };
    let uuid = st
        .pv
        .as_ref()
        .and_then(|p| p.uuid())
        .unwrap_or("(label lost)");
    if let Some(vg) = duplicate_vg(a, i) {
        return format!(
            "PV {uuid}, a duplicate: VG {} uses another device with this PV UUID",
            vg.name()
        );
    }
    match vg_of(a, i) {
        None => format!("PV {uuid}, in no readable VG"),
        Some(vg) => {
            let missing = vg.missing().count();
            format!(
                "PV {uuid} of VG {} (seqno {}, {} of {} PVs, {} LVs{})",
                vg.name(),
                vg.metadata.seqno,
                vg.pvs.len().saturating_sub(missing),
                vg.pvs.len(),
                vg.lvs.iter().filter(|l| l.visible).count(),
                if missing > 0 {
                    format!(", {missing} PV missing")
                } else {
                    String::new()
                }
            )
        }
    }
}

/// The findings of input `i`'s node: its PV's own, and its VG's that
/// concern no single LV (a VG is reported once, on the first of its
/// inputs given).
pub fn findings(a: &Assembly, i: usize) -> Vec<Finding> {
    let mut out: Vec<Finding> = a
        .findings
        .iter()
        .filter(|l| l.input == Some(i))
        .map(|l| l.finding.clone())
        .collect();
    if let Some(vg) = duplicate_vg(a, i) {
        out.extend(
            vg.findings
                .iter()
                .filter(|l| l.input == Some(i))
                .map(|l| l.finding.clone()),
        );
    }
    if let Some(vg) = vg_of(a, i) {
        let first = vg.first_input();
        for l in &vg.findings {
            let mine =
                l.input == Some(i) || (l.input.is_none() && l.lv.is_none() && first == Some(i));
            if mine {
                out.push(l.finding.clone());
            }
        }
    }
    out
}

/// Timeline events of input `i`'s VG (on its first input only).
pub fn events(a: &Assembly, i: usize) -> Vec<Event> {
    match vg_of(a, i) {
        Some(vg) if vg.first_input() == Some(i) => vg.events(),
        _ => Vec::new(),
    }
}

/// What an LV promises: an oVirt volume (tags `IU_`/`PU_`) holds a disk
/// image (qcow2 or raw); anything else is unknown.
pub fn lv_expect(vg: &VolumeGroup, lv: &str) -> Expect {
    let ovirt = vg.lv(lv).is_some_and(|l| {
        l.tags.iter().any(|t| t.starts_with("IU_")) && l.tags.iter().any(|t| t.starts_with("PU_"))
    });
    if ovirt {
        Expect {
            contents: Promise::DiskImage,
            type_name: Some("oVirt volume".into()),
        }
    } else {
        Expect::default()
    }
}

/// Every visible LV of `vg` as a child: its reader (or, when not
/// mapped, an empty one that is not descended into, with a finding that
/// says why), its node with the LV's findings (offsets in the LV,
/// [`Space::Volume`]).
pub fn lv_children(vg: &VolumeGroup) -> Vec<Child> {
    let mut out = Vec::new();
    for lv in vg.lvs.iter().filter(|l| l.visible) {
        let mut findings: Vec<Finding> = vg
            .findings
            .iter()
            .filter(|l| l.lv.as_deref() == Some(lv.name.as_str()))
            .map(|l| l.finding.clone())
            .collect();
        // As lvs names them: a striped segment of one stripe is linear.
        let mut types: Vec<&str> = lv
            .segments
            .iter()
            .map(|s| match s.type_name.as_str() {
                "striped" if s.devices.len() == 1 => "linear",
                t => t,
            })
            .collect();
        types.dedup();
        let title = format!(
            "LV {}/{}, {} ({}){}",
            vg.name(),
            lv.name,
            human_size(lv.size),
            types.join("+"),
            if lv.partial { ", partial" } else { "" }
        );
        let (reader, descend): (Arc<dyn imgcheck_core::ReadAt>, bool) = match vg.open(&lv.name) {
            Opened::Mapped(r) => (r, true),
            Opened::NotMapped(n) => {
                if n.why != Why::Internal {
                    findings.push(
                        Finding::warning("lvm2.lv.not_mapped", LAYER, 0, Space::Volume, n.message)
                            .with_hint(hints::lvs_devices(vg.name())),
                    );
                }
                (Arc::new(BytesReader::new(Vec::new())), false)
            }
        };
        out.push(Child {
            step: Step::Volume(format!("{}/{}", vg.name(), lv.name)),
            reader,
            extent: Extent::Mapped,
            expect: lv_expect(vg, &lv.name),
            node: Some(ChildNode {
                kind: "LV".into(),
                title,
                findings,
                details: serde_json::to_value(lv).unwrap_or(serde_json::Value::Null),
                file: None,
            }),
            descend,
        });
    }
    out
}

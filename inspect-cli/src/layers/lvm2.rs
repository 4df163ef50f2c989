//! LVM2 as an [`Inspector`]: a physical volume's node (its label, header
//! and metadata copies as facts, its VG's findings and history) and the
//! VG's logical volumes as children, each checked like a disk — or, for an
//! oVirt volume, like a disk image (qcow2 or raw).
//!
//! A VG is assembled from every PV of the run ([`crate::pool`]) when the
//! adapter has a pool, else from the one PV it reads. Its LVs and the
//! findings about the VG as a whole go on the node of its first PV given;
//! its other PVs say where to look.

use crate::level::{self, Level};
use crate::pool::Pool;
use imgcheck_core::time::utc;
use imgcheck_core::{
    Child, Context, Expect, Finding, Inspected, Inspector, Probe, Promise, ReadAt, Space, Strength,
    VolumeExtent, VolumeLoss, human_size,
};
use imgcheck_lvm2::{Assembly, Change, FoundBy, Input, Limits, VolumeGroup, assemble, layer};
use serde_json::json;
use std::sync::Arc;

/// The LVM2 layer: alone (each PV assembled by itself), or over a
/// [`Pool`] of every PV the run was given.
pub struct Lvm2 {
    pool: Option<Arc<Pool>>,
}

/// The LVM2 layer without a pool: what [`crate::registry::REGISTRY`]
/// lists. A PV of a multi-PV VG read this way has its other PVs missing.
pub static SOLO: Lvm2 = Lvm2 { pool: None };

impl Lvm2 {
    /// The layer assembling VGs from the PVs of `pool`.
    pub fn pooled(pool: Arc<Pool>) -> Lvm2 {
        Lvm2 { pool: Some(pool) }
    }

    /// The pool's assembly and this reader's input in it; `build`: build
    /// the pool if no PV did yet.
    fn member(&self, cx: &Context<'_>, build: bool) -> Option<(&crate::pool::Shared, usize)> {
        let pool = self.pool.as_ref()?;
        let origin = cx.options.origin.as_deref()?;
        pool.member(origin, cx.options.snapshot.as_deref(), cx.place, build)
    }
}

impl Inspector for Lvm2 {
    fn name(&self) -> &'static str {
        "lvm2"
    }

    /// A `LABELONE` label in the first four sectors is a PV (its CRC
    /// decides how strong the evidence is); without one, a reader the
    /// pool's assembly recognised as a PV of some VG (by its metadata
    /// area or its exact layout) is one too.
    fn probe(&self, r: &dyn ReadAt, cx: &Context<'_>) -> Option<Probe> {
        if level::of(cx) != Level::Contents {
            return None;
        }
        if let Some(l) = imgcheck_lvm2::probe(r).and_then(|l| l.label) {
            return Some(if l.crc_ok() {
                Probe::new(
                    Strength::Structure,
                    format!("LVM2 PV label in sector {}, CRC good", l.sector),
                )
            } else {
                Probe::new(
                    Strength::Magic,
                    format!("LVM2 PV label in sector {}, its CRC failing", l.sector),
                )
            });
        }
        // Without a label, only a metadata area header where lvm puts it
        // is worth building the pool for (a PV whose label was zeroed);
        // a pool some PV already built also knows PVs found by layout.
        let (s, i) = self.member(cx, mda_magic(r))?;
        let st = s.assembly.inputs.get(i)?;
        let (v, _) = st.member_of.as_ref()?;
        let vg = s.assembly.vgs.get(*v)?;
        let how = vg
            .pvs
            .iter()
            .find_map(|p| p.found.as_ref().filter(|(k, _)| *k == i).map(|(_, b)| b))?;
        let why = match how {
            FoundBy::MetadataArea { at } => format!("its metadata area at byte {at}"),
            FoundBy::Layout => "its exact size and extent layout".to_string(),
            FoundBy::Label | FoundBy::DamagedLabel => "its label".to_string(),
        };
        Some(Probe::new(
            Strength::Structure,
            format!("no PV label, but a PV of VG {} by {why}", vg.name()),
        ))
    }

    fn inspect(&self, r: &Arc<dyn ReadAt>, cx: &Context<'_>) -> Inspected {
        let local;
        let (a, i, shared): (&Assembly, usize, _) = match self.member(cx, true) {
            Some((s, i)) => (&s.assembly, i, Some(s)),
            None => {
                local = assemble(
                    &[Input {
                        name: cx.place.to_string(),
                        reader: Arc::clone(r),
                    }],
                    &Limits::default(),
                );
                (&local, 0, None)
            }
        };
        let vg = layer::vg_of(a, i);
        // The VG's LVs are checked once, under its first PV given.
        let first = vg.and_then(imgcheck_lvm2::VolumeGroup::first_input);
        let mut title = layer::title(a, i);
        let name_of = |k: usize| {
            shared
                .and_then(|s| s.image_of(k))
                .map_or_else(|| format!("input {k}"), |p| p.display().to_string())
        };
        if let (Some(vg), Some(k)) = (vg, first) {
            if k == i {
                let elsewhere: Vec<String> = vg
                    .pvs
                    .iter()
                    .filter_map(|p| p.found.as_ref().map(|f| f.0))
                    .filter(|&j| shared.is_some_and(|s| s.image_of(j) != s.image_of(i)))
                    .map(name_of)
                    .collect();
                if !elsewhere.is_empty() {
                    title.push_str(&format!(
                        "; assembled with its other PVs, in {}",
                        elsewhere.join(", ")
                    ));
                }
            } else {
                title.push_str(&format!(
                    "; the VG and its LVs are reported with its first PV, in {}",
                    name_of(k)
                ));
            }
        }
        let mut node = Inspected::new("lvm2", title);
        node.findings = layer::findings(a, i);
        node.events = layer::events(a, i);
        if let Some(vg) = vg {
            for e in &mut node.events {
                if e.source.is_empty() {
                    e.source = format!("VG {}", vg.name());
                }
            }
        }
        node.facts = layer::pv_facts(a, i);
        if let Some(vg) = vg {
            node.facts.volume_extents = volume_extents(vg, i);
        }
        node.details = json!({
            "pv": a.inputs.get(i),
            "vg": vg.map(|vg| json!({
                "name": vg.name(),
                "id": vg.metadata.id,
                "seqno": vg.metadata.seqno,
                "extent_size": vg.metadata.extent_bytes(),
                "from_history": vg.from_history,
                "copies": vg.copies,
                "pvs": vg.pvs,
            })),
        });
        if let (Some(vg), Some(s)) = (vg, shared)
            && first == Some(i)
        {
            for p in vg.missing() {
                let size = p.dev_size_bytes();
                for name in s.zeroed_of_size(size) {
                    node.findings.push(Finding::info(
                        "lvm2.pv.missing.zeroed_candidate",
                        imgcheck_lvm2::LAYER,
                        0,
                        Space::Disk,
                        format!(
                            "{name}, given with this PV, has exactly the size recorded for missing PV {} ({}) and holds only zeros where a PV's label and metadata area are: if it was that PV, it was overwritten with zeros, and what VG {} kept on it is lost unless a copy survives",
                            p.meta.id,
                            human_size(size),
                            vg.name()
                        ),
                    ));
                }
            }
        }
        if let Some(vg) = vg
            && first == Some(i)
        {
            node.facts.volume_losses = volume_losses(vg, shared);
            let visible = vg.lvs.iter().filter(|l| l.visible);
            node.children = layer::lv_children(vg)
                .into_iter()
                .zip(visible)
                .map(|(mut c, lv)| {
                    if let Some(n) = c.node.as_mut() {
                        n.findings.extend(resized(vg, &lv.name));
                        n.findings.extend(ovirt_parent(vg, &lv.name, &lv.tags));
                    }
                    like_a_disk(c)
                })
                .collect();
        }
        node
    }
}

/// Each visible LV's runs of extents wholly on a missing PV, in LV bytes:
/// the loss map names the files of the LV's filesystem that had data
/// there. A run lost in part (one stripe of several) is left to the LV's
/// own finding: its bytes interleave with surviving ones.
fn volume_losses(vg: &VolumeGroup, shared: Option<&crate::pool::Shared>) -> Vec<VolumeLoss> {
    let ext = vg.metadata.extent_bytes();
    let mut out = Vec::new();
    for lv in vg.lvs.iter().filter(|l| l.visible) {
        for l in lv.lost.iter().filter(|l| l.whole) {
            let zeroed = vg
                .pvs
                .iter()
                .find(|p| p.meta.id == l.pv)
                .zip(shared)
                .is_some_and(|(p, s)| !s.zeroed_of_size(p.dev_size_bytes()).is_empty());
            let last = l.le.saturating_add(l.count).saturating_sub(1);
            out.push(VolumeLoss {
                volume: format!("{}/{}", vg.name(), lv.name),
                start: l.le.saturating_mul(ext),
                len: l.count.saturating_mul(ext),
                why: format!("extents {}-{last} on missing PV {}", l.le, l.pv),
                zeroed,
            });
        }
    }
    out
}

/// Where each visible LV's linear and striped segments lie on the PV
/// that input `i` holds, in that PV's bytes: what maps a zeroed range of
/// the disk to the LV's bytes. A striped segment's area on this PV is
/// one run per stripe chunk (its chunks interleave with the other
/// areas' in the LV), at most [`MAX_STRIPE_CHUNKS`] per input: past that
/// the segment is left out, as snapshot views are (they read other
/// bytes than their extents).
fn volume_extents(vg: &VolumeGroup, i: usize) -> Vec<VolumeExtent> {
    let ext = vg.metadata.extent_bytes();
    let Some(pv) = vg
        .pvs
        .iter()
        .find(|p| p.found.as_ref().is_some_and(|f| f.0 == i))
    else {
        return Vec::new();
    };
    let data = pv.meta.pe_start.saturating_mul(512);
    // An old-style snapshot's visible LV shows the origin through its COW
    // store, and a merging snapshot's origin shows the merge: neither
    // reads as its own extents.
    let viewed: Vec<&str> = vg
        .metadata
        .lvs
        .iter()
        .flat_map(|l| l.segments.iter())
        .filter_map(|s| match &s.kind {
            imgcheck_lvm2::SegKind::Snapshot {
                origin,
                cow_store,
                merging,
                ..
            } => Some(
                std::iter::once(cow_store.as_str())
                    .chain(merging.then_some(origin.as_str()))
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect();
    let mut out = Vec::new();
    for lv in vg
        .lvs
        .iter()
        .filter(|l| l.visible && !viewed.contains(&l.name.as_str()))
    {
        for seg in lv
            .segments
            .iter()
            .filter(|s| matches!(s.type_name.as_str(), "striped" | "linear"))
        {
            let volume = format!("{}/{}", vg.name(), lv.name);
            let start = seg.start_extent.saturating_mul(ext);
            let len = seg.extent_count.saturating_mul(ext);
            if let [
                imgcheck_lvm2::Device::Pv {
                    id,
                    pe,
                    missing: false,
                },
            ] = seg.devices.as_slice()
            {
                if *id == pv.meta.id {
                    out.push(VolumeExtent {
                        volume,
                        start,
                        len,
                        at: data.saturating_add(pe.saturating_mul(ext)),
                    });
                }
                continue;
            }
            let chunk = seg.stripe_size.saturating_mul(512);
            striped(
                &mut out,
                &seg.devices,
                &pv.meta.id,
                (start, len, chunk),
                |pe| data.saturating_add(pe.saturating_mul(ext)),
                &volume,
            );
        }
    }
    out
}

/// Stripe chunks of striped segments mapped per input, at most: a 1 TiB
/// LV of 64 KiB stripes has 16 M of them; the bound keeps the map small.
const MAX_STRIPE_CHUNKS: usize = 1 << 18;

/// Pushes onto `out` the chunks of a striped segment (`seg`: its first LV
/// byte, length and chunk size) that lie on PV `pv`: LV chunk k is on
/// area k mod n, at chunk k / n of that area (dm-stripe's rule), each
/// area starting at `at(pe)` of this PV. Nothing when the chunk size does
/// not divide the segment into whole rows or the chunks are too many.
fn striped(
    out: &mut Vec<VolumeExtent>,
    devices: &[imgcheck_lvm2::Device],
    pv: &str,
    seg: (u64, u64, u64),
    at: impl Fn(u64) -> u64,
    volume: &str,
) {
    let (start, len, chunk) = seg;
    let n = u64::try_from(devices.len()).unwrap_or(0);
    let row = chunk.saturating_mul(n);
    if chunk == 0 || n < 2 || len.checked_rem(row) != Some(0) {
        return;
    }
    let rows = len.checked_div(row).unwrap_or(0);
    let mine: Vec<(u64, u64)> = (0u64..)
        .zip(devices)
        .filter_map(|(k, d)| match d {
            imgcheck_lvm2::Device::Pv {
                id,
                pe,
                missing: false,
            } if id == pv => Some((k, at(*pe))),
            _ => None,
        })
        .collect();
    let total = usize::try_from(rows)
        .unwrap_or(usize::MAX)
        .saturating_mul(mine.len());
    if mine.is_empty() || total.saturating_add(out.len()) > MAX_STRIPE_CHUNKS {
        return;
    }
    for r in 0..rows {
        for &(k, base) in &mine {
            out.push(VolumeExtent {
                volume: volume.to_string(),
                start: start
                    .saturating_add(r.saturating_mul(row))
                    .saturating_add(k.saturating_mul(chunk)),
                len: chunk,
                at: base.saturating_add(r.saturating_mul(chunk)),
            });
        }
    }
}

/// An LV holding a partition table (a VM's whole disk on a libvirt LVM
/// pool) is read like a disk, by the partition-table layer; any other
/// LV's contents (a filesystem, swap) are read directly, as a partition's
/// are — a table layer on them would only add a "no table" node, and on a
/// partial LV read errors about a backup header that was never there.
///
/// An LV holding a qcow2 image (a libvirt LVM pool volume, or any LV a
/// disk image was written to) is an image file whatever its tags: only
/// oVirt tags promise one, and an attack's untagged LV with a corrupt
/// qcow2 was never opened.
fn like_a_disk(mut c: Child) -> Child {
    if c.expect.contents == Promise::Unknown && c.descend {
        if holds_qcow2(c.reader.as_ref()) {
            c.expect = Expect {
                contents: Promise::DiskImage,
                type_name: Some("logical volume holding a qcow2 image".into()),
            };
        } else if holds_table(c.reader.as_ref()) {
            c.expect = Expect {
                contents: Promise::Disk,
                type_name: Some("logical volume holding a partition table".into()),
            };
        }
    }
    c
}

/// The qcow2 magic and a version QEMU reads (2 or 3) at the LV's start.
fn holds_qcow2(r: &dyn ReadAt) -> bool {
    let mut b = [0u8; 8];
    r.read_exact_at(0, &mut b).is_ok()
        && u32::from_be_bytes([b[0], b[1], b[2], b[3]]) == imgcheck_qcow2::QCOW2_MAGIC
        && matches!(u32::from_be_bytes([b[4], b[5], b[6], b[7]]), 2 | 3)
}

/// An MBR boot signature at byte 510 with no filesystem's boot sector
/// around it, or a GPT header at byte 512 or 4096.
fn holds_table(r: &dyn ReadAt) -> bool {
    let at = |off: u64, want: &[u8]| {
        let mut b = vec![0u8; want.len()];
        r.read_exact_at(off, &mut b).is_ok() && b == want
    };
    if at(512, b"EFI PART") || at(4096, b"EFI PART") {
        return true;
    }
    at(510, &[0x55, 0xaa]) && imgcheck_gpt::identify(r).is_none()
}

/// The code of the finding that dates an lvextend: the size-chain check
/// (`layout`) reads it to tell a filesystem never grown from one made
/// small on purpose.
pub const EXTENDED: &str = "lvm2.lv.extended";

/// When the history in the metadata areas shows `lv` resized: an info
/// finding on the LV with the date, so a filesystem below that was never
/// grown (or was cut off) is dated by the lvextend (or lvreduce).
fn resized(vg: &VolumeGroup, lv: &str) -> Option<Finding> {
    let d = vg.history.last_resize(lv)?;
    let ext = vg.metadata.extent_bytes();
    let (code, verb, from, to, then) = match &d.change {
        Change::LvExtended { from, to, .. } => (
            EXTENDED,
            "extended",
            *from,
            *to,
            "what it holds must be grown too to use the space (lvextend -r does both; else resize2fs or xfs_growfs)",
        ),
        Change::LvReduced { from, to, .. } => (
            "lvm2.lv.reduced",
            "reduced",
            *from,
            *to,
            "a filesystem in it must have been shrunk before, or its end is cut off",
        ),
        _ => return None,
    };
    let when = d.time.map_or_else(
        || "at an unknown time".to_string(),
        |t| format!("at {}", utc(t)),
    );
    Some(Finding::info(
        code,
        imgcheck_lvm2::LAYER,
        0,
        Space::Volume,
        format!(
            "LV {}/{lv} was {verb} from {} to {} ({from} to {to} extents) {when} (metadata seqno {}): {then}",
            vg.name(),
            human_size(from.saturating_mul(ext)),
            human_size(to.saturating_mul(ext)),
            d.seqno
        ),
    ))
}

/// Whether `r` has an LVM2 metadata area header at byte 4096, lvm's
/// default place for the first one.
fn mda_magic(r: &dyn ReadAt) -> bool {
    let mut m = [0u8; 16];
    r.read_exact_at(4096 + 4, &mut m).is_ok() && &m == imgcheck_lvm2::mda::FMTT_MAGIC
}

/// vdsm's parent of a base volume.
const OVIRT_NO_PARENT: &str = "00000000-0000-0000-0000-000000000000";

/// An oVirt volume (tags `IU_<image>`, `PU_<parent>`) over a parent: the
/// parent is an LV of this VG — of the same image, or of another one when
/// the disk was made from a template (vdsm links the template's shared
/// volume into the new image's directory, so PU_ names a volume whose
/// IU_ is the template's). The qcow2 in the volume names the parent as
/// its backing file, which the pooled qcow2 layer reads from that LV.
fn ovirt_parent(vg: &VolumeGroup, lv: &str, tags: &[String]) -> Option<Finding> {
    let tag = |t: &[String], p: &str| t.iter().find_map(|t| t.strip_prefix(p).map(str::to_string));
    let (image, parent) = (tag(tags, "IU_")?, tag(tags, "PU_")?);
    if parent == OVIRT_NO_PARENT {
        return None;
    }
    let Some(p) = vg.lv(&parent) else {
        return Some(
            Finding::warning(
                "lvm2.ovirt.parent_missing",
                imgcheck_lvm2::LAYER,
                0,
                Space::Volume,
                format!(
                    "oVirt volume {lv} of image {image} names parent volume {parent} (tag PU_{parent}), but VG {} has no LV named so: the disk's chain is broken, and what the parent held cannot be read through this volume",
                    vg.name()
                ),
            )
            .with_hint(imgcheck_lvm2::hints::lvs_devices(vg.name())),
        );
    };
    let of = match tag(&p.tags, "IU_") {
        Some(i) if i == image => "of the same image".to_string(),
        Some(i) => format!("of image {i} (a template's shared volume: this disk was made from it)"),
        None => "with no image tag".to_string(),
    };
    Some(Finding::info(
        "lvm2.ovirt.parent",
        imgcheck_lvm2::LAYER,
        0,
        Space::Volume,
        format!(
            "oVirt volume {lv} of image {image} is a layer over parent volume {parent}, LV {}/{parent} {of}; the qcow2 in it names that volume as its backing file, read from the LV",
            vg.name()
        ),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use imgcheck_core::FileReader;
    use imgcheck_testdata::fixture;

    fn file(rel: &str) -> FileReader {
        FileReader::open(fixture(rel)).unwrap()
    }

    #[test]
    fn a_volume_is_read_like_a_disk_only_when_it_holds_a_table() {
        assert!(holds_table(&file("gpt/gpt-512.img")));
        // A FAT boot sector ends in 0x55AA too: a filesystem, not a table.
        assert!(!holds_table(&file("fat/fat16-16m.img")));
        assert!(!holds_table(&file("ext4/ext4-4k.img")));
    }
}

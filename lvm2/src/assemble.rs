//! Volume groups assembled from every PV given (several images, or the
//! images of a directory): PVs matched by UUID, the newest valid metadata
//! copy chosen by seqno, every other copy compared with it, missing PVs
//! named with their size and last device, and per LV and segment exactly
//! which extents are lost. A PV whose label was destroyed is still
//! identified when its metadata area survives, or, when only its data
//! area does, by its exact size and extent layout.

use crate::config::Limits;
use crate::history::History;
use crate::label::LabelRead;
use crate::lost::{self, LvState};
use crate::metadata::{PvMeta, SECTOR, VgMetadata};
use crate::pv::{self, PhysicalVolume};
use crate::{LAYER, check, hints};
use imgcheck_core::bytes::is_zero;
use imgcheck_core::{Finding, Hint, ReadAt, Severity, Sink, Space, human_size, read_vec};
use serde::Serialize;
use std::sync::Arc;

/// Most inputs assembled at once.
pub const MAX_INPUTS: usize = 4096;
/// Most VGs assembled (distinct VG ids seen in copies and ring buffers).
pub const MAX_VGS: usize = 256;
/// Extents read to tell a PV's surviving data area from a zeroed disk.
pub const MAX_DATA_PROBES: usize = 256;
/// Where lvm2 puts the first metadata area.
const DEFAULT_MDA_START: u64 = 4096;

/// One disk given to [`assemble`].
#[derive(Clone)]
pub struct Input {
    /// How the caller names it (an image path).
    pub name: String,
    /// Its bytes.
    pub reader: Arc<dyn ReadAt>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input")
            .field("name", &self.name)
            .field("len", &self.reader.len())
            .finish()
    }
}

/// A finding with what it is about: an input (offsets in its reader,
/// [`Space::Disk`]), an LV (offsets in the LV, [`Space::Volume`]), or the
/// VG as a whole (neither).
#[derive(Debug, Clone, Serialize)]
pub struct Located {
    /// The input the offset is in.
    pub input: Option<usize>,
    /// The LV the finding concerns.
    pub lv: Option<String>,
    /// The finding.
    #[serde(skip)]
    pub finding: Finding,
}

/// How a PV of the metadata was matched to an input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "by")]
pub enum FoundBy {
    /// Its label's PV UUID (what lvm does).
    Label,
    /// Its label is damaged (bad CRC) but its header names the UUID; lvm
    /// itself would call it missing.
    DamagedLabel,
    /// No label; its metadata area at `at` holds this VG's metadata and it
    /// is the only missing PV that fits.
    MetadataArea {
        /// Offset of the mda header found.
        at: u64,
    },
    /// No label and no metadata area; its size is exactly the recorded
    /// device size and data lies where its extents are allocated.
    Layout,
}

/// A PV slot of the VG metadata and where it was found.
#[derive(Debug, Clone, Serialize)]
pub struct VgPv {
    /// The metadata's entry.
    pub meta: PvMeta,
    /// The input holding it and how it was recognised; `None`: missing.
    pub found: Option<(usize, FoundBy)>,
}

impl VgPv {
    /// The device size the metadata records, in bytes.
    pub fn dev_size_bytes(&self) -> u64 {
        self.meta.dev_size.saturating_mul(SECTOR)
    }
    /// Whether no input holds it.
    pub fn missing(&self) -> bool {
        self.found.is_none()
    }
}

/// One copy of the VG metadata as seen on one PV.
#[derive(Debug, Clone, Serialize)]
pub struct CopySeen {
    /// The input.
    pub input: usize,
    /// Offset of its metadata area.
    pub mda_start: u64,
    /// Its seqno, when it parsed.
    pub seqno: Option<u64>,
    /// CRC good.
    pub crc_ok: bool,
}

/// A volume group.
#[derive(Serialize)]
pub struct VolumeGroup {
    /// The metadata in use (the newest valid copy).
    pub metadata: VgMetadata,
    /// Where it came from: a committed copy, or (`true`) the ring buffer
    /// because no committed copy is readable.
    pub from_history: bool,
    /// Every committed copy seen.
    pub copies: Vec<CopySeen>,
    /// The PVs the metadata lists.
    pub pvs: Vec<VgPv>,
    /// Each LV's state, in metadata order.
    pub lvs: Vec<LvState>,
    /// Older generations and what changed between them.
    pub history: History,
    /// Findings about the VG, its PVs and LVs.
    pub findings: Vec<Located>,
    #[serde(skip)]
    pub(crate) readers: Vec<Option<Arc<dyn ReadAt>>>,
}

impl std::fmt::Debug for VolumeGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VolumeGroup")
            .field("name", &self.metadata.name)
            .field("seqno", &self.metadata.seqno)
            .field("pvs", &self.pvs)
            .field("lvs", &self.lvs)
            .finish_non_exhaustive()
    }
}

impl VolumeGroup {
    /// VG name.
    pub fn name(&self) -> &str {
        &self.metadata.name
    }
    /// Whether any PV is missing (vgs attr `p`).
    pub fn partial(&self) -> bool {
        self.pvs.iter().any(VgPv::missing)
    }
    /// The missing PVs.
    pub fn missing(&self) -> impl Iterator<Item = &VgPv> {
        self.pvs.iter().filter(|p| p.missing())
    }
    /// The input the VG is reported under: its first PV in metadata
    /// order (pv0 first) that was found. Never the order the inputs were
    /// given in, so a report does not move with the arguments.
    pub fn first_input(&self) -> Option<usize> {
        self.pvs.iter().find_map(|p| p.found.as_ref().map(|f| f.0))
    }
    /// The LV state of `name`.
    pub fn lv(&self, name: &str) -> Option<&LvState> {
        self.lvs.iter().find(|l| l.name == name)
    }
    /// The reader of PV `key`, when found.
    pub(crate) fn pv_reader(&self, key: &str) -> Option<&Arc<dyn ReadAt>> {
        let i = self.pvs.iter().position(|p| p.meta.key == key)?;
        self.readers.get(i)?.as_ref()
    }
}

/// What one input turned out to be.
#[derive(Debug, Clone, Serialize)]
pub struct InputState {
    /// Its name.
    pub name: String,
    /// Its length.
    pub len: u64,
    /// The PV on it, when it has a label.
    pub pv: Option<PhysicalVolume>,
    /// The VG (index in [`Assembly::vgs`]) and PV key it serves as.
    pub member_of: Option<(usize, String)>,
    /// Another input with the same PV UUID that the VG uses instead (a
    /// cloned disk): lvm uses one device per PV UUID and warns "Not using
    /// device ... for PV ...".
    pub duplicate_of: Option<usize>,
}

/// Everything assembled from a set of inputs.
#[derive(Debug, Serialize)]
pub struct Assembly {
    /// Each input, in the order given.
    pub inputs: Vec<InputState>,
    /// The VGs found.
    pub vgs: Vec<VolumeGroup>,
    /// Findings about an input that belong to no VG (offsets in that
    /// input), e.g. a PV whose only metadata is damaged.
    pub findings: Vec<Located>,
}

impl Assembly {
    /// Findings about input `i` (its PV's own and its VG's about it).
    pub fn findings_of_input(&self, i: usize) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .chain(self.vgs.iter().flat_map(|v| v.findings.iter()))
            .filter(move |l| l.input == Some(i))
            .map(|l| &l.finding)
    }
}

/// Reads every input and assembles the VGs they hold.
pub fn assemble(inputs: &[Input], limits: &Limits) -> Assembly {
    let inputs = inputs.get(..MAX_INPUTS).unwrap_or(inputs);
    let mut states: Vec<InputState> = inputs
        .iter()
        .map(|i| InputState {
            name: i.name.clone(),
            len: i.reader.len(),
            pv: pv::read(i.reader.as_ref(), limits),
            member_of: None,
            duplicate_of: None,
        })
        .collect();
    let mut loose = Vec::new();
    for (i, s) in states.iter_mut().enumerate() {
        if let Some(p) = &mut s.pv {
            for f in std::mem::take(&mut p.findings) {
                loose.push(Located {
                    input: Some(i),
                    lv: None,
                    finding: f,
                });
            }
        }
    }
    // VG ids in first-seen order, from committed copies and ring buffers.
    let mut ids: Vec<String> = Vec::new();
    for s in &states {
        let Some(p) = &s.pv else { continue };
        let from_copies = p
            .mdas
            .iter()
            .filter_map(|m| m.committed.as_ref()?.vg.as_ref().map(|v| v.id.clone()));
        let from_history = p.history().map(|g| g.vg.id.clone());
        for id in from_copies.chain(from_history) {
            if !ids.contains(&id) && ids.len() < MAX_VGS {
                ids.push(id);
            }
        }
    }
    let mut vgs = Vec::new();
    for id in ids {
        if let Some(vg) = build_vg(&id, inputs, &mut states, vgs.len(), limits) {
            vgs.push(vg);
        }
    }
    duplicate_names(&mut vgs, &states);
    // Labelled PVs in no VG: orphans, or a VG whose every copy is lost.
    for (i, s) in states.iter().enumerate() {
        let Some(p) = &s.pv else { continue };
        if s.member_of.is_some() || s.duplicate_of.is_some() {
            continue;
        }
        let in_use = p
            .label
            .header
            .as_ref()
            .and_then(|h| h.extension.as_ref())
            .is_some_and(|e| e.flags & 1 != 0);
        let (sev, what) = if in_use {
            (
                Severity::Error,
                "its header says it belongs to a VG, but no readable metadata names it (every copy lost or on other PVs)",
            )
        } else {
            (
                Severity::Info,
                "it belongs to no VG (an orphan PV: pvcreate without vgcreate/vgextend)",
            )
        };
        loose.push(Located {
            input: Some(i),
            lv: None,
            finding: Finding::new(
                sev,
                "lvm2.pv.no_vg",
                LAYER,
                p.label.label.as_ref().map_or(0, |l| l.at()),
                Space::Disk,
                format!("PV {}: {what}", p.uuid().unwrap_or("?")),
            )
            .with_hint(hints::pvck_search()),
        });
    }
    Assembly {
        inputs: states,
        vgs,
        findings: loose,
    }
}

fn build_vg(
    id: &str,
    inputs: &[Input],
    states: &mut [InputState],
    index: usize,
    limits: &Limits,
) -> Option<VolumeGroup> {
    let mut sink = Sink::new();
    let mut located: Vec<Located> = Vec::new();
    // Committed copies of this VG.
    let mut copies = Vec::new();
    let mut best: Option<(u64, usize, VgMetadata)> = None;
    for (i, s) in states.iter().enumerate() {
        let Some(p) = &s.pv else { continue };
        for m in &p.mdas {
            // An area lvm marks ignored (vgmetadatacopies below the
            // number of areas) is not written any more: what it still
            // holds is an old generation lvm itself never reads.
            if m.ignored {
                continue;
            }
            let Some(c) = &m.committed else { continue };
            let Some(v) = &c.vg else { continue };
            if v.id != id {
                continue;
            }
            copies.push(CopySeen {
                input: i,
                mda_start: m.start,
                seqno: Some(v.seqno),
                crc_ok: c.crc_ok,
            });
            if c.crc_ok && best.as_ref().is_none_or(|b| v.seqno > b.0) {
                best = Some((v.seqno, i, (**v).clone()));
            }
        }
    }
    let mut from_history = false;
    let metadata = match best {
        Some((_, _, v)) => v,
        None => {
            // No committed copy is usable: the newest generation in a ring.
            let g = states
                .iter()
                .filter_map(|s| s.pv.as_ref())
                .flat_map(PhysicalVolume::history)
                .filter(|g| g.vg.id == id)
                .max_by_key(|g| g.vg.seqno)?;
            from_history = true;
            (*g.vg).clone()
        }
    };
    let newest = metadata.seqno;
    // Match PVs by UUID.
    let mut pvs: Vec<VgPv> = metadata
        .pvs
        .iter()
        .map(|m| VgPv {
            meta: m.clone(),
            found: None,
        })
        .collect();
    let mut duplicates: Vec<Located> = Vec::new();
    for slot in &mut pvs {
        let holders: Vec<usize> = states
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.member_of.is_none()
                    && s.pv.as_ref().and_then(PhysicalVolume::uuid) == Some(slot.meta.id.as_str())
            })
            .map(|(i, _)| i)
            .collect();
        let Some(pick) = choose_duplicate(&holders, slot, id, states) else {
            continue;
        };
        let crc_ok = states
            .get(pick)
            .and_then(|s| s.pv.as_ref())
            .is_some_and(|p| p.label.label.as_ref().is_some_and(|l| l.crc_ok()));
        slot.found = Some((
            pick,
            if crc_ok {
                FoundBy::Label
            } else {
                FoundBy::DamagedLabel
            },
        ));
        let names: Vec<String> = states.iter().map(|s| s.name.clone()).collect();
        let name = |i: usize| names.get(i).map_or("?", String::as_str).to_string();
        for &other in holders.iter().filter(|&&h| h != pick) {
            let why = if holders.len() > 1 && same_claim(&holders, slot, id, states) {
                "the disks look alike to lvm (same label, size and metadata): it keeps the device it scanned first, so which one a host uses depends on device order — treat the choice as ambiguous and compare the disks"
            } else {
                "lvm prefers the device whose label is intact, whose size matches the recorded dev_size, and which holds the newest metadata, as here"
            };
            duplicates.push(Located {
                input: Some(other),
                lv: None,
                finding: Finding::warning(
                    "lvm2.pv.duplicate",
                    LAYER,
                    0,
                    Space::Disk,
                    format!(
                        "duplicate PV {}: {} and {} both carry it (a cloned disk); lvm warns \"WARNING: Not using device {} for PV {}.\" and VG {} is read from {}: {why}",
                        slot.meta.id,
                        name(pick),
                        name(other),
                        name(other),
                        slot.meta.id,
                        metadata.name,
                        name(pick),
                    ),
                )
                .with_hint(hints::pvs()),
            });
            if let Some(st) = states.get_mut(other) {
                st.duplicate_of = Some(pick);
            }
        }
    }
    for slot in &pvs {
        if let Some((i, _)) = &slot.found
            && let Some(s) = states.get_mut(*i)
        {
            s.member_of = Some((index, slot.meta.key.clone()));
        }
    }
    identify_unlabelled(
        &metadata,
        &mut pvs,
        inputs,
        states,
        index,
        limits,
        &mut located,
    );
    let readers: Vec<Option<Arc<dyn ReadAt>>> = pvs
        .iter()
        .map(|p| {
            p.found
                .as_ref()
                .and_then(|(i, _)| inputs.get(*i).map(|x| x.reader.clone()))
        })
        .collect();
    // Copies older than the newest, or damaged while another is good.
    for c in &copies {
        let Some(s) = c.seqno else { continue };
        if c.crc_ok && s < newest {
            located.push(Located {
                input: Some(c.input),
                lv: None,
                finding: Finding::warning(
                    "lvm2.metadata.stale",
                    LAYER,
                    c.mda_start,
                    Space::Disk,
                    format!(
                        "VG {}: this PV's metadata is seqno {s}, another PV's is seqno {newest}: it missed {} later change(s) (a copy of the disk taken earlier, or a write that failed); lvm uses seqno {newest}",
                        metadata.name,
                        newest.saturating_sub(s)
                    ),
                )
                .with_hint(hints::update_metadata(&metadata.name)),
            });
        }
    }
    if from_history {
        sink.push(
            Finding::error(
                "lvm2.metadata.none_committed",
                LAYER,
                0,
                Space::Disk,
                format!(
                    "VG {}: no committed metadata copy is readable on any PV; shown as of seqno {newest}, the newest complete copy left in a metadata area's ring buffer",
                    metadata.name
                ),
            )
            .with_hint(hints::cfgrestore_list(&metadata.name)),
        );
    }
    // Missing PVs.
    let missing: Vec<&VgPv> = pvs.iter().filter(|p| p.missing()).collect();
    if !missing.is_empty() {
        for p in &missing {
            sink.push(
                Finding::error(
                    "lvm2.pv.missing",
                    LAYER,
                    0,
                    Space::Disk,
                    format!(
                        "VG {} is missing PV {} ({}, {} extents from sector {}, last written to {}){}",
                        metadata.name,
                        p.meta.id,
                        human_size(p.dev_size_bytes()),
                        p.meta.pe_count,
                        p.meta.pe_start,
                        p.meta.device.as_deref().unwrap_or("an unknown device"),
                        if p.meta.flagged_missing() { "; lvm already marked it MISSING" } else { "" }
                    ),
                )
                .with_hint(hints::missing_pv(&metadata.name)),
            );
        }
    }
    let lvs = lost::lv_states(&metadata, &pvs);
    for l in &lvs {
        for f in lost::findings(&metadata, l) {
            located.push(Located {
                input: None,
                lv: Some(l.name.clone()),
                finding: f,
            });
        }
    }
    for (input, f) in check::layout(&metadata, &pvs, states) {
        located.push(Located {
            input,
            lv: None,
            finding: f,
        });
    }
    let history = History::build(&metadata, states.iter().filter_map(|s| s.pv.as_ref()));
    let mut findings: Vec<Located> = sink
        .finish()
        .into_iter()
        .map(|f| Located {
            input: None,
            lv: None,
            finding: f,
        })
        .collect();
    findings.extend(located);
    findings.extend(duplicates);
    let mut vg = VolumeGroup {
        metadata,
        from_history,
        copies,
        pvs,
        lvs,
        history,
        findings,
        readers,
    };
    let more = crate::map::pool_findings(&vg);
    vg.findings.extend(more);
    Some(vg)
}

/// Which of the inputs carrying one PV UUID the VG uses, as lvm's
/// `_choose_duplicates` (lib/cache/lvmcache.c) ranks them: an intact
/// label, a size equal to the recorded dev_size, then (ours, since no
/// device order exists offline) the newest metadata of this VG, then the
/// name — never the order the images were given in.
fn choose_duplicate(
    holders: &[usize],
    slot: &VgPv,
    vg: &str,
    states: &[InputState],
) -> Option<usize> {
    holders.iter().copied().max_by(|&a, &b| {
        rank(a, slot, vg, states)
            .cmp(&rank(b, slot, vg, states))
            .then_with(|| {
                let n = |i: usize| states.get(i).map(|s| s.name.as_str());
                n(b).cmp(&n(a))
            })
    })
}

/// Whether the two best holders rank alike (lvm's choice is then its
/// scan order).
fn same_claim(holders: &[usize], slot: &VgPv, vg: &str, states: &[InputState]) -> bool {
    let mut r: Vec<_> = holders.iter().map(|&h| rank(h, slot, vg, states)).collect();
    r.sort();
    matches!(r.as_slice(), [.., a, b] if a == b)
}

fn rank(i: usize, slot: &VgPv, vg: &str, states: &[InputState]) -> (bool, bool, u64) {
    let Some(s) = states.get(i) else {
        return (false, false, 0);
    };
    let Some(p) = &s.pv else {
        return (false, false, 0);
    };
    let crc = p.label.label.as_ref().is_some_and(|l| l.crc_ok());
    let size = s.len == slot.dev_size_bytes();
    let seq = p
        .mdas
        .iter()
        .filter_map(|m| m.committed.as_ref())
        .filter(|c| c.crc_ok)
        .filter_map(|c| c.vg.as_ref())
        .filter(|v| v.id == vg)
        .map(|v| v.seqno)
        .max()
        .unwrap_or(0);
    (crc, size, seq)
}

/// Two VGs (different UUIDs) with one name, as a cloned or re-used disk
/// leaves them: lvm refuses the name ("Multiple VGs found with the same
/// name"), so each VG gets a finding naming the other.
fn duplicate_names(vgs: &mut [VolumeGroup], states: &[InputState]) {
    let shown: Vec<(String, String, String)> = vgs
        .iter()
        .map(|g| {
            let on: Vec<&str> = g
                .pvs
                .iter()
                .filter_map(|p| p.found.as_ref())
                .filter_map(|(i, _)| states.get(*i).map(|s| s.name.as_str()))
                .collect();
            (g.name().to_string(), g.metadata.id.clone(), on.join(", "))
        })
        .collect();
    for (k, vg) in vgs.iter_mut().enumerate() {
        let Some((name, id, on)) = shown.get(k) else {
            continue;
        };
        let others: Vec<String> = shown
            .iter()
            .enumerate()
            .filter(|(j, (n, i, _))| *j != k && n == name && i != id)
            .map(|(_, (_, i, o))| format!("VG UUID {i} on {o}"))
            .collect();
        if others.is_empty() {
            continue;
        }
        // lvm refuses the shared name ("Multiple VGs found with the same
        // name: skipping"), so the steps for this VG name it by UUID.
        for f in &mut vg.findings {
            if let Some(h) = f.finding.hint.as_mut()
                && let Some(c) = h.command.as_mut()
            {
                *c = hints::name_vg(
                    c,
                    hints::VgId {
                        name,
                        shared_uuid: Some(id),
                    },
                );
            }
        }
        vg.findings.push(Located {
            input: None,
            lv: None,
            finding: Finding::warning(
                "lvm2.vg.duplicate_name",
                LAYER,
                0,
                Space::Disk,
                format!(
                    "VG {name} (UUID {id}, on {on}) shares its name with {}: lvm says \"Multiple VGs found with the same name\" and refuses the name; /dev/{name}/... names either VG, so a backing file or fstab entry naming it is ambiguous",
                    others.join("; ")
                ),
            )
            .with_hint(
                Hint::read_only(format!("vgs -o +vg_uuid,pv_name --select vg_name={name}"))
                    .on(imgcheck_core::Target::Nothing)
                    .because("tells the VGs apart by UUID; rename one on a copy with vgrename <uuid> <new name>, never on the evidence"),
            ),
        });
    }
}

/// Finds missing PVs among inputs without a label.
fn identify_unlabelled(
    vg: &VgMetadata,
    pvs: &mut [VgPv],
    inputs: &[Input],
    states: &mut [InputState],
    index: usize,
    limits: &Limits,
    out: &mut Vec<Located>,
) {
    if !pvs.iter().any(VgPv::missing) {
        return;
    }
    for (i, input) in inputs.iter().enumerate() {
        let Some(s) = states.get(i) else { continue };
        if s.pv.is_some() || s.member_of.is_some() {
            continue;
        }
        let r = input.reader.as_ref();
        let fits = |p: &VgPv| {
            p.missing()
                && p.meta
                    .pe_start
                    .saturating_mul(SECTOR)
                    .saturating_add(p.meta.pe_count.saturating_mul(vg.extent_bytes()))
                    <= r.len()
        };
        // (a) its metadata area survives and holds this VG.
        let mda = mda_without_label(r, limits);
        let mut by = None;
        if let Some((at, ids)) = &mda
            && ids.iter().any(|x| x == &vg.id)
        {
            let cands: Vec<usize> = pvs
                .iter()
                .enumerate()
                .filter(|(_, p)| fits(p))
                .map(|(k, _)| k)
                .collect();
            if let [k] = cands.as_slice() {
                by = Some((*k, FoundBy::MetadataArea { at: *at }));
            }
        }
        // (b) exactly the recorded size, and data where extents are used.
        if by.is_none() && mda.is_none() {
            let cands: Vec<usize> = pvs
                .iter()
                .enumerate()
                .filter(|(_, p)| {
                    fits(p) && p.dev_size_bytes() == r.len() && has_data(vg, &p.meta, r)
                })
                .map(|(k, _)| k)
                .collect();
            if let [k] = cands.as_slice() {
                by = Some((*k, FoundBy::Layout));
            }
        }
        let Some((k, how)) = by else { continue };
        let Some(slot) = pvs.get_mut(k) else { continue };
        let why = match &how {
            FoundBy::MetadataArea { at } => format!(
                "its metadata area at byte {at} holds VG {}'s metadata",
                vg.name
            ),
            _ => format!(
                "its size is exactly the {} bytes recorded and data lies at its allocated extents",
                r.len()
            ),
        };
        out.push(Located {
            input: Some(i),
            lv: None,
            finding: Finding::error(
                "lvm2.pv.label_lost",
                LAYER,
                512,
                Space::Disk,
                format!(
                    "no PV label, yet this is PV {} of VG {} ({why}); lvm does not see it and calls the PV missing",
                    slot.meta.id, vg.name
                ),
            )
            .with_hint(hints::pvck_repair(&vg.name)),
        });
        slot.found = Some((i, how));
        if let Some(st) = states.get_mut(i) {
            st.member_of = Some((index, slot.meta.key.clone()));
        }
    }
}

/// The mda header at lvm's default place, and the VG ids its ring holds.
fn mda_without_label(r: &dyn ReadAt, limits: &Limits) -> Option<(u64, Vec<String>)> {
    let hb = read_vec(r, DEFAULT_MDA_START, 512, 512).ok()?;
    let h = crate::mda::MdaHeader::parse(&hb, DEFAULT_MDA_START);
    if !h.magic_ok {
        return None;
    }
    let size = h.size.min(r.len().saturating_sub(DEFAULT_MDA_START));
    let m = pv::read_unlabelled(r, DEFAULT_MDA_START, size, limits)?;
    let mut ids: Vec<String> = m.history.iter().map(|g| g.vg.id.clone()).collect();
    if let Some(v) = m.committed.as_ref().and_then(|c| c.vg.as_ref()) {
        ids.push(v.id.clone());
    }
    Some((DEFAULT_MDA_START, ids))
}

/// Whether the first 4 KiB of some extent allocated on `pv` holds
/// anything but zeros (a disk zeroed by dd holds none, and is not taken
/// for the PV). At most [`MAX_DATA_PROBES`] extents are read.
fn has_data(vg: &VgMetadata, pv: &PvMeta, r: &dyn ReadAt) -> bool {
    let ext = vg.extent_bytes();
    let base = pv.pe_start.saturating_mul(SECTOR);
    let mut probes = 0usize;
    for lv in &vg.lvs {
        for s in &lv.segments {
            let crate::metadata::SegKind::Striped { areas, .. } = &s.kind else {
                continue;
            };
            let per = s
                .extent_count
                .checked_div(crate::u64_of(areas.len()))
                .unwrap_or(0);
            for a in areas {
                let crate::metadata::Area::Pv { pv: k, pe } = a else {
                    continue;
                };
                if k != &pv.key {
                    continue;
                }
                for e in *pe..pe.saturating_add(per) {
                    probes = probes.saturating_add(1);
                    if probes > MAX_DATA_PROBES {
                        return false;
                    }
                    let at = base.saturating_add(e.saturating_mul(ext));
                    if read_vec(r, at, 4096, 4096).is_ok_and(|b| !is_zero(&b)) {
                        return true;
                    }
                }
            }
        }
    }
    false
}

/// The label read of an input, when it has a PV (a convenience for
/// embedders that probe before assembling).
pub fn label_of(state: &InputState) -> Option<&LabelRead> {
    state.pv.as_ref().map(|p| &p.label)
}

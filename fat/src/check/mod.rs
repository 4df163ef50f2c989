//! The check, pass by pass in fsck.fat's order: the boot sector and BPB
//! (`read_boot`), the FAT32 backup boot sector and FSInfo, the FAT copies
//! (`read_fat`), the directory tree with every chain (`scan_root`), the
//! volume label (`check_label`), lost chains (`reclaim_free`), the dirty
//! bits and the free count (`update_free`), then the size against the
//! container. The quick depth stops after the fixed structures and the
//! root directory's label.

mod boot;
mod chains;
mod fats;
mod label;
mod lost;
mod tree;

pub use tree::{MAX_DEPTH, MAX_DIR_ENTRIES, MAX_NODES};

use crate::bpb::{Bpb, FatKind, Geometry, volume_id_text};
use crate::dir::label_text;
use crate::reads::Reads;
use crate::summary::{BootSource, Dirty, FsInfo, Summary, Times, Usage};
use crate::table::Fat;
use crate::{LAYER, LostChain, Options, Report};
use imgcheck_core::{Depth, Finding, Hint, ReadAt, Severity, Sink, Space, Structure};

/// What the passes share.
pub(crate) struct Ctx<'r> {
    pub(crate) reads: Reads<'r>,
    sink: Sink,
    pub(crate) depth: Depth,
    pub(crate) bpb: Bpb,
    /// The 512 bytes of the boot sector used.
    pub(crate) boot_raw: Vec<u8>,
    pub(crate) boot_source: BootSource,
    pub(crate) g: Geometry,
    /// The copy chains are read from (0-based), as fsck.fat picks it.
    pub(crate) chosen: u32,
    /// Raw FAT\[1\] of the chosen copy, when read.
    pub(crate) fat1: Option<u32>,
    /// The chosen copy, loaded (full check).
    pub(crate) fat: Option<Fat>,
    pub(crate) dirty: Dirty,
    pub(crate) fsinfo: Option<FsInfo>,
    pub(crate) usage: Option<Usage>,
    pub(crate) times: Times,
    pub(crate) structures: Vec<Structure>,
    pub(crate) lost: Vec<LostChain>,
    pub(crate) root_label: Option<[u8; 11]>,
    /// The root directory was read (its label lookup means something).
    pub(crate) root_scanned: bool,
    /// A directory's bytes could not be read (past the end or failed):
    /// what it held is unknown, so nothing is called lost.
    pub(crate) dir_unread: bool,
    /// Clusters claimed by the tree walk.
    pub(crate) owned: Option<crate::bitmap::Bitmap>,
    /// The tree walk reached every directory it could (the root was read):
    /// lost chains and the free count mean something.
    pub(crate) walk_complete: bool,
    /// Clusters not claimed by any entry and not marked bad (what fsck.fat
    /// would count free after freeing lost chains).
    pub(crate) unclaimed: Option<u32>,
    pub(crate) incomplete: Option<String>,
}

impl Ctx<'_> {
    pub(crate) fn push(&mut self, f: Finding) {
        self.sink.push(f);
    }

    pub(crate) fn finding(
        &mut self,
        severity: Severity,
        code: &'static str,
        offset: u64,
        message: String,
        hint: Option<Hint>,
    ) {
        let mut f = Finding::new(severity, code, LAYER, offset, Space::Disk, message);
        f.hint = hint;
        self.sink.push(f);
    }

    pub(crate) fn is_full(&self, code: &str) -> bool {
        self.sink.is_full(code)
    }

    pub(crate) fn fat32(&self) -> bool {
        self.g.kind == FatKind::Fat32
    }

    /// Notes that a bound stopped the check (the first reason is kept).
    pub(crate) fn stopped(&mut self, why: String) {
        if self.incomplete.is_none() {
            self.incomplete = Some(why);
        }
    }
}

/// Checks the FAT filesystem `r` holds.
pub(crate) fn run(r: &dyn ReadAt, o: &Options) -> Report {
    let mut reads = Reads::new(r);
    let mut sink = Sink::new();
    let Some(b) = boot::read_boot(&mut reads, &mut sink) else {
        let mut findings = reads.findings;
        findings.extend(sink.finish());
        return Report {
            findings,
            summary: None,
        };
    };
    let mut cx = Ctx {
        reads,
        sink,
        depth: o.depth,
        bpb: b.bpb,
        boot_raw: b.raw,
        boot_source: b.source,
        g: b.geometry,
        chosen: 0,
        fat1: None,
        fat: None,
        dirty: Dirty::default(),
        fsinfo: None,
        usage: None,
        times: Times::default(),
        structures: Vec::new(),
        lost: Vec::new(),
        root_label: None,
        root_scanned: false,
        dir_unread: false,
        owned: None,
        walk_complete: false,
        unclaimed: None,
        incomplete: None,
    };
    boot::bpb_fields(&mut cx);
    boot::structures(&mut cx);
    if cx.fat32() {
        boot::backup_boot(&mut cx);
        boot::fsinfo(&mut cx);
    }
    fats::heads(&mut cx);
    if cx.depth == Depth::Full {
        fats::load_and_compare(&mut cx);
        fats::out_of_range(&mut cx);
        tree::walk(&mut cx);
        lost::lost_chains(&mut cx);
        boot::free_count(&mut cx);
    } else {
        tree::root_label_only(&mut cx);
    }
    label::check(&mut cx);
    fats::dirty(&mut cx);
    boot::size(&mut cx);
    finish(cx)
}

fn finish(cx: Ctx<'_>) -> Report {
    let b = &cx.bpb;
    let g = &cx.g;
    let boot_label = b
        .has_extended()
        .then(|| label_text(&b.volume_label))
        .filter(|l| !l.is_empty());
    // A name starting with byte 0xE5 is stored with 0x05 there.
    let root_label = cx.root_label.map(|mut l| {
        if l[0] == 0x05 {
            l[0] = crate::dir::DELETED;
        }
        label_text(&l)
    });
    let label = root_label
        .clone()
        .or_else(|| boot_label.clone().filter(|l| l != "NO NAME"));
    let summary = Summary {
        kind: g.kind,
        kind_by_count: g.kind_by_count,
        boot_sector: cx.boot_source,
        oem: b
            .oem
            .iter()
            .map(|&c| crate::dir::cp850(c))
            .collect::<String>()
            .trim_end()
            .to_string(),
        sector_size: g.sector_size,
        cluster_size: g.cluster_size,
        clusters: g.clusters,
        reserved_sectors: g.reserved_sectors,
        fats: g.num_fats,
        fat_bytes: g.fat_bytes,
        fat_used: cx.chosen.saturating_add(1),
        root: g.root,
        data_start: g.data_start,
        fs_bytes: g.fs_bytes,
        container_bytes: cx.reads.len(),
        hidden_sectors: b.hidden_sectors,
        volume_id: b.has_extended().then_some(b.volume_id),
        volume_id_text: b.has_extended().then(|| volume_id_text(b.volume_id)),
        label,
        boot_label,
        root_label,
        dirty: cx.dirty,
        fsinfo: cx.fsinfo.clone(),
        usage: cx.usage,
        times: cx.times.clone(),
        structures: cx.structures.clone(),
        lost_chains: cx.lost.clone(),
        depth: cx.depth,
        incomplete: cx.incomplete.clone(),
    };
    let mut findings = cx.reads.findings;
    findings.extend(cx.sink.finish());
    Report {
        findings,
        summary: Some(summary),
    }
}

//! The VG metadata text as types (`lib/format_text/import_vsn1.c`): the VG
//! with its PVs and LVs, each LV's segments with their per-type keys
//! (the `text_import` of `lib/{striped,mirror,raid,snapshot,thin,…}`).
//! Sizes stay in the units the text uses (512-byte sectors, extents);
//! helpers convert.

use crate::config::{Section, Value};
use imgcheck_core::bytes::u64_of;
use serde::Serialize;
use std::fmt;

/// Bytes per sector in the metadata text's sizes.
pub const SECTOR: u64 = 512;

/// Why a parsed text is not usable VG metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetaError {
    /// Byte offset in the text of the entry concerned.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for MetaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.message)
    }
}

/// A volume group as one metadata copy describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VgMetadata {
    /// VG name (the top-level section).
    pub name: String,
    /// VG UUID, dashed.
    pub id: String,
    /// Commit counter: the highest valid copy is the current one.
    pub seqno: u64,
    /// `format` (`lvm2`), when written.
    pub format: Option<String>,
    /// `status` flags (RESIZEABLE, READ, WRITE, EXPORTED…).
    pub status: Vec<String>,
    /// `flags`.
    pub flags: Vec<String>,
    /// `tags` (oVirt keeps its domain metadata here).
    pub tags: Vec<String>,
    /// `system_id`, when set.
    pub system_id: Option<String>,
    /// `lock_type`, when set (shared VGs).
    pub lock_type: Option<String>,
    /// Extent size in sectors.
    pub extent_size: u64,
    /// `max_lv` (0: unlimited).
    pub max_lv: u64,
    /// `max_pv` (0: unlimited).
    pub max_pv: u64,
    /// `metadata_copies`.
    pub metadata_copies: Option<u64>,
    /// The physical volumes, in text order.
    pub pvs: Vec<PvMeta>,
    /// The logical volumes, in text order (hidden sub-LVs included).
    pub lvs: Vec<LvMeta>,
    /// Top-level `description` (`Write from lvextend …`).
    pub description: Option<String>,
    /// Top-level `creation_host`: the host that wrote this copy.
    pub creation_host: Option<String>,
    /// Top-level `creation_time`: when this copy was written (Unix seconds).
    pub creation_time: Option<i64>,
    /// Top-level `contents` was `Text Format Volume Group` and `version` 1.
    pub text_format_ok: bool,
    /// Byte offset of the VG section in the text.
    pub offset: usize,
}

/// A PV entry (`pvN { … }`) of the VG metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PvMeta {
    /// The local name segments refer to (`pv0`).
    pub key: String,
    /// PV UUID, dashed (the pv_header's, with dashes added).
    pub id: String,
    /// The device it was last seen on (a hint only).
    pub device: Option<String>,
    /// `status` (ALLOCATABLE).
    pub status: Vec<String>,
    /// `flags` (MISSING once lvm wrote the VG without it).
    pub flags: Vec<String>,
    /// `tags`.
    pub tags: Vec<String>,
    /// Device size in sectors, as recorded.
    pub dev_size: u64,
    /// First sector of the data area (extent 0).
    pub pe_start: u64,
    /// Number of extents.
    pub pe_count: u64,
    /// Bootloader area start and size in sectors, when present.
    pub ba: Option<(u64, u64)>,
    /// Byte offset of the entry in the text.
    pub offset: usize,
}

impl PvMeta {
    /// Whether lvm recorded the PV as missing.
    pub fn flagged_missing(&self) -> bool {
        self.flags.iter().any(|f| f == "MISSING")
    }
}

/// An LV entry of the VG metadata.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LvMeta {
    /// LV name.
    pub name: String,
    /// LV UUID, dashed.
    pub id: String,
    /// `status` (READ, WRITE, VISIBLE…).
    pub status: Vec<String>,
    /// `flags`.
    pub flags: Vec<String>,
    /// `tags`.
    pub tags: Vec<String>,
    /// `creation_time` (Unix seconds).
    pub creation_time: Option<i64>,
    /// `creation_host`.
    pub creation_host: Option<String>,
    /// Segments in text order (`segment1` …).
    pub segments: Vec<Segment>,
    /// Byte offset of the entry in the text.
    pub offset: usize,
}

impl LvMeta {
    /// Hidden sub-LVs (a pool's `_tmeta`, a mirror image) lack VISIBLE.
    pub fn visible(&self) -> bool {
        self.status.iter().any(|s| s == "VISIBLE")
    }
    /// Extents the segments cover.
    pub fn extents(&self) -> u64 {
        self.segments
            .iter()
            .fold(0u64, |a, s| a.saturating_add(s.extent_count))
    }
    /// The segment covering logical extent `le`.
    pub fn segment_at(&self, le: u64) -> Option<&Segment> {
        self.segments
            .iter()
            .find(|s| le >= s.start_extent && le < s.start_extent.saturating_add(s.extent_count))
    }
}

/// Where one area of a segment lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    /// On PV `pv` (its local key), from physical extent `pe`.
    Pv {
        /// The PV's local key (`pv0`).
        pv: String,
        /// First physical extent.
        pe: u64,
    },
    /// On LV `lv`, from logical extent `le` (a sub-LV).
    Lv {
        /// The LV name.
        lv: String,
        /// First logical extent.
        le: u64,
    },
}

/// One segment of an LV.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    /// First logical extent.
    pub start_extent: u64,
    /// Number of logical extents.
    pub extent_count: u64,
    /// `type` as written, flags after `+` removed (`striped`, `thin-pool`).
    pub type_name: String,
    /// The per-type contents.
    pub kind: SegKind,
    /// Byte offset of the segment entry in the text.
    pub offset: usize,
}

/// Per-type segment contents.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum SegKind {
    /// `striped` (one stripe: linear). Each area holds extent_count/n extents.
    Striped {
        /// Stripe size in sectors (0 with one stripe).
        stripe_size: u64,
        /// One area per stripe.
        areas: Vec<Area>,
    },
    /// Old `mirror`: every leg holds the whole segment.
    Mirror {
        /// Legs (sub-LVs).
        legs: Vec<Area>,
        /// The mirror log LV, when any.
        log: Option<String>,
    },
    /// `raid0`…`raid10`.
    Raid {
        /// The level with its layout (`raid1`, `raid5_ls`).
        level: String,
        /// Stripe size in sectors.
        stripe_size: u64,
        /// Data images (sub-LVs).
        images: Vec<String>,
        /// Metadata sub-LVs (`_rmeta_N`).
        metas: Vec<String>,
    },
    /// Old-style COW `snapshot` (on the hidden `snapshotN` LV).
    Snapshot {
        /// The origin LV.
        origin: String,
        /// The COW store LV.
        cow_store: String,
        /// Chunk size in sectors.
        chunk_size: u64,
        /// The snapshot is being merged into its origin.
        merging: bool,
    },
    /// `thin-pool`.
    ThinPool {
        /// The metadata sub-LV (`_tmeta`).
        metadata: String,
        /// The data sub-LV (`_tdata`).
        pool: String,
        /// LVM's transaction id (the kernel superblock's `trans_id`).
        transaction_id: u64,
        /// Chunk (data block) size in sectors.
        chunk_size: u64,
    },
    /// `thin`: blocks mapped through the pool's metadata.
    Thin {
        /// The pool LV.
        pool: String,
        /// The kernel's device id in the pool.
        device_id: u64,
        /// Transaction id when created.
        transaction_id: u64,
        /// Thin origin (a thin snapshot's), when any.
        origin: Option<String>,
        /// External origin LV, when any.
        external_origin: Option<String>,
    },
    /// `cache`, `cache-pool`, `writecache`: the origin alone may be stale.
    Cache {
        /// The cache pool LV.
        cache_pool: Option<String>,
        /// The origin LV.
        origin: Option<String>,
        /// `cache_mode` (writeback keeps dirty data only in the cache).
        mode: Option<String>,
    },
    /// `error`: every read fails.
    Error,
    /// `zero`: reads as zeros.
    Zero,
    /// Another type (vdo, integrity, …): not mapped.
    Other,
}

fn err<T>(offset: usize, message: impl Into<String>) -> Result<T, MetaError> {
    Err(MetaError {
        offset,
        message: message.into(),
    })
}

fn uint(s: &Section, key: &str, at: usize, what: &str) -> Result<u64, MetaError> {
    match s.entry(key) {
        None => err(at, format!("{what}: {key} missing")),
        Some(e) => match &e.node {
            crate::config::Node::Value(Value::Int(i)) => u64::try_from(*i)
                .or_else(|_| err(e.offset, format!("{what}: {key} = {i} is negative"))),
            _ => err(e.offset, format!("{what}: {key} is not an integer")),
        },
    }
}

fn opt_uint(s: &Section, key: &str, what: &str) -> Result<Option<u64>, MetaError> {
    match s.entry(key) {
        None => Ok(None),
        Some(e) => uint(s, key, e.offset, what).map(Some),
    }
}

fn string(s: &Section, key: &str, at: usize, what: &str) -> Result<String, MetaError> {
    match s.entry(key) {
        None => err(at, format!("{what}: {key} missing")),
        Some(e) => match &e.node {
            crate::config::Node::Value(Value::Str(v)) => Ok(v.clone()),
            _ => err(e.offset, format!("{what}: {key} is not a string")),
        },
    }
}

/// Whether `id` is a dashed LVM UUID (32 characters from LVM's alphabet in
/// groups 6-4-4-4-4-4-6).
pub fn valid_uuid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups
        .iter()
        .map(|g| g.len())
        .eq([6usize, 4, 4, 4, 4, 4, 6])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// `abcdef…` (32 characters, as in the pv_header) → `abcdef-…` (dashed).
pub fn dashed_uuid(raw: &str) -> String {
    let mut out = String::with_capacity(38);
    for (i, c) in raw.chars().enumerate() {
        if matches!(i, 6 | 10 | 14 | 18 | 22 | 26) {
            out.push('-');
        }
        out.push(c);
    }
    out
}

impl VgMetadata {
    /// The VG described by a parsed text: the top-level section that has
    /// an `id` and a `seqno`, plus the top-level description keys.
    pub fn from_config(root: &Section) -> Result<VgMetadata, MetaError> {
        let Some((name, offset, vg)) = root
            .sections()
            .find(|(_, _, s)| s.value("id").is_some() && s.value("seqno").is_some())
        else {
            return err(0, "no volume group section (a section with id and seqno)");
        };
        if let Some(why) = name_problem(name) {
            return err(
                offset,
                format!("VG name {name:?} is not one lvm2 accepts ({why}): lvm refuses this VG"),
            );
        }
        let what = format!("VG {name}");
        let id = string(vg, "id", offset, &what)?;
        let seqno = uint(vg, "seqno", offset, &what)?;
        let extent_size = uint(vg, "extent_size", offset, &what)?;
        if extent_size == 0 {
            return err(offset, format!("{what}: extent_size is 0"));
        }
        let mut pvs = Vec::new();
        if let Some(ps) = vg.section("physical_volumes") {
            for (key, at, p) in ps.sections() {
                let w = format!("PV {key}");
                pvs.push(PvMeta {
                    key: key.to_owned(),
                    id: string(p, "id", at, &w)?,
                    device: p.str("device").map(str::to_owned),
                    status: p.strings("status"),
                    flags: p.strings("flags"),
                    tags: p.strings("tags"),
                    dev_size: opt_uint(p, "dev_size", &w)?.unwrap_or(0),
                    pe_start: uint(p, "pe_start", at, &w)?,
                    pe_count: uint(p, "pe_count", at, &w)?,
                    ba: match (opt_uint(p, "ba_start", &w)?, opt_uint(p, "ba_size", &w)?) {
                        (Some(a), Some(b)) => Some((a, b)),
                        _ => None,
                    },
                    offset: at,
                });
            }
        }
        let mut lvs = Vec::new();
        if let Some(ls) = vg.section("logical_volumes") {
            for (lname, at, l) in ls.sections() {
                lvs.push(lv_from(lname, at, l, &pvs)?);
            }
        }
        Ok(VgMetadata {
            name: name.to_owned(),
            id,
            seqno,
            format: vg.str("format").map(str::to_owned),
            status: vg.strings("status"),
            flags: vg.strings("flags"),
            tags: vg.strings("tags"),
            system_id: vg.str("system_id").map(str::to_owned),
            lock_type: vg.str("lock_type").map(str::to_owned),
            extent_size,
            max_lv: opt_uint(vg, "max_lv", &what)?.unwrap_or(0),
            max_pv: opt_uint(vg, "max_pv", &what)?.unwrap_or(0),
            metadata_copies: opt_uint(vg, "metadata_copies", &what)?,
            pvs,
            lvs,
            description: root.str("description").map(str::to_owned),
            creation_host: root.str("creation_host").map(str::to_owned),
            creation_time: root.int("creation_time"),
            text_format_ok: root.str("contents") == Some("Text Format Volume Group")
                && root.int("version") == Some(1),
            offset,
        })
    }

    /// Extent size in bytes.
    pub fn extent_bytes(&self) -> u64 {
        self.extent_size.saturating_mul(SECTOR)
    }

    /// The PV entry with local key `key`.
    pub fn pv(&self, key: &str) -> Option<&PvMeta> {
        self.pvs.iter().find(|p| p.key == key)
    }

    /// The LV named `name`.
    pub fn lv(&self, name: &str) -> Option<&LvMeta> {
        self.lvs.iter().find(|l| l.name == name)
    }
}

/// Why lvm2 would refuse `name` as a VG or LV name (its `validate_name`:
/// 1–127 bytes of ASCII letters, digits and `. _ - +`, not starting with
/// `-`, not `.` or `..`), or `None` when it accepts it. Names from an image
/// go into next-step commands: one lvm refuses is damage, and never
/// reaches a command line.
pub fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.len() > 127 {
        return Some("1 to 127 characters");
    }
    if name.starts_with('-') {
        return Some("it starts with a hyphen");
    }
    if name == "." || name == ".." {
        return Some("it is . or ..");
    }
    if !name
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-' | b'+'))
    {
        return Some("only letters, digits and . _ - +");
    }
    None
}

fn lv_from(name: &str, at: usize, l: &Section, pvs: &[PvMeta]) -> Result<LvMeta, MetaError> {
    if let Some(why) = name_problem(name) {
        return err(
            at,
            format!("LV name {name:?} is not one lvm2 accepts ({why}): lvm refuses this VG"),
        );
    }
    let what = format!("LV {name}");
    let mut segments = Vec::new();
    for (sname, sat, s) in l.sections() {
        if !sname.starts_with("segment") {
            continue;
        }
        segments.push(segment_from(&format!("{what} {sname}"), sat, s, pvs)?);
    }
    if let Some(n) = opt_uint(l, "segment_count", &what)?
        && n != u64_of(segments.len())
    {
        return err(
            at,
            format!(
                "{what}: segment_count is {n} but {} segments are written",
                segments.len()
            ),
        );
    }
    segments.sort_by_key(|s| s.start_extent);
    Ok(LvMeta {
        name: name.to_owned(),
        id: string(l, "id", at, &what)?,
        status: l.strings("status"),
        flags: l.strings("flags"),
        tags: l.strings("tags"),
        creation_time: l.int("creation_time"),
        creation_host: l.str("creation_host").map(str::to_owned),
        segments,
        offset: at,
    })
}

/// `["pv0", 3, "pv1", 0]` → areas; names that are PV keys are PV areas,
/// others sub-LVs.
fn areas(
    s: &Section,
    key: &str,
    at: usize,
    what: &str,
    pvs: &[PvMeta],
) -> Result<Vec<Area>, MetaError> {
    let Some(e) = s.entry(key) else {
        return err(at, format!("{what}: {key} missing"));
    };
    let Some(list) = s.value(key).and_then(Value::as_array) else {
        return err(e.offset, format!("{what}: {key} is not an array"));
    };
    let mut out = Vec::with_capacity(list.len() / 2);
    for pair in list.chunks(2) {
        match pair {
            [Value::Str(n), Value::Int(x)] => {
                let Ok(x) = u64::try_from(*x) else {
                    return err(e.offset, format!("{what}: {key} has a negative extent"));
                };
                out.push(if pvs.iter().any(|p| &p.key == n) {
                    Area::Pv {
                        pv: n.clone(),
                        pe: x,
                    }
                } else {
                    Area::Lv {
                        lv: n.clone(),
                        le: x,
                    }
                });
            }
            _ => {
                return err(
                    e.offset,
                    format!("{what}: {key} is not a list of name, extent pairs"),
                );
            }
        }
    }
    Ok(out)
}

fn segment_from(what: &str, at: usize, s: &Section, pvs: &[PvMeta]) -> Result<Segment, MetaError> {
    let start_extent = uint(s, "start_extent", at, what)?;
    let extent_count = uint(s, "extent_count", at, what)?;
    let raw_type = string(s, "type", at, what)?;
    let type_name = raw_type.split('+').next().unwrap_or("").to_owned();
    let opt_str = |k: &str| s.str(k).map(str::to_owned);
    let kind = match type_name.as_str() {
        "striped" | "linear" => {
            let areas = areas(s, "stripes", at, what, pvs)?;
            let n = uint(s, "stripe_count", at, what)?;
            if n != u64_of(areas.len()) || n == 0 {
                return err(
                    at,
                    format!(
                        "{what}: stripe_count {n} but {} stripes listed",
                        areas.len()
                    ),
                );
            }
            if n > 1 && extent_count.checked_rem(n) != Some(0) {
                return err(
                    at,
                    format!("{what}: {extent_count} extents do not divide into {n} stripes"),
                );
            }
            let stripe_size = opt_uint(s, "stripe_size", what)?.unwrap_or(0);
            if n > 1 && stripe_size == 0 {
                return err(at, format!("{what}: {n} stripes of size 0"));
            }
            SegKind::Striped { stripe_size, areas }
        }
        "mirror" => SegKind::Mirror {
            legs: areas(s, "mirrors", at, what, pvs)?,
            log: opt_str("mirror_log"),
        },
        t if t.starts_with("raid") => {
            let names: Vec<String> = s.strings("raids");
            let paired = names.len().is_multiple_of(2)
                && names
                    .chunks(2)
                    .all(|p| p.first().is_some_and(|m| m.contains("_rmeta_")));
            let (metas, images) = if paired {
                names
                    .chunks(2)
                    .map(|p| {
                        (
                            p.first().cloned().unwrap_or_default(),
                            p.get(1).cloned().unwrap_or_default(),
                        )
                    })
                    .unzip()
            } else {
                (Vec::new(), names)
            };
            if images.is_empty() {
                return err(at, format!("{what}: raids lists no images"));
            }
            SegKind::Raid {
                level: t.to_owned(),
                stripe_size: opt_uint(s, "stripe_size", what)?.unwrap_or(0),
                images,
                metas,
            }
        }
        "snapshot" => SegKind::Snapshot {
            origin: string(s, "origin", at, what)?,
            cow_store: string(s, "cow_store", at, what)?,
            chunk_size: uint(s, "chunk_size", at, what)?,
            merging: s.value("merging_store").is_some(),
        },
        "thin-pool" => SegKind::ThinPool {
            metadata: string(s, "metadata", at, what)?,
            pool: string(s, "pool", at, what)?,
            transaction_id: uint(s, "transaction_id", at, what)?,
            chunk_size: uint(s, "chunk_size", at, what)?,
        },
        "thin" => SegKind::Thin {
            pool: string(s, "thin_pool", at, what)?,
            device_id: uint(s, "device_id", at, what)?,
            transaction_id: uint(s, "transaction_id", at, what)?,
            origin: opt_str("origin"),
            external_origin: opt_str("external_origin"),
        },
        "cache" | "cache-pool" | "writecache" => SegKind::Cache {
            cache_pool: opt_str("cache_pool"),
            origin: opt_str("origin"),
            mode: opt_str("cache_mode"),
        },
        "error" => SegKind::Error,
        "zero" => SegKind::Zero,
        _ => SegKind::Other,
    };
    Ok(Segment {
        start_extent,
        extent_count,
        type_name,
        kind,
        offset: at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Limits, parse};

    const TEXT: &str = "vg {\nid = \"TiZ3bq-gGKc-HlTH-eIVb-f3Jo-PwYB-J8zGl8\"\nseqno = 3\nformat = \"lvm2\"\n\
        status = [\"RESIZEABLE\", \"READ\", \"WRITE\"]\nflags = []\nextent_size = 8192\nmax_lv = 0\nmax_pv = 0\n\
        metadata_copies = 0\nphysical_volumes {\npv0 {\nid = \"Ab1234-aaaa-bbbb-cccc-dddd-eeee-000001\"\n\
        device = \"/dev/loop0\"\nstatus = [\"ALLOCATABLE\"]\nflags = []\ndev_size = 81920\npe_start = 2048\npe_count = 9\n}\n}\n\
        logical_volumes {\nstr {\nid = \"x\"\nstatus = [\"READ\", \"WRITE\", \"VISIBLE\"]\nflags = []\n\
        creation_time = 1763000000\ncreation_host = \"h\"\nsegment_count = 2\n\
        segment2 {\nstart_extent = 2\nextent_count = 1\ntype = \"striped\"\nstripe_count = 1\nstripes = [\"pv0\", 8]\n}\n\
        segment1 {\nstart_extent = 0\nextent_count = 2\ntype = \"striped\"\nstripe_count = 2\nstripe_size = 128\n\
        stripes = [\"pv0\", 0, \"sub\", 0]\n}\n}\n}\n}\n\
        contents = \"Text Format Volume Group\"\nversion = 1\ndescription = \"Write from lvcreate\"\n\
        creation_host = \"h\"\ncreation_time = 1763000001\n";

    #[test]
    fn typed_vg() {
        let vg =
            VgMetadata::from_config(&parse(TEXT.as_bytes(), &Limits::default()).unwrap()).unwrap();
        assert_eq!(
            (vg.name.as_str(), vg.seqno, vg.extent_bytes()),
            ("vg", 3, 4 << 20)
        );
        assert!(vg.text_format_ok);
        assert_eq!(vg.creation_time, Some(1763000001));
        let lv = vg.lv("str").unwrap();
        assert!(lv.visible());
        assert_eq!(lv.extents(), 3);
        assert_eq!(lv.segments[0].start_extent, 0, "sorted by start");
        match &lv.segments[0].kind {
            SegKind::Striped { stripe_size, areas } => {
                assert_eq!(*stripe_size, 128);
                assert_eq!(
                    areas[0],
                    Area::Pv {
                        pv: "pv0".into(),
                        pe: 0
                    }
                );
                assert_eq!(
                    areas[1],
                    Area::Lv {
                        lv: "sub".into(),
                        le: 0
                    }
                );
            }
            k => panic!("{k:?}"),
        }
        assert_eq!(lv.segment_at(2).unwrap().extent_count, 1);
        assert!(valid_uuid(&vg.id) && !valid_uuid("x"));
        assert_eq!(
            dashed_uuid("FoTxAFs9jlNgbLRScF8PVEKmHT7Dq3KD"),
            "FoTxAF-s9jl-NgbL-RScF-8PVE-KmHT-7Dq3KD"
        );
    }

    #[test]
    fn names_lvm_refuses_are_rejected_before_any_command_sees_them() {
        for bad in [
            "v;reboot",
            "--updatemetadata",
            "-x",
            ".",
            "..",
            "",
            "a b",
            "vg$(id)",
            "é",
        ] {
            assert!(name_problem(bad).is_some(), "{bad:?}");
        }
        for good in ["vg0", "my-vg", "a.b_c+d", "..x", "x-"] {
            assert_eq!(name_problem(good), None, "{good:?}");
        }
        assert!(name_problem(&"a".repeat(128)).is_some());
    }

    #[test]
    fn semantic_errors_name_the_entry() {
        for (from, to, needle) in [
            ("pe_count = 9", "pe_count = -9", "negative"),
            ("segment_count = 2", "segment_count = 3", "segment_count"),
            ("stripe_count = 2", "stripe_count = 3", "stripe_count"),
            (
                "extent_size = 8192",
                "extent_size = \"x\"",
                "not an integer",
            ),
            ("stripes = [\"pv0\", 8]", "stripes = [\"pv0\"]", "pairs"),
        ] {
            let t = TEXT.replace(from, to);
            let e = VgMetadata::from_config(&parse(t.as_bytes(), &Limits::default()).unwrap())
                .unwrap_err();
            assert!(e.message.contains(needle), "{from}: {e}");
            assert!(e.offset > 0);
        }
    }
}

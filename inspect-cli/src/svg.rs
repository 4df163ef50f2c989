//! `--map FILE.svg`: the disk drawn to scale — partitions by what they
//! hold, unpartitioned space, zeroed ranges, boot structures, LVM physical
//! volumes and the logical volumes' extents on them — with the findings
//! marked where they are and listed as text beside the drawing, so the
//! picture reads without hovering. A view of the same report the text and
//! JSON show: every mark comes from the report's typed data (an LV's
//! extents from its node's details, the JSON's `volumes`).

use crate::report::{ImageReport, Node};
use imgcheck_boot::Outcome;
use imgcheck_core::{Finding, IdentityKind, Place, Promise, Severity, Space, Step, human_size};
use serde_json::Value;
use std::fmt::Write as _;

/// Width of the disk bar in pixels.
const WIDTH: u64 = 1000;
/// Left margin: room for the lane names (`disk`, `boot`, `LVM`).
const LEFT: u64 = 70;
/// Right margin: room for a marker badge at the very end of the disk.
const RIGHT: u64 = 30;
/// Top of the marker badges.
const BADGE_TOP: u64 = 58;
/// Height of a marker badge.
const BADGE_H: u64 = 16;
/// Width of a marker badge: markers whose positions are closer than this
/// (plus a gap) would overlap, so they merge into one badge with a count.
const BADGE_W: u64 = 36;
/// Half a badge: its centre is the position marked.
const BADGE_HALF: u64 = BADGE_W / 2;
/// Space kept between two badges.
const BADGE_GAP: u64 = 2;
/// Top of the disk bar.
const BAR_Y: u64 = 86;
/// Height of the disk bar.
const BAR_H: u64 = 56;
/// Half the bar: where its lane name sits.
const BAR_MID: u64 = BAR_H / 2;
/// Height of a lane under the bar (boot structures, LVM).
const LANE_H: u64 = 18;
/// Space between lanes.
const LANE_GAP: u64 = 6;
/// Height of one line of text.
const LINE: u64 = 16;
/// Characters of 12-pixel sans-serif text that fit across the bar: at
/// about 6.5 pixels a character, 150 fill it; 140 leave a margin for wide
/// glyphs.
const CHARS: usize = 140;
/// Lines a finding's message may take before it is cut (the full
/// sentence stays in the tooltip and in the text report).
const MSG_LINES: usize = 2;
/// Findings listed one by one; the rest are counted by code, so every
/// code still appears and a hostile image with thousands of findings
/// does not make a picture no one can scroll.
const MAX_LISTED: usize = 120;
/// Findings named in one marker's tooltip; the list under the drawing
/// has the rest.
const MAX_TIP: usize = 20;
/// Lines of the partition and LV lists; the text report has them all.
const MAX_ROWS: usize = 64;
/// Logical volumes with a colour and a legend entry of their own; the
/// others share one.
const MAX_LV_COLOURS: usize = 10;
/// LV segments drawn at most (a bound on hostile metadata; the text
/// report lists them all).
const MAX_SEGMENTS: usize = 4096;
/// LVM's sector, the unit of `pe_start`.
const LVM_SECTOR: u64 = 512;
/// Bytes of the MBR's boot code (before the disk signature at 440).
const MBR_CODE: u64 = 440;

/// Height of an MBR extended partition's band at the top of the bar: its
/// logical partitions are drawn under it, inside its span.
const EXT_BAND: u64 = 16;

/// Gaps smaller than this are alignment padding, not unpartitioned space.
const MIN_GAP: u64 = 1 << 20;

/// Colours of the LVs, none of them the red of damage or the amber and
/// blue of the finding markers.
const LV_PALETTE: [&str; MAX_LV_COLOURS] = [
    "#8cd17d", "#b6992d", "#499894", "#d37295", "#86bcb6", "#f1ce63", "#9d7660", "#b9a0b4",
    "#a0cbe8", "#ffbe7d",
];

/// Text made safe for XML: the five markup characters escaped, the
/// characters XML 1.0 forbids (control characters from a hostile label,
/// U+FFFE, U+FFFF) replaced, so one odd byte never makes the file
/// unreadable, and bidirectional controls written out as `⟨U+202E⟩`.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            // Bidirectional controls reorder the text around them: a GPT
            // name "\u{202e}evil" read as "live". Shown, not obeyed.
            '\u{061c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{2028}'
            | '\u{2029}' => {
                let _ = write!(out, "⟨U+{:04X}⟩", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// `s` cut to `max` characters, with an ellipsis when cut.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `s` in lines of at most `width` characters, broken between words
/// (a word longer than a line is split), at most `max_lines` of them:
/// the last one ends in an ellipsis when text was left over.
fn wrap(s: &str, width: usize, max_lines: usize) -> Vec<String> {
    let width = width.max(8);
    let mut lines: Vec<String> = Vec::new();
    let mut cur: Vec<char> = Vec::new();
    'words: for w in s.split_whitespace() {
        let mut word: Vec<char> = w.chars().collect();
        while !word.is_empty() {
            if lines.len() > max_lines {
                break 'words;
            }
            let sep = usize::from(!cur.is_empty());
            if cur.len().saturating_add(sep).saturating_add(word.len()) <= width {
                if sep == 1 {
                    cur.push(' ');
                }
                cur.append(&mut word);
            } else if cur.is_empty() {
                let rest = word.split_off(width.min(word.len()));
                lines.push(word.iter().collect());
                word = rest;
            } else {
                lines.push(cur.iter().collect());
                cur.clear();
            }
        }
    }
    if !cur.is_empty() {
        lines.push(cur.iter().collect());
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            let mut t: String = last.chars().take(width.saturating_sub(1)).collect();
            t.push('…');
            *last = t;
        }
    }
    lines
}

/// x coordinate of disk offset `off` on a bar for a disk of `total` bytes.
fn x_of(off: u64, total: u64) -> u64 {
    if total == 0 {
        return LEFT;
    }
    // off <= total < 2^64 and WIDTH < 2^10: the product fits in u128.
    let scaled = u128::from(off.min(total))
        .saturating_mul(u128::from(WIDTH))
        .checked_div(u128::from(total))
        .unwrap_or(0);
    LEFT.saturating_add(u64::try_from(scaled).unwrap_or(WIDTH))
}

/// The colour of a finding's severity, and the text colour on it.
fn severity_colour(s: Severity) -> (&'static str, &'static str) {
    match s {
        Severity::Error => ("#d62728", "#fff"),
        Severity::Warning => ("#e3a008", "#000"),
        Severity::Info => ("#1f77b4", "#fff"),
    }
}

/// A mark as drawn: its key, its fill, its legend label.
type MarkDef = (&'static str, &'static str, &'static str);

/// One kind of mark the picture uses, for its legend entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mark {
    /// The `data-mark` attribute of the shapes that draw it.
    key: String,
    /// Its fill.
    fill: String,
    /// What it means, in words.
    label: String,
}

/// The marks used, each once, in the order they were first drawn.
#[derive(Default)]
struct Marks(Vec<Mark>);

impl Marks {
    /// Records that `key` was drawn; returns the key for the attribute.
    fn used(&mut self, key: &str, fill: &str, label: &str) -> String {
        if !self.0.iter().any(|m| m.key == key) {
            self.0.push(Mark {
                key: key.to_string(),
                fill: fill.to_string(),
                label: label.to_string(),
            });
        }
        esc(key)
    }
}

/// How a partition is filled: by what the layers read in it.
fn contents_mark(kind: Option<&str>) -> (&'static str, &'static str, &'static str, &'static str) {
    // (key, fill, text colour on it, legend label)
    match kind {
        Some(k) if k.starts_with("ext") => ("fs-ext", "#4e79a7", "#fff", "ext2/3/4 filesystem"),
        Some("xfs") => ("fs-xfs", "#59a14f", "#fff", "XFS filesystem"),
        Some("fat") => ("fs-fat", "#76b7b2", "#000", "FAT filesystem"),
        Some("swap") => ("fs-swap", "#b07aa1", "#fff", "swap"),
        Some("lvm2") => ("fs-lvm", "#f28e2b", "#000", "LVM physical volume"),
        Some("qcow2") => ("fs-qcow2", "#9c755f", "#fff", "disk image (qcow2)"),
        Some(k) if k == "mbr" || k == "gpt" => (
            "fs-table",
            "#bab0ac",
            "#000",
            "partition table (a disk image)",
        ),
        Some(_) => (
            "fs-other",
            "#9c9c9c",
            "#000",
            "other contents (identified by signature, not checked)",
        ),
        None => ("fs-none", "#d7d7d7", "#000", "no contents read"),
    }
}

/// A finding placed on the disk bar.
struct OnDisk<'a> {
    /// Its x on the bar.
    x: u64,
    /// Its disk offset.
    disk: u64,
    /// The finding.
    f: &'a Finding,
}

/// Why a finding has no place on the bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Undrawn {
    /// In the image file (container metadata).
    File,
    /// In a volume or a nested disk whose place on this disk is unknown.
    Nested,
}

/// A physical volume on this disk.
struct Pv {
    /// Its PV UUID.
    uuid: String,
    /// First byte on the disk.
    base: u64,
    /// Bytes before the first extent (label, metadata area).
    pe_start: u64,
    /// Its size as its header states it, clamped to the disk.
    len: u64,
}

/// A run of an LV's extents as the disk holds it.
struct SegMap {
    /// First logical extent.
    le: u64,
    /// Extents in the run.
    count: u64,
    /// Where its first device's extents start on this disk, when that
    /// PV is on this disk.
    disk: Option<u64>,
    /// Devices the run is striped over.
    stripes: u64,
}

/// A logical volume whose extents are drawn.
struct LvMap<'a> {
    /// Its node's place (findings below it are in its bytes).
    place: &'a Place,
    /// Extent size in bytes.
    ext: u64,
    /// Its segments.
    segs: Vec<SegMap>,
}

impl LvMap<'_> {
    /// The disk offset of byte `off` of the LV, when the extent holding it
    /// is on this disk (the first stripe's start for a striped run: the
    /// stripe size is not needed to say where the run is).
    fn to_disk(&self, off: u64) -> Option<u64> {
        let le = off.checked_div(self.ext)?;
        let s = self
            .segs
            .iter()
            .find(|s| s.le <= le && le < s.le.saturating_add(s.count))?;
        let base = s.disk?;
        if s.stripes > 1 {
            return Some(base);
        }
        let within = le.saturating_sub(s.le).saturating_mul(self.ext);
        Some(
            base.saturating_add(within)
                .saturating_add(off.checked_rem(self.ext).unwrap_or(0)),
        )
    }
}

/// Whether `place` leaves the outer disk (a volume, a disk image inside
/// a partition or LV): offsets there are not this disk's.
fn nested(place: &Place) -> bool {
    place
        .0
        .iter()
        .any(|s| matches!(s, Step::Volume(_) | Step::Container(_)))
}

/// The PVs on this disk: lvm2 nodes reading the outer disk, with the
/// extent start their VG's metadata records for them.
fn pvs(root: &Node, total: u64) -> Vec<(Pv, &Node)> {
    let mut out = Vec::new();
    for n in root.walk() {
        if n.layer != Some("lvm2") || n.space != Space::Disk || nested(&n.place) {
            continue;
        }
        let Some(uuid) = n
            .facts
            .identities
            .iter()
            .find(|i| i.kind == IdentityKind::PvUuid)
            .map(|i| i.value.clone())
        else {
            continue;
        };
        let pe_start = n
            .details
            .pointer("/vg/pvs")
            .and_then(Value::as_array)
            .and_then(|pvs| {
                pvs.iter()
                    .find(|p| p.pointer("/meta/id").and_then(Value::as_str) == Some(uuid.as_str()))
            })
            .and_then(|p| p.pointer("/meta/pe_start"))
            .and_then(Value::as_u64)
            .map_or(0, |s| s.saturating_mul(LVM_SECTOR));
        let len = n
            .facts
            .claimed_size
            .unwrap_or(0)
            .min(total.saturating_sub(n.base));
        out.push((
            Pv {
                uuid,
                base: n.base,
                pe_start,
                len,
            },
            n,
        ));
    }
    out
}

/// One segment of an LV, as its node's details (the lvm2 layer's
/// `segments`) state it: the one reader of them.
struct Segment {
    /// First logical extent.
    le: Option<u64>,
    /// Extents in the segment.
    count: Option<u64>,
    /// Whether its extents are striped over its devices.
    striped: bool,
    /// Its devices in order: a PV's UUID and first physical extent, or
    /// `None` for a device that is no PV (a sub-LV).
    devices: Vec<Option<(String, u64)>>,
}

/// The segments of the LV node `lv`.
fn segments(lv: &Node) -> Vec<Segment> {
    let list = lv
        .details
        .get("segments")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    list.iter()
        .map(|s| Segment {
            le: s.get("start_extent").and_then(Value::as_u64),
            count: s.get("extent_count").and_then(Value::as_u64),
            striped: s.get("type_name").and_then(Value::as_str) == Some("striped"),
            devices: s
                .get("devices")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|d| {
                    if d.get("on").and_then(Value::as_str) != Some("pv") {
                        return None;
                    }
                    Some((
                        d.get("id").and_then(Value::as_str)?.to_string(),
                        d.get("pe").and_then(Value::as_u64)?,
                    ))
                })
                .collect(),
        })
        .collect()
}

/// The extent size of the VG a PV node's details describe.
fn extent_size(pv: &Node) -> Option<u64> {
    pv.details
        .pointer("/vg/extent_size")
        .and_then(Value::as_u64)
}

/// The disk offset of physical extent `pe` of the PV `id`, when that PV
/// is on this disk.
fn pe_on_disk(pv_nodes: &[(Pv, &Node)], id: &str, pe: u64, ext: u64) -> Option<u64> {
    let (pv, _) = pv_nodes.iter().find(|(p, _)| p.uuid == id)?;
    Some(
        pv.base
            .saturating_add(pv.pe_start)
            .saturating_add(pe.saturating_mul(ext)),
    )
}

/// The LVs of the PVs on this disk, with their extents mapped to it.
fn lvs<'a>(pv_nodes: &[(Pv, &'a Node)]) -> Vec<LvMap<'a>> {
    let mut out = Vec::new();
    for (_, n) in pv_nodes {
        let Some(ext) = extent_size(n) else {
            continue;
        };
        for lv in &n.children {
            if !matches!(lv.place.0.last(), Some(Step::Volume(_))) {
                continue;
            }
            let segs = segments(lv)
                .into_iter()
                .filter_map(|s| {
                    let (le, count) = (s.le?, s.count?);
                    let disk = match s.devices.first() {
                        Some(Some((id, pe))) => pe_on_disk(pv_nodes, id, *pe, ext),
                        _ => None,
                    };
                    Some(SegMap {
                        le,
                        count,
                        disk,
                        stripes: u64::try_from(s.devices.len()).unwrap_or(1).max(1),
                    })
                })
                .collect();
            out.push(LvMap {
                place: &lv.place,
                ext,
                segs,
            });
        }
    }
    out
}

/// The disk extents of an LV's segments on PVs of this disk: (start, len)
/// per device, a striped run's extents shared among its stripes.
fn lv_extents(lv: &Node, pv_nodes: &[(Pv, &Node)], ext: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for s in segments(lv) {
        let count = s.count.unwrap_or(0);
        let n = u64::try_from(s.devices.len()).unwrap_or(1).max(1);
        let per = if s.striped {
            count.checked_div(n).unwrap_or(count)
        } else {
            count
        };
        for (id, pe) in s.devices.iter().flatten() {
            if let Some(at) = pe_on_disk(pv_nodes, id, *pe, ext) {
                out.push((at, per.saturating_mul(ext)));
            }
        }
    }
    out
}

/// Spreadsheet-style names for marker groups: A … Z, AA, AB, …
fn group_name(i: usize) -> String {
    let mut n = i.saturating_add(1);
    let mut out = Vec::new();
    while n > 0 {
        let r = n.saturating_sub(1).checked_rem(26).unwrap_or(0);
        out.push(char::from(
            b'A'.saturating_add(u8::try_from(r).unwrap_or(0)),
        ));
        n = n.saturating_sub(1).checked_div(26).unwrap_or(0);
    }
    out.iter().rev().collect()
}

/// The same code listed this many times in one place; the rest are
/// counted (a directory with a hundred bad entries is one problem).
const REPEAT: usize = 3;

/// Which of `findings` to list one by one (indices), and per code how
/// many more there are past [`REPEAT`].
fn fold<'a>(findings: impl Iterator<Item = &'a Finding>) -> (Vec<usize>, Vec<(String, usize)>) {
    let mut seen: Vec<(&str, usize)> = Vec::new();
    let mut keep = Vec::new();
    let mut folded: Vec<(String, usize)> = Vec::new();
    for (i, f) in findings.enumerate() {
        let code = f.code.as_ref();
        let n = match seen.iter_mut().find(|(c, _)| *c == code) {
            Some((_, n)) => {
                *n = n.saturating_add(1);
                *n
            }
            None => {
                seen.push((code, 1));
                1
            }
        };
        if n <= REPEAT {
            keep.push(i);
        } else {
            match folded.iter_mut().find(|(c, _)| c.as_str() == code) {
                Some((_, m)) => *m = m.saturating_add(1),
                None => folded.push((code.to_string(), 1)),
            }
        }
    }
    (keep, folded)
}

/// One line per folded code, under the ones listed; the next `y`.
fn folded_lines(t: &mut Canvas, mut y: u64, folded: &[(String, usize)], where_: &str) -> u64 {
    for (code, n) in folded {
        t.text(
            LEFT.saturating_add(24),
            y,
            12,
            &[
                (format!("… and {n} more ").as_str(), r##"fill="#555""##),
                (code.as_str(), r#"font-weight="bold""#),
                (
                    format!(" {where_} (the text report lists each)").as_str(),
                    r##"fill="#555""##,
                ),
            ],
        );
        y = y.saturating_add(LINE);
    }
    y
}

/// Where a finding is, as the text report says it.
fn where_of(f: &Finding) -> String {
    if f.place.is_root() {
        format!("{} {:#x}", f.space, f.offset)
    } else {
        format!("{} {:#x}, {}", f.space, f.offset, f.place)
    }
}

/// The drawing under construction: shapes, text and the marks they use.
struct Canvas {
    body: String,
    marks: Marks,
}

impl Canvas {
    /// A rectangle of mark `key` with a tooltip.
    #[allow(clippy::too_many_arguments)]
    fn rect(
        &mut self,
        x0: u64,
        x1: u64,
        y: u64,
        h: u64,
        mark: (&str, &str, &str),
        extra: &str,
        tip: &str,
    ) {
        let (key, fill, label) = mark;
        let key = self.marks.used(key, fill, label);
        let w = x1.saturating_sub(x0).max(2);
        let _ = writeln!(
            self.body,
            r##"<rect x="{x0}" y="{y}" width="{w}" height="{h}" fill="{fill}" {extra} data-mark="{key}"><title>{}</title></rect>"##,
            esc(tip)
        );
    }

    /// A line of text at `y`, the parts in order, each `(text, attributes)`.
    fn text(&mut self, x: u64, y: u64, size: u64, parts: &[(&str, &str)]) {
        let _ = write!(self.body, r##"<text x="{x}" y="{y}" font-size="{size}">"##);
        for (t, attrs) in parts {
            let _ = write!(self.body, "<tspan {attrs}>{}</tspan>", esc(t));
        }
        let _ = writeln!(self.body, "</text>");
    }
}

/// Whether `head` (the start of an existing file) is a map imgcheck
/// wrote, which `--map` may replace: the XML declaration [`svg`] writes,
/// then its `<svg` element.
pub fn looks_like_map(head: &[u8]) -> bool {
    head.starts_with(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg ")
}

/// The SVG document for `report`.
pub fn svg(report: &ImageReport) -> String {
    let total = report.virtual_size;
    let mut c = Canvas {
        body: String::new(),
        marks: Marks::default(),
    };
    let bar_end = LEFT.saturating_add(WIDTH);
    // Text under the drawing: (lines) added by each part, laid out last.
    let mut notes: Vec<String> = Vec::new();

    // The disk: free (unpartitioned) until something covers it.
    let bg = c.marks.used(
        "disk",
        "#fbf8ee",
        "in no partition (the table itself, alignment gaps)",
    );
    let _ = writeln!(
        c.body,
        r##"<rect x="{LEFT}" y="{BAR_Y}" width="{WIDTH}" height="{BAR_H}" fill="#fbf8ee" stroke="#333" data-mark="{bg}"/>"##
    );
    c.text(
        LEFT.saturating_sub(8),
        BAR_Y.saturating_add(BAR_MID).saturating_add(4),
        12,
        &[("disk", r#"text-anchor="end" font-weight="bold""#)],
    );
    // The outer table only: a table inside an LV or a disk image is
    // another disk's.
    let table = report.table().filter(|t| !nested(&t.place));
    let parts: Vec<&Node> = table.map(|t| t.partitions().collect()).unwrap_or_default();
    let mut part_lines: Vec<(String, String)> = Vec::new();
    let mut gap_lines: Vec<(String, String)> = Vec::new();
    // An MBR's extended partition is no node of its own: the table states
    // it. Drawn as a band over its span, what lies inside it (its logical
    // partitions, its free space) under the band.
    let extended = table
        .and_then(|t| t.facts.table.as_ref())
        .and_then(|t| t.extended);
    let inside_extended = |s: u64, e: u64| {
        extended.is_some_and(|x| s >= x.start && e <= x.start.saturating_add(x.size))
    };
    let lane = |s: u64, e: u64| {
        if inside_extended(s, e) {
            (
                BAR_Y.saturating_add(EXT_BAND),
                BAR_H.saturating_sub(EXT_BAND),
            )
        } else {
            (BAR_Y, BAR_H)
        }
    };
    let mut ext_line: Option<(String, String)> = None;
    if let Some(x) = extended {
        let end = x.start.saturating_add(x.size);
        let (x0, x1) = (x_of(x.start, total), x_of(end, total));
        let logicals: Vec<String> = parts
            .iter()
            .filter_map(|p| p.span)
            .filter(|s| s.index >= 5 && inside_extended(s.start, s.start.saturating_add(s.size)))
            .map(|s| s.index.to_string())
            .collect();
        c.rect(
            x0,
            x1,
            BAR_Y,
            BAR_H,
            (
                "extended",
                "#efe6d2",
                "MBR extended partition (a container: its logical partitions are drawn inside it)",
            ),
            r##"stroke="#222" stroke-dasharray="6 3""##,
            &format!(
                "extended partition {}: {} at byte {}",
                x.slot,
                human_size(x.size),
                x.start
            ),
        );
        let w = x1.saturating_sub(x0);
        let tag = if w > 160 {
            format!("p{} extended", x.slot)
        } else {
            format!("p{}", x.slot)
        };
        let fits = u64::try_from(tag.chars().count())
            .unwrap_or(u64::MAX)
            .saturating_mul(6)
            .saturating_add(6);
        if w > fits {
            let _ = writeln!(
                c.body,
                r##"<text x="{}" y="{}" font-size="10" fill="#000">{}</text>"##,
                x0.saturating_add(4),
                BAR_Y.saturating_add(12),
                esc(&tag)
            );
        }
        ext_line = Some((
            format!("partition {}", x.slot),
            format!(
                "{} at byte {} — extended (a container), holding {}",
                human_size(x.size),
                x.start,
                match logicals.as_slice() {
                    [] => "no logical partition".to_string(),
                    [one] => format!("logical partition {one}"),
                    many => format!("logical partitions {}", many.join(", ")),
                }
            ),
        ));
        if end > total {
            notes.push(format!(
                "extended partition {} runs {} past the end of the disk",
                x.slot,
                human_size(end.saturating_sub(total))
            ));
        }
    }

    // Unpartitioned space first, under the partitions: the gaps (the
    // tail an unmoved GPT leaves behind).
    let mut covered: Vec<(u64, u64)> = parts
        .iter()
        .filter_map(|p| p.span)
        .map(|s| (s.start, s.start.saturating_add(s.size)))
        .collect();
    covered.sort_unstable();
    let mut at = 0u64;
    let mut gaps = Vec::new();
    for &(s, e) in &covered {
        if s > at && s.saturating_sub(at) > MIN_GAP {
            gaps.push((at, s));
        }
        at = at.max(e);
    }
    if total > at && total.saturating_sub(at) > MIN_GAP && !covered.is_empty() {
        gaps.push((at, total));
    }
    // A gap is cut where the extended partition starts and ends: what
    // lies inside it is room for logical partitions (the table's), not
    // space outside the table.
    let cuts: Vec<u64> = extended
        .map(|x| vec![x.start, x.start.saturating_add(x.size)])
        .unwrap_or_default();
    let gaps: Vec<(u64, u64)> = gaps
        .into_iter()
        .flat_map(|(s, e)| {
            let mut points = vec![s];
            points.extend(cuts.iter().copied().filter(|&c| c > s && c < e));
            points.push(e);
            points
                .windows(2)
                .filter_map(|w| match w {
                    [a, b] => Some((*a, *b)),
                    _ => None,
                })
                .collect::<Vec<_>>()
        })
        .filter(|(s, e)| e.saturating_sub(*s) > MIN_GAP)
        .collect();
    for (s, e) in gaps {
        let (x0, x1) = (x_of(s, total), x_of(e, total));
        let (gy, gh) = lane(s, e);
        let size = human_size(e.saturating_sub(s));
        let (key, label, tip, line) = match extended.filter(|_| inside_extended(s, e)) {
            Some(x) => (
                "extended-free",
                "free space inside the extended partition (room for logical partitions)",
                format!(
                    "free inside extended partition {}: {size} at byte {s}",
                    x.slot
                ),
                (
                    format!("free in partition {}", x.slot),
                    format!(
                        "{size} at byte {s} (inside the extended partition, no logical partition there)"
                    ),
                ),
            ),
            None => (
                "unpartitioned",
                "unpartitioned space",
                format!("unpartitioned: {size} at byte {s}"),
                ("unpartitioned".into(), format!("{size} at byte {s}")),
            ),
        };
        c.rect(
            x0,
            x1,
            gy,
            gh,
            (key, "url(#free)", label),
            r##"stroke="#c90" stroke-dasharray="4 2""##,
            &tip,
        );
        gap_lines.push(line);
    }

    // The partitions, largest first: a small one in the same pixels as
    // a large neighbour is drawn on top of it, never under (a 32 MiB
    // partition beside a 15 TiB one vanished, and its findings' marker
    // pointed at the neighbour).
    let mut by_size: Vec<&&Node> = parts.iter().collect();
    by_size.sort_by_key(|p| std::cmp::Reverse(p.span.map_or(0, |s| s.size)));
    for p in by_size {
        let Some(span) = p.span else { continue };
        let end = span.start.saturating_add(span.size);
        let (x0, x1) = (x_of(span.start, total), x_of(end, total));
        let inner = p.children.iter().find(|f| f.layer.is_some());
        let fs_kind = inner.map(|f| f.kind.as_str());
        let (key, fill, ink, label) = contents_mark(fs_kind);
        let name = format!(
            "partition {} ({})",
            span.index,
            fs_kind.unwrap_or("no contents read")
        );
        let (py, ph) = lane(span.start, end);
        c.rect(
            x0,
            x1,
            py,
            ph,
            (key, fill, label),
            r##"stroke="#222""##,
            &format!("{name}: {} at byte {}", human_size(span.size), span.start),
        );
        let w = x1.saturating_sub(x0);
        let tag = if w > 80 {
            format!("p{} {}", span.index, fs_kind.unwrap_or(""))
        } else {
            format!("p{}", span.index)
        };
        // About 7 pixels a character at 12 px: only a label that fits.
        let fits = u64::try_from(tag.chars().count())
            .unwrap_or(u64::MAX)
            .saturating_mul(7)
            .saturating_add(6);
        if w > fits {
            let _ = writeln!(
                c.body,
                r##"<text x="{}" y="{}" font-size="12" fill="{ink}">{}</text>"##,
                x0.saturating_add(4),
                py.saturating_add(18),
                esc(&tag)
            );
        }
        if end > total {
            notes.push(format!(
                "partition {} runs {} past the end of the disk",
                span.index,
                human_size(end.saturating_sub(total))
            ));
        }
    }
    // Listed in table order, the extended container (listed above)
    // before its logical partitions, which say they are in it.
    for p in &parts {
        let Some(span) = p.span else { continue };
        let logical = extended.filter(|_| {
            span.index >= 5 && inside_extended(span.start, span.start.saturating_add(span.size))
        });
        if let (Some(x), Some(line)) = (extended, &ext_line)
            && (logical.is_some() || span.index > x.slot)
            && !part_lines.contains(line)
        {
            part_lines.push(line.clone());
        }
        part_lines.push((
            format!("partition {}", span.index),
            format!(
                "{} at byte {} — {}{}",
                human_size(span.size),
                span.start,
                p.title,
                logical.map_or_else(String::new, |x| format!(
                    " (logical, in extended partition {})",
                    x.slot
                ))
            ),
        ));
    }
    if let Some(line) = ext_line
        && !part_lines.contains(&line)
    {
        part_lines.push(line);
    }

    // No partitions: the disk holds one thing whole (a PV, a filesystem).
    if parts.is_empty()
        && let Some(inner) = table.and_then(|t| t.children.iter().find(|n| n.layer.is_some()))
    {
        let (key, fill, ink, label) = contents_mark(Some(inner.kind.as_str()));
        c.rect(
            LEFT,
            bar_end,
            BAR_Y,
            BAR_H,
            (key, fill, label),
            r##"stroke="#222""##,
            &format!("the whole disk: {}", inner.title),
        );
        let _ = writeln!(
            c.body,
            r##"<text x="{}" y="{}" font-size="12" fill="{ink}">{}</text>"##,
            LEFT.saturating_add(4),
            BAR_Y.saturating_add(18),
            esc(&format!("whole disk: {}", inner.kind))
        );
        part_lines.push((
            "whole disk".into(),
            format!("{} — {}", inner.kind, inner.title),
        ));
    }

    // Zeroed structures, red on the bar: damage, where a zeroed range
    // took what a layer needed.
    for f in report
        .findings()
        .into_iter()
        .filter(|f| f.code == "layout.zeroed")
    {
        let end = report
            .zero_ranges
            .iter()
            .find(|(s, _)| *s == f.offset)
            .map_or(f.offset, |(_, e)| *e);
        c.rect(
            x_of(f.offset, total),
            x_of(end, total),
            BAR_Y,
            BAR_H,
            (
                "zeroed",
                "#d62728",
                "zeroed structures (a zeroed range took what a layer needs)",
            ),
            r#"fill-opacity="0.75""#,
            &f.message,
        );
    }

    // Lanes under the bar.
    let mut y = BAR_Y.saturating_add(BAR_H).saturating_add(2);
    if !report.zero_ranges.is_empty() {
        c.text(
            LEFT.saturating_sub(8),
            y.saturating_add(7),
            10,
            &[("zeros", r#"text-anchor="end""#)],
        );
        // Ranges in the same pixels are one rectangle: a disk of
        // alternating zero and data blocks draws at most one per pixel.
        let mut sorted: Vec<(u64, u64)> = report.zero_ranges.clone();
        sorted.sort_unstable();
        let mut runs: Vec<(u64, u64, u64, usize)> = Vec::new(); // start, end, zero bytes, ranges
        for (s, e) in sorted {
            match runs.last_mut() {
                Some(r) if x_of(s, total) <= x_of(r.1, total).saturating_add(1) => {
                    r.1 = r.1.max(e);
                    r.2 = r.2.saturating_add(e.saturating_sub(s));
                    r.3 = r.3.saturating_add(1);
                }
                _ => runs.push((s, e, e.saturating_sub(s), 1)),
            }
        }
        for (s, e, bytes, n) in runs {
            let tip = if n == 1 {
                format!("all zeros: {} at byte {s}", human_size(bytes))
            } else {
                format!(
                    "all zeros: {n} ranges, {} in all, between bytes {s} and {e}",
                    human_size(bytes)
                )
            };
            c.rect(
                x_of(s, total),
                x_of(e, total),
                y,
                8,
                ("zeros", "#777", "all-zero range (normal in unused space)"),
                "",
                &tip,
            );
        }
        y = y.saturating_add(8).saturating_add(LANE_GAP);
    } else {
        y = y.saturating_add(LANE_GAP);
    }

    // Boot structures: what the firmware reads, where it is.
    let mut boot: Vec<(u64, u64, MarkDef, String)> = Vec::new();
    let mut boot_lines: Vec<(String, String)> = Vec::new();
    if let Some(b) = &report.boot {
        let bios_set_up = b.bios.outcome != Outcome::NotSetUp;
        if bios_set_up {
            boot.push((
                0,
                MBR_CODE,
                (
                    "boot-mbr",
                    "#000000",
                    "MBR boot code (sector 0, bytes 0-439)",
                ),
                "MBR boot code: bytes 0-439 of sector 0".into(),
            ));
        }
        let scheme = table
            .and_then(|t| t.facts.table.as_ref())
            .map(|t| t.scheme.as_str());
        let first = parts.iter().filter_map(|p| p.span).map(|s| s.start).min();
        let has_bios_boot = parts.iter().any(|p| {
            p.facts
                .promised
                .as_ref()
                .is_some_and(|e| e.contents == Promise::BiosBoot)
        });
        if bios_set_up
            && scheme == Some("mbr")
            && !has_bios_boot
            && let Some(first) = first.filter(|&f| f > 512)
        {
            boot.push((
                512,
                first,
                (
                    "boot-gap",
                    "#ff7f0e",
                    "post-MBR gap (sector 1 to the first partition: where GRUB embeds core.img)",
                ),
                format!("post-MBR gap: bytes 512-{first}"),
            ));
        }
        for p in &parts {
            let (Some(span), Some(e)) = (p.span, p.facts.promised.as_ref()) else {
                continue;
            };
            let end = span.start.saturating_add(span.size);
            match e.contents {
                Promise::BiosBoot => boot.push((
                    span.start,
                    end,
                    (
                        "boot-bios",
                        "#edc948",
                        "BIOS boot partition (GRUB core.img)",
                    ),
                    format!("BIOS boot partition {}", span.index),
                )),
                Promise::EfiSystem => boot.push((
                    span.start,
                    end,
                    (
                        "boot-esp",
                        "#2ca02c",
                        "partition typed EFI System (where UEFI looks for loaders)",
                    ),
                    format!("EFI System Partition {}", span.index),
                )),
                _ => {}
            }
        }
        // As the text report: a disk set up for neither path (a data
        // disk) gets no boot lines.
        let set_up = !b.findings.is_empty()
            || [&b.bios, &b.uefi]
                .iter()
                .any(|v| v.outcome != Outcome::NotSetUp);
        for v in [&b.bios, &b.uefi].into_iter().filter(|_| set_up) {
            let outcome = match v.outcome {
                Outcome::Boots => "boots as far as the disk shows",
                Outcome::Depends => "boots only through firmware NVRAM",
                Outcome::Fails => "fails",
                Outcome::NotSetUp => "not set up",
            };
            boot_lines.push((format!("{}: {outcome}:", v.path), v.summary.clone()));
        }
    }
    if !boot.is_empty() {
        c.text(
            LEFT.saturating_sub(8),
            y.saturating_add(13),
            11,
            &[("boot", r#"text-anchor="end" font-weight="bold""#)],
        );
        // The largest first, so a small structure (the MBR's code, in the
        // same pixels as the gap after it) is drawn on top.
        boot.sort_by_key(|(s, e, _, _)| std::cmp::Reverse(e.saturating_sub(*s)));
        for (s, e, mark, tip) in &boot {
            let (x0, x1) = (x_of(*s, total), x_of(*e, total));
            // A 440-byte structure is less than a pixel: drawn 4 wide.
            let x1 = x1.max(x0.saturating_add(4));
            c.rect(x0, x1, y, LANE_H, *mark, r##"stroke="#222""##, tip);
            let short = match mark.0 {
                "boot-esp" => "ESP",
                "boot-bios" => "BIOS boot",
                "boot-gap" => "core.img gap",
                _ => "",
            };
            let need = u64::try_from(short.chars().count())
                .unwrap_or(u64::MAX)
                .saturating_mul(6)
                .saturating_add(6);
            if !short.is_empty() && x1.saturating_sub(x0) > need {
                let ink = if mark.0 == "boot-esp" { "#fff" } else { "#000" };
                let _ = writeln!(
                    c.body,
                    r##"<text x="{}" y="{}" font-size="10" fill="{ink}">{short}</text>"##,
                    x0.saturating_add(3),
                    y.saturating_add(13),
                );
            }
        }
        y = y.saturating_add(LANE_H).saturating_add(LANE_GAP);
    }

    // LVM: each PV on this disk, its metadata area and its LVs' extents.
    let pv_nodes = pvs(&report.root, total);
    let lv_maps = lvs(&pv_nodes);
    let mut lv_lines: Vec<(String, String)> = Vec::new();
    if !pv_nodes.is_empty() {
        c.text(
            LEFT.saturating_sub(8),
            y.saturating_add(13),
            11,
            &[("LVM", r#"text-anchor="end" font-weight="bold""#)],
        );
        let mut drawn = 0usize;
        let mut lv_index = 0usize;
        for (pv, n) in &pv_nodes {
            let end = pv.base.saturating_add(pv.len);
            c.rect(
                x_of(pv.base, total),
                x_of(end, total),
                y,
                LANE_H,
                ("lvm-pv", "#fde0c5", "LVM PV: extents no LV uses"),
                r##"stroke="#c85200""##,
                &format!("PV {}: {} at byte {}", pv.uuid, human_size(pv.len), pv.base),
            );
            c.rect(
                x_of(pv.base, total),
                x_of(pv.base.saturating_add(pv.pe_start), total),
                y,
                LANE_H,
                ("lvm-meta", "#c85200", "LVM PV label and metadata area"),
                "",
                &format!("PV {} label and metadata: {} bytes", pv.uuid, pv.pe_start),
            );
            let ext = extent_size(n).unwrap_or(0);
            for lv in &n.children {
                let Some(Step::Volume(name)) = lv.place.0.last() else {
                    continue;
                };
                let (key, fill, label) = match LV_PALETTE.get(lv_index) {
                    Some(f) => (format!("lv-{name}"), *f, format!("LV {name}")),
                    None => (
                        "lv-other".to_string(),
                        "#cfcfcf",
                        "other LVs (their names in the tooltips)".to_string(),
                    ),
                };
                lv_index = lv_index.saturating_add(1);
                let extents = lv_extents(lv, &pv_nodes, ext);
                for (s, len) in &extents {
                    if drawn >= MAX_SEGMENTS {
                        break;
                    }
                    drawn = drawn.saturating_add(1);
                    let e = s.saturating_add(*len);
                    let (x0, x1) = (x_of(*s, total), x_of(e, total));
                    c.rect(
                        x0,
                        x1,
                        y,
                        LANE_H,
                        (key.as_str(), fill, label.as_str()),
                        r##"stroke="#333" stroke-width="0.5""##,
                        &format!("LV {name}: {} at byte {s}", human_size(*len)),
                    );
                    let lv_short = name.rsplit('/').next().unwrap_or(name);
                    let need = u64::try_from(lv_short.chars().count())
                        .unwrap_or(u64::MAX)
                        .saturating_mul(6)
                        .saturating_add(6);
                    if x1.saturating_sub(x0) > need {
                        let _ = writeln!(
                            c.body,
                            r##"<text x="{}" y="{}" font-size="10">{}</text>"##,
                            x0.saturating_add(3),
                            y.saturating_add(13),
                            esc(lv_short)
                        );
                    }
                }
                let placed = if extents.is_empty() {
                    "not drawn: its extents are in sub-LVs or on PVs not on this disk".to_string()
                } else {
                    format!("{} run(s) of extents on this disk", extents.len())
                };
                // The title starts with the name the row already shows.
                let head = format!("LV {name}");
                let what = lv
                    .title
                    .strip_prefix(&head)
                    .map_or(lv.title.as_str(), |t| t.trim_start_matches([',', ' ']));
                lv_lines.push((head, format!("{what} — {placed}")));
            }
        }
        y = y.saturating_add(LANE_H).saturating_add(LANE_GAP);
    }

    // The scale under the lanes.
    let axis_y = y.saturating_add(2);
    for k in 0..=4u64 {
        let off = u128::from(total)
            .saturating_mul(u128::from(k))
            .checked_div(4)
            .and_then(|o| u64::try_from(o).ok())
            .unwrap_or(total);
        let x = x_of(off, total);
        let anchor = match k {
            0 => "start",
            4 => "end",
            _ => "middle",
        };
        let _ = writeln!(
            c.body,
            r##"<line x1="{x}" y1="{axis_y}" x2="{x}" y2="{}" stroke="#333"/><text x="{x}" y="{}" font-size="11" text-anchor="{anchor}">{}</text>"##,
            axis_y.saturating_add(5),
            axis_y.saturating_add(17),
            esc(&human_size(off))
        );
    }
    let _ = writeln!(
        c.body,
        r##"<line x1="{LEFT}" y1="{axis_y}" x2="{bar_end}" y2="{axis_y}" stroke="#333"/>"##
    );
    y = axis_y.saturating_add(34);

    // Findings: placed on the disk where their offset is this disk's.
    let all = report.findings();
    let mut placed: Vec<OnDisk<'_>> = Vec::new();
    let mut undrawn: Vec<(Undrawn, &Finding)> = Vec::new();
    for f in &all {
        let disk = match f.space {
            Space::File => {
                undrawn.push((Undrawn::File, f));
                continue;
            }
            Space::Disk if !nested(&f.place) => Some(f.offset),
            Space::Volume => {
                // The innermost volume of its place, if it is an LV of
                // this disk (not one inside a nested disk).
                lv_maps
                    .iter()
                    .filter(|l| f.place.0.starts_with(&l.place.0))
                    .max_by_key(|l| l.place.0.len())
                    .filter(|l| {
                        !f.place
                            .0
                            .get(l.place.0.len()..)
                            .unwrap_or_default()
                            .iter()
                            .any(|s| matches!(s, Step::Volume(_) | Step::Container(_)))
                    })
                    .and_then(|l| l.to_disk(f.offset))
            }
            Space::Disk => None,
        };
        match disk {
            Some(d) => placed.push(OnDisk {
                x: x_of(d, total),
                disk: d,
                f,
            }),
            None => undrawn.push((Undrawn::Nested, f)),
        }
    }
    placed.sort_by(|a, b| {
        a.x.cmp(&b.x)
            .then(b.f.severity.cmp(&a.f.severity))
            .then(a.disk.cmp(&b.disk))
    });
    // Markers closer than a badge merge: one badge, the worst severity's
    // colour, with the count.
    let mut groups: Vec<Vec<OnDisk<'_>>> = Vec::new();
    for p in placed {
        match groups.last_mut() {
            Some(g)
                if g.first().is_some_and(|a| {
                    p.x < a.x.saturating_add(BADGE_W).saturating_add(BADGE_GAP)
                }) =>
            {
                g.push(p);
            }
            _ => groups.push(vec![p]),
        }
    }
    for (i, g) in groups.iter().enumerate() {
        let (Some(first), Some(last)) = (g.first(), g.last()) else {
            continue;
        };
        let worst = g
            .iter()
            .map(|p| p.f.severity)
            .max()
            .unwrap_or(Severity::Info);
        let (fill, ink) = severity_colour(worst);
        let name = group_name(i);
        let label = if g.len() > 1 {
            format!("{name}×{}", g.len().min(99))
        } else {
            name.clone()
        };
        let label = if g.len() > 99 {
            format!("{label}+")
        } else {
            label
        };
        let worst_key = match worst {
            Severity::Error => c.marks.used("marker-error", fill, "error finding"),
            Severity::Warning => c.marks.used("marker-warning", fill, "warning finding"),
            Severity::Info => c.marks.used("marker-info", fill, "info finding"),
        };
        let key = if g.len() > 1 {
            c.marks.used(
                "marker-merged",
                "#fff",
                "A×3: three findings within a few pixels, merged (colour of the worst)",
            )
        } else {
            worst_key.clone()
        };
        // Every severity in the group is in the legend: the list below
        // colours each finding by its own.
        for p in g {
            let (f2, _) = severity_colour(p.f.severity);
            let _ = match p.f.severity {
                Severity::Error => c.marks.used("marker-error", f2, "error finding"),
                Severity::Warning => c.marks.used("marker-warning", f2, "warning finding"),
                Severity::Info => c.marks.used("marker-info", f2, "info finding"),
            };
        }
        let x = first.x;
        let x0 = x.saturating_sub(BADGE_HALF);
        let mut tip: Vec<String> = g
            .iter()
            .take(MAX_TIP)
            .map(|p| {
                format!(
                    "{} {} @ {}: {}",
                    p.f.severity,
                    p.f.code,
                    where_of(p.f),
                    p.f.message
                )
            })
            .collect();
        let fit = if label.chars().count() > 4 {
            format!(
                r#" textLength="{}" lengthAdjust="spacingAndGlyphs""#,
                BADGE_W.saturating_sub(6)
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            c.body,
            r##"<g class="marker" data-mark="{key}"><title>{}</title><rect x="{x0}" y="{BADGE_TOP}" width="{BADGE_W}" height="{BADGE_H}" rx="3" fill="{fill}" stroke="#000" stroke-width="0.6" data-mark="{worst_key}"/><text x="{x}" y="{}" font-size="11" font-weight="bold" text-anchor="middle" fill="{ink}"{fit}>{}</text><path d="M{} {} L{} {} L{x} {} Z" fill="{fill}" stroke="#000" stroke-width="0.6"/>"##,
            esc(&{
                if g.len() > MAX_TIP {
                    tip.push(format!("… and {} more", g.len().saturating_sub(MAX_TIP)));
                }
                tip.join("\n")
            }),
            BADGE_TOP.saturating_add(12),
            esc(&label),
            x.saturating_sub(5),
            BADGE_TOP.saturating_add(BADGE_H),
            x.saturating_add(5),
            BADGE_TOP.saturating_add(BADGE_H),
            BAR_Y.saturating_sub(1),
        );
        if last.x > x.saturating_add(2) {
            // The merged findings spread over a few pixels: a bracket.
            let _ = write!(
                c.body,
                r##"<line x1="{x}" y1="{}" x2="{}" y2="{}" stroke="{fill}" stroke-width="2"/>"##,
                BAR_Y.saturating_sub(3),
                last.x,
                BAR_Y.saturating_sub(3),
            );
        }
        let _ = writeln!(c.body, "</g>");
    }

    // Text under the drawing: the parts, the legend, the findings.
    let mut t = Canvas {
        body: String::new(),
        marks: Marks::default(),
    };
    let heading = |t: &mut Canvas, y: &mut u64, s: &str| {
        *y = y.saturating_add(6);
        t.text(LEFT, *y, 13, &[(s, r#"font-weight="bold""#)]);
        *y = y.saturating_add(LINE);
    };
    let rows =
        |t: &mut Canvas, y: &mut u64, items: &[(String, String)], max_lines: usize, noun: &str| {
            if items.len() > MAX_ROWS {
                t.text(
                    LEFT,
                    *y,
                    12,
                    &[(
                        format!(
                            "the first {MAX_ROWS} of {} {noun} (the text report lists them all)",
                            items.len()
                        )
                        .as_str(),
                        r##"fill="#555""##,
                    )],
                );
                *y = y.saturating_add(LINE);
            }
            for (name, text) in items.iter().take(MAX_ROWS) {
                let mut first = true;
                let room = CHARS.saturating_sub(name.chars().count()).saturating_sub(1);
                for l in wrap(text, room, max_lines) {
                    if first {
                        t.text(
                            LEFT,
                            *y,
                            12,
                            &[
                                (name.as_str(), r#"font-weight="bold""#),
                                (format!(" {l}").as_str(), ""),
                            ],
                        );
                        first = false;
                    } else {
                        t.text(LEFT.saturating_add(24), *y, 12, &[(l.as_str(), "")]);
                    }
                    *y = y.saturating_add(LINE);
                }
            }
        };
    if !part_lines.is_empty() {
        heading(&mut t, &mut y, "Partitions");
        rows(&mut t, &mut y, &part_lines, 2, "partitions");
        // Never cut with the partitions: the space no partition holds.
        rows(&mut t, &mut y, &gap_lines, 2, "unpartitioned ranges");
    }
    for n in &notes {
        t.text(LEFT, y, 12, &[(n.as_str(), r##"fill="#c00""##)]);
        y = y.saturating_add(LINE);
    }
    if !lv_lines.is_empty() {
        heading(&mut t, &mut y, "Logical volumes");
        rows(&mut t, &mut y, &lv_lines, 2, "logical volumes");
    }
    if !boot_lines.is_empty() {
        heading(&mut t, &mut y, "Boot");
        rows(&mut t, &mut y, &boot_lines, 3, "lines");
    }

    // The legend: one swatch per kind of mark drawn, flowing in rows.
    heading(&mut t, &mut y, "Legend");
    let mut lx = LEFT;
    // What is drawn first, then the markers, worst first.
    let rank = |k: &str| match k {
        "marker-error" => 1,
        "marker-warning" => 2,
        "marker-info" => 3,
        "marker-merged" => 4,
        _ => 0,
    };
    c.marks.0.sort_by_key(|m| rank(&m.key));
    for m in &c.marks.0 {
        // DejaVu Sans at 12 px: digits and capitals are nearly 8 wide.
        let text_w = u64::try_from(m.label.chars().count())
            .unwrap_or(u64::MAX)
            .saturating_mul(8);
        let w = text_w.saturating_add(40);
        if lx > LEFT && lx.saturating_add(w) > bar_end {
            lx = LEFT;
            y = y.saturating_add(LINE.saturating_add(4));
        }
        let swatch = if m.key.starts_with("marker") {
            let (fill, ink) = match m.key.as_str() {
                "marker-error" => severity_colour(Severity::Error),
                "marker-warning" => severity_colour(Severity::Warning),
                "marker-info" => severity_colour(Severity::Info),
                _ => ("#fff", "#000"),
            };
            let letter = if m.key == "marker-merged" {
                "A×3"
            } else {
                "A"
            };
            format!(
                r##"<rect x="{lx}" y="{}" width="26" height="14" rx="3" fill="{fill}" stroke="#000" stroke-width="0.6"/><text x="{}" y="{}" font-size="9" font-weight="bold" text-anchor="middle" fill="{ink}">{letter}</text>"##,
                y.saturating_sub(11),
                lx.saturating_add(13),
                y.saturating_sub(1),
            )
        } else {
            format!(
                r##"<rect x="{lx}" y="{}" width="26" height="14" fill="{}" stroke="#333"/>"##,
                y.saturating_sub(11),
                esc(&m.fill)
            )
        };
        let _ = writeln!(
            t.body,
            r##"<g class="legend-entry" data-mark="{}">{swatch}<text x="{}" y="{y}" font-size="12">{}</text></g>"##,
            esc(&m.key),
            lx.saturating_add(32),
            esc(&m.label)
        );
        lx = lx.saturating_add(w);
    }
    y = y.saturating_add(LINE);

    // The findings as text: by marker, left to right, then those with no
    // place on this disk.
    let mut listed = 0usize;
    let mut rest: Vec<(String, usize)> = Vec::new();
    let mut list_one = |t: &mut Canvas, y: &mut u64, tag: &str, f: &Finding, disk: Option<u64>| {
        if listed >= MAX_LISTED {
            match rest.iter_mut().find(|(c, _)| c.as_str() == f.code.as_ref()) {
                Some((_, n)) => *n = n.saturating_add(1),
                None => rest.push((f.code.to_string(), 1)),
            }
            return;
        }
        listed = listed.saturating_add(1);
        let (fill, _) = severity_colour(f.severity);
        let sev = f.severity.to_string();
        let fill_attr = format!(r#"fill="{fill}" font-weight="bold""#);
        t.text(
            LEFT,
            *y,
            12,
            &[
                (tag, fill_attr.as_str()),
                (
                    format!("  {sev:<7} ").as_str(),
                    format!(r#"fill="{fill}""#).as_str(),
                ),
                (f.code.as_ref(), r#"font-weight="bold""#),
                (
                    format!(
                        "  @ {}{}",
                        cut(&where_of(f), 80),
                        // Placed through an LV's extents: where that is.
                        disk.filter(|_| f.space != Space::Disk)
                            .map(|d| format!(" (on the disk at {d:#x})"))
                            .unwrap_or_default()
                    )
                    .as_str(),
                    r##"fill="#555""##,
                ),
            ],
        );
        *y = y.saturating_add(LINE);
        for l in wrap(&f.message, CHARS.saturating_sub(4), MSG_LINES) {
            t.text(LEFT.saturating_add(24), *y, 12, &[(l.as_str(), "")]);
            *y = y.saturating_add(LINE);
        }
    };
    if !groups.is_empty() {
        heading(
            &mut t,
            &mut y,
            "Findings on the disk (by marker, left to right)",
        );
        for (i, g) in groups.iter().enumerate() {
            let name = group_name(i);
            let (keep, folded) = fold(g.iter().map(|p| p.f));
            for p in keep.iter().filter_map(|&k| g.get(k)) {
                list_one(&mut t, &mut y, &name, p.f, Some(p.disk));
            }
            y = folded_lines(&mut t, y, &folded, "at this marker");
        }
    }
    undrawn.sort_by_key(|(why, _)| *why);
    for why in [Undrawn::File, Undrawn::Nested] {
        let these: Vec<&Finding> = undrawn
            .iter()
            .filter(|(w, _)| *w == why)
            .map(|(_, f)| *f)
            .collect();
        if these.is_empty() {
            continue;
        }
        let h = match why {
            Undrawn::File => "Findings in the image file (container metadata, not on the disk)",
            Undrawn::Nested => {
                "Findings inside a volume or a nested disk (not placed on this disk)"
            }
        };
        heading(&mut t, &mut y, h);
        let (keep, folded) = fold(these.iter().copied());
        for f in keep.iter().filter_map(|&k| these.get(k)) {
            list_one(&mut t, &mut y, "·", f, None);
        }
        y = folded_lines(&mut t, y, &folded, "here");
    }
    if !rest.is_empty() {
        let total_rest: usize = rest.iter().map(|(_, n)| *n).fold(0, usize::saturating_add);
        let text = format!(
            "… and {total_rest} more, by code (the text report lists them all): {}",
            rest.iter()
                .map(|(c, n)| format!("{c} ×{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        // Every code stays on the page: as many lines as it takes.
        for l in wrap(&text, CHARS, usize::MAX) {
            t.text(LEFT, y, 12, &[(l.as_str(), "")]);
            y = y.saturating_add(LINE);
        }
    }
    let counts = |s: Severity| all.iter().filter(|f| f.severity == s).count();
    y = y.saturating_add(6);
    t.text(
        LEFT,
        y,
        13,
        &[(
            format!(
                "findings: {}, {}, {} info; verdict {}",
                crate::render::plural(counts(Severity::Error), "error"),
                crate::render::plural(counts(Severity::Warning), "warning"),
                counts(Severity::Info),
                report.verdict().as_str()
            )
            .as_str(),
            r#"font-weight="bold""#,
        )],
    );
    let height = y.saturating_add(16);
    let page_w = LEFT.saturating_add(WIDTH).saturating_add(RIGHT);
    let title = cut(&report.image, 110);
    let subtitle = format!(
        "{}, disk {} ({} bytes), file {}",
        report.format,
        human_size(total),
        total,
        human_size(report.file_size)
    );
    format!(
        r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{page_w}" height="{height}" viewBox="0 0 {page_w} {height}" font-family="DejaVu Sans, Verdana, sans-serif">
<defs><pattern id="free" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="8" height="8" fill="#f4ecd0"/><line x1="0" y1="0" x2="0" y2="8" stroke="#d9c88e" stroke-width="3"/></pattern></defs>
<rect width="100%" height="100%" fill="#fff"/>
<text x="{LEFT}" y="26" font-size="16" font-weight="bold"><title>{}</title>{}</text>
<text x="{LEFT}" y="44" font-size="12">{}</text>
{}{}</svg>
"##,
        esc(&report.image),
        esc(&title),
        esc(&subtitle),
        c.body,
        t.body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_breaks_between_words_and_cuts_with_an_ellipsis() {
        assert_eq!(wrap("aaaa bbbb cccc", 9, 3), vec!["aaaa bbbb", "cccc"]);
        assert_eq!(wrap("aaaa bbbb cccc dddd", 9, 1), vec!["aaaa bbb…"]);
        assert_eq!(wrap("abcdefghijkl", 8, 3), vec!["abcdefgh", "ijkl"]);
        assert!(wrap("", 10, 2).is_empty());
    }

    #[test]
    fn esc_keeps_the_xml_valid() {
        assert_eq!(
            esc("a<b>&\"\u{1}\u{ffff}"),
            "a&lt;b&gt;&amp;&quot;\u{fffd}\u{fffd}"
        );
    }

    #[test]
    fn group_names_run_past_z() {
        assert_eq!(group_name(0), "A");
        assert_eq!(group_name(25), "Z");
        assert_eq!(group_name(26), "AA");
        assert_eq!(group_name(27), "AB");
    }
}

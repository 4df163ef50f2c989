//! Partition table (MBR/GPT) → report node and the partitions to descend into.

use super::Options;
use crate::report::Node;
use imgcheck_core::ReadAt;
use imgcheck_gpt::{Analysis, Scheme};
use serde_json::json;

/// A partition the CLI descends into, with its node (the filesystem node is
/// added as its child).
pub struct Part {
    /// 1-based partition number as the table numbers it.
    pub index: u32,
    /// Start on the disk, in bytes.
    pub start: u64,
    /// Size in bytes as the table claims it (may run past a truncated disk).
    pub size: u64,
    /// The `partition N` node.
    pub node: Node,
}

/// The partition table of a disk.
pub struct Table {
    /// The table node (`gpt`, `mbr`, or `none` for a whole-disk filesystem).
    pub node: Node,
    /// Partitions found, in table order.
    pub parts: Vec<Part>,
}

/// Binary size for titles: `64 MiB`, `1.5 GiB`.
fn human(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n;
    let mut tenths = 0u64;
    let mut unit = 0usize;
    while v >= 1024 && unit < 5 {
        tenths = (v % 1024).saturating_mul(10) / 1024;
        v /= 1024;
        unit = unit.saturating_add(1);
    }
    let name = UNITS.get(unit).copied().unwrap_or("B");
    if tenths == 0 {
        format!("{v} {name}")
    } else {
        format!("{v}.{tenths} {name}")
    }
}

fn table_title(a: &Analysis) -> String {
    let t = &a.tables;
    let ss = t.sector.bytes;
    let n = a.partitions.len();
    let disk = human(t.disk_size);
    let plural = if n == 1 { "" } else { "s" };
    match t.scheme {
        Scheme::Gpt => {
            let state = if t.gpt_valid() { "" } else { " (damaged)" };
            format!("GPT{state}, {ss}-byte sectors, {n} partition{plural}, disk {disk}")
        }
        Scheme::Mbr => {
            let logical = t.mbr.as_ref().map_or(0, |m| m.logicals.len());
            let kind = if t
                .mbr
                .as_ref()
                .is_some_and(|m| m.kind == imgcheck_gpt::MbrKind::Hybrid)
            {
                "hybrid MBR"
            } else {
                "MBR"
            };
            format!(
                "{kind}, {ss}-byte sectors, {n} partition{plural} ({} primary, {logical} logical), disk {disk}",
                n.saturating_sub(logical)
            )
        }
        Scheme::None => match a
            .recovery
            .as_ref()
            .map(|r| r.proposed.len())
            .filter(|&k| k > 0)
        {
            Some(k) => format!(
                "no valid partition table; {k} partitions found by their signatures, disk {disk}"
            ),
            None => format!("no partition table, disk {disk}"),
        },
    }
}

/// Reads and checks the partition table of `disk`.
pub fn inspect(disk: &dyn ReadAt, opts: &Options) -> Table {
    let _ = opts;
    let a = imgcheck_gpt::analyze(disk);
    let mut node = Node::new(a.tables.scheme.as_str(), table_title(&a));
    node.findings = a.findings.clone();
    let t = &a.tables;
    node.details = json!({
        "scheme": t.scheme,
        "disk_size": t.disk_size,
        "sector_size": t.sector.bytes,
        "sector_size_evidence": t.sector.evidence,
        "sector_size_assumed": t.sector.assumed,
        "mbr": t.mbr,
        "gpt_primary": t.primary,
        "gpt_backup": t.backup,
        "backup_searched_lbas": t.backup_searched,
        "partitions": a.partitions,
        "free": a.free,
        "recovery": a.recovery,
    });
    let mut parts: Vec<Part> = a
        .partitions
        .iter()
        .map(|p| {
            let contents = imgcheck_gpt::identify_at(disk, p.start).map(|s| s.display);
            let mut title = format!(
                "start {}, size {}, {}",
                human(p.start),
                human(p.size),
                p.type_name
            );
            if !p.name.is_empty() {
                title.push_str(&format!(" \"{}\"", p.name));
            }
            if let Some(c) = contents {
                title.push_str(&format!(", contains {c}"));
            }
            let mut n = Node::new(format!("partition {}", p.number), title);
            n.details = json!({ "partition": p, "contents": contents });
            Part {
                index: p.number,
                start: p.start,
                size: p.size,
                node: n,
            }
        })
        .collect();
    // A lost table: hand the partitions found by signature to the next
    // layer, so their filesystems get checked where they really start.
    if parts.is_empty()
        && let Some(r) = &a.recovery
    {
        parts = r
            .proposed
            .iter()
            .map(|p| {
                let title = format!(
                    "start {}, size {}, {} (found by signature, not in any table)",
                    human(p.start),
                    human(p.size),
                    p.fs
                );
                let mut n = Node::new(format!("partition {}", p.number), title);
                n.details = json!({ "proposed": p });
                Part {
                    index: p.number,
                    start: p.start,
                    size: p.size,
                    node: n,
                }
            })
            .collect();
    }
    Table { node, parts }
}

/// Names the filesystem or volume whose signature `r` starts with, if any.
pub fn identify(r: &dyn ReadAt) -> Option<String> {
    imgcheck_gpt::identify(r).map(|s| s.display.to_string())
}

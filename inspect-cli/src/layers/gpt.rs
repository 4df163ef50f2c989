//! Partition table (MBR/GPT) → report node and the partitions to descend into.

use super::Options;
use crate::report::{Node, Span};
use imgcheck_core::{Finding, Layer, ReadAt, Severity, Space};
use imgcheck_gpt::{Analysis, Scheme};
use serde_json::json;
use std::collections::HashMap;

/// Most partition nodes made for one table (and so most partitions whose
/// contents the pipeline checks): a garbage or hostile table can declare
/// thousands of entries. The rest are counted in one finding.
pub const MAX_PARTITION_NODES: usize = 256;

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

fn table_title(a: &Analysis) -> String {
    let t = &a.tables;
    let ss = t.sector.bytes;
    let n = a.partitions.len();
    let disk = imgcheck_core::human_size(t.disk_size);
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
        "backup_search": t.backup_search,
        "partitions": a.partitions,
        "free": a.free,
        "recovery": a.recovery,
    });
    // Findings about one partition go on its node (offsets stay in disk
    // space); the table keeps its own and those of partitions past the cap.
    let mut by_part: HashMap<u32, Vec<Finding>> = HashMap::new();
    let shown: Vec<u32> = a
        .partitions
        .iter()
        .take(MAX_PARTITION_NODES)
        .map(|p| p.number)
        .collect();
    for f in &a.findings {
        match f.place.partition() {
            Some(n) if shown.contains(&n) => {
                let mut f = f.clone();
                f.place = imgcheck_core::Place::root();
                by_part.entry(n).or_default().push(f);
            }
            _ => node.findings.push(f.clone()),
        }
    }
    let mut parts: Vec<Part> = Vec::new();
    // The contents of a range are checked once: a garbage table repeating
    // one entry must not have the same filesystem checked again and again.
    let mut inspected: HashMap<(u64, u64), u32> = HashMap::new();
    for p in a.partitions.iter().take(MAX_PARTITION_NODES) {
        let contents = imgcheck_gpt::identify_at(disk, p.start).map(|s| s.display);
        let mut title = format!(
            "start {}, size {}, {}",
            imgcheck_core::human_size(p.start),
            imgcheck_core::human_size(p.size),
            p.type_name
        );
        if !p.name.is_empty() {
            title.push_str(&format!(" \"{}\"", p.name));
        }
        if let Some(c) = contents {
            title.push_str(&format!(", contains {c}"));
        }
        let same = inspected.get(&(p.start, p.size)).copied();
        if let Some(first) = same {
            title.push_str(&format!(
                "; the same range as partition {first}, whose contents are checked there"
            ));
        }
        let mut n = Node::new(format!("partition {}", p.number), title);
        n.details = json!({ "partition": p, "contents": contents });
        n.findings = by_part.remove(&p.number).unwrap_or_default();
        if same.is_some() {
            // Not handed to the pipeline: its node goes straight under the table.
            n.span = Some(Span {
                index: p.number,
                start: p.start,
                size: p.size,
            });
            node.children.push(n);
            continue;
        }
        inspected.insert((p.start, p.size), p.number);
        parts.push(Part {
            index: p.number,
            start: p.start,
            size: p.size,
            node: n,
        });
    }
    if let Some(first) = a.partitions.get(MAX_PARTITION_NODES) {
        node.findings.push(not_inspected(
            &a,
            a.partitions.len(),
            first.number,
            entry_offset(&a, first.number),
        ));
    }
    // A lost table: hand the partitions found by signature to the next
    // layer, so their filesystems get checked where they really start.
    if parts.is_empty()
        && node.children.is_empty()
        && let Some(r) = &a.recovery
    {
        parts = r
            .proposed
            .iter()
            .take(MAX_PARTITION_NODES)
            .map(|p| {
                let title = format!(
                    "start {}, size {}, {} (found by signature, not in any table)",
                    imgcheck_core::human_size(p.start),
                    imgcheck_core::human_size(p.size),
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
        if let Some(first) = r.proposed.get(MAX_PARTITION_NODES) {
            node.findings.push(not_inspected(
                &a,
                r.proposed.len(),
                first.number,
                first.start,
            ));
        }
    }
    Table { node, parts }
}

/// Disk offset of GPT entry `number` in the entry array the partitions
/// come from (0 for an MBR, which never reaches the cap).
fn entry_offset(a: &Analysis, number: u32) -> u64 {
    let t = &a.tables;
    let ss = t.sector.bytes;
    match (t.entries(), t.header()) {
        (Some(e), Some(h)) => e.lba.saturating_mul(ss).saturating_add(
            u64::from(number.saturating_sub(1))
                .saturating_mul(u64::from(h.header.sizeof_partition_entry)),
        ),
        _ => 0,
    }
}

/// The partitions past [`MAX_PARTITION_NODES`]: counted, not inspected.
fn not_inspected(a: &Analysis, total: usize, first: u32, offset: u64) -> Finding {
    let rest = total.saturating_sub(MAX_PARTITION_NODES);
    let what = if a.tables.scheme == Scheme::None {
        "the signature scan proposes"
    } else {
        "the partition table declares"
    };
    Finding::new(
        Severity::Warning,
        "gpt.partition.not_inspected",
        Layer::GPT,
        offset,
        Space::Disk,
        format!(
            "{what} {total} partitions; only the first {MAX_PARTITION_NODES} are shown and have their contents checked: {rest} more (from partition {first} on) were not inspected"
        ),
    )
    .with_hint(
        imgcheck_core::Hint::read_only("sfdisk --dump {disk}")
            .on(imgcheck_core::Target::Disk)
            .because("lists them all; a table this long is usually garbage: compare with the backup copy"),
    )
}

/// Names the filesystem or volume whose signature `r` starts with, if any.
pub fn identify(r: &dyn ReadAt) -> Option<String> {
    imgcheck_gpt::identify(r).map(|s| s.display.to_string())
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::as_conversions)]
mod tests {
    use super::*;
    use imgcheck_core::{BytesReader, FileReader};
    use imgcheck_testdata::{Patch, damaged};

    fn codes(fs: &[Finding]) -> Vec<&str> {
        fs.iter().map(|f| f.code.as_ref()).collect()
    }

    #[test]
    fn partition_findings_sit_on_the_partition_node() {
        // gpt-512 (sgdisk) cut to 24 MiB: partition 4 loses its last MiB.
        let d = damaged("gpt/gpt-512.img", &[Patch::Truncate { len: 24 << 20 }]);
        let disk = FileReader::open(d.path()).unwrap();
        let t = inspect(&disk, &Options::default());
        let p4 = t.parts.iter().find(|p| p.index == 4).unwrap();
        let f = p4
            .node
            .findings
            .iter()
            .find(|f| f.code == "gpt.partition.beyond_disk")
            .unwrap();
        // Disk space: partition 4's entry (ending_lba) in the primary array.
        assert_eq!((f.offset, f.space), (1024 + 3 * 128 + 0x28, Space::Disk));
        let table = codes(&t.node.findings);
        assert!(!table.contains(&"gpt.partition.beyond_disk"), "{table:?}");
        // Table-level findings stay on the table node.
        for c in ["gpt.disk.too_small", "gpt.backup_header.missing"] {
            assert!(table.contains(&c), "{c} not on the table: {table:?}");
        }
        for p in t.parts.iter().filter(|p| p.index != 4) {
            assert!(p.node.findings.is_empty(), "partition {}", p.index);
        }
    }

    /// A GPT whose `n` entries start at `start(i)` and are 8 sectors long,
    /// with valid CRCs: what a hostile table looks like to the reader.
    fn many_entries(n: usize, start: impl Fn(usize) -> u64) -> Vec<u8> {
        let ss = 512usize;
        let mut d = vec![0u8; 8 << 20];
        let mut arr = vec![0u8; n * 128];
        for i in 0..n {
            let e = &mut arr[i * 128..(i + 1) * 128];
            e[0] = 1; // a non-zero type GUID
            e[0x10..0x18].copy_from_slice(&(i as u64 + 1).to_le_bytes());
            e[0x20..0x28].copy_from_slice(&start(i).to_le_bytes());
            e[0x28..0x30].copy_from_slice(&(start(i) + 7).to_le_bytes());
        }
        d[2 * ss..2 * ss + arr.len()].copy_from_slice(&arr);
        let last = (d.len() / ss - 1) as u64;
        let h = &mut d[ss..2 * ss];
        h[..8].copy_from_slice(b"EFI PART");
        h[8..12].copy_from_slice(&0x0001_0000u32.to_le_bytes());
        h[12..16].copy_from_slice(&92u32.to_le_bytes());
        h[0x18..0x20].copy_from_slice(&1u64.to_le_bytes());
        h[0x20..0x28].copy_from_slice(&last.to_le_bytes());
        h[0x28..0x30].copy_from_slice(&4096u64.to_le_bytes());
        h[0x30..0x38].copy_from_slice(&(last - 1).to_le_bytes());
        h[0x48..0x50].copy_from_slice(&2u64.to_le_bytes());
        h[0x50..0x54].copy_from_slice(&(n as u32).to_le_bytes());
        h[0x54..0x58].copy_from_slice(&128u32.to_le_bytes());
        let mut c = crc32fast_free(&arr);
        h[0x58..0x5C].copy_from_slice(&c.to_le_bytes());
        c = crc32fast_free(&h[..92]);
        h[0x10..0x14].copy_from_slice(&c.to_le_bytes());
        d
    }

    /// CRC-32 (IEEE), bitwise: the CLI does not depend on crc32fast.
    fn crc32fast_free(b: &[u8]) -> u32 {
        let mut c = !0u32;
        for &x in b {
            c ^= u32::from(x);
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
            }
        }
        !c
    }

    #[test]
    fn thousands_of_entries_give_at_most_the_cap_of_nodes_and_one_finding() {
        let disk = BytesReader::new(many_entries(8192, |i| 4096 + 8 * i as u64));
        let t = inspect(&disk, &Options::default());
        assert_eq!(t.parts.len(), MAX_PARTITION_NODES);
        assert_eq!(t.parts.last().unwrap().index, MAX_PARTITION_NODES as u32);
        let f: Vec<_> = t
            .node
            .findings
            .iter()
            .filter(|f| f.code == "gpt.partition.not_inspected")
            .collect();
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message.contains("declares 8192 partitions")
                && f[0].message.contains("7936 more (from partition 257 on)"),
            "{}",
            f[0].message
        );
        // Entry 257 in the array at LBA 2.
        assert_eq!(f[0].offset, 1024 + 256 * 128);
    }

    #[test]
    fn one_range_repeated_is_handed_on_once() {
        // Every entry the same 8 sectors: one part for the pipeline, the
        // other nodes under the table without a second check.
        let disk = BytesReader::new(many_entries(300, |_| 4096));
        let t = inspect(&disk, &Options::default());
        assert_eq!(t.parts.len(), 1);
        assert_eq!(t.node.children.len(), MAX_PARTITION_NODES - 1);
        assert!(
            t.node.children[0]
                .title
                .contains("the same range as partition 1")
        );
        assert!(t.node.children.iter().all(|c| c.span.is_some()));
        // Their overlap and duplicate findings sit on them.
        assert!(
            codes(&t.node.children[0].findings).contains(&"gpt.partition.overlap"),
            "{:?}",
            t.node.children[0].findings
        );
        assert!(
            codes(&t.node.findings).contains(&"gpt.partition.not_inspected"),
            "{:?}",
            codes(&t.node.findings)
        );
    }
}

//! A valid table does not end the analysis: the lost-partition scan of
//! the gpt crate also runs over the disk's unpartitioned space and inside
//! partitions whose contents no layer recognised, so a filesystem that
//! survives outside the table (a typo'd re-partition, an old layout under
//! a new table) is named, with its identifiers and dates, and never grown
//! over.

use super::promise;
use crate::report::Node;
use imgcheck_core::{Finding, Hint, Layer, ReadAt, Slice, Space, Target, human_size, time::utc};
use imgcheck_gpt::{Found, ScanLimits, scan_from};
use std::time::Duration;

/// Gaps smaller than this hold no filesystem a partitioner made.
const MIN_GAP: u64 = 1 << 20;
/// Probes (one per MiB) over all regions of one disk, at most.
const MAX_PROBES: u64 = 4096;
/// Wall-clock bound over all regions of one disk.
const SCAN_TIME: Duration = Duration::from_secs(3);
/// Regions scanned per disk, at most.
const MAX_REGIONS: usize = 64;

/// Where to look: `(start, len, partition it lies in)`, in disk order.
fn regions(table: &Node, disk_len: u64) -> Vec<(u64, u64, Option<u32>)> {
    let mut spans: Vec<(u64, u64)> = table
        .partitions()
        .filter_map(|p| p.span)
        .map(|s| (s.start, s.start.saturating_add(s.size).min(disk_len)))
        .collect();
    spans.sort_unstable();
    // The tail a GPT keeps for its backup, and the space past the disk
    // size it was written for, are the size chain's to judge.
    let end = table
        .facts
        .written_for
        .map_or(disk_len, |w| w.min(disk_len).saturating_sub(MIN_GAP / 32));
    let mut out = Vec::new();
    let mut at = 0u64;
    for (s, e) in spans.iter().copied().chain(std::iter::once((end, end))) {
        let gap_end = s.min(end);
        if gap_end > at && gap_end.saturating_sub(at) >= MIN_GAP {
            out.push((at, gap_end.saturating_sub(at), None));
        }
        at = at.max(e);
    }
    for p in table.partitions() {
        if let Some(s) = p.span
            && p.children.is_empty()
            && s.size >= MIN_GAP
            && s.start < disk_len
        {
            out.push((
                s.start,
                s.size.min(disk_len.saturating_sub(s.start)),
                Some(s.index),
            ));
        }
    }
    out.sort_unstable();
    out.truncate(MAX_REGIONS);
    out
}

/// Every filesystem or volume found outside the table under `root`, or
/// inside a partition of it at an offset other than its start, as a
/// finding (none found: no finding, so that no step grows over them).
pub fn check(root: &Node, disk: &dyn ReadAt) -> Vec<Finding> {
    let Some(table) = root.table() else {
        return Vec::new();
    };
    let scheme = table
        .facts
        .table
        .as_ref()
        .map_or("", |t| t.scheme.as_str())
        .to_string();
    if !matches!(scheme.as_str(), "gpt" | "mbr") {
        return Vec::new();
    }
    let ss = table.facts.sector_size.unwrap_or(512);
    let mut left = MAX_PROBES;
    let started = std::time::Instant::now();
    let mut findings = Vec::new();
    for (start, len, inside) in regions(table, disk.len()) {
        let Some(time) = SCAN_TIME.checked_sub(started.elapsed()) else {
            break;
        };
        if left == 0 {
            break;
        }
        let slice = Slice::clamped(disk, start, len);
        // The region's cylinder boundaries are the disk's.
        let rec = scan_from(
            &slice,
            ss,
            &ScanLimits {
                max_probes: left,
                time,
            },
            start,
        );
        left = left.saturating_sub(rec.probes);
        for f in rec.found {
            let at = start.saturating_add(f.start);
            // The table's own sector, and a partition's start (what its
            // type promised and found missing is told by promise.rs).
            if at == 0 || (inside.is_some() && f.start == 0) {
                continue;
            }
            findings.push(finding(disk, &scheme, &f, at, inside, start));
        }
    }
    findings
}

fn finding(
    disk: &dyn ReadAt,
    scheme: &str,
    f: &Found,
    at: u64,
    inside: Option<u32>,
    region: u64,
) -> Finding {
    let s = &f.signature;
    let mut what = Vec::new();
    if let Some(l) = &s.label {
        what.push(format!("label \"{l}\""));
    }
    if let Some(u) = &s.uuid {
        what.push(format!("UUID {u}"));
    }
    if let Some(z) = s.size {
        what.push(human_size(z));
    }
    let ext = s.kind.starts_with("ext");
    if ext && let Some((w, _)) = promise::ext_primary(disk, at) {
        what.push(format!("last written {}", utc(i64::from(w))));
    }
    what.push(if region == 0 {
        format!("found by its {}", f.via)
    } else {
        format!("found by its {} (counted from disk byte {region})", f.via)
    });
    let place = match inside {
        Some(n) => format!(
            "starts {} bytes into partition {n}, whose own start holds nothing recognised: the partition was re-created at the wrong start (a typo'd re-partition), and every tool that reads the table misses the filesystem",
            at.saturating_sub(region)
        ),
        None => format!(
            "lies where no partition of the {scheme} table reaches: either its partition was deleted on purpose and the bytes are left over, or the table was re-written without it (a typo'd re-partition, a new layout over an old disk); the disk cannot tell the two apart, and every tool that reads the table misses it"
        ),
    };
    let size = s
        .size
        .map_or(String::new(), |z| format!(" --sizelimit {z}"));
    let check = if ext { "e2fsck -fn \"$DEV\"; " } else { "" };
    Finding::warning(
        "layout.outside_table",
        Layer::LAYOUT,
        at,
        Space::Disk,
        format!(
            "disk byte {at} holds {} ({}), which {place}",
            article(s.display),
            what.join(", ")
        ),
    )
    .with_hint(
        Hint::read_only(format!(
            "DEV=$(losetup --read-only -f --show -o {at}{size} {{disk}}); blkid -p \"$DEV\"; {check}losetup -d \"$DEV\""
        ))
        .on(Target::Disk)
        .because(format!(
            "read it where it lies without writing; to make it visible again, add a partition over exactly these bytes on a copy ({} from byte {at}), never mkfs, and grow nothing over it",
            if scheme == "gpt" { "sgdisk -n" } else { "sfdisk" }
        )),
    )
}

/// "a" or "an" for a name.
fn article(what: &str) -> String {
    let vowel = what
        .chars()
        .next()
        .is_some_and(|c| "aeiouAEIOU".contains(c))
        || what.starts_with("LVM")
        || what.starts_with("XFS")
        || what.starts_with("NTFS");
    format!("{} {what}", if vowel { "an" } else { "a" })
}

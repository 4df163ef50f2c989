//! Checks that need more than one layer at once (findings of layer
//! `layout`): what no single peer tool can say.

use crate::report::Node;
use imgcheck_core::{Finding, Hint, Layer, ReadAt, Space, Target};

/// How much of the disk start is read to tell "empty" from "unrecognised".
const EMPTINESS_PROBE: u64 = 1 << 20;

/// A disk with no partition table and nothing recognisable on it: either
/// it holds no data at all (the backup that has been empty for months) or
/// its start was overwritten by something imgcheck does not know.
/// Reads nothing itself: the zero map (`zero_ranges`) already covers the
/// start of the disk.
pub fn emptiness(disk: &dyn ReadAt, table: &Node, zero_ranges: &[(u64, u64)]) -> Option<Finding> {
    if table.kind != "none" || !table.children.is_empty() {
        return None;
    }
    let whole_zero = disk.known_zero(0, disk.len());
    let head = EMPTINESS_PROBE.min(disk.len());
    let head_zero = whole_zero || zero_ranges.iter().any(|&(s, e)| s == 0 && e >= head);
    let f = if head_zero {
        Finding::warning(
            "layout.empty",
            Layer::LAYOUT,
            0,
            Space::Disk,
            format!(
                "the disk holds no data: no partition table, no filesystem signature, and {} are all zeros",
                if whole_zero {
                    "all of its bytes".to_string()
                } else {
                    format!("its first {} bytes", EMPTINESS_PROBE.min(disk.len()))
                }
            ),
        )
        .with_hint(Hint::advice("check that the backup or copy job that wrote this image still runs and writes data"))
    } else {
        Finding::warning(
            "layout.unrecognized",
            Layer::LAYOUT,
            0,
            Space::Disk,
            "no partition table and no known filesystem or volume signature at the start of the disk",
        )
        .with_hint(Hint::read_only("file -s {image}; testdisk {image}").on(Target::Image).because("look for lost partitions on a copy"))
    };
    Some(f)
}

/// Granularity of the zero map: a run shorter than this is not reported.
pub const ZERO_BLOCK: u64 = 4096;
/// By default the zero map reads this much at the start of the disk and of
/// each partition, and at the end of the disk: where tables, superblocks and
/// descriptor tables live. `--scan` reads everything.
pub const ZERO_PROBE: u64 = 16 << 20;
/// Read size of the zero scan.
const SCAN_CHUNK: usize = 1 << 20;

/// All-zero ranges `[start, end)` of `disk` within the `regions` given,
/// in `ZERO_BLOCK` steps, merged and sorted. Ranges the layer below knows
/// to be zero (unallocated qcow2 clusters) are not read.
pub fn zero_ranges(disk: &dyn ReadAt, regions: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut regions: Vec<(u64, u64)> = regions
        .iter()
        .map(|&(s, e)| (s.saturating_sub(s % ZERO_BLOCK), e.min(disk.len())))
        .filter(|(s, e)| s < e)
        .collect();
    regions.sort_unstable();
    let mut runs: Vec<(u64, u64)> = Vec::new();
    let mut push = |s: u64, e: u64| match runs.last_mut() {
        Some(last) if last.1 >= s => last.1 = last.1.max(e),
        _ => runs.push((s, e)),
    };
    let mut buf = vec![0u8; SCAN_CHUNK];
    let mut done_to = 0u64;
    for (s, e) in regions {
        let mut at = s.max(done_to);
        while at < e {
            let n = u64::try_from(SCAN_CHUNK)
                .unwrap_or(u64::MAX)
                .min(e.saturating_sub(at));
            if disk.known_zero(at, n) {
                push(at, at.saturating_add(n));
            } else {
                let Some(chunk) = buf.get_mut(..usize::try_from(n).unwrap_or(0)) else {
                    break;
                };
                if disk.read_exact_at(at, chunk).is_err() {
                    // Unreadable is not zero; the layers report why.
                    at = at.saturating_add(n);
                    continue;
                }
                let mut off = at;
                for block in chunk.chunks(usize::try_from(ZERO_BLOCK).unwrap_or(4096)) {
                    let len = u64::try_from(block.len()).unwrap_or(0);
                    if is_zero(block) {
                        push(off, off.saturating_add(len));
                    }
                    off = off.saturating_add(len);
                }
            }
            at = at.saturating_add(n);
        }
        done_to = done_to.max(e);
    }
    runs
}

/// Whether every byte is zero; word-at-a-time so it runs near memory speed.
fn is_zero(b: &[u8]) -> bool {
    let words = b.chunks_exact(8);
    let rest = words.remainder();
    rest.iter().all(|&x| x == 0)
        && words
            .map(|w| u64::from_ne_bytes(w.try_into().unwrap_or([1; 8])))
            .all(|w| w == 0)
}

/// A structure some layer expects at a place on the disk, for telling what
/// a zeroed range destroyed and what survived it.
#[derive(Debug, Clone)]
pub struct Expected {
    /// What it is (`primary GPT header`, `ext4 superblock of partition 2`).
    pub name: String,
    /// First byte on the disk.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
    /// A copy that can stand in for it (backups), so it is named as surviving.
    pub is_backup: bool,
}

/// For every zero run that wholly covers at least one expected non-backup
/// structure: a finding telling the incident — where, how much, what it
/// destroyed, what survives.
pub fn zero_damage(runs: &[(u64, u64)], expected: &[Expected]) -> Vec<Finding> {
    let inside =
        |x: &Expected, r: &(u64, u64)| x.start >= r.0 && x.start.saturating_add(x.len) <= r.1;
    let mut out = Vec::new();
    for r in runs {
        let destroyed: Vec<&Expected> = expected
            .iter()
            .filter(|x| !x.is_backup && inside(x, r))
            .collect();
        if destroyed.is_empty() {
            continue;
        }
        let survivors: Vec<&Expected> = expected
            .iter()
            .filter(|x| x.is_backup && !runs.iter().any(|rr| inside(x, rr)))
            .collect();
        let names = |v: &[&Expected]| {
            v.iter()
                .map(|x| format!("{} (byte {})", x.name, x.start))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let len = r.1.saturating_sub(r.0);
        let mut msg = format!(
            "disk bytes {}..{} ({}) are all zeros, as a stray dd from /dev/zero leaves them: this destroyed {}",
            r.0,
            r.1,
            imgcheck_core::human_size(len),
            names(&destroyed)
        );
        if survivors.is_empty() {
            msg.push_str("; no backup copy was found intact");
        } else {
            let _ = std::fmt::Write::write_fmt(
                &mut msg,
                format_args!("; still intact: {}", names(&survivors)),
            );
        }
        out.push(
            Finding::error("layout.zeroed", Layer::LAYOUT, r.0, Space::Disk, msg)
                .with_hint(Hint::advice("work on a copy; rebuild from the surviving copies (sgdisk: recovery menu 'b'/'c'; e2fsck -b BACKUP on the partition)")),
        );
    }
    out
}

/// The structures the layers expect on this disk: the MBR and GPT copies
/// of the table, and whatever each layer lists in its details under
/// `"structures"` (`[{"name", "offset", "len", "backup"}]`, offsets relative
/// to that layer's reader, e.g. ext4 superblocks and their backups).
pub fn expected_structures(table: &Node, disk_len: u64) -> Vec<Expected> {
    let mut out = Vec::new();
    let ss = table
        .details
        .get("sector_size")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(512);
    if table.kind == "gpt" || table.kind == "mbr" {
        out.push(Expected {
            name: "MBR".into(),
            start: 0,
            len: 512,
            is_backup: false,
        });
    }
    if table.kind == "gpt" {
        out.push(Expected {
            name: "primary GPT header".into(),
            start: ss,
            len: ss,
            is_backup: false,
        });
        // Where the gpt layer found the backup (on a grown disk it is not at
        // the end); else where it belongs.
        let found = u64_at(&table.details, &["gpt_backup", "lba"])
            .filter(|_| {
                table
                    .details
                    .get("gpt_backup")
                    .and_then(|b| b.get("header"))
                    .is_some()
            })
            .and_then(|lba| lba.checked_mul(ss));
        let at_end = disk_len
            .saturating_sub(ss)
            .saturating_sub(disk_len.checked_rem(ss).unwrap_or(0));
        out.push(Expected {
            name: "backup GPT header".into(),
            start: found.unwrap_or(at_end),
            len: ss,
            is_backup: true,
        });
    }
    listed_structures(table, 0, &mut out);
    for part in &table.children {
        let base = part.span.map_or(0, |s| s.start);
        listed_structures(part, base, &mut out);
        for fs in &part.children {
            listed_structures(fs, base, &mut out);
            ext_superblocks(fs, base, part.span.map(|s| s.index), &mut out);
        }
    }
    if table.kind == "none" {
        for fs in &table.children {
            listed_structures(fs, 0, &mut out);
            ext_superblocks(fs, 0, None, &mut out);
        }
    }
    out
}

/// The ext2/3/4 primary superblock (always at byte 1024 of the
/// filesystem) and, when the layer had to fall back to one, the backup it
/// read instead.
fn ext_superblocks(fs: &Node, base: u64, index: Option<u32>, out: &mut Vec<Expected>) {
    if !fs.kind.starts_with("ext") {
        return;
    }
    let of = index.map_or(String::new(), |i| format!(" of partition {i}"));
    out.push(Expected {
        name: format!("{} superblock{of}", fs.kind),
        start: base.saturating_add(1024),
        len: 1024,
        is_backup: false,
    });
    let source = fs.details.get("superblock").and_then(|s| s.get("source"));
    if let Some(src) =
        source.filter(|s| s.get("kind").and_then(serde_json::Value::as_str) == Some("backup"))
    {
        let at = src
            .get("block")
            .and_then(serde_json::Value::as_u64)
            .zip(src.get("block_size").and_then(serde_json::Value::as_u64))
            .and_then(|(b, bs)| b.checked_mul(bs));
        if let Some(at) = at {
            let group = src
                .get("group")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0);
            out.push(Expected {
                name: format!("backup {} superblock{of} (group {group})", fs.kind),
                start: base.saturating_add(at),
                len: 1024,
                is_backup: true,
            });
        }
    }
}

fn listed_structures(node: &Node, base: u64, out: &mut Vec<Expected>) {
    let Some(list) = node
        .details
        .get("structures")
        .and_then(serde_json::Value::as_array)
    else {
        return;
    };
    for s in list {
        let (Some(name), Some(offset), Some(len)) = (
            s.get("name").and_then(serde_json::Value::as_str),
            s.get("offset").and_then(serde_json::Value::as_u64),
            s.get("len").and_then(serde_json::Value::as_u64),
        ) else {
            continue;
        };
        let label = match node.span {
            Some(sp) if !name.contains("partition") => format!("{name} of partition {}", sp.index),
            _ => name.to_string(),
        };
        out.push(Expected {
            name: label,
            start: base.saturating_add(offset),
            len,
            is_backup: s
                .get("backup")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false),
        });
    }
}

/// The regions the zero map reads: everything with `--scan`, else the
/// start of the disk and of each partition, and the end of the disk.
pub fn zero_regions(table: &Node, disk_len: u64, scan: bool) -> Vec<(u64, u64)> {
    if scan {
        return vec![(0, disk_len)];
    }
    let mut r = vec![
        (0, ZERO_PROBE.min(disk_len)),
        (disk_len.saturating_sub(1 << 20), disk_len),
    ];
    for p in &table.children {
        if let Some(sp) = p.span {
            let end = sp.start.saturating_add(sp.size.min(ZERO_PROBE));
            r.push((sp.start, end));
        }
    }
    r
}

/// One link of the size chain: what a layer says the disk (or its part of
/// it) is.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SizeLink {
    /// The layer and structure (`qcow2 virtual size`, `GPT backup header`).
    pub what: String,
    /// The size or end offset it states, in bytes.
    pub bytes: u64,
}

fn u64_at(v: &serde_json::Value, path: &[&str]) -> Option<u64> {
    path.iter().try_fold(v, |v, k| v.get(*k))?.as_u64()
}

/// The size chain — image file → guest disk → partition table → last
/// partition → its filesystem — with a finding for each break in it, named
/// with both numbers and the direction: grown and never resized, or shrunk
/// (truncated) under what lies on it.
pub fn size_chain(
    root: &Node,
    table: &Node,
    disk_len: u64,
    format: &str,
) -> (Vec<SizeLink>, Vec<Finding>) {
    let mut chain = Vec::new();
    let mut out = Vec::new();
    chain.push(SizeLink {
        what: format!("{format} disk"),
        bytes: disk_len,
    });
    let ss = u64_at(&table.details, &["sector_size"]).unwrap_or(512);

    // What the partition table was written for.
    let gpt_end = ["gpt_primary", "gpt_backup"].iter().find_map(|copy| {
        let h = table.details.get(*copy)?.get("header")?;
        if h.get("signature_ok")?.as_bool()? {
            let backup_lba = if *copy == "gpt_primary" {
                u64_at(h, &["alternate_lba"])?
            } else {
                u64_at(h, &["my_lba"])?
            };
            Some(backup_lba.saturating_add(1).saturating_mul(ss))
        } else {
            None
        }
    });
    if let Some(end) = gpt_end {
        chain.push(SizeLink {
            what: "disk size the GPT was written for".into(),
            bytes: end,
        });
    }
    let last = table
        .children
        .iter()
        .filter_map(|p| p.span.map(|s| (s, p)))
        .max_by_key(|(s, _)| s.start.saturating_add(s.size));
    if let Some((span, part)) = last {
        let end = span.start.saturating_add(span.size);
        chain.push(SizeLink {
            what: format!("end of partition {} (the last)", span.index),
            bytes: end,
        });
        if let Some(fs) = part.children.first()
            && let Some(fsb) = u64_at(&fs.details, &["size", "filesystem_bytes"])
        {
            {
                chain.push(SizeLink {
                    what: format!(
                        "end of the {} filesystem in partition {}",
                        fs.kind, span.index
                    ),
                    bytes: span.start.saturating_add(fsb),
                });
            }
        }
    }

    // Grown and never resized: the disk is larger than the table knows.
    let table_end = gpt_end.or_else(|| last.map(|(s, _)| s.start.saturating_add(s.size)));
    if let Some(tend) = table_end {
        const SLACK: u64 = 1 << 20;
        if disk_len > tend.saturating_add(SLACK) {
            let grown = disk_len.saturating_sub(tend);
            let mut msg = format!(
                "the disk is {} ({disk_len} bytes) but its partition table was written for {} ({tend} bytes): it grew by {} and neither the table nor the last partition was grown, so that space is unused",
                imgcheck_core::human_size(disk_len),
                imgcheck_core::human_size(tend),
                imgcheck_core::human_size(grown),
            );
            // A snapshot that recorded the old size dates the resize.
            if let Some(snaps) = root
                .details
                .get("snapshots")
                .and_then(serde_json::Value::as_array)
            {
                for s in snaps {
                    let size = u64_at(s, &["disk-size"]);
                    let name = s
                        .get("name")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or("?");
                    if size.is_some_and(|z| z < disk_len && z.abs_diff(tend) < SLACK) {
                        msg.push_str(&format!(
                            "; snapshot \"{name}\" still records the old {} disk, so the resize (qemu-img resize) came after it",
                            imgcheck_core::human_size(size.unwrap_or(0))
                        ));
                        break;
                    }
                }
            }
            // sgdisk -e on a disk whose only GPT is a stale backup found by
            // search writes an empty table: the gpt layer's recipe applies.
            let only_by_search = table
                .findings
                .iter()
                .any(|f| f.code == "gpt.backup_header.found_by_search");
            let (dev, part) = if format == "qcow2" {
                ("/dev/nbd0", "/dev/nbd0p")
            } else {
                ("/dev/loop0", "/dev/loop0p")
            };
            let n = last.map_or(1, |(s, _)| s.index);
            out.push(
                Finding::warning("layout.size_chain.grown", Layer::LAYOUT, tend, Space::Disk, msg).with_hint(
                    if only_by_search {
                        Hint::advice("restore the table first with the gpt finding's recipe (sgdisk -e here would write an empty table); then growpart and resize2fs")
                    } else {
                        Hint::writes(format!("sgdisk -e {dev}; growpart {dev} {n}; e2fsck -f {part}{n}; resize2fs {part}{n}")).on(Target::Disk).because("grow table, partition, filesystem, in that order, after the checks")
                    },
                ),
            );
        }
        // Shrunk or truncated: the table reaches past the disk.
        if tend > disk_len {
            let cut: Vec<String> = table
                .children
                .iter()
                .filter_map(|p| p.span)
                .filter(|s| s.start.saturating_add(s.size) > disk_len)
                .map(|s| {
                    format!(
                        "partition {} loses {}",
                        s.index,
                        imgcheck_core::human_size(
                            s.start
                                .saturating_add(s.size)
                                .saturating_sub(disk_len.max(s.start))
                        )
                    )
                })
                .collect();
            out.push(
                Finding::error(
                    "layout.size_chain.shrunk",
                    Layer::LAYOUT,
                    disk_len,
                    Space::Disk,
                    format!(
                        "the partition table was written for {} ({tend} bytes) but the disk is only {} ({disk_len} bytes): the image was truncated or shrunk under it{}",
                        imgcheck_core::human_size(tend),
                        imgcheck_core::human_size(disk_len),
                        if cut.is_empty() { String::new() } else { format!("; {}", cut.join(", ")) }
                    ),
                )
                .with_hint(Hint::advice("restore the image's missing tail from a backup or the source; do not let any tool 'fix' the table to the smaller size")),
            );
        }
    }
    (chain, out)
}

/// What a foreign image leaves at the start of a partition it was written
/// over: a disk image's own partition table, a qcow2 header, an ISO.
fn image_signature(r: &dyn ReadAt) -> Option<&'static str> {
    let mut head = [0u8; 512];
    r.read_exact_at(0, &mut head).ok()?;
    if head.get(..4) == Some(b"QFI\xfb".as_slice()) {
        return Some("a qcow2 image header");
    }
    for ss in [512u64, 4096] {
        let mut sig = [0u8; 8];
        if r.read_exact_at(ss, &mut sig).is_ok() && &sig == b"EFI PART" {
            return Some("a GPT-partitioned disk image (\"EFI PART\" at LBA 1)");
        }
    }
    let mut cd = [0u8; 5];
    if r.read_exact_at(0x8001, &mut cd).is_ok() && &cd == b"CD001" {
        return Some("an ISO 9660 image");
    }
    if head.get(510..512) == Some([0x55u8, 0xAA].as_slice()) {
        // A boot signature alone is also what FAT and NTFS carry; a
        // partition entry with a type and a size says "disk image".
        let has_entry = head
            .get(446..510)
            .into_iter()
            .flat_map(|t| t.chunks_exact(16))
            .any(|e| {
                let ty = e.get(4).copied().unwrap_or(0);
                let size = e
                    .get(12..16)
                    .and_then(|b| <[u8; 4]>::try_from(b).ok())
                    .map_or(0, u32::from_le_bytes);
                ty != 0 && size != 0
            });
        if has_entry {
            return Some("an MBR-partitioned disk image (partition table at sector 0)");
        }
    }
    None
}

/// Whether `r` starts with what a whole disk image leaves (a partition
/// table, a qcow2 header, an ISO), rather than a filesystem of its own.
pub fn holds_image_signature(r: &dyn ReadAt) -> bool {
    image_signature(r).is_some()
}

/// A filesystem found only through its backup superblock, in a partition
/// whose start now holds something else: another image was written over
/// it. Says what the start holds and where the surviving copy is.
pub fn overwritten_start(part: &dyn ReadAt, fs: &Node, index: u32, base: u64) -> Option<Finding> {
    let source = fs.details.get("superblock")?.get("source")?;
    if source.get("kind")?.as_str()? != "backup" {
        return None;
    }
    // Only what a disk image leaves counts: a filesystem of another kind at
    // the start means the partition was reformatted, and the pipeline
    // checks that filesystem instead.
    let foreign = image_signature(part)?;
    let backup = match (
        source.get("block").and_then(serde_json::Value::as_u64),
        source.get("block_size").and_then(serde_json::Value::as_u64),
    ) {
        (Some(b), Some(bs)) => b.checked_mul(bs),
        _ => None,
    };
    Some(
        Finding::error(
            "layout.overwritten",
            Layer::LAYOUT,
            base,
            Space::Disk,
            format!(
                "partition {index} starts with {foreign}, but a backup {} superblock{} shows the {} filesystem that lived there: another image was written over the start of the partition",
                fs.kind,
                backup.map_or(String::new(), |b| format!(" at partition byte {b}")),
                fs.kind,
            ),
        )
        .with_hint(Hint::advice("do not mount or repair in place; copy the partition, then recover from the backup superblock on the copy (see the ext4 findings for the exact e2fsck -b line)")),
    )
}

//! Checks that need more than one layer at once (findings of layer
//! `layout`): what no single peer tool can say. They read the layer tree
//! and each node's typed [`Facts`](imgcheck_core::Facts), never a layer's
//! JSON details; the zero map also reads the disk.

pub mod foreign;
mod lost;
mod promise;
mod uncovered;

pub use lost::{
    Confidence, LossEvent, LostFile, LostInodes, LostStructure, lost_files_text,
    zeroed_structure_blocks,
};

use crate::report::{Node, SizeLink};
use imgcheck_core::bytes::is_zero;
use imgcheck_core::{Finding, Hint, Layer, Place, ReadAt, Role, Space, Step, Target, human_size};

/// How much of the disk start is read to tell "empty" from "unrecognised".
const EMPTINESS_PROBE: u64 = 1 << 20;
/// Granularity of the zero map: a run shorter than this is not reported.
pub const ZERO_BLOCK: u64 = 4096;
/// By default the zero map reads this much at the start of the disk and of
/// each partition, and at the end of the disk: where tables, superblocks and
/// descriptor tables live. `--scan` reads everything.
pub const ZERO_PROBE: u64 = 16 << 20;
/// Read size of the zero scan.
const SCAN_CHUNK: usize = 1 << 20;
/// Tolerance between sizes that are meant to be equal: alignment padding.
const SLACK: u64 = 1 << 20;

/// What the checks that span layers found in one image.
#[derive(Debug, Default)]
pub struct Layout {
    /// Disk ranges `[start, end)` known to be all zeros.
    pub zero_ranges: Vec<(u64, u64)>,
    /// The size chain, outside in.
    pub size_chain: Vec<SizeLink>,
    /// The `layout` findings.
    pub findings: Vec<Finding>,
    /// The boot chain's verdicts and findings, for a partitioned disk.
    pub boot: Option<imgcheck_boot::Report>,
    /// What was lost, by file: zero runs mapped through the filesystems'
    /// reverse maps.
    pub lost: Vec<LossEvent>,
    /// Timeline entries that date the losses.
    pub events: Vec<imgcheck_core::Event>,
}

/// Runs every cross-layer check on the tree `root` (the container) and
/// its guest disk, when it could be read.
pub fn check(root: &Node, disk: Option<&dyn ReadAt>, scan: bool) -> Layout {
    let mut out = Layout::default();
    out.findings.extend(disk_not_inspected(root));
    out.findings.extend(volumes_not_grown(root));
    let Some(disk) = disk else {
        return out;
    };
    out.findings.extend(overwritten_starts(root));
    out.findings.extend(promise::unkept(root, disk));
    let regions = zero_regions(root, disk.len(), scan);
    out.zero_ranges = zero_ranges(disk, &regions);
    out.findings.extend(emptiness(disk, root, &out.zero_ranges));
    let (chain, mut breaks, victim) = size_chain(root, disk);
    out.size_chain = chain;
    let outside = uncovered::check(root, disk);
    if !outside.is_empty() {
        // A filesystem in the space the size chain would grow into: grow
        // nothing over it.
        for f in &mut breaks {
            if f.hint
                .as_ref()
                .is_some_and(|h| h.writes || h.command.is_none())
            {
                f.hint = Some(Hint::advice(
                    "a filesystem lives outside the table (layout.outside_table): grow no partition or table over it; read it where it lies first",
                ));
            }
        }
    }
    // A foreign image written over a partition: what lies after it may be
    // the victim's, and a grown partition or filesystem writes over it.
    if out
        .findings
        .iter()
        .any(|f| f.code.starts_with("layout.overwritten"))
    {
        for f in &mut breaks {
            if f.hint.as_ref().is_some_and(|h| h.writes) {
                f.hint = Some(Hint::advice(
                    "a foreign image was written over a partition (layout.overwritten): grow no partition or filesystem until what it destroyed is recovered from a copy",
                ));
            }
        }
    }
    // A filesystem running past its partition's end: its tail lies in
    // what the table calls free space or another partition, and growing
    // anything (the partition to the disk's end, the filesystem into it)
    // writes over what the filesystem still owns there.
    let past = fs_past_partition(root, disk);
    if !past.is_empty() {
        for f in &mut breaks {
            if f.hint.as_ref().is_some_and(|h| h.writes) {
                f.hint = Some(Hint::advice(
                    "a filesystem runs past its partition's end (layout.size_chain.fs_past_partition): grow nothing until the partition is restored to the filesystem's size, on a copy",
                ));
            }
        }
    }
    out.findings.extend(past);
    out.findings.extend(breaks);
    out.findings.extend(outside);
    // What the foreign image destroyed of the victim, by structure, inode
    // and file.
    let overwrite = victim.and_then(|v| {
        lost::overwrite::overwrite(disk, v.start, &v.remnant, v.foreign_end, &v.bound)
    });
    let expected = expected_structures(root);
    out.findings
        .extend(zero_damage(&out.zero_ranges, &expected));
    // Without --scan the zero map reads only where tables live; the
    // structure blocks of each filesystem (directories, extent trees,
    // named inodes' table blocks) are read too, so a zeroed directory is
    // named by its path. Under --scan too: the zero map's 4 KiB steps do
    // not see a zeroed 1 KiB block of a filesystem with 1 KiB blocks.
    let mut runs = out.zero_ranges.clone();
    runs.extend(lost::zeroed_structure_blocks(root, disk));
    runs = merge(runs);
    out.lost = lost::events(root, &runs, Some(disk), &regions);
    if let Some((ev, f)) = overwrite {
        out.lost.push(ev);
        out.findings.push(f);
    }
    out.lost.extend(lost::volume_events(root));
    out.events = out.lost.iter().filter_map(lost::timeline).collect();
    out.findings.extend(
        out.lost
            .iter()
            .filter(|e| {
                !e.evidence
                    .iter()
                    .any(|x| x.starts_with(lost::overwrite::EVIDENCE))
            })
            .map(lost::finding),
    );
    out.boot = crate::boot::check(root, disk);
    out
}

/// The container says its guest disk does not read as the guest would
/// see it: nothing inside was judged, and the report says why.
fn disk_not_inspected(root: &Node) -> Option<Finding> {
    let g = root.facts.guest.as_ref().filter(|g| !g.readable)?;
    Some(Finding::info(
        "layout.disk_not_inspected",
        Layer::LAYOUT,
        0,
        Space::Disk,
        format!(
            "the guest disk was not inspected: {}",
            g.why_not
                .as_deref()
                .unwrap_or("the container says it cannot be read")
        ),
    ))
}

/// Nodes on the guest disk (offsets in disk space), depth first. A disk
/// inside a logical volume (an oVirt volume's qcow2) has offsets in a disk
/// space of its own, not the image's: its nodes are not on this disk.
fn on_disk(root: &Node) -> impl Iterator<Item = &Node> {
    root.walk().into_iter().filter(|n| {
        n.space == Space::Disk && !n.place.0.iter().any(|s| matches!(s, Step::Volume(_)))
    })
}

/// A disk with no partition table and nothing recognisable on it: either
/// it holds no data at all (the backup that has been empty for months) or
/// its start was overwritten by something imgcheck does not know.
/// Reads nothing itself: the zero map already covers the start of the disk.
pub fn emptiness(disk: &dyn ReadAt, root: &Node, zero_ranges: &[(u64, u64)]) -> Option<Finding> {
    let table = root.table()?;
    let none = table
        .facts
        .table
        .as_ref()
        .is_some_and(|t| t.scheme == "none");
    if !none || !table.children.is_empty() {
        return None;
    }
    if disk.is_empty() {
        // An empty file where an image should be (a copy that failed at
        // once): said as such, not as a disk whose start is unknown.
        return Some(
            Finding::warning(
                "layout.empty",
                Layer::LAYOUT,
                0,
                Space::Disk,
                "the disk is 0 bytes long: it holds nothing at all",
            )
            .with_hint(Hint::advice(
                "check that the backup or copy job that wrote this image still runs and writes data",
            )),
        );
    }
    let whole_zero = disk.known_zero(0, disk.len());
    let head = EMPTINESS_PROBE.min(disk.len());
    let head_zero = whole_zero || zero_ranges.iter().any(|&(s, e)| s == 0 && e >= head);
    // "No data" only once samples across the whole disk found none: a dd
    // that zeroed the first hundreds of MiB leaves the rest behind.
    let data_after = if head_zero && !whole_zero {
        imgcheck_gpt::tables::data_past(disk, head, disk.len())
    } else {
        None
    };
    // data_past counts a failed read as data (unknown is not empty, which
    // keeps grow decisions safe); here that would tell of wiped data where
    // a truncated file or a failing read left nothing to read at all.
    let unreadable = data_after.filter(|&at| {
        let len = 4096u64.min(disk.len().saturating_sub(at));
        imgcheck_core::read_vec(disk, at, len, 4096).is_err()
    });
    let f = if let Some(at) = unreadable {
        Finding::warning(
            "layout.unrecognized",
            Layer::LAYOUT,
            at,
            Space::Disk,
            format!(
                "no partition table and no known filesystem or volume signature: the first {} of the disk are zeros, and the disk cannot be read at byte {at}: whether any data follows is unknown",
                human_size(head)
            ),
        )
        .with_hint(Hint::advice(
            "find out why the image cannot be read there (a truncated copy, a failing host disk) before drawing conclusions from its contents",
        ))
    } else if let Some(at) = data_after {
        Finding::warning(
            "layout.unrecognized",
            Layer::LAYOUT,
            at,
            Space::Disk,
            format!(
                "no partition table and no known filesystem or volume signature: the first {} of the disk are zeros, but data follows at byte {at}: its start was wiped, and what follows may be recoverable",
                human_size(head)
            ),
        )
        .with_hint(Hint::read_only("testdisk /list {image}").on(Target::Image).because("look for the partitions that lived there, on a copy"))
    } else if head_zero {
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
                    format!("its first {head} bytes and every block sampled after them")
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

/// All-zero ranges `[start, end)` of `disk` within the `regions` given,
/// in `ZERO_BLOCK` steps, merged and sorted. Ranges the layer below knows
/// to be zero (unallocated qcow2 clusters, holes) are not read.
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
                // Gallop: a range known to be zero (an unallocated qcow2
                // L1 range) is taken whole, so the scan's cost grows with
                // the data present, not with the virtual size.
                let mut known = n;
                loop {
                    let next = known.saturating_mul(2).min(e.saturating_sub(at));
                    if next <= known || !disk.known_zero(at, next) {
                        break;
                    }
                    known = next;
                }
                push(at, at.saturating_add(known));
                at = at.saturating_add(known);
                continue;
            } else {
                let Some(chunk) = buf.get_mut(..usize::try_from(n).unwrap_or(0)) else {
                    break;
                };
                if let Err(err) = disk.read_exact_at(at, chunk) {
                    // The image's bound is spent: nothing more will read,
                    // and the report already says where it stopped.
                    if matches!(err.kind, imgcheck_core::ReadErrorKind::Budget { .. }) {
                        return runs;
                    }
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

/// Sorted, merged ranges.
fn merge(mut v: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    v.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(v.len());
    for (s, e) in v {
        match out.last_mut() {
            Some(l) if l.1 >= s => l.1 = l.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
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
    /// The partition it belongs to: the one its layer reads, or, for a
    /// structure the table states (GRUB's core.img in the BIOS boot
    /// partition), the one whose span holds it; `None` for the disk's own
    /// (the MBR, the GPT headers). With the partition's first byte.
    pub partition: Option<(u32, u64)>,
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
            human_size(len),
            names(&destroyed)
        );
        if survivors.is_empty() {
            msg.push_str("; no backup copy was found intact");
        } else {
            msg.push_str("; still intact: ");
            msg.push_str(&names(&survivors));
        }
        let mut f = Finding::error("layout.zeroed", Layer::LAYOUT, r.0, Space::Disk, msg)
                .with_hint(Hint::advice("work on a copy; rebuild from the surviving copies (sgdisk: recovery menu 'b'/'c'; e2fsck -b BACKUP on the partition)"));
        // A run that starts in a partition and destroyed that partition's
        // structures alone is that partition's finding; one that starts
        // in the disk's own space (the gap before the first partition)
        // stays the disk's, its offset outside every partition.
        if let [first, rest @ ..] = destroyed.as_slice()
            && let Some((n, start)) = first.partition
            && start <= r.0
            && rest
                .iter()
                .all(|x| x.partition.is_some_and(|(m, _)| m == n))
        {
            f.place = Place::root().join(Step::Partition(n));
        }
        out.push(f);
    }
    out
}

/// The structures the layers on the disk state they have (their
/// [`Facts::structures`](imgcheck_core::Facts::structures)), in disk
/// space, named with the partition they are in.
pub fn expected_structures(root: &Node) -> Vec<Expected> {
    let mut out = Vec::new();
    let spans: Vec<crate::report::Span> = root
        .table()
        .map(|t| t.partitions().filter_map(|p| p.span).collect())
        .unwrap_or_default();
    for n in on_disk(root) {
        for s in &n.facts.structures {
            let name = match n.place.partition() {
                Some(p) if !s.name.contains("partition") => format!("{} of partition {p}", s.name),
                _ => s.name.clone(),
            };
            let start = n.base.saturating_add(s.start);
            // A partition from byte 0 (an ISO's) holds the table itself:
            // the table's own structures stay the disk's.
            let partition = match n.place.partition() {
                Some(p) => spans.iter().find(|sp| sp.index == p),
                None => spans
                    .iter()
                    .filter(|sp| {
                        sp.start >= 512
                            && sp.start <= start
                            && start.saturating_sub(sp.start) < sp.size
                    })
                    .min_by_key(|sp| sp.size),
            }
            .map(|sp| (sp.index, sp.start));
            out.push(Expected {
                name,
                start,
                len: s.len,
                is_backup: s.role == Role::Backup,
                partition,
            });
        }
    }
    out
}

/// The regions the zero map reads: everything with `--scan`, else the
/// start of the disk and of each partition, and the end of the disk.
pub fn zero_regions(root: &Node, disk_len: u64, scan: bool) -> Vec<(u64, u64)> {
    if scan {
        return vec![(0, disk_len)];
    }
    let mut r = vec![
        (0, ZERO_PROBE.min(disk_len)),
        (disk_len.saturating_sub(1 << 20), disk_len),
    ];
    for sp in on_disk(root).filter_map(|n| n.span) {
        let end = sp.start.saturating_add(sp.size.min(ZERO_PROBE));
        r.push((sp.start, end));
    }
    r
}

/// `f`, about the space after the last partition `n`: that partition's
/// finding, whatever its hint becomes (an overwrite or a filesystem
/// outside the table turns it into advice naming none).
fn last_partition(mut f: Finding, n: Option<u32>) -> Finding {
    if let Some(n) = n {
        f.place = Place::root().join(Step::Partition(n));
    }
    f
}

/// The MBR slot of the extended partition that holds logical partition
/// `n` (numbered 5 and up), read from the table on `disk`; `None` for a
/// primary partition.
fn extended_of(table: &Node, disk: &dyn ReadAt, n: u32) -> Option<(u8, u64)> {
    if n < 5 {
        return None;
    }
    let ss = table.facts.sector_size.unwrap_or(512);
    let mbr = imgcheck_gpt::mbr::parse_mbr(disk, ss)?;
    if !mbr.logicals.iter().any(|l| l.number == n) {
        return None;
    }
    mbr.entries
        .iter()
        .find(|e| imgcheck_gpt::mbr::is_extended(e.os_type) && e.size_in_lba != 0)
        .map(|e| {
            let end = u64::from(e.starting_lba)
                .saturating_add(u64::from(e.size_in_lba))
                .saturating_mul(ss);
            (e.slot, end)
        })
}

/// The size chain — container → guest disk → partition table → last
/// partition → its filesystem — with a finding for each break in it, named
/// with both numbers and the direction: grown and never resized, or shrunk
/// (truncated) under what lies on it.
pub fn size_chain(root: &Node, disk: &dyn ReadAt) -> (Vec<SizeLink>, Vec<Finding>, Option<Victim>) {
    let disk_len = disk.len();
    let mut chain = vec![SizeLink {
        what: format!("{} disk", root.kind),
        bytes: disk_len,
    }];
    let mut out = Vec::new();
    let mut victim_out = None;
    let Some(table) = root.table() else {
        return (chain, out, None);
    };
    let gpt_end = table.facts.written_for;
    if let Some(end) = gpt_end {
        chain.push(SizeLink {
            what: "disk size the GPT was written for".into(),
            bytes: end,
        });
    }
    let last = table
        .partitions()
        .filter_map(|p| p.span.map(|s| (s, p)))
        .max_by_key(|(s, _)| s.start.saturating_add(s.size));
    if let Some((span, part)) = last {
        chain.push(SizeLink {
            what: format!("end of partition {} (the last)", span.index),
            bytes: span.start.saturating_add(span.size),
        });
        if let Some(fs) = part.children.first()
            && let Some(fsb) = fs.facts.claimed_size
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

    let Some(tend) = gpt_end.or_else(|| last.map(|(s, _)| s.start.saturating_add(s.size))) else {
        return (chain, out, None);
    };
    let scheme = table
        .facts
        .table
        .as_ref()
        .map_or("none", |t| t.scheme.as_str());
    // A label imgcheck names but does not check (Sun, BSD, …): what its
    // partitions say about the disk's size is told, not judged.
    if !matches!(scheme, "gpt" | "mbr") {
        if tend > disk_len {
            out.push(Finding::info(
                "layout.size_chain.label_past_end",
                Layer::LAYOUT,
                disk_len,
                Space::Disk,
                format!(
                    "the {scheme} label's partitions reach {} ({tend} bytes) but this image is {} ({disk_len} bytes): a truncated copy or a sample of the disk's start; their contents past the end are not read",
                    human_size(tend),
                    human_size(disk_len)
                ),
            ));
        }
        return (chain, out, None);
    }
    // An MBR records no disk size: space after its last partition is free
    // space, never "grown" (sgdisk -e on an MBR disk refuses, or converts
    // it to GPT).
    if gpt_end.is_none() {
        if disk_len > tend.saturating_add(SLACK) {
            let n = last.map_or(1, |(s, _)| s.index);
            out.push(last_partition(
                Finding::info(
                    "layout.size_chain.free_tail",
                    Layer::LAYOUT,
                    tend,
                    Space::Disk,
                    format!(
                        "{} after the last partition (partition {n}, ending at {}) belong to no partition; an MBR records no disk size, so this is free space, not a disk that grew",
                        human_size(disk_len.saturating_sub(tend)),
                        human_size(tend)
                    ),
                )
                // Each writes the table: on a copy, as the next steps
                // resolve {disk} (an advice note would name the original).
                .with_hint(match extended_of(table, disk, n) {
                    // A logical partition ends inside its extended
                    // container: growpart (sfdisk -N) leaves it as it is
                    // and parted refuses ("Can't have overlapping
                    // partitions") until the container grows first.
                    Some((e, e_end)) if e_end.saturating_add(SLACK) <= disk_len => Hint::writes(format!(
                        "parted -s {{disk}} resizepart {e} 100% resizepart {n} 100%"
                    ))
                    .on(Target::Partition(n))
                    .because(format!(
                        "partition {n} is a logical partition inside extended partition {e}, which must grow first (growpart {n} alone cannot pass its end); then grow the filesystem; sgdisk is for GPT disks only"
                    )),
                    Some((e, _)) => Hint::writes(format!("parted -s {{disk}} resizepart {n} 100%"))
                        .on(Target::Partition(n))
                        .because(format!(
                            "partition {n} is a logical partition and extended partition {e} already reaches the disk's end, so only partition {n} grows; then grow the filesystem; sgdisk is for GPT disks only"
                        )),
                    None => Hint::writes(format!("growpart {{disk}} {n}"))
                        .on(Target::Partition(n))
                        .because("grow the partition (or parted resizepart, sfdisk -N), then the filesystem; sgdisk is for GPT disks only"),
                }),
                last.map(|(s, _)| s.index),
            ));
        }
    } else if disk_len > tend.saturating_add(SLACK) {
        // Grown and never resized: the disk is larger than the table knows.
        let grown = disk_len.saturating_sub(tend);
        let mut msg = format!(
            "the disk is {} ({disk_len} bytes) but its partition table was written for {} ({tend} bytes): it grew by {} and neither the table nor the last partition was grown, so that space is unused",
            human_size(disk_len),
            human_size(tend),
            human_size(grown),
        );
        // A snapshot that recorded the old size dates the resize.
        if let Some((name, size)) = root.facts.snapshots.iter().find_map(|s| {
            s.disk_size
                .filter(|&z| z < disk_len && z.abs_diff(tend) < SLACK)
                .map(|z| (&s.name, z))
        }) {
            msg.push_str(&format!(
                "; snapshot \"{name}\" still records the old {} disk, so the resize (qemu-img resize) came after it",
                human_size(size)
            ));
        }
        let n = last.map_or(1, |(s, _)| s.index);
        // The last step is the filesystem's own: resize2fs only grows ext;
        // XFS grows mounted, with xfs_growfs.
        let fs_kind = last
            .and_then(|(_, p)| p.children.first())
            .map(|f| f.kind.as_str());
        let (grow_fs, grow_words) = match fs_kind {
            // An empty partition holds nothing to grow (resize2fs on it
            // fails, and fits no layer there).
            None => ("", "nothing more: it holds no filesystem"),
            Some("xfs") => (
                "xfs_repair -n {dev}; mount {dev} /mnt; xfs_growfs /mnt; umount /mnt",
                "xfs_growfs (mounted)",
            ),
            Some(k) if !k.starts_with("ext") => ("", "the filesystem's own grow tool"),
            _ => ("e2fsck -f {dev}; resize2fs {dev}", "resize2fs"),
        };
        // sgdisk -e on a disk whose only GPT is a stale backup found by
        // search writes an empty table: the gpt layer's recipe applies.
        let only_stale = table
            .facts
            .table
            .as_ref()
            .is_some_and(|t| t.only_stale_backup);
        // A disk that grew has zeros past the old end; data there means a
        // smaller image may have been written over a larger disk (the
        // victim's remnants lie past the table): growing would write over
        // them, so only read-only steps are given.
        let data_past = imgcheck_gpt::tables::data_past(disk, tend, disk_len);
        if let Some(at) = data_past {
            msg.push_str(&format!(
                "; but the space past the table's end is not empty (data at byte {at}): a smaller image may have been written over a larger disk, whose remnants lie there, so nothing that writes is suggested"
            ));
        }
        // The victim is looked for even when the samples past the end
        // read zeros: a DOS victim keeps no backup table at the disk's end,
        // and its backup superblocks lie between the samples (a miss there
        // turned an overwrite into the grow chain, which writes over them).
        let victim = promise::remnant_past(table, disk, tend);
        // No ext victim: an XFS one, by the secondary superblocks of its
        // AGs past the intruder's end.
        let xfs_victim = match &victim {
            None => promise::xfs_remnant_past(table, disk, tend),
            Some(_) => None,
        };
        if let Some((start, x)) = &xfs_victim {
            let fs_in = last
                .and_then(|(s, p)| Some((s, p.children.first()?)))
                .map(|(s, f)| format!("the {} in partition {}", f.kind, s.index))
                .unwrap_or_else(|| "what the table holds".to_string());
            msg.push_str(&format!(
                "; an XFS secondary superblock at disk byte {} (AG {}'s, {} blocks of {} bytes per AG, UUID {}) belongs to a {} XFS filesystem starting at disk byte {start}, which the table's {} cannot hold: that filesystem is the victim (its AG 0 and primary superblock lie under the intruder), {fs_in} the intruder's",
                x.offset,
                x.ag,
                x.agblocks,
                x.block_size,
                x.uuid,
                human_size(x.dblocks.saturating_mul(x.block_size)),
                human_size(tend),
            ));
        }
        if let Some((start, r)) = &victim {
            let fs_in = last
                .and_then(|(s, p)| Some((s, p.children.first()?)))
                .map(|(s, f)| {
                    let when =
                        promise::ext_primary(disk, s.start).map_or(String::new(), |(w, u)| {
                            format!(
                                " (UUID {u}, last written {})",
                                imgcheck_core::time::utc(i64::from(w))
                            )
                        });
                    format!("the {} in partition {}{when}", f.kind, s.index)
                })
                .unwrap_or_else(|| "what the table holds".to_string());
            msg.push_str(&format!(
                "; an ext superblock at disk byte {} (the backup of group {}, {}-byte blocks, UUID {}, last written {}) belongs to a {} ext filesystem starting at disk byte {start}, which the table's {} cannot hold: that filesystem is the victim, {fs_in} the intruder's",
                start.saturating_add(r.offset),
                r.group,
                r.block_size,
                r.uuid,
                imgcheck_core::time::utc(i64::from(r.wtime)),
                human_size(r.blocks.saturating_mul(r.block_size)),
                human_size(tend),
            ));
        }
        let hint = if let Some((start, x)) = &xfs_victim {
            Hint::read_only(format!(
                "DEV=$(losetup --read-only -f --show -o {start} --sizelimit {} {{disk}}); xfs_repair -n \"$DEV\"; losetup -d \"$DEV\"",
                x.dblocks.saturating_mul(x.block_size)
            ))
            .on(Target::Disk)
            .because("xfs_repair -n finds the victim's secondary superblocks itself and reports without writing; grow nothing, recover on a copy")
        } else if let Some((start, r)) = &victim {
            Hint::read_only(format!(
                "DEV=$(losetup --read-only -f --show -o {start} {{disk}}); e2fsck -fn -b {} -B {} \"$DEV\"; losetup -d \"$DEV\"",
                r.block, r.block_size
            ))
            .on(Target::Disk)
            .because("check the victim from its backup superblock without writing; grow nothing, recover on a copy")
        } else if let Some(at) = data_past {
            Hint::read_only(format!(
                "dd if={{disk}} bs=4096 skip={} count=256 status=none | file -; testdisk /list {{disk}}",
                at / 4096
            ))
            .on(Target::Disk)
            .because("see what lives past the table's end before anything grows over it")
        } else if only_stale {
            Hint::advice(format!(
                "restore the table first with the gpt finding's recipe (sgdisk -e here would write an empty table); then growpart and {grow_words}"
            ))
        } else if grow_fs.is_empty() {
            Hint::writes(format!("sgdisk -e {{disk}}; growpart {{disk}} {n}"))
                .on(Target::Partition(n))
                .because(if fs_kind.is_none() {
                    format!("grow table and partition; partition {n} holds no filesystem, so {grow_words}")
                } else {
                    format!("grow table and partition, then the filesystem with {grow_words}")
                })
        } else {
            Hint::writes(format!(
                "sgdisk -e {{disk}}; growpart {{disk}} {n}; {grow_fs}"
            ))
            .on(Target::Partition(n))
            .because("grow table, partition, filesystem, in that order, after the checks")
        };
        // With the victim's superblock past the end it is not a grown disk
        // but an overwrite, and an error: the victim is lost to every tool
        // that reads the table.
        let f = if victim.is_some() || xfs_victim.is_some() {
            Finding::error(
                "layout.overwritten.disk",
                Layer::LAYOUT,
                tend,
                Space::Disk,
                msg.replacen(
                    "it grew by",
                    "not a disk that grew, though it looks like one: the table covers",
                    1,
                )
                .replacen(
                    " and neither the table nor the last partition was grown, so that space is unused",
                    " less",
                    1,
                ),
            )
        } else {
            // The space after the last partition is its to grow into.
            last_partition(
                Finding::warning(
                    "layout.size_chain.grown",
                    Layer::LAYOUT,
                    tend,
                    Space::Disk,
                    msg,
                ),
                last.map(|(s, _)| s.index),
            )
        };
        out.push(f.with_hint(hint));
        if let Some((start, remnant)) = victim {
            victim_out = Some(Victim {
                start,
                remnant,
                foreign_end: tend,
                bound: if gpt_end.is_some() {
                    "the end its own GPT gives: a dd of the whole image writes exactly that far, a shorter dd less".to_string()
                } else {
                    "the end of its table's last partition: the image is at least that long"
                        .to_string()
                },
            });
        }
    }
    // An isohybrid MBR's entry is the ISO's own size: a shorter file is
    // the ISO cut short (a header sample, a cut-off download), which the
    // table layer already says; not a disk shrunk under its table.
    let isohybrid = table.facts.table.as_ref().is_some_and(|t| t.isohybrid);
    if tend > disk_len && isohybrid {
        out.push(Finding::info(
            "layout.size_chain.iso_cut_short",
            Layer::LAYOUT,
            disk_len,
            Space::Disk,
            format!(
                "the isohybrid MBR maps an ISO image of {} ({tend} bytes), but this file is {} ({disk_len} bytes): the ISO's start only; what lies past it is not read",
                human_size(tend),
                human_size(disk_len)
            ),
        ));
        return (chain, out, None);
    }
    // Shrunk or truncated: the table reaches past the disk.
    if tend > disk_len {
        let cut: Vec<String> = table
            .partitions()
            .filter_map(|p| p.span)
            .filter(|s| s.start.saturating_add(s.size) > disk_len)
            .map(|s| {
                format!(
                    "partition {} loses {}",
                    s.index,
                    human_size(
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
                    human_size(tend),
                    human_size(disk_len),
                    if cut.is_empty() { String::new() } else { format!("; {}", cut.join(", ")) }
                ),
            )
            .with_hint(Hint::advice("restore the image's missing tail from a backup or the source; do not let any tool 'fix' the table to the smaller size")),
        );
    }
    (chain, out, victim_out)
}

/// Every partition of a GPT or MBR whose filesystem states a size larger
/// than the partition (the table was rewritten smaller under it, `sfdisk
/// -N` with a new size): an error naming both sizes and what lies past the
/// partition's end, where the filesystem's tail is — another partition,
/// free space (with data or zeros), or the disk's end. Its steps only read.
fn fs_past_partition(root: &Node, disk: &dyn ReadAt) -> Vec<Finding> {
    let Some(table) = root.table() else {
        return Vec::new();
    };
    let scheme = table.facts.table.as_ref().map_or("", |t| t.scheme.as_str());
    if !matches!(scheme, "gpt" | "mbr") {
        return Vec::new();
    }
    let spans: Vec<crate::report::Span> = table.partitions().filter_map(|p| p.span).collect();
    let disk_len = disk.len();
    let mut out = Vec::new();
    for p in table.partitions() {
        let (Some(span), Some(fs)) = (p.span, p.children.first()) else {
            continue;
        };
        let Some(fsb) = fs.facts.claimed_size.filter(|&b| b > span.size) else {
            continue;
        };
        let n = span.index;
        let pend = span.start.saturating_add(span.size);
        let fend = span.start.saturating_add(fsb);
        let mut past: Vec<String> = spans
            .iter()
            .filter(|o| o.index != n && o.start < fend && o.start.saturating_add(o.size) > pend)
            .map(|o| {
                let holds = table
                    .partitions()
                    .find(|q| q.span.is_some_and(|s| s.index == o.index))
                    .and_then(|q| q.children.first())
                    .map_or("no recognised filesystem".to_string(), |c| c.kind.clone());
                format!(
                    "partition {} ({} from disk byte {}, holding {holds}) overlaps it: whatever that partition's filesystem wrote there replaced the tail, and growing partition {n} back would overlap partition {}",
                    o.index,
                    human_size(o.size),
                    o.start,
                    o.index
                )
            })
            .collect();
        if past.is_empty() {
            let end = fend.min(disk_len);
            past.push(if end <= pend {
                String::new()
            } else {
                match imgcheck_gpt::tables::data_past(disk, pend, end) {
                    Some(at) => format!(
                        "no partition: the table calls it free space, and it holds data (at disk byte {at}), the filesystem's tail as far as the samples tell"
                    ),
                    None => "no partition: the table calls it free space, and every block sampled there is zeros (as the filesystem's unused blocks are, and a wiped tail would be)".to_string(),
                }
            });
            past.retain(|x| !x.is_empty());
        }
        if fend > disk_len {
            past.push(format!(
                "the disk ends at byte {disk_len}, so {} of the filesystem are not in the image at all",
                human_size(fend.saturating_sub(disk_len))
            ));
        }
        let check = match fs.kind.as_str() {
            "xfs" => "xfs_repair -n \"$DEV\"",
            k if k.starts_with("ext") => "e2fsck -fn \"$DEV\"",
            _ => "blkid -p \"$DEV\"",
        };
        let mut f = Finding::error(
            "layout.size_chain.fs_past_partition",
            Layer::LAYOUT,
            pend,
            Space::Disk,
            format!(
                "the {} filesystem in partition {n} is {} ({fsb} bytes) but partition {n} is only {} ({} bytes): the partition was shrunk under the filesystem (the table rewritten with a smaller size, or another disk's table written over this one's), so its last {} lie past the partition's end, at disk bytes {pend}..{fend}; there lies {}",
                fs.kind,
                human_size(fsb),
                human_size(span.size),
                span.size,
                human_size(fsb.saturating_sub(span.size)),
                past.join("; "),
            ),
        )
        .with_hint(
            Hint::read_only(format!(
                "DEV=$(losetup --read-only -f --show -o {} --sizelimit {fsb} {{disk}}); {check}; losetup -d \"$DEV\"",
                span.start
            ))
            .on(Target::Disk)
            .because(format!(
                "check the filesystem over its own {} without writing; then, on a copy, give partition {n} that size back (never resize2fs or a grow tool, and not over another partition)",
                human_size(fsb)
            )),
        );
        f.place = Place::root().join(Step::Partition(n));
        out.push(f);
    }
    out
}

/// The ext filesystem a smaller image was written over, as the size
/// chain found it past the foreign table's end.
pub struct Victim {
    /// Its first byte on the disk.
    pub start: u64,
    /// Its surviving backup superblock.
    pub remnant: promise::Remnant,
    /// Where the foreign image's bytes end, at most.
    pub foreign_end: u64,
    /// Where that end comes from.
    pub bound: String,
}

/// Every filesystem found only through a backup superblock in a
/// partition whose start now holds a disk image: another image was
/// written over it.
fn overwritten_starts(root: &Node) -> Vec<Finding> {
    on_disk(root)
        .filter_map(|n| overwritten_start(n, n.place.partition()?))
        .collect()
}

/// The finding for one filesystem node read through its backup in
/// partition `index`, whose start holds what its facts name.
pub fn overwritten_start(fs: &Node, index: u32) -> Option<Finding> {
    let sb = fs.facts.superblock.filter(|s| s.backup)?;
    // Only what a disk image leaves counts: a filesystem of another kind at
    // the start means the partition was reformatted, and the pipeline
    // checks that filesystem instead.
    let foreign = fs.facts.overwritten_by.as_deref()?;
    let mut f = Finding::error(
        "layout.overwritten",
        Layer::LAYOUT,
        fs.base,
        Space::Disk,
        format!(
            "partition {index} starts with {foreign}, but a backup {kind} superblock at partition byte {} shows the {kind} filesystem that lived there: another image was written over the start of the partition",
            sb.offset,
            kind = fs.kind,
        ),
    )
    .with_hint(Hint::advice("do not mount or repair in place; copy the partition, then recover from the backup superblock on the copy (see the ext4 findings for the exact e2fsck -b line)"));
    f.place = Place::root().join(Step::Partition(index));
    Some(f)
}

/// Every logical volume that was extended (its node carries the LVM2
/// layer's dated `lvm2.lv.extended`) while the filesystem in it was never
/// grown: the space lvextend added is unused. A filesystem larger than its
/// volume is the filesystem layer's own finding (truncated).
fn volumes_not_grown(root: &Node) -> Vec<Finding> {
    let mut out = Vec::new();
    for lv in root.walk() {
        let Some(Step::Volume(name)) = lv.place.0.last() else {
            continue;
        };
        let (Some(size), Some(fs)) = (lv.facts.claimed_size, lv.children.first()) else {
            continue;
        };
        let Some(fs_size) = fs.facts.claimed_size else {
            continue;
        };
        let extended = lv
            .findings
            .iter()
            .any(|f| f.code == crate::layers::lvm2::EXTENDED);
        if !extended || fs_size.saturating_add(SLACK) > size {
            continue;
        }
        // The volume is a device once its VG is active.
        let vg = name.split('/').next().unwrap_or(name);
        let hint = match fs.kind.as_str() {
            "ext4" | "ext3" | "ext2" => Hint::writes(format!(
                "vgchange -ay {vg}; e2fsck -f {{dev}}; resize2fs {{dev}}"
            ))
            .on(Target::This)
            .because(
                "grow the filesystem into the volume, after the check (lvextend -r does both)",
            ),
            "xfs" => Hint::advice(format!(
                "vgchange -ay {vg}; xfs_repair -n {{dev}}; then xfs_growfs on the mounted filesystem (lvextend -r does both)"
            )),
            _ => {
                Hint::advice("grow the filesystem into the volume with its own tool, after a check")
            }
        };
        let mut f = Finding::warning(
            "layout.size_chain.volume_grown",
            Layer::LAYOUT,
            fs_size,
            Space::Volume,
            format!(
                "LV {name} is {} ({size} bytes) but its {} filesystem is {} ({fs_size} bytes): the LV was extended (dated on the LV) and the filesystem never grown, so {} are unused",
                human_size(size),
                fs.kind,
                human_size(fs_size),
                human_size(size.saturating_sub(fs_size))
            ),
        )
        .with_hint(hint);
        f.place = lv.place.clone();
        out.push(f);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use imgcheck_core::ReadError;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A 32 PiB disk the layer below knows to be all zeros (an empty
    /// qcow2), counting how often it is asked and failing every read.
    struct Empty(AtomicU64);

    impl ReadAt for Empty {
        fn len(&self) -> u64 {
            32 << 50
        }
        fn read_exact_at(&self, offset: u64, _buf: &mut [u8]) -> Result<(), ReadError> {
            panic!("read at {offset}: a known-zero range was read")
        }
        fn known_zero(&self, _offset: u64, _len: u64) -> bool {
            let n = self.0.fetch_add(1, Ordering::Relaxed);
            assert!(
                n < 10_000,
                "the scan asks per chunk: its cost grows with the virtual size"
            );
            true
        }
    }

    #[test]
    fn scan_cost_grows_with_data_not_with_virtual_size() {
        let disk = Empty(AtomicU64::new(0));
        let runs = zero_ranges(&disk, &[(0, disk.len())]);
        assert_eq!(runs, vec![(0, disk.len())]);
        assert!(disk.0.load(Ordering::Relaxed) < 100);
    }
}

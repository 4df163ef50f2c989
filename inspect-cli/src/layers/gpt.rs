//! The partition table (MBR, GPT, or none) as an [`Inspector`]: its node,
//! facts (sector size, the disk size a GPT was written for, where each copy
//! of the table is, whether the kernel sees the partitions) and children:
//! one per partition with what its type promises, the partitions a
//! signature scan found when no table survives, or the whole disk when
//! there is no table at all.

use crate::level::{self, Level};
use crate::limits::MAX_CHILDREN;
use imgcheck_core::{
    Child, ChildNode, Context, Expect, ExtendedFact, Extent, Finding, Identity, IdentityKind,
    Inspected, Inspector, Probe, Promise, ReadAt, Role, Slice, Step, Strength, Structure,
    TableFacts, human_size,
};
use imgcheck_gpt::{Analysis, MbrKind, Partition, Proposed, Scheme, SizeFrom, Tables, guid};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// The partition-table layer.
pub struct PartitionTable;

impl Inspector for PartitionTable {
    fn name(&self) -> &'static str {
        "gpt"
    }

    /// Every whole disk gets a table node, `none` included: a disk without
    /// a table is handed on whole from here.
    fn probe(&self, r: &dyn ReadAt, cx: &Context<'_>) -> Option<Probe> {
        if level::of(cx) != Level::Disk {
            return None;
        }
        let s = imgcheck_gpt::tables::detect_sector_size(r);
        Some(if s.assumed {
            Probe::new(
                Strength::Weak,
                "no GPT signature: an MBR, or no table and the disk handed on whole",
            )
        } else {
            Probe::new(Strength::Structure, s.evidence.join("; "))
        })
    }

    fn inspect(&self, r: &Arc<dyn ReadAt>, _: &Context<'_>) -> Inspected {
        let a = imgcheck_gpt::analyze(r.as_ref());
        let t = &a.tables;
        let mut node = Inspected::new(scheme_name(t), table_title(&a));
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
            "not_a_table": t.not_a_table,
            "label": t.label,
        });
        node.facts.sector_size = Some(t.sector.bytes);
        node.facts.written_for = written_for(t);
        node.facts.table = Some(table_facts(t));
        node.facts.structures = structures(t, r.len());
        node.facts.identities = identities(&a);
        // Findings about one partition go on its node; the table keeps its
        // own. Offsets stay in the disk's space either way.
        let mut by_part: HashMap<u32, Vec<Finding>> = HashMap::new();
        for f in &a.findings {
            match f.place.partition() {
                Some(n) if a.partitions.iter().any(|p| p.number == n) => {
                    let mut f = f.clone();
                    f.place = imgcheck_core::Place::root();
                    by_part.entry(n).or_default().push(f);
                }
                _ => node.findings.push(f.clone()),
            }
        }
        node.children = partitions(r, &a.partitions, &mut by_part);
        // A lost table: the partitions found by signature, so their
        // filesystems get checked where they really start.
        if node.children.is_empty()
            && let Some(rec) = &a.recovery
        {
            node.children = rec
                .proposed
                .iter()
                .map(|p| Child {
                    step: Step::Partition(p.number),
                    reader: Arc::new(Slice::clamped(Arc::clone(r), p.start, p.size)),
                    extent: Extent::Slice {
                        start: p.start,
                        len: p.size,
                    },
                    expect: Expect {
                        // What the signature found there promises (blkid names).
                        contents: match p.fs.as_str() {
                            "swap" | "swsuspend" => Promise::Swap,
                            "LVM2_member" => Promise::Lvm,
                            "crypto_LUKS" => Promise::Encrypted,
                            _ => Promise::Filesystem,
                        },
                        type_name: Some(p.fs.clone()),
                    },
                    node: Some(ChildNode {
                        kind: format!("partition {}", p.number),
                        title: format!(
                            "start {}, size {}, {} (found by its {}, not in any table)",
                            human_size(p.start),
                            human_size(p.size),
                            p.fs,
                            p.found_by
                        ),
                        findings: Vec::new(),
                        details: json!({ "proposed": p }),
                        file: None,
                    }),
                    descend: true,
                })
                .collect();
        }
        // No table: an LV dump or `mkfs.ext4 disk.img`, the disk is the
        // filesystem (or whatever else is at its start).
        if node.children.is_empty() {
            node.children.push(Child {
                step: Step::Other("whole disk".into()),
                reader: Arc::clone(r),
                extent: Extent::Slice {
                    start: 0,
                    len: r.len(),
                },
                expect: Expect::default(),
                node: None,
                descend: true,
            });
        }
        node
    }
}

/// One child per partition, in table order. The contents of a range are
/// checked once: a garbage table repeating one entry must not have the
/// same filesystem checked again and again.
fn partitions(
    disk: &Arc<dyn ReadAt>,
    parts: &[Partition],
    by_part: &mut HashMap<u32, Vec<Finding>>,
) -> Vec<Child> {
    let mut first_of: HashMap<(u64, u64), u32> = HashMap::new();
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            // Past the pipeline's bound a child is counted, not shown: its
            // title is not worth reading the partition's start for.
            let contents = (i < MAX_CHILDREN)
                .then(|| imgcheck_gpt::identify_at(disk.as_ref(), p.start).map(|s| s.display))
                .flatten();
            let mut title = format!(
                "start {}, size {}, {}",
                human_size(p.start),
                human_size(p.size),
                p.type_name
            );
            if !p.name.is_empty() {
                title.push_str(&format!(" \"{}\"", p.name));
            }
            if let Some(c) = contents {
                title.push_str(&format!(", contains {c}"));
            }
            let same = first_of.get(&(p.start, p.size)).copied();
            match same {
                Some(first) => title.push_str(&format!(
                    "; the same range as partition {first}, whose contents are checked there"
                )),
                None => {
                    first_of.insert((p.start, p.size), p.number);
                }
            }
            Child {
                step: Step::Partition(p.number),
                // Clamped: a partition cut short by a truncated image is
                // still read as far as it goes.
                reader: Arc::new(Slice::clamped(Arc::clone(disk), p.start, p.size)),
                extent: Extent::Slice {
                    start: p.start,
                    len: p.size,
                },
                expect: expect_of(p),
                node: Some(ChildNode {
                    kind: format!("partition {}", p.number),
                    title,
                    findings: by_part.remove(&p.number).unwrap_or_default(),
                    details: json!({ "partition": p, "contents": contents }),
                    file: None,
                }),
                descend: same.is_none(),
            }
        })
        .collect()
}

/// What a partition's type promises its contents are.
fn expect_of(p: &Partition) -> Expect {
    let contents = match p.type_id.as_str() {
        "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" | "0xef" => Promise::EfiSystem,
        "21686148-6449-6E6F-744E-656564454649" => Promise::BiosBoot,
        guid::LINUX_LVM | "0x8e" => Promise::Lvm,
        guid::LINUX_SWAP | "0x82" => Promise::Swap,
        "A19D880F-05FC-4D3B-A006-743F0F84911E" | "0xfd" => Promise::Raid,
        guid::LINUX_LUKS | "7FFEC5C9-2D00-49B7-8941-3EA10A5586B7" => Promise::Encrypted,
        // Microsoft reserved, an MBR inside GPT: nothing of their own.
        "E3C9E316-0B5C-4DB8-817D-F92DF00215AE" | "024DEE41-33E7-11D3-9D69-0008C781F39F" => {
            Promise::Empty
        }
        guid::LINUX_FS
        | guid::MS_BASIC_DATA
        | "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"
        | "44479540-F297-41B2-9AF7-D131D5F0458A"
        | "B921B045-1DF0-41C3-AF44-4C6F280D3FAE"
        | "4D21B016-B534-45C2-A9FB-5C16E091FD2D"
        | "933AC7E1-2EB4-4F13-B844-0E14E2AEF915"
        | "3B8F8425-20E0-4F3B-907F-1A25A76F98E8"
        | "BC13C2FF-59E6-4262-A352-B275FD6F7172"
        | "0x83"
        | "0x01"
        | "0x04"
        | "0x06"
        | "0x07"
        | "0x0b"
        | "0x0c"
        | "0x0e" => Promise::Filesystem,
        _ => Promise::Unknown,
    };
    Expect {
        contents,
        type_name: Some(p.type_name.clone()),
    }
}

/// The disk size a GPT was written for: one past its backup header's LBA,
/// as the primary states it or the backup found says of itself. An MBR
/// records none.
fn written_for(t: &Tables) -> Option<u64> {
    // An MBR records no disk size, even with a GPT beside it that is not
    // the table (an isohybrid ISO's).
    if t.scheme != Scheme::Gpt {
        return None;
    }
    let ss = t.sector.bytes;
    let from_primary = t
        .primary
        .as_ref()
        .filter(|c| c.header.signature_ok)
        .map(|c| c.header.alternate_lba);
    let from_backup = t
        .backup
        .as_ref()
        .filter(|c| c.header.signature_ok)
        .map(|c| c.header.my_lba);
    from_primary
        .or(from_backup)
        .map(|lba| lba.saturating_add(1).saturating_mul(ss))
}

/// The table's name as blkid names it: `gpt`, `mbr`, another label's
/// `PTTYPE` (`sun`, `bsd`, …), or `none`.
fn scheme_name(t: &Tables) -> &'static str {
    match (&t.scheme, &t.label) {
        (Scheme::None, Some(l)) => l.scheme,
        _ => t.scheme.as_str(),
    }
}

fn table_facts(t: &Tables) -> TableFacts {
    let mbr_ok = t.mbr.as_ref().is_some_and(|m| m.signature_ok);
    TableFacts {
        scheme: scheme_name(t).to_string(),
        // The kernel reads a GPT only behind a protective (or hybrid) MBR.
        kernel_sees_partitions: match t.scheme {
            Scheme::Gpt => t.mbr.as_ref().is_some_and(|m| {
                m.signature_ok && matches!(m.kind, MbrKind::Protective | MbrKind::Hybrid)
            }),
            Scheme::Mbr => mbr_ok,
            Scheme::None => false,
        },
        only_stale_backup: t.only_stale_backup(),
        intact: match t.scheme {
            Scheme::Gpt => t.gpt_valid(),
            Scheme::Mbr => mbr_ok,
            Scheme::None => false,
        },
        isohybrid: t.isohybrid.is_some(),
        extended: extended_of(t),
        embedded_disk: t.foreign_at_end().and_then(|f| f.start),
        sector_bytes: (t.scheme != Scheme::None && t.sector.bytes != 512).then_some(t.sector.bytes),
        sector_ambiguous: t.scheme != Scheme::None && t.sector.ambiguous,
    }
}

/// The MBR's first extended partition (the one its logical partitions
/// are read from), when the table is an MBR.
fn extended_of(t: &Tables) -> Option<ExtendedFact> {
    if t.scheme != Scheme::Mbr {
        return None;
    }
    let ss = t.sector.bytes;
    t.mbr
        .as_ref()?
        .entries
        .iter()
        .find(|e| imgcheck_gpt::mbr::is_extended(e.os_type) && e.size_in_lba != 0)
        .map(|e| ExtendedFact {
            slot: u32::from(e.slot),
            start: u64::from(e.starting_lba).saturating_mul(ss),
            size: u64::from(e.size_in_lba).saturating_mul(ss),
        })
}

/// Where the table's copies are: the MBR, the primary GPT header, and the
/// backup where the gpt layer found it (on a grown disk it is not at the
/// end), else where it belongs.
fn structures(t: &Tables, disk_len: u64) -> Vec<Structure> {
    let ss = t.sector.bytes;
    let mut out = Vec::new();
    if matches!(t.scheme, Scheme::Gpt | Scheme::Mbr) {
        out.push(Structure::new("MBR", 0, 512, Role::Primary));
    }
    // GRUB's core.img: in each BIOS boot partition (its first sector,
    // diskboot.img), and where boot.img points when that is elsewhere
    // (the MBR gap): a zero map that finds it zeroed names it.
    let bios_boot: Vec<(u32, u64)> = t
        .partitions()
        .iter()
        .filter(|p| {
            p.type_id
                .eq_ignore_ascii_case("21686148-6449-6E6F-744E-656564454649")
        })
        .map(|p| (p.number, p.start))
        .collect();
    for &(n, start) in &bios_boot {
        out.push(Structure::new(
            format!("GRUB core.img (BIOS boot partition {n})"),
            start,
            512,
            Role::Primary,
        ));
    }
    if let Some(g) = t.grub_core
        && !bios_boot.iter().any(|&(_, s)| s == g.start)
    {
        // The zero map sees whole 4 KiB blocks, and core.img in the MBR
        // gap starts at LBA 1, inside sector 0's block: it is named by its
        // part from the next block on. A zeroed diskboot.img leaves no
        // blocklist, so its length is then taken as one block (every
        // core.img is larger: diskboot, lzma_decompress and the kernel).
        let block = crate::layout::ZERO_BLOCK;
        let from = g.start.div_ceil(block).saturating_mul(block);
        let end = if g.len > 512 {
            g.start.saturating_add(g.len)
        } else {
            from.saturating_add(block)
        };
        if end > from {
            out.push(Structure::new(
                "GRUB core.img (where boot.img points)",
                from,
                end.saturating_sub(from),
                Role::Primary,
            ));
        }
    }
    if t.scheme == Scheme::Gpt {
        out.push(Structure::new("primary GPT header", ss, ss, Role::Primary));
        let at_end = disk_len
            .saturating_sub(ss)
            .saturating_sub(disk_len.checked_rem(ss).unwrap_or(0));
        let found = t.backup.as_ref().map(|c| c.lba.saturating_mul(ss));
        out.push(Structure::new(
            "backup GPT header",
            found.unwrap_or(at_end),
            ss,
            Role::Backup,
        ));
    }
    out
}

fn identities(a: &Analysis) -> Vec<Identity> {
    let t = &a.tables;
    let mut out = Vec::new();
    if let Some(h) = t.header() {
        out.push(Identity {
            kind: IdentityKind::DiskGuid,
            value: h.header.disk_guid.to_string(),
        });
    } else if let Some(m) = t
        .mbr
        .as_ref()
        .filter(|m| m.signature_ok && t.scheme == Scheme::Mbr)
    {
        out.push(Identity {
            kind: IdentityKind::DiskSignature,
            value: format!("{:08x}", m.disk_signature),
        });
    }
    out.extend(a.partitions.iter().filter_map(|p| {
        p.unique_guid.map(|g| Identity {
            kind: IdentityKind::PartitionGuid,
            value: g.to_string(),
        })
    }));
    out
}

fn table_title(a: &Analysis) -> String {
    let t = &a.tables;
    let ss = t.sector.bytes;
    let n = a.partitions.len();
    let disk = human_size(t.disk_size);
    let plural = if n == 1 { "" } else { "s" };
    match t.scheme {
        Scheme::Gpt => {
            let state = if t.gpt_valid() { "" } else { " (damaged)" };
            format!("GPT{state}, {ss}-byte sectors, {n} partition{plural}, disk {disk}")
        }
        Scheme::Mbr => {
            let logical = t.mbr.as_ref().map_or(0, |m| m.logicals.len());
            let kind = if t.mbr.as_ref().is_some_and(|m| m.kind == MbrKind::Hybrid) {
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
            None => match (&t.label, &t.not_a_table) {
                (Some(l), _) if l.listed => {
                    format!(
                        "{} (not checked), {n} partition{plural}, disk {disk}",
                        l.name
                    )
                }
                (Some(l), _) => format!(
                    "{} (not checked; partitions not listed), disk {disk}",
                    l.name
                ),
                (None, Some(v)) if v.volume.is_some() => {
                    format!("no partition table: the disk is one volume, disk {disk}")
                }
                _ => format!("no partition table, disk {disk}"),
            },
        },
    }
}

/// A partition the signature scan found with no size of its own was
/// sized to the gap before the next signature (or the disk's end): a
/// guess, not a partition anyone made. A filesystem in it that is smaller
/// than that guess was therefore never "not grown", and growing it, or
/// recreating the partition at the guessed size, would claim whatever lies
/// after its end (another lost filesystem, as often as not). Its
/// `*.size.not_grown` finding goes, the proposal takes the size the
/// filesystem itself states, and the partition says so. Runs once the
/// children are checked: the proposed table (its JSON, the sfdisk script,
/// the finding and its step) is then rendered again from the typed
/// proposal, never edited as text.
pub fn settle_guessed_sizes(node: &mut crate::report::Node) {
    let mut settled: Vec<Proposed> = Vec::new();
    for part in &mut node.children {
        let Some(mut p) = part
            .details
            .get("proposed")
            .and_then(|v| serde_json::from_value::<Proposed>(v.clone()).ok())
        else {
            continue;
        };
        if p.size_from != SizeFrom::Gap {
            continue;
        }
        let ss = p.size.checked_div(p.sectors).unwrap_or(512).max(1);
        let (guess, number, start) = (p.size, p.number, p.start);
        let mut notes = Vec::new();
        for fs in &mut part.children {
            fs.findings.retain(|f| !f.code.ends_with(".size.not_grown"));
            let Some(fs_size) = fs.facts.claimed_size.filter(|&b| b > 0 && b < guess) else {
                continue;
            };
            let fs_sectors = fs_size.div_ceil(ss);
            p.sectors = fs_sectors;
            p.size = fs_sectors.saturating_mul(ss);
            p.size_from = SizeFrom::Filesystem;
            let mut note = Finding::info(
                "gpt.recovery.size_from_filesystem",
                imgcheck_core::Layer::GPT,
                start,
                imgcheck_core::Space::Disk,
                format!(
                    "partition {number} was found by its signature with no size of its own, so the scan sized it to the gap after it ({}); the {} filesystem in it states {} ({fs_size} bytes), so the proposed table gives it {fs_sectors} sectors, and the {} after it, which the filesystem does not own, is left alone",
                    human_size(guess),
                    fs.kind,
                    human_size(fs_size),
                    human_size(guess.saturating_sub(fs_size)),
                ),
            );
            note.place = part.place.clone();
            notes.push(note);
        }
        part.findings.extend(notes);
        if p.size_from != SizeFrom::Gap {
            if let (Ok(v), Some(slot)) =
                (serde_json::to_value(&p), part.details.get_mut("proposed"))
            {
                *slot = v;
            }
            settled.push(p);
        }
    }
    if !settled.is_empty() {
        rerender_proposal(node, &settled);
    }
    for c in &mut node.children {
        settle_guessed_sizes(c);
    }
}

/// The table node's proposal with the `settled` partitions in it: its
/// JSON, its sfdisk script and the `gpt.recovery.partitions_found`
/// finding's message and step, rendered from the typed proposal.
fn rerender_proposal(node: &mut crate::report::Node, settled: &[Proposed]) {
    let Some(mut proposed) = node
        .details
        .pointer("/recovery/proposed")
        .and_then(|v| serde_json::from_value::<Vec<Proposed>>(v.clone()).ok())
    else {
        return;
    };
    for p in &mut proposed {
        if let Some(s) = settled.iter().find(|s| s.number == p.number) {
            *p = s.clone();
        }
    }
    let ss = node.facts.sector_size.unwrap_or(512);
    let Some(len) = node.details.get("disk_size").and_then(|v| v.as_u64()) else {
        return;
    };
    let script = imgcheck_gpt::sfdisk_script(&proposed, len, ss);
    if let Some(rec) = node
        .details
        .get_mut("recovery")
        .and_then(|r| r.as_object_mut())
    {
        rec.insert("sfdisk_script".into(), json!(script));
        if let Ok(v) = serde_json::to_value(&proposed) {
            rec.insert("proposed".into(), v);
        }
    }
    for f in &mut node.findings {
        if f.code != "gpt.recovery.partitions_found" {
            continue;
        }
        f.message = imgcheck_gpt::partitions_found_message(&proposed);
        // An unreadable table keeps its advice: no table is written there.
        if f.hint.as_ref().is_some_and(|h| h.writes) {
            f.hint = Some(imgcheck_gpt::recovery_hint(&script, ss));
        }
    }
}

//! The qcow2 container as an [`Inspector`]: its node, facts (virtual
//! size, snapshots, whether the guest disk reads as the guest sees it) and
//! children: the backing files' checks, and the guest disk (current state,
//! or the snapshot `--snapshot` asks for) as a new address space.

use crate::level::{self, Level};
use crate::pool::Pool;
use imgcheck_core::{
    Attach, BytesReader, Child, ChildNode, Context, Depth, Event, Expect, Extent, Finding,
    GuestDisk, Hint, Identity, IdentityKind, Inspected, Inspector, Layer, Probe, Promise, ReadAt,
    SnapshotFact, Space, Step, Strength, Target, human_size,
};
use imgcheck_qcow2::{
    BackingState, CheckOptions, CheckReport, Error, Guest, Image, OpenOptions, QCOW2_MAGIC,
    Resolver, check,
};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;

/// Where the guest disk appears once attached for next steps.
/// The guest disk's device: the shell variable the attach step sets,
/// never a fixed `/dev/nbdN`, which may be another image's (see
/// [`attach`]).
const NBD_DEVICE: &str = "${NBD:?}";

/// The qcow2 layer.
pub struct Qcow2;

impl Inspector for Qcow2 {
    fn name(&self) -> &'static str {
        "qcow2"
    }

    fn probe(&self, r: &dyn ReadAt, cx: &Context<'_>) -> Option<Probe> {
        if level::of(cx) != Level::ImageFile {
            return None;
        }
        let mut m = [0u8; 4];
        r.read_exact_at(0, &mut m).ok()?;
        (u32::from_be_bytes(m) == QCOW2_MAGIC)
            .then(|| Probe::new(Strength::Magic, "qcow2 magic QFI\\xfb at byte 0"))
    }

    fn inspect(&self, r: &Arc<dyn ReadAt>, cx: &Context<'_>) -> Inspected {
        self.inspect_with(r, cx, None)
    }
}

/// The qcow2 layer over a run's [`Pool`]: backing names that name LVs
/// (oVirt's `../<image>/<volume>`, `/dev/<vg>/<lv>`) are read from the
/// VGs assembled from the images given ([`crate::pool::backing_resolver`]).
pub struct PooledQcow2 {
    pool: Arc<Pool>,
}

impl PooledQcow2 {
    /// The qcow2 layer resolving backing names through `pool`.
    pub fn new(pool: Arc<Pool>) -> PooledQcow2 {
        PooledQcow2 { pool }
    }
}

impl Inspector for PooledQcow2 {
    fn name(&self) -> &'static str {
        Qcow2.name()
    }

    fn probe(&self, r: &dyn ReadAt, cx: &Context<'_>) -> Option<Probe> {
        Qcow2.probe(r, cx)
    }

    fn inspect(&self, r: &Arc<dyn ReadAt>, cx: &Context<'_>) -> Inspected {
        let resolver = crate::pool::backing_resolver(
            &self.pool,
            cx.options.origin.as_deref(),
            cx.options.snapshot.as_deref(),
            cx.place,
        );
        Qcow2.inspect_with(r, cx, Some(resolver))
    }
}

/// A backing name inside an LV that names no LV (`sub/base.qcow2`, a
/// path of the host) is not followed: a relative name resolves beside the
/// LV's device, in `/dev/VG/`, where only LVs are, and any other path is
/// a file of the host that ran the VM, which this check never sees. The
/// finding says which name and why, and that the guest disk reads
/// unknown bytes wherever the overlay has no cluster (an attack saw a
/// name skipped without a reason).
fn not_followed_in_volume(findings: &mut [Finding], cx: &Context<'_>) {
    let lv = cx.place.0.iter().rev().find_map(|s| match s {
        Step::Volume(v) => Some(v.clone()),
        _ => None,
    });
    let Some(lv) = lv else { return };
    let vg = lv.split('/').next().unwrap_or_default().to_string();
    for f in findings
        .iter_mut()
        .filter(|f| f.code == "qcow2.backing.not_followed")
    {
        f.severity = imgcheck_core::Severity::Warning;
        f.message = format!(
            "{}: the image is in LV {lv}, and the name is no LV of VG {vg} (/dev/VG/LV, ../IMAGE/VOLUME or a bare LV name): relative, it resolves beside /dev/{lv}, where only LVs are; absolute, it is a file of the host that ran the VM, which an offline check never reads. Clusters the overlay does not hold are unknown, not zeros",
            f.message
                .trim_end_matches("; unallocated clusters cannot be read")
        );
    }
}

impl Qcow2 {
    /// The qcow2 node of `r`, its backing names asked of `resolver` first.
    fn inspect_with(
        &self,
        r: &Arc<dyn ReadAt>,
        cx: &Context<'_>,
        resolver: Option<Resolver>,
    ) -> Inspected {
        // A qcow2 inside a logical volume has no place on the host's file
        // system: its backing names are LVs (the resolver) or unknown,
        // never files beside the outer image (an attack had
        // `../../etc/passwd` read from the host as a backing file).
        let in_volume = cx.place.0.iter().any(|s| matches!(s, Step::Volume(_)));
        let origin = cx.options.origin.as_deref().filter(|_| !in_volume);
        let image = match open_image(Arc::clone(r), origin, cx.budget, resolver) {
            Ok(i) => Arc::new(i),
            Err(e) => return unopenable(&e, r),
        };
        let report = check(
            &image,
            &CheckOptions {
                deep: cx.options.depth == Depth::Full,
                check_backing: true,
                ..CheckOptions::default()
            },
        );
        let mut node = Inspected::new("qcow2", title(&image, &report));
        node.findings.clone_from(&report.findings);
        // Only the image file itself can be a raw disk beneath: a qcow2 in
        // a volume or a backing file is read as what holds it says.
        if !in_volume
            && let Some(why) =
                crate::layout::foreign::raw_disk_beneath(r.as_ref(), report.image_end_offset)
        {
            node.findings.push(Finding::error(
                crate::layout::foreign::QCOW2_OVER_RAW,
                Layer::QCOW2,
                report.image_end_offset,
                Space::File,
                format!(
                    "the qcow2 image ends at byte {} (its last cluster in use), but the file is {} and past that end {why}: this file is a raw disk whose start a qcow2 image was written over; it is read as that raw disk",
                    report.image_end_offset,
                    human_size(r.len())
                ),
            ));
        }
        if in_volume {
            not_followed_in_volume(&mut node.findings, cx);
        }
        // The snapshot asked for: an exact id first, then a name, and a
        // word when the id shadows another snapshot's name.
        let view = match &cx.options.snapshot {
            Some(s) => match image.lookup_snapshot(s) {
                Ok(l) => {
                    if let Some(other) = l.also_name_of {
                        node.findings.push(ambiguous(s, l.found, other));
                    }
                    let step = Step::Snapshot(l.found.label());
                    Guest::snapshot_at(Arc::clone(&image), l.found.index).map(|g| (g, Some(step)))
                }
                Err(e) => Err(e),
            },
            None => Ok((Guest::new(Arc::clone(&image)), None)),
        };
        if let Ok((g, _)) = &view
            && let Some(sn) = g.snapshot_index().and_then(|i| image.snapshots().get(i))
        {
            node.title
                .push_str(&format!("; showing snapshot {}", sn.described()));
        }
        node.details = details(&image, &report, cx.options.snapshot.as_deref());
        node.events = events(&image);
        node.facts.claimed_size = Some(image.header().size);
        node.facts.snapshots = image
            .snapshots()
            .iter()
            .map(|s| SnapshotFact {
                id: s.id.clone(),
                name: s.name.clone(),
                disk_size: s.disk_size,
                date: s.date().map(i64::from),
            })
            .collect();
        node.facts.identities = image
            .chain()
            .iter()
            .map(|b| Identity {
                kind: IdentityKind::BackingFile,
                value: b.name.clone(),
            })
            .collect();
        node.children = backing_children(&image, &report);
        let (size, why_not) = match &view {
            Ok((g, _)) => (g.len(), image.guest_blocked().map(|b| b.to_string())),
            Err(e) => {
                // A snapshot that is there but whose table cannot be read
                // is damage; one that is not there the pipeline refuses.
                if !matches!(e, Error::SnapshotNotFound { .. }) {
                    node.findings.push(Finding::error(
                        "qcow2.snapshot.unreadable",
                        Layer::QCOW2,
                        e.offset(),
                        Space::File,
                        format!(
                            "snapshot {:?} cannot be shown: {e}",
                            cx.options.snapshot.as_deref().unwrap_or("")
                        ),
                    ));
                }
                (0, Some(e.to_string()))
            }
        };
        node.facts.guest = Some(GuestDisk {
            readable: why_not.is_none(),
            why_not: why_not.clone(),
            size,
            attach: Some(attach(cx.options.snapshot.as_deref(), &view)),
        });
        if let (Ok((guest, step)), None) = (view, why_not) {
            node.children.push(Child {
                step: step.unwrap_or_else(|| Step::Other("guest disk".into())),
                reader: Arc::new(guest),
                extent: Extent::Mapped,
                expect: Expect {
                    contents: Promise::Disk,
                    type_name: None,
                },
                node: None,
                descend: true,
            });
        }
        node
    }
}

/// `--snapshot X` where X is one snapshot's id and another's name: the id
/// wins (as QEMU's own lookup by id), and the report says so.
fn ambiguous(
    asked: &str,
    found: &imgcheck_qcow2::Snapshot,
    other: &imgcheck_qcow2::Snapshot,
) -> Finding {
    Finding::info(
        "qcow2.snapshot.ambiguous",
        Layer::QCOW2,
        found.entry_offset,
        Space::File,
        format!(
            "{:?} is the id of snapshot {} and also the name of snapshot {}; this report shows the one with that id",
            asked.chars().take(imgcheck_qcow2::SHOWN_NAME_CHARS).collect::<String>(),
            found.described(),
            other.described()
        ),
    )
    .with_hint(
        Hint::read_only(format!("imgcheck --snapshot {} {{image}}", quoted(&other.id)))
            .on(Target::Image)
            .because("the other snapshot, by its id"),
    )
}

/// How next steps reach the guest disk: qemu-nbd, read-only, with the
/// snapshot the report shows.
fn attach(snapshot: Option<&str>, view: &Result<(Guest, Option<Step>), Error>) -> Attach {
    let load = match (snapshot, view) {
        (Some(_), Ok((g, Some(_)))) => g
            .snapshot_index()
            .and_then(|i| g.image().snapshots().get(i))
            .map_or(String::new(), |s| {
                format!(
                    " --load-snapshot={}",
                    quoted(&format!("snapshot.id={}", s.id))
                )
            }),
        _ => String::new(),
    };
    // qemu-nbd has no --find: the step tries each nbd device with no disk
    // (size 0) and keeps the first one its own connect succeeded on. A
    // device another user connects meanwhile makes that connect fail
    // (busy) and the loop goes on, so NBD only ever names a device this
    // step connected, or is empty. qemu-nbd's output goes to stderr so
    // that its daemon does not hold the $(...) pipe open.
    Attach {
        hint: Hint::read_only(format!(
            "modprobe nbd max_part=16; NBD=$(for d in /sys/class/block/nbd*; do [ \"$(cat \"$d/size\")\" = 0 ] && qemu-nbd --read-only{load} --connect=\"/dev/${{d##*/}}\" {{image}} >&2 && echo \"/dev/${{d##*/}}\" && break; done)"
        ))
        .on(Target::Image)
        .because(format!("the guest disk as a block device, a free nbd device named in NBD; partitions appear as {NBD_DEVICE}pN")),
        device: NBD_DEVICE.into(),
        // sgdisk on the qcow2 file would write raw sectors into it.
        file: None,
    }
}

/// `s` as one shell word: an id or a name comes from the image, and a
/// hint is a command someone pastes.
fn quoted(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-=:,/+@".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn open_image(
    file: Arc<dyn ReadAt>,
    origin: Option<&Path>,
    budget: &imgcheck_core::Budget,
    resolver: Option<Resolver>,
) -> Result<Image, Error> {
    // Backing files resolve against the image's own directory unless the
    // resolver knows the name, and are read within the image's own
    // bound, as its data file is.
    let path = origin.filter(|p| !p.as_os_str().is_empty());
    let opts = OpenOptions {
        budget: Some(budget.share()),
        resolver,
        ..OpenOptions::default()
    };
    Image::open_with(file, path, &opts)
}

/// The bound of an image opened outside the walk (`--all-snapshots`'
/// listing, `--qemu-compat`): the walk's own, for the same files.
fn own_budget(len: u64) -> imgcheck_core::Budget {
    imgcheck_core::Budget::new(crate::limits::read_bound(len), crate::limits::MAX_VISITS)
        .per_file_byte(crate::limits::READ_BYTES_PER_FILE_BYTE)
}

/// An image with the qcow2 magic that does not open: damage (a header
/// value QEMU refuses, a file too short for its header) is a finding at
/// its offset, and the file is still read as raw so what it holds is
/// identified by signature; a QCOW version 1 image (the format before
/// qcow2, same magic, sound) is a warning that nothing inside was
/// checked; a read the storage failed stays an error of the file.
fn unopenable(e: &Error, file: &Arc<dyn ReadAt>) -> Inspected {
    let e = e.inner();
    let legacy = matches!(e, Error::QcowV1);
    let title = if legacy {
        "QCOW version 1 image: the format before qcow2, not checked".to_string()
    } else {
        format!("qcow2 image that cannot be opened: {e}")
    };
    let mut node = Inspected::new("qcow2", title);
    node.findings.push(e.finding());
    node.facts.guest = Some(GuestDisk {
        readable: false,
        why_not: Some(if legacy {
            "imgcheck does not read QCOW version 1 images".to_string()
        } else {
            format!(
                "the qcow2 image cannot be opened ({e}){}",
                if e.is_damage() {
                    "; the file was read as raw for what it holds"
                } else {
                    ""
                }
            )
        }),
        // QCOW v1's header gives the virtual size at offset 24 (after
        // magic, version, backing_file_offset, backing_file_size, mtime):
        // said, so the disk is not "0 bytes" (qemu-img info reads it).
        size: if legacy {
            qcow_v1_size(file.as_ref())
        } else {
            0
        },
        attach: None,
    });
    if e.is_damage() {
        // What can still be learned: the bytes as they are, for the
        // signatures of what the file really holds.
        // As the raw container hands it out: a disk, so a partition table
        // is looked for before a filesystem's backup superblocks.
        node.children.push(Child {
            step: Step::Other("file read as raw".into()),
            reader: Arc::clone(file),
            extent: Extent::Mapped,
            expect: Expect {
                contents: Promise::Disk,
                type_name: None,
            },
            node: None,
            descend: true,
        });
    }
    node
}

/// The virtual size a QCOW version 1 header records (big-endian u64 at
/// byte 24), 0 when it does not read.
fn qcow_v1_size(file: &dyn ReadAt) -> u64 {
    let mut b = [0u8; 8];
    match file.read_exact_at(24, &mut b) {
        Ok(()) => u64::from_be_bytes(b),
        Err(_) => 0,
    }
}

/// The checks of the backing chain, one node each (listed, not descended:
/// the guest disk already reads through them). Their findings' offsets are
/// in that backing file, which their place names.
fn backing_children(image: &Image, report: &CheckReport) -> Vec<Child> {
    let chain = image.chain();
    // Where the chain stopped, said once, at the image that names the
    // file not opened, with both depths.
    let mut stopped = false;
    report
        .backing
        .iter()
        .filter_map(|b| {
            let r = b.report.as_ref()?;
            let reader: Arc<dyn ReadAt> =
                match chain.get(b.depth.saturating_sub(1)).map(|c| &c.state) {
                    Some(BackingState::Qcow2(img)) => Arc::clone(img.file()),
                    _ => Arc::new(BytesReader::new(Vec::new())),
                };
            let findings = r
                .findings
                .iter()
                .filter(|f| f.code != "qcow2.stats")
                .filter(|f| {
                    f.code != "qcow2.backing.too_deep" || !std::mem::replace(&mut stopped, true)
                })
                .map(|f| {
                    let mut f: Finding = f.clone();
                    if f.code == "qcow2.backing.too_deep" {
                        let next = match chain.get(b.depth.saturating_sub(1)).map(|c| &c.state) {
                            Some(BackingState::Qcow2(img)) => img.backing().map(|n| n.name.clone()),
                            _ => None,
                        }
                        .unwrap_or_else(|| "?".to_string());
                        f.message = format!(
                            "the check stopped at backing file {} (depth {} below this image): it names {next:?} (depth {}) as its backing file, which was not opened. imgcheck follows {} backing files (each opened recursively, so the bound keeps the stack and memory bounded); QEMU sets no limit (qemu-img 10.0 opens and checks a 301-image chain). Files from depth {} down are not checked and the guest reads unknown bytes where only they hold clusters; this is not damage by itself",
                            b.name,
                            b.depth,
                            b.depth.saturating_add(1),
                            imgcheck_qcow2::limits::MAX_CHAIN_DEPTH,
                            b.depth.saturating_add(1),
                        );
                    } else {
                        f.message = format!("backing file {}: {}", b.name, f.message);
                    }
                    f
                })
                .collect();
            Some(Child {
                step: Step::Backing(u32::try_from(b.depth).unwrap_or(u32::MAX)),
                reader,
                extent: Extent::Mapped,
                expect: Expect::default(),
                node: Some(ChildNode {
                    kind: "qcow2 backing".into(),
                    title: format!(
                        "{} (depth {}): {}, {}",
                        b.name,
                        b.depth,
                        plural(r.corruptions, "corruption"),
                        plural(r.leaks, "leak")
                    ),
                    findings,
                    details: json!({
                        "name": b.name,
                        "path": b.path,
                        "depth": b.depth,
                        "verdict": verdict(r),
                        "counters": counters(r),
                    }),
                    file: Some(
                        b.path
                            .as_ref()
                            .map_or_else(|| b.name.clone(), |p| p.display().to_string()),
                    ),
                }),
                descend: false,
            })
        })
        .collect()
}

fn events(image: &Image) -> Vec<Event> {
    let snaps = image.snapshots();
    let mut out: Vec<Event> = snaps
        .iter()
        .filter_map(|s| {
            let time = i64::from(s.date()?);
            Some(Event {
                time,
                source: format!("qcow2 snapshot {}", s.described()),
                what: format!(
                    "internal snapshot taken (VM clock {} s, VM state {} bytes)",
                    s.vm_clock_nsec.checked_div(1_000_000_000).unwrap_or(0),
                    s.vm_state_size
                ),
            })
        })
        .take(MAX_SNAPSHOTS_LISTED)
        .collect();
    let dated = snaps.iter().filter(|s| s.date().is_some()).count();
    if let Some(last) = out.last().map(|e| e.time)
        && dated > MAX_SNAPSHOTS_LISTED
    {
        out.push(Event {
            time: last,
            source: "qcow2 snapshot table".into(),
            what: format!(
                "and {} more snapshots, not listed (at most {MAX_SNAPSHOTS_LISTED} are)",
                dated.saturating_sub(MAX_SNAPSHOTS_LISTED)
            ),
        });
    }
    out
}

/// Snapshots listed one by one in a report (timeline, details); a table
/// of 65,536 is summarised past this, the check still covers them all.
pub const MAX_SNAPSHOTS_LISTED: usize = 256;

/// Snapshots of one image `--all-snapshots` inspects one by one: each is a
/// whole walk of its guest disk.
pub const MAX_SNAPSHOT_REPORTS: usize = 64;

/// `--all-snapshots`: the ids of the snapshots of `file` to inspect one by
/// one, in table order (ids come first in the lookup, so a name that is
/// another's id cannot redirect one), and notes on the ones that are not (sharing another's
/// disk, an id already taken, past [`MAX_SNAPSHOT_REPORTS`]); or why none
/// is: the table cannot be read (QEMU refuses it too) or the image does
/// not open.
pub fn snapshot_items(
    file: Arc<dyn ReadAt>,
    path: &Path,
) -> Result<(Vec<String>, Vec<String>), String> {
    let budget = own_budget(file.len());
    let image = open_image(file, Some(path), &budget, None).map_err(|e| e.inner().to_string())?;
    let table = image.snapshot_table();
    if !table.readable() {
        let why = table
            .qemu
            .as_ref()
            .map(|q| format!("QEMU: \"{}\"", q.message))
            .or_else(|| table.error.as_ref().map(|e| e.1.clone()))
            .unwrap_or_default();
        return Err(format!(
            "its snapshot table cannot be read ({why}); the check reports it, and no snapshot is shown"
        ));
    }
    let mut items: Vec<String> = Vec::new();
    let mut notes = Vec::new();
    let mut ids = std::collections::HashSet::new();
    let mut disks: std::collections::HashMap<(u64, u32), String> = std::collections::HashMap::new();
    let mut skipped = 0usize;
    for s in image.snapshots() {
        if !ids.insert(s.id.clone()) {
            notes.push(format!(
                "snapshot {} repeats an id; only the first with it can be selected",
                s.described()
            ));
            continue;
        }
        if usize::from(s.id_len) > s.id.len() {
            notes.push(format!(
                "snapshot {} has an id too long to select it by",
                s.described()
            ));
            continue;
        }
        if let Some(first) = disks.get(&(s.l1_table_offset, s.l1_size)) {
            notes.push(format!(
                "snapshot {} shows the same disk as snapshot {first} (one L1 table)",
                s.described()
            ));
            continue;
        }
        if items.len() >= MAX_SNAPSHOT_REPORTS {
            skipped = skipped.saturating_add(1);
            continue;
        }
        disks.insert((s.l1_table_offset, s.l1_size), s.described());
        items.push(s.id.clone());
    }
    if skipped > 0 {
        notes.push(format!(
            "{skipped} more snapshots not shown one by one: at most {MAX_SNAPSHOT_REPORTS} are (bound)"
        ));
    }
    notes.truncate(MAX_SNAPSHOTS_LISTED);
    Ok((items, notes))
}

/// `--qemu-compat`: exactly `qemu-img check --output=json`'s object for
/// `file` and qemu-img check's exit code (0 clean, 1 check incomplete or
/// not openable, 2 corruptions, 3 leaks only); on failure the message and
/// code qemu-img would give.
pub fn qemu_check(
    file: Arc<dyn ReadAt>,
    path: &Path,
) -> Result<(serde_json::Value, u8), (String, u8)> {
    let name = path.display().to_string();
    let code = |c: i32| u8::try_from(c).unwrap_or(1);
    let budget = own_budget(file.len());
    let image = open_image(file, Some(path), &budget, None).map_err(|e| {
        let c = e.qemu_exit_code();
        // Not probed as qcow2 (too short, QCOW version 1, …): qemu-img
        // takes it for a format without checks.
        let msg = if c == 63 {
            "This image format does not support checks".to_string()
        } else {
            format!(
                "Could not open '{name}': {}",
                e.qemu_message().unwrap_or_else(|| e.inner().to_string())
            )
        };
        (msg, code(c))
    })?;
    // qemu-img check checks only the top image.
    let report = check(
        &image,
        &CheckOptions {
            deep: false,
            check_backing: false,
            ..CheckOptions::default()
        },
    );
    // When qemu-img cannot open the image, or its check stops, it prints
    // no JSON: only the message and exit 1.
    report
        .qemu_output(&name)
        .map(|j| (j, code(report.qemu_exit_code())))
        .map_err(|m| (m, code(report.qemu_exit_code())))
}

fn title(image: &Image, r: &CheckReport) -> String {
    let h = image.header();
    let mut t = format!(
        "qcow2 v{}, virtual {}, cluster {}",
        h.version,
        human_size(h.size),
        human_size(h.cluster_size())
    );
    let n = image.snapshots().len();
    if n > 0 {
        t.push_str(&format!(", {n} snapshot{}", if n == 1 { "" } else { "s" }));
    }
    if let Some(b) = image.backing() {
        t.push_str(&format!(", backing {}", b.name));
    }
    if h.has_data_file() {
        t.push_str(", external data file");
    }
    if h.compression_type == 1 {
        t.push_str(", zstd");
    }
    if h.extended_l2() {
        t.push_str(", extended L2");
    }
    if h.crypt_method != 0 {
        t.push_str(if h.crypt_method == 1 {
            ", encrypted (AES)"
        } else {
            ", encrypted (LUKS)"
        });
    }
    t.push_str(&format!(
        ", {}, {}",
        plural(r.corruptions, "corruption"),
        plural(r.leaks, "leak")
    ));
    t
}

/// `n thing` or `n things`.
fn plural(n: u64, thing: &str) -> String {
    format!("{n} {thing}{}", if n == 1 { "" } else { "s" })
}

fn verdict(r: &CheckReport) -> &'static str {
    match r.worst() {
        Some(imgcheck_core::Severity::Error) => "damaged",
        Some(imgcheck_core::Severity::Warning) => "warning",
        _ => "clean",
    }
}

fn counters(r: &CheckReport) -> serde_json::Value {
    json!({
        "corruptions": r.corruptions,
        "leaks": r.leaks,
        "check-errors": r.check_errors,
        "image-end-offset": r.image_end_offset,
        "total-clusters": r.total_clusters,
        "allocated-clusters": r.allocated_clusters,
        "fragmented-clusters": r.fragmented_clusters,
        "compressed-clusters": r.compressed_clusters,
        "file-length": r.file_length,
        "highest-referenced-end": r.highest_referenced_end,
        "lost-guest-bytes": r.lost_guest_bytes,
        "refcounts-past-eof": r.refcounts_past_eof,
        "qemu-exit-code": r.qemu_exit_code(),
    })
}

fn details(image: &Image, r: &CheckReport, snapshot: Option<&str>) -> serde_json::Value {
    let h = image.header();
    let chain: Vec<_> = image
        .chain()
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let (state, size) = match &b.state {
                BackingState::Qcow2(img) => ("qcow2".to_string(), Some(img.header().size)),
                BackingState::Raw(f) => ("raw".to_string(), Some(f.len())),
                other => (other.to_string(), None),
            };
            let check = r.backing.get(i).and_then(|c| c.report.as_ref());
            json!({
                "depth": i.saturating_add(1),
                "name": b.name,
                "format": b.format,
                "path": b.path,
                "state": state,
                "virtual-size": size,
                "verdict": check.map(|c| verdict(c)),
                "counters": check.map(|c| counters(c)),
            })
        })
        .collect();
    let all = image.snapshots();
    let snapshots: Vec<_> = all
        .iter()
        .take(MAX_SNAPSHOTS_LISTED)
        .map(|s| {
            json!({
                "id": s.shown_id(),
                "name": s.shown_name(),
                "date-sec": s.date(),
                "date-nsec": s.date_nsec,
                "vm-clock-nsec": s.vm_clock_nsec,
                "vm-state-size": s.vm_state_size,
                "disk-size": s.disk_size,
                "icount": s.icount,
                "l1-table-offset": s.l1_table_offset,
                "l1-size": s.l1_size,
                "extra-data-size": s.extra_data_size,
            })
        })
        .collect();
    let not_listed = all.len().saturating_sub(MAX_SNAPSHOTS_LISTED);
    json!({
        "header": h,
        "cluster-size": h.cluster_size(),
        "refcount-bits": h.refcount_bits(),
        "virtual-size": h.size,
        "counters": counters(r),
        "verdict": verdict(r),
        "snapshots": snapshots,
        "snapshots-not-listed": not_listed,
        "viewing-snapshot": snapshot,
        "backing-chain": chain,
        "data-file": h.extensions.data_file,
    })
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn ids_from_the_image_are_one_shell_word() {
        assert_eq!(quoted("snapshot.id=1"), "snapshot.id=1");
        assert_eq!(quoted("1; rm -rf ~"), "'1; rm -rf ~'");
        assert_eq!(quoted("it's"), "'it'\\''s'");
        assert_eq!(quoted(""), "''");
    }
}

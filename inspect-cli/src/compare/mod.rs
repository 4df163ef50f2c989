//! `imgcheck compare A B [C …]`: replicas, backups and snapshots side by
//! side. Each copy gets the normal check; every two copies (past four,
//! every copy and the first) are then set against each other: whether
//! it is the same disk (shared GUIDs and UUIDs, one image's snapshots,
//! one backing file), where the guest bytes diverge
//! (allocation maps first, so shared and zero runs are never read), what
//! the divergent bytes belong to (each copy's filesystem reverse map), and
//! which is newer by on-disk evidence. Nothing is written anywhere; the
//! advice names copies, never a brick or the images themselves.
//!
//! ```no_run
//! let report = imgcheck::compare::compare(&["brick1/vm.qcow2".into(), "brick2/vm.qcow2".into()])?;
//! for line in &report.summary {
//!     println!("{line}");
//! }
//! # Ok::<(), String>(())
//! ```

pub mod diverge;
pub mod gluster;
pub mod model;
mod owners;
pub mod source;
pub(crate) mod summary;
pub mod text;

use crate::exit;
use crate::options::Options;
use crate::report::{ImageReport, Verdict};
use imgcheck_core::{IdentityKind, OwnerKind, Severity};
use model::{CompareReport, CopyReport, Counter, Kinship, Newer, Pair, Relation};
use source::{Copy, FileId, Origin};

/// Problems listed per copy at most (the normal check lists all).
const MAX_PROBLEMS: usize = 8;

/// Compares the copies named by `args` (paths or `PATH@SNAPSHOT`); the
/// error names the copy that could not be opened.
pub fn compare(args: &[String]) -> Result<CompareReport, String> {
    let mut copies = Vec::new();
    for a in args {
        copies.push(Copy::open(a).map_err(|e| format!("{a}: {e}"))?);
    }
    // A 0-byte brick file beside brick files that hold data is an
    // arbiter's (replica 3 arbiter 1: metadata and xattrs only) or one an
    // entry heal created and no data heal filled: no copy of the data.
    // It is set against nothing and never a source; its changelog still
    // counts in the heal direction (attackB F16). The copies compared are
    // the others, against the first of them.
    let empty: Vec<bool> = copies.iter().map(|c| is_empty_brick(c, &copies)).collect();
    let data: Vec<usize> = (0..copies.len())
        .filter(|&k| !empty.get(k).copied().unwrap_or(false))
        .collect();
    // Where the guest bytes diverge needs no copy's check: it is read on
    // another thread while the checks run, and both read the same files,
    // so a compare takes about the longer of the two, not their sum.
    let set = pairs_set(&data);
    let (checks, divergences) = std::thread::scope(|s| {
        let diverging = s.spawn(|| {
            set.iter()
                .filter_map(|&(i, k)| Some(diverge::diverge(copies.get(i)?, copies.get(k)?)))
                .collect::<Vec<_>>()
        });
        let checks: Vec<Option<ImageReport>> = copies
            .iter()
            .zip(&empty)
            .map(|(c, &e)| if e { None } else { check(c) })
            .collect();
        match diverging.join() {
            Ok(d) => (checks, d),
            // A panic goes on up as it would on one thread.
            Err(e) => std::panic::resume_unwind(e),
        }
    });
    let mut reports: Vec<CopyReport> = copies
        .iter()
        .zip(&checks)
        .map(|(c, r)| copy_report(c, r.as_ref()))
        .collect();
    for (r, _) in reports.iter_mut().zip(&empty).filter(|(_, e)| **e) {
        r.verdict = EMPTY.to_string();
    }
    // Which client each brick is, from all the copies' AFR names at once
    // (two copies of a replica 3 do not name the third).
    let mut bricks: Vec<&mut gluster::Brick> = reports
        .iter_mut()
        .filter_map(|r| r.brick.as_mut())
        .collect();
    gluster::identify(&mut bricks);
    // Gluster's heal direction over every copy on a brick at once: a
    // pair's own blame is not what self-heal decides by (attack F4, F5).
    let on: Vec<gluster::OnBrick<'_>> = reports
        .iter()
        .enumerate()
        .filter_map(|(k, r)| {
            Some(gluster::OnBrick {
                copy: k,
                brick: r.brick.as_ref()?,
                size: copies
                    .get(k)
                    .and_then(|c| std::fs::metadata(&c.path).ok())
                    .map_or(0, |m| m.len()),
            })
        })
        .collect();
    let afr = gluster::direction(&on);
    drop(on);
    // Clients the changelog's one plausible assignment tells: the reports
    // name them, so a brick is not "not among the copies" beside its own
    // file (attackA A2).
    if let Some(d) = afr.as_ref().filter(|d| !d.clients_assumed && !d.undecided) {
        for (name, k) in d.clients.iter().zip(&d.copy_of) {
            if let Some(b) = k
                .and_then(|k| reports.get_mut(k))
                .and_then(|r| r.brick.as_mut())
            {
                b.client.get_or_insert_with(|| name.clone());
            }
        }
    }
    // What each copy's allocation map holds, for its report.
    for (c, r) in copies.iter().zip(reports.iter_mut()) {
        r.allocated = allocated(c);
    }
    let mut pairs = Vec::new();
    for (&(i, k), divergence) in set.iter().zip(divergences) {
        let (Some(a), Some(ar), Some(c), Some(r)) =
            (copies.get(i), checks.get(i), copies.get(k), checks.get(k))
        else {
            continue;
        };
        pairs.push(pair(
            a,
            ar.as_ref(),
            c,
            r.as_ref(),
            &reports,
            divergence,
            afr.as_ref().map(|d| (d, i, k)),
        ));
    }
    let mut notes =
        one_source_per_sink(&copies, &checks, &reports, &mut pairs, afr.as_ref(), &empty);
    notes.extend(summary::notes(&copies, &reports, &pairs, afr.as_ref()));
    let lines = summary::lines(&reports, &pairs, &notes);
    let mut status = exit::CLEAN;
    if pairs.iter().any(|p| !p.divergence.identical()) {
        status |= exit::WARNINGS;
    }
    if reports
        .iter()
        .any(|r| r.verdict == Verdict::Damaged.as_str())
    {
        status |= exit::DAMAGED;
    }
    Ok(CompareReport {
        copies: reports,
        pairs,
        notes,
        summary: lines,
        exit: status,
    })
}

/// Copies holding data at most that are all set against each other; past
/// that, each is set against the first (a series of backups).
const MAX_ALL_PAIRS: usize = 4;

/// The pairs compared, as indices into the copies: every two of `data`
/// up to [`MAX_ALL_PAIRS`] copies, else the first against each other.
/// Set against the first only, which pairs a report held (and so its
/// per-pair notes: which two bricks AFR takes to be in sync, who blames
/// whom) hung on which copy was given first (attackA A1, A2).
fn pairs_set(data: &[usize]) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    for (n, &i) in data.iter().enumerate() {
        for &k in data.iter().skip(n.saturating_add(1)) {
            v.push((i, k));
        }
        if data.len() > MAX_ALL_PAIRS {
            break;
        }
    }
    v
}

/// Copies at most for which a sink's source is sought among all the
/// copies, not only those its pairs set it against (each extra candidate
/// costs a comparison).
const MAX_CANDIDATES: usize = 8;

/// One sink gets one source, whatever the argument order. Pairs set every
/// copy against the first only, so which copies a sink met depended on the
/// order: a backup series healed its oldest from the second copy given,
/// or from the newest, as the arguments fell (attack F8, F9, F20). Every
/// copy that would be the sink's source set against it alone is a
/// candidate (up to [`MAX_CANDIDATES`] copies), and the candidates are set
/// against each other in the order of their labels: when two hold the
/// same guest bytes either will do and both stay; when they differ, the
/// one their own pair picks is kept and the other's pair, when listed,
/// loses its source; when nothing picks between them, no pair keeps one.
/// Said in a note either way.
fn one_source_per_sink(
    copies: &[Copy],
    checks: &[Option<ImageReport>],
    reports: &[CopyReport],
    pairs: &mut Vec<Pair>,
    afr: Option<&gluster::Direction>,
    empty: &[bool],
) -> Vec<model::Note> {
    let mut notes = Vec::new();
    let index = |label: &str| copies.iter().position(|c| c.label == label);
    // Every copy may be a sink, not only those a pair with the first copy
    // names: given the base first, a replica's own sink-ness against the
    // other replica was never looked at (attackA A1).
    let everyone = copies.len() <= MAX_CANDIDATES;
    let mut sinks: Vec<String> = if everyone {
        copies
            .iter()
            .zip(empty)
            .filter(|(_, e)| !**e)
            .map(|(c, _)| c.label.clone())
            .collect()
    } else {
        pairs.iter().filter_map(|p| p.sink.clone()).collect()
    };
    sinks.sort();
    sinks.dedup();
    // Pairs set up here, by their two labels (sorted): each is made once.
    let mut made: Vec<((String, String), Pair)> = Vec::new();
    let mut extra: Vec<Pair> = Vec::new();
    for sink in sinks {
        let mut alone_pairs: Vec<Pair> = Vec::new();
        let mut srcs: Vec<String> = pairs
            .iter()
            .filter(|p| p.sink.as_deref() == Some(sink.as_str()))
            .filter_map(|p| p.source.clone())
            .collect();
        if let Some(s) = index(&sink)
            && let Some(cs) = copies.get(s)
            && everyone
        {
            for (k, c) in copies.iter().enumerate() {
                let listed = pairs
                    .iter()
                    .any(|p| (p.a == c.label && p.b == sink) || (p.b == c.label && p.a == sink));
                if k == s || listed || empty.get(k).copied().unwrap_or(true) {
                    continue;
                }
                let key = if c.label <= sink {
                    (c.label.clone(), sink.clone())
                } else {
                    (sink.clone(), c.label.clone())
                };
                let alone = match made.iter().find(|(x, _)| *x == key) {
                    Some((_, p)) => p.clone(),
                    None => {
                        let d = diverge::diverge(c, cs);
                        let p = pair(
                            c,
                            checks.get(k).and_then(Option::as_ref),
                            cs,
                            checks.get(s).and_then(Option::as_ref),
                            reports,
                            d,
                            afr.map(|x| (x, k, s)),
                        );
                        made.push((key, p.clone()));
                        p
                    }
                };
                if alone.source.as_deref() == Some(c.label.as_str())
                    && alone.sink.as_deref() == Some(sink.as_str())
                {
                    srcs.push(c.label.clone());
                    alone_pairs.push(alone);
                }
            }
        }
        srcs.sort();
        srcs.dedup();
        // Pairwise, in the labels' order: the kept source meets each next.
        let Some(mut kept) = srcs.first().cloned() else {
            continue;
        };
        // Candidates that hold the kept one's bytes stand or fall with it.
        let mut alike: Vec<String> = Vec::new();
        for other in srcs.iter().skip(1) {
            let (Some(i), Some(j)) = (index(&kept), index(other)) else {
                continue;
            };
            let (Some(ci), Some(cj)) = (copies.get(i), copies.get(j)) else {
                continue;
            };
            let d = diverge::diverge(ci, cj);
            if d.identical() {
                notes.push(model::Note {
                    code: "compare.source.equivalent".into(),
                    message: format!(
                        "{kept} and {other} are each named the source for {sink} and hold the same guest bytes: heal {sink} from either, once"
                    ),
                    advice: None,
                });
                alike.push(other.clone());
                continue;
            }
            let differing = d.differing;
            let between = pair(
                ci,
                checks.get(i).and_then(Option::as_ref),
                cj,
                checks.get(j).and_then(Option::as_ref),
                reports,
                d,
                afr.map(|x| (x, i, j)),
            );
            let winner = between.source.clone();
            let (drop, message) = match &winner {
                Some(w) => {
                    let loser = if *w == kept {
                        other.clone()
                    } else {
                        kept.clone()
                    };
                    let m = format!(
                        "{kept} and {other} are each named the source for {sink}, and they differ ({}): set against each other, {w} is the source, so heal {sink} from {w} only, not from {loser}",
                        imgcheck_core::human_size(differing)
                    );
                    let mut drop = vec![loser];
                    if *w != kept {
                        drop.append(&mut alike);
                    }
                    (drop, m)
                }
                // Nothing picks between two candidates: no source for this
                // sink at all, not whichever candidate comes next.
                None => (
                    srcs.clone(),
                    format!(
                        "{kept} and {other} are each named the source for {sink}, and they differ ({}) with nothing to pick between them: no source for {sink}",
                        imgcheck_core::human_size(differing)
                    ),
                ),
            };
            for p in pairs.iter_mut() {
                if p.sink.as_deref() == Some(sink.as_str())
                    && p.source.as_ref().is_some_and(|s| drop.contains(s))
                {
                    p.source = None;
                    p.sink = None;
                    p.source_by = None;
                }
            }
            alone_pairs.retain(|p| p.source.as_ref().is_none_or(|s| !drop.contains(s)));
            notes.push(model::Note {
                code: "compare.source.conflict".into(),
                message,
                advice: None,
            });
            match winner {
                Some(w) => kept = w,
                None => break,
            }
        }
        // The winner the first copy's pairs never set against this sink:
        // its pair joins the report, so the heal plan is in the typed data
        // whatever the order.
        extra.append(&mut alone_pairs);
    }
    pairs.append(&mut extra);
    notes
}

/// The verdict of a 0-byte brick file beside brick files holding data.
pub const EMPTY: &str = "empty";

/// Whether `c` is a 0-byte file on a brick while another copy of the same
/// file (its gfid) on a brick holds data.
fn is_empty_brick(c: &Copy, all: &[Copy]) -> bool {
    let len = |x: &Copy| std::fs::metadata(&x.path).map_or(0, |m| m.len());
    if len(c) != 0 {
        return false;
    }
    let Some(me) = gluster::read(&c.path) else {
        return false;
    };
    all.iter().any(|o| {
        len(o) > 0 && gluster::read(&o.path).is_some_and(|b| b.gfid.is_some() && b.gfid == me.gfid)
    })
}

/// The normal check of one copy, as `imgcheck COPY` gives it.
fn check(c: &Copy) -> Option<ImageReport> {
    let opts = Options {
        snapshot: c.snapshot.clone(),
        image_path: c.path.clone(),
        ..Options::default()
    };
    crate::pipeline::inspect_image(&c.path, None, &opts).ok()
}

fn copy_report(c: &Copy, r: Option<&ImageReport>) -> CopyReport {
    let (verdict, problems, problem_count, identities, evidence, counters, snapshot_date) = match r
    {
        Some(r) => {
            let bad: Vec<_> = r
                .findings()
                .into_iter()
                .filter(|f| f.severity >= Severity::Warning)
                .collect();
            let ids = r
                .root
                .walk()
                .into_iter()
                .flat_map(|n| n.facts.identities.iter().cloned())
                .collect::<Vec<_>>();
            let snap_date = c.snapshot.as_deref().and_then(|s| {
                let snaps = &r.root.facts.snapshots;
                snaps
                    .iter()
                    .find(|x| x.id == s)
                    .or_else(|| snaps.iter().find(|x| x.name == s))
                    .and_then(|x| x.date)
            });
            let counters = r
                .root
                .walk()
                .into_iter()
                .flat_map(|n| {
                    n.facts.counters.iter().map(move |(what, v)| Counter {
                        what: format!("{}: {what}", owners::where_(n)),
                        value: *v,
                    })
                })
                .collect();
            (
                r.verdict().as_str().to_string(),
                bad.iter()
                    .take(MAX_PROBLEMS)
                    .map(|f| format!("{}: {}", f.code, f.message))
                    .collect(),
                bad.len(),
                ids,
                r.timeline.clone(),
                counters,
                snap_date,
            )
        }
        None => (
            "unchecked".to_string(),
            Vec::new(),
            0,
            Vec::new(),
            Vec::new(),
            Vec::new(),
            None,
        ),
    };
    CopyReport {
        label: c.label.clone(),
        format: if c.image.is_some() { "qcow2" } else { "raw" }.to_string(),
        disk_size: c.size(),
        allocated: 0,
        verdict,
        problems,
        problem_count,
        identities,
        evidence,
        counters,
        snapshot_date,
        brick: gluster::read(&c.path),
        file_data: r.and_then(file_data),
        fs_date: r.and_then(fs_date),
    }
}

/// Bytes of file data in the report's filesystem maps.
fn file_data(r: &ImageReport) -> Option<u64> {
    let maps: Vec<_> = r
        .root
        .walk()
        .into_iter()
        .filter_map(|n| n.facts.owners.as_ref())
        .collect();
    if maps.is_empty() {
        return None;
    }
    Some(
        maps.iter()
            .flat_map(|m| m.ranges())
            .filter(|o| o.kind == OwnerKind::FileData)
            .map(|o| o.len)
            .fold(0u64, u64::saturating_add),
    )
}

/// The latest filesystem write or mount the report records: what dates
/// a backup (a snapshot date or a file's mtime says when something else
/// happened).
fn fs_date(r: &ImageReport) -> Option<i64> {
    let writes = r
        .root
        .walk()
        .into_iter()
        .filter_map(|n| n.facts.owners.as_ref().and_then(|m| m.last_write()));
    let mounts = r
        .timeline
        .iter()
        .filter(|e| e.what.starts_with("last mounted") || e.what == "superblock last written")
        .map(|e| e.time);
    writes.chain(mounts).filter(|&t| t > 0).max()
}

/// Guest bytes the copy's allocation map says hold data.
fn allocated(c: &Copy) -> u64 {
    let mut pos = 0u64;
    let mut n = 0u64;
    while pos < c.size() {
        let (o, run) = c.origin(pos);
        let run = run.min(c.size().saturating_sub(pos)).max(1);
        // Bytes in a backing file that could not be opened are not
        // known to hold data.
        if !matches!(o, Origin::Zero | Origin::Unavailable) {
            n = n.saturating_add(run);
        }
        pos = pos.saturating_add(run);
    }
    n
}

fn pair(
    a: &Copy,
    ar: Option<&ImageReport>,
    b: &Copy,
    br: Option<&ImageReport>,
    reports: &[CopyReport],
    divergence: diverge::Divergence,
    afr: Option<(&gluster::Direction, usize, usize)>,
) -> Pair {
    let (kinship, kinship_evidence) = kinship(a, b, reports);
    let (holders, unnamed_bytes) = owners::holders(&divergence, &[(a, ar), (b, br)]);
    let ra = reports.iter().find(|r| r.label == a.label);
    let rb = reports.iter().find(|r| r.label == b.label);
    let (newer, dated) = match (ra, rb) {
        (Some(x), Some(y)) => summary::newer(x, y),
        _ => (model::Newer::Unknown, Vec::new()),
    };
    let (mut newer, mut dated) = (newer, dated);
    // A snapshot against its image's current state: the current state
    // carries every write after the snapshot was taken.
    if kinship == Kinship::SameImage
        && let (Some(x), Some(y)) = (ra, rb)
    {
        match (x.snapshot_date, y.snapshot_date) {
            (Some(t), None) => {
                newer = model::Newer::B;
                dated.push(model::Dated {
                    what: "qcow2 snapshot date (the current state is later)".into(),
                    a: t,
                    b: y.evidence.iter().map(|e| e.time).max().unwrap_or(t).max(t),
                    time: true,
                });
            }
            (None, Some(t)) => {
                newer = model::Newer::A;
                dated.push(model::Dated {
                    what: "qcow2 snapshot date (the current state is later)".into(),
                    a: x.evidence.iter().map(|e| e.time).max().unwrap_or(t).max(t),
                    b: t,
                    time: true,
                });
            }
            (Some(t), Some(u)) => {
                dated.push(model::Dated {
                    what: "qcow2 snapshot date".into(),
                    a: t,
                    b: u,
                    time: true,
                });
                newer = summary::vote(&dated);
            }
            (None, None) => {}
        }
    }
    // A copy's free space is no data it holds: the other copy writing
    // zeros over a deleted file's old blocks (a swap file made with dd
    // from /dev/zero) lost it nothing, so those bytes leave both counts.
    // Before, such a newer replica "held only part" of the older one's
    // data (an attack's F18).
    let mut divergence = divergence;
    if let (Some(ar), Some(br)) = (ar, br) {
        let d = &mut divergence;
        let a_free = owners::free_bytes(&d.b_zeroed_ranges, ar);
        d.a_data = d.a_data.saturating_sub(a_free);
        d.a_data_differing = d.a_data_differing.saturating_sub(a_free);
        let b_free = owners::free_bytes(&d.a_zeroed_ranges, br);
        d.b_data = d.b_data.saturating_sub(b_free);
        d.b_data_differing = d.b_data_differing.saturating_sub(b_free);
    }
    let a_data_held = divergence
        .a_data
        .saturating_sub(divergence.a_data_differing);
    let files_zeroed = |ranges: &[diverge::Range],
                        r: Option<&ImageReport>,
                        o: Option<&ImageReport>| match (r, o) {
        (Some(r), Some(o)) => owners::file_bytes(ranges, r, o),
        _ => 0,
    };
    let a_files_zeroed = files_zeroed(&divergence.a_zeroed_ranges, ar, br);
    let b_files_zeroed = files_zeroed(&divergence.b_zeroed_ranges, br, ar);
    let (relation, backing_evidence) = relation(a, b, kinship, &divergence);
    let mut kinship_evidence = kinship_evidence;
    // Every identifier regenerated (tune2fs -U random, sgdisk -G) leaves
    // the bytes: copies that hold most of each other's data at the same
    // offsets are a clone given new identifiers, not two disks that met
    // by chance (an attack's F6). Two disks made apart share their
    // zeros, not their data, and zeros are no data here.
    let mut kinship = kinship;
    if kinship == Kinship::Different
        && let Some((pa, pb)) = same_bytes(&divergence, a_data_held)
    {
        kinship = Kinship::Clone;
        kinship_evidence.insert(
            0,
            format!(
                "their identifiers all differ, but {pa} % of {}'s data and {pb} % of {}'s are the same bytes at the same offsets in the other: a clone given new identifiers",
                a.label, b.label
            ),
        );
    }
    kinship_evidence.extend(backing_evidence);
    // An overlay is its backing file plus its own writes: newer by
    // construction, whatever the guest's clocks say.
    if let Relation::OverlayOf { overlay, .. } | Relation::OverlayOfCopy { overlay, .. } = &relation
    {
        newer = if *overlay == a.label {
            Newer::A
        } else {
            Newer::B
        };
    }
    let mut p = Pair {
        a: a.label.clone(),
        b: b.label.clone(),
        kinship,
        kinship_evidence,
        divergence,
        holders,
        unnamed_bytes,
        newer,
        dated,
        a_data_held,
        a_files_zeroed,
        b_files_zeroed,
        relation,
        source: None,
        sink: None,
        source_by: None,
    };
    if let (Some(x), Some(y)) = (ra, rb)
        && let Some((src, sink, by)) = summary::source_of(&p, x, y, afr)
    {
        p.source = Some(src.label.clone());
        p.sink = Some(sink.label.clone());
        p.source_by = Some(by);
    }
    p
}

/// Data a copy must hold (non-zero bytes) before its likeness to another
/// is taken to say anything: a few blocks of metadata alike say nothing.
const CLONE_MIN_DATA: u64 = 256 << 10;
/// Share (per cent) of each copy's data the other must hold identically
/// for two copies with no identifier in common to be one clone.
const CLONE_PER_CENT: u64 = 80;

/// The shares (per cent) of each copy's data the other holds at the same
/// offsets, when both are [`CLONE_PER_CENT`] or more of at least
/// [`CLONE_MIN_DATA`] each.
fn same_bytes(d: &diverge::Divergence, a_held: u64) -> Option<(u64, u64)> {
    if d.a_data < CLONE_MIN_DATA || d.b_data < CLONE_MIN_DATA {
        return None;
    }
    let b_held = d.b_data.saturating_sub(d.b_data_differing);
    let pa = a_held.saturating_mul(100).checked_div(d.a_data)?;
    let pb = b_held.saturating_mul(100).checked_div(d.b_data)?;
    (pa >= CLONE_PER_CENT && pb >= CLONE_PER_CENT).then_some((pa, pb))
}

/// What `b` is to `a`: an overlay of the other, an overlay of a copy of
/// the other, one of two overlays of one base (clones or replicas, by
/// their own clusters and snapshot tables), views of one image, or
/// copies; with what the overlay's backing file was found to be.
fn relation(
    a: &Copy,
    b: &Copy,
    kinship: Kinship,
    d: &diverge::Divergence,
) -> (Relation, Vec<String>) {
    if kinship == Kinship::SameImage {
        return (Relation::Views, Vec::new());
    }
    let r = chain_relation(a, b, d);
    if matches!(r, Relation::OverlayOf { .. }) {
        return (r, Vec::new());
    }
    // An overlay against a copy of its backing file (cp of the base, or a
    // backup of it): the overlay is that copy plus its own writes, told
    // from the backing link and the backing file's guest bytes, which
    // must equal the other's. Before, such a pair was "linked clones"
    // when the copy kept a backing file of its own beneath (an attack's
    // F10), or plain replicas.
    let mut why = Vec::new();
    for (over, other) in [(a, b), (b, a)] {
        let Some((name, same, differing)) = backing_copy(over, other) else {
            continue;
        };
        if same {
            let rel = Relation::OverlayOfCopy {
                overlay: over.label.clone(),
                backing: name.clone(),
                copy: other.label.clone(),
            };
            why.push(format!(
                "the backing file {name:?} of {} holds the same guest bytes as {}: a copy of it",
                over.label, other.label
            ));
            return (rel, why);
        }
        // Said where it decides something: an overlay against a disk
        // that shares no base with it.
        if r != Relation::Copies {
            continue;
        }
        why.push(format!(
            "the backing file {name:?} of {} is not a copy of {} ({} of their guest bytes differ)",
            over.label,
            other.label,
            imgcheck_core::human_size(differing)
        ));
    }
    (r, why)
}

/// The nearest backing file of `over` set against `other` (which is not
/// in `over`'s chain): its name, whether their guest disks are alike in
/// size and bytes, and how many bytes differ. `None` when `over` has no
/// backing file that opens, or `other` is that file or an overlay of it.
fn backing_copy(over: &Copy, other: &Copy) -> Option<(String, bool, u64)> {
    let bk = over.image.as_ref()?.backing()?;
    let path = bk.path.as_deref()?;
    // The other in that chain, or an overlay of that same file (another
    // overlay of one base, however empty): no copy of it.
    if FileId::of(path)
        .is_some_and(|id| other.own_file() == Some(id) || other.backing_files().contains(&id))
    {
        return None;
    }
    let base = Copy::open(path.to_str()?).ok()?;
    let d = diverge::diverge(&base, other);
    Some((
        bk.name.clone(),
        d.identical() && base.size() == other.size(),
        d.differing,
    ))
}

/// [`relation`] by the backing chains alone.
fn chain_relation(a: &Copy, b: &Copy, d: &diverge::Divergence) -> Relation {
    let (ca, cb) = (a.backing_files(), b.backing_files());
    // A snapshot of the backing file is not what the overlay was made on.
    if a.snapshot.is_none()
        && let Some(id) = a.own_file()
        && cb.contains(&id)
    {
        return Relation::OverlayOf {
            overlay: b.label.clone(),
            backing: a.label.clone(),
        };
    }
    if b.snapshot.is_none()
        && let Some(id) = b.own_file()
        && ca.contains(&id)
    {
        return Relation::OverlayOf {
            overlay: a.label.clone(),
            backing: b.label.clone(),
        };
    }
    if !ca.iter().any(|x| cb.contains(x)) {
        return Relation::Copies;
    }
    // Two overlays of one base. A copy of an overlay file keeps where each
    // of its clusters lies and what it holds; a second overlay made on the
    // base allocates its own clusters as its guest writes them. Internal
    // snapshots alike to the nanosecond are one table copied.
    let snaps = |c: &Copy| {
        c.image.as_ref().map(|i| {
            i.snapshots()
                .iter()
                .map(|s| {
                    (
                        s.id.clone(),
                        s.name.clone(),
                        s.date_sec,
                        s.date_nsec,
                        s.vm_clock_nsec,
                    )
                })
                .collect::<Vec<_>>()
        })
    };
    let (sa, sb) = (snaps(a), snaps(b));
    let same_table = sa.as_ref().is_some_and(|t| !t.is_empty()) && sa == sb;
    let smaller = d.a_own.min(d.b_own);
    if same_table || (d.own_common > 0 && d.own_common.saturating_mul(2) >= smaller) {
        Relation::OverlayReplicas
    } else if d.own_common == 0 && d.a_own > 0 && d.b_own > 0 {
        Relation::LinkedClones
    } else {
        Relation::OverlaysOfOneBase
    }
}

/// Same disk or not, and why.
fn kinship(a: &Copy, b: &Copy, reports: &[CopyReport]) -> (Kinship, Vec<String>) {
    let mut why = Vec::new();
    let same_file =
        matches!((FileId::of(&a.path), FileId::of(&b.path)), (Some(x), Some(y)) if x == y);
    if same_file {
        why.push(match (&a.snapshot, &b.snapshot) {
            (Some(s), Some(t)) => format!("snapshots {s:?} and {t:?} of one image"),
            (Some(s), None) | (None, Some(s)) => {
                format!("internal snapshot {s:?} and the current state of one image")
            }
            (None, None) => "the same file".to_string(),
        });
        return (Kinship::SameImage, why);
    }
    // One backing file beneath both, or one beneath the other.
    let base = |c: &Copy| {
        c.image.as_ref().and_then(|i| i.backing()).and_then(|bk| {
            bk.path
                .as_deref()
                .and_then(FileId::of)
                .map(|id| (id, bk.name.clone()))
        })
    };
    let (ba, bb) = (base(a), base(b));
    if let (Some((x, name)), Some((y, _))) = (&ba, &bb)
        && x == y
    {
        why.push(format!("both are overlays of the backing file {name:?}"));
    }
    if let (Some((x, name)), Some(id)) = (&ba, FileId::of(&b.path))
        && *x == id
    {
        why.push(format!(
            "{} is the backing file ({name:?}) of {}",
            b.label, a.label
        ));
    }
    if let (Some((x, name)), Some(id)) = (&bb, FileId::of(&a.path))
        && *x == id
    {
        why.push(format!(
            "{} is the backing file ({name:?}) of {}",
            a.label, b.label
        ));
    }
    let ids = |c: &Copy| {
        reports
            .iter()
            .find(|r| r.label == c.label)
            .map(|r| r.identities.clone())
            .unwrap_or_default()
    };
    let (ia, ib) = (ids(a), ids(b));
    let strong = |k: IdentityKind| k != IdentityKind::BackingFile;
    let mut shared = 0usize;
    let mut kinds_both = 0usize;
    for x in ia.iter().filter(|x| strong(x.kind)) {
        if ib
            .iter()
            .any(|y| y.kind == x.kind && y.value.eq_ignore_ascii_case(&x.value))
        {
            shared = shared.saturating_add(1);
            why.push(format!("both carry {} {}", kind_words(x.kind), x.value));
        }
    }
    for k in [
        IdentityKind::DiskGuid,
        IdentityKind::DiskSignature,
        IdentityKind::FilesystemUuid,
        IdentityKind::PvUuid,
        IdentityKind::VgUuid,
    ] {
        if ia.iter().any(|x| x.kind == k) && ib.iter().any(|x| x.kind == k) {
            kinds_both = kinds_both.saturating_add(1);
        }
    }
    // A filesystem UUID replaced where the disk's identifiers agree: a
    // dd copy given a UUID of its own (tune2fs -U), which makes it a disk
    // of its own (an attack's F6 got "one disk" and a heal between them).
    let fs = |v: &[imgcheck_core::Identity]| {
        v.iter()
            .filter(|x| x.kind == IdentityKind::FilesystemUuid)
            .map(|x| x.value.to_ascii_lowercase())
            .collect::<std::collections::BTreeSet<_>>()
    };
    let (fa, fb) = (fs(&ia), fs(&ib));
    let only_a: Vec<&String> = fa.difference(&fb).collect();
    let only_b: Vec<&String> = fb.difference(&fa).collect();
    let fs_changed = !only_a.is_empty() && !only_b.is_empty();
    if shared > 0 && fs_changed {
        why.insert(
            0,
            format!(
                "filesystem UUID {} in {}, {} in {}",
                join(&only_a),
                a.label,
                join(&only_b),
                b.label
            ),
        );
    }
    // The mirror case: the filesystems' UUIDs agree and the disk's own
    // GUID was replaced (sgdisk -G on a copy, which regenerates the disk
    // and every partition GUID and leaves the filesystems alone). A
    // replica never gets a new GPT; a copy that did was made into a disk
    // of its own, to sit beside the original. Before, the shared
    // filesystem UUID made it "one disk" and a heal between them was
    // offered. Told like a new filesystem UUID, and like a clone with
    // every identifier regenerated (F6): identifiers of its own make a
    // clone, whatever its bytes still share.
    let disk_ids = |v: &[imgcheck_core::Identity], k: IdentityKind| {
        v.iter()
            .filter(|x| x.kind == k)
            .map(|x| x.value.to_ascii_lowercase())
            .collect::<std::collections::BTreeSet<_>>()
    };
    // The disk GUID (sgdisk -U), every partition GUID (sgdisk -u, what
    // root=PARTUUID= names) or the MBR's disk identifier (sfdisk
    // --disk-id) replaced: each is a new identity for the disk (attackA A4
    // found the last two still "one disk").
    let mut changed = Vec::new();
    for (k, words) in [
        (IdentityKind::DiskGuid, "disk GUID"),
        (IdentityKind::PartitionGuid, "partition GUIDs"),
        (IdentityKind::DiskSignature, "MBR disk identifier"),
    ] {
        let (x, y) = (disk_ids(&ia, k), disk_ids(&ib, k));
        // As many partitions in both and some GUID not in the other: one
        // of them was given a new one (sgdisk -u 2:R changes one of
        // several). A partition added or removed is a change of layout,
        // which a replica may see, not a new identity.
        let replaced = if k == IdentityKind::PartitionGuid {
            x.len() == y.len() && x != y
        } else {
            x.is_disjoint(&y)
        };
        if !x.is_empty() && !y.is_empty() && replaced {
            changed.push(format!(
                "{words} {} in {}, {} in {}",
                join(&x.iter().collect::<Vec<_>>()),
                a.label,
                join(&y.iter().collect::<Vec<_>>()),
                b.label
            ));
        }
    }
    let disk_changed = !changed.is_empty();
    if shared > 0 && disk_changed && !fs_changed {
        let same: Vec<String> = fa.intersection(&fb).cloned().collect();
        why.insert(
            0,
            format!(
                "table identifiers regenerated: {} differ, while filesystem UUID {} is the same in both: a copy given new partition table identifiers (sgdisk -G, -U or -u, sfdisk --disk-id), not a replica of one disk",
                changed.join("; "),
                if same.is_empty() {
                    "(none)".to_string()
                } else {
                    same.join(", ")
                },
            ),
        );
    }
    let kin = if shared > 0 && (fs_changed || disk_changed) {
        Kinship::Clone
    } else if shared > 0 {
        Kinship::SameDisk
    } else if !why.is_empty() {
        Kinship::SameBase
    } else if kinds_both > 0 {
        why.push("their disk and filesystem identifiers all differ".to_string());
        Kinship::Different
    } else {
        Kinship::Unknown
    };
    (kin, why)
}

fn join(v: &[&String]) -> String {
    v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}

fn kind_words(k: IdentityKind) -> &'static str {
    match k {
        IdentityKind::DiskGuid => "disk GUID",
        IdentityKind::DiskSignature => "MBR disk signature",
        IdentityKind::PartitionGuid => "partition GUID",
        IdentityKind::FilesystemUuid => "filesystem UUID",
        IdentityKind::PvUuid => "PV UUID",
        IdentityKind::VgUuid => "VG UUID",
        IdentityKind::LvUuid => "LV UUID",
        IdentityKind::BackingFile => "backing file",
    }
}

/// `imgcheck compare …`: parses its arguments, prints, returns the exit status.
pub fn run(args: &[String]) -> u8 {
    let mut json = false;
    let mut copies = Vec::new();
    let mut rest = false;
    for a in args {
        match a.as_str() {
            "--json" if !rest => json = true,
            "--" if !rest => rest = true,
            "-h" | "--help" if !rest => {
                print!("{HELP}");
                return exit::CLEAN;
            }
            x if !rest && x.starts_with('-') => {
                eprintln!("imgcheck compare: unknown option {x}\n{HELP}");
                return exit::USAGE;
            }
            x => copies.push(x.to_string()),
        }
    }
    if copies.len() < 2 {
        eprintln!("imgcheck compare: give two copies or more\n{HELP}");
        return exit::USAGE;
    }
    match compare(&copies) {
        Ok(r) => {
            let out = if json { text::json(&r) } else { text::text(&r) };
            use std::io::Write;
            if std::io::stdout().write_all(out.as_bytes()).is_err() {
                return r.exit | exit::OPERATIONAL;
            }
            r.exit
        }
        Err(e) => {
            eprintln!("imgcheck compare: {e}");
            exit::OPERATIONAL
        }
    }
}

const HELP: &str = "usage: imgcheck compare [--json] COPY COPY [COPY ...]
  COPY: an image file (raw or qcow2) or IMAGE@SNAPSHOT (a qcow2 internal snapshot, id or name).
  Every copy is checked as `imgcheck COPY` would, then every two are set against each other
  (past four copies, each against the first): same disk or not,
  where the guest bytes differ (allocation maps first), what the differing bytes belong to,
  which copy is newer by on-disk evidence, and what to heal from. Nothing is written.
  Exit status (bits OR-ed): 0 the copies agree, 1 they differ, 4 one is damaged, 8 a copy cannot be opened, 16 usage.
";

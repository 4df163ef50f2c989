//! Which copy is newer (by like-for-like on-disk evidence), the
//! comparison's own findings (split-brain, a backup series that stopped
//! holding data, caps hit), and the summary sentences an admin acts on.
//! The advice never writes a copy, its brick or its image: it names a
//! copy made elsewhere first.

use super::gluster::{Brick, Direction};
use super::model::{CopyReport, Dated, Kinship, Newer, Note, Pair, Relation, SourceBy};
use super::source::Copy;
use imgcheck_core::{human_size, time::utc};
use std::collections::BTreeMap;

/// Files named at most in one summary sentence.
const NAMED_FILES: usize = 6;
/// A copy holding less than this share (per mille) of the data of the
/// copies before it holds no data any more: a tenfold fall, which a
/// growing or shrinking disk does not make between two backups.
const STOPPED_PER_MILLE: u64 = 100;

/// What an event is, without its values: `last mounted at /srv (mount
/// count 3)` and `last mounted at /srv (mount count 4)` are one kind.
/// An event's kind as a person reads it: its text before the values
/// that vary between copies (`last mounted` of `last mounted at /srv (...)`).
fn kind_text(what: &str) -> &str {
    let w = what.split(" (").next().unwrap_or(what);
    w.split(" at ").next().unwrap_or(w).trim()
}

fn category(what: &str) -> String {
    let w = kind_text(what);
    // Numbers are values too (`VG vg metadata seqno 7 written`).
    let mut out = String::with_capacity(w.len());
    for c in w.chars() {
        if c.is_ascii_digit() {
            if !out.ends_with('#') {
                out.push('#');
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Which of `a`, `b` is newer, by the timestamps and counters both carry.
pub fn newer(a: &CopyReport, b: &CopyReport) -> (Newer, Vec<Dated>) {
    let key = |e: &imgcheck_core::Event| (e.source.clone(), category(&e.what));
    // The key masks digits to group `seqno 7` with `seqno 12`; the report
    // shows the kind as the disk wrote it (`e2fsck`, not `e#fsck`).
    let mut shown: BTreeMap<(String, String), String> = BTreeMap::new();
    for e in a.evidence.iter().chain(&b.evidence) {
        shown
            .entry(key(e))
            .or_insert_with(|| kind_text(&e.what).to_string());
    }
    let mut ta: BTreeMap<(String, String), i64> = BTreeMap::new();
    for e in &a.evidence {
        let v = ta.entry(key(e)).or_insert(e.time);
        *v = (*v).max(e.time);
    }
    let mut dated = Vec::new();
    let mut tb: BTreeMap<(String, String), i64> = BTreeMap::new();
    for e in &b.evidence {
        let v = tb.entry(key(e)).or_insert(e.time);
        *v = (*v).max(e.time);
    }
    // A kind of event one copy records and the other never did (a mount
    // after the split) dates it too: the other's value is 0, never.
    let kinds: std::collections::BTreeSet<&(String, String)> = ta.keys().chain(tb.keys()).collect();
    for k in kinds {
        if k.1.contains("created") || k.1.contains("kernel error") {
            continue;
        }
        let (va, vb) = (ta.get(k).copied(), tb.get(k).copied());
        // Only where both copies have that layer at all.
        let both_have = |m: &BTreeMap<(String, String), i64>| m.keys().any(|x| x.0 == k.0);
        if (va.is_none() && !both_have(&ta)) || (vb.is_none() && !both_have(&tb)) {
            continue;
        }
        dated.push(Dated {
            what: format!(
                "{}: {}",
                k.0,
                shown.get(k).map_or(k.1.as_str(), String::as_str)
            ),
            a: va.unwrap_or(0),
            b: vb.unwrap_or(0),
            time: true,
        });
    }
    for ca in &a.counters {
        if let Some(cb) = b.counters.iter().find(|c| c.what == ca.what) {
            dated.push(Dated {
                what: ca.what.clone(),
                a: i64::try_from(ca.value).unwrap_or(i64::MAX),
                b: i64::try_from(cb.value).unwrap_or(i64::MAX),
                time: false,
            });
        }
    }
    (vote(&dated), dated)
}

/// The verdict of the evidence: unanimous among the values that differ.
pub fn vote(dated: &[Dated]) -> Newer {
    let an = dated.iter().filter(|d| d.a > d.b).count();
    let bn = dated.iter().filter(|d| d.b > d.a).count();
    match (an, bn, dated.is_empty()) {
        (_, _, true) => Newer::Unknown,
        (0, 0, _) => Newer::Same,
        (_, 0, _) => Newer::A,
        (0, _, _) => Newer::B,
        _ => Newer::Mixed,
    }
}

/// The comparison's own findings.
pub fn notes(
    copies: &[Copy],
    reports: &[CopyReport],
    pairs: &[Pair],
    afr: Option<&Direction>,
) -> Vec<Note> {
    let mut out = Vec::new();
    for p in pairs {
        let ra = reports.iter().find(|r| r.label == p.a);
        let rb = reports.iter().find(|r| r.label == p.b);
        if let (Some(ra), Some(rb)) = (ra, rb) {
            out.extend(afr_pair(p, ra, rb, reports, afr));
        }
        if p.divergence.unlisted > 0 {
            out.push(Note {
                code: "compare.ranges.capped".into(),
                message: format!(
                    "more than {} differing ranges between {} and {}: {} past the last one listed are counted, not listed or mapped to files",
                    super::diverge::MAX_RANGES,
                    p.a,
                    p.b,
                    human_size(p.divergence.unlisted)
                ),
                advice: None,
            });
        }
        for u in &p.divergence.unreadable {
            let who = if u.copy == 0 { &p.a } else { &p.b };
            out.push(Note {
                code: "compare.read.failed".into(),
                message: format!(
                    "{who}: guest bytes {}..{} could not be read ({}); counted as differing",
                    u.range.start,
                    u.range.end(),
                    u.why
                ),
                advice: None,
            });
        }
        if let Some(t) = p.divergence.tail_differs {
            out.push(Note {
                code: "compare.size.differs".into(),
                message: format!(
                    "the guest disks differ in size and the larger holds non-zero bytes from offset {} to {} past the smaller's end",
                    t.start,
                    t.end()
                ),
                advice: None,
            });
        }
    }
    for r in reports.iter().filter(|r| r.verdict == super::EMPTY) {
        out.push(Note {
            code: "compare.gluster.arbiter".into(),
            message: format!(
                "{} is a 0-byte file on a brick beside brick files that hold data: an arbiter's (replica 3 arbiter 1 keeps only metadata and the AFR xattrs there) or a file an entry heal created and no data heal has filled; it is no copy of the disk, so it is set against no other copy and is never a heal source; its changelog counts in Gluster's heal direction",
                brick_name(r)
            ),
            advice: None,
        });
    }
    out.extend(afr_overview(reports, pairs, afr));
    out.extend(series(copies, reports));
    out
}

/// How Gluster's data self-heal sees two copies on bricks.
enum AfrView {
    /// No brick is a source: Gluster will not heal the file.
    SplitBrain,
    /// The changelog alone names the source of the two (`true`: the first).
    Source(bool),
    /// Both are sinks of another brick, the one source.
    BothSinks(usize),
    /// Both are sources the changelog takes to be in sync.
    BothSources,
    /// The direction hangs on what the images do not say: the volume's
    /// client quorum, a ctime, or a brick not among the copies.
    Unsettled,
    /// No data blame anywhere.
    Clean,
}

/// The AFR notes of one pair: who blames whom, what Gluster's self-heal
/// would make of it ([`Direction`], when every brick's client is known;
/// else the pair's blame alone), and a divergence the changelog does not
/// know of. The advice copies brick files outside the bricks first and
/// never writes inside one.
fn afr_pair(
    p: &Pair,
    ra: &CopyReport,
    rb: &CopyReport,
    reports: &[CopyReport],
    afr: Option<&Direction>,
) -> Vec<Note> {
    let mut out = Vec::new();
    let (Some(ga), Some(gb)) = (&ra.brick, &rb.brick) else {
        return out;
    };
    let vol = ga
        .volume
        .as_deref()
        .or(gb.volume.as_deref())
        .unwrap_or("VOL");
    let file = ga.file.as_deref().or(gb.file.as_deref()).unwrap_or("FILE");
    let copies = format!(
        "first copy both brick files to directories outside the bricks (mkdir -p /srv/rescue/a /srv/rescue/b; cp --sparse=always {} /srv/rescue/a/; cp --sparse=always {} /srv/rescue/b/) and never write inside a brick",
        ra.label, rb.label
    );
    let blames = format!(
        "{} blames {}; {} blames {}",
        brick_name(ra),
        blamed_text(ga, reports),
        brick_name(rb),
        blamed_text(gb, reports)
    );
    let index = |r: &CopyReport| reports.iter().position(|x| x.label == r.label);
    let in_dir = afr.and_then(|d| {
        let (ia, ib) = (index(ra)?, index(rb)?);
        (d.copy_of.contains(&Some(ia)) && d.copy_of.contains(&Some(ib))).then_some((d, ia, ib))
    });
    let view = match in_dir {
        Some((d, _, _)) if d.split_brain => AfrView::SplitBrain,
        Some((d, _, _)) if d.clean => AfrView::Clean,
        Some((d, ia, ib)) if d.settled() => match (d.is_source(ia), d.is_source(ib)) {
            (true, false) => AfrView::Source(true),
            (false, true) => AfrView::Source(false),
            (false, false) => d
                .sources
                .first()
                .map_or(AfrView::Unsettled, |&s| AfrView::BothSinks(s)),
            (true, true) => AfrView::BothSources,
        },
        Some((d, ia, ib)) => {
            if d.sources.len() > 1
                && !d.by_quorum
                && !d.ctime_decides
                && d.is_source(ia)
                && d.is_source(ib)
            {
                AfrView::BothSources
            } else if ga.blamed().is_empty()
                && gb.blamed().is_empty()
                && !d.by_quorum
                && !d.incomplete
                && !d.undecided
            {
                AfrView::Clean
            } else {
                AfrView::Unsettled
            }
        }
        None => match super::gluster::split_brain(ga, gb) {
            Some(true) => AfrView::SplitBrain,
            Some(false) => match super::gluster::one_sided(ga, gb) {
                Some(a_is_source) => AfrView::Source(a_is_source),
                None => AfrView::Unsettled,
            },
            None => AfrView::Clean,
        },
    };
    // Bricks the images say nothing of: named so the reader knows what
    // the direction assumed.
    let missing = in_dir.filter(|(d, _, _)| d.incomplete).map(|(d, _, _)| {
        d.clients
            .iter()
            .zip(&d.copy_of)
            .filter(|(_, c)| c.is_none())
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    });
    let client_copy = |i: usize| -> String {
        afr.and_then(|d| {
            let name = d.clients.get(i)?;
            Some(
                match d
                    .copy_of
                    .get(i)
                    .copied()
                    .flatten()
                    .and_then(|k| reports.get(k))
                {
                    Some(r) => format!("{} ({name})", r.label),
                    None => format!("{name} (not among the copies)"),
                },
            )
        })
        .unwrap_or_else(|| "another brick".to_string())
    };
    match view {
        AfrView::SplitBrain => {
            // The source-brick form only for a source the images' own
            // evidence chose: each brick's changelog claims it.
            let advice = match (&p.source, &p.sink) {
                (Some(src), Some(sink)) => {
                    let brick = if *src == ra.label { ga } else { gb };
                    let root = brick
                        .root
                        .as_ref()
                        .map_or_else(|| "BRICK".to_string(), |r| r.display().to_string());
                    let f = brick.file.as_deref().unwrap_or("FILE");
                    format!(
                        "{copies}; then, on a Gluster server, choose {src} as the source: gluster volume heal {vol} split-brain source-brick HOST:{root} {f} (HOST is the server holding that brick); recover what only {sink} holds from its copy"
                    )
                }
                _ => format!(
                    "{copies}; nothing on the images picks a source (equal verdicts, no dates that differ): do not resolve the split-brain until the differing files of each copy are checked"
                ),
            };
            let n = afr.map_or(2, |d| d.clients.len());
            out.push(Note {
                code: "compare.gluster.split_brain".into(),
                message: if n == 2 {
                    format!(
                        "split-brain: each brick blames the other ({blames}); without client quorum (the default for two bricks) Gluster will not heal {file} by itself"
                    )
                } else {
                    format!(
                        "split-brain: every brick is blamed by a quorum of the others ({blames}); Gluster will not heal {file} by itself"
                    )
                },
                advice: Some(advice),
            });
        }
        AfrView::Source(a_is_source) => {
            let (src, sink) = if a_is_source { (ra, rb) } else { (rb, ra) };
            let hollow = hollow_copy(p, ra, rb).is_some_and(|h| std::ptr::eq(h, src));
            let advice = if hollow {
                format!(
                    "{copies}; do not let Gluster heal from {}: the changelog makes it self-heal's source, but its files read as zeros where {}'s hold data, so a heal would write zeros over them; keep self-heal from running on this file and restore it from {}'s copy",
                    src.label, sink.label, sink.label
                )
            } else if src.verdict == "damaged" && sink.verdict != "damaged" {
                format!(
                    "{copies}; do not let Gluster heal from {}: the changelog makes it self-heal's source, but it is damaged ({} problems) and {} is {}, so a heal would copy the damage over the sound copy; keep self-heal from running on this file until both copies are checked, and restore the file from {}'s copy",
                    src.label, src.problem_count, sink.label, sink.verdict, sink.label
                )
            } else if let Some(why) = heal_refused(p, src, sink) {
                format!(
                    "{copies}; do not let Gluster heal from {}: the changelog makes it self-heal's source, but {why}, so a heal would overwrite {} with what is not its copy; keep self-heal from running on this file until both are checked",
                    src.label, sink.label
                )
            } else {
                format!(
                    "{copies}; then let Gluster heal from {}: gluster volume heal {vol} (and gluster volume heal {vol} info to follow it){}",
                    src.label,
                    if src.verdict == "damaged" {
                        format!(
                            "; {} is damaged ({} problems): check its copy before the heal spreads that to {}",
                            src.label, src.problem_count, sink.label
                        )
                    } else {
                        String::new()
                    }
                )
            };
            out.push(Note {
                code: "compare.gluster.pending".into(),
                message: format!(
                    "AFR pending counters: {blames}: no brick blames {}, so {} holds writes {} lacks; self-heal's source is {}, its sink {} (no split-brain)",
                    src.label, src.label, sink.label, src.label, sink.label
                ),
                advice: Some(advice),
            });
        }
        AfrView::BothSinks(s) => out.push(Note {
            code: "compare.gluster.pending".into(),
            message: format!(
                "AFR pending counters: {blames}: both are blamed and {} is blamed by none, so self-heal's source is {} and both are its sinks (no split-brain between them, whatever they blame of each other)",
                client_copy(s),
                client_copy(s)
            ),
            advice: Some(format!(
                "{copies}; Gluster heals both from {} (gluster volume heal {vol}); check that copy before letting it",
                client_copy(s)
            )),
        }),
        AfrView::Unsettled => {
            let why = match in_dir {
                Some((d, _, _)) if d.empty_source => format!(
                    "the changelog's only source{} {}, a 0-byte file (an arbiter's, metadata only): Gluster heals no data from an arbiter, so the data bricks stay pending and the changelog names no source for the data",
                    if d.sources.len() == 1 { " is" } else { "s are" },
                    d.sources.iter().map(|&i| client_copy(i)).collect::<Vec<_>>().join(", ")
                ),
                Some((d, _, _)) if d.undecided => "the names do not tell which brick is which Gluster client (AFR creates a client's counter only on the bricks that blamed it), and the ways they fit disagree on the source: the changelog names no source here".to_string(),
                Some((d, _, _)) if d.by_quorum => format!(
                    "every brick is blamed by another, none by a quorum: under client quorum (cluster.quorum-type auto, the default for three bricks or more) Gluster takes as sources the bricks fewer than {} others blame ({}), narrowed to the largest file, then the most dirty, then the newest ctime; with quorum-type none it is split-brain. That hangs on the volume's settings, not on the images: the changelog names no source here",
                    super::gluster::quorum(d.clients.len()),
                    d.sources.iter().map(|&i| client_copy(i)).collect::<Vec<_>>().join(", ")
                ),
                Some((d, _, _)) if d.ctime_decides => format!(
                    "the sources left ({}) are told apart only by ctime, which the images do not show: the changelog names no source here",
                    d.sources.iter().map(|&i| client_copy(i)).collect::<Vec<_>>().join(", ")
                ),
                // Every brick given: several sources the changelog takes
                // to be in sync (nothing narrowed them), the sink healed
                // from whichever Gluster reads (attackA A2 got "a brick
                // not among the copies" with every brick given).
                Some((d, _, _)) if !d.incomplete && d.sources.len() > 1 => format!(
                    "by the changelog self-heal's sources are {} (taken to be in sync: neither size nor dirty counts tell them apart) and its sink{} {}; Gluster heals from whichever source it reads, so the changelog names no one source here",
                    d.sources.iter().map(|&i| client_copy(i)).collect::<Vec<_>>().join(", "),
                    if d.sinks.len() == 1 { "" } else { "s" },
                    d.sinks.iter().map(|&i| client_copy(i)).collect::<Vec<_>>().join(", ")
                ),
                Some((d, _, _)) => format!(
                    "by the changelogs given, self-heal's source{} {} and its sinks {}; a brick not among the copies may blame any of them, so the changelog names no source here",
                    if d.sources.len() == 1 { " is" } else { "s are" },
                    d.sources.iter().map(|&i| client_copy(i)).collect::<Vec<_>>().join(", "),
                    d.sinks.iter().map(|&i| client_copy(i)).collect::<Vec<_>>().join(", ")
                ),
                None if ga.client.is_some() && gb.client.is_some() => "neither blames the other: the changelog names no source between them (what they blame is a third brick's to heal)".to_string(),
                None => "with both blaming the changelog names no source".to_string(),
            };
            out.push(Note {
                code: "compare.gluster.pending".into(),
                message: format!(
                    "AFR pending counters: {blames}: no split-brain between them by these counters, and {why}{}",
                    missing.as_deref().map_or_else(String::new, |m| format!(
                        " (not among the copies, so not known: the changelog of {m}, taken as blaming none)"
                    ))
                ),
                advice: None,
            });
        }
        AfrView::BothSources | AfrView::Clean => {}
    }
    // Metadata or entry counts: a heal of ownership, mode or xattrs,
    // nothing of the bytes (an attack's F10 took one as data blame).
    for (r, g) in [(ra, ga), (rb, gb)] {
        let md = g.blamed_metadata_only();
        if !md.is_empty() {
            out.push(Note {
                code: "compare.gluster.metadata".into(),
                message: format!(
                    "{} blames {} for metadata or entries only (owner, mode, xattrs; the second and third AFR counters): a metadata heal, which says nothing of which copy's bytes are newer",
                    brick_name(r),
                    md.join(", ")
                ),
                advice: None,
            });
        }
    }
    // The changelog thinks them in sync and the bytes differ: Gluster
    // never heals this, and reads may come from either brick (an
    // attack's F3 got silence).
    if matches!(view, AfrView::BothSources | AfrView::Clean) && !p.divergence.identical() {
        out.push(Note {
            code: "compare.gluster.unhealed".into(),
            message: format!(
                "AFR says {} and {} are in sync ({}), but their guest bytes differ ({} in {} ranges): Gluster will not heal {file}, and reads may come from either brick",
                ra.label,
                rb.label,
                if matches!(view, AfrView::Clean) {
                    "no data operation pending on either".to_string()
                } else {
                    "both are sources and agree in size and dirty counts".to_string()
                },
                human_size(p.divergence.differing),
                p.divergence.ranges.len()
            ),
            advice: Some(format!(
                "{copies}; check the differing files of each copy before choosing one; the bytes were changed behind Gluster (on a brick directly, or by a restore), so no heal will reconcile them"
            )),
        });
    }
    out
}

/// What `r`'s brick blames, each blamed client with the copy that is it
/// when one is: `vol-client-2 (brick3/vm.qcow2)`, or `no brick`. A
/// client no copy was named is "not among the copies" only when every
/// copy of that volume was named; else the names did not tell which
/// copy it is (attackA: bricks given, called absent).
fn blamed_text(g: &Brick, reports: &[CopyReport]) -> String {
    let untold = reports
        .iter()
        .filter_map(|r| r.brick.as_ref())
        .any(|b| b.volume == g.volume && b.client.is_none());
    let absent = if untold {
        "which copy, if any, the names do not tell"
    } else {
        "not among the copies"
    };
    let v: Vec<String> = g
        .blamed()
        .iter()
        .map(|c| {
            match reports
                .iter()
                .find(|r| r.brick.as_ref().and_then(|b| b.client.as_deref()) == Some(*c))
            {
                Some(r) => format!("{c} ({})", r.label),
                None => format!("{c} ({absent})"),
            }
        })
        .collect();
    if v.is_empty() {
        "no brick".into()
    } else {
        v.join(", ")
    }
}

/// `label (vol-client-1)`: a copy with its brick's client when known.
fn brick_name(r: &CopyReport) -> String {
    match r.brick.as_ref().and_then(|b| b.client.as_deref()) {
        Some(c) => format!("{} ({c})", r.label),
        None => r.label.clone(),
    }
}

/// Who blames whom among every copy on a brick, and which are blamed by
/// none: the sources a heal may take from, the blamed ones its sinks.
/// Given only when three copies or more are on bricks (a pair's own
/// note says it for two).
fn afr_overview(reports: &[CopyReport], pairs: &[Pair], afr: Option<&Direction>) -> Option<Note> {
    // Each pair whose source the changelog names must name it too.
    let pairs_agree = afr.is_some_and(|d| {
        pairs.iter().all(|p| {
            let src = d
                .sources
                .first()
                .and_then(|&i| d.copy_of.get(i).copied().flatten())
                .and_then(|k| reports.get(k));
            match src {
                Some(s) if p.a == s.label || p.b == s.label => {
                    p.source.as_deref() == Some(s.label.as_str())
                }
                _ => true,
            }
        })
    });
    let on: Vec<(&CopyReport, &Brick)> = reports
        .iter()
        .filter_map(|r| r.brick.as_ref().map(|b| (r, b)))
        .collect();
    if on.len() < 3 || on.iter().all(|(_, b)| b.blamed().is_empty()) {
        return None;
    }
    let lines: Vec<String> = on
        .iter()
        .map(|(r, b)| format!("{} blames {}", brick_name(r), blamed_text(b, reports)))
        .collect();
    let known = on.iter().all(|(_, b)| b.client.is_some());
    let vol = on
        .iter()
        .find_map(|(_, b)| b.volume.as_deref())
        .unwrap_or("VOL");
    let blamed = |r: &CopyReport, b: &Brick| {
        b.client.as_deref().is_some_and(|me| {
            on.iter()
                .any(|(x, g)| x.label != r.label && g.blamed().contains(&me))
        })
    };
    let (sinks, sources): (Vec<_>, Vec<_>) = on.iter().partition(|(r, b)| blamed(r, b));
    let names = |v: &[&(&CopyReport, &Brick)]| {
        v.iter()
            .map(|(r, _)| r.label.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let message = if known {
        format!(
            "AFR changelog of all {} bricks: {}; blamed by none: {}; blamed: {}",
            on.len(),
            lines.join("; "),
            if sources.is_empty() {
                "none".to_string()
            } else {
                names(&sources)
            },
            if sinks.is_empty() {
                "none".to_string()
            } else {
                names(&sinks)
            }
        )
    } else {
        format!(
            "AFR changelog of all {} bricks: {}; not every brick's client could be told from the names, so who is blamed is not certain",
            on.len(),
            lines.join("; ")
        )
    };
    // Gluster's own reading of the whole matrix, when every brick's
    // client is known: a brick no other blames is a source, and when
    // every brick is blamed, the outcome hangs on client quorum.
    let label = |d: &Direction, i: usize| {
        let name = d.clients.get(i).map_or("?", String::as_str);
        match d
            .copy_of
            .get(i)
            .copied()
            .flatten()
            .and_then(|k| reports.get(k))
        {
            Some(r) => r.label.clone(),
            None => format!("{name} (not among the copies)"),
        }
    };
    let list = |d: &Direction, v: &[usize]| {
        v.iter()
            .map(|&i| label(d, i))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (message, advice) = match afr {
        Some(d) if d.split_brain => (
            format!("{message}; self-heal: no source (split-brain)"),
            None,
        ),
        Some(d) if d.by_quorum => (
            format!(
                "{message}; every brick is blamed by another: under client quorum (auto, the default for three bricks or more) self-heal's sources would be {}, with quorum-type none it is split-brain",
                list(d, &d.sources)
            ),
            None,
        ),
        Some(d) if d.settled() => (
            format!(
                "{message}; self-heal: source {}, sinks {}",
                list(d, &d.sources),
                list(d, &d.sinks)
            ),
            // Advised only where every pair's own evidence agrees with
            // the changelog's source (no hollow, thin, damaged or foreign
            // copy on either side).
            pairs_agree.then(|| format!(
                "the heal source is {} (no other brick blames it); the others missed writes and must not be a source; copy every brick file outside its brick first and let Gluster heal (gluster volume heal {vol}), never write inside a brick",
                list(d, &d.sources)
            )),
        ),
        Some(_) => (message, None),
        None => {
            let advice = (known && !sources.is_empty() && !sinks.is_empty()).then(|| {
                format!(
                    "heal sources are the bricks no other blames ({}); the blamed ({}) missed writes and must not be a source; copy every brick file outside its brick first and let Gluster heal (gluster volume heal {vol}), never write inside a brick",
                    names(&sources),
                    names(&sinks)
                )
            });
            (message, advice)
        }
    };
    Some(Note {
        code: "compare.gluster.blame".into(),
        message,
        advice,
    })
}

/// The copy to heal from and the one a heal overwrites, and what picked
/// them: Gluster's changelog when only one brick blames the other, else
/// the sounder verdict, else the newer by on-disk dates. `None` when
/// nothing picks one (equal verdicts and no dates that differ, both
/// damaged) or a heal means nothing: an overlay and its own backing file,
/// linked clones (different machines), views of one image, different
/// disks, a copy that holds a fraction of the other's data.
pub(crate) fn source_of<'a>(
    p: &Pair,
    a: &'a CopyReport,
    b: &'a CopyReport,
    afr: Option<(&Direction, usize, usize)>,
) -> Option<(&'a CopyReport, &'a CopyReport, SourceBy)> {
    if !matches!(p.relation, Relation::Copies | Relation::OverlayReplicas)
        || matches!(p.kinship, Kinship::Different | Kinship::Clone)
    {
        return None;
    }
    // The changelog's source, unless it is damaged and the other is not:
    // a heal from it would copy the damage over the sound copy (an
    // attack's F1 got "heal from" the damaged brick).
    // A hollow copy likewise: a heal from it writes zeros over the
    // other's files (an attack's F0).
    let hollow = hollow_copy(p, a, b);
    let thin = thin_copy(p, a, b);
    // A copy whose files read as zeros where the other's hold data, in
    // any share, is no source for them: a restore that stopped half way
    // is no copy to heal from (attackB F19), whatever the dates say.
    let zeroed = |x: &CopyReport| {
        if std::ptr::eq(x, a) {
            p.a_files_zeroed > p.b_files_zeroed
        } else {
            p.b_files_zeroed > p.a_files_zeroed
        }
    };
    let worse = |x: &CopyReport, y: &CopyReport| {
        (x.verdict == "damaged" && y.verdict != "damaged")
            || hollow.is_some_and(|h| std::ptr::eq(h, x))
            || thin.is_some_and(|t| std::ptr::eq(t, x))
            || zeroed(x)
    };
    // With every brick's client known, Gluster's own reading of the
    // whole changelog: a source only when it alone is one and the other
    // a sink (a brick blamed by a third is no source, even where the
    // pair's own blame points away from it: attack F4, F5); a pair of
    // sinks of a third brick, or a direction that hangs on quorum or
    // ctime, names none by the changelog.
    match afr {
        Some((d, ia, ib)) => {
            if d.settled() {
                if d.is_source(ia) && d.is_sink(ib) && !worse(a, b) {
                    return Some((a, b, SourceBy::AfrBlame));
                }
                if d.is_source(ib) && d.is_sink(ia) && !worse(b, a) {
                    return Some((b, a, SourceBy::AfrBlame));
                }
            }
        }
        None => {
            if let (Some(ga), Some(gb)) = (&a.brick, &b.brick) {
                match super::gluster::one_sided(ga, gb) {
                    Some(true) if !worse(a, b) => return Some((a, b, SourceBy::AfrBlame)),
                    Some(false) if !worse(b, a) => return Some((b, a, SourceBy::AfrBlame)),
                    _ => {}
                }
            }
        }
    }
    if p.divergence.identical() || thin.is_some() || hollow.is_some() {
        return None;
    }
    let rank = |v: &str| match v {
        "clean" => 0,
        "warning" => 1,
        _ => 2,
    };
    let picked = match rank(&a.verdict).cmp(&rank(&b.verdict)) {
        std::cmp::Ordering::Less => Some((a, b, SourceBy::Verdict)),
        std::cmp::Ordering::Greater => Some((b, a, SourceBy::Verdict)),
        // Healing from a damaged copy spreads its damage.
        std::cmp::Ordering::Equal if rank(&a.verdict) == 2 => None,
        std::cmp::Ordering::Equal => match p.newer {
            Newer::A => Some((a, b, SourceBy::Newer)),
            Newer::B => Some((b, a, SourceBy::Newer)),
            _ => None,
        },
    };
    picked.filter(|(src, _, _)| !zeroed(src))
}

/// The copy of the pair whose own files read as zeros where the other
/// copy holds data, more of them than the other's do: its filesystem
/// says those blocks hold its files, and they hold nothing (`e2image -r`,
/// a metadata-only restore, a copy whose data never arrived). Healing or
/// restoring from it writes zeros over the other's files, whatever its
/// dates and verdict say: it is never a source. Zeros in free space or in
/// deleted files' blocks are not counted (they are in no file of its
/// map), so a replica that trimmed its free space is not hollow.
pub(crate) fn hollow_copy<'a>(
    p: &Pair,
    a: &'a CopyReport,
    b: &'a CopyReport,
) -> Option<&'a CopyReport> {
    // Most of its own file data: an application that zeroed part of one
    // file (a database wiping freed pages) leaves a copy that is newer,
    // not hollow (an attack's F18 on the first form, which took any
    // margin).
    let most = |z: u64, r: &CopyReport| r.file_data.is_some_and(|f| z.saturating_mul(2) > f);
    match p.a_files_zeroed.cmp(&p.b_files_zeroed) {
        std::cmp::Ordering::Greater if most(p.a_files_zeroed, a) => Some(a),
        std::cmp::Ordering::Less if most(p.b_files_zeroed, b) => Some(b),
        _ => None,
    }
}

/// Why the images refuse a heal from `src` over the other copy of the
/// pair when the changelog would make one, or `None` when they support
/// it: the pair's own source is `src`. A changelog that blames a brick
/// says which brick missed writes, not that the two files are one disk
/// (an attack's F11: "let Gluster heal from" a different machine's disk).
fn heal_refused(p: &Pair, src: &CopyReport, sink: &CopyReport) -> Option<String> {
    if p.source.as_deref() == Some(src.label.as_str()) {
        return None;
    }
    Some(match (&p.relation, p.kinship) {
        (_, Kinship::Different) => "they are different disks".to_string(),
        (_, Kinship::Clone) => {
            "they are a clone with an identity of its own, two disks now".to_string()
        }
        (Relation::Copies | Relation::OverlayReplicas, _) => {
            if thin_copy(p, src, sink).is_some_and(|t| std::ptr::eq(t, src)) {
                format!("{} holds only part of {}'s data", src.label, sink.label)
            } else {
                format!(
                    "nothing on the images says {} is the copy to keep",
                    src.label
                )
            }
        }
        _ => "they are not replicas of one disk (an overlay and its base, or clones)".to_string(),
    })
}

/// The copy of the pair that holds less than half of the other's data
/// identically (the data its allocation map holds, compared byte for
/// byte): no copy of its contents (a backup that stopped holding data, a
/// disk made anew); restoring or healing from it loses the rest. Either
/// copy may be the thin one, whatever the argument order; when each holds
/// less than half of the other's, the one with less data. (An attack's
/// F5: a failed backup given first and newest was named the source,
/// since only the second copy was ever measured.) Bytes, not sizes: a
/// sparse copy and a dd copy of one disk hold each other's data alike,
/// and a replica that deleted files still holds the other's blocks.
pub(crate) fn thin_copy<'a>(
    p: &Pair,
    a: &'a CopyReport,
    b: &'a CopyReport,
) -> Option<&'a CopyReport> {
    let d = &p.divergence;
    let less = |x: u64, y: u64| x.saturating_mul(2) < y;
    // b holds less than half of a's data; a less than half of b's.
    let b_thin = d.a_data > 0 && less(p.a_data_held, d.a_data);
    let b_held = d.b_data.saturating_sub(d.b_data_differing);
    let a_thin = d.b_data > 0 && less(b_held, d.b_data);
    match (a_thin, b_thin) {
        (true, false) => Some(a),
        (false, true) => Some(b),
        (true, true) => Some(if d.a_data < d.b_data { a } else { b }),
        (false, false) => None,
    }
}

/// A series of three or more copies whose later ones hold a fraction of
/// the data of those before: backups that stopped holding data. Ordered
/// by each copy's filesystem write or mount date (the argument order only
/// when no copy has one; undated copies are left out when others are
/// dated), and measured in file data bytes when every copy's filesystems
/// were mapped: a backup of /etc alone still carries its journal, inode
/// tables and bitmaps, which in allocated or used blocks look like a
/// seventh or more of a full one.
fn series(copies: &[Copy], reports: &[CopyReport]) -> Option<Note> {
    if reports.len() < 3 || copies.len() != reports.len() {
        return None;
    }
    let any_dated = reports.iter().any(|r| r.fs_date.is_some());
    let mut order: Vec<(i64, usize)> = reports
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match r.fs_date {
            Some(t) => Some((t, i)),
            None if !any_dated => Some((0, i)),
            None => None,
        })
        .collect();
    // Stable: equal dates keep the argument order.
    order.sort_by_key(|x| x.0);
    let undated = reports.len().saturating_sub(order.len());
    if order.len() < 3 {
        return None;
    }
    let files = order
        .iter()
        .all(|&(_, i)| reports.get(i).is_some_and(|r| r.file_data.is_some()));
    let data: Vec<(u64, usize)> = order
        .iter()
        .filter_map(|&(_, i)| {
            reports.get(i).map(|r| {
                (
                    if files {
                        r.file_data.unwrap_or(0)
                    } else {
                        r.allocated
                    },
                    i,
                )
            })
        })
        .collect();
    let measure = if files { "file data" } else { "allocated data" };
    // The first copy from which every later copy holds less than the
    // share of the median of those before.
    for k in 1..data.len() {
        let (before, after) = data.split_at(k);
        let mut b: Vec<u64> = before.iter().map(|x| x.0).collect();
        b.sort_unstable();
        let median = b.get(b.len() / 2).copied().unwrap_or(0);
        if median == 0 {
            continue;
        }
        let bound = median.saturating_mul(STOPPED_PER_MILLE) / 1000;
        if after.iter().all(|x| x.0 < bound) {
            let held: u64 = after.iter().map(|x| x.0).max().unwrap_or(0);
            let per_mille = held.saturating_mul(1000).checked_div(median).unwrap_or(0);
            let first = after.first().and_then(|x| reports.get(x.1))?;
            let date = first.fs_date.map_or_else(|| "undated".to_string(), utc);
            let last_good = before.last().and_then(|x| reports.get(x.1))?;
            return Some(Note {
                code: "compare.series.stopped".into(),
                message: format!(
                    "{} by filesystem date (from {}, last written {date}) {} at most {}.{} % of the {measure} of those before ({} against {} in {}): {} stopped holding data{}",
                    if after.len() == 1 {
                        "the last copy".to_string()
                    } else {
                        format!("the last {} copies", after.len())
                    },
                    first.label,
                    if after.len() == 1 { "holds" } else { "hold" },
                    per_mille / 10,
                    per_mille % 10,
                    human_size(held),
                    human_size(median),
                    last_good.label,
                    if after.len() == 1 { "it" } else { "they" },
                    if undated > 0 {
                        format!(" ({undated} undated copies left out)")
                    } else {
                        String::new()
                    }
                ),
                advice: Some(format!(
                    "{} is the last copy that holds the disk; keep it, and check what the backup job copies (its source, its exclusions) before trusting the newer ones",
                    last_good.label
                )),
            });
        }
    }
    None
}

/// The summary an admin acts on.
pub fn lines(reports: &[CopyReport], pairs: &[Pair], notes: &[Note]) -> Vec<String> {
    let mut out = Vec::new();
    for r in reports {
        let mut s = format!("{}: {}", r.label, r.verdict);
        if r.problem_count > 0 {
            s.push_str(&format!(
                " ({} problem{}: {})",
                r.problem_count,
                if r.problem_count == 1 { "" } else { "s" },
                r.problems
                    .iter()
                    .take(2)
                    .map(|p| p.split(':').next().unwrap_or(p))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out.push(s);
    }
    for p in pairs {
        let (Some(ra), Some(rb)) = (
            reports.iter().find(|r| r.label == p.a),
            reports.iter().find(|r| r.label == p.b),
        ) else {
            continue;
        };
        let d = &p.divergence;
        out.push(match (&p.relation, p.kinship) {
            (Relation::OverlayOf { overlay, backing }, _) => format!(
                "{overlay} is an overlay of {backing} ({backing} is in its backing chain): {overlay} is {backing} plus {overlay}'s own writes, newer by construction; not replicas"
            ),
            (Relation::OverlayOfCopy { overlay, backing, copy }, _) => format!(
                "{overlay} is an overlay of {backing:?}, which holds the same guest bytes as {copy}: its backing file is a copy of {copy}, so {overlay} is {copy} plus {overlay}'s own writes, newer by construction; not replicas, not linked clones"
            ),
            (Relation::LinkedClones, _) => format!(
                "{} and {} are two overlays of one base that share none of their own writes ({} and {} in their own clusters): linked clones, different machines made from one template, not one disk",
                p.a,
                p.b,
                human_size(d.a_own),
                human_size(d.b_own)
            ),
            (Relation::OverlayReplicas, _) => format!(
                "{} and {} are replicas of one overlay ({} of their own clusters lie at the same places with the same bytes, or one snapshot table)",
                p.a,
                p.b,
                human_size(d.own_common)
            ),
            (Relation::OverlaysOfOneBase, _) => format!(
                "{} and {} are two overlays of one base: linked clones or replicas of one overlay ({} of their own {} and {} agree in place and bytes: the evidence does not decide)",
                p.a,
                p.b,
                human_size(d.own_common),
                human_size(d.a_own),
                human_size(d.b_own)
            ),
            (_, Kinship::Clone)
                if p
                    .kinship_evidence
                    .first()
                    .is_some_and(|e| e.starts_with("their identifiers all differ")) =>
            {
                format!(
                    "{} and {} are a clone with new identifiers ({}): one was copied from the other (or both made alike from one source) and given identities of its own, so they are two disks now, not one",
                    p.a,
                    p.b,
                    p.kinship_evidence.first().map_or("", String::as_str)
                )
            }
            (_, Kinship::Clone)
                if p
                    .kinship_evidence
                    .first()
                    .is_some_and(|e| e.starts_with("table identifiers regenerated")) =>
            {
                format!(
                    "{} and {} are a clone (same filesystem UUIDs and contents, new partition table identifiers: {}): one was copied from the other and given a disk identity of its own, so they are two disks now, not one",
                    p.a,
                    p.b,
                    p.kinship_evidence.first().map_or("", String::as_str)
                )
            }
            (_, Kinship::Clone) => format!(
                "{} and {} are a clone (same partition GUIDs / contents, different fs UUID: {}): one was copied from the other and given an identity of its own, so they are two disks now, not one",
                p.a,
                p.b,
                p.kinship_evidence.first().map_or("", String::as_str)
            ),
            (_, Kinship::SameDisk | Kinship::SameImage | Kinship::SameBase) => format!(
                "{} and {} are one disk ({})",
                p.a,
                p.b,
                p.kinship_evidence.first().map_or("", String::as_str)
            ),
            (_, Kinship::Different) => format!("{} and {} are different disks", p.a, p.b),
            (_, Kinship::Unknown) => format!(
                "{} and {}: no identifiers tell whether they are one disk",
                p.a, p.b
            ),
        });
        if ra.disk_size != rb.disk_size {
            let (small, big) = if ra.disk_size < rb.disk_size {
                (ra, rb)
            } else {
                (rb, ra)
            };
            out.push(format!(
                "{} is {} smaller than {} ({} against {} bytes): {}",
                small.label,
                human_size(big.disk_size.saturating_sub(small.disk_size)),
                big.label,
                small.disk_size,
                big.disk_size,
                match d.tail_differs {
                    Some(t) => format!(
                        "it lacks {}'s bytes {}..{}, which are not zeros (counted as a differing range)",
                        big.label,
                        t.start,
                        t.end()
                    ),
                    None => format!("{}'s bytes past that are all zeros", big.label),
                }
            ));
        }
        if d.identical() {
            out.push(format!(
                "guest bytes identical ({} compared: {} shared, {} zeros in both, {} read)",
                human_size(d.compared),
                human_size(d.shared),
                human_size(d.both_zero),
                human_size(d.read)
            ));
            continue;
        }
        let files: Vec<&str> = p
            .holders
            .iter()
            .filter(|h| !h.what.starts_with('['))
            .map(|h| h.what.as_str())
            .fold(Vec::new(), |mut v, w| {
                if !v.contains(&w) {
                    v.push(w);
                }
                v
            });
        let meta: Vec<&str> = p
            .holders
            .iter()
            .filter(|h| h.what.starts_with('['))
            .map(|h| h.what.as_str())
            .fold(Vec::new(), |mut v, w| {
                if !v.contains(&w) {
                    v.push(w);
                }
                v
            });
        let mut s = format!(
            "{} in {} range{} ({}), first at byte {}",
            match &p.relation {
                Relation::OverlayOf { overlay, backing } =>
                    format!("{overlay} wrote over {backing}"),
                Relation::OverlayOfCopy { overlay, copy, .. } =>
                    format!("{overlay} wrote over (a copy of) {copy}"),
                _ => format!("{} differs from {}", p.b, p.a),
            },
            d.ranges.len(),
            if d.ranges.len() == 1 { "" } else { "s" },
            human_size(d.differing),
            d.first.unwrap_or(0)
        );
        if !files.is_empty() {
            s.push_str(&format!(
                "; in {}{}",
                files
                    .iter()
                    .take(NAMED_FILES)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", "),
                if files.len() > NAMED_FILES {
                    format!(
                        " and {} more files",
                        files.len().saturating_sub(NAMED_FILES)
                    )
                } else {
                    String::new()
                }
            ));
        }
        if !meta.is_empty() {
            s.push_str(&format!("; metadata {}", meta.join(", ")));
        }
        if p.unnamed_bytes > 0 {
            s.push_str(&format!(
                "; {} in no file (free space, tables, unmapped)",
                human_size(p.unnamed_bytes)
            ));
        }
        out.push(s);
        let newest = match p.newer {
            Newer::A => Some(ra),
            Newer::B => Some(rb),
            _ => None,
        };
        let ev = p
            .dated
            .iter()
            .find(|x| x.a != x.b)
            .map(|x| {
                if x.time {
                    format!("{} {} against {}", x.what, when(x.a), when(x.b))
                } else {
                    format!("{} {} against {}", x.what, x.a, x.b)
                }
            })
            .unwrap_or_default();
        let ev = if ev.is_empty() {
            p.dated.last().map_or_else(String::new, |x| x.what.clone())
        } else {
            ev
        };
        out.push(match (p.newer, newest, &p.relation) {
            (_, Some(n), Relation::OverlayOf { backing, .. }) => format!(
                "{} is newer (an overlay of {backing}: its writes come after by construction)",
                n.label
            ),
            (_, Some(n), Relation::OverlayOfCopy { copy, .. }) => format!(
                "{} is newer (an overlay of a copy of {copy}: its writes come after by construction)",
                n.label
            ),
            (_, Some(n), _) => format!("{} is newer ({ev})", n.label),
            (Newer::Mixed, _, _) => format!("newer: the evidence disagrees ({ev})"),
            (Newer::Same, _, _) => "newer: neither, by the timestamps both carry".to_string(),
            _ => "newer: no evidence found in both".to_string(),
        });
        // Either order of a snapshot and its image's current state says
        // what reverting loses: given current first, the pair said "newer"
        // of the current state and then "nothing says which is newer"
        // (attack F15). What deleting the snapshot frees is its own
        // allocation less what both share, whichever side it is on.
        let snapshot = match (ra.snapshot_date, rb.snapshot_date) {
            (Some(t), None) => Some((ra, t)),
            (None, Some(t)) => Some((rb, t)),
            _ => None,
        };
        if let Some((snap, taken)) = snapshot
            && p.kinship == Kinship::SameImage
        {
            out.push(format!(
                "reverting to {} (taken {}) loses {} of writes in {} ranges{}; deleting it frees at most {} (clusters only it references)",
                snap.label,
                utc(taken),
                human_size(d.differing),
                d.ranges.len(),
                if files.is_empty() {
                    String::new()
                } else {
                    format!(", in {}", files.iter().take(NAMED_FILES).copied().collect::<Vec<_>>().join(", "))
                },
                human_size(snap.allocated.saturating_sub(d.shared))
            ));
            continue;
        }
        if p.relation == Relation::Views {
            out.push(format!(
                "{} and {} are views of one image: nothing to heal between them",
                p.a, p.b
            ));
            continue;
        }
        if d.a_data > 0 {
            let pm = p
                .a_data_held
                .saturating_mul(1000)
                .checked_div(d.a_data)
                .unwrap_or(0);
            out.push(format!(
                "{} holds {} of {}'s {} of data identically ({}.{} %)",
                p.b,
                human_size(p.a_data_held),
                p.a,
                human_size(d.a_data),
                pm / 10,
                pm % 10
            ));
        }
        let differing = files
            .iter()
            .take(NAMED_FILES)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        let source = p
            .source
            .as_ref()
            .and_then(|l| reports.iter().find(|r| r.label == *l));
        let sink = p
            .sink
            .as_ref()
            .and_then(|l| reports.iter().find(|r| r.label == *l));
        let hollow = hollow_copy(p, ra, rb).map(|t| {
            if std::ptr::eq(t, ra) {
                (ra, rb)
            } else {
                (rb, ra)
            }
        });
        let thin = thin_copy(p, ra, rb).map(|t| {
            if std::ptr::eq(t, ra) {
                (ra, rb)
            } else {
                (rb, ra)
            }
        });
        let act = match (&p.relation, source, sink) {
            (Relation::OverlayOf { overlay, backing }, _, _) => format!(
                "nothing to heal between them: {overlay}'s {} of writes exist only in {overlay}, and writing {backing} would change what {overlay} reads beneath them; keep both as they are",
                human_size(d.differing)
            ),
            (
                Relation::OverlayOfCopy {
                    overlay,
                    backing,
                    copy,
                },
                _,
                _,
            ) => format!(
                "nothing to heal between them: {overlay}'s {} of writes exist only in {overlay}, over its backing file {backing:?}, a copy of {copy}; keep both as they are",
                human_size(d.differing)
            ),
            (Relation::LinkedClones, _, _) => format!(
                "linked clones are different machines: do not heal one from the other ({} differ, each machine's own writes)",
                human_size(d.differing)
            ),
            (Relation::OverlaysOfOneBase, _, _) => format!(
                "two overlays of one base: linked clones or replicas of one overlay; nothing on the images tells which, so no heal advice: find out from whoever made them ({} differ)",
                human_size(d.differing)
            ),
            (_, _, _) if hollow.is_some() => {
                let (h, full) = hollow.unwrap_or((rb, ra));
                format!(
                    "{}'s files read as zeros where {}'s hold data ({} of its own file data): a copy of the metadata without the data (e2image -r, a failed restore), not a copy of the disk; do not restore or heal from {} however new it looks (keep {})",
                    h.label,
                    full.label,
                    human_size(if std::ptr::eq(h, ra) {
                        p.a_files_zeroed
                    } else {
                        p.b_files_zeroed
                    }),
                    h.label,
                    full.label
                )
            }
            (_, _, _) if thin.is_some() => {
                let (t, full) = thin.unwrap_or((rb, ra));
                format!(
                    "{} holds only part of {}'s data: it is not a full copy of it; do not restore or heal from {} (keep {})",
                    t.label, full.label, t.label, full.label
                )
            }
            _ if p.kinship == Kinship::Clone => format!(
                "{} and {} are a clone with identifiers of its own, a disk of its own: do not heal one from the other (that would give one the other's identity and discard its {} of writes); keep both",
                p.a,
                p.b,
                human_size(d.differing)
            ),
            _ if p.kinship == Kinship::Different => format!(
                "{} and {} are different disks: neither is a copy of the other to heal from",
                p.a, p.b
            ),
            (_, Some(src), Some(other)) => {
                let why = match p.source_by {
                    Some(SourceBy::AfrBlame) => format!(
                        "Gluster's changelog on {} blames {}'s brick",
                        src.label, other.label
                    ),
                    Some(SourceBy::Verdict) => format!("{} is {}", other.label, other.verdict),
                    _ => format!("{} is {} and newer", src.label, src.verdict),
                };
                if newest.is_some_and(|n| n.label == other.label) {
                    format!(
                        "source {}, sink {} ({why}): heal from {}, then recover {} from {} after checking them (work on copies: cp --sparse=always first; never write a brick or an image in place)",
                        src.label,
                        other.label,
                        src.label,
                        if files.is_empty() {
                            "the newer data".to_string()
                        } else {
                            differing.clone()
                        },
                        other.label
                    )
                } else if p.source_by == Some(SourceBy::Newer) {
                    // The dates say which disk was written last, not which
                    // side of each differing block is the later write: the
                    // sink's own writes are named, not dropped (attackA A3).
                    format!(
                        "source {}, sink {} ({why}): heal from {}, then recover what only {} holds ({}) from its copy after checking them: the dates say which disk was written last, not which side of each differing block is the later write (work on copies: cp --sparse=always first; never write a brick or an image in place)",
                        src.label,
                        other.label,
                        src.label,
                        other.label,
                        if files.is_empty() {
                            format!("{} in differing ranges", human_size(d.differing))
                        } else {
                            differing.clone()
                        }
                    )
                } else {
                    format!(
                        "source {}, sink {} ({why}): heal from {} (work on copies: cp --sparse=always first; never write a brick or an image in place)",
                        src.label, other.label, src.label
                    )
                }
            }
            _ if p.a_files_zeroed != p.b_files_zeroed => {
                let (z, other, n) = if p.a_files_zeroed > p.b_files_zeroed {
                    (ra, rb, p.a_files_zeroed)
                } else {
                    (rb, ra, p.b_files_zeroed)
                };
                format!(
                    "{}'s files read as zeros in {} where {}'s same files hold data (a restore that stopped, or zeros the guest wrote): no source; do not heal from {} until those files are checked, and keep both (cp --sparse=always each to a directory of its own first)",
                    z.label,
                    human_size(n),
                    other.label,
                    z.label
                )
            }
            _ if ra.verdict == "damaged" && rb.verdict == "damaged" => {
                let fewer = if rb.problem_count < ra.problem_count {
                    rb
                } else {
                    ra
                };
                format!(
                    "neither copy is sound: recover from copies of both (cp --sparse=always each to a directory of its own first), {} has fewer problems",
                    fewer.label
                )
            }
            // Nothing tells the source: the order of the arguments must
            // not (an attack got "heal from" whichever copy came first).
            _ => format!(
                "both copies are {} and nothing both carry says which is newer: no source; do not heal one from the other, which would discard the other's {} of writes; keep both (cp --sparse=always each to a directory of its own first) and recover the differing files from each after checking them",
                if ra.verdict == rb.verdict {
                    ra.verdict.clone()
                } else {
                    format!("{} and {}", ra.verdict, rb.verdict)
                },
                human_size(d.differing)
            ),
        };
        out.push(act);
    }
    out.extend(notes.iter().map(|n| n.message.clone()));
    out
}

/// A time as the report shows it; 0 is "never" (not recorded).
pub(crate) fn when(t: i64) -> String {
    if t == 0 { "never".into() } else { utc(t) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_of_one_kind_share_a_category() {
        assert_eq!(
            category("last mounted at /srv (mount count 3)"),
            category("last mounted at / (mount count 9)")
        );
        assert_eq!(
            category("VG vg0 metadata seqno 7 written"),
            category("VG vg0 metadata seqno 12 written")
        );
        assert_ne!(
            category("superblock last written"),
            category("last mounted")
        );
    }

    #[test]
    fn the_vote_is_unanimous_or_mixed() {
        let d = |a, b| Dated {
            what: String::new(),
            a,
            b,
            time: true,
        };
        assert_eq!(vote(&[]), Newer::Unknown);
        assert_eq!(vote(&[d(1, 1)]), Newer::Same);
        assert_eq!(vote(&[d(1, 2), d(3, 3)]), Newer::B);
        assert_eq!(vote(&[d(2, 1)]), Newer::A);
        assert_eq!(vote(&[d(2, 1), d(1, 2)]), Newer::Mixed);
    }
}

//! The compare report as text (for reading) and as JSON (the same data).

use super::model::CompareReport;
use super::summary::when;
use imgcheck_core::{human_size, time::utc};
use std::fmt::Write;

/// Ranges shown per pair in the text view (JSON lists all kept).
const SHOWN_RANGES: usize = 16;
/// Holders shown per pair in the text view.
const SHOWN_HOLDERS: usize = 16;

/// The JSON view: one object.
pub fn json(r: &CompareReport) -> String {
    let mut s = serde_json::to_string(r).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    s.push('\n');
    s
}

/// The text view.
pub fn text(r: &CompareReport) -> String {
    let mut o = String::new();
    for c in &r.copies {
        let _ = writeln!(
            o,
            "copy {}: {} {}, {} allocated, {}",
            c.label,
            c.format,
            human_size(c.disk_size),
            human_size(c.allocated),
            c.verdict
        );
        for p in &c.problems {
            let _ = writeln!(o, "  {p}");
        }
        if c.problem_count > c.problems.len() {
            let _ = writeln!(
                o,
                "  … {} more",
                c.problem_count.saturating_sub(c.problems.len())
            );
        }
        if let Some(d) = c.snapshot_date {
            let _ = writeln!(o, "  internal snapshot taken {}", utc(d));
        }
        for i in &c.identities {
            let _ = writeln!(o, "  id {:?} {}", i.kind, i.value);
        }
        if let Some(e) = c.evidence.iter().max_by_key(|e| e.time) {
            let _ = writeln!(o, "  last dated: {} {}: {}", utc(e.time), e.source, e.what);
        }
        for k in &c.counters {
            let _ = writeln!(o, "  {} = {}", k.what, k.value);
        }
        if let Some(b) = &c.brick {
            let _ = writeln!(
                o,
                "  gluster brick {} file {} gfid {}",
                b.root
                    .as_ref()
                    .map_or_else(|| "?".into(), |p| p.display().to_string()),
                b.file.as_deref().unwrap_or("?"),
                b.gfid.as_deref().unwrap_or("?")
            );
            for p in &b.pending {
                let _ = writeln!(
                    o,
                    "    trusted.afr.{}: data {} metadata {} entry {}",
                    p.client, p.data, p.metadata, p.entry
                );
            }
        }
    }
    for p in &r.pairs {
        let d = &p.divergence;
        let _ = writeln!(o, "\n{} against {}: {:?}", p.b, p.a, p.kinship);
        for w in &p.kinship_evidence {
            let _ = writeln!(o, "  {w}");
        }
        let _ = writeln!(
            o,
            "  compared {}: {} shared, {} zeros in both, {} read; {} differ",
            human_size(d.compared),
            human_size(d.shared),
            human_size(d.both_zero),
            human_size(d.read),
            human_size(d.differing)
        );
        for x in d.ranges.iter().take(SHOWN_RANGES) {
            let _ = writeln!(
                o,
                "  differs {}..{} ({})",
                x.start,
                x.end(),
                human_size(x.len)
            );
        }
        if d.ranges.len() > SHOWN_RANGES {
            let _ = writeln!(
                o,
                "  … {} more ranges",
                d.ranges.len().saturating_sub(SHOWN_RANGES)
            );
        }
        for h in p.holders.iter().take(SHOWN_HOLDERS) {
            let _ = writeln!(
                o,
                "  in {} ({} per {}): {}",
                h.what,
                h.filesystem,
                h.copies.join(" and "),
                human_size(h.bytes)
            );
        }
        for x in &p.dated {
            let (va, vb) = if x.time {
                (when(x.a), when(x.b))
            } else {
                (x.a.to_string(), x.b.to_string())
            };
            let _ = writeln!(o, "  dated by {}: {va} | {vb}", x.what);
        }
        let _ = writeln!(o, "  newer: {:?}", p.newer);
        let _ = match &p.relation {
            super::model::Relation::OverlayOf { overlay, backing } => {
                writeln!(o, "  relation: {overlay} is an overlay of {backing}")
            }
            super::model::Relation::OverlayOfCopy {
                overlay,
                backing,
                copy,
            } => writeln!(
                o,
                "  relation: {overlay} is an overlay of {backing:?}, a copy of {copy}"
            ),
            x => writeln!(o, "  relation: {x:?}"),
        };
        let _ = match (&p.source, &p.sink, p.source_by) {
            (Some(s), Some(k), Some(by)) => writeln!(o, "  source: {s}, sink: {k} (by {by:?})"),
            _ => writeln!(o, "  source: none"),
        };
    }
    for n in &r.notes {
        let _ = writeln!(o, "\n{}: {}", n.code, n.message);
        if let Some(a) = &n.advice {
            let _ = writeln!(o, "  advice: {a}");
        }
    }
    let _ = writeln!(o, "\nsummary:");
    for l in &r.summary {
        let _ = writeln!(o, "  {l}");
    }
    o
}

//! `--map FILE.svg`: the disk drawn to scale — partitions, filesystems,
//! unpartitioned space, zeroed ranges and where the findings are — as a
//! view of the same report the text and JSON show.

use crate::report::{ImageReport, Node};
use imgcheck_core::{Severity, Space, human_size};
use std::fmt::Write as _;

const WIDTH: u64 = 1000;
const LEFT: u64 = 20;
const BAR_Y: u64 = 70;
const BAR_H: u64 = 60;

/// Gaps smaller than this are alignment padding, not unpartitioned space.
const MIN_GAP: u64 = 1 << 20;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// x coordinate of disk offset `off` on a bar for a disk of `total` bytes.
fn x_of(off: u64, total: u64) -> u64 {
    if total == 0 {
        return LEFT;
    }
    // off <= total < 2^64 and WIDTH < 2^10: the product fits in u128.
    let scaled = u128::from(off.min(total))
        .saturating_mul(u128::from(WIDTH))
        .checked_div(u128::from(total))
        .unwrap_or(0);
    LEFT.saturating_add(u64::try_from(scaled).unwrap_or(WIDTH))
}

fn colour(kind: &str) -> &'static str {
    match kind {
        k if k.starts_with("ext") => "#4e79a7",
        "xfs" => "#59a14f",
        "swap" => "#b07aa1",
        k if k.contains("LVM") => "#f28e2b",
        _ => "#9c9c9c",
    }
}

/// The SVG document for `report`.
pub fn svg(report: &ImageReport) -> String {
    let total = report.virtual_size;
    let table: Option<&Node> = report.table();
    let parts: Vec<&Node> = table
        .map(|t| t.children.iter().filter(|c| c.span.is_some()).collect())
        .unwrap_or_default();
    let mut body = String::new();
    let mut legend: Vec<(String, &'static str, String)> = Vec::new();

    // The disk, then what lies on it.
    let _ = writeln!(
        body,
        r##"<rect x="{LEFT}" y="{BAR_Y}" width="{WIDTH}" height="{BAR_H}" fill="url(#free)" stroke="#333"/>"##
    );
    let mut covered: Vec<(u64, u64)> = Vec::new();
    for p in &parts {
        let Some(span) = p.span else { continue };
        let end = span.start.saturating_add(span.size);
        covered.push((span.start, end));
        let (x0, x1) = (x_of(span.start, total), x_of(end, total));
        let w = x1.saturating_sub(x0).max(2);
        let fs_kind = p.children.first().map_or("unknown", |f| f.kind.as_str());
        let fill = colour(fs_kind);
        let label = format!("partition {} ({fs_kind})", span.index);
        let _ = writeln!(
            body,
            r##"<rect x="{x0}" y="{BAR_Y}" width="{w}" height="{BAR_H}" fill="{fill}" stroke="#222"><title>{}</title></rect>"##,
            esc(&format!(
                "{label}: {} at byte {}",
                human_size(span.size),
                span.start
            ))
        );
        if w > 40 {
            let _ = writeln!(
                body,
                r##"<text x="{}" y="{}" font-size="12" fill="#fff">{}</text>"##,
                x0.saturating_add(4),
                BAR_Y.saturating_add(20),
                esc(&format!("p{}", span.index))
            );
        }
        if end > total {
            let _ = writeln!(
                body,
                r##"<text x="{}" y="{}" font-size="12" fill="#c00">partition {} runs {} past the end of the disk</text>"##,
                LEFT,
                BAR_Y.saturating_add(BAR_H).saturating_add(18),
                span.index,
                human_size(end.saturating_sub(total))
            );
        }
        legend.push((
            label,
            fill,
            format!(
                "{} at byte {} — {}",
                human_size(span.size),
                span.start,
                p.title
            ),
        ));
    }

    // Unpartitioned space: the gaps (the tail an unmoved GPT leaves behind).
    covered.sort_unstable();
    let mut at = 0u64;
    let mut gaps = Vec::new();
    for &(s, e) in &covered {
        if s > at && s.saturating_sub(at) > MIN_GAP {
            gaps.push((at, s));
        }
        at = at.max(e);
    }
    if total > at && total.saturating_sub(at) > MIN_GAP && !covered.is_empty() {
        gaps.push((at, total));
    }
    for (s, e) in gaps {
        let (x0, x1) = (x_of(s, total), x_of(e, total));
        let _ = writeln!(
            body,
            r##"<rect x="{x0}" y="{BAR_Y}" width="{}" height="{BAR_H}" fill="url(#free)" stroke="#c90" stroke-dasharray="4 2"><title>{}</title></rect>"##,
            x1.saturating_sub(x0).max(1),
            esc(&format!(
                "unpartitioned: {} at byte {s}",
                human_size(e.saturating_sub(s))
            ))
        );
        legend.push((
            "unpartitioned".into(),
            "#e8d9a8",
            format!("{} at byte {s}", human_size(e.saturating_sub(s))),
        ));
    }

    // All-zero ranges as a strip under the bar: normal in unused space,
    // damage where a zeroed range took a structure (drawn red on the bar).
    let strip_y = BAR_Y.saturating_add(BAR_H).saturating_add(2);
    for (s, e) in &report.zero_ranges {
        let (x0, x1) = (x_of(*s, total), x_of(*e, total));
        let _ = writeln!(
            body,
            r##"<rect x="{x0}" y="{strip_y}" width="{}" height="6" fill="#777"><title>{}</title></rect>"##,
            x1.saturating_sub(x0).max(1),
            esc(&format!(
                "all zeros: {} at byte {s}",
                human_size(e.saturating_sub(*s))
            ))
        );
    }
    if !report.zero_ranges.is_empty() {
        legend.push((
            "all-zero ranges".into(),
            "#777",
            format!(
                "{} range(s) read as zeros (the strip under the disk; normal in unused space)",
                report.zero_ranges.len()
            ),
        ));
    }
    for f in report
        .findings()
        .iter()
        .filter(|f| f.code == "layout.zeroed")
    {
        let end = report
            .zero_ranges
            .iter()
            .find(|(s, _)| *s == f.offset)
            .map_or(f.offset, |(_, e)| *e);
        let (x0, x1) = (x_of(f.offset, total), x_of(end, total));
        let _ = writeln!(
            body,
            r##"<rect x="{x0}" y="{BAR_Y}" width="{}" height="{BAR_H}" fill="#d62728" fill-opacity="0.75"><title>{}</title></rect>"##,
            x1.saturating_sub(x0).max(2),
            esc(&f.message)
        );
        legend.push(("zeroed structures".into(), "#d62728", f.message.clone()));
    }

    // Findings on the disk, as markers above the bar.
    let mut file_findings = 0usize;
    let mut on_disk = report.findings();
    // Errors drawn last, so they sit on top of warnings at the same place.
    on_disk.sort_by_key(|f| f.severity);
    for f in on_disk {
        if f.space == Space::File {
            file_findings = file_findings.saturating_add(1);
            continue;
        }
        let fill = match f.severity {
            Severity::Error => "#d62728",
            Severity::Warning => "#e3a008",
            Severity::Info => "#1f77b4",
        };
        let x = x_of(f.offset, total);
        let _ = writeln!(
            body,
            r##"<path d="M{} {} l-6 -12 h12 z" fill="{fill}" stroke="#000" stroke-width="0.5"><title>{}</title></path>"##,
            x,
            BAR_Y.saturating_sub(2),
            esc(&format!(
                "{} {} @ disk {:#x}: {}",
                f.severity, f.code, f.offset, f.message
            ))
        );
    }

    let mut y = BAR_Y.saturating_add(BAR_H).saturating_add(50);
    let mut legend_svg = String::new();
    for (name, fill, text) in &legend {
        // One line each; the full sentence stays in the report and tooltips.
        let text = if text.chars().count() > 120 {
            format!("{}…", text.chars().take(119).collect::<String>())
        } else {
            text.clone()
        };
        let _ = writeln!(
            legend_svg,
            r##"<rect x="{LEFT}" y="{}" width="14" height="14" fill="{fill}" stroke="#333"/><text x="{}" y="{y}" font-size="13"><tspan font-weight="bold">{}</tspan> {}</text>"##,
            y.saturating_sub(11),
            LEFT.saturating_add(22),
            esc(name),
            esc(&text)
        );
        y = y.saturating_add(20);
    }
    let counts = |s: Severity| report.findings().iter().filter(|f| f.severity == s).count();
    let _ = writeln!(
        legend_svg,
        r##"<text x="{LEFT}" y="{}" font-size="13">findings: {}, {}, {} info ({} in the image file itself, not drawn); verdict {}</text>"##,
        y.saturating_add(6),
        crate::render::plural(counts(Severity::Error), "error"),
        crate::render::plural(counts(Severity::Warning), "warning"),
        counts(Severity::Info),
        file_findings,
        report.verdict().as_str()
    );
    let height = y.saturating_add(24);
    let title = format!(
        "{} — {}, disk {} ({} bytes), file {}",
        report.image,
        report.format,
        human_size(total),
        total,
        human_size(report.file_size)
    );
    format!(
        r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" viewBox="0 0 {} {height}" font-family="sans-serif">
<defs><pattern id="free" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="8" height="8" fill="#f4ecd0"/><line x1="0" y1="0" x2="0" y2="8" stroke="#d9c88e" stroke-width="3"/></pattern></defs>
<rect width="100%" height="100%" fill="#fff"/>
<text x="{LEFT}" y="28" font-size="16" font-weight="bold">{}</text>
<text x="{LEFT}" y="50" font-size="12">0</text><text x="{}" y="50" font-size="12" text-anchor="end">{}</text>
{body}{legend_svg}</svg>
"##,
        WIDTH.saturating_add(2 * LEFT),
        WIDTH.saturating_add(2 * LEFT),
        esc(&title),
        LEFT.saturating_add(WIDTH),
        esc(&human_size(total)),
    )
}

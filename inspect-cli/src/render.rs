//! Views of the report: the human text (one block per layer, indented as
//! the layers nest) and one JSON object per image. Both render the same
//! findings; neither adds information the other lacks, except that the
//! JSON carries the structured details of each layer.

use crate::json::JsonReport;
use crate::options::Fatal;
use crate::report::{ImageReport, Node};
use anstyle::{AnsiColor, Style};
use imgcheck_core::time::utc;
use imgcheck_core::{Finding, Severity, human_size};
use serde_json::Value;
use std::fmt::Write as _;

const INDENT: &str = "  ";

fn style_for(sev: Severity) -> Style {
    match sev {
        Severity::Error => Style::new().fg_color(Some(AnsiColor::Red.into())).bold(),
        Severity::Warning => Style::new().fg_color(Some(AnsiColor::Yellow.into())).bold(),
        Severity::Info => Style::new().fg_color(Some(AnsiColor::Cyan.into())),
    }
}

fn bold() -> Style {
    Style::new().bold()
}

/// The human report. Colour codes are always written; anstream strips them
/// when colour is off.
pub fn text(report: &ImageReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{b}imgcheck {}{b:#}  ({}, file {}, disk {})",
        report.image,
        report.format,
        human_size(report.file_size),
        human_size(report.virtual_size),
        b = bold()
    );
    node_text(report, &report.root, 0, &mut out);
    if !report.layout.is_empty() {
        let _ = writeln!(out, "{b}layout{b:#}  across the layers", b = bold());
        for f in &report.layout {
            finding_text(report, f, INDENT, &mut out);
        }
    }

    // A disk set up for neither path (a data disk) gets no section.
    if let Some(boot) = report.boot.as_ref().filter(|b| {
        !b.findings.is_empty()
            || [&b.bios, &b.uefi]
                .iter()
                .any(|v| v.outcome != imgcheck_boot::Outcome::NotSetUp)
    }) {
        let _ = writeln!(out, "{b}boot{b:#}  will the disk boot", b = bold());
        for v in [&boot.bios, &boot.uefi] {
            let _ = writeln!(out, "{INDENT}{}: {}", v.path, boot_line(v));
        }
        for f in &boot.findings {
            finding_text(report, f, INDENT, &mut out);
        }
    }

    if report.size_chain.len() > 1 {
        let links: Vec<String> = report
            .size_chain
            .iter()
            .map(|l| format!("{} {}", l.what, human_size(l.bytes)))
            .collect();
        let _ = writeln!(
            out,
            "\n{b}size chain{b:#}\n{INDENT}{}",
            links.join(" → "),
            b = bold()
        );
    }

    if !report.timeline.is_empty() {
        let _ = writeln!(out, "\n{b}timeline (UTC){b:#}", b = bold());
        for e in &report.timeline {
            let _ = writeln!(out, "{INDENT}{}  {}: {}", utc(e.time), e.source, e.what);
        }
    }
    if !report.next_steps.is_empty() {
        let _ = writeln!(out, "\n{b}next steps{b:#}", b = bold());
        for (i, s) in report.next_steps.iter().enumerate() {
            let _ = writeln!(out, "{INDENT}{}. {s}", i.saturating_add(1));
        }
    }
    let findings = report.findings();
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let verdict = report.verdict();
    let vstyle = match verdict {
        crate::report::Verdict::Damaged => style_for(Severity::Error),
        crate::report::Verdict::Warning => style_for(Severity::Warning),
        crate::report::Verdict::Clean => {
            Style::new().fg_color(Some(AnsiColor::Green.into())).bold()
        }
    };
    let _ = writeln!(
        out,
        "\nverdict: {vstyle}{}{vstyle:#} ({}, {}, {} info)",
        verdict.as_str(),
        plural(count(Severity::Error), "error"),
        plural(count(Severity::Warning), "warning"),
        count(Severity::Info),
    );
    out
}

/// `1 error`, `2 errors`.
pub fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn node_text(report: &ImageReport, node: &Node, depth: usize, out: &mut String) {
    let pad = INDENT.repeat(depth);
    let _ = writeln!(
        out,
        "{pad}{b}{}{b:#}  {}",
        node.kind,
        node.title,
        b = bold()
    );
    let fpad = INDENT.repeat(depth.saturating_add(1));
    for f in &node.findings {
        finding_text(report, f, &fpad, out);
    }
    for c in &node.children {
        node_text(report, c, depth.saturating_add(1), out);
    }
}

fn finding_text(report: &ImageReport, f: &Finding, pad: &str, out: &mut String) {
    let s = style_for(f.severity);
    // A file offset in a backing file is that file's: `@ file base.qcow2 0x…`.
    let space = match (f.space, report.file_of(&f.place)) {
        (imgcheck_core::Space::File, Some(file)) => format!("file {file}"),
        _ => f.space.to_string(),
    };
    let _ = writeln!(
        out,
        "{pad}{s}{:<7}{s:#} {}  [{} @ {space} {:#x}]",
        f.severity.to_string(),
        f.message,
        f.code,
        f.offset
    );
    if let Some(r) = report.hint_of(f) {
        let _ = writeln!(out, "{pad}        hint: {}", r.hint);
    }
}

/// The report as one JSON object (the `--json` contract, typed as
/// [`JsonReport`]).
pub fn json_value(report: &ImageReport) -> Value {
    serde_json::to_value(JsonReport::of(report)).unwrap_or(Value::Null)
}

/// A path's verdict in words: "boots as far as the disk shows" or
/// "fails at <link>: <why>".
fn boot_line(v: &imgcheck_boot::Verdict) -> String {
    use imgcheck_boot::Outcome;
    match v.outcome {
        Outcome::Boots => format!("boots as far as the disk shows: {}", v.summary),
        Outcome::Depends => format!("boots only through firmware NVRAM: {}", v.summary),
        Outcome::Fails => format!("fails: {}", v.summary),
        Outcome::NotSetUp => format!("not set up: {}", v.summary),
    }
}

/// One line of JSON Lines.
pub fn json_line(report: &ImageReport) -> String {
    format!("{}\n", json_value(report))
}

/// The JSON object of an image that could not be checked (`--json`): the
/// report's keys, so a fleet's JSON Lines have one line per image, with
/// verdict `error`, the problem as `error: {kind, message}` and what was
/// learned before stopping beside it ([`JsonReport::failed`]).
pub fn error_json(image: &str, fatal: &Fatal) -> Value {
    serde_json::to_value(JsonReport::failed(image, fatal)).unwrap_or(Value::Null)
}

/// [`error_json`] as one line of JSON Lines.
pub fn error_line(image: &str, fatal: &Fatal) -> String {
    format!("{}\n", error_json(image, fatal))
}

/// The table that ends a text report of several images.
pub fn summary_table(rows: &[SummaryRow]) -> String {
    let width = rows.iter().map(|r| r.image.len()).max().unwrap_or(5).max(5);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{b}{:<width$}  {:<6}  {:>10}  {:<8}  worst finding{b:#}",
        "image",
        "format",
        "size",
        "verdict",
        b = bold()
    );
    for r in rows {
        let size = r.size.map_or_else(|| "-".to_string(), human_size);
        let _ = writeln!(
            out,
            "{:<width$}  {:<6}  {:>10}  {:<8}  {}",
            r.image, r.format, size, r.verdict, r.worst
        );
    }
    out
}

/// One line of the summary table that ends a multi-image text report.
pub struct SummaryRow {
    /// The image path.
    pub image: String,
    /// `qcow2`, `raw`, or `-` when it could not be opened.
    pub format: String,
    /// Guest disk size in bytes, when known.
    pub size: Option<u64>,
    /// `clean`, `warning`, `damaged`, or `error`.
    pub verdict: String,
    /// Code of the worst finding, the first of its severity.
    pub worst: String,
}

impl SummaryRow {
    /// The row of a checked image.
    pub fn of(r: &ImageReport) -> Self {
        let findings = r.findings();
        let worst = imgcheck_core::worst_severity(findings.iter().copied())
            .filter(|s| *s > imgcheck_core::Severity::Info)
            .and_then(|s| findings.iter().find(|f| f.severity == s))
            .map_or_else(|| "-".to_string(), |f| f.code.to_string());
        SummaryRow {
            image: r.image.clone(),
            format: r.format.to_string(),
            size: Some(r.virtual_size),
            verdict: r.verdict().as_str().to_string(),
            worst,
        }
    }

    /// The row of an image that could not be checked.
    pub fn failed(path: &std::path::Path, fatal: &Fatal) -> Self {
        SummaryRow {
            image: path.display().to_string(),
            format: "-".into(),
            size: None,
            verdict: "error".into(),
            worst: serde_json::to_value(fatal.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| "cannot check".into()),
        }
    }
}

//! One cap policy for findings, in every layer: the first
//! [`MAX_FINDINGS_PER_CODE`] of each code are kept, the rest counted in one
//! closing finding of the worst severity among them, so a table of 8192
//! garbage entries or a filesystem with a million bad inodes still gives a
//! readable report, and the verdict never drops.

use crate::findings::{Finding, Severity};
use std::collections::HashMap;

/// Findings kept per code before the rest are only counted.
pub const MAX_FINDINGS_PER_CODE: usize = 32;

/// Collects findings under the cap policy.
#[derive(Debug)]
pub struct Sink {
    kept: Vec<Finding>,
    counts: HashMap<String, Dropped>,
    cap: usize,
}

#[derive(Debug)]
struct Dropped {
    seen: usize,
    first_dropped: Option<Finding>,
    worst: Severity,
}

impl Default for Sink {
    fn default() -> Self {
        Sink::new()
    }
}

impl Sink {
    /// A sink with the default cap.
    pub fn new() -> Self {
        Sink::with_cap(MAX_FINDINGS_PER_CODE)
    }

    /// A sink keeping `cap` findings per code.
    pub fn with_cap(cap: usize) -> Self {
        Sink {
            kept: Vec::new(),
            counts: HashMap::new(),
            cap,
        }
    }

    /// Adds one finding (kept, or counted).
    pub fn push(&mut self, f: Finding) {
        // Look up by &str first: a million findings of one code must not
        // allocate a million code strings.
        if !self.counts.contains_key(f.code.as_ref()) {
            self.counts.insert(
                f.code.to_string(),
                Dropped {
                    seen: 0,
                    first_dropped: None,
                    worst: Severity::Info,
                },
            );
        }
        let Some(d) = self.counts.get_mut(f.code.as_ref()) else {
            return;
        };
        d.seen = d.seen.saturating_add(1);
        if d.seen <= self.cap {
            self.kept.push(f);
        } else {
            d.worst = d.worst.max(f.severity);
            if d.first_dropped.is_none() {
                d.first_dropped = Some(f);
            }
        }
    }

    /// Whether another finding of `code` would only be counted (lets a
    /// check skip formatting a message nobody will see).
    pub fn is_full(&self, code: &str) -> bool {
        self.counts.get(code).is_some_and(|d| d.seen >= self.cap)
    }

    /// Findings kept so far.
    pub fn kept(&self) -> &[Finding] {
        &self.kept
    }

    /// The kept findings, then one closing finding per capped code, in the
    /// order the codes first overflowed.
    pub fn finish(self) -> Vec<Finding> {
        let mut out = self.kept;
        let mut dropped: Vec<(usize, String, Finding, Severity)> = self
            .counts
            .into_iter()
            .filter_map(|(code, d)| {
                let n = d.seen.saturating_sub(self.cap);
                d.first_dropped.map(|f| (n, code, f, d.worst))
            })
            .collect();
        dropped.sort_by(|a, b| (a.2.offset, &a.1).cmp(&(b.2.offset, &b.1)));
        for (n, code, f, worst) in dropped {
            let what = if n == 1 { "finding" } else { "findings" };
            out.push(Finding::new(
                worst,
                code.clone(),
                f.layer,
                f.offset,
                f.space,
                format!("{n} more {code} {what} like the ones above are not listed (the first at this offset)"),
            ));
        }
        out
    }
}

impl Extend<Finding> for Sink {
    fn extend<T: IntoIterator<Item = Finding>>(&mut self, iter: T) {
        for f in iter {
            self.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Layer, Space};

    #[test]
    fn caps_per_code_and_keeps_the_worst_severity() {
        let mut s = Sink::with_cap(2);
        for i in 0..5u64 {
            let sev = if i == 4 {
                Severity::Error
            } else {
                Severity::Warning
            };
            s.push(Finding::new(sev, "x.a", Layer::EXT4, i, Space::Disk, "a"));
        }
        s.push(Finding::info("x.b", Layer::EXT4, 9, Space::Disk, "b"));
        assert!(s.is_full("x.a") && !s.is_full("x.b"));
        let out = s.finish();
        assert_eq!(out.len(), 4);
        let last = out.last().unwrap();
        assert_eq!((last.severity, last.offset), (Severity::Error, 2));
        assert!(
            last.message.starts_with("3 more x.a findings"),
            "{}",
            last.message
        );
    }
}

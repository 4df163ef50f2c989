//! Findings are data: the text report, the JSON report and embedders all
//! render the same values, so nothing about a problem lives only in prose.

use serde::Serialize;
use std::borrow::Cow;
use std::fmt;

/// How bad a finding is. Ordered: `Info < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; never changes a verdict.
    Info,
    /// Not damage yet, but a risk or an inconsistency a person should look at.
    Warning,
    /// Damage: data or metadata is wrong or unreachable.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// The layer a finding belongs to. `Layout` is for what spans layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    /// The qcow2 container: header, tables, refcounts, snapshots.
    Qcow2,
    /// A classic (or protective/hybrid) MBR and its logical partitions.
    Mbr,
    /// A GUID partition table.
    Gpt,
    /// An ext2/3/4 filesystem.
    Ext4,
    /// Relations between layers: sizes, zeroed ranges, emptiness.
    Layout,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Qcow2 => "qcow2",
            Layer::Mbr => "mbr",
            Layer::Gpt => "gpt",
            Layer::Ext4 => "ext4",
            Layer::Layout => "layout",
        })
    }
}

/// The address space an offset is given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Space {
    /// A byte offset in the image file itself (qcow2 metadata).
    File,
    /// A byte offset on the guest disk (what a VM would see).
    Disk,
}

impl fmt::Display for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Space::File => "file",
            Space::Disk => "disk",
        })
    }
}

/// One problem (or notable fact) found in an image.
///
/// A layer reports offsets relative to the reader it was given; whoever
/// composed the readers (the CLI) moves them into disk space with
/// [`Finding::rebased`], because only it knows where a partition starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable dotted identifier, layer first (`gpt.backup_header.not_at_end`).
    pub code: Cow<'static, str>,
    /// The layer that found it.
    pub layer: Layer,
    /// How bad it is.
    pub severity: Severity,
    /// Byte offset of the structure concerned, in `space`.
    pub offset: u64,
    /// The space `offset` is in.
    pub space: Space,
    /// One sentence: the structure, the value found, the value expected.
    pub message: String,
    /// The next step, a concrete command where one exists.
    pub hint: Option<String>,
}

impl Finding {
    /// A finding of any severity.
    pub fn new(
        severity: Severity,
        code: impl Into<Cow<'static, str>>,
        layer: Layer,
        offset: u64,
        space: Space,
        message: impl Into<String>,
    ) -> Self {
        Finding {
            code: code.into(),
            layer,
            severity,
            offset,
            space,
            message: message.into(),
            hint: None,
        }
    }

    /// An `error` finding: damage.
    pub fn error(
        code: impl Into<Cow<'static, str>>,
        layer: Layer,
        offset: u64,
        space: Space,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Error, code, layer, offset, space, message)
    }

    /// A `warning` finding: a risk or inconsistency.
    pub fn warning(
        code: impl Into<Cow<'static, str>>,
        layer: Layer,
        offset: u64,
        space: Space,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Warning, code, layer, offset, space, message)
    }

    /// An `info` finding: never changes the verdict.
    pub fn info(
        code: impl Into<Cow<'static, str>>,
        layer: Layer,
        offset: u64,
        space: Space,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Info, code, layer, offset, space, message)
    }

    /// The same finding with a next step attached.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The same finding with its offset moved by `base` (saturating, so a
    /// hostile offset cannot overflow), e.g. from partition to disk space.
    #[must_use]
    pub fn rebased(mut self, base: u64) -> Self {
        self.offset = self.offset.saturating_add(base);
        self
    }
}

/// The worst severity among `findings`, or `None` when there are none.
pub fn worst_severity<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Option<Severity> {
    findings.into_iter().map(|f| f.severity).max()
}

#[cfg(test)]
#[allow(clippy::as_conversions, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn severity_orders_and_worst_is_max() {
        assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Error);
        let fs = [
            Finding::info("x.a", Layer::Ext4, 0, Space::Disk, "a"),
            Finding::warning("x.b", Layer::Ext4, 0, Space::Disk, "b"),
        ];
        assert_eq!(worst_severity(&fs), Some(Severity::Warning));
        assert_eq!(worst_severity(&[]), None);
    }

    #[test]
    fn rebased_saturates() {
        let f = Finding::error("x.c", Layer::Gpt, u64::MAX - 1, Space::Disk, "c").rebased(10);
        assert_eq!(f.offset, u64::MAX);
    }

    #[test]
    fn serializes_with_contract_keys() {
        let f = Finding::error("gpt.x", Layer::Gpt, 512, Space::Disk, "m").with_hint("h");
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"code":"gpt.x","layer":"gpt","severity":"error","offset":512,"space":"disk","message":"m","hint":"h"}"#
        );
    }
}

//! Findings are data: the text report, the JSON report and embedders all
//! render the same values, so nothing about a problem lives only in prose.

use crate::hint::Hint;
use crate::place::{Place, Where};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// How bad a finding is. Ordered: `Info < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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

/// The layer a finding belongs to, by name (`qcow2`, `gpt`, `ext4`,
/// `layout` for what spans layers). A name rather than a closed enum, so a
/// new layer crate names its own findings without touching this one; the
/// layers imgcheck ships have constants.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Layer(pub Cow<'static, str>);

impl Layer {
    /// The qcow2 container: header, tables, refcounts, snapshots.
    pub const QCOW2: Layer = Layer::named("qcow2");
    /// A classic (or protective/hybrid) MBR and its logical partitions.
    pub const MBR: Layer = Layer::named("mbr");
    /// A GUID partition table.
    pub const GPT: Layer = Layer::named("gpt");
    /// Other disk labels (Sun, SGI, BSD, Atari, DASD, Apple partition map).
    pub const LABEL: Layer = Layer::named("label");
    /// LVM2 physical volumes, volume groups and logical volumes.
    pub const LVM2: Layer = Layer::named("lvm2");
    /// An ext2/3/4 filesystem.
    pub const EXT4: Layer = Layer::named("ext4");
    /// An XFS filesystem.
    pub const XFS: Layer = Layer::named("xfs");
    /// A FAT12/16/32 filesystem.
    pub const FAT: Layer = Layer::named("fat");
    /// The BIOS and UEFI boot chains.
    pub const BOOT: Layer = Layer::named("boot");
    /// Relations between layers: sizes, zeroed ranges, emptiness.
    pub const LAYOUT: Layer = Layer::named("layout");

    /// A layer of this name.
    pub const fn named(name: &'static str) -> Self {
        Layer(Cow::Borrowed(name))
    }

    /// Its name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The address space an offset is given in. In a report, the space is
/// that of the innermost container on the finding's [`Place`]: `file` is
/// the container file (the image, or a logical volume holding a qcow2),
/// `disk` the guest disk it holds (or the raw image), `volume` the
/// logical volume the place names.
///
/// A layer reports offsets in its own reader: a container (qcow2) uses
/// `File` for its file and `Disk` for the guest disk it hands out; any
/// other layer uses `Disk` for the reader it was given, and the pipeline
/// moves them into the report's space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Space {
    /// A byte offset in the container file (qcow2 metadata).
    File,
    /// A byte offset on the guest disk (what a VM would see).
    Disk,
    /// A byte offset in the logical volume named by the place.
    Volume,
}

impl fmt::Display for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Space::File => "file",
            Space::Disk => "disk",
            Space::Volume => "volume",
        })
    }
}

/// One problem (or notable fact) found in an image.
///
/// A layer reports offsets relative to the reader it was given; whoever
/// composed the readers (the pipeline) moves them into disk space with
/// [`Finding::rebased`], because only it knows where a partition starts,
/// and sets [`Finding::place`].
///
/// In JSON (see [`FindingJson`]) the hint is a string (`"hint"`, as a
/// person reads it) and its structured form (`"action"`); the place is
/// `"where"`, an object of named fields ([`Where`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "FindingJson", from = "FindingJson")]
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
    pub hint: Option<Hint>,
    /// Where in the layer tree it was found (set by the pipeline; the
    /// root for a layer crate used alone).
    pub place: Place,
}

/// The JSON shape of a [`Finding`]: its fields, the hint both as the
/// line a person reads (`hint`) and as data (`action`), and the place as
/// named fields (`where`, a [`Where`]). A report that knows more than the
/// layer did (the image's name, the filesystem) fills `where` in this form
/// before writing it; reading it back into a [`Finding`] keeps the path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingJson {
    /// [`Finding::code`].
    pub code: String,
    /// [`Finding::layer`].
    pub layer: Layer,
    /// [`Finding::severity`].
    pub severity: Severity,
    /// [`Finding::offset`], in `space`.
    pub offset: u64,
    /// [`Finding::space`].
    pub space: Space,
    /// [`Finding::message`].
    pub message: String,
    /// The hint as one line (`command (note)`), for people and for tools
    /// that only print it.
    pub hint: Option<String>,
    /// The hint as data ([`Finding::hint`]).
    #[serde(default)]
    pub action: Option<Hint>,
    /// Where it was found: [`Finding::place`] as named fields. Reads the
    /// path array of schema 1 reports too.
    #[serde(rename = "where", default, deserialize_with = "where_any")]
    pub place: Where,
}

/// `where` as schema 2 writes it (named fields) or as schema 1 did (the
/// path array alone), so reports kept from before still read back.
fn where_any<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Where, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Any {
        Named(Where),
        Path(Place),
    }
    Ok(match Any::deserialize(d)? {
        Any::Named(w) => w,
        Any::Path(p) => Where::of(&p),
    })
}

impl From<Finding> for FindingJson {
    fn from(f: Finding) -> Self {
        FindingJson {
            code: f.code.into_owned(),
            layer: f.layer,
            severity: f.severity,
            offset: f.offset,
            space: f.space,
            message: f.message,
            hint: f.hint.as_ref().map(ToString::to_string),
            place: Where::of(&f.place),
            action: f.hint,
        }
    }
}

impl From<FindingJson> for Finding {
    fn from(r: FindingJson) -> Self {
        Finding {
            code: Cow::Owned(r.code),
            layer: r.layer,
            severity: r.severity,
            offset: r.offset,
            space: r.space,
            message: r.message,
            // A report written by another tool may carry prose only.
            hint: r.action.or_else(|| r.hint.map(Hint::advice)),
            place: r.place.path,
        }
    }
}

impl fmt::Display for Finding {
    /// `error ext4.state.errors @ disk 0x110043a: message (hint: …)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} @ {} {:#x}",
            self.severity, self.code, self.space, self.offset
        )?;
        if !self.place.is_root() {
            write!(f, " ({})", self.place)?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, " (hint: {h})")?;
        }
        Ok(())
    }
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
            place: Place::root(),
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
    pub fn with_hint(mut self, hint: Hint) -> Self {
        self.hint = Some(hint);
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
            Finding::info("x.a", Layer::EXT4, 0, Space::Disk, "a"),
            Finding::warning("x.b", Layer::EXT4, 0, Space::Disk, "b"),
        ];
        assert_eq!(worst_severity(&fs), Some(Severity::Warning));
        assert_eq!(worst_severity(&[]), None);
    }

    #[test]
    fn rebased_saturates() {
        let f = Finding::error("x.c", Layer::GPT, u64::MAX - 1, Space::Disk, "c").rebased(10);
        assert_eq!(f.offset, u64::MAX);
    }

    #[test]
    fn serializes_with_contract_keys() {
        let f = Finding::error("gpt.x", Layer::GPT, 512, Space::Disk, "m")
            .with_hint(Hint::read_only("sgdisk -v {disk}"));
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(
            json,
            r#"{"code":"gpt.x","layer":"gpt","severity":"error","offset":512,"space":"disk","message":"m","hint":"sgdisk -v {disk}","action":{"command":"sgdisk -v {disk}","target":"this","writes":false,"note":null},"where":{"image":null,"snapshot":null,"backing":null,"partition":null,"volume":null,"filesystem":null,"path":[]}}"#
        );
        let back: Finding = serde_json::from_str(&json).unwrap();
        assert_eq!(back, f);
        // A schema 1 report's `where` was the path array alone.
        let old = r#"{"code":"ext4.x","layer":"ext4","severity":"info","offset":1,"space":"disk","message":"m","hint":null,"where":[{"partition":2}]}"#;
        let back: FindingJson = serde_json::from_str(old).unwrap();
        assert_eq!(back.place.partition, Some(2));
        assert_eq!(
            Finding::from(back).place,
            Place(vec![crate::Step::Partition(2)])
        );
        assert_eq!(
            f.to_string(),
            "error gpt.x @ disk 0x200: m (hint: sgdisk -v {disk})"
        );
    }
}

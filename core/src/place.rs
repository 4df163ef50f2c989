//! Where a finding is in the layer tree: the path of named steps from the
//! image down to the node that found it, so a consumer never maps offsets
//! back to partitions or volumes by hand.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One step down the layer tree. In JSON each is a one-key object
/// (`{"partition": 2}`), so a path reads `[{"snapshot":"1:pre"},{"partition":2}]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// A qcow2 internal snapshot's guest view, `id:name`.
    Snapshot(String),
    /// A file of the backing chain, 1 for the image's own backing file.
    Backing(u32),
    /// Partition `N`, as the table numbers it (logical MBR partitions from 5).
    Partition(u32),
    /// A logical volume, `vg/lv`.
    Volume(String),
    /// A container found inside the parent (a qcow2 disk stored in a
    /// logical volume): its format.
    Container(String),
    /// Any other named child a layer hands out.
    Other(String),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Snapshot(s) => write!(f, "snapshot {s}"),
            Step::Backing(d) => write!(f, "backing file {d}"),
            Step::Partition(n) => write!(f, "partition {n}"),
            Step::Volume(v) => write!(f, "volume {v}"),
            Step::Container(c) => write!(f, "{c} inside"),
            Step::Other(o) => f.write_str(o),
        }
    }
}

/// The path from the image to a node; empty for the image itself.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Place(pub Vec<Step>);

impl Place {
    /// The image itself.
    pub fn root() -> Self {
        Place(Vec::new())
    }

    /// True for the image itself.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// This place with one more step.
    #[must_use]
    pub fn join(&self, step: Step) -> Self {
        let mut v = self.0.clone();
        v.push(step);
        Place(v)
    }

    /// The partition number, when the path goes through one (the innermost).
    pub fn partition(&self) -> Option<u32> {
        self.0.iter().rev().find_map(|s| match s {
            Step::Partition(n) => Some(*n),
            _ => None,
        })
    }
}

/// A place as named fields: the JSON `"where"` of a finding, so a
/// consumer reads `where.partition` instead of walking the path. Each field
/// is the innermost step of its kind on [`Where::path`]; `image` and
/// `filesystem` are known only to whoever built the layer tree (the
/// `imgcheck` report fills them; a layer crate used alone leaves them
/// `None`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Where {
    /// The image as the report names it (`disk.qcow2`, `disk.qcow2@1`).
    pub image: Option<String>,
    /// The qcow2 internal snapshot shown, `id:name`.
    pub snapshot: Option<String>,
    /// The file of the backing chain, 1 for the image's own backing file.
    pub backing: Option<u32>,
    /// The partition, as the table numbers it.
    pub partition: Option<u32>,
    /// The logical volume, `vg/lv`.
    pub volume: Option<String>,
    /// The filesystem the finding is in, by kind (`ext4`, `xfs`, `vfat`).
    pub filesystem: Option<String>,
    /// The whole path, outermost step first: what [`Place`] holds.
    pub path: Place,
}

impl Where {
    /// The named fields of `place`; `image` and `filesystem` unset.
    pub fn of(place: &Place) -> Self {
        let last =
            |pick: fn(&Step) -> Option<&String>| place.0.iter().rev().find_map(pick).cloned();
        Where {
            image: None,
            snapshot: last(|s| match s {
                Step::Snapshot(v) => Some(v),
                _ => None,
            }),
            backing: place.0.iter().rev().find_map(|s| match s {
                Step::Backing(n) => Some(*n),
                _ => None,
            }),
            partition: place.partition(),
            volume: last(|s| match s {
                Step::Volume(v) => Some(v),
                _ => None,
            }),
            filesystem: None,
            path: place.clone(),
        }
    }
}

impl fmt::Display for Place {
    /// `partition 2`, `volume vg/root`, `snapshot 1:pre, partition 2`;
    /// `image` for the root.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("image");
        }
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_text() {
        let p = Place::root()
            .join(Step::Volume("vg/db".into()))
            .join(Step::Partition(2));
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"[{"volume":"vg/db"},{"partition":2}]"#
        );
        assert_eq!(p.to_string(), "volume vg/db, partition 2");
        assert_eq!(p.partition(), Some(2));
        assert_eq!(Place::root().to_string(), "image");
        let back: Place = serde_json::from_str(r#"[{"volume":"vg/db"},{"partition":2}]"#).unwrap();
        assert_eq!(back, p);
        let w = Where::of(&p.join(Step::Snapshot("1:pre".into())));
        assert_eq!(
            (w.partition, w.volume.as_deref(), w.snapshot.as_deref()),
            (Some(2), Some("vg/db"), Some("1:pre"))
        );
        assert_eq!((w.image, w.filesystem, w.backing), (None, None, None));
    }
}

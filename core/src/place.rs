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
    }
}

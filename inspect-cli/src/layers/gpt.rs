//! Partition table (MBR/GPT) → report node and the partitions to descend into.

use super::Options;
use crate::report::Node;
use imgcheck_core::ReadAt;

/// A partition the CLI descends into, with its node (the filesystem node is
/// added as its child).
pub struct Part {
    /// 1-based partition number as the table numbers it.
    pub index: u32,
    /// Start on the disk, in bytes.
    pub start: u64,
    /// Size in bytes as the table claims it (may run past a truncated disk).
    pub size: u64,
    /// The `partition N` node.
    pub node: Node,
}

/// The partition table of a disk.
pub struct Table {
    /// The table node (`gpt`, `mbr`, or `none` for a whole-disk filesystem).
    pub node: Node,
    /// Partitions found, in table order.
    pub parts: Vec<Part>,
}

/// Reads and checks the partition table of `disk`.
pub fn inspect(disk: &dyn ReadAt, opts: &Options) -> Table {
    let _ = (disk, opts);
    Table {
        node: Node::new("none", "no partition table"),
        parts: Vec::new(),
    }
}

/// Names the filesystem or volume whose signature `r` starts with, if any.
pub fn identify(r: &dyn ReadAt) -> Option<String> {
    let _ = r;
    None
}

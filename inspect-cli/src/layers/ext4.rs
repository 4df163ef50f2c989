//! ext2/3/4 filesystem → report node and timeline events.

use super::Options;
use crate::report::{Event, Node};
use imgcheck_core::ReadAt;

/// True when `r` holds an ext2/3/4 superblock (or a damaged one imgcheck
/// should still check).
pub fn probe(r: &dyn ReadAt) -> bool {
    let _ = r;
    false
}

/// Checks the filesystem in `r`, which starts at byte `base` of the disk;
/// `source` names it for the timeline (`partition 2`).
pub fn inspect(r: &dyn ReadAt, base: u64, source: &str, opts: &Options) -> (Node, Vec<Event>) {
    let _ = (r, base, source, opts);
    (Node::new("ext4", "not yet checked"), Vec::new())
}

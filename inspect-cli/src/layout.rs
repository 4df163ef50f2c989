//! Checks that need more than one layer at once (findings of layer
//! `layout`): what no single peer tool can say.

use crate::report::Node;
use imgcheck_core::{Finding, Layer, ReadAt, Space};

/// How much of the disk start is read to tell "empty" from "unrecognised".
const EMPTINESS_PROBE: u64 = 1 << 20;

/// Whether the first `limit` bytes of `disk` are all zeros, reading in
/// 64 KiB steps and trusting the layer below where it knows (a qcow2
/// cluster that is unallocated reads as zeros without being read).
fn leading_zeros(disk: &dyn ReadAt, limit: u64) -> Result<bool, imgcheck_core::ReadError> {
    const STEP: u64 = 64 << 10;
    let end = limit.min(disk.len());
    let mut buf = vec![0u8; 64 << 10];
    let mut at = 0u64;
    while at < end {
        let n = STEP.min(end.saturating_sub(at));
        if !disk.known_zero(at, n) {
            let chunk = buf
                .get_mut(..usize::try_from(n).unwrap_or(0))
                .unwrap_or_default();
            disk.read_exact_at(at, chunk)?;
            if chunk.iter().any(|&b| b != 0) {
                return Ok(false);
            }
        }
        at = at.saturating_add(n);
    }
    Ok(true)
}

/// A disk with no partition table and nothing recognisable on it: either
/// it holds no data at all (the backup that has been empty for months) or
/// its start was overwritten by something imgcheck does not know.
pub fn emptiness(disk: &dyn ReadAt, table: &Node) -> Option<Finding> {
    if table.kind != "none" || !table.children.is_empty() {
        return None;
    }
    let whole_zero = disk.known_zero(0, disk.len());
    let head_zero = whole_zero || leading_zeros(disk, EMPTINESS_PROBE).unwrap_or(false);
    let f = if head_zero {
        Finding::warning(
            "layout.empty",
            Layer::Layout,
            0,
            Space::Disk,
            format!(
                "the disk holds no data: no partition table, no filesystem signature, and {} are all zeros",
                if whole_zero {
                    "all of its bytes".to_string()
                } else {
                    format!("its first {} bytes", EMPTINESS_PROBE.min(disk.len()))
                }
            ),
        )
        .with_hint("check that the backup or copy job that wrote this image still runs and writes data")
    } else {
        Finding::warning(
            "layout.unrecognized",
            Layer::Layout,
            0,
            Space::Disk,
            "no partition table and no known filesystem or volume signature at the start of the disk",
        )
        .with_hint("file IMAGE; testdisk IMAGE   # look for lost partitions on a copy")
    };
    Some(f)
}

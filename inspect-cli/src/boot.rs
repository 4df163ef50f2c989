//! The boot chain over the layer tree: what the partition table and the
//! filesystems state (a partition's promised type, a FAT's boot files)
//! handed to `imgcheck_boot` with the disk, which reads sector 0 and
//! GRUB's sectors itself. The CLI composes; the boot crate depends on no
//! other layer crate.

use crate::report::Node;
use imgcheck_boot::{Disk, Partition, Report, Scheme};
use imgcheck_core::{Promise, ReadAt};

/// Judges the BIOS and UEFI paths of the disk under `root`, or `None`
/// when no table layer read the disk. A disk with no table is judged too:
/// a lost MBR leaves GRUB's core.img in the gap, which says the disk was
/// booted; a bare filesystem image is "not set up" for either path.
pub fn check(root: &Node, disk: &dyn ReadAt) -> Option<Report> {
    let table = root.table()?;
    let scheme = match table.facts.table.as_ref()?.scheme.as_str() {
        "gpt" => Scheme::Gpt,
        "mbr" => Scheme::Mbr,
        _ => Scheme::None,
    };
    let partitions = table
        .partitions()
        .filter_map(|p| {
            let span = p.span?;
            let contents = p.children.iter().find(|c| c.layer.is_some());
            Some(Partition {
                number: span.index,
                start: span.start,
                size: span.size,
                promise: p
                    .facts
                    .promised
                    .as_ref()
                    .map_or(Promise::Unknown, |e| e.contents),
                contents: contents.and_then(|c| c.layer).map(str::to_string),
                usable: contents.is_some_and(|c| c.facts.superblock.is_some()),
                boot_files: contents
                    .map(|c| c.facts.boot_files.clone())
                    .unwrap_or_default(),
            })
        })
        .collect();
    Some(imgcheck_boot::check(&Disk {
        reader: disk,
        scheme,
        partitions,
    }))
}

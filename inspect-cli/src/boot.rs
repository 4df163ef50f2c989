//! The boot chain over the layer tree: what the partition table and the
//! filesystems state (a partition's promised type, a FAT's boot files)
//! handed to `imgcheck_boot` with the disk, which reads sector 0 and
//! GRUB's sectors itself. The CLI composes; the boot crate depends on no
//! other layer crate.

use crate::report::Node;
use imgcheck_boot::{Disk, Filesystem, Partition, Report, Scheme};
use imgcheck_core::{IdentityKind, Promise, ReadAt};

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
    let mut filesystems = Vec::new();
    for p in table.partitions() {
        let Some(span) = p.span else { continue };
        for c in &p.children {
            filesystems_in(c, Some(span.index), span.start, &mut filesystems);
        }
    }
    Some(imgcheck_boot::check(&Disk {
        reader: disk,
        scheme,
        partitions,
        filesystems,
    }))
}

/// Nodes deeper than this are not searched for filesystems (a qcow2 in
/// an LV in a partition is 4 deep).
const MAX_FS_DEPTH: usize = 8;

/// The filesystems at and under `n` (a partition's contents, the LVs of a
/// PV in it), each with its UUID and its file lookup; only a filesystem
/// directly in a partition is that partition's.
fn filesystems_in(n: &Node, partition: Option<u32>, start: u64, out: &mut Vec<Filesystem>) {
    fn walk(
        n: &Node,
        partition: Option<u32>,
        start: u64,
        in_lv: bool,
        depth: usize,
        out: &mut Vec<Filesystem>,
    ) {
        if depth > MAX_FS_DEPTH {
            return;
        }
        let uuid = n
            .facts
            .identities
            .iter()
            .find(|i| i.kind == IdentityKind::FilesystemUuid)
            .map(|i| i.value.clone());
        if let Some(layer) = n.layer
            && (n.facts.files.is_some() || (uuid.is_some() && n.facts.superblock.is_some()))
        {
            out.push(Filesystem {
                partition,
                start,
                place: match partition {
                    Some(p) => format!("partition {p}"),
                    None => n.place.to_string(),
                },
                kind: layer.to_string(),
                uuid,
                files: n.facts.files.clone(),
                in_lv,
                unseen_by_grub: None,
            });
        }
        // What an LVM2 node holds is in its LVs.
        let lv = in_lv || n.layer == Some("lvm2");
        for c in &n.children {
            // Below a volume manager the partition no longer names it.
            walk(c, None, start, lv, depth.saturating_add(1), out);
        }
    }
    walk(n, partition, start, false, 0, out);
}

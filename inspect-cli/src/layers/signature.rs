//! Contents named by the one signature module (`imgcheck_gpt::sig`) that no
//! checker reads: swap, LUKS, xfs, vfat, … get a node that says what they
//! are and that they were not checked, so nothing found is dropped.

use crate::level::{self, Level};
use imgcheck_core::{
    Context, Identity, IdentityKind, Inspected, Inspector, Probe, ReadAt, Strength,
};
use std::sync::Arc;

/// The "identified by signature, not checked" layer.
pub struct Identified;

impl Inspector for Identified {
    fn name(&self) -> &'static str {
        "signature"
    }

    /// A whole signature at the start is a filesystem of its own and wins
    /// over stale ext backups behind it; an ext signature (its checker
    /// claims it) or what a disk image leaves at the start (an overwrite:
    /// the filesystem behind it still gets checked) is weak.
    fn probe(&self, r: &dyn ReadAt, cx: &Context<'_>) -> Option<Probe> {
        if level::of(cx) != Level::Contents {
            return None;
        }
        let s = imgcheck_gpt::identify(r)?;
        // Kinds a layer of their own reads (an LVM2 label whose CRC fails
        // is still the lvm2 layer's to report) only if it declines.
        let weak = s.kind.starts_with("ext")
            || s.kind == "jbd"
            || s.kind == "LVM2_member"
            || imgcheck_gpt::holds_image_signature(r);
        let strength = if weak {
            Strength::Weak
        } else {
            Strength::Structure
        };
        Some(Probe::new(strength, format!("{} signature", s.display)))
    }

    fn inspect(&self, r: &Arc<dyn ReadAt>, _: &Context<'_>) -> Inspected {
        let Some(s) = imgcheck_gpt::identify(r.as_ref()) else {
            return Inspected::new("unknown", "no signature found on a second look");
        };
        let mut node = Inspected::new(s.display, "contents identified by signature; not checked");
        // The size the volume states for itself (a FAT's total sectors, a
        // swap area's pages): how far it reaches into its partition.
        node.facts.claimed_size = s.size;
        for (offset, message) in s.damage {
            node.findings.push(imgcheck_core::Finding::error(
                format!("{}.boot.checksum", s.kind),
                imgcheck_core::Layer::named(s.kind),
                offset,
                imgcheck_core::Space::Disk,
                message,
            ));
        }
        if let Some(u) = s.uuid {
            node.facts.identities.push(Identity {
                kind: IdentityKind::FilesystemUuid,
                value: u,
            });
        }
        node
    }
}

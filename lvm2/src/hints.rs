//! Next steps in LVM terms, as data. Read-only first (`pvs`, `vgs`,
//! `lvs -a -o +devices`, `pvck --dump`, `vgcfgrestore --list`); anything
//! that writes is marked so, says "on a copy", and is offered only where
//! the evidence supports it. `{dev}` is the PV's block device (a loop
//! device over the image); VG and LV names are filled in here.

use crate::metadata::{SegKind, VgMetadata};
use imgcheck_core::{Hint, Target};

/// `pvck --dump headers {dev}`: what lvm reads of the label and headers.
pub fn pvck_headers() -> Hint {
    Hint::read_only("pvck --dump headers {dev}")
        .because("shows the label, PV header and metadata area header as lvm reads them")
}

/// `pvck --dump metadata_search {dev}`: every copy in the ring buffer.
pub fn pvck_search() -> Hint {
    Hint::read_only("pvck --dump metadata_search {dev}").because(
        "lists every metadata copy still in the area; one can be saved with --settings metadata_offset=N -f FILE",
    )
}

/// `pvs -o +pv_uuid,dev_size,pe_start`: the PVs lvm sees.
pub fn pvs() -> Hint {
    Hint::read_only("pvs -o +pv_uuid,dev_size,pe_start,pv_mda_size {dev}")
}

/// The missing PV: look, never `vgreduce --removemissing`.
pub fn missing_pv(vg: &str) -> Hint {
    Hint::read_only(format!("vgs -o +vg_missing_pv_count,pv_uuid {vg}; lvs -a -o +devices {vg}"))
        .on(Target::Nothing)
        .because(
            "attach every disk of the VG (read-only: losetup -r) and find the missing one by its UUID; never vgreduce --removemissing, which drops the LVs that used it",
        )
}

/// What the kernel itself writes when the LVs of `vg` are activated,
/// even as read-only tables (`None`: nothing — only linear, striped,
/// error and zero segments, no pvmove): a merging snapshot copies into
/// its origin, a thin pool or cache commits its metadata, a mirror or
/// raid resyncs its legs and writes its log or superblocks, a pvmove (a
/// mirror) resumes copying.
pub fn kernel_writes(vg: &VgMetadata) -> Option<&'static str> {
    vg.lvs.iter().find_map(|lv| {
        if lv.status.iter().any(|s| s == "PVMOVE" || s == "LOCKED") {
            return Some("a pvmove resumes copying extents");
        }
        lv.segments.iter().find_map(|s| match &s.kind {
            SegKind::Striped { .. } | SegKind::Error | SegKind::Zero => None,
            SegKind::Snapshot { merging: true, .. } => {
                Some("a merging snapshot is copied into its origin")
            }
            SegKind::Snapshot { .. } => Some("a snapshot's COW store may be written"),
            SegKind::Mirror { .. } | SegKind::Raid { .. } => {
                Some("a mirror or raid resyncs its legs and writes its log or superblocks")
            }
            SegKind::ThinPool { .. } | SegKind::Thin { .. } => {
                Some("a thin pool commits its metadata")
            }
            SegKind::Cache { .. } => Some("a cache writes its metadata and flushes dirty blocks"),
            SegKind::Other => Some("a segment type imgcheck does not map may write"),
        })
    })
}

/// Partial activation, to read what survives: lvm writes no metadata for
/// it (activation reads the VG, never repairs it; `--poll n` keeps a
/// pending pvmove or merge from being finished and written, `--monitor n`
/// keeps dmeventd from repairing a raid or mirror; `read_only_volume_list`
/// makes every LV's table read-only from the configuration, where
/// `lvchange -p r` would write the permission into the metadata). With
/// only linear and striped LVs the kernel writes nothing either; with
/// others ([`kernel_writes`]) it may, so those run on copies only.
pub fn activate_partial(vg: &VgMetadata) -> Hint {
    let cmd = format!(
        "vgchange -ay --activationmode partial --poll n --monitor n --config 'activation {{ read_only_volume_list = [ \"{0}\" ] }}' {0}",
        vg.name
    );
    match kernel_writes(vg) {
        None => Hint::read_only(cmd).on(Target::Nothing).because(format!(
            "with every image of the VG attached read-only (losetup -r): the LVs appear read-only under /dev/{}/, and reads fail where the missing PV held extents; lvm writes no metadata for this (lvchange -p r would) and linear or striped tables write nothing",
            vg.name
        )),
        Some(why) => Hint::writes(cmd).on(Target::Nothing).because(format!(
            "on copies of the images only, attached read-only (losetup -r): even with read-only LVs the kernel writes when this VG activates ({why})"
        )),
    }
}

/// Older metadata the host may still have in its archive.
pub fn cfgrestore_list(vg: &str) -> Hint {
    Hint::read_only(format!("vgcfgrestore --list {vg}"))
        .on(Target::Nothing)
        .because(
            "on the host that last changed the VG: its /etc/lvm/archive holds each earlier version",
        )
}

/// Let lvm rewrite stale or damaged copies from the good one.
pub fn update_metadata(vg: &str) -> Hint {
    Hint::writes(format!("vgck --updatemetadata {vg}"))
        .on(Target::Nothing)
        .because("on a copy of every image of the VG, after vgs shows the newest copy is the one you want")
}

/// Rewrite a PV's headers from metadata saved elsewhere.
pub fn pvck_repair(vg: &str) -> Hint {
    Hint::writes(format!("vgcfgbackup -f {vg}.vg {vg}; pvck --repair -f {vg}.vg {{dev}}")).because(
        "on a copy of the image, once vgs sees the VG through its other PVs: rewrites this PV's label, header and metadata area from the saved text",
    )
}

/// `vgck VG`: lvm's own consistency check.
pub fn vgck(vg: &str) -> Hint {
    Hint::read_only(format!("vgck {vg}")).on(Target::Nothing)
}

/// `lvs -a -o +devices,seg_pe_ranges VG`: where each segment lies.
pub fn lvs_devices(vg: &str) -> Hint {
    Hint::read_only(format!("lvs -a -o +devices,seg_pe_ranges {vg}")).on(Target::Nothing)
}

/// A VG as a command must name it: by name where the name is unique, and
/// by UUID where two VGs share it (lvm refuses a shared name: "Multiple
/// VGs found with the same name: skipping").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VgId<'a> {
    /// The VG's name, as its metadata records it.
    pub name: &'a str,
    /// The VG's UUID when another VG has the same name; `None` when the
    /// name alone identifies it.
    pub shared_uuid: Option<&'a str>,
}

/// How a shared-name VG is named to one lvm command. lvm 2.03's `vgs`,
/// `lvs`, `pvs`, `vgchange`, `vgdisplay`, `lvdisplay` and `lvchange`
/// accept `--select vg_uuid=` in place of the name; `vgck`, `vgcfgbackup`
/// and the others reject it ("unrecognized option '--select'"), so they
/// keep the name and see only this VG's PVs (`--devices`, looked up by
/// UUID with `pvs`, which reads). `vgcfgrestore --list` reads the host's
/// archive, never a device, so the name is all it takes.
fn shared_form(cmd: &str, name: &str, uuid: &str) -> String {
    let word = cmd.split_whitespace().next().unwrap_or_default();
    match word {
        "vgs" | "lvs" | "pvs" | "vgchange" | "vgdisplay" | "lvdisplay" | "lvchange" => {
            format!("{cmd} --select vg_uuid={uuid}")
        }
        "vgcfgrestore" => format!("{cmd} {name}"),
        _ => format!(
            "{cmd} --devices \"$(pvs --noheadings -o pv_name --select vg_uuid={uuid} | tr -d ' ' | paste -sd, -)\" {name}"
        ),
    }
}

/// `cmd` with each `; `-separated command that ends in the VG's name
/// restated in the form that command accepts for `vg` (unchanged when the
/// name is unique).
pub fn name_vg(cmd: &str, vg: VgId<'_>) -> String {
    let Some(uuid) = vg.shared_uuid else {
        return cmd.to_string();
    };
    let suffix = format!(" {}", vg.name);
    cmd.split("; ")
        .map(|part| match part.strip_suffix(&suffix) {
            Some(head) => shared_form(head, vg.name, uuid),
            None => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::{VgId, cfgrestore_list, missing_pv, name_vg, pvck_repair, update_metadata, vgck};

    fn shared(cmd: Option<String>) -> String {
        let vg = VgId {
            name: "vgx",
            shared_uuid: Some("U-1"),
        };
        name_vg(&cmd.unwrap_or_default(), vg)
    }

    const DEVS: &str = "--devices \"$(pvs --noheadings -o pv_name --select vg_uuid=U-1 | tr -d ' ' | paste -sd, -)\" vgx";

    #[test]
    fn a_shared_vg_name_is_restated_in_the_form_each_command_accepts() {
        // An attack gave the dd-over-the-last-PV disks beside an unrelated
        // VG of the same name: lvm answered the printed `vgs ... vgx` with
        // "Multiple VGs found with the same name: skipping vgx".
        assert_eq!(
            shared(missing_pv("vgx").command),
            "vgs -o +vg_missing_pv_count,pv_uuid --select vg_uuid=U-1; lvs -a -o +devices --select vg_uuid=U-1"
        );
        let a = "vgchange -ay --config 'activation { read_only_volume_list = [ \"vgx\" ] }' vgx";
        assert!(shared(Some(a.into())).ends_with("' --select vg_uuid=U-1"));
        // lvm 2.03.16: "vgck: unrecognized option '--select'", and so for
        // vgcfgbackup and vgcfgrestore; --devices they accept.
        assert_eq!(shared(vgck("vgx").command), format!("vgck {DEVS}"));
        assert_eq!(
            shared(update_metadata("vgx").command),
            format!("vgck --updatemetadata {DEVS}")
        );
        assert_eq!(
            shared(pvck_repair("vgx").command),
            format!("vgcfgbackup -f vgx.vg {DEVS}; pvck --repair -f vgx.vg {{dev}}")
        );
        assert_eq!(
            shared(cfgrestore_list("vgx").command),
            "vgcfgrestore --list vgx"
        );
        // A VG whose name only ends like another's is left alone, and a
        // unique name is never rewritten.
        assert_eq!(shared(Some("vgs avgx".into())), "vgs avgx");
        let unique = VgId {
            name: "vgx",
            shared_uuid: None,
        };
        assert_eq!(name_vg("vgck vgx", unique), "vgck vgx");
    }
}

//! Next steps in LVM terms, as data. Read-only first (`pvs`, `vgs`,
//! `lvs -a -o +devices`, `pvck --dump`, `vgcfgrestore --list`); anything
//! that writes is marked so, says "on a copy", and is offered only where
//! the evidence supports it. `{dev}` is the PV's block device (a loop
//! device over the image); VG and LV names are filled in here.

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

/// Partial activation of copies, to read what survives.
pub fn activate_partial(vg: &str) -> Hint {
    Hint::read_only(format!("vgchange -ay --activationmode partial {vg}"))
        .on(Target::Nothing)
        .because(
            "on copies of the images only (lvm may update metadata while activating); LVs read errors where the missing PV held extents",
        )
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

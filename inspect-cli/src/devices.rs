//! Hint placeholders resolved for a report: `{image}` is the image file,
//! `{disk}` the block device the container's guest disk is attached as,
//! `{dev}` the device of what the hint targets (partition N of that disk, a
//! logical volume, or the disk). The container states how its disk is
//! attached ([`Attach`]); nothing here knows a format or a command.

use imgcheck_core::{Attach, Hint, Place, Step, Target};
use std::cell::Cell;

/// A hint with its placeholders filled, and whether that needs the disk
/// attached first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The hint as a person runs it.
    pub hint: Hint,
    /// It names a block device that exists only once the attach command
    /// of the container ran.
    pub needs_attach: bool,
    /// The step that makes the device it names, when the container's
    /// attach step does not (a partition the kernel will not see: its own
    /// loop device at the partition's offset).
    pub attach_step: Option<Hint>,
    /// A hint of a disk nested in an LV: even when it writes, it needs the
    /// evidence attached (its VG activated read-only, to copy the LV), not
    /// the copy of the outer image, which is the PV's.
    pub nested: bool,
}

/// `hint`, found on a node at `place`, with `{image}`, `{disk}` and
/// `{dev}` filled in, and its target made concrete ([`Target::This`]
/// becomes the partition, volume or disk of `place`).
pub fn resolve(hint: &Hint, place: &Place, image: &str, attach: Option<&Attach>) -> Resolved {
    // What the node at `place` is: a partition, a volume, or the disk.
    let node = place
        .0
        .iter()
        .rev()
        .find_map(|s| match s {
            Step::Partition(n) => Some(Target::Partition(*n)),
            Step::Volume(v) => Some(Target::Volume(v.clone())),
            _ => None,
        })
        .unwrap_or(Target::Disk);
    // What `{dev}` stands for: the target, or the node for a hint that
    // names none (advice whose note mentions the device).
    let acts_on = match &hint.target {
        Target::This | Target::Nothing => node.clone(),
        t => t.clone(),
    };
    let target = match &hint.target {
        Target::This => node,
        t => t.clone(),
    };
    let used_device = Cell::new(false);
    // The whole disk: the image file where it serves and the hint acts on
    // the disk alone; else the attached device.
    let disk = |a: &Attach| match (&a.file, &acts_on) {
        (Some(f), Target::Disk | Target::Image) => f.replace("{image}", image),
        _ => {
            used_device.set(true);
            a.device.clone()
        }
    };
    let mut h = hint.clone().resolved(|name| match name {
        "image" => Some(image.to_string()),
        "disk" => attach.map(disk),
        "dev" => match &acts_on {
            Target::Image => Some(image.to_string()),
            Target::Partition(n) => attach.map(|a| {
                used_device.set(true);
                format!("{}p{n}", a.device)
            }),
            Target::Volume(v) => attach.map(|_| {
                used_device.set(true);
                format!("/dev/{v}")
            }),
            _ => attach.map(disk),
        },
        _ => None,
    });
    h.target = target;
    Resolved {
        hint: h,
        needs_attach: used_device.get(),
        attach_step: None,
        nested: false,
    }
}

/// A disk nested in a logical volume (the LV itself, a qcow2 image in
/// it, or a table on it): where its `{image}`, `{disk}` and `{dev}` are.
/// A hint found inside an LV acts on the LV's block device, never on the
/// outer image file, which is the PV (an attack saw `qemu-img info
/// --backing-chain` and `qemu-img check -r` aimed at the PV image).
#[derive(Debug, Clone)]
pub struct Nested {
    /// The place below the LV (its partition, its backing file).
    pub inner: Place,
    /// `vg/lv`.
    pub lv: String,
    /// The LV holds a qcow2 image (its disk is a qemu-nbd device).
    pub holds_image: bool,
}

/// The innermost LV a finding at `place` lies in, when the finding is the
/// LV's content's (not the VG's own: `lvm2` findings are about the PVs).
pub fn nested(place: &Place, layer: &str, holds_image: impl Fn(&Place) -> bool) -> Option<Nested> {
    if layer == imgcheck_core::Layer::LVM2.as_str() {
        return None;
    }
    let k = place.0.iter().rposition(|s| matches!(s, Step::Volume(_)))?;
    let Some(Step::Volume(lv)) = place.0.get(k) else {
        return None;
    };
    let outer = Place(place.0.get(..=k)?.to_vec());
    Some(Nested {
        inner: Place(place.0.get(k.saturating_add(1)..)?.to_vec()),
        lv: lv.clone(),
        holds_image: holds_image(&outer),
    })
}

/// The shell variable a nested disk's device is named in: one per LV
/// (`vg0/disk` → `LV_VG0_DISK`), so that two LVs' disks never share one,
/// with `_COPY` for the writable copy.
fn lv_var(lv: &str, copy: bool) -> String {
    let name: String = lv
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("LV_{name}{}", if copy { "_COPY" } else { "" })
}

/// The command that attaches `file` (an LV's device, or the copy of its
/// content) and names the device in `var`, set only once the attach
/// succeeded: a free loop device from `losetup --find --show`, or, for a
/// qcow2 image, the first nbd device with no disk that this command's own
/// qemu-nbd connected (qemu-nbd has no --find; a busy one fails to
/// connect and the search goes on).
fn attach_command(file: &str, var: &str, holds_image: bool, read_only: bool) -> String {
    let ro = if read_only { " --read-only" } else { "" };
    if holds_image {
        format!(
            "modprobe nbd max_part=16; {var}=$(for d in /sys/class/block/nbd*; do [ \"$(cat \"$d/size\")\" = 0 ] && qemu-nbd{ro} --connect=\"/dev/${{d##*/}}\" {file} >&2 && echo \"/dev/${{d##*/}}\" && break; done)"
        )
    } else {
        format!("{var}=$(losetup --find --show{ro} --partscan {file})")
    }
}

/// `hint` resolved for a disk nested in an LV: `{image}` is the LV's
/// device `/dev/VG/LV` (after the VG's read-only activation), `{disk}` the
/// LV itself or the device of the qcow2 image in it, `{dev}` its
/// partition. The LV's device exists only once the outer image is
/// attached and the VG activated (`needs_attach`); the nested attach step
/// (qemu-nbd, or losetup --partscan for a table) comes with it.
///
/// A writing hint runs on the one writable copy of the nested disk
/// ([`nested_copy`]), never on the LV: the VG is activated read-only from
/// the evidence, and the copy of the outer image is of the PV, whose LV
/// cannot be activated beside the evidence's (same VG and PV UUIDs). A
/// table-recreation step once targeted a device attached --read-only from
/// the LV while the copy made was of the PV image.
pub fn resolve_nested(hint: &Hint, n: &Nested, outer: Option<&Attach>) -> Resolved {
    let lv_dev = format!("/dev/{}", n.lv);
    // A backing file of the image in the LV is another LV or file, which
    // the place does not name: its placeholder is left for a person to
    // fill from the backing node, never filled with the wrong device.
    let backing = n.inner.0.iter().find_map(|s| match s {
        Step::Backing(d) => Some(*d),
        _ => None,
    });
    let copy = nested_copy(n);
    // A writing hint that makes its own copy (`cp {image} {image}.bak &&
    // ... {image}.bak`) reads the LV; any other writes to the copy.
    let own_copy = hint
        .command
        .as_deref()
        .is_some_and(|c| c.contains("{image}.bak"));
    let source = if hint.writes && !own_copy {
        &copy
    } else {
        &lv_dev
    };
    let image = match backing {
        Some(d) => format!("{{backing file {d} of {lv_dev}}}"),
        None => source.clone(),
    };
    // A copy of what is in the LV goes to a file of the working
    // directory, never beside the device in /dev.
    let mut hint = hint.clone();
    for t in [&mut hint.command, &mut hint.note].into_iter().flatten() {
        *t = t.replace("{image}.bak", &copy);
    }
    let hint = &hint;
    let var = lv_var(&n.lv, hint.writes);
    let what = if n.holds_image {
        format!("the qcow2 image in LV {}", n.lv)
    } else {
        format!("the disk in LV {} with its partitions", n.lv)
    };
    let attach = Attach {
        hint: if hint.writes {
            // The copy is made in the same step, and the variable is
            // cleared first: a failed copy leaves nothing to write to.
            // (braced where the attach is more than one command, so that
            // a failed copy skips all of it).
            let attach = attach_command(&copy, &var, n.holds_image, false);
            let attach = if attach.contains("; ") {
                format!("{{ {attach}; }}")
            } else {
                attach
            };
            Hint::writes(format!(
                "{var}=; cp --sparse=always {lv_dev} {copy} && {attach}"
            ))
            .on(Target::Image)
            .because(format!(
                "a copy of {what}, writable, its device named in {var}, once the VG is activated read-only and {lv_dev} exists: the steps below write to it, never to the evidence"
            ))
        } else {
            Hint::read_only(attach_command("{image}", &var, n.holds_image, true))
                .on(Target::Image)
                .because(format!(
                    "{what}, its device named in {var}, once the VG is activated read-only and {lv_dev} exists"
                ))
        },
        device: format!("${{{var}:?}}"),
        file: (!n.holds_image).then(|| "{image}".into()),
    };
    let mut r = resolve(hint, &n.inner, &image, Some(&attach));
    if r.needs_attach {
        r.attach_step = Some(
            attach
                .hint
                .clone()
                .resolved(|p| (p == "image").then(|| lv_dev.clone())),
        );
    } else if hint.writes && !own_copy && backing.is_none() {
        // The copy itself, for a step on the file alone.
        r.attach_step = Some(
            Hint::read_only(format!("cp --sparse=always {lv_dev} {copy}"))
                .on(Target::Image)
                .because(format!(
                    "a copy of LV {}, once the VG is activated read-only: the steps below write to it, never to the evidence",
                    n.lv
                )),
        );
    }
    // The LV's device itself needs the outer image attached.
    let names_lv = [r.hint.command.as_deref(), r.hint.note.as_deref()]
        .into_iter()
        .flatten()
        .any(|t| t.contains(&lv_dev));
    if names_lv && r.attach_step.is_none() {
        let vg = n.lv.split('/').next().unwrap_or_default();
        r.attach_step = Some(Hint::advice(format!(
            "activate VG {vg} read-only first (its partial-activation step, vgchange -ay with read_only_volume_list), so that its LVs exist under /dev/{vg}/"
        )));
    }
    r.needs_attach = outer.is_some() && (r.needs_attach || names_lv || r.attach_step.is_some());
    r.nested = true;
    r
}

/// The one writable copy of the disk nested in LV `n`: a file of the
/// working directory named after the LV, copied from the LV's device.
/// Every writing step of a nested disk acts on it (or on the device its
/// attach step names), never on the LV of the evidence nor on the copy of
/// the outer image, which is the PV.
pub fn nested_copy(n: &Nested) -> String {
    format!("{}.bak", n.lv.replace('/', "-"))
}

/// The shell variable the loop device of partition N of a table the
/// kernel does not read is named in: `P1` for partition 1, set by its own
/// `losetup --find --show`, never a fixed `/dev/loopN` another image may
/// hold.
pub fn partition_loop(n: u32) -> String {
    format!("${{P{n}:?}}")
}

/// `hint` for partition `n` (at `start`, `size` bytes on the disk) of a
/// table the kernel does not read (a GPT without a protective MBR, a label
/// it has no parser for): `--partscan` would make no `/dev/loop0pN`, so
/// `{dev}` is a loop device of its own at the partition's offset, made by
/// the returned step on the disk (the raw image file, or the container's
/// attached device).
pub fn resolve_unseen_partition(
    hint: &Hint,
    place: &Place,
    image: &str,
    attach: Option<&Attach>,
    (n, start, size): (u32, u64, u64),
) -> Resolved {
    let dev = partition_loop(n);
    let pre = hint
        .clone()
        .resolved(|name| (name == "dev").then(|| dev.clone()));
    let mut r = resolve(&pre, place, image, attach);
    let on = match attach {
        Some(a) => match &a.file {
            Some(f) => f.replace("{image}", image),
            None => {
                r.needs_attach = true;
                a.device.clone()
            }
        },
        None => image.to_string(),
    };
    r.attach_step = Some(
        Hint::read_only(format!(
            "P{n}=$(losetup --find --show --read-only -o {start} --sizelimit {size} {on})"
        ))
        .on(Target::Partition(n))
        .because(format!(
            "partition {n} as a free loop device named in P{n}: the kernel does not read this table, so --partscan makes no partition devices"
        )),
    );
    r
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn nbd() -> Attach {
        Attach {
            hint: Hint::read_only("qemu-nbd --read-only --connect=/dev/nbd0 {image}"),
            device: "/dev/nbd0".into(),
            file: None,
        }
    }

    #[test]
    fn a_raw_file_serves_as_its_disk_until_a_partition_is_involved() {
        let lo = Attach {
            hint: Hint::read_only("losetup --read-only --partscan /dev/loop0 {image}"),
            device: "/dev/loop0".into(),
            file: Some("{image}".into()),
        };
        let r = resolve(
            &Hint::read_only("sgdisk -v {disk}").on(Target::Disk),
            &Place::root(),
            "d.img",
            Some(&lo),
        );
        assert_eq!(r.hint.command.as_deref(), Some("sgdisk -v d.img"));
        assert!(!r.needs_attach);
        let r = resolve(
            &Hint::read_only("e2fsck -fn {dev}"),
            &Place::root(),
            "d.img",
            Some(&lo),
        );
        assert_eq!(r.hint.command.as_deref(), Some("e2fsck -fn d.img"));
        let r = resolve(
            &Hint::writes("sgdisk -e {disk}; growpart {disk} 2; resize2fs {dev}")
                .on(Target::Partition(2)),
            &Place::root(),
            "d.img",
            Some(&lo),
        );
        assert_eq!(
            r.hint.command.as_deref(),
            Some("sgdisk -e /dev/loop0; growpart /dev/loop0 2; resize2fs /dev/loop0p2")
        );
        assert!(r.needs_attach);
    }

    /// A disk nested in an LV (the LV's own table, a qcow2 image in it,
    /// a partition of either) never has its hints aimed at the outer
    /// image file, which is the PV: `sfdisk {disk}` for a lost table
    /// inside the LV once wrote the PV image's first sectors.
    #[test]
    fn a_nested_disk_never_names_the_outer_image() {
        let lo = Attach {
            hint: Hint::read_only("losetup --read-only --partscan /dev/loop0 {image}"),
            device: "/dev/loop0".into(),
            file: Some("{image}".into()),
        };
        let lv = Place::root().join(Step::Volume("vg0/disk".into()));
        let hints = [
            Hint::writes("sfdisk {disk} < table.sfdisk").on(Target::Disk),
            Hint::writes("sgdisk -e {disk}; growpart {disk} 2; resize2fs {dev}")
                .on(Target::Partition(2)),
            Hint::read_only("e2fsck -fn {dev}"),
            Hint::writes("qemu-img check -r leaks {image}").on(Target::Image),
            Hint::writes("cp {image} {image}.bak && qemu-img check -r all {image}.bak")
                .on(Target::Image),
        ];
        for (place, holds_image) in [
            (lv.clone(), false),
            (lv.join(Step::Partition(2)), false),
            (lv.clone(), true),
            (lv.join(Step::Partition(2)), true),
            (lv.join(Step::Backing(1)), true),
        ] {
            let n = nested(&place, "gpt", |_| holds_image).unwrap();
            for h in &hints {
                let r = resolve_nested(h, &n, Some(&lo));
                let text = format!("{:?} {:?}", r.hint.command, r.attach_step);
                assert!(!text.contains("pv.img"), "{place}: {text}");
                assert!(!text.contains("/dev/loop0"), "{place}: {text}");
                assert!(r.needs_attach, "{place}: {text}");
            }
        }
        let n = nested(&lv.join(Step::Partition(2)), "gpt", |_| false).unwrap();
        // A read-only check: the LV attached read-only, its own variable.
        let r = resolve_nested(&hints[2], &n, Some(&lo));
        assert_eq!(
            r.hint.command.as_deref(),
            Some("e2fsck -fn ${LV_VG0_DISK:?}p2")
        );
        assert_eq!(
            r.attach_step.unwrap().command.as_deref(),
            Some("LV_VG0_DISK=$(losetup --find --show --read-only --partscan /dev/vg0/disk)")
        );
        // A writing step: on the one copy of the LV, attached writable,
        // never on the LV's read-only device.
        let r = resolve_nested(&hints[1], &n, Some(&lo));
        assert_eq!(
            r.hint.command.as_deref(),
            Some(
                "sgdisk -e ${LV_VG0_DISK_COPY:?}; growpart ${LV_VG0_DISK_COPY:?} 2; resize2fs ${LV_VG0_DISK_COPY:?}p2"
            )
        );
        assert_eq!(
            r.attach_step.unwrap().command.as_deref(),
            Some(
                "LV_VG0_DISK_COPY=; cp --sparse=always /dev/vg0/disk vg0-disk.bak && LV_VG0_DISK_COPY=$(losetup --find --show --partscan vg0-disk.bak)"
            )
        );
        let n = nested(&lv, "qcow2", |_| true).unwrap();
        let r = resolve_nested(&hints[3], &n, Some(&lo));
        assert_eq!(
            r.hint.command.as_deref(),
            Some("qemu-img check -r leaks vg0-disk.bak")
        );
        assert_eq!(
            r.attach_step.unwrap().command.as_deref(),
            Some("cp --sparse=always /dev/vg0/disk vg0-disk.bak")
        );
        // A step that makes its own copy reads the LV.
        let r = resolve_nested(&hints[4], &n, Some(&lo));
        assert_eq!(
            r.hint.command.as_deref(),
            Some("cp /dev/vg0/disk vg0-disk.bak && qemu-img check -r all vg0-disk.bak")
        );
        // The table of the disk in a qcow2 image in the LV: recreated on
        // the copy's nbd device, not the LV's read-only one.
        let r = resolve_nested(&hints[0], &n, Some(&lo));
        assert_eq!(
            r.hint.command.as_deref(),
            Some("sfdisk ${LV_VG0_DISK_COPY:?} < table.sfdisk")
        );
        let step = r.attach_step.unwrap().command.unwrap();
        assert!(
            step.starts_with(
                "LV_VG0_DISK_COPY=; cp --sparse=always /dev/vg0/disk vg0-disk.bak && { modprobe nbd"
            ) && step.contains("qemu-nbd --connect=\"/dev/${d##*/}\" vg0-disk.bak"),
            "{step}"
        );
        // The VG's own findings are about its PVs: not nested.
        assert!(nested(&lv, "lvm2", |_| false).is_none());
        assert!(nested(&Place::root(), "gpt", |_| false).is_none());
    }

    #[test]
    fn per_target() {
        let p2 = Place::root().join(Step::Partition(2));
        let r = resolve(
            &Hint::read_only("e2fsck -fn {dev}"),
            &p2,
            "d.qcow2",
            Some(&nbd()),
        );
        assert_eq!(r.hint.command.as_deref(), Some("e2fsck -fn /dev/nbd0p2"));
        assert_eq!(r.hint.target, Target::Partition(2));
        assert!(r.needs_attach);
        // A whole-disk filesystem's device is the disk.
        let r = resolve(
            &Hint::read_only("e2fsck -fn {dev}"),
            &Place::root(),
            "d",
            Some(&nbd()),
        );
        assert_eq!(r.hint.command.as_deref(), Some("e2fsck -fn /dev/nbd0"));
        assert_eq!(r.hint.target, Target::Disk);
        // The image file needs nothing attached.
        let r = resolve(
            &Hint::read_only("qemu-img check {image}").on(Target::Image),
            &p2,
            "d.qcow2",
            Some(&nbd()),
        );
        assert_eq!(r.hint.command.as_deref(), Some("qemu-img check d.qcow2"));
        assert!(!r.needs_attach);
        // A recipe on the disk and a partition of it.
        let r = resolve(
            &Hint::writes("growpart {disk} 3; resize2fs {dev}").on(Target::Partition(3)),
            &Place::root(),
            "d",
            Some(&nbd()),
        );
        assert_eq!(
            r.hint.command.as_deref(),
            Some("growpart /dev/nbd0 3; resize2fs /dev/nbd0p3")
        );
        // Advice names no target: its note's device is the node's.
        let r = resolve(
            &Hint::advice("grow it before e2fsck -fn {dev}"),
            &p2,
            "d",
            Some(&nbd()),
        );
        assert_eq!(
            r.hint.note.as_deref(),
            Some("grow it before e2fsck -fn /dev/nbd0p2")
        );
        assert_eq!(r.hint.target, Target::Nothing);
        // Without a way to attach, the placeholders stay.
        let r = resolve(&Hint::read_only("sgdisk -v {disk}"), &p2, "d", None);
        assert_eq!(r.hint.command.as_deref(), Some("sgdisk -v {disk}"));
        assert!(!r.needs_attach);
    }
}

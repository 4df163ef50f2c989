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

/// `hint` resolved for a disk nested in an LV: `{image}` is the LV's
/// device `/dev/VG/LV` (after the VG's read-only activation), `{disk}` the
/// LV itself or the qemu-nbd device of the qcow2 image in it, `{dev}` its
/// partition. The LV's device exists only once the outer image is
/// attached and the VG activated (`needs_attach`); the nested attach step
/// (qemu-nbd, or losetup --partscan for a table) comes with it.
pub fn resolve_nested(hint: &Hint, n: &Nested, outer: Option<&Attach>) -> Resolved {
    let lv_dev = format!("/dev/{}", n.lv);
    // A backing file of the image in the LV is another LV or file, which
    // the place does not name: its placeholder is left for a person to
    // fill from the backing node, never filled with the wrong device.
    let backing = n.inner.0.iter().find_map(|s| match s {
        Step::Backing(d) => Some(*d),
        _ => None,
    });
    let image = match backing {
        Some(d) => format!("{{backing file {d} of {lv_dev}}}"),
        None => lv_dev.clone(),
    };
    // A copy of what is in the LV goes to a file of the working
    // directory, never beside the device in /dev.
    let mut hint = hint.clone();
    let copy = format!("{}.bak", n.lv.replace('/', "-"));
    for t in [&mut hint.command, &mut hint.note].into_iter().flatten() {
        *t = t.replace("{image}.bak", &copy);
    }
    let hint = &hint;
    let attach = if n.holds_image {
        Attach {
            hint: Hint::read_only("qemu-nbd --read-only --connect=/dev/nbd1 {image}")
                .on(Target::Image)
                .because(format!(
                    "the qcow2 image in LV {} as a disk, once the VG is activated read-only and {lv_dev} exists",
                    n.lv
                )),
            device: "/dev/nbd1".into(),
            file: None,
        }
    } else {
        Attach {
            hint: Hint::read_only("losetup --read-only --partscan /dev/loop1 {image}")
                .on(Target::Image)
                .because(format!(
                    "the disk in LV {} with its partitions, once the VG is activated read-only and {lv_dev} exists",
                    n.lv
                )),
            device: "/dev/loop1".into(),
            file: Some("{image}".into()),
        }
    };
    let mut r = resolve(hint, &n.inner, &image, Some(&attach));
    if r.needs_attach {
        r.attach_step = Some(
            attach
                .hint
                .clone()
                .resolved(|p| (p == "image").then(|| lv_dev.clone())),
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
    r.needs_attach = outer.is_some() && (r.needs_attach || names_lv);
    r
}

/// The loop device a partition the kernel will not see is attached as,
/// on its own: `/dev/loop1N` for partition N, so two never collide with
/// each other or with the disk's `/dev/loop0`.
pub fn partition_loop(n: u32) -> String {
    format!("/dev/loop1{n}")
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
            "losetup --read-only -o {start} --sizelimit {size} {dev} {on}"
        ))
        .on(Target::Partition(n))
        .because(format!(
            "partition {n} as {dev}: the kernel does not read this table, so --partscan makes no partition devices"
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
        let r = resolve_nested(&hints[1], &n, Some(&lo));
        assert_eq!(
            r.hint.command.as_deref(),
            Some("sgdisk -e /dev/loop1; growpart /dev/loop1 2; resize2fs /dev/loop1p2")
        );
        assert!(
            r.attach_step
                .unwrap()
                .command
                .unwrap()
                .ends_with("/dev/loop1 /dev/vg0/disk")
        );
        let n = nested(&lv, "qcow2", |_| true).unwrap();
        let r = resolve_nested(&hints[3], &n, Some(&lo));
        assert_eq!(
            r.hint.command.as_deref(),
            Some("qemu-img check -r leaks /dev/vg0/disk")
        );
        let r = resolve_nested(&hints[0], &n, Some(&lo));
        assert_eq!(
            r.hint.command.as_deref(),
            Some("sfdisk /dev/nbd1 < table.sfdisk")
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

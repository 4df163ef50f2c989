//! A raw image: the file is the disk. The fallback container, claimed by
//! its weak probe whenever no container signature is at the start.

use crate::level::{self, Level};
use imgcheck_core::{
    Attach, Child, Context, Expect, Extent, GuestDisk, Hint, Inspected, Inspector, Probe, Promise,
    ReadAt, Step, Strength, Target, human_size,
};
use std::sync::Arc;

/// Where the disk appears once attached for next steps: the shell
/// variable the attach step sets, never a fixed `/dev/loopN`. A fixed name
/// may already be another image's loop device (an attack found
/// `/dev/loop1` bound to another user's image: the attach failed as busy
/// and the next step repaired that image); `losetup --find --show` takes a
/// free one and prints it, and `:?` makes a later step fail rather than
/// run on nothing when the attach did not happen.
const LOOP_DEVICE: &str = "${DISK:?}";

/// The raw container.
pub struct Raw;

impl Inspector for Raw {
    fn name(&self) -> &'static str {
        "raw"
    }

    fn probe(&self, _: &dyn ReadAt, cx: &Context<'_>) -> Option<Probe> {
        (level::of(cx) == Level::ImageFile).then(|| {
            Probe::new(
                Strength::Weak,
                "no container signature: the file is the disk",
            )
        })
    }

    fn inspect(&self, r: &Arc<dyn ReadAt>, _: &Context<'_>) -> Inspected {
        let len = r.len();
        let mut node = Inspected::new("raw", format!("raw image, {}", human_size(len)));
        node.facts.claimed_size = Some(len);
        node.facts.guest = Some(GuestDisk {
            readable: true,
            why_not: None,
            size: len,
            attach: Some(Attach {
                hint: Hint::read_only(
                    "DISK=$(losetup --find --show --read-only --partscan {image})",
                )
                .on(Target::Image)
                .because(format!(
                    "a free loop device, named in DISK; partitions appear as {LOOP_DEVICE}pN"
                )),
                device: LOOP_DEVICE.into(),
                file: Some("{image}".into()),
            }),
        });
        node.children.push(Child {
            step: Step::Other("disk".into()),
            reader: Arc::clone(r),
            extent: Extent::Mapped,
            expect: Expect {
                contents: Promise::Disk,
                type_name: None,
            },
            node: None,
            descend: true,
        });
        node
    }
}

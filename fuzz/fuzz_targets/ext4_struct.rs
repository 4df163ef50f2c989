#![no_main]
//! Real mke2fs-made filesystems edited at named fields — geometry, feature
//! bits, descriptors, the inodes of group 0 and their extent trees, the
//! blocks they use (directories, journal) — with checksums re-sealed when
//! asked; the default and the deep check.
use arbitrary::Arbitrary;
use imgcheck_fuzz::{Disk, Length, ext4, fixture};
use libfuzzer_sys::fuzz_target;

fixture!(e1k, "ext4/ext4-1k.img");
fixture!(e4k, "ext4/ext4-4k.img");
fixture!(features, "ext4/ext4-features.img");
fixture!(ext2, "ext4/ext2.img");
fixture!(ext3, "ext4/ext3.img");
fixture!(uninit, "ext4/ext4-uninit.img");
fixture!(sparse2, "ext4/ext4-sparse2.img");
fixture!(errors, "ext4/ext4-errors.img");

#[derive(Arbitrary, Debug)]
struct Input {
    base: u8,
    length: Length,
    edits: Vec<ext4::Edit>,
    reseal: bool,
    deep: bool,
}

fuzz_target!(|input: Input| {
    let base = match input.base % 8 {
        0 => e1k(),
        1 => e4k(),
        2 => features(),
        3 => ext2(),
        4 => ext3(),
        5 => uninit(),
        6 => sparse2(),
        _ => errors(),
    };
    let mut disk = Disk::new(base);
    let Some(layout) = ext4::Layout::of(&disk, 0) else { return };
    input.length.apply(&mut disk);
    for e in input.edits.iter().take(32) {
        e.apply(&mut disk, &layout);
    }
    if input.reseal {
        ext4::reseal(&mut disk, &layout);
    }
    let r = imgcheck_ext4::check(&disk, &imgcheck_ext4::Options { depth: if input.deep { imgcheck_core::Depth::Full } else { imgcheck_core::Depth::Quick } });
    let _ = serde_json::to_string(&r.findings);
});

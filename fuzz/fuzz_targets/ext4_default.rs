#![no_main]
//! Superblock (with backup fallback), descriptors, bitmaps, journal,
//! orphans: the default-depth check.
use imgcheck_core::BytesReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let fs = BytesReader::new(data.to_vec());
    let _ = imgcheck_ext4::check(&fs, &imgcheck_ext4::Options { depth: imgcheck_core::Depth::Quick });
});

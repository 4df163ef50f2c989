#![no_main]
//! The input as the whole filesystem: superblock search, secondaries,
//! geometry and every bound on a reader of any length.
use imgcheck_core::{BytesReader, Depth};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let r = BytesReader::new(data.to_vec());
    let _ = imgcheck_xfs::probe(&r);
    let _ = imgcheck_xfs::check(&r, &imgcheck_xfs::Options { depth: Depth::Full });
});

#![no_main]
//! Every inode, extent tree, directory and the connectivity walk.
use imgcheck_core::BytesReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let fs = BytesReader::new(data.to_vec());
    let _ = imgcheck_ext4::check(&fs, &imgcheck_ext4::Options { depth: imgcheck_core::Depth::Full });
});

#![no_main]
//! qcow2 header, extensions, tables and snapshot table from arbitrary bytes.
use imgcheck_core::{BytesReader, ReadAt};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let file: Arc<dyn ReadAt> = Arc::new(BytesReader::new(data.to_vec()));
    let _ = imgcheck_qcow2::Image::open(file);
});

#![no_main]
//! The refcount rebuild and every check, on an arbitrary image.
use imgcheck_core::{BytesReader, ReadAt};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let file: Arc<dyn ReadAt> = Arc::new(BytesReader::new(data.to_vec()));
    if let Ok(image) = imgcheck_qcow2::Image::open(file) {
        let opts = imgcheck_qcow2::CheckOptions { deep: true, ..Default::default() };
        let _ = imgcheck_qcow2::check(&image, &opts);
    }
});

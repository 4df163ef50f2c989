#![no_main]
//! The whole pipeline on a raw buffer: container detection, qcow2 or raw,
//! partition table, filesystems, the cross-layer checks and both views.
use imgcheck::options::Options;
use imgcheck_core::{BytesReader, ReadAt};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let file: Arc<dyn ReadAt> = Arc::new(BytesReader::new(data.to_vec()));
    if let Ok(report) = imgcheck::pipeline::inspect_reader("fuzz", file, None, &Options::default()) {
        let _ = imgcheck::render::text(&report);
        let _ = imgcheck::render::json_line(&report);
        let _ = imgcheck::svg::svg(&report);
    }
});

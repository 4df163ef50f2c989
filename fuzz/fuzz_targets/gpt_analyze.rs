#![no_main]
//! MBR/EBR chain, both GPT copies, every check, and the recovery scan.
use imgcheck_core::BytesReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let disk = BytesReader::new(data.to_vec());
    let _ = imgcheck_gpt::analyze(&disk);
    let _ = imgcheck_gpt::identify(&disk);
});

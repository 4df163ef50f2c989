#![no_main]
//! Guest reads through L1/L2 (and compressed clusters) of an arbitrary
//! image: the last 16 bytes pick where to read, the rest is the image (so
//! seeds taken from real images still start with the magic).
use imgcheck_core::{BytesReader, ReadAt};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let Some((img, sel)) = data.split_last_chunk::<16>() else { return };
    let (a, b) = sel.split_at(8);
    let offset = u64::from_le_bytes(a.try_into().unwrap_or_default());
    let len = u64::from_le_bytes(b.try_into().unwrap_or_default()) % (1 << 17);
    let file: Arc<dyn ReadAt> = Arc::new(BytesReader::new(img.to_vec()));
    let Ok(image) = imgcheck_qcow2::Image::open(file) else { return };
    let guest = imgcheck_qcow2::Guest::new(Arc::new(image));
    let size = guest.len();
    if size == 0 {
        return;
    }
    let at = offset % size;
    let n = len.min(size - at) as usize;
    let mut buf = vec![0u8; n];
    let _ = guest.read_exact_at(at, &mut buf);
    let _ = guest.known_zero(at, len);
});

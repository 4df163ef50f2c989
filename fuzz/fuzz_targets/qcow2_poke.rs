#![no_main]
//! Real images, poked where their structures are: the input is an image
//! (seeded from the fixtures QEMU made) followed by a few pokes, each
//! aimed at a structure the image's own header locates — a header field,
//! an L1, L2, refcount-table, refcount-block, snapshot-table or bitmap
//! directory entry — so mutations land on metadata instead of on guest
//! data. The trailing byte says how many 12-byte pokes precede it.
use imgcheck_core::{BytesReader, ReadAt};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fn be64(b: &[u8], at: u64) -> u64 {
    let at = at as usize;
    b.get(at..at + 8).map_or(0, |s| u64::from_be_bytes(s.try_into().unwrap_or([0; 8])))
}

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_last() else { return };
    let n = usize::from(n % 16);
    if rest.len() < n * 12 {
        return;
    }
    let (img, pokes) = rest.split_at(rest.len() - n * 12);
    let mut b = img.to_vec();
    // Where the structures are, from the image as it is.
    let bases = match imgcheck_qcow2::Image::open(Arc::new(BytesReader::new(img.to_vec()))) {
        Ok(i) => {
            let h = i.header();
            let l2 = i
                .active_l1()
                .entries
                .iter()
                .map(|e| e & imgcheck_qcow2::L1E_OFFSET_MASK)
                .find(|&o| o != 0)
                .unwrap_or(0);
            let rb = be64(img, h.refcount_table_offset) & imgcheck_qcow2::REFT_OFFSET_MASK;
            [
                0,
                h.l1_table_offset,
                l2,
                h.refcount_table_offset,
                rb,
                h.snapshots_offset,
                h.extensions.bitmaps.map_or(0, |x| x.bitmap_directory_offset),
                i.file().len().saturating_sub(h.cluster_size()),
            ]
        }
        Err(_) => [0; 8],
    };
    for p in pokes.chunks_exact(12) {
        let base = bases[usize::from(p[0] % 8)];
        let at = base + u64::from(u16::from_le_bytes([p[1], p[2]])) % 4096;
        let mut v = [0u8; 8];
        v.copy_from_slice(&p[4..12]);
        let at = at as usize;
        let width = [1usize, 2, 4, 8][usize::from(p[3] % 4)];
        if let Some(d) = b.get_mut(at..at + width) {
            match p[3] >> 2 & 3 {
                0 => d.copy_from_slice(&v[8 - width..]),
                1 => d[0] ^= 1 << (v[0] % 8),
                2 => d.fill(0),
                _ => d.fill(0xff),
            }
        }
    }
    imgcheck_qcow2::exercise(&b);
    let _ = BytesReader::new(b).len();
});

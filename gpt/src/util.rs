//! What the gpt modules share beyond core's field readers: bounded reads
//! that treat a range past the disk as absent, LBA arithmetic, the GPT
//! CRC, and the size formatter.

use imgcheck_core::{ReadAt, read_vec};

/// The field readers are core's ([`imgcheck_core::bytes`]), one set for
/// every layer; re-exported for the modules that still import them from
/// here.
pub(crate) use imgcheck_core::bytes::{be16, be32, be64, bytes, le16, le32, le64, u8_at};

/// Reads `len` bytes at `off`, `None` when out of range or over `limit`.
pub(crate) fn read_opt<R: ReadAt + ?Sized>(
    r: &R,
    off: u64,
    len: u64,
    limit: u64,
) -> Option<Vec<u8>> {
    read_vec(r, off, len, limit).ok()
}

/// `a * b` in u64, saturating: used for LBA → byte conversions of values
/// read from the image, where saturation turns into an out-of-range read.
pub(crate) fn mul(a: u64, b: u64) -> u64 {
    a.saturating_mul(b)
}

/// Sizes in messages, rendered as everywhere else in imgcheck.
pub(crate) use imgcheck_core::human_size as human;

/// CRC-32/ISO-HDLC (zlib), as GPT uses.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(data);
    h.finalize()
}

//! Little helpers for reading fixed offsets out of a buffer without
//! indexing: a short buffer reads as zeros, which every caller treats as
//! "field absent" (a magic that cannot match), never as a panic.

use imgcheck_core::{ReadAt, read_vec};

/// `len` bytes at `off`, or an empty slice when the buffer is too short.
pub(crate) fn bytes(b: &[u8], off: usize, len: usize) -> &[u8] {
    b.get(off..off.saturating_add(len)).unwrap_or(&[])
}

/// A fixed-size array at `off`, zero-filled when out of range.
pub(crate) fn arr<const N: usize>(b: &[u8], off: usize) -> [u8; N] {
    b.get(off..off.saturating_add(N))
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .unwrap_or([0u8; N])
}

pub(crate) fn u8_at(b: &[u8], off: usize) -> u8 {
    b.get(off).copied().unwrap_or(0)
}
pub(crate) fn le16(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(arr(b, off))
}
pub(crate) fn le32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(arr(b, off))
}
pub(crate) fn le64(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(arr(b, off))
}
pub(crate) fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes(arr(b, off))
}
pub(crate) fn be64(b: &[u8], off: usize) -> u64 {
    u64::from_be_bytes(arr(b, off))
}

/// `usize` → `u64` (lossless on every supported target; saturates anyway).
pub(crate) fn u64_of(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// `u64` → `usize`, saturating.
pub(crate) fn usize_of(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

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

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::as_conversions)]
mod tests {
    use super::*;

    #[test]
    fn short_buffers_read_zero() {
        assert_eq!(le32(&[1, 2], 0), 0);
        assert_eq!(le16(&[1, 2], 0), 0x0201);
        assert_eq!(bytes(&[1, 2, 3], 2, 5), &[] as &[u8]);
        assert_eq!(u8_at(&[], usize::MAX), 0);
        assert_eq!(le64(&[0; 4], usize::MAX - 1), 0);
    }
}

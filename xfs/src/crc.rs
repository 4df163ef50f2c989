//! CRC-32C as XFS stores it (`xfs_cksum.h`): over the whole buffer with the
//! 4-byte CRC field read as zero, inverted, stored little-endian.

/// The CRC of `buf` with the field at `off` taken as zero.
pub fn compute(buf: &[u8], off: usize) -> u32 {
    let end = off.saturating_add(4).min(buf.len());
    let head = buf.get(..off.min(buf.len())).unwrap_or(&[]);
    let tail = buf.get(end..).unwrap_or(&[]);
    let c = crc32c::crc32c_append(0, head);
    let c = crc32c::crc32c_append(c, &[0u8; 4]);
    crc32c::crc32c_append(c, tail)
}

/// Whether the CRC stored at `off` matches.
pub fn verify(buf: &[u8], off: usize) -> bool {
    buf.len() >= off.saturating_add(4) && compute(buf, off) == imgcheck_core::bytes::le32(buf, off)
}

#[cfg(test)]
mod tests {
    #[test]
    fn inverted_crc32c_with_zeroed_field() {
        // crc32c("123456789") = 0xE3069283 (the check value, inversions included).
        let mut b = b"1234\x00\x00\x00\x0056789".to_vec();
        let c = super::compute(&b, 4);
        b[4..8].copy_from_slice(&c.to_le_bytes());
        assert!(super::verify(&b, 4));
        assert_eq!(
            super::compute(b"123456789", 9),
            crc32c::crc32c(b"123456789\0\0\0\0")
        );
    }
}

//! The two checksum families ext4 uses and the small byte helpers that go
//! with them. Field readers are [`imgcheck_core::bytes`], shared by every
//! layer.

/// Writes zeros over `off..off+len` when in range (checksum fields are
/// zeroed before hashing).
pub(crate) fn zero(b: &mut [u8], off: usize, len: usize) {
    if let Some(s) = b.get_mut(off..off.saturating_add(len)) {
        s.fill(0);
    }
}

/// A NUL-padded on-disk string as text (lossy), trimmed at the first NUL.
pub(crate) fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(b.get(..end).unwrap_or(&[])).into_owned()
}

/// ext4's "raw" CRC32C: Castagnoli without the final inversion, chained
/// by passing the previous value as seed. The crc32c crate inverts on both
/// ends, hence the two `!`.
pub(crate) fn crc32c_raw(seed: u32, data: &[u8]) -> u32 {
    !crc32c::crc32c_append(!seed, data)
}

/// CRC-16 as e2fsprogs' `ext2fs_crc16` (reflected poly 0x8005, i.e. 0xA001),
/// used by gdt_csum (uninit_bg) group descriptors.
pub(crate) fn crc16(mut crc: u16, data: &[u8]) -> u16 {
    for &b in data {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use imgcheck_core::bytes::{be32, le16, le32};
    use imgcheck_core::human_size as human;

    #[test]
    fn crc32c_raw_matches_definition() {
        // raw(~0, d) == !crc32c(d)
        let d = b"123456789";
        assert_eq!(crc32c_raw(!0, d), !crc32c::crc32c(d));
        // chaining equals one pass
        assert_eq!(
            crc32c_raw(crc32c_raw(!0, b"1234"), b"56789"),
            crc32c_raw(!0, d)
        );
    }

    #[test]
    fn crc16_modbus_check_value() {
        assert_eq!(crc16(0xFFFF, b"123456789"), 0x4B37);
    }

    /// The shared readers keep the contract ext4's parsers rely on: a
    /// field past the end reads as 0, never a panic.
    #[test]
    fn reads_out_of_range_are_zero() {
        assert_eq!(le32(&[1, 2], 0), 0);
        assert_eq!(le16(&[1, 2], 0), 0x0201);
        assert_eq!(be32(&[0, 0, 1, 2], 0), 0x102);
        assert_eq!(human(64 << 20), "64 MiB");
        assert_eq!(human(1536), "1.5 KiB");
    }
}

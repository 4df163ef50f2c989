//! Bounds-checked field reads and the two checksum families ext4 uses.
//!
//! Every read returns 0 when the field lies outside the buffer: callers
//! validate buffer lengths once, and a short buffer must never panic.

/// Little-endian u16 at `off`, or 0 when out of range.
pub(crate) fn le16(b: &[u8], off: usize) -> u16 {
    b.get(off..off.saturating_add(2))
        .and_then(|s| <[u8; 2]>::try_from(s).ok())
        .map_or(0, u16::from_le_bytes)
}

/// Little-endian u32 at `off`, or 0 when out of range.
pub(crate) fn le32(b: &[u8], off: usize) -> u32 {
    b.get(off..off.saturating_add(4))
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map_or(0, u32::from_le_bytes)
}

/// Little-endian u64 at `off`, or 0 when out of range.
pub(crate) fn le64(b: &[u8], off: usize) -> u64 {
    b.get(off..off.saturating_add(8))
        .and_then(|s| <[u8; 8]>::try_from(s).ok())
        .map_or(0, u64::from_le_bytes)
}

/// Big-endian u32 at `off` (jbd2), or 0 when out of range.
pub(crate) fn be32(b: &[u8], off: usize) -> u32 {
    b.get(off..off.saturating_add(4))
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map_or(0, u32::from_be_bytes)
}

/// One byte at `off`, or 0.
pub(crate) fn u8_at(b: &[u8], off: usize) -> u8 {
    b.get(off).copied().unwrap_or(0)
}

/// `len` bytes at `off`, or an empty slice when out of range.
pub(crate) fn bytes(b: &[u8], off: usize, len: usize) -> &[u8] {
    b.get(off..off.saturating_add(len)).unwrap_or(&[])
}

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

/// `u64` → `usize`, saturating (only used for sizes already bounded).
pub(crate) fn us(x: u64) -> usize {
    usize::try_from(x).unwrap_or(usize::MAX)
}

/// `usize` → `u64`, saturating.
pub(crate) fn u64_of(x: usize) -> u64 {
    u64::try_from(x).unwrap_or(u64::MAX)
}

/// Sizes in messages, rendered as everywhere else in imgcheck.
pub(crate) use imgcheck_core::human_size as human;

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn reads_out_of_range_are_zero() {
        assert_eq!(le32(&[1, 2], 0), 0);
        assert_eq!(le16(&[1, 2], 0), 0x0201);
        assert_eq!(be32(&[0, 0, 1, 2], 0), 0x102);
        assert_eq!(human(64 << 20), "64 MiB");
        assert_eq!(human(1536), "1.5 KiB");
    }
}

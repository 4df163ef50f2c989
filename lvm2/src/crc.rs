//! LVM's checksum (`lib/misc/crc.c`): the reflected CRC-32 polynomial
//! 0xEDB88320, seeded with [`INITIAL_CRC`], with no final inversion. It
//! covers the label (from `offset_xl` to the end of its sector), the mda
//! header (after its own checksum field) and each metadata text copy.

/// `INITIAL_CRC` of `lib/format_text/layout.h`.
pub const INITIAL_CRC: u32 = 0xf597_a6cf;

/// LVM's `calc_crc(initial, buf)`. crc32fast inverts its state on entry and
/// exit, so seeding it with `!initial` and inverting its result gives the
/// raw, uninverted CRC LVM computes.
pub fn calc_crc(initial: u32, buf: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(!initial);
    h.update(buf);
    !h.finalize()
}

/// [`calc_crc`] over several pieces in order (a metadata copy that wraps
/// around the end of the circular buffer).
pub fn calc_crc_pieces(initial: u32, pieces: &[&[u8]]) -> u32 {
    pieces.iter().fold(initial, |crc, p| calc_crc(crc, p))
}

/// The kernel's `crc32c()` (persistent-data block checksums): Castagnoli,
/// seeded with `seed`, no final inversion (`crc32c` inverts on both ends).
pub fn crc32c_raw(seed: u32, buf: &[u8]) -> u32 {
    !crc32c::crc32c_append(!seed, buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_chain() {
        let whole = calc_crc(INITIAL_CRC, b"hello world");
        assert_eq!(calc_crc_pieces(INITIAL_CRC, &[b"hello ", b"world"]), whole);
        // The empty buffer leaves the seed unchanged: nothing is inverted.
        assert_eq!(calc_crc(INITIAL_CRC, b""), INITIAL_CRC);
        assert_eq!(crc32c_raw(!0, b""), !0);
    }
}

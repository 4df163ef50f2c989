//! A plain bitmap over u64 words: one bit per block or inode, so a 1 TiB
//! filesystem with 4 KiB blocks costs 32 MiB per map.

use imgcheck_core::bytes::usize_of;

/// A fixed-size bitmap.
#[derive(Debug, Clone, Default)]
pub(crate) struct Bits {
    words: Vec<u64>,
    len: u64,
}

impl Bits {
    /// `len` bits, all clear. Sizes come from validated geometry.
    pub(crate) fn new(len: u64) -> Self {
        let n = usize_of(len.div_ceil(64));
        Bits {
            words: vec![0; n],
            len,
        }
    }
    /// Number of bits.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }
    /// Sets bit `i` (ignored when out of range); returns its old value.
    pub(crate) fn set(&mut self, i: u64) -> bool {
        if i >= self.len {
            return false;
        }
        let Some(w) = self.words.get_mut(usize_of(i / 64)) else {
            return false;
        };
        let m = 1u64 << (i % 64);
        let old = *w & m != 0;
        *w |= m;
        old
    }
    /// Bit `i` (false when out of range).
    pub(crate) fn get(&self, i: u64) -> bool {
        self.words
            .get(usize_of(i / 64))
            .is_some_and(|w| w >> (i % 64) & 1 == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn set_get() {
        let mut b = Bits::new(130);
        assert!(!b.set(129));
        assert!(b.set(129));
        assert!(b.get(129) && !b.get(128) && !b.get(500));
        assert!(!b.set(500));
        assert_eq!(b.len(), 130);
    }
}

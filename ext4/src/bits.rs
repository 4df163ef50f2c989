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
    /// Bits `i..i + 64` as one word, bit `i` lowest (bits out of range are
    /// clear): the passes that compare whole bitmaps go a word at a time.
    pub(crate) fn word_at(&self, i: u64) -> u64 {
        let w = usize_of(i / 64);
        let s = i % 64;
        let lo = self.words.get(w).copied().unwrap_or(0);
        if s == 0 {
            return lo;
        }
        let hi = self.words.get(w.saturating_add(1)).copied().unwrap_or(0);
        (lo >> s) | (hi << 64u64.saturating_sub(s))
    }
    /// Number of u64 words.
    pub(crate) fn word_count(&self) -> usize {
        self.words.len()
    }
    /// Word `w` (bits `64 * w..64 * w + 64`), 0 out of range.
    pub(crate) fn word(&self, w: usize) -> u64 {
        self.words.get(w).copied().unwrap_or(0)
    }
}

/// The low `n` bits set (`n` up to 64).
pub(crate) fn low_bits(n: u64) -> u64 {
    if n >= 64 {
        !0
    } else {
        (1u64 << n).wrapping_sub(1)
    }
}

/// The positions of the set bits of `m`, lowest first.
pub(crate) fn ones(mut m: u64) -> impl Iterator<Item = u64> {
    std::iter::from_fn(move || {
        if m == 0 {
            return None;
        }
        let j = u64::from(m.trailing_zeros());
        m &= m.wrapping_sub(1);
        Some(j)
    })
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

    #[test]
    fn words_at_any_offset() {
        let mut b = Bits::new(200);
        for i in [0u64, 5, 63, 64, 70, 127, 128, 199] {
            b.set(i);
        }
        for at in 0..210u64 {
            let w = b.word_at(at);
            for j in 0..64u64 {
                assert_eq!(w >> j & 1 == 1, b.get(at + j), "at {at} bit {j}");
            }
        }
        assert_eq!(ones(0b1010_0001).collect::<Vec<_>>(), vec![0, 5, 7]);
        assert_eq!((low_bits(0), low_bits(3), low_bits(64)), (0, 7, !0));
        assert_eq!(
            (b.word_count(), b.word(1), b.word(9)),
            (4, 1 | 1 << 6 | 1 << 63, 0)
        );
    }
}

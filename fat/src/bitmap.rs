//! One bit per cluster: the check's memory is bounded by a few of these,
//! never by a pointer or an owner per cluster.

/// A fixed-size set of `u32` indices.
#[derive(Debug, Clone, Default)]
pub(crate) struct Bitmap {
    words: Vec<u64>,
}

impl Bitmap {
    /// Room for indices `0..n`.
    pub(crate) fn new(n: u32) -> Self {
        let words = usize::try_from(u64::from(n).div_ceil(64)).unwrap_or(0);
        Bitmap {
            words: vec![0; words],
        }
    }

    fn at(i: u32) -> (usize, u64) {
        (
            usize::try_from(i / 64).unwrap_or(usize::MAX),
            1u64 << (i % 64),
        )
    }

    /// Whether `i` is set (out of range: no).
    pub(crate) fn get(&self, i: u32) -> bool {
        let (w, m) = Self::at(i);
        self.words.get(w).is_some_and(|x| x & m != 0)
    }

    /// Sets `i` (out of range: ignored).
    pub(crate) fn set(&mut self, i: u32) {
        let (w, m) = Self::at(i);
        if let Some(x) = self.words.get_mut(w) {
            *x |= m;
        }
    }

    /// Clears `i`.
    pub(crate) fn clear(&mut self, i: u32) {
        let (w, m) = Self::at(i);
        if let Some(x) = self.words.get_mut(w) {
            *x &= !m;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Bitmap;

    #[test]
    fn sets_and_bounds() {
        let mut b = Bitmap::new(130);
        b.set(0);
        b.set(129);
        b.set(5000);
        assert!(b.get(0) && b.get(129) && !b.get(128) && !b.get(5000));
        b.clear(129);
        assert!(!b.get(129));
    }
}

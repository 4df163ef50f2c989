//! The total work bound of one image. Per-structure limits keep one table
//! or chain in check; this keeps the sum in check — a hostile image made
//! of many structures that are each within their limit still ends, and
//! says where it stopped.

use crate::read::{ReadAt, ReadError, ReadErrorKind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Counters shared by every layer of one image, with their limits.
#[derive(Debug)]
pub struct Budget {
    bytes: AtomicU64,
    visits: AtomicU64,
    max_bytes: u64,
    max_visits: u64,
    hit: AtomicBool,
}

/// The budget ran out: the check stops where it is and says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exhausted {
    /// Bytes read so far.
    pub bytes: u64,
    /// Structures visited so far.
    pub visits: u64,
}

impl Budget {
    /// A budget of `max_bytes` read and `max_visits` structures visited.
    pub fn new(max_bytes: u64, max_visits: u64) -> Self {
        Budget {
            bytes: AtomicU64::new(0),
            visits: AtomicU64::new(0),
            max_bytes,
            max_visits,
            hit: AtomicBool::new(false),
        }
    }

    /// A budget that never runs out (tests, embedders that bound work themselves).
    pub fn unlimited() -> Self {
        Budget::new(u64::MAX, u64::MAX)
    }

    /// Charges `bytes` read and `visits` structures visited; `Err` once
    /// either limit is passed (and from then on).
    pub fn charge(&self, bytes: u64, visits: u64) -> Result<(), Exhausted> {
        let b = self
            .bytes
            .fetch_add(bytes, Ordering::Relaxed)
            .saturating_add(bytes);
        let v = self
            .visits
            .fetch_add(visits, Ordering::Relaxed)
            .saturating_add(visits);
        if b > self.max_bytes || v > self.max_visits || self.hit.load(Ordering::Relaxed) {
            self.hit.store(true, Ordering::Relaxed);
            return Err(Exhausted {
                bytes: b,
                visits: v,
            });
        }
        Ok(())
    }

    /// Whether a limit was passed.
    pub fn exhausted(&self) -> Option<Exhausted> {
        self.hit.load(Ordering::Relaxed).then(|| Exhausted {
            bytes: self.bytes.load(Ordering::Relaxed),
            visits: self.visits.load(Ordering::Relaxed),
        })
    }

    /// The limits, `(bytes, visits)`.
    pub fn limits(&self) -> (u64, u64) {
        (self.max_bytes, self.max_visits)
    }
}

/// A reader that charges every read to a [`Budget`]: wrapped around the
/// image file, it bounds the bytes all layers read together.
pub struct Metered<R> {
    inner: R,
    budget: Arc<Budget>,
}

impl<R: ReadAt> Metered<R> {
    /// `inner`, charging reads to `budget`.
    pub fn new(inner: R, budget: Arc<Budget>) -> Self {
        Metered { inner, budget }
    }
}

impl<R: ReadAt> ReadAt for Metered<R> {
    fn len(&self) -> u64 {
        self.inner.len()
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let n = u64::try_from(buf.len()).unwrap_or(u64::MAX);
        self.budget.charge(n, 0).map_err(|e| {
            ReadError::new(
                offset,
                n,
                ReadErrorKind::Budget {
                    limit: self.budget.limits().0.min(e.bytes),
                },
            )
        })?;
        self.inner.read_exact_at(offset, buf)
    }

    fn known_zero(&self, offset: u64, len: u64) -> bool {
        self.inner.known_zero(offset, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BytesReader;

    #[test]
    fn runs_out_and_stays_out() {
        let b = Budget::new(1000, 10);
        assert!(b.charge(600, 1).is_ok());
        assert!(b.exhausted().is_none());
        assert!(b.charge(600, 1).is_err());
        assert!(b.charge(0, 0).is_err(), "stays exhausted");
        assert_eq!(b.exhausted().map(|e| e.bytes), Some(1200));
        let m = Metered::new(
            BytesReader::new(vec![0u8; 100]),
            Arc::new(Budget::new(150, 1)),
        );
        let mut buf = [0u8; 100];
        assert!(m.read_exact_at(0, &mut buf).is_ok());
        assert!(m.read_exact_at(0, &mut buf).is_err());
    }
}

//! The total work bound of one image. Per-structure limits keep one table
//! or chain in check; this keeps the sum in check — a hostile image made
//! of many structures that are each within their limit still ends, and
//! says where it stopped.

use crate::read::{ReadAt, ReadError, ReadErrorKind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Counters shared by every layer of one image, with their limits. Every
/// file the image consists of (the image file, and the backing files and
/// external data file a container opens) is read through a [`Metered`]
/// charging the same budget, so a chain of files is bounded in total.
/// [`Budget::share`] hands out another handle to the same counters, for a
/// layer that opens such a file and only holds a `&Budget`.
#[derive(Debug)]
pub struct Budget {
    shared: Arc<Ledger>,
}

#[derive(Debug)]
struct Ledger {
    bytes: AtomicU64,
    visits: AtomicU64,
    max_bytes: AtomicU64,
    max_visits: u64,
    per_file_byte: AtomicU64,
    hit: AtomicBool,
    failures: AtomicU64,
    first_failure: Mutex<Option<FailedRead>>,
}

/// The budget ran out: the check stops where it is and says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exhausted {
    /// Bytes read so far.
    pub bytes: u64,
    /// Structures visited so far.
    pub visits: u64,
}

/// A read the storage failed (an I/O error, or a file that shrank since
/// it was opened): whatever the layer that asked made of it, the report
/// must say the check is not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRead {
    /// The file read, when it is not the image file itself (a backing
    /// file, an external data file).
    pub file: Option<String>,
    /// Byte offset of the read in that file.
    pub offset: u64,
    /// Bytes asked for.
    pub len: u64,
    /// What failed, as the reader said it.
    pub message: String,
}

impl Budget {
    /// A budget of `max_bytes` read and `max_visits` structures visited.
    pub fn new(max_bytes: u64, max_visits: u64) -> Self {
        Budget {
            shared: Arc::new(Ledger {
                bytes: AtomicU64::new(0),
                visits: AtomicU64::new(0),
                max_bytes: AtomicU64::new(max_bytes),
                max_visits,
                per_file_byte: AtomicU64::new(0),
                hit: AtomicBool::new(false),
                failures: AtomicU64::new(0),
                first_failure: Mutex::new(None),
            }),
        }
    }

    /// A budget that never runs out (tests, embedders that bound work themselves).
    pub fn unlimited() -> Self {
        Budget::new(u64::MAX, u64::MAX)
    }

    /// The same budget, whose byte bound grows by `n` bytes for each byte
    /// of every file that joins the image later ([`Budget::add_file`]).
    #[must_use]
    pub fn per_file_byte(self, n: u64) -> Self {
        self.shared.per_file_byte.store(n, Ordering::Relaxed);
        self
    }

    /// Another handle to these counters: what it charges, this one sees.
    /// A layer given `&Budget` wraps the files it opens itself with it.
    pub fn share(&self) -> Arc<Budget> {
        Arc::new(Budget {
            shared: Arc::clone(&self.shared),
        })
    }

    /// A file of `len` bytes joins the image (a backing file, an external
    /// data file): the byte bound grows by its share, so a sound chain of
    /// large files is never cut short, while each file still costs at most
    /// a fixed multiple of what it holds.
    pub fn add_file(&self, len: u64) {
        let more = len.saturating_mul(self.shared.per_file_byte.load(Ordering::Relaxed));
        // fetch_update's closure never fails: Err is unreachable.
        let _ = self
            .shared
            .max_bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |m| {
                Some(m.saturating_add(more))
            });
    }

    /// Charges `bytes` read and `visits` structures visited; `Err` once
    /// either limit is passed (and from then on).
    pub fn charge(&self, bytes: u64, visits: u64) -> Result<(), Exhausted> {
        let l = &self.shared;
        // Saturating, not wrapping: a charge of everything left (a bound
        // spent elsewhere) must not bring the counter back to small.
        let add = |c: &AtomicU64, n: u64| {
            c.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |x| {
                Some(x.saturating_add(n))
            })
            .map_or(u64::MAX, |x| x.saturating_add(n))
        };
        let b = add(&l.bytes, bytes);
        let v = add(&l.visits, visits);
        if b > l.max_bytes.load(Ordering::Relaxed)
            || v > l.max_visits
            || l.hit.load(Ordering::Relaxed)
        {
            l.hit.store(true, Ordering::Relaxed);
            return Err(Exhausted {
                bytes: b,
                visits: v,
            });
        }
        Ok(())
    }

    /// Whether a limit was passed.
    pub fn exhausted(&self) -> Option<Exhausted> {
        let l = &self.shared;
        l.hit.load(Ordering::Relaxed).then(|| Exhausted {
            bytes: l.bytes.load(Ordering::Relaxed),
            visits: l.visits.load(Ordering::Relaxed),
        })
    }

    /// What was charged so far, `(bytes, visits)`.
    pub fn used(&self) -> (u64, u64) {
        (
            self.shared.bytes.load(Ordering::Relaxed),
            self.shared.visits.load(Ordering::Relaxed),
        )
    }

    /// The limits, `(bytes, visits)`.
    pub fn limits(&self) -> (u64, u64) {
        (
            self.shared.max_bytes.load(Ordering::Relaxed),
            self.shared.max_visits,
        )
    }

    /// Notes a read the storage failed; the first is kept.
    pub fn record_failure(&self, f: FailedRead) {
        let l = &self.shared;
        if l.failures.fetch_add(1, Ordering::Relaxed) == 0
            && let Ok(mut first) = l.first_failure.lock()
        {
            *first = Some(f);
        }
    }

    /// The first read the storage failed, and how many failed in all.
    pub fn failed_reads(&self) -> Option<(FailedRead, u64)> {
        let l = &self.shared;
        let n = l.failures.load(Ordering::Relaxed);
        let first = l.first_failure.lock().ok()?.clone()?;
        Some((first, n))
    }
}

/// A reader that charges every read to a [`Budget`]: wrapped around the
/// image file, it bounds the bytes all layers read together. A read the
/// storage fails ([`ReadErrorKind::Io`]) is also noted in the budget
/// ([`Budget::failed_reads`]), so the report says so even where the layer
/// that asked took it for the end of a structure.
pub struct Metered<R> {
    inner: R,
    budget: Arc<Budget>,
    file: Option<String>,
}

impl<R: ReadAt> Metered<R> {
    /// `inner`, charging reads to `budget`.
    pub fn new(inner: R, budget: Arc<Budget>) -> Self {
        Metered {
            inner,
            budget,
            file: None,
        }
    }

    /// `inner`, a file other than the image file (`file` names it in a
    /// failed read), charging reads to `budget`.
    pub fn named(inner: R, budget: Arc<Budget>, file: impl Into<String>) -> Self {
        Metered {
            inner,
            budget,
            file: Some(file.into()),
        }
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
        self.inner.read_exact_at(offset, buf).inspect_err(|e| {
            if matches!(e.kind, ReadErrorKind::Io(_)) {
                self.budget.record_failure(FailedRead {
                    file: self.file.clone(),
                    offset: e.offset,
                    len: e.len,
                    message: e.to_string(),
                });
            }
        })
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

    #[test]
    fn a_shared_handle_charges_the_same_counters_and_files_grow_the_bound() {
        let b = Budget::new(1000, 10).per_file_byte(2);
        let h = b.share();
        assert!(h.charge(900, 0).is_ok());
        b.add_file(100);
        assert_eq!(h.limits().0, 1200);
        assert!(b.charge(250, 0).is_ok(), "1150 of 1200");
        assert!(h.charge(100, 0).is_err());
        assert!(b.exhausted().is_some());
        // Spending everything saturates; the byte bound is the one named.
        let c = Budget::new(10, 10);
        assert!(c.charge(u64::MAX, 0).is_err());
        assert!(c.charge(5, 0).is_err());
        assert_eq!(c.exhausted().map(|e| e.bytes), Some(u64::MAX));
    }

    struct Failing;
    impl ReadAt for Failing {
        fn len(&self) -> u64 {
            100
        }
        fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
            let n = u64::try_from(buf.len()).unwrap_or(0);
            Err(if offset >= 50 {
                ReadError::new(
                    offset,
                    n,
                    ReadErrorKind::Io(std::io::Error::other("device gone")),
                )
            } else {
                ReadError::new(offset, n, ReadErrorKind::OutOfBounds { len: 100 })
            })
        }
    }

    #[test]
    fn failed_reads_are_noted_bounds_errors_are_not() {
        let b = Arc::new(Budget::unlimited());
        let m = Metered::named(Failing, Arc::clone(&b), "base.qcow2");
        let mut buf = [0u8; 4];
        assert!(m.read_exact_at(10, &mut buf).is_err());
        assert!(b.failed_reads().is_none(), "a bounds error is the layer's");
        assert!(m.read_exact_at(60, &mut buf).is_err());
        assert!(m.read_exact_at(70, &mut buf).is_err());
        let (first, n) = b.failed_reads().unwrap();
        assert_eq!(n, 2);
        assert_eq!((first.offset, first.len), (60, 4));
        assert_eq!(first.file.as_deref(), Some("base.qcow2"));
        assert!(first.message.contains("device gone"), "{}", first.message);
    }
}

//! How `imgcheck compare` reads (issue 18): the second copy's chunk on a
//! helper thread while the first copy's is read, in chunks of at most
//! [`CHUNK`] bytes (the memory a compare holds, whatever the disk's size),
//! with the same divergence as reading one copy after the other. The
//! replicas are testdata/scripts/compare.sh's (qemu-img convert, qemu-io
//! writes, sgdisk, mkfs.ext4).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

use imgcheck::compare::diverge::{CHUNK, diverge, diverge_serial};
use imgcheck::compare::source::Copy;
use imgcheck_core::{ReadAt, ReadError};
use imgcheck_testdata::fixture;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

/// A guest disk that logs each read: its length and the thread it ran on.
struct Logged {
    inner: Arc<dyn ReadAt>,
    log: Arc<Mutex<Vec<(usize, ThreadId)>>>,
}

impl ReadAt for Logged {
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        self.log
            .lock()
            .unwrap()
            .push((buf.len(), std::thread::current().id()));
        self.inner.read_exact_at(offset, buf)
    }
    fn known_zero(&self, offset: u64, len: u64) -> bool {
        self.inner.known_zero(offset, len)
    }
}

type Log = Arc<Mutex<Vec<(usize, ThreadId)>>>;

fn logged(rel: &str) -> (Copy, Log) {
    let path = fixture(rel);
    let mut c = Copy::open(path.to_str().unwrap()).unwrap();
    let log: Log = Arc::default();
    c.disk = Arc::new(Logged {
        inner: Arc::clone(&c.disk),
        log: Arc::clone(&log),
    });
    (c, log)
}

#[test]
fn the_second_copy_is_read_beside_the_first_in_bounded_chunks() {
    let (a, la) = logged("compare/replica1.qcow2");
    let (b, lb) = logged("compare/replica2.qcow2");
    let here = std::thread::current().id();
    let d = diverge(&a, &b);
    let (ra, rb) = (la.lock().unwrap().clone(), lb.lock().unwrap().clone());
    assert!(!ra.is_empty() && !rb.is_empty(), "both copies are read");
    let most = ra.iter().chain(&rb).map(|(n, _)| *n).max().unwrap();
    assert!(
        most as u64 <= CHUNK,
        "a read of {most} bytes: past the {CHUNK}-byte chunk"
    );
    assert!(
        ra.iter().all(|(_, t)| *t == here),
        "the first copy is read on the caller's thread"
    );
    assert!(
        rb.iter().all(|(_, t)| *t != here),
        "the second copy is read on the helper thread"
    );
    // The same answer as one thread reading both, and the replicas
    // differ where compare.sh wrote into them.
    let s = diverge_serial(&a, &b);
    assert_eq!(
        serde_json::to_string(&d).unwrap(),
        serde_json::to_string(&s).unwrap()
    );
    assert!(!d.identical() && d.differing > 0 && d.read > 0);
    assert_eq!(rb.len(), lb.lock().unwrap().len() / 2, "twice: both runs");
}

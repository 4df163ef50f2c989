//! The lost-partition scan's reads: one probe reads the bytes where the
//! signatures lie at once, not piece by piece (issue 18: a scan over 2 GiB
//! of data made ~28,000 reads through every layer beneath it), and finds
//! what it found before.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

mod common;
use common::Img;
use imgcheck_core::{BytesReader, ReadAt, ReadError};
use imgcheck_gpt::{ScanLimits, scan};
use std::sync::atomic::{AtomicU64, Ordering};

/// A reader that counts the reads asked of it.
struct Counting {
    inner: BytesReader,
    reads: AtomicU64,
}

impl ReadAt for Counting {
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.inner.read_exact_at(offset, buf)
    }
}

#[test]
fn a_probe_reads_its_window_once_and_finds_the_same_filesystems() {
    // gpt-fs.img (testdata/scripts/gpt.sh: sgdisk, mkfs.ext4, mkfs.xfs,
    // mkswap) with both tables zeroed: only the signatures are left.
    let mut img = Img::fixture("gpt-fs.img");
    img.data[..34 * 512].fill(0);
    let n = img.data.len();
    img.data[n - 33 * 512..].fill(0);
    let r = Counting {
        inner: BytesReader::new(img.data.clone()),
        reads: AtomicU64::new(0),
    };
    let limits = ScanLimits {
        max_probes: 1 << 20,
        time: std::time::Duration::from_secs(60),
    };
    let rec = scan(&r, 512, &limits);
    let reads = r.reads.load(Ordering::Relaxed);
    let kinds: Vec<(u64, &str)> = rec
        .found
        .iter()
        .map(|f| (f.start, f.signature.kind))
        .collect();
    // What gpt.sh put there: ext4 at 1 MiB, XFS at 17 MiB, swap after it.
    assert!(
        kinds.iter().any(|&(s, k)| s == 1 << 20 && k == "ext4"),
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(|&(s, k)| s == 17 << 20 && k == "xfs"),
        "{kinds:?}"
    );
    assert!(kinds.iter().any(|&(_, k)| k == "swap"), "{kinds:?}");
    assert!(rec.probes >= 16, "probes: {}", rec.probes);
    // The window, and the ZFS uberblock ring past it; a signature found
    // reads a few structures more (an XFS AGF, an ext group descriptor).
    assert!(
        reads <= 2 * rec.probes + 16 * kinds.len() as u64,
        "{reads} reads for {} probes",
        rec.probes
    );
}

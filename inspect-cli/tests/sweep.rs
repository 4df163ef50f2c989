//! The deterministic damage sweep: every byte flip listed in
//! testdata/sweep/verdicts.tsv (made by make-verdicts.sh with the peer
//! tools) runs through the whole pipeline in-process. For each: no panic,
//! done within a time bound, and not `clean` wherever the peer noticed the
//! flip. Memory stays bounded across the sweep.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

use imgcheck::options::Options;
use imgcheck::report::Verdict;
use imgcheck_core::{BytesReader, ReadAt, ReadError};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A reader that XORs one byte of another: a flipped copy without copying.
struct Flipped {
    inner: BytesReader,
    offset: u64,
    mask: u8,
}

impl ReadAt for Flipped {
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        self.inner.read_exact_at(offset, buf)?;
        if self.offset >= offset && self.offset < offset + buf.len() as u64 {
            buf[(self.offset - offset) as usize] ^= self.mask;
        }
        Ok(())
    }
}

const PER_RUN_BOUND: Duration = Duration::from_secs(10);

fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn damage_sweep() {
    let tsv =
        std::fs::read_to_string(imgcheck_testdata::root().join("sweep/verdicts.tsv")).unwrap();
    let mut images: BTreeMap<String, BytesReader> = BTreeMap::new();
    let mut per_region: BTreeMap<String, (u32, u32, u32, u32)> = BTreeMap::new();
    let mut misses = Vec::new();
    let mut slowest = Duration::ZERO;
    for line in tsv.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [fixture, _peer, region, offset, mask, noticed] = cols[..] else {
            panic!("bad row {line}")
        };
        let base = images
            .entry(fixture.to_string())
            .or_insert_with(|| {
                BytesReader::new(std::fs::read(imgcheck_testdata::fixture(fixture)).unwrap())
            })
            .clone();
        let file: Arc<dyn ReadAt> = Arc::new(Flipped {
            inner: base,
            offset: offset.parse().unwrap(),
            mask: mask.parse().unwrap(),
        });
        // Every peer checks fully by default, and so does imgcheck.
        let opts = Options {
            image_path: fixture.into(),
            ..Options::default()
        };
        let start = Instant::now();
        let verdict = match imgcheck::pipeline::inspect_reader(fixture, file, None, &opts) {
            Ok(r) => r.verdict(),
            // A fatal error is a clear refusal, never a silent pass.
            Err(_) => Verdict::Damaged,
        };
        let took = start.elapsed();
        slowest = slowest.max(took);
        assert!(
            took < PER_RUN_BOUND,
            "{fixture} {region} +{offset}: took {took:?}"
        );
        let e = per_region.entry(format!("{fixture} {region}")).or_default();
        e.0 += 1;
        if noticed == "1" {
            e.1 += 1;
            if verdict == Verdict::Clean {
                misses.push(format!("{fixture} {region} byte {offset}"));
            } else {
                e.2 += 1;
            }
        } else if verdict != Verdict::Clean {
            e.3 += 1;
        }
    }
    println!(
        "region: flips / peer noticed / imgcheck flagged of those / imgcheck flagged where the peer did not"
    );
    for (k, (n, p, ours, extra)) in &per_region {
        println!("  {k}: {n} / {p} / {ours} / {extra}");
    }
    let rss = peak_rss_kib();
    println!("slowest run {slowest:?}; peak RSS {rss:?} KiB");
    if let Some(kib) = rss {
        assert!(kib < 2 * 1024 * 1024, "peak RSS {kib} KiB");
    }
    assert!(
        misses.is_empty(),
        "{} flips the peer noticed passed as clean:\n{}",
        misses.len(),
        misses.join("\n")
    );
}

//! No panic, hang or unbounded allocation on hostile input: fixtures with
//! random bytes sprayed over their table areas, and pure noise, through
//! `parse`, `check`, `analyze` and `identify_at` (a deterministic stand-in
//! for the fuzz target in gpt/fuzz).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

mod common;
use common::Img;
use imgcheck_core::BytesReader;
use imgcheck_gpt::{ScanLimits, analyze_with, check, identify_at, parse};
use std::time::{Duration, Instant};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: deterministic, good enough to spray bytes.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn sprayed_tables_never_panic_and_stay_bounded() {
    let limits = ScanLimits {
        max_probes: 64,
        time: Duration::from_secs(2),
    };
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let started = Instant::now();
    let mut runs = 0;
    for name in ["gpt-512.img", "gpt-4k.img", "mbr-logical.img", "hybrid.img"] {
        let base = Img::fixture(name);
        // Keep only the table areas (first and last 64 KiB) to stay fast.
        let mut small = base.data[..1 << 20].to_vec();
        small.extend_from_slice(&base.data[base.data.len() - (1 << 20)..]);
        for _ in 0..400 {
            let mut d = small.clone();
            let hits = 1 + rng.next() % 24;
            for _ in 0..hits {
                let region = if rng.next().is_multiple_of(2) {
                    0
                } else {
                    d.len() - 65536
                };
                let at = region + (rng.next() % 65536) as usize;
                let v = rng.next();
                match v % 4 {
                    0 => d[at] ^= 1 << (v % 8),
                    1 => d[at] = 0xFF,
                    2 => {
                        // A plausible-looking u64/u32 field value.
                        let bytes = (rng.next() % 200_000).to_le_bytes();
                        let end = (at + 8).min(d.len());
                        d[at..end].copy_from_slice(&bytes[..end - at]);
                    }
                    _ => d[at] = 0,
                }
            }
            let r = BytesReader::new(d);
            let t = parse(&r);
            let _ = check(&t);
            let _ = t.partitions();
            let _ = t.free_ranges();
            let _ = analyze_with(&r, &limits);
            runs += 1;
        }
    }
    for len in [0usize, 1, 511, 512, 513, 4096, 8191, 70_000] {
        let d: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let r = BytesReader::new(d);
        let _ = analyze_with(&r, &limits);
        let _ = identify_at(&r, 0);
        let _ = identify_at(&r, u64::MAX);
        runs += 1;
    }
    println!(
        "{runs} hostile inputs in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(started.elapsed() < Duration::from_secs(120));
}

#[test]
fn hostile_entry_count_is_capped_before_allocating() {
    let mut i = Img::fixture("gpt-512.img");
    i.hdr(1, 0x50, &u32::MAX.to_le_bytes());
    i.hdr(1, 0x54, &(1u32 << 31).to_le_bytes());
    let t = parse(&BytesReader::new(i.data));
    let p = t.primary.as_ref().unwrap();
    assert!(p.entries.is_none() && p.entries_unread.is_some());
}

//! A longer robustness soak (ignored by default; `cargo test -p
//! imgcheck-ext4 --release --test soak -- --ignored --nocapture`): every
//! e2fsprogs corpus image with random byte damage in its first 256 KiB,
//! checked deep; reports any case slower than a second and fails on a
//! panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

use imgcheck_core::BytesReader;
use imgcheck_ext4::{Options, check};
use std::time::{Duration, Instant};

#[test]
#[ignore = "minutes long; run by hand"]
fn corpus_mutation_soak() {
    let Some(corpus) = imgcheck_testdata::corpus_dir() else {
        println!("skipped: no corpus");
        return;
    };
    let rounds: usize = std::env::var("SOAK_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut slow = Vec::new();
    let mut n = 0;
    let mut dirs: Vec<_> = std::fs::read_dir(corpus.join("e2fsprogs"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let gz = dir.join("image.gz");
        let Ok(out) = std::process::Command::new("gzip")
            .arg("-dc")
            .arg(&gz)
            .output()
        else {
            continue;
        };
        if !out.status.success() {
            continue;
        }
        let base = out.stdout;
        let hot = base.len().min(256 << 10);
        if hot < 4096 {
            continue;
        }
        for _ in 0..rounds {
            let mut img = base.clone();
            for _ in 0..16 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let off = 1024 + (x as usize) % (hot - 1024);
                img[off] ^= (x >> 40) as u8 | 1;
            }
            let r = BytesReader::new(img);
            let t = Instant::now();
            let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                check(
                    &r,
                    &Options {
                        depth: imgcheck_core::Depth::Full,
                    },
                )
            }));
            let dt = t.elapsed();
            assert!(res.is_ok(), "panic on a mutation of {}", dir.display());
            if dt > Duration::from_secs(1) {
                slow.push(format!("{} {dt:?}", dir.display()));
            }
            n += 1;
        }
    }
    println!("{n} mutated images checked; slow: {slow:#?}");
    assert!(slow.is_empty());
}

//! Memory and time on a large filesystem: a 1 TiB sparse ext4 made by
//! mkfs.ext4 (skipped when the tool is missing) is checked at both depths
//! well under 1 GiB of peak RSS. Alone in its test binary, so the peak is
//! this test's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

use imgcheck_core::{FileReader, Severity};
use imgcheck_ext4::{Options, check};
use std::time::Instant;

fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
}

#[test]
fn one_tebibyte_filesystem_in_bounded_memory() {
    let path = std::env::temp_dir().join(format!("imgcheck-ext4-1t-{}.img", std::process::id()));
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(1 << 40).unwrap();
    drop(f);
    let made = std::process::Command::new("mkfs.ext4")
        .args([
            "-q",
            "-F",
            "-E",
            "lazy_itable_init=1,lazy_journal_init=1",
            "-J",
            "size=64",
        ])
        .arg(&path)
        .env("E2FSPROGS_FAKE_TIME", "1763000000")
        .status();
    if !made.is_ok_and(|s| s.success()) {
        let _ = std::fs::remove_file(&path);
        println!("skipped: mkfs.ext4 unavailable or failed");
        return;
    }
    let r = FileReader::open(&path).unwrap();
    let t = Instant::now();
    let default = check(
        &r,
        &Options {
            depth: imgcheck_core::Depth::Quick,
        },
    );
    let t_default = t.elapsed();
    let deep = check(
        &r,
        &Options {
            depth: imgcheck_core::Depth::Full,
        },
    );
    let t_deep = t.elapsed() - t_default;
    let _ = std::fs::remove_file(&path);
    let peak = peak_rss_kib();
    println!("1 TiB ext4: default {t_default:?}, deep {t_deep:?}, peak RSS {peak:?} KiB");
    for rep in [&default, &deep] {
        let bad: Vec<_> = rep
            .findings
            .iter()
            .filter(|f| f.severity >= Severity::Warning)
            .collect();
        assert!(bad.is_empty(), "{bad:#?}");
    }
    assert_eq!(deep.summary.unwrap().groups, 8192);
    if let Some(kib) = peak {
        assert!(kib < 512 * 1024, "peak RSS {kib} KiB");
    }
}

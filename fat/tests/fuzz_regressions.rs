//! Inputs the fuzz target `fat_check` found slow or crashing, kept as
//! regression tests: each (tests/regressions/*.zst) goes through the same
//! boot-sector repair and the same calls as the target, within a time
//! bound far above what they take now.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]
use imgcheck_core::{BytesReader, Depth};
use imgcheck_fat::{MapLimits, Options, Volume, check, probe};
use std::io::Read;
use std::time::{Duration, Instant};

// The same repair as fuzz/fuzz_targets/fat_check.rs.
fn le16(d: &[u8], o: usize) -> u32 {
    u32::from(u16::from_le_bytes([d[o], d[o + 1]]))
}
fn le32(d: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([d[o], d[o + 1], d[o + 2], d[o + 3]])
}
fn put16(d: &mut [u8], o: usize, v: u32) {
    d[o..o + 2].copy_from_slice(&(v as u16).to_le_bytes());
}
fn put32(d: &mut [u8], o: usize, v: u32) {
    d[o..o + 4].copy_from_slice(&v.to_le_bytes());
}

fn repair(d: &mut [u8]) {
    let mut bps = le16(d, 0x0B);
    if ![512, 1024, 2048, 4096].contains(&bps) {
        bps = 512;
        put16(d, 0x0B, bps);
    }
    if !d[0x0D].is_power_of_two() {
        d[0x0D] = 1 << (d[0x0D] & 3);
    }
    let spc = u32::from(d[0x0D]);
    if le16(d, 0x0E) == 0 {
        put16(d, 0x0E, 1);
    }
    let rsvd = le16(d, 0x0E).min(64);
    put16(d, 0x0E, rsvd);
    if !(1..=2).contains(&d[0x10]) {
        d[0x10] = 1 + (d[0x10] & 1);
    }
    let nfats = u32::from(d[0x10]);
    let total = (d.len() as u64 / u64::from(bps)) as u32;
    let fat32 = le16(d, 0x16) == 0 && le32(d, 0x24) != 0;
    if fat32 {
        put16(d, 0x13, 0);
        put32(d, 0x20, total);
        put16(d, 0x11, 0);
        if le32(d, 0x2C) < 2 {
            put32(d, 0x2C, 2);
        }
    } else {
        let mut root = le16(d, 0x11) & !15;
        if root == 0 {
            root = 512;
        }
        put16(d, 0x11, root);
        if total < 65536 {
            put16(d, 0x13, total);
            put32(d, 0x20, 0);
        } else {
            put16(d, 0x13, 0);
            put32(d, 0x20, total);
        }
    }
    let root_secs = (le16(d, 0x11) * 32).div_ceil(bps);
    let mut fs = if fat32 { le32(d, 0x24) } else { le16(d, 0x16) }.clamp(1, 4096);
    for _ in 0..4 {
        let data = total.saturating_sub(rsvd + nfats * fs + root_secs);
        let clusters = data / spc;
        let bits = if fat32 {
            32
        } else if clusters <= 4084 {
            12
        } else {
            16
        };
        let need = ((u64::from(clusters) + 2) * bits)
            .div_ceil(8)
            .div_ceil(u64::from(bps)) as u32;
        if fs >= need {
            break;
        }
        fs = need;
    }
    if fat32 {
        put32(d, 0x24, fs);
    } else {
        put16(d, 0x16, fs.min(0xFFFF));
    }
}

/// The fuzz target's body.
fn body(data: &[u8]) {
    let mut d = data.to_vec();
    if d[d.len() - 1] & 0x80 == 0 {
        repair(&mut d);
    }
    let r = BytesReader::new(d);
    let _ = probe(&r);
    let _ = check(&r, &Options { depth: Depth::Full });
    let _ = check(
        &r,
        &Options {
            depth: Depth::Quick,
        },
    );
    if let Ok(v) = Volume::open(&r) {
        let map = v.file_map(&MapLimits {
            max_files: 4096,
            max_extents: 1 << 16,
        });
        for f in map.files.iter().take(32) {
            if let Ok(Some(e)) = v.lookup(&f.path) {
                let _ = v.read(&e, 1 << 16);
            }
        }
        let _ = v.lookup(r"\EFI\BOOT\BOOTX64.EFI");
    }
}

#[test]
fn fuzz_regressions() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let mut data = Vec::new();
        ruzstd::decoding::StreamingDecoder::new(std::fs::File::open(&p).unwrap())
            .unwrap()
            .read_to_end(&mut data)
            .unwrap();
        let t = Instant::now();
        body(&data);
        // Debug build on a shared machine: the bound is generous; these
        // took 20 s and more under the fuzzer before their fixes.
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{}: {:?}",
            p.display(),
            t.elapsed()
        );
        n += 1;
    }
    assert!(n > 0);
}

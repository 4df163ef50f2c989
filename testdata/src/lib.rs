//! Fixtures for imgcheck's tests: images made by real tools
//! (`make-fixtures.sh`), committed zstd-compressed under `fixtures/`, and
//! helpers that damage a copy at a named structure.
//!
//! ```no_run
//! use imgcheck_testdata::{fixture, damaged, Patch};
//!
//! let clean = fixture("gpt/gpt-two-ext4.img");
//! let bad = damaged("gpt/gpt-two-ext4.img", &[Patch::gpt_primary_header_crc(512)]);
//! assert_ne!(std::fs::read(&clean).unwrap(), std::fs::read(bad.path()).unwrap());
//! ```
//!
//! This is a test-support crate: its functions panic with a clear message
//! when a fixture is missing, since a test cannot go on without it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

pub mod ext4gen;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The `testdata/` directory of the source tree.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The external conformance corpus (`../shared/corpus` beside the checkout),
/// when present. A fresh clone has none: tests that use it must say they
/// skipped.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = root().join("..").join("..").join("shared").join("corpus");
    dir.is_dir().then(|| dir.canonicalize().unwrap_or(dir))
}

/// Path of the decompressed fixture `rel` (e.g. `"gpt/gpt-two-ext4.img"`,
/// committed as `fixtures/gpt/gpt-two-ext4.img.zst`).
///
/// Decompressed once into a cache keyed by the compressed bytes, so stale
/// copies are never used and parallel tests share the work. Treat the file
/// as read-only: use [`damaged`] for a copy to change.
pub fn fixture(rel: &str) -> PathBuf {
    let src = root().join("fixtures").join(format!("{rel}.zst"));
    let compressed = fs::read(&src)
        .unwrap_or_else(|e| panic!("fixture {rel}: cannot read {}: {e}", src.display()));
    let key = fnv1a(&compressed);
    let cache = std::env::temp_dir()
        .join("imgcheck-fixtures")
        .join(format!("{key:016x}"));
    let name = Path::new(rel).file_name().expect("fixture name");
    let out = cache.join(name);
    if out.is_file() {
        return out;
    }
    fs::create_dir_all(&cache).expect("create fixture cache");
    let mut decoder = ruzstd::decoding::StreamingDecoder::new(compressed.as_slice())
        .unwrap_or_else(|e| panic!("fixture {rel}: not a zstd frame: {e}"));
    let mut bytes = Vec::new();
    decoder
        .read_to_end(&mut bytes)
        .unwrap_or_else(|e| panic!("fixture {rel}: zstd decode failed: {e}"));
    // Write then rename: a concurrent test never sees half a file. The
    // temporary name is unique per process and per call, since test
    // threads of one process decompress the same fixture at once.
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = cache.join(format!(
        ".{}.{}.{seq}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    fs::write(&tmp, &bytes).expect("write fixture");
    fs::rename(&tmp, &out).expect("rename fixture");
    out
}

/// The names (relative, without `.zst`) of every fixture under `dir`
/// (e.g. `"qcow2"`), sorted.
pub fn list(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(root().join("fixtures").join(dir))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.strip_suffix(".zst").map(|s| format!("{dir}/{s}"))
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^ bytes.len() as u64
}

/// One precise change to a copy of a fixture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patch {
    /// Write `bytes` at `offset`.
    Bytes {
        /// Byte offset in the file.
        offset: u64,
        /// What to write there.
        bytes: Vec<u8>,
    },
    /// XOR the byte at `offset` with `mask` (a bit flip when one bit is set).
    Xor {
        /// Byte offset in the file.
        offset: u64,
        /// Bits to flip.
        mask: u8,
    },
    /// Zero `len` bytes at `offset` (what a stray `dd if=/dev/zero` does).
    Zero {
        /// Byte offset in the file.
        offset: u64,
        /// How many bytes.
        len: u64,
    },
    /// Cut (or extend with zeros) the file to `len` bytes.
    Truncate {
        /// The new length.
        len: u64,
    },
}

impl Patch {
    /// Write a little-endian u32 at `offset`.
    pub fn le32(offset: u64, v: u32) -> Patch {
        Patch::Bytes {
            offset,
            bytes: v.to_le_bytes().to_vec(),
        }
    }
    /// Write a big-endian u32 at `offset`.
    pub fn be32(offset: u64, v: u32) -> Patch {
        Patch::Bytes {
            offset,
            bytes: v.to_be_bytes().to_vec(),
        }
    }
    /// Write a little-endian u64 at `offset`.
    pub fn le64(offset: u64, v: u64) -> Patch {
        Patch::Bytes {
            offset,
            bytes: v.to_le_bytes().to_vec(),
        }
    }
    /// Write a big-endian u64 at `offset`.
    pub fn be64(offset: u64, v: u64) -> Patch {
        Patch::Bytes {
            offset,
            bytes: v.to_be_bytes().to_vec(),
        }
    }

    /// Corrupt the CRC32 of the primary GPT header (LBA 1) on a disk with
    /// `sector`-byte logical sectors.
    pub fn gpt_primary_header_crc(sector: u64) -> Patch {
        Patch::Xor {
            offset: sector + 0x10,
            mask: 0xff,
        }
    }

    /// Zero the primary GPT header (LBA 1).
    pub fn gpt_primary_header_zero(sector: u64) -> Patch {
        Patch::Zero {
            offset: sector,
            len: sector,
        }
    }

    /// Break the magic of the ext4 superblock of group 0 of a filesystem
    /// that starts at byte `fs_start` of the image.
    pub fn ext4_primary_superblock_magic(fs_start: u64) -> Patch {
        Patch::Bytes {
            offset: fs_start + 1024 + 0x38,
            bytes: vec![0, 0],
        }
    }

    /// Zero the whole ext4 superblock of group 0 (1024 bytes at +1024).
    pub fn ext4_primary_superblock_zero(fs_start: u64) -> Patch {
        Patch::Zero {
            offset: fs_start + 1024,
            len: 1024,
        }
    }

    /// Break the qcow2 magic (`QFI\xfb` at byte 0).
    pub fn qcow2_magic() -> Patch {
        Patch::Bytes {
            offset: 0,
            bytes: b"XXXX".to_vec(),
        }
    }

    fn apply(&self, data: &mut Vec<u8>) {
        match self {
            Patch::Bytes { offset, bytes } => {
                let o = *offset as usize;
                if data.len() < o + bytes.len() {
                    data.resize(o + bytes.len(), 0);
                }
                data[o..o + bytes.len()].copy_from_slice(bytes);
            }
            Patch::Xor { offset, mask } => data[*offset as usize] ^= mask,
            Patch::Zero { offset, len } => {
                let o = (*offset as usize).min(data.len());
                let e = (o + *len as usize).min(data.len());
                data[o..e].fill(0);
            }
            Patch::Truncate { len } => data.resize(*len as usize, 0),
        }
    }
}

/// A damaged copy of a fixture in a private temporary directory, removed
/// when dropped.
#[derive(Debug)]
pub struct Damaged {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Damaged {
    /// Path of the damaged copy.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A copy of fixture `rel` with `patches` applied in order.
pub fn damaged(rel: &str, patches: &[Patch]) -> Damaged {
    let mut data = fs::read(fixture(rel)).expect("read fixture");
    for p in patches {
        p.apply(&mut data);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let name = Path::new(rel).file_name().expect("fixture name");
    let path = dir.path().join(name);
    fs::write(&path, &data).expect("write damaged copy");
    Damaged { _dir: dir, path }
}

/// The bytes a real tool changed on a fixture (rm on a mounted root, mdel
/// on an ESP: testdata/scripts/boot.sh), committed as `fixtures/REL`, one
/// `OFFSET HEX` line per changed run, as patches.
pub fn delta(rel: &str) -> Vec<Patch> {
    // A delta that holds a rewritten XFS log is megabytes of hex that
    // zstd makes kilobytes: those are committed as `<rel>.zst`.
    let plain = root().join("fixtures").join(rel);
    let file = if plain.is_file() { plain } else { fixture(rel) };
    let text = fs::read_to_string(&file).unwrap_or_else(|e| panic!("{rel}: {e}"));
    text.lines()
        .map(|l| {
            let (off, hex) = l.split_once(' ').unwrap();
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            Patch::Bytes {
                offset: off.parse().unwrap(),
                bytes,
            }
        })
        .collect()
}

/// A copy of an arbitrary file (e.g. a qcow2 with its backing files, which
/// must stay side by side) in a private temporary directory.
pub fn copy_into_tempdir(files: &[&Path]) -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = files
        .iter()
        .map(|f| {
            let p = dir.path().join(f.file_name().expect("file name"));
            fs::copy(f, &p).expect("copy");
            p
        })
        .collect();
    (dir, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_apply_precisely() {
        let mut d = vec![0u8; 16];
        Patch::le32(4, 0xdead_beef).apply(&mut d);
        assert_eq!(&d[4..8], &[0xef, 0xbe, 0xad, 0xde]);
        Patch::Xor { offset: 4, mask: 1 }.apply(&mut d);
        assert_eq!(d[4], 0xee);
        Patch::Zero {
            offset: 2,
            len: 100,
        }
        .apply(&mut d);
        assert!(d.iter().all(|&b| b == 0));
        Patch::Truncate { len: 3 }.apply(&mut d);
        assert_eq!(d.len(), 3);
    }
}

//! Generators for the ext4 layer's differential tests, driven by the
//! e2fsprogs tools themselves: a matrix of clean filesystems over mke2fs's
//! option space, the metadata blocks of a filesystem enumerated with
//! dumpe2fs and debugfs, and mutants of those blocks with e2fsck -fn's
//! verdict on each.
//!
//! Everything is deterministic from a seed. The tools must be installed
//! ([`tools::have_e2fsprogs`]); callers skip visibly when they are not.

pub mod layout;
pub mod matrix;
pub mod mutate;
pub mod tools;
pub mod tree;

/// A small deterministic PRNG (splitmix64): the same seed gives the same
/// matrix and the same mutants on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
}

/// A scratch directory for generated images, removed when dropped: in
/// `$IMGCHECK_SCRATCH`, else /dev/shm when it is a writable directory (the
/// tools run several times faster on tmpfs), else the temp dir.
pub fn scratch() -> tempfile::TempDir {
    let candidates = [
        std::env::var_os("IMGCHECK_SCRATCH").map(std::path::PathBuf::from),
        Some(std::path::PathBuf::from("/dev/shm")),
    ];
    for c in candidates.into_iter().flatten() {
        if let Ok(d) = tempfile::Builder::new()
            .prefix("imgcheck-ext4gen-")
            .tempdir_in(&c)
        {
            return d;
        }
    }
    tempfile::tempdir().expect("temp dir")
}

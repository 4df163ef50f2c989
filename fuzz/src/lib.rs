//! Structure-aware fuzzing: real fixtures (made by mkfs, sgdisk, sfdisk)
//! are the starting point, and the fuzzer's input is not bytes but a list
//! of edits at named fields — an MBR entry's start, a GPT header's entry
//! count, an ext4 superblock's block-size log — whose values are chosen
//! to point into the image (at another structure, at the end, at
//! themselves) or to sit at the edges (0, 2^32−1, 2^64−1). Checksums are
//! re-sealed after the edits when the input asks, so a check goes past the
//! checksum into the structure. Random bytes rarely get past a CRC or a
//! magic; these inputs start past them.
//!
//! Images are held sparse (only non-zero 4 KiB chunks) and edits as an
//! overlay, so a disk may claim 2^60 bytes without memory to match.

#![allow(missing_docs)]

use arbitrary::Arbitrary;
use imgcheck_core::{ReadAt, ReadError, ReadErrorKind};
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Arc, OnceLock};

const CHUNK: u64 = 4096;

/// A fixture, decompressed, keeping only its non-zero chunks.
pub struct Base {
    pub name: &'static str,
    pub len: u64,
    chunks: BTreeMap<u64, Box<[u8]>>,
}

impl Base {
    pub fn from_zst(name: &'static str, zst: &[u8]) -> Base {
        let mut bytes = Vec::new();
        if let Ok(mut d) = ruzstd::decoding::StreamingDecoder::new(zst) {
            let _ = d.read_to_end(&mut bytes);
        }
        let mut chunks = BTreeMap::new();
        for (i, c) in bytes.chunks(CHUNK as usize).enumerate() {
            if c.iter().any(|&b| b != 0) {
                chunks.insert(i as u64 * CHUNK, c.to_vec().into_boxed_slice());
            }
        }
        Base { name, len: bytes.len() as u64, chunks }
    }

    fn fill(&self, offset: u64, buf: &mut [u8]) {
        buf.fill(0);
        let end = offset + buf.len() as u64;
        let first = offset - offset % CHUNK;
        for (&at, c) in self.chunks.range(first..end) {
            let s = offset.max(at);
            let e = end.min(at + c.len() as u64);
            if s < e {
                buf[(s - offset) as usize..(e - offset) as usize]
                    .copy_from_slice(&c[(s - at) as usize..(e - at) as usize]);
            }
        }
    }

    fn has_data(&self, offset: u64, len: u64) -> bool {
        let first = offset - offset % CHUNK;
        self.chunks.range(first..offset.saturating_add(len)).next().is_some()
    }
}

/// Declares a lazily decompressed fixture: `fixture!(NAME, "gpt/gpt-512.img")`.
#[macro_export]
macro_rules! fixture {
    ($f:ident, $rel:literal) => {
        fn $f() -> &'static $crate::Base {
            static B: std::sync::OnceLock<$crate::Base> = std::sync::OnceLock::new();
            B.get_or_init(|| {
                $crate::Base::from_zst(
                    $rel,
                    include_bytes!(concat!("../../testdata/fixtures/", $rel, ".zst")),
                )
            })
        }
    };
}

/// A base image with edits laid over it and a length of its own (longer
/// than the base reads as zeros past it, shorter truncates).
#[derive(Clone)]
pub struct Disk {
    base: &'static Base,
    len: u64,
    patches: Vec<(u64, Vec<u8>)>,
}

impl Disk {
    pub fn new(base: &'static Base) -> Disk {
        Disk { base, len: base.len, patches: Vec::new() }
    }

    pub fn set_len(&mut self, len: u64) {
        self.len = len;
    }

    pub fn base_len(&self) -> u64 {
        self.base.len
    }

    /// Writes `data` at `offset` (past the end is dropped silently: the
    /// edit pointed outside the disk).
    pub fn write(&mut self, offset: u64, data: &[u8]) {
        if data.is_empty() || self.patches.len() >= 256 {
            return;
        }
        let Some(end) = offset.checked_add(data.len() as u64) else { return };
        if end > self.len {
            return;
        }
        self.patches.push((offset, data.to_vec()));
    }

    pub fn put_le(&mut self, offset: u64, width: usize, v: u64) {
        let b = v.to_le_bytes();
        self.write(offset, &b[..width.min(8)]);
    }

    pub fn put_be(&mut self, offset: u64, width: usize, v: u64) {
        let b = v.to_be_bytes();
        self.write(offset, &b[8 - width.min(8)..]);
    }

    /// `len` bytes at `offset`, zeros where nothing is (an overlay read
    /// without bounds errors, for the edit and re-seal code).
    pub fn get(&self, offset: u64, len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        let _ = self.read_exact_at(offset, &mut b).or_else(|_| {
            // Partly past the end: fill what is there.
            let n = self.len.saturating_sub(offset).min(len as u64) as usize;
            self.read_exact_at(offset, &mut b[..n])
        });
        b
    }

    pub fn le(&self, offset: u64, width: usize) -> u64 {
        let b = self.get(offset, width.min(8));
        let mut a = [0u8; 8];
        a[..b.len()].copy_from_slice(&b);
        u64::from_le_bytes(a)
    }
}

impl ReadAt for Disk {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let n = buf.len() as u64;
        match offset.checked_add(n) {
            Some(end) if end <= self.len => {}
            _ => {
                return Err(ReadError::new(offset, n, ReadErrorKind::OutOfBounds { len: self.len }));
            }
        }
        let end = offset + n;
        if offset < self.base.len {
            let m = (self.base.len.min(end) - offset) as usize;
            self.base.fill(offset, &mut buf[..m]);
            buf[m..].fill(0);
        } else {
            buf.fill(0);
        }
        for (at, data) in &self.patches {
            let pe = at + data.len() as u64;
            let s = offset.max(*at);
            let e = end.min(pe);
            if s < e {
                buf[(s - offset) as usize..(e - offset) as usize]
                    .copy_from_slice(&data[(s - at) as usize..(e - at) as usize]);
            }
        }
        Ok(())
    }

    fn known_zero(&self, offset: u64, len: u64) -> bool {
        let Some(end) = offset.checked_add(len) else { return false };
        if end > self.len {
            return false;
        }
        let base = offset < self.base.len && self.base.has_data(offset, len.min(self.base.len - offset));
        !base && !self.patches.iter().any(|(at, d)| *at < end && at + d.len() as u64 > offset)
    }
}

/// A value for a field: the edges, small numbers, and places in the image
/// (in the unit the field counts in — bytes, sectors or blocks — given by
/// the caller's `unit`).
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Value {
    Zero,
    One,
    Small(u8),
    Max32,
    Max32Minus(u8),
    Max64,
    Max64Minus(u8),
    Pow2(u8),
    /// The end of the disk, in units, minus a little.
    EndMinus(u8),
    /// The end of the base image in units plus a little (just past it).
    BasePlus(u8),
    /// One of the anchors the target knows (structure offsets, in units).
    Anchor(u8),
    /// An anchor plus a little.
    AnchorPlus(u8, u8),
    Raw(u64),
}

impl Value {
    /// The number: `unit` is the field's unit in bytes, `anchors` byte
    /// offsets of structures the target knows.
    pub fn resolve(self, disk: &Disk, unit: u64, anchors: &[u64]) -> u64 {
        let unit = unit.max(1);
        let anchor = |i: u8| anchors.get(i as usize % anchors.len().max(1)).copied().unwrap_or(0) / unit;
        match self {
            Value::Zero => 0,
            Value::One => 1,
            Value::Small(n) => u64::from(n),
            Value::Max32 => u64::from(u32::MAX),
            Value::Max32Minus(n) => u64::from(u32::MAX - u32::from(n)),
            Value::Max64 => u64::MAX,
            Value::Max64Minus(n) => u64::MAX - u64::from(n),
            Value::Pow2(n) => 1u64 << (n % 64),
            Value::EndMinus(n) => (disk.len() / unit).saturating_sub(u64::from(n)),
            Value::BasePlus(n) => (disk.base_len() / unit).saturating_add(u64::from(n)),
            Value::Anchor(i) => anchor(i),
            Value::AnchorPlus(i, n) => anchor(i).saturating_add(u64::from(n)),
            Value::Raw(v) => v,
        }
    }
}

/// The disk's length: as the base, or changed.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Length {
    Same,
    Truncated(u16),
    Sectors(u32),
    Huge(u8),
}

impl Length {
    pub fn apply(self, disk: &mut Disk) {
        let base = disk.base_len();
        let len = match self {
            Length::Same => base,
            // Cut to a fraction of the base (in 1/65536ths).
            Length::Truncated(f) => base / 65536 * u64::from(f),
            Length::Sectors(n) => u64::from(n) * 512,
            Length::Huge(s) => 1u64 << (32 + s % 30),
        };
        disk.set_len(len);
    }
}

/// A raw patch: a few bytes at a value-chosen offset (the dictionary's
/// tokens land here).
#[derive(Arbitrary, Debug, Clone)]
pub struct Bytes {
    pub at: Value,
    pub data: Vec<u8>,
}

impl Bytes {
    pub fn apply(&self, disk: &mut Disk, anchors: &[u64]) {
        let at = self.at.resolve(disk, 1, anchors);
        let data: Vec<u8> = self.data.iter().copied().take(64).collect();
        disk.write(at, &data);
    }
}

/// crc32 (GPT).
pub fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

/// ext4's raw crc32c (no final inversion), chained by seed.
pub fn crc32c_raw(seed: u32, data: &[u8]) -> u32 {
    !crc32c::crc32c_append(!seed, data)
}

/// An `Arc<dyn ReadAt>` of the disk, for the pipeline.
pub fn shared(disk: Disk) -> Arc<dyn ReadAt> {
    Arc::new(disk)
}

pub mod ext4;
pub mod mbr;
pub mod gpt;

#[allow(dead_code)]
static _KEEP: OnceLock<()> = OnceLock::new();

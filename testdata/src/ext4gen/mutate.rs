//! Mutants of an image's metadata: bit flips, byte and word overwrites
//! and zeroed blocks, drawn from a seed over the regions a [`Layout`]
//! enumerates.

use super::Rng;
use super::layout::{Layout, Region};

/// One change to one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Flip bit `bit` of the byte at `off`.
    BitFlip {
        /// Byte offset in the image.
        off: u64,
        /// Bit 0–7.
        bit: u8,
    },
    /// Overwrite the byte at `off`.
    Byte {
        /// Byte offset in the image.
        off: u64,
        /// The new value.
        val: u8,
    },
    /// Overwrite the 4 bytes at `off` (little-endian `val`).
    Word {
        /// Byte offset in the image.
        off: u64,
        /// The new value.
        val: u32,
    },
    /// Zero `len` bytes at `off` (a whole block or structure).
    Zero {
        /// Byte offset in the image.
        off: u64,
        /// How many bytes.
        len: u64,
    },
}

/// A mutant: which base image, what it damages and how.
#[derive(Debug, Clone)]
pub struct Mutant {
    /// Index of the base image.
    pub base: usize,
    /// The region's kind.
    pub kind: &'static str,
    /// The region, in words.
    pub what: String,
    /// The region's first byte.
    pub start: u64,
    /// The change.
    pub op: Op,
}

impl Mutant {
    /// The bytes to write and where: (offset, new bytes) against `image`.
    pub fn patch(&self, image: &[u8]) -> (u64, Vec<u8>) {
        let get = |o: u64| {
            usize::try_from(o)
                .ok()
                .and_then(|o| image.get(o).copied())
                .unwrap_or(0)
        };
        match self.op {
            Op::BitFlip { off, bit } => (off, vec![get(off) ^ (1 << bit)]),
            Op::Byte { off, val } => (off, vec![val]),
            Op::Word { off, val } => (off, val.to_le_bytes().to_vec()),
            Op::Zero { off, len } => (off, vec![0; usize::try_from(len).unwrap_or(0)]),
        }
    }

    /// What the mutation did, for a report line.
    pub fn describe(&self) -> String {
        let rel = |o: u64| o.saturating_sub(self.start);
        let op = match self.op {
            Op::BitFlip { off, bit } => format!("bit {bit} of byte {:#x}", rel(off)),
            Op::Byte { off, val } => format!("byte {:#x} := {val:#04x}", rel(off)),
            Op::Word { off, val } => format!("word {:#x} := {val:#010x}", rel(off)),
            Op::Zero { len, .. } => format!("zeroed {len} bytes"),
        };
        format!("{} ({}): {op}", self.kind, self.what)
    }
}

/// Whether applying `(off, bytes)` to `image` changes anything.
fn changes(image: &[u8], off: u64, bytes: &[u8]) -> bool {
    let Ok(o) = usize::try_from(off) else {
        return false;
    };
    match image.get(o..o.saturating_add(bytes.len())) {
        Some(old) => old != bytes,
        None => false,
    }
}

fn pick_offset(rng: &mut Rng, r: &Region, width: u64) -> u64 {
    let span = if rng.below(100) < 80 { r.hot } else { r.len };
    let span = span.saturating_sub(width - 1).max(1);
    r.start + rng.below(span)
}

/// `n` mutants over `bases` (their layouts and bytes) from `seed`: a base
/// in turn, a kind uniformly among those it has, a region of that kind,
/// then the change. Changes that would leave the bytes as they are are
/// drawn again.
pub fn mutants(bases: &[(&Layout, &[u8])], n: usize, seed: u64) -> Vec<Mutant> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(n);
    let kinds: Vec<Vec<&'static str>> = bases.iter().map(|(l, _)| l.kinds()).collect();
    let mut tries = 0usize;
    while out.len() < n && tries < n * 20 {
        tries += 1;
        let b = out.len() % bases.len().max(1);
        let Some(&(layout, image)) = bases.get(b) else {
            break;
        };
        let ks = &kinds[b];
        if ks.is_empty() {
            continue;
        }
        let kind = ks[usize::try_from(rng.below(ks.len() as u64)).unwrap()];
        let of_kind: Vec<&Region> = layout.regions.iter().filter(|r| r.kind == kind).collect();
        let r = of_kind[usize::try_from(rng.below(of_kind.len() as u64)).unwrap()];
        let roll = rng.below(100);
        let op = if roll < 40 {
            Op::BitFlip {
                off: pick_offset(&mut rng, r, 1),
                bit: u8::try_from(rng.below(8)).unwrap(),
            }
        } else if roll < 65 {
            Op::Byte {
                off: pick_offset(&mut rng, r, 1),
                val: u8::try_from(rng.below(256)).unwrap(),
            }
        } else if roll < 85 {
            let off = pick_offset(&mut rng, r, 4) & !3;
            let val = match rng.below(4) {
                0 => 0,
                1 => u32::MAX,
                _ => u32::try_from(rng.next_u64() >> 32).unwrap(),
            };
            Op::Word { off, val }
        } else {
            Op::Zero {
                off: r.start,
                len: r.len,
            }
        };
        let m = Mutant {
            base: b,
            kind,
            what: r.what.clone(),
            start: r.start,
            op,
        };
        let (off, bytes) = m.patch(image);
        if !changes(image, off, &bytes) {
            continue;
        }
        out.push(m);
    }
    out
}

#![no_main]
//! Structure-aware: a real XFS filesystem (a committed fixture, made by
//! mkfs.xfs and the kernel) with the input applied as patches to its
//! metadata blocks. The input picks a fixture, then a list of
//! (metadata block, offset in it, operation, value) records; every block
//! is found by its magic, so the patches land in superblocks, AG headers,
//! btree blocks, inodes, directory, attribute and symlink blocks and log
//! records, not in file data. A flag re-seals the CRCs of what was
//! touched, so the verifiers do not stop the checker before the deeper
//! passes (btrees, inodes, directories, link counts, rmap and refcount
//! cross-checks). The image is an overlay: the fixture is read once.
use imgcheck_core::{Depth, ReadAt, ReadError, ReadErrorKind};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use std::sync::OnceLock;

const FIXTURES: &[&str] = &["xfs/v5-4k.img", "xfs/v5-1k.img", "xfs/v4.img", "xfs/v5-dirty.img"];

struct Fixture {
    bytes: Vec<u8>,
    /// (offset, length, CRC offset) of every metadata block found by magic.
    blocks: Vec<(usize, usize, Option<usize>)>,
}

fn be32(b: &[u8], o: usize) -> u32 {
    b.get(o..o + 4).map_or(0, |s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}
fn be16(b: &[u8], o: usize) -> u16 {
    b.get(o..o + 2).map_or(0, |s| u16::from_be_bytes([s[0], s[1]]))
}

fn load(name: &str) -> Fixture {
    let bytes = std::fs::read(imgcheck_testdata::fixture(name)).expect("fixture");
    let bs = be32(&bytes, 4) as usize;
    let sect = be16(&bytes, 0x66) as usize;
    let isize = be16(&bytes, 0x68) as usize;
    let agbytes = be32(&bytes, 0x54) as usize * bs;
    let mut blocks = Vec::new();
    // AG headers
    let mut ag = 0;
    while ag < bytes.len() {
        blocks.push((ag, sect, Some(0xE0)));
        blocks.push((ag + sect, sect, Some(0xD8)));
        blocks.push((ag + 2 * sect, sect, Some(0x138)));
        blocks.push((ag + 3 * sect, sect, Some(0x20)));
        ag += agbytes.max(1 << 20);
    }
    // everything else by magic, a block (or an inode, or a log sector) at a time
    let mut off = 0;
    while off + bs <= bytes.len() {
        let m = be32(&bytes, off);
        let crc = match m {
            0x4142_3342 | 0x4142_3343 | 0x4941_4233 | 0x4649_4233 | 0x524D_4233 | 0x5233_4643 => Some(0x34),
            0x4142_5442 | 0x4142_5443 | 0x4941_4254 | 0x4649_4254 => None,
            0x424D_4133 => Some(0x40),
            0x424D_4150 => None,
            0x5844_4233 | 0x5844_4433 | 0x5844_4633 => Some(4),
            0x5844_3242 | 0x5844_3244 | 0x5844_3246 => None,
            0x5841_524D | 0x5853_4C4D => Some(0x0C),
            _ => match be16(&bytes, off + 8) {
                0x3DF1 | 0x3DFF | 0x3EBE | 0x3BEE => Some(0x0C),
                0xD2F1 | 0xD2FF | 0xFEBE | 0xFBEE => None,
                _ => {
                    // inode chunks: every inode of the block
                    if be16(&bytes, off) == 0x494E && isize > 0 {
                        let v3 = bytes.get(off + 4) == Some(&3);
                        for i in 0..bs / isize {
                            blocks.push((off + i * isize, isize, v3.then_some(0x64)));
                        }
                    } else if m == 0xFEED_BABE {
                        blocks.push((off, 512, None));
                    }
                    off += bs;
                    continue;
                }
            },
        };
        blocks.push((off, bs, crc));
        off += bs;
    }
    Fixture { bytes, blocks }
}

fn fixtures() -> &'static Vec<Fixture> {
    static F: OnceLock<Vec<Fixture>> = OnceLock::new();
    F.get_or_init(|| FIXTURES.iter().map(|n| load(n)).collect())
}

/// The fixture with byte patches over it.
struct Overlay<'a> {
    base: &'a [u8],
    patch: BTreeMap<usize, u8>,
    len: u64,
}

impl ReadAt for Overlay<'_> {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let end = offset.checked_add(buf.len() as u64).filter(|&e| e <= self.len);
        let Some(_) = end else {
            return Err(ReadError::new(offset, buf.len() as u64, ReadErrorKind::OutOfBounds { len: self.len }));
        };
        let o = offset as usize;
        buf.copy_from_slice(&self.base[o..o + buf.len()]);
        for (&k, &v) in self.patch.range(o..o + buf.len()) {
            buf[k - o] = v;
        }
        Ok(())
    }
}

fn crc32c_sealed(block: &[u8], off: usize) -> u32 {
    let c = crc32c::crc32c_append(0, &block[..off]);
    let c = crc32c::crc32c_append(c, &[0; 4]);
    crc32c::crc32c_append(c, &block[off + 4..])
}

fuzz_target!(|data: &[u8]| {
    let Some((&head, ops)) = data.split_first() else { return };
    let fx = &fixtures()[usize::from(head & 3) % FIXTURES.len()];
    let reseal = head & 0x80 != 0;
    let quick = head & 0x40 != 0;
    let truncate = head & 0x20 != 0;
    let mut patch = BTreeMap::new();
    let mut touched = Vec::new();
    for op in ops.chunks_exact(6).take(64) {
        let (off, len, crc) = fx.blocks[usize::from(u16::from_le_bytes([op[0], op[1]])) % fx.blocks.len()];
        let at = off + usize::from(u16::from_le_bytes([op[2], op[3]])) % len;
        let old = *patch.get(&at).unwrap_or(&fx.bytes[at]);
        let new = match op[4] & 3 {
            0 => op[5],
            1 => old ^ op[5],
            2 => old.wrapping_add(op[5]),
            _ => old.wrapping_sub(op[5]),
        };
        patch.insert(at, new);
        touched.push((off, len, crc));
    }
    if reseal {
        for (off, len, crc) in touched {
            let Some(c) = crc else { continue };
            let mut blk = fx.bytes[off..off + len].to_vec();
            for (&k, &v) in patch.range(off..off + len) {
                blk[k - off] = v;
            }
            for (i, b) in crc32c_sealed(&blk, c).to_le_bytes().into_iter().enumerate() {
                patch.insert(off + c + i, b);
            }
        }
    }
    let mut len = fx.bytes.len() as u64;
    if truncate {
        len = len * u64::from(ops.first().copied().unwrap_or(0)) / 256;
    }
    let img = Overlay { base: &fx.bytes, patch, len };
    let depth = if quick { Depth::Quick } else { Depth::Full };
    let _ = imgcheck_xfs::check(&img, &imgcheck_xfs::Options { depth });
});

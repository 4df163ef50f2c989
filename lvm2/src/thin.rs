//! Thin-pool metadata (the kernel's `dm-thin-metadata.c` and
//! `persistent-data/`): 4 KiB blocks, each with a crc32c checksum XORed
//! with a per-kind constant; the superblock names the two-level mapping
//! btree (thin device id → that device's btree of virtual block →
//! `data_block << 24 | time`). Lookups walk the btree per read, bounded
//! in depth and checked block by block; an unprovisioned block reads as
//! zeros, as dm-thin returns it.

use crate::crc::crc32c_raw;
use imgcheck_core::bytes::{le32, le64, u64_of};
use imgcheck_core::{ReadAt, ReadError, ReadErrorKind, read_vec};
use serde::Serialize;
use std::sync::{Arc, Mutex};

/// Metadata block size.
pub const BLOCK: u64 = 4096;
/// `THIN_SUPERBLOCK_MAGIC`.
pub const THIN_MAGIC: u64 = 27_022_010;
/// `SUPERBLOCK_CSUM_XOR`.
const SUPERBLOCK_CSUM_XOR: u32 = 160_774;
/// `BTREE_CSUM_XOR`.
const BTREE_CSUM_XOR: u32 = 121_107;
/// Deepest btree walked (a full 2^64-key tree of 4 KiB nodes is < 10).
pub const MAX_BTREE_DEPTH: usize = 16;
const INTERNAL_NODE: u32 = 1;
const LEAF_NODE: u32 = 2;
const NODE_HEADER: usize = 32;

/// The pool's superblock, as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThinSuperblock {
    /// Checksum good.
    pub csum_ok: bool,
    /// Magic good.
    pub magic_ok: bool,
    /// `version`.
    pub version: u32,
    /// `trans_id` (LVM's transaction_id).
    pub trans_id: u64,
    /// Root of the device → mapping btree.
    pub data_mapping_root: u64,
    /// Root of the device details btree.
    pub device_details_root: u64,
    /// Data block size in sectors (LVM's chunk_size).
    pub data_block_size: u32,
    /// Metadata blocks.
    pub metadata_nr_blocks: u64,
}

/// A pool: its metadata and data LVs.
pub struct ThinPool {
    meta: Arc<dyn ReadAt>,
    data: Arc<dyn ReadAt>,
    /// The superblock.
    pub sb: ThinSuperblock,
    /// Data block size in bytes.
    pub block: u64,
    /// LVM's transaction id for the pool.
    pub lvm_transaction_id: u64,
}

impl std::fmt::Debug for ThinPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThinPool")
            .field("sb", &self.sb)
            .finish_non_exhaustive()
    }
}

/// Reads and checks the superblock alone (for findings).
pub fn superblock(meta: &dyn ReadAt) -> Result<ThinSuperblock, String> {
    let b = read_vec(meta, 0, BLOCK, BLOCK).map_err(|e| format!("superblock unreadable: {e}"))?;
    Ok(ThinSuperblock {
        csum_ok: le32(&b, 0) == crc32c_raw(!0, b.get(4..).unwrap_or(&[])) ^ SUPERBLOCK_CSUM_XOR,
        magic_ok: le64(&b, 32) == THIN_MAGIC,
        version: le32(&b, 40),
        trans_id: le64(&b, 48),
        data_mapping_root: le64(&b, 320),
        device_details_root: le64(&b, 328),
        data_block_size: le32(&b, 336),
        metadata_nr_blocks: le64(&b, 344),
    })
}

impl ThinPool {
    /// Opens the pool; `block` is LVM's chunk size in bytes, which must
    /// equal the superblock's.
    pub fn open(
        meta: Arc<dyn ReadAt>,
        data: Arc<dyn ReadAt>,
        block: u64,
        lvm_transaction_id: u64,
    ) -> Result<ThinPool, String> {
        let sb = superblock(meta.as_ref())?;
        if !sb.magic_ok {
            return Err("metadata superblock magic is not 27022010".into());
        }
        if !sb.csum_ok {
            return Err("metadata superblock checksum does not match".into());
        }
        if u64::from(sb.data_block_size).saturating_mul(512) != block || block == 0 {
            return Err(format!(
                "data block size {} sectors in the superblock, chunk_size {} sectors in the LVM metadata",
                sb.data_block_size,
                block / 512
            ));
        }
        Ok(ThinPool {
            meta,
            data,
            sb,
            block,
            lvm_transaction_id,
        })
    }

    fn node(&self, blocknr: u64) -> Result<Vec<u8>, String> {
        let nr = self.sb.metadata_nr_blocks.min(self.meta.len() / BLOCK);
        if blocknr == 0 || blocknr >= nr {
            return Err(format!(
                "btree block {blocknr} is outside the {nr} metadata blocks"
            ));
        }
        let b = read_vec(
            self.meta.as_ref(),
            blocknr.saturating_mul(BLOCK),
            BLOCK,
            BLOCK,
        )
        .map_err(|e| format!("btree block {blocknr}: {e}"))?;
        if le32(&b, 0) != crc32c_raw(!0, b.get(4..).unwrap_or(&[])) ^ BTREE_CSUM_XOR {
            return Err(format!("btree block {blocknr}: checksum does not match"));
        }
        if le64(&b, 8) != blocknr {
            return Err(format!(
                "btree block {blocknr} says it is block {}",
                le64(&b, 8)
            ));
        }
        Ok(b)
    }

    /// The u64 value of `key` in the btree at `root`, `None` when absent.
    pub fn lookup(&self, root: u64, key: u64) -> Result<Option<u64>, String> {
        let mut at = root;
        for _ in 0..MAX_BTREE_DEPTH {
            let b = self.node(at)?;
            let flags = le32(&b, 4);
            let nr = usize::try_from(le32(&b, 16)).unwrap_or(usize::MAX);
            let max = usize::try_from(le32(&b, 20)).unwrap_or(usize::MAX);
            let vsize = usize::try_from(le32(&b, 24)).unwrap_or(usize::MAX);
            let fits = max
                .checked_mul(vsize.saturating_add(8))
                .and_then(|n| n.checked_add(NODE_HEADER))
                .is_some_and(|n| n <= b.len());
            if nr > max || !fits || vsize < 8 {
                return Err(format!(
                    "btree block {at}: {nr} of {max} entries of {vsize}-byte values do not fit"
                ));
            }
            let key_at = |i: usize| le64(&b, NODE_HEADER.saturating_add(i.saturating_mul(8)));
            // lower_bound: the last entry whose key is <= key.
            let i = (0..nr)
                .collect::<Vec<_>>()
                .partition_point(|&i| key_at(i) <= key);
            let Some(i) = i.checked_sub(1) else {
                return Ok(None);
            };
            let values = NODE_HEADER.saturating_add(max.saturating_mul(8));
            let v = le64(&b, values.saturating_add(i.saturating_mul(vsize)));
            if flags & INTERNAL_NODE != 0 {
                at = v;
            } else if flags & LEAF_NODE != 0 {
                return Ok((key_at(i) == key).then_some(v));
            } else {
                return Err(format!(
                    "btree block {at}: flags {flags:#x} are neither internal nor leaf"
                ));
            }
        }
        Err(format!("btree deeper than {MAX_BTREE_DEPTH} levels"))
    }
}

/// A thin LV's bytes.
pub struct ThinDevice {
    pool: Arc<ThinPool>,
    device_id: u64,
    root: u64,
    len: u64,
    last: Mutex<Option<(u64, Option<u64>)>>,
}

impl ThinDevice {
    /// Device `device_id` of `pool`, `len` bytes long.
    pub fn open(pool: Arc<ThinPool>, device_id: u64, len: u64) -> Result<ThinDevice, String> {
        let root = pool
            .lookup(pool.sb.data_mapping_root, device_id)?
            .ok_or_else(|| format!("device {device_id} is not in the pool's mapping tree"))?;
        Ok(ThinDevice {
            pool,
            device_id,
            root,
            len,
            last: Mutex::new(None),
        })
    }

    fn data_block(&self, vblock: u64) -> Result<Option<u64>, String> {
        if let Ok(g) = self.last.lock()
            && let Some((v, d)) = *g
            && v == vblock
        {
            return Ok(d);
        }
        let d = self.pool.lookup(self.root, vblock)?.map(|v| v >> 24);
        if let Ok(mut g) = self.last.lock() {
            *g = Some((vblock, d));
        }
        Ok(d)
    }
}

impl ReadAt for ThinDevice {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let total = u64_of(buf.len());
        if offset.checked_add(total).is_none_or(|e| e > self.len) {
            return Err(ReadError::new(
                offset,
                total,
                ReadErrorKind::OutOfBounds { len: self.len },
            ));
        }
        let bs = self.pool.block;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset.saturating_add(u64_of(done));
            let vblock = pos.checked_div(bs).unwrap_or(0);
            let within = pos.checked_rem(bs).unwrap_or(0);
            let n = usize::try_from(bs.saturating_sub(within))
                .unwrap_or(usize::MAX)
                .min(buf.len().saturating_sub(done));
            let end = done.saturating_add(n);
            let Some(chunk) = buf.get_mut(done..end) else {
                break;
            };
            let d = self.data_block(vblock).map_err(|m| {
                ReadError::new(
                    pos,
                    u64_of(n),
                    ReadErrorKind::Layer(format!("thin device {}: {m}", self.device_id)),
                )
            })?;
            match d {
                None => chunk.fill(0),
                Some(d) => {
                    let at = d.saturating_mul(bs).saturating_add(within);
                    self.pool.data.read_exact_at(at, chunk).map_err(|e| {
                        ReadError::new(
                            pos,
                            u64_of(n),
                            ReadErrorKind::Layer(format!(
                                "thin device {} block {vblock} → data block {d}: {e}",
                                self.device_id
                            )),
                        )
                    })?;
                }
            }
            done = end;
        }
        Ok(())
    }

    fn known_zero(&self, offset: u64, len: u64) -> bool {
        let bs = self.pool.block;
        let (Some(v), Some(end)) = (offset.checked_div(bs), offset.checked_add(len)) else {
            return false;
        };
        end <= v.saturating_add(1).saturating_mul(bs) && matches!(self.data_block(v), Ok(None))
    }
}

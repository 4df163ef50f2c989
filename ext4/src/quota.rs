//! Quota files (format v2, revision 1: the one mke2fs and the kernel
//! write): the usage recorded per id, read by walking the quota tree.

use crate::blockmap::MapEvent;
use crate::fs::Ext4;
use crate::inode::Inode;
use imgcheck_core::bytes::{le32, le64, usize_of};
use std::collections::{HashMap, HashSet};

/// Quota files larger than this are not read (64 MiB: millions of ids).
const MAX_QUOTA_FILE: u64 = 64 << 20;
/// Quota tree block size, fixed by the format.
const QT_BLOCK: usize = 1024;
/// Depth of the quota radix tree.
const QT_DEPTH: u32 = 4;
/// Size of a v2r1 entry (`struct v2r1_disk_dqblk`).
const ENTRY: usize = 72;
/// Size of a data block header (`struct qt_disk_dqdbheader`).
const DATA_HEADER: usize = 16;

/// Why a quota file's usage was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum QuotaMiss {
    /// Larger than [`MAX_QUOTA_FILE`]: not read (a bound).
    TooLarge,
    /// A block could not be read (already a finding).
    Unreadable,
    /// Not a v2r1 quota file: what is wrong.
    Corrupt(String),
}

/// id → (bytes used, inodes used), or why the file could not be read as a
/// v2r1 quota file.
pub(crate) fn read_usage(fs: &Ext4<'_>, qi: &Inode) -> Result<HashMap<u32, (u64, u64)>, QuotaMiss> {
    if qi.i_size > MAX_QUOTA_FILE {
        return Err(QuotaMiss::TooLarge);
    }
    if qi.i_size == 0 {
        return Err(QuotaMiss::Corrupt("it is empty".into()));
    }
    let mut data = vec![0u8; usize_of(qi.i_size)];
    let bs = fs.bs;
    let mut ok = true;
    fs.map_file(
        qi,
        &mut |e| {
            if let MapEvent::Data {
                lblk, pblk, len, ..
            } = e
            {
                for k in 0..len {
                    let Some(start) = lblk.saturating_add(k).checked_mul(bs) else {
                        continue;
                    };
                    if start >= qi.i_size {
                        break;
                    }
                    match fs.read_block(pblk.saturating_add(k)) {
                        Some(b) => {
                            let s = usize_of(start);
                            let n = b.len().min(data.len().saturating_sub(s));
                            if let (Some(dst), Some(src)) =
                                (data.get_mut(s..s.saturating_add(n)), b.get(..n))
                            {
                                dst.copy_from_slice(src);
                            }
                        }
                        None => ok = false,
                    }
                }
            }
        },
        None,
    );
    if !ok {
        return Err(QuotaMiss::Unreadable);
    }
    // v2 header: magic (per type), version 1.
    let magic = le32(&data, 0);
    if !matches!(magic, 0xD9C0_1F11 | 0xD9C0_1927 | 0xD9C0_3F14) || le32(&data, 4) != 1 {
        return Err(QuotaMiss::Corrupt(format!(
            "header magic {magic:#010x} / version {}",
            le32(&data, 4)
        )));
    }
    // v2_init_io's sanity checks on the info block (after the 8-byte
    // header): dqi_blocks within the file, the free lists within dqi_blocks.
    let blocks = le32(&data, 0x14);
    let (free_blk, free_entry) = (le32(&data, 0x18), le32(&data, 0x1C));
    if u64::from(blocks) > qi.i_size.div_ceil(1024) {
        return Err(QuotaMiss::Corrupt(format!(
            "dqi_blocks {blocks} for a file of {} bytes",
            qi.i_size
        )));
    }
    if free_blk >= blocks || free_entry >= blocks {
        return Err(QuotaMiss::Corrupt(format!(
            "free block {free_blk} / free entry {free_entry} with dqi_blocks {blocks}"
        )));
    }
    let mut out = HashMap::new();
    let mut seen = HashSet::new();
    tree(&data, 1, 0, blocks, &mut seen, &mut out)?;
    Ok(out)
}

fn block(data: &[u8], n: u32) -> Option<&[u8]> {
    let s = usize_of(u64::from(n)).checked_mul(QT_BLOCK)?;
    data.get(s..s.checked_add(QT_BLOCK)?)
}

fn tree(
    data: &[u8],
    blk: u32,
    depth: u32,
    blocks: u32,
    seen: &mut HashSet<(u32, u32)>,
    out: &mut HashMap<u32, (u64, u64)>,
) -> Result<(), QuotaMiss> {
    // Per depth, as e2fsck's report_tree reads a block wherever a tree
    // node names it (a block named at two depths is read as both).
    if blk == 0 || !seen.insert((blk, depth)) {
        return Ok(());
    }
    let Some(b) = block(data, blk) else {
        return Ok(());
    };
    if depth >= QT_DEPTH {
        let mut pos = DATA_HEADER;
        while pos.saturating_add(ENTRY) <= QT_BLOCK {
            let e = b.get(pos..pos.saturating_add(ENTRY)).unwrap_or(&[]);
            if e.iter().any(|&x| x != 0) {
                let id = le32(e, 0);
                let curinodes = le64(e, 24);
                let curspace = le64(e, 48);
                out.insert(id, (curspace, curinodes));
            }
            pos = pos.saturating_add(ENTRY);
        }
        return Ok(());
    }
    for k in 0..QT_BLOCK / 4 {
        let r = le32(b, k.saturating_mul(4));
        if r != 0 {
            // check_reference: every block a tree node names is in the file.
            if r >= blocks {
                return Err(QuotaMiss::Corrupt(format!(
                    "tree block {blk} refers to block {r}, past dqi_blocks {blocks}"
                )));
            }
            tree(data, r, depth.saturating_add(1), blocks, seen, out)?;
        }
    }
    Ok(())
}

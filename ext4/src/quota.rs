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

/// id → (bytes used, inodes used), or None when the file is not a v2r1
/// quota file this reader understands.
pub(crate) fn read_usage(fs: &Ext4<'_>, qi: &Inode) -> Option<HashMap<u32, (u64, u64)>> {
    if qi.i_size == 0 || qi.i_size > MAX_QUOTA_FILE {
        return None;
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
    // v2 header: magic (per type), version 1.
    let magic = le32(&data, 0);
    if !ok || !matches!(magic, 0xD9C0_1F11 | 0xD9C0_1927 | 0xD9C0_3F14) || le32(&data, 4) != 1 {
        return None;
    }
    let mut out = HashMap::new();
    let mut seen = HashSet::new();
    tree(&data, 1, 0, &mut seen, &mut out);
    Some(out)
}

fn block(data: &[u8], n: u32) -> Option<&[u8]> {
    let s = usize_of(u64::from(n)).checked_mul(QT_BLOCK)?;
    data.get(s..s.checked_add(QT_BLOCK)?)
}

fn tree(
    data: &[u8],
    blk: u32,
    depth: u32,
    seen: &mut HashSet<u32>,
    out: &mut HashMap<u32, (u64, u64)>,
) {
    if blk == 0 || !seen.insert(blk) {
        return;
    }
    let Some(b) = block(data, blk) else { return };
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
        return;
    }
    for k in 0..QT_BLOCK / 4 {
        let r = le32(b, k.saturating_mul(4));
        if r != 0 {
            tree(data, r, depth.saturating_add(1), seen, out);
        }
    }
}

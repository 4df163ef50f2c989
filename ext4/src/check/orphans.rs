//! The orphan list (`s_last_orphan` chained through `i_dtime`) and the
//! orphan file.

use super::Ctx;
use crate::blockmap::MapEvent;
use crate::reads::Miss;
use crate::superblock::{compat, incompat};
use crate::util::crc32c_raw;
use imgcheck_core::bytes::{bytes, le32, u64_of, usize_of};

/// Orphan-list inodes followed at most.
const MAX_ORPHAN_CHAIN: u32 = 1 << 16;
/// Orphan-file blocks checked at most.
const MAX_ORPHAN_FILE_BLOCKS: u64 = 1 << 12;

pub(super) fn orphans(c: &mut Ctx<'_, '_>) {
    let fs = c.fs;
    let sb = &fs.sb;
    let mut ino = sb.s_last_orphan;
    let mut n = 0u32;
    let first_ino = sb.first_ino();
    let recover = sb.has_incompat(incompat::RECOVER);
    while ino != 0 && n < MAX_ORPHAN_CHAIN {
        if ino < first_ino || ino > sb.s_inodes_count {
            c.error(
                "ext4.orphan.illegal_inode",
                c.sb_at().saturating_add(0xE8),
                format!(
                    "orphan list entry {n} is inode {ino}, outside {first_ino}..={}",
                    sb.s_inodes_count
                ),
            );
            return;
        }
        let Some(i) = fs.read_inode(ino) else { return };
        if i.i_mode == 0 && i.i_links_count == 0 && i.i_dtime == 0 && n > 0 {
            c.error(
                "ext4.orphan.cleared_inode",
                i.offset,
                format!("orphan list entry {n} is inode {ino}, which is unused"),
            );
            return;
        }
        n = n.saturating_add(1);
        ino = i.i_dtime;
    }
    if n >= MAX_ORPHAN_CHAIN {
        c.error(
            "ext4.orphan.loop",
            c.sb_at().saturating_add(0xE8),
            format!("orphan list is longer than {MAX_ORPHAN_CHAIN} inodes (a loop)"),
        );
    }
    if n > 0 {
        c.warning("ext4.orphan.pending", c.sb_at().saturating_add(0xE8), format!("the orphan list holds {n} inode(s) (head {}) that the kernel had not finished deleting or truncating{}", sb.s_last_orphan, if recover { "" } else { " although no journal recovery is pending" }));
    }
    if sb.has_compat(compat::ORPHAN_FILE) {
        orphan_file(c);
    }
}

fn orphan_file(c: &mut Ctx<'_, '_>) {
    let fs = c.fs;
    let sb = &fs.sb;
    let inum = sb.s_orphan_file_inum;
    let read = if inum == 0 {
        Err(Miss::Absent)
    } else {
        fs.inode(inum)
    };
    let oi = match read {
        Ok(i) => i,
        Err(Miss::Absent) => {
            c.error(
                "ext4.orphan_file.missing",
                c.sb_at().saturating_add(0x280),
                format!(
                    "orphan_file is set but s_orphan_file_inum ({inum}) is not a readable inode"
                ),
            );
            return;
        }
        // Logged as ext4.read.unreadable, with its cause.
        Err(Miss::Unreadable(_)) => return,
    };
    if oi.i_links_count == 0 || !oi.is_reg() {
        c.error(
            "ext4.orphan_file.bad_inode",
            oi.offset,
            format!(
                "orphan file inode {inum} is not an in-use regular file (mode {:#o})",
                oi.i_mode
            ),
        );
        return;
    }
    let mut blocks = Vec::new();
    let failed = fs.failed_reads();
    fs.map_file(
        &oi,
        &mut |e| {
            if let MapEvent::Data {
                lblk, pblk, len, ..
            } = e
            {
                for k in 0..len.min(MAX_ORPHAN_FILE_BLOCKS) {
                    if u64_of(blocks.len()) < MAX_ORPHAN_FILE_BLOCKS {
                        blocks.push((lblk.saturating_add(k), pblk.saturating_add(k)));
                    }
                }
            }
        },
        None,
    );
    let nblocks = oi.i_size.checked_div(fs.bs).unwrap_or(0);
    // An unreadable mapping block hides blocks; it does not make a hole.
    let map_complete = fs.failed_reads() == failed;
    if map_complete && u64_of(blocks.len()) < nblocks.min(MAX_ORPHAN_FILE_BLOCKS) {
        c.error(
            "ext4.orphan_file.hole",
            oi.offset,
            format!(
                "orphan file has {} mapped blocks for a size of {} blocks",
                blocks.len(),
                nblocks
            ),
        );
    }
    let seed = fs.file_seed(&oi);
    let per = usize_of(fs.bs.saturating_sub(8) / 4);
    let mut entries = 0u64;
    for (lblk, pblk) in blocks {
        let Some(b) = fs.read_block(pblk) else {
            continue;
        };
        let bs = b.len();
        let magic = le32(&b, bs.saturating_sub(8));
        if magic != 0x0B10_CA04 {
            c.error("ext4.orphan_file.bad_magic", fs.block_offset(pblk).unwrap_or(0), format!("orphan file block {lblk} (block {pblk}) tail magic is {magic:#010x}, expected 0x0b10ca04"));
            continue;
        }
        if sb.metadata_csum() {
            let crc = crc32c_raw(
                crc32c_raw(seed, &pblk.to_le_bytes()),
                bytes(&b, 0, per.saturating_mul(4)),
            );
            let got = le32(&b, bs.saturating_sub(4));
            if crc != got {
                c.error("ext4.orphan_file.checksum", fs.block_offset(pblk).unwrap_or(0), format!("orphan file block {lblk} (block {pblk}) checksum is {got:#010x}, computed {crc:#010x}"));
            }
        }
        entries = entries.saturating_add(u64_of(
            (0..per)
                .filter(|&k| le32(&b, k.saturating_mul(4)) != 0)
                .count(),
        ));
    }
    if entries > 0 {
        c.warning(
            "ext4.orphan_file.pending",
            oi.offset,
            format!("the orphan file holds {entries} inode(s) pending deletion or truncation"),
        );
    }
}

//! Block and inode bitmaps: checksums, the last group's padding, and the
//! descriptors' free counts against the bits.

use super::Ctx;
use crate::fs::Ext4;
use crate::gdt::bg_flags;
use crate::util::crc32c_raw;
use imgcheck_core::bytes::{bytes, u8_at, u64_of, usize_of};

/// Counts zero bits among the first `n` bits of `b`.
pub(crate) fn count_zero_bits(b: &[u8], n: u64) -> u64 {
    let mut zeros = 0u64;
    let full = usize_of(n / 8);
    for &byte in b.iter().take(full) {
        zeros = zeros.saturating_add(u64::from(byte.count_zeros()));
    }
    let rem = n % 8;
    if rem > 0
        && let Some(&byte) = b.get(full)
    {
        for bit in 0..rem {
            if byte >> bit & 1 == 0 {
                zeros = zeros.saturating_add(1);
            }
        }
    }
    zeros
}

/// The first byte from `from` to the end of a bitmap block that is not
/// 0xff: libext2fs' bitmap_tail_verify, which e2fsck's pass 5 reports as
/// padding not set.
fn tail_unset(b: &[u8], from: usize) -> Option<usize> {
    b.iter()
        .enumerate()
        .skip(from)
        .find(|&(_, &x)| x != 0xFF)
        .map(|(k, _)| k)
}

/// Blocks (clusters) that group `g` spans.
pub(crate) fn clusters_in_group(fs: &Ext4<'_>, g: u64) -> u64 {
    let ratio_log = fs
        .sb
        .s_log_cluster_size
        .saturating_sub(fs.sb.s_log_block_size)
        .min(29);
    let blocks = fs
        .group_last_block(g)
        .saturating_add(1)
        .saturating_sub(fs.group_first_block(g));
    blocks >> ratio_log
}

/// Bitmap checksums (metadata_csum) and free counts against the bitmaps.
pub(super) fn bitmaps(c: &mut Ctx<'_, '_>) {
    let fs = c.fs;
    let sb = &fs.sb;
    let mcsum = sb.metadata_csum();
    let ds = sb.desc_size();
    let ipg = u64::from(sb.s_inodes_per_group);
    let cpg = u64::from(sb.s_clusters_per_group);
    // A bitmap block named by two groups is an overlap, which
    // group_descriptors reports; reading it again per group would only
    // repeat that (and a garbage table can name one block a million times).
    let mut seen: std::collections::HashSet<u64> = std::collections::HashSet::new();
    for (gi, gd) in fs.gds.iter().enumerate() {
        let g = u64_of(gi);
        // libext2fs honours an UNINIT flag only in a descriptor whose
        // checksum holds (and only with descriptor checksums at all).
        let uninit_ok = sb.has_group_desc_csum() && gd.computed_checksum == Some(gd.bg_checksum);
        if !(uninit_ok && gd.bg_flags & bg_flags::BLOCK_UNINIT != 0)
            && seen.insert(gd.bg_block_bitmap)
            && let Some(bm) = fs.read_block(gd.bg_block_bitmap)
        {
            if mcsum {
                let crc = crc32c_raw(fs.seed, bytes(&bm, 0, usize_of(cpg / 8)));
                let (want, got) = if ds >= 0x3A {
                    (crc, gd.bg_block_bitmap_csum)
                } else {
                    (crc & 0xFFFF, gd.bg_block_bitmap_csum & 0xFFFF)
                };
                if want != got {
                    c.error("ext4.bitmap.block_checksum", fs.block_offset(gd.bg_block_bitmap).unwrap_or(0), format!("group {g}: block bitmap (block {}) checksum is {got:#x}, computed {want:#x}", gd.bg_block_bitmap));
                }
            }
            let in_group = clusters_in_group(fs, g);
            // The last group's bitmap bits past the filesystem's end must
            // be set (e2fsck pass 5, PR_5_BLOCK_BMAP_PADDING), and so must
            // every bitmap block's bytes past the group's bits.
            let boff = fs.block_offset(gd.bg_block_bitmap).unwrap_or(0);
            if g.saturating_add(1) == fs.groups {
                let unset =
                    (in_group..cpg).find(|&k| u8_at(&bm, usize_of(k / 8)) >> (k % 8) & 1 == 0);
                if let Some(k) = unset {
                    c.warning("ext4.bitmap.block_padding", boff, format!("group {g}: block bitmap padding bit {k} (past the filesystem's last block) is not set"));
                }
            }
            if let Some(k) = tail_unset(&bm, usize_of(cpg / 8)) {
                c.warning("ext4.bitmap.block_padding", boff, format!("group {g}: block bitmap byte {k}, past the group's {cpg} bits, is not 0xff (padding)"));
            }
            let zeros = count_zero_bits(&bm, in_group);
            if zeros != u64::from(gd.bg_free_blocks_count) {
                c.warning(
                    "ext4.group.free_blocks_vs_bitmap",
                    gd.offset,
                    format!(
                        "group {g}: descriptor says {} free blocks, its block bitmap has {zeros}",
                        gd.bg_free_blocks_count
                    ),
                );
            }
        }
        if !(uninit_ok && gd.bg_flags & bg_flags::INODE_UNINIT != 0)
            && seen.insert(gd.bg_inode_bitmap)
            && let Some(im) = fs.read_block(gd.bg_inode_bitmap)
        {
            if mcsum {
                let crc = crc32c_raw(fs.seed, bytes(&im, 0, usize_of(ipg / 8)));
                let (want, got) = if ds >= 0x3C {
                    (crc, gd.bg_inode_bitmap_csum)
                } else {
                    (crc & 0xFFFF, gd.bg_inode_bitmap_csum & 0xFFFF)
                };
                if want != got {
                    c.error("ext4.bitmap.inode_checksum", fs.block_offset(gd.bg_inode_bitmap).unwrap_or(0), format!("group {g}: inode bitmap (block {}) checksum is {got:#x}, computed {want:#x}", gd.bg_inode_bitmap));
                }
            }
            if let Some(k) = tail_unset(&im, usize_of(ipg / 8)) {
                c.warning("ext4.bitmap.inode_padding", fs.block_offset(gd.bg_inode_bitmap).unwrap_or(0), format!("group {g}: inode bitmap byte {k}, past the group's {ipg} bits, is not 0xff (padding)"));
            }
            let zeros = count_zero_bits(&im, ipg);
            if zeros != u64::from(gd.bg_free_inodes_count) {
                c.warning(
                    "ext4.group.free_inodes_vs_bitmap",
                    gd.offset,
                    format!(
                        "group {g}: descriptor says {} free inodes, its inode bitmap has {zeros}",
                        gd.bg_free_inodes_count
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn zero_bits() {
        assert_eq!(count_zero_bits(&[0xFF, 0x0F], 12), 0);
        assert_eq!(count_zero_bits(&[0xFF, 0x0F], 16), 4);
        assert_eq!(count_zero_bits(&[0x00], 3), 3);
    }
}

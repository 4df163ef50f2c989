//! Hashed directories (pass 2): the htree root, interior nodes, their
//! checksums, hash order and which leaves they reference.

use super::Deep;
use crate::blockmap::MapEvent;
use crate::superblock::incompat;
use crate::util::crc32c_raw;
use imgcheck_core::bytes::{bytes, le16, le32, u8_at, u64_of};

impl Deep<'_, '_> {
    pub(super) fn dx_root(&mut self, dir: u32, p: u64) {
        let fs = self.fs;
        let Some(b) = fs.read_block(p) else { return };
        let off = fs.block_offset(p).unwrap_or(0);
        let reserved = le32(&b, 0x18);
        let hash = u8_at(&b, 0x1C);
        let info_len = u8_at(&b, 0x1D);
        let levels = u8_at(&b, 0x1E);
        let max_levels = if fs.sb.has_incompat(incompat::LARGEDIR) {
            3
        } else {
            2
        };
        if le32(&b, 0) != dir || reserved != 0 || info_len != 8 || hash > 6 || levels >= max_levels
        {
            self.error("ext4.htree.bad_root", off, format!("directory {dir}: htree root (block {p}) is invalid (hash version {hash}, info length {info_len}, levels {levels}, reserved {reserved:#x})"));
            return;
        }
        let unsigned = fs.sb.s_flags & 0x2 != 0;
        self.dx_hash.insert(
            dir,
            if hash <= 2 && unsigned {
                hash.saturating_add(3)
            } else {
                hash
            },
        );
        self.dx_leaf_refs.clear();
        let failed = fs.failed_reads();
        let mut nodes = self.dx_node(dir, &b, 0x20, p, u32::from(levels), 0);
        // An interior node the reader failed hides the leaves it lists.
        let index_complete = fs.failed_reads() == failed;
        nodes.sort_unstable();
        let mut refs = std::mem::take(&mut self.dx_leaf_refs);
        refs.sort_unstable();
        let nblocks = self
            .fs
            .read_inode(dir)
            .map_or(0, |i| i.i_size.checked_div(self.fs.bs).unwrap_or(0));
        let mut dupd = None;
        for w in refs.windows(2) {
            if let [a, b2] = w
                && a == b2
            {
                dupd = Some(*a);
            }
        }
        if let Some(x) = dupd {
            self.error(
                "ext4.htree.block_referenced_twice",
                off,
                format!("directory {dir}: htree leaf block {x} is referenced twice"),
            );
        } else if index_complete && nblocks > 0 && nblocks < (1 << 22) {
            let missing = (1..nblocks)
                .find(|l| nodes.binary_search(l).is_err() && refs.binary_search(l).is_err());
            if let Some(l) = missing {
                self.error(
                    "ext4.htree.block_not_referenced",
                    off,
                    format!("directory {dir}: block {l} is not referenced by the htree index"),
                );
            }
        }
        self.dx_nodes.insert(dir, nodes);
    }

    /// Checks a dx node whose count/limit sits at `co`; returns the logical
    /// blocks of the dx nodes (this one's children that are nodes).
    fn dx_node(
        &mut self,
        dir: u32,
        b: &[u8],
        co: usize,
        p: u64,
        levels_below: u32,
        depth: u32,
    ) -> Vec<u64> {
        let fs = self.fs;
        let off = fs.block_offset(p).unwrap_or(0);
        let bs = u64_of(b.len());
        let limit = le16(b, co);
        let count = le16(b, co.saturating_add(2));
        let tail = if fs.sb.metadata_csum() { 8 } else { 0 };
        let want_limit = (bs.saturating_sub(u64_of(co)).saturating_sub(tail)) / 8;
        let mut nodes = vec![0u64];
        if u64::from(limit) != want_limit || count > limit || count == 0 {
            self.error("ext4.htree.bad_limit", off, format!("directory {dir}: htree node (block {p}) has limit {limit}, count {count}; expected limit {want_limit} and 1..=limit entries"));
            return nodes;
        }
        if fs.sb.metadata_csum() {
            let size = co.saturating_add(usize::from(count).saturating_mul(8));
            let t = co.saturating_add(usize::from(limit).saturating_mul(8));
            if let Some(ino) = fs.read_inode(dir) {
                let c1 = crc32c_raw(fs.file_seed(&ino), bytes(b, 0, size));
                let c2 = crc32c_raw(c1, bytes(b, t, 4));
                let want = crc32c_raw(c2, &[0u8; 4]);
                let got = le32(b, t.saturating_add(4));
                if want != got {
                    self.error("ext4.htree.checksum", off, format!("directory {dir}: htree node (block {p}) checksum is {got:#010x}, computed {want:#010x}"));
                }
            }
        }
        let mut prev_hash = 0u32;
        let dir_blocks = self
            .fs
            .read_inode(dir)
            .map_or(0, |i| i.i_size.checked_div(fs.bs).unwrap_or(0));
        for i in 0..usize::from(count) {
            let e = co.saturating_add(i.saturating_mul(8));
            let h = if i == 0 { 0 } else { le32(b, e) };
            let blk = u64::from(le32(b, e.saturating_add(4)) & 0x0FFF_FFFF);
            if i > 1 && h < prev_hash {
                self.error("ext4.htree.hash_order", off, format!("directory {dir}: htree node (block {p}) entry {i} hash {h:#x} is below the previous {prev_hash:#x}"));
                break;
            }
            prev_hash = h;
            if blk >= dir_blocks && dir_blocks > 0 {
                self.error("ext4.htree.bad_block", off, format!("directory {dir}: htree node (block {p}) entry {i} points at logical block {blk}, beyond the directory's {dir_blocks} blocks"));
                continue;
            }
            if levels_below == 0 && self.dx_leaf_refs.len() < (1 << 22) {
                self.dx_leaf_refs.push(blk);
                let node_min = if i == 0 { 0 } else { h & !1 };
                let node_max = if i.saturating_add(1) < usize::from(count) {
                    le32(b, e.saturating_add(8)) & !1
                } else {
                    0xFFFF_FFFE
                };
                self.dx_ranges
                    .entry((dir, blk))
                    .or_insert((node_min, node_max, i == 0));
            }
            if levels_below > 0 && depth < 3 {
                nodes.push(blk);
                // Interior node: fake dirent of rec_len bs, count/limit at 8.
                let pblk = self.dir_pblk(dir, blk);
                if let Some(child) = pblk.and_then(|pb| fs.read_block(pb)) {
                    if le32(&child, 0) != 0
                        || u64_of(super::pass2::rec_len(le16(&child, 4), child.len())) != bs
                    {
                        self.error("ext4.htree.bad_node", off, format!("directory {dir}: htree interior node (logical block {blk}) does not start with an empty entry spanning the block"));
                        continue;
                    }
                    let sub = self.dx_node(
                        dir,
                        &child,
                        8,
                        pblk.unwrap_or(0),
                        levels_below.saturating_sub(1),
                        depth.saturating_add(1),
                    );
                    nodes.extend(sub.into_iter().skip(1));
                }
            }
        }
        nodes
    }

    fn dir_pblk(&self, dir: u32, lblk: u64) -> Option<u64> {
        // dir_blocks was moved out for pass 2; look it up through the inode.
        let ino = self.fs.read_inode(dir)?;
        let mut found = None;
        self.fs.map_file(
            &ino,
            &mut |e| {
                if let MapEvent::Data {
                    lblk: l, pblk, len, ..
                } = e
                    && lblk >= l
                    && lblk < l.saturating_add(len)
                {
                    found = Some(pblk.saturating_add(lblk.saturating_sub(l)));
                }
            },
            None,
        );
        found
    }
}

//! An inode's blocks (e2fsck's check_blocks and process_block): the
//! attribute block, the extent tree or block map walked and every block
//! claimed, size limits per file type, directory blocks remembered for
//! pass 2, quota charged, then i_size and i_blocks held against what the
//! walk found — in clusters, as bigalloc counts them.

use super::xattr::EaQuota;
use super::{Deep, K_DIR, K_LNK, K_REG, MAX_DIR_BLOCKS, Run, SCRATCH_KEEP, kind_of};
use crate::blockmap::MapEvent;
use crate::inode::{EA_INODE_FL, EXTENTS_FL, HUGE_FILE_FL, INDEX_FL, INLINE_DATA_FL, Inode};
use crate::superblock::{incompat, ro_compat};
use imgcheck_core::Finding;
use imgcheck_core::bytes::{le16, le32, u8_at};

/// `i_flags` EXT4_VERITY_FL: the Merkle tree lives past EOF.
const VERITY_FL: u32 = 0x10_0000;
/// `s_creator_os` for GNU Hurd (no i_blocks check).
const OS_HURD: u32 = 1;

/// e2fsck's ext2_max_sizes: the largest block-mapped file, by block size
/// ((12 + a + a² + a³) blocks of a pointers each).
fn max_blockmap_size(bs: u64) -> u64 {
    let a = bs / 4;
    12u64
        .saturating_add(a)
        .saturating_add(a.saturating_mul(a))
        .saturating_add(a.saturating_mul(a).saturating_mul(a))
        .saturating_mul(bs)
}

impl Deep<'_, '_> {
    /// Checks `ino`'s blocks; `ibody` is what its in-inode attributes
    /// charge to it.
    pub(super) fn check_blocks(&mut self, ino: &Inode, ibody: EaQuota) {
        let mut runs = std::mem::take(&mut self.scratch_runs);
        let mut dir_lblks = std::mem::take(&mut self.scratch_dir_lblks);
        runs.clear();
        dir_lblks.clear();
        self.check_blocks_with(ino, ibody, &mut runs, &mut dir_lblks);
        runs.clear();
        runs.shrink_to(SCRATCH_KEEP);
        dir_lblks.clear();
        dir_lblks.shrink_to(SCRATCH_KEEP);
        self.scratch_runs = runs;
        self.scratch_dir_lblks = dir_lblks;
    }

    fn check_blocks_with(
        &mut self,
        ino: &Inode,
        ibody: EaQuota,
        runs: &mut Vec<Run>,
        dir_lblks: &mut Vec<(u64, u64)>,
    ) {
        let fs = self.fs;
        let sb = &fs.sb;
        let n = ino.ino;
        let bs = fs.bs;
        let r = self.ratio.max(1);
        let kind = kind_of(ino.i_mode);
        let is_dir = kind == K_DIR;
        let is_reg = kind == K_REG;
        let inline = ino.i_flags & INLINE_DATA_FL != 0 && sb.has_incompat(incompat::INLINE_DATA);
        let extents = ino.i_flags & EXTENTS_FL != 0 && sb.has_incompat(incompat::EXTENTS);
        // handle_htree's first test, for every inode check_blocks sees.
        if ino.i_flags & INDEX_FL != 0
            && (!is_dir || !sb.has_compat(crate::superblock::compat::DIR_INDEX))
        {
            self.error(
                "ext4.inode.bad_index_flag",
                ino.offset,
                format!(
                    "inode {n} has the htree index flag but is {}",
                    if is_dir {
                        "on a filesystem without dir_index"
                    } else {
                        "not a directory"
                    }
                ),
            );
        }
        // Counted in clusters (blocks without bigalloc).
        let mut num = ibody.blocks.checked_div(r).unwrap_or(0);
        let ea = self.ea_block(ino);
        if let Some(q) = ea {
            num = num.saturating_add(q.blocks.checked_div(r).unwrap_or(0));
        }
        let mut probs: Vec<Finding> = Vec::new();
        let mut overflow = false;
        // A mapping block another inode owns is not walked again (that
        // bounds the work); the blocks below it are then not counted.
        let mut refused = false;
        let failed = fs.failed_reads();
        if !inline && self.has_valid_blocks(ino) {
            let owned = &self.used;
            // The resize inode's indirect blocks are the reserved GDT
            // blocks, metadata by design; with shared_blocks any mapping
            // block may be shared: walk them regardless.
            let resize = n == 7 || sb.has_ro_compat(ro_compat::SHARED_BLOCKS);
            let refused = &mut refused;
            fs.map_file_filtered(
                ino,
                &mut |e| {
                    if runs.len() >= 1 << 20 {
                        overflow = true;
                        return false;
                    }
                    match e {
                        MapEvent::Data {
                            lblk,
                            pblk,
                            len,
                            uninit,
                        } => runs.push((lblk, pblk, len, uninit, 0)),
                        MapEvent::Meta { pblk, level } => {
                            runs.push((0, pblk, 1, false, level.saturating_add(1)));
                            // Claimed before: reported as a duplicate; its
                            // subtree was walked (or refused) once already.
                            if resize || !owned.get(pblk) {
                                return true;
                            }
                            *refused = true;
                            return false;
                        }
                    }
                    true
                },
                Some(&mut probs),
            );
        }
        let complete = fs.failed_reads() == failed && !overflow && !refused;
        let had_probs = !probs.is_empty();
        let pending_trunc = self.orphan_truncate.contains_key(&n);
        for p in probs {
            if p.severity != imgcheck_core::Severity::Error {
                self.out.push(p);
                continue;
            }
            let code = match p.code {
                std::borrow::Cow::Borrowed(c) => c,
                std::borrow::Cow::Owned(_) => "ext4.inode.block_map",
            };
            if pending_trunc && code == "ext4.extent.end_out_of_bounds" {
                self.pending_past_eof = self.pending_past_eof.saturating_add(1);
                continue;
            }
            self.error(code, p.offset, p.message);
        }
        let big_dirs = sb.has_incompat(incompat::LARGEDIR) || le32(&ino.raw, 0x6C) != 0;
        let dir_limit = 1u64 << 21u32.saturating_sub(sb.s_log_block_size.min(21));
        let max_blocks = 1u64 << 31u32.saturating_sub(sb.s_log_block_size.min(31));
        let mut last_block: Option<u64> = None;
        let mut last_init: Option<u64> = None;
        let mut prev_cluster: Option<u64> = None;
        self.own_runs(ino, extents, is_dir, runs);
        for &(lblk, pblk, len, uninit, meta) in runs.iter() {
            if meta > 0 {
                if n == 7 {
                    // The resize inode: only its double-indirect block is
                    // its own; the rest are the reserved GDT blocks.
                    if meta == 3 {
                        self.claim(n, pblk, 1, ino.offset);
                    }
                } else {
                    self.claim(n, pblk, 1, ino.offset);
                }
                num = num.saturating_add(1);
                continue;
            }
            if !extents {
                // process_block's size limits (extents: in the walk).
                let toobig = if is_dir && !big_dirs && lblk > dir_limit {
                    Some("ext4.dir.huge_block")
                } else if (is_dir || is_reg) && num.saturating_add(1) >= max_blocks {
                    Some(if is_dir {
                        "ext4.dir.huge_block"
                    } else {
                        "ext4.inode.too_big"
                    })
                } else if !is_dir && !is_reg && lblk > 0 {
                    Some("ext4.symlink.too_big")
                } else {
                    None
                };
                if let Some(code) = toobig {
                    self.error(code, ino.offset, format!("inode {n} maps logical block {lblk}, beyond what a file of its type may have"));
                    continue;
                }
            }
            if n == 7 {
                num = num.saturating_add(len);
            } else {
                self.claim(n, pblk, len, ino.offset);
                // A cluster shared with the previous run is counted once.
                let c0 = pblk.checked_div(r).unwrap_or(0);
                let c1 = pblk
                    .saturating_add(len)
                    .saturating_sub(1)
                    .checked_div(r)
                    .unwrap_or(0);
                let fresh = c1
                    .saturating_sub(c0)
                    .saturating_add(1)
                    .saturating_sub(u64::from(r > 1 && prev_cluster == Some(c0)));
                num = num.saturating_add(fresh);
                prev_cluster = Some(c1);
            }
            let end = lblk.saturating_add(len).saturating_sub(1);
            last_block = Some(last_block.map_or(end, |l: u64| l.max(end)));
            if !uninit || !extents {
                last_init = Some(last_init.map_or(end, |l: u64| l.max(end)));
            }
            if is_dir {
                for k in 0..len.min(1 << 16) {
                    dir_lblks.push((lblk.saturating_add(k), pblk.saturating_add(k)));
                }
            }
        }
        if overflow {
            self.warning(
                "ext4.check.bound",
                ino.offset,
                format!(
                    "inode {n} maps more than {} runs; the rest of its blocks were not checked",
                    1 << 20
                ),
            );
            return;
        }
        if is_dir && !inline {
            self.remember_dir_blocks(ino, dir_lblks, complete);
            if num == 0 {
                self.error(
                    "ext4.dir.zero_length",
                    ino.offset,
                    format!("directory inode {n} has no blocks"),
                );
            }
        }
        if n != sb.s_prj_quota_inum
            && n != sb.s_orphan_file_inum
            && (n == 2 || n >= sb.first_ino())
            && ino.i_flags & EA_INODE_FL == 0
        {
            let inodes = 1u64
                .saturating_add(ibody.inodes)
                .saturating_add(ea.map_or(0, |q| q.inodes));
            self.quota_add(ino, num.saturating_mul(bs).saturating_mul(r), inodes);
        }
        if !complete {
            return;
        }
        let huge = sb.has_ro_compat(ro_compat::HUGE_FILE);
        let units = if huge && ino.i_flags & HUGE_FILE_FL != 0 {
            num
        } else {
            num.saturating_mul(bs / 512)
        }
        .saturating_mul(r);
        if kind != K_LNK {
            self.size_rules(
                ino,
                is_dir,
                inline,
                extents,
                last_block,
                last_init,
                pending_trunc,
            );
        }
        let disk = u64::from(le32(&ino.raw, 0x1C))
            | if huge {
                u64::from(le16(&ino.raw, 0x74)) << 32
            } else {
                0
            };
        let hi_with_flag = huge && ino.i_flags & HUGE_FILE_FL != 0 && le16(&ino.raw, 0x74) != 0;
        if sb.s_creator_os != OS_HURD && !had_probs && (units != disk || hi_with_flag) {
            self.error(
                "ext4.inode.bad_i_blocks",
                ino.offset,
                format!(
                    "inode {n} has i_blocks {disk}, its blocks and attributes account for {units}"
                ),
            );
        }
        if sb.has_ro_compat(ro_compat::BIGALLOC)
            && (is_reg || is_dir)
            && !extents
            && !inline
            && (n == 2 || n >= sb.first_ino())
            && last_block.is_some()
        {
            self.error(
                "ext4.inode.bigalloc_blockmap",
                ino.offset,
                format!("inode {n} maps its blocks without extents, which bigalloc does not allow"),
            );
        }
    }

    /// e2fsck's bad_size cases: a directory's size against its blocks, a
    /// file's size against its last initialised block and the largest
    /// size its mapping can address.
    #[allow(clippy::too_many_arguments)]
    fn size_rules(
        &mut self,
        ino: &Inode,
        is_dir: bool,
        inline: bool,
        extents: bool,
        last_block: Option<u64>,
        last_init: Option<u64>,
        pending_trunc: bool,
    ) {
        let fs = self.fs;
        let bs = fs.bs;
        let n = ino.ino;
        let size = ino.i_size;
        let blocks_needed = last_block.map_or(0, |l| l.saturating_add(1));
        if is_dir {
            let why = if inline {
                match self.inline_size(ino) {
                    Some(s) if s == size => None,
                    s => Some(format!("its inline data holds {} bytes", s.unwrap_or(0))),
                }
            } else if !size.is_multiple_of(bs) {
                Some(format!("not a multiple of the {bs}-byte block"))
            } else if size.checked_div(bs).unwrap_or(0) > blocks_needed {
                Some(format!(
                    "its blocks end at {}",
                    blocks_needed.saturating_mul(bs)
                ))
            } else if blocks_needed.saturating_sub(size.checked_div(bs).unwrap_or(0))
                > u64::from(u8_at(&fs.sb_raw, 0xCD))
            {
                Some(format!(
                    "its blocks need {}",
                    blocks_needed.saturating_mul(bs)
                ))
            } else {
                None
            };
            if let Some(why) = why {
                self.error(
                    "ext4.dir.bad_size",
                    ino.offset,
                    format!("directory inode {n} has size {size}: {why}"),
                );
            }
            return;
        }
        let verity = ino.i_flags & VERITY_FL != 0;
        if let Some(l) = last_init
            && size < l.saturating_mul(bs)
            && !verity
        {
            let msg = format!("inode {n} has data at logical block {l}, past its size {size}");
            if pending_trunc {
                self.pending_past_eof = self.pending_past_eof.saturating_add(1);
            } else {
                self.error("ext4.inode.blocks_past_eof", ino.offset, msg);
            }
            return;
        }
        let max = if extents {
            (1u64
                << 32u32
                    .saturating_add(fs.sb.s_log_block_size)
                    .saturating_add(10)
                    .min(63))
            .saturating_sub(1)
        } else {
            max_blockmap_size(bs)
        };
        if size > max {
            self.error(
                "ext4.inode.bad_size",
                ino.offset,
                format!(
                    "inode {n} has size {size}, more than the {max} bytes its {} can address",
                    if extents { "extents" } else { "block map" }
                ),
            );
        }
    }

    /// Directory blocks for pass 2, holes noted.
    fn remember_dir_blocks(&mut self, ino: &Inode, dir_lblks: &mut [(u64, u64)], complete: bool) {
        let n = ino.ino;
        dir_lblks.sort_unstable();
        let mut expect = 0u64;
        for &(l, _) in dir_lblks.iter() {
            if l != expect {
                if complete {
                    self.error(
                        "ext4.dir.hole",
                        ino.offset,
                        format!("directory inode {n} has a hole at logical block {expect}"),
                    );
                }
                break;
            }
            expect = expect.saturating_add(1);
        }
        if ino.i_flags & INDEX_FL != 0 {
            self.dx_nodes.insert(n, Vec::new());
        }
        for &(l, p) in dir_lblks.iter() {
            if self.dir_blocks.len() >= MAX_DIR_BLOCKS {
                self.dir_blocks_dropped = true;
                break;
            }
            self.dir_blocks.push((n, l, p));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::max_blockmap_size;

    #[test]
    fn blockmap_limits() {
        assert_eq!(max_blockmap_size(1024), 16_843_020 * 1024);
        assert_eq!(max_blockmap_size(4096), 1_074_791_436 * 4096);
    }
}

//! Extent trees, walked as e2fsck's scan_extent_node walks them through
//! libext2fs' extent handle: headers verified (magic, entries, `eh_max`
//! within two of what fits), the tree's depth against what 2^32 logical
//! blocks need, each entry's start, end and length against its parent's
//! range and the filesystem, leaves against each other, index entries
//! against their child's first extent, node checksums, loops.

use crate::blockmap::MapEvent;
use crate::fs::Ext4;
use crate::inode::Inode;
use crate::util::crc32c_raw;
use imgcheck_core::bytes::{le16, le32, u64_of};
use imgcheck_core::{Finding, Hint, Layer, Space};

/// `ee_len` above this marks an uninitialised extent (EXT_INIT_MAX_LEN).
const INIT_MAX_LEN: u16 = 32768;
/// `i_flags` EXT4_VERITY_FL: the Merkle tree lives past EOF.
const VERITY_FL: u32 = 0x10_0000;

/// Whether a header (in i_block or a block) passes libext2fs'
/// ext2fs_extent_header_verify: magic, entries ≤ max, and max within two
/// entries of what the space holds.
pub(crate) fn header_problem(b: &[u8]) -> Option<String> {
    let magic = le16(b, 0);
    if magic != 0xF30A {
        return Some(format!("magic {magic:#06x}, expected 0xf30a"));
    }
    let (entries, max) = (le16(b, 2), le16(b, 4));
    if entries > max {
        return Some(format!("{entries} entries, more than eh_max {max}"));
    }
    let cap = u64_of(b.len()).saturating_sub(12) / 12;
    if u64::from(max) > cap || u64::from(max) < cap.saturating_sub(2) {
        return Some(format!(
            "eh_max {max}, expected {}..={cap}",
            cap.saturating_sub(2)
        ));
    }
    None
}

/// Whether i_block holds a valid extent tree root.
pub(crate) fn header_ok(i_block: &[u8]) -> bool {
    header_problem(i_block).is_none()
}

/// libext2fs' ext2fs_max_extent_depth: the depth 2^32 logical blocks need.
fn max_tree_depth(bs: u64) -> u64 {
    let per_block = bs.saturating_sub(12) / 12;
    let log2 = |v: u64| u64::from(63u32.saturating_sub(v.max(1).leading_zeros()));
    1u64.saturating_add(
        32u64
            .saturating_sub(log2(4))
            .checked_div(log2(per_block).max(1))
            .unwrap_or(0),
    )
}

/// Where an extent node lives, for messages: formatted only into a
/// finding, not for every node walked.
struct NodeAt(Option<u64>);

impl std::fmt::Display for NodeAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(p) => write!(f, "in block {p}"),
            None => f.write_str("in the inode"),
        }
    }
}

pub(crate) struct ExtentWalk<'a, 'b> {
    pub(crate) fs: &'a Ext4<'b>,
    pub(crate) ino: &'a Inode,
    pub(crate) out: &'a mut Vec<Finding>,
    pub(crate) visit: &'a mut dyn FnMut(MapEvent) -> bool,
    pub(crate) budget: &'a mut u32,
    /// e2fsck's next_lblock: leaves must not overlap earlier leaves.
    pub(crate) next_lblock: u64,
    /// The tree's depth (the root's eh_depth).
    max_depth: u16,
    /// Last logical block within i_size.
    eof_lblk: u64,
    /// Blocks of the nodes on the path from the root (loop detection).
    path: Vec<u64>,
    /// Set when the walk cannot go on (a loop, an empty node): e2fsck's
    /// "failed to iterate extents".
    aborted: bool,
    /// Set when the node budget ran out: the rest was not walked.
    bound_hit: bool,
    /// Entries and capacity per level (e2fsck's extent_tree_level), for
    /// telling a tree that could be narrower or shorter.
    levels: Vec<(u64, u64)>,
    /// A problem was reported (the tree is not judged for shape then).
    problems: bool,
    /// Findings this walk pushed: a tree whose nodes are shared (a DAG)
    /// repeats the same bad leaves for every path to them, so past
    /// [`MAX_WALK_FINDINGS`] the rest is counted, not stored.
    reported: u32,
    /// Problems past the cap, said in one finding at the end.
    unreported: u64,
}

/// Findings one extent walk stores (issue 14: a journal whose extent
/// nodes form a DAG gave millions, and gigabytes, of the same finding).
pub(crate) const MAX_WALK_FINDINGS: u32 = 64;

impl<'a, 'b> ExtentWalk<'a, 'b> {
    pub(crate) fn new(
        fs: &'a Ext4<'b>,
        ino: &'a Inode,
        out: &'a mut Vec<Finding>,
        visit: &'a mut dyn FnMut(MapEvent) -> bool,
        budget: &'a mut u32,
    ) -> Self {
        ExtentWalk {
            fs,
            ino,
            out,
            visit,
            budget,
            next_lblock: 0,
            max_depth: 0,
            eof_lblk: 0,
            path: Vec::new(),
            aborted: false,
            bound_hit: false,
            levels: Vec::new(),
            problems: false,
            reported: 0,
            unreported: 0,
        }
    }

    fn bad(&mut self, code: &'static str, off: u64, msg: String) {
        self.problems = true;
        if self.reported >= MAX_WALK_FINDINGS {
            self.unreported = self.unreported.saturating_add(1);
            // Thousands of problems in one tree: walking on (a DAG can
            // repeat its leaves 2^16 times) only costs time.
            if self.unreported >= u64::from(MAX_WALK_FINDINGS) * 64 {
                self.aborted = true;
            }
            return;
        }
        self.reported = self.reported.saturating_add(1);
        self.out.push(
            Finding::error(code, Layer::EXT4, off, Space::Disk, msg)
                .with_hint(Hint::read_only(crate::E2FSCK_FN)),
        );
    }

    /// Walks the tree rooted in i_block.
    pub(crate) fn run(&mut self) {
        let root = self.ino.i_block;
        let ino = self.ino.ino;
        let off = self.ino.offset.saturating_add(0x28);
        if let Some(why) = header_problem(&root) {
            self.bad(
                "ext4.extent.bad_header",
                off,
                format!("inode {ino}: the extent tree root in the inode is invalid: {why}"),
            );
            return;
        }
        self.max_depth = le16(&root, 6);
        let limit = max_tree_depth(self.fs.bs);
        if u64::from(self.max_depth) > limit {
            self.bad(
                "ext4.extent.bad_depth",
                off,
                format!(
                    "inode {ino}: extent tree depth {} exceeds the {limit} that 2^32 blocks need",
                    self.max_depth
                ),
            );
        }
        let bs = self.fs.bs.max(1);
        let size_blocks = self.ino.i_size.div_ceil(bs);
        self.eof_lblk = size_blocks.wrapping_sub(1);
        self.node(&root, None, 0, 0, 0, size_blocks);
        if !self.aborted && !self.bound_hit && !self.problems {
            self.shape(off);
        }
        if self.unreported > 0 {
            self.out.push(Finding::error(
                "ext4.extent.more_problems",
                Layer::EXT4,
                off,
                Space::Disk,
                format!(
                    "inode {ino}: {} more problems in its extent tree are not listed (the first {MAX_WALK_FINDINGS} are)",
                    self.unreported
                ),
            ));
            self.unreported = 0;
        }
        if self.aborted {
            // Past the cap too: this one says the walk stopped.
            self.reported = 0;
            self.bad(
                "ext4.extent.iterate_failed",
                off,
                format!("inode {ino}: its extent tree cannot be walked to the end"),
            );
        } else if self.bound_hit {
            self.out.push(Finding::warning(
                "ext4.check.bound",
                Layer::EXT4,
                off,
                Space::Disk,
                format!("inode {ino}: its extent tree has more than {} nodes; the rest was not walked, so its blocks were not all checked", crate::blockmap::MAX_EXTENT_NODES),
            ));
        }
    }

    /// e2fsck_should_rebuild_extents: a level with more than a block's
    /// worth of unused room could be narrower, a level holding fewer
    /// entries than a level above could hold could go (PR_1E). Not damage:
    /// e2fsck -fn offers to optimise and exits 0.
    fn shape(&mut self, off: u64) {
        let per_block = self.fs.bs.saturating_sub(12) / 12;
        let ino = self.ino.ino;
        let mut what = None;
        for (i, &(num, max)) in self.levels.iter().enumerate() {
            if max.saturating_sub(num) > per_block {
                what = Some(format!("could be narrower at level {i}"));
                break;
            }
            if self.levels.iter().take(i).any(|&(_, m)| num < m) {
                what = Some(format!("could be one level shorter (level {i})"));
                break;
            }
        }
        if let Some(w) = what {
            self.out.push(Finding::info(
                "ext4.extent.could_optimise",
                Layer::EXT4,
                off,
                Space::Disk,
                format!("inode {ino}: its extent tree {w}; e2fsck offers to rebuild it, which is an optimisation, not a repair"),
            ));
        }
    }

    /// One node (`blk` None for the root), at `level`, for the logical
    /// range `start`..=`end` its parent gives (`end` 0: unbounded), whose
    /// last index ends at `end_blk`.
    fn node(&mut self, b: &[u8], blk: Option<u64>, level: u16, start: u64, end: u64, end_blk: u64) {
        let ino = self.ino.ino;
        let fs = self.fs;
        let off = match blk {
            Some(p) => fs.block_offset(p).unwrap_or(0),
            None => self.ino.offset.saturating_add(0x28),
        };
        let where_ = NodeAt(blk);
        let entries = usize::from(le16(b, 2));
        let is_leaf = level == self.max_depth;
        let fdb = u64::from(fs.sb.s_first_data_block);
        let nblocks = fs.sb.s_blocks_count;
        let is_dir = self.ino.is_dir();
        let big_dirs = fs.sb.has_incompat(crate::superblock::incompat::LARGEDIR)
            || le32(&self.ino.raw, 0x6C) != 0;
        let dir_limit = 1u64 << 21u32.saturating_sub(fs.sb.s_log_block_size.min(21));
        let verity = self.ino.i_flags & VERITY_FL != 0;
        let mut start_block = start;
        let lv = usize::from(level);
        if lv < 8 {
            if self.levels.len() <= lv {
                self.levels.resize(lv.saturating_add(1), (0, 0));
            }
            let max = u64::from(le16(b, 4));
            // A split block keeps one entry free: do not count it as room.
            let room = if blk.is_some() && u64_of(entries) < max {
                max.saturating_sub(1)
            } else {
                max
            };
            if let Some(l) = self.levels.get_mut(lv) {
                *l = (
                    l.0.saturating_add(u64_of(entries)),
                    l.1.saturating_add(room),
                );
            }
        }
        for i in 0..entries {
            if self.aborted || self.bound_hit {
                return;
            }
            let e = 12usize.saturating_add(i.saturating_mul(12));
            let e_lblk = u64::from(le32(b, e));
            let (e_pblk, e_len, uninit) = if is_leaf {
                let raw_len = le16(b, e.saturating_add(4));
                let pblk = u64::from(le32(b, e.saturating_add(8)))
                    | (u64::from(le16(b, e.saturating_add(6))) << 32);
                if raw_len > INIT_MAX_LEN {
                    (pblk, u64::from(raw_len.saturating_sub(INIT_MAX_LEN)), true)
                } else {
                    (pblk, u64::from(raw_len), false)
                }
            } else {
                let pblk = u64::from(le32(b, e.saturating_add(4)))
                    | (u64::from(le16(b, e.saturating_add(8))) << 32);
                let next = if i.saturating_add(1) < entries {
                    u64::from(le32(b, e.saturating_add(12)))
                } else {
                    end_blk
                };
                // libext2fs' e_len is 32 bits: a next start below this one wraps.
                (
                    pblk,
                    u64::from(u32::try_from(next.wrapping_sub(e_lblk) & 0xFFFF_FFFF).unwrap_or(0)),
                    false,
                )
            };
            let last = e_lblk.saturating_add(e_len).wrapping_sub(1);
            let problem: Option<(&'static str, String)> = if e_pblk == 0
                || e_pblk < fdb
                || e_pblk >= nblocks
            {
                Some((
                    "ext4.extent.block_out_of_range",
                    format!(
                        "extent {i} {where_} (logical block {e_lblk}) points at block {e_pblk}, outside the filesystem ({fdb}..{nblocks})"
                    ),
                ))
            } else if e_lblk < start_block {
                Some((
                    "ext4.extent.out_of_order",
                    format!(
                        "extent {i} {where_} starts at logical block {e_lblk}, before {start_block}"
                    ),
                ))
            } else if end != 0 && last > end && !(last > self.eof_lblk && (uninit || verity)) {
                Some((
                    "ext4.extent.end_out_of_bounds",
                    format!(
                        "extent {i} {where_} ends at logical block {last}, past its parent's range ending at {end}"
                    ),
                ))
            } else if is_leaf && e_len == 0 {
                Some((
                    "ext4.extent.zero_length",
                    format!("extent {i} {where_} at logical block {e_lblk} has length 0"),
                ))
            } else if is_leaf && e_pblk.saturating_add(e_len) > nblocks {
                Some((
                    "ext4.extent.block_out_of_range",
                    format!(
                        "extent {i} {where_} maps blocks {e_pblk}..{}, past the filesystem's end at {nblocks}",
                        e_pblk.saturating_add(e_len)
                    ),
                ))
            } else if is_leaf && is_dir && !big_dirs && e_lblk.saturating_add(e_len) > dir_limit {
                Some((
                    "ext4.dir.huge_block",
                    format!(
                        "directory extent {i} {where_} reaches logical block {}, beyond the {dir_limit} blocks a directory may have",
                        e_lblk.saturating_add(e_len)
                    ),
                ))
            } else if is_leaf && e_len > 0 && e_lblk < self.next_lblock {
                Some((
                    "ext4.extent.overlap",
                    format!(
                        "extent {i} {where_} at logical block {e_lblk} overlaps an earlier extent ending at {}",
                        self.next_lblock.saturating_sub(1)
                    ),
                ))
            } else {
                None
            };
            if let Some((code, why)) = problem {
                self.bad(code, off, format!("inode {ino}: {why}"));
                continue;
            }
            if !is_leaf {
                if !(self.visit)(MapEvent::Meta {
                    pblk: e_pblk,
                    level: 0,
                }) {
                    continue;
                }
                if self.path.contains(&e_pblk) || Some(e_pblk) == blk {
                    self.bad("ext4.extent.loop", off, format!("inode {ino}: extent index {i} {where_} points back at node block {e_pblk}"));
                    self.aborted = true;
                    return;
                }
                if *self.budget == 0 {
                    self.bound_hit = true;
                    return;
                }
                *self.budget = self.budget.saturating_sub(1);
                let Some(child) = fs.read_block(e_pblk) else {
                    // Absent or unreadable (logged): nothing below is known.
                    self.aborted = true;
                    return;
                };
                let coff = fs.block_offset(e_pblk).unwrap_or(0);
                if let Some(why) = header_problem(&child) {
                    self.bad("ext4.extent.bad_header", coff, format!("inode {ino}: extent node block {e_pblk} (index {i} {where_}) has an invalid header: {why}"));
                    continue;
                }
                if le16(&child, 2) == 0 {
                    self.bad(
                        "ext4.extent.empty_node",
                        coff,
                        format!("inode {ino}: extent node block {e_pblk} has no entries"),
                    );
                    self.aborted = true;
                    return;
                }
                let cdepth = le16(&child, 6);
                let want = self.max_depth.saturating_sub(level.saturating_add(1));
                if cdepth != want {
                    self.bad("ext4.extent.node_depth", coff, format!("inode {ino}: extent node block {e_pblk} says depth {cdepth}, its place in the tree is depth {want}"));
                }
                if fs.sb.metadata_csum() {
                    let tail = 12usize
                        .saturating_add(12usize.saturating_mul(usize::from(le16(&child, 4))));
                    let want_c =
                        crc32c_raw(fs.file_seed(self.ino), child.get(..tail).unwrap_or(&child));
                    let got = le32(&child, tail);
                    if child.len() >= tail.saturating_add(4) && want_c != got {
                        self.bad("ext4.extent.checksum", coff, format!("inode {ino}: extent block {e_pblk} checksum is {got:#010x}, computed {want_c:#010x}"));
                    }
                }
                let first = u64::from(le32(&child, 12));
                if first != e_lblk {
                    self.bad("ext4.extent.index_start", off, format!("inode {ino}: extent index {i} {where_} says logical block {e_lblk}, its child block {e_pblk} starts at {first}"));
                }
                let child_end_blk = if i.saturating_add(1) < entries {
                    u64::from(le32(b, e.saturating_add(12)))
                } else {
                    end_blk
                };
                self.path.push(e_pblk);
                self.node(
                    &child,
                    Some(e_pblk),
                    level.saturating_add(1),
                    first,
                    last,
                    child_end_blk,
                );
                self.path.pop();
                continue;
            }
            self.next_lblock = self.next_lblock.max(e_lblk.saturating_add(e_len));
            let _ = (self.visit)(MapEvent::Data {
                lblk: e_lblk,
                pblk: e_pblk,
                len: e_len,
                uninit,
            });
            start_block = last;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_depth_limits_match_libext2fs() {
        assert_eq!(max_tree_depth(1024), 6);
        assert_eq!(max_tree_depth(4096), 4);
        assert_eq!(max_tree_depth(65536), 3);
    }

    #[test]
    fn header_max_within_two_of_capacity() {
        let mut b = vec![0u8; 60];
        b[0..2].copy_from_slice(&0xF30Au16.to_le_bytes());
        b[4..6].copy_from_slice(&4u16.to_le_bytes());
        assert!(header_ok(&b));
        b[4..6].copy_from_slice(&2u16.to_le_bytes());
        assert!(header_ok(&b));
        b[4..6].copy_from_slice(&1u16.to_le_bytes());
        assert!(!header_ok(&b));
        b[4..6].copy_from_slice(&5u16.to_le_bytes());
        assert!(!header_ok(&b));
    }
}

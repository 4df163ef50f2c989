//! Extent trees: header, entries, index ranges and node checksums,
//! walked depth first with a node budget.

use crate::blockmap::MapEvent;
use crate::fs::Ext4;
use crate::inode::Inode;
use crate::util::crc32c_raw;
use imgcheck_core::bytes::{le16, le32, u64_of};
use imgcheck_core::{Finding, Hint, Layer, Space};

/// Kernel limit on extent tree depth.
pub const MAX_EXTENT_DEPTH: u16 = 5;

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
    pub(crate) last_lblk: Option<u64>,
}

impl ExtentWalk<'_, '_> {
    fn bad(&mut self, code: &'static str, off: u64, msg: String) {
        self.out.push(
            Finding::error(code, Layer::EXT4, off, Space::Disk, msg)
                .with_hint(Hint::read_only(crate::E2FSCK_FN)),
        );
    }

    /// One node; `blk` is None for the root in i_block. `expect_depth` is
    /// the depth the parent implies; `start`..`end` the logical range the
    /// parent index assigns.
    pub(crate) fn node(
        &mut self,
        b: &[u8],
        blk: Option<u64>,
        expect_depth: Option<u16>,
        start: u64,
        end: u64,
    ) {
        let ino = self.ino.ino;
        let off = match blk {
            Some(p) => self.fs.block_offset(p).unwrap_or(0),
            None => self.ino.offset.saturating_add(0x28),
        };
        let magic = le16(b, 0);
        let entries = le16(b, 2);
        let max = le16(b, 4);
        let depth = le16(b, 6);
        let where_ = NodeAt(blk);
        if magic != 0xF30A {
            self.bad(
                "ext4.extent.bad_magic",
                off,
                format!(
                    "inode {ino}: extent header {where_} has magic {magic:#06x}, expected 0xf30a"
                ),
            );
            return;
        }
        let cap = u64_of(b.len()).saturating_sub(12) / 12;
        if u64::from(max) > cap || max == 0 {
            self.bad(
                "ext4.extent.bad_max",
                off,
                format!("inode {ino}: extent header {where_} has eh_max {max}, at most {cap} fit"),
            );
            return;
        }
        if entries > max {
            self.bad("ext4.extent.too_many_entries", off, format!("inode {ino}: extent header {where_} has {entries} entries, more than eh_max {max}"));
            return;
        }
        if depth > MAX_EXTENT_DEPTH {
            self.bad(
                "ext4.extent.too_deep",
                off,
                format!(
                    "inode {ino}: extent tree depth {depth} exceeds the limit {MAX_EXTENT_DEPTH}"
                ),
            );
            return;
        }
        if let Some(d) = expect_depth
            && d != depth
        {
            self.bad(
                "ext4.extent.bad_depth",
                off,
                format!(
                    "inode {ino}: extent node {where_} has depth {depth}, its parent implies {d}"
                ),
            );
            return;
        }
        if let (Some(_), true) = (blk, self.fs.sb.metadata_csum()) {
            let tail = 12usize.saturating_add(12usize.saturating_mul(usize::from(max)));
            let want = crc32c_raw(self.fs.file_seed(self.ino), b.get(..tail).unwrap_or(b));
            let got = le32(b, tail);
            if b.len() >= tail.saturating_add(4) && want != got {
                self.bad("ext4.extent.checksum", off, format!("inode {ino}: extent block {where_} checksum is {got:#010x}, computed {want:#010x}"));
            }
        }
        let mut prev: Option<u64> = None;
        for i in 0..usize::from(entries) {
            let e = 12usize.saturating_add(i.saturating_mul(12));
            let lblk = u64::from(le32(b, e));
            if let Some(p) = prev
                && lblk <= p
            {
                self.bad("ext4.extent.out_of_order", off, format!("inode {ino}: extent entry {i} {where_} starts at logical block {lblk}, not after the previous one ({p})"));
                return;
            }
            if lblk < start || lblk > end {
                self.bad("ext4.extent.bad_start", off, format!("inode {ino}: extent entry {i} {where_} starts at logical block {lblk}, outside its parent's range {start}..{end}"));
                return;
            }
            prev = Some(lblk);
            let next_start = if i.saturating_add(1) < usize::from(entries) {
                u64::from(le32(b, e.saturating_add(12))).saturating_sub(1)
            } else {
                end
            };
            if depth == 0 {
                let raw_len = le16(b, e.saturating_add(4));
                let (len, uninit) = if raw_len > 32768 {
                    (raw_len.saturating_sub(32768), true)
                } else {
                    (raw_len, false)
                };
                let pblk = u64::from(le32(b, e.saturating_add(8)))
                    | (u64::from(le16(b, e.saturating_add(6))) << 32);
                let len = u64::from(len);
                let fdb = u64::from(self.fs.sb.s_first_data_block);
                if len == 0 {
                    self.bad(
                        "ext4.extent.zero_length",
                        off,
                        format!(
                            "inode {ino}: extent at logical block {lblk} {where_} has length 0"
                        ),
                    );
                    continue;
                }
                if pblk < fdb || pblk.saturating_add(len) > self.fs.sb.s_blocks_count {
                    self.bad("ext4.extent.block_out_of_range", off, format!("inode {ino}: extent at logical block {lblk} maps blocks {pblk}..{}, outside the filesystem ({fdb}..{})", pblk.saturating_add(len), self.fs.sb.s_blocks_count));
                    continue;
                }
                if let Some(l) = self.last_lblk
                    && lblk <= l
                {
                    self.bad("ext4.extent.overlap", off, format!("inode {ino}: extent at logical block {lblk} overlaps the previous extent ending at {l}"));
                }
                self.last_lblk = Some(lblk.saturating_add(len).saturating_sub(1));
                let _ = (self.visit)(MapEvent::Data {
                    lblk,
                    pblk,
                    len,
                    uninit,
                });
            } else {
                let pblk = u64::from(le32(b, e.saturating_add(4)))
                    | (u64::from(le16(b, e.saturating_add(8))) << 32);
                if pblk < u64::from(self.fs.sb.s_first_data_block)
                    || pblk >= self.fs.sb.s_blocks_count
                {
                    self.bad("ext4.extent.block_out_of_range", off, format!("inode {ino}: extent index for logical block {lblk} points at block {pblk}, outside the filesystem"));
                    continue;
                }
                if !(self.visit)(MapEvent::Meta { pblk }) {
                    continue;
                }
                if *self.budget == 0 {
                    return;
                }
                *self.budget = self.budget.saturating_sub(1);
                let Some(child) = self.fs.read_block(pblk) else {
                    continue;
                };
                let child_first = u64::from(le32(&child, 12));
                if le16(&child, 0) == 0xF30A && le16(&child, 2) > 0 && child_first != lblk {
                    self.bad("ext4.extent.index_start", off, format!("inode {ino}: extent index says logical block {lblk}, its child block {pblk} starts at {child_first}"));
                }
                self.node(
                    &child,
                    Some(pblk),
                    Some(depth.saturating_sub(1)),
                    lblk,
                    next_start,
                );
            }
        }
    }
}

//! A file's blocks: the dispatch between extent tree and block map, and
//! the block map (direct and indirect blocks) itself.

use crate::extent::ExtentWalk;
use crate::fs::Ext4;
use crate::inode::{EXTENTS_FL, INLINE_DATA_FL, Inode};
use imgcheck_core::bytes::{le32, usize_of};
use imgcheck_core::{Finding, Hint, Layer, Space};

/// Extent tree nodes visited per file at most.
pub const MAX_EXTENT_NODES: u32 = 1 << 16;
/// Indirect blocks read per block-mapped file at most.
pub const MAX_INDIRECT_BLOCKS: u32 = 1 << 16;

impl Ext4<'_> {
    /// Walks the blocks of `ino` (extent tree or block map), calling `visit`
    /// for every data run and every mapping block; problems go to `out`
    /// when given. Bounded by [`MAX_EXTENT_NODES`] / [`MAX_INDIRECT_BLOCKS`].
    pub(crate) fn map_file(
        &self,
        ino: &Inode,
        visit: &mut dyn FnMut(MapEvent),
        out: Option<&mut Vec<Finding>>,
    ) {
        self.map_file_filtered(
            ino,
            &mut |e| {
                visit(e);
                true
            },
            out,
        );
    }

    /// As [`Ext4::map_file`], but `visit` returning false for a mapping
    /// block skips what lies below it (the deep check refuses to walk an
    /// index or indirect block another file already owns, which bounds the
    /// total work by the filesystem's size).
    pub(crate) fn map_file_filtered(
        &self,
        ino: &Inode,
        visit: &mut dyn FnMut(MapEvent) -> bool,
        out: Option<&mut Vec<Finding>>,
    ) {
        let mut sink = Vec::new();
        let out = out.unwrap_or(&mut sink);
        if ino.i_flags & INLINE_DATA_FL != 0 || ino.is_fast_symlink() {
            return;
        }
        if ino.i_flags & EXTENTS_FL != 0 {
            let mut budget = MAX_EXTENT_NODES;
            ExtentWalk::new(self, ino, out, visit, &mut budget).run();
            return;
        }
        if ino.is_device() {
            return;
        }
        let mut budget = MAX_INDIRECT_BLOCKS;
        let ptr_per_block = self.bs / 4;
        let mut lblk = 0u64;
        for i in 0..15usize {
            let p = u64::from(le32(&ino.i_block, i.saturating_mul(4)));
            let level = i.saturating_sub(11);
            let span = match level {
                0 => 1,
                1 => ptr_per_block,
                2 => ptr_per_block.saturating_mul(ptr_per_block),
                _ => ptr_per_block
                    .saturating_mul(ptr_per_block)
                    .saturating_mul(ptr_per_block),
            };
            if p != 0 {
                self.indirect(
                    ino,
                    p,
                    u32::try_from(level).unwrap_or(0),
                    lblk,
                    &mut budget,
                    visit,
                    out,
                );
            }
            lblk = lblk.saturating_add(span);
        }
        if budget == 0 {
            out.push(Finding::warning(
                "ext4.check.bound",
                Layer::EXT4,
                ino.offset,
                Space::Disk,
                format!(
                    "inode {}: its block map has more than {MAX_INDIRECT_BLOCKS} indirect blocks; the rest was not walked, so its blocks were not all checked",
                    ino.ino
                ),
            ));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn indirect(
        &self,
        ino: &Inode,
        p: u64,
        level: u32,
        lblk: u64,
        budget: &mut u32,
        visit: &mut dyn FnMut(MapEvent) -> bool,
        out: &mut Vec<Finding>,
    ) {
        let fdb = u64::from(self.sb.s_first_data_block);
        if p < fdb || p >= self.sb.s_blocks_count {
            out.push(Finding::error("ext4.inode.illegal_block", Layer::EXT4, ino.offset, Space::Disk,
                format!("inode {} maps logical block {lblk} to block {p}, outside the filesystem ({fdb}..{})", ino.ino, self.sb.s_blocks_count))
                .with_hint(Hint::read_only(crate::E2FSCK_FN)));
            return;
        }
        if level == 0 {
            let _ = visit(MapEvent::Data {
                lblk,
                pblk: p,
                len: 1,
                uninit: false,
            });
            return;
        }
        if !visit(MapEvent::Meta {
            pblk: p,
            level: u8::try_from(level).unwrap_or(3),
        }) {
            return;
        }
        if *budget == 0 {
            return;
        }
        *budget = budget.saturating_sub(1);
        let Some(block) = self.read_block(p) else {
            return;
        };
        let ptr_per_block = self.bs / 4;
        let span = ptr_per_block.saturating_pow(level.saturating_sub(1));
        for k in 0..ptr_per_block {
            let q = u64::from(le32(&block, usize_of(k.saturating_mul(4))));
            if q != 0 {
                self.indirect(
                    ino,
                    q,
                    level.saturating_sub(1),
                    lblk.saturating_add(k.saturating_mul(span)),
                    budget,
                    visit,
                    out,
                );
            }
        }
    }
}

/// What a file's block map yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MapEvent {
    /// `len` data blocks from `pblk`, at logical `lblk`.
    Data {
        lblk: u64,
        pblk: u64,
        len: u64,
        uninit: bool,
    },
    /// A mapping block: an extent tree node (`level` 0) or an indirect
    /// block (1 single, 2 double, 3 triple).
    Meta { pblk: u64, level: u8 },
}

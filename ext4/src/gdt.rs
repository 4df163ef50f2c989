//! Group descriptors: where each group's bitmaps and inode table lie, and
//! the checksum each descriptor should carry.

use crate::fs::Ext4;
use crate::reads::Miss;
use crate::superblock::{incompat, ro_compat};
use crate::util::{crc16, crc32c_raw, zero};
use imgcheck_core::bytes::{le16, le32, u64_of, usize_of};
use imgcheck_core::{Finding, Hint, Layer, Space};
use serde::Serialize;

/// `bg_flags` bits.
pub mod bg_flags {
    /// inode table and bitmap are not initialised
    pub const INODE_UNINIT: u16 = 1;
    /// block bitmap is not initialised
    pub const BLOCK_UNINIT: u16 = 2;
    /// inode table is zeroed
    pub const ITABLE_ZEROED: u16 = 4;
}

/// One group descriptor (32 or 64 bytes), with hi halves folded in.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GroupDesc {
    /// Block of the block bitmap (0x00, high half 0x20).
    pub bg_block_bitmap: u64,
    /// Block of the inode bitmap (0x04, high half 0x24).
    pub bg_inode_bitmap: u64,
    /// First block of the inode table (0x08, high half 0x28).
    pub bg_inode_table: u64,
    /// Free blocks (clusters) in the group (0x0C, high half 0x2C).
    pub bg_free_blocks_count: u32,
    /// Free inodes in the group (0x0E, high half 0x2E).
    pub bg_free_inodes_count: u32,
    /// Directories in the group (0x10, high half 0x30).
    pub bg_used_dirs_count: u32,
    /// Flags (0x12), see [`bg_flags`].
    pub bg_flags: u16,
    /// Block bitmap checksum (0x18, high half 0x38 when the descriptor holds it).
    pub bg_block_bitmap_csum: u32,
    /// Inode bitmap checksum (0x1A, high half 0x3A when the descriptor holds it).
    pub bg_inode_bitmap_csum: u32,
    /// Inodes at the end of the table never used (0x1C, high half 0x32).
    pub bg_itable_unused: u32,
    /// Descriptor checksum (0x1E): crc16 with gdt_csum, low half of crc32c with metadata_csum.
    pub bg_checksum: u16,
    /// Byte offset of the descriptor in the filesystem.
    #[serde(skip)]
    pub offset: u64,
    /// The descriptor as computed from its bytes, when the filesystem has
    /// group descriptor checksums.
    #[serde(skip)]
    pub computed_checksum: Option<u16>,
}

impl Ext4<'_> {
    /// Descriptors per GDT block.
    pub(crate) fn descs_per_block(&self) -> u64 {
        self.bs
            .checked_div(u64::from(self.sb.desc_size().max(32)))
            .unwrap_or(1)
            .max(1)
    }

    /// Number of GDT blocks.
    pub(crate) fn desc_blocks(&self) -> u64 {
        self.groups.div_ceil(self.descs_per_block())
    }

    /// Block holding GDT block `i`, as ext2fs_descriptor_block_loc2: the
    /// primary copy, or the copy after the backup superblock in use (as
    /// e2fsck -b reads it: the primary's descriptors went with it when
    /// something overwrote the filesystem's start).
    pub(crate) fn desc_block_loc(&self, i: u64) -> u64 {
        let fdb = match self.source {
            crate::fs::SuperblockSource::Backup {
                block, block_size, ..
            } if block_size == self.bs => block,
            _ => u64::from(self.sb.s_first_data_block),
        };
        // bigalloc with 1 KiB blocks keeps block 0 out of the filesystem.
        let adjust = u64::from(
            i == 0 && self.bs == 1024 && self.sb.s_log_cluster_size > self.sb.s_log_block_size,
        );
        if !self.sb.has_incompat(incompat::META_BG) || i < u64::from(self.sb.s_first_meta_bg) {
            return fdb
                .saturating_add(i)
                .saturating_add(1)
                .saturating_add(adjust);
        }
        let bg = self.descs_per_block().saturating_mul(i);
        self.group_first_block(bg)
            .saturating_add(u64::from(self.sb.group_has_super(bg)))
    }

    /// Blocks of group `g` taken by its superblock copy and GDT (and
    /// reserved GDT) blocks: (first, count).
    pub(crate) fn group_super_gdt(&self, g: u64) -> (u64, u64) {
        let first = self.group_first_block(g);
        let has_super = self.sb.group_has_super(g);
        let mut n = u64::from(has_super);
        if self.sb.has_incompat(incompat::META_BG) {
            let dpb = self.descs_per_block();
            let meta_group = g.checked_div(dpb).unwrap_or(0);
            if meta_group < u64::from(self.sb.s_first_meta_bg) {
                // ext2fs_reserve_super_and_bgd: with meta_bg the old-style
                // table is s_first_meta_bg blocks, no reserved GDT.
                if has_super {
                    n = n.saturating_add(u64::from(self.sb.s_first_meta_bg));
                }
            } else {
                let r = g.checked_rem(dpb).unwrap_or(0);
                if r == 0 || r == 1 || r == dpb.saturating_sub(1) {
                    n = n.saturating_add(1);
                }
            }
        } else if has_super {
            n = n
                .saturating_add(self.desc_blocks())
                .saturating_add(u64::from(self.sb.s_reserved_gdt_blocks));
        }
        // 1 KiB blocks with bigalloc (cluster 0 reserved) is not modelled.
        (first, n)
    }

    pub(crate) fn load_gdt(&mut self) {
        let ds = u64::from(self.sb.desc_size().max(32));
        let dpb = self.descs_per_block();
        let mut gds = Vec::with_capacity(usize_of(self.groups.min(1 << 16)));
        let mut unreadable = None;
        'blocks: for i in 0..self.desc_blocks() {
            let blk = self.desc_block_loc(i);
            let block = match self.block(blk) {
                Ok(b) => b,
                Err(miss) => {
                    unreadable = Some((i, blk, miss));
                    break;
                }
            };
            for j in 0..dpb {
                let g = i.saturating_mul(dpb).saturating_add(j);
                if g >= self.groups {
                    break 'blocks;
                }
                let start = usize_of(j.saturating_mul(ds));
                let raw = block
                    .get(start..start.saturating_add(usize_of(ds)))
                    .unwrap_or(&[]);
                let off = self
                    .block_offset(blk)
                    .unwrap_or(0)
                    .saturating_add(u64_of(start));
                gds.push(self.parse_gd(g, raw, off));
            }
        }
        if let Some((i, blk, miss)) = unreadable {
            let loaded = format!("{} of {} group descriptors loaded", gds.len(), self.groups);
            let (msg, hint) = match miss {
                Miss::Absent => (
                    format!(
                        "group descriptor block {i} (block {blk}) lies outside the readable image; {loaded}"
                    ),
                    Hint::read_only(crate::E2FSCK_FN).because("the image may be truncated"),
                ),
                Miss::Unreadable(cause) => (
                    format!(
                        "group descriptor block {i} (block {blk}) is unreadable: {cause}; {loaded}"
                    ),
                    crate::reads::unreadable_hint_any(),
                ),
            };
            self.open_findings.push(
                Finding::error(
                    "ext4.gdt.unreadable",
                    Layer::EXT4,
                    blk.saturating_mul(self.bs),
                    Space::Disk,
                    msg,
                )
                .with_hint(hint),
            );
        }
        self.gds = gds;
    }

    fn parse_gd(&self, g: u64, raw: &[u8], offset: u64) -> GroupDesc {
        let ds = self.sb.desc_size();
        let big = ds >= 64;
        let hi16 = |off: usize| {
            if big {
                u32::from(le16(raw, off)) << 16
            } else {
                0
            }
        };
        let hi32 = |off: usize| {
            if big {
                u64::from(le32(raw, off)) << 32
            } else {
                0
            }
        };
        let computed = self.gd_csum(g, raw);
        GroupDesc {
            bg_block_bitmap: u64::from(le32(raw, 0x0)) | hi32(0x20),
            bg_inode_bitmap: u64::from(le32(raw, 0x4)) | hi32(0x24),
            bg_inode_table: u64::from(le32(raw, 0x8)) | hi32(0x28),
            bg_free_blocks_count: u32::from(le16(raw, 0xC)) | hi16(0x2C),
            bg_free_inodes_count: u32::from(le16(raw, 0xE)) | hi16(0x2E),
            bg_used_dirs_count: u32::from(le16(raw, 0x10)) | hi16(0x30),
            bg_flags: le16(raw, 0x12),
            bg_block_bitmap_csum: u32::from(le16(raw, 0x18))
                | if ds >= 0x3A {
                    u32::from(le16(raw, 0x38)) << 16
                } else {
                    0
                },
            bg_inode_bitmap_csum: u32::from(le16(raw, 0x1A))
                | if ds >= 0x3C {
                    u32::from(le16(raw, 0x3A)) << 16
                } else {
                    0
                },
            bg_itable_unused: u32::from(le16(raw, 0x1C)) | hi16(0x32),
            bg_checksum: le16(raw, 0x1E),
            offset,
            computed_checksum: computed,
        }
    }

    /// The checksum group descriptor `g` should carry, per the filesystem's
    /// features (None when it has none).
    fn gd_csum(&self, g: u64, raw: &[u8]) -> Option<u16> {
        let g32 = u32::try_from(g).unwrap_or(u32::MAX).to_le_bytes();
        if self.sb.metadata_csum() {
            let mut d = raw.to_vec();
            zero(&mut d, 0x1E, 2);
            let c = crc32c_raw(crc32c_raw(self.seed, &g32), &d);
            return Some(u16::try_from(c & 0xFFFF).unwrap_or(0));
        }
        if self.sb.has_ro_compat(ro_compat::GDT_CSUM) {
            let mut c = crc16(0xFFFF, &self.sb.s_uuid);
            c = crc16(c, &g32);
            c = crc16(c, raw.get(..0x1E).unwrap_or(raw));
            if raw.len() > 0x20 {
                c = crc16(c, raw.get(0x20..).unwrap_or(&[]));
            }
            return Some(c);
        }
        None
    }
}

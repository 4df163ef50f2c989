//! Inodes: locating and reading one, its fields, and its checksum.

use crate::fs::Ext4;
use crate::reads::Miss;
use crate::util::{crc32c_raw, zero};
use imgcheck_core::bytes::{arr, le16, le32, usize_of};

impl Ext4<'_> {
    /// Blocks per inode table.
    pub(crate) fn itable_blocks(&self) -> u64 {
        u64::from(self.sb.s_inodes_per_group)
            .saturating_mul(u64::from(self.sb.inode_size()))
            .div_ceil(self.bs)
    }

    /// Byte offset of inode `ino`, when its group's table is known.
    pub(crate) fn inode_offset(&self, ino: u32) -> Option<u64> {
        if ino == 0 || ino > self.sb.s_inodes_count {
            return None;
        }
        let ipg = self.sb.s_inodes_per_group.max(1);
        let idx = ino.checked_sub(1)?;
        let g = u64::from(idx.checked_div(ipg).unwrap_or(0));
        let slot = u64::from(idx.checked_rem(ipg).unwrap_or(0));
        let gd = self.gds.get(usize_of(g))?;
        let itable = gd.bg_inode_table;
        if itable == 0 || itable >= self.sb.s_blocks_count {
            return None;
        }
        self.block_offset(itable)?
            .checked_add(slot.checked_mul(u64::from(self.sb.inode_size()))?)
    }

    /// The inode whose table slot holds byte `off`, when one does.
    pub(crate) fn inode_at_offset(&self, off: u64) -> Option<u32> {
        let isz = u64::from(self.sb.inode_size());
        let ipg = u64::from(self.sb.s_inodes_per_group);
        let span = ipg.checked_mul(isz)?;
        self.gds.iter().enumerate().find_map(|(g, gd)| {
            let base = self.block_offset(gd.bg_inode_table)?;
            let rel = off.checked_sub(base).filter(|&r| r < span)?;
            let slot = rel.checked_div(isz)?;
            let n = u64::try_from(g)
                .ok()?
                .checked_mul(ipg)?
                .checked_add(slot)?
                .checked_add(1)?;
            u32::try_from(n).ok()
        })
    }

    /// Inode `ino`: absent when out of range or its group's inode table is
    /// unknown or past the end, unreadable (and logged) when the reader
    /// fails.
    pub(crate) fn inode(&self, ino: u32) -> Result<Inode, Miss> {
        let off = self.inode_offset(ino).ok_or(Miss::Absent)?;
        let mut raw = vec![0u8; usize::from(self.sb.inode_size())];
        self.read_at(off, &mut raw, || format!("inode {ino}"))?;
        Ok(Inode::parse(ino, off, raw))
    }

    /// Reads inode `ino`, or `None` when absent or unreadable (a failed
    /// read is already a finding).
    pub(crate) fn read_inode(&self, ino: u32) -> Option<Inode> {
        self.inode(ino).ok()
    }

    /// Whether inode `ino`'s checksum is right (None without metadata_csum).
    pub(crate) fn inode_csum_ok(&self, ino: &Inode) -> Option<bool> {
        if !self.sb.metadata_csum() {
            return None;
        }
        let raw = &ino.raw;
        let isz = raw.len();
        let has_hi = isz > 128 && le16(raw, 0x80) >= 4;
        // Two CRC calls: inode number, generation and the inode's first
        // 0x84 bytes (where both checksum fields lie, zeroed) assembled on
        // the stack, then the rest in place. A heap copy per inode, or
        // many short CRC calls, cost more than the CRC itself.
        let mut head = [0u8; 8 + HEAD];
        let c = if let (Some(first), Some(rest)) = (raw.get(..HEAD), raw.get(HEAD..)) {
            let (num, body) = head.split_at_mut(8);
            let (n, g) = num.split_at_mut(4);
            n.copy_from_slice(&ino.ino.to_le_bytes());
            g.copy_from_slice(&ino.i_generation.to_le_bytes());
            body.copy_from_slice(first);
            zero(body, 0x7C, 2);
            if has_hi {
                zero(body, 0x82, 2);
            }
            crc32c_raw(crc32c_raw(self.seed, &head), rest)
        } else {
            // Shorter than any valid inode: the plain (slow) way.
            let mut d = raw.clone();
            zero(&mut d, 0x7C, 2);
            if has_hi {
                zero(&mut d, 0x82, 2);
            }
            crc32c_raw(self.file_seed(ino), &d)
        };
        let stored = u32::from(le16(raw, 0x7C))
            | if has_hi {
                u32::from(le16(raw, 0x82)) << 16
            } else {
                0
            };
        let want = if has_hi { c } else { c & 0xFFFF };
        if stored == want {
            return Some(true);
        }
        // e2fsprogs accepts an all-zero inode (never written).
        Some(raw.iter().all(|&b| b == 0))
    }

    /// Per-file checksum seed: seed → ino → generation.
    pub(crate) fn file_seed(&self, ino: &Inode) -> u32 {
        crc32c_raw(
            crc32c_raw(self.seed, &ino.ino.to_le_bytes()),
            &ino.i_generation.to_le_bytes(),
        )
    }
}

/// The inode bytes copied (checksum fields zeroed) for the checksum: up to
/// the end of `i_checksum_hi`.
const HEAD: usize = 0x84;

/// `i_flags` EXT4_EXTENTS_FL.
pub const EXTENTS_FL: u32 = 0x80000;
/// `i_flags` EXT4_INLINE_DATA_FL.
pub const INLINE_DATA_FL: u32 = 0x1000_0000;
/// `i_flags` EXT4_INDEX_FL (htree directory).
pub const INDEX_FL: u32 = 0x1000;
/// `i_flags` EXT4_HUGE_FILE_FL.
pub const HUGE_FILE_FL: u32 = 0x40000;
/// `i_flags` EXT4_EA_INODE_FL.
pub const EA_INODE_FL: u32 = 0x200000;

/// One inode, with the fields the checks use.
#[derive(Debug, Clone)]
pub struct Inode {
    /// Inode number.
    pub ino: u32,
    /// Byte offset of the inode in the filesystem.
    pub offset: u64,
    /// The inode's bytes (`s_inode_size` of them).
    pub raw: Vec<u8>,
    /// Type and permission bits (0x00).
    pub i_mode: u16,
    /// Size in bytes (0x04, high half 0x6C).
    pub i_size: u64,
    /// Hard links (0x1A).
    pub i_links_count: u16,
    /// Deletion time (0x14); the next inode in the orphan list while orphaned.
    pub i_dtime: u32,
    /// Flags (0x20): extents, inline data, htree index, …
    pub i_flags: u32,
    /// Blocks used, in 512-byte units unless huge_file says blocks (0x1C, high half 0x74).
    pub i_blocks: u64,
    /// Block map or extent tree root, or a fast symlink's target (0x28, 60 bytes).
    pub i_block: [u8; 60],
    /// Generation, part of the checksum seed (0x64).
    pub i_generation: u32,
    /// Extended-attribute block (0x68, high half 0x76).
    pub i_file_acl: u64,
}

impl Inode {
    /// Parses raw inode bytes.
    pub fn parse(ino: u32, offset: u64, raw: Vec<u8>) -> Self {
        let i_block = arr(&raw, 0x28);
        Inode {
            ino,
            offset,
            i_mode: le16(&raw, 0),
            i_size: u64::from(le32(&raw, 0x4)) | (u64::from(le32(&raw, 0x6C)) << 32),
            i_links_count: le16(&raw, 0x1A),
            i_dtime: le32(&raw, 0x14),
            i_flags: le32(&raw, 0x20),
            i_blocks: u64::from(le32(&raw, 0x1C)) | (u64::from(le16(&raw, 0x74)) << 32),
            i_generation: le32(&raw, 0x64),
            i_file_acl: u64::from(le32(&raw, 0x68)) | (u64::from(le16(&raw, 0x76)) << 32),
            i_block,
            raw,
        }
    }
    /// File type bits of i_mode.
    pub fn fmt(&self) -> u16 {
        self.i_mode & 0xF000
    }
    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.fmt() == 0x4000
    }
    /// A regular file.
    pub fn is_reg(&self) -> bool {
        self.fmt() == 0x8000
    }
    /// A symlink whose target lives in i_block.
    pub fn is_fast_symlink(&self) -> bool {
        self.fmt() == 0xA000
            && self.i_size > 0
            && self.i_size < 60
            && self.i_flags & INLINE_DATA_FL == 0
    }
    /// A device, fifo or socket (no blocks).
    pub fn is_device(&self) -> bool {
        matches!(self.fmt(), 0x2000 | 0x6000 | 0x1000 | 0xC000)
    }
}

//! The ext2/3/4 superblock: parsed at its kernel-named offsets.

use crate::util::{crc32c_raw, cstr};
use imgcheck_core::bytes::{arr, bytes, le16, le32, le64, u8_at};
use serde::Serialize;

/// Byte offset of the primary superblock from the start of the filesystem.
pub const SUPERBLOCK_OFFSET: u64 = 1024;
/// Size of the on-disk superblock.
pub const SUPERBLOCK_SIZE: usize = 1024;
/// `s_magic`.
pub const EXT4_MAGIC: u16 = 0xEF53;

/// `s_feature_compat` bits.
pub mod compat {
    /// dir_prealloc
    pub const DIR_PREALLOC: u32 = 0x1;
    /// imagic_inodes
    pub const IMAGIC_INODES: u32 = 0x2;
    /// has_journal
    pub const HAS_JOURNAL: u32 = 0x4;
    /// ext_attr
    pub const EXT_ATTR: u32 = 0x8;
    /// resize_inode
    pub const RESIZE_INODE: u32 = 0x10;
    /// dir_index
    pub const DIR_INDEX: u32 = 0x20;
    /// lazy_bg
    pub const LAZY_BG: u32 = 0x40;
    /// exclude_bitmap
    pub const EXCLUDE_BITMAP: u32 = 0x100;
    /// sparse_super2
    pub const SPARSE_SUPER2: u32 = 0x200;
    /// fast_commit
    pub const FAST_COMMIT: u32 = 0x400;
    /// stable_inodes
    pub const STABLE_INODES: u32 = 0x800;
    /// orphan_file
    pub const ORPHAN_FILE: u32 = 0x1000;
    /// Every bit e2fsprogs knows.
    pub const KNOWN: u32 = 0x1FFF;
}

/// `s_feature_incompat` bits.
pub mod incompat {
    /// compression
    pub const COMPRESSION: u32 = 0x1;
    /// filetype
    pub const FILETYPE: u32 = 0x2;
    /// needs_recovery
    pub const RECOVER: u32 = 0x4;
    /// journal_dev
    pub const JOURNAL_DEV: u32 = 0x8;
    /// meta_bg
    pub const META_BG: u32 = 0x10;
    /// extent
    pub const EXTENTS: u32 = 0x40;
    /// 64bit
    pub const BIT64: u32 = 0x80;
    /// mmp
    pub const MMP: u32 = 0x100;
    /// flex_bg
    pub const FLEX_BG: u32 = 0x200;
    /// ea_inode
    pub const EA_INODE: u32 = 0x400;
    /// dirdata
    pub const DIRDATA: u32 = 0x1000;
    /// metadata_csum_seed
    pub const CSUM_SEED: u32 = 0x2000;
    /// large_dir
    pub const LARGEDIR: u32 = 0x4000;
    /// inline_data
    pub const INLINE_DATA: u32 = 0x8000;
    /// encrypt
    pub const ENCRYPT: u32 = 0x10000;
    /// casefold
    pub const CASEFOLD: u32 = 0x20000;
    /// Every bit e2fsprogs 1.47 supports.
    pub const SUPPORTED: u32 = 0x2
        | 0x4
        | 0x8
        | 0x10
        | 0x40
        | 0x80
        | 0x100
        | 0x200
        | 0x400
        | 0x2000
        | 0x4000
        | 0x8000
        | 0x10000
        | 0x20000;
}

/// `s_feature_ro_compat` bits.
pub mod ro_compat {
    /// sparse_super
    pub const SPARSE_SUPER: u32 = 0x1;
    /// large_file
    pub const LARGE_FILE: u32 = 0x2;
    /// huge_file
    pub const HUGE_FILE: u32 = 0x8;
    /// uninit_bg
    pub const GDT_CSUM: u32 = 0x10;
    /// dir_nlink
    pub const DIR_NLINK: u32 = 0x20;
    /// extra_isize
    pub const EXTRA_ISIZE: u32 = 0x40;
    /// quota
    pub const QUOTA: u32 = 0x100;
    /// bigalloc
    pub const BIGALLOC: u32 = 0x200;
    /// metadata_csum
    pub const METADATA_CSUM: u32 = 0x400;
    /// replica
    pub const REPLICA: u32 = 0x800;
    /// read-only
    pub const READONLY: u32 = 0x1000;
    /// project
    pub const PROJECT: u32 = 0x2000;
    /// shared_blocks
    pub const SHARED_BLOCKS: u32 = 0x4000;
    /// verity
    pub const VERITY: u32 = 0x8000;
    /// orphan_present
    pub const ORPHAN_PRESENT: u32 = 0x10000;
    /// Every bit e2fsprogs 1.47 supports.
    pub const SUPPORTED: u32 = 0x1
        | 0x2
        | 0x8
        | 0x10
        | 0x20
        | 0x40
        | 0x100
        | 0x200
        | 0x400
        | 0x1000
        | 0x2000
        | 0x4000
        | 0x8000
        | 0x10000;
}

/// Names of feature bits, for messages and the report.
pub fn feature_names(compat_bits: u32, incompat_bits: u32, ro_bits: u32) -> Vec<String> {
    const C: [(u32, &str); 12] = [
        (0x1, "dir_prealloc"),
        (0x2, "imagic_inodes"),
        (0x4, "has_journal"),
        (0x8, "ext_attr"),
        (0x10, "resize_inode"),
        (0x20, "dir_index"),
        (0x40, "lazy_bg"),
        (0x100, "exclude_bitmap"),
        (0x200, "sparse_super2"),
        (0x400, "fast_commit"),
        (0x800, "stable_inodes"),
        (0x1000, "orphan_file"),
    ];
    const I: [(u32, &str); 16] = [
        (0x1, "compression"),
        (0x2, "filetype"),
        (0x4, "needs_recovery"),
        (0x8, "journal_dev"),
        (0x10, "meta_bg"),
        (0x40, "extent"),
        (0x80, "64bit"),
        (0x100, "mmp"),
        (0x200, "flex_bg"),
        (0x400, "ea_inode"),
        (0x1000, "dirdata"),
        (0x2000, "metadata_csum_seed"),
        (0x4000, "large_dir"),
        (0x8000, "inline_data"),
        (0x10000, "encrypt"),
        (0x20000, "casefold"),
    ];
    const R: [(u32, &str); 15] = [
        (0x1, "sparse_super"),
        (0x2, "large_file"),
        (0x8, "huge_file"),
        (0x10, "uninit_bg"),
        (0x20, "dir_nlink"),
        (0x40, "extra_isize"),
        (0x100, "quota"),
        (0x200, "bigalloc"),
        (0x400, "metadata_csum"),
        (0x800, "replica"),
        (0x1000, "read-only"),
        (0x2000, "project"),
        (0x4000, "shared_blocks"),
        (0x8000, "verity"),
        (0x10000, "orphan_present"),
    ];
    let mut out = Vec::new();
    for (bits, table) in [
        (compat_bits, &C[..]),
        (incompat_bits, &I[..]),
        (ro_bits, &R[..]),
    ] {
        let mut known = 0u32;
        for &(b, n) in table {
            known |= b;
            if bits & b != 0 {
                out.push(n.to_string());
            }
        }
        let unknown = bits & !known;
        if unknown != 0 {
            out.push(format!("unknown:{unknown:#x}"));
        }
    }
    out
}

/// The superblock fields imgcheck uses, under their kernel names (byte
/// offsets within the 1024-byte superblock as in the kernel's `ext4.h`).
#[derive(Debug, Clone, Serialize)]
pub struct Superblock {
    /// Inodes in the filesystem (0x00).
    pub s_inodes_count: u32,
    /// Blocks in the filesystem (0x04, high half 0x150 with 64bit).
    pub s_blocks_count: u64,
    /// Blocks reserved for the superuser (0x08, high half 0x154).
    pub s_r_blocks_count: u64,
    /// Free blocks as last written (0x0C, high half 0x158); lazily kept while mounted.
    pub s_free_blocks_count: u64,
    /// Free inodes as last written (0x10).
    pub s_free_inodes_count: u32,
    /// First block of group 0 (0x14): 1 with 1 KiB blocks, else 0.
    pub s_first_data_block: u32,
    /// Block size is 1024 << this (0x18).
    pub s_log_block_size: u32,
    /// Cluster size is 1024 << this (0x1C); differs from the block size only with bigalloc.
    pub s_log_cluster_size: u32,
    /// Blocks per group (0x20).
    pub s_blocks_per_group: u32,
    /// Clusters per group (0x24).
    pub s_clusters_per_group: u32,
    /// Inodes per group (0x28).
    pub s_inodes_per_group: u32,
    /// Last mount time, Unix seconds (0x2C, high byte 0x275).
    pub s_mtime: i64,
    /// Last superblock write time, Unix seconds (0x30, high byte 0x274).
    pub s_wtime: i64,
    /// Mounts since the last check (0x34).
    pub s_mnt_count: u16,
    /// Mounts allowed between checks, -1 for no limit (0x36).
    pub s_max_mnt_count: i16,
    /// 0xEF53 (0x38).
    pub s_magic: u16,
    /// State bits (0x3A): 1 cleanly unmounted, 2 errors detected, 4 orphans being recovered.
    pub s_state: u16,
    /// Behaviour on errors (0x3C): 1 continue, 2 remount read-only, 3 panic.
    pub s_errors: u16,
    /// Minor revision (0x3E).
    pub s_minor_rev_level: u16,
    /// Last check time, Unix seconds (0x40, high byte 0x277).
    pub s_lastcheck: i64,
    /// Seconds allowed between checks, 0 for none (0x44).
    pub s_checkinterval: u32,
    /// Creator OS (0x48): 0 Linux, 1 Hurd, 2 Masix, 3 FreeBSD, 4 Lites.
    pub s_creator_os: u32,
    /// Revision (0x4C): 0 good old (fixed inode size, no features), 1 dynamic.
    pub s_rev_level: u32,
    /// First non-reserved inode (0x54), 11 in revision 0.
    pub s_first_ino: u32,
    /// Inode size in bytes (0x58), 128 in revision 0.
    pub s_inode_size: u16,
    /// Group holding this copy (0x5A): set in backups.
    pub s_block_group_nr: u16,
    /// Compatible features (0x5C), see [`compat`].
    pub s_feature_compat: u32,
    /// Incompatible features (0x60), see [`incompat`].
    pub s_feature_incompat: u32,
    /// Read-only-compatible features (0x64), see [`ro_compat`].
    pub s_feature_ro_compat: u32,
    /// Filesystem UUID (0x68).
    pub s_uuid: [u8; 16],
    /// Volume label (0x78, 16 bytes).
    pub s_volume_name: String,
    /// Directory where last mounted (0x88, 64 bytes).
    pub s_last_mounted: String,
    /// GDT blocks reserved for online growth (0xCE).
    pub s_reserved_gdt_blocks: u16,
    /// UUID of the external journal (0xD0).
    pub s_journal_uuid: [u8; 16],
    /// Journal inode, usually 8 (0xE0).
    pub s_journal_inum: u32,
    /// Device number of the external journal (0xE4).
    pub s_journal_dev: u32,
    /// Head of the orphan list (0xE8); the chain continues through `i_dtime`.
    pub s_last_orphan: u32,
    /// Directory hash seed (0xEC).
    pub s_hash_seed: [u32; 4],
    /// Default directory hash (0xFC): 0 legacy, 1 half MD4, 2 tea.
    pub s_def_hash_version: u8,
    /// 1 when `s_jnl_blocks` holds a copy of the journal inode's block map (0xFD).
    pub s_jnl_backup_type: u8,
    /// Group descriptor size with 64bit (0xFE).
    pub s_desc_size: u16,
    /// First meta block group (0x104).
    pub s_first_meta_bg: u32,
    /// Creation time, Unix seconds (0x108, high byte 0x276).
    pub s_mkfs_time: i64,
    /// Backup of the journal inode's `i_block`, `i_size_high` and `i_size` (0x10C).
    pub s_jnl_blocks: [u32; 17],
    /// Extra inode bytes every inode has (0x15C).
    pub s_min_extra_isize: u16,
    /// Extra inode bytes new inodes should have (0x15E).
    pub s_want_extra_isize: u16,
    /// Flags (0x160): 1 signed directory hash, 2 unsigned, 4 test filesystem.
    pub s_flags: u32,
    /// Seconds between MMP updates (0x166).
    pub s_mmp_update_interval: u16,
    /// Block holding the MMP structure (0x168).
    pub s_mmp_block: u64,
    /// Groups per flex group is 1 << this (0x174).
    pub s_log_groups_per_flex: u8,
    /// Metadata checksum algorithm, 1 for crc32c (0x175).
    pub s_checksum_type: u8,
    /// Kilobytes written over the filesystem's life (0x178).
    pub s_kbytes_written: u64,
    /// Errors the kernel recorded (0x194).
    pub s_error_count: u32,
    /// When the first recorded error happened (0x198, high byte 0x278).
    pub s_first_error_time: i64,
    /// Inode of the first recorded error (0x19C).
    pub s_first_error_ino: u32,
    /// Block of the first recorded error (0x1A0).
    pub s_first_error_block: u64,
    /// Kernel function of the first recorded error (0x1A8).
    pub s_first_error_func: String,
    /// Source line of the first recorded error (0x1C8).
    pub s_first_error_line: u32,
    /// When the last recorded error happened (0x1CC, high byte 0x279).
    pub s_last_error_time: i64,
    /// Inode of the last recorded error (0x1D0).
    pub s_last_error_ino: u32,
    /// Source line of the last recorded error (0x1D4).
    pub s_last_error_line: u32,
    /// Block of the last recorded error (0x1D8).
    pub s_last_error_block: u64,
    /// Kernel function of the last recorded error (0x1E0).
    pub s_last_error_func: String,
    /// EXT4_ERR_* code of the first recorded error (0x27A).
    pub s_first_error_errcode: u8,
    /// EXT4_ERR_* code of the last recorded error (0x27B).
    pub s_last_error_errcode: u8,
    /// User quota inode (0x240).
    pub s_usr_quota_inum: u32,
    /// Group quota inode (0x244).
    pub s_grp_quota_inum: u32,
    /// The two groups holding backups with sparse_super2 (0x24C).
    pub s_backup_bgs: [u32; 2],
    /// lost+found inode, when recorded (0x268).
    pub s_lpf_ino: u32,
    /// Project quota inode (0x26C).
    pub s_prj_quota_inum: u32,
    /// Metadata checksum seed with metadata_csum_seed (0x270).
    pub s_checksum_seed: u32,
    /// Filename encoding for casefold, 1 for UTF-8 (0x27C).
    pub s_encoding: u16,
    /// Orphan file inode (0x280).
    pub s_orphan_file_inum: u32,
    /// CRC32C of the superblock up to here (0x3FC).
    pub s_checksum: u32,
}

fn time(lo: u32, hi: u8) -> i64 {
    i64::from(lo) | (i64::from(hi) << 32)
}

impl Superblock {
    /// Parses the 1024 bytes of a superblock. Never fails: validation is
    /// the checker's job, so a damaged superblock can still be described.
    pub fn parse(b: &[u8]) -> Self {
        let incompat_bits = le32(b, 0x60);
        let is64 = incompat_bits & incompat::BIT64 != 0;
        let hi = |off: usize| {
            if is64 {
                u64::from(le32(b, off)) << 32
            } else {
                0
            }
        };
        let uuid: [u8; 16] = arr(b, 0x68);
        let juuid: [u8; 16] = arr(b, 0xD0);
        let mut jnl = [0u32; 17];
        for (i, slot) in jnl.iter_mut().enumerate() {
            *slot = le32(b, 0x10C_usize.saturating_add(i.saturating_mul(4)));
        }
        Superblock {
            s_inodes_count: le32(b, 0x0),
            s_blocks_count: u64::from(le32(b, 0x4)) | hi(0x150),
            s_r_blocks_count: u64::from(le32(b, 0x8)) | hi(0x154),
            s_free_blocks_count: u64::from(le32(b, 0xC)) | hi(0x158),
            s_free_inodes_count: le32(b, 0x10),
            s_first_data_block: le32(b, 0x14),
            s_log_block_size: le32(b, 0x18),
            s_log_cluster_size: le32(b, 0x1C),
            s_blocks_per_group: le32(b, 0x20),
            s_clusters_per_group: le32(b, 0x24),
            s_inodes_per_group: le32(b, 0x28),
            s_mtime: time(le32(b, 0x2C), u8_at(b, 0x275)),
            s_wtime: time(le32(b, 0x30), u8_at(b, 0x274)),
            s_mnt_count: le16(b, 0x34),
            s_max_mnt_count: i16::from_le_bytes(le16(b, 0x36).to_le_bytes()),
            s_magic: le16(b, 0x38),
            s_state: le16(b, 0x3A),
            s_errors: le16(b, 0x3C),
            s_minor_rev_level: le16(b, 0x3E),
            s_lastcheck: time(le32(b, 0x40), u8_at(b, 0x277)),
            s_checkinterval: le32(b, 0x44),
            s_creator_os: le32(b, 0x48),
            s_rev_level: le32(b, 0x4C),
            s_first_ino: le32(b, 0x54),
            s_inode_size: le16(b, 0x58),
            s_block_group_nr: le16(b, 0x5A),
            s_feature_compat: le32(b, 0x5C),
            s_feature_incompat: incompat_bits,
            s_feature_ro_compat: le32(b, 0x64),
            s_uuid: uuid,
            s_volume_name: cstr(bytes(b, 0x78, 16)),
            s_last_mounted: cstr(bytes(b, 0x88, 64)),
            s_reserved_gdt_blocks: le16(b, 0xCE),
            s_journal_uuid: juuid,
            s_journal_inum: le32(b, 0xE0),
            s_journal_dev: le32(b, 0xE4),
            s_last_orphan: le32(b, 0xE8),
            s_hash_seed: [le32(b, 0xEC), le32(b, 0xF0), le32(b, 0xF4), le32(b, 0xF8)],
            s_def_hash_version: u8_at(b, 0xFC),
            s_jnl_backup_type: u8_at(b, 0xFD),
            s_desc_size: le16(b, 0xFE),
            s_first_meta_bg: le32(b, 0x104),
            s_mkfs_time: time(le32(b, 0x108), u8_at(b, 0x276)),
            s_jnl_blocks: jnl,
            s_min_extra_isize: le16(b, 0x15C),
            s_want_extra_isize: le16(b, 0x15E),
            s_flags: le32(b, 0x160),
            s_mmp_update_interval: le16(b, 0x166),
            s_mmp_block: le64(b, 0x168),
            s_log_groups_per_flex: u8_at(b, 0x174),
            s_checksum_type: u8_at(b, 0x175),
            s_kbytes_written: le64(b, 0x178),
            s_error_count: le32(b, 0x194),
            s_first_error_time: time(le32(b, 0x198), u8_at(b, 0x278)),
            s_first_error_ino: le32(b, 0x19C),
            s_first_error_block: le64(b, 0x1A0),
            s_first_error_func: cstr(bytes(b, 0x1A8, 32)),
            s_first_error_line: le32(b, 0x1C8),
            s_last_error_time: time(le32(b, 0x1CC), u8_at(b, 0x279)),
            s_last_error_ino: le32(b, 0x1D0),
            s_last_error_line: le32(b, 0x1D4),
            s_last_error_block: le64(b, 0x1D8),
            s_last_error_func: cstr(bytes(b, 0x1E0, 32)),
            s_first_error_errcode: u8_at(b, 0x27A),
            s_last_error_errcode: u8_at(b, 0x27B),
            s_usr_quota_inum: le32(b, 0x240),
            s_grp_quota_inum: le32(b, 0x244),
            s_backup_bgs: [le32(b, 0x24C), le32(b, 0x250)],
            s_lpf_ino: le32(b, 0x268),
            s_prj_quota_inum: le32(b, 0x26C),
            s_checksum_seed: le32(b, 0x270),
            s_encoding: le16(b, 0x27C),
            s_orphan_file_inum: le32(b, 0x280),
            s_checksum: le32(b, 0x3FC),
        }
    }

    /// True when the compat feature bit is set.
    pub fn has_compat(&self, bit: u32) -> bool {
        self.s_feature_compat & bit != 0
    }
    /// True when the incompat feature bit is set.
    pub fn has_incompat(&self, bit: u32) -> bool {
        self.s_feature_incompat & bit != 0
    }
    /// True when the ro_compat feature bit is set.
    pub fn has_ro_compat(&self, bit: u32) -> bool {
        self.s_feature_ro_compat & bit != 0
    }
    /// metadata_csum is on.
    pub fn metadata_csum(&self) -> bool {
        self.has_ro_compat(ro_compat::METADATA_CSUM)
    }
    /// Group descriptors carry a checksum (metadata_csum or uninit_bg).
    pub fn has_group_desc_csum(&self) -> bool {
        self.metadata_csum() || self.has_ro_compat(ro_compat::GDT_CSUM)
    }

    /// Block size in bytes when `s_log_block_size` is plausible (≤ 64 KiB).
    pub fn block_size(&self) -> Option<u64> {
        (self.s_log_block_size <= 6).then(|| 1024u64 << self.s_log_block_size)
    }

    /// Inode size (128 for revision 0).
    pub fn inode_size(&self) -> u16 {
        if self.s_rev_level == 0 {
            128
        } else {
            self.s_inode_size
        }
    }

    /// First non-reserved inode (11 for revision 0).
    pub fn first_ino(&self) -> u32 {
        if self.s_rev_level == 0 {
            11
        } else {
            self.s_first_ino
        }
    }

    /// Group descriptor size: 32 unless 64bit.
    pub fn desc_size(&self) -> u16 {
        if self.has_incompat(incompat::BIT64) {
            self.s_desc_size
        } else {
            32
        }
    }

    /// Number of block groups, when the geometry allows computing it.
    pub fn group_count(&self) -> Option<u64> {
        let data = self
            .s_blocks_count
            .checked_sub(u64::from(self.s_first_data_block))?;
        let bpg = u64::from(self.s_blocks_per_group);
        (bpg != 0).then(|| data.div_ceil(bpg))
    }

    /// The checksum the superblock should carry (raw CRC32C of bytes
    /// 0..0x3FC).
    pub fn compute_checksum(raw: &[u8]) -> u32 {
        crc32c_raw(!0, bytes(raw, 0, 0x3FC))
    }

    /// The metadata checksum seed: `s_checksum_seed` with
    /// metadata_csum_seed, otherwise the raw CRC32C of the UUID.
    pub fn csum_seed(&self) -> u32 {
        if self.has_incompat(incompat::CSUM_SEED) {
            self.s_checksum_seed
        } else {
            crc32c_raw(!0, &self.s_uuid)
        }
    }

    /// The UUID in its canonical text form.
    pub fn uuid_string(&self) -> String {
        uuid_text(&self.s_uuid)
    }

    /// Whether group `g` holds a superblock backup (group 0 is the
    /// primary), by the sparse_super / sparse_super2 rules.
    pub fn group_has_super(&self, g: u64) -> bool {
        if g == 0 {
            return true;
        }
        if self.has_compat(compat::SPARSE_SUPER2) {
            return self.s_backup_bgs.iter().any(|&b| u64::from(b) == g);
        }
        if g <= 1 || !self.has_ro_compat(ro_compat::SPARSE_SUPER) {
            return true;
        }
        if g & 1 == 0 {
            return false;
        }
        is_power_of(g, 3) || is_power_of(g, 5) || is_power_of(g, 7)
    }
}

/// `n` is a power of `base` (1 counts).
pub fn is_power_of(mut n: u64, base: u64) -> bool {
    if n == 0 || base < 2 {
        return false;
    }
    while n.is_multiple_of(base) {
        n = n.checked_div(base).unwrap_or(1);
    }
    n == 1
}

/// A 16-byte UUID in canonical text form.
pub fn uuid_text(u: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, b) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_groups() {
        let mut raw = vec![0u8; 1024];
        raw[0x64] = 1; // sparse_super
        let sb = Superblock::parse(&raw);
        let got: Vec<u64> = (0..60).filter(|&g| sb.group_has_super(g)).collect();
        assert_eq!(got, vec![0, 1, 3, 5, 7, 9, 25, 27, 49]);
    }

    #[test]
    fn uuid_format() {
        let u = [0x12u8; 16];
        assert_eq!(uuid_text(&u), "12121212-1212-1212-1212-121212121212");
    }
}

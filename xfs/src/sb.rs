//! The superblock (`xfs_dsb`, sector 0 of every AG; AG 0's is the
//! primary), its sanity rules as `xfs_repair` applies them
//! (`repair/sb.c: verify_sb`), and the comparison of a secondary with the
//! primary (`repair/agheader.c: compare_sb`, `secondary_sb_whack`).

use crate::crc;
use imgcheck_core::bytes::{arr, be16, be32, be64, u8_at};
use serde::Serialize;

/// `XFSB`.
pub const XFS_SB_MAGIC: u32 = 0x5846_5342;
/// Offset of `sb_crc`.
pub const SB_CRC_OFF: usize = 0xE0;
/// `NULLFSINO`.
pub const NULLFSINO: u64 = u64::MAX;

/// `sb_versionnum` bits (low nibble is the version).
pub mod version {
    /// Version number mask.
    pub const NUMBITS: u16 = 0x000f;
    /// Extended attributes used.
    pub const ATTR: u16 = 0x0010;
    /// 32-bit link counts.
    pub const NLINK: u16 = 0x0020;
    /// Quota inodes present.
    pub const QUOTA: u16 = 0x0040;
    /// Inode chunks aligned (`sb_inoalignmt`).
    pub const ALIGN: u16 = 0x0080;
    /// Stripe unit/width set.
    pub const DALIGN: u16 = 0x0100;
    /// Shared volumes (never supported).
    pub const SHARED: u16 = 0x0200;
    /// Version 2 log.
    pub const LOGV2: u16 = 0x0400;
    /// Sector size other than 512.
    pub const SECTOR: u16 = 0x0800;
    /// Unwritten extent flag.
    pub const EXTFLG: u16 = 0x1000;
    /// Version 2 directories.
    pub const DIRV2: u16 = 0x2000;
    /// ASCII case-insensitive names.
    pub const BORG: u16 = 0x4000;
    /// `sb_features2` is valid.
    pub const MOREBITS: u16 = 0x8000;
    /// Every bit a v4 filesystem may have (`XFS_SB_VERSION_OKBITS`).
    pub const OKBITS: u16 = !SHARED;
}

/// `sb_features2` bits.
pub mod features2 {
    /// Lazy superblock counters.
    pub const LAZYSBCOUNT: u32 = 0x2;
    /// Attr2 inline attribute format.
    pub const ATTR2: u32 = 0x8;
    /// Parent pointers (old, never released).
    pub const PARENT: u32 = 0x10;
    /// 32-bit project ids.
    pub const PROJID32: u32 = 0x80;
    /// Metadata CRCs (v5).
    pub const CRC: u32 = 0x100;
    /// File type in directory entries.
    pub const FTYPE: u32 = 0x200;
    /// `XFS_SB_VERSION2_OKBITS`.
    pub const OKBITS: u32 = LAZYSBCOUNT | ATTR2 | PROJID32 | FTYPE;
}

/// v5 read-only-compatible features.
pub mod ro_compat {
    /// Free inode btree.
    pub const FINOBT: u32 = 1;
    /// Reverse-mapping btree.
    pub const RMAPBT: u32 = 2;
    /// Reflink (refcount btree).
    pub const REFLINK: u32 = 4;
    /// Inode btree block counters in the AGI.
    pub const INOBTCNT: u32 = 8;
    /// Every bit this crate knows.
    pub const ALL: u32 = FINOBT | RMAPBT | REFLINK | INOBTCNT;
}

/// v5 incompatible features.
pub mod incompat {
    /// File type in directory entries.
    pub const FTYPE: u32 = 1;
    /// Sparse inode chunks.
    pub const SPINODES: u32 = 2;
    /// Metadata UUID differs from the user UUID.
    pub const META_UUID: u32 = 4;
    /// Timestamps past 2038.
    pub const BIGTIME: u32 = 8;
    /// `xfs_repair` must run before mounting.
    pub const NEEDSREPAIR: u32 = 0x10;
    /// 64-bit extent counters.
    pub const NREXT64: u32 = 0x20;
    /// Every bit xfsprogs 6.5 knows.
    pub const ALL: u32 = FTYPE | SPINODES | META_UUID | BIGTIME | NEEDSREPAIR | NREXT64;
}

/// The on-disk superblock, every field by its kernel name.
#[derive(Debug, Clone, Default, Serialize)]
#[allow(missing_docs)] // field names are the kernel's `sb_*`, documented in xfs_format.h
pub struct Superblock {
    pub magicnum: u32,
    pub blocksize: u32,
    pub dblocks: u64,
    pub rblocks: u64,
    pub rextents: u64,
    pub uuid: [u8; 16],
    pub logstart: u64,
    pub rootino: u64,
    pub rbmino: u64,
    pub rsumino: u64,
    pub rextsize: u32,
    pub agblocks: u32,
    pub agcount: u32,
    pub rbmblocks: u32,
    pub logblocks: u32,
    pub versionnum: u16,
    pub sectsize: u16,
    pub inodesize: u16,
    pub inopblock: u16,
    pub fname: [u8; 12],
    pub blocklog: u8,
    pub sectlog: u8,
    pub inodelog: u8,
    pub inopblog: u8,
    pub agblklog: u8,
    pub rextslog: u8,
    pub inprogress: u8,
    pub imax_pct: u8,
    pub icount: u64,
    pub ifree: u64,
    pub fdblocks: u64,
    pub frextents: u64,
    pub uquotino: u64,
    pub gquotino: u64,
    pub qflags: u16,
    pub flags: u8,
    pub shared_vn: u8,
    pub inoalignmt: u32,
    pub unit: u32,
    pub width: u32,
    pub dirblklog: u8,
    pub logsectlog: u8,
    pub logsectsize: u16,
    pub logsunit: u32,
    pub features2: u32,
    pub bad_features2: u32,
    pub features_compat: u32,
    pub features_ro_compat: u32,
    pub features_incompat: u32,
    pub features_log_incompat: u32,
    pub crc: u32,
    pub spino_align: u32,
    pub pquotino: u64,
    pub lsn: u64,
    pub meta_uuid: [u8; 16],
}

impl Superblock {
    /// Decodes the fields of a superblock sector (a short buffer reads as zeros).
    pub fn parse(b: &[u8]) -> Superblock {
        Superblock {
            magicnum: be32(b, 0x00),
            blocksize: be32(b, 0x04),
            dblocks: be64(b, 0x08),
            rblocks: be64(b, 0x10),
            rextents: be64(b, 0x18),
            uuid: arr(b, 0x20),
            logstart: be64(b, 0x30),
            rootino: be64(b, 0x38),
            rbmino: be64(b, 0x40),
            rsumino: be64(b, 0x48),
            rextsize: be32(b, 0x50),
            agblocks: be32(b, 0x54),
            agcount: be32(b, 0x58),
            rbmblocks: be32(b, 0x5C),
            logblocks: be32(b, 0x60),
            versionnum: be16(b, 0x64),
            sectsize: be16(b, 0x66),
            inodesize: be16(b, 0x68),
            inopblock: be16(b, 0x6A),
            fname: arr(b, 0x6C),
            blocklog: u8_at(b, 0x78),
            sectlog: u8_at(b, 0x79),
            inodelog: u8_at(b, 0x7A),
            inopblog: u8_at(b, 0x7B),
            agblklog: u8_at(b, 0x7C),
            rextslog: u8_at(b, 0x7D),
            inprogress: u8_at(b, 0x7E),
            imax_pct: u8_at(b, 0x7F),
            icount: be64(b, 0x80),
            ifree: be64(b, 0x88),
            fdblocks: be64(b, 0x90),
            frextents: be64(b, 0x98),
            uquotino: be64(b, 0xA0),
            gquotino: be64(b, 0xA8),
            qflags: be16(b, 0xB0),
            flags: u8_at(b, 0xB2),
            shared_vn: u8_at(b, 0xB3),
            inoalignmt: be32(b, 0xB4),
            unit: be32(b, 0xB8),
            width: be32(b, 0xBC),
            dirblklog: u8_at(b, 0xC0),
            logsectlog: u8_at(b, 0xC1),
            logsectsize: be16(b, 0xC2),
            logsunit: be32(b, 0xC4),
            features2: be32(b, 0xC8),
            bad_features2: be32(b, 0xCC),
            features_compat: be32(b, 0xD0),
            features_ro_compat: be32(b, 0xD4),
            features_incompat: be32(b, 0xD8),
            features_log_incompat: be32(b, 0xDC),
            crc: imgcheck_core::bytes::le32(b, SB_CRC_OFF),
            spino_align: be32(b, 0xE4),
            pquotino: be64(b, 0xE8),
            lsn: be64(b, 0xF0),
            meta_uuid: arr(b, 0xF8),
        }
    }

    /// The version number (4 or 5 on anything current).
    pub fn version(&self) -> u16 {
        self.versionnum & version::NUMBITS
    }
    /// A v5 (CRC) filesystem.
    pub fn is_v5(&self) -> bool {
        self.version() == 5
    }
    /// `sb_features2` is meaningful.
    pub fn has_morebits(&self) -> bool {
        self.versionnum & version::MOREBITS != 0
    }
    /// `xfs_sb_version_hasalign`.
    pub fn has_align(&self) -> bool {
        self.is_v5() || self.versionnum & version::ALIGN != 0
    }
    /// `xfs_sb_version_hasdalign`.
    pub fn has_dalign(&self) -> bool {
        self.versionnum & version::DALIGN != 0
    }
    /// `xfs_sb_version_hassector`.
    pub fn has_sector(&self) -> bool {
        self.versionnum & version::SECTOR != 0
    }
    /// `xfs_sb_version_haslogv2`.
    pub fn has_logv2(&self) -> bool {
        self.versionnum & version::LOGV2 != 0
    }
    /// Lazy superblock counters (always on v5).
    pub fn lazy_counters(&self) -> bool {
        self.is_v5() || (self.has_morebits() && self.features2 & features2::LAZYSBCOUNT != 0)
    }
    /// File types in directory entries.
    pub fn has_ftype(&self) -> bool {
        if self.is_v5() {
            self.features_incompat & incompat::FTYPE != 0
        } else {
            self.has_morebits() && self.features2 & features2::FTYPE != 0
        }
    }
    /// A read-only-compatible v5 feature.
    pub fn ro(&self, bit: u32) -> bool {
        self.is_v5() && self.features_ro_compat & bit != 0
    }
    /// An incompatible v5 feature.
    pub fn inc(&self, bit: u32) -> bool {
        self.is_v5() && self.features_incompat & bit != 0
    }
    /// The UUID stamped into v5 metadata blocks.
    pub fn stamp_uuid(&self) -> [u8; 16] {
        if self.inc(incompat::META_UUID) {
            self.meta_uuid
        } else {
            self.uuid
        }
    }
    /// `sb_fname` as text.
    pub fn label(&self) -> String {
        let end = self
            .fname
            .iter()
            .position(|&c| c == 0)
            .unwrap_or(self.fname.len());
        String::from_utf8_lossy(self.fname.get(..end).unwrap_or(&[])).into_owned()
    }

    /// Feature names as `xfs_info` prints them.
    pub fn feature_names(&self) -> Vec<String> {
        let mut out = vec![format!("v{}", self.version())];
        let v4: &[(u16, &str)] = &[
            (version::ATTR, "attr"),
            (version::NLINK, "nlink"),
            (version::QUOTA, "quota"),
            (version::ALIGN, "align"),
            (version::DALIGN, "dalign"),
            (version::LOGV2, "logv2"),
            (version::SECTOR, "sector"),
            (version::EXTFLG, "extflg"),
            (version::DIRV2, "dirv2"),
            (version::BORG, "ascii-ci"),
        ];
        for &(bit, name) in v4 {
            if self.versionnum & bit != 0 {
                out.push(name.into());
            }
        }
        if self.has_morebits() {
            for &(bit, name) in &[
                (features2::LAZYSBCOUNT, "lazy-count"),
                (features2::ATTR2, "attr2"),
                (features2::PROJID32, "projid32bit"),
                (features2::CRC, "crc"),
                (features2::FTYPE, "ftype"),
            ] {
                if self.features2 & bit != 0 {
                    out.push(name.into());
                }
            }
        }
        if self.is_v5() {
            for &(bit, name) in &[
                (ro_compat::FINOBT, "finobt"),
                (ro_compat::RMAPBT, "rmapbt"),
                (ro_compat::REFLINK, "reflink"),
                (ro_compat::INOBTCNT, "inobtcount"),
            ] {
                if self.features_ro_compat & bit != 0 {
                    out.push(name.into());
                }
            }
            let unknown_ro = self.features_ro_compat & !ro_compat::ALL;
            if unknown_ro != 0 {
                out.push(format!("unknown-ro-compat:{unknown_ro:#x}"));
            }
            for &(bit, name) in &[
                (incompat::FTYPE, "ftype"),
                (incompat::SPINODES, "sparse"),
                (incompat::META_UUID, "meta-uuid"),
                (incompat::BIGTIME, "bigtime"),
                (incompat::NEEDSREPAIR, "needsrepair"),
                (incompat::NREXT64, "nrext64"),
            ] {
                if self.features_incompat & bit != 0 {
                    out.push(name.into());
                }
            }
            let unknown = self.features_incompat & !incompat::ALL;
            if unknown != 0 {
                out.push(format!("unknown-incompat:{unknown:#x}"));
            }
        }
        out.dedup();
        out
    }
}

/// The UUID as tools print it.
pub fn uuid_text(u: &[u8; 16]) -> String {
    let h: String = u.iter().map(|b| format!("{b:02x}")).collect();
    let p = |a: usize, b: usize| h.get(a..b).unwrap_or("");
    format!(
        "{}-{}-{}-{}-{}",
        p(0, 8),
        p(8, 12),
        p(12, 16),
        p(16, 20),
        p(20, 32)
    )
}

/// `xfs_sb_good_version`.
pub fn good_version(sb: &Superblock) -> bool {
    match sb.version() {
        // xfs_sb_validate_v5_features: the v4 bits every v5 filesystem has.
        5 => {
            let vers = version::NLINK
                | version::ALIGN
                | version::LOGV2
                | version::EXTFLG
                | version::DIRV2
                | version::MOREBITS;
            let feat =
                features2::LAZYSBCOUNT | features2::ATTR2 | features2::PROJID32 | features2::CRC;
            sb.versionnum & !version::OKBITS == 0
                && sb.features2 & !(features2::OKBITS | features2::CRC) == 0
                && sb.versionnum & vers == vers
                && sb.features2 & feat == feat
        }
        4 => {
            sb.versionnum & !version::OKBITS == 0
                && sb.versionnum & version::DIRV2 != 0
                && sb.versionnum & version::EXTFLG != 0
                && (!sb.has_morebits() || sb.features2 & !features2::OKBITS == 0)
        }
        _ => false,
    }
}

/// `log2_roundup(n)`: the smallest `i` with `2^i >= n`.
pub fn log2_roundup(n: u32) -> u32 {
    if n <= 1 {
        0
    } else {
        32u32.saturating_sub(n.saturating_sub(1).leading_zeros())
    }
}

/// Number of fields `x` with `2^x == v`, else `None`.
fn exact_log2(v: u64) -> Option<u32> {
    (v != 0 && v.is_power_of_two()).then(|| v.trailing_zeros())
}

/// Why a superblock fails `verify_sb` (the `XR_BAD_*` of repair/err_protos).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SbError {
    /// Not `XFSB`.
    Magic,
    /// Unknown version or feature bits.
    Version,
    /// mkfs never finished (`sb_inprogress` on the primary).
    InProgress,
    /// Sector size or its log.
    SectorSize,
    /// The CRC does not match.
    Crc,
    /// Block size or its log.
    BlockSize,
    /// dblocks, agblocks, agcount, agblklog disagree.
    FsSize,
    /// Inode size, inodes per block, or their logs.
    InodeSize,
    /// Log size or stripe unit.
    LogGeometry,
    /// Realtime geometry.
    RtGeometry,
    /// `sb_inoalignmt`.
    InodeAlign,
    /// `sb_imax_pct` over 100.
    InodeMaxPct,
    /// Stripe unit.
    StripeUnit,
    /// Stripe width.
    StripeWidth,
    /// Directory block size.
    DirBlockSize,
}

impl SbError {
    /// The reason in words.
    pub fn text(self) -> &'static str {
        match self {
            SbError::Magic => "bad magic number",
            SbError::Version => "bad version number or unknown feature bits",
            SbError::InProgress => "filesystem mkfs-in-progress bit set",
            SbError::SectorSize => "inconsistent sector size fields",
            SbError::Crc => "bad CRC",
            SbError::BlockSize => "inconsistent block size fields",
            SbError::FsSize => {
                "inconsistent filesystem geometry information (dblocks, agblocks, agcount)"
            }
            SbError::InodeSize => "inconsistent inode size fields",
            SbError::LogGeometry => "inconsistent log geometry",
            SbError::RtGeometry => "inconsistent realtime geometry",
            SbError::InodeAlign => "bad inode alignment",
            SbError::InodeMaxPct => "bad maximum inode percentage",
            SbError::StripeUnit => "bad stripe unit",
            SbError::StripeWidth => "bad stripe width",
            SbError::DirBlockSize => "bad directory block size",
        }
    }
}

/// Largest realtime extent (`XFS_MAX_RTEXTSIZE`).
const MAX_RTEXTSIZE: u64 = 1 << 30;
/// Smallest realtime extent (`XFS_MIN_RTEXTSIZE`).
const MIN_RTEXTSIZE: u64 = 4096;
/// `XFS_MAX_LOG_BLOCKS`.
const MAX_LOG_BLOCKS: u64 = 1024 * 1024;
/// `XFS_MAX_LOG_BYTES`.
const MAX_LOG_BYTES: u64 = 2 * 1024 * 1024 * 1024 - 512;
/// `XLOG_MAX_RECORD_BSIZE`.
const MAX_RECORD_BSIZE: u32 = 256 * 1024;
/// `XFS_MIN_AG_BLOCKS`.
pub const MIN_AG_BLOCKS: u64 = 64;

/// `verify_sb` of repair/sb.c, on the sector `buf` the superblock was read from.
pub fn verify(buf: &[u8], sb: &Superblock, primary: bool) -> Result<(), SbError> {
    if sb.magicnum != XFS_SB_MAGIC {
        return Err(SbError::Magic);
    }
    if !good_version(sb) {
        return Err(SbError::Version);
    }
    if primary && sb.inprogress != 0 {
        return Err(SbError::InProgress);
    }
    match exact_log2(u64::from(sb.sectsize)) {
        Some(l) if (9..=15).contains(&l) && l == u32::from(sb.sectlog) => {}
        _ => return Err(SbError::SectorSize),
    }
    if sb.is_v5()
        && !crc::verify(
            buf.get(..usize::from(sb.sectsize)).unwrap_or(&[]),
            SB_CRC_OFF,
        )
    {
        return Err(SbError::Crc);
    }
    if sb.blocksize == 0
        || !(9..=16).contains(&sb.blocklog)
        || u64::from(sb.blocksize) != 1u64 << sb.blocklog
    {
        return Err(SbError::BlockSize);
    }
    // XFS_MIN_DBLOCKS / XFS_MAX_DBLOCKS
    let agb = u64::from(sb.agblocks);
    let agc = u64::from(sb.agcount);
    let min_d = agc
        .saturating_sub(1)
        .saturating_mul(agb)
        .saturating_add(MIN_AG_BLOCKS);
    let max_d = agc.saturating_mul(agb);
    if sb.dblocks == 0 || sb.dblocks > max_d || sb.dblocks < min_d {
        return Err(SbError::FsSize);
    }
    if u32::from(sb.agblklog) != log2_roundup(sb.agblocks) {
        return Err(SbError::FsSize);
    }
    let isz = u32::from(sb.inodesize);
    if !(256..=2048).contains(&isz)
        || !(8..=11).contains(&sb.inodelog)
        || isz != 1u32 << sb.inodelog
        || sb.logsunit > MAX_RECORD_BSIZE
        || u32::from(sb.inopblock) != sb.blocksize.div_ceil(isz)
        || sb.blocklog.checked_sub(sb.inodelog) != Some(sb.inopblog)
    {
        return Err(SbError::InodeSize);
    }
    if sb.is_v5()
        && (sb.logblocks == 0
            || u64::from(sb.logblocks) > MAX_LOG_BLOCKS
            || u64::from(sb.logblocks) << sb.blocklog > MAX_LOG_BYTES)
    {
        return Err(SbError::LogGeometry);
    }
    if sb.logsunit > 1 && !sb.logsunit.is_multiple_of(sb.blocksize) {
        return Err(SbError::LogGeometry);
    }
    if sb.has_sector() {
        match exact_log2(u64::from(sb.logsectsize)) {
            Some(l) if (9..=15).contains(&l) && l == u32::from(sb.logsectlog) => {}
            _ => return Err(SbError::SectorSize),
        }
    }
    let rtx = u64::from(sb.rextsize).saturating_mul(u64::from(sb.blocksize));
    if !(MIN_RTEXTSIZE..=MAX_RTEXTSIZE).contains(&rtx) {
        return Err(SbError::RtGeometry);
    }
    if sb.rblocks == 0 {
        if sb.rextents != 0 || sb.rbmblocks != 0 || sb.rextslog != 0 || sb.frextents != 0 {
            return Err(SbError::RtGeometry);
        }
    } else {
        let per_bm = 8u64.saturating_mul(u64::from(sb.blocksize));
        let highbit = 63u32.saturating_sub((sb.rextents & 0xffff_ffff).leading_zeros());
        if sb.rblocks.checked_div(u64::from(sb.rextsize)) != Some(sb.rextents)
            || (sb.rextents & 0xffff_ffff == 0 && sb.rextslog != 0xff)
            || (sb.rextents & 0xffff_ffff != 0 && u32::from(sb.rextslog) != highbit)
            || Some(u64::from(sb.rbmblocks))
                != sb
                    .rextents
                    .checked_add(per_bm.saturating_sub(1))
                    .and_then(|x| x.checked_div(per_bm))
        {
            return Err(SbError::RtGeometry);
        }
    }
    if !ino_align_ok(sb) {
        return Err(SbError::InodeAlign);
    }
    if sb.imax_pct > 100 {
        return Err(SbError::InodeMaxPct);
    }
    if sb.has_dalign() {
        if (sb.unit == 0 && sb.width != 0) || (sb.unit != 0 && !sb.agblocks.is_multiple_of(sb.unit))
        {
            return Err(SbError::StripeUnit);
        }
        if sb.unit != 0 && (sb.width == 0 || !sb.width.is_multiple_of(sb.unit)) {
            return Err(SbError::StripeWidth);
        }
    } else if sb.unit != 0 || sb.width != 0 {
        return Err(SbError::StripeWidth);
    }
    if u32::from(sb.blocklog).saturating_add(u32::from(sb.dirblklog)) > 16 {
        return Err(SbError::DirBlockSize);
    }
    Ok(())
}

/// The inode cluster size mkfs aligns chunks to (`XFS_INODE_BIG_CLUSTER_SIZE`,
/// scaled by inode size on v5).
pub fn inode_cluster_bytes(sb: &Superblock) -> u64 {
    let big = 8192u64;
    if sb.is_v5() {
        big.saturating_mul(u64::from(sb.inodesize)) / 256
    } else {
        big
    }
}

/// `sb_validate_ino_align`.
fn ino_align_ok(sb: &Superblock) -> bool {
    if !sb.has_align() {
        return true;
    }
    let shift = sb.blocklog.min(63);
    let mut align = 8192u64 >> shift;
    if u64::from(sb.inoalignmt) == align {
        return true;
    }
    if !sb.is_v5() {
        return false;
    }
    align = inode_cluster_bytes(sb) >> shift;
    if u64::from(sb.inoalignmt) == align {
        return true;
    }
    if sb.inc(incompat::SPINODES) {
        if align != u64::from(sb.spino_align) {
            return false;
        }
        let chunk = u64::from(sb.inodesize).saturating_mul(64) >> shift;
        return u64::from(sb.inoalignmt) == chunk;
    }
    false
}

/// The geometry fields `compare_sb` compares (`get_sb_geometry`), by name.
pub fn geometry(sb: &Superblock) -> [(&'static str, u64); 14] {
    [
        ("blocksize", u64::from(sb.blocksize)),
        ("dblocks", sb.dblocks),
        ("rblocks", sb.rblocks),
        ("rextents", sb.rextents),
        ("logstart", sb.logstart),
        ("rextsize", u64::from(sb.rextsize)),
        ("agblocks", u64::from(sb.agblocks)),
        ("agcount", u64::from(sb.agcount)),
        ("rbmblocks", u64::from(sb.rbmblocks)),
        ("logblocks", u64::from(sb.logblocks)),
        ("sectsize", u64::from(sb.sectsize)),
        ("inodesize", u64::from(sb.inodesize)),
        ("align", u64::from(sb.has_align())),
        ("dalign", u64::from(sb.has_dalign())),
    ]
}

/// Geometry fields in which `sec` differs from `pri`.
pub fn geometry_diff(pri: &Superblock, sec: &Superblock) -> Vec<String> {
    geometry(pri)
        .iter()
        .zip(geometry(sec).iter())
        .filter(|(a, b)| a.1 != b.1)
        .map(|(a, b)| format!("{} {} (primary {})", a.0, b.1, a.1))
        .collect()
}

/// How many bytes of the sector the superblock's version uses
/// (`secondary_sb_whack`): anything after them must be zero.
pub fn used_len(sb: &Superblock) -> usize {
    if sb.inc(incompat::META_UUID) {
        0x108
    } else if sb.is_v5() {
        0xF8
    } else if sb.has_morebits() {
        0xD0
    } else if sb.has_logv2() {
        0xC8
    } else if sb.has_sector() {
        0xC4
    } else {
        0xC1
    }
}

/// What `secondary_sb_whack` would change in the superblock of AG `agno`,
/// in words; empty when nothing.
pub fn whack(buf: &[u8], sb: &Superblock, pri: &Superblock, agno: u32) -> Vec<String> {
    let mut out = Vec::new();
    let size = used_len(sb);
    let sect = usize::from(pri.sectsize).min(buf.len());
    let zeroed = buf
        .get(size..sect)
        .is_some_and(|t| !imgcheck_core::bytes::is_zero(t));
    if zeroed {
        out.push(format!(
            "bytes past its last field (from {size:#x}) are not zero"
        ));
    }
    if !zeroed {
        if sb.flags != 0 {
            out.push(format!("flags {:#x} is not zero", sb.flags));
        }
        if sb.inprogress == 1 {
            if sb.uquotino != NULLFSINO && sb.uquotino != 0 {
                out.push("a user quota inode is set".into());
            }
            if sb.gquotino != NULLFSINO && sb.gquotino != 0 {
                out.push("a group quota inode is set".into());
            }
            if pri.is_v5() && sb.pquotino != NULLFSINO && sb.pquotino != 0 {
                out.push("a project quota inode is set".into());
            }
            if sb.qflags != 0 {
                out.push(format!("quota flags {:#x} are set", sb.qflags));
            }
        }
        if !sb.has_align() && sb.inoalignmt != 0 {
            out.push(format!(
                "inode alignment {} without the align feature",
                sb.inoalignmt
            ));
        }
        if !sb.has_dalign() && (sb.unit != 0 || sb.width != 0) {
            out.push("stripe unit/width without the dalign feature".into());
        }
        if !sb.has_sector()
            && (sb.sectsize != 512 || sb.sectlog != 9 || sb.logsectsize != 0 || sb.logsectlog != 0)
        {
            out.push("sector size fields without the sector feature".into());
        }
    }
    if pri.is_v5() && agno != 0 {
        if pri.features_compat != sb.features_compat {
            out.push(format!(
                "compat features {:#x} (primary {:#x})",
                sb.features_compat, pri.features_compat
            ));
        }
        if (pri.features_incompat ^ sb.features_incompat) & !incompat::NEEDSREPAIR != 0 {
            out.push(format!(
                "incompat features {:#x} (primary {:#x})",
                sb.features_incompat, pri.features_incompat
            ));
        }
        if pri.features_ro_compat != sb.features_ro_compat {
            out.push(format!(
                "ro-compat features {:#x} (primary {:#x})",
                sb.features_ro_compat, pri.features_ro_compat
            ));
        }
    }
    if agno == 0 && sb.inc(incompat::NEEDSREPAIR) {
        out.push(
            "the needsrepair feature is set: xfs_repair must run before the kernel mounts it"
                .into(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log2_roundup_matches_repair() {
        assert_eq!(log2_roundup(1), 0);
        assert_eq!(log2_roundup(4096), 12);
        assert_eq!(log2_roundup(4097), 13);
        assert_eq!(log2_roundup(16384), 14);
    }

    #[test]
    fn uuid_prints_like_blkid() {
        let u = [0x5a, 0x5a, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
        assert_eq!(uuid_text(&u), "5a5a0001-0203-0405-0607-08090a0b0c0d");
    }
}

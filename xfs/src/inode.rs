//! The on-disk inode (`xfs_dinode`): its core as the kernel's
//! `xfs_dinode_verify` checks it, its forks, the packed extent records and
//! the long-form bmbt that maps a fork too large for the inode.

use crate::crc;
use crate::fs::Fs;
use imgcheck_core::bytes::{arr, be16, be32, be64, bytes, u8_at};

/// `IN`.
pub const DINODE_MAGIC: u16 = 0x494E;
/// Offset of `di_crc`.
pub const DINODE_CRC_OFF: usize = 0x64;
/// `BMA3` / `BMAP`.
pub const BMAP_MAGIC_V5: u32 = 0x424D_4133;
/// v4 bmbt magic.
pub const BMAP_MAGIC_V4: u32 = 0x424D_4150;
/// `XFS_MAX_BMBT_EXTLEN`.
pub const MAX_EXTLEN: u64 = (1 << 21) - 1;
/// bmbt levels at most (`XFS_BM_MAXLEVELS` for any geometry).
pub const MAX_BMBT_LEVELS: u16 = 9;
/// Extents one fork may have that the check follows.
pub const MAX_EXTENTS_PER_FORK: u64 = 1 << 24;

/// Fork formats.
pub mod format {
    /// Device number.
    pub const DEV: u8 = 0;
    /// Inline (short form).
    pub const LOCAL: u8 = 1;
    /// Extent list.
    pub const EXTENTS: u8 = 2;
    /// bmbt root.
    pub const BTREE: u8 = 3;
}

/// `di_flags`.
pub mod flags {
    /// Realtime file.
    pub const REALTIME: u16 = 0x1;
    /// Extent size hint set.
    pub const EXTSIZE: u16 = 0x800;
    /// Extent size hint inherited by new files.
    pub const EXTSZINHERIT: u16 = 0x1000;
}

/// `di_flags2`.
pub mod flags2 {
    /// Shares blocks (reflink).
    pub const REFLINK: u64 = 0x2;
    /// CoW extent size hint set.
    pub const COWEXTSIZE: u64 = 0x4;
    /// Timestamps in the bigtime encoding.
    pub const BIGTIME: u64 = 0x8;
    /// 64-bit extent counters.
    pub const NREXT64: u64 = 0x10;
}

/// File types by mode.
pub const S_IFMT: u16 = 0o170000;
/// Directory.
pub const S_IFDIR: u16 = 0o040000;
/// Regular file.
pub const S_IFREG: u16 = 0o100000;
/// Symbolic link.
pub const S_IFLNK: u16 = 0o120000;

/// The inode core fields the checks use.
#[derive(Debug, Clone, Default)]
#[allow(missing_docs)] // di_* of xfs_format.h
pub struct Dinode {
    pub magic: u16,
    pub mode: u16,
    pub version: u8,
    pub format: u8,
    pub nlink: u32,
    pub size: u64,
    pub nblocks: u64,
    pub extsize: u32,
    pub nextents: u64,
    pub anextents: u64,
    pub forkoff: u8,
    pub aformat: u8,
    pub flags: u16,
    pub next_unlinked: u32,
    pub flags2: u64,
    pub cowextsize: u32,
    pub ino: u64,
    pub uuid: [u8; 16],
    pub lsn: u64,
    pub atime: i64,
    pub mtime: i64,
    pub ctime: i64,
    pub crtime: i64,
    v3_pad: u64,
    nrext64_pad: u16,
}

/// Decodes a timestamp at `off` (bigtime: ns since 1901-12-13).
pub fn time_at(b: &[u8], off: usize, bigtime: bool) -> i64 {
    if bigtime {
        let ns = be64(b, off);
        i64::try_from(ns / 1_000_000_000)
            .unwrap_or(i64::MAX)
            .saturating_sub(1 << 31)
    } else {
        i64::from(i32::from_be_bytes(arr(b, off)))
    }
}

impl Dinode {
    /// Decodes an inode's core.
    pub fn parse(b: &[u8]) -> Dinode {
        let version = u8_at(b, 4);
        let flags2 = if version >= 3 { be64(b, 0x78) } else { 0 };
        let big = flags2 & flags2::BIGTIME != 0;
        let nrext64 = flags2 & flags2::NREXT64 != 0;
        Dinode {
            magic: be16(b, 0),
            mode: be16(b, 2),
            version,
            format: u8_at(b, 5),
            nlink: if version == 1 {
                u32::from(be16(b, 6))
            } else {
                be32(b, 0x10)
            },
            size: be64(b, 0x38),
            nblocks: be64(b, 0x40),
            extsize: be32(b, 0x48),
            nextents: if nrext64 {
                be64(b, 0x18)
            } else {
                u64::from(be32(b, 0x4C))
            },
            anextents: if nrext64 {
                u64::from(be32(b, 0x4C))
            } else {
                u64::from(be16(b, 0x50))
            },
            forkoff: u8_at(b, 0x52),
            aformat: u8_at(b, 0x53),
            flags: be16(b, 0x5A),
            next_unlinked: be32(b, 0x60),
            flags2,
            cowextsize: if version >= 3 { be32(b, 0x80) } else { 0 },
            ino: if version >= 3 { be64(b, 0x98) } else { 0 },
            uuid: if version >= 3 { arr(b, 0xA0) } else { [0; 16] },
            lsn: if version >= 3 { be64(b, 0x70) } else { 0 },
            atime: time_at(b, 0x20, big),
            mtime: time_at(b, 0x28, big),
            ctime: time_at(b, 0x30, big),
            crtime: if version >= 3 {
                time_at(b, 0x90, big)
            } else {
                0
            },
            v3_pad: if !nrext64 && version >= 3 {
                be64(b, 0x18)
            } else {
                0
            },
            nrext64_pad: if nrext64 { be16(b, 0x50) } else { 0 },
        }
    }
    /// The file type bits.
    pub fn ftype(&self) -> u16 {
        self.mode & S_IFMT
    }
    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.ftype() == S_IFDIR
    }
    /// A regular file.
    pub fn is_reg(&self) -> bool {
        self.ftype() == S_IFREG
    }
    /// A symlink.
    pub fn is_lnk(&self) -> bool {
        self.ftype() == S_IFLNK
    }
    /// The directory-entry file type (`xfs_mode_to_ftype`), 0 unknown.
    pub fn dir_ftype(&self) -> u8 {
        match self.ftype() {
            0o100000 => 1,
            0o040000 => 2,
            0o020000 => 3,
            0o060000 => 4,
            0o010000 => 5,
            0o140000 => 6,
            0o120000 => 7,
            _ => 0,
        }
    }
}

/// Fork geometry of an inode.
#[derive(Debug, Clone, Copy)]
pub struct Forks {
    /// Byte offset of the data fork in the inode.
    pub data_off: usize,
    /// Data fork size.
    pub data_size: usize,
    /// Byte offset of the attr fork (when forkoff != 0).
    pub attr_off: usize,
    /// Attr fork size.
    pub attr_size: usize,
}

/// The core's size for `version`.
pub fn core_size(version: u8) -> usize {
    if version >= 3 { 176 } else { 100 }
}

/// Where the forks lie.
pub fn forks(fs: &Fs<'_>, d: &Dinode) -> Forks {
    let isize = usize::from(fs.sb.inodesize);
    let core = core_size(d.version);
    let lit = isize.saturating_sub(core);
    let boff = usize::from(d.forkoff).saturating_mul(8);
    if d.forkoff == 0 {
        Forks {
            data_off: core,
            data_size: lit,
            attr_off: isize,
            attr_size: 0,
        }
    } else {
        Forks {
            data_off: core,
            data_size: boff.min(lit),
            attr_off: core.saturating_add(boff),
            attr_size: lit.saturating_sub(boff),
        }
    }
}

/// `xfs_dinode_verify` on inode `ino` read into `b`; the reason when it fails.
pub fn verify(fs: &Fs<'_>, ino: u64, b: &[u8], d: &Dinode) -> Result<(), String> {
    if d.magic != DINODE_MAGIC {
        return Err(format!("bad magic number {:#x}", d.magic));
    }
    if fs.v5 {
        if d.version != 3 {
            return Err(format!(
                "version {} on a v5 filesystem (must be 3)",
                d.version
            ));
        }
    } else if !matches!(d.version, 1 | 2) {
        return Err(format!("bad version {}", d.version));
    }
    if d.version >= 3 {
        if !crc::verify(
            b.get(..usize::from(fs.sb.inodesize)).unwrap_or(&[]),
            DINODE_CRC_OFF,
        ) {
            return Err("bad CRC".into());
        }
        if d.ino != ino {
            return Err(format!("records inode number {} (it is {ino})", d.ino));
        }
        if d.uuid != fs.uuid {
            return Err(format!("carries UUID {}", crate::sb::uuid_text(&d.uuid)));
        }
    }
    if d.size & (1 << 63) != 0 {
        return Err(format!("negative size {:#x}", d.size));
    }
    if d.mode != 0 && d.dir_ftype() == 0 {
        return Err(format!("bad file type in mode {:#o}", d.mode));
    }
    if (d.is_lnk() || d.is_dir()) && d.size == 0 {
        return Err("a directory or symlink of size 0".into());
    }
    let nrext64 = d.flags2 & flags2::NREXT64 != 0;
    if nrext64 {
        if !fs.sb.inc(crate::sb::incompat::NREXT64) {
            return Err("64-bit extent counters on a filesystem without nrext64".into());
        }
        if d.nrext64_pad != 0 {
            return Err("non-zero padding".into());
        }
    } else if d.version >= 3 && d.v3_pad != 0 {
        return Err("non-zero padding".into());
    }
    if d.mode == 0 {
        return Ok(());
    }
    if d.nextents.saturating_add(d.anextents) > d.nblocks {
        return Err(format!(
            "{} + {} extents in {} blocks",
            d.nextents, d.anextents, d.nblocks
        ));
    }
    let isz = u64::from(fs.sb.inodesize);
    if u64::from(d.forkoff)
        .saturating_mul(8)
        .saturating_add(Fs::w(core_size(d.version)))
        > isz
    {
        return Err(format!(
            "attribute fork offset {} beyond the inode",
            d.forkoff
        ));
    }
    if d.flags & flags::REALTIME != 0 && fs.sb.rblocks == 0 {
        return Err("realtime flag on a filesystem without a realtime section".into());
    }
    let fk = forks(fs, d);
    let lit = usize::from(fs.sb.inodesize).saturating_sub(core_size(d.version));
    if d.forkoff != 0 {
        match d.format {
            format::DEV => {
                if d.forkoff != 1 {
                    return Err(format!(
                        "attribute fork offset {} for a device inode",
                        d.forkoff
                    ));
                }
            }
            format::LOCAL | format::EXTENTS | format::BTREE => {
                if usize::from(d.forkoff) >= lit >> 3 {
                    return Err(format!(
                        "attribute fork offset {} leaves no room for the attribute fork",
                        d.forkoff
                    ));
                }
            }
            _ => {
                return Err(format!(
                    "attribute fork offset {} with data fork format {}",
                    d.forkoff, d.format
                ));
            }
        }
    }
    match d.ftype() {
        0o010000 | 0o020000 | 0o060000 | 0o140000 => {
            if d.format != format::DEV {
                return Err(format!(
                    "data fork format {} for a device, fifo or socket",
                    d.format
                ));
            }
        }
        S_IFREG | S_IFLNK | S_IFDIR => {
            verify_fork(d, d.format, d.nextents, fk.data_size, true, nrext64)?
        }
        _ => return Err(format!("bad file type in mode {:#o}", d.mode)),
    }
    if d.forkoff != 0 {
        verify_fork(d, d.aformat, d.anextents, fk.attr_size, false, nrext64)?;
    } else {
        if !matches!(d.aformat, 0 | format::EXTENTS) {
            return Err(format!(
                "attribute fork format {} without an attribute fork",
                d.aformat
            ));
        }
        if d.anextents != 0 {
            return Err(format!(
                "{} attribute extents without an attribute fork",
                d.anextents
            ));
        }
    }
    verify_extsize(fs, d)?;
    if d.version < 3 {
        return Ok(());
    }
    let reflink = fs.sb.ro(crate::sb::ro_compat::REFLINK);
    if d.flags2 & (flags2::REFLINK | flags2::COWEXTSIZE) != 0 && !reflink {
        return Err("reflink flags on a filesystem without reflink".into());
    }
    if d.flags2 & flags2::REFLINK != 0 && (!d.is_reg() || d.flags & flags::REALTIME != 0) {
        return Err("reflink flag on an inode that cannot share blocks".into());
    }
    let hint = d.flags2 & flags2::COWEXTSIZE != 0;
    let c = u64::from(d.cowextsize);
    if (hint && (!(d.is_dir() || d.is_reg()) || c == 0 || d.flags & flags::REALTIME != 0))
        || (!hint && c != 0)
        || c > MAX_EXTLEN
        || c > u64::from(fs.sb.agblocks) / 2
    {
        return Err(format!("bad CoW extent size hint {c}"));
    }
    if d.flags2 & flags2::BIGTIME != 0 && !fs.sb.inc(crate::sb::incompat::BIGTIME) {
        return Err("bigtime timestamps on a filesystem without bigtime".into());
    }
    Ok(())
}

fn verify_fork(
    d: &Dinode,
    fmt: u8,
    n: u64,
    size: usize,
    data: bool,
    nrext64: bool,
) -> Result<(), String> {
    let which = if data { "data" } else { "attribute" };
    let size64 = Fs::w(size);
    if data && (d.is_dir() || d.is_lnk()) && d.size <= size64 && fmt != format::LOCAL {
        return Err(format!(
            "a {}-byte directory or symlink not stored inline",
            d.size
        ));
    }
    if data && d.size > size64 && fmt == format::LOCAL {
        return Err(format!(
            "inline data of {} bytes in a {size}-byte fork",
            d.size
        ));
    }
    match fmt {
        format::LOCAL => {
            if data && d.is_reg() {
                return Err("a regular file stored inline".into());
            }
            if n != 0 {
                return Err(format!("{n} extents in an inline {which} fork"));
            }
        }
        format::EXTENTS => {
            if n > size64 / 16 {
                return Err(format!("{n} extents do not fit the {which} fork"));
            }
        }
        format::BTREE => {
            let max = match (data, nrext64) {
                (true, false) => (1u64 << 31) - 1,
                (true, true) => (1u64 << 48) - 1,
                (false, false) => (1u64 << 15) - 1,
                (false, true) => (1u64 << 32) - 1,
            };
            if n > max {
                return Err(format!("{n} {which} extents, more than {max}"));
            }
        }
        _ => return Err(format!("bad {which} fork format {fmt}")),
    }
    Ok(())
}

fn verify_extsize(fs: &Fs<'_>, d: &Dinode) -> Result<(), String> {
    let rt = d.flags & flags::REALTIME != 0;
    let hint = d.flags & flags::EXTSIZE != 0;
    let inherit = d.flags & flags::EXTSZINHERIT != 0;
    let e = u64::from(d.extsize);
    let unit = if rt {
        u64::from(fs.sb.rextsize).max(1)
    } else {
        1
    };
    let bad = ((hint || inherit) && !(d.is_dir() || d.is_reg()))
        || (hint && !d.is_reg())
        || (inherit && !d.is_dir())
        || ((hint || inherit) && e == 0)
        || (!(hint || inherit) && e != 0)
        || e.checked_rem(unit).unwrap_or(1) != 0
        || e > MAX_EXTLEN
        || (!rt && e > u64::from(fs.sb.agblocks) / 2);
    if bad {
        Err(format!("bad extent size hint {e}"))
    } else {
        Ok(())
    }
}

/// One mapping of a fork.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    /// File offset in blocks.
    pub off: u64,
    /// First FSB (or realtime block).
    pub start: u64,
    /// Length in blocks.
    pub len: u64,
    /// Preallocated, not yet written.
    pub unwritten: bool,
}

/// Decodes a packed 16-byte extent record.
pub fn extent(rec: &[u8]) -> Extent {
    let l0 = be64(rec, 0);
    let l1 = be64(rec, 8);
    Extent {
        unwritten: l0 >> 63 != 0,
        off: (l0 >> 9) & ((1u64 << 54) - 1),
        start: ((l0 & 0x1ff) << 43) | (l1 >> 21),
        len: l1 & ((1u64 << 21) - 1),
    }
}

/// The records of a bmbt leaf/node or the inode root, as slices.
pub fn records(b: &[u8], at: usize, n: usize, len: usize) -> impl Iterator<Item = &[u8]> {
    (0..n).map(move |i| bytes(b, at.saturating_add(i.saturating_mul(len)), len))
}

/// `XFS_DIFLAG_ANY`.
const DIFLAG_ANY: u16 = 0x7FFF;
/// `XFS_DIFLAG2_ANY`.
const DIFLAG2_ANY: u64 = 0x1F;

/// What `xfs_repair`'s `process_dinode_int` would change in an in-use
/// inode beyond the kernel verifier: flags that do not fit the file type,
/// timestamps with more than a second of nanoseconds.
pub fn repair_rules(fs: &Fs<'_>, ino: u64, b: &[u8], d: &Dinode) -> Vec<String> {
    let mut out = Vec::new();
    let f = d.flags;
    if f & !DIFLAG_ANY != 0 {
        out.push(format!("unknown flags {:#x}", f & !DIFLAG_ANY));
    }
    if f & flags::REALTIME != 0 && fs.sb.rblocks == 0 {
        out.push("the realtime flag without a realtime device".into());
    }
    if f & 0x4 != 0 && ino != fs.sb.rbmino {
        out.push("the new-rt-bitmap flag on an inode that is not the realtime bitmap".into());
    }
    if f & (0x100 | 0x1000 | 0x200 | 0x400) != 0 && !d.is_dir() {
        out.push(format!(
            "directory flags {:#x} on a non-directory",
            f & 0x1700
        ));
    }
    if f & (flags::REALTIME | flags::EXTSIZE) != 0 && !d.is_reg() {
        out.push(format!("file flags {:#x} on a non-file", f & 0x801));
    }
    if d.version >= 3 {
        let f2 = d.flags2;
        if f2 & !DIFLAG2_ANY != 0 {
            out.push(format!("unknown flags2 {:#x}", f2 & !DIFLAG2_ANY));
        }
        if f2 & 1 != 0 && !(d.is_reg() || d.is_dir()) {
            out.push("the DAX flag on a special file".into());
        }
        if f2 & (flags2::REFLINK | flags2::COWEXTSIZE) != 0 && f & (flags::REALTIME | 0x100) != 0 {
            out.push("reflink or CoW hint on a realtime inode".into());
        }
    }
    if d.version > 1 && be16(b, 6) != 0 {
        out.push(format!(
            "the old link count field is {}, must be 0 in a version {} inode",
            be16(b, 6),
            d.version
        ));
    }
    if matches!(d.ftype(), 0o010000 | 0o020000 | 0o060000 | 0o140000) && d.size != 0 {
        out.push(format!("a device, fifo or socket of size {}", d.size));
    }
    if d.forkoff == 0 && d.aformat != format::EXTENTS {
        out.push(format!(
            "attribute fork format {} without an attribute fork (must be extents)",
            d.aformat
        ));
    }
    if d.flags2 & flags2::BIGTIME == 0 {
        let mut at = vec![("atime", 0x24usize), ("mtime", 0x2C), ("ctime", 0x34)];
        if d.version >= 3 {
            at.push(("crtime", 0x94));
        }
        for (name, off) in at {
            let ns = be32(b, off);
            if ns >= 1_000_000_000 {
                out.push(format!("{name} nanoseconds {ns}, more than a second"));
            }
        }
    }
    out
}

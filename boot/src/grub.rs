//! GRUB 2 i386-pc past boot.img (GRUB 2.06 `boot.S`, `diskboot.S`,
//! `startup_raw.S`, `util/setup.c`): boot.img loads one sector, the
//! LBA at 0x5C (`kernel_sector`); that sector is diskboot.img, whose
//! blocklist at its end names the sectors of the rest of core.img; the
//! first of those starts with lzma_decompress.img, whose header gives the
//! compressed and uncompressed sizes of the kernel that follows. LBAs are
//! in 512-byte units whatever the disk's sector size (`GRUB_DISK_SECTOR_SIZE`).

use imgcheck_core::bytes::{bytes, is_zero, le16, le32, le64};
use imgcheck_core::{ReadAt, ReadError};
use serde::{Deserialize, Serialize};

/// GRUB's sector size.
pub const SECTOR: u64 = 512;
/// The first blocklist entry of diskboot.img (`firstlist` = 0x200 − 12).
const FIRST_LIST: usize = 0x1F4;
/// Bytes per blocklist entry: u64 start, u16 sectors, u16 segment.
const LIST_ENTRY: usize = 12;
/// Where the blocklist may grow down to: past diskboot's code
/// (`GRUB_BOOT_MACHINE_LIST_SIZE` is 12; the code ends before 0x100).
const LIST_FLOOR: usize = 0x100;
/// The most sectors setup embeds: (0x78000 − 0x9000) / 512 (`setup.c`,
/// `GRUB_BOOT_I386_PC_KERNEL_SEG` to the end of low memory).
pub const MAX_CORE_SECTORS: u64 = 888;
/// lzma_decompress.img is 2,848 bytes in GRUB 2.06 and near that in every
/// release since 1.98; the compressed kernel follows it. Sectors checked
/// for zeros start past this bound, so a longer decompressor's zero
/// padding is never taken for a zeroed payload.
const DECOMPRESSOR_BOUND: u64 = 0x1000;
/// Largest uncompressed kernel accepted as plausible (GRUB loads it below
/// 1 MiB + the decompression area; real ones are 30–80 KiB).
const MAX_UNCOMPRESSED: u32 = 16 << 20;

/// One blocklist entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extent {
    /// First LBA (512-byte units).
    pub start: u64,
    /// Sectors.
    pub sectors: u16,
}

/// What the core.img that boot.img points at looks like.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Core {
    /// LBA of diskboot.img.
    pub diskboot: u64,
    /// The blocklist: where the rest of core.img is.
    pub extents: Vec<Extent>,
    /// Sectors of core.img after diskboot.
    pub sectors: u64,
    /// lzma_decompress.img's compressed kernel size.
    pub compressed: u32,
    /// Its uncompressed size.
    pub uncompressed: u32,
    /// Sectors of the compressed kernel found zeros: fatal unless GRUB's
    /// Reed–Solomon parity repairs them (judged after decoding).
    pub zeroed: Option<CoreProblem>,
}

/// Why core.img is not what boot.img needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum CoreProblem {
    /// `kernel_sector` lies past the disk's end.
    PastEnd {
        /// The LBA.
        lba: u64,
    },
    /// The sector could not be read.
    Unreadable {
        /// The LBA.
        lba: u64,
        /// The read error.
        error: String,
    },
    /// The diskboot sector is zeros.
    Zeroed {
        /// The LBA.
        lba: u64,
    },
    /// It is not diskboot.img (its strings are missing).
    NotDiskboot {
        /// The LBA.
        lba: u64,
    },
    /// The blocklist is empty, too long, or names sectors past the disk.
    BadBlocklist {
        /// The LBA of diskboot.img.
        lba: u64,
        /// In words.
        why: String,
    },
    /// lzma_decompress's header sizes are implausible.
    BadHeader {
        /// Byte offset of the header on the disk.
        offset: u64,
        /// In words.
        why: String,
    },
    /// lzma_decompress.img's code, the part before the Reed–Solomon
    /// protected bytes (`no_reed_solomon_length`), holds a run of zeros no
    /// build of it has: the code boot.img and diskboot.img jump into.
    DecompressorZeroed {
        /// Byte offset of the run on the disk.
        offset: u64,
        /// Its length in bytes.
        len: u64,
    },
    /// Sectors of the compressed kernel are zeros.
    PayloadZeroed {
        /// Byte offset of the first zero sector.
        offset: u64,
        /// How many of the checked sectors are zeros.
        zero: u64,
        /// How many were checked.
        checked: u64,
    },
}

impl CoreProblem {
    /// Where on the disk the problem is (bytes).
    pub fn offset(&self) -> u64 {
        match self {
            CoreProblem::PastEnd { lba }
            | CoreProblem::Unreadable { lba, .. }
            | CoreProblem::Zeroed { lba }
            | CoreProblem::NotDiskboot { lba }
            | CoreProblem::BadBlocklist { lba, .. } => lba.saturating_mul(SECTOR),
            CoreProblem::BadHeader { offset, .. }
            | CoreProblem::PayloadZeroed { offset, .. }
            | CoreProblem::DecompressorZeroed { offset, .. } => *offset,
        }
    }

    /// In words, for a finding.
    pub fn describe(&self) -> String {
        match self {
            CoreProblem::PastEnd { lba } => {
                format!("boot.img loads core.img from LBA {lba}, past the end of the disk")
            }
            CoreProblem::Unreadable { lba, error } => {
                format!("core.img's first sector at LBA {lba} cannot be read: {error}")
            }
            CoreProblem::Zeroed { lba } => format!(
                "boot.img loads core.img from LBA {lba}, and that sector is zeros: core.img is gone"
            ),
            CoreProblem::NotDiskboot { lba } => format!(
                "boot.img loads core.img from LBA {lba}, but that sector is not GRUB's diskboot.img (something else was written there)"
            ),
            CoreProblem::BadBlocklist { lba, why } => {
                format!("core.img's blocklist in the sector at LBA {lba} is unusable: {why}")
            }
            CoreProblem::BadHeader { why, .. } => {
                format!("core.img's decompressor header is implausible: {why}")
            }
            CoreProblem::DecompressorZeroed { len, .. } => format!(
                "core.img's LZMA decompressor (lzma_decompress.img, right after diskboot.img, the part GRUB's Reed–Solomon parity does not cover) has {len} bytes of zeros in its code: diskboot.img loads it and jumps into it, and the machine hangs or resets after \"loading\""
            ),
            CoreProblem::PayloadZeroed { zero, checked, .. } => format!(
                "{zero} of the {checked} sectors of core.img's compressed kernel are zeros: GRUB would fail to decompress it"
            ),
        }
    }
}

fn sector(r: &dyn ReadAt, lba: u64) -> Result<Vec<u8>, ReadError> {
    let mut b = vec![0u8; 512];
    r.read_exact_at(lba.saturating_mul(SECTOR), &mut b)?;
    Ok(b)
}

/// A diskboot.img: its strings (`loading`, `Geom`, `Read`).
fn is_diskboot(s: &[u8]) -> bool {
    let has = |n: &[u8]| s.windows(n.len()).any(|w| w == n);
    has(b"loading") && has(b"Geom") && has(b"Read")
}

/// Whether the sector at `lba` holds GRUB's diskboot.img (the first
/// sector of core.img).
pub fn is_core_at(r: &dyn ReadAt, lba: u64) -> bool {
    sector(r, lba).is_ok_and(|s| is_diskboot(&s))
}

/// Follows boot.img's `kernel_sector` on `disk` and checks core.img.
pub fn follow(disk: &dyn ReadAt, kernel_sector: u64) -> Result<Core, CoreProblem> {
    let disk_sectors = disk.len() / SECTOR;
    let lba = kernel_sector;
    if lba >= disk_sectors {
        return Err(CoreProblem::PastEnd { lba });
    }
    let s = sector(disk, lba).map_err(|e| CoreProblem::Unreadable {
        lba,
        error: e.to_string(),
    })?;
    if is_zero(&s) {
        return Err(CoreProblem::Zeroed { lba });
    }
    if !is_diskboot(&s) {
        return Err(CoreProblem::NotDiskboot { lba });
    }
    let bad = |why: String| CoreProblem::BadBlocklist { lba, why };
    let mut extents = Vec::new();
    let mut total = 0u64;
    let mut at = FIRST_LIST;
    loop {
        let e = bytes(&s, at, LIST_ENTRY);
        let n = le16(e, 8);
        if n == 0 {
            break;
        }
        let start = le64(e, 0);
        let end = start.saturating_add(u64::from(n));
        if end > disk_sectors {
            return Err(bad(format!(
                "it names LBA {start}..{end}, past the disk's {disk_sectors} sectors"
            )));
        }
        total = total.saturating_add(u64::from(n));
        if total > MAX_CORE_SECTORS {
            return Err(bad(format!(
                "it names more than the {MAX_CORE_SECTORS} sectors GRUB can load"
            )));
        }
        extents.push(Extent { start, sectors: n });
        match at.checked_sub(LIST_ENTRY) {
            Some(next) if next >= LIST_FLOOR => at = next,
            _ => return Err(bad("it has no terminating entry".into())),
        }
    }
    let Some(first) = extents.first().copied() else {
        return Err(bad("it is empty".into()));
    };
    let hdr_at = first.start.saturating_mul(SECTOR);
    let h = sector(disk, first.start).map_err(|e| CoreProblem::Unreadable {
        lba: first.start,
        error: e.to_string(),
    })?;
    let compressed = le32(&h, 0x08);
    let uncompressed = le32(&h, 0x0C);
    let core_bytes = total.saturating_mul(SECTOR);
    let header = |why: String| CoreProblem::BadHeader {
        offset: hdr_at,
        why,
    };
    if is_zero(&h) {
        return Err(header(format!(
            "the sector at LBA {} where it starts is zeros",
            first.start
        )));
    }
    if compressed == 0 || u64::from(compressed) > core_bytes {
        return Err(header(format!(
            "compressed size {compressed} for {core_bytes} bytes of core.img"
        )));
    }
    if uncompressed < compressed || uncompressed > MAX_UNCOMPRESSED {
        return Err(header(format!(
            "uncompressed size {uncompressed} for a compressed size of {compressed}"
        )));
    }
    if let Some(p) = decompressor_zeroed(disk, &extents, le16(&h, 0x14)) {
        return Err(p);
    }
    // Sectors wholly inside the compressed kernel: LZMA output never
    // holds 512 zero bytes in a row.
    let payload_end = DECOMPRESSOR_BOUND
        .saturating_add(u64::from(compressed))
        .min(core_bytes);
    let (mut zero, mut checked, mut first_zero) = (0u64, 0u64, None);
    let mut pos = 0u64; // byte offset within the listed sectors
    for x in &extents {
        for k in 0..u64::from(x.sectors) {
            let here = pos;
            pos = pos.saturating_add(SECTOR);
            if here < DECOMPRESSOR_BOUND || pos > payload_end {
                continue;
            }
            let l = x.start.saturating_add(k);
            checked = checked.saturating_add(1);
            if sector(disk, l).is_ok_and(|b| is_zero(&b)) {
                zero = zero.saturating_add(1);
                first_zero.get_or_insert(l.saturating_mul(SECTOR));
            }
        }
    }
    Ok(Core {
        diskboot: lba,
        extents,
        sectors: total,
        compressed,
        uncompressed,
        zeroed: first_zero.map(|offset| CoreProblem::PayloadZeroed {
            offset,
            zero,
            checked,
        }),
    })
}

/// The longest run of zero bytes taken for code: GRUB 2.06's
/// lzma_decompress.img has none longer than 10 before its Reed–Solomon
/// part, so a run this long is a wipe, not the build's padding.
const DECOMPRESSOR_ZERO_RUN: u64 = 128;
/// The decompressor's code checked at most (it is 2,848 bytes in 2.06).
const DECOMPRESSOR_MAX: usize = 0x2000;

/// A run of [`DECOMPRESSOR_ZERO_RUN`] zeros in the first `no_rs` bytes
/// of the listed sectors (lzma_decompress.img before the part its
/// Reed–Solomon parity covers, which GRUB runs unrepaired), past its
/// 0x20-byte header. A `no_rs` that does not fit is not judged here.
fn decompressor_zeroed(disk: &dyn ReadAt, extents: &[Extent], no_rs: u16) -> Option<CoreProblem> {
    let want = usize::from(no_rs);
    if !(0x20..=DECOMPRESSOR_MAX).contains(&want) {
        return None;
    }
    // The disk offset of each byte read, to name where the run starts.
    let mut code: Vec<(u64, u8)> = Vec::with_capacity(want);
    'read: for x in extents {
        for k in 0..u64::from(x.sectors) {
            let at = x.start.saturating_add(k).saturating_mul(SECTOR);
            let b = sector(disk, x.start.saturating_add(k)).ok()?;
            for (i, v) in (0u64..).zip(b) {
                if code.len() >= want {
                    break 'read;
                }
                code.push((at.saturating_add(i), v));
            }
        }
    }
    // The longest run of zeros, and where it starts.
    let mut best = (0u64, 0u64);
    let mut cur = (0u64, 0u64);
    for &(at, v) in code.iter().skip(0x20) {
        if v == 0 {
            if cur.1 == 0 {
                cur.0 = at;
            }
            cur.1 = cur.1.saturating_add(1);
            if cur.1 > best.1 {
                best = cur;
            }
        } else {
            cur = (0, 0);
        }
    }
    (best.1 >= DECOMPRESSOR_ZERO_RUN).then_some(CoreProblem::DecompressorZeroed {
        offset: best.0,
        len: best.1,
    })
}

/// lzma_decompress.img's `reed_solomon_redundancy` (+0x10).
const RS_REDUNDANCY: usize = 0x10;
/// Its `no_reed_solomon_length` (+0x14): the bytes GRUB runs before the
/// repair, so not covered by it.
const RS_NO_LENGTH: usize = 0x14;

/// Runs the Reed–Solomon repair GRUB's startup_raw.S runs on `listed`
/// (the sectors after diskboot.img, lzma_decompress.img first) before it
/// decompresses; returns the bytes it changed. grub-bios-setup puts the
/// parity right after the compressed kernel and fills the embedded
/// sectors with it, so the decompressor's length is what the rest
/// leaves; a header that does not add up is left alone (0).
pub fn repair(listed: &mut [u8], compressed: u32) -> usize {
    let rs = usize_of(u64::from(le32(listed, RS_REDUNDANCY)));
    let no_rs = usize::from(le16(listed, RS_NO_LENGTH));
    let comp = usize_of(u64::from(compressed));
    let Some(dlen) = listed
        .len()
        .checked_sub(comp)
        .and_then(|n| n.checked_sub(rs))
    else {
        return 0;
    };
    if rs == 0 || dlen < no_rs || dlen > usize_of(DECOMPRESSOR_BOUND) {
        return 0;
    }
    let s = dlen.saturating_add(comp).saturating_sub(no_rs);
    match listed.get_mut(no_rs..) {
        Some(b) => crate::rs::recover(b, s, rs),
        None => 0,
    }
}

fn usize_of(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// The sectors core.img's blocklist names, read in order
/// (lzma_decompress.img and the compressed kernel after diskboot.img).
/// At most [`MAX_CORE_SECTORS`], as [`follow`] checked.
pub fn read_listed(disk: &dyn ReadAt, core: &Core) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for x in &core.extents {
        let n = u64::from(x.sectors).saturating_mul(SECTOR);
        let mut b = vec![0u8; usize::try_from(n).map_err(|e| e.to_string())?];
        disk.read_exact_at(x.start.saturating_mul(SECTOR), &mut b)
            .map_err(|e| format!("LBA {}: {e}", x.start))?;
        out.extend_from_slice(&b);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;
    use imgcheck_core::BytesReader;

    #[test]
    fn a_blocklist_without_terminator_is_bad_not_a_loop() {
        let mut d = vec![0u8; 64 * 512];
        let s = &mut d[512..1024];
        s[0x10..0x17].copy_from_slice(b"loading");
        s[0x20..0x24].copy_from_slice(b"Geom");
        s[0x30..0x34].copy_from_slice(b"Read");
        // Every entry from 0x1F4 down to the floor names one sector.
        let mut at = FIRST_LIST;
        while at >= LIST_FLOOR {
            s[at] = 2;
            s[at + 8] = 1;
            at -= LIST_ENTRY;
        }
        let r = BytesReader::new(d);
        assert!(matches!(
            follow(&r, 1),
            Err(CoreProblem::BadBlocklist { .. })
        ));
        assert!(matches!(follow(&r, 64), Err(CoreProblem::PastEnd { .. })));
        assert!(matches!(follow(&r, 3), Err(CoreProblem::Zeroed { .. })));
    }
}

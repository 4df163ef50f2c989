//! Filesystem and volume signatures: what sits at an offset, named as
//! blkid names it (`ID_FS_TYPE`), with the size the filesystem states for
//! itself. Used to name a partition's contents and to find lost partitions,
//! to tell a bare volume's boot sector from an MBR ([`boot_volume`]), and
//! ([`image_signature`]) to tell a filesystem from what a whole disk image
//! leaves at the start of a partition it was written over.
//!
//! A read that fails (an I/O error, a layer below that cannot produce the
//! bytes) is not "nothing here": [`probe_at`] returns it, and only a range
//! past the end of the reader counts as absent.

mod boot;
mod more;

pub use boot::boot_volume;
pub(crate) use boot::{FAT32_BACKUP_SECTOR, fat32_backup, ntfs_backup};

use crate::guid::{LINUX_FS, LINUX_LUKS, LINUX_LVM, LINUX_SWAP, MS_BASIC_DATA};
use crate::util::{be16, be32, be64, bytes, le16, le32, le64, mul, read_opt, u8_at};
use imgcheck_core::{ReadAt, ReadError, ReadErrorKind, read_vec};
use serde::Serialize;

/// What a signature says about the bytes at an offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signature {
    /// blkid's `ID_FS_TYPE` (`ext4`, `xfs`, `swap`, `LVM2_member`, …).
    pub kind: &'static str,
    /// Short human name (`ext4`, `LVM2 member`, `LUKS`).
    pub display: &'static str,
    /// Size in bytes the filesystem or volume states for itself.
    pub size: Option<u64>,
    /// Label, when the format has one and it is set.
    pub label: Option<String>,
    /// UUID or serial in the format's usual text form.
    pub uuid: Option<String>,
    /// GPT type GUID a partition holding it would normally carry.
    pub gpt_type: &'static str,
    /// MBR type byte a partition holding it would normally carry.
    pub mbr_type: u8,
    /// What is wrong with the structure that identified it, when it is
    /// identified anyway (as `blkid -p` does, reporting SBBADCSUM): each
    /// `(offset, sentence)`, offsets in the reader probed.
    pub damage: Vec<(u64, String)>,
}

pub(crate) fn sig(
    kind: &'static str,
    display: &'static str,
    size: Option<u64>,
    gpt_type: &'static str,
    mbr_type: u8,
) -> Signature {
    Signature {
        kind,
        display,
        size,
        label: None,
        uuid: None,
        gpt_type,
        mbr_type,
        damage: Vec::new(),
    }
}

pub(crate) fn text(b: &[u8]) -> Option<String> {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    let s = String::from_utf8_lossy(b.get(..end).unwrap_or(&[]))
        .trim_end()
        .to_string();
    (!s.is_empty()).then_some(s)
}

pub(crate) fn uuid_text(b: &[u8]) -> Option<String> {
    if b.len() != 16 || b.iter().all(|&c| c == 0) {
        return None;
    }
    let h: Vec<String> = b.iter().map(|c| format!("{c:02x}")).collect();
    Some(format!(
        "{}-{}-{}-{}-{}",
        h.get(0..4)?.concat(),
        h.get(4..6)?.concat(),
        h.get(6..8)?.concat(),
        h.get(8..10)?.concat(),
        h.get(10..16)?.concat()
    ))
}

/// The most one probe read asks for (the ZFS uberblock ring).
const MAX_PROBE_READ: u64 = 128 << 10;

/// Bytes from a probe's start read at once, on its first read: where
/// nearly every signature's magic lies (boot sectors, superblocks at 1, 4,
/// 32 and 64 KiB, the ISO volume descriptors, a swap page's end). A probe
/// asked for a dozen small pieces of them one by one, so a lost-partition
/// scan over 2 GiB of data made ~28,000 reads (each a system call through
/// every layer beneath) where ~2,000 do.
pub(crate) const WINDOW: u64 = 0x11000;

/// The reads of one probe at `base` of a reader: past the end is absence;
/// any other failure is kept, so "nothing here" is never said over bytes
/// that could not be read.
pub(crate) struct At<'a, R: ?Sized> {
    r: &'a R,
    base: u64,
    failed: Option<ReadError>,
    /// The first [`WINDOW`] bytes (fewer at the reader's end), once read;
    /// `Some(None)` when that read failed (or the probe has no window),
    /// so each piece is read on its own and fails or not by itself.
    window: Option<Option<Vec<u8>>>,
}

impl<'a, R: ReadAt + ?Sized> At<'a, R> {
    pub(crate) fn new(r: &'a R, base: u64) -> Self {
        At {
            r,
            base,
            failed: None,
            // One probe of a reader (a layer's) reads only what it asks.
            window: Some(None),
        }
    }

    /// [`At::new`] for a probe among many (the scan's, one per MiB): the
    /// first read fetches the whole [`WINDOW`] and the rest are served
    /// from it.
    pub(crate) fn windowed(r: &'a R, base: u64) -> Self {
        At {
            window: None,
            ..At::new(r, base)
        }
    }

    /// `len` bytes at `off` from the window, when it holds them.
    fn cached(&mut self, off: u64, len: u64) -> Option<Vec<u8>> {
        if self.window.is_none() {
            let n = WINDOW.min(self.len());
            self.window = Some(read_vec(self.r, self.base, n, WINDOW).ok());
        }
        let w = self.window.as_ref()?.as_ref()?;
        let start = usize::try_from(off).ok()?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        w.get(start..end).map(<[u8]>::to_vec)
    }

    /// Bytes from `base` to the end of the reader.
    pub(crate) fn len(&self) -> u64 {
        self.r.len().saturating_sub(self.base)
    }

    /// `len` bytes at `off` (from `base`); `None` when absent or unreadable.
    pub(crate) fn read(&mut self, off: u64, len: u64) -> Option<Vec<u8>> {
        let abs = self.base.checked_add(off)?;
        if let Some(b) = self.cached(off, len) {
            return Some(b);
        }
        match read_vec(self.r, abs, len, MAX_PROBE_READ) {
            Ok(b) => Some(b),
            Err(e) => {
                let absent = matches!(
                    e.kind,
                    ReadErrorKind::OutOfBounds { .. } | ReadErrorKind::TooLarge { .. }
                );
                if !absent && self.failed.is_none() {
                    self.failed = Some(e);
                }
                None
            }
        }
    }

    /// What the probe found, or the first read that failed when it found
    /// nothing.
    pub(crate) fn finish<T>(self, found: Option<T>) -> Result<Option<T>, ReadError> {
        match (found, self.failed) {
            (Some(s), _) => Ok(Some(s)),
            (None, Some(e)) => Err(e),
            (None, None) => Ok(None),
        }
    }
}

/// ext2/3/4 superblock facts needed for naming and for backup recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ExtSuper {
    pub block_size: u64,
    pub blocks: u64,
    pub first_data_block: u64,
    pub blocks_per_group: u64,
    pub block_group_nr: u16,
}

/// Parses an ext superblock (1024 bytes) if its magic and geometry are sane.
pub(crate) fn ext_super(sb: &[u8]) -> Option<ExtSuper> {
    if le16(sb, 0x38) != 0xEF53 {
        return None;
    }
    let log = le32(sb, 0x18);
    if log > 6 {
        return None;
    }
    let block_size = 1024u64.checked_shl(log)?;
    let incompat = le32(sb, 0x60);
    let mut blocks = u64::from(le32(sb, 0x04));
    if incompat & 0x80 != 0 {
        blocks |= u64::from(le32(sb, 0x150)).checked_shl(32)?;
    }
    let blocks_per_group = u64::from(le32(sb, 0x20));
    if blocks == 0 || blocks_per_group == 0 {
        return None;
    }
    Some(ExtSuper {
        block_size,
        blocks,
        first_data_block: u64::from(le32(sb, 0x14)),
        blocks_per_group,
        block_group_nr: le16(sb, 0x5A),
    })
}

pub(crate) fn ext_signature(sb: &[u8], e: ExtSuper) -> Signature {
    // blkid's rules: a journal device is jbd; ext2 has no journal and no
    // feature beyond ext2's; ext3 has a journal and nothing beyond ext3's;
    // anything else is ext4.
    let compat = le32(sb, 0x5C);
    let incompat = le32(sb, 0x60);
    let ro_compat = le32(sb, 0x64);
    const RO_SUPP: u32 = 0x1 | 0x2 | 0x4;
    const EXT2_INCOMPAT_SUPP: u32 = 0x2 | 0x10;
    const EXT3_INCOMPAT_SUPP: u32 = 0x2 | 0x4 | 0x10;
    let has_journal = compat & 0x4 != 0;
    let (kind, display) = if incompat & 0x8 != 0 {
        ("jbd", "ext journal")
    } else if !has_journal && ro_compat & !RO_SUPP == 0 && incompat & !EXT2_INCOMPAT_SUPP == 0 {
        ("ext2", "ext2")
    } else if has_journal && ro_compat & !RO_SUPP == 0 && incompat & !EXT3_INCOMPAT_SUPP == 0 {
        ("ext3", "ext3")
    } else {
        ("ext4", "ext4")
    };
    let mut s = sig(
        kind,
        display,
        Some(mul(e.blocks, e.block_size)),
        LINUX_FS,
        0x83,
    );
    s.label = text(bytes(sb, 0x78, 16));
    s.uuid = uuid_text(bytes(sb, 0x68, 16));
    s
}

/// The AG number (`agf_seqno`) of the XFS AGF one sector of `sect` bytes
/// past `offset`, when an AGF (magic `XAGF`, version 1) is there.
fn xfs_agf_seqno<R: ReadAt + ?Sized>(at: &mut At<'_, R>, sect: u64) -> Option<u32> {
    if !sect.is_power_of_two() || !(512..=32768).contains(&sect) {
        return None;
    }
    let agf = at.read(sect, 16)?;
    (bytes(&agf, 0, 4) == b"XAGF" && be32(&agf, 4) == 1).then(|| be32(&agf, 8))
}

/// Whether AG 0's AGF and AGI sit in sectors 1 and 2 after `offset` (for
/// 512-byte or 4 KiB sectors), each naming AG 0: what is left of an XFS
/// filesystem whose primary superblock was destroyed.
fn xfs_ag0_headers<R: ReadAt + ?Sized>(at: &mut At<'_, R>) -> bool {
    [512u64, 4096].into_iter().any(|sect| {
        xfs_agf_seqno(at, sect) == Some(0)
            && at.read(sect.saturating_mul(2), 16).is_some_and(|agi| {
                bytes(&agi, 0, 4) == b"XAGI" && be32(&agi, 4) == 1 && be32(&agi, 8) == 0
            })
    })
}

/// Identifies what starts at byte `offset` of `r`. Reads at most a few
/// small blocks; `None` when nothing known is there or when a read failed
/// (see [`probe_at`] to tell the two apart).
pub fn identify_at<R: ReadAt + ?Sized>(r: &R, offset: u64) -> Option<Signature> {
    probe_at(r, offset).ok().flatten()
}

/// [`identify_at`], telling "nothing known is here" (`Ok(None)`) from "a
/// read failed before anything was found" (`Err`): an unreadable area is
/// unknown, never absent.
pub fn probe_at<R: ReadAt + ?Sized>(r: &R, offset: u64) -> Result<Option<Signature>, ReadError> {
    let mut at = At::new(r, offset);
    let found = identify_in(&mut at);
    at.finish(found)
}

/// [`probe_at`], and the probe's first [`WINDOW`] bytes when it read
/// them in one piece: what the scan looks at next (an ext backup
/// superblock) lies in them, so it is not read again.
pub(crate) fn probe_window<R: ReadAt + ?Sized>(
    r: &R,
    offset: u64,
) -> (Result<Option<Signature>, ReadError>, Option<Vec<u8>>) {
    let mut at = At::windowed(r, offset);
    let found = identify_in(&mut at);
    let window = at.window.take().flatten();
    (at.finish(found), window)
}

/// Bytes before a probe offset the scan reads with its window: the last
/// sector of whatever ends there, where NTFS keeps its backup boot sector
/// (512 bytes, or 4 KiB on a 4Kn volume).
pub(crate) const TAIL: u64 = 4096;

/// What one probe says: a signature, nothing, or the read that failed.
pub(crate) type Probed = Result<Option<Signature>, ReadError>;

/// [`probe_window`] at `offset`, reading the [`TAIL`] bytes before it in
/// the same read: `(probe, window, tail)`. The tail is `None` at the
/// reader's start, or when the one read failed (the probe then reads as
/// [`probe_window`] does, so a failure is still told from absence).
pub(crate) fn probe_window_tail<R: ReadAt + ?Sized>(
    r: &R,
    offset: u64,
) -> (Probed, Option<Vec<u8>>, Option<Vec<u8>>) {
    let Some(from) = offset.checked_sub(TAIL) else {
        let (p, w) = probe_window(r, offset);
        return (p, w, None);
    };
    let n = TAIL.saturating_add(WINDOW.min(r.len().saturating_sub(offset)));
    let Ok(mut all) = read_vec(r, from, n, TAIL.saturating_add(WINDOW)) else {
        let (p, w) = probe_window(r, offset);
        return (p, w, None);
    };
    let window = all.split_off(imgcheck_core::bytes::usize_of(TAIL).min(all.len()));
    let mut at = At {
        window: Some(Some(window)),
        ..At::new(r, offset)
    };
    let found = identify_in(&mut at);
    let window = at.window.take().flatten();
    (at.finish(found), window, Some(all))
}

/// The NTFS volume whose backup boot sector is the 512-byte sector at
/// byte `pos` of `r` (mkntfs keeps it in the volume's last sector):
/// `(start of the volume, what it is)`, validated from that start as a
/// primary would be. What is left of an NTFS whose boot sector is gone.
pub fn ntfs_backup_at<R: ReadAt + ?Sized>(r: &R, pos: u64) -> Option<(u64, Signature)> {
    let sector = read_opt(r, pos, 512, 512)?;
    ntfs_backup(r, pos, &sector)
}

/// [`identify_at`] at offset 0.
pub fn identify<R: ReadAt + ?Sized>(r: &R) -> Option<Signature> {
    identify_at(r, 0)
}

fn identify_in<R: ReadAt + ?Sized>(at: &mut At<'_, R>) -> Option<Signature> {
    let head = at.read(0, at.len().min(8192))?;
    if head.len() < 512 {
        return None;
    }
    if let Some(s) = lvm2(&head) {
        return Some(s);
    }
    // TuxOnIce hibernation image: its magic at byte 0 wins over the swap
    // signature it keeps at the page end (blkid: swsuspend).
    if bytes(&head, 0, 8) == b"\xed\xc3\x02\xe9\x98\x56\xe5\x0c" {
        return Some(sig(
            "swsuspend",
            "swap (hibernation image)",
            None,
            LINUX_SWAP,
            0x82,
        ));
    }
    // Swap before LUKS: mkswap keeps the first 1 KiB, so a swap area made
    // over an old LUKS header still starts "LUKS"; blkid calls it swap.
    if let Some(s) = swap(at, &head) {
        return Some(s);
    }
    if bytes(&head, 0, 6) == b"LUKS\xba\xbe" {
        let mut s = sig("crypto_LUKS", "LUKS", None, LINUX_LUKS, 0x83);
        s.uuid = text(bytes(&head, 168, 40));
        return Some(s);
    }
    // BitLocker keeps a boot sector of its own: before FAT and NTFS.
    if let Some(s) = boot::bitlocker(&head) {
        return Some(s);
    }
    if bytes(&head, 0, 4) == b"XFSB" {
        let bs = u64::from(be32(&head, 4));
        let dblocks = be64(&head, 8);
        // Every AG starts with a copy of the superblock: one whose AGF
        // names an AG other than 0 is the middle of a filesystem, not its
        // start (as an ext backup superblock is not).
        let sect = u64::from(be16(&head, 0x66));
        let secondary = xfs_agf_seqno(at, sect).is_some_and(|ag| ag != 0);
        if !secondary && bs.is_power_of_two() && (512..=65536).contains(&bs) && dblocks > 0 {
            let mut s = sig("xfs", "xfs", Some(mul(dblocks, bs)), LINUX_FS, 0x83);
            s.label = text(bytes(&head, 108, 12));
            s.uuid = uuid_text(bytes(&head, 32, 16));
            return Some(s);
        }
    }
    if bytes(&head, 0, 4) != b"XFSB" && xfs_ag0_headers(at) {
        // The primary superblock is gone (zeroed, overwritten) but AG 0's
        // AGF and AGI still follow it: an XFS filesystem starts here, and
        // xfs_repair finds it again through a secondary superblock. The
        // size is the superblock's, so unknown.
        return Some(sig(
            "xfs",
            "xfs (primary superblock lost)",
            None,
            LINUX_FS,
            0x83,
        ));
    }
    if let Some(e) = ext_super(bytes(&head, 1024, 1024))
        && e.block_group_nr == 0
    {
        return Some(ext_signature(bytes(&head, 1024, 1024), e));
    }
    if let Some(s) = more::at_1024(at, &head) {
        return Some(s);
    }
    if let Some(b) = at.read(0x10000, 4096)
        && bytes(&b, 0x40, 8) == b"_BHRfS_M"
    {
        let mut s = sig(
            "btrfs",
            "btrfs",
            Some(le64(&b, 0x70)).filter(|&n| n > 0),
            LINUX_FS,
            0x83,
        );
        s.uuid = uuid_text(bytes(&b, 0x20, 16));
        s.label = text(bytes(&b, 0x12B, 256));
        return Some(s);
    }
    if let Some(s) = boot::boot_sector(at, &head) {
        return Some(s);
    }
    if let Some(s) = more::at_start(&head) {
        return Some(s);
    }
    if let Some(s) = more::further_in(at) {
        return Some(s);
    }
    iso_or_udf(at)
}

/// LVM2: the label may sit in any of the first four 512-byte sectors.
fn lvm2(head: &[u8]) -> Option<Signature> {
    (0..4usize).find_map(|i| {
        let base = i.saturating_mul(512);
        if bytes(head, base, 8) != b"LABELONE"
            || bytes(head, base.saturating_add(24), 8) != b"LVM2 001"
        {
            return None;
        }
        let pvh = base.saturating_add(
            usize::try_from(le32(head, base.saturating_add(20))).unwrap_or(usize::MAX),
        );
        let size = le64(head, pvh.saturating_add(32));
        let mut s = sig(
            "LVM2_member",
            "LVM2 member",
            (size > 0).then_some(size),
            LINUX_LVM,
            0x8E,
        );
        s.uuid = text(bytes(head, pvh, 32));
        Some(s)
    })
}

fn swap<R: ReadAt + ?Sized>(at: &mut At<'_, R>, head: &[u8]) -> Option<Signature> {
    for ps in [4096u64, 8192, 16384, 65536] {
        let Some(magic) = at.read(ps.saturating_sub(10), 10) else {
            continue;
        };
        match magic.as_slice() {
            b"SWAPSPACE2" => {
                let last_page = u64::from(le32(head, 1024 + 4));
                let mut s = sig(
                    "swap",
                    "swap",
                    Some(mul(last_page.saturating_add(1), ps)),
                    LINUX_SWAP,
                    0x82,
                );
                s.label = text(bytes(head, 1024 + 28, 16));
                s.uuid = uuid_text(bytes(head, 1024 + 12, 16));
                return Some(s);
            }
            b"SWAP-SPACE" => return Some(sig("swap", "swap", None, LINUX_SWAP, 0x82)),
            m if m.get(..9) == Some(b"S1SUSPEND")
                || m.get(..9) == Some(b"S2SUSPEND")
                || m.get(..9) == Some(b"ULSUSPEND")
                || m == b"LINHIB0001" =>
            {
                return Some(sig(
                    "swsuspend",
                    "swap (hibernation image)",
                    None,
                    LINUX_SWAP,
                    0x82,
                ));
            }
            _ => {}
        }
    }
    None
}

fn iso_or_udf<R: ReadAt + ?Sized>(at: &mut At<'_, R>) -> Option<Signature> {
    // One descriptor first: the scan probes every MiB, and almost nothing
    // has a volume descriptor there.
    let first = at.read(32768, 2048)?;
    if !matches!(
        bytes(&first, 1, 5),
        b"CD001" | b"BEA01" | b"NSR02" | b"NSR03" | b"BOOT2" | b"CDW02"
    ) {
        return None;
    }
    let vrs = at.read(32768, 16 * 2048).unwrap_or(first);
    // UDF's volume recognition sequence (BEA01, NSR02/03) may follow an
    // ISO descriptor on bridge discs; blkid calls those udf.
    for stride in [2048usize, 4096] {
        for i in 0..32768usize.checked_div(stride).unwrap_or(0) {
            let id = bytes(&vrs, i.saturating_mul(stride).saturating_add(1), 5);
            if id == b"NSR02" || id == b"NSR03" {
                return Some(sig("udf", "udf", None, MS_BASIC_DATA, 0x07));
            }
        }
    }
    if bytes(&vrs, 1, 5) == b"CD001" && u8_at(&vrs, 0) == 1 {
        let blocks = u64::from(le32(&vrs, 80));
        let bs = u64::from(le16(&vrs, 128));
        let mut s = sig(
            "iso9660",
            "iso9660",
            (blocks > 0 && bs > 0).then(|| mul(blocks, bs)),
            MS_BASIC_DATA,
            0x83,
        );
        s.label = text(bytes(&vrs, 40, 32));
        return Some(s);
    }
    None
}

/// The qcow2 magic `QFI\xfb` (qcow2 spec, header byte 0).
const QCOW2_MAGIC: &[u8] = b"QFI\xfb";
/// The GPT header signature (UEFI spec 5.3.2).
const GPT_SIGNATURE: &[u8] = b"EFI PART";
/// The ISO 9660 standard identifier of a volume descriptor.
const ISO_ID: &[u8] = b"CD001";
/// Byte 1 of the first volume descriptor (sector 16 of 2048 bytes).
const ISO_ID_AT: u64 = 0x8001;

/// What a whole disk image leaves at the start of `r`, when it holds one
/// rather than a filesystem of its own: a qcow2 header, a GPT (`EFI PART`
/// at LBA 1 of 512 or 4096 bytes), an ISO 9660 image, or an MBR with a
/// partition entry. A boot signature alone is not enough: FAT and NTFS
/// boot sectors carry one too.
pub fn image_signature<R: ReadAt + ?Sized>(r: &R) -> Option<&'static str> {
    let head = read_opt(r, 0, 512, 512)?;
    if bytes(&head, 0, 4) == QCOW2_MAGIC {
        return Some("a qcow2 image header");
    }
    for ss in [512u64, 4096] {
        if read_opt(r, ss, 8, 8).is_some_and(|s| s.as_slice() == GPT_SIGNATURE) {
            return Some("a GPT-partitioned disk image (\"EFI PART\" at LBA 1)");
        }
    }
    if read_opt(r, ISO_ID_AT, 5, 5).is_some_and(|s| s.as_slice() == ISO_ID) {
        return Some("an ISO 9660 image");
    }
    if le16(&head, 510) == 0xAA55 {
        // A partition entry with a type and a size says "disk image".
        let has_entry = (0..4usize).any(|i| {
            let e = 446usize.saturating_add(i.saturating_mul(16));
            u8_at(&head, e.saturating_add(4)) != 0 && le32(&head, e.saturating_add(12)) != 0
        });
        if has_entry {
            return Some("an MBR-partitioned disk image (partition table at sector 0)");
        }
    }
    None
}

/// Whether `r` starts with what a whole disk image leaves (see
/// [`image_signature`]) rather than a filesystem of its own.
pub fn holds_image_signature<R: ReadAt + ?Sized>(r: &R) -> bool {
    image_signature(r).is_some()
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::as_conversions)]
mod tests {
    use super::*;
    use imgcheck_core::BytesReader;

    #[test]
    fn ext_names_follow_blkid_rules() {
        let mut d = vec![0u8; 8192];
        d[1024 + 0x38] = 0x53;
        d[1024 + 0x39] = 0xEF;
        d[1024 + 0x04] = 100; // blocks
        d[1024 + 0x20] = 1; // blocks per group
        let s = identify(&BytesReader::new(d.clone())).unwrap();
        assert_eq!((s.kind, s.size), ("ext2", Some(102400)));
        d[1024 + 0x5C] = 0x4; // has_journal
        assert_eq!(identify(&BytesReader::new(d.clone())).unwrap().kind, "ext3");
        d[1024 + 0x60] = 0x40; // extents
        assert_eq!(identify(&BytesReader::new(d.clone())).unwrap().kind, "ext4");
        d[1024 + 0x5A] = 1; // a backup superblock is not a filesystem start
        assert!(identify(&BytesReader::new(d)).is_none());
    }

    #[test]
    fn disk_images_are_told_from_boot_sectors() {
        let mut d = vec![0u8; 40 * 1024];
        assert_eq!(image_signature(&BytesReader::new(d.clone())), None);
        // A boot signature alone (FAT, NTFS) is no disk image.
        d[510] = 0x55;
        d[511] = 0xAA;
        assert_eq!(image_signature(&BytesReader::new(d.clone())), None);
        d[446 + 4] = 0x83;
        d[446 + 12] = 8;
        assert!(
            image_signature(&BytesReader::new(d.clone()))
                .unwrap()
                .contains("MBR")
        );
        let mut g = vec![0u8; 8192];
        g[4096..4104].copy_from_slice(b"EFI PART");
        assert!(
            image_signature(&BytesReader::new(g))
                .unwrap()
                .contains("GPT")
        );
        let mut q = vec![0u8; 512];
        q[..4].copy_from_slice(b"QFI\xfb");
        assert_eq!(
            image_signature(&BytesReader::new(q)),
            Some("a qcow2 image header")
        );
        let mut iso = vec![0u8; 0x9000];
        iso[0x8001..0x8006].copy_from_slice(b"CD001");
        assert!(holds_image_signature(&BytesReader::new(iso)));
        assert!(!holds_image_signature(&BytesReader::new(vec![0u8; 100])));
    }

    #[test]
    fn xfs_secondaries_are_no_filesystem_start_and_lost_primaries_are() {
        let mut d = vec![0u8; 8192];
        d[..4].copy_from_slice(b"XFSB");
        d[4..8].copy_from_slice(&4096u32.to_be_bytes());
        d[8..16].copy_from_slice(&16384u64.to_be_bytes());
        d[0x66..0x68].copy_from_slice(&512u16.to_be_bytes());
        d[512..516].copy_from_slice(b"XAGF");
        d[516..520].copy_from_slice(&1u32.to_be_bytes());
        d[1024..1028].copy_from_slice(b"XAGI");
        d[1028..1032].copy_from_slice(&1u32.to_be_bytes());
        assert_eq!(identify(&BytesReader::new(d.clone())).unwrap().kind, "xfs");
        // AG 0's superblock zeroed: its AGF and AGI still mark the start.
        let mut lost = d.clone();
        lost[..512].fill(0);
        let s = identify(&BytesReader::new(lost.clone())).unwrap();
        assert_eq!((s.kind, s.size), ("xfs", None));
        lost[1024..1028].fill(0);
        assert!(identify(&BytesReader::new(lost)).is_none());
        // The superblock of AG 3 (its AGF says so) is a copy, not a start.
        d[520..524].copy_from_slice(&3u32.to_be_bytes());
        assert!(identify(&BytesReader::new(d)).is_none());
    }

    #[test]
    fn tiny_and_garbage_inputs() {
        assert!(identify(&BytesReader::new(vec![])).is_none());
        assert!(identify(&BytesReader::new(vec![0xFF; 100])).is_none());
        assert!(identify_at(&BytesReader::new(vec![0; 10]), u64::MAX).is_none());
    }
}

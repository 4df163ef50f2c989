//! Volume boot sectors: NTFS, exFAT, FAT12/16/32 and BitLocker keep a
//! boot sector with a BIOS parameter block at byte 0, and with it the
//! 0x55AA an MBR has. They are validated as libblkid validates them
//! (`fat_valid_superblock`, `__probe_ntfs`, `exfat_valid_superblock`), so
//! that a bare volume is told from a partition table exactly where blkid
//! and the kernel tell it: their DOS probers refuse a sector 0 that one of
//! these validates.

use super::{At, Signature, sig, text};
use crate::guid::MS_BASIC_DATA;
use crate::util::{bytes, le16, le32, le64, mul, u8_at};
use imgcheck_core::{ReadAt, ReadError};

/// libblkid's FAT12/16/32 cluster-count limits.
const FAT12_MAX: u32 = 0xFF4;
const FAT16_MAX: u32 = 0xFFF4;
const FAT32_MAX: u32 = 0x0FFF_FFF6;
/// libblkid's NTFS_MAX_CLUSTER_SIZE.
const NTFS_MAX_CLUSTER: u64 = 2 << 20;
/// libblkid's bound on the exFAT cluster heap offset (`1U << 31`).
const EXFAT_MAX_HEAP: u32 = 0x8000_0000;
/// The MFT record of $Volume (libblkid's MFT_RECORD_VOLUME).
const MFT_RECORD_VOLUME: u64 = 3;

/// The filesystem whose boot sector is at byte 0 of `r`, when one of NTFS,
/// exFAT, FAT or BitLocker validates there: the sector is then a volume's
/// boot sector, and the bytes where an MBR keeps its entries are boot code
/// (libblkid's DOS prober: "probably FAT", "probably NTFS" — ignore).
pub fn boot_volume<R: ReadAt + ?Sized>(r: &R) -> Result<Option<Signature>, ReadError> {
    let mut at = At::new(r, 0);
    let found = at
        .read(0, at.len().min(8192))
        .filter(|h| h.len() >= 512)
        .and_then(|head| bitlocker(&head).or_else(|| boot_sector(&mut at, &head)));
    at.finish(found)
}

/// NTFS, exFAT or FAT at the start of `head` (and the reads they need).
pub(super) fn boot_sector<R: ReadAt + ?Sized>(
    at: &mut At<'_, R>,
    head: &[u8],
) -> Option<Signature> {
    if bytes(head, 3, 8) == b"NTFS    " {
        return ntfs(at, head);
    }
    if bytes(head, 3, 8) == b"EXFAT   " {
        return exfat(at, head);
    }
    fat(head)
}

/// BitLocker (Windows 7 and later): its boot sector names itself.
pub(super) fn bitlocker(head: &[u8]) -> Option<Signature> {
    (bytes(head, 3, 8) == b"-FVE-FS-" && le16(head, 510) == 0xAA55)
        .then(|| sig("BitLocker", "BitLocker", None, MS_BASIC_DATA, 0x07))
}

/// libblkid's `__probe_ntfs`: a BPB whose unused fields are zero, sane
/// cluster and MFT record sizes, and `FILE` records where the BPB puts the
/// MFT and its $Volume record.
fn ntfs<R: ReadAt + ?Sized>(at: &mut At<'_, R>, b: &[u8]) -> Option<Signature> {
    let ss = u64::from(le16(b, 0x0B));
    if !(256..=4096).contains(&ss) || !ss.is_power_of_two() {
        return None;
    }
    let spc_raw = u8_at(b, 0x0D);
    let spc: u64 = match spc_raw {
        1 | 2 | 4 | 8 | 16 | 32 | 64 | 128 => u64::from(spc_raw),
        240..=249 => 1u64.checked_shl(256u32.checked_sub(u32::from(spc_raw))?)?,
        _ => return None,
    };
    if ss.checked_mul(spc)? > NTFS_MAX_CLUSTER {
        return None;
    }
    let unused_zero = le16(b, 0x0E) == 0
        && le16(b, 0x11) == 0
        && le16(b, 0x13) == 0
        && le16(b, 0x16) == 0
        && le32(b, 0x20) == 0
        && u8_at(b, 0x10) == 0;
    if !unused_zero {
        return None;
    }
    let cpm = u8_at(b, 0x40);
    if !(0xE1..=0xF7).contains(&cpm) && !matches!(cpm, 1 | 2 | 4 | 8 | 16 | 32 | 64) {
        return None;
    }
    let record = if cpm < 0x80 {
        u64::from(cpm).checked_mul(spc)?.checked_mul(ss)?
    } else {
        // A negative count: the record is 2^-n bytes.
        1u64.checked_shl(256u32.checked_sub(u32::from(cpm))?)?
    };
    let sectors = le64(b, 0x28);
    let clusters = sectors.checked_div(spc)?;
    let (mft, mirror) = (le64(b, 0x30), le64(b, 0x38));
    if mft > clusters || mirror > clusters || record < 4 {
        return None;
    }
    let off = mft.checked_mul(spc)?.checked_mul(ss)?;
    let file = |at: &mut At<'_, R>, o: u64| at.read(o, 4).is_some_and(|m| m == b"FILE");
    if !file(at, off) || !file(at, off.checked_add(MFT_RECORD_VOLUME.checked_mul(record)?)?) {
        return None;
    }
    // The backup boot sector sits in the sector after the volume.
    let size = (sectors > 0).then(|| mul(sectors.saturating_add(1), ss));
    let mut s = sig("ntfs", "ntfs", size, MS_BASIC_DATA, 0x07);
    s.uuid = Some(format!("{:016X}", le64(b, 0x48)));
    Some(s)
}

/// An NTFS volume whose backup boot sector is the sector at byte `pos` of
/// `r` (`sector`, its bytes): mkntfs puts the backup in the volume's last
/// sector, one past the count the BPB states, so the volume starts that
/// many sectors before it. Validated as [`ntfs`] validates a primary, with
/// the MFT's `FILE` records read from that start, so a backup of a volume
/// that is not there (its MFT overwritten too) finds nothing. `(start,
/// signature)`.
pub(crate) fn ntfs_backup<R: ReadAt + ?Sized>(
    r: &R,
    pos: u64,
    sector: &[u8],
) -> Option<(u64, Signature)> {
    if bytes(sector, 3, 8) != b"NTFS    " || le16(sector, 510) != 0xAA55 {
        return None;
    }
    let ss = u64::from(le16(sector, 0x0B));
    let start = pos.checked_sub(le64(sector, 0x28).checked_mul(ss)?)?;
    if start == pos {
        return None;
    }
    let mut at = At::new(r, start);
    let s = ntfs(&mut at, sector)?;
    at.finish(Some(s)).ok().flatten().map(|s| (start, s))
}

/// A FAT32 volume starting where `sector` was read from sector 6 of
/// (`sector_size` bytes each): the backup boot sector mkfs.fat and
/// Windows keep at BPB_BkBootSec, which must name that sector and that
/// sector size, so a FAT32 boot sector elsewhere is not taken for one.
pub(crate) fn fat32_backup(sector: &[u8], sector_size: u64) -> Option<Signature> {
    let s = fat(sector)?;
    let fat32 = le16(sector, 0x16) == 0 && le32(sector, 0x24) != 0;
    (fat32
        && u64::from(le16(sector, 0x0B)) == sector_size
        && u64::from(le16(sector, 0x32)) == FAT32_BACKUP_SECTOR)
        .then_some(s)
}

/// BPB_BkBootSec as mkfs.fat and Windows set it: the sector (of the
/// volume) holding the FAT32 backup boot sector.
pub(crate) const FAT32_BACKUP_SECTOR: u64 = 6;

/// libblkid's `exfat_valid_superblock`, boot-region checksum included.
fn exfat<R: ReadAt + ?Sized>(at: &mut At<'_, R>, b: &[u8]) -> Option<Signature> {
    let bps_shift = u32::from(u8_at(b, 108));
    let spc_shift = u32::from(u8_at(b, 109));
    let fats = u32::from(u8_at(b, 110));
    let fat_offset = le32(b, 80);
    let fat_length = le32(b, 84);
    let heap = le32(b, 88);
    let clusters = le32(b, 92);
    let root = le32(b, 96);
    let fats_len = fat_length.checked_mul(fats)?;
    let valid = le16(b, 510) == 0xAA55
        && bytes(b, 0, 3) == b"\xEB\x76\x90"
        && bytes(b, 11, 53).iter().all(|&c| c == 0)
        && (1..=2).contains(&fats)
        && (9..=12).contains(&bps_shift)
        && spc_shift <= 25u32.saturating_sub(bps_shift)
        && fat_offset >= 24
        && heap.checked_sub(fats_len).is_some_and(|m| fat_offset <= m)
        && fat_offset.checked_add(fats_len).is_some_and(|m| m <= heap)
        && heap <= EXFAT_MAX_HEAP
        && root >= 2
        && root <= clusters.saturating_add(1);
    if !valid {
        return None;
    }
    // The main boot region: 11 checksummed sectors, then one repeating
    // the checksum (exFAT specification 3.4).
    let ss = 1u64.checked_shl(bps_shift)?;
    let region = at.read(0, ss.checked_mul(12)?)?;
    let n = usize::try_from(ss.checked_mul(11)?).ok()?;
    let mut sum: u32 = 0;
    for (i, &byte) in region.get(..n)?.iter().enumerate() {
        if matches!(i, 106 | 107 | 112) {
            continue;
        }
        sum = sum.rotate_right(1).wrapping_add(u32::from(byte));
    }
    // A wrong checksum does not make it something else: every field above
    // is exFAT's, and blkid -p names it (with SBBADCSUM). It is damage:
    // Windows and the Linux driver refuse the volume, fsck.exfat flags it.
    let stored = region.get(n..)?;
    let bad = stored
        .chunks_exact(4)
        .find(|c| le32(c, 0) != sum)
        .map(|c| le32(c, 0));
    let size = le64(b, 72).checked_shl(bps_shift);
    let mut s = sig("exfat", "exfat", size, MS_BASIC_DATA, 0x07);
    if let Some(stored) = bad {
        s.damage.push((
            ss.saturating_mul(11),
            format!(
                "the exFAT main boot region's checksum (sector 11) is 0x{stored:08X}, but its first 11 sectors sum to 0x{sum:08X}: the boot sector or its extended sectors changed after the checksum was written, and the exFAT driver and Windows refuse the volume until it is repaired (fsck.exfat, on a copy; the backup boot region at sector 12 may be intact)"
            ),
        ));
    }
    let serial = le32(b, 100);
    s.uuid = Some(format!("{:04X}-{:04X}", serial >> 16, serial & 0xFFFF));
    Some(s)
}

/// libblkid's FAT magics and `fat_valid_superblock`.
fn fat(b: &[u8]) -> Option<Signature> {
    const STRONG: [(usize, &[u8]); 6] = [
        (0x52, b"MSWIN"),
        (0x52, b"FAT32   "),
        (0x36, b"MSDOS"),
        (0x36, b"FAT16   "),
        (0x36, b"FAT12   "),
        (0x36, b"FAT     "),
    ];
    let strong = STRONG.iter().any(|&(o, m)| bytes(b, o, m.len()) == m);
    let boot_sig = le16(b, 510) == 0xAA55;
    if !strong {
        // Only the jump byte or the boot signature: old floppies carry a
        // boot signature, and OS/2 puts a FAT-like header on JFS and HPFS.
        if !boot_sig {
            return None;
        }
        if matches!(bytes(b, 0x36, 8), b"JFS     " | b"HPFS    ") {
            return None;
        }
    }
    let sector = u32::from(le16(b, 0x0B));
    let spc = u32::from(u8_at(b, 0x0D));
    let reserved = u32::from(le16(b, 0x0E));
    let fats = u32::from(u8_at(b, 0x10));
    let dir_entries = u32::from(le16(b, 0x11));
    let media = u8_at(b, 0x15);
    if fats == 0
        || reserved == 0
        || !(media >= 0xF8 || media == 0xF0)
        || !spc.is_power_of_two()
        || !sector.is_power_of_two()
        || !(512..=4096).contains(&sector)
    {
        return None;
    }
    let sectors = match le16(b, 0x13) {
        0 => le32(b, 0x20),
        n => u32::from(n),
    };
    let fat16_len = u32::from(le16(b, 0x16));
    let fat32_len = le32(b, 0x24);
    let fat_len = if fat16_len == 0 { fat32_len } else { fat16_len };
    let fat_size = fat_len.checked_mul(fats)?;
    let dir_size = dir_entries
        .checked_mul(32)?
        .checked_add(sector.saturating_sub(1))?
        .checked_div(sector)?;
    let meta = reserved.checked_add(fat_size)?.checked_add(dir_size)?;
    let clusters = sectors.checked_sub(meta)?.checked_div(spc)?;
    let fat32 = fat16_len == 0 && fat32_len != 0;
    let max = if fat32 {
        FAT32_MAX
    } else if clusters > FAT12_MAX {
        FAT16_MAX
    } else {
        FAT12_MAX
    };
    if clusters > max {
        return None;
    }
    let mut s = sig(
        "vfat",
        "vfat",
        (sectors > 0).then(|| mul(u64::from(sectors), u64::from(sector))),
        MS_BASIC_DATA,
        if fat32 { 0x0C } else { 0x0E },
    );
    let (label_at, serial_at) = if fat32 { (0x47, 0x43) } else { (0x2B, 0x27) };
    s.label = text(bytes(b, label_at, 11)).filter(|l| l != "NO NAME");
    let serial = le32(b, serial_at);
    s.uuid = Some(format!("{:04X}-{:04X}", serial >> 16, serial & 0xFFFF));
    Some(s)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;
    use imgcheck_core::BytesReader;

    /// A FAT16 boot sector as mkfs.fat writes its BPB (16 MiB, 4 sectors
    /// per cluster).
    fn fat16() -> Vec<u8> {
        let mut d = vec![0u8; 16 << 20];
        d[0] = 0xEB;
        d[0x0B..0x0D].copy_from_slice(&512u16.to_le_bytes());
        d[0x0D] = 4;
        d[0x0E] = 4;
        d[0x10] = 2;
        d[0x11..0x13].copy_from_slice(&512u16.to_le_bytes());
        d[0x15] = 0xF8;
        d[0x16..0x18].copy_from_slice(&32u16.to_le_bytes());
        d[0x20..0x24].copy_from_slice(&32768u32.to_le_bytes());
        d[0x36..0x3E].copy_from_slice(b"FAT16   ");
        d[510] = 0x55;
        d[511] = 0xAA;
        d
    }

    #[test]
    fn fat_bpb_is_validated_as_blkid_does() {
        let d = fat16();
        let s = boot_volume(&BytesReader::new(d.clone())).unwrap().unwrap();
        assert_eq!((s.kind, s.size), ("vfat", Some(16 << 20)));
        // More clusters than FAT16 can address: not a FAT.
        let mut big = d.clone();
        big[0x0D] = 1;
        big[0x20..0x24].copy_from_slice(&0x0100_0000u32.to_le_bytes());
        assert!(boot_volume(&BytesReader::new(big)).unwrap().is_none());
        // No magic string, no jump, a boot signature: still checked.
        let mut weak = d.clone();
        weak[0] = 0;
        weak[0x36..0x3E].copy_from_slice(b"HPFS    ");
        assert!(boot_volume(&BytesReader::new(weak)).unwrap().is_none());
        // An MBR's boot code does not make a BPB.
        let mut mbr = vec![0u8; 4096];
        mbr[0] = 0xEB;
        mbr[510] = 0x55;
        mbr[511] = 0xAA;
        assert!(boot_volume(&BytesReader::new(mbr)).unwrap().is_none());
    }

    #[test]
    fn ntfs_needs_its_mft_records() {
        let mut d = vec![0u8; 1 << 20];
        d[3..11].copy_from_slice(b"NTFS    ");
        d[0x0B..0x0D].copy_from_slice(&512u16.to_le_bytes());
        d[0x0D] = 8;
        d[0x28..0x30].copy_from_slice(&2047u64.to_le_bytes());
        d[0x30..0x38].copy_from_slice(&4u64.to_le_bytes());
        d[0x38..0x40].copy_from_slice(&8u64.to_le_bytes());
        d[0x40] = 0xF6; // 1 KiB records
        d[510] = 0x55;
        d[511] = 0xAA;
        assert!(boot_volume(&BytesReader::new(d.clone())).unwrap().is_none());
        let mft = 4 * 8 * 512;
        d[mft..mft + 4].copy_from_slice(b"FILE");
        d[mft + 3072..mft + 3076].copy_from_slice(b"FILE");
        let s = boot_volume(&BytesReader::new(d)).unwrap().unwrap();
        assert_eq!((s.kind, s.size), ("ntfs", Some(2048 * 512)));
    }
}

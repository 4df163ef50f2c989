//! Directory entries: the 32-byte short entry, the long-name (LFN) slot,
//! short names as people read them, and FAT's packed dates and times.

use imgcheck_core::bytes::{arr, le16, le32, u8_at};
use serde::{Deserialize, Serialize};

/// Bytes per directory entry.
pub const ENTRY_LEN: usize = 32;
/// Read-only.
pub const ATTR_RO: u8 = 0x01;
/// Hidden.
pub const ATTR_HIDDEN: u8 = 0x02;
/// System.
pub const ATTR_SYS: u8 = 0x04;
/// Volume label (or, with the three above, a long-name slot).
pub const ATTR_VOLUME: u8 = 0x08;
/// Directory.
pub const ATTR_DIR: u8 = 0x10;
/// Archive.
pub const ATTR_ARCH: u8 = 0x20;
/// The attribute byte of a long-name slot.
pub const ATTR_LFN: u8 = 0x0F;
/// First name byte of a deleted entry.
pub const DELETED: u8 = 0xE5;
/// `BS_NTRes` bit: show the base name in lower case.
pub const NT_LOWER_BASE: u8 = 0x08;
/// `BS_NTRes` bit: show the extension in lower case.
pub const NT_LOWER_EXT: u8 = 0x10;
/// The `.` entry's name.
pub const DOT: [u8; 11] = *b".          ";
/// The `..` entry's name.
pub const DOTDOT: [u8; 11] = *b"..         ";

/// A short (8.3) directory entry, raw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawEntry {
    /// `DIR_Name`: 8 + 3 bytes, space padded; byte 0 is 0 (end), 0xE5
    /// (deleted) or 0x05 (a name starting with 0xE5).
    pub name: [u8; 11],
    /// `DIR_Attr`.
    pub attr: u8,
    /// `DIR_NTRes`: lower-case flags (0x08 base, 0x10 extension).
    pub nt_res: u8,
    /// `DIR_CrtTimeTenth`: 10 ms units, 0–199.
    pub ctime_tenth: u8,
    /// `DIR_CrtTime`.
    pub ctime: u16,
    /// `DIR_CrtDate`.
    pub cdate: u16,
    /// `DIR_LstAccDate`.
    pub adate: u16,
    /// `DIR_FstClusHI` (FAT32 only).
    pub cluster_hi: u16,
    /// `DIR_WrtTime`.
    pub wtime: u16,
    /// `DIR_WrtDate`.
    pub wdate: u16,
    /// `DIR_FstClusLO`.
    pub cluster_lo: u16,
    /// `DIR_FileSize`.
    pub size: u32,
}

impl RawEntry {
    /// The entry in `b` (32 bytes; a short buffer reads as zeros).
    pub fn parse(b: &[u8]) -> RawEntry {
        RawEntry {
            name: arr(b, 0),
            attr: u8_at(b, 11),
            nt_res: u8_at(b, 12),
            ctime_tenth: u8_at(b, 13),
            ctime: le16(b, 14),
            cdate: le16(b, 16),
            adate: le16(b, 18),
            cluster_hi: le16(b, 20),
            wtime: le16(b, 22),
            wdate: le16(b, 24),
            cluster_lo: le16(b, 26),
            size: le32(b, 28),
        }
    }

    /// Name byte 0 is 0: the end-of-directory mark (Windows stops here;
    /// Linux and fsck.fat read on).
    pub fn is_end(&self) -> bool {
        self.name[0] == 0
    }

    /// Free: end mark or deleted (fsck.fat's and Linux's `IS_FREE`).
    pub fn is_free(&self) -> bool {
        self.name[0] == 0 || self.name[0] == DELETED
    }

    /// A long-name slot.
    pub fn is_lfn(&self) -> bool {
        self.attr == ATTR_LFN
    }

    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.attr & ATTR_DIR != 0
    }

    /// A volume label (any entry with the volume bit that is not a slot).
    pub fn is_volume(&self) -> bool {
        !self.is_lfn() && self.attr & ATTR_VOLUME != 0
    }

    /// The first cluster; the high half counts only on FAT32 (FAT12/16
    /// use those bytes for other things, as fsck.fat's `FSTART`).
    pub fn first_cluster(&self, fat32: bool) -> u32 {
        let hi = if fat32 {
            u32::from(self.cluster_hi) << 16
        } else {
            0
        };
        hi | u32::from(self.cluster_lo)
    }

    /// The short-name checksum long-name slots carry (fatgen103).
    pub fn checksum(&self) -> u8 {
        lfn_checksum(&self.name)
    }

    /// The short name as people read it: `NAME.EXT`, padding dropped,
    /// 0x05 read as 0xE5, lower-case flags applied, bytes above 0x7F in
    /// code page 850 (the default of mkfs.vfat, fsck.fat and mtools).
    pub fn short_name(&self) -> String {
        let mut n = self.name;
        if n[0] == 0x05 {
            n[0] = DELETED;
        }
        let base: Vec<u8> = n.iter().take(8).copied().collect();
        let ext: Vec<u8> = n.iter().skip(8).copied().collect();
        let show = |part: &[u8], lower: bool| -> String {
            let end = part
                .iter()
                .rposition(|&c| c != b' ')
                .map_or(0, |p| p.saturating_add(1));
            part.iter()
                .take(end)
                .map(|&c| {
                    let ch = cp850(c);
                    if lower { ch.to_ascii_lowercase() } else { ch }
                })
                .collect()
        };
        let b = show(&base, self.nt_res & NT_LOWER_BASE != 0);
        let e = show(&ext, self.nt_res & NT_LOWER_EXT != 0);
        if e.is_empty() { b } else { format!("{b}.{e}") }
    }

    /// Last write time (Unix seconds, the clock as recorded: FAT keeps
    /// local time without a zone).
    pub fn written(&self) -> Option<i64> {
        fat_time(self.wdate, self.wtime, 0)
    }

    /// Creation time, when the writer recorded one.
    pub fn created(&self) -> Option<i64> {
        fat_time(self.cdate, self.ctime, self.ctime_tenth)
    }
}

/// The checksum of an 8.3 name that its long-name slots must carry.
pub fn lfn_checksum(name: &[u8; 11]) -> u8 {
    name.iter()
        .fold(0u8, |s, &b| ((s & 1) << 7 | s >> 1).wrapping_add(b))
}

/// A long-name slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LfnSlot {
    /// `LDIR_Ord`: bits 0–4 the sequence number, 0x40 the last (stored first).
    pub ord: u8,
    /// The 13 UTF-16 code units (5 at 1, 6 at 14, 2 at 28).
    pub units: [u16; 13],
    /// `LDIR_Type`, 0.
    pub kind: u8,
    /// `LDIR_Chksum`.
    pub checksum: u8,
    /// `LDIR_FstClusLO`, 0.
    pub cluster: u16,
}

impl LfnSlot {
    /// The slot in `b`.
    pub fn parse(b: &[u8]) -> LfnSlot {
        let mut units = [0u16; 13];
        let offs = [1usize, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];
        for (u, &o) in units.iter_mut().zip(offs.iter()) {
            *u = le16(b, o);
        }
        LfnSlot {
            ord: u8_at(b, 0),
            units,
            kind: u8_at(b, 12),
            checksum: u8_at(b, 13),
            cluster: le16(b, 26),
        }
    }

    /// The sequence number (bits 0–4).
    pub fn seq(&self) -> u8 {
        self.ord & 0x1F
    }

    /// Whether this slot carries the last part of the name (0x40).
    pub fn is_last(&self) -> bool {
        self.ord & 0x40 != 0
    }
}

/// UTF-16 code units up to the first NUL, as a string (lone surrogates
/// become U+FFFD).
pub fn utf16_until_nul(units: &[u16]) -> String {
    let end = units.iter().position(|&u| u == 0).unwrap_or(units.len());
    char::decode_utf16(units.iter().take(end).copied())
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// A FAT date and time as Unix seconds, or `None` when the date is 0 or
/// not a date (month 0 or 13–15, day 0).
pub fn fat_time(date: u16, time: u16, tenths: u8) -> Option<i64> {
    let day = i64::from(date & 0x1F);
    let month = i64::from((date >> 5) & 0x0F);
    let year = 1980i64.saturating_add(i64::from(date >> 9));
    if date == 0 || day == 0 || !(1..=12).contains(&month) {
        return None;
    }
    let secs = i64::from(time & 0x1F).saturating_mul(2);
    let min = i64::from((time >> 5) & 0x3F);
    let hour = i64::from(time >> 11);
    let days = days_from_civil(year, month, day);
    Some(
        days.saturating_mul(86_400)
            .saturating_add(hour.saturating_mul(3600))
            .saturating_add(min.saturating_mul(60))
            .saturating_add(secs)
            .saturating_add(i64::from(tenths / 100)),
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant).
// The inputs are bounded (year 1980–2107, month 1–12, day 1–31), so the
// arithmetic cannot overflow.
#[allow(clippy::arithmetic_side_effects)]
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Code page 850, the upper half.
const CP850_HIGH: [char; 128] = [
    'Ç', 'ü', 'é', 'â', 'ä', 'à', 'å', 'ç', 'ê', 'ë', 'è', 'ï', 'î', 'ì', 'Ä', 'Å', 'É', 'æ', 'Æ',
    'ô', 'ö', 'ò', 'û', 'ù', 'ÿ', 'Ö', 'Ü', 'ø', '£', 'Ø', '×', 'ƒ', 'á', 'í', 'ó', 'ú', 'ñ', 'Ñ',
    'ª', 'º', '¿', '®', '¬', '½', '¼', '¡', '«', '»', '░', '▒', '▓', '│', '┤', 'Á', 'Â', 'À', '©',
    '╣', '║', '╗', '╝', '¢', '¥', '┐', '└', '┴', '┬', '├', '─', '┼', 'ã', 'Ã', '╚', '╔', '╩', '╦',
    '╠', '═', '╬', '¤', 'ð', 'Ð', 'Ê', 'Ë', 'È', 'ı', 'Í', 'Î', 'Ï', '┘', '┌', '█', '▄', '¦', 'Ì',
    '▀', 'Ó', 'ß', 'Ô', 'Ò', 'õ', 'Õ', 'µ', 'þ', 'Þ', 'Ú', 'Û', 'Ù', 'ý', 'Ý', '¯', '´', '\u{AD}',
    '±', '‗', '¾', '¶', '§', '÷', '¸', '°', '¨', '·', '¹', '³', '²', '■', '\u{A0}',
];

/// One byte of a short name or label as a character (ASCII, or code page
/// 850 above 0x7F; control bytes as U+FFFD).
pub fn cp850(b: u8) -> char {
    if b < 0x20 {
        char::REPLACEMENT_CHARACTER
    } else if b < 0x80 {
        char::from(b)
    } else {
        CP850_HIGH
            .get(usize::from(b & 0x7F))
            .copied()
            .unwrap_or(char::REPLACEMENT_CHARACTER)
    }
}

/// An 11-byte label as people read it (trailing spaces dropped).
pub fn label_text(l: &[u8; 11]) -> String {
    let end = l
        .iter()
        .rposition(|&c| c != b' ')
        .map_or(0, |p| p.saturating_add(1));
    l.iter().take(end).map(|&c| cp850(c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_the_specs_example() {
        // boot.md [ran]: ALONGF~1TXT has checksum 0x02.
        assert_eq!(lfn_checksum(b"ALONGF~1TXT"), 0x02);
    }

    #[test]
    fn short_names_read_as_tools_show_them() {
        let mut b = [b' '; 32];
        b[..11].copy_from_slice(b"EMPTY   DAT");
        b[11] = ATTR_ARCH;
        b[12] = NT_LOWER_BASE | NT_LOWER_EXT;
        let e = RawEntry::parse(&b);
        assert_eq!(e.short_name(), "empty.dat");
        b[..11].copy_from_slice(b"\x05BC     TXT");
        b[12] = 0;
        assert_eq!(RawEntry::parse(&b).short_name(), "ÕBC.TXT");
        b[..11].copy_from_slice(b"README     ");
        assert_eq!(RawEntry::parse(&b).short_name(), "README");
        assert_eq!(label_text(b"NO NAME    "), "NO NAME");
        assert_eq!(cp850(0x9A), 'Ü');
    }

    #[test]
    fn dates_decode_and_reject_nonsense() {
        // 2025-11-13 10:00:00: date (45<<9)|(11<<5)|13, time 10<<11.
        let d = (45 << 9) | (11 << 5) | 13;
        assert_eq!(fat_time(d, 10 << 11, 0), Some(1_763_028_000));
        assert_eq!(fat_time(0, 0, 0), None);
        assert_eq!(fat_time((45 << 9) | (13 << 5) | 1, 0, 0), None);
        assert_eq!(fat_time(0x21, 0, 0), Some(315_532_800)); // 1980-01-01
    }

    #[test]
    fn lfn_slot_units() {
        let mut b = [0xFFu8; 32];
        b[0] = 0x41;
        for (i, o) in [1usize, 3, 5, 7, 9].iter().enumerate() {
            b[*o] = b'a' + u8::try_from(i).unwrap();
            b[o + 1] = 0;
        }
        b[11] = ATTR_LFN;
        b[12] = 0;
        b[13] = 0x02;
        b[14] = 0;
        b[15] = 0;
        b[26] = 0;
        b[27] = 0;
        let s = LfnSlot::parse(&b);
        assert!(s.is_last() && s.seq() == 1);
        assert_eq!(utf16_until_nul(&s.units), "abcde");
    }
}

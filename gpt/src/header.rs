//! One copy of the GPT: its header and its partition entry array, each
//! parsed and verified on its own so that a bad primary never hides (or is
//! hidden by) a good backup.

use crate::guid::{Guid, type_name};
use crate::tables::{Got, Unreadable, read_noted};
use crate::util::{crc32, mul};
use imgcheck_core::bytes::{arr, bytes, le16, le32, le64, u64_of, usize_of};
use imgcheck_core::{Layer, ReadAt};
use serde::Serialize;

/// `"EFI PART"`.
pub const SIGNATURE: &[u8; 8] = b"EFI PART";
/// The only revision the specification defines (1.0).
pub const REVISION_1_0: u32 = 0x0001_0000;
/// Minimum (and usual) header size.
pub const MIN_HEADER_SIZE: u32 = 92;
/// The usual entry size.
pub const ENTRY_SIZE: u32 = 128;
/// Largest entry array read (num_partition_entries × sizeof_partition_entry).
/// 128 × 128 B is 16 KiB; 1 MiB allows 8192 standard entries, far past any
/// real table, while a hostile header cannot make us allocate more.
pub const MAX_ENTRY_ARRAY_BYTES: u64 = 1 << 20;
/// Minimum entry array size the specification requires.
pub const MIN_ENTRY_ARRAY_BYTES: u64 = 16384;

/// Which copy of the GPT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The primary at LBA 1.
    Primary,
    /// The backup, normally at the last LBA.
    Backup,
}

impl Role {
    /// `primary` / `backup`, as used in finding codes.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Backup => "backup",
        }
    }
}

/// A GPT header, field names as in the UEFI specification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GptHeader {
    /// Bytes 0..8 match `"EFI PART"`.
    pub signature_ok: bool,
    /// 0x00010000 for 1.0.
    pub revision: u32,
    /// Bytes covered by the header CRC.
    pub header_size: u32,
    /// Stored header CRC32.
    pub header_crc32: u32,
    /// CRC32 computed over the header (with the CRC field zeroed).
    pub computed_header_crc32: u32,
    /// Reserved u32 at 0x14, must be zero.
    pub reserved: u32,
    /// LBA of this header.
    pub my_lba: u64,
    /// LBA of the other header.
    pub alternate_lba: u64,
    /// First LBA a partition may use.
    pub first_usable_lba: u64,
    /// Last LBA a partition may use (inclusive).
    pub last_usable_lba: u64,
    /// Disk GUID.
    pub disk_guid: Guid,
    /// LBA of this copy's entry array.
    pub partition_entry_lba: u64,
    /// Number of entries in the array.
    pub num_partition_entries: u32,
    /// Size of each entry.
    pub sizeof_partition_entry: u32,
    /// Stored CRC32 of the entry array.
    pub partition_entry_array_crc32: u32,
}

impl GptHeader {
    /// Parses a header out of one logical sector (`sector.len()` = sector
    /// size). Computes the CRC over `header_size` bytes when that is in
    /// 92..=sector size, else over 92 (as gdisk does).
    pub fn parse(sector: &[u8]) -> GptHeader {
        let header_size = le32(sector, 0x0C);
        let crc_len =
            if header_size >= MIN_HEADER_SIZE && u64::from(header_size) <= u64_of(sector.len()) {
                header_size
            } else {
                MIN_HEADER_SIZE
            };
        let mut h = bytes(sector, 0, usize_of(u64::from(crc_len))).to_vec();
        if let Some(field) = h.get_mut(0x10..0x14) {
            field.fill(0);
        }
        GptHeader {
            signature_ok: bytes(sector, 0, 8) == SIGNATURE,
            revision: le32(sector, 0x08),
            header_size,
            header_crc32: le32(sector, 0x10),
            computed_header_crc32: crc32(&h),
            reserved: le32(sector, 0x14),
            my_lba: le64(sector, 0x18),
            alternate_lba: le64(sector, 0x20),
            first_usable_lba: le64(sector, 0x28),
            last_usable_lba: le64(sector, 0x30),
            disk_guid: Guid(arr(sector, 0x38)),
            partition_entry_lba: le64(sector, 0x48),
            num_partition_entries: le32(sector, 0x50),
            sizeof_partition_entry: le32(sector, 0x54),
            partition_entry_array_crc32: le32(sector, 0x58),
        }
    }

    /// Whether the stored header CRC matches.
    pub fn crc_ok(&self) -> bool {
        self.header_crc32 == self.computed_header_crc32
    }

    /// Whether header_size is within 92..=sector size.
    pub fn header_size_ok(&self, sector_size: u64) -> bool {
        self.header_size >= MIN_HEADER_SIZE && u64::from(self.header_size) <= sector_size
    }

    /// Whether the entry size is 128 × 2ⁿ (the specification's rule).
    pub fn entry_size_ok(&self) -> bool {
        self.sizeof_partition_entry >= ENTRY_SIZE && self.sizeof_partition_entry.is_power_of_two()
    }

    /// Size in bytes of the entry array (saturating).
    pub fn entry_array_bytes(&self) -> u64 {
        u64::from(self.num_partition_entries).saturating_mul(u64::from(self.sizeof_partition_entry))
    }

    /// Sectors the entry array occupies (rounded up).
    pub fn entry_array_sectors(&self, sector_size: u64) -> u64 {
        self.entry_array_bytes().div_ceil(sector_size.max(1))
    }
}

/// One used partition entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GptEntry {
    /// 1-based index in the array (the partition number).
    pub index: u32,
    /// Partition type GUID.
    pub type_guid: Guid,
    /// Name of the type, when known.
    pub type_name: Option<&'static str>,
    /// Unique partition GUID.
    pub unique_guid: Guid,
    /// First LBA.
    pub starting_lba: u64,
    /// Last LBA, inclusive.
    pub ending_lba: u64,
    /// Attribute bits (0 required, 1 no block IO, 2 legacy BIOS bootable,
    /// 48..63 type-specific).
    pub attributes: u64,
    /// Name (UTF-16LE up to the first NUL, lossy).
    pub name: String,
}

impl GptEntry {
    /// Parses the entry with 1-based `index` from its `raw` bytes; `None`
    /// when unused (zero type GUID).
    pub fn parse(raw: &[u8], index: u32) -> Option<GptEntry> {
        let type_guid = Guid(arr(raw, 0));
        if type_guid.is_zero() {
            return None;
        }
        let units: Vec<u16> = bytes(raw, 0x38, 72)
            .chunks_exact(2)
            .map(|c| le16(c, 0))
            .take_while(|&u| u != 0)
            .collect();
        Some(GptEntry {
            index,
            type_name: type_name(&type_guid),
            type_guid,
            unique_guid: Guid(arr(raw, 0x10)),
            starting_lba: le64(raw, 0x20),
            ending_lba: le64(raw, 0x28),
            attributes: le64(raw, 0x30),
            name: String::from_utf16_lossy(&units),
        })
    }

    /// Number of sectors (0 when it ends before it starts).
    pub fn sectors(&self) -> u64 {
        self.ending_lba
            .checked_sub(self.starting_lba)
            .map_or(0, |d| d.saturating_add(1))
    }

    /// Names of the set attribute bits.
    pub fn attribute_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for bit in 0..64u32 {
            if self.attributes & (1u64 << bit) == 0 {
                continue;
            }
            out.push(match bit {
                0 => "required".to_string(),
                1 => "no-block-io".to_string(),
                2 => "legacy-bios-bootable".to_string(),
                60 => "read-only".to_string(),
                62 => "hidden".to_string(),
                63 => "no-automount".to_string(),
                b => format!("bit{b}"),
            });
        }
        out
    }
}

/// A copy's entry array.
#[derive(Debug, Clone, Serialize)]
pub struct EntryArray {
    /// LBA it was read from.
    pub lba: u64,
    /// CRC32 computed over num × size bytes.
    pub computed_crc32: u32,
    /// Whether it matches the header's stored value.
    pub crc_ok: bool,
    /// Used entries.
    pub entries: Vec<GptEntry>,
    /// The raw bytes, for comparing primary with backup.
    #[serde(skip)]
    pub raw: Vec<u8>,
}

/// Why a copy's entry array could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntriesUnread {
    /// num × size is over [`MAX_ENTRY_ARRAY_BYTES`].
    TooLarge,
    /// The entry size is not 128 × 2ⁿ.
    BadEntrySize,
    /// The array lies (partly) beyond the end of the disk.
    BeyondDisk,
    /// The array lies on the disk but reading it failed (I/O error, a
    /// layer below, the work bound): its contents are unknown.
    Unreadable,
}

/// One GPT copy as found on disk.
#[derive(Debug, Clone, Serialize)]
pub struct GptCopy {
    /// Primary or backup.
    pub role: Role,
    /// LBA it was read at.
    pub lba: u64,
    /// The header.
    pub header: GptHeader,
    /// The entry array, when it could be read.
    pub entries: Option<EntryArray>,
    /// Why the entries were not read.
    pub entries_unread: Option<EntriesUnread>,
}

impl GptCopy {
    /// Whether the header alone is usable: signature, CRC, header size, entry
    /// size, and a self-pointer equal to where it was read.
    pub fn header_valid(&self, sector_size: u64) -> bool {
        let h = &self.header;
        h.signature_ok
            && h.crc_ok()
            && h.header_size_ok(sector_size)
            && h.entry_size_ok()
            && h.my_lba == self.lba
    }

    /// Whether header and entries are both good.
    pub fn valid(&self, sector_size: u64) -> bool {
        self.header_valid(sector_size) && self.entries.as_ref().is_some_and(|e| e.crc_ok)
    }

    /// Reads the copy at `lba`; `None` when the sector is beyond the disk,
    /// cannot be read ([`crate::parse`] reports that), or holds no
    /// `"EFI PART"` signature (nothing to report about it as a header: the
    /// caller reports the absence).
    pub fn read<R: ReadAt + ?Sized>(
        r: &R,
        role: Role,
        lba: u64,
        sector_size: u64,
    ) -> Option<GptCopy> {
        Self::read_noted(r, role, lba, sector_size, &mut Vec::new())
    }

    /// [`GptCopy::read`], noting the reads that failed (the header sector,
    /// or the entry array: then [`EntriesUnread::Unreadable`]) in `unread`.
    pub(crate) fn read_noted<R: ReadAt + ?Sized>(
        r: &R,
        role: Role,
        lba: u64,
        sector_size: u64,
        unread: &mut Vec<Unreadable>,
    ) -> Option<GptCopy> {
        let r_name = role.as_str();
        let Got::Bytes(sector) = read_noted(
            r,
            mul(lba, sector_size),
            sector_size,
            4096,
            || format!("{r_name} GPT header (LBA {lba})"),
            Layer::GPT,
            unread,
        ) else {
            return None;
        };
        let header = GptHeader::parse(&sector);
        if !header.signature_ok {
            return None;
        }
        let mut copy = GptCopy {
            role,
            lba,
            header,
            entries: None,
            entries_unread: None,
        };
        let h = &copy.header;
        if !h.entry_size_ok() {
            copy.entries_unread = Some(EntriesUnread::BadEntrySize);
            return Some(copy);
        }
        let len = h.entry_array_bytes();
        if len > MAX_ENTRY_ARRAY_BYTES {
            copy.entries_unread = Some(EntriesUnread::TooLarge);
            return Some(copy);
        }
        let elba = h.partition_entry_lba;
        let raw = match read_noted(
            r,
            mul(elba, sector_size),
            len,
            MAX_ENTRY_ARRAY_BYTES,
            || format!("{r_name} partition entry array (LBA {elba}, {len} bytes)"),
            Layer::GPT,
            unread,
        ) {
            Got::Bytes(b) => b,
            Got::Absent => {
                copy.entries_unread = Some(EntriesUnread::BeyondDisk);
                return Some(copy);
            }
            Got::Unreadable => {
                copy.entries_unread = Some(EntriesUnread::Unreadable);
                return Some(copy);
            }
        };
        let computed = crc32(&raw);
        let size = usize_of(u64::from(h.sizeof_partition_entry));
        let entries = raw
            .chunks_exact(size.max(1))
            .zip(1u32..)
            .filter_map(|(e, i)| GptEntry::parse(e, i))
            .collect();
        copy.entries = Some(EntryArray {
            lba: h.partition_entry_lba,
            computed_crc32: computed,
            crc_ok: computed == h.partition_entry_array_crc32,
            entries,
            raw,
        });
        Some(copy)
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::as_conversions)]
mod tests {
    use super::*;

    #[test]
    fn header_crc_covers_header_size_with_field_zeroed() {
        let mut s = vec![0u8; 512];
        s[..8].copy_from_slice(SIGNATURE);
        s[0x0C..0x10].copy_from_slice(&92u32.to_le_bytes());
        let mut z = s[..92].to_vec();
        z[0x10..0x14].fill(0);
        let c = crc32(&z);
        s[0x10..0x14].copy_from_slice(&c.to_le_bytes());
        s[200] = 0xFF; // beyond header_size: not covered
        let h = GptHeader::parse(&s);
        assert!(h.signature_ok && h.crc_ok());
        s[40] ^= 1;
        assert!(!GptHeader::parse(&s).crc_ok());
    }

    #[test]
    fn entry_name_and_range() {
        let mut raw = vec![0u8; 128];
        raw[0] = 1;
        raw[0x20..0x28].copy_from_slice(&10u64.to_le_bytes());
        raw[0x28..0x30].copy_from_slice(&19u64.to_le_bytes());
        for (i, c) in "héllo".encode_utf16().enumerate() {
            raw[0x38 + 2 * i..0x3A + 2 * i].copy_from_slice(&c.to_le_bytes());
        }
        let e = GptEntry::parse(&raw, 3).unwrap();
        assert_eq!((e.index, e.sectors(), e.name.as_str()), (3, 10, "héllo"));
        assert!(GptEntry::parse(&[0u8; 128], 1).is_none());
    }
}

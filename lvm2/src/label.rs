//! The PV label (`lib/label/label.h`) and PV header
//! (`lib/format_text/layout.h`): `LABELONE` in one of the first four
//! 512-byte sectors, its CRC from `offset_xl` to the end of the sector,
//! then at `offset_xl` the pv_header: the PV UUID, the device size and two
//! zero-terminated lists of disk locations (data areas, metadata areas),
//! then the pv_header_extension (version, flags, bootloader areas).

use crate::crc::{INITIAL_CRC, calc_crc};
use crate::metadata::dashed_uuid;
use imgcheck_core::bytes::{bytes, le32, le64};
use serde::Serialize;

/// Size of a label sector.
pub const LABEL_SIZE: usize = 512;
/// Sectors lvm scans for a label (`LABEL_SCAN_SECTORS`).
pub const LABEL_SCAN_SECTORS: u64 = 4;
/// `LABEL_ID`.
pub const LABEL_ID: &[u8; 8] = b"LABELONE";
/// `LVM2_LABEL` (the type field).
pub const LVM2_LABEL: &[u8; 8] = b"LVM2 001";
/// Bytes of label_header: id, sector_xl, crc_xl, offset_xl, type.
const LABEL_HEADER: usize = 32;
/// Bytes of one disk_locn {offset, size}.
const DISK_LOCN: usize = 16;
/// Bytes of pv_uuid + device_size_xl.
const PV_HEADER_FIXED: usize = 40;
/// Where crc_xl's coverage starts (`offset_xl`).
const CRC_FROM: usize = 20;

/// The label header found in one of the first four sectors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    /// The sector it was found in.
    pub sector: u64,
    /// `sector_xl`: the sector it says it is in.
    pub sector_xl: u64,
    /// `crc_xl` as stored.
    pub crc_stored: u32,
    /// The CRC computed over bytes 20..512 of the sector.
    pub crc_computed: u32,
    /// `offset_xl`: where the pv_header starts in the sector.
    pub offset_xl: u32,
    /// `type` (`LVM2 001`).
    pub label_type: String,
}

impl Label {
    /// Byte offset of the label in the device.
    pub fn at(&self) -> u64 {
        self.sector.saturating_mul(512)
    }
    /// Whether the stored CRC matches.
    pub fn crc_ok(&self) -> bool {
        self.crc_stored == self.crc_computed
    }
}

/// A `disk_locn`: a byte range of the device; `size` 0 means "to the end".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DiskLocn {
    /// First byte.
    pub offset: u64,
    /// Length in bytes, 0 for "to the end of the device" (data areas).
    pub size: u64,
}

/// The PV header after the label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PvHeader {
    /// PV UUID, dashed as lvm prints it.
    pub uuid: String,
    /// `pv_uuid` exactly as stored (32 bytes, not always printable).
    pub uuid_raw: Vec<u8>,
    /// Device size in bytes when lvm wrote the header.
    pub device_size: u64,
    /// Data areas (one, normally: from pe_start, size 0).
    pub data_areas: Vec<DiskLocn>,
    /// Metadata areas (0, 1 or 2: at 4 KiB, and at the end with
    /// `--pvmetadatacopies 2`).
    pub metadata_areas: Vec<DiskLocn>,
    /// The pv_header_extension, when written (lvm2 ≥ 2.02.116).
    pub extension: Option<PvHeaderExtension>,
    /// A location list ran to the end of the sector without its terminator.
    pub truncated: bool,
}

/// `pv_header_extension`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PvHeaderExtension {
    /// Version (2 has flags).
    pub version: u32,
    /// Flags (1 = PV_EXT_USED: the PV belongs to a VG).
    pub flags: u32,
    /// Bootloader areas.
    pub bootloader_areas: Vec<DiskLocn>,
}

impl PvHeader {
    /// Whether the UUID is 32 characters of LVM's alphabet.
    pub fn uuid_printable(&self) -> bool {
        self.uuid_raw.iter().all(|b| b.is_ascii_alphanumeric())
    }
}

/// What the first four sectors hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelRead {
    /// The label, when `LABELONE` was found (CRC good or not).
    pub label: Option<Label>,
    /// The PV header, when a label was found.
    pub header: Option<PvHeader>,
    /// More than one sector held `LABELONE` (lvm uses the first).
    pub extra_labels: Vec<u64>,
}

/// Reads the first four sectors of `sectors` (2048 bytes, or fewer when
/// the device is shorter) for a label and its PV header.
pub fn read_label(sectors: &[u8]) -> LabelRead {
    let mut label = None;
    let mut header = None;
    let mut extra = Vec::new();
    for s in 0..LABEL_SCAN_SECTORS {
        let off = usize::try_from(s).unwrap_or(0).saturating_mul(LABEL_SIZE);
        let sec = bytes(sectors, off, LABEL_SIZE);
        if sec.len() < LABEL_SIZE || bytes(sec, 0, 8) != LABEL_ID {
            continue;
        }
        if label.is_some() {
            extra.push(s);
            continue;
        }
        let l = Label {
            sector: s,
            sector_xl: le64(sec, 8),
            crc_stored: le32(sec, 16),
            crc_computed: calc_crc(INITIAL_CRC, bytes(sec, CRC_FROM, LABEL_SIZE - CRC_FROM)),
            offset_xl: le32(sec, 20),
            label_type: String::from_utf8_lossy(bytes(sec, 24, 8)).into_owned(),
        };
        header = pv_header(sec, l.offset_xl);
        label = Some(l);
    }
    LabelRead {
        label,
        header,
        extra_labels: extra,
    }
}

/// The PV header at `offset_xl` of the label sector `sec`, or `None` when
/// it would not fit in the sector.
fn pv_header(sec: &[u8], offset_xl: u32) -> Option<PvHeader> {
    let start = usize::try_from(offset_xl).ok()?;
    if start < LABEL_HEADER || start.checked_add(PV_HEADER_FIXED)? > sec.len() {
        return None;
    }
    let uuid_raw = bytes(sec, start, 32).to_vec();
    let device_size = le64(sec, start.saturating_add(32));
    let mut at = start.saturating_add(PV_HEADER_FIXED);
    let mut truncated = false;
    let mut list = |at: &mut usize| {
        let mut v = Vec::new();
        loop {
            if at.saturating_add(DISK_LOCN) > sec.len() {
                truncated = true;
                break;
            }
            let d = DiskLocn {
                offset: le64(sec, *at),
                size: le64(sec, at.saturating_add(8)),
            };
            *at = at.saturating_add(DISK_LOCN);
            if d.offset == 0 {
                break;
            }
            v.push(d);
        }
        v
    };
    let data_areas = list(&mut at);
    let metadata_areas = list(&mut at);
    let extension = if at.saturating_add(8) <= sec.len() {
        let version = le32(sec, at);
        let flags = le32(sec, at.saturating_add(4));
        at = at.saturating_add(8);
        (version != 0).then(|| PvHeaderExtension {
            version,
            flags,
            bootloader_areas: list(&mut at),
        })
    } else {
        None
    };
    Some(PvHeader {
        uuid: dashed_uuid(&String::from_utf8_lossy(&uuid_raw)),
        uuid_raw,
        device_size,
        data_areas,
        metadata_areas,
        extension,
        truncated,
    })
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::as_conversions)]
mod tests {
    use super::*;

    /// A label sector as lvm writes one.
    pub(crate) fn sector(
        uuid: &[u8; 32],
        dev: u64,
        data: &[(u64, u64)],
        mda: &[(u64, u64)],
    ) -> Vec<u8> {
        let mut s = vec![0u8; 512];
        s[..8].copy_from_slice(LABEL_ID);
        s[8..16].copy_from_slice(&1u64.to_le_bytes());
        s[20..24].copy_from_slice(&32u32.to_le_bytes());
        s[24..32].copy_from_slice(LVM2_LABEL);
        s[32..64].copy_from_slice(uuid);
        s[64..72].copy_from_slice(&dev.to_le_bytes());
        let mut at = 72;
        for list in [data, mda] {
            for &(o, z) in list.iter().chain([(0u64, 0u64)].iter()) {
                s[at..at + 8].copy_from_slice(&o.to_le_bytes());
                s[at + 8..at + 16].copy_from_slice(&z.to_le_bytes());
                at += 16;
            }
        }
        s[at..at + 4].copy_from_slice(&2u32.to_le_bytes());
        s[at + 4..at + 8].copy_from_slice(&1u32.to_le_bytes());
        let crc = calc_crc(INITIAL_CRC, &s[20..]);
        s[16..20].copy_from_slice(&crc.to_le_bytes());
        s
    }

    #[test]
    fn label_in_sector_one() {
        let mut d = vec![0u8; 512];
        d.extend(sector(
            b"FoTxAFs9jlNgbLRScF8PVEKmHT7Dq3KD",
            16 << 20,
            &[(1 << 20, 0)],
            &[(4096, 1044480)],
        ));
        d.extend(vec![0u8; 1024]);
        let r = read_label(&d);
        let l = r.label.unwrap();
        assert_eq!((l.sector, l.sector_xl, l.offset_xl), (1, 1, 32));
        assert!(l.crc_ok());
        let h = r.header.unwrap();
        assert_eq!(h.uuid, "FoTxAF-s9jl-NgbL-RScF-8PVE-KmHT-7Dq3KD");
        assert_eq!(
            h.data_areas,
            [DiskLocn {
                offset: 1 << 20,
                size: 0
            }]
        );
        assert_eq!(
            h.metadata_areas,
            [DiskLocn {
                offset: 4096,
                size: 1044480
            }]
        );
        assert_eq!(h.extension.unwrap().flags, 1);
        d[600] ^= 1;
        assert!(!read_label(&d).label.unwrap().crc_ok());
    }

    #[test]
    fn short_or_hostile_sectors() {
        assert_eq!(read_label(&[]).label, None);
        let mut s = sector(b"FoTxAFs9jlNgbLRScF8PVEKmHT7Dq3KD", 1, &[], &[]);
        s[20..24].copy_from_slice(&500u32.to_le_bytes());
        let r = read_label(&s);
        assert!(
            r.label.is_some() && r.header.is_none(),
            "pv_header past the sector"
        );
        // A location list with no terminator stops at the sector's end.
        let mut s = sector(b"FoTxAFs9jlNgbLRScF8PVEKmHT7Dq3KD", 1, &[], &[]);
        for b in s[72..].iter_mut() {
            *b = 0x11;
        }
        let h = read_label(&s).header.unwrap();
        assert!(h.truncated && h.data_areas.len() == (512 - 72) / 16);
    }
}

//! Header extensions: `{u32 type, u32 len, data}` records padded to 8
//! bytes, from the end of the fixed fields to the backing file name (or
//! the end of cluster 0).

use super::string_at;
use crate::error::Error;
use crate::limits::*;
use imgcheck_core::bytes::{be32, be64, u8_at, u64_of, usize_of};
use imgcheck_core::{Finding, Layer, Space};
use serde::Serialize;

/// Header extension type: end of the extension area.
pub const EXT_END: u32 = 0;
/// Header extension type: backing file format name.
pub const EXT_BACKING_FORMAT: u32 = 0xe279_2aca;
/// Header extension type: feature name table.
pub const EXT_FEATURE_TABLE: u32 = 0x6803_f857;
/// Header extension type: persistent bitmaps.
pub const EXT_BITMAPS: u32 = 0x2385_2875;
/// Header extension type: full disk encryption header pointer.
pub const EXT_CRYPTO: u32 = 0x0537_be77;
/// Header extension type: external data file name.
pub const EXT_DATA_FILE: u32 = 0x4441_5441;

/// One entry of the feature name table extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeatureName {
    /// 0 incompatible, 1 compatible, 2 autoclear.
    pub feature_type: u8,
    /// Bit number.
    pub bit: u8,
    /// Name, up to 46 bytes, NULs stripped.
    pub name: String,
}

/// The bitmaps header extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BitmapsExt {
    /// Number of bitmaps in the directory.
    pub nb_bitmaps: u32,
    /// Size of the bitmap directory in bytes.
    pub bitmap_directory_size: u64,
    /// File offset of the bitmap directory.
    pub bitmap_directory_offset: u64,
}

/// The full disk encryption header extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CryptoExt {
    /// File offset of the encryption (LUKS) header.
    pub offset: u64,
    /// Its length in bytes.
    pub length: u64,
}

/// A header extension of a type this crate does not interpret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UnknownExt {
    /// Extension type.
    pub ext_type: u32,
    /// Data length.
    pub len: u32,
    /// File offset of the extension's data.
    pub offset: u64,
}

/// Every header extension found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Extensions {
    /// Backing file format (`qcow2`, `raw` …).
    pub backing_format: Option<String>,
    /// Feature name table.
    pub feature_names: Vec<FeatureName>,
    /// Persistent bitmaps.
    pub bitmaps: Option<BitmapsExt>,
    /// Encryption header location.
    pub crypto: Option<CryptoExt>,
    /// External data file name.
    pub data_file: Option<String>,
    /// Extensions of unknown type.
    pub unknown: Vec<UnknownExt>,
}

pub(super) fn parse_extensions(
    c0: &[u8],
    start: u64,
    ext_end: u64,
    findings: &mut Vec<Finding>,
) -> Result<Extensions, Error> {
    let mut ext = Extensions::default();
    let mut seen: Vec<u32> = Vec::new();
    let end = ext_end.min(u64_of(c0.len()));
    let mut off = start;
    // Each step advances by at least 8 bytes, so at most end/8 rounds.
    while off.saturating_add(8) <= end {
        let at = usize_of(off);
        let ext_type = be32(c0, at);
        let len = be32(c0, at.saturating_add(4));
        if ext_type == EXT_END {
            break;
        }
        let data_off = off.saturating_add(8);
        let room = end.saturating_sub(data_off);
        if u64::from(len) > room || len > MAX_EXTENSION_BYTES {
            return Err(Error::LimitExceeded {
                structure: "header extension",
                offset: off.saturating_add(4),
                value: u64::from(len),
                limit: room.min(u64::from(MAX_EXTENSION_BYTES)),
            });
        }
        if seen.contains(&ext_type) {
            findings.push(Finding::warning(
                "qcow2.header.extension_repeated",
                Layer::QCOW2,
                off,
                Space::File,
                format!("header extension {ext_type:#010x} appears more than once (again at offset {off}); the last one is used"),
            ));
        } else {
            seen.push(ext_type);
        }
        let d = usize_of(data_off);
        let dlen = usize_of(u64::from(len));
        match ext_type {
            EXT_BACKING_FORMAT => ext.backing_format = Some(string_at(c0, d, dlen)),
            EXT_DATA_FILE => ext.data_file = Some(string_at(c0, d, dlen)),
            EXT_FEATURE_TABLE => {
                ext.feature_names.clear();
                // 48-byte entries; bounded by len.
                for i in 0..dlen / 48 {
                    let e = d.saturating_add(i.saturating_mul(48));
                    ext.feature_names.push(FeatureName {
                        feature_type: u8_at(c0, e),
                        bit: u8_at(c0, e.saturating_add(1)),
                        name: string_at(c0, e.saturating_add(2), 46),
                    });
                }
            }
            EXT_BITMAPS => {
                if len < 24 {
                    findings.push(Finding::error(
                        "qcow2.bitmaps.extension_size",
                        Layer::QCOW2,
                        off,
                        Space::File,
                        format!("bitmaps header extension is {len} bytes, expected 24"),
                    ));
                } else {
                    ext.bitmaps = Some(BitmapsExt {
                        nb_bitmaps: be32(c0, d),
                        bitmap_directory_size: be64(c0, d.saturating_add(8)),
                        bitmap_directory_offset: be64(c0, d.saturating_add(16)),
                    });
                }
            }
            EXT_CRYPTO => {
                if len < 16 {
                    findings.push(Finding::error(
                        "qcow2.crypto.extension_size",
                        Layer::QCOW2,
                        off,
                        Space::File,
                        format!("encryption header extension is {len} bytes, expected 16"),
                    ));
                } else {
                    ext.crypto = Some(CryptoExt {
                        offset: be64(c0, d),
                        length: be64(c0, d.saturating_add(8)),
                    });
                }
            }
            _ => ext.unknown.push(UnknownExt {
                ext_type,
                len,
                offset: data_off,
            }),
        }
        off = data_off.saturating_add(u64::from(len).next_multiple_of(8));
    }
    Ok(ext)
}

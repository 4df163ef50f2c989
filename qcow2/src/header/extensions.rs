//! Header extensions: `{u32 type, u32 len, data}` records padded to 8
//! bytes, from the end of the fixed fields to the backing file name (or
//! the end of cluster 0).

use super::features::AUTOCLEAR_BITMAPS;
use super::{Header, Refusal, refuse, string_at};
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
    /// File offset of the external data file name extension.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_file_offset: Option<u64>,
    /// Extensions of unknown type.
    pub unknown: Vec<UnknownExt>,
}

/// Reads the extensions from `start` to `ext_end` of cluster 0 (`c0`,
/// zero-filled past the end of the file as QEMU reads it) the way QEMU's
/// `qcow2_read_extensions` does. An extension QEMU refuses to open is an
/// error finding and a refusal, and parsing stops there, as QEMU's does.
pub(super) fn parse_extensions(
    c0: &[u8],
    h: &Header,
    start: u64,
    ext_end: u64,
    findings: &mut Vec<Finding>,
    refusals: &mut Vec<Refusal>,
) -> Extensions {
    let mut ext = Extensions::default();
    let mut seen: Vec<u32> = Vec::new();
    let cs = h.cluster_size();
    let end = ext_end.min(u64_of(c0.len()));
    let mut refuse_at = |code, at: u64, qemu: &str, msg: String| {
        refuse(findings, refusals, code, at, qemu, msg);
    };
    let mut warnings = Vec::new();
    let mut off = start;
    // Each round advances by at least 8 bytes, so at most end/8 rounds.
    while off < end {
        let at = usize_of(off);
        let ext_type = be32(c0, at);
        let len = be32(c0, at.saturating_add(4));
        let data_off = off.saturating_add(8);
        if data_off > end || u64::from(len) > end.saturating_sub(data_off) {
            refuse_at(
                "qcow2.header.extension_too_large",
                off,
                "Header extension too large",
                format!(
                    "the header extension at offset {off} (type {ext_type:#010x}, {len} bytes) runs past the end of the extension area at {end}"
                ),
            );
            break;
        }
        if ext_type == EXT_END {
            break;
        }
        if seen.contains(&ext_type) {
            warnings.push(Finding::warning(
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
            EXT_BACKING_FORMAT => {
                if len >= 16 {
                    refuse_at(
                        "qcow2.header.backing_format_too_long",
                        off,
                        &format!("ERROR: ext_backing_format: len={len} too large (>=16)"),
                        format!(
                            "the backing format extension at offset {off} is {len} bytes; QEMU reads at most 15"
                        ),
                    );
                    break;
                }
                ext.backing_format = Some(string_at(c0, d, dlen));
            }
            EXT_DATA_FILE => {
                ext.data_file = Some(string_at(c0, d, dlen));
                ext.data_file_offset = Some(off);
            }
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
                if len != 24 {
                    refuse_at(
                        "qcow2.bitmaps.extension_size",
                        off,
                        "bitmaps_ext: Invalid extension length",
                        format!(
                            "the bitmaps header extension at offset {off} is {len} bytes, expected 24"
                        ),
                    );
                    break;
                }
                let b = BitmapsExt {
                    nb_bitmaps: be32(c0, d),
                    bitmap_directory_size: be64(c0, d.saturating_add(8)),
                    bitmap_directory_offset: be64(c0, d.saturating_add(16)),
                };
                if h.autoclear_features & AUTOCLEAR_BITMAPS == 0 {
                    // QEMU ignores the extension: every bitmap is
                    // inconsistent and its clusters are leaked.
                    warnings.push(Finding::warning(
                        "qcow2.bitmaps.ignored",
                        Layer::QCOW2,
                        off,
                        Space::File,
                        format!(
                            "the image has a bitmaps extension ({} bitmaps) but autoclear bit 0 is clear: a program without bitmap support modified it, so QEMU considers every bitmap inconsistent, ignores them, and their clusters are leaked",
                            b.nb_bitmaps
                        ),
                    ));
                    ext.bitmaps = Some(b);
                } else {
                    let reserved = be32(c0, d.saturating_add(4));
                    let bad = if reserved != 0 {
                        Some((
                            "bitmaps_ext: Reserved field is not zero".to_string(),
                            format!("the reserved field of the bitmaps extension is {reserved:#x}"),
                        ))
                    } else if b.nb_bitmaps > MAX_BITMAPS {
                        Some((
                            format!(
                                "bitmaps_ext: Image has {} bitmaps, exceeding the QEMU supported maximum of {MAX_BITMAPS}",
                                b.nb_bitmaps
                            ),
                            format!(
                                "the bitmaps extension counts {} bitmaps, more than {MAX_BITMAPS}",
                                b.nb_bitmaps
                            ),
                        ))
                    } else if b.nb_bitmaps == 0 {
                        Some((
                            "found bitmaps extension with zero bitmaps".to_string(),
                            "the bitmaps extension counts no bitmaps".to_string(),
                        ))
                    } else if !b.bitmap_directory_offset.is_multiple_of(cs) {
                        Some((
                            "bitmaps_ext: invalid bitmap directory offset".to_string(),
                            format!(
                                "the bitmap directory offset {:#x} is not cluster aligned",
                                b.bitmap_directory_offset
                            ),
                        ))
                    } else if b.bitmap_directory_size > MAX_BITMAP_DIRECTORY_BYTES {
                        Some((
                            format!(
                                "bitmaps_ext: bitmap directory size ({}) exceeds the maximum supported size ({MAX_BITMAP_DIRECTORY_BYTES})",
                                b.bitmap_directory_size
                            ),
                            format!(
                                "the bitmap directory is {} bytes, more than {MAX_BITMAP_DIRECTORY_BYTES}",
                                b.bitmap_directory_size
                            ),
                        ))
                    } else {
                        None
                    };
                    if let Some((qemu, msg)) = bad {
                        refuse_at("qcow2.bitmaps.extension_invalid", off, &qemu, msg);
                        break;
                    }
                    ext.bitmaps = Some(b);
                }
            }
            EXT_CRYPTO => {
                let bad = if h.crypt_method != 2 {
                    Some((
                        "qcow2.crypto.extension_unexpected",
                        "CRYPTO header extension only expected with LUKS encryption method"
                            .to_string(),
                        format!(
                            "an encryption header extension at offset {off} in an image whose crypt_method is {}",
                            h.crypt_method
                        ),
                    ))
                } else if len != 16 {
                    Some((
                        "qcow2.crypto.extension_size",
                        format!("CRYPTO header extension size {len}, but expected size 16"),
                        format!("the encryption header extension is {len} bytes, expected 16"),
                    ))
                } else if !be64(c0, d).is_multiple_of(cs) {
                    Some((
                        "qcow2.crypto.extension_size",
                        format!(
                            "Encryption header offset '{}' is not a multiple of cluster size '{cs}'",
                            be64(c0, d)
                        ),
                        format!(
                            "the encryption header offset {:#x} is not cluster aligned",
                            be64(c0, d)
                        ),
                    ))
                } else {
                    None
                };
                if let Some((code, qemu, msg)) = bad {
                    refuse_at(code, off, &qemu, msg);
                    break;
                }
                ext.crypto = Some(CryptoExt {
                    offset: be64(c0, d),
                    length: be64(c0, d.saturating_add(8)),
                });
            }
            _ => ext.unknown.push(UnknownExt {
                ext_type,
                len,
                offset: data_off,
            }),
        }
        off = data_off.saturating_add(u64::from(len).next_multiple_of(8));
    }
    findings.extend(warnings);
    ext
}

//! Feature bits (version 3): the incompatible, compatible and autoclear
//! bits this crate knows, and the findings the header's bits call for
//! (dirty, corrupt, unknown incompatible features, encryption, data file).

use super::Header;
use imgcheck_core::{Finding, Hint, Layer, Space, Target};

/// Incompatible feature bit 0: refcounts may be stale (lazy refcounts).
pub const INCOMPAT_DIRTY: u64 = 1 << 0;
/// Incompatible feature bit 1: QEMU found corruption and stopped writing.
pub const INCOMPAT_CORRUPT: u64 = 1 << 1;
/// Incompatible feature bit 2: guest data lives in an external data file.
pub const INCOMPAT_DATA_FILE: u64 = 1 << 2;
/// Incompatible feature bit 3: `compression_type` is not zlib.
pub const INCOMPAT_COMPRESSION: u64 = 1 << 3;
/// Incompatible feature bit 4: extended L2 entries (32 subclusters).
pub const INCOMPAT_EXTL2: u64 = 1 << 4;
/// Every incompatible bit this crate understands.
pub const INCOMPAT_KNOWN: u64 =
    INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_DATA_FILE | INCOMPAT_COMPRESSION | INCOMPAT_EXTL2;
/// Compatible feature bit 0: lazy refcounts.
pub const COMPAT_LAZY_REFCOUNTS: u64 = 1 << 0;
/// Autoclear bit 0: the bitmaps extension is consistent.
pub const AUTOCLEAR_BITMAPS: u64 = 1 << 0;
/// Autoclear bit 1: the external data file is a valid raw image.
pub const AUTOCLEAR_DATA_FILE_RAW: u64 = 1 << 1;

impl Header {
    /// Names of the incompatible bits set that this crate does not know,
    /// taken from the feature name table where it names them.
    pub fn unknown_incompatible_names(&self) -> Vec<String> {
        let unknown = self.incompatible_features & !INCOMPAT_KNOWN;
        (0u8..64)
            .filter(|b| unknown & (1u64 << b) != 0)
            .map(|b| {
                self.extensions
                    .feature_names
                    .iter()
                    .find(|f| f.feature_type == 0 && f.bit == b)
                    .map_or_else(|| format!("bit {b}"), |f| format!("bit {b} ({})", f.name))
            })
            .collect()
    }
}

pub(super) fn header_findings(h: &mut Header, findings: &mut Vec<Finding>) {
    if h.incompatible_features & INCOMPAT_DIRTY != 0 {
        findings.push(
            Finding::warning(
                "qcow2.header.dirty",
                Layer::QCOW2,
                72,
                Space::File,
                "the dirty bit is set (incompatible_features bit 0): the image was not closed cleanly and its refcounts may be stale; qemu-img check reports nothing and a read-write open repairs it silently",
            )
            .with_hint(
                Hint::writes("qemu-img check -r all {image}")
                    .on(Target::Image)
                    .because("on a copy of the image; it rebuilds the refcounts"),
            ),
        );
    }
    if h.incompatible_features & INCOMPAT_CORRUPT != 0 {
        findings.push(
            Finding::error(
                "qcow2.header.corrupt",
                Layer::QCOW2,
                72,
                Space::File,
                "the corrupt bit is set (incompatible_features bit 1): QEMU detected metadata corruption while the image was in use; qemu-img check does not report it",
            )
            .with_hint(
                Hint::read_only("qemu-img check {image}")
                    .on(Target::Image)
                    .because("then qemu-img check -r all on a copy"),
            ),
        );
    }
    let unknown = h.unknown_incompatible_names();
    if !unknown.is_empty() {
        let msg = format!(
            "unknown incompatible feature bits are set: {} (incompatible_features {:#x}); the guest view may be wrong",
            unknown.join(", "),
            h.incompatible_features
        );
        let qemu = format!("Unsupported qcow2 feature(s): {}", unknown.join(", "));
        h.refuse(
            findings,
            "qcow2.header.unknown_incompatible",
            72,
            &qemu,
            msg,
        );
    }
    if h.crypt_method != 0 {
        findings.push(Finding::warning(
            "qcow2.header.encrypted",
            Layer::QCOW2,
            32,
            Space::File,
            format!(
                "the image is encrypted (crypt_method {}, {}); guest data cannot be read or verified without the key",
                h.crypt_method,
                if h.crypt_method == 1 { "AES-CBC" } else { "LUKS" }
            ),
        ));
        if h.crypt_method == 2 && h.extensions.crypto.is_none() {
            h.refuse(
                findings,
                "qcow2.crypto.missing_header",
                32,
                "Missing CRYPTO header for crypt method 2",
                "crypt_method is 2 (LUKS) but there is no full disk encryption header extension"
                    .into(),
            );
        }
    }
    if h.autoclear_features & AUTOCLEAR_DATA_FILE_RAW != 0 && !h.has_data_file() {
        h.refuse(
            findings,
            "qcow2.data_file.raw_without_file",
            88,
            "data-file-raw requires a data file",
            "autoclear bit 1 (raw external data) is set but incompatible bit 2 (external data file) is not".into(),
        );
    }
    if h.has_data_file() && h.extensions.data_file.is_none() {
        h.refuse(
            findings,
            "qcow2.data_file.name_missing",
            72,
            "A block device must be specified for \"data-file\"",
            "incompatible bit 2 (external data file) is set but no data file name extension exists"
                .into(),
        );
    }
}

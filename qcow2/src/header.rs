//! The qcow2 header (cluster 0): fixed fields at their spec offsets and the
//! backing file name. The extensions that follow the fixed fields are in
//! [`extensions`], the feature bits and what they say in [`features`].
//! All big-endian.

mod extensions;
mod features;

pub use extensions::{
    BitmapsExt, CryptoExt, EXT_BACKING_FORMAT, EXT_BITMAPS, EXT_CRYPTO, EXT_DATA_FILE, EXT_END,
    EXT_FEATURE_TABLE, Extensions, FeatureName, UnknownExt,
};
pub use features::{
    AUTOCLEAR_BITMAPS, AUTOCLEAR_DATA_FILE_RAW, COMPAT_LAZY_REFCOUNTS, INCOMPAT_COMPRESSION,
    INCOMPAT_CORRUPT, INCOMPAT_DATA_FILE, INCOMPAT_DIRTY, INCOMPAT_EXTL2, INCOMPAT_KNOWN,
};

use crate::error::Error;
use crate::limits::*;
use extensions::parse_extensions;
use features::header_findings;
use imgcheck_core::bytes::{be32, be64, bytes, u8_at, usize_of};
use imgcheck_core::{Finding, ReadAt};
use serde::Serialize;

/// `QFI\xfb`.
pub const QCOW2_MAGIC: u32 = 0x5146_49fb;

/// Size of the version 2 header.
pub const V2_HEADER_LEN: u32 = 72;
/// Minimum `header_length` of a version 3 header.
pub const V3_MIN_HEADER_LEN: u32 = 104;

/// The parsed header; field names follow `docs/interop/qcow2.txt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Header {
    /// 2 or 3.
    pub version: u32,
    /// Offset of the backing file name in the file (0: none).
    pub backing_file_offset: u64,
    /// Length of the backing file name.
    pub backing_file_size: u32,
    /// log2 of the cluster size.
    pub cluster_bits: u32,
    /// Virtual (guest) disk size in bytes.
    pub size: u64,
    /// 0 none, 1 AES-CBC, 2 LUKS.
    pub crypt_method: u32,
    /// Entries in the active L1 table.
    pub l1_size: u32,
    /// Offset of the active L1 table.
    pub l1_table_offset: u64,
    /// Offset of the refcount table.
    pub refcount_table_offset: u64,
    /// Clusters taken by the refcount table.
    pub refcount_table_clusters: u32,
    /// Number of internal snapshots.
    pub nb_snapshots: u32,
    /// Offset of the snapshot table.
    pub snapshots_offset: u64,
    /// Incompatible feature bits (v3).
    pub incompatible_features: u64,
    /// Compatible feature bits (v3).
    pub compatible_features: u64,
    /// Autoclear feature bits (v3).
    pub autoclear_features: u64,
    /// log2 of the refcount width in bits (v2: 4).
    pub refcount_order: u32,
    /// Header length in bytes (v2: 72).
    pub header_length: u32,
    /// 0 zlib, 1 zstd.
    pub compression_type: u8,
    /// Header extensions.
    pub extensions: Extensions,
    /// Backing file name, if any.
    pub backing_file: Option<String>,
    /// Why QEMU would refuse to open the image, in the order it checks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refusals: Vec<Refusal>,
}

/// The text of a name field: up to the first NUL, lossy UTF-8.
fn string_at(b: &[u8], at: usize, len: usize) -> String {
    let s = bytes(b, at, len);
    let s = s.split(|&c| c == 0).next().unwrap_or(&[]);
    String::from_utf8_lossy(s).into_owned()
}

fn invalid(field: &'static str, offset: u64, value: u64, expected: impl Into<String>) -> Error {
    Error::InvalidHeader {
        field,
        offset,
        value,
        expected: expected.into(),
    }
}

impl Header {
    /// Cluster size in bytes.
    pub fn cluster_size(&self) -> u64 {
        1u64 << self.cluster_bits.min(MAX_CLUSTER_BITS)
    }
    /// Width of one refcount in bits.
    pub fn refcount_bits(&self) -> u32 {
        1u32 << self.refcount_order.min(6)
    }
    /// True when L2 entries are 16 bytes with a subcluster bitmap.
    pub fn extended_l2(&self) -> bool {
        self.incompatible_features & INCOMPAT_EXTL2 != 0
    }
    /// True when guest data lives in an external data file.
    pub fn has_data_file(&self) -> bool {
        self.incompatible_features & INCOMPAT_DATA_FILE != 0
    }
    /// Bytes per L2 entry (8, or 16 with extended L2).
    pub fn l2_entry_size(&self) -> u64 {
        if self.extended_l2() { 16 } else { 8 }
    }
    /// Entries per L2 table.
    pub fn l2_entries(&self) -> u64 {
        self.cluster_size()
            .checked_div(self.l2_entry_size())
            .unwrap_or(0)
    }
    /// Guest bytes one L1 entry covers.
    pub fn bytes_per_l1_entry(&self) -> u64 {
        self.l2_entries().saturating_mul(self.cluster_size())
    }
    /// L1 entries needed to map `size` guest bytes.
    pub fn l1_entries_for(&self, size: u64) -> u64 {
        size.div_ceil(self.bytes_per_l1_entry().max(1))
    }
    /// Entries in the refcount table.
    pub fn refcount_table_entries(&self) -> u64 {
        u64::from(self.refcount_table_clusters).saturating_mul(self.cluster_size() / 8)
    }

    /// Parses and validates the header of `file`. What this crate cannot
    /// interpret (and QEMU refuses) is an [`Error`] naming the field; what
    /// QEMU refuses but the image can still be read past is a finding and
    /// a [`Refusal`] in [`Header::refusals`]; the rest are findings.
    pub fn parse(file: &dyn ReadAt) -> Result<(Header, Vec<Finding>), Error> {
        let mut findings = Vec::new();
        let len = file.len();
        let mut fixed = [0u8; 112];
        let avail = len.min(112);
        let buf = fixed.get_mut(..usize_of(avail)).unwrap_or(&mut []);
        file.read_exact_at(0, buf).map_err(|source| Error::Read {
            structure: "header",
            source,
        })?;
        let b = &fixed[..];
        let short = |need: u64, what| Error::TooShort { len, need, what };
        if len < 8 {
            // Too short even for magic and version: say so, whatever the
            // first bytes hold (a 3-byte file has no magic to compare).
            return Err(short(u64::from(V2_HEADER_LEN), "a qcow2 header"));
        }
        let magic = be32(b, 0);
        if magic != QCOW2_MAGIC {
            return Err(Error::BadMagic { found: magic });
        }
        let version = be32(b, 4);
        if version == 1 {
            return Err(Error::QcowV1);
        }
        if version != 2 && version != 3 {
            return Err(Error::UnsupportedVersion { version });
        }
        if version == 2 && len < u64::from(V2_HEADER_LEN) {
            return Err(short(u64::from(V2_HEADER_LEN), "a version 2 header"));
        }
        if version == 3 && len < u64::from(V3_MIN_HEADER_LEN) {
            return Err(short(u64::from(V3_MIN_HEADER_LEN), "a version 3 header"));
        }
        let cluster_bits = be32(b, 20);
        if !(MIN_CLUSTER_BITS..=MAX_CLUSTER_BITS).contains(&cluster_bits) {
            return Err(invalid(
                "cluster_bits",
                20,
                u64::from(cluster_bits),
                format!(
                    "{MIN_CLUSTER_BITS}..={MAX_CLUSTER_BITS} (QEMU: \"Unsupported cluster size: 2^{cluster_bits}\")"
                ),
            ));
        }
        let cluster_size = 1u64 << cluster_bits;
        let mut h = Header {
            version,
            backing_file_offset: be64(b, 8),
            backing_file_size: be32(b, 16),
            cluster_bits,
            size: be64(b, 24),
            crypt_method: be32(b, 32),
            l1_size: be32(b, 36),
            l1_table_offset: be64(b, 40),
            refcount_table_offset: be64(b, 48),
            refcount_table_clusters: be32(b, 56),
            nb_snapshots: be32(b, 60),
            snapshots_offset: be64(b, 64),
            incompatible_features: 0,
            compatible_features: 0,
            autoclear_features: 0,
            refcount_order: 4,
            header_length: V2_HEADER_LEN,
            compression_type: 0,
            extensions: Extensions::default(),
            backing_file: None,
            refusals: Vec::new(),
        };
        if version == 3 {
            h.incompatible_features = be64(b, 72);
            h.compatible_features = be64(b, 80);
            h.autoclear_features = be64(b, 88);
            h.refcount_order = be32(b, 96);
            h.header_length = be32(b, 100);
            if h.header_length < V3_MIN_HEADER_LEN {
                return Err(invalid(
                    "header_length",
                    100,
                    u64::from(h.header_length),
                    format!("at least {V3_MIN_HEADER_LEN} (QEMU: \"qcow2 header too short\")"),
                ));
            }
        }
        if u64::from(h.header_length) > cluster_size {
            return Err(invalid(
                "header_length",
                100,
                u64::from(h.header_length),
                format!(
                    "at most the cluster size, {cluster_size} (QEMU: \"qcow2 header exceeds cluster size\")"
                ),
            ));
        }
        if h.backing_file_offset > cluster_size {
            return Err(invalid(
                "backing_file_offset",
                8,
                h.backing_file_offset,
                format!(
                    "at most the cluster size, {cluster_size} (QEMU: \"Invalid backing file offset\")"
                ),
            ));
        }
        // The rest of cluster 0 holds the extensions and the backing name;
        // past the end of the file QEMU's block layer reads zeros.
        let (c0, _) =
            crate::entries::read_zero_filled(file, 0, cluster_size, 1 << MAX_CLUSTER_BITS)
                .map_err(|source| Error::Read {
                    structure: "header cluster",
                    source,
                })?;
        if h.header_length > 104 {
            h.compression_type = u8_at(&c0, 104);
        }
        if h.compression_type > 1 {
            return Err(invalid(
                "compression_type",
                104,
                u64::from(h.compression_type),
                format!(
                    "0 (zlib) or 1 (zstd) (QEMU: \"qcow2: unknown compression type: {}\")",
                    h.compression_type
                ),
            ));
        }
        if (h.compression_type != 0) != (h.incompatible_features & INCOMPAT_COMPRESSION != 0) {
            h.refuse(
                &mut findings,
                "qcow2.header.compression_bit",
                72,
                if h.compression_type == 0 {
                    "qcow2: Compression type incompatible feature bit must not be set"
                } else {
                    "qcow2: Compression type incompatible feature bit must be set"
                },
                format!(
                    "incompatible feature bit 3 (compression type) is {} but compression_type is {} ({})",
                    if h.incompatible_features & INCOMPAT_COMPRESSION != 0 { "set" } else { "clear" },
                    h.compression_type,
                    if h.compression_type == 0 { "zlib" } else { "zstd" }
                ),
            );
        }
        if h.extended_l2() && cluster_bits < 14 {
            return Err(invalid(
                "cluster_bits",
                20,
                u64::from(cluster_bits),
                format!(
                    "at least 14 with extended L2 entries (QEMU: \"Unsupported subcluster size: {}\")",
                    cluster_size / 32
                ),
            ));
        }
        if h.refcount_order > 6 {
            return Err(invalid(
                "refcount_order",
                96,
                u64::from(h.refcount_order),
                "0..=6 (QEMU: \"Reference count entry width too large; may not exceed 64 bits\")",
            ));
        }
        if h.crypt_method > 2 {
            return Err(invalid(
                "crypt_method",
                32,
                u64::from(h.crypt_method),
                format!(
                    "0, 1 (AES) or 2 (LUKS) (QEMU: \"Unsupported encryption method {}\")",
                    h.crypt_method
                ),
            ));
        }
        // Table bounds (qcow2_validate_table), checked before anything is
        // allocated from them.
        let rt_bytes = u64::from(h.refcount_table_clusters).saturating_mul(cluster_size);
        if rt_bytes > MAX_REFTABLE_BYTES {
            return Err(Error::LimitExceeded {
                structure: "refcount table (QEMU: \"Reference count table too large\")",
                offset: 56,
                value: rt_bytes,
                limit: MAX_REFTABLE_BYTES,
            });
        }
        if !h.refcount_table_offset.is_multiple_of(cluster_size)
            || h.refcount_table_offset > MAX_TABLE_OFFSET
        {
            return Err(invalid(
                "refcount_table_offset",
                48,
                h.refcount_table_offset,
                "a cluster-aligned offset below 2^62 (QEMU: \"Reference count table offset invalid\")",
            ));
        }
        let l1_bytes = u64::from(h.l1_size).saturating_mul(8);
        if l1_bytes > MAX_L1_BYTES {
            return Err(Error::LimitExceeded {
                structure: "active L1 table (QEMU: \"Active L1 table too large\")",
                offset: 36,
                value: l1_bytes,
                limit: MAX_L1_BYTES,
            });
        }
        if !h.l1_table_offset.is_multiple_of(cluster_size) || h.l1_table_offset > MAX_TABLE_OFFSET {
            return Err(invalid(
                "l1_table_offset",
                40,
                h.l1_table_offset,
                "a cluster-aligned offset below 2^62 (QEMU: \"Active L1 table offset invalid\")",
            ));
        }
        if h.size > MAX_VIRTUAL_SIZE {
            return Err(Error::LimitExceeded {
                structure: "virtual disk size (QEMU: \"Image is too big\")",
                offset: 24,
                value: h.size,
                limit: MAX_VIRTUAL_SIZE,
            });
        }
        let needed = h.l1_entries_for(h.size);
        if u64::from(h.l1_size) < needed {
            return Err(invalid(
                "l1_size",
                36,
                u64::from(h.l1_size),
                format!(
                    "at least {needed} for a virtual size of {} (QEMU: \"L1 table is too small\")",
                    h.size
                ),
            ));
        }

        // Extensions end where the backing name starts, or at the cluster end.
        let ext_end = if h.backing_file_offset != 0 {
            h.backing_file_offset
        } else {
            cluster_size
        };
        let mut refusals = Vec::new();
        h.extensions = parse_extensions(
            &c0,
            &h,
            u64::from(h.header_length),
            ext_end,
            &mut findings,
            &mut refusals,
        );
        h.refusals.extend(refusals);

        if h.backing_file_offset != 0 {
            let max =
                u64::from(MAX_BACKING_NAME).min(cluster_size.saturating_sub(h.backing_file_offset));
            if u64::from(h.backing_file_size) > max {
                return Err(Error::LimitExceeded {
                    structure: "backing file name (QEMU: \"Backing file name too long\")",
                    offset: 16,
                    value: u64::from(h.backing_file_size),
                    limit: max,
                });
            }
            let name = string_at(
                &c0,
                usize_of(h.backing_file_offset),
                usize_of(u64::from(h.backing_file_size)),
            );
            if !name.is_empty() {
                h.backing_file = Some(name);
            }
        }
        // Snapshot table problems are not fatal: the current disk can
        // still be read; the snapshot reader and the checker report them.
        header_findings(&mut h, &mut findings);
        Ok((h, findings))
    }

    /// Records that QEMU refuses to open the image (its message `qemu`)
    /// and reports it as an error finding with `code`.
    pub(crate) fn refuse(
        &mut self,
        findings: &mut Vec<Finding>,
        code: &'static str,
        offset: u64,
        qemu: &str,
        msg: String,
    ) {
        refuse(findings, &mut self.refusals, code, offset, qemu, msg);
    }
}

/// A finding for something QEMU refuses to open, and the refusal.
pub(crate) fn refuse(
    findings: &mut Vec<Finding>,
    refusals: &mut Vec<Refusal>,
    code: &'static str,
    offset: u64,
    qemu: &str,
    msg: String,
) {
    findings.push(Finding::error(
        code,
        imgcheck_core::Layer::QCOW2,
        offset,
        imgcheck_core::Space::File,
        format!("{msg}; QEMU refuses to open the image (\"{qemu}\")"),
    )
    // qemu-img check cannot open it either, so `check -r` repairs nothing.
    .with_hint(
        imgcheck_core::Hint::read_only("qemu-img info {image}")
            .on(imgcheck_core::Target::Image)
            .because("says why QEMU refuses it; qemu-img check -r cannot repair what QEMU will not open, so the header is corrected by hand, on a copy"),
    ));
    refusals.push(Refusal {
        code,
        offset,
        qemu: qemu.to_string(),
    });
}

/// A reason QEMU refuses to open the image although this crate can read
/// it: `qemu-img check` then exits 1 without checking anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// The finding code reporting it.
    pub code: &'static str,
    /// File offset of the field or structure.
    pub offset: u64,
    /// QEMU's error message.
    pub qemu: String,
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::as_conversions)]
mod tests {
    use super::*;
    use imgcheck_core::BytesReader;

    pub(crate) fn minimal_v3() -> Vec<u8> {
        let mut b = vec![0u8; 65536 * 4];
        b[0..4].copy_from_slice(&QCOW2_MAGIC.to_be_bytes());
        b[4..8].copy_from_slice(&3u32.to_be_bytes());
        b[20..24].copy_from_slice(&16u32.to_be_bytes());
        b[24..32].copy_from_slice(&(1u64 << 20).to_be_bytes());
        b[36..40].copy_from_slice(&1u32.to_be_bytes());
        b[40..48].copy_from_slice(&(3u64 << 16).to_be_bytes());
        b[48..56].copy_from_slice(&(1u64 << 16).to_be_bytes());
        b[56..60].copy_from_slice(&1u32.to_be_bytes());
        b[96..100].copy_from_slice(&4u32.to_be_bytes());
        b[100..104].copy_from_slice(&112u32.to_be_bytes());
        b
    }

    #[test]
    fn parses_minimal_and_rejects_bad_cluster_bits() {
        let b = minimal_v3();
        let (h, f) = Header::parse(&BytesReader::new(b.clone())).unwrap();
        assert_eq!(h.cluster_size(), 65536);
        assert!(f.is_empty());
        for bits in [8u32, 22, 0xffff_ffff] {
            let mut c = b.clone();
            c[20..24].copy_from_slice(&bits.to_be_bytes());
            assert!(matches!(
                Header::parse(&BytesReader::new(c)),
                Err(Error::InvalidHeader {
                    field: "cluster_bits",
                    ..
                })
            ));
        }
    }

    #[test]
    fn unknown_incompatible_bit_is_named_from_feature_table() {
        let mut b = minimal_v3();
        b[72..80].copy_from_slice(&(1u64 << 9).to_be_bytes());
        // Feature table extension at 112 with one entry naming bit 9.
        b[112..116].copy_from_slice(&EXT_FEATURE_TABLE.to_be_bytes());
        b[116..120].copy_from_slice(&48u32.to_be_bytes());
        b[120] = 0;
        b[121] = 9;
        b[122..127].copy_from_slice(b"fancy");
        let (_, f) = Header::parse(&BytesReader::new(b)).unwrap();
        let u = f
            .iter()
            .find(|f| f.code == "qcow2.header.unknown_incompatible")
            .unwrap();
        assert!(u.message.contains("bit 9 (fancy)"), "{}", u.message);
    }

    #[test]
    fn limits_are_enforced_before_allocation() {
        let mut b = minimal_v3();
        b[36..40].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            Header::parse(&BytesReader::new(b)),
            Err(Error::LimitExceeded { .. })
        ));
        // An extension running past the header: QEMU refuses to open
        // the image ("Header extension too large"); the rest can be read.
        let mut b = minimal_v3();
        b[112..116].copy_from_slice(&EXT_BACKING_FORMAT.to_be_bytes());
        b[116..120].copy_from_slice(&u32::MAX.to_be_bytes());
        let (h, f) = Header::parse(&BytesReader::new(b)).unwrap();
        assert_eq!(h.refusals[0].qemu, "Header extension too large");
        let too_large = f
            .iter()
            .find(|f| f.code == "qcow2.header.extension_too_large")
            .unwrap();
        // qemu-img check cannot open it, so no `check -r` is offered.
        let hint = too_large.hint.as_ref().unwrap();
        assert!(!hint.writes, "{hint:?}");
        assert_eq!(hint.command.as_deref(), Some("qemu-img info {image}"));
        // An extension header cut by the end of the cluster, too.
        let mut b = minimal_v3();
        b[100..104].copy_from_slice(&(65536u32 - 4).to_be_bytes());
        let (h, _) = Header::parse(&BytesReader::new(b)).unwrap();
        assert_eq!(h.refusals.len(), 1, "{:?}", h.refusals);
        let mut b = minimal_v3();
        b[56..60].copy_from_slice(&1000u32.to_be_bytes());
        assert!(matches!(
            Header::parse(&BytesReader::new(b)),
            Err(Error::LimitExceeded { .. })
        ));
        // Too many snapshots is not fatal: only the first MAX_SNAPSHOTS are read.
        let mut b = minimal_v3();
        b[60..64].copy_from_slice(&70000u32.to_be_bytes());
        b[64..72].copy_from_slice(&(2u64 << 16).to_be_bytes());
        let (h, _) = Header::parse(&BytesReader::new(b.clone())).unwrap();
        let t = crate::snapshot::read_table(&BytesReader::new(b), &h);
        assert_eq!(t.overhanging, 70000 - MAX_SNAPSHOTS);
        assert!(t.snapshots.len() <= usize::try_from(MAX_SNAPSHOTS).unwrap());
        let mut b = minimal_v3();
        b[8..16].copy_from_slice(&200u64.to_be_bytes());
        b[16..20].copy_from_slice(&2000u32.to_be_bytes());
        assert!(matches!(
            Header::parse(&BytesReader::new(b)),
            Err(Error::LimitExceeded { .. })
        ));
    }

    fn with_ext(ty: u32, data: &[u8], at: usize, b: &mut [u8]) -> usize {
        b[at..at + 4].copy_from_slice(&ty.to_be_bytes());
        b[at + 4..at + 8].copy_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
        b[at + 8..at + 8 + data.len()].copy_from_slice(data);
        at + 8 + data.len().next_multiple_of(8)
    }

    #[test]
    fn extensions_parse_and_bad_sizes_are_findings() {
        let clean = Header::parse(&BytesReader::new(minimal_v3())).unwrap().1;
        assert!(clean.is_empty());
        let mut b = minimal_v3();
        let at = with_ext(EXT_BACKING_FORMAT, b"raw", 112, &mut b);
        let at = with_ext(EXT_BACKING_FORMAT, b"qcow2", at, &mut b);
        let _ = with_ext(EXT_DATA_FILE, b"data.raw", at, &mut b);
        let (h, f) = Header::parse(&BytesReader::new(b)).unwrap();
        let codes: Vec<_> = f.iter().map(|f| f.code.to_string()).collect();
        assert!(
            codes.contains(&"qcow2.header.extension_repeated".to_string()),
            "{codes:?}"
        );
        assert_eq!(h.extensions.backing_format.as_deref(), Some("qcow2"));
        assert_eq!(h.extensions.data_file.as_deref(), Some("data.raw"));
        // Each extension QEMU refuses: a finding, a refusal with QEMU's
        // message, and parsing stops there as QEMU's does.
        let cases: [(u32, &[u8], u32, &str); 4] = [
            (
                EXT_BITMAPS,
                &[0; 8],
                1,
                "bitmaps_ext: Invalid extension length",
            ),
            (
                EXT_CRYPTO,
                &[0; 16],
                0,
                "CRYPTO header extension only expected with LUKS encryption method",
            ),
            (
                EXT_BACKING_FORMAT,
                &[b'x'; 16],
                0,
                "ERROR: ext_backing_format: len=16 too large (>=16)",
            ),
            (
                EXT_BITMAPS,
                &[0; 24],
                1,
                "found bitmaps extension with zero bitmaps",
            ),
        ];
        let codes = [
            "qcow2.bitmaps.extension_size",
            "qcow2.crypto.extension_unexpected",
            "qcow2.header.backing_format_too_long",
            "qcow2.bitmaps.extension_invalid",
        ];
        for ((ty, data, autoclear, qemu), code) in cases.into_iter().zip(codes) {
            let mut b = minimal_v3();
            b[95] = u8::try_from(autoclear).unwrap();
            let at = with_ext(ty, data, 112, &mut b);
            let _ = with_ext(EXT_DATA_FILE, b"after.raw", at, &mut b);
            let (h, f) = Header::parse(&BytesReader::new(b)).unwrap();
            assert_eq!(h.refusals.first().map(|r| r.qemu.as_str()), Some(qemu));
            assert!(f.iter().any(|f| f.message.contains(qemu)), "{f:?}");
            assert!(
                h.extensions.data_file.is_none(),
                "parsing stops at the refusal"
            );
            assert_eq!(h.refusals[0].code, code);
        }
        // LUKS with a crypto extension of the wrong size.
        let mut b = minimal_v3();
        b[35] = 2;
        let _ = with_ext(EXT_CRYPTO, &[0; 8], 112, &mut b);
        let (h, _) = Header::parse(&BytesReader::new(b)).unwrap();
        assert_eq!(h.refusals[0].code, "qcow2.crypto.extension_size");
        // The compression type bit without zstd.
        let mut b = minimal_v3();
        b[79] = 8;
        let (h, _) = Header::parse(&BytesReader::new(b)).unwrap();
        assert_eq!(h.refusals[0].code, "qcow2.header.compression_bit");
        // Without autoclear bit 0 the bitmaps extension is ignored, not refused.
        let mut b = minimal_v3();
        let mut ext = [0u8; 24];
        ext[3] = 1;
        let _ = with_ext(EXT_BITMAPS, &ext, 112, &mut b);
        let (h, f) = Header::parse(&BytesReader::new(b)).unwrap();
        assert!(h.refusals.is_empty());
        assert!(f.iter().any(|f| f.code == "qcow2.bitmaps.ignored"));
    }

    #[test]
    fn dirty_and_corrupt_bits_are_findings() {
        let mut b = minimal_v3();
        b[79] = 3;
        let (_, f) = Header::parse(&BytesReader::new(b)).unwrap();
        assert!(f.iter().any(|f| f.code == "qcow2.header.dirty"));
        assert!(f.iter().any(|f| f.code == "qcow2.header.corrupt"));
    }

    #[test]
    fn short_and_garbage_inputs_fail_cleanly() {
        for len in [0usize, 3, 50, 71, 100] {
            let mut b = minimal_v3();
            b.truncate(len);
            let e = Header::parse(&BytesReader::new(b)).unwrap_err();
            let m = e.to_string();
            assert!(matches!(e, Error::TooShort { .. }), "{len}: {m}");
            assert!(m.contains(&format!("{len} byte")), "{m}");
            assert!(!m.contains("magic"), "{m}");
        }
        let mut b = minimal_v3();
        b[7] = 1;
        b.truncate(48);
        assert!(matches!(
            Header::parse(&BytesReader::new(b)),
            Err(Error::QcowV1)
        ));
    }
}

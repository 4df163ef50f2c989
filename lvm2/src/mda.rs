//! The metadata area (`lib/format_text/format-text.c`, `layout.h`): a
//! 512-byte mda_header (checksum, magic, version, start, size, raw_locn
//! slots) followed by a circular buffer of metadata text copies.
//! `raw_locn[0]` points at the committed copy; a copy that runs past the
//! end of the area continues right after the header. Older copies stay in
//! the buffer until overwritten: [`scan_history`] finds them.

use crate::config::{self, Limits, MAX_TEXT};
use crate::crc::{INITIAL_CRC, calc_crc, calc_crc_pieces};
use crate::metadata::VgMetadata;
use imgcheck_core::bytes::{bytes, le32, le64, u64_of, usize_of};
use imgcheck_core::{ReadAt, ReadError, read_vec};
use serde::Serialize;

/// Size of the mda_header.
pub const MDA_HEADER_SIZE: u64 = 512;
/// `FMTT_MAGIC`.
pub const FMTT_MAGIC: &[u8; 16] = b" LVM2 x[5A%r0N*>";
/// `FMTT_VERSION`.
pub const FMTT_VERSION: u32 = 1;
/// `RAW_LOCN_IGNORED`: the PV's metadata area is not used.
pub const RAW_LOCN_IGNORED: u32 = 1;
/// Largest metadata area read whole for the history scan.
pub const MAX_AREA_SCAN: u64 = 64 << 20;
/// Text bytes the history scan parses in all, per area: a hostile ring of
/// texts without terminators cannot make the scan quadratic.
pub const MAX_HISTORY_PARSE: usize = 64 << 20;
/// Generations kept per area (the newest).
pub const MAX_HISTORY: usize = 1024;
/// raw_locn slots read (lvm writes two: committed and precommitted).
const MAX_RAW_LOCNS: usize = 8;

/// One raw_locn slot: where a text copy is, relative to the area start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RawLocn {
    /// Offset from the start of the metadata area.
    pub offset: u64,
    /// Text size, without the NUL.
    pub size: u64,
    /// LVM CRC of the text.
    pub checksum: u32,
    /// Flags (1 = ignored).
    pub flags: u32,
}

/// The mda_header at the start of a metadata area.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MdaHeader {
    /// Byte offset of the header in the device.
    pub at: u64,
    /// `checksum_xl` as stored.
    pub checksum_stored: u32,
    /// LVM CRC of bytes 4..512.
    pub checksum_computed: u32,
    /// The magic matched.
    pub magic_ok: bool,
    /// `version`.
    pub version: u32,
    /// `start`: absolute offset of the area (should equal `at`).
    pub start: u64,
    /// `size`: bytes of the area, header included.
    pub size: u64,
    /// The raw_locn slots up to the terminator.
    pub raw_locns: Vec<RawLocn>,
}

impl MdaHeader {
    /// Parses the 512 bytes at `at`.
    pub fn parse(buf: &[u8], at: u64) -> MdaHeader {
        let mut raw_locns = Vec::new();
        for i in 0..MAX_RAW_LOCNS {
            let o = 40usize.saturating_add(i.saturating_mul(24));
            if o.saturating_add(24) > 512 {
                break;
            }
            let r = RawLocn {
                offset: le64(buf, o),
                size: le64(buf, o.saturating_add(8)),
                checksum: le32(buf, o.saturating_add(16)),
                flags: le32(buf, o.saturating_add(20)),
            };
            // lvm stops at an all-zero slot; slot 1 (precommit) is zero
            // when nothing is pending, yet a later slot is never used.
            if r.offset == 0 && r.size == 0 && r.checksum == 0 && r.flags == 0 {
                break;
            }
            raw_locns.push(r);
        }
        MdaHeader {
            at,
            checksum_stored: le32(buf, 0),
            checksum_computed: calc_crc(INITIAL_CRC, bytes(buf, 4, 508)),
            magic_ok: bytes(buf, 4, 16) == FMTT_MAGIC,
            version: le32(buf, 20),
            start: le64(buf, 24),
            size: le64(buf, 32),
            raw_locns,
        }
    }

    /// Whether the header checksum matches.
    pub fn checksum_ok(&self) -> bool {
        self.checksum_stored == self.checksum_computed
    }
}

/// Why a text copy could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum TextError {
    /// The raw_locn points outside the area (lvm: "Metadata location out of bounds").
    OutOfBounds(String),
    /// The device could not be read there.
    Read(String),
}

impl std::fmt::Display for TextError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TextError::OutOfBounds(s) | TextError::Read(s) => f.write_str(s),
        }
    }
}

/// One text copy read out of the circular buffer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Text {
    /// The pieces as (absolute device offset, length): two when it wraps.
    pub pieces: Vec<(u64, u64)>,
    /// The text bytes (without the NUL).
    #[serde(skip)]
    pub bytes: Vec<u8>,
    /// LVM CRC of the text.
    pub crc: u32,
}

impl Text {
    /// Whether the copy wraps around the end of the area.
    pub fn wrapped(&self) -> bool {
        self.pieces.len() > 1
    }
    /// The device offset of byte `i` of the text.
    pub fn device_offset(&self, i: usize) -> u64 {
        let mut rest = u64_of(i);
        for &(at, len) in &self.pieces {
            if rest < len {
                return at.saturating_add(rest);
            }
            rest = rest.saturating_sub(len);
        }
        self.pieces.first().map_or(0, |p| p.0)
    }
}

/// Reads the copy `locn` of the area at `start` (absolute) of `size`
/// bytes, following the wrap, with lvm's bounds.
pub fn read_text(r: &dyn ReadAt, start: u64, size: u64, locn: &RawLocn) -> Result<Text, TextError> {
    if locn.offset >= size || locn.offset < MDA_HEADER_SIZE {
        return Err(TextError::OutOfBounds(format!(
            "text offset {} is outside the area [{MDA_HEADER_SIZE}, {size})",
            locn.offset
        )));
    }
    if locn.size > size.saturating_sub(MDA_HEADER_SIZE) || locn.size > u64_of(MAX_TEXT) {
        return Err(TextError::OutOfBounds(format!(
            "text size {} does not fit the {size}-byte area",
            locn.size
        )));
    }
    let end = locn.offset.saturating_add(locn.size);
    let wrap = end.saturating_sub(size);
    let first = locn.size.saturating_sub(wrap);
    let mut pieces = vec![(start.saturating_add(locn.offset), first)];
    if wrap > 0 {
        pieces.push((start.saturating_add(MDA_HEADER_SIZE), wrap));
    }
    let mut out = Vec::with_capacity(usize_of(locn.size));
    for &(at, len) in &pieces {
        let b = read_vec(r, at, len, u64_of(MAX_TEXT))
            .map_err(|e: ReadError| TextError::Read(e.to_string()))?;
        out.extend_from_slice(&b);
    }
    let crc = calc_crc_pieces(INITIAL_CRC, &[&out]);
    Ok(Text {
        pieces,
        bytes: out,
        crc,
    })
}

/// A metadata generation found in the circular buffer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Generation {
    /// Where its text is (pieces as in [`Text`]).
    pub pieces: Vec<(u64, u64)>,
    /// Text length.
    pub len: u64,
    /// LVM CRC of its text (what raw_locn would have held).
    pub crc: u32,
    /// The VG it describes.
    pub vg: Box<VgMetadata>,
}

/// Every complete metadata copy still in the area `buf` (the whole area,
/// header included, read from absolute offset `start`): each 512-aligned
/// offset where a text starts `<vgname> {` and parses to the end (its NUL,
/// wrapping once after the header). Copies partly overwritten by newer
/// ones no longer parse and are skipped; what remains is sorted by seqno.
pub fn scan_history(buf: &[u8], start: u64, limits: &Limits) -> Vec<Generation> {
    scan_history_counted(buf, start, limits).0
}

/// [`scan_history`] and the text bytes it parsed.
fn scan_history_counted(buf: &[u8], start: u64, limits: &Limits) -> (Vec<Generation>, usize) {
    let hdr = usize_of(MDA_HEADER_SIZE);
    let mut found: Vec<Generation> = Vec::new();
    let mut spent = 0usize;
    // lvm never writes a text longer than half the buffer.
    let max_text = buf.len().saturating_sub(hdr) / 2;
    let mut nuls = Nuls::new(buf, hdr);
    let mut o = hdr;
    while o < buf.len() && spent < MAX_HISTORY_PARSE {
        if let Some(g) = generation_at(buf, o, start, max_text, &mut nuls, limits, &mut spent)
            && !found
                .iter()
                .any(|f| f.crc == g.crc && f.vg.seqno == g.vg.seqno)
        {
            found.push(g);
        }
        o = o.saturating_add(hdr);
    }
    found.sort_by_key(|g| g.vg.seqno);
    let extra = found.len().saturating_sub(MAX_HISTORY);
    found.drain(..extra);
    (found, spent)
}

/// Whether `b` starts like lvm's text: a VG name, ` {`, a newline, `id = `.
fn looks_like_text(b: &[u8]) -> bool {
    let name_len = b
        .iter()
        .take(128)
        .take_while(|&&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'_' | b'.' | b'-'))
        .count();
    name_len > 0 && bytes(b, name_len, 2) == b" {" && {
        let rest = bytes(b, name_len.saturating_add(2), 16);
        let rest: Vec<u8> = rest
            .iter()
            .copied()
            .skip_while(|c| c.is_ascii_whitespace())
            .collect();
        rest.starts_with(b"id = \"")
    }
}

/// Where the NULs that end texts are, found once: the scan visits every
/// 512-byte offset, and searching from each one would be quadratic.
struct Nuls {
    /// The first NUL at or after the last offset asked about.
    next: Option<usize>,
    /// The first NUL after the header (where a wrapped text ends).
    head: Option<usize>,
}

impl Nuls {
    fn new(buf: &[u8], hdr: usize) -> Nuls {
        let head = buf
            .get(hdr..)
            .and_then(|b| b.iter().position(|&c| c == 0))
            .map(|p| p.saturating_add(hdr));
        Nuls { next: head, head }
    }

    /// The first NUL at or after `o` (offsets only grow between calls).
    fn at_or_after(&mut self, buf: &[u8], o: usize) -> Option<usize> {
        if self.next.is_some_and(|n| n < o) {
            self.next = buf
                .get(o..)
                .and_then(|b| b.iter().position(|&c| c == 0))
                .map(|p| p.saturating_add(o));
        }
        self.next
    }
}

fn generation_at(
    buf: &[u8],
    o: usize,
    start: u64,
    max_text: usize,
    nuls: &mut Nuls,
    limits: &Limits,
    spent: &mut usize,
) -> Option<Generation> {
    let hdr = usize_of(MDA_HEADER_SIZE);
    let tail = buf.get(o..)?;
    if !looks_like_text(tail) {
        return None;
    }
    let (text, pieces) = match nuls.at_or_after(buf, o) {
        Some(end) => {
            let n = end.saturating_sub(o);
            if n > max_text {
                return None;
            }
            (
                tail.get(..n)?.to_vec(),
                vec![(start.saturating_add(u64_of(o)), u64_of(n))],
            )
        }
        None => {
            // Runs to the end of the area: continues after the header.
            let n = nuls.head.filter(|&h| h < o)?.saturating_sub(hdr);
            if tail.len().saturating_add(n) > max_text {
                return None;
            }
            let mut t = tail.to_vec();
            t.extend_from_slice(buf.get(hdr..hdr.saturating_add(n))?);
            (
                t,
                vec![
                    (start.saturating_add(u64_of(o)), u64_of(tail.len())),
                    (start.saturating_add(MDA_HEADER_SIZE), u64_of(n)),
                ],
            )
        }
    };
    *spent = spent.saturating_add(text.len());
    let root = config::parse(&text, limits).ok()?;
    let vg = VgMetadata::from_config(&root).ok()?;
    Some(Generation {
        pieces,
        len: u64_of(text.len()),
        crc: calc_crc(INITIAL_CRC, &text),
        vg: Box::new(vg),
    })
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::as_conversions)]
mod tests {
    use super::*;
    use imgcheck_core::BytesReader;

    fn text(seqno: u64, pad: usize) -> Vec<u8> {
        format!(
            "vg {{\nid = \"TiZ3bq-gGKc-HlTH-eIVb-f3Jo-PwYB-J8zGl8\"\nseqno = {seqno}\nextent_size = 8192\n}}\n# {}\n",
            "x".repeat(pad)
        )
        .into_bytes()
    }

    #[test]
    fn wrapped_copy_reads_in_two_pieces() {
        // Area of 4096 bytes at 4096; a 700-byte text at offset 3584 wraps
        // 188 bytes to 4096+512.
        let mut disk = vec![0u8; 16384];
        let t = text(7, 600);
        let n = t.len();
        let first = 4096 - 3584;
        disk[4096 + 3584..8192].copy_from_slice(&t[..first]);
        disk[4096 + 512..4096 + 512 + (n - first)].copy_from_slice(&t[first..]);
        let r = BytesReader::new(disk.clone());
        let locn = RawLocn {
            offset: 3584,
            size: n as u64,
            checksum: calc_crc(INITIAL_CRC, &t),
            flags: 0,
        };
        let got = read_text(&r, 4096, 4096, &locn).unwrap();
        assert!(got.wrapped());
        assert_eq!(got.bytes, t);
        assert_eq!(got.crc, locn.checksum);
        assert_eq!(got.device_offset(first), 4096 + 512);
        assert_eq!(got.device_offset(1), 4096 + 3585);
        // lvm's bounds
        for bad in [
            RawLocn {
                offset: 4096,
                ..locn
            },
            RawLocn {
                offset: 100,
                ..locn
            },
            RawLocn { size: 4000, ..locn },
        ] {
            assert!(matches!(
                read_text(&r, 4096, 4096, &bad),
                Err(TextError::OutOfBounds(_))
            ));
        }
        // History finds the wrapped copy and an older one.
        let old = text(6, 10);
        disk[4096 + 1536..4096 + 1536 + old.len()].copy_from_slice(&old);
        let h = scan_history(&disk[4096..8192], 4096, &Limits::default());
        assert_eq!(h.iter().map(|g| g.vg.seqno).collect::<Vec<_>>(), [6, 7]);
        assert_eq!(h[1].pieces.len(), 2);
        assert_eq!(h[1].crc, locn.checksum);
    }

    #[test]
    fn history_scan_is_bounded_on_a_hostile_ring() {
        // 8 MiB of texts that each parse to the end of the area: without
        // the parse budget every 512-byte offset would parse megabytes.
        let mut block = b"v {\nid = \"a\"\nseqno = 1\n}\n#".to_vec();
        block.resize(512, b'x');
        block[511] = b'\n';
        let mut area = vec![0u8; 512];
        while area.len() < 8 << 20 {
            area.extend_from_slice(&block);
        }
        *area.last_mut().unwrap() = 0;
        let (found, spent) = scan_history_counted(&area, 4096, &Limits::default());
        assert!(spent <= MAX_HISTORY_PARSE + (4 << 20), "{spent}");
        assert!(spent >= MAX_HISTORY_PARSE, "the budget was what stopped it");
        assert!(found.len() <= MAX_HISTORY);
    }

    #[test]
    fn header_fields() {
        let mut b = vec![0u8; 512];
        b[4..20].copy_from_slice(FMTT_MAGIC);
        b[20..24].copy_from_slice(&1u32.to_le_bytes());
        b[24..32].copy_from_slice(&4096u64.to_le_bytes());
        b[32..40].copy_from_slice(&1044480u64.to_le_bytes());
        b[40..48].copy_from_slice(&1536u64.to_le_bytes());
        b[48..56].copy_from_slice(&1221u64.to_le_bytes());
        let c = calc_crc(INITIAL_CRC, &b[4..]);
        b[0..4].copy_from_slice(&c.to_le_bytes());
        let h = MdaHeader::parse(&b, 4096);
        assert!(h.magic_ok && h.checksum_ok() && h.version == 1);
        assert_eq!(h.raw_locns.len(), 1);
        assert_eq!(h.raw_locns[0].size, 1221);
        b[100] = 1;
        assert!(!MdaHeader::parse(&b, 4096).checksum_ok());
    }
}

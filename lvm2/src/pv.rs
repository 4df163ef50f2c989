//! One physical volume read from one reader: label, PV header, each
//! metadata area's header, its committed copy (CRC-checked and parsed) and
//! the older generations still in its ring buffer. Findings here concern
//! this PV alone; [`crate::assemble`] compares PVs.

use crate::LAYER;
use crate::config::{self, Limits};
use crate::hints;
use crate::label::{LVM2_LABEL, LabelRead, read_label};
use crate::mda::{self, Generation, MDA_HEADER_SIZE, MdaHeader, RAW_LOCN_IGNORED, Text};
use crate::metadata::VgMetadata;
use imgcheck_core::{Finding, ReadAt, Sink, Space, human_size, read_vec};
use serde::Serialize;

/// What one metadata area held.
#[derive(Debug, Clone, Serialize)]
pub struct Mda {
    /// Absolute offset of the area (from the PV header).
    pub start: u64,
    /// Size of the area (from the PV header).
    pub size: u64,
    /// Its header, when it could be read.
    pub header: Option<MdaHeader>,
    /// The committed copy (raw_locn\[0\]), when the header points at one.
    pub committed: Option<Copy>,
    /// Complete older (and the current) generations found in the buffer.
    pub history: Vec<Generation>,
    /// The area is marked ignored (raw_locn flags).
    pub ignored: bool,
}

/// The committed metadata copy of one area.
#[derive(Debug, Clone, Serialize)]
pub struct Copy {
    /// Where its text is.
    pub text: Option<Text>,
    /// The checksum raw_locn holds.
    pub crc_stored: u32,
    /// Whether the text's CRC matches (false when unreadable).
    pub crc_ok: bool,
    /// The parsed VG, when the text parsed (even with a bad CRC: a
    /// damaged text that still parses is evidence, never authority).
    pub vg: Option<Box<VgMetadata>>,
    /// Why it did not parse: the message and its absolute device offset.
    pub error: Option<(u64, String)>,
}

impl Copy {
    /// A copy lvm would use: CRC good and parsed.
    pub fn usable(&self) -> Option<&VgMetadata> {
        if self.crc_ok {
            self.vg.as_deref()
        } else {
            None
        }
    }
}

/// A physical volume as found on one reader.
#[derive(Debug, Clone, Serialize)]
pub struct PhysicalVolume {
    /// Length of the reader (the container's size).
    pub len: u64,
    /// The label and header as read.
    pub label: LabelRead,
    /// Its metadata areas in PV-header order.
    pub mdas: Vec<Mda>,
    /// Findings about this PV alone (offsets in the reader).
    #[serde(skip)]
    pub findings: Vec<Finding>,
}

impl PhysicalVolume {
    /// The PV UUID (dashed), when the header was read.
    pub fn uuid(&self) -> Option<&str> {
        self.label.header.as_ref().map(|h| h.uuid.as_str())
    }
    /// The newest usable committed copy among its areas.
    pub fn current(&self) -> Option<&VgMetadata> {
        self.mdas
            .iter()
            .filter_map(|m| m.committed.as_ref().and_then(Copy::usable))
            .max_by_key(|v| v.seqno)
    }
    /// Every generation in its areas' ring buffers, by seqno.
    pub fn history(&self) -> impl Iterator<Item = &Generation> {
        self.mdas.iter().flat_map(|m| m.history.iter())
    }
}

/// Whether `r` starts with an LVM2 label (cheap: four sectors).
pub fn probe(r: &dyn ReadAt) -> Option<LabelRead> {
    let n = r.len().min(2048);
    let buf = read_vec(r, 0, n, 2048).ok()?;
    let l = read_label(&buf);
    l.label.is_some().then_some(l)
}

/// Reads the PV on `r`: `None` when no sector of the first four holds
/// `LABELONE` (not a PV, or a PV whose label was destroyed: see
/// [`read_unlabelled`]).
pub fn read(r: &dyn ReadAt, limits: &Limits) -> Option<PhysicalVolume> {
    let label = probe(r)?;
    let mut f = Sink::new();
    let len = r.len();
    let Some(l) = &label.label else { return None };
    let at = l.at();
    if !l.crc_ok() {
        f.push(
            Finding::error(
                "lvm2.label.crc",
                LAYER,
                at,
                Space::Disk,
                format!(
                    "PV label in sector {}: CRC is {:#010x}, computed {:#010x} (lvm ignores this label)",
                    l.sector, l.crc_stored, l.crc_computed
                ),
            )
            .with_hint(hints::pvck_headers()),
        );
    }
    if l.sector_xl != l.sector {
        f.push(Finding::warning(
            "lvm2.label.sector",
            LAYER,
            at,
            Space::Disk,
            format!(
                "PV label found in sector {} says it is in sector {}",
                l.sector, l.sector_xl
            ),
        ));
    }
    if l.label_type.as_bytes() != LVM2_LABEL {
        f.push(Finding::error(
            "lvm2.label.type",
            LAYER,
            at.saturating_add(24),
            Space::Disk,
            format!("PV label type is {:?}, expected \"LVM2 001\"", l.label_type),
        ));
    }
    for s in &label.extra_labels {
        f.push(Finding::warning(
            "lvm2.label.extra",
            LAYER,
            s.saturating_mul(512),
            Space::Disk,
            format!(
                "a second LABELONE in sector {s}; lvm uses the one in sector {}",
                l.sector
            ),
        ));
    }
    let mut mdas = Vec::new();
    match &label.header {
        None => f.push(
            Finding::error(
                "lvm2.pv_header.offset",
                LAYER,
                at.saturating_add(20),
                Space::Disk,
                format!(
                    "PV header offset {} does not leave room for a header in the label sector",
                    l.offset_xl
                ),
            )
            .with_hint(hints::pvck_headers()),
        ),
        Some(h) => {
            let hat = at.saturating_add(u64::from(l.offset_xl));
            if !h.uuid_printable() {
                f.push(Finding::error(
                    "lvm2.pv_header.uuid",
                    LAYER,
                    hat,
                    Space::Disk,
                    format!(
                        "PV UUID {:?} is not 32 characters of LVM's alphabet",
                        String::from_utf8_lossy(&h.uuid_raw)
                    ),
                ));
            }
            if h.truncated {
                f.push(Finding::error(
                    "lvm2.pv_header.truncated",
                    LAYER,
                    hat,
                    Space::Disk,
                    "PV header's area lists run to the end of the label sector without their terminator",
                ));
            }
            if h.device_size > len {
                f.push(
                    Finding::error(
                        "lvm2.pv_header.device_size",
                        LAYER,
                        hat.saturating_add(32),
                        Space::Disk,
                        format!(
                            "PV header says the device holds {} ({} bytes) but the container holds {} ({} bytes): the image is truncated or the disk shrank",
                            human_size(h.device_size), h.device_size, human_size(len), len
                        ),
                    )
                    .with_hint(hints::pvs()),
                );
            }
            for d in &h.data_areas {
                if d.offset >= len {
                    f.push(Finding::error(
                        "lvm2.pv_header.data_area",
                        LAYER,
                        hat,
                        Space::Disk,
                        format!(
                            "data area starts at byte {} past the end of the {}-byte device",
                            d.offset, len
                        ),
                    ));
                }
            }
            if h.data_areas.len() > 1 {
                f.push(Finding::warning(
                    "lvm2.pv_header.data_area",
                    LAYER,
                    hat,
                    Space::Disk,
                    format!("{} data areas; lvm2 uses one", h.data_areas.len()),
                ));
            }
            for d in &h.metadata_areas {
                mdas.push(read_mda(r, d.offset, d.size, limits, &mut f));
            }
        }
    }
    Some(PhysicalVolume {
        len,
        label,
        mdas,
        findings: f.finish(),
    })
}

/// Reads the metadata area at `start` of `size` bytes, when it has one,
/// without trusting a label: for a PV whose label was zeroed. Returns the
/// area only when its header magic matches.
pub fn read_unlabelled(r: &dyn ReadAt, start: u64, size: u64, limits: &Limits) -> Option<Mda> {
    let mut f = Sink::new();
    let m = read_mda(r, start, size, limits, &mut f);
    m.header.as_ref().is_some_and(|h| h.magic_ok).then_some(m)
}

fn read_mda(r: &dyn ReadAt, start: u64, size: u64, limits: &Limits, f: &mut Sink) -> Mda {
    let mut m = Mda {
        start,
        size,
        header: None,
        committed: None,
        history: Vec::new(),
        ignored: false,
    };
    let buf = match read_vec(r, start, MDA_HEADER_SIZE, MDA_HEADER_SIZE) {
        Ok(b) => b,
        Err(e) => {
            f.push(Finding::error(
                "lvm2.mda.unreadable",
                LAYER,
                start,
                Space::Disk,
                format!("metadata area header at byte {start}: {e}"),
            ));
            return m;
        }
    };
    let h = MdaHeader::parse(&buf, start);
    if !h.magic_ok {
        f.push(
            Finding::error(
                "lvm2.mda.magic",
                LAYER,
                start,
                Space::Disk,
                format!("metadata area header at byte {start} lacks the \" LVM2 x[5A%r0N*>\" magic: this PV's copy of the VG metadata is lost"),
            )
            .with_hint(hints::pvck_search()),
        );
    } else if !h.checksum_ok() {
        f.push(
            Finding::error(
                "lvm2.mda.checksum",
                LAYER,
                start,
                Space::Disk,
                format!(
                    "metadata area header at byte {start}: checksum is {:#010x}, computed {:#010x} (lvm ignores this area)",
                    h.checksum_stored, h.checksum_computed
                ),
            )
            .with_hint(hints::pvck_search()),
        );
    }
    if h.magic_ok && h.version != mda::FMTT_VERSION {
        f.push(Finding::error(
            "lvm2.mda.version",
            LAYER,
            start.saturating_add(20),
            Space::Disk,
            format!("metadata area header version {}, expected 1", h.version),
        ));
    }
    if h.magic_ok && (h.start != start || h.size != size) {
        f.push(Finding::error(
            "lvm2.mda.location",
            LAYER,
            start.saturating_add(24),
            Space::Disk,
            format!(
                "metadata area header says start {} size {}, the PV header says start {start} size {size}",
                h.start, h.size
            ),
        ));
    }
    // The area's size is the PV header's; lvm reads the buffer with it.
    let usable = h.magic_ok && h.checksum_ok();
    if usable && let Some(rl) = h.raw_locns.first() {
        m.ignored = rl.flags & RAW_LOCN_IGNORED != 0;
        if rl.offset != 0 {
            m.committed = Some(read_copy(r, start, size, rl, limits, f));
        }
    }
    if h.magic_ok {
        // The ring is worth reading even when the header is damaged.
        let n = size
            .min(mda::MAX_AREA_SCAN)
            .min(r.len().saturating_sub(start));
        if let Ok(area) = read_vec(r, start, n, mda::MAX_AREA_SCAN) {
            m.history = mda::scan_history(&area, start, limits);
        }
        if size > mda::MAX_AREA_SCAN {
            f.push(Finding::info(
                "lvm2.mda.history_bound",
                LAYER,
                start,
                Space::Disk,
                format!(
                    "metadata area of {} searched for older copies only in its first {}",
                    human_size(size),
                    human_size(mda::MAX_AREA_SCAN)
                ),
            ));
        }
    }
    // A committed copy whose CRC fails is damaged: the scan must not
    // offer the same bytes back as a sound older generation.
    if let Some(bad) = m
        .committed
        .as_ref()
        .filter(|c| !c.crc_ok)
        .and_then(|c| c.text.as_ref())
    {
        let at = bad.device_offset(0);
        m.history
            .retain(|g| g.pieces.first().is_none_or(|p| p.0 != at));
    }
    m.header = Some(h);
    m
}

fn read_copy(
    r: &dyn ReadAt,
    start: u64,
    size: u64,
    rl: &mda::RawLocn,
    limits: &Limits,
    f: &mut Sink,
) -> Copy {
    let loc_at = start.saturating_add(40);
    let text = match mda::read_text(r, start, size, rl) {
        Ok(t) => t,
        Err(e) => {
            f.push(
                Finding::error(
                    "lvm2.mda.raw_locn",
                    LAYER,
                    loc_at,
                    Space::Disk,
                    format!("metadata area at byte {start}: committed copy (raw_locn[0]): {e}"),
                )
                .with_hint(hints::pvck_search()),
            );
            return Copy {
                text: None,
                crc_stored: rl.checksum,
                crc_ok: false,
                vg: None,
                error: None,
            };
        }
    };
    let text_at = text.device_offset(0);
    let crc_ok = text.crc == rl.checksum;
    if !crc_ok {
        f.push(
            Finding::error(
                "lvm2.metadata.crc",
                LAYER,
                text_at,
                Space::Disk,
                format!(
                    "metadata text at byte {text_at} ({} bytes): CRC {:#010x} does not match the mda header's {:#010x}",
                    text.bytes.len(), text.crc, rl.checksum
                ),
            )
            .with_hint(hints::pvck_search()),
        );
    }
    let (vg, error) = match config::parse(&text.bytes, limits) {
        Err(e) => {
            let at = text.device_offset(e.offset);
            (
                None,
                Some((
                    at,
                    format!("metadata text does not parse at byte {at}: {}", e.message),
                )),
            )
        }
        Ok(root) => match VgMetadata::from_config(&root) {
            Ok(v) => (Some(Box::new(v)), None),
            Err(e) => {
                let at = text.device_offset(e.offset);
                (
                    None,
                    Some((
                        at,
                        format!(
                            "metadata text is not valid VG metadata at byte {at}: {}",
                            e.message
                        ),
                    )),
                )
            }
        },
    };
    if let Some((at, msg)) = &error {
        f.push(
            Finding::error("lvm2.metadata.parse", LAYER, *at, Space::Disk, msg.clone())
                .with_hint(hints::pvck_search()),
        );
    }
    if let Some(v) = &vg
        && !v.text_format_ok
    {
        f.push(Finding::warning(
            "lvm2.metadata.format",
            LAYER,
            text_at,
            Space::Disk,
            "metadata text lacks contents = \"Text Format Volume Group\" / version = 1",
        ));
    }
    Copy {
        crc_stored: rl.checksum,
        crc_ok,
        text: Some(text),
        vg,
        error,
    }
}

//! AG headers: the AGF (free space), AGI (inodes) and AGFL (the free list),
//! read and checked as `xfs_repair` phase 2 does (`verify_set_agf`,
//! `verify_set_agi`, `scan_freelist`) plus the v5 read verifiers.

use crate::crc;
use crate::fs::Fs;
use imgcheck_core::bytes::{arr, be32, be64};
use serde::Serialize;

/// `XAGF`.
pub const AGF_MAGIC: u32 = 0x5841_4746;
/// `XAGI`.
pub const AGI_MAGIC: u32 = 0x5841_4749;
/// `XAFL`.
pub const AGFL_MAGIC: u32 = 0x5841_464C;
/// `NULLAGBLOCK`.
pub const NULLAGBLOCK: u32 = u32::MAX;
/// `NULLAGINO`.
pub const NULLAGINO: u32 = u32::MAX;
/// Unlinked-inode hash buckets in the AGI.
pub const UNLINKED_BUCKETS: usize = 64;

/// The AGF, fields by kernel name.
#[derive(Debug, Clone, Default, Serialize)]
#[allow(missing_docs)] // agf_* of xfs_format.h
pub struct Agf {
    pub magicnum: u32,
    pub versionnum: u32,
    pub seqno: u32,
    pub length: u32,
    pub bno_root: u32,
    pub cnt_root: u32,
    pub rmap_root: u32,
    pub bno_level: u32,
    pub cnt_level: u32,
    pub rmap_level: u32,
    pub flfirst: u32,
    pub fllast: u32,
    pub flcount: u32,
    pub freeblks: u32,
    pub longest: u32,
    pub btreeblks: u32,
    pub uuid: [u8; 16],
    pub rmap_blocks: u32,
    pub refcount_blocks: u32,
    pub refcount_root: u32,
    pub refcount_level: u32,
    pub lsn: u64,
}

impl Agf {
    /// Decodes an AGF sector.
    pub fn parse(b: &[u8]) -> Agf {
        Agf {
            magicnum: be32(b, 0x00),
            versionnum: be32(b, 0x04),
            seqno: be32(b, 0x08),
            length: be32(b, 0x0C),
            bno_root: be32(b, 0x10),
            cnt_root: be32(b, 0x14),
            rmap_root: be32(b, 0x18),
            bno_level: be32(b, 0x1C),
            cnt_level: be32(b, 0x20),
            rmap_level: be32(b, 0x24),
            flfirst: be32(b, 0x28),
            fllast: be32(b, 0x2C),
            flcount: be32(b, 0x30),
            freeblks: be32(b, 0x34),
            longest: be32(b, 0x38),
            btreeblks: be32(b, 0x3C),
            uuid: arr(b, 0x40),
            rmap_blocks: be32(b, 0x50),
            refcount_blocks: be32(b, 0x54),
            refcount_root: be32(b, 0x58),
            refcount_level: be32(b, 0x5C),
            lsn: be64(b, 0xD0),
        }
    }
}

/// The AGI, fields by kernel name.
#[derive(Debug, Clone, Serialize)]
#[allow(missing_docs)] // agi_* of xfs_format.h
pub struct Agi {
    pub magicnum: u32,
    pub versionnum: u32,
    pub seqno: u32,
    pub length: u32,
    pub count: u32,
    pub root: u32,
    pub level: u32,
    pub freecount: u32,
    pub newino: u32,
    pub dirino: u32,
    pub unlinked: Vec<u32>,
    pub uuid: [u8; 16],
    pub lsn: u64,
    pub free_root: u32,
    pub free_level: u32,
    pub iblocks: u32,
    pub fblocks: u32,
}

impl Agi {
    /// Decodes an AGI sector.
    pub fn parse(b: &[u8]) -> Agi {
        Agi {
            magicnum: be32(b, 0x00),
            versionnum: be32(b, 0x04),
            seqno: be32(b, 0x08),
            length: be32(b, 0x0C),
            count: be32(b, 0x10),
            root: be32(b, 0x14),
            level: be32(b, 0x18),
            freecount: be32(b, 0x1C),
            newino: be32(b, 0x20),
            dirino: be32(b, 0x24),
            unlinked: (0..UNLINKED_BUCKETS)
                .map(|i| be32(b, 0x28usize.saturating_add(i.saturating_mul(4))))
                .collect(),
            uuid: arr(b, 0x128),
            lsn: be64(b, 0x140),
            free_root: be32(b, 0x148),
            free_level: be32(b, 0x14C),
            iblocks: be32(b, 0x150),
            fblocks: be32(b, 0x154),
        }
    }
}

/// One AG's headers as read, with what the checks found about them.
#[derive(Debug, Clone)]
pub struct AgHeaders {
    /// AG number.
    pub agno: u32,
    /// The AGF, when its sector was read.
    pub agf: Option<Agf>,
    /// Whether the AGF is trustworthy enough to walk its trees.
    pub agf_ok: bool,
    /// The AGI, when read.
    pub agi: Option<Agi>,
    /// Whether the AGI is trustworthy enough to walk its trees.
    pub agi_ok: bool,
    /// Live AGFL entries (agbnos), in list order.
    pub agfl: Vec<u32>,
}

/// Slots in the AGFL (`libxfs_agfl_size`).
pub fn agfl_size(fs: &Fs<'_>) -> u32 {
    let hdr = if fs.v5 { 36 } else { 0 };
    u32::try_from(fs.sect.saturating_sub(hdr) / 4).unwrap_or(0)
}

/// Reads and checks AG `agno`'s AGF, AGI and AGFL.
pub fn read(fs: &mut Fs<'_>, agno: u32) -> AgHeaders {
    let mut h = AgHeaders {
        agno,
        agf: None,
        agf_ok: false,
        agi: None,
        agi_ok: false,
        agfl: Vec::new(),
    };
    let agf_off = fs.ag_sector(agno, 1);
    if let Some(b) = fs.read(agf_off, fs.sect, "AGF") {
        let agf = Agf::parse(&b);
        h.agf_ok = check_agf(fs, agno, agf_off, &b, &agf);
        h.agf = Some(agf);
    }
    let agi_off = fs.ag_sector(agno, 2);
    if let Some(b) = fs.read(agi_off, fs.sect, "AGI") {
        let agi = Agi::parse(&b);
        h.agi_ok = check_agi(fs, agno, agi_off, &b, &agi);
        h.agi = Some(agi);
    }
    if let Some(agf) = &h.agf {
        h.agfl = read_agfl(fs, agno, agf);
    }
    h
}

fn check_agf(fs: &mut Fs<'_>, agno: u32, off: u64, b: &[u8], agf: &Agf) -> bool {
    let mut ok = true;
    if fs.v5 && !crc::verify(b, 0xD8) {
        fs.error(
            "xfs.agf.crc",
            off.saturating_add(0xD8),
            format!("AGF of AG {agno} has a bad CRC"),
        );
    }
    if agf.magicnum != AGF_MAGIC {
        fs.error(
            "xfs.agf.magic",
            off,
            format!("AGF of AG {agno} has bad magic {:#x}", agf.magicnum),
        );
        return false;
    }
    if agf.versionnum != 1 {
        fs.error(
            "xfs.agf.version",
            off.saturating_add(4),
            format!("AGF of AG {agno} has bad version {}", agf.versionnum),
        );
        ok = false;
    }
    if agf.seqno != agno {
        fs.error(
            "xfs.agf.seqno",
            off.saturating_add(8),
            format!("AGF of AG {agno} has sequence number {}", agf.seqno),
        );
        ok = false;
    }
    let want = fs.ag_len(agno);
    if u64::from(agf.length) != want {
        fs.error(
            "xfs.agf.length",
            off.saturating_add(0xC),
            format!(
                "AGF of AG {agno} has length {}, should be {want}",
                agf.length
            ),
        );
        ok = false;
    }
    let size = agfl_size(fs);
    if agf.flfirst >= size || agf.fllast >= size || agf.flcount > size {
        fs.error(
            "xfs.agf.freelist",
            off.saturating_add(0x28),
            format!(
                "AGF of AG {agno}: free list first {} last {} count {} do not fit its {size} slots",
                agf.flfirst, agf.fllast, agf.flcount
            ),
        );
    } else {
        // The count the first and last slots imply, circularly.
        let span = if agf.flcount == 0 {
            0
        } else if agf.fllast >= agf.flfirst {
            agf.fllast.saturating_sub(agf.flfirst).saturating_add(1)
        } else {
            size.saturating_sub(agf.flfirst)
                .saturating_add(agf.fllast)
                .saturating_add(1)
        };
        if span != agf.flcount {
            fs.error(
                "xfs.agf.freelist",
                off.saturating_add(0x30),
                format!(
                    "AGF of AG {agno}: free list slots {}..{} hold {span} blocks but flcount is {}",
                    agf.flfirst, agf.fllast, agf.flcount
                ),
            );
        }
    }
    if agf.freeblks > agf.length || agf.longest > agf.freeblks {
        fs.error(
            "xfs.agf.counts",
            off.saturating_add(0x34),
            format!("AGF of AG {agno}: longest free extent {} and free blocks {} do not fit the AG's {} blocks", agf.longest, agf.freeblks, agf.length),
        );
    }
    if fs.v5 {
        if agf.uuid != fs.uuid {
            fs.error(
                "xfs.agf.uuid",
                off.saturating_add(0x40),
                format!(
                    "AGF of AG {agno} carries another filesystem's UUID {}",
                    crate::sb::uuid_text(&agf.uuid)
                ),
            );
            ok = false;
        }
        fs.saw_lsn(agf.lsn, off.saturating_add(0xD0), "AGF");
    }
    ok
}

fn check_agi(fs: &mut Fs<'_>, agno: u32, off: u64, b: &[u8], agi: &Agi) -> bool {
    let mut ok = true;
    if fs.v5 && !crc::verify(b, 0x138) {
        fs.error(
            "xfs.agi.crc",
            off.saturating_add(0x138),
            format!("AGI of AG {agno} has a bad CRC"),
        );
    }
    if agi.magicnum != AGI_MAGIC {
        fs.error(
            "xfs.agi.magic",
            off,
            format!("AGI of AG {agno} has bad magic {:#x}", agi.magicnum),
        );
        return false;
    }
    if agi.versionnum != 1 {
        fs.error(
            "xfs.agi.version",
            off.saturating_add(4),
            format!("AGI of AG {agno} has bad version {}", agi.versionnum),
        );
        ok = false;
    }
    if agi.seqno != agno {
        fs.error(
            "xfs.agi.seqno",
            off.saturating_add(8),
            format!("AGI of AG {agno} has sequence number {}", agi.seqno),
        );
        ok = false;
    }
    let want = fs.ag_len(agno);
    if u64::from(agi.length) != want {
        fs.error(
            "xfs.agi.length",
            off.saturating_add(0xC),
            format!(
                "AGI of AG {agno} has length {}, should be {want}",
                agi.length
            ),
        );
        ok = false;
    }
    if agi.freecount > agi.count {
        fs.error(
            "xfs.agi.counts",
            off.saturating_add(0x1C),
            format!(
                "AGI of AG {agno}: {} free inodes of {}",
                agi.freecount, agi.count
            ),
        );
    }
    for (name, v, at) in [
        ("newino", agi.newino, 0x20u64),
        ("dirino", agi.dirino, 0x24),
    ] {
        // Hints only, but the kernel's verifier rejects one outside the AG.
        if v != NULLAGINO && !agino_in_ag(fs, agno, u64::from(v)) {
            fs.error(
                "xfs.agi.hint",
                off.saturating_add(at),
                format!("AGI of AG {agno}: {name} {v} lies outside the AG"),
            );
        }
    }
    let mut pending = 0usize;
    for (i, &u) in agi.unlinked.iter().enumerate() {
        let at = off
            .saturating_add(0x28)
            .saturating_add(Fs::w(i).saturating_mul(4));
        if u != NULLAGINO && (!agino_in_ag(fs, agno, u64::from(u)) || u == 0) {
            fs.error(
                "xfs.agi.unlinked",
                at,
                format!(
                    "AGI of AG {agno}: unlinked bucket {i} points at AG inode {u}, outside the AG"
                ),
            );
        } else if u != NULLAGINO {
            pending = pending.saturating_add(1);
        }
    }
    if pending > 0 {
        // Open-but-deleted files: log recovery frees them. After a clean
        // unmount the lists are empty, and xfs_repair reports each bucket.
        let (sev, why) = if fs.log_dirty {
            (crate::Severity::Info, "log recovery will free them")
        } else {
            (
                crate::Severity::Warning,
                "the log is clean, so nothing will free them: xfs_repair would",
            )
        };
        fs.note(
            sev,
            "xfs.agi.unlinked_pending",
            off.saturating_add(0x28),
            format!("AGI of AG {agno}: {pending} unlinked bucket(s) hold inodes that were deleted while open; {why}"),
        );
    }
    if fs.v5 {
        if agi.uuid != fs.uuid {
            fs.error(
                "xfs.agi.uuid",
                off.saturating_add(0x128),
                format!(
                    "AGI of AG {agno} carries another filesystem's UUID {}",
                    crate::sb::uuid_text(&agi.uuid)
                ),
            );
            ok = false;
        }
        fs.saw_lsn(agi.lsn, off.saturating_add(0x140), "AGI");
    }
    ok
}

/// Whether AG inode `agino` can exist in AG `agno` (its block is in the AG).
pub fn agino_in_ag(fs: &Fs<'_>, agno: u32, agino: u64) -> bool {
    let agbno = agino.checked_shr(fs.inopblog()).unwrap_or(u64::MAX);
    agbno >= fs.first_free_agbno() && agbno < fs.ag_len(agno)
}

fn read_agfl(fs: &mut Fs<'_>, agno: u32, agf: &Agf) -> Vec<u32> {
    let off = fs.ag_sector(agno, 3);
    let Some(b) = fs.read(off, fs.sect, "AGFL") else {
        return Vec::new();
    };
    let size = agfl_size(fs);
    let base = if fs.v5 { 36usize } else { 0 };
    if fs.v5 {
        let magic = be32(&b, 0);
        let mut hdr_ok = true;
        if magic != AGFL_MAGIC {
            fs.error(
                "xfs.agfl.magic",
                off,
                format!("AGFL of AG {agno} has bad magic {magic:#x}"),
            );
            hdr_ok = false;
        } else if !crc::verify(&b, 0x20) {
            fs.error(
                "xfs.agfl.crc",
                off.saturating_add(0x20),
                format!("AGFL of AG {agno} has a bad CRC"),
            );
        }
        if hdr_ok {
            let seq = be32(&b, 4);
            if seq != agno {
                fs.error(
                    "xfs.agfl.seqno",
                    off.saturating_add(4),
                    format!("AGFL of AG {agno} has sequence number {seq}"),
                );
            }
            let u: [u8; 16] = arr(&b, 8);
            if u != fs.uuid {
                fs.error(
                    "xfs.agfl.uuid",
                    off.saturating_add(8),
                    format!(
                        "AGFL of AG {agno} carries another filesystem's UUID {}",
                        crate::sb::uuid_text(&u)
                    ),
                );
            }
            fs.saw_lsn(be64(&b, 0x18), off.saturating_add(0x18), "AGFL");
        }
    }
    if agf.flcount == 0 || agf.flfirst >= size || agf.fllast >= size || agf.flcount > size {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut i = agf.flfirst;
    // At most `size` steps: the circular walk from flfirst to fllast.
    for _ in 0..size {
        let at = base.saturating_add(Fs::u(u64::from(i)).saturating_mul(4));
        let bno = be32(&b, at);
        if bno == NULLAGBLOCK || !fs.agbno_ok(agno, u64::from(bno)) {
            fs.error(
                "xfs.agfl.entry",
                off.saturating_add(Fs::w(at)),
                format!("AGFL of AG {agno}: slot {i} holds block {bno}, not a block of the AG"),
            );
        } else {
            out.push(bno);
        }
        if i == agf.fllast {
            break;
        }
        i = if i.saturating_add(1) >= size {
            0
        } else {
            i.saturating_add(1)
        };
    }
    out
}

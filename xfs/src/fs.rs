//! The state one check carries: the reader, the superblock it trusts, the
//! geometry derived from it, and the findings so far (one [`Sink`]). Every
//! read goes through [`Fs::read`], so a failed read is a finding at its
//! offset, never an absent structure.

use crate::LAYER;
use crate::sb::Superblock;
use imgcheck_core::bytes::u64_of;
use imgcheck_core::{Finding, Hint, ReadAt, ReadErrorKind, Severity, Sink, Space, read_vec};
use std::borrow::Cow;
use std::collections::HashSet;

/// The largest single read the checker makes: a 64 KiB directory block or
/// an inode cluster (a chunk of 64 2 KiB inodes is 128 KiB).
pub const MAX_READ: u64 = 1 << 20;
/// Read failures remembered so one unreadable range is reported once.
const MAX_FAILED_OFFSETS: usize = 4096;

/// The read-only check every XFS hint starts from.
pub const XFS_REPAIR_N: &str = "xfs_repair -n {dev}";

/// The next step for damage `xfs_repair` would fix: look first, on a copy.
pub fn repair_hint() -> Hint {
    Hint::read_only(XFS_REPAIR_N)
        .because("reports what xfs_repair would change; repair only a copy (cp --sparse=always)")
}

/// One check's state.
pub struct Fs<'a> {
    /// What holds the filesystem.
    pub r: &'a dyn ReadAt,
    /// The superblock the check trusts (the primary, or a secondary).
    pub sb: Superblock,
    /// Block size in bytes.
    pub bs: u64,
    /// Sector size in bytes.
    pub sect: u64,
    /// Blocks per AG.
    pub agblocks: u64,
    /// Number of AGs.
    pub agcount: u32,
    /// v5 (CRC) metadata.
    pub v5: bool,
    /// The UUID v5 blocks must carry.
    pub uuid: [u8; 16],
    /// Findings.
    pub sink: Sink,
    failed: HashSet<u64>,
    /// The image's read bound was hit: what follows was not checked.
    pub budget_hit: bool,
    /// Why the check stopped short, when it did.
    pub incomplete: Option<String>,
    /// The reverse map the full check filled.
    pub(crate) owners: Option<imgcheck_core::OwnerMap>,
    /// The largest LSN stamped in v5 metadata, where, and in what.
    pub max_lsn: Option<(u64, u64, &'static str)>,
    /// The log holds transactions to replay: what they would change is
    /// pending, not damage.
    pub log_dirty: bool,
}

impl<'a> Fs<'a> {
    /// A check of `r` through `sb` (validated by the caller).
    pub fn new(r: &'a dyn ReadAt, sb: Superblock) -> Self {
        Fs {
            r,
            bs: u64::from(sb.blocksize).max(512),
            sect: u64::from(sb.sectsize).max(512),
            agblocks: u64::from(sb.agblocks),
            agcount: sb.agcount,
            v5: sb.is_v5(),
            uuid: sb.stamp_uuid(),
            sb,
            sink: Sink::new(),
            failed: HashSet::new(),
            budget_hit: false,
            incomplete: None,
            owners: None,
            max_lsn: None,
            log_dirty: false,
        }
    }

    /// Whether `ino` is one the superblock names for the realtime
    /// bitmap or summary or a quota file: repair types these by number,
    /// not mode (one link each, no unwritten extents).
    pub fn is_meta_ino(&self, ino: u64) -> bool {
        let pq = if self.v5 {
            self.sb.pquotino
        } else {
            crate::sb::NULLFSINO
        };
        ino != 0
            && ino != crate::sb::NULLFSINO
            && [
                self.sb.rbmino,
                self.sb.rsumino,
                self.sb.uquotino,
                self.sb.gquotino,
                pq,
            ]
            .contains(&ino)
    }

    /// Notes an LSN stamped at `off` in `what` (checked against the log head).
    pub fn saw_lsn(&mut self, lsn: u64, off: u64, what: &'static str) {
        // NULLCOMMITLSN: blocks written outside the log (remote attribute
        // values) carry -1, which the verifiers skip.
        if lsn == u64::MAX {
            return;
        }
        if self.max_lsn.is_none_or(|(m, _, _)| lsn > m) {
            self.max_lsn = Some((lsn, off, what));
        }
    }

    /// Adds a finding.
    pub fn push(&mut self, f: Finding) {
        self.sink.push(f);
    }

    /// A finding of `sev` at `off` with the repair hint when it is damage.
    pub fn note(
        &mut self,
        sev: Severity,
        code: impl Into<Cow<'static, str>>,
        off: u64,
        msg: impl Into<String>,
    ) {
        let code = code.into();
        if self.sink.is_full(&code) {
            // Counted, not formatted: the sink only needs the code and severity.
            self.sink.push(Finding::new(
                sev,
                code,
                LAYER,
                off,
                Space::Disk,
                String::new(),
            ));
            return;
        }
        let mut f = Finding::new(sev, code, LAYER, off, Space::Disk, msg);
        if sev > Severity::Info {
            f = f.with_hint(repair_hint());
        }
        self.sink.push(f);
    }

    /// Damage `xfs_repair` would fix.
    pub fn error(&mut self, code: impl Into<Cow<'static, str>>, off: u64, msg: impl Into<String>) {
        self.note(Severity::Error, code, off, msg);
    }

    /// Reads `len` bytes at `off` for `what`; a failure is a finding and `None`.
    pub fn read(&mut self, off: u64, len: u64, what: &str) -> Option<Vec<u8>> {
        if self.budget_hit {
            return None;
        }
        match read_vec(self.r, off, len, MAX_READ) {
            Ok(b) => Some(b),
            Err(e) => {
                match &e.kind {
                    ReadErrorKind::Budget { .. } => {
                        self.budget_hit = true;
                        self.incomplete.get_or_insert_with(|| {
                            format!("the image's read bound was reached reading {what}")
                        });
                        self.push(Finding::warning(
                            "xfs.read.budget",
                            LAYER,
                            off,
                            Space::Disk,
                            format!("{what} not read at offset {off}: {e}; the check is incomplete from here"),
                        ));
                    }
                    ReadErrorKind::OutOfBounds { .. } => {
                        // Past the end of what holds the filesystem: the
                        // size check says so once; each structure cut off
                        // is still named.
                        self.push(Finding::error(
                            "xfs.read.past_end",
                            LAYER,
                            off,
                            Space::Disk,
                            format!("{what} at offset {off} lies past the end of what holds the filesystem ({} bytes)", self.r.len()),
                        ));
                    }
                    _ => {
                        let first = if self.failed.len() < MAX_FAILED_OFFSETS {
                            self.failed.insert(off)
                        } else {
                            !self.failed.contains(&off)
                        };
                        if first {
                            let hint = match e.kind {
                                ReadErrorKind::Layer(_) => Hint::advice(
                                    "the layer below could not produce these bytes: see its findings; this part of the filesystem was not checked",
                                ),
                                _ => Hint::advice(
                                    "the storage returned a read error: image it with ddrescue onto healthy storage and check the copy; never repair the failing disk in place",
                                ),
                            };
                            self.push(
                                Finding::error(
                                    "xfs.read.unreadable",
                                    LAYER,
                                    off,
                                    Space::Disk,
                                    format!("{what} is unreadable: {e}"),
                                )
                                .with_hint(hint),
                            );
                        }
                    }
                }
                None
            }
        }
    }

    /// Blocks in AG `agno` (the last AG may be shorter).
    pub fn ag_len(&self, agno: u32) -> u64 {
        let start = u64::from(agno).saturating_mul(self.agblocks);
        self.sb.dblocks.saturating_sub(start).min(self.agblocks)
    }

    /// Byte offset of block `agbno` of AG `agno`.
    pub fn agb_byte(&self, agno: u32, agbno: u64) -> u64 {
        u64::from(agno)
            .saturating_mul(self.agblocks)
            .saturating_add(agbno)
            .saturating_mul(self.bs)
    }

    /// Byte offset of the AG's `n`th header sector (0 SB, 1 AGF, 2 AGI, 3 AGFL).
    pub fn ag_sector(&self, agno: u32, n: u64) -> u64 {
        self.agb_byte(agno, 0)
            .saturating_add(n.saturating_mul(self.sect))
    }

    /// The first AG block after the headers (`XFS_AGFL_BLOCK + 1`).
    pub fn first_free_agbno(&self) -> u64 {
        3u64.saturating_mul(self.sect)
            .checked_div(self.bs)
            .unwrap_or(0)
            .saturating_add(1)
    }

    /// `libxfs_verify_agbno`: past the headers and inside the AG.
    pub fn agbno_ok(&self, agno: u32, agbno: u64) -> bool {
        agbno >= self.first_free_agbno() && agbno < self.ag_len(agno)
    }

    /// An FSB split into (AG, block), when both are in range.
    pub fn fsb_split(&self, fsb: u64) -> Option<(u32, u64)> {
        let log = u32::from(self.sb.agblklog);
        let agno = fsb.checked_shr(log).unwrap_or(0);
        let mask = 1u64
            .checked_shl(log)
            .map_or(u64::MAX, |m| m.saturating_sub(1));
        let agbno = fsb & mask;
        let agno = u32::try_from(agno).ok()?;
        (agno < self.agcount && agbno < self.ag_len(agno)).then_some((agno, agbno))
    }

    /// An FSB made from (AG, block).
    pub fn fsb_of(&self, agno: u32, agbno: u64) -> u64 {
        u64::from(agno)
            .checked_shl(u32::from(self.sb.agblklog))
            .unwrap_or(u64::MAX)
            | agbno
    }

    /// Inodes per block, log2.
    pub fn inopblog(&self) -> u32 {
        u32::from(self.sb.inopblog)
    }

    /// An inode number split into (AG, AG inode number), when in range.
    pub fn ino_split(&self, ino: u64) -> Option<(u32, u64)> {
        let shift = u32::from(self.sb.agblklog).saturating_add(self.inopblog());
        let agno = u32::try_from(ino.checked_shr(shift).unwrap_or(0)).ok()?;
        let mask = 1u64
            .checked_shl(shift)
            .map_or(u64::MAX, |m| m.saturating_sub(1));
        let agino = ino & mask;
        let agbno = agino.checked_shr(self.inopblog()).unwrap_or(0);
        (agno < self.agcount && agbno < self.ag_len(agno)).then_some((agno, agino))
    }

    /// The inode number of AG inode `agino` in AG `agno`.
    pub fn ino_of(&self, agno: u32, agino: u64) -> u64 {
        let shift = u32::from(self.sb.agblklog).saturating_add(self.inopblog());
        u64::from(agno).checked_shl(shift).unwrap_or(u64::MAX) | agino
    }

    /// Byte offset of AG inode `agino` of AG `agno`.
    pub fn agino_byte(&self, agno: u32, agino: u64) -> u64 {
        let agbno = agino.checked_shr(self.inopblog()).unwrap_or(0);
        let slot = agino & (u64::from(self.sb.inopblock).saturating_sub(1));
        self.agb_byte(agno, agbno)
            .saturating_add(slot.saturating_mul(u64::from(self.sb.inodesize)))
    }

    /// Byte offset of inode `ino`, when it is in range.
    pub fn ino_byte(&self, ino: u64) -> Option<u64> {
        let (agno, agino) = self.ino_split(ino)?;
        Some(self.agino_byte(agno, agino))
    }

    /// Whether `ino` can name an inode (in range, not NULL).
    pub fn ino_ok(&self, ino: u64) -> bool {
        ino != crate::sb::NULLFSINO && ino != 0 && self.ino_split(ino).is_some()
    }

    /// A count as `usize`, for loops.
    pub fn u(n: u64) -> usize {
        imgcheck_core::bytes::usize_of(n)
    }

    /// `usize` → `u64`.
    pub fn w(n: usize) -> u64 {
        u64_of(n)
    }
}

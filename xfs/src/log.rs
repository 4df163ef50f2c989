//! The log, read as `xlog_find_tail` reads it without replaying anything:
//! the head (where the cycle number drops), the last record header before
//! it, the tail it names, and whether that record is the unmount record a
//! clean unmount leaves. Clean ⇔ head == tail.

use crate::fs::Fs;
use imgcheck_core::bytes::{be32, be64, u8_at};
use serde::{Deserialize, Serialize};

/// `XLOG_HEADER_MAGIC_NUM`.
pub const LOG_MAGIC: u32 = 0xFEED_BABE;
/// Op header flag of the unmount record.
const XLOG_UNMOUNT_TRANS: u8 = 0x20;
/// Bytes read at a time when scanning backwards for a record header.
const SCAN_CHUNK: u64 = 64 * 1024;
/// `XLOG_HEADER_CYCLE_SIZE`.
const HEADER_CYCLE_SIZE: u64 = 32 * 1024;

/// What the log says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogState {
    /// Head and tail meet: nothing to replay.
    Clean,
    /// Records between tail and head: recovery needed.
    Dirty,
    /// Never written (cycle 0 everywhere).
    Zeroed,
    /// An external log, not in this reader.
    External,
    /// The log could not be read or made sense of.
    Unreadable,
}

/// The log's position and state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogSummary {
    /// Internal (inside the data section) or external.
    pub internal: bool,
    /// Byte offset in the reader (internal logs).
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
    /// Clean, dirty, …
    pub state: LogState,
    /// Head block (512-byte units from the log start).
    pub head_block: u64,
    /// Cycle at the head.
    pub head_cycle: u32,
    /// Tail block.
    pub tail_block: u64,
    /// LSN of the last record header (`cycle << 32 | block`).
    pub last_lsn: u64,
    /// Its cycle.
    pub last_cycle: u32,
    /// Operations in the last record.
    pub last_ops: u32,
}

impl LogSummary {
    /// The LSN of the head (`xlog.l_curr_cycle`, `l_curr_block`).
    pub fn head_lsn(&self) -> u64 {
        (u64::from(self.head_cycle) << 32) | self.head_block
    }
}

/// Reads the log of `fs` and reports its state as findings.
pub fn check(fs: &mut Fs<'_>) -> LogSummary {
    let len = u64::from(fs.sb.logblocks).saturating_mul(fs.bs);
    let mut s = LogSummary {
        internal: fs.sb.logstart != 0,
        start: 0,
        len,
        state: LogState::Unreadable,
        head_block: 0,
        head_cycle: 0,
        tail_block: 0,
        last_lsn: 0,
        last_cycle: 0,
        last_ops: 0,
    };
    if fs.sb.logstart == 0 {
        s.state = LogState::External;
        return s;
    }
    let Some((agno, agbno)) = fs.fsb_split(fs.sb.logstart) else {
        fs.error(
            "xfs.log.location",
            0x30,
            format!(
                "the log starts at block {:#x}, outside the filesystem",
                fs.sb.logstart
            ),
        );
        return s;
    };
    if agbno.saturating_add(u64::from(fs.sb.logblocks)) > fs.ag_len(agno) {
        fs.error(
            "xfs.log.location",
            0x30,
            format!(
                "the log ({} blocks at {agno}/{agbno}) runs past the end of its AG",
                fs.sb.logblocks
            ),
        );
        return s;
    }
    s.start = fs.agb_byte(agno, agbno);
    let bbs = len / 512;
    if bbs < 2 {
        return s;
    }
    let Some(first) = cycle(fs, s.start, 0) else {
        return s;
    };
    let Some(last) = cycle(fs, s.start, bbs.saturating_sub(1)) else {
        return s;
    };
    if first == 0 {
        s.state = LogState::Zeroed;
        return s;
    }
    // The head: the first block whose cycle is lower than block 0's.
    let head = if last == first {
        0 // wrapped exactly: the head is at the start of the next cycle
    } else {
        let target = last; // first_half_cycle - 1, or 0 for a partly zeroed log
        let (mut lo, mut hi) = (0u64, bbs.saturating_sub(1));
        // invariant: cycle(lo) != target, cycle(hi) == target
        while hi.saturating_sub(lo) > 1 {
            let mid = lo.saturating_add(hi.saturating_sub(lo) / 2);
            let Some(c) = cycle(fs, s.start, mid) else {
                return s;
            };
            if c == target {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi
    };
    s.head_block = head;
    s.head_cycle = if head == 0 {
        first
    } else {
        cycle(fs, s.start, head.saturating_sub(1)).unwrap_or(first)
    };
    // The last record header before the head (wrapping).
    let Some(rec) = find_header_before(fs, s.start, bbs, head) else {
        fs.error("xfs.log.no_header", s.start, "no log record header found before the log head: xfs_repair cannot find the log head and tail (the log is corrupt)".to_string());
        return s;
    };
    let Some(h) = fs.read(
        s.start.saturating_add(rec.saturating_mul(512)),
        512,
        "log record header",
    ) else {
        return s;
    };
    let h_len = u64::from(be32(&h, 0x0C));
    s.last_lsn = be64(&h, 0x10);
    s.last_cycle = be32(&h, 0x04);
    s.last_ops = be32(&h, 0x28);
    let tail_lsn = be64(&h, 0x18);
    let version = be32(&h, 0x08);
    let h_size = u64::from(be32(&h, 0x140));
    let hblks = if version == 2 && h_size > HEADER_CYCLE_SIZE {
        h_size.div_ceil(HEADER_CYCLE_SIZE)
    } else {
        1
    };
    let mut tail = tail_lsn & 0xffff_ffff;
    let after = rec
        .saturating_add(hblks)
        .saturating_add(h_len.div_ceil(512))
        .checked_rem(bbs)
        .unwrap_or(0);
    if s.last_ops == 1 && after == head {
        let op_off = s.start.saturating_add(
            rec.saturating_add(hblks)
                .checked_rem(bbs)
                .unwrap_or(0)
                .saturating_mul(512),
        );
        if let Some(op) = fs.read(op_off, 512, "log unmount record")
            && u8_at(&op, 9) & XLOG_UNMOUNT_TRANS != 0
        {
            tail = after;
        }
    }
    s.tail_block = tail;
    if tail >= bbs {
        fs.error(
            "xfs.log.tail",
            s.start
                .saturating_add(rec.saturating_mul(512))
                .saturating_add(0x18),
            format!("the last log record names tail block {tail}, beyond the log's {bbs} blocks"),
        );
        return s;
    }
    s.state = if head == tail {
        LogState::Clean
    } else {
        LogState::Dirty
    };
    s
}

fn cycle(fs: &mut Fs<'_>, start: u64, bb: u64) -> Option<u32> {
    let b = fs.read(start.saturating_add(bb.saturating_mul(512)), 8, "log block")?;
    // A record header's first word is its magic; its cycle follows.
    Some(if be32(&b, 0) == LOG_MAGIC {
        be32(&b, 4)
    } else {
        be32(&b, 0)
    })
}

/// The block of the last record header before `head`, scanning back and
/// wrapping once.
fn find_header_before(fs: &mut Fs<'_>, start: u64, bbs: u64, head: u64) -> Option<u64> {
    let ranges = [(0u64, head), (head, bbs)];
    for &(lo, hi) in ranges.iter() {
        let mut end = hi;
        while end > lo {
            let chunk_bbs = (SCAN_CHUNK / 512).min(end.saturating_sub(lo));
            let first = end.saturating_sub(chunk_bbs);
            let buf = fs.read(
                start.saturating_add(first.saturating_mul(512)),
                chunk_bbs.saturating_mul(512),
                "log",
            )?;
            for i in (0..chunk_bbs).rev() {
                if be32(&buf, Fs::u(i.saturating_mul(512))) == LOG_MAGIC {
                    return Some(first.saturating_add(i));
                }
            }
            end = first;
        }
    }
    None
}

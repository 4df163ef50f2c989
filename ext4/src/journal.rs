//! The jbd2 log itself: from `s_start`, the chain of descriptor, data,
//! revoke and commit blocks the kernel would replay. Read-only: nothing is
//! replayed; what a replay would find (complete transactions, their commit
//! times, corrupt blocks that would abort it) is reported.

use crate::fs::Ext4;
use crate::reads::Miss;
use crate::util::{crc32c_raw, zero};
use imgcheck_core::bytes::{be16, be32, bytes, usize_of};
use imgcheck_core::{Finding, Hint, Layer, Space};

const JBD2_MAGIC: u32 = 0xC03B_3998;
const DESCRIPTOR: u32 = 1;
const COMMIT: u32 = 2;
const REVOKE: u32 = 5;
// incompat features
const F_64BIT: u32 = 0x2;
const F_CSUM_V2: u32 = 0x8;
const F_CSUM_V3: u32 = 0x10;
// tag flags
const TAG_SAME_UUID: u32 = 0x2;
const TAG_LAST: u32 = 0x8;

/// The journal's logical → physical block map, as sorted runs.
pub(crate) struct JournalMap {
    /// (logical, physical, length), sorted by logical block.
    pub runs: Vec<(u64, u64, u64)>,
}

impl JournalMap {
    fn phys(&self, l: u64) -> Option<u64> {
        let i = self.runs.partition_point(|&(s, _, _)| s <= l);
        let &(s, p, n) = self.runs.get(i.checked_sub(1)?)?;
        (l < s.saturating_add(n)).then(|| p.saturating_add(l.saturating_sub(s)))
    }
}

/// What the walk found.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    pub transactions: u32,
    pub first_seq: Option<u32>,
    pub last_seq: Option<u32>,
    pub last_commit: Option<i64>,
    /// Blocks of a transaction without its commit follow (lost at the crash).
    pub uncommitted: bool,
    /// The log block where the walk stopped because the reader failed
    /// (what follows is unknown, not absent).
    pub unreadable_at: Option<u64>,
    pub findings: Vec<Finding>,
}

/// Walks the log from `s_start`. `check_data`: verify the checksum of
/// every logged data block (csum v2/v3), which reads them all.
pub(crate) fn walk(fs: &Ext4<'_>, jsb: &[u8], map: &JournalMap, check_data: bool) -> Walk {
    let mut w = Walk::default();
    let bs = u64::from(be32(jsb, 0x0C));
    let maxlen = u64::from(be32(jsb, 0x10));
    let first = u64::from(be32(jsb, 0x14));
    let mut seq = be32(jsb, 0x18);
    let mut blk = u64::from(be32(jsb, 0x1C));
    let incompat = be32(jsb, 0x28);
    if blk == 0 || bs != fs.bs || first == 0 || first >= maxlen || blk >= maxlen {
        return w;
    }
    let csum = incompat & (F_CSUM_V2 | F_CSUM_V3) != 0;
    let v3 = incompat & F_CSUM_V3 != 0;
    let tag_bytes: usize = if v3 {
        16
    } else {
        let sz = if incompat & F_CSUM_V2 != 0 { 14 } else { 12 };
        if incompat & F_64BIT != 0 {
            sz
        } else {
            sz.saturating_sub(4)
        }
    };
    let seed = crc32c_raw(!0, bytes(jsb, 0x30, 16));
    let bsz = usize_of(bs);
    let next = |b: u64| {
        let n = b.saturating_add(1);
        if n >= maxlen { first } else { n }
    };
    let mut steps = 0u64;
    let mut pending_commit = false;
    while steps < maxlen {
        steps = steps.saturating_add(1);
        let Some(p) = map.phys(blk) else { break };
        let b = match fs.block(p) {
            Ok(b) => b,
            Err(Miss::Absent) => break,
            Err(Miss::Unreadable(_)) => {
                w.unreadable_at = Some(blk);
                break;
            }
        };
        let off = fs.block_offset(p).unwrap_or(0);
        if be32(&b, 0) != JBD2_MAGIC || be32(&b, 8) != seq {
            break;
        }
        match be32(&b, 4) {
            DESCRIPTOR => {
                pending_commit = true;
                if csum && !tail_ok(&b, seed) {
                    w.findings.push(corrupt(off, format!("journal descriptor block {blk} of transaction {seq} fails its checksum: a replay stops here")));
                    break;
                }
                let end = if csum { bsz.saturating_sub(4) } else { bsz };
                let mut pos = 12usize;
                let mut data = Vec::new();
                while pos.saturating_add(tag_bytes) <= end {
                    let flags = if v3 {
                        be32(&b, pos.saturating_add(4))
                    } else {
                        u32::from(be16(&b, pos.saturating_add(6)))
                    };
                    let tag_csum = if v3 {
                        be32(&b, pos.saturating_add(12))
                    } else {
                        u32::from(be16(&b, pos.saturating_add(4)))
                    };
                    data.push(tag_csum);
                    pos = pos.saturating_add(tag_bytes);
                    if flags & TAG_SAME_UUID == 0 {
                        pos = pos.saturating_add(16);
                    }
                    if flags & TAG_LAST != 0 {
                        break;
                    }
                }
                for want in data {
                    blk = next(blk);
                    if check_data
                        && csum
                        && let Some(db) = map.phys(blk).and_then(|q| fs.read_block(q))
                    {
                        let c = crc32c_raw(crc32c_raw(seed, &seq.to_be_bytes()), &db);
                        let ok = if v3 { c == want } else { c & 0xFFFF == want };
                        if !ok {
                            let doff = map.phys(blk).and_then(|q| fs.block_offset(q)).unwrap_or(0);
                            w.findings.push(corrupt(doff, format!("journal data block {blk} of transaction {seq} fails its checksum (tag says {want:#x}, computed {c:#x})")));
                        }
                    }
                }
            }
            REVOKE => {
                pending_commit = true;
                let count = u64::from(be32(&b, 12));
                let limit = if csum { bs.saturating_sub(4) } else { bs };
                if count > limit || count < 16 {
                    w.findings.push(corrupt(off, format!("journal revoke block {blk} of transaction {seq} claims {count} bytes of records, the block holds {limit}")));
                    break;
                }
                if csum && !tail_ok(&b, seed) {
                    w.findings.push(corrupt(
                        off,
                        format!(
                            "journal revoke block {blk} of transaction {seq} fails its checksum"
                        ),
                    ));
                    break;
                }
            }
            COMMIT => {
                if csum {
                    let mut d = b.clone();
                    zero(&mut d, 16, 4);
                    let want = crc32c_raw(seed, &d);
                    if be32(&b, 16) != want {
                        w.findings.push(corrupt(off, format!("journal commit block {blk} of transaction {seq} fails its checksum: a replay aborts at this transaction")));
                        break;
                    }
                }
                let t = i64::try_from(u64::from(be32(&b, 0x30)) << 32 | u64::from(be32(&b, 0x34)))
                    .unwrap_or(0);
                // Old kernels wrote no commit time; accept only plausible ones.
                if t > 0 && t < (1 << 33) {
                    w.last_commit = Some(t);
                }
                w.transactions = w.transactions.saturating_add(1);
                w.first_seq.get_or_insert(seq);
                w.last_seq = Some(seq);
                seq = seq.wrapping_add(1);
                pending_commit = false;
            }
            _ => break,
        }
        blk = next(blk);
    }
    w.uncommitted = pending_commit && w.unreadable_at.is_none();
    w
}

/// Descriptor/revoke tail: raw CRC32C of the block with its last 4 bytes zeroed.
fn tail_ok(b: &[u8], seed: u32) -> bool {
    let n = b.len();
    let mut d = b.to_vec();
    zero(&mut d, n.saturating_sub(4), 4);
    crc32c_raw(seed, &d) == be32(b, n.saturating_sub(4))
}

fn corrupt(off: u64, msg: String) -> Finding {
    Finding::error("ext4.journal.transaction_corrupt", Layer::EXT4, off, Space::Disk, msg)
        .with_hint(Hint::read_only(crate::E2FSCK_FN).because("the transactions before this one are intact; a replay would stop here; mount -o ro,noload to look"))
}

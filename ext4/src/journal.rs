//! The jbd2 log itself: from `s_start`, the chain of descriptor, data,
//! revoke and commit blocks the kernel would replay, walked as jbd2's
//! do_one_pass scans it, and the fast-commit area after the log.
//! Read-only: nothing is replayed; what a replay would do is reported —
//! the complete transactions and the filesystem blocks they rewrite (less
//! the revoked ones), the inodes a fast-commit replay rewrites, and
//! corrupt blocks that would fail it or lose committed transactions (a
//! corrupt block in the uncommitted tail is discarded by the replay).

use crate::fs::Ext4;
use crate::reads::Miss;
use crate::util::{crc32c_raw, zero};
use imgcheck_core::bytes::{be16, be32, bytes, usize_of};
use imgcheck_core::{Finding, Hint, Layer, Space};

const JBD2_MAGIC: u32 = 0xC03B_3998;
const DESCRIPTOR: u32 = 1;
const COMMIT: u32 = 2;
const REVOKE: u32 = 5;
const F_FAST_COMMIT: u32 = 0x20;
/// jbd2's JBD2_DEFAULT_FAST_COMMIT_BLOCKS, when s_num_fc_blks is 0.
const DEFAULT_FC_BLOCKS: u64 = 256;
/// Filesystem blocks a replay would write, remembered at most.
const MAX_REPLAY_BLOCKS: usize = 1 << 20;
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
    /// A corrupt block in that uncommitted tail, which a replay discards.
    pub corrupt_tail: Option<String>,
    /// The log block where the walk stopped because the reader failed
    /// (what follows is unknown, not absent).
    pub unreadable_at: Option<u64>,
    /// Filesystem blocks the committed transactions rewrite, revoked ones
    /// removed: sorted.
    pub replay_blocks: Vec<u64>,
    /// Inodes a pending fast-commit replay rewrites: sorted.
    pub fc_inodes: Vec<u32>,
    pub findings: Vec<Finding>,
}

/// One transaction being read.
#[derive(Default)]
struct Txn {
    blocks: Vec<u64>,
    revokes: Vec<u64>,
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
    // With fast commits the log ends where the fast-commit area begins.
    let fc_blocks = if incompat & F_FAST_COMMIT != 0 {
        match u64::from(be32(jsb, 0x54)) {
            0 => DEFAULT_FC_BLOCKS,
            n => n,
        }
    } else {
        0
    };
    let log_end = maxlen.saturating_sub(fc_blocks);
    if blk >= log_end || first >= log_end {
        return w;
    }
    let csum = incompat & (F_CSUM_V2 | F_CSUM_V3) != 0;
    let v3 = incompat & F_CSUM_V3 != 0;
    let is64 = incompat & F_64BIT != 0;
    let tag_bytes: usize = if v3 {
        16
    } else {
        let sz = if incompat & F_CSUM_V2 != 0 { 14 } else { 12 };
        if is64 { sz } else { sz.saturating_sub(4) }
    };
    let seed = crc32c_raw(!0, bytes(jsb, 0x30, 16));
    let bsz = usize_of(bs);
    let next = |b: u64| {
        let n = b.saturating_add(1);
        if n >= log_end { first } else { n }
    };
    let mut steps = 0u64;
    let mut txn = Txn::default();
    let mut pending = false;
    let mut committed: Vec<(u32, Txn)> = Vec::new();
    while steps < log_end {
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
                pending = true;
                if csum && !tail_ok(&b, seed) {
                    // jbd2 takes the following data block for the next log
                    // block: the scan ends here, and with it this and every
                    // later transaction.
                    let msg = format!(
                        "journal descriptor block {blk} of transaction {seq} fails its checksum"
                    );
                    stop_at(
                        &mut w,
                        fs,
                        map,
                        blk,
                        seq,
                        log_end,
                        first,
                        off,
                        msg,
                        "recovery stops there: this transaction and every later one are not replayed",
                    );
                    return finish(w, committed, pending);
                }
                let end = if csum { bsz.saturating_sub(4) } else { bsz };
                let mut pos = 12usize;
                let mut data = Vec::new();
                while pos.saturating_add(tag_bytes) <= end {
                    let (flags, tag_csum) = if v3 {
                        (
                            be32(&b, pos.saturating_add(4)),
                            be32(&b, pos.saturating_add(12)),
                        )
                    } else {
                        (
                            u32::from(be16(&b, pos.saturating_add(6))),
                            u32::from(be16(&b, pos.saturating_add(4))),
                        )
                    };
                    let lo = u64::from(be32(&b, pos));
                    let hi = if is64 {
                        u64::from(be32(&b, pos.saturating_add(8))) << 32
                    } else {
                        0
                    };
                    data.push((lo | hi, tag_csum));
                    pos = pos.saturating_add(tag_bytes);
                    if flags & TAG_SAME_UUID == 0 {
                        pos = pos.saturating_add(16);
                    }
                    if flags & TAG_LAST != 0 {
                        break;
                    }
                }
                for (fsblk, want) in data {
                    blk = next(blk);
                    if txn.blocks.len() < MAX_REPLAY_BLOCKS {
                        txn.blocks.push(fsblk);
                    }
                    if check_data
                        && csum
                        && let Some(db) = map.phys(blk).and_then(|q| fs.read_block(q))
                    {
                        let c = crc32c_raw(crc32c_raw(seed, &seq.to_be_bytes()), &db);
                        let ok = if v3 { c == want } else { c & 0xFFFF == want };
                        if !ok {
                            let doff = map.phys(blk).and_then(|q| fs.block_offset(q)).unwrap_or(0);
                            w.findings.push(corrupt(doff, format!("journal data block {blk} of transaction {seq} fails its checksum (tag says {want:#x}, computed {c:#x}): recovery skips it and fails")));
                        }
                    }
                }
            }
            REVOKE => {
                pending = true;
                let count = u64::from(be32(&b, 12));
                let limit = if csum { bs.saturating_sub(4) } else { bs };
                let bad = if count > limit || count < 16 {
                    Some(format!(
                        "journal revoke block {blk} of transaction {seq} claims {count} bytes of records, the block holds {limit}"
                    ))
                } else if csum && !tail_ok(&b, seed) {
                    Some(format!(
                        "journal revoke block {blk} of transaction {seq} fails its checksum"
                    ))
                } else {
                    None
                };
                if let Some(msg) = bad {
                    // A bad revoke block is skipped; what matters is whether
                    // its transaction committed.
                    if commit_follows(fs, map, next(blk), seq, log_end, first) {
                        w.findings.push(corrupt(off, format!("{msg}: its transaction committed, so recovery fails with a checksum error")));
                    } else {
                        w.corrupt_tail = Some(msg);
                    }
                } else {
                    let rsize = if is64 { 8 } else { 4 };
                    let mut r = 16usize;
                    while r.saturating_add(rsize) <= usize_of(count) {
                        let v = if is64 {
                            (u64::from(be32(&b, r)) << 32)
                                | u64::from(be32(&b, r.saturating_add(4)))
                        } else {
                            u64::from(be32(&b, r))
                        };
                        if txn.revokes.len() < MAX_REPLAY_BLOCKS {
                            txn.revokes.push(v);
                        }
                        r = r.saturating_add(rsize);
                    }
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
                committed.push((seq, std::mem::take(&mut txn)));
                seq = seq.wrapping_add(1);
                pending = false;
            }
            _ => break,
        }
        blk = next(blk);
    }
    if fc_blocks > 0 && fs.sb.has_incompat(crate::superblock::incompat::RECOVER) {
        // jbd2: j_last = maxlen - fc blocks, j_fc_first = j_last + 1.
        w.fc_inodes = fast_commit_inodes(fs, map, log_end.saturating_add(1), maxlen, seq);
    }
    finish(w, committed, pending)
}

/// The replay set from the committed transactions: each logged block
/// unless a revoke record of the same or a later transaction names it
/// (jbd2_journal_test_revoke).
fn finish(mut w: Walk, committed: Vec<(u32, Txn)>, pending: bool) -> Walk {
    let mut revoked: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();
    for (s, t) in &committed {
        for &r in &t.revokes {
            let e = revoked.entry(r).or_insert(*s);
            *e = (*e).max(*s);
        }
    }
    let mut blocks: Vec<u64> = committed
        .iter()
        .flat_map(|(s, t)| {
            t.blocks
                .iter()
                .copied()
                .filter(|b| revoked.get(b).is_none_or(|&r| r < *s))
                .collect::<Vec<_>>()
        })
        .collect();
    blocks.sort_unstable();
    blocks.dedup();
    w.replay_blocks = blocks;
    w.uncommitted = pending && w.unreadable_at.is_none();
    w
}

/// Whether a commit block of transaction `seq` lies ahead of log block
/// `from` (the transaction committed despite a bad block in it).
fn commit_follows(
    fs: &Ext4<'_>,
    map: &JournalMap,
    from: u64,
    seq: u32,
    log_end: u64,
    first: u64,
) -> bool {
    let mut b = from;
    for _ in 0..log_end.min(1 << 16) {
        let Some(blk) = map.phys(b).and_then(|p| fs.read_block(p)) else {
            return false;
        };
        if be32(&blk, 0) == JBD2_MAGIC && be32(&blk, 8) == seq && be32(&blk, 4) == COMMIT {
            return true;
        }
        if be32(&blk, 0) == JBD2_MAGIC && be32(&blk, 8) != seq {
            return false;
        }
        b = b.saturating_add(1);
        if b >= log_end {
            b = first;
        }
    }
    false
}

/// A descriptor that ends the scan: an error when its transaction had
/// committed (committed work is lost), the uncommitted tail otherwise.
#[allow(clippy::too_many_arguments)]
fn stop_at(
    w: &mut Walk,
    fs: &Ext4<'_>,
    map: &JournalMap,
    blk: u64,
    seq: u32,
    log_end: u64,
    first: u64,
    off: u64,
    msg: String,
    consequence: &str,
) {
    let after = blk.saturating_add(1);
    let after = if after >= log_end { first } else { after };
    if commit_follows(fs, map, after, seq, log_end, first) {
        w.findings.push(corrupt(
            off,
            format!("{msg}; its transaction committed, so {consequence}"),
        ));
    } else {
        w.corrupt_tail = Some(msg);
    }
}

/// The inodes the fast-commit area's records name, when it continues the
/// log (its head's tid is the next transaction's).
fn fast_commit_inodes(fs: &Ext4<'_>, map: &JournalMap, start: u64, end: u64, tid: u32) -> Vec<u32> {
    let mut inodes = Vec::new();
    let mut started = false;
    'blocks: for l in start..end {
        let Some(b) = map.phys(l).and_then(|p| fs.read_block(p)) else {
            break;
        };
        let mut pos = 0usize;
        while pos.saturating_add(4) <= b.len() {
            let tag = u16::from_le_bytes([
                b.get(pos).copied().unwrap_or(0),
                b.get(pos.saturating_add(1)).copied().unwrap_or(0),
            ]);
            let len = usize::from(u16::from_le_bytes([
                b.get(pos.saturating_add(2)).copied().unwrap_or(0),
                b.get(pos.saturating_add(3)).copied().unwrap_or(0),
            ]));
            let v = pos.saturating_add(4);
            let le = |o: usize| imgcheck_core::bytes::le32(&b, v.saturating_add(o));
            match tag {
                9 => {
                    if le(4) != tid {
                        break 'blocks;
                    }
                    started = true;
                }
                _ if !started => break 'blocks,
                1 | 2 | 6 => inodes.push(le(0)),
                3..=5 => {
                    inodes.push(le(0));
                    inodes.push(le(4));
                }
                7 => {}
                8 => {}
                _ => break 'blocks,
            }
            pos = v.saturating_add(len);
            if tag == 7 || tag == 8 && pos >= b.len() {
                break;
            }
        }
        if inodes.len() > MAX_REPLAY_BLOCKS {
            break;
        }
    }
    inodes.sort_unstable();
    inodes.dedup();
    inodes
}

/// Descriptor/revoke tail: raw CRC32C of the block with its last 4 bytes zeroed.
fn tail_ok(b: &[u8], seed: u32) -> bool {
    let n = b.len();
    let mut d = b.to_vec();
    zero(&mut d, n.saturating_sub(4), 4);
    crc32c_raw(seed, &d) == be32(b, n.saturating_sub(4))
}

fn corrupt(off: u64, msg: String) -> Finding {
    Finding::error(
        "ext4.journal.transaction_corrupt",
        Layer::EXT4,
        off,
        Space::Disk,
        msg,
    )
    .with_hint(Hint::read_only(crate::E2FSCK_FN).because(
        "the transactions before this one are intact; mount -o ro,noload to look without replaying",
    ))
}

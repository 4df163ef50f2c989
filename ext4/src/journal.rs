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
    /// Log blocks of the live log that never read as zeros: descriptor,
    /// revoke and commit blocks, data blocks whose tag checksum is not
    /// that of a block of zeros, and the block where the log breaks
    /// before later committed transactions (a header stood there).
    /// Sorted; what a zeroed live log lost.
    pub nonzero: Vec<u64>,
    /// The live log's log blocks `[start, end)`, from `s_start` to one
    /// past the last commit found (past a break too): lost with the log
    /// where zeros cover it, though a logged copy may be zeros itself.
    pub live: Vec<(u64, u64)>,
    /// What the recovery will silently leave out (committed transactions
    /// past a break in the log, fast commits past a bad tail): jbd2 and
    /// e2fsck end the replay there without an error and the filesystem is
    /// consistent at the earlier state, so this is what recovery does,
    /// not damage to the filesystem.
    pub lost: Vec<String>,
    pub findings: Vec<Finding>,
}

/// One transaction being read: the filesystem blocks it logs (with the
/// log block holding each copy and whether the copy is escaped) and the
/// blocks it revokes.
#[derive(Default)]
struct Txn {
    blocks: Vec<(u64, u64, bool)>,
    revokes: Vec<u64>,
}

/// The log's geometry and formats, for walking it.
struct Log<'a, 'b> {
    fs: &'a Ext4<'b>,
    map: &'a JournalMap,
    first: u64,
    /// One past the log's last block (the fast-commit area follows).
    end: u64,
    csum: bool,
    v3: bool,
    is64: bool,
    tag_bytes: usize,
    seed: u32,
}

/// A descriptor tag: the filesystem block, its flags, its checksum.
type Tag = (u64, u32, u32);

/// `t_flags` JBD2_FLAG_ESCAPE: the logged copy's magic was zeroed.
const TAG_ESCAPE: u32 = 0x1;

impl Log<'_, '_> {
    fn next(&self, b: u64) -> u64 {
        let n = b.saturating_add(1);
        if n >= self.end { self.first } else { n }
    }

    fn read(&self, l: u64) -> Result<(Vec<u8>, u64), Miss> {
        let p = self.map.phys(l).ok_or(Miss::Absent)?;
        let b = self.fs.block(p)?;
        Ok((b, self.fs.block_offset(p).unwrap_or(0)))
    }

    /// The tags of a descriptor block.
    fn tags(&self, b: &[u8]) -> Vec<Tag> {
        let end = if self.csum {
            b.len().saturating_sub(4)
        } else {
            b.len()
        };
        let mut pos = 12usize;
        let mut out = Vec::new();
        while pos.saturating_add(self.tag_bytes) <= end {
            let (flags, tag_csum) = if self.v3 {
                (
                    be32(b, pos.saturating_add(4)),
                    be32(b, pos.saturating_add(12)),
                )
            } else {
                (
                    u32::from(be16(b, pos.saturating_add(6))),
                    u32::from(be16(b, pos.saturating_add(4))),
                )
            };
            let lo = u64::from(be32(b, pos));
            let hi = if self.is64 {
                u64::from(be32(b, pos.saturating_add(8))) << 32
            } else {
                0
            };
            out.push((lo | hi, flags, tag_csum));
            pos = pos.saturating_add(self.tag_bytes);
            if flags & TAG_SAME_UUID == 0 {
                pos = pos.saturating_add(16);
            }
            if flags & TAG_LAST != 0 {
                break;
            }
        }
        out
    }

    /// The block numbers a revoke block's records name.
    fn revokes(&self, b: &[u8]) -> Vec<u64> {
        let count = usize_of(u64::from(be32(b, 12))).min(b.len());
        let rsize = if self.is64 { 8 } else { 4 };
        let mut out = Vec::new();
        let mut r = 16usize;
        while r.saturating_add(rsize) <= count {
            out.push(if self.is64 {
                (u64::from(be32(b, r)) << 32) | u64::from(be32(b, r.saturating_add(4)))
            } else {
                u64::from(be32(b, r))
            });
            r = r.saturating_add(rsize);
        }
        out
    }

    /// After the scan stopped in the transaction that began at log block
    /// `start` (sequence `seq`): the transactions that committed after the
    /// break, as far as their descriptors and revoke blocks can be read
    /// (a block at the break with a damaged type is read as revoke
    /// records, which it most likely held). None: nothing committed
    /// follows (a torn tail).
    fn after_break(&self, start: u64, seq: u32) -> Option<(Vec<(u32, Txn)>, u64)> {
        let mut b = start;
        let mut end = start;
        let mut later: Vec<(u32, Txn)> = Vec::new();
        let mut cur = Txn::default();
        let mut any_commit = false;
        let mut steps = 0u64;
        while steps < self.end.min(1 << 20) {
            steps = steps.saturating_add(1);
            let Ok((blk, _)) = self.read(b) else { break };
            let s = be32(&blk, 8);
            let magic = be32(&blk, 0) == JBD2_MAGIC;
            if magic && s.wrapping_sub(seq) >= (1 << 30) {
                break; // an earlier lap
            }
            if magic {
                match be32(&blk, 4) {
                    DESCRIPTOR => {
                        // Read as jbd2's count_tags does, checksum or not:
                        // the best guess at what the transaction logs.
                        for (fsblk, flags, _) in self.tags(&blk) {
                            b = self.next(b);
                            if cur.blocks.len() < MAX_REPLAY_BLOCKS
                                && fsblk < self.fs.sb.s_blocks_count
                            {
                                cur.blocks.push((fsblk, b, flags & TAG_ESCAPE != 0));
                            }
                        }
                    }
                    COMMIT => {
                        any_commit = true;
                        later.push((s, std::mem::take(&mut cur)));
                        end = self.next(b);
                    }
                    _ => cur.revokes.extend(self.revokes(&blk)),
                }
            }
            b = self.next(b);
            if b == start {
                break;
            }
        }
        any_commit.then_some((later, end))
    }

    /// The content a replay of `txns` leaves in block `b`: the last copy
    /// logged in a transaction later than any revoke of `b`
    /// (jbd2_journal_test_revoke), or the block as it is.
    fn replayed(&self, txns: &[&(u32, Txn)], b: u64) -> Option<Vec<u8>> {
        let revoked = txns
            .iter()
            .filter(|(_, t)| t.revokes.contains(&b))
            .map(|(s, _)| *s)
            .max();
        let mut last = None;
        for (s, t) in txns {
            if revoked.is_some_and(|r| r >= *s) {
                continue;
            }
            for &(fb, at, esc) in &t.blocks {
                if fb == b {
                    last = Some((at, esc));
                }
            }
        }
        match last {
            Some((at, esc)) => {
                let (mut copy, _) = self.read(at).ok()?;
                if esc && let Some(m) = copy.get_mut(..4) {
                    m.copy_from_slice(&JBD2_MAGIC.to_be_bytes());
                }
                Some(copy)
            }
            None => self.fs.read_block(b),
        }
    }

    /// How many blocks end up different when the replay stops before
    /// `later` instead of going through it, of how many `later` touches.
    fn loss(&self, before: &[(u32, Txn)], later: &[(u32, Txn)]) -> (u64, u64) {
        let mut touched: Vec<u64> = later
            .iter()
            .flat_map(|(_, t)| {
                t.blocks
                    .iter()
                    .map(|&(b, _, _)| b)
                    .chain(t.revokes.iter().copied())
                    .collect::<Vec<_>>()
            })
            .collect();
        touched.sort_unstable();
        touched.dedup();
        touched.truncate(1 << 16);
        let short: Vec<&(u32, Txn)> = before.iter().collect();
        let full: Vec<&(u32, Txn)> = before.iter().chain(later.iter()).collect();
        let mut differ = 0u64;
        for &b in &touched {
            if self.replayed(&short, b) != self.replayed(&full, b) {
                differ = differ.saturating_add(1);
            }
        }
        (differ, u64::try_from(touched.len()).unwrap_or(u64::MAX))
    }
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
    let v3 = incompat & F_CSUM_V3 != 0;
    let is64 = incompat & F_64BIT != 0;
    let log = Log {
        fs,
        map,
        first,
        end: log_end,
        csum: incompat & (F_CSUM_V2 | F_CSUM_V3) != 0,
        v3,
        is64,
        tag_bytes: if v3 {
            16
        } else {
            let sz = if incompat & F_CSUM_V2 != 0 { 14 } else { 12 };
            if is64 { sz } else { sz.saturating_sub(4) }
        },
        seed: crc32c_raw(!0, bytes(jsb, 0x30, 16)),
    };
    let mut steps = 0u64;
    let mut txn = Txn::default();
    let mut txn_start = blk;
    let mut pending = false;
    let mut committed: Vec<(u32, Txn)> = Vec::new();
    // Why the scan stopped, when a block of the log (not a failed read) ended it.
    let mut stopped: Option<String> = None;
    // A bad descriptor or revoke block in the current transaction.
    let mut need_check: Option<String> = None;
    let mut last_time = 0i64;
    // The checksum a block of zeros would have in transaction `seq`.
    let zeros = vec![0u8; usize_of(bs)];
    let zero_csum = |seq: u32| crc32c_raw(crc32c_raw(log.seed, &seq.to_be_bytes()), &zeros);
    let mut nonzero: Vec<u64> = Vec::new();
    let mut stop_at = None;
    let live_start = blk;
    // One past the last commit block of the live log.
    let mut live_end: Option<u64> = None;
    while steps < log_end {
        steps = steps.saturating_add(1);
        let (b, off) = match log.read(blk) {
            Ok(x) => x,
            Err(Miss::Absent) => break,
            Err(Miss::Unreadable(_)) => {
                w.unreadable_at = Some(blk);
                break;
            }
        };
        if be32(&b, 0) != JBD2_MAGIC || be32(&b, 8) != seq {
            stopped = Some(format!(
                "block {blk} is not the next log block of transaction {seq}"
            ));
            stop_at = Some(blk);
            break;
        }
        if nonzero.len() < MAX_REPLAY_BLOCKS {
            nonzero.push(blk);
        }
        match be32(&b, 4) {
            DESCRIPTOR => {
                pending = true;
                let zc = zero_csum(seq);
                let good = !log.csum || tail_ok(&b, log.seed);
                if !good {
                    // jbd2 counts the tags of a bad descriptor all the same
                    // and checks the commit's time when it gets there.
                    need_check.get_or_insert(format!(
                        "journal descriptor block {blk} of transaction {seq} fails its checksum"
                    ));
                }
                for (fsblk, flags, want) in log.tags(&b) {
                    blk = log.next(blk);
                    if good && txn.blocks.len() < MAX_REPLAY_BLOCKS {
                        txn.blocks.push((fsblk, blk, flags & TAG_ESCAPE != 0));
                    }
                    // The tag's checksum says whether the logged copy was
                    // zeros: one that was not never reads as zeros.
                    let of_zeros = if v3 { zc == want } else { zc & 0xFFFF == want };
                    if good && log.csum && !of_zeros && nonzero.len() < MAX_REPLAY_BLOCKS {
                        nonzero.push(blk);
                    }
                    if good
                        && check_data
                        && log.csum
                        && let Ok((db, doff)) = log.read(blk)
                    {
                        let c = crc32c_raw(crc32c_raw(log.seed, &seq.to_be_bytes()), &db);
                        let ok = if v3 { c == want } else { c & 0xFFFF == want };
                        if !ok {
                            w.findings.push(corrupt(doff, format!("journal data block {blk} of transaction {seq} fails its checksum (tag says {want:#x}, computed {c:#x}): recovery skips it and fails")));
                        }
                    }
                }
            }
            REVOKE => {
                pending = true;
                let count = u64::from(be32(&b, 12));
                let limit = if log.csum { bs.saturating_sub(4) } else { bs };
                if count > limit || count < 16 {
                    // Read only in the revoke pass, for committed
                    // transactions: then it fails the recovery.
                    need_check.get_or_insert(format!("journal revoke block {blk} of transaction {seq} claims {count} bytes of records, the block holds {limit}"));
                } else if log.csum && !tail_ok(&b, log.seed) {
                    need_check.get_or_insert(format!(
                        "journal revoke block {blk} of transaction {seq} fails its checksum"
                    ));
                } else {
                    for v in log.revokes(&b) {
                        if txn.revokes.len() < MAX_REPLAY_BLOCKS {
                            txn.revokes.push(v);
                        }
                    }
                }
            }
            COMMIT => {
                if log.csum {
                    let mut d = b.clone();
                    zero(&mut d, 16, 4);
                    if be32(&b, 16) != crc32c_raw(log.seed, &d) {
                        // A failed commit: recovery aborts (j_failed_commit).
                        w.findings.push(corrupt(off, format!("journal commit block {blk} of transaction {seq} fails its checksum: a replay aborts at this transaction")));
                        w.nonzero = std::mem::take(&mut nonzero);
                        return finish(w, committed, false);
                    }
                }
                let t = i64::try_from(u64::from(be32(&b, 0x30)) << 32 | u64::from(be32(&b, 0x34)))
                    .unwrap_or(0);
                if let Some(why) = need_check.take() {
                    // A bad block earlier in this committed transaction: a
                    // commit no older than the last one means this journal's
                    // own transaction, and the recovery fails; an older one
                    // is stale and ends the replay.
                    if t >= last_time {
                        w.findings.push(corrupt(off, format!("{why}, and its transaction committed: recovery fails with a checksum error")));
                    } else {
                        w.corrupt_tail = Some(format!(
                            "{why}; its commit is older than the last one, so it is a stale block and the replay ends before it"
                        ));
                    }
                    w.nonzero = std::mem::take(&mut nonzero);
                    return finish(w, committed, false);
                }
                last_time = last_time.max(t);
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
                txn_start = log.next(blk);
                live_end = Some(txn_start);
            }
            other => {
                stopped = Some(format!("block {blk} has block type {other}"));
                break;
            }
        }
        blk = log.next(blk);
    }
    // The scan ended without a commit for the current transaction: what a
    // replay loses is what committed after that point, if anything did.
    let why = need_check.or(stopped);
    if let Some(why) = why {
        match log.after_break(txn_start, seq) {
            Some((later, end)) => {
                // Committed transactions follow the break: the block there
                // was the log's next header, and the log runs on to the
                // last of their commits.
                nonzero.extend(stop_at);
                live_end = Some(end);
                let last = later.last().map_or(seq, |(s, _)| *s);
                let (differ, touched) = log.loss(&committed, &later);
                if differ > 0 {
                    pending = false;
                    w.lost.push(format!("the log breaks where transaction {seq} should go on ({why}), yet transactions up to {last} committed after it: recovery ends at the break without an error and does not replay them, so {differ} of the {touched} blocks they touch keep their older contents"));
                } else {
                    w.corrupt_tail = Some(format!(
                        "the log breaks in transaction {seq} ({why}) before transactions up to {last}, but a replay that stops there leaves every block as a full replay would"
                    ));
                }
            }
            None if pending || why.contains("fails") || why.contains("claims") => {
                w.corrupt_tail = Some(why);
            }
            None => {}
        }
    }
    if fc_blocks > 0 && fs.sb.has_incompat(crate::superblock::incompat::RECOVER) {
        // jbd2: j_last = maxlen - fc blocks, j_fc_first = j_last + 1.
        let (inodes, bad) = fast_commit_inodes(fs, map, log_end.saturating_add(1), maxlen, seq);
        w.fc_inodes = inodes;
        match bad {
            // ext4_fc_replay_scan returns an error: the recovery fails.
            Some((at, why, true)) => {
                let off = map.phys(at).and_then(|p| fs.block_offset(p)).unwrap_or(0);
                w.findings
                    .push(corrupt(off, format!("fast-commit area block {at}: {why}")));
            }
            // JBD2_FC_REPLAY_STOP: the replay ends early, without an error.
            Some((at, why, false)) => w.lost.push(format!("fast-commit area block {at}: {why}")),
            None => {}
        }
    }
    nonzero.sort_unstable();
    nonzero.dedup();
    w.nonzero = nonzero;
    w.live = live_ranges(live_start, live_end, first, log_end);
    finish(w, committed, pending)
}

/// The live log's log blocks `[start, end)` from `s_start` to one past
/// its last commit, split where it wraps from the log's end to `first`.
fn live_ranges(start: u64, end: Option<u64>, first: u64, log_end: u64) -> Vec<(u64, u64)> {
    match end {
        None => Vec::new(),
        Some(e) if e > start => vec![(start, e)],
        Some(e) => vec![(start, log_end), (first, e)],
    }
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
                .map(|&(b, _, _)| b)
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

/// The inodes the fast-commit area's records name, as the replay scan
/// (ext4_fc_replay_scan) accepts them: from a head of the next
/// transaction, tag by tag, each fast commit validated by its tail's
/// CRC32C; only commits whose tail holds count. A bad tail before any good
/// one fails the recovery: returned with the block it is in and `true`;
/// one that only ends the replay early (complete commits after a broken
/// one) with `false`.
fn fast_commit_inodes(
    fs: &Ext4<'_>,
    map: &JournalMap,
    start: u64,
    end: u64,
    tid: u32,
) -> (Vec<u32>, Option<(u64, String, bool)>) {
    let mut valid = Vec::new();
    let mut current: Vec<u32> = Vec::new();
    let mut crc = 0u32;
    let mut good_tails = 0u32;
    let mut bad = None;
    let mut broken: Option<u64> = None;
    'blocks: for l in start..end {
        let Some(b) = map.phys(l).and_then(|p| fs.read_block(p)) else {
            break;
        };
        let le16 = |o: usize| imgcheck_core::bytes::le16(&b, o);
        let le32 = |o: usize| imgcheck_core::bytes::le32(&b, o);
        if l == start && le16(0) != 9 {
            break; // no head: nothing to replay
        }
        let mut pos = 0usize;
        while pos.saturating_add(4) < b.len() {
            let tag = le16(pos);
            let len = usize::from(le16(pos.saturating_add(2)));
            let v = pos.saturating_add(4);
            let whole = bytes(&b, pos, 4usize.saturating_add(len));
            match tag {
                9 => {
                    let head = le32(v.saturating_add(4));
                    if head != tid {
                        // Fast commits of a later transaction than the log
                        // reaches: its commit was lost, and they with it.
                        let ahead = head.wrapping_sub(tid);
                        if ahead > 0 && ahead < (1 << 30) {
                            bad = Some((
                                l,
                                format!(
                                    "it holds fast commits of transaction {head}, but the log stops before transaction {tid}: the fast-commit replay fails on them (EINVAL) and with it the recovery"
                                ),
                                true,
                            ));
                        }
                        break 'blocks;
                    }
                    crc = crc32c_raw(crc, whole);
                }
                1..=7 => {
                    crc = crc32c_raw(crc, whole);
                    match tag {
                        1 | 2 | 6 => current.push(le32(v)),
                        3..=5 => {
                            current.push(le32(v));
                            current.push(le32(v.saturating_add(4)));
                        }
                        _ => {}
                    }
                }
                8 => {
                    crc = crc32c_raw(crc, bytes(&b, pos, 8));
                    let ok = le32(v) == tid && le32(v.saturating_add(4)) == crc;
                    if ok && broken.is_none() {
                        good_tails = good_tails.saturating_add(1);
                        valid.append(&mut current);
                    } else if ok {
                        // A complete fast commit after a broken one: the
                        // area was written whole, the replay stops early.
                        bad = broken.take().map(|b| {
                            (b, "a fast commit fails its tail checksum although complete ones follow it: the fast-commit replay ends there without an error and does not apply them".to_string(), false)
                        });
                        break 'blocks;
                    } else if good_tails == 0 {
                        bad = Some((l, "its first fast commit fails its tail checksum: the fast-commit replay fails (a checksum error) and with it the recovery".to_string(), true));
                        break 'blocks;
                    } else {
                        // A torn last fast commit is what a crash leaves;
                        // only complete ones after it would make it damage.
                        broken.get_or_insert(l);
                        current.clear();
                    }
                    crc = 0;
                }
                _ => {
                    if good_tails == 0 {
                        bad = Some((
                            l,
                            format!(
                                "unknown record tag {tag} before any complete fast commit: the fast-commit replay fails on it and with it the recovery"
                            ),
                            true,
                        ));
                    }
                    break 'blocks;
                }
            }
            pos = v.saturating_add(len);
        }
        if valid.len() > MAX_REPLAY_BLOCKS {
            break;
        }
    }
    valid.sort_unstable();
    valid.dedup();
    (valid, bad)
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

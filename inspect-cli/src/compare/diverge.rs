//! Where two guest disks differ, found cheaply: the allocation maps
//! first (runs both copies draw from the same bytes of the same file, or
//! that both read as zeros, are never read), then the rest read in large
//! chunks and compared. The differing ranges are coalesced and capped
//! ([`MAX_RANGES`]); a cap that is hit is said, never silent.
//!
//! Where both copies hold data, the second copy's chunk is read on a
//! helper thread while the first copy's is read here: the kernel's copy
//! out of the page cache is most of a compare's cost (72 % of its samples,
//! as of `qemu-img compare`'s), and on two free cores the two copies'
//! reads overlap. The chunk buffers are allocated once and read
//! into as they are (a read fills its slice or fails), never cleared.

use super::source::{Copy, Origin, why};
use imgcheck_core::ReadError;
use serde::{Deserialize, Serialize};
use std::sync::mpsc;

/// Differing ranges listed at most; past it the bytes are still counted.
pub const MAX_RANGES: usize = 4096;
/// Granularity of a differing range: a sector, as `qemu-img compare`
/// counts (a 1 KiB-block filesystem's neighbours are not blamed for one
/// another's bytes).
pub const BLOCK: u64 = 512;
/// Bytes read from each copy at once: what `qemu-img compare` reads at
/// once too, so the memory held is 2 x 2 MiB whatever the disk's size
/// (chunks of 256 KiB to 2 MiB measured alike on the bench replicas).
pub const CHUNK: u64 = 2 << 20;
/// Unreadable ranges listed at most (both copies together).
pub const MAX_UNREADABLE: usize = 64;

/// A range of the guest disk, `[start, start + len)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    /// First byte.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
}

impl Range {
    /// One past the last byte.
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.len)
    }
}

/// A range one copy could not read, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Unreadable {
    /// Which copy (0 for the first).
    pub copy: usize,
    /// The guest range.
    pub range: Range,
    /// The read error.
    pub why: String,
}

/// What comparing two guest disks found.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Divergence {
    /// Bytes compared (the smaller disk's size).
    pub compared: u64,
    /// Bytes skipped because both copies read them from the same bytes.
    pub shared: u64,
    /// Bytes skipped because both read as zeros by their maps.
    pub both_zero: u64,
    /// Bytes read and compared.
    pub read: u64,
    /// The first byte that differs (as `cmp`), if any.
    pub first: Option<u64>,
    /// Differing ranges, coalesced at [`BLOCK`] granularity, in order.
    pub ranges: Vec<Range>,
    /// Bytes (at [`BLOCK`] granularity) that differ in all, listed or not.
    pub differing: u64,
    /// Bytes that differ past the last listed range, when [`MAX_RANGES`] was hit.
    pub unlisted: u64,
    /// Ranges one copy could not read (compared as differing: nobody
    /// knows they agree).
    pub unreadable: Vec<Unreadable>,
    /// Unreadable bytes past the last listed range, when
    /// [`MAX_UNREADABLE`] was hit (they are in `differing` too).
    pub unreadable_unlisted: u64,
    /// The disks differ in size: the larger one's extra bytes that are not zeros.
    pub tail_differs: Option<Range>,
    /// Bytes of data the first copy holds: those both copies draw from
    /// the same bytes, and of those read, the [`BLOCK`]s that are not all
    /// zeros. Zeros a copy stores (a dd copy's free space) are no data:
    /// counted as data, a copy of zeros "held" them (an attack's F0 saw a
    /// metadata-only copy hold 99.8 % of a full one's "data").
    pub a_data: u64,
    /// Of those, the bytes that differ.
    pub a_data_differing: u64,
    /// Bytes the first copy's map says hold data (not zeros by map),
    /// zeros or not: what its clusters take up.
    #[serde(default)]
    pub a_mapped: u64,
    /// Bytes of data the other copy holds, counted alike.
    pub b_data: u64,
    /// Of those, the bytes that differ.
    pub b_data_differing: u64,
    /// Bytes that read as zeros in the first copy where the other holds
    /// data ([`BLOCK`] granularity): what the first copy lost, or never
    /// held, of the other's.
    #[serde(default)]
    pub a_zeroed: u64,
    /// Those ranges, coalesced, at most [`MAX_RANGES`] (the rest counted
    /// in `a_zeroed` only).
    #[serde(default)]
    pub a_zeroed_ranges: Vec<Range>,
    /// Bytes that read as zeros in the other copy where the first holds data.
    #[serde(default)]
    pub b_zeroed: u64,
    /// Those ranges, coalesced and capped alike.
    #[serde(default)]
    pub b_zeroed_ranges: Vec<Range>,
    /// Guest bytes the first copy holds in its own image file (not in a
    /// backing file, not zeros).
    pub a_own: u64,
    /// Guest bytes the other copy holds in its own image file.
    pub b_own: u64,
    /// Guest bytes both hold in their own image files at the same host
    /// offset with the same contents, which differ from their backing
    /// file's: writes two files share when one is a copy of the other (a
    /// copy keeps the cluster layout), which two overlays written apart do
    /// not. Counted only where a backing file is read to tell.
    pub own_common: u64,
}

impl Divergence {
    /// Whether the guest disks hold the same bytes.
    pub fn identical(&self) -> bool {
        self.first.is_none() && self.unreadable.is_empty() && self.tail_differs.is_none()
    }

    /// Records that copy `copy` could not read `[start, start + len)`:
    /// joined to that copy's previous range when it continues it, so one
    /// unreadable stretch is one range whatever the chunks; past
    /// [`MAX_UNREADABLE`] ranges, counted in `unreadable_unlisted`.
    fn unreadable_at(&mut self, copy: usize, start: u64, len: u64, why: String) {
        if let Some(last) = self.unreadable.iter_mut().rev().find(|u| u.copy == copy)
            && last.range.end() == start
        {
            last.range.len = last.range.len.saturating_add(len);
            return;
        }
        if self.unreadable.len() >= MAX_UNREADABLE {
            self.unreadable_unlisted = self.unreadable_unlisted.saturating_add(len);
            return;
        }
        self.unreadable.push(Unreadable {
            copy,
            range: Range { start, len },
            why,
        });
    }

    /// Records that copy `copy` reads zeros in `[start, start + len)`
    /// where the other holds data.
    fn zeroed(&mut self, copy: usize, start: u64, len: u64) {
        let (total, ranges) = if copy == 0 {
            (&mut self.a_zeroed, &mut self.a_zeroed_ranges)
        } else {
            (&mut self.b_zeroed, &mut self.b_zeroed_ranges)
        };
        *total = total.saturating_add(len);
        if let Some(last) = ranges.last_mut()
            && last.end() == start
        {
            last.len = last.len.saturating_add(len);
            return;
        }
        if ranges.len() < MAX_RANGES {
            ranges.push(Range { start, len });
        }
    }

    fn add(&mut self, start: u64, len: u64) {
        self.differing = self.differing.saturating_add(len);
        if let Some(last) = self.ranges.last_mut()
            && last.end() == start
        {
            last.len = last.len.saturating_add(len);
            return;
        }
        if self.ranges.len() >= MAX_RANGES {
            self.unlisted = self.unlisted.saturating_add(len);
            return;
        }
        self.ranges.push(Range { start, len });
    }
}

/// A run both copies read the same way: zeros by map or not. Runs are
/// joined over guest offsets only; how each side's bytes lie in its files
/// is the qcow2 reader's business (it joins host-adjacent clusters into one
/// read), so compare has one read path, the one every layer uses.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: u64,
    len: u64,
    za: bool,
    zb: bool,
    /// A side whose bytes lie in a backing file that could not be opened.
    ua: bool,
    ub: bool,
    /// Both sides' bytes lie in their own image files at one host offset.
    same_host: bool,
}

impl Run {
    /// Whether `next` (starting where this ends) extends this run.
    fn joins(&self, next: &Run) -> bool {
        self.start.saturating_add(self.len) == next.start
            && self.za == next.za
            && self.zb == next.zb
            && self.ua == next.ua
            && self.ub == next.ub
            && self.same_host == next.same_host
    }
}

/// The reading side of a compare: this thread reads the first copy, a
/// helper thread (when there is one) the second, chunk by chunk, into
/// buffers that go to it and come back with the read's result.
struct Bufs {
    a: Vec<u8>,
    b: Vec<u8>,
    base: Vec<u8>,
    /// Zeros standing for a side whose map says zeros: never written.
    zeros: Vec<u8>,
    helper: Option<Helper>,
}

/// A chunk to read from the second copy: `(guest offset, length, buffer)`.
type Request = (u64, usize, Vec<u8>);
/// The result of one chunk's read.
type Read = Result<(), ReadError>;
/// The buffer back, with the read's result.
type Reply = (Vec<u8>, Read);

/// The helper thread's two ends.
struct Helper {
    ask: mpsc::Sender<Request>,
    got: mpsc::Receiver<Reply>,
}

impl Bufs {
    fn new(helper: Option<Helper>) -> Bufs {
        let n = usize::try_from(CHUNK).unwrap_or(1 << 21);
        Bufs {
            a: vec![0; n],
            b: vec![0; n],
            base: vec![0; n],
            zeros: vec![0; n],
            helper,
        }
    }

    /// Reads `n` bytes at `pos` of `a` into `self.a` and of `b` into
    /// `self.b` (each when asked), the second on the helper thread while
    /// the first is read here; the results in that order.
    fn read_both(
        &mut self,
        a: &Copy,
        b: &Copy,
        pos: u64,
        n: usize,
        (want_a, want_b): (bool, bool),
    ) -> (Option<Read>, Option<Read>) {
        let mut sent = false;
        // The second copy always goes to the helper (when there is one),
        // so that each copy is read on one thread from start to end.
        if want_b && let Some(h) = &self.helper {
            match h.ask.send((pos, n, std::mem::take(&mut self.b))) {
                Ok(()) => sent = true,
                // The helper is gone: its buffer comes back, read here.
                Err(mpsc::SendError((_, _, buf))) => self.b = buf,
            }
        }
        let ra = want_a.then(|| read_into(a, pos, &mut self.a, n));
        let rb = if sent {
            match self.helper.as_ref().map(|h| h.got.recv()) {
                Some(Ok((buf, r))) => {
                    self.b = buf;
                    Some(r)
                }
                // The helper died holding the buffer (its panic goes on
                // up when the scope ends): a new one, read here.
                _ => {
                    self.helper = None;
                    self.b = vec![0; usize::try_from(CHUNK).unwrap_or(1 << 21)];
                    Some(read_into(b, pos, &mut self.b, n))
                }
            }
        } else {
            want_b.then(|| read_into(b, pos, &mut self.b, n))
        };
        (ra, rb)
    }
}

/// Reads `n` bytes at `pos` of `c` into the start of `buf`.
fn read_into(c: &Copy, pos: u64, buf: &mut [u8], n: usize) -> Result<(), ReadError> {
    match buf.get_mut(..n) {
        Some(dst) => c.read(pos, dst),
        None => Err(ReadError::new(
            pos,
            u64::try_from(n).unwrap_or(u64::MAX),
            imgcheck_core::ReadErrorKind::TooLarge { limit: CHUNK },
        )),
    }
}

/// Compares the guest disks of `a` and `b`, the second read on a helper
/// thread beside the first.
pub fn diverge(a: &Copy, b: &Copy) -> Divergence {
    std::thread::scope(|s| {
        let (ask, asked) = mpsc::channel::<Request>();
        let (reply, got) = mpsc::channel::<Reply>();
        s.spawn(move || {
            for (pos, n, mut buf) in asked {
                let r = read_into(b, pos, &mut buf, n);
                if reply.send((buf, r)).is_err() {
                    break;
                }
            }
        });
        // Dropping the buffers (and with them the sender) ends the helper.
        let mut bufs = Bufs::new(Some(Helper { ask, got }));
        diverge_with(a, b, &mut bufs)
    })
}

/// [`diverge`] on this thread alone: the same result, read one copy
/// after the other.
pub fn diverge_serial(a: &Copy, b: &Copy) -> Divergence {
    diverge_with(a, b, &mut Bufs::new(None))
}

fn diverge_with(a: &Copy, b: &Copy, bufs: &mut Bufs) -> Divergence {
    let size = a.size().min(b.size());
    let mut d = Divergence {
        compared: size,
        ..Divergence::default()
    };
    // The runs to read, coalesced.
    let mut pending: Option<Run> = None;
    let mut pos = 0u64;
    while pos < size {
        let (oa, ra) = a.origin(pos);
        let (ob, rb) = b.origin(pos);
        let run = ra.min(rb).min(size.saturating_sub(pos)).max(1);
        let (own_a, own_b) = (own(a, oa), own(b, ob));
        if own_a.is_some() {
            d.a_own = d.a_own.saturating_add(run);
        }
        if own_b.is_some() {
            d.b_own = d.b_own.saturating_add(run);
        }
        if oa.same(ob) {
            if oa == Origin::Zero {
                d.both_zero = d.both_zero.saturating_add(run);
            } else {
                d.shared = d.shared.saturating_add(run);
                d.a_mapped = d.a_mapped.saturating_add(run);
                d.a_data = d.a_data.saturating_add(run);
                d.b_data = d.b_data.saturating_add(run);
            }
        } else {
            let next = Run {
                start: pos,
                len: run,
                za: oa == Origin::Zero,
                zb: ob == Origin::Zero,
                ua: oa == Origin::Unavailable,
                ub: ob == Origin::Unavailable,
                same_host: own_a.is_some() && own_a == own_b,
            };
            match &mut pending {
                Some(p) if p.joins(&next) => p.len = p.len.saturating_add(run),
                _ => {
                    if let Some(p) = pending.take() {
                        compare_run(a, b, &p, &mut d, bufs);
                    }
                    pending = Some(next);
                }
            }
        }
        pos = pos.saturating_add(run);
    }
    if let Some(p) = pending.take() {
        compare_run(a, b, &p, &mut d, bufs);
    }
    if a.size() != b.size() {
        let (big, idx) = if a.size() > b.size() { (a, 0) } else { (b, 1) };
        d.tail_differs = nonzero_tail(big, idx, size, &mut d, &mut bufs.a);
        // What the smaller disk lacks is a divergence like any other (a
        // truncated copy lost it): a range, mapped to files and counted.
        // Before, it was only a note and the pair "differed in 0 ranges"
        // (an attack's F9).
        if let Some(t) = d.tail_differs {
            d.first.get_or_insert(t.start);
            // At BLOCK granularity, but never back over the compared part.
            let start = t
                .start
                .saturating_sub(t.start.checked_rem(BLOCK).unwrap_or(0))
                .max(size);
            let end = t
                .end()
                .checked_next_multiple_of(BLOCK)
                .unwrap_or(u64::MAX)
                .min(big.size());
            d.add(start, end.saturating_sub(start));
        }
    }
    d
}

/// Reads `[start, start+len)` from both (not from a side whose map says
/// zeros) through each copy's guest reader, in chunks, and records the
/// blocks that differ.
fn compare_run(a: &Copy, b: &Copy, run: &Run, d: &mut Divergence, bufs: &mut Bufs) {
    let (start, len, za, zb) = (run.start, run.len, run.za, run.zb);
    let end = start.saturating_add(len);
    let mut pos = start;
    while pos < end {
        let n = CHUNK.min(end.saturating_sub(pos));
        let nu = usize::try_from(n).unwrap_or(0);
        let (ra, rb) = bufs.read_both(a, b, pos, nu, (!za && !run.ua, !zb && !run.ub));
        if ra.is_some() {
            d.read = d.read.saturating_add(n);
        }
        if rb.is_some() {
            d.read = d.read.saturating_add(n);
        }
        // Where each side's bytes stop being readable in this chunk (its
        // length when they all could be read), and why.
        let ok_a = readable_to(a, pos, nu, ra, &mut bufs.a);
        let ok_b = readable_to(b, pos, nu, rb, &mut bufs.b);
        // Bytes in a backing file that could not be opened were never
        // read: unreadable from the chunk's start, for the reason the
        // chain gives.
        let lost = |c: &Copy, u: bool, ok: (usize, Option<ReadError>)| {
            if u {
                let why = c
                    .lost_backing()
                    .unwrap_or("the backing file could not be opened");
                (
                    0,
                    Some(ReadError::new(
                        pos,
                        n,
                        imgcheck_core::ReadErrorKind::Layer(why.to_string()),
                    )),
                )
            } else {
                ok
            }
        };
        let (ok_a, ok_b) = (lost(a, run.ua, ok_a), lost(b, run.ub, ok_b));
        let good = ok_a.0.min(ok_b.0);
        // A side its map says is zeros compares as the zero buffer.
        let x = if za { &bufs.zeros } else { &bufs.a };
        let y = if zb { &bufs.zeros } else { &bufs.b };
        let (x, y) = (x.get(..good).unwrap_or(&[]), y.get(..good).unwrap_or(&[]));
        let (read_a, read_b) = (!za && !run.ua, !zb && !run.ub);
        if x != y {
            diff_blocks(pos, x, y, d);
        }
        // Data is what is not zeros: a side read counts its non-zero
        // blocks (one scan when the two agree), a side its map says is
        // zeros holds none.
        let nz_a = if read_a { nonzero_bytes(x) } else { 0 };
        let nz_b = match (read_b, x == y) {
            (false, _) => 0,
            (true, true) if read_a => nz_a,
            (true, _) => nonzero_bytes(y),
        };
        if read_a {
            d.a_mapped = d.a_mapped.saturating_add(n);
        }
        d.a_data = d.a_data.saturating_add(nz_a);
        d.b_data = d.b_data.saturating_add(nz_b);
        let failed = good < nu;
        if failed {
            // Past the first unreadable byte of either side nobody knows
            // whether they agree: differing, and said to be unreadable.
            let at = pos.saturating_add(u64::try_from(good).unwrap_or(0));
            d.first.get_or_insert(at);
            d.add(at, end_of(pos, nu).saturating_sub(at));
            for (i, (to, e)) in [ok_a, ok_b].into_iter().enumerate() {
                if let Some(e) = e {
                    let from = pos.saturating_add(u64::try_from(to).unwrap_or(0));
                    d.unreadable_at(i, from, end_of(pos, nu).saturating_sub(from), why(&e));
                }
            }
        }
        if run.same_host && !failed {
            d.own_common = d
                .own_common
                .saturating_add(written_alike(a, pos, x, y, &mut bufs.base));
        }
        // Bytes past the first unreadable one: data nobody knows is held.
        let lost = n.saturating_sub(u64::try_from(good).unwrap_or(0));
        if read_a {
            d.a_data = d.a_data.saturating_add(lost);
            d.a_data_differing = d.a_data_differing.saturating_add(lost);
        }
        if read_b {
            d.b_data = d.b_data.saturating_add(lost);
            d.b_data_differing = d.b_data_differing.saturating_add(lost);
        }
        pos = pos.saturating_add(n);
    }
}

/// One past the last byte of the `n` bytes at `pos`.
fn end_of(pos: u64, n: usize) -> u64 {
    pos.saturating_add(u64::try_from(n).unwrap_or(0))
}

/// Bytes re-read at once to find where a chunk that failed to read stops
/// being readable: a cluster of the default qcow2 size.
const PIECE: usize = 64 << 10;

/// How many of the `n` bytes at `pos` of `c` could be read into `buf`,
/// and the error at that point: all of them when the chunk's read `r`
/// succeeded (or there was none); else the chunk is read again piece by
/// piece ([`PIECE`]), and a piece that fails sector by sector ([`BLOCK`]),
/// up to the first sector that fails. A failed 2 MiB read no longer makes
/// the bytes before the failing sector unreadable and differing: those
/// read and compare as usual. Only one re-read per piece and one per
/// sector of the failing piece can fail, and the search stops at the
/// first failing sector: a failing device is not asked again and again.
fn readable_to(
    c: &Copy,
    pos: u64,
    n: usize,
    r: Option<Read>,
    buf: &mut [u8],
) -> (usize, Option<ReadError>) {
    let Some(Err(_)) = r else {
        return (n, None);
    };
    let sector = usize::try_from(BLOCK).unwrap_or(512);
    let mut at = 0usize;
    while at < n {
        let len = PIECE.min(n.saturating_sub(at));
        if read_into_at(c, pos, buf, at, len).is_ok() {
            at = at.saturating_add(len);
            continue;
        }
        let piece_end = at.saturating_add(len);
        while at < piece_end {
            let l = sector.min(piece_end.saturating_sub(at));
            if let Err(e) = read_into_at(c, pos, buf, at, l) {
                return (at, Some(e));
            }
            at = at.saturating_add(l);
        }
    }
    // Every piece read on its own: the chunk's failure did not come back.
    (n, None)
}

/// Reads `len` bytes of `c` at `pos + at` into `buf[at..at + len]`.
fn read_into_at(
    c: &Copy,
    pos: u64,
    buf: &mut [u8],
    at: usize,
    len: usize,
) -> Result<(), ReadError> {
    let off = pos.saturating_add(u64::try_from(at).unwrap_or(u64::MAX));
    match at.checked_add(len).and_then(|e| buf.get_mut(at..e)) {
        Some(dst) => c.read(off, dst),
        None => Err(ReadError::new(
            off,
            u64::try_from(len).unwrap_or(u64::MAX),
            imgcheck_core::ReadErrorKind::TooLarge { limit: CHUNK },
        )),
    }
}

/// Bytes of `a` and `b` at `pos` (both in their own files at one host
/// offset) that are alike in both and differ from their backing file's:
/// writes both files carry. A cluster both overlays allocated first holds
/// the backing bytes copied on write around the write itself, alike in
/// two clones that never shared a write, so those bytes do not count.
/// Unreadable backing counts nothing (the relation stays undecided).
fn written_alike(a: &Copy, pos: u64, x: &[u8], y: &[u8], base: &mut [u8]) -> u64 {
    let Some(base) = base.get_mut(..x.len()) else {
        return 0;
    };
    if a.read_backing(pos, base).is_none() {
        return 0;
    }
    let bs = usize::try_from(BLOCK).unwrap_or(512);
    x.chunks(bs)
        .zip(y.chunks(bs))
        .zip(base.chunks(bs))
        .filter(|((p, q), r)| p == q && p != r)
        .map(|((p, _), _)| u64::try_from(p.len()).unwrap_or(0))
        .sum()
}

/// The host offset of a run `c` holds in its own image file (not a
/// backing file, not compressed: a compressed cluster's place says nothing
/// of a copy's layout).
fn own(c: &Copy, o: Origin) -> Option<u64> {
    match o {
        Origin::Bytes(id, false, host) if Some(id) == c.own_file() => Some(host),
        _ => None,
    }
}

/// Bytes of `buf` in [`BLOCK`]s that are not all zeros. A block of data
/// has a non-zero byte near its start, so the scan of each stops early;
/// only zero blocks are read through.
fn nonzero_bytes(buf: &[u8]) -> u64 {
    let bs = usize::try_from(BLOCK).unwrap_or(512);
    buf.chunks(bs)
        .filter(|c| c.iter().any(|&x| x != 0))
        .map(|c| u64::try_from(c.len()).unwrap_or(0))
        .fold(0u64, u64::saturating_add)
}

/// Records the [`BLOCK`]s of two equal-length buffers at `pos` that
/// differ: as differing data of each side that holds data there, and as
/// zeroed in a side that reads zeros where the other holds data.
fn diff_blocks(pos: u64, a: &[u8], b: &[u8], d: &mut Divergence) {
    let bs = usize::try_from(BLOCK).unwrap_or(512);
    let mut off = pos;
    for (x, y) in a.chunks(bs).zip(b.chunks(bs)) {
        let n = u64::try_from(x.len()).unwrap_or(0);
        if x != y {
            if d.first.is_none()
                && let Some(i) = x.iter().zip(y).position(|(p, q)| p != q)
            {
                d.first = Some(off.saturating_add(u64::try_from(i).unwrap_or(0)));
            }
            d.add(off, n);
            let (dx, dy) = (x.iter().any(|&v| v != 0), y.iter().any(|&v| v != 0));
            if dx {
                d.a_data_differing = d.a_data_differing.saturating_add(n);
            } else {
                d.zeroed(0, off, n);
            }
            if dy {
                d.b_data_differing = d.b_data_differing.saturating_add(n);
            } else {
                d.zeroed(1, off, n);
            }
        }
        off = off.saturating_add(n);
    }
}

/// The part of `big` past `from` that does not read as zeros, as one
/// range from its first to its last non-zero block (`qemu-img compare`
/// accepts a longer disk whose extra bytes are zeros).
fn nonzero_tail(
    big: &Copy,
    idx: usize,
    from: u64,
    d: &mut Divergence,
    buf: &mut [u8],
) -> Option<Range> {
    let end = big.size();
    let mut pos = from;
    let mut first: Option<u64> = None;
    let mut last = from;
    while pos < end {
        let (o, run) = big.origin(pos);
        // origin gives at least 1 byte and pos < end: every round advances.
        let run = run.min(end.saturating_sub(pos)).min(CHUNK);
        if o == Origin::Unavailable {
            let why = big
                .lost_backing()
                .unwrap_or("the backing file could not be opened")
                .to_string();
            d.unreadable_at(idx, pos, run, why);
        } else if o != Origin::Zero
            && let Some(buf) = buf.get_mut(..usize::try_from(run).unwrap_or(0))
        {
            match big.read(pos, buf) {
                Ok(()) => {
                    if let Some(i) = buf.iter().position(|&x| x != 0) {
                        first.get_or_insert(pos.saturating_add(u64::try_from(i).unwrap_or(0)));
                        let j = buf.iter().rposition(|&x| x != 0).unwrap_or(i);
                        last = pos
                            .saturating_add(u64::try_from(j).unwrap_or(0))
                            .saturating_add(1);
                    }
                }
                Err(e) => d.unreadable_at(idx, pos, run, why(&e)),
            }
        }
        pos = pos.saturating_add(run);
    }
    first.map(|f| Range {
        start: f,
        len: last.saturating_sub(f),
    })
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::arithmetic_side_effects,
        clippy::as_conversions,
        clippy::indexing_slicing,
        clippy::unwrap_used
    )]
    use super::*;

    #[test]
    fn blocks_coalesce_and_the_cap_counts_the_rest() {
        let mut d = Divergence::default();
        d.add(0, 4096);
        d.add(4096, 4096);
        d.add(16384, 4096);
        assert_eq!(BLOCK, 512);
        assert_eq!(d.ranges.len(), 2);
        assert_eq!(
            d.ranges[0],
            Range {
                start: 0,
                len: 8192
            }
        );
        for i in 0..(MAX_RANGES as u64 + 10) {
            d.add((1 << 30) | (i * 8192), 4096);
        }
        assert_eq!(d.ranges.len(), MAX_RANGES);
        assert_eq!(d.unlisted, 12 * 4096);
        assert_eq!(d.differing, (3 + MAX_RANGES as u64 + 10) * 4096);
    }

    #[test]
    fn the_first_differing_byte_is_exact() {
        let a = vec![0u8; 3 * 512];
        let mut b = a.clone();
        b[512 + 17] = 1;
        b[2 * 512] = 1;
        let mut d = Divergence::default();
        diff_blocks(1 << 20, &a, &b, &mut d);
        assert_eq!(d.first, Some((1 << 20) + 512 + 17));
        assert_eq!(
            d.ranges,
            vec![Range {
                start: (1 << 20) + 512,
                len: 1024
            }]
        );
    }
}

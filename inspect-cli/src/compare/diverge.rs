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
/// Bytes of each copy read at once inside a chunk, the two copies in
/// turn, and compared at once: both slices stay in the core's own cache
/// (1 MiB of L2 on the bench machine), so the compare reads what the
/// kernel has just copied out instead of fetching 2 x 2 MiB back from
/// memory. A chunk that fails to read is read again as one piece, so
/// where a failure starts and ends is the chunk's (see [`readable_to`]).
pub const SLICE: usize = 128 << 10;
/// Bytes of chunks a worker takes at once.
const UNIT: u64 = 16 << 20;
/// Chunks one unit holds at most (runs of a cluster or two make many
/// small chunks).
const UNIT_CHUNKS: usize = 256;
/// Threads that read and compare, each both copies of the units it takes.
/// Each reading both copies of its own stretch keeps a chunk's bytes on
/// one core: with the second copy read on a helper thread and compared
/// on the first's, every chunk crossed between the cores' caches, and
/// the compare took 0.96 s of CPU for the bench's 4 GiB where two
/// workers take about 0.6 s (and qemu-img compare 0.65 s on one).
const WORKERS: usize = 2;
/// Units handed out and not yet merged, at most: what bounds the memory
/// held beyond the workers' buffers.
const IN_FLIGHT: usize = 2 * WORKERS;

/// One chunk to compare: at most [`CHUNK`] bytes of one run, cut where
/// one copy after the other would cut it.
#[derive(Debug, Clone, Copy)]
struct Chunk {
    pos: u64,
    n: u64,
    run: Run,
}

/// What the chunks of a unit found, in order. Its lists are not capped
/// (a unit is at most [`UNIT`] bytes, so neither are they beyond
/// `UNIT / BLOCK` entries): the caps apply when the units are merged in
/// disk order ([`Tally::merge`]), so the result is the one of a single
/// reader going from start to end, whatever read which unit when.
#[derive(Debug, Default)]
struct Tally {
    read: u64,
    a_mapped: u64,
    a_data: u64,
    b_data: u64,
    a_data_differing: u64,
    b_data_differing: u64,
    own_common: u64,
    first: Option<u64>,
    ranges: Vec<Range>,
    zeroed: [Vec<Range>; 2],
    unreadable: Vec<Unreadable>,
}

/// Extends the last of `v` when `r` continues it, else appends `r`.
fn join(v: &mut Vec<Range>, r: Range) {
    if let Some(last) = v.last_mut()
        && last.end() == r.start
    {
        last.len = last.len.saturating_add(r.len);
        return;
    }
    v.push(r);
}

impl Tally {
    fn add(&mut self, start: u64, len: u64) {
        join(&mut self.ranges, Range { start, len });
    }

    fn zeroed(&mut self, copy: usize, start: u64, len: u64) {
        if let Some(v) = self.zeroed.get_mut(copy) {
            join(v, Range { start, len });
        }
    }

    /// As [`Divergence::unreadable_at`], uncapped.
    fn unreadable_at(&mut self, copy: usize, start: u64, len: u64, why: String) {
        if let Some(last) = self.unreadable.iter_mut().rev().find(|u| u.copy == copy)
            && last.range.end() == start
        {
            last.range.len = last.range.len.saturating_add(len);
            return;
        }
        self.unreadable.push(Unreadable {
            copy,
            range: Range { start, len },
            why,
        });
    }

    /// A later tally of the same unit appended to this one.
    fn absorb(&mut self, t: Tally) {
        self.counts(&t);
        if self.first.is_none() {
            self.first = t.first;
        }
        for r in t.ranges {
            join(&mut self.ranges, r);
        }
        for (mine, theirs) in self.zeroed.iter_mut().zip(t.zeroed) {
            for r in theirs {
                join(mine, r);
            }
        }
        for u in t.unreadable {
            self.unreadable_at(u.copy, u.range.start, u.range.len, u.why);
        }
    }

    fn counts(&mut self, t: &Tally) {
        self.read = self.read.saturating_add(t.read);
        self.a_mapped = self.a_mapped.saturating_add(t.a_mapped);
        self.a_data = self.a_data.saturating_add(t.a_data);
        self.b_data = self.b_data.saturating_add(t.b_data);
        self.a_data_differing = self.a_data_differing.saturating_add(t.a_data_differing);
        self.b_data_differing = self.b_data_differing.saturating_add(t.b_data_differing);
        self.own_common = self.own_common.saturating_add(t.own_common);
    }

    /// The unit merged into `d` after every unit before it: each range
    /// goes through `d`'s own capped, coalescing records, as it would
    /// have one chunk at a time (a range joined here is one `d` would
    /// have joined too: joining is the same at any grouping).
    fn merge(self, d: &mut Divergence) {
        d.read = d.read.saturating_add(self.read);
        d.a_mapped = d.a_mapped.saturating_add(self.a_mapped);
        d.a_data = d.a_data.saturating_add(self.a_data);
        d.b_data = d.b_data.saturating_add(self.b_data);
        d.a_data_differing = d.a_data_differing.saturating_add(self.a_data_differing);
        d.b_data_differing = d.b_data_differing.saturating_add(self.b_data_differing);
        d.own_common = d.own_common.saturating_add(self.own_common);
        if d.first.is_none() {
            d.first = self.first;
        }
        for r in self.ranges {
            d.add(r.start, r.len);
        }
        for (copy, v) in self.zeroed.into_iter().enumerate() {
            for r in v {
                d.zeroed(copy, r.start, r.len);
            }
        }
        for u in self.unreadable {
            d.unreadable_at(u.copy, u.range.start, u.range.len, u.why);
        }
    }
}

/// The result of one read.
type Read = Result<(), ReadError>;

/// A worker's buffers: two slices for the usual path, and (allocated
/// the first time they are needed) two whole chunks and a backing
/// chunk for a chunk that fails to read or whose shared writes are
/// counted against the backing file.
struct Bufs<'z> {
    a: Vec<u8>,
    b: Vec<u8>,
    whole: Option<Whole>,
    /// The backing file's bytes under a chunk both copies hold at one
    /// host offset (allocated, never touched, until a chunk needs it).
    base: Option<Vec<u8>>,
    /// Zeros standing for a side whose map says zeros: never written.
    zeros: &'z [u8],
}

/// Whole-chunk buffers.
struct Whole {
    a: Vec<u8>,
    b: Vec<u8>,
}

impl<'z> Bufs<'z> {
    fn new(zeros: &'z [u8]) -> Self {
        Bufs {
            a: vec![0; SLICE],
            b: vec![0; SLICE],
            whole: None,
            base: None,
            zeros,
        }
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

/// Compares the guest disks of `a` and `b` on [`WORKERS`] threads, each
/// reading both copies of the stretches it takes; the same result as
/// [`diverge_serial`].
pub fn diverge(a: &Copy, b: &Copy) -> Divergence {
    diverge_on(a, b, WORKERS)
}

/// [`diverge`] on this thread alone: the same result, read in the same
/// pieces, in disk order.
pub fn diverge_serial(a: &Copy, b: &Copy) -> Divergence {
    diverge_on(a, b, 0)
}

/// Where the units go: compared here, or handed to workers and their
/// tallies merged back in disk order.
enum Pool<'a> {
    Here(Bufs<'a>),
    Workers(Workers),
}

/// The coordinating thread's ends of the workers' channels.
struct Workers {
    ask: Option<mpsc::Sender<(usize, Vec<Chunk>)>>,
    got: mpsc::Receiver<(usize, Tally)>,
    /// Units handed out so far.
    sent: usize,
    /// The next unit to merge.
    next: usize,
    /// Tallies that came back before an earlier unit's.
    early: std::collections::BTreeMap<usize, Tally>,
}

impl Workers {
    /// Takes one tally back (waiting for it) and merges every tally that
    /// is next in order; false when no worker is left to send one.
    fn take_one(&mut self, d: &mut Divergence) -> bool {
        let Ok((i, t)) = self.got.recv() else {
            return false;
        };
        self.early.insert(i, t);
        while let Some(t) = self.early.remove(&self.next) {
            t.merge(d);
            self.next = self.next.saturating_add(1);
        }
        true
    }
}

impl Pool<'_> {
    fn unit(&mut self, a: &Copy, b: &Copy, unit: Vec<Chunk>, d: &mut Divergence) {
        if unit.is_empty() {
            return;
        }
        match self {
            Pool::Here(bufs) => work(a, b, &unit, bufs).merge(d),
            Pool::Workers(w) => {
                while w.sent.saturating_sub(w.next) >= IN_FLIGHT {
                    if !w.take_one(d) {
                        break;
                    }
                }
                let sent = w.ask.as_ref().map(|s| s.send((w.sent, unit)));
                if let Some(Ok(())) = sent {
                    w.sent = w.sent.saturating_add(1);
                }
                // A send that failed means every worker is gone: their
                // panic goes on up when the scope ends.
            }
        }
    }

    /// Waits for every unit handed out and merges the rest.
    fn finish(&mut self, d: &mut Divergence) {
        if let Pool::Workers(w) = self {
            w.ask = None;
            while w.next < w.sent {
                if !w.take_one(d) {
                    break;
                }
            }
        }
    }
}

/// The chunks of a unit compared into one tally.
fn work(a: &Copy, b: &Copy, unit: &[Chunk], bufs: &mut Bufs<'_>) -> Tally {
    let mut t = Tally::default();
    for c in unit {
        compare_chunk(a, b, c, &mut t, bufs);
    }
    t
}

fn diverge_on(a: &Copy, b: &Copy, workers: usize) -> Divergence {
    let zeros = vec![0u8; usize::try_from(CHUNK).unwrap_or(1 << 21)];
    std::thread::scope(|s| {
        let mut pool = if workers == 0 {
            Pool::Here(Bufs::new(&zeros))
        } else {
            let (ask, asked) = mpsc::channel::<(usize, Vec<Chunk>)>();
            let (reply, got) = mpsc::channel::<(usize, Tally)>();
            let asked = std::sync::Arc::new(std::sync::Mutex::new(asked));
            for _ in 0..workers {
                let (asked, reply, zeros) = (std::sync::Arc::clone(&asked), reply.clone(), &zeros);
                s.spawn(move || {
                    let mut bufs = Bufs::new(zeros);
                    loop {
                        // The lock is held only to take the next unit.
                        let job = match asked.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => break,
                        };
                        let Ok((i, unit)) = job else { break };
                        if reply.send((i, work(a, b, &unit, &mut bufs))).is_err() {
                            break;
                        }
                    }
                });
            }
            Pool::Workers(Workers {
                ask: Some(ask),
                got,
                sent: 0,
                next: 0,
                early: std::collections::BTreeMap::new(),
            })
        };
        diverge_with(a, b, &mut pool)
    })
}

fn diverge_with(a: &Copy, b: &Copy, pool: &mut Pool<'_>) -> Divergence {
    let size = a.size().min(b.size());
    let mut d = Divergence {
        compared: size,
        ..Divergence::default()
    };
    // The runs to read, coalesced, cut into chunks, grouped into units.
    let mut pending: Option<Run> = None;
    let mut unit: Vec<Chunk> = Vec::new();
    let mut unit_bytes = 0u64;
    let mut emit = |run: Run, d: &mut Divergence, pool: &mut Pool<'_>| {
        let end = run.start.saturating_add(run.len);
        let mut pos = run.start;
        while pos < end {
            let n = CHUNK.min(end.saturating_sub(pos));
            unit.push(Chunk { pos, n, run });
            unit_bytes = unit_bytes.saturating_add(n);
            if unit_bytes >= UNIT || unit.len() >= UNIT_CHUNKS {
                pool.unit(a, b, std::mem::take(&mut unit), d);
                unit_bytes = 0;
            }
            pos = pos.saturating_add(n);
        }
    };
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
                        emit(p, &mut d, pool);
                    }
                    pending = Some(next);
                }
            }
        }
        pos = pos.saturating_add(run);
    }
    if let Some(p) = pending.take() {
        emit(p, &mut d, pool);
    }
    pool.unit(a, b, std::mem::take(&mut unit), &mut d);
    pool.finish(&mut d);
    if a.size() != b.size() {
        let (big, idx) = if a.size() > b.size() { (a, 0) } else { (b, 1) };
        let mut buf = vec![0u8; usize::try_from(CHUNK).unwrap_or(1 << 21)];
        d.tail_differs = nonzero_tail(big, idx, size, &mut d, &mut buf);
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

/// Compares one chunk slice by slice ([`SLICE`]), each copy's slice read
/// in turn and compared while both are in cache. A slice that fails to
/// read, or a chunk whose shared writes are counted against the backing
/// file ([`written_alike`] reads the backing chunk whole), is done again
/// as one whole chunk ([`compare_whole`]): what a failure covers is the
/// whole-chunk read's, as it always was.
fn compare_chunk(a: &Copy, b: &Copy, c: &Chunk, t: &mut Tally, bufs: &mut Bufs<'_>) {
    let run = &c.run;
    if run.ua || run.ub {
        compare_whole(a, b, c, t, bufs);
        return;
    }
    let (read_a, read_b) = (!run.za, !run.zb);
    let n = usize::try_from(c.n).unwrap_or(0);
    // Writes both files share are counted against the backing chunk,
    // read whole as before (none when there is no backing file: nothing
    // is read then, and nothing counted).
    let base_ok = run.same_host && {
        let base = bufs
            .base
            .get_or_insert_with(|| vec![0; usize::try_from(CHUNK).unwrap_or(1 << 21)]);
        base.get_mut(..n)
            .and_then(|buf| a.read_backing(c.pos, buf))
            .is_some()
    };
    // Counted apart and added only when every slice read: a failure
    // starts the chunk over.
    let mut here = Tally::default();
    let mut at = 0usize;
    while at < n {
        let len = SLICE.min(n.saturating_sub(at));
        let pos = end_of(c.pos, at);
        let ok_a = !read_a || read_into(a, pos, &mut bufs.a, len).is_ok();
        let ok_b = ok_a && (!read_b || read_into(b, pos, &mut bufs.b, len).is_ok());
        if !ok_b {
            compare_whole(a, b, c, t, bufs);
            return;
        }
        let x = if run.za { bufs.zeros } else { &bufs.a };
        let y = if run.zb { bufs.zeros } else { &bufs.b };
        let (x, y) = (x.get(..len).unwrap_or(&[]), y.get(..len).unwrap_or(&[]));
        let same = x == y;
        if !same {
            diff_blocks(pos, x, y, &mut here);
        }
        let nz_a = if read_a { nonzero_bytes(x) } else { 0 };
        let nz_b = match (read_b, same) {
            (false, _) => 0,
            (true, true) if read_a => nz_a,
            (true, _) => nonzero_bytes(y),
        };
        here.a_data = here.a_data.saturating_add(nz_a);
        here.b_data = here.b_data.saturating_add(nz_b);
        if base_ok
            && let Some(base) = bufs
                .base
                .as_ref()
                .and_then(|v| v.get(at..at.saturating_add(len)))
        {
            here.own_common = here.own_common.saturating_add(alike(x, y, base));
        }
        at = at.saturating_add(len);
    }
    for read in [read_a, read_b] {
        if read {
            here.read = here.read.saturating_add(c.n);
        }
    }
    if read_a {
        here.a_mapped = here.a_mapped.saturating_add(c.n);
    }
    t.absorb(here);
}

/// Reads the chunk whole from both (not from a side whose map says
/// zeros) and records the blocks that differ, and where and why a side
/// stopped being readable.
fn compare_whole(a: &Copy, b: &Copy, c: &Chunk, d: &mut Tally, bufs: &mut Bufs<'_>) {
    let (pos, n, run) = (c.pos, c.n, &c.run);
    let (za, zb) = (run.za, run.zb);
    let nu = usize::try_from(n).unwrap_or(0);
    let whole = bufs.whole.get_or_insert_with(|| {
        let k = usize::try_from(CHUNK).unwrap_or(1 << 21);
        Whole {
            a: vec![0; k],
            b: vec![0; k],
        }
    });
    let (want_a, want_b) = (!za && !run.ua, !zb && !run.ub);
    let ra: Option<Read> = want_a.then(|| read_into(a, pos, &mut whole.a, nu));
    let rb: Option<Read> = want_b.then(|| read_into(b, pos, &mut whole.b, nu));
    if ra.is_some() {
        d.read = d.read.saturating_add(n);
    }
    if rb.is_some() {
        d.read = d.read.saturating_add(n);
    }
    // Where each side's bytes stop being readable in this chunk (its
    // length when they all could be read), and why.
    let ok_a = readable_to(a, pos, nu, ra, &mut whole.a);
    let ok_b = readable_to(b, pos, nu, rb, &mut whole.b);
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
    let x: &[u8] = if za { bufs.zeros } else { &whole.a };
    let y: &[u8] = if zb { bufs.zeros } else { &whole.b };
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
        let base = bufs
            .base
            .get_or_insert_with(|| vec![0; usize::try_from(CHUNK).unwrap_or(1 << 21)]);
        d.own_common = d
            .own_common
            .saturating_add(written_alike(a, pos, x, y, base));
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
    alike(x, y, base)
}

/// Bytes in [`BLOCK`]s alike in `x` and `y` and unlike `base`'s.
fn alike(x: &[u8], y: &[u8], base: &[u8]) -> u64 {
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

/// A [`BLOCK`] of zeros, to compare blocks against.
static ZERO_BLOCK: [u8; 512] = [0; 512];

/// Whether a block (at most [`BLOCK`] bytes) is all zeros: one `memcmp`
/// against [`ZERO_BLOCK`], which stops at a data block's first non-zero
/// byte and reads a zero block a vector at a time (a byte-at-a-time scan
/// of the zero side was 29 % of a compare whose copies differ by 1 GiB of
/// data against zeros).
fn zero_block(b: &[u8]) -> bool {
    ZERO_BLOCK.get(..b.len()).is_some_and(|z| z == b)
        || (b.len() > ZERO_BLOCK.len() && b.iter().all(|&x| x == 0))
}

/// Bytes of `buf` in [`BLOCK`]s that are not all zeros. A block of data
/// has a non-zero byte near its start, so the test of each stops early;
/// only zero blocks are read through.
fn nonzero_bytes(buf: &[u8]) -> u64 {
    let bs = usize::try_from(BLOCK).unwrap_or(512);
    buf.chunks(bs)
        .filter(|c| !zero_block(c))
        .map(|c| u64::try_from(c.len()).unwrap_or(0))
        .fold(0u64, u64::saturating_add)
}

/// Records the [`BLOCK`]s of two equal-length buffers at `pos` that
/// differ: as differing data of each side that holds data there, and as
/// zeroed in a side that reads zeros where the other holds data.
fn diff_blocks(pos: u64, a: &[u8], b: &[u8], d: &mut Tally) {
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
            if zero_block(x) {
                d.zeroed(0, off, n);
            } else {
                d.a_data_differing = d.a_data_differing.saturating_add(n);
            }
            if zero_block(y) {
                d.zeroed(1, off, n);
            } else {
                d.b_data_differing = d.b_data_differing.saturating_add(n);
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
        let mut t = Tally::default();
        diff_blocks(1 << 20, &a, &b, &mut t);
        let mut d = Divergence::default();
        t.merge(&mut d);
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

//! Who owns each block: one bit per block for "claimed" and one for
//! "free" (what the free-space trees say), per AG, allocated when the AG
//! is first touched. This is how the check sees a block claimed twice (a
//! cycle in a btree, two files sharing a block without reflink, a file
//! block the free-space trees call free) with memory bounded by the
//! filesystem's size: two bits per block, at most [`MAX_TRACKED_BLOCKS`].

use crate::fs::Fs;

/// Blocks tracked at most (2^32 blocks: 1 GiB of bitmaps). Past it the
/// ownership checks are skipped with a finding; btree walks then bound
/// themselves by [`MAX_UNTRACKED_VISITS`].
pub const MAX_TRACKED_BLOCKS: u64 = 1 << 32;
/// Metadata blocks a walk visits when blocks are not tracked.
pub const MAX_UNTRACKED_VISITS: usize = 1 << 22;

/// A set of bits.
#[derive(Debug, Default)]
pub struct Bitmap {
    words: Vec<u64>,
    len: u64,
}

impl Bitmap {
    /// `len` clear bits.
    pub fn new(len: u64) -> Self {
        Bitmap {
            words: vec![0; Fs::u(len.div_ceil(64))],
            len,
        }
    }
    /// Bits held.
    pub fn len(&self) -> u64 {
        self.len
    }
    /// Whether it holds no bits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Bit `i`.
    pub fn get(&self, i: u64) -> bool {
        i < self.len
            && self
                .words
                .get(Fs::u(i / 64))
                .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }
    /// Sets `start..start+n` (clipped to the length); returns how many were set already.
    pub fn set_range(&mut self, start: u64, n: u64) -> u64 {
        let end = start.saturating_add(n).min(self.len);
        let mut i = start;
        let mut already = 0u64;
        while i < end {
            let wi = Fs::u(i / 64);
            let bit = i % 64;
            let take = 64u64.saturating_sub(bit).min(end.saturating_sub(i));
            let mask = if take >= 64 {
                u64::MAX
            } else {
                (1u64 << take).wrapping_sub(1) << bit
            };
            if let Some(w) = self.words.get_mut(wi) {
                already = already.saturating_add(u64::from((*w & mask).count_ones()));
                *w |= mask;
            }
            i = i.saturating_add(take);
        }
        already
    }
    /// How many of `start..start+n` are set.
    pub fn count_range(&self, start: u64, n: u64) -> u64 {
        let end = start.saturating_add(n).min(self.len);
        let mut i = start;
        let mut c = 0u64;
        while i < end {
            let bit = i % 64;
            let take = 64u64.saturating_sub(bit).min(end.saturating_sub(i));
            let mask = if take >= 64 {
                u64::MAX
            } else {
                (1u64 << take).wrapping_sub(1) << bit
            };
            if let Some(w) = self.words.get(Fs::u(i / 64)) {
                c = c.saturating_add(u64::from((w & mask).count_ones()));
            }
            i = i.saturating_add(take);
        }
        c
    }
    /// Number of set bits.
    pub fn count(&self) -> u64 {
        self.words.iter().map(|w| u64::from(w.count_ones())).sum()
    }
}

/// Block ownership for the whole filesystem.
#[derive(Debug)]
pub struct Claims {
    used: Vec<Option<Bitmap>>,
    free: Vec<Option<Bitmap>>,
    /// Whether blocks are tracked at all.
    pub tracked: bool,
    visited: std::collections::HashSet<u64>,
    /// Data blocks may be shared (reflink).
    pub reflink: bool,
    data: Vec<Option<Bitmap>>,
    /// Blocks claimed by more than one file's data: (AG, block) → extra owners.
    pub shared: std::collections::HashMap<(u32, u64), u32>,
    /// The refcount btree's shared extents (AG, start, length, refcount).
    pub refcounts: Vec<(u32, u64, u64, u32)>,
    /// Reverse mappings seen and recorded, when the filesystem has rmapbt.
    pub rmaps: Option<crate::rmap::Rmaps>,
}

/// Shared blocks counted at most.
pub const MAX_SHARED_BLOCKS: usize = 1 << 22;

impl Claims {
    /// Ownership tracking for `fs` (off past [`MAX_TRACKED_BLOCKS`]).
    pub fn new(fs: &Fs<'_>) -> Self {
        let tracked = fs.sb.dblocks <= MAX_TRACKED_BLOCKS;
        let n = if tracked {
            Fs::u(u64::from(fs.agcount))
        } else {
            0
        };
        Claims {
            used: (0..n).map(|_| None).collect(),
            free: (0..n).map(|_| None).collect(),
            tracked,
            visited: std::collections::HashSet::new(),
            reflink: fs.sb.ro(crate::sb::ro_compat::REFLINK),
            data: (0..n).map(|_| None).collect(),
            shared: std::collections::HashMap::new(),
            refcounts: Vec::new(),
            rmaps: fs
                .sb
                .ro(crate::sb::ro_compat::RMAPBT)
                .then(crate::rmap::Rmaps::default),
        }
    }

    fn maps(&mut self, fs: &Fs<'_>, agno: u32) -> Option<(&mut Bitmap, &mut Bitmap)> {
        let i = Fs::u(u64::from(agno));
        let len = fs.ag_len(agno);
        let u = self.used.get_mut(i)?;
        let f = self.free.get_mut(i)?;
        Some((
            u.get_or_insert_with(|| Bitmap::new(len)),
            f.get_or_insert_with(|| Bitmap::new(len)),
        ))
    }

    /// Claims `agbno..+n` of AG `agno` for metadata `what`. `false` when
    /// any of it was claimed before (said in a finding): the caller does
    /// not walk it again.
    pub fn claim_meta(
        &mut self,
        fs: &mut Fs<'_>,
        agno: u32,
        agbno: u64,
        n: u64,
        what: &str,
    ) -> bool {
        if let (Some(r), Some(o)) = (self.rmaps.as_mut(), crate::rmap::owner_of(what)) {
            r.expect((agno, agbno, n, o, 0));
        }
        if !self.tracked {
            if self.visited.len() >= MAX_UNTRACKED_VISITS {
                fs.incomplete
                    .get_or_insert_with(|| "too many metadata blocks to visit untracked".into());
                return false;
            }
            return self.visited.insert(fs.fsb_of(agno, agbno));
        }
        let Some((used, free)) = self.maps(fs, agno) else {
            return true;
        };
        let was_free = free.count_range(agbno, n);
        let already = used.set_range(agbno, n);
        if already == 0 {
            return true;
        }
        let off = fs.agb_byte(agno, agbno);
        if was_free > 0 {
            fs.error(
                "xfs.space.meta_in_free",
                off,
                format!("{what} block {agno}/{agbno} is also recorded as free space"),
            );
        } else {
            fs.error(
                "xfs.space.multiply_claimed",
                off,
                format!("{what} block {agno}/{agbno} is claimed more than once"),
            );
        }
        false
    }

    /// Records a free extent from the bnobt. `false` when it overlaps
    /// blocks already claimed.
    pub fn claim_free(&mut self, fs: &mut Fs<'_>, agno: u32, agbno: u64, n: u64) -> bool {
        if !self.tracked {
            return true;
        }
        let Some((used, free)) = self.maps(fs, agno) else {
            return true;
        };
        let already = used.set_range(agbno, n);
        free.set_range(agbno, n);
        if already > 0 {
            let off = fs.agb_byte(agno, agbno);
            fs.error("xfs.space.free_overlaps", off, format!("free extent {agno}/{agbno} ({n} blocks) overlaps {already} blocks already in use"));
            return false;
        }
        true
    }

    /// Claims a file's extent `agbno..+n`. Returns how many blocks the
    /// free-space trees call free, how many other metadata or (without
    /// reflink) another file already claimed, and how many another file's
    /// data shares (reflink: counted per block for the refcount check).
    pub fn claim_data(&mut self, fs: &Fs<'_>, agno: u32, agbno: u64, n: u64) -> (u64, u64, u64) {
        if !self.tracked {
            return (0, 0, 0);
        }
        let i = Fs::u(u64::from(agno));
        let len = fs.ag_len(agno);
        let reflink = self.reflink;
        let (Some(u), Some(f), Some(d)) = (
            self.used.get_mut(i),
            self.free.get_mut(i),
            self.data.get_mut(i),
        ) else {
            return (0, 0, 0);
        };
        let used = u.get_or_insert_with(|| Bitmap::new(len));
        let free = f.get_or_insert_with(|| Bitmap::new(len));
        let data = d.get_or_insert_with(|| Bitmap::new(len));
        let was_free = free.count_range(agbno, n);
        let was_used = used.count_range(agbno, n);
        let was_data = data.count_range(agbno, n);
        if reflink && was_data > 0 {
            for b in agbno..agbno.saturating_add(n).min(len) {
                if data.get(b) && self.shared.len() < MAX_SHARED_BLOCKS {
                    let c = self.shared.entry((agno, b)).or_insert(0);
                    *c = c.saturating_add(1);
                }
            }
        }
        used.set_range(agbno, n);
        data.set_range(agbno, n);
        let other = was_used.saturating_sub(was_free);
        let dup = if reflink {
            other.saturating_sub(was_data)
        } else {
            other
        };
        (was_free, dup, if reflink { was_data } else { 0 })
    }

    /// Whether `agbno..+n` of AG `agno` overlaps an extent the refcount
    /// btree records as shared.
    pub fn refcount_shared(&self, agno: u32, agbno: u64, n: u64) -> bool {
        let end = agbno.saturating_add(n);
        let i = self
            .refcounts
            .partition_point(|r| (r.0, r.1.saturating_add(r.2)) <= (agno, agbno));
        self.refcounts
            .get(i)
            .is_some_and(|r| r.0 == agno && r.1 < end)
    }

    /// Claimed blocks in AG `agno`.
    pub fn used_in(&self, agno: u32) -> Option<&Bitmap> {
        self.used.get(Fs::u(u64::from(agno)))?.as_ref()
    }

    /// After every file was read: blocks nothing claimed (repair phase 4's
    /// "unknown block state") and, with reflink, shared blocks against the
    /// refcount btree.
    pub fn finish(&mut self, fs: &mut Fs<'_>) {
        if !self.tracked || fs.budget_hit || fs.incomplete.is_some() {
            return;
        }
        for agno in 0..fs.agcount {
            let len = fs.ag_len(agno);
            let Some(u) = self.used_in(agno) else {
                continue;
            };
            let claimed = u.count();
            if claimed < len {
                let first = (0..len).find(|&b| !u.get(b)).unwrap_or(0);
                let off = fs.agb_byte(agno, first);
                fs.error(
                    "xfs.space.leaked",
                    off,
                    format!("AG {agno}: {} blocks (the first {agno}/{first}) are neither free space nor used by any metadata or file", len.saturating_sub(claimed)),
                );
            }
        }
        if !self.reflink {
            return;
        }
        let mut shared = std::mem::take(&mut self.shared);
        for &(agno, start, n, rc) in &self.refcounts {
            let mut bad = None;
            for b in start..start.saturating_add(n) {
                let owners = shared.remove(&(agno, b)).map_or(1, |x| x.saturating_add(1));
                if owners != rc && bad.is_none() {
                    bad = Some((b, owners));
                }
            }
            if let Some((b, owners)) = bad {
                fs.error(
                    "xfs.refcountbt.mismatch",
                    fs.agb_byte(agno, b),
                    format!("refcountbt of AG {agno}: extent {start}+{n} has refcount {rc}, but block {b} is shared by {owners} files"),
                );
            }
        }
        let mut rest: Vec<(u32, u64)> = shared.into_keys().collect();
        rest.sort_unstable();
        if let Some(&(agno, b)) = rest.first() {
            fs.error(
                "xfs.refcountbt.missing",
                fs.agb_byte(agno, b),
                format!("{} blocks (the first {agno}/{b}) are shared by several files but no refcount record says so", rest.len()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Bitmap;

    #[test]
    fn ranges_count_what_was_set_before() {
        let mut b = Bitmap::new(200);
        assert_eq!(b.set_range(10, 100), 0);
        assert_eq!(b.set_range(100, 50), 10);
        assert_eq!(b.count_range(0, 200), 140);
        assert_eq!(b.set_range(190, 50), 0, "clipped at the end");
        assert!(b.get(199) && !b.get(200) && !b.get(5));
        assert_eq!(b.count(), 150);
    }
}

//! The realtime section's metadata, as `xfs_repair -n` checks it: the
//! realtime extents every realtime file maps are counted (phase 4), then
//! the bitmap inode's words, the summary inode's counts and
//! `sb_frextents` are compared with that count ("discrepancy in rtbitmap
//! at dblock", "sb_frextents N, counted M"), and both inodes must be
//! exactly as large as the geometry says ("realtime bitmap inode has bad
//! size").
//!
//! Both files live on the data device, so this needs no realtime device:
//! a data-device image alone is checked. Their words are in the CPU's
//! byte order (there is no on-disk endianness for them before rtgroups);
//! little-endian is what every x86 and arm64 kernel writes, and what is
//! read here. A bitmap bit set means the realtime extent is free.

use crate::claims::{Bitmap, MAX_TRACKED_BLOCKS};
use crate::fs::Fs;
use crate::inode::Extent;
use imgcheck_core::Severity;
use imgcheck_core::bytes::le32;

/// Realtime usage gathered during the inode walk.
#[derive(Debug, Default)]
pub(crate) struct RtTrack {
    /// Realtime extents mapped by realtime files (`None` without a
    /// realtime section, or one too large to track).
    used: Option<Bitmap>,
    /// The bitmap inode's data mapping and size, when it was read.
    bitmap: Option<(Vec<Extent>, u64)>,
    /// The summary inode's data mapping and size.
    summary: Option<(Vec<Extent>, u64)>,
}

impl RtTrack {
    /// Tracking for `fs` (nothing without a realtime section).
    pub(crate) fn new(fs: &Fs<'_>) -> Self {
        let n = fs.sb.rextents;
        RtTrack {
            used: (fs.sb.rblocks > 0 && n <= MAX_TRACKED_BLOCKS).then(|| Bitmap::new(n)),
            bitmap: None,
            summary: None,
        }
    }

    /// Notes a realtime file's mapped realtime blocks as repair's
    /// `process_rt_rec_state` does, record by record: a record that
    /// reaches the start of a realtime extent claims it and must find it
    /// free ("claims dup rt extent"); one that starts inside an extent
    /// continues an extent an earlier record claimed (a written and an
    /// unwritten part of one 16 KiB extent), and finding it unclaimed is
    /// "found invalid rt extent state". Returns (claimed twice, partial).
    pub(crate) fn file(&mut self, fs: &Fs<'_>, map: &[Extent]) -> (u64, u64) {
        let ext = u64::from(fs.sb.rextsize).max(1);
        let (mut shared, mut partial) = (0u64, 0u64);
        if let Some(u) = self.used.as_mut() {
            for e in map.iter().filter(|e| e.len > 0) {
                let end = e.start.saturating_add(e.len);
                let mut b = e.start;
                if e.start.checked_rem(ext).unwrap_or(0) != 0 {
                    if !u.get(e.start.checked_div(ext).unwrap_or(0)) {
                        partial = partial.saturating_add(1);
                    }
                    b = e.start.div_ceil(ext).saturating_mul(ext);
                }
                if b >= end {
                    continue;
                }
                let first = b.checked_div(ext).unwrap_or(0);
                let last = end.saturating_sub(1).checked_div(ext).unwrap_or(0);
                shared = shared.saturating_add(
                    u.set_range(first, last.saturating_sub(first).saturating_add(1)),
                );
            }
        }
        (shared, partial)
    }

    /// Notes the data fork of `ino` when it is the bitmap or summary inode.
    pub(crate) fn metadata(&mut self, fs: &Fs<'_>, ino: u64, map: &[Extent], size: u64) {
        if fs.sb.rblocks == 0 {
            return;
        }
        if ino == fs.sb.rbmino {
            self.bitmap = Some((map.to_vec(), size));
        } else if ino == fs.sb.rsumino {
            self.summary = Some((map.to_vec(), size));
        }
    }
}

/// The file block `fb` of a mapping as a byte offset in the data device.
fn block_byte(fs: &Fs<'_>, map: &[Extent], fb: u64) -> Option<u64> {
    let e = map
        .iter()
        .find(|e| e.off <= fb && fb < e.off.saturating_add(e.len))?;
    let (agno, agbno) = fs.fsb_split(e.start.saturating_add(fb.saturating_sub(e.off)))?;
    Some(fs.agb_byte(agno, agbno))
}

/// Compares what the inode walk counted with the bitmap, the summary and
/// `sb_frextents`.
pub(crate) fn check(fs: &mut Fs<'_>, t: &RtTrack) {
    if fs.sb.rblocks == 0 {
        return;
    }
    let bs = fs.bs;
    let rbmblocks = u64::from(fs.sb.rbmblocks);
    let bitmap_at = fs.ino_byte(fs.sb.rbmino).unwrap_or(0x40);
    let summary_at = fs.ino_byte(fs.sb.rsumino).unwrap_or(0x48);
    let want_bm = rbmblocks.saturating_mul(bs);
    // repair's m_rsumsize: one 32-bit count per (log2 length, bitmap
    // block), rounded up to whole blocks
    let sum_words = (u64::from(fs.sb.rextslog).saturating_add(1)).saturating_mul(rbmblocks);
    let want_sum = sum_words.saturating_mul(4).div_ceil(bs).saturating_mul(bs);
    for (name, got, want, at) in [
        ("bitmap", t.bitmap.as_ref().map(|b| b.1), want_bm, bitmap_at),
        (
            "summary",
            t.summary.as_ref().map(|s| s.1),
            want_sum,
            summary_at,
        ),
    ] {
        if let Some(got) = got
            && got != want
        {
            fs.error(
                "xfs.rt.inode_size",
                at.saturating_add(0x38),
                format!("the realtime {name} inode is {got} bytes, the geometry makes it {want} (xfs_repair would clear it)"),
            );
        }
    }
    let Some(used) = t.used.as_ref() else {
        fs.incomplete.get_or_insert_with(|| {
            "the realtime section is too large to track: its bitmap was not checked".into()
        });
        return;
    };
    let rextents = fs.sb.rextents;
    let free = rextents.saturating_sub(used.count());
    if fs.sb.frextents != free && !fs.log_dirty {
        fs.note(
            Severity::Warning,
            "xfs.sb.frextents",
            0x98,
            format!(
                "sb_frextents is {}, counted {free} free realtime extents",
                fs.sb.frextents
            ),
        );
    }
    // The bitmap, block by block, against the extents the files map.
    let per_block = bs.saturating_mul(8);
    if let Some((map, _)) = t.bitmap.as_ref() {
        for fb in 0..rbmblocks {
            if fs.budget_hit {
                return;
            }
            let Some(at) = block_byte(fs, map, fb) else {
                fs.error(
                    "xfs.rt.bitmap",
                    bitmap_at,
                    format!("realtime bitmap block {fb} is not mapped"),
                );
                continue;
            };
            let Some(b) = fs.read(at, bs, "realtime bitmap block") else {
                continue;
            };
            let first = fb.saturating_mul(per_block);
            let n = per_block.min(rextents.saturating_sub(first));
            let bad = (0..n).find(|&i| {
                let word = le32(&b, Fs::u(i / 32).saturating_mul(4));
                let bit_free = (word >> (i % 32)) & 1 != 0;
                bit_free == used.get(first.saturating_add(i))
            });
            if let Some(i) = bad {
                fs.error(
                    "xfs.rt.bitmap",
                    at.saturating_add((i / 32).saturating_mul(4)),
                    format!(
                        "realtime bitmap block {fb}: extent {} is marked {} but {} (xfs_repair: discrepancy in rtbitmap)",
                        first.saturating_add(i),
                        if used.get(first.saturating_add(i)) { "free" } else { "in use" },
                        if used.get(first.saturating_add(i)) { "a file maps it" } else { "no file maps it" },
                    ),
                );
            }
        }
    }
    // The summary: free runs counted by (log2 length, bitmap block of start).
    let Some((map, _)) = t.summary.as_ref() else {
        return;
    };
    if sum_words > crate::fs::MAX_READ {
        return;
    }
    let mut want = vec![0u32; Fs::u(sum_words)];
    let mut i = 0u64;
    while i < rextents {
        if used.get(i) {
            i = i.saturating_add(1);
            continue;
        }
        let start = i;
        while i < rextents && !used.get(i) {
            i = i.saturating_add(1);
        }
        let len = i.saturating_sub(start);
        let log = u64::from(63u32.saturating_sub(len.leading_zeros()));
        let idx = log
            .saturating_mul(rbmblocks)
            .saturating_add(start.checked_div(per_block).unwrap_or(0));
        if let Some(w) = want.get_mut(Fs::u(idx)) {
            *w = w.saturating_add(1);
        }
    }
    let words_per_block = (bs / 4).max(1);
    for fb in 0..sum_words.div_ceil(words_per_block) {
        let Some(at) = block_byte(fs, map, fb) else {
            fs.error(
                "xfs.rt.summary",
                summary_at,
                format!("realtime summary block {fb} is not mapped"),
            );
            continue;
        };
        let Some(b) = fs.read(at, bs, "realtime summary block") else {
            continue;
        };
        let first = fb.saturating_mul(words_per_block);
        let n = words_per_block.min(sum_words.saturating_sub(first));
        let bad = (0..n).find(|&k| {
            let have = le32(&b, Fs::u(k).saturating_mul(4));
            Some(&have) != want.get(Fs::u(first.saturating_add(k)))
        });
        if let Some(k) = bad {
            let idx = first.saturating_add(k);
            fs.error(
                "xfs.rt.summary",
                at.saturating_add(k.saturating_mul(4)),
                format!(
                    "realtime summary block {fb}: the count of free runs of 2^{} extents starting in bitmap block {} is {}, counted {} (xfs_repair: discrepancy in rtsummary)",
                    idx.checked_div(rbmblocks).unwrap_or(0),
                    idx.checked_rem(rbmblocks).unwrap_or(0),
                    le32(&b, Fs::u(k).saturating_mul(4)),
                    want.get(Fs::u(idx)).copied().unwrap_or(0)
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::inode::Extent;

    #[test]
    fn block_byte_maps_inside_extents_only() {
        let map = [Extent {
            off: 2,
            start: 10,
            len: 3,
            unwritten: false,
        }];
        let r = imgcheck_core::BytesReader::new(vec![0u8; 4096]);
        let mut sb = crate::sb::Superblock::parse(&[0u8; 512]);
        sb.blocksize = 4096;
        sb.agblocks = 1000;
        sb.agblklog = 10;
        sb.agcount = 1;
        sb.dblocks = 1000;
        let fs = Fs::new(&r, sb);
        assert_eq!(block_byte(&fs, &map, 1), None);
        assert_eq!(block_byte(&fs, &map, 2), Some(10 * 4096));
        assert_eq!(block_byte(&fs, &map, 4), Some(12 * 4096));
        assert_eq!(block_byte(&fs, &map, 5), None);
    }
}

//! `--deep`: what e2fsck's passes 1–5 check — every in-use inode, extent
//! trees and block maps, blocks claimed twice, directories, connectivity,
//! link counts, and bitmaps recomputed against those on disk.
//!
//! Memory: one bit per block (used, plus claimed-twice) and per inode, two
//! bytes of link count and one of type per inode, a list of directory
//! blocks, and maps over directories only. Larger filesystems than
//! [`MAX_DEEP_INODES`] inodes are refused with a finding.

use crate::bits::Bits;
use crate::blockmap::MapEvent;
use crate::check::clusters_in_group;
use crate::fs::Ext4;
use crate::gdt::bg_flags;
use crate::inode::{EA_INODE_FL, EXTENTS_FL, HUGE_FILE_FL, INDEX_FL, INLINE_DATA_FL, Inode};
use crate::superblock::{compat, incompat, ro_compat};
use crate::util::{bytes, crc32c_raw, le16, le32, u8_at, u64_of, us, zero};
use imgcheck_core::{Finding, Hint, Layer, Space};
use std::collections::HashMap;

/// Deep checks are refused above this many inodes (3 bytes each).
pub const MAX_DEEP_INODES: u32 = 1 << 28;
/// Deep checks are refused above this many blocks (2^31: 8 TiB at 4 KiB,
/// two 256 MiB bitmaps).
pub const MAX_DEEP_BLOCKS: u64 = 1 << 31;
/// Directory blocks remembered for pass 2 at most.
const MAX_DIR_BLOCKS: usize = 1 << 25;
/// Findings of one code reported individually before summarising.
const MAX_PER_CODE: u32 = 20;
/// Bytes of inode table read at once.
const ITABLE_CHUNK: u64 = 1 << 20;
/// `i_flags` EXT4_VERITY_FL: the Merkle tree lives past EOF.
const VERITY_FL: u32 = 0x10_0000;
/// Largest file the kernel maps with extents, in blocks (2^32).
const MAX_LBLK: u64 = 1 << 32;

// Per-inode type codes kept in `kind`.
const K_NONE: u8 = 0;
const K_REG: u8 = 1;
const K_DIR: u8 = 2;
const K_CHR: u8 = 3;
const K_BLK: u8 = 4;
const K_FIFO: u8 = 5;
const K_SOCK: u8 = 6;
const K_LNK: u8 = 7;
const K_BAD: u8 = 8;

fn kind_of(mode: u16) -> u8 {
    match mode & 0xF000 {
        0x8000 => K_REG,
        0x4000 => K_DIR,
        0x2000 => K_CHR,
        0x6000 => K_BLK,
        0x1000 => K_FIFO,
        0xC000 => K_SOCK,
        0xA000 => K_LNK,
        _ => K_BAD,
    }
}

/// dirent file_type for a kind.
fn ftype_of(kind: u8) -> u8 {
    match kind {
        K_REG => 1,
        K_DIR => 2,
        K_CHR => 3,
        K_BLK => 4,
        K_FIFO => 5,
        K_SOCK => 6,
        K_LNK => 7,
        _ => 0,
    }
}

/// Validates an xattr area: entries from `estart`, values at offsets from
/// `vbase`, everything inside `r`, value ranges not overlapping each other
/// nor the entry table. Returns what is wrong.
fn xattr_region_problem(r: &[u8], estart: usize, vbase: usize) -> Option<String> {
    let mut pos = estart;
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    let mut n = 0u32;
    loop {
        if pos.saturating_add(4) > r.len() {
            return Some("entry table runs past the end".to_string());
        }
        if le32(r, pos) == 0 {
            break;
        }
        if pos.saturating_add(16) > r.len() {
            return Some("entry table runs past the end".to_string());
        }
        let name_len = usize::from(u8_at(r, pos));
        let offs = usize::from(le16(r, pos.saturating_add(2)));
        let inum = le32(r, pos.saturating_add(4));
        let size = us(u64::from(le32(r, pos.saturating_add(8))));
        let esize = (16usize.saturating_add(name_len).saturating_add(3)) & !3;
        if pos.saturating_add(esize) > r.len() {
            return Some(format!("entry {n} name runs past the end"));
        }
        if inum == 0 && size > 0 {
            let vstart = vbase.saturating_add(offs);
            let vend = vstart.saturating_add(size.saturating_add(3) & !3);
            if vend > r.len() || size > r.len() {
                return Some(format!(
                    "entry {n} value ({size} bytes at {offs}) runs past the end"
                ));
            }
            ranges.push((vstart, vend));
        }
        pos = pos.saturating_add(esize);
        n = n.saturating_add(1);
        if n > 4096 {
            return Some("too many entries".to_string());
        }
    }
    let table_end = pos.saturating_add(4);
    ranges.sort_unstable();
    let mut prev_end = table_end;
    for (a, b) in ranges {
        if a < prev_end {
            return Some(
                "allocation collision: values overlap each other or the entry table".to_string(),
            );
        }
        prev_end = b;
    }
    None
}

/// The value of xattr (`index`, `name`) in an area laid out as
/// `xattr_region_problem` describes, if present and in bounds.
fn find_xattr(r: &[u8], estart: usize, vbase: usize, index: u8, name: &[u8]) -> Option<Vec<u8>> {
    let mut pos = estart;
    for _ in 0..4096 {
        if pos.saturating_add(16) > r.len() || le32(r, pos) == 0 {
            return None;
        }
        let name_len = usize::from(u8_at(r, pos));
        let offs = usize::from(le16(r, pos.saturating_add(2)));
        let size = us(u64::from(le32(r, pos.saturating_add(8))));
        if u8_at(r, pos.saturating_add(1)) == index
            && bytes(r, pos.saturating_add(16), name_len) == name
        {
            let v = vbase.saturating_add(offs);
            return r.get(v..v.saturating_add(size)).map(<[u8]>::to_vec);
        }
        pos = pos.saturating_add((16usize.saturating_add(name_len).saturating_add(3)) & !3);
    }
    None
}

/// A name shown as `{:?}` of its lossy UTF-8 text, converted only when a
/// finding is actually formatted (not for every entry).
struct Lossy<'a>(&'a [u8]);

impl std::fmt::Debug for Lossy<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&String::from_utf8_lossy(self.0), f)
    }
}

/// Distinct names a block's duplicate check remembers.
const MAX_NAMES_COMPARED: usize = 4096;

/// Byte positions, in `b[start..end]`, of the live entries whose name an
/// earlier live entry of the same block already has, while fewer than
/// [`MAX_NAMES_COMPARED`] distinct names came before. The walk stops where
/// [`Deep::entries`] stops (a malformed entry). Sorting the names instead
/// of hashing them keeps a crafted block at n·log n.
fn duplicate_positions(b: &[u8], start: usize, end: usize, dots: bool) -> Vec<usize> {
    let mut names: Vec<(&[u8], usize)> = Vec::new();
    let mut pos = start;
    let mut idx = 0u32;
    while pos < end {
        let ino = le32(b, pos);
        let rec_len_raw = le16(b, pos.saturating_add(4));
        let rec_len = if rec_len_raw == 0 && end == 65536 {
            65536usize
        } else {
            usize::from(rec_len_raw)
        };
        let name_len = usize::from(u8_at(b, pos.saturating_add(6)));
        if rec_len < 8
            || rec_len % 4 != 0
            || pos.saturating_add(rec_len) > end
            || name_len.saturating_add(8) > rec_len
        {
            break;
        }
        if !(dots && idx < 2) && ino != 0 && name_len > 0 {
            names.push((bytes(b, pos.saturating_add(8), name_len), pos));
        }
        idx = idx.saturating_add(1);
        pos = pos.saturating_add(rec_len);
    }
    if names.len() < 2 {
        return Vec::new();
    }
    // Stable: equal names stay in block order, so the first of each run
    // is the one that introduced the name.
    names.sort_by(|a, b| a.0.cmp(b.0));
    let mut firsts: Vec<usize> = Vec::new();
    let mut later: Vec<usize> = Vec::new();
    let mut prev: Option<&[u8]> = None;
    for &(name, p) in &names {
        if prev == Some(name) {
            later.push(p);
        } else {
            firsts.push(p);
            prev = Some(name);
        }
    }
    if later.is_empty() {
        return later;
    }
    firsts.sort_unstable();
    later.retain(|p| firsts.partition_point(|f| f < p) < MAX_NAMES_COMPARED);
    later.sort_unstable();
    later
}

struct Deep<'a, 'r> {
    fs: &'a Ext4<'r>,
    out: Vec<Finding>,
    per_code: HashMap<&'static str, u32>,
    /// Blocks in use as computed (metadata and every file's blocks).
    used: Bits,
    /// Fixed metadata (superblocks, GDT, bitmaps, inode tables).
    meta: Bits,
    /// Blocks claimed more than once.
    dup: Bits,
    dup_count: u64,
    dup_inodes: Vec<u32>,
    /// EA blocks seen (shared by design, not duplicates).
    ea_seen: Bits,
    inode_used: Bits,
    kind: Vec<u8>,
    links_disk: Vec<u16>,
    refs: Vec<u16>,
    /// (dir inode, logical block, physical block)
    dir_blocks: Vec<(u32, u64, u64)>,
    dir_blocks_dropped: bool,
    /// directory → the directory whose entry names it (first seen)
    found_in: HashMap<u32, u32>,
    /// directory → its '..'
    dotdot: HashMap<u32, u32>,
    /// directories with INDEX_FL → (logical blocks that are dx nodes)
    dx_nodes: HashMap<u32, Vec<u64>>,
    special: Vec<u32>,
    dx_leaf_refs: Vec<u64>,
    /// htree directory → hash version in effect (unsigned variants folded in).
    dx_hash: HashMap<u32, u8>,
    /// (directory, leaf logical block) → (node min hash, node max hash, first in its node)
    dx_ranges: HashMap<(u32, u64), (u32, u32, bool)>,
    inline_dirs: Vec<u32>,
    encrypted: Bits,
    /// Usage counted per quota type (user, group, project): id → (bytes, inodes).
    quota: Option<Vec<HashMap<u32, (u64, u64)>>>,
    lost_found: Option<u32>,
    /// Reused by `walk`.
    scratch_runs: Vec<Run>,
    /// Reused by `walk`.
    scratch_dir_lblks: Vec<(u64, u64)>,
}

/// A mapped run: logical block, physical block, length, uninit, mapping block.
type Run = (u64, u64, u64, bool, bool);

/// Entries a scratch vector keeps between inodes.
const SCRATCH_KEEP: usize = 1 << 12;

/// Runs passes 1–5.
pub(crate) fn run(fs: &Ext4<'_>) -> Vec<Finding> {
    let sb = &fs.sb;
    if sb.s_inodes_count > MAX_DEEP_INODES {
        return vec![Finding::info(
            "ext4.deep.skipped",
            Layer::EXT4,
            1024,
            Space::Disk,
            format!(
                "deep check skipped: {} inodes exceed the {MAX_DEEP_INODES}-inode bound",
                sb.s_inodes_count
            ),
        )];
    }
    if u64_of(fs.gds.len()) != fs.groups {
        return vec![Finding::info(
            "ext4.deep.skipped",
            Layer::EXT4,
            1024,
            Space::Disk,
            "deep check skipped: not every group descriptor could be read".to_string(),
        )];
    }
    if u64::from(sb.s_inodes_count).saturating_mul(u64::from(sb.inode_size()))
        > fs.r.len().saturating_mul(2)
    {
        return vec![Finding::info(
            "ext4.deep.skipped",
            Layer::EXT4,
            1024,
            Space::Disk,
            format!(
                "deep check skipped: {} inodes of {} bytes cannot fit in the {}-byte image",
                sb.s_inodes_count,
                sb.inode_size(),
                fs.r.len()
            ),
        )];
    }
    let nb = fs.tracked_blocks();
    if nb >= MAX_DEEP_BLOCKS {
        return vec![Finding::info(
            "ext4.deep.skipped",
            Layer::EXT4,
            1024,
            Space::Disk,
            format!("deep check skipped: {nb} blocks exceed the {MAX_DEEP_BLOCKS}-block bound"),
        )];
    }
    let n = us(u64::from(sb.s_inodes_count).saturating_add(1));
    let mut d = Deep {
        fs,
        out: Vec::new(),
        per_code: HashMap::new(),
        used: Bits::new(nb),
        meta: Bits::new(nb),
        dup: Bits::new(0),
        dup_count: 0,
        dup_inodes: Vec::new(),
        ea_seen: Bits::new(0),
        inode_used: Bits::new(u64_of(n)),
        kind: vec![K_NONE; n],
        links_disk: vec![0; n],
        refs: vec![0; n],
        dir_blocks: Vec::new(),
        dir_blocks_dropped: false,
        found_in: HashMap::new(),
        dotdot: HashMap::new(),
        dx_nodes: HashMap::new(),
        special: [
            sb.s_journal_inum,
            sb.s_usr_quota_inum,
            sb.s_grp_quota_inum,
            sb.s_prj_quota_inum,
            sb.s_orphan_file_inum,
        ]
        .into_iter()
        .filter(|&i| i != 0)
        .collect(),
        lost_found: None,
        scratch_runs: Vec::new(),
        scratch_dir_lblks: Vec::new(),
        dx_leaf_refs: Vec::new(),
        dx_hash: HashMap::new(),
        dx_ranges: HashMap::new(),
        inline_dirs: Vec::new(),
        encrypted: Bits::new(u64_of(n)),
        quota: (sb.has_ro_compat(ro_compat::QUOTA) && !sb.has_ro_compat(ro_compat::BIGALLOC))
            .then(|| vec![HashMap::new(), HashMap::new(), HashMap::new()]),
    };
    d.mark_metadata();
    d.pass1();
    d.quota_check();
    d.pass2();
    d.pass3();
    d.pass4();
    d.pass5();
    d.finish()
}

impl Deep<'_, '_> {
    fn push(&mut self, sev: imgcheck_core::Severity, code: &'static str, off: u64, msg: String) {
        let n = self.per_code.entry(code).or_insert(0);
        *n = n.saturating_add(1);
        if *n <= MAX_PER_CODE {
            self.out.push(
                Finding::new(sev, code, Layer::EXT4, off, Space::Disk, msg)
                    .with_hint(Hint::read_only(crate::E2FSCK_FN)),
            );
        }
    }
    fn error(&mut self, code: &'static str, off: u64, msg: String) {
        // Summary counts and bitmaps lag behind while the journal holds
        // unreplayed transactions: then a mismatch is a risk, not damage.
        const REPLAYABLE: [&str; 5] = [
            "ext4.group.free_blocks_count",
            "ext4.group.free_inodes_count",
            "ext4.group.used_dirs_count",
            "ext4.bitmap.block_differences",
            "ext4.bitmap.inode_differences",
        ];
        if self.fs.sb.has_incompat(incompat::RECOVER) && REPLAYABLE.contains(&code) {
            self.push(
                imgcheck_core::Severity::Warning,
                code,
                off,
                format!("{msg} (the journal needs recovery, which may account for this)"),
            );
            return;
        }
        self.push(imgcheck_core::Severity::Error, code, off, msg);
    }
    fn warning(&mut self, code: &'static str, off: u64, msg: String) {
        self.push(imgcheck_core::Severity::Warning, code, off, msg);
    }

    fn finish(mut self) -> Vec<Finding> {
        let mut extra = Vec::new();
        for (code, n) in &self.per_code {
            if *n > MAX_PER_CODE {
                extra.push(Finding::info(
                    *code,
                    Layer::EXT4,
                    0,
                    Space::Disk,
                    format!(
                        "{} more findings of this kind not listed",
                        n.saturating_sub(MAX_PER_CODE)
                    ),
                ));
            }
        }
        extra.sort_by(|a, b| a.code.cmp(&b.code));
        self.out.extend(extra);
        self.out
    }

    fn mark_metadata(&mut self) {
        let fs = self.fs;
        let itb = fs.itable_blocks();
        let nb = fs.tracked_blocks();
        for g in 0..fs.groups {
            let (first, n) = fs.group_super_gdt(g);
            for b in first..first.saturating_add(n).min(nb) {
                self.meta.set(b);
                self.used.set(b);
            }
        }
        for gd in &fs.gds {
            for (blk, len) in [
                (gd.bg_block_bitmap, 1u64),
                (gd.bg_inode_bitmap, 1),
                (gd.bg_inode_table, itb),
            ] {
                if blk == 0 || blk >= nb {
                    continue;
                }
                for b in blk..blk.saturating_add(len).min(nb) {
                    self.meta.set(b);
                    self.used.set(b);
                }
            }
        }
        if fs.sb.has_incompat(incompat::MMP) && fs.sb.s_mmp_block < nb {
            self.meta.set(fs.sb.s_mmp_block);
            self.used.set(fs.sb.s_mmp_block);
        }
        // 1 KiB-block filesystems keep block 0 (boot block) outside group 0.
    }

    /// Claims `len` blocks at `pblk` for inode `ino`.
    fn claim(&mut self, ino: u32, pblk: u64, len: u64, off: u64) {
        let nb = self.used.len();
        let mut meta_hit = None;
        let mut dup_hit = 0u64;
        for b in pblk..pblk.saturating_add(len).min(nb) {
            if self.meta.get(b) {
                meta_hit.get_or_insert(b);
            } else if self.used.set(b) {
                if self.dup.len() == 0 {
                    self.dup = Bits::new(nb);
                }
                self.dup.set(b);
                dup_hit = dup_hit.saturating_add(1);
            }
        }
        if let Some(b) = meta_hit {
            self.error("ext4.block.claims_metadata", off, format!("inode {ino} claims block {b}, which holds filesystem metadata (superblock, group descriptors, bitmap or inode table)"));
        }
        if dup_hit > 0 {
            self.dup_count = self.dup_count.saturating_add(dup_hit);
            if self.dup_inodes.len() < 64 && !self.dup_inodes.contains(&ino) {
                self.dup_inodes.push(ino);
            }
        }
    }

    fn pass1(&mut self) {
        let fs = self.fs;
        let sb = &fs.sb;
        let ipg = u64::from(sb.s_inodes_per_group);
        let isz = u64::from(sb.inode_size());
        let csum = sb.has_group_desc_csum();
        let mut chunk: Vec<u8> = Vec::new();
        let mut raw: Vec<u8> = Vec::with_capacity(us(isz));
        for g in 0..fs.groups {
            let Some(gd) = fs.gds.get(us(g)).cloned() else {
                break;
            };
            if csum && gd.bg_flags & bg_flags::INODE_UNINIT != 0 {
                continue;
            }
            let mut count = ipg;
            if csum {
                count = ipg.saturating_sub(u64::from(gd.bg_itable_unused));
            }
            let Some(base) = fs.block_offset(gd.bg_inode_table) else {
                continue;
            };
            if gd.bg_inode_table == 0 || gd.bg_inode_table >= sb.s_blocks_count {
                continue;
            }
            let mut i = 0u64;
            while i < count {
                let n = ITABLE_CHUNK
                    .checked_div(isz)
                    .unwrap_or(1)
                    .max(1)
                    .min(count.saturating_sub(i));
                let off = base.saturating_add(i.saturating_mul(isz));
                // One buffer for every chunk and one for every inode: a fresh
                // zeroed megabyte per chunk (and a Vec per inode) cost more
                // than the checks themselves.
                let len = us(n.saturating_mul(isz));
                if chunk.len() < len {
                    chunk.resize(len, 0);
                }
                let Some(buf) = chunk.get_mut(..len) else {
                    break;
                };
                if fs.r.read_exact_at(off, buf).is_err() {
                    break;
                }
                for k in 0..n {
                    let slot = i.saturating_add(k);
                    let ino64 = g.saturating_mul(ipg).saturating_add(slot).saturating_add(1);
                    let Ok(ino) = u32::try_from(ino64) else { break };
                    let start = us(k.saturating_mul(isz));
                    raw.clear();
                    raw.extend_from_slice(
                        chunk
                            .get(start..start.saturating_add(us(isz)))
                            .unwrap_or(&[]),
                    );
                    let inode = Inode::parse(
                        ino,
                        off.saturating_add(k.saturating_mul(isz)),
                        std::mem::take(&mut raw),
                    );
                    self.inode(&inode);
                    raw = inode.raw;
                }
                i = i.saturating_add(n);
            }
        }
    }

    fn inode(&mut self, ino: &Inode) {
        let fs = self.fs;
        let sb = &fs.sb;
        let n = ino.ino;
        let off = ino.offset;
        let reserved = n < sb.first_ino();
        let all_zero = ino.raw.iter().all(|&b| b == 0);
        if all_zero {
            return;
        }
        let csum_ok = fs.inode_csum_ok(ino) != Some(false);
        if n == 1 && ino.i_block.iter().any(|&b| b != 0) {
            // The bad-blocks inode is never "in use" but its list matters.
            let _ = self.walk(ino, false);
            return;
        }
        if ino.i_links_count == 0 && !(reserved && ino.i_mode != 0 && n != 2) {
            if !csum_ok {
                self.error(
                    "ext4.inode.checksum",
                    off,
                    format!("inode {n} (unused) checksum does not match"),
                );
            }
            if ino.i_dtime == 0
                && ino.i_mode != 0
                && !reserved
                && sb.s_last_orphan == 0
                && !sb.has_compat(compat::ORPHAN_FILE)
                && (ino.i_blocks != 0 || ino.i_block.iter().any(|&b| b != 0))
            {
                self.error(
                    "ext4.inode.zero_dtime",
                    off,
                    format!("deleted inode {n} (no links) has no deletion time"),
                );
            }
            return;
        }
        if !csum_ok {
            self.error(
                "ext4.inode.checksum",
                off,
                format!("inode {n} checksum does not match"),
            );
        }
        self.inode_used.set(u64::from(n));
        if let Some(l) = self.links_disk.get_mut(us(u64::from(n))) {
            *l = ino.i_links_count;
        }
        let kind = kind_of(ino.i_mode);
        if let Some(k) = self.kind.get_mut(us(u64::from(n))) {
            *k = kind;
        }
        if reserved && n != 2 {
            // Reserved inodes: account their blocks, check little else.
            if n == 7 {
                let dind = u64::from(le32(&ino.i_block, 52));
                if dind != 0 && dind < sb.s_blocks_count {
                    self.used.set(dind);
                }
                return;
            }
            if n == 1 {
                // bad blocks inode: its blocks are marked used
                let _ = self.walk(ino, false);
                return;
            }
            if ino.i_mode != 0 || ino.i_block.iter().any(|&b| b != 0) {
                let _ = self.walk(ino, false);
            }
            return;
        }
        if ino.i_dtime != 0 && sb.s_last_orphan == 0 && !sb.has_compat(compat::ORPHAN_FILE) {
            self.error(
                "ext4.inode.dtime_set",
                off,
                format!(
                    "in-use inode {n} (links {}) has a deletion time {}",
                    ino.i_links_count, ino.i_dtime
                ),
            );
        }
        if kind == K_BAD {
            self.error(
                "ext4.inode.bad_mode",
                off,
                format!(
                    "inode {n} has an invalid file type in mode {:#o}",
                    ino.i_mode
                ),
            );
            return;
        }
        let f = ino.i_flags;
        if f & EXTENTS_FL != 0 && !sb.has_incompat(incompat::EXTENTS) {
            self.error(
                "ext4.inode.extents_without_feature",
                off,
                format!(
                    "inode {n} has the extents flag but the filesystem lacks the extent feature"
                ),
            );
        }
        if f & INLINE_DATA_FL != 0 && !sb.has_incompat(incompat::INLINE_DATA) {
            self.error(
                "ext4.inode.inline_without_feature",
                off,
                format!("inode {n} has the inline-data flag but the filesystem lacks inline_data"),
            );
        }
        if f & INLINE_DATA_FL != 0 && f & EXTENTS_FL != 0 {
            self.error(
                "ext4.inode.inline_and_extents",
                off,
                format!("inode {n} has both the inline-data and extents flags"),
            );
            return;
        }
        if f & INDEX_FL != 0 && (kind != K_DIR || !sb.has_compat(compat::DIR_INDEX)) {
            self.error(
                "ext4.inode.bad_index_flag",
                off,
                format!(
                    "inode {n} has the htree index flag but is {}",
                    if kind == K_DIR {
                        "on a filesystem without dir_index"
                    } else {
                        "not a directory"
                    }
                ),
            );
        }
        if f & HUGE_FILE_FL != 0 && !sb.has_ro_compat(ro_compat::HUGE_FILE) {
            self.error(
                "ext4.inode.huge_file_without_feature",
                off,
                format!("inode {n} has the huge_file flag but the filesystem lacks huge_file"),
            );
        }
        if f & 0x800 != 0 && !sb.has_incompat(incompat::ENCRYPT) {
            self.error(
                "ext4.inode.encrypt_without_feature",
                off,
                format!("inode {n} is marked encrypted but the filesystem lacks encrypt"),
            );
        }
        if f & 0x4000_0000 != 0 && (kind != K_DIR || !sb.has_incompat(incompat::CASEFOLD)) {
            self.error("ext4.inode.bad_casefold_flag", off, format!("inode {n} has the casefold flag but is not a directory on a casefold filesystem"));
        }
        if f & 0x2000 != 0 && !sb.has_compat(0x2) {
            // EXT2_IMAGIC_FL without imagic_inodes
            self.error(
                "ext4.inode.imagic_without_feature",
                off,
                format!("inode {n} has the imagic flag but the filesystem lacks imagic_inodes"),
            );
        }
        if matches!(kind, K_CHR | K_BLK | K_FIFO | K_SOCK) {
            if f & (INDEX_FL | EXTENTS_FL | INLINE_DATA_FL) != 0
                || (4..15).any(|i: usize| le32(&ino.i_block, i.saturating_mul(4)) != 0)
            {
                self.error("ext4.inode.bad_device", off, format!("special file inode {n} has flags {f:#x} or block pointers a device/fifo/socket cannot have"));
            }
            self.ea_block(ino);
            let ea = u64::from(ino.i_file_acl != 0 && ino.i_file_acl < sb.s_blocks_count);
            self.quota_add(ino, ea);
            return;
        }
        if kind == K_LNK {
            self.symlink(ino);
        }
        if kind == K_DIR && ino.i_size == 0 && f & INLINE_DATA_FL == 0 {
            self.error(
                "ext4.dir.zero_size",
                off,
                format!("directory inode {n} has size 0"),
            );
        }
        self.ea_block(ino);
        self.inode_xattrs(ino);
        if f & 0x800 != 0 {
            self.encrypted.set(u64::from(n));
            self.encryption_context(ino);
        }
        if kind == K_DIR && f & INLINE_DATA_FL != 0 && self.inline_dirs.len() < (1 << 24) {
            self.inline_dirs.push(n);
        }
        let nblocks = self.walk(ino, kind == K_DIR);
        self.quota_add(ino, nblocks);
    }

    /// Charges inode `ino` and `nblocks` blocks to its user, group and
    /// project, as e2fsck's quota pass does.
    fn quota_add(&mut self, ino: &Inode, nblocks: u64) {
        if self.quota.is_none() || ino.i_flags & EA_INODE_FL != 0 || self.special.contains(&ino.ino)
        {
            return;
        }
        let raw = &ino.raw;
        let uid = u32::from(le16(raw, 0x2)) | (u32::from(le16(raw, 0x78)) << 16);
        let gid = u32::from(le16(raw, 0x18)) | (u32::from(le16(raw, 0x7A)) << 16);
        let prj = if raw.len() > 128 && le16(raw, 0x80) >= 32 {
            le32(raw, 0x9C)
        } else {
            0
        };
        let space = nblocks.saturating_mul(self.fs.bs);
        if let Some(q) = self.quota.as_mut() {
            for (t, id) in [(0usize, uid), (1, gid), (2, prj)] {
                if let Some(m) = q.get_mut(t)
                    && (m.len() < (1 << 20) || m.contains_key(&id))
                {
                    let e = m.entry(id).or_insert((0, 0));
                    e.0 = e.0.saturating_add(space);
                    e.1 = e.1.saturating_add(1);
                }
            }
        }
    }

    /// Compares the usage recorded in each quota file with what was counted.
    fn quota_check(&mut self) {
        let Some(counted) = self.quota.take() else {
            return;
        };
        let sb = &self.fs.sb;
        let files = [
            ("user", sb.s_usr_quota_inum),
            ("group", sb.s_grp_quota_inum),
            ("project", sb.s_prj_quota_inum),
        ];
        for (t, (name, qino)) in files.into_iter().enumerate() {
            if qino == 0 || qino > sb.s_inodes_count {
                continue;
            }
            let Some(qi) = self.fs.read_inode(qino) else {
                continue;
            };
            let Some(disk) = crate::quota::read_usage(self.fs, &qi) else {
                continue;
            };
            let empty = HashMap::new();
            let mine = counted.get(t).unwrap_or(&empty);
            let mut ids: Vec<u32> = disk.keys().chain(mine.keys()).copied().collect();
            ids.sort_unstable();
            ids.dedup();
            for id in ids {
                let d = disk.get(&id).copied().unwrap_or((0, 0));
                let c = mine.get(&id).copied().unwrap_or((0, 0));
                if d != c {
                    self.warning("ext4.quota.usage_mismatch", qi.offset, format!("{name} quota for id {id} records {} bytes in {} inodes, {} bytes in {} inodes were counted", d.0, d.1, c.0, c.1));
                }
            }
        }
    }

    /// In-inode extended attributes (after i_extra_isize).
    fn inode_xattrs(&mut self, ino: &Inode) {
        let isz = ino.raw.len();
        if isz <= 128 {
            return;
        }
        let extra = usize::from(le16(&ino.raw, 0x80));
        let start = 128usize.saturating_add(extra);
        if extra % 4 != 0 || start.saturating_add(4) > isz {
            if extra != 0 && (extra % 4 != 0 || start > isz) {
                self.error("ext4.inode.bad_extra_isize", ino.offset, format!("inode {} has i_extra_isize {extra}, expected a multiple of 4 within the {isz}-byte inode", ino.ino));
            }
            return;
        }
        if le32(&ino.raw, start) != 0xEA02_0000 {
            return;
        }
        let region = ino.raw.get(start.saturating_add(4)..).unwrap_or(&[]);
        if let Some(why) = xattr_region_problem(region, 0, 0) {
            self.error(
                "ext4.xattr.inode_corrupt",
                ino.offset,
                format!(
                    "inode {}: in-inode extended attributes are corrupt ({why})",
                    ino.ino
                ),
            );
        }
    }

    /// An encrypted inode carries its policy in xattr `c` (index 9):
    /// 28 bytes of version 1 or 40 of version 2.
    fn encryption_context(&mut self, ino: &Inode) {
        let n = ino.ino;
        let raw = &ino.raw;
        let start = 128usize.saturating_add(usize::from(le16(raw, 0x80)));
        let mut ctx = None;
        if raw.len() > 128 && le32(raw, start) == 0xEA02_0000 {
            let region = raw.get(start.saturating_add(4)..).unwrap_or(&[]);
            ctx = find_xattr(region, 0, 0, 9, b"c");
        }
        if ctx.is_none()
            && ino.i_file_acl != 0
            && let Some(b) = self.fs.read_block(ino.i_file_acl)
            && le32(&b, 0) == 0xEA02_0000
        {
            ctx = find_xattr(&b, 32, 0, 9, b"c");
        }
        match ctx {
            None => self.error(
                "ext4.encrypt.no_context",
                ino.offset,
                format!("inode {n} has the encrypt flag but no encryption context (xattr c)"),
            ),
            Some(v) => {
                let ok = matches!((v.first(), v.len()), (Some(1), 28) | (Some(2), 40));
                if !ok {
                    self.error("ext4.encrypt.bad_context", ino.offset, format!("encrypted inode {n} has a {}-byte encryption context of version {}, expected 28 bytes (v1) or 40 (v2)", v.len(), v.first().copied().unwrap_or(0)));
                }
            }
        }
    }

    fn symlink(&mut self, ino: &Inode) {
        let n = ino.ino;
        let bs = self.fs.bs;
        if ino.i_flags & INLINE_DATA_FL != 0 {
            return;
        }
        if ino.i_size == 0 || ino.i_size >= bs {
            self.error(
                "ext4.symlink.bad_size",
                ino.offset,
                format!(
                    "symlink inode {n} has size {}, expected 1..{bs}",
                    ino.i_size
                ),
            );
            return;
        }
        if ino.is_fast_symlink() {
            if ino.i_flags & EXTENTS_FL != 0 {
                self.error(
                    "ext4.symlink.fast_with_extents",
                    ino.offset,
                    format!("fast symlink inode {n} has the extents flag"),
                );
            }
            // An encrypted target is ciphertext and may hold NULs.
            let len = ino.i_block.iter().position(|&b| b == 0).unwrap_or(60);
            if ino.i_flags & 0x800 == 0 && u64_of(len) != ino.i_size {
                self.error(
                    "ext4.symlink.bad_length",
                    ino.offset,
                    format!(
                        "fast symlink inode {n} has size {} but its target is {len} bytes",
                        ino.i_size
                    ),
                );
            }
        }
        if !ino.is_fast_symlink() && ino.i_flags & 0x800 == 0 {
            let mut first = None;
            self.fs.map_file(
                ino,
                &mut |e| {
                    if let MapEvent::Data { lblk: 0, pblk, .. } = e {
                        first = Some(pblk);
                    }
                },
                None,
            );
            if let Some(b) = first.and_then(|p| self.fs.read_block(p)) {
                let len = b.iter().position(|&c| c == 0).unwrap_or(b.len());
                if u64_of(len) != ino.i_size {
                    self.error(
                        "ext4.symlink.bad_length",
                        ino.offset,
                        format!(
                            "symlink inode {n} has size {} but its target block holds {len} bytes",
                            ino.i_size
                        ),
                    );
                }
            }
        }
    }

    fn ea_block(&mut self, ino: &Inode) {
        let fs = self.fs;
        let sb = &fs.sb;
        let n = ino.ino;
        let blk = ino.i_file_acl;
        if blk == 0 {
            return;
        }
        if !sb.has_compat(compat::EXT_ATTR) {
            self.error("ext4.xattr.without_feature", ino.offset, format!("inode {n} has an extended-attribute block {blk} but the filesystem lacks ext_attr"));
            return;
        }
        if blk < u64::from(sb.s_first_data_block) || blk >= sb.s_blocks_count {
            self.error(
                "ext4.xattr.bad_block",
                ino.offset,
                format!("inode {n} has extended-attribute block {blk}, outside the filesystem"),
            );
            return;
        }
        if self.ea_seen.len() == 0 {
            self.ea_seen = Bits::new(self.used.len());
        }
        if self.ea_seen.set(blk) {
            return; // shared EA block, checked once
        }
        self.claim(n, blk, 1, ino.offset);
        let Some(b) = fs.read_block(blk) else { return };
        let boff = fs.block_offset(blk).unwrap_or(0);
        let magic = le32(&b, 0);
        if magic != 0xEA02_0000 || le32(&b, 8) != 1 {
            self.error("ext4.xattr.bad_header", boff, format!("extended-attribute block {blk} of inode {n} has magic {magic:#010x} / h_blocks {}, expected 0xea020000 / 1", le32(&b, 8)));
            return;
        }
        if let Some(why) = xattr_region_problem(&b, 32, 0) {
            self.error(
                "ext4.xattr.block_corrupt",
                boff,
                format!("extended-attribute block {blk} of inode {n} is corrupt ({why})"),
            );
        }
        if sb.metadata_csum() {
            let mut d = b.clone();
            zero(&mut d, 0x10, 4);
            let want = crc32c_raw(crc32c_raw(fs.seed, &blk.to_le_bytes()), &d);
            let got = le32(&b, 0x10);
            if want != got {
                self.error("ext4.xattr.checksum", boff, format!("extended-attribute block {blk} checksum is {got:#010x}, computed {want:#010x}"));
            }
        }
    }

    /// Walks an inode's blocks: claims them, checks i_blocks and i_size,
    /// remembers directory blocks.
    fn walk(&mut self, ino: &Inode, is_dir: bool) -> u64 {
        // Scratch vectors reused from inode to inode (an allocation per
        // inode showed in the profile); kept small between uses.
        let mut runs = std::mem::take(&mut self.scratch_runs);
        let mut dir_lblks = std::mem::take(&mut self.scratch_dir_lblks);
        runs.clear();
        dir_lblks.clear();
        let nblocks = self.walk_with(ino, is_dir, &mut runs, &mut dir_lblks);
        runs.clear();
        runs.shrink_to(SCRATCH_KEEP);
        dir_lblks.clear();
        dir_lblks.shrink_to(SCRATCH_KEEP);
        self.scratch_runs = runs;
        self.scratch_dir_lblks = dir_lblks;
        nblocks
    }

    fn walk_with(
        &mut self,
        ino: &Inode,
        is_dir: bool,
        runs: &mut Vec<Run>,
        dir_lblks: &mut Vec<(u64, u64)>,
    ) -> u64 {
        let fs = self.fs;
        let sb = &fs.sb;
        let n = ino.ino;
        let bs = fs.bs;
        let mut probs = Vec::new();
        let mut overflow = false;
        let owned = &self.used;
        fs.map_file_filtered(
            ino,
            &mut |e| {
                if runs.len() >= 1 << 20 {
                    overflow = true;
                    return false;
                }
                match e {
                    MapEvent::Data {
                        lblk,
                        pblk,
                        len,
                        uninit,
                    } => runs.push((lblk, pblk, len, uninit, false)),
                    MapEvent::Meta { pblk } => {
                        runs.push((0, pblk, 1, false, true));
                        // Claimed before: reported as a duplicate below; its
                        // subtree was walked (or refused) once already.
                        return !owned.get(pblk);
                    }
                }
                true
            },
            Some(&mut probs),
        );
        let had_probs = !probs.is_empty();
        for p in probs {
            let code = match p.code {
                std::borrow::Cow::Borrowed(c) => c,
                std::borrow::Cow::Owned(_) => "ext4.inode.block_map",
            };
            self.error(code, p.offset, p.message);
        }
        let mut nblocks = 0u64;
        let mut last_lblk: Option<u64> = None;
        let mut last_init: Option<u64> = None;
        for &(lblk, pblk, len, uninit, meta) in runs.iter() {
            self.claim(n, pblk, len, ino.offset);
            nblocks = nblocks.saturating_add(len);
            if meta {
                continue;
            }
            let end = lblk.saturating_add(len).saturating_sub(1);
            last_lblk = Some(last_lblk.map_or(end, |l: u64| l.max(end)));
            if !uninit {
                last_init = Some(last_init.map_or(end, |l: u64| l.max(end)));
            }
            if is_dir {
                if end >= MAX_LBLK / 4 || lblk >= (1 << 22) {
                    self.error("ext4.dir.huge_block", ino.offset, format!("directory inode {n} maps logical block {lblk}, beyond any sane directory size"));
                    continue;
                }
                for k in 0..len.min(1 << 16) {
                    dir_lblks.push((lblk.saturating_add(k), pblk.saturating_add(k)));
                }
            }
        }
        if overflow {
            return nblocks;
        }
        if ino.i_file_acl != 0 && ino.i_file_acl < sb.s_blocks_count {
            nblocks = nblocks.saturating_add(1);
        }
        // i_blocks: 512-byte units, or filesystem blocks with huge_file + HUGE_FILE_FL.
        let units = if sb.has_ro_compat(ro_compat::HUGE_FILE) && ino.i_flags & HUGE_FILE_FL != 0 {
            nblocks
        } else {
            nblocks.saturating_mul(bs / 512)
        };
        let disk_blocks = if sb.has_ro_compat(ro_compat::HUGE_FILE) {
            ino.i_blocks
        } else {
            ino.i_blocks & 0xFFFF_FFFF
        };
        let inline = ino.i_flags & INLINE_DATA_FL != 0;
        // EA inodes charge their blocks to the inode owning the xattr, so
        // more i_blocks than mapped is fine when the inode has xattrs;
        // bigalloc counts clusters (not modelled).
        let has_xattrs = ino.i_file_acl != 0
            || le32(
                &ino.raw,
                128usize.saturating_add(usize::from(le16(&ino.raw, 0x80))),
            ) == 0xEA02_0000;
        let tolerated =
            (disk_blocks > units && has_xattrs) || sb.has_ro_compat(ro_compat::BIGALLOC);
        if !had_probs
            && !inline
            && !tolerated
            && units != disk_blocks
            && (!ino.is_fast_symlink() || disk_blocks != 0)
        {
            self.error(
                "ext4.inode.bad_i_blocks",
                ino.offset,
                format!("inode {n} has i_blocks {disk_blocks}, its block map accounts for {units}"),
            );
        }
        if is_dir && !inline {
            if let Some(l) = last_lblk {
                let need = l.saturating_add(1).saturating_mul(bs);
                if !ino.i_size.is_multiple_of(bs) || ino.i_size < need {
                    self.error("ext4.dir.bad_size", ino.offset, format!("directory inode {n} has size {}, its blocks need {need} (a multiple of {bs})", ino.i_size));
                }
            }
            dir_lblks.sort_unstable();
            let mut expect = 0u64;
            for &(l, _) in dir_lblks.iter() {
                if l != expect {
                    self.error(
                        "ext4.dir.hole",
                        ino.offset,
                        format!("directory inode {n} has a hole at logical block {expect}"),
                    );
                    break;
                }
                expect = expect.saturating_add(1);
            }
            if ino.i_flags & INDEX_FL != 0 {
                self.dx_nodes.insert(n, Vec::new());
            }
            for &(l, p) in dir_lblks.iter() {
                if self.dir_blocks.len() >= MAX_DIR_BLOCKS {
                    self.dir_blocks_dropped = true;
                    break;
                }
                self.dir_blocks.push((n, l, p));
            }
        } else if ino.is_reg()
            && !inline
            && !had_probs
            && ino.ino >= sb.first_ino()
            && ino.i_flags & VERITY_FL == 0
            && let Some(l) = last_init
        {
            let size_blocks = ino.i_size.div_ceil(bs);
            if l >= size_blocks && ino.i_size < MAX_LBLK.saturating_mul(bs) {
                self.error("ext4.inode.blocks_past_eof", ino.offset, format!("inode {n} has data at logical block {l}, past its size {} ({size_blocks} blocks)", ino.i_size));
            }
        }
        nblocks
    }

    fn pass2(&mut self) {
        let blocks = std::mem::take(&mut self.dir_blocks);
        // htree roots first, so interior node blocks are known.
        for &(dir, l, p) in &blocks {
            if l == 0 && self.dx_nodes.contains_key(&dir) {
                self.dx_root(dir, p);
            }
        }
        let mut cached: Option<(u32, Inode)> = None;
        for &(dir, l, p) in &blocks {
            let ino = match &cached {
                Some((d, i)) if *d == dir => i.clone(),
                _ => {
                    let Some(i) = self.fs.read_inode(dir) else {
                        continue;
                    };
                    cached = Some((dir, i.clone()));
                    i
                }
            };
            self.dir_block(&ino, l, p);
        }
        for dir in std::mem::take(&mut self.inline_dirs) {
            if let Some(i) = self.fs.read_inode(dir) {
                self.inline_dir(&i);
            }
        }
        if self.dir_blocks_dropped {
            self.out.push(Finding::info(
                "ext4.deep.dir_blocks_limit",
                Layer::EXT4,
                0,
                Space::Disk,
                format!("more than {MAX_DIR_BLOCKS} directory blocks: the rest were not checked"),
            ));
        }
    }

    fn dx_root(&mut self, dir: u32, p: u64) {
        let fs = self.fs;
        let Some(b) = fs.read_block(p) else { return };
        let off = fs.block_offset(p).unwrap_or(0);
        let reserved = le32(&b, 0x18);
        let hash = u8_at(&b, 0x1C);
        let info_len = u8_at(&b, 0x1D);
        let levels = u8_at(&b, 0x1E);
        let max_levels = if fs.sb.has_incompat(incompat::LARGEDIR) {
            3
        } else {
            2
        };
        if le32(&b, 0) != dir || reserved != 0 || info_len != 8 || hash > 6 || levels >= max_levels
        {
            self.error("ext4.htree.bad_root", off, format!("directory {dir}: htree root (block {p}) is invalid (hash version {hash}, info length {info_len}, levels {levels}, reserved {reserved:#x})"));
            return;
        }
        let unsigned = fs.sb.s_flags & 0x2 != 0;
        self.dx_hash.insert(
            dir,
            if hash <= 2 && unsigned {
                hash.saturating_add(3)
            } else {
                hash
            },
        );
        self.dx_leaf_refs.clear();
        let mut nodes = self.dx_node(dir, &b, 0x20, p, u32::from(levels), 0);
        nodes.sort_unstable();
        let mut refs = std::mem::take(&mut self.dx_leaf_refs);
        refs.sort_unstable();
        let nblocks = self
            .fs
            .read_inode(dir)
            .map_or(0, |i| i.i_size.checked_div(self.fs.bs).unwrap_or(0));
        let mut dupd = None;
        for w in refs.windows(2) {
            if let [a, b2] = w
                && a == b2
            {
                dupd = Some(*a);
            }
        }
        if let Some(x) = dupd {
            self.error(
                "ext4.htree.block_referenced_twice",
                off,
                format!("directory {dir}: htree leaf block {x} is referenced twice"),
            );
        } else if nblocks > 0 && nblocks < (1 << 22) {
            let missing = (1..nblocks)
                .find(|l| nodes.binary_search(l).is_err() && refs.binary_search(l).is_err());
            if let Some(l) = missing {
                self.error(
                    "ext4.htree.block_not_referenced",
                    off,
                    format!("directory {dir}: block {l} is not referenced by the htree index"),
                );
            }
        }
        self.dx_nodes.insert(dir, nodes);
    }

    /// Checks a dx node whose count/limit sits at `co`; returns the logical
    /// blocks of the dx nodes (this one's children that are nodes).
    fn dx_node(
        &mut self,
        dir: u32,
        b: &[u8],
        co: usize,
        p: u64,
        levels_below: u32,
        depth: u32,
    ) -> Vec<u64> {
        let fs = self.fs;
        let off = fs.block_offset(p).unwrap_or(0);
        let bs = u64_of(b.len());
        let limit = le16(b, co);
        let count = le16(b, co.saturating_add(2));
        let tail = if fs.sb.metadata_csum() { 8 } else { 0 };
        let want_limit = (bs.saturating_sub(u64_of(co)).saturating_sub(tail)) / 8;
        let mut nodes = vec![0u64];
        if u64::from(limit) != want_limit || count > limit || count == 0 {
            self.error("ext4.htree.bad_limit", off, format!("directory {dir}: htree node (block {p}) has limit {limit}, count {count}; expected limit {want_limit} and 1..=limit entries"));
            return nodes;
        }
        if fs.sb.metadata_csum() {
            let size = co.saturating_add(usize::from(count).saturating_mul(8));
            let t = co.saturating_add(usize::from(limit).saturating_mul(8));
            if let Some(ino) = fs.read_inode(dir) {
                let c1 = crc32c_raw(fs.file_seed(&ino), bytes(b, 0, size));
                let c2 = crc32c_raw(c1, bytes(b, t, 4));
                let want = crc32c_raw(c2, &[0u8; 4]);
                let got = le32(b, t.saturating_add(4));
                if want != got {
                    self.error("ext4.htree.checksum", off, format!("directory {dir}: htree node (block {p}) checksum is {got:#010x}, computed {want:#010x}"));
                }
            }
        }
        let mut prev_hash = 0u32;
        let dir_blocks = self
            .fs
            .read_inode(dir)
            .map_or(0, |i| i.i_size.checked_div(fs.bs).unwrap_or(0));
        for i in 0..usize::from(count) {
            let e = co.saturating_add(i.saturating_mul(8));
            let h = if i == 0 { 0 } else { le32(b, e) };
            let blk = u64::from(le32(b, e.saturating_add(4)) & 0x0FFF_FFFF);
            if i > 1 && h < prev_hash {
                self.error("ext4.htree.hash_order", off, format!("directory {dir}: htree node (block {p}) entry {i} hash {h:#x} is below the previous {prev_hash:#x}"));
                break;
            }
            prev_hash = h;
            if blk >= dir_blocks && dir_blocks > 0 {
                self.error("ext4.htree.bad_block", off, format!("directory {dir}: htree node (block {p}) entry {i} points at logical block {blk}, beyond the directory's {dir_blocks} blocks"));
                continue;
            }
            if levels_below == 0 && self.dx_leaf_refs.len() < (1 << 22) {
                self.dx_leaf_refs.push(blk);
                let node_min = if i == 0 { 0 } else { h & !1 };
                let node_max = if i.saturating_add(1) < usize::from(count) {
                    le32(b, e.saturating_add(8)) & !1
                } else {
                    0xFFFF_FFFE
                };
                self.dx_ranges
                    .entry((dir, blk))
                    .or_insert((node_min, node_max, i == 0));
            }
            if levels_below > 0 && depth < 3 {
                nodes.push(blk);
                // Interior node: fake dirent of rec_len bs, count/limit at 8.
                let pblk = self.dir_pblk(dir, blk);
                if let Some(child) = pblk.and_then(|pb| fs.read_block(pb)) {
                    if le32(&child, 0) != 0
                        || u64::from(le16(&child, 4)) != bs
                            && !(bs == 65536 && le16(&child, 4) == 0)
                    {
                        self.error("ext4.htree.bad_node", off, format!("directory {dir}: htree interior node (logical block {blk}) does not start with an empty entry spanning the block"));
                        continue;
                    }
                    let sub = self.dx_node(
                        dir,
                        &child,
                        8,
                        pblk.unwrap_or(0),
                        levels_below.saturating_sub(1),
                        depth.saturating_add(1),
                    );
                    nodes.extend(sub.into_iter().skip(1));
                }
            }
        }
        nodes
    }

    fn dir_pblk(&self, dir: u32, lblk: u64) -> Option<u64> {
        // dir_blocks was moved out for pass 2; look it up through the inode.
        let ino = self.fs.read_inode(dir)?;
        let mut found = None;
        self.fs.map_file(
            &ino,
            &mut |e| {
                if let MapEvent::Data {
                    lblk: l, pblk, len, ..
                } = e
                    && lblk >= l
                    && lblk < l.saturating_add(len)
                {
                    found = Some(pblk.saturating_add(lblk.saturating_sub(l)));
                }
            },
            None,
        );
        found
    }

    fn dir_block(&mut self, dino: &Inode, l: u64, p: u64) {
        let fs = self.fs;
        let dir = dino.ino;
        let Some(b) = fs.read_block(p) else { return };
        let off = fs.block_offset(p).unwrap_or(0);
        let bs = b.len();
        let is_dx_node = self.dx_nodes.get(&dir).is_some_and(|v| v.contains(&l));
        if is_dx_node && l != 0 {
            return; // interior htree node, checked in dx_node
        }
        let mcsum = fs.sb.metadata_csum();
        let mut end = bs;
        if mcsum && !is_dx_node {
            let t = bs.saturating_sub(12);
            let has_tail = le32(&b, t) == 0
                && le16(&b, t.saturating_add(4)) == 12
                && u8_at(&b, t.saturating_add(6)) == 0
                && u8_at(&b, t.saturating_add(7)) == 0xDE;
            if has_tail {
                let want = crc32c_raw(fs.file_seed(dino), bytes(&b, 0, t));
                let got = le32(&b, t.saturating_add(8));
                if want != got {
                    self.error("ext4.dir.checksum", off, format!("directory {dir} block {l} (block {p}) checksum is {got:#010x}, computed {want:#010x}"));
                }
                end = t;
            } else {
                self.error(
                    "ext4.dir.missing_checksum_tail",
                    off,
                    format!("directory {dir} block {l} (block {p}) has no checksum tail"),
                );
            }
        }
        self.entries(dino, &b, off, l, 0, end, l == 0);
    }

    /// Parses the directory entries in `b[start..end]` (a block, or an
    /// inline directory's area); `dots`: the first two must be `.`/`..`.
    #[allow(clippy::too_many_arguments)]
    fn entries(
        &mut self,
        dino: &Inode,
        b: &[u8],
        off: u64,
        l: u64,
        start: usize,
        end: usize,
        dots: bool,
    ) {
        let dir = dino.ino;
        let filetype = self.fs.sb.has_incompat(incompat::FILETYPE);
        let encrypted = dino.i_flags & 0x800 != 0;
        let casefold = dino.i_flags & 0x4000_0000 != 0
            && self.fs.sb.has_incompat(incompat::CASEFOLD)
            && self.fs.sb.s_encoding == 1;
        let mut pos = start;
        let mut idx = 0u32;
        let dups = duplicate_positions(b, start, end, dots);
        // htree leaves: the range of entry hashes, to hold against the index.
        let hash_version = if casefold || dino.i_flags & 0x4000_0000 != 0 {
            None
        } else {
            self.dx_hash
                .get(&dir)
                .copied()
                .filter(|_| self.dx_ranges.contains_key(&(dir, l)))
        };
        let seed = {
            let s = &self.fs.sb.s_hash_seed;
            [s[0], s[1], s[2], s[3]]
        };
        let mut hash_range: Option<(u32, u32)> = None;
        while pos < end {
            let ino = le32(b, pos);
            let rec_len_raw = le16(b, pos.saturating_add(4));
            let rec_len = if rec_len_raw == 0 && end == 65536 {
                65536usize
            } else {
                usize::from(rec_len_raw)
            };
            let name_len = usize::from(u8_at(b, pos.saturating_add(6)));
            let ft = u8_at(b, pos.saturating_add(7));
            if rec_len < 8
                || rec_len % 4 != 0
                || pos.saturating_add(rec_len) > end
                || name_len.saturating_add(8) > rec_len
            {
                self.error("ext4.dir.bad_entry", off.saturating_add(u64_of(pos)), format!("directory {dir} block {l}: entry at byte {pos} has rec_len {rec_len}, name_len {name_len} (block end {end})"));
                return;
            }
            let name = bytes(b, pos.saturating_add(8), name_len);
            let eoff = off.saturating_add(u64_of(pos));
            if dots && idx == 0 {
                if ino != dir || name != b"." {
                    self.error("ext4.dir.missing_dot", eoff, format!("directory {dir}: first entry is not '.' pointing at itself (inode {ino}, name {:?})", String::from_utf8_lossy(name)));
                }
            } else if dots && idx == 1 {
                if name != b".." || ino == 0 {
                    self.error(
                        "ext4.dir.missing_dotdot",
                        eoff,
                        format!(
                            "directory {dir}: second entry is not '..' (inode {ino}, name {:?})",
                            String::from_utf8_lossy(name)
                        ),
                    );
                } else {
                    self.dotdot.insert(dir, ino);
                }
            } else if ino != 0 {
                if encrypted && name_len < 16 {
                    self.error("ext4.dir.short_encrypted_name", eoff, format!("directory {dir} block {l}: encrypted entry for inode {ino} has a {name_len}-byte name, shorter than the 16-byte cipher block"));
                } else if casefold && !encrypted && std::str::from_utf8(name).is_err() {
                    self.error("ext4.dir.bad_utf8_name", eoff, format!("directory {dir} block {l}: casefolded entry for inode {ino} is not valid UTF-8"));
                }
                if let Some(h) = hash_version.and_then(|v| crate::dirhash::dirhash(v, name, seed)) {
                    hash_range = Some(hash_range.map_or((h, h), |(a, z)| (a.min(h), z.max(h))));
                }
                self.entry(dir, l, eoff, ino, name, ft, filetype, encrypted);
                if dups.binary_search(&pos).is_ok() {
                    self.error(
                        "ext4.dir.duplicate_entry",
                        eoff,
                        format!(
                            "directory {dir} block {l}: name {:?} appears twice",
                            String::from_utf8_lossy(name)
                        ),
                    );
                }
            }
            idx = idx.saturating_add(1);
            pos = pos.saturating_add(rec_len);
        }
        if let (Some((lo, hi)), Some(&(node_min, node_max, first))) =
            (hash_range, self.dx_ranges.get(&(dir, l)))
        {
            if !first && lo < node_min {
                self.error("ext4.htree.min_hash", off, format!("directory {dir}: leaf block {l} holds a name hashing to {lo:#010x}, below its index range starting at {node_min:#010x}"));
            }
            if hi > node_max {
                self.error("ext4.htree.max_hash", off, format!("directory {dir}: leaf block {l} holds a name hashing to {hi:#010x}, above its index range ending at {node_max:#010x}"));
            }
        }
    }

    /// An inline-data directory: `..` in the first 4 bytes of i_block,
    /// entries in the rest and in the `system.data` xattr.
    fn inline_dir(&mut self, dino: &Inode) {
        let dir = dino.ino;
        let parent = le32(&dino.i_block, 0);
        self.dotdot.insert(dir, parent);
        let off = dino.offset.saturating_add(0x28);
        let iblock = dino.i_block;
        self.entries(dino, &iblock, off, 0, 4, 60, false);
        // system.data (name index 7, "data") continues the entries.
        let raw = dino.raw.clone();
        let estart = 128usize.saturating_add(usize::from(le16(&raw, 0x80)));
        if raw.len() <= 128 || le32(&raw, estart) != 0xEA02_0000 {
            return;
        }
        let base = estart.saturating_add(4);
        let mut pos = base;
        for _ in 0..64 {
            if pos.saturating_add(16) > raw.len() || le32(&raw, pos) == 0 {
                break;
            }
            let name_len = usize::from(u8_at(&raw, pos));
            let index = u8_at(&raw, pos.saturating_add(1));
            let offs = usize::from(le16(&raw, pos.saturating_add(2)));
            let size = us(u64::from(le32(&raw, pos.saturating_add(8))));
            if index == 7 && bytes(&raw, pos.saturating_add(16), name_len) == b"data" && size > 0 {
                let v = base.saturating_add(offs);
                if let Some(val) = raw.get(v..v.saturating_add(size)) {
                    let val = val.to_vec();
                    self.entries(
                        dino,
                        &val,
                        dino.offset.saturating_add(u64_of(v)),
                        0,
                        0,
                        val.len(),
                        false,
                    );
                }
                break;
            }
            pos = pos.saturating_add((16usize.saturating_add(name_len).saturating_add(3)) & !3);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn entry(
        &mut self,
        dir: u32,
        l: u64,
        eoff: u64,
        ino: u32,
        name: &[u8],
        ft: u8,
        filetype: bool,
        encrypted: bool,
    ) {
        let sb = &self.fs.sb;
        let shown = Lossy(name);
        if name.is_empty() {
            self.error(
                "ext4.dir.bad_name",
                eoff,
                format!("directory {dir} block {l}: entry for inode {ino} has an empty name"),
            );
            return;
        }
        if ino > sb.s_inodes_count
            || (ino < sb.first_ino() && ino != 2 && ino != 11 && !self.special.contains(&ino))
            || ino == 0
        {
            self.error("ext4.dir.bad_inode", eoff, format!("directory {dir} block {l}: entry {shown:?} points at inode {ino}, which is reserved or beyond {}", sb.s_inodes_count));
            return;
        }
        if name == b"." || name == b".." {
            self.error(
                "ext4.dir.extra_dot",
                eoff,
                format!("directory {dir} block {l}: a further {shown:?} entry (inode {ino})"),
            );
            return;
        }
        if !encrypted && name.iter().any(|&c| c == b'/' || c == 0) {
            self.error(
                "ext4.dir.bad_name",
                eoff,
                format!("directory {dir} block {l}: name {shown:?} contains '/' or NUL"),
            );
        }
        if !self.inode_used.get(u64::from(ino)) {
            self.error("ext4.dir.unused_inode", eoff, format!("directory {dir} block {l}: entry {shown:?} points at inode {ino}, which is not in use"));
            return;
        }
        let kind = self.kind.get(us(u64::from(ino))).copied().unwrap_or(K_NONE);
        if encrypted && matches!(kind, K_REG | K_DIR | K_LNK) && !self.encrypted.get(u64::from(ino))
        {
            self.error(
                "ext4.dir.unencrypted_in_encrypted",
                eoff,
                format!(
                    "directory {dir} block {l}: encrypted entry points at unencrypted inode {ino}"
                ),
            );
        }
        if filetype {
            let want = ftype_of(kind);
            if ft != want {
                self.error("ext4.dir.bad_file_type", eoff, format!("directory {dir} block {l}: entry {shown:?} (inode {ino}) has file type {ft}, the inode's mode says {want}"));
            }
        } else if ft != 0 {
            self.error("ext4.dir.file_type_without_feature", eoff, format!("directory {dir} block {l}: entry {shown:?} has file type {ft} but the filesystem lacks filetype"));
        }
        if let Some(r) = self.refs.get_mut(us(u64::from(ino))) {
            *r = r.saturating_add(1);
        }
        if kind == K_DIR {
            if dir == 2 && name == b"lost+found" {
                self.lost_found = Some(ino);
            }
            if let Some(&prev) = self.found_in.get(&ino) {
                self.error("ext4.dir.hard_link", eoff, format!("directory inode {ino} is linked from directory {prev} and again from {dir} as {shown:?}"));
            } else {
                self.found_in.insert(ino, dir);
            }
        } else if dir == 2 && name == b"lost+found" {
            self.lost_found = Some(0);
        }
    }

    fn pass3(&mut self) {
        let root_ok = self.inode_used.get(2) && self.kind.get(2).copied() == Some(K_DIR);
        if !root_ok {
            self.error(
                "ext4.root.missing",
                1024,
                "the root directory (inode 2) is not an in-use directory".to_string(),
            );
            return;
        }
        let mut dirs: Vec<u32> = (0..self.kind.len())
            .filter(|&i| self.kind.get(i).copied() == Some(K_DIR) && self.inode_used.get(u64_of(i)))
            .filter_map(|i| u32::try_from(i).ok())
            .collect();
        dirs.sort_unstable();
        let ndirs = dirs.len();
        let mut reachable: HashMap<u32, bool> = HashMap::new();
        reachable.insert(2, true);
        for &d in &dirs {
            if d == 2 {
                if let Some(&dd) = self.dotdot.get(&2)
                    && dd != 2
                {
                    self.error(
                        "ext4.dir.bad_dotdot",
                        1024,
                        format!("root directory's '..' is {dd}, expected 2"),
                    );
                }
                continue;
            }
            // Walk up the parent chain, bounded by the number of directories.
            // Only the top of a detached subtree (or one member of a loop)
            // is reported, as e2fsck reconnects just that one.
            let mut path = Vec::new();
            let mut on_path = std::collections::HashSet::new();
            let mut cur = d;
            let mut ok = false;
            let mut top: Option<(u32, bool)> = None; // (dir, is a loop)
            for _ in 0..=ndirs {
                if let Some(&r) = reachable.get(&cur) {
                    ok = r;
                    break;
                }
                if !on_path.insert(cur) {
                    top = Some((cur, true));
                    break;
                }
                path.push(cur);
                match self.found_in.get(&cur) {
                    Some(&p) => cur = p,
                    None => {
                        top = Some((cur, false));
                        break;
                    }
                }
            }
            for &x in &path {
                reachable.insert(x, ok);
            }
            if let (false, Some((t, looped))) = (ok, top) {
                let off = self.fs.inode_offset(t).unwrap_or(1024);
                let (code, why) = if looped {
                    ("ext4.dir.loop", " (its parents form a loop)")
                } else {
                    ("ext4.dir.unconnected", " (no directory entry names it)")
                };
                self.error(
                    code,
                    off,
                    format!("directory inode {t} is not reachable from the root{why}"),
                );
            }
            let parent = self.found_in.get(&d).copied();
            let dd = self.dotdot.get(&d).copied();
            if let (Some(p), Some(dd)) = (parent, dd)
                && p != dd
            {
                self.error(
                    "ext4.dir.bad_dotdot",
                    self.fs.inode_offset(d).unwrap_or(1024),
                    format!("directory inode {d}: '..' is {dd}, but it is named in directory {p}"),
                );
            }
        }
        match self.lost_found {
            // e2fsck -n is silent about this; the next e2fsck -y creates it.
            None => self.out.push(Finding::info(
                "ext4.lost_found.missing",
                Layer::EXT4,
                1024,
                Space::Disk,
                "the root directory has no lost+found".to_string(),
            )),
            Some(0) => self.error(
                "ext4.lost_found.not_directory",
                1024,
                "/lost+found is not a directory".to_string(),
            ),
            Some(_) => {}
        }
    }

    fn pass4(&mut self) {
        let sb = &self.fs.sb;
        let dir_nlink = sb.has_ro_compat(ro_compat::DIR_NLINK);
        // Subdirectories add one link each to their parent ('..').
        let mut extra: HashMap<u32, u32> = HashMap::new();
        for (&d, &dd) in &self.dotdot {
            if d != 2 || dd != 2 {
                *extra.entry(dd).or_insert(0) =
                    extra.get(&dd).copied().unwrap_or(0).saturating_add(1);
            }
        }
        let first = sb.first_ino();
        let n = self.kind.len();
        for i in 1..n {
            let Ok(ino) = u32::try_from(i) else { break };
            if !self.inode_used.get(u64::from(ino))
                || (ino < first && ino != 2)
                || self.special.contains(&ino)
            {
                continue;
            }
            let kind = self.kind.get(i).copied().unwrap_or(K_NONE);
            let disk = u32::from(self.links_disk.get(i).copied().unwrap_or(0));
            let mut counted = u32::from(self.refs.get(i).copied().unwrap_or(0));
            if kind == K_DIR {
                counted = counted
                    .saturating_add(1)
                    .saturating_add(extra.get(&ino).copied().unwrap_or(0));
                if ino == 2 {
                    counted = counted.saturating_add(1);
                }
                if dir_nlink && disk == 1 && counted >= 2 {
                    continue;
                }
            }
            if self.refs.get(i).copied().unwrap_or(0) == 0 && ino != 2 {
                if kind == K_DIR {
                    continue; // reported by pass 3
                }
                // EA inodes are referenced from xattrs, not directories.
                if let Some(inode) = self.fs.read_inode(ino)
                    && inode.i_flags & EA_INODE_FL != 0
                {
                    continue;
                }
                self.error(
                    "ext4.inode.unattached",
                    self.fs.inode_offset(ino).unwrap_or(0),
                    format!("inode {ino} is in use (links {disk}) but no directory entry names it"),
                );
                continue;
            }
            if counted != disk {
                self.error("ext4.inode.link_count", self.fs.inode_offset(ino).unwrap_or(0), format!("inode {ino} has i_links_count {disk}, but {counted} references were counted"));
            }
        }
    }

    fn pass5(&mut self) {
        let fs = self.fs;
        let sb = &fs.sb;
        if self.dup_count > 0 && !sb.has_ro_compat(ro_compat::SHARED_BLOCKS) {
            let list: Vec<String> = self.dup_inodes.iter().map(u32::to_string).collect();
            self.error(
                "ext4.block.multiply_claimed",
                1024,
                format!(
                    "{} block(s) are claimed by more than one owner; inodes involved: {}",
                    self.dup_count,
                    list.join(", ")
                ),
            );
        }
        if sb.has_ro_compat(ro_compat::BIGALLOC) {
            return; // cluster accounting not modelled
        }
        let csum = sb.has_group_desc_csum();
        let ipg = u64::from(sb.s_inodes_per_group);
        let mut total_free_b = 0u64;
        let mut total_free_i = 0u64;
        let mut diffs_b = (0u64, 0u64);
        let mut diffs_i = (0u64, 0u64);
        let mut first_b = Vec::new();
        let mut first_i = Vec::new();
        for (gi, gd) in fs.gds.iter().enumerate() {
            let g = u64_of(gi);
            let first = fs.group_first_block(g);
            let tracked = self.used.len();
            if first >= tracked {
                break; // past the reader's end: reported as truncation
            }
            let nblk = clusters_in_group(fs, g);
            // blocks
            let disk = if csum && gd.bg_flags & bg_flags::BLOCK_UNINIT != 0 {
                None
            } else {
                fs.read_block(gd.bg_block_bitmap)
            };
            let mut free = 0u64;
            for k in 0..nblk {
                let b = first.saturating_add(k);
                let used = self.used.get(b);
                if !used {
                    free = free.saturating_add(1);
                }
                let on_disk = match &disk {
                    Some(bm) => u8_at(bm, us(k / 8)) >> (k % 8) & 1 == 1,
                    None => self.meta.get(b),
                };
                if used != on_disk {
                    if used {
                        diffs_b.0 = diffs_b.0.saturating_add(1)
                    } else {
                        diffs_b.1 = diffs_b.1.saturating_add(1)
                    }
                    if first_b.len() < 8 {
                        first_b.push(format!("{}{b}", if used { "+" } else { "-" }));
                    }
                }
            }
            total_free_b = total_free_b.saturating_add(free);
            if free != u64::from(gd.bg_free_blocks_count) {
                self.error(
                    "ext4.group.free_blocks_count",
                    gd.offset,
                    format!(
                        "group {g}: descriptor says {} free blocks, {free} counted",
                        gd.bg_free_blocks_count
                    ),
                );
            }
            // inodes
            let disk_i = if csum && gd.bg_flags & bg_flags::INODE_UNINIT != 0 {
                None
            } else {
                fs.read_block(gd.bg_inode_bitmap)
            };
            let mut free_i = 0u64;
            let mut dirs = 0u64;
            for k in 0..ipg {
                let ino = g.saturating_mul(ipg).saturating_add(k).saturating_add(1);
                let used = self.inode_used.get(ino) || (ino < u64::from(sb.first_ino()));
                if !used {
                    free_i = free_i.saturating_add(1);
                } else if self.kind.get(us(ino)).copied() == Some(K_DIR) && self.inode_used.get(ino)
                {
                    dirs = dirs.saturating_add(1);
                }
                let on_disk = match &disk_i {
                    Some(bm) => u8_at(bm, us(k / 8)) >> (k % 8) & 1 == 1,
                    None => false,
                };
                if used != on_disk {
                    if used {
                        diffs_i.0 = diffs_i.0.saturating_add(1)
                    } else {
                        diffs_i.1 = diffs_i.1.saturating_add(1)
                    }
                    if first_i.len() < 8 {
                        first_i.push(format!("{}{ino}", if used { "+" } else { "-" }));
                    }
                }
            }
            total_free_i = total_free_i.saturating_add(free_i);
            if free_i != u64::from(gd.bg_free_inodes_count) {
                self.error(
                    "ext4.group.free_inodes_count",
                    gd.offset,
                    format!(
                        "group {g}: descriptor says {} free inodes, {free_i} counted",
                        gd.bg_free_inodes_count
                    ),
                );
            }
            if dirs != u64::from(gd.bg_used_dirs_count) {
                self.error(
                    "ext4.group.used_dirs_count",
                    gd.offset,
                    format!(
                        "group {g}: descriptor says {} directories, {dirs} counted",
                        gd.bg_used_dirs_count
                    ),
                );
            }
        }
        if diffs_b != (0, 0) {
            self.error("ext4.bitmap.block_differences", 1024, format!("block bitmaps differ from the blocks in use: {} used but marked free, {} marked used but free (first: {})", diffs_b.0, diffs_b.1, first_b.join(" ")));
        }
        if diffs_i != (0, 0) {
            self.error("ext4.bitmap.inode_differences", 1024, format!("inode bitmaps differ from the inodes in use: {} used but marked free, {} marked used but free (first: {})", diffs_i.0, diffs_i.1, first_i.join(" ")));
        }
        if total_free_b != sb.s_free_blocks_count {
            self.warning(
                "ext4.superblock.free_blocks_wrong",
                1024,
                format!(
                    "superblock says {} free blocks, {total_free_b} counted",
                    sb.s_free_blocks_count
                ),
            );
        }
        if total_free_i != u64::from(sb.s_free_inodes_count) {
            self.warning(
                "ext4.superblock.free_inodes_wrong",
                1024,
                format!(
                    "superblock says {} free inodes, {total_free_i} counted",
                    sb.s_free_inodes_count
                ),
            );
        }
    }
}

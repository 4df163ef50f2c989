//! Pass 1: every in-use inode of every initialised inode table — mode,
//! flags against features, dtime, checksum, symlinks — and its blocks
//! walked and claimed, with i_blocks and i_size held against them.

use super::{
    Deep, K_BAD, K_BLK, K_CHR, K_DIR, K_FIFO, K_LNK, K_SOCK, MAX_DIR_BLOCKS, MAX_LBLK, Run,
    SCRATCH_KEEP, kind_of,
};
use crate::blockmap::MapEvent;
use crate::gdt::bg_flags;
use crate::inode::{EXTENTS_FL, HUGE_FILE_FL, INDEX_FL, INLINE_DATA_FL, Inode};
use crate::superblock::{compat, incompat, ro_compat};
use imgcheck_core::ReadErrorKind;
use imgcheck_core::bytes::{le16, le32, u64_of, usize_of};

/// Bytes of inode table read at once.
const ITABLE_CHUNK: u64 = 1 << 20;
/// `i_flags` EXT4_VERITY_FL: the Merkle tree lives past EOF.
const VERITY_FL: u32 = 0x10_0000;

impl Deep<'_, '_> {
    pub(super) fn pass1(&mut self) {
        let fs = self.fs;
        let sb = &fs.sb;
        let ipg = u64::from(sb.s_inodes_per_group);
        let isz = u64::from(sb.inode_size());
        let csum = sb.has_group_desc_csum();
        let mut chunk: Vec<u8> = Vec::new();
        let mut raw: Vec<u8> = Vec::with_capacity(usize_of(isz));
        for g in 0..fs.groups {
            let Some(gd) = fs.gds.get(usize_of(g)).cloned() else {
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
                let len = usize_of(n.saturating_mul(isz));
                if chunk.len() < len {
                    chunk.resize(len, 0);
                }
                let Some(buf) = chunk.get_mut(..len) else {
                    break;
                };
                // A chunk the reader fails is read again inode by inode:
                // the read log then names each inode that is lost, and the
                // rest of the table is still checked.
                let one_by_one = match fs.r.read_exact_at(off, buf) {
                    Ok(()) => false,
                    Err(e) if matches!(e.kind, ReadErrorKind::OutOfBounds { .. }) => break,
                    Err(_) => true,
                };
                for k in 0..n {
                    let slot = i.saturating_add(k);
                    let ino64 = g.saturating_mul(ipg).saturating_add(slot).saturating_add(1);
                    let Ok(ino) = u32::try_from(ino64) else { break };
                    let start = usize_of(k.saturating_mul(isz));
                    raw.clear();
                    if one_by_one {
                        raw.resize(usize_of(isz), 0);
                        let at = off.saturating_add(k.saturating_mul(isz));
                        if fs.read_at(at, &mut raw, || format!("inode {ino}")).is_err() {
                            self.mark_unread(ino);
                            continue;
                        }
                    } else {
                        raw.extend_from_slice(
                            chunk
                                .get(start..start.saturating_add(usize_of(isz)))
                                .unwrap_or(&[]),
                        );
                    }
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
        if let Some(l) = self.links_disk.get_mut(usize_of(u64::from(n))) {
            *l = ino.i_links_count;
        }
        let kind = kind_of(ino.i_mode);
        if let Some(k) = self.kind.get_mut(usize_of(u64::from(n))) {
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
        let failed = fs.failed_reads();
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
        // A mapping block the reader failed hides blocks: the totals below
        // would then measure the failure, not the inode.
        let complete = fs.failed_reads() == failed;
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
            && complete
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
                    if complete {
                        self.error(
                            "ext4.dir.hole",
                            ino.offset,
                            format!("directory inode {n} has a hole at logical block {expect}"),
                        );
                    }
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
}

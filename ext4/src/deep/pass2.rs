//! Pass 2: every directory block — checksum tail, entries, `.` and `..`,
//! names, file types, duplicates — and inline-data directories.

use super::{Deep, K_DIR, K_LNK, K_NONE, K_REG, MAX_DIR_BLOCKS, ftype_of};
use crate::inode::Inode;
use crate::superblock::incompat;
use crate::util::crc32c_raw;
use imgcheck_core::bytes::{bytes, le16, le32, u8_at, u64_of, usize_of};
use imgcheck_core::{Finding, Layer, Space};

/// A name shown as `{:?}` of its lossy UTF-8 text, converted only when a
/// finding is actually formatted (not for every entry).
struct Lossy<'a>(&'a [u8]);

impl std::fmt::Debug for Lossy<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&String::from_utf8_lossy(self.0), f)
    }
}

/// A directory entry's length as e2fsprogs' `ext2fs_get_rec_len` reads
/// it: in 64 KiB blocks, which 16 bits cannot hold, 0 and 0xFFFF both mean
/// the whole block and the two low bits carry bits 16–17.
pub(super) fn rec_len(raw: u16, block_len: usize) -> usize {
    if block_len < 65536 {
        return usize::from(raw);
    }
    if raw == 0 || raw == 0xFFFF {
        return block_len;
    }
    usize::from(raw & 0xFFFC) | (usize::from(raw & 3) << 16)
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
        let rec_len = rec_len(le16(b, pos.saturating_add(4)), b.len());
        let name_len = usize::from(u8_at(b, pos.saturating_add(6)));
        if rec_len < 8
            || !rec_len.is_multiple_of(4)
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
    // Equal names stay in block order (positions grow along the block), so
    // the first of each run is the one that introduced the name; in place,
    // as a stable sort's buffer per directory block cost more than the
    // comparisons.
    names.sort_unstable_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(&b.1)));
    if names
        .windows(2)
        .all(|w| w.first().map(|x| x.0) != w.get(1).map(|x| x.0))
    {
        return Vec::new(); // the common case: no name twice
    }
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

impl Deep<'_, '_> {
    pub(super) fn pass2(&mut self) {
        let blocks = std::mem::take(&mut self.dir_blocks);
        // htree roots first, so interior node blocks are known.
        for &(dir, l, p) in &blocks {
            if l == 0 && self.dx_nodes.contains_key(&dir) {
                self.dx_root(dir, p);
            }
        }
        let mut cached: Option<(u32, Inode)> = None;
        let total = u64_of(blocks.len());
        for (k, &(dir, l, p)) in blocks.iter().enumerate() {
            if k % 256 == 0 {
                self.progress
                    .report("pass 2: directory blocks", u64_of(k), total);
            }
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
            self.out.push(Finding::warning(
                "ext4.deep.dir_blocks_limit",
                Layer::EXT4,
                0,
                Space::Disk,
                format!("more than {MAX_DIR_BLOCKS} directory blocks: the rest were not checked"),
            ));
        }
    }

    fn dir_block(&mut self, dino: &Inode, l: u64, p: u64) {
        let fs = self.fs;
        let dir = dino.ino;
        let Some(b) = fs.read_block(p) else { return };
        let off = fs.block_offset(p).unwrap_or(0);
        if fs.block_offset(p).is_some() {
            self.owners.read(off, &b);
        }
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
        // A leaf of a valid htree root that no index block references: an
        // interior node that listed it is gone, and a lookup by name goes
        // through the index, so these names no longer resolve.
        let unindexed =
            l != 0 && self.dx_hash.contains_key(&dir) && !self.dx_ranges.contains_key(&(dir, l));
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
            let rec_len = rec_len(le16(b, pos.saturating_add(4)), b.len());
            let name_len = usize::from(u8_at(b, pos.saturating_add(6)));
            let ft = u8_at(b, pos.saturating_add(7));
            if rec_len < 8
                || !rec_len.is_multiple_of(4)
                || pos.saturating_add(rec_len) > end
                || name_len.saturating_add(8) > rec_len
            {
                self.error("ext4.dir.bad_entry", off.saturating_add(u64_of(pos)), format!("directory {dir} block {l}: entry at byte {pos} has rec_len {rec_len}, name_len {name_len} (block end {end})"));
                return;
            }
            let name = bytes(b, pos.saturating_add(8), name_len);
            let eoff = off.saturating_add(u64_of(pos));
            if dots && idx == 0 {
                // check_dot: the name, its terminating NUL, the inode, the
                // size of the entry.
                if ino == 0 || name != b"." {
                    self.error(
                        "ext4.dir.missing_dot",
                        eoff,
                        format!(
                            "directory {dir}: first entry is not '.' (inode {ino}, name {:?})",
                            String::from_utf8_lossy(name)
                        ),
                    );
                } else if u8_at(b, pos.saturating_add(9)) != 0 {
                    self.error(
                        "ext4.dir.dot_not_terminated",
                        eoff,
                        format!("directory {dir}: the '.' entry's name is not NUL-terminated"),
                    );
                }
                if ino != dir {
                    self.error("ext4.dir.missing_dot", eoff, format!("directory {dir}: '.' points at inode {ino}, not at the directory itself"));
                }
                if rec_len > 24 {
                    self.error("ext4.dir.dot_too_big", eoff, format!("directory {dir}: the '.' entry is {rec_len} bytes long, more than '.' and a further entry need"));
                }
                self.dot_entry(dir, eoff, ino, ft, filetype);
            } else if dots && idx == 1 {
                if ino == 0 || name != b".." {
                    self.error(
                        "ext4.dir.missing_dotdot",
                        eoff,
                        format!(
                            "directory {dir}: second entry is not '..' (inode {ino}, name {:?})",
                            String::from_utf8_lossy(name)
                        ),
                    );
                } else {
                    if u8_at(b, pos.saturating_add(10)) != 0 {
                        self.error(
                            "ext4.dir.dot_not_terminated",
                            eoff,
                            format!("directory {dir}: the '..' entry's name is not NUL-terminated"),
                        );
                    }
                    self.dotdot.insert(dir, ino);
                }
                self.dot_entry(dir, eoff, ino, ft, filetype);
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
                if unindexed {
                    self.owners.unindexed(dir, ino);
                }
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
            let size = usize_of(u64::from(le32(&raw, pos.saturating_add(8))));
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

    /// What check_dir_block checks of '.' and '..' after their names: a
    /// legal inode, in use, and a directory's file type.
    fn dot_entry(&mut self, dir: u32, eoff: u64, ino: u32, ft: u8, filetype: bool) {
        if ino == 0 {
            return;
        }
        let sb = &self.fs.sb;
        if (ino != 2 && ino < sb.first_ino()) || ino > sb.s_inodes_count {
            self.error("ext4.dir.bad_inode", eoff, format!("directory {dir}: a dot entry points at inode {ino}, which is reserved or beyond {}", sb.s_inodes_count));
            return;
        }
        if self.unread.get(u64::from(ino)) {
            return;
        }
        if !self.inode_used.get(u64::from(ino)) {
            self.error(
                "ext4.dir.unused_inode",
                eoff,
                format!("directory {dir}: a dot entry points at inode {ino}, which is not in use"),
            );
            return;
        }
        let kind = self
            .kind
            .get(usize_of(u64::from(ino)))
            .copied()
            .unwrap_or(K_NONE);
        let want = if filetype { ftype_of(kind) } else { 0 };
        if ft != want {
            self.error(
                "ext4.dir.bad_file_type",
                eoff,
                format!(
                    "directory {dir}: a dot entry (inode {ino}) has file type {ft}, expected {want}"
                ),
            );
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
            || (ino < sb.first_ino() && ino != 2)
            // e2fsck's PR_2_BAD_INO: the quota files and the orphan file
            // are not named by directories, whatever features are set.
            || [
                sb.s_usr_quota_inum,
                sb.s_grp_quota_inum,
                sb.s_prj_quota_inum,
                sb.s_orphan_file_inum,
            ]
            .contains(&ino)
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
        // Named before the inode is judged: an entry naming an inode whose
        // table block was zeroed is how the loss of that file is told.
        self.owners.name(ino, dir, name);
        if self.unread.get(u64::from(ino)) {
            // Its inode could not be read (logged): whether it is in use,
            // and of what type, is unknown.
            return;
        }
        if !self.inode_used.get(u64::from(ino)) {
            self.error("ext4.dir.unused_inode", eoff, format!("directory {dir} block {l}: entry {shown:?} points at inode {ino}, which is not in use"));
            return;
        }
        // Referenced by an attribute and flagged as an EA inode: an
        // attribute naming an ordinary file is that attribute's fault
        // (ext4.xattr.ea_inode_bad_reference), not the entry's.
        if let Some(Some(_)) = self.ea_inode_refs.get(&ino)
            && self
                .fs
                .read_inode(ino)
                .is_some_and(|i| i.i_flags & crate::inode::EA_INODE_FL != 0)
        {
            self.error("ext4.dir.links_ea_inode", eoff, format!("directory {dir} block {l}: entry {shown:?} points at inode {ino}, an EA inode that attributes refer to"));
        }
        let kind = self
            .kind
            .get(usize_of(u64::from(ino)))
            .copied()
            .unwrap_or(K_NONE);
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
        if let Some(r) = self.refs.get_mut(usize_of(u64::from(ino))) {
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
}

#[cfg(test)]
mod tests {
    use super::rec_len;

    #[test]
    fn rec_len_encodes_64k_blocks() {
        assert_eq!(rec_len(12, 4096), 12);
        assert_eq!(rec_len(0xFFFF, 4096), 0xFFFF);
        assert_eq!(rec_len(0xFFFF, 65536), 65536);
        assert_eq!(rec_len(0, 65536), 65536);
        assert_eq!(rec_len(12, 65536), 12);
        assert_eq!(rec_len(0x0011, 65536), 0x10010);
    }
}

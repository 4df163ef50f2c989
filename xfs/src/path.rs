//! Files by path, for the boot chain (GRUB's prefix, grub.cfg, the
//! kernels it names): a bounded walk from the root inode through every
//! directory form (short form in the inode; block, leaf and node
//! directories, whose entries all live in the data blocks below the
//! leaf offset, read linearly as GRUB's xfs driver iterates them),
//! symlinks followed as far as GRUB follows them, and a file's extent
//! map (in the inode or through the bmbt) as byte ranges checked against
//! the filesystem's AGs. Read-only, through the primary superblock only
//! (GRUB's `grub_xfs_mount` reads no secondary); every loop is bounded.

use crate::fs::{Fs, MAX_READ};
use crate::inode::{self, Dinode, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, format};
use crate::sb::{self, Superblock};
use imgcheck_core::bytes::{be16, be32, be64, bytes, u8_at, u64_of, usize_of};
use imgcheck_core::{ReadAt, read_vec};
use std::collections::HashSet;

/// Path components followed, symlinks included.
const MAX_STEPS: usize = 64;
/// Symlinks followed in one lookup (GRUB: `GRUB_FSHELP_MAX_SYMLINK_DEPTH` 8).
pub const MAX_LINKS: usize = 8;
/// A symlink target's longest form (`XFS_SYMLINK_MAXLEN`).
const MAX_LINK_LEN: u64 = 1024;
/// bmbt blocks read for one file.
const MAX_NODES: usize = 4096;
/// Extents kept for one file.
pub const MAX_EXTENTS: usize = 1 << 16;
/// Directory blocks read for one directory (64 MiB of 4 KiB blocks).
const MAX_DIR_BLOCKS: u64 = 16384;
/// Byte offset of a directory's leaf space (`XFS_DIR2_LEAF_OFFSET`):
/// entries live in the data blocks below it.
const DIR_LEAF_OFFSET: u64 = 1 << 35;
/// `XFS_DINODE_MAGIC` ("IN").
const INODE_MAGIC: u16 = 0x494E;
/// Block-form directory magics ("XD2B" v4, "XDB3" v5).
const DIR_BLOCK_MAGICS: [u32; 2] = [0x5844_3242, 0x5844_4233];
/// Data-block magics of leaf and node directories ("XD2D", "XDD3").
const DIR_DATA_MAGICS: [u32; 2] = [0x5844_3244, 0x5844_4433];
/// bmbt block magics ("BMAP" v4, "BMA3" v5).
const BMBT_MAGICS: [u32; 2] = [0x424D_4150, 0x424D_4133];
/// Remote symlink block magic ("XSLM", v5 only).
const SYMLINK_MAGIC: u32 = 0x5853_4C4D;
/// The header a v5 remote symlink block starts with.
const SYMLINK_HDR: usize = 56;

/// One extent of a file's data, in blocks and as bytes of the filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// First file block.
    pub logical: u64,
    /// First filesystem block (FSB, AG number in its high bits).
    pub fsb: u64,
    /// Blocks.
    pub len: u64,
    /// Byte offset of its first block in the filesystem.
    pub byte: u64,
    /// Preallocated, never written: reads as zeros.
    pub unwritten: bool,
}

/// A file found by path.
#[derive(Debug, Clone)]
pub struct Found {
    /// Its inode number.
    pub ino: u64,
    /// Its inode's core.
    pub inode: Dinode,
    /// Its data extents, in file order, as far as they map.
    pub runs: Vec<Run>,
    /// Its data when the inode holds it (a short-form directory, a
    /// local symlink).
    pub local: Vec<u8>,
    /// Why its data does not map whole (an extent past its AG, an
    /// unreadable bmbt block); holes are not problems.
    pub problem: Option<String>,
}

/// An opened XFS filesystem, for path lookups.
pub struct Xfs<'a> {
    r: &'a dyn ReadAt,
    fs: Fs<'a>,
    ftype: bool,
}

impl<'a> Xfs<'a> {
    /// Opens the filesystem in `r` through its primary superblock; `Err`
    /// when that fails `xfs_repair`'s sanity rules (a loader reading it
    /// fails too).
    pub fn open(r: &'a dyn ReadAt) -> Result<Self, String> {
        let head = read_vec(r, 0, 512, 512).map_err(|e| format!("superblock: {e}"))?;
        let s = Superblock::parse(&head);
        let sect = u64::from(s.sectsize);
        let buf = if sect > 512 && sect <= 32768 {
            read_vec(r, 0, sect, 32768).map_err(|e| format!("superblock: {e}"))?
        } else {
            head
        };
        sb::verify(&buf, &s, true).map_err(|e| format!("primary superblock: {}", e.text()))?;
        let ftype = if s.is_v5() {
            s.features_incompat & sb::incompat::FTYPE != 0
        } else {
            s.features2 & sb::features2::FTYPE != 0
        };
        Ok(Xfs {
            r,
            fs: Fs::new(r, s),
            ftype,
        })
    }

    /// The superblock read.
    pub fn superblock(&self) -> &Superblock {
        &self.fs.sb
    }

    /// Block size in bytes.
    pub fn block_size(&self) -> u64 {
        self.fs.bs
    }

    fn read(&self, off: u64, len: u64) -> Result<Vec<u8>, String> {
        read_vec(self.r, off, len, MAX_READ).map_err(|e| e.to_string())
    }

    /// The inode `ino`: its core, checked for the magic GRUB checks.
    pub fn inode(&self, ino: u64) -> Result<(Dinode, Vec<u8>), String> {
        if !self.fs.ino_ok(ino) {
            return Err(format!("inode number {ino} is outside the filesystem"));
        }
        let at = self
            .fs
            .ino_byte(ino)
            .ok_or_else(|| format!("inode number {ino} is outside the filesystem"))?;
        let b = self
            .read(at, u64::from(self.fs.sb.inodesize))
            .map_err(|e| format!("inode {ino} at byte {at} does not read: {e}"))?;
        let d = Dinode::parse(&b);
        if d.magic != INODE_MAGIC {
            return Err(format!(
                "inode {ino} at byte {at} has no inode magic ({:#06x})",
                d.magic
            ));
        }
        Ok((d, b))
    }

    /// The inode at `path` (absolute, `/`-separated, names matched
    /// exactly), following symlinks (at most [`MAX_LINKS`]); `Ok(None)`
    /// when a component is absent, `Err` when an inode or directory on
    /// the way does not read.
    pub fn lookup(&self, path: &str) -> Result<Option<Found>, String> {
        let root = self.fs.sb.rootino;
        let mut stack: Vec<String> = components(path).rev().collect();
        let mut dir = self.found(root)?;
        let mut parents: Vec<Found> = Vec::new();
        let (mut steps, mut links) = (0usize, 0usize);
        while let Some(name) = stack.pop() {
            steps = steps.saturating_add(1);
            if steps > MAX_STEPS {
                return Err(format!("more than {MAX_STEPS} path steps in {path}"));
            }
            if name == ".." {
                if let Some(p) = parents.pop() {
                    dir = p;
                }
                continue;
            }
            if dir.inode.mode & S_IFMT != S_IFDIR {
                return Ok(None);
            }
            let Some(ino) = self.entry(&dir, name.as_bytes())? else {
                return Ok(None);
            };
            let next = self.found(ino)?;
            if next.inode.mode & S_IFMT == S_IFLNK {
                links = links.saturating_add(1);
                if links > MAX_LINKS {
                    return Err(format!("more than {MAX_LINKS} symlinks in {path}"));
                }
                let target = self.link_target(&next)?;
                if target.starts_with('/') {
                    dir = self.found(root)?;
                    parents.clear();
                }
                for c in components(&target).rev() {
                    stack.push(c);
                }
                continue;
            }
            parents.push(std::mem::replace(&mut dir, next));
        }
        Ok(Some(dir))
    }

    /// Inode `ino` with its data mapped.
    fn found(&self, ino: u64) -> Result<Found, String> {
        let (d, b) = self.inode(ino)?;
        let f = inode::forks(&self.fs, &d);
        let fork = bytes(&b, f.data_off, f.data_size);
        let mut out = Found {
            ino,
            inode: d.clone(),
            runs: Vec::new(),
            local: Vec::new(),
            problem: None,
        };
        match d.format {
            format::LOCAL => {
                let n = usize_of(d.size).min(fork.len());
                out.local = bytes(fork, 0, n).to_vec();
                if u64_of(n) < d.size {
                    out.problem = Some(format!(
                        "inode {ino} is local but its size {} exceeds its {}-byte fork",
                        d.size,
                        fork.len()
                    ));
                }
            }
            format::EXTENTS => {
                let max = fork.len().checked_div(16).unwrap_or(0);
                let n = usize_of(d.nextents);
                if n > max {
                    out.problem = Some(format!(
                        "inode {ino} claims {n} extents, its fork holds {max}"
                    ));
                }
                for r in inode::records(fork, 0, n.min(max), 16) {
                    self.push_extent(&mut out, inode::extent(r));
                }
            }
            format::BTREE => self.map_bmbt(&mut out, fork),
            // Devices, FIFOs: no data.
            _ => {}
        }
        Ok(out)
    }

    /// Keeps one extent, or says why it does not map.
    fn push_extent(&self, f: &mut Found, e: inode::Extent) {
        if f.runs.len() >= MAX_EXTENTS {
            f.problem
                .get_or_insert_with(|| format!("inode {}: more than {MAX_EXTENTS} extents", f.ino));
            return;
        }
        let mapped = self.fs.fsb_split(e.start).and_then(|(agno, agbno)| {
            let end = agbno.checked_add(e.len)?;
            (e.len > 0 && end <= self.fs.ag_len(agno)).then(|| self.fs.agb_byte(agno, agbno))
        });
        match mapped {
            Some(byte) => f.runs.push(Run {
                logical: e.off,
                fsb: e.start,
                len: e.len,
                byte,
                unwritten: e.unwritten,
            }),
            None => {
                f.problem.get_or_insert_with(|| {
                    format!(
                        "inode {}: the extent of {} blocks at file block {} starts at filesystem block {}, outside its allocation group",
                        f.ino, e.len, e.off, e.start
                    )
                });
            }
        }
    }

    /// The extents of a btree-format fork (`xfs_bmdr_block` root, then
    /// long-form bmbt blocks), each block read once.
    fn map_bmbt(&self, f: &mut Found, root: &[u8]) {
        let level = be16(root, 0);
        let numrecs = usize::from(be16(root, 2));
        let maxrecs = root.len().saturating_sub(4).checked_div(16).unwrap_or(0);
        if level == 0 || level > inode::MAX_BMBT_LEVELS || numrecs == 0 || numrecs > maxrecs {
            f.problem = Some(format!(
                "inode {}: its extent btree root has level {level} and {numrecs} records (at most {maxrecs})",
                f.ino
            ));
            return;
        }
        let ptrs = 4usize.saturating_add(maxrecs.saturating_mul(8));
        let mut seen = HashSet::new();
        for i in 0..numrecs {
            let ptr = be64(root, ptrs.saturating_add(i.saturating_mul(8)));
            if let Err(e) = self.bmbt_block(f, ptr, level.saturating_sub(1), &mut seen) {
                f.problem.get_or_insert(e);
                return;
            }
        }
    }

    fn bmbt_block(
        &self,
        f: &mut Found,
        fsb: u64,
        level: u16,
        seen: &mut HashSet<u64>,
    ) -> Result<(), String> {
        if seen.len() >= MAX_NODES {
            return Err(format!(
                "inode {}: more than {MAX_NODES} bmbt blocks",
                f.ino
            ));
        }
        if !seen.insert(fsb) {
            return Err(format!(
                "inode {}: bmbt block {fsb} is reached twice",
                f.ino
            ));
        }
        let (agno, agbno) = self.fs.fsb_split(fsb).ok_or_else(|| {
            format!(
                "inode {}: bmbt block {fsb} is outside the filesystem",
                f.ino
            )
        })?;
        let at = self.fs.agb_byte(agno, agbno);
        let b = self
            .read(at, self.fs.bs)
            .map_err(|e| format!("inode {}: bmbt block at byte {at}: {e}", f.ino))?;
        if !BMBT_MAGICS.contains(&be32(&b, 0)) || be16(&b, 4) != level {
            return Err(format!(
                "inode {}: the bmbt block at byte {at} has magic {:#010x} and level {} (level {level} expected)",
                f.ino,
                be32(&b, 0),
                be16(&b, 4)
            ));
        }
        let hdr: usize = if self.fs.v5 { 72 } else { 24 };
        let n = usize::from(be16(&b, 6));
        let maxrecs = b.len().saturating_sub(hdr).checked_div(16).unwrap_or(0);
        if n > maxrecs {
            return Err(format!(
                "inode {}: the bmbt block at byte {at} claims {n} records (at most {maxrecs})",
                f.ino
            ));
        }
        if level == 0 {
            for r in inode::records(&b, hdr, n, 16) {
                self.push_extent(f, inode::extent(r));
            }
            return Ok(());
        }
        // Node: keys[maxrecs] then ptrs[maxrecs], maxrecs of 8+8 bytes.
        let ptrs = hdr.saturating_add(maxrecs.saturating_mul(8));
        for i in 0..n {
            let ptr = be64(&b, ptrs.saturating_add(i.saturating_mul(8)));
            self.bmbt_block(f, ptr, level.saturating_sub(1), seen)?;
        }
        Ok(())
    }

    /// File block `lblock` of `f`: its bytes, zeros in a hole or an
    /// unwritten extent.
    fn file_block(&self, f: &Found, lblock: u64) -> Result<Vec<u8>, String> {
        let bs = self.fs.bs;
        let hit = f
            .runs
            .iter()
            .find(|r| lblock >= r.logical && lblock < r.logical.saturating_add(r.len));
        match hit {
            Some(r) if !r.unwritten => {
                let k = lblock.saturating_sub(r.logical);
                self.read(r.byte.saturating_add(k.saturating_mul(bs)), bs)
            }
            _ => Ok(vec![0u8; usize_of(bs)]),
        }
    }

    /// The first `max` bytes of `f` (holes and unwritten extents read
    /// as zeros).
    pub fn read_head(&self, f: &Found, max: u64) -> Result<Vec<u8>, String> {
        let want = f.inode.size.min(max).min(MAX_READ);
        if f.inode.format == format::LOCAL {
            return Ok(bytes(&f.local, 0, usize_of(want)).to_vec());
        }
        let bs = self.fs.bs;
        let mut out = Vec::with_capacity(usize_of(want));
        let mut l = 0u64;
        while u64_of(out.len()) < want {
            let b = self
                .file_block(f, l)
                .map_err(|e| format!("file block {l} of inode {} does not read: {e}", f.ino))?;
            let take = usize_of(want.saturating_sub(u64_of(out.len())).min(bs));
            out.extend_from_slice(bytes(&b, 0, take));
            l = l.saturating_add(1);
        }
        Ok(out)
    }

    /// The target of symlink `f` (local, or in remote blocks behind a
    /// v5 `XSLM` header each).
    pub fn link_target(&self, f: &Found) -> Result<String, String> {
        let len = f.inode.size;
        if len == 0 || len > MAX_LINK_LEN {
            return Err(format!("symlink inode {} has length {len}", f.ino));
        }
        let raw = if f.inode.format == format::LOCAL {
            bytes(&f.local, 0, usize_of(len)).to_vec()
        } else {
            let mut out = Vec::new();
            let mut l = 0u64;
            while u64_of(out.len()) < len && l < 8 {
                let b = self.file_block(f, l)?;
                let body = if self.fs.v5 {
                    if be32(&b, 0) != SYMLINK_MAGIC {
                        return Err(format!(
                            "symlink inode {}: its block {l} has no XSLM header",
                            f.ino
                        ));
                    }
                    bytes(&b, SYMLINK_HDR, b.len().saturating_sub(SYMLINK_HDR))
                } else {
                    &b[..]
                };
                let take = usize_of(len.saturating_sub(u64_of(out.len())));
                out.extend_from_slice(bytes(body, 0, take.min(body.len())));
                l = l.saturating_add(1);
            }
            out
        };
        Ok(String::from_utf8_lossy(&raw).into_owned())
    }

    /// The inode number `name` has in directory `d`.
    fn entry(&self, d: &Found, name: &[u8]) -> Result<Option<u64>, String> {
        let mut hit = None;
        self.scan_dir(d, &mut |n, ino| {
            if n == name {
                hit = Some(ino);
                false
            } else {
                true
            }
        })?;
        Ok(hit)
    }

    /// The names in directory `f` (without `.` and `..`), at most `max`;
    /// `None` when it is not a directory or does not read.
    pub fn names(&self, f: &Found, max: usize) -> Option<Vec<String>> {
        if f.inode.mode & S_IFMT != S_IFDIR {
            return None;
        }
        let mut out = Vec::new();
        self.scan_dir(f, &mut |n, _| {
            if n != b"." && n != b".." {
                out.push(String::from_utf8_lossy(n).into_owned());
            }
            out.len() < max
        })
        .ok()?;
        Some(out)
    }

    /// Calls `each(name, ino)` for every entry of directory `d` until it
    /// returns false.
    fn scan_dir(&self, d: &Found, each: &mut dyn FnMut(&[u8], u64) -> bool) -> Result<(), String> {
        if d.inode.format == format::LOCAL {
            return self.scan_shortform(d, each);
        }
        let bs = self.fs.bs;
        let per = 1u64
            .checked_shl(u32::from(self.fs.sb.dirblklog))
            .unwrap_or(1)
            .max(1);
        let leaf_block = DIR_LEAF_OFFSET.checked_div(bs).unwrap_or(0);
        let mut starts: Vec<u64> = Vec::new();
        for r in &d.runs {
            let first = r.logical.checked_div(per).unwrap_or(0).saturating_mul(per);
            let mut l = first;
            while l < r.logical.saturating_add(r.len) && l < leaf_block {
                if starts.last() != Some(&l) {
                    starts.push(l);
                }
                if u64_of(starts.len()) > MAX_DIR_BLOCKS {
                    return Err(format!(
                        "directory inode {} has more than {MAX_DIR_BLOCKS} data blocks",
                        d.ino
                    ));
                }
                l = l.saturating_add(per);
            }
        }
        for l in starts {
            let mut blk = Vec::new();
            for k in 0..per {
                blk.extend(self.file_block(d, l.saturating_add(k)).map_err(|e| {
                    format!("directory inode {} block {l} does not read: {e}", d.ino)
                })?);
            }
            if !self.scan_data_block(d.ino, l, &blk, each)? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// One directory data block's entries; false when `each` stopped.
    fn scan_data_block(
        &self,
        ino: u64,
        l: u64,
        b: &[u8],
        each: &mut dyn FnMut(&[u8], u64) -> bool,
    ) -> Result<bool, String> {
        let magic = be32(b, 0);
        let hdr: usize = if self.fs.v5 { 64 } else { 16 };
        let end = if DIR_BLOCK_MAGICS.contains(&magic) {
            // Block form: leaf entries and the tail {count, stale} at the end.
            let count = usize_of(u64::from(be32(b, b.len().saturating_sub(8))));
            b.len()
                .saturating_sub(8)
                .saturating_sub(count.saturating_mul(8))
        } else if DIR_DATA_MAGICS.contains(&magic) {
            b.len()
        } else {
            return Err(format!(
                "directory inode {ino} block {l} has magic {magic:#010x}, not a directory data block"
            ));
        };
        let mut at = hdr;
        while at.saturating_add(8) <= end {
            if be16(b, at) == 0xFFFF {
                let len = usize::from(be16(b, at.saturating_add(2)));
                if len < 8 || len % 8 != 0 {
                    return Err(format!(
                        "directory inode {ino} block {l}: a free entry of {len} bytes at {at}"
                    ));
                }
                at = at.saturating_add(len);
                continue;
            }
            let e_ino = be64(b, at);
            let namelen = usize::from(u8_at(b, at.saturating_add(8)));
            let name = bytes(b, at.saturating_add(9), namelen);
            if namelen == 0 || name.len() != namelen {
                return Err(format!(
                    "directory inode {ino} block {l}: an entry with a {namelen}-byte name at {at}"
                ));
            }
            if !each(name, e_ino) {
                return Ok(false);
            }
            let raw = 9usize
                .saturating_add(namelen)
                .saturating_add(usize::from(self.ftype))
                .saturating_add(2);
            at = at.saturating_add(raw.div_ceil(8).saturating_mul(8));
        }
        Ok(true)
    }

    /// A short-form directory (in the inode): header {count, i8count,
    /// parent}, entries {namelen, offset, name, [ftype], ino}.
    fn scan_shortform(
        &self,
        d: &Found,
        each: &mut dyn FnMut(&[u8], u64) -> bool,
    ) -> Result<(), String> {
        let b = &d.local;
        let count = usize::from(u8_at(b, 0));
        let i8 = u8_at(b, 1) != 0;
        let inosz: usize = if i8 { 8 } else { 4 };
        let read_ino = |at: usize| {
            if i8 {
                be64(b, at)
            } else {
                u64::from(be32(b, at))
            }
        };
        let parent = read_ino(2);
        if !each(b"..", parent) || !each(b".", d.ino) {
            return Ok(());
        }
        let mut at = 2usize.saturating_add(inosz);
        for _ in 0..count {
            let namelen = usize::from(u8_at(b, at));
            let name = bytes(b, at.saturating_add(3), namelen);
            if namelen == 0 || name.len() != namelen {
                return Err(format!(
                    "short-form directory inode {}: an entry with a {namelen}-byte name at {at}",
                    d.ino
                ));
            }
            let ino_at = at
                .saturating_add(3)
                .saturating_add(namelen)
                .saturating_add(usize::from(self.ftype));
            if ino_at.saturating_add(inosz) > b.len() {
                return Err(format!(
                    "short-form directory inode {}: entry at {at} runs past its fork",
                    d.ino
                ));
            }
            if !each(name, read_ino(ino_at)) {
                return Ok(());
            }
            at = ino_at.saturating_add(inosz);
        }
        Ok(())
    }
}

impl Found {
    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.inode.mode & S_IFMT == S_IFDIR
    }
    /// A regular file.
    pub fn is_reg(&self) -> bool {
        self.inode.mode & S_IFMT == S_IFREG
    }
    /// The byte ranges of its data in the filesystem: (first byte, bytes),
    /// unwritten extents left out, in file order.
    pub fn byte_ranges(&self, bs: u64) -> Vec<(u64, u64)> {
        self.runs
            .iter()
            .filter(|r| !r.unwritten)
            .map(|r| (r.byte, r.len.saturating_mul(bs)))
            .collect()
    }
}

fn components(path: &str) -> impl DoubleEndedIterator<Item = String> + '_ {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
}

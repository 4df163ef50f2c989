//! Files by path, for the boot chain (GRUB's prefix, grub.cfg, the
//! kernels it names): a bounded walk from the root inode through
//! directory blocks (linear, as the kernel's `ext4_find_entry` does
//! without an htree; an htree's index blocks read as empty records),
//! symlinks followed as GRUB's ext2 driver follows them, and a file's
//! block map (extent tree or indirect blocks) checked against the
//! filesystem's size. Read-only; every loop is bounded.

use crate::fs::Ext4;
use crate::inode::{EXTENTS_FL, INLINE_DATA_FL, Inode};
use imgcheck_core::bytes::{bytes, le16, le32, u8_at, usize_of};

/// Root directory inode.
const ROOT_INO: u32 = 2;
/// Path components followed, symlinks included (Linux's MAXSYMLINKS is
/// 40; GRUB's ext2 driver gives up after 8 nested links).
const MAX_STEPS: usize = 64;
/// Symlinks followed in one lookup (GRUB: `GRUB_FSHELP_MAX_SYMLINK_DEPTH` 8).
const MAX_LINKS: usize = 8;
/// Extent tree depth (the kernel's `EXT4_MAX_EXTENT_DEPTH` is 5).
const MAX_DEPTH: u16 = 5;
/// Tree nodes or indirect blocks read for one file.
const MAX_NODES: usize = 4096;
/// Runs kept for one file.
const MAX_RUNS: usize = 1 << 16;
/// Directory blocks read for one directory (64 MiB of 4 KiB blocks).
const MAX_DIR_BLOCKS: u64 = 16384;

/// A contiguous run of a file's blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// First logical block.
    pub logical: u64,
    /// First physical block.
    pub physical: u64,
    /// Blocks.
    pub len: u64,
}

/// A file found by path.
#[derive(Debug, Clone)]
pub struct Found {
    /// Its inode.
    pub inode: Inode,
    /// Its block map, as far as it reads.
    pub runs: Vec<Run>,
    /// Why its data does not map whole (a block past the filesystem, an
    /// unreadable tree node); holes are not problems.
    pub problem: Option<String>,
}

impl Ext4<'_> {
    /// The inode at `path` (absolute, `/`-separated, names matched
    /// exactly), following symlinks; `Ok(None)` when a component is
    /// absent, `Err` when a directory on the way does not read.
    pub fn lookup(&self, path: &str) -> Result<Option<Found>, String> {
        let mut stack: Vec<String> = components(path).rev().collect();
        let mut dir = self.inode_of(ROOT_INO)?;
        let mut parents: Vec<Inode> = Vec::new();
        let (mut steps, mut links) = (0usize, 0usize);
        while let Some(name) = stack.pop() {
            steps = steps.saturating_add(1);
            if steps > MAX_STEPS {
                return Err(format!("more than {MAX_STEPS} path steps"));
            }
            if name == ".." {
                if let Some(p) = parents.pop() {
                    dir = p;
                }
                continue;
            }
            if !dir.is_dir() {
                return Ok(None);
            }
            let Some(ino) = self.entry(&dir, &name)? else {
                return Ok(None);
            };
            let next = self.inode_of(ino)?;
            if next.fmt() == 0xA000 {
                links = links.saturating_add(1);
                if links > MAX_LINKS {
                    return Err(format!("more than {MAX_LINKS} symlinks in {path}"));
                }
                let target = self.link_target(&next)?;
                if target.starts_with('/') {
                    dir = self.inode_of(ROOT_INO)?;
                    parents.clear();
                }
                for c in components(&target).rev() {
                    stack.push(c);
                }
                continue;
            }
            parents.push(std::mem::replace(&mut dir, next));
        }
        let (runs, problem) = self.map(&dir);
        Ok(Some(Found {
            inode: dir,
            runs,
            problem,
        }))
    }

    /// The first `max` bytes of `f` (holes read as zeros).
    pub fn read_head(&self, f: &Found, max: u64) -> Result<Vec<u8>, String> {
        let want = f.inode.i_size.min(max);
        if f.inode.i_flags & INLINE_DATA_FL != 0 {
            return Ok(bytes(&f.inode.i_block, 0, usize_of(want)).to_vec());
        }
        let mut out = vec![0u8; usize_of(want)];
        for r in &f.runs {
            for k in 0..r.len {
                let l = r.logical.saturating_add(k);
                let at = l.saturating_mul(self.bs);
                if at >= want {
                    break;
                }
                let b = self
                    .block(r.physical.saturating_add(k))
                    .map_err(|_| format!("block {} does not read", r.physical.saturating_add(k)))?;
                let end = at.saturating_add(self.bs).min(want);
                if let Some(dst) = out.get_mut(usize_of(at)..usize_of(end)) {
                    let n = dst.len();
                    dst.copy_from_slice(bytes(&b, 0, n));
                }
            }
        }
        Ok(out)
    }

    /// The names in directory `f`, at most `max`; `None` when it is not
    /// a directory or a block of it does not read.
    pub fn names(&self, f: &Found, max: usize) -> Option<Vec<String>> {
        if !f.inode.is_dir() {
            return None;
        }
        let mut out = Vec::new();
        self.scan_dir(&f.inode, |name, _| {
            if name != "." && name != ".." {
                out.push(name.to_string());
            }
            out.len() >= max
        })
        .ok()?;
        Some(out)
    }

    fn inode_of(&self, ino: u32) -> Result<Inode, String> {
        self.inode(ino)
            .map_err(|_| format!("inode {ino} does not read"))
    }

    fn link_target(&self, i: &Inode) -> Result<String, String> {
        if i.is_fast_symlink() {
            return Ok(String::from_utf8_lossy(bytes(&i.i_block, 0, usize_of(i.i_size))).into());
        }
        let (runs, problem) = self.map(i);
        if let Some(p) = problem {
            return Err(format!("symlink inode {}: {p}", i.ino));
        }
        let f = Found {
            inode: i.clone(),
            runs,
            problem: None,
        };
        let b = self.read_head(&f, 4096)?;
        Ok(String::from_utf8_lossy(&b).into())
    }

    /// The inode `name` names in `dir`.
    fn entry(&self, dir: &Inode, name: &str) -> Result<Option<u32>, String> {
        let mut hit = None;
        let ok = self.scan_dir(dir, |n, ino| {
            if n == name && ino != 0 {
                hit = Some(ino);
                true
            } else {
                false
            }
        });
        match (hit, ok) {
            (Some(i), _) => Ok(Some(i)),
            (None, Err(e)) => Err(e),
            (None, Ok(())) => Ok(None),
        }
    }

    /// Calls `f(name, inode)` for each entry of `dir` until it returns
    /// true; `Err` when a directory block does not map or read.
    fn scan_dir(&self, dir: &Inode, mut f: impl FnMut(&str, u32) -> bool) -> Result<(), String> {
        if dir.i_flags & INLINE_DATA_FL != 0 {
            // i_block: the parent's inode, then entries.
            let b = &dir.i_block;
            return {
                entries(bytes(b, 4, 56), &mut f);
                Ok(())
            };
        }
        let (runs, problem) = self.map(dir);
        let mut read = 0u64;
        for r in &runs {
            for k in 0..r.len {
                read = read.saturating_add(1);
                if read > MAX_DIR_BLOCKS {
                    return Err(format!("directory inode {} is too long", dir.ino));
                }
                let p = r.physical.saturating_add(k);
                let b = self
                    .block(p)
                    .map_err(|_| format!("directory block {p} does not read"))?;
                if entries(&b, &mut f) {
                    return Ok(());
                }
            }
        }
        match problem {
            Some(p) => Err(format!("directory inode {}: {p}", dir.ino)),
            None => Ok(()),
        }
    }

    /// `i`'s block map and, when it does not cover the file, why.
    pub fn map(&self, i: &Inode) -> (Vec<Run>, Option<String>) {
        let mut runs = Vec::new();
        let mut nodes = 0usize;
        let mut problem = None;
        if i.i_flags & INLINE_DATA_FL != 0 {
            return (runs, None);
        }
        if i.i_flags & EXTENTS_FL != 0 {
            self.path_extent_node(&i.i_block, MAX_DEPTH, &mut runs, &mut nodes, &mut problem);
        } else if !i.is_fast_symlink() {
            let blocks = i.i_size.div_ceil(self.bs);
            for (k, at) in (0u64..12).zip((0usize..).step_by(4)) {
                let p = u64::from(le32(&i.i_block, at));
                if p != 0 {
                    self.path_push(&mut runs, k, p, 1, &mut problem);
                }
            }
            let per = self.bs / 4;
            let mut base = 12u64;
            for (level, at) in [(1u32, 48usize), (2, 52), (3, 56)] {
                let p = u64::from(le32(&i.i_block, at));
                let span = per.saturating_pow(level);
                if p != 0 && base < blocks {
                    self.path_indirect(p, level, base, &mut runs, &mut nodes, &mut problem);
                }
                base = base.saturating_add(span);
            }
        }
        // Unmapped blocks below i_size are holes, read as zeros by the
        // kernel and by GRUB alike (mke2fs -d and cp --sparse make them in
        // kernels): not a file that fails to read.
        (runs, problem)
    }

    fn path_push(
        &self,
        runs: &mut Vec<Run>,
        logical: u64,
        physical: u64,
        len: u64,
        problem: &mut Option<String>,
    ) {
        if physical == 0 || physical.saturating_add(len) > self.sb.s_blocks_count {
            problem.get_or_insert_with(|| {
                format!(
                    "logical block {logical} maps to block {physical}, outside the filesystem's {} blocks",
                    self.sb.s_blocks_count
                )
            });
            return;
        }
        if runs.len() < MAX_RUNS {
            runs.push(Run {
                logical,
                physical,
                len,
            });
        }
    }

    fn path_extent_node(
        &self,
        b: &[u8],
        depth_left: u16,
        runs: &mut Vec<Run>,
        nodes: &mut usize,
        problem: &mut Option<String>,
    ) {
        *nodes = nodes.saturating_add(1);
        if *nodes > MAX_NODES || problem.is_some() {
            return;
        }
        if le16(b, 0) != 0xF30A {
            *problem = Some("an extent tree node has no extent magic".into());
            return;
        }
        let n = usize::from(le16(b, 2));
        let depth = le16(b, 6);
        if depth > depth_left || n.saturating_mul(12).saturating_add(12) > b.len() {
            *problem = Some(format!(
                "an extent tree node is inconsistent (depth {depth}, {n} entries)"
            ));
            return;
        }
        for k in 0..n {
            let e = bytes(b, 12usize.saturating_add(k.saturating_mul(12)), 12);
            if depth == 0 {
                let logical = u64::from(le32(e, 0));
                let raw = u64::from(le16(e, 4));
                let len = if raw > 32768 {
                    raw.saturating_sub(32768)
                } else {
                    raw
                };
                let physical = u64::from(le32(e, 8)) | (u64::from(le16(e, 6)) << 32);
                self.path_push(runs, logical, physical, len, problem);
            } else {
                let child = u64::from(le32(e, 4)) | (u64::from(le16(e, 8)) << 32);
                match self.block(child) {
                    Ok(cb) => {
                        self.path_extent_node(&cb, depth.saturating_sub(1), runs, nodes, problem)
                    }
                    Err(_) => {
                        problem.get_or_insert_with(|| {
                            format!("extent tree block {child} does not read")
                        });
                    }
                }
            }
        }
    }

    fn path_indirect(
        &self,
        blk: u64,
        level: u32,
        base: u64,
        runs: &mut Vec<Run>,
        nodes: &mut usize,
        problem: &mut Option<String>,
    ) {
        *nodes = nodes.saturating_add(1);
        if *nodes > MAX_NODES || problem.is_some() {
            return;
        }
        let Ok(b) = self.block(blk) else {
            problem.get_or_insert_with(|| format!("indirect block {blk} does not read"));
            return;
        };
        let per = self.bs / 4;
        let span = per.saturating_pow(level.saturating_sub(1));
        for k in 0..per {
            let p = u64::from(le32(&b, usize_of(k.saturating_mul(4))));
            if p == 0 {
                continue;
            }
            let at = base.saturating_add(k.saturating_mul(span));
            if level == 1 {
                self.path_push(runs, at, p, 1, problem);
            } else {
                self.path_indirect(p, level.saturating_sub(1), at, runs, nodes, problem);
            }
        }
    }
}

/// The path's names, `.` and empty ones dropped.
fn components(path: &str) -> impl DoubleEndedIterator<Item = String> + '_ {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
}

/// Calls `f` on each live entry of one directory block; true when `f` did.
fn entries(b: &[u8], f: &mut impl FnMut(&str, u32) -> bool) -> bool {
    let mut at = 0usize;
    while at.saturating_add(8) <= b.len() {
        let ino = le32(b, at);
        let rec = usize::from(le16(b, at.saturating_add(4)));
        let nl = usize::from(u8_at(b, at.saturating_add(6)));
        if rec < 8 || rec % 4 != 0 || nl.saturating_add(8) > rec {
            return false;
        }
        if ino != 0 && nl > 0 {
            let name = String::from_utf8_lossy(bytes(b, at.saturating_add(8), nl));
            if f(&name, ino) {
                return true;
            }
        }
        at = at.saturating_add(rec);
    }
    false
}

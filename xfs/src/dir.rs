//! Directories in every form: short form (inline), block, leaf and node,
//! read block by block through the directory's extent map and checked as
//! the kernel's verifiers (`__xfs_dir3_data_check`, the leaf, node and
//! free-index verifiers) and `xfs_repair`'s phase 3 and 6 do: entries,
//! tags, the bestfree tables, the hash index against the entries, the
//! free index against the data blocks.

use crate::crc;
use crate::fs::Fs;
use crate::inode::Extent;
use imgcheck_core::bytes::{arr, be16, be32, be64, bytes, u8_at};
use std::collections::{HashMap, HashSet};

/// Entries one directory may hold before the check stops reading it.
pub const MAX_DIR_ENTRIES: usize = 1 << 22;
/// Directory blocks one directory may have before the check stops.
pub const MAX_DIR_BLOCKS: u64 = 1 << 20;

const XDB3: u32 = 0x5844_4233;
const XD2B: u32 = 0x5844_3242;
const XDD3: u32 = 0x5844_4433;
const XD2D: u32 = 0x5844_3244;
const XDF3: u32 = 0x5844_4633;
const XD2F: u32 = 0x5844_3246;
const LEAF1_V5: u16 = 0x3DF1;
const LEAF1_V4: u16 = 0xD2F1;
const LEAFN_V5: u16 = 0x3DFF;
const LEAFN_V4: u16 = 0xD2FF;
const NODE_V5: u16 = 0x3EBE;
const NODE_V4: u16 = 0xFEBE;
const NULL_DATAOFF: u16 = 0xFFFF;

/// One named entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The name.
    pub name: Vec<u8>,
    /// The inode it names.
    pub ino: u64,
    /// Its file type (0 when the filesystem records none).
    pub ftype: u8,
    /// Byte offset of the entry in the reader.
    pub at: u64,
}

/// What a directory holds.
#[derive(Debug, Default)]
pub struct Dir {
    /// Entries other than `.` and `..`.
    pub entries: Vec<Entry>,
    /// What `..` names.
    pub parent: Option<u64>,
    /// The directory could not be read completely.
    pub damaged: bool,
}

/// `xfs_da_hashname` (ASCII case folded when `ci`).
pub fn hashname(name: &[u8], ci: bool) -> u32 {
    name.iter().fold(0u32, |h, &c| {
        let c = if ci { c.to_ascii_lowercase() } else { c };
        u32::from(c) ^ h.rotate_left(7)
    })
}

pub(crate) fn name_ok(n: &[u8]) -> bool {
    !n.is_empty() && !n.iter().any(|&c| c == 0 || c == b'/')
}

/// Context for reading one directory.
pub struct DirCx<'m> {
    /// The directory's inode number.
    pub ino: u64,
    /// Its data fork, sorted by file offset.
    pub map: &'m [Extent],
    /// `di_size`.
    pub size: u64,
    /// The inode's byte offset, where findings with no block of their own point.
    pub at: u64,
}

impl DirCx<'_> {
    fn lookup(&self, fsb_off: u64) -> Option<u64> {
        let i = self
            .map
            .partition_point(|e| e.off.saturating_add(e.len) <= fsb_off);
        let e = self.map.get(i)?;
        (e.off <= fsb_off).then(|| e.start.saturating_add(fsb_off.saturating_sub(e.off)))
    }
}

/// A live leaf entry: (hash, data address).
type LeafEnt = (u32, u32);

/// Reads a block, leaf or node directory through its map.
pub fn blocks(fs: &mut Fs<'_>, cx: &DirCx<'_>) -> Dir {
    let mut d = Dir::default();
    let dirblklog = u32::from(fs.sb.dirblklog);
    let fsb_per = 1u64 << dirblklog.min(16);
    let dbsize = fs.bs.saturating_mul(fsb_per);
    let leaf_fsb = (1u64 << 35).checked_div(fs.bs).unwrap_or(u64::MAX);
    let free_fsb = (1u64 << 36).checked_div(fs.bs).unwrap_or(u64::MAX);
    let ci = fs.sb.versionnum & crate::sb::version::BORG != 0;
    // Data entries: (hash, address); names for duplicates.
    let mut data_ents: Vec<LeafEnt> = Vec::new();
    let mut names: HashSet<Vec<u8>> = HashSet::new();
    let mut bests: HashMap<u64, u16> = HashMap::new();
    let mut leaf_ents: Vec<LeafEnt> = Vec::new();
    let mut leaf1: Option<(u64, Vec<u8>)> = None;
    let mut frees: Vec<(u64, Vec<u8>, u64)> = Vec::new();
    let mut leafn_count = 0u64;
    let mut block_form = false;
    let mut root_node = false;
    let mut last_data_db: Option<u64> = None;
    // Every dir block start in the map, in order.
    let mut starts: Vec<u64> = Vec::new();
    for e in cx.map {
        let first = e.off.div_ceil(fsb_per).saturating_mul(fsb_per);
        let mut o = first;
        while o < e.off.saturating_add(e.len) {
            if Fs::w(starts.len()) >= MAX_DIR_BLOCKS {
                fs.incomplete.get_or_insert_with(|| {
                    format!(
                        "directory inode {} has more than {MAX_DIR_BLOCKS} blocks",
                        cx.ino
                    )
                });
                break;
            }
            if starts.last() != Some(&o) {
                starts.push(o);
            }
            o = o.saturating_add(fsb_per);
        }
    }
    for &lblk in &starts {
        let Some(buf) = read_dir_block(fs, cx, lblk, fsb_per, dbsize) else {
            d.damaged = true;
            continue;
        };
        let Some(fsb0) = cx.lookup(lblk) else {
            continue;
        };
        let disk = fsb_byte(fs, fsb0);
        let db = lblk.checked_div(fsb_per).unwrap_or(0);
        if lblk < leaf_fsb {
            let magic = be32(&buf, 0);
            let (is_block, ok_magic) = match (fs.v5, magic) {
                (true, XDB3) | (false, XD2B) => (true, true),
                (true, XDD3) | (false, XD2D) => (false, true),
                _ => (false, false),
            };
            if !ok_magic {
                fs.error(
                    "xfs.dir.data.magic",
                    disk,
                    format!(
                        "directory inode {}: data block {db} has bad magic {magic:#x}",
                        cx.ino
                    ),
                );
                d.damaged = true;
                continue;
            }
            if is_block && (lblk != 0 || cx.size != dbsize) {
                fs.error("xfs.dir.data.magic", disk, format!("directory inode {}: a single-block directory block at block {db} of a {}-byte directory", cx.ino, cx.size));
            }
            block_form |= is_block;
            if fs.v5
                && !v5_hdr(
                    fs,
                    &buf,
                    disk,
                    cx.ino,
                    4,
                    8,
                    0x18,
                    0x28,
                    "directory data block",
                )
            {
                d.damaged = true;
                continue;
            }
            let (bf_at, hdr) = if fs.v5 { (0x30usize, 64usize) } else { (4, 16) };
            let mut end = Fs::u(dbsize);
            if is_block {
                let count = be32(&buf, end.saturating_sub(8));
                let stale = be32(&buf, end.saturating_sub(4));
                let leaf_at = end
                    .saturating_sub(8)
                    .saturating_sub(Fs::u(u64::from(count)).saturating_mul(8));
                if u64::from(count)
                    .saturating_mul(8)
                    .saturating_add(8)
                    .saturating_add(Fs::w(hdr))
                    > dbsize
                    || stale > count
                {
                    fs.error("xfs.dir.block.tail", disk.saturating_add(dbsize).saturating_sub(8), format!("directory inode {}: block tail count {count} stale {stale} do not fit the block", cx.ino));
                    d.damaged = true;
                    continue;
                }
                end = leaf_at;
                let mut prev = 0u32;
                let mut nstale = 0u32;
                for i in 0..Fs::u(u64::from(count)) {
                    let p = leaf_at.saturating_add(i.saturating_mul(8));
                    let h = be32(&buf, p);
                    let a = be32(&buf, p.saturating_add(4));
                    if h < prev {
                        fs.error(
                            "xfs.dir.leaf.order",
                            disk.saturating_add(Fs::w(p)),
                            format!(
                                "directory inode {}: block leaf entry {i} is out of hash order",
                                cx.ino
                            ),
                        );
                    }
                    prev = h;
                    if a == 0 {
                        nstale = nstale.saturating_add(1);
                    } else {
                        leaf_ents.push((h, a));
                    }
                }
                if nstale != stale {
                    fs.error("xfs.dir.block.tail", disk.saturating_add(dbsize).saturating_sub(4), format!("directory inode {}: block tail says {stale} stale leaf entries, {nstale} are", cx.ino));
                }
            }
            let best = data_block(
                fs,
                cx.ino,
                &buf,
                disk,
                hdr,
                end,
                bf_at,
                db,
                dbsize,
                ci,
                &mut data_ents,
                &mut names,
                &mut d,
            );
            bests.insert(db, best);
            last_data_db = Some(db);
        } else if lblk < free_fsb {
            let magic = be16(&buf, 8);
            match magic {
                LEAF1_V5 | LEAF1_V4 | LEAFN_V5 | LEAFN_V4 | NODE_V5 | NODE_V4 => {}
                _ => {
                    fs.error(
                        "xfs.dir.leaf.magic",
                        disk,
                        format!(
                            "directory inode {}: leaf block {db} has bad magic {magic:#x}",
                            cx.ino
                        ),
                    );
                    d.damaged = true;
                    continue;
                }
            }
            let v5_magic = matches!(magic, LEAF1_V5 | LEAFN_V5 | NODE_V5);
            if v5_magic != fs.v5 {
                fs.error("xfs.dir.leaf.magic", disk, format!("directory inode {}: leaf block {db} has the other version's magic {magic:#x}", cx.ino));
                d.damaged = true;
                continue;
            }
            if fs.v5
                && !v5_hdr(
                    fs,
                    &buf,
                    disk,
                    cx.ino,
                    12,
                    16,
                    32,
                    48,
                    "directory leaf block",
                )
            {
                d.damaged = true;
                continue;
            }
            let (cnt_at, hdr) = if fs.v5 { (56usize, 64usize) } else { (12, 16) };
            let count = usize::from(be16(&buf, cnt_at));
            if matches!(magic, NODE_V5 | NODE_V4) {
                if lblk == leaf_fsb {
                    root_node = true;
                }
                let level = be16(&buf, cnt_at.saturating_add(2));
                if level == 0
                    || level > 5
                    || Fs::w(hdr.saturating_add(count.saturating_mul(8))) > dbsize
                {
                    fs.error("xfs.dir.node.header", disk.saturating_add(Fs::w(cnt_at)), format!("directory inode {}: node block {db} has level {level} and {count} entries", cx.ino));
                    d.damaged = true;
                    continue;
                }
                let mut prev = 0u32;
                for i in 0..count {
                    let p = hdr.saturating_add(i.saturating_mul(8));
                    let h = be32(&buf, p);
                    let before = u64::from(be32(&buf, p.saturating_add(4)));
                    if h < prev {
                        fs.error(
                            "xfs.dir.node.order",
                            disk.saturating_add(Fs::w(p)),
                            format!(
                                "directory inode {}: node entry {i} is out of hash order",
                                cx.ino
                            ),
                        );
                    }
                    prev = h;
                    let target = before.saturating_mul(1);
                    if target < leaf_fsb || target >= free_fsb || cx.lookup(target).is_none() {
                        fs.error("xfs.dir.node.ptr", disk.saturating_add(Fs::w(p)).saturating_add(4), format!("directory inode {}: node entry {i} points at block {before}, not a leaf block of the directory", cx.ino));
                    }
                }
                continue;
            }
            let stale = usize::from(be16(&buf, cnt_at.saturating_add(2)));
            let leaf1_form = matches!(magic, LEAF1_V5 | LEAF1_V4);
            let tail_len = if leaf1_form {
                let bc = Fs::u(u64::from(be32(&buf, Fs::u(dbsize).saturating_sub(4))));
                bc.saturating_mul(2).saturating_add(4)
            } else {
                0
            };
            if Fs::w(
                hdr.saturating_add(count.saturating_mul(8))
                    .saturating_add(tail_len),
            ) > dbsize
                || stale > count
            {
                fs.error("xfs.dir.leaf.header", disk.saturating_add(Fs::w(cnt_at)), format!("directory inode {}: leaf block {db} claims {count} entries ({stale} stale), more than fit", cx.ino));
                d.damaged = true;
                continue;
            }
            let mut prev = 0u32;
            let mut nstale = 0usize;
            for i in 0..count {
                let p = hdr.saturating_add(i.saturating_mul(8));
                let h = be32(&buf, p);
                let a = be32(&buf, p.saturating_add(4));
                if h < prev {
                    fs.error(
                        "xfs.dir.leaf.order",
                        disk.saturating_add(Fs::w(p)),
                        format!(
                            "directory inode {}: leaf entry {i} of block {db} is out of hash order",
                            cx.ino
                        ),
                    );
                }
                prev = h;
                if a == 0 {
                    nstale = nstale.saturating_add(1);
                } else {
                    leaf_ents.push((h, a));
                }
            }
            if nstale != stale {
                fs.error("xfs.dir.leaf.header", disk.saturating_add(Fs::w(cnt_at)).saturating_add(2), format!("directory inode {}: leaf block {db} says {stale} stale entries, {nstale} are", cx.ino));
            }
            if leaf1_form {
                if leaf1.is_some() || lblk != leaf_fsb {
                    fs.error(
                        "xfs.dir.leaf.magic",
                        disk,
                        format!(
                            "directory inode {}: a single-leaf block at block {db}",
                            cx.ino
                        ),
                    );
                }
                leaf1 = Some((disk, buf));
            } else {
                leafn_count = leafn_count.saturating_add(1);
            }
        } else {
            let magic = be32(&buf, 0);
            if magic != if fs.v5 { XDF3 } else { XD2F } {
                fs.error(
                    "xfs.dir.free.magic",
                    disk,
                    format!(
                        "directory inode {}: free index block {db} has bad magic {magic:#x}",
                        cx.ino
                    ),
                );
                d.damaged = true;
                continue;
            }
            if fs.v5
                && !v5_hdr(
                    fs,
                    &buf,
                    disk,
                    cx.ino,
                    4,
                    8,
                    0x18,
                    0x28,
                    "directory free index block",
                )
            {
                d.damaged = true;
                continue;
            }
            frees.push((disk, buf, lblk));
        }
    }
    // The hash tree over the leaves, from its root at the leaf offset.
    let (cnt_at, lhdr) = if fs.v5 { (56usize, 64usize) } else { (12, 16) };
    if root_node {
        let dcx = crate::datree::DaCx {
            ino: cx.ino,
            at: cx.at,
            map: cx.map,
            fsbs: fsb_per,
            leaf_magic: (LEAFN_V4, LEAFN_V5),
            what: "directory",
            code: "xfs.dir.node",
        };
        crate::datree::walk(fs, &dcx, leaf_fsb, &|b| {
            crate::datree::last_hash(b, cnt_at, lhdr)
        });
    } else if leaf1.is_some() {
        let dcx = crate::datree::DaCx {
            ino: cx.ino,
            at: cx.at,
            map: cx.map,
            fsbs: fsb_per,
            leaf_magic: (LEAF1_V4, LEAF1_V5),
            what: "directory",
            code: "xfs.dir.leaf",
        };
        crate::datree::walk(fs, &dcx, leaf_fsb, &|_| None);
    }
    // The form the blocks make.
    let has_leaf = leaf1.is_some() || leafn_count > 0;
    if block_form && (has_leaf || !frees.is_empty() || starts.len() > 1) {
        fs.error(
            "xfs.dir.form",
            cx.at,
            format!(
                "directory inode {}: a single-block directory with other blocks",
                cx.ino
            ),
        );
    }
    if !block_form && !starts.is_empty() && !has_leaf && !d.damaged {
        fs.error(
            "xfs.dir.form",
            cx.at,
            format!(
                "directory inode {}: data blocks without a leaf index",
                cx.ino
            ),
        );
        d.damaged = true;
    }
    if let Some(last) = last_data_db {
        let want = last.saturating_add(1).saturating_mul(dbsize);
        if cx.size != want && !d.damaged {
            fs.error(
                "xfs.dir.size",
                cx.at,
                format!(
                    "directory inode {}: size {} but its data blocks end at {want}",
                    cx.ino, cx.size
                ),
            );
        }
    }
    // The hash index names exactly the entries.
    if !d.damaged {
        data_ents.sort_unstable();
        leaf_ents.sort_unstable();
        if data_ents != leaf_ents {
            fs.error(
                "xfs.dir.leaf.entries",
                cx.at,
                format!("directory inode {}: the hash index holds {} live entries, the data blocks {} (or their hashes or addresses differ)", cx.ino, leaf_ents.len(), data_ents.len()),
            );
        }
    }
    // Bests: in the single leaf's tail, or the free index blocks.
    if let Some((disk, buf)) = &leaf1 {
        let end = Fs::u(dbsize);
        let bc = u64::from(be32(buf, end.saturating_sub(4)));
        let at = end
            .saturating_sub(4)
            .saturating_sub(Fs::u(bc).saturating_mul(2));
        let expect_n = last_data_db.map_or(0, |l| l.saturating_add(1));
        if bc != expect_n {
            fs.error("xfs.dir.leaf.bests", disk.saturating_add(dbsize).saturating_sub(4), format!("directory inode {}: leaf tail counts {bc} data blocks, the directory has {expect_n}", cx.ino));
        } else {
            for i in 0..bc {
                let v = be16(buf, at.saturating_add(Fs::u(i).saturating_mul(2)));
                let want = bests.get(&i).copied().unwrap_or(NULL_DATAOFF);
                if v != want {
                    fs.error("xfs.dir.leaf.bests", disk.saturating_add(Fs::w(at)), format!("directory inode {}: leaf tail gives data block {i} {v} free bytes, the block's table says {want}", cx.ino));
                    break;
                }
            }
        }
    }
    let per_free = dbsize.saturating_sub(if fs.v5 { 64 } else { 16 }) / 2;
    // A node directory indexes the free space of every data block: free
    // block k, at the k-th directory block of the free offset, covers the
    // data blocks from k × per_free.
    let mut covered: std::collections::HashSet<u64> = std::collections::HashSet::new();
    for (disk, buf, lblk) in &frees {
        let k = lblk
            .saturating_sub(free_fsb)
            .checked_div(fsb_per)
            .unwrap_or(0);
        let fd_want = k.saturating_mul(per_free);
        let fd_have = u64::from(if fs.v5 { be32(buf, 0x30) } else { be32(buf, 4) });
        if fd_have != fd_want {
            fs.error("xfs.dir.free.header", *disk, format!("directory inode {}: free index block {k} starts at data block {fd_have}, not {fd_want}", cx.ino));
        } else {
            covered.insert(k);
        }
    }
    if leafn_count > 0
        && !d.damaged
        && let Some(last) = last_data_db
    {
        let need = last.checked_div(per_free).unwrap_or(0);
        if let Some(k) = (0..=need.min(1 << 20)).find(|k| !covered.contains(k)) {
            fs.error(
                "xfs.dir.free.missing",
                cx.at,
                format!(
                    "directory inode {}: no free index block {k} for its data blocks",
                    cx.ino
                ),
            );
        }
    }
    for (disk, buf, _) in &frees {
        let (fd, nv, nu, hdr) = if fs.v5 {
            (be32(buf, 0x30), be32(buf, 0x34), be32(buf, 0x38), 64usize)
        } else {
            (be32(buf, 4), be32(buf, 8), be32(buf, 12), 16)
        };
        if u64::from(nv) > per_free
            || nu > nv
            || u64::from(fd).checked_rem(per_free).unwrap_or(1) != 0
        {
            fs.error("xfs.dir.free.header", disk.saturating_add(Fs::w(hdr)).saturating_sub(16), format!("directory inode {}: free index block for data block {fd} has {nv} valid and {nu} used entries", cx.ino));
            continue;
        }
        let mut used = 0u32;
        for i in 0..u64::from(nv) {
            let v = be16(buf, hdr.saturating_add(Fs::u(i).saturating_mul(2)));
            let want = bests
                .get(&u64::from(fd).saturating_add(i))
                .copied()
                .unwrap_or(NULL_DATAOFF);
            if v != NULL_DATAOFF {
                used = used.saturating_add(1);
            }
            if v != want {
                fs.error("xfs.dir.free.bests", disk.saturating_add(Fs::w(hdr)), format!("directory inode {}: free index gives data block {} {v} free bytes, the block's table says {want}", cx.ino, u64::from(fd).saturating_add(i)));
                break;
            }
        }
        if used != nu {
            fs.error(
                "xfs.dir.free.header",
                *disk,
                format!(
                    "directory inode {}: free index block says {nu} data blocks in use, {used} are",
                    cx.ino
                ),
            );
        }
    }
    d
}

fn fsb_byte(fs: &Fs<'_>, fsb: u64) -> u64 {
    fs.fsb_split(fsb).map_or(0, |(a, b)| fs.agb_byte(a, b))
}

/// A directory block of `fsb_per` filesystem blocks starting at file block `lblk`.
fn read_dir_block(
    fs: &mut Fs<'_>,
    cx: &DirCx<'_>,
    lblk: u64,
    fsb_per: u64,
    dbsize: u64,
) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(Fs::u(dbsize.min(1 << 16)));
    for k in 0..fsb_per {
        let Some(fsb) = cx.lookup(lblk.saturating_add(k)) else {
            fs.error(
                "xfs.dir.hole",
                cx.at,
                format!(
                    "directory inode {}: block {} of a directory block is not mapped",
                    cx.ino,
                    lblk.saturating_add(k)
                ),
            );
            return None;
        };
        let (a, b) = fs.fsb_split(fsb)?;
        let off = fs.agb_byte(a, b);
        let part = fs.read(off, fs.bs, "directory block")?;
        out.extend_from_slice(&part);
    }
    Some(out)
}

/// v5 self-describing header: CRC at `crc_at`, daddr at `blkno_at`, UUID,
/// owner. `false` when it is not this directory's block.
#[allow(clippy::too_many_arguments)]
fn v5_hdr(
    fs: &mut Fs<'_>,
    b: &[u8],
    disk: u64,
    ino: u64,
    crc_at: usize,
    blkno_at: usize,
    uuid_at: usize,
    owner_at: usize,
    what: &str,
) -> bool {
    if !crc::verify(b, crc_at) {
        fs.error(
            "xfs.dir.crc",
            disk.saturating_add(Fs::w(crc_at)),
            format!("directory inode {ino}: {what} at {disk:#x} has a bad CRC"),
        );
    }
    let blkno = be64(b, blkno_at);
    let uuid: [u8; 16] = arr(b, uuid_at);
    let owner = be64(b, owner_at);
    if blkno != disk / 512 || uuid != fs.uuid || owner != ino {
        fs.error(
            "xfs.dir.header",
            disk.saturating_add(Fs::w(blkno_at)),
            format!("directory inode {ino}: {what} at {disk:#x} does not describe itself (daddr {blkno}, owner {owner}, UUID {})", crate::sb::uuid_text(&uuid)),
        );
        return false;
    }
    fs.saw_lsn(
        be64(b, blkno_at.saturating_add(8)),
        disk.saturating_add(Fs::w(blkno_at)).saturating_add(8),
        "directory block",
    );
    true
}

/// Entries of one data block; returns `bestfree[0].length`.
#[allow(clippy::too_many_arguments)]
fn data_block(
    fs: &mut Fs<'_>,
    ino: u64,
    buf: &[u8],
    disk: u64,
    hdr: usize,
    end: usize,
    bf_at: usize,
    db: u64,
    dbsize: u64,
    ci: bool,
    data_ents: &mut Vec<LeafEnt>,
    names: &mut HashSet<Vec<u8>>,
    d: &mut Dir,
) -> u16 {
    let ftype = fs.sb.has_ftype();
    let bf: Vec<(u16, u16)> = (0..3usize)
        .map(|i| {
            (
                be16(buf, bf_at.saturating_add(i.saturating_mul(4))),
                be16(
                    buf,
                    bf_at.saturating_add(i.saturating_mul(4)).saturating_add(2),
                ),
            )
        })
        .collect();
    let mut frees: Vec<(u16, u16)> = Vec::new();
    let mut p = hdr;
    let mut last_free = false;
    let mut k = 0u64;
    while p < end {
        let here = disk.saturating_add(Fs::w(p));
        if be16(buf, p) == 0xFFFF {
            let len = usize::from(be16(buf, p.saturating_add(2)));
            let tag = usize::from(be16(buf, p.saturating_add(len).saturating_sub(2)));
            if len < 8 || len % 8 != 0 || p.saturating_add(len) > end || tag != p {
                fs.error("xfs.dir.data.unused", here, format!("directory inode {ino}: free space entry at offset {p} of data block {db} is corrupt (length {len}, tag {tag})"));
                d.damaged = true;
                return bf.first().map_or(0, |x| x.1);
            }
            if last_free {
                fs.error("xfs.dir.data.unused", here, format!("directory inode {ino}: two adjacent free space entries at offset {p} of data block {db}"));
            }
            last_free = true;
            frees.push((
                u16::try_from(p).unwrap_or(0),
                u16::try_from(len).unwrap_or(0),
            ));
            p = p.saturating_add(len);
            continue;
        }
        last_free = false;
        let child = be64(buf, p);
        let namelen = usize::from(u8_at(buf, p.saturating_add(8)));
        let name = bytes(buf, p.saturating_add(9), namelen).to_vec();
        let ft = if ftype {
            u8_at(buf, p.saturating_add(9).saturating_add(namelen))
        } else {
            0
        };
        let size = 11usize
            .saturating_add(namelen)
            .saturating_add(usize::from(ftype))
            .div_ceil(8)
            .saturating_mul(8);
        let tag = usize::from(be16(buf, p.saturating_add(size).saturating_sub(2)));
        if namelen == 0 || p.saturating_add(size) > end || tag != p {
            fs.error("xfs.dir.data.entry", here, format!("directory inode {ino}: entry at offset {p} of data block {db} is corrupt (name length {namelen}, tag {tag})"));
            d.damaged = true;
            return bf.first().map_or(0, |x| x.1);
        }
        if ftype && ft > 7 {
            fs.error(
                "xfs.dir.ftype",
                here,
                format!("directory inode {ino}: entry at offset {p} has file type {ft}"),
            );
        }
        let addr =
            u32::try_from((db.saturating_mul(dbsize).saturating_add(Fs::w(p))) / 8).unwrap_or(0);
        data_ents.push((hashname(&name, ci), addr));
        let is_dot = name == b".";
        let is_dotdot = name == b"..";
        if (is_dot || is_dotdot) && ftype && ft != 2 {
            fs.error(
                "xfs.dir.ftype",
                here,
                format!(
                    "directory inode {ino}: '{}' has file type {ft}, not directory",
                    if is_dot { "." } else { ".." }
                ),
            );
        }
        if db == 0 && k == 0 {
            if !is_dot || child != ino {
                fs.error(
                    "xfs.dir.dot",
                    here,
                    format!("directory inode {ino}: first entry is not '.' naming itself"),
                );
            }
        } else if db == 0 && k == 1 {
            if is_dotdot {
                d.parent = Some(child);
            } else {
                fs.error(
                    "xfs.dir.dotdot",
                    here,
                    format!("directory inode {ino}: second entry is not '..'"),
                );
            }
        } else if is_dot || is_dotdot || !name_ok(&name) {
            fs.error("xfs.dir.name", here, format!("directory inode {ino}: entry at offset {p} of data block {db} has an invalid name"));
        } else if d.entries.len() < MAX_DIR_ENTRIES {
            if !names.insert(name.clone()) {
                fs.error(
                    "xfs.dir.duplicate",
                    here,
                    format!(
                        "directory inode {ino}: the name {:?} appears twice",
                        String::from_utf8_lossy(&name)
                    ),
                );
            }
            d.entries.push(Entry {
                name,
                ino: child,
                ftype: ft,
                at: here,
            });
        }
        k = k.saturating_add(1);
        p = p.saturating_add(size);
    }
    // bestfree: the three longest free entries, longest first.
    let mut ok = bf.windows(2).all(|w| match w {
        [a, b] => a.1 >= b.1 && (a.1 != 0 || b.1 == 0),
        _ => true,
    });
    let tracked = bf.iter().filter(|x| x.1 != 0).count();
    let smallest = bf
        .iter()
        .filter(|x| x.1 != 0)
        .map(|x| x.1)
        .min()
        .unwrap_or(0);
    let mut matched = 0usize;
    for &(o, l) in &frees {
        if bf.iter().any(|&(bo, bl)| bl != 0 && bo == o && bl == l) {
            matched = matched.saturating_add(1);
        } else if tracked == 3 && l > smallest || tracked < 3 {
            ok = false;
        }
    }
    if matched != tracked || bf.iter().any(|&(o, l)| l == 0 && o != 0) {
        ok = false;
    }
    if !ok {
        fs.error("xfs.dir.data.bestfree", disk.saturating_add(Fs::w(bf_at)), format!("directory inode {ino}: the free space table of data block {db} does not match its free entries"));
    }
    bf.first().map_or(0, |x| x.1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn hash_matches_xfs_da_hashname() {
        // Two definitions of the same function: the 4-byte unrolled one of
        // the kernel and the byte loop.
        fn kernel(name: &[u8]) -> u32 {
            let mut h = 0u32;
            let mut n = name;
            while n.len() >= 4 {
                h = (u32::from(n[0]) << 21)
                    ^ (u32::from(n[1]) << 14)
                    ^ (u32::from(n[2]) << 7)
                    ^ u32::from(n[3])
                    ^ h.rotate_left(28);
                n = &n[4..];
            }
            match n.len() {
                3 => {
                    (u32::from(n[0]) << 14)
                        ^ (u32::from(n[1]) << 7)
                        ^ u32::from(n[2])
                        ^ h.rotate_left(21)
                }
                2 => (u32::from(n[0]) << 7) ^ u32::from(n[1]) ^ h.rotate_left(14),
                1 => u32::from(n[0]) ^ h.rotate_left(7),
                _ => h,
            }
        }
        for n in [&b"a"[..], b"..", b"lost+found", b"abcdefghijklmnopq"] {
            assert_eq!(super::hashname(n, false), kernel(n));
        }
    }
}

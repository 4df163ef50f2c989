//! Quota files: the dquot records in each quota inode (the kernel's
//! `xfs_dquot_buf_verify`/`xfs_dqblk_verify` and `xfs_dquot_from_disk`),
//! and their usage counts against the inodes' owners, recounted as
//! `xfs_repair -n` recounts them (repair/quotacheck.c: "user quota id N
//! has bcount X, expected Y", "... record for id N not found on disk").
//!
//! A quota file is an array of 136-byte `xfs_dqblk`s in chunks of
//! `XFS_DQUOT_CLUSTER_SIZE_FSB` blocks, which is one block (xfs_format.h;
//! a 1 KiB-block fixture's quota file maps id 1001 at file block 143 =
//! 1001 / 7): the dquot for id `i` is record `i % per_block` of file
//! block `i / per_block`. Holes are ids never charged.

use crate::crc;
use crate::fs::Fs;
use crate::inode::Extent;
use imgcheck_core::bytes::{be16, be32, be64, u8_at};
use std::collections::HashMap;

/// `XFS_DQUOT_MAGIC` ("DQ").
pub const DQUOT_MAGIC: u16 = 0x4451;
/// `sizeof(struct xfs_dqblk)`.
pub const DQBLK_SIZE: u64 = 136;
/// `XFS_DQUOT_CRC_OFF`: `dd_crc` inside an `xfs_dqblk`.
pub const DQUOT_CRC_OFF: usize = 0x6C;
/// `XFS_DQUOT_CLUSTER_SIZE_FSB`: blocks per dquot chunk.
pub const CLUSTER_BLOCKS: u64 = 1;
/// The most dquot chunks read per quota file (30 dquots each at 4 KiB).
pub const MAX_CHUNKS: usize = 1 << 20;
/// The most distinct (type, id) pairs tracked; past it counts are not
/// compared (ids come from inode cores, so this bounds memory).
pub const MAX_IDS: usize = 1 << 22;

/// `sb_qflags` bits (xfs_log_format.h).
pub mod qflags {
    /// User quota counts checked.
    pub const UQUOTA_CHKD: u16 = 0x0004;
    /// Project quota accounting.
    pub const PQUOTA_ACCT: u16 = 0x0008;
    /// v4: group or project counts checked (they share one inode).
    pub const OQUOTA_CHKD: u16 = 0x0020;
    /// Group quota counts checked (v5).
    pub const GQUOTA_CHKD: u16 = 0x0100;
    /// Project quota counts checked (v5).
    pub const PQUOTA_CHKD: u16 = 0x0400;
}

/// `d_type` record bits.
const DQTYPE_USER: u8 = 0x01;
const DQTYPE_PROJ: u8 = 0x02;
const DQTYPE_GROUP: u8 = 0x04;
const DQTYPE_BIGTIME: u8 = 0x80;
const DQTYPE_ANY: u8 = 0x87;

/// One quota type's file and what the inode walk charged to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    User,
    Group,
    Project,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::User => "user quota",
            Kind::Group => "group quota",
            Kind::Project => "project quota",
        }
    }
    fn dqtype(self) -> u8 {
        match self {
            Kind::User => DQTYPE_USER,
            Kind::Group => DQTYPE_GROUP,
            Kind::Project => DQTYPE_PROJ,
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Usage {
    blocks: u64,
    rtblocks: u64,
    inodes: u64,
    seen: bool,
}

/// Quota usage gathered during the inode walk.
#[derive(Debug, Default)]
pub(crate) struct QuotaTrack {
    /// The quota files present: kind, inode, whether its counts are
    /// checked (`*QUOTA_CHKD`).
    files: Vec<(Kind, u64, bool)>,
    maps: HashMap<u64, Vec<Extent>>,
    usage: HashMap<(Kind, u32), Usage>,
    overflow: bool,
}

fn set(ino: u64) -> bool {
    ino != 0 && ino != crate::sb::NULLFSINO
}

impl QuotaTrack {
    /// The quota files `fs`'s superblock names (v4 keeps group or
    /// project quota in `sb_gquotino`, by `PQUOTA_ACCT`).
    pub(crate) fn new(fs: &Fs<'_>) -> Self {
        let sb = &fs.sb;
        let q = sb.qflags;
        let mut files = Vec::new();
        if set(sb.uquotino) {
            files.push((Kind::User, sb.uquotino, q & qflags::UQUOTA_CHKD != 0));
        }
        if fs.v5 {
            if set(sb.gquotino) {
                files.push((Kind::Group, sb.gquotino, q & qflags::GQUOTA_CHKD != 0));
            }
            if set(sb.pquotino) {
                files.push((Kind::Project, sb.pquotino, q & qflags::PQUOTA_CHKD != 0));
            }
        } else if set(sb.gquotino) {
            let kind = if q & qflags::PQUOTA_ACCT != 0 {
                Kind::Project
            } else {
                Kind::Group
            };
            files.push((kind, sb.gquotino, q & qflags::OQUOTA_CHKD != 0));
        }
        QuotaTrack {
            files,
            ..Default::default()
        }
    }

    fn is_quota_ino(&self, ino: u64) -> bool {
        self.files.iter().any(|f| f.1 == ino)
    }

    /// Charges an in-use inode (`b` its bytes) to its owners; a quota
    /// file's own data map is kept instead (quota files are not counted).
    pub(crate) fn inode(
        &mut self,
        ino: u64,
        b: &[u8],
        nblocks: u64,
        rt_map: Option<&[Extent]>,
        map: Option<&[Extent]>,
    ) {
        if self.files.is_empty() {
            return;
        }
        if self.is_quota_ino(ino) {
            if let Some(m) = map {
                self.maps.insert(ino, m.to_vec());
            }
            return;
        }
        let rt: u64 = rt_map.map_or(0, |m| m.iter().fold(0u64, |a, e| a.saturating_add(e.len)));
        let blocks = nblocks.saturating_sub(rt);
        let version = u8_at(b, 4);
        let projid = if version >= 2 {
            u32::from(be16(b, 0x14)) | (u32::from(be16(b, 0x16)) << 16)
        } else {
            0
        };
        for (kind, id) in [
            (Kind::User, be32(b, 0x08)),
            (Kind::Group, be32(b, 0x0C)),
            (Kind::Project, projid),
        ] {
            if !self.files.iter().any(|f| f.0 == kind) {
                continue;
            }
            if self.usage.len() >= MAX_IDS && !self.usage.contains_key(&(kind, id)) {
                self.overflow = true;
                continue;
            }
            let u = self.usage.entry((kind, id)).or_default();
            u.blocks = u.blocks.saturating_add(blocks);
            u.rtblocks = u.rtblocks.saturating_add(rt);
            u.inodes = u.inodes.saturating_add(1);
        }
    }
}

/// File block `fb` of `map` as a byte offset in the data device.
fn block_byte(fs: &Fs<'_>, map: &[Extent], fb: u64) -> Option<u64> {
    let e = map
        .iter()
        .find(|e| e.off <= fb && fb < e.off.saturating_add(e.len))?;
    let (agno, agbno) = fs.fsb_split(e.start.saturating_add(fb.saturating_sub(e.off)))?;
    Some(fs.agb_byte(agno, agbno))
}

/// What is wrong with one dquot record, as the kernel's verifiers and
/// `xfs_dquot_from_disk` see it (`id` is the id its place in the file
/// gives it).
fn dquot_problem(fs: &Fs<'_>, d: &[u8], id: u32, kind: Kind) -> Option<(&'static str, String)> {
    let magic = be16(d, 0);
    if magic != DQUOT_MAGIC {
        return Some((
            "xfs.quota.dquot",
            format!("magic {magic:#06x}, not {DQUOT_MAGIC:#06x} (DQ)"),
        ));
    }
    if fs.v5 && !crc::verify(d, DQUOT_CRC_OFF) {
        return Some(("xfs.quota.crc", "bad CRC".into()));
    }
    if fs.v5 && d.get(0x78..0x88).is_none_or(|u| u != fs.uuid) {
        return Some((
            "xfs.quota.dquot",
            "carries another filesystem's UUID".into(),
        ));
    }
    let version = u8_at(d, 2);
    if version != 1 {
        return Some(("xfs.quota.dquot", format!("version {version}, not 1")));
    }
    let t = u8_at(d, 3);
    let rec = t & 0x07;
    if t & !DQTYPE_ANY != 0 || rec.count_ones() != 1 {
        return Some((
            "xfs.quota.dquot",
            format!("type {t:#04x} is not one of user, group or project"),
        ));
    }
    if rec != kind.dqtype() {
        return Some((
            "xfs.quota.dquot",
            format!("type {t:#04x} in the {} file", kind.name()),
        ));
    }
    let bigtime_fs = fs.sb.features_incompat & crate::sb::incompat::BIGTIME != 0;
    let d_id = be32(d, 4);
    if t & DQTYPE_BIGTIME != 0 && (!bigtime_fs || d_id == 0) {
        return Some((
            "xfs.quota.dquot",
            format!("type {t:#04x} has the bigtime bit on a dquot that may not have it"),
        ));
    }
    if d_id != id {
        return Some((
            "xfs.quota.dquot",
            format!("holds id {d_id} in the place of id {id}"),
        ));
    }
    if d_id != 0 {
        // (softlimit, count, timer): a count over its soft limit starts
        // the grace timer
        for (what, soft, count, timer) in [
            ("block", 0x10, 0x28, 0x3C),
            ("inode", 0x20, 0x30, 0x38),
            ("realtime block", 0x50, 0x58, 0x60),
        ] {
            let s = be64(d, soft);
            if s != 0 && be64(d, count) > s && be32(d, timer) == 0 {
                return Some((
                    "xfs.quota.dquot",
                    format!(
                        "{what} count {} is over its soft limit {s} but no grace timer is running",
                        be64(d, count)
                    ),
                ));
            }
        }
    }
    None
}

/// Checks every quota file's dquots, then (when the superblock says the
/// counts were checked and the log is clean) their counts.
pub(crate) fn check(fs: &mut Fs<'_>, t: &QuotaTrack) {
    let bs = fs.bs.max(1);
    let chunk_blocks = CLUSTER_BLOCKS;
    let chunk_bytes = chunk_blocks.saturating_mul(bs);
    let per_chunk = chunk_bytes / DQBLK_SIZE;
    for &(kind, ino, chkd) in &t.files {
        let Some(map) = t.maps.get(&ino) else {
            continue;
        };
        let mut damaged = false;
        let mut on_disk: HashMap<u32, (u64, u64, u64, u64)> = HashMap::new();
        let mut chunks: Vec<u64> = map
            .iter()
            .filter(|e| e.len > 0)
            .flat_map(|e| {
                let first = e.off.checked_div(chunk_blocks).unwrap_or(0);
                let last = e
                    .off
                    .saturating_add(e.len)
                    .saturating_sub(1)
                    .checked_div(chunk_blocks)
                    .unwrap_or(0);
                first..=last
            })
            .take(MAX_CHUNKS.saturating_add(1))
            .collect();
        chunks.sort_unstable();
        chunks.dedup();
        if chunks.len() > MAX_CHUNKS {
            fs.incomplete.get_or_insert_with(|| {
                format!("a quota file maps more than {MAX_CHUNKS} dquot chunks: quotas not checked")
            });
            return;
        }
        for c in chunks {
            if fs.budget_hit {
                return;
            }
            let fb0 = c.saturating_mul(chunk_blocks);
            let mut buf = Vec::with_capacity(Fs::u(chunk_bytes));
            let mut places = Vec::new();
            for k in 0..chunk_blocks {
                let Some(at) = block_byte(fs, map, fb0.saturating_add(k)) else {
                    break;
                };
                let Some(b) = fs.read(at, bs, "quota file block") else {
                    break;
                };
                places.push(at);
                buf.extend_from_slice(&b);
            }
            if Fs::w(buf.len()) < chunk_bytes {
                damaged = true;
                let at = block_byte(fs, map, fb0).unwrap_or(0);
                fs.error("xfs.quota.chunk", at, format!("{} inode {ino}: dquot chunk at file block {fb0} is not wholly mapped or readable", kind.name()));
                continue;
            }
            for j in 0..per_chunk {
                let o = j.saturating_mul(DQBLK_SIZE);
                let Ok(id) = u32::try_from(c.saturating_mul(per_chunk).saturating_add(j)) else {
                    break;
                };
                let d = imgcheck_core::bytes::bytes(&buf, Fs::u(o), Fs::u(DQBLK_SIZE));
                let at = places
                    .get(Fs::u(o.checked_div(bs).unwrap_or(0)))
                    .copied()
                    .unwrap_or(0)
                    .saturating_add(o.checked_rem(bs).unwrap_or(0));
                if let Some((code, why)) = dquot_problem(fs, d, id, kind) {
                    damaged = true;
                    fs.error(
                        code,
                        at,
                        format!(
                            "{} inode {ino}: the dquot for id {id} (file block {}): {why}",
                            kind.name(),
                            fb0.saturating_add(o.checked_div(bs).unwrap_or(0))
                        ),
                    );
                    continue;
                }
                if fs.v5 {
                    fs.saw_lsn(be64(d, 0x70), at.saturating_add(0x70), "dquot");
                }
                on_disk.insert(
                    be32(d, 4),
                    (be64(d, 0x28), be64(d, 0x58), be64(d, 0x30), at),
                );
            }
        }
        if damaged || !chkd || fs.log_dirty || t.overflow || fs.incomplete.is_some() {
            continue;
        }
        let mut ids: Vec<_> = on_disk.iter().collect();
        ids.sort_unstable_by_key(|x| *x.0);
        let mut usage = t.usage.clone();
        for (&id, &(b, rtb, i, at)) in ids {
            let u = usage.entry((kind, id)).or_default();
            u.seen = true;
            for (what, got, want, field) in [
                ("bcount", b, u.blocks, 0x28),
                ("rtbcount", rtb, u.rtblocks, 0x58),
                ("icount", i, u.inodes, 0x30),
            ] {
                if got != want {
                    fs.error("xfs.quota.count", at.saturating_add(field), format!("{} id {id} has {what} {got}, the inodes it owns make {want} (xfs_repair -n: would fix the quota count)", kind.name()));
                }
            }
        }
        let mut missing: Vec<_> = usage
            .iter()
            .filter(|(k, u)| k.0 == kind && !u.seen)
            .collect();
        missing.sort_unstable_by_key(|x| x.0.1);
        let at = fs.ino_byte(ino).unwrap_or(0);
        for ((_, id), u) in missing {
            fs.error(
                "xfs.quota.missing",
                at,
                format!(
                    "{} inode {ino} has no dquot for id {id}, which owns {} inodes and {} blocks",
                    kind.name(),
                    u.inodes,
                    u.blocks
                ),
            );
        }
    }
}

//! The check's order, as `xfs_repair` runs its phases: find and verify
//! the superblock (phase 1); the log, every AG's headers, secondary
//! superblock and btrees, and the summary counters (phase 2); with
//! `Depth::Full`, every inode, directory and link count (phases 3, 4, 6, 7).

use crate::ag;
use crate::agscan::{Totals, scan_ag};
use crate::claims::Claims;
use crate::fs::Fs;
use crate::inodes::{self, Chunk};
use crate::log::{self, LogState};
use crate::sb::{self, Superblock};
use crate::summary::{Realtime, Summary, SuperblockSource, TimeEvent};
use crate::{LAYER, Options, Report};
use imgcheck_core::bytes::be32;
use imgcheck_core::{Depth, Finding, Hint, ReadAt, Role, Severity, Space, Structure, human_size};

/// AGs checked at most; past it the rest are named in one finding.
pub const MAX_AGS: u32 = 1 << 20;
/// How far into the reader a secondary superblock is searched for when
/// the primary is unusable.
pub const MAX_SECONDARY_SCAN: u64 = 1 << 30;

pub(crate) fn run(r: &dyn ReadAt, opts: &Options) -> Report {
    let mut pre: Vec<Finding> = Vec::new();
    let Some((sb, source)) = find_superblock(r, &mut pre) else {
        return Report {
            findings: pre,
            summary: None,
            owners: None,
        };
    };
    let mut sb = sb;
    if matches!(source, SuperblockSource::Secondary { .. }) {
        adopt_secondary(&mut sb);
    }
    let mut fs = Fs::new(r, sb);
    for f in pre {
        fs.push(f);
    }
    let mut summary = run_checks(&mut fs, source, opts);
    summary.incomplete.clone_from(&fs.incomplete);
    let findings = std::mem::take(&mut fs.sink).finish();
    Report {
        findings,
        summary: Some(summary),
        owners: fs.owners.take(),
    }
}

/// Phase 1: the primary if it verifies, else the first secondary that does.
fn find_superblock(
    r: &dyn ReadAt,
    out: &mut Vec<Finding>,
) -> Option<(Superblock, SuperblockSource)> {
    let mut head = [0u8; 512];
    if let Err(e) = r.read_exact_at(0, &mut head) {
        out.push(Finding::error(
            "xfs.read.unreadable",
            LAYER,
            0,
            Space::Disk,
            format!("the primary superblock is unreadable: {e}"),
        ));
        return None;
    }
    let psb = Superblock::parse(&head);
    let sect = usize::from(psb.sectsize);
    let mut buf = head.to_vec();
    if sect > 512
        && sect <= 32768
        && sect.is_power_of_two()
        && let Ok(b) = imgcheck_core::read_vec(r, 0, imgcheck_core::bytes::u64_of(sect), 32768)
    {
        buf = b;
    }
    match sb::verify(&buf, &psb, true) {
        Ok(()) => return Some((psb, SuperblockSource::Primary)),
        Err(why) => {
            if psb.magicnum != sb::XFS_SB_MAGIC {
                // Not XFS at byte 0 (the prober decides what this is); a
                // secondary alone is still worth reading below.
            }
            out.push(
                Finding::error(
                    format!("xfs.sb.primary.{}", code_of(why)),
                    LAYER,
                    0,
                    Space::Disk,
                    format!("the primary superblock is bad: {}", why.text()),
                )
                .with_hint(Hint::read_only(crate::XFS_REPAIR_N).because(
                    "xfs_repair would rebuild the primary from a secondary; under -n it stops there, so run it on a copy without -n to see the rest",
                )),
            );
        }
    }
    // Secondaries: first at the primary's geometry, then by scanning.
    let mut candidates: Vec<u64> = Vec::new();
    let agbytes = u64::from(psb.agblocks).saturating_mul(u64::from(psb.blocksize));
    if agbytes >= 512 && psb.agcount > 1 {
        for a in 1..psb.agcount.min(64) {
            candidates.push(agbytes.saturating_mul(u64::from(a)));
        }
    }
    for at in candidates {
        if let Some(sb) = secondary_at(r, at) {
            let ag = u32::try_from(
                at.checked_div(u64::from(sb.agblocks).saturating_mul(u64::from(sb.blocksize)))
                    .unwrap_or(0),
            )
            .unwrap_or(0);
            return Some((sb, SuperblockSource::Secondary { ag, offset: at }));
        }
    }
    let end = r.len().min(MAX_SECONDARY_SCAN);
    let mut at = 16u64 << 20;
    let chunk = 1u64 << 20;
    while at < end {
        let n = chunk.min(end.saturating_sub(at));
        let Ok(b) = imgcheck_core::read_vec(r, at, n, chunk) else {
            break;
        };
        for (i, s) in b.chunks_exact(512).enumerate() {
            if be32(s, 0) == sb::XFS_SB_MAGIC {
                let off = at.saturating_add(imgcheck_core::bytes::u64_of(i).saturating_mul(512));
                if let Some(sb) = secondary_at(r, off) {
                    let agb = u64::from(sb.agblocks)
                        .saturating_mul(u64::from(sb.blocksize))
                        .max(1);
                    if off.is_multiple_of(agb) {
                        let ag = u32::try_from(off.checked_div(agb).unwrap_or(0)).unwrap_or(0);
                        return Some((sb, SuperblockSource::Secondary { ag, offset: off }));
                    }
                }
            }
        }
        at = at.saturating_add(n);
    }
    if psb.magicnum == sb::XFS_SB_MAGIC {
        out.push(Finding::error(
            "xfs.sb.none_usable",
            LAYER,
            0,
            Space::Disk,
            "no usable superblock: the primary is bad and no secondary was found".to_string(),
        ));
    }
    None
}

/// What `xfs_repair` fills in when it rebuilds the primary from a
/// secondary: mkfs writes the realtime inode numbers into the primary
/// only, and repair's `calc_mkfs` expects them right after the root
/// inode. Without it the realtime bitmap and summary inodes of every
/// filesystem read through a secondary look like orphans.
fn adopt_secondary(sb: &mut Superblock) {
    if sb.rbmino == sb::NULLFSINO && sb.rsumino == sb::NULLFSINO && sb.rootino != sb::NULLFSINO {
        if let Some(bm) = sb.rootino.checked_add(1) {
            sb.rbmino = bm;
        }
        if let Some(sum) = sb.rootino.checked_add(2) {
            sb.rsumino = sum;
        }
    }
}

fn secondary_at(r: &dyn ReadAt, at: u64) -> Option<Superblock> {
    let b = imgcheck_core::read_vec(r, at, 512, 512).ok()?;
    let s = Superblock::parse(&b);
    let sect = u64::from(s.sectsize);
    let full = if sect > 512 && sect <= 32768 {
        imgcheck_core::read_vec(r, at, sect, 32768).ok()?
    } else {
        b
    };
    sb::verify(&full, &s, false).ok()?;
    Some(s)
}

fn code_of(e: sb::SbError) -> &'static str {
    use sb::SbError::*;
    match e {
        Magic => "magic",
        Version => "version",
        InProgress => "inprogress",
        SectorSize => "sectsize",
        Crc => "crc",
        BlockSize => "blocksize",
        FsSize => "geometry",
        InodeSize => "inodesize",
        LogGeometry => "log",
        RtGeometry => "realtime",
        InodeAlign => "inoalign",
        InodeMaxPct => "imaxpct",
        StripeUnit | StripeWidth => "stripe",
        DirBlockSize => "dirblock",
    }
}

fn run_checks(fs: &mut Fs<'_>, source: SuperblockSource, opts: &Options) -> Summary {
    let sb = fs.sb.clone();
    let mut s = Summary {
        version: sb.version(),
        superblock: source,
        block_size: fs.bs,
        sector_size: fs.sect,
        inode_size: u64::from(sb.inodesize),
        dblocks: sb.dblocks,
        fs_bytes: sb.dblocks.saturating_mul(fs.bs),
        container_bytes: fs.r.len(),
        agcount: sb.agcount,
        agblocks: sb.agblocks,
        uuid: sb::uuid_text(&sb.uuid),
        label: Some(sb.label()).filter(|l| !l.is_empty()),
        features: sb.feature_names(),
        icount: sb.icount,
        ifree: sb.ifree,
        fdblocks: sb.fdblocks,
        log: log::LogSummary {
            internal: sb.logstart != 0,
            start: 0,
            len: 0,
            state: LogState::Unreadable,
            head_block: 0,
            head_cycle: 0,
            tail_block: 0,
            last_lsn: 0,
            last_cycle: 0,
            last_ops: 0,
        },
        realtime: (sb.rblocks > 0).then_some(Realtime {
            blocks: sb.rblocks,
            extents: sb.rextents,
            extent_size: sb.rextsize,
            free_extents: sb.frextents,
        }),
        structures: Vec::new(),
        times: Vec::new(),
        depth: opts.depth,
        inodes_checked: 0,
        directories_checked: 0,
        pending: Vec::new(),
        incomplete: None,
    };
    size_vs_container(fs);
    primary_rules(fs);
    if fs.agcount == 1 {
        fs.push(
            Finding::info(
                "xfs.sb.single_ag",
                LAYER,
                0x58,
                Space::Disk,
                "one AG only: there is no secondary superblock to check the geometry against, so xfs_repair -n refuses to run without -o force_geometry".to_string(),
            )
            .with_hint(Hint::read_only("xfs_repair -n -o force_geometry {dev}")),
        );
    }

    // The log first, as repair's phase 2 does: its state colours what follows.
    let lg = log::check(fs);
    fs.log_dirty = lg.state == LogState::Dirty;
    if lg.state == LogState::Dirty {
        let at = lg.start.saturating_add(lg.head_block.saturating_mul(512));
        fs.push(
            Finding::warning(
                "xfs.log.dirty",
                LAYER,
                at,
                Space::Disk,
                format!(
                    "the log is dirty: records from block {} to the head at block {} (cycle {}) were not written back, so the filesystem needs log recovery; xfs_repair refuses to run until the log is replayed (and under -n checks without it, reporting what replay would fix)",
                    lg.tail_block, lg.head_block, lg.head_cycle
                ),
            )
            .with_hint(Hint::read_only("xfs_logprint -t {dev}").because(
                "shows the unreplayed transactions; replay by mounting a copy (mount -o ro,norecovery looks without replaying); never xfs_repair -L, which discards them",
            )),
        );
        s.pending
            .push("the log holds transactions to replay".into());
    }
    if lg.state == LogState::External {
        // A crash copy's dirty log may sit on the other device: nothing on
        // this one says so (xfs_repair -n -l reports it), so it is named.
        fs.push(
            Finding::info(
                "xfs.log.external",
                LAYER,
                0x30,
                Space::Disk,
                "the log is on an external device (sb_logstart 0): whether it is clean, and so whether this copy needs log recovery, is not known from this image".to_string(),
            )
            .with_hint(
                Hint::read_only("xfs_repair -n -l LOGDEV {dev}")
                    .because("LOGDEV is the external log device or its image"),
            ),
        );
    }
    if lg.state == LogState::Zeroed && fs.v5 {
        fs.note(
            Severity::Info,
            "xfs.log.zeroed",
            lg.start,
            "the log is all cycle 0: never written, or wiped since (then metadata LSNs are ahead of it)".to_string(),
        );
    }
    if sb.is_v5() && sb.features_log_incompat != 0 && lg.state == LogState::Clean {
        fs.note(
            Severity::Info,
            "xfs.sb.log_incompat",
            0xDC,
            format!(
                "log-incompatible features {:#x} are set although the log is clean",
                sb.features_log_incompat
            ),
        );
    }
    s.log = lg;
    s.structures.push(Structure::new(
        "XFS primary superblock",
        0,
        fs.sect,
        Role::Primary,
    ));

    let mut claims = Claims::new(fs);
    let mut chunks: Vec<Chunk> = Vec::new();
    let mut totals = Totals::default();
    let agcount = fs.agcount.min(MAX_AGS);
    if fs.agcount > MAX_AGS {
        fs.incomplete = Some(format!(
            "only the first {MAX_AGS} of {} AGs were checked",
            fs.agcount
        ));
    }
    if s.log.internal
        && let Some((agno, agbno)) = fs.fsb_split(sb.logstart)
    {
        claims.claim_meta(fs, agno, agbno, u64::from(sb.logblocks), "log");
    }
    for agno in 0..agcount {
        if fs.budget_hit {
            break;
        }
        if agno > 0 {
            secondary(fs, agno, &mut s);
        }
        s.structures.push(Structure::new(
            format!("XFS AG {agno} headers (AGF, AGI, AGFL)"),
            fs.ag_sector(agno, 1),
            fs.sect.saturating_mul(3),
            if agno == 0 {
                Role::Primary
            } else {
                Role::Backup
            },
        ));
        let hdr_blocks = fs.first_free_agbno();
        claims.claim_meta(fs, agno, 0, hdr_blocks, "AG headers");
        let h = ag::read(fs, agno);
        scan_ag(fs, &mut claims, &h, &mut totals, &mut chunks);
    }
    counters(fs, &s, &totals);
    if opts.depth == Depth::Full && !fs.budget_hit {
        let heads = h_unlinked(fs, agcount);
        let full = inodes::run(fs, &mut claims, &chunks, &heads);
        s.inodes_checked = full.inodes;
        s.directories_checked = full.dirs;
        s.times = full.times;
        // A secondary's sb_frextents is as stale as its other counters.
        if !matches!(s.superblock, SuperblockSource::Secondary { .. }) && fs.incomplete.is_none() {
            crate::rt::check(fs, &full.rt);
        }
        crate::quota::check(fs, &full.quota);
    } else {
        s.times = inodes::root_times(fs);
    }
    if let Some(t) = s.times.iter().map(|t| t.time).max()
        && s.log.last_lsn != 0
    {
        s.times.push(TimeEvent {
            time: t,
            what: format!(
                "by then the log's last record was written: LSN {}:{} (cycle {}), log {}",
                s.log.last_lsn >> 32,
                s.log.last_lsn & 0xffff_ffff,
                s.log.last_cycle,
                match s.log.state {
                    LogState::Clean => "clean",
                    LogState::Dirty => "dirty",
                    _ => "state unknown",
                }
            ),
        });
    }
    // Metadata LSNs ahead of the log head (repair: "Maximum metadata LSN ...
    // is ahead of log").
    // A zeroed log (cycle 0) on v5 is one xfs_repair -n flags whatever the
    // metadata carries ("Maximum metadata LSN (1:N) is ahead of log
    // (0:0)", and "(0:0) is ahead of log (0:0)" on a never-mounted one,
    // exit 1): mkfs and xfs_repair -L both leave an unmount record, so a
    // zeroed log was wiped (dd or a discard over it). An attack found it
    // called clean.
    let ahead = |lsn: u64| match s.log.state {
        LogState::Clean | LogState::Dirty => lsn >= s.log.head_lsn(),
        LogState::Zeroed => true,
        _ => false,
    };
    if fs.v5
        && let Some((lsn, at, what)) = fs.max_lsn
        && ahead(lsn)
    {
        fs.error(
                    "xfs.log.lsn_ahead",
                    at,
                    format!(
                        "{what} carries LSN {}:{}, ahead of the log head {}:{}: the log or this block is wrong",
                        lsn >> 32,
                        lsn & 0xffff_ffff,
                        s.log.head_cycle,
                        s.log.head_block
                    ),
                );
    }
    s
}

/// The AG unlinked bucket heads, for the full check's orphan accounting.
fn h_unlinked(fs: &mut Fs<'_>, agcount: u32) -> Vec<u64> {
    let mut out = Vec::new();
    for agno in 0..agcount {
        let off = fs.ag_sector(agno, 2);
        if let Some(b) = fs.read(off, fs.sect, "AGI") {
            if be32(&b, 0) != ag::AGI_MAGIC {
                continue;
            }
            for i in 0..ag::UNLINKED_BUCKETS {
                let u = be32(&b, 0x28usize.saturating_add(i.saturating_mul(4)));
                if u != ag::NULLAGINO {
                    out.push(fs.ino_of(agno, u64::from(u)));
                }
            }
        }
    }
    out
}

fn size_vs_container(fs: &mut Fs<'_>) {
    let fs_bytes = fs.sb.dblocks.saturating_mul(fs.bs);
    let have = fs.r.len();
    if fs_bytes > have {
        let first_cut = (have.checked_div(fs.bs).unwrap_or(0))
            .checked_div(fs.agblocks)
            .unwrap_or(0);
        fs.push(
            Finding::error(
                "xfs.size.truncated",
                LAYER,
                have,
                Space::Disk,
                format!(
                    "the filesystem is {} ({} blocks of {}) but what holds it is only {} ({have} bytes): {} missing, AGs {first_cut}..{} are cut off",
                    human_size(fs_bytes),
                    fs.sb.dblocks,
                    fs.bs,
                    human_size(have),
                    human_size(fs_bytes.saturating_sub(have)),
                    fs.agcount.saturating_sub(1)
                ),
            )
            .with_hint(Hint::advice("restore the missing end (grow the partition, volume or image back to its former size, on a copy) before running xfs_repair -n {dev}")),
        );
    } else if have.saturating_sub(fs_bytes) >= fs.bs.max(1 << 20) {
        fs.push(
            Finding::info(
                "xfs.size.not_grown",
                LAYER,
                fs_bytes,
                Space::Disk,
                format!(
                    "the filesystem is {} but what holds it is {}: {} lie unused (never grown)",
                    human_size(fs_bytes),
                    human_size(have),
                    human_size(have.saturating_sub(fs_bytes))
                ),
            )
            .with_hint(Hint::advice("to use the space, grow the filesystem with xfs_growfs on its mount point (XFS grows mounted only), after xfs_repair -n {dev} is clean"))
        );
    }
}

/// Rules on the primary beyond `verify_sb` (secondary_sb_whack for AG 0,
/// the inode numbers it names).
fn primary_rules(fs: &mut Fs<'_>) {
    let sb = fs.sb.clone();
    if let Some(b) = fs.read(0, fs.sect, "primary superblock") {
        for why in sb::whack(&b, &sb, &sb, 0) {
            fs.error(
                "xfs.sb.primary.fields",
                0,
                format!("the primary superblock: {why}"),
            );
        }
    }
    if sb.is_v5() {
        let unknown = sb.features_incompat & !sb::incompat::ALL;
        if unknown != 0 {
            fs.error("xfs.sb.features.unknown", 0xD8, format!("unknown incompatible features {unknown:#x}: neither xfs_repair nor this check knows how to read the filesystem"));
        }
        if sb.features_ro_compat & !sb::ro_compat::ALL != 0 {
            fs.note(
                Severity::Warning,
                "xfs.sb.features.unknown",
                0xD4,
                format!(
                    "unknown read-only-compatible features {:#x}",
                    sb.features_ro_compat & !sb::ro_compat::ALL
                ),
            );
        }
    }
    if sb.has_morebits() && sb.features2 != sb.bad_features2 {
        fs.error(
            "xfs.sb.features2",
            0xC8,
            format!(
                "features2 {:#x} and bad_features2 {:#x} differ",
                sb.features2, sb.bad_features2
            ),
        );
    }
    if !fs.ino_ok(sb.rootino) {
        fs.error(
            "xfs.sb.rootino",
            0x38,
            format!(
                "the root inode number {:#x} is not an inode of the filesystem",
                sb.rootino
            ),
        );
    }
    let rt = sb.rblocks > 0;
    for (name, ino, at) in [
        ("realtime bitmap", sb.rbmino, 0x40u64),
        ("realtime summary", sb.rsumino, 0x48),
    ] {
        let ok = if rt {
            fs.ino_ok(ino)
        } else {
            ino == sb::NULLFSINO || ino == 0 || fs.ino_ok(ino)
        };
        if !ok {
            fs.error(
                "xfs.sb.rtino",
                at,
                format!("the {name} inode number {ino:#x} is not an inode of the filesystem"),
            );
        }
    }
    for (name, ino, at) in [
        ("user quota", sb.uquotino, 0xA0u64),
        ("group quota", sb.gquotino, 0xA8),
        ("project quota", sb.pquotino, 0xE8),
    ] {
        if name == "project quota" && !sb.is_v5() {
            continue;
        }
        if ino != 0 && ino != sb::NULLFSINO && !fs.ino_ok(ino) {
            fs.error(
                "xfs.sb.quotino",
                at,
                format!("the {name} inode number {ino:#x} is not an inode of the filesystem"),
            );
        }
    }
    // repair's parse_sb_version: the quota bit without any quota inode
    // ("no quota inodes were found. Quotas would be disabled.")
    let quota_inos = [sb.uquotino, sb.gquotino, sb.pquotino];
    if sb.versionnum & sb::version::QUOTA != 0
        && quota_inos.iter().all(|&i| i == 0 || i == sb::NULLFSINO)
    {
        fs.note(
            Severity::Warning,
            "xfs.sb.quota",
            0x64,
            format!(
                "the quota feature bit is set (quota flags {:#x}) but the superblock names no quota inode: xfs_repair would disable quotas",
                sb.qflags
            ),
        );
    }
    if sb.icount < sb.ifree || sb.fdblocks > sb.dblocks {
        fs.error(
            "xfs.sb.counters",
            0x80,
            format!(
                "superblock counters do not fit: {} inodes with {} free, {} free blocks of {}",
                sb.icount, sb.ifree, sb.fdblocks, sb.dblocks
            ),
        );
    }
    if sb.shared_vn != 0 {
        fs.error(
            "xfs.sb.shared_vn",
            0xB3,
            format!("shared_vn is {}, must be 0", sb.shared_vn),
        );
    }
}

fn secondary(fs: &mut Fs<'_>, agno: u32, s: &mut Summary) {
    let off = fs.ag_sector(agno, 0);
    s.structures.push(Structure::new(
        format!("XFS secondary superblock of AG {agno}"),
        off,
        fs.sect,
        Role::Backup,
    ));
    let Some(b) = fs.read(off, fs.sect, "secondary superblock") else {
        return;
    };
    let sec = Superblock::parse(&b);
    let pri = fs.sb.clone();
    if let Err(why) = sb::verify(&b, &sec, false) {
        fs.error(
            format!("xfs.sb.secondary.{}", code_of(why)),
            off,
            format!("the superblock of AG {agno} is bad: {}", why.text()),
        );
        if why == sb::SbError::Magic {
            return;
        }
    }
    let diff = sb::geometry_diff(&pri, &sec);
    if !diff.is_empty() {
        fs.error(
            "xfs.sb.secondary.mismatch",
            off,
            format!(
                "the superblock of AG {agno} disagrees with the primary: {}",
                diff.join(", ")
            ),
        );
    }
    // Info, not damage: xfs_repair -n compares no secondary UUID (exit 0)
    // and the kernel's scrub (xchk_superblock) only marks it for preening;
    // nothing reads it while the primary is good. An attack's random UUID
    // in AG 2's copy was an error here.
    if sec.uuid != pri.uuid && !pri.inc(sb::incompat::META_UUID) {
        fs.note(
            Severity::Info,
            "xfs.sb.secondary.uuid",
            off.saturating_add(0x20),
            format!(
                "the superblock of AG {agno} carries UUID {}, not the primary's (xfs_repair leaves it; the kernel's scrub would rewrite it)",
                sb::uuid_text(&sec.uuid)
            ),
        );
    }
    for why in sb::whack(&b, &sec, &pri, agno) {
        fs.error(
            "xfs.sb.secondary.fields",
            off,
            format!("the superblock of AG {agno}: {why}"),
        );
    }
}

/// Superblock counters against the AGs (repair phase 2's tally).
fn counters(fs: &mut Fs<'_>, s: &Summary, t: &Totals) {
    if !t.complete || fs.budget_hit || fs.incomplete.is_some() {
        return;
    }
    let lazy = fs.sb.lazy_counters();
    let dirty = s.log.state == LogState::Dirty;
    // Lazy counters are only written back at unmount: with a dirty log a
    // difference is expected and recovery fixes it.
    // A secondary's counters are whatever mkfs or growfs wrote: nothing
    // keeps them current, and repair rebuilds the primary's from a count.
    let secondary = matches!(s.superblock, SuperblockSource::Secondary { .. });
    let sev = if (lazy && dirty) || secondary {
        Severity::Info
    } else {
        Severity::Warning
    };
    let why = if secondary {
        " (read through a secondary superblock, whose counters are never kept current)"
    } else if lazy && dirty {
        " (lazy counters: log recovery recomputes them)"
    } else {
        ""
    };
    for (name, have, counted, at) in [
        ("sb_icount", fs.sb.icount, t.icount, 0x80u64),
        ("sb_ifree", fs.sb.ifree, t.ifree, 0x88),
        ("sb_fdblocks", fs.sb.fdblocks, t.fdblocks, 0x90),
    ] {
        if have != counted {
            fs.note(
                sev,
                "xfs.sb.counters",
                at,
                format!("{name} is {have}, counted {counted}{why}"),
            );
        }
    }
}

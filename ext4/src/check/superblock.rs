//! The superblock in use: its values and feature combinations, state and
//! times, the kernel's error records, usage, size against what holds it,
//! and the backups compared with it.

use super::{Ctx, ERROR_FS, ORPHAN_FS, VALID_FS};
use crate::E2FSCK_FN;
use crate::fs::SuperblockSource;
use crate::superblock::{EXT4_MAGIC, Superblock, compat, incompat, ro_compat};
use crate::{ErrorRecord, ErrorRecords};
use imgcheck_core::human_size;
use imgcheck_core::time::utc;
use imgcheck_core::{Finding, Hint, Layer, Space};

/// Backup superblocks compared at most (sparse_super gives ~3 log(groups)).
const MAX_BACKUPS_COMPARED: usize = 64;

pub(super) fn superblock_values(c: &mut Ctx<'_, '_>) {
    let sb = &c.fs.sb;
    let bs = c.fs.bs;
    if sb.s_r_blocks_count > sb.s_blocks_count / 2 {
        c.error(
            "ext4.superblock.r_blocks_count",
            c.sb_at(),
            format!(
                "s_r_blocks_count is {}, more than half of s_blocks_count {}",
                sb.s_r_blocks_count, sb.s_blocks_count
            ),
        );
    }
    if u64::from(sb.s_reserved_gdt_blocks) > bs / 4 {
        c.error(
            "ext4.superblock.reserved_gdt_blocks",
            c.sb_at(),
            format!(
                "s_reserved_gdt_blocks is {}, at most {} fit",
                sb.s_reserved_gdt_blocks,
                bs / 4
            ),
        );
    }
    if sb.s_free_blocks_count > sb.s_blocks_count {
        c.error(
            "ext4.superblock.free_blocks_count",
            c.sb_at(),
            format!(
                "s_free_blocks_count {} exceeds s_blocks_count {}",
                sb.s_free_blocks_count, sb.s_blocks_count
            ),
        );
    }
    if sb.s_free_inodes_count > sb.s_inodes_count {
        c.error(
            "ext4.superblock.free_inodes_count",
            c.sb_at(),
            format!(
                "s_free_inodes_count {} exceeds s_inodes_count {}",
                sb.s_free_inodes_count, sb.s_inodes_count
            ),
        );
    }
    let isz = sb.inode_size();
    if isz > 128 {
        let max = isz.saturating_sub(128);
        for (name, v) in [
            ("s_min_extra_isize", sb.s_min_extra_isize),
            ("s_want_extra_isize", sb.s_want_extra_isize),
        ] {
            if v != 0 && (v < 4 || v > max || v & 3 != 0) {
                c.error(
                    if name == "s_min_extra_isize" {
                        "ext4.superblock.min_extra_isize"
                    } else {
                        "ext4.superblock.want_extra_isize"
                    },
                    c.sb_at(),
                    format!("{name} is {v}, expected a multiple of 4 in 4..={max}"),
                );
            }
        }
    }
    if sb.metadata_csum() && sb.has_ro_compat(ro_compat::GDT_CSUM) {
        c.error(
            "ext4.superblock.metadata_csum_and_uninit_bg",
            c.sb_at(),
            "both metadata_csum and uninit_bg (gdt_csum) are set; only one may be".to_string(),
        );
    }
    if !sb.metadata_csum() && sb.has_incompat(incompat::CSUM_SEED) {
        c.error(
            "ext4.superblock.csum_seed_without_metadata_csum",
            c.sb_at(),
            "metadata_csum_seed is set without metadata_csum".to_string(),
        );
    }
    if sb.metadata_csum() && sb.s_checksum_type != 1 {
        c.error(
            "ext4.superblock.checksum_type",
            c.sb_at(),
            format!(
                "s_checksum_type is {}, expected 1 (crc32c) with metadata_csum",
                sb.s_checksum_type
            ),
        );
    }
    if sb.has_incompat(incompat::BIT64) && !sb.has_incompat(incompat::EXTENTS) {
        c.error(
            "ext4.superblock.64bit_without_extents",
            c.sb_at(),
            "64bit is set without extent".to_string(),
        );
    }
    if c.fs.geometry_ok
        && sb.has_incompat(incompat::META_BG)
        && u64::from(sb.s_first_meta_bg) > c.fs.desc_blocks()
    {
        c.error(
            "ext4.superblock.first_meta_bg",
            c.sb_at(),
            format!(
                "s_first_meta_bg is {}, more than the {} group descriptor blocks",
                sb.s_first_meta_bg,
                c.fs.desc_blocks()
            ),
        );
    }
    if sb.s_rev_level > 1 {
        c.error(
            "ext4.superblock.rev_level",
            c.sb_at(),
            format!("s_rev_level is {}, expected 0 or 1", sb.s_rev_level),
        );
    }
    if sb.s_rev_level == 0
        && (sb.s_feature_compat | sb.s_feature_incompat | sb.s_feature_ro_compat) != 0
    {
        c.error(
            "ext4.superblock.rev_level",
            c.sb_at(),
            "s_rev_level is 0 (good old revision) but feature flags are set".to_string(),
        );
    }
    if sb.s_creator_os == 1 && sb.has_incompat(incompat::FILETYPE) {
        c.error("ext4.superblock.hurd_filetype", c.sb_at(), "the filesystem was made by GNU Hurd, which does not support the filetype feature, yet it is set".to_string());
    }
    let unk_i = sb.s_feature_incompat & !incompat::SUPPORTED;
    if unk_i != 0 {
        c.error("ext4.superblock.unknown_incompat", c.sb_at(), format!("unsupported incompatible features {unk_i:#x}: neither e2fsck nor imgcheck can read this filesystem safely"));
    }
    let unk_r = sb.s_feature_ro_compat & !ro_compat::SUPPORTED;
    if unk_r != 0 {
        c.warning(
            "ext4.superblock.unknown_ro_compat",
            c.sb_at(),
            format!("unsupported read-only-compatible features {unk_r:#x}"),
        );
    }
    let unk_c = sb.s_feature_compat & !compat::KNOWN;
    if unk_c != 0 {
        c.info(
            "ext4.superblock.unknown_compat",
            c.sb_at(),
            format!("unknown compatible features {unk_c:#x}"),
        );
    }
    if sb.has_incompat(incompat::JOURNAL_DEV) {
        c.info(
            "ext4.superblock.journal_dev",
            c.sb_at(),
            "this is an external journal device, not a filesystem".to_string(),
        );
    }
    // The kernel takes an unknown value for "continue"; e2fsck ignores it.
    if !(1..=3).contains(&sb.s_errors) && sb.s_errors != 0 {
        c.info(
            "ext4.superblock.errors_behaviour",
            c.sb_at(),
            format!(
                "s_errors is {}, expected 1 (continue), 2 (remount-ro) or 3 (panic)",
                sb.s_errors
            ),
        );
    }
    // Not damage: genext2fs and other image builders write no UUID, and
    // e2fsck -fn says nothing (only a read-write run generates one).
    if sb.s_uuid.iter().all(|&b| b == 0) && sb.s_rev_level > 0 {
        c.info(
            "ext4.superblock.null_uuid",
            c.sb_at(),
            "s_uuid is all zeros: nothing can find this filesystem by UUID (fstab UUID=, blkid); e2fsck -fy would generate one".to_string(),
        );
    }
    for (name, q, reserved) in [
        ("user", sb.s_usr_quota_inum, 3u32),
        ("group", sb.s_grp_quota_inum, 4),
        ("project", sb.s_prj_quota_inum, 0),
    ] {
        let ok = q == 0
            || (q == reserved && reserved != 0)
            || (q >= sb.first_ino() && q <= sb.s_inodes_count);
        if !ok {
            c.error(
                "ext4.superblock.quota_inode",
                c.sb_at().saturating_add(0x240),
                format!(
                    "{name} quota inode is {q}, neither its reserved inode nor within {}..={}",
                    sb.first_ino(),
                    sb.s_inodes_count
                ),
            );
        }
    }
    if sb.s_flags & 4 != 0 {
        c.info(
            "ext4.superblock.test_fs",
            c.sb_at(),
            "the test_fs flag is set (ext4dev development filesystem)".to_string(),
        );
    }
}

/// errno names the kernel stores as `s_*_error_errcode` (EXT4_ERR_*).
fn errcode_name(e: u8) -> &'static str {
    match e {
        1 => "EIO",
        2 => "ENOMEM",
        3 => "EFSBADCRC",
        4 => "EFSCORRUPTED",
        5 => "ENOSPC",
        6 => "ENOKEY",
        7 => "EROFS",
        8 => "EFBIG",
        9 => "EEXIST",
        10 => "ERANGE",
        11 => "EOVERFLOW",
        12 => "EBUSY",
        13 => "ENOTDIR",
        14 => "ENOTEMPTY",
        15 => "ESHUTDOWN",
        16 => "EFAULT",
        _ => "unknown",
    }
}

pub(super) fn error_records(c: &mut Ctx<'_, '_>) -> Option<ErrorRecords> {
    let sb = &c.fs.sb;
    if sb.s_error_count == 0 && sb.s_first_error_time == 0 && sb.s_last_error_time == 0 {
        return None;
    }
    let rec = |time: i64, func: &str, line: u32, ino: u32, block: u64, errcode: u8| ErrorRecord {
        time,
        function: func.to_string(),
        line,
        inode: ino,
        block,
        errcode,
        errcode_name: errcode_name(errcode).to_string(),
    };
    let first = (sb.s_first_error_time != 0).then(|| {
        rec(
            sb.s_first_error_time,
            &sb.s_first_error_func,
            sb.s_first_error_line,
            sb.s_first_error_ino,
            sb.s_first_error_block,
            sb.s_first_error_errcode,
        )
    });
    let last = (sb.s_last_error_time != 0).then(|| {
        rec(
            sb.s_last_error_time,
            &sb.s_last_error_func,
            sb.s_last_error_line,
            sb.s_last_error_ino,
            sb.s_last_error_block,
            sb.s_last_error_errcode,
        )
    });
    let describe = |r: &ErrorRecord| format!("{} in {}", utc(r.time), r.location());
    let mut msg = format!(
        "the kernel recorded {} error(s) on this filesystem",
        sb.s_error_count
    );
    if let Some(f) = &first {
        msg.push_str(&format!("; first: {}", describe(f)));
    }
    if let Some(l) = &last {
        msg.push_str(&format!("; last: {}", describe(l)));
    }
    // The kernel counts each error and stamps its time together: a count
    // with no time (or a time with no count) is a stale or damaged record,
    // worth reading but no evidence of errors.
    let recorded = sb.s_error_count > 0 && (first.is_some() || last.is_some());
    let f = if recorded {
        Finding::warning(
            "ext4.kernel_errors",
            Layer::EXT4,
            c.sb_at().saturating_add(0x194),
            Space::Disk,
            msg,
        )
    } else {
        Finding::info(
            "ext4.kernel_errors",
            Layer::EXT4,
            c.sb_at().saturating_add(0x194),
            Space::Disk,
            format!("{msg} (an incomplete record: count and times do not agree)"),
        )
    };
    c.push(f.with_hint(Hint::read_only(E2FSCK_FN).because("the error records stay until a full e2fsck clears them; check dmesg/journal logs of that time")));
    Some(ErrorRecords {
        count: sb.s_error_count,
        first,
        last,
    })
}

pub(super) fn state_and_times(c: &mut Ctx<'_, '_>) {
    let sb = c.fs.sb.clone();
    if sb.s_state & ERROR_FS != 0 {
        c.push(Finding::error("ext4.state.errors", Layer::EXT4, c.sb_at().saturating_add(0x3A), Space::Disk,
            "s_state has ERROR_FS: the kernel detected corruption and the filesystem was not checked since".to_string()).with_hint(Hint::read_only(E2FSCK_FN)));
    }
    let recover = sb.has_incompat(incompat::RECOVER);
    if recover {
        // With a journal: pending_recovery, once the log has been walked.
        if !sb.has_compat(compat::HAS_JOURNAL) {
            c.error(
                "ext4.journal.recover_without_journal",
                c.sb_at().saturating_add(0x60),
                "needs_recovery is set but the filesystem has no journal (has_journal is clear)"
                    .to_string(),
            );
        }
    } else if sb.s_state & VALID_FS == 0
        && sb.s_rev_level > 0
        // e2fsprogs writes every backup with VALID_FS clear on purpose
        // (ext2fs_flush, closefs.c) and the kernel never updates backups:
        // a backup's state says nothing about the last unmount.
        && c.fs.source == crate::fs::SuperblockSource::Primary
    {
        // e2fsck -f checks such a filesystem without comment; only worth knowing.
        c.info(
            "ext4.state.not_clean",
            c.sb_at().saturating_add(0x3A),
            format!("s_state is {:#x}: not cleanly unmounted", sb.s_state),
        );
    }
    if sb.s_state & ORPHAN_FS != 0 {
        c.warning(
            "ext4.state.orphans",
            c.sb_at().saturating_add(0x3A),
            "s_state has ORPHAN_FS: orphan processing was in progress".to_string(),
        );
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    // e2fsck allows a day of clock skew (accept_time_fudge).
    let fudge = 86_400;
    if sb.s_mtime > now.saturating_add(fudge) {
        c.warning(
            "ext4.superblock.future_mount_time",
            c.sb_at().saturating_add(0x2C),
            format!("last mount time {} is in the future", utc(sb.s_mtime)),
        );
    }
    if sb.s_wtime > now.saturating_add(fudge) {
        c.warning(
            "ext4.superblock.future_write_time",
            c.sb_at().saturating_add(0x30),
            format!("last write time {} is in the future", utc(sb.s_wtime)),
        );
    }
    if sb.s_max_mnt_count > 0 && i32::from(sb.s_mnt_count) >= i32::from(sb.s_max_mnt_count) {
        c.info(
            "ext4.superblock.mount_count",
            c.sb_at().saturating_add(0x34),
            format!(
                "mounted {} times, the maximum between checks is {}",
                sb.s_mnt_count, sb.s_max_mnt_count
            ),
        );
    }
    if sb.s_checkinterval > 0 && sb.s_lastcheck.saturating_add(i64::from(sb.s_checkinterval)) < now
    {
        c.info(
            "ext4.superblock.check_interval",
            c.sb_at().saturating_add(0x40),
            format!(
                "last checked {}, the check interval of {} s has passed",
                utc(sb.s_lastcheck),
                sb.s_checkinterval
            ),
        );
    }
}

pub(super) fn size_vs_container(c: &mut Ctx<'_, '_>) {
    let fs = c.fs;
    let fs_bytes = fs.sb.s_blocks_count.saturating_mul(fs.bs);
    let have = fs.r.len();
    if fs_bytes > have {
        let last_full = have.checked_div(fs.bs).unwrap_or(0);
        let first_cut = if fs.geometry_ok && fs.bpg() > 0 {
            last_full
                .saturating_sub(u64::from(fs.sb.s_first_data_block))
                .checked_div(fs.bpg())
                .unwrap_or(0)
        } else {
            0
        };
        c.push(Finding::error("ext4.size.truncated", Layer::EXT4, have, Space::Disk,
            format!("the filesystem is {} ({} blocks of {}) but what holds it is only {} ({} bytes): {} missing, block groups {}..{} are cut off",
                human_size(fs_bytes), fs.sb.s_blocks_count, fs.bs, human_size(have), have, human_size(fs_bytes.saturating_sub(have)), first_cut, fs.groups.saturating_sub(1)))
            .with_hint(Hint::advice("restore the missing end (grow the partition/volume/image back to its former size, on a copy) before running e2fsck -fn {dev}")));
    } else if have.saturating_sub(fs_bytes) >= fs.bs.max(1 << 20) {
        c.info(
            "ext4.size.not_grown",
            fs_bytes,
            format!(
                "the filesystem is {} but what holds it is {}: {} lie unused (never grown)",
                human_size(fs_bytes),
                human_size(have),
                human_size(have.saturating_sub(fs_bytes))
            ),
        );
    }
}

pub(super) fn usage(c: &mut Ctx<'_, '_>) {
    let sb = &c.fs.sb;
    let total = sb
        .s_blocks_count
        .saturating_sub(u64::from(sb.s_first_data_block));
    if total == 0 || sb.s_free_blocks_count > sb.s_blocks_count {
        return;
    }
    let used = sb.s_blocks_count.saturating_sub(sb.s_free_blocks_count);
    let pct = used
        .saturating_mul(100)
        .checked_div(sb.s_blocks_count)
        .unwrap_or(0);
    // Fullness is a fact, not damage (image builders such as genext2fs
    // size a filesystem to its contents): info, e2fsck -fn is silent.
    if pct >= 95 && sb.s_blocks_count >= 1024 {
        c.info(
            "ext4.usage.blocks_full",
            c.sb_at().saturating_add(0xC),
            format!(
                "{pct}% of blocks are in use ({} of {} free)",
                sb.s_free_blocks_count, sb.s_blocks_count
            ),
        );
    }
    if sb.s_inodes_count > 0 && sb.s_free_inodes_count <= sb.s_inodes_count {
        let iused = u64::from(sb.s_inodes_count.saturating_sub(sb.s_free_inodes_count));
        let ipct = iused
            .saturating_mul(100)
            .checked_div(u64::from(sb.s_inodes_count))
            .unwrap_or(0);
        if ipct >= 95 && sb.s_inodes_count >= 256 {
            c.info(
                "ext4.usage.inodes_full",
                c.sb_at().saturating_add(0x10),
                format!(
                    "{ipct}% of inodes are in use ({} of {} free)",
                    sb.s_free_inodes_count, sb.s_inodes_count
                ),
            );
        }
    }
}

/// Compares backups on the fields e2fsck's check_backup_super_block does.
pub(super) fn backups(c: &mut Ctx<'_, '_>) {
    let fs = c.fs;
    let sb = &fs.sb;
    let mut compared = 0usize;
    let mut missing = Vec::new();
    let mut present = 0usize;
    for g in 1..fs.groups {
        if !sb.group_has_super(g) {
            continue;
        }
        if compared >= MAX_BACKUPS_COMPARED {
            break;
        }
        compared = compared.saturating_add(1);
        let blk = fs.group_first_block(g);
        let Some(off) = fs.block_offset(blk) else {
            continue;
        };
        let mut raw = vec![0u8; 1024];
        if fs
            .read_at(off, &mut raw, || format!("backup superblock of group {g}"))
            .is_err()
        {
            // Absent: the truncation is reported once, by
            // size_vs_container; unreadable: the read log reports it.
            continue;
        }
        if matches!(fs.source, SuperblockSource::Backup { block, block_size, .. } if block == blk && block_size == fs.bs)
        {
            continue;
        }
        let b = Superblock::parse(&raw);
        // What e2fsck's check_backup_super_block takes for no superblock.
        if b.s_magic != EXT4_MAGIC
            || b.s_rev_level > 1
            || b.s_log_block_size > 6
            || b.inode_size() < 128
        {
            missing.push((g, blk, off, b.s_magic));
            continue;
        }
        present = present.saturating_add(1);
        let mut diffs = Vec::new();
        let mut layout = false;
        if b.s_feature_compat != sb.s_feature_compat {
            diffs.push(format!(
                "compat features {:#x} vs {:#x}",
                b.s_feature_compat, sb.s_feature_compat
            ));
        }
        let compat_only = !diffs.is_empty();
        let im = !(incompat::EXTENTS | incompat::RECOVER);
        if b.s_feature_incompat & im != sb.s_feature_incompat & im {
            diffs.push(format!(
                "incompat features {:#x} vs {:#x}",
                b.s_feature_incompat, sb.s_feature_incompat
            ));
        }
        let rm = !(ro_compat::LARGE_FILE | ro_compat::DIR_NLINK | ro_compat::ORPHAN_PRESENT);
        if b.s_feature_ro_compat & rm != sb.s_feature_ro_compat & rm {
            diffs.push(format!(
                "ro_compat features {:#x} vs {:#x}",
                b.s_feature_ro_compat, sb.s_feature_ro_compat
            ));
        }
        if b.s_blocks_count != sb.s_blocks_count {
            diffs.push(format!(
                "s_blocks_count {} vs {}",
                b.s_blocks_count, sb.s_blocks_count
            ));
        }
        if b.s_inodes_count != sb.s_inodes_count {
            diffs.push(format!(
                "s_inodes_count {} vs {}",
                b.s_inodes_count, sb.s_inodes_count
            ));
        }
        if b.s_uuid != sb.s_uuid {
            diffs.push("s_uuid differs".to_string());
        }
        layout |= diffs.len() > usize::from(compat_only);
        if !diffs.is_empty() {
            let msg = format!(
                "backup superblock of group {g} (block {blk}) differs from the one in use: {}",
                diffs.join(", ")
            );
            if layout {
                // Geometry, UUID or layout features: recovery from this
                // backup (e2fsck -b, mount -o sb=) would read another
                // filesystem than the primary describes.
                c.warning("ext4.backup_superblock.differs", off, msg);
            } else {
                // Compatible features only (the kernel sets ext_attr on
                // the primary alone): e2fsck -fy refreshes the backups
                // silently.
                c.info(
                    "ext4.backup_superblock.differs",
                    off,
                    format!("{msg}; e2fsck -fy rewrites the backups without comment"),
                );
            }
        }
    }
    report_missing(c, &missing, present);
}

/// Backups that hold no superblock. e2fsck ignores them (never reports
/// nor rewrites them); they only leave fewer fallbacks for a damaged
/// primary. All of them missing is what an e2image metadata dump looks
/// like: it copies the primary superblock and descriptors only.
fn report_missing(c: &mut Ctx<'_, '_>, missing: &[(u64, u64, u64, u16)], present: usize) {
    if missing.is_empty() {
        return;
    }
    if present == 0 && missing.len() > 1 {
        let groups: Vec<String> = missing.iter().map(|m| m.0.to_string()).collect();
        c.info(
            "ext4.backup_superblock.missing",
            missing.first().map_or(0, |m| m.2),
            format!(
                "none of the {} backup superblocks (groups {}) holds a superblock: the image may be an e2image metadata dump (which copies only the primary), or every backup was overwritten; recovery has no backup to fall back on",
                missing.len(),
                groups.join(", ")
            ),
        );
        return;
    }
    for &(g, blk, off, magic) in missing {
        c.info(
            "ext4.backup_superblock.missing",
            off,
            format!("backup superblock of group {g} (block {blk}) is not a superblock (magic {magic:#06x}): one fallback fewer for a damaged primary; e2fsck neither checks nor rewrites it"),
        );
    }
}

/// needs_recovery with a journal: pending work, a warning that says what
/// the recovery will do (and leave out), with read-only next steps.
pub(super) fn pending_recovery(c: &mut Ctx<'_, '_>) {
    let sb = &c.fs.sb;
    if !sb.has_incompat(incompat::RECOVER) || !sb.has_compat(compat::HAS_JOURNAL) {
        return;
    }
    let mut msg = "needs_recovery is set: the journal holds transactions not yet written to the filesystem (it was not cleanly unmounted)".to_string();
    for l in &c.replay.lost {
        msg.push_str("; ");
        msg.push_str(l);
    }
    c.push(
        Finding::warning(
            "ext4.journal.needs_recovery",
            Layer::EXT4,
            c.sb_at().saturating_add(0x60),
            Space::Disk,
            msg,
        )
        .with_hint(
            Hint::read_only(E2FSCK_FN)
                .because("reports without replaying; mount -o ro,noload to look without replaying"),
        ),
    );
}

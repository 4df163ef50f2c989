//! Default-depth checks: proportional to the number of block groups plus a
//! few blocks (superblock, backups, group descriptors, bitmap checksums,
//! journal superblock, orphans, MMP, resize inode, root inode), and the
//! forensic summary (state, times, kernel error records, usage, size).

use crate::E2FSCK_FN;
use crate::blockmap::MapEvent;
use crate::fs::{Ext4, SuperblockSource};
use crate::gdt::bg_flags;
use crate::inode::Inode;
use crate::superblock::{EXT4_MAGIC, Superblock, compat, feature_names, incompat, ro_compat};
use crate::util::{be32, bytes, crc32c_raw, human, le32, u64_of, us, zero};
use crate::{ErrorRecord, ErrorRecords, JournalSummary, Summary, Times};
use imgcheck_core::{Finding, Hint, Layer, Space};

/// Backup superblocks compared at most (sparse_super gives ~3 log(groups)).
const MAX_BACKUPS_COMPARED: usize = 64;
/// Orphan-list inodes followed at most.
const MAX_ORPHAN_CHAIN: u32 = 1 << 16;
/// Orphan-file blocks checked at most.
const MAX_ORPHAN_FILE_BLOCKS: u64 = 1 << 12;
/// jbd2 superblock magic.
const JBD2_MAGIC: u32 = 0xC03B_3998;
/// MMP block magic.
const MMP_MAGIC: u32 = 0x004D_4D50;

/// State bits of `s_state`.
const VALID_FS: u16 = 1;
const ERROR_FS: u16 = 2;
const ORPHAN_FS: u16 = 4;

pub(crate) struct Ctx<'a, 'r> {
    pub fs: &'a Ext4<'r>,
    pub out: Vec<Finding>,
    /// Deep mode: also read every logged journal data block.
    pub deep: bool,
}

impl Ctx<'_, '_> {
    pub(crate) fn push(&mut self, f: Finding) {
        self.out.push(f);
    }
    pub(crate) fn error(&mut self, code: &'static str, off: u64, msg: String) {
        self.out.push(
            Finding::error(code, Layer::EXT4, off, Space::Disk, msg)
                .with_hint(Hint::read_only(E2FSCK_FN)),
        );
    }
    pub(crate) fn warning(&mut self, code: &'static str, off: u64, msg: String) {
        self.out
            .push(Finding::warning(code, Layer::EXT4, off, Space::Disk, msg));
    }
    pub(crate) fn info(&mut self, code: &'static str, off: u64, msg: String) {
        self.out
            .push(Finding::info(code, Layer::EXT4, off, Space::Disk, msg));
    }
}

const SB: u64 = 1024;

/// Runs every default-depth check; returns findings and the summary.
pub(crate) fn run(fs: &Ext4<'_>, deep: bool) -> (Vec<Finding>, Summary) {
    let mut c = Ctx {
        fs,
        out: fs.open_findings.clone(),
        deep,
    };
    superblock_values(&mut c);
    let records = error_records(&mut c);
    state_and_times(&mut c);
    size_vs_container(&mut c);
    if !fs.sb.has_incompat(incompat::JOURNAL_DEV) {
        usage(&mut c);
    }
    // An external journal device has an ext superblock but no groups,
    // inodes or directories of its own.
    let journal_dev = fs.sb.has_incompat(incompat::JOURNAL_DEV);
    if fs.geometry_ok && !journal_dev {
        backups(&mut c);
        group_descriptors(&mut c);
        bitmaps(&mut c);
        root_inode(&mut c);
        resize_inode(&mut c);
        orphans(&mut c);
        mmp(&mut c);
    }
    let journal = if journal_dev {
        journal_device(&mut c)
    } else if fs.geometry_ok {
        journal(&mut c)
    } else {
        None
    };
    let summary = summary(fs, journal, records);
    (c.out, summary)
}

fn superblock_values(c: &mut Ctx<'_, '_>) {
    let sb = &c.fs.sb;
    let bs = c.fs.bs;
    if sb.s_r_blocks_count > sb.s_blocks_count / 2 {
        c.error(
            "ext4.superblock.r_blocks_count",
            SB,
            format!(
                "s_r_blocks_count is {}, more than half of s_blocks_count {}",
                sb.s_r_blocks_count, sb.s_blocks_count
            ),
        );
    }
    if u64::from(sb.s_reserved_gdt_blocks) > bs / 4 {
        c.error(
            "ext4.superblock.reserved_gdt_blocks",
            SB,
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
            SB,
            format!(
                "s_free_blocks_count {} exceeds s_blocks_count {}",
                sb.s_free_blocks_count, sb.s_blocks_count
            ),
        );
    }
    if sb.s_free_inodes_count > sb.s_inodes_count {
        c.error(
            "ext4.superblock.free_inodes_count",
            SB,
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
                    SB,
                    format!("{name} is {v}, expected a multiple of 4 in 4..={max}"),
                );
            }
        }
    }
    if sb.metadata_csum() && sb.has_ro_compat(ro_compat::GDT_CSUM) {
        c.error(
            "ext4.superblock.metadata_csum_and_uninit_bg",
            SB,
            "both metadata_csum and uninit_bg (gdt_csum) are set; only one may be".to_string(),
        );
    }
    if !sb.metadata_csum() && sb.has_incompat(incompat::CSUM_SEED) {
        c.error(
            "ext4.superblock.csum_seed_without_metadata_csum",
            SB,
            "metadata_csum_seed is set without metadata_csum".to_string(),
        );
    }
    if sb.metadata_csum() && sb.s_checksum_type != 1 {
        c.error(
            "ext4.superblock.checksum_type",
            SB,
            format!(
                "s_checksum_type is {}, expected 1 (crc32c) with metadata_csum",
                sb.s_checksum_type
            ),
        );
    }
    if sb.has_incompat(incompat::BIT64) && !sb.has_incompat(incompat::EXTENTS) {
        c.error(
            "ext4.superblock.64bit_without_extents",
            SB,
            "64bit is set without extent".to_string(),
        );
    }
    if c.fs.geometry_ok
        && sb.has_incompat(incompat::META_BG)
        && u64::from(sb.s_first_meta_bg) > c.fs.desc_blocks()
    {
        c.error(
            "ext4.superblock.first_meta_bg",
            SB,
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
            SB,
            format!("s_rev_level is {}, expected 0 or 1", sb.s_rev_level),
        );
    }
    if sb.s_rev_level == 0
        && (sb.s_feature_compat | sb.s_feature_incompat | sb.s_feature_ro_compat) != 0
    {
        c.error(
            "ext4.superblock.rev_level",
            SB,
            "s_rev_level is 0 (good old revision) but feature flags are set".to_string(),
        );
    }
    if sb.s_creator_os == 1 && sb.has_incompat(incompat::FILETYPE) {
        c.error("ext4.superblock.hurd_filetype", SB, "the filesystem was made by GNU Hurd, which does not support the filetype feature, yet it is set".to_string());
    }
    let unk_i = sb.s_feature_incompat & !incompat::SUPPORTED;
    if unk_i != 0 {
        c.error("ext4.superblock.unknown_incompat", SB, format!("unsupported incompatible features {unk_i:#x}: neither e2fsck nor imgcheck can read this filesystem safely"));
    }
    let unk_r = sb.s_feature_ro_compat & !ro_compat::SUPPORTED;
    if unk_r != 0 {
        c.warning(
            "ext4.superblock.unknown_ro_compat",
            SB,
            format!("unsupported read-only-compatible features {unk_r:#x}"),
        );
    }
    let unk_c = sb.s_feature_compat & !compat::KNOWN;
    if unk_c != 0 {
        c.info(
            "ext4.superblock.unknown_compat",
            SB,
            format!("unknown compatible features {unk_c:#x}"),
        );
    }
    if sb.has_incompat(incompat::JOURNAL_DEV) {
        c.info(
            "ext4.superblock.journal_dev",
            SB,
            "this is an external journal device, not a filesystem".to_string(),
        );
    }
    if !(1..=3).contains(&sb.s_errors) && sb.s_errors != 0 {
        c.warning(
            "ext4.superblock.errors_behaviour",
            SB,
            format!(
                "s_errors is {}, expected 1 (continue), 2 (remount-ro) or 3 (panic)",
                sb.s_errors
            ),
        );
    }
    if sb.s_uuid.iter().all(|&b| b == 0) && sb.s_rev_level > 0 {
        c.warning(
            "ext4.superblock.null_uuid",
            SB,
            "s_uuid is all zeros".to_string(),
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
                SB.saturating_add(0x240),
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
            SB,
            "the test_fs flag is set (ext4dev development filesystem)".to_string(),
        );
    }
}

fn fmt_time(t: i64) -> String {
    // Civil date from days since epoch (Howard Hinnant's algorithm).
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z.saturating_sub(era.saturating_mul(146_097));
    let yoe = (doe
        .saturating_sub(doe / 1460)
        .saturating_add(doe / 36524)
        .saturating_sub(doe / 146_096))
        / 365;
    let y = yoe.saturating_add(era.saturating_mul(400));
    let doy = doe.saturating_sub(
        yoe.saturating_mul(365)
            .saturating_add(yoe / 4)
            .saturating_sub(yoe / 100),
    );
    let mp = (doy.saturating_mul(5).saturating_add(2)) / 153;
    let d = doy
        .saturating_sub((mp.saturating_mul(153).saturating_add(2)) / 5)
        .saturating_add(1);
    let m = if mp < 10 {
        mp.saturating_add(3)
    } else {
        mp.saturating_sub(9)
    };
    let y = if m <= 2 { y.saturating_add(1) } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
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

fn error_records(c: &mut Ctx<'_, '_>) -> Option<ErrorRecords> {
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
    let describe = |r: &ErrorRecord| format!("{} in {}", fmt_time(r.time), r.location());
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
    c.push(Finding::warning("ext4.kernel_errors", Layer::EXT4, SB.saturating_add(0x194), Space::Disk, msg)
        .with_hint(Hint::read_only(E2FSCK_FN).because("the error records stay until a full e2fsck clears them; check dmesg/journal logs of that time")));
    Some(ErrorRecords {
        count: sb.s_error_count,
        first,
        last,
    })
}

fn state_and_times(c: &mut Ctx<'_, '_>) {
    let sb = c.fs.sb.clone();
    if sb.s_state & ERROR_FS != 0 {
        c.push(Finding::error("ext4.state.errors", Layer::EXT4, SB.saturating_add(0x3A), Space::Disk,
            "s_state has ERROR_FS: the kernel detected corruption and the filesystem was not checked since".to_string()).with_hint(Hint::read_only(E2FSCK_FN)));
    }
    let recover = sb.has_incompat(incompat::RECOVER);
    if recover {
        if sb.has_compat(compat::HAS_JOURNAL) {
            c.push(Finding::warning("ext4.journal.needs_recovery", Layer::EXT4, SB.saturating_add(0x60), Space::Disk,
                "needs_recovery is set: the journal holds transactions not yet written to the filesystem (it was not cleanly unmounted)".to_string())
                .with_hint(Hint::read_only(E2FSCK_FN).because("reports without replaying; mount -o ro,noload to look without replaying")));
        } else {
            c.error(
                "ext4.journal.recover_without_journal",
                SB.saturating_add(0x60),
                "needs_recovery is set but the filesystem has no journal (has_journal is clear)"
                    .to_string(),
            );
        }
    } else if sb.s_state & VALID_FS == 0 && sb.s_rev_level > 0 {
        // e2fsck -f checks such a filesystem without comment; only worth knowing.
        c.info(
            "ext4.state.not_clean",
            SB.saturating_add(0x3A),
            format!("s_state is {:#x}: not cleanly unmounted", sb.s_state),
        );
    }
    if sb.s_state & ORPHAN_FS != 0 {
        c.warning(
            "ext4.state.orphans",
            SB.saturating_add(0x3A),
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
            SB.saturating_add(0x2C),
            format!("last mount time {} is in the future", fmt_time(sb.s_mtime)),
        );
    }
    if sb.s_wtime > now.saturating_add(fudge) {
        c.warning(
            "ext4.superblock.future_write_time",
            SB.saturating_add(0x30),
            format!("last write time {} is in the future", fmt_time(sb.s_wtime)),
        );
    }
    if sb.s_max_mnt_count > 0 && i32::from(sb.s_mnt_count) >= i32::from(sb.s_max_mnt_count) {
        c.info(
            "ext4.superblock.mount_count",
            SB.saturating_add(0x34),
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
            SB.saturating_add(0x40),
            format!(
                "last checked {}, the check interval of {} s has passed",
                fmt_time(sb.s_lastcheck),
                sb.s_checkinterval
            ),
        );
    }
}

fn size_vs_container(c: &mut Ctx<'_, '_>) {
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
                human(fs_bytes), fs.sb.s_blocks_count, fs.bs, human(have), have, human(fs_bytes.saturating_sub(have)), first_cut, fs.groups.saturating_sub(1)))
            .with_hint(Hint::advice("restore the missing end (grow the partition/volume/image back to its former size, on a copy) before running e2fsck -fn {dev}")));
    } else if have.saturating_sub(fs_bytes) >= fs.bs.max(1 << 20) {
        c.info(
            "ext4.size.not_grown",
            fs_bytes,
            format!(
                "the filesystem is {} but what holds it is {}: {} lie unused (never grown)",
                human(fs_bytes),
                human(have),
                human(have.saturating_sub(fs_bytes))
            ),
        );
    }
}

fn usage(c: &mut Ctx<'_, '_>) {
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
    if pct >= 95 && sb.s_blocks_count >= 1024 {
        c.warning(
            "ext4.usage.blocks_full",
            SB.saturating_add(0xC),
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
            c.warning(
                "ext4.usage.inodes_full",
                SB.saturating_add(0x10),
                format!(
                    "{ipct}% of inodes are in use ({} of {} free)",
                    sb.s_free_inodes_count, sb.s_inodes_count
                ),
            );
        }
    }
}

/// Compares backups on the fields e2fsck's check_backup_super_block does.
fn backups(c: &mut Ctx<'_, '_>) {
    let fs = c.fs;
    let sb = &fs.sb;
    let mut compared = 0usize;
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
        if fs.r.read_exact_at(off, &mut raw).is_err() {
            continue; // truncation is reported once, by size_vs_container
        }
        if matches!(fs.source, SuperblockSource::Backup { block, block_size, .. } if block == blk && block_size == fs.bs)
        {
            continue;
        }
        let b = Superblock::parse(&raw);
        if b.s_magic != EXT4_MAGIC {
            c.warning("ext4.backup_superblock.missing", off, format!("backup superblock of group {g} (block {blk}) has magic {:#06x}, expected 0xef53", b.s_magic));
            continue;
        }
        let mut diffs = Vec::new();
        if b.s_feature_compat != sb.s_feature_compat {
            diffs.push(format!(
                "compat features {:#x} vs {:#x}",
                b.s_feature_compat, sb.s_feature_compat
            ));
        }
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
        if !diffs.is_empty() {
            c.warning(
                "ext4.backup_superblock.differs",
                off,
                format!(
                    "backup superblock of group {g} (block {blk}) differs from the one in use: {}",
                    diffs.join(", ")
                ),
            );
        }
    }
}

fn group_descriptors(c: &mut Ctx<'_, '_>) {
    let fs = c.fs;
    let sb = &fs.sb;
    let flex = sb.has_incompat(incompat::FLEX_BG);
    let csum = sb.has_group_desc_csum();
    let itb = fs.itable_blocks();
    let ipg = sb.s_inodes_per_group;
    let bpg = sb.s_blocks_per_group;
    let last = fs.groups.saturating_sub(1);
    let mut sum_free_b = 0u64;
    let mut sum_free_i = 0u64;
    // Metadata ownership map, as bits: overlapping metadata is found here
    // in O(groups × inode-table blocks).
    let nblocks = sb.s_blocks_count;
    let tracked = fs.tracked_blocks();
    let mut meta = crate::bits::Bits::new(tracked);
    let mut overlaps = 0u32;
    for g in 0..fs.groups {
        let (first, n) = fs.group_super_gdt(g);
        for b in first.min(tracked)..first.saturating_add(n).min(tracked) {
            meta.set(b);
        }
    }
    for (gi, gd) in fs.gds.iter().enumerate() {
        let g = u64_of(gi);
        let (lo, hi) = if flex {
            (u64::from(sb.s_first_data_block), nblocks.saturating_sub(1))
        } else {
            (fs.group_first_block(g), fs.group_last_block(g))
        };
        let off = gd.offset;
        for (name, code, blk, len) in [
            (
                "block bitmap",
                "ext4.group.block_bitmap_location",
                gd.bg_block_bitmap,
                1u64,
            ),
            (
                "inode bitmap",
                "ext4.group.inode_bitmap_location",
                gd.bg_inode_bitmap,
                1,
            ),
            (
                "inode table",
                "ext4.group.inode_table_location",
                gd.bg_inode_table,
                itb,
            ),
        ] {
            let end = blk.saturating_add(len).saturating_sub(1);
            if blk < lo || end > hi {
                c.error(code, off, format!("group {g}: {name} at block {blk} (length {len}) lies outside {}{lo}..={hi}", if flex { "the filesystem " } else { "its group " }));
                continue;
            }
            let mut clash = false;
            for b in blk.min(tracked)..end.saturating_add(1).min(tracked) {
                if meta.get(b) {
                    clash = true;
                }
                meta.set(b);
            }
            if clash && overlaps < 32 {
                overlaps = overlaps.saturating_add(1);
                c.error("ext4.group.metadata_overlap", off, format!("group {g}: {name} at block {blk} (length {len}) overlaps other filesystem metadata"));
            }
        }
        if let Some(want) = gd.computed_checksum
            && want != gd.bg_checksum
        {
            c.error(
                "ext4.group.checksum",
                off,
                format!(
                    "group {g}: descriptor checksum is {:#06x}, computed {want:#06x}",
                    gd.bg_checksum
                ),
            );
        }
        if !csum
            && (gd.bg_flags & (bg_flags::BLOCK_UNINIT | bg_flags::INODE_UNINIT) != 0
                || gd.bg_itable_unused != 0)
        {
            c.error("ext4.group.uninit_without_csum", off, format!("group {g}: flags {:#x} / itable_unused {} are set but the filesystem has neither uninit_bg nor metadata_csum", gd.bg_flags, gd.bg_itable_unused));
        }
        if g == last && gd.bg_flags & bg_flags::BLOCK_UNINIT != 0 {
            c.error(
                "ext4.group.last_block_uninit",
                off,
                format!("group {g} is the last group and has BLOCK_UNINIT set"),
            );
        }
        if csum && (gd.bg_itable_unused > gd.bg_free_inodes_count || gd.bg_itable_unused > ipg) {
            c.error("ext4.group.itable_unused", off, format!("group {g}: bg_itable_unused {} exceeds free inodes {} (or inodes per group {ipg})", gd.bg_itable_unused, gd.bg_free_inodes_count));
        }
        if gd.bg_free_blocks_count > bpg
            || gd.bg_free_inodes_count > ipg
            || gd.bg_used_dirs_count > ipg
        {
            c.error("ext4.group.counts", off, format!("group {g}: free blocks {}, free inodes {}, directories {} exceed the group size ({bpg} blocks, {ipg} inodes)", gd.bg_free_blocks_count, gd.bg_free_inodes_count, gd.bg_used_dirs_count));
        }
        sum_free_b = sum_free_b.saturating_add(u64::from(gd.bg_free_blocks_count));
        sum_free_i = sum_free_i.saturating_add(u64::from(gd.bg_free_inodes_count));
    }
    if u64_of(fs.gds.len()) == fs.groups {
        let ratio = 1u64
            << sb
                .s_log_cluster_size
                .saturating_sub(sb.s_log_block_size)
                .min(29);
        let sum_b = sum_free_b.saturating_mul(ratio);
        if sum_b != sb.s_free_blocks_count || sum_free_i != u64::from(sb.s_free_inodes_count) {
            // The kernel keeps the superblock totals lazily while mounted
            // and writes them at a clean unmount: stale totals matter only
            // on a filesystem that claims to be clean.
            let clean = sb.s_state & VALID_FS != 0 && !sb.has_incompat(incompat::RECOVER);
            let msg = format!(
                "superblock free counts ({} blocks, {} inodes) differ from the sum over group descriptors ({sum_b} blocks, {sum_free_i} inodes)",
                sb.s_free_blocks_count, sb.s_free_inodes_count
            );
            if clean {
                c.warning(
                    "ext4.superblock.free_counts_stale",
                    SB.saturating_add(0xC),
                    msg,
                );
            } else {
                c.info(
                    "ext4.superblock.free_counts_stale",
                    SB.saturating_add(0xC),
                    msg,
                );
            }
        }
    }
}

/// Counts zero bits among the first `n` bits of `b`.
pub(crate) fn count_zero_bits(b: &[u8], n: u64) -> u64 {
    let mut zeros = 0u64;
    let full = us(n / 8);
    for &byte in b.iter().take(full) {
        zeros = zeros.saturating_add(u64::from(byte.count_zeros()));
    }
    let rem = n % 8;
    if rem > 0
        && let Some(&byte) = b.get(full)
    {
        for bit in 0..rem {
            if byte >> bit & 1 == 0 {
                zeros = zeros.saturating_add(1);
            }
        }
    }
    zeros
}

/// Blocks (clusters) that group `g` spans.
pub(crate) fn clusters_in_group(fs: &Ext4<'_>, g: u64) -> u64 {
    let ratio_log = fs
        .sb
        .s_log_cluster_size
        .saturating_sub(fs.sb.s_log_block_size)
        .min(29);
    let blocks = fs
        .group_last_block(g)
        .saturating_add(1)
        .saturating_sub(fs.group_first_block(g));
    blocks >> ratio_log
}

/// Bitmap checksums (metadata_csum) and free counts against the bitmaps.
fn bitmaps(c: &mut Ctx<'_, '_>) {
    let fs = c.fs;
    let sb = &fs.sb;
    let mcsum = sb.metadata_csum();
    let ds = sb.desc_size();
    let ipg = u64::from(sb.s_inodes_per_group);
    let cpg = u64::from(sb.s_clusters_per_group);
    let mut reported = 0u32;
    for (gi, gd) in fs.gds.iter().enumerate() {
        if reported >= 64 {
            break;
        }
        let g = u64_of(gi);
        if gd.bg_flags & bg_flags::BLOCK_UNINIT == 0
            && let Some(bm) = fs.read_block(gd.bg_block_bitmap)
        {
            if mcsum {
                let crc = crc32c_raw(fs.seed, bytes(&bm, 0, us(cpg / 8)));
                let (want, got) = if ds >= 0x3A {
                    (crc, gd.bg_block_bitmap_csum)
                } else {
                    (crc & 0xFFFF, gd.bg_block_bitmap_csum & 0xFFFF)
                };
                if want != got {
                    reported = reported.saturating_add(1);
                    c.error("ext4.bitmap.block_checksum", fs.block_offset(gd.bg_block_bitmap).unwrap_or(0), format!("group {g}: block bitmap (block {}) checksum is {got:#x}, computed {want:#x}", gd.bg_block_bitmap));
                }
            }
            let in_group = clusters_in_group(fs, g);
            // The last group's bitmap bits past the filesystem's end must
            // be set (e2fsck pass 5, PR_5_BLOCK_BMAP_PADDING).
            if g.saturating_add(1) == fs.groups {
                let unset = (in_group..cpg)
                    .find(|&k| crate::util::u8_at(&bm, us(k / 8)) >> (k % 8) & 1 == 0);
                if let Some(k) = unset {
                    c.warning("ext4.bitmap.block_padding", fs.block_offset(gd.bg_block_bitmap).unwrap_or(0), format!("group {g}: block bitmap padding bit {k} (past the filesystem's last block) is not set"));
                }
            }
            let zeros = count_zero_bits(&bm, in_group);
            if zeros != u64::from(gd.bg_free_blocks_count) {
                reported = reported.saturating_add(1);
                c.warning(
                    "ext4.group.free_blocks_vs_bitmap",
                    gd.offset,
                    format!(
                        "group {g}: descriptor says {} free blocks, its block bitmap has {zeros}",
                        gd.bg_free_blocks_count
                    ),
                );
            }
        }
        if gd.bg_flags & bg_flags::INODE_UNINIT == 0
            && let Some(im) = fs.read_block(gd.bg_inode_bitmap)
        {
            if mcsum {
                let crc = crc32c_raw(fs.seed, bytes(&im, 0, us(ipg / 8)));
                let (want, got) = if ds >= 0x3C {
                    (crc, gd.bg_inode_bitmap_csum)
                } else {
                    (crc & 0xFFFF, gd.bg_inode_bitmap_csum & 0xFFFF)
                };
                if want != got {
                    reported = reported.saturating_add(1);
                    c.error("ext4.bitmap.inode_checksum", fs.block_offset(gd.bg_inode_bitmap).unwrap_or(0), format!("group {g}: inode bitmap (block {}) checksum is {got:#x}, computed {want:#x}", gd.bg_inode_bitmap));
                }
            }
            let zeros = count_zero_bits(&im, ipg);
            if zeros != u64::from(gd.bg_free_inodes_count) {
                reported = reported.saturating_add(1);
                c.warning(
                    "ext4.group.free_inodes_vs_bitmap",
                    gd.offset,
                    format!(
                        "group {g}: descriptor says {} free inodes, its inode bitmap has {zeros}",
                        gd.bg_free_inodes_count
                    ),
                );
            }
        }
    }
}

/// Checks a special inode's checksum; true when it is fine.
fn special_inode_csum(c: &mut Ctx<'_, '_>, ino: &Inode, what: &str) -> bool {
    if c.fs.inode_csum_ok(ino) == Some(false) {
        c.error(
            "ext4.inode.checksum",
            ino.offset,
            format!("inode {} ({what}) checksum does not match", ino.ino),
        );
        return false;
    }
    true
}

fn root_inode(c: &mut Ctx<'_, '_>) {
    let Some(root) = c.fs.read_inode(2) else {
        c.error("ext4.root.unreadable", SB, "the root inode (2) cannot be read: its group's inode table is missing or outside the image".to_string());
        return;
    };
    if root.i_links_count == 0 || root.i_mode == 0 {
        c.error(
            "ext4.root.not_in_use",
            root.offset,
            format!(
                "root inode 2 is not in use (links {}, mode {:#o})",
                root.i_links_count, root.i_mode
            ),
        );
        return;
    }
    if !root.is_dir() {
        c.error(
            "ext4.root.not_directory",
            root.offset,
            format!("root inode 2 is not a directory (mode {:#o})", root.i_mode),
        );
    }
    if root.i_dtime != 0 {
        c.error(
            "ext4.root.deleted",
            root.offset,
            format!("root inode 2 has a deletion time ({})", root.i_dtime),
        );
    }
    special_inode_csum(c, &root, "root directory");
    let mut probs = Vec::new();
    let mut first = None;
    c.fs.map_file(
        &root,
        &mut |e| {
            if let MapEvent::Data { lblk: 0, pblk, .. } = e {
                first = Some(pblk);
            }
        },
        Some(&mut probs),
    );
    c.out.extend(probs);
    if root.is_dir() && root.i_flags & crate::inode::INLINE_DATA_FL == 0 {
        match first.and_then(|b| c.fs.read_block(b)) {
            None => c.error(
                "ext4.root.no_block",
                root.offset,
                "root directory has no readable first block".to_string(),
            ),
            Some(b) => {
                let ino0 = le32(&b, 0);
                let nl = crate::util::u8_at(&b, 6);
                let name = bytes(&b, 8, 1);
                if ino0 != 2 || nl != 1 || name != b"." {
                    c.error("ext4.root.no_dot", root.offset, format!("root directory's first entry is not '.' pointing at 2 (inode {ino0}, name length {nl})"));
                }
            }
        }
    }
}

fn resize_inode(c: &mut Ctx<'_, '_>) {
    let fs = c.fs;
    let sb = &fs.sb;
    let Some(ri) = fs.read_inode(7) else { return };
    if !sb.has_compat(compat::RESIZE_INODE) {
        if sb.s_reserved_gdt_blocks != 0 && !sb.has_incompat(incompat::META_BG) {
            c.error(
                "ext4.resize.reserved_gdt_without_feature",
                SB.saturating_add(0xCE),
                format!(
                    "s_reserved_gdt_blocks is {} but resize_inode is not set",
                    sb.s_reserved_gdt_blocks
                ),
            );
        }
        if ri.i_block.iter().any(|&b| b != 0) {
            c.error(
                "ext4.resize.inode_without_feature",
                ri.offset,
                "resize inode 7 has blocks but resize_inode is not set".to_string(),
            );
        }
        return;
    }
    let dind = u64::from(le32(&ri.i_block, 13 * 4));
    let others = (0..15usize)
        .filter(|&i| i != 13)
        .any(|i| le32(&ri.i_block, i.saturating_mul(4)) != 0);
    if dind == 0 || others || dind >= sb.s_blocks_count || ri.i_links_count == 0 || !ri.is_reg() {
        c.error(
            "ext4.resize.invalid",
            ri.offset,
            format!(
                "resize inode 7 is invalid (mode {:#o}, links {}, double-indirect block {dind}{})",
                ri.i_mode,
                ri.i_links_count,
                if others {
                    ", other block pointers set"
                } else {
                    ""
                }
            ),
        );
        return;
    }
    special_inode_csum(c, &ri, "resize inode");
    if sb.has_incompat(incompat::META_BG) {
        return;
    }
    let Some(d) = fs.read_block(dind) else { return };
    let ppb = fs.bs / 4;
    let desc_blocks = fs.desc_blocks();
    let fdb = u64::from(sb.s_first_data_block);
    for i in 0..u64::from(sb.s_reserved_gdt_blocks) {
        let slot = desc_blocks.saturating_add(i).checked_rem(ppb).unwrap_or(0);
        let want = fdb
            .saturating_add(1)
            .saturating_add(desc_blocks)
            .saturating_add(i);
        let got = u64::from(le32(&d, us(slot.saturating_mul(4))));
        if got != want {
            c.error("ext4.resize.invalid", fs.block_offset(dind).unwrap_or(0), format!("resize inode's double-indirect block {dind} slot {slot} holds {got}, expected reserved GDT block {want}"));
            return;
        }
    }
}

fn orphans(c: &mut Ctx<'_, '_>) {
    let fs = c.fs;
    let sb = &fs.sb;
    let mut ino = sb.s_last_orphan;
    let mut n = 0u32;
    let first_ino = sb.first_ino();
    let recover = sb.has_incompat(incompat::RECOVER);
    while ino != 0 && n < MAX_ORPHAN_CHAIN {
        if ino < first_ino || ino > sb.s_inodes_count {
            c.error(
                "ext4.orphan.illegal_inode",
                SB.saturating_add(0xE8),
                format!(
                    "orphan list entry {n} is inode {ino}, outside {first_ino}..={}",
                    sb.s_inodes_count
                ),
            );
            return;
        }
        let Some(i) = fs.read_inode(ino) else { return };
        if i.i_mode == 0 && i.i_links_count == 0 && i.i_dtime == 0 && n > 0 {
            c.error(
                "ext4.orphan.cleared_inode",
                i.offset,
                format!("orphan list entry {n} is inode {ino}, which is unused"),
            );
            return;
        }
        n = n.saturating_add(1);
        ino = i.i_dtime;
    }
    if n >= MAX_ORPHAN_CHAIN {
        c.error(
            "ext4.orphan.loop",
            SB.saturating_add(0xE8),
            format!("orphan list is longer than {MAX_ORPHAN_CHAIN} inodes (a loop)"),
        );
    }
    if n > 0 {
        c.warning("ext4.orphan.pending", SB.saturating_add(0xE8), format!("the orphan list holds {n} inode(s) (head {}) that the kernel had not finished deleting or truncating{}", sb.s_last_orphan, if recover { "" } else { " although no journal recovery is pending" }));
    }
    if sb.has_compat(compat::ORPHAN_FILE) {
        orphan_file(c);
    }
}

fn orphan_file(c: &mut Ctx<'_, '_>) {
    let fs = c.fs;
    let sb = &fs.sb;
    let inum = sb.s_orphan_file_inum;
    let Some(oi) = (inum != 0).then(|| fs.read_inode(inum)).flatten() else {
        c.error(
            "ext4.orphan_file.missing",
            SB.saturating_add(0x280),
            format!("orphan_file is set but s_orphan_file_inum ({inum}) is not a readable inode"),
        );
        return;
    };
    if oi.i_links_count == 0 || !oi.is_reg() {
        c.error(
            "ext4.orphan_file.bad_inode",
            oi.offset,
            format!(
                "orphan file inode {inum} is not an in-use regular file (mode {:#o})",
                oi.i_mode
            ),
        );
        return;
    }
    let mut blocks = Vec::new();
    fs.map_file(
        &oi,
        &mut |e| {
            if let MapEvent::Data {
                lblk, pblk, len, ..
            } = e
            {
                for k in 0..len.min(MAX_ORPHAN_FILE_BLOCKS) {
                    if u64_of(blocks.len()) < MAX_ORPHAN_FILE_BLOCKS {
                        blocks.push((lblk.saturating_add(k), pblk.saturating_add(k)));
                    }
                }
            }
        },
        None,
    );
    let nblocks = oi.i_size.checked_div(fs.bs).unwrap_or(0);
    if u64_of(blocks.len()) < nblocks.min(MAX_ORPHAN_FILE_BLOCKS) {
        c.error(
            "ext4.orphan_file.hole",
            oi.offset,
            format!(
                "orphan file has {} mapped blocks for a size of {} blocks",
                blocks.len(),
                nblocks
            ),
        );
    }
    let seed = fs.file_seed(&oi);
    let per = us(fs.bs.saturating_sub(8) / 4);
    let mut entries = 0u64;
    for (lblk, pblk) in blocks {
        let Some(b) = fs.read_block(pblk) else {
            continue;
        };
        let bs = b.len();
        let magic = le32(&b, bs.saturating_sub(8));
        if magic != 0x0B10_CA04 {
            c.error("ext4.orphan_file.bad_magic", fs.block_offset(pblk).unwrap_or(0), format!("orphan file block {lblk} (block {pblk}) tail magic is {magic:#010x}, expected 0x0b10ca04"));
            continue;
        }
        if sb.metadata_csum() {
            let crc = crc32c_raw(
                crc32c_raw(seed, &pblk.to_le_bytes()),
                bytes(&b, 0, per.saturating_mul(4)),
            );
            let got = le32(&b, bs.saturating_sub(4));
            if crc != got {
                c.error("ext4.orphan_file.checksum", fs.block_offset(pblk).unwrap_or(0), format!("orphan file block {lblk} (block {pblk}) checksum is {got:#010x}, computed {crc:#010x}"));
            }
        }
        entries = entries.saturating_add(u64_of(
            (0..per)
                .filter(|&k| le32(&b, k.saturating_mul(4)) != 0)
                .count(),
        ));
    }
    if entries > 0 {
        c.warning(
            "ext4.orphan_file.pending",
            oi.offset,
            format!("the orphan file holds {entries} inode(s) pending deletion or truncation"),
        );
    }
}

fn mmp(c: &mut Ctx<'_, '_>) {
    let fs = c.fs;
    let sb = &fs.sb;
    if !sb.has_incompat(incompat::MMP) {
        return;
    }
    let blk = sb.s_mmp_block;
    if blk <= u64::from(sb.s_first_data_block) || blk >= sb.s_blocks_count {
        c.error(
            "ext4.mmp.block_out_of_range",
            SB.saturating_add(0x168),
            format!("s_mmp_block is {blk}, outside the filesystem"),
        );
        return;
    }
    let Some(b) = fs.read_block(blk) else { return };
    let off = fs.block_offset(blk).unwrap_or(0);
    let magic = le32(&b, 0);
    if magic != MMP_MAGIC {
        c.error(
            "ext4.mmp.bad_magic",
            off,
            format!("MMP block {blk} magic is {magic:#010x}, expected 0x004d4d50"),
        );
        return;
    }
    if sb.metadata_csum() {
        let want = crc32c_raw(fs.seed, bytes(&b, 0, 0x3FC));
        let got = le32(&b, 0x3FC);
        if want != got {
            c.error(
                "ext4.mmp.checksum",
                off,
                format!("MMP block {blk} checksum is {got:#010x}, computed {want:#010x}"),
            );
        }
    }
    let seq = le32(&b, 4);
    if seq != 0xFF4D_4D50 {
        let node = crate::util::cstr(bytes(&b, 16, 64));
        c.warning("ext4.mmp.in_use", off, format!("MMP sequence is {seq:#010x}, not the clean value: the filesystem may be in use (last by node \"{node}\")"));
    }
}

/// An external journal device: its jbd2 superblock follows the ext one.
fn journal_device(c: &mut Ctx<'_, '_>) -> Option<JournalSummary> {
    let fs = c.fs;
    let jblk = if fs.bs == 1024 { 2 } else { 1 };
    let off = fs.block_offset(jblk).unwrap_or(0);
    let mut jsb = vec![0u8; 1024];
    if fs.r.read_exact_at(off, &mut jsb).is_err() {
        c.error(
            "ext4.journal.unreadable",
            off,
            format!("journal superblock at block {jblk} lies outside the image"),
        );
        return None;
    }
    let avail = fs.sb.s_blocks_count;
    let map = crate::journal::JournalMap {
        runs: vec![(0, 0, avail)],
    };
    journal_superblock(
        c,
        &jsb,
        off,
        jblk,
        avail,
        false,
        "external device".to_string(),
        &map,
    )
}

fn journal(c: &mut Ctx<'_, '_>) -> Option<JournalSummary> {
    let fs = c.fs;
    let sb = &fs.sb;
    let has = sb.has_compat(compat::HAS_JOURNAL);
    let inum = sb.s_journal_inum;
    if !has {
        if inum != 0
            && sb.s_rev_level > 0
            && let Some(ji) = fs.read_inode(inum)
            && ji.i_links_count != 0
            && ji.i_block.iter().any(|&b| b != 0)
        {
            c.error("ext4.journal.inode_without_feature", ji.offset, format!("has_journal is clear but s_journal_inum is {inum} and that inode holds a journal"));
        }
        return None;
    }
    if sb.s_journal_dev != 0 || inum == 0 {
        c.info(
            "ext4.journal.external",
            SB.saturating_add(0xE0),
            "the journal is on an external device; it is not checked".to_string(),
        );
        return Some(JournalSummary {
            location: "external".into(),
            ..JournalSummary::default()
        });
    }
    if inum > sb.s_inodes_count {
        c.error(
            "ext4.journal.bad_inode_number",
            SB.saturating_add(0xE0),
            format!("s_journal_inum is {inum}, beyond s_inodes_count"),
        );
        return None;
    }
    let Some(ji) = fs.read_inode(inum) else {
        c.error(
            "ext4.journal.unreadable",
            SB.saturating_add(0xE0),
            format!("journal inode {inum} cannot be read"),
        );
        return None;
    };
    if ji.i_links_count == 0 || !ji.is_reg() {
        c.error(
            "ext4.journal.bad_inode",
            ji.offset,
            format!(
                "journal inode {inum} is not an in-use regular file (mode {:#o}, links {})",
                ji.i_mode, ji.i_links_count
            ),
        );
        return None;
    }
    special_inode_csum(c, &ji, "journal");
    // s_jnl_blocks is a copy of i_block, i_size_high, i_size (PR_0_BACKUP_JNL).
    if sb.s_jnl_backup_type == 1 {
        let mut same = true;
        for i in 0..15usize {
            if sb.s_jnl_blocks.get(i).copied().unwrap_or(0)
                != le32(&ji.i_block, i.saturating_mul(4))
            {
                same = false;
            }
        }
        if sb.s_jnl_blocks.get(16).copied().unwrap_or(0) != le32(&ji.raw, 4) {
            same = false;
        }
        if !same {
            c.warning("ext4.journal.backup_blocks_differ", SB.saturating_add(0x10C), format!("the superblock's backup of journal inode {inum}'s block map (s_jnl_blocks) differs from the inode"));
        }
    }
    let mut probs = Vec::new();
    let mut first = None;
    let mut mapped = 0u64;
    let mut runs = Vec::new();
    fs.map_file(
        &ji,
        &mut |e| {
            if let MapEvent::Data {
                lblk, pblk, len, ..
            } = e
            {
                if lblk == 0 {
                    first = Some(pblk);
                }
                mapped = mapped.saturating_add(len);
                if runs.len() < (1 << 20) {
                    runs.push((lblk, pblk, len));
                }
            }
        },
        Some(&mut probs),
    );
    runs.sort_unstable();
    let map = crate::journal::JournalMap { runs };
    let had_probs = !probs.is_empty();
    for p in probs {
        c.push(Finding {
            code: "ext4.journal.bad_block_map".into(),
            ..p
        });
    }
    let Some(jblk) = first else {
        c.error(
            "ext4.journal.no_superblock",
            ji.offset,
            format!("journal inode {inum} maps no block 0: the journal superblock is missing"),
        );
        return None;
    };
    let off = fs.block_offset(jblk).unwrap_or(0);
    let mut jsb = vec![0u8; 1024];
    if fs.r.read_exact_at(off, &mut jsb).is_err() {
        c.error(
            "ext4.journal.unreadable",
            off,
            format!("journal superblock at block {jblk} lies outside the image"),
        );
        return None;
    }
    journal_superblock(
        c,
        &jsb,
        off,
        jblk,
        mapped.max(ji.i_size.checked_div(fs.bs).unwrap_or(0)),
        had_probs,
        format!("inode {inum}"),
        &map,
    )
}

/// Checks a jbd2 superblock (`jsb`, at byte `off`, block `jblk`) whose
/// journal spans `avail` blocks.
#[allow(clippy::too_many_arguments)]
fn journal_superblock(
    c: &mut Ctx<'_, '_>,
    jsb: &[u8],
    off: u64,
    jblk: u64,
    avail: u64,
    had_probs: bool,
    location: String,
    map: &crate::journal::JournalMap,
) -> Option<JournalSummary> {
    let fs = c.fs;
    let sb = &fs.sb;
    let jsb = jsb.to_vec();
    let mapped = avail;
    let magic = be32(&jsb, 0);
    let btype = be32(&jsb, 4);
    if magic != JBD2_MAGIC || !(btype == 3 || btype == 4) {
        c.error("ext4.journal.bad_superblock", off, format!("journal superblock (block {jblk}) has magic {magic:#010x} / type {btype}, expected 0xc03b3998 / 3 or 4"));
        return None;
    }
    let j_bs = be32(&jsb, 0x0C);
    let maxlen = be32(&jsb, 0x10);
    let jfirst = be32(&jsb, 0x14);
    let jseq = be32(&jsb, 0x18);
    let jstart = be32(&jsb, 0x1C);
    let errno = i32::from_be_bytes(be32(&jsb, 0x20).to_be_bytes());
    let (fcompat, fincompat, frocompat) = if btype == 4 {
        (be32(&jsb, 0x24), be32(&jsb, 0x28), be32(&jsb, 0x2C))
    } else {
        (0, 0, 0)
    };
    if u64::from(j_bs) != fs.bs {
        c.error(
            "ext4.journal.bad_superblock",
            off,
            format!(
                "journal block size is {j_bs}, the filesystem's is {}",
                fs.bs
            ),
        );
    }
    if u64::from(maxlen) > mapped {
        c.error(
            "ext4.journal.bad_superblock",
            off,
            format!("journal s_maxlen is {maxlen} blocks, but the journal maps only {mapped}"),
        );
    } else if maxlen < 1024 && !had_probs {
        // JBD2_MIN_JOURNAL_BLOCKS: e2fsck refuses smaller journals.
        c.error(
            "ext4.journal.too_small",
            off,
            format!("journal s_maxlen is {maxlen} blocks, fewer than the 1024 jbd2 requires"),
        );
    }
    if jfirst == 0 || jfirst >= maxlen {
        c.error(
            "ext4.journal.bad_superblock",
            off,
            format!("journal s_first is {jfirst}, expected 1..{maxlen}"),
        );
    }
    if btype == 3 && jsb.get(0x24..).is_some_and(|t| t.iter().any(|&b| b != 0)) {
        c.warning(
            "ext4.journal.v1_with_v2_fields",
            off,
            "version 1 journal superblock has non-zero version 2 fields (a bad V1→V2 upgrade)"
                .to_string(),
        );
    }
    let nr_users = be32(&jsb, 0x40);
    if btype == 4 && nr_users > 1 {
        c.warning(
            "ext4.journal.bad_nr_users",
            off.saturating_add(0x40),
            format!("internal journal superblock says {nr_users} filesystems use it (s_nr_users): invalid version 2 fields, as a bad V1→V2 upgrade leaves"),
        );
    }
    let known_incompat = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20;
    if fincompat & !known_incompat != 0 {
        c.error(
            "ext4.journal.unsupported_feature",
            off,
            format!(
                "journal has unknown incompatible features {:#x}",
                fincompat & !known_incompat
            ),
        );
    }
    if frocompat != 0 {
        c.error(
            "ext4.journal.unsupported_feature",
            off,
            format!("journal has unknown read-only features {frocompat:#x}"),
        );
    }
    let csum_v23 = fincompat & (0x8 | 0x10) != 0;
    if csum_v23 {
        let mut d = jsb.clone();
        zero(&mut d, 0xFC, 4);
        let want = crc32c_raw(!0, &d);
        let got = be32(&jsb, 0xFC);
        if want != got {
            c.error(
                "ext4.journal.superblock_checksum",
                off,
                format!("journal superblock checksum is {got:#010x}, computed {want:#010x}"),
            );
        }
        if crate::util::u8_at(&jsb, 0x50) != 4 {
            c.error(
                "ext4.journal.superblock_checksum",
                off,
                format!(
                    "journal checksum type is {}, expected 4 (crc32c)",
                    crate::util::u8_at(&jsb, 0x50)
                ),
            );
        }
    }
    if fincompat & 0x8 != 0 && fincompat & 0x10 != 0 {
        c.error(
            "ext4.journal.bad_superblock",
            off,
            "journal has both csum v2 and v3 set".to_string(),
        );
    }
    if errno != 0 {
        c.error(
            "ext4.journal.aborted",
            off.saturating_add(0x20),
            format!("journal s_errno is {errno}: the journal was aborted after an error"),
        );
    }
    let recover = sb.has_incompat(incompat::RECOVER);
    if !recover && jstart != 0 {
        c.error("ext4.journal.has_data_without_recover", off.saturating_add(0x1C), format!("needs_recovery is clear, but the journal has data (s_start {jstart}, sequence {jseq})"));
    }
    if recover && jstart == 0 {
        c.warning(
            "ext4.journal.recover_but_empty",
            off.saturating_add(0x1C),
            "needs_recovery is set, but the journal is empty (s_start 0)".to_string(),
        );
    }
    let walk = crate::journal::walk(fs, &jsb, map, c.deep);
    c.out.extend(walk.findings);
    if jstart != 0 {
        let when = walk.last_commit.map_or(String::new(), |t| {
            format!(", the last committed {}", fmt_time(t))
        });
        let range = match (walk.first_seq, walk.last_seq) {
            (Some(a), Some(b)) => format!(" (sequence {a}..={b})"),
            _ => String::new(),
        };
        let tail = if walk.uncommitted {
            "; an uncommitted transaction follows, which a replay discards"
        } else {
            ""
        };
        c.info("ext4.journal.contents", off.saturating_add(0x1C), format!("the journal holds {} complete transaction(s) from block {jstart}{range}{when}{tail}", walk.transactions));
    }
    Some(JournalSummary {
        transactions: walk.transactions,
        transaction_range: walk.first_seq.zip(walk.last_seq),
        last_commit: walk.last_commit,
        location,
        block_size: j_bs,
        maxlen,
        first: jfirst,
        sequence: jseq,
        start: jstart,
        errno,
        version: if btype == 4 { 2 } else { 1 },
        features_compat: fcompat,
        features_incompat: fincompat,
        features_ro_compat: frocompat,
    })
}

fn summary(
    fs: &Ext4<'_>,
    journal: Option<JournalSummary>,
    errors: Option<ErrorRecords>,
) -> Summary {
    let sb = &fs.sb;
    let kind = if sb.has_incompat(incompat::JOURNAL_DEV) {
        "jbd"
    } else if sb.has_incompat(
        incompat::EXTENTS | incompat::FLEX_BG | incompat::BIT64 | incompat::INLINE_DATA,
    ) || sb.metadata_csum()
        || sb.has_ro_compat(
            ro_compat::HUGE_FILE
                | ro_compat::GDT_CSUM
                | ro_compat::DIR_NLINK
                | ro_compat::EXTRA_ISIZE,
        )
    {
        "ext4"
    } else if sb.has_compat(compat::HAS_JOURNAL) {
        "ext3"
    } else {
        "ext2"
    };
    let mut state = Vec::new();
    if sb.s_state & VALID_FS != 0 {
        state.push("clean");
    } else {
        state.push("not clean");
    }
    if sb.s_state & ERROR_FS != 0 {
        state.push("errors");
    }
    if sb.s_state & ORPHAN_FS != 0 {
        state.push("orphans being processed");
    }
    let opt = |t: i64| (t != 0).then_some(t);
    Summary {
        kind: kind.to_string(),
        superblock: fs.source.clone(),
        block_size: fs.bs,
        blocks_count: sb.s_blocks_count,
        free_blocks: sb.s_free_blocks_count,
        reserved_blocks: sb.s_r_blocks_count,
        inodes_count: sb.s_inodes_count,
        free_inodes: sb.s_free_inodes_count,
        inode_size: sb.inode_size(),
        groups: fs.groups,
        fs_bytes: sb.s_blocks_count.saturating_mul(fs.bs),
        container_bytes: fs.r.len(),
        label: sb.s_volume_name.clone(),
        uuid: sb.uuid_string(),
        features: feature_names(
            sb.s_feature_compat,
            sb.s_feature_incompat,
            sb.s_feature_ro_compat,
        ),
        state: state.join(", "),
        errors_behaviour: match sb.s_errors {
            1 => "continue",
            2 => "remount-ro",
            3 => "panic",
            _ => "unknown",
        }
        .to_string(),
        last_mounted_at: (!sb.s_last_mounted.is_empty()).then(|| sb.s_last_mounted.clone()),
        mount_count: sb.s_mnt_count,
        max_mount_count: sb.s_max_mnt_count,
        kbytes_written: sb.s_kbytes_written,
        needs_recovery: sb.has_incompat(incompat::RECOVER),
        times: Times {
            created: opt(sb.s_mkfs_time),
            last_mount: opt(sb.s_mtime),
            last_write: opt(sb.s_wtime),
            last_check: opt(sb.s_lastcheck),
        },
        journal,
        errors,
        group_descriptors_loaded: u64_of(fs.gds.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn time_formats() {
        assert_eq!(fmt_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(fmt_time(1_700_000_000), "2023-11-14 22:13:20 UTC");
    }
    #[test]
    fn zero_bits() {
        assert_eq!(count_zero_bits(&[0xFF, 0x0F], 12), 0);
        assert_eq!(count_zero_bits(&[0xFF, 0x0F], 16), 4);
        assert_eq!(count_zero_bits(&[0x00], 3), 3);
    }
}

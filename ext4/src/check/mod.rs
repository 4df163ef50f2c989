//! Default-depth checks: proportional to the number of block groups plus a
//! few blocks (superblock, backups, group descriptors, bitmap checksums,
//! journal superblock, orphans, MMP, resize inode, root inode), and the
//! forensic summary (state, times, kernel error records, usage, size).
//!
//! One file per structure, as e2fsck's super.c, journal.c and friends:
//! `superblock` (values, state, times, error records, size, backups),
//! `groups` (descriptors), `bitmaps`, `root`, `resize`, `orphans`, `mmp`
//! and `journal`.

mod bitmaps;
mod groups;
mod journal;
mod mmp;
mod orphans;
mod resize;
mod root;
mod superblock;

pub(crate) use bitmaps::clusters_in_group;

use crate::E2FSCK_FN;
use crate::fs::Ext4;
use crate::inode::Inode;
use crate::superblock::{compat, feature_names, incompat, ro_compat};
use crate::{ErrorRecords, JournalSummary, Summary, Times};
use bitmaps::bitmaps;
use groups::group_descriptors;
use imgcheck_core::bytes::u64_of;
use imgcheck_core::{Finding, Hint, Layer, Sink, Space};
use journal::{journal, journal_device};
use mmp::mmp;
use orphans::orphans;
use resize::resize_inode;
use root::root_inode;
use superblock::{
    backups, error_records, pending_recovery, size_vs_container, state_and_times,
    superblock_values, usage,
};

/// State bits of `s_state`.
const VALID_FS: u16 = 1;
const ERROR_FS: u16 = 2;
const ORPHAN_FS: u16 = 4;

pub(crate) struct Ctx<'a, 'r> {
    pub fs: &'a Ext4<'r>,
    /// Where findings go, under the report's one cap policy.
    pub out: &'a mut Sink,
    /// Deep mode: also read every logged journal data block.
    pub deep: bool,
    /// What a pending journal recovery rewrites.
    pub replay: Replay,
}

/// What the pending journal recovery rewrites: filesystem blocks the
/// committed transactions log (less the revoked), inodes the fast-commit
/// area updates. Findings there describe the state before the replay.
#[derive(Debug, Clone, Default)]
pub(crate) struct Replay {
    /// Sorted block numbers.
    pub blocks: Vec<u64>,
    /// Sorted inode numbers.
    pub inodes: Vec<u32>,
    /// What the recovery leaves out without an error (see
    /// `journal::Walk::lost`): said in the pending-recovery warning.
    pub lost: Vec<String>,
}

impl Ctx<'_, '_> {
    /// Byte offset of the superblock in use (see
    /// [`Ext4::superblock_offset`]): the base of every field a finding
    /// about the superblock's values names.
    pub(crate) fn sb_at(&self) -> u64 {
        self.fs.superblock_offset()
    }

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

/// Runs every default-depth check into `out`; returns the summary and what
/// a pending recovery rewrites.
pub(crate) fn run(fs: &Ext4<'_>, deep: bool, out: &mut Sink) -> (Summary, Replay) {
    out.extend(fs.open_findings.iter().cloned());
    let mut c = Ctx {
        fs,
        out,
        deep,
        replay: Replay::default(),
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
    pending_recovery(&mut c);
    (summary(fs, journal, records), c.replay)
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
        label: Some(sb.s_volume_name.clone()).filter(|l| !l.is_empty()),
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

/// A pending journal recovery rewrites the blocks (and fast-commit
/// inodes) in `replay` before anything else reads them: an error found in
/// one describes the state before the replay, which recovery may well
/// make consistent. Such errors become warnings that say so. Journal and
/// read findings are about the journal and the storage themselves, and
/// summary findings (at the superblock's offset, not about it) about the
/// whole filesystem; they stay as they are.
pub(crate) fn explain_replay(fs: &Ext4<'_>, replay: &Replay, findings: &mut [Finding]) {
    if replay.blocks.is_empty() && replay.inodes.is_empty() {
        return;
    }
    for f in findings.iter_mut() {
        let code = f.code.as_ref();
        if f.severity != imgcheck_core::Severity::Error
            || code.starts_with("ext4.journal.")
            || code.starts_with("ext4.read.")
            || code == "ext4.state.errors"
            || (f.offset == fs.superblock_offset() && !code.starts_with("ext4.superblock."))
        {
            continue;
        }
        let blk = f.offset.checked_div(fs.bs).unwrap_or(0);
        let in_fc = !replay.inodes.is_empty()
            && fs
                .inode_at_offset(f.offset)
                .is_some_and(|i| replay.inodes.binary_search(&i).is_ok());
        let what = if in_fc {
            "the fast-commit replay rewrites this inode"
        } else if replay.blocks.binary_search(&blk).is_ok() {
            "the journal replay rewrites this block"
        } else {
            continue;
        };
        f.severity = imgcheck_core::Severity::Warning;
        f.message = format!(
            "{}; recovery is pending and {what} first: this describes the state before the replay",
            f.message
        );
    }
}

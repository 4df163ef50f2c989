//! The journal: its inode (or an external device), the jbd2 superblock,
//! and the log walk's findings.

use super::{Ctx, special_inode_csum};
use crate::JournalSummary;
use crate::blockmap::MapEvent;
use crate::reads::Miss;
use crate::superblock::{compat, incompat};
use crate::util::{crc32c_raw, zero};
use imgcheck_core::Finding;
use imgcheck_core::bytes::{be32, le32, u8_at};
use imgcheck_core::time::utc;

/// jbd2 superblock magic.
const JBD2_MAGIC: u32 = 0xC03B_3998;
/// The reserved inode mke2fs gives the journal.
const JOURNAL_INO: u32 = 8;

/// An external journal device: its jbd2 superblock follows the ext one.
pub(super) fn journal_device(c: &mut Ctx<'_, '_>) -> Option<JournalSummary> {
    let fs = c.fs;
    let jblk = if fs.bs == 1024 { 2 } else { 1 };
    let off = fs.block_offset(jblk).unwrap_or(0);
    let mut jsb = vec![0u8; 1024];
    match fs.read_at(off, &mut jsb, || {
        format!("journal superblock (block {jblk})")
    }) {
        Ok(()) => {}
        Err(Miss::Absent) => {
            c.error(
                "ext4.journal.unreadable",
                off,
                format!("journal superblock at block {jblk} lies outside the image"),
            );
            return None;
        }
        // Logged as ext4.read.unreadable, with its cause.
        Err(Miss::Unreadable(_)) => return None,
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

pub(super) fn journal(c: &mut Ctx<'_, '_>) -> Option<JournalSummary> {
    let fs = c.fs;
    let sb = &fs.sb;
    let has = sb.has_compat(compat::HAS_JOURNAL);
    let inum = sb.s_journal_inum;
    // e2fsck looks for an external journal whenever s_journal_uuid is set
    // (e2fsck_get_journal), for the journal inode otherwise.
    let uuid_set = sb.s_journal_uuid.iter().any(|&b| b != 0);
    if !has {
        let recover = sb.has_incompat(incompat::RECOVER);
        if !recover && inum == 0 && sb.s_journal_dev == 0 && !uuid_set {
            return None;
        }
        if uuid_set {
            c.error("ext4.journal.uuid_without_feature", c.sb_at().saturating_add(0xD0), "has_journal is clear but s_journal_uuid names an external journal: e2fsck goes looking for it and stops when it cannot find it".to_string());
        } else if inum != 0 && sb.s_rev_level > 0 {
            match fs.read_inode(inum) {
                Some(ji)
                    if ji.i_links_count != 0
                        && ji.is_reg()
                        && ji.i_block.iter().any(|&b| b != 0) =>
                {
                    c.error("ext4.journal.inode_without_feature", ji.offset, format!("has_journal is clear but s_journal_inum is {inum} and that inode holds a journal"));
                }
                Some(_) | None if inum > sb.s_inodes_count || fs.inode_offset(inum).is_some() => {
                    c.error("ext4.journal.bad_inode_number", c.sb_at().saturating_add(0xE0), format!("has_journal is clear but s_journal_inum is {inum}, which holds no journal: e2fsck calls it an invalid journal and stops"));
                }
                _ => {}
            }
        }
        return None;
    }
    if uuid_set {
        if inum != 0 {
            c.error("ext4.journal.uuid_and_inode", c.sb_at().saturating_add(0xD0), format!("s_journal_uuid names an external journal although the journal is inode {inum}: the kernel uses the inode, e2fsck looks for the external device and stops when it cannot find it"));
            return None;
        }
        c.info(
            "ext4.journal.external",
            c.sb_at().saturating_add(0xD0),
            "the journal is on an external device; it is not checked".to_string(),
        );
        return Some(JournalSummary {
            location: "external".into(),
            ..JournalSummary::default()
        });
    }
    if sb.s_journal_dev != 0 && inum != 0 {
        c.error("ext4.journal.inode_and_device", c.sb_at().saturating_add(0xE4), format!("the superblock names both journal inode {inum} and journal device {:#x}: the kernel refuses to mount such a filesystem", sb.s_journal_dev));
    }
    if inum == 0 {
        // What a user needs before any repair: e2fsck -fy would clear
        // has_journal, free inode 8's blocks and make a new journal, so
        // whatever the old one holds is gone.
        let usual = match fs.read_inode(JOURNAL_INO) {
            Some(ji)
                if ji.i_links_count != 0 && ji.is_reg() && ji.i_block.iter().any(|&b| b != 0) =>
            {
                format!(
                    "; inode {JOURNAL_INO}, the usual journal inode, is in use and maps blocks, so s_journal_inum was most likely {JOURNAL_INO} (e2fsck -fy would discard that journal and make a new one)"
                )
            }
            _ => String::new(),
        };
        c.error(
            "ext4.journal.bad_inode_number",
            c.sb_at().saturating_add(0xE0),
            format!("has_journal is set but the superblock names neither a journal inode nor an external journal{usual}"),
        );
        return None;
    }
    if inum > sb.s_inodes_count {
        c.error(
            "ext4.journal.bad_inode_number",
            c.sb_at().saturating_add(0xE0),
            format!("s_journal_inum is {inum}, beyond s_inodes_count"),
        );
        return None;
    }
    let ji = match fs.inode(inum) {
        Ok(i) => i,
        Err(Miss::Absent) => {
            c.error(
                "ext4.journal.unreadable",
                c.sb_at().saturating_add(0xE0),
                format!("journal inode {inum} cannot be read"),
            );
            return None;
        }
        // Logged as ext4.read.unreadable, with its cause.
        Err(Miss::Unreadable(_)) => return None,
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
        if !same {
            // Used only to rebuild a damaged journal inode; e2fsck -fy
            // refreshes it from the inode (PR_0_BACKUP_JNL).
            c.info("ext4.journal.backup_blocks_differ", c.sb_at().saturating_add(0x10C), format!("the superblock's backup of journal inode {inum}'s block map (s_jnl_blocks) differs from the inode; e2fsck -fy refreshes it"));
        }
    }
    let mut probs = Vec::new();
    let mut first = None;
    let mut mapped = 0u64;
    let mut runs = Vec::new();
    let failed = fs.failed_reads();
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
    // An unreadable mapping block hides part of the journal: what is
    // mapped then says nothing about its size or its block 0.
    let map_complete = fs.failed_reads() == failed;
    for p in probs {
        c.push(Finding {
            code: "ext4.journal.bad_block_map".into(),
            ..p
        });
    }
    let Some(jblk) = first else {
        if !map_complete {
            return None;
        }
        c.error(
            "ext4.journal.no_superblock",
            ji.offset,
            format!("journal inode {inum} maps no block 0: the journal superblock is missing"),
        );
        return None;
    };
    let off = fs.block_offset(jblk).unwrap_or(0);
    let mut jsb = vec![0u8; 1024];
    match fs.read_at(off, &mut jsb, || {
        format!("journal superblock (block {jblk})")
    }) {
        Ok(()) => {}
        Err(Miss::Absent) => {
            c.error(
                "ext4.journal.unreadable",
                off,
                format!("journal superblock at block {jblk} lies outside the image"),
            );
            return None;
        }
        // Logged as ext4.read.unreadable, with its cause.
        Err(Miss::Unreadable(_)) => return None,
    }
    journal_superblock(
        c,
        &jsb,
        off,
        jblk,
        if map_complete {
            mapped.max(ji.i_size.checked_div(fs.bs).unwrap_or(0))
        } else {
            u64::MAX
        },
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
        // jbd2's journal_load refuses it ("Invalid start block of
        // journal"): the filesystem does not mount.
        c.error(
            "ext4.journal.bad_first",
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
        if u8_at(&jsb, 0x50) != 4 {
            c.error(
                "ext4.journal.superblock_checksum",
                off,
                format!(
                    "journal checksum type is {}, expected 4 (crc32c)",
                    u8_at(&jsb, 0x50)
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
    let walk_findings = walk.findings.clone();
    c.out.extend(walk_findings);
    if jstart != 0 {
        let when = walk.last_commit.map_or(String::new(), |t| {
            format!(", the last committed {}", utc(t))
        });
        let range = match (walk.first_seq, walk.last_seq) {
            (Some(a), Some(b)) => format!(" (sequence {a}..={b})"),
            _ => String::new(),
        };
        let mut tail = match walk.unreadable_at {
            Some(b) => format!("; the log could not be read from block {b} on"),
            None if walk.uncommitted => {
                "; an uncommitted transaction follows, which a replay discards".to_string()
            }
            None => String::new(),
        };
        if let Some(why) = &walk.corrupt_tail {
            tail.push_str(&format!(" ({why}, which does not matter there)"));
        }
        let rewrites = if walk.replay_blocks.is_empty() {
            String::new()
        } else {
            format!(
                "; replaying them rewrites {} filesystem block(s)",
                walk.replay_blocks.len()
            )
        };
        let fc = if walk.fc_inodes.is_empty() {
            String::new()
        } else {
            format!(
                "; the fast-commit area then updates {} inode(s)",
                walk.fc_inodes.len()
            )
        };
        c.info("ext4.journal.contents", off.saturating_add(0x1C), format!("the journal holds {} complete transaction(s) from block {jstart}{range}{when}{rewrites}{fc}{tail}", walk.transactions));
    }
    if sb.has_incompat(incompat::RECOVER) {
        c.replay.blocks = walk.replay_blocks;
        c.replay.inodes = walk.fc_inodes;
        c.replay.lost = walk.lost;
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

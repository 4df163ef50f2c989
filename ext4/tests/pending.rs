//! Pending work is not damage: images the kernel left mid-flight
//! (testdata/scripts/ext4-pending.sh) give warnings that say what recovery
//! will do, never errors, at the full depth — and damage recovery cannot
//! repair still gives an error. Where e2fsck is installed, its verdict on
//! the same image is printed beside ours (e2fsck -fn reads the pre-replay
//! state and flags it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

mod common;

use common::*;
use imgcheck_core::{BytesReader, Severity};
use imgcheck_ext4::{Report, check};

fn full(img: &[u8]) -> Report {
    check(&BytesReader::new(img.to_vec()), &common::full())
}

fn errors(r: &Report) -> Vec<String> {
    r.findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| format!("{}: {}", f.code, f.message))
        .collect()
}

fn has(r: &Report, code: &str, sev: Severity, text: &str) -> bool {
    r.findings
        .iter()
        .any(|f| f.code == code && f.severity == sev && f.message.contains(text))
}

fn be32(b: &[u8], o: usize) -> u32 {
    u32::from_be_bytes(b[o..o + 4].try_into().unwrap())
}

/// Byte offset of journal block `k`, through inode 8's extents (the
/// kernel-made journals here are in three extents, depth 0).
fn jblock(img: &[u8], k: usize) -> usize {
    let g = geo(img);
    let i = inode_at(&g, 8) + 0x28;
    assert_eq!(&img[i..i + 2], &[0x0A, 0xF3]);
    assert_eq!(u16::from_le_bytes([img[i + 6], img[i + 7]]), 0, "depth 0");
    let n = u16::from_le_bytes([img[i + 2], img[i + 3]]) as usize;
    for e in 0..n {
        let x = i + 12 + 12 * e;
        let l = le32(img, x) as usize;
        let len = u16::from_le_bytes([img[x + 4], img[x + 5]]) as usize;
        let p = le32(img, x + 8) as usize;
        if k >= l && k < l + len {
            return (p + k - l) * g.bs;
        }
    }
    panic!("journal block {k} not mapped");
}

/// e2fsck -fn's problem lines on `img`, when e2fsck is installed.
fn e2fsck_says(img: &[u8]) -> Option<Vec<String>> {
    use imgcheck_testdata::ext4gen::tools;
    if !tools::have_e2fsprogs() {
        println!("e2fsck not installed: its verdict is not compared");
        return None;
    }
    let dir = imgcheck_testdata::ext4gen::scratch();
    let p = dir.path().join("img");
    std::fs::write(&p, img).unwrap();
    Some(tools::e2fsck_fn(&p, std::time::Duration::from_secs(30)).problems)
}

#[test]
fn crash_image_is_pending_recovery() {
    let img = load("ext4-crash");
    let r = full(&img);
    assert!(errors(&r).is_empty(), "{:#?}", errors(&r));
    assert!(has(
        &r,
        "ext4.journal.needs_recovery",
        Severity::Warning,
        ""
    ));
    assert!(has(&r, "ext4.journal.contents", Severity::Info, "rewrites"));
    // Free counts of a filesystem not cleanly unmounted: info.
    for f in &r.findings {
        if f.code.as_ref().contains("free_blocks_wrong")
            || f.code.as_ref().contains("free_inodes_wrong")
        {
            assert_eq!(f.severity, Severity::Info, "{}", f.message);
        }
    }
    if let Some(e2) = e2fsck_says(&img) {
        println!("e2fsck -fn on the crash image: {e2:?}");
    }
}

#[test]
fn orphan_delete_pending() {
    let img = load("ext4-orphan");
    let r = full(&img);
    assert!(errors(&r).is_empty(), "{:#?}", errors(&r));
    assert!(
        has(
            &r,
            "ext4.orphan.processing_pending",
            Severity::Warning,
            "delete 1 inode"
        ),
        "{:#?}",
        r.findings
    );
    // e2fsck -fn calls this damage (zero dtime, bitmap differences): it
    // does not process orphans read-only.
    if let Some(e2) = e2fsck_says(&img) {
        assert!(e2.iter().any(|l| l.contains("zero dtime")), "{e2:?}");
    }
}

#[test]
fn orphan_truncate_pending_is_not_blocks_past_eof() {
    let img = load("ext4-orphan-trunc");
    let r = full(&img);
    assert!(errors(&r).is_empty(), "{:#?}", errors(&r));
    assert!(
        !r.findings
            .iter()
            .any(|f| f.code == "ext4.inode.blocks_past_eof")
    );
    assert!(has(
        &r,
        "ext4.orphan.processing_pending",
        Severity::Warning,
        "truncate 1 inode"
    ));
    if let Some(e2) = e2fsck_says(&img) {
        assert!(e2.iter().any(|l| l.contains("i_size is")), "{e2:?}");
    }
    // The same file off the orphan list is damage: blocks past EOF.
    let mut lost = img.clone();
    put32(&mut lost, SB + 0xE8, 0);
    fix_sb(&mut lost);
    let r = full(&lost);
    assert!(
        r.findings
            .iter()
            .any(|f| f.code == "ext4.inode.blocks_past_eof" && f.severity == Severity::Error),
        "{:#?}",
        r.findings
    );
}

/// The fast-commit area's INODE record for `ino`, as the kernel logged it.
fn fc_inode_record(img: &[u8], ino: u32) -> Vec<u8> {
    let j = jblock(img, 0);
    let maxlen = be32(img, j + 0x10) as usize;
    let fc = match be32(img, j + 0x54) as usize {
        0 => 256,
        n => n,
    };
    // The fast-commit area follows j_last = maxlen - fc, from j_last + 1;
    // records run on into the next block, which is contiguous here.
    let start = jblock(img, maxlen - fc + 1);
    let mut pos = start;
    while pos + 4 < start + (fc - 1) * 4096 {
        let tag = u16::from_le_bytes([img[pos], img[pos + 1]]);
        let len = u16::from_le_bytes([img[pos + 2], img[pos + 3]]) as usize;
        if tag == 6 && le32(img, pos + 4) == ino {
            return img[pos + 8..pos + 4 + len].to_vec();
        }
        if tag == 0 || tag > 9 {
            break;
        }
        pos += 4 + len;
    }
    panic!("no INODE record for {ino}");
}

#[test]
fn fast_commit_replay_pending() {
    let img = load("ext4-fc");
    let r = full(&img);
    assert!(errors(&r).is_empty(), "{:#?}", errors(&r));
    assert!(has(
        &r,
        "ext4.journal.contents",
        Severity::Info,
        "fast-commit area then updates"
    ));
    // A torn inode: i_blocks of inode 12 as its fast-commit record has it,
    // its extents as before (the record's ADD_RANGE adds them). Before the
    // replay the counts disagree; the replay rewrites the inode from the
    // record: a warning that says so, not an error.
    let g = geo(&img);
    let mut torn = img.clone();
    let raw = fc_inode_record(&img, 12);
    let at = inode_at(&g, 12);
    torn[at + 0x1C..at + 0x20].copy_from_slice(&raw[0x1C..0x20]);
    assert_ne!(
        le32(&torn, at + 0x1C),
        le32(&img, at + 0x1C),
        "the record changes i_blocks"
    );
    fix_inode_csum(&mut torn, at, 12);
    let r = full(&torn);
    assert!(errors(&r).is_empty(), "{:#?}", errors(&r));
    assert!(
        r.findings
            .iter()
            .any(|f| f.code == "ext4.inode.bad_i_blocks"
                && f.severity == Severity::Warning
                && f.message.contains("fast-commit replay")),
        "{:#?}",
        r.findings
    );
    if let Some(e2) = e2fsck_says(&torn) {
        assert!(e2.iter().any(|l| l.contains("i_blocks is")), "{e2:?}");
    }
}

/// Recomputes inode `ino`'s checksum at byte `at` (metadata_csum, no
/// csum seed feature, 256-byte inodes).
fn fix_inode_csum(b: &mut [u8], at: usize, ino: u32) {
    let seed = raw_crc(!0, &b[SB + 0x68..SB + 0x78]);
    let generation = le32(b, at + 0x64);
    b[at + 0x7C..at + 0x7E].fill(0);
    b[at + 0x82..at + 0x84].fill(0);
    let c = raw_crc(
        raw_crc(raw_crc(seed, &ino.to_le_bytes()), &generation.to_le_bytes()),
        &b[at..at + 256],
    );
    b[at + 0x7C..at + 0x7E].copy_from_slice(&(c as u16).to_le_bytes());
    b[at + 0x82..at + 0x84].copy_from_slice(&((c >> 16) as u16).to_le_bytes());
}

/// The crash image with a revoke block of transaction 4 written after the
/// last commit, its checksum wrong: the uncommitted tail.
#[test]
fn corrupt_revoke_in_uncommitted_tail_is_discarded() {
    let img = load("ext4-crash");
    let j = jblock(&img, 0);
    let bs = 4096;
    // Find the last commit block (type 2) of the log from block 1.
    let mut last_commit = None;
    let mut seq = be32(&img, j + 0x18);
    for k in 1..200 {
        let o = jblock(&img, k);
        if be32(&img, o) == 0xC03B_3998 && be32(&img, o + 4) == 2 && be32(&img, o + 8) >= seq {
            last_commit = Some(k);
            seq = be32(&img, o + 8) + 1;
        }
    }
    let k = last_commit.expect("a commit block") + 1;
    let mut tail = img.clone();
    let o = jblock(&img, k);
    tail[o..o + bs].fill(0);
    tail[o..o + 4].copy_from_slice(&0xC03B_3998u32.to_be_bytes());
    tail[o + 4..o + 8].copy_from_slice(&5u32.to_be_bytes());
    tail[o + 8..o + 12].copy_from_slice(&seq.to_be_bytes());
    tail[o + 12..o + 16].copy_from_slice(&24u32.to_be_bytes());
    tail[o + bs - 4..o + bs].copy_from_slice(&0xdead_beefu32.to_be_bytes());
    let r = full(&tail);
    assert!(
        !r.findings
            .iter()
            .any(|f| f.code == "ext4.journal.transaction_corrupt"),
        "{:#?}",
        r.findings
    );
    assert!(has(
        &r,
        "ext4.journal.contents",
        Severity::Info,
        "which does not matter there"
    ));
    // The same corrupt revoke block followed by its transaction's commit:
    // the replay fails on it.
    let mut committed = tail.clone();
    let c = jblock(&img, k + 1);
    let prev = jblock(&img, k - 1);
    committed[c..c + bs].copy_from_slice(&img[prev..prev + bs]);
    committed[c + 8..c + 12].copy_from_slice(&seq.to_be_bytes());
    // The commit block's own checksum (csum v3): seed from the journal UUID.
    let seed = raw_crc(!0, &img[j + 0x30..j + 0x40]);
    committed[c + 16..c + 20].fill(0);
    let sum = raw_crc(seed, &committed[c..c + bs]);
    committed[c + 16..c + 20].copy_from_slice(&sum.to_be_bytes());
    let r = full(&committed);
    assert!(
        r.findings
            .iter()
            .any(|f| f.code == "ext4.journal.transaction_corrupt"
                && f.severity == Severity::Error
                && f.message.contains("its transaction committed")),
        "{:#?}",
        r.findings
    );
}

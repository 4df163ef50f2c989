//! The deep check (e2fsck's passes 1–5) against images made by
//! mkfs/debugfs, each damaged at one named byte, and its bounds on
//! garbage: the test fails when the check is removed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

mod common;

use common::*;
use imgcheck_core::Severity;

#[test]
fn deep_finds_debugfs_damage() {
    let r = run(&load("ext4-damaged"), true);
    let c = codes(&r);
    for want in [
        "ext4.dir.unused_inode",
        "ext4.inode.link_count",
        "ext4.bitmap.block_differences",
        "ext4.bitmap.inode_differences",
    ] {
        assert!(c.contains(&want.to_string()), "missing {want}: {c:?}");
    }
    // The default depth sees only the bitmap/count mismatch debugfs left.
    assert!(
        !codes(&run(&load("ext4-damaged"), false)).contains(&"ext4.dir.unused_inode".to_string())
    );
}

#[test]
fn deep_extent_and_directory_damage() {
    let base = load("ext4-1k");
    let g = geo(&base);
    // inode 12 is the first file mkfs -d created; find a regular file with extents.
    let reg = (11..40)
        .map(|i| g.itable0 + (i - 1) * g.isz)
        .find(|&o| {
            u16::from_le_bytes([base[o], base[o + 1]]) & 0xF000 == 0x8000
                && le32(&base, o + 0x20) & 0x80000 != 0
        })
        .unwrap();
    let mut img = base.clone();
    img[reg + 0x28] = 0; // extent header magic
    assert!(codes(&run(&img, true)).contains(&"ext4.extent.bad_header".to_string()));

    let mut img = base.clone();
    put32(&mut img, reg + 0x28 + 12 + 8, 7_000_000); // first extent's start block
    assert!(codes(&run(&img, true)).contains(&"ext4.extent.block_out_of_range".to_string()));

    // Root directory block: break the second entry's rec_len.
    let root = g.itable0 + g.isz;
    let rblk = le32(&base, root + 0x28 + 12 + 8) as usize;
    let mut img = base;
    put16(&mut img, rblk * g.bs + 12 + 4, 3);
    let c = codes(&run(&img, true));
    assert!(
        c.contains(&"ext4.dir.bad_entry".to_string())
            || c.contains(&"ext4.dir.checksum".to_string()),
        "{c:?}"
    );
}

#[test]
fn bounded_on_garbage() {
    // Random-ish bytes behind a valid superblock must not panic or hang.
    let mut img = load("ext4-1k");
    let mut x: u32 = 12345;
    for b in img.iter_mut().skip(4096).step_by(7) {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        *b = (x >> 16) as u8;
    }
    let t = std::time::Instant::now();
    let _ = run(&img, true);
    assert!(t.elapsed().as_secs() < 5);
}

#[test]
fn random_metadata_damage_never_panics_or_hangs() {
    // Byte flips across the superblock, descriptors, bitmaps and inode
    // tables of each fixture; the checker must finish, deep included.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for name in CLEAN {
        let base = load(name);
        let g = geo(&base);
        let hot = (g.itable0 + 64 * g.isz).min(base.len());
        for _ in 0..40 {
            let mut img = base.clone();
            for _ in 0..8 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let off = (x as usize) % hot;
                img[off] ^= (x >> 32) as u8 | 1;
            }
            let t = std::time::Instant::now();
            let _ = run(&img, false);
            let _ = run(&img, true);
            assert!(t.elapsed().as_secs() < 5, "{name}: too slow");
        }
    }
}

#[test]
fn deep_htree_checks() {
    let base = load("ext4-features");
    let g = geo(&base);
    let dir = (1..=g.ipg * g.groups)
        .map(|i| inode_at(&g, i))
        .find(|&o| {
            u16::from_le_bytes([base[o], base[o + 1]]) & 0xF000 == 0x4000
                && le32(&base, o + 0x20) & 0x1000 != 0
        })
        .expect("an htree directory");
    let root = first_block(&base, dir) * g.bs;
    let mut img = base.clone();
    let limit = u16::from_le_bytes([img[root + 0x20], img[root + 0x21]]);
    put16(&mut img, root + 0x22, limit + 1);
    assert!(codes(&run(&img, true)).contains(&"ext4.htree.bad_limit".to_string()));
    let mut img = base.clone();
    img[root + 0x28] ^= 0x40; // second entry's hash
    assert!(codes(&run(&img, true)).contains(&"ext4.htree.checksum".to_string()));
    let mut img = base;
    img[root + 0x1C] = 9; // hash version
    assert!(codes(&run(&img, true)).contains(&"ext4.htree.bad_root".to_string()));
}

#[test]
fn huge_claims_stay_bounded() {
    // A superblock (checksum fixed) claiming 2^35 blocks, 1 Mi groups, in a
    // 16 MiB image: the checker must neither allocate for nor walk them all.
    let mut img = load("ext4-4k");
    put32(&mut img, SB + 0x04, 0);
    put32(&mut img, SB + 0x150, 8);
    put32(&mut img, SB + 0x20, 32768);
    put32(&mut img, SB + 0x24, 32768);
    put32(&mut img, SB, 128 << 20);
    fix_sb(&mut img);
    // How long and how much memory this takes is bounded where it can be
    // measured, in a child process under rlimits: the same image is
    // ext4-huge-claims-deep in inspect-cli/tests/hostile.rs, not a clock
    // here that fails under load.
    let r = run(&img, true);
    let c = codes(&r);
    assert!(c.contains(&"ext4.size.truncated".to_string()), "{c:?}");
}

#[test]
fn remaining_extent_rules() {
    // The first extent-mapped regular file of ext4-1k (one extent in i_block).
    let base = load("ext4-1k");
    let g = geo(&base);
    let reg = (11..60)
        .map(|i| inode_at(&g, i))
        .find(|&o| {
            u16::from_le_bytes([base[o], base[o + 1]]) & 0xF000 == 0x8000
                && le32(&base, o + 0x20) & 0x80000 != 0
                && le32(&base, o + 4) > 4096
        })
        .unwrap();
    let eh = reg + 0x28;
    let e1 = eh + 12;
    let e2 = eh + 24;
    // eh_max must be within two of what i_block holds (4): libext2fs'
    // ext2fs_extent_header_verify.
    case("ext4-1k", true, "ext4.extent.bad_header", |b, _| {
        put16(b, eh + 4, 5)
    });
    case("ext4-1k", true, "ext4.extent.bad_header", |b, _| {
        put16(b, eh + 4, 1)
    });
    case("ext4-1k", true, "ext4.extent.bad_header", |b, _| {
        put16(b, eh + 2, 4 + 1)
    });
    // 1 KiB blocks: 2^32 logical blocks need at most depth 6.
    case("ext4-1k", true, "ext4.extent.bad_depth", |b, _| {
        put16(b, eh + 6, 7)
    });
    case("ext4-1k", true, "ext4.extent.zero_length", |b, _| {
        put16(b, e1 + 4, 0)
    });
    case("ext4-1k", true, "ext4.extent.out_of_order", |b, _| {
        put16(b, eh + 2, 2);
        b.copy_within(e1..e1 + 12, e2);
    });
    // Within one node a second extent starting inside the first is out of
    // order (e2fsck's start_block); overlaps across nodes are collisions.
    case("ext4-1k", true, "ext4.extent.out_of_order", |b, _| {
        put16(b, eh + 2, 2);
        b.copy_within(e1..e1 + 12, e2);
        let l = le32(b, e1) + 1;
        put32(b, e2, l);
    });
}

/// ext4-1k with its first multi-block regular file turned into a depth-1
/// extent tree: the root indexes a leaf at block 8100 holding the file's
/// extent, with a correct tail checksum. Returns (image, root, leaf offset).
fn indexed_tree() -> (Vec<u8>, usize, usize) {
    let mut b = load("ext4-1k");
    let g = geo(&b);
    let (ino, reg) = (11..60)
        .map(|i| (i, inode_at(&g, i)))
        .find(|&(_, o)| {
            u16::from_le_bytes([b[o], b[o + 1]]) & 0xF000 == 0x8000
                && le32(&b, o + 0x20) & 0x80000 != 0
                && le32(&b, o + 4) > 4096
        })
        .unwrap();
    let eh = reg + 0x28;
    let leaf = 8100 * 1024;
    b[leaf..leaf + 1024].fill(0);
    put16(&mut b, leaf, 0xF30A);
    put16(&mut b, leaf + 2, 1);
    put16(&mut b, leaf + 4, 84);
    put16(&mut b, leaf + 6, 0);
    b.copy_within(eh + 12..eh + 24, leaf + 12);
    let first_lblk = le32(&b, eh + 12);
    // root: depth 1, one index entry {ei_block, ei_leaf_lo, ei_leaf_hi, unused}
    put16(&mut b, eh + 2, 1);
    put16(&mut b, eh + 6, 1);
    put32(&mut b, eh + 12, first_lblk);
    put32(&mut b, eh + 16, 8100);
    put32(&mut b, eh + 20, 0);
    // leaf tail checksum: seed(uuid) → ino → generation → block[..12+12*max]
    let uuid = b[SB + 0x68..SB + 0x78].to_vec();
    let generation = le32(&b, reg + 0x64);
    let seed = raw_crc(
        raw_crc(raw_crc(!0, &uuid), &(ino as u32).to_le_bytes()),
        &generation.to_le_bytes(),
    );
    let c = raw_crc(seed, &b[leaf..leaf + 12 + 12 * 84]);
    put32(&mut b, leaf + 12 + 12 * 84, c);
    (b, eh, leaf)
}

#[test]
fn extent_index_rules() {
    let (base, eh, leaf) = indexed_tree();
    let clean = codes(&run(&base, true));
    for c in [
        "ext4.extent.checksum",
        "ext4.extent.node_depth",
        "ext4.extent.index_start",
    ] {
        assert!(
            !clean.contains(&c.to_string()),
            "crafted tree already has {c}: {clean:?}"
        );
    }
    let has = |img: &[u8], code: &str| {
        let c = codes(&run(img, true));
        assert!(c.contains(&code.to_string()), "expected {code}: {c:?}");
    };
    let mut img = base.clone();
    img[leaf + 12 + 12 * 84] ^= 1;
    has(&img, "ext4.extent.checksum");
    let mut img = base.clone();
    put16(&mut img, leaf + 6, 1);
    has(&img, "ext4.extent.node_depth");
    let mut img = base.clone();
    let l = le32(&img, leaf + 12) + 5;
    put32(&mut img, leaf + 12, l);
    has(&img, "ext4.extent.index_start");
    let mut img = base;
    let l = le32(&img, eh + 12) + 10;
    put32(&mut img, eh + 12, l);
    has(&img, "ext4.extent.index_start");
}

#[test]
fn bitmap_mismatch_is_a_warning_while_the_journal_needs_recovery() {
    let mut img = load("ext4-damaged");
    let sev = |img: &[u8]| {
        run(img, true)
            .findings
            .iter()
            .find(|f| f.code == "ext4.bitmap.block_differences")
            .map(|f| f.severity)
    };
    assert_eq!(sev(&img), Some(Severity::Error));
    or32(&mut img, SB + 0x60, 0x4);
    fix_sb(&mut img);
    assert_eq!(sev(&img), Some(Severity::Warning));
}

#[test]
fn shared_garbage_indirect_trees_are_walked_once() {
    // 40 block-mapped inodes whose triple-indirect pointer names the same
    // block, itself full of pointers to other blocks: each tree is walked
    // once, then the shared block is reported as claimed twice.
    let mut img = load("ext2");
    let g = geo(&img);
    let x = 4000usize;
    for k in 0..256 {
        put32(&mut img, x * 1024 + 4 * k, 1000 + k as u32);
    }
    for ino in 12..52 {
        let o = inode_at(&g, ino);
        put16(&mut img, o, 0o100_644);
        put16(&mut img, o + 0x1A, 1);
        put32(&mut img, o + 0x28 + 14 * 4, x as u32);
    }
    let t = std::time::Instant::now();
    let c = codes(&run(&img, true));
    assert!(t.elapsed().as_secs() < 3, "took {:?}", t.elapsed());
    assert!(
        c.contains(&"ext4.block.multiply_claimed".to_string()),
        "{c:?}"
    );
}

#[test]
fn quota_usage_against_counted() {
    // Give /etc/hostname's inode (first regular file) to uid 1234: the user
    // quota file still charges uid 0.
    case(
        "ext4-features",
        true,
        "ext4.quota.usage_mismatch",
        |b, g| {
            let orphan_file = le32(b, SB + 0x280) as usize;
            let o = (12..40)
                .filter(|&i| i != orphan_file)
                .map(|i| inode_at(g, i))
                .find(|&o| u16::from_le_bytes([b[o], b[o + 1]]) & 0xF000 == 0x8000)
                .unwrap();
            put16(b, o + 2, 1234);
        },
    );
}

#[test]
fn deep_connectivity_reports_the_top_of_a_detached_subtree() {
    // Clear the root's entry for "var": /var and /var/log are detached,
    // only /var is reported (as e2fsck reconnects just it).
    let mut img = load("ext2");
    let g = geo(&img);
    let rblk = le32(&img, inode_at(&g, 2) + 0x28) as usize * g.bs;
    let mut pos = 0;
    let mut var = 0;
    while pos < g.bs {
        let rec = u16::from_le_bytes([img[rblk + pos + 4], img[rblk + pos + 5]]) as usize;
        let nl = img[rblk + pos + 6] as usize;
        if &img[rblk + pos + 8..rblk + pos + 8 + nl] == b"var" {
            var = le32(&img, rblk + pos);
            put32(&mut img, rblk + pos, 0);
        }
        pos += rec.max(8);
    }
    assert_ne!(var, 0);
    let r = run(&img, true);
    let unconnected: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.code == "ext4.dir.unconnected")
        .collect();
    assert_eq!(unconnected.len(), 1, "{unconnected:#?}");
    assert!(
        unconnected[0]
            .message
            .contains(&format!("directory inode {var} ")),
        "{}",
        unconnected[0].message
    );
}

#[test]
fn deep_htree_entry_outside_its_hash_range() {
    // Change one byte of a name in the htree directory's first leaf: the
    // entry's hash moves; for some byte value it leaves the leaf's range.
    let base = load("ext4-features");
    let g = geo(&base);
    let dir = (1..=g.ipg * g.groups)
        .map(|i| inode_at(&g, i))
        .find(|&o| {
            u16::from_le_bytes([base[o], base[o + 1]]) & 0xF000 == 0x4000
                && le32(&base, o + 0x20) & 0x1000 != 0
        })
        .unwrap();
    let root = first_block(&base, dir) * g.bs;
    let leaf_l = le32(&base, root + 0x20 + 4) as usize & 0x0FFF_FFFF; // first index entry's block
    let leaf = (first_block(&base, dir) + leaf_l) * g.bs; // the directory is contiguous
    let flagged = (b'a'..=b'z').any(|c| {
        let mut img = base.clone();
        img[leaf + 8] = c; // first byte of the first name
        let r = codes(&run(&img, true));
        r.contains(&"ext4.htree.max_hash".to_string())
            || r.contains(&"ext4.htree.min_hash".to_string())
    });
    assert!(flagged, "no renamed entry left its leaf's hash range");
}

/// One cap policy for the whole report (imgcheck_core::Sink): a stale
/// checksum on each of ~400 inodes lists the first MAX_FINDINGS_PER_CODE
/// and counts the rest in one closing finding that keeps their severity,
/// so the verdict and the total survive the cap.
#[test]
fn findings_of_one_code_are_capped_with_a_count_that_keeps_the_severity() {
    let base = load("ext4-features");
    let g = geo(&base);
    let mut img = base.clone();
    let mut damaged = 0usize;
    for ino in 12..=g.groups * g.ipg {
        let o = inode_at(&g, ino);
        if u16::from_le_bytes([img[o + 0x1A], img[o + 0x1B]]) == 0 {
            continue; // links 0: not in use
        }
        img[o + 0x7C] ^= 0xFF; // i_checksum_lo
        damaged += 1;
    }
    assert!(
        damaged > imgcheck_core::MAX_FINDINGS_PER_CODE + 100,
        "{damaged}"
    );
    let r = run(&img, true);
    let of_code: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.code == "ext4.inode.checksum")
        .collect();
    assert_eq!(of_code.len(), imgcheck_core::MAX_FINDINGS_PER_CODE + 1);
    let last = of_code.last().unwrap();
    assert_eq!(last.severity, Severity::Error);
    let more = damaged - imgcheck_core::MAX_FINDINGS_PER_CODE;
    assert!(
        last.message
            .starts_with(&format!("{more} more ext4.inode.checksum findings")),
        "{}",
        last.message
    );
}

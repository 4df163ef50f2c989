//! One test per rule issue 12 named missing — the resize inode (inode 7)
//! and the reserved GDT blocks it maps, and e2fsck's EA-inode rules — on
//! filesystems made by mke2fs and debugfs, damaged one field at a time.
//! Each case asserts our finding at the default depth and, where e2fsck is
//! installed, that `e2fsck -fn` flags the same image (computed here, not
//! committed); without e2fsck the peer half is skipped and says so.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

mod common;

use common::*;
use imgcheck_core::{BytesReader, Severity};
use imgcheck_ext4::{Options, check};
use imgcheck_testdata::ext4gen::tools;
use std::path::Path;
use std::time::Duration;

/// Our errors and warnings on `img` at the default depth.
fn ours(img: &[u8]) -> Vec<(String, Severity, String)> {
    check(&BytesReader::new(img.to_vec()), &Options::default())
        .findings
        .iter()
        .filter(|f| f.severity > Severity::Info)
        .map(|f| (f.code.to_string(), f.severity, f.message.clone()))
        .collect()
}

/// e2fsck -fn's problem lines on `img`, or None (and a visible note) when
/// e2fsprogs is not installed.
fn peer(img: &[u8], dir: &Path, name: &str) -> Option<Vec<String>> {
    if !tools::have_e2fsprogs() {
        println!("SKIPPED peer verdict for {name}: e2fsprogs is not installed");
        return None;
    }
    let p = dir.join(format!("{name}.img"));
    std::fs::write(&p, img).unwrap();
    let v = tools::e2fsck_fn(&p, Duration::from_secs(60));
    assert!(v.code.is_some(), "{name}: e2fsck -fn timed out");
    Some(
        v.problems
            .into_iter()
            .chain((v.code != Some(0)).then(|| format!("exit {:?}", v.code)))
            .collect(),
    )
}

/// Asserts `code` at error on `img`, that the unchanged base has no
/// finding of that code, and that e2fsck -fn flags `img` too.
#[track_caller]
fn expect(base: &[u8], img: &[u8], dir: &Path, name: &str, code: &str) {
    assert!(
        !ours(base).iter().any(|(c, _, _)| c == code),
        "{name}: the base already has {code}"
    );
    let got = ours(img);
    assert!(
        got.iter()
            .any(|(c, s, _)| c == code && *s == Severity::Error),
        "{name}: expected error {code}, got {got:#?}"
    );
    if let Some(p) = peer(img, dir, name) {
        println!("{name}: e2fsck -fn says {p:?}; we say {got:?}");
        assert!(!p.is_empty(), "{name}: e2fsck -fn calls it clean");
    }
}

/// Reserved GDT blocks and inode 7 on mke2fs's default ext4 (resize_inode,
/// 4 KiB blocks): the double-indirect block's slots, the backup lists in
/// the reserved GDT blocks, and i_blocks.
#[test]
fn resize_inode_rules() {
    let base = load("ext4-4k");
    let dir = tempfile::tempdir().unwrap();
    let g = geo(&base);
    let i7 = inode_at(&g, 7);
    let dind = le32(&base, i7 + 0x28 + 13 * 4) as usize;
    assert_ne!(dind, 0, "mke2fs gave inode 7 a double-indirect block");
    let r = check(&BytesReader::new(base.clone()), &Options::default());
    assert!(
        !r.findings.iter().any(|f| f.severity > Severity::Info),
        "{:#?}",
        r.findings
    );
    let reader = BytesReader::new(base.clone());
    let fs = imgcheck_ext4::Ext4::open(&reader).unwrap();
    let desc_blocks = (g.groups * fs.sb.desc_size() as usize).div_ceil(g.bs);
    let ppb = g.bs / 4;
    let slot0 = dind * g.bs + (desc_blocks % ppb) * 4;
    let rgdt0 = le32(&base, slot0) as usize;
    assert_eq!(
        rgdt0,
        g.fdb + 1 + desc_blocks,
        "the first reserved GDT block"
    );

    // The DIND slot naming the first reserved GDT block names another.
    let mut img = base.clone();
    put32(&mut img, slot0, (rgdt0 + 1) as u32);
    fix_inode(&mut img, i7, 7);
    expect(&base, &img, dir.path(), "dind-slot", "ext4.resize.invalid");

    // The first reserved GDT block's list of its backups: the first entry
    // (group 1's copy) points past the filesystem's end.
    let mut img = base.clone();
    let blocks = fs.sb.s_blocks_count as u32;
    put32(&mut img, rgdt0 * g.bs, blocks + 7);
    expect(
        &base,
        &img,
        dir.path(),
        "rgdt-backup",
        "ext4.resize.invalid",
    );

    // i_blocks of inode 7 off by one block: pass 1's count of what it maps.
    let mut img = base.clone();
    let ib = le32(&img, i7 + 0x1C);
    put32(&mut img, i7 + 0x1C, ib + (g.bs as u32 / 512));
    fix_inode(&mut img, i7, 7);
    expect(
        &base,
        &img,
        dir.path(),
        "i_blocks",
        "ext4.inode.bad_i_blocks",
    );
}

/// Re-seals inode `ino`'s checksum (metadata_csum) after a field change.
fn fix_inode(b: &mut [u8], at: usize, ino: u32) {
    let g = geo(b);
    let r = BytesReader::new(b.to_vec());
    let fs = imgcheck_ext4::Ext4::open(&r).unwrap();
    if !fs.sb.metadata_csum() {
        return;
    }
    let seed = fs.sb.csum_seed();
    let generation = le32(b, at + 0x64);
    let mut raw = b[at..at + g.isz].to_vec();
    raw[0x7C..0x7E].fill(0);
    if g.isz > 128 {
        raw[0x82..0x84].fill(0);
    }
    let c = raw_crc(
        raw_crc(raw_crc(seed, &ino.to_le_bytes()), &generation.to_le_bytes()),
        &raw,
    );
    b[at + 0x7C..at + 0x7E].copy_from_slice(&(c as u16).to_le_bytes());
    if g.isz > 128 {
        b[at + 0x82..at + 0x84].copy_from_slice(&((c >> 16) as u16).to_le_bytes());
    }
}

/// An ea_inode filesystem without metadata_csum (so a field changes alone),
/// a file /f whose 8000-byte attribute debugfs stored in an EA inode, a
/// directory /d and a second file /g. Returns the image and the inode
/// numbers of /f, its EA inode, /d and /g.
fn ea_image(dir: &Path) -> Option<(Vec<u8>, usize, usize, usize, usize)> {
    if !tools::have_e2fsprogs() {
        println!("SKIPPED ea_inode rules: e2fsprogs is not installed (no image to build)");
        return None;
    }
    let img = dir.join("ea.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    let mk = tools::run(
        std::process::Command::new("mkfs.ext4")
            .args(["-q", "-F", "-b", "4096", "-I", "256"])
            .args(["-O", "ea_inode,^metadata_csum,^has_journal"])
            .arg(&img),
        Duration::from_secs(60),
    );
    assert_eq!(mk.code, Some(0), "{}", mk.text);
    let big = dir.join("big");
    std::fs::write(&big, vec![b'v'; 8000]).unwrap();
    let empty = dir.join("empty");
    std::fs::write(&empty, b"").unwrap();
    // Two sessions: within one, debugfs 1.47.0's ea_set can hand out an
    // inode that an earlier `write` of the same session took.
    let out = tools::debugfs_write(
        &img,
        &format!(
            "write {} /f\nea_set -f {} /f user.big\n",
            empty.display(),
            big.display()
        ),
    );
    assert_eq!(out.code, Some(0), "{}", out.text);
    let out = tools::debugfs_write(&img, &format!("write {} /g\nmkdir /d\n", empty.display()));
    assert_eq!(out.code, Some(0), "{}", out.text);
    // debugfs's ea_set does not charge the EA inode's blocks to the
    // parent's i_blocks as the kernel does; e2fsck -fy sets it (and our
    // check flags the image before that, as bad_i_blocks).
    let before = std::fs::read(&img).unwrap();
    assert!(
        ours(&before)
            .iter()
            .any(|(c, _, _)| c == "ext4.inode.bad_i_blocks"),
        "{:#?}",
        ours(&before)
    );
    let _ = tools::e2fsck_fy(&img, Duration::from_secs(60));
    let ino = |p: &str| -> usize {
        let t = tools::debugfs(&img, &format!("stat {p}\n"));
        let i = t.find("Inode: ").expect("stat output") + 7;
        t[i..].split_whitespace().next().unwrap().parse().unwrap()
    };
    let (f, d, gi) = (ino("/f"), ino("/d"), ino("/g"));
    let bytes = std::fs::read(&img).unwrap();
    let g = geo(&bytes);
    let ea = (1..=g.ipg * g.groups)
        .find(|&i| le32(&bytes, inode_at(&g, i) + 0x20) & 0x0020_0000 != 0)
        .expect("debugfs made an EA inode");
    let v = tools::e2fsck_fn(&img, Duration::from_secs(60));
    assert!(v.clean(), "the base is clean to e2fsck -fn: {v:?}");
    Some((bytes, f, ea, d, gi))
}

/// The in-inode entry of `parent` that refers to EA inode `ea`: its offset
/// (e_name_len at +0, e_value_inum at +4, e_value_size at +8).
fn entry_of(img: &[u8], parent: usize, ea: usize) -> usize {
    let g = geo(img);
    let at = inode_at(&g, parent);
    let extra = u16::from_le_bytes([img[at + 0x80], img[at + 0x81]]) as usize;
    let body = at + 0x80 + extra;
    assert_eq!(le32(img, body), 0xEA02_0000, "in-inode attributes");
    let mut e = body + 4;
    while e + 16 <= at + g.isz && img[e] != 0 {
        if le32(img, e + 4) as usize == ea {
            return e;
        }
        e += (16 + img[e] as usize + 3) & !3;
    }
    panic!("no entry refers to EA inode {ea}");
}

#[test]
fn ea_inode_rules() {
    let dir = tempfile::tempdir().unwrap();
    let Some((base, f, ea, d, gi)) = ea_image(dir.path()) else {
        return;
    };
    let g = geo(&base);
    let e = entry_of(&base, f, ea);
    assert!(
        ours(&base).is_empty(),
        "the base is clean to us: {:#?}",
        ours(&base)
    );

    // PR_1_ATTR_VALUE_EA_INODE family: an entry naming an EA inode with
    // value size 0.
    let mut img = base.clone();
    put32(&mut img, e + 8, 0);
    expect(
        &base,
        &img,
        dir.path(),
        "value-size-0",
        "ext4.xattr.ea_inode_value_size",
    );

    // The EA inode without its EA_INODE flag (PR_1_ATTR_NO_EA_INODE_FL).
    let mut img = base.clone();
    let at = inode_at(&g, ea) + 0x20;
    let flags = le32(&img, at);
    put32(&mut img, at, flags & !0x0020_0000);
    expect(
        &base,
        &img,
        dir.path(),
        "missing-flag",
        "ext4.xattr.ea_inode_missing_flag",
    );

    // The entry names a reserved inode (PR_1_ATTR_VALUE_EA_INODE: bad inum).
    let mut img = base.clone();
    put32(&mut img, e + 4, 3);
    expect(
        &base,
        &img,
        dir.path(),
        "reserved-inum",
        "ext4.xattr.ea_inode_bad_reference",
    );

    // The entry names an ordinary file (/g), which is no EA inode.
    let mut img = base.clone();
    put32(&mut img, e + 4, gi as u32);
    expect(
        &base,
        &img,
        dir.path(),
        "names-a-file",
        "ext4.xattr.ea_inode_bad_reference",
    );

    // An ordinary file named by an attribute is not also reported as a
    // directory entry linking an EA inode (e2fsck -fn does not either).
    assert!(
        !ours(&img)
            .iter()
            .any(|(c, _, _)| c == "ext4.dir.links_ea_inode"),
        "{:#?}",
        ours(&img)
    );

    // The filesystem loses the ea_inode feature while the entry remains:
    // the kernel's check_xattrs refuses the attribute ("ea_inode specified
    // without ea_inode feature enabled", EFSCORRUPTED); e2fsck 1.47.0 -fn
    // says nothing, so only our half is asserted and its verdict printed.
    let mut img = base.clone();
    let inc = le32(&img, SB + 0x60);
    put32(&mut img, SB + 0x60, inc & !0x400);
    let got = ours(&img);
    assert!(
        got.iter()
            .any(|(c, s, _)| c == "ext4.xattr.ea_inode_without_feature" && *s == Severity::Error),
        "{got:#?}"
    );
    if let Some(p) = peer(&img, dir.path(), "no-feature") {
        println!("no-feature: e2fsck -fn says {p:?} (the kernel refuses the attribute)");
    }

    // The EA inode's reference count (i_ctime as the high word, with
    // l_i_version) says 2 where one attribute refers to it.
    let mut img = base.clone();
    let at = inode_at(&g, ea);
    let v = le32(&img, at + 0x24);
    put32(&mut img, at + 0x24, v + 1);
    expect(
        &base,
        &img,
        dir.path(),
        "refcount",
        "ext4.inode.ea_inode_refcount",
    );

    // EA_INODE on a directory: e2fsck 1.47.1's PR_1_EA_INODE_NONREG (1.47.0
    // does not report it, so only our half is asserted).
    let mut img = base.clone();
    let at = inode_at(&g, d) + 0x20;
    let v = le32(&img, at);
    put32(&mut img, at, v | 0x0020_0000);
    let got = ours(&img);
    assert!(
        got.iter()
            .any(|(c, s, _)| c == "ext4.inode.ea_inode_not_regular" && *s == Severity::Error),
        "{got:#?}"
    );
    if let Some(p) = peer(&img, dir.path(), "ea-flag-on-dir") {
        println!(
            "ea-flag-on-dir: e2fsck {} -fn says {p:?} (1.47.1 and later report it)",
            tools::e2fsprogs_version().unwrap_or_default()
        );
    }
}

/// Superblock fields the hostile corpus (testdata/scripts/hostile.py) set
/// where imgcheck and e2fsck -fn disagreed: `s_log_groups_per_flex` past
/// 31 (ext2fs_open2 refuses the superblock, e2fsck goes to a backup) and
/// `s_journal_inum` 0 with has_journal (e2fsck: "invalid journal (inode
/// 0)", cannot proceed). Each edit's verdict is e2fsck -fn's, computed
/// here: where it flags, we give an error at the field's offset; where it
/// is silent (31, the largest valid value), we say nothing above info.
#[test]
fn hostile_superblock_fields() {
    let dir = tempfile::tempdir().unwrap();
    // (name, field offset, width, value, our code when e2fsck flags)
    let cases: &[(&str, usize, usize, u32, &str)] = &[
        (
            "gpf-255",
            0x174,
            1,
            255,
            "ext4.superblock.log_groups_per_flex",
        ),
        (
            "gpf-32",
            0x174,
            1,
            32,
            "ext4.superblock.log_groups_per_flex",
        ),
        (
            "gpf-31",
            0x174,
            1,
            31,
            "ext4.superblock.log_groups_per_flex",
        ),
        (
            "journal-inum-0",
            0xE0,
            4,
            0,
            "ext4.journal.bad_inode_number",
        ),
    ];
    // 4 KiB blocks with metadata_csum, 1 KiB blocks without extents.
    for fx in ["ext4-4k", "ext3"] {
        let base = load(fx);
        assert!(ours(&base).is_empty(), "{fx}: {:#?}", ours(&base));
        for &(name, off, width, val, code) in cases {
            let mut img = base.clone();
            match width {
                1 => img[SB + off] = val as u8,
                _ => put32(&mut img, SB + off, val),
            }
            fix_sb(&mut img);
            let name = format!("{fx}-{name}");
            let r = check(&BytesReader::new(img.clone()), &Options::default());
            let got: Vec<_> = r
                .findings
                .iter()
                .filter(|f| f.severity > Severity::Info)
                .collect();
            let Some(p) = peer(&img, dir.path(), &name) else {
                continue;
            };
            println!(
                "{name}: e2fsck -fn says {p:?}; we say {:?}",
                got.iter().map(|f| f.code.clone()).collect::<Vec<_>>()
            );
            if p.is_empty() {
                assert!(got.is_empty(), "{name}: false alarm {got:#?}");
            } else {
                assert!(
                    got.iter().any(|f| f.code == code
                        && f.severity == Severity::Error
                        && (f.offset == (SB + off) as u64 || f.offset == SB as u64)),
                    "{name}: e2fsck flags it ({p:?}); expected error {code} at the field, got {got:#?}"
                );
                if code == "ext4.journal.bad_inode_number" {
                    // The journal is still in inode 8: say so before a repair discards it.
                    assert!(
                        got.iter()
                            .any(|f| f.code == code && f.message.contains("most likely 8")),
                        "{name}: {got:#?}"
                    );
                }
            }
        }
    }
}

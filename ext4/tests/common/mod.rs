//! Helpers shared by the fixture tests: loading the mkfs/debugfs images,
//! running a check, and the byte offsets tests damage.
// Each test binary uses a different subset.
#![allow(dead_code)]

use imgcheck_core::{BytesReader, Severity};
use imgcheck_ext4::{Ext4, Options, Report, check};

pub const CLEAN: [&str; 6] = [
    "ext4-4k",
    "ext4-1k",
    "ext4-uninit",
    "ext4-sparse2",
    "ext2",
    "ext3",
];

pub const SB: usize = 1024;

pub fn load(name: &str) -> Vec<u8> {
    // imgcheck_testdata::fixture decompresses through a temp name keyed by
    // process id only, so parallel first uses in one process race; serialise.
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    std::fs::read(imgcheck_testdata::fixture(&format!("ext4/{name}.img"))).unwrap()
}

pub fn run(img: &[u8], deep: bool) -> Report {
    check(
        &BytesReader::new(img.to_vec()),
        &Options {
            depth: if deep {
                imgcheck_core::Depth::Full
            } else {
                imgcheck_core::Depth::Quick
            },
        },
    )
}

pub fn codes(r: &Report) -> Vec<String> {
    r.findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .map(|f| f.code.to_string())
        .collect()
}

#[track_caller]
pub fn assert_code(img: &[u8], code: &str) -> Report {
    let r = run(img, false);
    assert!(
        r.findings.iter().any(|f| f.code == code),
        "expected {code}, got {:#?}",
        r.findings
            .iter()
            .map(|f| format!("{} {} {}", f.severity, f.code, f.message))
            .collect::<Vec<_>>()
    );
    r
}

pub fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}

pub fn put32(b: &mut [u8], o: usize, v: u32) {
    b[o..o + 4].copy_from_slice(&v.to_le_bytes());
}

pub fn put16(b: &mut [u8], o: usize, v: u16) {
    b[o..o + 2].copy_from_slice(&v.to_le_bytes());
}

/// Recomputes the primary superblock checksum (metadata_csum), so a test
/// damages only the field it means to.
pub fn fix_sb(b: &mut [u8]) {
    if le32(b, SB + 0x64) & 0x400 != 0 {
        let c = !crc32c::crc32c(&b[SB..SB + 0x3FC]);
        put32(b, SB + 0x3FC, c);
    }
}

pub struct Geo {
    pub bs: usize,
    pub gd: Vec<usize>,
    pub itable0: usize,
    pub isz: usize,
    pub bbitmap: Vec<usize>,
    pub ibitmap: Vec<usize>,
    pub groups: usize,
    pub bpg: usize,
    pub ipg: usize,
    pub itables: Vec<usize>,
    pub fdb: usize,
}

pub fn geo(img: &[u8]) -> Geo {
    let r = BytesReader::new(img.to_vec());
    let fs = Ext4::open(&r).unwrap();
    let bs = fs.bs as usize;
    Geo {
        bs,
        gd: fs.gds.iter().map(|g| g.offset as usize).collect(),
        itable0: fs.gds[0].bg_inode_table as usize * bs,
        isz: fs.sb.inode_size() as usize,
        bbitmap: fs
            .gds
            .iter()
            .map(|g| g.bg_block_bitmap as usize * bs)
            .collect(),
        ibitmap: fs
            .gds
            .iter()
            .map(|g| g.bg_inode_bitmap as usize * bs)
            .collect(),
        groups: fs.groups as usize,
        ipg: fs.sb.s_inodes_per_group as usize,
        itables: fs
            .gds
            .iter()
            .map(|g| g.bg_inode_table as usize * bs)
            .collect(),
        bpg: fs.sb.s_blocks_per_group as usize,
        fdb: fs.sb.s_first_data_block as usize,
    }
}

/// Byte offset of the jbd2 superblock (first block of inode 8).
pub fn journal_sb(img: &[u8]) -> usize {
    let g = geo(img);
    (0..img.len() / g.bs)
        .map(|b| b * g.bs)
        .find(|&o| img[o..o + 4] == [0xC0, 0x3B, 0x39, 0x98])
        .unwrap()
}

/// Byte offset of inode `ino`.
pub fn inode_at(g: &Geo, ino: usize) -> usize {
    g.itables[(ino - 1) / g.ipg] + ((ino - 1) % g.ipg) * g.isz
}

/// First physical block of an extent-mapped inode (depth-0 tree).
pub fn first_block(img: &[u8], inode: usize) -> usize {
    assert_eq!(&img[inode + 0x28..inode + 0x2A], &[0x0A, 0xF3]);
    le32(img, inode + 0x28 + 12 + 8) as usize
}

/// Applies `f` to a copy of fixture `name`, fixes the superblock checksum
/// and asserts `code` at the given depth.
#[track_caller]
pub fn case(name: &str, deep: bool, code: &str, f: impl FnOnce(&mut Vec<u8>, &Geo)) {
    let mut img = load(name);
    let g = geo(&img);
    f(&mut img, &g);
    fix_sb(&mut img);
    let r = run(&img, deep);
    assert!(
        r.findings.iter().any(|x| x.code == code),
        "{name}: expected {code}, got {:#?}",
        r.findings
            .iter()
            .map(|x| format!("{} {} {}", x.severity, x.code, x.message))
            .collect::<Vec<_>>()
    );
}

pub fn or32(b: &mut [u8], o: usize, bits: u32) {
    let v = le32(b, o) | bits;
    put32(b, o, v);
}

/// ext4's raw CRC32C (no final inversion), chained through `seed`.
pub fn raw_crc(seed: u32, d: &[u8]) -> u32 {
    !crc32c::crc32c_append(!seed, d)
}

/// The full check (e2fsck's passes 1–5).
pub fn full() -> Options {
    Options {
        depth: imgcheck_core::Depth::Full,
    }
}

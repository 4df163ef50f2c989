//! Shared by the fixture and differential tests.
#![allow(dead_code)]
use imgcheck_core::{FileReader, ReadAt};
use imgcheck_lvm2::{Assembly, Input, Limits, Opened, VolumeGroup, assemble};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub fn fx(name: &str) -> PathBuf {
    imgcheck_testdata::fixture(&format!("lvm2/{name}"))
}

pub fn inputs(paths: &[&Path]) -> Vec<Input> {
    paths
        .iter()
        .map(|p| Input {
            name: p.display().to_string(),
            reader: Arc::new(FileReader::open(p).unwrap()) as Arc<dyn ReadAt>,
        })
        .collect()
}

pub fn asm(paths: &[&Path]) -> Assembly {
    assemble(&inputs(paths), &Limits::default())
}

pub fn vg<'a>(a: &'a Assembly, name: &str) -> &'a VolumeGroup {
    a.vgs
        .iter()
        .find(|v| v.name() == name)
        .unwrap_or_else(|| panic!("no VG {name}: {a:#?}"))
}

pub fn lv(vg: &VolumeGroup, name: &str) -> Arc<dyn ReadAt> {
    match vg.open(name) {
        Opened::Mapped(r) => r,
        Opened::NotMapped(n) => panic!("LV {name} not mapped: {n:?}"),
    }
}

pub fn read(r: &dyn ReadAt, at: u64, n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    r.read_exact_at(at, &mut b).unwrap();
    b
}

/// ext4 volume label (s_volume_name) when the magic is there.
pub fn ext4_label(r: &dyn ReadAt) -> Option<String> {
    let sb = read(r, 1024, 1024);
    (sb[0x38..0x3a] == [0x53, 0xef]).then(|| {
        String::from_utf8_lossy(&sb[0x78..0x88])
            .trim_end_matches('\0')
            .to_owned()
    })
}

pub fn codes(a: &Assembly) -> Vec<String> {
    let mut v: Vec<String> = a
        .findings
        .iter()
        .chain(a.vgs.iter().flat_map(|v| v.findings.iter()))
        .map(|l| l.finding.code.to_string())
        .collect();
    v.sort();
    v
}

/// The offset and size of the committed text of the mda at 4096.
pub fn committed(img: &Path) -> (u64, u64) {
    let b = std::fs::read(img).unwrap();
    let h = &b[4096..4608];
    let off = u64::from_le_bytes(h[40..48].try_into().unwrap());
    let size = u64::from_le_bytes(h[48..56].try_into().unwrap());
    (4096 + off, size)
}

/// A copy of `img` whose committed text has `from` replaced by `to` (same
/// length), with the text CRC and the mda header checksum recomputed: a
/// metadata change lvm's checksums cannot catch.
pub fn rewrite_text(img: &Path, from: &str, to: &str) -> tempfile::TempDir {
    assert_eq!(from.len(), to.len());
    let mut b = std::fs::read(img).unwrap();
    let (at, size) = committed(img);
    let (at, size) = (at as usize, size as usize);
    assert!(
        at + size
            <= 4096 + u64::from_le_bytes(b[4096 + 32..4096 + 40].try_into().unwrap()) as usize,
        "test needs an unwrapped copy"
    );
    let text = String::from_utf8(b[at..at + size].to_vec()).unwrap();
    assert!(text.contains(from), "{from} not in the text");
    let new = text.replacen(from, to, 1);
    b[at..at + size].copy_from_slice(new.as_bytes());
    let crc = imgcheck_lvm2::crc::calc_crc(imgcheck_lvm2::crc::INITIAL_CRC, new.as_bytes());
    b[4096 + 56..4096 + 60].copy_from_slice(&crc.to_le_bytes());
    let hc = imgcheck_lvm2::crc::calc_crc(imgcheck_lvm2::crc::INITIAL_CRC, &b[4100..4608]);
    b[4096..4100].copy_from_slice(&hc.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(img.file_name().unwrap()), &b).unwrap();
    dir
}

/// A copy of `img` with `patches` (offset, bytes) applied, then the label
/// CRC (sector 1) and the mda header checksum (at 4096) recomputed, so
/// only the fields changed are wrong.
pub fn resealed(img: &Path, patches: &[(usize, &[u8])]) -> tempfile::TempDir {
    let mut b = std::fs::read(img).unwrap();
    for (at, bytes) in patches {
        b[*at..*at + bytes.len()].copy_from_slice(bytes);
    }
    let crc = imgcheck_lvm2::crc::calc_crc(imgcheck_lvm2::crc::INITIAL_CRC, &b[532..1024]);
    b[528..532].copy_from_slice(&crc.to_le_bytes());
    let hc = imgcheck_lvm2::crc::calc_crc(imgcheck_lvm2::crc::INITIAL_CRC, &b[4100..4608]);
    b[4096..4100].copy_from_slice(&hc.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(img.file_name().unwrap()), &b).unwrap();
    dir
}

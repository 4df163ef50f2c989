//! A fixture in memory and precise edits to it, at offsets found through
//! the crate's own reader of the clean image.
#![allow(dead_code)]

use imgcheck_core::{BytesReader, Depth, Finding, Severity};
use imgcheck_fat::{FatKind, FileEntry, Geometry, Options, Report, Volume, check};
use imgcheck_testdata::fixture;

/// A fixture's bytes.
pub struct Img {
    pub b: Vec<u8>,
    pub g: Geometry,
}

impl Img {
    pub fn load(name: &str) -> Img {
        let b = std::fs::read(fixture(&format!("fat/{name}"))).unwrap();
        let g = Volume::open(BytesReader::new(b.clone()))
            .unwrap()
            .geometry()
            .clone();
        Img { b, g }
    }

    pub fn vol(&self) -> Volume<BytesReader> {
        Volume::open(BytesReader::new(self.b.clone())).unwrap()
    }

    /// The entry at `path` in the (current) image.
    pub fn entry(&self, path: &str) -> FileEntry {
        self.vol()
            .lookup(path)
            .unwrap()
            .unwrap_or_else(|| panic!("{path} not found"))
    }

    /// Clusters of `path`'s chain, in order.
    pub fn clusters(&self, path: &str) -> Vec<u32> {
        let v = self.vol();
        let e = v.lookup(path).unwrap().unwrap();
        let mut out = Vec::new();
        let mut c = e.first_cluster;
        while self.g.is_cluster(c) && out.len() < 1 << 20 {
            out.push(c);
            match v.fat().entry(c) {
                imgcheck_fat::table::Entry::Next(x) => c = x,
                _ => break,
            }
        }
        out
    }

    pub fn put(&mut self, off: u64, bytes: &[u8]) {
        self.b[off as usize..off as usize + bytes.len()].copy_from_slice(bytes);
    }

    pub fn le16(&mut self, off: u64, v: u16) {
        self.put(off, &v.to_le_bytes());
    }

    pub fn le32(&mut self, off: u64, v: u32) {
        self.put(off, &v.to_le_bytes());
    }

    /// Sets FAT entry `c` to `v` in copy `k` only.
    pub fn set_fat_copy(&mut self, k: u32, c: u32, v: u32) {
        let base = self.g.fat_copy_start(k);
        match self.g.kind {
            FatKind::Fat12 => {
                let o = (base + c as u64 * 3 / 2) as usize;
                if c % 2 == 1 {
                    self.b[o] = (self.b[o] & 0x0F) | ((v as u8 & 0x0F) << 4);
                    self.b[o + 1] = (v >> 4) as u8;
                } else {
                    self.b[o] = v as u8;
                    self.b[o + 1] = (self.b[o + 1] & 0xF0) | ((v >> 8) as u8 & 0x0F);
                }
            }
            FatKind::Fat16 => self.le16(base + c as u64 * 2, v as u16),
            FatKind::Fat32 => self.le32(base + c as u64 * 4, v),
        }
    }

    /// Sets FAT entry `c` to `v` in every copy (so they still agree).
    pub fn set_fat(&mut self, c: u32, v: u32) {
        for k in 0..self.g.num_fats {
            self.set_fat_copy(k, c, v);
        }
    }

    pub fn eoc(&self) -> u32 {
        self.g.kind.mask()
    }

    pub fn check(&self) -> Report {
        check(
            &BytesReader::new(self.b.clone()),
            &Options { depth: Depth::Full },
        )
    }

    pub fn quick(&self) -> Report {
        check(
            &BytesReader::new(self.b.clone()),
            &Options {
                depth: Depth::Quick,
            },
        )
    }
}

/// Codes of the findings at or above `min`.
pub fn codes(r: &Report, min: Severity) -> Vec<String> {
    r.findings
        .iter()
        .filter(|f| f.severity >= min)
        .map(|f| f.code.to_string())
        .collect()
}

/// The finding of `code`, or a panic listing what there was.
pub fn find<'a>(r: &'a Report, code: &str) -> &'a Finding {
    r.findings
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| {
            panic!(
                "no {code} in {:#?}",
                r.findings.iter().map(|f| f.to_string()).collect::<Vec<_>>()
            )
        })
}

pub fn has(r: &Report, code: &str) -> bool {
    r.findings.iter().any(|f| f.code == code)
}

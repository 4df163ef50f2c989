//! Shared test helpers: fixture images held in memory, damaged precisely
//! (with CRCs recomputed where the damage should not show as a CRC error),
//! and the list of damage cases shared by the check tests and the
//! differential test against sgdisk/sfdisk.
#![allow(dead_code)]

use imgcheck_core::BytesReader;
use imgcheck_gpt::Analysis;

pub mod cases;

/// A disk image in memory.
#[derive(Clone)]
pub struct Img {
    pub data: Vec<u8>,
    pub ss: usize,
}

pub fn crc32(b: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(b);
    h.finalize()
}

impl Img {
    pub fn fixture(name: &str) -> Img {
        // imgcheck_testdata::fixture names its temp file by process id only,
        // so two threads decompressing the same fixture race; serialize.
        static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let path = {
            let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
            imgcheck_testdata::fixture(&format!("gpt/{name}"))
        };
        let data = std::fs::read(path).unwrap();
        let ss = if name.contains("4k") { 4096 } else { 512 };
        Img { data, ss }
    }

    pub fn last_lba(&self) -> u64 {
        (self.data.len() / self.ss) as u64 - 1
    }

    pub fn u32_at(&self, off: usize) -> u32 {
        u32::from_le_bytes(self.data[off..off + 4].try_into().unwrap())
    }
    pub fn u64_at(&self, off: usize) -> u64 {
        u64::from_le_bytes(self.data[off..off + 8].try_into().unwrap())
    }

    pub fn put(&mut self, off: usize, bytes: &[u8]) {
        self.data[off..off + bytes.len()].copy_from_slice(bytes);
    }

    /// Recomputes the header CRC of the header at `lba`.
    pub fn fix_hdr_crc(&mut self, lba: u64) {
        let at = lba as usize * self.ss;
        let hs = self.u32_at(at + 0x0C) as usize;
        let n = if (92..=self.ss).contains(&hs) { hs } else { 92 };
        self.put(at + 0x10, &[0; 4]);
        let c = crc32(&self.data[at..at + n]);
        self.put(at + 0x10, &c.to_le_bytes());
    }

    /// Recomputes the entry-array CRC the header at `lba` stores, then its
    /// header CRC.
    pub fn fix_entries_crc(&mut self, lba: u64) {
        let at = lba as usize * self.ss;
        let elba = self.u64_at(at + 0x48) as usize;
        let n = self.u32_at(at + 0x50) as usize * self.u32_at(at + 0x54) as usize;
        let c = crc32(&self.data[elba * self.ss..elba * self.ss + n]);
        self.put(at + 0x58, &c.to_le_bytes());
        self.fix_hdr_crc(lba);
    }

    /// Writes `bytes` at `off` of the header at `lba`, CRC fixed.
    pub fn hdr(&mut self, lba: u64, off: usize, bytes: &[u8]) {
        let at = lba as usize * self.ss;
        self.put(at + off, bytes);
        self.fix_hdr_crc(lba);
    }

    /// Writes `bytes` at `off` of entry `index` (1-based) in the array of
    /// the header at `lba`, CRCs fixed.
    pub fn entry(&mut self, lba: u64, index: usize, off: usize, bytes: &[u8]) {
        let at = lba as usize * self.ss;
        let elba = self.u64_at(at + 0x48) as usize;
        let size = self.u32_at(at + 0x54) as usize;
        self.put(elba * self.ss + (index - 1) * size + off, bytes);
        self.fix_entries_crc(lba);
    }

    /// The same entry change in both copies.
    pub fn entry_both(&mut self, index: usize, off: usize, bytes: &[u8]) {
        self.entry(1, index, off, bytes);
        let last = self.last_lba();
        self.entry(last, index, off, bytes);
    }

    pub fn analyze(&self) -> Analysis {
        imgcheck_gpt::analyze(&BytesReader::new(self.data.clone()))
    }

    pub fn write_to(&self, dir: &std::path::Path, name: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, &self.data).unwrap();
        p
    }
}

pub fn codes(a: &Analysis) -> Vec<String> {
    a.findings.iter().map(|f| f.code.to_string()).collect()
}

pub fn finding<'a>(a: &'a Analysis, code: &str) -> &'a imgcheck_core::Finding {
    a.findings
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no {code} finding; got {:#?}", a.findings))
}

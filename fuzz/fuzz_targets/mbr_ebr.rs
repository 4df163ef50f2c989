#![no_main]
//! MBR and EBR chains built over real sfdisk-made disks: entries, links
//! and new EBRs pointing at each other, at the MBR, past the end, in
//! loops; the whole partition-table analysis (checks, recovery scan).
use arbitrary::Arbitrary;
use imgcheck_fuzz::{Disk, Length, fixture, mbr};
use libfuzzer_sys::fuzz_target;

fixture!(mbr_logical, "gpt/mbr-logical.img");
fixture!(dos_logical, "disk/dos-logical.img");
fixture!(mbr_4k, "gpt/mbr-4k.img");
fixture!(hybrid, "gpt/hybrid.img");

#[derive(Arbitrary, Debug)]
struct Input {
    base: u8,
    length: Length,
    edits: Vec<mbr::Edit>,
}

fuzz_target!(|input: Input| {
    let (base, sector) = match input.base % 4 {
        0 => (mbr_logical(), 512),
        1 => (dos_logical(), 512),
        2 => (mbr_4k(), 4096),
        _ => (hybrid(), 512),
    };
    let mut disk = Disk::new(base);
    input.length.apply(&mut disk);
    let layout = mbr::Layout::of(&disk, sector);
    for e in input.edits.iter().take(32) {
        e.apply(&mut disk, &layout);
    }
    let a = imgcheck_gpt::analyze(&disk);
    let _ = serde_json::to_string(&a.findings);
    let _ = imgcheck_gpt::identify(&disk);
});

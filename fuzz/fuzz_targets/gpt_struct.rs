#![no_main]
//! GPT headers and entry arrays of real sgdisk-made disks edited field by
//! field (entry counts to 2^32−1, arrays pointing at a header or past the
//! end, backup pointing at itself), both CRCs re-sealed when asked so the
//! checks behind the CRC run; the protective MBR edited too.
use arbitrary::Arbitrary;
use imgcheck_fuzz::{Disk, Length, fixture, gpt, mbr};
use libfuzzer_sys::fuzz_target;

fixture!(gpt_512, "gpt/gpt-512.img");
fixture!(gpt_4k, "gpt/gpt-4k.img");
fixture!(grown, "gpt/grown.img");
fixture!(hybrid, "gpt/hybrid.img");
fixture!(gpt_fs, "gpt/gpt-fs.img");

#[derive(Arbitrary, Debug)]
enum Edit {
    Gpt(gpt::Edit),
    Pmbr(mbr::Edit),
}

#[derive(Arbitrary, Debug)]
struct Input {
    base: u8,
    length: Length,
    edits: Vec<Edit>,
    reseal: bool,
}

fuzz_target!(|input: Input| {
    let base = match input.base % 5 {
        0 => gpt_512(),
        1 => gpt_4k(),
        2 => grown(),
        3 => hybrid(),
        _ => gpt_fs(),
    };
    let mut disk = Disk::new(base);
    let layout = gpt::Layout::of(&disk);
    input.length.apply(&mut disk);
    let ml = mbr::Layout::of(&disk, layout.sector);
    for e in input.edits.iter().take(32) {
        match e {
            Edit::Gpt(g) => g.apply(&mut disk, &layout),
            Edit::Pmbr(m) => m.apply(&mut disk, &ml),
        }
    }
    if input.reseal {
        gpt::reseal(&mut disk, &layout);
    }
    let a = imgcheck_gpt::analyze(&disk);
    let _ = serde_json::to_string(&a.findings);
});

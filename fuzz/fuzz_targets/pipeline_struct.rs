#![no_main]
//! The whole pipeline (registry, walk, cross-layer checks, next steps,
//! the three views) over real disks with MBR, GPT and ext4 edits at named
//! fields, re-sealed when asked, with --deep and --scan.
use arbitrary::Arbitrary;
use imgcheck::options::Options;
use imgcheck_fuzz::{Disk, Length, ext4, fixture, gpt, mbr, shared};
use libfuzzer_sys::fuzz_target;

fixture!(two_ext4, "disk/gpt-two-ext4.img");
fixture!(dos_logical, "disk/dos-logical.img");
fixture!(whole, "disk/whole-disk-ext4.img");
fixture!(reformatted, "disk/reformatted.img");
fixture!(gpt_fs, "gpt/gpt-fs.img");
fixture!(empty, "disk/empty.img");

#[derive(Arbitrary, Debug)]
enum Edit {
    Mbr(mbr::Edit),
    Gpt(gpt::Edit),
    Ext4 { part: u8, edit: ext4::Edit },
}

#[derive(Arbitrary, Debug)]
struct Input {
    base: u8,
    length: Length,
    edits: Vec<Edit>,
    reseal: bool,
    deep: bool,
    scan: bool,
}

fuzz_target!(|input: Input| {
    let base = match input.base % 6 {
        0 => two_ext4(),
        1 => dos_logical(),
        2 => whole(),
        3 => reformatted(),
        4 => gpt_fs(),
        _ => empty(),
    };
    let mut disk = Disk::new(base);
    let gl = gpt::Layout::of(&disk);
    let ml = mbr::Layout::of(&disk, gl.sector);
    // Filesystems where the base has partitions, or at the start.
    let mut starts: Vec<u64> = vec![0];
    starts.extend(gl.anchors.iter().copied());
    starts.extend(ml.anchors.iter().copied());
    let fss: Vec<ext4::Layout> = starts
        .iter()
        .filter_map(|&s| ext4::Layout::of(&disk, s))
        .take(4)
        .collect();
    input.length.apply(&mut disk);
    for e in input.edits.iter().take(32) {
        match e {
            Edit::Mbr(m) => m.apply(&mut disk, &ml),
            Edit::Gpt(g) => g.apply(&mut disk, &gl),
            Edit::Ext4 { part, edit } => {
                if let Some(l) = fss.get(usize::from(*part) % fss.len().max(1)) {
                    edit.apply(&mut disk, l);
                }
            }
        }
    }
    if input.reseal {
        gpt::reseal(&mut disk, &gl);
        for l in &fss {
            ext4::reseal(&mut disk, l);
        }
    }
    let opts = Options { quick: !input.deep, scan: input.scan, ..Options::default() };
    if let Ok(report) = imgcheck::pipeline::inspect_reader("fuzz", shared(disk), None, &opts) {
        let _ = imgcheck::render::text(&report);
        let _ = imgcheck::render::json_line(&report);
        let _ = imgcheck::svg::svg(&report);
    }
});

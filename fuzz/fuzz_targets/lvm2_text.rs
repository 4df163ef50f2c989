#![no_main]
//! Structure-aware: the input is VG metadata text. It is parsed alone,
//! then written into a well-formed PV (label, PV header, mda header and
//! raw_locn with every checksum correct, the text wrapping around the end
//! of the circular buffer when the last input byte says so), so the
//! checksums never stop the fuzzer short of assembly, the layout checks,
//! lost-extent computation and LV mapping.
use imgcheck_core::{BytesReader, ReadAt};
use imgcheck_lvm2::crc::{INITIAL_CRC, calc_crc};
use imgcheck_lvm2::{Input, Limits, Opened, assemble, config, metadata::VgMetadata};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

const DISK: usize = 2 << 20;
const MDA: usize = 4096;
const MDA_SIZE: usize = 65536;

fn put(b: &mut [u8], at: usize, v: &[u8]) {
    b[at..at + v.len()].copy_from_slice(v);
}

fn pv(text: &[u8], uuid: &[u8; 32], wrap: bool) -> Option<Vec<u8>> {
    if text.len() > (MDA_SIZE - 512) / 2 - 512 {
        return None;
    }
    let mut d = vec![0u8; DISK];
    // label + pv_header: data area at 1 MiB, one mda at 4 KiB
    put(&mut d, 512, b"LABELONE");
    put(&mut d, 520, &1u64.to_le_bytes());
    put(&mut d, 532, &32u32.to_le_bytes());
    put(&mut d, 536, b"LVM2 001");
    put(&mut d, 544, uuid);
    put(&mut d, 576, &(DISK as u64).to_le_bytes());
    put(&mut d, 584, &(1u64 << 20).to_le_bytes());
    put(&mut d, 616, &(MDA as u64).to_le_bytes());
    put(&mut d, 624, &(MDA_SIZE as u64).to_le_bytes());
    put(&mut d, 648, &2u32.to_le_bytes());
    put(&mut d, 652, &1u32.to_le_bytes());
    let crc = calc_crc(INITIAL_CRC, &d[532..1024]);
    put(&mut d, 528, &crc.to_le_bytes());
    // the text, wrapping after the mda header when asked
    let off = if wrap { MDA_SIZE - 512 - text.len() / 2 / 512 * 512 } else { 512 };
    let off = off.max(512);
    let first = text.len().min(MDA_SIZE - off);
    put(&mut d, MDA + off, &text[..first]);
    put(&mut d, MDA + 512, &text[first..]);
    put(&mut d, MDA + 4, b" LVM2 x[5A%r0N*>");
    put(&mut d, MDA + 20, &1u32.to_le_bytes());
    put(&mut d, MDA + 24, &(MDA as u64).to_le_bytes());
    put(&mut d, MDA + 32, &(MDA_SIZE as u64).to_le_bytes());
    put(&mut d, MDA + 40, &(off as u64).to_le_bytes());
    put(&mut d, MDA + 48, &(text.len() as u64).to_le_bytes());
    put(&mut d, MDA + 56, &calc_crc(INITIAL_CRC, text).to_le_bytes());
    let hc = calc_crc(INITIAL_CRC, &d[MDA + 4..MDA + 512]);
    put(&mut d, MDA, &hc.to_le_bytes());
    Some(d)
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, text)) = data.split_last() else { return };
    let Ok(root) = config::parse(text, &Limits::default()) else { return };
    let Ok(vg) = VgMetadata::from_config(&root) else { return };
    // The PV's UUID is the first PV the text names, so it is found.
    let mut uuid = *b"FuzzPVaaaabbbbccccddddeeeeffff00";
    if let Some(p) = vg.pvs.first() {
        let raw: Vec<u8> = p.id.bytes().filter(|&c| c != b'-').collect();
        if raw.len() == 32 {
            uuid.copy_from_slice(&raw);
        }
    }
    let Some(disk) = pv(text, &uuid, sel & 1 == 1) else { return };
    let disk: Arc<dyn ReadAt> = Arc::new(BytesReader::new(disk));
    let a = assemble(&[Input { name: "fuzz".into(), reader: disk }], &Limits::default());
    for vg in &a.vgs {
        let _ = vg.events();
        for lv in &vg.lvs {
            if let Opened::Mapped(r) = vg.open(&lv.name) {
                let mut b = [0u8; 512];
                let n = r.len().min(512) as usize;
                let _ = r.read_exact_at(0, &mut b[..n]);
                let _ = r.read_exact_at(r.len().saturating_sub(n as u64), &mut b[..n]);
            }
        }
    }
});

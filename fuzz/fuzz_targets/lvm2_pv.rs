#![no_main]
//! A raw disk as one PV: label, PV header, metadata areas, the ring-buffer
//! history scan, VG assembly, and a read at each end of every LV.
use imgcheck_core::{BytesReader, ReadAt};
use imgcheck_lvm2::{Input, Limits, Opened, assemble};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let disk: Arc<dyn ReadAt> = Arc::new(BytesReader::new(data.to_vec()));
    let a = assemble(&[Input { name: "fuzz".into(), reader: disk }], &Limits::default());
    for vg in &a.vgs {
        let _ = vg.events();
        for lv in &vg.lvs {
            if let Opened::Mapped(r) = vg.open(&lv.name) {
                let mut b = [0u8; 4096];
                let n = r.len().min(4096) as usize;
                let _ = r.read_exact_at(0, &mut b[..n]);
                let _ = r.read_exact_at(r.len().saturating_sub(n as u64), &mut b[..n]);
                let _ = r.known_zero(0, n as u64);
            }
        }
    }
});

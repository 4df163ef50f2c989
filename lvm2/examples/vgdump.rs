//! `cargo run -p imgcheck-lvm2 --example vgdump -- DISK...`: the VGs on
//! the given disks, their PVs, LVs with lost extents, findings, timeline.
use imgcheck_core::{FileReader, ReadAt};
use imgcheck_lvm2::{Input, Limits, Opened, assemble};
use std::sync::Arc;

fn main() -> std::io::Result<()> {
    let mut inputs = Vec::new();
    for p in std::env::args().skip(1) {
        let r: Arc<dyn ReadAt> = Arc::new(FileReader::open(&p)?);
        inputs.push(Input { name: p, reader: r });
    }
    let a = assemble(&inputs, &Limits::default());
    for l in &a.findings {
        println!("input {:?}: {}", l.input, l.finding);
    }
    for vg in &a.vgs {
        println!(
            "VG {} id {} seqno {} extent {} partial {}",
            vg.name(),
            vg.metadata.id,
            vg.metadata.seqno,
            vg.metadata.extent_bytes(),
            vg.partial()
        );
        for p in &vg.pvs {
            println!(
                "  PV {} {:?} dev_size {} pe_start {} pe_count {}",
                p.meta.id, p.found, p.meta.dev_size, p.meta.pe_start, p.meta.pe_count
            );
        }
        for lv in &vg.lvs {
            let m = match vg.open(&lv.name) {
                Opened::Mapped(r) => format!("mapped {} bytes", r.len()),
                Opened::NotMapped(n) => format!("not mapped: {}", n.message),
            };
            println!(
                "  LV {} size {} partial {} lost {:?} — {m}",
                lv.name, lv.size, lv.partial, lv.lost
            );
            for s in &lv.segments {
                println!(
                    "    seg {} +{} {} {:?}",
                    s.start_extent, s.extent_count, s.type_name, s.devices
                );
            }
        }
        for l in &vg.findings {
            println!("  [input {:?} lv {:?}] {}", l.input, l.lv, l.finding);
        }
        println!("  history: {} generations", vg.history.generations.len());
        for e in vg.events() {
            println!("  {} {}", imgcheck_core::time::utc(e.time), e.what);
        }
    }
    Ok(())
}

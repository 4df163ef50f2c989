//! `cargo run -p imgcheck-fat --example fatls -- IMAGE [PATH]`: a
//! directory's entries with their raw attribute and NTRes bytes, as the
//! file API reads them.
use imgcheck_core::FileReader;
use imgcheck_fat::Volume;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: fatls IMAGE [PATH]")?;
    let dir = args.next().unwrap_or_else(|| "/".into());
    let r = FileReader::open(&path)?;
    let v = Volume::open(&r)?;
    let d = v.lookup(&dir)?.ok_or("no such directory")?;
    for e in v.read_dir(&d)? {
        let mut raw = [0u8; 32];
        imgcheck_core::ReadAt::read_exact_at(&r, e.entry_offset, &mut raw)?;
        println!(
            "{:<40} {:<13} attr {:#04x} ntres {:#04x} size {:>8} cluster {:>6}",
            e.name, e.short_name, e.attr, raw[12], e.size, e.first_cluster
        );
    }
    Ok(())
}

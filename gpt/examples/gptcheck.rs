//! Prints what imgcheck-gpt makes of a disk image: `gptcheck IMAGE`.
use imgcheck_core::FileReader;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: gptcheck IMAGE")?;
    let disk = FileReader::open(&path)?;
    let a = imgcheck_gpt::analyze(&disk);
    println!(
        "scheme {} sector {} {:?}",
        a.tables.scheme.as_str(),
        a.tables.sector.bytes,
        a.tables.sector.evidence
    );
    for p in &a.partitions {
        let what = imgcheck_gpt::identify_at(&disk, p.start).map(|s| s.display);
        println!(
            "  {} start {} size {} {} {:?} {:?}",
            p.number, p.start, p.size, p.type_name, p.name, what
        );
    }
    for f in &a.findings {
        println!(
            "{} {} @{}: {}{}",
            f.severity,
            f.code,
            f.offset,
            f.message,
            f.hint
                .as_ref()
                .map(|h| format!(" [hint: {h}]"))
                .unwrap_or_default()
        );
    }
    if let Some(r) = &a.recovery {
        println!("recovery: {} probes, found {}", r.probes, r.found.len());
        print!("{}", r.sfdisk_script);
    }
    Ok(())
}

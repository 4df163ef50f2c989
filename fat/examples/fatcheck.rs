//! `cargo run -p imgcheck-fat --example fatcheck -- IMAGE [quick]`: the
//! check's findings and summary, for a person comparing with fsck.fat -n.
use imgcheck_core::{Depth, FileReader};
use imgcheck_fat::{Options, check};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: fatcheck IMAGE [quick]")?;
    let depth = if args.next().as_deref() == Some("quick") {
        Depth::Quick
    } else {
        Depth::Full
    };
    let r = FileReader::open(&path)?;
    let rep = check(&r, &Options { depth });
    for f in &rep.findings {
        println!("{f}");
    }
    if let Some(s) = &rep.summary {
        println!("{}", imgcheck_fat::layer::title(s));
        println!("{}", serde_json::to_string(&s.usage)?);
    }
    Ok(())
}

//! Prints the ext4 checker's findings for an image: `ext4check IMAGE [--quick]` (the full check unless --quick).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use imgcheck_core::FileReader;
use imgcheck_ext4::{Options, check};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: ext4check IMAGE [--quick] [--json]");
        std::process::exit(2);
    };
    let deep = !args.iter().any(|a| a == "--quick");
    let r = FileReader::open(path).expect("open image");
    let report = check(
        &r,
        &Options {
            depth: if deep {
                imgcheck_core::Depth::Full
            } else {
                imgcheck_core::Depth::Quick
            },
        },
    );
    if args.iter().any(|a| a == "--json") {
        println!("{}", serde_json::to_string_pretty(&report).expect("json"));
        return;
    }
    for f in &report.findings {
        println!(
            "{:7} {} @{}: {}",
            f.severity.to_string(),
            f.code,
            f.offset,
            f.message
        );
    }
}

//! Every finding code the crate can emit is exercised by a test: the
//! codes are read out of the source and looked up in the test sources.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

use std::fs;
use std::path::Path;

fn read_dir_text(dir: &Path) -> String {
    let mut out = String::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.push_str(&read_dir_text(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push_str(&fs::read_to_string(&p).unwrap());
        }
    }
    out
}

/// Quoted strings in `src` that look like finding codes, with `{r}` and
/// `{name}` expanded the way the code expands them.
fn emitted_codes(src: &str) -> Vec<String> {
    let fields = [
        "first_usable_lba",
        "last_usable_lba",
        "disk_guid",
        "num_partition_entries",
        "sizeof_partition_entry",
        "partition_entry_array_crc32",
        "revision",
        "header_size",
    ];
    let mut out = Vec::new();
    let starts = src
        .match_indices("\"gpt.")
        .chain(src.match_indices("\"mbr."))
        .map(|(i, _)| i + 1);
    for start in starts {
        let Some(len) = src[start..].find('"') else {
            continue;
        };
        let piece = &src[start..start + len];
        if piece.contains(' ') || piece.ends_with('.') || piece.contains('\\') {
            continue;
        }
        if piece.contains("{r}") {
            for r in ["primary", "backup"] {
                out.push(piece.replace("{r}", r));
            }
        } else if piece.contains("{name}") {
            out.extend(fields.iter().map(|f| piece.replace("{name}", f)));
        } else if !piece.contains('{') {
            out.push(piece.to_string());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Every `.rs` file under `dir`, subdirectories included (the checks are
/// split into a module per structure), each split into the code above its
/// first `#[cfg(test)]` and the unit tests below it.
fn sources(dir: &Path, code: &mut String, unit: &mut String) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, code, unit);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let text = fs::read_to_string(&p).unwrap();
            let (c, t) = text.split_once("#[cfg(test)]").unwrap_or((&text, ""));
            code.push_str(c);
            unit.push_str(t);
        }
    }
}

#[test]
fn every_emitted_code_is_tested() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Each source file ends with its unit tests (`#[cfg(test)]`): the part
    // before emits, the part after tests.
    let (mut code, mut unit) = (String::new(), String::new());
    sources(&root.join("src"), &mut code, &mut unit);
    let tests = read_dir_text(&root.join("tests")) + &unit;
    let codes = emitted_codes(&code);
    let untested: Vec<_> = codes
        .iter()
        .filter(|c| !tests.contains(&format!("\"{c}\"")))
        .collect();
    println!(
        "{} codes emitted, {} without a test",
        codes.len(),
        untested.len()
    );
    assert!(codes.len() > 60, "{codes:?}");
    assert!(untested.is_empty(), "codes no test asserts: {untested:?}");
}

//! Every finding code the crate can emit is exercised by some test, so a
//! new check cannot land without one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

use std::collections::BTreeSet;

fn codes_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("\"qcow2.") {
        let tail = &rest[i + 1..];
        let end = tail.find('"').unwrap();
        let code = &tail[..end];
        if code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_' || c.is_ascii_digit())
            && code.matches('.').count() >= 2
            && !code.ends_with('.')
        {
            out.insert(code.to_string());
        }
        rest = &tail[end..];
    }
    out
}

/// Every `.rs` file under `dir`, subdirectories included (the checker is
/// split into a module per pass), each split into the code above its first
/// `#[cfg(test)]` and the unit tests below it.
fn sources(dir: &std::path::Path, code: &mut String, unit: &mut String) {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            sources(&p, code, unit);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(&p).unwrap();
            let (c, t) = text.split_once("#[cfg(test)]").unwrap_or((&text, ""));
            code.push_str(c);
            unit.push_str(t);
        }
    }
}

#[test]
fn every_finding_code_has_a_test() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let (mut code, mut unit) = (String::new(), String::new());
    sources(&root.join("src"), &mut code, &mut unit);
    let emitted = codes_in(&code);
    let tests: String = [
        "tests/findings.rs",
        "tests/differential.rs",
        "tests/failing_reads.rs",
    ]
    .iter()
    .map(|f| std::fs::read_to_string(root.join(f)).unwrap())
    .collect();
    // Test assertions name codes in strings, in the integration tests and
    // in the unit tests beside the code.
    let tested: BTreeSet<String> = codes_in(&tests).union(&codes_in(&unit)).cloned().collect();
    let exempt: [&str; 0] = [];
    let missing: Vec<_> = emitted
        .iter()
        .filter(|c| !tested.contains(*c) && !exempt.contains(&c.as_str()))
        .collect();
    println!("{} finding codes, {} exempt", emitted.len(), exempt.len());
    assert!(emitted.len() > 40, "code scan found only {}", emitted.len());
    assert!(
        missing.is_empty(),
        "finding codes without a test: {missing:?}"
    );
}

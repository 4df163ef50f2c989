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

#[test]
fn every_finding_code_has_a_test() {
    let src: String = ["check.rs", "header.rs", "image.rs", "snapshot.rs"]
        .iter()
        .map(|f| {
            std::fs::read_to_string(format!("{}/src/{f}", env!("CARGO_MANIFEST_DIR"))).unwrap()
        })
        .collect();
    // Unit tests live at the end of header.rs; take only code above them.
    let code_part = src
        .split("#[cfg(test)]")
        .map(|p| p.split("mod tests").next().unwrap())
        .collect::<String>();
    let emitted = codes_in(&code_part);
    let tests: String = [
        "tests/findings.rs",
        "tests/differential.rs",
        "src/header.rs",
    ]
    .iter()
    .map(|f| std::fs::read_to_string(format!("{}/{f}", env!("CARGO_MANIFEST_DIR"))).unwrap())
    .collect();
    let tested_text = tests.split("fn codes_in").next().unwrap();
    // Test assertions name codes in strings too; the header unit tests
    // follow `mod tests`.
    let header =
        std::fs::read_to_string(format!("{}/src/header.rs", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let unit = header.split("mod tests").nth(1).unwrap_or("");
    let tested: BTreeSet<String> = codes_in(tested_text)
        .union(&codes_in(unit))
        .cloned()
        .collect();
    // Read failures other than end-of-file need a failing disk to test.
    let exempt = ["qcow2.check.io"];
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

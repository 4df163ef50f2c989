//! The README's embedding example is the library's doc test, so the
//! README never shows code that does not build or run.

/// The first ```rust block after `## Embedding` in the README.
fn readme_example(readme: &str) -> Option<String> {
    let section = readme.split("\n## Embedding\n").nth(1)?;
    let body = section.split("```rust\n").nth(1)?;
    Some(body.split("\n```").next()?.to_string())
}

/// The first fenced block of the crate's `//!` documentation, prefixes
/// stripped (`# ` hidden lines included: they are in the README too).
fn lib_example(lib: &str) -> Option<String> {
    let lines: Vec<&str> = lib
        .lines()
        .take_while(|l| l.starts_with("//!"))
        .map(|l| {
            l.strip_prefix("//! ")
                .unwrap_or(l.trim_start_matches("//!"))
        })
        .collect();
    let start = lines.iter().position(|l| *l == "```")?;
    let rest = lines.get(start.checked_add(1)?..)?;
    let end = rest.iter().position(|l| *l == "```")?;
    Some(rest.get(..end)?.join("\n"))
}

#[test]
fn readme_embedding_example_is_the_doc_test() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/../README.md")).unwrap_or_default();
    let lib = std::fs::read_to_string(format!("{root}/src/lib.rs")).unwrap_or_default();
    let (Some(r), Some(l)) = (readme_example(&readme), lib_example(&lib)) else {
        panic!("README ## Embedding or the lib.rs example is missing");
    };
    assert_eq!(r, l);
}

#[test]
fn inspect_is_the_report_the_cli_prints() {
    let root = env!("CARGO_MANIFEST_DIR");
    let image = std::path::Path::new(root).join("../testdata/demo/brainvm.qcow2");
    let report = imgcheck::inspect(&image, &imgcheck::Options::default());
    let Ok(report) = report else {
        panic!("demo image not checked: {report:?}");
    };
    // The CLI measures the free space beside the image (layout.host.*) and
    // the library leaves it unmeasured unless asked: on a host with little
    // room the two would differ by that finding alone, so the CLI is told
    // not to measure, as the library's default is.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_imgcheck"))
        .args(["--host-room", "off", "--json"])
        .arg(&image)
        .output();
    let Ok(out) = out else {
        panic!("imgcheck did not run");
    };
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        imgcheck::render::json_line(&report)
    );
    assert_eq!(
        report.layout.first().map(|f| f.code.as_ref()),
        Some("layout.size_chain.grown")
    );
}

#[test]
fn inspect_of_a_missing_file_is_an_error() {
    let r = imgcheck::inspect(
        std::path::Path::new("/nonexistent/imgcheck-embed.qcow2"),
        &imgcheck::Options::default(),
    );
    assert!(matches!(r, Err(e) if e.kind == imgcheck::options::FatalKind::Missing));
}

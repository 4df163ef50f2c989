//! Checks XFS images and prints the findings: `xfscheck [--quick] [--json|--codes] IMAGE...`
//! (`--codes`: the codes of warnings and errors only, for scripts).
//! Exit 1 when any image has a warning or error finding.

use imgcheck_core::{Depth, FileReader, Severity};
use std::io::Write;

fn main() {
    let mut depth = Depth::Full;
    let mut json = false;
    let mut codes = false;
    let mut bad = false;
    let mut out = std::io::stdout().lock();
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--quick" => depth = Depth::Quick,
            "--json" => json = true,
            "--codes" => codes = true,
            path => {
                let r = match FileReader::open(path) {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("{path}: {e}");
                        std::process::exit(8);
                    }
                };
                let rep = imgcheck_xfs::check(&r, &imgcheck_xfs::Options { depth });
                if codes {
                    for f in rep
                        .findings
                        .iter()
                        .filter(|f| f.severity >= Severity::Warning)
                    {
                        let _ = writeln!(out, "{}", f.code);
                    }
                } else if json {
                    let _ = writeln!(out, "{}", serde_json::to_string(&rep).unwrap_or_default());
                } else {
                    for f in &rep.findings {
                        let _ = writeln!(out, "{path}: {f}");
                    }
                    if let Some(s) = &rep.summary {
                        let _ = writeln!(
                            out,
                            "{path}: summary v{} {} AGs log {:?} head {} tail {} inodes {} dirs {}",
                            s.version,
                            s.agcount,
                            s.log.state,
                            s.log.head_block,
                            s.log.tail_block,
                            s.inodes_checked,
                            s.directories_checked
                        );
                    }
                }
                bad |= rep.findings.iter().any(|f| f.severity >= Severity::Warning);
            }
        }
    }
    std::process::exit(i32::from(bad));
}

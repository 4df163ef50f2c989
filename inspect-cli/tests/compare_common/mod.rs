//! What the compare tests (compare.rs, compare_orders.rs) share: fixture
//! copies, Gluster's AFR xattrs on brick files, and the rule that no
//! step of a note's advice writes into a brick.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use imgcheck_testdata::fixture;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A copy of fixture `rel` at `dir/name`.
pub fn copy_to(dir: &Path, rel: &str, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(fixture(rel), &to).unwrap();
    to
}

/// `trusted.afr.NAME` on `file` with the three counters; false where
/// trusted.* cannot be set (not root, no setfattr).
pub fn afr_set(file: &Path, name: &str, c: [u32; 3]) -> bool {
    let v = format!("0x{:08x}{:08x}{:08x}", c[0], c[1], c[2]);
    Command::new("setfattr")
        .args(["-n", &format!("trusted.afr.{name}"), "-v", &v])
        .arg(file)
        .status()
        .is_ok_and(|s| s.success())
}

/// Every copy step of `advice` writes outside the bricks: each
/// `cp --sparse=always SRC DST` names a directory outside every brick as
/// its target, and nothing else writes.
pub fn writes_only_outside<P: AsRef<Path>>(advice: &str, bricks: &[P]) {
    for w in ["dd ", "rm ", " of=", "mv ", "setfattr", "truncate", "> "] {
        assert!(!advice.contains(w), "a writing step {w:?}: {advice}");
    }
    for part in advice.split("cp --sparse=always ").skip(1) {
        let dst = part
            .split_whitespace()
            .nth(1)
            .unwrap()
            .trim_end_matches([';', ')']);
        for b in bricks {
            assert!(
                !Path::new(dst).starts_with(b.as_ref()),
                "copies into brick {}: {advice}",
                b.as_ref().display()
            );
        }
    }
}

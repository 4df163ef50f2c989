//! Running the e2fsprogs tools (and, where root allows, the kernel) with
//! a time bound, and e2fsck -fn's verdict on an image file.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Whether mkfs.ext4, debugfs, dumpe2fs and e2fsck are all installed.
pub fn have_e2fsprogs() -> bool {
    ["mkfs.ext4", "debugfs", "dumpe2fs", "e2fsck"]
        .iter()
        .all(|t| Command::new(t).arg("-V").output().is_ok())
}

/// The e2fsprogs version line of `e2fsck -V` ("1.47.0"), if installed.
pub fn e2fsprogs_version() -> Option<String> {
    let out = Command::new("e2fsck").arg("-V").output().ok()?;
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.split_whitespace().nth(1).map(str::to_string)
}

/// What a command printed and how it ended.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit code; None when killed at the time bound or by a signal.
    pub code: Option<i32>,
    /// stdout and stderr, stdout first.
    pub text: String,
    /// Killed at the time bound.
    pub timed_out: bool,
}

/// Runs `cmd` with a time bound, environment fixed for reproducibility
/// (e2fsprogs' fake clock, 512-byte sectors).
pub fn run(cmd: &mut Command, limit: Duration) -> Output {
    cmd.env("E2FSPROGS_FAKE_TIME", "1763000000")
        .env("MKE2FS_DEVICE_SECTSIZE", "512")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let Ok(mut child) = cmd.spawn() else {
        return Output {
            code: None,
            text: format!("cannot run {cmd:?}"),
            timed_out: false,
        };
    };
    // Readers on threads: a full pipe would otherwise block the child.
    let mut so = child.stdout.take().expect("stdout piped");
    let mut se = child.stderr.take().expect("stderr piped");
    let t_out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = so.read_to_end(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = se.read_to_end(&mut s);
        s
    });
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                timed_out = true;
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(_) => break None,
        }
    };
    let mut text = String::from_utf8_lossy(&t_out.join().unwrap_or_default()).into_owned();
    text.push_str(&String::from_utf8_lossy(&t_err.join().unwrap_or_default()));
    Output {
        code: if timed_out {
            None
        } else {
            status.and_then(|s| s.code())
        },
        text,
        timed_out,
    }
}

/// `debugfs -R`-free batch: runs `commands` (one per line) through
/// `debugfs -f -` read-only on `img` and returns the output.
pub fn debugfs(img: &Path, commands: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("cmds");
    std::fs::write(&f, commands).expect("write debugfs commands");
    run(
        Command::new("debugfs").arg("-f").arg(&f).arg(img),
        Duration::from_secs(120),
    )
    .text
}

/// `debugfs -w` with `commands`: changes the image (for building only).
pub fn debugfs_write(img: &Path, commands: &str) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("cmds");
    std::fs::write(&f, commands).expect("write debugfs commands");
    run(
        Command::new("debugfs").arg("-w").arg("-f").arg(&f).arg(img),
        Duration::from_secs(120),
    )
}

/// e2fsck -fn's word on an image: its exit code and the problem lines it
/// printed (everything but its banner, the pass headers and the summary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Exit code (None: killed at the time bound).
    pub code: Option<i32>,
    /// Problem lines, in order.
    pub problems: Vec<String>,
}

impl Verdict {
    /// Clean: exit 0 and nothing to say.
    pub fn clean(&self) -> bool {
        self.code == Some(0) && self.problems.is_empty()
    }

    /// Whether this verdict says more than `base`, the verdict on the
    /// undamaged image (a base with pending recovery already has remarks):
    /// another exit code, or a problem line `base` does not have.
    pub fn differs_from(&self, base: &Verdict) -> bool {
        self.code != base.code || self.problems.iter().any(|p| !base.problems.contains(p))
    }

    /// Whether this verdict has a problem of a kind (its line with numbers
    /// folded, see [`signature`]) that `base` does not, or another exit
    /// code: for comparing checks after a replay, where counts move.
    pub fn differs_in_kind_from(&self, base: &Verdict) -> bool {
        let kinds: Vec<String> = base.problems.iter().map(|p| signature(p)).collect();
        self.code != base.code || self.problems.iter().any(|p| !kinds.contains(&signature(p)))
    }

    /// The first problem line not in `base`, with numbers replaced by `#`:
    /// the class a miss is named by.
    pub fn class_against(&self, base: &Verdict) -> String {
        match self.problems.iter().find(|p| !base.problems.contains(p)) {
            Some(p) => signature(p),
            None => match self.code {
                Some(c) => format!("(exit {c}, no new problem line)"),
                None => "(e2fsck timed out)".to_string(),
            },
        }
    }
}

/// A problem line with its numbers (and hex) replaced by `#`, and the
/// "Fix? no"-style prompt dropped: lines of one e2fsck problem code map to
/// one signature.
pub fn signature(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut prev_hash = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '0' && chars.peek() == Some(&'x') {
            chars.next();
            while chars.peek().is_some_and(char::is_ascii_hexdigit) {
                chars.next();
            }
            if !prev_hash {
                out.push('#');
            }
            prev_hash = true;
            continue;
        }
        if c.is_ascii_digit() {
            if !prev_hash {
                out.push('#');
            }
            prev_hash = true;
            continue;
        }
        prev_hash = false;
        out.push(c);
    }
    let out = out.trim().to_string();
    for prompt in [
        "Fix? no",
        "Clear? no",
        "Ignore error? no",
        "Force rewrite? no",
        "Salvage? no",
        "Relocate? no",
        "Clone multiply-claimed blocks? no",
        "Delete file? no",
        "Connect to /lost+found? no",
        "Recreate? no",
        "Clear inode? no",
        "Clear HTree index? no",
        "Optimize? no",
        "Abort? no",
        "IGNORED.",
    ] {
        if let Some(s) = out.strip_suffix(prompt) {
            return s.trim().to_string();
        }
    }
    out
}

/// Lines of e2fsck's output that are not problems.
fn is_banner(line: &str) -> bool {
    let l = line.trim();
    l.is_empty()
        || l.starts_with("e2fsck ")
        || l.starts_with("Pass 1: ")
        || l.starts_with("Pass 1A")
        || l.starts_with("Pass 2: ")
        || l.starts_with("Pass 3: ")
        || l.starts_with("Pass 3A")
        || l.starts_with("Pass 4: ")
        || l.starts_with("Pass 5: ")
        || l.contains(" files (") && l.contains(" blocks")
        || l.contains("WARNING: Filesystem still has errors")
        || l.contains("***** FILE SYSTEM WAS MODIFIED *****")
        || l.starts_with("Running additional passes")
}

/// Runs `e2fsck -fn` on `img` (at most `limit`) and returns its verdict.
pub fn e2fsck_fn(img: &Path, limit: Duration) -> Verdict {
    e2fsck_with("-fn", img, limit)
}

/// Runs `e2fsck -fy` on `img`, which it changes (journal replay, orphan
/// processing, repairs): the verdict of a check that does the recovery
/// -fn skips. Only for scratch copies.
pub fn e2fsck_fy(img: &Path, limit: Duration) -> Verdict {
    e2fsck_with("-fy", img, limit)
}

fn e2fsck_with(flags: &str, img: &Path, limit: Duration) -> Verdict {
    let out = run(Command::new("e2fsck").arg(flags).arg(img), limit);
    let name = img.display().to_string();
    let problems = out
        .text
        .lines()
        .filter(|l| !is_banner(l))
        // The image's path appears in some lines; keep them comparable.
        .map(|l| l.replace(&name, "IMAGE"))
        .collect();
    Verdict {
        code: out.code,
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_fold_numbers_and_prompts() {
        assert_eq!(
            signature("Inode 12, i_blocks is 16, should be 56.  Fix? no"),
            "Inode #, i_blocks is #, should be #."
        );
        assert_eq!(
            signature("Illegal block #3980 (2186691927) in inode 7.  IGNORED."),
            "Illegal block ## (#) in inode #."
        );
        assert_eq!(
            signature("Superblock checksum 0xdeadbeef wrong"),
            "Superblock checksum # wrong"
        );
    }

    #[test]
    fn verdicts_compare_against_the_base() {
        let base = Verdict {
            code: Some(0),
            problems: vec!["Warning: skipping journal recovery".into()],
        };
        let same = base.clone();
        assert!(!same.differs_from(&base));
        let more = Verdict {
            code: Some(4),
            problems: vec![
                "Warning: skipping journal recovery".into(),
                "Inode 7 has illegal block(s).  Clear? no".into(),
            ],
        };
        assert!(more.differs_from(&base));
        assert_eq!(more.class_against(&base), "Inode # has illegal block(s).");
    }
}

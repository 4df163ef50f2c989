//! Many images at once: directories expanded, images checked on `--jobs`
//! threads, reports printed in input order as soon as each is ready, and
//! the empty-backup pattern (an image far smaller than its siblings).

use crate::options::{Fatal, FatalKind};
use crate::registry::{self, layers};
use crate::report::ImageReport;
use imgcheck_core::{FileReader, Finding, Layer, ReadAt, Space};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// An image to check, and where it came from.
#[derive(Debug, Clone)]
pub struct Item {
    /// The file.
    pub path: PathBuf,
    /// The directory it was found in, when it came from expanding one.
    pub dir: Option<PathBuf>,
    /// The qcow2 internal snapshot to inspect instead of the current state.
    pub snapshot: Option<String>,
    /// Why it cannot be checked at all, known before opening it (a
    /// directory with no images).
    pub fatal: Option<Fatal>,
    /// What `--all-snapshots` did not inspect one by one, and why.
    pub notes: Vec<String>,
}

/// `--all-snapshots`: after each qcow2 image, one item per internal
/// snapshot, so each is judged like the current state before anyone
/// reverts to it. The adapter goes through the table itself: each item
/// selects its snapshot by id (ids win over names, so a snapshot named
/// like another's id cannot redirect it); a table the check judges
/// unreadable gives none, and snapshots sharing one disk, a repeated id
/// or past the bound are said in the image's notes. Each item opens the
/// image anew, so one snapshot's walk is freed before the next.
pub fn with_snapshots(items: Vec<Item>) -> Vec<Item> {
    let mut out = Vec::with_capacity(items.len());
    for mut it in items {
        let (snaps, notes) = if kind_of(&it.path) == "qcow2" {
            match imgcheck_core::FileReader::open(&it.path)
                .map_err(|e| e.to_string())
                .and_then(|f| layers::qcow2::snapshot_items(std::sync::Arc::new(f), &it.path))
            {
                Ok(x) => x,
                Err(why) => (Vec::new(), vec![format!("--all-snapshots: {why}")]),
            }
        } else {
            (Vec::new(), Vec::new())
        };
        it.notes = notes;
        out.push(it.clone());
        for s in snaps {
            out.push(Item {
                snapshot: Some(s),
                dir: None,
                notes: Vec::new(),
                ..it.clone()
            });
        }
    }
    out
}

/// How far below its siblings' median size an image must be to be called
/// suspiciously small (1/10: a 20 GiB series with a 1.5 GiB member).
const SMALL_SIBLING_RATIO: u64 = 10;
/// Fewer siblings than this make no pattern.
const MIN_SIBLINGS: usize = 3;
/// Files in one directory considered at most (a bound on a hostile tree).
const MAX_DIR_ENTRIES: usize = 100_000;

/// Expands directories (one level, sorted) into the images they hold;
/// other arguments pass through, so a missing file is still reported. A
/// directory with no image is an item of its own that fails ("no images in
/// DIR"), so it is reported, never silently nothing.
pub fn expand(args: &[PathBuf]) -> Vec<Item> {
    let mut out = Vec::new();
    for a in args {
        if a.is_dir() {
            let mut seen = 0usize;
            let mut files: Vec<PathBuf> = std::fs::read_dir(a)
                .map(|rd| {
                    rd.filter_map(|e| e.ok())
                        .take(MAX_DIR_ENTRIES)
                        .map(|e| e.path())
                        .filter(|p| {
                            seen = seen.saturating_add(1);
                            looks_like_image(p)
                        })
                        .collect()
                })
                .unwrap_or_default();
            files.sort();
            if files.is_empty() {
                let why = if seen == 0 {
                    "it is empty".to_string()
                } else {
                    format!(
                        "none of its {seen} {} is an image file (text files — notes, checksums, logs — and subdirectories, FIFOs, sockets and devices other than block devices are skipped)",
                        if seen == 1 { "entry" } else { "entries" }
                    )
                };
                out.push(Item {
                    path: a.clone(),
                    dir: None,
                    snapshot: None,
                    notes: Vec::new(),
                    fatal: Some(
                        Fatal::new(
                            FatalKind::NoImages,
                            format!("no images in {}: {why}", a.display()),
                        )
                        .learned("entries", seen),
                    ),
                });
            }
            out.extend(files.into_iter().map(|path| Item {
                path,
                dir: Some(a.clone()),
                snapshot: None,
                fatal: None,
                notes: Vec::new(),
            }));
        } else {
            out.push(Item {
                path: a.clone(),
                dir: None,
                snapshot: None,
                fatal: None,
                notes: Vec::new(),
            });
        }
    }
    out
}

/// How much of a file is looked at to tell text from an image.
const TEXT_PROBE: usize = 4096;

/// Whether a directory entry is checked as an image: a regular file or a
/// block device, empty or not (an empty or tiny file where images are kept
/// is exactly the failed backup `layout.small_sibling` is for), unless it
/// reads as text — no NUL byte and valid UTF-8 in its first 4 KiB, and in
/// 4 KiB from its middle and its end when it is larger — which
/// no disk image or container does: the notes, checksums and logs that
/// share a backup directory.
fn looks_like_image(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    let Ok(meta) = std::fs::metadata(p) else {
        return false;
    };
    let ft = meta.file_type();
    if !(ft.is_file() || ft.is_block_device()) {
        return false;
    }
    if meta.len() == 0 || ft.is_block_device() {
        return true;
    }
    let Ok(f) = FileReader::open(p) else {
        // Unreadable: listed, so the report says why.
        return true;
    };
    if registry::container_of(&f, None) != Some("raw") {
        return true;
    }
    // The head, and for a larger file its middle and its end too: a disk
    // whose first sectors were overwritten by text (a log redirected onto
    // it) still holds binary bytes, or zeros, further on, where a log or
    // a checksum list holds text throughout.
    let len = f.len();
    let probe = u64::try_from(TEXT_PROBE).unwrap_or(u64::MAX);
    let mut at = vec![0];
    if len > probe {
        at.push((len / 2).saturating_sub(probe / 2));
        at.push(len.saturating_sub(probe));
    }
    for off in at {
        let n = usize::try_from(len.saturating_sub(off))
            .unwrap_or(TEXT_PROBE)
            .min(TEXT_PROBE);
        let mut b = vec![0u8; n];
        if f.read_exact_at(off, &mut b).is_err() {
            return true;
        }
        if b.contains(&0) || !is_text(&b) {
            return true;
        }
    }
    false
}

/// Valid UTF-8, allowing a character cut by either end of the probe (a
/// probe from the middle of a file may start inside one).
fn is_text(b: &[u8]) -> bool {
    let cut = b.iter().take(3).take_while(|&&c| c & 0xC0 == 0x80).count();
    match std::str::from_utf8(b.get(cut..).unwrap_or_default()) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

/// The container an image will be read as, for grouping siblings: the
/// registry's probes on the file, `raw` when it cannot be read.
fn kind_of(p: &Path) -> &'static str {
    FileReader::open(p)
        .ok()
        .and_then(|f| registry::container_of(&f, None))
        .unwrap_or("raw")
}

/// For each item found in a directory, a warning when its file is far
/// smaller than the median of its siblings of the same format — the
/// empty-backup pattern. Decided from file sizes alone, before any image is
/// checked, so reports can stream.
pub fn small_siblings(items: &[Item]) -> Vec<Option<Finding>> {
    let facts: Vec<Option<(&Path, &'static str, u64)>> = items
        .iter()
        .map(|it| {
            let dir = it.dir.as_deref()?;
            let len = std::fs::metadata(&it.path).ok()?.len();
            Some((dir, kind_of(&it.path), len))
        })
        .collect();
    facts
        .iter()
        .map(|me| {
            let (dir, kind, len) = (*me)?;
            let mut sizes: Vec<u64> = facts
                .iter()
                .flatten()
                .filter(|(d, k, _)| *d == dir && *k == kind)
                .map(|(_, _, l)| *l)
                .collect();
            if sizes.len() < MIN_SIBLINGS {
                return None;
            }
            sizes.sort_unstable();
            let median = *sizes.get(sizes.len() / 2)?;
            if len.saturating_mul(SMALL_SIBLING_RATIO) >= median {
                return None;
            }
            let others = sizes.len().saturating_sub(1);
            Some(
                Finding::warning(
                    "layout.small_sibling",
                    Layer::LAYOUT,
                    0,
                    Space::File,
                    format!(
                        "the image file is {len} bytes, under 1/{SMALL_SIBLING_RATIO} of the median size ({median} bytes) of the {others} other {kind} images in its directory"
                    ),
                )
                .with_hint(imgcheck_core::Hint::advice(
                    "compare with the previous good copy; check that the job writing these images did not start producing empty ones",
                )),
            )
        })
        .collect()
}

/// Checks `items` on `jobs` threads and hands each result to `emit` in
/// input order, as soon as it and all before it are done.
pub fn run_all(
    items: &[Item],
    jobs: usize,
    check: impl Fn(usize, &Item) -> Result<ImageReport, Fatal> + Sync,
    mut emit: impl FnMut(&Item, Result<ImageReport, Fatal>),
) {
    let next = AtomicUsize::new(0);
    let workers = jobs.clamp(1, items.len().max(1));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        for _ in 0..workers {
            let tx = tx.clone();
            let (next, check) = (&next, &check);
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    if tx.send((i, check(i, item))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut pending = std::collections::BTreeMap::new();
        let mut want = 0usize;
        for (i, r) in rx {
            pending.insert(i, r);
            while let Some(r) = pending.remove(&want) {
                if let Some(item) = items.get(want) {
                    emit(item, r);
                }
                want = want.saturating_add(1);
            }
        }
    });
}

//! The damage generator against e2fsck -fn: base filesystems made by
//! mke2fs (imgcheck_testdata::ext4gen::matrix::damage_bases), every
//! metadata block of each enumerated by dumpe2fs and debugfs, mutated by
//! bit flips, byte and word overwrites and zeroed blocks from a fixed seed.
//! For each mutant e2fsck -fn's verdict is computed (on a tmpfs copy) and
//! the full check runs on the mutated bytes in memory:
//!
//! - a **miss**: e2fsck -fn says more than on the base, and imgcheck's
//!   findings above info are those of the base;
//! - a **false alarm**: e2fsck -fn says what it says on the base, and
//!   imgcheck adds a finding above info.
//!
//! The suite runs a sample (`DAMAGE_SAMPLE`); `testdata/scripts/ext4-damage.sh`
//! runs the ignored test with ≥ 20,000 mutants. Without e2fsprogs both say
//! so and pass. `DAMAGE_ONLY=kind` restricts to one block kind,
//! `DAMAGE_VERBOSE=1` lists every miss and false alarm.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]

mod common;

use imgcheck_core::{ReadAt, ReadError, ReadErrorKind, Severity};
use imgcheck_ext4::check;
use imgcheck_testdata::ext4gen::layout::{self, Layout};
use imgcheck_testdata::ext4gen::mutate::{self, Mutant};
use imgcheck_testdata::ext4gen::tools::{self, Verdict};
use imgcheck_testdata::ext4gen::{matrix, scratch};
use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// The mutants' seed.
const SEED: u64 = 0x6461_6d61_6765;
/// Committed fixtures used as bases beside the generated ones.
const PENDING_BASES: &[&str] = &["ext4-crash", "ext4-fc", "ext4-orphan"];
/// Mutants in the suite's sample.
const DAMAGE_SAMPLE: usize = 2100;
/// Mutants in the full run.
const DAMAGE_FULL: usize = 21000;

/// Findings imgcheck makes where e2fsck -fn stays silent, each judged: the
/// block kind (or `*`), the code, and why e2fsck -fn is not the whole
/// truth there. Mutants whose additions are all listed here are counted as
/// accepted, not as false alarms.
const ACCEPTED: &[(&str, &str, &str)] = &[
    (
        "backup superblock",
        "ext4.backup_superblock.differs",
        "a backup whose geometry, UUID or layout features differ: e2fsck -fn never compares backups (check_backup_super_block returns at once when read-only) and -fy rewrites them without comment; recovery through that backup (e2fsck -b, mount -o sb=) would read another filesystem",
    ),
    (
        "superblock",
        "ext4.backup_superblock.differs",
        "the primary's geometry, UUID or layout features changed so its backups no longer agree: e2fsck -fn never compares backups; which copy is right is for the user to decide before any recovery",
    ),
    (
        "block bitmap",
        "ext4.bitmap.block_checksum",
        "a block bitmap that fails its checksum: e2fsck 1.47.0 -fn prints nothing (it loads bitmaps ignoring checksums), -fy rewrites it silently (FILE SYSTEM WAS MODIFIED), and the kernel's ext4_validate_block_bitmap calls ext4_error (bad block bitmap checksum) — checked by hand on a mke2fs image",
    ),
    (
        "block bitmap",
        "ext4.bitmap.block_differences",
        "the same mutants: a bit that marks an in-use block free lets the allocator hand it out twice; e2fsck -fy rewrites the bitmap without a message",
    ),
    (
        "block bitmap",
        "ext4.group.free_blocks_vs_bitmap",
        "the same mutants: the descriptor's free count no longer matches the damaged bitmap",
    ),
    (
        "journal superblock",
        "ext4.journal.bad_first",
        "s_first 0 or past s_maxlen: e2fsck 1.47.0's e2fsck_journal_load does not check it, jbd2 refuses the journal (JBD2: Invalid start block of journal) and the filesystem does not mount — checked by hand with mount -o ro",
    ),
    (
        "superblock",
        "ext4.journal.inode_and_device",
        "s_journal_dev set beside a journal inode: e2fsck -fn ignores s_journal_dev while the journal UUID is null, the kernel refuses to mount (filesystem has both journal inode and journal device!) — checked by hand with mount -o ro",
    ),
    (
        "inode: regular",
        "warning ext4.bitmap.block_differences",
        "the pending-delete orphan's own inode zeroed on a base with recovery pending: its blocks can no longer be tied to it, so the bitmap differences it explained are reported as pending-recovery warnings; e2fsck -fy ends the same because the replay restores the inode's table block",
    ),
    (
        "inode: regular",
        "warning ext4.group.free_blocks_count",
        "the same mutants: the group's free count against the bitmap, a pending-recovery warning",
    ),
    (
        "inode: directory",
        "ext4.inode.ea_inode_not_regular",
        "the EA_INODE flag on a directory: e2fsck 1.47.1 reports it (PR_1_EA_INODE_NONREG, commit 849a9e6e; the corpus's f_ea_inode_spurious_flag_dir), 1.47.0 does not",
    ),
    (
        "superblock",
        "ext4.orphan.illegal_inode",
        "s_last_orphan outside the inode range: e2fsck -n skips orphan processing (release_orphan_inodes runs only read-write); e2fsck -p/-y reports PR_0_ORPHAN_ILLEGAL_HEAD_INODE and the kernel's orphan cleanup calls ext4_error",
    ),
];

fn accepted(kind: &str, add: &[String]) -> bool {
    !add.is_empty()
        && add.iter().all(|a| {
            let code = a.split_whitespace().nth(1).unwrap_or("");
            // An entry with a severity ("warning ext4.…") matches only it.
            ACCEPTED
                .iter()
                .any(|(k, c, _)| (*k == "*" || *k == kind) && (*c == code || *c == a.as_str()))
        })
}

/// The base image with one patch laid over it, read without copying.
struct Patched<'a> {
    base: &'a [u8],
    off: u64,
    bytes: &'a [u8],
}

impl ReadAt for Patched<'_> {
    fn len(&self) -> u64 {
        self.base.len() as u64
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let end = offset.checked_add(buf.len() as u64);
        if end.is_none_or(|e| e > self.len()) {
            return Err(ReadError::new(
                offset,
                buf.len() as u64,
                ReadErrorKind::OutOfBounds { len: self.len() },
            ));
        }
        let o = offset as usize;
        buf.copy_from_slice(&self.base[o..o + buf.len()]);
        let (ps, pe) = (self.off, self.off + self.bytes.len() as u64);
        let (s, e) = (offset.max(ps), (offset + buf.len() as u64).min(pe));
        if s < e {
            buf[(s - offset) as usize..(e - offset) as usize]
                .copy_from_slice(&self.bytes[(s - ps) as usize..(e - ps) as usize]);
        }
        Ok(())
    }
}

/// imgcheck's findings above info, as (code, severity) → count.
type Ours = BTreeMap<(String, Severity), usize>;

fn ours(r: &dyn ReadAt) -> (Ours, Vec<String>) {
    let rep = check(r, &common::full());
    let mut m = Ours::new();
    let mut lines = Vec::new();
    for f in rep.findings.iter().filter(|f| f.severity > Severity::Info) {
        *m.entry((f.code.to_string(), f.severity)).or_default() += 1;
        lines.push(format!("{} {}: {}", f.severity, f.code, f.message));
    }
    (m, lines)
}

/// What `mutant` adds to the base's findings.
fn added(base: &Ours, mutant: &Ours) -> Vec<String> {
    mutant
        .iter()
        .filter(|(k, n)| base.get(*k).is_none_or(|b| b < *n))
        .map(|((c, s), _)| format!("{s} {c}"))
        .collect()
}

struct Base {
    name: String,
    bytes: Vec<u8>,
    layout: Layout,
    e2fsck: Verdict,
    ours: Ours,
    ours_lines: Vec<String>,
    /// One writable copy per worker, for e2fsck.
    copies: Vec<PathBuf>,
    /// For a base with recovery pending: e2fsck -fy's verdict (it replays
    /// and processes orphans, which -fn skips), and a scratch directory.
    fy: Option<(Verdict, PathBuf)>,
}

#[derive(Default)]
struct Tally {
    mutants: usize,
    e2fsck_flagged: usize,
    both: usize,
    misses: usize,
    false_alarms: usize,
    accepted: usize,
    timeouts: usize,
}

struct Row {
    kind: &'static str,
    e2fsck_flagged: bool,
    we_flagged: bool,
    timed_out: bool,
    class: String,
    describe: String,
    base: String,
    e2fsck_says: Vec<String>,
    we_add: Vec<String>,
}

fn run(n: usize) -> (Tally, BTreeMap<&'static str, Tally>) {
    let dir = scratch();
    let workers = 2usize;
    let specs = matrix::damage_bases();
    let mut bases = Vec::new();
    for spec in &specs {
        let sub = dir.path().join(&spec.name);
        std::fs::create_dir_all(&sub).unwrap();
        let built = match matrix::build(spec, &sub) {
            Ok(b) if b.verdict.clean() => b,
            Ok(b) => {
                println!(
                    "  base {} not clean to e2fsck: {:?}",
                    spec.label(),
                    b.verdict.problems
                );
                continue;
            }
            Err(e) => {
                println!("  base {} not made: {}", spec.label(), e.why);
                continue;
            }
        };
        let layout = layout::enumerate(&built.path);
        let bytes = std::fs::read(&built.path).unwrap();
        let e2fsck = tools::e2fsck_fn(&built.path, Duration::from_secs(60));
        let (o, lines) = ours(&imgcheck_core::BytesReader::new(bytes.clone()));
        let copies = (0..workers)
            .map(|w| {
                let p = sub.join(format!("w{w}.img"));
                std::fs::copy(&built.path, &p).unwrap();
                p
            })
            .collect();
        println!(
            "  base {}: {} regions of {} kinds; imgcheck says {:?}",
            spec.label(),
            layout.regions.len(),
            layout.kinds().len(),
            lines
        );
        bases.push(Base {
            name: spec.name.clone(),
            bytes,
            layout,
            e2fsck,
            ours: o,
            ours_lines: lines,
            copies,
            fy: None,
        });
    }
    // Kernel-made images with recovery pending: the only bases whose
    // journal holds descriptor, commit and revoke blocks to replay.
    for name in PENDING_BASES {
        let sub = dir.path().join(name);
        std::fs::create_dir_all(&sub).unwrap();
        let path = sub.join("base.img");
        std::fs::copy(
            imgcheck_testdata::fixture(&format!("ext4/{name}.img")),
            &path,
        )
        .unwrap();
        let layout = layout::enumerate(&path);
        let bytes = std::fs::read(&path).unwrap();
        let e2fsck = tools::e2fsck_fn(&path, Duration::from_secs(60));
        let (o, lines) = ours(&imgcheck_core::BytesReader::new(bytes.clone()));
        let copies = (0..workers)
            .map(|w| {
                let p = sub.join(format!("w{w}.img"));
                std::fs::copy(&path, &p).unwrap();
                p
            })
            .collect();
        let fy_copy = sub.join("fy.img");
        std::fs::copy(&path, &fy_copy).unwrap();
        let fy = tools::e2fsck_fy(&fy_copy, Duration::from_secs(60));
        println!(
            "  base {name} (kernel-made, recovery pending): {} regions of {} kinds; e2fsck -fn says {:?}; -fy says {:?}; imgcheck says {:?}",
            layout.regions.len(),
            layout.kinds().len(),
            e2fsck.problems,
            fy.problems,
            lines
        );
        bases.push(Base {
            name: name.to_string(),
            bytes,
            layout,
            e2fsck,
            ours: o,
            ours_lines: lines,
            copies,
            fy: Some((fy, sub.clone())),
        });
    }
    assert!(!bases.is_empty(), "no base filesystem could be made");
    let only = std::env::var("DAMAGE_ONLY").ok();
    let pairs: Vec<(&Layout, &[u8])> = bases.iter().map(|b| (&b.layout, &b.bytes[..])).collect();
    let mut all = mutate::mutants(&pairs, n, SEED);
    if let Some(k) = &only {
        all.retain(|m| m.kind == k.as_str());
    }
    // DAMAGE_SECS bounds a long run by time: no new mutant is started
    // after it, and the report covers those that ran (in seed order, so a
    // shorter run is a prefix of a longer one).
    let deadline = std::env::var("DAMAGE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(|s| std::time::Instant::now() + Duration::from_secs(s));
    let next = Mutex::new(0usize);
    let rows: Mutex<Vec<Row>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for w in 0..workers {
            let (bases, all, next, rows) = (&bases, &all, &next, &rows);
            s.spawn(move || {
                loop {
                    if deadline.is_some_and(|d| std::time::Instant::now() > d) {
                        break;
                    }
                    let i = {
                        let mut g = next.lock().unwrap();
                        *g += 1;
                        *g - 1
                    };
                    let Some(m) = all.get(i) else { break };
                    if i > 0 && i % 1000 == 0 {
                        println!("  … {i} of {} mutants started", all.len());
                    }
                    rows.lock().unwrap().push(one(&bases[m.base], m, w));
                }
            });
        }
    });
    let rows = rows.into_inner().unwrap();
    report(&rows, &bases)
}

fn one(b: &Base, m: &Mutant, worker: usize) -> Row {
    let (off, bytes) = m.patch(&b.bytes);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&b.copies[worker])
        .unwrap();
    f.write_all_at(&bytes, off).unwrap();
    let v = tools::e2fsck_fn(&b.copies[worker], Duration::from_secs(20));
    let o = off as usize;
    f.write_all_at(&b.bytes[o..o + bytes.len()], off).unwrap();
    let r = Patched {
        base: &b.bytes,
        off,
        bytes: &bytes,
    };
    let (mine, _) = ours(&r);
    let we_add = added(&b.ours, &mine);
    let mut timed_out = v.code.is_none();
    let mut e2 = v.differs_from(&b.e2fsck);
    let mut class = v.class_against(&b.e2fsck);
    // Recovery pending: what -fn cannot see, the replay and orphan
    // processing of -fy (on a fresh copy) may.
    if !e2
        && !timed_out
        && let Some((base_fy, dir)) = &b.fy
    {
        let p = dir.join(format!("fy-w{worker}.img"));
        let mut copy = b.bytes.clone();
        copy[o..o + bytes.len()].copy_from_slice(&bytes);
        std::fs::write(&p, &copy).unwrap();
        let fy = tools::e2fsck_fy(&p, Duration::from_secs(20));
        timed_out = fy.code.is_none();
        // After a replay, counts differ whenever the transactions replayed
        // differ: compare problem classes, not numbers.
        if fy.differs_in_kind_from(base_fy) {
            e2 = true;
            class = format!("(-fy) {}", fy.class_against(base_fy));
        }
    }
    Row {
        kind: m.kind,
        e2fsck_flagged: e2 && !timed_out,
        we_flagged: !we_add.is_empty(),
        timed_out,
        class,
        describe: m.describe(),
        base: b.name.clone(),
        e2fsck_says: v
            .problems
            .iter()
            .filter(|p| !b.e2fsck.problems.contains(p))
            .take(4)
            .cloned()
            .collect(),
        we_add,
    }
}

fn report(rows: &[Row], bases: &[Base]) -> (Tally, BTreeMap<&'static str, Tally>) {
    let verbose = std::env::var("DAMAGE_VERBOSE").is_ok();
    let mut total = Tally::default();
    let mut by_kind: BTreeMap<&'static str, Tally> = BTreeMap::new();
    let mut miss_classes: BTreeMap<(String, String), (usize, String)> = BTreeMap::new();
    let mut alarm_classes: BTreeMap<(String, String), (usize, String)> = BTreeMap::new();
    for r in rows {
        let t = by_kind.entry(r.kind).or_default();
        for t in [&mut total, t] {
            t.mutants += 1;
            if r.timed_out {
                t.timeouts += 1;
                continue;
            }
            if r.e2fsck_flagged {
                t.e2fsck_flagged += 1;
                if r.we_flagged {
                    t.both += 1;
                } else {
                    t.misses += 1;
                }
            } else if r.we_flagged {
                if accepted(r.kind, &r.we_add) {
                    t.accepted += 1;
                } else {
                    t.false_alarms += 1;
                }
            }
        }
        if r.timed_out {
            continue;
        }
        let example = format!(
            "{} {} -- e2fsck: {:?}; imgcheck adds {:?}",
            r.base, r.describe, r.e2fsck_says, r.we_add
        );
        if r.e2fsck_flagged && !r.we_flagged {
            let e = miss_classes
                .entry((r.kind.to_string(), r.class.clone()))
                .or_insert((0, example.clone()));
            e.0 += 1;
            if verbose {
                println!("  MISS {example}");
            }
        }
        if !r.e2fsck_flagged && r.we_flagged && !accepted(r.kind, &r.we_add) {
            let e = alarm_classes
                .entry((r.kind.to_string(), r.we_add.join(", ")))
                .or_insert((0, example.clone()));
            e.0 += 1;
            if verbose {
                println!("  FALSE ALARM {example}");
            }
        }
    }
    println!(
        "damage: {} mutants over {} bases; e2fsck -fn flagged {}, imgcheck flagged {} of those; {} misses, {} false alarms ({} more flagged by imgcheck alone, judged and accepted), {} e2fsck timeouts",
        total.mutants,
        bases.len(),
        total.e2fsck_flagged,
        total.both,
        total.misses,
        total.false_alarms,
        total.accepted,
        total.timeouts
    );
    println!(
        "  {:<28} {:>7} {:>9} {:>9} {:>6} {:>6} {:>8}",
        "block kind", "mutants", "e2fsck", "flagged", "misses", "alarms", "accepted"
    );
    for (k, t) in &by_kind {
        println!(
            "  {:<28} {:>7} {:>9} {:>9} {:>6} {:>6} {:>8}",
            k, t.mutants, t.e2fsck_flagged, t.both, t.misses, t.false_alarms, t.accepted
        );
    }
    for (k, c, why) in ACCEPTED {
        println!("  accepted where e2fsck -fn is silent: [{k}] {c}: {why}");
    }
    for ((kind, class), (n, ex)) in &miss_classes {
        println!("  miss class [{kind}] {class} ×{n}; e.g. {ex}");
    }
    for ((kind, codes), (n, ex)) in &alarm_classes {
        println!("  false-alarm class [{kind}] {codes} ×{n}; e.g. {ex}");
    }
    for b in bases {
        if !b.ours_lines.is_empty() {
            println!("  note: base {} already has {:?}", b.name, b.ours_lines);
        }
    }
    (total, by_kind)
}

#[test]
fn damage_sample() {
    if !tools::have_e2fsprogs() {
        println!("skipped: e2fsprogs (mkfs.ext4, debugfs, dumpe2fs, e2fsck) not installed");
        return;
    }
    let (t, _) = run(DAMAGE_SAMPLE);
    assert!(t.mutants >= 2000, "only {} mutants", t.mutants);
    assert_eq!(
        t.misses, 0,
        "mutants e2fsck -fn flags that imgcheck does not"
    );
    assert_eq!(
        t.false_alarms, 0,
        "mutants imgcheck flags that e2fsck -fn calls clean"
    );
}

#[test]
#[ignore = "≥ 20,000 mutants, minutes; testdata/scripts/ext4-damage.sh"]
fn damage_full() {
    if !tools::have_e2fsprogs() {
        println!("skipped: e2fsprogs not installed");
        return;
    }
    let n = std::env::var("DAMAGE_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DAMAGE_FULL);
    let (t, _) = run(n);
    assert_eq!(
        t.misses, 0,
        "mutants e2fsck -fn flags that imgcheck does not"
    );
    assert_eq!(
        t.false_alarms, 0,
        "mutants imgcheck flags that e2fsck -fn calls clean"
    );
}

/// `DAMAGE_LAYOUT=image cargo test --test damage layout_of -- --ignored --nocapture`:
/// what the enumeration finds in one image (for looking into a base).
#[test]
#[ignore = "a debugging aid"]
fn layout_of() {
    let Some(p) = std::env::var_os("DAMAGE_LAYOUT") else {
        return;
    };
    let l = layout::enumerate(std::path::Path::new(&p));
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &l.regions {
        *counts.entry(r.kind).or_default() += 1;
    }
    println!("{counts:#?}");
}

/// `DAMAGE_KEEP=d905 cargo test --test damage keep_base -- --ignored
/// --nocapture`: builds one base into `$IMGCHECK_SCRATCH` (or /dev/shm)
/// and leaves it there, for looking into a mutant by hand.
#[test]
#[ignore = "a debugging aid"]
fn keep_base() {
    let Ok(name) = std::env::var("DAMAGE_KEEP") else {
        return;
    };
    let spec = matrix::damage_bases()
        .into_iter()
        .find(|s| s.name == name)
        .expect("a base of that name");
    let dir = std::env::var("IMGCHECK_SCRATCH").unwrap_or_else(|_| "/dev/shm".into());
    let dir = std::path::Path::new(&dir).join(format!("keep-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let b = matrix::build(&spec, &dir).unwrap();
    println!("{}", b.path.display());
}

//! An option-matrix attack on the table layers: disks partitioned by
//! sfdisk, sgdisk, fdisk and parted over the options that change what
//! lands on disk (alignment, 512/4096-byte sectors, one to forty
//! partitions, logical partitions in an EBR chain, hybrid MBRs,
//! protective-MBR variants, GPT entry counts), each judged in the test by
//! the peers (sgdisk -v, sfdisk --verify, blkid -p) and by imgcheck.
//!
//! A **false alarm**: every peer that judged the disk calls it clean and
//! imgcheck says warning or damaged. **Mislabelled**: imgcheck names a
//! table blkid does not (dos is imgcheck's mbr). The suite runs a small
//! sample drawn with a fixed seed; `IMGCHECK_MATRIX=full` (what
//! testdata/scripts/table-matrix.sh sets) runs every combination and
//! prints the counts. A missing tool is a visible skip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

use imgcheck::options::Options;
use imgcheck::report::ImageReport;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

/// Suite sample size.
const SAMPLE: usize = 5;
/// Fixed seed of the sample.
const SEED: u64 = 0x5a5a_0013;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    Gpt,
    Dos,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    /// sfdisk's default: 1 MiB.
    MiB,
    /// DOS-era cylinders: first partition at LBA 63.
    Cyl,
    /// No gaps at all: partitions back to back from the first usable LBA.
    Tight,
}

#[derive(Debug, Clone, Copy)]
struct Cfg {
    label: Label,
    sector: u64,
    align: Align,
    parts: usize,
    /// dos: partitions past the third go into an extended partition's EBR chain.
    logical: bool,
    /// gpt: entries in the array (sfdisk table-length).
    entries: u32,
    /// gpt: sgdisk -h 1:2 after partitioning.
    hybrid: bool,
    /// gpt: the PMBR's 0xEE entry flagged bootable (parted pmbr_boot).
    pmbr_boot: bool,
    /// partitions formatted (mkfs.ext4 / mkfs.vfat) rather than empty.
    formatted: bool,
}

fn all() -> Vec<Cfg> {
    let mut v = Vec::new();
    for label in [Label::Gpt, Label::Dos] {
        for sector in [512u64, 4096] {
            for align in [Align::MiB, Align::Cyl, Align::Tight] {
                for parts in [1usize, 4, 9, 40] {
                    for formatted in [false, true] {
                        let base = Cfg {
                            label,
                            sector,
                            align,
                            parts,
                            logical: false,
                            entries: 128,
                            hybrid: false,
                            pmbr_boot: false,
                            formatted,
                        };
                        match label {
                            Label::Dos => {
                                if parts > 4 {
                                    // Past four, only an EBR chain holds them.
                                    v.push(Cfg {
                                        logical: true,
                                        ..base
                                    });
                                } else {
                                    v.push(base);
                                    if parts == 4 {
                                        v.push(Cfg {
                                            logical: true,
                                            ..base
                                        });
                                    }
                                }
                            }
                            Label::Gpt => {
                                if parts > 128 {
                                    continue;
                                }
                                v.push(base);
                                if sector == 512 {
                                    for entries in [4u32, 56, 256] {
                                        if (parts as u32) <= entries {
                                            v.push(Cfg { entries, ..base });
                                        }
                                    }
                                    if parts >= 2 && align != Align::Tight {
                                        v.push(Cfg {
                                            hybrid: true,
                                            ..base
                                        });
                                    }
                                    v.push(Cfg {
                                        pmbr_boot: true,
                                        ..base
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    // 4096-byte sectors: fdisk -b (no sfdisk option on a file), which
    // takes defaults only; dos 4k keeps to primaries.
    v.retain(|c| {
        c.sector == 512
            || (c.align == Align::MiB && !c.logical && (c.label == Label::Gpt || c.parts <= 4))
    });
    v
}

/// The sample: SAMPLE configurations by a fixed-seed LCG.
fn sample() -> Vec<Cfg> {
    // Forty partitions take forty mkfs runs: the full run has them.
    let all: Vec<Cfg> = all().into_iter().filter(|c| c.parts <= 9).collect();
    let mut x = SEED;
    // What the full run once found, always in the sample: logical
    // partitions formatted at 1 MiB alignment (a logical's filesystem at
    // LBA 2048 × 4096 made the sector size "ambiguous"), and a formatted
    // 4K GPT.
    let mut out: Vec<Cfg> = all
        .iter()
        .copied()
        .filter(|c| {
            c.formatted
                && c.align == Align::MiB
                && ((c.label == Label::Dos && c.logical && c.parts == 4)
                    || (c.label == Label::Gpt && c.sector == 4096 && c.parts == 4))
        })
        .collect();
    let want = (out.len() + SAMPLE).min(all.len());
    while out.len() < want {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let c = all[(x >> 33) as usize % all.len()];
        if !out
            .iter()
            .any(|o: &Cfg| format!("{o:?}") == format!("{c:?}"))
        {
            out.push(c);
        }
    }
    out
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run(cmd: &mut Command, input: Option<&str>) -> (bool, String) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(i) = input {
        child.stdin.take().unwrap().write_all(i.as_bytes()).unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Partition size in sectors for `c`: each 2 MiB.
fn part_sectors(c: &Cfg) -> u64 {
    (2 << 20) / c.sector
}

/// Makes the disk of `c` at `path` with the real tools; false when a tool
/// refused (the combination is skipped, visibly).
fn make(c: &Cfg, path: &Path) -> Result<(), String> {
    let size = (c.parts as u64 + 4) * (2 << 20);
    std::fs::File::create(path).unwrap().set_len(size).unwrap();
    let p = path.to_str().unwrap();
    let n = part_sectors(c);
    if c.sector == 4096 {
        let mut script = String::from(if c.label == Label::Gpt { "g\n" } else { "o\n" });
        for i in 0..c.parts {
            if c.label == Label::Gpt {
                script.push_str(&format!("n\n{}\n\n+{}\n", i + 1, n - 1));
            } else {
                script.push_str(&format!("n\np\n{}\n\n+{}\n", i + 1, n - 1));
            }
        }
        script.push_str("w\n");
        let (_, out) = run(Command::new("fdisk").args(["-b", "4096", p]), Some(&script));
        let (ok, list) = run(Command::new("fdisk").args(["-b", "4096", "-l", p]), None);
        let want = format!("{p}{}", c.parts);
        if !ok || !list.contains(&want) {
            return Err(format!("fdisk -b 4096: {out}"));
        }
    } else {
        let mut script = String::new();
        match c.label {
            Label::Gpt => {
                script.push_str("label: gpt\n");
                script.push_str(&format!("table-length: {}\n", c.entries));
                if c.align != Align::MiB {
                    // sfdisk's default first usable LBA is 2048.
                    let first = 2 + (u64::from(c.entries) * 128).div_ceil(512);
                    script.push_str(&format!("first-lba: {first}\n"));
                }
            }
            Label::Dos => script.push_str("label: dos\n"),
        }
        // The entry array ends at LBA 2 + its sectors: "tight" starts there.
        let array_end = 2 + (u64::from(c.entries) * 128).div_ceil(512);
        let mut at = match (c.align, c.label) {
            (Align::MiB, _) => 2048,
            (Align::Cyl, _) => 63,
            (Align::Tight, Label::Gpt) => array_end,
            (Align::Tight, Label::Dos) => 1,
        };
        let primaries = if c.logical { 3 } else { c.parts };
        for _ in 0..primaries.min(c.parts) {
            script.push_str(&format!("start={at}, size={n}, type=L\n"));
            at += n;
        }
        if c.logical {
            let logicals = c.parts - 3;
            script.push_str(&format!("start={at}, type=5\n"));
            // Each logical needs its EBR sector in front.
            let step = if c.align == Align::MiB { 2048 } else { 63 };
            for _ in 0..logicals {
                at += step;
                script.push_str(&format!("start={at}, size={n}, type=L\n"));
                at += n;
            }
        }
        let (ok, out) = run(
            Command::new("sfdisk").args(["-q", "--no-reread", "--no-tell-kernel", p]),
            Some(&script),
        );
        if !ok {
            return Err(format!("sfdisk: {out}\n{script}"));
        }
        if c.hybrid {
            let (ok, out) = run(Command::new("sgdisk").args(["-h", "1:2", p]), None);
            if !ok {
                return Err(format!("sgdisk -h: {out}"));
            }
        }
        if c.pmbr_boot {
            let (ok, out) = run(
                Command::new("parted").args(["-s", p, "disk_set", "pmbr_boot", "on"]),
                None,
            );
            if !ok && !out.contains("udev") {
                return Err(format!("parted pmbr_boot: {out}"));
            }
        }
    }
    if c.formatted {
        format(c, path)?;
    }
    Ok(())
}

/// Each partition formatted in a file of its own (mkfs.ext4, and
/// mkfs.vfat for every third) and copied in where sfdisk -d puts it.
fn format(c: &Cfg, path: &Path) -> Result<(), String> {
    let p = path.to_str().unwrap();
    // sfdisk reads a file in 512-byte sectors: a 4K disk's partitions are
    // where fdisk -b 4096 put them (defaults: from 1 MiB, back to back).
    if c.sector == 4096 {
        let n = part_sectors(c);
        let parts: Vec<(u64, u64)> = (0..c.parts as u64)
            .map(|i| ((256 + i * n) * 4096, n * 4096))
            .collect();
        return write_filesystems(path, &parts);
    }
    let (_, dump) = run(Command::new("sfdisk").args(["-d", p]), None);
    let mut parts = Vec::new();
    for line in dump.lines().filter(|l| l.contains("start=")) {
        let field = |k: &str| -> u64 {
            let i = line.find(k).unwrap() + k.len();
            line[i..]
                .trim_start()
                .split(|ch: char| !ch.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        let (start, size) = (field("start="), field("size="));
        if size < 256 || line.contains("type=5") || line.contains("type=f") {
            continue;
        }
        parts.push((start * 512, size * 512));
    }
    write_filesystems(path, &parts)
}

/// Each `(start, size)` in bytes formatted in a file of its own
/// (mkfs.ext4, mkfs.vfat for every third) and copied in.
fn write_filesystems(path: &Path, parts: &[(u64, u64)]) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let fs = dir.path().join("fs");
    let mut img = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    for (i, &(start, bytes)) in parts.iter().enumerate() {
        std::fs::File::create(&fs).unwrap().set_len(bytes).unwrap();
        let f = fs.to_str().unwrap();
        let (ok, out) = if i % 3 == 2 {
            run(Command::new("mkfs.vfat").args(["-i", "5a5a0013", f]), None)
        } else {
            run(
                Command::new("mkfs.ext4").args(["-q", "-F", "-b", "1024", f]),
                None,
            )
        };
        if !ok {
            return Err(format!("mkfs: {out}"));
        }
        use std::io::{Seek, SeekFrom};
        img.seek(SeekFrom::Start(start)).unwrap();
        img.write_all(&std::fs::read(&fs).unwrap()).unwrap();
    }
    Ok(())
}

/// What the peers say: `(any peer judged it, every judging peer calls it
/// clean, blkid's PTTYPE, the words)`.
fn peers(c: &Cfg, path: &Path) -> (bool, bool, String, String) {
    let p = path.to_str().unwrap();
    let mut clean = true;
    let mut says = String::new();
    // The peers read a file with 512-byte sectors: a 4K disk is judged by
    // fdisk -b 4096 alone.
    if c.sector == 4096 {
        let (ok, out) = run(Command::new("fdisk").args(["-b", "4096", "-l", p]), None);
        clean &= ok
            && !out.contains("mismatch")
            && !out.contains("corrupt")
            && !out.contains("not on the end");
        says.push_str(&format!(
            "fdisk -b 4096: {}\n",
            out.lines().next().unwrap_or("")
        ));
    } else {
        if c.label == Label::Gpt {
            let (_, out) = run(Command::new("sgdisk").args(["-v", p]), None);
            let ok = out.contains("No problems found");
            clean &= ok;
            says.push_str(&format!("sgdisk -v: {}\n", out.trim()));
        }
        let (ok, out) = run(Command::new("sfdisk").args(["--verify", p]), None);
        // sfdisk warns about DOS-era alignment; its verdict is the count
        // of errors it states ("No errors detected", "N errors detected").
        let bad = !ok || !out.contains("No errors detected");
        clean &= !bad;
        says.push_str(&format!("sfdisk --verify: {}\n", out.trim()));
    }
    let (_, pt) = run(
        Command::new("blkid").args(["-p", "-o", "value", "-s", "PTTYPE", p]),
        None,
    );
    // Every disk is judged: fdisk -b 4096 or sgdisk/sfdisk.
    (true, clean, pt.trim().to_string(), says)
}

/// imgcheck warnings and the words sgdisk -v warns with about the same
/// thing (while it still says "No problems found").
const SHARED_WARNINGS: &[(&str, &str)] = &[
    (
        "gpt.pmbr.ee_active",
        "protective partition in the MBR is marked as active",
    ),
    ("gpt.entries.table_too_small", "is less than the minimum"),
];

fn inspect(path: &Path) -> ImageReport {
    let opts = Options {
        image_path: path.to_path_buf(),
        ..Default::default()
    };
    imgcheck::inspect_image(path, None, &opts).unwrap()
}

#[test]
fn table_option_matrix_gives_no_false_alarms() {
    let tools = [
        "sfdisk",
        "sgdisk",
        "fdisk",
        "blkid",
        "parted",
        "mkfs.ext4",
        "mkfs.vfat",
    ];
    if let Some(t) = tools.iter().find(|t| !have(t)) {
        println!("SKIPPED: {t} not installed");
        eprintln!("SKIPPED: {t} not installed");
        return;
    }
    let full = std::env::var("IMGCHECK_MATRIX").is_ok_and(|v| v == "full");
    let cfgs = if full { all() } else { sample() };
    let dir = tempfile::tempdir().unwrap();
    let (mut run_n, mut skipped, mut unjudged, mut flagged) = (0, 0, 0, 0);
    let mut false_alarms = Vec::new();
    let mut mislabelled = Vec::new();
    for (i, c) in cfgs.iter().enumerate() {
        let path = dir.path().join(format!("m{i}.img"));
        if let Err(e) = make(c, &path) {
            skipped += 1;
            eprintln!("skipped {c:?}: {}", e.lines().next().unwrap_or(""));
            continue;
        }
        run_n += 1;
        let (judged, clean, pt, says) = peers(c, &path);
        let t = std::time::Instant::now();
        let r = inspect(&path);
        if t.elapsed().as_secs_f64() > 0.5 {
            eprintln!("slow imgcheck {:.1}s: {c:?}", t.elapsed().as_secs_f64());
        }
        let table = r.table().map(|t| t.kind.clone()).unwrap_or_default();
        let want = match pt.as_str() {
            "dos" => "mbr",
            "" => "none",
            x => x,
        };
        if c.sector == 512 && table != want {
            mislabelled.push(format!("{c:?}: imgcheck {table}, blkid {pt:?}"));
        }
        if !judged {
            unjudged += 1;
            continue;
        }
        if !clean {
            flagged += 1;
            eprintln!("flagged by a peer {c:?}: {}", says.replace('\n', " | "));
            continue;
        }
        // A warning a peer states too (sgdisk's "Warning: …" beside "No
        // problems found") is agreement, not an alarm; damage never is.
        let unshared: Vec<String> = r
            .findings()
            .iter()
            .filter(|f| f.severity >= imgcheck_core::Severity::Warning)
            .filter(|f| {
                f.severity == imgcheck_core::Severity::Error
                    || !SHARED_WARNINGS
                        .iter()
                        .any(|(code, words)| f.code == *code && says.contains(words))
            })
            .map(|f| format!("{} {}", f.code, f.message))
            .collect();
        if !unshared.is_empty() {
            false_alarms.push(format!("{c:?}\n  peers: {says}\n  imgcheck: {unshared:#?}"));
        }
        let _ = std::fs::remove_file(&path);
    }
    let line = format!(
        "table matrix ({}): {} configurations, {run_n} made, {skipped} refused by the tools, {unjudged} unjudged, {flagged} flagged by a peer, {} false alarms, {} mislabelled",
        if full { "full" } else { "sample" },
        cfgs.len(),
        false_alarms.len(),
        mislabelled.len()
    );
    println!("{line}");
    eprintln!("{line}");
    assert!(
        false_alarms.is_empty() && mislabelled.is_empty(),
        "false alarms: {false_alarms:#?}\nmislabelled: {mislabelled:#?}"
    );
    assert!(run_n > 0, "no configuration was made");
}

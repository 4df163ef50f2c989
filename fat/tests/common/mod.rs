//! Shared by the FAT integration tests: fsck.fat run read-only and its
//! output sorted into problem classes, the same classes for this crate's
//! finding codes, and a seeded random source.
#![allow(dead_code)]

pub mod img;

use imgcheck_core::{Finding, Severity};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// fsck.fat's verdict on one image.
#[derive(Debug, Clone)]
pub struct Fsck {
    /// Exit code (None: killed by the timeout).
    pub rc: Option<i32>,
    /// Problem classes found in its output.
    pub classes: BTreeSet<&'static str>,
    /// Output lines no class recognised (to review).
    pub unknown: Vec<String>,
    /// All output.
    pub text: String,
}

impl Fsck {
    /// fsck.fat -n would change something (or gave up).
    pub fn flagged(&self) -> bool {
        self.rc != Some(0)
    }
    /// Clean: exit 0 and no problem printed.
    pub fn clean(&self) -> bool {
        self.rc == Some(0) && self.classes.is_empty()
    }
}

/// Whether `fsck.fat` can be run here.
pub fn fsck_available() -> bool {
    Command::new("fsck.fat")
        .arg("--help")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stderr).contains("Usage"))
}

/// Runs `fsck.fat -n` on `img` (read-only), with a timeout.
pub fn fsck(img: &Path) -> Fsck {
    let out = Command::new("timeout")
        .arg("20")
        .arg("fsck.fat")
        .arg("-n")
        .arg(img)
        .env("LC_ALL", "C")
        .output()
        .expect("run fsck.fat");
    let rc = out.status.code().filter(|&c| c != 124);
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    let (classes, unknown) = classify(&text);
    Fsck {
        rc,
        classes,
        unknown,
        text,
    }
}

/// fsck.fat's messages (4.2 and upstream) and the class each reports.
const MESSAGES: &[(&str, &str)] = &[
    ("Logical sector size is zero", "boot"),
    ("is not a multiple of the physical", "boot"),
    ("Cluster size is zero", "boot"),
    ("FATs are supported", "boot"),
    ("FAT size is zero", "boot"),
    ("no space for any data clusters", "boot"),
    ("No root directory", "boot"),
    ("Root directory has zero size", "boot"),
    ("but only space for", "boot"),
    ("doesn't span an integral number", "boot"),
    ("Too many clusters", "boot"),
    ("FAT has space for too many entries", "boot"),
    ("Filesystem is too large", "boot"),
    ("root dir not in cluster chain", "boot"),
    ("root dir is in a cluster chain, but", "boot"),
    ("Failed to read sector", "size"),
    ("bytes at ", "size"),
    ("bytes instead of", "size"),
    ("Filesystem is FAT32 according to fat_length", "fat32_few"),
    ("There is no backup boot sector", "backup_missing"),
    (
        "differences between boot sector and its backup",
        "backup_differs",
    ),
    ("No FSINFO sector", "fsinfo_missing"),
    ("FSINFO sector has bad magic", "fsinfo_sig"),
    ("Free cluster summary", "free_count"),
    ("FATs differ", "fat_copies"),
    ("FATs appear to be corrupt", "fat_copies"),
    ("First FAT appears to be corrupt", "fat_copies"),
    ("out of range", "fat_range"),
    ("Bad FAT32 root directory", "root"),
    ("FAT32 root dir starts with a bad cluster", "root"),
    ("Bad short file name", "name_bad"),
    ("Duplicate directory entry", "name_dup"),
    ("Has a large number of bad entries", "mostly_bad"),
    ("entry in the first slot", "dot"),
    ("entry in the second slot", "dot"),
    ("entry in this slot", "dot"),
    ("Is a dot with no 8.3 name flag set", "no83"),
    ("Directory has non-zero size", "dir_size"),
    ("Start does point to", "dir_start"),
    ("Bad start cluster", "chain_start"),
    ("Start cluster beyond limit", "chain_start"),
    ("Contains a free cluster", "chain_free"),
    ("Contains a bad cluster", "chain_free"),
    ("next_cluster on bad cluster", "chain_free"),
    ("cluster chain length is >", "chain_long"),
    ("cluster chain length is", "chain_short"),
    ("share clusters", "chain_cross"),
    ("Circular cluster chain", "chain_loop"),
    ("Orphaned long file name part", "lfn"),
    ("A new long file name starts within an old one", "lfn"),
    ("Long filename fragment", "lfn"),
    ("Unexpected long filename sequence number", "lfn"),
    ("Unfinished long file name", "lfn"),
    ("Checksum in long filename part wrong", "lfn"),
    ("Wrong checksum for long file name", "lfn"),
    ("Reserved field in VFAT long filename slot", "lfn"),
    ("Start cluster field in VFAT long filename slot", "lfn"),
    ("Label in boot sector is", "label"),
    ("There is no label in boot sector", "label"),
    ("stored in boot sector and different", "label"),
    ("is not valid", "label"),
    ("contains lowercase characters", "label"),
    ("Reclaimed", "lost"),
    ("Dirty bit is set", "dirty"),
];

/// Lines that are not problems: fsck.fat's banner, choices, details.
fn benign(l: &str) -> bool {
    let t = l.trim();
    // Path names made of file data (a damaged entry pointing into a text
    // file) spill over several lines.
    t.is_empty()
        || !t.chars().any(char::is_alphabetic)
        || t.starts_with("fsck.fat ")
        || t.starts_with("Leaving filesystem unchanged")
        || t.contains(" files, ")
        || t.starts_with('/')
        || t.starts_with("Auto-")
        || t.starts_with("Not auto")
        || t.starts_with("Not dropping")
        || t.starts_with("Not automatically")
        || t.starts_with("Automatically")
        || t.starts_with("Assuming")
        || t.starts_with("Truncating")
        || t.starts_with("Moving entry")
        || t.starts_with("Creating")
        || t.starts_with("Fixing")
        || t.starts_with("Using first FAT")
        || t.starts_with("Using second FAT")
        || t.starts_with("Renamed to")
        || t.starts_with("Size ")
        || t.starts_with("First ")
        || t.starts_with("Second ")
        || t == "and"
        || t.ends_with(" and")
        || t.starts_with("This is mostly harmless")
        || t.starts_with("Offset ")
        || t.starts_with("(Maybe the start bit")
        || t.starts_with("(Start may have been")
        || t.starts_with("(Short name")
        || t.starts_with("It could be that")
        || t.starts_with("if \"")
        || t.starts_with("Deleting")
        || t.starts_with("Setting to EOF")
        || t.starts_with("but has only")
        || t.starts_with("This may lead")
        || t.starts_with("minimum of")
        || t.starts_with("And there is no space")
        || t.starts_with("area is defined")
        || t.starts_with("Compatibility mode")
        || t.starts_with("Run fsck.fat")
        || t.starts_with("No free entry found")
        || is_diff_list(t)
}

/// `45:40/00, 46:02/00`: the byte differences fsck.fat lists between the
/// boot sector and its backup.
fn is_diff_list(t: &str) -> bool {
    let t = t.trim_start_matches(',').trim();
    !t.is_empty()
        && t.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .all(|p| {
                let (n, v) = p.split_once(':').unwrap_or(("", ""));
                let (a, b) = v.split_once('/').unwrap_or(("", ""));
                n.chars().all(|c| c.is_ascii_digit()) && a.len() == 2 && b.len() == 2
            })
}

/// Sorts fsck.fat's output into classes.
pub fn classify(text: &str) -> (BTreeSet<&'static str>, Vec<String>) {
    let mut classes = BTreeSet::new();
    let mut unknown = Vec::new();
    for l in text.lines() {
        match MESSAGES.iter().find(|(m, _)| l.contains(m)) {
            Some((_, c)) => {
                classes.insert(*c);
            }
            None if benign(l) => {}
            None => unknown.push(l.to_string()),
        }
    }
    (classes, unknown)
}

/// The class of one of this crate's finding codes (None: no fsck.fat
/// counterpart).
pub fn class_of(code: &str) -> Option<&'static str> {
    Some(match code {
        "fat.boot.unusable" | "fat.boot.primary_unusable" => "boot",
        c if c.starts_with("fat.bpb.")
            && c != "fat.bpb.fat32_few_clusters"
            && c != "fat.bpb.no_extended_signature" =>
        {
            "boot"
        }
        "fat.bpb.fat32_few_clusters" => "fat32_few",
        "fat.bpb.no_extended_signature" => "label",
        "fat.size.truncated" => "size",
        "fat.backup_boot.missing" => "backup_missing",
        c if c.starts_with("fat.backup_boot.") => "backup_differs",
        "fat.fsinfo.missing" => "fsinfo_missing",
        "fat.fsinfo.free_count" => "free_count",
        "fat.fsinfo.signature" | "fat.fsinfo.outside_reserved" => "fsinfo_sig",
        "fat.fat.first_entry"
        | "fat.fat.no_valid_copy"
        | "fat.fat.copies_differ"
        | "fat.fat.media" => "fat_copies",
        "fat.fat.out_of_range" => "fat_range",
        "fat.root.bad_cluster" => "root",
        "fat.name.bad" => "name_bad",
        "fat.name.duplicate" => "name_dup",
        "fat.dir.mostly_bad" => "mostly_bad",
        "fat.dir.missing_dot" | "fat.dir.bad_dot" => "dot",
        "fat.dir.nonzero_size" => "dir_size",
        "fat.dir.bad_start" | "fat.dir.loop" => "dir_start",
        "fat.chain.bad_start" => "chain_start",
        "fat.chain.free_cluster" | "fat.chain.bad_cluster" => "chain_free",
        "fat.chain.too_long" => "chain_long",
        "fat.chain.too_short" => "chain_short",
        "fat.chain.cross_linked" => "chain_cross",
        "fat.chain.loop" => "chain_loop",
        c if c.starts_with("fat.lfn.") => "lfn",
        c if c.starts_with("fat.label.") => "label",
        "fat.chain.lost" => "lost",
        "fat.dirty" => "dirty",
        _ => return None,
    })
}

/// Classes that also satisfy an fsck.fat class: the same damage seen from
/// another side (a wrong free count is what lost chains make; a chain fsck
/// calls too short we may see cut by a free cluster first, …).
pub fn satisfied(fsck_class: &str, ours: &BTreeSet<&'static str>) -> bool {
    if ours.contains(fsck_class) {
        return true;
    }
    let alt: &[&str] = match fsck_class {
        "free_count" => &[
            "fsinfo_sig",
            "lost",
            "chain_long",
            "chain_short",
            "chain_cross",
            "chain_loop",
            "chain_free",
            "fat_range",
            "chain_start",
            "dir_start",
            "fat_copies",
        ],
        "lost" => &[
            "chain_cross",
            "chain_loop",
            "chain_long",
            "dir_start",
            "chain_start",
            "fat_copies",
            "chain_free",
            "fat_range",
            "dot",
            "lfn",
        ],
        "chain_start" => &["root"],
        // fsck.fat 4.2 truncates the first of two entries sharing a chain
        // (in memory under -n) and then finds the second's clusters free:
        // a volume label entry given a start cluster inside a file's chain
        // (matrix, FAT12 -r 16, label entry byte 26) is 'Contains a free
        // cluster' there, the cross-link here.
        "chain_free" => &["root", "chain_cross"],
        "chain_short" => &[
            "chain_free",
            "chain_cross",
            "chain_loop",
            "chain_start",
            "fat_range",
        ],
        "chain_long" => &["chain_cross", "chain_loop"],
        "size" => &["boot"],
        "boot" => &["size"],
        "root" => &["boot"],
        "mostly_bad" => &["name_bad"],
        _ => &[],
    };
    alt.iter().any(|a| ours.contains(a))
}

/// The classes of findings at or above `min`.
/// A primary boot sector this crate finds unusable (and reads through the
/// backup) also says the two differ: fsck.fat prints the differences
/// (backup_differs) next to the geometry it rejects.
pub fn our_classes(findings: &[Finding], min: Severity) -> BTreeSet<&'static str> {
    let mut out: BTreeSet<&'static str> = findings
        .iter()
        .filter(|f| f.severity >= min)
        .filter_map(|f| class_of(&f.code))
        .collect();
    if findings
        .iter()
        .any(|f| f.severity >= min && f.code == "fat.boot.primary_unusable")
    {
        out.insert("backup_differs");
    }
    out
}

/// splitmix64: a small seeded source, so the damaged copies are the same
/// on every run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

//! Finding lost partitions again: when no valid table survives, probe for
//! filesystem and volume signatures at 1 MiB boundaries (where every
//! partitioning tool of the last 15 years puts partitions) and from ext
//! backup superblocks, then propose a table that recreates them.

use crate::guid::{Guid, type_name};
use crate::header::{ENTRY_SIZE, GptEntry};
use crate::sig::{FAT32_BACKUP_SECTOR, Signature, TAIL, ext_super, fat32_backup, identify_at};
use crate::util::{human, mul, read_opt};
use imgcheck_core::ReadAt;
use imgcheck_core::bytes::bytes;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Step between probes.
pub const SCAN_STEP: u64 = 1 << 20;
/// Extra probe offsets tried besides the 1 MiB grid: LBA 63 (DOS-era
/// cylinder alignment) and 64 KiB, as TestDisk's hints do.
pub const SCAN_EXTRA_OFFSETS: [u64; 2] = [63 * 512, 128 * 512];
/// A cylinder of the geometry every BIOS translated disks to from the
/// 1990s on (255 heads of 63 sectors): DOS-era partitioners (`fdisk -c=dos
/// -u=cylinders`, Windows before Vista) start partitions on its boundaries,
/// or one track after one (the first partition, and a logical partition
/// after its EBR). None of them lies on the 1 MiB grid.
pub const DOS_CYLINDER: u64 = 255 * 63 * 512;
/// A track of that geometry: 63 sectors.
pub const DOS_TRACK: u64 = 63 * 512;

/// Bounds on a scan, so a multi-terabyte image returns in time.
#[derive(Debug, Clone, Copy)]
pub struct ScanLimits {
    /// Most probe offsets examined (84 Ki probes = the first 64 GiB: one
    /// per MiB and two per DOS cylinder).
    pub max_probes: u64,
    /// Wall-clock budget.
    pub time: Duration,
}

impl Default for ScanLimits {
    fn default() -> Self {
        ScanLimits {
            max_probes: 84 << 10,
            time: Duration::from_secs(20),
        }
    }
}

/// A signature found by the scan.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    /// Byte offset the filesystem or volume starts at.
    pub start: u64,
    /// What it is.
    pub signature: Signature,
    /// How it was found (`signature at its start`, `ext backup superblock of group 1 at byte N`).
    pub via: String,
}

/// Where a proposed partition's size comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SizeFrom {
    /// A surviving GPT entry states it.
    Entry,
    /// The filesystem (or volume) states its own size.
    Filesystem,
    /// Nothing states one: it runs to the next partition found or the
    /// disk's end, a guess.
    Gap,
}

impl SizeFrom {
    /// The name JSON gives it: `entry`, `filesystem`, `gap`.
    pub fn as_str(self) -> &'static str {
        match self {
            SizeFrom::Entry => "entry",
            SizeFrom::Filesystem => "filesystem",
            SizeFrom::Gap => "gap",
        }
    }
}

/// A partition the scan proposes to recreate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Proposed {
    /// Partition number in the proposed table.
    pub number: u32,
    /// Start in bytes.
    pub start: u64,
    /// Size in bytes (whole sectors).
    pub size: u64,
    /// First LBA.
    pub first_lba: u64,
    /// Number of sectors.
    pub sectors: u64,
    /// GPT type GUID.
    pub type_guid: String,
    /// Its name.
    pub type_name: String,
    /// MBR type byte, for a dos label.
    pub mbr_type: u8,
    /// blkid name of the contents.
    pub fs: String,
    /// `entry` when a surviving GPT entry gives it, `filesystem` when the
    /// size is the filesystem's own, `gap` when it runs to the next
    /// partition or the disk's end (the format states none).
    pub size_from: SizeFrom,
    /// Name from a surviving GPT entry.
    pub name: Option<String>,
    /// Unique GUID from a surviving GPT entry.
    pub unique_guid: Option<String>,
    /// What the scan found it by ([`Found::via`]; `a surviving GPT entry`
    /// for an entry whose partition holds no known signature): a volume
    /// known only by its backup boot sector says so.
    pub found_by: String,
}

/// The scan's result.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Recovery {
    /// Everything found, in disk order.
    pub found: Vec<Found>,
    /// The proposed partitions (found at a non-zero offset).
    pub proposed: Vec<Proposed>,
    /// An `sfdisk` script recreating them: `sfdisk IMAGE < script`.
    pub sfdisk_script: String,
    /// Number of offsets probed.
    pub probes: u64,
    /// Bytes of the disk covered by the scan.
    pub scanned_bytes: u64,
    /// Why the scan stopped before the end, if it did.
    pub stopped: Option<String>,
    /// A GPT entry array that outlived its headers (LBA, used entries).
    pub surviving_entries: Option<(u64, Vec<GptEntry>)>,
    /// Offsets whose probe failed to read (I/O error, not past the end):
    /// what starts there is unknown, and is not reported as absent.
    pub unreadable: Vec<u64>,
}

/// Most unreadable offsets the scan lists (the rest are counted in
/// `stopped`'s words by the caller reading `unreadable.len()`).
const MAX_UNREADABLE_LISTED: usize = 64;

/// Standard array: 128 entries of 128 bytes.
const STD_ARRAY_BYTES: u64 = 128 * 128;

/// Looks for a standard entry array where GPT puts one (LBA 2, and just
/// before the last LBA) whose used entries all make sense on this disk.
pub fn surviving_entries<R: ReadAt + ?Sized>(r: &R, ss: u64) -> Option<(u64, Vec<GptEntry>)> {
    let ss = ss.max(1);
    let disk = r.len().checked_div(ss).unwrap_or(0);
    let table = STD_ARRAY_BYTES.div_ceil(ss);
    let backup = disk.checked_sub(table.saturating_add(1))?;
    for lba in [2, backup] {
        let Some(raw) = read_opt(r, mul(lba, ss), STD_ARRAY_BYTES, STD_ARRAY_BYTES) else {
            continue;
        };
        let size = imgcheck_core::bytes::usize_of(u64::from(ENTRY_SIZE));
        let entries: Vec<GptEntry> = raw
            .chunks_exact(size)
            .zip(1u32..)
            .filter_map(|(e, i)| GptEntry::parse(e, i))
            .collect();
        let sane = !entries.is_empty()
            && entries.iter().all(|e| {
                e.starting_lba > 2 && e.starting_lba <= e.ending_lba && e.ending_lba < disk
            });
        if sane {
            return Some((lba, entries));
        }
    }
    None
}

/// Bytes from a probe's start that a signature (or an ext backup
/// superblock) it recognises can occupy: when they all read as zeros the
/// probe can find nothing there.
const PROBE_WINDOW: u64 = 0x11000;
/// Bytes one gallop over a known-zero range covers at most (256 probe
/// steps): the cost of a known-zero question grows with the range it asks
/// about.
const MAX_GALLOP: u64 = 256 * SCAN_STEP;

/// Scans `r` (with logical sector size `ss`) for signatures.
pub fn scan<R: ReadAt + ?Sized>(r: &R, ss: u64, limits: &ScanLimits) -> Recovery {
    scan_from(r, ss, limits, 0)
}

/// The next offset of `r` at or after `from` to probe: the 1 MiB grid and
/// the extra offsets (both counted from `r`'s start), and the DOS-era
/// cylinder starts, each cylinder's first sector and the sector one track
/// on (counted from the disk's start, `origin` being where `r` starts on
/// it).
fn next_probe(from: u64, origin: u64) -> u64 {
    let grid = from.div_ceil(SCAN_STEP).saturating_mul(SCAN_STEP);
    let extra = SCAN_EXTRA_OFFSETS.iter().copied().filter(|&x| x >= from);
    let on_disk = from.saturating_add(origin);
    let k = on_disk.checked_div(DOS_CYLINDER).unwrap_or(0);
    let cyl = [k, k.saturating_add(1)]
        .into_iter()
        .flat_map(|c| {
            let at = c.saturating_mul(DOS_CYLINDER);
            [at, at.saturating_add(DOS_TRACK)]
        })
        .filter(|&d| d >= on_disk)
        .map(|d| d.saturating_sub(origin));
    extra.chain(cyl).fold(grid, u64::min)
}

/// [`scan`] of `r`, which starts at disk byte `origin`: the cylinder
/// offsets are the disk's, wherever on it the scanned range begins.
pub fn scan_from<R: ReadAt + ?Sized>(r: &R, ss: u64, limits: &ScanLimits, origin: u64) -> Recovery {
    let started = Instant::now();
    let len = r.len();
    let mut rec = Recovery::default();
    let mut from = 0u64;
    loop {
        let off = next_probe(from, origin);
        from = off.saturating_add(1);
        if off >= len {
            rec.scanned_bytes = len;
            break;
        }
        if rec.probes >= limits.max_probes || started.elapsed() > limits.time {
            rec.scanned_bytes = off;
            rec.stopped = Some(format!(
                "stopped after {} probes in {:.1} s at byte {off} ({} of {}): bound reached",
                rec.probes,
                started.elapsed().as_secs_f64(),
                human(off),
                human(len)
            ));
            break;
        }
        rec.probes = rec.probes.saturating_add(1);
        if r.known_zero(off, PROBE_WINDOW) {
            // What ends just before a known-zero range (a volume followed by
            // free space) keeps its backup boot sector there.
            if let Some(tail_at) = off.checked_sub(TAIL)
                && !r.known_zero(tail_at, TAIL)
                && let Some(tail) = read_opt(r, tail_at, TAIL, TAIL)
            {
                backup_in_tail(r, &mut rec, off, &tail);
            }
            // Gallop over the whole range the reader knows to be zero
            // (unallocated or zero qcow2 clusters, host holes under
            // preallocated ones, holes of a sparse file): no signature can
            // start there, so the probes it would take are never spent and
            // the scan's cost follows the data present, not the disk size.
            // Each gallop covers at most MAX_GALLOP: asking whether a huge
            // range is zero walks its mapping, and a 128 PiB qcow2 whose L1
            // entries all name one L2 table made one question take a second
            // and the scan its whole 20 s bound (the hostile corpus'
            // qcow2-one-l2-for-all-2m). Bounded so, the probes bound the
            // scan's work again.
            let mut known = PROBE_WINDOW;
            loop {
                let want = known
                    .saturating_mul(2)
                    .min(len.saturating_sub(off))
                    .min(MAX_GALLOP);
                if want <= known || !r.known_zero(off, want) {
                    break;
                }
                known = want;
            }
            // The last start whose whole probe window lies in the range;
            // starts after it are probed as usual.
            let last = off.saturating_add(known.saturating_sub(PROBE_WINDOW));
            from = from.max(last.saturating_add(1));
            continue;
        }
        let (probed, window, tail) = crate::sig::probe_window_tail(r, off);
        if let Some(tail) = &tail {
            backup_in_tail(r, &mut rec, off, tail);
        }
        let probed = match probed {
            Ok(p) => p,
            Err(e) if !matches!(e.kind, imgcheck_core::ReadErrorKind::OutOfBounds { .. }) => {
                if rec.unreadable.len() < MAX_UNREADABLE_LISTED {
                    rec.unreadable.push(off);
                }
                None
            }
            Err(_) => None,
        };
        if let Some(sig) = probed {
            let end = sig
                .size
                .map_or(off.saturating_add(SCAN_STEP), |s| off.saturating_add(s));
            push_found(
                &mut rec,
                Found {
                    start: off,
                    signature: sig,
                    via: "signature at its start".into(),
                },
            );
            from = from.max(end);
            continue;
        }
        if let Some(f) = fat32_backup_at(off, window.as_deref()) {
            let end = off.saturating_add(f.signature.size.unwrap_or(SCAN_STEP));
            push_found(&mut rec, f);
            from = from.max(end);
            continue;
        }
        if let Some((start, via)) = ext_backup(r, off, window.as_deref())
            && rec
                .found
                .last()
                .is_none_or(|f| f.start.saturating_add(f.signature.size.unwrap_or(0)) <= start)
            && let Some(sb) = read_opt(r, off, 4096, 4096)
        {
            // Name and size come from the backup copy itself.
            let inner = if via.contains(&format!("byte {}", off.saturating_add(1024))) {
                bytes(&sb, 1024, 1024)
            } else {
                bytes(&sb, 0, 1024)
            };
            let mut patched = vec![0u8; 2048];
            if let Some(dst) = patched.get_mut(1024..2048) {
                dst.copy_from_slice(inner.get(..1024).unwrap_or(&[0u8; 1024]));
            }
            if let Some(gn) = patched.get_mut(1024 + 0x5A..1024 + 0x5C) {
                gn.fill(0);
            }
            if let Some(sig) = identify_at(&imgcheck_core::BytesReader::new(patched), 0) {
                let end = start.saturating_add(sig.size.unwrap_or(SCAN_STEP));
                push_found(
                    &mut rec,
                    Found {
                        start,
                        signature: sig,
                        via,
                    },
                );
                from = from.max(end);
            }
        }
    }
    // The last volume on the disk ends at its end, or (under a GPT) where
    // the backup table begins: its backup boot sector is in the last
    // sectors, which no probe's tail reaches.
    if rec.stopped.is_none() {
        let from = len.saturating_sub(END_TAIL);
        let n = len.saturating_sub(from);
        if !r.known_zero(from, n)
            && let Some(tail) = read_opt(r, from, n, END_TAIL)
        {
            backup_in_tail(r, &mut rec, len, &tail);
        }
    }
    rec.surviving_entries = surviving_entries(r, ss);
    propose(&mut rec, len, ss);
    rec
}

/// Bytes at the end of the disk searched for a last volume's backup boot
/// sector: the GPT's backup (33 sectors of 512 bytes, 5 of 4 KiB) and
/// alignment slack fit in it.
const END_TAIL: u64 = 64 << 10;

/// Adds `f` to what the scan found, in disk order, once per start. A
/// volume found through a backup lies before the probe that read the
/// backup: whatever the scan found inside it since is its contents (files
/// that start like a signature), not partitions of their own.
fn push_found(rec: &mut Recovery, f: Found) {
    if rec.found.iter().any(|g| g.start == f.start) {
        return;
    }
    let end = f.start.saturating_add(f.signature.size.unwrap_or(0));
    rec.found.retain(|g| g.start <= f.start || g.start >= end);
    let at = rec.found.partition_point(|g| g.start < f.start);
    rec.found.insert(at, f);
}

/// The NTFS backup boot sector in `tail`, the bytes that end at `end`:
/// the last sector of a volume that ends there, of 512 or 4096 bytes.
fn backup_in_tail<R: ReadAt + ?Sized>(r: &R, rec: &mut Recovery, end: u64, tail: &[u8]) {
    let n = u64::try_from(tail.len()).unwrap_or(0);
    let base = end.saturating_sub(n);
    // Last sector first: the nearest volume end.
    for k in (0..n.checked_div(512).unwrap_or(0)).rev() {
        let rel = k.saturating_mul(512);
        let pos = base.saturating_add(rel);
        let sector = bytes(tail, imgcheck_core::bytes::usize_of(rel), 512);
        if bytes(sector, 3, 8) != b"NTFS    " {
            continue;
        }
        // Read whole (a 4 KiB sector's BPB is in its first 512 bytes).
        let Some((start, sig)) = crate::sig::ntfs_backup(r, pos, sector) else {
            continue;
        };
        let primary = if identify_at(r, start).is_some_and(|s| s.kind == "ntfs") {
            "its own boot sector at the start reads too"
        } else {
            "the boot sector at its start is gone: zeroed or overwritten"
        };
        push_found(
            rec,
            Found {
                start,
                signature: sig,
                via: format!(
                    "NTFS backup boot sector at byte {pos}, the volume's last sector; {primary}"
                ),
            },
        );
    }
}

/// A FAT32 volume starting at `off` known by its backup boot sector alone
/// (sector 6 of 512 or 4096 bytes, in the probe's `window`): its first
/// sector did not identify it.
fn fat32_backup_at(off: u64, window: Option<&[u8]>) -> Option<Found> {
    let w = window?;
    [512u64, 4096].into_iter().find_map(|ss| {
        let at = ss.saturating_mul(FAT32_BACKUP_SECTOR);
        let sector = w.get(imgcheck_core::bytes::usize_of(at)..)?.get(..512)?;
        let signature = fat32_backup(sector, ss)?;
        Some(Found {
            start: off,
            signature,
            via: format!(
                "FAT32 backup boot sector at byte {} (BPB_BkBootSec {FAT32_BACKUP_SECTOR}; the boot sector at its start is gone: zeroed or overwritten)",
                off.saturating_add(at)
            ),
        })
    })
}

/// An ext backup superblock at `off` or `off + 1024` (1 KiB-block
/// filesystems keep group g's copy at block g·8192+1): the start of its
/// filesystem, computed back from the group number. `window`: the bytes
/// from `off` the probe there read, when it read them in one piece.
fn ext_backup<R: ReadAt + ?Sized>(r: &R, off: u64, window: Option<&[u8]>) -> Option<(u64, String)> {
    let b = match window.and_then(|w| w.get(..2048)) {
        Some(w) => w.to_vec(),
        None => read_opt(r, off, 2048, 2048)?,
    };
    for (at, inner) in [(off, 0usize), (off.saturating_add(1024), 1024)] {
        let Some(e) = ext_super(bytes(&b, inner, 1024)) else {
            continue;
        };
        if e.block_group_nr == 0 {
            continue;
        }
        let rel = u64::from(e.block_group_nr)
            .checked_mul(e.blocks_per_group)?
            .checked_add(e.first_data_block)?
            .checked_mul(e.block_size)?;
        let Some(start) = at.checked_sub(rel) else {
            continue;
        };
        return Some((
            start,
            format!(
                "ext backup superblock of group {} at byte {at}",
                e.block_group_nr
            ),
        ));
    }
    None
}

fn propose(rec: &mut Recovery, len: u64, ss: u64) {
    let ss = ss.max(1);
    // GPT keeps 33 sectors (512 B) or 5 (4 KiB) for its backup at the end.
    let gpt_tail = STD_ARRAY_BYTES.div_ceil(ss).saturating_add(1);
    let found: Vec<&Found> = rec
        .found
        .iter()
        .filter(|f| f.start > 0 && f.start.is_multiple_of(ss))
        .collect();
    let entries: Vec<GptEntry> = rec
        .surviving_entries
        .as_ref()
        .map(|(_, e)| e.clone())
        .unwrap_or_default();
    let mut proposed: Vec<Proposed> = Vec::new();
    for (i, f) in found.iter().enumerate() {
        let first_lba = f.start.checked_div(ss).unwrap_or(0);
        let next_start = found.get(i.saturating_add(1)).map_or(len, |n| n.start);
        let (bytes_size, size_from) = match f.signature.size {
            Some(s) => (s, SizeFrom::Filesystem),
            None => {
                let reserve = if next_start == len {
                    mul(gpt_tail, ss)
                } else {
                    0
                };
                (
                    next_start.saturating_sub(f.start).saturating_sub(reserve),
                    SizeFrom::Gap,
                )
            }
        };
        // A surviving entry at the same start knows the partition's own
        // size, type, name and GUID (a filesystem may be smaller than its
        // partition).
        let entry = entries.iter().find(|e| e.starting_lba == first_lba);
        let (sectors, size_from) = match entry {
            Some(e) => (e.sectors(), SizeFrom::Entry),
            None => (bytes_size.div_ceil(ss), size_from),
        };
        let type_guid = entry.map_or_else(
            || f.signature.gpt_type.to_string(),
            |e| e.type_guid.to_string(),
        );
        let tname = Guid::parse(&type_guid)
            .and_then(|g| type_name(&g))
            .unwrap_or("unknown")
            .to_string();
        proposed.push(Proposed {
            number: 0,
            start: f.start,
            size: mul(sectors, ss),
            first_lba,
            sectors,
            type_guid,
            type_name: tname,
            mbr_type: f.signature.mbr_type,
            fs: f.signature.kind.to_string(),
            size_from,
            name: entry.map(|e| e.name.clone()).filter(|n| !n.is_empty()),
            unique_guid: entry.map(|e| e.unique_guid.to_string()),
            found_by: f.via.clone(),
        });
    }
    // Entries whose partitions hold no known signature are still partitions.
    for e in &entries {
        if proposed.iter().any(|p| p.first_lba == e.starting_lba) {
            continue;
        }
        proposed.push(Proposed {
            number: 0,
            start: mul(e.starting_lba, ss),
            size: mul(e.sectors(), ss),
            first_lba: e.starting_lba,
            sectors: e.sectors(),
            type_guid: e.type_guid.to_string(),
            type_name: e.type_name.unwrap_or("unknown").to_string(),
            mbr_type: 0x83,
            fs: "unknown".into(),
            size_from: SizeFrom::Entry,
            name: Some(e.name.clone()).filter(|n| !n.is_empty()),
            unique_guid: Some(e.unique_guid.to_string()),
            found_by: "a surviving GPT entry".into(),
        });
    }
    proposed.sort_by_key(|p| p.first_lba);
    for (p, n) in proposed.iter_mut().zip(1u32..) {
        p.number = n;
    }
    rec.sfdisk_script = sfdisk_script(&proposed, len, ss);
    rec.proposed = proposed;
}

/// The `sfdisk` script that recreates `proposed` on a disk of `len`
/// bytes with `ss`-byte sectors: a gpt label when every partition fits
/// between a GPT's tables and none was laid out for an MBR, else dos.
/// Rendered from the typed proposal whenever it changes (a caller that
/// learns a partition's true size re-renders it), never edited as text.
pub fn sfdisk_script(proposed: &[Proposed], len: u64, ss: u64) -> String {
    let ss = ss.max(1);
    let disk_sectors = len.checked_div(ss).unwrap_or(0);
    let gpt_tail = STD_ARRAY_BYTES.div_ceil(ss).saturating_add(1);
    let gpt_first = STD_ARRAY_BYTES.div_ceil(ss).saturating_add(2);
    let fits_gpt = proposed.iter().all(|p| {
        p.first_lba >= gpt_first
            && p.first_lba.saturating_add(p.sectors) <= disk_sectors.saturating_sub(gpt_tail)
    });
    // Partitions on DOS cylinder boundaries and off the MiB grid were laid
    // out for an MBR (GPT partitioners align to 1 MiB): the table they lost
    // was a dos one, and it is proposed back as one.
    let dos_era = ss == 512
        && proposed.iter().any(|p| {
            let cyl = p.start.checked_rem(DOS_CYLINDER).unwrap_or(1);
            !p.start.is_multiple_of(SCAN_STEP) && (cyl == 0 || cyl == DOS_TRACK)
        });
    let fits_gpt = fits_gpt && !dos_era;
    let mut s = String::new();
    let _ = writeln!(s, "label: {}", if fits_gpt { "gpt" } else { "dos" });
    let _ = writeln!(s, "unit: sectors");
    let _ = writeln!(s, "sector-size: {ss}");
    let _ = writeln!(s);
    for p in proposed {
        if fits_gpt {
            let name = p
                .name
                .clone()
                .unwrap_or_else(|| p.fs.clone())
                .replace('"', "'");
            let _ = write!(
                s,
                "start={}, size={}, type={}",
                p.first_lba, p.sectors, p.type_guid
            );
            if let Some(u) = &p.unique_guid {
                let _ = write!(s, ", uuid={u}");
            }
            let _ = writeln!(s, ", name=\"{name}\"");
        } else {
            let _ = writeln!(
                s,
                "start={}, size={}, type={:x}",
                p.first_lba, p.sectors, p.mbr_type
            );
        }
    }
    s
}

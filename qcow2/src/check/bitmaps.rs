//! Persistent dirty bitmaps, judged as QEMU judges them when it opens the
//! image (`bitmap_list_load`, `check_dir_entry`, `load_bitmap`): a
//! directory or entry it rejects keeps the image from opening at all; a
//! bitmap marked in use (left so by a crash, or open now) is inconsistent,
//! and `qemu-img convert --bitmaps` and `qemu-img bitmap --merge` refuse
//! it. The directory, each bitmap's table and its data clusters are
//! referenced like any metadata (QEMU's `qcow2_check_bitmaps_refcounts`).

use super::Ctx;
use super::counts::CLASS_META;
use crate::entries::*;
use crate::limits::*;
use imgcheck_core::bytes::{be16, be32, be64, bytes, u8_at, u64_of, usize_of};
use imgcheck_core::{Finding, Hint, Layer, Severity, Space, Target};
use std::collections::HashSet;

/// Bitmap flag bit 0: in use (the bitmap's data is not to be trusted).
const BME_FLAG_IN_USE: u32 = 1;
/// Flags other than in use and auto.
const BME_RESERVED_FLAGS: u32 = 0xffff_fffc;
/// QEMU's `BME_MAX_TABLE_SIZE`.
const BME_MAX_TABLE_SIZE: u64 = 0x0800_0000;
/// QEMU's `BME_MAX_PHYS_SIZE`: bytes of bitmap data.
const BME_MAX_PHYS_SIZE: u64 = 0x2000_0000;
/// QEMU's `BME_MAX_NAME_SIZE`.
const BME_MAX_NAME_SIZE: u16 = 1023;
/// Bitmap table entry reserved bits (1..=8, 56..=63).
const BME_TABLE_RESERVED: u64 = 0xff00_0000_0000_01fe;
/// Bitmap table entry bit 0: an unallocated entry reads as all ones.
const BME_TABLE_ALL_ONES: u64 = 1;

/// One directory entry as QEMU's `bitmap_list_load` accepts it.
struct Entry {
    at: u64,
    table_offset: u64,
    table_size: u32,
    flags: u32,
    gran: u8,
    name: String,
}

/// QEMU's `check_table_entry`.
fn table_entry_ok(e: u64, cs: u64) -> bool {
    if e & BME_TABLE_RESERVED != 0 {
        return false;
    }
    let off = e & L1E_OFFSET_MASK;
    off == 0 || (e & BME_TABLE_ALL_ONES == 0 && off.is_multiple_of(cs))
}

/// Entries of the bitmap table a bitmap of granularity `gran` needs for
/// a disk of `disk` bytes (QEMU's `load_bitmap_data`: the serialized
/// bitmap in 64-bit words, in clusters).
fn table_entries_needed(disk: u64, gran: u8, cs: u64) -> u64 {
    if disk == 0 {
        return 0;
    }
    let words = (disk.saturating_sub(1) >> gran >> 6).saturating_add(1);
    words.saturating_mul(8).div_ceil(cs.max(1))
}

impl Ctx<'_> {
    /// QEMU refuses to open the image because of its bitmaps (`qemu`, its
    /// message): an error finding, and qemu-img check exits 1.
    fn bitmap_refusal(&mut self, code: &'static str, at: u64, qemu: String, msg: String) {
        self.sink.push(
            Severity::Error,
            code,
            at,
            format!("{msg}; QEMU refuses to open the image (\"{qemu}\")"),
        );
        self.r.qemu_open_failure.get_or_insert(qemu);
    }
}

/// Reads the directory as QEMU does; `None` (and the refusal) when QEMU
/// rejects it.
fn load_directory(c: &mut Ctx<'_>, dir_off: u64, dir_size: u64, nb: u32) -> Option<Vec<Entry>> {
    let cs = c.cs;
    if dir_size == 0 {
        c.bitmap_refusal(
            "qcow2.bitmaps.directory_invalid",
            dir_off,
            "Requested bitmap directory size is zero".into(),
            "the bitmap directory is 0 bytes".into(),
        );
        return None;
    }
    if !c.visit("bitmap directory", dir_off) {
        return None;
    }
    let dir = match read_zero_filled(c.file, dir_off, dir_size, MAX_BITMAP_DIRECTORY_BYTES) {
        Ok((d, _)) => d,
        Err(e) => {
            c.read_failed("bitmap directory", dir_off, &e);
            return None;
        }
    };
    let end = dir.len();
    let mut out = Vec::new();
    let mut pos = 0usize;
    let broken = |c: &mut Ctx<'_>, at: usize, why: &str| {
        c.bitmap_refusal(
            "qcow2.bitmaps.directory_truncated",
            dir_off.saturating_add(u64_of(at)),
            "Broken bitmap directory".into(),
            format!("bitmap directory entry at byte {at} of the directory {why}"),
        );
    };
    while pos < end {
        if pos.saturating_add(24) > end {
            broken(c, pos, "is cut off by the end of the directory");
            return None;
        }
        let n = out.len();
        if n >= usize_of(u64::from(nb)) {
            c.bitmap_refusal(
                "qcow2.bitmaps.directory_invalid",
                dir_off.saturating_add(u64_of(pos)),
                "More bitmaps found than specified in header extension".into(),
                format!("the bitmap directory holds more than the {nb} bitmaps the header extension counts"),
            );
            return None;
        }
        let table_offset = be64(&dir, pos);
        let table_size = be32(&dir, pos.saturating_add(8));
        let flags = be32(&dir, pos.saturating_add(12));
        let ty = u8_at(&dir, pos.saturating_add(16));
        let gran = u8_at(&dir, pos.saturating_add(17));
        let name_size = be16(&dir, pos.saturating_add(18));
        let extra = be32(&dir, pos.saturating_add(20));
        let len = 24u64
            .saturating_add(u64::from(extra))
            .saturating_add(u64::from(name_size))
            .next_multiple_of(8);
        let next = pos.saturating_add(usize_of(len));
        if next > end {
            broken(c, pos, "runs past the end of the directory");
            return None;
        }
        let at = dir_off.saturating_add(u64_of(pos));
        let raw_name = bytes(
            &dir,
            pos.saturating_add(24)
                .saturating_add(usize_of(u64::from(extra))),
            usize::from(name_size),
        );
        let kept = raw_name
            .get(..raw_name.len().min(MAX_SNAPSHOT_NAME_KEPT_BYTES))
            .unwrap_or(&[]);
        let name = crate::snapshot::shown(&String::from_utf8_lossy(kept), name_size);
        if extra != 0 {
            c.bitmap_refusal(
                "qcow2.bitmaps.entry_invalid",
                at,
                "Bitmap extra data is not supported".into(),
                format!("bitmap directory entry {n} ({name:?}) has {extra} bytes of extra data"),
            );
            return None;
        }
        // QEMU's check_dir_entry.
        let mut bad = Vec::new();
        if table_size == 0 || table_offset == 0 {
            bad.push("no bitmap table".to_string());
        }
        if !table_offset.is_multiple_of(cs) {
            bad.push(format!(
                "a bitmap table at {table_offset:#x}, not cluster aligned"
            ));
        }
        if u64::from(table_size) > BME_MAX_TABLE_SIZE {
            bad.push(format!("a table of {table_size} entries"));
        }
        if !(9..=31).contains(&gran) {
            bad.push(format!("granularity_bits {gran} (expected 9..=31)"));
        }
        if flags & BME_RESERVED_FLAGS != 0 {
            bad.push(format!("reserved flags {flags:#x}"));
        }
        if name_size > BME_MAX_NAME_SIZE {
            bad.push(format!("a name of {name_size} bytes"));
        }
        if ty != 1 {
            bad.push(format!("type {ty} (expected 1, dirty tracking)"));
        }
        let phys = u64::from(table_size).saturating_mul(cs);
        if bad.is_empty() {
            if phys > BME_MAX_PHYS_SIZE {
                bad.push(format!(
                    "{phys} bytes of bitmap data, more than {BME_MAX_PHYS_SIZE}"
                ));
            } else if c.h.size > phys.saturating_mul(8) << gran {
                bad.push(format!(
                    "a table of {table_size} clusters, too small to cover the {}-byte disk",
                    c.h.size
                ));
            }
        }
        if !bad.is_empty() {
            c.bitmap_refusal(
                "qcow2.bitmaps.entry_invalid",
                at,
                format!("Bitmap '{name}' doesn't satisfy the constraints"),
                format!(
                    "bitmap directory entry {n} ({name:?}) is invalid: {}",
                    bad.join(", ")
                ),
            );
            return None;
        }
        out.push(Entry {
            at,
            table_offset,
            table_size,
            flags,
            gran,
            name,
        });
        pos = next;
    }
    if out.len() != usize_of(u64::from(nb)) {
        c.bitmap_refusal(
            "qcow2.bitmaps.directory_invalid",
            dir_off,
            "Less bitmaps found than specified in header extension".into(),
            format!(
                "the bitmap directory holds {} bitmap{}, the header extension counts {nb}",
                out.len(),
                if out.len() == 1 { "" } else { "s" }
            ),
        );
        return None;
    }
    Some(out)
}

/// Bytes of a bitmap name kept for messages.
const MAX_SNAPSHOT_NAME_KEPT_BYTES: usize = crate::snapshot::MAX_SNAPSHOT_NAME_KEPT;

pub(super) fn check_bitmaps(c: &mut Ctx<'_>) {
    let h = c.h;
    let Some(b) = h.extensions.bitmaps else {
        return;
    };
    // Without autoclear bit 0 QEMU ignores the extension (reported when
    // the header was read): nothing is counted, so its clusters leak.
    if h.autoclear_features & crate::header::AUTOCLEAR_BITMAPS == 0 {
        return;
    }
    c.inc(
        b.bitmap_directory_offset,
        b.bitmap_directory_size,
        CLASS_META,
        "bitmap directory",
    );
    let Some(entries) = load_directory(
        c,
        b.bitmap_directory_offset,
        b.bitmap_directory_size,
        b.nb_bitmaps,
    ) else {
        return;
    };
    let mut names = HashSet::new();
    let cs = c.cs;
    for (n, e) in entries.iter().enumerate() {
        if !names.insert(e.name.clone()) {
            c.bitmap_refusal(
                "qcow2.bitmaps.entry_invalid",
                e.at,
                format!("Bitmap already exists: {}", e.name),
                format!("bitmap directory entry {n} repeats the name {:?}", e.name),
            );
        }
        let in_use = e.flags & BME_FLAG_IN_USE != 0;
        if in_use {
            c.sink.push_f(
                Finding::warning(
                    "qcow2.bitmaps.in_use",
                    Layer::QCOW2,
                    e.at,
                    Space::File,
                    format!(
                        "persistent bitmap {:?} is marked in use: the program that had the image open did not close it (a crash, or it is open now), so the bitmap is inconsistent; qemu-img convert --bitmaps and qemu-img bitmap --merge refuse it",
                        e.name
                    ),
                )
                .with_hint(
                    Hint::writes(format!("qemu-img bitmap --remove {{image}} {:?}", e.name))
                        .on(Target::Image)
                        .because("on a copy, once no VM has the image open; or shut the VM down cleanly, which clears the flag; the next incremental backup must then be a full one"),
                ),
            );
        }
        let tbytes = u64::from(e.table_size).saturating_mul(8);
        c.inc(e.table_offset, tbytes, CLASS_META, "bitmap table");
        if !c.visit("bitmap table", e.table_offset) {
            return;
        }
        let t = match read_zero_filled(c.file, e.table_offset, tbytes, MAX_BITMAP_TABLE_BYTES) {
            Ok((t, _)) => t,
            Err(err) => {
                c.read_failed("bitmap table", e.table_offset, &err);
                continue;
            }
        };
        let mut first_bad = None;
        let mut bad = 0u64;
        for (i, x) in t.chunks_exact(8).map(|x| be64(x, 0)).enumerate() {
            if !table_entry_ok(x, cs) {
                bad = bad.saturating_add(1);
                first_bad.get_or_insert((i, x));
                continue;
            }
            let off = x & L1E_OFFSET_MASK;
            if off != 0 {
                c.inc(off, cs, CLASS_META, "bitmap data cluster");
            }
        }
        if let Some((i, x)) = first_bad {
            // Counted by qemu-img check, and the bitmap cannot be loaded.
            c.r.corruptions = c.r.corruptions.saturating_add(bad);
            let at = e.table_offset.saturating_add(u64_of(i).saturating_mul(8));
            if in_use {
                c.sink.push(
                    Severity::Error,
                    "qcow2.bitmaps.table_invalid",
                    at,
                    format!("bitmap {:?}: {bad} entr{} of its table (the first, {i}, is {x:#018x}) are invalid", e.name, if bad == 1 { "y" } else { "ies" }),
                );
            } else {
                c.bitmap_refusal(
                    "qcow2.bitmaps.table_invalid",
                    at,
                    format!(
                        "Could not read bitmap_table table from image for bitmap '{}': Invalid argument",
                        e.name
                    ),
                    format!("bitmap {:?}: {bad} entr{} of its table (the first, {i}, is {x:#018x}) are invalid", e.name, if bad == 1 { "y" } else { "ies" }),
                );
            }
        } else if !in_use {
            let need = table_entries_needed(c.h.size, e.gran, cs);
            if need != u64::from(e.table_size) {
                c.bitmap_refusal(
                    "qcow2.bitmaps.table_invalid",
                    e.table_offset,
                    format!("Could not read bitmap '{}' from image: Invalid argument", e.name),
                    format!(
                        "bitmap {:?} has a table of {} entries, but a {}-byte disk at granularity 2^{} needs {need}",
                        e.name, e.table_size, c.h.size, e.gran
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_size_follows_qemu_serialization() {
        // 4 MiB at 64 KiB granularity: 64 bits, one word, one cluster.
        assert_eq!(table_entries_needed(4 << 20, 16, 65536), 1);
        // 1 TiB at 512 B: 2^31 bits = 2^28 bytes = 4096 clusters.
        assert_eq!(table_entries_needed(1 << 40, 9, 65536), 4096);
        assert_eq!(table_entries_needed(0, 16, 65536), 0);
        assert!(table_entry_ok(0, 512));
        assert!(table_entry_ok(1, 512), "all ones, unallocated");
        assert!(!table_entry_ok(0x10001, 65536), "all ones with an offset");
        assert!(!table_entry_ok(1 << 60, 512), "reserved");
    }
}

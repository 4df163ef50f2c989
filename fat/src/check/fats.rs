//! The FAT copies: their first two (reserved) entries — media byte,
//! end-of-chain mark, the clean-shutdown and I/O-error bits — which copy
//! to read as fsck.fat picks it, whether the copies agree, and entries that
//! point outside the data area.

use super::Ctx;
use crate::bpb::FatKind;
use crate::hints::{fsck_n, repair_on_copy};
use crate::table::{Entry, Fat, LoadError, MAX_FAT_BYTES, compare_copy};
use imgcheck_core::{Hint, Severity, human_size};

/// Differing entries named in a finding.
const DIFFS_NAMED: usize = 8;
/// Out-of-range entries named in a finding.
const OUT_OF_RANGE_NAMED: usize = 8;

/// FAT16's clean-shutdown bit in FAT\[1\].
const FAT16_CLEAN: u32 = 0x8000;
/// FAT16's no-I/O-error bit.
const FAT16_NO_IO_ERROR: u32 = 0x4000;
/// FAT32's clean-shutdown bit.
const FAT32_CLEAN: u32 = 0x0800_0000;
/// FAT32's no-I/O-error bit.
const FAT32_NO_IO_ERROR: u32 = 0x0400_0000;

/// The raw FAT\[0\] and FAT\[1\] of copy `k`, or `None` when unreadable.
fn head(cx: &mut Ctx<'_>, k: u32) -> Option<(u32, u32)> {
    let mut b = [0u8; 8];
    let what = format!("FAT copy {}", k.saturating_add(1));
    cx.reads.read(cx.g.fat_copy_start(k), &mut b, &what).ok()?;
    let f = Fat::from_bytes(cx.g.kind, 1, b.to_vec());
    Some((f.raw(0), f.raw(1)))
}

/// FAT\[0\] and FAT\[1\] of every copy; picks the copy fsck.fat reads
/// (the first whose FAT\[0\] has all its high bits set, else the first).
pub(super) fn heads(cx: &mut Ctx<'_>) {
    let kind = cx.g.kind;
    let extd = kind.extd();
    let copies = cx.g.num_fats.min(16);
    let mut ok = Vec::new();
    let mut fat1 = Vec::new();
    for k in 0..copies {
        let at = cx.g.fat_copy_start(k);
        let Some((r0, r1)) = head(cx, k) else {
            ok.push(false);
            fat1.push(None);
            continue;
        };
        let v0 = r0 & kind.mask();
        let good = v0 & extd == extd;
        ok.push(good);
        fat1.push(Some(r1));
        let n = k.saturating_add(1);
        if !good {
            cx.finding(
                Severity::Warning,
                "fat.fat.first_entry",
                at,
                format!(
                    "FAT copy {n} starts with {v0:#x}: the first entry must be the media byte with every higher bit set ({:#x}); the start of this copy is damaged",
                    extd | u32::from(cx.bpb.media)
                ),
                Some(fsck_n()),
            );
        } else if v0 & 0xFF != u32::from(cx.bpb.media) {
            // Info: no driver reads FAT[0] (Linux's fat_fill_super checks
            // the boot sector's media byte only, fatent never reads
            // entries 0 and 1) and fsck.fat 4.2 passes it.
            cx.finding(
                Severity::Info,
                "fat.fat.media",
                at,
                format!(
                    "FAT copy {n}'s first entry holds media byte {:#04x}, the boot sector {:#04x}: one of them was changed",
                    v0 & 0xFF,
                    cx.bpb.media
                ),
                None,
            );
        }
    }
    if !ok.is_empty() && ok.iter().all(|&g| !g) {
        cx.finding(
            Severity::Error,
            "fat.fat.no_valid_copy",
            cx.g.fat_start,
            format!(
                "no FAT copy starts with a valid first entry: fsck.fat gives up ('{}'); the chains are read from copy 1 as Linux does",
                if copies > 1 { "Both FATs appear to be corrupt" } else { "First FAT appears to be corrupt" }
            ),
            Some(Hint::advice("fsck.fat -n -F 1 {dev} (or -F 2) checks with one copy chosen; compare both before any repair")),
        );
    }
    cx.chosen = if ok.first().copied().unwrap_or(false) {
        0
    } else {
        ok.iter()
            .position(|&g| g)
            .and_then(|p| u32::try_from(p).ok())
            .unwrap_or(0)
    };
    cx.fat1 = fat1
        .get(usize::try_from(cx.chosen).unwrap_or(0))
        .copied()
        .flatten();
    let at1 =
        cx.g.fat_copy_start(cx.chosen)
            .saturating_add(crate::table::entry_byte(kind, 1));
    if let Some(r1) = cx.fat1 {
        let (flags, name) = match kind {
            FatKind::Fat12 => (0, "0xFFF"),
            FatKind::Fat16 => (FAT16_CLEAN | FAT16_NO_IO_ERROR, "0xFFFF"),
            FatKind::Fat32 => (FAT32_CLEAN | FAT32_NO_IO_ERROR, "0x0FFFFFFF"),
        };
        let v = (r1 | flags) & kind.mask();
        if v < kind.eoc_min() {
            cx.finding(
                Severity::Info,
                "fat.fat.reserved_entry",
                at1,
                format!("the second FAT entry (reserved) is {r1:#x}; formatters write an end-of-chain mark ({name})"),
                None,
            );
        }
        let (clean, noerr) = match kind {
            FatKind::Fat12 => (true, true),
            FatKind::Fat16 => (r1 & FAT16_CLEAN != 0, r1 & FAT16_NO_IO_ERROR != 0),
            FatKind::Fat32 => (r1 & FAT32_CLEAN != 0, r1 & FAT32_NO_IO_ERROR != 0),
        };
        cx.dirty.fat_clean_bit_clear = !clean;
        cx.dirty.io_error_bit_clear = !noerr;
    }
    cx.dirty.boot_flag = cx.bpb.state_flags & 1 != 0;
    if cx.g.kind == FatKind::Fat32 && cx.bpb.ext_flags & 0x80 != 0 {
        let active = u32::from(cx.bpb.ext_flags & 0x0F);
        if active >= cx.g.num_fats {
            cx.finding(
                Severity::Warning,
                "fat.fat.active_copy",
                0x28,
                format!(
                    "FAT mirroring is off and the active FAT is copy {} of {}: Windows reads a copy that does not exist",
                    active.saturating_add(1),
                    cx.g.num_fats
                ),
                None,
            );
        }
    }
}

/// Reports the unclean-shutdown markers found by [`heads`].
pub(super) fn dirty(cx: &mut Ctx<'_>) {
    let d = cx.dirty;
    let at1 =
        cx.g.fat_copy_start(cx.chosen)
            .saturating_add(crate::table::entry_byte(cx.g.kind, 1));
    if d.is_dirty() {
        let by = match (d.boot_flag, d.fat_clean_bit_clear) {
            (true, true) => {
                "the boot sector's state byte (set by Linux) and FAT[1]'s clean bit (cleared by Windows) both say so"
            }
            (true, false) => "the boot sector's state byte says so (Linux sets it while mounted)",
            _ => "FAT[1]'s clean-shutdown bit is clear (Windows clears it while mounted)",
        };
        let off = if d.boot_flag {
            cx.bpb.state_offset()
        } else {
            at1
        };
        cx.finding(
            Severity::Warning,
            "fat.dirty",
            off,
            format!("the filesystem was not cleanly unmounted: {by}; writes in flight at the time may be missing or half done"),
            Some(fsck_n()),
        );
    }
    if d.io_error_bit_clear {
        // Info: Linux neither reads nor sets the bit (its dirty state is
        // the boot sector's byte) and fsck.fat 4.2 passes it; it is what a
        // Windows driver wrote after an I/O error, a hint to check the disk.
        cx.finding(
            Severity::Info,
            "fat.fat.io_error_bit",
            at1,
            "FAT[1]'s no-I/O-error bit is clear: a Windows driver met a disk error on this volume (no driver reads the bit)".into(),
            Some(Hint::advice(
                "check the storage (SMART, dmesg) and image it with ddrescue before anything writes to it",
            )),
        );
    }
}

/// Loads the copy chains are read from and compares the others with it.
pub(super) fn load_and_compare(cx: &mut Ctx<'_>) {
    let g = cx.g.clone();
    let fat = match Fat::load(&mut cx.reads, &g, cx.chosen) {
        Ok(f) => f,
        Err(LoadError::TooLarge(n)) => {
            cx.finding(
                Severity::Warning,
                "fat.bound.fat_size",
                g.fat_copy_start(cx.chosen),
                format!(
                    "the FAT's {} are more than this check holds in memory ({}): the FAT copies, chains and directories were not checked",
                    human_size(n),
                    human_size(MAX_FAT_BYTES)
                ),
                Some(fsck_n()),
            );
            cx.stopped("the FAT is larger than the check's bound".into());
            return;
        }
    };
    for k in 0..g.num_fats.min(16) {
        if k == cx.chosen {
            continue;
        }
        let cmp = compare_copy(&mut cx.reads, &g, &fat, k, DIFFS_NAMED);
        let (first, n) = (cmp.first, cmp.entries);
        if n == 0 {
            // fsck.fat compares whole bytes: the unused half byte after a
            // FAT12's last entry counts for it too.
            if cmp.bytes_differ {
                cx.finding(
                    Severity::Warning,
                    "fat.fat.copies_differ",
                    g.fat_copy_start(k).saturating_add(g.fat_used_bytes().saturating_sub(1)),
                    format!(
                        "FAT copies {} and {} differ only in the unused bits after the last entry (fsck.fat counts that as a difference)",
                        cx.chosen.saturating_add(1),
                        k.saturating_add(1)
                    ),
                    Some(repair_on_copy("fsck.fat copies the first intact FAT over the others")),
                );
            }
            continue;
        }
        let named: Vec<String> = first
            .iter()
            .map(|&(c, v)| format!("cluster {c}: {:#x} / {v:#x}", fat.value(c)))
            .collect();
        let mirror = if g.kind == FatKind::Fat32 && cx.bpb.ext_flags & 0x80 != 0 {
            " (mirroring is off in BPB_ExtFlags, so Windows keeps only the active copy current)"
        } else {
            ""
        };
        let at = first.first().map_or(g.fat_copy_start(k), |&(c, _)| {
            g.fat_copy_start(k)
                .saturating_add(crate::table::entry_byte(g.kind, c))
        });
        cx.finding(
            Severity::Warning,
            "fat.fat.copies_differ",
            at,
            format!(
                "FAT copies {} and {} differ in {n} entries{mirror} ({}{}); the chains are read from copy {}",
                cx.chosen.saturating_add(1),
                k.saturating_add(1),
                named.join(", "),
                if u64::try_from(first.len()).unwrap_or(0) < n { ", …" } else { "" },
                cx.chosen.saturating_add(1)
            ),
            Some(repair_on_copy("fsck.fat copies the first intact FAT over the others")),
        );
    }
    cx.fat = Some(fat);
}

/// Entries that are 1 or point past the last cluster (fsck.fat: "Cluster
/// out of range … Setting to EOF").
pub(super) fn out_of_range(cx: &mut Ctx<'_>) {
    let Some(fat) = &cx.fat else { return };
    let max = cx.g.max_cluster();
    let mut named = Vec::new();
    let mut n = 0u64;
    let mut first_at = None;
    for c in 2..=max {
        if let Entry::Invalid(v) = fat.entry(c) {
            if !fat.readable(c) {
                continue;
            }
            n = n.saturating_add(1);
            if first_at.is_none() {
                first_at = Some(c);
            }
            if named.len() < OUT_OF_RANGE_NAMED {
                named.push(format!("{c} → {v:#x}"));
            }
        }
    }
    let Some(c) = first_at else { return };
    let at =
        cx.g.fat_copy_start(cx.chosen)
            .saturating_add(crate::table::entry_byte(cx.g.kind, c));
    let more = if u64::try_from(named.len()).unwrap_or(0) < n {
        ", …"
    } else {
        ""
    };
    cx.finding(
        Severity::Error,
        "fat.fat.out_of_range",
        at,
        format!(
            "{n} FAT entries point outside clusters 2–{max} ({}{more}): the chains through them end there",
            named.join(", ")
        ),
        Some(repair_on_copy("fsck.fat ends those chains")),
    );
}

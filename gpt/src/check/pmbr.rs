//! The protective MBR a GPT disk keeps at LBA 0, and a hybrid MBR's
//! entries against the GPT partitions they mirror.

use super::{Tags, found_by_search, gpt, grow_hint, mbr::mbr_overlaps};
use crate::mbr::{MbrKind, entry_offset, is_extended};
use crate::tables::Tables;
use imgcheck_core::{Finding, Hint, Severity, Target};

pub(super) fn pmbr_checks(t: &Tables, out: &mut Vec<Finding>, tags: &mut Tags) {
    let ss = t.sector.bytes;
    let disk = t.disk_sectors();
    let Some(m) = t.mbr.as_ref().filter(|m| m.signature_ok) else {
        if t.mbr.is_none() && t.unreadable_at(0, 512) {
            // LBA 0 could not be read: whether it holds a protective MBR is
            // unknown (its unreadable finding says so).
            return;
        }
        out.push(gpt(
            Severity::Warning,
            "gpt.pmbr.missing",
            510,
            "LBA 0 has no boot signature 55 AA, so there is no protective MBR: the Linux kernel ignores a GPT without one".into(),
        ).with_hint(if found_by_search(t) || t.cut_short() || t.end_not_ours() {
            grow_hint(t)
        } else {
            Hint::writes("sgdisk -e {disk}").on(Target::Disk).because("gdisk writes a fresh protective MBR on save")
        }));
        return;
    };
    let ees: Vec<_> = m.protective_entries().collect();
    if ees.is_empty() {
        let real = m.real_entries().count();
        let (sev, what) = if real > 0 {
            (
                Severity::Error,
                format!(
                    "a classic MBR with {real} partitions instead of a protective MBR: tools disagree on which table is real (gdisk refuses it, the kernel uses the MBR)"
                ),
            )
        } else {
            (
                Severity::Warning,
                "the MBR has no 0xEE protective entry: the Linux kernel ignores a GPT without one"
                    .to_string(),
            )
        };
        out.push(gpt(sev, "gpt.pmbr.missing", entry_offset(1), what));
    }
    if ees.len() > 1 {
        // #26
        out.push(gpt(
            Severity::Warning,
            "gpt.pmbr.multiple_ee",
            entry_offset(ees.get(1).map_or(2, |e| e.slot)),
            format!(
                "the protective MBR has {} 0xEE entries, expected one",
                ees.len()
            ),
        ));
    }
    let expected = disk.saturating_sub(1).min(u64::from(u32::MAX));
    for e in &ees {
        let at = entry_offset(e.slot);
        if e.starting_lba != 1 {
            out.push(gpt(
                Severity::Warning,
                "gpt.pmbr.ee_not_at_lba1",
                at.saturating_add(8),
                format!(
                    "the 0xEE entry {} starts at LBA {}, expected 1",
                    e.slot, e.starting_lba
                ),
            ));
        }
        if e.status & 0x80 != 0 {
            // #27 (gdisk tests the 0x80 bit: 0xFF counts as active too)
            out.push(gpt(
                Severity::Warning,
                "gpt.pmbr.ee_active",
                at,
                format!(
                    "the 0xEE entry {} is marked active (0x80); the GPT specification requires 0",
                    e.slot
                ),
            ));
        }
        if m.kind == MbrKind::Protective
            && e.size_in_lba != u32::MAX
            && u64::from(e.size_in_lba) != expected
        {
            // libfdisk "GPT PMBR size mismatch (X != Y)".
            out.push(gpt(
                Severity::Warning,
                "gpt.pmbr.size_mismatch",
                at.saturating_add(12),
                format!(
                    "the protective MBR's 0xEE entry covers {} sectors, but the disk has {} after LBA 0 ({} != {expected})",
                    e.size_in_lba, expected, e.size_in_lba
                ),
            ).with_hint(grow_hint(t)));
        }
    }
    for e in &m.entries {
        let at = entry_offset(e.slot);
        if e.status != 0 && e.status != 0x80 {
            // mbrman's InvalidBootFlag; gdisk reads the 0x80 bit only.
            out.push(gpt(
                Severity::Warning,
                "gpt.pmbr.bad_status",
                at,
                format!(
                    "MBR entry {} has boot indicator 0x{:02X}; only 0x00 and 0x80 are defined",
                    e.slot, e.status
                ),
            ));
        }
        let stray = !e.is_used() && (e.os_type != 0 || e.size_in_lba != 0 || e.starting_lba != 0);
        if stray {
            // gdisk counts such a half-empty slot: a type with no size is a
            // hybrid entry matching no GPT partition (#25), a size with no
            // type overlaps the 0xEE entry (#26).
            out.push(gpt(
                Severity::Warning,
                "gpt.pmbr.stray_entry",
                at,
                format!(
                    "MBR entry {} is neither empty nor a partition (type 0x{:02X}, start LBA {}, {} sectors) in a GPT disk's MBR: a half-written or damaged slot that gdisk reports and other tools ignore",
                    e.slot, e.os_type, e.starting_lba, e.size_in_lba
                ),
            ).with_hint(if t.cut_short() { super::headers::cut_short_hint() } else { Hint::writes("gdisk {disk}").on(Target::Disk).because("the recovery menu writes a fresh protective MBR (n)") }));
        }
    }
    for e in m.entries.iter().filter(|e| e.is_used()) {
        if e.last_lba() >= disk {
            // #29
            out.push(gpt(
                Severity::Warning,
                "gpt.pmbr.too_big",
                entry_offset(e.slot).saturating_add(12),
                format!(
                    "MBR entry {} (type 0x{:02X}) ends at LBA {}, beyond the disk's {disk} sectors",
                    e.slot,
                    e.os_type,
                    e.last_lba()
                ),
            ).with_hint(if t.cut_short() { super::headers::cut_short_hint() } else { Hint::writes("gdisk {disk}").on(Target::Disk).because("create a fresh protective or hybrid MBR: recovery menu n or h") }));
        }
    }
    if m.kind == MbrKind::Hybrid {
        let parts = t.partitions();
        for e in m.real_entries() {
            if is_extended(e.os_type) {
                continue;
            }
            let start = u64::from(e.starting_lba);
            if !parts
                .iter()
                .any(|p| p.first_lba == start && p.last_lba == e.last_lba())
            {
                // #25
                out.push(gpt(
                    Severity::Warning,
                    "gpt.hybrid.mismatch",
                    entry_offset(e.slot),
                    format!(
                        "hybrid MBR entry {} (type 0x{:02X}, LBA {}..={}) has no GPT partition with the same range",
                        e.slot,
                        e.os_type,
                        start,
                        e.last_lba()
                    ),
                ));
            }
        }
        if !m.logicals.is_empty() {
            out.push(gpt(
                Severity::Warning,
                "gpt.hybrid.logicals",
                entry_offset(1),
                format!("the hybrid MBR has {} logical partitions: an extremely dangerous configuration", m.logicals.len()),
            ));
        }
    }
    mbr_overlaps(t, m, out, tags);
    let _ = ss;
}

//! Persistent dirty bitmaps: the directory, each bitmap's table and its
//! data clusters are referenced like any metadata, and an entry QEMU's
//! `check_dir_entry` rejects keeps the image from opening.

use super::Ctx;
use super::counts::CLASS_META;
use crate::entries::*;
use crate::limits::*;
use imgcheck_core::Severity;
use imgcheck_core::bytes::{be16, be32, be64, u8_at, u64_of, usize_of};

pub(super) fn check_bitmaps(c: &mut Ctx<'_>) {
    let h = c.h;
    let Some(b) = h.extensions.bitmaps else {
        return;
    };
    if h.autoclear_features & crate::header::AUTOCLEAR_BITMAPS == 0 || b.nb_bitmaps == 0 {
        return;
    }
    if b.bitmap_directory_size > MAX_BITMAP_DIRECTORY_BYTES || b.nb_bitmaps > MAX_BITMAPS {
        c.corruption(
            "qcow2.bitmaps.directory_too_large",
            b.bitmap_directory_offset,
            format!(
                "bitmap directory of {} bytes and {} bitmaps exceeds the bounds",
                b.bitmap_directory_size, b.nb_bitmaps
            ),
        );
        return;
    }
    c.inc(
        b.bitmap_directory_offset,
        b.bitmap_directory_size,
        CLASS_META,
        "bitmap directory",
    );
    let file = c.img.file();
    let Ok((dir, _)) = read_zero_filled(
        file.as_ref(),
        b.bitmap_directory_offset,
        b.bitmap_directory_size,
        MAX_BITMAP_DIRECTORY_BYTES,
    ) else {
        c.r.check_errors = c.r.check_errors.saturating_add(1);
        return;
    };
    let mut pos = 0usize;
    for n in 0..b.nb_bitmaps {
        if pos.saturating_add(24) > dir.len() {
            c.corruption(
                "qcow2.bitmaps.directory_truncated",
                b.bitmap_directory_offset,
                format!("bitmap directory ends before entry {n} of {}", b.nb_bitmaps),
            );
            break;
        }
        let table_offset = be64(&dir, pos);
        let table_size = be32(&dir, pos.saturating_add(8));
        let name_size = be16(&dir, pos.saturating_add(18));
        let extra = be32(&dir, pos.saturating_add(20));
        let tbytes = u64::from(table_size).saturating_mul(8);
        let at = b.bitmap_directory_offset.saturating_add(u64_of(pos));
        let flags = be32(&dir, pos.saturating_add(12));
        let ty = u8_at(&dir, pos.saturating_add(16));
        let gran = u8_at(&dir, pos.saturating_add(17));
        // QEMU's check_dir_entry: an entry failing these makes the image
        // fail to open ("doesn't satisfy the constraints").
        let mut bad = Vec::new();
        if table_size == 0 || table_offset == 0 {
            bad.push("no bitmap table".to_string());
        }
        if ty != 1 {
            bad.push(format!("type {ty} (expected 1, dirty tracking)"));
        }
        if !(9..=31).contains(&gran) {
            bad.push(format!("granularity_bits {gran} (expected 9..=31)"));
        }
        if flags & !3 != 0 {
            bad.push(format!("reserved flags {flags:#x}"));
        }
        if name_size > 1023 {
            bad.push(format!("name of {name_size} bytes"));
        }
        if !bad.is_empty() {
            c.sink.push(
                Severity::Error,
                "qcow2.bitmaps.entry_invalid",
                at,
                format!("bitmap directory entry {n} is invalid: {}", bad.join(", ")),
            );
            c.r.qemu_open_failure.get_or_insert_with(|| {
                format!("bitmap directory entry {n} does not satisfy the constraints")
            });
        }
        if !table_offset.is_multiple_of(c.cs) || tbytes > MAX_BITMAP_TABLE_BYTES {
            c.r.qemu_open_failure.get_or_insert_with(|| {
                format!("bitmap directory entry {n} does not satisfy the constraints")
            });
            c.corruption("qcow2.bitmaps.table_invalid", at, format!("bitmap {n}: table at {table_offset:#x} of {table_size} entries is unaligned or too large"));
        } else {
            c.inc(table_offset, tbytes, CLASS_META, "bitmap table");
            if let Ok((t, _)) =
                read_zero_filled(file.as_ref(), table_offset, tbytes, MAX_BITMAP_TABLE_BYTES)
            {
                for e in t.chunks_exact(8).map(|x| be64(x, 0)) {
                    let off = e & L1E_OFFSET_MASK;
                    if off != 0 {
                        c.inc(off, c.cs, CLASS_META, "bitmap data cluster");
                    }
                }
            }
        }
        let len = 24u64
            .saturating_add(u64::from(extra))
            .saturating_add(u64::from(name_size))
            .next_multiple_of(8);
        pos = pos.saturating_add(usize_of(len));
    }
}

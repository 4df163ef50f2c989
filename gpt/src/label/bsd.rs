//! The BSD disklabel: magic 0x82564557 (little-endian) at byte 512 (i386,
//! amd64), 64 (alpha, vax) or 128 (sparc64), where libblkid's `bsd.c`
//! looks for it; `d_magic2` repeats it at +132, and `d_checksum` should
//! make the XOR of the label's 16-bit words through its last partition
//! zero (FreeBSD `dkcksum`). Offsets count 512-byte sectors from the start of
//! the disk.

use super::{Evidence, Label, LabelPartition};
use crate::util::{le16, le32, mul, read_opt};
use imgcheck_core::ReadAt;

const MAGIC: u32 = 0x8256_4557;
/// `BSD_MAXPARTITIONS`.
const MAX_PARTITIONS: usize = 16;
/// Where the partition array starts in the label.
const PARTITIONS: usize = 148;
/// Bytes per partition entry.
const ENTRY: usize = 16;
/// Where libblkid looks for the label.
const OFFSETS: [u64; 3] = [512, 64, 128];

fn fstype(t: u8) -> &'static str {
    match t {
        1 => "swap",
        2 => "Version 6",
        3 => "Version 7",
        4 => "System V",
        5 => "4.1BSD",
        6 => "Eighth Edition",
        7 => "4.2BSD",
        8 => "MS-DOS",
        9 => "4.4LFS",
        10 => "unknown",
        11 => "HPFS",
        12 => "ISO 9660",
        13 => "boot",
        14 => "ADOS",
        15 => "HFS",
        16 => "AdvFS",
        _ => "other",
    }
}

pub(super) fn detect<R: ReadAt + ?Sized>(r: &R) -> Option<Label> {
    OFFSETS.iter().find_map(|&off| at(r, off))
}

fn at<R: ReadAt + ?Sized>(r: &R, off: u64) -> Option<Label> {
    let l = read_opt(r, off, 404, 404)?;
    if le32(&l, 0) != MAGIC || le32(&l, 132) != MAGIC {
        return None;
    }
    let n = usize::from(le16(&l, 138));
    if n > MAX_PARTITIONS {
        return None;
    }
    let end = PARTITIONS.saturating_add(n.saturating_mul(ENTRY));
    // libblkid takes the magic alone; the checksum is told, not required
    // (parted writes labels whose checksum does not verify).
    let sum_ok = l
        .get(..end)
        .is_some_and(|b| b.chunks_exact(2).fold(0u16, |acc, w| acc ^ le16(w, 0)) == 0);
    // Offsets count from the start of the whole disk. Read from a slice
    // (the BSD partition of an MBR disk, or that slice imaged alone) they
    // are relative to slice `c`, the slice itself (libblkid subtracts the
    // parent partition's start the same way).
    let entry = |i: usize| {
        let p = PARTITIONS.saturating_add(i.saturating_mul(ENTRY));
        (
            u64::from(le32(&l, p.saturating_add(4))),
            u64::from(le32(&l, p)),
        )
    };
    let disk_sectors = r.len().checked_div(512).unwrap_or(0);
    let base = Some(entry(2))
        .filter(|&(off, size)| n > 2 && off > 0 && off.saturating_add(size) > disk_sectors)
        .map_or(0, |(off, _)| off);
    let partitions = (0..n)
        .filter_map(|i| {
            let p = PARTITIONS.saturating_add(i.saturating_mul(ENTRY));
            let size = u64::from(le32(&l, p));
            let t = l.get(p.saturating_add(12)).copied().unwrap_or(0);
            (t != 0 && size != 0).then(|| LabelPartition {
                number: u32::try_from(i).unwrap_or(0).saturating_add(1),
                start: mul(entry(i).0.saturating_sub(base), 512),
                size: mul(size, 512),
                type_name: fstype(t).to_string(),
                name: char::from(b'a'.saturating_add(u8::try_from(i).unwrap_or(0))).to_string(),
                // Slice `c` spans the whole disk (or slice) by convention.
                whole: i == 2,
            })
        })
        .collect();
    Some(Label {
        scheme: "bsd",
        name: "BSD disklabel",
        evidence: format!(
            "magic 0x82564557 at byte {off} and again at +132, and a checksum over the label that {}",
            if sum_ok {
                "verifies"
            } else {
                "does not verify"
            }
        ),
        strength: if sum_ok {
            Evidence::Checksum
        } else {
            Evidence::Magic
        },
        partitions,
        listed: true,
        notes: if base > 0 {
            vec![format!(
                "{n} partition slots; read from its slice, which starts at sector {base} of its disk"
            )]
        } else {
            vec![format!("{n} partition slots")]
        },
    })
}

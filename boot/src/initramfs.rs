//! Whether an initramfs is something Linux unpacks. The kernel reads the
//! buffer the boot loader hands it as `init/initramfs.c` does
//! (`unpack_to_rootfs`, and Documentation/driver-api/early-userspace/
//! buffer-format.rst): zero bytes are padding and skipped; a `0` on a
//! 4-byte boundary starts a cpio archive in the "newc" (`070701`) or
//! "crc" (`070702`) form, read member by member to its `TRAILER!!!`;
//! anything else must be one of the compressed formats of
//! `lib/decompress.c` (gzip, bzip2, lzma, xz, lzo, lz4, zstd), matched by
//! its first two bytes, and runs to the end of what is read here (it is
//! not decompressed). An early-microcode cpio followed by a compressed
//! archive, as dracut and initramfs-tools write it, is read that way.
//! GRUB and systemd-boot never look inside: a file that is none of these
//! loads fine and the kernel then says "Initramfs unpacking failed".

/// The bytes of a newc/crc header: the magic, then 13 fields of 8 hex
/// digits.
const HEADER: usize = 110;
/// The header's `c_filesize` and `c_namesize` fields.
const FILESIZE_AT: usize = 54;
const NAMESIZE_AT: usize = 94;
/// The name of the member that ends an archive.
const TRAILER: &[u8] = b"TRAILER!!!";
/// Compressed formats the kernel recognises, by their first two bytes
/// (`lib/decompress.c` `compressed_formats`).
const COMPRESSED: &[([u8; 2], &str)] = &[
    ([0x1f, 0x8b], "gzip"),
    ([0x1f, 0x9e], "gzip"),
    ([0x42, 0x5a], "bzip2"),
    ([0x5d, 0x00], "lzma"),
    ([0xfd, 0x37], "xz"),
    ([0x89, 0x4c], "lzo"),
    ([0x02, 0x21], "lz4"),
    ([0x28, 0xb5], "zstd"),
];
/// Archives one buffer is read through (dracut writes two or three).
const MAX_ARCHIVES: usize = 64;

/// What the buffer holds, as far as the kernel's unpacker reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It unpacks: the archives in order (`cpio`, `zstd`, …).
    Unpacks(Vec<&'static str>),
    /// Not judged: what was read ends before what it must show (a
    /// cpio member runs past the bytes read of a longer file).
    NotJudged,
    /// The kernel unpacks nothing from it, or fails: why, in words.
    Fails(String),
}

fn hex8(b: &[u8], at: usize) -> Option<usize> {
    let s = b.get(at..at.checked_add(8)?)?;
    let s = std::str::from_utf8(s).ok()?;
    usize::from_str_radix(s, 16).ok()
}

fn up4(n: usize) -> Option<usize> {
    n.checked_add(3).map(|x| x & !3)
}

/// Judges the first bytes `head` of a file of `size` bytes.
pub fn judge(head: &[u8], size: Option<u64>) -> Verdict {
    let whole = size.is_some_and(|s| u64::try_from(head.len()).is_ok_and(|h| h >= s));
    let mut at = 0usize;
    let mut found: Vec<&'static str> = Vec::new();
    while at < head.len() {
        let Some(&b) = head.get(at) else { break };
        if b == 0 {
            at = at.saturating_add(1);
            continue;
        }
        if found.len() >= MAX_ARCHIVES {
            return Verdict::NotJudged;
        }
        if b == b'0' && at.is_multiple_of(4) {
            match cpio_end(head, at) {
                Cpio::End(next) => {
                    found.push("cpio");
                    at = next;
                    continue;
                }
                Cpio::Short => {
                    if whole {
                        // The kernel unpacks what it has and goes on:
                        // a cut archive is not judged a failure.
                        found.push("cpio");
                        return Verdict::Unpacks(found);
                    }
                    return Verdict::NotJudged;
                }
                Cpio::Bad(why) => {
                    return Verdict::Fails(format!(
                        "at byte {at} it has {why}: the kernel stops unpacking there (\"Initramfs unpacking failed\")"
                    ));
                }
            }
        }
        let two = [b, head.get(at.saturating_add(1)).copied().unwrap_or(0)];
        if let Some((_, name)) = COMPRESSED.iter().find(|(m, _)| *m == two) {
            found.push(name);
            return Verdict::Unpacks(found);
        }
        let what = if found.is_empty() {
            "it starts".to_string()
        } else {
            format!(
                "after its {} archive, at byte {at}, it goes on",
                found.join(" + ")
            )
        };
        return Verdict::Fails(format!(
            "{what} with bytes {:02x} {:02x}, which are neither a cpio archive (\"070701\", cpio -H newc) nor a compressed one (gzip, xz, zstd, lz4, bzip2, lzma, lzo): the kernel says \"Initramfs unpacking failed: invalid magic at start of compressed archive\"",
            two[0], two[1]
        ));
    }
    if !whole {
        return Verdict::NotJudged;
    }
    if found.is_empty() {
        return Verdict::Fails(
            "it is zeros throughout: the kernel skips zeros as padding and unpacks nothing".into(),
        );
    }
    Verdict::Unpacks(found)
}

enum Cpio {
    /// The archive's trailer ends before this byte.
    End(usize),
    /// A header or member runs past the bytes read.
    Short,
    /// Not a newc/crc archive.
    Bad(String),
}

/// Walks the newc/crc archive at `start` to the end of its trailer.
fn cpio_end(b: &[u8], start: usize) -> Cpio {
    let mut at = start;
    loop {
        let Some(end) = at.checked_add(HEADER) else {
            return Cpio::Short;
        };
        let Some(h) = b.get(at..end) else {
            return Cpio::Short;
        };
        let magic = h.get(..6).unwrap_or_default();
        if magic == b"070707" {
            return Cpio::Bad(
                "an old-format (odc) cpio header \"070707\", not newc (the kernel: \"incorrect cpio method used: use -H newc option\")".into(),
            );
        }
        if magic != b"070701" && magic != b"070702" {
            return Cpio::Bad(format!(
                "no cpio magic (\"{}\", not \"070701\" or \"070702\")",
                String::from_utf8_lossy(magic).escape_debug()
            ));
        }
        let (Some(file), Some(name)) = (hex8(h, FILESIZE_AT), hex8(h, NAMESIZE_AT)) else {
            return Cpio::Bad("a cpio header whose sizes are not hexadecimal".into());
        };
        let Some(name_end) = end.checked_add(name) else {
            return Cpio::Short;
        };
        let Some(n) = b.get(end..name_end) else {
            return Cpio::Short;
        };
        let is_trailer = n.strip_suffix(&[0]).unwrap_or(n) == TRAILER;
        // Name and data are each padded to 4 bytes from the archive's
        // own alignment (the buffer's, as `this_header & 3` counts it).
        let data = up4(name_end);
        let next = data.and_then(|d| d.checked_add(file)).and_then(up4);
        let Some(next) = next else {
            return Cpio::Short;
        };
        if is_trailer {
            return Cpio::End(next.min(b.len()));
        }
        if next > b.len() {
            return Cpio::Short;
        }
        at = next;
    }
}

#[cfg(test)]
#[allow(clippy::as_conversions, clippy::arithmetic_side_effects)]
mod tests {
    use super::{Verdict, judge};

    fn member(name: &str, data: &[u8]) -> Vec<u8> {
        let mut v = format!(
            "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            1,
            0o100644,
            0,
            0,
            1,
            0,
            data.len(),
            0,
            0,
            0,
            0,
            name.len() + 1,
            0
        )
        .into_bytes();
        v.extend_from_slice(name.as_bytes());
        v.push(0);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v.extend_from_slice(data);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    #[test]
    fn early_cpio_then_zstd_unpacks_and_junk_after_it_fails() {
        let mut b = member("kernel/x86/microcode/GenuineIntel.bin", b"ucode");
        b.extend(member("TRAILER!!!", b""));
        b.extend([0u8; 512]);
        let mut good = b.clone();
        good.extend([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3]);
        let n = Some(good.len() as u64);
        assert_eq!(judge(&good, n), Verdict::Unpacks(vec!["cpio", "zstd"]));
        let mut bad = b;
        bad.extend([0xde, 0xad, 0xbe, 0xef]);
        let n = Some(bad.len() as u64);
        assert!(matches!(judge(&bad, n), Verdict::Fails(_)));
    }

    #[test]
    fn zeros_and_odc_fail_and_a_cut_head_is_not_judged() {
        assert!(matches!(judge(&[0; 64], Some(64)), Verdict::Fails(_)));
        assert_eq!(judge(&[0; 64], Some(1 << 20)), Verdict::NotJudged);
        let odc = b"070707000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";
        assert!(matches!(
            judge(odc, Some(odc.len() as u64)),
            Verdict::Fails(_)
        ));
        let m = member("init", &[7; 100]);
        assert_eq!(judge(&m[..120], Some(1 << 20)), Verdict::NotJudged);
    }
}

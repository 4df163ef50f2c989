//! What GRUB embeds in its kernel image (GRUB 2.06 `include/grub/kernel.h`,
//! `util/mkimage.c`): a module area `grub_module_info {magic "mimg",
//! offset, size}` at the kernel's end, then `{u32 type, u32 size}`
//! records (the size includes the header and the padding): ELF modules
//! (type 0), a memdisk (1), the embedded config `load.cfg` (2) and the
//! prefix (3). On i386-pc the kernel is LZMA-compressed behind
//! lzma_decompress.img; on x86_64-efi the area is the PE section `mods`,
//! uncompressed.

use imgcheck_core::bytes::{bytes, le16, le32, le64, u8_at, usize_of};
use lzma_rs::decompress::raw::{LzmaDecoder, LzmaParams, LzmaProperties};

/// `GRUB_MODULE_MAGIC`, "mimg" little-endian.
const MODULE_MAGIC: u32 = 0x676D_696D;
/// The most a compressed i386-pc kernel may decompress to: core.img is at
/// most 888 sectors (444 KiB) and LZMA rarely gains 4× on code; real ones
/// decompress to 30–500 KiB. Checked before anything is allocated.
pub const MAX_KERNEL: u32 = 4 << 20;
/// Module records walked.
const MAX_RECORDS: usize = 4096;
/// `mkimage.c compress_kernel_lzma`: lc 3, lp 0, pb 2, a 64 KiB dictionary.
const DICT: u32 = 1 << 16;
/// lzma_decompress.img's length in GRUB 2.06 (2,848 bytes); tried first,
/// then every zero byte (a range coder's stream starts with one) up to
/// [`SEARCH_END`], for other releases' decompressors.
const DECOMPRESSOR_LEN: usize = 2848;
/// Where the search for the compressed stream ends.
const SEARCH_END: usize = 0x2000;
/// Where it starts: past the header fields (boot_dev at 0x18).
const SEARCH_START: usize = 0x200;

/// What a GRUB kernel image carries besides its code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Embedded {
    /// The embedded `load.cfg` (type 2), as text.
    pub config: Option<String>,
    /// The prefix (type 3): `/boot/grub`, `(hd0,gpt2)/boot/grub`.
    pub prefix: Option<String>,
    /// Names of the embedded modules (their `.modname` sections).
    pub modules: Vec<String>,
    /// A memdisk is embedded (grub-mkstandalone: the prefix names it).
    pub memdisk: bool,
    /// ELF module records whose name could not be read: while any is,
    /// [`Self::modules`] may miss a module the image holds.
    pub unnamed: usize,
}

/// Decompresses the i386-pc kernel from core.img's listed sectors `core`
/// (lzma_decompress.img first) whose header says it decompresses to
/// `uncompressed` bytes from `compressed`, and reads its module area.
pub fn from_i386_core(core: &[u8], compressed: u32, uncompressed: u32) -> Result<Embedded, String> {
    if uncompressed > MAX_KERNEL {
        return Err(format!(
            "its header claims a kernel of {uncompressed} bytes, more than the {MAX_KERNEL} any core.img decompresses to"
        ));
    }
    let starts = std::iter::once(DECOMPRESSOR_LEN).chain(
        (SEARCH_START..SEARCH_END).filter(|&s| s != DECOMPRESSOR_LEN && u8_at(core, s) == 0),
    );
    let mut last = String::from("no LZMA stream found");
    for s in starts {
        let Some(end) = s.checked_add(usize_of(u64::from(compressed))) else {
            continue;
        };
        let Some(input) = core.get(s..end.min(core.len())) else {
            continue;
        };
        match inflate(input, uncompressed) {
            Ok(k) => match modules(&k, false) {
                Some(e) => return Ok(e),
                None => last = "the decompressed kernel has no module area".into(),
            },
            Err(e) => {
                if s == DECOMPRESSOR_LEN {
                    last = e;
                }
            }
        }
    }
    Err(last)
}

/// The module area of an x86_64-efi GRUB image (its whole file `pe`).
pub fn from_efi(pe: &[u8]) -> Option<Embedded> {
    modules(pe, true)
}

/// Raw LZMA1 into at most `want` bytes: exactly `want`, or an error.
fn inflate(input: &[u8], want: u32) -> Result<Vec<u8>, String> {
    let props = LzmaProperties {
        lc: 3,
        lp: 0,
        pb: 2,
    };
    let params = LzmaParams::new(props, DICT, Some(u64::from(want)));
    let cap = usize_of(u64::from(want));
    let mut dec = LzmaDecoder::new(params, Some(cap)).map_err(|e| e.to_string())?;
    let mut out = Bounded {
        buf: Vec::new(),
        cap,
    };
    let mut r = input;
    dec.decompress(&mut r, &mut out)
        .map_err(|e| e.to_string())?;
    if out.buf.len() != cap {
        return Err(format!(
            "it decompresses to {} of {want} bytes",
            out.buf.len()
        ));
    }
    Ok(out.buf)
}

/// A writer that refuses to grow past `cap`.
struct Bounded {
    buf: Vec<u8>,
    cap: usize,
}

impl std::io::Write for Bounded {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.buf.len().saturating_add(b.len()) > self.cap {
            return Err(std::io::Error::other("more output than the header says"));
        }
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Finds the module area in `k` and reads its records. The area's info
/// header is the `mimg` hit whose offset field is the header's own length
/// (12, or 24 in the 64-bit form) and whose size runs to a record walk
/// that ends exactly at the area's end: earlier hits are code.
fn modules(k: &[u8], wide: bool) -> Option<Embedded> {
    let magic = MODULE_MAGIC.to_le_bytes();
    let mut from = 0usize;
    while let Some(i) = k
        .get(from..)
        .and_then(|t| t.windows(4).position(|w| w == magic))
        .and_then(|p| p.checked_add(from))
    {
        from = i.saturating_add(1);
        let (hdr, size) = if wide {
            (le64(k, i.saturating_add(8)), le64(k, i.saturating_add(16)))
        } else {
            (
                u64::from(le32(k, i.saturating_add(4))),
                u64::from(le32(k, i.saturating_add(8))),
            )
        };
        let expect = if wide { 24 } else { 12 };
        if hdr != expect || size < expect {
            continue;
        }
        let Some(end) = i.checked_add(usize_of(size)) else {
            continue;
        };
        if end > k.len() {
            continue;
        }
        if let Some(e) = records(k, i.saturating_add(usize_of(expect)), end, wide) {
            return Some(e);
        }
    }
    None
}

fn records(k: &[u8], mut at: usize, end: usize, wide: bool) -> Option<Embedded> {
    let mut e = Embedded::default();
    for _ in 0..MAX_RECORDS {
        if at == end {
            return Some(e);
        }
        let kind = le32(k, at);
        let size = usize_of(u64::from(le32(k, at.saturating_add(4))));
        let next = at.checked_add(size)?;
        if size < 8 || next > end {
            return None;
        }
        let body = bytes(k, at.saturating_add(8), size.saturating_sub(8));
        let text = || {
            let t = body.split(|&b| b == 0).next().unwrap_or_default();
            String::from_utf8_lossy(t).into_owned()
        };
        match kind {
            0 => {
                if let Some(n) = elf_modname(body, wide) {
                    e.modules.push(n);
                } else {
                    e.unnamed = e.unnamed.saturating_add(1);
                }
            }
            1 => e.memdisk = true,
            2 => e.config = Some(text()),
            3 => e.prefix = Some(text()),
            _ => {}
        }
        at = next;
    }
    None
}

/// An ELF module's name: its `.modname` section (`genmod.sh`).
fn elf_modname(b: &[u8], wide: bool) -> Option<String> {
    if bytes(b, 0, 4) != b"\x7fELF" {
        return None;
    }
    let (shoff, shentsize, shnum, shstrndx) = if wide {
        (le64(b, 0x28), le16(b, 0x3A), le16(b, 0x3C), le16(b, 0x3E))
    } else {
        (
            u64::from(le32(b, 0x20)),
            le16(b, 0x2E),
            le16(b, 0x30),
            le16(b, 0x32),
        )
    };
    let sh = |i: u16| -> Option<(u32, u64, u64)> {
        let at = shoff.checked_add(u64::from(i).checked_mul(u64::from(shentsize))?)?;
        let at = usize_of(at);
        let s = bytes(b, at, usize::from(shentsize));
        if s.len() < if wide { 0x28 } else { 0x18 } {
            return None;
        }
        Some(if wide {
            (le32(s, 0), le64(s, 0x18), le64(s, 0x20))
        } else {
            (
                le32(s, 0),
                u64::from(le32(s, 0x10)),
                u64::from(le32(s, 0x14)),
            )
        })
    };
    let (_, str_off, str_len) = sh(shstrndx)?;
    let strtab = bytes(b, usize_of(str_off), usize_of(str_len));
    for i in 0..shnum.min(256) {
        let (name, off, len) = sh(i)?;
        let n = bytes(strtab, usize_of(u64::from(name)), 9);
        if n == b".modname\0" {
            let v = bytes(b, usize_of(off), usize_of(len));
            let v = v.split(|&c| c == 0).next().unwrap_or_default();
            return Some(String::from_utf8_lossy(v).into_owned());
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_oversized_header_is_refused_before_allocating() {
        let e = from_i386_core(&[0u8; 4096], 100, u32::MAX).unwrap_err();
        assert!(e.contains("more than"), "{e}");
    }

    #[test]
    fn records_are_walked_to_the_area_end() {
        let mut k = vec![0u8; 64];
        k.extend_from_slice(&MODULE_MAGIC.to_le_bytes());
        k.extend_from_slice(&12u32.to_le_bytes());
        k.extend_from_slice(&(12u32 + 8 + 12).to_le_bytes());
        k.extend_from_slice(&3u32.to_le_bytes());
        k.extend_from_slice(&20u32.to_le_bytes());
        k.extend_from_slice(b"/boot/grub\0\0");
        let e = modules(&k, false).unwrap();
        assert_eq!(e.prefix.as_deref(), Some("/boot/grub"));
        // A record that overruns the area is no area.
        let n = k.len();
        k[n - 16] = 200;
        assert!(modules(&k, false).is_none());
    }
}

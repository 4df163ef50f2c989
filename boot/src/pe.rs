//! The PE/COFF header of an EFI loader, as a firmware's image loader
//! checks it before it starts one (edk2 `BasePeCoffLib`): `MZ`, the
//! `e_lfanew` pointer at 0x3C, `PE\0\0`, the COFF machine, the optional
//! header magic and the subsystem (PE/COFF specification, UEFI §2.1.1).

use imgcheck_core::bytes::{bytes, le16, le32};
use serde::{Deserialize, Serialize};

/// IMAGE_FILE_MACHINE_AMD64.
pub const MACHINE_X64: u16 = 0x8664;
/// IMAGE_FILE_MACHINE_ARM64.
pub const MACHINE_AA64: u16 = 0xAA64;
/// IMAGE_FILE_MACHINE_I386.
pub const MACHINE_I386: u16 = 0x014C;
/// IMAGE_FILE_MACHINE_ARMTHUMB_MIXED (32-bit ARM UEFI).
pub const MACHINE_ARM: u16 = 0x01C2;
/// IMAGE_FILE_MACHINE_RISCV64.
pub const MACHINE_RISCV64: u16 = 0x5064;

/// IMAGE_SUBSYSTEM_EFI_APPLICATION.
pub const SUBSYSTEM_EFI_APPLICATION: u16 = 10;

/// A loader's header, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pe {
    /// COFF machine.
    pub machine: u16,
    /// Optional header magic (0x20B PE32+, 0x10B PE32).
    pub magic: u16,
    /// Subsystem (10 EFI application, 11 boot service driver, 12 runtime driver).
    pub subsystem: u16,
    /// Sections.
    pub sections: u16,
}

/// The machine in words.
pub fn machine_name(m: u16) -> &'static str {
    match m {
        0x8664 => "x86-64",
        0xAA64 => "arm64",
        0x014C => "i386",
        0x01C2 => "ARM",
        0x5064 => "RISC-V 64",
        _ => "an unknown machine",
    }
}

/// Parses the header at the start of `b` (a file's first bytes), or says
/// why it is not a PE image a firmware would start.
pub fn parse(b: &[u8]) -> Result<Pe, String> {
    if bytes(b, 0, 2) != b"MZ" {
        return Err(if b.is_empty() {
            "the file is empty".into()
        } else {
            format!(
                "it does not start with MZ (starts {:02x?})",
                bytes(b, 0, 4.min(b.len()))
            )
        });
    }
    let lfanew = usize::try_from(le32(b, 0x3C)).unwrap_or(usize::MAX);
    // COFF header (20 bytes) + the optional header up to Subsystem (70).
    let need = lfanew.saturating_add(24).saturating_add(70);
    if need > b.len() {
        return Err(format!(
            "e_lfanew {lfanew:#x} points past the {} bytes read of the file",
            b.len()
        ));
    }
    if bytes(b, lfanew, 4) != b"PE\0\0" {
        return Err(format!("no PE\\0\\0 signature at e_lfanew {lfanew:#x}"));
    }
    let coff = lfanew.saturating_add(4);
    let opt = lfanew.saturating_add(24);
    let pe = Pe {
        machine: le16(b, coff),
        sections: le16(b, coff.saturating_add(2)),
        magic: le16(b, opt),
        subsystem: le16(b, opt.saturating_add(68)),
    };
    if pe.magic != 0x20B && pe.magic != 0x10B {
        return Err(format!(
            "optional header magic {:#x} is neither PE32 nor PE32+",
            pe.magic
        ));
    }
    if pe.sections == 0 {
        return Err("it has no sections".into());
    }
    // A boot option or the removable-media path must be an application:
    // edk2's BmIsLoadOptionPeHeaderValid (UefiBootManagerLib) accepts
    // only EFI_IMAGE_SUBSYSTEM_EFI_APPLICATION for Boot#### and
    // PlatformRecovery#### and discards any other buffer unstarted.
    if pe.subsystem != SUBSYSTEM_EFI_APPLICATION {
        let what = match pe.subsystem {
            11 => "an EFI boot service driver",
            12 => "an EFI runtime driver",
            13 => "an EFI ROM image",
            _ => "not an EFI image",
        };
        return Err(format!(
            "subsystem {} is {what}, and a firmware boots only an EFI application (subsystem 10)",
            pe.subsystem
        ));
    }
    Ok(pe)
}

/// The end of the furthest section's raw data (PointerToRawData +
/// SizeOfRawData over the section table), `None` when the table is not
/// within `b`. edk2's PeCoffLoaderLoadImage reads every section's raw
/// data and fails (IMAGE_ERROR_IMAGE_READ) when the file ends first.
pub fn sections_end(b: &[u8]) -> Option<u64> {
    let lfanew = usize::try_from(le32(b, 0x3C)).ok()?;
    let coff = lfanew.checked_add(4)?;
    let n = usize::from(le16(b, coff.checked_add(2)?));
    let opt_size = usize::from(le16(b, coff.checked_add(16)?));
    let table = coff.checked_add(20)?.checked_add(opt_size)?;
    if table.checked_add(n.checked_mul(40)?)? > b.len() {
        return None;
    }
    let mut end = 0u64;
    for i in 0..n {
        let at = table.checked_add(i.checked_mul(40)?)?;
        let size = u64::from(le32(b, at.checked_add(16)?));
        let ptr = u64::from(le32(b, at.checked_add(20)?));
        if size > 0 {
            end = end.max(ptr.saturating_add(size));
        }
    }
    Some(end)
}

/// The raw data of the section named `name` (`.sbat`), when the section
/// table and that data lie within `b`.
pub fn section<'a>(b: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let lfanew = usize::try_from(le32(b, 0x3C)).ok()?;
    let coff = lfanew.checked_add(4)?;
    let n = usize::from(le16(b, coff.checked_add(2)?));
    let opt_size = usize::from(le16(b, coff.checked_add(16)?));
    let table = coff.checked_add(20)?.checked_add(opt_size)?;
    for i in 0..n {
        let at = table.checked_add(i.checked_mul(40)?)?;
        let raw = b.get(at..at.checked_add(40)?)?;
        let stored = bytes(raw, 0, 8);
        let trimmed = stored.split(|c| *c == 0).next().unwrap_or(stored);
        if trimmed == name {
            let size = usize::try_from(le32(raw, 16)).ok()?;
            let ptr = usize::try_from(le32(raw, 20)).ok()?;
            return b.get(ptr..ptr.checked_add(size)?);
        }
    }
    None
}

/// Whether the image `b` (read whole) is shim, the first-stage loader
/// that starts a second one beside it: its `.sbat` section names the
/// `shim` component (shim 15.3 and later, SBAT.md), or, for an older
/// shim without SBAT, its banner `UEFI SHIM` is in the image.
pub fn is_shim(b: &[u8]) -> bool {
    match section(b, b".sbat") {
        Some(sbat) => sbat
            .split(|c| *c == b'\n')
            .any(|line| line.starts_with(b"shim,")),
        None => b.windows(9).any(|w| w == b"UEFI SHIM"),
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    fn image(machine: u16, subsystem: u16) -> Vec<u8> {
        let mut b = vec![0u8; 0x200];
        b[0..2].copy_from_slice(b"MZ");
        b[0x3C] = 0x80;
        b[0x80..0x84].copy_from_slice(b"PE\0\0");
        b[0x84..0x86].copy_from_slice(&machine.to_le_bytes());
        b[0x86] = 4;
        b[0x98..0x9A].copy_from_slice(&0x20Bu16.to_le_bytes());
        b[0x98 + 68..0x98 + 70].copy_from_slice(&subsystem.to_le_bytes());
        b
    }

    #[test]
    fn headers_parse_and_fail_precisely() {
        assert_eq!(parse(&image(0x8664, 10)).unwrap().machine, MACHINE_X64);
        assert!(
            parse(&image(0x8664, 3))
                .unwrap_err()
                .contains("subsystem 3")
        );
        // Attack 16b F18: a driver is no boot option (edk2
        // BmIsLoadOptionPeHeaderValid wants an application).
        for s in [11, 12, 13] {
            let e = parse(&image(0x8664, s)).unwrap_err();
            assert!(e.contains(&format!("subsystem {s}")), "{e}");
        }
        let mut b = image(0x8664, 10);
        b[0x3C] = 0xF0;
        b[0x3D] = 0x0F;
        assert!(parse(&b).unwrap_err().contains("past the"));
        assert!(parse(b"MZ").is_err());
        // Attack 16b F4: the section table gives where the data ends; a
        // file cut before it does not load.
        let mut b = image(0x8664, 10);
        b[0x94] = 0xF0; // SizeOfOptionalHeader
        let t = 0x98 + 0xF0;
        b.resize(t + 4 * 40, 0);
        b[t + 16..t + 20].copy_from_slice(&0x1000u32.to_le_bytes());
        b[t + 20..t + 24].copy_from_slice(&0x400u32.to_le_bytes());
        b[t + 40 + 16..t + 40 + 20].copy_from_slice(&0x64000u32.to_le_bytes());
        b[t + 40 + 20..t + 40 + 24].copy_from_slice(&0x1d000u32.to_le_bytes());
        assert_eq!(sections_end(&b), Some(0x81000));
        assert_eq!(sections_end(&b[..t + 40]), None);
        assert!(parse(b"").unwrap_err().contains("empty"));
        assert!(parse(b"\x7fELF").unwrap_err().contains("MZ"));
    }
}

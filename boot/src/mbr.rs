//! Sector 0 as a BIOS reads it (SeaBIOS `boot_disk`): the `55 AA`
//! signature at 0x1FE is all it checks before jumping to 0000:7C00, so
//! what the code is can only be told by its bytes. The loader is named by
//! the strings each one carries.

use imgcheck_core::bytes::{bytes, is_zero, le16, le32, u8_at};
use serde::{Deserialize, Serialize};

/// Bytes in the boot sector the BIOS loads.
pub const SECTOR: usize = 512;
/// Boot code ends where the disk signature (0x1B8) and the partition
/// table (0x1BE) begin.
pub const CODE_END: usize = 0x1B8;
/// Offset of the `55 AA` signature.
pub const SIGNATURE_AT: usize = 0x1FE;
/// GRUB 2 boot.img: the BPB area setup keeps from the old sector
/// (`GRUB_BOOT_MACHINE_BPB_START` 3 .. `GRUB_BOOT_MACHINE_BPB_END` 0x5A),
/// which is zeros on most disks and not code.
const GRUB_BPB: std::ops::Range<usize> = 0x03..0x5A;
/// boot.img's `kernel_sector` (`GRUB_BOOT_MACHINE_KERNEL_SECTOR`).
pub const GRUB_KERNEL_SECTOR_AT: usize = 0x5C;

/// Which boot code sector 0 holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BootCode {
    /// Zeros: nothing to run.
    None,
    /// GRUB 2's boot.img (i386-pc).
    Grub2,
    /// SYSLINUX/EXTLINUX `mbr.bin`: loads the active primary (or
    /// logical) partition's first sector.
    Syslinux,
    /// SYSLINUX `gptmbr.bin`: loads the first sector of the GPT partition
    /// whose attribute bit 2 (legacy BIOS bootable) is set.
    SyslinuxGpt,
    /// SYSLINUX `altmbr.bin`: loads the partition whose number is in the
    /// byte at 0x1B7, whatever the active flags say.
    SyslinuxAlt,
    /// A Windows (or DOS) MBR.
    Windows,
    /// mkfs.fat's boot code for a volume nobody made bootable: it prints
    /// "This is not a bootable disk" and waits for a key.
    NotBootable,
    /// Code imgcheck does not name.
    Other,
}

impl BootCode {
    /// The loader in words.
    pub fn name(self) -> &'static str {
        match self {
            BootCode::None => "no boot code",
            BootCode::Grub2 => "GRUB 2 boot.img",
            BootCode::Syslinux => "SYSLINUX mbr.bin",
            BootCode::SyslinuxGpt => "SYSLINUX gptmbr.bin",
            BootCode::SyslinuxAlt => "SYSLINUX altmbr.bin",
            BootCode::Windows => "a Windows MBR",
            BootCode::NotBootable => "mkfs.fat's \"This is not a bootable disk\" stub",
            BootCode::Other => "unidentified boot code",
        }
    }
}

/// One primary partition entry, as a BIOS MBR's code reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// 1-based slot.
    pub slot: u32,
    /// The boot indicator byte (0x80 active).
    pub status: u8,
    /// The type byte.
    pub kind: u8,
    /// First LBA.
    pub start: u32,
    /// Sectors.
    pub sectors: u32,
}

/// Sector 0, read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sector0 {
    /// `55 AA` at 0x1FE.
    pub signature: bool,
    /// The sector is zeros throughout.
    pub all_zero: bool,
    /// Which boot code it holds.
    pub code: BootCode,
    /// For GRUB: the LBA boot.img loads next (the first core.img sector).
    pub grub_kernel_sector: Option<u64>,
    /// The four primary entries (empty slots left out).
    pub entries: Vec<Entry>,
}

impl Sector0 {
    /// Reads the 512 bytes `s` (shorter: the missing bytes count as zeros).
    pub fn parse(s: &[u8]) -> Sector0 {
        let code = identify(s);
        let entries = (0u32..4)
            .filter_map(|i| {
                let at = 0x1BEusize.checked_add(usize::try_from(i).ok()?.checked_mul(16)?)?;
                let e = bytes(s, at, 16);
                (e.len() == 16 && !is_zero(e)).then(|| Entry {
                    slot: i.saturating_add(1),
                    status: u8_at(e, 0),
                    kind: u8_at(e, 4),
                    start: le32(e, 8),
                    sectors: le32(e, 12),
                })
            })
            .collect();
        Sector0 {
            signature: le16(s, SIGNATURE_AT) == 0xAA55,
            all_zero: is_zero(bytes(s, 0, SECTOR)),
            code,
            grub_kernel_sector: (code == BootCode::Grub2)
                .then(|| imgcheck_core::bytes::le64(s, GRUB_KERNEL_SECTOR_AT)),
            entries,
        }
    }

    /// A protective MBR as edk2's PartitionDxe requires it before it reads
    /// a GPT (`Gpt.c`): an entry of type 0xEE starting at LBA 1. It checks
    /// nothing else, not even `55 AA`.
    pub fn protects_gpt(&self) -> bool {
        self.entries.iter().any(|e| e.kind == 0xEE && e.start == 1)
    }

    /// An entry marked active (0x80).
    pub fn has_active(&self) -> bool {
        self.entries.iter().any(|e| e.status == 0x80)
    }

    /// The entries marked active (0x80), in slot order.
    pub fn active(&self) -> Vec<Entry> {
        self.entries
            .iter()
            .filter(|e| e.status == 0x80)
            .copied()
            .collect()
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Names the boot code in `s` by its strings, never by a byte pattern
/// alone: GRUB's boot.img carries `GRUB ` `Geom` `Hard Disk` `Read`
/// ` Error` (boot.S). SYSLINUX 6's MBRs (syslinux-common's
/// `/usr/lib/syslinux/mbr/`) carry `Multiple active partitions` with
/// `Operating system load error.` (mbr.bin) or `Missing OS` (gptmbr.bin),
/// and altmbr.bin `Operating system load error.` alone; older ones end
/// their code with `Boot error`. mbr.bin also says `Missing operating
/// system.`, so those strings are looked for before Windows' and DOS's,
/// which always carry `Invalid partition table`.
pub fn identify(s: &[u8]) -> BootCode {
    let code = bytes(s, 0, CODE_END);
    let grub = contains(code, b"GRUB ") && contains(code, b"Geom") && contains(code, b"Read");
    if grub {
        return BootCode::Grub2;
    }
    let windows = contains(code, b"Invalid partition table");
    let load_error = contains(code, b"Operating system load error");
    if contains(code, b"Multiple active partitions") && !windows {
        if load_error {
            return BootCode::Syslinux;
        }
        if contains(code, b"Missing OS") {
            return BootCode::SyslinuxGpt;
        }
    }
    if load_error && !windows {
        return BootCode::SyslinuxAlt;
    }
    if windows || contains(code, b"Missing operating system") {
        return BootCode::Windows;
    }
    if contains(code, b"Boot error") {
        return BootCode::Syslinux;
    }
    // mkfs.fat (dosfstools mkfs.fat.c `dummy_boot_code`): the message
    // runs past 0x1B8 on FAT32, so the whole sector is searched.
    if contains(s, b"This is not a bootable disk") {
        return BootCode::NotBootable;
    }
    // GRUB's BPB area is not code; for other code it is, so a sector whose
    // only non-zero bytes lie there holds a BPB (a FAT boot sector) and
    // whatever else is in 0..0x1B8 decides.
    let outside_bpb = code
        .iter()
        .enumerate()
        .any(|(i, &b)| b != 0 && !GRUB_BPB.contains(&i));
    if outside_bpb {
        BootCode::Other
    } else {
        BootCode::None
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn zeros_are_no_code_and_a_bpb_alone_is_none() {
        let mut s = vec![0u8; 512];
        assert_eq!(identify(&s), BootCode::None);
        s[0x0B] = 2; // a BPB field
        assert_eq!(identify(&s), BootCode::None);
        s[0x100] = 0xCD;
        assert_eq!(identify(&s), BootCode::Other);
    }

    #[test]
    fn loaders_are_named_by_their_strings() {
        let mut s = vec![0u8; 512];
        s[0x163..0x163 + 23].copy_from_slice(b"Invalid partition table");
        assert_eq!(identify(&s), BootCode::Windows);
        let mut s = vec![0u8; 512];
        s[0x180..0x18A].copy_from_slice(b"Boot error");
        assert_eq!(identify(&s), BootCode::Syslinux);
    }

    #[test]
    fn syslinux_6_mbrs_are_not_windows() {
        // syslinux-common 6.04's binaries, when installed: mbr.bin says
        // "Missing operating system." too (attack boot8 F2).
        let dir = std::path::Path::new("/usr/lib/syslinux/mbr");
        let want = [
            ("mbr.bin", BootCode::Syslinux),
            ("gptmbr.bin", BootCode::SyslinuxGpt),
            ("altmbr.bin", BootCode::SyslinuxAlt),
        ];
        for (f, code) in want {
            let Ok(mut b) = std::fs::read(dir.join(f)) else {
                println!("SKIPPED {f}: syslinux-common is not installed");
                continue;
            };
            // As written to a disk: the code area of a 512-byte sector.
            b.resize(SECTOR, 0);
            assert_eq!(identify(&b), code, "{f}");
        }
    }

    #[test]
    fn mkfs_fat_stub_is_not_bootable() {
        let mut s = vec![0u8; 512];
        s[0x3E] = 0x0E;
        s[0x5A..0x5A + 27].copy_from_slice(b"This is not a bootable disk");
        assert_eq!(identify(&s), BootCode::NotBootable);
    }

    #[test]
    fn a_protective_entry_must_start_at_lba_1() {
        let mut s = vec![0u8; 512];
        s[0x1C2] = 0xEE;
        s[0x1C6] = 2;
        s[0x1CA] = 0xFF;
        assert!(!Sector0::parse(&s).protects_gpt());
        s[0x1C6] = 1;
        assert!(Sector0::parse(&s).protects_gpt());
    }
}

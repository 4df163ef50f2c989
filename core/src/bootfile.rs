//! What a filesystem layer tells the boot chain about the files firmware
//! and boot loaders look for: which exist, their size, their first bytes
//! (a PE/COFF header, a config's start) and whether their data reads
//! whole. A filesystem adapter fills [`crate::Facts::boot_files`] from
//! [`boot_paths`]; the boot chain reads only these facts, never the
//! filesystem crate.

use serde::{Deserialize, Serialize};

/// The paths looked up on every filesystem that a firmware or loader may
/// read them from. Matched case-insensitively, as FAT and UEFI do.
pub mod boot_paths {
    /// The directory every UEFI loader is installed under: present, the
    /// ESP was set up to boot; absent, nothing was ever installed.
    pub const EFI_DIR: &str = r"\EFI";
    /// UEFI's removable-media path on x86-64 (UEFI §3.5.1.1): what a
    /// firmware without a boot entry for the disk (a fresh OVMF, a moved
    /// VM) starts.
    pub const REMOVABLE_X64: &str = r"\EFI\BOOT\BOOTX64.EFI";
    /// The removable paths of the other architectures: present, they say
    /// the disk was made for that machine.
    pub const REMOVABLE_OTHER: &[&str] = &[
        r"\EFI\BOOT\BOOTAA64.EFI",
        r"\EFI\BOOT\BOOTIA32.EFI",
        r"\EFI\BOOT\BOOTARM.EFI",
        r"\EFI\BOOT\BOOTRISCV64.EFI",
    ];
    /// Loaders distributions install under `\EFI\<vendor>\` and name in
    /// the firmware's boot entries.
    pub const VENDOR_LOADERS: &[&str] = &[
        "shimx64.efi",
        "grubx64.efi",
        "systemd-bootx64.efi",
        "bootmgfw.efi",
    ];
    /// `\EFI\<vendor>` directories examined for [`VENDOR_LOADERS`].
    pub const MAX_VENDOR_DIRS: usize = 32;
    /// Bytes of each file kept: enough for a PE/COFF header (e_lfanew is
    /// below 0x200 in every loader seen; its optional header ends ≈ 0x200
    /// later).
    pub const HEAD_BYTES: u64 = 4096;
}

/// One boot-relevant file as its filesystem holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootFile {
    /// Its path, `\`-separated as UEFI writes it (`\EFI\BOOT\BOOTX64.EFI`).
    pub path: String,
    /// Found in its directory.
    pub present: bool,
    /// It is a directory (only [`boot_paths::EFI_DIR`] is looked up as one).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dir: bool,
    /// Its size in bytes, when present.
    pub size: Option<u64>,
    /// Its first bytes (at most [`boot_paths::HEAD_BYTES`]), when they read.
    #[serde(skip)]
    pub head: Vec<u8>,
    /// Why its data does not read whole (a broken cluster chain, a read
    /// error), in words; `None` when it reads.
    pub problem: Option<String>,
}

impl BootFile {
    /// A path the filesystem does not hold.
    pub fn absent(path: &str) -> Self {
        BootFile {
            path: path.to_string(),
            ..BootFile::default()
        }
    }

    /// A path that exists but cannot be read, and why.
    pub fn unreadable(path: &str, why: &str) -> Self {
        BootFile {
            path: path.to_string(),
            present: true,
            problem: Some(why.to_string()),
            ..BootFile::default()
        }
    }
}

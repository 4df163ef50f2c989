//! What a filesystem layer tells the boot chain about the files firmware
//! and boot loaders look for: which exist, their size, their first bytes
//! (a PE/COFF header, a config's start) and whether their data reads
//! whole. A filesystem adapter fills [`crate::Facts::boot_files`] from
//! [`boot_paths`]; the boot chain reads only these facts, never the
//! filesystem crate.

use serde::{Deserialize, Serialize};
use std::sync::Arc;

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
    /// Where its data starts, in bytes from the start of its filesystem
    /// (a FAT file's first cluster, an ext4 file's first mapped block),
    /// so a finding about its contents points at them; `None` when it
    /// has no data or its layer does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_at: Option<u64>,
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

/// Looks files up by path on one filesystem, for the checks that follow
/// a boot loader's own references (GRUB's prefix and grub.cfg, the
/// kernels grub.cfg and Boot Loader Specification entries name). A
/// filesystem adapter implements it over its opened volume; the boot
/// chain calls it without knowing the filesystem's kind.
pub trait FileLookup: Send + Sync {
    /// The filesystem's UUID as GRUB's `search --fs-uuid` and
    /// `root=UUID=` spell it (ext4/xfs: the hyphenated UUID; FAT: the
    /// volume id as `XXXX-XXXX`), when it has one.
    fn uuid(&self) -> Option<String>;
    /// Its label (`search --label`), when it has one.
    fn label(&self) -> Option<String>;
    /// The file or directory at `path` (`/`-separated, absolute from the
    /// filesystem's root; matched as the filesystem matches names), with
    /// at most `head` of its first bytes, and whether all its data is
    /// mapped to readable blocks (`problem`). Bounded by the filesystem's
    /// own limits; never writes.
    fn lookup(&self, path: &str, head: u64) -> BootFile;
    /// The names in the directory at `path` (at most `max`), or `None`
    /// when it is not a readable directory.
    fn list(&self, path: &str, max: usize) -> Option<Vec<String>>;
    /// The on-disk features turned on that a reader must understand to
    /// read any file (ext4's incompatible features, by e2fsprogs' names:
    /// `extent`, `inline_data`, `casefold`), so a boot loader's own
    /// driver can be held to the list it supports. Empty when the
    /// filesystem has no such set.
    fn required_features(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A shared [`FileLookup`], as [`crate::Facts::files`] carries it. Two
/// are equal only when they are the same lookup.
#[derive(Clone)]
pub struct Files(pub Arc<dyn FileLookup>);

impl std::fmt::Debug for Files {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Files")
            .field("uuid", &self.0.uuid())
            .finish_non_exhaustive()
    }
}

impl PartialEq for Files {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Files {}

//! Next steps in fsck.fat's terms: read-only first, a repair only on a
//! copy. `{dev}` is the filesystem's block device (see
//! [`imgcheck_core::Target`]).

use imgcheck_core::Hint;

/// The read-only check every FAT hint starts from.
pub const FSCK_FAT_N: &str = "fsck.fat -n {dev}";

/// `fsck.fat -n {dev}`: what it would change, changing nothing.
pub fn fsck_n() -> Hint {
    Hint::read_only(FSCK_FAT_N)
}

/// fsck.fat's automatic repair, to be run on a copy only: it rewrites
/// directory entries and the FAT, and what it truncates is gone.
pub fn repair_on_copy(what: &str) -> Hint {
    Hint::writes("fsck.fat -a {dev}").because(format!(
        "on a copy of the image only, after {FSCK_FAT_N} shows the changes: {what}"
    ))
}

/// Lost chains saved as files by fsck.fat, on a copy.
pub fn salvage_on_copy() -> Hint {
    Hint::writes("fsck.fat -a -f {dev}").because(
        "on a copy of the image only: -f saves each lost chain as /FSCKnnnn.REC instead of freeing it; read them before anything frees the clusters",
    )
}

/// Restores the primary boot sector from the FAT32 backup, on a copy.
pub fn restore_boot_from_backup(sector_size: u32, backup: u16) -> Hint {
    Hint::writes(format!(
        "dd if={{dev}} of={{dev}} bs={sector_size} skip={backup} seek=0 count=1 conv=notrunc"
    ))
    .because("on a copy of the image only: copies the intact backup boot sector over the damaged primary")
}

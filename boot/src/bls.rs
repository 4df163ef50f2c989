//! Boot Loader Specification Type #1 entries (`loader/entries/*.conf`,
//! uapi-group specs/boot_loader_specification.md) as Fedora's blscfg reads them.

/// One Boot Loader Specification Type #1 entry (`loader/entries/*.conf`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlsEntry {
    /// `title`.
    pub title: Option<String>,
    /// `linux`, a path from the root of the entry's own filesystem.
    pub linux: Option<String>,
    /// `initrd` lines, in order.
    pub initrd: Vec<String>,
    /// `efi` (a UKI or EFI program instead of a kernel).
    pub efi: Option<String>,
    /// `version`, which Fedora's blscfg sorts entries by.
    pub version: Option<String>,
}

/// The `key value` lines of a BLS entry or systemd-boot's loader.conf
/// (both read alike by systemd-boot), `#` comments skipped, values trimmed.
pub(crate) fn key_values(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
            (k, v.trim())
        })
}

/// Reads a BLS entry: `key value` lines, `#` comments.
pub fn bls(text: &str) -> BlsEntry {
    let mut e = BlsEntry::default();
    for (k, v) in key_values(text) {
        let v = v.to_string();
        match k {
            "title" => e.title = Some(v),
            "linux" => e.linux = Some(v),
            "initrd" => e.initrd.extend(v.split_whitespace().map(str::to_string)),
            "efi" => e.efi = Some(v),
            "version" => e.version = Some(v),
            _ => {}
        }
    }
    e
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bls_entries_keep_every_initrd() {
        let e =
            bls("title Fedora\nlinux /vmlinuz-6\ninitrd /initramfs-6.img\ninitrd /x.img\n# c\n");
        assert_eq!(e.linux.as_deref(), Some("/vmlinuz-6"));
        assert_eq!(e.initrd, vec!["/initramfs-6.img", "/x.img"]);
    }
}

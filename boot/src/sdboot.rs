//! systemd-boot, followed as it reads the disk (systemd src/boot/efi/boot.c,
//! v252 as Debian 12 ships it): `/loader/loader.conf` (`default` a glob
//! over entry ids, `timeout`), Boot Loader Specification Type #1 entries
//! in `/loader/entries/*.conf` and Type #2 UKIs in `/EFI/Linux/*.efi`, on
//! the ESP and the XBOOTLDR partition, paths from the root of the
//! partition the entry is on.
//!
//! What decides whether Linux starts: systemd-boot drops a Type #1 entry
//! whose `linux`/`efi` file does not open (config_entry_add_file, "check
//! existence") so it is never shown; with no entry left it has nothing to
//! boot. An initrd is opened only when the entry boots: a missing one
//! fails that boot ("Error preparing initrd").

use crate::bls;
use crate::chain::{Filesystem, Side, Stage, unusable};
use imgcheck_core::BootFile;

/// The marker systemd-boot's `.sdmagic` section holds (boot.c `SD_MAGIC`);
/// systemd-stub, which UKIs are built on, says `systemd-stub` instead.
pub const MAGIC: &[u8] = b"#### LoaderInfo: systemd-boot ";

/// Entries read from one directory, at most (a real ESP holds a handful).
const MAX_ENTRIES: usize = 256;

/// Bytes of a config file read (systemd-boot itself reads them whole; a
/// real one is a few hundred bytes).
const MAX_CONF: u64 = 64 << 10;

/// Hidden entries (their kernel is gone) are warnings under this code.
pub const ENTRY_HIDDEN: &str = "boot.sdboot.entry_hidden";

/// Whether the EFI image `pe` is systemd-boot, and its version.
pub fn identify(pe: &[u8]) -> Option<String> {
    let at = pe.windows(MAGIC.len()).position(|w| w == MAGIC)?;
    let rest = pe.get(at.saturating_add(MAGIC.len())..)?;
    let v: Vec<u8> = rest
        .iter()
        .take(64)
        .take_while(|&&b| b != b' ' && b != 0)
        .copied()
        .collect();
    Some(String::from_utf8_lossy(&v).into_owned())
}

/// `loader.conf` as systemd-boot reads it (config_defaults_load_from_file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoaderConf {
    /// `default`: a glob over entry ids, or `@saved` (NVRAM decides).
    pub default: Option<String>,
    /// `timeout` as written.
    pub timeout: Option<String>,
}

/// Reads `loader.conf`: `key value` lines, `#` comments; a later line wins.
pub fn loader_conf(text: &str) -> LoaderConf {
    let mut c = LoaderConf::default();
    for (k, v) in crate::bls::key_values(text) {
        let v = v.to_string();
        match k {
            "default" => c.default = Some(v),
            "timeout" => c.timeout = Some(v),
            _ => {}
        }
    }
    c
}

/// A glob as systemd-boot's efi_fnmatch reads one: `*`, `?`, `[...]`
/// (with `!`/`^` negation and ranges), `\` escapes. ids are lowercased
/// by systemd-boot, so the match ignores ASCII case.
pub fn fnmatch(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let n: Vec<char> = name.to_ascii_lowercase().chars().collect();
    glob(&p, &n)
}

fn glob(p: &[char], n: &[char]) -> bool {
    match p.split_first() {
        None => n.is_empty(),
        Some(('*', rest)) => (0..=n.len()).any(|i| n.get(i..).is_some_and(|t| glob(rest, t))),
        Some(('?', rest)) => n.split_first().is_some_and(|(_, t)| glob(rest, t)),
        Some(('[', rest)) => {
            let Some((&c, t)) = n.split_first() else {
                return false;
            };
            let (neg, body) = match rest.split_first() {
                Some(('!' | '^', b)) => (true, b),
                _ => (false, rest),
            };
            let Some(close) = body
                .iter()
                .skip(1)
                .position(|&x| x == ']')
                .map(|i| i.saturating_add(1))
            else {
                // No closing bracket: a literal '['.
                return c == '[' && glob(rest, t);
            };
            let set = body.get(..close).unwrap_or_default();
            let mut hit = false;
            let mut i = 0;
            while let Some(&a) = set.get(i) {
                if set.get(i.saturating_add(1)) == Some(&'-')
                    && let Some(&b) = set.get(i.saturating_add(2))
                {
                    hit |= a <= c && c <= b;
                    i = i.saturating_add(3);
                } else {
                    hit |= a == c;
                    i = i.saturating_add(1);
                }
            }
            hit != neg && glob(body.get(close.saturating_add(1)..).unwrap_or_default(), t)
        }
        Some(('\\', rest)) => match (rest.split_first(), n.split_first()) {
            (Some((a, r)), Some((b, t))) => a == b && glob(r, t),
            _ => false,
        },
        Some((a, rest)) => n
            .split_first()
            .is_some_and(|(b, t)| a == b && glob(rest, t)),
    }
}

/// Compares two ids as systemd-boot's strverscmp_improved does, roughly:
/// runs of digits by value, the rest by character.
pub(crate) fn vercmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let lx = x.iter().take_while(|c| c.is_ascii_digit()).count();
                let ly = y.iter().take_while(|c| c.is_ascii_digit()).count();
                let nx = x.get(..lx).unwrap_or_default();
                let ny = y.get(..ly).unwrap_or_default();
                let trim = |s: &[u8]| -> Vec<u8> {
                    s.iter().skip_while(|&&c| c == b'0').copied().collect()
                };
                let (tx, ty) = (trim(nx), trim(ny));
                let o = tx.len().cmp(&ty.len()).then_with(|| tx.cmp(&ty));
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
                x = x.get(lx..).unwrap_or_default();
                y = y.get(ly..).unwrap_or_default();
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(d);
                }
                x = x.get(1..).unwrap_or_default();
                y = y.get(1..).unwrap_or_default();
            }
        }
    }
}

/// One entry systemd-boot shows.
struct Entry<'a> {
    id: String,
    title: String,
    fs: &'a Filesystem,
    /// For a Type #1 entry: its `initrd` files, checked when it boots.
    initrd: Vec<String>,
    /// What it loads, in words.
    loads: String,
}

/// A path as written in an entry (`\` or `/`, relative to the root of
/// the entry's partition) as a lookup path.
fn norm(p: &str) -> String {
    let p = p.replace('\\', "/");
    if p.starts_with('/') {
        p
    } else {
        format!("/{p}")
    }
}

fn open(fs: &Filesystem, path: &str) -> Option<BootFile> {
    fs.files.as_ref().map(|f| f.0.lookup(path, MAX_CONF))
}

/// Follows systemd-boot from the ESP `esp`: the entries on it and on the
/// other FAT filesystems of the disk that hold `/loader/entries` (the
/// XBOOTLDR partition is FAT in practice; its type is not in view, so any
/// such filesystem counts, which can only hide a failure, never invent
/// one), the default one, and what it loads.
pub fn follow(esp: &Filesystem, fss: &[Filesystem], side: &mut Side) -> Stage {
    let Some(files) = &esp.files else {
        return Stage::NotFollowed(format!("{} is not readable file by file", esp.place));
    };
    let conf_file = files.0.lookup("/loader/loader.conf", MAX_CONF);
    let conf = if conf_file.present && unusable(&conf_file).is_none() {
        loader_conf(&String::from_utf8_lossy(&conf_file.head))
    } else {
        LoaderConf::default()
    };
    let mut roots: Vec<&Filesystem> = vec![esp];
    roots.extend(fss.iter().filter(|f| {
        f.kind == "fat"
            && !std::ptr::eq(*f, esp)
            && f.partition != esp.partition
            && f.files
                .as_ref()
                .is_some_and(|x| x.0.list("/loader/entries", 1).is_some())
    }));
    let mut entries: Vec<Entry<'_>> = Vec::new();
    for fs in &roots {
        let Some(files) = &fs.files else { continue };
        for n in files
            .0
            .list("/loader/entries", MAX_ENTRIES)
            .unwrap_or_default()
            .iter()
            .filter(|n| n.to_ascii_lowercase().ends_with(".conf"))
        {
            let f = files.0.lookup(&format!("/loader/entries/{n}"), MAX_CONF);
            if unusable(&f).is_some() {
                continue;
            }
            let e = bls::bls(&String::from_utf8_lossy(&f.head));
            // A Type #1 entry boots `efi` when it has one, else `linux`.
            let Some(loader) = e.efi.as_ref().or(e.linux.as_ref()).map(|p| norm(p)) else {
                continue;
            };
            let title = e.title.clone().unwrap_or_else(|| n.clone());
            let lf = open(fs, &loader);
            if let Some(why) = lf.as_ref().and_then(unusable) {
                side.push((
                    ENTRY_HIDDEN,
                    fs.start,
                    format!(
                        "systemd-boot entry {n} ('{title}') on {} names {loader}, which {why}: systemd-boot drops the entry and never shows it",
                        fs.place
                    ),
                ));
                continue;
            }
            entries.push(Entry {
                id: n.to_ascii_lowercase(),
                title,
                fs,
                initrd: e.initrd.iter().map(|p| norm(p)).collect(),
                loads: format!("{loader} on {}", fs.place),
            });
        }
        for n in files
            .0
            .list("/EFI/Linux", MAX_ENTRIES)
            .unwrap_or_default()
            .iter()
            .filter(|n| n.to_ascii_lowercase().ends_with(".efi"))
        {
            let path = format!("/EFI/Linux/{n}");
            let f = files.0.lookup(&path, 0);
            if unusable(&f).is_some() {
                continue;
            }
            entries.push(Entry {
                id: n.to_ascii_lowercase(),
                title: n.clone(),
                fs,
                initrd: Vec::new(),
                loads: format!("the unified kernel image {path} on {}", fs.place),
            });
        }
    }
    if entries.is_empty() {
        return Stage::Broken {
            code: "boot.sdboot.no_entry",
            offset: esp.start,
            message: format!(
                "systemd-boot finds no entry whose kernel exists (no /loader/entries/*.conf naming a present linux or efi file, no /EFI/Linux/*.efi) on {} or an XBOOTLDR partition: Linux never starts — systemd-boot shows at most its built-in entries (firmware setup) or says \"No loader found. Configuration files in \\loader\\entries\\*.conf are needed.\"",
                esp.place
            ),
        };
    }
    // Newest first, as systemd-boot sorts entries without a sort-key.
    entries.sort_by(|a, b| vercmp(&b.id, &a.id));
    let pattern = conf
        .default
        .as_deref()
        .filter(|p| !p.is_empty() && *p != "@saved");
    let (idx, how) = match pattern {
        Some(p) => match entries.iter().position(|e| fnmatch(p, &e.id)) {
            Some(i) => (i, format!("loader.conf's default '{p}'")),
            None => (
                0,
                format!("loader.conf's default '{p}' matches no entry shown, so the first"),
            ),
        },
        None => (
            0,
            "the first entry (loader.conf names no default)".to_string(),
        ),
    };
    let Some(e) = entries.get(idx) else {
        return Stage::NotFollowed("no default entry".into());
    };
    for i in &e.initrd {
        let f =
            e.fs.files
                .as_ref()
                .map(|f| f.0.lookup(i, crate::grubcfg::MAX_CFG));
        if let Some(f) = &f
            && unusable(f).is_none()
            && let Some(why) = crate::chain::not_initramfs(f)
        {
            return Stage::Broken {
                code: "boot.sdboot.initrd_invalid",
                offset: crate::chain::data_on_disk(f, e.fs.start),
                message: format!(
                    "systemd-boot's default entry {} ('{}', by {how}) loads {} and its initrd {i} on {}, which is no initramfs Linux unpacks: {why}; systemd-boot hands it over without looking inside, and Linux goes on without an initramfs and stops when it cannot mount its root (\"VFS: Unable to mount root fs\", a kernel panic) unless it needs none",
                    e.id, e.title, e.loads, e.fs.place
                ),
            };
        }
        if let Some(why) = f.as_ref().and_then(unusable) {
            return Stage::Broken {
                code: "boot.sdboot.initrd_missing",
                offset: e.fs.start,
                message: format!(
                    "systemd-boot's default entry {} ('{}', by {how}) loads {}, but its initrd {i} on {} {why}: that boot fails (\"Error preparing initrd\") before Linux starts",
                    e.id, e.title, e.loads, e.fs.place
                ),
            };
        }
    }
    let initrds = if e.initrd.is_empty() {
        String::new()
    } else {
        format!(" and {}", e.initrd.join(", "))
    };
    Stage::Holds(format!(
        "systemd-boot, {} entries shown; default {} ('{}', by {how}; an NVRAM LoaderEntryDefault could pick another) loads {}{initrds}",
        entries.len(),
        e.id,
        e.title,
        e.loads
    ))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn default_globs_match_as_systemd_boot_matches_them() {
        assert!(fnmatch("arch*", "arch.conf"));
        assert!(fnmatch("Arch.conf", "arch.conf"));
        assert!(fnmatch("fedora-6.[0-9]*", "fedora-6.5.conf"));
        assert!(!fnmatch("fedora-6.[!0-9]*", "fedora-6.5.conf"));
        assert!(!fnmatch("arch", "arch.conf"));
        assert!(fnmatch("?rch.conf", "arch.conf"));
    }

    #[test]
    fn newer_versions_sort_first() {
        assert_eq!(
            vercmp("linux-6.10.conf", "linux-6.9.conf"),
            std::cmp::Ordering::Greater
        );
    }

    #[test]
    fn loader_conf_keeps_the_last_default() {
        let c = loader_conf("# x\ndefault a\ntimeout 3\ndefault b*\n");
        assert_eq!(c.default.as_deref(), Some("b*"));
        assert_eq!(c.timeout.as_deref(), Some("3"));
    }
}

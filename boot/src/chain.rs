//! GRUB past its kernel image: the filesystem its prefix names (by UUID,
//! label, file or partition) exists on the disk, holds the modules GRUB
//! loads next (`<prefix>/<platform>/normal.mod`) and `<prefix>/grub.cfg`,
//! and the kernel and initramfs grub.cfg's default entry (or its Boot
//! Loader Specification entries) names exist there with their data
//! mapped. What GRUB does at each broken link is GRUB 2.06's own
//! behaviour (`kern/main.c`, `normal/main.c`, `loader/linux.c`).

use crate::embed::Embedded;
use crate::grubcfg::{self, Config, Device, Located, Pick, Read, Vars};
use imgcheck_core::{BootFile, Files};

/// A filesystem on the disk, as the layers state it.
#[derive(Debug, Clone)]
pub struct Filesystem {
    /// The partition holding it directly, when one does.
    pub partition: Option<u32>,
    /// Its first byte on the disk, when known (a partition's start).
    pub start: u64,
    /// Where it is, in words (`partition 3`, `LV vg/root`).
    pub place: String,
    /// Its kind (`ext4`, `xfs`, `fat`).
    pub kind: String,
    /// Its UUID as its layer states it.
    pub uuid: Option<String>,
    /// Its files, when its layer can look them up.
    pub files: Option<Files>,
    /// It lies in an LVM2 logical volume, which GRUB sees only through
    /// its `lvm` module.
    pub in_lv: bool,
    /// Why GRUB's partition map cannot see the partition it is in (an
    /// MBR entry of type 0, a partition in no table), when it cannot:
    /// the boot crate fills it from sector 0; `None` from the layers.
    pub unseen_by_grub: Option<String>,
}

/// How far the chain past the kernel image gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// Every link checked holds: in words.
    Holds(String),
    /// A link is broken.
    Broken {
        /// The finding's code.
        code: &'static str,
        /// Where on the disk.
        offset: u64,
        /// What is wrong and what the firmware and GRUB will do.
        message: String,
    },
    /// Not followed further (a device or filesystem imgcheck cannot
    /// read files from): in words. Never a failure.
    NotFollowed(String),
}

/// Warnings beside the verdict: a finding code, where, and what.
pub type Side = Vec<(&'static str, u64, String)>;

/// The code of a warning about an entry other than the default.
pub const ENTRY_BROKEN: &str = "boot.linux.entry_broken";
/// The code of a warning that a `search` target is on no filesystem of
/// this disk (GRUB searches every disk of the machine).
pub const SEARCH_ELSEWHERE: &str = "boot.grub.search_elsewhere";
/// The code of the warning that grubenv's saved_entry names no entry.
pub const SAVED_ENTRY_GONE: &str = "boot.grub.saved_entry_missing";
/// The code of the error that GRUB's embedded config (either path), or
/// an EFI GRUB's stub grub.cfg beside it on the ESP, searches for a
/// filesystem that is on no partition of this disk.
pub const SEARCH_MISSING: &str = "boot.grub.search_missing";

/// Bytes of a file read to see it is there: none (size and map suffice).
const NO_HEAD: u64 = 0;
/// `loader/entries/*.conf` files read.
const MAX_BLS: usize = 64;

/// Follows GRUB from its embedded config on `fss` for `platform`
/// (`i386-pc`, `x86_64-efi`); `loaded_from` is the device GRUB was loaded
/// from (the ESP for EFI), used when the prefix names none.
pub fn follow(
    emb: &Embedded,
    platform: &str,
    loaded_from: Option<Device>,
    fss: &[Filesystem],
    side: &mut Side,
) -> Stage {
    if emb.memdisk {
        return Stage::NotFollowed(
            "its modules and config are in an embedded memdisk (grub-mkstandalone)".into(),
        );
    }
    let unknown = unknown_commands(emb);
    if unknown.is_empty() {
        return follow_known(emb, platform, loaded_from, fss, side, &[]);
    }
    // kern/main.c runs the embedded config before any module is loaded
    // from the prefix, so nothing autoloads a command then: GRUB's
    // parser prints "Unknown command" and goes on. A `search` that never
    // ran leaves `$root` where GRUB started (attack 16 A1).
    let said = unknown
        .iter()
        .map(|(c, m)| format!("`{c}` (module {m})"))
        .collect::<Vec<_>>()
        .join(", ");
    let kept = if loaded_from.is_some() {
        "the ESP GRUB was loaded from"
    } else {
        "the boot disk itself, with no partition"
    };
    let why = format!(
        "GRUB's embedded config runs {said}, which its image does not hold: GRUB prints \"Unknown command\" and goes on without it, so $root stays {kept}"
    );
    let vars = grubcfg::boot_prefix_without(emb.config.as_deref(), emb.prefix.as_deref(), &|c| {
        is_unknown(&unknown, c)
    });
    let on_disk = matches!(
        vars.prefix
            .as_ref()
            .map(|p| p.device.as_ref().or(loaded_from.as_ref())),
        Some(None | Some(Device::Disk))
    );
    if loaded_from.is_none() && on_disk {
        return Stage::Broken {
            code: COMMAND_MISSING,
            offset: 0,
            message: format!(
                "{why}: the prefix is then on the whole disk, which holds a partition table, not a filesystem; GRUB prints \"error: unknown filesystem\", finds no normal.mod and stops at the \"grub rescue>\" prompt"
            ),
        };
    }
    match follow_known(emb, platform, loaded_from, fss, side, &unknown) {
        Stage::Broken {
            offset, message, ..
        } => Stage::Broken {
            code: COMMAND_MISSING,
            offset,
            message: format!("{why}; then: {message}"),
        },
        other => other,
    }
}

/// The code of the error that GRUB's embedded config runs a command
/// (a `search`) whose module its image does not hold.
pub const COMMAND_MISSING: &str = "boot.grub.command_missing";
/// The code of the error that GRUB's image holds no module that reads
/// the filesystem its prefix is on.
pub const FS_MODULE_MISSING: &str = "boot.grub.fs_module_missing";
/// Commands of an embedded config remembered as unknown.
const MAX_UNKNOWN: usize = 8;

/// The `search` commands of the embedded config whose module (commands/
/// search_*.c, one module each) the image does not hold, with that
/// module; none when the module list may be incomplete.
fn unknown_commands(emb: &Embedded) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = Vec::new();
    if emb.unnamed > 0 {
        return out;
    }
    for line in emb.config.as_deref().unwrap_or_default().lines() {
        for cmd in grubcfg::words(line) {
            let Some(name) = cmd.first() else { continue };
            let module = match name.as_str() {
                "search.fs_uuid" => "search_fs_uuid",
                "search.fs_label" => "search_label",
                "search.file" => "search_fs_file",
                "search" => "search",
                _ => continue,
            };
            if !emb.modules.iter().any(|m| m == module)
                && !out.iter().any(|(n, _)| n == name)
                && out.len() < MAX_UNKNOWN
            {
                out.push((name.clone(), module));
            }
        }
    }
    out
}

fn is_unknown(unknown: &[(String, &'static str)], cmd: &[String]) -> bool {
    cmd.first()
        .is_some_and(|w| unknown.iter().any(|(n, _)| n == w))
}

/// The module GRUB 2.06 reads a filesystem of `kind` (a layer's name)
/// with, for the kinds whose module is known here.
fn fs_module(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "ext2" | "ext3" | "ext4" => "ext2",
        "xfs" => "xfs",
        "fat" | "vfat" => "fat",
        "btrfs" => "btrfs",
        "exfat" => "exfat",
        "ntfs" => "ntfs",
        _ => return None,
    })
}

/// [`follow`] with the embedded config's `unknown` commands skipped.
fn follow_known(
    emb: &Embedded,
    platform: &str,
    loaded_from: Option<Device>,
    fss: &[Filesystem],
    side: &mut Side,
    unknown: &[(String, &'static str)],
) -> Stage {
    let mut vars =
        grubcfg::boot_prefix_without(emb.config.as_deref(), emb.prefix.as_deref(), &|c| {
            is_unknown(unknown, c)
        });
    let Some(mut prefix) = vars.prefix.clone() else {
        return Stage::NotFollowed("it embeds no prefix".into());
    };
    // Where an EFI GRUB was loaded from (its ESP), for a stub's failure.
    let efi_at = match &loaded_from {
        Some(Device::Partition(n)) => Some(
            fss.iter()
                .find(|f| f.partition == Some(*n))
                .map_or(0, |f| f.start),
        ),
        Some(_) => Some(0),
        None => None,
    };
    if prefix.device.is_none() {
        prefix.device = loaded_from;
    }
    let Some(dev) = prefix.device.clone() else {
        return Stage::NotFollowed(format!(
            "its prefix {} names no device",
            emb.prefix.as_deref().unwrap_or_default()
        ));
    };
    vars.root.get_or_insert_with(|| dev.clone());
    let fs = match resolve(&dev, fss) {
        Ok(fs) => fs,
        Err(Miss::NotFollowed(w)) => return Stage::NotFollowed(w),
        // The embedded config is what grub-install made for this disk's
        // /boot (attack boot8 F6). GRUB searches every disk alike on
        // both paths (commands/search.c); finding nothing, `$root` keeps
        // the device GRUB started from: the ESP for EFI GRUB, the boot
        // disk itself for i386-pc (core.img's boot_dev names no
        // partition), and neither holds the prefix (attack 16 F14: BIOS
        // was a warning, EFI an error, for the same GRUB behaviour).
        Err(Miss::Elsewhere(w)) => {
            let kept = if efi_at.is_some() {
                "$root stays the ESP GRUB was loaded from"
            } else {
                "$root stays the boot disk itself, with no partition"
            };
            return Stage::Broken {
                code: SEARCH_MISSING,
                offset: efi_at.unwrap_or(0),
                message: format!(
                    "GRUB's embedded config searches for {}, and {w}: search finds nothing, {kept}, GRUB finds no {}/normal.mod there, prints \"error: no such device\" and stops at the \"grub rescue>\" prompt (unless another disk of the machine holds that filesystem)",
                    describe(&dev),
                    prefix.path.trim_end_matches('/')
                ),
            };
        }
        Err(Miss::Absent(w)) => {
            return Stage::Broken {
                code: "boot.grub.prefix_missing",
                offset: 0,
                message: format!(
                    "GRUB's embedded config looks for {}, but {w}: GRUB prints \"error: no such device\" or \"unknown filesystem\" and stops at the \"grub rescue>\" prompt",
                    describe(&dev)
                ),
            };
        }
    };
    // GRUB reaches an LV only through the lvm module in its image
    // (grub-core/disk/lvm.c); it cannot load lvm.mod from a prefix it
    // cannot reach (attack boot8-2 F10).
    if fs.in_lv && !emb.modules.iter().any(|m| m == "lvm") {
        return Stage::Broken {
            code: "boot.grub.lvm_module_missing",
            offset: fs.start,
            message: format!(
                "GRUB's prefix is on {}, a logical volume, but its image holds no lvm module (it holds {}): without it GRUB sees no LV, finds no filesystem there and stops at the \"grub rescue>\" prompt (\"error: no such device\" or \"unknown filesystem\")",
                fs.place,
                if emb.modules.is_empty() {
                    "none".to_string()
                } else {
                    emb.modules.join(", ")
                }
            ),
        };
    }
    // GRUB reads a filesystem only through its module in the image until
    // it has one to load modules from: the prefix's own (attack 16 A1;
    // grub-install adds the one grub-probe names, grub-mkimage by hand
    // may not).
    if let Some(m) = fs_module(&fs.kind)
        && emb.unnamed == 0
        && !emb.modules.iter().any(|x| x == m)
    {
        return Stage::Broken {
            code: FS_MODULE_MISSING,
            offset: fs.start,
            message: format!(
                "GRUB's prefix {} is on the {} filesystem in {}, but its image holds no {m} module, GRUB's reader for it (it holds {}): GRUB cannot read that filesystem (\"error: unknown filesystem\"; a search for it finds nothing), loads neither {m}.mod nor normal.mod from it and stops at the \"grub rescue>\" prompt",
                prefix.path,
                fs.kind,
                fs.place,
                if emb.modules.is_empty() {
                    "none".to_string()
                } else {
                    emb.modules.join(", ")
                }
            ),
        };
    }
    let Some(files) = &fs.files else {
        return Stage::NotFollowed(format!(
            "its prefix is on the {} filesystem in {}, whose files imgcheck does not look up",
            fs.kind, fs.place
        ));
    };
    if let Some(why) = &fs.unseen_by_grub {
        return Stage::Broken {
            code: PARTITION_UNSEEN,
            offset: fs.start,
            message: format!(
                "GRUB's prefix {} is on {}, but {why}: GRUB sees no partition there, finds no filesystem for its prefix and stops at the \"grub rescue>\" prompt (\"error: no such device\" or \"unknown filesystem\")",
                prefix.path, fs.place
            ),
        };
    }
    if let Some(why) = grub_cannot_read(fs) {
        return Stage::Broken {
            code: FS_UNSUPPORTED,
            offset: fs.start,
            message: format!(
                "GRUB's prefix {} is on {}, and {why}: GRUB finds no filesystem there (\"error: unknown filesystem\"), cannot load normal.mod and stops at the \"grub rescue>\" prompt",
                prefix.path, fs.place
            ),
        };
    }
    let dir = prefix.path.trim_end_matches('/');
    let normal = format!("{dir}/{platform}/normal.mod");
    let mods = Modules::read(files.0.as_ref(), dir, platform, &emb.modules);
    if let Some((path, why)) = mods.missing("normal") {
        return Stage::Broken {
            code: "boot.grub.modules_missing",
            offset: fs.start,
            message: format!(
                "GRUB loads normal.mod and the modules it needs (moddep.lst) from {dir}/{platform} on {}, but {path} {why}: GRUB prints \"error: file '{path}' not found\" and stops at the \"grub rescue>\" prompt",
                fs.place
            ),
        };
    }
    if !emb.modules.iter().any(|m| m == "normal") {
        let f = files.0.lookup(&normal, NO_HEAD);
        if let Some(why) = unusable(&f) {
            return Stage::Broken {
                code: "boot.grub.modules_missing",
                offset: fs.start,
                message: format!(
                    "GRUB loads its modules from {} on {}, but {normal} {why}: GRUB prints \"error: file '{normal}' not found\" and stops at the \"grub rescue>\" prompt",
                    dir, fs.place
                ),
            };
        }
    }
    let cfg_path = format!("{dir}/grub.cfg");
    let cfg = files.0.lookup(&cfg_path, grubcfg::MAX_CFG);
    if let Some(why) = unusable(&cfg) {
        return Stage::Broken {
            code: "boot.grub.cfg_missing",
            offset: fs.start,
            message: format!(
                "GRUB reads its menu from {cfg_path} on {}, but it {why}: GRUB starts its command line (\"grub>\") with no menu, and nothing boots unattended",
                fs.place
            ),
        };
    }
    let text = String::from_utf8_lossy(&cfg.head).into_owned();
    // GRUB's own variables the scripts test (normal/main.c).
    let (grub_platform, grub_cpu) = match platform {
        "i386-pc" => ("pc", "i386"),
        "x86_64-efi" => ("efi", "x86_64"),
        p => (p, p),
    };
    vars.assign("grub_platform", Some(grub_platform.into()));
    vars.assign("grub_cpu", Some(grub_cpu.into()));
    // `source`, `configfile`, `load_env` and `[ -s … ]` read their files
    // from the filesystems on this disk; one that is not there is
    // skipped, as GRUB prints an error and goes on.
    let mut read = |l: &Located| match open_located(l, &vars, fss) {
        Ok((_, f, _)) => Read::Text(String::from_utf8_lossy(&f.head).into_owned()),
        Err(Stage::Broken { message, .. }) if message.ends_with("does not exist") => Read::Absent,
        Err(Stage::Broken { .. }) => Read::Unusable,
        Err(_) => Read::Unknown,
    };
    let me = Located {
        device: Some(dev.clone()),
        path: cfg_path.clone(),
    };
    let c = grubcfg::parse_file(Some(&me), &text, &vars, &mut read);
    let mut cfg_where = format!("{cfg_path} on {}", fs.place);
    if let Some(m) = &c.menu_file {
        let on = m
            .device
            .as_ref()
            .and_then(|d| resolve(d, fss).ok())
            .map_or(fs.place.as_str(), |f| f.place.as_str());
        cfg_where = format!("{} on {on} (handed over to by {cfg_path})", m.path);
    } else if c.entries.is_empty()
        && !c.blscfg
        && let Some(next) = &c.configfile
    {
        // A stub (the ESP's \EFI\debian\grub.cfg) whose `configfile`
        // target is gone: GRUB shows no menu.
        if let Err(s @ Stage::Broken { .. }) = open_located(next, &vars, fss) {
            return s;
        }
        // A stub exists to find /boot on the disk it was installed for:
        // its `search` for a filesystem no partition here holds is the
        // link that fails (attack boot8 F6), not a hope of another disk.
        if let Some(Err(Miss::Elsewhere(w))) = next.device.as_ref().map(|d| resolve(d, fss)) {
            return Stage::Broken {
                code: SEARCH_MISSING,
                offset: fs.start,
                message: format!(
                    "GRUB runs the stub {cfg_path} on {}, which searches for {} to read {} from it, and {w}: search finds nothing, GRUB prints \"error: no such device\" (or \"file '{}' not found\") and, with no menu, stops at its \"grub>\" command line (unless another disk of the machine holds that filesystem)",
                    fs.place,
                    describe(next.device.as_ref().map_or(&Device::Disk, |d| d)),
                    next.path,
                    next.path
                ),
            };
        }
    }
    // GRUB reads a config whole; past the bytes read here its entries are
    // unseen, not absent (an attack's 1.5 MiB grub.cfg was "no menu").
    let cut = cfg
        .size
        .is_some_and(|n| n > u64::try_from(cfg.head.len()).unwrap_or(u64::MAX));
    if c.entries.is_empty() && !c.blscfg && cut {
        return Stage::NotFollowed(format!(
            "{cfg_where} is {} bytes, more than the {} read here, and what was read defines no menu entry: its entries are not judged",
            cfg.size.unwrap_or(0),
            grubcfg::MAX_CFG
        ));
    }
    if c.entries.is_empty() && !c.blscfg {
        // normal/main.c: a config with no menu entries shows no menu;
        // grub_enter_normal_mode goes on to the command line.
        if let Some(why) = &c.unfollowed {
            return Stage::NotFollowed(format!(
                "{cfg_where} read; it defines no menu entry itself, and {why}"
            ));
        }
        let cycle = c.cycle.as_ref().map_or(String::new(), |l| {
            format!(
                " (it runs {} again while that file is still running, a cycle GRUB follows until its memory or stack runs out)",
                l.path
            )
        });
        return Stage::Broken {
            code: "boot.grub.no_menu",
            offset: fs.start,
            message: format!(
                "GRUB runs {cfg_where}, which defines no menu entry{cycle}: GRUB shows no menu and starts its command line (\"grub>\"), so nothing boots unattended"
            ),
        };
    }
    if let Some(l) = &c.cycle {
        return Stage::NotFollowed(format!(
            "{cfg_where} runs {} again while that file is still running, a cycle GRUB follows until its memory or stack runs out; what it shows then is not followed here",
            l.path
        ));
    }
    if c.pick == Some(Pick::Nothing) && !c.blscfg {
        return Stage::Broken {
            code: "boot.grub.no_menu",
            offset: fs.start,
            message: format!(
                "GRUB runs {cfg_where}, whose default picks a submenu with no entries: GRUB boots nothing and waits at its menu"
            ),
        };
    }
    let mut c = c;
    if c.blscfg {
        saved_entry_gone(&c, &vars, fs, fss, side);
        // blscfg is a module (Fedora's patch; Debian's GRUB has none),
        // loaded from the prefix like any other on first use.
        if let Some((path, why)) = mods.missing("blscfg") {
            let msg = format!(
                "{cfg_where} runs blscfg, whose module GRUB loads from {dir}/{platform} on {}, but {path} {why}: GRUB prints \"error: can't find command `blscfg'\" and no Boot Loader Specification entry becomes a menu entry",
                fs.place
            );
            if c.entries.is_empty() {
                return Stage::Broken {
                    code: "boot.grub.modules_missing",
                    offset: fs.start,
                    message: format!(
                        "{msg}; with no other entry GRUB shows no menu and starts its command line (\"grub>\"), so nothing boots unattended"
                    ),
                };
            }
            side.push(("boot.grub.modules_missing", fs.start, msg));
            c.blscfg = false;
        }
    }
    linux(&c, &cfg_where, &vars, fs, fss, &mods, side)
}

/// grubenv's `saved_entry` (what grub2-set-default writes, and Fedora's
/// grub.cfg makes the default) naming no BLS entry id (the file name
/// without `.conf`, blscfg.c) and no menu entry: GRUB falls back to the
/// first entry, not the one the owner chose.
fn saved_entry_gone(c: &Config, vars: &Vars, fs: &Filesystem, fss: &[Filesystem], side: &mut Side) {
    let Some((_, saved)) = c.env.iter().find(|(k, _)| k == "saved_entry") else {
        return;
    };
    if saved.is_empty() || saved.parse::<usize>().is_ok() {
        return;
    }
    let root = vars
        .root
        .as_ref()
        .and_then(|d| resolve(d, fss).ok())
        .unwrap_or(fs);
    let Some(files) = &root.files else { return };
    let mut ids = Vec::new();
    for dir in ["/loader/entries", "/boot/loader/entries"] {
        let Some(names) = files.0.list(dir, MAX_BLS) else {
            continue;
        };
        ids.extend(
            names
                .iter()
                .filter_map(|n| n.strip_suffix(".conf"))
                .map(str::to_string),
        );
    }
    let named = ids.iter().any(|i| i == saved)
        || c.entries
            .iter()
            .any(|e| e.title == *saved || e.id.as_deref() == Some(saved.as_str()));
    if !named {
        side.push((
            SAVED_ENTRY_GONE,
            root.start,
            format!(
                "grubenv's saved_entry is '{saved}', which names no Boot Loader Specification entry (no loader/entries/{saved}.conf on {}) and no menu entry: GRUB boots its first entry instead ({} entries there), not the one chosen with grub2-set-default",
                root.place,
                ids.len()
            ),
        ));
    }
}

/// How an entry fails: at its kernel, at an initramfs GRUB cannot load,
/// or at one GRUB loads and the kernel cannot unpack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Broken {
    /// An initramfs the kernel unpacks nothing from.
    InitrdInvalid,
    /// An initramfs GRUB's `initrd` cannot load.
    InitrdMissing,
    /// The kernel itself.
    Kernel,
}

/// The code of an entry that fails, by its worst link.
fn broken_code(b: Broken) -> &'static str {
    match b {
        Broken::Kernel => "boot.linux.kernel_missing",
        Broken::InitrdMissing => "boot.linux.initrd_missing",
        Broken::InitrdInvalid => "boot.linux.initrd_invalid",
    }
}

/// What GRUB and Linux do then (normal/menu.c boots once a loader is
/// loaded, even after an `initrd` error and its key press).
fn then_what(b: Broken) -> &'static str {
    match b {
        Broken::Kernel => {
            "GRUB prints the error and \"Press any key to continue...\", and Linux never starts"
        }
        Broken::InitrdMissing => {
            "GRUB prints the error and \"Press any key to continue...\", then starts the kernel without it, which stops when it cannot mount its root (\"VFS: Unable to mount root fs\", a kernel panic) unless it needs no initramfs"
        }
        Broken::InitrdInvalid => {
            "GRUB loads it without looking inside and starts the kernel, which unpacks nothing usable from it and goes on without an initramfs: it stops when it cannot mount its root (\"VFS: Unable to mount root fs\", a kernel panic) unless it needs no initramfs"
        }
    }
}

/// Why the initramfs `f` (read whole or in part) is nothing the kernel
/// unpacks, when it is not.
pub(crate) fn not_initramfs(f: &BootFile) -> Option<String> {
    match crate::initramfs::judge(&f.head, f.size) {
        crate::initramfs::Verdict::Fails(why) => Some(why),
        _ => None,
    }
}

/// Where `f`'s data starts on the disk, for a filesystem at `fs_start`
/// (the filesystem's own start when its layer does not say).
pub(crate) fn data_on_disk(f: &BootFile, fs_start: u64) -> u64 {
    f.data_at.map_or(fs_start, |d| fs_start.saturating_add(d))
}

/// Why the kernel `f` is not what GRUB's x86 `linux` command loads
/// (loader/i386/linux.c and the EFI one: `boot_flag` 0xAA55 at 0x1FE,
/// else "invalid magic number"; the `HdrS` header at 0x202, else "version
/// too old"), on an x86 GRUB only; `None` when it is, or when too little
/// of it was read to tell.
fn not_bzimage(f: &BootFile, vars: &Vars) -> Option<String> {
    let x86 = matches!(vars.value("grub_cpu").as_deref(), Some("i386" | "x86_64"));
    if !x86 || f.dir || f.head.len() < 0x206 {
        return None;
    }
    let flag = imgcheck_core::bytes::le16(&f.head, 0x1FE);
    if flag != 0xAA55 {
        return Some(format!(
            "has {flag:#06x}, not 0xAA55, at 0x1FE (boot_flag): GRUB's linux command refuses it (\"error: invalid magic number\")"
        ));
    }
    if imgcheck_core::bytes::bytes(&f.head, 0x202, 4) != b"HdrS" {
        return Some(
            "has no \"HdrS\" boot-protocol header at 0x202: GRUB's linux command refuses it (\"error: version too old for 32-bit boot\" / invalid kernel)".to_string(),
        );
    }
    None
}

/// The kernels grub.cfg `c` boots.
fn linux(
    c: &Config,
    cfg_where: &str,
    vars: &Vars,
    fs: &Filesystem,
    fss: &[Filesystem],
    mods: &Modules,
    side: &mut Side,
) -> Stage {
    type Row = (String, Option<Located>, Vec<Located>, Option<String>);
    let bls = if c.blscfg {
        bls_entries(vars, fs, fss)
    } else {
        Vec::new()
    };
    let entries: Vec<Row> = if c.blscfg {
        bls.iter()
            .map(|(_, t, k, i)| (t.clone(), k.clone(), i.clone(), None))
            .collect()
    } else {
        c.entries
            .iter()
            .map(|e| {
                (
                    e.title.clone(),
                    e.linux.clone(),
                    e.initrd.clone(),
                    e.loader.clone(),
                )
            })
            .collect()
    };
    if entries.is_empty() {
        return Stage::Holds(format!("{cfg_where} read; it names no Linux kernel"));
    }
    // A default not known here (a variable not read, a `fallback`): the
    // chain fails only when no entry can boot. blscfg's entries are in
    // its own version order, and its default (grubenv's saved_entry
    // through `set default`) names one by id, or none: then the newest.
    let default = if c.blscfg {
        bls_default(c, &bls)
    } else {
        c.default
    };
    let mut unknown_default_ok: Option<String> = None;
    let mut first_broken: Option<Stage> = None;
    let mut verdict = None;
    for (i, (title, kernel, initrds, loader)) in entries.iter().enumerate() {
        let Some(k) = kernel else { continue };
        let mut problems = Vec::new();
        // The kernel not loading ends the entry; an initramfs that does
        // not load is an error GRUB lets pass (attack boot8-2 F6).
        let mut worst: Option<Broken> = None;
        let mut bad = |b: Broken| worst = worst.max(Some(b));
        let mut at = fs.start;
        let mut elsewhere_at = None;
        if let Some(cmd) = loader
            && let Some((path, why)) = mods.for_command(cmd)
        {
            bad(Broken::Kernel);
            problems.push(format!(
                "its `{cmd}` command needs {path}, which {why} (GRUB prints \"error: file '{path}' not found\" and loads no kernel)"
            ));
        }
        for (what, l) in
            std::iter::once(("kernel", k)).chain(initrds.iter().map(|l| ("initramfs", l)))
        {
            let opened = open_located(l, vars, fss);
            if what == "kernel"
                && let Ok((kfs, f, _)) = &opened
                && let Some(why) = not_bzimage(f, vars)
            {
                bad(Broken::Kernel);
                at = data_on_disk(f, kfs.start);
                problems.push(format!("its kernel {} on {} {why}", l.path, kfs.place));
            }
            if what == "initramfs"
                && let Ok((ifs, f, _)) = &opened
                && let Some(why) = not_initramfs(f)
            {
                bad(Broken::InitrdInvalid);
                at = data_on_disk(f, ifs.start);
                problems.push(format!(
                    "its initramfs {} on {} is no initramfs Linux unpacks: {why}",
                    l.path, ifs.place
                ));
            }
            match opened {
                Ok((_, _, None)) => {}
                Ok((kept, _, Some(w))) => {
                    // commands/search.c sets the variable only on a match.
                    let msg = format!(
                        "grub.cfg entry '{title}' searches for a filesystem that is not on this disk ({w}): GRUB searches every disk of the machine; on this disk alone the search fails, $root stays {} and the entry loads {} from there (checked); a disk holding that filesystem would be used instead",
                        kept.place, l.path
                    );
                    if !side.iter().any(|(_, _, m)| *m == msg) {
                        side.push((SEARCH_ELSEWHERE, 0, msg));
                    }
                }
                Err(Stage::Broken {
                    message, offset, ..
                }) => {
                    at = offset;
                    bad(if what == "kernel" {
                        Broken::Kernel
                    } else {
                        Broken::InitrdMissing
                    });
                    problems.push(format!("its {what} {message}"));
                }
                Err(_) => {
                    if let Some(Err(Miss::Elsewhere(w))) = l
                        .device
                        .as_ref()
                        .or(vars.root.as_ref())
                        .map(|d| resolve(d, fss))
                    {
                        let msg = elsewhere(&format!("grub.cfg entry '{title}'"), &w);
                        if !side.iter().any(|(_, _, m)| *m == msg) {
                            side.push((SEARCH_ELSEWHERE, 0, msg));
                        }
                        elsewhere_at.get_or_insert(w);
                    }
                }
            }
        }
        if default.is_none() {
            if problems.is_empty() {
                unknown_default_ok.get_or_insert_with(|| title.clone());
            } else {
                first_broken.get_or_insert_with(|| Stage::Broken {
                    code: broken_code(worst.unwrap_or(Broken::Kernel)),
                    offset: at,
                    message: format!(
                        "GRUB shows its menu from {cfg_where}, but no entry can boot: '{title}' fails: {}; {}",
                        problems.join("; "),
                        then_what(worst.unwrap_or(Broken::Kernel))
                    ),
                });
                side.push((
                    ENTRY_BROKEN,
                    at,
                    format!("grub.cfg entry '{title}': {}", problems.join("; ")),
                ));
            }
            continue;
        }
        if Some(i) == default {
            verdict = Some(
                if let (true, Some(w)) = (problems.is_empty(), &elsewhere_at) {
                    Stage::NotFollowed(format!(
                        "{cfg_where} read; its default entry '{title}' loads {} from another disk: {w}",
                        k.path
                    ))
                } else if problems.is_empty() {
                    Stage::Holds(format!(
                        "{cfg_where} read; its default entry '{title}' loads {}{}",
                        k.path,
                        if initrds.is_empty() {
                            String::new()
                        } else {
                            format!(
                                " and {}",
                                initrds
                                    .iter()
                                    .map(|l| l.path.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        }
                    ))
                } else {
                    Stage::Broken {
                        code: broken_code(worst.unwrap_or(Broken::Kernel)),
                        offset: at,
                        message: format!(
                            "GRUB shows its menu from {cfg_where}, but the default entry '{title}' fails: {}; {}",
                            problems.join("; "),
                            then_what(worst.unwrap_or(Broken::Kernel))
                        ),
                    }
                },
            );
        } else if !problems.is_empty() {
            side.push((
                ENTRY_BROKEN,
                at,
                format!("grub.cfg entry '{title}': {}", problems.join("; ")),
            ));
        }
    }
    if default.is_none() {
        return match (unknown_default_ok, first_broken) {
            (Some(t), _) => Stage::Holds(format!(
                "{cfg_where} read; its default entry is chosen at boot (grubenv, an id or blscfg's version order), and entry '{t}' loads"
            )),
            (None, Some(b)) => {
                // Its warnings would repeat the error.
                side.retain(|(c, _, _)| *c != ENTRY_BROKEN);
                b
            }
            (None, None) => Stage::Holds(format!(
                "{cfg_where} read; its entries load no Linux kernel (not followed)"
            )),
        };
    }
    verdict.unwrap_or_else(|| {
        Stage::Holds(format!(
            "{cfg_where} read; its default entry loads no Linux kernel (not followed)"
        ))
    })
}

/// A BLS entry as blscfg makes a menu entry of it: its id (the file
/// name without `.conf`, the entry's `--id`), title, kernel, initramfs.
type BlsRow = (String, String, Option<Located>, Vec<Located>);

/// BLS entries on `$root` (`/loader/entries`, and `/boot/loader/entries`
/// where /boot is a directory of the root filesystem), paths from the
/// root of that filesystem, in the order Fedora's blscfg shows them
/// (blscfg.c `bls_cmp`: newest `version` first, entries with one before
/// those without, then by file name, each by version compare).
fn bls_entries(vars: &Vars, fs: &Filesystem, fss: &[Filesystem]) -> Vec<BlsRow> {
    let root = vars
        .root
        .as_ref()
        .and_then(|d| resolve(d, fss).ok())
        .unwrap_or(fs);
    let Some(files) = &root.files else {
        return Vec::new();
    };
    let dev = vars.root.clone();
    let mut found = Vec::new();
    for dir in ["/loader/entries", "/boot/loader/entries"] {
        let Some(names) = files.0.list(dir, MAX_BLS) else {
            continue;
        };
        for n in names.iter().filter(|n| n.ends_with(".conf")) {
            let f = files.0.lookup(&format!("{dir}/{n}"), 64 << 10);
            if f.head.is_empty() {
                continue;
            }
            let e = grubcfg::bls(&String::from_utf8_lossy(&f.head));
            let id = n.strip_suffix(".conf").unwrap_or(n).to_string();
            found.push((id, n.clone(), e));
        }
    }
    found.sort_by(|(a, _, x), (b, _, y)| {
        let by_version = match (&x.version, &y.version) {
            (Some(v), Some(w)) => crate::sdboot::vercmp(w, v),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        by_version.then_with(|| crate::sdboot::vercmp(b, a))
    });
    found
        .into_iter()
        .map(|(id, n, e)| {
            let loc = |p: &String| Located {
                device: dev.clone(),
                path: p.clone(),
            };
            (
                id,
                e.title.unwrap_or(n),
                e.linux.as_ref().map(loc),
                e.initrd.iter().map(loc).collect(),
            )
        })
        .collect()
}

/// The entry GRUB boots among blscfg's `rows` when they are the whole
/// menu: `$default` as a number, an id or a title (menu.c
/// `get_entry_number`), else the first (the newest), as GRUB falls back
/// to item 0 for a default that names nothing; `None` when `$default` or
/// the menu is not known here.
fn bls_default(c: &Config, rows: &[BlsRow]) -> Option<usize> {
    if !c.entries.is_empty() || c.unfollowed.is_some() || rows.is_empty() {
        return None;
    }
    let d = c.default_var.as_deref()?;
    let d = d.trim();
    if let Ok(n) = d.parse::<usize>() {
        return Some(if n < rows.len() { n } else { 0 });
    }
    Some(
        rows.iter()
            .position(|(id, title, _, _)| id == d || title == d)
            .unwrap_or(0),
    )
}

/// The file at `l`, or the stage saying why it is not there. A root a
/// `search` left with a target on no filesystem of this disk is the root
/// it kept (on this disk alone the search fails): the file found there
/// comes with that search's description.
type Opened<'a> = (&'a Filesystem, BootFile, Option<String>);

fn open_located<'a>(l: &Located, vars: &Vars, fss: &'a [Filesystem]) -> Result<Opened<'a>, Stage> {
    let dev = l.device.clone().or_else(|| vars.root.clone());
    let Some(dev) = dev else {
        return Err(Stage::NotFollowed(format!("{} names no device", l.path)));
    };
    let fs = match resolve(&dev, fss) {
        Ok(fs) => fs,
        Err(Miss::Elsewhere(w)) => {
            if let Device::Search { kept: Some(k), .. } = &dev {
                let there = Located {
                    device: Some((**k).clone()),
                    path: l.path.clone(),
                };
                if let Ok((fs, f, _)) = open_located(&there, vars, fss) {
                    return Ok((fs, f, Some(w)));
                }
            }
            return Err(Stage::NotFollowed(w));
        }
        Err(Miss::NotFollowed(w)) => return Err(Stage::NotFollowed(w)),
        Err(Miss::Absent(w)) => {
            return Err(Stage::Broken {
                code: "boot.linux.kernel_missing",
                offset: 0,
                message: format!("{} is on {}, but {w}", l.path, describe(&dev)),
            });
        }
    };
    let Some(files) = &fs.files else {
        return Err(Stage::NotFollowed(format!("{} is on {}", l.path, fs.kind)));
    };
    if let Some(why) = fs
        .unseen_by_grub
        .as_ref()
        .cloned()
        .or_else(|| grub_cannot_read(fs))
    {
        return Err(Stage::Broken {
            code: "boot.linux.kernel_missing",
            offset: fs.start,
            message: format!(
                "{} is on {}, and {why}: GRUB cannot open it (\"error: unknown filesystem\")",
                l.path, fs.place
            ),
        });
    }
    let f = files.0.lookup(&l.path, grubcfg::MAX_CFG);
    match unusable(&f) {
        Some(why) => Err(Stage::Broken {
            code: "boot.linux.kernel_missing",
            offset: fs.start,
            message: format!("{} on {} {why}", l.path, fs.place),
        }),
        None => Ok((fs, f, None)),
    }
}

/// The code of the error that GRUB's partition map does not show the
/// partition a link is on.
pub const PARTITION_UNSEEN: &str = "boot.grub.partition_unseen";

/// The code of the error that GRUB's own filesystem driver refuses the
/// filesystem a link is on.
pub const FS_UNSUPPORTED: &str = "boot.grub.fs_unsupported";

/// ext4 incompatible features GRUB 2.06's ext2 driver reads
/// (fs/ext2.c `EXT2_DRIVER_SUPPORTED_INCOMPAT`) or ignores
/// (`EXT2_DRIVER_IGNORED_INCOMPAT`: needs_recovery, mmp,
/// metadata_csum_seed; large_dir as Debian's 2.06-13 carries it). Any
/// other one set makes `grub_ext2_mount` fail ("filesystem has
/// unsupported incompatible features"), so GRUB says "unknown
/// filesystem". grub-fstest of Debian's 2.06-13 agrees: it reads
/// large_dir, metadata_csum_seed, encrypt, meta_bg, 64bit and mmp
/// filesystems and none with casefold, inline_data or ea_inode.
const GRUB_EXT2_INCOMPAT: &[&str] = &[
    "filetype",
    "extent",
    "flex_bg",
    "meta_bg",
    "64bit",
    "encrypt",
    "needs_recovery",
    "mmp",
    "metadata_csum_seed",
    "large_dir",
];

/// Why GRUB's driver for `fs` refuses it, when it does.
fn grub_cannot_read(fs: &Filesystem) -> Option<String> {
    if !matches!(fs.kind.as_str(), "ext2" | "ext3" | "ext4") {
        return None;
    }
    let files = fs.files.as_ref()?;
    let unknown: Vec<String> = files
        .0
        .required_features()
        .into_iter()
        .filter(|f| !GRUB_EXT2_INCOMPAT.contains(&f.as_str()))
        .collect();
    (!unknown.is_empty()).then(|| {
        format!(
            "that ext4 has incompatible features GRUB 2.06's ext2 driver does not read ({}): it refuses to mount it (fs/ext2.c: \"filesystem has unsupported incompatible features\")",
            unknown.join(", ")
        )
    })
}

/// Why `f` cannot be loaded, if it cannot.
pub(crate) fn unusable(f: &BootFile) -> Option<String> {
    if !f.present {
        return Some("does not exist".into());
    }
    if f.dir {
        return Some("is a directory".into());
    }
    if let Some(p) = &f.problem {
        return Some(format!("does not read whole ({p})"));
    }
    if f.size == Some(0) {
        return Some("is empty".into());
    }
    None
}

enum Miss {
    Absent(String),
    NotFollowed(String),
    /// A UUID or label no filesystem on this disk has: GRUB's `search`
    /// looks on every disk (commands/search.c iterates all devices), and
    /// the machine's other disks are not in view.
    Elsewhere(String),
}

/// The warning for a `search` target on no filesystem of this disk.
fn elsewhere(who: &str, w: &str) -> String {
    format!(
        "{who} searches for a filesystem that is not on this disk ({w}): GRUB searches every disk of the machine, so this boots only if another disk holds it; if this is the machine's only disk, GRUB stops there (\"error: no such device\")"
    )
}

/// What GRUB loads from `<prefix>/<platform>`: the modules already in
/// its image, each module's dependencies (moddep.lst, which grub-install
/// writes from the modules' `.moddeps` sections, the list GRUB's
/// `grub_dl_resolve_dependencies` loads), and which module provides a
/// command (command.lst, read by normal.mod to load one on first use).
pub struct Modules<'a> {
    files: &'a dyn imgcheck_core::FileLookup,
    dir: String,
    loaded: Vec<String>,
    deps: std::collections::BTreeMap<String, Vec<String>>,
    commands: Option<std::collections::BTreeMap<String, String>>,
}

/// Modules in a dependency closure looked up (GRUB 2.06 ships ~280).
const MAX_MODULES: usize = 512;
/// Bytes of moddep.lst / command.lst read (real ones are 4–12 KiB).
const MAX_LST: u64 = 256 << 10;
/// Bytes of a module read for its `.moddeps` section (GRUB 2.06's largest
/// i386-pc and x86_64-efi modules are under 300 KiB).
const MAX_MOD: u64 = 1 << 20;

/// The names in the `.moddeps` section of the GRUB module (an ELF32 or
/// ELF64 relocatable object) in `elf`, as GRUB's loader reads them:
/// NUL-separated module names. `None` when the bytes are no ELF file
/// whose section headers and names lie inside them.
fn moddeps(elf: &[u8]) -> Option<Vec<String>> {
    let bytes = |at: u64, n: u64| -> Option<&[u8]> {
        let a = usize::try_from(at).ok()?;
        let e = a.checked_add(usize::try_from(n).ok()?)?;
        elf.get(a..e)
    };
    let uint = |at: u64, n: u64| -> Option<u64> {
        let b = bytes(at, n)?;
        Some(b.iter().rev().fold(0u64, |v, &x| (v << 8) | u64::from(x)))
    };
    if bytes(0, 4)? != b"\x7fELF" || bytes(5, 1)? != [1] {
        return None; // not ELF, or not little-endian (GRUB's x86 modules are)
    }
    // e_ident[EI_CLASS]: 1 ELF32, 2 ELF64; offsets of e_shoff,
    // e_shentsize, e_shnum, e_shstrndx and of a section header's
    // sh_name, sh_offset, sh_size, by class.
    let (shoff, shentsize, shnum, shstrndx, word, name, off, size) = match bytes(4, 1)? {
        [1] => (
            uint(0x20, 4)?,
            uint(0x2E, 2)?,
            uint(0x30, 2)?,
            uint(0x32, 2)?,
            4,
            0,
            0x10,
            0x14,
        ),
        [2] => (
            uint(0x28, 8)?,
            uint(0x3A, 2)?,
            uint(0x3C, 2)?,
            uint(0x3E, 2)?,
            8,
            0,
            0x18,
            0x20,
        ),
        _ => return None,
    };
    if shnum > 256 || shstrndx >= shnum {
        return None;
    }
    let header = |i: u64| shoff.checked_add(i.checked_mul(shentsize)?);
    let strtab = header(shstrndx)?;
    let names_at = uint(strtab.checked_add(off)?, word)?;
    let names_len = uint(strtab.checked_add(size)?, word)?;
    let names = bytes(names_at, names_len)?;
    for i in 0..shnum {
        let h = header(i)?;
        let n = usize::try_from(uint(h.checked_add(name)?, 4)?).ok()?;
        let title = names.get(n..)?.split(|&b| b == 0).next()?;
        if title == b".moddeps" {
            let at = uint(h.checked_add(off)?, word)?;
            let len = uint(h.checked_add(size)?, word)?;
            let list = bytes(at, len)?;
            return Some(
                list.split(|&b| b == 0)
                    .filter(|m| !m.is_empty())
                    .take(MAX_MODULES)
                    .map(|m| String::from_utf8_lossy(m).into_owned())
                    .collect(),
            );
        }
    }
    // No .moddeps section: a module with no dependencies.
    Some(Vec::new())
}

impl<'a> Modules<'a> {
    /// The lists in `<dir>/<platform>` on `files`; `loaded` the modules
    /// in GRUB's image.
    pub fn read(
        files: &'a dyn imgcheck_core::FileLookup,
        dir: &str,
        platform: &str,
        loaded: &[String],
    ) -> Self {
        let dir = format!("{dir}/{platform}");
        let text = |name: &str| {
            let f = files.lookup(&format!("{dir}/{name}"), MAX_LST);
            (f.present && !f.dir && f.problem.is_none())
                .then(|| String::from_utf8_lossy(&f.head).into_owned())
        };
        let mut deps = std::collections::BTreeMap::new();
        for line in text("moddep.lst")
            .unwrap_or_default()
            .lines()
            .take(MAX_MODULES * 4)
        {
            if let Some((m, d)) = line.split_once(':') {
                deps.insert(
                    m.trim().to_string(),
                    d.split_whitespace().map(str::to_string).collect(),
                );
            }
        }
        let commands = text("command.lst").map(|t| {
            t.lines()
                .take(MAX_MODULES * 4)
                .filter_map(|l| l.split_once(':'))
                .map(|(c, m)| {
                    (
                        c.trim().trim_start_matches('*').to_string(),
                        m.trim().to_string(),
                    )
                })
                .collect()
        });
        Modules {
            files,
            dir,
            loaded: loaded.to_vec(),
            deps,
            commands,
        }
    }

    /// The first module of `m` and its dependencies that GRUB must load
    /// from disk and cannot (its path, why), in the order GRUB loads
    /// them; `None` when all are there. Without moddep.lst only `m`
    /// itself is looked at.
    pub fn missing(&self, m: &str) -> Option<(String, String)> {
        let mut seen: Vec<String> = Vec::new();
        let mut todo: Vec<String> = vec![m.to_string()];
        while let Some(x) = todo.pop() {
            if seen.contains(&x) || seen.len() >= MAX_MODULES {
                continue;
            }
            seen.push(x.clone());
            // A module in the image is loaded with its dependencies
            // (grub-mkimage adds them).
            if self.loaded.contains(&x) {
                continue;
            }
            let path = format!("{}/{x}.mod", self.dir);
            let f = self.files.lookup(&path, MAX_MOD);
            if let Some(why) = unusable(&f) {
                return Some((path, why));
            }
            // GRUB's loader takes a module's dependencies from its own
            // .moddeps section (grub_dl_resolve_dependencies), not from
            // moddep.lst: an attack showed GRUB booting past a moddep.lst
            // naming a module that does not exist, and stopping on a
            // deleted gettext.mod that an edited moddep.lst no longer
            // named. moddep.lst serves only where the section cannot be
            // read (a module larger than what is read of it).
            let deps = moddeps(&f.head).or_else(|| self.deps.get(&x).cloned());
            todo.extend(deps.unwrap_or_default().into_iter().rev());
        }
        None
    }

    /// What keeps command `cmd` from loading, when command.lst names the
    /// module providing it.
    pub fn for_command(&self, cmd: &str) -> Option<(String, String)> {
        let m = self.commands.as_ref()?.get(cmd)?;
        self.missing(m)
    }
}

fn describe(d: &Device) -> String {
    match d {
        Device::Uuid(u) => format!("the filesystem with UUID {u}"),
        Device::Label(l) => format!("the filesystem labelled {l}"),
        Device::File(f) => format!("the filesystem holding {f}"),
        Device::Partition(n) => format!("partition {n}"),
        Device::Disk => "the whole disk".into(),
        Device::Other(o) => format!("({o})"),
        Device::Search { target, .. } => describe(target),
    }
}

fn resolve<'a>(d: &Device, fss: &'a [Filesystem]) -> Result<&'a Filesystem, Miss> {
    let found = match d {
        // The target; what a failed search kept is open_located's to try.
        Device::Search { target, .. } => return resolve(target, fss),
        Device::Uuid(u) => fss
            .iter()
            .find(|f| f.uuid.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(u))),
        Device::Label(l) => fss.iter().find(|f| {
            f.files
                .as_ref()
                .and_then(|x| x.0.label())
                .is_some_and(|x| x == *l)
        }),
        Device::File(p) => fss.iter().find(|f| {
            f.files
                .as_ref()
                .is_some_and(|x| x.0.lookup(p, NO_HEAD).present)
        }),
        Device::Partition(n) => fss.iter().find(|f| f.partition == Some(*n)),
        Device::Disk => {
            return Err(Miss::NotFollowed(
                "it names the whole disk, not a partition".into(),
            ));
        }
        Device::Other(o) => {
            return Err(Miss::NotFollowed(format!(
                "it names ({o}), which imgcheck does not follow"
            )));
        }
    };
    if let Some(f) = found {
        return Ok(f);
    }
    if matches!(d, Device::Label(_) | Device::File(_)) && fss.iter().any(|f| f.files.is_none()) {
        return Err(Miss::NotFollowed(format!(
            "{} is not among the filesystems whose files imgcheck reads",
            describe(d)
        )));
    }
    // `search` (by UUID, label or file) looks on every disk; only a
    // partition of the boot disk is known to be missing.
    if matches!(d, Device::Uuid(_) | Device::Label(_) | Device::File(_)) {
        return Err(Miss::Elsewhere(format!(
            "no filesystem on this disk is {}",
            describe(d).trim_start_matches("the ")
        )));
    }
    Err(Miss::Absent(match d {
        Device::Partition(n) => format!("partition {n} holds no filesystem imgcheck reads"),
        _ => format!(
            "no filesystem on this disk is {}",
            describe(d).trim_start_matches("the ")
        ),
    }))
}

//! GRUB's scripts as far as the boot chain follows them: the embedded
//! `load.cfg` grub-install writes (`search.fs_uuid U root hd0,gpt2`,
//! `set prefix=($root)'/boot/grub'`, util/grub-install.c) and the
//! grub.cfg grub-mkconfig writes (util/grub.d/10_linux.in: `menuentry`
//! blocks with `search --no-floppy --fs-uuid --set=root U`, `linux`,
//! `initrd`; Fedora's `blscfg`). Only these simple forms are read; a
//! line using anything else is left alone, never guessed at.

/// Where GRUB looks for a filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Device {
    /// `search --fs-uuid` / `search.fs_uuid`.
    Uuid(String),
    /// `search --label` / `search.fs_label`.
    Label(String),
    /// `search --file`: the filesystem holding that file.
    File(String),
    /// Partition `n` of the boot disk (`hd0,gpt2`, `hd0,msdos1`, `hd0,2`).
    Partition(u32),
    /// The boot disk itself, with no partition (`hd0`).
    Disk,
    /// Something this reader does not follow (`lvm/vg-root`, `md/0`,
    /// `cryptouuid/…`, `memdisk`, `hd1,…`), as written.
    Other(String),
}

/// A path on a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The device, `None` when nothing set it.
    pub device: Option<Device>,
    /// The path on its filesystem (`/boot/grub`).
    pub path: String,
}

/// Splits a GRUB script line into words: quotes removed, `#` comments
/// dropped, `;` ending a command (a second command on the line is kept
/// as its own word list).
pub fn words(line: &str) -> Vec<Vec<String>> {
    let mut cmds = vec![Vec::new()];
    let mut cur = String::new();
    let mut has = false;
    let mut q: Option<char> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (q, c) {
            (Some(x), c) if c == x => q = None,
            (Some('"'), '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                q = Some(c);
                has = true;
            }
            (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                    has = true;
                }
            }
            (None, '#') if !has && cur.is_empty() => break,
            (None, c) if c.is_whitespace() || c == ';' => {
                if has || !cur.is_empty() {
                    if let Some(last) = cmds.last_mut() {
                        last.push(std::mem::take(&mut cur));
                    }
                    has = false;
                }
                if c == ';' {
                    cmds.push(Vec::new());
                }
            }
            (None, c) => {
                cur.push(c);
                has = true;
            }
        }
    }
    if (has || !cur.is_empty())
        && let Some(last) = cmds.last_mut()
    {
        last.push(cur);
    }
    cmds.retain(|c| !c.is_empty());
    cmds
}

/// A device as GRUB names it (without the parentheses).
pub fn device(name: &str) -> Device {
    let mut parts = name.split(',');
    let disk = parts.next().unwrap_or_default();
    if disk != "hd0" {
        return Device::Other(name.to_string());
    }
    match (parts.next(), parts.next()) {
        (None, _) => Device::Disk,
        (Some(p), None) => {
            let n = p.trim_start_matches("gpt").trim_start_matches("msdos");
            n.parse()
                .map_or_else(|_| Device::Other(name.to_string()), Device::Partition)
        }
        // A BSD slice in a partition: not followed.
        (Some(_), Some(_)) => Device::Other(name.to_string()),
    }
}

/// What a `search` command sets, and into which variable.
fn search(args: &[String]) -> Option<(String, Device)> {
    let cmd = args.first()?.as_str();
    let rest = args.get(1..).unwrap_or_default();
    let (kind, var, target) = match cmd {
        "search.fs_uuid" | "search.fs_label" | "search.file" => {
            let t = rest.first()?.clone();
            let var = rest.get(1).cloned().unwrap_or_else(|| "root".into());
            (cmd.trim_start_matches("search."), var, t)
        }
        "search" => {
            let mut kind = "file";
            let mut var = None;
            let mut target = None;
            let mut i = 0usize;
            while let Some(a) = rest.get(i) {
                match a.as_str() {
                    "--fs-uuid" | "-u" => kind = "fs_uuid",
                    "--label" | "-l" => kind = "fs_label",
                    "--file" | "-f" => kind = "file",
                    "--set" | "-s" => {
                        // `--set VAR` or a bare `--set` (root).
                        match rest.get(i.saturating_add(1)) {
                            Some(v) if !v.starts_with('-') && rest.len() > i.saturating_add(2) => {
                                var = Some(v.clone());
                                i = i.saturating_add(1);
                            }
                            _ => var = Some("root".into()),
                        }
                    }
                    s if s.starts_with("--set=") => var = s.get(6..).map(str::to_string),
                    s if s.starts_with("--hint") => {
                        if !s.contains('=') {
                            i = i.saturating_add(1);
                        }
                    }
                    s if s.starts_with('-') => {}
                    s => target = Some(s.to_string()),
                }
                i = i.saturating_add(1);
            }
            (kind, var.unwrap_or_else(|| "root".into()), target?)
        }
        _ => return None,
    };
    let d = match kind {
        "fs_uuid" => Device::Uuid(target),
        "fs_label" => Device::Label(target),
        _ => Device::File(target),
    };
    Some((var, d))
}

/// A path as a script writes it (`($root)/boot/grub`, `(hd0,gpt2)/x`,
/// `/boot/vmlinuz`), with `root` the current `$root`.
pub fn locate(p: &str, root: Option<&Device>) -> Option<Located> {
    if let Some(rest) = p.strip_prefix('(') {
        let (dev, path) = rest.split_once(')')?;
        let device = match dev {
            "$root" | "${root}" => root.cloned(),
            d if d.contains('$') => return None,
            d => Some(device(d)),
        };
        return Some(Located {
            device,
            path: if path.is_empty() {
                "/".into()
            } else {
                path.to_string()
            },
        });
    }
    if p.contains('$') || !p.starts_with('/') {
        return None;
    }
    Some(Located {
        device: root.cloned(),
        path: p.to_string(),
    })
}

/// Variables a script sets as it runs, as far as this reader follows.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    /// `$root`.
    pub root: Option<Device>,
    /// `$prefix`, located.
    pub prefix: Option<Located>,
}

impl Vars {
    /// Runs one command's effect on the variables.
    pub fn apply(&mut self, cmd: &[String]) {
        if let Some((var, d)) = search(cmd) {
            if var == "root" {
                self.root = Some(d);
            }
            return;
        }
        if cmd.first().map(String::as_str) == Some("set")
            && let Some((k, v)) = cmd.get(1).and_then(|a| a.split_once('='))
        {
            match k {
                "root" => {
                    let v = v.trim_start_matches('(').trim_end_matches(')');
                    if !v.contains('$') {
                        self.root = Some(device(v));
                    }
                }
                "prefix" => self.prefix = locate(v, self.root.as_ref()),
                _ => {}
            }
        }
    }
}

/// The embedded config run over the kernel's built-in prefix: where GRUB
/// looks for its modules and grub.cfg.
pub fn boot_prefix(config: Option<&str>, prefix: Option<&str>) -> Vars {
    let mut v = Vars::default();
    if let Some(p) = prefix {
        // The built-in prefix: `(dev)/path`, or a bare path on the device
        // GRUB was loaded from (unknown here, unless the config sets root).
        v.prefix = locate(p, None);
    }
    for line in config.unwrap_or_default().lines() {
        for cmd in words(line) {
            v.apply(&cmd);
        }
    }
    if let Some(p) = &mut v.prefix
        && p.device.is_none()
    {
        p.device = v.root.clone();
    }
    v
}

/// One boot entry of grub.cfg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its title.
    pub title: String,
    /// The kernel (`linux`, `linux16`, `linuxefi`), located.
    pub linux: Option<Located>,
    /// The kernel's path as written, when it could not be located.
    pub linux_raw: Option<String>,
    /// The initramfs images (`initrd`…), located.
    pub initrd: Vec<Located>,
    /// A top-level entry (the ones `set default=N` counts), not one in a
    /// submenu.
    pub top_level: bool,
}

/// What grub.cfg says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// Top-level menu entries, in order (submenus' entries after them,
    /// not counted for the default).
    pub entries: Vec<Entry>,
    /// Top-level entries (the default counts these).
    pub top: usize,
    /// The default entry's index, when it is a plain number or title;
    /// `None` when a variable picks it (`${saved_entry}`, grubenv).
    pub default: Option<usize>,
    /// It runs `blscfg` (Fedora: entries from loader/entries/*.conf).
    pub blscfg: bool,
    /// A `configfile` it hands over to, located.
    pub configfile: Option<Located>,
}

/// Bytes of grub.cfg read.
pub const MAX_CFG: u64 = 1 << 20;
/// Entries kept.
const MAX_ENTRIES: usize = 256;

/// Reads grub.cfg `text`, with `vars` the state GRUB enters it in.
pub fn parse(text: &str, vars: &Vars) -> Config {
    let mut c = Config::default();
    let mut top = vars.clone();
    let mut default_word: Option<String> = None;
    // The entry being read: its vars and its brace depth.
    let mut cur: Option<(Entry, Vars, usize)> = None;
    let mut depth = 0usize;
    let mut submenu_depth: Option<usize> = None;
    // The top-level menu in order, as `set default=N` counts it: GRUB
    // numbers submenus among the entries (`Some(k)`: the k-th top-level
    // entry; `None`: a submenu).
    let mut menu: Vec<Option<usize>> = Vec::new();
    let mut top_entries = 0usize;
    for line in text.lines() {
        for mut cmd in words(line) {
            // `if linux …; then initrd …` runs the same commands: the
            // script keywords in front are dropped.
            while cmd
                .first()
                .is_some_and(|w| matches!(w.as_str(), "if" | "then" | "else" | "elif" | "fi"))
            {
                cmd.remove(0);
            }
            let Some(first) = cmd.first().map(String::as_str) else {
                continue;
            };
            let opens = cmd.last().is_some_and(|w| w == "{" || w.ends_with('{'));
            if first == "}" {
                depth = depth.saturating_sub(1);
                if cur.as_ref().is_some_and(|(_, _, d)| *d == depth) {
                    if let Some((e, _, _)) = cur.take()
                        && c.entries.len() < MAX_ENTRIES
                    {
                        c.entries.push(e);
                    }
                } else if submenu_depth == Some(depth) {
                    submenu_depth = None;
                }
                continue;
            }
            match (first, &mut cur) {
                ("menuentry", None) => {
                    if submenu_depth.is_none() {
                        c.top = c.top.saturating_add(1);
                        if menu.len() < MAX_MENU {
                            menu.push(Some(top_entries));
                        }
                        top_entries = top_entries.saturating_add(1);
                    }
                    let title = cmd.get(1).cloned().unwrap_or_default();
                    let e = Entry {
                        title,
                        linux: None,
                        linux_raw: None,
                        initrd: Vec::new(),
                        top_level: submenu_depth.is_none(),
                    };
                    cur = Some((e, top.clone(), depth));
                }
                ("submenu", None) => {
                    if submenu_depth.is_none() {
                        c.top = c.top.saturating_add(1);
                        if menu.len() < MAX_MENU {
                            menu.push(None);
                        }
                        submenu_depth = Some(depth);
                    }
                }
                ("linux" | "linux16" | "linuxefi", Some((e, v, _))) => {
                    if let Some(p) = cmd.get(1) {
                        e.linux = locate(p, v.root.as_ref());
                        e.linux_raw = Some(p.clone());
                    }
                }
                ("initrd" | "initrd16" | "initrdefi", Some((e, v, _))) => {
                    for p in cmd.get(1..).unwrap_or_default() {
                        if let Some(l) = locate(p, v.root.as_ref()) {
                            e.initrd.push(l);
                        }
                    }
                }
                (_, Some((_, v, _))) => v.apply(&cmd),
                ("blscfg", None) => c.blscfg = true,
                ("configfile", None) => {
                    c.configfile = cmd.get(1).and_then(|p| {
                        // `configfile $prefix/grub.cfg` (the ESP stub
                        // grub-install writes for a signed GRUB).
                        let rest = p
                            .strip_prefix("${prefix}")
                            .or_else(|| p.strip_prefix("$prefix"));
                        match (rest, &top.prefix) {
                            (Some(r), Some(pre)) => Some(Located {
                                device: pre.device.clone(),
                                path: format!("{}{r}", pre.path.trim_end_matches('/')),
                            }),
                            _ => locate(p, top.root.as_ref()),
                        }
                    });
                }
                ("set", None) => {
                    if let Some(d) = cmd.get(1).and_then(|a| a.strip_prefix("default=")) {
                        default_word = Some(d.to_string());
                    }
                    top.apply(&cmd);
                }
                (_, None) => top.apply(&cmd),
            }
            if opens {
                depth = depth.saturating_add(1);
            }
        }
    }
    let nth_top = |n: usize| {
        c.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.top_level)
            .nth(n)
            .map(|(i, _)| i)
    };
    c.default = match default_word.as_deref() {
        Some(d) if d.contains('$') || d == "saved" => None,
        // A number counts submenus too; a title matches a top-level
        // entry. Anything else (`1>0` into a submenu, an `--id`, a
        // number naming a submenu) is not resolved here: unknown, so the
        // chain fails only when no entry can boot.
        Some(d) => match d.parse::<usize>() {
            // Past the end, GRUB falls back to item 0.
            Ok(n) => menu
                .get(n)
                .or_else(|| menu.first())
                .copied()
                .flatten()
                .and_then(nth_top),
            Err(_) => c.entries.iter().position(|e| e.top_level && e.title == d),
        },
        None => menu.first().copied().flatten().and_then(nth_top),
    };
    c
}

/// Top-level menu items kept for `set default=N` (GRUB menus are far
/// smaller; a bound keeps a hostile grub.cfg from growing it).
const MAX_MENU: usize = 4096;

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
}

/// Reads a BLS entry: `key value` lines, `#` comments.
pub fn bls(text: &str) -> BlsEntry {
    let mut e = BlsEntry::default();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let (k, v) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let v = v.trim().to_string();
        match k {
            "title" => e.title = Some(v),
            "linux" => e.linux = Some(v),
            "initrd" => e.initrd.extend(v.split_whitespace().map(str::to_string)),
            "efi" => e.efi = Some(v),
            _ => {}
        }
    }
    e
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    /// GRUB numbers submenus among the entries; ids and `1>0` paths are
    /// not resolved here (unknown default, not entry 0). Found by an
    /// attack: each of these was reported as a failing default.
    #[test]
    fn the_default_counts_submenus_and_leaves_ids_and_paths_unknown() {
        let cfg = |d: &str| {
            format!(
                "set default={d}\nmenuentry 'X' {{\n linux /x\n}}\nsubmenu 'S' {{\n menuentry 'S0' {{\n  linux /s\n }}\n}}\nmenuentry 'B' --id bid {{\n linux /b\n}}\n"
            )
        };
        let title = |d: &str| {
            let c = parse(&cfg(d), &Vars::default());
            c.default.map(|i| c.entries[i].title.clone())
        };
        assert_eq!(title("0").as_deref(), Some("X"));
        assert_eq!(title("2").as_deref(), Some("B"));
        assert_eq!(title("1"), None, "a submenu");
        assert_eq!(title("\"1>0\""), None);
        assert_eq!(title("bid"), None);
        assert_eq!(title("9").as_deref(), Some("X"), "GRUB falls back to 0");
        assert_eq!(title("B").as_deref(), Some("B"));
    }

    #[test]
    fn grub_install_load_cfg_names_the_uuid_and_prefix() {
        let v = boot_prefix(
            Some("search.fs_uuid 5a5a-01 root hd0,gpt3 \nset prefix=($root)'/boot/grub'\n"),
            Some("/boot/grub"),
        );
        let p = v.prefix.unwrap();
        assert_eq!(p.device, Some(Device::Uuid("5a5a-01".into())));
        assert_eq!(p.path, "/boot/grub");
        let v = boot_prefix(None, Some("(hd0,msdos1)/grub"));
        assert_eq!(v.prefix.unwrap().device, Some(Device::Partition(1)));
        let v = boot_prefix(None, Some("(lvm/vg-root)/boot/grub"));
        assert!(matches!(v.prefix.unwrap().device, Some(Device::Other(_))));
    }

    #[test]
    fn mkconfig_entries_locate_kernels_on_their_search_root() {
        let cfg = r#"
set default="0"
menuentry 'Debian GNU/Linux' --class debian $menuentry_id_option 'gnulinux-simple-u' {
	insmod ext2
	search --no-floppy --fs-uuid --set=root --hint-bios=hd0,gpt2 --hint='hd0,gpt2'  1111-2222
	echo	'Loading Linux 6.1.0-18-amd64 ...'
	linux	/boot/vmlinuz-6.1.0-18-amd64 root=UUID=1111-2222 ro  quiet
	initrd	/boot/initrd.img-6.1.0-18-amd64
}
submenu 'Advanced options' {
	menuentry 'x' {
		linux (hd0,gpt3)/vmlinuz
	}
}
"#;
        let c = parse(cfg, &Vars::default());
        assert_eq!(c.top, 2);
        assert_eq!(c.entries.len(), 2);
        let e = &c.entries[0];
        let l = e.linux.as_ref().unwrap();
        assert_eq!(l.device, Some(Device::Uuid("1111-2222".into())));
        assert_eq!(l.path, "/boot/vmlinuz-6.1.0-18-amd64");
        assert_eq!(e.initrd.len(), 1);
        assert_eq!(
            c.entries[1].linux.as_ref().unwrap().device,
            Some(Device::Partition(3))
        );
    }

    #[test]
    fn an_esp_stub_hands_over_to_the_prefix_grub_cfg() {
        let stub = "search.fs_uuid 1111-2222 root\nset prefix=($root)'/boot/grub'\nconfigfile $prefix/grub.cfg\n";
        let c = parse(stub, &Vars::default());
        let l = c.configfile.unwrap();
        assert_eq!(l.device, Some(Device::Uuid("1111-2222".into())));
        assert_eq!(l.path, "/boot/grub/grub.cfg");
    }

    #[test]
    fn a_saved_default_is_unknown_not_the_first_entry() {
        let cfg = "set default=\"${saved_entry}\"\nmenuentry 'a' {\n linux /a\n}\n";
        assert_eq!(parse(cfg, &Vars::default()).default, None);
        let cfg = "set default=1\nmenuentry 'a' {\n linux /a\n}\nmenuentry 'b' {\n linux /b\n}\n";
        assert_eq!(parse(cfg, &Vars::default()).default, Some(1));
    }

    #[test]
    fn bls_entries_keep_every_initrd() {
        let e =
            bls("title Fedora\nlinux /vmlinuz-6\ninitrd /initramfs-6.img\ninitrd /x.img\n# c\n");
        assert_eq!(e.linux.as_deref(), Some("/vmlinuz-6"));
        assert_eq!(e.initrd, vec!["/initramfs-6.img", "/x.img"]);
    }
}

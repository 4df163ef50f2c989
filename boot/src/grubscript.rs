//! GRUB's script language as far as the boot chain follows it: the
//! lexer (grub-core/script/yylex.l), device names, `search` and `set`,
//! variables and their expansion, and the `[ … ]` tests an `if` runs
//! (commands/test.c). What GRUB 2.06 does with each is named where the
//! code follows it; anything else is left unknown, never guessed at.

use std::collections::{BTreeMap, BTreeSet};

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
    /// What a `search --set=root` leaves in `$root`: `target` where some
    /// disk of the machine holds it, else `kept`, the root before the
    /// search (commands/search.c sets the variable only on a match; a
    /// failed search prints "no such device" and the script goes on).
    Search {
        /// What was searched for.
        target: Box<Device>,
        /// `$root` before the search, `None` when it was not known.
        kept: Option<Box<Device>>,
    },
}

/// `search` results kept inside one another (each search wraps the root
/// before it); deeper ones forget what they kept, so a hostile grub.cfg
/// of many searches cannot grow a deep chain.
const MAX_SEARCH_NEST: usize = 4;

impl Device {
    /// How many searches deep this is.
    fn nest(&self) -> usize {
        match self {
            Device::Search { kept: Some(k), .. } => k.nest().saturating_add(1),
            Device::Search { kept: None, .. } => 1,
            _ => 0,
        }
    }

    /// What a search for `target` leaves in a root that was `before`.
    pub fn searched(target: Device, before: Option<Device>) -> Device {
        let kept = before.filter(|b| b.nest() < MAX_SEARCH_NEST).map(Box::new);
        Device::Search {
            target: Box::new(target),
            kept,
        }
    }

    /// The device searched for, for a search result; the device itself
    /// otherwise.
    pub fn target(&self) -> &Device {
        match self {
            Device::Search { target, .. } => target,
            d => d,
        }
    }
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
/// as its own word list). An unquoted `{` or `}` is a token of its own
/// wherever it stands (GRUB's yylex.l: `CHAR` excludes both, so
/// `menuentry 'x' { linux /k; initrd /i }` is three commands: the
/// opener ending in `{`, `linux /k`, `initrd /i`, then `}`), except in a
/// `${name}` variable.
pub fn words(line: &str) -> Vec<Vec<String>> {
    let mut cmds = vec![Vec::new()];
    let mut cur = String::new();
    let mut has = false;
    let mut q: Option<char> = None;
    let mut chars = line.chars().peekable();
    let flush = |cmds: &mut Vec<Vec<String>>, cur: &mut String, has: &mut bool| {
        if *has || !cur.is_empty() {
            if let Some(last) = cmds.last_mut() {
                last.push(std::mem::take(cur));
            }
            *has = false;
        }
    };
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
            (None, '$') if chars.peek() == Some(&'{') => {
                // `${name}`: the braces belong to the variable.
                cur.push('$');
                has = true;
                for n in chars.by_ref() {
                    cur.push(n);
                    if n == '}' {
                        break;
                    }
                }
            }
            (None, '#') if !has && cur.is_empty() => break,
            (None, '{') => {
                flush(&mut cmds, &mut cur, &mut has);
                if let Some(last) = cmds.last_mut() {
                    last.push("{".into());
                }
                cmds.push(Vec::new());
            }
            (None, '}') => {
                flush(&mut cmds, &mut cur, &mut has);
                cmds.push(vec!["}".into()]);
                cmds.push(Vec::new());
            }
            (None, c) if c.is_whitespace() || c == ';' => {
                flush(&mut cmds, &mut cur, &mut has);
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
    flush(&mut cmds, &mut cur, &mut has);
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
pub(crate) fn search(args: &[String]) -> Option<(String, Device)> {
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
/// A variable nothing set is empty, as GRUB expands it; one set in a way
/// this reader does not follow (a command's `--set`, an assignment in a
/// branch that may not run, a function body) is unknown.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    /// `$root`.
    pub root: Option<Device>,
    /// `$prefix`, located.
    pub prefix: Option<Located>,
    /// Other variables `set` or `load_env` gave a plain value.
    pub env: BTreeMap<String, String>,
    /// Variables whose value is not known here.
    pub unknown: BTreeSet<String>,
    /// Every variable not in `env` is unknown (after an `eval`, or a
    /// `load_env` of a file not read).
    pub all_unknown: bool,
    /// Variables `export`ed: the ones a `configfile` context keeps
    /// (kern/env.c `grub_env_context_open`).
    pub exported: BTreeSet<String>,
}

/// Variables GRUB itself sets whose value depends on the machine or the
/// moment (kern/main.c, normal/main.c, menu.c): unknown here.
const GRUB_SET: &[&str] = &[
    "root",
    "prefix",
    "cmdpath",
    "chosen",
    "lang",
    "locale_dir",
    "secondary_locale_dir",
    "pager",
    "color_normal",
    "color_highlight",
    "package_version",
    "config_directory",
    "config_file",
    "fw_path",
    "gfxmode",
    "gfxpayload",
    "grub_cpu",
    "grub_platform",
    "net_default_interface",
    "net_default_ip",
    "net_default_mac",
    "net_default_server",
    "pxe_default_server",
    "check_signatures",
    "lockdown",
    "shim_lock",
    "superusers",
];

/// Variables kept from `set` (a grub.cfg sets tens).
const MAX_SET_VARS: usize = 1024;

impl Vars {
    /// The value of `$name`: set, empty when nothing set it (GRUB expands
    /// an unset variable to nothing), `y` for the `feature_*` flags
    /// normal.mod sets, `None` when it is not known here.
    pub fn value(&self, name: &str) -> Option<String> {
        if let Some(v) = self.env.get(name) {
            return Some(v.clone());
        }
        let plain = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !plain || self.all_unknown || self.unknown.contains(name) || GRUB_SET.contains(&name) {
            // `$1`, `$?`, `$@` and GRUB's own variables: not known here.
            return None;
        }
        if name.starts_with("feature_") {
            // normal/main.c sets every feature_* it knows to "y"; one
            // it does not know is unset, but which are known depends on
            // the version.
            return FEATURES.contains(&name).then(|| "y".to_string());
        }
        Some(String::new())
    }

    /// `k` set to `v`, or to a value not known here (`None`).
    pub fn assign(&mut self, k: &str, v: Option<String>) {
        match v {
            Some(v) if self.env.len() < MAX_SET_VARS || self.env.contains_key(k) => {
                self.unknown.remove(k);
                self.env.insert(k.to_string(), v);
            }
            _ => self.forget(k),
        }
    }

    /// `k` made unknown.
    pub fn forget(&mut self, k: &str) {
        self.env.remove(k);
        if self.unknown.len() < MAX_SET_VARS {
            self.unknown.insert(k.to_string());
        } else {
            self.all_unknown = true;
        }
    }

    /// The variables a `configfile` starts with: the exported ones, and
    /// `$root` and `$prefix` (kern/main.c exports both).
    pub fn context(&self) -> Vars {
        Vars {
            root: self.root.clone(),
            prefix: self.prefix.clone(),
            env: self
                .env
                .iter()
                .filter(|(k, _)| self.exported.contains(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            unknown: self
                .unknown
                .iter()
                .filter(|k| self.exported.contains(*k))
                .cloned()
                .collect(),
            all_unknown: self.all_unknown,
            exported: self.exported.clone(),
        }
    }

    /// `w` with `$name` and `${name}` replaced by their values, or
    /// `None` when one is not known here ([`Vars::value`]). `$root` and
    /// `$prefix` are not expanded.
    pub fn expand(&self, w: &str) -> Option<String> {
        let mut out = String::new();
        let mut rest = w;
        while let Some(i) = rest.find('$') {
            out.push_str(rest.get(..i)?);
            let after = rest.get(i.saturating_add(1)..)?;
            let (name, tail) = if let Some(b) = after.strip_prefix('{') {
                let end = b.find('}')?;
                (b.get(..end)?, b.get(end.saturating_add(1)..)?)
            } else {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (after.get(..end)?, after.get(end..)?)
            };
            out.push_str(&self.value(name)?);
            rest = tail;
        }
        out.push_str(rest);
        Some(out)
    }

    /// A path word located: `$prefix/x` and `${prefix}/x` on the prefix,
    /// `$config_directory/x` likewise (normal/main.c sets it to the
    /// directory of the grub.cfg being read, which is the prefix for
    /// every file this reader follows), other variables expanded.
    pub fn locate_word(&self, p: &str) -> Option<Located> {
        for v in [
            "${prefix}",
            "$prefix",
            "${config_directory}",
            "$config_directory",
        ] {
            if let Some(r) = p.strip_prefix(v) {
                let pre = self.prefix.as_ref()?;
                return Some(Located {
                    device: pre.device.clone(),
                    path: format!("{}{r}", pre.path.trim_end_matches('/')),
                });
            }
        }
        let root_marked = p.starts_with("($root)") || p.starts_with("(${root})");
        if root_marked {
            return locate(p, self.root.as_ref());
        }
        locate(&self.expand(p)?, self.root.as_ref())
    }

    /// Runs one command's effect on the variables; `sure` is false where
    /// the command may not run (a branch whose test is not known here, a
    /// function body), so what it sets becomes unknown.
    pub fn apply(&mut self, cmd: &[String], sure: bool) {
        if let Some((var, d)) = search(cmd) {
            if var == "root" {
                self.root = if sure {
                    Some(Device::searched(d, self.root.clone()))
                } else {
                    Some(Device::Other(
                        "a root set in a branch that may not run".into(),
                    ))
                };
            } else {
                self.forget(&var);
            }
            return;
        }
        let first = cmd.first().map(String::as_str);
        match first {
            Some("unset") => {
                for k in cmd.get(1..).unwrap_or_default() {
                    if sure {
                        self.env.remove(k);
                        self.unknown.remove(k);
                    } else {
                        self.forget(k);
                    }
                }
                return;
            }
            Some("export") => {
                for k in cmd.get(1..).unwrap_or_default() {
                    if self.exported.len() < MAX_SET_VARS {
                        self.exported.insert(k.clone());
                    }
                }
                return;
            }
            Some("eval") => {
                self.all_unknown = true;
                return;
            }
            Some("read" | "getenv") => {
                for k in cmd.get(1..).unwrap_or_default() {
                    if !k.starts_with('-') {
                        self.forget(k);
                    }
                }
                return;
            }
            _ => {}
        }
        // `set k=v`, or the bare `k=v` assignment GRUB scripts allow.
        let assign = match (first, cmd.len()) {
            (Some("set"), _) => cmd.get(1),
            (Some(w), 1) if w.contains('=') && !w.starts_with('=') => cmd.first(),
            _ => None,
        };
        if let Some((k, v)) = assign.and_then(|a| a.split_once('=')) {
            match k {
                "root" => {
                    let v = v.trim_start_matches('(').trim_end_matches(')');
                    self.root = if !sure {
                        Some(Device::Other(
                            "a root set in a branch that may not run".into(),
                        ))
                    } else if v.contains('$') {
                        None
                    } else {
                        Some(device(v))
                    };
                }
                "prefix" => {
                    self.prefix = if sure {
                        locate(v, self.root.as_ref())
                    } else {
                        None
                    }
                }
                _ => {
                    let v = if sure { self.expand(v) } else { None };
                    self.assign(k, v);
                }
            }
            return;
        }
        // Another command that stores into a variable (`regexp --set`,
        // `probe --set`, `smbios --set`): that variable is unknown.
        let mut words = cmd.iter().skip(1).peekable();
        while let Some(w) = words.next() {
            if let Some(v) = w.strip_prefix("--set=") {
                // regexp's `--set=N:name` names the variable after ':'.
                self.forget(v.rsplit(':').next().unwrap_or(v));
            } else if w == "--set" || w == "-s" {
                match words.peek() {
                    Some(v) if !v.starts_with('-') => {
                        let v = v.rsplit(':').next().unwrap_or(v).to_string();
                        self.forget(&v);
                    }
                    _ => self.forget("root"),
                }
            }
        }
    }
}

/// The `feature_*` variables GRUB 2.06's normal.mod sets to `y`.
const FEATURES: &[&str] = &[
    "feature_chainloader_bpb",
    "feature_ntldr",
    "feature_platform_search_hint",
    "feature_default_font_path",
    "feature_all_video_module",
    "feature_menuentry_id",
    "feature_menuentry_options",
    "feature_200_final",
    "feature_nativedisk_cmd",
    "feature_timeout_style",
];

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
            v.apply(&cmd, true);
        }
    }
    if let Some(p) = &mut v.prefix
        && p.device.is_none()
    {
        p.device = v.root.clone();
    }
    v
}

/// What a file test (`-s`, `-f`, `-e`, `-d`) asks of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileTest {
    /// `-e`: it exists.
    Exists,
    /// `-f`: it is a regular file.
    File,
    /// `-d`: it is a directory.
    Dir,
    /// `-s`: it is not empty.
    NonEmpty,
}

impl Vars {
    /// The value of GRUB's `[ … ]` / `test …` over `args` (the words
    /// between `[` and `]`), as commands/test.c computes it for the forms
    /// grub-mkconfig writes: a string alone, `-n`/`-z`, `=`/`==`/`!=`,
    /// `!`, and the file tests through `file` (`None`: not known). `None`
    /// when a word or a form is not known here.
    pub fn test(
        &self,
        args: &[String],
        file: &mut dyn FnMut(&Located, FileTest) -> Option<bool>,
    ) -> Option<bool> {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (neg, args) = match args.split_first() {
            Some((&"!", rest)) => (true, rest),
            _ => (false, args.as_slice()),
        };
        let v = match args {
            [] => false,
            [s] => !self.expand(s)?.is_empty(),
            ["-n", s] => !self.expand(s)?.is_empty(),
            ["-z", s] => self.expand(s)?.is_empty(),
            [op @ ("-e" | "-f" | "-d" | "-s"), f] => {
                let l = self.locate_word(f)?;
                let t = match *op {
                    "-e" => FileTest::Exists,
                    "-f" => FileTest::File,
                    "-d" => FileTest::Dir,
                    _ => FileTest::NonEmpty,
                };
                file(&l, t)?
            }
            [a, "=" | "==", b] => self.expand(a)? == self.expand(b)?,
            [a, "!=", b] => self.expand(a)? != self.expand(b)?,
            _ => return None,
        };
        Some(v != neg)
    }
}

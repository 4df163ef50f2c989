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
///
/// A `$` GRUB takes literally (inside single quotes, or escaped with a
/// backslash) is kept as [`LITERAL_DOLLAR`], which [`Vars::expand`]
/// gives back as `$` without expanding it; [`literal`] does the same
/// for a word shown as written.
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
                    cur.push(lit(n));
                }
            }
            (Some('\''), '$') => cur.push(LITERAL_DOLLAR),
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                q = Some(c);
                has = true;
            }
            (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(lit(n));
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

/// `name` for a word that is exactly `$name` or `${name}`.
fn var_name(w: &str) -> Option<&str> {
    let n = w.strip_prefix('$')?;
    let n = match n.strip_prefix('{') {
        Some(b) => b.strip_suffix('}')?,
        None => n,
    };
    (!n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')).then_some(n)
}

/// What a `$` GRUB does not expand (single-quoted, or escaped) is kept
/// as in a word from [`words`]: a private-use character no grub.cfg
/// means as text.
pub const LITERAL_DOLLAR: char = '\u{F8FF}';

fn lit(c: char) -> char {
    if c == '$' { LITERAL_DOLLAR } else { c }
}

/// A word from [`words`] as written, its literal `$`s given back.
pub fn literal(w: &str) -> String {
    w.replace(LITERAL_DOLLAR, "$")
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
    /// Variables other than `$root` a `search --set=VAR` set: the device
    /// they name (`($dev)/…`, `set root=$dev`); their text, a device name
    /// such as `hd0,gpt2`, is not known here.
    pub devs: BTreeMap<String, Device>,
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
                self.devs.remove(k);
                self.env.insert(k.to_string(), v);
            }
            _ => self.forget(k),
        }
    }

    /// `k` made unknown.
    pub fn forget(&mut self, k: &str) {
        self.env.remove(k);
        self.devs.remove(k);
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
            devs: self
                .devs
                .iter()
                .filter(|(k, _)| self.exported.contains(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
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
        Some(literal(&out))
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
                let r = self.expand(r)?;
                return Some(Located {
                    device: pre.device.clone(),
                    path: format!("{}{r}", pre.path.trim_end_matches('/')),
                });
            }
        }
        // `($root)/…`, `($dev)/…`: the device a variable names.
        if let Some((dev, r)) = p.strip_prefix('(').and_then(|r| r.split_once(')'))
            && let Some(name) = var_name(dev)
        {
            let device = if name == "root" {
                self.root.clone()
            } else {
                Some(self.devs.get(name)?.clone())
            };
            let r = self.expand(r)?;
            return Some(Located {
                device,
                path: if r.is_empty() { "/".into() } else { r },
            });
        }
        locate(&self.expand(p)?, self.root.as_ref())
    }

    /// Runs one command's effect on the variables; `sure` is false where
    /// the command may not run (a branch whose test is not known here, a
    /// function body), so what it sets becomes unknown.
    pub fn apply(&mut self, cmd: &[String], sure: bool) {
        if let Some((var, d)) = search(cmd) {
            // commands/search.c sets whichever variable `--set` names
            // (root by default) to the device found; Fedora's ESP stub
            // writes `search --fs-uuid --set=dev U` and `($dev)/…`.
            let before = if var == "root" {
                self.root.clone()
            } else {
                self.devs.get(&var).cloned()
            };
            let d = if sure {
                Device::searched(d, before)
            } else {
                Device::Other(format!("a {var} set in a branch that may not run"))
            };
            if var == "root" {
                self.root = Some(d);
            } else {
                self.forget(&var);
                if self.devs.len() < MAX_SET_VARS {
                    self.devs.insert(var, d);
                }
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
                    } else if let Some(name) = var_name(v) {
                        // `set root=$dev` after `search --set=dev`.
                        match name {
                            "root" => self.root.clone(),
                            n => self.devs.get(n).cloned(),
                        }
                    } else if v.contains('$') {
                        self.expand(v).map(|v| device(&v))
                    } else {
                        Some(device(&literal(v)))
                    };
                }
                "prefix" => self.prefix = if sure { self.locate_word(v) } else { None },
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
    boot_prefix_without(config, prefix, &|_| false)
}

/// [`boot_prefix`] with the commands `unknown` says GRUB does not have
/// (their module is not in its image) skipped, as GRUB's parser skips
/// them: it prints "Unknown command" and runs the next line.
pub fn boot_prefix_without(
    config: Option<&str>,
    prefix: Option<&str>,
    unknown: &dyn Fn(&[String]) -> bool,
) -> Vars {
    let mut v = Vars::default();
    if let Some(p) = prefix {
        // The built-in prefix: `(dev)/path`, or a bare path on the device
        // GRUB was loaded from (unknown here, unless the config sets root).
        v.prefix = locate(p, None);
        // kern/main.c (grub_set_prefix_and_root) sets `$root` from the
        // prefix's device before the embedded config runs, so a config
        // whose `search` is unknown still finds `($root)` there (attackC:
        // `-p (hd0,gpt3)/boot/grub` without search.mod boots).
        v.root = v.prefix.as_ref().and_then(|l| l.device.clone());
    }
    for line in config.unwrap_or_default().lines() {
        for cmd in words(line) {
            if !unknown(&cmd) {
                v.apply(&cmd, true);
            }
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
    /// between `[` and `]`), as GRUB 2.06's commands/test.c `test_parse`
    /// computes it: the three-word tests first (`=`/`==`/`!=`, `<` `<=`
    /// `>` `>=` byte order, `-eq` `-ne` `-lt` `-le` `-gt` `-ge` over
    /// `grub_strtosl`), then the two-word ones (`-n`, `-z`, and the file
    /// tests `-e` `-f` `-d` `-s` through `file`, `None`: not known), then
    /// `(` `)`, `!`, `-a`, `-o` and a word alone (true when not empty);
    /// an empty test is true. `None` when a word or a form is not known
    /// here (`-pgt`, `-nt`, a number this reader does not read the way
    /// every GRUB platform does).
    pub fn test(
        &self,
        args: &[String],
        file: &mut dyn FnMut(&Located, FileTest) -> Option<bool>,
    ) -> Option<bool> {
        // GRUB expands every word before `[` runs.
        let w: Vec<(&str, Option<String>)> =
            args.iter().map(|a| (a.as_str(), self.expand(a))).collect();
        let mut n = 0usize;
        // `(` nests; each level moves `n` on, so the depth is bounded
        // by the words.
        self.test_parse(&w, &mut n, file, 0)
    }

    fn test_parse(
        &self,
        w: &[(&str, Option<String>)],
        n: &mut usize,
        file: &mut dyn FnMut(&Located, FileTest) -> Option<bool>,
        depth: usize,
    ) -> Option<bool> {
        if depth > MAX_TEST_NEST {
            return None;
        }
        let (mut and, mut or, mut invert) = (true, false, false);
        let val = |k: usize| w.get(k).and_then(|x| x.1.as_deref());
        // A word whose value is not known but holds a `/` is no operator.
        let op_at = |k: usize| -> Option<&str> {
            match w.get(k) {
                Some((_, Some(v))) => Some(v.as_str()),
                Some((raw, None)) if raw.contains('/') => Some(""),
                _ => None,
            }
        };
        while *n < w.len() {
            let i = *n;
            let mut v = None;
            if i.saturating_add(2) < w.len() {
                let op = op_at(i.saturating_add(1))?;
                let (a, b) = (i, i.saturating_add(2));
                v = match op {
                    "=" | "==" => Some(val(a)? == val(b)?),
                    "!=" => Some(val(a)? != val(b)?),
                    "<" => Some(val(a)?.as_bytes() < val(b)?.as_bytes()),
                    "<=" => Some(val(a)?.as_bytes() <= val(b)?.as_bytes()),
                    ">" => Some(val(a)?.as_bytes() > val(b)?.as_bytes()),
                    ">=" => Some(val(a)?.as_bytes() >= val(b)?.as_bytes()),
                    "-eq" | "-ne" | "-lt" | "-le" | "-gt" | "-ge" => {
                        let (x, y) = (number(val(a)?)?, number(val(b)?)?);
                        Some(match op {
                            "-eq" => x == y,
                            "-ne" => x != y,
                            "-lt" => x < y,
                            "-le" => x <= y,
                            "-gt" => x > y,
                            _ => x >= y,
                        })
                    }
                    o if o.starts_with("-pgt")
                        || o.starts_with("-plt")
                        || o.starts_with("-nt")
                        || o.starts_with("-ot") =>
                    {
                        return None;
                    }
                    // A fork's own operator (`-EQ`, …): not known here.
                    o if o.len() > 1 && o.starts_with('-') && o.is_ascii() && !o.contains('/') => {
                        if matches!(o, "-a" | "-o" | "-n" | "-z" | "-e" | "-f" | "-d" | "-s") {
                            None
                        } else {
                            return None;
                        }
                    }
                    _ => None,
                };
                if v.is_some() {
                    *n = i.saturating_add(3);
                }
            }
            if v.is_none() && i.saturating_add(1) < w.len() {
                let op = op_at(i)?;
                let t = match op {
                    "-e" => Some(FileTest::Exists),
                    "-f" => Some(FileTest::File),
                    "-d" => Some(FileTest::Dir),
                    "-s" => Some(FileTest::NonEmpty),
                    _ => None,
                };
                v = match (op, t) {
                    (_, Some(t)) => {
                        let l = self.locate_word(w.get(i.saturating_add(1))?.0)?;
                        Some(file(&l, t)?)
                    }
                    ("-n", _) => Some(!val(i.saturating_add(1))?.is_empty()),
                    ("-z", _) => Some(val(i.saturating_add(1))?.is_empty()),
                    _ => None,
                };
                if v.is_some() {
                    *n = i.saturating_add(2);
                }
            }
            if v.is_none() {
                *n = i.saturating_add(1);
                match op_at(i)? {
                    ")" => return Some(or || and),
                    "(" => v = Some(self.test_parse(w, n, file, depth.saturating_add(1))?),
                    "!" => invert = !invert,
                    "-a" => {}
                    "-o" => {
                        or = or || and;
                        and = true;
                    }
                    _ => v = Some(!val(i)?.is_empty()),
                }
            }
            if let Some(v) = v {
                and = and && (v != invert);
                invert = false;
            }
        }
        Some(or || and)
    }
}

/// `(` nesting followed in a test.
const MAX_TEST_NEST: usize = 16;

/// A number as `grub_strtosl(s, 0, 0)` reads it, where every platform
/// reads it alike: an optional `-` and decimal digits with no leading
/// zero, within 32 bits (i386-pc's `long`). Anything else (hex, octal,
/// trailing text, an empty word, which sets GRUB_ERR_BAD_NUMBER) is not
/// known here.
fn number(s: &str) -> Option<i64> {
    let d = s.strip_prefix('-').unwrap_or(s);
    if d.is_empty() || !d.bytes().all(|c| c.is_ascii_digit()) || (d.len() > 1 && d.starts_with('0'))
    {
        return None;
    }
    let v: i64 = s.parse().ok()?;
    (i64::from(i32::MIN)..=i64::from(i32::MAX))
        .contains(&v)
        .then_some(v)
}

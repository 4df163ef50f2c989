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
    /// Other variables `set` or `load_env` gave a plain value.
    pub env: std::collections::BTreeMap<String, String>,
}

/// Variables kept from `set` (a grub.cfg sets tens).
const MAX_SET_VARS: usize = 1024;

impl Vars {
    /// `w` with `$name` and `${name}` replaced by their values, or
    /// `None` when one is not known here (an unset variable is empty to
    /// GRUB, but this reader does not see every way one is set, so it
    /// does not guess). `$root` and `$prefix` are not expanded.
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
            out.push_str(self.env.get(name)?);
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

    /// Runs one command's effect on the variables.
    pub fn apply(&mut self, cmd: &[String]) {
        if let Some((var, d)) = search(cmd) {
            if var == "root" {
                self.root = Some(d);
            }
            return;
        }
        // `set k=v`, or the bare `k=v` assignment GRUB scripts allow.
        let assign = match (cmd.first().map(String::as_str), cmd.len()) {
            (Some("set"), _) => cmd.get(1),
            (Some(w), 1) if w.contains('=') && !w.starts_with('=') => cmd.first(),
            _ => None,
        };
        if let Some((k, v)) = assign.and_then(|a| a.split_once('=')) {
            match k {
                "root" => {
                    let v = v.trim_start_matches('(').trim_end_matches(')');
                    if !v.contains('$') {
                        self.root = Some(device(v));
                    }
                }
                "prefix" => self.prefix = locate(v, self.root.as_ref()),
                _ => match self.expand(v) {
                    Some(v) if self.env.len() < MAX_SET_VARS || self.env.contains_key(k) => {
                        self.env.insert(k.to_string(), v);
                    }
                    _ => {
                        self.env.remove(k);
                    }
                },
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
    /// Its `--id`, when it has one.
    pub id: Option<String>,
    /// The kernel (`linux`, `linux16`, `linuxefi`), located.
    pub linux: Option<Located>,
    /// The kernel's path as written, when it could not be located.
    pub linux_raw: Option<String>,
    /// The command that loads the kernel (`linux`, `linux16`, …): GRUB
    /// loads the module that provides it (command.lst) when it runs.
    pub loader: Option<String>,
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
    /// The file whose menu this is when a `configfile` handed over to
    /// it (`None`: the file parsed first).
    pub menu_file: Option<Located>,
    /// Files `source`d or handed over to with `configfile`, in order, as
    /// far as they were read.
    pub included: Vec<Located>,
    /// The grubenv `load_env` read, and the variables it set.
    pub env: Vec<(String, String)>,
}

/// Bytes of grub.cfg read.
pub const MAX_CFG: u64 = 1 << 20;
/// Entries kept.
const MAX_ENTRIES: usize = 256;
/// `source`/`configfile` nesting followed (GRUB has no bound but its
/// stack; distributions nest two deep: grub.cfg → custom.cfg).
pub const MAX_INCLUDE_DEPTH: usize = 8;
/// Files `source`d, handed over to or loaded as grubenv per grub.cfg.
pub const MAX_INCLUDES: usize = 32;

pub use crate::bls::{BlsEntry, bls};
pub use crate::grubenv::{ENVBLK_SIZE, envblk};

/// Reads grub.cfg `text`, with `vars` the state GRUB enters it in;
/// `source`, `configfile` and `load_env` are not followed.
pub fn parse(text: &str, vars: &Vars) -> Config {
    parse_with(text, vars, &mut |_| None)
}

/// Reads grub.cfg `text` as GRUB runs it: `read` gives the text of a
/// file a top-level `source`, `configfile` or `load_env` names (`None`
/// when it is not there: GRUB prints an error and goes on). Each file is
/// read once, at most [`MAX_INCLUDES`] of them, [`MAX_INCLUDE_DEPTH`]
/// deep.
pub fn parse_with(
    text: &str,
    vars: &Vars,
    read: &mut dyn FnMut(&Located) -> Option<String>,
) -> Config {
    let mut p = Parser {
        c: Config::default(),
        top: vars.clone(),
        default_word: None,
        cur: None,
        depth: 0,
        submenu_depth: None,
        menu: Vec::new(),
        top_entries: 0,
        read,
        seen: Vec::new(),
        handed_over: None,
    };
    p.run(text, 0);
    if let Some(next) = p.handed_over.take() {
        return next;
    }
    p.finish()
}

struct Parser<'r> {
    c: Config,
    top: Vars,
    default_word: Option<Option<String>>,
    // The entry being read: its vars and its brace depth.
    cur: Option<(Entry, Vars, usize)>,
    depth: usize,
    submenu_depth: Option<usize>,
    // The top-level menu in order, as `set default=N` counts it: GRUB
    // numbers submenus among the entries (`Some(k)`: the k-th top-level
    // entry; `None`: a submenu).
    menu: Vec<Option<usize>>,
    top_entries: usize,
    read: &'r mut dyn FnMut(&Located) -> Option<String>,
    seen: Vec<Located>,
    // A `configfile` whose own menu GRUB shows instead of this one.
    handed_over: Option<Config>,
}

impl Parser<'_> {
    /// The text of `l`, once per file and within the bounds.
    fn include(&mut self, l: Located, depth: usize) -> Option<String> {
        if depth >= MAX_INCLUDE_DEPTH || self.seen.len() >= MAX_INCLUDES || self.seen.contains(&l) {
            return None;
        }
        self.seen.push(l.clone());
        let t = (self.read)(&l);
        if t.is_some() {
            self.c.included.push(l);
        }
        t
    }

    fn run(&mut self, text: &str, level: usize) {
        for line in text.lines() {
            for cmd in words(line) {
                if self.handed_over.is_some() {
                    return;
                }
                self.command(cmd, level);
            }
        }
    }

    fn command(&mut self, mut cmd: Vec<String>, level: usize) {
        // `if linux …; then initrd …` runs the same commands: the
        // script keywords in front are dropped.
        while cmd
            .first()
            .is_some_and(|w| matches!(w.as_str(), "if" | "then" | "else" | "elif" | "fi"))
        {
            cmd.remove(0);
        }
        let Some(first) = cmd.first().map(String::as_str) else {
            return;
        };
        let opens = cmd.last().is_some_and(|w| w == "{");
        if first == "}" {
            self.depth = self.depth.saturating_sub(1);
            if self.cur.as_ref().is_some_and(|(_, _, d)| *d == self.depth) {
                if let Some((e, _, _)) = self.cur.take()
                    && self.c.entries.len() < MAX_ENTRIES
                {
                    self.c.entries.push(e);
                }
            } else if self.submenu_depth == Some(self.depth) {
                self.submenu_depth = None;
            }
            return;
        }
        match (first, &mut self.cur) {
            ("menuentry", None) => {
                if self.submenu_depth.is_none() {
                    self.c.top = self.c.top.saturating_add(1);
                    if self.menu.len() < MAX_MENU {
                        self.menu.push(Some(self.top_entries));
                    }
                    self.top_entries = self.top_entries.saturating_add(1);
                }
                let title = cmd.get(1).cloned().unwrap_or_default();
                // grub-mkconfig writes `$menuentry_id_option 'id'`, which
                // is `--id` wherever `feature_menuentry_id` is y (every
                // normal.mod since 2.00 sets it).
                let id = cmd.iter().enumerate().find_map(|(i, w)| {
                    w.strip_prefix("--id=").map(str::to_string).or_else(|| {
                        matches!(
                            w.as_str(),
                            "--id" | "$menuentry_id_option" | "${menuentry_id_option}"
                        )
                        .then(|| cmd.get(i.saturating_add(1)).cloned())
                        .flatten()
                    })
                });
                let e = Entry {
                    title,
                    id,
                    linux: None,
                    linux_raw: None,
                    loader: None,
                    initrd: Vec::new(),
                    top_level: self.submenu_depth.is_none(),
                };
                self.cur = Some((e, self.top.clone(), self.depth));
            }
            ("submenu", None) => {
                if self.submenu_depth.is_none() {
                    self.c.top = self.c.top.saturating_add(1);
                    if self.menu.len() < MAX_MENU {
                        self.menu.push(None);
                    }
                    self.submenu_depth = Some(self.depth);
                }
            }
            ("linux" | "linux16" | "linuxefi", Some((e, v, _))) => {
                if let Some(p) = cmd.get(1) {
                    e.linux = v.locate_word(p);
                    e.linux_raw = Some(p.clone());
                    e.loader = Some(first.to_string());
                }
            }
            ("initrd" | "initrd16" | "initrdefi", Some((e, v, _))) => {
                for p in cmd.get(1..).unwrap_or_default() {
                    if let Some(l) = v.locate_word(p) {
                        e.initrd.push(l);
                    }
                }
            }
            (_, Some((_, v, _))) => v.apply(&cmd),
            ("blscfg", None) => self.c.blscfg = true,
            ("source" | ".", None) => {
                // Run in this context: its variables and entries are
                // this menu's (normal/main.c `grub_cmd_source`).
                if let Some(text) = cmd
                    .get(1)
                    .and_then(|p| self.top.locate_word(p))
                    .and_then(|l| self.include(l, level))
                {
                    self.run(&text, level.saturating_add(1));
                }
            }
            ("configfile", None) => {
                let Some(l) = cmd.get(1).and_then(|p| self.top.locate_word(p)) else {
                    return;
                };
                self.c.configfile.get_or_insert_with(|| l.clone());
                // A new menu in a new context that keeps the exported
                // root and prefix (kern/main.c exports both): when it
                // has entries, that menu is the one shown and booted.
                if let Some(text) = self.include(l.clone(), level) {
                    let mut v = Vars {
                        root: self.top.root.clone(),
                        prefix: self.top.prefix.clone(),
                        ..Vars::default()
                    };
                    v.root = l.device.clone().or(v.root);
                    let mut sub = Parser {
                        c: Config::default(),
                        top: v,
                        default_word: None,
                        cur: None,
                        depth: 0,
                        submenu_depth: None,
                        menu: Vec::new(),
                        top_entries: 0,
                        read: &mut *self.read,
                        seen: std::mem::take(&mut self.seen),
                        handed_over: None,
                    };
                    sub.run(&text, level.saturating_add(1));
                    let seen = std::mem::take(&mut sub.seen);
                    let mut next = match sub.handed_over.take() {
                        Some(n) => n,
                        None => sub.finish(),
                    };
                    self.seen = seen;
                    if !next.entries.is_empty() || next.blscfg {
                        next.menu_file.get_or_insert(l);
                        let mut inc = std::mem::take(&mut self.c.included);
                        inc.append(&mut next.included);
                        next.included = inc;
                        next.configfile = self.c.configfile.clone();
                        self.handed_over = Some(next);
                    }
                }
            }
            ("load_env", None) => self.load_env(&cmd, level),
            ("set", None) => {
                if let Some(d) = cmd.get(1).and_then(|a| a.strip_prefix("default=")) {
                    // Expanded now, as GRUB expands it when `set` runs.
                    // grub-mkconfig's `if [ "${next_entry}" ]` picks
                    // next_entry over saved_entry: with one set, the
                    // branch taken is not read here, so unknown.
                    let next = self
                        .top
                        .env
                        .get("next_entry")
                        .is_some_and(|v| !v.is_empty());
                    self.default_word = Some(if next { None } else { self.top.expand(d) });
                }
                self.top.apply(&cmd);
            }
            (_, None) => self.top.apply(&cmd),
        }
        if opens {
            self.depth = self.depth.saturating_add(1);
        }
    }

    /// `load_env [-f FILE] [--skip-sig] [NAME…]` (commands/loadenv.c):
    /// the block at `$prefix/grubenv` unless `-f` names another; with
    /// names, only those variables.
    fn load_env(&mut self, cmd: &[String], level: usize) {
        let mut file = None;
        let mut names = Vec::new();
        let mut args = cmd.iter().skip(1);
        while let Some(a) = args.next() {
            match a.as_str() {
                "-f" | "--file" => file = args.next().cloned(),
                s if s.starts_with("--file=") => file = s.get(7..).map(str::to_string),
                s if s.starts_with('-') => {}
                s => names.push(s.to_string()),
            }
        }
        let l = match file {
            Some(f) => self.top.locate_word(&f),
            None => self.top.prefix.as_ref().map(|p| Located {
                device: p.device.clone(),
                path: format!("{}/grubenv", p.path.trim_end_matches('/')),
            }),
        };
        let Some(text) = l.and_then(|l| self.include(l, level)) else {
            return;
        };
        for (k, v) in envblk(&text) {
            if names.is_empty() || names.contains(&k) {
                self.c.env.push((k.clone(), v.clone()));
                self.top.env.insert(k, v);
            }
        }
    }

    fn finish(mut self) -> Config {
        // An entry still open at the end of the file is a syntax error
        // GRUB reports; it is not in the menu.
        let c = &mut self.c;
        let nth_top = |n: usize| {
            c.entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.top_level)
                .nth(n)
                .map(|(i, _)| i)
        };
        let menu = &self.menu;
        let first = || menu.first().copied().flatten().and_then(nth_top);
        let default = match &self.default_word {
            // A variable no grubenv set, or one naming `saved`.
            Some(None) => None,
            Some(Some(d)) if d == "saved" => None,
            // Empty (an unset `${saved_entry}`): GRUB boots item 0
            // (normal/menu.c: no number, no match → 0).
            Some(Some(d)) if d.is_empty() => first(),
            // A number counts submenus too; a title or id matches a
            // top-level entry. Anything else (`1>0` into a submenu, a
            // number naming a submenu) is not resolved here: unknown,
            // so the chain fails only when no entry can boot.
            Some(Some(d)) => match d.parse::<usize>() {
                // Past the end, GRUB falls back to item 0.
                Ok(n) => menu
                    .get(n)
                    .or_else(|| menu.first())
                    .copied()
                    .flatten()
                    .and_then(nth_top),
                Err(_) => c.entries.iter().position(|e| {
                    e.top_level && (e.title == *d || e.id.as_deref() == Some(d.as_str()))
                }),
            },
            None => first(),
        };
        c.default = default;
        self.c
    }
}

/// Top-level menu items kept for `set default=N` (GRUB menus are far
/// smaller; a bound keeps a hostile grub.cfg from growing it).
const MAX_MENU: usize = 4096;

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    /// GRUB numbers submenus among the entries and matches a default
    /// against titles and ids (normal/menu.c `menuentry_eq`); `1>0` paths
    /// are not resolved here (unknown default, not entry 0). Found by an
    /// attack: each of these was reported as a failing default.
    #[test]
    fn the_default_counts_submenus_matches_ids_and_leaves_paths_unknown() {
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
        assert_eq!(title("bid").as_deref(), Some("B"));
        assert_eq!(title("9").as_deref(), Some("X"), "GRUB falls back to 0");
        assert_eq!(title("B").as_deref(), Some("B"));
    }

    #[test]
    fn braces_are_tokens_except_in_variables() {
        assert_eq!(
            words("menuentry 'a{b}' { linux ${root}/k; initrd /i }"),
            vec![
                vec!["menuentry", "a{b}", "{"],
                vec!["linux", "${root}/k"],
                vec!["initrd", "/i"],
                vec!["}"],
            ]
        );
    }

    #[test]
    fn sourcing_is_bounded_and_each_file_read_once() {
        let mut reads = 0;
        let v = Vars {
            prefix: Some(Located {
                device: Some(Device::Partition(1)),
                path: "/grub".into(),
            }),
            ..Vars::default()
        };
        // Every file sources itself and a new one: a chain GRUB would
        // follow until its stack gives out.
        let mut read = |l: &Located| {
            reads += 1;
            Some(format!(
                "source {}\nsource {}x\nmenuentry 'e' {{ linux /k; }}\n",
                l.path, l.path
            ))
        };
        let c = parse_with("source $prefix/a\n", &v, &mut read);
        assert!(reads <= MAX_INCLUDES, "{reads}");
        assert_eq!(c.included.len(), MAX_INCLUDE_DEPTH);
        assert!(!c.entries.is_empty());
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
}

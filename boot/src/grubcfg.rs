//! GRUB's scripts as far as the boot chain follows them: the embedded
//! `load.cfg` grub-install writes (`search.fs_uuid U root hd0,gpt2`,
//! `set prefix=($root)'/boot/grub'`, util/grub-install.c) and the
//! grub.cfg grub-mkconfig writes (util/grub.d/00_header.in: `load_env`,
//! `if [ "${next_entry}" ]`, `set default="${saved_entry}"`;
//! 10_linux.in: `menuentry` blocks with `search --no-floppy --fs-uuid
//! --set=root U`, `linux`, `initrd`; Fedora's `blscfg`). The lexer,
//! devices and variables are in [`crate::grubscript`], the menu a default
//! picks from in [`crate::grubmenu`]; this file runs a script's commands
//! in order, `if` branches by what their tests say where that is known.

pub use crate::bls::{BlsEntry, bls};
pub use crate::grubenv::{ENVBLK_SIZE, envblk};
pub use crate::grubmenu::{Item, Menu, Pick};
pub use crate::grubscript::{
    Device, FileTest, Located, Vars, boot_prefix, boot_prefix_without, device, literal, locate,
    words,
};

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
    /// A top-level entry, not one in a submenu.
    pub top_level: bool,
}

/// What grub.cfg says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// Menu entries, in order of definition (submenus' among them).
    pub entries: Vec<Entry>,
    /// Top-level menu items (entries and submenus).
    pub top: usize,
    /// The menus: 0 the top level, then each submenu's.
    pub menus: Vec<Menu>,
    /// The default entry's index, when it is known.
    pub default: Option<usize>,
    /// `$default` as the menu reads it (empty when unset), when it is
    /// known and no `fallback` is set: what picks among the entries
    /// blscfg adds, which are not in [`Self::menus`].
    pub default_var: Option<String>,
    /// What the default picks from the menus.
    pub pick: Option<Pick>,
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
    /// Why the menu may hold entries, or the script boot, in a way not
    /// followed here (a file not read, a bound hit, a `boot` command).
    pub unfollowed: Option<String>,
    /// A file `source`d or handed over to while it was still running:
    /// GRUB recurses into it with no bound but its memory.
    pub cycle: Option<Located>,
}

/// A file a script reads, as the disk shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// Its text.
    Text(String),
    /// It does not exist (GRUB prints "file not found" and goes on).
    Absent,
    /// It exists but is empty, a directory or does not read whole.
    Unusable,
    /// On a device or filesystem not followed here.
    Unknown,
}

/// Bytes of grub.cfg read: GRUB reads the whole file, and generated ones
/// with many kernels or themes pass 1 MiB; a longer one is said to be
/// read in part, never judged as what was read.
pub const MAX_CFG: u64 = 16 << 20;
/// Entries kept.
const MAX_ENTRIES: usize = 256;
/// `source`/`configfile` nesting followed (GRUB has no bound but its
/// stack; distributions nest two deep: grub.cfg → custom.cfg).
pub const MAX_INCLUDE_DEPTH: usize = 8;
/// Files `source`d, handed over to or loaded as grubenv per grub.cfg.
pub const MAX_INCLUDES: usize = 32;
/// Files looked at by `[ -s FILE ]` tests per grub.cfg.
const MAX_FILE_TESTS: usize = 32;
/// Items kept per menu and menus kept (GRUB menus are far smaller; a
/// bound keeps a hostile grub.cfg from growing them).
const MAX_MENU: usize = 4096;
/// `if`/`for`/`while` nesting followed.
const MAX_CONDS: usize = 64;

/// Reads grub.cfg `text`, with `vars` the state GRUB enters it in;
/// `source`, `configfile` and `load_env` are not followed.
pub fn parse(text: &str, vars: &Vars) -> Config {
    parse_with(text, vars, &mut |_| Read::Unknown)
}

/// Reads grub.cfg `text` as GRUB runs it: `read` gives a file a
/// `source`, `configfile`, `load_env` or `[ -s … ]` names. Each file is
/// read once, at most [`MAX_INCLUDES`] of them, [`MAX_INCLUDE_DEPTH`]
/// deep.
pub fn parse_with(text: &str, vars: &Vars, read: &mut dyn FnMut(&Located) -> Read) -> Config {
    parse_file(None, text, vars, read)
}

/// [`parse_with`] for the file at `at`, so that a script sourcing or
/// handing over to itself is seen as the cycle it is.
pub fn parse_file(
    at: Option<&Located>,
    text: &str,
    vars: &Vars,
    read: &mut dyn FnMut(&Located) -> Read,
) -> Config {
    let mut p = Parser::new(vars.clone(), read, Vec::new());
    if let Some(l) = at {
        p.seen.push(l.clone());
        p.stack.push(l.clone());
    }
    p.run(text, 0);
    if let Some(next) = p.handed_over.take() {
        return next;
    }
    p.finish()
}

/// Whether the commands where the script is now run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    Yes,
    No,
    Maybe,
}

/// An open `if` (or a loop, whose body runs a number of times not known
/// here).
#[derive(Debug, Clone, Copy)]
struct Cond {
    run: Run,
    // Whether an earlier branch ran: Some(true) yes, None not known.
    settled: Option<bool>,
}

struct Parser<'r> {
    c: Config,
    top: Vars,
    // The entry being read: its vars and its brace depth.
    cur: Option<(Entry, Vars, usize)>,
    depth: usize,
    // Menus open: the menu's index and the brace depth its body is at.
    open: Vec<(usize, usize)>,
    // The brace depth of a function body being read.
    function: Option<usize>,
    conds: Vec<Cond>,
    read: &'r mut dyn FnMut(&Located) -> Read,
    seen: Vec<Located>,
    // Files running now, outermost first.
    stack: Vec<Located>,
    tests: usize,
    // A `configfile` whose own menu GRUB shows instead of this one.
    handed_over: Option<Config>,
}

impl<'r> Parser<'r> {
    fn new(top: Vars, read: &'r mut dyn FnMut(&Located) -> Read, seen: Vec<Located>) -> Self {
        let mut c = Config::default();
        c.menus.push(Menu::default());
        Parser {
            c,
            top,
            cur: None,
            depth: 0,
            open: vec![(0, 0)],
            function: None,
            conds: Vec::new(),
            read,
            seen,
            stack: Vec::new(),
            tests: 0,
            handed_over: None,
        }
    }

    fn region(&self) -> Run {
        if self.conds.iter().any(|c| c.run == Run::No) {
            Run::No
        } else if self.function.is_some() || self.conds.iter().any(|c| c.run == Run::Maybe) {
            Run::Maybe
        } else {
            Run::Yes
        }
    }

    fn unfollowed(&mut self, why: String) {
        self.c.unfollowed.get_or_insert(why);
    }

    /// The text of `l`, once per file and within the bounds.
    fn include(&mut self, l: Located, depth: usize) -> Read {
        if self.stack.contains(&l) {
            self.c.cycle.get_or_insert_with(|| l.clone());
            return Read::Unknown;
        }
        if depth >= MAX_INCLUDE_DEPTH || self.seen.len() >= MAX_INCLUDES {
            self.unfollowed(format!(
                "{} is past the {MAX_INCLUDES} files and {MAX_INCLUDE_DEPTH} levels followed",
                l.path
            ));
            return Read::Unknown;
        }
        if self.seen.contains(&l) {
            // Read again, it adds what it added before.
            return Read::Absent;
        }
        self.seen.push(l.clone());
        let t = (self.read)(&l);
        match &t {
            Read::Text(_) => self.c.included.push(l),
            Read::Unknown => self.unfollowed(format!("{} is not read here", l.path)),
            Read::Absent | Read::Unusable => {}
        }
        t
    }

    fn run(&mut self, text: &str, level: usize) {
        let conds = self.conds.len();
        for line in text.lines() {
            for cmd in words(line) {
                if self.handed_over.is_some() {
                    return;
                }
                self.command(cmd, level);
            }
        }
        // An `if` left open at the end of a file is a syntax error
        // there; it does not reach into the file that sourced it.
        self.conds.truncate(conds);
    }

    /// The variables the current command runs with.
    fn vars(&self) -> &Vars {
        self.cur.as_ref().map_or(&self.top, |(_, v, _)| v)
    }

    /// An `if`/`elif` test's value; its command is run when it is no test.
    fn test(&mut self, cmd: &[String], level: usize) -> Option<bool> {
        // `! cmd`: script/execute.c `grub_script_execute_cmdline` runs
        // cmd and inverts its status (GRUB_ERR_TEST_FAILURE and success
        // swap); a second `!` is a command GRUB does not have.
        if cmd.first().is_some_and(|w| w == "!") {
            let rest = cmd.get(1..).unwrap_or_default();
            if rest.is_empty() || rest.first().is_some_and(|w| w == "!") {
                return None;
            }
            return self.test(rest, level).map(|v| !v);
        }
        // commands/true.c: `true` succeeds, `false` fails with
        // GRUB_ERR_TEST_FAILURE, whatever their arguments.
        match cmd.first().map(String::as_str) {
            Some("true") => return Some(true),
            Some("false") => return Some(false),
            _ => {}
        }
        let inner = match cmd.first().map(String::as_str) {
            Some("[") if cmd.last().is_some_and(|w| w == "]") && cmd.len() >= 2 => {
                cmd.get(1..cmd.len().saturating_sub(1))
            }
            Some("test") => cmd.get(1..),
            _ => None,
        };
        let Some(inner) = inner else {
            // `if load_env; then`, `if loadfont …`: the command runs, its
            // status is not known here.
            if !cmd.is_empty() {
                self.command(cmd.to_vec(), level);
            }
            return None;
        };
        let vars = self.vars().clone();
        let mut file = |l: &Located, t: FileTest| -> Option<bool> {
            if self.tests >= MAX_FILE_TESTS {
                return None;
            }
            self.tests = self.tests.saturating_add(1);
            match ((self.read)(l), t) {
                (Read::Text(_), _) if t != FileTest::Dir => Some(true),
                (Read::Unusable, FileTest::Exists) => Some(true),
                (Read::Absent, _) => Some(false),
                _ => None,
            }
        };
        vars.test(inner, &mut file)
    }

    fn command(&mut self, cmd: Vec<String>, level: usize) {
        let Some(first) = cmd.first().map(String::as_str) else {
            return;
        };
        let rest = || cmd.get(1..).unwrap_or_default().to_vec();
        match first {
            "if" | "elif" => {
                let region = if first == "if" {
                    self.region()
                } else {
                    // The region the whole `if` is in.
                    let saved = self.conds.pop();
                    let r = self.region();
                    if let Some(c) = saved {
                        self.conds.push(c);
                    }
                    r
                };
                let settled = if first == "if" {
                    Some(false)
                } else {
                    self.conds.last().and_then(|c| c.settled)
                };
                let v = if region == Run::No || settled == Some(true) {
                    Some(false)
                } else {
                    self.test(&rest(), level)
                };
                let run = match (settled, v) {
                    (Some(true), _) | (_, Some(false)) => Run::No,
                    (Some(false), Some(true)) => Run::Yes,
                    _ => Run::Maybe,
                };
                let settled = match (settled, v) {
                    (Some(true), _) | (Some(false), Some(true)) => Some(true),
                    (Some(false), Some(false)) => Some(false),
                    _ => None,
                };
                let c = Cond { run, settled };
                if first == "if" {
                    if self.conds.len() < MAX_CONDS {
                        self.conds.push(c);
                    }
                } else if let Some(last) = self.conds.last_mut() {
                    *last = c;
                }
            }
            "else" => {
                if let Some(last) = self.conds.last_mut() {
                    last.run = match last.settled {
                        Some(true) => Run::No,
                        Some(false) => Run::Yes,
                        None => Run::Maybe,
                    };
                    last.settled = Some(true);
                }
                self.command(rest(), level);
            }
            "then" | "do" => self.command(rest(), level),
            "fi" | "done" => {
                self.conds.pop();
                self.command(rest(), level);
            }
            "while" | "until" | "for" => {
                if self.region() != Run::No
                    && first == "for"
                    && let Some(var) = cmd.get(1)
                {
                    let var = var.clone();
                    match &mut self.cur {
                        Some((_, v, _)) => v.forget(&var),
                        None => self.top.forget(&var),
                    }
                }
                if self.conds.len() < MAX_CONDS {
                    self.conds.push(Cond {
                        run: Run::Maybe,
                        settled: None,
                    });
                }
            }
            _ => self.plain(cmd, level),
        }
    }

    /// A command that is not a script keyword.
    fn plain(&mut self, cmd: Vec<String>, level: usize) {
        let Some(first) = cmd.first().map(String::as_str) else {
            return;
        };
        let opens = cmd.last().is_some_and(|w| w == "{");
        let region = self.region();
        if first == "}" {
            self.depth = self.depth.saturating_sub(1);
            if region == Run::No {
                return;
            }
            if self.cur.as_ref().is_some_and(|(_, _, d)| *d == self.depth) {
                if let Some((e, _, _)) = self.cur.take()
                    && self.c.entries.len() < MAX_ENTRIES
                {
                    self.c.entries.push(e);
                }
            } else if self.function == Some(self.depth) {
                self.function = None;
            } else if self.open.len() > 1 && self.open.last().is_some_and(|(_, d)| *d == self.depth)
            {
                self.open.pop();
            }
            return;
        }
        if region == Run::No {
            // Not run: only its braces count.
            if opens {
                self.depth = self.depth.saturating_add(1);
            }
            return;
        }
        let sure = region == Run::Yes;
        match (first, &mut self.cur) {
            ("menuentry" | "submenu", None) => {
                // menuentry and submenu are commands: their words are
                // expanded as every command's are (script/execute.c
                // `grub_script_arglist_to_argv`), double-quoted and bare
                // ones with their variables, single-quoted ones as
                // written; the title is the first word that is not an
                // option's (commands/menuentry.c).
                let raw = cmd.get(1).cloned().unwrap_or_default();
                let expanded = self.top.expand(&raw);
                let mut vague = expanded.is_none();
                let title = expanded.unwrap_or_else(|| literal(&raw));
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
                let id = id.map(|raw| match self.top.expand(&raw) {
                    Some(id) => id,
                    None => {
                        vague = true;
                        literal(&raw)
                    }
                });
                let at = self.open.last().map_or(0, |(m, _)| *m);
                let top_level = self.open.len() == 1;
                if first == "menuentry" {
                    let index = self.c.entries.len();
                    if let Some(m) = self.c.menus.get_mut(at)
                        && m.items.len() < MAX_MENU
                        && index < MAX_ENTRIES
                    {
                        m.items.push(Item::Entry {
                            index,
                            title: title.clone(),
                            id: id.clone(),
                            maybe: !sure,
                            vague,
                        });
                    }
                    let e = Entry {
                        title,
                        id,
                        linux: None,
                        linux_raw: None,
                        loader: None,
                        initrd: Vec::new(),
                        top_level,
                    };
                    self.cur = Some((e, self.top.clone(), self.depth));
                } else if self.c.menus.len() < MAX_MENU {
                    let menu = self.c.menus.len();
                    self.c.menus.push(Menu::default());
                    if let Some(m) = self.c.menus.get_mut(at)
                        && m.items.len() < MAX_MENU
                    {
                        m.items.push(Item::Sub {
                            menu,
                            title,
                            id,
                            maybe: !sure,
                            vague,
                        });
                    }
                    self.open.push((menu, self.depth));
                }
            }
            ("function", None) => {
                // Its body runs when it is called, which is not followed:
                // what it sets becomes unknown.
                if self.function.is_none() {
                    self.function = Some(self.depth);
                }
            }
            ("linux" | "linux16" | "linuxefi", Some((e, v, _))) => {
                if let Some(p) = cmd.get(1) {
                    e.linux = v.locate_word(p);
                    e.linux_raw = Some(literal(p));
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
            (_, Some((_, v, _))) => v.apply(&cmd, sure),
            ("blscfg", None) => self.c.blscfg = true,
            ("source" | ".", None) => {
                // Run in this context: its variables and entries are
                // this menu's (normal/main.c `grub_cmd_source`).
                let Some(l) = cmd.get(1).and_then(|p| self.top.locate_word(p)) else {
                    self.unfollowed(format!("`{}` names a file not located here", cmd.join(" ")));
                    return;
                };
                if let Read::Text(text) = self.include(l.clone(), level) {
                    self.stack.push(l);
                    self.run(&text, level.saturating_add(1));
                    self.stack.pop();
                }
            }
            ("configfile", None) => self.configfile(&cmd, level, sure),
            ("load_env", None) => self.load_env(&cmd, level, sure),
            (
                "boot"
                | "chainloader"
                | "legacy_configfile"
                | "legacy_source"
                | "syslinux_configfile"
                | "syslinux_source"
                | "extract_entries_source"
                | "extract_entries_configfile"
                | "extract_legacy_entries_source"
                | "extract_legacy_entries_configfile",
                None,
            ) => {
                self.unfollowed(format!("its `{first}` command is not followed here"));
                self.top.apply(&cmd, sure);
            }
            (_, None) => self.top.apply(&cmd, sure),
        }
        if opens {
            self.depth = self.depth.saturating_add(1);
        }
    }

    /// `configfile FILE`: a new menu in a new context that keeps the
    /// exported variables (kern/env.c); when it has entries, that menu is
    /// the one shown and booted (normal/main.c `grub_normal_execute`).
    fn configfile(&mut self, cmd: &[String], level: usize, sure: bool) {
        let Some(l) = cmd.get(1).and_then(|p| self.top.locate_word(p)) else {
            self.unfollowed(format!("`{}` names a file not located here", cmd.join(" ")));
            return;
        };
        self.c.configfile.get_or_insert_with(|| l.clone());
        let Read::Text(text) = self.include(l.clone(), level) else {
            return;
        };
        let mut v = self.top.context();
        v.root = l.device.clone().or(v.root);
        let mut stack = std::mem::take(&mut self.stack);
        stack.push(l.clone());
        let seen = std::mem::take(&mut self.seen);
        let mut sub = Parser::new(v, &mut *self.read, seen);
        sub.stack = stack;
        sub.tests = self.tests;
        sub.run(&text, level.saturating_add(1));
        let seen = std::mem::take(&mut sub.seen);
        let mut stack = std::mem::take(&mut sub.stack);
        stack.pop();
        self.tests = sub.tests;
        let mut next = match sub.handed_over.take() {
            Some(n) => n,
            None => sub.finish(),
        };
        self.seen = seen;
        self.stack = stack;
        if let Some(c) = next.cycle.take() {
            self.c.cycle.get_or_insert(c);
        }
        if let Some(u) = next.unfollowed.take() {
            self.unfollowed(u);
        }
        if next.entries.is_empty() && !next.blscfg {
            return;
        }
        if !sure {
            // Handed over to or not: which menu GRUB shows is not known.
            self.unfollowed(format!(
                "`configfile {}` runs in a branch that may not run",
                l.path
            ));
            self.top.forget("default");
            return;
        }
        next.menu_file.get_or_insert(l);
        let mut inc = std::mem::take(&mut self.c.included);
        inc.append(&mut next.included);
        next.included = inc;
        next.configfile = self.c.configfile.clone();
        next.cycle = self.c.cycle.take();
        next.unfollowed = self.c.unfollowed.take();
        self.handed_over = Some(next);
    }

    /// `load_env [-f FILE] [--skip-sig] [NAME…]` (commands/loadenv.c):
    /// the block at `$prefix/grubenv` unless `-f` names another; with
    /// names, only those variables.
    fn load_env(&mut self, cmd: &[String], level: usize, sure: bool) {
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
        let text = match l.map(|l| self.include(l, level)) {
            Some(Read::Text(t)) => t,
            // GRUB prints "file not found" and sets nothing.
            Some(Read::Absent | Read::Unusable) => return,
            _ => {
                if names.is_empty() {
                    self.top.all_unknown = true;
                }
                for n in &names {
                    self.top.forget(n);
                }
                return;
            }
        };
        for (k, v) in envblk(&text) {
            if names.is_empty() || names.contains(&k) {
                self.c.env.push((k.clone(), v.clone()));
                self.top.assign(&k, sure.then_some(v));
            }
        }
    }

    fn finish(mut self) -> Config {
        // An entry still open at the end of the file is a syntax error
        // GRUB reports; it is not in the menu.
        let c = &mut self.c;
        c.top = c.menus.first().map_or(0, |m| m.items.len());
        // The menu reads `default` (and `fallback`) as the script left
        // them: `set default=…`, grubenv's own `default`, or unset.
        let pick = match self.top.env.get("default") {
            Some(d) => crate::grubmenu::pick(&c.menus, Some(d)),
            None if self.top.value("default").is_some() => crate::grubmenu::pick(&c.menus, None),
            None => Pick::Unknown,
        };
        // With `fallback` set GRUB tries other entries when the default
        // fails (menu.c `grub_menu_execute_with_fallback`): which one
        // boots is not known here, so the chain fails only when none can.
        let fallback = self.top.value("fallback").is_none_or(|f| !f.is_empty());
        c.pick = Some(pick);
        c.default_var = if fallback {
            None
        } else {
            self.top.value("default")
        };
        c.default = match pick {
            Pick::Entry(i) if !fallback => Some(i),
            _ => None,
        };
        self.c
    }
}

#[cfg(test)]
#[path = "grubcfg_tests.rs"]
mod tests;

//! GRUB's menu as `default` picks from it (grub-core/normal/menu.c
//! `get_entry_number`, `menuentry_eq`, `grub_menu_execute_entry` in
//! GRUB 2.06): items are entries and submenus, numbered together; a
//! default is a number (`grub_strtoul`, base 0) or a title or id, and a
//! `>` in it goes on into the submenu it picked, whose own default is
//! what follows the first unescaped `>` (`>>` is a literal `>`).

/// One menu: its items in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Menu {
    /// Its items.
    pub items: Vec<Item>,
}

/// A menu item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A `menuentry`: its index in the config's entries.
    Entry {
        /// Index into the entries.
        index: usize,
        /// Its title.
        title: String,
        /// Its `--id`.
        id: Option<String>,
        /// Defined where the script may not run (a branch whose test is
        /// not known here): it may not be in the menu.
        maybe: bool,
        /// Its title or id holds a variable whose value is not known
        /// here: whether a default names it is not known.
        vague: bool,
    },
    /// A `submenu`: its menu's index among the menus.
    Sub {
        /// Index into the menus.
        menu: usize,
        /// Its title.
        title: String,
        /// Its `--id`.
        id: Option<String>,
        /// As for an entry.
        maybe: bool,
        /// As for an entry.
        vague: bool,
    },
}

impl Item {
    fn names(&self) -> (&str, Option<&str>, bool) {
        match self {
            Item::Entry {
                title, id, maybe, ..
            }
            | Item::Sub {
                title, id, maybe, ..
            } => (title, id.as_deref(), *maybe),
        }
    }

    fn vague(&self) -> bool {
        match self {
            Item::Entry { vague, .. } | Item::Sub { vague, .. } => *vague,
        }
    }
}

/// What a default picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// That entry (index into the entries).
    Entry(usize),
    /// A submenu with no entries: GRUB shows nothing and goes back to
    /// its command line.
    Nothing,
    /// Not known here.
    Unknown,
}

/// GRUB 2.06's `menuentry_eq`: `id` matches `spec` up to the first
/// unescaped `>` of `spec`.
fn menuentry_eq(id: &str, spec: &str) -> bool {
    let (a, b) = (id.as_bytes(), spec.as_bytes());
    let (mut i, mut j) = (0usize, 0usize);
    // Each pass moves both indices on by at least one, so the loop ends
    // within spec.len() + 1 passes.
    for _ in 0..=b.len() {
        let gt = b.get(j) == Some(&b'>');
        let gt2 = b.get(j.saturating_add(1)) == Some(&b'>');
        if gt && !gt2 {
            return a.get(i).is_none();
        }
        if gt {
            j = j.saturating_add(1);
        }
        if a.get(i) != b.get(j) {
            return false;
        }
        if a.get(i).is_none() {
            return true;
        }
        i = i.saturating_add(1);
        j = j.saturating_add(1);
    }
    false
}

/// `grub_strtoul(s, 0, 0)`: leading space skipped, `0x` hex, a leading
/// `0` octal, digits up to the first that is not one; `None` when there
/// is no digit (GRUB_ERR_BAD_NUMBER), `Some(None)` when it overflows.
fn strtoul(s: &str) -> Option<Option<u64>> {
    let s = s.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let (base, digits) = if let Some(h) = s.strip_prefix("0x") {
        (16, h)
    } else if s.len() > 1
        && s.starts_with('0')
        && s.as_bytes()
            .get(1)
            .is_some_and(|c| (b'0'..=b'7').contains(c))
    {
        (8, s)
    } else {
        (10, s)
    };
    let mut n: Option<u64> = Some(0);
    let mut found = false;
    for c in digits.chars() {
        let Some(d) = c.to_digit(base) else { break };
        found = true;
        n = n
            .and_then(|n| n.checked_mul(u64::from(base)))
            .and_then(|n| n.checked_add(u64::from(d)));
    }
    found.then_some(n)
}

/// What follows the first unescaped `>` of `spec`: the default GRUB sets
/// inside the submenu it picked (`None`: unset).
fn rest(spec: &str) -> Option<String> {
    let b = spec.as_bytes();
    let mut k = 0usize;
    while let Some(&c) = b.get(k) {
        if c == b'>' && b.get(k.saturating_add(1)) == Some(&b'>') {
            k = k.saturating_add(2);
            continue;
        }
        if c == b'>' {
            let r = spec.get(k.saturating_add(1)..)?;
            return (!r.is_empty()).then(|| r.to_string());
        }
        k = k.saturating_add(1);
    }
    None
}

/// The entry `default` (`None`: unset) picks from `menus[0]` on.
pub fn pick(menus: &[Menu], default: Option<&str>) -> Pick {
    let mut at = 0usize;
    let mut spec = default.map(str::to_string);
    // Each pass goes one submenu deeper; a menu is never its own
    // descendant, so menus.len() passes reach every depth.
    for _ in 0..=menus.len() {
        let Some(menu) = menus.get(at) else {
            return Pick::Unknown;
        };
        if menu.items.is_empty() {
            return Pick::Nothing;
        }
        let idx = match spec.as_deref() {
            None => 0,
            Some(s) => match strtoul(s) {
                // GRUB casts to int: a huge number is not followed.
                Some(Some(n)) => {
                    match i32::try_from(n).ok().and_then(|n| usize::try_from(n).ok()) {
                        Some(n) => n,
                        None => return Pick::Unknown,
                    }
                }
                Some(None) => 0,
                None => {
                    let mut found = None;
                    for (i, it) in menu.items.iter().enumerate() {
                        let (t, id, maybe) = it.names();
                        let m = menuentry_eq(t, s) || id.is_some_and(|id| menuentry_eq(id, s));
                        if maybe || it.vague() {
                            // It may or may not be there to match (or to
                            // shift what does), or its name is not known.
                            return Pick::Unknown;
                        }
                        if m {
                            found = Some(i);
                            break;
                        }
                    }
                    found.unwrap_or(0)
                }
            },
        };
        // Past the end (or no match): item 0.
        let idx = if idx < menu.items.len() { idx } else { 0 };
        if menu
            .items
            .iter()
            .take(idx.saturating_add(1))
            .any(|it| it.names().2)
        {
            return Pick::Unknown;
        }
        match menu.items.get(idx) {
            Some(Item::Entry { index, .. }) => return Pick::Entry(*index),
            Some(Item::Sub { menu: m, .. }) => {
                at = *m;
                spec = spec.as_deref().and_then(rest);
            }
            None => return Pick::Unknown,
        }
    }
    Pick::Unknown
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    fn e(index: usize, title: &str, id: Option<&str>) -> Item {
        Item::Entry {
            index,
            title: title.into(),
            id: id.map(Into::into),
            maybe: false,
            vague: false,
        }
    }

    /// Debian's menu: an entry, then "Advanced options" holding two.
    fn debian() -> Vec<Menu> {
        vec![
            Menu {
                items: vec![
                    e(0, "Debian", Some("gnulinux-simple-u")),
                    Item::Sub {
                        menu: 1,
                        title: "Advanced options for Debian".into(),
                        id: Some("gnulinux-advanced-u".into()),
                        maybe: false,
                        vague: false,
                    },
                ],
            },
            Menu {
                items: vec![
                    e(1, "Debian, with Linux 6.1", Some("gnulinux-6.1-advanced-u")),
                    e(
                        2,
                        "Debian, with Linux 6.1 (recovery mode)",
                        Some("gnulinux-6.1-recovery-u"),
                    ),
                ],
            },
        ]
    }

    #[test]
    fn a_default_follows_submenu_paths_by_title_id_and_number() {
        let m = debian();
        assert_eq!(pick(&m, None), Pick::Entry(0));
        assert_eq!(
            pick(&m, Some("gnulinux-advanced-u>gnulinux-6.1-recovery-u")),
            Pick::Entry(2)
        );
        assert_eq!(
            pick(
                &m,
                Some("Advanced options for Debian>Debian, with Linux 6.1")
            ),
            Pick::Entry(1)
        );
        assert_eq!(pick(&m, Some("1>1")), Pick::Entry(2));
        assert_eq!(
            pick(&m, Some("1")),
            Pick::Entry(1),
            "a submenu alone: its item 0"
        );
        assert_eq!(pick(&m, Some("gnulinux-advanced-u>nosuch")), Pick::Entry(1));
        assert_eq!(pick(&m, Some("nosuch")), Pick::Entry(0));
        assert_eq!(pick(&m, Some("9")), Pick::Entry(0));
        assert_eq!(pick(&m, Some("0x1>01")), Pick::Entry(2));
        assert_eq!(pick(&m, Some("")), Pick::Entry(0));
    }

    #[test]
    fn menuentry_eq_reads_double_angles_as_one() {
        assert!(menuentry_eq("a>b", "a>>b"));
        assert!(menuentry_eq("a>b", "a>>b>c"));
        assert!(!menuentry_eq("a", "ab"));
        assert!(menuentry_eq("a", "a>x"));
        assert_eq!(rest("a>>b>c>d").as_deref(), Some("c>d"));
        assert_eq!(rest("a>"), None);
    }

    #[test]
    fn an_item_that_may_not_be_there_leaves_the_default_unknown() {
        let mut m = debian();
        if let Item::Entry { maybe, .. } = &mut m[0].items[0] {
            *maybe = true;
        }
        assert_eq!(pick(&m, Some("1")), Pick::Unknown);
        assert_eq!(pick(&m, Some("gnulinux-advanced-u")), Pick::Unknown);
        m[1].items.clear();
        m[0].items.remove(0);
        assert_eq!(pick(&m, None), Pick::Nothing);
    }
}

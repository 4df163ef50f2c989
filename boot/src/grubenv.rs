//! GRUB's environment block (`grubenv`, grub-core/lib/envblk.c), which
//! `load_env` reads: where `saved_entry` and `next_entry` live.

/// Size of a GRUB environment block file (`grub-editenv create`).
pub const ENVBLK_SIZE: usize = 1024;
/// Its first line (grub-core/lib/envblk.c `GRUB_ENVBLK_SIGNATURE`).
const ENVBLK_SIGNATURE: &str = "# GRUB Environment Block\n";

/// The variables of a GRUB environment block as GRUB 2.06 reads them
/// (grub-core/lib/envblk.c `grub_envblk_iterate`): after the signature,
/// a line starting with `#` is skipped; any other is a name up to the
/// next `=` (a line without one runs on into the next line's name, so
/// that variable is lost) and a value up to the next newline, `\`
/// escaping the character after it; a name or value the block ends in
/// stops the reading ("broken"). Empty when the block does not start
/// with the signature (`load_env` then fails: "invalid environment
/// block", and sets nothing).
pub fn envblk(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(body) = text.strip_prefix(ENVBLK_SIGNATURE) else {
        return out;
    };
    let b: Vec<char> = body.chars().collect();
    let mut p = 0usize;
    // Each pass moves p on by at least one character.
    while p < b.len() && out.len() < MAX_ENV_VARS {
        if b.get(p) != Some(&'#') {
            let name_start = p;
            while b.get(p).is_some_and(|c| *c != '=') {
                p = p.saturating_add(1);
            }
            if p >= b.len() {
                return out; // broken: no `=` before the end
            }
            let name: String = b.get(name_start..p).unwrap_or_default().iter().collect();
            p = p.saturating_add(1);
            let mut value = String::new();
            loop {
                match b.get(p) {
                    None => return out, // broken: no newline before the end
                    Some('\n') => break,
                    Some('\\') => {
                        // The escaped character; past the end is broken.
                        let Some(n) = b.get(p.saturating_add(1)) else {
                            return out;
                        };
                        value.push(*n);
                        p = p.saturating_add(2);
                    }
                    Some(c) => {
                        value.push(*c);
                        p = p.saturating_add(1);
                    }
                }
            }
            out.push((name, value));
        }
        // find_next_line: to the character after the next unescaped newline.
        while let Some(c) = b.get(p) {
            match c {
                '\\' => p = p.saturating_add(2),
                '\n' => break,
                _ => p = p.saturating_add(1),
            }
        }
        p = p.saturating_add(1);
    }
    out
}

/// Variables kept from a grubenv (1,024 bytes hold at most ~500).
const MAX_ENV_VARS: usize = 512;

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_environment_block_is_read_with_its_escapes() {
        let mut b = "# GRUB Environment Block\nsaved_entry=a\\=b\nnext_entry=\n".to_string();
        b.push_str(&"#".repeat(900));
        let v = envblk(&b);
        assert_eq!(v[0], ("saved_entry".into(), "a=b".into()));
        assert_eq!(v[1], ("next_entry".into(), String::new()));
        assert!(envblk("saved_entry=x\n").is_empty(), "no signature");
    }

    /// An attack: a line without `=`, or an empty line, swallows the next
    /// line's name (envblk.c reads a name up to the next `=`), so GRUB
    /// does not see that saved_entry and boots item 0.
    #[test]
    fn a_line_without_an_equals_sign_swallows_the_next_name() {
        let v = envblk("# GRUB Environment Block\njunk\nsaved_entry=X\nnext_entry=Y\n###");
        assert_eq!(v[0], ("junk\nsaved_entry".into(), "X".into()));
        assert_eq!(v[1], ("next_entry".into(), "Y".into()));
        let v = envblk("# GRUB Environment Block\n\nsaved_entry=X\n");
        assert_eq!(v[0].0, "\nsaved_entry");
        // The last value without its newline is not read.
        assert!(envblk("# GRUB Environment Block\nsaved_entry=X").is_empty());
        assert!(envblk("# GRUB Environment Block\nno equals at all\n##").is_empty());
        // A comment runs on past an escaped newline (find_next_line).
        assert!(envblk("# GRUB Environment Block\n# c\\\nsaved_entry=X\n").is_empty());
    }
}

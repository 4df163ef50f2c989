//! GRUB's environment block (`grubenv`, grub-core/lib/envblk.c), which
//! `load_env` reads: where `saved_entry` and `next_entry` live.

/// Size of a GRUB environment block file (`grub-editenv create`).
pub const ENVBLK_SIZE: usize = 1024;
/// Its first line (grub-core/lib/envblk.c `GRUB_ENVBLK_SIGNATURE`).
const ENVBLK_SIGNATURE: &str = "# GRUB Environment Block\n";

/// The variables of a GRUB environment block (grub-core/lib/envblk.c):
/// the signature line, then `name=value` lines with `\` escaping the
/// next character, `#` padding to the end. Empty when it does not start
/// with the signature (`load_env` then fails: "invalid environment block").
pub fn envblk(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(body) = text.strip_prefix(ENVBLK_SIGNATURE) else {
        return out;
    };
    let mut line = String::new();
    let mut chars = body.chars();
    let push = |line: &mut String, out: &mut Vec<(String, String)>| {
        if let Some((k, v)) = line.split_once('=')
            && !k.is_empty()
            && !k.starts_with('#')
            && out.len() < MAX_ENV_VARS
        {
            out.push((k.to_string(), v.to_string()));
        }
        line.clear();
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    line.push(n);
                }
            }
            '\n' => push(&mut line, &mut out),
            c => line.push(c),
        }
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
}

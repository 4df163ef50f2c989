//! The volume label: the boot sector's field against the root directory's
//! label entry, with fsck.fat's `check_label` cases (a label in one place
//! only, two different labels, a label with forbidden characters).

use super::Ctx;
use crate::bpb::NO_NAME;
use crate::dir::{DELETED, label_text};
use crate::hints::repair_on_copy;
use imgcheck_core::Severity;

/// fsck.fat's `validate_volume_label` (as upstream has it, reading bytes
/// as unsigned: 4.2 took bytes above 0x7F for control characters): control
/// bytes, `"*+,./:;<=>?[\]|`, all spaces, a leading space.
pub(crate) fn label_invalid(l: &[u8; 11]) -> bool {
    let forbidden = |c: u8| {
        c == 0x22
            || (0x2A..=0x2C).contains(&c)
            || c == 0x2E
            || c == 0x2F
            || (0x3A..=0x3F).contains(&c)
            || (0x5B..=0x5D).contains(&c)
            || c == 0x7C
    };
    l.iter().any(|&c| c < 0x20 || forbidden(c)) || l.iter().all(|&c| c == b' ') || l[0] == b' '
}

fn shown(l: &[u8; 11]) -> String {
    label_text(l)
}

/// Compares the two labels.
pub(super) fn check(cx: &mut Ctx<'_>) {
    if !cx.root_scanned {
        return;
    }
    let boot = cx.bpb.label_field();
    let boot_at = cx.bpb.ext_offset().saturating_add(7);
    let boot_says = if cx.bpb.has_extended() {
        format!("'{}'", shown(&boot))
    } else {
        "no label (no extended boot signature)".to_string()
    };
    let hint = || {
        Some(repair_on_copy(
            "fsck.fat copies the root directory's label into the boot sector",
        ))
    };
    let Some(mut root) = cx.root_label else {
        if boot == NO_NAME {
            return;
        }
        if label_invalid(&boot) {
            cx.finding(
                Severity::Warning,
                "fat.label.invalid",
                boot_at,
                format!("the boot sector's label field holds {boot_says}, which is not a valid label (fsck.fat replaces it with NO NAME)"),
                hint(),
            );
        } else {
            cx.finding(
                Severity::Warning,
                "fat.label.boot_only",
                boot_at,
                format!("the boot sector's label is {boot_says} but the root directory has no label entry: Windows and mtools show no label, blkid shows {boot_says}"),
                hint(),
            );
        }
        return;
    };
    if root[0] == 0x05 {
        root[0] = DELETED;
    }
    if label_invalid(&root) {
        cx.finding(
            Severity::Warning,
            "fat.label.invalid",
            boot_at,
            format!(
                "the root directory's label entry '{}' is not a valid label (fsck.fat removes it)",
                shown(&root)
            ),
            hint(),
        );
        return;
    }
    if boot == NO_NAME && root != NO_NAME {
        cx.finding(
            Severity::Warning,
            "fat.label.root_only",
            boot_at,
            format!(
                "the root directory's label is '{}' but the boot sector says NO NAME",
                shown(&root)
            ),
            hint(),
        );
    } else if boot != NO_NAME && boot != root {
        cx.finding(
            Severity::Warning,
            "fat.label.differ",
            boot_at,
            format!("the root directory's label is '{}', the boot sector's {boot_says}: tools disagree on the volume's name (a mount by LABEL= may not find it)", shown(&root)),
            hint(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::label_invalid;

    #[test]
    fn labels_valid_as_upstream_fsck_fat() {
        assert!(!label_invalid(b"NO NAME    "));
        assert!(
            !label_invalid(b"label1     "),
            "lower case is allowed without -U"
        );
        assert!(
            !label_invalid(b"\x9aBER       "),
            "bytes above 0x7F are code page characters"
        );
        assert!(label_invalid(b"           "));
        assert!(label_invalid(b" LEAD      "));
        assert!(label_invalid(b"A.B        "));
        assert!(label_invalid(&[0u8; 11]));
    }
}

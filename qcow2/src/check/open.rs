//! What keeps QEMU from opening the image at all (`qemu-img check` then
//! exits 1 whatever the refcounts say), and the check of each image of the
//! backing chain.

use super::{BackingCheck, CheckOptions, Ctx, check};
use crate::image::*;
use crate::limits::*;

pub(super) fn qemu_open_checks(c: &mut Ctx<'_>) {
    let h = c.h;
    let img = c.img;
    let mut why = None;
    if !h.unknown_incompatible_names().is_empty() {
        why = Some("unsupported incompatible feature bits".to_string());
    }
    if let Some(DataFile::Unavailable(w)) = img.data_file() {
        why = Some(format!("external data file unavailable: {w}"));
    }
    if let Some(b) = img.backing() {
        match &b.state {
            BackingState::Missing(w) | BackingState::Unreadable(w) => {
                why = Some(format!("backing file: {w}"))
            }
            BackingState::Loop(_) => why = Some("backing chain loops".into()),
            BackingState::TooDeep => why = Some("backing chain too deep".into()),
            _ => {}
        }
    }
    if let Some(b) = h.extensions.bitmaps {
        let end = b
            .bitmap_directory_offset
            .saturating_add(b.bitmap_directory_size);
        if h.autoclear_features & crate::header::AUTOCLEAR_BITMAPS != 0
            && b.nb_bitmaps > 0
            && end > c.file_len
        {
            why = Some("bitmap directory lies past the end of the file".into());
        }
    }
    if !h.snapshots_offset.is_multiple_of(c.cs) || h.snapshots_offset > MAX_TABLE_OFFSET {
        why = Some("snapshot table offset invalid".into());
    }
    if h.crypt_method != 0 {
        why = Some("encrypted image needs a key to open".into());
    }
    c.r.qemu_open_failure = why;
}

pub(super) fn check_chain(image: &Image, opts: &CheckOptions) -> Vec<BackingCheck> {
    let sub = CheckOptions {
        check_backing: false,
        ..opts.clone()
    };
    image
        .chain()
        .into_iter()
        .enumerate()
        .map(|(i, b)| {
            let (state, report) = match &b.state {
                BackingState::Qcow2(img) => ("qcow2".to_string(), Some(Box::new(check(img, &sub)))),
                BackingState::Raw(_) => ("raw".to_string(), None),
                other => (format!("{other:?}"), None),
            };
            BackingCheck {
                name: b.name.clone(),
                path: b.path.clone(),
                depth: i.saturating_add(1),
                state,
                report,
            }
        })
        .collect()
}

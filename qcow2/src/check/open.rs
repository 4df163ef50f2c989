//! What keeps QEMU from opening the image at all (`qemu-img check` then
//! exits 1 whatever the refcounts say), and the check of each image of the
//! backing chain.

use super::{BackingCheck, CheckOptions, Ctx, check};
use crate::image::*;
use crate::limits::*;
use imgcheck_core::Severity;

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

/// What became of the backing file: missing, unreadable, a loop, too deep,
/// or a virtual size other than this image's.
pub(super) fn backing_findings(c: &mut Ctx<'_>) {
    let h = c.h;
    let img = c.img;
    if let Some(b) = img.backing() {
        let (code, sev, msg) = match &b.state {
            BackingState::Missing(w) => (
                "qcow2.backing.missing",
                Severity::Error,
                format!("backing file {:?} is missing: {w}", b.name),
            ),
            BackingState::Unreadable(w) => (
                "qcow2.backing.unreadable",
                Severity::Error,
                format!("backing file {:?} cannot be read: {w}", b.name),
            ),
            BackingState::Loop(p) => (
                "qcow2.backing.loop",
                Severity::Error,
                format!(
                    "backing file {:?} leads back to {} : the chain loops",
                    b.name,
                    p.display()
                ),
            ),
            BackingState::TooDeep => (
                "qcow2.backing.too_deep",
                Severity::Error,
                format!(
                    "backing chain through {:?} is deeper than {MAX_CHAIN_DEPTH}",
                    b.name
                ),
            ),
            BackingState::NotFollowed => (
                "qcow2.backing.not_followed",
                Severity::Info,
                format!(
                    "backing file {:?} was not opened; unallocated clusters cannot be read",
                    b.name
                ),
            ),
            _ => ("", Severity::Info, String::new()),
        };
        if !code.is_empty() {
            c.sink.push(sev, code, h.backing_file_offset, msg);
        }
        if let Some(bs) = b.virtual_size()
            && bs != h.size
        {
            c.sink.push(
                Severity::Warning,
                "qcow2.backing.size_differs",
                24,
                format!(
                    "backing file {:?} has a virtual size of {bs} bytes, this image {} bytes{}",
                    b.name,
                    h.size,
                    if bs < h.size {
                        "; the guest reads zeros past the backing file's end"
                    } else {
                        "; the backing file's data past this image's end is invisible"
                    }
                ),
            );
        }
    }
}

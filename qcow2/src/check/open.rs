//! What keeps QEMU from opening the image at all (`qemu-img check` then
//! exits 1 whatever the refcounts say), and the check of each image of the
//! backing chain.

use super::{BackingCheck, CheckOptions, Ctx, check};
use crate::image::*;
use crate::limits::*;
use imgcheck_core::Severity;

/// Why QEMU would not open the image at all, in the order it looks:
/// what the header told ([`crate::Header::refusals`]), then the files it
/// names. Bitmaps are judged by their own pass.
pub(super) fn qemu_open_checks(c: &mut Ctx<'_>) {
    let h = c.h;
    let img = c.img;
    let mut why = h.refusals.first().map(|r| r.qemu.clone());
    if why.is_none()
        && let Some(DataFile::Unavailable(w)) = img.data_file()
    {
        why = Some(format!("Could not open the data file: it {w}"));
    }
    if why.is_none()
        && let Some(b) = img.backing()
    {
        why = match &b.state {
            BackingState::Missing(w) | BackingState::Unreadable(w) | BackingState::NotAFile(w) => {
                Some(format!("Could not open backing file {:?}: {w}", b.name))
            }
            BackingState::Loop(_) => Some("backing chain loops".into()),
            BackingState::TooDeep => Some("backing chain too deep".into()),
            _ => None,
        };
    }
    if why.is_none() && h.crypt_method != 0 {
        why = Some("Parameter 'encrypt.key-secret' is required for cipher".into());
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
                BackingState::Qcow2(img) => {
                    // The chain shares one bound, grown by each file's share.
                    if let Some(b) = &sub.budget {
                        b.add_file(img.file().len());
                    }
                    ("qcow2".to_string(), Some(Box::new(check(img, &sub))))
                }
                BackingState::Raw(_) => ("raw".to_string(), None),
                other => (other.to_string(), None),
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
            BackingState::NotAFile(w) => (
                "qcow2.backing.not_a_file",
                Severity::Error,
                format!(
                    "backing file {:?} was not opened: {w}, not a regular file or block device",
                    b.name
                ),
            ),
            BackingState::Loop(p) => (
                "qcow2.backing.loop",
                Severity::Error,
                format!(
                    "backing file {:?} is {}, already in the chain (the same file, by device and inode): the chain loops",
                    b.name,
                    p.display()
                ),
            ),
            BackingState::TooDeep => (
                "qcow2.backing.too_deep",
                // imgcheck's own bound, not damage: QEMU opens and reads
                // deeper chains (an attack's clean 66-image chain was
                // called damaged). The check stops there and says so.
                Severity::Warning,
                format!(
                    "backing chain through {:?} is deeper than {MAX_CHAIN_DEPTH}, imgcheck's bound: the files below are not checked and clusters they hold are not read (QEMU opens deeper chains; this is not damage by itself)",
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
            // What QEMU does on purpose after `qemu-img resize` of an
            // overlay (or an overlay created with its own size): worth
            // knowing when reading a layer below, not damage.
            c.sink.push(
                Severity::Info,
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

//! One entry point that reaches every part of the crate, for fuzz
//! targets (feature `fuzzing`): not part of the embedding API.

use crate::{CheckOptions, Guest, Image, check};

/// Opens an image held in memory, checks it (deeply) and reads its guest
/// disk and every snapshot at a few offsets, discarding the results: one
/// call covers every entry point, for fuzz targets. It must never panic,
/// hang, or allocate beyond the bounds in [`crate::limits`].
#[cfg_attr(test, allow(dead_code))]
pub fn exercise(data: &[u8]) {
    use imgcheck_core::ReadAt;
    use std::sync::Arc;
    let Ok(img) = Image::open(Arc::new(imgcheck_core::BytesReader::new(data.to_vec()))) else {
        return;
    };
    let img = Arc::new(img);
    let _ = check(
        &img,
        &CheckOptions {
            deep: true,
            check_backing: false,
            budget: None,
        },
    );
    let mut buf = vec![0u8; 4096];
    let mut views = vec![Guest::new(Arc::clone(&img))];
    views.extend(
        img.snapshots()
            .iter()
            .take(4)
            .filter_map(|s| Guest::snapshot(Arc::clone(&img), &s.id).ok()),
    );
    for g in views {
        let len = g.len();
        for off in [0, len / 3, len.saturating_sub(4096)] {
            if off.saturating_add(4096) <= len {
                let _ = g.read_exact_at(off, &mut buf);
            }
        }
        let _ = g.known_zero(0, len);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn exercise_entry_point_on_fixtures_and_garbage() {
        for name in imgcheck_testdata::list("qcow2") {
            if name.ends_with(".qcow2") {
                super::exercise(&std::fs::read(imgcheck_testdata::fixture(&name)).unwrap());
            }
        }
        super::exercise(&[]);
        super::exercise(b"QFI\xfb\0\0\0\x03");
    }
}

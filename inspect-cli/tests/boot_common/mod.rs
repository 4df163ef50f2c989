//! What the boot-chain tests (boot.rs, grub_scripts.rs) share: the clean
//! GPT fixture GRUB was installed on (testdata/scripts/boot.sh) and the
//! report, findings and verdicts of an image.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]
#![allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use imgcheck::options::Options;
use imgcheck::pipeline::inspect_image;
use imgcheck::report::ImageReport;
use imgcheck_boot::Outcome;
use std::path::Path;

/// The GPT disk with GRUB for both firmware paths.
pub const CLEAN: &str = "boot/gpt-grub.img";

/// The report of `path`, quick unless `deep`.
pub fn report_of(path: &Path, deep: bool) -> ImageReport {
    let opts = Options {
        image_path: path.to_path_buf(),
        quick: !deep,
        ..Options::default()
    };
    inspect_image(path, None, &opts).unwrap()
}

/// The codes of its findings.
pub fn codes(r: &ImageReport) -> Vec<String> {
    r.findings().iter().map(|f| f.code.to_string()).collect()
}

/// Its BIOS and UEFI verdicts.
pub fn outcomes(r: &ImageReport) -> (Outcome, Outcome) {
    let b = r.boot.as_ref().expect("a boot section");
    (b.bios.outcome, b.uefi.outcome)
}

/// The sectors a real tool changed on a fixture (rm on the mounted root,
/// mdel on the ESP: testdata/scripts/boot.sh), as patches.
pub fn delta(rel: &str) -> Vec<imgcheck_testdata::Patch> {
    imgcheck_testdata::delta(rel)
}

/// `base` with the delta `rel` written back.
pub fn with_delta(base: &str, rel: &str) -> imgcheck_testdata::Damaged {
    imgcheck_testdata::damaged(base, &delta(rel))
}

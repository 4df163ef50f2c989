//! The one-call entry points an embedder uses: [`inspect`] a file (the
//! report `imgcheck PATH` prints, built by the same code the CLI runs) and
//! [`compare`] copies (the report of `imgcheck compare`).

use crate::options::{Fatal, Format, Options};
use crate::report::ImageReport;
use imgcheck_core::{Finding, Inspector};
use std::path::Path;
use std::sync::Arc;

/// Everything imgcheck found in one image (see [`ImageReport`]).
pub type Report = ImageReport;

/// Why an image could not be checked at all (see [`Fatal`]): exit status 8.
pub type Error = Fatal;

/// The report of two or more copies compared side by side.
pub type CompareReport = crate::compare::model::CompareReport;

/// Checks the image at `path` and returns the report `imgcheck PATH`
/// prints (its JSON is `imgcheck --json PATH`). The container is detected
/// from the file; `opts.image_path` is filled in from `path` when empty, so
/// backing files resolve and hints name the image.
pub fn inspect(path: &Path, opts: &Options) -> Result<Report, Error> {
    inspect_as(path, None, opts)
}

/// [`inspect`] with the container format forced (`--format`).
pub fn inspect_as(path: &Path, format: Option<Format>, opts: &Options) -> Result<Report, Error> {
    let mut opts = opts.clone();
    if opts.image_path.as_os_str().is_empty() {
        opts.image_path = path.to_path_buf();
    }
    // The LVM2 layer assembles VGs from the PVs of its pool: of one image
    // here, as the CLI's pool is of the images given.
    let pool = Arc::new(crate::pool::Pool::with_snapshots(vec![(
        path.to_path_buf(),
        opts.snapshot.clone(),
    )]));
    let layers = crate::pool::PooledLayers::new(pool);
    check(&layers.registry(), path, format, None, &opts)
}

/// Checks an image held by any reader (a buffer, a device opened by the
/// caller); `name` is what the report calls it. Backing files of a qcow2
/// image resolve against `opts.image_path`.
pub fn inspect_reader(
    name: &str,
    reader: Arc<dyn imgcheck_core::ReadAt>,
    opts: &Options,
) -> Result<Report, Error> {
    crate::pipeline::inspect_reader(name, reader, None, opts)
}

/// Compares the copies named by `copies` (paths or `PATH@SNAPSHOT`): the
/// report `imgcheck compare` prints. The error names the copy that could
/// not be opened.
pub fn compare(copies: &[String]) -> Result<CompareReport, String> {
    crate::compare::compare(copies)
}

/// One image as the CLI checks it: the pipeline with `registry`, then the
/// finding the CLI knows from the image's siblings (`sibling`, a small
/// file among larger ones) with the next steps it changes. [`inspect`] and
/// the CLI both come here, so the library's report is the CLI's.
pub(crate) fn check(
    registry: &[&dyn Inspector],
    path: &Path,
    format: Option<Format>,
    sibling: Option<&Finding>,
    opts: &Options,
) -> Result<Report, Error> {
    let mut r = crate::pipeline::inspect_image_with(registry, path, format, opts)?;
    if let Some(f) = sibling {
        r.layout.push(f.clone());
        r.next_steps = crate::steps::next_steps(&r);
    }
    Ok(r)
}

//! The `imgcheck` pipeline as a library: open an image, walk it outside in
//! (container → partition table → partitions → filesystems), add the checks
//! that span layers, and render the report as text, JSON or SVG.
//!
//! ```no_run
//! use imgcheck::{inspect_image, layers::Options, render};
//!
//! let opts = Options { image_path: "disk.qcow2".into(), ..Options::default() };
//! let report = inspect_image("disk.qcow2".as_ref(), None, &opts)?;
//! println!("{}", report.verdict().as_str());
//! print!("{}", render::json_line(&report));
//! # Ok::<(), imgcheck::layers::Fatal>(())
//! ```

pub mod batch;
pub mod cli;
pub mod exit;
pub mod layers;
pub mod layout;
pub mod options;
pub mod pipeline;
pub mod render;
pub mod report;
pub mod svg;

pub use pipeline::inspect_image;

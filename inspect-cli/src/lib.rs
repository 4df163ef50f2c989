//! The `imgcheck` pipeline as a library: open an image, let the registry
//! of layers read it outside in (container → partition table → partitions →
//! filesystems, each layer handing out the readers the next one reads), add
//! the checks that span layers, and render the report as text, JSON or SVG.
//!
//! ```no_run
//! use imgcheck::{inspect_image, options::Options, render};
//!
//! let opts = Options { image_path: "disk.qcow2".into(), ..Options::default() };
//! let report = inspect_image("disk.qcow2".as_ref(), None, &opts)?;
//! println!("{}", report.verdict().as_str());
//! print!("{}", render::json_line(&report));
//! # Ok::<(), imgcheck::options::Fatal>(())
//! ```
//!
//! Modules, each importing only those listed before it: `exit`, `options`,
//! `limits`, `level`, `devices` (leaves); `pool` (the PVs of a run); `registry` (with the adapters in
//! `layers/`); `report`; `layout` and `steps` (checks over the report
//! tree); `pipeline`; `render`, `svg`; `batch`; `compare` (copies side by side); `cli`.

pub mod batch;
pub mod boot;
pub mod cli;
pub mod compare;
pub mod devices;
pub mod exit;
pub mod host;
pub mod layout;
pub mod level;
pub mod limits;
pub mod metrics;
pub mod options;
pub mod pipeline;
pub mod pool;
pub mod progress;
pub mod registry;
pub mod render;
pub mod report;
pub mod steps;
pub mod svg;

pub use pipeline::inspect_image;
pub use registry::layers;

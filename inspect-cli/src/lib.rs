//! The `imgcheck` pipeline as a library: open an image, let the registry
//! of layers read it outside in (container → partition table → partitions →
//! filesystems, each layer handing out the readers the next one reads), add
//! the checks that span layers, and render the report as text, JSON or SVG.
//!
//! One call gets the whole report the CLI prints — [`inspect`] for an
//! image file, [`inspect_reader`] for any reader, [`compare()`] for copies
//! side by side:
//!
//! ```
//! use imgcheck::{Options, inspect};
//!
//! let image = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
//!     .join("../testdata/demo/brainvm.qcow2");
//! let report = inspect(&image, &Options::default())?;
//! // The checks across layers come first in the summary: the demo's
//! // disk grew and its partition table did not.
//! let headline = report.layout.first().ok_or("no finding across layers")?;
//! println!("{} at {} {:#x} ({})", headline.code, headline.space, headline.offset, headline.place);
//! if let Some(hint) = report.hint_of(headline) {
//!     println!("hint: {}", hint.hint);
//! }
//! assert_eq!(headline.code, "layout.size_chain.grown");
//! // The last partition, which did not grow with the disk.
//! assert_eq!(headline.place.partition(), Some(2));
//! print!("{}", imgcheck::render::json_line(&report));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Modules, each importing only those listed before it: `exit`, `options`,
//! `limits`, `level`, `devices` (leaves); `pool` (the PVs of a run); `registry` (with the adapters in
//! `layers/`); `report`; `layout` and `steps` (checks over the report
//! tree); `pipeline`; `json` (the typed `--json` view); `render`, `svg`; `batch`; `compare` (copies side by side); `api` (the one-call entry points); `cli`; `generate` (completions and man page from `cli`'s definitions).

pub mod api;
pub mod batch;
pub mod boot;
pub mod cli;
pub mod compare;
pub mod devices;
pub mod exit;
pub mod generate;
pub mod host;
pub mod json;
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

pub use api::{CompareReport, Error, Report, compare, inspect, inspect_as, inspect_reader};
pub use json::JsonReport;
pub use options::{Format, Options};
pub use pipeline::inspect_image;
pub use registry::layers;

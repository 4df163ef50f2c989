//! The two things every imgcheck layer shares: a positioned-read trait
//! ([`ReadAt`]) and the findings model ([`Finding`]).
//!
//! A layer crate (qcow2, gpt, ext4) reads only through [`ReadAt`], so it
//! checks a raw file, a partition of it, or the guest disk inside a qcow2
//! image alike; it reports what it finds as [`Finding`] values and keeps
//! fatal conditions for its error type.
//!
//! ```
//! use imgcheck_core::{BytesReader, ReadAt, Slice, Finding, Layer, Space};
//!
//! let disk = BytesReader::new(vec![0u8; 4096]);
//! let part = Slice::new(&disk, 1024, 2048).expect("range inside the disk");
//! let mut sector = [0u8; 512];
//! part.read_exact_at(0, &mut sector)?;
//! assert!(part.read_exact_at(2000, &mut sector).is_err()); // past the end: an error, never a short read
//!
//! let f = Finding::warning("gpt.example", Layer::Gpt, 512, Space::Disk, "an example")
//!     .with_hint("sgdisk -v disk.img");
//! assert_eq!(f.severity.to_string(), "warning");
//! # Ok::<(), imgcheck_core::ReadError>(())
//! ```

mod findings;
mod read;
mod size;

pub use findings::{Finding, Layer, Severity, Space, worst_severity};
pub use read::{BytesReader, FileReader, ReadAt, ReadError, ReadErrorKind, Slice, read_vec};
pub use size::human_size;

//! What every imgcheck layer shares: a positioned-read trait ([`ReadAt`]),
//! the findings model ([`Finding`], with hints as data: [`Hint`]), the
//! layer contract ([`Inspector`], [`Inspected`], [`Child`]) with its typed
//! [`Facts`], the work bound ([`Budget`]), one cap policy ([`Sink`]), and
//! the little shared helpers (field readers in [`bytes`], [`time::utc`],
//! [`human_size`]).
//!
//! A layer crate (qcow2, gpt, ext4, …) reads only through [`ReadAt`], so it
//! checks a raw file, a partition of it, or the guest disk inside a qcow2
//! image alike; it reports what it finds as [`Finding`] values and keeps
//! fatal conditions for its error type.
//!
//! ```
//! use imgcheck_core::{BytesReader, Finding, Hint, Layer, ReadAt, Slice, Space};
//!
//! let disk = BytesReader::new(vec![0u8; 4096]);
//! let part = Slice::new(&disk, 1024, 2048).expect("range inside the disk");
//! let mut sector = [0u8; 512];
//! part.read_exact_at(0, &mut sector)?;
//! assert!(part.read_exact_at(2000, &mut sector).is_err()); // past the end: an error, never a short read
//!
//! let f = Finding::warning("gpt.example", Layer::GPT, 512, Space::Disk, "an example")
//!     .with_hint(Hint::read_only("sgdisk -v {disk}"));
//! assert_eq!(f.severity.to_string(), "warning");
//! assert!(!f.hint.as_ref().is_some_and(|h| h.writes));
//! # Ok::<(), imgcheck_core::ReadError>(())
//! ```
//!
//! A layer is an [`Inspector`]: `probe` says whether a reader holds its
//! format, `inspect` returns the node, facts, findings, events and the
//! children the pipeline recurses into.
//!
//! ```
//! use imgcheck_core::{Context, Inspected, Inspector, Probe, ReadAt, Strength};
//! use std::sync::Arc;
//!
//! struct Zeros;
//! impl Inspector for Zeros {
//!     fn name(&self) -> &'static str { "zeros" }
//!     fn probe(&self, r: &dyn ReadAt, _: &Context<'_>) -> Option<Probe> {
//!         r.known_zero(0, r.len()).then(|| Probe::new(Strength::Weak, "reads as zeros"))
//!     }
//!     fn inspect(&self, r: &Arc<dyn ReadAt>, _: &Context<'_>) -> Inspected {
//!         let mut node = Inspected::new("zeros", format!("{} bytes of zeros", r.len()));
//!         node.facts.claimed_size = Some(r.len());
//!         node
//!     }
//! }
//! ```

mod bootfile;
mod budget;
pub mod bytes;
mod facts;
mod findings;
mod hint;
mod layer;
mod owners;
mod place;
mod progress;
mod read;
mod sink;
mod size;
pub mod time;

pub use bootfile::{BootFile, FileLookup, Files, boot_paths};
pub use budget::{Budget, Exhausted, FailedRead, Metered};
pub use facts::{
    Attach, Expect, ExtendedFact, Facts, GuestDisk, Identity, IdentityKind, Promise, Role,
    SnapshotFact, Structure, SuperblockUse, TableFacts, VolumeExtent, VolumeLoss,
};
pub use findings::{Finding, FindingJson, Layer, Severity, Space, worst_severity};
pub use hint::{Hint, Target};
pub use layer::{
    Child, ChildNode, Context, Depth, Event, Extent, Inspected, Inspector, Options, Probe, Strength,
};
pub use owners::{
    MAX_NAME_BYTES, MAX_OWNED_RANGES, MAX_PATH_DEPTH, MAX_READ_SPANS, MAX_UNINDEXED, OwnedRange,
    OwnerKind, OwnerMap, OwnerMapBuilder,
};
pub use place::{Place, Step, Where};
pub use progress::Progress;
pub use read::{
    BytesReader, FileKind, FileReader, OpenError, ReadAt, ReadError, ReadErrorKind, Slice,
    note_opened, opened_by_this_process, read_vec,
};
pub use sink::{MAX_FINDINGS_PER_CODE, Sink};
pub use size::human_size;

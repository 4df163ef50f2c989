//! imgcheck-lvm2: reads and checks LVM2 physical volumes, assembles their
//! volume groups across several disks, and hands out each logical volume
//! as a reader — read-only, bounded, on any input.
//!
//! - [`label`]: the PV label (`LABELONE`, its CRC) and PV header;
//! - [`mda`]: metadata area headers, the circular buffer with its wrap,
//!   older generations still in it;
//! - [`config`] and [`metadata`]: the metadata text (libdm config syntax)
//!   and the VG it describes;
//! - [`pv`]: one PV read from one reader, with its findings;
//! - [`assemble()`]: VGs from every PV given: newest copy by seqno, stale
//!   and damaged copies, missing PVs, lost extents per LV and segment
//!   ([`lost`]), layout checks ([`check`]), history ([`history`]);
//! - [`layer`]: a PV's node, facts and its VG's LVs as children, ready
//!   for the pipeline's layer adapter;
//! - [`VolumeGroup::open`]: an LV's bytes ([`map`]: linear, striped,
//!   mirror/raid1 legs, raid0, snapshots, thin LVs through [`thin`]).
//!
//! ```no_run
//! use imgcheck_core::{FileReader, ReadAt};
//! use imgcheck_lvm2::{Input, Opened, assemble, Limits};
//! use std::sync::Arc;
//!
//! let inputs: Vec<Input> = ["pv-a.img", "pv-b.img"]
//!     .iter()
//!     .map(|p| Ok(Input { name: p.to_string(), reader: Arc::new(FileReader::open(p)?) }))
//!     .collect::<std::io::Result<_>>()?;
//! let a = assemble(&inputs, &Limits::default());
//! for vg in &a.vgs {
//!     println!("VG {} seqno {}{}", vg.name(), vg.metadata.seqno, if vg.partial() { " (partial)" } else { "" });
//!     for pv in vg.missing() {
//!         println!("  missing PV {} ({} bytes), last on {:?}", pv.meta.id, pv.dev_size_bytes(), pv.meta.device);
//!     }
//!     for lv in &vg.lvs {
//!         match vg.open(&lv.name) {
//!             Opened::Mapped(r) => println!("  LV {} {} bytes, {} extents lost", lv.name, r.len(), lv.lost_extents()),
//!             Opened::NotMapped(n) => println!("  LV {}: {}", lv.name, n.message),
//!         }
//!     }
//!     for l in &vg.findings {
//!         println!("  {}", l.finding);
//!     }
//! }
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Every bound is a named constant ([`config::Limits`], [`mda::MAX_AREA_SCAN`],
//! [`lost::MAX_LV_DEPTH`], [`thin::MAX_BTREE_DEPTH`], [`snapshot::MAX_EXCEPTIONS`],
//! [`assemble::MAX_INPUTS`]); findings are [`imgcheck_core::Finding`]s of
//! layer [`LAYER`], with hints in LVM terms ([`hints`]).

pub mod assemble;
pub mod check;
pub mod config;
pub mod crc;
pub mod hints;
pub mod history;
pub mod label;
pub mod layer;
pub mod lost;
pub mod map;
pub mod mda;
pub mod metadata;
pub mod pv;
pub mod snapshot;
pub mod thin;

pub use assemble::{Assembly, FoundBy, Input, InputState, Located, VgPv, VolumeGroup, assemble};
pub use config::Limits;
pub use history::{Change, History};
pub use lost::{Device, Lost, LvState, SegState};
pub use map::{NotMapped, Opened, Why};
pub use metadata::{Area, LvMeta, PvMeta, SegKind, Segment, VgMetadata};
pub use pv::{PhysicalVolume, probe};

use imgcheck_core::Layer;

/// The layer every finding of this crate names.
pub const LAYER: Layer = Layer::LVM2;

pub(crate) fn u64_of(n: usize) -> u64 {
    imgcheck_core::bytes::u64_of(n)
}

impl VolumeGroup {
    /// Timeline events: LV creations, changes found between generations,
    /// the last metadata write.
    pub fn events(&self) -> Vec<imgcheck_core::Event> {
        self.history.events(&self.metadata)
    }
}

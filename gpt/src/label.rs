//! Disk labels other than MBR and GPT: Sun, SGI, BSD disklabel, Atari,
//! IBM DASD (CDL/LDL) and the Apple partition map, detected as libblkid's
//! partition probers detect them (`libblkid/src/partitions/*.c`) and named
//! as blkid names them (`PTTYPE`). imgcheck does not check these labels:
//! it names them so that a disk carrying one is never called "no
//! partition table", and lists the partitions where the layout is simple
//! (Sun, BSD, APM).
//!
//! ```no_run
//! use imgcheck_core::FileReader;
//!
//! let disk = FileReader::open("sun.img")?;
//! if let Some(l) = imgcheck_gpt::label::detect(&disk) {
//!     println!("{} ({}): {} partitions", l.scheme, l.name, l.partitions.len());
//! }
//! # Ok::<(), std::io::Error>(())
//! ```

mod apm;
mod atari;
mod bsd;
mod dasd;
mod sgi;
mod sun;

use crate::util::read_opt;
use imgcheck_core::ReadAt;
use serde::Serialize;

/// How strong the evidence for a label is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Evidence {
    /// A magic number and a structure that validates, but no checksum
    /// (APM, Atari, DASD).
    Magic,
    /// A magic number and a checksum over the label (Sun, SGI, BSD).
    Checksum,
}

/// One partition a label lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelPartition {
    /// Its number as Linux numbers it (Sun, SGI: slot + 1; BSD: slot + 1
    /// for `a`..; APM: map entry).
    pub number: u32,
    /// First byte in the reader the label was found in.
    pub start: u64,
    /// Size in bytes.
    pub size: u64,
    /// Its type, in the label's words (`Linux native`, `4.2BSD`, `Apple_HFS`).
    pub type_name: String,
    /// Its name, when the label has names (APM, BSD slice letter).
    pub name: String,
    /// The entry stands for the whole disk or slice (Sun tag 5, BSD `c`,
    /// APM's own map): listed, never inspected as contents.
    pub whole: bool,
}

/// A label found on a disk.
#[derive(Debug, Clone, Serialize)]
pub struct Label {
    /// blkid's `PTTYPE` (`sun`, `sgi`, `bsd`, `atari`, `dasd`, `mac`).
    pub scheme: &'static str,
    /// What it is, in words (`Sun disk label`).
    pub name: &'static str,
    /// What was seen, in words.
    pub evidence: String,
    /// How strong that is.
    pub strength: Evidence,
    /// The partitions, for the labels whose layout is listed (Sun, BSD,
    /// APM); empty for the others.
    pub partitions: Vec<LabelPartition>,
    /// Whether partitions are listed for this kind.
    pub listed: bool,
    /// Facts worth saying about the label (a slice offset, a volume serial).
    pub notes: Vec<String>,
}

/// The first label `r` carries, tried in libblkid's order (SGI, Sun, APM,
/// BSD, Atari, DASD); `None` when none is there.
pub fn detect<R: ReadAt + ?Sized>(r: &R) -> Option<Label> {
    let s0 = read_opt(r, 0, 512, 512)?;
    sgi::detect(&s0)
        .or_else(|| sun::detect(&s0))
        .or_else(|| apm::detect(r, &s0))
        .or_else(|| bsd::detect(r))
        .or_else(|| atari::detect(&s0, r.len().checked_div(512).unwrap_or(0)))
        .or_else(|| dasd::detect(r))
}

/// Whether a label detected inside a partition is a nested table that
/// belongs there: a BSD disklabel inside a BSD-typed slice.
pub fn nests_in(label: &Label, partition_type: &str) -> bool {
    label.scheme == "bsd" && partition_type.contains("BSD")
}

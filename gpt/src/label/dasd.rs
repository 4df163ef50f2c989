//! IBM DASD labels (s390), as the kernel's `block/partitions/ibm.c` finds
//! them in a disk image: the volume label in block 2, "VOL1" in EBCDIC
//! (compatible disk layout, CDL: key then label) or "LNX1"/"CMS1" (Linux
//! disk layout, LDL; CMS). Named, not listed: the CDL VTOC is not read.

use super::{Evidence, Label};
use crate::util::{bytes, mul, read_opt};
use imgcheck_core::ReadAt;

const VOL1: &[u8] = &[0xE5, 0xD6, 0xD3, 0xF1];
const LNX1: &[u8] = &[0xD3, 0xD5, 0xE7, 0xF1];
const CMS1: &[u8] = &[0xC3, 0xD4, 0xE2, 0xF1];
/// The DASD block sizes.
const BLOCK_SIZES: [u64; 4] = [512, 1024, 2048, 4096];

pub(super) fn detect<R: ReadAt + ?Sized>(r: &R) -> Option<Label> {
    BLOCK_SIZES.iter().find_map(|&bs| {
        let b = read_opt(r, mul(bs, 2), 8, 8)?;
        let (layout, what) = if bytes(&b, 0, 4) == VOL1 && bytes(&b, 4, 4) == VOL1 {
            ("CDL", "compatible disk layout")
        } else if bytes(&b, 0, 4) == LNX1 {
            ("LDL", "Linux disk layout")
        } else if bytes(&b, 0, 4) == CMS1 {
            ("CMS", "CMS disk layout")
        } else {
            return None;
        };
        Some(Label {
            scheme: "dasd",
            name: "IBM DASD label",
            evidence: format!(
                "volume label \"{}\" (EBCDIC) in block 2 of {bs}-byte blocks: {layout}, {what}",
                match layout {
                    "CDL" => "VOL1",
                    "LDL" => "LNX1",
                    _ => "CMS1",
                }
            ),
            strength: Evidence::Magic,
            partitions: Vec::new(),
            listed: false,
            notes: vec![format!("{bs}-byte blocks")],
        })
    })
}

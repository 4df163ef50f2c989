//! The Apple partition map: a driver descriptor "ER" in block 0 giving the
//! block size, and map entries "PM" in blocks 1.. each giving the map's
//! length, its start and size in blocks, a name and a type (libblkid
//! `mac.c`).

use super::{Evidence, Label, LabelPartition};
use crate::util::{be16, be32, bytes, mul, read_opt};
use imgcheck_core::ReadAt;

/// Most map entries read (the map of a real disk has a handful).
const MAX_ENTRIES: u32 = 64;

fn text(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(b.get(..end).unwrap_or(&[]))
        .trim()
        .to_string()
}

pub(super) fn detect<R: ReadAt + ?Sized>(r: &R, s0: &[u8]) -> Option<Label> {
    if bytes(s0, 0, 2) != b"ER" {
        return None;
    }
    let bs = u64::from(be16(s0, 2));
    if !(512..=4096).contains(&bs) || !bs.is_power_of_two() {
        return None;
    }
    let first = read_opt(r, bs, 512, 512)?;
    if bytes(&first, 0, 2) != b"PM" {
        return None;
    }
    let count = be32(&first, 4);
    if count == 0 || count > MAX_ENTRIES {
        return None;
    }
    let mut partitions = Vec::new();
    for i in 1..=u64::from(count) {
        let Some(e) = read_opt(r, mul(i, bs), 512, 512) else {
            break;
        };
        if bytes(&e, 0, 2) != b"PM" {
            break;
        }
        let type_name = text(bytes(&e, 48, 32));
        partitions.push(LabelPartition {
            number: u32::try_from(i).unwrap_or(0),
            start: mul(u64::from(be32(&e, 8)), bs),
            size: mul(u64::from(be32(&e, 12)), bs),
            whole: type_name == "Apple_partition_map" || type_name == "Apple_Free",
            type_name,
            name: text(bytes(&e, 16, 32)),
        });
    }
    Some(Label {
        scheme: "mac",
        name: "Apple partition map",
        evidence: format!(
            "driver descriptor \"ER\" (block size {bs}) and a partition map \"PM\" of {count} entries"
        ),
        strength: Evidence::Magic,
        partitions,
        listed: true,
        notes: Vec::new(),
    })
}

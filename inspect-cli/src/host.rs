//! The filesystem holding the image: whether the copy every repair starts
//! from fits there, and whether it is nearly full (QEMU pauses or stops a
//! VM whose image cannot grow: `werror=enospc`). Read with statvfs; the
//! image itself is not touched.

use imgcheck_core::{Finding, Layer, Space, human_size};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Below this share of free space the host filesystem is "nearly full".
const NEARLY_FULL_PERCENT: u64 = 5;

/// Where the room on the host comes from. A library call defaults to
/// `Unmeasured`, so a report is a function of the image alone (tests and
/// snapshots do not move with the free space of the machine running
/// them); the CLI measures, and `--host-room` pins it for reproducible
/// reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostRoom {
    /// Say nothing about the host.
    #[default]
    Unmeasured,
    /// statvfs of the filesystem holding the image.
    Measure,
    /// This free and total space (bytes); what a copy needs is still the
    /// image's allocated size.
    Given {
        /// Free bytes.
        free: u64,
        /// Size of the filesystem.
        total: u64,
    },
}

impl HostRoom {
    /// The room beside `image` as this policy sees it.
    pub fn room(self, image: &Path) -> Option<Room> {
        match self {
            HostRoom::Unmeasured => None,
            HostRoom::Measure => room(image),
            HostRoom::Given { free, total } => {
                let needed = std::fs::metadata(image)
                    .ok()
                    .filter(|m| m.is_file())?
                    .blocks()
                    .saturating_mul(512);
                Some(Room {
                    free,
                    total,
                    needed,
                })
            }
        }
    }

    /// Parse `--host-room`: `measure`, `off`, or `FREE/TOTAL` in bytes
    /// with an optional K/M/G/T suffix (powers of 1024).
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "measure" => return Ok(HostRoom::Measure),
            "off" => return Ok(HostRoom::Unmeasured),
            _ => {}
        }
        let size = |v: &str| -> Result<u64, String> {
            let v = v.trim();
            let (num, shift) = [('K', 10), ('M', 20), ('G', 30), ('T', 40)]
                .iter()
                .find_map(|&(c, sh)| {
                    v.strip_suffix(c)
                        .or_else(|| v.strip_suffix(c.to_ascii_lowercase()))
                        .map(|n| (n, sh))
                })
                .unwrap_or((v, 0));
            num.parse::<u64>()
                .ok()
                .and_then(|n| n.checked_mul(1u64 << shift))
                .ok_or_else(|| format!("not a size: {v:?}"))
        };
        let (free, total) = s
            .split_once('/')
            .ok_or_else(|| format!("expected measure, off or FREE/TOTAL, got {s:?}"))?;
        let (free, total) = (size(free)?, size(total)?);
        if free > total {
            return Err(format!("free ({free}) is more than total ({total})"));
        }
        Ok(HostRoom::Given { free, total })
    }
}

/// Space on the filesystem holding an image, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Room {
    /// Free to an unprivileged writer (f_bavail × f_frsize).
    pub free: u64,
    /// Size of the filesystem.
    pub total: u64,
    /// What a sparse copy of the image needs: its allocated bytes.
    pub needed: u64,
}

/// The room beside the regular file `image`; `None` for a block device or
/// when statvfs fails (then nothing is said).
pub fn room(image: &Path) -> Option<Room> {
    let meta = std::fs::metadata(image).ok()?;
    if !meta.is_file() {
        return None;
    }
    let dir = image
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let s = rustix::fs::statvfs(dir).ok()?;
    Some(Room {
        free: s.f_bavail.saturating_mul(s.f_frsize),
        total: s.f_blocks.saturating_mul(s.f_frsize),
        needed: meta.blocks().saturating_mul(512),
    })
}

/// What the room says, as findings: no room for the copy (warning: the
/// next steps' copy would fail half-way and take the last free blocks), or
/// a nearly full filesystem (info).
pub fn findings(r: Room) -> Vec<Finding> {
    let mut out = Vec::new();
    if r.needed > r.free {
        out.push(Finding::warning(
            "layout.host.no_room_for_copy",
            Layer::LAYOUT,
            0,
            Space::File,
            format!(
                "the filesystem holding the image has {} free, but a copy of the image needs {}: make the copy on another filesystem (a copy beside it would fail half-way and take the last free blocks)",
                human_size(r.free),
                human_size(r.needed)
            ),
        ));
    } else if r.free.saturating_mul(100) < r.total.saturating_mul(NEARLY_FULL_PERCENT) {
        out.push(Finding::info(
            "layout.host.nearly_full",
            Layer::LAYOUT,
            0,
            Space::File,
            format!(
                "the filesystem holding the image is nearly full ({} free of {}): a VM writing to this image pauses or stops when it runs out (QEMU werror=enospc); copy to another filesystem",
                human_size(r.free),
                human_size(r.total)
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_for_the_copy() {
        let gib = 1u64 << 30;
        let codes = |r| {
            findings(r)
                .iter()
                .map(|f| f.code.to_string())
                .collect::<Vec<_>>()
        };
        assert!(
            codes(Room {
                free: 50 * gib,
                total: 100 * gib,
                needed: gib
            })
            .is_empty()
        );
        assert_eq!(
            codes(Room {
                free: gib,
                total: 100 * gib,
                needed: 2 * gib
            }),
            ["layout.host.no_room_for_copy"]
        );
        assert_eq!(
            codes(Room {
                free: 4 * gib,
                total: 100 * gib,
                needed: gib
            }),
            ["layout.host.nearly_full"]
        );
    }

    #[test]
    fn host_room_parses() {
        assert_eq!(HostRoom::parse("off"), Ok(HostRoom::Unmeasured));
        assert_eq!(HostRoom::parse("measure"), Ok(HostRoom::Measure));
        assert_eq!(
            HostRoom::parse("1G/100G"),
            Ok(HostRoom::Given {
                free: 1 << 30,
                total: 100 << 30
            })
        );
        assert!(HostRoom::parse("2G/1G").is_err());
        assert!(HostRoom::parse("lots").is_err());
        assert!(HostRoom::parse("99999999999T/1").is_err());
    }

    #[test]
    fn a_given_room_is_not_measured() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let f = dir.path().join("img");
        std::fs::write(&f, vec![1u8; 1 << 16]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(HostRoom::Unmeasured.room(&f), None);
        let r = HostRoom::Given { free: 7, total: 9 }
            .room(&f)
            .unwrap_or_else(|| panic!("no room"));
        assert_eq!((r.free, r.total), (7, 9));
        assert!(r.needed >= 1 << 16);
    }

    #[test]
    fn the_real_filesystem_is_measured() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let f = dir.path().join("img");
        std::fs::write(&f, vec![1u8; 1 << 16]).unwrap_or_else(|e| panic!("{e}"));
        let r = room(&f).unwrap_or_else(|| panic!("no statvfs"));
        assert!(
            r.needed >= 1 << 16 && r.total > 0 && r.free <= r.total,
            "{r:?}"
        );
    }
}

//! GRUB 2's core.img where boot.img points (GRUB 2.06 `boot.S`,
//! `diskboot.S`, `util/setup.c`): boot.img in sector 0 loads the sector
//! at its `kernel_sector` (u64 at 0x5C, 512-byte units), diskboot.img,
//! whose blocklist at its end names the rest. On an MBR disk that is the
//! gap before the first partition: in use, not free space; and a zero
//! map that finds those sectors zeroed names core.img.

use imgcheck_core::ReadAt;
use imgcheck_core::bytes::{bytes, le16, le64};

/// GRUB's sector unit, whatever the disk's.
const UNIT: u64 = 512;
/// boot.img's `kernel_sector`.
const KERNEL_SECTOR_AT: usize = 0x5C;
/// The first blocklist entry of diskboot.img, and the floor it grows to.
const FIRST_LIST: usize = 0x1F4;
const LIST_FLOOR: usize = 0x100;
/// The most sectors setup embeds ((0x78000 − 0x9000) / 512).
const MAX_SECTORS: u64 = 888;

/// Where core.img lies on the disk (bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrubCore {
    /// First byte: diskboot.img, where boot.img points.
    pub start: u64,
    /// Bytes from `start` to the end of the last listed sector; 512 when
    /// the sector there no longer holds a readable blocklist (zeroed).
    pub len: u64,
}

fn has(s: &[u8], n: &[u8]) -> bool {
    s.windows(n.len()).any(|w| w == n)
}

/// core.img as boot.img in sector 0 of `r` names it, when sector 0 holds
/// GRUB 2's boot.img (its strings `GRUB `, `Geom`, `Read`).
pub fn locate<R: ReadAt + ?Sized>(r: &R) -> Option<GrubCore> {
    let mut s0 = vec![0u8; 512];
    r.read_exact_at(0, &mut s0).ok()?;
    let code = bytes(&s0, 0, 0x1B8);
    if !(has(code, b"GRUB ") && has(code, b"Geom") && has(code, b"Read")) {
        return None;
    }
    let k = le64(&s0, KERNEL_SECTOR_AT);
    let start = k.checked_mul(UNIT)?;
    if k == 0 || start >= r.len() {
        return None;
    }
    let mut d = vec![0u8; 512];
    if r.read_exact_at(start, &mut d).is_err() {
        return Some(GrubCore { start, len: UNIT });
    }
    let mut end = start.saturating_add(UNIT);
    if has(&d, b"loading") && has(&d, b"Geom") {
        let (mut at, mut total) = (FIRST_LIST, 0u64);
        while at >= LIST_FLOOR {
            let e = bytes(&d, at, 12);
            let n = u64::from(le16(e, 8));
            if n == 0 {
                break;
            }
            total = total.saturating_add(n);
            let first = le64(e, 0);
            let last = first.saturating_add(n).saturating_mul(UNIT);
            if total > MAX_SECTORS || last > r.len() {
                break;
            }
            // Only runs that continue from diskboot: an embedded core is
            // contiguous; a blocklist install elsewhere is a file's.
            if first.saturating_mul(UNIT) == end {
                end = last;
            }
            let Some(next) = at.checked_sub(12) else {
                break;
            };
            at = next;
        }
    }
    Some(GrubCore {
        start,
        len: end.saturating_sub(start),
    })
}

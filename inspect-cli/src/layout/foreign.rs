//! A qcow2 image written raw over the start of a raw disk (`dd
//! if=other.qcow2 of=disk.raw conv=notrunc`): the file starts with a valid
//! qcow2 header, and `qemu-img check` calls it clean, but it is the disk
//! that was there, its first bytes replaced.
//!
//! A qcow2 file ends where its last cluster in use ends (qemu-img's image
//! end offset) unless it was preallocated (then its refcounts cover the
//! file) or has bytes appended. Only the bytes past that end are looked at,
//! and only a structure that a raw disk of exactly this file's size holds
//! counts: a GPT backup header in the file's last sector that names that
//! sector as its own and LBA 1 as the primary's, an ext or XFS primary
//! superblock where a raw disk's first partition starts (1 MiB, sector
//! 63), or an ext backup superblock of a filesystem starting under the
//! qcow2's bytes. A qcow2's
//! own clusters (a guest's GPT, a guest's ext4) lie below its end, and a
//! truncated qcow2 has nothing past it: neither is read as an overwrite.

use super::{LossEvent, lost, promise};
use crate::report::Node;
use imgcheck_core::bytes::le64;
use imgcheck_core::{Finding, Hint, Layer, ReadAt, Space, Target, human_size};

/// Bytes past the qcow2's end below which nothing is looked at: a disk
/// with its start overwritten is larger than that.
const MIN_TAIL: u64 = 1 << 20;

/// The finding code the qcow2 layer gives when a raw disk lies beneath,
/// and the pipeline reads the file as that raw disk.
pub const QCOW2_OVER_RAW: &str = "qcow2.over_raw_disk";

/// What past the qcow2's end (`image_end`, qemu-img's image end offset) of
/// `file` shows a raw disk of the file's size, in words; `None` when
/// nothing does.
pub fn raw_disk_beneath(file: &dyn ReadAt, image_end: u64) -> Option<String> {
    let len = file.len();
    if image_end == 0 || len < image_end.checked_add(MIN_TAIL)? {
        return None;
    }
    // A GPT backup header in the last sector, naming that sector as its
    // own (MyLBA) and LBA 1 as the primary's (AlternateLBA).
    let last = len.checked_div(512)?.checked_sub(1)?;
    let at = last.checked_mul(512)?;
    if at >= image_end
        && let Ok(h) = imgcheck_core::read_vec(file, at, 512, 512)
        && h.get(..8) == Some(b"EFI PART".as_slice())
        && le64(&h, 24) == last
        && le64(&h, 32) == 1
    {
        return Some(format!(
            "a GPT backup header in the file's last sector (LBA {last}) names itself and LBA 1, as a raw disk of exactly this file's {} has",
            human_size(len)
        ));
    }
    // A filesystem's primary superblock past the qcow2's end, where a
    // partitioner puts a partition's start: the disk's first partition,
    // whose table the qcow2's first bytes replaced (mke2fs wipes a GPT's
    // backup header, so nothing else of a 4 KiB-block, one-group ext4
    // may survive). Whatever its size, its superblock is past a qcow2
    // smaller than the gap before it.
    if let Some(why) = PARTITION_STARTS
        .into_iter()
        .filter(|&start| start >= image_end)
        .find_map(|start| primary_superblock(file, start))
    {
        return Some(why);
    }
    // An ext backup superblock past the qcow2's end of a filesystem that
    // starts under it: at the disk's start, or at 1 MiB (a partition).
    [0u64, 1 << 20].into_iter().find_map(|start| {
        let from = image_end.checked_sub(start)?;
        let r = promise::ext_backup(file, start, len.checked_sub(start)?, from)?;
        Some(format!(
            "an ext superblock at file byte {} (the backup of group {}, UUID {}) belongs to a {} ext filesystem starting at file byte {start}, under the qcow2's bytes",
            start.saturating_add(r.offset),
            r.group,
            r.uuid,
            human_size(r.blocks.saturating_mul(r.block_size))
        ))
    })
}

/// Where partitioners put a disk's first partition: 1 MiB (every tool
/// since 2010) and sector 63 (old MBR tools, cylinder-aligned).
const PARTITION_STARTS: [u64; 2] = [1 << 20, 63 * 512];

/// An ext or XFS primary superblock of a filesystem starting at file
/// byte `start` that fits in the file, in words; `None` when there is
/// none. Read by the filesystems' own crates, with the fields agreeing
/// (ext: magic, a block size of 1–64 KiB, the first data block that
/// block size implies, blocks per group; XFS: every `xfs_repair` sanity
/// rule of a primary), so a text or random byte that happens to spell a
/// magic is not one.
fn primary_superblock(file: &dyn ReadAt, start: u64) -> Option<String> {
    let room = file.len().checked_sub(start)?;
    let sb = imgcheck_core::read_vec(file, start.checked_add(1024)?, 1024, 1024).ok()?;
    let e = imgcheck_ext4::Superblock::parse(&sb);
    if e.s_magic == 0xEF53
        && let Some(bs) = e.block_size()
        && e.s_first_data_block == u32::from(bs == 1024)
        && e.s_blocks_per_group != 0
        && e.s_blocks_count != 0
        && e.s_blocks_count.checked_mul(bs)? <= room
    {
        return Some(format!(
            "an ext superblock at file byte {} (UUID {}) is the primary of a {} ext filesystem starting at file byte {start}, where a raw disk's first partition starts, past the qcow2's bytes",
            start.saturating_add(1024),
            imgcheck_ext4::uuid_text(&e.s_uuid),
            human_size(e.s_blocks_count.saturating_mul(bs))
        ));
    }
    let part = imgcheck_core::Slice::new(file, start, room)?;
    if imgcheck_xfs::probe_superblock(&part) != Some(true) {
        return None;
    }
    let x = imgcheck_core::read_vec(file, start, 512, 512).ok()?;
    let x = imgcheck_xfs::sb::Superblock::parse(&x);
    let size = x.dblocks.checked_mul(u64::from(x.blocksize))?;
    (size != 0 && size <= room).then(|| {
        format!(
            "an XFS superblock at file byte {start} is the primary of a {} XFS filesystem, where a raw disk's first partition starts, past the qcow2's bytes",
            human_size(size)
        )
    })
}

/// The findings and loss event for the raw disk `disk` (tree `root`) whose
/// first `foreign_end` bytes a qcow2 image now holds (`evidence`: what
/// showed the disk beneath): the overwrite, and what it destroyed of the
/// ext filesystem found by its backup superblock past those bytes.
pub fn qcow2_over_disk(
    root: &Node,
    disk: &dyn ReadAt,
    foreign_end: u64,
    evidence: &str,
) -> (Vec<Finding>, Option<LossEvent>) {
    // A victim in a partition (the table's, or at 1 MiB), else a bare
    // filesystem at the disk's start (a VM disk without a table).
    let victim = root
        .table()
        .and_then(|t| promise::remnant_past(t, disk, foreign_end))
        .or_else(|| promise::ext_backup(disk, 0, disk.len(), foreign_end).map(|r| (0, r)));
    let untouched = PARTITION_STARTS
        .into_iter()
        .filter(|&start| start >= foreign_end)
        .find(|&start| primary_superblock(disk, start).is_some());
    let victim_words = if let Some(start) = untouched {
        format!(
            "; the filesystem at disk byte {start} lies wholly past those bytes: none of its blocks were overwritten, only what the disk held before it (its partition table)"
        )
    } else {
        victim.as_ref().map_or_else(
        || "; no ext filesystem's backup superblock was found past it: which files it destroyed cannot be known from this disk".to_string(),
        |(start, r)| {
            format!(
                "; the victim is the ext filesystem at disk byte {start} (UUID {}, read through its backup superblock of group {})",
                r.uuid, r.group
            )
        },
    )
    };
    let mut out = vec![
        Finding::error(
            "layout.overwritten.qcow2",
            Layer::LAYOUT,
            0,
            Space::Disk,
            format!(
                "the file is a raw disk of {} whose first {} ({foreign_end} bytes) are a qcow2 image: {evidence}; a qcow2 file was written raw over the disk's start (dd conv=notrunc, where qemu-img convert was meant), and a qcow2 reader sees only that image{victim_words}",
                human_size(disk.len()),
                human_size(foreign_end),
            ),
        )
        .with_hint(
            Hint::read_only("imgcheck --format raw {image}; qemu-img info -f raw {image}")
                .on(Target::Image)
                .because("read the file as the raw disk it is; never open it as qcow2 read-write (qemu would write the foreign image's metadata over the victim's bytes)"),
        ),
    ];
    let lost = victim.and_then(|(start, r)| {
        lost::overwrite::overwrite(
            disk,
            start,
            &r,
            foreign_end,
            "the qcow2 image's end offset: a dd of that file writes exactly that far",
        )
    });
    let ev = lost.map(|(ev, f)| {
        out.push(f);
        ev
    });
    (out, ev)
}

//! A partition whose type promises a filesystem (or an LVM PV, swap, an
//! ESP) but holds none is never silent: what it holds instead, what
//! survives of the ext filesystem that lived there (backup superblocks at
//! the group boundaries of every block size, as TestDisk and e2fsck look),
//! and the recovery steps in e2fsprogs' order, read-only first.

use crate::report::Node;
use imgcheck_core::bytes::{le16, le32};
use imgcheck_core::{Finding, Hint, Layer, Place, Promise, ReadAt, Space, Step, Target};
use imgcheck_core::{human_size, read_vec, time::utc};

/// Groups that hold a backup superblock under sparse_super (1, and the
/// powers of 3, 5 and 7), the first few: e2fsck -b takes any of them.
const BACKUP_GROUPS: [u64; 10] = [1, 3, 5, 7, 9, 25, 27, 49, 81, 125];
/// ext2/3/4 block sizes a backup is looked for with.
const BLOCK_SIZES: [u64; 3] = [1024, 2048, 4096];
/// How far into a partition the first 1 MiB is checked for zeros.
const HEAD: u64 = 1 << 20;
/// An intruder this much smaller than its partition was written in, not
/// made there by mkfs.
const SLACK: u64 = 1 << 20;

/// A backup ext superblock found inside a partition.
#[derive(Debug, Clone)]
pub struct Remnant {
    /// Partition byte offset of the superblock.
    pub offset: u64,
    /// Block size.
    pub block_size: u64,
    /// Its group.
    pub group: u64,
    /// The block e2fsck -b takes.
    pub block: u64,
    /// Blocks the filesystem had.
    pub blocks: u64,
    /// Its last write time (s_wtime), seconds since the epoch.
    pub wtime: u32,
    /// Its filesystem UUID (s_uuid), as text.
    pub uuid: String,
}

/// The first backup ext superblock in `[from, len)` of the partition that
/// starts at `start` on `disk`, tried at every block size's sparse group
/// boundaries; one 1 KiB read per candidate.
pub fn ext_backup(disk: &dyn ReadAt, start: u64, len: u64, from: u64) -> Option<Remnant> {
    // Blocks per group: mke2fs's default (8 per byte of a one-block
    // bitmap), then smaller powers of two down to 256, which `mke2fs -g`
    // makes (an attack's victim made with -b 4096 -g 8192 went unnamed).
    let bpgs = |bs: u64| {
        (0..6)
            .map(move |k| bs.saturating_mul(8).checked_shr(k).unwrap_or(0))
            .filter(|&b| b >= 256)
    };
    for g in BACKUP_GROUPS {
        for (bs, bpg) in BLOCK_SIZES
            .into_iter()
            .flat_map(|bs| bpgs(bs).map(move |b| (bs, b)))
        {
            let first_data = u64::from(bs == 1024);
            let block = g.saturating_mul(bpg).saturating_add(first_data);
            let offset = block.saturating_mul(bs);
            if offset < from || offset.saturating_add(1024) > len {
                continue;
            }
            let Ok(sb) = read_vec(disk, start.saturating_add(offset), 1024, 1024) else {
                continue;
            };
            let log = le32(&sb, 0x18);
            let nr = u64::from(le16(&sb, 0x5A));
            if le16(&sb, 0x38) == 0xEF53
                && log <= 6
                && (1024u64 << log) == bs
                && u64::from(le32(&sb, 0x20)) == bpg
                && (nr == 0 || nr == g)
            {
                return Some(Remnant {
                    offset,
                    block_size: bs,
                    group: g,
                    block,
                    blocks: u64::from(le32(&sb, 0x04)),
                    wtime: le32(&sb, 0x30),
                    uuid: uuid_text(sb.get(0x68..0x78).unwrap_or(&[])),
                });
            }
        }
    }
    None
}

/// Where a filesystem larger than the table's disk would start: each
/// partition's start, then the 1 MiB every partitioner aligns to.
/// The first backup ext superblock past the table's end `tend` found from
/// one of them: what survives of a filesystem that lived on a larger disk
/// before a smaller image was written over its start. Ten candidate
/// places per block size and start, one 1 KiB read each.
pub fn remnant_past(table: &Node, disk: &dyn ReadAt, tend: u64) -> Option<(u64, Remnant)> {
    let mut starts: Vec<u64> = table
        .partitions()
        .filter_map(|p| p.span.map(|s| s.start))
        .take(16)
        .collect();
    starts.push(1 << 20);
    starts.sort_unstable();
    starts.dedup();
    starts.into_iter().find_map(|start| {
        let len = disk.len().checked_sub(start)?;
        let from = tend.checked_sub(start)?;
        ext_backup(disk, start, len, from).map(|r| (start, r))
    })
}

/// An XFS secondary superblock found past a table's end: what survives
/// of an XFS that lived on a larger disk before a smaller image was
/// written over its start (and over its AG 0).
#[derive(Debug, Clone)]
pub struct XfsRemnant {
    /// Disk byte offset of the secondary superblock.
    pub offset: u64,
    /// Its AG (its AGF's `agf_seqno`).
    pub ag: u64,
    /// Block size.
    pub block_size: u64,
    /// Blocks per AG.
    pub agblocks: u64,
    /// Blocks the filesystem had.
    pub dblocks: u64,
    /// Its UUID (sb_uuid), as text.
    pub uuid: String,
}

/// The XFS block size mkfs.xfs uses unless told otherwise.
const XFS_BLOCK: u64 = 4096;
/// Bytes per MiB, in XFS blocks' terms below.
const MIB: u64 = 1 << 20;

/// mkfs.xfs's AG size for a filesystem of `dblocks` blocks of `bs` bytes
/// on one device without stripe geometry (xfs_mkfs.c,
/// calc_default_ag_geometry): 4 AGs from 128 MiB to 4 TiB, fewer below,
/// rounded up so the last AG keeps the remainder.
fn mkfs_xfs_agblocks(dblocks: u64, bs: u64) -> Option<u64> {
    let blocks_of = |bytes: u64| bytes.checked_div(bs).unwrap_or(0);
    // XFS_AG_MAX_BLOCKS: 1 TiB per AG.
    let max = blocks_of(1 << 40);
    if dblocks >= blocks_of(4 << 40) {
        return Some(max);
    }
    // 2 from 128 MiB up (one device); below, 5 less one for each of
    // <= 512 GiB, <= 8 GiB, < 128 MiB, < 64 MiB, < 32 MiB.
    let shift: u32 = if dblocks >= blocks_of(64 * MIB) {
        2
    } else if dblocks >= blocks_of(32 * MIB) {
        1
    } else {
        0
    };
    let mut blocks = dblocks.checked_shr(shift)?;
    let mask = 1u64.checked_shl(shift)?.saturating_sub(1);
    if dblocks & mask != 0 && blocks < max {
        blocks = blocks.saturating_add(1);
    }
    (blocks > 0).then_some(blocks)
}

/// The XFS secondary superblock past the table's end `tend` that mkfs.xfs
/// would have placed for a filesystem starting at one of the partitions'
/// starts (or 1 MiB) and running to the disk's end (as a GPT's last
/// partition does, or an MBR's, or one parted aligned to 1 MiB): each
/// candidate's AG boundaries follow from its size, one 1 KiB read apiece.
/// The superblock found must state that AG size and block size, and its
/// AGF name the AG it stands for. `(start, remnant)`.
pub fn xfs_remnant_past(table: &Node, disk: &dyn ReadAt, tend: u64) -> Option<(u64, XfsRemnant)> {
    let len = disk.len();
    let mut starts: Vec<u64> = table
        .partitions()
        .filter_map(|p| p.span.map(|s| s.start))
        .take(16)
        .collect();
    starts.push(MIB);
    starts.sort_unstable();
    starts.dedup();
    let ends = [len.saturating_sub(33 * 512), len, len.saturating_sub(MIB)];
    for start in starts.into_iter().filter(|&s| s < tend) {
        for end in ends {
            let dblocks = end
                .saturating_sub(start)
                .checked_div(XFS_BLOCK)
                .unwrap_or(0);
            let Some(agblocks) = mkfs_xfs_agblocks(dblocks, XFS_BLOCK) else {
                continue;
            };
            let agsize = agblocks.saturating_mul(XFS_BLOCK);
            let agcount = dblocks.div_ceil(agblocks);
            for ag in 1..agcount.min(64) {
                let at = start.saturating_add(ag.saturating_mul(agsize));
                if at < tend {
                    continue;
                }
                if let Some(r) = xfs_secondary(disk, at, ag, XFS_BLOCK, agblocks) {
                    return Some((start, r));
                }
                break;
            }
        }
    }
    None
}

/// The XFS secondary superblock of AG `ag` at disk byte `at`, when its
/// geometry is the one expected and its AGF names that AG.
fn xfs_secondary(
    disk: &dyn ReadAt,
    at: u64,
    ag: u64,
    bs: u64,
    agblocks: u64,
) -> Option<XfsRemnant> {
    use imgcheck_core::bytes::{be16, be32, be64};
    let sb = read_vec(disk, at, 512, 512).ok()?;
    if sb.get(..4) != Some(b"XFSB".as_slice())
        || u64::from(be32(&sb, 4)) != bs
        || u64::from(be32(&sb, 84)) != agblocks
    {
        return None;
    }
    let sect = u64::from(be16(&sb, 102));
    if !sect.is_power_of_two() || !(512..=32768).contains(&sect) {
        return None;
    }
    let agf = read_vec(disk, at.saturating_add(sect), 16, 16).ok()?;
    if agf.get(..4) != Some(b"XAGF".as_slice()) || u64::from(be32(&agf, 8)) != ag {
        return None;
    }
    Some(XfsRemnant {
        offset: at,
        ag,
        block_size: bs,
        agblocks,
        dblocks: be64(&sb, 8),
        uuid: uuid_text(sb.get(32..48).unwrap_or(&[])),
    })
}

/// The primary ext superblock of a filesystem starting at `start`, when
/// there is one: its last write time (s_wtime) and UUID, to date an
/// intruder against its victim.
pub fn ext_primary(disk: &dyn ReadAt, start: u64) -> Option<(u32, String)> {
    let sb = read_vec(disk, start.saturating_add(1024), 1024, 1024).ok()?;
    (le16(&sb, 0x38) == 0xEF53).then(|| {
        (
            le32(&sb, 0x30),
            uuid_text(sb.get(0x68..0x78).unwrap_or(&[])),
        )
    })
}

/// A 16-byte UUID in its usual text form.
pub(crate) fn uuid_text(b: &[u8]) -> String {
    let mut out = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push_str(&format!("{x:02x}"));
    }
    out
}

/// How far into a partition traces of an ext filesystem are looked for.
const TRACE_SCAN: u64 = 16 << 20;
/// Read size of that scan.
const TRACE_CHUNK: u64 = 1 << 20;

/// Traces of an ext filesystem whose superblocks are all gone, in the
/// [`TRACE_SCAN`] bytes of the partition from `from`, at 1 KiB steps: the jbd2 journal
/// superblock (magic 0xC03B3998, blocktype 3 or 4, its s_blocksize) and a
/// root directory block ("." and ".." both inode 2). In words, with the
/// block size they imply.
pub fn ext_traces(
    disk: &dyn ReadAt,
    start: u64,
    len: u64,
    from: u64,
) -> (Vec<String>, Option<u64>) {
    let mut out = Vec::new();
    let mut block_size = None;
    let (mut journal, mut root) = (false, false);
    // Transactions the kernel wrote into the journal (descriptor, commit,
    // revoke blocks): they outlive the journal's own superblock.
    let mut txns: Option<(u32, u32, u64)> = None;
    // From a 1 KiB boundary: the structures looked for are block-aligned.
    let mut at = from.div_ceil(1024).saturating_mul(1024);
    let end = len.min(at.saturating_add(TRACE_SCAN));
    while at < end && !(journal && root) {
        let n = TRACE_CHUNK.min(end.saturating_sub(at));
        if disk.known_zero(start.saturating_add(at), n) {
            at = at.saturating_add(n);
            continue;
        }
        let Ok(buf) = read_vec(disk, start.saturating_add(at), n, TRACE_CHUNK) else {
            break;
        };
        for (i, b) in buf.chunks(1024).enumerate() {
            let off = at.saturating_add(u64::try_from(i).unwrap_or(0).saturating_mul(1024));
            let be32 = |o: usize| imgcheck_core::bytes::be32(b, o);
            let blocktype = be32(4);
            if !journal && be32(0) == 0xC03B_3998 && (blocktype == 3 || blocktype == 4) {
                let bs = u64::from(be32(12));
                if matches!(bs, 1024 | 2048 | 4096 | 65536) {
                    journal = true;
                    block_size = Some(bs);
                    out.push(format!(
                        "a jbd2 journal superblock at partition byte {off} ({bs}-byte blocks, {} journal blocks)",
                        be32(16)
                    ));
                }
            }
            if !journal && be32(0) == 0xC03B_3998 && matches!(blocktype, 1 | 2 | 5) {
                let seq = be32(8);
                txns = Some(match txns {
                    None => (seq, seq, off),
                    Some((lo, hi, first)) => (lo.min(seq), hi.max(seq), first),
                });
            }
            if !root
                && le32(b, 0) == 2
                && le16(b, 4) == 12
                && b.get(6) == Some(&1)
                && b.get(8) == Some(&b'.')
                && le32(b, 12) == 2
                && b.get(18) == Some(&2)
                && b.get(20..22) == Some(b"..".as_slice())
            {
                root = true;
                out.push(format!(
                    "the root directory block (\".\" and \"..\" both inode 2) at partition byte {off}"
                ));
            }
        }
        at = at.saturating_add(n);
    }
    if !journal && let Some((lo, hi, first)) = txns {
        out.push(format!(
            "jbd2 journal blocks of transactions {lo}..={hi} from partition byte {first} (the journal of an ext3/ext4 filesystem the kernel wrote to)"
        ));
    }
    (out, block_size)
}

/// An image much smaller than its partition with data behind it, where
/// nothing says what the data was: said as a warning (it may be an image
/// written over something, or a filesystem made small on purpose over
/// old bytes), with read-only steps.
fn smaller_intruder(
    fs: &Node,
    disk: &dyn ReadAt,
    span: crate::report::Span,
    len: u64,
    from: u64,
    type_name: &str,
) -> Option<Finding> {
    let end = span.start.saturating_add(len);
    let at = imgcheck_gpt::tables::data_past(disk, span.start.saturating_add(from), end)?;
    let n = span.index;
    let mut f = Finding::warning(
        "layout.overwritten.unknown_victim",
        Layer::LAYOUT,
        span.start,
        Space::Disk,
        format!(
            "partition {n} (typed {type_name}, {}) starts with a {} image, {}, and data the {} does not own follows at partition byte {}: an image written over the partition's start leaves what it does not cover behind; nothing there names what lived there (no backup superblock, no journal, no directory block in the bytes read)",
            human_size(span.size),
            human_size(from),
            intruder_words(fs, disk, span.start, len),
            intruder_name(&fs.kind.to_ascii_lowercase()),
            at.saturating_sub(span.start),
        ),
    )
    .with_hint(
        Hint::read_only("dd if={dev} bs=1M count=16 status=none | file -; testdisk /list {disk}")
            .on(Target::Partition(n))
            .because("see what lies past the image before anything writes to the partition; photorec (on a copy) recovers files by their contents when no structure survives"),
    );
    f.place = Place::root().join(Step::Partition(n));
    Some(f)
}

/// What to do when nothing that lived in a partition survives, in words
/// that fit what its type promised: e2fsprogs' `mke2fs -S` only where an
/// ext filesystem lived (a trace says so, or the type is a Linux one).
fn last_resort(p: Promise, type_name: &str, ext_lived: bool) -> String {
    let first =
        "see what the partition holds now, and look for what it held, before anything writes to it";
    let linux = type_name.to_ascii_lowercase().contains("linux");
    let rest = match p {
        _ if ext_lived => {
            "with no backup superblock, e2fsprogs' last resort is mke2fs -S with the original parameters (block size, inode count) on a copy, then e2fsck -fy on that copy"
        }
        Promise::EfiSystem => {
            "an EFI system partition holds a FAT volume: testdisk finds a FAT32 volume's backup boot sector (sector 6) and rewrites it on a copy; failing that, the ESP is recreated (mkfs.vfat on a copy, then the boot loader reinstalled)"
        }
        Promise::Lvm => {
            "an LVM PV: the host that used it keeps its VG's metadata in /etc/lvm/backup and /etc/lvm/archive; pvcreate --uuid UUID --restorefile FILE on a copy, then vgcfgrestore"
        }
        Promise::Swap => {
            "swap holds nothing that outlives a shutdown: mkswap recreates it, but only once nothing else is found here"
        }
        Promise::Filesystem if linux => {
            "with no backup superblock, e2fsprogs' last resort (for an ext filesystem) is mke2fs -S with the original parameters (block size, inode count) on a copy, then e2fsck -fy on that copy"
        }
        _ => "testdisk's deeper search names what it finds; repair only a copy",
    };
    format!("{first}; {rest}")
}

/// The intruder at a partition's start in words: what its bytes are, the
/// identifiers its layer found, and (a FAT volume) the newest date in its
/// root directory, to date it against its victim.
fn intruder_words(fs: &Node, disk: &dyn ReadAt, start: u64, len: u64) -> String {
    let ids: Vec<&str> = fs
        .facts
        .identities
        .iter()
        .map(|i| i.value.as_str())
        .filter(|v| !fs.title.contains(v))
        .collect();
    let ids = if ids.is_empty() {
        String::new()
    } else {
        format!(", UUID {}", ids.join(", "))
    };
    let kind = fs.kind.to_ascii_lowercase();
    let what = match kind.as_str() {
        "fat" => "a FAT boot sector",
        "xfs" => "an XFS superblock",
        "lvm2" => "an LVM2 label",
        "ntfs" => "an NTFS boot sector",
        "swap" => "a swap signature",
        _ => "",
    };
    let mut out = if what.is_empty() {
        format!("{} ({}{ids})", fs.kind, fs.title)
    } else {
        format!("{what} ({}{ids})", fs.title)
    };
    if kind == "fat" {
        if let Some((label, Some(t))) = fat_label(disk, start, len) {
            out.push_str(&format!(
                "; it was made {} (the date mkfs.fat gave its volume label entry \"{label}\")",
                utc(t)
            ));
        }
        out.push_str(&match fat_newest(disk, start, len) {
            Some((name, t)) => format!(
                "; the newest entry of its root directory is {name}, dated {}",
                utc(t)
            ),
            None => "; its root directory holds no dated entry".to_string(),
        });
    }
    out
}

/// The intruder's name after "the" in a sentence.
fn intruder_name(kind: &str) -> String {
    match kind {
        "fat" => "FAT volume".to_string(),
        "xfs" => "XFS filesystem".to_string(),
        "lvm2" => "LVM2 physical volume".to_string(),
        k => format!("{k} image"),
    }
}

/// The FAT volume at `start`'s label entry: its name and date, the
/// volume's creation (see [`imgcheck_fat::Volume::label_entry`]).
fn fat_label(disk: &dyn ReadAt, start: u64, len: u64) -> Option<(String, Option<i64>)> {
    let slice = imgcheck_core::Slice::clamped(disk, start, len);
    imgcheck_fat::Volume::open(slice).ok()?.label_entry()
}

/// The newest last-write or creation time among the root directory's
/// entries of the FAT volume at `start` (Linux's listing: no label, no
/// long-name slots), with the entry's name.
fn fat_newest(disk: &dyn ReadAt, start: u64, len: u64) -> Option<(String, i64)> {
    let slice = imgcheck_core::Slice::clamped(disk, start, len);
    let vol = imgcheck_fat::Volume::open(slice).ok()?;
    let root = vol.root();
    vol.read_dir(&root)
        .ok()?
        .into_iter()
        .filter_map(|e| {
            let t = e.modified.into_iter().chain(e.created).max()?;
            Some((e.name, t))
        })
        .max_by_key(|(_, t)| *t)
}

fn promises_contents(p: Promise) -> bool {
    matches!(
        p,
        Promise::Filesystem
            | Promise::EfiSystem
            | Promise::Lvm
            | Promise::Swap
            | Promise::Raid
            | Promise::Encrypted
    )
}

/// Every partition of the table under `root` whose type promises contents
/// that no layer found, or whose start holds another filesystem in front
/// of a surviving ext superblock.
pub fn unkept(root: &Node, disk: &dyn ReadAt) -> Vec<Finding> {
    let Some(table) = root.table() else {
        return Vec::new();
    };
    // An isohybrid MBR's other entries map files inside the ISO (its El
    // Torito boot images): what they hold is the ISO's, told not judged.
    let isohybrid = table.facts.table.as_ref().is_some_and(|t| t.isohybrid);
    let isos: Vec<(u64, u64)> = table
        .partitions()
        .filter(|p| {
            p.children
                .first()
                .is_some_and(|c| c.kind.eq_ignore_ascii_case("iso9660"))
        })
        .filter_map(|p| p.span.map(|s| (s.start, s.start.saturating_add(s.size))))
        .collect();
    table
        .partitions()
        .filter_map(|p| {
            let in_iso = isohybrid
                && p.span.is_some_and(|s| {
                    isos.iter().any(|&(a, b)| {
                        a <= s.start && s.start.saturating_add(s.size) <= b && a != s.start
                    })
                });
            let mut f = check_one(p, disk)?;
            if in_iso && f.code == "layout.contents.missing" {
                f.severity = imgcheck_core::Severity::Info;
                f.message.push_str(
                    "; it lies inside the ISO image the isohybrid MBR maps, so its bytes are one of the ISO's files (an El Torito boot image): the ISO's to hold, and a firmware that boots this partition finds no filesystem there",
                );
            }
            Some(f)
        })
        .collect()
}

fn check_one(p: &Node, disk: &dyn ReadAt) -> Option<Finding> {
    let span = p.span?;
    let expect = p.expect.as_ref()?;
    if !promises_contents(expect.contents) {
        return None;
    }
    let type_name = expect.type_name.as_deref().unwrap_or("a filesystem");
    let n = span.index;
    let len = span.size.min(disk.len().saturating_sub(span.start));
    let found = p.children.first();
    // Whether ext lived here (a trace or a backup superblock), for the
    // recovery words: mke2fs -S fits an ext filesystem only.
    let (mut f, remnant, ext_lived) = match found {
        None => {
            let head = HEAD.min(len);
            let zero = disk.known_zero(span.start, head)
                || read_vec(disk, span.start, head, HEAD)
                    .is_ok_and(|b| imgcheck_core::bytes::is_zero(&b));
            // Zeros at the start and data further on: the start was wiped.
            let data_after = if zero {
                imgcheck_gpt::tables::data_past(
                    disk,
                    span.start.saturating_add(head),
                    span.start.saturating_add(len),
                )
            } else {
                None
            };
            let what = if zero {
                match data_after {
                    Some(at) => format!(
                        "its first {} are all zeros, but data follows at partition byte {}: its start was wiped",
                        human_size(head),
                        at.saturating_sub(span.start)
                    ),
                    None => format!(
                        "its first {} are all zeros and so is every block sampled after them: it was never formatted, or was wiped whole",
                        human_size(head)
                    ),
                }
            } else {
                "its start holds data imgcheck does not recognise (overwritten, encrypted without a header, or a format it does not know)".to_string()
            };
            let remnant = ext_backup(disk, span.start, len, 0);
            let mut lived = remnant.is_some();
            // An NTFS keeps a copy of its boot sector in its last sector:
            // with it the volume is whole again, once it is put back.
            let ntfs = len
                .checked_sub(512)
                .map(|k| span.start.saturating_add(k))
                .and_then(|at| imgcheck_gpt::ntfs_backup_at(disk, at).map(|(s, _)| (s, at)))
                .filter(|&(s, _)| s == span.start)
                .map(|(_, at)| at);
            let mut msg = format!(
                "partition {n} is typed {type_name} but holds no recognised filesystem or volume: {what}"
            );
            if let Some(at) = ntfs {
                lived = true;
                msg.push_str(&format!(
                    "; but its NTFS backup boot sector survives in its last sector (disk byte {at}), and the volume's MFT where it says: the NTFS that lived there, whose boot sector was zeroed or overwritten"
                ));
            }
            match &remnant {
                _ if ntfs.is_some() => {}
                Some(r) => msg.push_str(&format!(
                    "; an ext superblock survives at partition byte {} (the backup of group {}, {}-byte blocks, a {} filesystem last written {}): the filesystem that lived there",
                    r.offset,
                    r.group,
                    r.block_size,
                    human_size(r.blocks.saturating_mul(r.block_size)),
                    utc(i64::from(r.wtime))
                )),
                None => {
                    msg.push_str(
                        "; no backup ext superblock at the group boundaries of 1, 2 or 4 KiB blocks (a one-group filesystem has none)",
                    );
                    let (traces, bs) = ext_traces(disk, span.start, len, 0);
                    if !traces.is_empty() {
                        lived = true;
                        msg.push_str(&format!(
                            "; but an ext filesystem lived here: {}{}",
                            traces.join(", "),
                            bs.map_or(String::new(), |b| format!(
                                "; its block size was {b} bytes, the parameter mke2fs -S needs"
                            ))
                        ));
                    }
                }
            }
            // A filesystem that lived here is destroyed (error); data that
            // is no known format may be one imgcheck does not know
            // (warning); an empty partition was perhaps never formatted
            // (info: said, not judged).
            let severity = if lived {
                imgcheck_core::Severity::Error
            } else if !zero || data_after.is_some() {
                imgcheck_core::Severity::Warning
            } else {
                imgcheck_core::Severity::Info
            };
            let f = Finding::new(
                severity,
                "layout.contents.missing",
                Layer::LAYOUT,
                span.start,
                Space::Disk,
                msg,
            );
            if let Some(at) = ntfs {
                let last = at.saturating_sub(span.start).checked_div(512).unwrap_or(0);
                let mut f = f.with_hint(
                    Hint::writes(format!(
                        "dd if={{dev}} of={{dev}} bs=512 skip={last} seek=0 count=1 conv=notrunc"
                    ))
                    .on(Target::Partition(n))
                    .because("on a copy of the image only: copies the intact NTFS backup boot sector (the partition's last sector) over the lost one; then ntfsfix -n or ntfsinfo -m reads the volume"),
                );
                f.place = Place::root().join(Step::Partition(n));
                return Some(f);
            }
            (f, remnant, lived)
        }
        Some(fs) => {
            // Only a Linux filesystem type is evidence that ext lived
            // here; anything ext-like at the start is the ext layer's.
            let kind = fs.kind.to_ascii_lowercase();
            if expect.contents != Promise::Filesystem || kind.starts_with("ext") {
                return None;
            }
            // mkfs/mkswap fill the partition (a reformat, the pipeline
            // checks the new contents); an image written in with dd is
            // smaller than the partition and leaves the rest behind it.
            let from = fs.facts.claimed_size?;
            if from.saturating_add(SLACK) >= span.size {
                return None;
            }
            let intruder = intruder_words(fs, disk, span.start, len);
            let r = ext_backup(disk, span.start, len, from.max(1024));
            let victim = match &r {
                Some(r) => format!(
                    "an ext superblock at partition byte {} (the backup of group {}, {}-byte blocks, UUID {}, last written {}) shows the {} ext filesystem that lived there",
                    r.offset,
                    r.group,
                    r.block_size,
                    r.uuid,
                    utc(i64::from(r.wtime)),
                    human_size(r.blocks.saturating_mul(r.block_size)),
                ),
                None => {
                    // A one-group filesystem has no backup: what of its
                    // metadata lies past the intruder is the evidence.
                    let (traces, bs) = ext_traces(disk, span.start, len, from);
                    if traces.is_empty() {
                        return smaller_intruder(fs, disk, span, len, from, type_name);
                    }
                    format!(
                        "past it {} show the ext filesystem that lived there (no backup superblock survives: a one-group filesystem has none){}",
                        traces.join(" and "),
                        bs.map_or(String::new(), |b| format!(
                            "; its block size was {b} bytes, the parameter mke2fs -S needs"
                        ))
                    )
                }
            };
            let f = Finding::error(
                "layout.overwritten",
                Layer::LAYOUT,
                span.start,
                Space::Disk,
                format!(
                    "partition {n} (typed {type_name}) starts with a {} image, {intruder}, but {victim}: that image was written over the partition's start; the {} is the intruder, the ext filesystem the victim",
                    human_size(from),
                    intruder_name(&kind),
                ),
            );
            (f, r, true)
        }
    };
    f = match remnant {
        Some(r) => f.with_hint(
            Hint::read_only(format!(
                "e2fsck -fn -b {} -B {} {{dev}}",
                r.block, r.block_size
            ))
            .on(Target::Partition(n))
            .because(
                "check the victim from its backup superblock without writing; repair only a copy (e2fsck -b on the copy), and mke2fs -S only as a last resort, on a copy, with the parameters the backup records",
            ),
        ),
        None => f.with_hint(
            Hint::read_only("dd if={dev} bs=1M count=16 status=none | file -; testdisk /list {disk}")
                .on(Target::Partition(n))
                .because(last_resort(expect.contents, type_name, ext_lived)),
        ),
    };
    f.place = Place::root().join(Step::Partition(n));
    Some(f)
}

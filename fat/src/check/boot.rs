//! The boot area: the boot sector and its BPB, the FAT32 backup boot
//! sector and FSInfo sectors, and the filesystem's size against what holds
//! it.

use super::Ctx;
use crate::LAYER;
use crate::bpb::{
    BOOT_SECTOR_LEN, Bpb, FAT16_MAX_CLUSTERS, FatKind, Geometry, Root, SIGNATURE_OFFSET, Unusable,
    media_ok,
};
use crate::hints::{fsck_n, repair_on_copy, restore_boot_from_backup};
use crate::reads::{Miss, Reads};
use crate::summary::{BootSource, FsInfo};
use crate::table::{Entry, Fat, entry_byte};
use imgcheck_core::bytes::{le32, u64_of};
use imgcheck_core::{Finding, Hint, Role, Severity, Sink, Space, Structure, human_size};

/// FSInfo signatures and their offsets (fatgen103).
const FSI_LEAD: (usize, u32) = (0, 0x4161_5252);
const FSI_STRUC: (usize, u32) = (484, 0x6141_7272);
const FSI_TRAIL: (usize, u32) = (508, 0xAA55_0000);
/// Where mkfs.vfat and Windows put the FAT32 backup boot sector.
const STANDARD_BACKUP_SECTOR: u16 = 6;
/// FAT entries read to judge what a truncation cut off, when the FAT is
/// not loaded.
const MAX_CUT_FAT_BYTES: u64 = 1 << 20;

/// The boot sector the check goes on with.
pub(super) struct Boot {
    pub(super) bpb: Bpb,
    pub(super) geometry: Geometry,
    pub(super) raw: Vec<u8>,
    pub(super) source: BootSource,
}

/// Reads sector 0, or — when it cannot describe a filesystem — the FAT32
/// backup boot sector, which fsck.fat and Linux never fall back to.
pub(super) fn read_boot(reads: &mut Reads<'_>, sink: &mut Sink) -> Option<Boot> {
    let mut raw = vec![0u8; BOOT_SECTOR_LEN];
    let why: Unusable = match reads.read(0, &mut raw, "boot sector") {
        Ok(()) => {
            let bpb = Bpb::parse(&raw);
            match Geometry::from_bpb(&bpb) {
                Ok(geometry) => {
                    return Some(Boot {
                        bpb,
                        geometry,
                        raw,
                        source: BootSource::Primary,
                    });
                }
                Err(e) => e,
            }
        }
        Err(Miss::Absent) => {
            sink.push(Finding::error(
                "fat.boot.unusable",
                LAYER,
                0,
                Space::Disk,
                format!(
                    "the reader holds {} bytes, less than one boot sector",
                    reads.len()
                ),
            ));
            return None;
        }
        // Already reported; a backup may still be readable.
        Err(Miss::Unreadable) => Unusable {
            field: "boot sector",
            offset: 0,
            why: "it cannot be read".into(),
        },
    };
    let primary = Bpb::parse(&raw);
    let mut sectors = vec![STANDARD_BACKUP_SECTOR];
    if primary.fat32_layout
        && primary.backup_boot_sector != 0
        && primary.backup_boot_sector != STANDARD_BACKUP_SECTOR
        && primary.backup_boot_sector < 64
    {
        sectors.push(primary.backup_boot_sector);
    }
    for s in sectors {
        for size in [512u32, 1024, 2048, 4096] {
            let at = u64::from(s).saturating_mul(u64::from(size));
            let mut b = vec![0u8; BOOT_SECTOR_LEN];
            if reads.read(at, &mut b, "backup boot sector").is_err() {
                continue;
            }
            let bpb = Bpb::parse(&b);
            if !bpb.fat32_layout
                || u32::from(bpb.bytes_per_sector) != size
                || bpb.backup_boot_sector != s
            {
                continue;
            }
            let Ok(geometry) = Geometry::from_bpb(&bpb) else {
                continue;
            };
            sink.push(
                Finding::error(
                    "fat.boot.primary_unusable",
                    LAYER,
                    why.offset,
                    Space::Disk,
                    format!(
                        "the boot sector cannot describe a FAT filesystem ({why}); the FAT32 backup boot sector at sector {s} (byte {at}) is intact and the check reads the filesystem through it. Linux, fsck.fat and firmware read only sector 0: to them this volume is not FAT"
                    ),
                )
                .with_hint(restore_boot_from_backup(size, s)),
            );
            return Some(Boot {
                bpb,
                geometry,
                raw: b,
                source: BootSource::Backup { offset: at },
            });
        }
    }
    sink.push(
        Finding::error(
            "fat.boot.unusable",
            LAYER,
            why.offset,
            Space::Disk,
            format!("the boot sector cannot describe a FAT filesystem: {why}; no intact FAT32 backup boot sector was found"),
        )
        .with_hint(Hint::advice(
            "if the volume was FAT, its BPB must be rebuilt by hand or with testdisk on a copy; the FATs and directories may still be intact",
        )),
    );
    None
}

/// The BPB fields that do not stop the check but that a reader refuses,
/// or that the specification forbids.
pub(super) fn bpb_fields(cx: &mut Ctx<'_>) {
    let b = cx.bpb.clone();
    let g = cx.g.clone();
    let base = match cx.boot_source {
        BootSource::Primary => 0,
        BootSource::Backup { offset } => offset,
    };
    let at = |o: u64| base.saturating_add(o);
    if cx.boot_source == BootSource::Primary {
        if b.signature != 0xAA55 {
            cx.finding(
                Severity::Warning,
                "fat.boot.signature",
                at(u64_of(SIGNATURE_OFFSET)),
                format!(
                    "the boot sector's signature is {:02x} {:02x}, not 55 aa: the sector was overwritten or damaged (the FAT specification requires it; Linux and fsck.fat do not check it, a BIOS will not boot it)",
                    b.signature & 0xFF,
                    b.signature >> 8
                ),
                Some(fsck_n()),
            );
        }
        if !b.jump_ok() {
            cx.finding(
                Severity::Warning,
                "fat.bpb.jump",
                at(0),
                format!(
                    "the boot sector starts with {:02x} {:02x} {:02x}, not a jump instruction (EB or E9): Windows does not recognise the volume; Linux and fsck.fat do not check it",
                    b.jump[0], b.jump[1], b.jump[2]
                ),
                None,
            );
        }
    }
    if g.sector_size > 4096 {
        cx.finding(
            Severity::Error,
            "fat.bpb.sector_size",
            at(0x0B),
            format!(
                "{} bytes per sector: Linux mounts FAT only with 512 to 4096",
                g.sector_size
            ),
            Some(fsck_n()),
        );
    }
    if !g.sectors_per_cluster.is_power_of_two() {
        cx.finding(
            Severity::Error,
            "fat.bpb.cluster_size",
            at(0x0D),
            format!(
                "{} sectors per cluster is not a power of two: Linux refuses to mount it",
                g.sectors_per_cluster
            ),
            Some(fsck_n()),
        );
    } else if g.cluster_size > 65536 {
        cx.finding(
            Severity::Warning,
            "fat.bpb.cluster_size",
            at(0x0D),
            format!(
                "clusters of {} bytes: Windows mounts FAT with clusters of at most 64 KiB",
                g.cluster_size
            ),
            None,
        );
    }
    if g.num_fats > 2 {
        cx.finding(
            Severity::Warning,
            "fat.bpb.fats",
            at(0x10),
            format!(
                "{} FATs: fsck.fat checks only volumes with 1 or 2",
                g.num_fats
            ),
            None,
        );
    }
    if !media_ok(b.media) {
        cx.finding(
            Severity::Error,
            "fat.bpb.media",
            at(0x15),
            format!(
                "media byte {:#04x} is not one of F0, F8–FF: Linux refuses to mount the volume",
                b.media
            ),
            Some(fsck_n()),
        );
    }
    if let Root::Fixed { entries, .. } = g.root {
        let per_sector = g.sector_size / 32;
        if entries.checked_rem(per_sector).is_some_and(|r| r != 0) {
            cx.finding(
                Severity::Error,
                "fat.bpb.root_entries",
                at(0x11),
                format!(
                    "{entries} root directory entries do not fill whole {}-byte sectors: Linux refuses to mount the volume",
                    g.sector_size
                ),
                Some(fsck_n()),
            );
        }
    }
    if g.kind == FatKind::Fat32 {
        match g.root {
            Root::Fixed { .. } => cx.finding(
                Severity::Warning,
                "fat.bpb.fat32_root",
                at(0x2C),
                "the FAT32 root cluster is 0 and the root is read from a fixed area (fsck.fat's compatibility mode); Windows and the specification require a root cluster".into(),
                Some(fsck_n()),
            ),
            Root::Chain { .. } if b.root_entries != 0 => cx.finding(
                Severity::Warning,
                "fat.bpb.fat32_root",
                at(0x11),
                format!(
                    "a FAT32 boot sector with {} fixed root entries (BPB_RootEntCnt must be 0): readers disagree on where the root is",
                    b.root_entries
                ),
                Some(fsck_n()),
            ),
            Root::Chain { .. } => {}
        }
        if g.clusters <= FAT16_MAX_CLUSTERS {
            // mkfs.fat -F 32 makes such volumes on purpose (it warns and
            // goes on); Linux (fat_fill_super) and
            // fsck.fat (exit 0, "may lead to problems on some systems")
            // take the FAT type from the FAT size fields, so a boot
            // sector that is FAT32 throughout (the FAT32 extended boot
            // signature with its "FAT32" type) is a portability note, not
            // damage. Without it, a 16-bit FAT size lost from a FAT12/16
            // volume would read the same way: then it is worth a warning.
            let coherent = b.boot_signature == 0x29 && b.fs_type.starts_with(b"FAT32");
            cx.finding(
                if coherent {
                    Severity::Info
                } else {
                    Severity::Warning
                },
                "fat.bpb.fat32_few_clusters",
                at(0x24),
                format!(
                    "laid out as FAT32 (16-bit FAT size 0) with only {} clusters: by the specification's count this is {}, which Windows and mtools read it as; Linux and fsck.fat read it as FAT32{}",
                    g.clusters,
                    g.kind_by_count,
                    if coherent {
                        " (as mkfs.fat -F 32 makes a small volume: a portability note, not damage)"
                    } else {
                        "; its boot sector lacks the FAT32 extended signature, so the 16-bit FAT size may have been lost from a FAT12/16 volume"
                    }
                ),
                None,
            );
        }
        if b.total_sectors_16 != 0 {
            // mkfs.vfat writes it for small volumes and every reader takes
            // it; the specification says it must be 0.
            cx.finding(
                Severity::Info,
                "fat.bpb.total_sectors",
                at(0x13),
                format!(
                    "a FAT32 boot sector with a 16-bit sector count ({}); the specification wants 0 there (readers use it)",
                    b.total_sectors_16
                ),
                None,
            );
        }
    }
    if b.total_sectors_16 != 0
        && b.total_sectors_32 != 0
        && b.total_sectors_32 != u32::from(b.total_sectors_16)
    {
        cx.finding(
            Severity::Info,
            "fat.bpb.total_sectors",
            at(0x20),
            format!(
                "both sector counts are set ({} and {}); readers use the 16-bit one",
                b.total_sectors_16, b.total_sectors_32
            ),
            None,
        );
    }
    if !b.has_extended() {
        cx.finding(
            Severity::Warning,
            "fat.bpb.no_extended_signature",
            at(b.ext_offset().saturating_add(2)),
            format!(
                "the extended boot signature is {:#04x}, not 0x29: no volume id or label is recorded (DOS 3 volumes lack it; on anything newer the byte was damaged), and fsck.fat writes a label 'NO NAME' there",
                b.boot_signature
            ),
            Some(fsck_n()),
        );
    }
}

/// Where the fixed structures are, for the zero map and the boot chain.
pub(super) fn structures(cx: &mut Ctx<'_>) {
    let g = &cx.g;
    let b = &cx.bpb;
    let ss = u64::from(g.sector_size);
    let mut s = vec![Structure::new("FAT boot sector", 0, ss, Role::Primary)];
    if g.kind == FatKind::Fat32 {
        if b.backup_boot_sector != 0 {
            let at = u64::from(b.backup_boot_sector).saturating_mul(ss);
            s.push(Structure::new(
                "FAT32 backup boot sector",
                at,
                ss,
                Role::Backup,
            ));
            s.push(Structure::new(
                "FAT32 backup FSInfo sector",
                at.saturating_add(ss),
                ss,
                Role::Backup,
            ));
        }
        if b.fsinfo_sector != 0 && b.fsinfo_sector != 0xFFFF {
            s.push(Structure::new(
                "FAT32 FSInfo sector",
                u64::from(b.fsinfo_sector).saturating_mul(ss),
                ss,
                Role::Primary,
            ));
        }
    }
    for k in 0..g.num_fats.min(16) {
        let role = if k == 0 { Role::Primary } else { Role::Backup };
        s.push(Structure::new(
            format!("FAT copy {}", k.saturating_add(1)),
            g.fat_copy_start(k),
            g.fat_bytes,
            role,
        ));
    }
    if let Root::Fixed { start, entries } = g.root {
        s.push(Structure::new(
            "FAT root directory",
            start,
            u64::from(entries).saturating_mul(32),
            Role::Primary,
        ));
    }
    cx.structures = s;
}

/// Field names of the boot sector's bytes, for a difference with the backup.
fn field_at(off: usize) -> &'static str {
    match off {
        0..=2 => "jump",
        3..=10 => "OEM name",
        0x0B..=0x23 => "BPB",
        0x24..=0x3F => "FAT32 BPB",
        0x40 => "drive number",
        0x41 => "state byte",
        0x42 => "boot signature",
        0x43..=0x46 => "volume id",
        0x47..=0x51 => "label",
        0x52..=0x59 => "type",
        0x5A..=0x1FD => "boot code",
        _ => "signature",
    }
}

/// The FAT32 backup boot sector: present, in the reserved area, and the
/// same as the primary (fsck.fat prints the differences and leaves them).
pub(super) fn backup_boot(cx: &mut Ctx<'_>) {
    let b = cx.bpb.clone();
    if cx.boot_source != BootSource::Primary {
        return;
    }
    let ss = u64::from(cx.g.sector_size);
    if b.backup_boot_sector == 0 {
        cx.finding(
            Severity::Info,
            "fat.backup_boot.missing",
            0x32,
            "there is no backup boot sector (BPB_BkBootSec is 0): a damaged boot sector could not be restored from it".into(),
            None,
        );
        return;
    }
    let at = u64::from(b.backup_boot_sector).saturating_mul(ss);
    if u32::from(b.backup_boot_sector) >= cx.g.reserved_sectors {
        cx.finding(
            Severity::Warning,
            "fat.backup_boot.outside_reserved",
            0x32,
            format!(
                "the backup boot sector is said to be sector {}, outside the {} reserved sectors: it would lie in the FAT",
                b.backup_boot_sector, cx.g.reserved_sectors
            ),
            Some(fsck_n()),
        );
    }
    let mut bk = vec![0u8; BOOT_SECTOR_LEN];
    match cx.reads.read(at, &mut bk, "backup boot sector") {
        Ok(()) => {}
        Err(Miss::Absent) => {
            cx.finding(
                Severity::Warning,
                "fat.backup_boot.unreadable",
                at,
                format!(
                    "the backup boot sector (sector {}) lies past the end of the reader",
                    b.backup_boot_sector
                ),
                None,
            );
            return;
        }
        Err(Miss::Unreadable) => return,
    }
    let diffs: Vec<usize> = (0..BOOT_SECTOR_LEN)
        .filter(|&i| cx.boot_raw.get(i) != bk.get(i))
        .collect();
    if diffs.is_empty() {
        return;
    }
    let state = usize::try_from(b.state_offset()).unwrap_or(0x41);
    let only_dirty = diffs.iter().all(|&i| i == state)
        && (cx.boot_raw.get(state).copied().unwrap_or(0) ^ bk.get(state).copied().unwrap_or(0))
            == 1;
    if only_dirty {
        cx.finding(
            Severity::Info,
            "fat.backup_boot.differs",
            at.saturating_add(u64_of(state)),
            "the backup boot sector differs from the primary only in the dirty flag, which Linux sets in the primary alone".into(),
            None,
        );
        return;
    }
    let mut fields: Vec<&str> = diffs.iter().map(|&i| field_at(i)).collect();
    fields.dedup();
    let zeroed = bk.iter().all(|&x| x == 0);
    let first = diffs.first().copied().unwrap_or(0);
    let msg = if zeroed {
        format!(
            "the backup boot sector (sector {}) is zeroed",
            b.backup_boot_sector
        )
    } else {
        format!(
            "the backup boot sector (sector {}) differs from the primary in {} bytes ({}; first at byte {first}: {:02x} here, {:02x} in the backup): one of them was changed or damaged",
            b.backup_boot_sector,
            diffs.len(),
            fields.join(", "),
            cx.boot_raw.get(first).copied().unwrap_or(0),
            bk.get(first).copied().unwrap_or(0)
        )
    };
    cx.finding(
        Severity::Warning,
        "fat.backup_boot.differs",
        at.saturating_add(u64_of(first)),
        msg,
        Some(fsck_n()),
    );
}

/// FSInfo signature problems in words, or `None` when intact.
fn fsinfo_bad(s: &[u8]) -> Option<String> {
    let bad: Vec<String> = [FSI_LEAD, FSI_STRUC, FSI_TRAIL]
        .iter()
        .filter(|&&(o, v)| le32(s, o) != v)
        .map(|&(o, v)| format!("{:#010x} at byte {o} (expected {v:#010x})", le32(s, o)))
        .collect();
    (!bad.is_empty()).then(|| bad.join(", "))
}

/// The FSInfo sector (and its backup): signatures, and the free count and
/// next-free hint it records.
pub(super) fn fsinfo(cx: &mut Ctx<'_>) {
    let b = cx.bpb.clone();
    let ss = u64::from(cx.g.sector_size);
    if b.fsinfo_sector == 0 || b.fsinfo_sector == 0xFFFF {
        cx.finding(
            Severity::Info,
            "fat.fsinfo.missing",
            0x30,
            format!("there is no FSInfo sector (BPB_FSInfo is {:#x}): free space is counted at each mount", b.fsinfo_sector),
            None,
        );
        return;
    }
    let at = u64::from(b.fsinfo_sector).saturating_mul(ss);
    if u32::from(b.fsinfo_sector) >= cx.g.reserved_sectors {
        cx.finding(
            Severity::Warning,
            "fat.fsinfo.outside_reserved",
            0x30,
            format!(
                "the FSInfo sector is said to be sector {}, outside the {} reserved sectors",
                b.fsinfo_sector, cx.g.reserved_sectors
            ),
            Some(fsck_n()),
        );
    }
    let mut s = vec![0u8; 512];
    match cx.reads.read(at, &mut s, "FSInfo sector") {
        Ok(()) => {}
        Err(Miss::Absent) => {
            cx.finding(
                Severity::Warning,
                "fat.fsinfo.signature",
                at,
                format!(
                    "the FSInfo sector (sector {}) lies past the end of the reader",
                    b.fsinfo_sector
                ),
                Some(fsck_n()),
            );
            return;
        }
        Err(Miss::Unreadable) => return,
    }
    let free = le32(&s, 488);
    let next = le32(&s, 492);
    let valid = match fsinfo_bad(&s) {
        Some(what) => {
            cx.finding(
                Severity::Warning,
                "fat.fsinfo.signature",
                at,
                format!("the FSInfo sector (sector {}) has bad signatures: {what}; its free count is not used", b.fsinfo_sector),
                Some(repair_on_copy("fsck.fat rewrites the FSInfo signatures")),
            );
            false
        }
        None => true,
    };
    if valid {
        let max = cx.g.max_cluster();
        if next != 0xFFFF_FFFF && (next < 2 || next > max) {
            cx.finding(
                Severity::Info,
                "fat.fsinfo.next_free",
                at.saturating_add(492),
                format!("the FSInfo next-free hint is cluster {next}, outside 2–{max}; drivers ignore it"),
                None,
            );
        }
    }
    cx.fsinfo = Some(FsInfo {
        offset: at,
        valid,
        free_clusters: (valid && free != 0xFFFF_FFFF).then_some(free),
        next_free: (valid && next != 0xFFFF_FFFF).then_some(next),
    });
    // The backup FSInfo (after the backup boot sector): mkfs.vfat writes
    // it, no driver reads it; only its signatures mean anything.
    if b.backup_boot_sector != 0 && cx.boot_source == BootSource::Primary {
        let bat = u64::from(b.backup_boot_sector)
            .saturating_add(1)
            .saturating_mul(ss);
        if bat != at
            && cx.reads.read(bat, &mut s, "backup FSInfo sector").is_ok()
            && let Some(what) = fsinfo_bad(&s)
        {
            {
                cx.finding(
                    Severity::Info,
                    "fat.fsinfo.backup_signature",
                    bat,
                    format!("the backup FSInfo sector (sector {}) has bad signatures: {what}; no driver reads it", b.backup_boot_sector.saturating_add(1)),
                    None,
                );
            }
        }
    }
}

/// The FSInfo free count against the FAT (after the tree walk). A wrong
/// count is a warning: Windows trusts it (free space, allocation) and
/// fsck.fat 4.2 -n exits 1 on it ("Free cluster summary wrong"). An
/// unrecorded count (0xFFFFFFFF) is info: drivers count the FAT then, and
/// fsck.fat prints it and exits 0. A count that is right until lost chains
/// are freed is info too: the lost chains are the finding.
pub(super) fn free_count(cx: &mut Ctx<'_>) {
    let Some(fi) = cx.fsinfo.clone() else { return };
    if !fi.valid || !cx.walk_complete {
        return;
    }
    let Some(usage) = cx.usage else { return };
    let unclaimed = cx.unclaimed.unwrap_or(usage.free_clusters);
    let at = fi.offset.saturating_add(488);
    match fi.free_clusters {
        None => cx.finding(
            Severity::Info,
            "fat.fsinfo.free_count",
            at,
            format!("the FSInfo free count is not recorded (0xFFFFFFFF); the FAT has {} free clusters", usage.free_clusters),
            None,
        ),
        Some(n) if n != usage.free_clusters && n != unclaimed => cx.finding(
            Severity::Warning,
            "fat.fsinfo.free_count",
            at,
            format!(
                "the FSInfo free count is {n}, but the FAT has {} free clusters{}: the count is wrong (Windows reports and allocates by it; fsck.fat rewrites it)",
                usage.free_clusters,
                if unclaimed != usage.free_clusters { format!(" ({unclaimed} once lost chains are freed)") } else { String::new() }
            ),
            None,
        ),
        Some(n) if n != unclaimed => cx.finding(
            Severity::Info,
            "fat.fsinfo.free_count",
            at,
            format!("the FSInfo free count {n} matches the FAT, which counts lost chains as used; {unclaimed} clusters are free once they are freed"),
            None,
        ),
        Some(_) => {}
    }
}

/// The filesystem's size against its container: what a truncation cut off.
pub(super) fn size(cx: &mut Ctx<'_>) {
    let have = cx.reads.len();
    let fs = cx.g.fs_bytes;
    if fs <= have {
        let spare = have.saturating_sub(fs);
        if spare >= u64::from(cx.g.cluster_size).max(1 << 20) {
            cx.finding(
                Severity::Info,
                "fat.size.not_grown",
                fs,
                format!(
                    "the filesystem is {} but what holds it is {}: {} after it are unused",
                    human_size(fs),
                    human_size(have),
                    human_size(spare)
                ),
                None,
            );
        }
        return;
    }
    let missing = fs.saturating_sub(have);
    let g = cx.g.clone();
    let (severity, what) = if have < g.data_start {
        (
            Severity::Error,
            "the FATs or the root directory are cut off".to_string(),
        )
    } else if have >= g.slack_start() {
        (
            Severity::Info,
            "only sectors after the last cluster are missing; no cluster is cut".to_string(),
        )
    } else {
        let first_cut = g.cluster_at(have).unwrap_or(g.max_cluster());
        let cut = g.max_cluster().saturating_sub(first_cut).saturating_add(1);
        let allocated = cut_allocated(cx, first_cut);
        match allocated {
            Some((n, true)) if n > 0 => (
                Severity::Error,
                format!(
                    "{n} of the {cut} clusters from cluster {first_cut} on are allocated: their data is gone"
                ),
            ),
            Some((n, false)) if n > 0 => (
                Severity::Error,
                format!(
                    "at least {n} of the {cut} clusters from cluster {first_cut} on are allocated: their data is gone"
                ),
            ),
            Some((_, true)) => (
                Severity::Warning,
                format!(
                    "the {cut} clusters from cluster {first_cut} on are free, but the filesystem would allocate them and fail to write"
                ),
            ),
            Some((_, false)) => (
                Severity::Warning,
                format!(
                    "the first of the {cut} clusters from cluster {first_cut} on are free (the rest were not read); the filesystem would allocate them and fail to write"
                ),
            ),
            None => (
                Severity::Error,
                format!(
                    "the {cut} clusters from cluster {first_cut} on are cut off, and the FAT entries saying whether they held data cannot be read"
                ),
            ),
        }
    };
    let f = Finding::new(
        severity,
        "fat.size.truncated",
        LAYER,
        have,
        Space::Disk,
        format!(
            "the filesystem is {} ({} sectors of {}) but what holds it is only {}: {} missing; {what}",
            human_size(fs),
            g.total_sectors,
            g.sector_size,
            human_size(have),
            human_size(missing)
        ),
    )
    .with_hint(Hint::advice(
        "restore the missing end (grow the partition, volume or image back to its former size, on a copy) before running fsck.fat -n {dev}",
    ));
    cx.push(f);
}

/// How many clusters from `first` on are allocated in the chosen FAT, and
/// whether every one of them was looked at (`None`: unreadable).
fn cut_allocated(cx: &mut Ctx<'_>, first: u32) -> Option<(u64, bool)> {
    let max = cx.g.max_cluster();
    if let Some(fat) = &cx.fat {
        let mut n = 0u64;
        for c in first..=max {
            if !fat.readable(c) {
                return None;
            }
            if fat.entry(c) != Entry::Free {
                n = n.saturating_add(1);
            }
        }
        return Some((n, true));
    }
    let kind = cx.g.kind;
    // From an even entry, so FAT12's packed pairs line up.
    let base = first & !1;
    let from = entry_byte(kind, base);
    let to = entry_byte(kind, max).saturating_add(4).min(cx.g.fat_bytes);
    let len = to.saturating_sub(from).min(MAX_CUT_FAT_BYTES);
    let at = cx.g.fat_copy_start(cx.chosen).saturating_add(from);
    let bytes = cx.reads.vec(at, len, MAX_CUT_FAT_BYTES, "FAT").ok()?;
    let fat = Fat::from_bytes(kind, u32::MAX.saturating_sub(2), bytes);
    let entries = u32::try_from(len.saturating_mul(8).checked_div(kind.bits()).unwrap_or(0))
        .unwrap_or(u32::MAX);
    let last = base.saturating_add(entries.saturating_sub(1)).min(max);
    let n = (first..=last)
        .filter(|&c| fat.value(c.saturating_sub(base)) != 0)
        .count();
    Some((u64_of(n), last == max))
}

//! imgcheck-boot: will this disk boot, and if not, why. The BIOS path
//! (sector 0's `55 AA` and boot code, named; for GRUB 2, boot.img →
//! diskboot.img → core.img in the MBR gap or the BIOS boot partition) and
//! the UEFI path (the protective MBR edk2 needs before it reads a GPT, an
//! EFI System Partition holding a FAT filesystem, `\EFI\BOOT\BOOTX64.EFI`
//! or a vendor loader that parses as an x86-64 PE/COFF EFI image) are each
//! judged past the loader too: GRUB's embedded config and prefix
//! (decoded from core.img's LZMA or the EFI image's `mods` section) name
//! a filesystem that must exist and hold `<prefix>/<platform>/normal.mod`
//! and `grub.cfg`, whose default entry's kernel and initramfs (or Boot
//! Loader Specification entries) must exist with their data mapped —
//! looked up through the filesystems' [`imgcheck_core::Files`]. Each path
//! is judged: boots as far as the disk shows, fails at a link (an error
//! finding at its offset that says what the firmware will do), or is not
//! set up for that path at all.
//!
//! The crate reads the disk's first sectors and the BIOS boot code
//! itself; everything about partitions and files comes from what the
//! other layers state ([`imgcheck_core::Facts`]: a partition's promised
//! type, a filesystem's [`imgcheck_core::BootFile`]s), so it depends on
//! no other layer crate.
//!
//! ```
//! use imgcheck_boot::{Disk, Outcome, Scheme, check};
//! use imgcheck_core::BytesReader;
//!
//! // A disk with an MBR table and GRUB-less, zeroed boot code.
//! let mut d = vec![0u8; 1 << 20];
//! d[0x1FE] = 0x55;
//! d[0x1FF] = 0xAA;
//! let disk = BytesReader::new(d);
//! let r = check(&Disk { reader: &disk, scheme: Scheme::Mbr, partitions: vec![], filesystems: vec![] });
//! assert_eq!(r.bios.outcome, Outcome::NotSetUp);
//! for f in &r.findings {
//!     println!("{f}");
//! }
//! ```

pub mod bls;
pub mod chain;
pub mod embed;
pub mod grub;
pub mod grubcfg;
pub mod grubenv;
pub mod grubmenu;
pub mod grubscript;
pub mod initramfs;
pub mod mbr;
pub mod pe;
pub mod rs;
pub mod sdboot;

pub use chain::Filesystem;
use chain::Stage;
use imgcheck_core::{
    BootFile, Finding, Hint, Layer, Promise, ReadAt, Severity, Space, Target, boot_paths,
};
use mbr::{BootCode, Sector0};
use serde::{Deserialize, Serialize};

/// Bytes of an EFI loader read to find GRUB's embedded config (GRUB x64
/// images are 0.2–3 MiB; a standalone one with a memdisk is larger and
/// says so in its first module records).
pub const MAX_EFI_LOADER: u64 = 16 << 20;

/// Bytes at the start of a BIOS boot partition looked at for core.img.
pub const BIOS_BOOT_PROBE: u64 = 64 << 10;

/// The partition table scheme, as the table layer names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// A GPT (behind a protective MBR, or not any more).
    Gpt,
    /// An MBR (DOS) table.
    Mbr,
    /// No table: a whole-disk filesystem, or nothing known.
    None,
}

/// A partition as the layers state it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// Its number in the table.
    pub number: u32,
    /// First byte on the disk.
    pub start: u64,
    /// Bytes.
    pub size: u64,
    /// What its type promises (an ESP, a BIOS boot partition).
    pub promise: Promise,
    /// The layer that read its contents (`fat`, `ext4`, `signature`), if any.
    pub contents: Option<String>,
    /// That layer read a usable filesystem (a FAT with a boot sector).
    pub usable: bool,
    /// The boot files that filesystem holds.
    pub boot_files: Vec<BootFile>,
}

/// The disk the firmware boots.
pub struct Disk<'a> {
    /// The whole disk.
    pub reader: &'a dyn ReadAt,
    /// Its table's scheme.
    pub scheme: Scheme,
    /// Its partitions.
    pub partitions: Vec<Partition>,
    /// Every filesystem the layers read on it (in partitions, in LVs),
    /// for GRUB's prefix and the kernels grub.cfg names.
    pub filesystems: Vec<Filesystem>,
}

/// How far a firmware path gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every link the disk shows is intact.
    Boots,
    /// It boots only through something the disk does not hold (a
    /// firmware boot entry in NVRAM).
    Depends,
    /// A link is broken: the firmware stops there.
    Fails,
    /// Nothing on the disk is set up for this path.
    NotSetUp,
}

/// One path's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// `BIOS` or `UEFI`.
    pub path: String,
    /// How far it gets.
    pub outcome: Outcome,
    /// In words: the chain followed, or the link that fails and why.
    pub summary: String,
}

/// Both verdicts and the findings behind them (layer `boot`, offsets in
/// the disk).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// The BIOS (SeaBIOS, legacy CSM) path.
    pub bios: Verdict,
    /// The UEFI (OVMF, x86-64) path.
    pub uefi: Verdict,
    /// The findings, a failing link an error (in the JSON report they are
    /// among the report's findings, so not here).
    #[serde(skip)]
    pub findings: Vec<Finding>,
}

/// Judges both firmware paths on `disk`.
pub fn check(disk: &Disk<'_>) -> Report {
    let mut s = vec![0u8; mbr::SECTOR];
    let read = disk.reader.read_exact_at(0, &mut s);
    let mut findings = Vec::new();
    let (bios, uefi) = match read {
        Err(e) => {
            let why = format!("sector 0 cannot be read: {e}");
            findings.push(Finding::error(
                "boot.sector0.unreadable",
                Layer::BOOT,
                0,
                Space::Disk,
                why.clone(),
            ));
            (
                verdict("BIOS", Outcome::Fails, why.clone()),
                verdict("UEFI", Outcome::Fails, why),
            )
        }
        Ok(()) => {
            let s0 = Sector0::parse(&s);
            (
                bios_path(disk, &s0, &mut findings),
                uefi_path(disk, &s0, &mut findings),
            )
        }
    };
    Report {
        bios,
        uefi,
        findings,
    }
}

fn verdict(path: &'static str, outcome: Outcome, summary: String) -> Verdict {
    Verdict {
        path: path.to_string(),
        outcome,
        summary,
    }
}

/// The step that repairs a broken BIOS chain, only ever on a copy.
fn grub_reinstall_bios() -> Hint {
    Hint::writes("grub-install --target=i386-pc {disk}")
        .on(Target::Disk)
        .because(
            "on a copy of the image only (never on the evidence), from a rescue system with the copy's root and /boot mounted: rewrites boot.img in sector 0 and core.img in the BIOS boot partition or the MBR gap",
        )
}

fn error(code: &'static str, offset: u64, message: String, hint: Hint) -> Finding {
    Finding::error(code, Layer::BOOT, offset, Space::Disk, message).with_hint(hint)
}

fn bios_path(disk: &Disk<'_>, s0: &Sector0, out: &mut Vec<Finding>) -> Verdict {
    let bios_boot: Vec<&Partition> = disk
        .partitions
        .iter()
        .filter(|p| p.promise == Promise::BiosBoot)
        .collect();
    // What shows the disk was set up for BIOS boot, whatever sector 0
    // now holds: a BIOS boot partition or GRUB's diskboot.img right after
    // sector 0 (core.img in the MBR gap) are strong; an active flag alone
    // is weak (partitioning tools set it on data disks too).
    let gap_core = grub::is_core_at(disk.reader, 1);
    let strong = !bios_boot.is_empty() || gap_core;
    // Without a table, sector 0 is whatever starts the disk (an XFS
    // superblock, a foreign label): its bytes are no boot code.
    let tabled = disk.scheme != Scheme::None;
    let intent = strong || (tabled && (s0.code != BootCode::None || s0.has_active()));
    let fail = |why: String| verdict("BIOS", Outcome::Fails, why);
    let mut v = if !s0.signature {
        if !intent {
            return verdict(
                "BIOS",
                Outcome::NotSetUp,
                "sector 0 has no 55 AA boot signature and nothing else on the disk (a BIOS boot partition, core.img after sector 0) was set up for BIOS boot".into(),
            );
        }
        let what = if s0.all_zero {
            "sector 0 is zeros throughout (its boot code, partition entries and 55 AA signature are gone)"
        } else {
            "sector 0 has no 55 AA boot signature at 0x1FE"
        };
        let msg = format!(
            "{what}: a BIOS loads sector 0 and refuses it without the signature — SeaBIOS prints \"Boot failed: not a bootable disk\", tries the next device, and with none left says \"No bootable device.\""
        );
        out.push(error(
            "boot.bios.no_signature",
            0x1FE,
            msg.clone(),
            grub_reinstall_bios(),
        ));
        fail(msg)
    } else {
        match s0.code {
            BootCode::None => {
                if !intent {
                    return verdict(
                        "BIOS",
                        Outcome::NotSetUp,
                        "sector 0 holds no boot code and no BIOS boot partition or active partition exists: the disk is not set up for BIOS boot".into(),
                    );
                }
                let why = if !bios_boot.is_empty() {
                    format!(
                        "the disk has a BIOS boot partition ({})",
                        numbers(&bios_boot)
                    )
                } else if gap_core {
                    "GRUB's core.img follows sector 0".to_string()
                } else {
                    "a partition is marked active".to_string()
                };
                let msg = format!(
                    "sector 0 has its 55 AA signature but no boot code (bytes 0x000–0x1B7 are zeros), while {why}: the BIOS jumps into zeros — SeaBIOS prints \"Booting from Hard Disk...\" and the machine hangs there"
                );
                let mut f = error("boot.bios.no_code", 0, msg.clone(), grub_reinstall_bios());
                if !strong {
                    // An active flag alone: a data disk may carry one.
                    f.severity = Severity::Info;
                    f.message.push_str(
                        " (if this disk is ever booted; an active flag alone does not say it is)",
                    );
                }
                out.push(f);
                fail(msg)
            }
            BootCode::Grub2 => grub_chain(disk, s0, &bios_boot, out),
            BootCode::Windows | BootCode::Syslinux if disk.scheme == Scheme::Mbr => {
                chainload_active(disk, s0, out)
            }
            BootCode::SyslinuxGpt => gptmbr(disk, out),
            BootCode::NotBootable => {
                return verdict(
                    "BIOS",
                    Outcome::NotSetUp,
                    format!("sector 0 holds {}", s0.code.name()),
                );
            }
            c => verdict(
                "BIOS",
                Outcome::Boots,
                format!(
                    "sector 0 holds {} with its 55 AA signature (not followed further)",
                    c.name()
                ),
            ),
        }
    };
    // Where core.img should be, whatever sector 0 says: a zeroed BIOS
    // boot partition is a second broken link, named on its own.
    let followed_ok = v.outcome == Outcome::Boots && s0.code == BootCode::Grub2;
    if !followed_ok && matches!(s0.code, BootCode::None | BootCode::Grub2) {
        for p in &bios_boot {
            let n = p.size.min(BIOS_BOOT_PROBE);
            let mut b = vec![0u8; usize::try_from(n).unwrap_or(0)];
            if n > 0
                && disk.reader.read_exact_at(p.start, &mut b).is_ok()
                && imgcheck_core::bytes::is_zero(&b)
                && !out
                    .iter()
                    .any(|f| f.code == "boot.bios.grub.core" && f.offset == p.start)
            {
                let msg = format!(
                    "BIOS boot partition {} holds no core.img (its first {} are zeros): GRUB's second stage is gone",
                    p.number,
                    imgcheck_core::human_size(n)
                );
                out.push(error(
                    "boot.bios.bios_boot_empty",
                    p.start,
                    msg.clone(),
                    grub_reinstall_bios(),
                ));
                if v.outcome != Outcome::Fails {
                    v = fail(msg);
                }
            }
        }
    }
    v
}

/// Bytes of a GPT entry array gptmbr.bin is followed through (it reads
/// the array into a 32 KiB window; 128 entries of 128 bytes are 16 KiB).
const GPTMBR_MAX_ARRAY: u64 = 32 << 10;

/// The look at a partition boot sector an MBR's code loads: read-only.
fn vbr_hint(at: u64) -> Hint {
    Hint::read_only(format!("xxd -s {at} -l 512 {{disk}}"))
        .on(Target::Disk)
        .because(
            "shows the boot sector the MBR code loads; put a boot loader back, or mark the partition that holds one as the boot partition, on a copy of the image only (never on the evidence)",
        )
}

/// A Windows/DOS or SYSLINUX mbr.bin MBR: it loads the one active
/// primary partition's first sector and jumps to it only when that sector
/// ends in 55 AA.
fn chainload_active(disk: &Disk<'_>, s0: &Sector0, out: &mut Vec<Finding>) -> Verdict {
    let who = s0.code.name();
    let active = s0.active();
    let Some(first) = active.first().copied() else {
        let msg = format!(
            "sector 0 holds {who}, which loads the active partition's boot sector, but no partition is marked active: it stops without loading anything"
        );
        out.push(error(
            "boot.bios.no_active",
            0x1BE,
            msg.clone(),
            Hint::read_only("sfdisk --dump {disk}")
                .on(Target::Disk)
                .because(
                    "shows the boot flags; set one on a copy only (sfdisk --activate on the copy)",
                ),
        ));
        return verdict("BIOS", Outcome::Fails, msg);
    };
    // Both refuse a table with more than one active entry (mbr.S:
    // "Multiple active partitions."; the Windows MBR: "Invalid partition
    // table").
    let (multiple, refuses) = match s0.code {
        BootCode::Syslinux => ("Multiple active partitions.", "Missing operating system."),
        _ => ("Invalid partition table", "Missing operating system"),
    };
    if active.len() > 1 {
        let slots: Vec<String> = active.iter().map(|e| e.slot.to_string()).collect();
        let msg = format!(
            "sector 0 holds {who}, and partitions {} are all marked active: it accepts only one, prints \"{multiple}\" and stops (INT 18h: the BIOS tries the next device)",
            slots.join(", ")
        );
        out.push(error(
            "boot.bios.multiple_active",
            0x1BE,
            msg.clone(),
            Hint::read_only("sfdisk --dump {disk}").on(Target::Disk).because(
                "shows the boot flags; leave one set on a copy only (sfdisk --activate on the copy)",
            ),
        ));
        return verdict("BIOS", Outcome::Fails, msg);
    }
    let at = u64::from(first.start).saturating_mul(grub::SECTOR);
    vbr(
        disk,
        who,
        first.slot,
        at,
        refuses,
        s0.code == BootCode::Syslinux,
        out,
    )
}

/// SYSLINUX gptmbr.bin: it reads the GPT header at LBA 1 and the entry
/// array it names (without checking either's CRC), and boots the one
/// used entry whose attribute bit 2 (legacy BIOS bootable) is set.
fn gptmbr(disk: &Disk<'_>, out: &mut Vec<Finding>) -> Verdict {
    let who = BootCode::SyslinuxGpt.name();
    let fail = |code: &'static str, at: u64, msg: String, hint: Hint, out: &mut Vec<Finding>| {
        out.push(error(code, at, msg.clone(), hint));
        verdict("BIOS", Outcome::Fails, msg)
    };
    let attrs = || {
        Hint::read_only("sfdisk --dump {disk}").on(Target::Disk).because(
            "shows each partition's attributes (LegacyBIOSBootable is bit 2); set it on the partition holding the boot loader on a copy only (sgdisk -A N:set:2 on the copy)",
        )
    };
    let mut h = vec![0u8; mbr::SECTOR];
    if disk.reader.read_exact_at(grub::SECTOR, &mut h).is_err()
        || imgcheck_core::bytes::bytes(&h, 0, 8) != b"EFI PART"
    {
        let msg = format!(
            "sector 0 holds {who}, which reads a GPT header at LBA 1, and LBA 1 holds none: it reads garbage for the partition entries and stops (\"Missing OS\" or \"Disk error\")"
        );
        return fail("boot.bios.gptmbr.no_gpt", grub::SECTOR, msg, attrs(), out);
    }
    let lba = imgcheck_core::bytes::le64(&h, 72);
    let count = u64::from(imgcheck_core::bytes::le32(&h, 80));
    let size = u64::from(imgcheck_core::bytes::le32(&h, 84));
    let array_at = lba.saturating_mul(grub::SECTOR);
    let total = count.checked_mul(size).filter(|t| *t <= GPTMBR_MAX_ARRAY);
    let (Some(total), true) = (total, size >= 0x38) else {
        let msg = format!(
            "sector 0 holds {who}, and the GPT header gives {count} entries of {size} bytes, which it cannot read as an entry array"
        );
        return fail("boot.bios.gptmbr.array", grub::SECTOR, msg, attrs(), out);
    };
    let mut a = vec![0u8; usize::try_from(total).unwrap_or(0)];
    if disk.reader.read_exact_at(array_at, &mut a).is_err() {
        let msg = format!(
            "sector 0 holds {who}, and the GPT entry array at byte {array_at} cannot be read: it prints \"Disk error\" and stops"
        );
        return fail("boot.bios.gptmbr.array", array_at, msg, attrs(), out);
    }
    let step = usize::try_from(size).unwrap_or(usize::MAX);
    let legacy: Vec<(u32, u64)> = a
        .chunks_exact(step)
        .zip(1u32..)
        .filter(|(e, _)| {
            !imgcheck_core::bytes::is_zero(imgcheck_core::bytes::bytes(e, 0, 16))
                && imgcheck_core::bytes::le64(e, 0x30) & 0b100 != 0
        })
        .map(|(e, n)| (n, imgcheck_core::bytes::le64(e, 0x20)))
        .collect();
    match legacy.as_slice() {
        [] => {
            let msg = format!(
                "sector 0 holds {who}, which boots the GPT partition whose attribute bit 2 (legacy BIOS bootable) is set, and no entry in the array at byte {array_at} has it: it prints \"Missing OS\" and stops (INT 18h: the BIOS tries the next device)"
            );
            fail(
                "boot.bios.gptmbr.no_legacy_boot",
                array_at,
                msg,
                attrs(),
                out,
            )
        }
        [(n, first)] => vbr(
            disk,
            who,
            *n,
            first.saturating_mul(grub::SECTOR),
            "Missing OS",
            false,
            out,
        ),
        many => {
            let ns: Vec<String> = many.iter().map(|(n, _)| n.to_string()).collect();
            let msg = format!(
                "sector 0 holds {who}, and partitions {} all have attribute bit 2 (legacy BIOS bootable) set: it accepts only one, prints \"Multiple active partitions\" and stops",
                ns.join(", ")
            );
            fail(
                "boot.bios.gptmbr.multiple_legacy",
                array_at,
                msg,
                attrs(),
                out,
            )
        }
    }
}

/// The partition boot sector at `at` (partition `n`), which `who` loads
/// and starts only when it ends in 55 AA, printing `refuses` otherwise.
/// SYSLINUX mbr.bin (`xfs_hop`) loads the sector 4 further on when the
/// first one is an XFS superblock, where extlinux puts its boot sector.
fn vbr(
    disk: &Disk<'_>,
    who: &str,
    n: u32,
    at: u64,
    refuses: &str,
    xfs_hop: bool,
    out: &mut Vec<Finding>,
) -> Verdict {
    let mut b = vec![0u8; mbr::SECTOR];
    let read = disk.reader.read_exact_at(at, &mut b);
    let (at, read) = if read.is_ok() && xfs_hop && imgcheck_core::bytes::bytes(&b, 0, 4) == b"XFSB"
    {
        let hop = at.saturating_add(4u64.saturating_mul(grub::SECTOR));
        (hop, disk.reader.read_exact_at(hop, &mut b))
    } else {
        (at, read)
    };
    let head =
        format!("sector 0 holds {who}, which loads partition {n}'s boot sector at byte {at}");
    let (code, msg) = if let Err(e) = read {
        (
            "boot.bios.vbr.unreadable",
            format!(
                "{head}, and it cannot be read ({e}): the BIOS read fails and the MBR code stops"
            ),
        )
    } else if imgcheck_core::bytes::le16(&b, mbr::SIGNATURE_AT) != 0xAA55 {
        let what = if imgcheck_core::bytes::is_zero(&b) {
            "it is zeros throughout"
        } else {
            "it has no 55 AA at 0x1FE"
        };
        (
            "boot.bios.vbr.no_signature",
            format!(
                "{head}, and {what}: the MBR code refuses it, prints \"{refuses}\" and stops (INT 18h: the BIOS tries the next device)"
            ),
        )
    } else {
        match mbr::identify(&b) {
            BootCode::NotBootable => (
                "boot.bios.vbr.not_bootable",
                format!(
                    "{head}, which holds a formatting tool's \"This is not a bootable disk\" message for code (mkfs.fat, mkntfs): it prints it, waits for a key and reboots"
                ),
            ),
            BootCode::None => (
                "boot.bios.vbr.no_code",
                format!(
                    "{head}, which has its 55 AA but no code (zeros outside the BPB): the MBR code jumps into zeros and the machine hangs"
                ),
            ),
            c => {
                return verdict(
                    "BIOS",
                    Outcome::Boots,
                    format!(
                        "{head}, which has its 55 AA and holds {} (not followed further)",
                        c.name()
                    ),
                );
            }
        }
    };
    out.push(error(code, at, msg.clone(), vbr_hint(at)));
    verdict("BIOS", Outcome::Fails, msg)
}

fn numbers(ps: &[&Partition]) -> String {
    ps.iter()
        .map(|p| format!("partition {}", p.number))
        .collect::<Vec<_>>()
        .join(", ")
}

fn grub_chain(
    disk: &Disk<'_>,
    s0: &Sector0,
    bios_boot: &[&Partition],
    out: &mut Vec<Finding>,
) -> Verdict {
    let Some(ks) = s0.grub_kernel_sector else {
        return verdict("BIOS", Outcome::Fails, "no kernel sector".into());
    };
    match grub::follow(disk.reader, ks) {
        Err(p) => core_failure(&p, out),
        Ok(core) => {
            let at = ks.saturating_mul(grub::SECTOR);
            let first_part = disk.partitions.iter().map(|p| p.start).min();
            let in_gap = first_part.is_none_or(|s| at < s) && ks >= 1;
            let holder = bios_boot
                .iter()
                .find(|p| at >= p.start && at < p.start.saturating_add(p.size));
            let place = match (holder, in_gap) {
                (Some(p), _) => format!("BIOS boot partition {}", p.number),
                (None, true) => "the gap before the first partition".to_string(),
                (None, false) => {
                    let inside = disk
                        .partitions
                        .iter()
                        .find(|p| at >= p.start && at < p.start.saturating_add(p.size));
                    let where_ = inside.map_or_else(
                        || "outside every partition".to_string(),
                        |p| format!("inside partition {}", p.number),
                    );
                    out.push(Finding::warning(
                        "boot.bios.grub.blocklist",
                        Layer::BOOT,
                        at,
                        Space::Disk,
                        format!(
                            "core.img is loaded from LBA {ks}, {where_}, not from the MBR gap or a BIOS boot partition: a blocklist install, which breaks when the file moves (GRUB calls it unreliable)"
                        ),
                    ));
                    where_
                }
            };
            let head = format!(
                "GRUB 2 boot.img → core.img at LBA {ks} in {place} ({} sectors, kernel {} bytes compressed to {})",
                core.sectors.saturating_add(1),
                core.uncompressed,
                core.compressed
            );
            // GRUB repairs core.img from its Reed–Solomon parity before
            // decompressing: damage it repairs is not a failure.
            let emb = grub::read_listed(disk.reader, &core).and_then(|mut b| {
                let fixed = grub::repair(&mut b, core.compressed);
                embed::from_i386_core(&b, core.compressed, core.uncompressed).map(|e| (e, fixed))
            });
            if emb.is_err()
                && let Some(p) = &core.zeroed
            {
                return core_failure(p, out);
            }
            let stage = match emb {
                Err(why) => Stage::Broken {
                    code: "boot.bios.grub.kernel",
                    offset: core
                        .extents
                        .first()
                        .map_or(at, |x| x.start.saturating_mul(grub::SECTOR)),
                    message: format!(
                        "core.img's compressed kernel does not decompress ({why}): GRUB stops before its menu (lzma_decompress fails or the kernel crashes)"
                    ),
                },
                Ok((e, fixed)) => {
                    if fixed > 0 || core.zeroed.is_some() {
                        let first = core
                            .extents
                            .first()
                            .map_or(at, |x| x.start.saturating_mul(grub::SECTOR));
                        let what = match &core.zeroed {
                            Some(p) => p.describe(),
                            None => format!("{fixed} bytes of it differ from what its parity says"),
                        };
                        out.push(
                            Finding::warning(
                                "boot.bios.grub.core_repaired",
                                Layer::BOOT,
                                core.zeroed.as_ref().map_or(first, grub::CoreProblem::offset),
                                Space::Disk,
                                format!(
                                    "core.img is damaged ({what}), within what the Reed–Solomon parity grub-bios-setup wrote after it repairs: GRUB repairs it in memory at every boot (startup_raw.S) and goes on, with less margin for further damage"
                                ),
                            )
                            .with_hint(grub_reinstall_bios()),
                        );
                    }
                    match partmap_missing(disk, &e, "core.img", 0) {
                        Some(st) => st,
                        None => match gpt_unseen_by_grub(disk) {
                            Some(why) => Stage::Broken {
                                code: GPT_PRIMARY_MISSING,
                                offset: grub::SECTOR,
                                message: format!(
                                    "{why}, and GRUB 2.06's part_gpt reads only the primary GPT (partmap/gpt.c reads LBA 1 and the entries it names, never the backup at the disk's end that imgcheck read the partitions from): GRUB sees no partition on this disk, so its embedded config finds no filesystem for its prefix and it stops at the \"grub rescue>\" prompt (\"error: no such device\" or \"unknown filesystem\")"
                                ),
                            },
                            None => {
                                let mut side = Vec::new();
                                let fss = as_grub_sees(disk, s0);
                                let st = chain::follow(&e, "i386-pc", None, &fss, &mut side);
                                side_findings(side, out);
                                st
                            }
                        },
                    }
                }
            };
            stage_verdict(
                "BIOS",
                head,
                stage,
                grub_reinstall_bios(),
                &disk.filesystems,
                out,
            )
        }
    }
}

/// The filesystems with what GRUB's partition maps (partmap/msdos.c,
/// gpt.c) make of their partitions: an MBR entry of type 0 is empty to
/// GRUB whatever its start and size (`grub_msdos_partition_is_empty`;
/// Linux reads it by its size alone), and a partition the layers found
/// only by its signature, outside every table, is in none GRUB reads.
fn as_grub_sees(disk: &Disk<'_>, s0: &Sector0) -> Vec<Filesystem> {
    let mut fss = disk.filesystems.clone();
    for f in &mut fss {
        let Some(n) = f.partition else { continue };
        let empty = s0.entries.iter().find(|e| {
            e.kind == 0
                && e.sectors > 0
                && u64::from(e.start).saturating_mul(grub::SECTOR) == f.start
        });
        f.unseen_by_grub = match (empty, disk.scheme) {
            (Some(e), Scheme::Mbr | Scheme::None) => Some(format!(
                "its MBR entry {} has type 0x00 (empty) with a start (LBA {}) and a size ({} sectors): GRUB's part_msdos skips an entry of type 0 as empty",
                e.slot, e.start, e.sectors
            )),
            (_, Scheme::None) => Some(format!(
                "partition {n} is in no partition table (imgcheck found it by its filesystem's signature), so no partition map GRUB has lists it"
            )),
            _ => None,
        };
    }
    fss
}

/// GRUB (i386-pc and EFI alike) reads a partition only through the
/// partition map module for its table (part_msdos, part_gpt) in its
/// image: its prefix is on a
/// partition, so a module missing there cannot be loaded from it either
/// (grub-install adds the one grub-probe names; a hand-made
/// grub-mkimage may not).
///
/// `what` names the image (core.img, the EFI GRUB image) and `at` where
/// it is on the disk.
fn partmap_missing(disk: &Disk<'_>, e: &embed::Embedded, what: &str, at: u64) -> Option<Stage> {
    let (module, table) = match disk.scheme {
        Scheme::Mbr => ("part_msdos", "an MBR (DOS)"),
        Scheme::Gpt => ("part_gpt", "a GPT"),
        Scheme::None => return None,
    };
    if e.memdisk || e.unnamed > 0 || e.modules.iter().any(|m| m == module) {
        return None;
    }
    let has = if e.modules.is_empty() {
        "none".to_string()
    } else {
        e.modules.join(", ")
    };
    Some(Stage::Broken {
        code: PARTMAP_MISSING,
        offset: at,
        message: format!(
            "{what} holds no {module} module (it holds {has}), and this disk's partitions are in {table} table: GRUB sees the disk but none of its partitions, so it cannot reach its prefix on one and stops at the \"grub rescue>\" prompt (\"error: no such device\" / \"unknown filesystem\"); loading {module}.mod from that prefix is impossible for the same reason"
        ),
    })
}

/// The code of the error that core.img lacks the partition map module
/// its prefix's partition needs.
const PARTMAP_MISSING: &str = "boot.grub.partmap_missing";

/// The code of the error that GRUB finds no partition because the
/// primary GPT is gone (the backup, which GRUB never reads, is intact).
const GPT_PRIMARY_MISSING: &str = "boot.grub.gpt_primary_missing";

/// Bytes of the primary GPT entry array read to see GRUB would find a
/// used entry (128 entries of 128 bytes are 16 KiB).
const GPT_MAX_ARRAY: u64 = 1 << 20;

/// Why GRUB 2.06's part_gpt sees no partition on a GPT disk the layers
/// read partitions from (through the backup): the primary header at LBA 1
/// lacks its signature, or the entry array it names holds no used entry.
/// GRUB checks the signature only (no CRC), then walks the array.
fn gpt_unseen_by_grub(disk: &Disk<'_>) -> Option<String> {
    if disk.scheme != Scheme::Gpt || disk.partitions.is_empty() {
        return None;
    }
    let mut h = vec![0u8; mbr::SECTOR];
    if disk.reader.read_exact_at(grub::SECTOR, &mut h).is_err() {
        return Some("the primary GPT header at LBA 1 cannot be read".into());
    }
    if imgcheck_core::bytes::bytes(&h, 0, 8) != b"EFI PART" {
        let what = if imgcheck_core::bytes::is_zero(&h) {
            "is zeros"
        } else {
            "has no \"EFI PART\" signature"
        };
        return Some(format!("the primary GPT header at LBA 1 {what}"));
    }
    let lba = imgcheck_core::bytes::le64(&h, 72);
    let count = u64::from(imgcheck_core::bytes::le32(&h, 80));
    let size = u64::from(imgcheck_core::bytes::le32(&h, 84));
    let total = count.checked_mul(size).filter(|t| *t <= GPT_MAX_ARRAY)?;
    let step = usize::try_from(size).ok().filter(|s| *s >= 16)?;
    let mut a = vec![0u8; usize::try_from(total).ok()?];
    disk.reader
        .read_exact_at(lba.checked_mul(grub::SECTOR)?, &mut a)
        .ok()?;
    let used = a
        .chunks_exact(step)
        .any(|e| !imgcheck_core::bytes::is_zero(imgcheck_core::bytes::bytes(e, 0, 16)));
    (!used)
        .then(|| format!("the primary GPT's entry array at LBA {lba} holds no used entry (zeros)"))
}

/// The BIOS verdict when core.img is not what boot.img needs.
fn core_failure(p: &grub::CoreProblem, out: &mut Vec<Finding>) -> Verdict {
    let then = match p {
        grub::CoreProblem::Zeroed { .. } | grub::CoreProblem::NotDiskboot { .. } => {
            "boot.img prints \"GRUB \" and jumps into that sector; with zeros there the machine starts over, printing \"GRUB \" again and again (as SeaBIOS showed it)"
        }
        _ => {
            "GRUB stops before its menu (boot.img and diskboot.img report read errors as \"Read Error\" or \"Geom Error\"; a damaged kernel fails to decompress or crashes)"
        }
    };
    let msg = format!(
        "sector 0 holds GRUB 2 boot.img, but {}: {then}",
        p.describe()
    );
    out.push(error(
        "boot.bios.grub.core",
        p.offset(),
        msg.clone(),
        grub_reinstall_bios(),
    ));
    verdict("BIOS", Outcome::Fails, msg)
}

/// Problems with grub.cfg entries other than the default one.
fn side_findings(side: chain::Side, out: &mut Vec<Finding>) {
    for (code, at, msg) in side {
        let msg = if code == chain::ENTRY_BROKEN {
            format!("{msg}: that entry fails if chosen (the default one boots)")
        } else {
            msg
        };
        out.push(Finding::warning(code, Layer::BOOT, at, Space::Disk, msg));
    }
}

/// A path's verdict from what the chain past the loader showed.
fn stage_verdict(
    path: &'static str,
    head: String,
    stage: Stage,
    hint: Hint,
    fss: &[Filesystem],
    out: &mut Vec<Finding>,
) -> Verdict {
    match stage {
        Stage::Holds(s) => verdict(path, Outcome::Boots, format!("{head}; {s}")),
        Stage::NotFollowed(s) => verdict(
            path,
            Outcome::Boots,
            format!("{head}; not followed further: {s}"),
        ),
        Stage::Broken {
            code,
            offset,
            message,
        } => {
            let hint = if code.starts_with("boot.linux") {
                kernel_hint(fs_at(fss, offset))
            } else if code == chain::SEARCH_MISSING && path == "UEFI" {
                search_hint(offset)
            } else if code == GPT_PRIMARY_MISSING {
                gpt_rebuild_hint()
            } else if code == chain::FS_UNSUPPORTED {
                features_hint(offset)
            } else if code == "boot.grub.cfg_missing" {
                look_hint(fs_at(fss, offset), &["/boot/grub", "/grub"], CFG_REPAIR)
            } else {
                hint
            };
            if !out.iter().any(|f| f.code == code && f.message == message) {
                out.push(error(code, offset, message.clone(), hint));
            }
            verdict(path, Outcome::Fails, format!("{head}; then: {message}"))
        }
    }
}

/// The look at the features of the ext4 at `at` GRUB refuses: read-only
/// (debugfs opens the disk at the partition's offset). No GRUB reinstall
/// helps: its driver is the same.
fn features_hint(at: u64) -> Hint {
    Hint::read_only(format!("debugfs -R features '{{disk}}?offset={at}'"))
        .on(Target::Disk)
        .because(
            "lists the filesystem's features read-only; GRUB 2.06 reads /boot only from a filesystem without casefold, inline_data or ea_inode: on a copy of the image only (never on the evidence), move /boot to such a filesystem or clear the feature where e2fsprogs allows it (tune2fs -O ^casefold on the copy, with no casefolded directory left)",
        )
}

/// The look at a GPT whose primary is gone, read-only; the rebuild from
/// the backup writes, on a copy only.
fn gpt_rebuild_hint() -> Hint {
    Hint::read_only("sgdisk -v {disk}").on(Target::Disk).because(
        "verifies the table read-only and names the damaged primary GPT; rebuild the primary from the backup on a copy of the image only (never on the evidence): gdisk on the copy, recovery menu r, then b (main header from backup), c (main table from backup), w",
    )
}

/// The filesystem in a partition that `offset` (its start, or a file's
/// data in it) lies in: the one starting last at or before it.
fn fs_at(fss: &[Filesystem], offset: u64) -> Option<&Filesystem> {
    fss.iter()
        .filter(|f| f.partition.is_some() && f.start <= offset)
        .max_by_key(|f| f.start)
}

/// The look at an EFI GRUB stub whose `search` finds nothing here: the
/// loaders and stubs on the ESP at `at`, read-only (mtools `FILE@@N`).
/// No loader put back fixes a search for a filesystem that is gone.
fn search_hint(at: u64) -> Hint {
    Hint::read_only(format!("mdir -/ -i '{{disk}}@@{at}' ::/EFI"))
        .on(Target::Disk)
        .because(
            "lists the ESP's loaders and the grub.cfg stubs beside them (read them with mtype the same way): compare the UUID, label or file the stub searches for with the filesystems this report lists; correct the stub on a copy of the image only (never on the evidence)",
        )
}

/// What to do about a missing or broken kernel: a read-only look at the
/// filesystem that should hold it, then the repair, on a copy only.
const KERNEL_REPAIR: &str = "put the kernel back on a copy of the image only (never on the evidence): from a rescue system with the copy's root and /boot mounted, reinstall the kernel package (which rewrites vmlinuz and the initramfs) or restore /boot from a backup, then update-grub";

/// The step for a missing or broken kernel on `fs` (the filesystem its
/// path is on, when one in a partition is known). The look is a command
/// that runs on the image as it is: e2fsprogs opens `FILE?offset=N` (its
/// unix I/O manager's `offset` option) and mtools `FILE@@N`, so neither
/// needs a loop device, and both only read. The whole disk given to
/// debugfs is no filesystem ("Bad magic number in super-block").
fn kernel_hint(fs: Option<&Filesystem>) -> Hint {
    look_hint(fs, &["/boot"], KERNEL_REPAIR)
}

/// What to do about a lost grub.cfg: grub-install never writes it
/// (attack boot8-2 F3), grub-mkconfig does.
const CFG_REPAIR: &str = "regenerate the menu on a copy of the image only (never on the evidence): from a rescue system with the copy's root and /boot mounted, grub-mkconfig -o /boot/grub/grub.cfg (update-grub); grub-install does not write grub.cfg";

/// A read-only look at the first of `dirs` on `fs` that is a directory
/// (else its root), then `repair` in words.
fn look_hint(fs: Option<&Filesystem>, dirs: &[&str], repair: &str) -> Hint {
    let Some(fs) = fs else {
        return Hint::advice(format!(
            "{repair}; look first at the filesystem the entry names, read-only"
        ))
        .on(Target::Disk);
    };
    let n = fs.partition.unwrap_or(0);
    let dir = fs
        .files
        .as_ref()
        .and_then(|f| dirs.iter().find(|d| f.0.lookup(d, 0).dir))
        .copied()
        .unwrap_or("/");
    let at = fs.start;
    match fs.kind.as_str() {
        "ext4" | "ext3" | "ext2" => Hint::read_only(format!(
            "debugfs -R 'ls -l {dir}' '{{disk}}?offset={at}'"
        ))
        .on(Target::Disk)
        .because(format!(
            "lists {dir} on partition {n}'s filesystem, read-only (debugfs opens the disk at the partition's offset); then {repair}"
        )),
        "fat" => Hint::read_only(format!("mdir -/ -i '{{disk}}@@{at}' ::{dir}"))
            .on(Target::Disk)
            .because(format!(
                "lists {dir} on partition {n}'s FAT, read-only; then {repair}"
            )),
        "xfs" => Hint::read_only(format!("xfs_db -r -c 'ls {dir}' {{dev}}"))
            .on(Target::Partition(n))
            .because(format!(
                "lists {dir} on partition {n}'s XFS, read-only (-r); then {repair}"
            )),
        k => Hint::advice(format!(
            "{repair}; look first at {dir} on partition {n}'s {k} filesystem, read-only"
        ))
        .on(Target::Disk),
    }
}

fn uefi_path(disk: &Disk<'_>, s0: &Sector0, out: &mut Vec<Finding>) -> Verdict {
    let mut esps: Vec<&Partition> = disk
        .partitions
        .iter()
        .filter(|p| p.promise == Promise::EfiSystem)
        .collect();
    let fail = |why: String| verdict("UEFI", Outcome::Fails, why);
    if esps.is_empty() {
        // edk2 (OVMF) expands a disk's boot option to the removable path
        // on every FAT partition it finds, whatever its type: a FAT with
        // \EFI\BOOT\BOOTX64.EFI in a basic-data partition boots there
        // (as OVMF showed it). Firmware that looks only for the ESP type
        // does not, and grub-install and Windows want the type.
        esps = disk
            .partitions
            .iter()
            .filter(|p| {
                p.contents.as_deref() == Some("fat")
                    && p.boot_files
                        .iter()
                        .any(|f| removable_machine(&f.path).is_some() && f.present)
            })
            .collect();
        for p in &esps {
            out.push(Finding::warning(
                "boot.uefi.esp_untyped",
                Layer::BOOT,
                p.start,
                Space::Disk,
                format!(
                    "partition {} holds a UEFI loader at {} but is not typed as an EFI System Partition: edk2 firmware (OVMF) boots it through the removable path, firmware that looks only for the ESP type does not, and grub-install or Windows setup will not use it",
                    p.number,
                    p.boot_files
                        .iter()
                        .find(|f| removable_machine(&f.path).is_some() && f.present)
                        .map_or(boot_paths::REMOVABLE_X64, |f| f.path.as_str())
                ),
            )
            .with_hint(
                Hint::read_only("sgdisk --info={n} {disk}".replace("{n}", &p.number.to_string()))
                    .on(Target::Disk)
                    .because("shows the partition's type; set it to EF00 on a copy only (sgdisk --typecode on the copy)"),
            ));
        }
    }
    if esps.is_empty() {
        return verdict(
            "UEFI",
            Outcome::NotSetUp,
            "no EFI System Partition: the disk is not set up for UEFI boot".into(),
        );
    }
    let seen = match disk.scheme {
        Scheme::Gpt => s0.protects_gpt(),
        Scheme::Mbr => s0.signature,
        Scheme::None => false,
    };
    if !seen {
        let msg = format!(
            "{}: UEFI firmware (edk2's partition driver, as in OVMF) reads a GPT only behind a protective MBR entry (type 0xEE from LBA 1), so it sees no partitions and no ESP — OVMF reports \"BdsDxe: failed to load Boot0001 ... Not Found\" and falls to the UEFI shell or its boot manager",
            if s0.all_zero {
                "sector 0 is zeros (the protective MBR is gone)"
            } else {
                "sector 0 holds no protective MBR entry"
            }
        );
        out.push(error(
            "boot.uefi.no_protective_mbr",
            0x1BE,
            msg.clone(),
            Hint::advice(
                "on a copy of the image only: write a fresh protective MBR (gdisk reads the GPT and writes one with w), never on the evidence",
            )
            .on(Target::Disk),
        ));
        return fail(msg);
    }
    // edk2's PartitionDxe (Gpt.c) reads the backup GPT when the primary
    // is not valid and rewrites the primary from it ("Restore primary
    // partition table by the backup"): the firmware writes the disk.
    if let Some(why) = gpt_unseen_by_grub(disk) {
        out.push(
            Finding::warning(
                "boot.uefi.gpt_restored_by_firmware",
                Layer::BOOT,
                grub::SECTOR,
                Space::Disk,
                format!(
                    "{why}: UEFI firmware built on edk2 (OVMF) reads the backup GPT instead and rewrites the primary from it at boot, so booting this disk writes LBA 1 onwards (boot a copy, or the evidence only with snapshot=on); an EFI GRUB started then reads the rewritten primary, and on a write-protected disk, where the rewrite fails, it sees no partition (its part_gpt reads only the primary)"
                ),
            )
            .with_hint(gpt_rebuild_hint()),
        );
    }
    // An ESP nothing was installed on (no FAT, or a FAT without \EFI)
    // was never set up to boot: not set up, not broken. A FAT destroyed
    // under it is the FAT layer's and the promise check's finding.
    let installed: Vec<&Partition> = esps
        .iter()
        .copied()
        .filter(|p| {
            p.boot_files
                .iter()
                .any(|f| f.present && (f.path != boot_paths::EFI_DIR || f.dir))
        })
        .collect();
    if installed.is_empty() {
        let what: Vec<String> = esps
            .iter()
            .map(|p| match p.contents.as_deref() {
                Some("fat") => format!(
                    "ESP partition {} holds a FAT without an \\EFI directory",
                    p.number
                ),
                Some(other) => format!("ESP partition {} holds {other}, not FAT", p.number),
                None => format!(
                    "ESP partition {} holds no filesystem imgcheck recognises",
                    p.number
                ),
            })
            .collect();
        return verdict(
            "UEFI",
            Outcome::NotSetUp,
            format!("{}: no UEFI loader was installed", what.join("; ")),
        );
    }
    let esps = installed;
    let mut reasons = Vec::new();
    let mut vendor_ok: Vec<String> = Vec::new();
    // A loader for another machine only: the disk was made for that
    // firmware, which is no x86-64 failure (attack boot8 F1).
    let mut other_arch: Option<String> = None;
    for p in &esps {
        match loader_on(p) {
            Ok(l) if l.machine != pe::MACHINE_X64 => {
                if other_arch.is_none() {
                    other_arch = Some(format!(
                        "ESP partition {}: {}: boots on {} UEFI firmware (not followed further); it holds no x86-64 loader, so an x86-64 firmware (OVMF) finds nothing at {}",
                        p.number,
                        l.summary,
                        pe::machine_name(l.machine),
                        boot_paths::REMOVABLE_X64
                    ));
                }
            }
            Ok(l) => {
                let summary = l.summary;
                let head = format!("ESP partition {}: {summary}", p.number);
                let fs = disk
                    .filesystems
                    .iter()
                    .find(|f| f.partition == Some(p.number));
                let files = fs.and_then(|f| f.files.as_ref());
                let mut image =
                    files.map(|f| f.0.lookup(boot_paths::REMOVABLE_X64, MAX_EFI_LOADER));
                let mut head = head;
                if let (Some(files), Some(img)) = (files, &image)
                    && pe::is_shim(&img.head)
                {
                    match shim_second_stage(files, boot_paths::REMOVABLE_X64, p) {
                        Ok((second, how)) => {
                            head = format!("{head}: shim → {how}");
                            image = second;
                        }
                        Err(st) => {
                            let head = format!("{head}: shim");
                            let hint = restore_file(p.number, r"\EFI\BOOT", SHIM_SECOND_STAGE);
                            return stage_verdict("UEFI", head, st, hint, &disk.filesystems, out);
                        }
                    }
                }
                let emb = image.as_ref().and_then(|f| embed::from_efi(&f.head));
                let Some(emb) = emb else {
                    // Not GRUB: systemd-boot is followed to the entry it boots.
                    if let (Some(fs), Some(v)) =
                        (fs, image.as_ref().and_then(|f| sdboot::identify(&f.head)))
                    {
                        let head = format!("{head}: systemd-boot {v}");
                        let mut side = Vec::new();
                        let st = sdboot::follow(fs, &disk.filesystems, &mut side);
                        for (code, at, msg) in side {
                            out.push(Finding::warning(code, Layer::BOOT, at, Space::Disk, msg));
                        }
                        return stage_verdict(
                            "UEFI",
                            head,
                            st,
                            sdboot_hint(p.number),
                            &disk.filesystems,
                            out,
                        );
                    }
                    return verdict("UEFI", Outcome::Boots, head);
                };
                let mut side = Vec::new();
                // EFI GRUB names the partition it was loaded from, and
                // finds its prefix's, only through its partition map
                // module too (disk/efi/efidisk.c grub_efidisk_get_device_name
                // iterates the disk's partitions): a grub-mkimage without
                // it finds no partition at all.
                let loader_at = image
                    .as_ref()
                    .and_then(|f| f.data_at)
                    .map_or(p.start, |d| p.start.saturating_add(d));
                if let Some(st) = partmap_missing(disk, &emb, "the EFI GRUB image", loader_at) {
                    return stage_verdict(
                        "UEFI",
                        head,
                        st,
                        restore_loader(p.number, &loader_name(p)),
                        &disk.filesystems,
                        out,
                    );
                }
                let st = chain::follow(
                    &emb,
                    "x86_64-efi",
                    Some(grubcfg::Device::Partition(p.number)),
                    &disk.filesystems,
                    &mut side,
                );
                if !disk.filesystems.is_empty() {
                    side_findings(side, out);
                }
                return stage_verdict(
                    "UEFI",
                    head,
                    st,
                    restore_loader(p.number, &loader_name(p)),
                    &disk.filesystems,
                    out,
                );
            }
            Err(why) => reasons.push(format!("ESP partition {}: {why}", p.number)),
        }
        for f in p.boot_files.iter().filter(|f| {
            removable_machine(&f.path).is_none()
                && f.path != boot_paths::EFI_DIR
                && valid_for(f, pe::MACHINE_X64).is_ok()
        }) {
            // A vendor shim starts the grubx64.efi beside it, or nothing.
            if let Some(dir) = f
                .path
                .strip_suffix("shimx64.efi")
                .filter(|d| d.ends_with('\\'))
            {
                let second = format!("{dir}{SHIM_SECOND_STAGE}");
                let there = p
                    .boot_files
                    .iter()
                    .any(|g| g.present && g.path.eq_ignore_ascii_case(&second));
                if !there {
                    reasons.push(format!(
                        "{} on partition {} is shim, which starts {second} beside it, and that file does not exist (shim prints \"Failed to open {second} - Not Found\")",
                        f.path, p.number
                    ));
                    continue;
                }
            }
            vendor_ok.push(format!("{} on partition {}", f.path, p.number));
        }
    }
    if vendor_ok.is_empty()
        && let Some(summary) = &other_arch
    {
        return verdict("UEFI", Outcome::Boots, summary.clone());
    }
    let first = esps.first().map_or(0, |p| loader_at(p));
    let first_n = esps.first().map_or(0, |p| p.number);
    let first_name = esps
        .first()
        .map_or_else(|| "BOOTX64.EFI".to_string(), |p| loader_name(p));
    if let Some(o) = &other_arch {
        reasons.push(o.clone());
    }
    let reasons = reasons.join("; ");
    if !vendor_ok.is_empty() {
        let msg = format!(
            "{reasons}; only {} is valid, which firmware starts only through a Boot#### entry in its NVRAM: a VM with new or lost NVRAM (a fresh OVMF_VARS) finds nothing at the removable path and falls to the UEFI shell",
            vendor_ok.join(", ")
        );
        out.push(
            Finding::warning(
                "boot.uefi.nvram_only",
                Layer::BOOT,
                first,
                Space::Disk,
                msg.clone(),
            )
            .with_hint(restore_loader(first_n, &first_name)),
        );
        return verdict("UEFI", Outcome::Depends, msg);
    }
    let msg = format!(
        "{reasons}: UEFI firmware finds no loader to start — OVMF reports \"BdsDxe: failed to load Boot0001 ... Not Found\" and falls to the UEFI shell"
    );
    out.push(error(
        "boot.uefi.no_loader",
        first,
        msg.clone(),
        restore_loader(first_n, &first_name),
    ));
    fail(msg)
}

/// Where the finding about ESP `p`'s loader points: the data of the
/// removable loader that is there but cannot start (its first cluster,
/// where a look at its header begins), else the ESP's start (nothing of a
/// deleted loader is left to point at).
fn loader_at(p: &Partition) -> u64 {
    p.boot_files
        .iter()
        .filter(|f| f.present && !f.dir && removable_machine(&f.path).is_some())
        .min_by_key(|f| f.path != boot_paths::REMOVABLE_X64)
        .and_then(|f| f.data_at)
        .map_or(p.start, |d| p.start.saturating_add(d))
}

fn restore_loader(n: u32, name: &str) -> Hint {
    restore_file(n, r"\EFI\BOOT", name)
}

/// Puts `name` back into `dir` of partition `n`, on a copy only.
fn restore_file(n: u32, dir: &str, name: &str) -> Hint {
    // Not grub-install: run where this advice is read, it installs into
    // the analyst's own /boot and /boot/efi (its defaults) and may add
    // a boot entry to this machine's NVRAM. The lost file is put back into
    // the copy's ESP itself, through mtools, which writes that filesystem
    // and nothing else. The file named is the one this ESP was made with:
    // an x86-64 loader over an arm64 disk's evidence boots nothing.
    // mcopy does not make directories ("Bad target" when \EFI\BOOT is
    // gone with the loader), so each one on the way is made first; mmd
    // -D s skips one that exists (and then exits 1, hence `;`).
    let dir = dir.replace('\\', "/");
    let mut made = Vec::new();
    let mut at = String::new();
    for part in dir.split('/').filter(|p| !p.is_empty()) {
        at = format!("{at}/{part}");
        made.push(format!("::{at}"));
    }
    let to = format!("{dir}/{name}");
    let mmd = if made.is_empty() {
        String::new()
    } else {
        format!("mmd -D s -i {{dev}} {}; ", made.join(" "))
    };
    Hint::writes(format!("{mmd}mcopy -o -i {{dev}} {name} ::{to}"))
        .on(Target::Partition(n))
        .because(format!(
            "on a copy of the image only (never on the evidence): put back {name}, taken from a good copy of this ESP or from the distribution's shim or GRUB package for that machine, into the copy's partition {n}; look first with mdir -/ -i {{dev}} ::/EFI (read-only)"
        ))
}

/// The second stage shim starts from its own directory (shim's
/// DEFAULT_LOADER `\grubx64.efi`, used when no load option names another).
const SHIM_SECOND_STAGE: &str = "grubx64.efi";

/// What shim at `path` on ESP `p` starts: with `fbx64.efi` beside a
/// removable shim, the fallback (which recreates boot entries from
/// `\EFI\*\BOOTX64.CSV` and resets: not followed); else grubx64.efi
/// beside it, read whole, or the broken link.
fn shim_second_stage(
    files: &imgcheck_core::Files,
    path: &str,
    p: &Partition,
) -> Result<(Option<BootFile>, String), Stage> {
    let dir = path.rsplit_once('\\').map_or("", |(d, _)| d);
    if path == boot_paths::REMOVABLE_X64 {
        let fb = files.0.lookup(&format!("{dir}\\fbx64.efi"), 0);
        if fb.present && !fb.dir {
            return Err(Stage::NotFollowed(format!(
                "{dir}\\fbx64.efi is beside it: shim starts the fallback, which makes boot entries from \\EFI\\*\\BOOTX64.CSV and resets"
            )));
        }
    }
    let second = format!("{dir}\\{SHIM_SECOND_STAGE}");
    let f = files.0.lookup(&second, MAX_EFI_LOADER);
    let why = if !f.present || f.dir {
        "does not exist".to_string()
    } else {
        match valid_for(&f, pe::MACHINE_X64) {
            Ok(_) => {
                let how = format!("{second} ({} bytes)", f.size.unwrap_or(0));
                return Ok((Some(f), how));
            }
            Err(e) => format!("is no loader it can start: {e}"),
        }
    };
    Err(Stage::Broken {
        code: "boot.uefi.shim.second_stage",
        offset: p.start,
        message: format!(
            "shim at {path} on partition {} starts {second} beside it, which {why}: shim prints \"Failed to open {second} - Not Found\" (or fails to load it) and returns to the firmware, which tries its next boot option and falls to the UEFI shell or boot manager",
            p.number
        ),
    })
}

/// The removable loader's file name ESP `p` was made with: the one of
/// another machine when only such a path is there, else BOOTX64.EFI.
fn loader_name(p: &Partition) -> String {
    let x64 = p
        .boot_files
        .iter()
        .any(|f| f.path == boot_paths::REMOVABLE_X64 && f.present);
    let other = p.boot_files.iter().find(|f| {
        f.present && f.path != boot_paths::REMOVABLE_X64 && removable_machine(&f.path).is_some()
    });
    match other {
        Some(f) if !x64 => f
            .path
            .rsplit('\\')
            .next()
            .unwrap_or("BOOTX64.EFI")
            .to_string(),
        _ => "BOOTX64.EFI".to_string(),
    }
}

/// The machine a removable-media path (UEFI §3.5.1.1) is for, `None` for
/// any other path.
fn removable_machine(path: &str) -> Option<u16> {
    let name = path.strip_prefix(r"\EFI\BOOT\")?;
    [
        ("BOOTX64.EFI", pe::MACHINE_X64),
        ("BOOTAA64.EFI", pe::MACHINE_AA64),
        ("BOOTIA32.EFI", pe::MACHINE_I386),
        ("BOOTARM.EFI", pe::MACHINE_ARM),
        ("BOOTRISCV64.EFI", pe::MACHINE_RISCV64),
    ]
    .iter()
    .find(|(n, _)| n.eq_ignore_ascii_case(name))
    .map(|(_, m)| *m)
}

/// The look for a systemd-boot entry that does not boot: read-only, on
/// the ESP itself; the repair (kernel-install or bootctl, or the
/// distribution's kernel package) runs on a copy from a rescue system.
fn sdboot_hint(n: u32) -> Hint {
    Hint::read_only("mdir -/ -i {dev} ::/")
        .on(Target::Partition(n))
        .because(format!(
            "lists what partition {n} (the ESP) holds: loader/loader.conf, loader/entries and the kernels they name; put a kernel back on a copy of the image only (never on the evidence), from a rescue system with the copy's ESP mounted (reinstall the kernel package or run kernel-install there)"
        ))
}

/// A removable loader that a firmware of its machine starts.
struct Loader {
    /// The file and its header, in words.
    summary: String,
    /// The COFF machine it is for.
    machine: u16,
}

/// The removable loader on ESP `p`, or why there is none firmware can
/// start. The x86-64 path is judged first; without a file there, a valid
/// loader at another machine's path (BOOTAA64.EFI, BOOTIA32.EFI) is the
/// loader, for that machine's firmware.
fn loader_on(p: &Partition) -> Result<Loader, String> {
    match p.contents.as_deref() {
        Some("fat") if p.usable => {}
        Some("fat") => return Err("its FAT filesystem has no usable boot sector".into()),
        Some(other) => return Err(format!("it holds {other}, not a FAT filesystem")),
        None => return Err("it holds no filesystem imgcheck recognises".into()),
    }
    let Some(f) = p
        .boot_files
        .iter()
        .find(|f| f.path == boot_paths::REMOVABLE_X64)
    else {
        return Err(format!("{} was not looked up", boot_paths::REMOVABLE_X64));
    };
    let x64 = valid_for(f, pe::MACHINE_X64);
    let x64_why = match x64 {
        Ok(pe) => return Ok(loader(f, &pe)),
        Err(why) => why,
    };
    if f.present {
        return Err(x64_why);
    }
    let mut why = vec![x64_why];
    for o in p
        .boot_files
        .iter()
        .filter(|o| o.present && o.path != boot_paths::REMOVABLE_X64)
    {
        let Some(m) = removable_machine(&o.path) else {
            continue;
        };
        match valid_for(o, m) {
            Ok(pe) => return Ok(loader(o, &pe)),
            Err(e) => why.push(e),
        }
    }
    Err(why.join("; "))
}

fn loader(f: &BootFile, pe: &pe::Pe) -> Loader {
    Loader {
        summary: format!(
            "{} ({} bytes), a PE32{} {} EFI application",
            f.path,
            f.size.unwrap_or(0),
            if pe.magic == 0x20B { "+" } else { "" },
            pe::machine_name(pe.machine)
        ),
        machine: pe.machine,
    }
}

/// `f` as a loader a firmware for `machine` starts, or why it is not.
fn valid_for(f: &BootFile, machine: u16) -> Result<pe::Pe, String> {
    if !f.present {
        return Err(format!("{} does not exist", f.path));
    }
    if let Some(p) = &f.problem {
        return Err(format!("{} cannot be read whole: {p}", f.path));
    }
    let pe = pe::parse(&f.head).map_err(|e| format!("{} is not a PE image: {e}", f.path))?;
    if let (Some(end), Some(size)) = (pe::sections_end(&f.head), f.size)
        && end > size
    {
        return Err(format!(
            "{} is cut short: its sections' data runs to byte {end}, but the file is {size} bytes, so the firmware's PE loader fails reading them",
            f.path
        ));
    }
    if pe.machine != machine {
        return Err(format!(
            "{} is built for {}, not {}",
            f.path,
            pe::machine_name(pe.machine),
            pe::machine_name(machine)
        ));
    }
    Ok(pe)
}

/// The severity a verdict gives its path, for a renderer.
pub fn severity_of(o: Outcome) -> Option<Severity> {
    match o {
        Outcome::Fails => Some(Severity::Error),
        Outcome::Depends => Some(Severity::Warning),
        Outcome::Boots | Outcome::NotSetUp => None,
    }
}

#[cfg(test)]
mod tests {
    use super::restore_loader;

    #[test]
    fn the_loader_step_writes_only_the_copy_s_esp_never_the_host_s_boot() {
        // grub-install, as this step once read, installs into the host's own
        // /boot and /boot/efi when pasted where the report is read (an
        // attack on the session-4 build found it).
        let h = restore_loader(1, "BOOTX64.EFI");
        let cmd = h.command.as_deref().unwrap_or_default();
        assert!(h.writes);
        assert!(cmd.contains("{dev}"), "{cmd}");
        assert!(!cmd.contains("/boot"), "{cmd}");
        assert!(!cmd.contains("grub-install"), "{cmd}");
    }
}

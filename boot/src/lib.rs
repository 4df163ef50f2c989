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
            BootCode::Windows | BootCode::Syslinux
                if disk.scheme == Scheme::Mbr && !s0.has_active() =>
            {
                let msg = format!(
                    "sector 0 holds {}, which loads the active partition's boot sector, but no partition is marked active: it stops without loading anything",
                    s0.code.name()
                );
                out.push(error(
                    "boot.bios.no_active",
                    0x1BE,
                    msg.clone(),
                    Hint::read_only("sfdisk --dump {disk}").on(Target::Disk).because(
                        "shows the boot flags; set one on a copy only (sfdisk --activate on the copy)",
                    ),
                ));
                fail(msg)
            }
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
                    let mut side = Vec::new();
                    let st = chain::follow(&e, "i386-pc", None, &disk.filesystems, &mut side);
                    side_findings(side, out);
                    st
                }
            };
            stage_verdict("BIOS", head, stage, grub_reinstall_bios(), out)
        }
    }
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
                kernel_hint()
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

/// The step for a missing or broken kernel, only ever on a copy.
fn kernel_hint() -> Hint {
    Hint::advice(
        "on a copy of the image only (never on the evidence): from a rescue system with the copy's root and /boot mounted, reinstall the kernel package (which rewrites vmlinuz and the initramfs) or restore /boot from a backup, then update-grub; look first with debugfs -R 'ls -l /boot' {dev} (read-only)",
    )
    .on(Target::Disk)
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
                        .any(|f| f.path == boot_paths::REMOVABLE_X64 && f.present)
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
                    boot_paths::REMOVABLE_X64
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
    for p in &esps {
        match loader_on(p) {
            Ok(summary) => {
                let head = format!("ESP partition {}: {summary}", p.number);
                let fs = disk
                    .filesystems
                    .iter()
                    .find(|f| f.partition == Some(p.number));
                let image = fs
                    .and_then(|f| f.files.as_ref())
                    .map(|f| f.0.lookup(boot_paths::REMOVABLE_X64, MAX_EFI_LOADER));
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
                        return stage_verdict("UEFI", head, st, sdboot_hint(p.number), out);
                    }
                    return verdict("UEFI", Outcome::Boots, head);
                };
                let mut side = Vec::new();
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
                return stage_verdict("UEFI", head, st, restore_loader(p.number), out);
            }
            Err(why) => reasons.push(format!("ESP partition {}: {why}", p.number)),
        }
        vendor_ok.extend(
            p.boot_files
                .iter()
                .filter(|f| {
                    f.path != boot_paths::REMOVABLE_X64
                        && f.path != boot_paths::EFI_DIR
                        && valid_x64(f).is_ok()
                })
                .map(|f| format!("{} on partition {}", f.path, p.number)),
        );
    }
    let first = esps.first().map_or(0, |p| p.start);
    let first_n = esps.first().map_or(0, |p| p.number);
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
            .with_hint(restore_loader(first_n)),
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
        restore_loader(first_n),
    ));
    fail(msg)
}

fn restore_loader(n: u32) -> Hint {
    // Not grub-install: run where this advice is read, it installs into
    // the analyst's own /boot and /boot/efi (its defaults) and may add
    // a boot entry to this machine's NVRAM. The lost file is put back into
    // the copy's ESP itself, through mtools, which writes that filesystem
    // and nothing else.
    Hint::writes("mcopy -o -i {dev} BOOTX64.EFI ::/EFI/BOOT/BOOTX64.EFI")
        .on(Target::Partition(n))
        .because(format!(
            "on a copy of the image only (never on the evidence): put back the removable loader, BOOTX64.EFI taken from a good copy of this ESP or from the distribution's shim or GRUB package, into the copy's partition {n}; look first with mdir -/ -i {{dev}} ::/EFI (read-only)"
        ))
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

/// The removable loader on ESP `p`, or why there is none firmware can start.
fn loader_on(p: &Partition) -> Result<String, String> {
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
    let pe = valid_x64(f)?;
    Ok(format!(
        "{} ({} bytes), a PE32{} {} EFI application",
        f.path,
        f.size.unwrap_or(0),
        if pe.magic == 0x20B { "+" } else { "" },
        pe::machine_name(pe.machine)
    ))
}

fn valid_x64(f: &BootFile) -> Result<pe::Pe, String> {
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
    if pe.machine != pe::MACHINE_X64 {
        return Err(format!(
            "{} is built for {}, not x86-64",
            f.path,
            pe::machine_name(pe.machine)
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
        let h = restore_loader(1);
        let cmd = h.command.as_deref().unwrap_or_default();
        assert!(h.writes);
        assert!(cmd.contains("{dev}"), "{cmd}");
        assert!(!cmd.contains("/boot"), "{cmd}");
        assert!(!cmd.contains("grub-install"), "{cmd}");
    }
}

//! What the report says a disk's start is, end to end: bare volumes are
//! filesystems (never an MBR), other labels are named, an MBR's trailing
//! space is free space, and a disk with data past its table's end gets no
//! step that writes. Images from testdata/scripts/layout.sh and disk.sh.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

use imgcheck::options::Options;
use imgcheck::report::{ImageReport, Verdict};
use imgcheck_testdata::{Patch, damaged, fixture};
use std::path::Path;
use std::process::Command;

const MIB: u64 = 1 << 20;

fn inspect(path: &Path) -> ImageReport {
    let opts = Options {
        image_path: path.to_path_buf(),
        ..Default::default()
    };
    imgcheck::inspect_image(path, None, &opts).unwrap()
}

fn codes(r: &ImageReport) -> Vec<String> {
    r.findings().iter().map(|f| f.code.to_string()).collect()
}

/// The kind of the node under the table: what the whole disk was read as.
fn whole_disk_kind(r: &ImageReport) -> Option<String> {
    r.table()?.children.first().map(|n| n.kind.clone())
}

#[test]
fn bare_volumes_are_read_as_their_filesystem() {
    for (name, kind) in [
        ("layout/ntfs-bare.img", "ntfs"),
        ("layout/ntfs-bare.qcow2", "ntfs"),
        ("layout/exfat-bare.img", "exfat"),
        ("layout/ext2-stray.img", "ext2"),
    ] {
        let r = inspect(&fixture(name));
        let c = codes(&r);
        assert!(
            c.iter()
                .all(|c| !c.starts_with("mbr.") || c == "mbr.not_a_table"),
            "{name}: {c:?}"
        );
        assert!(
            c.iter().all(|c| !c.starts_with("layout.size_chain")),
            "{name}: {c:?}"
        );
        assert_eq!(r.table().unwrap().kind, "none", "{name}");
        let got = whole_disk_kind(&r).unwrap_or_default().to_ascii_lowercase();
        assert!(got.contains(kind), "{name}: whole disk read as {got:?}");
        assert_eq!(r.verdict(), Verdict::Clean, "{name}: {c:?}");
    }
}

#[test]
fn other_labels_are_named_not_unrecognised() {
    for (name, kind) in [
        ("layout/label-sun.img", "sun"),
        ("layout/label-dvh.img", "sgi"),
        ("layout/label-mac.img", "mac"),
        ("layout/label-atari.img", "atari"),
        ("layout/label-bsd-slice.img", "bsd"),
    ] {
        let r = inspect(&fixture(name));
        assert_eq!(r.table().unwrap().kind, kind, "{name}");
        let c = codes(&r);
        assert!(!c.contains(&"layout.unrecognized".into()), "{name}: {c:?}");
        assert!(c.contains(&"label.detected".into()), "{name}: {c:?}");
        assert_eq!(r.verdict(), Verdict::Clean, "{name}: {c:?}");
    }
    // Its first MiB: the label's partitions reach past the end, told as a
    // sample, not judged as a shrunk disk.
    let r = inspect(&fixture("layout/label-sun-head.img"));
    let c = codes(&r);
    assert!(
        c.contains(&"layout.size_chain.label_past_end".into()),
        "{c:?}"
    );
    assert!(!c.contains(&"layout.size_chain.shrunk".into()), "{c:?}");
}

#[test]
fn an_mbr_disk_with_free_space_after_its_last_partition_did_not_grow() {
    // sfdisk's 32 MiB DOS disk, 32 MiB longer: what an MBR cannot record.
    let d = damaged("disk/dos-logical.img", &[Patch::Truncate { len: 64 * MIB }]);
    let r = inspect(d.path());
    let c = codes(&r);
    assert!(!c.contains(&"layout.size_chain.grown".into()), "{c:?}");
    let f = r
        .findings()
        .into_iter()
        .find(|f| f.code == "layout.size_chain.free_tail")
        .unwrap_or_else(|| panic!("{c:?}"));
    assert_eq!(f.severity, imgcheck_core::Severity::Info);
    // Its last partition, 6, is logical and ends where extended partition
    // 2 ends: `growpart 6` (sfdisk -N 6) leaves it unchanged and parted
    // refuses ("Can't have overlapping partitions"), so the container
    // grows first (parted resizepart 2 100% resizepart 6 100% grew both
    // on a copy).
    let tail = f.hint.as_ref().map(|h| h.to_string()).unwrap_or_default();
    assert!(
        tail.contains("resizepart 2 100% resizepart 6 100%") && !tail.contains("growpart {disk} 6"),
        "{tail}"
    );
    // It writes the table, so it is a writing step the next steps put on
    // a copy, never a note naming the original.
    assert!(f.hint.as_ref().is_some_and(|h| h.writes), "{tail}");
    no_write_names_the_image(&r, d.path());
    for f in r.findings() {
        let h = f.hint.as_ref().map(|h| h.to_string()).unwrap_or_default();
        assert!(
            !h.contains("sgdisk") || h.contains("GPT disks only"),
            "{}: {h}",
            f.code
        );
    }
    assert_eq!(r.verdict(), Verdict::Clean, "{c:?}");
}

#[test]
fn free_space_inside_the_extended_partition_needs_no_container_growth() {
    // The same disk at 64 MiB with extended partition 2 already reaching
    // the end (its MBR entry's size, byte 474, as `sfdisk -N 2` leaves
    // it): the free space is inside it, so only partition 6 grows.
    let d = damaged(
        "disk/dos-logical.img",
        &[
            Patch::Truncate { len: 64 * MIB },
            Patch::le32(446 + 16 + 12, 131_072 - 12_288),
        ],
    );
    let r = inspect(d.path());
    let f = r
        .findings()
        .into_iter()
        .find(|f| f.code == "layout.size_chain.free_tail")
        .unwrap_or_else(|| panic!("{:?}", codes(&r)));
    let h = f.hint.as_ref().unwrap();
    assert_eq!(
        h.command.as_deref(),
        Some("parted -s {disk} resizepart 6 100%"),
        "{h:?}"
    );
    assert!(
        h.writes && !h.to_string().contains("must grow first"),
        "{h}"
    );
}

#[test]
fn data_past_a_gpt_tables_end_gets_no_writing_step() {
    // The 64 MiB GPT disk grown to 128 MiB, and an ext4 superblock (the
    // larger disk's remnant, as when a smaller image is written over a
    // larger disk) at 100 MiB: growing would write over it.
    let sb = std::fs::read(fixture("disk/whole-disk-ext4.img")).unwrap();
    let d = damaged(
        "disk/gpt-two-ext4.img",
        &[
            Patch::Truncate { len: 128 * MIB },
            Patch::Bytes {
                offset: 100 * MIB,
                bytes: sb[..4096].to_vec(),
            },
        ],
    );
    let r = inspect(d.path());
    let f = r
        .findings()
        .into_iter()
        .find(|f| f.code == "layout.size_chain.grown")
        .unwrap_or_else(|| panic!("{:?}", codes(&r)));
    assert!(f.message.contains("not empty"), "{}", f.message);
    for f in r.findings() {
        assert!(
            f.hint.as_ref().is_none_or(|h| !h.writes),
            "{} offers a write: {:?}",
            f.code,
            f.hint
        );
    }
    // Zeros past the end: the grown disk's steps (which write) stay.
    let d = damaged(
        "disk/gpt-two-ext4.img",
        &[Patch::Truncate { len: 128 * MIB }],
    );
    let r = inspect(d.path());
    let f = r
        .findings()
        .into_iter()
        .find(|f| f.code == "layout.size_chain.grown")
        .unwrap();
    assert!(f.hint.as_ref().is_some_and(|h| h.writes));
}

#[test]
fn a_partition_the_kernel_will_not_see_gets_its_own_loop_device() {
    // destroyed-sb-1group.img with its protective MBR zeroed: the kernel
    // ignores a GPT without one, so --partscan makes no partition device.
    let d = damaged(
        "layout/destroyed-sb-1group.img",
        &[Patch::Zero {
            offset: 0,
            len: 512,
        }],
    );
    let r = inspect(d.path());
    let steps = imgcheck::steps::next_steps(&r).join("\n");
    assert!(
        steps.contains("P1=$(losetup --find --show --read-only -o 1048576 --sizelimit 16777216 "),
        "{steps}"
    );
    assert!(!steps.contains("${DISK:?}p1"), "{steps}");
    // With the protective MBR the kernel reads the table: --partscan.
    let r = inspect(&fixture("layout/destroyed-sb-1group.img"));
    let steps = imgcheck::steps::next_steps(&r).join("\n");
    assert!(
        steps.contains("--partscan") && steps.contains("${DISK:?}p1"),
        "{steps}"
    );
}

#[test]
fn zeros_at_the_start_are_not_no_data_when_data_follows() {
    // truncate's 16 MiB of zeros: no data at all.
    let r = inspect(&fixture("disk/empty.img"));
    assert!(
        codes(&r).contains(&"layout.empty".into()),
        "{:?}",
        codes(&r)
    );
    // The same disk with 64 KiB written at 12 MiB (what a dd that zeroed
    // the start leaves behind it): not "no data".
    let d = damaged(
        "disk/empty.img",
        &[Patch::Bytes {
            offset: 12 * MIB,
            bytes: vec![0x5a; 64 << 10],
        }],
    );
    let r = inspect(d.path());
    let c = codes(&r);
    assert!(!c.contains(&"layout.empty".into()), "{c:?}");
    let f = r
        .findings()
        .into_iter()
        .find(|f| f.code == "layout.unrecognized")
        .unwrap();
    assert!(f.message.contains("data follows at byte"), "{}", f.message);
    assert!(f.hint.as_ref().is_some_and(|h| !h.writes));
}

/// An isohybrid's EFI entry maps a file inside the ISO (its El Torito
/// image). Where that file is no FAT volume (coreos-installer's
/// embed-areas fixture keeps a placeholder, as here over xorriso's
/// efi.img), it is told, not judged: the ISO is what it is.
#[test]
fn an_isohybrid_efi_entry_inside_the_iso_is_told_not_judged() {
    let mut placeholder = b"efiboot.img\n".to_vec();
    placeholder.resize(4096, 0);
    let d = damaged(
        "layout/hybrid-efi.iso",
        &[Patch::Bytes {
            offset: 136 * 512,
            bytes: placeholder,
        }],
    );
    let r = inspect(d.path());
    let f = r
        .findings()
        .into_iter()
        .find(|f| f.code == "layout.contents.missing")
        .unwrap_or_else(|| panic!("{:?}", codes(&r)));
    assert_eq!(f.severity, imgcheck_core::Severity::Info, "{}", f.message);
    assert!(f.message.contains("inside the ISO image"), "{}", f.message);
    assert!(
        r.findings()
            .iter()
            .filter(|f| f.layer.as_str().starts_with("layout"))
            .all(|f| f.severity == imgcheck_core::Severity::Info),
        "{:?}",
        codes(&r)
    );
}

/// Every writing step the text report prints names a copy: the image's own
/// path appears in no line that runs a table or filesystem writer.
fn no_write_names_the_image(r: &ImageReport, image: &Path) {
    let text = imgcheck::render::text(r);
    let image = image.display().to_string();
    for line in text.lines() {
        let writes = ["parted ", "growpart ", "sfdisk ", "sgdisk ", "resize2fs "]
            .iter()
            .any(|w| line.contains(w));
        assert!(!(writes && line.contains(&image)), "{line}");
    }
}

/// testdata/scripts/layout-mbr-tail.sh: free space inside an extended
/// partition that already reaches the disk's end, after logical partition
/// 5. Only partition 5 grows: the step, replayed on a copy with parted,
/// ends partition 5 at the disk's end and leaves partition 2 as it was.
#[test]
fn free_space_inside_a_full_extended_partition_grows_only_the_logical_one() {
    let image = fixture("layout/dos-extended-room.img");
    let r = inspect(&image);
    let f = r
        .findings()
        .into_iter()
        .find(|f| f.code == "layout.size_chain.free_tail")
        .unwrap_or_else(|| panic!("{:?}", codes(&r)));
    let h = f.hint.clone().unwrap();
    assert!(h.writes, "{h}");
    let cmd = h.command.clone().unwrap_or_default();
    assert_eq!(cmd, "parted -s {disk} resizepart 5 100%");
    assert!(!h.to_string().contains("must grow first"), "{h}");
    no_write_names_the_image(&r, &image);
    if Command::new("parted").arg("--version").output().is_err() {
        eprintln!("parted not installed: the replay is skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.img");
    std::fs::copy(&image, &copy).unwrap();
    let run = cmd.replace("{disk}", &copy.display().to_string());
    let st = Command::new("sh").arg("-c").arg(&run).status().unwrap();
    assert!(st.success(), "{run}");
    let dump = Command::new("sfdisk")
        .arg("-d")
        .arg(&copy)
        .output()
        .unwrap();
    let dump = String::from_utf8_lossy(&dump.stdout);
    assert!(
        dump.contains("start=       36864, size=       94208"),
        "{dump}"
    );
    assert!(
        dump.contains("start=       34816, size=       96256, type=5"),
        "{dump}"
    );
}

/// The free-tail advice of an MBR disk (parted resizepart, growpart)
/// writes: shown beside its finding it names the copy the next steps make
/// (IMAGE.bak), never the image itself, though the finding is only info.
/// Before, it read "to use it, on a copy first: parted -s IMAGE ..." with
/// the evidence's own path (the attack's F14 class of hint); now a writing
/// step, resolved on the copy.
#[test]
fn the_free_tail_advice_names_the_copy() {
    let d = damaged("disk/dos-logical.img", &[Patch::Truncate { len: 64 * MIB }]);
    let r = inspect(d.path());
    let f = r
        .findings()
        .into_iter()
        .find(|f| f.code == "layout.size_chain.free_tail")
        .expect("free tail");
    let img = d.path().display().to_string();
    let h = r.hint_of(f).unwrap().hint;
    let cmd = h.command.clone().unwrap_or_default();
    assert!(
        cmd.contains("resizepart 2 100% resizepart 6 100%") && !cmd.contains("{disk}"),
        "{cmd}"
    );
    assert!(!cmd.split_whitespace().any(|w| w == img), "{cmd}");
}

/// Runs every next step that is a command (the part before its `   # `
/// note; notes alone are never run) in `dir`, where the image lies.
fn replay_steps(r: &ImageReport, dir: &Path) {
    for s in &r.next_steps {
        let Some((cmd, _)) = s.split_once("   # ") else {
            continue;
        };
        let out = Command::new("bash")
            .arg("-c")
            .arg(cmd)
            .current_dir(dir)
            .output()
            .unwrap();
        println!(
            "replayed {cmd}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `sgdisk -v` and `e2fsck -fn` of partition 1 on the `len` bytes of
/// `img` from `at`: the disk there is whole.
fn disk_verifies(img: &Path, at: u64, len: u64, label: &str) {
    let bytes = std::fs::read(img).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.img");
    std::fs::write(&one, &bytes[at as usize..(at + len) as usize]).unwrap();
    let v = Command::new("sgdisk").arg("-v").arg(&one).output().unwrap();
    let text = String::from_utf8_lossy(&v.stdout).to_string();
    assert!(
        text.contains("No problems found"),
        "{label} at {at}: {text}"
    );
    let start = MIB as usize;
    let fs = dir.path().join("fs.img");
    std::fs::write(
        &fs,
        &bytes[at as usize + start..(at + len) as usize - 17 * 1024],
    )
    .unwrap();
    let e = Command::new("e2fsck").arg("-fn").arg(&fs).output().unwrap();
    let text = String::from_utf8_lossy(&e.stdout).to_string() + &String::from_utf8_lossy(&e.stderr);
    assert!(e.status.success(), "{label}: e2fsck -fn: {text}");
    assert!(text.contains(label), "{label}: {text}");
}

/// Two GPT images concatenated (layout-concat.sh, F25): the last sector
/// is the second disk's backup header, which is said as such and never
/// taken for the first disk's; no step writes, and every step replayed
/// on the image (in a scratch directory) leaves both disks whole. Before,
/// the second disk's header was this disk's "damaged backup" and
/// `sgdisk -e` was offered, which wrote the first disk's backup over it.
#[test]
fn two_concatenated_gpt_images_keep_both_tables() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("disk.img");
    std::fs::copy(fixture("layout/concat-gpt.img"), &img).unwrap();
    let r = inspect(&img);
    let c = codes(&r);
    let f = r
        .findings()
        .into_iter()
        .find(|f| f.code == "gpt.backup_header.foreign")
        .unwrap_or_else(|| panic!("{c:?}"));
    for needle in [
        "disk GUID 11111111-2222-3333-4444-00000000250B, not this disk's 11111111-2222-3333-4444-00000000250A",
        "starts at byte 8388608 (LBA 16384)",
        "its primary header is at byte 8389120",
    ] {
        assert!(f.message.contains(needle), "{needle}: {}", f.message);
    }
    for bad in [
        "gpt.backup_header.my_lba",
        "gpt.backup_entries.crc",
        "gpt.headers.mismatch.disk_guid",
        "layout.overwritten.disk",
        "layout.size_chain.grown",
    ] {
        assert!(!c.iter().any(|x| x == bad), "{bad}: {c:?}");
    }
    let l = r
        .findings()
        .into_iter()
        .find(|f| f.code == "layout.size_chain.another_disk")
        .unwrap_or_else(|| panic!("{c:?}"));
    assert!(
        l.message
            .contains("from disk byte 8388608 on are another disk image"),
        "{}",
        l.message
    );
    // The space past this disk's backup is the other disk's, not grown.
    for f in r.findings() {
        assert!(
            !f.message.contains("the space an image grow added"),
            "{}: {}",
            f.code,
            f.message
        );
    }
    for f in r.findings() {
        assert!(
            f.hint.as_ref().is_none_or(|h| !h.writes),
            "{}: {:?}",
            f.code,
            f.hint
        );
    }
    for s in &r.next_steps {
        assert!(
            !s.contains("sgdisk -e") || s.starts_with("do not run"),
            "{s}"
        );
    }
    if Command::new("sgdisk").arg("--version").output().is_err()
        || Command::new("e2fsck").arg("-V").output().is_err()
    {
        println!("SKIPPED the replay: no sgdisk or e2fsck");
        return;
    }
    replay_steps(&r, dir.path());
    for file in ["disk.img", "disk.img.bak"] {
        let p = dir.path().join(file);
        if p.exists() {
            disk_verifies(&p, 0, 8 * MIB, "diska");
            disk_verifies(&p, 8 * MIB, 8 * MIB, "diskb");
        }
    }
}

/// Every writing hint's command with `{disk}` as `copy`, run on it.
fn replay_writes_on(r: &ImageReport, copy: &Path) -> Vec<String> {
    let mut ran = Vec::new();
    for f in r.findings() {
        let Some(h) = f.hint.as_ref().filter(|h| h.writes) else {
            continue;
        };
        let cmd = h
            .command
            .as_deref()
            .unwrap()
            .replace("{disk}", copy.to_str().unwrap());
        let out = Command::new("bash").arg("-c").arg(&cmd).output().unwrap();
        assert!(
            out.status.success(),
            "{}: {cmd}: {}",
            f.code,
            String::from_utf8_lossy(&out.stderr)
        );
        ran.push(cmd);
    }
    ran
}

/// The partitions `sfdisk -J` lists on `img`: (number, start, size).
fn sfdisk_parts(img: &Path) -> Vec<(u32, u64, u64)> {
    let out = Command::new("sfdisk").arg("-J").arg(img).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let name = img.to_str().unwrap();
    v["partitiontable"]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let node = p["node"].as_str().unwrap();
            let n = node.strip_prefix(name).unwrap().parse().unwrap();
            (n, p["start"].as_u64().unwrap(), p["size"].as_u64().unwrap())
        })
        .collect()
}

/// The EBR chain of layout-ebr.sh's six logicals broken at logical 7's
/// EBR (LBA 16384) in each way A5/A7 found: it links to itself, it is
/// zeroed (a stray dd), only its 55 AA is cleared, or logical 6 runs
/// into logical 7 (overlap). Logicals 8-10's EBRs still sit at LBA
/// 20480, 24576, 28672 with 55 AA: the gpt layer names them
/// (mbr.ebr.hidden), and the space after the last partition read is not
/// offered to `parted resizepart` (on a self-loop parted succeeds and
/// the grown partition 7 covers the three hidden ones). Before, every
/// case got layout.size_chain.free_tail with a writing hint.
#[test]
fn a_broken_ebr_chain_withdraws_the_grow_into_the_tail() {
    const EBR7: u64 = 16384 * 512;
    let link7 = EBR7 + 446 + 16 + 8;
    let cases: [(&str, Vec<Patch>, &str, bool); 4] = [
        (
            "self-loop",
            vec![Patch::le32(link7, 16384 - 8192)],
            "mbr.ebr.loop",
            true,
        ),
        (
            "zeroed",
            vec![Patch::Zero {
                offset: EBR7,
                len: 512,
            }],
            "mbr.ebr.signature",
            true,
        ),
        (
            "no 55 AA",
            vec![Patch::Zero {
                offset: EBR7 + 510,
                len: 2,
            }],
            "mbr.ebr.signature",
            true,
        ),
        // Logical 6 (EBR at 12288, partition at +2048) grown to 8192
        // sectors: it runs over logical 7's EBR and partition.
        (
            "overlap",
            vec![Patch::le32(12288 * 512 + 446 + 12, 8192)],
            "mbr.partition.overlap",
            false,
        ),
    ];
    for (name, patches, code, hidden) in cases {
        let d = damaged("layout/dos-six-logicals.img", &patches);
        let r = inspect(d.path());
        let c = codes(&r);
        assert!(c.iter().any(|x| x == code), "{name}: {c:?}");
        let h = r
            .findings()
            .into_iter()
            .find(|f| f.code == "mbr.ebr.hidden");
        if hidden {
            let h = h.unwrap_or_else(|| panic!("{name}: {c:?}"));
            for lba in [20480, 24576, 28672] {
                assert!(
                    h.message.contains(&format!("EBR at LBA {lba} →")),
                    "{name}: {}",
                    h.message
                );
            }
            assert_eq!(h.offset, 20480 * 512, "{name}");
        } else {
            assert!(h.is_none(), "{name}: {c:?}");
        }
        let tail = r
            .findings()
            .into_iter()
            .find(|f| f.code == "layout.size_chain.free_tail")
            .unwrap_or_else(|| panic!("{name}: {c:?}"));
        assert!(tail.message.contains("not"), "{name}: {}", tail.message);
        for f in r.findings() {
            assert!(
                f.hint.as_ref().is_none_or(|h| !h.writes),
                "{name}: {}: {:?}",
                f.code,
                f.hint
            );
        }
        for s in &r.next_steps {
            assert!(
                !s.contains("resizepart") || s.starts_with("grow nothing"),
                "{name}: {s}"
            );
        }
    }
}

/// The same disk with its chain intact: no EBR is taken for hidden (the
/// search runs only past a break), the tail is offered to partition 10,
/// and that step, replayed with parted on a copy, grows partition 10 to
/// the disk's end and leaves the other partitions as sfdisk read them.
#[test]
fn an_intact_ebr_chain_keeps_its_grow_and_the_grow_replays() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("disk.img");
    std::fs::copy(fixture("layout/dos-six-logicals.img"), &img).unwrap();
    let r = inspect(&img);
    let c = codes(&r);
    assert!(!c.iter().any(|x| x.starts_with("mbr.ebr.")), "{c:?}");
    let before = sfdisk_parts(&img);
    assert_eq!(before.len(), 8, "{before:?}");
    let ran = replay_writes_on(&r, &img);
    assert_eq!(ran.len(), 1, "{ran:?}");
    assert!(ran[0].contains("resizepart 10 100%"), "{ran:?}");
    let after = sfdisk_parts(&img);
    assert_eq!(after.len(), 8, "{after:?}");
    assert_eq!(after[..7], before[..7]);
    assert_eq!(after[7], (10, 30720, 131072 - 30720), "{after:?}");
}

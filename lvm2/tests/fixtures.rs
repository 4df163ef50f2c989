//! The crate on images made by lvm2 itself (testdata/scripts/lvm2.sh) and
//! on precisely damaged copies of them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions)]
mod common;
use common::*;
use imgcheck_core::{ReadAt, ReadErrorKind, Space};
use imgcheck_lvm2::{FoundBy, Opened, Why};
use imgcheck_testdata::{Patch, damaged};

#[test]
fn one_pv_all_lvs_map_and_history_dates_them() {
    let p = fx("one-pv.img");
    let a = asm(&[&p]);
    assert!(codes(&a).is_empty(), "{:?}", codes(&a));
    let vg = vg(&a, "imgck_one");
    assert_eq!(vg.metadata.extent_bytes(), 4 << 20);
    assert_eq!(vg.pvs[0].found, Some((0, FoundBy::Label)));
    assert_eq!(ext4_label(lv(vg, "root").as_ref()).as_deref(), Some("root"));
    let home = lv(vg, "home");
    assert_eq!(home.len(), 16 << 20);
    assert_eq!(ext4_label(home.as_ref()).as_deref(), Some("home"));
    // home's two segments: extents 0-1 at PE 4, 2-3 at PE 7.
    let st = vg.lv("home").unwrap();
    assert_eq!(
        st.segments
            .iter()
            .map(|s| (s.start_extent, s.extent_count))
            .collect::<Vec<_>>(),
        [(0, 2), (2, 2)]
    );
    let swap = lv(vg, "swap");
    assert_eq!(&read(swap.as_ref(), 4096 - 10, 10), b"SWAPSPACE2");
    let ev: Vec<String> = vg.events().into_iter().map(|e| e.what).collect();
    assert!(
        ev.iter()
            .any(|e| e.contains("imgck_one/home extended from 2 to 4 extents")),
        "{ev:?}"
    );
    assert!(
        ev.iter().any(|e| e.contains("imgck_one/root created")),
        "{ev:?}"
    );
    assert_eq!(
        vg.history.generations.len() as u64,
        vg.metadata.seqno,
        "every generation survives in a 1 MiB ring"
    );
}

#[test]
fn the_incident_second_pv_missing() {
    let a_img = fx("pair-a.img");
    let a = asm(&[&a_img]);
    let vg = vg(&a, "imgck_pair");
    assert!(vg.partial());
    let missing: Vec<_> = vg.missing().collect();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].meta.id, "PairBB-aaaa-bbbb-cccc-dddd-eeee-000002");
    assert_eq!(missing[0].dev_size_bytes(), 24 << 20);
    assert!(
        missing[0]
            .meta
            .device
            .as_deref()
            .is_some_and(|d| d.starts_with("/dev/loop"))
    );
    let db = vg.lv("db").unwrap();
    assert!(db.partial);
    assert_eq!(db.lost.len(), 1);
    assert_eq!(
        (db.lost[0].le, db.lost[0].count, db.lost[0].whole),
        (4, 4, true)
    );
    assert!(!vg.lv("root").unwrap().partial);
    // What survives reads; what is lost fails as a typed error, never zeros.
    let r = lv(vg, "db");
    assert_eq!(ext4_label(r.as_ref()).as_deref(), Some("db"));
    let mut b = [0u8; 512];
    let e = r.read_exact_at((16 << 20) + 4096, &mut b).unwrap_err();
    match e.kind {
        ReadErrorKind::Layer(m) => assert!(
            m.contains("missing PV PairBB") && m.contains("extent 4"),
            "{m}"
        ),
        k => panic!("{k:?}"),
    }
    let f: Vec<_> = vg
        .findings
        .iter()
        .filter(|l| l.finding.code == "lvm2.lv.partial")
        .collect();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].lv.as_deref(), Some("db"));
    assert_eq!(
        (f[0].finding.offset, f[0].finding.space),
        (16 << 20, Space::Volume)
    );
    assert!(
        f[0].finding.message.contains("16 MiB of 32 MiB"),
        "{}",
        f[0].finding.message
    );
    let h = f[0].finding.hint.as_ref().unwrap();
    assert!(
        !h.writes
            && h.command
                .as_deref()
                .unwrap()
                .contains("--activationmode partial")
    );
    assert!(
        vg.findings
            .iter()
            .any(|l| l.finding.code == "lvm2.pv.missing" && l.finding.message.contains("24 MiB"))
    );
    // No hint anywhere writes without saying so, and none removes the PV.
    for l in &vg.findings {
        if let Some(h) = &l.finding.hint {
            assert!(!h.command.as_deref().unwrap_or("").contains("removemissing"));
        }
    }
}

#[test]
fn the_incident_with_the_zeroed_disk_given() {
    let a_img = fx("pair-a.img");
    let z = damaged(
        "lvm2/pair-b.img",
        &[Patch::Zero {
            offset: 0,
            len: 24 << 20,
        }],
    );
    let a = asm(&[&a_img, z.path()]);
    let vg = vg(&a, "imgck_pair");
    // All zeros: nothing identifies it as the PV (no label, no metadata,
    // no data), so it stays missing rather than being guessed.
    assert_eq!(vg.missing().count(), 1);
    assert!(a.inputs[1].member_of.is_none());
    assert!(!codes(&a).contains(&"lvm2.pv.label_lost".to_string()));
}

#[test]
fn both_pvs_assemble_and_the_lv_spans_them() {
    let (pa, pb) = (fx("pair-a.img"), fx("pair-b.img"));
    let a = asm(&[&pb, &pa]);
    assert!(codes(&a).is_empty(), "{:?}", codes(&a));
    let vg = vg(&a, "imgck_pair");
    assert!(!vg.partial());
    let db = lv(vg, "db");
    assert_eq!(db.len(), 32 << 20);
    let all = read(db.as_ref(), 0, 32 << 20);
    // The database file's bytes ('D') lie on both PVs.
    assert!(all[..16 << 20].contains(&b'D') && all[16 << 20..].contains(&b'D'));
}

#[test]
fn stale_second_pv_is_named_with_both_seqnos() {
    let (pa, pb) = (fx("pair-a.img"), fx("pair-b-stale.img"));
    let a = asm(&[&pa, &pb]);
    let vg = vg(&a, "imgck_pair");
    assert_eq!(vg.metadata.seqno, 5);
    let s: Vec<_> = vg
        .findings
        .iter()
        .filter(|l| l.finding.code == "lvm2.metadata.stale")
        .collect();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].input, Some(1));
    assert!(s[0].finding.message.contains("seqno 4") && s[0].finding.message.contains("seqno 5"));
    assert!(s[0].finding.hint.as_ref().unwrap().writes);
}

#[test]
fn label_zeroed_pv_identified_by_its_metadata_area() {
    let pa = fx("pair-a.img");
    let b = damaged(
        "lvm2/pair-b.img",
        &[Patch::Zero {
            offset: 512,
            len: 512,
        }],
    );
    let a = asm(&[&pa, b.path()]);
    let vg = vg(&a, "imgck_pair");
    assert!(!vg.partial());
    assert_eq!(
        vg.pvs[1].found,
        Some((1, FoundBy::MetadataArea { at: 4096 }))
    );
    let f = vg
        .findings
        .iter()
        .find(|l| l.finding.code == "lvm2.pv.label_lost")
        .unwrap();
    assert_eq!(f.input, Some(1));
    assert!(f.finding.hint.as_ref().unwrap().writes);
    assert_eq!(lv(vg, "db").len(), 32 << 20);
    read(lv(vg, "db").as_ref(), 20 << 20, 4096);
}

#[test]
fn label_and_metadata_zeroed_pv_identified_by_its_layout() {
    let pa = fx("pair-a.img");
    let b = damaged(
        "lvm2/pair-b.img",
        &[Patch::Zero {
            offset: 0,
            len: 1 << 20,
        }],
    );
    let a = asm(&[&pa, b.path()]);
    let vg = vg(&a, "imgck_pair");
    assert_eq!(vg.pvs[1].found, Some((1, FoundBy::Layout)));
    // Same disk, but truncated: its size no longer proves anything.
    let t = damaged(
        "lvm2/pair-b.img",
        &[
            Patch::Zero {
                offset: 0,
                len: 1 << 20,
            },
            Patch::Truncate { len: 23 << 20 },
        ],
    );
    let a = asm(&[&pa, t.path()]);
    assert_eq!(vg_missing(&a), 1);
}

fn vg_missing(a: &imgcheck_lvm2::Assembly) -> usize {
    vg(a, "imgck_pair").missing().count()
}

#[test]
fn label_crc_damage_is_found_and_the_header_still_used() {
    let pa = damaged(
        "lvm2/pair-a.img",
        &[Patch::Xor {
            offset: 600,
            mask: 0x01,
        }],
    );
    let pb = fx("pair-b.img");
    let a = asm(&[pa.path(), &pb]);
    let f: Vec<_> = a
        .findings
        .iter()
        .filter(|l| l.finding.code == "lvm2.label.crc")
        .collect();
    assert_eq!(
        (f.len(), f[0].input, f[0].finding.offset),
        (1, Some(0), 512)
    );
    // 600 is in the PV header's data-area list: the header is damaged too.
    let vg = vg(&a, "imgck_pair");
    assert!(matches!(vg.pvs[0].found, Some((0, FoundBy::DamagedLabel))));
}

#[test]
fn mda_header_checksum_and_text_damage() {
    let pb = fx("pair-b.img");
    // mda header checksum
    let pa = damaged(
        "lvm2/pair-a.img",
        &[Patch::Xor {
            offset: 4096 + 200,
            mask: 0x40,
        }],
    );
    let a = asm(&[pa.path(), &pb]);
    assert!(
        codes(&a).contains(&"lvm2.mda.checksum".to_string()),
        "{:?}",
        codes(&a)
    );
    assert_eq!(
        vg(&a, "imgck_pair").metadata.seqno,
        5,
        "the other PV's copy is used"
    );
    // metadata text: a flipped byte fails the CRC
    let (at, _) = committed(&fx("pair-a.img"));
    let pa = damaged(
        "lvm2/pair-a.img",
        &[Patch::Xor {
            offset: at + 40,
            mask: 0x20,
        }],
    );
    let a = asm(&[pa.path(), &pb]);
    let f = a
        .findings
        .iter()
        .find(|l| l.finding.code == "lvm2.metadata.crc")
        .unwrap();
    assert_eq!(f.finding.offset, at);
    assert!(!vg(&a, "imgck_pair").partial());
}

#[test]
fn single_pv_with_damaged_text_falls_back_to_the_ring() {
    let (at, _) = committed(&fx("one-pv.img"));
    let p = damaged(
        "lvm2/one-pv.img",
        &[Patch::Bytes {
            offset: at + 5,
            bytes: b"{{{{".to_vec(),
        }],
    );
    let a = asm(&[p.path()]);
    let c = codes(&a);
    assert!(
        c.contains(&"lvm2.metadata.crc".into()) && c.contains(&"lvm2.metadata.parse".into()),
        "{c:?}"
    );
    let pf = a
        .findings
        .iter()
        .find(|l| l.finding.code == "lvm2.metadata.parse")
        .unwrap();
    assert!(
        pf.finding.offset >= at && pf.finding.offset < at + 4096,
        "{}",
        pf.finding
    );
    let vg = vg(&a, "imgck_one");
    assert!(vg.from_history);
    assert_eq!(vg.metadata.seqno, 4, "the newest complete older generation");
    assert!(
        vg.findings
            .iter()
            .any(|l| l.finding.code == "lvm2.metadata.none_committed")
    );
}

#[test]
fn segment_damage_with_checksums_fixed() {
    let p = fx("one-pv.img");
    // pe_count shrunk under allocated extents: past the PV's end.
    let d = rewrite_text(&p, "pe_count = 11", "pe_count = 05");
    let a = asm(&[&d.path().join("one-pv.img")]);
    assert!(
        codes(&a).contains(&"lvm2.segment.past_pv_end".into()),
        "{:?}",
        codes(&a)
    );
    // Two LVs on the same extents.
    let d = rewrite_text(&p, "stripes = [\n\"pv0\", 6", "stripes = [\n\"pv0\", 0");
    let a = asm(&[&d.path().join("one-pv.img")]);
    assert!(
        codes(&a).contains(&"lvm2.segment.overlap".into()),
        "{:?}",
        codes(&a)
    );
    // pe_count larger than the device holds.
    let d = rewrite_text(&p, "pe_count = 11", "pe_count = 99");
    let a = asm(&[&d.path().join("one-pv.img")]);
    let c = codes(&a);
    assert!(
        c.contains(&"lvm2.pv.extents_past_device".into())
            && c.contains(&"lvm2.pv.container_short".into()),
        "{c:?}"
    );
}

#[test]
fn truncated_container_is_shorter_than_the_pv() {
    let p = damaged("lvm2/one-pv.img", &[Patch::Truncate { len: 40 << 20 }]);
    let a = asm(&[p.path()]);
    let c = codes(&a);
    assert!(
        c.contains(&"lvm2.pv_header.device_size".into())
            && c.contains(&"lvm2.pv.container_short".into()),
        "{c:?}"
    );
}

#[test]
fn striped_lv_and_its_lost_stripe() {
    let (sa, sb) = (fx("stripe-a.img"), fx("stripe-b.img"));
    let a = asm(&[&sa, &sb]);
    let vg = vg(&a, "imgck_stripe");
    let s = lv(vg, "str");
    assert_eq!(ext4_label(s.as_ref()).as_deref(), Some("str"));
    assert_eq!(ext4_label(lv(vg, "lin").as_ref()).as_deref(), Some("lin"));
    // The second 64 KiB chunk lives on the second PV.
    let chunk1 = read(s.as_ref(), 64 << 10, 64 << 10);
    let on_b = read(
        &imgcheck_core::FileReader::open(&sb).unwrap(),
        1 << 20,
        64 << 10,
    );
    assert_eq!(chunk1, on_b);
    let a = asm(&[&sa]);
    let st = vg_of(&a).lv("str").unwrap().clone();
    assert_eq!(
        (st.lost[0].le, st.lost[0].count, st.lost[0].whole),
        (0, 4, false)
    );
    let r = lv(vg_of(&a), "str");
    read(r.as_ref(), 0, 64 << 10);
    assert!(r.read_exact_at(64 << 10, &mut [0u8; 16]).is_err());
}

fn vg_of(a: &imgcheck_lvm2::Assembly) -> &imgcheck_lvm2::VolumeGroup {
    &a.vgs[0]
}

#[test]
fn snapshot_reads_the_filesystem_as_it_was() {
    let p = fx("snapshot.img");
    let a = asm(&[&p]);
    assert!(codes(&a).is_empty(), "{:?}", codes(&a));
    let vg = vg(&a, "imgck_snap");
    let origin = lv(vg, "data");
    let snap = lv(vg, "data_snap");
    assert_eq!(snap.len(), origin.len());
    assert_eq!(ext4_label(snap.as_ref()).as_deref(), Some("data"));
    let (o, s) = (
        read(origin.as_ref(), 0, 12 << 20),
        read(snap.as_ref(), 0, 12 << 20),
    );
    assert_ne!(o, s, "the origin changed after the snapshot");
    let win = |b: &[u8]| b.windows(26).any(|w| w == b"changed after the snapshot");
    assert!(win(&o) && !win(&s));
    assert!(matches!(vg.open("snapshot0"), Opened::NotMapped(n) if n.why == Why::Internal));
    // An invalidated COW store: the snapshot is not mapped, and says why.
    let cow_at = 1 << 20 | ((3 * 4) << 20);
    let d = damaged("lvm2/snapshot.img", &[Patch::le32(cow_at + 4, 0)]);
    let a = asm(&[d.path()]);
    assert!(
        codes(&a).contains(&"lvm2.snapshot.cow".into()),
        "{:?}",
        codes(&a)
    );
}

#[test]
fn thin_lvs_map_through_the_pool_metadata() {
    let p = fx("thin.img");
    let a = asm(&[&p]);
    assert!(codes(&a).is_empty(), "{:?}", codes(&a));
    let vg = vg(&a, "imgck_thin");
    let t1 = lv(vg, "thin1");
    assert_eq!(ext4_label(t1.as_ref()).as_deref(), Some("thin1"));
    let t2 = lv(vg, "thin2");
    assert_eq!(&read(t2.as_ref(), 3 << 16, 13), b"thin2 chunk 3");
    assert_eq!(&read(t2.as_ref(), 40 << 16, 14), b"thin2 chunk 40");
    assert!(
        read(t2.as_ref(), 1 << 16, 65536).iter().all(|&b| b == 0),
        "unprovisioned reads as zeros"
    );
    assert!(t2.known_zero(1 << 16, 65536) && !t2.known_zero(3 << 16, 512));
    assert!(matches!(vg.open("pool"), Opened::NotMapped(n) if n.why == Why::Internal));
    // Pool metadata superblock damaged: the thin LVs are "not mapped".
    let d = damaged(
        "lvm2/thin.img",
        &[Patch::Xor {
            offset: (1 << 20) + 100,
            mask: 1,
        }],
    );
    let a = asm(&[d.path()]);
    let vg = &a.vgs[0];
    match vg.open("thin1") {
        Opened::NotMapped(n) => assert!(
            n.why == Why::Thin
                && n.message.contains("not mapped")
                && n.message.contains("checksum"),
            "{n:?}"
        ),
        o => panic!("{o:?}"),
    }
    assert!(codes(&a).contains(&"lvm2.thin.metadata".into()));
}

#[test]
fn wrapped_ring_reads_and_keeps_history() {
    let p = fx("ring.img");
    let a = asm(&[&p]);
    assert!(codes(&a).is_empty(), "{:?}", codes(&a));
    let pv = a.inputs[0].pv.as_ref().unwrap();
    let c = pv.mdas[0].committed.as_ref().unwrap();
    assert!(
        c.crc_ok && c.text.as_ref().unwrap().wrapped(),
        "the fixture's committed copy wraps"
    );
    let vg = vg(&a, "imgck_ring");
    assert!(
        vg.history.generations.len() >= 10,
        "{}",
        vg.history.generations.len()
    );
    assert!(
        vg.history.generations.len() < vg.metadata.seqno as usize,
        "the ring has overwritten the oldest"
    );
    assert!(vg.events().iter().any(|e| e.what.contains("removed")));
    assert_eq!(ext4_label(lv(vg, "keep").as_ref()).as_deref(), Some("keep"));
}

#[test]
fn ovirt_domain_lvs_hold_qcow2() {
    let p = fx("ovirt.img");
    let a = asm(&[&p]);
    let vg = vg(&a, "5a5a0000-0000-4000-8000-00000000d001");
    assert!(vg.metadata.tags.iter().any(|t| t == "RHAT_storage_domain"));
    for v in [
        "5a5a0000-0000-4000-8000-00000000b001",
        "5a5a0000-0000-4000-8000-00000000b002",
    ] {
        assert_eq!(&read(lv(vg, v).as_ref(), 0, 4), b"QFI\xfb", "{v}");
        assert!(vg.lv(v).unwrap().tags.iter().any(|t| t.starts_with("IU_")));
    }
}

#[test]
fn hostile_inputs_end_cleanly() {
    // Every byte of the label sector and mda header flipped in turn: no
    // panic, no hang.
    let p = std::fs::read(fx("one-pv.img")).unwrap();
    let mut b = p[..(2 << 20)].to_vec();
    for off in (0..1024).chain(4096..4608) {
        b[off] ^= 0xff;
        let r = imgcheck_core::BytesReader::new(b.clone());
        let _ = imgcheck_lvm2::assemble(
            &[imgcheck_lvm2::Input {
                name: "x".into(),
                reader: std::sync::Arc::new(r),
            }],
            &imgcheck_lvm2::Limits::default(),
        );
        b[off] ^= 0xff;
    }
}

#[test]
fn raid1_reads_from_the_surviving_leg() {
    let (sa, sb) = (fx("stripe-a.img"), fx("stripe-b.img"));
    let a = asm(&[&sa, &sb]);
    let whole = read(lv(vg(&a, "imgck_stripe"), "mir").as_ref(), 0, 4 << 20);
    for only in [&sa, &sb] {
        let a = asm(&[only]);
        let vg = vg(&a, "imgck_stripe");
        let st = vg.lv("mir").unwrap();
        assert!(st.partial && st.lost.is_empty(), "{st:?}");
        let f = vg
            .findings
            .iter()
            .find(|l| l.lv.as_deref() == Some("mir"))
            .unwrap();
        assert_eq!(f.finding.code, "lvm2.lv.degraded");
        let r = lv(vg, "mir");
        assert_eq!(ext4_label(r.as_ref()).as_deref(), Some("mir"));
        assert_eq!(
            read(r.as_ref(), 0, 4 << 20),
            whole,
            "either leg holds the same bytes"
        );
    }
}

#[test]
fn layer_view_for_the_adapter() {
    use imgcheck_core::{Promise, Step};
    use imgcheck_lvm2::layer;
    // The incident: the node of pair-a names the VG and the missing PV, its
    // facts claim the PV's size, and db is a child whose node carries the
    // lost extents.
    let a = asm(&[&fx("pair-a.img")]);
    assert_eq!(
        layer::title(&a, 0),
        "PV PairAA-aaaa-bbbb-cccc-dddd-eeee-000001 of VG imgck_pair (seqno 5, 1 of 2 PVs, 2 LVs, 1 PV missing)"
    );
    let f = layer::pv_facts(&a, 0);
    assert_eq!(f.claimed_size, Some(40 << 20));
    assert!(
        f.structures.iter().any(|s| s.start == 512) && f.structures.iter().any(|s| s.start == 4096)
    );
    assert!(
        layer::findings(&a, 0)
            .iter()
            .any(|f| f.code == "lvm2.pv.missing")
    );
    assert!(!layer::events(&a, 0).is_empty());
    let kids = layer::lv_children(vg(&a, "imgck_pair"));
    assert_eq!(kids.len(), 2);
    let db = kids
        .iter()
        .find(|c| c.step == Step::Volume("imgck_pair/db".into()))
        .unwrap();
    assert!(db.descend && db.reader.len() == 32 << 20);
    assert!(
        db.node
            .as_ref()
            .unwrap()
            .findings
            .iter()
            .any(|f| f.code == "lvm2.lv.partial")
    );
    // oVirt volumes promise a disk image; the pool is not a child, thin
    // LVs are, and a thin LV whose pool metadata is damaged says so.
    let a = asm(&[&fx("ovirt.img")]);
    let kids = layer::lv_children(&a.vgs[0]);
    assert_eq!(
        kids.iter()
            .filter(|c| c.expect.contents == Promise::DiskImage)
            .count(),
        2
    );
    let d = damaged(
        "lvm2/thin.img",
        &[Patch::Xor {
            offset: (1 << 20) + 100,
            mask: 1,
        }],
    );
    let a = asm(&[d.path()]);
    let kids = layer::lv_children(&a.vgs[0]);
    let names: Vec<String> = kids.iter().map(|c| c.step.to_string()).collect();
    assert_eq!(
        names,
        [
            "volume imgck_thin/pool",
            "volume imgck_thin/thin1",
            "volume imgck_thin/thin2"
        ]
    );
    let t1 = &kids[1];
    assert!(!t1.descend);
    let nf = &t1.node.as_ref().unwrap().findings;
    assert!(
        nf.iter()
            .any(|f| f.code == "lvm2.lv.not_mapped"
                && f.message.contains("thin LV thin1: not mapped")),
        "{nf:?}"
    );
}

/// Partial activation is read-only only where the kernel writes nothing
/// on activation: linear and striped VGs; a raid1, a snapshot or a thin
/// pool makes the step one for copies.
#[test]
fn activation_is_read_only_only_for_linear_and_striped_vgs() {
    use imgcheck_lvm2::hints::{activate_partial, kernel_writes};
    for (img, name, writes) in [
        ("one-pv.img", "imgck_one", false),
        ("pair-a.img", "imgck_pair", false),
        ("stripe-a.img", "imgck_stripe", true),
        ("snapshot.img", "imgck_snap", true),
        ("thin.img", "imgck_thin", true),
    ] {
        let p = fx(img);
        let a = asm(&[&p]);
        let Some(v) = a.vgs.iter().find(|v| v.name() == name) else {
            panic!(
                "no VG {name} in {img}: {:?}",
                a.vgs.iter().map(|v| v.name()).collect::<Vec<_>>()
            );
        };
        assert_eq!(kernel_writes(&v.metadata).is_some(), writes, "{img}");
        let h = activate_partial(&v.metadata);
        assert_eq!(h.writes, writes, "{img}");
        let c = h.command.unwrap();
        assert!(
            c.contains("--poll n") && c.contains("read_only_volume_list"),
            "{c}"
        );
        assert!(!c.contains("-p r") && !c.contains("--permission"), "{c}");
    }
}

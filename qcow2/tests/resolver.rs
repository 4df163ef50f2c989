//! Backing names answered by a resolver (an embedder's name → reader):
//! the chain of testdata/scripts/qcow2.sh read from memory, with no path,
//! as an LV-held chain is; a resolver's loop, a name it calls missing, and
//! a name it does not answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(clippy::arithmetic_side_effects, clippy::as_conversions, missing_docs)]

use imgcheck_core::{BytesReader, ReadAt};
use imgcheck_qcow2::{
    BackingState, Guest, Image, OpenOptions, Resolution, ResolvedBacking, Resolver,
};
use imgcheck_testdata::fixture;
use std::path::PathBuf;
use std::sync::Arc;

fn mem(name: &str) -> Arc<dyn ReadAt> {
    Arc::new(BytesReader::new(
        std::fs::read(fixture(&format!("qcow2/{name}"))).unwrap(),
    ))
}

fn found(name: &str, identity: &str) -> Option<Resolution> {
    Some(Resolution::Found(ResolvedBacking {
        reader: mem(name),
        identity: identity.into(),
        shown: PathBuf::from(format!("/dev/vg/{identity}")),
    }))
}

fn open(resolver: Resolver) -> Image {
    Image::open_with(
        mem("chain-top.qcow2"),
        None,
        &OpenOptions {
            resolver: Some(resolver),
            ..OpenOptions::default()
        },
    )
    .unwrap()
}

fn at(g: &Guest, off: u64) -> u8 {
    let mut b = [0u8; 1];
    g.read_exact_at(off, &mut b).unwrap();
    b[0]
}

#[test]
fn a_chain_without_paths_reads_through_the_resolver() {
    let img = Arc::new(open(Resolver::new(|n: &str| match n {
        "chain-mid.qcow2" => found(n, "mid"),
        "chain-base.qcow2" => found(n, "base"),
        _ => None,
    })));
    assert!(img.guest_blocked().is_none(), "{:?}", img.guest_blocked());
    let chain = img.chain();
    assert_eq!(chain.len(), 2);
    assert_eq!(chain[0].path, Some(PathBuf::from("/dev/vg/mid")));
    let g = Guest::new(Arc::clone(&img));
    // Same bytes as through the files (reader.rs): base, mid, top.
    assert_eq!(
        (
            at(&g, 0),
            at(&g, 64 << 10),
            at(&g, 128 << 10),
            at(&g, 3 << 20)
        ),
        (0x01, 0x03, 0x04, 0x02)
    );
}

#[test]
fn a_resolver_that_comes_back_to_an_identity_is_a_loop() {
    // Both names lead to the same identity: the second is the loop.
    let img = open(Resolver::new(|_: &str| found("chain-mid.qcow2", "same")));
    let chain = img.chain();
    assert!(matches!(chain[0].state, BackingState::Qcow2(_)));
    assert!(
        matches!(&chain[1].state, BackingState::Loop(p) if p == &PathBuf::from("/dev/vg/same")),
        "{:?}",
        chain[1].state
    );
    assert!(img.guest_blocked().is_some());
}

#[test]
fn missing_unreadable_and_unanswered_names() {
    let img = open(Resolver::new(|_: &str| {
        Some(Resolution::Missing("VG vg has no LV named mid".into()))
    }));
    assert!(
        matches!(&img.backing().unwrap().state, BackingState::Missing(w) if w.contains("no LV named mid"))
    );
    let img = open(Resolver::new(|_: &str| {
        Some(Resolution::Unreadable("partial LV".into()))
    }));
    assert!(matches!(
        &img.backing().unwrap().state,
        BackingState::Unreadable(_)
    ));
    // Not answered, and no path to look beside: not followed, as before.
    let img = open(Resolver::new(|_: &str| None));
    assert!(matches!(
        img.backing().unwrap().state,
        BackingState::NotFollowed
    ));
}

#[test]
fn without_follow_backing_the_resolver_is_not_asked() {
    let img = Image::open_with(
        mem("chain-top.qcow2"),
        None,
        &OpenOptions {
            follow_backing: false,
            resolver: Some(Resolver::new(|_: &str| -> Option<Resolution> {
                panic!("asked")
            })),
            ..OpenOptions::default()
        },
    )
    .unwrap();
    assert!(matches!(
        img.backing().unwrap().state,
        BackingState::NotFollowed
    ));
}

//! The one list of layers imgcheck reads, in probe order, and how a reader
//! is matched to one: every layer's probe looks, the strongest evidence
//! wins, ties go to the layer listed first. Adding a format is its crate,
//! its adapter file under `layers/`, and its line here (see the README's
//! "Adding a layer").

use imgcheck_core::{Budget, Context, Expect, Inspector, Options, Place, Probe, Promise, ReadAt};

/// One adapter per format, each an [`Inspector`] over its layer crate.
/// They hold no cross-layer checks (those read the tree, in `layout`).
// The adapters live in `src/layers/`, declared here beside the list so a
// new layer touches this one file.
#[path = "layers"]
pub mod layers {
    pub mod ext4;
    pub mod fat;
    pub mod files;
    pub mod gpt;
    pub mod lvm2;
    pub mod qcow2;
    pub mod raw;
    pub mod signature;
    pub mod xfs;
}

/// Every layer, in probe order. Containers claim image files, the
/// partition table claims whole disks, the rest claim contents (see
/// [`crate::level`]); within a level the strongest probe wins.
pub static REGISTRY: &[&dyn Inspector] = &[
    &layers::qcow2::Qcow2,
    &layers::raw::Raw,
    &layers::gpt::PartitionTable,
    &layers::lvm2::SOLO,
    &layers::ext4::Ext4,
    &layers::xfs::Xfs,
    &layers::fat::Fat,
    &layers::signature::Identified,
];

/// [`REGISTRY`] with `layer` in place of the listed layer of the same
/// name (an adapter carrying state for one run, such as the LVM2 layer
/// over a [`crate::pool::Pool`]).
pub fn replacing(layer: &dyn Inspector) -> Vec<&dyn Inspector> {
    replacing_all(&[layer])
}

/// [`REGISTRY`] with each of `layers` in place of the listed layer of the
/// same name.
pub fn replacing_all<'a>(layers: &[&'a dyn Inspector]) -> Vec<&'a dyn Inspector> {
    REGISTRY
        .iter()
        .map(|&l| {
            layers
                .iter()
                .copied()
                .find(|n| n.name() == l.name())
                .unwrap_or(l)
        })
        .collect()
}

/// The layer of `registry` whose probe has the strongest evidence for
/// `reader` (the first listed of equals), with that evidence; only the layer
/// named `only` when given (`--format`).
pub fn pick<'r>(
    registry: &[&'r dyn Inspector],
    reader: &dyn ReadAt,
    cx: &Context<'_>,
    only: Option<&str>,
) -> Option<(&'r dyn Inspector, Probe)> {
    let mut best: Option<(&'r dyn Inspector, Probe)> = None;
    for &layer in registry {
        if only.is_some_and(|o| o != layer.name()) {
            continue;
        }
        if let Some(p) = layer.probe(reader, cx)
            && best.as_ref().is_none_or(|(_, b)| p.strength > b.strength)
        {
            best = Some((layer, p));
        }
    }
    best
}

/// The container an image file would be read as (`qcow2`, `raw`), by the
/// same probes the pipeline uses.
pub fn container_of(reader: &dyn ReadAt, only: Option<&str>) -> Option<&'static str> {
    let options = Options::default();
    let expect = Expect {
        contents: Promise::DiskImage,
        type_name: None,
    };
    let place = Place::root();
    let budget = Budget::unlimited();
    let cx = Context {
        options: &options,
        expect: &expect,
        place: &place,
        budget: &budget,
        depth: 0,
    };
    pick(REGISTRY, reader, &cx, only).map(|(l, _)| l.name())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use imgcheck_core::{BytesReader, Inspected, Strength};
    use std::sync::Arc;

    struct Fixed(&'static str, Option<Strength>);

    impl Inspector for Fixed {
        fn name(&self) -> &'static str {
            self.0
        }
        fn probe(&self, _: &dyn ReadAt, _: &Context<'_>) -> Option<Probe> {
            self.1.map(|s| Probe::new(s, self.0))
        }
        fn inspect(&self, _: &Arc<dyn ReadAt>, _: &Context<'_>) -> Inspected {
            Inspected::new(self.0, "")
        }
    }

    #[test]
    fn strongest_wins_and_ties_go_to_the_first_listed() {
        let (a, b, c, d) = (
            Fixed("a", Some(Strength::Weak)),
            Fixed("b", Some(Strength::Magic)),
            Fixed("c", Some(Strength::Magic)),
            Fixed("d", None),
        );
        let list: [&dyn Inspector; 4] = [&a, &b, &c, &d];
        let r = BytesReader::new(vec![0u8; 512]);
        let (opts, expect, place, budget) = (
            Options::default(),
            Expect::default(),
            Place::root(),
            Budget::unlimited(),
        );
        let cx = Context {
            options: &opts,
            expect: &expect,
            place: &place,
            budget: &budget,
            depth: 0,
        };
        assert_eq!(pick(&list, &r, &cx, None).unwrap().0.name(), "b");
        assert_eq!(pick(&list, &r, &cx, Some("a")).unwrap().0.name(), "a");
        assert!(pick(&list, &r, &cx, Some("d")).is_none());
        assert!(pick(&list[3..], &r, &cx, None).is_none());
    }

    #[test]
    fn image_files_go_to_a_container() {
        let mut q = vec![0u8; 1024];
        q[..4].copy_from_slice(b"QFI\xfb");
        assert_eq!(container_of(&BytesReader::new(q), None), Some("qcow2"));
        // A GPT disk image is still an image file: raw holds the table.
        let mut g = vec![0u8; 4096];
        g[512..520].copy_from_slice(b"EFI PART");
        assert_eq!(
            container_of(&BytesReader::new(g.clone()), None),
            Some("raw")
        );
        assert_eq!(container_of(&BytesReader::new(g), Some("qcow2")), None);
    }
}

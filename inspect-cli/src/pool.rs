//! Physical volumes of one volume group spread over several images: every
//! image given (and every image of a directory given) is first probed for
//! PVs — the whole disk, each partition, the guest disk of a qcow2 — and
//! the VGs are assembled once from all of them, matched by UUID, before
//! any image is walked. The LVM2 layer then finds each PV it reads in this
//! pool by its image and place, so a VG whose PVs live in two images is
//! one VG, reported once, and a PV given in no image is named missing.
//!
//! The pool is built lazily, on the first PV the walk meets: a run
//! without LVM pays only for the probe it never makes.

use imgcheck_core::{FileReader, Place, ReadAt, Slice, Step};
use imgcheck_lvm2::{Assembly, Input, Limits, assemble};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// A GPT partition type (or MBR type byte) that promises a PV: such a
/// partition joins the pool even without a label, so the assembly can
/// recognise a PV whose label was destroyed.
fn lvm_type(type_id: &str) -> bool {
    type_id == imgcheck_gpt::guid::LINUX_LVM || type_id == "0x8e"
}

/// The images of one run, and the VGs assembled from the PVs in them:
/// one assembly per view — the current state, or the internal snapshot
/// `--snapshot` (or one item of `--all-snapshots`) selects — since PVs
/// seen at different points in time are not one VG.
pub struct Pool {
    items: Vec<(PathBuf, Option<String>)>,
    views: Vec<(Option<String>, OnceLock<Shared>)>,
}

/// What the pool found: the assembly over every candidate, and where each
/// candidate (input `i` of the assembly) sits — its image and its place in
/// that image's layer tree, as the walk names it.
pub struct Shared {
    /// The VGs assembled from every candidate of every image.
    pub assembly: Assembly,
    members: Vec<(PathBuf, Place)>,
    readers: Vec<Arc<dyn ReadAt>>,
}

impl Shared {
    /// The image holding input `i` of the assembly.
    pub fn image_of(&self, i: usize) -> Option<&Path> {
        self.members.get(i).map(|(p, _)| p.as_path())
    }

    /// Candidates in no VG whose size is exactly `bytes` and whose first
    /// MiB — where a PV's label and metadata area are — holds only zeros:
    /// what a PV overwritten by `dd if=/dev/zero` leaves. Their names.
    pub fn zeroed_of_size(&self, bytes: u64) -> Vec<String> {
        const HEAD: u64 = 1 << 20;
        self.assembly
            .inputs
            .iter()
            .zip(&self.readers)
            .filter(|(st, r)| {
                st.pv.is_none()
                    && st.member_of.is_none()
                    && r.len() == bytes
                    && imgcheck_core::read_vec(r.as_ref(), 0, HEAD.min(bytes), HEAD)
                        .is_ok_and(|b| imgcheck_core::bytes::is_zero(&b))
            })
            .map(|(st, _)| st.name.clone())
            .collect()
    }
}

impl Pool {
    /// A pool over `paths` (image files, in the order given), each read
    /// in its current state; nothing is read until [`Pool::member`] is
    /// first asked.
    pub fn new(paths: Vec<PathBuf>) -> Pool {
        Pool::with_snapshots(paths.into_iter().map(|p| (p, None)).collect())
    }

    /// A pool over image files each read as of the qcow2 internal
    /// snapshot given with it (`None`: the current state).
    pub fn with_snapshots(items: Vec<(PathBuf, Option<String>)>) -> Pool {
        let mut views: Vec<(Option<String>, OnceLock<Shared>)> = Vec::new();
        for (_, s) in &items {
            if !views.iter().any(|(v, _)| v == s) {
                views.push((s.clone(), OnceLock::new()));
            }
        }
        Pool { items, views }
    }

    /// Whether an assembly has been built (some PV of the run was met).
    pub fn built(&self) -> bool {
        self.views.iter().any(|(_, v)| v.get().is_some())
    }

    /// The assembly of the view `snapshot` selects, built on first use
    /// (`build`), else only when already built.
    fn view(&self, snapshot: Option<&str>, build: bool) -> Option<&Shared> {
        let (key, cell) = self.views.iter().find(|(v, _)| v.as_deref() == snapshot)?;
        if build {
            Some(cell.get_or_init(|| {
                build_view(
                    self.items
                        .iter()
                        .filter(|(_, s)| s == key)
                        .map(|(p, _)| p.as_path()),
                    key.as_deref(),
                )
            }))
        } else {
            cell.get()
        }
    }

    /// The assembly and the input index of the candidate the walk reads
    /// at `place` in image `origin` seen as of `snapshot`, when the pool
    /// holds it. With `build` false, only a pool already built answers: a
    /// probe of a reader without a PV label must not make a run without
    /// LVM read every image's tables.
    pub fn member(
        &self,
        origin: &Path,
        snapshot: Option<&str>,
        place: &Place,
        build: bool,
    ) -> Option<(&Shared, usize)> {
        // A path the pool was not built from (an embedder's own reader)
        // must not make the pool read every image.
        if !self
            .items
            .iter()
            .any(|(p, s)| p == origin && s.as_deref() == snapshot)
        {
            return None;
        }
        let s = self.view(snapshot, build)?;
        let i = s
            .members
            .iter()
            .position(|(p, pl)| p == origin && pl == place)?;
        Some((s, i))
    }
}

/// The layers that read through one run's pool: the LVM2 layer (VGs
/// assembled from every image) and the qcow2 layer (backing names that
/// name LVs of those VGs), in a registry for the pipeline.
pub struct PooledLayers {
    lvm2: crate::layers::lvm2::Lvm2,
    qcow2: crate::layers::qcow2::PooledQcow2,
}

impl PooledLayers {
    /// The pooled layers over `pool`.
    pub fn new(pool: Arc<Pool>) -> PooledLayers {
        PooledLayers {
            lvm2: crate::layers::lvm2::Lvm2::pooled(Arc::clone(&pool)),
            qcow2: crate::layers::qcow2::PooledQcow2::new(pool),
        }
    }

    /// [`crate::registry::REGISTRY`] with the pooled layers in place.
    pub fn registry(&self) -> Vec<&dyn imgcheck_core::Inspector> {
        crate::registry::replacing_all(&[&self.lvm2, &self.qcow2])
    }
}

fn build_view<'a>(paths: impl Iterator<Item = &'a Path>, snapshot: Option<&str>) -> Shared {
    let mut inputs = Vec::new();
    let mut members = Vec::new();
    let mut readers = Vec::new();
    // In path order, never the order given: which VG is found first,
    // which PV's image reports a VG and every input index in the JSON
    // are then the same however the images are listed (an attack saw the
    // order change how a backing name resolved).
    let mut paths: Vec<&Path> = paths.collect();
    paths.sort();
    paths.dedup();
    for path in paths {
        for (place, reader) in candidates(path, snapshot) {
            if inputs.len() >= imgcheck_lvm2::assemble::MAX_INPUTS {
                break;
            }
            let name = if place.0.is_empty() {
                path.display().to_string()
            } else {
                format!("{} {place}", path.display())
            };
            readers.push(Arc::clone(&reader));
            inputs.push(Input { name, reader });
            members.push((path.to_path_buf(), place));
        }
    }
    Shared {
        assembly: assemble(&inputs, &Limits::default()),
        members,
        readers,
    }
}

/// The readers in image `path` (as of `snapshot`) that may be PVs, with
/// their places as the walk names them: the whole disk when it has a PV
/// label; else each partition with a label or an LVM type; else, with no
/// partition table, each partition the signature scan finds holding a PV
/// (as the partition-table layer hands them to the walk), or the whole
/// disk when nothing recognisable is at its start (a PV whose label was
/// destroyed).
fn candidates(path: &Path, snapshot: Option<&str>) -> Vec<(Place, Arc<dyn ReadAt>)> {
    let Some((root, disk)) = disk_of(path, snapshot) else {
        return Vec::new();
    };
    if imgcheck_lvm2::probe(disk.as_ref()).is_some() {
        return vec![(root, disk)];
    }
    // The tables first, without the scan; the scan (as bounded as the
    // walk's) only for a disk with no partition in any table.
    let a = imgcheck_gpt::analyze_with(
        disk.as_ref(),
        &imgcheck_gpt::ScanLimits {
            max_probes: 0,
            time: std::time::Duration::ZERO,
        },
    );
    let parts: Vec<(u32, u64, u64, bool)> = a
        .partitions
        .iter()
        .map(|p| (p.number, p.start, p.size, lvm_type(&p.type_id)))
        .collect();
    let slice = |start: u64, size: u64| -> Arc<dyn ReadAt> {
        Arc::new(Slice::clamped(Arc::clone(&disk), start, size))
    };
    if parts.is_empty() {
        let scanned = imgcheck_gpt::analyze(disk.as_ref());
        let found: Vec<(Place, Arc<dyn ReadAt>)> = scanned
            .recovery
            .iter()
            .flat_map(|r| &r.proposed)
            .filter(|_| scanned.partitions.is_empty())
            .take(crate::limits::MAX_CHILDREN)
            .map(|p| (root.join(Step::Partition(p.number)), slice(p.start, p.size)))
            .filter(|(_, r)| imgcheck_lvm2::probe(r.as_ref()).is_some())
            .collect();
        if !found.is_empty() {
            return found;
        }
        if imgcheck_gpt::identify(disk.as_ref()).is_none() {
            return vec![(root, disk)];
        }
        return Vec::new();
    }
    let mut out = Vec::new();
    for (n, start, size, lvm) in parts.into_iter().take(crate::limits::MAX_CHILDREN) {
        let r = slice(start, size);
        if lvm || imgcheck_lvm2::probe(r.as_ref()).is_some() {
            out.push((root.join(Step::Partition(n)), r));
        }
    }
    out
}

/// The disk an image file holds, as the container layers hand it out,
/// with the place the walk gives it: the file itself, or a qcow2 image's
/// guest disk — its current state, or as of `snapshot` (under that
/// snapshot's step).
fn disk_of(path: &Path, snapshot: Option<&str>) -> Option<(Place, Arc<dyn ReadAt>)> {
    let file: Arc<dyn ReadAt> = Arc::new(FileReader::open(path).ok()?);
    let mut magic = [0u8; 4];
    if file.read_exact_at(0, &mut magic).is_ok()
        && u32::from_be_bytes(magic) == imgcheck_qcow2::QCOW2_MAGIC
    {
        let image = Arc::new(
            imgcheck_qcow2::Image::open_with(
                file,
                Some(path),
                &imgcheck_qcow2::OpenOptions::default(),
            )
            .ok()?,
        );
        return Some(match snapshot {
            None => {
                let g: Arc<dyn ReadAt> = Arc::new(imgcheck_qcow2::Guest::new(image));
                (Place::root(), g)
            }
            Some(s) => {
                let found = image.lookup_snapshot(s).ok()?.found;
                let (step, index) = (Step::Snapshot(found.label()), found.index);
                let g = imgcheck_qcow2::Guest::snapshot_at(Arc::clone(&image), index).ok()?;
                let g: Arc<dyn ReadAt> = Arc::new(g);
                (Place::root().join(step), g)
            }
        });
    }
    Some((Place::root(), file))
}

/// How a qcow2 image reads its backing files when it lives in an LV of a
/// VG of this pool, or names one: oVirt block storage domains write a
/// volume's parent as `../<image>/<volume>` (or the bare volume UUID),
/// which vdsm links to `/dev/<vg>/<volume>`; libvirt LVM pools and
/// hand-made chains name `/dev/<vg>/<lv>` or `/dev/mapper/<vg>-<lv>`.
/// Such names resolve to the LVs of the VG assembled from the images
/// given; any other name is looked up on the file system as before.
/// `place` is where the qcow2 image is in the walk of image `origin`.
pub fn backing_resolver(
    pool: &Arc<Pool>,
    origin: Option<&Path>,
    snapshot: Option<&str>,
    place: &Place,
) -> imgcheck_qcow2::Resolver {
    // The VG whose LV holds the image: by the PV the walk read it under
    // when the pool holds that PV, else by name.
    let home = place.0.iter().rposition(|s| matches!(s, Step::Volume(_)));
    let within = home.and_then(|k| {
        let Some(Step::Volume(v)) = place.0.get(k) else {
            return None;
        };
        let (vg, lv) = v.split_once('/')?;
        let parent = Place(place.0.get(..k)?.to_vec());
        let index = origin
            .and_then(|o| pool.member(o, snapshot, &parent, false))
            .and_then(|(s, i)| s.assembly.inputs.get(i)?.member_of.as_ref().map(|m| m.0));
        Some((vg.to_string(), lv.to_string(), index))
    });
    let pool = Arc::clone(pool);
    let snapshot = snapshot.map(str::to_string);
    imgcheck_qcow2::Resolver::new(move |name: &str| {
        let (vg_named, lv) = lv_named(name)?;
        // A relative name of an image that is no LV's: a file.
        if vg_named.is_none() && within.is_none() {
            return None;
        }
        // Built here when no PV has built it yet: a qcow2 file given
        // before the PV images of the VG it names must resolve as it does
        // after them (an attack found the order of arguments mattered).
        let s = pool.view(snapshot.as_deref(), true)?;
        let vg = match (&vg_named, &within) {
            (Some(vg), _) => match by_name(s, vg) {
                Ok(Some(g)) => g,
                Ok(None) => return None,
                Err(why) => return Some(imgcheck_qcow2::Resolution::Unreadable(why)),
            },
            // The image's own VG, by identity (the PV it was read under).
            (None, Some((vg, own, index))) => {
                match index
                    .and_then(|i| s.assembly.vgs.get(i))
                    .filter(|g| g.name() == vg && g.lv(own).is_some())
                {
                    Some(g) => g,
                    None => match by_name(s, vg) {
                        Ok(Some(g)) => g,
                        Ok(None) => return None,
                        Err(why) => return Some(imgcheck_qcow2::Resolution::Unreadable(why)),
                    },
                }
            }
            (None, None) => return None,
        };
        Some(resolve_lv(vg, &lv))
    })
}

/// The one VG named `name` in the assembly; `Err` naming every VG of
/// that name (by UUID and image) when there are several: lvm itself
/// refuses the name ("Multiple VGs found with the same name") and a host
/// opens whichever VG was activated, so no pick here is safe.
fn by_name<'a>(
    s: &'a Shared,
    name: &str,
) -> Result<Option<&'a imgcheck_lvm2::VolumeGroup>, String> {
    let named: Vec<&imgcheck_lvm2::VolumeGroup> =
        s.assembly.vgs.iter().filter(|g| g.name() == name).collect();
    match named.as_slice() {
        [] => Ok(None),
        [g] => Ok(Some(g)),
        many => {
            let list: Vec<String> = many
                .iter()
                .map(|g| {
                    let on: Vec<String> = g
                        .pvs
                        .iter()
                        .filter_map(|p| p.found.as_ref())
                        .filter_map(|(i, _)| s.assembly.inputs.get(*i).map(|x| x.name.clone()))
                        .collect();
                    format!("VG UUID {} on {}", g.metadata.id, on.join(", "))
                })
                .collect();
            Err(format!(
                "the name is ambiguous: {} VGs are named {name} ({}); lvm says \"Multiple VGs found with the same name\" and refuses the name, so which LV a host opened depends on which VG it activated. Name the VG by UUID (vgs -o +vg_uuid; --select vg_uuid=...) to tell them apart",
                many.len(),
                list.join("; ")
            ))
        }
    }
}

/// The LV `lv` of `vg` as a backing image.
fn resolve_lv(vg: &imgcheck_lvm2::VolumeGroup, lv: &str) -> imgcheck_qcow2::Resolution {
    use imgcheck_qcow2::{Resolution, ResolvedBacking};
    let shown = PathBuf::from(format!("/dev/{}/{lv}", vg.name()));
    let Some(state) = vg.lv(lv) else {
        return Resolution::Missing(format!(
            "VG {} (assembled from the images given) has no LV named {lv}",
            vg.name()
        ));
    };
    match vg.open(lv) {
        imgcheck_lvm2::Opened::Mapped(reader) => Resolution::Found(ResolvedBacking {
            reader,
            identity: format!("lvm2:{}/{}", vg.metadata.id, state.id),
            shown,
        }),
        imgcheck_lvm2::Opened::NotMapped(n) => {
            Resolution::Unreadable(format!("{} cannot be read: {}", shown.display(), n.message))
        }
    }
}

/// The LV a backing name names: `(Some(vg), lv)` for `/dev/<vg>/<lv>`,
/// `/dev/mapper/<vg>-<lv>` and vdsm's
/// `/rhev/data-center/…/<sd>/images/<image>/<volume>`; `(None, lv)` for
/// a relative `../<image>/<volume>` or a bare `<volume>` (an LV of the
/// image's own VG). Names with other shapes are files.
fn lv_named(name: &str) -> Option<(Option<String>, String)> {
    let parts: Vec<&str> = name.split('/').collect();
    let ok = |s: &&str| !s.is_empty() && *s != "." && *s != "..";
    match parts.as_slice() {
        ["", "dev", "mapper", dm] => {
            let (vg, lv) = split_dm_name(dm)?;
            Some((Some(vg), lv))
        }
        ["", "dev", vg, lv] if ok(vg) && ok(lv) => Some((Some((*vg).into()), (*lv).into())),
        ["", .., sd, "images", img, vol] if ok(sd) && ok(img) && ok(vol) => {
            Some((Some((*sd).into()), (*vol).into()))
        }
        ["..", img, vol] if ok(img) && ok(vol) => Some((None, (*vol).into())),
        [vol] if ok(vol) => Some((None, (*vol).into())),
        _ => None,
    }
}

/// A device-mapper name `<vg>-<lv>` with lvm's escaping (`-` in either
/// name doubled).
fn split_dm_name(dm: &str) -> Option<(String, String)> {
    let b = dm.as_bytes();
    let mut i = 0usize;
    while let Some(&c) = b.get(i) {
        if c == b'-' {
            if b.get(i.saturating_add(1)) == Some(&b'-') {
                i = i.saturating_add(2);
                continue;
            }
            let (vg, lv) = (dm.get(..i)?, dm.get(i.saturating_add(1)..)?);
            if vg.is_empty() || lv.is_empty() {
                return None;
            }
            return Some((vg.replace("--", "-"), lv.replace("--", "-")));
        }
        i = i.saturating_add(1);
    }
    None
}

#[cfg(test)]
mod backing_tests {
    use super::*;

    #[test]
    fn backing_names_that_name_an_lv() {
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            lv_named("../img-1/vol-2"),
            Some((None, "vol-2".to_string()))
        );
        assert_eq!(lv_named("vol-2"), Some((None, "vol-2".to_string())));
        assert_eq!(lv_named("/dev/vg0/root"), Some((s("vg0"), "root".into())));
        assert_eq!(
            lv_named("/dev/mapper/my--vg-my--lv"),
            Some((s("my-vg"), "my-lv".into()))
        );
        assert_eq!(
            lv_named("/rhev/data-center/mnt/blockSD/sd-1/images/img-1/vol-2"),
            Some((s("sd-1"), "vol-2".into()))
        );
        // Paths of files stay files.
        assert_eq!(lv_named("/var/lib/libvirt/images/base.qcow2"), None);
        assert_eq!(lv_named("sub/dir/base.qcow2"), None);
        assert_eq!(lv_named("../"), None);
        assert_eq!(lv_named(".."), None);
        assert_eq!(lv_named("/dev/mapper/nodash"), None);
    }
}

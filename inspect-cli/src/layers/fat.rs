//! FAT12/16/32 as an [`Inspector`]: an ESP, a FAT partition or a bare FAT
//! image is checked in the spirit of `fsck.fat -n`, not only identified.
//! The node's title, facts and timeline come ready-made from the crate
//! (`imgcheck_fat::layer`); the boot files the boot chain asks about are
//! looked up here through the crate's file API and handed on as facts.

use crate::level::{self, Level};
use imgcheck_core::{
    BootFile, Context, Inspected, Inspector, OwnerKind, OwnerMap, OwnerMapBuilder, Probe, ReadAt,
    boot_paths,
};
use imgcheck_fat::{MapLimits, Options, Root, Volume};
use std::collections::HashMap;
use std::sync::Arc;

/// The FAT layer.
pub struct Fat;

impl Inspector for Fat {
    fn name(&self) -> &'static str {
        "fat"
    }

    /// A consistent BPB is a filesystem (`Structure`); one with odd fields
    /// (no jump, no `55 AA`, cut short) is still FAT's to check and say
    /// what is odd; only a FAT32 backup boot sector behind a lost sector 0
    /// is `Weak`, so a table or another filesystem written over the start
    /// wins and the backup is read only when nothing else claims it.
    fn probe(&self, r: &dyn ReadAt, cx: &Context<'_>) -> Option<Probe> {
        if level::of(cx) != Level::Contents {
            return None;
        }
        imgcheck_fat::probe(r)
    }

    fn inspect(&self, r: &Arc<dyn ReadAt>, cx: &Context<'_>) -> Inspected {
        let report = imgcheck_fat::check(
            r.as_ref(),
            &Options {
                depth: cx.options.depth,
            },
        );
        let Some(s) = report.summary else {
            let mut node = Inspected::new("fat", "no usable boot sector");
            node.findings = report.findings;
            return node;
        };
        let mut node = Inspected::new("fat", imgcheck_fat::layer::title(&s));
        node.findings = report.findings;
        node.details = serde_json::to_value(&s).unwrap_or(serde_json::Value::Null);
        node.events = imgcheck_fat::layer::events(&s);
        node.facts = imgcheck_fat::layer::facts(&s);
        if node.facts.superblock.is_some_and(|b| b.backup) {
            node.facts.overwritten_by =
                imgcheck_gpt::image_signature(r.as_ref()).map(str::to_string);
        }
        node.facts.boot_files = boot_files(r.as_ref());
        node.facts.files = Some(super::files::fat(
            r,
            s.volume_id_text.clone(),
            s.label.clone(),
        ));
        if cx.options.depth == imgcheck_core::Depth::Full
            && let Ok(vol) = Volume::open(r.as_ref())
        {
            node.facts.owners = Some(Arc::new(owner_map(&vol, &s.lost_chains)));
        }
        if let Ok(vol) = Volume::open(r.as_ref())
            && !root_may_hold_entries(&vol)
        {
            // An empty fixed root directory is zeros by nature: the zero
            // map must not call it destroyed.
            node.facts
                .structures
                .retain(|x| x.name != "FAT root directory");
        }
        node
    }
}

/// The reverse map of a FAT volume, from the crate's walk of every
/// cluster chain reached from the root: each file's extents (cut to its
/// size) as file data, each subdirectory's first cluster as a directory
/// block (it holds `.` and `..`, so it is never all zeros; later clusters
/// may be, past the end-of-directory entry, and are held by it as
/// metadata whose zeros prove nothing). Files are
/// numbered in walk order from 3 (the root is 2), and named by their
/// directory's number and their own name.
///
/// Chains allocated in the FAT that no entry reaches (`lost`) are the
/// data of entries that were lost: a zeroed directory cluster leaves its
/// files' chains so. Each is a file no directory names (unattached),
/// called `<lost chain from cluster N>` under the root, since its name
/// went with its entry (`<` is in no FAT name).
fn owner_map<R: ReadAt>(vol: &Volume<R>, lost: &[imgcheck_fat::LostChain]) -> OwnerMap {
    let g = vol.geometry();
    let cluster = u64::from(g.cluster_size).max(1);
    let mut b = OwnerMapBuilder::new(cluster);
    let map = vol.file_map(&MapLimits::default());
    let mut ids: HashMap<&str, u32> = HashMap::new();
    for (i, f) in (3u32..).zip(&map.files) {
        ids.insert(f.path.as_str(), i);
        let (parent, name) = match f.path.rsplit_once('/') {
            Some(("", n)) => (2, n),
            Some((p, n)) => (ids.get(p).copied().unwrap_or(0), n),
            None => (2, f.path.as_str()),
        };
        b.name(i, parent, name.as_bytes());
        let mut logical = 0u64;
        for x in &f.extents {
            // The chain is cut at the file's size; its last cluster is the
            // file's whole (the map cuts content at the size itself).
            let (mut at, mut len) = (x.start, x.len.div_ceil(cluster).saturating_mul(cluster));
            if f.is_dir && logical == 0 {
                let first = len.min(cluster);
                b.push(OwnerKind::Directory, i, at, first, 0);
                (at, len, logical) = (at.saturating_add(first), len.saturating_sub(first), first);
            }
            // A directory's later clusters are zeros past its end entry
            // by nature: held (not free), but no evidence of a loss.
            let kind = if f.is_dir {
                OwnerKind::OtherMetadata
            } else {
                OwnerKind::FileData
            };
            b.push(kind, i, at, len, logical);
            logical = logical.saturating_add(len);
        }
        if !f.is_dir {
            b.size(i, u64::from(f.size));
        } else {
            b.directory(i);
        }
    }
    let next = 3u32.saturating_add(u32::try_from(map.files.len()).unwrap_or(u32::MAX));
    for (i, c) in (next..).zip(lost) {
        b.name(
            i,
            2,
            format!("<lost chain from cluster {}>", c.first_cluster).as_bytes(),
        );
        let mut logical = 0u64;
        for x in &c.extents {
            b.push(OwnerKind::FileData, i, x.start, x.len, logical);
            logical = logical.saturating_add(x.len);
        }
        b.size(i, u64::from(c.clusters).saturating_mul(cluster));
        b.unattached(i);
    }
    if map.incomplete {
        b.partial("more files than the FAT walk maps: later files are not mapped");
    }
    b.finish()
}

/// Whether a fixed (FAT12/16) root directory that reads as zeros would
/// mean it was destroyed: only when the FAT has clusters in use, which
/// some entry must have referenced. An empty volume's root is zeros.
fn root_may_hold_entries<R: ReadAt>(vol: &Volume<R>) -> bool {
    let g = vol.geometry();
    if !matches!(g.root, Root::Fixed { .. }) {
        return true;
    }
    let last = g.clusters.saturating_add(2);
    (2..last).any(|c| vol.fat().value(c) != 0)
}

/// The boot paths core names, as this volume holds them: the removable
/// paths, and the vendor loaders under each `\EFI\<vendor>\` (the first
/// [`boot_paths::MAX_VENDOR_DIRS`]): present or not, their size, their
/// first bytes (a loader's PE header) and whether their chain reads whole.
fn boot_files(r: &dyn ReadAt) -> Vec<BootFile> {
    let Ok(vol) = Volume::open(r) else {
        return Vec::new();
    };
    let mut paths: Vec<String> = std::iter::once(boot_paths::REMOVABLE_X64)
        .chain(boot_paths::REMOVABLE_OTHER.iter().copied())
        .map(str::to_string)
        .collect();
    let mut out = Vec::new();
    let efi = vol.lookup(boot_paths::EFI_DIR);
    out.push(match &efi {
        Ok(Some(e)) => BootFile {
            path: boot_paths::EFI_DIR.to_string(),
            present: true,
            dir: e.is_dir(),
            ..BootFile::default()
        },
        Ok(None) => BootFile::absent(boot_paths::EFI_DIR),
        Err(err) => BootFile::unreadable(boot_paths::EFI_DIR, &err.to_string()),
    });
    if let Ok(Some(efi)) = &efi
        && efi.is_dir()
        && let Ok(vendors) = vol.read_dir(efi)
    {
        for v in vendors
            .iter()
            .filter(|v| v.is_dir() && !v.name.eq_ignore_ascii_case("BOOT"))
            .take(boot_paths::MAX_VENDOR_DIRS)
        {
            for l in boot_paths::VENDOR_LOADERS {
                paths.push(format!(r"\EFI\{}\{l}", v.name));
            }
        }
    }
    for path in &paths {
        let f = match vol.lookup(path) {
            Ok(None) => BootFile::absent(path),
            Ok(Some(e)) if e.is_dir() => BootFile::unreadable(path, "a directory, not a file"),
            Ok(Some(e)) => match vol.read(&e, boot_paths::HEAD_BYTES) {
                Ok(head) => {
                    // The whole chain, not only the head: a loader whose
                    // chain ends early loads as garbage or not at all.
                    let ch = vol.chain(&e);
                    BootFile {
                        path: path.clone(),
                        present: true,
                        dir: false,
                        size: Some(u64::from(e.size)),
                        head,
                        data_at: ch.extents.first().map(|x| x.start),
                        problem: (ch.bytes < u64::from(e.size)).then(|| {
                            format!(
                                "its cluster chain covers {} of its {} bytes: {}",
                                ch.bytes, e.size, ch.end
                            )
                        }),
                    }
                }
                Err(err) => BootFile::unreadable(path, &err.to_string()),
            },
            Err(err) => BootFile::unreadable(path, &err.to_string()),
        };
        // Only the x86-64 removable path is kept when absent: the other
        // paths are alternatives, their absence says nothing.
        if f.present || path == boot_paths::REMOVABLE_X64 {
            out.push(f);
        }
    }
    out
}

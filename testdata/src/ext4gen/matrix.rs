//! The clean matrix: filesystems over mkfs.ext4's option space, each built
//! by mke2fs (and debugfs, e2fsck -fD where a spec asks) and then verified
//! clean by `e2fsck -fn`.

use super::Rng;
use super::tools::{self, Verdict};
use super::tree::Tree;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// One filesystem to make.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Unique, and says what it is: `m042 ext4 -b 1024 -O ^64bit,bigalloc … tree=…`.
    pub name: String,
    /// ext2, ext3 or ext4 (`mke2fs -t`).
    pub fs_type: &'static str,
    /// Image size in MiB.
    pub size_mib: u64,
    /// Block size.
    pub block_size: u64,
    /// mke2fs arguments besides -t, -b, -q, -F, -U, -E hash_seed and -d.
    pub args: Vec<String>,
    /// Extra `-E` options.
    pub ext_opts: Vec<String>,
    /// What it holds.
    pub tree: Tree,
    /// Index every directory with `e2fsck -fyD` after mkfs (htrees).
    pub index_dirs: bool,
}

impl Spec {
    fn new(i: usize, fs_type: &'static str, bs: u64, size_mib: u64) -> Spec {
        Spec {
            name: format!("m{i:03}"),
            fs_type,
            size_mib,
            block_size: bs,
            args: Vec::new(),
            ext_opts: Vec::new(),
            tree: Tree::default(),
            index_dirs: false,
        }
    }

    fn features(mut self, f: &str) -> Spec {
        if !f.is_empty() {
            self.args.push("-O".into());
            self.args.push(f.into());
        }
        self
    }

    fn arg(mut self, a: &str, v: &str) -> Spec {
        self.args.push(a.into());
        if !v.is_empty() {
            self.args.push(v.into());
        }
        self
    }

    fn tree(mut self, t: Tree) -> Spec {
        self.tree = t;
        self
    }

    /// The label shown in reports.
    pub fn label(&self) -> String {
        let mut s = format!(
            "{} {} {}M -b {}",
            self.name, self.fs_type, self.size_mib, self.block_size
        );
        for a in &self.args {
            s.push(' ');
            s.push_str(a);
        }
        if !self.ext_opts.is_empty() {
            s.push_str(" -E ");
            s.push_str(&self.ext_opts.join(","));
        }
        s.push_str(" tree=");
        s.push_str(&self.tree.describe());
        if self.index_dirs {
            s.push_str(" +e2fsck-fD");
        }
        s
    }
}

fn basic() -> Tree {
    Tree {
        basic: true,
        ..Tree::default()
    }
}

fn rich() -> Tree {
    Tree {
        basic: true,
        hardlinks: true,
        sparse: true,
        xattrs: true,
        symlinks: true,
        deep: true,
        wide: 600,
        small_files: 80,
        specials: true,
        ..Tree::default()
    }
}

/// ext4 features a random spec may toggle, with what they need.
const EXT4_TOGGLES: &[&str] = &[
    "^has_journal",
    "bigalloc",
    "meta_bg,^resize_inode",
    "inline_data",
    "^64bit",
    "64bit",
    "^huge_file",
    "quota",
    "quota,project",
    "orphan_file",
    "casefold",
    "encrypt",
    "^metadata_csum",
    "^metadata_csum,uninit_bg",
    "metadata_csum_seed",
    "sparse_super2",
    "^sparse_super,^resize_inode",
    "^dir_index",
    "^filetype",
    "large_dir",
    "ea_inode",
    "mmp",
    "^dir_nlink",
    "^extra_isize",
    "stable_inodes",
    "verity",
    "fast_commit",
    "^flex_bg",
    "^resize_inode",
    "^ext_attr",
    "^extent,^64bit",
];

/// Features an ext2/ext3 spec may toggle.
const OLD_TOGGLES: &[&str] = &[
    "^dir_index",
    "^filetype",
    "^sparse_super,^resize_inode",
    "^resize_inode",
    "meta_bg,^resize_inode",
    "^ext_attr",
    "uninit_bg",
    "sparse_super2",
    "large_file",
    "huge_file",
    "dir_nlink",
];

/// The matrix: fixed specs that give every option a filesystem of its own,
/// then random combinations from `seed` up to `n` specs in all.
pub fn specs(n: usize, seed: u64) -> Vec<Spec> {
    let mut v: Vec<Spec> = Vec::new();
    let mut i = 0usize;
    let push = |v: &mut Vec<Spec>, s: Spec| {
        v.push(s);
    };
    // Each filesystem type at each block size.
    for t in ["ext2", "ext3", "ext4"] {
        for bs in [1024u64, 2048, 4096, 65536] {
            let size = if bs == 65536 { 256 } else { 32 };
            push(&mut v, Spec::new(i, t, bs, size).tree(rich()));
            i += 1;
        }
    }
    // Every ext4 toggle alone, at 1 KiB and 4 KiB blocks.
    for f in EXT4_TOGGLES {
        for bs in [1024u64, 4096] {
            let mut t = rich();
            t.ea_inodes = f.contains("ea_inode");
            t.unicode = f.contains("casefold");
            let mut s = Spec::new(i, "ext4", bs, 32).features(f).tree(t);
            if f.contains("bigalloc") {
                s = s
                    .arg("-C", &format!("{}", bs * 16))
                    .features("^resize_inode");
            }
            if f.contains("casefold") || f.contains("large_dir") {
                s.index_dirs = true;
            }
            push(&mut v, s);
            i += 1;
        }
    }
    for t in ["ext2", "ext3"] {
        for f in OLD_TOGGLES {
            push(&mut v, Spec::new(i, t, 1024, 16).features(f).tree(rich()));
            i += 1;
        }
    }
    // Usage types, inode counts and sizes, flex_bg sizes, groups, clusters.
    for ty in [
        "small",
        "floppy",
        "default",
        "largefile",
        "largefile4",
        "huge",
        "news",
    ] {
        push(
            &mut v,
            Spec::new(i, "ext4", 4096, 128).arg("-T", ty).tree(basic()),
        );
        i += 1;
    }
    for nodes in ["64", "16384", "65536"] {
        push(
            &mut v,
            Spec::new(i, "ext4", 1024, 32).arg("-N", nodes).tree(rich()),
        );
        i += 1;
    }
    for isz in ["128", "256", "512", "1024"] {
        push(
            &mut v,
            Spec::new(i, "ext4", 4096, 32).arg("-I", isz).tree(rich()),
        );
        i += 1;
    }
    for g in ["1", "2", "4", "16", "64", "256"] {
        push(
            &mut v,
            Spec::new(i, "ext4", 1024, 64)
                .arg("-G", g)
                .arg("-g", "1024")
                .tree(basic()),
        );
        i += 1;
    }
    for (bs, c) in [
        (1024u64, "4096"),
        (4096, "16384"),
        (4096, "65536"),
        (4096, "262144"),
    ] {
        push(
            &mut v,
            Spec::new(i, "ext4", bs, 64)
                .features("bigalloc,^resize_inode")
                .arg("-C", c)
                .tree(rich()),
        );
        i += 1;
    }
    // Old revision, Hurd, htrees.
    push(
        &mut v,
        Spec::new(i, "ext2", 1024, 8).arg("-r", "0").tree(basic()),
    );
    i += 1;
    push(
        &mut v,
        Spec::new(i, "ext2", 4096, 16)
            .arg("-o", "hurd")
            .tree(basic()),
    );
    i += 1;
    for (bs, wide) in [(1024u64, 4000u32), (4096, 3000), (2048, 1500)] {
        let mut s = Spec::new(i, "ext4", bs, 64).tree(Tree { wide, ..basic() });
        s.index_dirs = true;
        push(&mut v, s);
        i += 1;
    }
    // Random combinations.
    let mut rng = Rng::new(seed);
    while v.len() < n {
        let r = rng.below(100);
        let fs_type = if r < 70 {
            "ext4"
        } else if r < 85 {
            "ext3"
        } else {
            "ext2"
        };
        let bs = [1024u64, 2048, 4096, 4096, 65536][usize::try_from(rng.below(5)).unwrap()];
        let size = if bs == 65536 {
            256
        } else {
            [16u64, 32, 64, 128][usize::try_from(rng.below(4)).unwrap()]
        };
        let mut s = Spec::new(i, fs_type, bs, size);
        i += 1;
        let toggles = if fs_type == "ext4" {
            EXT4_TOGGLES
        } else {
            OLD_TOGGLES
        };
        let mut feats: Vec<&str> = Vec::new();
        for f in toggles {
            if rng.below(100) < 12 {
                feats.push(f);
            }
        }
        let bigalloc = feats.iter().any(|f| f.contains("bigalloc"));
        if bigalloc {
            if feats.iter().any(|f| f.contains("^extent")) || bs == 65536 {
                feats.retain(|f| !f.contains("bigalloc"));
            } else {
                feats.push("^resize_inode");
                s = s.arg("-C", &format!("{}", bs * (1 << (2 + rng.below(4)))));
            }
        }
        // What mke2fs refuses outright.
        if feats.iter().any(|f| f.contains("^metadata_csum")) {
            feats.retain(|f| *f != "metadata_csum_seed");
        }
        if feats.iter().any(|f| f.contains("^sparse_super")) {
            feats.push("^resize_inode");
        }
        let no_flex = feats.contains(&"^flex_bg");
        if !feats.is_empty() {
            s = s.features(&feats.join(","));
        }
        if rng.below(100) < 25 {
            let ty = ["small", "largefile", "huge", "news"][usize::try_from(rng.below(4)).unwrap()];
            s = s.arg("-T", ty);
        }
        if rng.below(100) < 20 {
            let isz = ["128", "256", "512"][usize::try_from(rng.below(3)).unwrap()];
            s = s.arg("-I", isz);
        }
        if rng.below(100) < 15 {
            let nodes = ["128", "2048", "20000"][usize::try_from(rng.below(3)).unwrap()];
            s = s.arg("-N", nodes);
        }
        if fs_type == "ext4" && !no_flex && rng.below(100) < 20 {
            let g = ["1", "4", "32", "128"][usize::try_from(rng.below(4)).unwrap()];
            s = s.arg("-G", g);
        }
        if bs <= 4096 && rng.below(100) < 15 && !bigalloc {
            s = s.arg("-g", &format!("{}", bs * 2));
        }
        if rng.below(100) < 15 {
            s.ext_opts.push("lazy_itable_init=1".into());
        }
        if rng.below(100) < 10 {
            s.ext_opts.push("packed_meta_blocks=1".into());
        }
        if rng.below(100) < 10 {
            s.ext_opts.push("root_owner=1000:1000".into());
        }
        let mut t = Tree {
            basic: rng.below(100) < 70,
            hardlinks: rng.below(100) < 40,
            sparse: rng.below(100) < 40,
            xattrs: rng.below(100) < 40,
            symlinks: rng.below(100) < 40,
            deep: rng.below(100) < 30,
            wide: [0u32, 0, 200, 1200][usize::try_from(rng.below(4)).unwrap()],
            small_files: [0u32, 0, 50][usize::try_from(rng.below(3)).unwrap()],
            unicode: rng.below(100) < 20,
            specials: rng.below(100) < 30,
            ea_inodes: false,
        };
        t.ea_inodes = feats.iter().any(|f| f.contains("ea_inode")) && rng.below(100) < 70;
        // Few inodes: a tree that fits them.
        let few = s.args.iter().any(|a| {
            matches!(
                a.as_str(),
                "largefile" | "largefile4" | "huge" | "128" | "2048"
            )
        });
        if few {
            t.wide = 0;
            t.small_files = 0;
            t.deep = false;
            t.hardlinks = false;
        }
        s.tree = t;
        s.index_dirs = rng.below(100) < 30;
        v.push(s);
    }
    v.truncate(n.max(v.len().min(n)));
    v
}

/// A filesystem made from a [`Spec`].
#[derive(Debug, Clone)]
pub struct Built {
    /// The image file.
    pub path: PathBuf,
    /// e2fsck -fn right after mkfs (and debugfs / -fD).
    pub first: Verdict,
    /// A copy of the image as it was before `e2fsck -fy` repaired it.
    pub before: Option<PathBuf>,
    /// Whether `e2fsck -fy` had to repair it (a tool's own bug, e.g.
    /// libext2fs 1.47.0 not charging EA-inode blocks to the owner).
    pub repaired: bool,
    /// e2fsck -fn at the end: clean for a usable matrix member.
    pub verdict: Verdict,
}

/// Why a spec gave no filesystem.
#[derive(Debug, Clone)]
pub struct Refused {
    /// mke2fs's (or debugfs') words.
    pub why: String,
}

/// Builds `spec` in `dir` (a scratch directory it may fill).
pub fn build(spec: &Spec, dir: &Path) -> Result<Built, Refused> {
    let tree = dir.join(format!("{}-tree", spec.name));
    let _ = std::fs::remove_dir_all(&tree);
    spec.tree.write(&tree, spec.block_size);
    let img = dir.join(format!("{}.img", spec.name));
    let f = std::fs::File::create(&img).expect("create image");
    f.set_len(spec.size_mib << 20).expect("size image");
    drop(f);
    let idx = u64::try_from(
        spec.name
            .trim_start_matches(['m', 'd'])
            .parse::<usize>()
            .unwrap_or(0),
    )
    .unwrap_or(0);
    let uuid = format!("5e1f1c2a-7c1b-4f5e-9a0d-{:012x}", 0x3c6b_2a1e_0000 + idx);
    let mut ext = vec![
        format!(
            "hash_seed=0f1e2d3c-4b5a-6978-8796-{:012x}",
            0xa5b4_c3d2_0000 + idx
        ),
        "lazy_itable_init=0".to_string(),
    ];
    ext.extend(spec.ext_opts.iter().cloned());
    if spec
        .ext_opts
        .iter()
        .any(|o| o.starts_with("lazy_itable_init"))
    {
        ext.retain(|o| o != "lazy_itable_init=0");
    }
    let mut cmd = Command::new("mke2fs");
    cmd.arg("-t")
        .arg(spec.fs_type)
        .arg("-b")
        .arg(spec.block_size.to_string())
        .args(["-q", "-F", "-U", &uuid, "-E", &ext.join(",")])
        .args(&spec.args)
        .arg("-d")
        .arg(&tree)
        .arg(&img);
    let out = tools::run(&mut cmd, Duration::from_secs(120));
    let _ = std::fs::remove_dir_all(&tree);
    if out.code != Some(0) {
        let _ = std::fs::remove_file(&img);
        return Err(Refused {
            why: format!("mke2fs: {}", out.text.trim()),
        });
    }
    let cmds = {
        let empty = dir.join("empty");
        let medium = dir.join("medium");
        let big = dir.join("big");
        std::fs::write(&empty, []).unwrap();
        std::fs::write(&medium, vec![b'm'; 1500]).unwrap();
        std::fs::write(
            &big,
            vec![b'B'; usize::try_from(spec.block_size * 3).unwrap()],
        )
        .unwrap();
        spec.tree.debugfs_commands(&empty, &medium, &big)
    };
    if !cmds.is_empty() {
        let out = tools::debugfs_write(&img, &cmds);
        if out.code != Some(0) {
            return Err(Refused {
                why: format!("debugfs: {}", out.text.trim()),
            });
        }
    }
    if spec.index_dirs {
        let _ = tools::run(
            Command::new("e2fsck").arg("-fyD").arg(&img),
            Duration::from_secs(120),
        );
    }
    let limit = Duration::from_secs(60);
    let first = tools::e2fsck_fn(&img, limit);
    let mut repaired = false;
    let mut verdict = first.clone();
    let mut before = None;
    if !first.clean() {
        let copy = dir.join(format!("{}.before.img", spec.name));
        std::fs::copy(&img, &copy).expect("copy before repair");
        before = Some(copy);
        let _ = tools::run(
            Command::new("e2fsck").arg("-fy").arg(&img),
            Duration::from_secs(120),
        );
        repaired = true;
        verdict = tools::e2fsck_fn(&img, limit);
    }
    Ok(Built {
        path: img,
        first,
        before,
        repaired,
        verdict,
    })
}

/// The damage generator's base filesystems: between them every kind of
/// metadata block e2fsck reads (block maps and extent trees of depth 2,
/// one- and two-level htrees, xattr blocks and EA inodes, quota, orphan
/// file, MMP, inline data, bigalloc, meta_bg, gdt_csum, casefold).
pub fn damage_bases() -> Vec<Spec> {
    let t = |wide: u32, ea: bool| Tree {
        wide,
        ea_inodes: ea,
        unicode: true,
        ..rich()
    };
    let mut v = vec![
        Spec::new(900, "ext4", 4096, 32).tree(t(3000, false)),
        Spec::new(901, "ext4", 1024, 32)
            .features("^64bit")
            .tree(t(4000, false)),
        Spec::new(902, "ext3", 1024, 16).tree(t(300, false)),
        Spec::new(903, "ext2", 4096, 16).tree(t(300, false)),
        Spec::new(904, "ext4", 1024, 16)
            .features("^metadata_csum,uninit_bg,^flex_bg,^64bit")
            .tree(t(300, false)),
        Spec::new(905, "ext4", 4096, 32)
            .features("quota,project,orphan_file,mmp,inline_data,ea_inode,metadata_csum_seed")
            .tree(t(300, true)),
        Spec::new(906, "ext4", 4096, 64)
            .features("bigalloc,^resize_inode")
            .arg("-C", "16384")
            .tree(t(300, false)),
        Spec::new(907, "ext4", 2048, 32)
            .features("meta_bg,^resize_inode,sparse_super2")
            .arg("-g", "2048")
            .tree(t(300, false)),
        Spec::new(908, "ext4", 4096, 32)
            .features("casefold,encrypt,large_dir,^has_journal")
            .tree(t(1500, false)),
    ];
    for s in &mut v {
        s.index_dirs = true;
        s.name = format!("d{}", &s.name[1..]);
    }
    v
}

//! Source trees for `mkfs.ext4 -d`, and what debugfs adds after mkfs
//! (extended attributes, device nodes): the file shapes e2fsck walks.

use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::symlink;
use std::path::Path;

/// What a generated filesystem holds. Each flag adds one shape of file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tree {
    /// /etc/hostname, a 2000-line log, a 200 KB file, a relative symlink.
    pub basic: bool,
    /// Files with 2–5 names across directories.
    pub hardlinks: bool,
    /// Sparse files: a hole at the start, a 1 GiB file with three data
    /// runs, and one with hundreds of runs (an extent tree with index
    /// blocks, or indirect blocks without extents).
    pub sparse: bool,
    /// Extended attributes set by debugfs: small ones in the inode, ones of
    /// 1–2 KB in an attribute block.
    pub xattrs: bool,
    /// Attribute values larger than a block (EA inodes; with ea_inode only).
    pub ea_inodes: bool,
    /// Symlinks of 1, 59, 60 and up to (block size − 1) bytes.
    pub symlinks: bool,
    /// A chain of 40 nested directories.
    pub deep: bool,
    /// A directory of this many entries (an htree after `e2fsck -fD`).
    pub wide: u32,
    /// Small files of 0–60 bytes (inline data where enabled).
    pub small_files: u32,
    /// UTF-8 names (for casefold).
    pub unicode: bool,
    /// Device nodes, a fifo and a socket made by debugfs.
    pub specials: bool,
}

impl Tree {
    /// A short name for the filesystem's label in reports.
    pub fn describe(&self) -> String {
        let mut v = Vec::new();
        for (on, n) in [
            (self.basic, "basic"),
            (self.hardlinks, "hardlinks"),
            (self.sparse, "sparse"),
            (self.xattrs, "xattrs"),
            (self.ea_inodes, "ea_inodes"),
            (self.symlinks, "symlinks"),
            (self.deep, "deep"),
            (self.unicode, "unicode"),
            (self.specials, "specials"),
        ] {
            if on {
                v.push(n.to_string());
            }
        }
        if self.wide > 0 {
            v.push(format!("wide{}", self.wide));
        }
        if self.small_files > 0 {
            v.push(format!("small{}", self.small_files));
        }
        if v.is_empty() {
            "empty".into()
        } else {
            v.join("+")
        }
    }

    /// Writes the tree under `dir` for `mkfs -d`. `bs`: the block size
    /// (symlink lengths, sparse runs). Sizes are deterministic.
    pub fn write(&self, dir: &Path, bs: u64) {
        fs::create_dir_all(dir).expect("tree dir");
        if self.basic {
            fs::create_dir_all(dir.join("etc")).unwrap();
            fs::create_dir_all(dir.join("var/log")).unwrap();
            fs::create_dir_all(dir.join("home/user/docs")).unwrap();
            fs::write(dir.join("etc/hostname"), "brainvm\n").unwrap();
            let log: String = (1..=2000).map(|i| format!("{i}\n")).collect();
            fs::write(dir.join("var/log/syslog"), log).unwrap();
            fs::write(dir.join("home/user/docs/big.txt"), vec![b'x'; 200_000]).unwrap();
            symlink("../etc/hostname", dir.join("home/user/host")).unwrap();
        }
        if self.hardlinks {
            let d = dir.join("links");
            fs::create_dir_all(d.join("a/b")).unwrap();
            for i in 0..6u32 {
                let f = d.join(format!("file{i}"));
                fs::write(
                    &f,
                    format!("linked {i}\n").repeat(usize::try_from(i).unwrap() * 300),
                )
                .unwrap();
                for k in 0..(i % 4 + 1) {
                    let to = if k % 2 == 0 {
                        d.join(format!("a/l{i}-{k}"))
                    } else {
                        d.join(format!("a/b/l{i}-{k}"))
                    };
                    fs::hard_link(&f, to).unwrap();
                }
            }
        }
        if self.sparse {
            let d = dir.join("sparse");
            fs::create_dir_all(&d).unwrap();
            let mut f = fs::File::create(d.join("hole-first")).unwrap();
            f.seek(SeekFrom::Start(3 * bs)).unwrap();
            f.write_all(b"after a hole").unwrap();
            let mut f = fs::File::create(d.join("gig")).unwrap();
            for at in [0u64, 300 << 20, (1 << 30) - 4096] {
                f.seek(SeekFrom::Start(at)).unwrap();
                f.write_all(&[0x5a; 4096]).unwrap();
            }
            f.set_len(1 << 30).unwrap();
            // One data block every other block: one extent per run.
            let mut f = fs::File::create(d.join("fragmented")).unwrap();
            for i in 0..400u64 {
                f.seek(SeekFrom::Start(i * 2 * bs)).unwrap();
                f.write_all(&vec![0xa5; usize::try_from(bs).unwrap()])
                    .unwrap();
            }
        }
        if self.symlinks {
            let d = dir.join("sym");
            fs::create_dir_all(&d).unwrap();
            let max = usize::try_from(bs.min(4096) - 1).unwrap();
            for n in [1usize, 59, 60, 61, 200, max] {
                let target: String = (0..n)
                    .map(|i| if i % 16 == 15 { '/' } else { 'a' })
                    .collect();
                symlink(target, d.join(format!("len{n}"))).unwrap();
            }
        }
        if self.deep {
            let mut p = dir.join("deep");
            for i in 0..40 {
                p = p.join(format!("level{i:02}"));
            }
            fs::create_dir_all(&p).unwrap();
            fs::write(p.join("bottom"), "the bottom\n").unwrap();
        }
        if self.wide > 0 {
            let d = dir.join("wide");
            fs::create_dir_all(&d).unwrap();
            for i in 0..self.wide {
                fs::write(d.join(format!("entry-with-a-longish-name-{i:05}")), []).unwrap();
            }
        }
        if self.small_files > 0 {
            let d = dir.join("small");
            fs::create_dir_all(&d).unwrap();
            for i in 0..self.small_files {
                let len = usize::try_from(i % 61).unwrap();
                fs::write(d.join(format!("s{i}")), vec![b'0' + (i % 10) as u8; len]).unwrap();
            }
            // A small directory: inline with inline_data.
            fs::create_dir_all(d.join("tinydir")).unwrap();
            fs::write(d.join("tinydir/x"), "x").unwrap();
        }
        if self.unicode {
            let d = dir.join("unicode");
            fs::create_dir_all(&d).unwrap();
            for n in ["Straße", "ÅNGSTRÖM", "naïve", "日本語", "emoji-🙂", "Ωmega"] {
                fs::write(d.join(n), n).unwrap();
            }
        }
    }

    /// debugfs commands run with `-w` after mkfs: extended attributes and
    /// special files, which `-d` would need the source filesystem's support
    /// (or root) for. `empty` is an empty file, `medium` one of 1500 bytes,
    /// `big` one of 3 blocks.
    pub fn debugfs_commands(&self, empty: &Path, medium: &Path, big: &Path) -> String {
        let mut c = String::new();
        if self.xattrs {
            c.push_str("mkdir /xattr\n");
            for i in 0..4 {
                c.push_str(&format!("write {} /xattr/f{i}\n", empty.display()));
                c.push_str(&format!("ea_set /xattr/f{i} user.small{i} v{i}\n"));
                c.push_str(&format!("ea_set /xattr/f{i} trusted.t{i} {i}{i}{i}\n"));
            }
            for i in 0..3 {
                c.push_str(&format!(
                    "ea_set -f {} /xattr/f{i} user.medium\n",
                    medium.display()
                ));
            }
            c.push_str("ea_set /xattr user.onadir yes\n");
        }
        if self.ea_inodes {
            c.push_str("mkdir /eainode\n");
            for i in 0..2 {
                c.push_str(&format!("write {} /eainode/f{i}\n", empty.display()));
                c.push_str(&format!(
                    "ea_set -f {} /eainode/f{i} user.big\n",
                    big.display()
                ));
            }
        }
        if self.specials {
            c.push_str("mkdir /dev\ncd /dev\n");
            c.push_str("mknod null c 1 3\n");
            c.push_str("mknod sda b 8 0\n");
            c.push_str("mknod fifo p\n");
            c.push_str("cd /\n");
        }
        c
    }
}

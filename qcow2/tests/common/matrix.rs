//! The clean matrix: images written by QEMU's own tools over the option
//! space — qemu-img create/convert/amend/resize/commit/rebase/snapshot/
//! bitmap and qemu-io writes, zero writes, discards, compressed writes and
//! crashes — each drawn from a seed, so a case can be rebuilt exactly.
//! Nothing here decides a verdict: QEMU's tools do (see `qemu.rs`).
#![allow(dead_code)]

use super::qemu::run;
use std::path::{Path, PathBuf};

/// A small deterministic PRNG (xorshift64*): the matrix must not depend
/// on a crate's generator changing between versions.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// One image of the matrix: how it was made (for the report) and where.
pub struct Built {
    pub seed: u64,
    pub recipe: Vec<String>,
    pub path: PathBuf,
    pub virtual_size: u64,
    /// A QEMU step failed (the image is still what QEMU left).
    pub step_failed: bool,
}

struct Ctx<'a> {
    dir: &'a Path,
    recipe: Vec<String>,
    failed: bool,
}

impl Ctx<'_> {
    fn tool(&mut self, prog: &str, args: &[String]) -> bool {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        self.recipe.push(format!("{prog} {}", a.join(" ")));
        // A step QEMU itself takes minutes over (amend to refcount_bits=64
        // on some layouts) is dropped, not waited for: coreutils timeout.
        let mut t = vec!["120", prog];
        t.extend(a.iter().copied());
        let ok = run(self.dir, "timeout", &t).is_some_and(|o| o.status.success());
        if !ok {
            self.failed = true;
            self.recipe.push("  (failed)".into());
        }
        ok
    }
    fn img(&mut self, args: &[&str]) -> bool {
        let a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        self.tool("qemu-img", &a)
    }
    fn io(&mut self, img: &str, cmds: &[String]) -> bool {
        let mut a = vec!["-f".to_string(), "qcow2".to_string()];
        for c in cmds {
            a.push("-c".into());
            a.push(c.clone());
        }
        a.push(img.to_string());
        self.tool("qemu-io", &a)
    }
}

/// The options an image is created with.
#[derive(Clone)]
struct Opts {
    compat11: bool,
    cluster: u64,
    refcount_bits: u32,
    extl2: bool,
    zstd: bool,
    prealloc: &'static str,
    lazy: bool,
    data_file: bool,
    data_raw: bool,
}

impl Opts {
    fn draw(r: &mut Rng) -> Opts {
        let compat11 = r.chance(80);
        let cluster = *r.pick(&[
            512u64,
            1024,
            2048,
            4096,
            16384,
            65536,
            65536,
            65536,
            262144,
            1 << 20,
            2 << 20,
        ]);
        let refcount_bits = if compat11 {
            *r.pick(&[1u32, 2, 4, 8, 16, 16, 16, 32, 64])
        } else {
            16
        };
        let extl2 = compat11 && cluster >= 16384 && r.chance(30);
        let zstd = compat11 && r.chance(40);
        let prealloc = *r.pick(&["off", "off", "off", "metadata", "falloc", "full"]);
        let lazy = compat11 && r.chance(20);
        let data_file = compat11 && r.chance(12);
        let data_raw = data_file && r.chance(50);
        Opts {
            compat11,
            cluster,
            refcount_bits,
            extl2,
            zstd,
            prealloc,
            lazy,
            data_file,
            data_raw,
        }
    }

    fn create_string(&self, name: &str) -> String {
        let mut o = vec![
            format!("compat={}", if self.compat11 { "1.1" } else { "0.10" }),
            format!("cluster_size={}", self.cluster),
        ];
        if self.compat11 {
            o.push(format!("refcount_bits={}", self.refcount_bits));
        }
        if self.extl2 {
            o.push("extended_l2=on".into());
        }
        if self.zstd {
            o.push("compression_type=zstd".into());
        }
        // Preallocation with a data file allocates in the data file.
        o.push(format!("preallocation={}", self.prealloc));
        if self.lazy {
            o.push("lazy_refcounts=on".into());
        }
        if self.data_file {
            o.push(format!("data_file={name}.data"));
            if self.data_raw {
                o.push("data_file_raw=on".into());
            }
        }
        o.join(",")
    }

    /// Compressed writes are possible (QEMU refuses them with a data
    /// file, and a shared compressed cluster needs refcounts above 1).
    fn can_compress(&self) -> bool {
        !self.data_file && self.refcount_bits >= 2
    }

    fn can_snapshot(&self) -> bool {
        !self.data_file && self.refcount_bits >= 2
    }
}

/// Guest writes of every kind, at offsets drawn in `size`.
fn writes(r: &mut Rng, o: &Opts, size: u64, n: u64) -> Vec<String> {
    let mut v = Vec::new();
    for _ in 0..n {
        let pat = r.below(255) + 1;
        let unit = *r.pick(&[512u64, 4096, o.cluster, 65536]);
        let off = r.below(size / unit) * unit;
        let len = (unit * (1 + r.below(8))).min(size - off).max(512);
        let c = match r.below(10) {
            0..=3 => format!("write -P {pat:#x} {off} {len}"),
            4 if off + 1536 <= size => format!("write -P {pat:#x} {} 1024", off + 512),
            5 => format!("write -z {off} {len}"),
            6 => format!("write -z -u {off} {len}"),
            7 => format!("discard {off} {len}"),
            _ if o.can_compress() => {
                let c = o.cluster;
                let off = r.below(size / c) * c;
                let len = c * (1 + r.below(4)).min((size - off) / c).max(1);
                format!("write -c -P {pat:#x} {off} {len}")
            }
            _ => format!("write -P {pat:#x} {off} {len}"),
        };
        v.push(c);
    }
    v
}

/// Builds image number `seed` in `dir`.
pub fn build(dir: &Path, seed: u64) -> Built {
    let mut r = Rng::new(seed);
    let mut c = Ctx {
        dir,
        recipe: Vec::new(),
        failed: false,
    };
    let o = Opts::draw(&mut r);
    let name = format!("m{seed}.qcow2");
    let size = *r.pick(&[1u64 << 20, 2 << 20, 4 << 20, 8 << 20, 16 << 20]);
    let mut vsize = size;
    let scenario = r.below(100);
    let top = match scenario {
        // A backing chain: writes, zero writes and discards over a base,
        // then maybe commit, rebase or a flattening convert.
        0..=19 if !o.data_file => {
            let base = format!("m{seed}-base.qcow2");
            let b = Opts {
                data_file: false,
                data_raw: false,
                ..o.clone()
            };
            c.img(&[
                "create",
                "-q",
                "-f",
                "qcow2",
                "-o",
                &b.create_string(&base),
                &base,
                &size.to_string(),
            ]);
            let w = writes(&mut r, &b, size, 6);
            c.io(&base, &w);
            let opts = format!(
                "{},backing_fmt=qcow2",
                o.create_string(&name).replace(
                    &format!("preallocation={}", o.prealloc),
                    "preallocation=off"
                )
            );
            c.img(&[
                "create", "-q", "-f", "qcow2", "-b", &base, "-o", &opts, &name,
            ]);
            let w = writes(&mut r, &o, size, 8);
            c.io(&name, &w);
            match r.below(5) {
                0 => {
                    c.img(&["commit", "-q", "-d", &name]);
                }
                1 => {
                    let other = format!("m{seed}-base2.qcow2");
                    c.img(&[
                        "create",
                        "-q",
                        "-f",
                        "qcow2",
                        "-o",
                        &b.create_string(&other),
                        &other,
                        &size.to_string(),
                    ]);
                    let w = writes(&mut r, &b, size, 3);
                    c.io(&other, &w);
                    c.img(&[
                        "rebase", "-q", "-f", "qcow2", "-b", &other, "-F", "qcow2", &name,
                    ]);
                }
                2 => {
                    let flat = format!("m{seed}-flat.qcow2");
                    let comp = o.can_compress() && r.chance(50);
                    let mut a = vec!["convert", "-q", "-O", "qcow2"];
                    if comp {
                        a.push("-c");
                    }
                    let opts = format!("cluster_size={}", o.cluster);
                    a.extend(["-o", &opts, &name, &flat]);
                    c.img(&a);
                    return finish(c, seed, dir.join(&flat), vsize);
                }
                _ => {}
            }
            name.clone()
        }
        // A convert from raw data, fully or partly compressed.
        20..=34 => {
            let raw = format!("m{seed}.raw");
            c.img(&["create", "-q", "-f", "raw", &raw, &size.to_string()]);
            let plain = Opts {
                data_file: false,
                data_raw: false,
                ..o.clone()
            };
            let w: Vec<String> = writes(&mut r, &plain, size, 10)
                .into_iter()
                .filter(|w| !w.contains(" -c "))
                .collect();
            c.tool("qemu-io", &{
                let mut a = vec!["-f".to_string(), "raw".to_string()];
                for x in &w {
                    a.push("-c".into());
                    a.push(x.clone());
                }
                a.push(raw.clone());
                a
            });
            let mut a = vec![
                "convert".to_string(),
                "-q".into(),
                "-f".into(),
                "raw".into(),
                "-O".into(),
                "qcow2".into(),
            ];
            if o.can_compress() && r.chance(60) {
                a.push("-c".into());
            }
            let opts = Opts {
                prealloc: if o.prealloc == "full" || o.prealloc == "falloc" {
                    "off"
                } else {
                    o.prealloc
                },
                ..o.clone()
            };
            a.push("-o".into());
            a.push(opts.create_string(&name));
            a.push(raw.clone());
            a.push(name.clone());
            c.tool("qemu-img", &a);
            // Partly compressed: later writes are not.
            if r.chance(50) {
                let w = writes(&mut r, &o, size, 4);
                c.io(&name, &w);
            }
            name.clone()
        }
        _ => {
            c.img(&[
                "create",
                "-q",
                "-f",
                "qcow2",
                "-o",
                &o.create_string(&name),
                &name,
                &size.to_string(),
            ]);
            name.clone()
        }
    };
    // A life of operations on the top image.
    let steps = 2 + r.below(6);
    let mut snaps = 0u32;
    let mut bitmaps: Vec<String> = Vec::new();
    for _ in 0..steps {
        match r.below(14) {
            0..=4 => {
                let n = 1 + r.below(6);
                let w = writes(&mut r, &o, vsize, n);
                c.io(&top, &w);
            }
            5 | 6 if o.can_snapshot() => {
                snaps += 1;
                c.img(&["snapshot", "-c", &format!("s{snaps}"), &top]);
            }
            7 if o.can_snapshot() && snaps > 0 => {
                let s = format!("s{}", 1 + r.below(u64::from(snaps)));
                if r.chance(50) {
                    c.img(&["snapshot", "-a", &s, &top]);
                } else {
                    c.img(&["snapshot", "-d", &s, &top]);
                }
            }
            8 if o.compat11 => {
                let b = format!("b{}", bitmaps.len());
                let g = format!("{}", 1u64 << (9 + r.below(8)));
                let mut a = vec!["bitmap", "--add", "-g", &g, &top, &b];
                if r.chance(30) {
                    a.insert(2, "--disable");
                }
                c.img(&a);
                bitmaps.push(b);
            }
            9 if !bitmaps.is_empty() => {
                let b = r.pick(&bitmaps).clone();
                match r.below(4) {
                    0 => c.img(&["bitmap", "--enable", &top, &b]),
                    1 => c.img(&["bitmap", "--disable", &top, &b]),
                    2 => c.img(&["bitmap", "--clear", &top, &b]),
                    _ => {
                        let dst = r.pick(&bitmaps).clone();
                        c.img(&["bitmap", "--merge", &b, &top, &dst])
                    }
                };
            }
            10 => {
                let grow = vsize + (1 << 20) * (1 + r.below(8));
                if c.img(&["resize", "-q", &top, &grow.to_string()]) {
                    vsize = grow;
                }
            }
            11 if snaps == 0 && vsize > 2 << 20 && bitmaps.is_empty() => {
                let shrink = vsize - (1 << 20);
                if c.img(&["resize", "-q", "--shrink", &top, &shrink.to_string()]) {
                    vsize = shrink;
                }
            }
            12 => {
                let a = match r.below(4) {
                    0 if !o.extl2 && !o.zstd && !o.data_file && bitmaps.is_empty() => {
                        "compat=0.10".to_string()
                    }
                    1 if o.compat11 => format!("refcount_bits={}", r.pick(&[4, 8, 16, 32, 64])),
                    2 if o.compat11 => {
                        format!("lazy_refcounts={}", if r.chance(50) { "on" } else { "off" })
                    }
                    _ => "compat=1.1".to_string(),
                };
                c.img(&["amend", "-q", "-o", &a, &top]);
            }
            _ => {
                let w = writes(&mut r, &o, vsize, 2);
                c.io(&top, &w);
            }
        }
    }
    // A crash: lazy refcounts (or bitmaps in use) left as a killed VM
    // leaves them.
    if (o.lazy || !bitmaps.is_empty()) && r.chance(35) {
        let mut w = writes(&mut r, &o, vsize, 3);
        w.push("abort".into());
        let mut a = vec!["-f".to_string(), "qcow2".to_string()];
        for x in &w {
            a.push("-c".into());
            a.push(x.clone());
        }
        a.push(top.clone());
        c.recipe.push(format!("qemu-io {} (crash)", a.join(" ")));
        let _ = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -c 0; exec qemu-io {} >/dev/null 2>&1",
                a.iter()
                    .map(|s| format!("'{s}'"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ))
            .current_dir(dir)
            .status();
    }
    finish(c, seed, dir.join(top), vsize)
}

fn finish(c: Ctx<'_>, seed: u64, path: PathBuf, virtual_size: u64) -> Built {
    Built {
        seed,
        recipe: c.recipe,
        path,
        virtual_size,
        step_failed: c.failed,
    }
}

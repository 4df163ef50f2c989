//! The damage QEMU's own qcow2 iotests build, rebuilt: each case makes an
//! image with QEMU's tools as the iotest does (qemu-img create, qemu-io
//! writes, snapshots, bitmaps) and pokes the bytes the iotest pokes —
//! at the iotest's fixed offsets where it uses them (a default 64 KiB
//! image: refcount table 0x10000, refcount block 0x20000, L1 0x30000,
//! first L2 0x40000), or at the structure the image's own header
//! locates. Whether QEMU accepts the result is never assumed here: the
//! test asks QEMU (`qemu.rs`).
#![allow(dead_code)]

use super::damage::map;
use super::qemu::run;
use std::path::{Path, PathBuf};

pub const RT: u64 = 0x10000;
pub const RB: u64 = 0x20000;
pub const L1: u64 = 0x30000;
pub const L2: u64 = 0x40000;

/// A scratch directory the case builds in; every step is recorded.
pub struct Dir<'a> {
    pub path: &'a Path,
    pub log: Vec<String>,
}

impl Dir<'_> {
    pub fn p(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
    fn tool(&mut self, prog: &str, args: &[&str]) -> bool {
        self.log.push(format!("{prog} {}", args.join(" ")));
        run(self.path, prog, args).is_some_and(|o| o.status.success())
    }
    /// `qemu-img create -f qcow2 [-o opts] NAME SIZE` (opts may be empty).
    pub fn create(&mut self, name: &str, opts: &str, size: &str) -> &mut Self {
        let mut a = vec!["create", "-q", "-f", "qcow2"];
        if !opts.is_empty() {
            a.extend(["-o", opts]);
        }
        a.extend([name, size]);
        self.tool("qemu-img", &a);
        self
    }
    pub fn img(&mut self, args: &[&str]) -> &mut Self {
        self.tool("qemu-img", args);
        self
    }
    pub fn io(&mut self, name: &str, cmds: &[&str]) -> &mut Self {
        let mut a = vec!["-f", "qcow2"];
        for c in cmds {
            a.extend(["-c", c]);
        }
        a.push(name);
        self.tool("qemu-io", &a);
        self
    }
    /// qemu-io with a json: or option string in place of the file name.
    pub fn io_spec(&mut self, spec: &str, cmds: &[&str]) -> &mut Self {
        let mut a = vec![];
        for c in cmds {
            a.extend(["-c", c]);
        }
        a.push(spec);
        self.tool("qemu-io", &a);
        self
    }
    pub fn poke(&mut self, name: &str, at: u64, bytes: &[u8]) -> &mut Self {
        use std::os::unix::fs::FileExt;
        if self.log.len() < 64 {
            self.log.push(format!("poke {name} {at:#x} {bytes:02x?}"));
        }
        if let Ok(f) = std::fs::OpenOptions::new().write(true).open(self.p(name)) {
            let _ = f.write_all_at(bytes, at);
        }
        self
    }
    pub fn poke64(&mut self, name: &str, at: u64, v: u64) -> &mut Self {
        self.poke(name, at, &v.to_be_bytes())
    }
    pub fn poke32(&mut self, name: &str, at: u64, v: u32) -> &mut Self {
        self.poke(name, at, &v.to_be_bytes())
    }
    pub fn poke16(&mut self, name: &str, at: u64, v: u16) -> &mut Self {
        self.poke(name, at, &v.to_be_bytes())
    }
    pub fn peek(&self, name: &str, at: u64, n: usize) -> u64 {
        use std::os::unix::fs::FileExt;
        let mut b = vec![0u8; n];
        std::fs::File::open(self.p(name))
            .and_then(|f| f.read_exact_at(&mut b, at))
            .map_or(0, |()| b.iter().fold(0u64, |a, &x| a << 8 | u64::from(x)))
    }
    pub fn truncate(&mut self, name: &str, len: u64) -> &mut Self {
        self.log.push(format!("truncate -s {len} {name}"));
        if let Ok(f) = std::fs::OpenOptions::new().write(true).open(self.p(name)) {
            let _ = f.set_len(len);
        }
        self
    }
    pub fn len(&self, name: &str) -> u64 {
        std::fs::metadata(self.p(name)).map_or(0, |m| m.len())
    }
    /// Structure offsets from the image's own header.
    pub fn map(&self, name: &str) -> super::damage::Map {
        map(&std::fs::read(self.p(name)).unwrap_or_default())
    }
    /// Offset of the data of header extension `ty`.
    pub fn ext(&self, name: &str, ty: u32) -> Option<u64> {
        let b = std::fs::read(self.p(name)).unwrap_or_default();
        let hl = self.peek(name, 100, 4);
        let mut off = if self.peek(name, 4, 4) == 2 { 72 } else { hl };
        for _ in 0..64 {
            let t = u32::try_from(self.peek(name, off, 4)).ok()?;
            let len = self.peek(name, off + 4, 4);
            if t == 0 || off as usize >= b.len() {
                return None;
            }
            if t == ty {
                return Some(off + 8);
            }
            off += 8 + len.next_multiple_of(8);
        }
        None
    }
}

/// One rebuilt iotest case: the iotest, what it builds, and the builder
/// (returns the image to judge).
pub struct Case {
    pub test: &'static str,
    pub what: &'static str,
    pub build: fn(&mut Dir<'_>) -> &'static str,
    /// Damage QEMU does not see, flagged here on purpose (why).
    pub gap: Option<&'static str>,
}

macro_rules! case {
    ($test:expr, $what:expr, |$d:ident| $body:block) => {
        Case {
            test: $test,
            what: $what,
            build: |$d: &mut Dir<'_>| $body,
            gap: None,
        }
    };
}

macro_rules! gap {
    ($test:expr, $what:expr, $why:expr, |$d:ident| $body:block) => {
        Case {
            test: $test,
            what: $what,
            build: |$d: &mut Dir<'_>| $body,
            gap: Some($why),
        }
    };
}

const T: &str = "t.qcow2";

/// Writes 64 KiB at 0 of a fresh 64 MiB image: header, refcount table,
/// refcount block, L1, L2 and one data cluster at the iotests' offsets.
fn written(d: &mut Dir<'_>, opts: &str) {
    d.create(T, opts, "64M").io(T, &["write -P 0x2a 0 64k"]);
}

/// Every case. Offsets follow the iotests; see each one's comment.
pub fn cases() -> Vec<Case> {
    let mut v = vec![
        // --- 060: overlapping data structures, corrupt bit, bad entries ---
        case!(
            "060",
            "L2 reference into L1 (L1[0] points at the L1)",
            |d| {
                d.create(T, "compat=1.1", "64M")
                    .poke64(T, L1, 0x8000_0000_0003_0000);
                T
            }
        ),
        case!(
            "060",
            "data cluster reference into the refcount block",
            |d| {
                d.create(T, "compat=1.1", "64M").truncate(T, L2 + 65536);
                d.poke64(T, L1, 0x8000_0000_0004_0000).poke16(T, RB + 8, 1);
                d.poke64(T, L2, 0x8000_0000_0002_0000);
                T
            }
        ),
        case!(
            "060",
            "data cluster reference into an inactive L2 table",
            |d| {
                d.create(T, "compat=1.1", "64M")
                    .io(T, &["write -P 1 0 512"]);
                d.img(&["snapshot", "-c", "foo", T])
                    .io(T, &["write -P 2 0 512"]);
                d.poke64(T, 0x80000, 0x8000_0000_0004_0000);
                T
            }
        ),
        case!(
            "060",
            "unallocated image header (refcount of cluster 0 is 0)",
            |d| {
                written(d, "");
                d.poke16(T, RB, 0);
                T
            }
        ),
        case!("060", "unaligned L1 entry", |d| {
            written(d, "");
            d.poke64(T, L1, 0x8000_0000_0004_2a00);
            T
        }),
        case!("060", "unaligned L2 entry", |d| {
            written(d, "");
            d.poke64(T, L2, 0x8000_0000_0005_2a00);
            T
        }),
        case!("060", "unaligned preallocated zero cluster", |d| {
            written(d, "");
            d.poke64(T, L2, 0x8000_0000_0005_2a01);
            T
        }),
        case!("060", "unaligned refcount table entry", |d| {
            d.create(T, "", "64M").poke64(T, RT, 0x2_2a00);
            T
        }),
        case!(
            "060",
            "unaligned L2 entries, one freed (non-fatal then fatal)",
            |d| {
                d.create(T, "", "64M").io(T, &["write 0 128k"]);
                d.poke64(T, L2, 0x8000_0000_0005_2a00)
                    .poke64(T, L2 + 8, 0x8000_0000_0006_2a00);
                T
            }
        ),
        case!("060", "empty refcount table", |d| {
            d.create(T, "", "64M").poke64(T, RT, 0);
            T
        }),
        case!(
            "060",
            "empty refcount table with valid L1 and L2 tables",
            |d| {
                written(d, "");
                d.poke64(T, RT, 0);
                T
            }
        ),
        case!("060", "empty refcount block", |d| {
            d.create(T, "", "64M").poke64(T, RB, 0);
            T
        }),
        case!(
            "060",
            "empty refcount block after a compressed write",
            |d| {
                d.create(T, "", "64M")
                    .io(T, &["write 64k 64k", "write -c 0 64k"]);
                d.poke64(T, RB, 0);
                T
            }
        ),
        case!("060", "zero refcount table size", |d| {
            d.create(T, "", "64M").poke32(T, 56, 0);
            T
        }),
        case!("060", "refcount table offset 0", |d| {
            d.create(T, "", "64M").poke64(T, 48, 0);
            T
        }),
        case!("060", "dirty image with an unaligned refcount block", |d| {
            d.create(T, "", "64M")
                .poke64(T, RT, 0xffff_2a00)
                .poke64(T, 72, 1);
            T
        }),
        case!("060", "preallocated zero cluster inside the header", |d| {
            d.create(T, "", "64M")
                .io(T, &["write 0 64k", "discard 0 64k"]);
            d.poke64(T, L2, 0x8000_0000_0000_2a01);
            T
        }),
        case!("060", "unaligned refcount block with data", |d| {
            d.create(T, "", "64M")
                .io(T, &["write 0 128k"])
                .poke64(T, RT, 0x2a00);
            T
        }),
        case!("060", "out-of-bounds refcount block", |d| {
            d.create(T, "", "64M")
                .poke64(T, RT + 8, 0x00ff_ffff_0000_0000);
            T
        }),
        case!(
            "060",
            "refcount block not covered by the table (refcount_bits=1)",
            |d| {
                d.create(T, "refcount_bits=1", "64M")
                    .poke64(T, RT + 8, 0x10_0000_0000);
                T
            }
        ),
        case!(
            "060",
            "refcount block covered by an unaligned one (refcount_bits=1)",
            |d| {
                d.create(T, "refcount_bits=1", "64M");
                d.poke64(T, RT + 8, 0x10_0000_0000)
                    .poke64(T, RT + 16, 0x200);
                T
            }
        ),
        case!(
            "060",
            "L1 entry with unaligned offset past the covered area",
            |d| {
                d.create(T, "", "64M").poke64(T, L1, 0x2a2a_2a2a);
                T
            }
        ),
        case!("060", "corrupt bit after an overlapping write", |d| {
            d.create(T, "compat=1.1", "64M")
                .poke64(T, L1, 0x8000_0000_0003_0000);
            d.io(
                T,
                &["open -o overlap-check=all t.qcow2", "write -P 0x2a 0 512"],
            );
            T
        }),
        // --- 080: input validation of header fields and tables ---
        case!("080", "huge header_length (0xffffffff)", |d| {
            d.create(T, "", "64M").poke32(T, 100, 0xffff_ffff);
            T
        }),
        case!("080", "huge header_length (0x7fffffff)", |d| {
            d.create(T, "", "64M").poke32(T, 100, 0x7fff_ffff);
            T
        }),
        case!(
            "080",
            "huge unknown extension, backing_file_offset 2^64-1",
            |d| {
                d.create(T, "", "64M").poke64(T, 8, u64::MAX);
                d.poke32(T, 112, 0x1234_5678).poke32(T, 116, 0x7fff_ffff);
                T
            }
        ),
        case!(
            "080",
            "huge unknown extension, extension area ends inside it",
            |d| {
                d.create(T, "", "64M").poke64(T, 8, 116);
                d.poke32(T, 112, 0x1234_5678).poke32(T, 116, 0x7fff_ffff);
                T
            }
        ),
        case!("080", "huge unknown extension", |d| {
            d.create(T, "", "64M")
                .poke32(T, 112, 0x1234_5678)
                .poke32(T, 116, 0x7fff_ffff);
            T
        }),
        case!(
            "080",
            "huge refcount table size (0xffffffff clusters)",
            |d| {
                d.create(T, "", "64M").poke32(T, 56, 0xffff_ffff);
                T
            }
        ),
        case!("080", "huge refcount table size (0x20001 clusters)", |d| {
            d.create(T, "", "64M").poke32(T, 56, 0x2_0001);
            T
        }),
        case!("080", "misaligned refcount table", |d| {
            d.create(T, "", "64M").poke64(T, 48, 0x1234_5678_90ab_cdef);
            T
        }),
        case!("080", "huge refcount table offset", |d| {
            d.create(T, "", "64M")
                .poke64(T, 48, 0xffff_ffff_ffff_0000)
                .poke32(T, 56, 0x7f);
            T
        }),
        case!("080", "nb_snapshots 0xffffffff", |d| {
            d.create(T, "", "64M").poke32(T, 60, 0xffff_ffff);
            T
        }),
        case!("080", "nb_snapshots 0x7fffffff", |d| {
            d.create(T, "", "64M").poke32(T, 60, 0x7fff_ffff);
            T
        }),
        case!("080", "huge snapshots_offset with 65535 snapshots", |d| {
            d.create(T, "", "64M")
                .poke64(T, 64, 0xffff_ffff_ffff_0000)
                .poke32(T, 60, 0xffff);
            T
        }),
        case!(
            "080",
            "misaligned snapshots_offset without snapshots",
            |d| {
                d.create(T, "", "64M")
                    .poke64(T, 64, 0x1234_5678_90ab_cdef)
                    .poke32(T, 60, 0);
                T
            }
        ),
        case!("080", "65536 snapshots at 16 MiB (entries past EOF)", |d| {
            d.create(T, "", "64M")
                .poke64(T, 64, 0x100_0000)
                .poke32(T, 60, 0x1_0000);
            T
        }),
        case!("080", "l1_size 0xffffffff", |d| {
            d.create(T, "", "64M").poke32(T, 36, 0xffff_ffff);
            T
        }),
        case!("080", "l1_size 0x7fffffff", |d| {
            d.create(T, "", "64M").poke32(T, 36, 0x7fff_ffff);
            T
        }),
        case!("080", "huge l1_table_offset", |d| {
            d.create(T, "", "64M")
                .poke64(T, 40, 0x7fff_ffff_ffff_0000)
                .poke32(T, 36, 0xffff);
            T
        }),
        case!("080", "misaligned l1_table_offset", |d| {
            d.create(T, "", "64M")
                .poke64(T, 40, 0x1234_5678_90ab_cdef)
                .poke32(T, 36, 1);
            T
        }),
        case!(
            "080",
            "l1_size 0 with an internal snapshot (L1 too small)",
            |d| {
                d.create(T, "", "64M")
                    .img(&["snapshot", "-c", "foo", T])
                    .poke32(T, 36, 0);
                T
            }
        ),
        case!("080", "backing file name too long", |d| {
            d.create(T, "", "64M")
                .poke64(T, 8, 0x1000)
                .poke32(T, 16, 0xffff_ffff);
            T
        }),
        case!(
            "080",
            "L2 entry with a huge physical offset (compressed bit)",
            |d| {
                d.create(T, "", "64M").io(T, &["write 0 512"]);
                d.poke64(T, L2, 0xbfff_ffff_ffff_0000);
                T
            }
        ),
        case!("080", "L2 entry with a huge physical offset", |d| {
            d.create(T, "", "64M").io(T, &["write 0 512"]);
            d.poke64(T, L2, 0x8000_00ff_ffff_0000);
            T
        }),
        case!("080", "invalid snapshot L1 table offset", |d| {
            d.create(T, "", "64M")
                .io(T, &["write 0 512"])
                .img(&["snapshot", "-c", "test", T]);
            let s = d.map(T).snapshots[0];
            d.poke64(T, s, 0x40_0200);
            T
        }),
        case!("080", "invalid snapshot L1 table size", |d| {
            d.create(T, "", "64M")
                .io(T, &["write 0 512"])
                .img(&["snapshot", "-c", "test", T]);
            let s = d.map(T).snapshots[0];
            d.poke32(T, s + 8, 0x1000_0000);
            T
        }),
        // --- 214: compressed cluster descriptors ---
        case!("214", "compressed size field reduced (stream cut)", |d| {
            d.create(T, "cluster_size=2M", "8M");
            d.io(T, &["write -c -P 0x11 0 2M", "write -c -P 0x11 2M 2M"]);
            let l2 = d.map(T).l2_offset;
            let e = d.peek(T, l2, 8);
            let shift = 62 - (21 - 8);
            let e = e & !(((1u64 << 13) - 1) << shift) | 3 << shift;
            d.poke64(T, l2, e);
            T
        }),
        case!(
            "214",
            "compressed size field at its maximum, reaching past EOF",
            |d| {
                d.create(T, "cluster_size=2M", "8M");
                d.io(T, &["write -c -P 0x11 0 2M", "write -c -P 0x11 2M 2M"]);
                let l2 = d.map(T).l2_offset;
                d.poke(T, l2, &[0x7f, 0xfe]).poke(T, l2 + 8, &[0x7f, 0xfe]);
                T
            }
        ),
        case!(
            "214",
            "compressed size field at its maximum, image grown past it",
            |d| {
                d.create(T, "cluster_size=2M", "8M");
                d.io(T, &["write -c -P 0x11 0 2M", "write -c -P 0x11 2M 2M"]);
                let l2 = d.map(T).l2_offset;
                d.poke(T, l2, &[0x7f, 0xfe]).poke(T, l2 + 8, &[0x7f, 0xfe]);
                d.io(T, &["write -P 0x22 4M 4M"]);
                T
            }
        ),
        case!(
            "214",
            "compressed data of several clusters (accepted)",
            |d| {
                d.create(T, "cluster_size=64k", "2M");
                d.io_spec(
                "driver=compress,file.driver=qcow2,file.file.driver=file,file.file.filename=t.qcow2",
                &["write -P 0xbb 0 229376"],
            );
                T
            }
        ),
        // --- 261: snapshot table extra data and broken tables ---
        case!("261", "v2 snapshot without extra data (accepted)", |d| {
            d.create(T, "compat=0.10", "64M")
                .img(&["snapshot", "-c", "sn0", T]);
            let s = d.map(T).snapshots[0];
            let (id, name) = (d.peek(T, s + 12, 2), d.peek(T, s + 14, 2));
            let xs = d.peek(T, s + 36, 4);
            let b = std::fs::read(d.p(T)).unwrap_or_default();
            let start = (s + 40 + xs) as usize;
            let names = b[start..start + (id + name) as usize].to_vec();
            d.poke32(T, s + 36, 0).poke(T, s + 40, &names);
            T
        }),
        case!(
            "261",
            "v2 snapshot with unknown extra data (accepted)",
            |d| {
                d.create(T, "compat=0.10", "64M")
                    .img(&["snapshot", "-c", "sn1", T]);
                let s = d.map(T).snapshots[0];
                let (id, name) = (d.peek(T, s + 12, 2), d.peek(T, s + 14, 2));
                let xs = d.peek(T, s + 36, 4);
                let b = std::fs::read(d.p(T)).unwrap_or_default();
                let start = (s + 40 + xs) as usize;
                let names = b[start..start + (id + name) as usize].to_vec();
                let mut extra = b[(s + 40) as usize..(s + 56) as usize].to_vec();
                extra.extend_from_slice(b"very important data\0\0\0\0\0\0");
                extra.truncate(42);
                d.poke32(T, s + 36, 42)
                    .poke(T, s + 40, &extra)
                    .poke(T, s + 82, &names);
                T
            }
        ),
        case!(
            "261",
            "v2 image poked to v3: snapshot extra data incomplete",
            |d| {
                d.create(T, "compat=0.10", "64M")
                    .img(&["snapshot", "-c", "sn0", T]);
                let s = d.map(T).snapshots[0];
                d.poke32(T, s + 36, 8);
                d.poke32(T, 4, 3).poke32(T, 100, 0x68).poke32(T, 96, 4);
                T
            }
        ),
        case!("261", "64 KiB of snapshot extra data", |d| {
            d.create(T, "", "64M").img(&["snapshot", "-c", "sn3", T]);
            let s = d.map(T).snapshots[0];
            d.poke32(T, s + 36, 0x1_0000);
            T
        }),
        case!(
            "261",
            "snapshot table too big (65535-byte ids and names)",
            |d| {
                d.create(T, "", "64M").poke64(T, 64, 0x10_0000);
                let sn = 40 + 1024 + 65535 + 65535 + 2;
                let mut e = vec![0u8; 40];
                e[12..14].copy_from_slice(&[0xff, 0xff]);
                e[14..16].copy_from_slice(&[0xff, 0xff]);
                e[36..40].copy_from_slice(&0x400u32.to_be_bytes());
                let mut off = 0x10_0000u64;
                let mut n = 0u32;
                while off - 0x10_0000 <= 64 << 20 {
                    d.poke(T, off, &e);
                    off += sn;
                    n += 1;
                }
                d.truncate(T, off).poke32(T, 60, n);
                T
            }
        ),
        case!(
            "261",
            "131072 all-zero v2 snapshot entries (too many)",
            |d| {
                d.create(T, "compat=0.10", "64M")
                    .poke64(T, 64, 0x10_0000)
                    .poke32(T, 60, 0x2_0000);
                d.truncate(T, 0x10_0000 + 40 * 131_072);
                T
            }
        ),
        // --- 271: extended L2 entries ---
        case!("271", "subclusters both allocated and zero", |d| {
            d.create(T, "extended_l2=on", "1M")
                .io(T, &["write -P 1 0 64k"]);
            let l2 = d.map(T).l2_offset;
            d.poke64(T, l2 + 8, 0x0000_0001_0000_0001);
            T
        }),
        case!("271", "unallocated cluster with allocation bits", |d| {
            d.create(T, "extended_l2=on", "1M")
                .io(T, &["write -P 1 0 64k"]);
            let l2 = d.map(T).l2_offset;
            d.poke64(T, l2 + 16 + 8, 0x0000_0000_0000_0003);
            T
        }),
        case!("271", "compressed cluster with a subcluster bitmap", |d| {
            d.create(T, "extended_l2=on", "1M")
                .io(T, &["write -c -P 1 0 64k"]);
            let l2 = d.map(T).l2_offset;
            d.poke64(T, l2 + 8, 0x0000_0000_0000_0001);
            T
        }),
        case!(
            "271",
            "zero bits on an unallocated cluster (accepted)",
            |d| {
                d.create(T, "extended_l2=on", "1M")
                    .io(T, &["write -P 1 0 64k"]);
                let l2 = d.map(T).l2_offset;
                d.poke64(T, l2 + 16 + 8, 0xffff_ffff_0000_0000);
                T
            }
        ),
        case!(
            "271",
            "standard zero flag set with extended L2 (accepted)",
            |d| {
                d.create(T, "extended_l2=on", "1M")
                    .io(T, &["write -P 1 0 64k"]);
                let l2 = d.map(T).l2_offset;
                let e = d.peek(T, l2, 8);
                d.poke64(T, l2, e | 1);
                T
            }
        ),
        case!(
            "271",
            "partial subcluster writes at the end of the file (accepted)",
            |d| {
                d.create(T, "extended_l2=on", "1M")
                    .io(T, &["write -P 1 0 2k", "write -P 2 70k 1k"]);
                T
            }
        ),
        // --- 112: refcount widths ---
        case!(
            "112",
            "refcount_bits=1: an L2 table referenced twice (overflow)",
            |d| {
                d.create(T, "refcount_bits=1", "1G").io(T, &["write 0 512"]);
                let e = d.peek(T, L1, 8);
                d.poke64(T, L1 + 8, e);
                T
            }
        ),
        case!(
            "112",
            "refcount_bits=2: a data cluster mapped four times",
            |d| {
                d.create(T, "refcount_bits=2", "64M")
                    .io(T, &["write 0 512"]);
                let e = d.peek(T, L2, 8) & !(1 << 63);
                d.poke64(T, L2, e)
                    .poke64(T, L2 + 8, e)
                    .poke64(T, L2 + 16, e)
                    .poke64(T, L2 + 24, e);
                T
            }
        ),
        case!(
            "112",
            "refcount_bits=64: refcount raised to 2^63 (leak)",
            |d| {
                d.create(T, "refcount_bits=64", "64M")
                    .io(T, &["write 0 512"]);
                d.poke64(T, RB + 5 * 8, 1 << 63);
                T
            }
        ),
        // --- 108: refcount structures unusable (rebuild cases) ---
        case!("108", "refcount table points at itself", |d| {
            d.create(T, "", "64M").poke64(T, RT, RT);
            T
        }),
        case!("108", "refcount block beyond EOF", |d| {
            d.create(T, "", "64M").poke64(T, RT, 0x1_0000_0000);
            T
        }),
        case!("108", "refcount block overlapping the L1 table", |d| {
            written(d, "");
            d.poke64(T, RT, L1);
            T
        }),
        case!(
            "108",
            "data cluster with refcount 0 beyond the refcount block",
            |d| {
                written(d, "");
                d.poke16(T, RB + 5 * 2, 0);
                T
            }
        ),
        // --- 138: the check on unusual layouts ---
        case!(
            "138",
            "compressed cluster far past the end of the file",
            |d| {
                d.create(T, "cluster_size=512", "1M")
                    .io(T, &["write 0 512"]);
                let m = d.map(T);
                d.poke64(T, m.l2_offset, 1 << 62 | 0x10_0000_0000);
                T
            }
        ),
        case!("138", "512-byte clusters, L2 entry past EOF", |d| {
            d.create(T, "cluster_size=512", "1M").io(T, &["write 0 2k"]);
            let m = d.map(T);
            d.poke64(T, m.l2_offset, 1 << 63 | 0x4000_0000);
            T
        }),
        // --- 061/036: feature bits ---
        case!("061", "corrupt bit set", |d| {
            d.create(T, "", "64M").poke64(T, 72, 2);
            T
        }),
        case!(
            "061",
            "dirty bit set on a lazy-refcounts image, refcounts consistent (accepted)",
            |d| {
                d.create(T, "lazy_refcounts=on", "64M").poke64(T, 72, 1);
                T
            }
        ),
        case!("061", "lazy refcounts and a crash", |d| {
            d.create(T, "lazy_refcounts=on", "64M");
            let _ = std::process::Command::new("sh")
                .arg("-c")
                .arg("ulimit -c 0; exec qemu-io -f qcow2 -c 'write -P 0x5a 0 128k' -c abort t.qcow2 >/dev/null 2>&1")
                .current_dir(d.path)
                .status();
            d.log.push("qemu-io write + abort".into());
            T
        }),
        case!("036", "unknown incompatible feature bit 63", |d| {
            d.create(T, "", "64M").poke64(T, 72, 1 << 63);
            T
        }),
        case!("036", "unknown compatible feature bit (accepted)", |d| {
            d.create(T, "", "64M").poke64(T, 80, 1 << 63);
            T
        }),
        case!("036", "unknown autoclear feature bit (accepted)", |d| {
            d.create(T, "", "64M").poke64(T, 88, 1 << 63);
            T
        }),
        case!(
            "036",
            "incompatible bits 4 and 62 set, 62 named by the feature table",
            |d| {
                d.create(T, "", "64M");
                let ft = d.ext(T, 0x6803_f857).unwrap_or(0);
                let mut e = [0u8; 48];
                e[1] = 62;
                e[2..10].copy_from_slice(b"testfeat");
                let len = d.peek(T, ft - 4, 4);
                d.poke(T, ft + len, &e).poke32(T, ft - 4, (len + 48) as u32);
                d.poke64(T, 72, 1 << 62);
                T
            }
        ),
        // --- 287: compression type ---
        case!(
            "287",
            "zstd compression type with the incompatible bit cleared",
            |d| {
                d.create(T, "compression_type=zstd", "64M");
                let f = d.peek(T, 72, 8);
                d.poke64(T, 72, f & !8);
                T
            }
        ),
        case!(
            "287",
            "zlib compression type with the incompatible bit set",
            |d| {
                d.create(T, "", "64M").poke64(T, 72, 8);
                T
            }
        ),
        case!("287", "unknown compression type 2", |d| {
            d.create(T, "compression_type=zstd", "64M")
                .poke(T, 104, &[2]);
            T
        }),
        case!(
            "287",
            "zstd image with compressed clusters (accepted)",
            |d| {
                d.create(T, "compression_type=zstd", "1M")
                    .io(T, &["write -c -P 7 0 64k", "write -c -P 8 64k 64k"]);
                T
            }
        ),
        // --- 289: a failed data file write leaves a clean image ---
        case!(
            "289",
            "data file write failed by blkdebug (accepted)",
            |d| {
                d.create(T, "data_file=t.qcow2.data", "64k");
                std::fs::write(
                    d.p("blkdebug.conf"),
                    "[inject-error]\nevent = \"write_aio\"\nerrno = \"5\"\nonce = \"on\"\n",
                )
                .ok();
                d.io_spec(
                "json:{\"driver\":\"qcow2\",\"file\":{\"driver\":\"file\",\"filename\":\"t.qcow2\"},\"data-file\":{\"driver\":\"raw\",\"file\":{\"driver\":\"blkdebug\",\"config\":\"blkdebug.conf\",\"image\":{\"driver\":\"file\",\"filename\":\"t.qcow2.data\"}}}}",
                &["write 0 64k"],
            );
                T
            }
        ),
        // --- 290: discard on v2 and v3, with and without a backing file ---
        case!("290", "v2 image, all clusters discarded (accepted)", |d| {
            d.create(T, "compat=0.10", "128k")
                .io(T, &["write -P 1 0 128k", "discard 0 128k"]);
            T
        }),
        case!("290", "v3 image, all clusters discarded (accepted)", |d| {
            d.create(T, "compat=1.1", "128k")
                .io(T, &["write -P 1 0 128k", "discard 0 128k"]);
            T
        }),
        case!(
            "290",
            "v2 overlay, discard over a backing file (accepted)",
            |d| {
                d.create("b.qcow2", "", "128k")
                    .io("b.qcow2", &["write -P 0xff 0 128k"]);
                d.create(
                    T,
                    "compat=0.10,backing_file=b.qcow2,backing_fmt=qcow2",
                    "128k",
                );
                d.io(T, &["write -P 1 0 128k", "discard 0 128k"]);
                T
            }
        ),
        case!(
            "290",
            "v3 overlay, discard over a backing file (accepted)",
            |d| {
                d.create("b.qcow2", "", "128k")
                    .io("b.qcow2", &["write -P 0xff 0 128k"]);
                d.create(
                    T,
                    "compat=1.1,backing_file=b.qcow2,backing_fmt=qcow2",
                    "128k",
                );
                d.io(T, &["write -P 1 0 128k", "discard 0 128k"]);
                T
            }
        ),
        // --- 114: backing format ---
        case!("114", "unknown backing format", |d| {
            d.create("b.qcow2", "", "64M");
            d.create(T, "backing_file=b.qcow2,backing_fmt=qcow2", "64M");
            let at = d.ext(T, 0xe279_2aca).unwrap_or(0);
            d.poke(T, at, b"foo\0\0");
            T
        }),
        case!("114", "backing file missing", |d| {
            d.create("b.qcow2", "", "64M");
            d.create(T, "backing_file=b.qcow2,backing_fmt=qcow2", "64M");
            let _ = std::fs::remove_file(d.p("b.qcow2"));
            T
        }),
        // --- 165/291: persistent bitmaps ---
        case!("165", "bitmap in use after a crash", |d| {
            d.create(T, "", "64M").img(&["bitmap", "--add", T, "b0"]);
            let _ = std::process::Command::new("sh")
                .arg("-c")
                .arg("ulimit -c 0; exec qemu-io -f qcow2 -c 'write -P 1 0 64k' -c abort t.qcow2 >/dev/null 2>&1")
                .current_dir(d.path)
                .status();
            d.log.push("qemu-io write + abort".into());
            T
        }),
        case!("165", "bitmap with granularity 2^40", |d| {
            d.create(T, "", "64M").img(&["bitmap", "--add", T, "b0"]);
            let dir = d.map(T).bitmap_dir.unwrap_or(0);
            d.poke(T, dir + 17, &[40]);
            T
        }),
        case!("165", "bitmap table entry with reserved bits", |d| {
            d.create(T, "", "64M")
                .io(T, &["write 0 64k"])
                .img(&["bitmap", "--add", T, "b0"]);
            d.io(T, &["write 64k 64k"]);
            let dir = d.map(T).bitmap_dir.unwrap_or(0);
            let t = d.peek(T, dir, 8);
            d.poke64(T, t, 0xff00_0000_0000_0000);
            T
        }),
        case!("165", "bitmap directory of 0 bytes", |d| {
            d.create(T, "", "64M").img(&["bitmap", "--add", T, "b0"]);
            let at = d.ext(T, 0x2385_2875).unwrap_or(0);
            d.poke64(T, at + 8, 0);
            T
        }),
        case!(
            "165",
            "bitmaps extension counting two bitmaps, directory holding one",
            |d| {
                d.create(T, "", "64M").img(&["bitmap", "--add", T, "b0"]);
                let at = d.ext(T, 0x2385_2875).unwrap_or(0);
                d.poke32(T, at, 2);
                T
            }
        ),
        case!(
            "165",
            "bitmaps autoclear bit cleared (bitmaps ignored)",
            |d| {
                d.create(T, "", "64M").img(&["bitmap", "--add", T, "b0"]);
                let f = d.peek(T, 88, 8);
                d.poke64(T, 88, f & !1);
                T
            }
        ),
        case!("165", "two bitmaps with the same name", |d| {
            d.create(T, "", "64M")
                .img(&["bitmap", "--add", T, "ab"])
                .img(&["bitmap", "--add", T, "ac"]);
            let dir = d.map(T).bitmap_dir.unwrap_or(0);
            let name_len = d.peek(T, dir + 18, 2);
            let len = (24 + name_len).next_multiple_of(8);
            d.poke(T, dir + len + 24 + 1, b"b");
            T
        }),
        case!("165", "disabled and merged bitmaps (accepted)", |d| {
            d.create(T, "", "64M")
                .img(&["bitmap", "--add", T, "b0"])
                .io(T, &["write 0 1M"]);
            d.img(&["bitmap", "--add", "--disable", T, "b1"])
                .img(&["bitmap", "--merge", "b0", T, "b1"]);
            T
        }),
        // --- 244: external data files ---
        case!("244", "external data file missing", |d| {
            d.create(T, "data_file=t.qcow2.data", "64M")
                .io(T, &["write 0 64k"]);
            let _ = std::fs::remove_file(d.p("t.qcow2.data"));
            T
        }),
        case!("244", "data-file-raw without a data file", |d| {
            d.create(T, "", "64M").poke64(T, 88, 2);
            T
        }),
        case!("244", "data file bit without a data file name", |d| {
            d.create(T, "", "64M").poke64(T, 72, 4);
            T
        }),
        case!(
            "244",
            "compressed cluster in an image with a data file",
            |d| {
                d.create(T, "data_file=t.qcow2.data", "64M")
                    .io(T, &["write 0 64k"]);
                let l2 = d.map(T).l2_offset;
                d.poke64(T, l2, 1 << 62 | 0x5_0000);
                T
            }
        ),
        case!(
            "244",
            "data file raw image, fully written (accepted)",
            |d| {
                d.create(T, "data_file=t.qcow2.data,data_file_raw=on", "1M")
                    .io(T, &["write -P 3 0 1M"]);
                T
            }
        ),
        // --- truncation (what 060/261 build with truncate -s) ---
        case!("060", "file truncated in the middle of the data", |d| {
            d.create(T, "", "4M").io(T, &["write -P 1 0 1M"]);
            let n = d.len(T);
            d.truncate(T, n / 2);
            T
        }),
        case!("060", "file truncated inside the L2 table", |d| {
            written(d, "");
            d.truncate(T, L2 + 100);
            T
        }),
        case!("214", "last compressed cluster unpadded (accepted)", |d| {
            d.create(T, "", "1M").io(T, &["write -c -P 0x3c 0 64k"]);
            T
        }),
        case!(
            "274",
            "overlay larger than its backing file (accepted)",
            |d| {
                d.create("b.qcow2", "", "1M")
                    .io("b.qcow2", &["write -P 5 0 1M"]);
                d.create(T, "backing_file=b.qcow2,backing_fmt=qcow2", "4M")
                    .io(T, &["write -P 6 3M 64k"]);
                T
            }
        ),
        case!(
            "274",
            "overlay smaller than its backing file (accepted)",
            |d| {
                d.create("b.qcow2", "", "4M")
                    .io("b.qcow2", &["write -P 5 0 4M"]);
                d.create(T, "backing_file=b.qcow2,backing_fmt=qcow2", "1M");
                T
            }
        ),
        // --- 039: the dirty bit ---
        case!(
            "039",
            "dirty bit set, refcounts consistent (accepted)",
            |d| {
                d.create(T, "", "64M")
                    .io(T, &["write 0 64k"])
                    .poke64(T, 72, 1);
                T
            }
        ),
        case!("039", "dirty bit set and a leaked cluster", |d| {
            d.create(T, "", "64M")
                .io(T, &["write 0 64k"])
                .poke64(T, 72, 1);
            let k = d.len(T).div_ceil(65536);
            d.truncate(T, (k + 1) * 65536).poke16(T, RB + k * 2, 1);
            T
        }),
        gap!(
            "060",
            "refcount for a cluster past the end of the file",
            "compare_refcounts stops at EOF",
            |d| {
                d.create(T, "", "64M").io(T, &["write 0 64k"]);
                let k = d.len(T).div_ceil(65536) + 2;
                d.poke16(T, RB + k * 2, 1);
                T
            }
        ),
    ];
    // The structural cases again on other cluster sizes: the iotests'
    // offsets become the image's own.
    v.extend(resized_cases());
    v
}

/// The L1/L2/refcount damage of 060 on 512-byte and 2 MiB clusters,
/// located through the image's own header.
fn resized_cases() -> Vec<Case> {
    macro_rules! sized {
        ($cs:expr, $label:expr) => {
            vec![
                case!(
                    "060",
                    concat!("L2 reference into L1, ", $label, " clusters"),
                    |d| {
                        d.create(T, concat!("cluster_size=", $cs), "8M")
                            .io(T, &["write -P 1 0 4k"]);
                        let m = d.map(T);
                        d.poke64(T, m.l1_offset, 1 << 63 | m.l1_offset);
                        T
                    }
                ),
                case!(
                    "060",
                    concat!("unaligned L2 entry, ", $label, " clusters"),
                    |d| {
                        d.create(T, concat!("cluster_size=", $cs), "8M")
                            .io(T, &["write -P 1 0 4k"]);
                        let m = d.map(T);
                        let e = d.peek(T, m.l2_offset, 8);
                        d.poke64(T, m.l2_offset, e | 0x200);
                        T
                    }
                ),
                case!(
                    "060",
                    concat!("data cluster with refcount 0, ", $label, " clusters"),
                    |d| {
                        d.create(T, concat!("cluster_size=", $cs), "8M")
                            .io(T, &["write -P 1 0 4k"]);
                        let m = d.map(T);
                        let (_, e) = m.data_entry.unwrap_or((0, 0));
                        let k = (e & 0x00ff_ffff_ffff_fe00) / m.cs;
                        d.poke16(T, m.refblock0 + k * 2, 0);
                        T
                    }
                ),
                case!(
                    "060",
                    concat!("leaked cluster, ", $label, " clusters"),
                    |d| {
                        d.create(T, concat!("cluster_size=", $cs), "8M")
                            .io(T, &["write -P 1 0 4k"]);
                        let m = d.map(T);
                        let k = d.len(T).div_ceil(m.cs);
                        d.truncate(T, (k + 1) * m.cs)
                            .poke16(T, m.refblock0 + k * 2, 1);
                        T
                    }
                ),
                case!(
                    "060",
                    concat!("COPIED flag cleared, ", $label, " clusters"),
                    |d| {
                        d.create(T, concat!("cluster_size=", $cs), "8M")
                            .io(T, &["write -P 1 0 4k"]);
                        let m = d.map(T);
                        let (at, e) = m.data_entry.unwrap_or((0, 0));
                        d.poke64(T, at, e & !(1 << 63));
                        T
                    }
                ),
                case!(
                    "080",
                    concat!("snapshot L1 unaligned, ", $label, " clusters"),
                    |d| {
                        d.create(T, concat!("cluster_size=", $cs), "8M")
                            .io(T, &["write -P 1 0 4k"]);
                        d.img(&["snapshot", "-c", "s", T]);
                        let s = d.map(T).snapshots[0];
                        let l1 = d.peek(T, s, 8);
                        d.poke64(T, s, l1 + 0x200);
                        T
                    }
                ),
            ]
        };
    }
    let mut v = sized!("512", "512 B");
    v.extend(sized!("2M", "2 MiB"));
    v.extend(sized!("16k", "16 KiB"));
    v
}

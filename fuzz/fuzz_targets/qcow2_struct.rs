#![no_main]
//! Structure-aware: the input describes a qcow2 image — header fields,
//! extensions, and tables (L1, L2, refcount table and blocks, snapshot
//! table, bitmap directory and tables) placed at clusters of the image
//! and pointing at other clusters of it — which is built into bytes and
//! run through every entry point (open, deep check, guest reads of the
//! current disk and snapshots, known_zero). Random bytes almost never get
//! past the magic and cluster_bits; these reach the walk, the refcount
//! comparison, snapshots, bitmaps and compressed and subcluster entries.
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

/// Clusters in the image: small, so entries hit real structures often.
const CLUSTERS: u64 = 24;

#[derive(Arbitrary, Debug)]
enum Kind {
    L1,
    L2,
    Refblock,
    Raw,
}

#[derive(Arbitrary, Debug)]
struct Entry {
    /// Cluster the entry points to (mod CLUSTERS), or a raw value.
    target: u8,
    raw: bool,
    value: u64,
    /// Flags: COPIED, compressed, zero, reserved bits.
    flags: u8,
    /// Extended L2 bitmap, or compressed sector count.
    extra: u32,
}

#[derive(Arbitrary, Debug)]
struct Table {
    kind: Kind,
    cluster: u8,
    first: u16,
    entries: Vec<Entry>,
}

#[derive(Arbitrary, Debug)]
struct Snap {
    l1_cluster: u8,
    l1_size: u16,
    id: Vec<u8>,
    name: Vec<u8>,
    extra: Vec<u8>,
    date: u32,
}

#[derive(Arbitrary, Debug)]
struct Bitmap {
    table_cluster: u8,
    table_size: u8,
    flags: u8,
    gran: u8,
    ty: u8,
    name: Vec<u8>,
    extra: u8,
}

#[derive(Arbitrary, Debug)]
struct Spec {
    v2: bool,
    /// 9..=13 mostly (small images), 14..=16 for extended L2.
    cluster_bits: u8,
    size_l1: u8,
    l1_size_delta: i8,
    incompat: u8,
    compat: u8,
    autoclear: u8,
    refcount_order: u8,
    zstd: bool,
    header_length: u8,
    extensions: Vec<(u8, Vec<u8>)>,
    backing: Option<Vec<u8>>,
    data_file: bool,
    reftable_clusters: u8,
    tables: Vec<Table>,
    snapshots: Vec<Snap>,
    bitmaps: Vec<Bitmap>,
    nb_snapshots_delta: i8,
    crypt: u8,
    truncate: u16,
}

fn put(b: &mut [u8], at: u64, v: &[u8]) {
    let at = at as usize;
    if let Some(d) = b.get_mut(at..at + v.len()) {
        d.copy_from_slice(v);
    }
}

const EXT_TYPES: [u32; 6] = [0xe279_2aca, 0x6803_f857, 0x2385_2875, 0x0537_be77, 0x4441_5441, 0x1234_5678];

fn build(s: &Spec) -> Vec<u8> {
    let cluster_bits = 9 + u32::from(s.cluster_bits % 8);
    let cs = 1u64 << cluster_bits;
    let mut b = vec![0u8; (CLUSTERS * cs) as usize];
    let ext_l2 = s.incompat & 0x10 != 0;
    let es = if ext_l2 { 16 } else { 8 };
    put(&mut b, 0, &0x5146_49fbu32.to_be_bytes());
    put(&mut b, 4, &(if s.v2 { 2u32 } else { 3 }).to_be_bytes());
    put(&mut b, 20, &cluster_bits.to_be_bytes());
    let per_l1 = (cs / es) * cs;
    let l1_needed = u64::from(s.size_l1 % 16) + 1;
    put(&mut b, 24, &(l1_needed * per_l1 - u64::from(s.size_l1)).to_be_bytes());
    let l1_size = (l1_needed as i64 + i64::from(s.l1_size_delta % 4)).max(0) as u32;
    put(&mut b, 32, &u32::from(s.crypt % 4 / 3).to_be_bytes());
    put(&mut b, 36, &l1_size.to_be_bytes());
    put(&mut b, 40, &(3 * cs).to_be_bytes());
    put(&mut b, 48, &cs.to_be_bytes());
    put(&mut b, 56, &u32::from(1 + s.reftable_clusters % 2).to_be_bytes());
    let nb = (s.snapshots.len() as i64 + i64::from(s.nb_snapshots_delta % 3)).max(0) as u32;
    put(&mut b, 60, &nb.to_be_bytes());
    put(&mut b, 64, &(5 * cs).to_be_bytes());
    let mut incompat = u64::from(s.incompat & 0x1f);
    if s.zstd {
        incompat |= 8;
    }
    if s.data_file {
        incompat |= 4;
    }
    if !s.v2 {
        put(&mut b, 72, &incompat.to_be_bytes());
        put(&mut b, 80, &u64::from(s.compat & 1).to_be_bytes());
        put(&mut b, 88, &u64::from(s.autoclear & 3).to_be_bytes());
        put(&mut b, 96, &u32::from(s.refcount_order % 7).to_be_bytes());
        let hl = if s.header_length < 200 { 112 } else { 104 + u32::from(s.header_length % 16) * 8 };
        put(&mut b, 100, &hl.to_be_bytes());
        b[104] = u8::from(s.zstd);
    }
    // Extensions from the end of the header.
    let mut at = if s.v2 { 72 } else { 112 };
    let mut exts: Vec<(u32, Vec<u8>)> = s
        .extensions
        .iter()
        .take(6)
        .map(|(t, d)| (EXT_TYPES[usize::from(*t) % EXT_TYPES.len()], d.clone()))
        .collect();
    if !s.bitmaps.is_empty() {
        let mut d = Vec::new();
        d.extend_from_slice(&(s.bitmaps.len() as u32).to_be_bytes());
        d.extend_from_slice(&0u32.to_be_bytes());
        let dir_size: usize = s
            .bitmaps
            .iter()
            .map(|m| (24 + usize::from(m.extra % 2) * 8 + m.name.len().min(64)).next_multiple_of(8))
            .sum();
        d.extend_from_slice(&(dir_size as u64).to_be_bytes());
        d.extend_from_slice(&(6 * cs).to_be_bytes());
        exts.push((0x2385_2875, d));
    }
    if s.data_file {
        exts.push((0x4441_5441, b"data.raw".to_vec()));
    }
    for (t, d) in &exts {
        let len = d.len().min(256);
        if at + 8 + len as u64 > cs {
            break;
        }
        put(&mut b, at, &t.to_be_bytes());
        put(&mut b, at + 4, &(len as u32).to_be_bytes());
        put(&mut b, at + 8, &d[..len]);
        at = (at + 8 + len as u64).next_multiple_of(8);
    }
    if let Some(name) = &s.backing {
        let len = name.len().min(64) as u64;
        if at + 8 + len <= cs {
            put(&mut b, 8, &(at + 8).to_be_bytes());
            put(&mut b, 16, &(len as u32).to_be_bytes());
            put(&mut b, at + 8, &name[..len as usize]);
        }
    }
    // A sound refcount table: block at cluster 2, every cluster counted once.
    put(&mut b, cs, &(2 * cs).to_be_bytes());
    // Tables at the clusters they name.
    for t in s.tables.iter().take(16) {
        let base = u64::from(t.cluster) % CLUSTERS * cs;
        for (i, e) in t.entries.iter().take(64).enumerate() {
            let target = u64::from(e.target) % CLUSTERS * cs;
            let flags = u64::from(e.flags);
            let v = if e.raw {
                e.value
            } else {
                match t.kind {
                    Kind::L1 => target | (flags & 0x80) << 56 | (flags & 1) << 60,
                    Kind::L2 => {
                        if flags & 0x40 != 0 {
                            // Compressed: a byte offset and a sector count.
                            let shift = 62 - (cluster_bits - 8);
                            let off = target + u64::from(e.extra % 512);
                            1 << 62 | u64::from(e.extra >> 9) % 4 << shift | off
                        } else {
                            target | (flags & 0x80) << 56 | flags & 1 | (flags & 2) << 55
                        }
                    }
                    Kind::Refblock => u64::from(e.extra % 4),
                    Kind::Raw => e.value,
                }
            };
            let width = match t.kind {
                Kind::L2 => es,
                _ => 8,
            };
            let at = base + (u64::from(t.first) + i as u64) * width % cs;
            put(&mut b, at, &v.to_be_bytes());
            if ext_l2 && matches!(t.kind, Kind::L2) {
                put(&mut b, at + 8, &(u64::from(e.extra) | u64::from(e.extra) << 32 & flags << 56).to_be_bytes());
            }
        }
    }
    // The snapshot table at cluster 5.
    let mut at = 5 * cs;
    for sn in s.snapshots.iter().take(8) {
        let (id, name) = (&sn.id[..sn.id.len().min(16)], &sn.name[..sn.name.len().min(16)]);
        let extra = &sn.extra[..sn.extra.len().min(32)];
        put(&mut b, at, &(u64::from(sn.l1_cluster) % CLUSTERS * cs).to_be_bytes());
        put(&mut b, at + 8, &u32::from(sn.l1_size % 64).to_be_bytes());
        put(&mut b, at + 12, &(id.len() as u16).to_be_bytes());
        put(&mut b, at + 14, &(name.len() as u16).to_be_bytes());
        put(&mut b, at + 16, &sn.date.to_be_bytes());
        put(&mut b, at + 36, &(extra.len() as u32).to_be_bytes());
        put(&mut b, at + 40, extra);
        put(&mut b, at + 40 + extra.len() as u64, id);
        put(&mut b, at + 40 + (extra.len() + id.len()) as u64, name);
        at = (at + 40 + (extra.len() + id.len() + name.len()) as u64).next_multiple_of(8);
    }
    // The bitmap directory at cluster 6.
    let mut at = 6 * cs;
    for m in s.bitmaps.iter().take(8) {
        let name = &m.name[..m.name.len().min(64)];
        let extra = u64::from(m.extra % 2) * 8;
        put(&mut b, at, &(u64::from(m.table_cluster) % CLUSTERS * cs).to_be_bytes());
        put(&mut b, at + 8, &u32::from(m.table_size % 4).to_be_bytes());
        put(&mut b, at + 12, &u32::from(m.flags % 8).to_be_bytes());
        b[(at + 16) as usize] = m.ty % 3;
        b[(at + 17) as usize] = 8 + m.gran % 26;
        put(&mut b, at + 18, &(name.len() as u16).to_be_bytes());
        put(&mut b, at + 20, &(extra as u32).to_be_bytes());
        put(&mut b, at + 24 + extra, name);
        at = (at + 24 + extra + name.len() as u64).next_multiple_of(8);
    }
    // Refcounts of 1 for every cluster, as a sound image would have.
    let order = if s.v2 { 4 } else { u32::from(s.refcount_order % 7) };
    for k in 0..CLUSTERS {
        let bits = 1u64 << order;
        let bit = k * bits;
        let byte = (2 * cs + bit / 8) as usize;
        if bits < 8 {
            b[byte] |= 1 << (bit % 8);
        } else {
            let w = (bits / 8) as usize;
            b[byte + w - 1] = 1;
        }
    }
    let cut = b.len().saturating_sub(usize::from(s.truncate) % (b.len() / 2));
    b.truncate(cut);
    b
}

fuzz_target!(|s: Spec| {
    imgcheck_qcow2::exercise(&build(&s));
});

//! Directory-index name hashes (legacy, half-MD4, TEA; signed and unsigned
//! char variants), as the kernel and e2fsprogs compute them, so the
//! deep check can tell whether each entry sits in the htree leaf its hash
//! belongs to. SipHash (casefolded+encrypted) is not computed.

/// Hash of `name` under `version` (0–5) with the filesystem's hash seed;
/// `None` for versions not computed here.
pub(crate) fn dirhash(version: u8, name: &[u8], seed: [u32; 4]) -> Option<u32> {
    let unsigned = version >= 3;
    let mut buf = if seed.iter().all(|&s| s == 0) {
        [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476]
    } else {
        seed
    };
    let hash = match version {
        0 | 3 => legacy(name, unsigned),
        1 | 4 => {
            let mut rest = name;
            while !rest.is_empty() {
                let mut input = [0u32; 8];
                str2hashbuf(rest, &mut input, unsigned);
                half_md4(&mut buf, &input);
                rest = rest.get(32..).unwrap_or(&[]);
            }
            buf[1]
        }
        2 | 5 => {
            let mut rest = name;
            while !rest.is_empty() {
                let mut input = [0u32; 4];
                str2hashbuf(rest, &mut input, unsigned);
                tea(&mut buf, &input);
                rest = rest.get(16..).unwrap_or(&[]);
            }
            buf[0]
        }
        _ => return None,
    };
    Some(hash & !1)
}

/// A name byte as the C code sees it: `signed char` or `unsigned char`,
/// widened to 32 bits.
fn ch(b: u8, unsigned: bool) -> u32 {
    if unsigned {
        u32::from(b)
    } else {
        i32::from(i8::from_ne_bytes([b])).cast_unsigned()
    }
}

fn legacy(name: &[u8], unsigned: bool) -> u32 {
    let (mut h0, mut h1) = (0x12a3_fe2du32, 0x37ab_e8f9u32);
    for &b in name {
        let mut h = h1.wrapping_add(h0 ^ ch(b, unsigned).wrapping_mul(7_152_373));
        if h & 0x8000_0000 != 0 {
            h = h.wrapping_sub(0x7fff_ffff);
        }
        h1 = h0;
        h0 = h;
    }
    h0.wrapping_shl(1)
}

/// Packs up to `out.len() * 4` bytes of `msg` into words, padded with the
/// length pattern.
fn str2hashbuf(msg: &[u8], out: &mut [u32], unsigned: bool) {
    // The pad repeats the remaining length (not truncated to a byte).
    let len = u32::try_from(msg.len()).unwrap_or(u32::MAX);
    let mut pad = len | len.wrapping_shl(8);
    pad |= pad.wrapping_shl(16);
    let take = msg.len().min(out.len().saturating_mul(4));
    let mut val = pad;
    let mut w = 0usize;
    for (i, &b) in msg.iter().take(take).enumerate() {
        val = ch(b, unsigned).wrapping_add(val.wrapping_shl(8));
        if i % 4 == 3 {
            if let Some(slot) = out.get_mut(w) {
                *slot = val;
            }
            w = w.saturating_add(1);
            val = pad;
        }
    }
    if let Some(slot) = out.get_mut(w) {
        *slot = val;
        w = w.saturating_add(1);
    }
    for slot in out.iter_mut().skip(w) {
        *slot = pad;
    }
}

fn tea(buf: &mut [u32; 4], input: &[u32; 4]) {
    let (mut b0, mut b1) = (buf[0], buf[1]);
    let [a, b, c, d] = *input;
    let mut sum = 0u32;
    for _ in 0..16 {
        sum = sum.wrapping_add(0x9E37_79B9);
        b0 = b0.wrapping_add(
            (b1.wrapping_shl(4).wrapping_add(a))
                ^ b1.wrapping_add(sum)
                ^ (b1.wrapping_shr(5).wrapping_add(b)),
        );
        b1 = b1.wrapping_add(
            (b0.wrapping_shl(4).wrapping_add(c))
                ^ b0.wrapping_add(sum)
                ^ (b0.wrapping_shr(5).wrapping_add(d)),
        );
    }
    buf[0] = buf[0].wrapping_add(b0);
    buf[1] = buf[1].wrapping_add(b1);
}

fn half_md4(buf: &mut [u32; 4], x: &[u32; 8]) {
    const K2: u32 = 0o13_240_474_631;
    const K3: u32 = 0o15_666_365_641;
    let f = |x: u32, y: u32, z: u32| z ^ (x & (y ^ z));
    let g = |x: u32, y: u32, z: u32| (x & y).wrapping_add((x ^ y) & z);
    let h = |x: u32, y: u32, z: u32| x ^ y ^ z;
    let [mut a, mut b, mut c, mut d] = *buf;
    let round = |fun: &dyn Fn(u32, u32, u32) -> u32,
                 a: &mut u32,
                 b: u32,
                 c: u32,
                 d: u32,
                 k: u32,
                 s: u32| {
        *a = a.wrapping_add(fun(b, c, d)).wrapping_add(k);
        *a = a.rotate_left(s);
    };
    // Round 1
    round(&f, &mut a, b, c, d, x[0], 3);
    round(&f, &mut d, a, b, c, x[1], 7);
    round(&f, &mut c, d, a, b, x[2], 11);
    round(&f, &mut b, c, d, a, x[3], 19);
    round(&f, &mut a, b, c, d, x[4], 3);
    round(&f, &mut d, a, b, c, x[5], 7);
    round(&f, &mut c, d, a, b, x[6], 11);
    round(&f, &mut b, c, d, a, x[7], 19);
    // Round 2
    round(&g, &mut a, b, c, d, x[1].wrapping_add(K2), 3);
    round(&g, &mut d, a, b, c, x[3].wrapping_add(K2), 5);
    round(&g, &mut c, d, a, b, x[5].wrapping_add(K2), 9);
    round(&g, &mut b, c, d, a, x[7].wrapping_add(K2), 13);
    round(&g, &mut a, b, c, d, x[0].wrapping_add(K2), 3);
    round(&g, &mut d, a, b, c, x[2].wrapping_add(K2), 5);
    round(&g, &mut c, d, a, b, x[4].wrapping_add(K2), 9);
    round(&g, &mut b, c, d, a, x[6].wrapping_add(K2), 13);
    // Round 3
    round(&h, &mut a, b, c, d, x[3].wrapping_add(K3), 3);
    round(&h, &mut d, a, b, c, x[7].wrapping_add(K3), 9);
    round(&h, &mut c, d, a, b, x[2].wrapping_add(K3), 11);
    round(&h, &mut b, c, d, a, x[6].wrapping_add(K3), 15);
    round(&h, &mut a, b, c, d, x[1].wrapping_add(K3), 3);
    round(&h, &mut d, a, b, c, x[5].wrapping_add(K3), 9);
    round(&h, &mut c, d, a, b, x[0].wrapping_add(K3), 11);
    round(&h, &mut b, c, d, a, x[4].wrapping_add(K3), 15);
    buf[0] = buf[0].wrapping_add(a);
    buf[1] = buf[1].wrapping_add(b);
    buf[2] = buf[2].wrapping_add(c);
    buf[3] = buf[3].wrapping_add(d);
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values from `debugfs -R "dx_hash -h ALG -s SEED NAME"`
    // (e2fsprogs 1.47.0, signed char), seed 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0.
    const SEED: [u32; 4] = [0x3c2d_1e0f, 0x7869_5a4b, 0xb4a5_9687, 0xf0e1_d2c3];
    const LONG: &[u8] = b"a-file-with-a-longish-name-0001-and-more-text-to-exceed-32";
    const CAFE: &[u8] = "caf\u{e9}".as_bytes();

    #[test]
    fn legacy_half_md4_tea_match_e2fsprogs() {
        assert_eq!(dirhash(0, b"hello", SEED), Some(0x3225_2546));
        assert_eq!(dirhash(0, LONG, SEED), Some(0x4264_1c4c));
        assert_eq!(dirhash(0, CAFE, SEED), Some(0x96ca_5a2c));
        assert_eq!(dirhash(1, b"hello", SEED), Some(0x2322_45ac));
        assert_eq!(dirhash(1, LONG, SEED), Some(0xc5fa_94fe));
        assert_eq!(dirhash(1, CAFE, SEED), Some(0xfb29_3d12));
        assert_eq!(dirhash(2, b"hello", SEED), Some(0xf9a4_dcd0));
        assert_eq!(dirhash(2, LONG, SEED), Some(0xc250_a5d6));
        assert_eq!(dirhash(2, CAFE, SEED), Some(0x4583_5f84));
        assert_eq!(dirhash(1, b"hello", [0; 4]), Some(0x1746_da32));
        // ASCII names hash alike signed and unsigned; high bytes do not.
        assert_eq!(dirhash(4, b"hello", SEED), dirhash(1, b"hello", SEED));
        assert_ne!(dirhash(4, CAFE, SEED), dirhash(1, CAFE, SEED));
        assert_eq!(dirhash(6, b"x", SEED), None);
    }
}

//! The Reed–Solomon repair GRUB i386-pc runs on core.img before it
//! decompresses its kernel (`startup_raw.S` calls
//! `grub_reed_solomon_recover` on everything past the first
//! `no_reed_solomon_length` bytes of lzma_decompress.img, with the parity
//! grub-bios-setup appended after the compressed kernel). Reproduced
//! step for step, because what matters is what GRUB ends up with, not
//! what an ideal decoder would: the code is over GF(2^8) with the
//! polynomial x^8+x^4+x^3+x^2+1, interleaved by 512 (byte `i` of every
//! sector is one codeword), in blocks of at most 200 sectors; the error
//! locator and the error values are solved by Gaussian elimination, and
//! whatever that yields is applied (beyond its capacity GRUB miscorrects
//! and the decompression that follows fails).

/// GRUB's interleave: one codeword per byte position of a sector.
const SECTOR: usize = 512;
/// Data plus parity bytes decoded at once (`MAX_BLOCK_SIZE`).
const MAX_BLOCK: usize = 200 * SECTOR;

struct Gf {
    exp: [u8; 510],
    log: [u8; 256],
}

impl Gf {
    fn new() -> Gf {
        let mut g = Gf {
            exp: [0; 510],
            log: [0; 256],
        };
        let mut cur: u8 = 1;
        for i in 0..255u8 {
            let k = usize::from(i);
            if let Some(e) = g.exp.get_mut(k) {
                *e = cur;
            }
            if let Some(e) = g.exp.get_mut(k.saturating_add(255)) {
                *e = cur;
            }
            if let Some(l) = g.log.get_mut(usize::from(cur)) {
                *l = i;
            }
            cur = if cur & 0x80 != 0 {
                (cur << 1) ^ 0x1d
            } else {
                cur << 1
            };
        }
        g
    }

    fn pow(&self, i: usize) -> u8 {
        self.exp.get(i % 255).copied().unwrap_or(0)
    }

    fn lg(&self, a: u8) -> usize {
        usize::from(self.log.get(usize::from(a)).copied().unwrap_or(0))
    }

    fn mul(&self, a: u8, b: u8) -> u8 {
        if a == 0 || b == 0 {
            return 0;
        }
        self.pow(self.lg(a).saturating_add(self.lg(b)))
    }

    fn inv(&self, a: u8) -> u8 {
        self.pow(255usize.saturating_sub(self.lg(a)))
    }

    /// `pol` (its first byte the highest power) at x = α^`log_x`.
    fn eval(&self, pol: &[u8], log_x: usize) -> u8 {
        let mut s = 0u8;
        let mut log_xn = 0usize;
        for &c in pol.iter().rev() {
            if c != 0 {
                s ^= self.pow(self.lg(c).saturating_add(log_xn));
            }
            log_xn = log_xn.saturating_add(log_x) % 255;
        }
        s
    }

    /// Solves `n` equations in `m` unknowns over rows of `m + 1`
    /// (`gauss_solve`): forward elimination on each row's first non-zero
    /// column, then back substitution; free unknowns stay zero.
    fn solve(&self, eq: &mut [u8], n: usize, m: usize) -> Vec<u8> {
        let w = m.saturating_add(1);
        let mut chosen: Vec<Option<usize>> = vec![None; n];
        let at = |r: usize, c: usize| r.saturating_mul(w).saturating_add(c);
        for i in 0..n {
            let Some(nz) = (0..m).find(|&c| eq.get(at(i, c)).is_some_and(|&v| v != 0)) else {
                continue;
            };
            if let Some(c) = chosen.get_mut(i) {
                *c = Some(nz);
            }
            let r = self.inv(eq.get(at(i, nz)).copied().unwrap_or(0));
            for j in 0..w {
                if let Some(v) = eq.get_mut(at(i, j)) {
                    *v = self.mul(*v, r);
                }
            }
            for j in i.saturating_add(1)..n {
                let rr = eq.get(at(j, nz)).copied().unwrap_or(0);
                for k in 0..w {
                    let p = self.mul(eq.get(at(i, k)).copied().unwrap_or(0), rr);
                    if let Some(v) = eq.get_mut(at(j, k)) {
                        *v ^= p;
                    }
                }
            }
        }
        let mut sol = vec![0u8; m];
        for i in (0..n).rev() {
            let Some(Some(c)) = chosen.get(i).copied() else {
                continue;
            };
            let mut s = eq.get(at(i, m)).copied().unwrap_or(0);
            for (j, x) in sol.iter().enumerate() {
                s ^= self.mul(eq.get(at(i, j)).copied().unwrap_or(0), *x);
            }
            if let Some(x) = sol.get_mut(c) {
                *x = s;
            }
        }
        sol
    }

    /// One codeword `mm` of `s` data and `rs` parity bytes (`rs_recover`).
    fn recover(&self, mm: &mut [u8], s: usize, rs: usize) {
        let len = s.saturating_add(rs);
        let Some(word) = mm.get(..len) else { return };
        let sy: Vec<u8> = (0..rs).map(|i| self.eval(word, i)).collect();
        if sy.iter().all(|&v| v == 0) {
            return;
        }
        let rs2 = rs / 2;
        let w = rs2.saturating_add(1);
        let mut eq = vec![0u8; rs2.saturating_mul(w)];
        for i in 0..rs2 {
            for j in 0..w {
                if let Some(v) = eq.get_mut(i.saturating_mul(w).saturating_add(j)) {
                    *v = sy.get(i.saturating_add(j)).copied().unwrap_or(0);
                }
            }
        }
        let sigma = self.solve(&mut eq, rs2, rs2);
        let mut pot = Vec::new();
        let mut pos = Vec::new();
        for i in 0..len {
            if self.eval(&sigma, 255usize.saturating_sub(i)) == self.pow(i) {
                pot.push(self.pow(i));
                pos.push(len.saturating_sub(i).saturating_sub(1));
            }
        }
        let e = pot.len();
        let w = e.saturating_add(1);
        let mut eq = vec![0u8; rs.saturating_mul(w)];
        for i in 0..rs {
            for j in 0..e {
                let v = if i == 0 {
                    1
                } else {
                    let above = eq
                        .get(i.saturating_sub(1).saturating_mul(w).saturating_add(j))
                        .copied()
                        .unwrap_or(0);
                    self.mul(pot.get(j).copied().unwrap_or(0), above)
                };
                if let Some(x) = eq.get_mut(i.saturating_mul(w).saturating_add(j)) {
                    *x = v;
                }
            }
            if let Some(x) = eq.get_mut(i.saturating_mul(w).saturating_add(e)) {
                *x = sy.get(i).copied().unwrap_or(0);
            }
        }
        let vals = self.solve(&mut eq, rs, e);
        for (p, v) in pos.iter().zip(vals) {
            if let Some(b) = mm.get_mut(*p) {
                *b ^= v;
            }
        }
    }
}

/// Runs GRUB's repair in place on `buf`: `s` data bytes followed by `rs`
/// parity bytes (`grub_reed_solomon_recover`). Returns how many data
/// bytes it changed. Like GRUB it does nothing when more than half the
/// parity's tail is zeros (parity never written); where GRUB would loop
/// for ever (a block split that makes no progress) it stops.
pub fn recover(buf: &mut [u8], s: usize, rs: usize) -> usize {
    if rs == 0 || s.checked_add(rs).is_none_or(|n| n > buf.len()) {
        return 0;
    }
    let before: Vec<u8> = buf.get(..s).map(<[u8]>::to_vec).unwrap_or_default();
    let (data, parity) = buf.split_at_mut(s);
    let Some(parity) = parity.get(..rs) else {
        return 0;
    };
    let zeros = parity.iter().rev().take_while(|&&b| b == 0).count();
    if zeros > rs / 2 {
        return 0;
    }
    let gf = Gf::new();
    let (mut s, mut rs) = (s, rs);
    let (mut d0, mut p0) = (0usize, 0usize);
    let mut m = Vec::new();
    while s > 0 {
        let (mut cs, mut crs) = (s, rs);
        let tt = cs.saturating_add(crs);
        if tt > MAX_BLOCK {
            cs = (cs
                .saturating_mul(MAX_BLOCK / SECTOR)
                .checked_div(tt)
                .unwrap_or(0))
            .saturating_mul(SECTOR);
            crs = (crs
                .saturating_mul(MAX_BLOCK / SECTOR)
                .checked_div(tt)
                .unwrap_or(0))
            .saturating_mul(SECTOR);
        }
        if cs == 0 {
            break;
        }
        for i in 0..SECTOR {
            let pad = (SECTOR - 1).saturating_sub(i);
            let ds = cs.saturating_add(pad) / SECTOR;
            let rr = crs.saturating_add(pad) / SECTOR;
            if ds == 0 || rr == 0 {
                continue;
            }
            m.clear();
            let at = |base: usize, j: usize| {
                base.saturating_add(SECTOR.saturating_mul(j))
                    .saturating_add(i)
            };
            m.extend((0..ds).map(|j| data.get(at(d0, j)).copied().unwrap_or(0)));
            m.extend((0..rr).map(|j| parity.get(at(p0, j)).copied().unwrap_or(0)));
            gf.recover(&mut m, ds, rr);
            for (j, v) in m.iter().take(ds).enumerate() {
                if let Some(b) = data.get_mut(at(d0, j)) {
                    *b = *v;
                }
            }
        }
        d0 = d0.saturating_add(cs);
        p0 = p0.saturating_add(crs);
        s = s.saturating_sub(cs);
        rs = rs.saturating_sub(crs);
    }
    data.iter().zip(&before).filter(|(a, b)| a != b).count()
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::as_conversions
)]
mod tests {
    use super::*;

    /// Parity as grub-mkimage's `rs_encode` makes it: the remainder of
    /// the data times x^rs divided by ∏ (x − α^j), j < rs.
    fn encode(gf: &Gf, data: &[u8], rs: usize) -> Vec<u8> {
        let mut g = vec![0u8; rs + 1];
        g[rs] = 1;
        for j in 0..rs {
            for i in 0..rs {
                g[i] = g[i + 1] ^ gf.mul(g[i], gf.pow(j));
            }
            g[rs] = gf.mul(g[rs], gf.pow(j));
        }
        let mut m = data.to_vec();
        m.resize(data.len() + rs, 0);
        for j in 0..data.len() {
            let f = m[j];
            if f != 0 {
                for i in 0..=rs {
                    m[i + j] ^= gf.mul(g[i], f);
                }
            }
        }
        m[data.len()..].to_vec()
    }

    #[test]
    fn a_codeword_is_repaired_up_to_half_its_parity() {
        let gf = Gf::new();
        let data: Vec<u8> = (0..40u32).map(|i| (i * 37 + 11) as u8).collect();
        let parity = encode(&gf, &data, 10);
        let mut w = [data.clone(), parity.clone()].concat();
        // Clean: the syndromes are zero.
        gf.recover(&mut w, 40, 10);
        assert_eq!(&w[..40], &data[..]);
        for k in [1usize, 3, 5] {
            let mut w = [data.clone(), parity.clone()].concat();
            for e in 0..k {
                w[e * 7 + 2] ^= 0x5a;
            }
            gf.recover(&mut w, 40, 10);
            assert_eq!(&w[..40], &data[..], "{k} errors");
        }
    }
}

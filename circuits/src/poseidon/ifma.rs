//! Eight Poseidon permutations at once with AVX-512 IFMA (52-bit multiply-add), for CPUs that
//! have it (checked at run time; [`super::native::hash4_many`] falls back to one-by-one hashing).
//!
//! Each lane holds one permutation. A field element is five 52-bit limbs in Montgomery form with
//! `R = 2^260` (arkworks uses `2^256`; entering multiplies by 16, leaving by 1/16, both with
//! arkworks' scalar arithmetic). The round structure is [`super::native`]'s optimised form,
//! constant for constant, so outputs are identical; the unit tests of `native` check that against
//! the scalar permutation.
//!
//! Values are kept partly reduced, below `2p` (`p < 2^254`): a Montgomery product of operands
//! below `9p` is below `p + 81p²/2^260 < 2p`, and a dot product of five terms with one factor
//! below `p` (a constant) and the other below `2p` (the state), below `10p²` in all, is too (one
//! reduction, like arkworks' `sum_of_products`; five products of operands below `9p` need not
//! be). Additions are carried back to 52-bit limbs before they feed a multiplication (IFMA reads
//! only the low 52 bits of each operand).

use super::native::Optimized;
use ark_bn254::Fr;
use ark_ff::{BigInt, Field, PrimeField};
use std::arch::x86_64::*;

const MASK: u64 = (1 << 52) - 1;

type Limbs = [u64; 5];
/// One field element in each of the eight lanes: limb `k` of every lane in `v[k]`.
type V = [__m512i; 5];

/// Radix-2^52 limbs of a 256-bit integer.
fn split(b: &[u64; 4]) -> Limbs {
    [
        b[0] & MASK,
        ((b[0] >> 52) | (b[1] << 12)) & MASK,
        ((b[1] >> 40) | (b[2] << 24)) & MASK,
        ((b[2] >> 28) | (b[3] << 36)) & MASK,
        b[3] >> 16,
    ]
}

/// The 256-bit integer of normalised limbs whose value is below `2^256`.
fn join(l: &Limbs) -> [u64; 4] {
    [
        l[0] | (l[1] << 52),
        (l[1] >> 12) | (l[2] << 40),
        (l[2] >> 24) | (l[3] << 28),
        (l[3] >> 36) | (l[4] << 16),
    ]
}

fn sixteen() -> Fr {
    Fr::from(16u64)
}

/// `x` in Montgomery form for `R = 2^260`: arkworks' representation of `16·x` is `x·2^260 mod p`.
fn enter(x: Fr) -> Limbs {
    split(&(x * sixteen()).0 .0)
}

fn geq(a: &[u64; 4], b: &[u64; 4]) -> bool {
    for i in (0..4).rev() {
        if a[i] != b[i] {
            return a[i] > b[i];
        }
    }
    true
}

fn sub_in_place(a: &mut [u64; 4], b: &[u64; 4]) {
    let mut borrow = false;
    for i in 0..4 {
        let (d, b1) = a[i].overflowing_sub(b[i]);
        let (d, b2) = d.overflowing_sub(borrow as u64);
        a[i] = d;
        borrow = b1 || b2;
    }
}

/// The field element of a lane's limbs (value below `2^256`, any multiple of `p` above the
/// canonical one is subtracted).
fn leave(l: &Limbs, inv16: Fr) -> Fr {
    let p = Fr::MODULUS.0;
    let mut v = join(l);
    while geq(&v, &p) {
        sub_in_place(&mut v, &p);
    }
    // `v = y·2^260 mod p` read as arkworks' Montgomery form is `16·y`.
    Fr::new_unchecked(BigInt(v)) * inv16
}

/// The constants of one width, converted.
pub(super) struct Ifma<const W: usize> {
    mds: [[Limbs; W]; W],
    first_full: Vec<[Limbs; W]>,
    partial: Vec<Limbs>,
    sparse: Vec<([Limbs; W], [Limbs; W])>,
    last_partial: [[Limbs; W]; W],
    last_full: Vec<[Limbs; W]>,
    p: Limbs,
    two_p: Limbs,
    /// `-p⁻¹ mod 2^52`.
    p_inv: u64,
    inv16: Fr,
}

impl<const W: usize> Ifma<W> {
    pub(super) fn new(o: &Optimized<W>) -> Self {
        let row = |r: &[Fr; W]| -> [Limbs; W] { std::array::from_fn(|i| enter(r[i])) };
        let mat = |m: &[[Fr; W]; W]| -> [[Limbs; W]; W] { std::array::from_fn(|i| row(&m[i])) };
        let p = Fr::MODULUS.0;
        let mut two = p;
        let mut carry = 0u64;
        for limb in &mut two {
            let next = *limb >> 63;
            *limb = (*limb << 1) | carry;
            carry = next;
        }
        // Newton's iteration for the inverse of the low limb modulo 2^64.
        let mut inv = 1u64;
        for _ in 0..6 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(p[0].wrapping_mul(inv)));
        }
        Self {
            mds: mat(&o.mds),
            first_full: o.first_full.iter().map(row).collect(),
            partial: o.partial.iter().map(|&c| enter(c)).collect(),
            sparse: o.sparse.iter().map(|(a, b)| (row(a), row(b))).collect(),
            last_partial: mat(&o.last_partial),
            last_full: o.last_full.iter().map(row).collect(),
            p: split(&p),
            two_p: split(&two),
            p_inv: inv.wrapping_neg() & MASK,
            inv16: sixteen().inverse().expect("16 is invertible"),
        }
    }

    /// The permutations of eight states, returning element 0 of each.
    ///
    /// # Safety
    /// The CPU must support AVX-512F and AVX-512 IFMA.
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) unsafe fn permute8(&self, states: &[[Fr; W]; 8]) -> [Fr; 8] {
        let mut x: [V; W] = [[_mm512_setzero_si512(); 5]; W];
        for (e, slot) in x.iter_mut().enumerate() {
            let lanes: [Limbs; 8] = std::array::from_fn(|l| enter(states[l][e]));
            for (k, limb) in slot.iter_mut().enumerate() {
                let v: [u64; 8] = std::array::from_fn(|l| lanes[l][k]);
                *limb = _mm512_loadu_si512(v.as_ptr().cast());
            }
        }
        for c in &self.first_full {
            self.full_round(&mut x, c);
        }
        let last = self.partial.len() - 1;
        for (r, k) in self.partial.iter().enumerate() {
            x[0] = self.sbox(add(&x[0], &splat(k)));
            if r < last {
                let (row0, col) = &self.sparse[r];
                let x0 = x[0];
                let y0 = self.dot(row0, &x);
                for i in 1..W {
                    let sum = add(&x[i], &self.mul(&splat(&col[i]), &x0));
                    x[i] = sub_if_geq(&sum, &self.two_p);
                }
                x[0] = y0;
            } else {
                x = std::array::from_fn(|i| self.dot(&self.last_partial[i], &x));
            }
        }
        for c in &self.last_full {
            self.full_round(&mut x, c);
        }
        let mut limbs = [[0u64; 8]; 5];
        for (k, out) in limbs.iter_mut().enumerate() {
            _mm512_storeu_si512(out.as_mut_ptr().cast(), x[0][k]);
        }
        std::array::from_fn(|l| leave(&std::array::from_fn(|k| limbs[k][l]), self.inv16))
    }

    #[target_feature(enable = "avx512f,avx512ifma")]
    fn full_round(&self, x: &mut [V; W], c: &[Limbs; W]) {
        for (s, c) in x.iter_mut().zip(c) {
            *s = self.sbox(add(s, &splat(c)));
        }
        *x = std::array::from_fn(|i| self.dot(&self.mds[i], x));
    }

    #[target_feature(enable = "avx512f,avx512ifma")]
    fn sbox(&self, x: V) -> V {
        let x2 = self.mul(&x, &x);
        let x4 = self.mul(&x2, &x2);
        self.mul(&x, &x4)
    }

    /// `a·b·2^-260 mod p`, below `2p`.
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn mul(&self, a: &V, b: &V) -> V {
        let mut t = [_mm512_setzero_si512(); 10];
        mul_acc(&mut t, a, b);
        self.redc(t)
    }

    /// `Σ row[j]·x[j]·2^-260 mod p` with a single reduction.
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn dot(&self, row: &[Limbs; W], x: &[V; W]) -> V {
        let mut t = [_mm512_setzero_si512(); 10];
        for (r, v) in row.iter().zip(x) {
            mul_acc(&mut t, &splat(r), v);
        }
        self.redc(t)
    }

    /// Montgomery reduction of a 10-limb accumulator (limbs below 2^58).
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn redc(&self, mut t: [__m512i; 10]) -> V {
        let p_inv = _mm512_set1_epi64(self.p_inv as i64);
        let p = splat(&self.p);
        let zero = _mm512_setzero_si512();
        for i in 0..5 {
            let m = _mm512_madd52lo_epu64(zero, t[i], p_inv);
            for j in 0..5 {
                t[i + j] = _mm512_madd52lo_epu64(t[i + j], m, p[j]);
                t[i + j + 1] = _mm512_madd52hi_epu64(t[i + j + 1], m, p[j]);
            }
            t[i + 1] = _mm512_add_epi64(t[i + 1], _mm512_srli_epi64::<52>(t[i]));
        }
        normalise([t[5], t[6], t[7], t[8], t[9]])
    }
}

/// `t += a·b` (unreduced, limb `i + j` gets the low and `i + j + 1` the high half of `aᵢ·bⱼ`).
#[target_feature(enable = "avx512f,avx512ifma")]
fn mul_acc(t: &mut [__m512i; 10], a: &V, b: &V) {
    for i in 0..5 {
        for j in 0..5 {
            t[i + j] = _mm512_madd52lo_epu64(t[i + j], a[i], b[j]);
            t[i + j + 1] = _mm512_madd52hi_epu64(t[i + j + 1], a[i], b[j]);
        }
    }
}

#[target_feature(enable = "avx512f")]
fn splat(c: &Limbs) -> V {
    std::array::from_fn(|k| _mm512_set1_epi64(c[k] as i64))
}

/// Carries every limb but the top one down to 52 bits.
#[target_feature(enable = "avx512f")]
fn normalise(mut a: V) -> V {
    let mask = _mm512_set1_epi64(MASK as i64);
    for k in 0..4 {
        let carry = _mm512_srli_epi64::<52>(a[k]);
        a[k] = _mm512_and_si512(a[k], mask);
        a[k + 1] = _mm512_add_epi64(a[k + 1], carry);
    }
    a
}

#[target_feature(enable = "avx512f")]
fn add(a: &V, b: &V) -> V {
    normalise(std::array::from_fn(|k| _mm512_add_epi64(a[k], b[k])))
}

/// `a − q` in the lanes where `a ≥ q`, `a` elsewhere (normalised `a` below 2^260).
#[target_feature(enable = "avx512f")]
fn sub_if_geq(a: &V, q: &Limbs) -> V {
    let mask = _mm512_set1_epi64(MASK as i64);
    let mut d = [_mm512_setzero_si512(); 5];
    let mut borrow = _mm512_setzero_si512();
    for k in 0..5 {
        let x = _mm512_add_epi64(_mm512_sub_epi64(a[k], _mm512_set1_epi64(q[k] as i64)), borrow);
        d[k] = _mm512_and_si512(x, mask);
        borrow = _mm512_srai_epi64::<52>(x);
    }
    let below = _mm512_cmplt_epi64_mask(borrow, _mm512_setzero_si512());
    std::array::from_fn(|k| _mm512_mask_blend_epi64(below, d[k], a[k]))
}

/// Whether this CPU runs [`Ifma::permute8`].
pub(super) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512ifma")
}

#[cfg(test)]
mod tests {
    //! The arithmetic's bounds at their extremes: operands as large as the header allows, every
    //! lane different, results checked modulo `p` and for the `< 2p` invariant.
    use super::*;
    use ark_ff::{One, UniformRand, Zero};
    use ark_std::rand::{rngs::StdRng, SeedableRng};

    /// A 320-bit integer, least significant word first.
    type Wide = [u64; 5];

    fn p_times(k: u64) -> Wide {
        let p = Fr::MODULUS.0;
        let mut out = [0u64; 5];
        let mut carry = 0u128;
        for i in 0..4 {
            let v = u128::from(p[i]) * u128::from(k) + carry;
            out[i] = v as u64;
            carry = v >> 64;
        }
        out[4] = carry as u64;
        out
    }

    fn minus_one(mut w: Wide) -> Wide {
        for x in &mut w {
            let (d, borrow) = x.overflowing_sub(1);
            *x = d;
            if !borrow {
                break;
            }
        }
        w
    }

    fn lt(a: &Wide, b: &Wide) -> bool {
        for i in (0..5).rev() {
            if a[i] != b[i] {
                return a[i] < b[i];
            }
        }
        false
    }

    /// Normalised 52-bit limbs of `w < 2^260`.
    fn limbs(w: &Wide) -> Limbs {
        std::array::from_fn(|k| {
            let (q, r) = (52 * k / 64, 52 * k % 64);
            let hi = if q + 1 < 5 { u128::from(w[q + 1]) << 64 } else { 0 };
            (((u128::from(w[q]) | hi) >> r) as u64) & MASK
        })
    }

    /// The integer of limbs that must be normalised (every limb but the top below 2^52).
    fn value(l: &Limbs) -> Wide {
        assert!(l[..4].iter().all(|&x| x <= MASK), "limbs not normalised: {l:?}");
        let mut w = [0u64; 5];
        for (k, &x) in l.iter().enumerate() {
            let (q, r) = (52 * k / 64, 52 * k % 64);
            let v = u128::from(x) << r;
            let mut carry = 0u128;
            for (i, part) in [v as u64, (v >> 64) as u64].into_iter().enumerate() {
                if q + i < 5 {
                    let s = u128::from(w[q + i]) + u128::from(part) + carry;
                    w[q + i] = s as u64;
                    carry = s >> 64;
                }
            }
            assert_eq!(carry, 0);
        }
        w
    }

    fn fr(w: &Wide) -> Fr {
        let bytes: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
        Fr::from_le_bytes_mod_order(&bytes)
    }

    fn wide(x: Fr) -> Wide {
        let b = x.into_bigint().0;
        [b[0], b[1], b[2], b[3], 0]
    }

    /// `2^-260 mod p`.
    fn r_inv() -> Fr {
        Fr::from(2u64).pow([260]).inverse().unwrap()
    }

    #[target_feature(enable = "avx512f")]
    fn load(lanes: &[Wide; 8]) -> V {
        std::array::from_fn(|k| {
            let v: [u64; 8] = std::array::from_fn(|l| limbs(&lanes[l])[k]);
            unsafe { _mm512_loadu_si512(v.as_ptr().cast()) }
        })
    }

    #[target_feature(enable = "avx512f")]
    fn store(v: &V) -> [Wide; 8] {
        let mut out = [[0u64; 8]; 5];
        for (k, o) in out.iter_mut().enumerate() {
            unsafe { _mm512_storeu_si512(o.as_mut_ptr().cast(), v[k]) };
        }
        std::array::from_fn(|l| value(&std::array::from_fn(|k| out[k][l])))
    }

    /// An `Ifma` with only the modulus constants set (the round constants are not used here).
    fn arithmetic() -> Ifma<5> {
        let z = [[Fr::zero(); 5]; 5];
        Ifma::new(&Optimized {
            mds: z,
            first_full: vec![],
            partial: vec![Fr::zero()],
            sparse: vec![],
            last_partial: z,
            last_full: vec![],
        })
    }

    /// Extreme and random integers below `bound·p`.
    fn operands(bound: u64, rng: &mut StdRng) -> Vec<Wide> {
        let mut v = vec![[0; 5], [1, 0, 0, 0, 0], minus_one(p_times(1)), p_times(1)];
        for k in 2..=bound {
            v.extend([minus_one(p_times(k)), p_times(k - 1)]);
        }
        // Random residues lifted by a random multiple of p below the bound.
        for i in 0..24u64 {
            let mut w = wide(Fr::rand(rng));
            let lift = p_times(i % bound);
            let mut carry = 0u128;
            for (x, y) in w.iter_mut().zip(lift) {
                let s = u128::from(*x) + u128::from(y) + carry;
                *x = s as u64;
                carry = s >> 64;
            }
            v.push(w);
        }
        let top = p_times(bound);
        assert!(v.iter().all(|w| lt(w, &top)));
        v
    }

    fn available_or_skip() -> bool {
        if !available() {
            eprintln!("no AVX-512 IFMA on this CPU: the eight-lane arithmetic is not tested here");
        }
        available()
    }

    /// The header's claim for products: operands below `9p` give `a·b·2^-260 mod p` below `2p`.
    #[test]
    fn products_of_operands_below_9p_are_below_2p() {
        if !available_or_skip() {
            return;
        }
        let f = arithmetic();
        let ops = operands(9, &mut StdRng::seed_from_u64(1));
        let two_p = p_times(2);
        for chunk_a in ops.chunks(8) {
            for chunk_b in ops.chunks(8).chain(std::iter::once(&ops[ops.len() - 8..])) {
                let a: [Wide; 8] = std::array::from_fn(|l| chunk_a[l % chunk_a.len()]);
                let b: [Wide; 8] = std::array::from_fn(|l| chunk_b[(l * 3) % chunk_b.len()]);
                // SAFETY: the CPU has AVX-512F and IFMA (checked above).
                let out = unsafe { store(&f.mul(&load(&a), &load(&b))) };
                for l in 0..8 {
                    assert!(lt(&out[l], &two_p), "{:?}·{:?} gave {:?}", a[l], b[l], out[l]);
                    assert_eq!(fr(&out[l]), fr(&a[l]) * fr(&b[l]) * r_inv());
                }
            }
        }
    }

    /// Dot products as the permutation uses them (constants below `p`, state below `2p`) at their
    /// extremes: one reduction still gives `< 2p`.
    #[test]
    fn dot_products_of_the_permutation_are_below_2p() {
        if !available_or_skip() {
            return;
        }
        let f = arithmetic();
        let mut rng = StdRng::seed_from_u64(2);
        let rows = [[-Fr::one(); 5], [Fr::zero(); 5], std::array::from_fn(|_| Fr::rand(&mut rng))];
        let state_ops = operands(2, &mut rng);
        let two_p = p_times(2);
        for row in rows {
            let row_limbs: [Limbs; 5] = std::array::from_fn(|j| enter(row[j]));
            for start in 0..state_ops.len() {
                // Lane l, element j: a different operand below 2p, the largest ones included.
                let x: [[Wide; 8]; 5] = std::array::from_fn(|j| {
                    std::array::from_fn(|l| state_ops[(start + 3 * j + l) % state_ops.len()])
                });
                let xv: [V; 5] = std::array::from_fn(|j| unsafe { load(&x[j]) });
                // SAFETY: as above.
                let out = unsafe { store(&f.dot(&row_limbs, &xv)) };
                for l in 0..8 {
                    assert!(lt(&out[l], &two_p));
                    // `enter` is `row·2^260`, so the Montgomery product leaves `row·x`.
                    let expected: Fr = (0..5).map(|j| row[j] * fr(&x[j][l])).sum();
                    assert_eq!(fr(&out[l]), expected);
                }
            }
        }
        // All-maximal: every constant p − 1, every state element 2p − 1, in every lane.
        let x = [[minus_one(two_p); 8]; 5];
        let xv: [V; 5] = std::array::from_fn(|j| unsafe { load(&x[j]) });
        let out = unsafe { store(&f.dot(&[enter(-Fr::one()); 5], &xv)) };
        assert!(out.iter().all(|w| lt(w, &two_p)));
    }

    /// `sub_if_geq` at its boundaries, and `add` + `sub_if_geq` as the partial rounds use them.
    #[test]
    fn conditional_subtraction_and_leaving() {
        if !available_or_skip() {
            return;
        }
        let f = arithmetic();
        let two_p = p_times(2);
        let vals = [
            [0; 5],
            minus_one(two_p),
            two_p,
            p_times(3),
            minus_one(p_times(4)),
            [1, 0, 0, 0, 0],
            minus_one(p_times(1)),
            p_times(1),
        ];
        let out = unsafe { store(&sub_if_geq(&load(&vals), &f.two_p)) };
        for l in 0..8 {
            let expected = if lt(&vals[l], &two_p) {
                vals[l]
            } else {
                let mut d = vals[l];
                let mut borrow = false;
                for i in 0..5 {
                    let (x, b1) = d[i].overflowing_sub(two_p[i]);
                    let (x, b2) = x.overflowing_sub(borrow as u64);
                    d[i] = x;
                    borrow = b1 || b2;
                }
                d
            };
            assert_eq!(out[l], expected, "lane {l}");
        }
        // `leave` of every value below 2p: canonical, `y·2^260` read back as `y`.
        for w in [[0; 5], minus_one(p_times(1)), p_times(1), minus_one(two_p)] {
            let y = fr(&w) * r_inv();
            assert_eq!(leave(&limbs(&w), f.inv16), y);
        }
        // Sums of two values below 2p, reduced by 2p, stay below 2p and keep their residue.
        let big = [minus_one(two_p); 8];
        let sum = unsafe { store(&sub_if_geq(&add(&load(&big), &load(&big)), &f.two_p)) };
        for w in sum {
            assert!(lt(&w, &two_p));
            assert_eq!(fr(&w), fr(&big[0]) + fr(&big[0]));
        }
    }
}

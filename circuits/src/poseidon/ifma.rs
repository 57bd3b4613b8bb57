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
//! below `9p` is below `p + 81p²/2^260 < 2p`, and a dot product of five such terms (one
//! reduction, like arkworks' `sum_of_products`) is too. Additions are carried back to 52-bit
//! limbs before they feed a multiplication (IFMA reads only the low 52 bits of each operand).

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

//! BN254's base field (and its quadratic extension) in nine 29-bit limbs, for WebAssembly's
//! bucket additions.
//!
//! Why: WebAssembly has no 64 × 64 → 128-bit multiply, so each of the 32 wide multiply-adds of
//! arkworks' 4 × 64-bit Montgomery product becomes four 64-bit multiplies and emulated 128-bit
//! carries. With 29-bit limbs a limb product fits in 58 bits and eighteen of them in a `u64`: the
//! 162 products of a Montgomery multiplication are summed with plain adds into nine accumulators
//! and the carries propagated once, at the end (the representation of the ZPrize 2022 WebAssembly
//! MSM). In V8 (Node 20) it multiplies 1.6 × faster than arkworks' product; on x86-64 arkworks'
//! assembly is faster, so the native prover keeps arkworks' fields (see [`super::Buckets`]).
//!
//! Elements are canonical — every limb below 2^29, the value below p — in Montgomery form with
//! `R = 2^261`, so equal elements have equal limbs. Limbs are stored as `u32` (36 bytes an
//! element, 72 a point) and widened to `u64` for arithmetic.

use ark_bn254::{Fq, Fq2};
use ark_ff::{AdditiveGroup, BigInt, Field, PrimeField};

/// Limb count and width: 9 × 29 = 261 bits, above the 254 of p with room for `R > 4p`.
const N: usize = 9;
const BITS: u32 = 29;
const MASK: u64 = (1 << BITS) - 1;

/// p, the BN254 base-field modulus, in 29-bit limbs.
const P: [u64; N] = split(Fq::MODULUS.0);
/// −p⁻¹ mod 2^29: the multiplier that makes each Montgomery step clear the lowest limb.
const MU: u64 = neg_inverse_mod_limb(P[0]);

/// 256-bit little-endian words → 29-bit limbs.
const fn split(w: [u64; 4]) -> [u64; N] {
    let mut out = [0u64; N];
    let mut i = 0;
    while i < N {
        let bit = i * BITS as usize;
        let (word, shift) = (bit / 64, bit % 64);
        let mut v = w[word] >> shift;
        if shift + BITS as usize > 64 && word + 1 < 4 {
            v |= w[word + 1] << (64 - shift);
        }
        out[i] = v & MASK;
        i += 1;
    }
    out
}

/// 29-bit limbs of a value below 2^256 → 256-bit little-endian words.
const fn join(l: [u64; N]) -> [u64; 4] {
    let mut out = [0u64; 4];
    let mut i = 0;
    while i < N {
        let bit = i * BITS as usize;
        let (word, shift) = (bit / 64, bit % 64);
        out[word] |= l[i] << shift;
        if shift + BITS as usize > 64 && word + 1 < 4 {
            out[word + 1] |= l[i] >> (64 - shift);
        }
        i += 1;
    }
    out
}

/// `−x⁻¹ mod 2^29` for odd `x`: Newton's iteration doubles the correct low bits each step
/// (1 → 2 → 4 → … → 32 ≥ 29).
const fn neg_inverse_mod_limb(x: u64) -> u64 {
    let mut inv = 1u64;
    let mut i = 0;
    while i < 5 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(x.wrapping_mul(inv)));
        i += 1;
    }
    inv.wrapping_neg() & MASK
}

/// An element `a` of BN254's base field, held as `a·2^261 mod p` in canonical 29-bit limbs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fq29([u32; N]);

impl Fq29 {
    pub const ZERO: Self = Self([0; N]);

    /// 1, as `2^261 mod p`.
    pub fn one() -> Self {
        static ONE: std::sync::OnceLock<Fq29> = std::sync::OnceLock::new();
        *ONE.get_or_init(|| Self::from_ark(&Fq::ONE))
    }

    #[inline(always)]
    fn from_limbs(l: [u64; N]) -> Self {
        Self(l.map(|x| x as u32))
    }

    #[inline(always)]
    fn limbs(&self) -> [u64; N] {
        self.0.map(u64::from)
    }

    /// From arkworks, whose Montgomery form of `32·a` is `32·a·2^256 = a·2^261 mod p`: ours.
    pub fn from_ark(a: &Fq) -> Self {
        let mut x = *a;
        for _ in 0..5 {
            x.double_in_place();
        }
        Self::from_limbs(split(x.0 .0))
    }

    /// To arkworks: our limbs, read as an arkworks Montgomery form, are `32·a`; one product by
    /// 1/32 gives `a`.
    pub fn to_ark(&self) -> Fq {
        Fq::new_unchecked(BigInt(join(self.limbs()))) * inverse_of_32()
    }

    /// `self·other·2^−261`: per limb of `self`, add its products with `other` and the multiple of
    /// p that clears the lowest accumulator, then shift the accumulators down one limb.
    ///
    /// Bounds: an accumulator gains two products below 2^58 a step for nine steps, plus one
    /// carry below 2^35: it stays below 2^63. The result is below `p²/2^261 + p < 2p`, so one
    /// conditional subtraction makes it canonical.
    #[inline(always)]
    pub fn mul(&self, other: &Self) -> Self {
        let (a, b) = (self.limbs(), other.limbs());
        let mut s = [0u64; N];
        for ai in a {
            let t = s[0] + ai * b[0];
            let q = t.wrapping_mul(MU) & MASK;
            let carry = (t + q * P[0]) >> BITS;
            s[0] = s[1] + ai * b[1] + q * P[1] + carry;
            for j in 2..N {
                s[j - 1] = s[j] + ai * b[j] + q * P[j];
            }
            s[N - 1] = 0;
        }
        Self::normalise(s).minus_p_if_above()
    }

    #[inline(always)]
    pub fn square(&self) -> Self {
        self.mul(self)
    }

    /// Carries of unnormalised limbs whose value is below 2^261.
    #[inline(always)]
    fn normalise(s: [u64; N]) -> Self {
        let mut r = [0u64; N];
        let mut carry = 0;
        for k in 0..N {
            let v = s[k] + carry;
            r[k] = v & MASK;
            carry = v >> BITS;
        }
        debug_assert_eq!(carry, 0, "the value exceeds 2^261");
        Self::from_limbs(r)
    }

    /// `self − p` when `self ≥ p`, for values below `2p`.
    #[inline(always)]
    fn minus_p_if_above(self) -> Self {
        let mut d = [0u64; N];
        let mut borrow = 0i64;
        for k in 0..N {
            let v = self.0[k] as i64 - P[k] as i64 + borrow;
            d[k] = v as u64 & MASK;
            borrow = v >> BITS;
        }
        if borrow < 0 {
            self
        } else {
            Self::from_limbs(d)
        }
    }

    #[inline(always)]
    pub fn add(&self, other: &Self) -> Self {
        let (a, b) = (self.limbs(), other.limbs());
        Self::normalise(std::array::from_fn(|k| a[k] + b[k])).minus_p_if_above()
    }

    #[inline(always)]
    pub fn sub(&self, other: &Self) -> Self {
        let mut r = [0u64; N];
        let mut borrow = 0i64;
        for ((limb, &x), &y) in r.iter_mut().zip(&self.0).zip(&other.0) {
            let v = x as i64 - y as i64 + borrow;
            *limb = v as u64 & MASK;
            borrow = v >> BITS;
        }
        if borrow < 0 {
            // The difference wrapped below zero: add p back (the carry out cancels the wrap).
            let mut carry = 0;
            for (limb, p) in r.iter_mut().zip(P) {
                let v = *limb + p + carry;
                *limb = v & MASK;
                carry = v >> BITS;
            }
        }
        Self::from_limbs(r)
    }

    #[inline(always)]
    pub fn neg(&self) -> Self {
        Self::ZERO.sub(self)
    }
}

/// 1/32 in arkworks' field, made once.
fn inverse_of_32() -> Fq {
    static INV: std::sync::OnceLock<Fq> = std::sync::OnceLock::new();
    *INV.get_or_init(|| Fq::from(32u64).inverse().expect("32 is invertible"))
}

/// An element `c0 + c1·u` of BN254's `Fq2 = Fq[u]/(u² + 1)` over [`Fq29`] (the G2 coordinates).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fq2x29 {
    c0: Fq29,
    c1: Fq29,
}

impl Fq2x29 {
    pub const ZERO: Self = Self { c0: Fq29::ZERO, c1: Fq29::ZERO };

    pub fn one() -> Self {
        Self { c0: Fq29::one(), c1: Fq29::ZERO }
    }

    pub fn from_ark(a: &Fq2) -> Self {
        Self { c0: Fq29::from_ark(&a.c0), c1: Fq29::from_ark(&a.c1) }
    }

    pub fn to_ark(&self) -> Fq2 {
        Fq2::new(self.c0.to_ark(), self.c1.to_ark())
    }

    /// Karatsuba with `u² = −1`: three base-field products.
    #[inline(always)]
    pub fn mul(&self, o: &Self) -> Self {
        let v0 = self.c0.mul(&o.c0);
        let v1 = self.c1.mul(&o.c1);
        let cross = self.c0.add(&self.c1).mul(&o.c0.add(&o.c1));
        Self { c0: v0.sub(&v1), c1: cross.sub(&v0).sub(&v1) }
    }

    /// `(c0 + c1)(c0 − c1) + 2·c0·c1·u`: two base-field products.
    #[inline(always)]
    pub fn square(&self) -> Self {
        let c0 = self.c0.add(&self.c1).mul(&self.c0.sub(&self.c1));
        let c1 = self.c0.mul(&self.c1);
        Self { c0, c1: c1.add(&c1) }
    }

    #[inline(always)]
    pub fn add(&self, o: &Self) -> Self {
        Self { c0: self.c0.add(&o.c0), c1: self.c1.add(&o.c1) }
    }

    #[inline(always)]
    pub fn sub(&self, o: &Self) -> Self {
        Self { c0: self.c0.sub(&o.c0), c1: self.c1.sub(&o.c1) }
    }

    #[inline(always)]
    pub fn neg(&self) -> Self {
        Self { c0: self.c0.neg(), c1: self.c1.neg() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::{One, UniformRand, Zero};
    use ark_std::rand::{rngs::StdRng, SeedableRng};

    /// Values at the edges of the representation: 0, 1, p − 1, p − 2, 2^k around limb boundaries
    /// and values whose limbs are all 2^29 − 1 or all zero but one.
    fn edges() -> Vec<Fq> {
        let mut v = vec![Fq::zero(), Fq::one(), -Fq::one(), -Fq::from(2u64), Fq::from(32u64)];
        for k in [28u32, 29, 30, 57, 58, 63, 64, 128, 232, 252, 253] {
            let two_k = Fq::from(2u64).pow([k as u64]);
            v.extend([two_k, two_k - Fq::one(), -two_k]);
        }
        // Montgomery forms p − 1 (the largest canonical limbs) and every low limb at its maximum.
        let mut top = P;
        top[0] -= 1;
        v.push(Fq29::from_limbs(top).to_ark());
        let mut ones = [MASK; N];
        ones[N - 1] = 0;
        v.push(Fq29::from_limbs(ones).to_ark());
        v
    }

    /// The result of every operation must be canonical: equality of limbs is equality of values
    /// only then (the bucket additions compare `x` coordinates).
    fn canonical(x: Fq29) -> Fq29 {
        assert!(x.0.iter().all(|&l| u64::from(l) <= MASK), "a limb above 2^29: {x:?}");
        assert!(BigInt(join(x.limbs())) < Fq::MODULUS, "not below p: {x:?}");
        x
    }

    #[test]
    fn constants_are_p_and_its_negated_inverse() {
        assert_eq!(join(P), Fq::MODULUS.0);
        assert_eq!(P[0].wrapping_mul(MU) & MASK, MASK, "p·μ ≡ −1 mod 2^29");
        assert!(P.iter().all(|&l| l <= MASK));
        assert_eq!(<ark_bn254::Fq2Config as ark_ff::Fp2Config>::NONRESIDUE, -Fq::one(), "u² = −1");
    }

    #[test]
    fn agrees_with_arkworks() {
        let mut rng = StdRng::seed_from_u64(29);
        let mut values = edges();
        values.extend((0..3000).map(|_| Fq::rand(&mut rng)));
        for a in &values {
            let x = canonical(Fq29::from_ark(a));
            assert_eq!(x.to_ark(), *a, "round trip of {a}");
            assert_eq!(canonical(x.square()).to_ark(), a.square(), "{a}²");
            assert_eq!(canonical(x.neg()).to_ark(), -*a, "−{a}");
        }
        for (a, b) in values.iter().zip(values.iter().rev().chain(values.iter().skip(7))) {
            let (x, y) = (Fq29::from_ark(a), Fq29::from_ark(b));
            assert_eq!(canonical(x.mul(&y)).to_ark(), *a * b, "{a}·{b}");
            assert_eq!(canonical(x.add(&y)).to_ark(), *a + b, "{a}+{b}");
            assert_eq!(canonical(x.sub(&y)).to_ark(), *a - b, "{a}−{b}");
            assert_eq!(x.mul(&y) == x.add(&y), *a * b == *a + b, "equality is value equality");
        }
    }

    #[test]
    fn quadratic_extension_agrees_with_arkworks() {
        let mut rng = StdRng::seed_from_u64(30);
        let edges = edges();
        let mut values: Vec<Fq2> =
            edges.iter().zip(edges.iter().rev()).map(|(a, b)| Fq2::new(*a, *b)).collect();
        values.extend((0..1000).map(|_| Fq2::rand(&mut rng)));
        for (a, b) in values.iter().zip(values.iter().skip(1)) {
            let (x, y) = (Fq2x29::from_ark(a), Fq2x29::from_ark(b));
            assert_eq!(x.to_ark(), *a);
            assert_eq!(x.mul(&y).to_ark(), *a * b, "{a}·{b}");
            assert_eq!(x.square().to_ark(), a.square(), "{a}²");
            assert_eq!(x.add(&y).to_ark(), *a + b);
            assert_eq!(x.sub(&y).to_ark(), *a - b);
            assert_eq!(x.neg().to_ark(), -*a);
        }
    }
}

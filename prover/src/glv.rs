//! GLV scalar decomposition for the MSMs.
//!
//! BN254's G1 and G2 each have an endomorphism `φ(x, y) = (ωx, y)`, one field multiplication,
//! that acts as multiplication by a cube root of unity `λ` modulo the group order `r`. Writing a
//! scalar as `k = k₁ + λk₂` with `|k₁|, |k₂| < 2^128` turns `k·P` into `k₁·P + k₂·φ(P)`: an MSM
//! over `n` 254-bit scalars becomes one over `2n` 128-bit scalars. Pippenger adds each base once
//! per window either way, but half as many windows leave half as many bucket reductions, and the
//! larger `n` moves the best window width up a bit (about 10% fewer field multiplications on the
//! prover's MSMs).
//!
//! Babai rounding against the curve's short lattice basis (`GLVConfig::SCALAR_DECOMP_COEFFS`):
//! `β₁ = ⌊k·n₂₂/r⌉`, `β₂ = ⌊−k·n₁₂/r⌉`, `k₁ = k − β₁n₁₁ − β₂n₂₁`, `k₂ = −β₁n₁₂ − β₂n₂₂`. Any
//! integers `β` give `k₁ + λk₂ ≡ k` (the basis vectors are `≡ 0` under `(a, b) ↦ a + λb`), so the
//! rounding only decides the size; it is done with a precomputed `⌊2^256·|n|/r⌉` and one
//! high-half multiplication instead of arkworks' big-integer division, which would cost more
//! per scalar than the decomposition saves. The halves are taken as field elements and accepted
//! only if they fit in 128 bits (they always do: off-by-one rounding keeps them below
//! `1.5·(|n₁₁| + |n₂₁|) < 2^128`); [`Glv::split`] says `None` otherwise and the caller falls back.

use ark_bn254::Fr;
use ark_ec::scalar_mul::glv::GLVConfig;
use ark_ec::short_weierstrass::Affine;
use ark_ff::{BigInteger, PrimeField};
use num_bigint::BigUint;

type BigInt = <Fr as PrimeField>::BigInt;

/// One half of a decomposed scalar: its magnitude and whether it is negative.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Half {
    pub negative: bool,
    pub magnitude: u128,
}

impl Half {
    /// `x` as a signed 128-bit integer, if it is one (either `x` or `r − x` below 2^128).
    fn of(x: Fr) -> Option<Self> {
        let fits =
            |b: BigInt| (b.0[2] == 0 && b.0[3] == 0).then(|| u128::from(b.0[0]) | u128::from(b.0[1]) << 64);
        if let Some(m) = fits(x.into_bigint()) {
            return Some(Self { negative: false, magnitude: m });
        }
        fits((-x).into_bigint()).map(|m| Self { negative: true, magnitude: m })
    }

    /// The point to pair with the magnitude: `p` or `−p`.
    pub fn signed<P: ark_ec::short_weierstrass::SWCurveConfig>(self, p: Affine<P>) -> Affine<P> {
        if self.negative {
            -p
        } else {
            p
        }
    }
}

/// The decomposition constants of one curve, computed once per MSM (a few big-integer divisions).
pub struct Glv<P: GLVConfig<ScalarField = Fr>> {
    /// `⌊2^256·|n₂₂|/r⌉` and `⌊2^256·|n₁₂|/r⌉`.
    g22: BigInt,
    g12: BigInt,
    /// The basis `n₁₁, n₁₂, n₂₁, n₂₂` as field elements, signs applied.
    n: [Fr; 4],
    /// Signs (true = negative) of `β₁ = ⌊k·n₂₂/r⌉` and `β₂ = ⌊−k·n₁₂/r⌉` for `k ≥ 0`.
    beta_negative: [bool; 2],
    _curve: std::marker::PhantomData<P>,
}

impl<P: GLVConfig<ScalarField = Fr>> Default for Glv<P> {
    fn default() -> Self {
        let coeffs = P::SCALAR_DECOMP_COEFFS;
        let r = BigUint::from(Fr::MODULUS);
        let rounded_ratio = |i: usize| -> BigInt {
            let n = BigUint::from(coeffs[i].1);
            let q = ((n << 256) + (&r >> 1)) / &r;
            BigInt::try_from(q).expect("|n| < r, so 2^256·|n|/r < 2^256")
        };
        let n = coeffs.map(|(positive, v)| {
            let f = Fr::from_bigint(v).expect("basis entries are below r");
            if positive {
                f
            } else {
                -f
            }
        });
        // The flags in `SCALAR_DECOMP_COEFFS` are `true` for a positive entry.
        let beta_negative = [!coeffs[3].0, coeffs[1].0];
        Self { g22: rounded_ratio(3), g12: rounded_ratio(1), n, beta_negative, _curve: Default::default() }
    }
}

impl<P: GLVConfig<ScalarField = Fr>> Glv<P> {
    /// `(k₁, k₂)` with `k ≡ k₁ + λk₂ (mod r)` and both below 2^128 in magnitude.
    pub fn split(&self, k: &Fr) -> Option<(Half, Half)> {
        let kb = k.into_bigint();
        let beta = |g: &BigInt, negative: bool| -> Fr {
            // ⌊k·g / 2^256⌋: at most one below the exact rounding, which only affects the size.
            let b = Fr::from_bigint(kb.mul_high(g)).expect("k·g/2^256 < g < r");
            if negative {
                -b
            } else {
                b
            }
        };
        let b1 = beta(&self.g22, self.beta_negative[0]);
        let b2 = beta(&self.g12, self.beta_negative[1]);
        let [n11, n12, n21, n22] = self.n;
        let k1 = *k - (b1 * n11 + b2 * n21);
        let k2 = -(b1 * n12 + b2 * n22);
        Some((Half::of(k1)?, Half::of(k2)?))
    }

    /// `φ(p)`, which is `λ·p`.
    pub fn endomorphism(p: &Affine<P>) -> Affine<P> {
        P::endomorphism_affine(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::{g1, g2};
    use ark_ec::{AffineRepr, CurveGroup};
    use ark_ff::{Field, One, UniformRand, Zero};
    use ark_std::rand::{rngs::StdRng, Rng, SeedableRng};

    fn to_fr(h: Half) -> Fr {
        let m = Fr::from(h.magnitude);
        if h.negative {
            -m
        } else {
            m
        }
    }

    fn scalars() -> Vec<Fr> {
        let mut rng = StdRng::seed_from_u64(17);
        let mut v = vec![Fr::zero(), Fr::one(), -Fr::one(), Fr::from(u128::MAX), -Fr::from(u128::MAX)];
        v.extend([
            g1::Config::LAMBDA,
            g2::Config::LAMBDA,
            -g1::Config::LAMBDA,
            Fr::from(2u64).inverse().unwrap(),
        ]);
        // Scalars near the multiples of r/2^k, where rounding is closest to a tie.
        for k in 1..64u32 {
            let step = Fr::from(2u64).pow([u64::from(k)]).inverse().unwrap();
            v.extend([step, -step, step + Fr::one(), step - Fr::one()]);
        }
        v.extend((0..2000).map(|_| Fr::rand(&mut rng)));
        v
    }

    fn check<P: GLVConfig<ScalarField = Fr>>() {
        let glv = Glv::<P>::default();
        for k in scalars() {
            let (k1, k2) = glv.split(&k).expect("both halves fit in 128 bits");
            assert_eq!(to_fr(k1) + P::LAMBDA * to_fr(k2), k, "k = {k}");
        }
    }

    #[test]
    fn every_scalar_splits_into_two_halves_that_recompose() {
        check::<g1::Config>();
        check::<g2::Config>();
    }

    /// Scalars where the cheap rounding is off by one in both coordinates at once: `k·|n₂₂|/r` and
    /// `k·|n₁₂|/r` both just below an integer, so `⌊·⌋` lands one below the nearest integer and the
    /// halves reach about `|n₁₁| + |n₂₁|` (twice exact Babai rounding's bound), and edge scalars.
    /// Every split must exist (fit in 128 bits), recompose, and stay below `1.125·(|n₁₁| + |n₂₁|)`.
    fn adversarial<P: GLVConfig<ScalarField = Fr>>() {
        let glv = Glv::<P>::default();
        let c = P::SCALAR_DECOMP_COEFFS.map(|(_, v)| BigUint::from(v));
        let r = BigUint::from(Fr::MODULUS);
        let (n12, n22) = (&c[1], &c[3]);
        let bound = (&c[0] + &c[2]).max(&c[1] + &c[3]) * 9u32 / 8u32 + 1u32;
        let ceil = |x: BigUint, d: &BigUint| (x + d - 1u32) / d;
        let two128: BigUint = BigUint::from(1u32) << 128u32;
        let mut ks: Vec<BigUint> = vec![
            BigUint::from(0u32),
            BigUint::from(1u32),
            &r - 1u32,
            &two128 - 1u32,
            two128.clone(),
            &r - &two128,
            &r - &two128 + 1u32,
            &r >> 1,
            (&r >> 1) + 1u32,
        ];
        ks.extend(c.iter().cloned());
        for l in [P::LAMBDA, P::LAMBDA.square(), -P::LAMBDA, P::LAMBDA * Fr::from(u128::MAX)] {
            ks.push(l.into_bigint().into());
        }
        let mut rng = StdRng::seed_from_u64(23);
        let n12_u64 = u64::try_from(n12).expect("|n₁₂| < 2^64 on BN254");
        for _ in 0..3000 {
            let big2 = BigUint::from(rng.gen_range(1..n12_u64));
            let big1 = ceil(&big2 * n22, n12);
            for d1 in [-1i32, 0, 1] {
                let big1 = if d1 < 0 { &big1 - 2u32 } else { &big1 + (d1 as u32) - 1u32 };
                let k = ceil(&big1 * &r, n22);
                for d in 0..3u32 {
                    ks.push(&k + d - 1u32);
                }
            }
        }
        let mut worst = 0u128;
        for k in ks {
            assert!(k < r);
            let k = Fr::from(k);
            let (k1, k2) = glv.split(&k).unwrap_or_else(|| panic!("k = {k} does not split"));
            assert_eq!(to_fr(k1) + P::LAMBDA * to_fr(k2), k, "k = {k}");
            for h in [k1, k2] {
                assert!(BigUint::from(h.magnitude) <= bound, "k = {k}: |half| = {}", h.magnitude);
                worst = worst.max(h.magnitude);
            }
        }
        // The search did reach the off-by-one region (beyond exact rounding's `(|n₁₁|+|n₂₁|)/2`).
        assert!(BigUint::from(worst) * 16u32 > (&c[0] + &c[2]) * 15u32, "worst {worst}");
    }

    #[test]
    fn adversarial_scalars_split_within_the_bound() {
        adversarial::<g1::Config>();
        adversarial::<g2::Config>();
    }

    /// `φ` is multiplication by `λ` on both groups, so `k₁P + k₂φ(P) = kP`.
    #[test]
    fn the_endomorphism_is_multiplication_by_lambda() {
        let mut rng = StdRng::seed_from_u64(4);
        let p1 = ark_bn254::G1Projective::rand(&mut rng).into_affine();
        assert_eq!(Glv::<g1::Config>::endomorphism(&p1), (p1 * g1::Config::LAMBDA).into_affine());
        let p2 = ark_bn254::G2Projective::rand(&mut rng).into_affine();
        assert_eq!(Glv::<g2::Config>::endomorphism(&p2), (p2 * g2::Config::LAMBDA).into_affine());
        assert!(!p1.is_zero() && !p2.is_zero());
    }
}

//! Pippenger's multi-scalar multiplication with batch-affine bucket accumulation.
//!
//! Why not arkworks' `msm_bigint`: it adds each base into its bucket in extended Jacobian
//! coordinates (8M + 2S per addition) and reduces 2^c buckets per window although signed digits
//! only use 2^(c−1). Here, per window, the bases are sorted by bucket (a counting sort) and each
//! bucket's list is summed pairwise in rounds; all additions of a round share one field inversion
//! (Montgomery's trick), so an affine addition costs about 5M + 1S. The `H`, `L`, `A` and `B`
//! queries of a proof are MSMs of 4,000–15,000 bases, where this roughly halves the time.
//!
//! Edge cases are exact: a pair with equal `x` is doubled (equal `y`) or cancels to the identity
//! (opposite `y`); bases must not be the identity (the prover compacts its queries).
//!
//! The additions run in the field representation the curve names in [`Buckets`]: arkworks' fields
//! natively, 29-bit limbs ([`limbs29`]) in WebAssembly, where the windows' running sums also stay
//! in those limbs ([`xyzz`]). In Chromium this made the whole proof 5–12 % faster (README);
//! tests compute every MSM in both representations on every target.

mod coordinates;
pub mod limbs29;
pub mod xyzz;

pub use coordinates::{Ark, Buckets, Coordinate};

use crate::glv::Glv;
use ark_bn254::Fr;
use ark_ec::scalar_mul::glv::GLVConfig;
use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
use ark_ec::{AdditiveGroup, AffineRepr};
use ark_ff::{PrimeField, Zero};

/// Bits of a GLV half's magnitude.
const HALF_BITS: usize = 128;

/// Window width in bits for `n` scalars of `bits` bits, chosen by counting field multiplications:
/// per window `n` affine additions (~6M) against `2^(c−1)` buckets reduced with two projective
/// additions (~24M).
pub fn window(n: usize, bits: usize) -> usize {
    (2..=16)
        .min_by_key(|&c| {
            let windows = bits.div_ceil(c) as u64;
            windows * (6 * n as u64 + 24 * (1u64 << (c - 1)))
        })
        .expect("a non-empty range")
}

/// Signed base-2^c digits of `s`, least significant first, each in `[−2^(c−1), 2^(c−1)]`.
fn digits(s: u128, c: usize, count: usize, out: &mut Vec<i32>) {
    let mask = (1u128 << c) - 1;
    let half = 1i64 << (c - 1);
    let mut carry = 0i64;
    for w in 0..count {
        let lo = w * c;
        let bits = if lo < 128 { ((s >> lo) & mask) as i64 } else { 0 };
        let mut d = bits + carry;
        carry = 0;
        if d > half {
            d -= 1 << c;
            carry = 1;
        }
        out.push(d as i32);
    }
    debug_assert_eq!(carry, 0, "the top window absorbs the last carry");
}

/// `Σ scalarsᵢ·basesᵢ`. No base may be the identity.
///
/// Each scalar is split GLV-style (see [`crate::glv`]) into two 128-bit halves paired with the
/// base and its endomorphism image, and the `2n` halves go through Pippenger.
pub fn msm<P: GLVConfig<ScalarField = Fr> + Buckets>(bases: &[Affine<P>], scalars: &[Fr]) -> Projective<P> {
    msm_in::<P, P::Coord>(bases, scalars)
}

/// [`msm`] with the bucket additions in the representation `C`.
pub(crate) fn msm_in<P: GLVConfig<ScalarField = Fr>, C: Coordinate<Ark = P::BaseField>>(
    bases: &[Affine<P>],
    scalars: &[Fr],
) -> Projective<P> {
    assert_eq!(bases.len(), scalars.len());
    let glv = Glv::<P>::default();
    let mut split_bases = Vec::with_capacity(2 * bases.len());
    let mut halves = Vec::with_capacity(2 * bases.len());
    let mut unsplit = Projective::<P>::zero();
    for (p, k) in bases.iter().zip(scalars) {
        let Some((k1, k2)) = glv.split(k) else {
            // Unreachable by the bound in `glv`; correct regardless.
            unsplit += p.mul_bigint(k.into_bigint());
            continue;
        };
        if k1.magnitude != 0 {
            split_bases.push(k1.signed(*p));
            halves.push(k1.magnitude);
        }
        if k2.magnitude != 0 {
            split_bases.push(k2.signed(Glv::<P>::endomorphism(p)));
            halves.push(k2.magnitude);
        }
    }
    unsplit + pippenger::<P, C>(&split_bases, &halves)
}

/// `Σ scalarsᵢ·basesᵢ` over 128-bit scalars.
fn pippenger<P: SWCurveConfig, C: Coordinate<Ark = P::BaseField>>(
    bases: &[Affine<P>],
    scalars: &[u128],
) -> Projective<P> {
    let n = bases.len();
    if n == 0 {
        return Projective::zero();
    }
    // One more bit than the scalars have, so the top window can take the last carry.
    let c = window(n, HALF_BITS + 1);
    let count = (HALF_BITS + 1).div_ceil(c);
    let mut all = Vec::with_capacity(n * count);
    for &s in scalars {
        digits(s, c, count, &mut all);
    }
    // Converted once for every window.
    let points: Vec<(C, C)> = bases.iter().map(|p| (C::from_ark(&p.x), C::from_ark(&p.y))).collect();
    let window_sum = |w: usize| -> Projective<P> {
        let digit = |i: usize| all[i * count + w];
        bucket_sum::<P, C>(&points, digit, 1 << (c - 1))
    };
    #[cfg(feature = "parallel")]
    let sums: Vec<Projective<P>> = {
        use rayon::prelude::*;
        (0..count).into_par_iter().map(window_sum).collect()
    };
    #[cfg(not(feature = "parallel"))]
    let sums: Vec<Projective<P>> = (0..count).map(window_sum).collect();
    let mut total = Projective::zero();
    for s in sums.iter().rev() {
        for _ in 0..c {
            total.double_in_place();
        }
        total += s;
    }
    total
}

/// `Σ_b (b+1)·bucket_b` for one window, where base `i` goes to bucket `|digit(i)|−1` (negated for
/// a negative digit).
fn bucket_sum<P: SWCurveConfig, C: Coordinate<Ark = P::BaseField>>(
    bases: &[(C, C)],
    digit: impl Fn(usize) -> i32,
    buckets: usize,
) -> Projective<P> {
    // Counting sort of the bases by bucket.
    let mut start = vec![0u32; buckets + 1];
    for i in 0..bases.len() {
        let d = digit(i);
        if d != 0 {
            start[d.unsigned_abs() as usize] += 1;
        }
    }
    for b in 0..buckets {
        start[b + 1] += start[b];
    }
    let mut fill = start.clone();
    let mut points = vec![bases[0]; start[buckets] as usize];
    for (i, &(x, y)) in bases.iter().enumerate() {
        let d = digit(i);
        if d != 0 {
            let b = d.unsigned_abs() as usize - 1;
            points[fill[b] as usize] = (x, if d > 0 { y } else { y.neg() });
            fill[b] += 1;
        }
    }
    let a = C::from_ark(&P::COEFF_A);
    let (points, start) = reduce_buckets(points, start, a);

    C::bucket_total(&points, &start, &a)
}

/// Sums each bucket's points pairwise until every bucket holds at most one point. `start[b]..
/// start[b+1]` is bucket `b`'s range in `points` (affine `(x, y)` on `y² = x³ + a·x + b`);
/// returns the reduced points and ranges.
fn reduce_buckets<C: Coordinate>(
    mut points: Vec<(C, C)>,
    mut start: Vec<u32>,
    a: C,
) -> (Vec<(C, C)>, Vec<u32>) {
    let buckets = start.len() - 1;
    let one = C::one();
    let mut denominators: Vec<C> = Vec::with_capacity(points.len() / 2);
    let mut next: Vec<(C, C)> = Vec::with_capacity(points.len() / 2 + buckets);
    let mut next_start = vec![0u32; buckets + 1];
    loop {
        if (0..buckets).all(|b| start[b + 1] - start[b] <= 1) {
            return (points, start);
        }
        // Denominators of every pair's slope: x₂ − x₁, or 2y₁ to double; 1 for a cancelling pair.
        denominators.clear();
        for b in 0..buckets {
            let (s, e) = (start[b] as usize, start[b + 1] as usize);
            for j in (s..e.saturating_sub(1)).step_by(2) {
                let ((px, py), (qx, qy)) = (&points[j], &points[j + 1]);
                denominators.push(if px != qx {
                    qx.sub(px)
                } else if py == qy {
                    py.double()
                } else {
                    one
                });
            }
        }
        C::invert_all(&mut denominators);
        next.clear();
        let mut k = 0;
        for b in 0..buckets {
            next_start[b] = next.len() as u32;
            let (s, e) = (start[b] as usize, start[b + 1] as usize);
            let mut j = s;
            while j + 1 < e {
                let ((px, py), (qx, qy)) = (&points[j], &points[j + 1]);
                let inv = denominators[k];
                k += 1;
                let lambda = if px != qx {
                    qy.sub(py).mul(&inv)
                } else if py == qy {
                    let xx = px.square();
                    xx.double().add(&xx).add(&a).mul(&inv)
                } else {
                    j += 2;
                    continue; // p + q is the identity
                };
                let x = lambda.square().sub(px).sub(qx);
                let y = lambda.mul(&px.sub(&x)).sub(py);
                next.push((x, y));
                j += 2;
            }
            if j < e {
                next.push(points[j]);
            }
        }
        next_start[buckets] = next.len() as u32;
        std::mem::swap(&mut points, &mut next);
        std::mem::swap(&mut start, &mut next_start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::Fr;
    use ark_ec::{CurveGroup, VariableBaseMSM};
    use ark_ff::{Field, One, UniformRand};
    use ark_std::rand::{rngs::StdRng, Rng, SeedableRng};
    use limbs29::{Fq29, Fq2x29};

    /// The 29-bit-limb representation of each curve's base field.
    trait Limbs: GLVConfig<ScalarField = Fr> {
        type L: Coordinate<Ark = Self::BaseField>;
    }
    impl Limbs for ark_bn254::g1::Config {
        type L = Fq29;
    }
    impl Limbs for ark_bn254::g2::Config {
        type L = Fq2x29;
    }

    /// [`msm`] with its buckets added in arkworks' field and in 29-bit limbs, which must agree
    /// (whichever of the two this target's prover uses).
    fn msm<P: Limbs>(bases: &[Affine<P>], scalars: &[Fr]) -> Projective<P> {
        let ark = msm_in::<P, Ark<P::BaseField>>(bases, scalars);
        assert_eq!(msm_in::<P, P::L>(bases, scalars), ark, "29-bit limbs against arkworks' field");
        ark
    }

    fn check<P: Limbs>(n: usize, seed: u64)
    where
        Projective<P>: VariableBaseMSM<MulBase = Affine<P>, ScalarField = Fr>,
    {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut bases: Vec<Affine<P>> =
            (0..n).map(|_| Projective::<P>::rand(&mut rng).into_affine()).collect();
        let mut scalars: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
        // Edge cases: repeated and opposite bases with equal scalars (doubling and cancelling in a
        // bucket), small, largest and negative-looking scalars.
        if n >= 8 {
            bases[1] = bases[0];
            scalars[1] = scalars[0];
            bases[3] = -bases[2];
            scalars[3] = scalars[2];
            scalars[4] = Fr::from(2u64);
            scalars[5] = -Fr::from(1u64);
            scalars[6] = Fr::from(u64::MAX);
        }
        assert_eq!(msm(&bases, &scalars), Projective::<P>::msm(&bases, &scalars).unwrap(), "n = {n}");
    }

    #[test]
    fn agrees_with_arkworks() {
        for (i, n) in [1, 2, 3, 8, 33, 300, 2000].into_iter().enumerate() {
            check::<ark_bn254::g1::Config>(n, i as u64);
        }
        check::<ark_bn254::g2::Config>(200, 9);
    }

    /// `n` distinct bases `P, P + Q, P + 2Q, …` (cheap to make, no identity among them).
    fn progression<P: SWCurveConfig>(n: usize, rng: &mut StdRng) -> Vec<Affine<P>> {
        let q = Projective::<P>::rand(rng);
        let mut acc = Projective::<P>::rand(rng);
        let points: Vec<Projective<P>> = (0..n)
            .map(|_| {
                acc += q;
                acc
            })
            .collect();
        Projective::normalize_batch(&points)
    }

    /// MSM sizes that make Pippenger pick every window width from 2 to 13 bits (~2 halves a
    /// scalar), against arkworks.
    #[test]
    fn every_window_width_agrees_with_arkworks() {
        let sizes = [1, 5, 20, 60, 200, 500, 1200, 2000, 5000, 12000, 21000, 37000];
        let widths: Vec<usize> = sizes.iter().map(|&n| window(2 * n, HALF_BITS + 1)).collect();
        assert_eq!(widths, (2..=13).collect::<Vec<_>>());
        let mut rng = StdRng::seed_from_u64(31);
        for n in sizes {
            let bases = progression::<ark_bn254::g1::Config>(n, &mut rng);
            let scalars: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
            let expected = ark_bn254::G1Projective::msm(&bases, &scalars).unwrap();
            assert_eq!(msm(&bases, &scalars), expected, "n = {n}");
        }
        for n in [60, 500, 2000] {
            let bases = progression::<ark_bn254::g2::Config>(n, &mut rng);
            let scalars: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
            let expected = ark_bn254::G2Projective::msm(&bases, &scalars).unwrap();
            assert_eq!(msm(&bases, &scalars), expected, "G2, n = {n}");
        }
    }

    /// Scalars that stress GLV (halves of zero, `λ`-multiples with `k₁ = 0`, the largest halves)
    /// and buckets full of equal, opposite and endomorphic points.
    fn adversarial<P: Limbs>(seed: u64)
    where
        Projective<P>: VariableBaseMSM<MulBase = Affine<P>, ScalarField = Fr>,
    {
        let mut rng = StdRng::seed_from_u64(seed);
        let p = Projective::<P>::rand(&mut rng).into_affine();
        let q = Projective::<P>::rand(&mut rng).into_affine();
        let phi = Glv::<P>::endomorphism(&p);
        let lambda = P::LAMBDA;
        let edge = [
            Fr::one(),
            -Fr::one(),
            Fr::from(2u64),
            Fr::from(u128::MAX),
            -Fr::from(u128::MAX),
            Fr::from(u128::MAX) + Fr::one(),
            lambda,
            -lambda,
            lambda * lambda,
            lambda * Fr::from(u128::MAX),
            lambda * Fr::from(3u64),
            Fr::from(2u64).inverse().unwrap(),
            -Fr::from(2u64).inverse().unwrap(),
        ];
        let random: Vec<Fr> = (0..50).map(|_| Fr::rand(&mut rng)).collect();
        let check = |bases: &[Affine<P>], scalars: &[Fr], what: &str| {
            assert_eq!(msm(bases, scalars), Projective::<P>::msm(bases, scalars).unwrap(), "{what}");
        };

        // One base, every edge scalar (alone and all together).
        for k in edge {
            check(&[p], &[k], &format!("p·{k}"));
        }
        check(&vec![p; edge.len()], &edge, "equal bases, edge scalars");
        // Equal bases and equal scalars: every bucket is one point repeated (doubling chains).
        for k in edge.iter().chain(&random[..3]) {
            check(&[p; 300], &[*k; 300], &format!("300 × p·{k}"));
        }
        // Equal bases, random scalars.
        check(&[p; 200], &random.iter().cycle().take(200).copied().collect::<Vec<_>>(), "equal p");
        // Equal bases with opposite scalars, and opposite bases with equal scalars: the sum is zero,
        // buckets cancel.
        let mut scalars: Vec<Fr> = random.iter().chain(&edge).copied().collect();
        scalars.extend(scalars.clone().iter().map(|k| -*k));
        assert!(msm(&vec![p; scalars.len()], &scalars).is_zero());
        check(&vec![p; scalars.len()], &scalars, "opposite scalars");
        let half = scalars.len() / 2;
        let opposite: Vec<Affine<P>> = (0..scalars.len()).map(|i| if i < half { p } else { -p }).collect();
        let same: Vec<Fr> = scalars[..half].iter().chain(&scalars[..half]).copied().collect();
        assert!(msm(&opposite, &same).is_zero());
        // `φ(P)`, `−φ(P)` and `P` together: split bases `kᵢ₂·φ(P)` meet the base `φ(P)` in buckets.
        let bases: Vec<Affine<P>> = [p, phi, -phi, q, -p, phi].into_iter().cycle().take(120).collect();
        let ks: Vec<Fr> = edge.iter().chain(&random).cycle().take(120).copied().collect();
        check(&bases, &ks, "p, φ(p), −φ(p)");
        let ks: Vec<Fr> =
            [lambda, Fr::one(), -Fr::one(), lambda * lambda].into_iter().cycle().take(120).collect();
        check(&bases, &ks, "λ-multiples against φ(p)");
        // Scalars that cancel through the endomorphism: λ·P − φ(P) = 0.
        assert!(msm(&[p, phi], &[lambda, -Fr::one()]).is_zero());
    }

    #[test]
    fn adversarial_bases_and_scalars_agree_with_arkworks() {
        adversarial::<ark_bn254::g1::Config>(41);
        adversarial::<ark_bn254::g2::Config>(42);
    }

    #[test]
    fn every_digit_decomposition_recomposes() {
        let mut rng = StdRng::seed_from_u64(5);
        for c in 2..=16 {
            let count = (HALF_BITS + 1).div_ceil(c);
            for s in [0, 1, u128::MAX, u128::MAX >> 1, (1 << 127) + 1, rng.gen::<u128>()] {
                let mut d = Vec::new();
                digits(s, c, count, &mut d);
                let radix = Fr::from(1u64 << c);
                let back = d.iter().rev().fold(Fr::zero(), |acc, &x| acc * radix + Fr::from(x as i64));
                assert_eq!(back, Fr::from(s), "c = {c}, s = {s}");
                assert!(d.iter().all(|x| x.unsigned_abs() <= 1 << (c - 1)));
            }
        }
    }
}

//! Points in extended Jacobian ("XYZZ") coordinates over a [`Coordinate`] field, for the running
//! sums that turn a window's buckets into `Σ (b+1)·bucket_b`.
//!
//! Why here and not arkworks' `Projective`: the running sums are about a seventh of an MSM's
//! field products, and in WebAssembly they must run in the same 29-bit limbs as the bucket
//! additions to be fast. XYZZ (`x = X/ZZ`, `y = Y/ZZZ`) is the representation whose mixed addition
//! is cheapest: 8M + 2S, and 12M + 2S for a full addition (Bernstein–Lange's `madd-2008-s`,
//! `add-2008-s`, `dbl-2008-s-1`).

use super::Coordinate;
use ark_ec::short_weierstrass::{Projective, SWCurveConfig};
use ark_ff::Zero;

/// `(X, Y, ZZ, ZZZ)` with `ZZ³ = ZZZ²`; `ZZ = 0` is the identity.
#[derive(Clone, Copy, Debug)]
pub struct Xyzz<C> {
    x: C,
    y: C,
    zz: C,
    zzz: C,
}

impl<C: Coordinate> Xyzz<C> {
    pub fn identity() -> Self {
        let zero = C::zero();
        Self { x: zero, y: zero, zz: zero, zzz: zero }
    }

    pub fn is_identity(&self) -> bool {
        self.zz == C::zero()
    }

    /// `self += (x, y)`, an affine point (never the identity) on `y² = x³ + a·x + b`.
    pub fn add_affine(&mut self, (x2, y2): &(C, C), a: &C) {
        if self.is_identity() {
            *self = Self { x: *x2, y: *y2, zz: C::one(), zzz: C::one() };
            return;
        }
        let p = x2.mul(&self.zz).sub(&self.x);
        let r = y2.mul(&self.zzz).sub(&self.y);
        if p == C::zero() {
            if r == C::zero() {
                *self = Self::double_affine(x2, y2, a);
            } else {
                *self = Self::identity();
            }
            return;
        }
        let pp = p.square();
        let ppp = p.mul(&pp);
        let q = self.x.mul(&pp);
        let x3 = r.square().sub(&ppp).sub(&q.double());
        let y3 = r.mul(&q.sub(&x3)).sub(&self.y.mul(&ppp));
        *self = Self { x: x3, y: y3, zz: self.zz.mul(&pp), zzz: self.zzz.mul(&ppp) };
    }

    /// `self += other`.
    pub fn add(&mut self, other: &Self, a: &C) {
        if other.is_identity() {
            return;
        }
        if self.is_identity() {
            *self = *other;
            return;
        }
        let u1 = self.x.mul(&other.zz);
        let u2 = other.x.mul(&self.zz);
        let s1 = self.y.mul(&other.zzz);
        let s2 = other.y.mul(&self.zzz);
        let p = u2.sub(&u1);
        let r = s2.sub(&s1);
        if p == C::zero() {
            if r == C::zero() {
                self.double_in_place(a);
            } else {
                *self = Self::identity();
            }
            return;
        }
        let pp = p.square();
        let ppp = p.mul(&pp);
        let q = u1.mul(&pp);
        let x3 = r.square().sub(&ppp).sub(&q.double());
        let y3 = r.mul(&q.sub(&x3)).sub(&s1.mul(&ppp));
        let zz = self.zz.mul(&other.zz).mul(&pp);
        let zzz = self.zzz.mul(&other.zzz).mul(&ppp);
        *self = Self { x: x3, y: y3, zz, zzz };
    }

    /// `2·self`.
    fn double_in_place(&mut self, a: &C) {
        if self.is_identity() {
            return;
        }
        let u = self.y.double();
        let v = u.square();
        let w = u.mul(&v);
        let s = self.x.mul(&v);
        let xx = self.x.square();
        let m = xx.double().add(&xx).add(&a.mul(&self.zz.square()));
        let x3 = m.square().sub(&s.double());
        let y3 = m.mul(&s.sub(&x3)).sub(&w.mul(&self.y));
        *self = Self { x: x3, y: y3, zz: v.mul(&self.zz), zzz: w.mul(&self.zzz) };
    }

    /// `2·(x, y)` for an affine point.
    fn double_affine(x: &C, y: &C, a: &C) -> Self {
        let u = y.double();
        let v = u.square();
        let w = u.mul(&v);
        let s = x.mul(&v);
        let xx = x.square();
        let m = xx.double().add(&xx).add(a);
        let x3 = m.square().sub(&s.double());
        let y3 = m.mul(&s.sub(&x3)).sub(&w.mul(y));
        Self { x: x3, y: y3, zz: v, zzz: w }
    }

    /// arkworks' Jacobian `(X', Y', Z')`, `x = X'/Z'²`, `y = Y'/Z'³`, with `Z' = ZZ·ZZZ`:
    /// `X' = X·ZZ·ZZZ²` and `Y' = Y·ZZ³·ZZZ²`. No inversion.
    pub fn to_projective<P: SWCurveConfig<BaseField = C::Ark>>(&self) -> Projective<P> {
        if self.is_identity() {
            return Projective::zero();
        }
        let zzz2 = self.zzz.square();
        let z = self.zz.mul(&self.zzz);
        let x = self.x.mul(&self.zz).mul(&zzz2);
        let y = self.y.mul(&self.zz.square()).mul(&self.zz).mul(&zzz2);
        Projective::new_unchecked(x.to_ark(), y.to_ark(), z.to_ark())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msm::limbs29::{Fq29, Fq2x29};
    use crate::msm::Ark;
    use ark_ec::short_weierstrass::Affine;
    use ark_ec::{AdditiveGroup, CurveGroup};
    use ark_std::rand::{rngs::StdRng, SeedableRng};
    use ark_std::UniformRand;

    fn coords<P: SWCurveConfig, C: Coordinate<Ark = P::BaseField>>(p: &Affine<P>) -> (C, C) {
        (C::from_ark(&p.x), C::from_ark(&p.y))
    }

    /// Sums of random points, equal points (doubling), opposite points (identity) and the
    /// identity, in both kinds of addition, against arkworks.
    fn agrees<P: SWCurveConfig, C: Coordinate<Ark = P::BaseField>>(seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let a = C::from_ark(&P::COEFF_A);
        let points: Vec<Affine<P>> = (0..12).map(|_| Projective::<P>::rand(&mut rng).into_affine()).collect();
        let mut sequence: Vec<Affine<P>> = Vec::new();
        for (i, p) in points.iter().enumerate() {
            // p, p (a double), −(2p)… (back to an earlier sum), and −sum (the identity).
            sequence.extend([*p, *p, -*p]);
            if i % 3 == 0 {
                sequence.push(-(*p + *p).into_affine());
            }
        }
        let (mut ours, mut theirs) = (Xyzz::<C>::identity(), Projective::<P>::zero());
        let mut sums = (Xyzz::<C>::identity(), Projective::<P>::zero());
        for q in &sequence {
            ours.add_affine(&coords::<P, C>(q), &a);
            theirs += q;
            assert_eq!(ours.to_projective::<P>(), theirs, "mixed addition");
            // The running sum of running sums, as a window's bucket sum makes it.
            sums.0.add(&ours, &a);
            sums.1 += theirs;
            assert_eq!(sums.0.to_projective::<P>(), sums.1, "full addition");
            // A full addition of a point to itself doubles it; of its negation, cancels.
            let mut twice = ours;
            twice.add(&ours, &a);
            assert_eq!(twice.to_projective::<P>(), theirs.double(), "doubling");
            let mut neg = Xyzz::<C>::identity();
            if !theirs.is_zero() {
                neg.add_affine(&coords::<P, C>(&(-theirs).into_affine()), &a);
            }
            neg.add(&ours, &a);
            assert!(neg.is_identity() && neg.to_projective::<P>().is_zero(), "p + (−p)");
        }
        // The sequence returns to the identity at least once, and adds onto it again.
        let mut back = Xyzz::<C>::identity();
        back.add_affine(&coords::<P, C>(&points[0]), &a);
        back.add_affine(&coords::<P, C>(&-points[0]), &a);
        assert!(back.is_identity());
        back.add_affine(&coords::<P, C>(&points[1]), &a);
        assert_eq!(back.to_projective::<P>(), Projective::<P>::from(points[1]));
    }

    #[test]
    fn extended_jacobian_sums_agree_with_arkworks() {
        agrees::<ark_bn254::g1::Config, Ark<ark_bn254::Fq>>(1);
        agrees::<ark_bn254::g1::Config, Fq29>(2);
        agrees::<ark_bn254::g2::Config, Ark<ark_bn254::Fq2>>(3);
        agrees::<ark_bn254::g2::Config, Fq2x29>(4);
    }
}

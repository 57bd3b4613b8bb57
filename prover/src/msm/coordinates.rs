//! The field the bucket additions compute in, chosen per target.
//!
//! Batch-affine bucket additions are nearly all base-field products. Natively arkworks' fields
//! (with x86-64 assembly) are the fastest; in WebAssembly the 29-bit limbs of [`super::limbs29`]
//! are. The MSM is written once over [`Coordinate`] and each curve names its representation in
//! [`Buckets`]; tests run the MSM in both representations on every target.

use super::limbs29::{Fq29, Fq2x29};
use super::xyzz::Xyzz;
use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
use ark_ff::Field;
use ark_ff::Zero;

/// A field representation for affine coordinates: arithmetic, and conversion from and to the
/// arkworks field it represents.
pub trait Coordinate: Copy + PartialEq + Send + Sync {
    type Ark: Field;
    fn zero() -> Self;
    fn one() -> Self;
    fn from_ark(x: &Self::Ark) -> Self;
    fn to_ark(&self) -> Self::Ark;
    fn add(&self, other: &Self) -> Self;
    fn sub(&self, other: &Self) -> Self;
    fn mul(&self, other: &Self) -> Self;
    fn square(&self) -> Self;
    fn neg(&self) -> Self;
    fn double(&self) -> Self {
        self.add(self)
    }
    /// Replaces every element (none zero) by its inverse: Montgomery's trick, three products an
    /// element and one inversion, in arkworks.
    fn invert_all(v: &mut [Self]) {
        let Some(first) = v.first() else { return };
        let mut prefix = Vec::with_capacity(v.len());
        let mut acc = *first;
        prefix.push(acc);
        for x in &v[1..] {
            acc = acc.mul(x);
            prefix.push(acc);
        }
        let inv = acc.to_ark().inverse().expect("the denominators are not zero");
        let mut inv = Self::from_ark(&inv);
        for i in (1..v.len()).rev() {
            let x = v[i];
            v[i] = inv.mul(&prefix[i - 1]);
            inv = inv.mul(&x);
        }
        v[0] = inv;
    }

    /// `Σ (b+1)·bucket_b` for reduced buckets (bucket `b` is `points[start[b]]`, empty when
    /// `start[b] = start[b+1]`), as a running sum from the top bucket down; in [`Xyzz`]
    /// coordinates over this representation.
    fn bucket_total<P: SWCurveConfig<BaseField = Self::Ark>>(
        points: &[(Self, Self)],
        start: &[u32],
        a: &Self,
    ) -> Projective<P> {
        running_sums(
            start,
            Xyzz::<Self>::identity(),
            |running, i| running.add_affine(&points[i], a),
            |sum, running| sum.add(running, a),
        )
        .to_projective()
    }
}

/// `Σ (b+1)·bucket_b` over reduced buckets, in any point representation: `running` gains bucket
/// `b`'s point (`add_point(running, index)`) from the top bucket down and `sum` gains `running`
/// after each bucket.
fn running_sums<A: Copy>(
    start: &[u32],
    identity: A,
    mut add_point: impl FnMut(&mut A, usize),
    mut add: impl FnMut(&mut A, &A),
) -> A {
    let (mut running, mut sum) = (identity, identity);
    for b in (0..start.len() - 1).rev() {
        if start[b] != start[b + 1] {
            add_point(&mut running, start[b] as usize);
        }
        add(&mut sum, &running);
    }
    sum
}

/// An arkworks field, as it is (a wrapper, so that its methods and ours never share a name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub struct Ark<F>(pub F);

impl<F: Field> Coordinate for Ark<F> {
    type Ark = F;
    #[inline(always)]
    fn zero() -> Self {
        Self(F::ZERO)
    }
    #[inline(always)]
    fn one() -> Self {
        Self(F::ONE)
    }
    #[inline(always)]
    fn from_ark(x: &F) -> Self {
        Self(*x)
    }
    #[inline(always)]
    fn to_ark(&self) -> F {
        self.0
    }
    #[inline(always)]
    fn add(&self, other: &Self) -> Self {
        Self(self.0 + other.0)
    }
    #[inline(always)]
    fn sub(&self, other: &Self) -> Self {
        Self(self.0 - other.0)
    }
    #[inline(always)]
    fn mul(&self, other: &Self) -> Self {
        Self(self.0 * other.0)
    }
    #[inline(always)]
    fn square(&self) -> Self {
        Self(self.0.square())
    }
    #[inline(always)]
    fn neg(&self) -> Self {
        Self(-self.0)
    }
    #[inline(always)]
    fn double(&self) -> Self {
        Self(self.0.double())
    }

    fn invert_all(v: &mut [Self]) {
        // SAFETY: `Ark<F>` is `repr(transparent)` over `F`.
        let fields = unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut F, v.len()) };
        ark_ff::serial_batch_inversion_and_mul(fields, &F::ONE);
    }

    /// In arkworks' Jacobian coordinates: natively its additions (with squarings in assembly) are
    /// faster than [`Xyzz`] over its field.
    fn bucket_total<P: SWCurveConfig<BaseField = F>>(
        points: &[(Self, Self)],
        start: &[u32],
        _a: &Self,
    ) -> Projective<P> {
        running_sums(
            start,
            Projective::<P>::zero(),
            |running, i| *running += Affine::<P>::new_unchecked(points[i].0 .0, points[i].1 .0),
            |sum, running| *sum += *running,
        )
    }
}

macro_rules! limbs29_coordinate {
    ($ty:ty, $ark:ty) => {
        impl Coordinate for $ty {
            type Ark = $ark;
            fn zero() -> Self {
                <$ty>::ZERO
            }
            fn one() -> Self {
                <$ty>::one()
            }
            fn from_ark(x: &$ark) -> Self {
                <$ty>::from_ark(x)
            }
            fn to_ark(&self) -> $ark {
                <$ty>::to_ark(self)
            }
            #[inline(always)]
            fn add(&self, other: &Self) -> Self {
                <$ty>::add(self, other)
            }
            #[inline(always)]
            fn sub(&self, other: &Self) -> Self {
                <$ty>::sub(self, other)
            }
            #[inline(always)]
            fn mul(&self, other: &Self) -> Self {
                <$ty>::mul(self, other)
            }
            #[inline(always)]
            fn square(&self) -> Self {
                <$ty>::square(self)
            }
            #[inline(always)]
            fn neg(&self) -> Self {
                <$ty>::neg(self)
            }
        }
    };
}
limbs29_coordinate!(Fq29, ark_bn254::Fq);
limbs29_coordinate!(Fq2x29, ark_bn254::Fq2);

/// A curve whose MSM buckets add in the representation `Coord` of its base field.
pub trait Buckets: SWCurveConfig {
    type Coord: Coordinate<Ark = Self::BaseField>;
}

#[cfg(not(target_family = "wasm"))]
impl Buckets for ark_bn254::g1::Config {
    type Coord = Ark<ark_bn254::Fq>;
}
#[cfg(not(target_family = "wasm"))]
impl Buckets for ark_bn254::g2::Config {
    type Coord = Ark<ark_bn254::Fq2>;
}
#[cfg(target_family = "wasm")]
impl Buckets for ark_bn254::g1::Config {
    type Coord = Fq29;
}
#[cfg(target_family = "wasm")]
impl Buckets for ark_bn254::g2::Config {
    type Coord = Fq2x29;
}

//! Field elements and points as snarkjs stores and hashes them.
//!
//! * **Files** (`.ptau`, `.zkey`) store coordinates in Montgomery form, little-endian ("LEM"), a
//!   G1 point as `x‖y` (64 bytes), a G2 point as `x.c0‖x.c1‖y.c0‖y.c1` (128 bytes), the identity as
//!   all zeros. arkworks keeps the same Montgomery representation in memory, so a coordinate's
//!   limbs are written as they are. Reading refuses non-canonical coordinates (≥ q), points off
//!   the curve and G2 points outside the prime-order subgroup (docs/soundness.md §11).
//! * **Hashes** (the circuit hash, the contribution transcript) absorb points in ffjavascript's
//!   `toRprUncompressed` form ([`crate::ffjs::g1_uncompressed_be`]).
//! * **`.r1cs` coefficients** are standard little-endian integers; **`.zkey` coefficients**
//!   (section 4) are stored multiplied by R² (snarkjs's `nR2`), i.e. the Montgomery form of `n·R`.

use ark_bn254::{Fq, Fq2, Fr, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInt, Field, Fp, FpConfig, MontConfig, PrimeField};

pub const G1_BYTES: usize = 64;
pub const G2_BYTES: usize = 128;
pub const FIELD_BYTES: usize = 32;

/// Why a point's bytes were refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PointError {
    #[error("a coordinate is not below the base field's modulus")]
    NonCanonical,
    #[error("the point is not on the curve")]
    OffCurve,
    #[error("the point is not in the prime-order subgroup")]
    NotInSubgroup,
}

fn bigint_le(b: &[u8]) -> BigInt<4> {
    let mut limbs = [0u64; 4];
    for (i, l) in limbs.iter_mut().enumerate() {
        *l = u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    }
    BigInt(limbs)
}

fn bigint_to_le(b: &BigInt<4>, out: &mut Vec<u8>) {
    for l in b.0 {
        out.extend_from_slice(&l.to_le_bytes());
    }
}

/// A Montgomery-form little-endian element; `None` when not canonical.
fn fp_from_lem<P: FpConfig<4>>(b: &[u8]) -> Option<Fp<P, 4>> {
    let bi = bigint_le(b);
    (bi < P::MODULUS).then_some(Fp(bi, core::marker::PhantomData))
}

fn fp_to_lem<P: FpConfig<4>>(f: &Fp<P, 4>, out: &mut Vec<u8>) {
    bigint_to_le(&f.0, out)
}

/// A standard little-endian scalar (the `.r1cs` form); `None` when ≥ r.
pub fn fr_from_le(b: &[u8]) -> Option<Fr> {
    Fr::from_bigint(bigint_le(b))
}

pub fn fr_to_le(f: &Fr, out: &mut Vec<u8>) {
    bigint_to_le(&f.into_bigint(), out)
}

/// `R = 2²⁵⁶ mod r` as a field element.
fn r_mod_r() -> Fr {
    Fr::from_bigint(<ark_bn254::FrConfig as MontConfig<4>>::R).expect("R < r")
}

/// A `.zkey` section-4 coefficient: the bytes of `n·R²` (the Montgomery form of `n·R`).
pub fn zkey_coef_to_bytes(n: &Fr, out: &mut Vec<u8>) {
    fp_to_lem(&(*n * r_mod_r()), out)
}

/// The inverse of [`zkey_coef_to_bytes`]; `None` when not canonical.
pub fn zkey_coef_from_bytes(b: &[u8]) -> Option<Fr> {
    let n_r: Fr = fp_from_lem(b)?;
    Some(n_r * r_mod_r().inverse().expect("R ≠ 0"))
}

/// The little-endian bytes of the base field's modulus q.
pub fn q_le() -> Vec<u8> {
    let mut v = Vec::new();
    bigint_to_le(&Fq::MODULUS, &mut v);
    v
}

/// The little-endian bytes of the scalar field's modulus r.
pub fn r_le() -> Vec<u8> {
    let mut v = Vec::new();
    bigint_to_le(&Fr::MODULUS, &mut v);
    v
}

pub fn g1_from_lem(b: &[u8]) -> Result<G1Affine, PointError> {
    if b.iter().all(|x| *x == 0) {
        return Ok(G1Affine::zero());
    }
    let x = fp_from_lem(&b[..32]).ok_or(PointError::NonCanonical)?;
    let y = fp_from_lem(&b[32..64]).ok_or(PointError::NonCanonical)?;
    let p = G1Affine::new_unchecked(x, y);
    if !p.is_on_curve() {
        return Err(PointError::OffCurve);
    }
    // G1 has cofactor 1: on the curve is in the subgroup.
    Ok(p)
}

pub fn g2_from_lem(b: &[u8]) -> Result<G2Affine, PointError> {
    if b.iter().all(|x| *x == 0) {
        return Ok(G2Affine::zero());
    }
    let f = |i: usize| -> Result<Fq, PointError> {
        fp_from_lem(&b[i * 32..i * 32 + 32]).ok_or(PointError::NonCanonical)
    };
    let p = G2Affine::new_unchecked(Fq2::new(f(0)?, f(1)?), Fq2::new(f(2)?, f(3)?));
    if !p.is_on_curve() {
        return Err(PointError::OffCurve);
    }
    if !p.is_in_correct_subgroup_assuming_on_curve() {
        return Err(PointError::NotInSubgroup);
    }
    Ok(p)
}

pub fn g1_to_lem(p: &G1Affine, out: &mut Vec<u8>) {
    match p.xy() {
        None => out.extend_from_slice(&[0; G1_BYTES]),
        Some((x, y)) => {
            fp_to_lem(&x, out);
            fp_to_lem(&y, out);
        }
    }
}

pub fn g2_to_lem(p: &G2Affine, out: &mut Vec<u8>) {
    match p.xy() {
        None => out.extend_from_slice(&[0; G2_BYTES]),
        Some((x, y)) => {
            for c in [x.c0, x.c1, y.c0, y.c1] {
                fp_to_lem(&c, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::UniformRand;

    #[test]
    fn points_round_trip_and_bad_points_are_refused() {
        let mut rng = ark_std::test_rng();
        for p in
            [G1Affine::zero(), G1Affine::generator(), (G1Affine::generator() * Fr::rand(&mut rng)).into()]
        {
            let mut v = Vec::new();
            g1_to_lem(&p, &mut v);
            assert_eq!(g1_from_lem(&v), Ok(p));
        }
        for p in
            [G2Affine::zero(), G2Affine::generator(), (G2Affine::generator() * Fr::rand(&mut rng)).into()]
        {
            let mut v = Vec::new();
            g2_to_lem(&p, &mut v);
            assert_eq!(g2_from_lem(&v), Ok(p));
        }
        // Off the curve: the generator with y + 1.
        let mut v = Vec::new();
        g1_to_lem(&G1Affine::generator(), &mut v);
        v[32] ^= 1;
        assert_eq!(g1_from_lem(&v), Err(PointError::OffCurve));
        // Non-canonical: x = q.
        let mut v = q_le();
        v.extend_from_slice(&[0; 32]);
        assert_eq!(g1_from_lem(&v), Err(PointError::NonCanonical));
        // On the twist but outside the prime-order subgroup.
        let mut x = Fq2::from(1u64);
        let off = loop {
            if let Some(p) = G2Affine::get_point_from_x_unchecked(x, false) {
                if !p.is_in_correct_subgroup_assuming_on_curve() {
                    break p;
                }
            }
            x += Fq2::from(1u64);
        };
        let mut v = Vec::new();
        g2_to_lem(&off, &mut v);
        assert_eq!(g2_from_lem(&v), Err(PointError::NotInSubgroup));
    }

    #[test]
    fn zkey_coefficients_are_n_times_r_squared() {
        // ark-circom reads them as `new_unchecked(new_unchecked(b).into_bigint())`.
        for n in [Fr::from(1u64), Fr::from(7u64), -Fr::from(1u64)] {
            let mut v = Vec::new();
            zkey_coef_to_bytes(&n, &mut v);
            let b = bigint_le(&v);
            let twice = Fr::new_unchecked(Fr::new_unchecked(b).into_bigint());
            assert_eq!(twice, n);
            assert_eq!(zkey_coef_from_bytes(&v), Some(n));
        }
    }
}

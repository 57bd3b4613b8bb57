//! Fixed-base scalar multiplication for the verifying key's input points (`γ_abc`).
//!
//! Why: arkworks' `Groth16::prepare_inputs` multiplies each input point by plain double-and-add
//! (254 doublings and ~127 additions per input), about a fifth of verifying one code. The input
//! points are fixed per checkpoint, so they are expanded once into signed base-16 tables
//! (`(k+1)·16^w·P` for `k < 8`, 64 windows: 512 affine points, 32 KB per input) and `Σ xᵢ·Pᵢ`
//! becomes 64 mixed additions per input and no doublings.

use ark_bn254::{Fr, G1Affine, G1Projective};
use ark_ec::{AdditiveGroup, CurveGroup};
use ark_ff::{PrimeField, Zero};

const WINDOW: usize = 4;
const ENTRIES: usize = 1 << (WINDOW - 1);
/// 64 windows of 4 bits cover 256 bits: the 254-bit scalars and the last signed-digit carry.
const WINDOWS: usize = 256 / WINDOW;

/// Precomputed multiples of a few fixed points.
#[derive(Clone, Debug)]
pub struct FixedBases {
    /// Per point, `WINDOWS × ENTRIES` multiples: entry `w·ENTRIES + k` is `(k+1)·16^w·P`.
    tables: Vec<Vec<G1Affine>>,
}

impl FixedBases {
    pub fn new(points: &[G1Affine]) -> Self {
        let tables = points
            .iter()
            .map(|p| {
                let mut multiples = Vec::with_capacity(WINDOWS * ENTRIES);
                let mut q = G1Projective::from(*p);
                for _ in 0..WINDOWS {
                    let mut acc = q;
                    multiples.push(acc);
                    for _ in 1..ENTRIES {
                        acc += q;
                        multiples.push(acc);
                    }
                    for _ in 0..WINDOW {
                        q.double_in_place();
                    }
                }
                G1Projective::normalize_batch(&multiples)
            })
            .collect();
        Self { tables }
    }

    pub fn len(&self) -> usize {
        self.tables.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// `Σ scalarsᵢ·Pᵢ`; `scalars` must have one entry per point.
    pub fn sum(&self, scalars: &[Fr]) -> G1Projective {
        assert_eq!(scalars.len(), self.tables.len(), "one scalar per fixed point");
        let mut acc = G1Projective::zero();
        for (table, s) in self.tables.iter().zip(scalars) {
            let limbs = s.into_bigint().0;
            let mut carry = 0i64;
            for w in 0..WINDOWS {
                let bit = w * WINDOW;
                let raw = ((limbs[bit / 64] >> (bit % 64)) & ((1 << WINDOW) - 1)) as i64;
                let mut d = raw + carry;
                carry = 0;
                if d > ENTRIES as i64 {
                    d -= 1 << WINDOW;
                    carry = 1;
                }
                if d > 0 {
                    acc += table[w * ENTRIES + d as usize - 1];
                } else if d < 0 {
                    acc -= table[w * ENTRIES + (-d) as usize - 1];
                }
            }
            debug_assert_eq!(carry, 0, "scalars are below 2^255");
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::UniformRand;
    use ark_std::rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn agrees_with_double_and_add() {
        let mut rng = StdRng::seed_from_u64(1);
        let points: Vec<G1Affine> = (0..6).map(|_| G1Projective::rand(&mut rng).into_affine()).collect();
        let fixed = FixedBases::new(&points);
        let edge =
            [Fr::zero(), Fr::from(1u64), -Fr::from(1u64), Fr::from(8u64), Fr::from(9u64), Fr::from(u64::MAX)];
        for round in 0..20 {
            let scalars: Vec<Fr> =
                if round == 0 { edge.to_vec() } else { (0..6).map(|_| Fr::rand(&mut rng)).collect() };
            let expected: G1Projective = points.iter().zip(&scalars).map(|(p, s)| *p * s).sum();
            assert_eq!(fixed.sum(&scalars), expected);
        }
    }
}

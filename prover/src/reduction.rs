//! The circom-style R1CS-to-QAP reduction as an arkworks [`R1CSToQAP`], the twin of
//! [`crate::engine`]'s quotient: keys from a `.zkey` ceremony carry `H` as the odd Lagrange points
//! of the doubled domain, so the prover must supply the quotient's evaluations on the odd coset
//! (where the vanishing polynomial is −2), not its coefficients. arkworks' own prover with this
//! reduction is the reference the engine is checked against, bit for bit.

use ark_ff::PrimeField;
use ark_groth16::r1cs_to_qap::{evaluate_constraint, LibsnarkReduction, R1CSToQAP};
use ark_poly::EvaluationDomain;
use ark_relations::gr1cs::{ConstraintSystemRef, Matrix, Result as R1CSResult, SynthesisError};

/// snarkjs's and ark-circom's reduction.
pub struct CircomReduction;

impl R1CSToQAP for CircomReduction {
    #[allow(clippy::type_complexity)]
    fn instance_map_with_evaluation<F: PrimeField, D: EvaluationDomain<F>>(
        cs: ConstraintSystemRef<F>,
        t: &F,
    ) -> R1CSResult<(Vec<F>, Vec<F>, Vec<F>, F, usize, usize)> {
        // The A, B, C polynomials are the same in both reductions; only H differs.
        LibsnarkReduction::instance_map_with_evaluation::<F, D>(cs, t)
    }

    fn witness_map_from_matrices<F: PrimeField, D: EvaluationDomain<F>>(
        matrices: &[Matrix<F>],
        num_inputs: usize,
        num_constraints: usize,
        full_assignment: &[F],
    ) -> R1CSResult<Vec<F>> {
        let domain = D::new(num_constraints + num_inputs).ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
        let n = domain.size();
        let row = |m: &Matrix<F>, with_inputs: bool| {
            let mut v = vec![F::zero(); n];
            for (i, r) in m.iter().enumerate() {
                v[i] = evaluate_constraint(r, full_assignment);
            }
            if with_inputs {
                v[num_constraints..num_constraints + num_inputs]
                    .copy_from_slice(&full_assignment[..num_inputs]);
            }
            v
        };
        let odd = domain
            .get_coset(F::get_root_of_unity(2 * n as u64).ok_or(SynthesisError::PolynomialDegreeTooLarge)?)
            .ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
        let mut out = Vec::new();
        for (m, with_inputs) in [(&matrices[0], true), (&matrices[1], false), (&matrices[2], false)] {
            let mut v = row(m, with_inputs);
            domain.ifft_in_place(&mut v);
            odd.fft_in_place(&mut v);
            out.push(v);
        }
        Ok((0..n).map(|i| out[0][i] * out[1][i] - out[2][i]).collect())
    }

    /// `Hᵢ = L'₂ᵢ₊₁(τ)/δ`: the odd Lagrange values of the doubled domain at τ, computed (as
    /// snarkjs's `prepare phase2` does) from the powers `τʲ, j < 2n − 1`.
    fn h_query_scalars<F: PrimeField, D: EvaluationDomain<F>>(
        max_power: usize,
        t: F,
        _zt: F,
        delta_inverse: F,
    ) -> Result<Vec<F>, SynthesisError> {
        let n = max_power + 1;
        let big = D::new(2 * n).ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
        let mut v: Vec<F> = std::iter::successors(Some(F::one()), |x| Some(*x * t)).take(2 * n).collect();
        v[2 * n - 1] = F::zero();
        big.ifft_in_place(&mut v);
        Ok(v.into_iter().skip(1).step_by(2).map(|x| x * delta_inverse).collect())
    }
}

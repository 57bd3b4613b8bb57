//! Well-formedness of a verifying key, checked point by point.
//!
//! A checkpoint trusts the verifying key it was given; the auditor makes sure that key can only
//! accept proofs of the five-input statement: every point on its curve, in the prime-order
//! subgroup and not the identity, exactly one input commitment per public input (plus the
//! constant), and `γ ≠ δ` (with `γ = δ` a prover can fold forged public inputs into `C`).

use ark_bn254::Bn254;
use ark_ec::short_weierstrass::{Affine, SWCurveConfig};
use ark_ec::AffineRepr;
use ark_groth16::VerifyingKey;
use healthcode_circuits::statement::PUBLIC_INPUTS;

/// Names what is wrong with one point of the key, if anything.
fn point<P: SWCurveConfig>(name: &str, p: &Affine<P>, problems: &mut Vec<String>) {
    if p.is_zero() {
        problems.push(format!("{name} is the identity"));
    } else if !p.is_on_curve() {
        problems.push(format!("{name} is not on the curve"));
    } else if !p.is_in_correct_subgroup_assuming_on_curve() {
        problems.push(format!("{name} is not in the prime-order subgroup"));
    }
}

/// Every problem found with the key; empty when it is well-formed for the statement.
pub fn verifying_key_problems(vk: &VerifyingKey<Bn254>) -> Vec<String> {
    let mut problems = Vec::new();
    point("alpha_g1", &vk.alpha_g1, &mut problems);
    point("beta_g2", &vk.beta_g2, &mut problems);
    point("gamma_g2", &vk.gamma_g2, &mut problems);
    point("delta_g2", &vk.delta_g2, &mut problems);
    for (i, p) in vk.gamma_abc_g1.iter().enumerate() {
        point(&format!("gamma_abc_g1[{i}]"), p, &mut problems);
    }
    if vk.gamma_abc_g1.len() != PUBLIC_INPUTS + 1 {
        problems.push(format!(
            "the key has {} public inputs, the statement has {PUBLIC_INPUTS}",
            vk.gamma_abc_g1.len().saturating_sub(1)
        ));
    }
    if vk.gamma_g2 == vk.delta_g2 {
        problems.push("gamma_g2 equals delta_g2: public inputs could be forged".into());
    }
    problems
}

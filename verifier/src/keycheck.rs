//! Well-formedness of a verifying key, checked point by point — by the auditor, and by every
//! checkpoint when it loads a bundle.
//!
//! Every point on its curve, in the prime-order subgroup and not the identity, exactly one input
//! commitment per public input (plus the constant), γ the G2 generator as every snarkjs-format
//! ceremony makes it (a γ chosen by whoever published the key — `γ = k·δ` for a known `k` — lets
//! a prover move the public inputs' term into `C` and forge any colour), and `γ ≠ δ`. That δ came
//! from the ceremony is the auditor's transcript check, not something a key shows by itself.

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
    if vk.gamma_g2 != ark_bn254::G2Affine::generator() {
        problems.push(
            "gamma_g2 is not the G2 generator: a chosen γ (such as γ = k·δ) lets provers forge public inputs"
                .into(),
        );
    }
    if vk.gamma_g2 == vk.delta_g2 {
        problems.push("gamma_g2 equals delta_g2: public inputs could be forged".into());
    }
    problems
}

//! Verifying-key well-formedness: an honest key passes; each kind of malformed key is named.

use ark_bn254::{Fq, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use healthcode_verifier::keycheck::verifying_key_problems;

#[test]
fn honest_key_passes_and_malformed_keys_are_named() {
    let vk = healthcode_prover::fixtures::Fixture::shared().keys.verifying_key.clone();
    assert_eq!(verifying_key_problems(&vk), Vec::<String>::new());

    // γ = 2δ: every holder could turn a red code green (C' = C + 2·(IC(x) − IC(x'))).
    let mut k = vk.clone();
    k.gamma_g2 = (k.delta_g2 * ark_bn254::Fr::from(2u64)).into();
    assert!(verifying_key_problems(&k).iter().any(|m| m.contains("gamma_g2 is not the G2 generator")));

    let mut k = vk.clone();
    k.gamma_abc_g1.pop();
    assert!(verifying_key_problems(&k).iter().any(|m| m.contains("4 public inputs")));

    let mut k = vk.clone();
    k.delta_g2 = k.gamma_g2;
    assert!(verifying_key_problems(&k).iter().any(|m| m.contains("gamma_g2 equals delta_g2")));

    let mut k = vk.clone();
    k.alpha_g1 = G1Affine::zero();
    assert!(verifying_key_problems(&k).iter().any(|m| m.contains("alpha_g1 is the identity")));

    let mut k = vk.clone();
    k.gamma_abc_g1[2] = G1Affine::new_unchecked(Fq::from(1u64), Fq::from(1u64));
    assert!(verifying_key_problems(&k).iter().any(|m| m.contains("gamma_abc_g1[2] is not on the curve")));

    // A G2 point on the twist but outside the prime-order subgroup.
    let mut k = vk.clone();
    let off =
        (0u64..).find_map(|x| G2Affine::get_point_from_x_unchecked(ark_bn254::Fq2::from(x), false)).unwrap();
    assert!(!off.is_in_correct_subgroup_assuming_on_curve());
    k.beta_g2 = off;
    assert!(verifying_key_problems(&k)
        .iter()
        .any(|m| m.contains("beta_g2 is not in the prime-order subgroup")));
}

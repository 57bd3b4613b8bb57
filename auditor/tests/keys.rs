//! Verifying-key well-formedness: an honest key passes; each kind of malformed key is named.

use ark_bn254::{Bn254, Fq, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_groth16::Groth16;
use ark_snark::CircuitSpecificSetupSNARK;
use healthcode_auditor::keys::verifying_key_problems;
use healthcode_circuits::{policy::Policy, statement::HealthCodeCircuit};
use rand::SeedableRng;

#[test]
fn honest_key_passes_and_malformed_keys_are_named() {
    let p = Policy::parse(include_str!("../../policies/henan-2022.toml")).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let (_, vk) = Groth16::<Bn254>::setup(HealthCodeCircuit::for_setup(&p), &mut rng).unwrap();
    assert_eq!(verifying_key_problems(&vk), Vec::<String>::new());

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

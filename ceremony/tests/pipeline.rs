//! A small ceremony end to end, on a development phase 1: init, contributions, beacon, verify.

use ark_std::rand::SeedableRng;
use healthcode_ceremony::{contribute, init, ptau, verify, Ptau, R1cs};
use healthcode_circuits::policy::Policy;
use healthcode_circuits::statement::matrices;

#[test]
fn generate_init_contribute_verify() {
    let policy = Policy::parse(include_str!("../../policies/henan-2022.toml")).unwrap();
    let m = matrices(&policy).unwrap();
    let r1cs = R1cs::from_matrices(&m);
    let k = healthcode_ceremony::circuit_power(&r1cs);
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let secrets = ptau::Phase1Secrets::random(&mut rng);
    let bytes = ptau::generate(k, &secrets);
    let p = Ptau::parse(&bytes).unwrap();
    let report = ptau::check(&p, k, &mut rng).unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let initial = init(&r1cs, &p).unwrap();
    // The development fast path is the same key, byte for byte.
    assert_eq!(initial.encode(), healthcode_ceremony::init::init_from_secrets(&r1cs, &secrets).encode());
    let mut z = initial.clone();
    contribute(&mut z, Some("alice"), b"entropy", &mut rng).unwrap();
    let v = verify::verify(&z, &initial, &mut rng);
    assert!(v.ok(), "{:?}", v.failures);
}

//! The proof split across two workers (`ab_queries`): the same proof as in one, and every message
//! between the workers refused when malformed; wrong sums from the helper never become a code.

use ark_bn254::{Fr, G1Affine, G1Projective, G2Affine};
use ark_ec::{AffineRepr, CurveGroup, PrimeGroup};
use ark_ff::UniformRand;
use ark_serialize::{CanonicalSerialize, Compress};
use ark_std::rand::{rngs::StdRng, SeedableRng};
use healthcode_circuits::hashes;
use healthcode_circuits::policy::Colour;
use healthcode_prover::ab_queries::{assignment_from_bytes, assignment_to_bytes};
use healthcode_prover::fixtures::{Fixture, Holder};
use healthcode_prover::{AbQueries, AbSums, PendingCode, ProveError, ProveRequest, Prover};

fn request(f: &Fixture) -> ProveRequest {
    ProveRequest {
        head: f.population.head,
        now: f.population.now,
        challenge: hashes::challenge("venue:split"),
        bind: false,
        claim: None,
    }
}

fn begin(prover: &Prover, f: &Fixture, holder: &Holder) -> PendingCode {
    prover.begin_code(&holder.witness, &request(f)).unwrap()
}

/// What the second worker does with the bytes it is sent: the queries once, `z` per proof.
fn helper_sums(queries: &[u8], z: &[u8]) -> Vec<u8> {
    let helper = AbQueries::from_bytes(queries).unwrap();
    helper.sums(&assignment_from_bytes(z).unwrap()).unwrap().to_bytes()
}

#[test]
fn split_proof_is_the_one_worker_proof() {
    let f = Fixture::shared();
    let prover = Prover::new(&f.policy, &f.keys.proving_key).unwrap();
    let queries = prover.ab_queries().to_bytes();
    let checkpoint = f.checkpoint();
    for colour in [Colour::Green, Colour::Red] {
        let holder = f.population.holder(colour);
        let whole = prover.prove_code(&holder.witness, &request(f), &mut StdRng::seed_from_u64(5)).unwrap();

        let mut pending = begin(&prover, f, holder);
        let sent = assignment_to_bytes(pending.assignment().z());
        prover.compute_code_c(&mut pending);
        let sums = AbSums::from_bytes(&helper_sums(&queries, &sent)).unwrap();
        let split = prover.finish_code(pending, Some(sums), &mut StdRng::seed_from_u64(5)).unwrap();

        assert_eq!(split.payload.encode().unwrap(), whole.payload.encode().unwrap());
        assert_eq!(split.verdict.colour, colour);
        let code = split.payload.encode().unwrap();
        let challenge = Some(hashes::challenge("venue:split"));
        assert_eq!(checkpoint.verify(&code, f.population.now, challenge, None), Ok(colour));
    }
}

/// A helper answering with sums for another assignment, or sums shifted by a point, gives a proof
/// the self-check refuses: no code leaves the prover.
#[test]
fn wrong_sums_from_the_helper_make_no_code() {
    let f = Fixture::shared();
    let prover = Prover::new(&f.policy, &f.keys.proving_key).unwrap();
    let green = f.population.holder(Colour::Green);
    let red = f.population.holder(Colour::Red);
    let others = prover.ab_queries().sums(begin(&prover, f, red).assignment().z()).unwrap();
    let right = prover.ab_queries().sums(begin(&prover, f, green).assignment().z()).unwrap();
    let shifted_a = AbSums { a: right.a + G1Projective::generator(), ..right };
    let shifted_b = AbSums { b: right.b + ark_bn254::G2Projective::generator(), ..right };
    for wrong in [others, shifted_a, shifted_b] {
        let pending = begin(&prover, f, green);
        let r = prover.finish_code(pending, Some(wrong), &mut StdRng::seed_from_u64(1));
        assert!(matches!(r, Err(ProveError::BrokenBundle)), "{r:?}");
    }
    // The right sums do prove: the refusals above are the sums', not the path's.
    let pending = begin(&prover, f, green);
    assert!(prover.finish_code(pending, Some(right), &mut StdRng::seed_from_u64(1)).is_ok());
}

fn helper_error(r: Result<impl Sized, ProveError>) -> String {
    match r {
        Err(ProveError::Helper(m)) => m,
        Err(e) => panic!("not a helper error: {e}"),
        Ok(_) => panic!("accepted"),
    }
}

/// The queries' bytes with its parts replaced: what a corrupted message would carry.
fn queries_bytes(vars: u64, a: (Vec<u32>, Vec<G1Affine>), b: (Vec<u32>, Vec<G2Affine>)) -> Vec<u8> {
    let mut out = b"hc-ab-q1".to_vec();
    (vars, a.0, a.1, b.0, b.1).serialize_with_mode(&mut out, Compress::No).unwrap();
    out
}

#[test]
fn malformed_queries_are_refused() {
    let f = Fixture::shared();
    let prover = Prover::new(&f.policy, &f.keys.proving_key).unwrap();
    let good = prover.ab_queries().to_bytes();
    assert!(AbQueries::from_bytes(&good).is_ok());
    for cut in [0, 5, 8, 16, 20, good.len() / 2, good.len() - 1] {
        assert!(helper_error(AbQueries::from_bytes(&good[..cut])).contains("malformed"), "cut at {cut}");
    }
    let mut longer = good.clone();
    longer.push(0);
    assert!(helper_error(AbQueries::from_bytes(&longer)).contains("after the end"));
    let mut tag = good.clone();
    tag[0] ^= 1;
    assert!(helper_error(AbQueries::from_bytes(&tag)).contains("not this format"));

    let mut rng = StdRng::seed_from_u64(9);
    let p = G1Projective::rand(&mut rng).into_affine();
    let q = ark_bn254::G2Projective::rand(&mut rng).into_affine();
    let ok = queries_bytes(3, (vec![0, 2], vec![p, p]), (vec![1], vec![q]));
    assert!(AbQueries::from_bytes(&ok).is_ok());
    let past = queries_bytes(3, (vec![0, 3], vec![p, p]), (vec![1], vec![q]));
    assert!(helper_error(AbQueries::from_bytes(&past)).contains("index past"));
    let identity = queries_bytes(3, (vec![0], vec![G1Affine::zero()]), (vec![1], vec![q]));
    assert!(helper_error(AbQueries::from_bytes(&identity)).contains("off the curve"));
    let off = queries_bytes(3, (vec![0], vec![G1Affine::new_unchecked(p.x, p.y + p.y)]), (vec![1], vec![q]));
    assert!(helper_error(AbQueries::from_bytes(&off)).contains("off the curve"));
    let off2 = queries_bytes(3, (vec![0], vec![p]), (vec![1], vec![G2Affine::new_unchecked(q.x, q.x)]));
    assert!(helper_error(AbQueries::from_bytes(&off2)).contains("off the curve"));
    let uneven = queries_bytes(3, (vec![0, 1], vec![p]), (vec![1], vec![q]));
    assert!(helper_error(AbQueries::from_bytes(&uneven)).contains("differ in number"));

    // A right-format helper asked with an assignment of another length refuses; no panic.
    let helper = AbQueries::from_bytes(&ok).unwrap();
    assert!(helper.sums(&[Fr::from(1u64); 3]).is_ok());
    assert!(helper_error(helper.sums(&[Fr::from(1u64); 2])).contains("2 values"));
}

#[test]
fn malformed_assignments_and_sums_are_refused() {
    let z: Vec<Fr> = (0..4u64).map(Fr::from).collect();
    let bytes = assignment_to_bytes(&z);
    assert_eq!(assignment_from_bytes(&bytes).unwrap(), z);
    assert!(helper_error(assignment_from_bytes(&bytes[..bytes.len() - 1])).contains("assignment"));
    // A value at or above the field's modulus is not an element.
    let mut big = bytes.clone();
    big[8..40].fill(0xff);
    assert!(helper_error(assignment_from_bytes(&big)).contains("assignment"));

    let mut rng = StdRng::seed_from_u64(2);
    let sums = AbSums { a: G1Projective::rand(&mut rng), b: ark_bn254::G2Projective::rand(&mut rng) };
    let bytes = sums.to_bytes();
    assert_eq!(bytes.len(), 64 + 128);
    assert_eq!(AbSums::from_bytes(&bytes).unwrap(), sums);
    assert!(helper_error(AbSums::from_bytes(&bytes[..100])).contains("sums"));
    let mut off = bytes.clone();
    off[40] ^= 1;
    assert!(helper_error(AbSums::from_bytes(&off)).contains("sums"));
    let mut longer = bytes;
    longer.push(7);
    assert!(helper_error(AbSums::from_bytes(&longer)).contains("after the end"));
}

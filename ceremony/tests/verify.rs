//! Each way a transcript or a phase-1 file can be wrong is refused with its own named reason,
//! and malformed files are bad input (section and offset named), never a panic.

use ark_bn254::{Fr, G1Affine, G2Affine};
use ark_ec::{AffineRepr, CurveGroup};
use ark_std::rand::SeedableRng;
use healthcode_ceremony::init::init_from_secrets;
use healthcode_ceremony::zkey::ContributionKind;
use healthcode_ceremony::{beacon, circuit_power, contribute, ptau, verify, Ptau, R1cs, Zkey};
use healthcode_circuits::policy::Policy;
use healthcode_circuits::statement::matrices;
use std::sync::OnceLock;

const POLICY: &str = include_str!("../../policies/henan-2022.toml");

struct Fixture {
    r1cs: R1cs,
    phase1: Vec<u8>,
    initial: Zkey,
    /// Two participants and a beacon.
    done: Zkey,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let r1cs = R1cs::from_matrices(&matrices(&Policy::parse(POLICY).unwrap()).unwrap());
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
        let secrets = ptau::Phase1Secrets::random(&mut rng);
        let phase1 = ptau::generate(circuit_power(&r1cs), &secrets);
        let initial = init_from_secrets(&r1cs, &secrets);
        let mut done = initial.clone();
        contribute(&mut done, Some("alice"), b"", &mut rng).unwrap();
        contribute(&mut done, Some("bob"), b"", &mut rng).unwrap();
        beacon(&mut done, Some("beacon"), b"announced", 10).unwrap();
        Fixture { r1cs, phase1, initial, done }
    })
}

fn failures(z: &Zkey) -> Vec<String> {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
    verify::verify(z, &fixture().initial, &mut rng)
        .failures
        .into_iter()
        .map(|f| format!("{}: {}", f.check, f.detail))
        .collect()
}

fn assert_refused(z: &Zkey, what: &str) {
    let f = failures(z);
    assert!(f.iter().any(|m| m.contains(what)), "expected a failure containing `{what}`, got {f:#?}");
}

#[test]
fn honest_transcript_verifies_and_lists_contributions() {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let v = verify::verify(&fixture().done, &fixture().initial, &mut rng);
    assert!(v.ok(), "{:?}", v.failures);
    let names: Vec<_> = v.contributions.iter().map(|c| c.name.clone().unwrap()).collect();
    assert_eq!(names, ["alice", "bob", "beacon"]);
    assert!(v.contributions[2].beacon.is_some());
    // A file round trip changes nothing.
    assert_eq!(Zkey::decode(&fixture().done.encode()).unwrap(), fixture().done);
}

#[test]
fn a_key_without_contributions_is_refused() {
    assert_refused(&fixture().initial, "none: δ is still 1");
}

#[test]
fn a_wrong_proof_of_knowledge_is_refused() {
    let mut z = fixture().done.clone();
    z.mpc.contributions[1].g2_spx = (z.mpc.contributions[1].g2_spx * Fr::from(2u64)).into_affine();
    assert_refused(&z, "contribution #2 (bob): its proof of knowledge is invalid");
}

#[test]
fn a_broken_hash_chain_is_refused() {
    let mut z = fixture().done.clone();
    z.mpc.contributions[0].transcript[5] ^= 1;
    assert_refused(&z, "contribution #1 (alice): its transcript hash does not chain");
}

#[test]
fn reordered_or_dropped_contributions_are_refused() {
    let mut z = fixture().done.clone();
    z.mpc.contributions.swap(0, 1);
    assert_refused(&z, "does not chain");
    let mut z = fixture().done.clone();
    z.mpc.contributions.remove(0);
    assert_refused(&z, "contribution #1 (bob)");
}

#[test]
fn a_wrong_beacon_is_refused() {
    let mut z = fixture().done.clone();
    if let ContributionKind::Beacon { hash, .. } = &mut z.mpc.contributions[2].kind {
        hash[0] ^= 1;
    }
    assert_refused(&z, "the beacon's key is not the one its published hash and iterations give");
}

/// A transcript stuffed with bogus beacons of 2^32 iterations each used to keep `ceremony verify`
/// (and `audit circuit`) hashing for hours; only a chained final beacon is recomputed now.
#[test]
fn bogus_beacons_are_refused_without_being_recomputed() {
    let mut z = fixture().done.clone();
    let mut bogus = z.mpc.contributions[2].clone();
    if let ContributionKind::Beacon { iterations_exp, .. } = &mut bogus.kind {
        *iterations_exp = 32;
    }
    for _ in 0..3 {
        z.mpc.contributions.push(bogus.clone());
    }
    let started = std::time::Instant::now();
    let f = failures(&z);
    assert!(started.elapsed() < std::time::Duration::from_secs(120), "{:?}", started.elapsed());
    assert!(
        f.iter().any(|m| m.contains("contribution #3 (beacon): a beacon must be the ceremony's last")),
        "{f:#?}"
    );
    assert!(
        f.iter().any(|m| m.contains("contribution #6 (beacon): its transcript hash does not chain")),
        "{f:#?}"
    );
}

#[test]
fn gamma_other_than_the_generator_is_refused() {
    let mut z = fixture().done.clone();
    z.gamma_g2 = (z.delta_g2 * Fr::from(2u64)).into_affine();
    assert_refused(&z, "gamma_g2: γ₂ is not the G2 generator");
}

#[test]
fn each_altered_query_is_named_with_its_first_index() {
    let e = G1Affine::generator();
    let mut z = fixture().done.clone();
    z.a[17] = (z.a[17] + e).into_affine();
    assert_refused(&z, "A query: 1 of");
    assert_refused(&z, "first at index 17");
    let mut z = fixture().done.clone();
    z.b_g1[3] = (z.b_g1[3] + e).into_affine();
    assert_refused(&z, "B query in G1");
    let mut z = fixture().done.clone();
    z.b_g2[3] = (z.b_g2[3] + G2Affine::generator()).into_affine();
    assert_refused(&z, "B query in G2");
    let mut z = fixture().done.clone();
    z.ic[2] = (z.ic[2] + e).into_affine();
    assert_refused(&z, "IC (input commitments)");
    let mut z = fixture().done.clone();
    z.c[1234] = (z.c[1234] + e).into_affine();
    assert_refused(&z, "C (L) query: section 8 is not the initial one divided by δ, first at index 1234");
    let mut z = fixture().done.clone();
    z.h[4000] = (z.h[4000] * Fr::from(3u64)).into_affine();
    assert_refused(&z, "H query: section 9 is not the initial one divided by δ, first at index 4000");
    let mut z = fixture().done.clone();
    z.delta_g2 = G2Affine::generator();
    assert_refused(&z, "delta_g2");
}

#[test]
fn a_key_for_another_policy_is_refused() {
    let other =
        Policy::parse(&POLICY.replace("within(close_contact, 14d)", "within(close_contact, 10d)")).unwrap();
    let r1cs = R1cs::from_matrices(&matrices(&other).unwrap());
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
    let mut z = init_from_secrets(&r1cs, &ptau::Phase1Secrets::random(&mut rng));
    contribute(&mut z, Some("x"), b"", &mut rng).unwrap();
    assert_refused(&z, "circuit hash");
    assert_refused(&z, "coefficients");
}

#[test]
fn phase1_checks_name_what_is_wrong() {
    let f = fixture();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
    let k = circuit_power(&f.r1cs);
    let p = Ptau::parse(&f.phase1).unwrap();
    assert!(ptau::check(&p, k, &mut rng).unwrap().failures.is_empty());
    assert!(p.pinned_as().is_none());

    // Too small a power for the circuit.
    let small = ptau::generate(k - 1, &ptau::Phase1Secrets::random(&mut rng));
    let r = ptau::check(&Ptau::parse(&small).unwrap(), k, &mut rng).unwrap();
    assert!(r.failures[0].contains(&format!("power {} is too small", k - 1)), "{:?}", r.failures);

    // A point off the curve: bad input naming the section and offset.
    let tau_g1_start = 12 + 12 + 4 + 32 + 8 + 12;
    let mut broken = f.phase1.clone();
    broken[tau_g1_start + 64 * 5 + 40] ^= 1;
    let e = ptau::check(&Ptau::parse(&broken).unwrap(), k, &mut rng).expect_err("refused");
    assert_eq!(e.section, Some(2));
    assert!(e.to_string().contains("tauG1[5]"), "{e}");

    // Valid points that are not powers of one τ.
    let mut swapped = f.phase1.clone();
    let (a, b) = (tau_g1_start + 64 * 5, tau_g1_start + 64 * 6);
    let (x, y) = (swapped[a..a + 64].to_vec(), swapped[b..b + 64].to_vec());
    swapped[a..a + 64].copy_from_slice(&y);
    swapped[b..b + 64].copy_from_slice(&x);
    let r = ptau::check(&Ptau::parse(&swapped).unwrap(), k, &mut rng).unwrap();
    assert!(
        r.failures.iter().any(|m| m.contains("tauG1 is not a sequence of powers of τ")),
        "{:?}",
        r.failures
    );
    assert!(r.failures.iter().any(|m| m.contains("Lagrange tauG1")), "{:?}", r.failures);
}

/// Truncations, trailing bytes and random bytes of each format: an error naming the place,
/// never a panic.
#[test]
fn malformed_files_are_errors_not_panics() {
    let f = fixture();
    let zkey = f.done.encode();
    let r1cs = f.r1cs.encode();
    assert_eq!(R1cs::decode(&r1cs).unwrap(), f.r1cs);
    for cut in [0, 3, 11, 12, 40, 100, 1000, zkey.len() / 2, zkey.len() - 1] {
        let e = Zkey::decode(&zkey[..cut]).unwrap_err();
        assert!(e.to_string().starts_with(".zkey"), "{e}");
    }
    for cut in [0, 12, 50, r1cs.len() / 3, r1cs.len() - 1] {
        assert!(R1cs::decode(&r1cs[..cut]).is_err());
    }
    for cut in [0, 12, 60, 4096, f.phase1.len() / 2, f.phase1.len() - 1] {
        assert!(Ptau::parse(&f.phase1[..cut]).is_err());
    }
    let mut longer = zkey.clone();
    longer.push(0);
    assert!(Zkey::decode(&longer).unwrap_err().to_string().contains("trailing"));
    // A section size beyond the file, and a count of coefficients beyond the section.
    let mut huge = zkey.clone();
    huge[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(Zkey::decode(&huge).unwrap_err().to_string().contains("truncated"));
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(4);
    for len in [0usize, 1, 12, 100, 5000] {
        let mut b = vec![0u8; len];
        rand::RngCore::fill_bytes(&mut rng, &mut b);
        assert!(Zkey::decode(&b).is_err() && R1cs::decode(&b).is_err() && Ptau::parse(&b).is_err());
        if len >= 4 {
            for (magic, v) in [(b"zkey", 0), (b"r1cs", 1), (b"ptau", 2)] {
                b[..4].copy_from_slice(magic);
                let r = match v {
                    0 => Zkey::decode(&b).map(|_| ()),
                    1 => R1cs::decode(&b).map(|_| ()),
                    _ => Ptau::parse(&b).map(|_| ()),
                };
                assert!(r.is_err());
            }
        }
    }
    // Every single-byte flip in the header and section table is refused or decodes to another
    // valid key, never panics.
    for i in 0..200 {
        let mut b = zkey.clone();
        b[i] ^= 0x55;
        let _ = Zkey::decode(&b);
    }
}

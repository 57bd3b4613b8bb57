//! Setup bundles and key files: keys name their circuit and are refused for any other one
//! (docs/soundness.md §8); secrets stay out of `Debug` (§14).

use ark_std::rand::{rngs::StdRng, SeedableRng};
use healthcode_circuits::field;
use healthcode_circuits::policy::{Colour, Policy};
use healthcode_circuits::statement::circuit_info;
use healthcode_prover::fixtures::Fixture;
use healthcode_prover::{
    circuit_digest_bytes, encode_bundle, generate_keys, setup, ProverBundle, SetupError,
};
use healthcode_verifier::bundle::{
    BundleError, Manifest, MANIFEST_FILE, POLICY_FILE, PROVING_KEY_FILE, VERIFYING_KEY_FILE,
};
use healthcode_verifier::keyfile::{self, KeyFileError, KeyKind, HEADER_LEN};
use healthcode_verifier::{Checkpoint, VerifierBundle};
use std::path::Path;
use std::sync::OnceLock;

/// The example policy with one rule duration changed: another circuit.
fn other_policy_text() -> String {
    Fixture::shared().policy_text.replace("within(close_contact, 14d)", "within(close_contact, 10d)")
}

/// Keys for the other circuit, made once.
fn other_keys() -> &'static (Policy, healthcode_prover::Keys) {
    static K: OnceLock<(Policy, healthcode_prover::Keys)> = OnceLock::new();
    K.get_or_init(|| {
        let p = Policy::parse(&other_policy_text()).unwrap();
        let k = generate_keys(&p, &mut StdRng::seed_from_u64(1)).unwrap();
        (p, k)
    })
}

/// Writes the fixture's bundle (no second setup) into `dir`.
fn write_fixture_bundle(dir: &Path) -> Manifest {
    let f = Fixture::shared();
    let b = encode_bundle(f.policy_text, &f.policy, &f.keys);
    std::fs::write(dir.join(POLICY_FILE), &b.policy_text).unwrap();
    std::fs::write(dir.join(PROVING_KEY_FILE), &b.proving_key).unwrap();
    std::fs::write(dir.join(VERIFYING_KEY_FILE), &b.verifying_key).unwrap();
    std::fs::write(dir.join(MANIFEST_FILE), serde_json::to_vec_pretty(&b.manifest).unwrap()).unwrap();
    b.manifest
}

#[test]
fn setup_writes_a_loadable_bundle_with_a_loud_warning() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle");
    let f = Fixture::shared();
    let manifest = setup(f.policy_text, &out, &mut StdRng::seed_from_u64(7)).unwrap();
    for file in [POLICY_FILE, PROVING_KEY_FILE, VERIFYING_KEY_FILE, MANIFEST_FILE] {
        assert!(out.join(file).is_file(), "{file}");
    }
    assert_eq!(std::fs::read_to_string(out.join(POLICY_FILE)).unwrap(), f.policy_text, "the original text");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(MANIFEST_FILE)).unwrap()).unwrap();
    let warning = json["warning"].as_str().unwrap();
    assert!(warning.contains("forge") && warning.contains("ceremony"), "{warning}");
    assert_eq!(json["setup"], "single-party");
    let info = circuit_info(&f.policy).unwrap();
    assert_eq!(manifest.circuit.digest, info.digest);
    assert_eq!(manifest.circuit.constraints, info.constraints);
    assert_eq!(manifest.policy.digest, hex::encode(f.policy.digest()));
    assert_eq!((manifest.policy.id.as_str(), manifest.policy.version), ("henan-2022-06", 1));
    let pk_bytes = std::fs::metadata(out.join(PROVING_KEY_FILE)).unwrap().len();
    assert_eq!(manifest.proving_key.bytes, pk_bytes);
    assert!(pk_bytes <= 8 << 20, "proving key {pk_bytes} bytes, target ≤ 8 MB");
    println!("proving key {pk_bytes} bytes, {} constraints", info.constraints);

    // Both sides load it; a code proved with the loaded key verifies at a checkpoint built from it.
    let prover = ProverBundle::load(&out).unwrap();
    ProverBundle::load_recompiled(&out).unwrap();
    let verifier = VerifierBundle::load(&out).unwrap();
    let mut checkpoint = Checkpoint::from_bundle(&verifier).unwrap();
    checkpoint.add_head(f.population.head).unwrap();
    let holder = f.population.holder(Colour::Yellow);
    let request = healthcode_prover::ProveRequest {
        head: f.population.head,
        now: Fixture::NOW,
        challenge: healthcode_circuits::hashes::challenge("slot:2022-06-14T12"),
        bind: false,
        claim: Some(Colour::Yellow),
    };
    let proved = healthcode_prover::prove(
        &prover.policy,
        &prover.proving_key,
        &holder.witness,
        &request,
        &mut StdRng::seed_from_u64(3),
    )
    .unwrap();
    assert_eq!(
        checkpoint.verify(&proved.payload.encode().unwrap(), Fixture::NOW, None, None),
        Ok(Colour::Yellow)
    );
    // The fixture's keys are other keys for the same circuit: its proofs do not verify here.
    let foreign = f.prove(holder, "slot:2022-06-14T12", false);
    assert!(checkpoint.verify_payload(&foreign.payload, Fixture::NOW, None, None).is_err());

    // No silent overwrite of an existing bundle.
    assert!(matches!(setup(f.policy_text, &out, &mut StdRng::seed_from_u64(8)), Err(SetupError::Exists(_))));
}

#[test]
fn keys_for_another_circuit_are_refused() {
    let f = Fixture::shared();
    let (other, other_keys) = other_keys();
    let ours = circuit_digest_bytes(&f.keys.info);
    let theirs = circuit_digest_bytes(&other_keys.info);
    assert_ne!(ours, theirs, "a changed duration is another circuit");
    let their_pk = keyfile::encode(KeyKind::Proving, &theirs, &other_keys.proving_key, false);
    let their_vk = keyfile::encode(KeyKind::Verifying, &theirs, &other_keys.verifying_key, true);
    assert!(matches!(
        keyfile::decode_proving_key(&their_pk, &ours, None),
        Err(KeyFileError::WrongCircuit { .. })
    ));
    assert!(matches!(
        keyfile::decode_verifying_key(&their_vk, &ours, None),
        Err(KeyFileError::WrongCircuit { .. })
    ));
    let msg = keyfile::decode_verifying_key(&their_vk, &ours, None).unwrap_err().to_string();
    assert!(msg.contains("another circuit") && msg.contains(&hex::encode(theirs)), "{msg}");

    // In a bundle: the other circuit's keys dropped into our bundle directory.
    let dir = tempfile::tempdir().unwrap();
    write_fixture_bundle(dir.path());
    std::fs::write(dir.path().join(VERIFYING_KEY_FILE), &their_vk).unwrap();
    let err = VerifierBundle::load(dir.path()).unwrap_err();
    assert!(matches!(err, BundleError::Key { source: KeyFileError::WrongCircuit { .. }, .. }), "{err}");
    std::fs::write(dir.path().join(PROVING_KEY_FILE), &their_pk).unwrap();
    let err = ProverBundle::load(dir.path()).unwrap_err();
    assert!(matches!(err, BundleError::Key { source: KeyFileError::WrongCircuit { .. }, .. }), "{err}");

    // The other policy with our manifest: its digest differs.
    let dir = tempfile::tempdir().unwrap();
    write_fixture_bundle(dir.path());
    std::fs::write(dir.path().join(POLICY_FILE), other_policy_text()).unwrap();
    assert!(matches!(VerifierBundle::load(dir.path()), Err(BundleError::PolicyMismatch { .. })));
    assert!(matches!(ProverBundle::load(dir.path()), Err(BundleError::PolicyMismatch { .. })));
    // ... and with the manifest's policy digest updated to it, the recompiled circuit differs.
    let mut m = Manifest::read(dir.path()).unwrap();
    m.policy.digest = hex::encode(other.digest());
    std::fs::write(dir.path().join(MANIFEST_FILE), serde_json::to_vec(&m).unwrap()).unwrap();
    assert!(matches!(VerifierBundle::load(dir.path()), Err(BundleError::CircuitMismatch { .. })));
    assert!(matches!(ProverBundle::load_recompiled(dir.path()), Err(BundleError::CircuitMismatch { .. })));
}

#[test]
fn key_file_headers_are_checked() {
    let f = Fixture::shared();
    let d = circuit_digest_bytes(&f.keys.info);
    let pk = keyfile::encode(KeyKind::Proving, &d, &f.keys.proving_key, false);
    let vk = keyfile::encode(KeyKind::Verifying, &d, &f.keys.verifying_key, true);
    assert_eq!(&pk[..6], b"HCKEY\0");
    assert_eq!((pk[6], pk[7], pk[8]), (b'P', 1, 1));
    assert_eq!((vk[6], vk[7], vk[8]), (b'V', 1, 0));
    assert_eq!(&pk[9..41], &d);

    let fast = keyfile::decode_proving_key(&pk, &d, None).unwrap();
    assert!(fast == keyfile::decode_proving_key_fully_checked(&pk, &d, None).unwrap());
    assert!(fast == f.keys.proving_key);
    let compressed = keyfile::encode(KeyKind::Proving, &d, &f.keys.proving_key, true);
    assert!(keyfile::decode_proving_key(&compressed, &d, None).unwrap() == f.keys.proving_key);
    assert!(keyfile::decode_verifying_key(&vk, &d, None).unwrap() == f.keys.verifying_key);

    let with = |bytes: &[u8], i: usize, v: u8| {
        let mut b = bytes.to_vec();
        b[i] = v;
        b
    };
    assert_eq!(keyfile::decode_verifying_key(b"nonsense", &d, None).unwrap_err(), KeyFileError::Magic);
    assert_eq!(keyfile::decode_verifying_key(&vk[..40], &d, None).unwrap_err(), KeyFileError::Truncated(40));
    assert_eq!(
        keyfile::decode_verifying_key(&with(&vk, 7, 2), &d, None).unwrap_err(),
        KeyFileError::Version(2)
    );
    assert_eq!(
        keyfile::decode_verifying_key(&with(&vk, 6, b'X'), &d, None).unwrap_err(),
        KeyFileError::UnknownKind(b'X')
    );
    assert_eq!(
        keyfile::decode_verifying_key(&with(&vk, 8, 7), &d, None).unwrap_err(),
        KeyFileError::Encoding(7)
    );
    assert_eq!(
        keyfile::decode_verifying_key(&pk, &d, None).unwrap_err(),
        KeyFileError::WrongKind { expected: KeyKind::Verifying, found: KeyKind::Proving }
    );
    assert_eq!(
        keyfile::decode_proving_key(&vk, &d, None).unwrap_err(),
        KeyFileError::WrongKind { expected: KeyKind::Proving, found: KeyKind::Verifying }
    );
    // A flipped body byte, a truncated body and trailing garbage.
    let last = pk.len() - 1;
    assert_eq!(
        keyfile::decode_proving_key(&with(&pk, last, pk[last] ^ 1), &d, None).unwrap_err(),
        KeyFileError::Corrupted
    );
    assert!(matches!(
        keyfile::decode_proving_key(&pk[..pk.len() - 1], &d, None),
        Err(KeyFileError::Length { .. })
    ));
    let mut long = vk.clone();
    long.push(0);
    assert!(matches!(keyfile::decode_verifying_key(&long, &d, None), Err(KeyFileError::Length { .. })));
    // A body that hashes right but does not match the pinned hash (another setup's key).
    assert!(matches!(
        keyfile::decode_verifying_key(&vk, &d, Some(&[0; 32])),
        Err(KeyFileError::NotPinned { .. })
    ));
}

#[test]
fn a_body_with_an_off_curve_point_is_refused_even_when_its_hash_matches() {
    use ark_serialize::CanonicalSerialize;
    use sha2::{Digest, Sha256};
    let f = Fixture::shared();
    let d = circuit_digest_bytes(&f.keys.info);
    let pk = keyfile::encode(KeyKind::Proving, &d, &f.keys.proving_key, false);
    // Uncompressed: the verifying key's alpha_g1 is the first point, x then y (32 bytes each).
    let mut body = pk[HEADER_LEN..].to_vec();
    let mut y = Vec::new();
    (f.keys.verifying_key.alpha_g1.y + ark_bn254::Fq::from(1u64)).serialize_uncompressed(&mut y).unwrap();
    body[32..64].copy_from_slice(&y);
    let mut forged = pk[..HEADER_LEN].to_vec();
    forged[41..73].copy_from_slice(&Sha256::digest(&body));
    forged.extend_from_slice(&body);
    assert_eq!(keyfile::decode_proving_key(&forged, &d, None).unwrap_err(), KeyFileError::OffCurve);
    assert!(matches!(
        keyfile::decode_proving_key_fully_checked(&forged, &d, None),
        Err(KeyFileError::Body(_))
    ));
}

#[test]
fn debug_output_carries_no_secrets() {
    let f = Fixture::shared();
    let holder = f.population.holder(Colour::Red);
    let proved = f.prove(holder, "slot:x", true);
    let secrets = [
        field::to_hex(&holder.witness.sk),
        field::to_hex(&holder.witness.id_hash),
        holder.document_number.clone(),
        (Fixture::NOW - 2 * healthcode_prover::fixtures::DAY).to_string(),
        healthcode_verifier::when::local(Fixture::NOW - 2 * healthcode_prover::fixtures::DAY),
    ];
    let dir = tempfile::tempdir().unwrap();
    write_fixture_bundle(dir.path());
    let shown = [
        format!("{:?}", holder.witness),
        format!("{holder:?}"),
        format!("{:?}", proved.explanation),
        format!("{:?}", ProverBundle::load(dir.path()).unwrap()),
        format!("{:?}", f.population),
    ];
    for s in &shown {
        for secret in &secrets {
            let bare = secret.trim_start_matches("0x");
            assert!(!s.contains(bare), "{s} leaks {secret}");
        }
    }
    // The holder's own explanation does show the event time, as a date and an age: that is its job.
    let shown = proved.explanation.to_string();
    assert!(shown.contains(&format!("{} (2 days ago)", secrets[4])), "{shown}");
}

/// A proving key altered on a few A-query points (the bundle republished with a matching hash)
/// still loads and proves, but the device checks the proof with the bundle's verifying key and
/// says the bundle is broken instead of showing a code every gate would refuse.
#[test]
fn a_broken_proving_key_is_reported_not_turned_into_a_code() {
    use ark_ec::{AffineRepr, CurveGroup};
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_fixture_bundle(dir.path());
    let f = Fixture::shared();
    let mut pk = f.keys.proving_key.clone();
    let e = ark_bn254::G1Affine::generator();
    for p in &mut pk.a_query[50..60] {
        *p = (*p + e).into_affine();
    }
    let bytes = keyfile::encode(KeyKind::Proving, &manifest.circuit_digest(), &pk, false);
    std::fs::write(dir.path().join(PROVING_KEY_FILE), &bytes).unwrap();
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join(MANIFEST_FILE)).unwrap()).unwrap();
    json["proving_key"]["body_sha256"] =
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes[HEADER_LEN..])).into();
    std::fs::write(dir.path().join(MANIFEST_FILE), serde_json::to_vec_pretty(&json).unwrap()).unwrap();

    let bundle = ProverBundle::load(dir.path()).unwrap();
    let holder = f.population.holder(Colour::Green);
    let request = healthcode_prover::ProveRequest {
        head: f.population.head,
        now: Fixture::NOW,
        challenge: healthcode_circuits::hashes::challenge("venue:test"),
        bind: false,
        claim: None,
    };
    let r = bundle.prover().unwrap().prove_code(&holder.witness, &request, &mut StdRng::seed_from_u64(3));
    assert!(matches!(r, Err(healthcode_prover::ProveError::BrokenBundle)), "{r:?}");
    // The honest bundle proves.
    let honest = tempfile::tempdir().unwrap();
    write_fixture_bundle(honest.path());
    let bundle = ProverBundle::load(honest.path()).unwrap();
    bundle.prover().unwrap().prove_code(&holder.witness, &request, &mut StdRng::seed_from_u64(3)).unwrap();
}

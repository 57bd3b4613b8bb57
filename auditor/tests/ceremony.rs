//! `audit circuit` ties the bundle's keys to the ceremony transcript and the published policy:
//! the honest ceremony bundle is clean, and each tampering of the 2022 kind — a proving key
//! altered on a few query points, a verifying key with γ = 2δ, single-party keys — is named.

use ark_bn254::{Fr, G1Affine, G2Affine};
use ark_ec::{AffineRepr, CurveGroup};
use healthcode_auditor::{circuit, Report};
use healthcode_circuits::policy::Policy;
use healthcode_prover::fixtures::small_ceremony;
use healthcode_verifier::bundle::Manifest;
use healthcode_verifier::keyfile::{self, KeyKind};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const POLICY: &str = include_str!("../../policies/henan-2022.toml");
const FAST: circuit::Options = circuit::Options { seed: 1, random_cases: 4 };

struct Fixture {
    _dir: tempfile::TempDir,
    honest: PathBuf,
    ptau: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let policy = Policy::parse(POLICY).unwrap();
        let (ptau, zkey) = small_ceremony(&policy, 7);
        let dir = tempfile::tempdir().unwrap();
        let honest = dir.path().join("honest");
        healthcode_prover::setup::finalize(POLICY, zkey, &honest).unwrap();
        Fixture { _dir: dir, honest, ptau }
    })
}

fn failures(r: &Report) -> Vec<String> {
    r.failed().map(|c| format!("{}: {}", c.name, c.detail)).collect()
}

fn assert_fails(r: &Report, check: &str, evidence: &str) {
    let f = failures(r);
    assert!(
        f.iter().any(|m| m.starts_with(check) && m.contains(evidence)),
        "expected `{check}` to fail with `{evidence}`, failures: {f:#?}"
    );
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Rewrites one key file of a copy of the honest bundle, with a manifest that pins the new
/// body: what someone with the power to publish the bundle (but no setup secret) can do.
fn republish(dir: &Path, kind: KeyKind, edit: impl FnOnce(&mut ark_groth16::ProvingKey<ark_bn254::Bn254>)) {
    let m = Manifest::read(dir).unwrap();
    let digest = m.circuit_digest();
    let pk_bytes = std::fs::read(dir.join(&m.proving_key.file)).unwrap();
    let mut pk = keyfile::decode_proving_key(&pk_bytes, &digest, None).unwrap();
    edit(&mut pk);
    let (file, entry, bytes) = match kind {
        KeyKind::Proving => (&m.proving_key.file, "proving_key", keyfile::encode(kind, &digest, &pk, false)),
        KeyKind::Verifying => {
            (&m.verifying_key.file, "verifying_key", keyfile::encode(kind, &digest, &pk.vk, true))
        }
    };
    std::fs::write(dir.join(file), &bytes).unwrap();
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    json[entry]["body_sha256"] =
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes[keyfile::HEADER_LEN..])).into();
    json[entry]["bytes"] = bytes.len().into();
    std::fs::write(dir.join("manifest.json"), serde_json::to_vec_pretty(&json).unwrap()).unwrap();
}

fn audit(dir: &Path) -> Report {
    circuit::audit(POLICY, dir, &fixture().ptau, FAST).unwrap()
}

#[test]
fn honest_ceremony_bundle_is_clean() {
    let steps = std::cell::RefCell::new(Vec::new());
    let r = circuit::audit_with_progress(POLICY, &fixture().honest, &fixture().ptau, FAST, &|step| {
        steps.borrow_mut().push(step.to_string())
    })
    .unwrap();
    assert!(r.clean(), "{r}");
    // The long steps are announced as they start (the CLI shows them on a terminal).
    let steps = steps.into_inner();
    assert_eq!(steps.len(), 5, "{steps:?}");
    assert!(steps[2].starts_with("verifying the ceremony transcript"), "{steps:?}");
    let text = r.to_string();
    assert!(text.contains("3 contributions"), "{text}");
}

/// The 2022 attack on keys: `2^k·E` added to the A-query entries of some witness variables (the
/// bits of an event time), no setup secret needed. Proofs of holders with those bits set fail at
/// every gate; the audit names the query and the first index.
#[test]
fn proving_key_altered_on_a_few_query_points_is_named() {
    let e = (G1Affine::generator() * Fr::from(12345u64)).into_affine();
    let tmp = tempfile::tempdir().unwrap();
    type Edit = fn(&mut ark_groth16::ProvingKey<ark_bn254::Bn254>, G1Affine);
    let cases: [(&str, Edit); 4] = [
        ("A query", |pk, e| {
            (100..140)
                .for_each(|i| pk.a_query[i] = (pk.a_query[i] + e * Fr::from(1u64 << (i - 100))).into_affine())
        }),
        ("B query (G1)", |pk, e| pk.b_g1_query[200] = (pk.b_g1_query[200] + e).into_affine()),
        ("L query", |pk, e| pk.l_query[7] = (pk.l_query[7] + e).into_affine()),
        ("H query", |pk, e| pk.h_query[3] = (pk.h_query[3] + e).into_affine()),
    ];
    for (i, (query, edit)) in cases.into_iter().enumerate() {
        let dir = tmp.path().join(format!("case{i}"));
        copy(&fixture().honest, &dir);
        republish(&dir, KeyKind::Proving, |pk| edit(pk, e));
        let r = audit(&dir);
        assert_fails(&r, "keys match the transcript", &format!("proving key {query}"));
    }
    let dir = tmp.path().join("b2");
    copy(&fixture().honest, &dir);
    republish(&dir, KeyKind::Proving, |pk| {
        pk.b_g2_query[300] = (pk.b_g2_query[300] + G2Affine::generator()).into_affine()
    });
    assert_fails(&audit(&dir), "keys match the transcript", "proving key B query (G2)");
}

/// A G2 point on the twist but outside the prime-order subgroup: the prover's fast loader takes it
/// (it checks only that points are on their curve), so the auditor loads the proving key with
/// every point validated and says so, before comparing it with the transcript.
#[test]
fn proving_key_point_outside_the_subgroup_is_named() {
    let mut x = ark_bn254::Fq2::from(3u64);
    let outside = loop {
        if let Some(p) = G2Affine::get_point_from_x_unchecked(x, true) {
            if !p.is_in_correct_subgroup_assuming_on_curve() {
                break p;
            }
        }
        x += ark_bn254::Fq2::from(1u64);
    };
    let tmp = tempfile::tempdir().unwrap();
    copy(&fixture().honest, tmp.path());
    republish(tmp.path(), KeyKind::Proving, |pk| pk.b_g2_query[300] = outside);
    assert_fails(&audit(tmp.path()), "proving key header", "malformed");
}

/// γ = 2δ: every holder could turn a red code green with `C' = C + 2·(IC(x) − IC(x'))`.
#[test]
fn verifying_key_with_gamma_a_multiple_of_delta_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    copy(&fixture().honest, tmp.path());
    republish(tmp.path(), KeyKind::Verifying, |pk| {
        pk.vk.gamma_g2 = (pk.vk.delta_g2 * Fr::from(2u64)).into_affine()
    });
    let r = audit(tmp.path());
    assert_fails(&r, "verifying key well-formed", "gamma_g2 is not the G2 generator");
    assert_fails(&r, "keys match the transcript", "verifying key gamma_g2");
}

#[test]
fn single_party_keys_are_a_finding() {
    let tmp = tempfile::tempdir().unwrap();
    healthcode_prover::setup(POLICY, tmp.path(), &mut rand::rngs::OsRng).unwrap();
    let r = audit(tmp.path());
    assert_fails(&r, "setup", "development keys");
    // Its transcript starts from a phase 1 other than the auditor's.
    assert_fails(&r, "ceremony: circuit hash", "another circuit or .ptau");
}

/// Red team: the manifest's account of the ceremony (who contributed, with which hashes, over
/// which circuit hash) and its circuit counts must be the transcript's and the circuit's; a
/// manifest naming other contributors passed before. A phase 1 nobody pinned is flagged.
#[test]
fn a_manifest_describing_another_ceremony_is_named() {
    let clean = audit(&fixture().honest);
    let phase1 = clean.checks.iter().find(|c| c.name == "phase 1").unwrap();
    assert!(phase1.passed && phase1.detail.contains("NOT a pinned public ceremony's file"), "{clean}");

    let tmp = tempfile::tempdir().unwrap();
    copy(&fixture().honest, tmp.path());
    let path = tmp.path().join("manifest.json");
    let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    json["ceremony"]["contributions"] = serde_json::json!(["Trusted Auditor: 00", "Civil Society: 11"]);
    json["circuit"]["constraints"] = 100.into();
    std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    let r = audit(tmp.path());
    assert_fails(&r, "ceremony transcript", "the manifest describes another ceremony");
    assert_fails(&r, "circuit digest", "manifest");
}

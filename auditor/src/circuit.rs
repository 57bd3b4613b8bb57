//! `audit circuit`: do the keys in a bundle belong to the circuit compiled from the published
//! policy, and does that circuit mean what the policy says?

use crate::keys::verifying_key_problems;
use crate::report::Report;
use crate::semantic;
use healthcode_circuits::policy::{evaluate, Colour, Policy};
use healthcode_circuits::statement::{circuit_info, sample::synthetic};
use healthcode_prover::groth16_prove;
use healthcode_verifier::bundle::{read_policy, Manifest};
use healthcode_verifier::keyfile::{decode_proving_key, decode_verifying_key};
use healthcode_verifier::Checkpoint;
use rand::SeedableRng;
use std::path::Path;

/// Settings of the semantic check.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub seed: u64,
    pub random_cases: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self { seed: 2022, random_cases: 64 }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Audits `bundle` against the published `policy_text`. Errors only for unreadable input; every
/// mismatch is a failed check in the report.
pub fn audit(policy_text: &str, bundle: &Path, options: Options) -> Result<Report, String> {
    let policy = Policy::parse(policy_text).map_err(|e| format!("published policy: {e}"))?;
    let manifest = Manifest::read(bundle).map_err(|e| e.to_string())?;
    let mut r =
        Report::new(format!("bundle {} against policy {} v{}", bundle.display(), policy.id, policy.version));

    let digest = hex::encode(policy.digest());
    r.check(
        "policy digest",
        digest == manifest.policy.digest,
        format!("published {digest}, bundle manifest {}", manifest.policy.digest),
    );
    match read_policy(bundle, &manifest) {
        Ok((_, bundled)) => r.check(
            "bundled policy",
            bundled == policy,
            if bundled == policy {
                "the bundle's policy file is the published policy".into()
            } else {
                "the bundle ships a different policy file".to_string()
            },
        ),
        Err(e) => r.check("bundled policy", false, e.to_string()),
    };

    let info = circuit_info(&policy).map_err(|e| format!("compiling the policy: {e}"))?;
    r.check(
        "circuit digest",
        info.digest == manifest.circuit.digest,
        format!(
            "recompiled {} ({} constraints), manifest {}",
            info.digest, info.constraints, manifest.circuit.digest
        ),
    );
    let recompiled: [u8; 32] =
        hex::decode(&info.digest).ok().and_then(|v| v.try_into().ok()).ok_or("digest")?;

    let vk = match read(&bundle.join(&manifest.verifying_key.file)).and_then(|b| {
        decode_verifying_key(&b, &recompiled, Some(&manifest.verifying_key_sha256()))
            .map_err(|e| e.to_string())
    }) {
        Ok(vk) => {
            r.check(
                "verifying key header",
                true,
                "made for the recompiled circuit; body matches the manifest hash",
            );
            Some(vk)
        }
        Err(e) => {
            r.check("verifying key header", false, e);
            None
        }
    };
    let pk = match read(&bundle.join(&manifest.proving_key.file)).and_then(|b| {
        decode_proving_key(&b, &recompiled, Some(&manifest.proving_key_sha256())).map_err(|e| e.to_string())
    }) {
        Ok(pk) => {
            r.check(
                "proving key header",
                true,
                "made for the recompiled circuit; body matches the manifest hash",
            );
            Some(pk)
        }
        Err(e) => {
            r.check("proving key header", false, e);
            None
        }
    };

    if let Some(vk) = &vk {
        let problems = verifying_key_problems(vk);
        r.check(
            "verifying key well-formed",
            problems.is_empty(),
            if problems.is_empty() {
                "every point on its curve, in the subgroup, not the identity; 5 public inputs; γ ≠ δ".into()
            } else {
                problems.join("; ")
            },
        );
    }

    if let (Some(vk), Some(pk)) = (&vk, &pk) {
        let (ok, detail) = sample_codes(&policy, pk, vk);
        r.check("sample codes", ok, detail);
    }

    let sem = semantic::check(&policy, options.seed, options.random_cases)?;
    r.check(
        "semantic check",
        sem.disagreements.is_empty(),
        format!(
            "{} cases ({} boundary, {} random, seed {}): {} disagreements between circuit and reference evaluator",
            sem.cases,
            sem.boundary_cases,
            sem.random_cases,
            sem.seed,
            sem.disagreements.len()
        ),
    );
    r.evidence = serde_json::json!({ "circuit": info, "semantic_disagreements": sem.disagreements });
    Ok(r)
}

/// Proves one code of each colour the policy can give with the bundle's proving key and checks it
/// with the bundle's verifying key; each proof must also fail for every other colour.
fn sample_codes(
    policy: &Policy,
    pk: &ark_groth16::ProvingKey<ark_bn254::Bn254>,
    vk: &ark_groth16::VerifyingKey<ark_bn254::Bn254>,
) -> (bool, String) {
    let checkpoint = match Checkpoint::new(policy, vk) {
        Ok(c) => c,
        Err(e) => return (false, e.to_string()),
    };
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    let mut done = Vec::new();
    for case in semantic::boundary_cases(policy, semantic::AUDIT_NOW) {
        let Ok(verdict) = evaluate(policy, &case.state, case.now) else { continue };
        if done.contains(&verdict.colour) {
            continue;
        }
        let (public, witness) = synthetic(case.state.clone(), case.now, verdict.colour, 3, true);
        let proof = match groth16_prove(policy, pk, public, witness, &mut rng) {
            Ok(p) => p,
            Err(e) => return (false, format!("proving a {} code failed: {e}", verdict.colour)),
        };
        if let Err(e) = checkpoint.check_proof(&proof, &public.to_field_elements()) {
            return (
                false,
                format!(
                    "a {} code made with the proving key does not verify with the verifying key: {e}",
                    verdict.colour
                ),
            );
        }
        for other in Colour::ALL.into_iter().filter(|c| *c != verdict.colour) {
            let mut forged = public;
            forged.colour = other;
            if checkpoint.check_proof(&proof, &forged.to_field_elements()).is_ok() {
                return (false, format!("a {} proof also verifies as {other}", verdict.colour));
            }
        }
        done.push(verdict.colour);
    }
    (
        true,
        format!(
            "proved and verified a {} code; each refused as any other colour",
            done.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ")
        ),
    )
}

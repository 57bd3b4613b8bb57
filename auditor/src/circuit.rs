//! `audit circuit`: do the keys in a bundle belong to the circuit compiled from the published
//! policy, and does that circuit mean what the policy says?
//!
//! A key cannot be checked against a circuit alone (a proving key altered on a few query points
//! still looks like a key), but it can against a ceremony transcript: the bundle's `.zkey` is
//! verified against the circuit recompiled from the policy and the phase-1 file the auditor
//! trusts, and the bundle's keys must be exactly the ones that transcript determines. Sample
//! codes over random witnesses stay as a second line of defence.

use crate::report::Report;
use crate::semantic;
use healthcode_ceremony::{keys as zkey_keys, verify_ceremony};
use healthcode_circuits::policy::{evaluate, Colour, Policy};
use healthcode_circuits::statement::{info_of, matrices, sample::synthetic};
use healthcode_prover::groth16_prove;
use healthcode_verifier::bundle::{read_policy, Manifest};
use healthcode_verifier::input::{read_bounded, MAX_PROVING_KEY_BYTES, MAX_SMALL_KEY_BYTES, MAX_ZKEY_BYTES};
use healthcode_verifier::keycheck::verifying_key_problems;
use healthcode_verifier::keyfile::{decode_proving_key_fully_checked, decode_verifying_key};
use healthcode_verifier::Checkpoint;
use rand::{Rng, SeedableRng};
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

fn read(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    read_bounded(path, limit).map_err(|e| e.to_string())
}

/// Audits `bundle` against the published `policy_text` and the phase-1 file `ptau` the auditor
/// trusts. Errors only for unreadable input; every mismatch is a failed check in the report.
pub fn audit(policy_text: &str, bundle: &Path, ptau: &[u8], options: Options) -> Result<Report, String> {
    audit_with_progress(policy_text, bundle, ptau, options, &|_| {})
}

/// [`audit`], naming each long step to `progress` as it starts (the CLI shows them on a terminal:
/// the transcript check alone takes tens of seconds).
pub fn audit_with_progress(
    policy_text: &str,
    bundle: &Path,
    ptau: &[u8],
    options: Options,
    progress: &dyn Fn(&str),
) -> Result<Report, String> {
    progress("compiling the policy's circuit");
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

    let circuit = matrices(&policy).map_err(|e| format!("compiling the policy: {e}"))?;
    let info = info_of(&circuit);
    let m = &manifest.circuit;
    let counts_match = (info.constraints, info.public_inputs, info.witnesses)
        == (m.constraints, m.public_inputs, m.witnesses);
    r.check(
        "circuit digest",
        info.digest == m.digest && counts_match,
        format!(
            "recompiled {} ({} constraints, {} public inputs, {} witnesses), manifest {} ({}, {}, {})",
            info.digest,
            info.constraints,
            info.public_inputs,
            info.witnesses,
            m.digest,
            m.constraints,
            m.public_inputs,
            m.witnesses
        ),
    );
    let recompiled: [u8; 32] =
        hex::decode(&info.digest).ok().and_then(|v| v.try_into().ok()).ok_or("digest")?;

    progress("reading the keys (every point checked)");
    let vk = match read(&bundle.join(&manifest.verifying_key.file), MAX_SMALL_KEY_BYTES).and_then(|b| {
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
    let pk = match read(&bundle.join(&manifest.proving_key.file), MAX_PROVING_KEY_BYTES).and_then(|b| {
        decode_proving_key_fully_checked(&b, &recompiled, Some(&manifest.proving_key_sha256()))
            .map_err(|e| e.to_string())
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

    let mut ceremony_evidence = serde_json::Value::Null;
    r.check(
        "setup",
        manifest.setup == "ceremony",
        if manifest.setup == "ceremony" {
            "keys from a multi-party ceremony".to_string()
        } else {
            format!("{} setup: development keys; whoever made them can forge any code", manifest.setup)
        },
    );
    match &manifest.ceremony {
        // Rebuilding the initial key of a circuit the bundle is not for would only repeat the
        // circuit digest finding, slowly.
        Some(_) if info.digest != manifest.circuit.digest => {
            r.check(
                "ceremony transcript",
                false,
                "not checked: the bundle is for another circuit than the policy's",
            );
        }
        None => {
            r.check("ceremony transcript", false, "the bundle ships no ceremony transcript (.zkey)");
        }
        Some(entry) => {
            let bytes = read(&bundle.join(&entry.file), MAX_ZKEY_BYTES)?;
            let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
            r.check(
                "ceremony transcript file",
                hash == entry.sha256,
                format!("{} SHA-256 {hash}, manifest {}", entry.file, entry.sha256),
            );
            progress("verifying the ceremony transcript against the circuit and phase 1");
            let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(options.seed);
            match verify_ceremony(&circuit, ptau, &bytes, &mut rng) {
                Err(e) => {
                    r.check("ceremony transcript", false, e.to_string());
                }
                Ok((report, zkey)) => {
                    r.check(
                        "phase 1",
                        report.ptau.failures.is_empty(),
                        if report.ptau.failures.is_empty() {
                            format!(
                                "power {}, SHA-256 {}{}",
                                report.ptau.power,
                                report.ptau.sha256,
                                match report.ptau.pinned.as_deref() {
                                    Some(p) => format!(" = {p}"),
                                    None => " — NOT a pinned public ceremony's file: whoever made it may \
                                             know its secret and forge any code; trust it only for development"
                                        .into(),
                                }
                            )
                        } else {
                            report.ptau.failures.join("; ")
                        },
                    );
                    if let Some(t) = &report.transcript {
                        // The manifest's account of the ceremony is what people read: it must be
                        // the transcript's, names and hashes alike.
                        let listed: Vec<String> = t
                            .contributions
                            .iter()
                            .map(|c| match &c.name {
                                Some(n) => format!("{n}: {}", c.hash),
                                None => c.hash.clone(),
                            })
                            .collect();
                        let manifest_agrees =
                            entry.circuit_hash == t.circuit_hash && entry.contributions == listed;
                        r.check(
                            "ceremony transcript",
                            t.ok() && manifest_agrees,
                            format!(
                                "{} contributions, circuit hash {}…{}",
                                t.contributions.len(),
                                &t.circuit_hash[..16],
                                if manifest_agrees {
                                    String::new()
                                } else {
                                    format!(
                                        "; the manifest describes another ceremony (circuit hash {}, contributions {:?}; the transcript's: {:?})",
                                        entry.circuit_hash, entry.contributions, listed
                                    )
                                }
                            ),
                        );
                        for f in &t.failures {
                            r.check(&format!("ceremony: {}", f.check), false, f.detail.clone());
                        }
                    }
                    if let (Some(vk), Some(pk)) = (&vk, &pk) {
                        let diffs = key_differences(pk, vk, &zkey);
                        r.check(
                            "keys match the transcript",
                            diffs.is_empty(),
                            if diffs.is_empty() {
                                "the proving and verifying keys are exactly the transcript's".to_string()
                            } else {
                                diffs.join("; ")
                            },
                        );
                    }
                    ceremony_evidence = serde_json::to_value(&report).unwrap_or_default();
                }
            }
        }
    }

    if let (Some(vk), Some(pk)) = (&vk, &pk) {
        progress("proving and verifying sample codes");
        let (ok, detail) = sample_codes(&policy, pk, vk, options.seed);
        r.check("sample codes", ok, detail);
    }

    progress("semantic check: circuit against the reference evaluator");
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
    r.evidence = serde_json::json!({
        "circuit": info,
        "ceremony": ceremony_evidence,
        "semantic_disagreements": sem.disagreements,
    });
    Ok(r)
}

/// Where the bundle's keys differ from the ones the transcript determines, by query and index.
fn key_differences(
    pk: &ark_groth16::ProvingKey<ark_bn254::Bn254>,
    vk: &ark_groth16::VerifyingKey<ark_bn254::Bn254>,
    zkey: &healthcode_ceremony::Zkey,
) -> Vec<String> {
    fn query<T: PartialEq>(out: &mut Vec<String>, name: &str, got: &[T], want: &[T]) {
        if got.len() != want.len() {
            out.push(format!("proving key {name}: {} points, the transcript has {}", got.len(), want.len()));
        } else if let Some(i) = (0..got.len()).find(|&i| got[i] != want[i]) {
            let n = (0..got.len()).filter(|&i| got[i] != want[i]).count();
            out.push(format!(
                "proving key {name}: {n} points differ from the transcript's, first at index {i}"
            ));
        }
    }
    let want = zkey_keys::proving_key(zkey);
    let mut out = Vec::new();
    query(&mut out, "A query", &pk.a_query, &want.a_query);
    query(&mut out, "B query (G1)", &pk.b_g1_query, &want.b_g1_query);
    query(&mut out, "B query (G2)", &pk.b_g2_query, &want.b_g2_query);
    query(&mut out, "L query", &pk.l_query, &want.l_query);
    query(&mut out, "H query", &pk.h_query, &want.h_query);
    if (pk.beta_g1, pk.delta_g1) != (want.beta_g1, want.delta_g1) || pk.vk != want.vk {
        out.push("proving key: its β₁, δ₁ or embedded verifying key is not the transcript's".into());
    }
    let v = &want.vk;
    for (name, differs) in [
        ("alpha_g1", vk.alpha_g1 != v.alpha_g1),
        ("beta_g2", vk.beta_g2 != v.beta_g2),
        ("gamma_g2", vk.gamma_g2 != v.gamma_g2),
        ("delta_g2", vk.delta_g2 != v.delta_g2),
        ("gamma_abc_g1 (input commitments)", vk.gamma_abc_g1 != v.gamma_abc_g1),
    ] {
        if differs {
            out.push(format!("verifying key {name} is not the transcript's"));
        }
    }
    out
}

/// Random holders whose every event time is set, at random leaf indices, binding both ways: a
/// key altered on the queries of some witness bits fails here even when the boundary cases,
/// whose times are mostly 0, do not touch those bits.
const RANDOM_SAMPLE_CODES: usize = 6;

/// Proves one code of each colour the policy can give, and random codes, with the bundle's
/// proving key and checks each with the bundle's verifying key; each proof must also fail for
/// every other colour.
fn sample_codes(
    policy: &Policy,
    pk: &ark_groth16::ProvingKey<ark_bn254::Bn254>,
    vk: &ark_groth16::VerifyingKey<ark_bn254::Bn254>,
    seed: u64,
) -> (bool, String) {
    let checkpoint = match Checkpoint::new(policy, vk) {
        Ok(c) => c,
        Err(e) => return (false, e.to_string()),
    };
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    let mut done = Vec::new();
    let now = semantic::AUDIT_NOW;
    let random = (0..RANDOM_SAMPLE_CODES).map(|i| {
        let state: Vec<u64> = (0..policy.events.len()).map(|_| now - rng.gen_range(1..30 * 86_400)).collect();
        (state, now, rng.gen::<u32>(), i % 2 == 0)
    });
    let boundary: Vec<_> = semantic::boundary_cases(policy, now)
        .into_iter()
        .filter_map(|case| {
            let colour = evaluate(policy, &case.state, case.now).ok()?.colour;
            (!done.contains(&colour)).then(|| {
                done.push(colour);
                (case.state, case.now, 3u32, true)
            })
        })
        .collect();
    done.clear();
    let cases: Vec<_> = boundary.into_iter().chain(random.collect::<Vec<_>>()).collect();
    let mut proved = 0;
    for (state, case_now, index, bind) in cases {
        let Ok(verdict) = evaluate(policy, &state, case_now) else { continue };
        let (public, witness) = synthetic(state, case_now, verdict.colour, index, bind);
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
        if !done.contains(&verdict.colour) {
            done.push(verdict.colour);
        }
        proved += 1;
    }
    (
        true,
        format!(
            "proved and verified {proved} codes ({}; {RANDOM_SAMPLE_CODES} over random witnesses with every event time set); each refused as any other colour",
            done.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ")
        ),
    )
}

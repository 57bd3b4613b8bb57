//! What an auditor checks of a phase-2 transcript (snarkjs's `zkey verify`, with every failure
//! named instead of the first one only):
//!
//! 1. the contributions chain: each transcript hash recomputed from the circuit hash and the
//!    contributions before it; each proof of knowledge (`s, s·x` against `x·hashToG2(transcript)`);
//!    each δ following from the previous one by that `x`; each beacon recomputed from its public
//!    parameters;
//! 2. the final δ₁ is the last contribution's and δ₂ matches it; γ₂ is the G2 generator;
//! 3. every section but δ, C (L) and H equals the initial key rebuilt from the circuit and the
//!    `.ptau` — point by point, naming the first index that differs;
//! 4. C and H stand in the ratio δ to the initial ones (random linear combinations and one
//!    pairing; a failure is located by bisection).

use crate::contribute::{beacon_key, contribution_hash, hash_pub_key, transcript};
use crate::ffjs;
use crate::ptau::same_ratio;
use crate::zkey::{ContributionKind, Zkey};
use ark_bn254::{Fr, G1Affine, G1Projective, G2Affine};
use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::UniformRand;
use ark_std::rand::{CryptoRng, RngCore};
use serde::Serialize;

/// Beacons with more iterations than `2^this` are not recomputed (a transcript could otherwise
/// make its verifier hash for years); such a beacon is a failure to be settled by hand.
pub const MAX_VERIFIED_BEACON_EXP: u8 = 32;

/// One contribution as the report lists it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ContributionSummary {
    /// 1-based, as snarkjs numbers them.
    pub index: usize,
    pub name: Option<String>,
    /// Blake2b-512 of the contribution's public key (what the contributor was shown).
    pub hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beacon: Option<BeaconSummary>,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct BeaconSummary {
    pub hash: String,
    pub iterations_exp: u8,
}

/// One failed check: which part of the key and what is wrong with it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Failure {
    pub check: String,
    pub detail: String,
}

/// The result of verifying a transcript against the initial key.
#[derive(Clone, Debug, Serialize)]
pub struct Verification {
    pub circuit_hash: String,
    pub contributions: Vec<ContributionSummary>,
    pub failures: Vec<Failure>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }
}

fn random_scalars<R: RngCore>(n: usize, rng: &mut R) -> Vec<Fr> {
    (0..n).map(|_| Fr::rand(rng)).collect()
}

/// Whether `fin = init / δ` pointwise, where δ₂(init) = G2 and δ₂(final) = `delta2`.
fn ratio_holds<R: RngCore>(init: &[G1Affine], fin: &[G1Affine], delta2: G2Affine, rng: &mut R) -> bool {
    if init.is_empty() {
        return true;
    }
    let r = random_scalars(init.len(), rng);
    let a = G1Projective::msm_unchecked(init, &r).into_affine();
    let b = G1Projective::msm_unchecked(fin, &r).into_affine();
    same_ratio(a, b, delta2, G2Affine::generator())
}

/// The first index where the ratio fails, by bisection (assumes it fails on the whole).
fn first_bad<R: RngCore>(init: &[G1Affine], fin: &[G1Affine], delta2: G2Affine, rng: &mut R) -> usize {
    let (mut lo, mut hi) = (0, init.len());
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if !ratio_holds(&init[lo..mid], &fin[lo..mid], delta2, rng) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    lo
}

fn compare<T: PartialEq>(name: &str, section: u32, got: &[T], want: &[T], failures: &mut Vec<Failure>) {
    if got.len() != want.len() {
        failures.push(Failure {
            check: name.into(),
            detail: format!(
                "section {section} has {} entries; the circuit and .ptau determine {}",
                got.len(),
                want.len()
            ),
        });
        return;
    }
    let bad: Vec<usize> = (0..got.len()).filter(|&i| got[i] != want[i]).collect();
    if let Some(first) = bad.first() {
        failures.push(Failure {
            check: name.into(),
            detail: format!(
                "{} of {} entries of section {section} differ from the key the circuit and .ptau determine, first at index {first}",
                bad.len(),
                got.len()
            ),
        });
    }
}

/// Verifies `z` against `initial`, the key [`crate::init::init`] rebuilds from the published
/// circuit and the `.ptau`.
pub fn verify<R: RngCore + CryptoRng>(z: &Zkey, initial: &Zkey, rng: &mut R) -> Verification {
    let mut failures = Vec::new();
    let mut fail = |check: &str, detail: String| failures.push(Failure { check: check.into(), detail });
    let mut contributions = Vec::new();

    if (z.n_vars, z.n_public, z.domain_size) != (initial.n_vars, initial.n_public, initial.domain_size) {
        fail(
            "circuit shape",
            format!(
                "the key has {} variables, {} public, domain {}; the policy's circuit has {}, {}, {}",
                z.n_vars, z.n_public, z.domain_size, initial.n_vars, initial.n_public, initial.domain_size
            ),
        );
        return Verification { circuit_hash: hex::encode(z.mpc.cs_hash), contributions, failures };
    }
    if z.mpc.cs_hash != initial.mpc.cs_hash {
        fail("circuit hash", "the transcript starts from another circuit or .ptau than the policy's".into());
    }

    // 1. The chain of contributions, over the circuit hash the key itself records.
    let mut prefix = blake2::Blake2b512::default();
    blake2::Digest::update(&mut prefix, z.mpc.cs_hash);
    let mut delta = G1Affine::generator();
    let last = z.mpc.contributions.len().saturating_sub(1);
    for (i, c) in z.mpc.contributions.iter().enumerate() {
        let n = i + 1;
        let label =
            format!("contribution #{n}{}", c.name.as_deref().map(|s| format!(" ({s})")).unwrap_or_default());
        let chained = transcript(&prefix, &c.g1_s, &c.g1_sx) == c.transcript;
        if !chained {
            fail(
                &label,
                "its transcript hash does not chain from the circuit hash and the contributions before it"
                    .into(),
            );
        }
        let g2_sp = ffjs::hash_to_g2(&c.transcript);
        if c.g1_s.is_zero() || c.g1_sx.is_zero() || c.delta_after.is_zero() {
            fail(&label, "its proof of knowledge or its δ is the identity".into());
        } else {
            if !same_ratio(c.g1_s, c.g1_sx, g2_sp, c.g2_spx) {
                fail(
                    &label,
                    "its proof of knowledge is invalid (s·x in G1 and x·H(transcript) in G2 disagree)".into(),
                );
            }
            if !same_ratio(delta, c.delta_after, g2_sp, c.g2_spx) {
                fail(&label, "its δ does not follow from the previous δ by the contribution's secret".into());
            }
        }
        let beacon = match &c.kind {
            ContributionKind::Participant => None,
            ContributionKind::Beacon { hash, iterations_exp } => {
                // Recomputing a beacon costs up to 2^32 hashes (minutes): only the one beacon a
                // ceremony ends with is recomputed, and only once the cheap checks hold, so a file
                // stuffed with bogus beacons cannot keep its verifier busy for hours.
                if i != last {
                    fail(&label, "a beacon must be the ceremony's last contribution; not recomputed".into());
                } else if !chained {
                    // Already failed; the beacon would not make it verify.
                } else if *iterations_exp > MAX_VERIFIED_BEACON_EXP {
                    fail(&label, format!("beacon with 2^{iterations_exp} iterations: above this verifier's limit of 2^{MAX_VERIFIED_BEACON_EXP}, not recomputed"));
                } else {
                    let (x, s) = beacon_key(hash, *iterations_exp);
                    if s != c.g1_s || (s * x).into_affine() != c.g1_sx {
                        fail(
                            &label,
                            "the beacon's key is not the one its published hash and iterations give".into(),
                        );
                    }
                }
                Some(BeaconSummary { hash: hex::encode(hash), iterations_exp: *iterations_exp })
            }
        };
        contributions.push(ContributionSummary {
            index: n,
            name: c.name.clone(),
            hash: hex::encode(contribution_hash(c)),
            beacon,
        });
        hash_pub_key(&mut prefix, c);
        delta = c.delta_after;
    }
    if z.mpc.contributions.is_empty() {
        fail("contributions", "none: δ is still 1 and anyone can forge proofs".into());
    }

    // 2. The verifying key's fixed points.
    if z.delta_g1 != delta {
        fail("delta_g1", "δ₁ is not the last contribution's δ".into());
    }
    if !same_ratio(G1Affine::generator(), z.delta_g1, G2Affine::generator(), z.delta_g2) {
        fail("delta_g2", "δ₂ does not match δ₁".into());
    }
    if z.gamma_g2 != G2Affine::generator() {
        fail("gamma_g2", "γ₂ is not the G2 generator: a γ someone chose (such as γ = k·δ) lets provers forge public inputs".into());
    }
    if z.alpha_g1 != initial.alpha_g1 {
        fail("alpha_g1", "α₁ is not the .ptau's".into());
    }
    if z.beta_g1 != initial.beta_g1 {
        fail("beta_g1", "β₁ is not the .ptau's".into());
    }
    if z.beta_g2 != initial.beta_g2 {
        fail("beta_g2", "β₂ is not the .ptau's".into());
    }

    // 3. The sections no contribution changes.
    compare("IC (input commitments)", 3, &z.ic, &initial.ic, &mut failures);
    compare("coefficients", 4, &z.coefficients, &initial.coefficients, &mut failures);
    compare("A query", 5, &z.a, &initial.a, &mut failures);
    compare("B query in G1", 6, &z.b_g1, &initial.b_g1, &mut failures);
    compare("B query in G2", 7, &z.b_g2, &initial.b_g2, &mut failures);

    // 4. C and H, divided by the final δ.
    for (name, section, fin, init) in [("C (L) query", 8, &z.c, &initial.c), ("H query", 9, &z.h, &initial.h)]
    {
        if fin.len() != init.len() {
            failures.push(Failure {
                check: name.into(),
                detail: format!(
                    "section {section} has {} points; the circuit needs {}",
                    fin.len(),
                    init.len()
                ),
            });
        } else if !ratio_holds(init, fin, z.delta_g2, rng) {
            let at = first_bad(init, fin, z.delta_g2, rng);
            failures.push(Failure {
                check: name.into(),
                detail: format!("section {section} is not the initial one divided by δ, first at index {at}"),
            });
        }
    }
    Verification { circuit_hash: hex::encode(z.mpc.cs_hash), contributions, failures }
}

//! The checkpoint: verifies health codes offline against a policy bundle and trusted heads.
//!
//! Checks run cheapest first and the proof last: payload well-formed → policy → head known →
//! head fresh → head not superseded beyond the grace → code fresh → challenge → binding tag → Groth16 proof. Codes are never identified
//! by their proof bytes (Groth16 proofs are malleable, docs/soundness.md §7): nothing here keys on them.

use crate::bundle::VerifierBundle;
use crate::fixed_base::FixedBases;
use crate::payload::{Payload, PayloadError, POLICY_PREFIX_BYTES};
use ark_bn254::{Bn254, Fr, G1Affine, G1Projective};
use ark_ec::pairing::{Pairing, PairingOutput};
use ark_ec::{CurveGroup, VariableBaseMSM};
use ark_ff::{One, PrimeField, Zero};
use ark_groth16::{prepare_verifying_key, PreparedVerifyingKey, Proof, VerifyingKey};
use ark_serialize::CanonicalSerialize;
use healthcode_circuits::hashes;
use healthcode_circuits::policy::{Colour, Policy};
use healthcode_circuits::statement::{PublicInputs, PUBLIC_INPUTS};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;

/// Default tolerance for a code whose `now` is ahead of the checkpoint clock (clock drift).
pub const DEFAULT_MAX_FUTURE_SKEW: u64 = 60;

/// A registry tree head the checkpoint trusts: the caller has checked the registry's signature
/// on it (this crate does not do signatures; the registry crate converts its signed head).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustedHead {
    pub epoch: u64,
    /// Unix seconds the registry issued the head at.
    pub issued_at: u64,
    pub root: Fr,
}

/// Why a code is not accepted, in the order the checks run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("malformed code: {0}")]
    Malformed(#[from] PayloadError),
    #[error("code is for policy {found}…, this checkpoint enforces policy {expected}…")]
    WrongPolicy { expected: String, found: String },
    #[error("code is over registry epoch {epoch}, for which this checkpoint has no trusted head")]
    UnknownHead { epoch: u64 },
    #[error("registry head of epoch {epoch} is {age} s old, more than the policy's max_root_age {max} s")]
    StaleHead { epoch: u64, age: u64, max: u64 },
    #[error("registry head of epoch {epoch} was superseded by epoch {newer} {since} s ago, more than the policy's head_grace {grace} s: the holder must fetch a fresh witness")]
    SupersededHead { epoch: u64, newer: u64, since: u64, grace: u64 },
    #[error("registry head of epoch {epoch} was issued {ahead} s after the checkpoint clock")]
    HeadFromFuture { epoch: u64, ahead: u64 },
    #[error("code was made {age} s ago, more than the policy's max_code_age {max} s")]
    StaleCode { age: u64, max: u64 },
    #[error("code claims a time {ahead} s ahead of the checkpoint clock (tolerance {skew} s)")]
    CodeFromFuture { ahead: u64, skew: u64 },
    #[error("code answers another challenge than this checkpoint's")]
    WrongChallenge,
    #[error("the code is identity-bound: it answers a checkpoint's secret binding nonce, and this checkpoint gave none")]
    NonceRequired,
    #[error("this checkpoint checks identity but the code is not identity-bound")]
    BindingRequired,
    #[error("the code's identity binding does not match the document checked")]
    BindingMismatch,
    #[error("the proof does not verify")]
    BadProof,
}

impl Invalid {
    /// A stable machine-readable reason (for `--json` output and logs).
    pub fn reason(&self) -> &'static str {
        match self {
            Invalid::Malformed(_) => "malformed",
            Invalid::WrongPolicy { .. } => "wrong-policy",
            Invalid::UnknownHead { .. } => "unknown-head",
            Invalid::StaleHead { .. } => "stale-head",
            Invalid::SupersededHead { .. } => "superseded-head",
            Invalid::HeadFromFuture { .. } => "head-from-future",
            Invalid::StaleCode { .. } => "stale-code",
            Invalid::CodeFromFuture { .. } => "code-from-future",
            Invalid::WrongChallenge => "wrong-challenge",
            Invalid::NonceRequired => "nonce-required",
            Invalid::BindingRequired => "binding-required",
            Invalid::BindingMismatch => "binding-mismatch",
            Invalid::BadProof => "bad-proof",
        }
    }
}

/// Errors of building a checkpoint or feeding it heads (configuration, not codes).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("verifying key has {got} public inputs, the statement has {PUBLIC_INPUTS}")]
    KeyShape { got: usize },
    #[error("two trusted heads for epoch {epoch} with different roots: the registry equivocated")]
    ConflictingHead { epoch: u64 },
}

/// Raw Groth16 check against an explicit public-input vector.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofCheckError {
    #[error("expected {expected} public inputs, got {got}")]
    InputCount { expected: usize, got: usize },
    #[error("the proof does not verify")]
    Rejected,
}

/// A checkpoint's verifying state, built once: the verifying key is prepared here, not per code.
#[derive(Clone)]
pub struct Checkpoint {
    policy_digest: [u8; 32],
    pvk: PreparedVerifyingKey<Bn254>,
    /// SHA-256 of the compressed verifying key, absorbed by batch transcripts.
    vk_digest: [u8; 32],
    /// `γ_abc₁..` expanded for fixed-base multiplication (input preparation).
    inputs_table: FixedBases,
    max_root_age: u64,
    max_code_age: u64,
    head_grace: u64,
    max_future_skew: u64,
    heads: BTreeMap<u64, TrustedHead>,
}

impl fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checkpoint")
            .field("policy_digest", &hex::encode(self.policy_digest))
            .field("vk_digest", &hex::encode(self.vk_digest))
            .field("max_root_age", &self.max_root_age)
            .field("max_code_age", &self.max_code_age)
            .field("head_grace", &self.head_grace)
            .field("max_future_skew", &self.max_future_skew)
            .field("heads", &self.heads.len())
            .finish()
    }
}

impl Checkpoint {
    /// A checkpoint for `policy` with its verifying key; freshness windows come from the policy.
    pub fn new(policy: &Policy, vk: &VerifyingKey<Bn254>) -> Result<Self, CheckpointError> {
        if vk.gamma_abc_g1.len() != PUBLIC_INPUTS + 1 {
            return Err(CheckpointError::KeyShape { got: vk.gamma_abc_g1.len().saturating_sub(1) });
        }
        Ok(Self {
            policy_digest: policy.digest(),
            pvk: prepare_verifying_key(vk),
            vk_digest: verifying_key_digest(vk),
            inputs_table: FixedBases::new(&vk.gamma_abc_g1[1..]),
            max_root_age: policy.max_root_age,
            max_code_age: policy.max_code_age,
            head_grace: policy.head_grace,
            max_future_skew: DEFAULT_MAX_FUTURE_SKEW,
            heads: BTreeMap::new(),
        })
    }

    pub fn from_bundle(bundle: &VerifierBundle) -> Result<Self, CheckpointError> {
        Self::new(&bundle.policy, &bundle.verifying_key)
    }

    /// Sets how far ahead of the clock a code's `now` may be.
    pub fn with_max_future_skew(mut self, seconds: u64) -> Self {
        self.max_future_skew = seconds;
        self
    }

    /// Trusts a (signature-checked) head. The same head twice is fine; a different root for a
    /// known epoch is refused and the first head kept.
    pub fn add_head(&mut self, head: TrustedHead) -> Result<(), CheckpointError> {
        match self.heads.get(&head.epoch) {
            Some(known) if known.root != head.root => {
                Err(CheckpointError::ConflictingHead { epoch: head.epoch })
            }
            Some(_) => Ok(()),
            None => {
                self.heads.insert(head.epoch, head);
                Ok(())
            }
        }
    }

    pub fn heads(&self) -> impl Iterator<Item = &TrustedHead> {
        self.heads.values()
    }

    pub fn policy_digest(&self) -> &[u8; 32] {
        &self.policy_digest
    }

    pub fn prepared_verifying_key(&self) -> &PreparedVerifyingKey<Bn254> {
        &self.pvk
    }

    /// Verifies one code given as binary payload or text form. `clock` is the checkpoint's Unix
    /// time; `expected_challenge` is the challenge this checkpoint issued (if any) — for an
    /// identity-bound code, the secret binding nonce it gave the holder, which the code does not
    /// carry;
    /// `expected_id_hash` is the `id_hash` of a document the checkpoint has checked (if any).
    pub fn verify(
        &self,
        code: &[u8],
        clock: u64,
        expected_challenge: Option<Fr>,
        expected_id_hash: Option<Fr>,
    ) -> Result<Colour, Invalid> {
        self.verify_payload(&Payload::decode_any(code)?, clock, expected_challenge, expected_id_hash)
    }

    /// [`Checkpoint::verify`] for an already decoded payload.
    pub fn verify_payload(
        &self,
        payload: &Payload,
        clock: u64,
        expected_challenge: Option<Fr>,
        expected_id_hash: Option<Fr>,
    ) -> Result<Colour, Invalid> {
        let inputs = self.precheck(payload, clock, expected_challenge, expected_id_hash)?;
        self.check_proof(&payload.proof, &inputs.to_field_elements()).map_err(|_| Invalid::BadProof)?;
        Ok(payload.colour)
    }

    /// Every check but the proof; returns the public inputs the proof must be checked against.
    pub fn precheck(
        &self,
        payload: &Payload,
        clock: u64,
        expected_challenge: Option<Fr>,
        expected_id_hash: Option<Fr>,
    ) -> Result<PublicInputs, Invalid> {
        let expected = &self.policy_digest[..POLICY_PREFIX_BYTES];
        if payload.policy_prefix != expected {
            return Err(Invalid::WrongPolicy {
                expected: hex::encode(expected),
                found: hex::encode(payload.policy_prefix),
            });
        }
        let head = self.heads.get(&payload.epoch).ok_or(Invalid::UnknownHead { epoch: payload.epoch })?;
        if head.issued_at > clock.saturating_add(self.max_future_skew) {
            return Err(Invalid::HeadFromFuture { epoch: head.epoch, ahead: head.issued_at - clock });
        }
        let head_age = clock.saturating_sub(head.issued_at);
        if head_age > self.max_root_age {
            return Err(Invalid::StaleHead { epoch: head.epoch, age: head_age, max: self.max_root_age });
        }
        if let Some(newer) = superseded(head, self.heads.values(), self.head_grace, clock) {
            return Err(Invalid::SupersededHead {
                epoch: head.epoch,
                newer: newer.epoch,
                since: clock - newer.issued_at,
                grace: self.head_grace,
            });
        }
        if payload.now > clock.saturating_add(self.max_future_skew) {
            return Err(Invalid::CodeFromFuture { ahead: payload.now - clock, skew: self.max_future_skew });
        }
        let code_age = clock.saturating_sub(payload.now);
        if code_age > self.max_code_age {
            return Err(Invalid::StaleCode { age: code_age, max: self.max_code_age });
        }
        if expected_id_hash.is_some() && payload.binding_tag.is_none() {
            return Err(Invalid::BindingRequired);
        }
        // An unbound code carries its challenge; a bound one answers the checkpoint's secret
        // nonce, which is not in the code (it would make the tag an offline test of documents).
        let challenge = match (payload.challenge, expected_challenge) {
            (Some(c), Some(e)) if c != e => return Err(Invalid::WrongChallenge),
            (Some(c), _) => c,
            (None, Some(nonce)) => nonce,
            (None, None) => return Err(Invalid::NonceRequired),
        };
        if let Some(id_hash) = expected_id_hash {
            if payload.binding_tag != Some(hashes::binding_tag(id_hash, challenge)) {
                return Err(Invalid::BindingMismatch);
            }
        }
        Ok(payload.public_inputs(head.root, Some(challenge)).expect("the challenge is known"))
    }

    /// The Groth16 equation for an explicit input vector, refusing a vector of the wrong length
    /// (arkworks' `verify_proof` would silently ignore extra inputs or treat missing ones as 0).
    pub fn check_proof(&self, proof: &Proof<Bn254>, inputs: &[Fr]) -> Result<(), ProofCheckError> {
        if inputs.len() != PUBLIC_INPUTS {
            return Err(ProofCheckError::InputCount { expected: PUBLIC_INPUTS, got: inputs.len() });
        }
        // `γ_abc₀ + Σ xᵢ·γ_abcᵢ` from the precomputed tables, then arkworks' pairing check.
        let prepared = self.inputs_table.sum(inputs) + self.pvk.vk.gamma_abc_g1[0];
        match ark_groth16::Groth16::<Bn254>::verify_proof_with_prepared_inputs(&self.pvk, proof, &prepared) {
            Ok(true) => Ok(()),
            _ => Err(ProofCheckError::Rejected),
        }
    }

    /// Verifies a queue of codes: each code gets the same answer [`Checkpoint::verify`] would give,
    /// but the proofs of all codes passing the cheap checks are checked together with one final
    /// exponentiation ([`batch_check`]). If the batch fails, each proof is checked alone so the bad
    /// ones are named and the good ones still pass.
    pub fn verify_batch<C: AsRef<[u8]> + Sync>(
        &self,
        codes: &[C],
        clock: u64,
        expected_challenge: Option<Fr>,
        expected_id_hash: Option<Fr>,
    ) -> Vec<Result<Colour, Invalid>> {
        // Decoding (point decompression and the G2 subgroup check) is a third of a batch's cost and
        // independent per code: spread it over the cores when `parallel` is on.
        let check = |code: &C| {
            let p = Payload::decode_any(code.as_ref())?;
            let inputs = self.precheck(&p, clock, expected_challenge, expected_id_hash)?;
            Ok::<_, Invalid>((p, inputs))
        };
        #[cfg(feature = "parallel")]
        let checked: Vec<_> = {
            use rayon::prelude::*;
            codes.par_iter().map(check).collect()
        };
        #[cfg(not(feature = "parallel"))]
        let checked: Vec<_> = codes.iter().map(check).collect();
        let mut results: Vec<Result<Colour, Invalid>> = Vec::with_capacity(codes.len());
        let mut pending = Vec::new();
        for (i, checked) in checked.into_iter().enumerate() {
            match checked {
                Ok((p, inputs)) => {
                    results.push(Ok(p.colour));
                    pending.push((i, inputs.to_field_elements(), p.proof));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        let batch: Vec<(&[Fr], &Proof<Bn254>)> = pending.iter().map(|(_, x, p)| (x.as_slice(), p)).collect();
        if !batch_check(&self.pvk, &self.vk_digest, &batch) {
            for (i, inputs, proof) in &pending {
                if self.check_proof(proof, inputs).is_err() {
                    results[*i] = Err(Invalid::BadProof);
                }
            }
        }
        results
    }
}

/// A challenge posted at a checkpoint that gave no binding nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Posted {
    /// The venue code on the poster.
    Venue(Fr),
    /// The current five-minute slot, or the one before (a code made at a slot boundary).
    Slot,
}

impl Checkpoint {
    /// [`Checkpoint::verify_batch`] against a posted challenge (`verify --venue | --slot`, the
    /// checkpoint page). An identity-bound code answers a checkpoint's secret nonce, not a posted
    /// challenge: it is [`Invalid::NonceRequired`] rather than the bad proof that trying the
    /// posted challenge as its nonce gives (which would call its holder a forger). Only failed
    /// codes are decoded again, so valid ones cost what a batch costs.
    pub fn verify_posted<C: AsRef<[u8]> + Sync>(
        &self,
        codes: &[C],
        clock: u64,
        posted: Posted,
        expected_id_hash: Option<Fr>,
    ) -> Vec<Result<Colour, Invalid>> {
        let [current, previous] = crate::challenge::posted_slots(clock);
        let first = match posted {
            Posted::Venue(v) => v,
            Posted::Slot => current,
        };
        let mut results = self.verify_batch(codes, clock, Some(first), expected_id_hash);
        for (r, code) in results.iter_mut().zip(codes) {
            match r {
                Err(Invalid::BadProof)
                    if Payload::decode_any(code.as_ref()).is_ok_and(|p| p.challenge.is_none()) =>
                {
                    *r = Err(Invalid::NonceRequired)
                }
                Err(Invalid::WrongChallenge) if posted == Posted::Slot => {
                    *r = self.verify(code.as_ref(), clock, Some(previous), expected_id_hash)
                }
                _ => {}
            }
        }
        results
    }
}

/// The head that supersedes `head` beyond `grace` at `clock`, if any: the earliest of `heads`
/// with a later epoch, when `clock` is more than `grace` after its `issued_at`. A code over
/// `head` is then refused (`superseded-head`): the newer head may carry a positive result the
/// older one lacks. The earliest newer head is the one the grace runs from; a checkpoint that
/// misses it and knows only a later one measures from that later head, in the holder's favour.
pub fn superseded<'a>(
    head: &TrustedHead,
    heads: impl IntoIterator<Item = &'a TrustedHead>,
    grace: u64,
    clock: u64,
) -> Option<&'a TrustedHead> {
    let newer = heads.into_iter().filter(|h| h.epoch > head.epoch).min_by_key(|h| h.epoch)?;
    (clock > newer.issued_at.saturating_add(grace)).then_some(newer)
}

/// Domain of the batch-verification transcript.
pub const BATCH_DOMAIN: &[u8] = b"healthcode/batch-verify/v1\n";

/// Checks many Groth16 proofs at once with a random linear combination:
///
/// `∏ e(rᵢAᵢ, Bᵢ) · e(Σ rᵢ·ICᵢ, −γ) · e(Σ rᵢCᵢ, −δ) = e(α, β)^(Σ rᵢ)`
///
/// where `ICᵢ` is input vector `i` folded into the key's `γ_abc` points. One multi-Miller loop and
/// one final exponentiation replace `n` of each. A wrong proof passes only if the 128-bit `rᵢ`
/// cancel its error, probability 2⁻¹²⁸ per attempt.
///
/// The `rᵢ` are derived Fiat–Shamir style, not from an OS RNG, so a checkpoint's answer is
/// reproducible: SHA-256 over [`BATCH_DOMAIN`], the hash of the verifying key, the count and then
/// *every* public input and proof of the batch (docs/soundness.md §10), then `rᵢ = SHA-256(seed ‖ i)`
/// truncated to 128 bits. A prover who changes any input or proof changes every `rᵢ`.
///
/// Returns `true` for an empty batch; `false` if any input vector has the wrong length.
pub fn batch_check(
    pvk: &PreparedVerifyingKey<Bn254>,
    vk_digest: &[u8; 32],
    batch: &[(&[Fr], &Proof<Bn254>)],
) -> bool {
    if batch.is_empty() {
        return true;
    }
    let ic = &pvk.vk.gamma_abc_g1;
    if batch.iter().any(|(x, _)| x.len() + 1 != ic.len()) {
        return false;
    }
    let mut t = Sha256::new();
    t.update(BATCH_DOMAIN);
    t.update(vk_digest);
    t.update((batch.len() as u64).to_be_bytes());
    for (inputs, proof) in batch {
        for x in *inputs {
            t.update(healthcode_circuits::field::to_bytes(x));
        }
        let mut bytes = Vec::with_capacity(128);
        proof.serialize_compressed(&mut bytes).expect("writing to a Vec cannot fail");
        t.update(&bytes);
    }
    let seed = t.finalize();
    let r: Vec<Fr> = (0..batch.len() as u64)
        .map(|i| {
            let h = Sha256::new().chain_update(seed).chain_update(i.to_be_bytes()).finalize();
            let x = Fr::from_le_bytes_mod_order(&h[..16]);
            if x.is_zero() {
                Fr::one()
            } else {
                x
            }
        })
        .collect();

    // Σ rᵢ·ICᵢ = (Σ rᵢ)·γ_abc₀ + Σⱼ (Σᵢ rᵢ·xᵢⱼ)·γ_abcⱼ: the inputs are folded in the scalar field.
    let mut scalars = vec![Fr::zero(); ic.len()];
    for (ri, (inputs, _)) in r.iter().zip(batch) {
        scalars[0] += ri;
        for (s, x) in scalars[1..].iter_mut().zip(*inputs) {
            *s += *ri * x;
        }
    }
    let sum_r = scalars[0];
    let acc_ic = G1Projective::msm_unchecked(ic, &scalars);
    let cs: Vec<G1Affine> = batch.iter().map(|(_, p)| p.c).collect();
    let acc_c = G1Projective::msm_unchecked(&cs, &r);
    // Double-and-add over the 128 bits of rᵢ (GLV would not shorten a 128-bit scalar).
    let scale = |(ri, (_, p)): (&Fr, &(&[Fr], &Proof<Bn254>))| p.a * ri;
    #[cfg(feature = "parallel")]
    let ra: Vec<G1Projective> = {
        use rayon::prelude::*;
        r.par_iter().zip(batch.par_iter()).map(scale).collect()
    };
    #[cfg(not(feature = "parallel"))]
    let ra: Vec<G1Projective> = r.iter().zip(batch).map(scale).collect();
    let ra = G1Projective::normalize_batch(&ra);

    let mut g1: Vec<<Bn254 as Pairing>::G1Prepared> = ra.iter().map(|a| (*a).into()).collect();
    let prepare = |(_, p): &(&[Fr], &Proof<Bn254>)| -> <Bn254 as Pairing>::G2Prepared { p.b.into() };
    #[cfg(feature = "parallel")]
    let mut g2: Vec<_> = {
        use rayon::prelude::*;
        batch.par_iter().map(prepare).collect()
    };
    #[cfg(not(feature = "parallel"))]
    let mut g2: Vec<_> = batch.iter().map(prepare).collect();
    g1.push(acc_ic.into_affine().into());
    g2.push(pvk.gamma_g2_neg_pc.clone());
    g1.push(acc_c.into_affine().into());
    g2.push(pvk.delta_g2_neg_pc.clone());
    let lhs = match Bn254::final_exponentiation(Bn254::multi_miller_loop(g1, g2)) {
        Some(x) => x,
        None => return false,
    };
    lhs == PairingOutput::<Bn254>(pvk.alpha_g1_beta_g2) * sum_r
}

/// SHA-256 of a verifying key's compressed encoding, as absorbed by [`batch_check`].
pub fn verifying_key_digest(vk: &VerifyingKey<Bn254>) -> [u8; 32] {
    let mut bytes = Vec::new();
    vk.serialize_compressed(&mut bytes).expect("writing to a Vec cannot fail");
    Sha256::digest(&bytes).into()
}

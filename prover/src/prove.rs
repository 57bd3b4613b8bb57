//! On-device proving: the reference evaluator decides the colour (and says why), native checks
//! refuse a witness that cannot prove, then [`Prover`] checks the assignment and proves.

use crate::ab_queries::AbSums;
use crate::engine::{Assignment, Prover};
use crate::explain::Explanation;
use ark_bn254::{Bn254, Fr};
use ark_groth16::ProvingKey;
use ark_std::rand::{CryptoRng, RngCore};
use healthcode_circuits::policy::{evaluate, Colour, Policy, StateError, Verdict};
use healthcode_circuits::statement::{PublicInputs, Witness};
use healthcode_circuits::tree;
use healthcode_verifier::payload::{Payload, PayloadError, POLICY_PREFIX_BYTES};
use healthcode_verifier::TrustedHead;

/// What to prove, besides the witness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProveRequest {
    /// The head whose root the witness opens under (signature already checked by the caller).
    pub head: TrustedHead,
    /// Unix seconds the colour is claimed at (normally the device clock).
    pub now: u64,
    /// The checkpoint's challenge (venue code or time slot, or for a bound code the checkpoint's
    /// secret binding nonce), see `healthcode_verifier::challenge`.
    pub challenge: Fr,
    /// Bind the code to the holder's identity document (overrides `Witness::bind`).
    pub bind: bool,
    /// A colour the caller insists on; proving is refused if the rules give another one.
    pub claim: Option<Colour>,
}

/// A proved health code and why it has its colour.
#[derive(Clone, Debug)]
pub struct Proved {
    pub payload: Payload,
    pub public: PublicInputs,
    pub verdict: Verdict,
    pub explanation: Explanation,
}

#[derive(Debug, thiserror::Error)]
pub enum ProveError {
    #[error("the holder state does not fit the policy: {0}")]
    State(#[from] StateError),
    #[error("the policy gives {actual}, not the claimed {claimed}: a colour cannot be proved unless the rules give it")]
    ColourNotGiven { claimed: Colour, actual: Colour },
    #[error("the Merkle path has {0} levels, the registry tree has {levels}", levels = tree::LEVELS)]
    PathShape(usize),
    #[error(
        "the witness does not open under the root of epoch {epoch}: its leaf or path is not the registry's"
    )]
    NotInTree { epoch: u64 },
    #[error("the head of epoch {epoch} is {age} s old at `now`, beyond the policy's max_root_age {max} s: fetch a fresh witness")]
    StaleHead { epoch: u64, age: u64, max: u64 },
    #[error("the proving key does not fit this policy's circuit")]
    KeyMismatch,
    #[error("the circuit is not satisfied at constraint {0}: the witness is inconsistent")]
    Unsatisfied(String),
    #[error("the witness meets a relation on the setup's secrets (A = 0 before blinding): refused")]
    Degenerate,
    #[error("the bundle is broken: its proving key made a proof its verifying key rejects, so every checkpoint would refuse this code; get the policy bundle again and report it to the policy authority")]
    BrokenBundle,
    #[error("constraint synthesis failed: {0}")]
    Synthesis(String),
    #[error("cannot encode the code: {0}")]
    Payload(#[from] PayloadError),
    #[error("the second worker's part of the proof: {0}")]
    Helper(String),
}

/// The colour `witness` gets at `now` and why, without proving (what a holder's app shows).
pub fn explain(policy: &Policy, witness: &Witness, now: u64) -> Result<(Verdict, Explanation), ProveError> {
    let verdict = evaluate(policy, &witness.state, now)?;
    let explanation = Explanation::new(policy, &verdict, &witness.state, now);
    Ok((verdict, explanation))
}

/// Proves the holder's colour with a one-off [`Prover`]; see [`Prover::prove_code`].
pub fn prove<R: RngCore + CryptoRng>(
    policy: &Policy,
    proving_key: &ProvingKey<Bn254>,
    witness: &Witness,
    request: &ProveRequest,
    rng: &mut R,
) -> Result<Proved, ProveError> {
    Prover::new(policy, proving_key)?.prove_code(witness, request, rng)
}

/// Proves a statement given as explicit public inputs, refusing (never panicking on) an
/// assignment that does not satisfy the circuit. For tests and tools; holders use [`prove`].
pub fn groth16_prove<R: RngCore + CryptoRng>(
    policy: &Policy,
    proving_key: &ProvingKey<Bn254>,
    public: PublicInputs,
    witness: Witness,
    rng: &mut R,
) -> Result<ark_groth16::Proof<Bn254>, ProveError> {
    Prover::new(policy, proving_key)?.prove(public, witness, rng)
}

/// A code on its way to a proof ([`Prover::begin_code`]): checked, its assignment made.
pub struct PendingCode {
    assignment: Assignment,
    public: PublicInputs,
    verdict: Verdict,
    explanation: Explanation,
    head: TrustedHead,
    bind: bool,
    challenge: Fr,
}

impl PendingCode {
    /// The assignment, for [`crate::AbQueries::sums`] in a second worker.
    pub fn assignment(&self) -> &Assignment {
        &self.assignment
    }
}

impl Prover<'_> {
    /// Proves the holder's colour. Checks, in order: the state fits the policy, the rules give the
    /// claimed colour (if any), the head is fresh at `now`, the witness opens under the head's
    /// root; then proves. Never produces a code a checkpoint would reject for its proof.
    pub fn prove_code<R: RngCore + CryptoRng>(
        &self,
        witness: &Witness,
        request: &ProveRequest,
        rng: &mut R,
    ) -> Result<Proved, ProveError> {
        self.finish_code(self.begin_code(witness, request)?, None, rng)
    }

    /// The checks of [`Self::prove_code`] and the assignment; the proof follows in
    /// [`Self::finish_code`] (with [`Self::compute_c`] in between when a second worker computes the
    /// `A`/`B` sums meanwhile).
    pub fn begin_code(&self, witness: &Witness, request: &ProveRequest) -> Result<PendingCode, ProveError> {
        let policy = self.policy();
        let (verdict, explanation) = explain(policy, witness, request.now)?;
        if let Some(claimed) = request.claim {
            if claimed != verdict.colour {
                return Err(ProveError::ColourNotGiven { claimed, actual: verdict.colour });
            }
        }
        let head = request.head;
        let age = request.now.saturating_sub(head.issued_at);
        if age > policy.max_root_age {
            return Err(ProveError::StaleHead { epoch: head.epoch, age, max: policy.max_root_age });
        }
        if witness.path.siblings.len() != tree::LEVELS {
            return Err(ProveError::PathShape(witness.path.siblings.len()));
        }
        // `Witness::leaf` packs the state, which the evaluator has range-checked above.
        if witness.path.root(witness.leaf(), witness.leaf_index) != head.root {
            return Err(ProveError::NotInTree { epoch: head.epoch });
        }

        let mut witness = witness.clone();
        witness.bind = request.bind;
        let public = PublicInputs {
            root: head.root,
            now: request.now,
            colour: verdict.colour,
            challenge: request.challenge,
            binding_tag: witness.binding_tag(request.challenge),
        };
        let assignment = self.assign(public, witness)?;
        Ok(PendingCode {
            assignment,
            public,
            verdict,
            explanation,
            head,
            bind: request.bind,
            challenge: request.challenge,
        })
    }

    /// [`Self::compute_c`] for a pending code.
    pub fn compute_code_c(&self, pending: &mut PendingCode) {
        self.compute_c(&mut pending.assignment);
    }

    /// Proves a pending code, with its `A`/`B` sums from a second worker or computed here, and
    /// checks the proof before it becomes a code.
    pub fn finish_code<R: RngCore + CryptoRng>(
        &self,
        pending: PendingCode,
        ab: Option<AbSums>,
        rng: &mut R,
    ) -> Result<Proved, ProveError> {
        let PendingCode { assignment, public, verdict, explanation, head, bind, challenge } = pending;
        let policy = self.policy();
        let proof = self.prove_assigned(assignment, ab, rng)?;
        // A few milliseconds that spare the holder a code every gate would refuse: a proving key
        // altered on some query points proves, but not validly.
        if !self.self_check(&proof, &public) {
            return Err(ProveError::BrokenBundle);
        }
        let mut policy_prefix = [0u8; POLICY_PREFIX_BYTES];
        policy_prefix.copy_from_slice(&policy.digest()[..POLICY_PREFIX_BYTES]);
        let payload = Payload {
            policy_prefix,
            epoch: head.epoch,
            now: public.now,
            colour: verdict.colour,
            // A bound code does not carry its challenge (the checkpoint's secret nonce).
            challenge: (!bind).then_some(challenge),
            binding_tag: bind.then_some(public.binding_tag),
            proof,
        };
        payload.encode()?;
        Ok(Proved { payload, public, verdict, explanation })
    }
}

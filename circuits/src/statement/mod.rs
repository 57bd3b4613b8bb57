//! The statement of docs/protocol.md as an R1CS circuit generated from a policy:
//!
//! > under policy P, the holder of a leaf in registry root R has colour C at time `now`,
//! > and the binding tag is H(id_hash, challenge) when binding is on, 0 otherwise.
//!
//! The policy is compiled into the constraints, so each policy has its own keys; see
//! [`CircuitInfo`] for the digest anyone can recompute from the policy alone.

mod compile;
mod digest;
mod inputs;
pub mod sample;

pub use digest::{circuit_info, info_of, matrices, CircuitInfo, Matrices, CIRCUIT_DIGEST_DOMAIN};
pub use inputs::{PublicInputs, PUBLIC_INPUTS};

use crate::hashes::{self, gadget as hash};
use crate::policy::Policy;
use crate::state::{self, gadget::pack};
use crate::time::gadget::TimeVar;
use crate::tree::{self, MerklePath, INDEX_BITS};
use ark_bn254::Fr;
use ark_r1cs_std::{
    alloc::AllocVar,
    boolean::Boolean,
    eq::EqGadget,
    fields::{fp::FpVar, FieldVar},
};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
use std::fmt;

/// What only the holder's device knows. `Debug` is redacted (docs/soundness.md §14).
#[derive(Clone, PartialEq, Eq)]
pub struct Witness {
    /// The holder secret generated on the device.
    pub sk: Fr,
    /// Hash of the identity document number (recomputable by a checkpoint holding the document).
    pub id_hash: Fr,
    /// Latest time per event kind, in the policy's `events` order; 0 = never.
    pub state: Vec<u64>,
    pub leaf_index: u32,
    pub path: MerklePath,
    /// Whether the code binds the holder's identity to the challenge.
    pub bind: bool,
}

impl fmt::Debug for Witness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Witness { <redacted> }")
    }
}

impl Witness {
    /// The leaf this witness opens, computed natively as the registry does.
    pub fn leaf(&self) -> Fr {
        let cm = hashes::commitment(hashes::public_key(self.sk), self.id_hash);
        hashes::leaf(cm, &state::pack(&self.state))
    }

    /// The binding tag this witness gives for `challenge` (0 when binding is off).
    pub fn binding_tag(&self, challenge: Fr) -> Fr {
        if self.bind {
            hashes::binding_tag(self.id_hash, challenge)
        } else {
            Fr::from(0u64)
        }
    }
}

/// The health-code circuit for one policy. Without public inputs and witness it only describes
/// the constraints (key generation, digests).
#[derive(Clone)]
pub struct HealthCodeCircuit<'a> {
    pub policy: &'a Policy,
    pub public: Option<PublicInputs>,
    pub witness: Option<Witness>,
}

impl<'a> HealthCodeCircuit<'a> {
    pub fn for_setup(policy: &'a Policy) -> Self {
        Self { policy, public: None, witness: None }
    }

    pub fn new(policy: &'a Policy, public: PublicInputs, witness: Witness) -> Self {
        Self { policy, public: Some(public), witness: Some(witness) }
    }
}

fn get<T: Clone, U>(o: &Option<T>, f: impl FnOnce(&T) -> U) -> Result<U, SynthesisError> {
    o.as_ref().map(f).ok_or(SynthesisError::AssignmentMissing)
}

impl ConstraintSynthesizer<Fr> for HealthCodeCircuit<'_> {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let (p, w) = (&self.public, &self.witness);

        // Public inputs, in the order of `PublicInputs::to_field_elements`.
        // 1. root: the registry root of a signed tree head.
        let root = FpVar::new_input(cs.clone(), || get(p, |p| p.root))?;
        // 2. now: the time the colour is claimed at (range-checked below).
        let now = FpVar::new_input(cs.clone(), || get(p, |p| Fr::from(p.now)))?;
        // 3. colour: 0 green, 1 yellow, 2 red.
        let colour = FpVar::new_input(cs.clone(), || get(p, |p| Fr::from(p.colour.code())))?;
        // 4. challenge: the checkpoint's venue code or time slot.
        let challenge = FpVar::new_input(cs.clone(), || get(p, |p| p.challenge))?;
        // 5. binding tag: H(id_hash, challenge), or 0 without identity binding.
        let tag = FpVar::new_input(cs.clone(), || get(p, |p| p.binding_tag))?;

        // Witness.
        let sk = FpVar::new_witness(cs.clone(), || get(w, |w| w.sk))?;
        let id_hash = FpVar::new_witness(cs.clone(), || get(w, |w| w.id_hash))?;
        if let Some(w) = w {
            if w.state.len() != self.policy.events.len() {
                return Err(SynthesisError::Unsatisfiable);
            }
        }
        let times = (0..self.policy.events.len())
            .map(|k| TimeVar::new_witness(cs.clone(), || get(w, |w| w.state[k])))
            .collect::<Result<Vec<_>, _>>()?;
        let index_bits = (0..INDEX_BITS)
            .map(|i| Boolean::new_witness(cs.clone(), || get(w, |w| (w.leaf_index >> i) & 1 == 1)))
            .collect::<Result<Vec<_>, _>>()?;
        let siblings = (0..tree::LEVELS)
            .map(|level| {
                let s = |k: usize| FpVar::new_witness(cs.clone(), || get(w, |w| w.path.siblings[level][k]));
                Ok([s(0)?, s(1)?, s(2)?])
            })
            .collect::<Result<Vec<_>, SynthesisError>>()?;
        let bind = Boolean::new_witness(cs.clone(), || get(w, |w| w.bind))?;
        if let Some(w) = w {
            if w.path.siblings.len() != tree::LEVELS {
                return Err(SynthesisError::Unsatisfiable);
            }
        }

        // 1. The holder's leaf is in the tree under `root`.
        let pk = hash::public_key(&sk)?;
        let commitment = hash::commitment(&pk, &id_hash)?;
        let leaf = hash::leaf(&commitment, &pack(&times))?;
        tree::gadget::root(&leaf, &index_bits, &siblings)?.enforce_equal(&root)?;

        // 2. `now` is range-checked like every state time (those are built from 40 bits).
        let now = TimeVar::from_var(cs.clone(), &now)?;

        // 3. The public colour is the one the compiled rules give.
        compile::colour(self.policy, &times, &now)?.enforce_equal(&colour)?;

        // 4. The binding tag: bind · H(id_hash, challenge). Computing the hash unconditionally
        //    also ties `challenge` into the constraints when binding is off.
        let bound = hash::binding_tag(&id_hash, &challenge)?;
        FpVar::from(bind).mul_equals(&bound, &tag)?;
        Ok(())
    }
}

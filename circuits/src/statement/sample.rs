//! Synthetic holders: a witness for a made-up holder alone in an otherwise empty tree. The auditor
//! proves with these to show the circuit and the reference evaluator agree, and tests use them.

use super::{HealthCodeCircuit, PublicInputs, Witness};
use crate::hashes;
use crate::policy::{Colour, Policy};
use crate::tree::SparseTree;
use ark_bn254::Fr;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, SynthesisError};

/// A synthetic holder at `leaf_index` with `state`, and public inputs claiming `colour` at `now`
/// for a fixed challenge.
pub fn synthetic(
    state: Vec<u64>,
    now: u64,
    colour: Colour,
    leaf_index: u32,
    bind: bool,
) -> (PublicInputs, Witness) {
    let mut witness = Witness {
        sk: Fr::from(0x5EC2E7_u64),
        id_hash: hashes::id_hash("SYNTHETIC-0001"),
        state,
        leaf_index,
        path: Default::default(),
        bind,
    };
    let mut tree = SparseTree::new();
    tree.set_leaf(leaf_index, witness.leaf());
    witness.path = tree.path(leaf_index);
    let challenge = hashes::challenge("audit");
    let public = PublicInputs {
        root: tree.root(),
        now,
        colour,
        challenge,
        binding_tag: witness.binding_tag(challenge),
    };
    (public, witness)
}

/// Whether the policy's circuit is satisfied by these inputs. A witness the circuit cannot even
/// express (a time of 2^40 or more) counts as not satisfied.
pub fn is_satisfied(policy: &Policy, public: PublicInputs, witness: Witness) -> Result<bool, SynthesisError> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    match HealthCodeCircuit::new(policy, public, witness).generate_constraints(cs.clone()) {
        Ok(()) => {}
        Err(SynthesisError::Unsatisfiable) => return Ok(false),
        Err(e) => return Err(e),
    }
    // No `finalize`: satisfaction is checked on the symbolic LCs directly, which is what
    // `finalize` would inline; it saves most of the synthesis time. Each predicate is asked
    // directly because `ConstraintSystem::is_satisfied` prints to stderr for every unsatisfied
    // system when no tracing layer is installed, and the auditor checks thousands of them.
    let cs = cs.borrow().ok_or(SynthesisError::MissingCS)?;
    Ok(cs.predicate_constraint_systems.values().all(|p| p.which_constraint_is_unsatisfied(&cs).is_none()))
}

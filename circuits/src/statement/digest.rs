//! The circuit digest: a hash of the constraint matrices, recomputable from the policy alone.
//! Keys carry it, so a key for another circuit is refused (SOUNDNESS row 8).

use super::{HealthCodeCircuit, PUBLIC_INPUTS};
use crate::field;
use crate::policy::Policy;
use ark_bn254::Fr;
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, SynthesisError, SynthesisMode,
    R1CS_PREDICATE_LABEL,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Domain prefix of the circuit digest.
pub const CIRCUIT_DIGEST_DOMAIN: &[u8] = b"healthcode/circuit/v1\n";

/// Shape and digest of the circuit compiled from one policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CircuitInfo {
    pub constraints: usize,
    /// Public inputs of the statement (not counting the constant 1).
    pub public_inputs: usize,
    pub witnesses: usize,
    /// Hex SHA-256 over the domain, the three counts and the A, B, C matrices row by row
    /// (`u64` row length, then `(32-byte big-endian coefficient, u64 column)` per entry).
    pub digest: String,
}

/// Synthesises the policy's circuit exactly as key generation does (setup mode, LCs inlined)
/// and hashes its matrices.
pub fn circuit_info(policy: &Policy) -> Result<CircuitInfo, SynthesisError> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Setup);
    HealthCodeCircuit::for_setup(policy).generate_constraints(cs.clone())?;
    cs.finalize();
    let matrices = cs.to_matrices()?;
    let r1cs = &matrices[R1CS_PREDICATE_LABEL];

    let public_inputs = cs.num_instance_variables() - 1;
    assert_eq!(public_inputs, PUBLIC_INPUTS, "the statement has five public inputs");
    let mut h = Sha256::new();
    h.update(CIRCUIT_DIGEST_DOMAIN);
    for n in [cs.num_constraints(), cs.num_instance_variables(), cs.num_witness_variables()] {
        h.update((n as u64).to_le_bytes());
    }
    for m in r1cs {
        for row in m {
            h.update((row.len() as u64).to_le_bytes());
            for (coeff, col) in row {
                h.update(field::to_bytes(coeff));
                h.update((*col as u64).to_le_bytes());
            }
        }
    }
    Ok(CircuitInfo {
        constraints: cs.num_constraints(),
        public_inputs,
        witnesses: cs.num_witness_variables(),
        digest: hex::encode(h.finalize()),
    })
}

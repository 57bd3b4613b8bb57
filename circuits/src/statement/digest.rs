//! The circuit digest: a hash of the constraint matrices, recomputable from the policy alone.
//! Keys carry it, so a key for another circuit is refused (docs/soundness.md §8).

use super::{HealthCodeCircuit, PUBLIC_INPUTS};
use crate::field;
use crate::policy::Policy;
use ark_bn254::Fr;
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, Matrix, OptimizationGoal, SynthesisError, SynthesisMode,
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

/// The circuit's R1CS as key generation sees it (setup mode, linear combinations inlined): what
/// the digest hashes and what the ceremony's `.r1cs` export writes.
#[derive(Clone, Debug)]
pub struct Matrices {
    /// The constant 1 and the public inputs, in allocation order.
    pub instance_variables: usize,
    pub witness_variables: usize,
    /// `[A, B, C]`, one row per constraint, each row `(coefficient, variable index)`.
    pub r1cs: [Matrix<Fr>; 3],
}

impl Matrices {
    pub fn constraints(&self) -> usize {
        self.r1cs[0].len()
    }

    pub fn variables(&self) -> usize {
        self.instance_variables + self.witness_variables
    }
}

/// Synthesises the policy's circuit exactly as key generation does.
pub fn matrices(policy: &Policy) -> Result<Matrices, SynthesisError> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Setup);
    HealthCodeCircuit::for_setup(policy).generate_constraints(cs.clone())?;
    cs.finalize();
    let mut all = cs.to_matrices()?;
    let r1cs = all.remove(R1CS_PREDICATE_LABEL).ok_or(SynthesisError::Unsatisfiable)?;
    let [a, b, c]: [Matrix<Fr>; 3] = r1cs.try_into().map_err(|_| SynthesisError::Unsatisfiable)?;
    Ok(Matrices {
        instance_variables: cs.num_instance_variables(),
        witness_variables: cs.num_witness_variables(),
        r1cs: [a, b, c],
    })
}

/// Synthesises the policy's circuit and hashes its matrices.
pub fn circuit_info(policy: &Policy) -> Result<CircuitInfo, SynthesisError> {
    Ok(info_of(&matrices(policy)?))
}

/// The [`CircuitInfo`] of already synthesised matrices.
pub fn info_of(m: &Matrices) -> CircuitInfo {
    let public_inputs = m.instance_variables - 1;
    assert_eq!(public_inputs, PUBLIC_INPUTS, "the statement has five public inputs");
    let mut h = Sha256::new();
    h.update(CIRCUIT_DIGEST_DOMAIN);
    for n in [m.constraints(), m.instance_variables, m.witness_variables] {
        h.update((n as u64).to_le_bytes());
    }
    for side in &m.r1cs {
        for row in side {
            h.update((row.len() as u64).to_le_bytes());
            for (coeff, col) in row {
                h.update(field::to_bytes(coeff));
                h.update((*col as u64).to_le_bytes());
            }
        }
    }
    CircuitInfo {
        constraints: m.constraints(),
        public_inputs,
        witnesses: m.witness_variables,
        digest: hex::encode(h.finalize()),
    }
}

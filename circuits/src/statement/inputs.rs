//! The public inputs: one function lays them out for prover and verifier alike (docs/soundness.md §5).

use crate::policy::Colour;
use ark_bn254::Fr;

/// Number of public inputs of the statement.
pub const PUBLIC_INPUTS: usize = 5;

/// The public side of a health code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicInputs {
    /// Root of the registry tree in a signed head.
    pub root: Fr,
    /// Unix seconds the colour is claimed at; below 2^40.
    pub now: u64,
    pub colour: Colour,
    /// The checkpoint's challenge (venue code or time slot), as a field element.
    pub challenge: Fr,
    /// `H(id_hash, challenge)` with identity binding, else 0.
    pub binding_tag: Fr,
}

impl PublicInputs {
    /// `[root, now, colour, challenge, binding_tag]`: the order the circuit allocates them in.
    pub fn to_field_elements(&self) -> Vec<Fr> {
        vec![self.root, Fr::from(self.now), Fr::from(self.colour.code()), self.challenge, self.binding_tag]
    }
}

//! The four hashes of the protocol, each in its own domain (docs/soundness.md §12): a holder's public
//! key and commitment, a registry leaf, a tree node and the identity-binding tag.
//!
//! The domain constant goes into Poseidon's capacity element (see [`crate::poseidon`]); 0 is left
//! to plain circomlib `Poseidon`, so none of our hashes coincides with an undomained one.

pub mod gadget;

use crate::poseidon::native::{hash, hash4_many};
use ark_bn254::Fr;
use ark_ff::PrimeField;
use sha2::{Digest, Sha256};

/// Poseidon capacity values, one per purpose.
pub mod domain {
    /// `pk = H(sk, 0)`: the holder's public key, derived on the device.
    pub const PUBLIC_KEY: u64 = 1;
    /// `commitment = H(pk, id_hash)`: what the registry stores at enrolment.
    pub const COMMITMENT: u64 = 2;
    /// `leaf = H(commitment, state words…)`.
    pub const LEAF: u64 = 3;
    /// `node = H(child₀, child₁, child₂, child₃)` in the arity-4 registry tree.
    pub const NODE: u64 = 4;
    /// `tag = H(id_hash, challenge)`: identity binding towards one checkpoint challenge.
    pub const BINDING_TAG: u64 = 5;
}

/// Number of field elements the holder state is packed into in a leaf.
pub const STATE_WORDS: usize = 3;

pub fn public_key(sk: Fr) -> Fr {
    hash(domain::PUBLIC_KEY.into(), &[sk, Fr::from(0u64)])
}

pub fn commitment(pk: Fr, id_hash: Fr) -> Fr {
    hash(domain::COMMITMENT.into(), &[pk, id_hash])
}

pub fn leaf(commitment: Fr, words: &[Fr; STATE_WORDS]) -> Fr {
    hash(domain::LEAF.into(), &[commitment, words[0], words[1], words[2]])
}

pub fn node(children: &[Fr; 4]) -> Fr {
    hash(domain::NODE.into(), children)
}

/// [`leaf`] of each `(commitment, words)`, in order (batched: see [`hash4_many`]).
pub fn leaf_many(leaves: &[(Fr, [Fr; STATE_WORDS])]) -> Vec<Fr> {
    let inputs: Vec<[Fr; 4]> = leaves.iter().map(|(c, w)| [*c, w[0], w[1], w[2]]).collect();
    hash4_many(domain::LEAF.into(), &inputs)
}

/// [`node`] of each set of children, in order (batched: see [`hash4_many`]).
pub fn node_many(children: &[[Fr; 4]]) -> Vec<Fr> {
    hash4_many(domain::NODE.into(), children)
}

pub fn binding_tag(id_hash: Fr, challenge: Fr) -> Fr {
    hash(domain::BINDING_TAG.into(), &[id_hash, challenge])
}

/// Maps text to a field element: SHA-256 of a domain label and the text, truncated to 248 bits so
/// the result is canonical without reduction.
fn text_to_field(label: &[u8], text: &str) -> Fr {
    let digest = Sha256::new().chain_update(label).chain_update(text.as_bytes()).finalize();
    Fr::from_be_bytes_mod_order(&digest[..31])
}

/// `id_hash` of an identity document number: a checkpoint holding the document recomputes it to
/// check an identity-bound code.
pub fn id_hash(document_number: &str) -> Fr {
    text_to_field(b"healthcode/id/v1\n", document_number.trim())
}

/// The challenge field element of a checkpoint's venue code or time-slot label.
pub fn challenge(text: &str) -> Fr {
    text_to_field(b"healthcode/challenge/v1\n", text)
}

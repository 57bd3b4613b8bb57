//! The health-code statement: the policy language and its reference evaluator, the hashes and
//! registry tree shared with the registry, and the circuit compiled from a policy.
//!
//! Every gadget sits next to its native twin (`foo/mod.rs` and `foo/gadget.rs`); the tests check
//! that each pair agrees.

pub mod field;
pub mod hashes;
pub mod policy;
pub mod poseidon;
pub mod state;
pub mod statement;
pub mod time;
pub mod tree;

pub use ark_bn254::Fr;

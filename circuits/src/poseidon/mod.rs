//! Poseidon over BN254's scalar field, the instance circomlib uses (x^5 S-box, 8 full rounds,
//! 57 partial rounds at width 3 and 60 at width 5), so every hash here can be checked against an
//! independent implementation (`circomlibjs`, see `tests/vectors/poseidon.json`).
//!
//! Domain separation uses the *capacity* element: circomlib's `PoseidonEx(inputs, initialState)`
//! starts from `[initialState, inputs…]`, and we put a per-purpose domain constant there. That
//! separates the commitment, leaf, node and tag hashes without spending an input slot.
//!
//! `native` and `gadget` are twins: the same permutation, once on field elements and once in R1CS.

pub mod gadget;
#[cfg(target_arch = "x86_64")]
mod ifma;
pub mod native;
mod params;

pub use params::{params, PoseidonParams, WIDTH_2, WIDTH_4};

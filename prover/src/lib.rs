//! The citizen side of verifiable health codes: single-party setup (development only) and
//! on-device proving of a colour, with the reason for it.
//!
//! Formats shared with checkpoints (payload, key files, bundle manifest) live in
//! `healthcode-verifier`, which this crate re-exports as [`verifier`].
//!
//! Typical use on a device: [`ProverBundle::load`] (≈ 10 ms: uncompressed, hash-pinned proving
//! key), [`ProverBundle::prover`] once (≈ 75 ms: the constraint matrices), then
//! [`Prover::prove_code`] per code (≈ 350–450 ms for the 6,309-constraint example policy on the
//! shared 2-core development machine, dominated by the G2 and G1 multi-scalar multiplications;
//! `benches/prove.rs`, `examples/cpu_time.rs`).
//!
//! The `parallel` feature turns on arkworks' rayon code paths. On the shared 2-core development
//! machine it gained nothing measurable (no idle core), so it is off by default; enable it for
//! phones and laptops with idle cores.

pub mod bundle;
pub mod engine;
pub mod explain;
pub mod fixtures;
pub mod msm;
pub mod prove;
pub mod setup;

pub use bundle::ProverBundle;
pub use engine::Prover;
pub use explain::{EventTime, Explanation};
pub use healthcode_verifier as verifier;
pub use prove::{explain, groth16_prove, prove, ProveError, ProveRequest, Proved};
pub use setup::{encode_bundle, generate_keys, setup, EncodedBundle, Keys, SetupError};

use healthcode_circuits::statement::CircuitInfo;

/// The circuit digest of `info` as bytes (it is hex in `CircuitInfo`).
pub fn circuit_digest_bytes(info: &CircuitInfo) -> [u8; 32] {
    healthcode_verifier::bundle::parse_digest(&info.digest).expect("circuit_info produces a hex SHA-256")
}

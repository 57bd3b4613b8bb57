//! The citizen side of verifiable health codes: single-party setup (development only) and
//! on-device proving of a colour, with the reason for it.
//!
//! Formats shared with checkpoints (payload, key files, bundle manifest) live in
//! `healthcode-verifier`, which this crate re-exports as [`verifier`].
//!
//! Typical use on a device: [`ProverBundle::load`] (≈ 10 ms: uncompressed, hash-pinned proving
//! key), [`ProverBundle::prover`] (≈ 1 ms: compacts the key's queries; no constraint matrices are
//! ever built), then [`Prover::prove_code`] (≈ 205 ms CPU for the 6,309-constraint example policy
//! on the 2-core development machine, nine tenths of it in the G1 and G2 multi-scalar
//! multiplications of [`msm`]). `scripts/compare-peers.sh` measures it end to end against the peer
//! provers; `docs/performance.md` says where the time goes.
//!
//! The `parallel` feature (on by default) runs the MSMs' windows, the FFTs and the verifier's
//! Miller loops on all cores with rayon; `RAYON_NUM_THREADS` caps the threads, and
//! `--no-default-features` builds the single-threaded prover.

pub mod ab_queries;
pub mod bundle;
pub mod engine;
pub mod explain;
pub mod fixtures;
pub mod glv;
pub mod msm;
pub mod prove;
pub mod reduction;
pub mod setup;

pub use ab_queries::{AbQueries, AbSums};
pub use bundle::ProverBundle;
pub use engine::{Assignment, Prover};
pub use explain::{EventTime, Explanation};
pub use healthcode_verifier as verifier;
pub use prove::{explain, groth16_prove, prove, PendingCode, ProveError, ProveRequest, Proved};
pub use setup::{encode_bundle, generate_keys, setup, EncodedBundle, Keys, SetupError};

use healthcode_circuits::statement::CircuitInfo;

/// The circuit digest of `info` as bytes (it is hex in `CircuitInfo`).
pub fn circuit_digest_bytes(info: &CircuitInfo) -> [u8; 32] {
    healthcode_verifier::bundle::parse_digest(&info.digest).expect("circuit_info produces a hex SHA-256")
}

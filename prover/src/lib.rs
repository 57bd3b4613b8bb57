//! The citizen side of verifiable health codes: single-party setup (development only) and
//! on-device proving of a colour, with the reason for it.
//!
//! Formats shared with checkpoints (payload, key files, bundle manifest) live in
//! `healthcode-verifier`, which this crate re-exports as [`verifier`].
//!
//! Typical use on a device: [`ProverBundle::load`] (≈ 10 ms: uncompressed, hash-pinned proving
//! key), [`ProverBundle::prover`] (≈ 1 ms: compacts the key's queries; no constraint matrices are
//! ever built), then [`Prover::prove_code`] (≈ 240 ms CPU for the 6,309-constraint example policy
//! on the shared 2-core development machine, four fifths of it in the G1 and G2 multi-scalar
//! multiplications of [`msm`]). `scripts/compare-peers.sh` measures it end to end against the peer
//! provers; `docs/performance.md` says where the time goes.
//!
//! The `parallel` feature turns on rayon: MSM windows, FFTs and Miller loops run on all cores. It
//! is off by default because on a machine whose cores are busy it only adds overhead; phones and
//! laptops with idle cores should enable it (`RAYON_NUM_THREADS` caps the threads).

pub mod bundle;
pub mod engine;
pub mod explain;
pub mod fixtures;
pub mod glv;
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

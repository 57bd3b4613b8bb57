//! The C2SP transparency-log formats the registry and gates speak, so that any tlog client, witness or
//! monitor can check our log:
//!
//! - [signed-note](https://c2sp.org/signed-note) and [tlog-checkpoint](https://c2sp.org/tlog-checkpoint)
//!   (through Cloudflare's `signed_note` and `tlog_tiles` crates) — [`keys`], [`checkpoint`];
//! - [tlog-tiles](https://c2sp.org/tlog-tiles) with RFC 6962 proofs — [`tiles`], [`merkle`];
//! - [tlog-cosignature](https://c2sp.org/tlog-cosignature) v1 (type `0x04`) — [`cosignature`];
//! - [tlog-witness](https://c2sp.org/tlog-witness) `add-checkpoint` — [`witness`];
//! - a gate's trust policy: the log's key plus a quorum of witnesses — [`trust`].

pub mod checkpoint;
pub mod cosignature;
pub mod keys;
pub mod merkle;
pub mod tiles;
pub mod trust;
pub mod witness;

pub use checkpoint::{merge_cosignatures, Checkpoint, CheckpointError};
pub use cosignature::{Cosignature, CosignatureVerifier};
pub use keys::{CosignerKey, LogKey, Vkey};
pub use merkle::{verify_consistency, verify_inclusion, LogError, EMPTY_ROOT};
pub use tiles::{TilePath, TiledLog};
pub use trust::{TrustPolicy, VerifiedCheckpoint};
pub use witness::{add_checkpoint_request, AddCheckpointRequest, Witness, WitnessError};

/// A SHA-256 Merkle tree hash (RFC 6962).
pub type Hash = [u8; 32];

/// Most signatures a note may carry (signed-note says verifiers must accept at least 16).
pub const MAX_NOTE_SIGNATURES: usize = 100;
/// Largest signed note accepted, in bytes.
pub const MAX_NOTE_BYTES: usize = 1 << 20;
/// Largest `add-checkpoint` request body, in bytes.
pub const MAX_ADD_CHECKPOINT_BYTES: usize = 64 << 10;
/// Most consistency-proof lines tlog-witness lets a client send.
pub const MAX_WITNESS_PROOF_HASHES: usize = 63;
/// Most hashes in any RFC 6962 proof: a tree of at most 2^64 - 1 leaves is at most 64 levels deep.
pub const MAX_PROOF_HASHES: usize = 64;

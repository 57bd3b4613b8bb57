//! The checkpoint side of verifiable health codes, and the formats both sides share.
//!
//! * [`payload`]: the health code's binary payload and text form;
//! * [`qr`]: QR rendering (PNG, SVG, terminal) and reading from images;
//! * [`keyfile`]: key files whose header names the circuit the key was made for;
//! * [`bundle`]: the policy bundle directory and its manifest;
//! * [`input`]: bounded reads of outside files;
//! * [`checkpoint`]: offline verification of one code or a queue of codes against trusted heads.
//!
//! The prover crate depends on this one (for the payload and file formats); this crate never
//! depends on the proving code, so a checkpoint build carries none of it.

pub mod bundle;
pub mod challenge;
pub mod checkpoint;
pub mod fixed_base;
pub mod input;
pub mod keycheck;
pub mod keyfile;
pub mod payload;
pub mod qr;
pub mod when;

pub use bundle::{BundleError, Manifest, VerifierBundle};
pub use checkpoint::{
    batch_check, superseded, Checkpoint, CheckpointError, Invalid, Posted, ProofCheckError, TrustedHead,
};
pub use healthcode_circuits::policy::Colour;
pub use payload::{Payload, PayloadError, TEXT_PREFIX};
pub use qr::{decode_image, read_image, HealthQr, QrError};

//! The health-code registry: accredited signers, enrolled holders, signed test and contact
//! events, the Poseidon holder tree whose roots the citizen's proof opens, an RFC 9162 log of
//! everything accepted, and signed tree heads per epoch. See `README.md`.
//!
//! Entry points: [`Registry`] (operator side), [`WitnessFile::statement_witness`] (prover side),
//! [`SignedHead::verify`] and [`head::verify_chain`] (checkpoints, holders), [`audit::replay`],
//! [`export::LogExport`] (the public record, without the database) and [`log`]'s verifiers
//! (auditors).

pub mod audit;
pub mod event;
#[cfg(feature = "db")]
pub mod export;
pub mod head;
pub mod history;
pub mod holder;
pub mod log;
pub mod receipt;
#[cfg(feature = "db")]
pub mod registry;
#[cfg(feature = "db")]
pub mod store;
pub mod witness;

pub use event::{Entry, EntryBody, Event, Retraction, Role, SignedEvent, SignedRetraction};
#[cfg(feature = "db")]
pub use export::LogExport;
pub use head::SignedHead;
pub use history::{History, InclusionProof};
pub use holder::HolderFile;
#[cfg(feature = "db")]
pub use registry::{
    AuditorInfo, CheckedEvent, ConsistencyProof, PublishHooks, PublishStep, Refusal, Registry, RegistryError,
    SignerInfo,
};
pub use witness::WitnessFile;

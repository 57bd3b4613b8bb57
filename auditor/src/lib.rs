//! The auditor: checks, from public artefacts only, that the keys checkpoints use belong to the
//! circuit compiled from the published policy, that this circuit means what the policy says, and
//! that every registry root is explained by signed events from accredited signers.

pub mod circuit;
pub mod registry;
pub mod report;
pub mod semantic;

pub use report::{Check, Report};

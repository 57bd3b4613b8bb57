//! The JSON bodies of the registry service, shared by the server and its clients so the two
//! cannot drift. Registry values (signed events, heads, witnesses, receipts) keep the JSON form
//! the command-line files already use.

use healthcode_registry::receipt::Receipt;
#[cfg(feature = "server")]
use healthcode_registry::Refusal;
use healthcode_registry::{Role, SignedHead};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Paths of the registry service, one place for the server's router and the clients.
pub mod path {
    pub const HEALTHZ: &str = "/healthz";
    pub const METRICS: &str = "/metrics";
    pub const OPENAPI: &str = "/openapi.json";
    pub const EVENTS: &str = "/v1/events";
    pub const RETRACTIONS: &str = "/v1/retractions";
    pub const HEAD_LATEST: &str = "/v1/heads/latest";
    pub const HEADS: &str = "/v1/heads";
    pub const CHECKPOINT: &str = "/checkpoint";
    pub const TILE_PREFIX: &str = "/tile/";
    pub const HOLDER_WITNESS: &str = "/v1/holder/witness";
    pub const HOLDER_HISTORY: &str = "/v1/holder/history";
    pub const OPERATOR_SIGNERS: &str = "/v1/operator/signers";
    pub const OPERATOR_SIGNER_REVOKE: &str = "/v1/operator/signers/revoke";
    pub const OPERATOR_HOLDERS: &str = "/v1/operator/holders";
    pub const OPERATOR_AUDITORS: &str = "/v1/operator/auditors";
    pub const OPERATOR_PUBLISH: &str = "/v1/operator/publish";
    pub const AUDITOR_ENTRIES: &str = "/v1/auditor/entries";
    /// The witness's one endpoint (tlog-witness).
    pub const ADD_CHECKPOINT: &str = "/add-checkpoint";
}

/// At most this many events in one POST (and this many heads or log entries in one answer).
pub const MAX_BATCH: usize = 1000;
/// Largest request body the service reads (a full batch of events is ~600 KB of JSON).
pub const MAX_BODY: usize = 1 << 20;

/// Every refusal: a stable machine-readable `error` code and a sentence for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
    pub reason: String,
}

/// One event's outcome in a batch: its receipt, or why it was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    #[schema(value_type = Object)]
    Accepted(Box<Receipt>),
    Refused(ErrorBody),
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchResponse {
    pub results: Vec<Verdict>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddSigner {
    pub name: String,
    #[schema(value_type = String)]
    pub role: Role,
    /// Ed25519 public key, 64 hex digits.
    pub key: String,
    /// Unix seconds from which its signatures count.
    pub accredited_from: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeSigner {
    pub name: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Enrol {
    /// The holder's commitment (0x-hex field element), made on her device.
    pub commitment: String,
    /// Her device key (64 hex digits): `HolderFile::device_key`, which authenticates her reads.
    pub device_key: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Enrolled {
    pub leaf_index: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddAuditor {
    pub name: String,
    /// Ed25519 public key, 64 hex digits.
    pub key: String,
}

/// A head with the proof that it is entry `head.epoch` of the head log under a checkpoint.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ProvenHead {
    #[schema(value_type = Object)]
    pub head: SignedHead,
    /// Inclusion proof (hex hashes) of the head's entry in the head log of `checkpoint_size`.
    pub proof: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RecentHeads {
    /// The cosigned checkpoint (signed note) the proofs are against.
    pub checkpoint: String,
    pub checkpoint_size: u64,
    pub heads: Vec<ProvenHead>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Entries {
    pub start: u64,
    /// Binary log entries, hex.
    pub entries: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub epoch: u64,
    pub queue: u64,
}

/// A stable code per refusal, for clients that act on it.
#[cfg(feature = "server")]
pub fn refusal_code(r: &Refusal) -> &'static str {
    match r {
        Refusal::BadSignature => "bad_signature",
        Refusal::WrongRegistry => "wrong_registry",
        Refusal::UnknownSigner(_) => "unknown_signer",
        Refusal::SignerRevoked { .. } => "signer_revoked",
        Refusal::SignerNotYetAccredited { .. } => "signer_not_yet_accredited",
        Refusal::RoleNotAllowed { .. } => "role_not_allowed",
        Refusal::UnknownKind(_) => "unknown_kind",
        Refusal::UnknownHolder(_) => "unknown_holder",
        Refusal::TimeOutOfRange { .. } => "time_out_of_range",
        Refusal::TimeInFuture { .. } => "time_in_future",
        Refusal::TimeTooOld { .. } => "time_too_old",
        Refusal::MissingIndexCase(_) => "missing_index_case",
        Refusal::UnexpectedIndexCase(_) => "unexpected_index_case",
        Refusal::IndexCaseUnknown(_) | Refusal::IndexCaseUnknownOrArchived { .. } => "index_case_unknown",
        Refusal::IndexCaseNotPositive(_) => "index_case_not_positive",
        Refusal::IndexCaseRetracted(_) => "index_case_retracted",
        Refusal::IndexCaseTooOld { .. } => "index_case_too_old",
        Refusal::IndexCaseSameHolder => "index_case_same_holder",
        Refusal::Duplicate(_) => "duplicate",
        Refusal::UnknownEvent(_) => "unknown_event",
        Refusal::NotOriginalSigner(_) => "not_original_signer",
        Refusal::AlreadyRetracted(_) => "already_retracted",
        Refusal::RetractionTooLate { .. } => "retraction_too_late",
        Refusal::DuplicateCommitment(_) => "duplicate_commitment",
        Refusal::RegistryFull => "registry_full",
        Refusal::DuplicateSigner(_) => "duplicate_signer",
        Refusal::BadSignerName => "bad_name",
        Refusal::DuplicateAuditor => "duplicate_auditor",
        Refusal::AuditorRevoked(_) => "auditor_revoked",
    }
}

/// The HTTP status of a refusal: the signer is not allowed (403), the thing exists already
/// (409), or the content is invalid (422).
#[cfg(feature = "server")]
pub fn refusal_status(r: &Refusal) -> u16 {
    match r {
        Refusal::BadSignature
        | Refusal::WrongRegistry
        | Refusal::UnknownSigner(_)
        | Refusal::SignerRevoked { .. }
        | Refusal::SignerNotYetAccredited { .. }
        | Refusal::RoleNotAllowed { .. }
        | Refusal::NotOriginalSigner(_) => 403,
        Refusal::Duplicate(_)
        | Refusal::AlreadyRetracted(_)
        | Refusal::DuplicateCommitment(_)
        | Refusal::DuplicateSigner(_)
        | Refusal::DuplicateAuditor
        | Refusal::AuditorRevoked(_) => 409,
        Refusal::RegistryFull => 507,
        _ => 422,
    }
}

impl ErrorBody {
    pub fn new(error: &str, reason: impl ToString) -> Self {
        Self { error: error.into(), reason: reason.to_string() }
    }

    #[cfg(feature = "server")]
    pub fn refusal(r: &Refusal) -> Self {
        Self::new(refusal_code(r), r)
    }
}

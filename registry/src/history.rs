//! A holder's history: every event about them, who signed it, whether it was retracted, and a
//! proof that it is in the signed log, so a citizen can see and dispute why their code is red.

use crate::event::Role;
use crate::head::SignedHead;
use crate::log::{self, serde_hash, serde_hashes, Hash, ProofError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Inclusion of one log entry in a log of `log_size` entries (RFC 9162 §2.1.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    pub index: u64,
    pub log_size: u64,
    /// The entry's canonical bytes (hex), see [`crate::event::Entry`].
    #[serde(with = "hex_bytes")]
    pub entry: Vec<u8>,
    #[serde(with = "serde_hashes")]
    pub proof: Vec<Hash>,
}

impl InclusionProof {
    /// Checks the proof against a head's log root (verify the head itself first).
    pub fn verify(&self, head: &SignedHead) -> Result<(), ProofError> {
        if head.log_size != self.log_size {
            return Err(ProofError::BadSizes { old: self.log_size, new: head.log_size });
        }
        log::verify_inclusion(
            &log::leaf_hash(&self.entry),
            self.index,
            self.log_size,
            &self.proof,
            &head.log_root,
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEvent {
    #[serde(with = "serde_hash")]
    pub id: Hash,
    pub kind: String,
    pub time: u64,
    /// The accredited signer's name.
    pub signer: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::event::opt_hash")]
    pub index_case: Option<Hash>,
    pub accepted_at: u64,
    pub retracted: bool,
    /// Where the retraction is in the log, once published.
    pub retraction_log_index: Option<u64>,
    /// `None` while the event waits for the next publish.
    pub inclusion: Option<InclusionProof>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    pub leaf_index: u32,
    pub head: SignedHead,
    /// The state in the latest head (absent before the holder's first publish).
    pub state: Option<BTreeMap<String, u64>>,
    pub events: Vec<HistoryEvent>,
}

mod hex_bytes {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        hex::decode(String::deserialize(d)?).map_err(D::Error::custom)
    }
}

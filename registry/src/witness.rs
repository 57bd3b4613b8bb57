//! The witness export: what the registry serves a holder so its device can prove its colour.
//!
//! JSON (version 1):
//! ```json
//! { "version": 1, "leaf_index": 5, "commitment": "0x…",
//!   "state": { "positive_test": 1700000000, "close_contact": 0, … },
//!   "path": { "siblings": [["0x…","0x…","0x…"], … 16 levels, leaf level first] },
//!   "policy": "<hex policy digest>", "head": { …SignedHead… } }
//! ```
//! `state` names every event of the policy (0 = never). The device trusts none of it: it calls
//! [`WitnessFile::statement_witness`], which checks the head's signature against the registry key
//! it was given, the policy digest, the leaf against its own commitment and the path against the
//! signed root.

use crate::head::{HeadError, SignedHead};
use crate::holder::HolderFile;
use crate::log::{serde_hash, Hash};
use ed25519_dalek::VerifyingKey;
use healthcode_circuits::field::serde_fr;
use healthcode_circuits::policy::Policy;
use healthcode_circuits::statement::Witness;
use healthcode_circuits::time::MAX_TIME;
use healthcode_circuits::tree::{MerklePath, LEVELS};
use healthcode_circuits::{hashes, state, Fr};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

pub const WITNESS_VERSION: u32 = 1;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessFile {
    pub version: u32,
    pub leaf_index: u32,
    #[serde(with = "serde_fr")]
    pub commitment: Fr,
    /// Latest time per event kind (0 = never), as of `head`.
    pub state: BTreeMap<String, u64>,
    pub path: MerklePath,
    #[serde(with = "serde_hash")]
    pub policy: Hash,
    pub head: SignedHead,
}

/// Redacted: the state is health data (docs/soundness.md §14).
impl fmt::Debug for WitnessFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WitnessFile {{ leaf_index: {}, epoch: {}, <redacted> }}", self.leaf_index, self.head.epoch)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WitnessError {
    #[error("not a witness file: {0}")]
    Json(String),
    #[error("unsupported witness version {0}")]
    Version(u32),
    #[error("head: {0}")]
    Head(#[from] HeadError),
    #[error("the witness is for another policy than the one given")]
    WrongPolicy,
    #[error("the witness state names `{0}`, which is not an event of the policy")]
    UnknownEvent(String),
    #[error("the witness state lacks the policy event `{0}`")]
    MissingEvent(String),
    #[error("time {1} of `{0}` is out of range")]
    TimeRange(String, u64),
    #[error("the Merkle path has {0} levels, expected {LEVELS}")]
    PathLength(usize),
    #[error("the leaf and path do not lead to the signed root")]
    RootMismatch,
    #[error("the witness is for another holder (commitment differs from the holder file)")]
    WrongHolder,
}

impl WitnessFile {
    pub fn from_json(s: &str) -> Result<Self, WitnessError> {
        let w: Self = serde_json::from_str(s)
            .map_err(|e| WitnessError::Json(crate::holder::redacted_json_error(&e)))?;
        if w.version != WITNESS_VERSION {
            return Err(WitnessError::Version(w.version));
        }
        Ok(w)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a witness serialises")
    }

    /// Checks everything a holder can check without its secret and returns the state in the
    /// policy's event order.
    pub fn check(&self, registry: &VerifyingKey, policy: &Policy) -> Result<Vec<u64>, WitnessError> {
        let digest = policy.digest();
        if self.policy != digest {
            return Err(WitnessError::WrongPolicy);
        }
        self.head.verify(registry, &digest)?;
        for name in self.state.keys() {
            if policy.event_index(name).is_none() {
                return Err(WitnessError::UnknownEvent(name.clone()));
            }
        }
        let mut times = Vec::with_capacity(policy.events.len());
        for name in &policy.events {
            let t = *self.state.get(name).ok_or_else(|| WitnessError::MissingEvent(name.clone()))?;
            if t > MAX_TIME {
                return Err(WitnessError::TimeRange(name.clone(), t));
            }
            times.push(t);
        }
        if self.path.siblings.len() != LEVELS {
            return Err(WitnessError::PathLength(self.path.siblings.len()));
        }
        if !self.opens_head(&times) {
            return Err(WitnessError::RootMismatch);
        }
        Ok(times)
    }

    /// Whether the path from her leaf (the commitment and `times`, the state in the policy's
    /// event order) reaches the head's root: the holder checks it of every witness she gets, and
    /// the registry of every witness before it serves it.
    pub fn opens_head(&self, times: &[u64]) -> bool {
        let leaf = hashes::leaf(self.commitment, &state::pack(times));
        self.path.root(leaf, self.leaf_index) == self.head.root
    }

    /// The prover's input: checks the export (see [`WitnessFile::check`]) and that it is the
    /// holder's own leaf, then joins it with the holder's secret.
    pub fn statement_witness(
        &self,
        holder: &HolderFile,
        registry: &VerifyingKey,
        policy: &Policy,
        bind: bool,
    ) -> Result<Witness, WitnessError> {
        let state = self.check(registry, policy)?;
        if holder.commitment != self.commitment {
            return Err(WitnessError::WrongHolder);
        }
        Ok(Witness {
            sk: holder.sk,
            id_hash: holder.id_hash,
            state,
            leaf_index: self.leaf_index,
            path: self.path.clone(),
            bind,
        })
    }
}

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
    /// Contacts: whether the index case's positive test still stands. A contact whose index case
    /// was retracted should be retracted by its tracer; the holder sees it here to ask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_case_status: Option<IndexCaseStatus>,
    pub accepted_at: u64,
    pub retracted: bool,
    /// Where the retraction is in the log, once published.
    pub retraction_log_index: Option<u64>,
    /// `None` while the event waits for the next publish.
    pub inclusion: Option<InclusionProof>,
}

/// The standing of a contact's index case (its positive test), as the registry holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexCaseStatus {
    /// The positive test is accepted and not retracted.
    Live,
    /// The lab retracted the positive test.
    Retracted,
    /// The positive test was accepted before the archive boundary: its row is gone, its entry
    /// (and any retraction of it) is in the log, and it can no longer be retracted.
    Archived,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    pub leaf_index: u32,
    pub head: SignedHead,
    /// The state in the latest head (absent before the holder's first publish).
    pub state: Option<BTreeMap<String, u64>>,
    pub events: Vec<HistoryEvent>,
    /// Events accepted before this time are archived: not listed here, still in the log, and
    /// still in `state` (0: nothing archived).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub archived_before: u64,
}

fn is_zero(t: &u64) -> bool {
    *t == 0
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

/// One of a holder's events as the public record shows it (see [`from_public_record`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordEvent {
    #[serde(with = "serde_hash")]
    pub id: Hash,
    pub kind: String,
    pub time: u64,
    /// The signer's accredited name, or `None` for a key never accredited in the log.
    pub signer: Option<String>,
    /// The signer's public key (hex).
    pub signer_key: String,
    pub accepted_at: u64,
    /// Where the event is in the log, with its proof against the latest head (checked).
    pub inclusion: InclusionProof,
    /// Where its retraction is in the log, if it was retracted.
    pub retracted_at_entry: Option<u64>,
    /// What the audit replay says against the entry (unbacked events are not in the state).
    pub finding: Option<String>,
}

/// A holder's history rebuilt from the registry's public export: no database needed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordHistory {
    pub leaf_index: u32,
    pub head: SignedHead,
    /// Latest time per event kind, in the policy's order, as replayed from the log.
    pub state: BTreeMap<String, u64>,
    pub events: Vec<RecordEvent>,
}

/// Rebuilds the history of the holder with `commitment` from the registry's public record: every
/// head checked against the registry key and the policy, the log replayed (as the audit does),
/// her leaf found by her commitment, and each of her events with its signer, log position and
/// inclusion proof against the latest head. Errors are bad input.
pub fn from_public_record(
    heads: &[SignedHead],
    entries: &[Vec<u8>],
    registry: &ed25519_dalek::VerifyingKey,
    policy: &healthcode_circuits::policy::Policy,
    commitment: &healthcode_circuits::Fr,
) -> Result<RecordHistory, String> {
    use crate::event::{Entry, EntryBody};
    let digest = policy.digest();
    for h in heads {
        h.verify(registry, &digest).map_err(|e| format!("head of epoch {}: {e}", h.epoch))?;
    }
    let head = heads.iter().max_by_key(|h| h.epoch).ok_or("the export has no head")?.clone();
    let size = usize::try_from(head.log_size).unwrap_or(usize::MAX);
    if size > entries.len() {
        return Err(format!("the export lacks entries the head of epoch {} covers", head.epoch));
    }
    let covered = &entries[..size];
    let mut memory = log::MemoryLog::new();
    for e in covered {
        memory.append(e);
    }
    if memory.root() != head.log_root {
        return Err(format!("the export's log does not match the head of epoch {}", head.epoch));
    }
    let replay = crate::audit::replay_all(covered, heads, registry, policy);
    let cm = healthcode_circuits::field::to_bytes(commitment);
    let decoded: Vec<Option<Entry>> = covered.iter().map(|b| Entry::from_bytes(b).ok()).collect();
    let leaf = decoded
        .iter()
        .find_map(|e| match e {
            Some(Entry { body: EntryBody::Enrol { leaf_index, commitment }, .. })
                if commitment[..] == cm[..] =>
            {
                Some(*leaf_index)
            }
            _ => None,
        })
        .ok_or("this holder's commitment is not enrolled in the registry's log")?;
    let mut names = BTreeMap::new();
    for e in decoded.iter().flatten() {
        if let EntryBody::SignerAdd { key, name, .. } = &e.body {
            names.insert(*key.as_bytes(), name.clone());
        }
    }
    let mut events = Vec::new();
    for (i, e) in decoded.iter().enumerate() {
        let Some(Entry { at, body: EntryBody::Event(se) }) = e else { continue };
        if se.event.holder != leaf {
            continue;
        }
        let id = se.event.id();
        let index = i as u64;
        let proof = log::inclusion_proof(&memory, index, head.log_size).map_err(|e| e.to_string())?;
        let inclusion = InclusionProof { index, log_size: head.log_size, entry: covered[i].clone(), proof };
        inclusion.verify(&head).map_err(|e| format!("entry {i}: {e}"))?;
        let retracted_at_entry = decoded.iter().position(
            |r| matches!(r, Some(Entry { body: EntryBody::Retraction(sr), .. }) if sr.retraction.event == id),
        );
        let finding = replay.findings.iter().find(|f| f.entry == Some(index)).map(|f| f.what.clone());
        events.push(RecordEvent {
            id,
            kind: se.event.kind.clone(),
            time: se.event.time,
            signer: names.get(se.event.signer.as_bytes()).cloned(),
            signer_key: hex::encode(se.event.signer.as_bytes()),
            accepted_at: *at,
            inclusion,
            retracted_at_entry: retracted_at_entry.map(|r| r as u64),
            finding,
        });
    }
    let times = replay.states.get(leaf as usize).cloned().unwrap_or_else(|| vec![0; policy.events.len()]);
    let state = policy.events.iter().cloned().zip(times).collect();
    Ok(RecordHistory { leaf_index: leaf, head, state, events })
}

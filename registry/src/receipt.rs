//! Inclusion receipts: the registry's signed promise to publish an accepted event by a deadline
//! (the signed certificate timestamps of Certificate Transparency, with the policy's
//! `max_merge_delay` as the maximum merge delay).
//!
//! The signature covers `healthcode/receipt/v1\n ‖ registry key (32) ‖ event id (32) ‖
//! accepted_at (u64) ‖ publish_by (u64)`, integers big-endian. A lab hands the holder her signed
//! event and its receipt; with the registry's public export she checks that the event is in the
//! log under a signed head ([`check`]), and after the deadline a signed head that lacks it is
//! evidence against the registry ([`Evidence`]) that `healthcode audit registry --evidence`
//! accepts.

use crate::event::{hex_key, hex_sig, Entry, EntryBody};
use crate::head::SignedHead;
use crate::log::{self, serde_hash, Hash, MemoryLog};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

pub const RECEIPT_DOMAIN: &[u8] = b"healthcode/receipt/v1\n";
pub const RECEIPT_VERSION: u32 = 1;

/// A signed promise: event `event` was accepted at `accepted_at` and will be in a signed head
/// issued no later than `publish_by`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    pub version: u32,
    #[serde(with = "hex_key")]
    pub registry: VerifyingKey,
    /// The event id (hex): SHA-256 of the event's signing bytes.
    #[serde(with = "serde_hash")]
    pub event: Hash,
    pub accepted_at: u64,
    pub publish_by: u64,
    #[serde(with = "hex_sig")]
    pub signature: Signature,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReceiptError {
    #[error("not a receipt: {0}")]
    Json(String),
    #[error("unsupported receipt version {0}")]
    Version(u32),
    #[error("the receipt names another registry key than the one given")]
    WrongRegistry,
    #[error("the receipt's signature does not verify under the registry key")]
    BadSignature,
}

fn signing_bytes(registry: &VerifyingKey, event: &Hash, accepted_at: u64, publish_by: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(RECEIPT_DOMAIN.len() + 80);
    b.extend_from_slice(RECEIPT_DOMAIN);
    b.extend_from_slice(registry.as_bytes());
    b.extend_from_slice(event);
    b.extend_from_slice(&accepted_at.to_be_bytes());
    b.extend_from_slice(&publish_by.to_be_bytes());
    b
}

impl Receipt {
    pub fn sign(key: &SigningKey, event: Hash, accepted_at: u64, publish_by: u64) -> Self {
        let registry = key.verifying_key();
        let signature = key.sign(&signing_bytes(&registry, &event, accepted_at, publish_by));
        Self { version: RECEIPT_VERSION, registry, event, accepted_at, publish_by, signature }
    }

    pub fn from_json(s: &str) -> Result<Self, ReceiptError> {
        let r: Self = serde_json::from_str(s).map_err(|e| ReceiptError::Json(e.to_string()))?;
        if r.version != RECEIPT_VERSION {
            return Err(ReceiptError::Version(r.version));
        }
        Ok(r)
    }

    /// Checks the receipt is signed by `registry` (the key given out of band).
    pub fn verify(&self, registry: &VerifyingKey) -> Result<(), ReceiptError> {
        if self.version != RECEIPT_VERSION {
            return Err(ReceiptError::Version(self.version));
        }
        if self.registry != *registry {
            return Err(ReceiptError::WrongRegistry);
        }
        let bytes = signing_bytes(&self.registry, &self.event, self.accepted_at, self.publish_by);
        registry.verify_strict(&bytes, &self.signature).map_err(|_| ReceiptError::BadSignature)
    }
}

/// Where an event is in a log: the first entry that carries it, if any.
pub fn find_event(entries: &[Vec<u8>], event: &Hash) -> Option<u64> {
    entries
        .iter()
        .position(|bytes| match Entry::from_bytes(bytes) {
            Ok(Entry { body: EntryBody::Event(se), .. }) => se.event.id() == *event,
            _ => false,
        })
        .map(|i| i as u64)
}

/// What the public record says about a receipt at time `now`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// In the log at `index`, under the signed head `head` (inclusion proof checked).
    Included { index: u64, head: Box<SignedHead>, proof: Vec<Hash> },
    /// Not in the log yet, and the deadline has not passed (or no head issued after it is known).
    Pending,
    /// Not in the latest signed head, issued after the deadline: `evidence` is the receipt and
    /// that head.
    NotIncluded { evidence: Box<Evidence> },
}

/// A receipt and a signed head, issued after the receipt's deadline, whose log lacks the event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    pub format: String,
    pub receipt: Receipt,
    pub head: SignedHead,
}

/// The format tag of [`Evidence`].
pub const EVIDENCE_FORMAT: &str = "healthcode-withheld-event/1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckError {
    #[error("receipt: {0}")]
    Receipt(#[from] ReceiptError),
    #[error("head of epoch {epoch}: {why}")]
    Head { epoch: u64, why: String },
    #[error("the export has no head signed by the registry key")]
    NoHead,
    #[error("the export's entries do not match the head of epoch {0} (log root differs)")]
    LogMismatch(u64),
}

/// Checks `receipt` against the registry's public record (`heads`, `entries`): the receipt's
/// signature, every head's signature (each names its policy; the registry key is pinned), the
/// latest head's log root against the entries, then where the event is.
pub fn check(
    receipt: &Receipt,
    heads: &[SignedHead],
    entries: &[Vec<u8>],
    registry: &VerifyingKey,
    now: u64,
) -> Result<Status, CheckError> {
    receipt.verify(registry)?;
    for h in heads {
        h.verify(registry, &h.policy).map_err(|e| CheckError::Head { epoch: h.epoch, why: e.to_string() })?;
    }
    let head = heads.iter().max_by_key(|h| h.epoch).ok_or(CheckError::NoHead)?;
    let size = usize::try_from(head.log_size).unwrap_or(usize::MAX);
    if size > entries.len() {
        return Err(CheckError::LogMismatch(head.epoch));
    }
    let covered = &entries[..size];
    let mut memory = MemoryLog::new();
    for e in covered {
        memory.append(e);
    }
    if memory.root() != head.log_root {
        return Err(CheckError::LogMismatch(head.epoch));
    }
    if let Some(index) = find_event(covered, &receipt.event) {
        let proof = log::inclusion_proof(&memory, index, head.log_size)
            .map_err(|e| CheckError::Head { epoch: head.epoch, why: e.to_string() })?;
        log::verify_inclusion(
            &log::leaf_hash(&covered[index as usize]),
            index,
            head.log_size,
            &proof,
            &head.log_root,
        )
        .map_err(|e| CheckError::Head { epoch: head.epoch, why: e.to_string() })?;
        return Ok(Status::Included { index, head: Box::new(head.clone()), proof });
    }
    // Before the deadline, or while the record holds no head issued after it (a stale export, or a
    // registry that stopped publishing: only a later head shows the event was left out).
    if now <= receipt.publish_by || head.issued_at <= receipt.publish_by {
        return Ok(Status::Pending);
    }
    Ok(Status::NotIncluded {
        evidence: Box::new(Evidence {
            format: EVIDENCE_FORMAT.into(),
            receipt: receipt.clone(),
            head: head.clone(),
        }),
    })
}

/// What an auditor concludes from evidence, given the registry's record (heads and entries) it
/// has replayed: `None` if the evidence shows nothing against the registry, else the finding.
pub fn judge(
    evidence: &Evidence,
    heads: &[SignedHead],
    entries: &[Vec<u8>],
    registry: &VerifyingKey,
) -> Result<Option<String>, String> {
    if evidence.format != EVIDENCE_FORMAT {
        return Err(format!(
            "unknown evidence format `{}` (this build reads `{EVIDENCE_FORMAT}`)",
            evidence.format
        ));
    }
    let r = &evidence.receipt;
    r.verify(registry).map_err(|e| format!("evidence receipt: {e}"))?;
    let h = &evidence.head;
    h.verify(registry, &h.policy).map_err(|e| format!("evidence head of epoch {}: {e}", h.epoch))?;
    let id = hex::encode(r.event);
    if let Some(known) = heads.iter().find(|k| k.epoch == h.epoch) {
        if known != h {
            return Ok(Some(format!(
                "event {id}: the registry signed two different heads for epoch {} (the holder's and the export's): equivocation",
                h.epoch
            )));
        }
    }
    // A head over a log that is not the export's (a prefix of it, or the export's own covering
    // head) is a fork even when the export leaves out that epoch's head.
    let size = usize::try_from(h.log_size).unwrap_or(usize::MAX);
    let forked = if size <= entries.len() {
        let mut log = crate::log::MemoryLog::new();
        for e in &entries[..size] {
            log.append(e);
        }
        log.root() != h.log_root
    } else {
        heads.iter().any(|k| k.epoch >= h.epoch)
    };
    if forked {
        return Ok(Some(format!(
            "event {id}: the registry signed a head for epoch {} over a log that is not the export's: equivocation",
            h.epoch
        )));
    }
    if h.issued_at <= r.publish_by {
        return Ok(None);
    }
    let size = usize::try_from(h.log_size).unwrap_or(usize::MAX).min(entries.len());
    if find_event(&entries[..size], &r.event).is_some() {
        return Ok(None);
    }
    let later = find_event(entries, &r.event)
        .map(|i| format!("; it appears only later, at log entry {i}"))
        .unwrap_or_else(|| "; it is nowhere in the log".into());
    Ok(Some(format!(
        "event {id} withheld: receipt signed by the registry promises publication by {}, accepted at {}; the head of epoch {} issued at {} lacks it{later}",
        r.publish_by, r.accepted_at, h.epoch, h.issued_at
    )))
}

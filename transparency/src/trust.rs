//! What a gate trusts: one log key and a quorum of witnesses. A gate that only trusted the log's own
//! signature could be shown a forked view; requiring cosignatures from `quorum` distinct witnesses means
//! a fork must fool that many independent witnesses, each of which refuses to cosign two views.

use std::collections::BTreeSet;

use signed_note::{StandardVerifier, Verifier as _, VerifierList};

use crate::checkpoint::{Checkpoint, CheckpointError, ParsedNote};
use crate::cosignature::{Cosignature, CosignatureVerifier};
use crate::keys::{Vkey, SIG_TYPE_ED25519};
use crate::Hash;

/// What a gate trusts: the log's origin and key, witness keys, and how many must have cosigned.
pub struct TrustPolicy {
    log: StandardVerifier,
    witnesses: Vec<CosignatureVerifier>,
    quorum: usize,
}

/// A checkpoint that passed a [`TrustPolicy`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// Each counted witness: its key name and the time in its cosignature.
    pub cosigners: Vec<(String, u64)>,
}

impl TrustPolicy {
    /// `log_vkey` must be an Ed25519 note key (type 0x01) named after the log's origin; each witness
    /// vkey a cosignature/v1 key (type 0x04). Listing the same witness key twice is an error rather
    /// than a silent second vote, and so is a quorum the listed witnesses cannot reach.
    pub fn new(log_vkey: &str, witness_vkeys: &[String], quorum: usize) -> Result<Self, CheckpointError> {
        let v = Vkey::parse(log_vkey)?;
        if v.sig_type != SIG_TYPE_ED25519 {
            return Err(CheckpointError::UnsupportedKeyType {
                vkey: log_vkey.to_owned(),
                sig_type: v.sig_type,
            });
        }
        let log = StandardVerifier::new(log_vkey)
            .map_err(|e| CheckpointError::BadVkey { vkey: log_vkey.to_owned(), why: e.to_string() })?;
        let mut witnesses: Vec<CosignatureVerifier> = Vec::new();
        for vkey in witness_vkeys {
            let w = CosignatureVerifier::new(vkey)?;
            // The v1 signed message does not include the cosigner's name, so one Ed25519 key under two
            // names would let a single witness's signature count twice.
            if witnesses.iter().any(|have| have.public_key() == w.public_key()) {
                return Err(CheckpointError::BadPolicy(format!("witness key listed twice: {vkey}")));
            }
            if witnesses.iter().any(|have| have.name() == w.name() && have.key_id() == w.key_id()) {
                return Err(CheckpointError::BadPolicy(format!(
                    "two witness keys share name and key ID: {vkey}"
                )));
            }
            witnesses.push(w);
        }
        if quorum > witnesses.len() {
            return Err(CheckpointError::BadPolicy(format!(
                "quorum {quorum} is more than the {} witnesses configured",
                witnesses.len()
            )));
        }
        Ok(Self { log, witnesses, quorum })
    }

    /// The log's origin (its key's name).
    pub fn origin(&self) -> &str {
        self.log.name()
    }

    pub fn quorum(&self) -> usize {
        self.quorum
    }

    /// Checks the log's signature and at least `quorum` cosignatures from DISTINCT configured witness
    /// keys (the same key twice counts once; unknown keys are ignored, not errors). A signature line
    /// that names a configured key but does not verify rejects the whole note, as signed-note advises:
    /// it is a malformed or forged note, not a missing vote.
    pub fn verify(&self, note: &[u8]) -> Result<VerifiedCheckpoint, CheckpointError> {
        let parsed = ParsedNote::parse(note)?;
        let cp = Checkpoint::parse(parsed.text())?;
        if cp.size == 0 && cp.root != crate::EMPTY_ROOT {
            return Err(CheckpointError::MalformedCheckpoint(
                "size 0 with a root that is not the empty hash".into(),
            ));
        }
        if cp.origin != self.origin() {
            return Err(CheckpointError::WrongOrigin {
                expected: self.origin().to_owned(),
                found: cp.origin,
            });
        }
        let mut known: Vec<Box<dyn signed_note::Verifier>> = vec![Box::new(self.log.clone())];
        known.extend(self.witnesses.iter().map(|w| Box::new(w.clone()) as Box<dyn signed_note::Verifier>));
        let (verified, _unknown) =
            parsed.note.verify(&VerifierList::new(known)).map_err(CheckpointError::from_note)?;
        if !verified.iter().any(|s| s.name() == self.log.name() && s.id() == self.log.key_id()) {
            return Err(CheckpointError::NoLogSignature);
        }
        let mut counted = BTreeSet::new();
        let mut cosigners = Vec::new();
        for s in &verified {
            let Some(w) = self.witnesses.iter().position(|w| w.name() == s.name() && w.key_id() == s.id())
            else {
                continue;
            };
            // signed_note verified it as a cosignature, so it has the v1 layout.
            let Some(c) = Cosignature::from_bytes(s.signature()) else { continue };
            if counted.insert(w) {
                cosigners.push((s.name().to_owned(), c.time));
            }
        }
        if cosigners.len() < self.quorum {
            return Err(CheckpointError::QuorumNotMet { needed: self.quorum, got: cosigners.len() });
        }
        Ok(VerifiedCheckpoint { origin: cp.origin, size: cp.size, root: cp.root, cosigners })
    }
}

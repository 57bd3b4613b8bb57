//! What a gate accepts from the network: heads only under a checkpoint of the head log that the
//! registry signed and at least k of its configured witnesses cosigned, each head proven to be
//! entry `epoch` of that log. A registry that signs a second head for an epoch (a split view)
//! can show it only under a checkpoint inconsistent with what the witnesses cosigned, and honest
//! witnesses refuse to cosign that; the gate then refuses it for want of a quorum.

use crate::api::RecentHeads;
use crate::headlog;
use ed25519_dalek::VerifyingKey;
use healthcode_registry::log::Hash;
use healthcode_registry::SignedHead;
use healthcode_transparency::{verify_inclusion, TrustPolicy, VerifiedCheckpoint};
use serde::{Deserialize, Serialize};

/// How old a witness's cosignature may be for the gate to count it. The registry has its
/// checkpoint cosigned at every publish and asks again well within this ([`crate::server::publisher`]).
pub const MAX_COSIGNATURE_AGE: u64 = 3600;
/// How far in the gate's future a cosignature may be dated (clock differences).
pub const MAX_CLOCK_SKEW: u64 = 300;

/// A gate's trust configuration for one registry.
pub struct GateTrust {
    pub registry: VerifyingKey,
    pub policy: Hash,
    pub witnesses: TrustPolicy,
}

impl GateTrust {
    pub fn new(
        registry: VerifyingKey,
        policy: Hash,
        witness_vkeys: &[String],
        quorum: usize,
    ) -> Result<Self, String> {
        // Zero would trust a checkpoint no witness saw: the registry alone could then show a
        // gate a split view.
        if quorum == 0 {
            return Err("a gate needs a quorum of at least one witness".into());
        }
        let witnesses = TrustPolicy::new(&headlog::log_vkey(&registry), witness_vkeys, quorum)
            .map_err(|e| e.to_string())?;
        Ok(Self { registry, policy, witnesses })
    }
}

/// Heads a gate may trust, with the cosigned checkpoint that vouches for them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrustedHeads {
    pub checkpoint: String,
    pub heads: Vec<SignedHead>,
    /// Unix time the gate fetched them (shown as their age when working offline).
    pub fetched_at: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GateError {
    #[error("the checkpoint is not trusted: {0}")]
    Checkpoint(String),
    #[error("the answer's checkpoint size ({claimed}) differs from the checkpoint's ({actual})")]
    SizeMismatch { claimed: u64, actual: u64 },
    #[error("head of epoch {0}: {1}")]
    Head(u64, String),
    #[error("only {fresh} of the {needed} cosignatures needed are from the last hour: an old answer (replayed?) or witnesses not reached")]
    StaleCosignatures { fresh: usize, needed: usize },
    #[error("no heads in the answer")]
    Empty,
    #[error("the answer leaves out heads the checkpoint holds: {0}")]
    Incomplete(String),
    #[error(
        "its newest head is epoch {fresh}, but this gate already trusts epoch {known} (a rolled-back answer)"
    )]
    RolledBack { fresh: u64, known: u64 },
    #[error("two different signed heads for epoch {0}: the registry shows different parties different views; keep the cached heads as evidence")]
    SplitView(u64),
}

/// What a gate keeps between runs: the service's answer as received and when it was fetched.
/// It is re-verified whenever it is read ([`HeadsCache::verify`]), so editing it cannot add a
/// head; a browser keeps it in IndexedDB, the command line in `--heads-cache`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HeadsCache {
    pub fetched_at: u64,
    pub answer: RecentHeads,
}

impl HeadsCache {
    /// The heads this cache proves, as they were when it was fetched.
    pub fn verify(&self, trust: &GateTrust) -> Result<TrustedHeads, GateError> {
        verify_recent(trust, &self.answer, self.fetched_at)
    }
}

/// [`verify_recent`] for a fresh answer, given the heads the gate already trusts (its cache):
/// an answer whose newest head is older than the newest known (a rollback, hiding newer heads)
/// or that holds a different head for a known epoch (a split view) is refused.
pub fn accept_fresh(
    trust: &GateTrust,
    answer: &RecentHeads,
    now: u64,
    known: Option<&[SignedHead]>,
) -> Result<TrustedHeads, GateError> {
    let trusted = verify_recent(trust, answer, now)?;
    if let (Some(k), Some(f)) = (known.and_then(|k| k.last()), trusted.heads.last()) {
        if f.epoch < k.epoch {
            return Err(GateError::RolledBack { fresh: f.epoch, known: k.epoch });
        }
        if trusted.heads.iter().any(|h| h.epoch == k.epoch && h != k) {
            return Err(GateError::SplitView(k.epoch));
        }
    }
    Ok(trusted)
}

/// Checks an answer of `GET /v1/heads` and returns the heads it proves, newest last.
pub fn verify_recent(trust: &GateTrust, answer: &RecentHeads, now: u64) -> Result<TrustedHeads, GateError> {
    let cp: VerifiedCheckpoint = trust
        .witnesses
        .verify(answer.checkpoint.as_bytes())
        .map_err(|e| GateError::Checkpoint(e.to_string()))?;
    // Cosignatures say when the witnesses saw this checkpoint: an old answer replayed later (to
    // hide newer heads) carries old cosignatures, so the quorum counts only recent ones.
    let fresh = cp
        .cosigners
        .iter()
        .filter(|(_, t)| {
            t.saturating_add(MAX_COSIGNATURE_AGE) >= now && *t <= now.saturating_add(MAX_CLOCK_SKEW)
        })
        .count();
    if fresh < trust.witnesses.quorum() {
        return Err(GateError::StaleCosignatures { fresh, needed: trust.witnesses.quorum() });
    }
    if cp.size != answer.checkpoint_size {
        return Err(GateError::SizeMismatch { claimed: answer.checkpoint_size, actual: cp.size });
    }
    if answer.heads.is_empty() {
        return Err(GateError::Empty);
    }
    let mut heads = Vec::with_capacity(answer.heads.len());
    for p in &answer.heads {
        let h = &p.head;
        let fail = |why: String| GateError::Head(h.epoch, why);
        h.verify(&trust.registry, &trust.policy).map_err(|e| fail(e.to_string()))?;
        let proof: Vec<[u8; 32]> = p
            .proof
            .iter()
            .map(|x| hex::decode(x).ok().and_then(|b| b.try_into().ok()))
            .collect::<Option<_>>()
            .ok_or_else(|| fail("malformed inclusion proof".into()))?;
        verify_inclusion(&headlog::entry(h), h.epoch, cp.size, &cp.root, &proof)
            .map_err(|e| fail(format!("not in the cosigned head log: {e}")))?;
        heads.push(h.clone());
    }
    heads.sort_by_key(|h| h.epoch);
    heads.dedup_by_key(|h| h.epoch);
    // The checkpoint says how many heads exist. An answer is not signed as a whole, so whoever
    // can touch it (or the gate's cache file) could drop the newest heads and blind the gate's
    // superseded-head check: insist on the newest one, and no gap before it.
    let newest = heads.last().map_or(0, |h| h.epoch);
    if newest + 1 != cp.size {
        let why = format!("its newest head is epoch {newest}, the checkpoint holds {}", cp.size);
        return Err(GateError::Incomplete(why));
    }
    if let Some(w) = heads.windows(2).find(|w| w[1].epoch != w[0].epoch + 1) {
        let why = format!("epochs {} to {} are missing", w[0].epoch + 1, w[1].epoch - 1);
        return Err(GateError::Incomplete(why));
    }
    Ok(TrustedHeads { checkpoint: answer.checkpoint.clone(), heads, fetched_at: now })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gate_without_a_witness_quorum_is_refused() {
        let registry = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
        let err = GateTrust::new(registry, [0; 32], &[], 0).err();
        assert_eq!(err.as_deref(), Some("a gate needs a quorum of at least one witness"));
        assert!(GateTrust::new(registry, [0; 32], &[], 1).is_err(), "one of no witnesses");
    }
}

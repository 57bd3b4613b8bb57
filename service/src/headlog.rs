//! The head log: every signed head, in epoch order, as one entry of a C2SP transparency log
//! (tlog-tiles, with tlog-checkpoint notes). Entry `i` is the head of epoch `i`: its signing
//! bytes followed by its signature, so a checkpoint over the log commits to every holder-tree
//! root the registry ever signed, and witnesses that cosign only consistent checkpoints make a
//! second head for an epoch (a split view) impossible to get accepted by a gate.

use ed25519_dalek::{SigningKey, VerifyingKey};
use healthcode_registry::SignedHead;
use healthcode_transparency::{LogKey, TiledLog};

/// The log's origin line, derived from the registry key so a gate that trusts the key knows it.
pub fn origin(registry: &VerifyingKey) -> String {
    format!("healthcode.registry/{}", &hex::encode(registry.as_bytes())[..32])
}

/// The entry of `head` in the head log.
pub fn entry(head: &SignedHead) -> Vec<u8> {
    let mut e = head.signing_bytes();
    e.extend_from_slice(&head.signature.to_bytes());
    e
}

/// The checkpoint key: the registry's own key, under the log's origin (note signatures are
/// domain-separated from head signatures: a note's text starts with the origin line).
pub fn log_key(registry: &SigningKey) -> LogKey {
    LogKey::new(&origin(&registry.verifying_key()), registry.clone())
}

/// The verifier key string (C2SP vkey) of the head log, as gates configure it.
pub fn log_vkey(registry: &VerifyingKey) -> String {
    signed_note::new_ed25519_verifier_key(&origin(registry), registry)
}

/// Appends the heads the log does not have yet (epochs `log.size()..`), refusing a gap.
pub fn extend(log: &mut TiledLog, heads: &[SignedHead]) -> Result<(), String> {
    for h in heads {
        if h.epoch < log.size() {
            continue;
        }
        if h.epoch != log.size() {
            return Err(format!(
                "head log has {} entries but the next head is epoch {}",
                log.size(),
                h.epoch
            ));
        }
        log.push(entry(h));
    }
    Ok(())
}

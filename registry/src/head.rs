//! Signed tree heads: the registry's per-epoch statement of its holder-tree root and log.
//!
//! The signature covers `healthcode/head/v1\n ‖ registry key (32) ‖ policy digest (32) ‖
//! epoch (u64) ‖ issued_at (u64) ‖ root (32, canonical big-endian field element) ‖
//! holders (u64) ‖ log_size (u64) ‖ log_root (32)`, integers big-endian. The policy digest is in
//! the head because the leaves pack holder state in the policy's event order: a root means
//! nothing without the policy that orders its state words.

use crate::event::hex_key;
use crate::log::{serde_hash, Hash};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use healthcode_circuits::field::{self, serde_fr};
use healthcode_circuits::Fr;
use serde::{Deserialize, Serialize};

pub const HEAD_DOMAIN: &[u8] = b"healthcode/head/v1\n";

/// Version of the head's JSON form and signing bytes.
pub const HEAD_VERSION: u32 = 1;

/// How far ahead of the clock a head's `issued_at` may be pushed to keep the chain strictly
/// increasing (publishes in quick succession).
pub const MAX_AHEAD: u64 = 60;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedHead {
    pub version: u32,
    /// The registry's Ed25519 public key (hex).
    #[serde(with = "hex_key")]
    pub registry: VerifyingKey,
    /// Digest of the registry's policy (hex).
    #[serde(with = "serde_hash")]
    pub policy: Hash,
    /// 0 for the head signed at `init`, then +1 per publish.
    pub epoch: u64,
    /// Unix seconds; strictly increasing along the chain.
    pub issued_at: u64,
    /// Root of the holder tree (0x-hex field element).
    #[serde(with = "serde_fr")]
    pub root: Fr,
    /// Number of holders in the tree.
    pub holders: u64,
    /// Number of log entries this head covers.
    pub log_size: u64,
    /// RFC 9162 root of those entries (hex).
    #[serde(with = "serde_hash")]
    pub log_root: Hash,
    /// Ed25519 signature over [`SignedHead::signing_bytes`] (hex).
    #[serde(with = "crate::event::hex_sig")]
    pub signature: Signature,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeadError {
    #[error("unsupported head version {0}")]
    Version(u32),
    #[error("the head is signed by another registry")]
    WrongRegistry,
    #[error("the head's signature does not verify")]
    BadSignature,
    #[error("the head is for another policy")]
    WrongPolicy,
    #[error("head chain broken between epochs {0} and {1}: {2}")]
    Chain(u64, u64, String),
}

/// The fields of a head before signing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeadFields {
    pub epoch: u64,
    pub issued_at: u64,
    pub root: Fr,
    pub holders: u64,
    pub log_size: u64,
    pub log_root: Hash,
}

fn signing_bytes(registry: &VerifyingKey, policy: &Hash, f: &HeadFields) -> Vec<u8> {
    let mut b = Vec::with_capacity(HEAD_DOMAIN.len() + 32 * 4 + 8 * 4);
    b.extend_from_slice(HEAD_DOMAIN);
    b.extend_from_slice(registry.as_bytes());
    b.extend_from_slice(policy);
    b.extend_from_slice(&f.epoch.to_be_bytes());
    b.extend_from_slice(&f.issued_at.to_be_bytes());
    b.extend_from_slice(&field::to_bytes(&f.root));
    b.extend_from_slice(&f.holders.to_be_bytes());
    b.extend_from_slice(&f.log_size.to_be_bytes());
    b.extend_from_slice(&f.log_root);
    b
}

impl SignedHead {
    pub fn sign(key: &SigningKey, policy: Hash, f: HeadFields) -> Self {
        let registry = key.verifying_key();
        let signature = key.sign(&signing_bytes(&registry, &policy, &f));
        Self {
            version: HEAD_VERSION,
            registry,
            policy,
            epoch: f.epoch,
            issued_at: f.issued_at,
            root: f.root,
            holders: f.holders,
            log_size: f.log_size,
            log_root: f.log_root,
            signature,
        }
    }

    pub fn fields(&self) -> HeadFields {
        HeadFields {
            epoch: self.epoch,
            issued_at: self.issued_at,
            root: self.root,
            holders: self.holders,
            log_size: self.log_size,
            log_root: self.log_root,
        }
    }

    pub fn signing_bytes(&self) -> Vec<u8> {
        signing_bytes(&self.registry, &self.policy, &self.fields())
    }

    /// Checks the head is signed by `registry` (the key a checkpoint or holder was given out of
    /// band, never the one inside the head) for the policy with digest `policy`.
    pub fn verify(&self, registry: &VerifyingKey, policy: &Hash) -> Result<(), HeadError> {
        if self.version != HEAD_VERSION {
            return Err(HeadError::Version(self.version));
        }
        if self.registry != *registry {
            return Err(HeadError::WrongRegistry);
        }
        if self.policy != *policy {
            return Err(HeadError::WrongPolicy);
        }
        registry.verify_strict(&self.signing_bytes(), &self.signature).map_err(|_| HeadError::BadSignature)
    }
}

/// Checks a sequence of heads (epochs in order, as `registry head --all` prints them): each is
/// signed, epochs are consecutive, `issued_at` strictly increases and the log never shrinks.
/// Log consistency between two heads needs a consistency proof on top (see [`crate::log`]).
pub fn verify_chain(heads: &[SignedHead], registry: &VerifyingKey, policy: &Hash) -> Result<(), HeadError> {
    for h in heads {
        h.verify(registry, policy)?;
    }
    check_order(heads)
}

/// The order part of [`verify_chain`], without signatures: epochs consecutive, `issued_at`
/// strictly increasing, neither the log nor the holder count shrinking.
pub fn check_order(heads: &[SignedHead]) -> Result<(), HeadError> {
    for w in heads.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let broken = |why: &str| Err(HeadError::Chain(a.epoch, b.epoch, why.to_string()));
        if a.epoch.checked_add(1) != Some(b.epoch) {
            return broken("epochs are not consecutive");
        }
        if b.issued_at <= a.issued_at {
            return broken("issued_at does not increase");
        }
        if b.log_size < a.log_size || b.holders < a.holders {
            return broken("the log or the holder count shrank");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_verify_and_refuse_tampering() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let policy = [7; 32];
        let f = HeadFields {
            epoch: 1,
            issued_at: 100,
            root: Fr::from(5u64),
            holders: 2,
            log_size: 3,
            log_root: [1; 32],
        };
        let h = SignedHead::sign(&key, policy, f);
        let vk = key.verifying_key();
        h.verify(&vk, &policy).unwrap();
        let json = serde_json::to_string(&h).unwrap();
        let back: SignedHead = serde_json::from_str(&json).unwrap();
        assert_eq!(back, h);
        let mut t = h.clone();
        t.holders += 1;
        assert_eq!(t.verify(&vk, &policy), Err(HeadError::BadSignature));
        assert_eq!(h.verify(&vk, &[8; 32]), Err(HeadError::WrongPolicy));
        let other = SigningKey::from_bytes(&[4; 32]).verifying_key();
        assert_eq!(h.verify(&other, &policy), Err(HeadError::WrongRegistry));
    }

    /// Found by the `heads` fuzz target: the last epoch followed by any head overflowed
    /// `epoch + 1` (a panic with overflow checks, `u64::MAX` then 0 "consecutive" without).
    #[test]
    fn the_last_epoch_has_no_successor() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let head = |epoch, issued_at| {
            let f = HeadFields {
                epoch,
                issued_at,
                root: Fr::from(0u64),
                holders: 0,
                log_size: 0,
                log_root: [0; 32],
            };
            SignedHead::sign(&key, [7; 32], f)
        };
        for next in [0, u64::MAX] {
            assert!(matches!(check_order(&[head(u64::MAX, 1), head(next, 2)]), Err(HeadError::Chain(..))));
        }
        check_order(&[head(u64::MAX - 1, 1), head(u64::MAX, 2)]).unwrap();
    }
}

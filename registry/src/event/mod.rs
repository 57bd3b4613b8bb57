//! Signed events, retractions and the log entries that carry them, with their canonical bytes.
//!
//! Every signed message starts with its own domain line (`healthcode/event/v1\n`,
//! `healthcode/retraction/v1\n`) and names the registry's public key, so a signature can neither
//! be reused for another message type nor replayed into another registry (where the same leaf
//! index is someone else). Integers are big-endian, strings length-prefixed; decoders refuse
//! trailing bytes, so each message has exactly one encoding.
//!
//! Here: events and retractions. The log entries that carry them are in `entry`, the byte
//! encoding both share in `wire`, and the JSON forms of keys, signatures and hashes in
//! `serde_hex`.

mod entry;
mod serde_hex;
mod wire;

pub use entry::{Entry, EntryBody, Summary, ENTRY_VERSION};
pub(crate) use serde_hex::opt_hash;
pub use serde_hex::{hex_key, hex_sig, key_from_hex};
pub(crate) use wire::Reader;
use wire::Writer;

use crate::log::Hash;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

pub const EVENT_DOMAIN: &[u8] = b"healthcode/event/v1\n";
pub const RETRACTION_DOMAIN: &[u8] = b"healthcode/retraction/v1\n";

/// The kind every contact event must point at through `index_case`.
pub const POSITIVE_TEST: &str = "positive_test";

/// Who may sign an event kind.
///
/// The rule needs no extra policy section: kinds whose name ends in `_test` are results a lab
/// signs; every other kind is a contact-tracing finding a tracer signs, and must name the
/// positive test of its index case. A policy author picks names accordingly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Lab,
    Tracer,
}

impl Role {
    /// The role allowed to sign `kind`.
    pub fn for_kind(kind: &str) -> Role {
        if kind.ends_with("_test") {
            Role::Lab
        } else {
            Role::Tracer
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Lab => "lab",
            Role::Tracer => "tracer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "lab" => Some(Role::Lab),
            "tracer" => Some(Role::Tracer),
            _ => None,
        }
    }

    fn code(self) -> u8 {
        match self {
            Role::Lab => 1,
            Role::Tracer => 2,
        }
    }

    fn from_code(c: u8) -> Option<Role> {
        match c {
            1 => Some(Role::Lab),
            2 => Some(Role::Tracer),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An encoding error: the bytes are not a message of ours.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed {what}: {why}")]
pub struct DecodeError {
    pub what: &'static str,
    pub why: String,
}

/// What a lab or tracer asserts about one holder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The registry's public key (hex): binds the event to one registry.
    #[serde(with = "hex_key")]
    pub registry: VerifyingKey,
    /// The holder's leaf index.
    pub holder: u32,
    /// An event kind of the registry's policy.
    pub kind: String,
    /// When it happened (unix seconds).
    pub time: u64,
    /// The signer's public key (hex).
    #[serde(with = "hex_key")]
    pub signer: VerifyingKey,
    /// Contacts only: the event id (hex) of the index case's positive test.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_hash")]
    pub index_case: Option<Hash>,
}

/// An event and its signer's signature: what `healthcode sign-event` writes and `submit` reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedEvent {
    #[serde(flatten)]
    pub event: Event,
    #[serde(with = "hex_sig")]
    pub signature: Signature,
}

/// A signer withdrawing one of its own events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retraction {
    #[serde(with = "hex_key")]
    pub registry: VerifyingKey,
    /// The id of the event withdrawn.
    #[serde(with = "crate::log::serde_hash")]
    pub event: Hash,
    #[serde(with = "hex_key")]
    pub signer: VerifyingKey,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRetraction {
    #[serde(flatten)]
    pub retraction: Retraction,
    #[serde(with = "hex_sig")]
    pub signature: Signature,
}

/// Longest kind or signer name accepted (bytes).
pub const MAX_NAME: usize = 64;

impl Event {
    fn write_body(&self, w: &mut Writer) {
        w.bytes(self.registry.as_bytes()).u32(self.holder).str(&self.kind).u64(self.time);
        w.bytes(self.signer.as_bytes());
        match &self.index_case {
            None => w.u8(0),
            Some(h) => w.u8(1).bytes(h),
        };
    }

    fn read_body(r: &mut Reader) -> Result<Self, DecodeError> {
        let registry = r.key()?;
        let holder = r.u32()?;
        let kind = r.str()?;
        let time = r.u64()?;
        let signer = r.key()?;
        let index_case = match r.u8()? {
            0 => None,
            1 => Some(r.array()?),
            _ => return Err(r.err("index-case flag is neither 0 nor 1")),
        };
        Ok(Self { registry, holder, kind, time, signer, index_case })
    }

    /// The bytes the signer signs: the event domain line, then the fields.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut w = Writer(EVENT_DOMAIN.to_vec());
        self.write_body(&mut w);
        w.0
    }

    /// The event id: SHA-256 of the signing bytes (the signature is not part of it, so a
    /// re-signed copy of the same event is a duplicate).
    pub fn id(&self) -> Hash {
        Sha256::digest(self.signing_bytes()).into()
    }

    /// The event `signer` signs for `registry`: the lab / tracer side in one call.
    pub fn signed_by(
        signer: &SigningKey,
        registry: VerifyingKey,
        holder: u32,
        kind: &str,
        time: u64,
        index_case: Option<Hash>,
    ) -> SignedEvent {
        Event { registry, holder, kind: kind.into(), time, signer: signer.verifying_key(), index_case }
            .sign(signer)
    }

    pub fn sign(self, key: &SigningKey) -> SignedEvent {
        let signature = key.sign(&self.signing_bytes());
        SignedEvent { event: self, signature }
    }
}

impl SignedEvent {
    pub fn verify(&self) -> bool {
        self.event.kind.len() <= MAX_NAME
            && self.event.signer.verify_strict(&self.event.signing_bytes(), &self.signature).is_ok()
    }
}

impl Retraction {
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut w = Writer(RETRACTION_DOMAIN.to_vec());
        w.bytes(self.registry.as_bytes()).bytes(&self.event).bytes(self.signer.as_bytes());
        w.0
    }

    pub fn sign(self, key: &SigningKey) -> SignedRetraction {
        let signature = key.sign(&self.signing_bytes());
        SignedRetraction { retraction: self, signature }
    }
}

impl SignedRetraction {
    pub fn verify(&self) -> bool {
        self.retraction.signer.verify_strict(&self.retraction.signing_bytes(), &self.signature).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> SigningKey {
        SigningKey::from_bytes(&[b; 32])
    }

    #[test]
    fn entries_round_trip_and_refuse_garbage() {
        let reg = key(1).verifying_key();
        let lab = key(2);
        let ev = Event {
            registry: reg,
            holder: 7,
            kind: "positive_test".into(),
            time: 1_700_000_000,
            signer: lab.verifying_key(),
            index_case: Some([9; 32]),
        }
        .sign(&lab);
        assert!(ev.verify());
        let entries = [
            Entry { at: 5, body: EntryBody::Enrol { leaf_index: 3, commitment: [4; 32] } },
            Entry {
                at: 6,
                body: EntryBody::AuditorAdd { key: key(8).verifying_key(), name: "office".into() },
            },
            Entry { at: 7, body: EntryBody::AuditorRevoke { key: key(8).verifying_key(), revoked_at: 7 } },
            Entry {
                at: 6,
                body: EntryBody::SignerAdd {
                    key: lab.verifying_key(),
                    role: Role::Lab,
                    name: "lab".into(),
                    accredited_from: 1,
                },
            },
            Entry { at: 7, body: EntryBody::SignerRevoke { key: reg, revoked_at: 8 } },
            Entry { at: 8, body: EntryBody::Event(ev.clone()) },
            Entry {
                at: 9,
                body: EntryBody::Retraction(
                    Retraction { registry: reg, event: ev.event.id(), signer: lab.verifying_key() }
                        .sign(&lab),
                ),
            },
        ];
        for e in entries {
            let b = e.to_bytes();
            match (Entry::summary(&b).unwrap(), &e.body) {
                (Summary::Event { id, holder, time, .. }, EntryBody::Event(ev)) => {
                    assert_eq!((id, holder, time), (ev.event.id(), ev.event.holder, ev.event.time));
                }
                (Summary::Retraction { event }, EntryBody::Retraction(r)) => {
                    assert_eq!(event, r.retraction.event)
                }
                (Summary::Enrol { leaf_index }, EntryBody::Enrol { leaf_index: l, .. }) => {
                    assert_eq!(leaf_index, *l)
                }
                (
                    Summary::Accreditation,
                    EntryBody::SignerAdd { .. }
                    | EntryBody::SignerRevoke { .. }
                    | EntryBody::AuditorAdd { .. }
                    | EntryBody::AuditorRevoke { .. },
                ) => {}
                other => panic!("summary disagrees: {other:?}"),
            }
            assert_eq!(Entry::from_bytes(&b).unwrap(), e);
            let mut long = b.clone();
            long.push(0);
            assert!(Entry::from_bytes(&long).is_err());
            for cut in 0..b.len() {
                assert!(Entry::from_bytes(&b[..cut]).is_err());
            }
        }
    }

    #[test]
    fn json_round_trip_and_tamper() {
        let lab = key(2);
        let ev = Event {
            registry: key(1).verifying_key(),
            holder: 7,
            kind: "negative_test".into(),
            time: 10,
            signer: lab.verifying_key(),
            index_case: None,
        }
        .sign(&lab);
        let j = serde_json::to_string(&ev).unwrap();
        let back: SignedEvent = serde_json::from_str(&j).unwrap();
        assert_eq!(back, ev);
        let mut t = back.clone();
        t.event.time += 1;
        assert!(!t.verify());
        // A signature by the wrong domain (a retraction's bytes) does not verify as an event.
        let mut x = ev.clone();
        x.signature = lab.sign(&ev.event.signing_bytes()[EVENT_DOMAIN.len()..]);
        assert!(!x.verify());
    }

    #[test]
    fn roles_follow_the_kind_suffix() {
        assert_eq!(Role::for_kind("positive_test"), Role::Lab);
        assert_eq!(Role::for_kind("negative_test"), Role::Lab);
        assert_eq!(Role::for_kind("close_contact"), Role::Tracer);
        assert_eq!(Role::for_kind("secondary_contact"), Role::Tracer);
    }
}

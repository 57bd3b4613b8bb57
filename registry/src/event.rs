//! Signed events, retractions and the log entries that carry them, with their canonical bytes.
//!
//! Every signed message starts with its own domain line (`healthcode/event/v1\n`,
//! `healthcode/retraction/v1\n`) and names the registry's public key, so a signature can neither
//! be reused for another message type nor replayed into another registry (where the same leaf
//! index is someone else). Integers are big-endian, strings length-prefixed; decoders refuse
//! trailing bytes, so each message has exactly one encoding.

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

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.0.extend_from_slice(v);
        self
    }
    /// A length-prefixed string. Names longer than `u16::MAX` bytes cannot be encoded; they are
    /// cut there rather than panicking, and every such message is refused anyway (names are
    /// limited to [`MAX_NAME`] bytes before any signature is checked).
    fn str(&mut self, s: &str) -> &mut Self {
        let b = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
        self.0.extend_from_slice(&(b.len() as u16).to_be_bytes());
        self.bytes(b)
    }
}

/// A strict reader: every field must be present and nothing may follow the last one.
pub(crate) struct Reader<'a> {
    what: &'static str,
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(what: &'static str, bytes: &'a [u8]) -> Self {
        Self { what, rest: bytes }
    }
    fn err(&self, why: impl Into<String>) -> DecodeError {
        DecodeError { what: self.what, why: why.into() }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < n {
            return Err(self.err("truncated"));
        }
        let (a, b) = self.rest.split_at(n);
        self.rest = b;
        Ok(a)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        Ok(self.take(N)?.try_into().expect("length taken"))
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    fn str(&mut self) -> Result<String, DecodeError> {
        let len = u16::from_be_bytes(self.array()?) as usize;
        let b = self.take(len)?;
        String::from_utf8(b.to_vec()).map_err(|_| self.err("a name is not UTF-8"))
    }
    fn key(&mut self) -> Result<VerifyingKey, DecodeError> {
        let b = self.array::<32>()?;
        VerifyingKey::from_bytes(&b).map_err(|_| self.err("not an Ed25519 public key"))
    }
    fn sig(&mut self) -> Result<Signature, DecodeError> {
        Ok(Signature::from_bytes(&self.array::<64>()?))
    }
    fn end(&self) -> Result<(), DecodeError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(self.err(format!("{} trailing bytes", self.rest.len())))
        }
    }
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

/// One record of the append-only log. The log holds everything needed to recompute the holder
/// tree from nothing: enrolments (leaf index and commitment), signer accreditations and
/// revocations, signed events and signed retractions. `at` is when the registry accepted it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub at: u64,
    pub body: EntryBody,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryBody {
    Enrol {
        leaf_index: u32,
        commitment: [u8; 32],
    },
    SignerAdd {
        key: VerifyingKey,
        role: Role,
        name: String,
        accredited_from: u64,
    },
    SignerRevoke {
        key: VerifyingKey,
        revoked_at: u64,
    },
    Event(SignedEvent),
    Retraction(SignedRetraction),
    /// An auditor accredited by the operator: may read the full entries through the service.
    AuditorAdd {
        key: VerifyingKey,
        name: String,
    },
    AuditorRevoke {
        key: VerifyingKey,
        revoked_at: u64,
    },
}

/// Version byte of the entry encoding.
pub const ENTRY_VERSION: u8 = 1;

impl Entry {
    /// `version ‖ tag ‖ at ‖ body`; the body of an event is its fields after the domain line,
    /// then its signature.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(200));
        w.u8(ENTRY_VERSION);
        let tag = match &self.body {
            EntryBody::Enrol { .. } => 1,
            EntryBody::SignerAdd { .. } => 2,
            EntryBody::SignerRevoke { .. } => 3,
            EntryBody::Event(_) => 4,
            EntryBody::Retraction(_) => 5,
            EntryBody::AuditorAdd { .. } => 6,
            EntryBody::AuditorRevoke { .. } => 7,
        };
        w.u8(tag).u64(self.at);
        match &self.body {
            EntryBody::Enrol { leaf_index, commitment } => {
                w.u32(*leaf_index).bytes(commitment);
            }
            EntryBody::SignerAdd { key, role, name, accredited_from } => {
                w.bytes(key.as_bytes()).u8(role.code()).str(name).u64(*accredited_from);
            }
            EntryBody::SignerRevoke { key, revoked_at } => {
                w.bytes(key.as_bytes()).u64(*revoked_at);
            }
            EntryBody::Event(e) => {
                e.event.write_body(&mut w);
                w.bytes(&e.signature.to_bytes());
            }
            EntryBody::Retraction(r) => {
                let x = &r.retraction;
                w.bytes(x.registry.as_bytes()).bytes(&x.event).bytes(x.signer.as_bytes());
                w.bytes(&r.signature.to_bytes());
            }
            EntryBody::AuditorAdd { key, name } => {
                w.bytes(key.as_bytes()).str(name);
            }
            EntryBody::AuditorRevoke { key, revoked_at } => {
                w.bytes(key.as_bytes()).u64(*revoked_at);
            }
        }
        w.0
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new("log entry", bytes);
        if r.u8()? != ENTRY_VERSION {
            return Err(r.err("unknown entry version"));
        }
        let tag = r.u8()?;
        let at = r.u64()?;
        let body = match tag {
            1 => EntryBody::Enrol { leaf_index: r.u32()?, commitment: r.array()? },
            2 => {
                let key = r.key()?;
                let role = Role::from_code(r.u8()?).ok_or_else(|| r.err("unknown role"))?;
                let name = r.str()?;
                EntryBody::SignerAdd { key, role, name, accredited_from: r.u64()? }
            }
            3 => EntryBody::SignerRevoke { key: r.key()?, revoked_at: r.u64()? },
            4 => {
                let event = Event::read_body(&mut r)?;
                EntryBody::Event(SignedEvent { event, signature: r.sig()? })
            }
            5 => {
                let retraction = Retraction { registry: r.key()?, event: r.array()?, signer: r.key()? };
                EntryBody::Retraction(SignedRetraction { retraction, signature: r.sig()? })
            }
            6 => EntryBody::AuditorAdd { key: r.key()?, name: r.str()? },
            7 => EntryBody::AuditorRevoke { key: r.key()?, revoked_at: r.u64()? },
            _ => return Err(r.err(format!("unknown entry tag {tag}"))),
        };
        r.end()?;
        Ok(Self { at, body })
    }
}

/// What `publish` needs from a queued entry, read without decompressing any public key (the
/// entry was fully validated when it was accepted; this is the hot loop of an epoch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Summary {
    Enrol {
        leaf_index: u32,
    },
    Event {
        id: Hash,
        holder: u32,
        kind: String,
        time: u64,
    },
    Retraction {
        event: Hash,
    },
    /// A signer's or an auditor's accreditation or revocation: no effect on the holder tree.
    Accreditation,
}

impl Entry {
    pub fn summary(bytes: &[u8]) -> Result<Summary, DecodeError> {
        let mut r = Reader::new("log entry", bytes);
        if r.u8()? != ENTRY_VERSION {
            return Err(r.err("unknown entry version"));
        }
        let tag = r.u8()?;
        r.u64()?;
        Ok(match tag {
            1 => Summary::Enrol { leaf_index: r.u32()? },
            2 | 3 | 6 | 7 => Summary::Accreditation,
            4 => {
                let body_start = bytes.len() - r.rest.len();
                r.array::<32>()?;
                let holder = r.u32()?;
                let kind = r.str()?;
                let time = r.u64()?;
                if r.rest.len() < 64 {
                    return Err(r.err("truncated"));
                }
                let body = &bytes[body_start..bytes.len() - 64];
                let id = Sha256::new().chain_update(EVENT_DOMAIN).chain_update(body).finalize().into();
                Summary::Event { id, holder, kind, time }
            }
            5 => {
                r.array::<32>()?;
                Summary::Retraction { event: r.array()? }
            }
            _ => return Err(r.err(format!("unknown entry tag {tag}"))),
        })
    }
}

/// Hex (no prefix) for Ed25519 public keys in JSON.
pub mod hex_key {
    use ed25519_dalek::VerifyingKey;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(k: &VerifyingKey, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(k.as_bytes()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<VerifyingKey, D::Error> {
        super::key_from_hex(&String::deserialize(d)?).map_err(D::Error::custom)
    }
}

/// Parses an Ed25519 public key from 64 hex digits.
pub fn key_from_hex(s: &str) -> Result<VerifyingKey, String> {
    let b = crate::log::hash_from_hex(s.trim()).map_err(|e| format!("public key: {e}"))?;
    VerifyingKey::from_bytes(&b).map_err(|_| "not a valid Ed25519 public key".to_string())
}

/// Serde for signatures as hex; shared by events, retractions and heads.
pub mod hex_sig {
    use ed25519_dalek::Signature;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(sig: &Signature, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(sig.to_bytes()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Signature, D::Error> {
        let b = hex::decode(String::deserialize(d)?).map_err(D::Error::custom)?;
        let b: [u8; 64] = b.try_into().map_err(|_| D::Error::custom("a signature is 64 bytes"))?;
        Ok(Signature::from_bytes(&b))
    }
}

/// Serde for an optional hash as hex; shared by events and histories.
pub(crate) mod opt_hash {
    use crate::log::Hash;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Hash>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(h) => s.serialize_some(&hex::encode(h)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Hash>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|h| crate::log::hash_from_hex(&h).map_err(D::Error::custom))
            .transpose()
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

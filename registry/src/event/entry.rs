//! The log's entries: everything the holder tree is recomputed from (enrolments, signer
//! accreditations and revocations, signed events and retractions), each with the time the
//! registry accepted it, and the summary a publish reads of one without decoding its keys.

use super::*;

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

//! Replay: recomputes everything a registry signed from its log alone, as an auditor does.
//!
//! The log carries enrolments, signer accreditations and revocations, signed events and signed
//! retractions, so replaying it re-checks every acceptance rule that does not depend on the
//! registry's clock configuration, rebuilds holder states, the holder tree and the log, and
//! compares them with each signed head.

use crate::event::{Entry, EntryBody, Role, POSITIVE_TEST};
use crate::head::{verify_chain, SignedHead};
use crate::log::{Hash, MemoryLog};
use ed25519_dalek::VerifyingKey;
use healthcode_circuits::field;
use healthcode_circuits::policy::Policy;
use healthcode_circuits::time::MAX_TIME;
use healthcode_circuits::tree::SparseTree;
use healthcode_circuits::{hashes, state, Fr};
use std::collections::{BTreeSet, HashMap};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuditError {
    #[error("log entry {0}: {1}")]
    Entry(u64, String),
    #[error("head of epoch {0}: {1}")]
    Head(u64, String),
}

struct Signer {
    role: Role,
    from: u64,
    revoked: Option<u64>,
}

struct EventRec {
    holder: u32,
    kind: usize,
    time: u64,
    signer: VerifyingKey,
    positive: bool,
    retracted: bool,
}

/// What a replay recomputed.
#[derive(Debug)]
pub struct Replay {
    pub tree: SparseTree,
    pub log: MemoryLog,
    pub holders: u64,
    /// Per holder: latest time per kind.
    pub states: Vec<Vec<u64>>,
}

/// Replays `entries` (the whole log, in order) and checks each head against the recomputation.
pub fn replay(
    entries: &[Vec<u8>],
    heads: &[SignedHead],
    registry: &VerifyingKey,
    policy: &Policy,
) -> Result<Replay, AuditError> {
    let digest = policy.digest();
    verify_chain(heads, registry, &digest).map_err(|e| AuditError::Head(0, e.to_string()))?;
    let kinds = policy.events.len();
    let mut signers: HashMap<VerifyingKey, Signer> = HashMap::new();
    let mut names = BTreeSet::new();
    let mut commitments: Vec<Fr> = Vec::new();
    let mut seen_cm = BTreeSet::new();
    let mut events: HashMap<Hash, EventRec> = HashMap::new();
    let mut by_holder: HashMap<u32, Vec<Hash>> = HashMap::new();
    let mut tree = SparseTree::new();
    let mut log = MemoryLog::new();
    let mut dirty = BTreeSet::new();
    let mut heads = heads.iter().peekable();

    let check_head = |h: &SignedHead,
                      tree: &mut SparseTree,
                      dirty: &mut BTreeSet<u32>,
                      log: &MemoryLog,
                      holders: u64,
                      events: &HashMap<Hash, EventRec>,
                      by_holder: &HashMap<u32, Vec<Hash>>,
                      commitments: &[Fr]| {
        let leaves: Vec<(u32, Fr)> = dirty
            .iter()
            .map(|&hd| {
                let st = state_of(hd, kinds, events, by_holder);
                (hd, hashes::leaf(commitments[hd as usize], &state::pack(&st)))
            })
            .collect();
        tree.set_leaves(leaves);
        dirty.clear();
        let fail = |why: &str| Err(AuditError::Head(h.epoch, why.to_string()));
        if h.log_root != log.root() {
            return fail("log root differs from the replayed log");
        }
        if h.root != tree.root() {
            return fail("holder-tree root differs from the replayed tree");
        }
        if h.holders != holders {
            return fail("holder count differs");
        }
        Ok(())
    };

    for (i, bytes) in entries.iter().enumerate() {
        let i = i as u64;
        while let Some(h) = heads.next_if(|h| h.log_size == i) {
            check_head(
                h,
                &mut tree,
                &mut dirty,
                &log,
                commitments.len() as u64,
                &events,
                &by_holder,
                &commitments,
            )?;
        }
        let bad = |why: String| AuditError::Entry(i, why);
        let entry = Entry::from_bytes(bytes).map_err(|e| bad(e.to_string()))?;
        let active =
            |signers: &HashMap<VerifyingKey, Signer>, key: &VerifyingKey| -> Result<Role, AuditError> {
                let s = signers.get(key).ok_or_else(|| bad("unknown signer".into()))?;
                if entry.at < s.from || s.revoked.is_some_and(|r| entry.at >= r) {
                    return Err(bad("signer not accredited at acceptance time".into()));
                }
                Ok(s.role)
            };
        match &entry.body {
            EntryBody::Enrol { leaf_index, commitment } => {
                if *leaf_index as usize != commitments.len() {
                    return Err(bad("leaf indices are not assigned in order".into()));
                }
                let cm = field::from_bytes(commitment).map_err(|e| bad(e.to_string()))?;
                if !seen_cm.insert(*commitment) {
                    return Err(bad("commitment enrolled twice".into()));
                }
                commitments.push(cm);
                dirty.insert(*leaf_index);
            }
            EntryBody::SignerAdd { key, role, name, accredited_from } => {
                if signers.contains_key(key) || !names.insert(name.clone()) {
                    return Err(bad("signer added twice".into()));
                }
                signers.insert(*key, Signer { role: *role, from: *accredited_from, revoked: None });
            }
            EntryBody::SignerRevoke { key, revoked_at } => {
                let s = signers.get_mut(key).ok_or_else(|| bad("revoking an unknown signer".into()))?;
                if s.revoked.is_some() {
                    return Err(bad("signer revoked twice".into()));
                }
                s.revoked = Some(*revoked_at);
            }
            EntryBody::Event(se) => {
                let e = &se.event;
                if e.registry != *registry || !se.verify() {
                    return Err(bad("event signature does not verify for this registry".into()));
                }
                let role = active(&signers, &e.signer)?;
                let kind =
                    policy.event_index(&e.kind).ok_or_else(|| bad(format!("unknown kind {}", e.kind)))?;
                if role != Role::for_kind(&e.kind) {
                    return Err(bad("signer role not allowed for the kind".into()));
                }
                if e.holder as usize >= commitments.len() {
                    return Err(bad("event for a holder not enrolled".into()));
                }
                if e.time == 0 || e.time > MAX_TIME {
                    return Err(bad("event time out of range".into()));
                }
                match (role, &e.index_case) {
                    (Role::Lab, None) => {}
                    (Role::Tracer, Some(case)) => match events.get(case) {
                        Some(c) if c.positive && !c.retracted && c.holder != e.holder => {}
                        _ => {
                            return Err(bad(
                                "index case is not an earlier, live positive test of another holder".into(),
                            ))
                        }
                    },
                    _ => return Err(bad("index case present on a test or missing on a contact".into())),
                }
                let id = e.id();
                if events.contains_key(&id) {
                    return Err(bad("duplicate event".into()));
                }
                events.insert(
                    id,
                    EventRec {
                        holder: e.holder,
                        kind,
                        time: e.time,
                        signer: e.signer,
                        positive: e.kind == POSITIVE_TEST,
                        retracted: false,
                    },
                );
                by_holder.entry(e.holder).or_default().push(id);
                dirty.insert(e.holder);
            }
            EntryBody::Retraction(sr) => {
                let r = &sr.retraction;
                if r.registry != *registry || !sr.verify() {
                    return Err(bad("retraction signature does not verify for this registry".into()));
                }
                active(&signers, &r.signer)?;
                let ev =
                    events.get_mut(&r.event).ok_or_else(|| bad("retraction of an unknown event".into()))?;
                if ev.signer != r.signer || ev.retracted {
                    return Err(bad("retraction by another signer or of a retracted event".into()));
                }
                ev.retracted = true;
                dirty.insert(ev.holder);
            }
        }
        log.append(bytes);
    }
    let n = entries.len() as u64;
    for h in heads.by_ref() {
        if h.log_size != n {
            return Err(AuditError::Head(h.epoch, "covers entries the log does not have".into()));
        }
        check_head(
            h,
            &mut tree,
            &mut dirty,
            &log,
            commitments.len() as u64,
            &events,
            &by_holder,
            &commitments,
        )?;
    }
    let states = (0..commitments.len() as u32).map(|h| state_of(h, kinds, &events, &by_holder)).collect();
    Ok(Replay { tree, log, holders: commitments.len() as u64, states })
}

fn state_of(
    holder: u32,
    kinds: usize,
    events: &HashMap<Hash, EventRec>,
    by_holder: &HashMap<u32, Vec<Hash>>,
) -> Vec<u64> {
    let mut s = vec![0; kinds];
    for id in by_holder.get(&holder).into_iter().flatten() {
        let e = &events[id];
        if !e.retracted {
            s[e.kind] = s[e.kind].max(e.time);
        }
    }
    s
}

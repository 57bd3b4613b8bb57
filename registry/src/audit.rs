//! Replay: recomputes everything a registry signed from its log alone, as an auditor does.
//!
//! The log carries enrolments, signer accreditations and revocations, signed events and signed
//! retractions, each with the time the registry accepted it, so replaying it re-checks every
//! acceptance rule — including the policy's published window of event times around the
//! acceptance time — rebuilds holder states, the holder tree and the log, and compares them with
//! each signed head.

use crate::event::{Entry, EntryBody, Role, POSITIVE_TEST};
use crate::head::{check_order, SignedHead};
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

/// One problem a replay found. Entries with a problem are not applied to any holder state, so
/// every later head that includes their effect is flagged too.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// The first epoch whose head covers the entry (or the head's own epoch).
    pub epoch: Option<u64>,
    /// Index of the log entry, when the finding is about one.
    pub entry: Option<u64>,
    /// The holder's leaf index, when known.
    pub leaf: Option<u32>,
    /// The event id (hex), when the entry is an event or a retraction.
    pub event: Option<String>,
    /// The signer's name, when known.
    pub signer: Option<String>,
    /// The signer's public key (hex), for events and retractions: names a signer that was never
    /// accredited, which has no name.
    pub signer_key: Option<String>,
    pub what: String,
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// A head's signature does not verify (wrong key, wrong policy, altered fields).
    HeadSignature,
    /// Heads out of order: epochs not consecutive, time not increasing, log or holders shrinking.
    HeadOrder,
    /// A head's log root, tree root or holder count differs from the replay.
    HeadMismatch,
    /// A log entry that is not backed by the rules (signature, accreditation, index case…).
    Entry,
    /// An event dated outside the policy's window around its acceptance time, or an event or
    /// retraction whose acceptance time is after the head that publishes it or before the head
    /// preceding that one.
    EventWindow,
}

impl Finding {
    pub fn to_error(&self) -> AuditError {
        match self.entry {
            Some(i) => AuditError::Entry(i, self.what.clone()),
            None => AuditError::Head(self.epoch.unwrap_or(0), self.what.clone()),
        }
    }
}

struct Signer {
    name: String,
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
    /// When the registry accepted it (its log entry's time).
    accepted_at: u64,
}

/// What a replay recomputed.
#[derive(Debug)]
pub struct Replay {
    pub tree: SparseTree,
    pub log: MemoryLog,
    pub holders: u64,
    /// Per holder: latest time per kind.
    pub states: Vec<Vec<u64>>,
    /// Everything that is not backed by the log and the signatures in it.
    pub findings: Vec<Finding>,
    /// Accepted events per `(epoch, signer name, kind)`, so bursts stand out.
    pub counts: std::collections::BTreeMap<(u64, String, String), u64>,
    /// Heads whose roots were compared with the replay.
    pub heads_checked: usize,
}

/// Replays `entries` (the whole log, in order) and checks each head against the recomputation;
/// fails on the first finding. See [`replay_all`] for the auditor's complete report.
pub fn replay(
    entries: &[Vec<u8>],
    heads: &[SignedHead],
    registry: &VerifyingKey,
    policy: &Policy,
) -> Result<Replay, AuditError> {
    let r = replay_all(entries, heads, registry, policy);
    match r.findings.first() {
        Some(f) => Err(f.to_error()),
        None => Ok(r),
    }
}

/// Replays the whole log, re-checking every acceptance rule (the window of event times against
/// each entry's acceptance time included), and compares each head with the recomputation. Never stops early:
/// every problem becomes a [`Finding`].
pub fn replay_all(
    entries: &[Vec<u8>],
    heads: &[SignedHead],
    registry: &VerifyingKey,
    policy: &Policy,
) -> Replay {
    let digest = policy.digest();
    let mut findings = Vec::new();
    for h in heads {
        if let Err(e) = h.verify(registry, &digest) {
            findings.push(head_finding(FindingKind::HeadSignature, h.epoch, e.to_string()));
        }
    }
    // The replay starts from the empty registry, so it needs every head from epoch 0: an export
    // without its early heads could hide one the registry signed over another log (a fork).
    if let Some(first) = heads.first().filter(|h| h.epoch != 0) {
        findings.push(head_finding(
            FindingKind::HeadOrder,
            first.epoch,
            format!("the heads start at epoch {} instead of 0: earlier heads are missing", first.epoch),
        ));
    }
    if let Err(e) = check_order(heads) {
        let epoch = match e {
            crate::head::HeadError::Chain(_, b, _) => b,
            _ => 0,
        };
        findings.push(head_finding(FindingKind::HeadOrder, epoch, e.to_string()));
    }
    // The head that first publishes entry `i`, and the last head before it.
    let head_of = |i: u64| heads.iter().find(|h| h.log_size > i);
    let head_before = |i: u64| heads.iter().rev().find(|h| h.log_size <= i);
    let mut r = Replayer::new(registry, policy);
    let mut counts = std::collections::BTreeMap::new();
    let mut heads_iter = heads.iter().peekable();
    let mut heads_checked = 0;

    for (i, bytes) in entries.iter().enumerate() {
        let i = i as u64;
        while let Some(h) = heads_iter.next_if(|h| h.log_size == i) {
            heads_checked += 1;
            r.check_head(h, &mut findings);
        }
        r.log.append(bytes);
        let epoch = head_of(i).map(|h| h.epoch);
        let mut finding = Finding {
            kind: FindingKind::Entry,
            epoch,
            entry: Some(i),
            leaf: None,
            event: None,
            signer: None,
            signer_key: None,
            what: String::new(),
        };
        let entry = match Entry::from_bytes(bytes) {
            Ok(e) => e,
            Err(e) => {
                finding.what = format!("undecodable entry: {e}");
                findings.push(finding);
                continue;
            }
        };
        let published = (head_before(i).map(|h| h.issued_at), head_of(i).map(|h| h.issued_at));
        match r.apply(&entry, published, &mut finding) {
            Ok(Some((signer, kind))) => {
                *counts.entry((epoch.unwrap_or(0), signer, kind)).or_insert(0u64) += 1;
            }
            Ok(None) => {}
            Err(why) => {
                finding.what = why;
                findings.push(finding);
            }
        }
    }
    let n = entries.len() as u64;
    for h in heads_iter.by_ref() {
        if h.log_size != n {
            findings.push(head_finding(
                FindingKind::HeadMismatch,
                h.epoch,
                "covers entries the log does not have".into(),
            ));
            continue;
        }
        heads_checked += 1;
        r.check_head(h, &mut findings);
    }
    let holders = r.commitments.len() as u32;
    let states = (0..holders).map(|h| r.state_of(h)).collect();
    Replay { tree: r.tree, log: r.log, holders: u64::from(holders), states, findings, counts, heads_checked }
}

fn head_finding(kind: FindingKind, epoch: u64, what: String) -> Finding {
    Finding {
        kind,
        epoch: Some(epoch),
        entry: None,
        leaf: None,
        event: None,
        signer: None,
        signer_key: None,
        what,
    }
}

/// What a replay rebuilds from the log, entry by entry.
struct Replayer<'a> {
    registry: &'a VerifyingKey,
    policy: &'a Policy,
    signers: HashMap<VerifyingKey, Signer>,
    names: BTreeSet<String>,
    /// Accredited auditors by key: name and whether revoked.
    auditors: HashMap<VerifyingKey, (String, bool)>,
    commitments: Vec<Fr>,
    seen_cm: BTreeSet<[u8; 32]>,
    events: HashMap<Hash, EventRec>,
    by_holder: HashMap<u32, Vec<Hash>>,
    tree: SparseTree,
    log: MemoryLog,
    /// Holders whose leaf changed since the last head.
    dirty: BTreeSet<u32>,
}

impl<'a> Replayer<'a> {
    fn new(registry: &'a VerifyingKey, policy: &'a Policy) -> Self {
        Self {
            registry,
            policy,
            signers: HashMap::new(),
            names: BTreeSet::new(),
            auditors: HashMap::new(),
            commitments: Vec::new(),
            seen_cm: BTreeSet::new(),
            events: HashMap::new(),
            by_holder: HashMap::new(),
            tree: SparseTree::new(),
            log: MemoryLog::new(),
            dirty: BTreeSet::new(),
        }
    }

    /// Brings the tree up to date and compares `h` with the replay so far.
    fn check_head(&mut self, h: &SignedHead, findings: &mut Vec<Finding>) {
        let leaves: Vec<(u32, Fr)> = self
            .dirty
            .iter()
            .map(|&hd| (hd, hashes::leaf(self.commitments[hd as usize], &state::pack(&self.state_of(hd)))))
            .collect();
        self.tree.set_leaves(leaves);
        self.dirty.clear();
        let mut fail =
            |why: &str| findings.push(head_finding(FindingKind::HeadMismatch, h.epoch, why.to_string()));
        if h.log_root != self.log.root() {
            fail("log root differs from the replayed log: the log was rewritten after this head");
        }
        if h.root != self.tree.root() {
            fail("holder-tree root differs from the tree replayed from signed events");
        }
        if h.holders != self.commitments.len() as u64 {
            fail("holder count differs from the replayed enrolments");
        }
    }

    /// Applies one decoded entry to the replayed state, or says why it is not backed. Returns
    /// the signer's name and the kind for an accepted event. `published` is the `issued_at` of the
    /// last head before the entry and of the head that first covers it.
    fn apply(
        &mut self,
        entry: &Entry,
        published: (Option<u64>, Option<u64>),
        finding: &mut Finding,
    ) -> Result<Option<(String, String)>, String> {
        let active =
            |signers: &HashMap<VerifyingKey, Signer>, key: &VerifyingKey| -> Result<(Role, String), String> {
                let s = signers.get(key).ok_or_else(|| {
                    format!(
                        "signed by an unknown signer, key {} (never accredited in this log)",
                        hex::encode(key.as_bytes())
                    )
                })?;
                if entry.at < s.from || s.revoked.is_some_and(|r| entry.at >= r) {
                    return Err(format!("signer `{}` was not accredited at acceptance time", s.name));
                }
                Ok((s.role, s.name.clone()))
            };
        match &entry.body {
            EntryBody::Enrol { leaf_index, commitment } => {
                finding.leaf = Some(*leaf_index);
                if *leaf_index as usize != self.commitments.len() {
                    return Err("leaf indices are not assigned in order".into());
                }
                let cm = field::from_bytes(commitment).map_err(|e| e.to_string())?;
                if !self.seen_cm.insert(*commitment) {
                    return Err("commitment enrolled twice".into());
                }
                self.commitments.push(cm);
                self.dirty.insert(*leaf_index);
            }
            EntryBody::SignerAdd { key, role, name, accredited_from } => {
                finding.signer = Some(name.clone());
                if self.signers.contains_key(key) || !self.names.insert(name.clone()) {
                    return Err("signer added twice".into());
                }
                self.signers.insert(
                    *key,
                    Signer { name: name.clone(), role: *role, from: *accredited_from, revoked: None },
                );
            }
            EntryBody::SignerRevoke { key, revoked_at } => {
                let s = self.signers.get_mut(key).ok_or("revoking an unknown signer")?;
                finding.signer = Some(s.name.clone());
                if s.revoked.is_some() {
                    return Err("signer revoked twice".into());
                }
                s.revoked = Some(*revoked_at);
            }
            EntryBody::Event(se) => {
                let e = &se.event;
                finding.leaf = Some(e.holder);
                finding.event = Some(hex::encode(e.id()));
                finding.signer = self.signers.get(&e.signer).map(|s| s.name.clone());
                finding.signer_key = Some(hex::encode(e.signer.as_bytes()));
                if e.registry != *self.registry || !se.verify() {
                    return Err(format!("{} event: signature does not verify for this registry", e.kind));
                }
                let (role, name) = active(&self.signers, &e.signer)?;
                let kind =
                    self.policy.event_index(&e.kind).ok_or_else(|| format!("unknown kind {}", e.kind))?;
                if role != Role::for_kind(&e.kind) {
                    return Err(format!("signer role not allowed for {}", e.kind));
                }
                if e.holder as usize >= self.commitments.len() {
                    return Err("event for a holder not enrolled".into());
                }
                if e.time == 0 || e.time > MAX_TIME {
                    return Err("event time out of range".into());
                }
                if let Some(why) = self.outside_window(entry.at, e.time, &e.kind, published) {
                    finding.kind = FindingKind::EventWindow;
                    return Err(why);
                }
                match (role, &e.index_case) {
                    (Role::Lab, None) => {}
                    (Role::Tracer, Some(case)) => match self.events.get(case) {
                        Some(c) if c.positive && !c.retracted && c.holder != e.holder => {
                            let max = self.policy.max_index_case_age;
                            if entry.at > c.accepted_at.saturating_add(max) {
                                return Err(format!(
                                    "contact accepted at {}, {} s after its index case: more than the policy's max_index_case_age {max} s",
                                    entry.at,
                                    entry.at - c.accepted_at
                                ));
                            }
                        }
                        _ => return Err(
                            "contact whose index case is not an earlier, live positive test of another holder"
                                .into(),
                        ),
                    },
                    _ => return Err("index case present on a test or missing on a contact".into()),
                }
                let id = e.id();
                if self.events.contains_key(&id) {
                    return Err("duplicate event".into());
                }
                self.events.insert(
                    id,
                    EventRec {
                        holder: e.holder,
                        kind,
                        time: e.time,
                        signer: e.signer,
                        positive: e.kind == POSITIVE_TEST,
                        retracted: false,
                        accepted_at: entry.at,
                    },
                );
                self.by_holder.entry(e.holder).or_default().push(id);
                self.dirty.insert(e.holder);
                return Ok(Some((name, e.kind.clone())));
            }
            EntryBody::Retraction(sr) => {
                let r = &sr.retraction;
                finding.event = Some(hex::encode(r.event));
                finding.signer = self.signers.get(&r.signer).map(|s| s.name.clone());
                finding.signer_key = Some(hex::encode(r.signer.as_bytes()));
                if r.registry != *self.registry || !sr.verify() {
                    return Err("retraction signature does not verify for this registry".into());
                }
                active(&self.signers, &r.signer)?;
                if let Some(why) = outside_heads(entry.at, "retraction", published) {
                    finding.kind = FindingKind::EventWindow;
                    return Err(why);
                }
                let ev = self.events.get_mut(&r.event).ok_or("retraction of an unknown event")?;
                finding.leaf = Some(ev.holder);
                if ev.signer != r.signer {
                    return Err("retraction by a signer other than the event's".into());
                }
                if ev.retracted {
                    return Err("retraction of an already retracted event".into());
                }
                let max = self.policy.max_retraction_age;
                if entry.at > ev.accepted_at.saturating_add(max) {
                    return Err(format!(
                        "retraction accepted at {}, {} s after the event: more than the policy's max_retraction_age {max} s",
                        entry.at,
                        entry.at - ev.accepted_at
                    ));
                }
                ev.retracted = true;
                self.dirty.insert(ev.holder);
            }
            EntryBody::AuditorAdd { key, name } => {
                if self.auditors.contains_key(key) || self.auditors.values().any(|(n, _)| n == name) {
                    return Err(format!("auditor `{name}` accredited twice"));
                }
                self.auditors.insert(*key, (name.clone(), false));
            }
            EntryBody::AuditorRevoke { key, .. } => {
                let (name, revoked) = self.auditors.get_mut(key).ok_or("revoking an unknown auditor")?;
                if *revoked {
                    return Err(format!("auditor `{name}` revoked twice"));
                }
                *revoked = true;
            }
        }
        Ok(None)
    }

    /// Why an event dated `time` and accepted at `at` is outside the published window, if it is:
    /// more than `max_event_ahead` after `at`, more than `max_event_behind` before it, or `at`
    /// itself outside the heads around the entry ([`outside_heads`]), so that the acceptance time
    /// cannot be moved to fit the window.
    fn outside_window(
        &self,
        at: u64,
        time: u64,
        kind: &str,
        published: (Option<u64>, Option<u64>),
    ) -> Option<String> {
        let p = self.policy;
        if time > at.saturating_add(p.max_event_ahead) {
            return Some(format!(
                "{kind} event dated {time}, {} s after its acceptance at {at}: more than the policy's max_event_ahead {} s",
                time - at,
                p.max_event_ahead
            ));
        }
        if time < at.saturating_sub(p.max_event_behind) {
            return Some(format!(
                "{kind} event dated {time}, {} s before its acceptance at {at}: more than the policy's max_event_behind {} s",
                at - time,
                p.max_event_behind
            ));
        }
        outside_heads(at, &format!("{kind} event dated {time}"), published)
    }

    /// The holder's state: per kind, the latest time of its live events.
    fn state_of(&self, holder: u32) -> Vec<u64> {
        let mut s = vec![0; self.policy.events.len()];
        for id in self.by_holder.get(&holder).into_iter().flatten() {
            let e = &self.events[id];
            if !e.retracted {
                s[e.kind] = s[e.kind].max(e.time);
            }
        }
        s
    }
}

/// Why an entry (`what`) accepted at `at` cannot have been accepted then, if it cannot: `at` is
/// later than the head that publishes it, or earlier than the head before that, by more than the
/// registry's `MAX_AHEAD` allowance (a publish may push `issued_at` that far ahead of its clock;
/// the registry refuses to accept before its latest head beyond it). Both directions matter: a
/// later `at` fits an event dated ahead into the window, an earlier one fits a contact or a
/// retraction into the look-back bounds (`max_index_case_age`, `max_retraction_age`) and a late
/// event into `max_event_behind`.
fn outside_heads(at: u64, what: &str, (before, publishing): (Option<u64>, Option<u64>)) -> Option<String> {
    let slack = crate::head::MAX_AHEAD;
    match (before, publishing) {
        (_, Some(issued)) if at > issued.saturating_add(slack) => Some(format!(
            "{what} claims acceptance at {at}, after the head that publishes it (issued at {issued})"
        )),
        (Some(issued), _) if at.saturating_add(slack) < issued => Some(format!(
            "{what} claims acceptance at {at}, before the head preceding the one that publishes it (issued at {issued})"
        )),
        _ => None,
    }
}

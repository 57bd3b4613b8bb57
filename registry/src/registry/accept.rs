//! Acceptance: accrediting and revoking signers, enrolling holders, accepting signed events and
//! retractions into the durable queue (each refusal leaves the registry unchanged), receipts.

use super::*;
use crate::store::{Row, Val};

/// The registry's receipt key and its promised merge delay (the policy's `max_merge_delay`).
#[derive(Clone)]
pub struct ReceiptSigner {
    key: SigningKey,
    max_merge_delay: u64,
}

impl ReceiptSigner {
    /// The receipt of `event` accepted at `accepted_at`: published by `accepted_at + max_merge_delay`.
    pub fn sign(&self, event: Hash, accepted_at: u64) -> Receipt {
        Receipt::sign(&self.key, event, accepted_at, accepted_at.saturating_add(self.max_merge_delay))
    }
}

/// A signed event with the outcome of its signature check. Only [`CheckedEvent::check`] makes
/// one, so a caller cannot claim a signature was checked when it was not.
#[derive(Clone, Debug)]
pub struct CheckedEvent {
    event: SignedEvent,
    signature_ok: bool,
}

impl CheckedEvent {
    pub fn check(event: SignedEvent) -> Self {
        let signature_ok = event.verify();
        Self { event, signature_ok }
    }

    pub fn event(&self) -> &SignedEvent {
        &self.event
    }

    pub fn signature_ok(&self) -> bool {
        self.signature_ok
    }
}

/// An accredited signer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignerInfo {
    pub name: String,
    pub role: Role,
    #[serde(with = "crate::event::hex_key")]
    pub key: VerifyingKey,
    pub accredited_from: u64,
    pub revoked_at: Option<u64>,
}

impl Registry {
    // ---- signers -------------------------------------------------------------------------

    /// Accredits a signer from `accredited_from` on; logged at the next publish.
    pub fn add_signer(
        &mut self,
        name: &str,
        role: Role,
        key: VerifyingKey,
        accredited_from: u64,
        now: u64,
    ) -> Result<()> {
        if name.is_empty() || name.len() > MAX_NAME {
            return Err(Refusal::BadSignerName.into());
        }
        let tx = self.db.begin(TxKind::Write)?;
        if tx.row("SELECT 1 FROM signers WHERE name = ?1", &args![name])?.is_some() {
            return Err(Refusal::DuplicateSigner("name").into());
        }
        if tx.row("SELECT 1 FROM signers WHERE key = ?1", &args![key.as_bytes()])?.is_some() {
            return Err(Refusal::DuplicateSigner("key").into());
        }
        tx.exec(
            "INSERT INTO signers (key, name, role, accredited_from) VALUES (?1, ?2, ?3, ?4)",
            &args![key.as_bytes(), name, role.name(), accredited_from],
        )?;
        let entry = Entry {
            at: now,
            body: EntryBody::SignerAdd { key, role, name: name.to_string(), accredited_from },
        };
        tx.exec("INSERT INTO queue (entry) VALUES (?1)", &args![entry.to_bytes()])?;
        tx.commit()?;
        Ok(())
    }

    /// Revokes a signer by name at `now`: its later submissions and retractions are refused.
    pub fn revoke_signer(&mut self, name: &str, now: u64) -> Result<SignerInfo> {
        let tx = self.db.begin(TxKind::Write)?;
        let info =
            signer_by(&tx, "name", name.into())?.ok_or_else(|| RegistryError::NoSuchSigner(name.into()))?;
        if let Some(at) = info.revoked_at {
            return Err(Refusal::SignerRevoked { name: name.into(), at }.into());
        }
        tx.exec("UPDATE signers SET revoked_at = ?1 WHERE name = ?2", &args![now, name])?;
        let entry = Entry { at: now, body: EntryBody::SignerRevoke { key: info.key, revoked_at: now } };
        tx.exec("INSERT INTO queue (entry) VALUES (?1)", &args![entry.to_bytes()])?;
        tx.commit()?;
        Ok(SignerInfo { revoked_at: Some(now), ..info })
    }

    pub fn signers(&self) -> Result<Vec<SignerInfo>> {
        let rows = self
            .db
            .rows("SELECT key, name, role, accredited_from, revoked_at FROM signers ORDER BY name", &[])?;
        rows.iter().map(signer_row).collect()
    }

    // ---- holders -------------------------------------------------------------------------

    /// Enrols a holder commitment (computed on the device) and returns its leaf index.
    pub fn enroll(&mut self, commitment: Fr, now: u64) -> Result<u32> {
        Ok(self.enroll_batch(&[commitment], now)?[0])
    }

    /// Enrols many commitments in one transaction (all or none).
    pub fn enroll_batch(&mut self, commitments: &[Fr], now: u64) -> Result<Vec<u32>> {
        self.enroll_in_one_transaction(commitments, None, now)
    }

    /// Enrols `commitments` (with the device key of each, when given) all or none.
    pub(super) fn enroll_in_one_transaction(
        &mut self,
        commitments: &[Fr],
        devices: Option<&[VerifyingKey]>,
        now: u64,
    ) -> Result<Vec<u32>> {
        let zero = state_to_blob(&vec![0; self.policy.events.len()]);
        let tx = self.db.begin(TxKind::Write)?;
        let next: u64 = tx.value("SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM holders", &[])?.unwrap_or(0);
        let mut out = Vec::with_capacity(commitments.len());
        let (mut holders, mut entries, mut keys) = (Vec::new(), Vec::new(), Vec::new());
        let mut batch = HashMap::with_capacity(commitments.len());
        for (i, cm) in commitments.iter().enumerate() {
            let index = u32::try_from(next + i as u64).map_err(|_| Refusal::RegistryFull)?;
            let bytes = field::to_bytes(cm);
            if let Some(&at) = batch.get(&bytes) {
                return Err(Refusal::DuplicateCommitment(at).into());
            }
            batch.insert(bytes, index);
            holders.push(args![index, bytes.as_slice(), zero.as_slice()].to_vec());
            let entry = Entry { at: now, body: EntryBody::Enrol { leaf_index: index, commitment: bytes } };
            entries.push(args![entry.to_bytes()].to_vec());
            if let Some(key) = devices.and_then(|d| d.get(i)) {
                keys.push(args![index, key.as_bytes()].to_vec());
            }
            out.push(index);
        }
        // Commitments enrolled before (looked up all at once; the batch's own were checked above).
        let lookups: Vec<Vec<_>> = batch.keys().map(|b| args![b].to_vec()).collect();
        let found = tx.rows_many("SELECT leaf_index FROM holders WHERE commitment = ?1", &lookups)?;
        if let Some(r) = found.iter().flatten().next() {
            return Err(Refusal::DuplicateCommitment(r.get(0)?).into());
        }
        tx.exec_many("INSERT INTO holders (leaf_index, commitment, state) VALUES (?1, ?2, ?3)", &holders)?;
        tx.exec_many("INSERT INTO queue (entry) VALUES (?1)", &entries)?;
        tx.exec_many("INSERT INTO holder_devices (leaf_index, key) VALUES (?1, ?2)", &keys)?;
        tx.commit()?;
        Ok(out)
    }

    // ---- events --------------------------------------------------------------------------

    /// Accepts one signed event into the queue, or refuses it (storing nothing).
    pub fn submit(&mut self, event: &SignedEvent, now: u64) -> Result<Hash> {
        self.submit_batch(std::slice::from_ref(event), now)?.remove(0).map_err(Into::into)
    }

    /// Accepts many events in one transaction; each gets its own verdict and refused ones store
    /// nothing. Signatures are checked on all cores first.
    pub fn submit_batch(
        &mut self,
        events: &[SignedEvent],
        now: u64,
    ) -> Result<Vec<std::result::Result<Hash, Refusal>>> {
        let checked = parallel_map(events, |e| CheckedEvent::check(e.clone()));
        self.submit_checked(&checked, now)
    }

    /// [`Registry::submit_batch`] for events whose signatures were checked already (by the
    /// service's request handlers, in parallel and outside the registry's lock).
    pub fn submit_checked(
        &mut self,
        events: &[CheckedEvent],
        now: u64,
    ) -> Result<Vec<std::result::Result<Hash, Refusal>>> {
        let me = self.key.verifying_key();
        let tx = self.db.begin(TxKind::Write)?;
        not_behind_latest_head(&tx, now)?;
        tx.event_partition(now)?;
        let mut known = Known::load(&tx, events)?;
        let mut out = Vec::with_capacity(events.len());
        let mut signers = HashMap::new();
        let (mut event_rows, mut queue_rows) = (Vec::new(), Vec::new());
        for CheckedEvent { event: ev, signature_ok: ok } in events {
            let ok = *ok;
            let verdict = check_event(&tx, &known, &self.policy, &me, &mut signers, ev, ok, now)?;
            if let Ok(id) = &verdict {
                let e = &ev.event;
                known.accepted(*id, e, now);
                event_rows.push(
                    args![
                        id,
                        e.holder,
                        e.kind.as_str(),
                        e.time,
                        e.signer.as_bytes(),
                        e.index_case.as_ref(),
                        now
                    ]
                    .to_vec(),
                );
                let entry = Entry { at: now, body: EntryBody::Event(ev.clone()) };
                queue_rows.push(args![entry.to_bytes()].to_vec());
            }
            out.push(verdict);
        }
        // In the batch's order: the queue's sequence numbers, and so the log, follow it.
        tx.exec_many(
            "INSERT INTO events (id, holder, kind, time, signer, index_case, accepted_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            &event_rows,
        )?;
        tx.exec_many("INSERT INTO queue (entry) VALUES (?1)", &queue_rows)?;
        tx.commit()?;
        Ok(out)
    }

    /// Accepts a signer's retraction of its own event; the holder's state is recomputed without
    /// it at the next publish.
    pub fn retract(&mut self, r: &SignedRetraction, now: u64) -> Result<()> {
        let x = &r.retraction;
        let id = hex_id(&x.event);
        if x.registry != self.key.verifying_key() {
            return Err(Refusal::WrongRegistry.into());
        }
        if !r.verify() {
            return Err(Refusal::BadSignature.into());
        }
        let tx = self.db.begin(TxKind::Write)?;
        not_behind_latest_head(&tx, now)?;
        active_signer(&tx, &x.signer, now)?;
        let row: Option<(Vec<u8>, bool, u64)> = tx
            .row("SELECT signer, retracted, accepted_at FROM events WHERE id = ?1", &args![&x.event])?
            .map(|r| Ok::<_, RegistryError>((r.get(0)?, r.get(1)?, r.get(2)?)))
            .transpose()?;
        let (orig, retracted, accepted_at) = row.ok_or_else(|| Refusal::UnknownEvent(id.clone()))?;
        if orig != x.signer.as_bytes() {
            return Err(Refusal::NotOriginalSigner(id).into());
        }
        if retracted {
            return Err(Refusal::AlreadyRetracted(id).into());
        }
        let max = self.policy.max_retraction_age;
        if now > accepted_at.saturating_add(max) {
            return Err(Refusal::RetractionTooLate { id, accepted_at, now, max }.into());
        }
        tx.exec("UPDATE events SET retracted = 1 WHERE id = ?1", &args![&x.event])?;
        let entry = Entry { at: now, body: EntryBody::Retraction(r.clone()) };
        tx.exec("INSERT INTO queue (entry) VALUES (?1)", &args![entry.to_bytes()])?;
        tx.commit()?;
        Ok(())
    }

    /// The receipt for an event accepted at `accepted_at`: signed by the registry key, promising
    /// a signed head that includes it by `accepted_at + max_merge_delay` (the policy's).
    pub fn receipt(&self, event: Hash, accepted_at: u64) -> Receipt {
        self.receipt_signer().sign(event, accepted_at)
    }

    /// What signs receipts, for a service that signs them without holding the registry.
    pub fn receipt_signer(&self) -> ReceiptSigner {
        ReceiptSigner { key: self.key.clone(), max_merge_delay: self.policy.max_merge_delay }
    }

    /// The receipt of an event accepted earlier, again: the same receipt (Ed25519 signatures are
    /// deterministic), for a submitter whose copy was lost.
    pub fn receipt_of(&self, event: Hash) -> Result<Receipt> {
        let at: Option<u64> =
            self.db.value("SELECT accepted_at FROM events WHERE id = ?1", &args![&event])?;
        let at = at.ok_or_else(|| Refusal::UnknownEvent(hex_id(&event)))?;
        Ok(self.receipt(event, at))
    }

    /// Entries accepted but not yet published.
    pub fn queue_len(&self) -> Result<u64> {
        Ok(self.db.value("SELECT COUNT(*) FROM queue", &[])?.unwrap_or(0))
    }
}

fn signer_row(r: &Row) -> Result<SignerInfo> {
    let role: String = r.get(2)?;
    Ok(SignerInfo {
        name: r.get(1)?,
        role: Role::parse(&role).ok_or_else(|| RegistryError::Corrupt(format!("role {role}")))?,
        key: key_from_blob(&r.get::<Vec<u8>>(0)?)?,
        accredited_from: r.get(3)?,
        revoked_at: r.get(4)?,
    })
}

/// The signer whose `column` (`name` or `key`) is `value`.
fn signer_by(db: &Db, column: &str, value: Val) -> Result<Option<SignerInfo>> {
    let sql = format!("SELECT key, name, role, accredited_from, revoked_at FROM signers WHERE {column} = ?1");
    db.row(&sql, &[value])?.map(|r| signer_row(&r)).transpose()
}

/// The signer of `key` if it may sign at `now`.
fn active_signer(db: &Db, key: &VerifyingKey, now: u64) -> Result<SignerInfo> {
    let info = signer_by(db, "key", key.as_bytes().into())?
        .ok_or_else(|| Refusal::UnknownSigner(hex::encode(key.as_bytes())))?;
    if let Some(at) = info.revoked_at {
        if now >= at {
            return Err(Refusal::SignerRevoked { name: info.name, at }.into());
        }
    }
    if now < info.accredited_from {
        return Err(Refusal::SignerNotYetAccredited { name: info.name, from: info.accredited_from }.into());
    }
    Ok(info)
}

/// Refuses to accept an event or a retraction at a `now` more than [`MAX_AHEAD`] before the
/// latest head's `issued_at` (which a publish may push that far ahead of its clock), as
/// `publish` refuses to sign then. The look-back bounds and the event window only bound which
/// stored events the rules read relative to `now`; a clock set back behind the registry's own
/// signed record would reach events older than the bounds (rows an archive may have removed, or
/// a duplicate's first copy), and the audit flags such a logged acceptance time.
fn not_behind_latest_head(db: &Db, now: u64) -> Result<()> {
    let last = latest_head(db)?.issued_at;
    if now.saturating_add(MAX_AHEAD) < last {
        return Err(RegistryError::ClockBehind { now, last });
    }
    Ok(())
}

/// The stored rows the acceptance rules read for a batch of events (its holders, and the events
/// it names: its own ids for the duplicate check, its index cases), read with one set query each
/// instead of a round trip per event and rule (≈ 5 per event on a database server). Kept
/// current as the batch's events are accepted, so a later event of the batch sees the earlier
/// ones as the rules would in the database: as duplicates, or as index cases.
struct Known {
    holders: HashSet<u32>,
    /// Stored events by id: kind, retracted, holder, acceptance time.
    events: HashMap<Hash, (String, bool, u32, u64)>,
    /// Events accepted before this were archived (0: none were): an index case missing from
    /// `events` may be one of them.
    archived_before: u64,
}

impl Known {
    fn load(db: &Db, batch: &[CheckedEvent]) -> Result<Self> {
        let mut holders: Vec<u32> = batch.iter().map(|c| c.event.event.holder).collect();
        holders.sort_unstable();
        holders.dedup();
        let keys: Vec<Vec<Val>> = holders.iter().map(|&h| args![h].to_vec()).collect();
        let found = db.rows_many("SELECT 1 FROM holders WHERE leaf_index = ?1", &keys)?;
        let holders =
            holders.into_iter().zip(found).filter(|(_, rows)| !rows.is_empty()).map(|(h, _)| h).collect();
        let mut ids: Vec<Hash> = batch
            .iter()
            .flat_map(|c| std::iter::once(c.event.event.id()).chain(c.event.event.index_case))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let keys: Vec<Vec<Val>> = ids.iter().map(|id| args![id].to_vec()).collect();
        let found =
            db.rows_many("SELECT kind, retracted, holder, accepted_at FROM events WHERE id = ?1", &keys)?;
        let mut events = HashMap::new();
        for (id, rows) in ids.into_iter().zip(found) {
            if let Some(r) = rows.first() {
                events.insert(id, (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?));
            }
        }
        // Only a refusal's wording depends on it: a damaged boundary (which the archive, histories
        // and the audit report) must not stop acceptance. (A failed read still does: on
        // PostgreSQL it has aborted the transaction.)
        let archived_before = match archive::archived_before(db) {
            Err(RegistryError::Corrupt(_)) => 0,
            other => other?,
        };
        Ok(Self { holders, events, archived_before })
    }

    /// `e`, with id `id`, was accepted in this batch at `now`.
    fn accepted(&mut self, id: Hash, e: &crate::Event, now: u64) {
        self.events.insert(id, (e.kind.clone(), false, e.holder, now));
    }
}

/// Every acceptance rule for one event. `Ok(Err(_))` is a refusal; `Err(_)` a storage failure.
#[allow(clippy::too_many_arguments)]
fn check_event(
    db: &Db,
    known: &Known,
    policy: &Policy,
    me: &VerifyingKey,
    signers: &mut HashMap<VerifyingKey, Result<SignerInfo, Refusal>>,
    ev: &SignedEvent,
    signature_ok: bool,
    now: u64,
) -> Result<std::result::Result<Hash, Refusal>> {
    let e = &ev.event;
    let refuse = |r: Refusal| Ok(Err(r));
    if e.registry != *me {
        return refuse(Refusal::WrongRegistry);
    }
    if !signature_ok {
        return refuse(Refusal::BadSignature);
    }
    // Signer status cannot change inside one batch's transaction: look each key up once.
    let signer = match signers.get(&e.signer) {
        Some(known) => known.clone(),
        None => {
            let found = match active_signer(db, &e.signer, now) {
                Ok(s) => Ok(s),
                Err(RegistryError::Refused(r)) => Err(r),
                Err(other) => return Err(other),
            };
            signers.insert(e.signer, found.clone());
            found
        }
    };
    let signer = match signer {
        Ok(s) => s,
        Err(r) => return refuse(r),
    };
    if policy.event_index(&e.kind).is_none() {
        return refuse(Refusal::UnknownKind(e.kind.clone()));
    }
    let needed = Role::for_kind(&e.kind);
    if signer.role != needed {
        return refuse(Refusal::RoleNotAllowed {
            kind: e.kind.clone(),
            name: signer.name,
            role: signer.role,
            needed,
        });
    }
    if !known.holders.contains(&e.holder) {
        return refuse(Refusal::UnknownHolder(e.holder));
    }
    if e.time == 0 || e.time > MAX_TIME {
        return refuse(Refusal::TimeOutOfRange { time: e.time });
    }
    if e.time > now.saturating_add(policy.max_event_ahead) {
        return refuse(Refusal::TimeInFuture { time: e.time, now, max_future: policy.max_event_ahead });
    }
    if e.time < now.saturating_sub(policy.max_event_behind) {
        return refuse(Refusal::TimeTooOld { time: e.time, now, max_past: policy.max_event_behind });
    }
    match (needed, &e.index_case) {
        (Role::Lab, Some(_)) => return refuse(Refusal::UnexpectedIndexCase(e.kind.clone())),
        (Role::Tracer, None) => return refuse(Refusal::MissingIndexCase(e.kind.clone())),
        (Role::Tracer, Some(case)) => {
            let id = hex_id(case);
            let max = policy.max_index_case_age;
            match known.events.get(case) {
                // (An archived index case was accepted more than `max_index_case_age` ago: see
                // `archive.rs`, which archives only months the acceptance rules no longer reach.)
                None if known.archived_before > 0 => {
                    return refuse(Refusal::IndexCaseUnknownOrArchived { id, before: known.archived_before })
                }
                None => return refuse(Refusal::IndexCaseUnknown(id)),
                Some((kind, ..)) if kind != POSITIVE_TEST => {
                    return refuse(Refusal::IndexCaseNotPositive(id))
                }
                Some((_, true, ..)) => return refuse(Refusal::IndexCaseRetracted(id)),
                Some((_, _, h, _)) if *h == e.holder => return refuse(Refusal::IndexCaseSameHolder),
                Some(&(_, _, _, accepted_at)) if now > accepted_at.saturating_add(max) => {
                    return refuse(Refusal::IndexCaseTooOld { id, accepted_at, now, max })
                }
                Some(_) => {}
            }
        }
        (Role::Lab, None) => {}
    }
    let id = e.id();
    if known.events.contains_key(&id) {
        return refuse(Refusal::Duplicate(hex_id(&id)));
    }
    Ok(Ok(id))
}

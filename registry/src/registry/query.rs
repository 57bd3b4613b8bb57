//! Reading: heads, witnesses for the prover, histories with inclusion proofs, consistency proofs
//! and the log itself.

use super::*;

/// Consistency of two heads' logs, with the heads themselves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    pub from: SignedHead,
    pub to: SignedHead,
    #[serde(with = "log::serde_hashes")]
    pub proof: Vec<Hash>,
}

impl ConsistencyProof {
    /// Checks both heads against the registry key and policy, then the RFC 9162 proof.
    pub fn verify(&self, registry: &VerifyingKey, policy: &Hash) -> Result<(), String> {
        self.from.verify(registry, policy).map_err(|e| format!("old head: {e}"))?;
        self.to.verify(registry, policy).map_err(|e| format!("new head: {e}"))?;
        if self.from.epoch > self.to.epoch || self.from.issued_at > self.to.issued_at {
            return Err("the heads are out of order".into());
        }
        if self.from.log_size == 0 {
            return if self.proof.is_empty() {
                Ok(())
            } else {
                Err("non-empty proof from an empty log".into())
            };
        }
        log::verify_consistency(
            self.from.log_size,
            self.to.log_size,
            &self.from.log_root,
            &self.to.log_root,
            &self.proof,
        )
        .map_err(|e| e.to_string())
    }
}

/// One row of the `events` table: what histories are served from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    pub id: Hash,
    pub holder: u32,
    pub kind: String,
    pub time: u64,
    pub signer: [u8; 32],
    pub index_case: Option<Hash>,
    pub accepted_at: u64,
    /// `None` while queued.
    pub log_index: Option<u64>,
    pub retracted: bool,
    pub retraction_log_index: Option<u64>,
}

impl Registry {
    pub fn head(&self) -> Result<SignedHead> {
        latest_head(&self.db)
    }

    pub fn head_at(&self, epoch: u64) -> Result<SignedHead> {
        let json: Option<String> = self.db.value("SELECT head FROM heads WHERE epoch = ?1", &args![epoch])?;
        parse_head(&json.ok_or(RegistryError::NoSuchEpoch(epoch))?)
    }

    /// Every head, epoch 0 first.
    pub fn heads(&self) -> Result<Vec<SignedHead>> {
        let rows = self.db.rows("SELECT head FROM heads ORDER BY epoch", &[])?;
        rows.iter().map(|r| parse_head(&r.get::<String>(0)?)).collect()
    }

    /// The witness export of the holder at `leaf_index` against the latest head: her row, the
    /// head and her path read in one snapshot (a publish by another process in between cannot
    /// mix two epochs), the path in O(depth) indexed reads.
    pub fn witness(&self, leaf_index: u32) -> Result<WitnessFile> {
        let tx = self.db.begin(TxKind::Snapshot)?;
        let row: Option<(Vec<u8>, Vec<u8>)> = tx
            .row("SELECT commitment, state FROM holders WHERE leaf_index = ?1", &args![leaf_index])?
            .map(|r| Ok::<_, RegistryError>((r.get(0)?, r.get(1)?)))
            .transpose()?;
        let (cm, st) = row.ok_or(Refusal::UnknownHolder(leaf_index))?;
        let head = latest_head(&tx)?;
        // Leaves are given out in order and a publish takes the whole queue, so the head's first
        // `holders` leaves are exactly the published ones.
        if u64::from(leaf_index) >= head.holders {
            return Err(RegistryError::NotPublished(leaf_index));
        }
        let st = state_from_blob(&st, self.policy.events.len())?;
        let mut cache = self.cache.borrow_mut();
        cache.sync(head.root);
        let path = tree::path(&tx, &mut cache, leaf_index)?;
        let state: BTreeMap<String, u64> =
            self.policy.events.iter().cloned().zip(st.iter().copied()).collect();
        let w = WitnessFile {
            version: WITNESS_VERSION,
            leaf_index,
            commitment: fr_from_blob(&cm)?,
            state,
            path,
            policy: self.digest,
            head,
        };
        // Never serve a witness that does not open its head (a lost or altered node or state
        // row, or a tree ahead of its head): the holder could not prove, and would not know why.
        if !w.opens_head(&st) {
            cache.clear();
            return Err(RegistryError::Corrupt(format!(
                "the stored tree and state of holder {leaf_index} do not open head {}",
                w.head.epoch
            )));
        }
        Ok(w)
    }

    /// Inclusion proof of log entry `index` in the log of the head at `epoch`.
    pub fn inclusion(&self, index: u64, head: &SignedHead) -> Result<InclusionProof> {
        if index >= head.log_size {
            return Err(ProofError::IndexOutOfRange { index, size: head.log_size }.into());
        }
        let entry = log_pages::read_all(&self.db, index, index + 1)?.remove(0);
        let proof = log::inclusion_proof(&DbSubtrees(&self.db), index, head.log_size)?;
        Ok(InclusionProof { index, log_size: head.log_size, entry, proof })
    }

    /// A holder's events, newest first, with signer names, retraction status and (for logged
    /// ones) inclusion proofs against the latest head: the "why is my code red" view.
    pub fn history(&self, leaf_index: u32) -> Result<History> {
        // One snapshot for every read below (they all go through this connection): a publish by
        // another process meanwhile cannot pair one epoch's head with another's state.
        let snapshot = self.db.begin(TxKind::Snapshot)?;
        if self.db.row("SELECT 1 FROM holders WHERE leaf_index = ?1", &args![leaf_index])?.is_none() {
            return Err(Refusal::UnknownHolder(leaf_index).into());
        }
        let head = self.head()?;
        let archived_before = self.archived_before()?;
        let rows = self.db.rows(
            "SELECT e.id, e.kind, e.time, s.name, s.role, e.index_case, e.accepted_at, e.log_idx,
                    e.retracted, e.retraction_log_idx
             FROM events e JOIN signers s ON s.key = e.signer
             WHERE e.holder = ?1 ORDER BY e.time DESC, e.id",
            &args![leaf_index],
        )?;
        let mut events = Vec::new();
        for r in &rows {
            let log_idx: Option<u64> = r.get(7)?;
            let role: String = r.get(4)?;
            let index_case: Option<Vec<u8>> = r.get(5)?;
            let inclusion = match log_idx {
                Some(i) if i < head.log_size => Some(self.inclusion(i, &head)?),
                _ => None,
            };
            let index_case = index_case.map(hash_from_blob).transpose()?;
            let index_case_status = match &index_case {
                Some(case) => {
                    let retracted: Option<bool> =
                        self.db.value("SELECT retracted FROM events WHERE id = ?1", &args![case])?;
                    Some(match retracted {
                        Some(true) => IndexCaseStatus::Retracted,
                        Some(false) => IndexCaseStatus::Live,
                        // An index case is accepted before its contact: only archiving removes it.
                        None if archived_before > 0 => IndexCaseStatus::Archived,
                        None => return Err(RegistryError::Corrupt("an event's index case is gone".into())),
                    })
                }
                None => None,
            };
            events.push(HistoryEvent {
                id: hash_from_blob(r.get(0)?)?,
                kind: r.get(1)?,
                time: r.get(2)?,
                signer: r.get(3)?,
                role: Role::parse(&role).ok_or_else(|| RegistryError::Corrupt("role".into()))?,
                index_case,
                index_case_status,
                accepted_at: r.get(6)?,
                retracted: r.get(8)?,
                retraction_log_index: r.get(9)?,
                inclusion,
            });
        }
        let state = self.witness(leaf_index).ok().map(|w| w.state);
        drop(snapshot);
        Ok(History { leaf_index, head, state, events, archived_before })
    }

    /// Consistency proof between the heads of two epochs.
    pub fn consistency(&self, from: u64, to: u64) -> Result<ConsistencyProof> {
        let (a, b) = (self.head_at(from)?, self.head_at(to)?);
        let proof = if a.log_size == 0 {
            Vec::new()
        } else {
            log::consistency_proof(&DbSubtrees(&self.db), a.log_size, b.log_size)?
        };
        Ok(ConsistencyProof { from: a, to: b, proof })
    }

    /// SQLite's own consistency check of the file (`PRAGMA integrity_check`): an index edited
    /// behind the tables' back (through `writable_schema`) hides rows from the queries that use it.
    pub fn integrity_problems(&self) -> Result<Vec<String>> {
        Ok(self.db.integrity_problems()?)
    }

    /// Every row of the `events` table, for the database audit to compare with the log.
    pub fn stored_events(&self) -> Result<Vec<StoredEvent>> {
        let rows = self.db.rows(
            "SELECT id, holder, kind, time, signer, index_case, accepted_at, log_idx, retracted,
                    retraction_log_idx FROM events ORDER BY id",
            &[],
        )?;
        rows.iter()
            .map(|r| {
                Ok(StoredEvent {
                    id: hash_from_blob(r.get(0)?)?,
                    holder: r.get(1)?,
                    kind: r.get(2)?,
                    time: r.get(3)?,
                    signer: hash_from_blob(r.get(4)?)?,
                    index_case: r.get::<Option<Vec<u8>>>(5)?.map(hash_from_blob).transpose()?,
                    accepted_at: r.get(6)?,
                    log_index: r.get(7)?,
                    retracted: r.get(8)?,
                    retraction_log_index: r.get(9)?,
                })
            })
            .collect()
    }

    /// Every enrolled holder's stored state, by leaf (what witnesses and the next publish start
    /// from): the database audit compares it with the replay.
    pub fn stored_states(&self) -> Result<Vec<(u32, Vec<u64>)>> {
        let rows = self.db.rows("SELECT leaf_index, state FROM holders ORDER BY leaf_index", &[])?;
        let kinds = self.policy.events.len();
        rows.iter().map(|r| Ok((r.get(0)?, state_from_blob(&r.get::<Vec<u8>>(1)?, kinds)?))).collect()
    }

    /// The stored perfect subtrees of the log (`level`, `index`, hash): inclusion and consistency
    /// proofs and the next publish's log root are built from them.
    pub fn stored_log_nodes(&self) -> Result<Vec<(u32, u64, Hash)>> {
        let rows = self.db.rows("SELECT level, idx, hash FROM log_nodes ORDER BY level, idx", &[])?;
        rows.iter().map(|r| Ok((r.get(0)?, r.get(1)?, hash_from_blob(r.get(2)?)?))).collect()
    }

    /// The logged entries `[from, to)` in order (what an auditor replays).
    pub fn log_entries(&self, from: u64, to: u64) -> Result<Vec<Vec<u8>>> {
        Ok(log_pages::read(&self.db, from, to)?)
    }
}

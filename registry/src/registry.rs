//! The registry facade: every operation an operator, lab, tracer, holder or auditor asks of it.
//!
//! Acceptance (`enroll`, `submit`, `retract`, signer changes) validates, then stores the entry in
//! the durable queue in one transaction; nothing reaches the holder tree or the log until
//! [`Registry::publish`], which applies the whole queue and signs the next head in a single
//! transaction. Every operation takes `now` explicitly so tests and replays are deterministic.

use crate::db::{self, DbSubtrees};
use crate::event::{Entry, EntryBody, Role, SignedEvent, SignedRetraction, Summary, MAX_NAME, POSITIVE_TEST};
use crate::head::{HeadFields, SignedHead};
use crate::history::{History, HistoryEvent, InclusionProof, IndexCaseStatus};
use crate::log::{self, Frontier, Hash, ProofError};
use crate::receipt::Receipt;
use crate::witness::{WitnessFile, WITNESS_VERSION};
use ed25519_dalek::{SigningKey, VerifyingKey};
use healthcode_circuits::field;
use healthcode_circuits::policy::Policy;
use healthcode_circuits::time::MAX_TIME;
use healthcode_circuits::tree::{parallel_chunks, SparseTree, BATCH};
use healthcode_circuits::{hashes, state, Fr};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// Why a submission was refused. Each refusal leaves the registry unchanged.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the event is for another registry")]
    WrongRegistry,
    #[error("unknown signer {0}")]
    UnknownSigner(String),
    #[error("signer `{name}` was revoked at {at}")]
    SignerRevoked { name: String, at: u64 },
    #[error("signer `{name}` is accredited only from {from}")]
    SignerNotYetAccredited { name: String, from: u64 },
    #[error("`{kind}` events are signed by a {needed}, and `{name}` is a {role}")]
    RoleNotAllowed { kind: String, name: String, role: Role, needed: Role },
    #[error("`{0}` is not an event kind of the registry's policy")]
    UnknownKind(String),
    #[error("no holder at leaf index {0}")]
    UnknownHolder(u32),
    #[error("event time {time} is outside 1..={MAX_TIME}")]
    TimeOutOfRange { time: u64 },
    #[error("event time {time} is more than the policy's max_event_ahead {max_future} s after now ({now})")]
    TimeInFuture { time: u64, now: u64, max_future: u64 },
    #[error("event time {time} is more than the policy's max_event_behind {max_past} s before now ({now})")]
    TimeTooOld { time: u64, now: u64, max_past: u64 },
    #[error("a `{0}` event must name the positive test of its index case")]
    MissingIndexCase(String),
    #[error("a `{0}` event is a test result and takes no index case")]
    UnexpectedIndexCase(String),
    #[error("index case {0} is not an accepted event")]
    IndexCaseUnknown(String),
    #[error("index case {0} is not a `positive_test` event")]
    IndexCaseNotPositive(String),
    #[error("index case {0} was retracted")]
    IndexCaseRetracted(String),
    #[error("a holder cannot be its own index case")]
    IndexCaseSameHolder,
    #[error("event {0} was already accepted")]
    Duplicate(String),
    #[error("event {0} is not an accepted event")]
    UnknownEvent(String),
    #[error("only the original signer may retract event {0}")]
    NotOriginalSigner(String),
    #[error("event {0} is already retracted")]
    AlreadyRetracted(String),
    #[error("this commitment is already enrolled (leaf {0})")]
    DuplicateCommitment(u32),
    #[error("the registry is full")]
    RegistryFull,
    #[error("a signer with this {0} already exists")]
    DuplicateSigner(&'static str),
    #[error("a signer name must be 1 to {MAX_NAME} bytes")]
    BadSignerName,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("refused: {0}")]
    Refused(#[from] Refusal),
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("the registry database is inconsistent: {0}")]
    Corrupt(String),
    #[error("{0} already exists; refusing to overwrite a registry")]
    Exists(String),
    #[error("policy: {0}")]
    Policy(String),
    #[error("the clock ({now}) is behind the latest head ({last}); refusing to sign an older head")]
    ClockBehind { now: u64, last: u64 },
    #[error("no head for epoch {0}")]
    NoSuchEpoch(u64),
    #[error("no signer named `{0}`")]
    NoSuchSigner(String),
    #[error("holder {0} is not in a published head yet; publish first")]
    NotPublished(u32),
    #[error("log proof: {0}")]
    Proof(#[from] ProofError),
    #[error("another process published since this registry was opened; call refresh or reopen")]
    Stale,
    #[error("publish interrupted by an injected fault at {0:?}")]
    Injected(PublishStep),
}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

impl RegistryError {
    /// The file is no usable registry: not a database, damaged, altered, read-only or not
    /// openable. The operator must fix the file (or the path), not retry.
    pub fn is_unusable_database(&self) -> bool {
        use rusqlite::ErrorCode as C;
        match self {
            RegistryError::Db(rusqlite::Error::SqliteFailure(f, _)) => matches!(
                f.code,
                C::NotADatabase | C::DatabaseCorrupt | C::ReadOnly | C::CannotOpen | C::PermissionDenied
            ),
            _ => false,
        }
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

/// The points of `publish` where a test can inject a failure (the transaction is then dropped
/// uncommitted, as after a crash).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublishStep {
    QueueRead,
    LogAppended,
    StatesComputed,
    TreeWritten,
    QueueCleared,
    HeadSigned,
}

impl PublishStep {
    pub const ALL: [PublishStep; 6] = [
        PublishStep::QueueRead,
        PublishStep::LogAppended,
        PublishStep::StatesComputed,
        PublishStep::TreeWritten,
        PublishStep::QueueCleared,
        PublishStep::HeadSigned,
    ];
}

/// Hooks for a publish: progress (`done`, `total` entries) and fault injection.
#[derive(Default)]
pub struct PublishHooks<'a> {
    pub progress: Option<&'a mut dyn FnMut(u64, u64)>,
    /// Called at each [`PublishStep`]; an `Err` aborts the publish there.
    pub fault: Option<&'a mut dyn FnMut(PublishStep) -> std::result::Result<(), ()>>,
}

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

/// How far ahead of the clock a head's `issued_at` may be pushed to keep the chain strictly
/// increasing (publishes in quick succession).
pub const MAX_AHEAD: u64 = 60;

const META_KEY: &str = "registry_secret_key";
const META_POLICY: &str = "policy";

pub struct Registry {
    conn: Connection,
    key: SigningKey,
    policy: Policy,
    digest: Hash,
    /// The holder tree as of the latest head, loaded from `tree_nodes`.
    tree: SparseTree,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Registry {{ policy: {}, key: <redacted> }}", self.policy.id)
    }
}

fn hex_id(h: &Hash) -> String {
    hex::encode(h)
}

fn state_to_blob(state: &[u64]) -> Vec<u8> {
    state.iter().flat_map(|t| t.to_be_bytes()).collect()
}

fn state_from_blob(b: &[u8], kinds: usize) -> Result<Vec<u64>> {
    if b.len() != 8 * kinds {
        return Err(RegistryError::Corrupt("a holder state has the wrong length".into()));
    }
    Ok(b.chunks(8).map(|c| u64::from_be_bytes(c.try_into().expect("8 bytes"))).collect())
}

fn fr_from_blob(b: &[u8]) -> Result<Fr> {
    field::from_bytes(b).map_err(|e| RegistryError::Corrupt(format!("stored field element: {e}")))
}

fn hash_from_blob(b: Vec<u8>) -> Result<Hash> {
    b.try_into().map_err(|_| RegistryError::Corrupt("a stored hash is not 32 bytes".into()))
}

fn key_from_blob(b: &[u8]) -> Result<VerifyingKey> {
    let b: [u8; 32] =
        b.try_into().map_err(|_| RegistryError::Corrupt("a stored key is not 32 bytes".into()))?;
    VerifyingKey::from_bytes(&b).map_err(|_| RegistryError::Corrupt("a stored key is invalid".into()))
}

fn load_tree(conn: &Connection) -> Result<SparseTree> {
    let mut stmt = conn.prepare("SELECT level, idx, hash FROM tree_nodes")?;
    let mut nodes = Vec::new();
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let level: i64 = r.get(0)?;
        let idx: i64 = r.get(1)?;
        let hash: Vec<u8> = r.get(2)?;
        nodes.push((level as usize, idx as u64, fr_from_blob(&hash)?));
    }
    SparseTree::from_nodes(nodes).map_err(RegistryError::Corrupt)
}

fn parse_head(json: &str) -> Result<SignedHead> {
    serde_json::from_str(json).map_err(|e| RegistryError::Corrupt(format!("stored head: {e}")))
}

/// Runs `f` over `items` on all cores (signature checks, leaf hashes), keeping order.
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || items.len() < 64 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> =
            items.chunks(chunk).map(|c| s.spawn(|| c.iter().map(&f).collect::<Vec<R>>())).collect();
        handles.into_iter().flat_map(|h| h.join().expect("worker does not panic")).collect()
    })
}

impl Registry {
    /// Creates a registry file for `policy_src` with a fresh signing key, and signs epoch 0
    /// (the empty tree and log) at `now`. The window of accepted event times is the policy's
    /// (`max_event_ahead`, `max_event_behind`): published, and checked again by the audit.
    pub fn init(path: &Path, policy_src: &str, now: u64) -> Result<Self> {
        if path.exists() {
            return Err(RegistryError::Exists(path.display().to_string()));
        }
        let policy = Policy::parse(policy_src).map_err(|e| RegistryError::Policy(e.to_string()))?;
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let mut conn = db::open(path, true)?;
        // The file holds the registry's signing key (SQLite gives its -wal/-shm files the same mode).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| RegistryError::Corrupt(format!("cannot restrict {}: {e}", path.display())))?;
        }
        let digest = policy.digest();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        db::set_meta(&tx, META_KEY, key.as_bytes())?;
        db::set_meta(&tx, META_POLICY, policy_src.as_bytes())?;
        let head = SignedHead::sign(
            &key,
            digest,
            HeadFields {
                epoch: 0,
                issued_at: now,
                root: SparseTree::new().root(),
                holders: 0,
                log_size: 0,
                log_root: log::empty_root(),
            },
        );
        tx.execute(
            "INSERT INTO heads (epoch, head) VALUES (0, ?1)",
            [serde_json::to_string(&head).expect("head")],
        )?;
        tx.commit()?;
        Ok(Self { conn, key, policy, digest, tree: SparseTree::new() })
    }

    /// Opens an existing registry, migrating its schema and loading the holder tree.
    pub fn open(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Err(RegistryError::Corrupt(format!("{} does not exist", path.display())));
        }
        let conn = db::open(path, false)?;
        let missing = |k: &str| RegistryError::Corrupt(format!("meta `{k}` is missing"));
        let key_bytes = db::get_meta(&conn, META_KEY)?.ok_or_else(|| missing(META_KEY))?;
        let key_bytes: [u8; 32] = key_bytes
            .try_into()
            .map_err(|_| RegistryError::Corrupt("the registry key is not 32 bytes".into()))?;
        let policy_src = db::get_meta(&conn, META_POLICY)?.ok_or_else(|| missing(META_POLICY))?;
        let policy_src = String::from_utf8(policy_src)
            .map_err(|_| RegistryError::Corrupt("the stored policy is not UTF-8".into()))?;
        let policy = Policy::parse(&policy_src).map_err(|e| RegistryError::Policy(e.to_string()))?;
        // Databases made before issue 11 also hold a `config` meta entry with a private time
        // window; it is ignored: the window is the published policy's.
        let tree = load_tree(&conn)?;
        let digest = policy.digest();
        Ok(Self { conn, key: SigningKey::from_bytes(&key_bytes), policy, digest, tree })
    }

    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn policy_digest(&self) -> Hash {
        self.digest
    }

    /// Reloads the holder tree if another process published since it was loaded (long-running
    /// servers call this before serving witnesses).
    pub fn refresh(&mut self) -> Result<()> {
        if self.head()?.root != self.tree.root() {
            self.tree = load_tree(&self.conn)?;
        }
        Ok(())
    }

    /// The current in-memory tree (as of the latest head).
    pub fn tree(&self) -> &SparseTree {
        &self.tree
    }

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
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists = |sql: &str, p: &dyn rusqlite::ToSql| -> Result<bool> {
            Ok(tx.query_row(sql, [p], |_| Ok(())).optional()?.is_some())
        };
        if exists("SELECT 1 FROM signers WHERE name = ?1", &name)? {
            return Err(Refusal::DuplicateSigner("name").into());
        }
        if exists("SELECT 1 FROM signers WHERE key = ?1", &key.as_bytes().as_slice())? {
            return Err(Refusal::DuplicateSigner("key").into());
        }
        tx.execute(
            "INSERT INTO signers (key, name, role, accredited_from) VALUES (?1, ?2, ?3, ?4)",
            params![key.as_bytes().as_slice(), name, role.name(), accredited_from as i64],
        )?;
        let entry = Entry {
            at: now,
            body: EntryBody::SignerAdd { key, role, name: name.to_string(), accredited_from },
        };
        tx.execute("INSERT INTO queue (entry) VALUES (?1)", [entry.to_bytes()])?;
        tx.commit()?;
        Ok(())
    }

    /// Revokes a signer by name at `now`: its later submissions and retractions are refused.
    pub fn revoke_signer(&mut self, name: &str, now: u64) -> Result<SignerInfo> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let info = signer_by(&tx, "name", &name)?.ok_or_else(|| RegistryError::NoSuchSigner(name.into()))?;
        if let Some(at) = info.revoked_at {
            return Err(Refusal::SignerRevoked { name: name.into(), at }.into());
        }
        tx.execute("UPDATE signers SET revoked_at = ?1 WHERE name = ?2", params![now as i64, name])?;
        let entry = Entry { at: now, body: EntryBody::SignerRevoke { key: info.key, revoked_at: now } };
        tx.execute("INSERT INTO queue (entry) VALUES (?1)", [entry.to_bytes()])?;
        tx.commit()?;
        Ok(SignerInfo { revoked_at: Some(now), ..info })
    }

    pub fn signers(&self) -> Result<Vec<SignerInfo>> {
        let mut stmt = self
            .conn
            .prepare("SELECT key, name, role, accredited_from, revoked_at FROM signers ORDER BY name")?;
        let rows = stmt.query_map([], signer_row)?;
        rows.map(|r| r?).collect()
    }

    // ---- holders -------------------------------------------------------------------------

    /// Enrols a holder commitment (computed on the device) and returns its leaf index.
    pub fn enroll(&mut self, commitment: Fr, now: u64) -> Result<u32> {
        Ok(self.enroll_batch(&[commitment], now)?[0])
    }

    /// Enrols many commitments in one transaction (all or none).
    pub fn enroll_batch(&mut self, commitments: &[Fr], now: u64) -> Result<Vec<u32>> {
        let zero = state_to_blob(&vec![0; self.policy.events.len()]);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let next: i64 =
            tx.query_row("SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM holders", [], |r| r.get(0))?;
        let mut out = Vec::with_capacity(commitments.len());
        {
            let mut find = tx.prepare_cached("SELECT leaf_index FROM holders WHERE commitment = ?1")?;
            let mut ins = tx.prepare_cached(
                "INSERT INTO holders (leaf_index, commitment, enrolled_at, state) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut queue = tx.prepare_cached("INSERT INTO queue (entry) VALUES (?1)")?;
            for (i, cm) in commitments.iter().enumerate() {
                let index = u32::try_from(next as u64 + i as u64).map_err(|_| Refusal::RegistryFull)?;
                let bytes = field::to_bytes(cm);
                if let Some(at) = find.query_row([bytes.as_slice()], |r| r.get::<_, u32>(0)).optional()? {
                    return Err(Refusal::DuplicateCommitment(at).into());
                }
                ins.execute(params![index, bytes.as_slice(), now as i64, zero])?;
                let entry =
                    Entry { at: now, body: EntryBody::Enrol { leaf_index: index, commitment: bytes } };
                queue.execute([entry.to_bytes()])?;
                out.push(index);
            }
        }
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
        let sig_ok = parallel_map(events, |e| e.verify());
        let me = self.key.verifying_key();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut out = Vec::with_capacity(events.len());
        let mut signers = HashMap::new();
        for (ev, ok) in events.iter().zip(sig_ok) {
            let verdict = check_event(&tx, &self.policy, &me, &mut signers, ev, ok, now)?;
            if let Ok(id) = &verdict {
                let e = &ev.event;
                tx.prepare_cached(
                    "INSERT INTO events (id, holder, kind, time, signer, index_case, accepted_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![
                    id.as_slice(),
                    e.holder,
                    e.kind,
                    e.time as i64,
                    e.signer.as_bytes().as_slice(),
                    e.index_case.as_ref().map(|h| h.as_slice()),
                    now as i64
                ])?;
                let entry = Entry { at: now, body: EntryBody::Event(ev.clone()) };
                tx.prepare_cached("INSERT INTO queue (entry) VALUES (?1)")?.execute([entry.to_bytes()])?;
            }
            out.push(verdict);
        }
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
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        active_signer(&tx, &x.signer, now)?;
        let row: Option<(Vec<u8>, bool)> = tx
            .query_row("SELECT signer, retracted FROM events WHERE id = ?1", [x.event.as_slice()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let (orig, retracted) = row.ok_or_else(|| Refusal::UnknownEvent(id.clone()))?;
        if orig != x.signer.as_bytes() {
            return Err(Refusal::NotOriginalSigner(id).into());
        }
        if retracted {
            return Err(Refusal::AlreadyRetracted(id).into());
        }
        tx.execute("UPDATE events SET retracted = 1 WHERE id = ?1", [x.event.as_slice()])?;
        let entry = Entry { at: now, body: EntryBody::Retraction(r.clone()) };
        tx.execute("INSERT INTO queue (entry) VALUES (?1)", [entry.to_bytes()])?;
        tx.commit()?;
        Ok(())
    }

    /// The receipt for an event accepted at `accepted_at`: signed by the registry key, promising
    /// a signed head that includes it by `accepted_at + max_merge_delay` (the policy's).
    pub fn receipt(&self, event: Hash, accepted_at: u64) -> Receipt {
        Receipt::sign(&self.key, event, accepted_at, accepted_at.saturating_add(self.policy.max_merge_delay))
    }

    /// Entries accepted but not yet published.
    pub fn queue_len(&self) -> Result<u64> {
        Ok(self.conn.query_row("SELECT COUNT(*) FROM queue", [], |r| r.get::<_, i64>(0))? as u64)
    }

    // ---- publish -------------------------------------------------------------------------

    pub fn publish(&mut self, now: u64) -> Result<SignedHead> {
        self.publish_with(now, PublishHooks::default())
    }

    /// Applies the whole queue as the next epoch in one transaction: log append, holder states,
    /// leaves, tree nodes, queue cleared, head signed. On any failure nothing is applied and the
    /// in-memory tree is reloaded from the database.
    pub fn publish_with(&mut self, now: u64, hooks: PublishHooks) -> Result<SignedHead> {
        let result = self.publish_inner(now, hooks);
        if result.is_err() {
            self.tree = load_tree(&self.conn)?;
        }
        result
    }

    fn publish_inner(&mut self, now: u64, mut hooks: PublishHooks) -> Result<SignedHead> {
        let mut fault_hook = hooks.fault.take();
        let mut fault = |step: PublishStep| -> Result<()> {
            match fault_hook.as_mut() {
                Some(f) => f(step).map_err(|()| RegistryError::Injected(step)),
                None => Ok(()),
            }
        };
        let kinds = self.policy.events.len();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let prev = latest_head(&tx)?;
        // Another process may have published since this handle loaded its tree.
        if self.tree.root() != prev.root {
            self.tree = load_tree(&tx)?;
        }
        // Strictly increasing even for several publishes within one second, but never more
        // than MAX_AHEAD seconds ahead of the clock: a clock set back is an operator error.
        let issued_at = now.max(prev.issued_at + 1);
        if issued_at > now.saturating_add(MAX_AHEAD) {
            return Err(RegistryError::ClockBehind { now, last: prev.issued_at });
        }
        let epoch = prev.epoch + 1;

        let queue: Vec<(i64, Vec<u8>)> = {
            let mut stmt = tx.prepare("SELECT seq, entry FROM queue ORDER BY seq")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let total = queue.len() as u64;
        fault(PublishStep::QueueRead)?;

        // 1. What each entry does (no public key is decompressed: entries were validated when
        //    accepted).
        let summaries = queue
            .iter()
            .map(|(_, b)| Entry::summary(b))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| RegistryError::Corrupt(format!("queued entry: {e}")))?;
        let mut new_holders = 0u64;
        // holder → whether it needs a full recomputation (a retraction touched it).
        let mut touched: HashMap<u32, bool> = HashMap::new();
        // Events of this batch per holder, and the ids retracted in this batch.
        let mut batch_events: HashMap<u32, Vec<(usize, u64, Hash)>> = HashMap::new();
        let mut retracted_now: HashSet<Hash> = HashSet::new();
        {
            let mut holder_of = tx.prepare_cached("SELECT holder FROM events WHERE id = ?1")?;
            for s in &summaries {
                match s {
                    Summary::Enrol { leaf_index } => {
                        new_holders += 1;
                        touched.entry(*leaf_index).or_insert(false);
                    }
                    Summary::Event { id, holder, kind, time } => {
                        let kind = self.policy.event_index(kind).ok_or_else(|| {
                            RegistryError::Corrupt(format!("queued event of unknown kind {kind}"))
                        })?;
                        touched.entry(*holder).or_insert(false);
                        batch_events.entry(*holder).or_default().push((kind, *time, *id));
                    }
                    Summary::Retraction { event } => {
                        let holder: u32 = holder_of.query_row([event.as_slice()], |r| r.get(0))?;
                        touched.insert(holder, true);
                        retracted_now.insert(*event);
                    }
                    Summary::Signer => {}
                }
            }
        }

        // 2. New states (per-kind max; a retraction forces recomputation from all events).
        let mut holders: Vec<u32> = touched.keys().copied().collect();
        holders.sort_unstable();
        let mut rows: Vec<(u32, Fr, Vec<u64>)> = Vec::with_capacity(holders.len());
        {
            let mut get = tx.prepare_cached("SELECT commitment, state FROM holders WHERE leaf_index = ?1")?;
            let mut all = tx.prepare_cached(
                "SELECT kind, MAX(time) FROM events WHERE holder = ?1 AND retracted = 0 GROUP BY kind",
            )?;
            for &h in &holders {
                let (cm, st): (Vec<u8>, Vec<u8>) = get.query_row([h], |r| Ok((r.get(0)?, r.get(1)?)))?;
                let mut state = if touched[&h] {
                    let mut s = vec![0u64; kinds];
                    let mut q = all.query([h])?;
                    while let Some(r) = q.next()? {
                        let kind: String = r.get(0)?;
                        let t: i64 = r.get(1)?;
                        let k = self.policy.event_index(&kind).ok_or_else(|| {
                            RegistryError::Corrupt(format!("stored event of unknown kind {kind}"))
                        })?;
                        s[k] = t as u64;
                    }
                    s
                } else {
                    state_from_blob(&st, kinds)?
                };
                for (k, t, id) in batch_events.get(&h).into_iter().flatten() {
                    if !retracted_now.contains(id) {
                        state[*k] = state[*k].max(*t);
                    }
                }
                rows.push((h, fr_from_blob(&cm)?, state));
            }
        }
        fault(PublishStep::StatesComputed)?;

        // 3. Hash the leaves and the tree on worker threads while this thread appends to the
        //    log: the two are independent, and hashing is the larger cost.
        let tree = &mut self.tree;
        let (log_size, log_root, changed) = std::thread::scope(|scope| -> Result<_> {
            let hashing = scope.spawn(|| {
                let leaves = parallel_chunks(&rows, |chunk| {
                    let mut out = Vec::with_capacity(chunk.len());
                    for block in chunk.chunks(BATCH) {
                        let inputs: Vec<_> = block.iter().map(|(_, cm, st)| (*cm, state::pack(st))).collect();
                        out.extend(hashes::leaf_many(&inputs));
                    }
                    out
                });
                tree.set_leaves_changed(rows.iter().map(|r| r.0).zip(leaves))
            });
            let mut frontier = Frontier::load(&DbSubtrees(&tx), prev.log_size)?;
            let mut ins_log = tx.prepare_cached("INSERT INTO log (idx, entry, epoch) VALUES (?1, ?2, ?3)")?;
            let mut ins_node =
                tx.prepare_cached("INSERT INTO log_nodes (level, idx, hash) VALUES (?1, ?2, ?3)")?;
            let mut set_idx = tx.prepare_cached("UPDATE events SET log_idx = ?1 WHERE id = ?2")?;
            let mut set_ridx =
                tx.prepare_cached("UPDATE events SET retraction_log_idx = ?1 WHERE id = ?2")?;
            for (i, ((_, bytes), summary)) in queue.iter().zip(&summaries).enumerate() {
                let idx = frontier.size();
                ins_log.execute(params![idx as i64, bytes, epoch as i64])?;
                for (level, index, hash) in frontier.push(log::leaf_hash(bytes)) {
                    ins_node.execute(params![level, index as i64, hash.as_slice()])?;
                }
                match summary {
                    Summary::Event { id, .. } => {
                        set_idx.execute(params![idx as i64, id.as_slice()])?;
                    }
                    Summary::Retraction { event } => {
                        set_ridx.execute(params![idx as i64, event.as_slice()])?;
                    }
                    Summary::Enrol { .. } | Summary::Signer => {}
                }
                if let Some(p) = hooks.progress.as_mut() {
                    if i % 1024 == 0 || i as u64 + 1 == total {
                        p(i as u64 + 1, total);
                    }
                }
            }
            let mut up_holder =
                tx.prepare_cached("UPDATE holders SET state = ?1, published = 1 WHERE leaf_index = ?2")?;
            for (h, _, st) in &rows {
                up_holder.execute(params![state_to_blob(st), h])?;
            }
            let changed =
                hashing.join().map_err(|_| RegistryError::Corrupt("tree hashing panicked".into()))?;
            Ok((frontier.size(), frontier.root(), changed))
        })?;
        fault(PublishStep::LogAppended)?;

        // 4. Persist the tree nodes that changed.
        {
            let mut put = tx
                .prepare_cached("INSERT OR REPLACE INTO tree_nodes (level, idx, hash) VALUES (?1, ?2, ?3)")?;
            let mut del = tx.prepare_cached("DELETE FROM tree_nodes WHERE level = ?1 AND idx = ?2")?;
            for (level, idx, v) in changed {
                if v == healthcode_circuits::tree::empty_root(level) {
                    del.execute(params![level as i64, idx as i64])?;
                } else {
                    put.execute(params![level as i64, idx as i64, field::to_bytes(&v).as_slice()])?;
                }
            }
        }
        fault(PublishStep::TreeWritten)?;

        if let Some((last, _)) = queue.last() {
            tx.execute("DELETE FROM queue WHERE seq <= ?1", [last])?;
        }
        fault(PublishStep::QueueCleared)?;

        let head = SignedHead::sign(
            &self.key,
            self.digest,
            HeadFields {
                epoch,
                issued_at,
                root: self.tree.root(),
                holders: prev.holders + new_holders,
                log_size,
                log_root,
            },
        );
        tx.execute(
            "INSERT INTO heads (epoch, head) VALUES (?1, ?2)",
            params![epoch as i64, serde_json::to_string(&head).expect("head")],
        )?;
        fault(PublishStep::HeadSigned)?;
        tx.commit()?;
        Ok(head)
    }

    // ---- reading -------------------------------------------------------------------------

    pub fn head(&self) -> Result<SignedHead> {
        latest_head(&self.conn)
    }

    pub fn head_at(&self, epoch: u64) -> Result<SignedHead> {
        let json: Option<String> = self
            .conn
            .query_row("SELECT head FROM heads WHERE epoch = ?1", [epoch as i64], |r| r.get(0))
            .optional()?;
        parse_head(&json.ok_or(RegistryError::NoSuchEpoch(epoch))?)
    }

    /// Every head, epoch 0 first.
    pub fn heads(&self) -> Result<Vec<SignedHead>> {
        let mut stmt = self.conn.prepare("SELECT head FROM heads ORDER BY epoch")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|r| parse_head(&r?)).collect()
    }

    /// The witness export of the holder at `leaf_index` against the latest head.
    pub fn witness(&self, leaf_index: u32) -> Result<WitnessFile> {
        let row: Option<(Vec<u8>, Vec<u8>, bool)> = self
            .conn
            .prepare_cached("SELECT commitment, state, published FROM holders WHERE leaf_index = ?1")?
            .query_row([leaf_index], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let (cm, st, published) = row.ok_or(Refusal::UnknownHolder(leaf_index))?;
        if !published {
            return Err(RegistryError::NotPublished(leaf_index));
        }
        let st = state_from_blob(&st, self.policy.events.len())?;
        let head = self.head()?;
        if head.root != self.tree.root() {
            return Err(RegistryError::Stale);
        }
        let state: BTreeMap<String, u64> = self.policy.events.iter().cloned().zip(st).collect();
        Ok(WitnessFile {
            version: WITNESS_VERSION,
            leaf_index,
            commitment: fr_from_blob(&cm)?,
            state,
            path: self.tree.path(leaf_index),
            policy: self.digest,
            head,
        })
    }

    /// Inclusion proof of log entry `index` in the log of the head at `epoch`.
    pub fn inclusion(&self, index: u64, head: &SignedHead) -> Result<InclusionProof> {
        let entry: Vec<u8> = self
            .conn
            .query_row("SELECT entry FROM log WHERE idx = ?1", [index as i64], |r| r.get(0))
            .optional()?
            .ok_or(ProofError::IndexOutOfRange { index, size: head.log_size })?;
        let proof = log::inclusion_proof(&DbSubtrees(&self.conn), index, head.log_size)?;
        Ok(InclusionProof { index, log_size: head.log_size, entry, proof })
    }

    /// A holder's events, newest first, with signer names, retraction status and (for logged
    /// ones) inclusion proofs against the latest head: the "why is my code red" view.
    pub fn history(&self, leaf_index: u32) -> Result<History> {
        let exists: Option<i64> = self
            .conn
            .query_row("SELECT 1 FROM holders WHERE leaf_index = ?1", [leaf_index], |r| r.get(0))
            .optional()?;
        exists.ok_or(Refusal::UnknownHolder(leaf_index))?;
        let head = self.head()?;
        let mut stmt = self.conn.prepare(
            "SELECT e.id, e.kind, e.time, s.name, s.role, e.index_case, e.accepted_at, e.log_idx,
                    e.retracted, e.retraction_log_idx
             FROM events e JOIN signers s ON s.key = e.signer
             WHERE e.holder = ?1 ORDER BY e.time DESC, e.id",
        )?;
        let mut rows = stmt.query([leaf_index])?;
        let mut events = Vec::new();
        while let Some(r) = rows.next()? {
            let log_idx: Option<i64> = r.get(7)?;
            let role: String = r.get(4)?;
            let index_case: Option<Vec<u8>> = r.get(5)?;
            let retraction_log_idx: Option<i64> = r.get(9)?;
            let inclusion = match log_idx {
                Some(i) if (i as u64) < head.log_size => Some(self.inclusion(i as u64, &head)?),
                _ => None,
            };
            let index_case = index_case.map(hash_from_blob).transpose()?;
            let index_case_status = match &index_case {
                Some(case) => {
                    let retracted: bool = self.conn.query_row(
                        "SELECT retracted FROM events WHERE id = ?1",
                        [&case[..]],
                        |r| r.get(0),
                    )?;
                    Some(if retracted { IndexCaseStatus::Retracted } else { IndexCaseStatus::Live })
                }
                None => None,
            };
            events.push(HistoryEvent {
                id: hash_from_blob(r.get(0)?)?,
                kind: r.get(1)?,
                time: r.get::<_, i64>(2)? as u64,
                signer: r.get(3)?,
                role: Role::parse(&role).ok_or_else(|| RegistryError::Corrupt("role".into()))?,
                index_case,
                index_case_status,
                accepted_at: r.get::<_, i64>(6)? as u64,
                retracted: r.get(8)?,
                retraction_log_index: retraction_log_idx.map(|i| i as u64),
                inclusion,
            });
        }
        let state = self.witness(leaf_index).ok().map(|w| w.state);
        Ok(History { leaf_index, head, state, events })
    }

    /// Consistency proof between the heads of two epochs.
    pub fn consistency(&self, from: u64, to: u64) -> Result<ConsistencyProof> {
        let (a, b) = (self.head_at(from)?, self.head_at(to)?);
        let proof = if a.log_size == 0 {
            Vec::new()
        } else {
            log::consistency_proof(&DbSubtrees(&self.conn), a.log_size, b.log_size)?
        };
        Ok(ConsistencyProof { from: a, to: b, proof })
    }

    /// The logged entries `[from, to)` in order (what an auditor replays).
    pub fn log_entries(&self, from: u64, to: u64) -> Result<Vec<Vec<u8>>> {
        let mut stmt =
            self.conn.prepare("SELECT entry FROM log WHERE idx >= ?1 AND idx < ?2 ORDER BY idx")?;
        let rows = stmt.query_map(params![from as i64, to as i64], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

fn latest_head(conn: &Connection) -> Result<SignedHead> {
    let json: String = conn
        .query_row("SELECT head FROM heads ORDER BY epoch DESC LIMIT 1", [], |r| r.get(0))
        .optional()?
        .ok_or_else(|| RegistryError::Corrupt("no head".into()))?;
    parse_head(&json)
}

fn signer_row(r: &rusqlite::Row) -> rusqlite::Result<Result<SignerInfo>> {
    let key: Vec<u8> = r.get(0)?;
    let role: String = r.get(2)?;
    let from: i64 = r.get(3)?;
    let revoked: Option<i64> = r.get(4)?;
    let name: String = r.get(1)?;
    Ok((|| {
        Ok(SignerInfo {
            name,
            role: Role::parse(&role).ok_or_else(|| RegistryError::Corrupt(format!("role {role}")))?,
            key: key_from_blob(&key)?,
            accredited_from: from as u64,
            revoked_at: revoked.map(|t| t as u64),
        })
    })())
}

fn signer_by(conn: &Connection, column: &str, value: &dyn rusqlite::ToSql) -> Result<Option<SignerInfo>> {
    let sql = format!("SELECT key, name, role, accredited_from, revoked_at FROM signers WHERE {column} = ?1");
    conn.prepare_cached(&sql)?.query_row([value], signer_row).optional()?.transpose()
}

/// The signer of `key` if it may sign at `now`.
fn active_signer(conn: &Connection, key: &VerifyingKey, now: u64) -> Result<SignerInfo> {
    let info = signer_by(conn, "key", &key.as_bytes().as_slice())?
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

/// Every acceptance rule for one event. `Ok(Err(_))` is a refusal; `Err(_)` a storage failure.
#[allow(clippy::too_many_arguments)]
fn check_event(
    conn: &Connection,
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
            let found = match active_signer(conn, &e.signer, now) {
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
    let holder: Option<i64> = conn
        .prepare_cached("SELECT 1 FROM holders WHERE leaf_index = ?1")?
        .query_row([e.holder], |r| r.get(0))
        .optional()?;
    if holder.is_none() {
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
            let row: Option<(String, bool, u32)> = conn
                .prepare_cached("SELECT kind, retracted, holder FROM events WHERE id = ?1")?
                .query_row([case.as_slice()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            let id = hex_id(case);
            match row {
                None => return refuse(Refusal::IndexCaseUnknown(id)),
                Some((kind, _, _)) if kind != POSITIVE_TEST => {
                    return refuse(Refusal::IndexCaseNotPositive(id))
                }
                Some((_, true, _)) => return refuse(Refusal::IndexCaseRetracted(id)),
                Some((_, _, h)) if h == e.holder => return refuse(Refusal::IndexCaseSameHolder),
                Some(_) => {}
            }
        }
        (Role::Lab, None) => {}
    }
    let id = e.id();
    let dup: Option<i64> = conn
        .prepare_cached("SELECT 1 FROM events WHERE id = ?1")?
        .query_row([id.as_slice()], |r| r.get(0))
        .optional()?;
    if dup.is_some() {
        return refuse(Refusal::Duplicate(hex_id(&id)));
    }
    Ok(Ok(id))
}

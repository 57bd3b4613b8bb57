//! The registry facade: every operation an operator, lab, tracer, holder or auditor asks of it.
//!
//! Acceptance (`enroll`, `submit`, `retract`, signer changes) validates, then stores the entry in
//! the durable queue in one transaction; nothing reaches the holder tree or the log until
//! [`Registry::publish`], which applies the whole queue and signs the next head in a single
//! transaction. Every operation takes `now` explicitly so tests and replays are deterministic.
//!
//! The operations are split by role: `accept` (signers, enrolment, events, retractions,
//! receipts), `publish` (the epoch transaction) and `query` (heads, witnesses, histories,
//! proofs, the log). This module holds what they share: the errors, the open database and tree,
//! and the conversions between stored blobs and values.

mod accept;
mod access;
mod archive;
mod publish;
mod query;
mod tree;

pub use accept::{CheckedEvent, ReceiptSigner, SignerInfo};
pub use access::AuditorInfo;
pub use archive::Archived;
pub use publish::{PublishHooks, PublishStep, MAX_AHEAD};
pub use query::{ConsistencyProof, StoredEvent};
pub use tree::DEFAULT_CACHE_LEVELS;

use crate::args;
use crate::event::{Entry, EntryBody, Role, SignedEvent, SignedRetraction, Summary, MAX_NAME, POSITIVE_TEST};
use crate::head::{HeadFields, SignedHead};
use crate::history::{History, HistoryEvent, InclusionProof, IndexCaseStatus};
use crate::log::{self, Frontier, Hash, ProofError};
use crate::receipt::Receipt;
use crate::store::{log_pages, Db, DbError, DbErrorKind, DbSubtrees, Location, TxKind, LOG_STORED_FROM};
use crate::witness::{WitnessFile, WITNESS_VERSION};
use ed25519_dalek::{SigningKey, VerifyingKey};
use healthcode_circuits::field;
use healthcode_circuits::policy::Policy;
use healthcode_circuits::time::MAX_TIME;
use healthcode_circuits::tree::{parallel_chunks, SparseTree, BATCH};
use healthcode_circuits::{hashes, state, Fr};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
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
    /// A registry with archived months cannot tell a case never accepted from an archived one;
    /// either way it is no index case for a new contact.
    #[error("index case {id} is not among the registry's events: it was never accepted, or it was accepted before {before}, archived, and is older than the policy's max_index_case_age")]
    IndexCaseUnknownOrArchived { id: String, before: u64 },
    #[error("index case {0} is not a `positive_test` event")]
    IndexCaseNotPositive(String),
    #[error("index case {0} was retracted")]
    IndexCaseRetracted(String),
    #[error("index case {id} was accepted at {accepted_at}, more than the policy's max_index_case_age {max} s before now ({now})")]
    IndexCaseTooOld { id: String, accepted_at: u64, now: u64, max: u64 },
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
    #[error("event {id} was accepted at {accepted_at}, more than the policy's max_retraction_age {max} s before now ({now}): too late to retract")]
    RetractionTooLate { id: String, accepted_at: u64, now: u64, max: u64 },
    #[error("this commitment is already enrolled (leaf {0})")]
    DuplicateCommitment(u32),
    #[error("the registry is full")]
    RegistryFull,
    #[error("a signer with this {0} already exists")]
    DuplicateSigner(&'static str),
    #[error("a signer or auditor name must be 1 to {MAX_NAME} bytes")]
    BadSignerName,
    #[error("an auditor with this name or key already exists")]
    DuplicateAuditor,
    #[error("auditor `{0}` is already revoked")]
    AuditorRevoked(String),
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("refused: {0}")]
    Refused(#[from] Refusal),
    #[error("database: {0}")]
    Db(DbError),
    #[error("the registry database is inconsistent: {0}")]
    Corrupt(String),
    #[error("{0} already exists; refusing to overwrite a registry")]
    Exists(String),
    #[error("policy: {0}")]
    Policy(String),
    #[error("the clock ({now}) is behind the latest head ({last}); refusing to sign an older head or accept before it")]
    ClockBehind { now: u64, last: u64 },
    #[error("cannot archive: {0}")]
    Archive(String),
    #[error("no head for epoch {0}")]
    NoSuchEpoch(u64),
    #[error("no signer named `{0}`")]
    NoSuchSigner(String),
    #[error("no auditor named `{0}`")]
    NoSuchAuditor(String),
    #[error("holder {0} is not in a published head yet; publish first")]
    NotPublished(u32),
    #[error("log proof: {0}")]
    Proof(#[from] ProofError),
    #[error("publish interrupted by an injected fault at {0:?}")]
    Injected(PublishStep),
}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

impl From<DbError> for RegistryError {
    /// A stored value of the wrong type or range is a damaged database, reported as such.
    fn from(e: DbError) -> Self {
        match e.kind {
            DbErrorKind::Corrupt => RegistryError::Corrupt(e.message),
            _ => RegistryError::Db(e),
        }
    }
}

impl RegistryError {
    /// The file is no usable registry: not a database, damaged, altered, read-only or not
    /// openable. The operator must fix the file (or the path), not retry.
    pub fn is_unusable_database(&self) -> bool {
        matches!(self, RegistryError::Db(e) if matches!(e.kind, DbErrorKind::Unusable | DbErrorKind::ReadOnly))
    }
}

const META_KEY: &str = "registry_secret_key";
const META_POLICY: &str = "policy";

pub struct Registry {
    db: Db,
    key: SigningKey,
    policy: Policy,
    digest: Hash,
    /// The upper levels of the holder tree (which lives in `tree_groups`, see `tree.rs`).
    cache: RefCell<tree::TopCache>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Registry {{ policy: {}, key: <redacted> }}", self.policy.id)
    }
}

fn hex_id(h: &Hash) -> String {
    hex::encode(h)
}

/// A holder state as stored: eight big-endian bytes a kind, or nothing for the state of a holder
/// without events (most holders, most of the time: 25 bytes a holder saved).
fn state_to_blob(state: &[u64]) -> Vec<u8> {
    if state.iter().all(|&t| t == 0) {
        return Vec::new();
    }
    state.iter().flat_map(|t| t.to_be_bytes()).collect()
}

fn state_from_blob(b: &[u8], kinds: usize) -> Result<Vec<u64>> {
    if b.is_empty() {
        return Ok(vec![0; kinds]);
    }
    if b.len() != 8 * kinds {
        return Err(RegistryError::Corrupt("a holder state has the wrong length".into()));
    }
    let state: Vec<u64> = b.chunks(8).map(|c| u64::from_be_bytes(c.try_into().expect("8 bytes"))).collect();
    // A time beyond the circuit's range would make the tree hashing refuse (it used to panic in
    // a worker thread mid-publish).
    if state.iter().any(|&t| t > MAX_TIME) {
        return Err(RegistryError::Corrupt("a holder state holds a time beyond 2^40 - 1".into()));
    }
    Ok(state)
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
        let at = Location::parse(path);
        if let Location::File(file) = &at {
            if file.exists() {
                return Err(RegistryError::Exists(at.to_string()));
            }
        }
        let policy = Policy::parse(policy_src).map_err(|e| RegistryError::Policy(e.to_string()))?;
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let db = Db::open(&at, true).map_err(|e| match e.kind {
            DbErrorKind::Exists => RegistryError::Exists(at.to_string()),
            _ => e.into(),
        })?;
        // The file holds the registry's signing key (SQLite gives its -wal/-shm files the same mode).
        #[cfg(unix)]
        if let Location::File(file) = &at {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| RegistryError::Corrupt(format!("cannot restrict {}: {e}", file.display())))?;
        }
        let digest = policy.digest();
        {
            let tx = db.begin(TxKind::Write)?;
            tx.set_meta(META_KEY, key.as_bytes())?;
            tx.set_meta(META_POLICY, policy_src.as_bytes())?;
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
            tx.exec(
                "INSERT INTO heads (epoch, head) VALUES (0, ?1)",
                &args![serde_json::to_string(&head).expect("head")],
            )?;
            tx.commit()?;
        }
        Ok(Self { db, key, policy, digest, cache: RefCell::new(tree::TopCache::new(DEFAULT_CACHE_LEVELS)) })
    }

    /// Opens an existing registry (a file path, or a `postgres://` URL), migrating its schema.
    pub fn open(path: &Path) -> Result<Self> {
        let at = Location::parse(path);
        if let Location::File(file) = &at {
            if !file.exists() {
                return Err(RegistryError::Corrupt(format!("{} does not exist", file.display())));
            }
        }
        let db = Db::open(&at, false)?;
        tree::adopt_node_rows(&db)?;
        log_pages::adopt_rows(&db)?;
        let missing = |k: &str| RegistryError::Corrupt(format!("meta `{k}` is missing"));
        let key_bytes = db.get_meta(META_KEY)?.ok_or_else(|| missing(META_KEY))?;
        let key_bytes: [u8; 32] = key_bytes
            .try_into()
            .map_err(|_| RegistryError::Corrupt("the registry key is not 32 bytes".into()))?;
        let policy_src = db.get_meta(META_POLICY)?.ok_or_else(|| missing(META_POLICY))?;
        let policy_src = String::from_utf8(policy_src)
            .map_err(|_| RegistryError::Corrupt("the stored policy is not UTF-8".into()))?;
        let policy = Policy::parse(&policy_src).map_err(|e| RegistryError::Policy(e.to_string()))?;
        // Databases made before issue 11 also hold a `config` meta entry with a private time
        // window; it is ignored: the window is the published policy's.
        let digest = policy.digest();
        let cache = RefCell::new(tree::TopCache::new(DEFAULT_CACHE_LEVELS));
        Ok(Self { db, key: SigningKey::from_bytes(&key_bytes), policy, digest, cache })
    }

    /// The registry's signing key, for the one other thing it signs in the same process: the
    /// checkpoints of the head log (signed notes, whose text starts with the log's origin and so
    /// can never be read as a head, an event or a receipt).
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
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

    /// Keeps the children of the top `levels` levels of the tree in memory (at most
    /// 4^0 + … + 4^(levels-1) groups of four nodes; 0 turns the cache off). The rest of the tree
    /// is read from the database when a witness or a publish needs it.
    pub fn set_tree_cache_levels(&mut self, levels: usize) {
        self.cache.get_mut().set_levels(levels);
    }

    /// The whole stored holder tree, loaded into memory: for auditors (who compare every leaf
    /// with a replay of the log) and tests. Witnesses and publishes never load it.
    pub fn stored_tree(&self) -> Result<SparseTree> {
        tree::load_all(&self.db)
    }
}

fn latest_head(db: &Db) -> Result<SignedHead> {
    let json: String = db
        .value("SELECT head FROM heads ORDER BY epoch DESC LIMIT 1", &[])?
        .ok_or_else(|| RegistryError::Corrupt("no head".into()))?;
    parse_head(&json)
}

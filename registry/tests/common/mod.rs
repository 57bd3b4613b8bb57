//! Shared fixtures: a registry on the sample policy, one lab, one tracer, a few holders.
#![allow(dead_code)]

use ed25519_dalek::SigningKey;
use healthcode_circuits::Fr;
use healthcode_registry::event::Role;
use healthcode_registry::store::{self, Db, Location};
use healthcode_registry::{Event, HolderFile, Registry, Retraction, SignedEvent, SignedRetraction};
use std::path::{Path, PathBuf};

pub const POLICY: &str = include_str!("../../../policies/henan-2022.toml");
/// A fixed "now" for the fixtures (2022-06-14).
pub const T0: u64 = 1_655_164_800;
pub const DAY: u64 = 86_400;

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
    pub reg: Registry,
    pub lab: SigningKey,
    pub tracer: SigningKey,
    pub holders: Vec<HolderFile>,
}

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// The PostgreSQL server the tests run against (`HEALTHCODE_TEST_PG`, a server URL as
/// `scripts/pg-cluster.sh` prints it), or `None`: SQLite files.
pub fn pg_server() -> Option<String> {
    std::env::var("HEALTHCODE_TEST_PG").ok().filter(|s| !s.is_empty())
}

pub fn on_postgres() -> bool {
    pg_server().is_some()
}

/// A place for a new registry: a file in `dir`, or a fresh database on the test server.
pub fn new_db(dir: &Path) -> PathBuf {
    match pg_server() {
        None => dir.join("registry.db"),
        Some(server) => PathBuf::from(store::postgres::create_fresh_database(&server).unwrap()),
    }
}

/// A second, raw handle on a registry's database (for tests that alter it behind the registry).
pub fn raw(path: &Path) -> Db {
    Db::open(&Location::parse(path), false).unwrap()
}

/// Tests that damage a SQLite file with SQLite's own tools run on SQLite only; on PostgreSQL
/// they say so and return.
pub fn sqlite_only(test: &str) -> bool {
    if on_postgres() {
        eprintln!("{test}: SQLite-specific (alters the file with rusqlite); skipped on PostgreSQL");
        return true;
    }
    false
}

/// A registry with `n` holders enrolled and published (epoch 1), lab "lab" and tracer "tracer".
pub fn fixture(n: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = new_db(dir.path());
    let mut reg = Registry::init(&path, POLICY, T0 - 10 * DAY).unwrap();
    let (lab, tracer) = (key(1), key(2));
    reg.add_signer("lab", Role::Lab, lab.verifying_key(), 0, T0 - 10 * DAY).unwrap();
    reg.add_signer("tracer", Role::Tracer, tracer.verifying_key(), 0, T0 - 10 * DAY).unwrap();
    let holders: Vec<HolderFile> =
        (0..n).map(|i| HolderFile::from_secret(Fr::from(1000 + i as u64), Fr::from(7 + i as u64))).collect();
    for h in &holders {
        reg.enroll(h.commitment, T0 - 10 * DAY).unwrap();
    }
    reg.publish(T0 - 10 * DAY).unwrap();
    Fixture { dir, path, reg, lab, tracer, holders }
}

impl Fixture {
    pub fn event(
        &self,
        signer: &SigningKey,
        holder: u32,
        kind: &str,
        time: u64,
        case: Option<[u8; 32]>,
    ) -> SignedEvent {
        Event::signed_by(signer, self.reg.public_key(), holder, kind, time, case)
    }

    pub fn retraction(&self, signer: &SigningKey, event: [u8; 32]) -> SignedRetraction {
        Retraction { registry: self.reg.public_key(), event, signer: signer.verifying_key() }.sign(signer)
    }

    /// Row counts and queue tail of every table: equal snapshots mean nothing was stored.
    pub fn snapshot(&self) -> Vec<(String, i64, i64)> {
        let c = raw(&self.path);
        let value = |sql: &str| -> i64 { c.value(sql, &[]).unwrap().unwrap() };
        ["signers", "holders", "events", "queue", "log_pages", "log_nodes", "tree_groups", "heads"]
            .iter()
            .map(|t| {
                let n = value(&format!("SELECT COUNT(*) FROM {t}"));
                // A change in place (e.g. a retracted flag) shows in this checksum.
                let sum: i64 = if *t == "events" {
                    value("SELECT COUNT(*) FROM events WHERE retracted = 1")
                } else if *t == "signers" {
                    value("SELECT COUNT(revoked_at) FROM signers")
                } else {
                    0
                };
                (t.to_string(), n, sum)
            })
            .collect()
    }
}

/// Every head chains, the auditor's replay of the log accepts them all (log roots and tree
/// roots), the stored tree's leaves and top hash to the latest root, and every published
/// holder's witness opens the latest head.
pub fn audit_ok(reg: &Registry) {
    use healthcode_registry::{audit::replay, head::verify_chain};
    let head = reg.head().unwrap();
    let heads = reg.heads().unwrap();
    verify_chain(&heads, &reg.public_key(), &reg.policy_digest()).unwrap();
    let entries = reg.log_entries(0, head.log_size).unwrap();
    let r = replay(&entries, &heads, &reg.public_key(), reg.policy()).expect("the auditor's replay");
    assert_eq!(r.tree.root(), head.root, "replayed root");
    let stored = reg.stored_tree().unwrap();
    assert_eq!(stored.recompute_root(), head.root, "stored leaves' root");
    assert_eq!(stored.root(), head.root, "stored top group's root");
    for i in 0..head.holders as u32 {
        let w = reg.witness(i).unwrap_or_else(|e| panic!("witness {i}: {e}"));
        w.check(&reg.public_key(), reg.policy()).unwrap_or_else(|e| panic!("witness {i}: {e:?}"));
    }
}

/// Brings the registry at `path` back to the schema before afac394 (SQLite step 2, PostgreSQL
/// step 1): a `published` column set from the latest head, zero states as eight bytes a kind,
/// every log level stored, the log one row per entry and `enrolled_at` back (`log_pages`
/// dropped), the tree one row per node (the root too), `tree_groups` dropped and, on
/// PostgreSQL, the B-tree unique constraint on commitments and full pages (no fill factor); and
/// no `floors` (the archiving step after it).
/// `reg` must be the registry's only handle; it is dropped.
pub fn downgrade(reg: Registry, path: &Path) {
    use healthcode_circuits::field;
    use healthcode_registry::log::{MemoryLog, Subtrees};
    use store::{Val, LOG_STORED_FROM};
    let head = reg.head().unwrap();
    let kinds = reg.policy().events.len();
    let tree = reg.stored_tree().unwrap();
    let entries = reg.log_entries(0, head.log_size).unwrap();
    drop(reg);
    let postgres = on_postgres();
    let db = raw(path);
    db.exec(
        if postgres {
            "ALTER TABLE holders ADD COLUMN published SMALLINT NOT NULL DEFAULT 0"
        } else {
            "ALTER TABLE holders ADD COLUMN published INTEGER NOT NULL DEFAULT 0"
        },
        &[],
    )
    .unwrap();
    db.exec("UPDATE holders SET published = 1 WHERE leaf_index < ?1", &[Val::Int(head.holders as i64)])
        .unwrap();
    db.exec("UPDATE holders SET state = ?1 WHERE length(state) = 0", &[Val::Bytes(vec![0; 8 * kinds])])
        .unwrap();
    let mut log = MemoryLog::new();
    for e in &entries {
        log.append(e);
    }
    for level in 0..LOG_STORED_FROM {
        for idx in 0..head.log_size >> level {
            db.exec(
                "INSERT INTO log_nodes (level, idx, hash) VALUES (?1, ?2, ?3)",
                &[
                    Val::Int(level.into()),
                    Val::Int(idx as i64),
                    Val::Bytes(log.subtree(level, idx).unwrap().to_vec()),
                ],
            )
            .unwrap();
        }
    }
    for (level, idx, v) in tree.nodes() {
        db.exec(
            "INSERT INTO tree_nodes (level, idx, hash) VALUES (?1, ?2, ?3)",
            &[Val::Int(level as i64), Val::Int(idx as i64), Val::Bytes(field::to_bytes(&v).to_vec())],
        )
        .unwrap();
    }
    db.exec("DROP TABLE tree_groups", &[]).unwrap();
    for (idx, e) in entries.iter().enumerate() {
        db.exec(
            "INSERT INTO log (idx, entry, epoch) VALUES (?1, ?2, 1)",
            &[Val::Int(idx as i64), Val::Bytes(e.clone())],
        )
        .unwrap();
    }
    db.exec("DROP TABLE log_pages", &[]).unwrap();
    db.exec("DROP TABLE floors", &[]).unwrap();
    db.exec(
        if postgres {
            "ALTER TABLE holders ADD COLUMN enrolled_at BIGINT NOT NULL DEFAULT 0"
        } else {
            "ALTER TABLE holders ADD COLUMN enrolled_at INTEGER NOT NULL DEFAULT 0"
        },
        &[],
    )
    .unwrap();
    if postgres {
        db.exec("ALTER TABLE holders RESET (fillfactor)", &[]).unwrap();
        db.exec("ALTER TABLE holders DROP CONSTRAINT holders_commitment_unique", &[]).unwrap();
        db.exec("ALTER TABLE holders ADD CONSTRAINT holders_commitment_key UNIQUE (commitment)", &[])
            .unwrap();
    }
    db.exec(if postgres { "UPDATE schema_version SET version = 1" } else { "PRAGMA user_version = 2" }, &[])
        .unwrap();
}

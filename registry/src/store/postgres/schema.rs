//! The registry's tables on PostgreSQL: the migration steps (the twins of SQLite's), and the
//! check that refuses a database whose tables were altered or whose months were detached.

use super::Postgres;
use crate::store::{DbError, DbErrorKind, DbResult, TxKind, Val};

/// Schema steps, in order (the PostgreSQL twin of `sqlite::MIGRATIONS`, same tables and
/// columns). Never edit a published step: append a new one.
pub const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE schema_version (version BIGINT NOT NULL);
INSERT INTO schema_version VALUES (0);
CREATE TABLE meta (key TEXT PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE signers (
    key BYTEA PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('lab', 'tracer')),
    accredited_from BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE TABLE holders (
    leaf_index BIGINT PRIMARY KEY,
    commitment BYTEA NOT NULL UNIQUE,
    enrolled_at BIGINT NOT NULL,
    published SMALLINT NOT NULL DEFAULT 0,
    state BYTEA NOT NULL
);
-- Partitioned by month of acceptance (see event_partition), each month recorded in
-- event_partitions. An event's id is unique across partitions because every insert is checked
-- under the writer lock (the primary key of a partitioned table must hold the partition key), so
-- every month must stay attached: opening refuses a registry with a recorded month missing.
CREATE TABLE events (
    id BYTEA NOT NULL,
    holder BIGINT NOT NULL REFERENCES holders (leaf_index),
    kind TEXT NOT NULL,
    time BIGINT NOT NULL,
    signer BYTEA NOT NULL REFERENCES signers (key),
    index_case BYTEA,
    accepted_at BIGINT NOT NULL,
    log_idx BIGINT,
    retracted SMALLINT NOT NULL DEFAULT 0,
    retraction_log_idx BIGINT,
    PRIMARY KEY (id, accepted_at)
) PARTITION BY RANGE (accepted_at);
CREATE INDEX events_by_holder ON events (holder);
CREATE TABLE event_partitions (name TEXT PRIMARY KEY);
CREATE TABLE queue (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, entry BYTEA NOT NULL);
CREATE TABLE log (idx BIGINT PRIMARY KEY, entry BYTEA NOT NULL, epoch BIGINT NOT NULL);
CREATE TABLE log_nodes (level BIGINT NOT NULL, idx BIGINT NOT NULL, hash BYTEA NOT NULL,
    PRIMARY KEY (level, idx));
CREATE TABLE tree_nodes (level BIGINT NOT NULL, idx BIGINT NOT NULL, hash BYTEA NOT NULL,
    PRIMARY KEY (level, idx));
CREATE TABLE heads (epoch BIGINT PRIMARY KEY, head TEXT NOT NULL);
CREATE TABLE holder_devices (
    leaf_index BIGINT PRIMARY KEY REFERENCES holders (leaf_index),
    key BYTEA NOT NULL UNIQUE
);
CREATE TABLE checkpoints (size BIGINT PRIMARY KEY, note BYTEA NOT NULL);
CREATE TABLE auditors (
    key BYTEA PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    added_at BIGINT NOT NULL,
    revoked_at BIGINT
);
",
    // The twin of `sqlite::SIZE_STEP`; besides, commitments are kept unique by an exclusion
    // constraint over a hash index (four bytes of hash a holder) instead of a B-tree of the
    // 32-byte values (≈ 50 bytes a holder less).
    r"
DELETE FROM log_nodes WHERE level < 4;
ALTER TABLE holders DROP COLUMN published;
ALTER TABLE holders DROP COLUMN enrolled_at;
CREATE TABLE log_pages (page BIGINT PRIMARY KEY, entries BYTEA NOT NULL);
ALTER TABLE holders DROP CONSTRAINT holders_commitment_key;
ALTER TABLE holders ADD CONSTRAINT holders_commitment_unique EXCLUDE USING hash (commitment WITH =);
CREATE TABLE tree_groups (level BIGINT NOT NULL, idx BIGINT NOT NULL, hashes BYTEA NOT NULL,
    PRIMARY KEY (level, idx));
",
    // Room on each page for the rows a publish rewrites: an update whose new version fits on
    // its page and changes no indexed column is a heap-only tuple (HOT), which writes no index
    // entry. Without the room every holder update inserted into two indexes and every tree
    // group update into one, each on a random page of an index far larger than memory at a
    // hundred million holders. Applies to pages written from now on (`VACUUM FULL` rewrites
    // the old ones).
    r"
ALTER TABLE holders SET (fillfactor = 90);
ALTER TABLE tree_groups SET (fillfactor = 90);
",
    // The twin of `sqlite::FLOORS_STEP`.
    r"
CREATE TABLE floors (holder BIGINT PRIMARY KEY REFERENCES holders (leaf_index), state BYTEA NOT NULL);
",
];

/// The tables [`MIGRATIONS`] makes: a database with one missing, or one more, was altered.
const TABLES: &[&str] = &[
    "auditors",
    "checkpoints",
    "event_partitions",
    "events",
    "floors",
    "heads",
    "holder_devices",
    "holders",
    "log",
    "log_nodes",
    "log_pages",
    "meta",
    "queue",
    "schema_version",
    "signers",
    "tree_groups",
    "tree_nodes",
];

impl Postgres {
    pub(super) fn prepare_schema(&self, create: bool) -> DbResult<()> {
        let version = self.schema_version()?;
        match version {
            None if !create => {
                return Err(DbError::new(
                    DbErrorKind::Unusable,
                    format!("postgres: {} is not a healthcode registry (no schema)", self.location),
                ))
            }
            Some(_) if create => {
                return Err(DbError::new(
                    DbErrorKind::Exists,
                    format!("postgres: {} already holds a registry", self.location),
                ))
            }
            Some(v) if v > MIGRATIONS.len() => {
                return Err(DbError::new(
                    DbErrorKind::Unusable,
                    format!("registry schema {v} is newer than this build ({})", MIGRATIONS.len()),
                ))
            }
            Some(v) if v == MIGRATIONS.len() => return self.check_schema(),
            _ => {}
        }
        self.begin(TxKind::Write)?;
        let result = (|| {
            // Under the writer lock: another process may have migrated meanwhile.
            let from = self.schema_version()?.unwrap_or(0);
            // (The first step creates `schema_version` itself.)
            for (i, step) in MIGRATIONS.iter().enumerate().skip(from) {
                self.batch(step)?;
                self.exec("UPDATE schema_version SET version = ?1", &[Val::Int(i as i64 + 1)])?;
            }
            self.batch("COMMIT")
        })();
        if result.is_err() {
            let _ = self.batch("ROLLBACK");
        }
        result?;
        self.check_schema()
    }

    /// The schema version, or `None` for a database without our schema.
    fn schema_version(&self) -> DbResult<Option<usize>> {
        let rows = self.rows("SELECT to_regclass('schema_version') IS NOT NULL", &[])?;
        let exists = matches!(rows.first().map(|r| &r.0[0]), Some(Val::Int(1)));
        if !exists {
            return Ok(None);
        }
        let rows = self.rows("SELECT version FROM schema_version", &[])?;
        let v: i64 = rows.first().ok_or_else(|| altered("schema_version is empty"))?.get(0)?;
        Ok(Some(usize::try_from(v).map_err(|_| altered("schema_version is negative"))?))
    }

    /// Refuses a database whose tables differ from what [`MIGRATIONS`] makes (a dropped `heads`
    /// table must not leave a registry that accepts what it can never publish).
    fn check_schema(&self) -> DbResult<()> {
        let rows = self.rows(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
             ORDER BY c.relname",
            &[],
        )?;
        let have = rows.iter().map(|r| r.get::<String>(0)).collect::<DbResult<Vec<_>>>()?;
        let missing: Vec<&str> = TABLES.iter().copied().filter(|t| !have.iter().any(|h| h == t)).collect();
        let extra: Vec<&str> = have.iter().map(String::as_str).filter(|h| !TABLES.contains(h)).collect();
        if missing.is_empty() && extra.is_empty() {
            // Every recorded month is attached: a detached or dropped one would hide its events
            // from the duplicate, index-case and retraction checks.
            let gone = self.rows(
                "SELECT name FROM event_partitions p WHERE NOT EXISTS (
                     SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                     WHERE i.inhparent = 'events'::regclass AND c.relname = p.name)
                 ORDER BY name",
                &[],
            )?;
            let gone = gone.iter().map(|r| r.get::<String>(0)).collect::<DbResult<Vec<_>>>()?;
            if !gone.is_empty() {
                return Err(altered(&format!(
                    "events of {} were detached or dropped: the registry needs every month it has not \
                     archived (`registry archive` keeps what they decide) to refuse duplicates and check \
                     index cases and retractions",
                    gone.join(", ")
                )));
            }
            return Ok(());
        }
        let list = |v: &[&str]| if v.is_empty() { "none".to_string() } else { v.join(", ") };
        Err(altered(&format!(
            "the registry schema was altered (missing: {}; unexpected: {})",
            list(&missing),
            list(&extra)
        )))
    }
}

fn altered(why: &str) -> DbError {
    DbError::new(DbErrorKind::Unusable, format!("postgres: {why}"))
}

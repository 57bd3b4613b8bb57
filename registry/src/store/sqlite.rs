//! The SQLite engine: one file per registry (through `rusqlite`'s bundled SQLite).
//!
//! Why SQLite: a single file an operator can copy and inspect with standard tools, ACID
//! transactions with a write-ahead log (a crash rolls back to the last commit, so an epoch is
//! either fully applied or not at all), mature crash testing upstream, and SQL that ports to
//! PostgreSQL when one machine is outgrown. `synchronous = FULL` makes a committed acceptance
//! durable before the submitter is told it was accepted.
//!
//! Migrations are keyed on `PRAGMA user_version`: [`MIGRATIONS`]`[i]` takes the schema from
//! version `i` to `i + 1`, inside the same transaction as the version bump.

use super::{DbError, DbErrorKind, DbResult, Row, TxKind, Val};
use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{Connection, ErrorCode};
use std::path::Path;

/// Schema steps, in order. Never edit a published step: append a new one.
pub const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE signers (
    key BLOB PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('lab', 'tracer')),
    accredited_from INTEGER NOT NULL,
    revoked_at INTEGER
);
-- state/leaf are as of the latest head; published = 0 until the enrolment is in a head.
CREATE TABLE holders (
    leaf_index INTEGER PRIMARY KEY,
    commitment BLOB NOT NULL UNIQUE,
    enrolled_at INTEGER NOT NULL,
    published INTEGER NOT NULL DEFAULT 0,
    state BLOB NOT NULL
);
-- Every accepted event, queued (log_idx NULL) or logged.
CREATE TABLE events (
    id BLOB PRIMARY KEY,
    holder INTEGER NOT NULL REFERENCES holders (leaf_index),
    kind TEXT NOT NULL,
    time INTEGER NOT NULL,
    signer BLOB NOT NULL REFERENCES signers (key),
    index_case BLOB,
    accepted_at INTEGER NOT NULL,
    log_idx INTEGER,
    retracted INTEGER NOT NULL DEFAULT 0,
    retraction_log_idx INTEGER
);
CREATE INDEX events_by_holder ON events (holder);
-- Accepted entries waiting for the next publish, in acceptance order.
CREATE TABLE queue (seq INTEGER PRIMARY KEY AUTOINCREMENT, entry BLOB NOT NULL);
CREATE TABLE log (idx INTEGER PRIMARY KEY, entry BLOB NOT NULL, epoch INTEGER NOT NULL);
-- Perfect subtrees of the RFC 9162 log (see log.rs).
CREATE TABLE log_nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)) WITHOUT ROWID;
-- Non-empty nodes of the holder tree as of the latest head (level 0 = leaves).
CREATE TABLE tree_nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)) WITHOUT ROWID;
CREATE TABLE heads (epoch INTEGER PRIMARY KEY, head TEXT NOT NULL);
",
    r"
-- The device key each holder registered at enrolment: it authenticates her requests to the
-- network service (her witness, her history). An access credential, not a protocol fact: not logged.
CREATE TABLE holder_devices (
    leaf_index INTEGER PRIMARY KEY REFERENCES holders (leaf_index),
    key BLOB NOT NULL UNIQUE
);
-- The latest checkpoint of the head log with the witnesses' cosignatures, per log size.
CREATE TABLE checkpoints (size INTEGER PRIMARY KEY, note BLOB NOT NULL);
-- Accredited auditors (logged): they may read the log's full entries through the service.
CREATE TABLE auditors (
    key BLOB PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    added_at INTEGER NOT NULL,
    revoked_at INTEGER
);
",
    SIZE_STEP,
    FLOORS_STEP,
];

/// Smaller rows, for a registry of a nation (the same step on both engines, up to the types):
/// log subtrees below [`super::LOG_STORED_FROM`] are rehashed from the entries instead of
/// stored (do not raise that constant above 4 without a step that stores the missing levels);
/// whether a holder is published follows from the latest head (leaves are given out in order and
/// a publish takes the whole queue), so her row is written once, at enrolment; and the holder
/// tree is stored by groups of four siblings, one row per parent instead of one per node
/// (`tree_nodes` is emptied into it when a registry is opened, see `registry/tree.rs`); the log's
/// entries are stored by pages (`log` is emptied into `log_pages` likewise).
const SIZE_STEP: &str = r"
DELETE FROM log_nodes WHERE level < 4;
ALTER TABLE holders DROP COLUMN published;
-- (Never read: the enrolment's log entry carries its time.)
ALTER TABLE holders DROP COLUMN enrolled_at;
-- The log's entries by pages of 256 (see store/log_pages.rs); `log` is emptied into it when a
-- registry is opened.
CREATE TABLE log_pages (page INTEGER PRIMARY KEY, entries BLOB NOT NULL);
-- The holder tree as of the latest head, by parent: level is the children's level (0 = leaves),
-- idx the parent's index, hashes the four children's 32-byte hashes in order (an empty child as
-- the empty subtree of its level). A parent whose children are all empty has no row.
CREATE TABLE tree_groups (level INTEGER NOT NULL, idx INTEGER NOT NULL, hashes BLOB NOT NULL,
    PRIMARY KEY (level, idx)) WITHOUT ROWID;
";

/// Archiving (`Registry::archive`): per holder, for each kind, the latest time among her
/// archived events that were not retracted, as a state blob. A publish that recomputes her state
/// after a retraction starts from it instead of from rows that are gone.
const FLOORS_STEP: &str = r"
CREATE TABLE floors (holder INTEGER PRIMARY KEY REFERENCES holders (leaf_index), state BLOB NOT NULL);
";

/// An open SQLite registry file.
pub struct Sqlite {
    conn: Connection,
}

impl Sqlite {
    /// Opens (creating if asked) a registry file and brings its schema up to date.
    pub fn open(path: &Path, create: bool) -> DbResult<Self> {
        let conn = open(path, create)?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(Self { conn })
    }

    pub fn exec(&self, sql: &str, args: &[Val]) -> DbResult<u64> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        Ok(stmt.execute(rusqlite::params_from_iter(args))? as u64)
    }

    pub fn exec_many(&self, sql: &str, args: &[Vec<Val>]) -> DbResult<()> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        for a in args {
            stmt.execute(rusqlite::params_from_iter(a))?;
        }
        Ok(())
    }

    pub fn rows(&self, sql: &str, args: &[Val]) -> DbResult<Vec<Row>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let n = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut vals = Vec::with_capacity(n);
            for i in 0..n {
                vals.push(match r.get_ref(i)? {
                    ValueRef::Null => Val::Null,
                    ValueRef::Integer(v) => Val::Int(v),
                    ValueRef::Blob(b) => Val::Bytes(b.to_vec()),
                    ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Real(r) => {
                        return Err(DbError::new(DbErrorKind::Unusable, format!("unexpected real {r}")))
                    }
                });
            }
            out.push(Row(vals));
        }
        Ok(out)
    }

    /// Runs statements without parameters (transaction control).
    pub fn batch(&self, sql: &str) -> DbResult<()> {
        Ok(self.conn.execute_batch(sql)?)
    }

    /// A write transaction takes SQLite's write lock at once (`IMMEDIATE`), so its reads see
    /// the state it writes over; a snapshot is a deferred transaction, whose first read fixes it.
    pub fn begin(&self, kind: TxKind) -> DbResult<()> {
        let sql = match kind {
            TxKind::Write => "BEGIN IMMEDIATE",
            TxKind::Snapshot => "BEGIN DEFERRED",
        };
        self.batch(sql)
    }

    pub fn integrity_problems(&self) -> DbResult<Vec<String>> {
        let rows = self.rows("PRAGMA integrity_check", &[])?;
        let msgs = rows.iter().map(|r| r.get::<String>(0)).collect::<DbResult<Vec<_>>>()?;
        Ok(msgs.into_iter().filter(|m| m != "ok").collect())
    }
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Val::Null => ToSqlOutput::Owned(SqlValue::Null),
            Val::Int(i) => ToSqlOutput::Owned(SqlValue::Integer(*i)),
            Val::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Val::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
        })
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        let kind = match &e {
            rusqlite::Error::SqliteFailure(f, _) => match f.code {
                ErrorCode::NotADatabase
                | ErrorCode::DatabaseCorrupt
                | ErrorCode::CannotOpen
                | ErrorCode::PermissionDenied => DbErrorKind::Unusable,
                ErrorCode::ReadOnly => DbErrorKind::ReadOnly,
                ErrorCode::DiskFull => DbErrorKind::DiskFull,
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => DbErrorKind::Busy,
                _ => DbErrorKind::Other,
            },
            _ => DbErrorKind::Other,
        };
        let message = match kind {
            DbErrorKind::DiskFull => format!("sqlite: the disk is full ({e})"),
            DbErrorKind::ReadOnly => format!("sqlite: the database file is read-only ({e})"),
            _ => format!("sqlite: {e}"),
        };
        DbError { kind, message }
    }
}

fn open(path: &Path, create: bool) -> rusqlite::Result<Connection> {
    use rusqlite::OpenFlags as F;
    let mut flags = F::SQLITE_OPEN_READ_WRITE | F::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= F::SQLITE_OPEN_CREATE;
    }
    let mut conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    // Never add our schema to someone else's database, nor open a newer schema than we know.
    let version = schema_version(&conn)?;
    if (!create && version == 0) || version > MIGRATIONS.len() {
        let why = if version == 0 {
            "not a healthcode registry (no schema)".to_string()
        } else {
            format!("registry schema {version} is newer than this build ({})", MIGRATIONS.len())
        };
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_NOTADB),
            Some(why),
        ));
    }
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    migrate(&mut conn)?;
    check_schema(&conn)?;
    Ok(conn)
}

/// The schema as SQLite stores it (`sqlite_schema` rows), in a stable order.
fn schema(conn: &Connection) -> rusqlite::Result<Vec<(String, String, Option<String>)>> {
    let mut stmt = conn.prepare("SELECT type, name, sql FROM sqlite_schema ORDER BY type, name")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    rows.collect()
}

/// Refuses a database whose tables or indexes differ from what [`MIGRATIONS`] makes: a dropped
/// `heads` table must not leave a registry that accepts signers and events it can never publish.
fn check_schema(conn: &Connection) -> rusqlite::Result<()> {
    let mut reference = Connection::open_in_memory()?;
    migrate(&mut reference)?;
    let (want, have) = (schema(&reference)?, schema(conn)?);
    if want == have {
        return Ok(());
    }
    let missing: Vec<&str> =
        want.iter().filter(|w| !have.contains(w)).map(|(_, name, _)| name.as_str()).collect();
    let extra: Vec<&str> =
        have.iter().filter(|h| !want.contains(h)).map(|(_, name, _)| name.as_str()).collect();
    Err(rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
        Some(format!(
            "the registry schema was altered (missing or changed: {}; unexpected: {})",
            if missing.is_empty() { "none".into() } else { missing.join(", ") },
            if extra.is_empty() { "none".into() } else { extra.join(", ") },
        )),
    ))
}

fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    // Up to date: no write transaction (it would wait for a publish in another process).
    if schema_version(conn)? == MIGRATIONS.len() {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: usize = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, step) in MIGRATIONS.iter().enumerate().skip(version) {
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", i + 1)?;
    }
    tx.commit()
}

fn schema_version(conn: &Connection) -> rusqlite::Result<usize> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

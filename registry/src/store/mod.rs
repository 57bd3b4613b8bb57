//! Storage: the one interface the registry's SQL goes through, and its two engines.
//!
//! - **SQLite** ([`sqlite`]): one file, no server, the default (`--db registry.db`).
//! - **PostgreSQL** ([`postgres`]): a server, for a deployment (`--db postgres://…`): several
//!   registry processes and read replicas over one database.
//!
//! The registry writes portable SQL (`?1`-style parameters, `ON CONFLICT`, `UPDATE … FROM`) and
//! passes values as [`Val`]s; each engine binds them and returns [`Row`]s of the same values.
//! What the engines do differently lives here, not in the registry: the schema and its
//! migrations, how a write transaction excludes other writers, how a read transaction gets a
//! snapshot, and how a batch of statements is sent ([`Db::exec_many`], pipelined on PostgreSQL).

pub mod log_pages;
pub mod months;
pub mod postgres;
pub mod sqlite;
mod value;

pub use value::{FromVal, Row, Val};

use crate::log::{Hash, ProofError, Subtrees};
use std::cell::Cell;
use std::path::{Path, PathBuf};

/// Where a registry's database is: a file, or a PostgreSQL database named by URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    File(PathBuf),
    Postgres(String),
}

impl Location {
    /// `postgres://…` or `postgresql://…` is a server; anything else a file path.
    pub fn parse(path: &Path) -> Self {
        match path.to_str() {
            Some(s) if s.starts_with("postgres://") || s.starts_with("postgresql://") => {
                Location::Postgres(s.to_string())
            }
            _ => Location::File(path.to_path_buf()),
        }
    }
}

impl std::fmt::Display for Location {
    /// The file path, or the URL without its password (error messages and logs show it).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File(p) => write!(f, "{}", p.display()),
            Location::Postgres(url) => write!(f, "{}", postgres::redact(url)),
        }
    }
}

/// What kind of failure a storage error is: what the operator should do about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbErrorKind {
    /// Not a registry database, damaged, altered, or not openable: fix the file or the URL.
    Unusable,
    /// A stored value is not what the schema promises (a damaged or altered database).
    Corrupt,
    /// The place already holds a registry (and creating one was asked).
    Exists,
    /// The database server is down or the connection was lost: retry when it is back.
    Unavailable,
    /// The database refuses writes (a read-only file or a read-only replica).
    ReadOnly,
    /// The disk (or the server's) is full.
    DiskFull,
    /// Another process held the database for too long.
    Busy,
    Other,
}

/// A storage failure, with the engine's own message.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("{message}")]
pub struct DbError {
    pub kind: DbErrorKind,
    pub message: String,
}

impl DbError {
    pub fn new(kind: DbErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }
}

pub type DbResult<T> = Result<T, DbError>;

enum Engine {
    Sqlite(sqlite::Sqlite),
    Postgres(Box<postgres::Postgres>),
}

/// An open registry database. Its methods take `&self`: a handle is used by one thread at a time
/// (it is `Send`, not `Sync`), and its transactions are guards ([`Tx`]).
pub struct Db {
    engine: Engine,
    /// Open transactions on this handle; an inner one joins the outer.
    depth: Cell<u32>,
    /// A statement failed inside the open transaction: it must not commit. (PostgreSQL aborts
    /// such a transaction and answers its `COMMIT` with a rollback, not an error; SQLite would
    /// commit the statements before the failure. Either way the caller asked for all or none.)
    failed: Cell<bool>,
}

/// Which transaction to begin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxKind {
    /// Excludes every other writer until it ends; reads see the latest commits.
    Write,
    /// Reads one consistent snapshot; writes nothing.
    Snapshot,
}

impl Db {
    /// Opens (creating the schema if `create`) the database at `at`, migrating and checking its
    /// schema. Refuses a database without our schema unless `create`, and one with it if `create`.
    pub fn open(at: &Location, create: bool) -> DbResult<Self> {
        let engine = match at {
            Location::File(path) => Engine::Sqlite(sqlite::Sqlite::open(path, create)?),
            Location::Postgres(url) => Engine::Postgres(Box::new(postgres::Postgres::open(url, create)?)),
        };
        Ok(Self { engine, depth: Cell::new(0), failed: Cell::new(false) })
    }

    /// Runs one statement; returns the rows it changed.
    pub fn exec(&self, sql: &str, args: &[Val]) -> DbResult<u64> {
        self.note(match &self.engine {
            Engine::Sqlite(e) => e.exec(sql, args),
            Engine::Postgres(e) => e.exec(sql, args),
        })
    }

    /// Marks the open transaction failed when `result` is an error.
    fn note<T>(&self, result: DbResult<T>) -> DbResult<T> {
        if result.is_err() && self.depth.get() > 0 {
            self.failed.set(true);
        }
        result
    }

    /// Runs one statement per row of `args` (PostgreSQL sends them all before waiting for any).
    pub fn exec_many(&self, sql: &str, args: &[Vec<Val>]) -> DbResult<()> {
        if args.is_empty() {
            return Ok(());
        }
        self.note(match &self.engine {
            Engine::Sqlite(e) => e.exec_many(sql, args),
            Engine::Postgres(e) => e.exec_many(sql, args),
        })
    }

    /// The rows of one query.
    pub fn rows(&self, sql: &str, args: &[Val]) -> DbResult<Vec<Row>> {
        self.note(match &self.engine {
            Engine::Sqlite(e) => e.rows(sql, args),
            Engine::Postgres(e) => e.rows(sql, args),
        })
    }

    /// The rows of one query per row of `args`, in order (pipelined on PostgreSQL).
    pub fn rows_many(&self, sql: &str, args: &[Vec<Val>]) -> DbResult<Vec<Vec<Row>>> {
        if args.is_empty() {
            return Ok(Vec::new());
        }
        self.note(match &self.engine {
            Engine::Sqlite(e) => args.iter().map(|a| e.rows(sql, a)).collect(),
            Engine::Postgres(e) => e.rows_many(sql, args),
        })
    }

    /// [`Db::rows_many`] of rows as last committed, which a database server reads on several
    /// connections at once (see `Postgres::rows_many_committed`): only for a table the current
    /// transaction has not written.
    pub fn rows_many_committed(&self, sql: &str, args: &[Vec<Val>]) -> DbResult<Vec<Vec<Row>>> {
        match &self.engine {
            Engine::Postgres(e) if !args.is_empty() => self.note(e.rows_many_committed(sql, args)),
            _ => self.rows_many(sql, args),
        }
    }

    /// The first row of a query, if any.
    pub fn row(&self, sql: &str, args: &[Val]) -> DbResult<Option<Row>> {
        Ok(self.rows(sql, args)?.into_iter().next())
    }

    /// The first column of the first row, if any.
    pub fn value<T: FromVal>(&self, sql: &str, args: &[Val]) -> DbResult<Option<T>> {
        self.row(sql, args)?.map(|r| r.get(0)).transpose()
    }

    /// Begins a transaction; it rolls back when the guard is dropped without [`Tx::commit`].
    /// Inside another transaction of this handle it joins that one.
    pub fn begin(&self, kind: TxKind) -> DbResult<Tx<'_>> {
        let outer = self.depth.get() == 0;
        if outer {
            match &self.engine {
                Engine::Sqlite(e) => e.begin(kind)?,
                Engine::Postgres(e) => e.begin(kind)?,
            }
            self.failed.set(false);
        }
        self.depth.set(self.depth.get() + 1);
        Ok(Tx { db: self, outer, done: false })
    }

    /// The engine's own consistency check of its storage, as a list of problems. SQLite's
    /// `PRAGMA integrity_check` finds an index edited behind its table's back (through
    /// `writable_schema`); PostgreSQL offers no such back door to a client, and its own page
    /// checksums and WAL guard its files.
    pub fn integrity_problems(&self) -> DbResult<Vec<String>> {
        match &self.engine {
            Engine::Sqlite(e) => e.integrity_problems(),
            Engine::Postgres(_) => Ok(Vec::new()),
        }
    }

    /// Makes sure an event accepted at `accepted_at` has a place to go: on PostgreSQL, the
    /// month partition of `events` (created inside the caller's write transaction).
    pub fn event_partition(&self, accepted_at: u64) -> DbResult<()> {
        self.note(match &self.engine {
            Engine::Sqlite(_) => Ok(()),
            Engine::Postgres(e) => e.event_partition(accepted_at),
        })
    }

    /// Removes every event accepted before `boundary`, which must be a month's first second
    /// ([`months::month_start`]), inside the caller's write transaction: on PostgreSQL by
    /// detaching and dropping whole month partitions, on SQLite by deleting the rows.
    pub fn drop_events_before(&self, boundary: u64) -> DbResult<()> {
        if months::month_start(boundary) != boundary {
            return Err(DbError::new(DbErrorKind::Other, format!("{boundary} is not the start of a month")));
        }
        self.note(match &self.engine {
            Engine::Sqlite(_) => self
                .exec("DELETE FROM events WHERE accepted_at < ?1", &[Val::Int(boundary as i64)])
                .map(|_| ()),
            Engine::Postgres(e) => e.drop_event_months_before(boundary),
        })
    }

    pub fn get_meta(&self, key: &str) -> DbResult<Option<Vec<u8>>> {
        self.value("SELECT value FROM meta WHERE key = ?1", &[key.into()])
    }

    pub fn set_meta(&self, key: &str, value: &[u8]) -> DbResult<()> {
        self.exec(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[key.into(), value.into()],
        )?;
        Ok(())
    }
}

/// An open transaction on a [`Db`] (see [`Db::begin`]); it dereferences to the database.
pub struct Tx<'a> {
    db: &'a Db,
    outer: bool,
    done: bool,
}

impl Tx<'_> {
    /// Commits (an inner transaction commits with its outer one). A transaction in which a
    /// statement failed is rolled back instead, and this says so.
    pub fn commit(mut self) -> DbResult<()> {
        self.done = true;
        self.db.depth.set(self.db.depth.get() - 1);
        if !self.outer {
            return Ok(());
        }
        if self.db.failed.get() {
            self.db.rollback();
            return Err(DbError::new(
                DbErrorKind::Other,
                "a statement of this transaction failed: it was rolled back, nothing was written",
            ));
        }
        let result = match &self.db.engine {
            Engine::Sqlite(e) => e.batch("COMMIT"),
            Engine::Postgres(e) => e.batch("COMMIT"),
        };
        if result.is_err() {
            // A failed COMMIT leaves SQLite's transaction open (PostgreSQL ends it): end it.
            self.db.rollback();
        }
        result.map(|_| ())
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Db;
    fn deref(&self) -> &Db {
        self.db
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.db.depth.set(self.db.depth.get() - 1);
        if self.outer {
            self.db.rollback();
        }
    }
}

impl Db {
    /// Rolls back whatever is open; a failure here means the connection is gone, which the
    /// next statement reports.
    fn rollback(&self) {
        let _ = match &self.engine {
            Engine::Sqlite(e) => e.batch("ROLLBACK"),
            Engine::Postgres(e) => e.batch("ROLLBACK"),
        };
    }
}

/// Log subtrees below this level are not stored: each is rehashed from its at most
/// `2^(LOG_STORED_FROM - 1)` entries when a proof or a publish needs it. Storing every level took
/// two hashes a log entry (228 bytes a holder on PostgreSQL at 10 M holders); from level 4 on it
/// is an eighth of a hash, for at most 15 extra entries read per inclusion proof.
pub const LOG_STORED_FROM: u32 = 4;

/// The log's perfect subtrees: from `log_nodes` on the stored levels, rehashed from `log`
/// entries below them.
pub struct DbSubtrees<'a>(pub &'a Db);

impl Subtrees for DbSubtrees<'_> {
    fn subtree(&self, level: u32, index: u64) -> Result<Hash, ProofError> {
        let storage = |e: DbError| ProofError::Storage(e.to_string());
        if level < LOG_STORED_FROM {
            let (first, count) = (index << level, 1u64 << level);
            let entries = log_pages::read_all(self.0, first, first + count).map_err(storage)?;
            let leaves: Vec<Hash> = entries.iter().map(|e| crate::log::leaf_hash(e)).collect();
            return Ok(crate::log::perfect_root(&leaves));
        }
        let v: Option<Vec<u8>> = self
            .0
            .value("SELECT hash FROM log_nodes WHERE level = ?1 AND idx = ?2", &[level.into(), index.into()])
            .map_err(storage)?;
        let v = v.ok_or_else(|| ProofError::Storage(format!("missing log node {level}/{index}")))?;
        v.try_into().map_err(|_| ProofError::Storage("a log node is not 32 bytes".into()))
    }
}

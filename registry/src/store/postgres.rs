//! The PostgreSQL engine: the registry's database on a server, for a deployment.
//!
//! Why PostgreSQL: several registry processes (one publishing, any number serving witnesses)
//! and streaming read replicas over one database, native partitioning so old events can be
//! detached and archived, and `COPY`-speed bulk loads. The driver is `tokio-postgres` on a
//! single-threaded runtime owned by the handle, so the registry keeps its blocking API and can
//! still pipeline a batch of statements ([`Postgres::exec_many`]): a publish's thousands of
//! small writes cost one round trip per batch, not one each.
//!
//! Writers exclude each other with a transaction-scoped advisory lock ([`WRITER_LOCK`]), as
//! SQLite's `BEGIN IMMEDIATE` does; reads that must agree (a witness: holder row, head and path)
//! run in a `REPEATABLE READ READ ONLY` snapshot. Every statement runs in a transaction, so a
//! killed process or a lost connection rolls back whatever it had not committed.

use super::months::{month_partition, partition_bounds, MAX_PARTITION_TIME};
use super::{DbError, DbErrorKind, DbResult, Row, TxKind, Val};
use bytes::BytesMut;
use futures_util::future::try_join_all;
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{IsNull, ToSql, Type};
use tokio_postgres::{Client, NoTls, Statement};

/// The advisory lock every write transaction takes first (an arbitrary constant: "hcreg").
pub const WRITER_LOCK: i64 = 0x0068_6372_6567;

/// How long to wait for the server when connecting, unless the URL says (`connect_timeout=`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Rows per set statement (see [`Postgres::exec_many`]): bounds one message's size.
const SET_ROWS: usize = 20_000;

/// From this many rows, a plain insert batch is loaded with `COPY` (see [`copy_sql`]).
const COPY_THRESHOLD: usize = 1000;

/// Below this many requests, [`Postgres::rows_many`] pipelines them instead.
const SET_THRESHOLD: usize = 16;

/// Statements per pipelined batch: bounds the memory of one batch's requests and replies.
const PIPELINE: usize = 2048;

/// Every connection's settings. Every statement of the registry is a key look-up, or a batch of
/// them against a table far larger than the batch: a nested loop over an index is always the
/// plan. The planner's estimate for an `unnest` of a parameter array can tip it to a hash join
/// over a scan of the whole table instead, so those plans are off. The same estimates (a large
/// array) push those statements over the JIT's cost threshold, and compiling each execution cost
/// more than it saved (a 100 k-row update of tree groups: 0.93 s with it, 0.74 s without).
const SESSION: &str = "SET enable_hashjoin = off; SET enable_mergejoin = off; SET jit = off";

/// Connections [`Postgres::rows_many_committed`] reads on side by side: as many random reads in
/// flight at once, where one connection waits for each in turn.
const READERS: usize = 8;

/// Requests per reader below which [`Postgres::rows_many_committed`] is not worth its readers.
const READER_MIN: usize = 256;

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

/// An open connection to a registry database on a PostgreSQL server.
pub struct Postgres {
    rt: Driver,
    client: Client,
    /// How to open more connections ([`Postgres::rows_many_committed`]'s readers).
    config: tokio_postgres::Config,
    /// Connections that read committed rows side by side, opened on first use.
    readers: RefCell<Vec<Client>>,
    /// Prepared statements by their SQL text (as the registry writes it).
    statements: RefCell<HashMap<String, Statement>>,
    /// The URL without its password, for messages.
    location: String,
}

impl Postgres {
    /// Connects to the database at `url`; creates the registry schema if `create` (refusing a
    /// database that has one), else refuses a database without one. Migrates and checks it.
    pub fn open(url: &str, create: bool) -> DbResult<Self> {
        let location = redact(url);
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
            DbError::new(
                DbErrorKind::Unusable,
                format!("postgres: {location} is not a valid database URL: {e}"),
            )
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.application_name("healthcode-registry");
        let rt = Driver::new()?;
        let client = connect(&rt, &config, &location)?;
        let pg = Self {
            rt,
            client,
            config,
            readers: RefCell::new(Vec::new()),
            statements: RefCell::new(HashMap::new()),
            location,
        };
        pg.prepare_schema(create)?;
        Ok(pg)
    }

    fn prepare_schema(&self, create: bool) -> DbResult<()> {
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

    /// Drives `work` on this handle's runtime (see [`block_on`]).
    fn run<F: std::future::Future + Send>(&self, work: F) -> F::Output
    where
        F::Output: Send,
    {
        self.rt.block_on(work)
    }

    fn statement(&self, sql: &str) -> DbResult<Statement> {
        if let Some(s) = self.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let s = self.run(self.client.prepare(&placeholders(sql)))?;
        self.statements.borrow_mut().insert(sql.to_string(), s.clone());
        Ok(s)
    }

    pub fn exec(&self, sql: &str, args: &[Val]) -> DbResult<u64> {
        let st = self.statement(sql)?;
        Ok(self.run(self.client.execute(&st, &refs(args)))?)
    }

    /// Many executions of one statement. An `INSERT … VALUES`, `UPDATE … WHERE` or
    /// `DELETE … WHERE` becomes one statement over arrays of the rows' values ([`set_sql`]), sent
    /// once per [`SET_ROWS`] rows; anything else is pipelined, [`PIPELINE`] executions at a time.
    /// (The rows of one call must not touch the same row twice: one statement sees them at once.)
    pub fn exec_many(&self, sql: &str, args: &[Vec<Val>]) -> DbResult<()> {
        let st = self.statement(sql)?;
        if args.len() >= COPY_THRESHOLD {
            if let Some(copy) = copy_sql(sql, st.params().len()) {
                return self.copy_in(&copy, st.params(), args);
            }
        }
        if let Some(set) = set_sql(sql, st.params()) {
            let set_st = self.statement(&set)?;
            for chunk in args.chunks(SET_ROWS) {
                let columns = Column::all(st.params(), chunk)?;
                self.run(self.client.execute(&set_st, &column_refs(&columns)))?;
            }
            return Ok(());
        }
        let client = &self.client;
        self.run(async {
            for chunk in args.chunks(PIPELINE) {
                let params: Vec<Vec<&(dyn ToSql + Sync)>> = chunk.iter().map(|a| refs(a)).collect();
                try_join_all(params.iter().map(|p| client.execute(&st, p))).await?;
            }
            Ok(())
        })
    }

    /// Loads `rows` with `COPY … FROM STDIN` in PostgreSQL's binary format (the bulk path:
    /// no statement per row, no array parameters to build), inside the caller's transaction.
    fn copy_in(&self, copy: &str, types: &[Type], rows: &[Vec<Val>]) -> DbResult<()> {
        let client = &self.client;
        self.run(async {
            let sink = client.copy_in(copy).await?;
            let writer = BinaryCopyInWriter::new(sink, types);
            let mut writer = std::pin::pin!(writer);
            for r in rows {
                writer.as_mut().write(&refs(r)).await?;
            }
            writer.finish().await?;
            Ok(())
        })
    }

    pub fn rows(&self, sql: &str, args: &[Val]) -> DbResult<Vec<Row>> {
        let st = self.statement(sql)?;
        let rows = self.run(self.client.query(&st, &refs(args)))?;
        rows.iter().map(row).collect()
    }

    /// The rows of one query per row of `args`. Many at once run as one set query
    /// ([`lateral_sql`]) per [`SET_ROWS`] rows; a few are pipelined. (The order of each query's
    /// own rows is kept only when pipelined: callers do not rely on it.)
    pub fn rows_many(&self, sql: &str, args: &[Vec<Val>]) -> DbResult<Vec<Vec<Row>>> {
        let st = self.statement(sql)?;
        if args.len() > SET_THRESHOLD {
            if let Some(set) = lateral_sql(sql, st.params()) {
                let set_st = self.statement(&set)?;
                return self.run(set_query(&self.client, &set_st, st.params(), args));
            }
        }
        let mut out = Vec::with_capacity(args.len());
        let client = &self.client;
        self.run(async {
            for chunk in args.chunks(PIPELINE) {
                let params: Vec<Vec<&(dyn ToSql + Sync)>> = chunk.iter().map(|a| refs(a)).collect();
                let replies = try_join_all(params.iter().map(|p| client.query(&st, p))).await?;
                for rows in replies {
                    out.push(rows.iter().map(row).collect::<DbResult<Vec<_>>>()?);
                }
            }
            Ok::<_, DbError>(())
        })?;
        Ok(out)
    }

    /// [`Postgres::rows_many`] of rows as last committed, read on [`READERS`] connections at once
    /// when there are many: the reads of a publish's dirty tree groups are random reads of a
    /// table larger than memory at national scale, and one connection has one in flight at a
    /// time. Outside the caller's transaction, so only for tables it has not written; the
    /// publish, which reads `tree_groups` so before writing them under the writer lock, checks
    /// what it read against the latest head's root besides.
    pub fn rows_many_committed(&self, sql: &str, args: &[Vec<Val>]) -> DbResult<Vec<Vec<Row>>> {
        let st = self.statement(sql)?;
        let set = lateral_sql(sql, st.params()).filter(|_| args.len() >= 2 * READER_MIN);
        let Some(set) = set else { return self.rows_many(sql, args) };
        // Readers the server ended while they idled (an idle-session timeout, an administrator)
        // are let go and opened afresh.
        self.readers.borrow_mut().retain(|client| !client.is_closed());
        match self.open_readers().and_then(|()| self.read_side_by_side(&set, st.params(), args)) {
            Ok(rows) => Ok(rows),
            Err(_) => {
                // The readers could not all be opened (the server's or the role's connection
                // limit) or one failed: let them all go (they count against that limit, and one
                // may be the reason) and read on this connection, in the caller's transaction,
                // as one connection reads. A server that is gone fails this read too.
                self.readers.borrow_mut().clear();
                self.rows_many(sql, args)
            }
        }
    }

    /// The set query `set` (of a query with parameters `types`) over `args`, split across the
    /// open readers.
    fn read_side_by_side(&self, set: &str, types: &[Type], args: &[Vec<Val>]) -> DbResult<Vec<Vec<Row>>> {
        let readers = self.readers.borrow();
        let ways = readers.len().min(args.len() / READER_MIN).max(1);
        let part = args.len().div_ceil(ways);
        let work = readers.iter().zip(args.chunks(part)).map(|(client, part)| async move {
            let set_st = client.prepare(set).await?;
            set_query(client, &set_st, types, part).await
        });
        let parts = self.run(try_join_all(work))?;
        Ok(parts.into_iter().flatten().collect())
    }

    fn open_readers(&self) -> DbResult<()> {
        let mut readers = self.readers.borrow_mut();
        while readers.len() < READERS {
            readers.push(connect(&self.rt, &self.config, &self.location)?);
        }
        Ok(())
    }

    /// Runs statements without parameters (transaction control, schema).
    pub fn batch(&self, sql: &str) -> DbResult<()> {
        Ok(self.run(self.client.batch_execute(sql))?)
    }

    pub fn begin(&self, kind: TxKind) -> DbResult<()> {
        match kind {
            TxKind::Write => {
                self.batch("BEGIN")?;
                let locked = self.exec("SELECT pg_advisory_xact_lock(?1)", &[Val::Int(WRITER_LOCK)]);
                if locked.is_err() {
                    let _ = self.batch("ROLLBACK");
                }
                locked.map(|_| ())
            }
            TxKind::Snapshot => self.batch("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"),
        }
    }

    /// Makes sure the month partition of `events` that holds `accepted_at` exists, inside the
    /// caller's write transaction: created and recorded with the transaction, and gone with it if
    /// it rolls back (so nothing outside the database has to remember it).
    pub fn event_partition(&self, accepted_at: u64) -> DbResult<()> {
        // Far beyond any event time (2^40 − 1 s, year 36812) the month's bounds would overflow.
        if accepted_at > MAX_PARTITION_TIME {
            return Err(DbError::new(
                DbErrorKind::Other,
                format!(
                    "acceptance time {accepted_at} is beyond any event time: the registry's clock is wrong"
                ),
            ));
        }
        let (name, from, to) = month_partition(accepted_at);
        if !self
            .rows("SELECT 1 FROM event_partitions WHERE name = ?1", &[Val::Text(name.clone())])?
            .is_empty()
        {
            return Ok(());
        }
        self.batch(&format!(
            "CREATE TABLE IF NOT EXISTS {name} PARTITION OF events FOR VALUES FROM ({from}) TO ({to})"
        ))?;
        self.exec("INSERT INTO event_partitions (name) VALUES (?1)", &[Val::Text(name)])?;
        Ok(())
    }

    /// Detaches and drops every month partition of `events` that ends by `boundary` (a month's
    /// first second), inside the caller's write transaction: no row-by-row `DELETE`, no vacuum.
    pub fn drop_event_months_before(&self, boundary: u64) -> DbResult<()> {
        let names = self.rows("SELECT name FROM event_partitions ORDER BY name", &[])?;
        for row in names {
            let name: String = row.get(0)?;
            // The name goes into a statement: it must be one this code made.
            let (from, to) = partition_bounds(&name).ok_or_else(|| {
                DbError::new(DbErrorKind::Corrupt, format!("postgres: an events partition is named {name:?}"))
            })?;
            if to > boundary {
                continue;
            }
            // The name says which month it holds; what is attached under it must be that month
            // (a later month renamed to an archived one would be dropped with rows still read).
            let attached = self.rows(
                "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i
                 JOIN pg_class c ON c.oid = i.inhrelid
                 WHERE i.inhparent = 'events'::regclass AND c.relname = ?1",
                &[Val::Text(name.clone())],
            )?;
            let want = format!("FOR VALUES FROM ('{from}') TO ('{to}')");
            if attached.len() != 1 || attached[0].get::<String>(0)? != want {
                return Err(DbError::new(
                    DbErrorKind::Corrupt,
                    format!("postgres: the events partition {name} is not attached {want}"),
                ));
            }
            self.batch(&format!("ALTER TABLE events DETACH PARTITION {name}; DROP TABLE {name}"))?;
            self.exec("DELETE FROM event_partitions WHERE name = ?1", &[Val::Text(name)])?;
        }
        Ok(())
    }
}

/// The driver's single-threaded runtime. A registry may be used or dropped on an async
/// runtime's thread (the service's state at shutdown, a test), where blocking in a nested
/// runtime or dropping one that waits for its tasks would panic: work then runs on a scoped
/// thread, and the runtime is let go in the background, which closes its connection.
struct Driver(Option<tokio::runtime::Runtime>);

impl Driver {
    fn new() -> DbResult<Self> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
            DbError::new(DbErrorKind::Other, format!("postgres: cannot start the driver's runtime: {e}"))
        })?;
        Ok(Self(Some(rt)))
    }

    /// Runs `work` to completion.
    fn block_on<F: std::future::Future + Send>(&self, work: F) -> F::Output
    where
        F::Output: Send,
    {
        let rt = self.0.as_ref().expect("the runtime lives until the driver is dropped");
        if tokio::runtime::Handle::try_current().is_err() {
            return rt.block_on(work);
        }
        std::thread::scope(|s| {
            s.spawn(|| rt.block_on(work)).join().unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Creates the (empty) database `name` on the server of `server_url` and returns its URL: what
/// an operator does once before `registry init --db postgres://…`, and each test for itself.
pub fn create_database(server_url: &str, name: &str) -> DbResult<String> {
    admin(server_url, &format!("CREATE DATABASE {}", plain_name(name)?))?;
    Ok(with_database(server_url, name))
}

/// Creates a database with a name no other in this process or another has taken (for tests and
/// benchmarks, each of which wants a registry of its own) and returns its URL.
pub fn create_fresh_database(server_url: &str) -> DbResult<String> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let name = format!("hc_{}_{}_{nanos}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    create_database(server_url, &name)
}

/// Drops the database `name` on the server of `server_url`, if it exists (benchmarks, tests).
pub fn drop_database(server_url: &str, name: &str) -> DbResult<()> {
    admin(server_url, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", plain_name(name)?))
}

fn plain_name(name: &str) -> DbResult<&str> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
        return Err(DbError::new(
            DbErrorKind::Other,
            format!("postgres: `{name}` is not a plain database name"),
        ));
    }
    Ok(name)
}

/// Runs `sql` (outside any transaction) on the server of `server_url`.
fn admin(server_url: &str, sql: &str) -> DbResult<()> {
    let config: tokio_postgres::Config = server_url.parse().map_err(|e| {
        DbError::new(
            DbErrorKind::Unusable,
            format!("postgres: {} is not a valid URL: {e}", redact(server_url)),
        )
    })?;
    Driver::new()?.block_on(async {
        let (client, connection) = config.connect(NoTls).await?;
        let task = tokio::spawn(connection);
        client.batch_execute(sql).await?;
        drop(client);
        let _ = task.await;
        Ok(())
    })
}

/// `url` naming database `name` instead of its own.
pub fn with_database(url: &str, name: &str) -> String {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[scheme_end..];
    let query = rest.find('?').unwrap_or(rest.len());
    let path = rest[..query].find('/').unwrap_or(query);
    format!("{}{}/{}{}", &url[..scheme_end], &rest[..path], name, &rest[query..])
}

fn altered(why: &str) -> DbError {
    DbError::new(DbErrorKind::Unusable, format!("postgres: {why}"))
}

/// `?1`-style parameters (SQLite's, as the registry writes its SQL) as PostgreSQL's `$1`.
fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

/// `sql` (one row's `INSERT … VALUES (…)`, `UPDATE … WHERE …` or `DELETE FROM … WHERE …`, with
/// `?N` parameters of types `types`) as one statement over arrays: `unnest($1::T1[], …) AS
/// v(c1, …)` joined in, each `?N` read as `v.cN`. `None` for any other shape.
/// `COPY t (a, b) FROM STDIN (FORMAT binary)` for exactly `INSERT INTO t (a, b) VALUES (?1, ?2)`
/// (the parameters in order, nothing after): the statements whose batches [`Postgres::exec_many`]
/// bulk-loads. Anything else (an expression, a conflict clause) is `None`.
fn copy_sql(sql: &str, params: usize) -> Option<String> {
    let sql = sql.trim();
    let rest = sql.strip_prefix("INSERT INTO ")?;
    let open = rest.find('(')?;
    let table = rest[..open].trim();
    let close = open + matching_paren(&rest[open..])?;
    let columns = &rest[open + 1..close];
    let values = rest[close + 1..].trim_start().strip_prefix("VALUES")?.trim();
    let want: Vec<String> = (1..=params).map(|k| format!("?{k}")).collect();
    let inner = values.strip_prefix('(')?.strip_suffix(')')?;
    let plain = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let given: Vec<&str> = inner.split(',').map(str::trim).collect();
    (params > 0
        && plain(table)
        && columns.split(',').map(str::trim).all(plain)
        && columns.split(',').count() == params
        && given == want)
        .then(|| format!("COPY {table} ({columns}) FROM STDIN (FORMAT binary)"))
}

fn set_sql(sql: &str, types: &[Type]) -> Option<String> {
    let (arrays, names, body) = over_arrays(sql, types)?;
    let source = format!("unnest({arrays}) AS v({names})");
    let head = body.trim_start();
    let upper = head.to_ascii_uppercase();
    if upper.starts_with("INSERT INTO") {
        let at = upper.find("VALUES")?;
        let open = at + head[at..].find('(')?;
        let close = open + matching_paren(&head[open..])?;
        Some(format!("{}SELECT {} FROM {source}{}", &head[..at], &head[open + 1..close], &head[close + 1..]))
    } else if upper.starts_with("UPDATE") {
        let at = upper.find(" WHERE ")?;
        Some(format!("{} FROM {source}{}", &head[..at], &head[at..]))
    } else if upper.starts_with("DELETE FROM") {
        let at = upper.find(" WHERE ")?;
        Some(format!("{} USING {source}{}", &head[..at], &head[at..]))
    } else {
        None
    }
}

/// A query with `?N` parameters of types `types` as one query over arrays: run once per row of
/// `unnest($1::T1[], …) WITH ORDINALITY AS v(c1, …, n)` (a lateral join, so each run uses the
/// query's own index), each result row led by `v.n`, the 1-based number of its request. The
/// `OFFSET 0` keeps the planner from flattening the lateral query into a join, which it would
/// run as a hash join over a scan of the whole table (seen: minutes per level at 10 M holders).
fn lateral_sql(sql: &str, types: &[Type]) -> Option<String> {
    if !sql.trim_start().to_ascii_uppercase().starts_with("SELECT") {
        return None;
    }
    let (arrays, names, body) = over_arrays(sql, types)?;
    Some(format!(
        "SELECT v.n, q.* FROM unnest({arrays}) WITH ORDINALITY AS v({names}, n) CROSS JOIN LATERAL ({body} OFFSET 0) AS q ORDER BY v.n"
    ))
}

/// A connection to the server of `config` (named `location` in messages), with the registry's
/// [`SESSION`] settings. Its task runs whenever the handle waits on `rt`; it ends (and every
/// later call on it fails as `Unavailable`) when the server goes away.
fn connect(rt: &Driver, config: &tokio_postgres::Config, location: &str) -> DbResult<Client> {
    let (client, connection) = rt.block_on(config.connect(NoTls)).map_err(|e| {
        let e = DbError::from(e);
        DbError::new(e.kind, format!("cannot connect to {location}: {}", e.message))
    })?;
    rt.0.as_ref().expect("a live driver").spawn(connection);
    rt.block_on(client.batch_execute(SESSION))?;
    Ok(client)
}

/// Runs the set query `set_st` ([`lateral_sql`] of a query with parameters `types`) over `args`,
/// [`SET_ROWS`] requests at a time, and returns each request's rows.
async fn set_query(
    client: &Client,
    set_st: &Statement,
    types: &[Type],
    args: &[Vec<Val>],
) -> DbResult<Vec<Vec<Row>>> {
    let mut out = Vec::with_capacity(args.len());
    for chunk in args.chunks(SET_ROWS) {
        let columns = Column::all(types, chunk)?;
        let rows = client.query(set_st, &column_refs(&columns)).await?;
        let base = out.len();
        out.resize_with(base + chunk.len(), Vec::new);
        for r in &rows {
            let Row(mut vals) = row(r)?;
            let n = match vals.first() {
                Some(Val::Int(n)) if *n >= 1 && (*n as usize) <= chunk.len() => *n as usize,
                _ => return Err(DbError::new(DbErrorKind::Other, "postgres: a set query's row number")),
            };
            vals.remove(0);
            out[base + n - 1].push(Row(vals));
        }
    }
    Ok(out)
}

/// What [`set_sql`] and [`lateral_sql`] share: the typed array parameters (`$1::int8[], …`), the
/// names of their columns (`c1, …`) and `sql` with each `?N` read as `v.cN`. `None` when a
/// parameter's type has no [`Column`].
fn over_arrays(sql: &str, types: &[Type]) -> Option<(String, String, String)> {
    if types.is_empty() || types.iter().any(|t| Column::supported(t).is_none()) {
        return None;
    }
    let names: Vec<String> = (1..=types.len()).map(|k| format!("c{k}")).collect();
    let arrays: Vec<String> =
        types.iter().enumerate().map(|(k, t)| format!("${}::{}[]", k + 1, t.name())).collect();
    // `?N` → `v.cN` (longest numbers first, so `?12` is not read as `?1` then `2`).
    let mut body = sql.to_string();
    for k in (1..=types.len()).rev() {
        body = body.replace(&format!("?{k}"), &format!("v.c{k}"));
    }
    Some((arrays.join(", "), names.join(", "), body))
}

/// The offset of the parenthesis closing the one `s` starts with.
fn matching_paren(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// One parameter's values across the rows of a set statement, typed as the statement wants.
#[derive(Debug)]
enum Column<'a> {
    Int8(Vec<Option<i64>>),
    Int4(Vec<Option<i32>>),
    Int2(Vec<Option<i16>>),
    Bytea(Vec<Option<&'a [u8]>>),
    Text(Vec<Option<&'a str>>),
}

impl<'a> Column<'a> {
    fn supported(t: &Type) -> Option<()> {
        [Type::INT8, Type::INT4, Type::INT2, Type::BYTEA, Type::TEXT].contains(t).then_some(())
    }

    /// One column per parameter of a statement with `types`, over `rows`.
    fn all(types: &[Type], rows: &'a [Vec<Val>]) -> DbResult<Vec<Self>> {
        types.iter().enumerate().map(|(k, t)| Column::of(t, rows, k)).collect()
    }

    fn of(t: &Type, rows: &'a [Vec<Val>], k: usize) -> DbResult<Self> {
        let bad = |v: &Val| DbError::new(DbErrorKind::Other, format!("postgres: {v:?} for a {t} parameter"));
        let values = || rows.iter().map(|r| r.get(k).unwrap_or(&Val::Null));
        /// The integers of a column, each narrowed to the parameter's width.
        fn ints<'v, T: TryFrom<i64>>(
            values: impl Iterator<Item = &'v Val>,
            bad: impl Fn(&Val) -> DbError,
        ) -> DbResult<Vec<Option<T>>> {
            values
                .map(|v| match v {
                    Val::Null => Ok(None),
                    Val::Int(i) => T::try_from(*i).map(Some).map_err(|_| bad(v)),
                    other => Err(bad(other)),
                })
                .collect()
        }
        Ok(if *t == Type::INT8 {
            Column::Int8(ints(values(), bad)?)
        } else if *t == Type::INT4 {
            Column::Int4(ints(values(), bad)?)
        } else if *t == Type::INT2 {
            Column::Int2(ints(values(), bad)?)
        } else if *t == Type::BYTEA {
            let bytes = |v: &'a Val| match v {
                Val::Null => Ok(None),
                Val::Bytes(b) => Ok(Some(b.as_slice())),
                other => Err(bad(other)),
            };
            Column::Bytea(values().map(bytes).collect::<DbResult<_>>()?)
        } else {
            let text = |v: &'a Val| match v {
                Val::Null => Ok(None),
                Val::Text(s) => Ok(Some(s.as_str())),
                other => Err(bad(other)),
            };
            Column::Text(values().map(text).collect::<DbResult<_>>()?)
        })
    }
}

impl ToSql for Column<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Column::Int8(v) => v.to_sql(ty, out),
            Column::Int4(v) => v.to_sql(ty, out),
            Column::Int2(v) => v.to_sql(ty, out),
            Column::Bytea(v) => v.to_sql(ty, out),
            Column::Text(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

fn column_refs<'c>(columns: &'c [Column<'_>]) -> Vec<&'c (dyn ToSql + Sync)> {
    columns.iter().map(|c| c as &(dyn ToSql + Sync)).collect()
}

fn refs(args: &[Val]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter().map(|a| a as &(dyn ToSql + Sync)).collect()
}

/// A result row as [`Val`]s, by each column's type.
fn row(r: &tokio_postgres::Row) -> DbResult<Row> {
    let mut vals = Vec::with_capacity(r.len());
    for (i, col) in r.columns().iter().enumerate() {
        let ty = col.type_();
        let v = if *ty == Type::INT8 {
            r.try_get::<_, Option<i64>>(i)?.map(Val::Int)
        } else if *ty == Type::INT4 {
            r.try_get::<_, Option<i32>>(i)?.map(|v| Val::Int(v.into()))
        } else if *ty == Type::INT2 {
            r.try_get::<_, Option<i16>>(i)?.map(|v| Val::Int(v.into()))
        } else if *ty == Type::BOOL {
            r.try_get::<_, Option<bool>>(i)?.map(|v| Val::Int(v.into()))
        } else if *ty == Type::BYTEA {
            r.try_get::<_, Option<Vec<u8>>>(i)?.map(Val::Bytes)
        } else if [Type::TEXT, Type::VARCHAR, Type::NAME].contains(ty) {
            r.try_get::<_, Option<String>>(i)?.map(Val::Text)
        } else {
            return Err(DbError::new(DbErrorKind::Other, format!("postgres: unexpected column type {ty}")));
        };
        vals.push(v.unwrap_or(Val::Null));
    }
    Ok(Row(vals))
}

impl ToSql for Val {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Val::Null => Ok(IsNull::Yes),
            Val::Int(i) if *ty == Type::INT8 => i.to_sql(ty, out),
            Val::Int(i) if *ty == Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
            Val::Int(i) if *ty == Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
            Val::Int(i) if *ty == Type::BOOL => (*i != 0).to_sql(ty, out),
            Val::Int(_) => Err(format!("an integer passed for a {ty} parameter").into()),
            Val::Bytes(b) => b.as_slice().to_sql(ty, out),
            Val::Text(s) => s.as_str().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

/// `url` without its password (`postgres://user:***@host/db`), for messages and logs.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return url.to_string() };
    let rest = &url[scheme_end..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else { return url.to_string() };
    match rest[..at].find(':') {
        Some(colon) => format!("{}{}:***{}", &url[..scheme_end], &rest[..colon], &rest[at..]),
        None => url.to_string(),
    }
}

impl From<tokio_postgres::Error> for DbError {
    fn from(e: tokio_postgres::Error) -> Self {
        let code = e.code();
        let (kind, what) = if e.is_closed() {
            (DbErrorKind::Unavailable, "lost the connection to the database server")
        } else if code == Some(&SqlState::DISK_FULL) {
            (DbErrorKind::DiskFull, "the database server's disk is full")
        } else if code == Some(&SqlState::READ_ONLY_SQL_TRANSACTION) {
            (DbErrorKind::ReadOnly, "the database is read-only (a replica?); writes go to the primary")
        } else if matches!(code, Some(&SqlState::ADMIN_SHUTDOWN) | Some(&SqlState::CRASH_SHUTDOWN)) {
            (
                DbErrorKind::Unavailable,
                "lost the connection: the database server ended it (shutdown, crash or administrator)",
            )
        } else if code == Some(&SqlState::CANNOT_CONNECT_NOW) {
            (DbErrorKind::Unavailable, "the database server is starting or shutting down")
        } else if matches!(
            code,
            Some(&SqlState::INVALID_CATALOG_NAME)
                | Some(&SqlState::INVALID_PASSWORD)
                | Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION)
        ) {
            (DbErrorKind::Unusable, "the database refused this registry")
        } else if code.is_none() {
            // No server reply: it could not be reached, or the connection broke.
            (DbErrorKind::Unavailable, "the database server cannot be reached")
        } else {
            (DbErrorKind::Other, "database error")
        };
        let detail = match e.as_db_error() {
            Some(db) => format!("{}: {}", db.code().code(), db.message()),
            None => {
                let mut s = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(inner) = src {
                    s.push_str(&format!(": {inner}"));
                    src = inner.source();
                }
                s
            }
        };
        DbError::new(kind, format!("postgres: {what} ({detail})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollar_parameters() {
        assert_eq!(
            placeholders("SELECT ?1, ?12 WHERE a = '?' AND b = ?2"),
            "SELECT $1, $12 WHERE a = '?' AND b = $2"
        );
    }

    #[test]
    fn row_statements_become_set_statements() {
        let (i, b) = (Type::INT8, Type::BYTEA);
        assert_eq!(
            set_sql("INSERT INTO t (a, b) VALUES (?1, ?2) ON CONFLICT (a) DO UPDATE SET b = excluded.b", &[i.clone(), b.clone()])
                .unwrap(),
            "INSERT INTO t (a, b) SELECT v.c1, v.c2 FROM unnest($1::int8[], $2::bytea[]) AS v(c1, c2) ON CONFLICT (a) DO UPDATE SET b = excluded.b"
        );
        assert_eq!(
            set_sql("UPDATE h SET state = ?1, published = 1 WHERE leaf_index = ?2", &[b.clone(), i.clone()]).unwrap(),
            "UPDATE h SET state = v.c1, published = 1 FROM unnest($1::bytea[], $2::int8[]) AS v(c1, c2) WHERE leaf_index = v.c2"
        );
        assert_eq!(
            set_sql("DELETE FROM n WHERE level = ?1 AND idx = ?2", &[i.clone(), i.clone()]).unwrap(),
            "DELETE FROM n USING unnest($1::int8[], $2::int8[]) AS v(c1, c2) WHERE level = v.c1 AND idx = v.c2"
        );
        assert_eq!(set_sql("SELECT ?1", std::slice::from_ref(&i)), None);
        assert_eq!(
            lateral_sql("SELECT idx, hash FROM n WHERE level = ?1 AND idx BETWEEN ?2 AND ?3", &[i.clone(), i.clone(), i.clone()])
                .unwrap(),
            "SELECT v.n, q.* FROM unnest($1::int8[], $2::int8[], $3::int8[]) WITH ORDINALITY AS v(c1, c2, c3, n) \
             CROSS JOIN LATERAL (SELECT idx, hash FROM n WHERE level = v.c1 AND idx BETWEEN v.c2 AND v.c3 OFFSET 0) AS q ORDER BY v.n"
        );
        assert_eq!(lateral_sql("DELETE FROM n WHERE a = ?1", &[i]), None);
    }

    #[test]
    fn plain_insert_batches_become_copies_and_nothing_else_does() {
        assert_eq!(
            copy_sql("INSERT INTO log (idx, entry, epoch) VALUES (?1, ?2, ?3)", 3).as_deref(),
            Some("COPY log (idx, entry, epoch) FROM STDIN (FORMAT binary)")
        );
        for not_plain in [
            "INSERT INTO t (a, b) VALUES (?1, ?2) ON CONFLICT (a) DO UPDATE SET b = excluded.b",
            "INSERT INTO t (a, b) VALUES (?2, ?1)",
            "INSERT INTO t (a, b) VALUES (?1, 0)",
            "INSERT INTO t (a, b) VALUES (?1, ?2 + 1)",
            "INSERT INTO t (a) SELECT ?1",
            "INSERT INTO t (a, b) VALUES (?1)",
            "UPDATE t SET a = ?1 WHERE b = ?2",
            "INSERT INTO t; DROP TABLE x (a, b) VALUES (?1, ?2)",
        ] {
            assert_eq!(copy_sql(not_plain, 2), None, "{not_plain}");
        }
    }

    #[test]
    fn urls_are_shown_without_their_password() {
        assert_eq!(
            redact("postgres://reg:s3cr@t@db.example:5432/reg"),
            "postgres://reg:***@db.example:5432/reg"
        );
        assert_eq!(redact("postgres://reg@db/reg"), "postgres://reg@db/reg");
        assert_eq!(redact("postgresql:///reg?host=/tmp"), "postgresql:///reg?host=/tmp");
    }

    #[test]
    fn urls_name_another_database() {
        assert_eq!(
            with_database("postgresql://postgres@/postgres?host=/tmp/pg&port=5", "t1"),
            "postgresql://postgres@/t1?host=/tmp/pg&port=5"
        );
        assert_eq!(with_database("postgres://u:p@h:5432", "reg"), "postgres://u:p@h:5432/reg");
        assert_eq!(with_database("postgres://h/db", "reg"), "postgres://h/reg");
    }
}

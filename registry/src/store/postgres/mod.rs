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
//!
//! Here: the handle and how it runs statements. `schema` holds the tables and their checks,
//! `partitions` the monthly partitions of `events`, `statements` the rewriting of the
//! registry's SQL into set statements and copies, `params` the values on the wire,
//! `connection` the driver and its errors, `admin` databases and URLs.

mod admin;
mod connection;
mod params;
mod partitions;
mod schema;
mod statements;

pub use admin::{create_database, create_fresh_database, drop_database, redact, with_database};
pub use schema::MIGRATIONS;

use super::{DbError, DbErrorKind, DbResult, Row, TxKind, Val};
use connection::{connect, Driver, CONNECT_TIMEOUT};
use futures_util::future::try_join_all;
use params::{column_refs, refs, row, Column};
use statements::{copy_sql, lateral_sql, placeholders, set_sql};
use std::cell::RefCell;
use std::collections::HashMap;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Statement};

/// The advisory lock every write transaction takes first (an arbitrary constant: "hcreg").
pub const WRITER_LOCK: i64 = 0x0068_6372_6567;

/// Rows per set statement (see [`Postgres::exec_many`]): bounds one message's size.
const SET_ROWS: usize = 20_000;

/// From this many rows, a plain insert batch is loaded with `COPY` (see [`copy_sql`]).
const COPY_THRESHOLD: usize = 1000;

/// Below this many requests, [`Postgres::rows_many`] pipelines them instead.
const SET_THRESHOLD: usize = 16;

/// Statements per pipelined batch: bounds the memory of one batch's requests and replies.
const PIPELINE: usize = 2048;

/// Connections [`Postgres::rows_many_committed`] reads on side by side: as many random reads in
/// flight at once, where one connection waits for each in turn.
const READERS: usize = 8;

/// Requests per reader below which [`Postgres::rows_many_committed`] is not worth its readers.
const READER_MIN: usize = 256;

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

    /// Drives `work` on this handle's runtime (see `Driver::block_on`).
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

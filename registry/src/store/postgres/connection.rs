//! Connections: the driver's runtime, the settings every session runs with, and the server's
//! errors as the registry's kinds (a lost connection, a full disk, a read-only replica).

use crate::store::{DbError, DbErrorKind, DbResult};
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

/// How long to wait for the server when connecting, unless the URL says (`connect_timeout=`).
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Every connection's settings. Every statement of the registry is a key look-up, or a batch of
/// them against a table far larger than the batch: a nested loop over an index is always the
/// plan. The planner's estimate for an `unnest` of a parameter array can tip it to a hash join
/// over a scan of the whole table instead, so those plans are off. The same estimates (a large
/// array) push those statements over the JIT's cost threshold, and compiling each execution cost
/// more than it saved (a 100 k-row update of tree groups: 0.93 s with it, 0.74 s without).
pub(super) const SESSION: &str = "SET enable_hashjoin = off; SET enable_mergejoin = off; SET jit = off";

/// The driver's single-threaded runtime. A registry may be used or dropped on an async
/// runtime's thread (the service's state at shutdown, a test), where blocking in a nested
/// runtime or dropping one that waits for its tasks would panic: work then runs on a scoped
/// thread, and the runtime is let go in the background, which closes its connection.
pub(super) struct Driver(Option<tokio::runtime::Runtime>);

impl Driver {
    pub(super) fn new() -> DbResult<Self> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
            DbError::new(DbErrorKind::Other, format!("postgres: cannot start the driver's runtime: {e}"))
        })?;
        Ok(Self(Some(rt)))
    }

    /// Runs `work` to completion.
    pub(super) fn block_on<F: std::future::Future + Send>(&self, work: F) -> F::Output
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

/// A connection to the server of `config` (named `location` in messages), with the registry's
/// [`SESSION`] settings. Its task runs whenever the handle waits on `rt`; it ends (and every
/// later call on it fails as `Unavailable`) when the server goes away.
pub(super) fn connect(rt: &Driver, config: &tokio_postgres::Config, location: &str) -> DbResult<Client> {
    let (client, connection) = rt.block_on(config.connect(NoTls)).map_err(|e| {
        let e = DbError::from(e);
        DbError::new(e.kind, format!("cannot connect to {location}: {}", e.message))
    })?;
    rt.0.as_ref().expect("a live driver").spawn(connection);
    rt.block_on(client.batch_execute(SESSION))?;
    Ok(client)
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

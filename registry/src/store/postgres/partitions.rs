//! `events` partitioned by month of acceptance: a month's partition is made with its first
//! event, and dropped whole when it is archived (no row-by-row `DELETE`, no vacuum).

use super::Postgres;
use crate::store::months::{month_partition, partition_bounds, MAX_PARTITION_TIME};
use crate::store::{DbError, DbErrorKind, DbResult, Val};

impl Postgres {
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

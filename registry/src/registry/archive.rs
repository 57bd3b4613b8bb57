//! Ageing out: removing whole months of event rows that no acceptance rule can read again.
//!
//! The log keeps every entry, so nothing of the record is lost; what goes is the `events` rows
//! the rules query. Each rule reads stored events only within a published bound of the
//! acceptance time (the event window for duplicates, `max_index_case_age` for index cases,
//! `max_retraction_age` for retractions), and acceptance is refused more than `MAX_AHEAD` behind
//! the latest head, so a row accepted before `latest head − MAX_AHEAD − horizon` is never read by
//! them again. One reader remains: a retraction makes the next publish recompute the holder's
//! state from her events. Before her rows go, her archived events' per-kind maximum is kept as her
//! **floor** (`floors`); an archived event can no longer be retracted, so the floor is final, and a
//! recomputation starts from it. The auditor, replaying the whole log, computes the same states.

use super::{latest_head, state_from_blob, state_to_blob, Registry, RegistryError, Result, MAX_AHEAD};
use crate::args;
use crate::store::{months, Db, TxKind, Val};
use std::collections::BTreeMap;

/// The meta key holding the archive boundary: every event accepted before it has been removed
/// from `events` (absent: nothing archived).
pub(super) const META_ARCHIVED_BEFORE: &str = "archived_before";

/// Holders whose floors one statement computes (about 100 MB of floors in memory at most).
const FLOOR_CHUNK: u64 = 1 << 20;

/// What [`Registry::archive`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Archived {
    /// Every event accepted before this time (a month's first second, UTC) is now only in the
    /// log; 0 when nothing has been archived.
    pub before: u64,
    /// Event rows removed by this call.
    pub events: u64,
    /// Holders whose floor this call raised.
    pub floors: u64,
}

impl Registry {
    /// How far back the acceptance rules read stored events, from an acceptance time: the
    /// longest of the duplicate window (an event and its copy are both accepted within the event
    /// window around the same event time), the index-case age and the retraction age.
    pub fn look_back(&self) -> u64 {
        let p = &self.policy;
        (p.max_event_behind.saturating_add(p.max_event_ahead))
            .max(p.max_index_case_age)
            .max(p.max_retraction_age)
    }

    /// The archive boundary: events accepted before it are only in the log (0: none archived).
    pub fn archived_before(&self) -> Result<u64> {
        archived_before(&self.db)
    }

    /// Archives every whole month of events accepted before `latest head − MAX_AHEAD −`
    /// [`Registry::look_back`]: raises the floors of their holders, then removes the rows (on
    /// PostgreSQL the month partitions are detached and dropped). One transaction: a crash leaves
    /// either all of it or none. Depends on the latest head, not on a clock, so a wrong clock
    /// cannot archive rows the rules still read. Refuses (and changes nothing) if an event or a
    /// retraction in the months to archive is not yet published, which only a damaged database
    /// or a clock set far back at acceptance can cause.
    pub fn archive(&mut self) -> Result<Archived> {
        self.archive_by(FLOOR_CHUNK)
    }

    /// [`Registry::archive`], computing floors by ranges of `chunk` holders (tests use small
    /// ones to cross range edges).
    #[doc(hidden)]
    pub fn archive_by(&mut self, chunk: u64) -> Result<Archived> {
        let chunk = chunk.max(1);
        let tx = self.db.begin(TxKind::Write)?;
        let head = latest_head(&tx)?;
        let before = archived_before(&tx)?;
        let cutoff = head.issued_at.saturating_sub(MAX_AHEAD.saturating_add(self.look_back()));
        // No event is accepted this late (its time would be past 2^40 - 1 s): a head beyond it
        // was signed on a wrong clock. Its month's bounds would overflow, and the boundary would
        // not fit a BIGINT (SQLite deleted nothing, PostgreSQL dropped every month unfloored).
        if cutoff > months::MAX_PARTITION_TIME {
            return Err(RegistryError::Archive(format!(
                "the latest head was issued at {}, beyond any acceptance time (the registry's clock \
                 was wrong): nothing archived",
                head.issued_at
            )));
        }
        let boundary = months::month_start(cutoff);
        if boundary <= before {
            return Ok(Archived { before, events: 0, floors: 0 });
        }
        let b = [Val::Int(boundary as i64)];
        let unpublished: u64 = tx
            .value(
                "SELECT COUNT(*) FROM events WHERE accepted_at < ?1
                 AND (log_idx IS NULL OR (retracted = 1 AND retraction_log_idx IS NULL))",
                &b,
            )?
            .unwrap_or(0);
        if unpublished > 0 {
            return Err(RegistryError::Archive(format!(
                "{unpublished} events accepted before {boundary} are not published yet; publish first"
            )));
        }
        let events: u64 = tx.value("SELECT COUNT(*) FROM events WHERE accepted_at < ?1", &b)?.unwrap_or(0);
        // Per holder, the per-kind maximum over the live events being archived, merged into her
        // floor; by ranges of holders, so that memory stays bounded at a nation's scale.
        let kinds = self.policy.events.len();
        let mut floors = 0u64;
        let holders: u64 = tx
            .value("SELECT COALESCE(MAX(holder) + 1, 0) FROM events WHERE accepted_at < ?1", &b)?
            .unwrap_or(0);
        for first in (0..holders).step_by(usize::try_from(chunk).unwrap_or(usize::MAX)) {
            let end = first.saturating_add(chunk).min(holders);
            floors += self.raise_floors(&tx, boundary, first, end, kinds)?;
        }
        let live: u64 = tx
            .value("SELECT COUNT(DISTINCT holder) FROM events WHERE accepted_at < ?1 AND retracted = 0", &b)?
            .unwrap_or(0);
        if live != floors {
            return Err(RegistryError::Corrupt(format!(
                "{live} holders have live events to archive but {floors} floors were computed"
            )));
        }
        tx.drop_events_before(boundary)?;
        // Whatever the engine did, no row before the boundary may stay (on PostgreSQL, one in a
        // partition attached with other bounds than its name's): the floors counted them gone.
        let left: u64 = tx.value("SELECT COUNT(*) FROM events WHERE accepted_at < ?1", &b)?.unwrap_or(0);
        if left > 0 {
            return Err(RegistryError::Corrupt(format!(
                "{left} events accepted before {boundary} are still stored after archiving them"
            )));
        }
        tx.set_meta(META_ARCHIVED_BEFORE, &boundary.to_be_bytes())?;
        tx.commit()?;
        Ok(Archived { before: boundary, events, floors })
    }

    /// Merges into the floors of holders `first..end` their live events accepted before
    /// `boundary`; returns how many floors were written.
    fn raise_floors(&self, tx: &Db, boundary: u64, first: u64, end: u64, kinds: usize) -> Result<u64> {
        let mut raised: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
        for r in tx.rows(
            "SELECT holder, kind, MAX(time) FROM events
             WHERE accepted_at < ?1 AND retracted = 0 AND holder >= ?2 AND holder < ?3
             GROUP BY holder, kind",
            &args![boundary, first, end],
        )? {
            let (holder, kind, time): (u32, String, u64) = (r.get(0)?, r.get(1)?, r.get(2)?);
            let k = self
                .policy
                .event_index(&kind)
                .ok_or_else(|| RegistryError::Corrupt(format!("stored event of unknown kind {kind}")))?;
            raised.entry(holder).or_insert_with(|| vec![0; kinds])[k] = time;
        }
        let keys: Vec<Vec<Val>> = raised.keys().map(|&h| args![h].to_vec()).collect();
        let old = tx.rows_many("SELECT state FROM floors WHERE holder = ?1", &keys)?;
        let mut writes = Vec::with_capacity(raised.len());
        for ((holder, new), old) in raised.into_iter().zip(old) {
            let mut floor = match old.first() {
                Some(r) => state_from_blob(&r.get::<Vec<u8>>(0)?, kinds)?,
                None => vec![0; kinds],
            };
            for (f, t) in floor.iter_mut().zip(new) {
                *f = (*f).max(t);
            }
            writes.push(args![holder, state_to_blob(&floor)].to_vec());
        }
        tx.exec_many(
            "INSERT INTO floors (holder, state) VALUES (?1, ?2)
             ON CONFLICT (holder) DO UPDATE SET state = excluded.state",
            &writes,
        )?;
        Ok(writes.len() as u64)
    }

    /// Every holder's floor (see the module's documentation), by leaf: the database audit
    /// compares them with the replay of the archived entries.
    pub fn stored_floors(&self) -> Result<Vec<(u32, Vec<u64>)>> {
        let rows = self.db.rows("SELECT holder, state FROM floors ORDER BY holder", &[])?;
        let kinds = self.policy.events.len();
        rows.iter().map(|r| Ok((r.get(0)?, state_from_blob(&r.get::<Vec<u8>>(1)?, kinds)?))).collect()
    }
}

/// Where the archived months end (0: nothing archived).
pub(super) fn archived_before(db: &crate::store::Db) -> Result<u64> {
    match db.get_meta(META_ARCHIVED_BEFORE)? {
        None => Ok(0),
        Some(b) => Ok(u64::from_be_bytes(
            b.as_slice()
                .try_into()
                .map_err(|_| RegistryError::Corrupt("meta `archived_before` is not 8 bytes".into()))?,
        )),
    }
}

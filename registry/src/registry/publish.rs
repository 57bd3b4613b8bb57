//! Publishing: the whole queue applied as the next epoch, and its head signed, in one transaction.

use super::*;

/// The points of `publish` where a test can inject a failure (the transaction is then dropped
/// uncommitted, as after a crash).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublishStep {
    QueueRead,
    LogAppended,
    StatesComputed,
    TreeWritten,
    QueueCleared,
    HeadSigned,
}

impl PublishStep {
    pub const ALL: [PublishStep; 6] = [
        PublishStep::QueueRead,
        PublishStep::LogAppended,
        PublishStep::StatesComputed,
        PublishStep::TreeWritten,
        PublishStep::QueueCleared,
        PublishStep::HeadSigned,
    ];
}

/// Hooks for a publish: progress (`done`, `total` entries) and fault injection.
#[derive(Default)]
pub struct PublishHooks<'a> {
    pub progress: Option<&'a mut dyn FnMut(u64, u64)>,
    /// Called at each [`PublishStep`]; an `Err` aborts the publish there.
    pub fault: Option<&'a mut dyn FnMut(PublishStep) -> std::result::Result<(), ()>>,
}

pub use crate::head::MAX_AHEAD;

impl Registry {
    pub fn publish(&mut self, now: u64) -> Result<SignedHead> {
        self.publish_with(now, PublishHooks::default())
    }

    /// Applies the whole queue as the next epoch in one transaction: log append, holder states,
    /// leaves, tree nodes, queue cleared, head signed. On any failure nothing is applied and the
    /// tree cache, which may hold the uncommitted nodes, is dropped.
    pub fn publish_with(&mut self, now: u64, hooks: PublishHooks) -> Result<SignedHead> {
        let result = self.publish_inner(now, hooks);
        if result.is_err() {
            self.cache.get_mut().clear();
        }
        result
    }

    fn publish_inner(&mut self, now: u64, mut hooks: PublishHooks) -> Result<SignedHead> {
        let mut fault_hook = hooks.fault.take();
        let mut fault = |step: PublishStep| -> Result<()> {
            match fault_hook.as_mut() {
                Some(f) => f(step).map_err(|()| RegistryError::Injected(step)),
                None => Ok(()),
            }
        };
        let kinds = self.policy.events.len();
        let tx = self.db.begin(TxKind::Write)?;
        let prev = latest_head(&tx)?;
        // Another process may have published since this handle cached the tree's top.
        let cache = self.cache.get_mut();
        cache.sync(prev.root);
        // Strictly increasing even for several publishes within one second, but never more
        // than MAX_AHEAD seconds ahead of the clock: a clock set back is an operator error.
        // The stored head is outside data to this code: a value at the end of its range is a
        // damaged database, not a reason to overflow.
        let beyond =
            |what: &str| RegistryError::Corrupt(format!("the latest head's {what} is at its maximum"));
        let issued_at = now.max(prev.issued_at.checked_add(1).ok_or_else(|| beyond("issued_at"))?);
        if issued_at > now.saturating_add(MAX_AHEAD) {
            return Err(RegistryError::ClockBehind { now, last: prev.issued_at });
        }
        let epoch = prev.epoch.checked_add(1).ok_or_else(|| beyond("epoch"))?;

        let queue: Vec<(i64, Vec<u8>)> = tx
            .rows("SELECT seq, entry FROM queue ORDER BY seq", &[])?
            .iter()
            .map(|r| Ok((r.get(0)?, r.get(1)?)))
            .collect::<Result<_>>()?;
        let total = queue.len() as u64;
        fault(PublishStep::QueueRead)?;

        // 1. What each entry does (no public key is decompressed: entries were validated when
        //    accepted).
        let summaries = queue
            .iter()
            .map(|(_, b)| Entry::summary(b))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| RegistryError::Corrupt(format!("queued entry: {e}")))?;
        let mut new_holders = 0u64;
        // holder → whether it needs a full recomputation (a retraction touched it).
        let mut touched: HashMap<u32, bool> = HashMap::new();
        // Events of this batch per holder, and the ids retracted in this batch.
        let mut batch_events: HashMap<u32, Vec<(usize, u64, Hash)>> = HashMap::new();
        let mut retracted_now: HashSet<Hash> = HashSet::new();
        {
            for s in &summaries {
                match s {
                    Summary::Enrol { leaf_index } => {
                        new_holders += 1;
                        touched.entry(*leaf_index).or_insert(false);
                    }
                    Summary::Event { id, holder, kind, time } => {
                        let kind = self.policy.event_index(kind).ok_or_else(|| {
                            RegistryError::Corrupt(format!("queued event of unknown kind {kind}"))
                        })?;
                        touched.entry(*holder).or_insert(false);
                        batch_events.entry(*holder).or_default().push((kind, *time, *id));
                    }
                    Summary::Retraction { event } => {
                        let holder: u32 =
                            tx.value("SELECT holder FROM events WHERE id = ?1", &args![event])?.ok_or_else(
                                || RegistryError::Corrupt("a queued retraction's event is gone".into()),
                            )?;
                        touched.insert(holder, true);
                        retracted_now.insert(*event);
                    }
                    Summary::Accreditation => {}
                }
            }
        }

        // 2. New states (per-kind max; a retraction forces recomputation from all events).
        let mut holders: Vec<u32> = touched.keys().copied().collect();
        holders.sort_unstable();
        let mut rows: Vec<(u32, Fr, Vec<u64>)> = Vec::with_capacity(holders.len());
        let mut changed_states = Vec::new();
        {
            let keys: Vec<Vec<_>> = holders.iter().map(|&h| args![h].to_vec()).collect();
            let stored =
                tx.rows_many("SELECT commitment, state FROM holders WHERE leaf_index = ?1", &keys)?;
            let recompute: Vec<Vec<_>> =
                holders.iter().filter(|h| touched[*h]).map(|&h| args![h].to_vec()).collect();
            let mut maxima = tx
                .rows_many(
                    "SELECT kind, MAX(time) FROM events WHERE holder = ?1 AND retracted = 0 GROUP BY kind",
                    &recompute,
                )?
                .into_iter();
            // What her archived events decided (see `archive.rs`): the recomputation starts there.
            let mut floors =
                tx.rows_many("SELECT state FROM floors WHERE holder = ?1", &recompute)?.into_iter();
            for (&h, found) in holders.iter().zip(stored) {
                let row =
                    found.first().ok_or_else(|| RegistryError::Corrupt(format!("holder {h} is gone")))?;
                let (cm, st): (Vec<u8>, Vec<u8>) = (row.get(0)?, row.get(1)?);
                let mut state = if touched[&h] {
                    let mut s = match floors.next().into_iter().flatten().next() {
                        Some(r) => state_from_blob(&r.get::<Vec<u8>>(0)?, kinds)?,
                        None => vec![0u64; kinds],
                    };
                    for r in maxima.next().into_iter().flatten() {
                        let kind: String = r.get(0)?;
                        let t: u64 = r.get(1)?;
                        let k = self.policy.event_index(&kind).ok_or_else(|| {
                            RegistryError::Corrupt(format!("stored event of unknown kind {kind}"))
                        })?;
                        s[k] = s[k].max(t);
                    }
                    s
                } else {
                    state_from_blob(&st, kinds)?
                };
                for (k, t, id) in batch_events.get(&h).into_iter().flatten() {
                    if !retracted_now.contains(id) {
                        state[*k] = state[*k].max(*t);
                    }
                }
                // A row is rewritten only when its state changed (a new holder without events
                // keeps the row her enrolment wrote: one write, not two, per holder).
                let blob = state_to_blob(&state);
                if blob != st {
                    changed_states.push(args![blob, h].to_vec());
                }
                rows.push((h, fr_from_blob(&cm)?, state));
            }
        }
        fault(PublishStep::StatesComputed)?;

        // 3. Hash the leaves on worker threads while this thread appends to the log: the two
        //    are independent, and hashing is the larger cost.
        let (log_size, log_root, leaves) = std::thread::scope(|scope| -> Result<_> {
            let hashing = scope.spawn(|| {
                parallel_chunks(&rows, |chunk| {
                    let mut out = Vec::with_capacity(chunk.len());
                    for block in chunk.chunks(BATCH) {
                        let inputs: Vec<_> = block.iter().map(|(_, cm, st)| (*cm, state::pack(st))).collect();
                        out.extend(hashes::leaf_many(&inputs));
                    }
                    out
                })
            });
            let mut frontier = Frontier::load(&DbSubtrees(&tx), prev.log_size)?;
            // The stored log (entries and subtrees) must be the one the last head signed: a
            // head over an altered entry or node would sign a log that does not extend the
            // previous one (its consistency proof fails), under the registry's own key.
            if frontier.root() != prev.log_root {
                return Err(RegistryError::Corrupt(format!(
                    "the stored log does not hash to head {}'s log root (an entry or a log node was \
                     altered or lost); nothing was published",
                    prev.epoch
                )));
            }
            let (mut log_rows, mut node_rows, mut event_rows, mut retraction_rows) =
                (Vec::with_capacity(queue.len()), Vec::new(), Vec::new(), Vec::new());
            for (i, ((_, bytes), summary)) in queue.iter().zip(&summaries).enumerate() {
                let idx = frontier.size();
                log_rows.push(bytes.as_slice());
                for (level, index, hash) in frontier.push(log::leaf_hash(bytes)) {
                    if level >= LOG_STORED_FROM {
                        node_rows.push(args![level, index, &hash].to_vec());
                    }
                }
                match summary {
                    Summary::Event { id, .. } => event_rows.push(args![idx, id].to_vec()),
                    Summary::Retraction { event } => retraction_rows.push(args![idx, event].to_vec()),
                    Summary::Enrol { .. } | Summary::Accreditation => {}
                }
                if let Some(p) = hooks.progress.as_mut() {
                    if i % 1024 == 0 || i as u64 + 1 == total {
                        p(i as u64 + 1, total);
                    }
                }
            }
            log_pages::append(&tx, prev.log_size, &log_rows)?;
            tx.exec_many("INSERT INTO log_nodes (level, idx, hash) VALUES (?1, ?2, ?3)", &node_rows)?;
            tx.exec_many("UPDATE events SET log_idx = ?1 WHERE id = ?2", &event_rows)?;
            tx.exec_many("UPDATE events SET retraction_log_idx = ?1 WHERE id = ?2", &retraction_rows)?;
            tx.exec_many("UPDATE holders SET state = ?1 WHERE leaf_index = ?2", &changed_states)?;
            let leaves =
                hashing.join().map_err(|_| RegistryError::Corrupt("leaf hashing panicked".into()))?;
            Ok((frontier.size(), frontier.root(), leaves))
        })?;
        fault(PublishStep::LogAppended)?;

        // 4. The dirty paths of the stored tree: their siblings read, rehashed, written back.
        let changed = tree::update(&tx, cache, prev.root, rows.iter().map(|r| r.0).zip(leaves))?;
        let root = changed.last().map_or(prev.root, |&(_, _, root)| root);
        fault(PublishStep::TreeWritten)?;

        if let Some((last, _)) = queue.last() {
            tx.exec("DELETE FROM queue WHERE seq <= ?1", &args![*last])?;
        }
        fault(PublishStep::QueueCleared)?;

        let head = SignedHead::sign(
            &self.key,
            self.digest,
            HeadFields { epoch, issued_at, root, holders: prev.holders + new_holders, log_size, log_root },
        );
        tx.exec(
            "INSERT INTO heads (epoch, head) VALUES (?1, ?2)",
            &args![epoch, serde_json::to_string(&head).expect("head")],
        )?;
        fault(PublishStep::HeadSigned)?;
        tx.commit()?;
        self.cache.get_mut().apply(&changed, root);
        Ok(head)
    }
}

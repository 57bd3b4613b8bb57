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
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
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

        let queue: Vec<(i64, Vec<u8>)> = {
            let mut stmt = tx.prepare("SELECT seq, entry FROM queue ORDER BY seq")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
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
            let mut holder_of = tx.prepare_cached("SELECT holder FROM events WHERE id = ?1")?;
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
                        let holder: u32 = holder_of.query_row([event.as_slice()], |r| r.get(0))?;
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
        {
            let mut get = tx.prepare_cached("SELECT commitment, state FROM holders WHERE leaf_index = ?1")?;
            let mut all = tx.prepare_cached(
                "SELECT kind, MAX(time) FROM events WHERE holder = ?1 AND retracted = 0 GROUP BY kind",
            )?;
            for &h in &holders {
                let (cm, st): (Vec<u8>, Vec<u8>) = get.query_row([h], |r| Ok((r.get(0)?, r.get(1)?)))?;
                let mut state = if touched[&h] {
                    let mut s = vec![0u64; kinds];
                    let mut q = all.query([h])?;
                    while let Some(r) = q.next()? {
                        let kind: String = r.get(0)?;
                        let t: i64 = r.get(1)?;
                        let k = self.policy.event_index(&kind).ok_or_else(|| {
                            RegistryError::Corrupt(format!("stored event of unknown kind {kind}"))
                        })?;
                        s[k] = t as u64;
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
            let mut ins_log = tx.prepare_cached("INSERT INTO log (idx, entry, epoch) VALUES (?1, ?2, ?3)")?;
            let mut ins_node =
                tx.prepare_cached("INSERT INTO log_nodes (level, idx, hash) VALUES (?1, ?2, ?3)")?;
            let mut set_idx = tx.prepare_cached("UPDATE events SET log_idx = ?1 WHERE id = ?2")?;
            let mut set_ridx =
                tx.prepare_cached("UPDATE events SET retraction_log_idx = ?1 WHERE id = ?2")?;
            for (i, ((_, bytes), summary)) in queue.iter().zip(&summaries).enumerate() {
                let idx = frontier.size();
                ins_log.execute(params![idx as i64, bytes, epoch as i64])?;
                for (level, index, hash) in frontier.push(log::leaf_hash(bytes)) {
                    ins_node.execute(params![level, index as i64, hash.as_slice()])?;
                }
                match summary {
                    Summary::Event { id, .. } => {
                        set_idx.execute(params![idx as i64, id.as_slice()])?;
                    }
                    Summary::Retraction { event } => {
                        set_ridx.execute(params![idx as i64, event.as_slice()])?;
                    }
                    Summary::Enrol { .. } | Summary::Accreditation => {}
                }
                if let Some(p) = hooks.progress.as_mut() {
                    if i % 1024 == 0 || i as u64 + 1 == total {
                        p(i as u64 + 1, total);
                    }
                }
            }
            let mut up_holder =
                tx.prepare_cached("UPDATE holders SET state = ?1, published = 1 WHERE leaf_index = ?2")?;
            for (h, _, st) in &rows {
                up_holder.execute(params![state_to_blob(st), h])?;
            }
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
            tx.execute("DELETE FROM queue WHERE seq <= ?1", [last])?;
        }
        fault(PublishStep::QueueCleared)?;

        let head = SignedHead::sign(
            &self.key,
            self.digest,
            HeadFields { epoch, issued_at, root, holders: prev.holders + new_holders, log_size, log_root },
        );
        tx.execute(
            "INSERT INTO heads (epoch, head) VALUES (?1, ?2)",
            params![epoch as i64, serde_json::to_string(&head).expect("head")],
        )?;
        fault(PublishStep::HeadSigned)?;
        tx.commit()?;
        self.cache.get_mut().apply(&changed, root);
        Ok(head)
    }
}

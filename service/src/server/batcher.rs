//! Group commit: submissions from many connections are accepted in one registry transaction,
//! so one disk sync acknowledges a whole group (SQLite's `synchronous = FULL` costs a sync per
//! commit; one per request would cap the service at a few hundred events a second). A submitter
//! is answered only after the transaction holding its events has committed.

use healthcode_registry::{CheckedEvent, Refusal, Registry, RegistryError};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::{self, error::TryRecvError, Receiver, Sender};
use tokio::sync::oneshot;

/// Largest group of events in one transaction.
const MAX_GROUP_EVENTS: usize = 4096;
/// Submissions waiting for the writer before new ones wait too (backpressure).
const QUEUE_DEPTH: usize = 1024;

pub type Verdicts = Result<Vec<(Result<[u8; 32], Refusal>, u64)>, BatchError>;

/// Why a group was not stored, for every submitter in it (a [`RegistryError`] is not `Clone`).
#[derive(Clone, Debug, thiserror::Error)]
pub enum BatchError {
    /// The server's clock is behind the latest head: the operator must fix the clock.
    #[error("{0}")]
    ClockBehind(String),
    /// Storage failed or the writer stopped; nothing of the group was stored.
    #[error("{0}")]
    Failed(String),
}

struct Job {
    events: Vec<CheckedEvent>,
    reply: oneshot::Sender<Verdicts>,
}

/// The handle submitters use; the writer thread stops when every handle is dropped.
#[derive(Clone)]
pub struct Batcher {
    tx: Sender<Job>,
}

impl Batcher {
    /// Starts the writer thread over `registry`; `now` is the clock acceptance times come from.
    pub fn start(registry: Arc<Mutex<Registry>>, now: fn() -> u64) -> (Self, std::thread::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel(QUEUE_DEPTH);
        let writer = std::thread::Builder::new()
            .name("registry-writer".into())
            .spawn(move || write_loop(&registry, &mut rx, now))
            .expect("spawning the writer thread");
        (Self { tx }, writer)
    }

    /// Accepts `events` (their signatures checked by the caller, in one group with whatever else
    /// is waiting): per event its id or refusal, and the acceptance time. `Err` when the registry
    /// could not store them. Waits (backpressure) while the writer's queue is full.
    pub async fn submit(&self, events: Vec<CheckedEvent>) -> Verdicts {
        let (reply, answer) = oneshot::channel();
        if self.tx.send(Job { events, reply }).await.is_err() {
            return Err(BatchError::Failed("the registry writer has stopped".into()));
        }
        answer.await.unwrap_or_else(|_| Err(BatchError::Failed("the registry writer has stopped".into())))
    }
}

fn write_loop(registry: &Mutex<Registry>, rx: &mut Receiver<Job>, now: fn() -> u64) {
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = vec![first];
        let mut total = jobs[0].events.len();
        while total < MAX_GROUP_EVENTS {
            match rx.try_recv() {
                Ok(job) => {
                    total += job.events.len();
                    jobs.push(job);
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let all: Vec<CheckedEvent> = jobs.iter().flat_map(|j| j.events.iter().cloned()).collect();
        // The clock is read under the lock: a publish between the read and the lock would
        // otherwise leave this acceptance time behind the latest head, which the registry refuses.
        let (at, outcome): (u64, Result<Vec<_>, RegistryError>) = {
            let mut reg = registry.lock().unwrap_or_else(|p| p.into_inner());
            let at = now();
            (at, reg.submit_checked(&all, at))
        };
        match outcome {
            Ok(verdicts) => {
                let mut verdicts = verdicts.into_iter();
                for job in jobs {
                    let mine = verdicts.by_ref().take(job.events.len()).map(|v| (v, at)).collect();
                    let _ = job.reply.send(Ok(mine));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, events = all.len(), "storing a group of events failed");
                let why = match e {
                    RegistryError::ClockBehind { .. } => BatchError::ClockBehind(e.to_string()),
                    _ => BatchError::Failed(e.to_string()),
                };
                for job in jobs {
                    let _ = job.reply.send(Err(why.clone()));
                }
            }
        }
    }
}

//! Group commit: submissions from many connections are accepted in one registry transaction,
//! so one disk sync acknowledges a whole group (SQLite's `synchronous = FULL` costs a sync per
//! commit; one per request would cap the service at a few hundred events a second). A submitter
//! is answered only after the transaction holding its events has committed.

use healthcode_registry::{Refusal, Registry, RegistryError, SignedEvent};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Largest group of events in one transaction.
const MAX_GROUP_EVENTS: usize = 4096;
/// Submissions waiting for the writer before new ones are told to retry (backpressure).
const QUEUE_DEPTH: usize = 1024;

pub type Verdicts = Result<Vec<(Result<[u8; 32], Refusal>, u64)>, String>;

struct Job {
    events: Vec<SignedEvent>,
    reply: oneshot::Sender<Verdicts>,
}

/// The handle submitters use; the writer thread stops when every handle is dropped.
#[derive(Clone)]
pub struct Batcher {
    tx: SyncSender<Job>,
}

impl Batcher {
    /// Starts the writer thread over `registry`; `now` is the clock acceptance times come from.
    pub fn start(registry: Arc<Mutex<Registry>>, now: fn() -> u64) -> (Self, std::thread::JoinHandle<()>) {
        let (tx, rx) = mpsc::sync_channel(QUEUE_DEPTH);
        let writer = std::thread::Builder::new()
            .name("registry-writer".into())
            .spawn(move || write_loop(&registry, &rx, now))
            .expect("spawning the writer thread");
        (Self { tx }, writer)
    }

    /// Accepts `events` (in one group with whatever else is waiting): per event its id or
    /// refusal, and the acceptance time. `Err` when the registry could not store them.
    pub async fn submit(&self, events: Vec<SignedEvent>) -> Verdicts {
        let (reply, answer) = oneshot::channel();
        let tx = self.tx.clone();
        // `send` blocks when the queue is full: do it off the async workers.
        let sent = tokio::task::spawn_blocking(move || tx.send(Job { events, reply }).is_ok()).await;
        if !matches!(sent, Ok(true)) {
            return Err("the registry writer has stopped".into());
        }
        answer.await.unwrap_or_else(|_| Err("the registry writer has stopped".into()))
    }
}

fn write_loop(registry: &Mutex<Registry>, rx: &Receiver<Job>, now: fn() -> u64) {
    while let Ok(first) = rx.recv() {
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
        let all: Vec<SignedEvent> = jobs.iter().flat_map(|j| j.events.iter().cloned()).collect();
        let at = now();
        let outcome: Result<Vec<_>, RegistryError> = {
            let mut reg = registry.lock().unwrap_or_else(|p| p.into_inner());
            reg.submit_batch(&all, at)
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
                for job in jobs {
                    let _ = job.reply.send(Err(e.to_string()));
                }
            }
        }
    }
}

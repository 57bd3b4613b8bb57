//! Publishing an epoch over the network service: the registry's publish transaction, then the
//! head log and its checkpoint, then the witnesses' cosignatures (tlog-witness), kept with the
//! checkpoint in the database so a restart serves what was cosigned.

use super::App;
use crate::headlog;
use healthcode_registry::{RegistryError, SignedHead};
use healthcode_transparency::{add_checkpoint_request, merge_cosignatures, CosignatureVerifier};
use signed_note::Verifier as _;
use std::sync::Arc;
use std::time::Duration;

/// How long one witness may take to answer.
const WITNESS_TIMEOUT: Duration = Duration::from_secs(5);
/// Content type of a witness's 409 answer, whose body is the size it last cosigned.
const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// Publishes the queue as the next epoch and gets the new checkpoint cosigned.
pub fn publish(app: &App) -> Result<SignedHead, RegistryError> {
    let _one_at_a_time = app.publishing.lock().unwrap_or_else(|p| p.into_inner());
    let head = {
        let mut reg = app.registry();
        let head = reg.publish((app.now)())?;
        app.metrics.queue.set(reg.queue_len().unwrap_or(0) as i64);
        head
    };
    app.metrics.publishes.inc();
    app.metrics.head_epoch.set(head.epoch as i64);
    tracing::info!(epoch = head.epoch, holders = head.holders, log_size = head.log_size, "published");
    cosign_latest_locked(app);
    Ok(head)
}

/// Brings the head log up to the stored heads (another process may have published) and asks the
/// witnesses to cosign its checkpoint if they have not.
pub fn cosign_latest(app: &App) {
    let _one_at_a_time = app.publishing.lock().unwrap_or_else(|p| p.into_inner());
    cosign_latest_locked(app);
}

fn cosign_latest_locked(app: &App) {
    cosign_locked(app, false);
}

/// Asks every witness again for a fresh cosignature of the current checkpoint, starting from a
/// note with only the registry's signature: gates count only cosignatures from the last hour
/// ([`crate::gate::MAX_COSIGNATURE_AGE`]), and a registry that publishes rarely must keep its
/// checkpoint's cosignatures recent.
pub fn refresh_cosignatures(app: &App) {
    let _one_at_a_time = app.publishing.lock().unwrap_or_else(|p| p.into_inner());
    app.witness_sizes.lock().unwrap_or_else(|p| p.into_inner()).iter_mut().for_each(|s| *s = 0);
    cosign_locked(app, true);
}

fn cosign_locked(app: &App, from_scratch: bool) {
    let heads = match app.registry().heads() {
        Ok(h) => h,
        Err(e) => return tracing::error!(error = %e, "reading heads for the head log"),
    };
    let (size, note) = {
        let mut log = app.head_log.write().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = headlog::extend(&mut log, &heads) {
            return tracing::error!(error = %e, "head log");
        }
        (log.size(), log.checkpoint(&app.log_key))
    };
    if let Some(h) = heads.last() {
        app.metrics.head_epoch.set(h.epoch as i64);
    }
    let current = app.checkpoint.read().unwrap_or_else(|p| p.into_inner()).clone();
    let mut note = if note_size(&current) == Some(size) && !from_scratch { current } else { note };
    for i in 0..app.witnesses.len() {
        if app.witness_sizes.lock().unwrap_or_else(|p| p.into_inner())[i] == size
            && note_size(&note) == Some(size)
        {
            continue; // its cosignature of this size is in the note already
        }
        let answer = ask_witness(app, i, size, &note)
            .and_then(|lines| own_cosignature(&app.witnesses[i].vkey, &note, &lines));
        match answer {
            Ok(lines) => match merge_cosignatures(&note, &lines) {
                Ok(merged) => note = merged,
                Err(e) => {
                    app.metrics.witness_failures.inc();
                    tracing::warn!(witness = %app.witnesses[i].url, error = %e, "unusable cosignature");
                }
            },
            Err(e) => {
                app.metrics.witness_failures.inc();
                tracing::warn!(witness = %app.witnesses[i].url, error = %e, "witness did not cosign");
            }
        }
    }
    if let Err(e) = app.registry().store_checkpoint(size, &note) {
        tracing::error!(error = %e, "storing the checkpoint");
    }
    *app.checkpoint.write().unwrap_or_else(|p| p.into_inner()) = note;
}

/// The line of a witness's answer that is its own valid cosignature of `note`'s text, under the
/// vkey it is configured with; anything else it sent is dropped. Merging lines unchecked would
/// let one witness (or whoever is on the link to it) put a forged line under another witness's
/// name into the served note, which every gate then refuses whole, or fill the note's signature
/// slots so that the other witnesses' cosignatures no longer fit.
pub fn own_cosignature(vkey: &str, note: &[u8], answer: &[u8]) -> Result<Vec<u8>, String> {
    let verifier = CosignatureVerifier::new(vkey).map_err(|e| format!("its configured vkey: {e}"))?;
    let parsed = signed_note::Note::from_bytes(note).map_err(|e| format!("our own checkpoint: {e}"))?;
    answer
        .split(|&b| b == b'\n')
        .filter_map(|line| signed_note::Signature::from_bytes(line).ok())
        .find(|sig| {
            sig.name() == verifier.name()
                && sig.id() == verifier.key_id()
                && verifier.verify(parsed.text(), sig.signature())
        })
        .map(|sig| sig.to_bytes())
        .ok_or_else(|| "its answer holds no valid cosignature by its configured key".into())
}

/// The tree size a checkpoint note states (its second line).
pub fn note_size(note: &[u8]) -> Option<u64> {
    std::str::from_utf8(note).ok()?.lines().nth(1)?.parse().ok()
}

/// Sends one add-checkpoint request to witness `i`, retrying once from the size it reports
/// when our idea of its latest size was wrong (409).
fn ask_witness(app: &App, i: usize, size: u64, note: &[u8]) -> Result<Vec<u8>, String> {
    let url = format!("{}{}", app.witnesses[i].url.trim_end_matches('/'), crate::api::path::ADD_CHECKPOINT);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(WITNESS_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into();
    let mut old = app.witness_sizes.lock().unwrap_or_else(|p| p.into_inner())[i].min(size);
    for _attempt in 0..2 {
        let proof = app
            .head_log
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .consistency_proof(old, size)
            .map_err(|e| e.to_string())?;
        let body = add_checkpoint_request(old, &proof, note);
        let mut resp = agent.post(&url).send(&body[..]).map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let ctype =
            resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let text = resp.body_mut().with_config().limit(64 * 1024).read_to_vec().map_err(|e| e.to_string())?;
        match status {
            200 => {
                app.witness_sizes.lock().unwrap_or_else(|p| p.into_inner())[i] = size;
                return Ok(text);
            }
            409 if ctype.starts_with(SIZE_CONTENT_TYPE) => {
                let theirs: u64 = std::str::from_utf8(&text)
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .ok_or("409 with an unreadable size")?;
                if theirs > size {
                    return Err(format!("the witness has cosigned size {theirs}, beyond ours ({size})"));
                }
                old = theirs;
            }
            _ => return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&text).trim())),
        }
    }
    Err("the witness kept reporting another size".into())
}

/// How often witnesses whose cosignature the current checkpoint lacks are asked again (one that
/// was down at a publish must not leave gates without a quorum until the next publish).
pub const COSIGN_RETRY: Duration = Duration::from_secs(10);
/// How often every witness is asked for a fresh cosignature of the current checkpoint, well
/// within the hour gates accept one for (publishes also refresh them).
pub const COSIGN_REFRESH: Duration = Duration::from_secs(15 * 60);

/// Asks the witnesses that have not cosigned the current checkpoint again, every
/// [`COSIGN_RETRY`], and all of them every [`COSIGN_REFRESH`], until `stop` turns true.
pub async fn run_cosign_retries(app: Arc<App>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(COSIGN_RETRY);
    tick.tick().await;
    let mut last_full = std::time::Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let size = app.head_log.read().unwrap_or_else(|p| p.into_inner()).size();
        let missing = app.witness_sizes.lock().unwrap_or_else(|p| p.into_inner()).iter().any(|&s| s < size);
        let stale = last_full.elapsed() >= COSIGN_REFRESH;
        let a = app.clone();
        if stale {
            last_full = std::time::Instant::now();
            let _ = tokio::task::spawn_blocking(move || refresh_cosignatures(&a)).await;
        } else if missing {
            let _ = tokio::task::spawn_blocking(move || cosign_latest(&a)).await;
        }
    }
}

/// Publishes every `every` until `stop` turns true; a publish in flight always completes.
pub async fn run_timer(app: Arc<App>, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let a = app.clone();
        match tokio::task::spawn_blocking(move || publish(&a)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "scheduled publish failed"),
            Err(e) => tracing::error!(error = %e, "scheduled publish panicked"),
        }
        if *stop.borrow() {
            return;
        }
    }
}

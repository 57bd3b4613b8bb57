//! Blocking HTTP clients of the registry service (the command line is synchronous): a lab or
//! tracer submitting, a holder's device fetching her witness, a gate refreshing its heads, the
//! operator and auditors acting through signed requests. Every failure is a [`ClientError`]
//! that says which of three things happened: the service could not be reached, it refused, or
//! it answered something that is not what the protocol says.

use crate::api::{
    self, path, AddAuditor, AddSigner, BatchResponse, Enrol, Enrolled, Entries, ErrorBody, RecentHeads,
    RevokeSigner, Verdict,
};
use crate::auth;
use ed25519_dalek::SigningKey;
use healthcode_registry::receipt::Receipt;
use healthcode_registry::{History, LogExport, SignedEvent, SignedHead, SignedRetraction, WitnessFile};
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Largest answer read from the service (a witness or a batch verdict is a few KB; 1000 heads
/// with proofs ~1 MB).
const MAX_ANSWER: u64 = 8 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach {url}: {why}")]
    Unreachable { url: String, why: String },
    #[error("{url} refused ({status} {}): {}", .body.error, .body.reason)]
    Refused { url: String, status: u16, body: ErrorBody },
    #[error("{url} answered something that is not a registry service's answer ({why})")]
    Garbage { url: String, why: String },
    #[error("refusing to send {what} in clear text to {url}: use an https:// URL")]
    ClearText { url: String, what: &'static str },
}

impl ClientError {
    /// Whether the request never got a protocol answer (network, timeout, garbage).
    pub fn is_network(&self) -> bool {
        !matches!(self, ClientError::Refused { .. } | ClientError::ClearText { .. })
    }
}

pub struct Client {
    base: String,
    agent: ureq::Agent,
    /// The registry's key, which every signed request names (fetched from its latest head the
    /// first time one is signed, unless given: a wrong key only makes the registry refuse).
    registry: std::sync::OnceLock<ed25519_dalek::VerifyingKey>,
}

impl Client {
    pub fn new(base_url: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(TIMEOUT))
            .http_status_as_error(false)
            .build()
            .into();
        Self { base: base_url.trim_end_matches('/').to_string(), agent, registry: std::sync::OnceLock::new() }
    }

    /// A client that signs its requests for the registry `key` (known out of band) without asking.
    pub fn for_registry(base_url: &str, key: ed25519_dalek::VerifyingKey) -> Self {
        let c = Self::new(base_url);
        let _ = c.registry.set(key);
        c
    }

    fn registry_key(&self) -> Result<ed25519_dalek::VerifyingKey, ClientError> {
        if let Some(k) = self.registry.get() {
            return Ok(*k);
        }
        let key = self.latest_head()?.registry;
        Ok(*self.registry.get_or_init(|| key))
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Refuses a read whose answer is private (a holder's witness or history: her colour; an
    /// auditor's log entries: everyone's events) over plain HTTP, except to this machine.
    fn private(&self, what: &'static str) -> Result<(), ClientError> {
        if self.base.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://")) {
            return Ok(());
        }
        let rest = self.base.split_once("://").map_or(self.base.as_str(), |(_, r)| r);
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let host = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => host.rsplit_once(':').map_or(host, |(h, _)| h),
        };
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if loopback {
            return Ok(());
        }
        Err(ClientError::ClearText { url: self.base.clone(), what })
    }

    fn send(
        &self,
        method: &str,
        pq: &str,
        body: Option<&[u8]>,
        signer: Option<&SigningKey>,
    ) -> Result<(u16, Vec<u8>), ClientError> {
        let url = format!("{}{pq}", self.base);
        let unreachable = |e: ureq::Error| ClientError::Unreachable { url: url.clone(), why: e.to_string() };
        let mut headers = Vec::new();
        if let Some(key) = signer {
            let registry = self.registry_key()?;
            headers.extend(auth::sign(
                &registry,
                key,
                method,
                pq,
                crate::server::unix_now(),
                body.unwrap_or(b""),
            ));
        }
        let mut resp = match (method, body) {
            ("GET", _) => {
                let mut req = self.agent.get(&url);
                for (k, v) in &headers {
                    req = req.header(k, v);
                }
                req.call().map_err(unreachable)?
            }
            (_, body) => {
                let mut req = self.agent.post(&url).header("content-type", "application/json");
                for (k, v) in &headers {
                    req = req.header(k, v);
                }
                req.send(body.unwrap_or(b"")).map_err(unreachable)?
            }
        };
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_vec()
            .map_err(|e| ClientError::Unreachable { url: url.clone(), why: e.to_string() })?;
        Ok((status, bytes))
    }

    /// Sends and decodes a 2xx answer as `T`; a 4xx/5xx with the service's error body is a
    /// refusal, anything else garbage.
    fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        pq: &str,
        body: Option<&[u8]>,
        signer: Option<&SigningKey>,
    ) -> Result<T, ClientError> {
        let (status, bytes) = self.send(method, pq, body, signer)?;
        let url = format!("{}{pq}", self.base);
        if (200..300).contains(&status) {
            return serde_json::from_slice(&bytes)
                .map_err(|e| ClientError::Garbage { url, why: e.to_string() });
        }
        Err(refusal(url, status, &bytes))
    }

    fn call_empty(&self, pq: &str, body: &[u8], signer: &SigningKey) -> Result<(), ClientError> {
        let (status, bytes) = self.send("POST", pq, Some(body), Some(signer))?;
        if (200..300).contains(&status) {
            return Ok(());
        }
        Err(refusal(format!("{}{pq}", self.base), status, &bytes))
    }

    // ---- labs and tracers ------------------------------------------------------------------

    /// Submits one signed event: its receipt, or the service's refusal.
    pub fn submit_event(&self, event: &SignedEvent) -> Result<Receipt, ClientError> {
        self.call("POST", path::EVENTS, Some(&json(event)), None)
    }

    /// Submits a batch: a verdict per event, in order.
    pub fn submit_events(&self, events: &[SignedEvent]) -> Result<Vec<Verdict>, ClientError> {
        let r: BatchResponse = self.call("POST", path::EVENTS, Some(&json(&events)), None)?;
        if r.results.len() != events.len() {
            return Err(ClientError::Garbage {
                url: format!("{}{}", self.base, path::EVENTS),
                why: format!("{} verdicts for {} events", r.results.len(), events.len()),
            });
        }
        Ok(r.results)
    }

    pub fn submit_retraction(&self, r: &SignedRetraction) -> Result<(), ClientError> {
        let _: serde_json::Value = self.call("POST", path::RETRACTIONS, Some(&json(r)), None)?;
        Ok(())
    }

    // ---- everyone ---------------------------------------------------------------------------

    pub fn latest_head(&self) -> Result<SignedHead, ClientError> {
        self.call("GET", path::HEAD_LATEST, None, None)
    }

    /// The `count` latest heads with their head-log proofs and the checkpoint they are against
    /// (unverified: see [`crate::gate`]).
    pub fn recent_heads(&self, count: u64) -> Result<RecentHeads, ClientError> {
        self.call("GET", &format!("{}?count={count}", path::HEADS), None, None)
    }

    /// The heads of epochs `from..from + count` (fewer at the end of the log), with proofs.
    pub fn heads_from(&self, from: u64, count: u64) -> Result<RecentHeads, ClientError> {
        self.call("GET", &format!("{}?from={from}&count={count}", path::HEADS), None, None)
    }

    // ---- a holder's device ---------------------------------------------------------------------

    pub fn witness(&self, device: &SigningKey) -> Result<WitnessFile, ClientError> {
        self.private("a holder's witness")?;
        self.call("GET", path::HOLDER_WITNESS, None, Some(device))
    }

    pub fn history(&self, device: &SigningKey) -> Result<History, ClientError> {
        self.private("a holder's history")?;
        self.call("GET", path::HOLDER_HISTORY, None, Some(device))
    }

    // ---- the operator -------------------------------------------------------------------------

    pub fn add_signer(&self, operator: &SigningKey, a: &AddSigner) -> Result<(), ClientError> {
        self.call_empty(path::OPERATOR_SIGNERS, &json(a), operator)
    }

    pub fn revoke_signer(&self, operator: &SigningKey, name: &str) -> Result<(), ClientError> {
        self.call_empty(path::OPERATOR_SIGNER_REVOKE, &json(&RevokeSigner { name: name.into() }), operator)
    }

    pub fn enrol(&self, operator: &SigningKey, e: &Enrol) -> Result<Enrolled, ClientError> {
        self.call("POST", path::OPERATOR_HOLDERS, Some(&json(e)), Some(operator))
    }

    pub fn add_auditor(&self, operator: &SigningKey, a: &AddAuditor) -> Result<(), ClientError> {
        self.call_empty(path::OPERATOR_AUDITORS, &json(a), operator)
    }

    pub fn publish(&self, operator: &SigningKey) -> Result<SignedHead, ClientError> {
        self.call("POST", path::OPERATOR_PUBLISH, Some(b""), Some(operator))
    }

    // ---- auditors -----------------------------------------------------------------------------

    pub fn entries(&self, auditor: &SigningKey, start: u64, count: u64) -> Result<Entries, ClientError> {
        self.private("an auditor's log entries")?;
        self.call(
            "GET",
            &format!("{}?start={start}&count={count}", path::AUDITOR_ENTRIES),
            None,
            Some(auditor),
        )
    }
}

impl Client {
    /// The whole record an accredited auditor replays: every head and every log entry up to
    /// the latest head, fetched a page at a time.
    pub fn fetch_record(&self, auditor: &SigningKey) -> Result<LogExport, ClientError> {
        let page = MAX_BATCH as u64;
        let mut heads: Vec<SignedHead> = Vec::new();
        loop {
            let got = self.heads_from(heads.len() as u64, page)?;
            let n = got.heads.len();
            heads.extend(got.heads.into_iter().map(|p| p.head));
            if n == 0 || heads.len() as u64 >= got.checkpoint_size {
                break;
            }
        }
        let size = heads.last().map_or(0, |h| h.log_size);
        let mut entries = Vec::new();
        while (entries.len() as u64) < size {
            let got = self.entries(auditor, entries.len() as u64, page.min(size - entries.len() as u64))?;
            if got.entries.is_empty() {
                break;
            }
            for e in got.entries {
                let bytes = hex::decode(&e).map_err(|err| ClientError::Garbage {
                    url: format!("{}{}", self.base, path::AUDITOR_ENTRIES),
                    why: format!("an entry is not hex: {err}"),
                })?;
                entries.push(bytes);
            }
        }
        Ok(LogExport { heads, entries })
    }
}

fn json<T: serde::Serialize + ?Sized>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("our request bodies serialise")
}

fn refusal(url: String, status: u16, bytes: &[u8]) -> ClientError {
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(body) => ClientError::Refused { url, status, body },
        Err(_) => ClientError::Garbage {
            url,
            why: format!("HTTP {status} with a body that is not an error: {}", snippet(bytes)),
        },
    }
}

fn snippet(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(120)]).replace(['\n', '\r'], " ");
    if s.is_empty() {
        "empty".into()
    } else {
        format!("`{s}`")
    }
}

/// Re-exported so callers need not depend on the api module for one constant.
pub const MAX_BATCH: usize = api::MAX_BATCH;

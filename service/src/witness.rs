//! `healthcode witness serve`: a C2SP tlog-witness over HTTP. It cosigns a log's checkpoint only
//! if it is consistent with the last one it cosigned for that log (its state is on disk before
//! the cosignature leaves), so a registry that signs two different heads for one epoch cannot get
//! both views cosigned by the same witness.

use crate::api::path;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use healthcode_transparency::{CosignerKey, Witness, WitnessError};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Largest add-checkpoint body read (tlog-witness requests are a few KiB).
const MAX_REQUEST: usize = 64 * 1024;
/// How long a client may take to send a request's headers before the connection is closed.
pub const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A witness key file: its name (the key name in its cosignatures) and Ed25519 secret.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessKeyFile {
    pub version: u32,
    pub name: String,
    pub secret_key: String,
    /// The cosignature verifier key (C2SP vkey) gates and registries configure.
    pub vkey: String,
}

impl WitnessKeyFile {
    pub fn generate(name: &str) -> Self {
        let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        let vkey = CosignerKey::new(name, key.clone()).vkey();
        Self { version: 1, name: name.into(), secret_key: hex::encode(key.as_bytes()), vkey }
    }

    pub fn cosigner(&self) -> Result<CosignerKey, String> {
        let bytes: [u8; 32] = hex::decode(&self.secret_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("secret_key is not 64 hex digits")?;
        let key = CosignerKey::new(&self.name, ed25519_dalek::SigningKey::from_bytes(&bytes));
        if key.vkey() != self.vkey {
            return Err("the vkey does not match the secret key".into());
        }
        Ok(key)
    }
}

#[derive(Clone, Debug)]
pub struct WitnessConfig {
    pub listen: SocketAddr,
    pub state: PathBuf,
    pub logs: Vec<String>,
}

struct WitnessApp {
    witness: Mutex<Witness>,
    now: fn() -> u64,
}

pub fn open(state: &Path, key: CosignerKey, logs: &[String]) -> Result<Witness, WitnessError> {
    Witness::open(state, key, logs)
}

pub fn router(witness: Witness) -> Router {
    let app = Arc::new(WitnessApp { witness: Mutex::new(witness), now: crate::server::unix_now });
    Router::new()
        .route(path::ADD_CHECKPOINT, post(add_checkpoint))
        .route(path::HEALTHZ, get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(MAX_REQUEST))
        .with_state(app)
}

async fn add_checkpoint(State(app): State<Arc<WitnessApp>>, body: Bytes) -> Response {
    let result = tokio::task::spawn_blocking(move || {
        let mut w = app.witness.lock().unwrap_or_else(|p| p.into_inner());
        w.add_checkpoint(&body, (app.now)())
    })
    .await;
    match result {
        Ok(Ok(lines)) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], lines).into_response(),
        Ok(Err(e)) => {
            tracing::info!(status = e.status(), reason = %e, "add-checkpoint refused");
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            (status, [(header::CONTENT_TYPE, e.content_type())], e.body()).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "add-checkpoint panicked");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Runs the witness until `shutdown` resolves.
pub async fn serve(
    config: WitnessConfig,
    key: CosignerKey,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let witness =
        open(&config.state, key, &config.logs).map_err(|e| format!("{}: {e}", config.state.display()))?;
    let listener = std::net::TcpListener::bind(config.listen)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    tracing::info!(addr = %listener.local_addr().map_err(|e| e.to_string())?, "witness listening");
    // Not `axum::serve`: it sets no hyper timer, so a client trickling its headers (slowloris)
    // would hold its connection forever.
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
    });
    let mut server = axum_server::from_tcp(listener).handle(handle);
    let timer = hyper_util::rt::TokioTimer::new();
    server.http_builder().http1().timer(timer).header_read_timeout(HEADER_TIMEOUT);
    server.serve(router(witness).into_make_service()).await.map_err(|e| e.to_string())
}

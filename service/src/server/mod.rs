//! `healthcode serve`: the registry as an HTTP service (axum on tokio).
//!
//! One process owns the registry database. Submissions go through the [`batcher`] (group
//! commit); publishing runs on a timer or on the operator's request, appends the new head to
//! the head log and asks the configured witnesses to cosign its checkpoint ([`publisher`]).
//! Handlers are in [`routes`] (public reads and submissions) and [`roles`] (operator, holder,
//! auditor). On SIGTERM or Ctrl-C the listener stops, requests in flight finish, the publish in
//! flight completes, and the writer drains: nothing acknowledged is lost and nothing is
//! acknowledged before it is durable.

pub mod batcher;
pub mod error;
pub mod metrics;
pub mod publisher;
pub mod roles;
pub mod routes;
pub mod web;

use crate::auth::ReplayGuard;
use crate::headlog;
use ed25519_dalek::VerifyingKey;
use healthcode_registry::{Registry, RegistryError};
use healthcode_transparency::{LogKey, TiledLog};
use hyper_util::rt::TokioTimer;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// A witness the registry asks to cosign each checkpoint.
#[derive(Clone, Debug)]
pub struct WitnessConfig {
    /// Base URL; the request goes to `{url}/add-checkpoint`.
    pub url: String,
    /// The witness's cosignature verifier key (C2SP vkey), to check what it returns.
    pub vkey: String,
}

#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub db: PathBuf,
    pub listen: SocketAddr,
    /// PEM certificate chain and private key: serve HTTPS instead of HTTP.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub publish_every: Option<Duration>,
    /// The operator's Ed25519 key: signs signer changes, enrolments, auditors, forced publishes.
    pub operator: Option<VerifyingKey>,
    pub witnesses: Vec<WitnessConfig>,
    /// How long a request may take before the server answers 408.
    pub request_timeout: Duration,
    /// The web pages (citizen and checkpoint) to serve beside the API, if any.
    pub web: Option<web::WebConfig>,
    /// Top levels of the holder tree kept in memory (`Registry::set_tree_cache_levels`).
    pub tree_cache_levels: usize,
}

/// Shared state of the running service.
pub struct App {
    pub registry: Arc<Mutex<Registry>>,
    /// A second handle on the same database for witnesses: each reads one committed snapshot, so
    /// holders keep getting theirs while a publish holds `registry` for seconds.
    reader: Mutex<Registry>,
    pub registry_key: VerifyingKey,
    pub log_key: LogKey,
    pub head_log: RwLock<TiledLog>,
    /// The latest checkpoint note, with the cosignatures gathered for it.
    pub checkpoint: RwLock<Vec<u8>>,
    pub batcher: batcher::Batcher,
    pub operator: Option<VerifyingKey>,
    pub witnesses: Vec<WitnessConfig>,
    /// The size each witness last cosigned, as far as we know (0 = unknown).
    pub witness_sizes: Mutex<Vec<u64>>,
    /// Serialises publishes (timer and operator).
    pub publishing: Mutex<()>,
    pub replay: ReplayGuard,
    pub metrics: metrics::Metrics,
    pub now: fn() -> u64,
    receipts: healthcode_registry::registry::ReceiptSigner,
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl App {
    /// Locks the registry (a panic in another holder of the lock leaves the database
    /// consistent: every change is one SQLite transaction).
    pub fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The read handle ([`Registry::witness`] and single-statement look-ups only: anything that
    /// reads several statements and must see one epoch goes through [`App::registry`]).
    pub fn reader(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.reader.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The receipt of an accepted event, signed without the registry's lock.
    pub fn receipt(&self, event: [u8; 32], accepted_at: u64) -> healthcode_registry::receipt::Receipt {
        self.receipts.sign(event, accepted_at)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{path}: {source}")]
    Registry { path: String, source: RegistryError },
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("{0}")]
    Other(String),
}

/// Opens the registry and builds the service state (the head log rebuilt from the stored heads,
/// the stored checkpoint reused if it is current). Returns the state and the writer thread.
pub fn open(config: &ServeConfig) -> Result<(Arc<App>, std::thread::JoinHandle<()>), ServeError> {
    let reg_err = |source| ServeError::Registry { path: config.db.display().to_string(), source };
    // Each witness's answers are checked against its vkey: a wrong one would drop them all.
    for w in &config.witnesses {
        healthcode_transparency::CosignatureVerifier::new(&w.vkey)
            .map_err(|e| ServeError::Other(format!("witness {}: {e}", w.url)))?;
    }
    let mut registry = Registry::open(&config.db).map_err(reg_err)?;
    registry.set_tree_cache_levels(config.tree_cache_levels);
    let registry_key = registry.public_key();
    let log_key = headlog::log_key(registry.signing_key());
    let receipts = registry.receipt_signer();
    let mut log = TiledLog::new(log_key.origin());
    headlog::extend(&mut log, &registry.heads().map_err(reg_err)?).map_err(ServeError::Other)?;
    let checkpoint = match registry.latest_checkpoint().map_err(reg_err)? {
        Some((size, note)) if size == log.size() => note,
        _ => log.checkpoint(&log_key),
    };
    let mut reader = Registry::open(&config.db).map_err(reg_err)?;
    reader.set_tree_cache_levels(config.tree_cache_levels);
    let registry = Arc::new(Mutex::new(registry));
    let (batcher, writer) = batcher::Batcher::start(registry.clone(), unix_now);
    let app = App {
        registry,
        reader: Mutex::new(reader),
        registry_key,
        log_key,
        head_log: RwLock::new(log),
        checkpoint: RwLock::new(checkpoint),
        batcher,
        operator: config.operator,
        witness_sizes: Mutex::new(vec![0; config.witnesses.len()]),
        witnesses: config.witnesses.clone(),
        publishing: Mutex::new(()),
        replay: ReplayGuard::default(),
        metrics: metrics::Metrics::default(),
        now: unix_now,
        receipts,
    };
    Ok((Arc::new(app), writer))
}

/// Runs the service until `shutdown` resolves (SIGTERM or Ctrl-C in the CLI).
pub async fn serve(
    config: ServeConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let listener = std::net::TcpListener::bind(config.listen)
        .map_err(|source| ServeError::Listen { addr: config.listen, source })?;
    serve_on(config, listener, shutdown).await
}

/// [`serve`] on a listener already bound (tests bind port 0 and read the port first).
pub async fn serve_on(
    config: ServeConfig,
    listener: std::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let listen_err = |source| ServeError::Listen { addr: config.listen, source };
    listener.set_nonblocking(true).map_err(listen_err)?;
    let local = listener.local_addr().map_err(listen_err)?;
    let tls = config.tls.as_ref().map(|(cert, key)| tls_config(cert, key)).transpose()?;
    // Opening may wait on a database server (PostgreSQL's driver blocks): not on this runtime.
    let (app, writer) = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || open(&config))
            .await
            .map_err(|e| ServeError::Other(e.to_string()))??
    };
    // A checkpoint the witnesses have not seen (first start, or new heads since) goes to them now.
    let startup = app.clone();
    tokio::task::spawn_blocking(move || publisher::cosign_latest(&startup))
        .await
        .map_err(|e| ServeError::Other(e.to_string()))?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let timer = config
        .publish_every
        .map(|every| tokio::spawn(publisher::run_timer(app.clone(), every, stop_rx.clone())));
    let retries = (!config.witnesses.is_empty())
        .then(|| tokio::spawn(publisher::run_cosign_retries(app.clone(), stop_rx)));
    let router = routes::router(app.clone(), config.request_timeout, config.web.as_ref());
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: finishing requests in flight");
        let _ = stop_tx.send(true);
        stopper.graceful_shutdown(Some(Duration::from_secs(30)));
    });
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    tracing::info!(
        addr = %local,
        tls = tls.is_some(),
        registry_key = %hex::encode(app.registry_key.as_bytes()),
        head_log_vkey = %headlog::log_vkey(&app.registry_key),
        "registry service listening"
    );
    // Without a timer hyper's header read timeout never fires, and the request timeout starts
    // only once the headers are in: a client trickling its headers (slowloris) would hold its
    // connection and task forever.
    let header_timeout = config.request_timeout;
    let served = match tls {
        Some(tls) => {
            let mut server = axum_server::from_tcp_rustls(listener, tls).handle(handle);
            server.http_builder().http1().timer(TokioTimer::new()).header_read_timeout(header_timeout);
            server.serve(service).await
        }
        None => {
            let mut server = axum_server::from_tcp(listener).handle(handle);
            server.http_builder().http1().timer(TokioTimer::new()).header_read_timeout(header_timeout);
            server.serve(service).await
        }
    };
    served.map_err(|e| ServeError::Other(format!("server: {e}")))?;
    // The publish in flight (if any) completes before the process ends.
    for task in [timer, retries].into_iter().flatten() {
        let _ = task.await;
    }
    drop(app);
    let _ = tokio::task::spawn_blocking(move || writer.join()).await;
    tracing::info!("stopped");
    Ok(())
}

fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<axum_server::tls_rustls::RustlsConfig, ServeError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect())
        .map_err(|e| ServeError::Tls(format!("{}: {e}", cert.display())))?;
    let key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| ServeError::Tls(format!("{}: {e}", key.display())))?;
    // ring, not aws-lc-rs: no C toolchain build (cmake) on every machine that builds us. rustls
    // marks it deprecated only because ring lacks the post-quantum key exchange.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServeError::Tls(e.to_string()))?;
    Ok(axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(config)))
}

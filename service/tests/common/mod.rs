//! A real registry service (and real witnesses) on loopback ports, for the integration tests.
#![allow(dead_code)]

use ed25519_dalek::SigningKey;
use healthcode_registry::event::{Event, Role};
use healthcode_registry::{HolderFile, Registry, SignedEvent};
use healthcode_service::api::{AddSigner, Enrol};
use healthcode_service::client::Client;
use healthcode_service::headlog;
use healthcode_service::server::{self, unix_now, ServeConfig, WitnessConfig};
use healthcode_service::witness::WitnessKeyFile;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::oneshot;

pub const POLICY: &str = include_str!("../../../policies/henan-2022.toml");

/// A server running on its own runtime thread; dropping it stops it gracefully and waits.
pub struct Running {
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), String>>>,
}

impl Running {
    pub fn stop(mut self) -> Result<(), String> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<(), String> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| "server thread panicked".to_string())?,
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// The signal a server started by [`on_thread`] stops on.
pub type Shutdown = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Runs `serve` (given the signal it must stop on) on a runtime thread of its own, as the server
/// at `url`; the returned handle stops it and says what it returned.
pub fn on_thread<F, Fut, E>(url: String, serve: F) -> Running
where
    F: FnOnce(Shutdown) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let (stop, rx) = oneshot::channel::<()>();
    let shutdown: Shutdown = Box::pin(async {
        let _ = rx.await;
    });
    let thread = std::thread::spawn(move || runtime().block_on(serve(shutdown)).map_err(|e| e.to_string()));
    Running { url, stop: Some(stop), thread: Some(thread) }
}

/// Tries `attempt` every 25 ms for 5 s until it gives something (a server coming up).
pub fn poll_until<T>(what: &str, mut attempt: impl FnMut() -> Option<T>) -> T {
    for _ in 0..200 {
        if let Some(t) = attempt() {
            return t;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("{what} did not come up");
}

/// Waits until `url/healthz` answers (the server opens the registry before it listens).
fn wait_ready(url: &str) {
    poll_until(url, || ureq::get(&format!("{url}/healthz")).call().ok());
}

pub fn start_registry(db: &Path, operator: &SigningKey, witnesses: Vec<WitnessConfig>) -> Running {
    start_registry_with(ServeConfig {
        operator: Some(operator.verifying_key()),
        witnesses,
        ..serve_config(db)
    })
}

/// The service on `db` as the tests run it: loopback, a free port, plain HTTP, no operator, no
/// witnesses, no timer, the default tree cache.
pub fn serve_config(db: &Path) -> ServeConfig {
    ServeConfig {
        db: db.to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: None,
        publish_every: None,
        operator: None,
        witnesses: vec![],
        request_timeout: Duration::from_secs(10),
        tree_cache_levels: healthcode_registry::registry::DEFAULT_CACHE_LEVELS,
        web: None,
    }
}

pub fn start_registry_with(config: ServeConfig) -> Running {
    let listener = TcpListener::bind(config.listen).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let running = on_thread(url, move |stop| server::serve_on(config, listener, stop));
    wait_ready(&running.url);
    running
}

pub struct RunningWitness {
    pub server: Running,
    pub vkey: String,
    pub config: WitnessConfig,
}

/// A witness of `log_vkey` with its state in `state`.
pub fn start_witness(name: &str, state: &Path, log_vkey: &str) -> RunningWitness {
    let kf = WitnessKeyFile::generate(name);
    start_witness_with(&kf, state, log_vkey)
}

pub fn start_witness_with(kf: &WitnessKeyFile, state: &Path, log_vkey: &str) -> RunningWitness {
    let witness =
        healthcode_service::witness::open(state, kf.cosigner().unwrap(), &[log_vkey.to_string()]).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = on_thread(url.clone(), move |stop| async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        axum::serve(listener, healthcode_service::witness::router(witness)).with_graceful_shutdown(stop).await
    });
    wait_ready(&url);
    RunningWitness { config: WitnessConfig { url, vkey: kf.vkey.clone() }, vkey: kf.vkey.clone(), server }
}

/// A new registry file; returns its path and the head log's vkey.
pub fn new_registry(dir: &Path) -> (PathBuf, ed25519_dalek::VerifyingKey, String) {
    let db = new_db(dir);
    let reg = Registry::init(&db, POLICY, unix_now() - 10).unwrap();
    let key = reg.public_key();
    (db, key, headlog::log_vkey(&key))
}

/// A place for a new registry: a file in `dir`, or a fresh database on the PostgreSQL server
/// named by `HEALTHCODE_TEST_PG` (as `.ci/run` sets it for the PostgreSQL pass).
pub fn new_db(dir: &Path) -> PathBuf {
    match std::env::var("HEALTHCODE_TEST_PG").ok().filter(|s| !s.is_empty()) {
        None => dir.join("registry.db"),
        Some(server) => {
            PathBuf::from(healthcode_registry::store::postgres::create_fresh_database(&server).unwrap())
        }
    }
}

/// Tests that copy or alter the SQLite file run on SQLite only; on PostgreSQL they say so.
pub fn sqlite_only(test: &str) -> bool {
    let pg = std::env::var("HEALTHCODE_TEST_PG").is_ok_and(|s| !s.is_empty());
    if pg {
        eprintln!("{test}: SQLite-specific (copies the database file); skipped on PostgreSQL");
    }
    pg
}

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// A lab and a tracer accredited, and `holders` holders enrolled with device keys.
pub struct World {
    pub lab: SigningKey,
    pub tracer: SigningKey,
    pub holders: Vec<(HolderFile, u32)>,
}

pub fn populate(client: &Client, operator: &SigningKey, holders: usize) -> World {
    let (lab, tracer) = (key(11), key(12));
    let from = unix_now() - 3600;
    for (name, role, k) in [("lab-a", Role::Lab, &lab), ("tracer-a", Role::Tracer, &tracer)] {
        client
            .add_signer(
                operator,
                &AddSigner {
                    name: name.into(),
                    role,
                    key: hex::encode(k.verifying_key().as_bytes()),
                    accredited_from: from,
                },
            )
            .unwrap();
    }
    let holders = (0..holders)
        .map(|i| {
            let h = HolderFile::generate(&format!("DOC{i}"));
            let e = Enrol {
                commitment: healthcode_circuits::field::to_hex(&h.commitment),
                device_key: hex::encode(h.device_key().verifying_key().as_bytes()),
            };
            let leaf = client.enrol(operator, &e).unwrap().leaf_index;
            (h, leaf)
        })
        .collect();
    World { lab, tracer, holders }
}

/// The commonest scene of these tests: a registry service, its operator (`key(1)`), a client,
/// and a lab, a tracer and `holders` enrolled holders; with a witness (`w.example`) cosigning its
/// heads if asked. Fields drop in order: the servers stop before their directory goes.
pub struct Scene {
    pub reg_key: ed25519_dalek::VerifyingKey,
    pub operator: SigningKey,
    pub client: Client,
    pub world: World,
    pub server: Running,
    pub witness: Option<RunningWitness>,
    pub db: PathBuf,
    pub dir: tempfile::TempDir,
}

/// [`Scene`] without a witness.
pub fn scene(holders: usize) -> Scene {
    scene_with(holders, false)
}

/// [`Scene`] with its witness.
pub fn witnessed(holders: usize) -> Scene {
    scene_with(holders, true)
}

fn scene_with(holders: usize, witnessed: bool) -> Scene {
    let dir = tempfile::tempdir().unwrap();
    let (db, reg_key, log_vkey) = new_registry(dir.path());
    let witness = witnessed.then(|| start_witness("w.example", &dir.path().join("w.state"), &log_vkey));
    let operator = key(1);
    let server = start_registry(&db, &operator, witness.iter().map(|w| w.config.clone()).collect());
    let client = Client::new(&server.url);
    let world = populate(&client, &operator, holders);
    Scene { reg_key, operator, client, world, server, witness, db, dir }
}

pub fn test_event(
    registry: ed25519_dalek::VerifyingKey,
    lab: &SigningKey,
    holder: u32,
    ago: u64,
) -> SignedEvent {
    Event {
        registry,
        holder,
        kind: "positive_test".into(),
        time: unix_now() - ago,
        signer: lab.verifying_key(),
        index_case: None,
    }
    .sign(lab)
}

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

/// Waits until `url/healthz` answers (the server opens the registry before it listens).
fn wait_ready(url: &str) {
    for _ in 0..200 {
        if ureq::get(&format!("{url}/healthz")).call().is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("{url} did not come up");
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
    let (stop, rx) = oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        runtime()
            .block_on(server::serve_on(config, listener, async {
                let _ = rx.await;
            }))
            .map_err(|e| e.to_string())
    });
    wait_ready(&url);
    Running { url, stop: Some(stop), thread: Some(thread) }
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
    let (stop, rx) = oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        runtime().block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, healthcode_service::witness::router(witness))
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .map_err(|e| e.to_string())
        })
    });
    wait_ready(&url);
    RunningWitness {
        config: WitnessConfig { url: url.clone(), vkey: kf.vkey.clone() },
        vkey: kf.vkey.clone(),
        server: Running { url, stop: Some(stop), thread: Some(thread) },
    }
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

//! Crash faults: the registry server killed with SIGKILL at random moments while labs submit
//! loses no acknowledged event, and leaves a registry that audits clean.
//!
//! The server runs in a child process (SIGKILL has to take the whole process down: no
//! destructor, no graceful shutdown, no flush). The child is this test binary re-executed with
//! `--exact kill9_child_server` and the registry path in [`CHILD_DB`]: that way the server under
//! test is always the code this test was built with (no stale `target/*/healthcode` found by
//! path, no extra binary target in the library crate), and the child runs `serve_on` exactly as
//! `healthcode serve` does, minus argument parsing. Set `KILL9_SEED` to replay other moments.

mod common;

use common::*;
use healthcode_registry::event::Event;
use healthcode_registry::{Registry, SignedEvent};
use healthcode_service::api::Verdict;
use healthcode_service::client::{Client, ClientError};
use healthcode_service::server::{self, unix_now, ServeConfig};
use rand::{Rng, SeedableRng};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// In the child: the registry to serve.
const CHILD_DB: &str = "HEALTHCODE_KILL9_CHILD_DB";
/// In the child: where to write the address it listens on.
const CHILD_ADDR: &str = "HEALTHCODE_KILL9_CHILD_ADDR";
const ROUNDS: usize = 10;
const SUBMITTERS: usize = 4;
const HOLDERS: usize = 8;
const DEFAULT_SEED: u64 = 20_261_206;

/// The server process of [`acknowledged_events_survive_kill_9`]; returns at once in a normal run.
#[test]
fn kill9_child_server() {
    let (Ok(db), Ok(addr_file)) = (std::env::var(CHILD_DB), std::env::var(CHILD_ADDR)) else {
        return;
    };
    let config = ServeConfig {
        db: PathBuf::from(db),
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: None,
        publish_every: Some(Duration::from_secs(1)),
        operator: Some(key(1).verifying_key()),
        witnesses: vec![],
        request_timeout: Duration::from_secs(10),
        tree_cache_levels: healthcode_registry::registry::DEFAULT_CACHE_LEVELS,
        web: None,
    };
    let listener = std::net::TcpListener::bind(config.listen).unwrap();
    let tmp = format!("{addr_file}.tmp");
    std::fs::write(&tmp, listener.local_addr().unwrap().to_string()).unwrap();
    std::fs::rename(&tmp, &addr_file).unwrap();
    // The CLI's runtime: one worker per core.
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(server::serve_on(config, listener, std::future::pending())).unwrap();
}

struct Server {
    child: Child,
    url: String,
}

fn start_server(db: &Path, dir: &Path, round: usize) -> Server {
    let addr_file = dir.join(format!("addr-{round}"));
    let log = dir.join(format!("server-{round}.log"));
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "kill9_child_server", "--nocapture", "--test-threads=1"])
        .env(CHILD_DB, db)
        .env(CHILD_ADDR, &addr_file)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut server = Server { child, url: String::new() };
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if let Some(status) = server.child.try_wait().unwrap() {
            panic!(
                "the server exited ({status}) in round {round}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        if server.url.is_empty() {
            if let Ok(addr) = std::fs::read_to_string(&addr_file) {
                server.url = format!("http://{addr}");
            }
        } else if ureq::get(&format!("{}/healthz", server.url)).call().is_ok() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = server.child.kill();
    panic!(
        "the server did not come up in round {round}: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}

/// Every acknowledged event is stored (queued or logged) in the registry at `db`.
fn assert_stored(db: &Path, acked: &[[u8; 32]], when: &str) {
    let stored: HashSet<[u8; 32]> =
        Registry::open(db).unwrap().stored_events().unwrap().into_iter().map(|e| e.id).collect();
    let lost: Vec<String> = acked.iter().filter(|id| !stored.contains(*id)).map(hex::encode).collect();
    assert!(lost.is_empty(), "{when}: {} of {} acknowledged events lost: {lost:?}", lost.len(), acked.len());
}

fn assert_audit_clean(db: &Path, when: &str) {
    let report = healthcode_auditor::registry::audit(db).unwrap();
    assert!(report.clean(), "{when}: the audit is not clean: {:#?}", report.checks);
}

/// Submits distinct valid events until `stop`: single events, or batches of 10 when `batch`.
/// Returns the ids acknowledged and any refusal (there should be none).
fn submitter(
    url: String,
    registry: ed25519_dalek::VerifyingKey,
    leaves: Arc<Vec<u32>>,
    next: Arc<AtomicU64>,
    base: u64,
    stop: Arc<AtomicBool>,
    batch: bool,
) -> (Vec<[u8; 32]>, Vec<String>) {
    let client = Client::new(&url);
    let lab = key(11);
    let make = || -> SignedEvent {
        let k = next.fetch_add(1, Ordering::Relaxed);
        Event {
            registry,
            holder: leaves[(k % leaves.len() as u64) as usize],
            kind: "positive_test".into(),
            time: base - 60 - k / leaves.len() as u64,
            signer: lab.verifying_key(),
            index_case: None,
        }
        .sign(&lab)
    };
    let (mut acked, mut refused) = (Vec::new(), Vec::new());
    while !stop.load(Ordering::Relaxed) {
        if batch {
            let events: Vec<SignedEvent> = (0..10).map(|_| make()).collect();
            match client.submit_events(&events) {
                Ok(verdicts) => {
                    for (v, e) in verdicts.iter().zip(&events) {
                        match v {
                            Verdict::Accepted(r) if r.event == e.event.id() => acked.push(r.event),
                            other => refused.push(format!("{other:?}")),
                        }
                    }
                }
                Err(e) if e.is_network() => std::thread::sleep(Duration::from_millis(1)),
                Err(e) => refused.push(e.to_string()),
            }
        } else {
            let e = make();
            match client.submit_event(&e) {
                Ok(r) if r.event == e.event.id() => acked.push(r.event),
                Ok(r) => refused.push(format!("receipt for another event: {r:?}")),
                Err(e) if e.is_network() => std::thread::sleep(Duration::from_millis(1)),
                Err(e) => refused.push(e.to_string()),
            }
        }
    }
    (acked, refused)
}

#[test]
fn acknowledged_events_survive_kill_9() {
    let seed = std::env::var("KILL9_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_SEED);
    println!("kill9: seed {seed} (set KILL9_SEED to change)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (db, registry, _) = new_registry(dir.path());
    let operator = key(1);
    let base = unix_now();
    let next = Arc::new(AtomicU64::new(0));
    let mut acked: Vec<[u8; 32]> = Vec::new();
    let mut leaves: Option<Arc<Vec<u32>>> = None;
    let mut published = 0;

    for round in 0..ROUNDS {
        let mut server = start_server(&db, dir.path(), round);
        // After the restart: everything acknowledged before any earlier kill is there.
        assert_stored(&db, &acked, &format!("after restart {round}"));
        let leaves = leaves
            .get_or_insert_with(|| {
                let client = Client::new(&server.url);
                let world = populate(&client, &operator, HOLDERS);
                client.publish(&operator).unwrap();
                Arc::new(world.holders.iter().map(|(_, leaf)| *leaf).collect())
            })
            .clone();
        let kill_after = Duration::from_millis(rng.gen_range(20..=600));
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..SUBMITTERS)
            .map(|t| {
                let (url, leaves, next, stop) =
                    (server.url.clone(), leaves.clone(), next.clone(), stop.clone());
                std::thread::spawn(move || submitter(url, registry, leaves, next, base, stop, t == 0))
            })
            .collect();
        // The timer publishes every second; the operator also forces publishes, so that kills
        // land in publishes too (rounds are shorter than the timer's period).
        let publisher = {
            let (url, stop) = (server.url.clone(), stop.clone());
            std::thread::spawn(move || {
                let client = Client::new(&url);
                let mut heads = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    match client.publish(&key(1)) {
                        Ok(head) => heads.push(head),
                        Err(e) if e.is_network() => {}
                        // Heads are a second apart at least, and at most 60 s ahead of the clock:
                        // publishes faster than one a second are refused once that is used up.
                        Err(ClientError::Refused { status: 503, body, .. })
                            if body.error == "clock_behind" => {}
                        Err(e) => panic!("publish refused: {e}"),
                    }
                    std::thread::sleep(Duration::from_millis(150));
                }
                heads
            })
        };
        std::thread::sleep(kill_after);
        server.child.kill().unwrap(); // SIGKILL
        let status = server.child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        let before = acked.len();
        for t in threads {
            let (ids, refused) = t.join().unwrap();
            assert!(refused.is_empty(), "round {round}: refusals: {refused:?}");
            acked.extend(ids);
        }
        let heads = publisher.join().unwrap();
        // The crashed registry, before anything else opens it: nothing lost, and clean.
        assert_stored(&db, &acked, &format!("after kill {round}"));
        let reg = Registry::open(&db).unwrap();
        for h in &heads {
            assert_eq!(
                &reg.head_at(h.epoch).unwrap(),
                h,
                "round {round}: acknowledged head {} lost",
                h.epoch
            );
        }
        let stored = reg.stored_events().unwrap().len();
        drop(reg);
        assert_audit_clean(&db, &format!("after kill {round}"));
        published += heads.len();
        println!(
            "round {round}: killed ({status}) {} ms in; {} events and {} publishes acknowledged this round; \
             {} events acknowledged in all, {stored} stored ({} stored unacknowledged in all: in flight at a kill)",
            kill_after.as_millis(),
            acked.len() - before,
            heads.len(),
            acked.len(),
            stored - acked.len(),
        );
    }

    // A last restart serves everything, and the service sees the queued events.
    let mut server = start_server(&db, dir.path(), ROUNDS);
    assert_stored(&db, &acked, "after the last restart");
    let client = Client::new(&server.url);
    let head = client.publish(&operator).unwrap();
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    assert_audit_clean(&db, "at the end");
    let logged = Registry::open(&db)
        .unwrap()
        .stored_events()
        .unwrap()
        .iter()
        .filter(|e| e.log_index.is_some())
        .count();
    assert_eq!(
        logged,
        Registry::open(&db).unwrap().stored_events().unwrap().len(),
        "every stored event published"
    );
    let unique: HashSet<_> = acked.iter().collect();
    assert_eq!(unique.len(), acked.len(), "an event acknowledged twice");
    assert!(acked.len() > 100, "too few events acknowledged ({}) to mean anything", acked.len());
    println!(
        "kill9: {ROUNDS} rounds, {} events and {published} forced publishes acknowledged, none lost; \
         final epoch {}, log size {}; {:.1} s",
        acked.len(),
        head.epoch,
        head.log_size,
        t0.elapsed().as_secs_f64()
    );
}

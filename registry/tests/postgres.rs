//! PostgreSQL's own failure modes (issue 14): a server down at start, a connection lost in the
//! middle of a publish, a read-only replica asked to write, and a server restarted under load.
//! Each must be a clear error naming what happened, with nothing half-written and no
//! acknowledged event lost. They run when `HEALTHCODE_TEST_PG` names a test server (`.ci/run`
//! starts one); without it they say so and return.

mod common;

use common::*;
use healthcode_registry::store::{DbErrorKind, Location};
use healthcode_registry::{PublishHooks, PublishStep, Registry, RegistryError};
use std::path::{Path, PathBuf};
use std::process::Command;

fn server() -> Option<String> {
    let s = pg_server();
    if s.is_none() {
        eprintln!("HEALTHCODE_TEST_PG is not set: the PostgreSQL failure tests did not run");
    }
    s
}

fn db_kind(e: &RegistryError) -> Option<DbErrorKind> {
    match e {
        RegistryError::Db(d) => Some(d.kind),
        _ => None,
    }
}

#[test]
fn a_server_that_is_down_at_start_is_named() {
    if server().is_none() {
        return;
    }
    let url = "postgresql://postgres@/registry?host=/nonexistent-hc-socket-dir&port=5999";
    let e = Registry::open(Path::new(url)).unwrap_err();
    assert_eq!(db_kind(&e), Some(DbErrorKind::Unavailable), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("cannot connect to postgresql://postgres@/registry"), "{msg}");
    assert!(!e.is_unusable_database(), "a down server is not a bad database: {msg}");
    // The password never shows in a message.
    let e = Registry::open(Path::new("postgresql://reg:hunter2@/r?host=/nonexistent-hc&port=1")).unwrap_err();
    assert!(!e.to_string().contains("hunter2"), "{e}");
}

/// The connection dies after the tree is written, before the head is signed: the publish fails
/// as `Unavailable`, and a new handle finds the previous head, the queue intact, and publishes it.
#[test]
fn a_connection_lost_mid_publish_writes_nothing() {
    if server().is_none() {
        return;
    }
    let mut f = fixture(3);
    let ev = f.event(&f.lab, 1, "positive_test", T0 - 3600, None);
    f.reg.submit(&ev, T0).unwrap();
    let before = f.reg.head().unwrap();
    let queued = f.reg.queue_len().unwrap();
    let killer = raw(&f.path);
    let mut hook = |s: PublishStep| {
        if s == PublishStep::TreeWritten {
            killer
                .exec(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE datname = current_database() AND pid <> pg_backend_pid()
                       AND application_name = 'healthcode-registry' AND state LIKE 'idle in transaction%'",
                    &[],
                )
                .unwrap();
        }
        Ok(())
    };
    let e = f.reg.publish_with(T0, PublishHooks { progress: None, fault: Some(&mut hook) }).unwrap_err();
    assert_eq!(db_kind(&e), Some(DbErrorKind::Unavailable), "{e}");
    assert!(e.to_string().contains("lost the connection"), "{e}");
    // The dead handle keeps failing clearly, without a panic.
    let again = f.reg.head().unwrap_err();
    assert_eq!(db_kind(&again), Some(DbErrorKind::Unavailable), "{again}");

    let mut reg = Registry::open(&f.path).unwrap();
    assert_eq!(reg.head().unwrap(), before, "a head was signed over a lost connection");
    assert_eq!(reg.queue_len().unwrap(), queued, "queued entries were lost");
    assert_eq!(reg.stored_tree().unwrap().root(), before.root, "tree nodes were half-written");
    let head = reg.publish(T0 + 1).unwrap();
    assert_eq!(head.epoch, before.epoch + 1);
    reg.witness(1).unwrap().check(&reg.public_key(), reg.policy()).unwrap();
}

/// A replica is read-only: witnesses and heads are served from it, and a write is refused with
/// a message that says why, leaving nothing behind.
#[test]
fn a_read_only_replica_serves_and_refuses_writes() {
    if server().is_none() {
        return;
    }
    let f = fixture(2);
    let head = f.reg.head().unwrap();
    let Location::Postgres(url) = Location::parse(&f.path) else { unreachable!() };
    let name = url.split('?').next().unwrap().rsplit('/').next().unwrap().to_string();
    // What a hot standby enforces, set on the database (every new session is read-only).
    raw(&f.path).exec(&format!("ALTER DATABASE {name} SET default_transaction_read_only = on"), &[]).unwrap();
    let mut replica = Registry::open(&f.path).unwrap();
    assert_eq!(replica.head().unwrap(), head);
    replica.witness(0).unwrap().check(&replica.public_key(), replica.policy()).unwrap();
    let ev = f.event(&f.lab, 0, "positive_test", T0 - 60, None);
    let e = replica.submit(&ev, T0).unwrap_err();
    assert_eq!(db_kind(&e), Some(DbErrorKind::ReadOnly), "{e}");
    assert!(e.to_string().contains("read-only"), "{e}");
    let e = replica.publish(T0).unwrap_err();
    assert_eq!(db_kind(&e), Some(DbErrorKind::ReadOnly), "{e}");
    assert_eq!(replica.queue_len().unwrap(), 0);
    assert_eq!(replica.head().unwrap(), head);
}

/// A cluster of this test's own (it is restarted), on a Unix socket in `dir`.
struct Cluster {
    dir: PathBuf,
}

/// The port of this test's cluster (its socket lives in its own directory).
const PORT: &str = "55439";

impl Cluster {
    /// Runs `scripts/pg-cluster.sh CMD DIR [PORT]` and returns what it printed.
    fn script(cmd: &str, dir: &Path) -> String {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pg-cluster.sh");
        let mut c = Command::new(script);
        c.arg(cmd).arg(dir);
        if cmd == "start" {
            c.arg(PORT);
        }
        let out = c.output().unwrap();
        assert!(out.status.success(), "pg-cluster {cmd}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    fn start(dir: &Path) -> (Self, String) {
        let url = Self::script("start", dir);
        (Self { dir: dir.to_path_buf() }, url)
    }

    /// Kills the server as a crash would (`immediate`: no checkpoint), then starts it again.
    fn crash_and_restart(&self) {
        Self::script("kill", &self.dir);
        Self::script("start", &self.dir);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(|| Self::script("stop", &self.dir));
    }
}

/// A submitter keeps going while the server is killed and restarted: every event it was told
/// was accepted is in the database afterwards, and publishes.
#[test]
fn a_server_restarted_under_load_loses_no_acknowledged_event() {
    if server().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (cluster, server) = Cluster::start(&tmp.path().join("pg"));
    let url = healthcode_registry::store::postgres::create_database(&server, "restart").unwrap();
    let path = PathBuf::from(&url);
    let mut reg = Registry::init(&path, POLICY, T0 - 10 * DAY).unwrap();
    let lab = key(1);
    reg.add_signer("lab", healthcode_registry::Role::Lab, lab.verifying_key(), 0, T0 - 10 * DAY).unwrap();
    let holders: Vec<u32> =
        (0..50).map(|i| reg.enroll(healthcode_circuits::Fr::from(5000 + i), T0 - DAY).unwrap()).collect();
    reg.publish(T0 - DAY).unwrap();
    let registry_key = reg.public_key();
    drop(reg);

    let stop = std::sync::atomic::AtomicBool::new(false);
    let (acked, errors) = std::thread::scope(|s| {
        let submitter = s.spawn(|| {
            let mut reg = Registry::open(&path).unwrap();
            let (mut acked, mut errors) = (Vec::new(), Vec::new());
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || acked.len() < 40 {
                let holder = holders[(i % holders.len() as u64) as usize];
                let ev = healthcode_registry::Event::signed_by(
                    &lab,
                    registry_key,
                    holder,
                    "negative_test",
                    T0 - 3600 + i,
                    None,
                );
                match reg.submit(&ev, T0) {
                    Ok(id) => {
                        acked.push(id);
                        i += 1;
                    }
                    // Committed before the crash, but the reply was lost: resent, it is a
                    // duplicate (and so not lost).
                    Err(RegistryError::Refused(healthcode_registry::Refusal::Duplicate(_))) => i += 1,
                    Err(e) => {
                        errors.push(e.to_string());
                        // Reconnect once the server is back (the same event is sent again).
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        if let Ok(r) = Registry::open(&path) {
                            reg = r;
                        }
                    }
                }
                if errors.len() > 2000 {
                    break;
                }
            }
            (acked, errors)
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        cluster.crash_and_restart();
        std::thread::sleep(std::time::Duration::from_millis(300));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        submitter.join().unwrap()
    });
    assert!(!errors.is_empty(), "the restart was not noticed: the test proves nothing");
    assert!(
        errors.iter().all(|e| e.contains("postgres:")),
        "errors must name the database: {:?}",
        &errors[..errors.len().min(3)]
    );
    let mut reg = Registry::open(&path).unwrap();
    for id in &acked {
        reg.receipt_of(*id).unwrap_or_else(|e| panic!("acknowledged event {} lost: {e}", hex::encode(id)));
    }
    let head = reg.publish(T0).unwrap();
    let stored = reg.stored_events().unwrap();
    assert!(acked.iter().all(|id| stored.iter().any(|e| e.id == *id && e.log_index.is_some())));
    assert!(head.log_size as usize >= acked.len());
    eprintln!("{} events acknowledged, {} refused while the server restarted", acked.len(), errors.len());
}

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

/// A cluster of a test's own (restarted, or replicated), on a Unix socket in `dir`.
struct Cluster {
    dir: PathBuf,
    port: &'static str,
}

/// The ports of the tests' own clusters (each socket lives in its own directory; the ports only
/// have to differ between the clusters of tests running at once).
const RESTART_PORT: &str = "55439";
const PRIMARY_PORT: &str = "55437";
const REPLICA_PORT: &str = "55438";

impl Cluster {
    /// Runs `scripts/pg-cluster.sh CMD DIR ARGS…` and returns what it printed.
    fn script(cmd: &str, dir: &Path, args: &[&str]) -> String {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pg-cluster.sh");
        let out = Command::new(script).arg(cmd).arg(dir).args(args).output().unwrap();
        assert!(out.status.success(), "pg-cluster {cmd}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    fn start(dir: &Path, port: &'static str) -> (Self, String) {
        let url = Self::script("start", dir, &[port]);
        (Self { dir: dir.to_path_buf(), port }, url)
    }

    /// A hot standby of `primary` (a base backup, then streaming replication) in `dir`.
    fn replica_of(primary: &Cluster, dir: &Path, port: &'static str) -> (Self, String) {
        let primary_dir = primary.dir.to_str().unwrap();
        let url = Self::script("replica", dir, &[port, primary_dir, primary.port]);
        (Self { dir: dir.to_path_buf(), port }, url)
    }

    /// Kills the server as a crash would (`immediate`: no checkpoint), then starts it again.
    fn crash_and_restart(&self) {
        Self::script("kill", &self.dir, &[]);
        Self::script("start", &self.dir, &[self.port]);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(|| Self::script("stop", &self.dir, &[]));
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
    let (cluster, server) = Cluster::start(&tmp.path().join("pg"), RESTART_PORT);
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

/// A publish rewrites the rows of the holders with new events and the tree groups on their
/// paths. Pages keep room for that (schema step 3), so each rewrite is a
/// heap-only tuple: no index entry written, where otherwise each one wrote into every index of
/// its table, on a random page of an index far larger than memory at national scale. Holders
/// bulk-enrolled fill their pages as a deployment's do; the events are spread a few per page.
#[test]
fn a_publish_rewrites_rows_without_writing_index_entries() {
    if server().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let path = new_db(tmp.path());
    let (mut reg, lab) = lab_registry(&path, 2000);
    let events: Vec<_> = (0..50u32)
        .map(|i| {
            let kind = if i % 2 == 0 { "negative_test" } else { "positive_test" };
            healthcode_registry::Event::signed_by(
                &lab,
                reg.public_key(),
                i * 40,
                kind,
                T0 - 3600 + i as u64,
                None,
            )
        })
        .collect();
    for verdict in reg.submit_batch(&events, T0).unwrap() {
        verdict.unwrap();
    }
    reg.publish(T0).unwrap();
    reg.witness(40).unwrap().check(&reg.public_key(), reg.policy()).unwrap();
    // The registry's statistics reach the server's counters when its connection closes.
    drop(reg);
    let db = raw(&path);
    let mut counts = Vec::new();
    for _ in 0..100 {
        db.exec("SELECT pg_stat_clear_snapshot()", &[]).unwrap();
        counts = db
            .rows(
                "SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables
                 WHERE relname IN ('holders', 'tree_groups') ORDER BY relname",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get::<String>(0).unwrap(), r.get::<i64>(1).unwrap(), r.get::<i64>(2).unwrap()))
            .collect::<Vec<_>>();
        if counts.iter().any(|(t, upd, _)| t == "holders" && *upd >= 50) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let of = |table: &str| counts.iter().find(|c| c.0.starts_with(table)).cloned().unwrap();
    let (_, upd, hot) = of("holders");
    assert_eq!((upd, hot), (50, 50), "holder rows were rewritten with index entries: {counts:?}");
    // The upper groups are rewritten many to a page in one publish, more than its room holds;
    // the lower ones, spread out, fit (without the room: none of the 152 did).
    let (_, upd, hot) = of("tree_groups");
    assert!(upd > 50 && hot * 3 >= upd, "tree groups were rewritten with index entries: {counts:?}");
}

/// A real streaming replica (a hot standby replaying the primary's WAL, as a deployment's read
/// replicas are): while the primary accepts and publishes, the replica serves heads and
/// witnesses, each one checking against the head it came with and the heads never going back;
/// once caught up it serves the primary's latest head and states. A write sent to it is refused
/// as read-only, naming why, and leaves nothing.
#[test]
fn a_streaming_replica_serves_witnesses_while_the_primary_publishes() {
    if server().is_none() {
        return;
    }
    use healthcode_registry::store::postgres;
    let tmp = tempfile::tempdir().unwrap();
    let (primary, primary_server) = Cluster::start(&tmp.path().join("primary"), PRIMARY_PORT);
    let path = PathBuf::from(postgres::create_database(&primary_server, "replicated").unwrap());
    let (mut reg, lab) = lab_registry(&path, 64);
    let (_standby, replica_server) = Cluster::replica_of(&primary, &tmp.path().join("replica"), REPLICA_PORT);
    let replica_path = PathBuf::from(postgres::with_database(&replica_server, "replicated"));
    let mut replica = Registry::open(&replica_path).unwrap();
    let (key, policy) = (replica.public_key(), replica.policy().clone());
    assert_eq!(key, reg.public_key());

    const ROUNDS: u64 = 5;
    let publishing = std::sync::atomic::AtomicBool::new(true);
    let (last, epochs, served) = std::thread::scope(|s| {
        let publisher = s.spawn(|| {
            let mut head = None;
            for round in 0..ROUNDS {
                let events: Vec<_> = (0..8u32)
                    .map(|i| {
                        let holder = (round as u32 * 8 + i) % 64;
                        healthcode_registry::Event::signed_by(
                            &lab,
                            reg.public_key(),
                            holder,
                            "positive_test",
                            T0 - 3600 + round,
                            None,
                        )
                    })
                    .collect();
                for verdict in reg.submit_batch(&events, T0 + round).unwrap() {
                    verdict.unwrap();
                }
                head = Some(reg.publish(T0 + round).unwrap());
                std::thread::sleep(std::time::Duration::from_millis(150));
            }
            publishing.store(false, std::sync::atomic::Ordering::SeqCst);
            head.unwrap()
        });
        let (mut epochs, mut served) = (Vec::new(), 0u32);
        while publishing.load(std::sync::atomic::Ordering::SeqCst) {
            let w = replica.witness(served % 64).unwrap();
            w.check(&key, &policy).unwrap_or_else(|e| panic!("a witness from the replica: {e}"));
            if epochs.last() != Some(&w.head.epoch) {
                epochs.push(w.head.epoch);
            }
            served += 1;
        }
        (publisher.join().unwrap(), epochs, served)
    });
    assert!(epochs.windows(2).all(|e| e[0] < e[1]), "the replica's heads went back: {epochs:?}");
    assert!(epochs.len() >= 2, "the replica never followed the primary while serving: {epochs:?}");

    // Caught up: the primary's latest head, and a witness showing the last round's events.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while replica.head().unwrap() != last {
        assert!(std::time::Instant::now() < deadline, "the replica did not catch up");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let w = replica.witness(39).unwrap();
    w.check(&key, &policy).unwrap();
    assert_eq!((w.head.clone(), w.state["positive_test"]), (last.clone(), T0 - 3600 + ROUNDS - 1));

    // Writes go to the primary.
    let ev = healthcode_registry::Event::signed_by(&lab, key, 1, "negative_test", T0 - 60, None);
    let e = replica.submit(&ev, T0 + ROUNDS).unwrap_err();
    assert_eq!(db_kind(&e), Some(DbErrorKind::ReadOnly), "{e}");
    assert!(e.to_string().contains("read-only"), "{e}");
    let e = replica.publish(T0 + ROUNDS).unwrap_err();
    assert_eq!(db_kind(&e), Some(DbErrorKind::ReadOnly), "{e}");
    let e = Registry::init(&replica_path, POLICY, T0).unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    assert_eq!(replica.queue_len().unwrap(), 0);
    assert_eq!(replica.head().unwrap(), last, "a refused write changed the replica");
    eprintln!("{served} witnesses served from the replica across epochs {epochs:?}");
}

/// A registry whose holders have events spread wide enough that a publish reads its dirty tree
/// groups on several connections at once (`rows_many_committed`: ≥ 512 separate ranges on a
/// level), the events of `round` for every eighth holder.
fn spread_events(
    reg: &Registry,
    lab: &ed25519_dalek::SigningKey,
    round: u64,
) -> Vec<healthcode_registry::SignedEvent> {
    (0..1200u32)
        .map(|i| {
            healthcode_registry::Event::signed_by(
                lab,
                reg.public_key(),
                i * 8,
                "negative_test",
                T0 - 7200 + round,
                None,
            )
        })
        .collect()
}

/// A registry at `path` with one lab and `holders` holders enrolled in one batch and published.
fn lab_registry(path: &Path, holders: u64) -> (Registry, ed25519_dalek::SigningKey) {
    let mut reg = Registry::init(path, POLICY, T0 - 10 * DAY).unwrap();
    let lab = key(1);
    reg.add_signer("lab", healthcode_registry::Role::Lab, lab.verifying_key(), 0, T0 - 10 * DAY).unwrap();
    let cms: Vec<healthcode_circuits::Fr> =
        (0..holders).map(|i| healthcode_circuits::Fr::from(40_000 + i)).collect();
    reg.enroll_batch(&cms, T0 - 10 * DAY).unwrap();
    reg.publish(T0 - 10 * DAY).unwrap();
    (reg, lab)
}

/// The groups a publish reads side by side on other connections make the same tree as one
/// connection reading them in turn: the same events on SQLite and on PostgreSQL give the same
/// root (a leaf is the commitment and the state, whichever registry signed), and the stored tree
/// hashes to it.
#[test]
fn groups_read_side_by_side_make_the_same_tree() {
    if server().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut roots = Vec::new();
    for path in [new_db(tmp.path()), tmp.path().join("twin.db")] {
        let (mut reg, lab) = lab_registry(&path, 9600);
        for round in 0..2 {
            for verdict in reg.submit_batch(&spread_events(&reg, &lab, round), T0).unwrap() {
                verdict.unwrap();
            }
            let head = reg.publish(T0 + round).unwrap();
            assert_eq!(reg.stored_tree().unwrap().root(), head.root);
            reg.witness(8 * 1199).unwrap().check(&reg.public_key(), reg.policy()).unwrap();
            roots.push(head.root);
        }
    }
    assert_eq!(roots[..2], roots[2..], "PostgreSQL's side-by-side reads made another tree");
}

/// The connections reading groups side by side die before a publish reads with them: the
/// publish reads on its own connection instead and succeeds, and the next one opens new ones.
#[test]
fn a_lost_reader_connection_leaves_the_reads_to_the_publish_s_own() {
    if server().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let path = new_db(tmp.path());
    let (mut reg, lab) = lab_registry(&path, 9600);
    for verdict in reg.submit_batch(&spread_events(&reg, &lab, 0), T0).unwrap() {
        verdict.unwrap();
    }
    reg.publish(T0).unwrap();
    for verdict in reg.submit_batch(&spread_events(&reg, &lab, 1), T0 + 1).unwrap() {
        verdict.unwrap();
    }
    let before = reg.head().unwrap();
    let killer = raw(&path);
    let mut killed = 0;
    let mut hook = |s: PublishStep| {
        if s == PublishStep::LogAppended {
            // The readers idle outside any transaction; the publish's own connection is in one.
            let r = killer
                .rows(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE datname = current_database() AND pid <> pg_backend_pid()
                       AND application_name = 'healthcode-registry' AND state = 'idle'",
                    &[],
                )
                .unwrap();
            killed = r.len();
        }
        Ok(())
    };
    let head = reg.publish_with(T0 + 1, PublishHooks { progress: None, fault: Some(&mut hook) }).unwrap();
    assert!(killed >= 2, "no reader connections to kill ({killed}): the test proves nothing");
    assert_eq!(head.epoch, before.epoch + 1);
    assert_eq!(reg.stored_tree().unwrap().root(), head.root, "tree groups were half-written");
    reg.witness(8 * 1199).unwrap().check(&reg.public_key(), reg.policy()).unwrap();
    for verdict in reg.submit_batch(&spread_events(&reg, &lab, 2), T0 + 2).unwrap() {
        verdict.unwrap();
    }
    let next = reg.publish(T0 + 2).unwrap();
    assert_eq!(next.epoch, head.epoch + 1);
    assert_eq!(reg.stored_tree().unwrap().root(), next.root);
}

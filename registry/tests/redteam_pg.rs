//! Red team of the PostgreSQL engine (store/postgres/): where it behaves differently from
//! SQLite in ways that matter for soundness or for "nothing half-written, nothing acknowledged
//! lost". Most run on both engines (the assertions are engine-neutral); the ones that need a
//! server to interfere with say so and return on SQLite.

mod common;

use common::*;
use healthcode_circuits::Fr;
use healthcode_registry::audit::replay;
use healthcode_registry::store::{TxKind, Val};
use healthcode_registry::{Entry, EntryBody, Event, Refusal, Registry, RegistryError};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// 2022-06-30 23:59:59 and 2022-07-01 00:00:00 UTC: the last second of June, the first of July.
const JUNE_LAST: u64 = 1_656_633_599;
const JULY_FIRST: u64 = 1_656_633_600;

/// Cancels the registry's statement matching `query_like` once it waits on a lock.
fn cancel_when_waiting(path: &std::path::Path, query_like: &str) {
    let admin = raw(path);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pid: Option<i64> = admin
            .value(
                "SELECT pid::bigint FROM pg_stat_activity WHERE datname = current_database()
                 AND application_name = 'healthcode-registry' AND wait_event_type = 'Lock'
                 AND query LIKE ?1 AND pid <> pg_backend_pid() LIMIT 1",
                &[Val::Text(query_like.into())],
            )
            .unwrap();
        if let Some(pid) = pid {
            let _: Option<i64> =
                admin.value("SELECT pg_cancel_backend(?1::int)::int::bigint", &[Val::Int(pid)]).unwrap();
            return;
        }
        assert!(Instant::now() < deadline, "the registry never waited on a lock ({query_like})");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn audit(reg: &Registry) -> healthcode_registry::audit::Replay {
    let size = reg.head().unwrap().log_size;
    let entries = reg.log_entries(0, size).unwrap();
    replay(&entries, &reg.heads().unwrap(), &reg.public_key(), reg.policy()).unwrap()
}

// ---- 1. the handle's partition cache outlives a rolled-back transaction ----------------------

/// The first acceptance of a month creates that month's partition of `events` inside the
/// write transaction and remembers it in the handle (`Postgres::partitions`). When that
/// transaction rolls back after the partition was made (here: its queue insert is cancelled
/// while it waits on a lock; equally a statement or lock timeout, a deadlock victim, a backup
/// holding a lock at midnight of the 1st, an admin cancel), the partition is gone
/// but the handle still believes in it: every later event of that month on this handle fails
/// with a storage error ("no partition of relation events found for row") until the process
/// restarts (the service keeps one writer handle for its lifetime: a month-long outage of
/// acceptance). SQLite has no partitions; the same sequence accepts the second event.
#[test]
fn a_rolled_back_first_acceptance_of_a_month_does_not_poison_the_month() {
    if !on_postgres() {
        eprintln!("needs a PostgreSQL server (to cancel a statement); skipped");
        return;
    }
    let mut f = fixture(3);
    let path = f.path.clone();
    // A blocker holds `queue` so the registry's acceptance waits right after it created the
    // July partition and inserted the event (under the writer lock), at its queue insert.
    let blocker = raw(&path);
    blocker.exec("BEGIN", &[]).unwrap();
    blocker.exec("LOCK TABLE queue IN ACCESS EXCLUSIVE MODE", &[]).unwrap();

    let ev1 = f.event(&f.lab, 0, "positive_test", JULY_FIRST + 60, None);
    let ev2 = f.event(&f.lab, 1, "positive_test", JULY_FIRST + 120, None);
    let mut reg = std::mem::replace(&mut f.reg, Registry::open(&path).unwrap());
    let worker = std::thread::spawn(move || {
        let r = reg.submit(&ev1, JULY_FIRST + 600);
        (reg, r)
    });
    // Cancel the registry's statement once it waits for the lock.
    cancel_when_waiting(&path, "%INSERT INTO queue%");
    let (mut reg, first) = worker.join().unwrap();
    assert!(first.is_err(), "the cancelled acceptance must fail: {first:?}");
    blocker.exec("ROLLBACK", &[]).unwrap();

    // A transient failure must not make the rest of the month unacceptable.
    let second = reg.submit(&ev2, JULY_FIRST + 700);
    assert!(second.is_ok(), "a later July event on the same handle was refused: {second:?}");
    // (And the same event, retried, must be accepted too.)
    let ev1 = f.event(&f.lab, 0, "positive_test", JULY_FIRST + 60, None);
    let retry = reg.submit(&ev1, JULY_FIRST + 800);
    assert!(retry.is_ok(), "the retried July event was refused: {retry:?}");
}

// ---- 2. Tx::commit reports success for a transaction PostgreSQL rolled back -------------------

/// `Tx::commit` returning `Ok` must mean the transaction's writes are durable. After a failed
/// statement, PostgreSQL puts the transaction in the aborted state, and `COMMIT` then answers
/// `ROLLBACK` without an error: the guard returns `Ok(())` and the writes made *before* the
/// failure are silently gone. On SQLite a failed statement leaves the transaction usable and
/// the commit keeps the earlier write. Any caller that treats a statement error as a refusal and
/// carries on (as SQLite allows) acknowledges a write it lost.
#[test]
fn commit_after_a_failed_statement_is_not_reported_as_success_while_losing_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = new_db(dir.path());
    let _reg = Registry::init(&path, POLICY, T0).unwrap();
    let db = raw(&path);
    let tx = db.begin(TxKind::Write).unwrap();
    tx.set_meta("redteam_a", b"kept?").unwrap();
    // A statement that fails (a duplicate primary key), its error handled by the caller.
    let dup = tx.exec("INSERT INTO heads (epoch, head) VALUES (0, 'again')", &[]);
    assert!(dup.is_err(), "the duplicate head must be refused");
    let committed = tx.commit();
    let stored = raw(&path).get_meta("redteam_a").unwrap();
    assert!(
        committed.is_err() || stored.is_some(),
        "commit() returned {committed:?} but the write made before the failed statement is gone \
         ({stored:?}): an acknowledged write was lost"
    );
}

// ---- 3. acceptance order of a big batch (INSERT … SELECT FROM unnest) ------------------------

/// A 50k enrolment goes to the queue as 3 set statements over `unnest` arrays; the identity
/// `seq` must follow the batch order, or the log order (and the leaf each Enrol entry is
/// logged at) differs from the order the registry acknowledged. Passes: kept as a regression
/// test (it would catch a rewrite that lost `unnest`'s order, e.g. a parallel plan or a join).
#[test]
fn a_big_enrolment_is_queued_in_batch_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = new_db(dir.path());
    let mut reg = Registry::init(&path, POLICY, T0).unwrap();
    let n = 50_000u64;
    let cms: Vec<Fr> = (0..n).map(|i| Fr::from(1_000_000 + i * 7919)).collect();
    let leaves = reg.enroll_batch(&cms, T0).unwrap();
    assert_eq!(leaves, (0..n as u32).collect::<Vec<_>>());
    let db = raw(&path);
    let rows = db.rows("SELECT entry FROM queue ORDER BY seq", &[]).unwrap();
    assert_eq!(rows.len() as u64, n);
    for (i, r) in rows.iter().enumerate() {
        let e = Entry::from_bytes(&r.get::<Vec<u8>>(0).unwrap()).unwrap();
        match e.body {
            EntryBody::Enrol { leaf_index, commitment } => {
                assert_eq!(leaf_index as usize, i, "queue position {i} holds leaf {leaf_index}");
                assert_eq!(commitment, healthcode_circuits::field::to_bytes(&cms[i]));
            }
            other => panic!("unexpected entry {other:?}"),
        }
    }
}

// ---- 4. two handles writing at once ------------------------------------------------------

/// Two handles (two "processes") on one database, each enrolling, accepting and publishing in
/// a loop on its own thread. Every acknowledged enrolment must have its own leaf, every
/// acknowledged event must be in the log exactly once, every head must replay, and the stored
/// tree must be the last head's. Passes on PostgreSQL (the writer advisory lock serialises the
/// `MAX(leaf_index)+1`, the queue and the publish): kept as a regression test.
#[test]
fn two_handles_writing_at_once_lose_nothing_and_share_no_leaf() {
    let f = fixture(4);
    let path = f.path.clone();
    let rounds = 12u64;
    let barrier = Arc::new(Barrier::new(2));
    // One clock for both "processes" (a publish refuses a clock far behind the latest head).
    let clock = Arc::new(std::sync::atomic::AtomicU64::new(T0));
    let run = |who: u64| {
        let path = path.clone();
        let (barrier, clock) = (barrier.clone(), clock.clone());
        let lab = key(1);
        let registry_key = f.reg.public_key();
        std::thread::spawn(move || {
            let mut reg = Registry::open(&path).unwrap();
            barrier.wait();
            let (mut leaves, mut events) = (Vec::new(), Vec::new());
            for r in 0..rounds {
                let tick = || clock.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let now = tick();
                let cms: Vec<Fr> = (0..5).map(|i| Fr::from(10_000_000 * (who + 1) + r * 100 + i)).collect();
                leaves.extend(reg.enroll_batch(&cms, now).unwrap());
                let holder = (r % 4) as u32;
                let ev = Event::signed_by(&lab, registry_key, holder, "negative_test", now - 1, None);
                events.push(reg.submit(&ev, now).unwrap());
                reg.publish(tick()).unwrap();
            }
            (leaves, events)
        })
    };
    let (a, b) = (run(0), run(1));
    let (la, ea) = a.join().unwrap();
    let (lb, eb) = b.join().unwrap();
    let mut all: Vec<u32> = la.iter().chain(&lb).copied().collect();
    all.sort_unstable();
    let n = all.len();
    all.dedup();
    assert_eq!(all.len(), n, "two enrolments were given the same leaf");
    let reg = Registry::open(&path).unwrap();
    assert_eq!(reg.queue_len().unwrap(), 0);
    let head = reg.head().unwrap();
    assert_eq!(head.holders, 4 + n as u64);
    let entries = reg.log_entries(0, head.log_size).unwrap();
    for id in ea.iter().chain(&eb) {
        let hits = entries
            .iter()
            .filter(|b| matches!(Entry::from_bytes(b).map(|e| e.body), Ok(EntryBody::Event(ev)) if ev.event.id() == *id))
            .count();
        assert_eq!(hits, 1, "an acknowledged event is logged {hits} times");
    }
    audit(&reg);
    assert_eq!(reg.stored_tree().unwrap().root(), head.root);
    for leaf in [0u32, 3, (4 + n - 1) as u32] {
        reg.witness(leaf).unwrap();
    }
}

// ---- 5. witnesses served while another handle publishes --------------------------------------

/// One handle serves witnesses in a loop while another publishes epoch after epoch that
/// changes the same holders. Every witness must succeed and open the head it carries (the
/// registry checks it and refuses `Corrupt` otherwise): one `REPEATABLE READ` snapshot, and a
/// top-of-tree cache that never mixes two roots. Passes: kept as a regression test.
#[test]
fn witnesses_served_during_publishes_open_their_heads() {
    let f = fixture(8);
    let path = f.path.clone();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (path, stop) = (path.clone(), stop.clone());
        std::thread::spawn(move || {
            let reg = Registry::open(&path).unwrap();
            let (mut served, mut epochs) = (0u64, std::collections::BTreeSet::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for leaf in 0..8u32 {
                    let w = reg.witness(leaf).unwrap_or_else(|e| panic!("witness {leaf}: {e}"));
                    epochs.insert(w.head.epoch);
                    served += 1;
                }
            }
            (served, epochs.len())
        })
    };
    let mut writer = Registry::open(&path).unwrap();
    let lab = key(1);
    for r in 0..25u64 {
        let now = T0 + 100 + r;
        for h in 0..8u32 {
            let ev = Event::signed_by(
                &lab,
                writer.public_key(),
                h,
                "negative_test",
                now - 50 + u64::from(h),
                None,
            );
            writer.submit(&ev, now).unwrap();
        }
        writer.publish(now).unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (served, epochs) = reader.join().unwrap();
    assert!(served > 0);
    eprintln!("served {served} witnesses over {epochs} epochs");
}

// ---- 6. one event accepted twice, in two month partitions -------------------------------------

/// The primary key of `events` on PostgreSQL is `(id, accepted_at)`, so the database alone
/// would take the same event in June and again in July. Two handles race to accept it, one at
/// the last second of June, one at the first of July: exactly one may be acknowledged. Passes
/// (the duplicate check runs under the writer lock across partitions): a regression test.
#[test]
fn one_event_is_accepted_once_across_a_month_boundary_and_two_handles() {
    let f = fixture(2);
    let path = f.path.clone();
    let ev = f.event(&f.lab, 1, "positive_test", JUNE_LAST - 3600, None);
    for round in 0..5u64 {
        let ev =
            Event::signed_by(&f.lab, f.reg.public_key(), 1, "positive_test", JUNE_LAST - 3601 - round, None);
        let barrier = Arc::new(Barrier::new(2));
        let go = |now: u64| {
            let (path, barrier, ev) = (path.clone(), barrier.clone(), ev.clone());
            std::thread::spawn(move || {
                let mut reg = Registry::open(&path).unwrap();
                barrier.wait();
                reg.submit(&ev, now)
            })
        };
        let (a, b) = (go(JUNE_LAST), go(JULY_FIRST));
        let (ra, rb) = (a.join().unwrap(), b.join().unwrap());
        let ok = [&ra, &rb].iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 1, "round {round}: {ra:?} / {rb:?}");
        for r in [&ra, &rb] {
            if let Err(e) = r {
                assert!(matches!(e, RegistryError::Refused(Refusal::Duplicate(_))), "{e}");
            }
        }
    }
    let mut reg = Registry::open(&path).unwrap();
    reg.submit(&ev, JUNE_LAST).unwrap();
    let again = reg.submit(&ev, JULY_FIRST + 86_400).unwrap_err();
    assert!(matches!(again, RegistryError::Refused(Refusal::Duplicate(_))), "{again}");
    let n: i64 = raw(&path).value("SELECT COUNT(*) FROM events", &[]).unwrap().unwrap();
    assert_eq!(n, 6);
    reg.publish(JULY_FIRST + 86_400).unwrap();
    audit(&reg);
}

// ---- 7. archiving a month (the documented reason for the partitions) -------------------------

/// Finding 3 (red team): with `events_2022_06` detached and dropped (an operator "archiving"
/// June), the same signed June event was accepted again in July and logged twice (the replay
/// then reported a duplicate in a signed head). Every month the registry creates is now recorded
/// in `event_partitions`, and opening refuses a registry with one missing, naming it. Needs
/// PostgreSQL (partitions).
#[test]
fn an_archived_month_does_not_let_its_events_be_accepted_again() {
    if !on_postgres() {
        eprintln!("needs PostgreSQL (month partitions); skipped");
        return;
    }
    let mut f = fixture(2);
    let ev = f.event(&f.lab, 1, "positive_test", JUNE_LAST - 3600, None);
    f.reg.submit(&ev, JUNE_LAST).unwrap();
    f.reg.publish(JUNE_LAST).unwrap();
    let db = raw(&f.path);
    db.exec("ALTER TABLE events DETACH PARTITION events_2022_06", &[]).unwrap();
    let detached = Registry::open(&f.path).unwrap_err().to_string();
    assert!(detached.contains("events_2022_06"), "{detached}");
    db.exec("DROP TABLE events_2022_06", &[]).unwrap();
    let dropped = Registry::open(&f.path).unwrap_err().to_string();
    assert!(dropped.contains("events_2022_06") && dropped.contains("detached or dropped"), "{dropped}");
    // The live handle opened before the damage cannot reopen; a new one is refused above, so the
    // event cannot be accepted twice through a registry that opens.
}

// ---- 8. a publish cancelled mid-way, then the same handle used again -------------------------

/// Cancels the registry's statement while its publish waits on `tree_groups` (after the log,
/// events and holder states were written in its transaction), then publishes again on the same
/// handle (whose connection survives a cancel, unlike a lost one): nothing of the first attempt
/// may remain (no aborted transaction left open, no half batch committed), and the second
/// publish must replay. Passes: a regression test for the guard's rollback on PostgreSQL.
#[test]
fn a_publish_cancelled_mid_way_leaves_nothing_and_the_handle_publishes_again() {
    if !on_postgres() {
        eprintln!("needs a PostgreSQL server (to cancel a statement); skipped");
        return;
    }
    let mut f = fixture(6);
    let path = f.path.clone();
    for h in 0..6u32 {
        let ev = f.event(&f.lab, h, "positive_test", T0 - 100 - u64::from(h), None);
        f.reg.submit(&ev, T0).unwrap();
    }
    let before = f.snapshot();
    let blocker = raw(&path);
    blocker.exec("BEGIN", &[]).unwrap();
    blocker.exec("LOCK TABLE tree_groups IN ACCESS EXCLUSIVE MODE", &[]).unwrap();
    let mut reg = std::mem::replace(&mut f.reg, Registry::open(&path).unwrap());
    let worker = std::thread::spawn(move || {
        let r = reg.publish(T0 + 10);
        (reg, r)
    });
    cancel_when_waiting(&path, "%tree_groups%");
    let (mut reg, first) = worker.join().unwrap();
    assert!(first.is_err(), "the cancelled publish must fail: {first:?}");
    blocker.exec("ROLLBACK", &[]).unwrap();
    assert_eq!(f.snapshot(), before, "the cancelled publish left something behind");
    let head = reg.publish(T0 + 20).unwrap();
    assert_eq!(head.epoch, 2);
    assert_eq!(reg.queue_len().unwrap(), 0);
    audit(&reg);
    for h in 0..6u32 {
        reg.witness(h).unwrap();
    }
}

// ---- 9. one publish carrying an event, its retraction, and events on the same holders --------

/// One batch holds an event and its retraction, a second event for the same holder, and a
/// contact event naming a positive test accepted in the same batch: the set statements
/// (`UPDATE … FROM unnest`) must touch each row once and the recomputed states must match the
/// replay. Passes on both engines: a regression test.
#[test]
fn one_publish_with_an_event_and_its_retraction_replays() {
    let mut f = fixture(40);
    let mut evs = Vec::new();
    for h in 0..30u32 {
        evs.push(f.event(&f.lab, h, "positive_test", T0 - 1000 - u64::from(h), None));
    }
    let ids: Vec<_> = f.reg.submit_batch(&evs, T0).unwrap().into_iter().map(Result::unwrap).collect();
    for (h, id) in ids.iter().enumerate().take(20) {
        f.reg.retract(&f.retraction(&f.lab, *id), T0 + 1).unwrap();
        let later = f.event(&f.lab, h as u32, "negative_test", T0 - 10, None);
        f.reg.submit(&later, T0 + 2).unwrap();
    }
    let contact = f.event(&f.tracer, 35, "close_contact", T0 - 5, Some(ids[25]));
    f.reg.submit(&contact, T0 + 3).unwrap();
    let head = f.reg.publish(T0 + 10).unwrap();
    audit(&f.reg);
    assert_eq!(f.reg.stored_tree().unwrap().root(), head.root);
    for h in [0u32, 19, 20, 25, 35] {
        f.reg.witness(h).unwrap();
    }
    let n: i64 = raw(&f.path)
        .value("SELECT COUNT(*) FROM events WHERE log_idx IS NULL OR (retracted = 1 AND retraction_log_idx IS NULL)", &[])
        .unwrap()
        .unwrap();
    assert_eq!(n, 0, "an event or retraction has no log index after the publish");
}

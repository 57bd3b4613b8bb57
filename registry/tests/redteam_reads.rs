//! Red team of d952d59 (a publish reads its dirty tree groups as last committed on up to eight
//! other connections) and e9b043f (the next level's children are read while a level hashes).
//! Soundness: whatever a concurrent raw connection does to `tree_groups` while a publish reads,
//! a signed head's root is the correct update of the previous one (the same as an SQLite twin
//! fed the same events). Availability: reader connections lost while idle, or that the server
//! will not open, must not stop publishing. PostgreSQL-only tests say so and return without
//! `HEALTHCODE_TEST_PG`.

mod common;

use common::*;
use healthcode_circuits::tree::{self, NodeSource, SparseTree, ARITY, LEVELS};
use healthcode_circuits::Fr;
use healthcode_registry::store::{DbErrorKind, Val};
use healthcode_registry::{Event, PublishHooks, PublishStep, Registry, RegistryError, Role, SignedEvent};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

fn pg_only(test: &str) -> Option<String> {
    let s = pg_server();
    if s.is_none() {
        eprintln!("{test}: HEALTHCODE_TEST_PG is not set: PostgreSQL-only, skipped");
    }
    s
}

/// A registry at `path` with one lab and `holders` holders enrolled in one batch and published.
fn lab_registry(path: &Path, holders: u64) -> Registry {
    let mut reg = Registry::init(path, POLICY, T0 - 10 * DAY).unwrap();
    reg.add_signer("lab", Role::Lab, key(1).verifying_key(), 0, T0 - 10 * DAY).unwrap();
    let cms: Vec<Fr> = (0..holders).map(|i| Fr::from(40_000 + i)).collect();
    reg.enroll_batch(&cms, T0 - 10 * DAY).unwrap();
    reg.publish(T0 - 10 * DAY).unwrap();
    reg
}

/// Events of `round` for holders `0, step, 2 step, …` (`n` of them): with `step` = 8 each is its
/// own range of parents on level 0; with `step` = 32 on levels 0 and 1.
fn events(reg: &Registry, n: u32, step: u32, round: u64) -> Vec<SignedEvent> {
    (0..n)
        .map(|i| {
            Event::signed_by(&key(1), reg.public_key(), i * step, "negative_test", T0 - 7200 + round, None)
        })
        .collect()
}

fn submit(reg: &mut Registry, evs: &[SignedEvent], now: u64) {
    for v in reg.submit_batch(evs, now).unwrap() {
        v.unwrap();
    }
}

fn db_kind(e: &RegistryError) -> Option<DbErrorKind> {
    match e {
        RegistryError::Db(d) => Some(d.kind),
        _ => None,
    }
}

/// The stored tree hashes to the head, and the witnesses of `holders` open it.
fn consistent(reg: &Registry, holders: &[u32]) {
    let head = reg.head().unwrap();
    let stored = reg.stored_tree().unwrap();
    assert_eq!(stored.root(), head.root, "stored top group");
    assert_eq!(stored.recompute_root(), head.root, "stored leaves");
    for &h in holders {
        let w = reg.witness(h).unwrap();
        assert_eq!(w.head, head);
        w.check(&reg.public_key(), reg.policy()).unwrap_or_else(|e| panic!("witness {h}: {e:?}"));
    }
}

/// A PostgreSQL registry and its SQLite twin, fed the same events: the same roots.
struct Twins {
    _dir: tempfile::TempDir,
    pg_path: PathBuf,
    pg: Registry,
    lite: Registry,
}

impl Twins {
    fn new(holders: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pg_path = new_db(dir.path());
        let pg = lab_registry(&pg_path, holders);
        let lite = lab_registry(&dir.path().join("twin.db"), holders);
        assert_eq!(pg.head().unwrap().root, lite.head().unwrap().root);
        Self { _dir: dir, pg_path, pg, lite }
    }

    fn submit(&mut self, n: u32, step: u32, round: u64) {
        let (a, b) = (events(&self.pg, n, step, round), events(&self.lite, n, step, round));
        submit(&mut self.pg, &a, T0 + round);
        submit(&mut self.lite, &b, T0 + round);
    }

    /// Publishes the twin; returns its root.
    fn publish_lite(&mut self, round: u64) -> Fr {
        self.lite.publish(T0 + round).unwrap().root
    }
}

/// Levels with 511, 512 and 513 ranges (either side of the readers' threshold, on one and two
/// levels at once) and 2049 (eight readers, the last chunk shorter): the same root as SQLite,
/// the stored tree hashes to it, and witnesses from every reader's chunk open it.
#[test]
fn range_counts_around_the_reader_threshold_make_the_same_tree() {
    if pg_only("range_counts_around_the_reader_threshold_make_the_same_tree").is_none() {
        return;
    }
    let mut t = Twins::new(16_416);
    let db = raw(&t.pg_path);
    let cases: [(u32, u32); 6] = [(511, 32), (512, 32), (513, 32), (511, 8), (513, 8), (2049, 8)];
    for (round, &(n, step)) in cases.iter().enumerate() {
        let round = round as u64 + 1;
        t.submit(n, step, round);
        let head = t.pg.publish(T0 + round).unwrap();
        assert_eq!(
            head.root,
            t.publish_lite(round),
            "{n} ranges (step {step}): PostgreSQL made another tree"
        );
        // The threshold as meant: 511 ranges on the publish's own connection, 512 on readers.
        let opened = connections(&db);
        if round == 1 {
            assert_eq!(opened, 1, "readers opened for 511 ranges");
        } else {
            assert_eq!(opened, 9, "no readers for {n} ranges");
        }
        let probes: Vec<u32> = (0..n).step_by(97).chain([n - 1]).map(|i| i * step).collect();
        consistent(&t.pg, &probes);
    }
}

/// Altering a stored group between the previous head and the publish's reads (a leaf's sibling
/// on level 0, or a group on level 1 that only side-by-side readers read): the publish refuses
/// as Corrupt and writes nothing; restored, the next one signs the twin's root.
#[test]
fn a_group_altered_before_the_side_by_side_reads_is_refused() {
    if pg_only("a_group_altered_before_the_side_by_side_reads_is_refused").is_none() {
        return;
    }
    let mut t = Twins::new(16_416);
    let db = raw(&t.pg_path);
    // (level, parent), the second child altered: holder 3201's leaf (its group's first leaf,
    // holder 3200, has an event); level-1 node 801 (holders 3204..3207, no events), both in
    // levels of 513 ranges read side by side; level-2 node 257 (empty), read on the publish's
    // own connection (one range on level 2).
    for (round, (level, parent)) in [(0i64, 800i64), (1, 200), (2, 64)].into_iter().enumerate() {
        let round = round as u64 + 1;
        t.submit(513, 32, round);
        let before = t.pg.head().unwrap();
        let original: Vec<u8> = db
            .value(
                "SELECT hashes FROM tree_groups WHERE level = ?1 AND idx = ?2",
                &[Val::Int(level), Val::Int(parent)],
            )
            .unwrap()
            .expect("the group exists");
        let mut altered = original.clone();
        altered[32 + 31] ^= 1; // the second child's low byte: still a field element
        let mut hook = |s: PublishStep| {
            if s == PublishStep::LogAppended {
                db.exec(
                    "UPDATE tree_groups SET hashes = ?1 WHERE level = ?2 AND idx = ?3",
                    &[Val::Bytes(altered.clone()), Val::Int(level), Val::Int(parent)],
                )
                .unwrap();
            }
            Ok(())
        };
        let e =
            t.pg.publish_with(T0 + round, PublishHooks { progress: None, fault: Some(&mut hook) })
                .unwrap_err();
        assert!(matches!(e, RegistryError::Corrupt(_)), "level {level}: {e}");
        assert_eq!(t.pg.head().unwrap(), before, "a head was signed over an altered group");
        assert_eq!(t.pg.queue_len().unwrap(), 513);
        db.exec(
            "UPDATE tree_groups SET hashes = ?1 WHERE level = ?2 AND idx = ?3",
            &[Val::Bytes(original), Val::Int(level), Val::Int(parent)],
        )
        .unwrap();
        let head = t.pg.publish(T0 + round).unwrap();
        assert_eq!(head.root, t.publish_lite(round));
        consistent(&t.pg, &[0, 3200, 32 * 512]);
    }
}

/// A raw connection flips groups on levels 0, 1 and 5 between their stored value and a damaged
/// one, committing each flip, all the while publishes read on their readers (levels read at
/// different moments, by different connections): every head signed has the twin's root, and
/// once the flipping stops with the groups restored the stored tree hashes to it.
#[test]
fn groups_flipping_during_the_reads_never_sign_a_wrong_root() {
    if pg_only("groups_flipping_during_the_reads_never_sign_a_wrong_root").is_none() {
        return;
    }
    let mut t = Twins::new(16_416);
    // Second children: leaf 6401 and level-1 node 1601 (no events: a flip read is refused);
    // level-5 node 1 (on the dirty paths: its stored value is never used, and rewritten).
    let targets: [(i64, i64); 3] = [(0, 1600), (1, 400), (5, 0)];
    let (mut signed, mut refused) = (0, 0);
    for round in 1..=6u64 {
        t.submit(513, 32, round);
        let before = t.pg.head().unwrap();
        let db = raw(&t.pg_path);
        let originals: Vec<Vec<u8>> = targets
            .iter()
            .map(|&(l, p)| {
                db.value(
                    "SELECT hashes FROM tree_groups WHERE level = ?1 AND idx = ?2",
                    &[Val::Int(l), Val::Int(p)],
                )
                .unwrap()
                .expect("the group exists")
            })
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let flipper = {
            let (stop, path, originals) = (stop.clone(), t.pg_path.clone(), originals.clone());
            std::thread::spawn(move || {
                let db = raw(&path);
                let mut flips = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for (&(l, p), orig) in targets.iter().zip(&originals) {
                        let mut v = orig.clone();
                        if flips.is_multiple_of(2) {
                            // The second child's low byte (big-endian): still a field element.
                            v[32 + 31] ^= 1;
                        }
                        db.exec(
                            "UPDATE tree_groups SET hashes = ?1 WHERE level = ?2 AND idx = ?3",
                            &[Val::Bytes(v), Val::Int(l), Val::Int(p)],
                        )
                        .unwrap();
                    }
                    flips += 1;
                }
                // Restored (unless the publish rewrote the group meanwhile, which the loop would
                // have overwritten: put back what the stored head says below).
                flips
            })
        };
        let result = t.pg.publish(T0 + round);
        stop.store(true, Ordering::Relaxed);
        let flips = flipper.join().unwrap();
        assert!(flips > 0);
        match result {
            Ok(head) => {
                signed += 1;
                // The twin's root: the correct update of the previous tree.
                assert_eq!(head.root, t.publish_lite(round), "round {round}: a wrong root was signed");
                // The flipper may have left a stale value in a group the publish rewrote (dirty
                // groups are rewritten from what was read; the flip after them is damage):
                // rebuild those groups from the twin's tree.
                repair_from(&db, &t.lite.stored_tree().unwrap(), &targets);
            }
            Err(e) => {
                refused += 1;
                assert!(matches!(e, RegistryError::Corrupt(_)), "round {round}: {e}");
                assert_eq!(t.pg.head().unwrap(), before);
                for (&(l, p), orig) in targets.iter().zip(&originals) {
                    db.exec(
                        "UPDATE tree_groups SET hashes = ?1 WHERE level = ?2 AND idx = ?3",
                        &[Val::Bytes(orig.clone()), Val::Int(l), Val::Int(p)],
                    )
                    .unwrap();
                }
                let head = t.pg.publish(T0 + round).unwrap();
                assert_eq!(head.root, t.publish_lite(round));
            }
        }
        consistent(&t.pg, &[0, 1600 * 4, 32 * 512]);
    }
    eprintln!("flipping groups: {signed} publishes signed, {refused} refused");
}

/// Puts the groups `targets` back as `tree` (the twin's, the same tree) holds them.
fn repair_from(db: &healthcode_registry::store::Db, tree: &SparseTree, targets: &[(i64, i64)]) {
    use healthcode_circuits::field;
    let nodes: HashMap<(usize, u64), Fr> = tree.nodes().map(|(l, i, v)| ((l, i), v)).collect();
    for &(l, p) in targets {
        let (l, p) = (l as usize, p as u64);
        let blob: Vec<u8> = (0..ARITY as u64)
            .flat_map(|k| {
                let v = nodes.get(&(l, p * ARITY as u64 + k)).copied().unwrap_or_else(|| tree::empty_root(l));
                field::to_bytes(&v)
            })
            .collect();
        db.exec(
            "UPDATE tree_groups SET hashes = ?1 WHERE level = ?2 AND idx = ?3",
            &[Val::Bytes(blob), Val::Int(l as i64), Val::Int(p as i64)],
        )
        .unwrap();
    }
}

/// A publish with side-by-side reads failing at each later step (the reads done, the groups
/// written but not committed), then retried on the same handle: the same root as the twin, the
/// stored tree and witnesses consistent. On SQLite without a server: the handle against itself.
#[test]
fn a_publish_failing_after_its_reads_is_retried_on_the_same_handle() {
    let dir = tempfile::tempdir().unwrap();
    let path = new_db(dir.path());
    let mut reg = lab_registry(&path, 8 * 600);
    let mut twin = lab_registry(&dir.path().join("twin.db"), 8 * 600);
    let steps = [PublishStep::TreeWritten, PublishStep::QueueCleared, PublishStep::HeadSigned];
    for (round, step) in steps.into_iter().enumerate() {
        let round = round as u64 + 1;
        let (a, b) = (events(&reg, 600, 8, round), events(&twin, 600, 8, round));
        submit(&mut reg, &a, T0 + round);
        submit(&mut twin, &b, T0 + round);
        let before = reg.head().unwrap();
        let mut hook = |s: PublishStep| if s == step { Err(()) } else { Ok(()) };
        let e = reg
            .publish_with(T0 + round, PublishHooks { progress: None, fault: Some(&mut hook) })
            .unwrap_err();
        assert!(matches!(e, RegistryError::Injected(s) if s == step), "{e}");
        assert_eq!(reg.head().unwrap(), before);
        // A witness between the failure and the retry: the old head, consistent.
        consistent(&reg, &[0, 8 * 599]);
        let head = reg.publish(T0 + round).unwrap();
        assert_eq!(head.root, twin.publish(T0 + round).unwrap().root, "after a failure at {step:?}");
        consistent(&reg, &[0, 8 * 300, 8 * 599]);
    }
}

/// The connections of the registry's database as the server counts them.
fn connections(db: &healthcode_registry::store::Db) -> i64 {
    db.value(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
        &[],
    )
    .unwrap()
    .unwrap()
}

/// Readers are opened once and kept (at most eight besides the publish's own connection),
/// across publishes, failed publishes and readers lost mid-publish: never more than nine.
#[test]
fn reader_connections_stay_bounded_across_publishes_and_failures() {
    let Some(_) = pg_only("reader_connections_stay_bounded_across_publishes_and_failures") else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = new_db(dir.path());
    let mut reg = lab_registry(&path, 8 * 600);
    let db = raw(&path);
    assert_eq!(connections(&db), 1, "one connection before any side-by-side read");
    let mut most = 0;
    for round in 1..=8u64 {
        let evs = events(&reg, 600, 8, round);
        submit(&mut reg, &evs, T0 + round);
        let mut hook = |s: PublishStep| {
            if s == PublishStep::LogAppended && round % 3 == 0 {
                // Lost readers (idle, outside any transaction), as in postgres.rs.
                db.rows(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE datname = current_database() AND pid <> pg_backend_pid()
                       AND application_name = 'healthcode-registry' AND state = 'idle'",
                    &[],
                )
                .unwrap();
            }
            if s == PublishStep::TreeWritten && round % 4 == 1 {
                return Err(());
            }
            Ok(())
        };
        let r = reg.publish_with(T0 + round, PublishHooks { progress: None, fault: Some(&mut hook) });
        if r.is_err() {
            reg.publish(T0 + round).unwrap();
        }
        // (A terminated backend leaves pg_stat_activity at once; a dropped client's socket is
        // closed when its task next runs: the handle's next call.)
        reg.head().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let n = connections(&db);
        most = most.max(n);
        assert!(n <= 9, "round {round}: {n} connections");
    }
    assert_eq!(most, 9, "the readers were never opened: the test proves nothing");
    consistent(&reg, &[0, 8 * 599]);
}

/// Witnesses served by another handle while a publish reads on its side-by-side readers and
/// writes: each opens the head it names, and the old head until the commit.
#[test]
fn witnesses_of_another_handle_during_side_by_side_reads_open_their_heads() {
    let Some(_) = pg_only("witnesses_of_another_handle_during_side_by_side_reads_open_their_heads") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = new_db(dir.path());
    let mut reg = lab_registry(&path, 8 * 1200);
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let server = {
        let (stop, served, path) = (stop.clone(), served.clone(), path.clone());
        std::thread::spawn(move || {
            let other = Registry::open(&path).unwrap();
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let h = (i * 8 * 37) % (8 * 1200);
                let w = other.witness(h).unwrap();
                w.check(&other.public_key(), other.policy()).unwrap_or_else(|e| panic!("witness {h}: {e:?}"));
                served.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        })
    };
    for round in 1..=3u64 {
        let evs = events(&reg, 1200, 8, round);
        submit(&mut reg, &evs, T0 + round);
        reg.publish(T0 + round).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    server.join().unwrap();
    assert!(served.load(Ordering::Relaxed) > 0);
    consistent(&reg, &[0, 8 * 1199]);
}

/// A node source over a [`SparseTree`] that fails its read of `fail_at`, recording every read.
struct Failing<'a> {
    tree: &'a SparseTree,
    fail_at: Option<usize>,
    reads: Vec<usize>,
}

impl NodeSource for Failing<'_> {
    type Error = String;
    fn children(&mut self, level: usize, parents: &[u64]) -> Result<HashMap<u64, Fr>, String> {
        assert!(parents.windows(2).all(|w| w[0] < w[1]), "parents ascending and distinct");
        self.reads.push(level);
        if Some(level) == self.fail_at {
            return Err(format!("read of level {level} failed"));
        }
        let nodes: HashMap<(usize, u64), Fr> = self.tree.nodes().map(|(l, i, v)| ((l, i), v)).collect();
        let mut out = HashMap::new();
        for &p in parents {
            for k in 0..ARITY as u64 {
                if let Some(v) = nodes.get(&(level, p * ARITY as u64 + k)) {
                    out.insert(p * ARITY as u64 + k, *v);
                }
            }
        }
        Ok(out)
    }
}

/// The read overlapping the hashing (e9b043f): a failing read of any level is the error the
/// update returns (not a panic, not another level's), no read follows it, and without failures
/// the levels are read once each in order and the update equals the in-memory tree's.
#[test]
fn a_failed_read_overlapping_the_hashing_is_the_update_s_error() {
    let mut tree = SparseTree::new();
    let leaves: Vec<(u32, Fr)> = (0..3000u32).map(|i| (i * 8, Fr::from(i as u64 + 1))).collect();
    tree.set_leaves(leaves.clone());
    let updates: Vec<(u32, Fr)> = (0..1500u32).map(|i| (i * 16 + 1, Fr::from(9_000 + i as u64))).collect();
    let mut ok = Failing { tree: &tree, fail_at: None, reads: Vec::new() };
    let (changed, old) = tree::update_checked(&mut ok, updates.clone()).unwrap();
    assert_eq!(ok.reads, (0..LEVELS).collect::<Vec<_>>());
    assert_eq!(old, Some(tree.root()));
    let mut expected = tree.clone();
    expected.set_leaves(updates.clone());
    assert_eq!(changed.last().unwrap().2, expected.root());
    for level in 0..LEVELS {
        let mut src = Failing { tree: &tree, fail_at: Some(level), reads: Vec::new() };
        let e = tree::update_checked(&mut src, updates.clone()).unwrap_err();
        assert_eq!(e, format!("read of level {level} failed"));
        assert_eq!(src.reads, (0..=level).collect::<Vec<_>>(), "reads after a failed one");
    }
}

/// The registry's own role (not a superuser) with `limit` connections, owning the registry at
/// `path`'s tables; returns the URL of that registry as the role.
fn limited_role(path: &Path, limit: u32) -> PathBuf {
    let db = raw(path);
    let role = format!("rt_lim_{}", std::process::id());
    let _ = db.exec(&format!("CREATE ROLE {role} LOGIN CONNECTION LIMIT {limit}"), &[]);
    db.exec(&format!("GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}"), &[]).unwrap();
    db.exec(&format!("GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}"), &[]).unwrap();
    let url = path.to_str().unwrap();
    assert!(url.starts_with("postgresql://postgres@"), "{url}");
    PathBuf::from(url.replacen("postgresql://postgres@", &format!("postgresql://{role}@"), 1))
}

/// BUG: a server that grants the registry fewer connections than its eight readers (a role's
/// connection limit, or `max_connections` nearly used up by witness servers) published with one
/// connection before d952d59; now every publish that reads ≥ 512 ranges on a level fails, every
/// time, and the readers it did open stay held (idle, never used) against the limit.
#[test]
fn a_publish_succeeds_when_the_server_will_not_open_eight_readers() {
    let Some(_) = pg_only("a_publish_succeeds_when_the_server_will_not_open_eight_readers") else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = new_db(dir.path());
    let mut reg = lab_registry(&path, 8 * 600);
    let evs = events(&reg, 600, 8, 1);
    submit(&mut reg, &evs, T0 + 1);
    drop(reg);
    // The registry's role may hold 4 connections: its own and 3 more.
    let limited = limited_role(&path, 4);
    let mut reg = Registry::open(&limited).unwrap();
    let before = reg.head().unwrap();
    let mut failures = Vec::new();
    for attempt in 0..3 {
        match reg.publish(T0 + 1) {
            Ok(head) => {
                assert_eq!(head.epoch, before.epoch + 1);
                consistent(&reg, &[0, 8 * 599]);
                return;
            }
            Err(e) => {
                assert_eq!(reg.head().unwrap(), before, "nothing written");
                failures.push(format!("attempt {attempt}: {e}"));
            }
        }
    }
    let db = raw(&path);
    let held = connections(&db);
    panic!(
        "a publish never succeeds with fewer connections than readers; the registry holds {held} \
         connections meanwhile:\n{}",
        failures.join("\n")
    );
}

/// BUG: the readers idle between publishes (a publish's reads are their only use) while the
/// publishing handle's own connection stays busy (enrolments, witnesses). A server that ends
/// idle sessions (`idle_session_timeout`, an idle-connection reaper, a NAT/firewall timeout)
/// ends the readers only, and then the next publish fails as Unavailable though the database
/// and the handle's connection are fine: with publishes further apart than the timeout, every
/// second publish fails. (The reads are idempotent and outside the transaction: a reader found
/// closed could be reopened and the read retried.)
#[test]
fn readers_ended_while_idle_between_publishes_do_not_fail_the_next_publish() {
    let Some(_) = pg_only("readers_ended_while_idle_between_publishes_do_not_fail_the_next_publish") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = new_db(dir.path());
    drop(lab_registry(&path, 8 * 600));
    {
        let db = raw(&path);
        let name: String = db.value("SELECT current_database()", &[]).unwrap().unwrap();
        db.exec(&format!("ALTER DATABASE {name} SET idle_session_timeout = '1s'"), &[]).unwrap();
    }
    // (Settings apply from a session's start.)
    let mut reg = Registry::open(&path).unwrap();
    let mut failed = Vec::new();
    for round in 1..=4u64 {
        let evs = events(&reg, 600, 8, round);
        submit(&mut reg, &evs, T0 + round);
        // The handle's own connection in use every 200 ms for 2.5 s: only the readers idle.
        for _ in 0..12 {
            reg.head().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        if let Err(e) = reg.publish(T0 + round) {
            assert_eq!(db_kind(&e), Some(DbErrorKind::Unavailable), "{e}");
            failed.push(round);
            reg.publish(T0 + round).unwrap();
        }
        consistent(&reg, &[0, 8 * 599]);
    }
    assert!(failed.is_empty(), "publishes {failed:?} of 4 failed on readers the server ended while idle");
}

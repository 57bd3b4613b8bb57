//! Red team of the smaller rows (commit afac394): log subtrees below `LOG_STORED_FROM` rehashed
//! from the entries, published-ness from the head, holder rows written only when their state
//! changes (an all-zero state as an empty blob), the holder tree stored by groups of four
//! (`tree_groups`, `tree_nodes` adopted on open), on PostgreSQL binary COPY for plain insert
//! batches and a hash exclusion constraint for commitments, and the schema step that brings an
//! old registry there.
//!
//! Findings (failing on afac394, all three fixed since):
//! - `a_publish_over_an_altered_log_entry_is_refused`: the publish signs a head whose log is not
//!   an extension of the previous head's (a forked log) when an entry of the unstored tail was
//!   altered.
//! - `a_tree_group_far_outside_the_tree_is_an_error_not_a_panic`: `load_all` multiplies a stored
//!   parent index before the range check (overflow panic in debug, wrapped index in release).
//! - `adopting_a_node_row_far_outside_the_tree_does_not_hang`: `adopt_node_rows` loops forever
//!   (inside its write transaction) over a `tree_nodes` index near `i64::MAX`.

mod common;

use common::*;
use healthcode_circuits::{field, Fr};
use healthcode_registry::audit::replay;
use healthcode_registry::store::{log_pages, TxKind, Val};
use healthcode_registry::{HolderFile, PublishHooks, PublishStep, Refusal, Registry, RegistryError};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Barrier};
use std::time::Duration;

/// Rewrites the log's first page (entries 0..256, the whole log of these tests) through `edit`.
fn edit_entries(path: &Path, edit: impl FnOnce(&mut Vec<Vec<u8>>)) {
    let db = raw(path);
    let page: Vec<u8> = db.value("SELECT entries FROM log_pages WHERE page = 0", &[]).unwrap().unwrap();
    let mut entries = log_pages::decode(&page).unwrap();
    edit(&mut entries);
    db.exec("UPDATE log_pages SET entries = ?1 WHERE page = 0", &[Val::Bytes(log_pages::encode(&entries))])
        .unwrap();
}

fn count(path: &Path, sql: &str) -> i64 {
    raw(path).value(sql, &[]).unwrap().unwrap()
}

/// Takes the registry out of a fixture (to be downgraded): its directory, path and handle.
fn take(f: Fixture) -> (tempfile::TempDir, PathBuf, Registry) {
    let Fixture { dir, path, reg, .. } = f;
    (dir, path, reg)
}

// ---- migration and adoption ------------------------------------------------------------------

/// An old registry with enrolments and an event still queued at migration time: the queued
/// holders are not served, the first publish after adoption (tree cache off and full) applies
/// them, every witness opens, the replay agrees, and the queued holders' rows end in the new form.
#[test]
fn publish_after_adoption_with_queued_enrolments_and_events() {
    for levels in [0usize, 16] {
        let mut f = fixture(9);
        let e = f.event(&f.lab, 2, "positive_test", T0 - 3600, None);
        f.reg.submit(&e, T0 - 60).unwrap();
        f.reg.publish(T0).unwrap();
        let queued: Vec<u32> = (0..3)
            .map(|i| {
                f.reg.enroll(HolderFile::from_secret(Fr::from(5000 + i), Fr::from(3)).commitment, T0).unwrap()
            })
            .collect();
        let e = f.event(&f.lab, 4, "negative_test", T0 - 1800, None);
        f.reg.submit(&e, T0).unwrap();
        let (_dir, path, reg) = take(f);
        downgrade(reg, &path);

        let mut reg = Registry::open(&path).unwrap();
        reg.set_tree_cache_levels(levels);
        assert_eq!(count(&path, "SELECT COUNT(*) FROM tree_nodes"), 0);
        for &q in &queued {
            assert!(matches!(reg.witness(q), Err(RegistryError::NotPublished(i)) if i == q), "{q}");
        }
        audit_ok(&reg);
        reg.publish(T0 + 10).unwrap();
        assert_eq!(reg.head().unwrap().holders, 12);
        audit_ok(&reg);
        for &q in &queued {
            assert_eq!(
                count(&path, &format!("SELECT length(state) FROM holders WHERE leaf_index = {q}")),
                0,
                "a queued holder without events ends with the empty state"
            );
        }
        // And once more, over the groups the first publish wrote.
        let e = f_event(&reg, 7);
        reg.submit(&e, T0 + 20).unwrap();
        reg.publish(T0 + 30).unwrap();
        audit_ok(&reg);
        drop(reg);
        audit_ok(&Registry::open(&path).unwrap());
    }
}

/// A negative test for holder `h` by the fixture's lab (key 1).
fn f_event(reg: &Registry, h: u32) -> healthcode_registry::SignedEvent {
    healthcode_registry::Event::signed_by(&key(1), reg.public_key(), h, "negative_test", T0, None)
}

/// An adoption that fails midway (a damaged node row on a high level, met after the lower levels
/// were grouped) leaves the old rows as they were and no groups; repaired, the next open adopts.
#[test]
fn adoption_failing_midway_leaves_the_old_rows() {
    let f = fixture(7);
    let (_dir, path, reg) = take(f);
    let head = reg.head().unwrap();
    downgrade(reg, &path);
    let nodes = count(&path, "SELECT COUNT(*) FROM tree_nodes");
    let good: Vec<u8> =
        raw(&path).value("SELECT hash FROM tree_nodes WHERE level = 12 AND idx = 0", &[]).unwrap().unwrap();
    raw(&path)
        .exec("UPDATE tree_nodes SET hash = ?1 WHERE level = 12 AND idx = 0", &[Val::Bytes(vec![1, 2])])
        .unwrap();
    match Registry::open(&path) {
        Err(RegistryError::Corrupt(_)) => {}
        Err(e) => panic!("a damaged node row should be named as damage: {e}"),
        Ok(_) => panic!("a damaged node row was adopted"),
    }
    assert_eq!(count(&path, "SELECT COUNT(*) FROM tree_nodes"), nodes);
    assert_eq!(count(&path, "SELECT COUNT(*) FROM tree_groups"), 0, "no half adoption");
    raw(&path)
        .exec("UPDATE tree_nodes SET hash = ?1 WHERE level = 12 AND idx = 0", &[Val::Bytes(good)])
        .unwrap();
    let reg = Registry::open(&path).unwrap();
    assert_eq!(reg.head().unwrap(), head);
    audit_ok(&reg);
}

/// Two processes (here threads with their own connections) open one old registry at once: both
/// open, the tree is adopted once, and a publish from each afterwards replays.
#[test]
fn two_opens_of_an_old_registry_at_once_adopt_once() {
    let f = fixture(11);
    let (_dir, path, reg) = take(f);
    let tree = reg.stored_tree().unwrap();
    downgrade(reg, &path);
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (b, p) = (barrier.clone(), path.clone());
            std::thread::spawn(move || {
                b.wait();
                Registry::open(&p).map(|_| ()).map_err(|e| e.to_string())
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    assert_eq!(count(&path, "SELECT COUNT(*) FROM tree_nodes"), 0);
    let mut a = Registry::open(&path).unwrap();
    assert_eq!(
        a.stored_tree().unwrap().nodes().collect::<std::collections::BTreeSet<_>>(),
        tree.nodes().collect()
    );
    a.submit(&f_event(&a, 3), T0).unwrap();
    a.publish(T0 + 1).unwrap();
    let mut b = Registry::open(&path).unwrap();
    b.submit(&f_event(&b, 9), T0 + 1).unwrap();
    b.publish(T0 + 2).unwrap();
    audit_ok(&a);
    audit_ok(&b);
}

/// A `tree_nodes` row far outside the tree (an index near `i64::MAX`, on a level with no other
/// node: a registry whose holders were all still queued) must make `Registry::open` fail (or
/// ignore the row), not hang.
///
/// Found by the red team on afac394, fixed since: `adopt_node_rows` computes the page end `lo + PAGE` as a u64 that no longer fits an
/// i64: bound as a negative number, the page reads no row and the next `from` wraps negative, so
/// `MIN(idx) >= from` finds the same row again, forever, inside the adoption's write transaction
/// (which also holds the writer lock against every other process). On a level with other nodes
/// the wrap instead re-reads page 0 and fails on a duplicate `tree_groups` key, an error that
/// does not name the damaged row. Fix: bound pages with checked arithmetic (or `idx - lo <
/// PAGE`) and refuse, as damage, any node index outside its level.
#[test]
fn adopting_a_node_row_far_outside_the_tree_does_not_hang() {
    // Beside real nodes of its level, the wrapped page bound re-reads page 0: an error (which
    // names a duplicate group key, not the damaged row).
    let f = fixture(3);
    let (_d, p, reg) = take(f);
    downgrade(reg, &p);
    raw(&p)
        .exec(
            "INSERT INTO tree_nodes (level, idx, hash) VALUES (3, ?1, ?2)",
            &[Val::Int(i64::MAX), Val::Bytes(field::to_bytes(&Fr::from(5u64)).to_vec())],
        )
        .unwrap();
    eprintln!("open beside real nodes: {:?}", Registry::open(&p).map(|_| ()).map_err(|e| e.to_string()));

    // Holders enrolled, none published yet: the old tree is empty.
    let dir = tempfile::tempdir().unwrap();
    let path = new_db(dir.path());
    let mut reg = Registry::init(&path, POLICY, T0 - 10 * DAY).unwrap();
    for i in 0..3u64 {
        reg.enroll(HolderFile::from_secret(Fr::from(7000 + i), Fr::from(1)).commitment, T0).unwrap();
    }
    downgrade(reg, &path);
    raw(&path)
        .exec(
            "INSERT INTO tree_nodes (level, idx, hash) VALUES (3, ?1, ?2)",
            &[Val::Int(i64::MAX), Val::Bytes(field::to_bytes(&Fr::from(5u64)).to_vec())],
        )
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let p = path.clone();
    std::thread::spawn(move || {
        let r = Registry::open(&p).map(|_| ()).map_err(|e| e.to_string());
        let _ = tx.send(r);
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(r) => eprintln!("open over a node row at i64::MAX: {r:?}"),
        Err(_) => panic!(
            "Registry::open over a tree_nodes row at index i64::MAX did not return in 20 s: \
             adopt_node_rows loops (its page bound wraps negative)"
        ),
    }
}

// ---- damaged groups --------------------------------------------------------------------------

/// A `tree_groups` row whose parent index is far outside the tree (but a valid i64) must be
/// reported as damage by the full load (the auditor's `stored_tree`), like any other group
/// outside the tree; witnesses and publishes never read it.
///
/// Found by the red team on afac394, fixed since: `load_all` computes `parent * ARITY + k` before `SparseTree::from_nodes` checks the
/// range: a parent of 2^62 or more overflows (a panic in a debug build; in release the index
/// wraps and the group's hashes land on real nodes of its level, e.g. parent 2^62 on children
/// 0..3). Fix: check `parent < 4^(LEVELS - 1 - level)` (or use `checked_mul`) before expanding.
#[test]
fn a_tree_group_far_outside_the_tree_is_an_error_not_a_panic() {
    let mut f = fixture(5);
    let group = field::to_bytes(&Fr::from(1u64)).repeat(4);
    raw(&f.path)
        .exec(
            "INSERT INTO tree_groups (level, idx, hashes) VALUES (0, ?1, ?2)",
            &[Val::Int(1 << 62), Val::Bytes(group)],
        )
        .unwrap();
    for i in 0..5 {
        f.reg.witness(i).unwrap();
    }
    let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f.reg.stored_tree().map(|_| ())));
    match loaded {
        Ok(Err(RegistryError::Corrupt(_))) => {}
        Ok(Err(e)) => panic!("not reported as damage: {e}"),
        Ok(Ok(())) => panic!("a group at parent 2^62 was loaded as part of the tree"),
        Err(_) => panic!("stored_tree panicked on a tree_groups row at parent 2^62 (overflow in load_all)"),
    }
    f.reg.submit(&f.event(&f.lab, 1, "negative_test", T0, None), T0).unwrap();
    f.reg.publish(T0 + 1).unwrap();
}

// ---- the log's lower levels ------------------------------------------------------------------

/// A log entry in the tail that no stored subtree covers (here entry 21 of 23) altered in the
/// database: the next publish must refuse, not sign a head over a log that forks from the
/// previous head's.
///
/// Found by the red team on afac394, fixed since: the publish's `Frontier::load` now rehashes the peaks below `LOG_STORED_FROM` from
/// the `log` rows and nothing compares the loaded frontier with the previous head's `log_root`
/// (the holder tree has exactly that check): the registry signs head N+1 whose log is not an
/// extension of head N's, a forked log under its own key (every consistency proof N→N+1 fails;
/// the auditor's replay rejects it; nothing can take it back). Before afac394 the frontier came
/// from `log_nodes`, so an edited entry did not reach the next head. Fix: in the publish, refuse
/// (Corrupt, nothing written) when `Frontier::load(..).root() != prev.log_root`.
#[test]
fn a_publish_over_an_altered_log_entry_is_refused() {
    let mut f = fixture(21);
    let prev = f.reg.head().unwrap();
    assert_eq!(prev.log_size, 23, "peaks 16 (stored) + 4 + 2 + 1 (rehashed)");
    edit_entries(&f.path, |e| e[21] = b"forged".to_vec());
    f.reg.enroll(HolderFile::from_secret(Fr::from(9999u64), Fr::from(1u64)).commitment, T0).unwrap();
    match f.reg.publish(T0) {
        Err(_) => assert_eq!(f.reg.head().unwrap(), prev, "nothing signed"),
        Ok(next) => {
            let c = f.reg.consistency(prev.epoch, next.epoch).unwrap();
            let verdict = c.verify(&f.reg.public_key(), &f.reg.policy_digest());
            panic!(
                "signed epoch {} over an altered log entry; its consistency proof from epoch {}: \
                 {verdict:?} (the registry signed a forked log)",
                next.epoch, prev.epoch
            );
        }
    }
}

/// Entries altered inside a block that a stored subtree covers do not reach the next head (the
/// publish's frontier reads the stored node), and a missing tail entry is an error.
#[test]
fn entries_under_a_stored_subtree_do_not_reach_the_next_head() {
    let mut f = fixture(21);
    let prev = f.reg.head().unwrap();
    let good = f.reg.log_entries(3, 4).unwrap().remove(0);
    edit_entries(&f.path, |e| e[3] = b"forged".to_vec());
    f.reg.enroll(HolderFile::from_secret(Fr::from(9998u64), Fr::from(1u64)).commitment, T0).unwrap();
    let next = f.reg.publish(T0).unwrap();
    let c = f.reg.consistency(prev.epoch, next.epoch).unwrap();
    c.verify(&f.reg.public_key(), &f.reg.policy_digest()).unwrap();
    edit_entries(&f.path, |e| e[3] = good);
    audit_ok(&f.reg);
    // A tail entry gone: the next publish fails, writing nothing.
    edit_entries(&f.path, |e| e.truncate(23));
    f.reg.enroll(HolderFile::from_secret(Fr::from(9997u64), Fr::from(1u64)).commitment, T0).unwrap();
    let before = f.snapshot();
    assert!(f.reg.publish(T0 + 1).is_err());
    assert_eq!(f.snapshot(), before);
}

// ---- holder rows -----------------------------------------------------------------------------

/// A holder whose only event is retracted goes back to the all-zero state: her row is rewritten
/// (as the empty blob), her witness shows no events and opens the head, the replay agrees.
#[test]
fn a_retraction_back_to_no_events_rewrites_the_row() {
    let mut f = fixture(4);
    let e = f.event(&f.lab, 1, "positive_test", T0 - 3600, None);
    let id = f.reg.submit(&e, T0 - 60).unwrap();
    f.reg.publish(T0).unwrap();
    assert!(count(&f.path, "SELECT length(state) FROM holders WHERE leaf_index = 1") > 0);
    let r = f.retraction(&f.lab, id);
    f.reg.retract(&r, T0 + 5).unwrap();
    f.reg.publish(T0 + 10).unwrap();
    assert_eq!(count(&f.path, "SELECT length(state) FROM holders WHERE leaf_index = 1"), 0);
    let w = f.reg.witness(1).unwrap();
    assert!(w.state.values().all(|&t| t == 0), "{:?}", w.state);
    audit_ok(&f.reg);
    // An event and its retraction in one batch: the row stays as it was.
    let e = f.event(&f.lab, 2, "positive_test", T0 - 3000, None);
    let id = f.reg.submit(&e, T0 + 20).unwrap();
    let r = f.retraction(&f.lab, id);
    f.reg.retract(&r, T0 + 21).unwrap();
    f.reg.publish(T0 + 30).unwrap();
    assert_eq!(count(&f.path, "SELECT length(state) FROM holders WHERE leaf_index = 2"), 0);
    audit_ok(&f.reg);
}

/// A holder enrolled whose publish failed (at every step) is not served a witness, and is once
/// a later publish succeeds; the others' witnesses stay served meanwhile.
#[test]
fn an_enrolment_whose_publish_failed_is_not_served() {
    let mut f = fixture(3);
    let late =
        f.reg.enroll(HolderFile::from_secret(Fr::from(4242u64), Fr::from(1u64)).commitment, T0).unwrap();
    for step in PublishStep::ALL {
        let mut fail = |s: PublishStep| if s == step { Err(()) } else { Ok(()) };
        let r = f.reg.publish_with(T0, PublishHooks { progress: None, fault: Some(&mut fail) });
        assert!(r.is_err(), "{step:?}");
        assert!(matches!(f.reg.witness(late), Err(RegistryError::NotPublished(_))), "{step:?}");
        f.reg.witness(0).unwrap().check(&f.reg.public_key(), f.reg.policy()).unwrap();
    }
    f.reg.publish(T0).unwrap();
    audit_ok(&f.reg);
}

// ---- bulk loads (binary COPY on PostgreSQL) --------------------------------------------------

/// Enrolment batches of a thousand and more (COPY into holders and queue, then into log at the
/// publish): witnesses and log proofs verify, and a batch with one commitment already enrolled
/// is refused whole.
#[test]
fn a_thousand_enrolments_at_once_stay_whole() {
    let mut f = fixture(2);
    let cms: Vec<Fr> =
        (0..1100u64).map(|i| HolderFile::from_secret(Fr::from(20_000 + i), Fr::from(5)).commitment).collect();
    let leaves = f.reg.enroll_batch(&cms, T0).unwrap();
    assert_eq!(leaves, (2..1102).collect::<Vec<u32>>());
    let head = f.reg.publish(T0).unwrap();
    assert_eq!(head.holders, 1102);
    for i in [0u32, 2, 555, 1101] {
        f.reg.witness(i).unwrap().check(&f.reg.public_key(), f.reg.policy()).unwrap();
    }
    for i in [0u64, 17, 600, head.log_size - 1] {
        f.reg.inclusion(i, &head).unwrap().verify(&head).unwrap();
    }
    f.reg.consistency(1, head.epoch).unwrap().verify(&f.reg.public_key(), &f.reg.policy_digest()).unwrap();
    let entries = f.reg.log_entries(0, head.log_size).unwrap();
    let heads = f.reg.heads().unwrap();
    let r = replay(&entries, &heads, &f.reg.public_key(), f.reg.policy()).unwrap();
    assert_eq!(r.tree.root(), head.root);

    let before = f.snapshot();
    let mut again: Vec<Fr> =
        (0..1000u64).map(|i| HolderFile::from_secret(Fr::from(40_000 + i), Fr::from(5)).commitment).collect();
    again[999] = cms[500];
    assert!(matches!(
        f.reg.enroll_batch(&again, T0),
        Err(RegistryError::Refused(Refusal::DuplicateCommitment(502)))
    ));
    assert_eq!(f.snapshot(), before);
}

/// Plain insert batches of a thousand rows straight through the storage layer (COPY on
/// PostgreSQL) still meet the commitments' uniqueness: against a stored holder and within the
/// batch.
#[test]
fn bulk_inserted_holders_keep_commitments_unique() {
    let f = fixture(1);
    let db = raw(&f.path);
    let cm0: Vec<u8> = db.value("SELECT commitment FROM holders WHERE leaf_index = 0", &[]).unwrap().unwrap();
    let rows = |dup_at: usize, dup: &[u8]| -> Vec<Vec<Val>> {
        (0..1000usize)
            .map(|i| {
                let mut cm = [0u8; 32];
                cm[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
                let cm = if i == dup_at { dup.to_vec() } else { cm.to_vec() };
                vec![Val::Int(100 + i as i64), Val::Bytes(cm), Val::Bytes(Vec::new())]
            })
            .collect()
    };
    let sql = "INSERT INTO holders (leaf_index, commitment, state) VALUES (?1, ?2, ?3)";
    let n = || count(&f.path, "SELECT COUNT(*) FROM holders");
    // (In a transaction, as the registry's batches are: SQLite's rows are not one statement.)
    let insert = |rows: &[Vec<Val>]| -> bool {
        let tx = db.begin(TxKind::Write).unwrap();
        tx.exec_many(sql, rows).is_ok() && tx.commit().is_ok()
    };
    let before = n();
    assert!(!insert(&rows(999, &cm0)), "holder 0's commitment again");
    assert_eq!(n(), before);
    let mut within = rows(usize::MAX, &[]);
    within[700][1] = within[3][1].clone();
    assert!(!insert(&within), "a commitment twice in one batch");
    assert_eq!(n(), before);
    assert!(insert(&rows(usize::MAX, &[])));
    assert_eq!(n(), before + 1000);
}

/// A thousand event rows with NULL columns inserted at once across two months (COPY into the
/// partitioned `events` on PostgreSQL): every row lands, its NULLs kept NULL, each in its month.
#[test]
fn bulk_inserted_events_keep_nulls_across_partitions() {
    let f = fixture(1);
    let db = raw(&f.path);
    let signer = f.lab.verifying_key().as_bytes().to_vec();
    let (june, july) = (T0, T0 + 30 * DAY);
    {
        let tx = db.begin(TxKind::Write).unwrap();
        tx.event_partition(june).unwrap();
        tx.event_partition(july).unwrap();
        let rows: Vec<Vec<Val>> = (0..1000u64)
            .map(|i| {
                let mut id = [0u8; 32];
                id[..8].copy_from_slice(&(i + 1).to_be_bytes());
                vec![
                    Val::Bytes(id.to_vec()),
                    Val::Int(0),
                    Val::Text("negative_test".into()),
                    Val::Int(T0 as i64),
                    Val::Bytes(signer.clone()),
                    Val::Null,
                    Val::Int((if i % 2 == 0 { june } else { july }) as i64),
                ]
            })
            .collect();
        tx.exec_many(
            "INSERT INTO events (id, holder, kind, time, signer, index_case, accepted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            &rows,
        )
        .unwrap();
        tx.commit().unwrap();
    }
    let n = |sql: &str| count(&f.path, sql);
    assert_eq!(n("SELECT COUNT(*) FROM events WHERE index_case IS NULL AND log_idx IS NULL"), 1000);
    assert_eq!(n(&format!("SELECT COUNT(*) FROM events WHERE accepted_at = {july}")), 500);
    assert_eq!(n("SELECT COUNT(*) FROM events WHERE retracted = 0"), 1000, "the defaults applied");
}

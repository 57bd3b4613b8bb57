//! End to end: events → publish → witness the prover accepts, history with inclusion proofs,
//! consistency between heads, retraction, and an auditor's replay matching every head.

mod common;

use common::*;
use healthcode_circuits::policy::{evaluate, Colour};
use healthcode_registry::audit::replay;
use healthcode_registry::head::verify_chain;
use healthcode_registry::history::IndexCaseStatus;
use healthcode_registry::registry::DEFAULT_CACHE_LEVELS;
use healthcode_registry::witness::WitnessError;
use healthcode_registry::{HolderFile, Registry, WitnessFile};

fn audit(reg: &Registry) -> healthcode_registry::audit::Replay {
    let head = reg.head().unwrap();
    let entries = reg.log_entries(0, head.log_size).unwrap();
    replay(&entries, &reg.heads().unwrap(), &reg.public_key(), reg.policy()).unwrap()
}

#[test]
fn witness_history_consistency_and_replay() {
    let mut f = fixture(3);
    let pos = f.reg.submit(&f.event(&f.lab, 0, "positive_test", T0 - 2 * DAY, None), T0).unwrap();
    f.reg.submit(&f.event(&f.tracer, 1, "close_contact", T0 - DAY, Some(pos)), T0).unwrap();
    f.reg.submit(&f.event(&f.lab, 1, "negative_test", T0 - 3 * DAY, None), T0).unwrap();
    let h2 = f.reg.publish(T0).unwrap();
    assert_eq!(h2.epoch, 2);
    assert_eq!(h2.holders, 3);

    // The witness is accepted by the prover-side checks and gives the right colour.
    let vk = f.reg.public_key();
    let w = f.reg.witness(1).unwrap();
    let w = WitnessFile::from_json(&w.to_json()).unwrap();
    let sw = w.statement_witness(&f.holders[1], &vk, f.reg.policy(), false).unwrap();
    assert_eq!(sw.state, vec![0, T0 - 3 * DAY, T0 - DAY, 0]);
    assert_eq!(sw.path.root(sw.leaf(), 1), h2.root);
    assert_eq!(evaluate(f.reg.policy(), &sw.state, T0).unwrap().colour, Colour::Red);
    // …but not for someone else's holder file, a tampered state or another registry's key.
    assert_eq!(
        w.statement_witness(&f.holders[0], &vk, f.reg.policy(), false).unwrap_err(),
        WitnessError::WrongHolder
    );
    let mut t = w.clone();
    t.state.insert("close_contact".into(), 0);
    assert_eq!(t.check(&vk, f.reg.policy()).unwrap_err(), WitnessError::RootMismatch);
    assert!(w.check(&key(9).verifying_key(), f.reg.policy()).is_err());
    assert!(format!("{w:?}").contains("redacted"));

    // History: signer names and inclusion proofs against the head.
    let hist = f.reg.history(1).unwrap();
    assert_eq!(hist.events.len(), 2);
    assert_eq!(hist.events[0].signer, "tracer");
    assert_eq!(hist.events[0].index_case, Some(pos));
    assert_eq!(hist.events[0].index_case_status, Some(IndexCaseStatus::Live));
    assert_eq!(hist.events[1].index_case_status, None, "a test result has no index case");
    for e in &hist.events {
        e.inclusion.as_ref().unwrap().verify(&hist.head).unwrap();
    }
    // Her state as of the head (read inside the history's own snapshot: the witness's read joins
    // it; a nested BEGIN used to fail there, and the history silently carried no state).
    assert_eq!(hist.state, Some(f.reg.witness(1).unwrap().state), "the history's state");

    // Retraction of the positive test: holder 0 goes back to green at the next epoch.
    assert_eq!(f.reg.witness(0).unwrap().state["positive_test"], T0 - 2 * DAY);
    f.reg.retract(&f.retraction(&f.lab, pos), T0 + 1).unwrap();
    let h3 = f.reg.publish(T0 + 1).unwrap();
    let w0 = f.reg.witness(0).unwrap();
    assert_eq!(w0.state["positive_test"], 0);
    let s0 = w0.check(&vk, f.reg.policy()).unwrap();
    assert_eq!(evaluate(f.reg.policy(), &s0, T0 + 1).unwrap().colour, Colour::Green);
    assert!(f.reg.history(0).unwrap().events[0].retracted);
    // The contact's holder sees that her index case no longer stands.
    assert_eq!(f.reg.history(1).unwrap().events[0].index_case_status, Some(IndexCaseStatus::Retracted));

    // Consistency between every pair of heads, and the chain.
    let heads = f.reg.heads().unwrap();
    verify_chain(&heads, &vk, &f.reg.policy_digest()).unwrap();
    for a in 0..heads.len() as u64 {
        for b in a..heads.len() as u64 {
            f.reg.consistency(a, b).unwrap().verify(&vk, &f.reg.policy_digest()).unwrap();
        }
    }
    assert!(h3.issued_at > h2.issued_at);

    // The auditor's replay reproduces every head, and the stored tree.
    let r = audit(&f.reg);
    assert_eq!(r.tree.root(), h3.root);
    assert_eq!(f.reg.stored_tree().unwrap().recompute_root(), h3.root);

    // Reopening reloads the same tree.
    let path = f.path.clone();
    drop(f.reg);
    let reg = Registry::open(&path).unwrap();
    assert_eq!(reg.stored_tree().unwrap().root(), h3.root);
    assert_eq!(reg.witness(0).unwrap(), w0);
}

#[test]
fn heads_strictly_increase_and_refuse_a_clock_going_back() {
    let mut f = fixture(1);
    let a = f.reg.publish(T0).unwrap();
    let b = f.reg.publish(T0).unwrap();
    assert!(b.issued_at > a.issued_at);
    assert!(f.reg.publish(T0 - 100).is_err());
    // An empty publish still makes a fresh head over the same root.
    assert_eq!(a.root, b.root);
}

#[test]
fn witness_needs_a_published_holder() {
    let mut f = fixture(1);
    let h = HolderFile::from_secret(healthcode_circuits::Fr::from(5u64), healthcode_circuits::Fr::from(6u64));
    let i = f.reg.enroll(h.commitment, T0).unwrap();
    assert!(f.reg.witness(i).is_err());
    f.reg.publish(T0).unwrap();
    f.reg.witness(i).unwrap().statement_witness(&h, &f.reg.public_key(), f.reg.policy(), true).unwrap();
}

#[test]
fn replay_catches_a_forged_entry() {
    let mut f = fixture(2);
    f.reg.submit(&f.event(&f.lab, 0, "positive_test", T0, None), T0).unwrap();
    f.reg.publish(T0).unwrap();
    let head = f.reg.head().unwrap();
    let mut entries = f.reg.log_entries(0, head.log_size).unwrap();
    let last = entries.len() - 1;
    // Flip a byte of the event's time: its signature no longer verifies.
    let n = entries[last].len();
    entries[last][n - 70] ^= 1;
    assert!(replay(&entries, &f.reg.heads().unwrap(), &f.reg.public_key(), f.reg.policy()).is_err());
}

#[test]
fn two_handles_stay_consistent() {
    let mut f = fixture(2);
    let mut other = Registry::open(&f.path).unwrap();
    // The other handle serves a witness, caching the tree as of this head (every level, so that
    // the leaves of this small tree are cached too)…
    other.set_tree_cache_levels(16);
    other.witness(0).unwrap().check(&other.public_key(), other.policy()).unwrap();
    f.reg.submit(&f.event(&f.lab, 0, "positive_test", T0, None), T0).unwrap();
    let head = f.reg.publish(T0).unwrap();
    // …and after this handle published, it serves the new head with a path that opens it (a
    // cache kept across the publish would give a path to the old root).
    let w = other.witness(0).unwrap();
    assert_eq!(w.head, head);
    w.check(&other.public_key(), other.policy()).unwrap();
    other.witness(1).unwrap().check(&other.public_key(), other.policy()).unwrap();
    // Publishing from a handle that cached an older top reads the tree again, so the root stays
    // right.
    let mut third = Registry::open(&f.path).unwrap();
    third.set_tree_cache_levels(16);
    third.witness(1).unwrap();
    // (A leaf the third handle cached changes under it.)
    f.reg.submit(&f.event(&f.lab, 0, "negative_test", T0, None), T0).unwrap();
    f.reg.publish(T0 + 1).unwrap();
    third.submit(&f.event(&f.lab, 1, "negative_test", T0, None), T0).unwrap();
    let head = third.publish(T0 + 2).unwrap();
    assert_eq!(third.stored_tree().unwrap().recompute_root(), head.root);
    let entries = third.log_entries(0, head.log_size).unwrap();
    let r = replay(&entries, &third.heads().unwrap(), &third.public_key(), third.policy()).unwrap();
    assert_eq!(r.tree.root(), head.root);
    f.reg.witness(0).unwrap().check(&f.reg.public_key(), f.reg.policy()).unwrap();
}

/// The tree on disk (read level by level, through the cache of each size) against the same tree
/// in memory: the same root after every publish, and the same path for every holder.
#[test]
fn disk_tree_paths_equal_the_in_memory_tree() {
    for levels in [0, 3, DEFAULT_CACHE_LEVELS, 16] {
        let mut f = fixture(40);
        f.reg.set_tree_cache_levels(levels);
        let mut cases = Vec::new();
        for round in 0..4u64 {
            for h in (round as u32..40).step_by(3 + round as usize) {
                let t = T0 - DAY + round * 60 + h as u64;
                let id = f.reg.submit(&f.event(&f.lab, h, "positive_test", t, None), T0).unwrap();
                cases.push(id);
            }
            if round == 2 {
                // A retraction recomputes the holder's state from all her events.
                f.reg.retract(&f.retraction(&f.lab, cases[0]), T0).unwrap();
            }
            let head = f.reg.publish(T0 + round).unwrap();
            let memory = f.reg.stored_tree().unwrap();
            assert_eq!(memory.recompute_root(), head.root, "cache levels {levels}, round {round}");
            assert_eq!(memory.root(), head.root);
            for i in 0..40 {
                let w = f.reg.witness(i).unwrap();
                assert_eq!(w.path, memory.path(i), "holder {i}, cache levels {levels}");
                w.check(&f.reg.public_key(), f.reg.policy()).unwrap();
            }
        }
    }
}

#[test]
fn refuses_foreign_and_future_databases() {
    if sqlite_only("refuses_foreign_and_future_databases") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let foreign = dir.path().join("other.db");
    let c = rusqlite::Connection::open(&foreign).unwrap();
    c.execute_batch("CREATE TABLE t (x INTEGER);").unwrap();
    drop(c);
    let e = Registry::open(&foreign).unwrap_err().to_string();
    assert!(e.contains("not a healthcode registry"), "{e}");
    // The foreign file was left alone.
    let c = rusqlite::Connection::open(&foreign).unwrap();
    let n: i64 = c.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 1);
    drop(c);

    let f = fixture(1);
    let path = f.path.clone();
    drop(f.reg);
    rusqlite::Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
    let e = Registry::open(&path).unwrap_err().to_string();
    assert!(e.contains("newer than this build"), "{e}");
}

/// Opening an up-to-date registry takes no write lock: another process's publish (a write
/// transaction held here) must not keep a witness server from starting. It used to wait for the
/// lock (30 s busy timeout) and then fail with "database is locked".
#[test]
fn opening_waits_for_no_publish() {
    if sqlite_only("opening_waits_for_no_publish") {
        return;
    }
    let f = fixture(1);
    let writer = rusqlite::Connection::open(&f.path).unwrap();
    writer.execute_batch("BEGIN IMMEDIATE").unwrap();
    let reader = Registry::open(&f.path).unwrap();
    reader.witness(0).unwrap().check(&reader.public_key(), reader.policy()).unwrap();
    writer.execute_batch("COMMIT").unwrap();
}

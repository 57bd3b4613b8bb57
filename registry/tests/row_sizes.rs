//! The smaller rows of schema step 3 (what a registry of a nation stores per holder): log
//! subtrees below `LOG_STORED_FROM` rehashed from the entries instead of stored, holder rows
//! written once (published-ness from the head, an empty state for a holder without events), and
//! a registry of the previous schema brought to it without losing a proof.

mod common;

use common::{fixture, raw, T0};
use healthcode_registry::store::{log_pages, Val, LOG_STORED_FROM};
use healthcode_registry::{Registry, RegistryError};

fn count(f: &common::Fixture, sql: &str) -> i64 {
    raw(&f.path).value(sql, &[]).unwrap().unwrap()
}

/// Every inclusion proof of every head and every consistency proof between heads verifies, with
/// the lower levels of the log rebuilt from entries.
fn every_log_proof_verifies(reg: &Registry) {
    let heads = reg.heads().unwrap();
    for head in &heads {
        for i in 0..head.log_size {
            let p = reg.inclusion(i, head).unwrap();
            p.verify(head).unwrap_or_else(|e| panic!("entry {i} in head {}: {e}", head.epoch));
        }
    }
    for a in &heads {
        for b in heads.iter().filter(|b| b.epoch >= a.epoch) {
            let c = reg.consistency(a.epoch, b.epoch).unwrap();
            c.verify(&reg.public_key(), &reg.policy_digest())
                .unwrap_or_else(|e| panic!("{}→{}: {e}", a.epoch, b.epoch));
        }
    }
}

/// Rewrites the log's first page (entries 0..256) through `edit`.
fn edit_first_page(f: &common::Fixture, edit: impl FnOnce(&mut Vec<Vec<u8>>)) {
    let db = raw(&f.path);
    let page: Vec<u8> = db.value("SELECT entries FROM log_pages WHERE page = 0", &[]).unwrap().unwrap();
    let mut entries = log_pages::decode(&page).unwrap();
    edit(&mut entries);
    db.exec("UPDATE log_pages SET entries = ?1 WHERE page = 0", &[Val::Bytes(log_pages::encode(&entries))])
        .unwrap();
}

#[test]
fn lower_log_levels_are_rehashed_from_the_entries() {
    // 2 accreditations + 37 enrolments, then 3 and 6 events: log sizes 39, 42 and 48, none a
    // power of two, so every proof crosses rehashed and stored subtrees.
    let mut f = fixture(37);
    for (round, n) in [(0u32, 3u32), (1, 6)] {
        for k in 0..n {
            let e = f.event(&f.lab, k, "negative_test", T0 - 3600 - u64::from(round * 10 + k), None);
            f.reg.submit(&e, T0 - 60).unwrap();
        }
        f.reg.publish(T0 + u64::from(round)).unwrap();
    }
    let size = f.reg.head().unwrap().log_size;
    assert_eq!(size, 48);
    assert_eq!(count(&f, &format!("SELECT COUNT(*) FROM log_nodes WHERE level < {LOG_STORED_FROM}")), 0);
    // Perfect subtrees of 48 entries from level 4 on: 3 at level 4, 1 at level 5.
    assert_eq!(count(&f, "SELECT COUNT(*) FROM log_nodes"), 4);
    every_log_proof_verifies(&f.reg);

    // The rehashed levels must not hide damage: an altered entry breaks its neighbours' proofs
    // (their sibling is rebuilt from it), and a missing one is an error, not a short proof.
    edit_first_page(&f, |entries| entries[1] = b"forged".to_vec());
    let head = f.reg.head().unwrap();
    assert!(
        f.reg.inclusion(0, &head).unwrap().verify(&head).is_err(),
        "a sibling rebuilt from a forged entry"
    );
    assert!(f.reg.inclusion(1, &head).unwrap().verify(&head).is_err(), "the forged entry itself");
    assert!(f.reg.inclusion(20, &head).unwrap().verify(&head).is_ok(), "another block is untouched");
    edit_first_page(&f, |entries| entries.truncate(2));
    let err = f.reg.inclusion(3, &head).unwrap_err();
    assert!(err.to_string().contains("log entries 3..4 are missing"), "{err}");
}

#[test]
fn a_holder_row_is_written_once() {
    let mut f = fixture(6);
    // Holders without events keep the row their enrolment wrote: an empty state.
    assert_eq!(count(&f, "SELECT COUNT(*) FROM holders WHERE length(state) = 0"), 6);
    let e = f.event(&f.lab, 2, "positive_test", T0 - 3600, None);
    f.reg.submit(&e, T0 - 60).unwrap();
    let queued = f.reg.enroll(healthcode_registry::HolderFile::generate("late").commitment, T0).unwrap();
    f.reg.publish(T0).unwrap();
    assert_eq!(count(&f, "SELECT COUNT(*) FROM holders WHERE length(state) = 0"), 6, "5 old + the new one");
    assert_eq!(count(&f, "SELECT COUNT(*) FROM holders WHERE leaf_index = 2 AND length(state) > 0"), 1);
    for i in 0..=queued {
        let w = f.reg.witness(i).unwrap();
        w.check(&f.reg.public_key(), f.reg.policy()).unwrap();
        assert_eq!(w.state["positive_test"], if i == 2 { T0 - 3600 } else { 0 });
    }
    // Published-ness follows the head: a holder enrolled after it is not served.
    let later = f.reg.enroll(healthcode_registry::HolderFile::generate("later").commitment, T0).unwrap();
    assert!(matches!(f.reg.witness(later), Err(RegistryError::NotPublished(i)) if i == later));
    // A red state blanked to "no events" does not open the head (the leaf commits to the state).
    raw(&f.path)
        .exec("UPDATE holders SET state = ?1 WHERE leaf_index = 2", &[Val::Bytes(Vec::new())])
        .unwrap();
    let err = Registry::open(&f.path).unwrap().witness(2).unwrap_err();
    assert!(matches!(err, RegistryError::Corrupt(_)), "{err}");
}

/// A registry of schema step 2 (`common::downgrade` rebuilds one from a current registry) opens:
/// migrated, every proof and witness as before, and the auditor's view of the stored rows
/// unchanged.
#[test]
fn a_registry_of_the_previous_schema_is_migrated() {
    let mut f = fixture(21);
    let e = f.event(&f.lab, 4, "positive_test", T0 - 3600, None);
    f.reg.submit(&e, T0 - 60).unwrap();
    f.reg.publish(T0).unwrap();
    let head = f.reg.head().unwrap();
    let states = f.reg.stored_states().unwrap();
    let log_entries = f.reg.log_entries(0, head.log_size).unwrap();
    assert_eq!(log_entries.len() as u64, head.log_size);
    let tree = f.reg.stored_tree().unwrap();
    assert_eq!(tree.root(), head.root);
    let common::Fixture { dir: _dir, path, reg, .. } = f;
    common::downgrade(reg, &path);
    // (Opened through the registry first: a raw handle would migrate it without the adoption.)

    let reg = Registry::open(&path).unwrap();
    let db = raw(&path);
    let n = |sql: &str| -> i64 { db.value(sql, &[]).unwrap().unwrap() };
    assert_eq!(n(&format!("SELECT COUNT(*) FROM log_nodes WHERE level < {LOG_STORED_FROM}")), 0);
    assert!(db.rows("SELECT published FROM holders", &[]).is_err(), "the column is gone");
    assert_eq!(reg.stored_states().unwrap(), states);
    assert_eq!(n("SELECT COUNT(*) FROM tree_nodes"), 0, "the node rows went into groups");
    assert_eq!(n("SELECT COUNT(*) FROM log"), 0, "the entry rows went into pages");
    assert_eq!(n("SELECT COUNT(*) FROM log_pages"), 1);
    assert_eq!(reg.log_entries(0, u64::MAX >> 1).unwrap(), log_entries);
    let adopted = reg.stored_tree().unwrap();
    assert_eq!(adopted.root(), head.root);
    assert_eq!(adopted.nodes().collect::<std::collections::BTreeSet<_>>(), tree.nodes().collect());
    // A duplicate commitment is still refused (on PostgreSQL by the new exclusion constraint).
    let dup = db.exec(
        "INSERT INTO holders (leaf_index, commitment, state) SELECT 999, commitment, ?1 FROM holders WHERE leaf_index = 0",
        &[Val::Bytes(Vec::new())],
    );
    assert!(dup.is_err(), "a second holder with holder 0's commitment");
    every_log_proof_verifies(&reg);
    for i in 0..21 {
        reg.witness(i).unwrap().check(&reg.public_key(), reg.policy()).unwrap();
    }
}

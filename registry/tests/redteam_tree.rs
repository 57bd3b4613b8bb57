//! Red team of the on-disk holder tree (commit 6bbce64): the per-handle top cache tagged with a
//! root, the shared `update`/`path` code, publishes that fail midway, several handles and threads
//! on one file, and damaged `tree_groups` rows.
//!
//! Every served witness must open the head it is served with, every signed head must carry the
//! root an auditor recomputes from the log, and a damaged database must give an error, not a
//! panic. Findings 1 (a witness served over a lost or altered node) and 2 (a head signed over one)
//! are fixed: the witness checks that its path opens its head, the publish that the nodes it
//! builds on hash to the previous root.

mod common;

use common::*;
use healthcode_circuits::tree::{empty_root, SparseTree, ARITY, EMPTY_LEAF, LEVELS};
use healthcode_circuits::{field, hashes, state, Fr};
use healthcode_registry::audit::replay;
use healthcode_registry::{PublishHooks, PublishStep, Registry, RegistryError, Retraction, SignedHead};
use rusqlite::{params, Connection};
use std::collections::HashMap;
use std::path::Path;

const CACHE_LEVELS: [usize; 6] = [0, 1, 8, 15, 16, 99];

/// A way to damage the database.
type Damage = Box<dyn Fn(&Connection)>;

/// The witness of holder `i` opens the head it is served with, which is the latest head.
fn witness_opens(reg: &Registry, i: u32) -> SignedHead {
    let w = reg.witness(i).unwrap_or_else(|e| panic!("witness {i}: {e}"));
    w.check(&reg.public_key(), reg.policy()).unwrap_or_else(|e| panic!("witness {i} does not open: {e:?}"));
    w.head
}

/// The auditor's replay accepts every head, and the latest one carries the root of the stored
/// leaves (recomputed from the leaves alone) and of an independent recomputation.
fn audit_ok(reg: &Registry, path: &Path, commitments: &[Fr]) {
    common::audit_ok(reg);
    assert_eq!(naive_root(reg, path, commitments), reg.head().unwrap().root, "independent recomputation");
}

/// The root of the published holders' leaves computed without `tree::update` (the code under
/// test is shared by the registry, the in-memory tree and the auditor): every level hashed in
/// full from a map, with `hashes::node` and the empty subtrees.
fn naive_root(reg: &Registry, path: &Path, commitments: &[Fr]) -> Fr {
    // The published holders are the head's first `holders` leaves.
    let published = reg.head().unwrap().holders;
    let rows = common::raw(path)
        .rows("SELECT leaf_index FROM holders WHERE leaf_index < ?1", &[published.into()])
        .unwrap();
    let published: Vec<i64> = rows.iter().map(|r| r.get(0).unwrap()).collect();
    let states: HashMap<u32, Vec<u64>> = reg.stored_states().unwrap().into_iter().collect();
    let mut level: HashMap<u64, Fr> = HashMap::new();
    for i in published {
        let i = i as u32;
        level.insert(i as u64, hashes::leaf(commitments[i as usize], &state::pack(&states[&i])));
    }
    for l in 0..LEVELS {
        let mut parents: Vec<u64> = level.keys().map(|&i| i / ARITY as u64).collect();
        parents.sort_unstable();
        parents.dedup();
        let mut next = HashMap::new();
        for p in parents {
            let children: [Fr; ARITY] = std::array::from_fn(|k| {
                level.get(&(p * ARITY as u64 + k as u64)).copied().unwrap_or_else(|| empty_root(l))
            });
            next.insert(p, hashes::node(&children));
        }
        level = next;
    }
    level.get(&0).copied().unwrap_or_else(|| empty_root(LEVELS))
}

fn commitments(f: &Fixture) -> Vec<Fr> {
    f.holders.iter().map(|h| h.commitment).collect()
}

fn retraction(f: &Fixture, id: [u8; 32]) -> healthcode_registry::SignedRetraction {
    f.retraction(&f.lab, id)
}

/// The SQLite file itself, for the tests that damage it in ways only SQLite allows.
fn raw(path: &Path) -> Connection {
    Connection::open(path).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The root-tagged cache.
// ---------------------------------------------------------------------------------------------

/// A → B → A: a retraction takes the tree back to an earlier root while another handle's cache
/// is tagged with that root (every level cached). The cache is kept (same root ⇒ same tree), so
/// this pins that keeping it is right: the witnesses open and the next publish replays.
#[test]
fn root_repeats_while_another_handle_is_tagged_with_it() {
    for levels in CACHE_LEVELS {
        let mut f = fixture(6);
        let cms = commitments(&f);
        let mut other = Registry::open(&f.path).unwrap();
        other.set_tree_cache_levels(levels);
        let a = f.reg.head().unwrap();
        for i in 0..6 {
            assert_eq!(witness_opens(&other, i).root, a.root);
        }
        let id = f.reg.submit(&f.event(&f.lab, 3, "positive_test", T0 - DAY, None), T0).unwrap();
        let b = f.reg.publish(T0).unwrap();
        assert_ne!(b.root, a.root);
        f.reg.retract(&retraction(&f, id), T0 + 1).unwrap();
        let a2 = f.reg.publish(T0 + 1).unwrap();
        assert_eq!(a2.root, a.root, "the retraction takes the tree back to root A");
        for i in 0..6 {
            assert_eq!(witness_opens(&other, i), a2, "levels {levels}");
        }
        // The handle tagged A publishes on top of A again.
        other.submit(&f.event(&f.lab, 4, "positive_test", T0 - DAY + 5, None), T0 + 2).unwrap();
        let c = other.publish(T0 + 2).unwrap();
        audit_ok(&other, &f.path, &cms);
        for i in 0..6 {
            assert_eq!(witness_opens(&other, i), c);
            assert_eq!(witness_opens(&f.reg, i), c);
        }
    }
}

/// The publishing handle itself goes A → B → A (its cache applied after each commit), and a
/// second handle's stale tag B is dropped when the root is A again.
#[test]
fn own_publishes_back_to_an_earlier_root() {
    for levels in CACHE_LEVELS {
        let mut f = fixture(5);
        let cms = commitments(&f);
        f.reg.set_tree_cache_levels(levels);
        let mut other = Registry::open(&f.path).unwrap();
        other.set_tree_cache_levels(16);
        let a = f.reg.head().unwrap();
        for i in 0..5 {
            witness_opens(&f.reg, i);
        }
        let id = f.reg.submit(&f.event(&f.lab, 1, "positive_test", T0 - DAY, None), T0).unwrap();
        f.reg.publish(T0).unwrap();
        for i in 0..5 {
            witness_opens(&other, i); // tagged B
            witness_opens(&f.reg, i);
        }
        f.reg.retract(&retraction(&f, id), T0).unwrap();
        assert_eq!(f.reg.publish(T0 + 1).unwrap().root, a.root);
        for i in 0..5 {
            witness_opens(&other, i);
            witness_opens(&f.reg, i);
        }
        other.submit(&f.event(&f.lab, 2, "negative_test", T0 - DAY, None), T0).unwrap();
        other.publish(T0 + 2).unwrap();
        audit_ok(&f.reg, &f.path, &cms);
        f.reg.submit(&f.event(&f.lab, 0, "negative_test", T0 - DAY, None), T0).unwrap();
        f.reg.publish(T0 + 3).unwrap();
        audit_ok(&f.reg, &f.path, &cms);
        for i in 0..5 {
            witness_opens(&other, i);
            witness_opens(&f.reg, i);
        }
    }
}

/// Publishes alternate between two handles with different cache sizes, each serving witnesses
/// in between; every head replays and every witness opens.
#[test]
fn publishes_alternate_between_two_handles() {
    for (la, lb) in [(0, 16), (16, 1), (8, 15), (15, 8), (16, 16)] {
        let mut f = fixture(9);
        let cms = commitments(&f);
        f.reg.set_tree_cache_levels(la);
        let mut b = Registry::open(&f.path).unwrap();
        b.set_tree_cache_levels(lb);
        for round in 0..6u64 {
            let h = (round * 5 % 9) as u32;
            let ev = f.event(&f.lab, h, "negative_test", T0 - DAY + round, None);
            let head = if round % 2 == 0 {
                f.reg.submit(&ev, T0).unwrap();
                f.reg.publish(T0 + round).unwrap()
            } else {
                b.submit(&ev, T0).unwrap();
                b.publish(T0 + round).unwrap()
            };
            for i in 0..9 {
                assert_eq!(witness_opens(&f.reg, i), head, "({la}, {lb}) round {round}");
                assert_eq!(witness_opens(&b, i), head);
            }
        }
        audit_ok(&b, &f.path, &cms);
    }
}

/// Cache sizes changed between and around publishes and witnesses (0 → 16 → 1 → 15 → 8 …).
#[test]
fn cache_levels_changed_mid_life() {
    let mut f = fixture(12);
    let cms = commitments(&f);
    let mut other = Registry::open(&f.path).unwrap();
    let sizes = [0usize, 16, 1, 15, 8, 16, 0, 3, 16];
    for (round, &levels) in sizes.iter().enumerate() {
        // Warm the caches at the old size, switch, then publish and serve.
        for i in 0..12 {
            witness_opens(&f.reg, i);
            witness_opens(&other, i);
        }
        f.reg.set_tree_cache_levels(levels);
        other.set_tree_cache_levels(sizes[sizes.len() - 1 - round]);
        let h = (round * 7 % 12) as u32;
        f.reg.submit(&f.event(&f.lab, h, "negative_test", T0 - DAY + round as u64, None), T0).unwrap();
        let head = f.reg.publish(T0 + round as u64).unwrap();
        for i in 0..12 {
            assert_eq!(witness_opens(&f.reg, i), head);
            assert_eq!(witness_opens(&other, i), head);
        }
        other.set_tree_cache_levels(levels);
        for i in 0..12 {
            assert_eq!(witness_opens(&other, i), head);
        }
    }
    audit_ok(&f.reg, &f.path, &cms);
}

// ---------------------------------------------------------------------------------------------
// Publishes that fail midway.
// ---------------------------------------------------------------------------------------------

/// A publish fails at every step with a warmed cache of every size; the same handle then serves
/// witnesses (old head), another handle publishes, and the failing handle publishes again. No
/// entry is lost, and every head replays.
#[test]
fn failed_publish_then_same_handle_serves_and_publishes() {
    for levels in [0usize, 1, 8, 15, 16] {
        for step in PublishStep::ALL {
            let mut f = fixture(6);
            let cms = commitments(&f);
            f.reg.set_tree_cache_levels(levels);
            for i in 0..6 {
                witness_opens(&f.reg, i);
            }
            let pos = f.reg.submit(&f.event(&f.lab, 0, "positive_test", T0 - DAY, None), T0).unwrap();
            f.reg.submit(&f.event(&f.tracer, 5, "close_contact", T0 - DAY, Some(pos)), T0).unwrap();
            let before = f.reg.head().unwrap();
            let queued = f.reg.queue_len().unwrap();
            let mut hook = |s: PublishStep| if s == step { Err(()) } else { Ok(()) };
            let err = f.reg.publish_with(T0 + 1, PublishHooks { progress: None, fault: Some(&mut hook) });
            assert!(matches!(err, Err(RegistryError::Injected(s)) if s == step));
            assert_eq!(f.reg.head().unwrap(), before);
            assert_eq!(f.reg.queue_len().unwrap(), queued);
            for i in 0..6 {
                assert_eq!(witness_opens(&f.reg, i), before, "levels {levels} step {step:?}");
            }
            // Fail a second time in a row, after the head was signed, then succeed.
            let mut hook = |s: PublishStep| if s == PublishStep::HeadSigned { Err(()) } else { Ok(()) };
            assert!(f
                .reg
                .publish_with(T0 + 1, PublishHooks { progress: None, fault: Some(&mut hook) })
                .is_err());
            let head = f.reg.publish(T0 + 2).unwrap();
            assert_eq!(head.epoch, before.epoch + 1);
            assert_eq!(f.reg.queue_len().unwrap(), 0);
            for i in 0..6 {
                assert_eq!(witness_opens(&f.reg, i), head);
            }
            audit_ok(&f.reg, &f.path, &cms);
            // A holder enrolled in a failed publish stays unpublished (no witness).
            let h = healthcode_registry::HolderFile::from_secret(Fr::from(91u64), Fr::from(92u64));
            let new = f.reg.enroll(h.commitment, T0).unwrap();
            let mut hook = |s: PublishStep| if s == step { Err(()) } else { Ok(()) };
            assert!(f
                .reg
                .publish_with(T0 + 3, PublishHooks { progress: None, fault: Some(&mut hook) })
                .is_err());
            assert!(matches!(f.reg.witness(new), Err(RegistryError::NotPublished(i)) if i == new));
        }
    }
}

/// A publish fails after the tree was written (its cache having read and kept the groups of the
/// dirty paths); another handle publishes different changes; the failed handle then publishes.
#[test]
fn failed_publish_then_another_handle_publishes_first() {
    for levels in [1usize, 8, 16] {
        let mut f = fixture(8);
        let cms = commitments(&f);
        f.reg.set_tree_cache_levels(levels);
        let mut b = Registry::open(&f.path).unwrap();
        b.set_tree_cache_levels(levels);
        f.reg.submit(&f.event(&f.lab, 2, "positive_test", T0 - DAY, None), T0).unwrap();
        let mut hook = |s: PublishStep| if s == PublishStep::QueueCleared { Err(()) } else { Ok(()) };
        assert!(f.reg.publish_with(T0, PublishHooks { progress: None, fault: Some(&mut hook) }).is_err());
        // The other handle publishes the queue (including the first handle's event) plus its own.
        b.submit(&f.event(&f.lab, 3, "positive_test", T0 - DAY, None), T0).unwrap();
        let hb = b.publish(T0).unwrap();
        for i in 0..8 {
            assert_eq!(witness_opens(&f.reg, i), hb);
        }
        f.reg.submit(&f.event(&f.lab, 7, "negative_test", T0 - DAY, None), T0).unwrap();
        f.reg.publish(T0 + 1).unwrap();
        audit_ok(&f.reg, &f.path, &cms);
        for i in 0..8 {
            witness_opens(&b, i);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Batches: duplicates, returns to earlier values, enrolment and events together.
// ---------------------------------------------------------------------------------------------

/// One batch with several events for the same holder, an enrolment with an event for the new
/// holder, a retraction of an event of the same batch and of an earlier one (the leaf returns to
/// its value of two epochs ago).
#[test]
fn one_batch_touching_the_same_leaves_many_ways() {
    let mut f = fixture(5);
    let leaf1_enrolled = f.reg.stored_tree().unwrap().leaf(1);
    let early = f.reg.submit(&f.event(&f.lab, 1, "positive_test", T0 - 2 * DAY, None), T0).unwrap();
    f.reg.publish(T0).unwrap();
    assert_ne!(f.reg.stored_tree().unwrap().leaf(1), leaf1_enrolled);
    let h = healthcode_registry::HolderFile::from_secret(Fr::from(77u64), Fr::from(78u64));
    let new = f.reg.enroll(h.commitment, T0).unwrap();
    f.holders.push(h);
    let cms = commitments(&f);
    f.reg.submit(&f.event(&f.lab, new, "positive_test", T0 - DAY, None), T0).unwrap();
    for k in 0..4 {
        f.reg.submit(&f.event(&f.lab, 0, "negative_test", T0 - DAY + k, None), T0).unwrap();
    }
    let same = f.reg.submit(&f.event(&f.lab, 1, "negative_test", T0 - DAY, None), T0).unwrap();
    f.reg.retract(&retraction(&f, same), T0).unwrap();
    f.reg.retract(&retraction(&f, early), T0).unwrap();
    let head = f.reg.publish(T0 + 1).unwrap();
    audit_ok(&f.reg, &f.path, &cms);
    for i in 0..=new {
        assert_eq!(witness_opens(&f.reg, i), head);
    }
    // Holder 1 is back to her enrolment state; her leaf is the value it had before `early`.
    assert!(f.reg.witness(1).unwrap().state.values().all(|&t| t == 0));
    assert_eq!(f.reg.stored_tree().unwrap().leaf(1), leaf1_enrolled);
}

/// `tree::update` with the same leaf several times in one batch (the later value wins), a leaf
/// set back to empty, and the largest index, against a naive full recomputation.
#[test]
fn update_duplicates_and_edges_against_a_naive_tree() {
    let naive = |leaves: &HashMap<u32, Fr>| {
        let mut level: HashMap<u64, Fr> =
            leaves.iter().filter(|(_, v)| **v != EMPTY_LEAF).map(|(&i, &v)| (i as u64, v)).collect();
        for l in 0..LEVELS {
            let mut next = HashMap::new();
            let mut ps: Vec<u64> = level.keys().map(|i| i / 4).collect();
            ps.sort_unstable();
            ps.dedup();
            for p in ps {
                let c: [Fr; 4] =
                    std::array::from_fn(|k| level.get(&(p * 4 + k as u64)).copied().unwrap_or(empty_root(l)));
                next.insert(p, hashes::node(&c));
            }
            level = next;
        }
        level.get(&0).copied().unwrap_or(empty_root(LEVELS))
    };
    let mut t = SparseTree::new();
    let mut model: HashMap<u32, Fr> = HashMap::new();
    let batches: Vec<Vec<(u32, Fr)>> = vec![
        vec![(0, Fr::from(1u64)), (u32::MAX, Fr::from(2u64)), (0, Fr::from(3u64)), (5, Fr::from(4u64))],
        vec![(5, EMPTY_LEAF), (5, Fr::from(9u64)), (5, EMPTY_LEAF), (u32::MAX - 3, Fr::from(6u64))],
        vec![(0, EMPTY_LEAF), (u32::MAX, EMPTY_LEAF), (u32::MAX - 3, EMPTY_LEAF)],
    ];
    for b in batches {
        let changed = t.set_leaves_changed(b.clone());
        for (i, v) in b {
            model.insert(i, v);
        }
        assert_eq!(t.root(), naive(&model));
        assert_eq!(changed.last().unwrap().2, t.root());
        for (&i, &v) in &model {
            assert_eq!(t.path(i).root(v, i), t.root());
        }
    }
    assert_eq!(t.root(), empty_root(LEVELS));
    assert_eq!(t.nodes().count(), 0, "an emptied tree stores nothing");
}

// ---------------------------------------------------------------------------------------------
// Several threads, each with its own handle on the same file (WAL).
// ---------------------------------------------------------------------------------------------

/// One thread publishes in a loop (events, and retractions that take roots back), two more
/// publish too from their own handles, and three threads serve witnesses in a loop at different
/// cache sizes, checking each one. Every witness opens its head, heads seen by one reader never
/// go back, and the final chain replays.
#[test]
fn threads_publish_and_serve_on_one_file() {
    let n = 8u32;
    let f = fixture(n as usize);
    let cms = commitments(&f);
    let path = f.path.clone();
    let reg_pk = f.reg.public_key();
    let lab = f.lab.clone();
    let rounds = 20u64;
    let done = std::sync::atomic::AtomicUsize::new(0);
    // Every handle is opened first: `Registry::open` takes the write lock (schema check and
    // migration), which three publishers in a loop can keep from it for the whole test.
    let publishers: Vec<Registry> = (0..3).map(|_| Registry::open(&path).unwrap()).collect();
    let readers: Vec<(usize, Registry)> = [0usize, 8, 16]
        .into_iter()
        .map(|levels| {
            let mut reg = Registry::open(&path).unwrap();
            reg.set_tree_cache_levels(levels);
            (levels, reg)
        })
        .collect();
    std::thread::scope(|s| {
        for (w, mut reg) in (0..3u64).zip(publishers) {
            let lab = lab.clone();
            let done = &done;
            s.spawn(move || {
                for r in 0..rounds {
                    let h = ((r * 3 + w) % n as u64) as u32;
                    let t = T0 - DAY + w * 1000 + r;
                    let ev = healthcode_registry::Event::signed_by(&lab, reg_pk, h, "negative_test", t, None);
                    // One clock for all three: acceptance is refused behind the latest head.
                    let now = T0 + 100;
                    let id = reg.submit(&ev, now).unwrap();
                    if r % 3 == 2 {
                        let x = Retraction { registry: reg_pk, event: id, signer: lab.verifying_key() }
                            .sign(&lab);
                        reg.retract(&x, now).unwrap();
                    }
                    reg.publish(now).unwrap();
                }
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
        for (k, (levels, reg)) in readers.into_iter().enumerate() {
            let done = &done;
            s.spawn(move || {
                let mut last_epoch = 0;
                let mut served = 0u64;
                let mut epochs = std::collections::BTreeSet::new();
                loop {
                    let finished = done.load(std::sync::atomic::Ordering::SeqCst) == 3;
                    for i in 0..n {
                        let i = (i + k as u32) % n;
                        let w = reg.witness(i).unwrap();
                        w.check(&reg.public_key(), reg.policy()).unwrap_or_else(|e| {
                            panic!("levels {levels}: epoch {} holder {i}: {e:?}", w.head.epoch)
                        });
                        assert!(w.head.epoch >= last_epoch, "a reader's head went back");
                        last_epoch = w.head.epoch;
                        epochs.insert(w.head.epoch);
                        served += 1;
                    }
                    if finished {
                        break;
                    }
                }
                assert!(served > 0);
                eprintln!("reader (levels {levels}): {served} witnesses over {} epochs", epochs.len());
            });
        }
    });
    let reg = Registry::open(&path).unwrap();
    assert_eq!(reg.head().unwrap().epoch, 1 + 3 * rounds);
    audit_ok(&reg, &path, &cms);
    let _ = f;
}

// ---------------------------------------------------------------------------------------------
// A damaged `tree_groups`.
// ---------------------------------------------------------------------------------------------

/// Rewrites child `k` of the stored group of `parent` on `level` (its 32 bytes in the row).
fn set_child(c: &Connection, level: usize, parent: u64, k: usize, value: &[u8]) {
    let at = params![level as i64, parent as i64];
    let mut g: Vec<u8> = c
        .query_row("SELECT hashes FROM tree_groups WHERE level = ?1 AND idx = ?2", at, |r| r.get(0))
        .unwrap();
    g[k * 32..k * 32 + 32].copy_from_slice(value);
    c.execute(
        "UPDATE tree_groups SET hashes = ?1 WHERE level = ?2 AND idx = ?3",
        params![g, level as i64, parent as i64],
    )
    .unwrap();
}

/// The head and the queue are as they were before a failed publish.
fn unchanged(f: &Fixture, before: &SignedHead, queued: u64) {
    assert_eq!(f.reg.head().unwrap(), *before);
    assert_eq!(f.reg.queue_len().unwrap(), queued);
}

/// Groups of the wrong length, with a non-canonical field element, as text and as a real
/// number, on a group some witness path and the next publish read: errors, never a panic, and a
/// failed publish applies nothing.
#[test]
fn malformed_rows_are_errors_not_panics() {
    if sqlite_only("malformed_rows_are_errors_not_panics") {
        return;
    }
    let cases: Vec<(&str, Damage)> = vec![
        (
            "short group",
            Box::new(|c| {
                c.execute("UPDATE tree_groups SET hashes = x'0102' WHERE level = 0 AND idx = 0", []).unwrap();
            }),
        ),
        (
            "non-canonical hash",
            Box::new(|c| {
                set_child(c, 0, 0, 1, &[0xff; 32]);
            }),
        ),
        (
            "text group",
            Box::new(|c| {
                c.execute("UPDATE tree_groups SET hashes = 'abc' WHERE level = 0 AND idx = 0", []).unwrap();
            }),
        ),
        (
            "real group",
            Box::new(|c| {
                c.execute("UPDATE tree_groups SET hashes = 2.5 WHERE level = 0 AND idx = 0", []).unwrap();
            }),
        ),
        (
            "upper group short",
            Box::new(|c| {
                c.execute("UPDATE tree_groups SET hashes = x'00' WHERE level = 15 AND idx = 0", []).unwrap();
            }),
        ),
    ];
    for levels in [0usize, 8, 16] {
        for (name, damage) in &cases {
            let mut f = fixture(4);
            f.reg.set_tree_cache_levels(levels);
            damage(&raw(&f.path));
            let e = f.reg.witness(0).map(|_| ());
            assert!(e.is_err(), "{name}, levels {levels}: a witness over a malformed node was served");
            f.reg.submit(&f.event(&f.lab, 0, "positive_test", T0 - DAY, None), T0).unwrap();
            let before = f.reg.head().unwrap();
            let q = f.reg.queue_len().unwrap();
            assert!(f.reg.publish(T0).is_err(), "{name}: published over a malformed node");
            unchanged(&f, &before, q);
            assert!(f.reg.stored_tree().is_err());
            assert!(Registry::open(&f.path).is_ok(), "open does not read the tree");
        }
    }
}

/// Groups outside the tree (level 16, whose parent would be above the root, level 17, a negative
/// level or index, a parent past the level's end) are never read by witnesses or publishes; the auditor's full load reports them.
#[test]
fn rows_outside_the_tree_are_ignored_by_witness_and_publish() {
    if sqlite_only("rows_outside_the_tree_are_ignored_by_witness_and_publish") {
        return;
    }
    for levels in [0usize, 8, 16] {
        let mut f = fixture(4);
        let cms = commitments(&f);
        f.reg.set_tree_cache_levels(levels);
        let c = raw(&f.path);
        let one = field::to_bytes(&Fr::from(1u64));
        let group = one.repeat(ARITY);
        for (l, i) in [(17i64, 0i64), (16, 0), (-1, 0), (0, -1), (0, 1 << 30), (15, 1), (1, -4)] {
            c.execute(
                "INSERT INTO tree_groups (level, idx, hashes) VALUES (?1, ?2, ?3)",
                params![l, i, group.as_slice()],
            )
            .unwrap();
        }
        for i in 0..4 {
            witness_opens(&f.reg, i);
        }
        f.reg.submit(&f.event(&f.lab, 0, "positive_test", T0 - DAY, None), T0).unwrap();
        let head = f.reg.publish(T0).unwrap();
        let heads = f.reg.heads().unwrap();
        let entries = f.reg.log_entries(0, head.log_size).unwrap();
        assert_eq!(
            replay(&entries, &heads, &f.reg.public_key(), f.reg.policy()).unwrap().tree.root(),
            head.root
        );
        assert_eq!(naive_root(&f.reg, &f.path, &cms), head.root);
        for i in 0..4 {
            assert_eq!(witness_opens(&f.reg, i), head);
        }
        assert!(matches!(f.reg.stored_tree(), Err(RegistryError::Corrupt(_))));
    }
}

/// A group stored explicitly with four empty subtrees (which the registry never stores) reads as
/// empty: witnesses open and the next publish replays.
#[test]
fn an_explicit_empty_node_is_harmless() {
    if sqlite_only("an_explicit_empty_node_is_harmless") {
        return;
    }
    for levels in [0usize, 8, 16] {
        let mut f = fixture(5);
        let cms = commitments(&f);
        f.reg.set_tree_cache_levels(levels);
        let c = raw(&f.path);
        for (l, i) in [(0usize, 2u64), (0, 7), (1, 2), (3, 1), (14, 3)] {
            c.execute(
                "INSERT INTO tree_groups (level, idx, hashes) VALUES (?1, ?2, ?3)",
                params![l as i64, i as i64, field::to_bytes(&empty_root(l)).repeat(ARITY)],
            )
            .unwrap();
        }
        for i in 0..5 {
            witness_opens(&f.reg, i);
        }
        f.reg.submit(&f.event(&f.lab, 4, "positive_test", T0 - DAY, None), T0).unwrap();
        let h = healthcode_registry::HolderFile::from_secret(Fr::from(55u64), Fr::from(56u64));
        f.reg.enroll(h.commitment, T0).unwrap();
        f.holders.push(h);
        let cms = [cms, vec![f.holders[5].commitment]].concat();
        let head = f.reg.publish(T0).unwrap();
        audit_ok(&f.reg, &f.path, &cms);
        for i in 0..6 {
            assert_eq!(witness_opens(&f.reg, i), head);
        }
    }
}

/// Finding 1: a node missing from (or altered in) the stored tree is read as an empty subtree (or
/// taken as is); the registry served, without an error, a witness whose path does not open the
/// head it is served with (the citizen's check failed with RootMismatch). Now refused: the
/// witness checks its own path against its head.
#[test]
fn a_missing_node_is_not_served_as_a_witness() {
    if sqlite_only("a_missing_node_is_not_served_as_a_witness") {
        return;
    }
    for levels in [0usize, 8, 16] {
        let mut f = fixture(5);
        f.reg.set_tree_cache_levels(levels);
        // Holder 1's leaf, a sibling on holder 0's path, lost (stored as the empty leaf).
        set_child(&raw(&f.path), 0, 0, 1, &field::to_bytes(&empty_root(0)));
        match f.reg.witness(0) {
            Err(RegistryError::Corrupt(_)) => {}
            Ok(w) => panic!(
                "levels {levels}: served a witness that does not open its head: {:?}",
                w.check(&f.reg.public_key(), f.reg.policy()).map(|_| ())
            ),
            Err(e) => panic!("unexpected error {e}"),
        }
    }
}

/// Finding 2: a publish over a damaged stored tree (a sibling of a dirty path deleted) signed a
/// head whose root is not the root of the leaves, which the auditor's replay rejects and the
/// registry cannot take back. Now refused: the nodes it builds on must hash to the last root.
#[test]
fn a_publish_over_a_missing_node_is_refused() {
    if sqlite_only("a_publish_over_a_missing_node_is_refused") {
        return;
    }
    for levels in [0usize, 8] {
        let mut f = fixture(5);
        f.reg.set_tree_cache_levels(levels);
        // Holder 4's leaf group (level 1, index 1) is the sibling of holder 0's group: lost.
        set_child(&raw(&f.path), 1, 0, 1, &field::to_bytes(&empty_root(1)));
        f.reg.submit(&f.event(&f.lab, 0, "positive_test", T0 - DAY, None), T0).unwrap();
        let before = f.reg.head().unwrap();
        let q = f.reg.queue_len().unwrap();
        match f.reg.publish(T0) {
            Err(RegistryError::Corrupt(_)) => unchanged(&f, &before, q),
            Ok(head) => {
                let heads = f.reg.heads().unwrap();
                let entries = f.reg.log_entries(0, head.log_size).unwrap();
                let r = replay(&entries, &heads, &f.reg.public_key(), f.reg.policy());
                panic!(
                    "levels {levels}: signed head {} over a damaged tree; replay: {:?}",
                    head.epoch,
                    r.err()
                );
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    }
}

/// The same damage, with an altered (not deleted) leaf of another holder on the dirty path's
/// sibling group.
#[test]
fn a_publish_over_an_altered_sibling_is_refused() {
    if sqlite_only("a_publish_over_an_altered_sibling_is_refused") {
        return;
    }
    let mut f = fixture(5);
    set_child(&raw(&f.path), 0, 0, 1, &field::to_bytes(&Fr::from(12345u64)));
    f.reg.submit(&f.event(&f.lab, 0, "positive_test", T0 - DAY, None), T0).unwrap();
    let before = f.reg.head().unwrap();
    let q = f.reg.queue_len().unwrap();
    match f.reg.publish(T0) {
        Err(RegistryError::Corrupt(_)) => unchanged(&f, &before, q),
        Ok(head) => panic!("signed head {} over an altered leaf", head.epoch),
        Err(e) => panic!("unexpected error {e}"),
    }
}

/// Finding 1 (variant): the latest head row is lost (a restore of an older `heads`, a hand edit):
/// the tree on disk is one epoch ahead of the latest head. Before 6bbce64 the witness refused
/// (`Stale`); the tree on disk served a path of the newer tree under the older head until the
/// witness checked its path.
#[test]
fn a_tree_ahead_of_the_latest_head_is_not_served() {
    if sqlite_only("a_tree_ahead_of_the_latest_head_is_not_served") {
        return;
    }
    let mut f = fixture(4);
    f.reg.submit(&f.event(&f.lab, 0, "positive_test", T0 - DAY, None), T0).unwrap();
    let h2 = f.reg.publish(T0).unwrap();
    raw(&f.path).execute("DELETE FROM heads WHERE epoch = ?1", [h2.epoch as i64]).unwrap();
    let reg = Registry::open(&f.path).unwrap();
    match reg.witness(1) {
        Err(RegistryError::Corrupt(_)) => {}
        Ok(w) => panic!("served: {:?}", w.check(&reg.public_key(), reg.policy()).map(|_| ())),
        Err(e) => panic!("unexpected error {e}"),
    }
}

/// A publish over a tree one epoch ahead of its latest head fails (the log indices are taken)
/// and applies nothing; no panic.
#[test]
fn a_publish_over_a_tree_ahead_of_its_head_fails_cleanly() {
    if sqlite_only("a_publish_over_a_tree_ahead_of_its_head_fails_cleanly") {
        return;
    }
    let mut f = fixture(4);
    f.reg.submit(&f.event(&f.lab, 0, "positive_test", T0 - DAY, None), T0).unwrap();
    let h2 = f.reg.publish(T0).unwrap();
    raw(&f.path).execute("DELETE FROM heads WHERE epoch = ?1", [h2.epoch as i64]).unwrap();
    let mut reg = Registry::open(&f.path).unwrap();
    reg.submit(&f.event(&f.lab, 1, "positive_test", T0 - DAY, None), T0).unwrap();
    let before = reg.head().unwrap();
    let q = reg.queue_len().unwrap();
    assert!(reg.publish(T0 + 1).is_err());
    assert_eq!(reg.head().unwrap(), before);
    assert_eq!(reg.queue_len().unwrap(), q);
}

/// Finding 1 (variant): a damaged node read into a handle's cache stayed there until the root
/// changed: after the row was repaired, the long-running handle kept serving witnesses that do
/// not open. A failed self-check (witness or publish) now drops the cache.
#[test]
fn a_repaired_node_is_not_kept_damaged_in_the_cache() {
    if sqlite_only("a_repaired_node_is_not_kept_damaged_in_the_cache") {
        return;
    }
    let f = fixture(5);
    let mut reg = Registry::open(&f.path).unwrap();
    reg.set_tree_cache_levels(16);
    let c = raw(&f.path);
    let good: Vec<u8> =
        c.query_row("SELECT hashes FROM tree_groups WHERE level = 0 AND idx = 0", [], |r| r.get(0)).unwrap();
    set_child(&c, 0, 0, 1, &field::to_bytes(&empty_root(0)));
    let _ = reg.witness(0); // served or refused: the damaged group is read
    c.execute("UPDATE tree_groups SET hashes = ?1 WHERE level = 0 AND idx = 0", [good]).unwrap();
    // The database is whole again.
    let fresh = Registry::open(&f.path).unwrap();
    witness_opens(&fresh, 0);
    witness_opens(&reg, 0);
}

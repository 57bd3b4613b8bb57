//! Red team of 2341120 (acceptance reads a batch's stored rows once, keeps them current, and
//! writes the accepted rows with `exec_many`, COPY from 1,000 rows on PostgreSQL): a batch must
//! get the verdicts, rows and log order of its events submitted one at a time, refuse what the
//! rules refuse, and store nothing when storage fails in the middle.

mod common;

use common::*;
use healthcode_circuits::Fr;
use healthcode_registry::event::Role;
use healthcode_registry::{CheckedEvent, Refusal, RegistryError, SignedEvent};

type Verdict = Result<[u8; 32], Refusal>;

/// A small deterministic generator (the two fixtures must draw the same choices).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A verdict that does not name the registry: ids replaced by their place in `pool`.
fn norm(v: &Verdict, pool: &[SignedEvent]) -> String {
    let text = match v {
        Ok(id) => format!("ok {}", hex::encode(id)),
        Err(r) => format!("{r:?}"),
    };
    let mut text = text;
    for (k, e) in pool.iter().enumerate() {
        text = text.replace(&hex::encode(e.event.id()), &format!("#{k}"));
    }
    text
}

/// The stored events, ids and index cases by their place in `pool`, in id-independent order.
fn rows(f: &Fixture, pool: &[SignedEvent]) -> Vec<String> {
    let place = |h: &[u8; 32]| {
        pool.iter().position(|e| e.event.id() == *h).map_or("?".to_string(), |k| format!("#{k}"))
    };
    let mut out: Vec<String> = f
        .reg
        .stored_events()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} h{} {} t{} s{} ic{:?} at{} log{:?} r{} rl{:?}",
                place(&e.id),
                e.holder,
                e.kind,
                e.time,
                hex::encode(e.signer),
                e.index_case.as_ref().map(place),
                e.accepted_at,
                e.log_index,
                e.retracted,
                e.retraction_log_index
            )
        })
        .collect();
    out.sort();
    out
}

/// Submits `batch` at once (`together`) or one event at a time; normalised verdicts.
fn judge(
    f: &mut Fixture,
    batch: &[SignedEvent],
    pool: &[SignedEvent],
    together: bool,
    now: u64,
) -> Vec<String> {
    if together {
        let out = f.reg.submit_batch(batch, now).unwrap();
        assert_eq!(out.len(), batch.len(), "one verdict per event");
        out.iter().map(|v| norm(v, pool)).collect()
    } else {
        batch
            .iter()
            .map(|e| match f.reg.submit(e, now) {
                Ok(id) => norm(&Ok(id), pool),
                Err(RegistryError::Refused(r)) => norm(&Err(r), pool),
                Err(other) => panic!("{other}"),
            })
            .collect()
    }
}

/// What a scenario leaves behind, to compare across the two fixtures.
#[derive(Debug, PartialEq)]
struct Outcome {
    verdicts: Vec<String>,
    queued: Vec<String>,
    snapshot_queued: Vec<(String, i64, i64)>,
    published: Vec<String>,
    snapshot_published: Vec<(String, i64, i64)>,
    /// Places in `pool` of the logged events, in log order.
    log_order: Vec<String>,
}

/// Runs one scenario on two fresh fixtures (`setup` then `batch`), one taking the batch at once,
/// the other one event at a time; asserts they end alike and returns the batch's outcome.
fn twin(
    holders: usize,
    pool: impl Fn(&Fixture) -> Vec<SignedEvent>,
    setup: impl Fn(&mut Fixture, &[SignedEvent]),
    batch: impl Fn(&[SignedEvent]) -> Vec<SignedEvent>,
    now: u64,
) -> Outcome {
    let mut outcomes = Vec::new();
    for together in [true, false] {
        let mut f = fixture(holders);
        let p = pool(&f);
        setup(&mut f, &p);
        let b = batch(&p);
        let verdicts = judge(&mut f, &b, &p, together, now);
        let queued = rows(&f, &p);
        let snapshot_queued = f.snapshot();
        let head = f.reg.publish(now).unwrap();
        audit_ok(&f.reg);
        let published = rows(&f, &p);
        let snapshot_published = f.snapshot();
        let mut logged: Vec<_> = f.reg.stored_events().unwrap();
        logged.sort_by_key(|e| e.log_index);
        let log_order = logged
            .iter()
            .map(|e| p.iter().position(|x| x.event.id() == e.id).map_or("?".into(), |k| format!("#{k}")))
            .collect();
        assert!(head.log_size > 0);
        outcomes.push(Outcome {
            verdicts,
            queued,
            snapshot_queued,
            published,
            snapshot_published,
            log_order,
        });
    }
    let alone = outcomes.pop().unwrap();
    let together = outcomes.pop().unwrap();
    assert_eq!(together.verdicts, alone.verdicts, "verdicts");
    assert_eq!(together.queued, alone.queued, "rows before the publish");
    assert_eq!(together.snapshot_queued, alone.snapshot_queued);
    assert_eq!(together.published, alone.published, "rows after the publish");
    assert_eq!(together.snapshot_published, alone.snapshot_published);
    assert_eq!(together.log_order, alone.log_order, "log order");
    together
}

fn kinds(o: &Outcome) -> Vec<String> {
    o.verdicts.iter().map(|v| v.split(['(', ' ', '{']).next().unwrap().to_string()).collect()
}

// ---- small, targeted batches ---------------------------------------------------------------

/// The same event twice in a batch, and three times; the second and third are duplicates.
#[test]
fn same_event_repeated_in_a_batch() {
    let o = twin(
        2,
        |f| vec![f.event(&f.lab, 0, "positive_test", T0 - 100, None)],
        |_, _| {},
        |p| vec![p[0].clone(), p[0].clone(), p[0].clone()],
        T0,
    );
    assert_eq!(kinds(&o), ["ok", "Duplicate", "Duplicate"]);
    assert_eq!(o.log_order, ["#0"]);
}

/// An index case refused earlier in the batch (unknown holder, bad time, revoked... here: a
/// duplicate of a stored retracted event and an unknown holder) must not count as an index case.
#[test]
fn an_index_case_refused_in_the_batch_is_not_an_index_case() {
    let o = twin(
        3,
        |f| {
            let unknown_holder = f.event(&f.lab, 77, "positive_test", T0 - 100, None);
            let too_old = f.event(&f.lab, 0, "positive_test", T0 - 40 * DAY, None);
            let future = f.event(&f.lab, 0, "positive_test", T0 + 3600, None);
            let retracted = f.event(&f.lab, 2, "positive_test", T0 - 200, None);
            let fine = f.event(&f.lab, 2, "positive_test", T0 - 300, None);
            let mut p = vec![unknown_holder, too_old, future, retracted, fine];
            let ids: Vec<_> = p.iter().map(|e| e.event.id()).collect();
            for (k, id) in ids.iter().enumerate() {
                p.push(f.event(&f.tracer, 1, "close_contact", T0 - 50 - k as u64, Some(*id)));
            }
            p
        },
        |f, p| {
            f.reg.submit(&p[3], T0).unwrap();
            let r = f.retraction(&f.lab, p[3].event.id());
            f.reg.retract(&r, T0).unwrap();
        },
        |p| p.to_vec(),
        T0,
    );
    assert_eq!(
        kinds(&o),
        [
            "UnknownHolder",
            "TimeTooOld",
            "TimeInFuture",
            "Duplicate",
            "ok",
            "IndexCaseUnknown",
            "IndexCaseUnknown",
            "IndexCaseUnknown",
            "IndexCaseRetracted",
            "ok"
        ]
    );
}

/// A contact whose index case is a contact (accepted earlier in the batch), a negative test
/// accepted in the batch, the contact's own holder through a case accepted in the batch, and a
/// contact naming itself impossible; a secondary contact on a batch case.
#[test]
fn index_cases_accepted_in_the_batch_are_checked_like_stored_ones() {
    let o = twin(
        4,
        |f| {
            let pos = f.event(&f.lab, 0, "positive_test", T0 - 900, None);
            let neg = f.event(&f.lab, 1, "negative_test", T0 - 800, None);
            let contact = f.event(&f.tracer, 2, "close_contact", T0 - 700, Some(pos.event.id()));
            let on_contact = f.event(&f.tracer, 3, "close_contact", T0 - 600, Some(contact.event.id()));
            let on_neg = f.event(&f.tracer, 3, "close_contact", T0 - 500, Some(neg.event.id()));
            let same = f.event(&f.tracer, 0, "secondary_contact", T0 - 400, Some(pos.event.id()));
            let second = f.event(&f.tracer, 3, "secondary_contact", T0 - 300, Some(pos.event.id()));
            let lab_with_case = f.event(&f.lab, 1, "positive_test", T0 - 200, Some(pos.event.id()));
            let tracer_no_case = f.event(&f.tracer, 1, "close_contact", T0 - 100, None);
            vec![pos, neg, contact, on_contact, on_neg, same, second, lab_with_case, tracer_no_case]
        },
        |_, _| {},
        |p| p.to_vec(),
        T0,
    );
    assert_eq!(
        kinds(&o),
        [
            "ok",
            "ok",
            "ok",
            "IndexCaseNotPositive",
            "IndexCaseNotPositive",
            "IndexCaseSameHolder",
            "ok",
            "UnexpectedIndexCase",
            "MissingIndexCase"
        ]
    );
}

/// Holders enrolled but not published yet are known; holder u32::MAX and the first index past
/// the enrolled ones are not.
#[test]
fn unpublished_holders_and_the_edges_of_holder_indexes() {
    let o = twin(
        2,
        |f| {
            vec![
                f.event(&f.lab, 2, "positive_test", T0 - 100, None),
                f.event(&f.lab, 3, "positive_test", T0 - 90, None),
                f.event(&f.lab, 4, "positive_test", T0 - 80, None),
                f.event(&f.lab, u32::MAX, "positive_test", T0 - 70, None),
                f.event(&f.lab, u32::MAX - 1, "negative_test", T0 - 60, None),
                f.event(&f.tracer, u32::MAX, "close_contact", T0 - 50, Some([0xff; 32])),
            ]
        },
        |f, _| {
            f.reg.enroll(Fr::from(555_001u64), T0 - 5).unwrap();
            f.reg.enroll(Fr::from(555_002u64), T0 - 5).unwrap();
        },
        |p| p.to_vec(),
        T0,
    );
    assert_eq!(kinds(&o), ["ok", "ok", "UnknownHolder", "UnknownHolder", "UnknownHolder", "UnknownHolder"]);
}

/// Events of signers revoked before, revoked at `now`, not yet accredited, unknown; events of the
/// other role; wrong registry; a bad signature on an event whose good copy comes later.
#[test]
fn signer_status_and_signatures_in_a_batch() {
    let o = twin(
        3,
        |f| {
            let lab2 = key(3);
            let lab3 = key(4);
            let stranger = key(9);
            let good = f.event(&f.lab, 0, "positive_test", T0 - 100, None);
            let mut forged = good.clone();
            forged.signature = f.event(&f.lab, 1, "positive_test", T0 - 100, None).signature;
            let other_registry = healthcode_registry::Event::signed_by(
                &f.lab,
                key(42).verifying_key(),
                0,
                "positive_test",
                T0 - 100,
                None,
            );
            vec![
                forged,
                f.event(&lab2, 1, "positive_test", T0 - 90, None),
                f.event(&lab3, 1, "positive_test", T0 - 80, None),
                f.event(&stranger, 1, "positive_test", T0 - 70, None),
                f.event(&f.tracer, 1, "positive_test", T0 - 60, None),
                f.event(&f.lab, 1, "close_contact", T0 - 50, Some(good.event.id())),
                other_registry,
                good,
                f.event(&f.lab, 2, "unknown_kind", T0 - 40, None),
            ]
        },
        |f, _| {
            f.reg.add_signer("lab2", Role::Lab, key(3).verifying_key(), 0, T0 - DAY).unwrap();
            f.reg.revoke_signer("lab2", T0).unwrap();
            f.reg.add_signer("lab3", Role::Lab, key(4).verifying_key(), T0 + 1, T0 - DAY).unwrap();
        },
        |p| p.to_vec(),
        T0,
    );
    assert_eq!(
        kinds(&o),
        [
            "BadSignature",
            "SignerRevoked",
            "SignerNotYetAccredited",
            "UnknownSigner",
            "RoleNotAllowed",
            "RoleNotAllowed",
            "WrongRegistry",
            "ok",
            "UnknownKind"
        ]
    );
}

/// Index cases published in an earlier epoch, retracted after publication, retracted and then
/// repeated in the batch; duplicates of published events.
#[test]
fn index_cases_across_publishes_and_retractions() {
    let o = twin(
        4,
        |f| {
            let a = f.event(&f.lab, 0, "positive_test", T0 - 5000, None);
            let b = f.event(&f.lab, 1, "positive_test", T0 - 4000, None);
            let c = f.event(&f.lab, 2, "positive_test", T0 - 3000, None);
            let ca = f.event(&f.tracer, 3, "close_contact", T0 - 100, Some(a.event.id()));
            let cb = f.event(&f.tracer, 3, "close_contact", T0 - 90, Some(b.event.id()));
            let cc = f.event(&f.tracer, 3, "close_contact", T0 - 80, Some(c.event.id()));
            vec![a, b, c, ca, cb, cc]
        },
        |f, p| {
            for e in &p[..3] {
                f.reg.submit(e, T0 - 10).unwrap();
            }
            f.reg.publish(T0 - 10).unwrap();
            let r = f.retraction(&f.lab, p[1].event.id());
            f.reg.retract(&r, T0 - 5).unwrap();
            f.reg.publish(T0 - 5).unwrap();
            let r = f.retraction(&f.lab, p[2].event.id());
            f.reg.retract(&r, T0 - 1).unwrap();
        },
        |p| vec![p[1].clone(), p[3].clone(), p[4].clone(), p[2].clone(), p[5].clone(), p[0].clone()],
        T0,
    );
    assert_eq!(
        kinds(&o),
        ["Duplicate", "ok", "IndexCaseRetracted", "Duplicate", "IndexCaseRetracted", "Duplicate"]
    );
}

/// An empty batch stores nothing, and a batch of only refusals stores nothing.
#[test]
fn empty_and_all_refused_batches_store_nothing() {
    let mut f = fixture(2);
    let before = f.snapshot();
    assert!(f.reg.submit_batch(&[], T0).unwrap().is_empty());
    assert!(f.reg.submit_checked(&[], T0).unwrap().is_empty());
    assert_eq!(f.snapshot(), before);
    let bad = vec![
        f.event(&f.lab, 9, "positive_test", T0 - 1, None),
        f.event(&f.tracer, 0, "close_contact", T0 - 1, Some([7; 32])),
    ];
    let out = f.reg.submit_batch(&bad, T0).unwrap();
    assert!(out.iter().all(|v| v.is_err()), "{out:?}");
    assert_eq!(f.snapshot(), before);
    assert_eq!(f.reg.queue_len().unwrap(), 0);
}

/// `submit_checked` trusts the caller's signature outcome only as `CheckedEvent::check` made it:
/// an event checked as bad is refused even when a good copy is in the same batch.
#[test]
fn checked_events_keep_their_own_signature_outcome() {
    let mut f = fixture(2);
    let good = f.event(&f.lab, 0, "positive_test", T0 - 1, None);
    let mut bad = good.clone();
    bad.event.time -= 1; // the signature no longer covers it
    let batch =
        vec![CheckedEvent::check(bad.clone()), CheckedEvent::check(good.clone()), CheckedEvent::check(bad)];
    let out = f.reg.submit_checked(&batch, T0).unwrap();
    assert_eq!(out[0], Err(Refusal::BadSignature));
    assert_eq!(out[1], Ok(good.event.id()));
    assert_eq!(out[2], Err(Refusal::BadSignature));
    assert_eq!(f.reg.queue_len().unwrap(), 1);
}

// ---- large, mixed batches (COPY on PostgreSQL) ------------------------------------------------

/// A pool of `n` events over `holders` holders (and a few unknown ones), drawn by `seed`: tests,
/// contacts naming earlier, later, refused and unknown events, repeats, stale and future times.
fn mixed_pool(f: &Fixture, n: usize, holders: u32, seed: u64) -> Vec<SignedEvent> {
    let mut rng = Rng(seed);
    let mut pool: Vec<SignedEvent> = Vec::with_capacity(n);
    // Index cases named ahead of their event: the ids of the lab events drawn later.
    let mut pending: Vec<(usize, u32, u64, &str)> = Vec::new();
    for i in 0..n {
        let holder =
            if rng.below(40) == 0 { holders + rng.below(3) as u32 } else { rng.below(holders as u64) as u32 };
        let time = match rng.below(50) {
            0 => T0 - 31 * DAY,
            1 => T0 + 600,
            _ => T0 - 1 - rng.below(20 * DAY),
        };
        let ev = match rng.below(10) {
            0..=2 => f.event(&f.lab, holder, "positive_test", time, None),
            3 => f.event(&f.lab, holder, "negative_test", time, None),
            4..=6 if !pool.is_empty() => {
                let case = pool[rng.below(pool.len() as u64) as usize].event.id();
                let kind = if rng.below(3) == 0 { "secondary_contact" } else { "close_contact" };
                f.event(&f.tracer, holder, kind, time, Some(case))
            }
            7 if !pool.is_empty() => pool[rng.below(pool.len() as u64) as usize].clone(),
            8 => {
                // A contact naming a lab event that comes a little later in the pool.
                pending.push((i + 1 + rng.below(20) as usize, holder, time, "positive_test"));
                let (_, h, t, k) = *pending.last().unwrap();
                let later = f.event(&f.lab, h, k, t, None);
                f.event(&f.tracer, (holder + 1) % holders, "close_contact", time, Some(later.event.id()))
            }
            _ => f.event(&f.tracer, holder, "close_contact", time, Some([rng.below(256) as u8; 32])),
        };
        pool.push(ev);
        while let Some(k) = pending.iter().position(|p| p.0 <= i) {
            let (_, h, t, kind) = pending.remove(k);
            pool.push(f.event(&f.lab, h, kind, t, None));
        }
    }
    for (_, h, t, kind) in pending {
        pool.push(f.event(&f.lab, h, kind, t, None));
    }
    pool
}

/// Before the batch: a part of the pool submitted alone, some retracted, one publish; a signer
/// revoked; holders enrolled and not published.
fn mixed_setup(f: &mut Fixture, pool: &[SignedEvent], before: usize) {
    for (k, e) in pool[..before].iter().enumerate() {
        let accepted = f.reg.submit(e, T0 - 5).is_ok();
        if accepted && k % 5 == 0 && e.event.signer == f.lab.verifying_key() {
            let r = f.retraction(&f.lab, e.event.id());
            f.reg.retract(&r, T0 - 4).unwrap();
        }
    }
    f.reg.publish(T0 - 3).unwrap();
    f.reg.enroll(Fr::from(777_001u64), T0 - 2).unwrap();
}

fn mixed(n: usize, before: usize, seed: u64) -> Outcome {
    let holders = 7;
    twin(
        holders as usize,
        move |f| mixed_pool(f, n, holders, seed),
        move |f, p| mixed_setup(f, p, before),
        move |p| p[before..].to_vec(),
        T0,
    )
}

fn assert_varied(o: &Outcome) {
    let k = kinds(o);
    for want in [
        "ok",
        "Duplicate",
        "IndexCaseUnknown",
        "IndexCaseNotPositive",
        "IndexCaseSameHolder",
        "IndexCaseRetracted",
        "UnknownHolder",
        "TimeTooOld",
        "TimeInFuture",
    ] {
        assert!(k.iter().any(|v| v == want), "no {want}");
    }
}

/// A mixed batch under the COPY threshold (one unnest statement on PostgreSQL).
#[test]
fn mixed_batch_small() {
    let o = mixed(400, 60, 0x9e37_79b9_7f4a_7c15);
    assert_varied(&o);
}

/// A mixed batch whose accepted events are ≥ 1,000 (COPY on PostgreSQL): verdicts, rows and the
/// log order (the queue's identity values) as one by one.
#[test]
fn mixed_batch_over_the_copy_threshold() {
    let o = mixed(2600, 100, 0x2545_f491_4f6c_dd1d);
    assert_varied(&o);
    let accepted = kinds(&o).iter().filter(|v| *v == "ok").count();
    assert!(accepted >= 1000, "only {accepted} accepted: not the COPY path");
}

/// Exactly 999 and 1,000 accepted events (either side of the COPY threshold): the log follows
/// the batch's order.
#[test]
fn the_log_keeps_the_batch_order_either_side_of_the_copy_threshold() {
    for n in [999usize, 1000, 1001] {
        let mut f = fixture(3);
        let batch: Vec<SignedEvent> = (0..n)
            .map(|i| {
                // Descending times, so an order by time or id would differ from the batch's.
                f.event(&f.lab, (i % 3) as u32, "negative_test", T0 - 1 - (n - i) as u64 * 7, None)
            })
            .collect();
        let out = f.reg.submit_batch(&batch, T0).unwrap();
        assert!(out.iter().all(|v| v.is_ok()));
        assert_eq!(f.reg.queue_len().unwrap(), n as u64);
        f.reg.publish(T0).unwrap();
        let mut stored = f.reg.stored_events().unwrap();
        assert_eq!(stored.len(), n);
        stored.sort_by_key(|e| e.log_index);
        let order: Vec<usize> =
            stored.iter().map(|e| batch.iter().position(|b| b.event.id() == e.id).unwrap()).collect();
        assert_eq!(order, (0..n).collect::<Vec<_>>(), "n = {n}");
        assert!(stored.iter().all(|e| e.index_case.is_none() && e.accepted_at == T0 && !e.retracted));
    }
}

/// Contacts (index case column set) and tests (NULL) mixed in one COPY; index cases survive.
#[test]
fn copy_keeps_index_cases_and_nulls() {
    let mut f = fixture(3);
    let pos = f.event(&f.lab, 0, "positive_test", T0 - 5000, None);
    let mut batch = vec![pos.clone()];
    for i in 0..1200u64 {
        batch.push(if i % 2 == 0 {
            f.event(&f.tracer, 1 + (i % 4 / 2) as u32, "close_contact", T0 - 4000 + i, Some(pos.event.id()))
        } else {
            f.event(&f.lab, 2, "negative_test", T0 - 4000 + i, None)
        });
    }
    let out = f.reg.submit_batch(&batch, T0).unwrap();
    assert!(out.iter().all(|v| v.is_ok()));
    let stored = f.reg.stored_events().unwrap();
    assert_eq!(stored.len(), batch.len());
    for e in &stored {
        let b = batch.iter().find(|b| b.event.id() == e.id).unwrap();
        assert_eq!(e.index_case, b.event.index_case);
        assert_eq!(
            (e.holder, e.kind.as_str(), e.time),
            (b.event.holder, b.event.kind.as_str(), b.event.time)
        );
    }
    f.reg.publish(T0).unwrap();
    audit_ok(&f.reg);
}

// ---- storage failures in the middle -------------------------------------------------------

/// Makes the `n`-th insert into `table` (counted from now) fail with a trigger, on either engine.
fn fail_insert_after(f: &Fixture, table: &str, n: i64) -> healthcode_registry::store::Db {
    let db = raw(&f.path);
    let count: i64 = db.value(&format!("SELECT COUNT(*) FROM {table}"), &[]).unwrap().unwrap();
    let limit = count + n;
    if on_postgres() {
        db.exec(
            &format!(
                "CREATE OR REPLACE FUNCTION rt_boom() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN IF (SELECT COUNT(*) FROM {table}) >= {limit} THEN RAISE EXCEPTION 'rt boom'; END IF;
                 RETURN NEW; END $$"
            ),
            &[],
        )
        .unwrap();
        db.exec(
            &format!(
                "CREATE TRIGGER rt_boom BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION rt_boom()"
            ),
            &[],
        )
        .unwrap();
    } else {
        db.exec(
            &format!(
                "CREATE TRIGGER rt_boom BEFORE INSERT ON {table} WHEN (SELECT COUNT(*) FROM {table}) >= {limit}
                 BEGIN SELECT RAISE(ABORT, 'rt boom'); END"
            ),
            &[],
        )
        .unwrap();
    }
    db
}

/// Drops the trigger (with the handle that made it: opening the registry's database refuses a
/// schema with a trigger it does not know).
fn heal(db: healthcode_registry::store::Db, table: &str) {
    let on = if on_postgres() { format!(" ON {table}") } else { String::new() };
    db.exec(&format!("DROP TRIGGER rt_boom{on}"), &[]).unwrap();
}

/// A failure in the middle of writing the batch's events or queue entries (in the unnest
/// statement, or in the middle of a COPY) stores nothing; the registry then takes the same batch.
#[test]
fn a_storage_failure_mid_batch_stores_nothing_and_the_registry_carries_on() {
    for (table, size) in [("queue", 50usize), ("events", 50), ("queue", 1500), ("events", 1500)] {
        let mut f = fixture(2);
        let pos = f.event(&f.lab, 0, "positive_test", T0 - 9000, None);
        f.reg.submit(&pos, T0).unwrap();
        let mut batch: Vec<SignedEvent> = (0..size as u64)
            .map(|i| f.event(&f.tracer, 1, "close_contact", T0 - 8000 + i, Some(pos.event.id())))
            .collect();
        batch.push(pos.clone());
        let before = f.snapshot();
        let db = fail_insert_after(&f, table, size as i64 / 2);
        match f.reg.submit_batch(&batch, T0) {
            Err(RegistryError::Refused(r)) => panic!("{table}/{size}: refused {r}"),
            Err(_) => {}
            Ok(v) => panic!("{table}/{size}: stored despite the failure: {} verdicts", v.len()),
        }
        heal(db, table);
        assert_eq!(f.snapshot(), before, "{table}/{size}: a failed batch left rows");
        let out = f.reg.submit_batch(&batch, T0).unwrap();
        assert!(out[..size].iter().all(|v| v.is_ok()), "{table}/{size}");
        assert!(matches!(out[size], Err(Refusal::Duplicate(_))));
        assert_eq!(f.reg.queue_len().unwrap(), size as u64 + 1);
        f.reg.publish(T0).unwrap();
        audit_ok(&f.reg);
    }
}

/// A failure while reading (the first set query) leaves the registry usable too.
#[test]
fn a_batch_after_a_failed_batch_sees_no_ghost_rows() {
    let mut f = fixture(3);
    let pos = f.event(&f.lab, 0, "positive_test", T0 - 100, None);
    let contact = f.event(&f.tracer, 1, "close_contact", T0 - 50, Some(pos.event.id()));
    let db = fail_insert_after(&f, "queue", 1);
    assert!(f.reg.submit_batch(&[pos.clone(), contact.clone()], T0).is_err());
    heal(db, "queue");
    // Had the failed batch's events been kept anywhere, the contact would be accepted here.
    let out = f.reg.submit_batch(std::slice::from_ref(&contact), T0).unwrap();
    assert!(matches!(out[0], Err(Refusal::IndexCaseUnknown(_))), "{out:?}");
    let out = f.reg.submit_batch(&[pos.clone(), contact, pos], T0).unwrap();
    assert!(out[0].is_ok() && out[1].is_ok() && matches!(out[2], Err(Refusal::Duplicate(_))), "{out:?}");
    let db = raw(&f.path);
    let n: i64 = db.value("SELECT COUNT(*) FROM events", &[]).unwrap().unwrap();
    assert_eq!(n, 2);
}

/// Stored events of an earlier month (another partition on PostgreSQL) are duplicates and index
/// cases for a batch accepted in the next month.
#[test]
fn stored_events_of_an_earlier_month_count() {
    let o = twin(
        3,
        |f| {
            let june = f.event(&f.lab, 0, "positive_test", T0 - DAY, None);
            let retracted = f.event(&f.lab, 2, "positive_test", T0 - DAY + 1, None);
            vec![
                june.clone(),
                retracted.clone(),
                f.event(&f.tracer, 1, "close_contact", T0 + 20 * DAY - 100, Some(june.event.id())),
                f.event(&f.tracer, 1, "close_contact", T0 + 20 * DAY - 90, Some(retracted.event.id())),
            ]
        },
        |f, p| {
            // 2022-06-14 (T0), after the fixture's head of 2022-06-04: the month before the batch
            // (a clock behind the latest head is refused, so the earlier month cannot be May).
            f.reg.submit(&p[0], T0).unwrap();
            f.reg.submit(&p[1], T0).unwrap();
            let r = f.retraction(&f.lab, p[1].event.id());
            f.reg.retract(&r, T0).unwrap();
        },
        |p| vec![p[2].clone(), p[0].clone(), p[3].clone(), p[1].clone()],
        // 2022-07-04: the next month.
        T0 + 20 * DAY,
    );
    assert_eq!(kinds(&o), ["ok", "Duplicate", "IndexCaseRetracted", "Duplicate"]);
}

/// More than 20,000 distinct ids in one batch (the set query runs in chunks of 20,000 on
/// PostgreSQL): every stored row is found for its own id.
#[test]
fn more_ids_than_one_set_query_chunk() {
    let mut f = fixture(3);
    let n = 10_010u64;
    let positives: Vec<SignedEvent> =
        (0..n).map(|k| f.event(&f.lab, 0, "positive_test", T0 - 1 - k, None)).collect();
    assert!(f.reg.submit_batch(&positives, T0 - 1).unwrap().iter().all(|v| v.is_ok()));
    // Retract a few, so a misplaced row would show as a wrong verdict.
    for k in (0..n as usize).step_by(997) {
        let r = f.retraction(&f.lab, positives[k].event.id());
        f.reg.retract(&r, T0 - 1).unwrap();
    }
    let mut batch: Vec<SignedEvent> = positives
        .iter()
        .enumerate()
        .map(|(k, p)| {
            f.event(&f.tracer, 1 + (k % 2) as u32, "close_contact", T0 - 1 - k as u64, Some(p.event.id()))
        })
        .collect();
    batch.extend(positives.iter().cloned());
    let fresh: Vec<SignedEvent> =
        (0..5).map(|k| f.event(&f.lab, 2, "positive_test", T0 - 1 - k, None)).collect();
    batch.extend(fresh.iter().cloned());
    let out = f.reg.submit_batch(&batch, T0).unwrap();
    let n = n as usize;
    for (k, v) in out[..n].iter().enumerate() {
        if k % 997 == 0 {
            assert!(matches!(v, Err(Refusal::IndexCaseRetracted(_))), "{k}: {v:?}");
        } else {
            assert_eq!(v, &Ok(batch[k].event.id()), "{k}");
        }
    }
    assert!(out[n..2 * n].iter().all(|v| matches!(v, Err(Refusal::Duplicate(_)))));
    assert!(out[2 * n..].iter().all(|v| v.is_ok()));
    let accepted = out.iter().filter(|v| v.is_ok()).count() as u64;
    assert_eq!(f.reg.queue_len().unwrap(), n as u64 + 11 + accepted);
}

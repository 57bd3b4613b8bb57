//! Every refusal: the reason is the expected one and nothing was stored.

mod common;

use common::*;
use healthcode_registry::event::Role;
use healthcode_registry::{Event, Refusal, Registry, RegistryError, SignedEvent};

/// Submits, expects `want`, and checks the database is unchanged.
fn refused(f: &mut Fixture, ev: &healthcode_registry::SignedEvent, now: u64, want: Refusal) {
    let before = f.snapshot();
    match f.reg.submit(ev, now) {
        Err(RegistryError::Refused(r)) => assert_eq!(r, want),
        other => panic!("expected refusal {want:?}, got {other:?}"),
    }
    assert_eq!(f.snapshot(), before, "a refused event changed the database");
}

#[test]
fn bad_signature() {
    let mut f = fixture(2);
    let mut ev = f.event(&f.lab, 0, "positive_test", T0, None);
    ev.event.time -= 1;
    refused(&mut f, &ev, T0, Refusal::BadSignature);
    // Signed by another key than the one it names.
    let mut ev = f.event(&f.lab, 0, "positive_test", T0, None);
    ev.signature = f.event(&f.tracer, 0, "positive_test", T0, None).signature;
    refused(&mut f, &ev, T0, Refusal::BadSignature);
}

#[test]
fn wrong_registry() {
    let mut f = fixture(1);
    let mut e = f.event(&f.lab, 0, "positive_test", T0, None).event;
    e.registry = key(99).verifying_key();
    let ev = e.sign(&f.lab);
    refused(&mut f, &ev, T0, Refusal::WrongRegistry);
}

#[test]
fn unknown_signer() {
    let mut f = fixture(1);
    let stranger = key(50);
    let ev = f.event(&stranger, 0, "positive_test", T0, None);
    let hexkey = hex::encode(stranger.verifying_key().as_bytes());
    refused(&mut f, &ev, T0, Refusal::UnknownSigner(hexkey));
}

#[test]
fn revoked_signer() {
    let mut f = fixture(1);
    f.reg.revoke_signer("lab", T0 - DAY).unwrap();
    let ev = f.event(&f.lab, 0, "positive_test", T0, None);
    refused(&mut f, &ev, T0, Refusal::SignerRevoked { name: "lab".into(), at: T0 - DAY });
}

#[test]
fn not_yet_accredited_signer() {
    let mut f = fixture(1);
    let late = key(60);
    f.reg.add_signer("late-lab", Role::Lab, late.verifying_key(), T0 + DAY, T0).unwrap();
    let ev = f.event(&late, 0, "negative_test", T0, None);
    refused(&mut f, &ev, T0, Refusal::SignerNotYetAccredited { name: "late-lab".into(), from: T0 + DAY });
}

#[test]
fn role_not_allowed() {
    let mut f = fixture(2);
    let ev = f.event(&f.tracer, 0, "positive_test", T0, None);
    refused(
        &mut f,
        &ev,
        T0,
        Refusal::RoleNotAllowed {
            kind: "positive_test".into(),
            name: "tracer".into(),
            role: Role::Tracer,
            needed: Role::Lab,
        },
    );
    let pos = f.event(&f.lab, 1, "positive_test", T0, None);
    let id = f.reg.submit(&pos, T0).unwrap();
    let ev = f.event(&f.lab, 0, "close_contact", T0, Some(id));
    refused(
        &mut f,
        &ev,
        T0,
        Refusal::RoleNotAllowed {
            kind: "close_contact".into(),
            name: "lab".into(),
            role: Role::Lab,
            needed: Role::Tracer,
        },
    );
}

#[test]
fn unknown_kind_and_holder() {
    let mut f = fixture(1);
    let ev = f.event(&f.lab, 0, "bank_depositor_test", T0, None);
    refused(&mut f, &ev, T0, Refusal::UnknownKind("bank_depositor_test".into()));
    let ev = f.event(&f.lab, 5, "positive_test", T0, None);
    refused(&mut f, &ev, T0, Refusal::UnknownHolder(5));
}

/// Issue 11, item 3: the window is the published policy's, not a private setting. An operator who
/// widens the database's old `config` (14 days ahead) gets nothing: a positive test dated 13 days
/// ahead is still refused. Before, it was accepted (and kept its holder red for ~27 days).
#[test]
fn a_widened_private_window_is_ignored() {
    if sqlite_only("a_widened_private_window_is_ignored") {
        return;
    }
    let f = fixture(1);
    rusqlite::Connection::open(&f.path)
        .unwrap()
        .execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('config', ?1)",
            [br#"{"max_future":1209600,"max_past":2592000}"#.to_vec()],
        )
        .unwrap();
    drop(f.reg);
    let mut reg = Registry::open(&f.path).unwrap();
    let ahead = Event::signed_by(&f.lab, reg.public_key(), 0, "positive_test", T0 + 13 * DAY, None);
    let r = reg.submit(&ahead, T0);
    assert!(
        matches!(r, Err(RegistryError::Refused(Refusal::TimeInFuture { max_future: 300, .. }))),
        "a widened private window let an event dated 13 days ahead in: {r:?}"
    );
}

#[test]
fn times_out_of_window() {
    let mut f = fixture(1);
    let max_future = f.reg.policy().max_event_ahead;
    let max_past = f.reg.policy().max_event_behind;
    let ev = f.event(&f.lab, 0, "positive_test", T0 + max_future + 1, None);
    refused(&mut f, &ev, T0, Refusal::TimeInFuture { time: T0 + max_future + 1, now: T0, max_future });
    let ev = f.event(&f.lab, 0, "positive_test", T0 - max_past - 1, None);
    refused(&mut f, &ev, T0, Refusal::TimeTooOld { time: T0 - max_past - 1, now: T0, max_past });
    let ev = f.event(&f.lab, 0, "positive_test", 0, None);
    refused(&mut f, &ev, T0, Refusal::TimeOutOfRange { time: 0 });
    let big = 1u64 << 40;
    let ev = f.event(&f.lab, 0, "positive_test", big, None);
    refused(&mut f, &ev, big, Refusal::TimeOutOfRange { time: big });
    // The edges are accepted.
    f.reg.submit(&f.event(&f.lab, 0, "positive_test", T0 + max_future, None), T0).unwrap();
    f.reg.submit(&f.event(&f.lab, 0, "negative_test", T0 - max_past, None), T0).unwrap();
}

#[test]
fn contact_index_case_rules() {
    let mut f = fixture(3);
    let ev = f.event(&f.tracer, 0, "close_contact", T0, None);
    refused(&mut f, &ev, T0, Refusal::MissingIndexCase("close_contact".into()));
    let ev = f.event(&f.tracer, 0, "close_contact", T0, Some([7; 32]));
    refused(&mut f, &ev, T0, Refusal::IndexCaseUnknown(hex::encode([7; 32])));
    let neg = f.reg.submit(&f.event(&f.lab, 1, "negative_test", T0, None), T0).unwrap();
    let ev = f.event(&f.tracer, 0, "close_contact", T0, Some(neg));
    refused(&mut f, &ev, T0, Refusal::IndexCaseNotPositive(hex::encode(neg)));
    let pos = f.reg.submit(&f.event(&f.lab, 1, "positive_test", T0, None), T0).unwrap();
    let ev = f.event(&f.tracer, 1, "close_contact", T0, Some(pos));
    refused(&mut f, &ev, T0, Refusal::IndexCaseSameHolder);
    // A lab result takes no index case.
    let ev = f.event(&f.lab, 0, "negative_test", T0, Some(pos));
    refused(&mut f, &ev, T0, Refusal::UnexpectedIndexCase("negative_test".into()));
    // Valid against a queued positive test, and after publishing it.
    f.reg.submit(&f.event(&f.tracer, 0, "close_contact", T0, Some(pos)), T0).unwrap();
    f.reg.publish(T0).unwrap();
    f.reg.submit(&f.event(&f.tracer, 2, "secondary_contact", T0, Some(pos)), T0).unwrap();
    // Not once the positive test is retracted.
    f.reg.retract(&f.retraction(&f.lab, pos), T0).unwrap();
    let ev = f.event(&f.tracer, 2, "close_contact", T0, Some(pos));
    refused(&mut f, &ev, T0, Refusal::IndexCaseRetracted(hex::encode(pos)));
}

/// `max_index_case_age` (30 days in the example policy): a contact may cite a positive test
/// accepted up to 30 days before it, not one second more (also when the index case is only
/// queued, or was published since).
#[test]
fn an_index_case_accepted_too_long_ago_is_refused() {
    let mut f = fixture(3);
    let max = 30 * DAY;
    let pos = f.reg.submit(&f.event(&f.lab, 0, "positive_test", T0 - DAY, None), T0).unwrap();
    f.reg.publish(T0).unwrap();
    let at = T0 + max;
    f.reg.submit(&f.event(&f.tracer, 1, "close_contact", at - DAY, Some(pos)), at).unwrap();
    let late = f.event(&f.tracer, 2, "close_contact", at - DAY, Some(pos));
    let id = hex::encode(pos);
    refused(&mut f, &late, at + 1, Refusal::IndexCaseTooOld { id, accepted_at: T0, now: at + 1, max });
}

#[test]
fn duplicates() {
    let mut f = fixture(1);
    let ev = f.event(&f.lab, 0, "positive_test", T0, None);
    let id = f.reg.submit(&ev, T0).unwrap();
    refused(&mut f, &ev, T0, Refusal::Duplicate(hex::encode(id)));
    f.reg.publish(T0).unwrap();
    refused(&mut f, &ev, T0 + 1, Refusal::Duplicate(hex::encode(id)));
}

fn retract_refused(f: &mut Fixture, r: &healthcode_registry::SignedRetraction, want: Refusal) {
    retract_refused_at(f, r, T0, want)
}

fn retract_refused_at(f: &mut Fixture, r: &healthcode_registry::SignedRetraction, now: u64, want: Refusal) {
    let before = f.snapshot();
    match f.reg.retract(r, now) {
        Err(RegistryError::Refused(got)) => assert_eq!(got, want),
        other => panic!("expected refusal {want:?}, got {other:?}"),
    }
    assert_eq!(f.snapshot(), before, "a refused retraction changed the database");
}

/// `max_retraction_age` (30 days): an event can be retracted up to 30 days after its acceptance,
/// not one second more.
#[test]
fn a_retraction_too_long_after_acceptance_is_refused() {
    let mut f = fixture(2);
    let max = 30 * DAY;
    let a = f.reg.submit(&f.event(&f.lab, 0, "positive_test", T0 - DAY, None), T0).unwrap();
    let b = f.reg.submit(&f.event(&f.lab, 1, "positive_test", T0 - DAY, None), T0).unwrap();
    f.reg.publish(T0).unwrap();
    f.reg.retract(&f.retraction(&f.lab, a), T0 + max).unwrap();
    let late = f.retraction(&f.lab, b);
    let want = Refusal::RetractionTooLate { id: hex::encode(b), accepted_at: T0, now: T0 + max + 1, max };
    retract_refused_at(&mut f, &late, T0 + max + 1, want);
}

#[test]
fn retraction_rules() {
    let mut f = fixture(2);
    let other_lab = key(70);
    f.reg.add_signer("lab-2", Role::Lab, other_lab.verifying_key(), 0, T0).unwrap();
    let id = f.reg.submit(&f.event(&f.lab, 0, "positive_test", T0, None), T0).unwrap();
    let r = f.retraction(&other_lab, id);
    retract_refused(&mut f, &r, Refusal::NotOriginalSigner(hex::encode(id)));
    let r = f.retraction(&f.lab, [3; 32]);
    retract_refused(&mut f, &r, Refusal::UnknownEvent(hex::encode([3; 32])));
    let mut r = f.retraction(&f.lab, id);
    r.retraction.event[0] ^= 1;
    retract_refused(&mut f, &r, Refusal::BadSignature);
    let r = f.retraction(&f.lab, id);
    f.reg.retract(&r, T0).unwrap();
    retract_refused(&mut f, &r, Refusal::AlreadyRetracted(hex::encode(id)));
    // A revoked signer can no longer retract.
    let id2 = f.reg.submit(&f.event(&other_lab, 1, "positive_test", T0, None), T0).unwrap();
    f.reg.revoke_signer("lab-2", T0 - 1).unwrap();
    let r = f.retraction(&other_lab, id2);
    retract_refused(&mut f, &r, Refusal::SignerRevoked { name: "lab-2".into(), at: T0 - 1 });
}

#[test]
fn enrolment_and_signer_refusals() {
    let mut f = fixture(1);
    let before = f.snapshot();
    let cm = f.holders[0].commitment;
    assert!(matches!(f.reg.enroll(cm, T0), Err(RegistryError::Refused(Refusal::DuplicateCommitment(0)))));
    assert!(matches!(
        f.reg.add_signer("lab", Role::Lab, key(80).verifying_key(), 0, T0),
        Err(RegistryError::Refused(Refusal::DuplicateSigner("name")))
    ));
    assert!(matches!(
        f.reg.add_signer("lab-x", Role::Lab, f.lab.verifying_key(), 0, T0),
        Err(RegistryError::Refused(Refusal::DuplicateSigner("key")))
    ));
    assert!(matches!(
        f.reg.add_signer("", Role::Lab, key(81).verifying_key(), 0, T0),
        Err(RegistryError::Refused(Refusal::BadSignerName))
    ));
    assert_eq!(f.snapshot(), before);
}

#[test]
fn batch_refusals_store_only_the_accepted() {
    let mut f = fixture(2);
    let good = f.event(&f.lab, 0, "positive_test", T0, None);
    let bad = f.event(&f.tracer, 1, "positive_test", T0, None);
    let out = f.reg.submit_batch(&[good.clone(), bad, good], T0).unwrap();
    assert!(out[0].is_ok());
    assert!(matches!(out[1], Err(Refusal::RoleNotAllowed { .. })));
    assert!(matches!(out[2], Err(Refusal::Duplicate(_))));
    assert_eq!(f.reg.queue_len().unwrap(), 1);
}

/// A batch is read from storage once (its holders, duplicates and index cases), then judged
/// event by event: each verdict must be the one the event gets submitted alone, in order, with
/// the batch's earlier events already in (as index cases, as duplicates), and the queue must
/// keep the batch's order. Two fixtures alike: one takes the batch, the other one event at a time.
#[test]
fn a_batch_is_judged_as_its_events_one_by_one() {
    // The events for one registry (an event names its registry): those stored before, the batch.
    fn events(f: &Fixture) -> (Vec<SignedEvent>, Vec<SignedEvent>) {
        let stored = f.event(&f.lab, 2, "positive_test", T0 - 7200, None);
        let pos = f.event(&f.lab, 0, "positive_test", T0 - 3600, None);
        let later = f.event(&f.lab, 1, "positive_test", T0 - 3500, None);
        let neg = f.event(&f.lab, 1, "negative_test", T0 - 3400, None);
        let retracted = f.event(&f.lab, 2, "positive_test", T0 - 3300, None);
        let batch = vec![
            // An index case stored before the batch, and one accepted earlier in it.
            f.event(&f.tracer, 1, "close_contact", T0 - 600, Some(stored.event.id())),
            pos.clone(),
            f.event(&f.tracer, 1, "close_contact", T0 - 500, Some(pos.event.id())),
            // The index case's own holder, a case that comes later in the batch, one that is
            // not a positive test, and one retracted before the batch.
            f.event(&f.tracer, 0, "close_contact", T0 - 400, Some(pos.event.id())),
            f.event(&f.tracer, 2, "close_contact", T0 - 300, Some(later.event.id())),
            later,
            neg.clone(),
            f.event(&f.tracer, 2, "close_contact", T0 - 200, Some(neg.event.id())),
            f.event(&f.tracer, 0, "close_contact", T0 - 100, Some(retracted.event.id())),
            // Duplicates: of the batch's own event, and of a stored one; an unknown holder.
            pos,
            stored.clone(),
            f.event(&f.lab, 99, "negative_test", T0 - 50, None),
        ];
        (vec![stored, retracted], batch)
    }
    // A verdict without the ids (which name the registry): "ok" or the refusal's variant.
    fn verdict(v: &Result<[u8; 32], Refusal>) -> String {
        match v {
            Ok(_) => "ok".into(),
            Err(r) => format!("{r:?}").split(['(', ' ']).next().unwrap().to_string(),
        }
    }
    // Positions in the batch of its published events, in log order.
    fn log_order(f: &Fixture, batch: &[SignedEvent]) -> Vec<usize> {
        let mut stored = f.reg.stored_events().unwrap();
        stored.sort_by_key(|e| e.log_index);
        stored.iter().filter_map(|e| batch.iter().position(|b| b.event.id() == e.id)).collect()
    }
    let (mut together, mut alone) = (fixture(3), fixture(3));
    let mut verdicts = Vec::new();
    let mut orders = Vec::new();
    for (f, at_once) in [(&mut together, true), (&mut alone, false)] {
        let (before, batch) = events(f);
        for e in &before {
            f.reg.submit(e, T0).unwrap();
        }
        let r = f.retraction(&f.lab, before[1].event.id());
        f.reg.retract(&r, T0).unwrap();
        let out: Vec<String> = if at_once {
            f.reg.submit_batch(&batch, T0).unwrap().iter().map(verdict).collect()
        } else {
            batch
                .iter()
                .map(|e| match f.reg.submit(e, T0) {
                    Ok(id) => verdict(&Ok(id)),
                    Err(RegistryError::Refused(r)) => verdict(&Err(r)),
                    Err(other) => panic!("{other}"),
                })
                .collect()
        };
        f.reg.publish(T0).unwrap();
        verdicts.push(out);
        orders.push(log_order(f, &batch));
    }
    assert_eq!(verdicts[0], verdicts[1]);
    // Every kind of verdict above was reached (the batch tests what it says).
    for want in [
        "IndexCaseSameHolder",
        "IndexCaseUnknown",
        "IndexCaseNotPositive",
        "IndexCaseRetracted",
        "Duplicate",
        "UnknownHolder",
    ] {
        assert!(verdicts[0].iter().any(|v| v == want), "no {want} in {:?}", verdicts[0]);
    }
    assert_eq!(verdicts[0].iter().filter(|v| *v == "ok").count(), 5, "{:?}", verdicts[0]);
    // The same rows, and the log in the batch's order.
    assert_eq!(together.snapshot(), alone.snapshot());
    assert_eq!(orders[0], orders[1]);
    // (10: the stored event the batch repeats, logged before the batch.)
    assert_eq!(orders[0], vec![10, 0, 1, 2, 5, 6], "{:?}", verdicts[0]);
}

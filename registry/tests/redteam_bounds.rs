//! Red-team tests of the look-back bounds (`max_index_case_age`, `max_retraction_age`, c2d56cf):
//! their purpose is that the acceptance rules never need an event accepted longer ago than the
//! bounds (plus the event window), so old months can be archived. Each test is one attack.

mod common;
use common::*;
use healthcode_circuits::policy::Policy;
use healthcode_registry::audit::{replay_all, FindingKind};
use healthcode_registry::event::{Entry, EntryBody};
use healthcode_registry::registry::{Refusal, RegistryError};
use healthcode_registry::store::Val;
use healthcode_registry::{Registry, SignedEvent};

const MAX: u64 = 30 * DAY;

/// The replay's findings on `reg`'s whole log, as text.
fn findings(reg: &Registry) -> String {
    let heads = reg.heads().unwrap();
    let entries = reg.log_entries(0, reg.head().unwrap().log_size).unwrap();
    let r = replay_all(&entries, &heads, &reg.public_key(), reg.policy());
    r.findings
        .iter()
        .map(|f| format!("{:?} {}: {}", f.kind, f.event.clone().unwrap_or_default(), f.what))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Queues `body` accepted at `at` behind the registry's checks (an operator's smuggling), then
/// publishes at `publish`: the registry signs a head over it (a retraction also marks the row).
fn smuggle(f: &mut Fixture, at: u64, body: EntryBody, publish: u64) {
    if let EntryBody::Retraction(r) = &body {
        let id = Val::Bytes(r.retraction.event.to_vec());
        raw(&f.path).exec("UPDATE events SET retracted = 1 WHERE id = ?1", &[id]).unwrap();
    }
    raw(&f.path)
        .exec("INSERT INTO queue (entry) VALUES (?1)", &[Val::Bytes(Entry { at, body }.to_bytes())])
        .unwrap();
    f.reg.publish(publish).unwrap();
}

fn clock_behind(r: healthcode_registry::registry::Result<impl std::fmt::Debug>) {
    assert!(matches!(r, Err(RegistryError::ClockBehind { .. })), "accepted with a clock set back: {r:?}");
}

/// Attack 1a (succeeded before the fix): `now` is the caller's. After a head issued at T0 + 45d
/// the clock is set back to T0 + 29d; a contact citing a positive test accepted at T0 passes the
/// 30-day bound by that clock, though the registry's own signed record says 45 days have passed,
/// so an archive cut at the latest head would already have removed the index case. Likewise a
/// late retraction. The registry now refuses acceptance with a clock behind its latest head
/// (by more than `MAX_AHEAD`, as `publish` does); the honest log audits clean.
#[test]
fn a_clock_set_back_behind_the_latest_head_cannot_reach_old_events() {
    let mut f = fixture(3);
    let pos = f.reg.submit(&f.event(&f.lab, 0, "positive_test", T0 - DAY, None), T0).unwrap();
    f.reg.publish(T0 + 45 * DAY).unwrap();
    let back = T0 + 29 * DAY;
    let before = f.snapshot();
    clock_behind(f.reg.submit(&f.event(&f.tracer, 1, "close_contact", back - DAY, Some(pos)), back));
    clock_behind(f.reg.retract(&f.retraction(&f.lab, pos), back));
    assert_eq!(f.snapshot(), before);
    // Within MAX_AHEAD (60 s) of the head: a publish may push issued_at that far ahead.
    let head = f.reg.head().unwrap().issued_at;
    f.reg.submit(&f.event(&f.lab, 2, "negative_test", head - DAY, None), head - 60).unwrap();
    f.reg.publish(head + 1).unwrap();
    audit_ok(&f.reg);
}

/// Attack 1b (succeeded before the fix): the same clock set back after old rows were archived
/// (simulated: rows accepted more than 30 days and 5 minutes before the latest head deleted).
/// The duplicate check no longer finds the first copy of a lab report, and the registry accepted
/// it a second time. Now refused (the replay of the full log would name the duplicate).
#[test]
fn a_clock_set_back_after_archiving_cannot_accept_a_duplicate() {
    let mut f = fixture(1);
    let neg = f.event(&f.lab, 0, "negative_test", T0 - DAY, None);
    f.reg.submit(&neg, T0).unwrap();
    let head = f.reg.publish(T0 + 31 * DAY).unwrap().issued_at;
    raw(&f.path)
        .exec("DELETE FROM events WHERE accepted_at < ?1", &[Val::Int((head - MAX - 300 - 60) as i64)])
        .unwrap();
    clock_behind(f.reg.submit(&neg, T0 + 20 * DAY));
}

/// Attack 3 (succeeded before the fix): the operator logs a contact accepted at T0 + 45d with a
/// backdated acceptance time T0 + 29d (the contact dated within the window of that time). The
/// replay checked `at` only against the head that publishes it, never against the head before
/// it, so the contact, 45 days after its index case, passed; likewise a backdated retraction.
/// The replay now names an event or retraction accepted before the previous head's issue time
/// (beyond MAX_AHEAD), which the registry now refuses too.
#[test]
fn a_backdated_acceptance_time_is_named_by_the_audit() {
    let mut f = fixture(3);
    let pos = f.reg.submit(&f.event(&f.lab, 0, "positive_test", T0 - DAY, None), T0).unwrap();
    let neg = f.reg.submit(&f.event(&f.lab, 2, "negative_test", T0 - DAY, None), T0).unwrap();
    f.reg.publish(T0 + 45 * DAY).unwrap();
    let at = T0 + 29 * DAY;
    let contact = f.event(&f.tracer, 1, "close_contact", at - DAY, Some(pos));
    let id = hex::encode(contact.event.id());
    smuggle(&mut f, at, EntryBody::Event(contact), T0 + 45 * DAY + 10);
    let retraction = f.retraction(&f.lab, neg);
    smuggle(&mut f, at, EntryBody::Retraction(retraction), T0 + 45 * DAY + 20);
    let found = findings(&f.reg);
    assert!(found.contains(&id) && found.contains(&hex::encode(neg)), "{found}");
    assert!(found.contains("EventWindow") && found.contains("before the head"), "{found}");
}

/// Attack 1/2/3: the boundary is the same in registry and audit: at exactly `max` both accept,
/// at `max + 1` the registry refuses and the replay flags the smuggled entry, for contacts and
/// retractions. (Attack failed: they agree.)
#[test]
fn registry_and_audit_agree_at_the_boundary() {
    let mut f = fixture(4);
    let pos = f.reg.submit(&f.event(&f.lab, 0, "positive_test", T0 - DAY, None), T0).unwrap();
    let (a, b) = (
        f.event(&f.lab, 3, "negative_test", T0 - DAY, None),
        f.event(&f.lab, 3, "negative_test", T0 - 2 * DAY, None),
    );
    let (a, b) = (f.reg.submit(&a, T0).unwrap(), f.reg.submit(&b, T0).unwrap());
    f.reg.publish(T0).unwrap();
    f.reg.submit(&f.event(&f.tracer, 1, "close_contact", T0 + MAX - DAY, Some(pos)), T0 + MAX).unwrap();
    f.reg.retract(&f.retraction(&f.lab, a), T0 + MAX).unwrap();
    let late = f.event(&f.tracer, 2, "close_contact", T0 + MAX - DAY, Some(pos));
    let r = f.reg.submit(&late, T0 + MAX + 1);
    assert!(matches!(r, Err(RegistryError::Refused(Refusal::IndexCaseTooOld { .. }))), "{r:?}");
    let r = f.reg.retract(&f.retraction(&f.lab, b), T0 + MAX + 1);
    assert!(matches!(r, Err(RegistryError::Refused(Refusal::RetractionTooLate { .. }))), "{r:?}");
    f.reg.publish(T0 + MAX).unwrap();
    assert_eq!(findings(&f.reg), "", "the registry's own log at the boundary");
    let id = hex::encode(late.event.id());
    smuggle(&mut f, T0 + MAX + 1, EntryBody::Event(late), T0 + MAX + 2);
    let retraction = f.retraction(&f.lab, b);
    smuggle(&mut f, T0 + MAX + 1, EntryBody::Retraction(retraction), T0 + MAX + 3);
    let found = findings(&f.reg);
    assert!(found.contains(&id) && found.contains("max_index_case_age"), "{found}");
    assert!(found.contains(&hex::encode(b)) && found.contains("max_retraction_age"), "{found}");
}

/// Attack 1: an index case accepted in the same batch as its contact is 0 s old (accepted, and
/// the audit agrees); one later in the batch than its contact is unknown to it; one whose stored
/// `accepted_at` was moved forward behind the registry's back lets the registry accept a contact
/// 40 days on, but the replay reads the log's time and names it. (Attack failed.)
#[test]
fn same_batch_and_tampered_acceptance_times() {
    let mut f = fixture(4);
    let pos = f.event(&f.lab, 0, "positive_test", T0 - DAY, None);
    let pid = pos.event.id();
    let contact = f.event(&f.tracer, 1, "close_contact", T0 - DAY, Some(pid));
    let v = f.reg.submit_batch(&[contact.clone(), pos.clone(), contact], T0).unwrap();
    assert_eq!(v[0], Err(Refusal::IndexCaseUnknown(hex::encode(pid))));
    assert!(v[1].is_ok() && v[2].is_ok(), "{v:?}");
    f.reg.publish(T0).unwrap();
    audit_ok(&f.reg);
    raw(&f.path)
        .exec(
            "UPDATE events SET accepted_at = ?1 WHERE id = ?2",
            // Within the same month: PostgreSQL keeps each month's rows in its own partition.
            &[Val::Int((T0 + 10 * DAY) as i64), Val::Bytes(pid.to_vec())],
        )
        .unwrap();
    let at = T0 + 35 * DAY;
    let late = f.event(&f.tracer, 2, "close_contact", at - DAY, Some(pid));
    f.reg.submit(&late, at).unwrap();
    f.reg.publish(at).unwrap();
    let found = findings(&f.reg);
    assert!(found.contains(&hex::encode(late.event.id())) && found.contains("max_index_case_age"), "{found}");
}

/// Attack 1/2: times at the end of u64 neither panic nor wrap: the registry refuses (window,
/// retraction age), the replay names an event and a retraction accepted at u64::MAX, after the
/// head that publishes them. (Attack failed for the event; the retraction was named only for its
/// age, not for its acceptance time after the head: now both.)
#[test]
fn huge_times_do_not_wrap() {
    let mut f = fixture(2);
    let pos = f.reg.submit(&f.event(&f.lab, 0, "positive_test", T0 - DAY, None), T0).unwrap();
    f.reg.publish(T0).unwrap();
    let r = f.reg.submit(&f.event(&f.tracer, 1, "close_contact", T0, Some(pos)), u64::MAX);
    // PostgreSQL refuses first to make a partition for that month (a storage error, not a panic).
    assert!(
        matches!(r, Err(RegistryError::Refused(Refusal::TimeTooOld { .. })) | Err(RegistryError::Db(_))),
        "{r:?}"
    );
    let r = f.reg.retract(&f.retraction(&f.lab, pos), u64::MAX);
    assert!(matches!(r, Err(RegistryError::Refused(Refusal::RetractionTooLate { .. }))), "{r:?}");
    let contact: SignedEvent = f.event(&f.tracer, 1, "close_contact", T0, Some(pos));
    smuggle(&mut f, u64::MAX, EntryBody::Event(contact), T0 + 10);
    let retraction = f.retraction(&f.lab, pos);
    smuggle(&mut f, u64::MAX, EntryBody::Retraction(retraction), T0 + 20);
    assert_eq!(replay_all_kinds(&f.reg), vec![FindingKind::EventWindow; 2]);
}

fn replay_all_kinds(reg: &Registry) -> Vec<FindingKind> {
    let entries = reg.log_entries(0, reg.head().unwrap().log_size).unwrap();
    let r = replay_all(&entries, &reg.heads().unwrap(), &reg.public_key(), reg.policy());
    // (Head mismatches follow from the registry applying what the replay refuses.)
    r.findings.iter().map(|f| f.kind).filter(|k| *k != FindingKind::HeadMismatch).collect()
}

/// Attack 4: malformed or huge bounds give errors with line and column, never a panic; the
/// largest duration (2^40 - 1 s) parses and, with it, nothing overflows; `0s` allows only an
/// index case accepted in the same second. (Attack failed.)
#[test]
fn malformed_and_extreme_bounds_in_the_policy() {
    let line = |src: &str, key: &str| src.lines().position(|l| l.starts_with(key)).unwrap() + 1;
    for (value, message) in [
        ("\"30\"", "needs a unit"),
        ("30", "invalid type"),
        ("\"-1d\"", "invalid duration"),
        ("\"\"", "invalid duration"),
        ("\"30y\"", "unknown duration unit"),
        ("\"1099511627776s\"", "too long"),
        ("\"99999999999999999999999d\"", "too long"),
        ("\"30d\"\nmax_index_case_age = \"1d\"", "duplicate key"),
    ] {
        for key in ["max_index_case_age", "max_retraction_age"] {
            let src = POLICY.replace(&format!("{key} = \"30d\""), &format!("{key} = {value}"));
            let err = Policy::parse(&src).expect_err(value);
            let want = if message == "duplicate key" { line(&src, key) + 1 } else { line(&src, key) };
            assert!(err.line == want && err.to_string().contains(message), "{key} = {value}: {err}");
        }
    }
    let top = POLICY.replace("max_index_case_age = \"30d\"", "max_index_case_age = \"1099511627775s\"");
    assert_eq!(Policy::parse(&top).unwrap().max_index_case_age, (1 << 40) - 1);
    let zero = POLICY.replace("max_index_case_age = \"30d\"", "max_index_case_age = \"0s\"");
    let dir = tempfile::tempdir().unwrap();
    let mut f = fixture(3);
    f.reg = Registry::init(&new_db(dir.path()), &zero, T0 - DAY).unwrap();
    f.reg.add_signer("lab", healthcode_registry::Role::Lab, f.lab.verifying_key(), 0, T0 - DAY).unwrap();
    f.reg
        .add_signer("tracer", healthcode_registry::Role::Tracer, f.tracer.verifying_key(), 0, T0 - DAY)
        .unwrap();
    for h in &f.holders {
        f.reg.enroll(h.commitment, T0 - DAY).unwrap();
    }
    let pos = f.event(&f.lab, 0, "positive_test", T0 - DAY, None);
    let pid = pos.event.id();
    let v =
        f.reg.submit_batch(&[pos, f.event(&f.tracer, 1, "close_contact", T0 - DAY, Some(pid))], T0).unwrap();
    assert!(v.iter().all(Result::is_ok), "{v:?}");
    let r = f.reg.submit(&f.event(&f.tracer, 2, "close_contact", T0 - DAY, Some(pid)), T0 + 1);
    assert!(matches!(r, Err(RegistryError::Refused(Refusal::IndexCaseTooOld { .. }))), "{r:?}");
}

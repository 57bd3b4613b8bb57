//! Red team of archiving (`Registry::archive`, `registry/src/registry/archive.rs`) and of the
//! clock rule it relies on (acceptance refused more than `MAX_AHEAD` behind the latest head), on
//! the engine the tests run on (SQLite, or PostgreSQL with `HEALTHCODE_TEST_PG`). Each test's
//! documentation says the attack and whether it succeeded.

mod common;
use common::*;
use healthcode_circuits::Fr;
use healthcode_registry::audit::replay;
use healthcode_registry::event::Role;
use healthcode_registry::history::IndexCaseStatus;
use healthcode_registry::registry::{Refusal, RegistryError, MAX_AHEAD};
use healthcode_registry::store::Val;
use healthcode_registry::{HolderFile, Registry};

/// 2022-06-01, 2022-07-01 and 2022-08-01, 00:00 UTC.
const JUNE: u64 = 1_654_041_600;
const JULY: u64 = 1_656_633_600;
const AUGUST: u64 = 1_659_312_000;

/// A registry on `policy` (the sample policy with some lines replaced), set up as
/// `common::fixture` does: `n` holders enrolled and published at `T0 − 10 days`.
fn fixture_with(policy: &str, n: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = new_db(dir.path());
    let start = T0 - 10 * DAY;
    let mut reg = Registry::init(&path, policy, start).unwrap();
    let (lab, tracer) = (key(1), key(2));
    reg.add_signer("lab", Role::Lab, lab.verifying_key(), 0, start).unwrap();
    reg.add_signer("tracer", Role::Tracer, tracer.verifying_key(), 0, start).unwrap();
    let holders: Vec<HolderFile> =
        (0..n).map(|i| HolderFile::from_secret(Fr::from(1000 + i as u64), Fr::from(7 + i as u64))).collect();
    for h in &holders {
        reg.enroll(h.commitment, start).unwrap();
    }
    reg.publish(start).unwrap();
    Fixture { dir, path, reg, lab, tracer, holders }
}

/// The sample policy with `key = "30d"` replaced by `key = value`, for each pair.
fn policy(changes: &[(&str, &str)]) -> String {
    let mut src = POLICY.to_string();
    for (key, value) in changes {
        let line = src.lines().find(|l| l.starts_with(&format!("{key} ="))).unwrap().to_string();
        src = src.replace(&line, &format!("{key} = \"{value}\""));
    }
    src
}

/// Every holder's stored state equals the auditor's replay of the log (and the heads' roots
/// agree with it: `audit_ok`).
fn states_match_replay(reg: &Registry) {
    audit_ok(reg);
    let head = reg.head().unwrap();
    let entries = reg.log_entries(0, head.log_size).unwrap();
    let r = replay(&entries, &reg.heads().unwrap(), &reg.public_key(), reg.policy()).unwrap();
    let stored: Vec<Vec<u64>> = reg.stored_states().unwrap().into_iter().map(|(_, s)| s).collect();
    assert_eq!(stored, r.states, "stored states against the replay");
}

fn rows(f: &Fixture) -> i64 {
    raw(&f.path).value("SELECT COUNT(*) FROM events", &[]).unwrap().unwrap()
}

/// Boundary of the duplicate window, the binding look-back of the sample policy (30 d + 5 min):
/// with the latest head exactly `look_back + MAX_AHEAD` after 1 July, the cutoff is 1 July 00:00
/// itself. An event accepted at that second stays (its copy, submitted at the earliest `now` the
/// clock rule allows, is refused as a duplicate); one accepted a second before is archived, and
/// its copy is refused by the event window, as the auditor's replay would. One second further
/// back the clock rule refuses. (Attack failed: no off-by-one.)
#[test]
fn the_row_at_the_exact_cutoff_stays_and_its_copy_is_a_duplicate() {
    let mut f = fixture(3);
    let look_back = f.reg.look_back();
    assert_eq!(look_back, 30 * DAY + 300);
    let before = f.event(&f.lab, 0, "negative_test", JULY - 1 + 300, None);
    let at = f.event(&f.lab, 1, "negative_test", JULY + 300, None);
    f.reg.submit(&before, JULY - 1).unwrap();
    f.reg.submit(&at, JULY).unwrap();
    f.reg.publish(JULY).unwrap();
    let head = JULY + look_back + MAX_AHEAD;
    f.reg.publish(head).unwrap();
    let a = f.reg.archive().unwrap();
    assert_eq!((a.before, a.events, a.floors), (JULY, 1, 1), "{a:?}");
    assert_eq!(rows(&f), 1);
    let now = head - MAX_AHEAD;
    let r = f.reg.submit(&at, now);
    assert!(matches!(r, Err(RegistryError::Refused(Refusal::Duplicate(_)))), "{r:?}");
    let r = f.reg.submit(&before, now);
    assert!(matches!(r, Err(RegistryError::Refused(Refusal::TimeTooOld { .. }))), "{r:?}");
    let r = f.reg.submit(&before, now - 1);
    assert!(matches!(r, Err(RegistryError::ClockBehind { .. })), "{r:?}");
    assert_eq!(rows(&f), 1);
    states_match_replay(&f.reg);
}

/// Boundaries of the index-case and retraction ages when they are the binding look-back (40
/// days): a positive test accepted at 1 July 00:00 exactly is kept by an archive under a head 40
/// days and 60 s later, so a contact citing it and its retraction, both at the last second the
/// ages allow and the earliest the clock rule allows, are accepted; the one accepted a second
/// earlier is archived, and the same contact and retraction are refused (the contact's case as
/// unknown or archived), where the auditor would have found them too old anyway. Publishing and
/// replaying agree. (Attack failed.)
#[test]
fn index_case_and_retraction_ages_at_the_exact_cutoff() {
    let p = policy(&[("max_index_case_age", "40d"), ("max_retraction_age", "40d")]);
    let mut f = fixture_with(&p, 4);
    assert_eq!(f.reg.look_back(), 40 * DAY);
    let old = f.reg.submit(&f.event(&f.lab, 0, "positive_test", JULY - DAY, None), JULY - 1).unwrap();
    let edge = f.reg.submit(&f.event(&f.lab, 1, "positive_test", JULY - DAY, None), JULY).unwrap();
    f.reg.publish(JULY).unwrap();
    let head = JULY + 40 * DAY + MAX_AHEAD;
    f.reg.publish(head).unwrap();
    let a = f.reg.archive().unwrap();
    assert_eq!((a.before, a.events), (JULY, 1), "{a:?}");
    let now = head - MAX_AHEAD;
    let r = f.reg.submit(&f.event(&f.tracer, 2, "close_contact", now - DAY, Some(old)), now);
    assert!(
        matches!(r, Err(RegistryError::Refused(Refusal::IndexCaseUnknownOrArchived { before: JULY, .. }))),
        "{r:?}"
    );
    f.reg.submit(&f.event(&f.tracer, 3, "close_contact", now - DAY, Some(edge)), now).unwrap();
    let r = f.reg.retract(&f.retraction(&f.lab, old), now);
    assert!(matches!(r, Err(RegistryError::Refused(Refusal::UnknownEvent(_)))), "{r:?}");
    f.reg.retract(&f.retraction(&f.lab, edge), now).unwrap();
    let r = f.reg.retract(&f.retraction(&f.lab, edge), now + 1);
    assert!(matches!(r, Err(RegistryError::Refused(Refusal::AlreadyRetracted(_)))), "{r:?}");
    // (A publish must sign after the latest head: at `head`, not at `now`.)
    f.reg.publish(head).unwrap();
    states_match_replay(&f.reg);
    // Holder 0 keeps her archived positive test (her floor); holder 1's is retracted.
    let states = f.reg.stored_states().unwrap();
    assert_eq!(states[0].1[0], JULY - DAY);
    assert_eq!(states[1].1[0], 0);
}

/// A policy whose look-back is 0 (every window and age `0s`): the archive takes every whole
/// month before the latest head minus 60 s. Rows of the month of that second stay and still
/// refuse their copies; an earlier row's copy is refused by the window. (Attack failed.)
#[test]
fn a_look_back_of_zero() {
    let p = policy(&[
        ("max_event_ahead", "0s"),
        ("max_event_behind", "0s"),
        ("max_index_case_age", "0s"),
        ("max_retraction_age", "0s"),
    ]);
    let mut f = fixture_with(&p, 3);
    assert_eq!(f.reg.look_back(), 0);
    let before = f.event(&f.lab, 0, "positive_test", JULY - 1, None);
    let at = f.event(&f.lab, 1, "positive_test", JULY, None);
    f.reg.submit(&before, JULY - 1).unwrap();
    f.reg.submit(&at, JULY).unwrap();
    f.reg.publish(JULY).unwrap();
    f.reg.publish(JULY + MAX_AHEAD).unwrap();
    let a = f.reg.archive().unwrap();
    assert_eq!((a.before, a.events, a.floors), (JULY, 1, 1), "{a:?}");
    let r = f.reg.submit(&at, JULY);
    assert!(matches!(r, Err(RegistryError::Refused(Refusal::Duplicate(_)))), "{r:?}");
    let r = f.reg.submit(&before, JULY);
    assert!(matches!(r, Err(RegistryError::Refused(Refusal::TimeTooOld { .. }))), "{r:?}");
    states_match_replay(&f.reg);
}

/// The largest look-back a policy can state (2^40 − 1 s for every bound): the cutoff saturates
/// at 0, nothing is archived, nothing overflows. (Attack failed.)
#[test]
fn the_largest_look_back_archives_nothing() {
    let top = "1099511627775s";
    let p = policy(&[
        ("max_event_ahead", top),
        ("max_event_behind", top),
        ("max_index_case_age", top),
        ("max_retraction_age", top),
    ]);
    let mut f = fixture_with(&p, 2);
    assert_eq!(f.reg.look_back(), (1 << 41) - 2);
    f.reg.submit(&f.event(&f.lab, 0, "positive_test", T0, None), T0).unwrap();
    f.reg.publish(T0).unwrap();
    f.reg.publish(T0 + 400 * DAY).unwrap();
    let a = f.reg.archive().unwrap();
    assert_eq!((a.before, a.events, a.floors), (0, 0, 0), "{a:?}");
    assert_eq!(rows(&f), 1);
    states_match_replay(&f.reg);
}

/// A head far past every event time (a clock set to the end of `u64`, which `publish` signs):
/// the archive's month arithmetic must neither panic nor wrap (`boundary as i64` is negative
/// past `i64::MAX`: SQLite then deleted nothing but recorded the boundary, PostgreSQL dropped
/// every month without raising a floor: the positive test's row gone, no floor, and the DB
/// audit finding the archive's own work damaged; with a look-back of 0 the next month's bound
/// overflowed, a panic with overflow checks). Attack SUCCEEDED; fixed: the archive refuses a
/// cutoff past `MAX_PARTITION_TIME`, changing nothing.
#[test]
fn a_head_at_the_end_of_time_is_not_archived_from() {
    let zero = policy(&[
        ("max_event_ahead", "0s"),
        ("max_event_behind", "0s"),
        ("max_index_case_age", "0s"),
        ("max_retraction_age", "0s"),
    ]);
    let cases = [
        (POLICY.to_string(), u64::MAX - 1),
        (POLICY.to_string(), (1 << 63) + 100 * DAY),
        (POLICY.to_string(), i64::MAX as u64 / 2 + 100 * DAY),
        (zero, u64::MAX - 1),
    ];
    for (p, issued) in cases {
        let mut f = fixture_with(&p, 2);
        f.reg.submit(&f.event(&f.lab, 0, "positive_test", T0, None), T0).unwrap();
        f.reg.publish(T0).unwrap();
        f.reg.publish(issued).unwrap();
        let before = f.snapshot();
        let r = f.reg.archive();
        assert!(matches!(r, Err(RegistryError::Archive(_))), "{issued}: {r:?}");
        assert_eq!(f.snapshot(), before);
        assert_eq!(f.reg.archived_before().unwrap(), 0);
        assert!(f.reg.stored_floors().unwrap().is_empty());
    }
}

fn state(reg: &Registry, leaf: u32) -> Vec<u64> {
    reg.stored_states().unwrap().into_iter().find(|(l, _)| *l == leaf).unwrap().1
}

/// Archiving with entries in the queue: an enrolment, a new positive test of a holder whose June
/// positive test is being archived, and its retraction, all accepted after the latest head. The
/// archive takes June and leaves the queue; the publish then recomputes her state from her floor
/// (the June test stays), and the new holder is published. States equal the replay. (Attack
/// failed.)
#[test]
fn archive_with_a_queued_event_retraction_and_enrolment() {
    let mut f = fixture(2);
    f.reg.submit(&f.event(&f.lab, 0, "positive_test", JUNE + 10 * DAY, None), JUNE + 10 * DAY).unwrap();
    f.reg.submit(&f.event(&f.lab, 1, "negative_test", JUNE + 10 * DAY, None), JUNE + 10 * DAY).unwrap();
    f.reg.publish(JUNE + 10 * DAY).unwrap();
    let h = AUGUST + 10 * DAY;
    f.reg.publish(h).unwrap();
    let later = f.reg.submit(&f.event(&f.lab, 0, "positive_test", h - 2 * DAY, None), h).unwrap();
    f.reg.retract(&f.retraction(&f.lab, later), h + 1).unwrap();
    let newcomer = HolderFile::from_secret(Fr::from(5000), Fr::from(77));
    let leaf = f.reg.enroll(newcomer.commitment, h + 1).unwrap();
    assert_eq!(f.reg.queue_len().unwrap(), 3);
    let a = f.reg.archive().unwrap();
    assert_eq!((a.before, a.events, a.floors), (JULY, 2, 2), "{a:?}");
    assert_eq!(f.reg.queue_len().unwrap(), 3, "the queue is untouched");
    f.reg.publish(h + 2).unwrap();
    assert_eq!(state(&f.reg, 0)[0], JUNE + 10 * DAY, "her archived positive test is kept");
    assert_eq!(state(&f.reg, leaf), vec![0; 4]);
    let hist = f.reg.history(leaf).unwrap();
    assert!(hist.events.is_empty() && hist.archived_before == JULY, "{hist:?}");
    states_match_replay(&f.reg);
}

/// A tampered `archived_before` meta: the wrong length gives a `Corrupt` error from the archive
/// and from histories (no panic); `u64::MAX` makes the archive a no-op and a history still lists
/// the rows (the database audit names every row as kept past the boundary); acceptance never
/// reads it. (Attack failed.)
#[test]
fn a_tampered_archive_boundary() {
    let mut f = fixture(2);
    f.reg.submit(&f.event(&f.lab, 0, "positive_test", T0, None), T0).unwrap();
    f.reg.publish(T0).unwrap();
    let db = raw(&f.path);
    let set = |v: Vec<u8>| {
        db.set_meta("archived_before", &v).unwrap();
    };
    set(vec![1, 2, 3]);
    let r = f.reg.archive();
    assert!(matches!(r, Err(RegistryError::Corrupt(_))), "{r:?}");
    let r = f.reg.history(0);
    assert!(matches!(r, Err(RegistryError::Corrupt(_))), "{r:?}");
    f.reg.submit(&f.event(&f.lab, 1, "negative_test", T0, None), T0 + 1).unwrap();
    set(u64::MAX.to_be_bytes().to_vec());
    f.reg.publish(T0 + 60 * DAY).unwrap();
    let a = f.reg.archive().unwrap();
    assert_eq!((a.before, a.events, a.floors), (u64::MAX, 0, 0));
    assert_eq!(rows(&f), 2);
    let h = f.reg.history(0).unwrap();
    assert_eq!((h.events.len(), h.archived_before), (1, u64::MAX));
}

/// A month whose retraction is stored but not published (only a damaged database has one) is not
/// archived: its row is what the queued retraction's publish reads, and archiving it would leave
/// a queue that can never be published ("a queued retraction's event is gone"). (Attack failed.)
#[test]
fn an_unpublished_retraction_stops_the_archive() {
    let mut f = fixture(2);
    let e = f.reg.submit(&f.event(&f.lab, 0, "positive_test", T0, None), T0).unwrap();
    f.reg.publish(T0).unwrap();
    f.reg.retract(&f.retraction(&f.lab, e), T0 + DAY).unwrap();
    f.reg.publish(T0 + DAY).unwrap();
    f.reg.publish(T0 + 60 * DAY).unwrap();
    raw(&f.path).exec("UPDATE events SET retraction_log_idx = NULL", &[]).unwrap();
    let before = f.snapshot();
    let r = f.reg.archive();
    assert!(matches!(&r, Err(RegistryError::Archive(m)) if m.contains("not published")), "{r:?}");
    assert_eq!(f.snapshot(), before);
    assert_eq!(f.reg.archived_before().unwrap(), 0);
}

/// Enrolment-only holders (one enrolled before the archived months, none of whose events exist)
/// get no floor, keep their zero state, and their histories and witnesses answer; a retraction of
/// another holder's event publishes. (Attack failed.)
#[test]
fn an_enrolment_only_holder() {
    let mut f = fixture(3);
    f.reg.submit(&f.event(&f.lab, 0, "positive_test", T0, None), T0).unwrap();
    f.reg.publish(T0).unwrap();
    f.reg.publish(AUGUST + 10 * DAY).unwrap();
    let a = f.reg.archive().unwrap();
    assert_eq!((a.before, a.events, a.floors), (JULY, 1, 1), "{a:?}");
    assert_eq!(f.reg.stored_floors().unwrap().len(), 1);
    let now = AUGUST + 10 * DAY;
    let e = f.reg.submit(&f.event(&f.lab, 1, "positive_test", now - DAY, None), now).unwrap();
    f.reg.retract(&f.retraction(&f.lab, e), now).unwrap();
    f.reg.publish(now + 1).unwrap();
    for leaf in [1, 2] {
        assert_eq!(state(&f.reg, leaf), vec![0; 4]);
        let h = f.reg.history(leaf).unwrap();
        assert_eq!(h.archived_before, JULY);
    }
    states_match_replay(&f.reg);
}

/// Three archives, month after month, each followed by retractions that make publishes
/// recompute states from the floors (a retracted event in a later month never reaches a floor;
/// a live one does at the next archive). After every step the stored states equal the replay.
/// (Attack failed.)
#[test]
fn archives_month_after_month_with_retractions_between() {
    let mut f = fixture(3);
    let sept = AUGUST + 31 * DAY;
    let oct = sept + 30 * DAY;
    f.reg.submit(&f.event(&f.lab, 0, "positive_test", JUNE + 5 * DAY, None), JUNE + 5 * DAY).unwrap();
    f.reg.submit(&f.event(&f.lab, 1, "negative_test", JUNE + 5 * DAY, None), JUNE + 5 * DAY).unwrap();
    f.reg.publish(JUNE + 5 * DAY).unwrap();
    f.reg.submit(&f.event(&f.lab, 0, "negative_test", JULY + 5 * DAY, None), JULY + 5 * DAY).unwrap();
    let p1 =
        f.reg.submit(&f.event(&f.lab, 1, "positive_test", JULY + 5 * DAY, None), JULY + 5 * DAY).unwrap();
    f.reg.publish(JULY + 5 * DAY).unwrap();
    for (month, next) in [(AUGUST, sept), (sept, oct), (oct, oct + 31 * DAY)] {
        let now = month + 5 * DAY;
        f.reg.publish(now).unwrap();
        let a = f.reg.archive().unwrap();
        assert!(a.before < month, "{a:?}");
        states_match_replay(&f.reg);
        // In this month, for each holder: a positive test that is retracted and a negative test
        // that stays; holder 2 gets a contact citing holder 1's July test, refused.
        for h in 0..2u32 {
            let pos = f.reg.submit(&f.event(&f.lab, h, "positive_test", now - DAY, None), now + 10).unwrap();
            f.reg.submit(&f.event(&f.lab, h, "negative_test", now - 2 * DAY, None), now + 10).unwrap();
            f.reg.publish(now + 10).unwrap();
            f.reg.retract(&f.retraction(&f.lab, pos), now + 20).unwrap();
            f.reg.publish(now + 20).unwrap();
            states_match_replay(&f.reg);
        }
        let r = f.reg.submit(&f.event(&f.tracer, 2, "close_contact", now, Some(p1)), now + 30);
        // Too old in August (its row is there), unknown once July is archived.
        assert!(
            matches!(
                r,
                Err(RegistryError::Refused(
                    Refusal::IndexCaseTooOld { .. } | Refusal::IndexCaseUnknownOrArchived { .. }
                ))
            ),
            "{month}: {r:?}"
        );
        f.reg.publish(now + 30).unwrap();
        assert!(next > now);
    }
    assert_eq!(f.reg.archived_before().unwrap(), sept);
    states_match_replay(&f.reg);
}

/// The clock rule at its edge after an archive, for retractions: `MAX_AHEAD` behind the latest
/// head is accepted, a second more is refused with nothing stored. (Attack failed.)
#[test]
fn a_retraction_at_the_clock_edge() {
    let mut f = fixture(2);
    f.reg.submit(&f.event(&f.lab, 0, "positive_test", T0, None), T0).unwrap();
    f.reg.publish(T0).unwrap();
    let now = AUGUST + 10 * DAY;
    f.reg.publish(now).unwrap();
    f.reg.archive().unwrap();
    let a = f.reg.submit(&f.event(&f.lab, 1, "positive_test", now - DAY, None), now).unwrap();
    let b = f.reg.submit(&f.event(&f.lab, 1, "negative_test", now - DAY, None), now).unwrap();
    let head = f.reg.publish(now + MAX_AHEAD).unwrap();
    let before = f.snapshot();
    let r = f.reg.retract(&f.retraction(&f.lab, a), head.issued_at - MAX_AHEAD - 1);
    assert!(matches!(r, Err(RegistryError::ClockBehind { .. })), "{r:?}");
    assert_eq!(f.snapshot(), before);
    f.reg.retract(&f.retraction(&f.lab, b), head.issued_at - MAX_AHEAD).unwrap();
    f.reg.publish(head.issued_at).unwrap();
    states_match_replay(&f.reg);
}

/// June (T0) and July events, published, and a head on 10 August: an archive would take June
/// (floor: holder 0's positive test) and keep July (holder 1's negative test).
fn june_and_july(f: &mut Fixture) {
    f.reg.submit(&f.event(&f.lab, 0, "positive_test", T0, None), T0).unwrap();
    f.reg.publish(T0).unwrap();
    f.reg.submit(&f.event(&f.lab, 1, "negative_test", JULY + DAY, None), JULY + DAY).unwrap();
    f.reg.publish(JULY + DAY).unwrap();
    f.reg.publish(AUGUST + 10 * DAY).unwrap();
}

/// PostgreSQL: SQL injection through `event_partitions`. A partition attached under a quoted
/// name carrying a statement (`events_2022_06; DROP TABLE holders`), recorded in
/// `event_partitions` so that the schema check passes, is refused by the name check before any
/// statement is built: the archive fails, the transaction rolls back (June's partition, dropped
/// earlier in the same loop, is back), `holders` is there. (Attack failed.)
#[test]
fn postgres_an_injected_partition_name() {
    if !on_postgres() {
        eprintln!("postgres_an_injected_partition_name: PostgreSQL only");
        return;
    }
    let mut f = fixture(2);
    june_and_july(&mut f);
    let db = raw(&f.path);
    let evil = "events_2022_06; DROP TABLE holders";
    db.exec(
        &format!(
            "CREATE TABLE \"{evil}\" PARTITION OF events FOR VALUES FROM (100000000000) TO (100000000001)"
        ),
        &[],
    )
    .unwrap();
    db.exec("INSERT INTO event_partitions (name) VALUES (?1)", &[Val::Text(evil.into())]).unwrap();
    let mut reg = Registry::open(&f.path).unwrap();
    let before = f.snapshot();
    let r = reg.archive();
    assert!(r.is_err(), "{r:?}");
    assert!(format!("{:?}", r.unwrap_err()).contains("an events partition is named"));
    assert_eq!(f.snapshot(), before, "holders, events and everything else are unchanged");
    assert_eq!(reg.archived_before().unwrap(), 0);
    assert!(reg.stored_floors().unwrap().is_empty());
    let parts: i64 = db.value("SELECT COUNT(*) FROM event_partitions", &[]).unwrap().unwrap();
    assert_eq!(parts, 3, "June, July and the injected name");
}

/// PostgreSQL: a month partition renamed to an earlier month's name (July's rows, which the
/// rules still read, in a table named `events_2022_05`, recorded as such). The schema check
/// only compares names, so the registry opens, and the archive took the name for the bounds:
/// it dropped July's partition while raising floors only from the rows accepted before July,
/// losing holder 1's rows (kept neither as rows nor as a floor; the duplicate and retraction
/// checks no longer see them). Attack SUCCEEDED; fixed: a partition is dropped only if its
/// attached bounds (`pg_get_expr(relpartbound)`) are the ones its name stands for; otherwise
/// the archive fails and changes nothing. The converse (June's partition renamed to a later
/// month, so not dropped) left June's row stored past the recorded boundary although its floor
/// counted it archived; fixed too: after dropping, the archive checks that no row before the
/// boundary is left, on both engines.
#[test]
fn postgres_a_partition_renamed_to_another_month() {
    if !on_postgres() {
        eprintln!("postgres_a_partition_renamed_to_another_month: PostgreSQL only");
        return;
    }
    for (from, to, message) in [("07", "05", "is not attached"), ("06", "09", "still stored")] {
        let mut f = fixture(2);
        june_and_july(&mut f);
        let db = raw(&f.path);
        db.exec(&format!("ALTER TABLE events_2022_{from} RENAME TO events_2022_{to}"), &[]).unwrap();
        db.exec(
            "UPDATE event_partitions SET name = ?1 WHERE name = ?2",
            &[Val::Text(format!("events_2022_{to}")), Val::Text(format!("events_2022_{from}"))],
        )
        .unwrap();
        let mut reg = Registry::open(&f.path).unwrap();
        let before = f.snapshot();
        let r = reg.archive();
        assert!(matches!(&r, Err(e) if e.to_string().contains(message)), "{from} as {to}: {r:?}");
        assert_eq!(f.snapshot(), before);
        assert_eq!(rows(&f), 2);
        assert_eq!(reg.archived_before().unwrap(), 0);
        assert!(reg.stored_floors().unwrap().is_empty());
    }
}

/// History of a contact whose index case was archived while the contact was not, and of the
/// holder whose positive test it was: `Archived` status and the boundary, no error. (Attack
/// failed.)
#[test]
fn a_history_citing_an_archived_index_case() {
    let mut f = fixture(2);
    let pos = f.reg.submit(&f.event(&f.lab, 0, "positive_test", JULY - DAY, None), JULY - 1).unwrap();
    f.reg.publish(JULY).unwrap();
    f.reg.submit(&f.event(&f.tracer, 1, "close_contact", JULY, Some(pos)), JULY + 1).unwrap();
    f.reg.publish(JULY + 1).unwrap();
    f.reg.publish(AUGUST + 10 * DAY).unwrap();
    let a = f.reg.archive().unwrap();
    assert_eq!((a.before, a.events), (JULY, 1), "{a:?}");
    let h = f.reg.history(1).unwrap();
    assert_eq!(h.events.len(), 1);
    assert_eq!(h.events[0].index_case_status, Some(IndexCaseStatus::Archived));
    assert!(h.events[0].inclusion.is_some());
    let h = f.reg.history(0).unwrap();
    assert!(h.events.is_empty() && h.archived_before == JULY);
    assert_eq!(h.state.unwrap()["positive_test"], JULY - DAY);
}

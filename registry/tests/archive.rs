//! Archiving old months (`Registry::archive`, `registry/src/registry/archive.rs`), on the engine
//! the tests run on (SQLite, or PostgreSQL with `HEALTHCODE_TEST_PG`). Each test is an attack
//! or a way archiving could lose something: a state recomputed without the archived events, a
//! month archived that the rules still read, a damaged queue archived, a registry that no longer
//! opens or answers.

mod common;
use common::*;
use healthcode_registry::history::IndexCaseStatus;
use healthcode_registry::registry::{Refusal, RegistryError};
use healthcode_registry::store::Val;
use healthcode_registry::Registry;

/// 2022-06-01 and 2022-07-01, 00:00 UTC: the month of the fixtures' T0 (2022-06-14) and the next.
const JUNE: u64 = 1_654_041_600;
const JULY: u64 = 1_656_633_600;

/// Events in June and July 2022 (holder 0: a negative test and a positive test in June; holder
/// 1: a contact on 2 July whose index case is that positive test; holder 2: a June negative
/// test, retracted), published; returns the positive test's id.
fn june_and_july(f: &mut Fixture) -> [u8; 32] {
    let neg = f.event(&f.lab, 0, "negative_test", T0 - DAY, None);
    f.reg.submit(&neg, T0).unwrap();
    let other = f.reg.submit(&f.event(&f.lab, 2, "negative_test", T0 - DAY, None), T0).unwrap();
    f.reg.publish(T0).unwrap();
    f.reg.retract(&f.retraction(&f.lab, other), T0 + DAY).unwrap();
    let pos = f.reg.submit(&f.event(&f.lab, 0, "positive_test", T0 + 14 * DAY, None), T0 + 15 * DAY).unwrap();
    f.reg.publish(T0 + 15 * DAY).unwrap();
    let at = JULY + DAY;
    f.reg.submit(&f.event(&f.tracer, 1, "close_contact", at - DAY, Some(pos)), at).unwrap();
    f.reg.publish(at).unwrap();
    pos
}

fn state(reg: &Registry, leaf: u32) -> Vec<u64> {
    reg.stored_states().unwrap().into_iter().find(|(l, _)| *l == leaf).unwrap().1
}

/// Nothing is archived while a month may still be read. With the latest head on 13 August,
/// `look_back` (30 days and 5 minutes) and 60 s reach back to 14 July, so June goes and July
/// stays; a second call archives nothing more. Rows, floors and the boundary are as expected.
#[test]
fn whole_months_beyond_the_look_back_go_and_no_more() {
    let mut f = fixture(3);
    june_and_july(&mut f);
    // On 29 July the look-back reaches 29 June: June is still read (the positive test of 29 June
    // may be retracted, or cited by a contact, until then), so no row goes.
    f.reg.publish(T0 + 45 * DAY).unwrap();
    let none = f.reg.archive().unwrap();
    assert_eq!((none.before, none.events, none.floors), (JUNE, 0, 0));
    let rows: i64 = raw(&f.path).value("SELECT COUNT(*) FROM events", &[]).unwrap().unwrap();
    assert_eq!(rows, 4);
    f.reg.publish(T0 + 60 * DAY).unwrap();
    let a = f.reg.archive().unwrap();
    assert_eq!((a.before, a.events, a.floors), (JULY, 3, 1), "{a:?}");
    assert_eq!(f.reg.archived_before().unwrap(), JULY);
    let left: i64 = raw(&f.path).value("SELECT COUNT(*) FROM events", &[]).unwrap().unwrap();
    assert_eq!(left, 1, "only July's contact stays");
    // Holder 0's floor is her June maximum per kind; holder 2's only event was retracted.
    let floors = f.reg.stored_floors().unwrap();
    assert_eq!(floors, vec![(0, state(&f.reg, 0))]);
    let again = f.reg.archive().unwrap();
    assert_eq!((again.before, again.events, again.floors), (JULY, 0, 0));
    // The registry opens again (on PostgreSQL the schema check accepts the dropped month: it is
    // no longer recorded), serves every witness and the log still replays to every head.
    let reg = Registry::open(&f.path).unwrap();
    audit_ok(&reg);
}

/// The attack archiving invites: a retraction makes a publish recompute the holder's state from
/// her stored events, and her June positive test is no longer stored. Without floors her state
/// loses it (a red code turned green by a retraction of something else) and the head no longer
/// matches the log's replay. With them it is kept, and the audit replays clean.
#[test]
fn a_retraction_after_archiving_keeps_the_archived_positive_test() {
    let mut f = fixture(3);
    june_and_july(&mut f);
    f.reg.publish(T0 + 60 * DAY).unwrap();
    f.reg.archive().unwrap();
    let before = state(&f.reg, 0);
    let now = T0 + 61 * DAY;
    let neg = f.reg.submit(&f.event(&f.lab, 0, "negative_test", now - DAY, None), now).unwrap();
    f.reg.publish(now).unwrap();
    f.reg.retract(&f.retraction(&f.lab, neg), now + 10).unwrap();
    f.reg.publish(now + 10).unwrap();
    assert_eq!(state(&f.reg, 0), before, "the state after the retraction is her June state");
    audit_ok(&f.reg);
}

/// What an archived event can still be used for: its copy is refused (by the event window, which
/// is why archiving its row is safe), its retraction is refused as an unknown event, a new
/// contact naming it is refused with a reason that says it may be archived (not merely
/// "unknown", which would send a tracer looking for a typo), and a history that cites it as an
/// index case says it is archived instead of failing.
#[test]
fn archived_events_cannot_be_replayed_retracted_or_lost_from_histories() {
    let mut f = fixture(3);
    let pos = june_and_july(&mut f);
    f.reg.publish(T0 + 60 * DAY).unwrap();
    f.reg.archive().unwrap();
    let now = T0 + 60 * DAY + 100;
    let copy = f.event(&f.lab, 0, "positive_test", T0 + 14 * DAY, None);
    let r = f.reg.submit(&copy, now);
    assert!(matches!(r, Err(RegistryError::Refused(Refusal::TimeTooOld { .. }))), "{r:?}");
    let r = f.reg.retract(&f.retraction(&f.lab, pos), now);
    assert!(matches!(r, Err(RegistryError::Refused(Refusal::UnknownEvent(_)))), "{r:?}");
    let contact = f.event(&f.tracer, 2, "close_contact", now - DAY, Some(pos));
    let r = f.reg.submit(&contact, now);
    let want = Refusal::IndexCaseUnknownOrArchived { id: hex::encode(pos), before: JULY };
    assert!(matches!(&r, Err(RegistryError::Refused(got)) if *got == want), "{r:?}");
    let h = f.reg.history(1).unwrap();
    assert_eq!(h.archived_before, JULY);
    assert_eq!(h.events.len(), 1);
    assert_eq!(h.events[0].index_case_status, Some(IndexCaseStatus::Archived));
    assert!(f.reg.history(0).unwrap().events.is_empty());
}

/// A month holding an event that is not published (only a damaged database can have one: it
/// would be accepted before the latest head) is not archived: refused, nothing changed.
#[test]
fn an_unpublished_old_event_stops_the_archive() {
    let mut f = fixture(3);
    june_and_july(&mut f);
    f.reg.publish(T0 + 60 * DAY).unwrap();
    raw(&f.path)
        .exec("UPDATE events SET log_idx = NULL WHERE accepted_at = ?1", &[Val::Int(T0 as i64)])
        .unwrap();
    let before = f.snapshot();
    let r = f.reg.archive();
    assert!(matches!(&r, Err(RegistryError::Archive(m)) if m.contains("not published")), "{r:?}");
    assert_eq!(f.snapshot(), before);
    assert_eq!(f.reg.archived_before().unwrap(), 0);
    assert!(f.reg.stored_floors().unwrap().is_empty());
}

/// Floors only rise: a second archive over a holder with a floor keeps the larger time per kind
/// (a later month's events, or the earlier floor).
#[test]
fn floors_merge_month_after_month() {
    let mut f = fixture(3);
    june_and_july(&mut f);
    f.reg.publish(T0 + 60 * DAY).unwrap();
    f.reg.archive().unwrap();
    let june = f.reg.stored_floors().unwrap();
    // Holder 0: a negative test in August (earlier than nothing: a new kind maximum), then
    // September's publish archives July (holder 1's contact) and leaves August.
    let aug = T0 + 61 * DAY;
    f.reg.submit(&f.event(&f.lab, 0, "negative_test", aug - DAY, None), aug).unwrap();
    f.reg.publish(aug).unwrap();
    f.reg.publish(T0 + 92 * DAY).unwrap();
    let a = f.reg.archive().unwrap();
    assert_eq!((a.events, a.floors), (1, 1), "{a:?}");
    let floors = f.reg.stored_floors().unwrap();
    assert_eq!(floors[0], june[0], "holder 0's floor is unchanged (August is not archived)");
    assert_eq!(floors[1], (1, state(&f.reg, 1)), "holder 1's floor is her July contact");
    audit_ok(&f.reg);
}

/// A failure in the middle of an archive (injected: a trigger that refuses the last statement,
/// after the floors are written and, on PostgreSQL, the month detached and dropped) leaves the
/// registry as it was: no floor, no boundary, every row and month still there. Once the fault
/// is gone the same archive runs.
#[test]
fn a_failure_half_way_through_an_archive_changes_nothing() {
    let mut f = fixture(3);
    june_and_july(&mut f);
    f.reg.publish(T0 + 60 * DAY).unwrap();
    let before = f.snapshot();
    let db = raw(&f.path);
    if on_postgres() {
        db.exec(
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$
             LANGUAGE plpgsql",
            &[],
        )
        .unwrap();
        db.exec(
            "CREATE TRIGGER refuse BEFORE DELETE ON event_partitions FOR EACH ROW EXECUTE FUNCTION refuse()",
            &[],
        )
        .unwrap();
    } else {
        db.exec(
            "CREATE TRIGGER refuse BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'injected'); END",
            &[],
        )
        .unwrap();
    }
    let r = f.reg.archive();
    assert!(r.is_err(), "{r:?}");
    // (A registry refuses to open with the trigger in its schema: it goes first.)
    db.exec(
        if on_postgres() { "DROP TRIGGER refuse ON event_partitions" } else { "DROP TRIGGER refuse" },
        &[],
    )
    .unwrap();
    assert_eq!(f.snapshot(), before);
    assert_eq!(f.reg.archived_before().unwrap(), 0);
    assert!(f.reg.stored_floors().unwrap().is_empty());
    let a = f.reg.archive().unwrap();
    assert_eq!((a.before, a.events, a.floors), (JULY, 3, 1));
    audit_ok(&Registry::open(&f.path).unwrap());
}

/// Floors are computed by ranges of holders (bounded memory at a nation's scale): ranges of one
/// and two holders, crossing every edge, give the floors one range gives.
#[test]
fn floors_by_ranges_of_holders_are_the_floors() {
    let mut want = None;
    for chunk in [u64::MAX, 1, 2] {
        let mut f = fixture(3);
        // Holder 2 also gets a live June event, so that floors sit in more than one range.
        let at = T0 - 5 * DAY;
        f.reg.submit(&f.event(&f.lab, 2, "positive_test", at - DAY, None), at).unwrap();
        june_and_july(&mut f);
        f.reg.publish(T0 + 60 * DAY).unwrap();
        let a = f.reg.archive_by(chunk).unwrap();
        assert_eq!((a.events, a.floors), (4, 2), "chunk {chunk}");
        let floors = f.reg.stored_floors().unwrap();
        assert_eq!(floors.iter().map(|(h, _)| *h).collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(want.get_or_insert_with(|| floors.clone()), &floors, "chunk {chunk}");
    }
}

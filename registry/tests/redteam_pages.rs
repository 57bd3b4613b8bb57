//! Red team of the log stored by pages (commit 72b0086, `store/log_pages.rs`): damaged or hostile
//! `log_pages` rows, and `log` rows at adoption. SQLite only.
//!
//! Findings (failing on c66f62f, all four fixed since):
//! - `a_stray_log_row_in_a_paged_registry_does_not_overwrite_page_0`: a `log` row in a registry
//!   already on pages is "adopted" at open and overwrites page 0 (signed entries destroyed).
//! - `adoption_refuses_a_negative_log_idx`: a negative `log.idx` passes the numbering check and
//!   the log is adopted misnumbered (an entry lost, another duplicated), silently.
//! - `adoption_with_many_negative_idx_does_not_hang`: more negative indices than one adoption run
//!   make `adopt_rows` loop forever inside its write transaction.
//! - `a_middle_page_with_a_hole_is_an_error_not_shifted_entries` (low): a short middle page
//!   serves later entries under earlier indices (views and proofs) without an error.

mod common;
use common::*;

use healthcode_circuits::Fr;
use healthcode_registry::audit::replay;
use healthcode_registry::store::log_pages::{decode, encode, PAGE};
use healthcode_registry::store::Val;
use healthcode_registry::{HolderFile, Registry};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

const ALL: u64 = u64::MAX >> 1;

fn page_of(path: &Path, p: i64) -> Vec<Vec<u8>> {
    let blob: Vec<u8> =
        raw(path).value("SELECT entries FROM log_pages WHERE page = ?1", &[Val::Int(p)]).unwrap().unwrap();
    decode(&blob).unwrap()
}

fn set_page(path: &Path, p: i64, blob: Val) {
    raw(path)
        .exec(
            "INSERT INTO log_pages (page, entries) VALUES (?1, ?2)
             ON CONFLICT (page) DO UPDATE SET entries = excluded.entries",
            &[Val::Int(p), blob],
        )
        .unwrap();
}

/// Whether the auditor's replay of the registry's view accepts every head.
fn replay_accepts(reg: &Registry) -> bool {
    // (An error reading the log is the view refusing: not accepted either.)
    reg.log_entries(0, ALL)
        .is_ok_and(|entries| replay(&entries, &reg.heads().unwrap(), &reg.public_key(), reg.policy()).is_ok())
}

fn take(f: Fixture) -> (tempfile::TempDir, PathBuf, Registry) {
    let Fixture { dir, path, reg, .. } = f;
    (dir, path, reg)
}

fn commitment(seed: u64) -> Fr {
    HolderFile::from_secret(Fr::from(seed), Fr::from(1u64)).commitment
}

// ---- findings --------------------------------------------------------------------------------

/// Found by the red team on c66f62f, fixed since: a `log` row left in a registry that already stores its log by pages (the `log` table
/// stays in the schema; a partial restore, a stray insert, a tool writing the old layout) makes
/// `Registry::open` "adopt" it: `adopt_rows` numbers the rows from 0 and upserts page 0 with them,
/// overwriting the real page 0, so every signed entry of that page is destroyed, silently, at
/// open (here 5 entries become 1). Fix: adopt only when `log_pages` is empty (refuse as Corrupt
/// when both hold rows).
#[test]
fn a_stray_log_row_in_a_paged_registry_does_not_overwrite_page_0() {
    if sqlite_only("a_stray_log_row_in_a_paged_registry_does_not_overwrite_page_0") {
        return;
    }
    let (_dir, path, reg) = take(fixture(3));
    let before = reg.log_entries(0, ALL).unwrap();
    assert_eq!(before.len(), 5);
    drop(reg);
    raw(&path)
        .exec("INSERT INTO log (idx, entry, epoch) VALUES (0, ?1, 1)", &[Val::Bytes(before[0].clone())])
        .unwrap();
    match Registry::open(&path) {
        Err(_) => {}
        Ok(reg) => {
            let after = reg.log_entries(0, ALL).unwrap();
            assert_eq!(after.len(), before.len(), "signed log entries lost at open");
            assert_eq!(after, before);
        }
    }
}

/// Found by the red team on c66f62f, fixed since: adoption checks only `COUNT(*) == MAX(idx) + 1`, which a negative `log.idx` passes
/// (rows -1, 1, 2, 3, 4): the runs read `idx >= done` and number what they get from `done`, so
/// entry -1 is dropped, entry 4 is stored twice and entries 1..4 move to 0..3: `Registry::open`
/// succeeds with a log that no longer matches any head. Fix: also require `MIN(idx) == 0` (or
/// check each run's rows are numbered `done..`), and refuse otherwise.
#[test]
fn adoption_refuses_a_negative_log_idx() {
    if sqlite_only("adoption_refuses_a_negative_log_idx") {
        return;
    }
    let (_dir, path, reg) = take(fixture(3));
    let before = reg.log_entries(0, ALL).unwrap();
    downgrade(reg, &path);
    rusqlite::Connection::open(&path).unwrap().execute("UPDATE log SET idx = -1 WHERE idx = 0", []).unwrap();
    match Registry::open(&path) {
        Err(_) => {}
        Ok(reg) => {
            let after = reg.log_entries(0, ALL).unwrap();
            panic!(
                "adopted a misnumbered log without an error: {} entries, equal to the signed log: {}, \
                 replay accepts: {}",
                after.len(),
                after == before,
                replay_accepts(&reg)
            );
        }
    }
}

/// Found by the red team on c66f62f, fixed since: with more negative `log.idx` values than one adoption run (`64 * PAGE`), and the
/// rows' count still equal to `MAX(idx) + 1`, the first run `idx >= 0 AND idx < 16384` reads
/// nothing, `done` never advances and `adopt_rows` loops forever inside its write transaction
/// (`Registry::open` hangs, holding the writer lock). Fix: refuse `MIN(idx) != 0` before the loop
/// (and treat an empty run before `size` as Corrupt).
#[test]
fn adoption_with_many_negative_idx_does_not_hang() {
    if sqlite_only("adoption_with_many_negative_idx_does_not_hang") {
        return;
    }
    let (dir, path, reg) = take(fixture(1));
    assert_eq!(reg.head().unwrap().log_size, 3);
    downgrade(reg, &path);
    let c = rusqlite::Connection::open(&path).unwrap();
    let run = 64 * PAGE as i64;
    c.execute("UPDATE log SET idx = -1 - idx WHERE idx < 2", []).unwrap();
    c.execute("UPDATE log SET idx = ?1 WHERE idx = 2", [run + 1]).unwrap();
    c.execute(
        "WITH RECURSIVE n(x) AS (SELECT 3 UNION ALL SELECT x + 1 FROM n WHERE x < ?1)
         INSERT INTO log (idx, entry, epoch) SELECT -x, x'00', 1 FROM n",
        [run + 1],
    )
    .unwrap();
    let count: i64 = c.query_row("SELECT COUNT(*) FROM log", [], |r| r.get(0)).unwrap();
    let max: i64 = c.query_row("SELECT MAX(idx) FROM log", [], |r| r.get(0)).unwrap();
    assert_eq!(count, max + 1, "passes the adoption's numbering check");
    drop(c);
    let (tx, rx) = mpsc::channel();
    let p = path.clone();
    std::thread::spawn(move || {
        let r = Registry::open(&p).map(|_| ());
        let _ = tx.send(r.map_err(|e| e.to_string()));
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Err(_)) => {}
        Ok(Ok(())) => panic!("adopted a log numbered from -{run}"),
        Err(_) => {
            // The thread still loops; keep its directory (it holds the file open).
            std::mem::forget(dir);
            panic!("Registry::open hangs adopting `log` rows with negative indices");
        }
    }
}

// ---- passing regressions ---------------------------------------------------------------------

/// A page with a length prefix far beyond its bytes is an error for every reader, never a panic.
#[test]
fn a_huge_length_prefix_is_an_error() {
    if sqlite_only("a_huge_length_prefix_is_an_error") {
        return;
    }
    let mut f = fixture(3);
    let head = f.reg.head().unwrap();
    for blob in [vec![0xff, 0xff, 0xff, 0xff, 1, 2], vec![0x80, 0, 0, 0], vec![0, 0, 0]] {
        set_page(&f.path, 0, Val::Bytes(blob));
        assert!(f.reg.log_entries(0, ALL).is_err());
        assert!(f.reg.inclusion(0, &head).is_err());
        assert!(f.reg.inclusion(4, &head).is_err());
    }
    f.reg.enroll(commitment(9000), T0).unwrap();
    assert!(f.reg.publish(T0).is_err());
    assert_eq!(f.reg.head().unwrap(), head);
}

/// A page holding more than `PAGE` entries is an error for the view, proofs and the publish.
#[test]
fn a_page_with_more_than_256_entries_is_an_error() {
    if sqlite_only("a_page_with_more_than_256_entries_is_an_error") {
        return;
    }
    let mut f = fixture(3);
    let head = f.reg.head().unwrap();
    let mut entries = page_of(&f.path, 0);
    entries.resize(PAGE as usize + 1, b"x".to_vec());
    set_page(&f.path, 0, Val::Bytes(encode(&entries)));
    assert!(f.reg.log_entries(0, ALL).is_err());
    assert!(f.reg.inclusion(1, &head).is_err());
    f.reg.enroll(commitment(9001), T0).unwrap();
    assert!(f.reg.publish(T0).is_err());
}

/// An empty page blob, a text or an integer in place of a page: errors (or a short view that the
/// replay rejects), never a panic; the publish refuses.
#[test]
fn empty_and_non_blob_pages_are_errors() {
    if sqlite_only("empty_and_non_blob_pages_are_errors") {
        return;
    }
    let mut f = fixture(3);
    let head = f.reg.head().unwrap();
    set_page(&f.path, 0, Val::Bytes(vec![]));
    assert!(f.reg.log_entries(0, ALL).unwrap().is_empty());
    assert!(!replay_accepts(&f.reg), "an empty view is not the signed log");
    assert!(f.reg.inclusion(0, &head).is_err());
    for v in [Val::Text("abc".into()), Val::Int(42)] {
        set_page(&f.path, 0, v);
        assert!(f.reg.log_entries(0, ALL).is_err());
        assert!(f.reg.inclusion(0, &head).is_err());
    }
    f.reg.enroll(commitment(9002), T0).unwrap();
    assert!(f.reg.publish(T0).is_err());
    assert_eq!(f.reg.head().unwrap(), head);
}

/// A last page missing its tail: the view is short and the replay fails; proofs of the missing
/// entries and the publish are errors.
#[test]
fn a_short_last_page_is_caught() {
    if sqlite_only("a_short_last_page_is_caught") {
        return;
    }
    let mut f = fixture(3);
    let head = f.reg.head().unwrap();
    let mut entries = page_of(&f.path, 0);
    entries.truncate(4);
    set_page(&f.path, 0, Val::Bytes(encode(&entries)));
    assert_eq!(f.reg.log_entries(0, ALL).unwrap().len(), 4);
    assert!(!replay_accepts(&f.reg));
    assert!(f.reg.inclusion(4, &head).is_err());
    f.reg.enroll(commitment(9003), T0).unwrap();
    assert!(f.reg.publish(T0).is_err());
}

/// Extra entries after the signed end of the last page: the view holds them (as extra `log` rows
/// did before), signed entries' proofs are unaffected, and the next publish drops them.
#[test]
fn trailing_entries_in_the_last_page() {
    if sqlite_only("trailing_entries_in_the_last_page") {
        return;
    }
    let mut f = fixture(3);
    let head = f.reg.head().unwrap();
    let mut entries = page_of(&f.path, 0);
    let extra = entries[4].clone();
    entries.push(extra);
    set_page(&f.path, 0, Val::Bytes(encode(&entries)));
    let view = f.reg.log_entries(0, ALL).unwrap();
    // Inclusion and consistency of signed entries are unaffected.
    f.reg.inclusion(4, &head).unwrap().verify(&head).unwrap();
    f.reg.enroll(commitment(9004), T0).unwrap();
    f.reg.publish(T0).unwrap();
    audit_ok(&f.reg);
    assert_eq!(f.reg.log_entries(0, ALL).unwrap().len() as u64, f.reg.head().unwrap().log_size);
    assert_eq!(view.len() as u64, head.log_size + 1);
}

/// Several pages (602 entries: pages 0, 1 full and 2 partial): a missing middle page, a middle
/// page short of one entry, a negative page, a page far after the end: the view stops at the
/// damage and the replay fails, proofs past it are errors, stray pages are ignored.
#[test]
fn damaged_middle_pages_are_caught_and_stray_pages_ignored() {
    if sqlite_only("damaged_middle_pages_are_caught_and_stray_pages_ignored") {
        return;
    }
    let f = fixture(600);
    let head = f.reg.head().unwrap();
    assert_eq!(head.log_size, 602);
    let good = page_of(&f.path, 1);
    let blob = encode(&good);
    // Stray pages before the log and far after its end.
    set_page(&f.path, -1, Val::Bytes(encode(&good)));
    set_page(&f.path, 1 << 40, Val::Bytes(encode(&good)));
    audit_ok(&f.reg);
    assert_eq!(f.reg.log_entries(0, ALL).unwrap().len(), 602);
    // The middle page gone.
    raw(&f.path).exec("DELETE FROM log_pages WHERE page = 1", &[]).unwrap();
    assert_eq!(f.reg.log_entries(0, ALL).unwrap().len(), 256);
    assert!(!replay_accepts(&f.reg));
    assert!(f.reg.inclusion(300, &head).is_err());
    f.reg.inclusion(550, &head).unwrap().verify(&head).unwrap();
    // The middle page short of its last entry.
    let mut short = good.clone();
    short.pop();
    set_page(&f.path, 1, Val::Bytes(encode(&short)));
    assert!(f.reg.log_entries(0, ALL).is_err(), "a short page followed by another is refused");
    assert!(!replay_accepts(&f.reg));
    assert!(f.reg.inclusion(511, &head).is_err());
    // Restored.
    set_page(&f.path, 1, Val::Bytes(blob));
    audit_ok(&f.reg);
}

/// Adoption of a clean old log (three pages' worth) keeps every entry in order; a `log` row that
/// is not a blob, or gapped indices, make the open fail and leave the rows.
#[test]
fn adoption_keeps_the_log_and_refuses_gaps_and_non_blobs() {
    if sqlite_only("adoption_keeps_the_log_and_refuses_gaps_and_non_blobs") {
        return;
    }
    let (_dir, path, reg) = take(fixture(600));
    let before = reg.log_entries(0, ALL).unwrap();
    downgrade(reg, &path);
    let copy = path.with_extension("copy.db");
    std::fs::copy(&path, &copy).unwrap();
    let copy2 = path.with_extension("copy2.db");
    std::fs::copy(&path, &copy2).unwrap();
    let reg = Registry::open(&path).unwrap();
    assert_eq!(reg.log_entries(0, ALL).unwrap(), before);
    audit_ok(&reg);
    // A gap (entry 300 gone).
    rusqlite::Connection::open(&copy).unwrap().execute("DELETE FROM log WHERE idx = 300", []).unwrap();
    assert!(Registry::open(&copy).is_err());
    // Text in place of an entry.
    rusqlite::Connection::open(&copy2)
        .unwrap()
        .execute("UPDATE log SET entry = 'x' WHERE idx = 300", [])
        .unwrap();
    assert!(Registry::open(&copy2).is_err());
}

/// Found by the red team on c66f62f, fixed since (low): a middle page short of an entry in its middle (entry 300 of page 1 dropped, 255
/// entries left, page 2 still stored): `read_all` counts only what it got, so a range inside the
/// page returns the entries after the hole under the wrong indices, without an error. Here
/// `inclusion(300)` serves entry 301 as entry 300 with a proof rehashed from the shifted entries
/// (it does not verify), and `log_entries(300, 310)` serves 301..311. A page below `PAGE` entries
/// is valid only as the log's last page. Fix: `read` must refuse (Corrupt) a short page that is
/// not the last stored page, and callers that know the log size (inclusion, subtrees, publish)
/// should check a page holds exactly `min(PAGE, size - page·PAGE)` entries.
#[test]
fn a_middle_page_with_a_hole_is_an_error_not_shifted_entries() {
    if sqlite_only("a_middle_page_with_a_hole_is_an_error_not_shifted_entries") {
        return;
    }
    let f = fixture(600);
    let head = f.reg.head().unwrap();
    let good = page_of(&f.path, 1);
    let mut holed = good.clone();
    holed.remove(300 - PAGE as usize);
    set_page(&f.path, 1, Val::Bytes(encode(&holed)));
    assert!(!replay_accepts(&f.reg), "the auditor's view is caught");
    let shifted_view = f.reg.log_entries(300, 310).is_ok_and(|v| v[..] != good[44..54]);
    let bad_proof = f.reg.inclusion(300, &head).ok().map(|p| (p.entry == good[45], p.verify(&head).is_ok()));
    assert!(
        !shifted_view && bad_proof.is_none_or(|(_, verifies)| verifies),
        "log_entries(300, 310) shifted without an error: {shifted_view}; inclusion(300) served \
         (entry 301 as 300, verifies): {bad_proof:?}"
    );
}

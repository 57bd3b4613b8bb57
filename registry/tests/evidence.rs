//! Evidence against a registry (a receipt and a signed head): a fork is named even when the
//! export leaves out the forked epoch's head.

mod common;

use common::*;
use healthcode_circuits::Fr;
use healthcode_registry::receipt::{judge, Evidence, EVIDENCE_FORMAT};
use healthcode_registry::Registry;
use rusqlite::Connection;

/// Red team: the registry signs two heads for epoch 2 over different logs, both holding the
/// receipted event. With the export's epoch-2 head the two differ (equivocation); the export cut
/// down to its later heads used to judge the forked head clean, since the event is in the log.
#[test]
fn a_forked_head_is_equivocation_even_when_the_export_omits_its_epoch() {
    if sqlite_only("a_forked_head_is_equivocation_even_when_the_export_omits_its_epoch") {
        return;
    }
    let mut f = fixture(2);
    let id = f.reg.submit(&f.event(&f.lab, 0, "negative_test", T0 - DAY, None), T0).unwrap();
    let receipt = f.reg.receipt(id, T0);
    let after = receipt.publish_by + 1;

    // The fork: a copy of the database at this point, with one more enrolment in its epoch 2.
    let fork_path = f.dir.path().join("fork.db");
    Connection::open(&f.path).unwrap().execute("VACUUM INTO ?1", [fork_path.to_str().unwrap()]).unwrap();
    let mut fork = Registry::open(&fork_path).unwrap();
    fork.enroll(Fr::from(424242u64), T0).unwrap();
    let forked = fork.publish(after).unwrap();

    f.reg.publish(after).unwrap();
    f.reg.submit(&f.event(&f.lab, 1, "negative_test", T0 - DAY, None), after + 1).unwrap();
    f.reg.publish(after + 2).unwrap();
    let heads = f.reg.heads().unwrap();
    let entries = f.reg.log_entries(0, u64::MAX >> 1).unwrap();
    assert!(forked.log_size as usize <= entries.len());
    let evidence = Evidence { format: EVIDENCE_FORMAT.into(), receipt, head: forked.clone() };
    let key = f.reg.public_key();

    let full = judge(&evidence, &heads, &entries, &key).unwrap();
    assert!(full.as_deref().is_some_and(|f| f.contains("equivocation")), "{full:?}");
    let later: Vec<_> = heads.iter().filter(|h| h.epoch > forked.epoch).cloned().collect();
    let cut = judge(&evidence, &later, &entries, &key).unwrap();
    assert!(cut.as_deref().is_some_and(|f| f.contains("not the export's: equivocation")), "{cut:?}");
    // The registry's own head of that epoch is judged honest.
    let honest = Evidence { head: heads[2].clone(), ..evidence };
    assert_eq!(judge(&honest, &later, &entries, &key).unwrap(), None);
}

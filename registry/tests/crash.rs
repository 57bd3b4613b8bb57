//! Crash safety of `publish`: fail it at every step, both by aborting the transaction in process
//! and by killing a child process mid-publish (`abort()`: no destructor, no rollback code runs,
//! SQLite recovers from its WAL on reopen). Afterwards no accepted entry is lost, the head chain
//! verifies, and a publish then yields the root an auditor recomputes from the log.

mod common;

use common::*;
use healthcode_registry::audit::replay;
use healthcode_registry::head::verify_chain;
use healthcode_registry::{PublishHooks, PublishStep, Registry, RegistryError};
use std::path::Path;
use std::process::Command;

/// Queues a mix of entries: an enrolment, events, a contact and a retraction.
fn queue_work(f: &mut Fixture) -> u64 {
    let h = healthcode_registry::HolderFile::from_secret(9u64.into(), 10u64.into());
    f.reg.enroll(h.commitment, T0).unwrap();
    let pos = f.reg.submit(&f.event(&f.lab, 0, "positive_test", T0 - DAY, None), T0).unwrap();
    f.reg.submit(&f.event(&f.tracer, 1, "close_contact", T0 - DAY, Some(pos)), T0).unwrap();
    let neg = f.reg.submit(&f.event(&f.lab, 2, "negative_test", T0 - DAY, None), T0).unwrap();
    f.reg.retract(&f.retraction(&f.lab, neg), T0).unwrap();
    f.reg.queue_len().unwrap()
}

/// After a failed publish: nothing lost, nothing half-applied, and the next publish is right.
fn check_recovery(path: &Path, queued: u64, head_before: &healthcode_registry::SignedHead) {
    let mut reg = Registry::open(path).unwrap();
    assert_eq!(reg.queue_len().unwrap(), queued, "accepted entries were lost");
    assert_eq!(&reg.head().unwrap(), head_before, "a half-applied epoch was left");
    assert_eq!(reg.stored_tree().unwrap().root(), head_before.root);
    let head = reg.publish(T0 + 10).unwrap();
    assert_eq!(head.epoch, head_before.epoch + 1);
    assert_eq!(reg.queue_len().unwrap(), 0);
    let heads = reg.heads().unwrap();
    verify_chain(&heads, &reg.public_key(), &reg.policy_digest()).unwrap();
    let entries = reg.log_entries(0, head.log_size).unwrap();
    let r = replay(&entries, &heads, &reg.public_key(), reg.policy()).unwrap();
    assert_eq!(r.tree.root(), head.root);
    assert_eq!(r.log.root(), head.log_root);
    // The retraction took effect, the contact and positive test did.
    let w = |i| reg.witness(i).unwrap().state;
    assert_eq!(w(0)["positive_test"], T0 - DAY);
    assert_eq!(w(1)["close_contact"], T0 - DAY);
    assert_eq!(w(2)["negative_test"], 0);
    assert_eq!(head.holders, 4);
}

#[test]
fn aborted_publish_at_each_step_loses_nothing() {
    for step in PublishStep::ALL {
        let mut f = fixture(3);
        let queued = queue_work(&mut f);
        let before = f.reg.head().unwrap();
        let mut hook = |s: PublishStep| if s == step { Err(()) } else { Ok(()) };
        let hooks = PublishHooks { progress: None, fault: Some(&mut hook) };
        match f.reg.publish_with(T0 + 5, hooks) {
            Err(RegistryError::Injected(s)) => assert_eq!(s, step),
            other => panic!("expected an injected fault at {step:?}, got {other:?}"),
        }
        // Nothing of the epoch is stored, and the live handle still serves witnesses that open
        // the old head (its tree cache holds nothing of the failed epoch).
        assert_eq!(f.reg.stored_tree().unwrap().root(), before.root);
        assert_eq!(f.reg.head().unwrap(), before);
        for i in 0..3 {
            f.reg.witness(i).unwrap().check(&f.reg.public_key(), f.reg.policy()).unwrap();
        }
        let path = f.path.clone();
        drop(f.reg);
        check_recovery(&path, queued, &before);
    }
}

/// Child side of [`killed_publish_at_each_step_loses_nothing`]; a no-op in a normal test run.
#[test]
fn crash_child() {
    let Ok(spec) = std::env::var("HC_CRASH_CHILD") else { return };
    let (path, step) = spec.split_once('|').unwrap();
    let step: usize = step.parse().unwrap();
    let mut reg = Registry::open(Path::new(path)).unwrap();
    let mut hook = |s: PublishStep| {
        if s == PublishStep::ALL[step] {
            std::process::abort();
        }
        Ok(())
    };
    let _ = reg.publish_with(T0 + 5, PublishHooks { progress: None, fault: Some(&mut hook) });
    unreachable!("the child should have crashed");
}

#[test]
fn killed_publish_at_each_step_loses_nothing() {
    let exe = std::env::current_exe().unwrap();
    for step in 0..PublishStep::ALL.len() {
        let mut f = fixture(3);
        let queued = queue_work(&mut f);
        let before = f.reg.head().unwrap();
        let path = f.path.clone();
        drop(f.reg);
        let status = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env("HC_CRASH_CHILD", format!("{}|{step}", path.display()))
            .output()
            .unwrap()
            .status;
        assert!(!status.success(), "the child did not crash at step {step}");
        check_recovery(&path, queued, &before);
    }
}

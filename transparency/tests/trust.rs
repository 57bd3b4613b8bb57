//! A gate's trust policy: the log's signature, a quorum of distinct witnesses, and the split-view
//! scenario the witnesses exist for.

mod common;

use common::*;
use healthcode_transparency::{
    add_checkpoint_request, merge_cosignatures, CheckpointError, TiledLog, TrustPolicy, Witness,
};

const NOW: u64 = 1_750_000_000;

fn vkeys(ids: &[u8]) -> Vec<String> {
    ids.iter().map(|&i| cosigner(i).vkey()).collect()
}

/// The checkpoint of `log` cosigned (directly, without witness state) by the given witnesses.
fn cosigned(log: &TiledLog, ids: &[u8]) -> Vec<u8> {
    let mut note = log.checkpoint(&log_key());
    let text = checkpoint_text(&note);
    for &i in ids {
        note = merge_cosignatures(&note, &cosigner(i).cosign(&text, NOW + u64::from(i)).unwrap()).unwrap();
    }
    note
}

fn checkpoint_text(note: &[u8]) -> Vec<u8> {
    let s = std::str::from_utf8(note).unwrap();
    let (text, _) = s.rsplit_once("\n\n").unwrap();
    format!("{text}\n").into_bytes()
}

#[test]
fn quorum_of_distinct_witnesses_passes() {
    let log = log_with(10, "main");
    let p = TrustPolicy::new(&log_key().vkey(), &vkeys(&[1, 2, 3]), 2).unwrap();
    let v = p.verify(&cosigned(&log, &[1, 3])).unwrap();
    assert_eq!((v.origin.as_str(), v.size, v.root), (ORIGIN, 10, log.root()));
    assert_eq!(
        v.cosigners,
        vec![("witness1.example".to_owned(), NOW + 1), ("witness3.example".to_owned(), NOW + 3)]
    );
    // Quorum 0 is the log's signature alone.
    assert!(TrustPolicy::new(&log_key().vkey(), &[], 0).unwrap().verify(&log.checkpoint(&log_key())).is_ok());
}

#[test]
fn quorum_not_met() {
    let log = log_with(10, "main");
    let p = TrustPolicy::new(&log_key().vkey(), &vkeys(&[1, 2, 3]), 2).unwrap();
    assert_eq!(
        p.verify(&cosigned(&log, &[2])).unwrap_err(),
        CheckpointError::QuorumNotMet { needed: 2, got: 1 }
    );
    assert_eq!(
        p.verify(&log.checkpoint(&log_key())).unwrap_err(),
        CheckpointError::QuorumNotMet { needed: 2, got: 0 }
    );
}

#[test]
fn unknown_cosigners_are_ignored_not_counted() {
    let log = log_with(10, "main");
    let p = TrustPolicy::new(&log_key().vkey(), &vkeys(&[1, 2]), 2).unwrap();
    // Witness 9 is not configured: its valid cosignature neither helps nor hurts.
    assert_eq!(
        p.verify(&cosigned(&log, &[1, 9])).unwrap_err(),
        CheckpointError::QuorumNotMet { needed: 2, got: 1 }
    );
    assert!(p.verify(&cosigned(&log, &[1, 9, 2])).is_ok());
    // An unknown key under a configured witness's name (different key, so different ID) is ignored too.
    let fake = healthcode_transparency::CosignerKey::new(
        "witness2.example",
        ed25519_dalek::SigningKey::from_bytes(&[77; 32]),
    );
    let note = merge_cosignatures(
        &cosigned(&log, &[1]),
        &fake.cosign(&checkpoint_text(&cosigned(&log, &[1])), NOW).unwrap(),
    )
    .unwrap();
    assert_eq!(p.verify(&note).unwrap_err(), CheckpointError::QuorumNotMet { needed: 2, got: 1 });
}

#[test]
fn the_same_witness_twice_counts_once() {
    let log = log_with(10, "main");
    let p = TrustPolicy::new(&log_key().vkey(), &vkeys(&[1, 2]), 2).unwrap();
    let note = cosigned(&log, &[1]);
    let text = checkpoint_text(&note);
    // Append a second, different (later) cosignature line by witness 1 by hand (merge would dedup it).
    let second = cosigner(1).cosign(&text, NOW + 50).unwrap();
    let doubled = [note.clone(), second].concat();
    assert_eq!(p.verify(&doubled).unwrap_err(), CheckpointError::QuorumNotMet { needed: 2, got: 1 });
    // And an identical line twice.
    let first_line = &note[note.len() - (note.len() - text.len() - 1)..];
    let tripled = [note.clone(), first_line.to_vec()].concat();
    assert_eq!(p.verify(&tripled).unwrap_err(), CheckpointError::QuorumNotMet { needed: 2, got: 1 });
}

#[test]
fn one_key_under_two_names_or_listed_twice_is_a_bad_policy() {
    let w1 = cosigner(1);
    let same_key_other_name = healthcode_transparency::CosignerKey::new(
        "alias.example",
        ed25519_dalek::SigningKey::from_bytes(&[101; 32]),
    );
    assert!(matches!(
        TrustPolicy::new(&log_key().vkey(), &[w1.vkey(), same_key_other_name.vkey()], 2),
        Err(CheckpointError::BadPolicy(_))
    ));
    assert!(matches!(
        TrustPolicy::new(&log_key().vkey(), &[w1.vkey(), w1.vkey()], 1),
        Err(CheckpointError::BadPolicy(_))
    ));
    assert!(matches!(
        TrustPolicy::new(&log_key().vkey(), &vkeys(&[1, 2]), 3),
        Err(CheckpointError::BadPolicy(_))
    ));
    // Keys of the wrong role.
    assert!(TrustPolicy::new(&w1.vkey(), &[], 0).is_err());
    assert!(TrustPolicy::new(&log_key().vkey(), &[log_key().vkey()], 1).is_err());
}

#[test]
fn tampered_checkpoint_body_is_refused() {
    let log = log_with(10, "main");
    let p = TrustPolicy::new(&log_key().vkey(), &vkeys(&[1, 2]), 1).unwrap();
    let note = String::from_utf8(cosigned(&log, &[1, 2])).unwrap();
    let other_root = base64_root(&log_with(10, "fork"));
    for tampered in [
        note.replacen("\n10\n", "\n11\n", 1),
        note.replacen(&base64_root(&log), &other_root, 1),
        note.replacen(ORIGIN, "registry.example/loh", 1),
    ] {
        assert!(p.verify(tampered.as_bytes()).is_err(), "accepted {tampered}");
    }
}

fn base64_root(log: &TiledLog) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(log.root())
}

#[test]
fn wrong_log_key_is_refused() {
    let log = log_with(10, "main");
    let p = TrustPolicy::new(&log_key().vkey(), &vkeys(&[1]), 1).unwrap();
    let impostor =
        healthcode_transparency::LogKey::new(ORIGIN, ed25519_dalek::SigningKey::from_bytes(&[2; 32]));
    let mut note = log.checkpoint(&impostor);
    let text = checkpoint_text(&note);
    note = merge_cosignatures(&note, &cosigner(1).cosign(&text, NOW).unwrap()).unwrap();
    assert_eq!(p.verify(&note).unwrap_err(), CheckpointError::NoLogSignature);
    // A log key of another origin: the checkpoint is not for the trusted log.
    let other = healthcode_transparency::LogKey::new(
        "other.example/log",
        ed25519_dalek::SigningKey::from_bytes(&[1; 32]),
    );
    let mut other_log = TiledLog::new("other.example/log");
    other_log.push(b"x".to_vec());
    assert!(matches!(p.verify(&other_log.checkpoint(&other)), Err(CheckpointError::WrongOrigin { .. })));
}

#[test]
fn a_configured_witness_line_that_does_not_verify_rejects_the_note() {
    let log = log_with(10, "main");
    let p = TrustPolicy::new(&log_key().vkey(), &vkeys(&[1, 2]), 1).unwrap();
    // Witness 2's line made for another checkpoint, pasted onto this one.
    let other = log_with(11, "main");
    let line = cosigner(2).cosign(&checkpoint_text(&other.checkpoint(&log_key())), NOW).unwrap();
    let note = merge_cosignatures(&cosigned(&log, &[1]), &line).unwrap();
    assert!(matches!(p.verify(&note), Err(CheckpointError::InvalidSignature { .. })));
}

#[test]
fn malformed_notes_are_errors() {
    let p = TrustPolicy::new(&log_key().vkey(), &vkeys(&[1]), 0).unwrap();
    let good = log_with(3, "main").checkpoint(&log_key());
    let many: String = (0..101).map(|i| format!("— k{i} AAAAAQE=\n")).collect();
    let s = String::from_utf8(good.clone()).unwrap();
    for bad in [
        Vec::new(),
        b"\n\n".to_vec(),
        s.trim_end().as_bytes().to_vec(),
        s.replace("\n\n", "\n").into_bytes(),
        [s.as_bytes(), many.as_bytes()].concat(),
        vec![b'a'; (1 << 20) + 1],
        s.replace("— ", "- ").into_bytes(),
    ] {
        assert!(p.verify(&bad).is_err());
    }
}

/// The attack witnesses exist to stop. The log forks: view A (the honest history) and view B (same
/// size, different entries) are both validly signed by the log key. Witnesses 1 and 2 have cosigned A.
/// A gate requiring 2 of 3 witnesses can never be given B: only witness 3 will cosign it.
#[test]
fn split_view_cannot_reach_a_two_of_three_quorum() {
    let dir = tempfile::tempdir().unwrap();
    let mut witnesses: Vec<Witness> = (1..=3)
        .map(|i| Witness::open(&dir.path().join(format!("w{i}")), cosigner(i), &[log_key().vkey()]).unwrap())
        .collect();
    let view_a = log_with(20, "main");
    let view_b = forked(12, 20);
    assert_eq!(view_a.size(), view_b.size());
    assert_ne!(view_a.root(), view_b.root());

    // History both views share: all three witnesses saw size 12.
    let shared = log_with(12, "main");
    for w in &mut witnesses {
        w.add_checkpoint(&add_checkpoint_request(0, &[], &shared.checkpoint(&log_key())), NOW).unwrap();
    }
    let ask = |w: &mut Witness, view: &TiledLog| {
        let proof = view.consistency_proof(12, view.size()).unwrap();
        w.add_checkpoint(&add_checkpoint_request(12, &proof, &view.checkpoint(&log_key())), NOW)
    };
    // Witnesses 1 and 2 are shown A; witness 3 is shown B (the fork's own proof is valid from 12).
    let mut note_a = view_a.checkpoint(&log_key());
    for w in &mut witnesses[..2] {
        note_a = merge_cosignatures(&note_a, &ask(w, &view_a).unwrap()).unwrap();
    }
    let mut note_b = view_b.checkpoint(&log_key());
    note_b = merge_cosignatures(&note_b, &ask(&mut witnesses[2], &view_b).unwrap()).unwrap();
    // Witnesses 1 and 2 refuse B at the same size (422) ...
    for w in &mut witnesses[..2] {
        let e = w
            .add_checkpoint(&add_checkpoint_request(20, &[], &view_b.checkpoint(&log_key())), NOW)
            .unwrap_err();
        assert_eq!(e.status(), 422, "{e}");
        // ... and B's fork with a proof from the shared prefix is a 409 (they are at 20 now).
        assert_eq!(ask(w, &view_b).unwrap_err().status(), 409);
    }
    // ... and B grown further with B's own consistency proof from 20.
    let b_later = forked(12, 30);
    for w in &mut witnesses[..2] {
        let proof = b_later.consistency_proof(20, 30).unwrap();
        let e = w
            .add_checkpoint(&add_checkpoint_request(20, &proof, &b_later.checkpoint(&log_key())), NOW)
            .unwrap_err();
        assert_eq!(e.status(), 422, "{e}");
    }

    let gate = TrustPolicy::new(&log_key().vkey(), &vkeys(&[1, 2, 3]), 2).unwrap();
    let a = gate.verify(&note_a).unwrap();
    assert_eq!((a.size, a.root), (20, view_a.root()));
    assert_eq!(gate.verify(&note_b).unwrap_err(), CheckpointError::QuorumNotMet { needed: 2, got: 1 });
    // Borrowing A's cosignatures for B does not work either: they are over A's text.
    let a_lines = {
        let s = String::from_utf8(note_a.clone()).unwrap();
        s.rsplit_once("\n\n")
            .unwrap()
            .1
            .lines()
            .filter(|l| l.contains("witness"))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    };
    let franken = merge_cosignatures(&note_b, a_lines.as_bytes()).unwrap();
    assert!(gate.verify(&franken).is_err());
}

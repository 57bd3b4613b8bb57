//! The witness against tlog-witness: each refusal with its status, the 409 body, split views, rollback,
//! and restarts from the state file.

mod common;

use common::*;
use healthcode_transparency::{
    add_checkpoint_request, merge_cosignatures, TrustPolicy, Witness, WitnessError,
};
use std::path::Path;

const NOW: u64 = 1_750_000_000;

fn open(path: &Path) -> Witness {
    Witness::open(path, cosigner(1), &[log_key().vkey()]).unwrap()
}

/// Submits the checkpoint of `log` at its current size, claiming the witness last saw `old`.
fn submit(
    w: &mut Witness,
    log: &healthcode_transparency::TiledLog,
    old: u64,
) -> Result<Vec<u8>, WitnessError> {
    let proof = log.consistency_proof(old.min(log.size()), log.size()).unwrap_or_default();
    w.add_checkpoint(&add_checkpoint_request(old, &proof, &log.checkpoint(&log_key())), NOW)
}

#[test]
fn cosigns_a_growing_log_and_the_cosignature_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = open(&dir.path().join("state.json"));
    let policy = TrustPolicy::new(&log_key().vkey(), &[cosigner(1).vkey()], 1).unwrap();
    let mut log = log_with(0, "main");
    let mut seen = 0;
    for size in [0u64, 1, 2, 7, 256, 300, 300] {
        while log.size() < size {
            log.push(format!("main head {}", log.size()).into_bytes());
        }
        let line = submit(&mut w, &log, seen).unwrap();
        assert!(line.starts_with("— witness1.example ".as_bytes()) && line.ends_with(b"\n"));
        let note = merge_cosignatures(&log.checkpoint(&log_key()), &line).unwrap();
        let v = policy.verify(&note).unwrap();
        assert_eq!(
            (v.size, v.root, v.cosigners.clone()),
            (size, log.root(), vec![("witness1.example".to_owned(), NOW)])
        );
        assert_eq!(w.latest_size(ORIGIN), size);
        // What monitors are served carries the log's signature and ours.
        assert!(policy.verify(w.latest_checkpoint(ORIGIN).unwrap()).is_ok());
        seen = size;
    }
}

#[test]
fn unknown_origin_is_404() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = open(&dir.path().join("s"));
    let other = healthcode_transparency::LogKey::new(
        "other.example/log",
        ed25519_dalek::SigningKey::from_bytes(&[1; 32]),
    );
    let mut log = healthcode_transparency::TiledLog::new("other.example/log");
    log.push(b"x".to_vec());
    let e = w.add_checkpoint(&add_checkpoint_request(0, &[], &log.checkpoint(&other)), NOW).unwrap_err();
    assert_eq!(e.status(), 404, "{e}");
}

#[test]
fn bad_or_missing_log_signature_is_403() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = open(&dir.path().join("s"));
    let log = log_with(3, "main");
    // Signed by another key under the log's name: unknown key, so no trusted signature.
    let impostor =
        healthcode_transparency::LogKey::new(ORIGIN, ed25519_dalek::SigningKey::from_bytes(&[2; 32]));
    let e = w.add_checkpoint(&add_checkpoint_request(0, &[], &log.checkpoint(&impostor)), NOW).unwrap_err();
    assert_eq!(e.status(), 403, "{e}");
    // The trusted key's line over a different body: a signature from a known key that fails.
    let good = String::from_utf8(log.checkpoint(&log_key())).unwrap();
    let tampered = good.replacen("\n3\n", "\n4\n", 1);
    let e = w.add_checkpoint(&add_checkpoint_request(0, &[], tampered.as_bytes()), NOW).unwrap_err();
    assert_eq!(e.status(), 403, "{e}");
    // Only a witness's cosignature, no log signature.
    let text = good.split("\n\n").next().unwrap().to_owned() + "\n";
    let only_cosig =
        format!("{text}\n{}", String::from_utf8(cosigner(2).cosign(text.as_bytes(), NOW).unwrap()).unwrap());
    let e = w.add_checkpoint(&add_checkpoint_request(0, &[], only_cosig.as_bytes()), NOW).unwrap_err();
    assert_eq!(e.status(), 403, "{e}");
    assert_eq!(w.latest_size(ORIGIN), 0, "nothing was recorded");
}

#[test]
fn old_size_mismatch_is_409_with_the_latest_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = open(&dir.path().join("s"));
    submit(&mut w, &log_with(5, "main"), 0).unwrap();
    let log = log_with(9, "main");
    for old in [0u64, 3, 6] {
        let e = submit(&mut w, &log, old).unwrap_err();
        assert_eq!((e.status(), e.content_type(), e.body()), (409, "text/x.tlog.size", b"5\n".to_vec()));
    }
    // With no record yet, the latest size is 0.
    let mut fresh = open(&dir.path().join("t"));
    let e = submit(&mut fresh, &log, 4).unwrap_err();
    assert_eq!((e.status(), e.body()), (409, b"0\n".to_vec()));
}

#[test]
fn old_larger_than_new_is_400() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = open(&dir.path().join("s"));
    let log = log_with(4, "main");
    let e = w.add_checkpoint(&add_checkpoint_request(5, &[], &log.checkpoint(&log_key())), NOW).unwrap_err();
    assert_eq!(e.status(), 400, "{e}");
}

#[test]
fn bad_consistency_proofs_are_422() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = open(&dir.path().join("s"));
    submit(&mut w, &log_with(5, "main"), 0).unwrap();
    let log = log_with(12, "main");
    let cp = log.checkpoint(&log_key());
    let good = log.consistency_proof(5, 12).unwrap();
    let mut flipped = good.clone();
    flipped[0][0] ^= 1;
    let wrong_sizes = log.consistency_proof(4, 12).unwrap();
    for proof in [vec![], flipped, good[1..].to_vec(), [good.clone(), vec![[0; 32]]].concat(), wrong_sizes] {
        let e = w.add_checkpoint(&add_checkpoint_request(5, &proof, &cp), NOW).unwrap_err();
        assert_eq!(e.status(), 422, "{e}");
    }
    // A proof when the old size is 0 is 422 as well.
    let mut fresh = open(&dir.path().join("t"));
    let e = fresh.add_checkpoint(&add_checkpoint_request(0, &good, &cp), NOW).unwrap_err();
    assert_eq!(e.status(), 422, "{e}");
    assert_eq!(w.latest_size(ORIGIN), 5);
    w.add_checkpoint(&add_checkpoint_request(5, &good, &cp), NOW).unwrap();
}

#[test]
fn rollback_to_a_smaller_checkpoint_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = open(&dir.path().join("s"));
    submit(&mut w, &log_with(10, "main"), 0).unwrap();
    let smaller = log_with(6, "main");
    // Honest about what the witness saw: old 10 > new 6.
    assert_eq!(submit(&mut w, &smaller, 10).unwrap_err().status(), 400);
    // Lying about it: the witness answers with its size.
    let e = submit(&mut w, &smaller, 6).unwrap_err();
    assert_eq!((e.status(), e.body()), (409, b"10\n".to_vec()));
    let e = submit(&mut w, &smaller, 0).unwrap_err();
    assert_eq!(e.status(), 409);
    assert_eq!(w.latest_size(ORIGIN), 10);
}

#[test]
fn split_view_is_refused_at_the_same_and_at_larger_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = open(&dir.path().join("s"));
    let main = log_with(8, "main");
    let fork = forked(5, 8); // same size, different root
    assert_ne!(main.root(), fork.root());
    submit(&mut w, &main, 0).unwrap();
    // Same size, other root.
    let e = w.add_checkpoint(&add_checkpoint_request(8, &[], &fork.checkpoint(&log_key())), NOW).unwrap_err();
    assert_eq!(e.status(), 422, "{e}");
    // The fork grown further, with its own (valid for the fork) consistency proof.
    let fork12 = forked(5, 12);
    let proof = fork12.consistency_proof(8, 12).unwrap();
    let e = w
        .add_checkpoint(&add_checkpoint_request(8, &proof, &fork12.checkpoint(&log_key())), NOW)
        .unwrap_err();
    assert_eq!(e.status(), 422, "{e}");
    // The same checkpoint again is fine (a fresh cosignature of the same view).
    submit(&mut w, &main, 8).unwrap();
}

#[test]
fn state_survives_restart_and_a_second_view_is_still_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    {
        let mut w = open(&path);
        submit(&mut w, &log_with(8, "main"), 0).unwrap();
    }
    // No temporary file is left behind (only the state and its lock file).
    let mut names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, ["state.json", "state.json.lock"]);
    let mut w = open(&path);
    assert_eq!(w.latest_size(ORIGIN), 8);
    let fork = forked(5, 8);
    assert_eq!(
        w.add_checkpoint(&add_checkpoint_request(8, &[], &fork.checkpoint(&log_key())), NOW)
            .unwrap_err()
            .status(),
        422
    );
    // Starting over from 0 is a 409, not a fresh start.
    let e = w.add_checkpoint(&add_checkpoint_request(0, &[], &fork.checkpoint(&log_key())), NOW).unwrap_err();
    assert_eq!((e.status(), e.body()), (409, b"8\n".to_vec()));
    submit(&mut w, &log_with(9, "main"), 8).unwrap();
    drop(w);
    assert_eq!(open(&path).latest_size(ORIGIN), 9);
}

#[test]
fn the_record_is_on_disk_before_the_cosignature_is_returned() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let mut w = open(&path);
    submit(&mut w, &log_with(3, "main"), 0).unwrap();
    // Another witness cannot open the same state while this one runs ...
    let e = Witness::open(&path, cosigner(1), &[log_key().vkey()])
        .err()
        .expect("two witnesses on one state file");
    assert!(matches!(e, WitnessError::State { .. }), "{e}");
    // ... and once it stops, the next one sees what the first returned, without any shutdown step.
    drop(w);
    assert_eq!(open(&path).latest_size(ORIGIN), 3);
    // If the state cannot be written, no cosignature comes out and nothing changes.
    // (A directory where the temporary file must go makes every write fail.)
    let stuck_path = dir.path().join("stuck.json");
    std::fs::create_dir(dir.path().join("stuck.json.tmp")).unwrap();
    let mut stuck = Witness::open(&stuck_path, cosigner(1), &[log_key().vkey()]).unwrap();
    let e = submit(&mut stuck, &log_with(3, "main"), 0).unwrap_err();
    assert_eq!(e.status(), 500, "{e}");
    assert_eq!(stuck.latest_size(ORIGIN), 0);
    assert!(!stuck_path.exists());
}

#[test]
fn a_damaged_state_file_is_an_error_not_a_reset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    submit(&mut open(&path), &log_with(8, "main"), 0).unwrap();
    let good = std::fs::read(&path).unwrap();
    let text = String::from_utf8(good.clone()).unwrap();
    let damaged: Vec<Vec<u8>> = vec![
        good[..good.len() / 2].to_vec(),                             // truncated
        Vec::new(),                                                  // emptied
        text.replacen("\"size\": 8", "\"size\": 7", 1).into_bytes(), // still JSON, checksum catches it
        text.replacen("\"version\": 1", "\"version\": 2", 1).into_bytes(),
        b"\xff\xfe garbage".to_vec(),
    ];
    for bytes in damaged {
        std::fs::write(&path, &bytes).unwrap();
        let e = Witness::open(&path, cosigner(1), &[log_key().vkey()])
            .err()
            .expect("opened a damaged state file");
        assert!(matches!(e, WitnessError::State { .. }), "{e}");
        assert_eq!(e.status(), 500);
    }
    std::fs::write(&path, &good).unwrap();
    assert_eq!(open(&path).latest_size(ORIGIN), 8);
}

#[test]
fn bad_configuration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s");
    for logs in [vec!["nonsense".to_owned()], vec![cosigner(3).vkey()]] {
        assert!(matches!(Witness::open(&p, cosigner(1), &logs), Err(WitnessError::Config(_))));
    }
}

#[test]
fn malformed_bodies_are_400_and_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = open(&dir.path().join("s"));
    let cp = log_with(3, "main").checkpoint(&log_key());
    let text = String::from_utf8(cp.clone()).unwrap();
    let bodies: Vec<Vec<u8>> = vec![
        b"old 0\n\n".to_vec(),
        b"old 0\n\nnot a note".to_vec(),
        format!("old 0\n\n{}", text.replace("\n3\n", "\n03\n")).into_bytes(),
        format!("old 0\n\n{}", text.replacen('\n', "\r\n", 1)).into_bytes(),
        format!("old 0\n\n{}", text.trim_end()).into_bytes(),
        [b"old 0\n\n".as_slice(), &cp, b"extra"].concat(),
        vec![0xff; 100],
    ];
    for b in bodies {
        let e = w.add_checkpoint(&b, NOW).unwrap_err();
        assert_eq!(e.status(), 400, "{e}");
    }
    // Random bytes and random mutations of a valid body: always a typed answer.
    let good = add_checkpoint_request(0, &[], &cp);
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for _ in 0..2000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut b = good.clone();
        let i = (x % b.len() as u64) as usize;
        b[i] = (x >> 32) as u8;
        if let Err(e) = w.add_checkpoint(&b, NOW) {
            assert!([400, 403, 404, 409, 422].contains(&e.status()), "{e}");
        }
    }
}

#[test]
fn empty_checkpoints_must_have_the_empty_root() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = open(&dir.path().join("s"));
    let text = format!("{ORIGIN}\n0\n{}\n", "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=");
    let bad = log_key().sign_note(text.as_bytes()).unwrap();
    let e = w.add_checkpoint(&add_checkpoint_request(0, &[], &bad), NOW).unwrap_err();
    assert_eq!(e.status(), 422, "{e}");
    let policy = TrustPolicy::new(&log_key().vkey(), &[], 0).unwrap();
    assert!(policy.verify(&bad).is_err());
    // The real empty tree is cosigned, and a gate accepts it.
    let empty = log_with(0, "main").checkpoint(&log_key());
    let line = w.add_checkpoint(&add_checkpoint_request(0, &[], &empty), NOW).unwrap();
    assert_eq!(policy.verify(&merge_cosignatures(&empty, &line).unwrap()).unwrap().size, 0);
}

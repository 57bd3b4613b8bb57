//! Our C2SP code against siglog 0.1.0's, used as a library: checkpoints signed by one and verified by
//! the other, consistency proofs, add-checkpoint bodies, tile paths, hash tiles and entry bundles. And
//! the one place they do not meet, asserted so it stays visible: siglog's witness cosignatures are plain
//! Ed25519 note signatures (68 bytes, key ID with type 0x01), not tlog-cosignature v1 (type 0x04,
//! timestamped, 76 bytes), and siglog cannot parse a note that carries a v1 cosignature.

use ed25519_dalek::SigningKey;
use healthcode_transparency::{
    add_checkpoint_request, merge_cosignatures, CheckpointError, CosignerKey, LogKey, TilePath, TiledLog,
    TrustPolicy, Witness,
};
use siglog::checkpoint::{Checkpoint as SlCheckpoint, CheckpointSigner, CosignedCheckpoint, Origin};
use siglog::types::TreeSize;
use siglog::witness::{
    verify_consistency as sl_verify_consistency, CheckpointVerifier, ConsistencyProof, LogConfig,
};
use sigstore_types::Sha256Hash;

const ORIGIN: &str = "registry.example/log";
const SEED: [u8; 32] = [7; 32];
const NOW: u64 = 1_750_000_000;

fn log(n: u64) -> TiledLog {
    let mut l = TiledLog::new(ORIGIN);
    for i in 0..n {
        l.push(format!("head {i}").into_bytes());
    }
    l
}

fn sl_hash(h: &[u8; 32]) -> Sha256Hash {
    Sha256Hash::from_bytes(*h)
}

fn siglog_checkpoint(l: &TiledLog, seed: [u8; 32]) -> Vec<u8> {
    let signer = CheckpointSigner::from_seed(ORIGIN, &seed);
    let cp = SlCheckpoint::new(Origin::new(ORIGIN.into()), TreeSize::new(l.size()), sl_hash(&l.root()));
    signer.sign(&cp).into_cosigned().to_text().into_bytes()
}

#[test]
fn key_ids_and_vkeys_agree() {
    let ours = LogKey::new(ORIGIN, SigningKey::from_bytes(&SEED));
    let theirs = CheckpointSigner::from_seed(ORIGIN, &SEED);
    assert_eq!(ours.key_id(), theirs.key_id().as_u32());
    // siglog parses our vkey (and its key ID check passes).
    LogConfig::new(ORIGIN.into(), &ours.vkey()).unwrap();
}

#[test]
fn siglog_signs_and_we_verify_and_cosign() {
    let l = log(300);
    let note = siglog_checkpoint(&l, SEED);
    let vkey = LogKey::new(ORIGIN, SigningKey::from_bytes(&SEED)).vkey();
    let v = TrustPolicy::new(&vkey, &[], 0).unwrap().verify(&note).unwrap();
    assert_eq!((v.size, v.root), (300, l.root()));
    // Our witness cosigns siglog's checkpoint, then a later one with our consistency proof.
    let dir = tempfile::tempdir().unwrap();
    let w_key = CosignerKey::new("witness.example", SigningKey::from_bytes(&[9; 32]));
    let w_vkey = w_key.vkey();
    let mut w = Witness::open(&dir.path().join("state"), w_key, std::slice::from_ref(&vkey)).unwrap();
    let line = w.add_checkpoint(&add_checkpoint_request(0, &[], &note), NOW).unwrap();
    let policy = TrustPolicy::new(&vkey, &[w_vkey], 1).unwrap();
    assert!(policy.verify(&merge_cosignatures(&note, &line).unwrap()).is_ok());
    let mut l2 = l.clone();
    l2.push(b"one more".to_vec());
    let note2 = siglog_checkpoint(&l2, SEED);
    let line = w
        .add_checkpoint(&add_checkpoint_request(300, &l2.consistency_proof(300, 301).unwrap(), &note2), NOW)
        .unwrap();
    assert_eq!(policy.verify(&merge_cosignatures(&note2, &line).unwrap()).unwrap().size, 301);
    // Signed by siglog with another key: our witness refuses (403).
    let e = w
        .add_checkpoint(&add_checkpoint_request(301, &[], &siglog_checkpoint(&l2, [8; 32])), NOW)
        .unwrap_err();
    assert_eq!(e.status(), 403);
}

#[test]
fn we_sign_and_siglog_verifies() {
    let key = LogKey::new(ORIGIN, SigningKey::from_bytes(&SEED));
    let l = log(42);
    let note = String::from_utf8(l.checkpoint(&key)).unwrap();
    let parsed = CosignedCheckpoint::from_text(&note).unwrap();
    assert_eq!(parsed.checkpoint.size.value(), 42);
    assert_eq!(parsed.checkpoint.root_hash.to_hex(), hex::encode(l.root()));
    let verifier = CheckpointVerifier::new(LogConfig::new(ORIGIN.into(), &key.vkey()).unwrap());
    verifier.verify(&parsed).unwrap();
    // The harness can fail: a tampered size does not verify under siglog either.
    let tampered = CosignedCheckpoint::from_text(&note.replacen("\n42\n", "\n43\n", 1)).unwrap();
    assert!(verifier.verify(&tampered).is_err());
}

#[test]
fn consistency_proofs_agree() {
    let l = log(600);
    for (old, new) in
        [(1, 2), (1, 600), (3, 5), (255, 256), (256, 257), (100, 513), (511, 600), (600, 600), (0, 17)]
    {
        let proof = l.consistency_proof(old, new).unwrap();
        let sl_proof = ConsistencyProof::new(proof.iter().map(sl_hash).collect());
        let (ro, rn) = (l.root_at(old).unwrap(), l.root_at(new).unwrap());
        sl_verify_consistency(old, new, &sl_hash(&ro), &sl_hash(&rn), &sl_proof)
            .unwrap_or_else(|e| panic!("{old}->{new}: {e}"));
        if !proof.is_empty() {
            let mut bad = proof.clone();
            bad[0][0] ^= 1;
            let sl_bad = ConsistencyProof::new(bad.iter().map(sl_hash).collect());
            assert!(sl_verify_consistency(old, new, &sl_hash(&ro), &sl_hash(&rn), &sl_bad).is_err());
        }
    }
}

#[test]
fn add_checkpoint_bodies_agree() {
    let l = log(20);
    let key = LogKey::new(ORIGIN, SigningKey::from_bytes(&SEED));
    let proof = l.consistency_proof(13, 20).unwrap();
    let cp = l.checkpoint(&key);
    let body = add_checkpoint_request(13, &proof, &cp);
    let parsed =
        siglog::witness::AddCheckpointRequest::from_ascii(std::str::from_utf8(&body).unwrap()).unwrap();
    assert_eq!(parsed.old_size, 13);
    let hashes: Vec<[u8; 32]> =
        parsed.proof.hashes().iter().map(|h| hex::decode(h.to_hex()).unwrap().try_into().unwrap()).collect();
    assert_eq!(hashes, proof);
    // siglog drops the note's final newline when it re-joins lines.
    assert_eq!(parsed.checkpoint.as_bytes(), &cp[..cp.len() - 1]);
}

#[test]
fn tiles_agree() {
    use siglog::api::paths::{entries_path, parse_tile_index, partial_tile_size, tile_path};
    use siglog::merkle::{EntryBundle, HashTile};
    let l = log(70_000);
    for (level, index) in [(0u64, 0u64), (0, 272), (0, 273), (1, 0), (1, 1), (2, 0)] {
        let partial = partial_tile_size(level, index, l.size());
        let path = tile_path(level, index, partial);
        let ours = TilePath::parse(&path).unwrap();
        assert_eq!(ours.to_path(), path);
        let tile = l.tile(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let nodes = HashTile::from_bytes(&tile).unwrap().nodes;
        assert_eq!(nodes.len(), if partial == 0 { 256 } else { usize::from(partial) });
        // Level-1 tile hash 0 is the root of level-0 tile 0, i.e. of the first 256 entries.
        if level == 1 && index == 0 {
            assert_eq!(nodes[0].to_hex(), hex::encode(l.root_at(256).unwrap()));
        }
        let (idx, p) = parse_tile_index(path.split_once('/').unwrap().1.split_once('/').unwrap().1).unwrap();
        assert_eq!((idx, p), (index, partial));
    }
    for index in [0u64, 100, 273] {
        let partial = partial_tile_size(0, index, l.size());
        let path = entries_path(index, partial);
        let bundle = EntryBundle::from_bytes(&l.tile(&path).unwrap()).unwrap();
        assert_eq!(bundle.entries[0].as_bytes(), l.entry(index * 256).unwrap());
    }
    for n in [0u64, 999, 1000, 1_234_067, u64::MAX] {
        let path = tile_path(3, n, 0);
        assert_eq!(TilePath::parse(&path).unwrap().index, n);
    }
}

/// The incompatibility, pinned down.
#[test]
fn siglog_witness_cosignatures_are_not_tlog_cosignature_v1() {
    let l = log(10);
    let key = LogKey::new(ORIGIN, SigningKey::from_bytes(&SEED));
    let witness_seed = [9; 32];
    // What siglog's Witness::add_checkpoint returns: an Ed25519 signature over the body under a type-0x01
    // key ID (see siglog/src/witness/mod.rs, step 8).
    let sl_witness = CheckpointSigner::from_seed("witness.example", &witness_seed);
    let mut sl_note =
        CosignedCheckpoint::from_text(std::str::from_utf8(&l.checkpoint(&key)).unwrap()).unwrap();
    sl_note.add_signature(&sl_witness);
    let sl_text = sl_note.to_text();
    // A gate trusting that witness's v1 key does not count it (other key ID), as tlog-cosignature says.
    let v1 = CosignerKey::new("witness.example", SigningKey::from_bytes(&witness_seed));
    let gate = TrustPolicy::new(&key.vkey(), &[v1.vkey()], 1).unwrap();
    assert_eq!(
        gate.verify(sl_text.as_bytes()).unwrap_err(),
        CheckpointError::QuorumNotMet { needed: 1, got: 0 }
    );
    // And siglog cannot parse a checkpoint carrying our v1 cosignature (it expects 68-byte signatures).
    let note = l.checkpoint(&key);
    let text = &note[..note.len() - (note.len() - String::from_utf8_lossy(&note).find("\n\n").unwrap() - 1)];
    let ours = merge_cosignatures(&note, &v1.cosign(text, NOW).unwrap()).unwrap();
    assert!(gate.verify(&ours).is_ok());
    assert!(CosignedCheckpoint::from_text(std::str::from_utf8(&ours).unwrap()).is_err());
    // siglog's single-signature SignedCheckpoint::to_text leaves out the blank line before the signature,
    // so it is not a signed note; we refuse it.
    let signer = CheckpointSigner::from_seed(ORIGIN, &SEED);
    let bad = signer
        .sign(&SlCheckpoint::new(Origin::new(ORIGIN.into()), TreeSize::new(10), sl_hash(&l.root())))
        .to_text();
    assert!(TrustPolicy::new(&key.vkey(), &[], 0).unwrap().verify(bad.as_bytes()).is_err());
}

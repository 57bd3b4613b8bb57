//! RFC 9162 inclusion and consistency proofs: every honest proof verifies, and bit flips,
//! truncation, trailing hashes, wrong sizes, wrong indices and swapped roots are all refused.

use healthcode_registry::log::{
    consistency_proof, inclusion_proof, leaf_hash, root, verify_consistency, verify_inclusion, Hash,
    MemoryLog,
};
use sha2::{Digest, Sha256};

fn log_of(n: u32) -> MemoryLog {
    let mut log = MemoryLog::new();
    for i in 0..n {
        log.append(format!("entry {i}").as_bytes());
    }
    log
}

fn flips(proof: &[Hash]) -> Vec<Vec<Hash>> {
    let mut out = Vec::new();
    for i in 0..proof.len() {
        for bit in [0, 7, 255] {
            let mut p = proof.to_vec();
            p[i][bit / 8] ^= 1 << (bit % 8);
            out.push(p);
        }
    }
    out
}

#[test]
fn inclusion_negatives() {
    let log = log_of(21);
    for n in 1..=21u64 {
        let r = root(&log, n).unwrap();
        for i in 0..n {
            let leaf = leaf_hash(format!("entry {i}").as_bytes());
            let p = inclusion_proof(&log, i, n).unwrap();
            verify_inclusion(&leaf, i, n, &p, &r).unwrap();
            for bad in flips(&p) {
                assert!(verify_inclusion(&leaf, i, n, &bad, &r).is_err());
            }
            if !p.is_empty() {
                assert!(verify_inclusion(&leaf, i, n, &p[..p.len() - 1], &r).is_err(), "truncated");
            }
            let mut long = p.clone();
            long.push([0; 32]);
            assert!(verify_inclusion(&leaf, i, n, &long, &r).is_err(), "trailing garbage");
            let mut bad_leaf = leaf;
            bad_leaf[31] ^= 1;
            assert!(verify_inclusion(&bad_leaf, i, n, &p, &r).is_err());
            // The entry hashed without the 0x00 leaf prefix does not verify (domain separation).
            let unprefixed: Hash = Sha256::digest(format!("entry {i}").as_bytes()).into();
            assert!(verify_inclusion(&unprefixed, i, n, &p, &r).is_err());
            // Another index or tree size (with that size's real root) is refused unless the
            // honest proof for it is literally the same list. The root alone does not encode
            // the size: a verifier takes (size, root) from a signed head, never from the prover.
            for wn in 1..=21u64 {
                for wi in 0..wn {
                    if (wi, wn) != (i, n) && inclusion_proof(&log, wi, wn).unwrap() != p {
                        let wr = root(&log, wn).unwrap();
                        assert!(verify_inclusion(&leaf, wi, wn, &p, &wr).is_err(), "{wi}/{wn} for {i}/{n}");
                    }
                }
            }
            assert!(verify_inclusion(&leaf, n, n, &p, &r).is_err(), "index = size");
        }
    }
}

#[test]
fn consistency_negatives() {
    let log = log_of(19);
    for n in 1..=19u64 {
        let rn = root(&log, n).unwrap();
        for m in 1..=n {
            let rm = root(&log, m).unwrap();
            let p = consistency_proof(&log, m, n).unwrap();
            verify_consistency(m, n, &rm, &rn, &p).unwrap();
            for bad in flips(&p) {
                assert!(verify_consistency(m, n, &rm, &rn, &bad).is_err());
            }
            if !p.is_empty() {
                assert!(verify_consistency(m, n, &rm, &rn, &p[..p.len() - 1]).is_err(), "truncated");
            }
            let mut long = p.clone();
            long.push([0; 32]);
            assert!(verify_consistency(m, n, &rm, &rn, &long).is_err(), "trailing garbage");
            if m != n {
                assert!(verify_consistency(m, n, &rn, &rm, &p).is_err(), "swapped roots");
                assert!(verify_consistency(n, m, &rn, &rm, &p).is_err(), "swapped sizes");
            }
            // Other sizes (with their real roots) are refused unless their honest proof is the
            // same list.
            for wn in 1..=19u64 {
                for wm in 1..=wn {
                    if (wm, wn) != (m, n) && consistency_proof(&log, wm, wn).unwrap() != p {
                        let (a, b) = (root(&log, wm).unwrap(), root(&log, wn).unwrap());
                        assert!(verify_consistency(wm, wn, &a, &b, &p).is_err(), "{wm}->{wn} for {m}->{n}");
                    }
                }
            }
        }
        assert!(verify_consistency(0, n, &rn, &rn, &[]).is_err());
    }
}

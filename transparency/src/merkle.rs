//! RFC 6962 hashing and proof verification.
//!
//! The verifiers follow RFC 9162 §2.1.3.2 and §2.1.4.2 (iterative, over the bits of the index and
//! sizes), deliberately not the recursive shape `tlog_tiles` uses, so that the tests comparing the two
//! compare two independent implementations.

use sha2::{Digest, Sha256};

use crate::{Hash, MAX_PROOF_HASHES};

/// The root of the empty tree: SHA-256 of the empty string (RFC 6962 §2.1).
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27,
    0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// Domain-separation prefix of a leaf hash.
const LEAF_PREFIX: u8 = 0x00;
/// Domain-separation prefix of an interior node hash.
const NODE_PREFIX: u8 = 0x01;

/// Why a log operation or a proof check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("tree size {size} is beyond the log's size {log_size}")]
    SizeBeyondLog { size: u64, log_size: u64 },
    #[error("index {index} is not in a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("old size {old} is larger than new size {new}")]
    OldLargerThanNew { old: u64, new: u64 },
    #[error("proof has {len} hashes, more than the {max} any tree needs")]
    ProofTooLong { len: usize, max: usize },
    #[error("log entry is {len} bytes; tlog-tiles entry bundles hold at most {max}")]
    EntryTooLarge { len: usize, max: usize },
    #[error("invalid inclusion proof: {0}")]
    BadInclusionProof(&'static str),
    #[error("invalid consistency proof: {0}")]
    BadConsistencyProof(&'static str),
}

/// RFC 6962 leaf hash: SHA-256(0x00 || entry).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(entry);
    h.finalize().into()
}

/// RFC 6962 interior node hash: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([NODE_PREFIX]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

fn check_len(proof: &[Hash]) -> Result<(), LogError> {
    if proof.len() > MAX_PROOF_HASHES {
        return Err(LogError::ProofTooLong { len: proof.len(), max: MAX_PROOF_HASHES });
    }
    Ok(())
}

/// Checks that `entry` is leaf `index` of the tree of `size` leaves whose root is `root`.
pub fn verify_inclusion(
    entry: &[u8],
    index: u64,
    size: u64,
    root: &Hash,
    proof: &[Hash],
) -> Result<(), LogError> {
    verify_inclusion_hash(&leaf_hash(entry), index, size, root, proof)
}

/// [`verify_inclusion`] for a leaf given by its leaf hash.
pub fn verify_inclusion_hash(
    leaf: &Hash,
    index: u64,
    size: u64,
    root: &Hash,
    proof: &[Hash],
) -> Result<(), LogError> {
    check_len(proof)?;
    if index >= size {
        return Err(LogError::IndexOutOfRange { index, size });
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(LogError::BadInclusionProof("proof is longer than the path to the root"));
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(LogError::BadInclusionProof("proof is shorter than the path to the root"));
    }
    if r != *root {
        return Err(LogError::BadInclusionProof("computed root differs"));
    }
    Ok(())
}

/// Checks that the tree of `new` leaves with root `new_root` extends the tree of `old` leaves with root
/// `old_root`. From the empty tree (`old == 0`, whose root must be [`EMPTY_ROOT`]) and between equal
/// sizes the proof must be empty, and for equal sizes the roots must be equal.
pub fn verify_consistency(
    old: u64,
    old_root: &Hash,
    new: u64,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), LogError> {
    check_len(proof)?;
    if old > new {
        return Err(LogError::OldLargerThanNew { old, new });
    }
    if old == 0 {
        if *old_root != EMPTY_ROOT {
            return Err(LogError::BadConsistencyProof("the empty tree's root is not the empty hash"));
        }
        if !proof.is_empty() {
            return Err(LogError::BadConsistencyProof("a proof from the empty tree must be empty"));
        }
        return Ok(());
    }
    if old == new {
        if !proof.is_empty() {
            return Err(LogError::BadConsistencyProof("a proof between equal sizes must be empty"));
        }
        if old_root != new_root {
            return Err(LogError::BadConsistencyProof("same size, different roots"));
        }
        return Ok(());
    }
    if proof.is_empty() {
        return Err(LogError::BadConsistencyProof("proof is empty"));
    }
    // When the old tree is a complete subtree its root is the proof's implicit first node.
    let mut nodes: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        nodes.push(*old_root);
    }
    nodes.extend_from_slice(proof);
    let (mut f_n, mut s_n) = (old - 1, new - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut f_r, mut s_r) = (nodes[0], nodes[0]);
    for c in &nodes[1..] {
        if s_n == 0 {
            return Err(LogError::BadConsistencyProof("proof is too long"));
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(LogError::BadConsistencyProof("proof is too short"));
    }
    if f_r != *old_root {
        return Err(LogError::BadConsistencyProof("old root does not match"));
    }
    if s_r != *new_root {
        return Err(LogError::BadConsistencyProof("new root does not match"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(EMPTY_ROOT, <[u8; 32]>::from(Sha256::digest(b"")));
    }

    #[test]
    fn overlong_proofs_are_refused_before_any_work() {
        let proof = vec![[0u8; 32]; MAX_PROOF_HASHES + 1];
        assert!(matches!(
            verify_inclusion(b"x", 0, u64::MAX, &EMPTY_ROOT, &proof),
            Err(LogError::ProofTooLong { .. })
        ));
        assert!(matches!(
            verify_consistency(1, &EMPTY_ROOT, u64::MAX, &EMPTY_ROOT, &proof),
            Err(LogError::ProofTooLong { .. })
        ));
    }

    #[test]
    fn extreme_sizes_are_errors_not_panics() {
        let p = vec![[7u8; 32]; 64];
        assert!(verify_inclusion(b"x", u64::MAX - 1, u64::MAX, &EMPTY_ROOT, &p).is_err());
        assert!(verify_inclusion(b"x", u64::MAX, u64::MAX, &EMPTY_ROOT, &p).is_err());
        assert!(verify_consistency(u64::MAX, &EMPTY_ROOT, u64::MAX, &EMPTY_ROOT, &p).is_err());
        assert!(verify_consistency(1, &EMPTY_ROOT, u64::MAX, &EMPTY_ROOT, &p).is_err());
        assert!(verify_consistency(u64::MAX - 1, &EMPTY_ROOT, u64::MAX, &EMPTY_ROOT, &p).is_err());
        assert!(verify_consistency(2, &EMPTY_ROOT, 1, &EMPTY_ROOT, &[]).is_err());
    }

    #[test]
    fn empty_tree_consistency_rules() {
        assert!(verify_consistency(0, &EMPTY_ROOT, 5, &[1; 32], &[]).is_ok());
        assert!(verify_consistency(0, &[1; 32], 5, &[1; 32], &[]).is_err());
        assert!(verify_consistency(0, &EMPTY_ROOT, 5, &[1; 32], &[[2; 32]]).is_err());
        assert!(verify_consistency(3, &[1; 32], 3, &[1; 32], &[]).is_ok());
        assert!(verify_consistency(3, &[1; 32], 3, &[2; 32], &[]).is_err());
        assert!(verify_consistency(3, &[1; 32], 3, &[1; 32], &[[1; 32]]).is_err());
    }
}

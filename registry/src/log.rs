//! The append-only event log: an RFC 9162 (RFC 6962 v2) Merkle tree over SHA-256.
//!
//! Leaves hash as `SHA-256(0x00 ‖ entry)` and nodes as `SHA-256(0x01 ‖ left ‖ right)`, so a leaf
//! can never be passed off as a node (docs/soundness.md §12). Storage only needs the hashes of the
//! *perfect* subtrees (`2^level` leaves starting at a multiple of `2^level`): every range the RFC's
//! recursion visits is a perfect subtree or splits into them, so roots and proofs cost
//! `O(log n)` look-ups whatever the log size. [`Subtrees`] abstracts where those hashes live (the
//! database, or memory in tests and for auditors).

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// `SHA-256(0x00 ‖ entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    Sha256::new().chain_update([0u8]).chain_update(entry).finalize().into()
}

/// `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Sha256::new().chain_update([1u8]).chain_update(left).chain_update(right).finalize().into()
}

/// The hash of a perfect subtree from its leaf hashes (a power of two of them, at least one).
pub fn perfect_root(leaves: &[Hash]) -> Hash {
    debug_assert!(leaves.len().is_power_of_two());
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        level = level.chunks(2).map(|p| node_hash(&p[0], &p[1])).collect();
    }
    level[0]
}

/// The root of the empty log: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    #[error("leaf index {index} is not below the log size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("a consistency proof needs 0 < old size <= new size, got {old} and {new}")]
    BadSizes { old: u64, new: u64 },
    #[error("the proof has the wrong number of hashes")]
    WrongLength,
    #[error("the proof does not lead to the expected root")]
    RootMismatch,
    #[error("log storage: {0}")]
    Storage(String),
}

/// Where the hashes of perfect subtrees are kept.
pub trait Subtrees {
    /// The hash of leaves `[index·2^level, (index+1)·2^level)`, which must all exist.
    fn subtree(&self, level: u32, index: u64) -> Result<Hash, ProofError>;
}

/// `MTH(D[start:end])` for a range the RFC recursion produces (`start` aligned to the range's
/// largest power of two).
fn mth(src: &impl Subtrees, start: u64, end: u64) -> Result<Hash, ProofError> {
    let n = end - start;
    if n.is_power_of_two() {
        let level = n.trailing_zeros();
        return src.subtree(level, start >> level);
    }
    let k = split(n);
    Ok(node_hash(&mth(src, start, start + k)?, &mth(src, start + k, end)?))
}

/// The largest power of two strictly below `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The root of the first `size` entries.
pub fn root(src: &impl Subtrees, size: u64) -> Result<Hash, ProofError> {
    if size == 0 {
        return Ok(empty_root());
    }
    mth(src, 0, size)
}

/// The inclusion proof of entry `index` in the log of `size` entries (RFC 9162 §2.1.3.1).
pub fn inclusion_proof(src: &impl Subtrees, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut proof = Vec::new();
    path(src, index, 0, size, &mut proof)?;
    Ok(proof)
}

fn path(src: &impl Subtrees, m: u64, start: u64, end: u64, out: &mut Vec<Hash>) -> Result<(), ProofError> {
    let n = end - start;
    if n == 1 {
        return Ok(());
    }
    let k = split(n);
    if m < k {
        path(src, m, start, start + k, out)?;
        out.push(mth(src, start + k, end)?);
    } else {
        path(src, m - k, start + k, end, out)?;
        out.push(mth(src, start, start + k)?);
    }
    Ok(())
}

/// The consistency proof between the first `old` and first `new` entries (RFC 9162 §2.1.4.1).
pub fn consistency_proof(src: &impl Subtrees, old: u64, new: u64) -> Result<Vec<Hash>, ProofError> {
    if old == 0 || old > new {
        return Err(ProofError::BadSizes { old, new });
    }
    let mut proof = Vec::new();
    subproof(src, old, 0, new, true, &mut proof)?;
    Ok(proof)
}

fn subproof(
    src: &impl Subtrees,
    m: u64,
    start: u64,
    end: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    let n = end - start;
    if m == n {
        if !whole {
            out.push(mth(src, start, end)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof(src, m, start, start + k, whole, out)?;
        out.push(mth(src, start + k, end)?);
    } else {
        subproof(src, m - k, start + k, end, false, out)?;
        out.push(mth(src, start, start + k)?);
    }
    Ok(())
}

/// Checks that `leaf` is entry `index` of the log of `size` entries with root `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks that the log with root `old_root` of `old` entries is a prefix of the log with root
/// `new_root` of `new` entries (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old == 0 || old > new {
        return Err(ProofError::BadSizes { old, new });
    }
    if old == new {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if old_root == new_root { Ok(()) } else { Err(ProofError::RootMismatch) };
    }
    let mut proof = proof.to_vec();
    if old.is_power_of_two() {
        proof.insert(0, *old_root);
    }
    let Some((first, rest)) = proof.split_first() else {
        return Err(ProofError::WrongLength);
    };
    let (mut fnode, mut snode) = (old - 1, new - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr != *old_root || sr != *new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// The right edge of a log: the perfect subtrees of the binary decomposition of its size,
/// largest first. Enough to append without reading anything else, and to compute the root.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// `(level, hash)`, levels strictly decreasing.
    peaks: Vec<(u32, Hash)>,
}

impl Frontier {
    /// Loads the frontier of the first `size` entries.
    pub fn load(src: &impl Subtrees, size: u64) -> Result<Self, ProofError> {
        let mut peaks = Vec::new();
        let mut start = 0u64;
        for level in (0..64u32).rev() {
            if size >> level & 1 == 1 {
                peaks.push((level, src.subtree(level, start >> level)?));
                start += 1 << level;
            }
        }
        Ok(Self { size, peaks })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf hash; returns the perfect subtrees it completes as `(level, index, hash)`,
    /// the leaf itself first, for the caller to store.
    pub fn push(&mut self, leaf: Hash) -> Vec<(u32, u64, Hash)> {
        let mut made = vec![(0, self.size, leaf)];
        let (mut level, mut index, mut hash) = (0u32, self.size, leaf);
        while index & 1 == 1 {
            let (l, left) = self.peaks.pop().expect("an odd index has a left sibling peak");
            debug_assert_eq!(l, level);
            hash = node_hash(&left, &hash);
            level += 1;
            index >>= 1;
            made.push((level, index, hash));
        }
        self.peaks.push((level, hash));
        self.size += 1;
        made
    }

    /// The root of the log so far.
    pub fn root(&self) -> Hash {
        let mut it = self.peaks.iter().rev();
        match it.next() {
            None => empty_root(),
            Some((_, last)) => it.fold(*last, |acc, (_, left)| node_hash(left, &acc)),
        }
    }
}

/// An in-memory log: every perfect subtree, level by level. Used by tests and auditors.
#[derive(Clone, Debug, Default)]
pub struct MemoryLog {
    levels: Vec<Vec<Hash>>,
    frontier: Frontier,
}

impl MemoryLog {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn append(&mut self, entry: &[u8]) {
        self.append_hash(leaf_hash(entry));
    }

    pub fn append_hash(&mut self, leaf: Hash) {
        for (level, index, hash) in self.frontier.push(leaf) {
            let level = level as usize;
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            debug_assert_eq!(self.levels[level].len() as u64, index);
            self.levels[level].push(hash);
        }
    }

    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    pub fn root(&self) -> Hash {
        self.frontier.root()
    }
}

impl Subtrees for MemoryLog {
    fn subtree(&self, level: u32, index: u64) -> Result<Hash, ProofError> {
        self.levels
            .get(level as usize)
            .and_then(|l| l.get(index as usize))
            .copied()
            .ok_or_else(|| ProofError::Storage(format!("no subtree at level {level} index {index}")))
    }
}

/// Hex encoding of proofs in JSON.
pub mod serde_hashes {
    use super::Hash;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[Hash], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(hex::encode))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Hash>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|h| super::hash_from_hex(h).map_err(D::Error::custom))
            .collect()
    }
}

/// Hex encoding of one hash in JSON.
pub mod serde_hash {
    use super::Hash;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Hash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        super::hash_from_hex(&String::deserialize(d)?).map_err(D::Error::custom)
    }
}

/// Parses 32 bytes of hex (64 digits, no prefix).
pub fn hash_from_hex(s: &str) -> Result<Hash, String> {
    let bytes = hex::decode(s).map_err(|e| format!("bad hex hash: {e}"))?;
    bytes.try_into().map_err(|b: Vec<u8>| format!("a hash is 32 bytes, got {}", b.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RFC's recursive definition, straight from the text.
    fn reference_root(entries: &[Vec<u8>]) -> Hash {
        match entries.len() {
            0 => empty_root(),
            1 => leaf_hash(&entries[0]),
            n => {
                let k = split(n as u64) as usize;
                node_hash(&reference_root(&entries[..k]), &reference_root(&entries[k..]))
            }
        }
    }

    #[test]
    fn roots_match_the_recursive_definition() {
        let entries: Vec<Vec<u8>> = (0..70u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let mut log = MemoryLog::new();
        assert_eq!(log.root(), reference_root(&[]));
        for n in 1..=entries.len() {
            log.append(&entries[n - 1]);
            let want = reference_root(&entries[..n]);
            assert_eq!(log.root(), want, "size {n}");
            assert_eq!(root(&log, n as u64).unwrap(), want);
            for m in 1..=n {
                assert_eq!(root(&log, m as u64).unwrap(), reference_root(&entries[..m]));
            }
        }
    }

    #[test]
    fn every_proof_verifies() {
        let mut log = MemoryLog::new();
        for i in 0..40u32 {
            log.append(&i.to_be_bytes());
        }
        for n in 1..=40u64 {
            let rn = root(&log, n).unwrap();
            for i in 0..n {
                let p = inclusion_proof(&log, i, n).unwrap();
                verify_inclusion(&leaf_hash(&(i as u32).to_be_bytes()), i, n, &p, &rn).unwrap();
            }
            for m in 1..=n {
                let p = consistency_proof(&log, m, n).unwrap();
                verify_consistency(m, n, &root(&log, m).unwrap(), &rn, &p).unwrap();
            }
        }
    }

    #[test]
    fn frontier_reloads() {
        let mut log = MemoryLog::new();
        for i in 0..37u32 {
            log.append(&i.to_be_bytes());
            let f = Frontier::load(&log, log.size()).unwrap();
            assert_eq!(f, log.frontier);
        }
    }
}

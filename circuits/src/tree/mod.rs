//! The registry tree: a sparse Merkle tree of arity 4 and 16 levels (2^32 leaves).
//!
//! Why arity 4: a width-5 Poseidon costs 300 constraints and replaces two width-3 levels
//! (2 × 243 = 486), so a 2^32 path costs 16 × (300 + 9) = 4,944 constraints instead of
//! 32 × (243 + 1) = 7,808 (`tests/tree.rs` measures both hash gadgets and pins this).
//!
//! Empty leaves are 0; an empty subtree of height `h` hashes to [`empty_root`]`(h)`, so the tree
//! only stores the non-empty nodes.

pub mod gadget;

use crate::hashes;
use ark_bn254::Fr;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

/// Children per node.
pub const ARITY: usize = 4;
/// Levels between a leaf and the root.
pub const LEVELS: usize = 16;
/// Bits of a leaf index (2 per level).
pub const INDEX_BITS: usize = 2 * LEVELS;
/// The value of a leaf nobody occupies.
pub const EMPTY_LEAF: Fr = Fr::new(ark_ff::BigInt::zero());

/// The hash of an empty subtree of height `h` (0 = an empty leaf, [`LEVELS`] = the empty root).
pub fn empty_root(h: usize) -> Fr {
    static EMPTY: OnceLock<Vec<Fr>> = OnceLock::new();
    EMPTY.get_or_init(|| {
        let mut v = vec![EMPTY_LEAF];
        for h in 0..LEVELS {
            v.push(hashes::node(&[v[h]; ARITY]));
        }
        v
    })[h]
}

/// Which child of its parent the node at `index` (on `level`) is, and the parent's index.
fn position(index: u64) -> (usize, u64) {
    ((index % ARITY as u64) as usize, index / ARITY as u64)
}

/// The siblings of a leaf at each level, in ascending child order, leaf level first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerklePath {
    #[serde(with = "crate::field::serde_fr_vec3")]
    pub siblings: Vec<[Fr; ARITY - 1]>,
}

impl MerklePath {
    /// The children of one node: the three siblings with `current` inserted at `pos`.
    pub fn children(siblings: &[Fr; ARITY - 1], current: Fr, pos: usize) -> [Fr; ARITY] {
        let mut out = [current; ARITY];
        let mut s = siblings.iter();
        for (i, slot) in out.iter_mut().enumerate() {
            if i != pos {
                *slot = *s.next().expect("three siblings");
            }
        }
        out
    }

    /// The root this path gives for `leaf` at `index` (native twin of [`gadget::root`]).
    pub fn root(&self, leaf: Fr, index: u32) -> Fr {
        let mut current = leaf;
        let mut idx = index as u64;
        for siblings in &self.siblings {
            let (pos, parent) = position(idx);
            current = hashes::node(&Self::children(siblings, current, pos));
            idx = parent;
        }
        current
    }
}

/// A sparse tree holding only non-empty nodes, level 0 = leaves.
#[derive(Clone, Debug, Default)]
pub struct SparseTree {
    levels: Vec<HashMap<u64, Fr>>,
}

impl SparseTree {
    pub fn new() -> Self {
        Self { levels: vec![HashMap::new(); LEVELS + 1] }
    }

    pub fn root(&self) -> Fr {
        self.node(LEVELS, 0)
    }

    fn node(&self, level: usize, index: u64) -> Fr {
        self.levels[level].get(&index).copied().unwrap_or_else(|| empty_root(level))
    }

    pub fn leaf(&self, index: u32) -> Fr {
        self.node(0, index as u64)
    }

    /// Number of non-empty leaves.
    pub fn occupied(&self) -> usize {
        self.levels[0].len()
    }

    /// Sets many leaves, then rehashes each touched node once, level by level: a batch of `k`
    /// updates costs at most `k × LEVELS` hashes and far fewer when leaves share ancestors.
    pub fn set_leaves(&mut self, updates: impl IntoIterator<Item = (u32, Fr)>) {
        let mut touched = BTreeSet::new();
        for (index, leaf) in updates {
            let index = index as u64;
            if leaf == EMPTY_LEAF {
                self.levels[0].remove(&index);
            } else {
                self.levels[0].insert(index, leaf);
            }
            touched.insert(position(index).1);
        }
        for level in 1..=LEVELS {
            let mut next = BTreeSet::new();
            for &index in &touched {
                let children: [Fr; ARITY] =
                    std::array::from_fn(|i| self.node(level - 1, index * ARITY as u64 + i as u64));
                let h = hashes::node(&children);
                if h == empty_root(level) {
                    self.levels[level].remove(&index);
                } else {
                    self.levels[level].insert(index, h);
                }
                next.insert(position(index).1);
            }
            touched = next;
        }
    }

    pub fn set_leaf(&mut self, index: u32, leaf: Fr) {
        self.set_leaves([(index, leaf)]);
    }

    /// The authentication path of the leaf at `index`.
    pub fn path(&self, index: u32) -> MerklePath {
        let mut idx = index as u64;
        let mut siblings = Vec::with_capacity(LEVELS);
        for level in 0..LEVELS {
            let (pos, parent) = position(idx);
            let mut s = [EMPTY_LEAF; ARITY - 1];
            let mut k = 0;
            for i in 0..ARITY {
                if i != pos {
                    s[k] = self.node(level, parent * ARITY as u64 + i as u64);
                    k += 1;
                }
            }
            siblings.push(s);
            idx = parent;
        }
        MerklePath { siblings }
    }
}

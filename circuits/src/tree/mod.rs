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
use std::collections::{BTreeMap, HashMap};
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

/// How many hashes [`update`] gathers inputs for at a time.
pub const BATCH: usize = 1024;

/// `f` over `items` in one chunk per available core (scoped threads, order kept): hashing
/// dominates batch updates, and the nodes of one level are independent. `f` maps a chunk to one
/// output per item (batched hashing).
pub fn parallel_chunks<T: Sync, R: Send>(items: &[T], f: impl Fn(&[T]) -> Vec<R> + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || items.len() < 256 {
        return f(items);
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = items.chunks(chunk).map(|c| s.spawn(|| f(c))).collect();
        handles.into_iter().flat_map(|h| h.join().expect("hashing does not panic")).collect()
    })
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

/// A node of the tree as `(level, index, value)`.
pub type Node = (usize, u64, Fr);

/// Where a batch update ([`update`]) reads the nodes it does not change: the in-memory
/// [`SparseTree`], or the registry's database (which keeps the tree on disk so that memory does
/// not grow with the number of holders).
pub trait NodeSource {
    type Error;
    /// The stored non-empty nodes on `level` among the [`ARITY`] children of each of `parents`
    /// (indices on `level + 1`, ascending and distinct), by index. A child not returned is empty.
    fn children(&mut self, level: usize, parents: &[u64]) -> Result<HashMap<u64, Fr>, Self::Error>;
}

/// Sets many leaves over the tree `source` holds and rehashes each touched node once, level by
/// level: a batch of `k` updates costs at most `k × LEVELS` hashes, far fewer when leaves share
/// ancestors, and reads only the siblings of the dirty paths. Returns every node written as
/// `(level, index, value)`, leaves first and the root last (a value equal to
/// [`empty_root`]`(level)` means the node is now empty); a later update of the same leaf wins.
/// The nodes of one level are hashed in batches ([`hashes::node_many`]) on all available cores.
pub fn update<S: NodeSource + ?Sized>(
    source: &mut S,
    updates: impl IntoIterator<Item = (u32, Fr)>,
) -> Result<Vec<Node>, S::Error> {
    Ok(update_levels(source, updates, false)?.0)
}

/// [`update`] over a source that may be damaged (a database): also returns the root of the tree
/// *before* the update, recomputed from the old leaves and the siblings the update read. When
/// it is the root the source claims to hold, every node the update built on is the one that
/// root commits to; when it is not, the new root must not be trusted (a lost or altered sibling
/// would otherwise go into a signed head). Costs a second hash per touched node.
pub fn update_checked<S: NodeSource + ?Sized>(
    source: &mut S,
    updates: impl IntoIterator<Item = (u32, Fr)>,
) -> Result<(Vec<Node>, Option<Fr>), S::Error> {
    update_levels(source, updates, true)
}

fn update_levels<S: NodeSource + ?Sized>(
    source: &mut S,
    updates: impl IntoIterator<Item = (u32, Fr)>,
    check: bool,
) -> Result<(Vec<Node>, Option<Fr>), S::Error> {
    let mut current: BTreeMap<u64, Fr> = updates.into_iter().map(|(i, v)| (i as u64, v)).collect();
    let mut changed: Vec<Node> = current.iter().map(|(&i, &v)| (0, i, v)).collect();
    if current.is_empty() {
        return Ok((changed, None));
    }
    // The old values of the touched nodes (empty before the first level: the old leaves are
    // among the stored children read there).
    let mut old: HashMap<u64, Fr> = HashMap::new();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut parents: Vec<u64> = current.keys().map(|&i| position(i).1).collect();
    parents.dedup();
    let mut next = Some(source.children(0, &parents));
    for level in 1..=LEVELS {
        let stored = next.take().expect("each level's children are read before it")?;
        // The parents one level up are known before this level is hashed: their children are
        // read while it hashes on the other cores (a database read overlaps the hashing).
        let mut above: Vec<u64> = parents.iter().map(|&p| position(p).1).collect();
        above.dedup();
        let empty = empty_root(level - 1);
        let new_child =
            |index: u64| current.get(&index).or_else(|| stored.get(&index)).copied().unwrap_or(empty);
        let old_child = |index: u64| old.get(&index).or_else(|| stored.get(&index)).copied().unwrap_or(empty);
        let hash_some = |parents: &[u64]| -> Vec<(Fr, Fr)> {
            let mut out = Vec::with_capacity(parents.len());
            // Gathered a block at a time, so the children of a whole level are never copied.
            for block in parents.chunks(BATCH) {
                let gather = |child: &dyn Fn(u64) -> Fr| -> Vec<[Fr; ARITY]> {
                    block
                        .iter()
                        .map(|&p| std::array::from_fn(|i| child(p * ARITY as u64 + i as u64)))
                        .collect()
                };
                let new = hashes::node_many(&gather(&new_child));
                if check {
                    out.extend(new.into_iter().zip(hashes::node_many(&gather(&old_child))));
                } else {
                    // No old values wanted: the second half is never read.
                    out.extend(new.into_iter().map(|h| (h, h)));
                }
            }
            out
        };
        let hashes = if level < LEVELS && cores > 1 {
            std::thread::scope(|s| {
                let hashing = s.spawn(|| parallel_chunks(&parents, hash_some));
                next = Some(source.children(level, &above));
                hashing.join().expect("hashing does not panic")
            })
        } else {
            let hashes = parallel_chunks(&parents, hash_some);
            if level < LEVELS {
                next = Some(source.children(level, &above));
            }
            hashes
        };
        if check {
            old = parents.iter().zip(&hashes).map(|(&p, &(_, o))| (p, o)).collect();
        }
        current = std::mem::replace(&mut parents, above)
            .into_iter()
            .zip(hashes)
            .map(|(p, (n, _))| (p, n))
            .collect();
        changed.extend(current.iter().map(|(&i, &v)| (level, i, v)));
    }
    Ok((changed, if check { old.get(&0).copied() } else { None }))
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
        self.set_leaves_changed(updates);
    }

    /// [`SparseTree::set_leaves`], returning every node it wrote as `(level, index, value)`,
    /// leaves included (a value equal to [`empty_root`]`(level)` means the node is now empty), so
    /// a caller can persist exactly the nodes that changed.
    pub fn set_leaves_changed(&mut self, updates: impl IntoIterator<Item = (u32, Fr)>) -> Vec<Node> {
        let changed = match update(&mut SparseView(self), updates) {
            Ok(changed) => changed,
            Err(never) => match never {},
        };
        for &(level, index, value) in &changed {
            self.put(level, index, value);
        }
        changed
    }

    /// Stores a node, dropping it when it equals the empty subtree of its level.
    fn put(&mut self, level: usize, index: u64, value: Fr) {
        if value == empty_root(level) {
            self.levels[level].remove(&index);
        } else {
            self.levels[level].insert(index, value);
        }
    }

    /// Rebuilds a tree from stored nodes without hashing (`(level, index, value)` as
    /// [`SparseTree::set_leaves_changed`] and [`SparseTree::nodes`] give them). The caller vouches
    /// for their consistency; [`SparseTree::recompute_root`] checks it.
    pub fn from_nodes(nodes: impl IntoIterator<Item = Node>) -> Result<Self, String> {
        let mut t = Self::new();
        for (level, index, value) in nodes {
            if level > LEVELS || index >= 1u64 << (2 * (LEVELS - level)) {
                return Err(format!("tree node {level}/{index} is outside the tree"));
            }
            t.put(level, index, value);
        }
        Ok(t)
    }

    /// Every stored (non-empty) node as `(level, index, value)`.
    pub fn nodes(&self) -> impl Iterator<Item = Node> + '_ {
        self.levels.iter().enumerate().flat_map(|(l, m)| m.iter().map(move |(&i, &v)| (l, i, v)))
    }

    /// The root recomputed from the leaves alone, ignoring the stored inner nodes.
    pub fn recompute_root(&self) -> Fr {
        let mut fresh = Self::new();
        fresh.set_leaves(self.levels[0].iter().map(|(&i, &v)| (i as u32, v)));
        fresh.root()
    }

    pub fn set_leaf(&mut self, index: u32, leaf: Fr) {
        self.set_leaves([(index, leaf)]);
    }

    /// The authentication path of the leaf at `index`.
    pub fn path(&self, index: u32) -> MerklePath {
        match path(&mut SparseView(self), index) {
            Ok(p) => p,
            Err(never) => match never {},
        }
    }
}

/// A read-only [`NodeSource`] over a borrowed [`SparseTree`] (paths need no `&mut`).
struct SparseView<'a>(&'a SparseTree);

impl NodeSource for SparseView<'_> {
    type Error = std::convert::Infallible;

    fn children(&mut self, level: usize, parents: &[u64]) -> Result<HashMap<u64, Fr>, Self::Error> {
        Ok(children_in(&self.0.levels[level], parents))
    }
}

/// The authentication path of the leaf at `index` in the tree `source` holds: the three siblings
/// on each level, one read of [`ARITY`] children per level.
pub fn path<S: NodeSource + ?Sized>(source: &mut S, index: u32) -> Result<MerklePath, S::Error> {
    let mut idx = index as u64;
    let mut siblings = Vec::with_capacity(LEVELS);
    for level in 0..LEVELS {
        let (pos, parent) = position(idx);
        let stored = source.children(level, &[parent])?;
        let mut s = [EMPTY_LEAF; ARITY - 1];
        let others = (0..ARITY).filter(|&i| i != pos);
        for (slot, i) in s.iter_mut().zip(others) {
            let child = parent * ARITY as u64 + i as u64;
            *slot = stored.get(&child).copied().unwrap_or_else(|| empty_root(level));
        }
        siblings.push(s);
        idx = parent;
    }
    Ok(MerklePath { siblings })
}

fn children_in(nodes: &HashMap<u64, Fr>, parents: &[u64]) -> HashMap<u64, Fr> {
    let mut out = HashMap::with_capacity(parents.len() * ARITY);
    for &p in parents {
        for c in p * ARITY as u64..(p + 1) * ARITY as u64 {
            if let Some(&v) = nodes.get(&c) {
                out.insert(c, v);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u32, salt: u64) -> Vec<(u32, Fr)> {
        (0..n).map(|i| (i.wrapping_mul(2_654_435_761), Fr::from(i as u64 * 7 + salt + 1))).collect()
    }

    #[test]
    fn batch_equals_one_by_one_and_paths_open() {
        // More than 256 nodes per level, so the parallel path is taken.
        let updates = leaves(600, 0);
        let mut batch = SparseTree::new();
        batch.set_leaves(updates.clone());
        let mut single = SparseTree::new();
        for &(i, v) in &updates {
            single.set_leaf(i, v);
        }
        assert_eq!(batch.root(), single.root());
        assert_eq!(batch.recompute_root(), batch.root());
        for &(i, v) in updates.iter().step_by(37) {
            assert_eq!(batch.path(i).root(v, i), batch.root());
        }
    }

    #[test]
    fn changed_nodes_rebuild_the_tree() {
        let mut t = SparseTree::new();
        let mut stored: HashMap<(usize, u64), Fr> = HashMap::new();
        for round in 0..3 {
            let mut updates = leaves(300, round);
            // Emptying a leaf removes it and any node that becomes empty.
            updates.push((updates[0].0, EMPTY_LEAF));
            for (level, index, v) in t.set_leaves_changed(updates) {
                if v == empty_root(level) {
                    stored.remove(&(level, index));
                } else {
                    stored.insert((level, index), v);
                }
            }
            let rebuilt = SparseTree::from_nodes(stored.iter().map(|(&(l, i), &v)| (l, i, v))).unwrap();
            assert_eq!(rebuilt.root(), t.root());
            assert_eq!(rebuilt.nodes().count(), t.nodes().count());
        }
        assert!(SparseTree::from_nodes([(0, 1u64 << 32, Fr::from(1u64))]).is_err());
        assert!(SparseTree::from_nodes([(LEVELS + 1, 0, Fr::from(1u64))]).is_err());
    }
}

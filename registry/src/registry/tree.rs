//! The holder tree on disk: its non-empty nodes live in `tree_nodes` and are read on demand, so a
//! registry's memory does not grow with its holders (the whole tree in memory was 534 MiB at a
//! million holders, ~50 GB at a hundred million).
//!
//! A witness reads one run of [`ARITY`] siblings per level (16 indexed range reads, fewer with
//! the cache); a publish reads the siblings of the dirty paths only, in runs of adjacent parents,
//! and writes the nodes that changed. The shared level-by-level hashing is
//! [`healthcode_circuits::tree::update`], the same code the in-memory [`SparseTree`] runs.
//!
//! The upper levels are read by every witness and every publish, so each handle keeps them in a
//! bounded cache ([`TopCache`]), valid for one root: any operation that sees a latest head with
//! another root (another process published, or a publish failed) drops it first.

use super::*;
use healthcode_circuits::tree::{self, MerklePath, Node, NodeSource, ARITY, LEVELS};

/// Top levels of the tree a handle caches by default: the children of levels 9 to 16, at most
/// 4^0 + … + 4^7 = 21,845 groups of four nodes (≈ 4 MiB), however many holders there are.
pub const DEFAULT_CACHE_LEVELS: usize = 8;

/// The children of the tree's upper nodes as of one root, by (child level, parent index).
#[derive(Debug)]
pub(super) struct TopCache {
    /// Parents on levels `LEVELS - levels + 1 ..= LEVELS` have their children cached.
    levels: usize,
    /// The root the cached nodes belong to (`None`: nothing cached yet).
    root: Option<Fr>,
    groups: HashMap<(usize, u64), [Option<Fr>; ARITY]>,
}

impl TopCache {
    pub(super) fn new(levels: usize) -> Self {
        let mut cache = Self { levels: 0, root: None, groups: HashMap::new() };
        cache.set_levels(levels);
        cache
    }

    /// Whether the children on `level` (of parents on `level + 1`) are cached.
    fn holds(&self, level: usize) -> bool {
        level + self.levels >= LEVELS
    }

    /// Keeps the cache only if it belongs to `root`, the latest head's.
    pub(super) fn sync(&mut self, root: Fr) {
        if self.root != Some(root) {
            self.groups.clear();
            self.root = Some(root);
        }
    }

    /// After a committed publish: the changed nodes, and the root they lead to.
    pub(super) fn apply(&mut self, changed: &[Node], root: Fr) {
        for &(level, index, value) in changed {
            if let Some(group) = self.groups.get_mut(&(level, index / ARITY as u64)) {
                let empty = value == tree::empty_root(level);
                group[(index % ARITY as u64) as usize] = (!empty).then_some(value);
            }
        }
        self.root = Some(root);
    }

    /// Forgets everything (after a failed publish, whose nodes were never committed).
    pub(super) fn clear(&mut self) {
        self.groups.clear();
        self.root = None;
    }

    pub(super) fn set_levels(&mut self, levels: usize) {
        self.levels = levels.min(LEVELS);
        self.clear();
    }
}

/// The tree as stored in one connection's view of the database (a transaction's snapshot).
pub(super) struct DbNodes<'a> {
    pub db: &'a Db,
    pub cache: &'a mut TopCache,
}

impl NodeSource for DbNodes<'_> {
    type Error = RegistryError;

    fn children(&mut self, level: usize, parents: &[u64]) -> Result<HashMap<u64, Fr>> {
        let mut out = HashMap::with_capacity(parents.len() * ARITY);
        if !self.cache.holds(level) {
            read_children(self.db, level, parents, &mut out)?;
            return Ok(out);
        }
        let mut misses = Vec::new();
        for &p in parents {
            match self.cache.groups.get(&(level, p)) {
                Some(group) => {
                    for (i, v) in group.iter().enumerate() {
                        if let Some(v) = v {
                            out.insert(p * ARITY as u64 + i as u64, *v);
                        }
                    }
                }
                None => misses.push(p),
            }
        }
        let mut read = HashMap::with_capacity(misses.len() * ARITY);
        read_children(self.db, level, &misses, &mut read)?;
        for &p in &misses {
            let group = std::array::from_fn(|i| read.get(&(p * ARITY as u64 + i as u64)).copied());
            self.cache.groups.insert((level, p), group);
        }
        out.extend(read);
        Ok(out)
    }
}

/// Reads the stored children of `parents` (ascending, distinct) on `level` into `out`: one
/// indexed range read per run of adjacent parents (a bulk enrolment is one run per level), all
/// sent at once.
fn read_children(db: &Db, level: usize, parents: &[u64], out: &mut HashMap<u64, Fr>) -> Result<()> {
    let mut ranges = Vec::new();
    let mut start = 0;
    while start < parents.len() {
        let mut end = start;
        while end + 1 < parents.len() && parents[end + 1] == parents[end] + 1 {
            end += 1;
        }
        let (lo, hi) = (parents[start] * ARITY as u64, parents[end] * ARITY as u64 + ARITY as u64 - 1);
        ranges.push(args![level, lo, hi].to_vec());
        start = end + 1;
    }
    let replies =
        db.rows_many("SELECT idx, hash FROM tree_nodes WHERE level = ?1 AND idx BETWEEN ?2 AND ?3", &ranges)?;
    for r in replies.iter().flatten() {
        out.insert(r.get(0)?, fr_from_blob(&r.get::<Vec<u8>>(1)?)?);
    }
    Ok(())
}

/// The authentication path of `leaf` in the stored tree.
pub(super) fn path(db: &Db, cache: &mut TopCache, leaf: u32) -> Result<MerklePath> {
    tree::path(&mut DbNodes { db, cache }, leaf)
}

/// Sets `updates` over the stored tree, writes the nodes that changed (deleting those that became
/// empty) and returns them, the root last. Runs inside the caller's transaction. Refuses, writing
/// nothing, when the stored nodes it builds on do not hash to `root`, the latest head's: a lost
/// or altered node must not go into the next signed head.
pub(super) fn update(
    db: &Db,
    cache: &mut TopCache,
    root: Fr,
    updates: impl IntoIterator<Item = (u32, Fr)>,
) -> Result<Vec<Node>> {
    let (changed, old_root) = tree::update_checked(&mut DbNodes { db, cache }, updates)?;
    // (The publish drops the cache on this error, as on any other.)
    if old_root.is_some_and(|old| old != root) {
        return Err(RegistryError::Corrupt(
            "the stored holder tree does not hash to the latest head's root (a tree node was lost \
             or altered); nothing was published"
                .into(),
        ));
    }
    let (mut put, mut del) = (Vec::new(), Vec::new());
    for &(level, idx, v) in &changed {
        if v == tree::empty_root(level) {
            del.push(args![level, idx].to_vec());
        } else {
            put.push(args![level, idx, field::to_bytes(&v).as_slice()].to_vec());
        }
    }
    db.exec_many(
        "INSERT INTO tree_nodes (level, idx, hash) VALUES (?1, ?2, ?3)
         ON CONFLICT (level, idx) DO UPDATE SET hash = excluded.hash",
        &put,
    )?;
    db.exec_many("DELETE FROM tree_nodes WHERE level = ?1 AND idx = ?2", &del)?;
    Ok(changed)
}

/// The whole stored tree in memory: for auditors, who compare every leaf with a replay of the
/// log (a cost that grows with the holders by nature), and for tests.
pub(super) fn load_all(db: &Db) -> Result<SparseTree> {
    let nodes = db
        .rows("SELECT level, idx, hash FROM tree_nodes", &[])?
        .iter()
        .map(|r| Ok((r.get(0)?, r.get(1)?, fr_from_blob(&r.get::<Vec<u8>>(2)?)?)))
        .collect::<Result<Vec<Node>>>()?;
    SparseTree::from_nodes(nodes).map_err(RegistryError::Corrupt)
}

//! The holder tree on disk: its non-empty nodes live in `tree_groups`, a row per parent holding
//! its [`ARITY`] children, and are read on demand, so a registry's memory does not grow with its
//! holders (the whole tree in memory was 534 MiB at a million holders, ~50 GB at a hundred
//! million). A row per group rather than per node: every read wants a whole group anyway (a
//! node's siblings), and it is a quarter of the rows (187 → 71 bytes a holder on PostgreSQL).
//!
//! A witness reads one group per level (16 indexed reads, fewer with the cache); a publish reads
//! the groups on its dirty paths only, in runs of adjacent parents, and writes back the groups
//! that changed. The shared level-by-level hashing is [`healthcode_circuits::tree::update`], the
//! same code the in-memory [`SparseTree`] runs.
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
                group[(index % ARITY as u64) as usize] = stored(level, value);
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
    /// Every group read so far, by (children's level, parent), empty children as `None`: a
    /// publish writes back whole groups, and the hashing reads the group of every node it
    /// changes (a changed node's siblings), so the rest of each group is here.
    pub seen: HashMap<(usize, u64), [Option<Fr>; ARITY]>,
    /// Whether groups may be read as last committed, outside the caller's transaction and on
    /// several connections at once (a publish, which has not written them yet): not for a
    /// witness, whose reads must agree with its head in one snapshot.
    pub committed: bool,
}

impl NodeSource for DbNodes<'_> {
    type Error = RegistryError;

    fn children(&mut self, level: usize, parents: &[u64]) -> Result<HashMap<u64, Fr>> {
        let mut out = HashMap::with_capacity(parents.len() * ARITY);
        let cached = self.cache.holds(level);
        let mut misses = Vec::new();
        for &p in parents {
            match self.cache.groups.get(&(level, p)).filter(|_| cached) {
                Some(group) => {
                    self.seen.insert((level, p), *group);
                }
                None => misses.push(p),
            }
        }
        for (p, group) in read_groups(self.db, level, &misses, self.committed)? {
            if cached {
                self.cache.groups.insert((level, p), group);
            }
            self.seen.insert((level, p), group);
        }
        for &p in parents {
            for (k, v) in self.seen[&(level, p)].iter().enumerate() {
                if let Some(v) = v {
                    out.insert(p * ARITY as u64 + k as u64, *v);
                }
            }
        }
        Ok(out)
    }
}

/// A node as a group slot holds it: the empty subtree of its level as `None`.
fn stored(level: usize, v: Fr) -> Option<Fr> {
    (v != tree::empty_root(level)).then_some(v)
}

/// A stored group's children, an empty subtree as `None`.
fn group_from_blob(level: usize, blob: &[u8]) -> Result<[Option<Fr>; ARITY]> {
    if blob.len() != ARITY * 32 {
        return Err(RegistryError::Corrupt(format!(
            "a tree group on level {level} is not {} bytes",
            ARITY * 32
        )));
    }
    let mut group = [None; ARITY];
    for (slot, bytes) in group.iter_mut().zip(blob.chunks(32)) {
        let v = fr_from_blob(bytes)?;
        *slot = stored(level, v);
    }
    Ok(group)
}

fn group_to_blob(level: usize, group: &[Option<Fr>; ARITY]) -> Vec<u8> {
    group.iter().flat_map(|v| field::to_bytes(&v.unwrap_or_else(|| tree::empty_root(level)))).collect()
}

/// Reads the stored groups of `parents` (ascending, distinct) on `level`, absent ones empty: one
/// indexed range read per run of adjacent parents (a bulk enrolment is one run per level), all
/// sent at once; as last `committed` if asked (see [`DbNodes::committed`]).
fn read_groups(
    db: &Db,
    level: usize,
    parents: &[u64],
    committed: bool,
) -> Result<Vec<(u64, [Option<Fr>; ARITY])>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    while start < parents.len() {
        let mut end = start;
        while end + 1 < parents.len() && parents[end + 1] == parents[end] + 1 {
            end += 1;
        }
        ranges.push(args![level, parents[start], parents[end]].to_vec());
        start = end + 1;
    }
    let sql = "SELECT idx, hashes FROM tree_groups WHERE level = ?1 AND idx BETWEEN ?2 AND ?3";
    let replies = if committed { db.rows_many_committed(sql, &ranges)? } else { db.rows_many(sql, &ranges)? };
    let mut stored = HashMap::with_capacity(parents.len());
    for r in replies.iter().flatten() {
        stored.insert(r.get::<u64>(0)?, group_from_blob(level, &r.get::<Vec<u8>>(1)?)?);
    }
    Ok(parents.iter().map(|&p| (p, stored.get(&p).copied().unwrap_or([None; ARITY]))).collect())
}

/// The authentication path of `leaf` in the stored tree.
pub(super) fn path(db: &Db, cache: &mut TopCache, leaf: u32) -> Result<MerklePath> {
    tree::path(&mut DbNodes { db, cache, seen: HashMap::new(), committed: false }, leaf)
}

/// Sets `updates` over the stored tree, writes the groups that changed (deleting those that
/// became empty) and returns the changed nodes, the root last. Runs inside the caller's
/// transaction. Refuses, writing nothing, when the stored nodes it builds on do not hash to
/// `root`, the latest head's: a lost or altered node must not go into the next signed head.
pub(super) fn update(
    db: &Db,
    cache: &mut TopCache,
    root: Fr,
    updates: impl IntoIterator<Item = (u32, Fr)>,
) -> Result<Vec<Node>> {
    // (Read as last committed: this transaction writes groups only below, under the writer
    // lock, and what is read is checked against `root` besides.)
    let mut nodes = DbNodes { db, cache, seen: HashMap::new(), committed: true };
    let (changed, old_root) = tree::update_checked(&mut nodes, updates)?;
    // (The publish drops the cache on this error, as on any other.)
    if old_root.is_some_and(|old| old != root) {
        return Err(RegistryError::Corrupt(
            "the stored holder tree does not hash to the latest head's root (a tree node was lost \
             or altered); nothing was published"
                .into(),
        ));
    }
    let mut groups = std::mem::take(&mut nodes.seen);
    let mut dirty = Vec::new();
    // (The root, on level LEVELS, has no parent: the head carries it.)
    for &(level, idx, v) in changed.iter().filter(|n| n.0 < LEVELS) {
        let key = (level, idx / ARITY as u64);
        let group = groups.get_mut(&key).ok_or_else(|| {
            RegistryError::Corrupt(format!("tree node {level}/{idx} changed without its group being read"))
        })?;
        group[(idx % ARITY as u64) as usize] = stored(level, v);
        dirty.push(key);
    }
    dirty.sort_unstable();
    dirty.dedup();
    let (mut put, mut del) = (Vec::new(), Vec::new());
    for (level, parent) in dirty {
        let group = &groups[&(level, parent)];
        if group.iter().all(Option::is_none) {
            del.push(args![level, parent].to_vec());
        } else {
            put.push(args![level, parent, group_to_blob(level, group)].to_vec());
        }
    }
    db.exec_many(
        "INSERT INTO tree_groups (level, idx, hashes) VALUES (?1, ?2, ?3)
         ON CONFLICT (level, idx) DO UPDATE SET hashes = excluded.hashes",
        &put,
    )?;
    db.exec_many("DELETE FROM tree_groups WHERE level = ?1 AND idx = ?2", &del)?;
    Ok(changed)
}

/// How many parents the nodes of `level` (below the root) have: `4^(LEVELS - 1 - level)`.
fn parents_on(level: usize) -> u64 {
    1 << (2 * (LEVELS - 1 - level))
}

/// The whole stored tree in memory: for auditors, who compare every leaf with a replay of the
/// log (a cost that grows with the holders by nature), and for tests. Its root is what the
/// stored top group hashes to.
pub(super) fn load_all(db: &Db) -> Result<SparseTree> {
    let mut nodes = Vec::new();
    let mut top = None;
    for r in db.rows("SELECT level, idx, hashes FROM tree_groups", &[])? {
        let (level, parent): (usize, u64) = (r.get(0)?, r.get(1)?);
        if level >= LEVELS || parent >= parents_on(level) {
            return Err(RegistryError::Corrupt(format!("tree group {level}/{parent} is outside the tree")));
        }
        let group = group_from_blob(level, &r.get::<Vec<u8>>(2)?)?;
        if level == LEVELS - 1 && parent == 0 {
            top = Some(group);
        }
        for (k, v) in group.iter().enumerate() {
            if let Some(v) = v {
                nodes.push((level, parent * ARITY as u64 + k as u64, *v));
            }
        }
    }
    if let Some(top) = top {
        let children = std::array::from_fn(|k| top[k].unwrap_or_else(|| tree::empty_root(LEVELS - 1)));
        nodes.push((LEVELS, 0, healthcode_circuits::hashes::node(&children)));
    }
    SparseTree::from_nodes(nodes).map_err(RegistryError::Corrupt)
}

/// Brings the tree of a registry from before `tree_groups` (one `tree_nodes` row per node) into
/// groups, level by level in bounded pages, and empties `tree_nodes`; once, in one transaction,
/// when a migrated registry is first opened.
pub(super) fn adopt_node_rows(db: &Db) -> Result<()> {
    if db.row("SELECT 1 FROM tree_nodes LIMIT 1", &[])?.is_none() {
        return Ok(());
    }
    let tx = db.begin(TxKind::Write)?;
    // (Another process may have done it meanwhile.)
    if tx.row("SELECT 1 FROM tree_nodes LIMIT 1", &[])?.is_none() {
        return Ok(());
    }
    // Rows in both tables: not a registry of the previous layout (whose groups are empty) but
    // damage, which adopting would mix into the tree.
    if tx.row("SELECT 1 FROM tree_groups LIMIT 1", &[])?.is_some() {
        return Err(RegistryError::Corrupt(
            "both `tree_nodes` rows and `tree_groups` hold the tree; it was not converted".into(),
        ));
    }
    const PAGE: u64 = 1 << 20;
    for level in 0..LEVELS {
        // A node outside its level would wrap the page arithmetic below (and never be read).
        let outside: Option<crate::store::Row> = tx.row(
            "SELECT level, idx FROM tree_nodes WHERE level = ?1 AND (idx < 0 OR idx >= ?2) LIMIT 1",
            &args![level, parents_on(level) * ARITY as u64],
        )?;
        if let Some(r) = outside {
            return Err(RegistryError::Corrupt(format!(
                "tree node {}/{} is outside the tree; the tree was not converted to groups",
                r.get::<i64>(0)?,
                r.get::<i64>(1)?
            )));
        }
        let mut from = 0u64;
        while let Some(r) =
            tx.row("SELECT MIN(idx) FROM tree_nodes WHERE level = ?1 AND idx >= ?2", &args![level, from])?
        {
            let Some(first) = r.get::<Option<u64>>(0)? else { break };
            let lo = first / ARITY as u64 * ARITY as u64;
            let rows = tx.rows(
                "SELECT idx, hash FROM tree_nodes WHERE level = ?1 AND idx >= ?2 AND idx < ?3",
                &args![level, lo, lo + PAGE],
            )?;
            let mut groups: HashMap<u64, [Option<Fr>; ARITY]> = HashMap::new();
            for r in rows {
                let (idx, hash): (u64, Vec<u8>) = (r.get(0)?, r.get(1)?);
                let v = fr_from_blob(&hash)?;
                let group = groups.entry(idx / ARITY as u64).or_insert([None; ARITY]);
                group[(idx % ARITY as u64) as usize] = stored(level, v);
            }
            let put: Vec<Vec<crate::store::Val>> = groups
                .iter()
                .filter(|(_, g)| g.iter().any(Option::is_some))
                .map(|(&p, g)| args![level, p, group_to_blob(level, g)].to_vec())
                .collect();
            tx.exec_many("INSERT INTO tree_groups (level, idx, hashes) VALUES (?1, ?2, ?3)", &put)?;
            from = lo + PAGE;
        }
    }
    tx.exec("DELETE FROM tree_nodes", &[])?;
    tx.commit()?;
    Ok(())
}

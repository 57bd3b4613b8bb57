//! An in-memory RFC 6962 log served as tlog-tiles (tile height 8) with inclusion and consistency proofs.
//!
//! The log keeps every complete subtree hash: `levels[k][i]` is the hash of leaves
//! `[i·2^k, (i+1)·2^k)`. That is about two hashes per entry (64 bytes), fine for the few hundred
//! thousand entries the registry holds, and makes every tile a slice and every proof node a lookup.

use crate::checkpoint::Checkpoint;
use crate::keys::LogKey;
use crate::merkle::{leaf_hash, node_hash, LogError, EMPTY_ROOT};
use crate::Hash;

/// log2 of a tile's width: tlog-tiles fixes the height at 8.
pub const TILE_HEIGHT: u32 = 8;
/// Hashes (or entries) in a full tile.
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;
/// Highest tile level tlog-tiles allows.
pub const MAX_TILE_LEVEL: u8 = 63;
/// Content type of tiles and entry bundles (tlog-tiles).
pub const CONTENT_TYPE_TILE: &str = "application/octet-stream";
/// Content type of a checkpoint (signed-note text).
pub const CONTENT_TYPE_CHECKPOINT: &str = "text/plain; charset=utf-8";
/// Largest entry an entry bundle can hold (2-byte length prefix).
pub const MAX_ENTRY_LEN: usize = u16::MAX as usize;
/// Tile indexes are written in groups of this many decimal digits.
const PATH_DIGITS: u64 = 1000;
/// Longest tile path we parse (the longest valid one is 54 bytes).
const MAX_PATH_LEN: usize = 64;

/// A parsed tlog-tiles path, relative: `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TilePath {
    /// `None` for an entry bundle, else the tile level.
    pub level: Option<u8>,
    pub index: u64,
    /// `None` for a full tile, else the partial width (1..=255).
    pub width: Option<u8>,
}

impl TilePath {
    /// Parses a path, accepting only its one canonical spelling.
    pub fn parse(path: &str) -> Result<Self, LogError> {
        let bad = || {
            LogError::NotFound(format!("not a tile path: {:?}", path.chars().take(80).collect::<String>()))
        };
        if path.len() > MAX_PATH_LEN || !path.is_ascii() {
            return Err(bad());
        }
        let rest = path.strip_prefix("tile/").ok_or_else(bad)?;
        let (kind, rest) = rest.split_once('/').ok_or_else(bad)?;
        let level = if kind == "entries" {
            None
        } else {
            let l: u8 = parse_decimal(kind).ok_or_else(bad)?;
            if l > MAX_TILE_LEVEL {
                return Err(bad());
            }
            Some(l)
        };
        let (index_part, width) = match rest.split_once(".p/") {
            Some((n, w)) => {
                let w: u8 = parse_decimal(w).ok_or_else(bad)?;
                if w == 0 {
                    return Err(bad());
                }
                (n, Some(w))
            }
            None => (rest, None),
        };
        let mut index: u64 = 0;
        for part in index_part.split('/') {
            let digits = part.strip_prefix('x').unwrap_or(part);
            if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let d: u64 = digits.parse().map_err(|_| bad())?;
            index = index.checked_mul(PATH_DIGITS).and_then(|i| i.checked_add(d)).ok_or_else(bad)?;
        }
        let parsed = Self { level, index, width };
        // Rejects x-prefix errors, leading x000 groups and other non-canonical spellings at once.
        if parsed.to_path() != path {
            return Err(bad());
        }
        Ok(parsed)
    }

    /// The canonical path.
    pub fn to_path(&self) -> String {
        let mut n = self.index;
        let mut s = format!("{:03}", n % PATH_DIGITS);
        while n >= PATH_DIGITS {
            n /= PATH_DIGITS;
            s = format!("x{:03}/{s}", n % PATH_DIGITS);
        }
        let kind = match self.level {
            None => "entries".to_owned(),
            Some(l) => l.to_string(),
        };
        match self.width {
            None => format!("tile/{kind}/{s}"),
            Some(w) => format!("tile/{kind}/{s}.p/{w}"),
        }
    }
}

/// Decimal without sign or leading zeros.
fn parse_decimal<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

/// Largest power of two strictly below `n` (n ≥ 2): RFC 6962's split point.
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// An append-only log held in memory, serving tlog-tiles (height 8) and proofs.
#[derive(Debug, Clone)]
pub struct TiledLog {
    origin: String,
    entries: Vec<Vec<u8>>,
    levels: Vec<Vec<Hash>>,
}

impl TiledLog {
    pub fn new(origin: &str) -> Self {
        Self { origin: origin.to_owned(), entries: Vec::new(), levels: vec![Vec::new()] }
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Appends an entry and returns its index.
    ///
    /// # Panics
    /// If the entry is longer than [`MAX_ENTRY_LEN`], which an entry bundle cannot carry; the
    /// registry's heads are far smaller. [`TiledLog::try_push`] returns it as an error.
    pub fn push(&mut self, entry: Vec<u8>) -> u64 {
        match self.try_push(entry) {
            Ok(i) => i,
            Err(e) => panic!("TiledLog::push: {e}"),
        }
    }

    /// Like [`TiledLog::push`], with an oversized entry as an error.
    pub fn try_push(&mut self, entry: Vec<u8>) -> Result<u64, LogError> {
        if entry.len() > MAX_ENTRY_LEN {
            return Err(LogError::EntryTooLarge { len: entry.len(), max: MAX_ENTRY_LEN });
        }
        let index = self.size();
        self.levels[0].push(leaf_hash(&entry));
        self.entries.push(entry);
        let mut level = 0;
        while self.levels[level].len().is_multiple_of(2) {
            let row = &self.levels[level];
            let parent = node_hash(&row[row.len() - 2], &row[row.len() - 1]);
            if self.levels.len() == level + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[level + 1].push(parent);
            level += 1;
        }
        Ok(index)
    }

    pub fn size(&self) -> u64 {
        self.entries.len() as u64
    }

    /// RFC 6962 root of all entries.
    pub fn root(&self) -> Hash {
        self.root_at(self.size()).unwrap_or(EMPTY_ROOT)
    }

    /// RFC 6962 root of the first `size` entries.
    pub fn root_at(&self, size: u64) -> Result<Hash, LogError> {
        self.check_size(size)?;
        Ok(if size == 0 { EMPTY_ROOT } else { self.subtree(0, size) })
    }

    pub fn entry(&self, index: u64) -> Option<&[u8]> {
        self.entries.get(usize::try_from(index).ok()?).map(Vec::as_slice)
    }

    fn check_size(&self, size: u64) -> Result<(), LogError> {
        if size > self.size() {
            return Err(LogError::SizeBeyondLog { size, log_size: self.size() });
        }
        Ok(())
    }

    /// MTH(D[lo:hi]) for a range RFC 6962's recursion produces (`lo` aligned to the split), within
    /// the log: callers check `lo < hi <= size`.
    fn subtree(&self, lo: u64, hi: u64) -> Hash {
        let n = hi - lo;
        if n.is_power_of_two() && lo.is_multiple_of(n) {
            let k = n.trailing_zeros();
            return self.levels[k as usize][(lo >> k) as usize];
        }
        let k = split(n);
        node_hash(&self.subtree(lo, lo + k), &self.subtree(lo + k, hi))
    }

    /// RFC 6962 §2.1.1 audit path for leaf `index` in the tree of `size` leaves, leaf to root.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, LogError> {
        self.check_size(size)?;
        if index >= size {
            return Err(LogError::IndexOutOfRange { index, size });
        }
        let mut proof = Vec::new();
        self.path(index, 0, size, &mut proof);
        Ok(proof)
    }

    fn path(&self, m: u64, lo: u64, hi: u64, out: &mut Vec<Hash>) {
        if hi - lo == 1 {
            return;
        }
        let k = split(hi - lo);
        if m < lo + k {
            self.path(m, lo, lo + k, out);
            out.push(self.subtree(lo + k, hi));
        } else {
            self.path(m, lo + k, hi, out);
            out.push(self.subtree(lo, lo + k));
        }
    }

    /// RFC 6962 §2.1.2 consistency proof from the tree of `old` leaves to that of `new`; empty when
    /// `old` is 0 or equals `new` (tlog-witness sends no proof then).
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, LogError> {
        self.check_size(new)?;
        if old > new {
            return Err(LogError::OldLargerThanNew { old, new });
        }
        let mut proof = Vec::new();
        if old > 0 && old < new {
            self.subproof(old, 0, new, true, &mut proof);
        }
        Ok(proof)
    }

    fn subproof(&self, m: u64, lo: u64, hi: u64, complete: bool, out: &mut Vec<Hash>) {
        let n = hi - lo;
        if m == n {
            if !complete {
                out.push(self.subtree(lo, hi));
            }
            return;
        }
        let k = split(n);
        if m <= k {
            self.subproof(m, lo, lo + k, complete, out);
            out.push(self.subtree(lo + k, hi));
        } else {
            self.subproof(m - k, lo + k, hi, false, out);
            out.push(self.subtree(lo, lo + k));
        }
    }

    /// A tile by its tlog-tiles path, relative: "tile/0/000", "tile/1/x001/234.p/7",
    /// "tile/entries/000.p/3". Full tiles and the partial tile of the current size only; anything
    /// else -> [`LogError::NotFound`]. Data tiles hold each entry as a 2-byte big-endian length then
    /// the bytes (tlog-tiles' entry bundle).
    pub fn tile(&self, path: &str) -> Result<Vec<u8>, LogError> {
        let t = TilePath::parse(path)?;
        // How many items the level has: entries, or hashes of complete 256^L-leaf subtrees.
        let count = match t.level {
            None => self.size(),
            Some(l) => {
                self.levels.get(usize::from(l) * TILE_HEIGHT as usize).map_or(0, |row| row.len() as u64)
            }
        };
        let full_tiles = count / TILE_WIDTH;
        let width = match t.width {
            None if t.index < full_tiles => TILE_WIDTH,
            Some(w) if t.index == full_tiles && u64::from(w) == count % TILE_WIDTH => u64::from(w),
            _ => return Err(LogError::NotFound(format!("no tile {path} in a log of size {}", self.size()))),
        };
        let start = (t.index * TILE_WIDTH) as usize;
        let end = start + width as usize;
        Ok(match t.level {
            None => {
                let mut out = Vec::new();
                for e in &self.entries[start..end] {
                    out.extend_from_slice(&(e.len() as u16).to_be_bytes());
                    out.extend_from_slice(e);
                }
                out
            }
            Some(l) => self.levels[usize::from(l) * TILE_HEIGHT as usize][start..end].concat(),
        })
    }

    /// The signed checkpoint (signed-note text) of the current size. The key should be named after
    /// this log's origin; a gate's [`crate::TrustPolicy`] refuses it otherwise.
    pub fn checkpoint(&self, key: &LogKey) -> Vec<u8> {
        let text = Checkpoint::new(&self.origin, self.size(), self.root()).to_text();
        // Checkpoint text of a valid origin is always valid note text; fall back to the bare text
        // (which no verifier accepts) rather than panic if the origin is not.
        key.sign_note(&text).unwrap_or(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{verify_consistency, verify_inclusion};

    fn log(n: u64) -> TiledLog {
        let mut l = TiledLog::new("example.com/test");
        for i in 0..n {
            l.push(format!("entry {i}").into_bytes());
        }
        l
    }

    #[test]
    fn paths_parse_canonically() {
        for (p, level, index, width) in [
            ("tile/0/000", Some(0), 0, None),
            ("tile/1/x001/234.p/7", Some(1), 1234, Some(7)),
            ("tile/entries/000.p/3", None, 0, Some(3)),
            ("tile/63/x001/x234/067", Some(63), 1_234_067, None),
            ("tile/entries/x018/x446/x744/x073/x709/x551/615", None, u64::MAX, None),
        ] {
            let t = TilePath::parse(p).unwrap();
            assert_eq!((t.level, t.index, t.width), (level, index, width), "{p}");
            assert_eq!(t.to_path(), p);
        }
    }

    #[test]
    fn malformed_paths_are_not_found() {
        for p in [
            "",
            "tile",
            "tile/",
            "tile/0",
            "tile/0/",
            "tile/0/0",
            "tile/0/0000",
            "tile/00/000",
            "tile/64/000",
            "tile/256/000",
            "tile/-1/000",
            "tile/0/001/002",
            "tile/0/x000/001",
            "tile/0/x001",
            "tile/0/x001/x002",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/07",
            "tile/0/000.p/",
            "tile/0/000.p",
            "tile/0/000/",
            "/tile/0/000",
            "tile/data/000",
            "tile/8/0/000",
            "tile/entries/x018/x446/x744/x073/x709/x551/616",
            "tile/entries/x999/x999/x999/x999/x999/x999/x999/999",
            "tile/0/٠٠٠",
            "tile/0/000\n",
        ] {
            assert!(matches!(TilePath::parse(p), Err(LogError::NotFound(_))), "accepted {p:?}");
        }
    }

    #[test]
    fn tiles_exist_exactly_as_tlog_tiles_says() {
        // The spec's own example: size 256 has a full level-0 tile and a partial level-1 tile of width 1.
        let l = log(256);
        assert_eq!(l.tile("tile/0/000").unwrap().len(), 256 * 32);
        assert_eq!(l.tile("tile/1/000.p/1").unwrap(), l.root().to_vec());
        assert!(l.tile("tile/0/000.p/255").is_err());
        assert!(l.tile("tile/0/001.p/0").is_err());
        assert!(l.tile("tile/1/000").is_err());
        assert!(l.tile("tile/2/000.p/1").is_err());
        assert!(l.tile("tile/entries/000").is_ok());
        assert!(l.tile("tile/entries/001").is_err());

        let l = log(300);
        assert_eq!(l.tile("tile/0/001.p/44").unwrap().len(), 44 * 32);
        assert!(l.tile("tile/0/001.p/43").is_err()); // an older partial tile is not kept
        assert!(l.tile("tile/0/001.p/45").is_err()); // beyond the size
        assert!(l.tile("tile/0/001").is_err());
        assert!(l.tile("tile/0/x001/000").is_err());
        let bundle = l.tile("tile/entries/001.p/44").unwrap();
        assert_eq!(&bundle[..2], &(b"entry 256".len() as u16).to_be_bytes());
        assert_eq!(&bundle[2..11], b"entry 256");

        let empty = log(0);
        assert!(empty.tile("tile/0/000.p/1").is_err());
        assert!(empty.tile("tile/entries/000").is_err());
    }

    #[test]
    fn spec_size_70000_tiles() {
        // tlog-tiles: 273 full level-0 tiles, a partial level-0 tile of width 112, one full level-1
        // tile, a partial level-1 tile of width 17 and a partial level-2 tile of width 1.
        let l = log(70_000);
        assert!(l.tile("tile/0/272").is_ok());
        assert!(l.tile("tile/0/273").is_err());
        assert!(l.tile("tile/0/273.p/112").is_ok());
        assert!(l.tile("tile/1/000").is_ok());
        assert!(l.tile("tile/1/001.p/17").is_ok());
        assert!(l.tile("tile/2/000.p/1").is_ok());
        assert!(l.tile("tile/3/000.p/1").is_err());
    }

    #[test]
    fn oversized_entries_are_refused() {
        let mut l = log(0);
        assert!(l.try_push(vec![0; MAX_ENTRY_LEN]).is_ok());
        assert!(matches!(l.try_push(vec![0; MAX_ENTRY_LEN + 1]), Err(LogError::EntryTooLarge { .. })));
        assert_eq!(l.size(), 1);
    }

    #[test]
    fn proofs_verify_and_bad_ones_do_not() {
        let l = log(37);
        let root = l.root();
        for i in 0..37 {
            let p = l.inclusion_proof(i, 37).unwrap();
            verify_inclusion(l.entry(i).unwrap(), i, 37, &root, &p).unwrap();
            assert!(verify_inclusion(b"other", i, 37, &root, &p).is_err());
            assert!(verify_inclusion(l.entry(i).unwrap(), (i + 1) % 37, 37, &root, &p).is_err());
            // (A wrong size with the same path shape still verifies: the root, not the size, is what
            // the proof binds; the size comes from the signed checkpoint.)
            assert!(verify_inclusion(l.entry(i).unwrap(), i, i, &root, &p).is_err());
            if !p.is_empty() {
                let mut q = p.clone();
                q[0][0] ^= 1;
                assert!(verify_inclusion(l.entry(i).unwrap(), i, 37, &root, &q).is_err());
                assert!(verify_inclusion(l.entry(i).unwrap(), i, 37, &root, &p[1..]).is_err());
            }
            let mut longer = p.clone();
            longer.push([0; 32]);
            assert!(verify_inclusion(l.entry(i).unwrap(), i, 37, &root, &longer).is_err());
        }
        for old in 1..=37 {
            let p = l.consistency_proof(old, 37).unwrap();
            let old_root = l.root_at(old).unwrap();
            verify_consistency(old, &old_root, 37, &root, &p).unwrap();
            assert!(verify_consistency(old, &root, 37, &old_root, &p).is_err() || old == 37);
            if !p.is_empty() {
                let mut q = p.clone();
                q[p.len() - 1][5] ^= 1;
                assert!(verify_consistency(old, &old_root, 37, &root, &q).is_err());
                assert!(verify_consistency(old, &old_root, 37, &root, &p[..p.len() - 1]).is_err());
            }
        }
        assert!(l.inclusion_proof(37, 37).is_err());
        assert!(l.inclusion_proof(0, 38).is_err());
        assert!(l.consistency_proof(5, 4).is_err());
        assert!(l.consistency_proof(5, 38).is_err());
        assert!(l.root_at(38).is_err());
    }
}

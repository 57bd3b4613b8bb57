//! Our tiles, roots and proofs against `tlog_tiles` (Cloudflare's port of Go's sumdb/tlog): an
//! independent implementation with a different storage layout (Crosby–Wallach stored-hash indexes) and
//! recursive proof code, on random logs of sizes 0..=600 (crossing the 256-entry tile boundaries).

use healthcode_transparency::{verify_consistency, verify_inclusion, TiledLog};
use proptest::prelude::*;
use tlog_tiles::{
    check_record, check_tree, prove_record, prove_tree, record_hash, stored_hashes, tree_hash,
    Hash as GoHash, HashReader, Tile,
};

/// Hash storage as Go's tlog lays it out, filled by `stored_hashes`.
struct Store(Vec<GoHash>);

impl HashReader for Store {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<GoHash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| self.0.get(i as usize).copied().ok_or(tlog_tiles::Error::IndexesNotInTree))
            .collect()
    }
}

impl Store {
    fn push(&mut self, n: u64, data: &[u8]) {
        let hs = stored_hashes(n, data, self).unwrap();
        self.0.extend(hs);
    }
}

fn build(entries: &[Vec<u8>]) -> (TiledLog, Store) {
    let mut log = TiledLog::new("example.com/agree");
    let mut store = Store(Vec::new());
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(log.push(e.clone()), i as u64);
        store.push(i as u64, e);
    }
    (log, store)
}

/// Every tile tlog-tiles says a tree of `size` has, compared with `Tile::read_data`; and the ones just
/// past them must be absent.
fn check_tiles(log: &TiledLog, store: &Store, size: u64) {
    for level in 0u8..3 {
        let count = size >> (8 * u32::from(level));
        for n in 0..count / 256 {
            let path = format!("tile/{level}/{}", index_path(n));
            let want = Tile::new(8, level, n, 256, false).read_data(store).unwrap();
            assert_eq!(log.tile(&path).unwrap(), want, "{path} at size {size}");
        }
        let w = count % 256;
        let n = count / 256;
        if w > 0 {
            let path = format!("tile/{level}/{}.p/{w}", index_path(n));
            let want = Tile::new(8, level, n, w as u32, false).read_data(store).unwrap();
            assert_eq!(log.tile(&path).unwrap(), want, "{path} at size {size}");
            assert!(log.tile(&format!("tile/{level}/{}", index_path(n))).is_err());
            if w > 1 {
                assert!(log.tile(&format!("tile/{level}/{}.p/{}", index_path(n), w - 1)).is_err());
            }
        }
        if w < 255 {
            assert!(log.tile(&format!("tile/{level}/{}.p/{}", index_path(n), w + 1)).is_err());
        }
    }
    // Entry bundles hash to the level-0 tile.
    for n in 0..=size / 256 {
        let w = if n < size / 256 { 256 } else { size % 256 };
        if w == 0 {
            continue;
        }
        let path = if w == 256 {
            format!("tile/entries/{}", index_path(n))
        } else {
            format!("tile/entries/{}.p/{w}", index_path(n))
        };
        let bundle = log.tile(&path).unwrap();
        let mut rest = &bundle[..];
        for i in 0..w {
            let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
            assert_eq!(&rest[2..2 + len], log.entry(n * 256 + i).unwrap());
            rest = &rest[2 + len..];
        }
        assert!(rest.is_empty());
    }
}

fn index_path(n: u64) -> String {
    let mut n = n;
    let mut s = format!("{:03}", n % 1000);
    while n >= 1000 {
        n /= 1000;
        s = format!("x{:03}/{s}", n % 1000);
    }
    s
}

#[test]
fn every_size_up_to_600_roots_and_tiles_agree() {
    let entries: Vec<Vec<u8>> = (0..600u32).map(|i| format!("record {i}").into_bytes()).collect();
    let mut log = TiledLog::new("example.com/agree");
    let mut store = Store(Vec::new());
    assert_eq!(log.root(), tree_hash(0, &store).unwrap().0);
    for (i, e) in entries.iter().enumerate() {
        log.push(e.clone());
        store.push(i as u64, e);
        let size = i as u64 + 1;
        assert_eq!(log.root(), tree_hash(size, &store).unwrap().0, "root at {size}");
        check_tiles(&log, &store, size);
    }
    for size in 0..=600 {
        assert_eq!(log.root_at(size).unwrap(), tree_hash(size, &store).unwrap().0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_logs_proofs_agree(
        entries in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..=600),
        picks in proptest::collection::vec((any::<u64>(), any::<u64>()), 24),
    ) {
        let (log, store) = build(&entries);
        let size = log.size();
        prop_assert_eq!(log.root(), tree_hash(size, &store).unwrap().0);
        check_tiles(&log, &store, size);
        if size == 0 {
            return Ok(());
        }
        for (a, b) in picks {
            // A tree size t in 1..=size and an index i < t, and an old size n in 1..=t.
            let t = 1 + a % size;
            let i = b % t;
            let n = 1 + b % t;
            let root_t = log.root_at(t).unwrap();

            let ours = log.inclusion_proof(i, t).unwrap();
            let theirs: Vec<[u8; 32]> = prove_record(t, i, &store).unwrap().iter().map(|h| h.0).collect();
            prop_assert_eq!(&ours, &theirs);
            let go: Vec<GoHash> = ours.iter().map(|h| GoHash(*h)).collect();
            prop_assert!(check_record(&go, t, GoHash(root_t), i, record_hash(&entries[i as usize])).is_ok());
            prop_assert!(verify_inclusion(&entries[i as usize], i, t, &root_t, &theirs).is_ok());
            // Both refuse a flipped bit.
            if !go.is_empty() {
                let mut bad = go.clone();
                bad[0].0[31] ^= 1;
                prop_assert!(check_record(&bad, t, GoHash(root_t), i, record_hash(&entries[i as usize])).is_err());
                let bad: Vec<[u8; 32]> = bad.iter().map(|h| h.0).collect();
                prop_assert!(verify_inclusion(&entries[i as usize], i, t, &root_t, &bad).is_err());
            }

            let root_n = log.root_at(n).unwrap();
            let ours = log.consistency_proof(n, t).unwrap();
            let theirs: Vec<[u8; 32]> = prove_tree(t, n, &store).unwrap().iter().map(|h| h.0).collect();
            prop_assert_eq!(&ours, &theirs);
            let go: Vec<GoHash> = ours.iter().map(|h| GoHash(*h)).collect();
            prop_assert!(check_tree(&go, t, GoHash(root_t), n, GoHash(root_n)).is_ok());
            prop_assert!(verify_consistency(n, &root_n, t, &root_t, &theirs).is_ok());
            if !go.is_empty() {
                let mut bad = go.clone();
                let last = bad.len() - 1;
                bad[last].0[0] ^= 1;
                prop_assert!(check_tree(&bad, t, GoHash(root_t), n, GoHash(root_n)).is_err());
                let bad: Vec<[u8; 32]> = bad.iter().map(|h| h.0).collect();
                prop_assert!(verify_consistency(n, &root_n, t, &root_t, &bad).is_err());
            }
        }
    }
}

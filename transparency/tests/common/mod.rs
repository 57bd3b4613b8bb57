#![allow(dead_code)]
//! Shared fixtures: a log, its key, witnesses.

use ed25519_dalek::SigningKey;
use healthcode_transparency::{CosignerKey, LogKey, TiledLog};

pub const ORIGIN: &str = "registry.example/log";

pub fn log_key() -> LogKey {
    LogKey::new(ORIGIN, SigningKey::from_bytes(&[1; 32]))
}

pub fn cosigner(i: u8) -> CosignerKey {
    CosignerKey::new(&format!("witness{i}.example"), SigningKey::from_bytes(&[100 + i; 32]))
}

/// A log of `n` entries whose contents are tagged by `fork`, so two forks differ everywhere.
pub fn log_with(n: u64, fork: &str) -> TiledLog {
    let mut l = TiledLog::new(ORIGIN);
    for i in 0..n {
        l.push(format!("{fork} head {i}").into_bytes());
    }
    l
}

/// A log that shares its first `shared` entries with `log_with(shared, "main")` and then diverges.
pub fn forked(shared: u64, total: u64) -> TiledLog {
    let mut l = log_with(shared, "main");
    for i in shared..total {
        l.push(format!("fork head {i}").into_bytes());
    }
    l
}

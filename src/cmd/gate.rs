//! A checkpoint's heads from the registry service: fetched, verified under a checkpoint that
//! the registry signed and a quorum of trusted witnesses cosigned, and cached so the gate keeps
//! working offline (showing how old its heads are).

use crate::cmd::code::NetworkHeads;
use crate::cmd::operator::client_error;
use crate::output::{read_file, unix_now, write_file, CliError};
use ed25519_dalek::VerifyingKey;
use healthcode_registry::log::Hash;
use healthcode_registry::SignedHead;
use healthcode_service::api::RecentHeads;
use healthcode_service::client::Client;
use healthcode_service::gate::{verify_recent, GateTrust};
use healthcode_verifier::input::MAX_JSON_BYTES;
use serde::{Deserialize, Serialize};

/// How many of the latest heads a gate keeps (the policy's head_grace needs the latest few).
const HEADS_KEPT: u64 = 16;

/// The cache file: the service's answer as received (re-verified on every load, so editing the
/// file cannot add a head) and when it was fetched.
#[derive(Serialize, Deserialize)]
struct Cache {
    fetched_at: u64,
    answer: RecentHeads,
}

pub fn refresh_heads(
    url: &str,
    net: &NetworkHeads,
    registry: VerifyingKey,
    policy: Hash,
) -> Result<Vec<SignedHead>, CliError> {
    let cache_path =
        net.heads_cache.as_ref().ok_or_else(|| CliError::bad("--registry needs --heads-cache FILE"))?;
    let trust = GateTrust::new(registry, policy, &net.witness_keys, net.quorum as usize)
        .map_err(|e| CliError::bad(format!("--witness-key: {e}")))?;
    let now = unix_now();
    let fresh = Client::new(url).recent_heads(HEADS_KEPT).map_err(client_error).and_then(|answer| {
        verify_recent(&trust, &answer, now)
            .map(|t| (t, answer))
            .map_err(|e| CliError::fail(format!("{url}: refusing its heads: {e}")))
    });
    match fresh {
        Ok((trusted, answer)) => {
            let cache = Cache { fetched_at: now, answer };
            write_file(cache_path, serde_json::to_vec(&cache).map_err(CliError::fail)?)?;
            Ok(trusted.heads)
        }
        Err(e) => {
            if !cache_path.exists() {
                return Err(e);
            }
            let cache: Cache =
                serde_json::from_str(&read_file(cache_path, MAX_JSON_BYTES)?).map_err(|err| {
                    CliError::bad(format!("{}: not a heads cache: {err}", cache_path.display()))
                })?;
            let trusted = verify_recent(&trust, &cache.answer, cache.fetched_at)
                .map_err(|err| CliError::bad(format!("{}: {err}", cache_path.display())))?;
            eprintln!(
                "warning: {e}\n  working offline with the heads fetched {} ago (newest: epoch {})",
                age(now.saturating_sub(cache.fetched_at)),
                trusted.heads.last().map_or(0, |h| h.epoch)
            );
            Ok(trusted.heads)
        }
    }
}

fn age(seconds: u64) -> String {
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

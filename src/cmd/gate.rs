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
    // The cache is re-verified whenever it is read, so editing the file cannot add a head.
    let cached = match cache_path.exists() {
        false => None,
        true => {
            let cache: Cache =
                serde_json::from_str(&read_file(cache_path, MAX_JSON_BYTES)?).map_err(|err| {
                    CliError::bad(format!("{}: not a heads cache: {err}", cache_path.display()))
                })?;
            let trusted = verify_recent(&trust, &cache.answer, cache.fetched_at)
                .map_err(|err| CliError::bad(format!("{}: {err}", cache_path.display())))?;
            Some((cache.fetched_at, trusted.heads))
        }
    };
    let answer = match Client::new(url).recent_heads(HEADS_KEPT) {
        Ok(answer) => answer,
        // Only an unreachable registry sends the gate offline; a refusal or a bad answer is not
        // something to paper over with older heads.
        Err(e) if e.is_network() => {
            let Some((fetched_at, heads)) = cached else { return Err(client_error(e)) };
            eprintln!(
                "warning: {e}\n  working offline with the heads fetched {} (newest: epoch {})",
                healthcode_verifier::when::human(fetched_at, now),
                heads.last().map_or(0, |h| h.epoch)
            );
            return Ok(heads);
        }
        Err(e) => return Err(client_error(e)),
    };
    let trusted = verify_recent(&trust, &answer, now)
        .map_err(|e| CliError::fail(format!("{url}: refusing its heads: {e}")))?;
    if let Some((_, known)) = &cached {
        let (newest, fresh) = (known.last(), trusted.heads.last());
        if let (Some(k), Some(f)) = (newest, fresh) {
            if f.epoch < k.epoch {
                return Err(CliError::fail(format!(
                    "{url}: refusing its heads: its newest is epoch {}, but this gate already trusts epoch {} \
                     (a rolled-back answer)",
                    f.epoch, k.epoch
                )));
            }
            if let Some(same) = trusted.heads.iter().find(|h| h.epoch == k.epoch) {
                if same != k {
                    return Err(CliError::fail(format!(
                        "{url}: two different signed heads for epoch {}: the registry shows different \
                         parties different views; keep {} as evidence",
                        k.epoch,
                        cache_path.display()
                    )));
                }
            }
        }
    }
    let cache = Cache { fetched_at: now, answer };
    write_file(cache_path, serde_json::to_vec(&cache).map_err(CliError::fail)?)?;
    Ok(trusted.heads)
}

//! A checkpoint's heads from the registry service: fetched, verified under a checkpoint that
//! the registry signed and a quorum of trusted witnesses cosigned, and cached so the gate keeps
//! working offline (showing how old its heads are).

use crate::cmd::code::NetworkHeads;
use crate::cmd::operator::client_error;
use crate::output::{read_file, unix_now, write_file, CliError};
use ed25519_dalek::VerifyingKey;
use healthcode_registry::log::Hash;
use healthcode_registry::SignedHead;
use healthcode_service::client::Client;
use healthcode_service::gate::{accept_fresh, GateError, GateTrust, HeadsCache};
use healthcode_verifier::input::MAX_JSON_BYTES;

/// How many of the latest heads a gate keeps (the policy's head_grace needs the latest few).
const HEADS_KEPT: u64 = 16;

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
            let cache: HeadsCache =
                serde_json::from_str(&read_file(cache_path, MAX_JSON_BYTES)?).map_err(|err| {
                    CliError::bad(format!("{}: not a heads cache: {err}", cache_path.display()))
                })?;
            let trusted = cache
                .verify(&trust)
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
    let known = cached.as_ref().map(|(_, heads)| heads.as_slice());
    let trusted = accept_fresh(&trust, &answer, now, known).map_err(|e| match e {
        GateError::SplitView(_) => CliError::fail(format!("{url}: {e} (in {})", cache_path.display())),
        e => CliError::fail(format!("{url}: refusing its heads: {e}")),
    })?;
    let cache = HeadsCache { fetched_at: now, answer };
    write_file(cache_path, serde_json::to_vec(&cache).map_err(CliError::fail)?)?;
    Ok(trusted.heads)
}

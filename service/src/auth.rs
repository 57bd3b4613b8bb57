//! Signed requests: how an operator, a holder's device or an auditor proves who is asking.
//!
//! The client signs `healthcode/request/v1\n ‖ METHOD \n ‖ path?query \n ‖ unix time \n ‖
//! nonce \n ‖ hex(SHA-256(body))` with its Ed25519 key and sends four headers: [`KEY_HEADER`]
//! (hex public key), [`TIME_HEADER`], [`NONCE_HEADER`] (16 random bytes, hex: Ed25519 is
//! deterministic, so without it the same request twice in a second would look like a replay)
//! and [`SIGNATURE_HEADER`] (hex). The server accepts a request signed
//! within [`MAX_SKEW`] seconds of its clock and never the same signature twice, so a captured
//! request can neither be replayed later nor within the window; the path and body are covered,
//! so nothing in the request can be changed. Labs and tracers need none of this: each event
//! carries its signer's signature, which the registry checks against its accreditations.

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};

pub const REQUEST_DOMAIN: &[u8] = b"healthcode/request/v1\n";
pub const KEY_HEADER: &str = "x-healthcode-key";
pub const TIME_HEADER: &str = "x-healthcode-time";
pub const NONCE_HEADER: &str = "x-healthcode-nonce";
pub const SIGNATURE_HEADER: &str = "x-healthcode-signature";
/// How far a request's time may be from the server's clock, either way (seconds).
pub const MAX_SKEW: u64 = 120;

/// The bytes a request signature covers.
pub fn signing_bytes(
    registry: &VerifyingKey,
    method: &str,
    path_and_query: &str,
    time: u64,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut b = REQUEST_DOMAIN.to_vec();
    let registry = hex::encode(registry.as_bytes());
    for part in [
        registry.as_bytes(),
        method.as_bytes(),
        path_and_query.as_bytes(),
        time.to_string().as_bytes(),
        nonce.as_bytes(),
    ] {
        b.extend_from_slice(part);
        b.push(b'\n');
    }
    b.extend_from_slice(hex::encode(Sha256::digest(body)).as_bytes());
    b
}

/// The header values for a request to the registry whose key is `registry`, signed by `key` at
/// `time`.
pub fn sign(
    registry: &VerifyingKey,
    key: &SigningKey,
    method: &str,
    path_and_query: &str,
    time: u64,
    body: &[u8],
) -> [(String, String); 4] {
    let mut nonce = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
    let nonce = hex::encode(nonce);
    let sig = key.sign(&signing_bytes(registry, method, path_and_query, time, &nonce, body));
    [
        (KEY_HEADER.into(), hex::encode(key.verifying_key().as_bytes())),
        (TIME_HEADER.into(), time.to_string()),
        (NONCE_HEADER.into(), nonce),
        (SIGNATURE_HEADER.into(), hex::encode(sig.to_bytes())),
    ]
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error(
        "the request is not signed (headers {KEY_HEADER}, {TIME_HEADER}, {NONCE_HEADER}, {SIGNATURE_HEADER})"
    )]
    Missing,
    #[error("malformed {0} header")]
    Malformed(&'static str),
    #[error("the request was signed at {time}, more than {MAX_SKEW} s from the server's clock ({now})")]
    Stale { time: u64, now: u64 },
    #[error("the request signature does not verify")]
    BadSignature,
    #[error("this signed request was already used")]
    Replayed,
}

/// The headers of a signed request, before verification.
pub struct SignedRequest<'a> {
    pub key: Option<&'a str>,
    pub time: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub signature: Option<&'a str>,
}

impl SignedRequest<'_> {
    /// [`SignedRequest::check`] then [`Verified::first_use`] in one step, for the tests. Handlers
    /// call the two apart: they ask whether the signer may act at all in between, so that requests
    /// signed by strangers' keys (anyone can make one) are never remembered.
    #[cfg(test)]
    fn verify(
        &self,
        registry: &VerifyingKey,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        now: u64,
        replay: &ReplayGuard,
    ) -> Result<VerifyingKey, AuthError> {
        self.check(registry, method, path_and_query, body, now)?.first_use(replay, now)
    }

    /// Checks the signature and its freshness, without recording it as used.
    pub fn check(
        &self,
        registry: &VerifyingKey,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        now: u64,
    ) -> Result<Verified, AuthError> {
        let (Some(key), Some(time), Some(nonce), Some(sig)) =
            (self.key, self.time, self.nonce, self.signature)
        else {
            return Err(AuthError::Missing);
        };
        if nonce.len() != 32 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AuthError::Malformed(NONCE_HEADER));
        }
        let key: [u8; 32] = hex_array(key).ok_or(AuthError::Malformed(KEY_HEADER))?;
        let key = VerifyingKey::from_bytes(&key).map_err(|_| AuthError::Malformed(KEY_HEADER))?;
        let time: u64 = time.parse().map_err(|_| AuthError::Malformed(TIME_HEADER))?;
        let sig: [u8; 64] = hex_array(sig).ok_or(AuthError::Malformed(SIGNATURE_HEADER))?;
        if time.abs_diff(now) > MAX_SKEW {
            return Err(AuthError::Stale { time, now });
        }
        key.verify_strict(
            &signing_bytes(registry, method, path_and_query, time, nonce, body),
            &Signature::from_bytes(&sig),
        )
        .map_err(|_| AuthError::BadSignature)?;
        Ok(Verified { key, sig, time })
    }
}

/// A request whose signature verified and is fresh, not yet recorded as used.
#[must_use = "a verified request must still be checked for first use"]
pub struct Verified {
    pub key: VerifyingKey,
    sig: [u8; 64],
    time: u64,
}

impl Verified {
    /// Records the signature as used, once the signer is known to be allowed: the signer, or
    /// [`AuthError::Replayed`] the second time.
    pub fn first_use(self, replay: &ReplayGuard, now: u64) -> Result<VerifyingKey, AuthError> {
        replay.first_use(self.sig, self.time, now)?;
        Ok(self.key)
    }
}

fn hex_array<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    hex::decode(s).ok()?.try_into().ok()
}

/// The signatures seen within the freshness window (older ones are refused as stale anyway).
#[derive(Default)]
pub struct ReplayGuard {
    seen: std::sync::Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    sigs: HashSet<[u8; 64]>,
    by_time: BTreeMap<u64, Vec<[u8; 64]>>,
    /// The latest clock reading any request brought: requests read the clock before they take
    /// the lock, so they can arrive out of order (and the system clock can step back).
    latest: u64,
}

impl ReplayGuard {
    /// How many signatures it remembers.
    pub fn len(&self) -> usize {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).sigs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn first_use(&self, sig: [u8; 64], time: u64, now: u64) -> Result<(), AuthError> {
        let mut guard = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let seen = &mut *guard;
        seen.latest = seen.latest.max(now);
        // Freshness again, under the lock and against the latest clock seen: a signature older
        // than this horizon may have been forgotten already, so it is refused here.
        let horizon = seen.latest.saturating_sub(MAX_SKEW);
        if time < horizon {
            return Err(AuthError::Stale { time, now: seen.latest });
        }
        // Forget signatures that can no longer pass that check.
        while let Some((&t, _)) = seen.by_time.first_key_value() {
            if t >= horizon {
                break;
            }
            for s in seen.by_time.remove(&t).unwrap_or_default() {
                seen.sigs.remove(&s);
            }
        }
        if !seen.sigs.insert(sig) {
            return Err(AuthError::Replayed);
        }
        seen.by_time.entry(time).or_default().push(sig);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The registry the test requests are for.
    static REG: std::sync::LazyLock<VerifyingKey> =
        std::sync::LazyLock::new(|| SigningKey::from_bytes(&[42; 32]).verifying_key());

    fn headers(h: &[(String, String); 4]) -> SignedRequest<'_> {
        SignedRequest {
            key: Some(&h[0].1),
            time: Some(&h[1].1),
            nonce: Some(&h[2].1),
            signature: Some(&h[3].1),
        }
    }

    #[test]
    fn a_signed_request_verifies_once_and_only_as_signed() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let guard = ReplayGuard::default();
        let h = sign(&REG, &key, "POST", "/v1/operator/publish", 1000, b"{}");
        let ok = headers(&h).verify(&REG, "POST", "/v1/operator/publish", b"{}", 1010, &guard);
        assert_eq!(ok, Ok(key.verifying_key()));
        // The same request again is a replay.
        assert_eq!(
            headers(&h).verify(&REG, "POST", "/v1/operator/publish", b"{}", 1011, &guard),
            Err(AuthError::Replayed)
        );
        // Any change to what was signed breaks the signature.
        let h = sign(&REG, &key, "POST", "/v1/operator/publish", 1000, b"{}");
        let g = ReplayGuard::default();
        for (m, p, b) in [
            ("GET", "/v1/operator/publish", &b"{}"[..]),
            ("POST", "/v1/operator/signers", b"{}"),
            ("POST", "/v1/operator/publish", b"{ }"),
        ] {
            assert_eq!(headers(&h).verify(&REG, m, p, b, 1000, &g), Err(AuthError::BadSignature), "{m} {p}");
        }
        // Outside the window either way.
        assert!(matches!(
            headers(&h).verify(&REG, "POST", "/v1/operator/publish", b"{}", 1000 + MAX_SKEW + 1, &g),
            Err(AuthError::Stale { .. })
        ));
        assert!(matches!(
            headers(&h).verify(&REG, "POST", "/v1/operator/publish", b"{}", 1000 - MAX_SKEW - 1, &g),
            Err(AuthError::Stale { .. })
        ));
        // Missing or malformed headers.
        let none = SignedRequest { key: None, time: None, nonce: None, signature: None };
        assert_eq!(none.verify(&REG, "GET", "/", b"", 0, &g), Err(AuthError::Missing));
        let bad = SignedRequest {
            key: Some("zz"),
            time: Some("1"),
            nonce: Some(&h[2].1),
            signature: Some(&h[3].1),
        };
        assert_eq!(bad.verify(&REG, "GET", "/", b"", 1, &g), Err(AuthError::Malformed(KEY_HEADER)));
        // Another nonce is another request: the signature no longer verifies.
        let swapped = SignedRequest { nonce: Some("00000000000000000000000000000000"), ..headers(&h) };
        assert_eq!(
            swapped.verify(&REG, "POST", "/v1/operator/publish", b"{}", 1000, &g),
            Err(AuthError::BadSignature)
        );
        // A request signed for another registry does not verify here.
        let other_registry = SigningKey::from_bytes(&[43; 32]).verifying_key();
        let elsewhere = sign(&other_registry, &key, "POST", "/v1/operator/publish", 1000, b"{}");
        assert_eq!(
            headers(&elsewhere).verify(&REG, "POST", "/v1/operator/publish", b"{}", 1000, &g),
            Err(AuthError::BadSignature)
        );
        // The same request signed twice in one second is two requests, both accepted.
        let again = sign(&REG, &key, "POST", "/v1/operator/publish", 1000, b"{}");
        assert!(headers(&again).verify(&REG, "POST", "/v1/operator/publish", b"{}", 1000, &g).is_ok());
    }

    #[test]
    fn the_replay_guard_forgets_only_what_has_gone_stale() {
        let g = ReplayGuard::default();
        g.first_use([1; 64], 100, 100).unwrap();
        // Still within the window: remembered.
        assert_eq!(g.first_use([1; 64], 100, 100 + MAX_SKEW), Err(AuthError::Replayed));
        // Gone stale: forgotten (the freshness check refuses it before the guard is asked).
        g.first_use([2; 64], 300, 300).unwrap();
        assert!(g.len() == 1);
    }

    /// Finding 4: `now` is read before the guard's lock is taken, so two requests can reach the
    /// guard with their clocks out of order (a second boundary, or the system clock stepped
    /// back). The later one forgets a signature the earlier one then accepts as new.
    #[test]
    fn a_replay_is_refused_even_when_requests_reach_the_guard_out_of_clock_order() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let other = SigningKey::from_bytes(&[10; 32]);
        let g = ReplayGuard::default();
        let h = sign(&REG, &key, "GET", "/v1/holder/witness", 1000, b"");
        assert!(headers(&h).verify(&REG, "GET", "/v1/holder/witness", b"", 1000, &g).is_ok());
        // Any request handled at 1000 + MAX_SKEW + 1 purges what was signed at 1000 ...
        let o = sign(&REG, &other, "GET", "/v1/holder/witness", 1000 + MAX_SKEW + 1, b"");
        assert!(headers(&o).verify(&REG, "GET", "/v1/holder/witness", b"", 1000 + MAX_SKEW + 1, &g).is_ok());
        // ... while a replay that read the clock a moment earlier (still within the window).
        let replay = headers(&h).verify(&REG, "GET", "/v1/holder/witness", b"", 1000 + MAX_SKEW, &g);
        assert!(replay.is_err(), "the captured request was accepted a second time");
    }
}

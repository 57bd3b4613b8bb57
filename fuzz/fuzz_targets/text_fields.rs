//! Small text and byte decoders of command-line and file fields. The first byte picks the decoder:
//! field elements (hex and 32-byte big-endian: canonical, round-trip), durations, Ed25519 keys and
//! hashes in hex, manifest digests, binding nonces, roles.
#![no_main]
use healthcode_circuits::field;
use healthcode_circuits::policy::parse_duration;
use healthcode_circuits::time::MAX_DURATION;
use healthcode_registry::event::{key_from_hex, Role};
use healthcode_registry::log::hash_from_hex;
use healthcode_verifier::bundle::parse_digest;
use healthcode_verifier::challenge;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    if which % 8 == 1 {
        if let Ok(x) = field::from_bytes(rest) {
            assert_eq!(field::to_bytes(&x).as_slice(), rest, "field bytes are not canonical");
        }
        return;
    }
    let Ok(s) = std::str::from_utf8(rest) else { return };
    match which % 8 {
        0 => {
            if let Ok(x) = field::from_hex(s) {
                assert_eq!(field::from_hex(&field::to_hex(&x)), Ok(x));
            }
        }
        2 => {
            if let Ok(d) = parse_duration(s) {
                assert!(d <= MAX_DURATION);
                assert_eq!(parse_duration(&format!("{d}s")), Ok(d));
            }
        }
        3 => {
            if let Ok(k) = key_from_hex(s) {
                assert_eq!(hex::encode(k.as_bytes()), s.trim().to_ascii_lowercase());
            }
        }
        4 => {
            if let Ok(h) = hash_from_hex(s) {
                assert_eq!(hex::encode(h), s.to_ascii_lowercase());
            }
        }
        5 => {
            if let Some(h) = parse_digest(s) {
                assert_eq!(hex::encode(h), s.to_ascii_lowercase());
            }
        }
        6 => {
            let _ = challenge::nonce(s);
        }
        _ => {
            if let Some(r) = Role::parse(s) {
                assert_eq!(r.name(), s);
            }
        }
    }
});

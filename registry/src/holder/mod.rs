//! The holder file, made on the citizen's device: the secret never leaves it; only the
//! commitment goes to the registry at enrolment.
//!
//! JSON: `{"version": 1, "sk": "0x…", "id_hash": "0x…", "pk": "0x…", "commitment": "0x…"}`,
//! field elements as canonical 32-byte big-endian hex. `pk` and `commitment` are redundant and
//! checked on load, so a corrupted file is caught before it produces a useless proof.

pub mod backup;

use ark_ff::PrimeField;
use healthcode_circuits::field::serde_fr;
use healthcode_circuits::{hashes, Fr};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;

pub const HOLDER_VERSION: u32 = 1;

/// Domain of [`HolderFile::device_key`]'s derivation.
pub const DEVICE_KEY_DOMAIN: &[u8] = b"healthcode/device-key/v1\n";

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolderFile {
    pub version: u32,
    #[serde(with = "serde_fr")]
    pub sk: Fr,
    #[serde(with = "serde_fr")]
    pub id_hash: Fr,
    #[serde(with = "serde_fr")]
    pub pk: Fr,
    #[serde(with = "serde_fr")]
    pub commitment: Fr,
}

/// Redacted: the secret must not reach logs (docs/soundness.md §14).
impl fmt::Debug for HolderFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HolderFile { <redacted> }")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HolderError {
    #[error("not a holder file: {0}")]
    Json(String),
    #[error("unsupported holder file version {0}")]
    Version(u32),
    #[error("the holder file is inconsistent: {0} does not follow from the secret")]
    Inconsistent(&'static str),
}

impl HolderFile {
    /// A fresh holder for the identity document `document_number`, with a secret from the OS RNG.
    pub fn generate(document_number: &str) -> Self {
        let mut bytes = [0u8; 64];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        // 512 uniform bits reduced mod p: statistically uniform.
        Self::from_secret(Fr::from_le_bytes_mod_order(&bytes), hashes::id_hash(document_number))
    }

    pub fn from_secret(sk: Fr, id_hash: Fr) -> Self {
        let pk = hashes::public_key(sk);
        let commitment = hashes::commitment(pk, id_hash);
        Self { version: HOLDER_VERSION, sk, id_hash, pk, commitment }
    }

    pub fn from_json(s: &str) -> Result<Self, HolderError> {
        let h: Self = serde_json::from_str(s).map_err(|e| HolderError::Json(redacted_json_error(&e)))?;
        if h.version != HOLDER_VERSION {
            return Err(HolderError::Version(h.version));
        }
        let pk = hashes::public_key(h.sk);
        if pk != h.pk {
            return Err(HolderError::Inconsistent("pk"));
        }
        if hashes::commitment(pk, h.id_hash) != h.commitment {
            return Err(HolderError::Inconsistent("commitment"));
        }
        Ok(h)
    }

    /// The Ed25519 key this holder's device signs its requests to the registry service with,
    /// derived from the secret so the holder file is all a device keeps: registered at
    /// enrolment, it proves control of the holder's secret without revealing it (a one-way
    /// hash of `sk` under its own domain, unrelated to the circuit's Poseidon keys).
    pub fn device_key(&self) -> ed25519_dalek::SigningKey {
        use sha2::{Digest, Sha256};
        let seed: [u8; 32] = Sha256::new()
            .chain_update(DEVICE_KEY_DOMAIN)
            .chain_update(healthcode_circuits::field::to_bytes(&self.sk))
            .finalize()
            .into();
        ed25519_dalek::SigningKey::from_bytes(&seed)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a holder file serialises")
    }
}

/// A JSON error without the offending value: serde_json quotes it, and in a holder or witness
/// file that value can be a secret or a health-state time (docs/soundness.md §14).
pub(crate) fn redacted_json_error(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Io => "unreadable input",
        serde_json::error::Category::Syntax => "invalid JSON",
        serde_json::error::Category::Data => "a field is missing, unknown or of the wrong type",
        serde_json::error::Category::Eof => "the file ends too early",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_checks() {
        let h = HolderFile::generate("E12345678");
        assert_eq!(format!("{h:?}"), "HolderFile { <redacted> }");
        let back = HolderFile::from_json(&h.to_json()).unwrap();
        assert_eq!(back, h);
        let mut bad = h.clone();
        bad.id_hash += Fr::from(1u64);
        assert!(matches!(
            HolderFile::from_json(&bad.to_json()),
            Err(HolderError::Inconsistent("commitment"))
        ));
    }
}

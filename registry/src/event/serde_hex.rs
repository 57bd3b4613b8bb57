//! JSON forms: Ed25519 keys, signatures and optional hashes as hex.

use ed25519_dalek::VerifyingKey;

/// Hex (no prefix) for Ed25519 public keys in JSON.
pub mod hex_key {
    use ed25519_dalek::VerifyingKey;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(k: &VerifyingKey, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(k.as_bytes()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<VerifyingKey, D::Error> {
        super::key_from_hex(&String::deserialize(d)?).map_err(D::Error::custom)
    }
}

/// Parses an Ed25519 public key from 64 hex digits.
pub fn key_from_hex(s: &str) -> Result<VerifyingKey, String> {
    let b = crate::log::hash_from_hex(s.trim()).map_err(|e| format!("public key: {e}"))?;
    VerifyingKey::from_bytes(&b).map_err(|_| "not a valid Ed25519 public key".to_string())
}

/// Serde for signatures as hex; shared by events, retractions and heads.
pub mod hex_sig {
    use ed25519_dalek::Signature;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(sig: &Signature, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(sig.to_bytes()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Signature, D::Error> {
        let b = hex::decode(String::deserialize(d)?).map_err(D::Error::custom)?;
        let b: [u8; 64] = b.try_into().map_err(|_| D::Error::custom("a signature is 64 bytes"))?;
        Ok(Signature::from_bytes(&b))
    }
}

/// Serde for an optional hash as hex; shared by events and histories.
pub(crate) mod opt_hash {
    use crate::log::Hash;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Hash>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(h) => s.serialize_some(&hex::encode(h)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Hash>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|h| crate::log::hash_from_hex(&h).map_err(D::Error::custom))
            .transpose()
    }
}
